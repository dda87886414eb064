/**
 * Deletes give their space back on real LevelDB (src/storage/compaction-subsystem.ts): the shape
 * of a new user's walk (values of 200 KB, written, deleted, reaped, with a restart between the
 * reap and the compaction), large values in one partition, a store written before its debt was
 * recorded, and a partition whose garbage is too small a share of it to be worth a rewrite. The
 * subsystem's rounds are run by hand on an injected clock; the size is the data folder's, as
 * `storeBytes` in GET /stats counts it.
 */
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {mkdtemp, readdir, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join as joinPath} from 'node:path'
import {after, describe, it} from 'node:test'
import {systemScheduler} from '../../src/node/system-time.js'
import {diskDatabase} from '../../src/storage/backend.js'
import {metaKey} from '../../src/storage/layout.js'
import {compactionSubsystem} from '../../src/storage/compaction-subsystem.js'
import type {CompactionDisk} from '../../src/storage/compaction-subsystem.js'
import {Store} from '../../src/storage/store.js'
import type {StoredObject, StoredVersion} from '../../src/storage/stored-object.js'
import type {Subsystem} from '../../src/subsystem.js'
import {emptySet, join, update} from '../../src/versioning/dvvset.js'

const folders: string[] = []
after(async () => {
  await Promise.all(folders.map((folder) => rm(folder, {recursive: true, force: true})))
})

async function temporaryFolder(): Promise<string> {
  const folder = await mkdtemp(joinPath(tmpdir(), 'dyn-compaction-test-'))
  folders.push(folder)
  return folder
}

/** What `storeBytes` counts: the files of the data folder. */
async function folderBytes(folder: string): Promise<number> {
  let total = 0
  for (const name of await readdir(folder)) total += (await stat(joinPath(folder, name))).size
  return total
}

const valueBytes = 200_000
const minute = 60_000

/** A value LevelDB's compression cannot shrink, so that sizes on disk say how much is stored. */
function valueObject(): StoredObject {
  const version: StoredVersion = {value: randomBytes(valueBytes), contentType: 'application/octet-stream', timestampMs: 1000, tombstone: false}
  return {versions: update([], emptySet<StoredVersion>(), 'n1.1', version, 1000), n: 3}
}

/** A delete as a replica stores it: a tombstone that supersedes what the key held. */
function tombstoneOver(stored: StoredObject): StoredObject {
  const version: StoredVersion = {value: new Uint8Array(0), contentType: 'application/octet-stream', timestampMs: 2000, tombstone: true}
  return {versions: update(join(stored.versions), stored.versions, 'n1.1', version, 2000), n: stored.n}
}

async function write(store: Store, partition: number, key: string): Promise<void> {
  const outcome = await store.updateObject(partition, key, () => ({ok: true, object: valueObject()}), {durable: false})
  assert.equal(outcome.ok, true)
}

async function deleteAndReap(store: Store, partition: number, key: string): Promise<void> {
  const outcome = await store.updateObject(partition, key, (stored) => ({ok: true, object: tombstoneOver(stored!)}), {durable: false})
  assert.equal(outcome.ok, true)
  assert.equal(await store.deleteObjectIf(partition, key, () => true), true)
}

/** A node's compaction on `store`, with its rounds run by hand at the time `clock.ms` says. */
function compaction(store: Store, disk?: CompactionDisk): {subsystem: Subsystem; clock: {ms: number; monotonicMs(): number}; round(): Promise<void>; stats(): Record<string, number | boolean>; lines: string[]} {
  const clock = {
    ms: 0,
    monotonicMs() {
      return this.ms
    },
  }
  const lines: string[] = []
  const subsystem = compactionSubsystem(store, (line) => lines.push(line), clock, disk)
  return {subsystem, clock, lines, round: () => subsystem.periodicTasks[0]!.run(), stats: () => subsystem.stats().compaction as Record<string, number | boolean>}
}

describe('compaction on LevelDB', () => {
  it('gives back the space of 200 KB values deleted and reaped across partitions, although the node restarted in between', async () => {
    const folder = await temporaryFolder()
    const first = await Store.open(diskDatabase(folder), {writeBuffer: false, scheduler: systemScheduler})
    const keys = Array.from({length: 48}, (_, i) => ({partition: i, key: `key-${i}`}))
    for (const {partition, key} of keys) await write(first, partition, key)
    // What was written; LevelDB's files hold as much once it settles (a log it has just turned
    // into a table lingers for a moment, so the folder is not measured here).
    const loadedBytes = keys.length * valueBytes
    for (const {partition, key} of keys) await deleteAndReap(first, partition, key)
    const before = compaction(first)
    for (let round = 0; round < 5; round += 1) await before.round()
    // 200 KB in each partition: owed, not yet for the delay (a minute), so nothing is compacted yet.
    assert.equal(before.stats().partitionsCompacted, 0)
    await before.subsystem.stop()
    await first.close()
    assert.ok((await folderBytes(folder)) > loadedBytes * 0.9, 'the deleted values still take their space')

    const second = await Store.open(diskDatabase(folder), {writeBuffer: false, scheduler: systemScheduler})
    try {
      const after = compaction(second)
      await after.round()
      after.clock.ms += 2 * minute
      await after.round()
      await after.round()
      await after.round()
      const reclaimedBytes = await folderBytes(folder)
      assert.ok(reclaimedBytes < loadedBytes / 10, `${reclaimedBytes} of ${loadedBytes} bytes still on disk; ${after.lines.join('; ')}`)
      const stats = after.stats()
      assert.equal(stats.partitionsCompacted, keys.length)
      assert.equal(stats.deletesUncompacted, 0)
      assert.equal(stats.deletedBytesUncompacted, 0)
      assert.ok((stats.diskBytesFreed as number) > loadedBytes * 0.8, `freed ${stats.diskBytesFreed}`)
      await after.subsystem.stop()
    } finally {
      await second.close()
    }
  })

  it('puts a compaction off while the disk has less free than it may need, says so, and runs it once there is room', async (t) => {
    // A walk's node at 79% of a small disk filled it compacting one partition, and its writes stopped.
    const folder = await temporaryFolder()
    const store = await Store.open(diskDatabase(folder), {writeBuffer: false, scheduler: systemScheduler})
    t.after(() => store.close())
    // The folder's files, as the node measures them: LevelDB's own sizes read 0 until it flushes.
    let freeBytes = 1024 * 1024
    const {round, stats, subsystem, lines} = compaction(store, {freeBytes: async () => freeBytes, databaseBytes: () => folderBytes(folder)})
    t.after(() => subsystem.stop())
    for (let i = 0; i < 24; i += 1) await write(store, 7, `key-${i}`)
    await round()
    for (let i = 0; i < 24; i += 1) {
      const outcome = await store.updateObject(7, `key-${i}`, (stored) => ({ok: true, object: tombstoneOver(stored!)}), {durable: false})
      assert.equal(outcome.ok, true)
    }
    await round()
    await round()
    assert.equal(stats().partitionsCompacted, 0, 'a megabyte free is less than a compaction keeps in hand (8 MiB)')
    assert.equal(stats().deferredForSpace, 2)
    assert.equal(store.deletedBytesUncompacted, 24 * valueBytes, 'the debt stays counted')
    assert.equal(lines.length, 2, 'logged the first time and at the second (a power of two)')
    assert.match(lines[0] ?? '', /compaction put off \(1 time\(s\) so far\): the disk has 1\.0 MiB free, and compacting partition 7 may need \d+\.\d MiB; .*once the disk has room/)
    freeBytes = 1024 * 1024 * 1024
    await round()
    assert.equal(stats().partitionsCompacted, 1)
    assert.equal(store.deletedBytesUncompacted, 0)
  })

  it('compacts a partition at the next round once 4 MiB of its values are deleted, before they are reaped', async (t) => {
    const folder = await temporaryFolder()
    const store = await Store.open(diskDatabase(folder), {writeBuffer: false, scheduler: systemScheduler})
    t.after(() => store.close())
    const {round, stats, subsystem} = compaction(store)
    t.after(() => subsystem.stop())
    for (let i = 0; i < 24; i += 1) await write(store, 7, `key-${i}`)
    await round()
    const loadedBytes = 24 * valueBytes
    for (let i = 0; i < 24; i += 1) {
      const outcome = await store.updateObject(7, `key-${i}`, (stored) => ({ok: true, object: tombstoneOver(stored!)}), {durable: false})
      assert.equal(outcome.ok, true)
    }
    assert.equal(store.deletedBytesUncompacted, 24 * valueBytes)
    await round()
    assert.equal(stats().partitionsCompacted, 1)
    const compactedBytes = (await store.partitionsDiskBytes(7))!
    assert.ok(compactedBytes < loadedBytes / 10, `${compactedBytes} of ${loadedBytes} bytes`)
    // The tombstones are all still there, to be reaped.
    assert.equal(store.objectCount, 24)
  })

  it('sweeps a store written before its debt was recorded: the deleted space comes back, the live partitions are not rewritten', async () => {
    const folder = await temporaryFolder()
    const old = await Store.open(diskDatabase(folder), {writeBuffer: false, scheduler: systemScheduler})
    for (let i = 0; i < 32; i += 1) await write(old, i, `gone-${i}`)
    for (let i = 0; i < 24; i += 1) await write(old, 50, `kept-${i}`)
    for (let i = 0; i < 32; i += 1) await deleteAndReap(old, i, `gone-${i}`)
    await old.close()
    // As a store written by an older dyn: no record of what it owes.
    const raw = diskDatabase(folder)
    await raw.open()
    await raw.del(metaKey('delete-debt'))
    await raw.close()
    const loadedBytes = 56 * valueBytes
    assert.ok((await folderBytes(folder)) > loadedBytes * 0.9, 'the deleted values still take their space')

    const store = await Store.open(diskDatabase(folder), {writeBuffer: false, scheduler: systemScheduler})
    try {
      assert.equal(store.deleteDebtRecorded, false)
      assert.equal(store.deletesUncompacted, 0, 'what was deleted before is not known')
      const liveBytes = (await store.partitionsDiskBytes(50))!
      const {round, stats, clock, lines, subsystem} = compaction(store)
      for (let rounds = 0; stats().sweeping === true; rounds += 1) {
        assert.ok(rounds < 20, 'the sweep of a small store takes a few rounds')
        await round()
        clock.ms += 5000
      }
      assert.match(lines.join('\n'), /swept the store/)
      // The emptied partitions owe their values; the live one at most LevelDB's own overhead. (A
      // value of 200 KB is one block of LevelDB's, and its approximate sizes may count a block at
      // a file's end in the next partition: only the sum is exact to a block.)
      const owed = new Map(store.owedPartitions().map((debt) => [debt.partition, debt.deletedBytes]))
      const liveOwes = owed.get(50) ?? 0
      assert.ok(liveOwes < liveBytes / 20, `the live partition owes ${liveOwes} of ${liveBytes}`)
      const emptiedOwe = [...owed.entries()].filter(([partition]) => partition !== 50).reduce((sum, [, bytes]) => sum + bytes, 0)
      assert.ok(emptiedOwe >= 32 * valueBytes * 0.9, `the emptied partitions owe ${emptiedOwe}`)
      clock.ms += 2 * minute
      await round()
      await round()
      assert.equal(stats().partitionsCompacted, owed.size - (owed.has(50) ? 1 : 0), 'every emptied partition, not the live one')
      assert.equal(store.owedPartitions().find((debt) => debt.partition === 50)?.deletedBytes, owed.get(50))
      const reclaimedBytes = await folderBytes(folder)
      assert.ok(reclaimedBytes < loadedBytes / 2, `${reclaimedBytes} of ${loadedBytes} bytes`)
      assert.ok((await store.partitionsDiskBytes(50))! >= liveBytes * 0.9, 'the live partition is all there')
      assert.equal(store.objectCount, 24)
      await subsystem.stop()
    } finally {
      await store.close()
    }
    // The record is kept from now on: the next start does not sweep again.
    const reopened = await Store.open(diskDatabase(folder), {writeBuffer: false, scheduler: systemScheduler})
    assert.equal(reopened.deleteDebtRecorded, true)
    await reopened.close()
  })

  it('leaves a partition whose deleted share is small (a rewrite would cost more than it frees) until it grows', async (t) => {
    const folder = await temporaryFolder()
    const store = await Store.open(diskDatabase(folder), {writeBuffer: false, scheduler: systemScheduler})
    t.after(() => store.close())
    const {round, stats, clock, subsystem} = compaction(store)
    t.after(() => subsystem.stop())
    for (let i = 0; i < 40; i += 1) await write(store, 3, `key-${i}`)
    await store.compactPartition(3)
    for (let i = 0; i < 3; i += 1) await deleteAndReap(store, 3, `key-${i}`)
    await round()
    clock.ms += 2 * minute
    await round()
    assert.equal(stats().partitionsCompacted, 0, '600 KB of 8 MB: not worth rewriting 8 MB for')
    assert.ok(store.deletedBytesUncompacted >= 3 * valueBytes)
    for (let i = 3; i < 13; i += 1) await deleteAndReap(store, 3, `key-${i}`)
    await round()
    assert.equal(stats().partitionsCompacted, 1, '2.6 MB of 8 MB: a quarter')
    assert.equal(store.deletedBytesUncompacted, 0)
  })
})
