/**
 * What one write costs in the store's write path alone, without HTTP or replication (issue 18,
 * item 1: a put is three such writes, one per replica, so this path is most of a put's CPU). In
 * one process, for the same number of 100-byte writes of new keys, `--in-flight` at a time:
 *
 * - LevelDB alone, through an array batch with options (`db.batch(operations, {sync: false})`,
 *   as the store wrote its group commits before), and through a chained batch (as it does now);
 * - the store's write path: `Store.updateObject` of a replica's write (an incoming version merged
 *   with what is stored), the object cache, the per-key lock and the group commit included.
 *
 * Each figure is the process's CPU time (user + system, every thread: LevelDB's own included)
 * per write, and the writes per second, each phase on a fresh database in a temporary folder. The
 * phases run in turn, `--rounds` times, so that a busy minute shows in every phase alike.
 *
 *   node dist/bench/experiments/store-writes.js [--writes 100000] [--in-flight 50] [--value-size 100] [--rounds 3]
 */

import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {diskDatabase} from '../../src/storage/backend.js'
import {objectKey} from '../../src/storage/layout.js'
import {Store} from '../../src/storage/store.js'
import type {StoredObject, StoredVersion} from '../../src/storage/stored-object.js'
import {emptySet, sync, update} from '../../src/versioning/dvvset.js'
import {keyName} from '../workloads.js'
import {experimentFlags, positiveInteger} from './common.js'

const {writes, 'in-flight': inFlight, 'value-size': valueSize, rounds} = experimentFlags({
  name: 'store-writes',
  measures:
    "What one write costs in the store's write path alone, without HTTP or replication: LevelDB by itself (an array batch, a chained batch) and the store's own path (Store.updateObject, its cache, per-key lock and group commit), in one process. CPU time per write and writes per second, each phase on a fresh database, the phases in turn.",
  flags: {
    writes: {read: positiveInteger, value: 'N', default: '100000', description: 'writes of new keys per phase'},
    'in-flight': {read: positiveInteger, value: 'K', default: '50', description: 'writes in flight at a time'},
    'value-size': {read: positiveInteger, value: 'B', default: '100', description: 'bytes of each value'},
    rounds: {read: positiveInteger, value: 'R', default: '3', description: 'times every phase runs, in turn'},
  },
  examples: ['node dist/bench/experiments/store-writes.js --rounds 1'],
})

/** A partition count like a node's, so that keys spread over partitions as they do there. */
const partitions = 64
const value = new Uint8Array(valueSize).fill(0x76)

interface Measured {
  readonly cpuUsPerWrite: number
  readonly writesPerS: number
}

/** Runs `phase` on a fresh folder and measures it. */
async function measure(phase: (folder: string) => Promise<void>): Promise<Measured> {
  const folder = await mkdtemp(path.join(tmpdir(), 'dyn-store-writes-'))
  try {
    const cpuBefore = process.cpuUsage()
    const startedNs = process.hrtime.bigint()
    await phase(folder)
    const elapsedS = Number(process.hrtime.bigint() - startedNs) / 1e9
    const cpu = process.cpuUsage(cpuBefore)
    return {cpuUsPerWrite: (cpu.user + cpu.system) / writes, writesPerS: writes / elapsedS}
  } finally {
    await rm(folder, {recursive: true, force: true})
  }
}

/** The encoded object a replica would store for write `index` (its size, not its exact bytes). */
function recordOf(index: number): {key: Buffer; value: Buffer} {
  return {key: objectKey(index % partitions, keyName(index)), value: Buffer.alloc(valueSize + 60, 0x76)}
}

async function levelDbAlone(folder: string, batchKind: 'array' | 'chained'): Promise<void> {
  const db = diskDatabase(folder)
  await db.open()
  try {
    for (let first = 0; first < writes; first += inFlight) {
      const records = Array.from({length: Math.min(inFlight, writes - first)}, (_, offset) => recordOf(first + offset))
      if (batchKind === 'array') {
        await db.batch(
          records.map((record) => ({type: 'put' as const, key: record.key, value: record.value})),
          {sync: false} as object,
        )
      } else {
        const batch = db.batch()
        for (const record of records) batch.put(record.key, record.value)
        await batch.write()
      }
    }
  } finally {
    await db.close()
  }
}

function incomingOf(index: number): StoredObject {
  const version: StoredVersion = {value, contentType: 'application/octet-stream', timestampMs: 1_764_000_000_000 + index, tombstone: false}
  return {n: 3, versions: update([], emptySet<StoredVersion>(), 'n1.5e3a9c01', version, 1_764_000_000_000)}
}

async function storeWritePath(folder: string): Promise<void> {
  const store = await Store.open(diskDatabase(folder), {writeBuffer: false, scheduler: {soon: (run) => void setImmediate(run)}})
  try {
    let next = 0
    const writer = async (): Promise<void> => {
      while (next < writes) {
        const index = next
        next += 1
        const incoming = incomingOf(index)
        await store.updateObject(
          index % partitions,
          keyName(index),
          (stored) => ({ok: true, object: stored === undefined ? incoming : {n: incoming.n, versions: sync(stored.versions, incoming.versions)}}),
          {durable: false},
        )
      }
    }
    await Promise.all(Array.from({length: inFlight}, writer))
  } finally {
    await store.close()
  }
}

const phases: ReadonlyArray<{name: string; run: (folder: string) => Promise<void>}> = [
  {name: 'LevelDB alone, array batch with options', run: (folder) => levelDbAlone(folder, 'array')},
  {name: 'LevelDB alone, chained batch', run: (folder) => levelDbAlone(folder, 'chained')},
  {name: "the store's write path", run: storeWritePath},
]

const results = new Map<string, Measured[]>(phases.map((phase) => [phase.name, []]))
for (let round = 0; round < rounds; round += 1) {
  for (const phase of phases) results.get(phase.name)?.push(await measure(phase.run))
}

const lines = [
  `${writes} writes of new keys per phase, ${inFlight} in flight, ${valueSize}-byte values, ${rounds} rounds`,
  '',
  '| phase | CPU per write, µs (each round) | writes/s (each round) |',
  '| --- | --- | --- |',
  ...phases.map((phase) => {
    const measured = results.get(phase.name) ?? []
    return `| ${phase.name} | ${measured.map((entry) => entry.cpuUsPerWrite.toFixed(1)).join(', ')} | ${measured.map((entry) => Math.round(entry.writesPerS).toLocaleString('en-US')).join(', ')} |`
  }),
]
process.stdout.write(`${lines.join('\n')}\n`)
