/**
 * Paper §4.9, the cost of adding a node: how fast a join moves data. Loads K keys into a
 * 3-node local cluster (N=3, so every node holds every key), starts a 4th node that joins and
 * commits its join, and times the transition from the commit to the install of the new ring,
 * with the keys and bytes the new node fetched. The new node fetches each partition from every
 * old home (with W < N no single one is sure to hold every acknowledged write), so it fetches
 * each of its keys three times; both the objects fetched and the distinct keys are reported.
 * Then it times the release that follows the install: each old owner hands off the partitions
 * it no longer owns and deletes its copies (src/handoff/transfer-release.ts), until no node has
 * a released partition pending; the keys each old node stores before and after are reported.
 *
 *   node dist/bench/experiments/join-transfer.js [--keys 100000] [--value-bytes 100] [--concurrency 64]
 */

import {spawn} from 'node:child_process'
import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {clusterDownAndRemoveFolder, clusterUp} from '../../src/cli/local-cluster.js'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {experimentFlags, positiveInteger} from './common.js'

const {keys: keyCount, 'value-bytes': valueBytes, concurrency} = experimentFlags({
  name: 'join-transfer',
  measures:
    'Paper §4.9, the cost of adding a node: K keys are loaded into a 3-node cluster (N=3), a 4th node joins and commits its join, and the time from the commit to the install of the new ring is measured, with the keys and bytes the new node fetched; then the release of the partitions the old owners no longer own.',
  flags: {
    keys: {read: positiveInteger, value: 'K', default: '100000', description: 'keys loaded before the join'},
    'value-bytes': {read: positiveInteger, value: 'B', default: '100', description: 'bytes of each value'},
    concurrency: {read: positiveInteger, value: 'C', default: '64', description: 'puts in flight while loading'},
  },
  examples: ['node dist/bench/experiments/join-transfer.js'],
})
/** Bound on the wait for the join to settle. */
const settleTimeoutMs = 30 * 60_000

const runScript = fileURLToPath(new URL('../../../bin/run.js', import.meta.url))
const dir = await mkdtemp(path.join(tmpdir(), 'dyn-join-'))
const {port, rpcPort} = await freeClusterPorts(4)
const log = (line: string): void => {
  process.stderr.write(`${line}\n`)
}
let joiner: ReturnType<typeof spawn> | undefined
try {
  const cluster = await clusterUp({dir, nodeCount: 3, port, rpcPort, startArgs: ['--request-timeout', '5000'], readyTimeoutMs: 60_000}, log)
  const apis = cluster.nodes.map((node) => `${cluster.host}:${node.port}`)
  const value = Buffer.alloc(valueBytes, 'x')
  let next = 0
  let acknowledged = 0
  const loadStartMs = Date.now()
  await Promise.all(
    Array.from({length: concurrency}, async (_, worker) => {
      for (let index = next++; index < keyCount; index = next++) {
        const response = await fetch(`http://${apis[(index + worker) % apis.length]}/kv/key-${index}`, {method: 'PUT', body: value})
        await response.arrayBuffer()
        if (response.status === 204) acknowledged++
      }
    }),
  )
  log(`loaded ${acknowledged} of ${keyCount} keys in ${((Date.now() - loadStartMs) / 1000).toFixed(1)} s`)
  const keysBefore = await Promise.all(apis.map((api) => fetch(`http://${api}/stats`).then((r) => r.json() as Promise<{keys: number}>).then((stats) => stats.keys)))

  const joinApi = `${cluster.host}:${port + 3}`
  joiner = spawn(process.execPath, [runScript, 'start', '--name', 'n4', '--port', String(port + 3), '--rpc-port', String(rpcPort + 3), '--data', path.join(dir, 'n4'), '--seeds', `${cluster.host}:${rpcPort}`, '--request-timeout', '5000'], {stdio: 'ignore'})
  let committedMs: number | undefined
  let doneMs: number | undefined
  let objects = 0
  let bytes = 0
  const deadline = Date.now() + settleTimeoutMs
  while (doneMs === undefined && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    const view = await fetch(`http://${joinApi}/cluster`).then((r) => r.json() as Promise<{ring: {transition: unknown}; members: Array<{partitions: number}>; transfers: {keysReceived: number; bytesReceived: number}}>).catch(() => undefined)
    if (view === undefined) continue
    if (view.ring.transition !== null) {
      committedMs ??= Date.now()
      objects = Math.max(objects, view.transfers.keysReceived)
      bytes = Math.max(bytes, view.transfers.bytesReceived)
    } else if (committedMs !== undefined && view.members.filter((m) => m.partitions > 0).length === 4) {
      doneMs = Date.now()
    }
  }
  if (committedMs === undefined || doneMs === undefined) throw new Error('the join did not settle in time')
  // The release: from the install until no node has a released partition left to hand off.
  const oldApis = apis
  let releasedMs: number | undefined
  while (releasedMs === undefined && Date.now() < deadline) {
    const pending = await Promise.all(
      [...oldApis, joinApi].map((api) =>
        fetch(`http://${api}/cluster`)
          .then((r) => r.json() as Promise<{transfers: {releasedPartitionsPending: number}}>)
          .then((view) => view.transfers.releasedPartitionsPending)
          .catch(() => 1),
      ),
    )
    if (pending.every((count) => count === 0)) releasedMs = Date.now()
    else await new Promise((resolve) => setTimeout(resolve, 100))
  }
  if (releasedMs === undefined) throw new Error('the release did not finish in time')
  const afterRelease = await Promise.all(oldApis.map((api) => fetch(`http://${api}/stats`).then((r) => r.json() as Promise<{keys: number; release?: {handedOff: number; deleted: number}}>)))
  const seconds = (doneMs - committedMs) / 1000
  const distinct = objects / 3
  process.stdout.write(`join of a 4th node to 3 nodes holding ${acknowledged} keys of ${valueBytes} bytes (N=3, Q=64):\n`)
  process.stdout.write(`  commit to install: ${seconds.toFixed(1)} s\n`)
  process.stdout.write(`  objects fetched by the new node: ${objects} (${(objects / seconds).toFixed(0)} objects/s), value bytes ${(bytes / 1048576).toFixed(1)} MB (${(bytes / 1048576 / seconds).toFixed(2)} MB/s)\n`)
  process.stdout.write(`  distinct keys moved (each fetched from its 3 old homes): ${distinct.toFixed(0)} (${(distinct / seconds).toFixed(0)} keys/s, ${(bytes / 3 / 1048576 / seconds).toFixed(2)} MB/s of distinct data)\n`)
  // The release waits one request timeout plus two gossip rounds after the install before it starts.
  process.stdout.write(`  install to release done (every old owner's hand-off, waiting included): ${((releasedMs - doneMs) / 1000).toFixed(1)} s\n`)
  for (const [index, stats] of afterRelease.entries()) {
    const counts = stats.release === undefined ? 'copies kept (no deletion)' : `handed off ${stats.release.handedOff}, deleted ${stats.release.deleted}`
    process.stdout.write(`  n${index + 1}: keys ${keysBefore[index]} before the join, ${stats.keys} after the release (${counts})\n`)
  }
} finally {
  if (joiner?.pid !== undefined && joiner.exitCode === null) {
    const exited = new Promise((resolve) => joiner?.once('exit', resolve))
    process.kill(joiner.pid, 'SIGTERM')
    await exited
  }
  await clusterDownAndRemoveFolder(dir, 5000, () => undefined)
}
