/**
 * Anti-entropy (paper §4.7, issue 14's targets), three measurements in one command:
 *
 * 1. Exchange bytes: two stores in this process (memory-level) hold the same K keys of 100 B,
 *    then one key differs; one exchange of each tree between them, through the exchange
 *    algorithm the nodes run, counts the msgpack bytes of every question and answer (what the
 *    transport would frame), for the in-sync pair and for the one with a differing key.
 * 2. A lost disk: a 3-node cluster on free ports holds K keys (N/R/W 3/2/2, 100-byte values);
 *    n2 is killed, its data folder deleted, and it is started again under its name with the
 *    others as seeds; measured from its restart (its API answering) until its /stats shows all K
 *    keys and no recovery under way, with no client read.
 * 3. Deletes: the same cluster shape with a 5 s tombstone grace holds K keys, every one is
 *    deleted (with its read's context), and the time until no node keeps an object or a
 *    tombstone is measured, with each node's keys, tombstones and store size before and after.
 * 4. The cost: dyn bench closed loop (YCSB A, 50 connections) against a 3-node cluster with
 *    background anti-entropy off (--anti-entropy-ms 0) and on (the default), alternated twice,
 *    with the HTTP ceiling calibrated first.
 *
 *   node dist/bench/experiments/anti-entropy.js [--keys 100000] [--duration 10] [--skip bytes|disk|reap|cost]...
 */

import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {Packr} from 'msgpackr'
import {exchangeTree} from '../../src/antientropy/exchange.js'
import type {TreeSide} from '../../src/antientropy/exchange.js'
import {localTreeSide} from '../../src/antientropy/local-side.js'
import {TreeSet} from '../../src/antientropy/tree-set.js'
import {clusterDownAndRemoveFolder, clusterUp, isNodeProcess, startLocalNode, waitForNodes} from '../../src/cli/local-cluster.js'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {mergeIncoming, writeNewVersion} from '../../src/coordinator/replica.js'
import type {ReplicaPolicy} from '../../src/coordinator/replica.js'
import {DotLedger} from '../../src/coordinator/write-actor.js'
import {partitionOfKey} from '../../src/ring/partition.js'
import {memoryDatabase} from '../../src/storage/backend.js'
import {compactionDeletedBytesFloor, compactionDeletesMin} from '../../src/storage/compaction-core.js'
import {Store} from '../../src/storage/store.js'
import {experimentConfig, experimentFlags, markdownTable, ms, oneOf, positiveInteger, runVariants} from './common.js'

/** The dots each writing actor made, as a node's write actor keeps them. */
const dots = new DotLedger()

const flags = experimentFlags({
  name: 'anti-entropy',
  measures:
    "Paper §4.7, in four parts: the bytes one Merkle-tree exchange costs between two replicas in sync and with one key differing (bytes); how long a node whose disk was lost takes to get every key back with no client read (disk); how long after deleting every key no node keeps an object or a tombstone (reap); and what background anti-entropy costs a closed loop (cost). Each part but the first on 3-node clusters of K keys.",
  flags: {
    keys: {read: positiveInteger, value: 'K', default: '100000', description: 'keys of the exchange, the lost disk and the deletes'},
    duration: {read: positiveInteger, value: 'S', default: '10', description: 'measured seconds of each cost run'},
    skip: {read: oneOf(['bytes', 'disk', 'reap', 'cost']), value: 'PART', multiple: true, description: 'leave out a part: bytes, disk, reap or cost'},
  },
  examples: ['node dist/bench/experiments/anti-entropy.js', 'node dist/bench/experiments/anti-entropy.js --keys 100000 --skip bytes --skip disk --skip cost'],
})
const keyCount = flags.keys
const durationS = flags.duration
const skipped = new Set(flags.skip)
const partitionCount = 64
const value = new TextEncoder().encode('x'.repeat(100))
const policy: ReplicaPolicy = {conflictPolicy: 'siblings', entriesMax: 10, siblingsPerKeyMax: 64, objectBytesMax: 8 * 1024 * 1024}
const packr = new Packr({useRecords: false})

/** A side whose every question and answer is counted in msgpack bytes, as the transport would frame them. */
function counted(side: TreeSide, bytes: {sent: number; received: number}): TreeSide {
  const count = async <T>(question: unknown, answer: Promise<T>): Promise<T> => {
    bytes.sent += packr.pack(question).length
    const result = await answer
    bytes.received += packr.pack(result ?? null).length
    return result
  }
  return {
    name: side.name,
    roots: (pairs) => count({pairs}, side.roots(pairs)),
    branches: (partition, n) => count({partition, n}, side.branches(partition, n)),
    segments: (partition, n, branches) => count({partition, n, branches}, side.segments(partition, n, branches)),
    keys: (partition, n, segments) => count({partition, n, segments}, side.keys(partition, n, segments)),
    objects: (partition, keys) => count({partition, keys}, side.objects(partition, keys)),
    merge: (partition, entries) => count({partition, entries}, side.merge(partition, entries)),
  }
}

async function exchangeBytes(): Promise<string> {
  const immediate = {soon: (callback: () => void): void => void setImmediate(callback)}
  const replicas = await Promise.all(
    [0, 1].map(async () => {
      const store = await Store.open(memoryDatabase(), {writeBuffer: false, scheduler: immediate})
      const trees = new TreeSet(partitionCount)
      store.watchChanges((partition, key, before, after) => trees.apply(partition, key, before, after))
      for (let partition = 0; partition < partitionCount; partition++) await trees.build(partition, (p, after) => store.scanPartition(p, after, 512))
      return {store, trees}
    }),
  )
  const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]]
  for (let i = 0; i < keyCount; i++) {
    const key = `key-${i}`
    const partition = partitionOfKey(key, partitionCount)
    const written = await writeNewVersion(a.store, policy, partition, key, {context: [], version: {value, contentType: 'application/octet-stream', timestampMs: 0, tombstone: false}, actor: 'n1.1', dots, n: 3, nowMs: 0, durable: false})
    if (!written.ok) throw new Error(written.message)
    await mergeIncoming(b.store, policy, partition, key, written.object, false)
  }
  const side = (name: string, replica: typeof a): TreeSide =>
    localTreeSide({name, trees: replica.trees, store: replica.store, canServe: () => true, merge: (partition, key, object) => mergeIncoming(replica.store, policy, partition, key, object, false)})
  const measure = async (): Promise<{sent: number; received: number; repaired: number; elapsedMs: number; differing: number}> => {
    const bytes = {sent: 0, received: 0}
    const remote = counted(side('b', b), bytes)
    const local = side('a', a)
    const startedMs = performance.now()
    // What a round does: every root in one message, then only the differing trees.
    const pairs = Array.from({length: partitionCount}, (_, partition) => ({partition, n: 3}))
    const remoteRoots = await remote.roots(pairs)
    const localRoots = await local.roots(pairs)
    let repaired = 0
    let differing = 0
    for (const [index, pair] of pairs.entries()) {
      if (JSON.stringify(remoteRoots[index]) === JSON.stringify(localRoots[index])) continue
      differing += 1
      const report = await exchangeTree(local, remote, pair.partition, pair.n, {keysMax: 5000, batchEntriesMax: 256})
      repaired += report.repairedHere + report.repairedThere
    }
    return {...bytes, repaired, elapsedMs: performance.now() - startedMs, differing}
  }
  const inSync = await measure()
  // One key newer on b only.
  const key = 'key-12345'
  const partition = partitionOfKey(key, partitionCount)
  const stored = await b.store.getObject(partition, key)
  const newer = await writeNewVersion(b.store, policy, partition, key, {context: [], version: {value, contentType: 'application/octet-stream', timestampMs: 1, tombstone: false}, actor: 'n2.1', dots, n: 3, nowMs: 0, durable: false})
  if (stored === undefined || !newer.ok) throw new Error('the differing key was not written')
  const oneKey = await measure()
  const after = await measure()
  for (const replica of replicas) await replica.store.close()
  const row = (name: string, figures: typeof inSync): string[] => [name, String(figures.differing), String(figures.repaired), String(figures.sent), String(figures.received), (figures.sent + figures.received).toLocaleString('en'), figures.elapsedMs.toFixed(1)]
  return markdownTable(
    ['two replicas of ' + keyCount.toLocaleString('en') + ' keys, 64 partitions', 'trees differing', 'keys repaired', 'bytes asked', 'bytes answered', 'bytes in all', 'ms'],
    [row('in sync', inSync), row('one key differs', oneKey), row('after the repair', after)],
  )
}

async function json(url: string): Promise<Record<string, unknown>> {
  return (await (await fetch(url, {headers: {accept: 'application/json'}})).json()) as Record<string, unknown>
}

async function lostDisk(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dyn-ae-'))
  const {port, rpcPort} = await freeClusterPorts(3)
  const cluster = await clusterUp({dir, nodeCount: 3, port, rpcPort, startArgs: [], readyTimeoutMs: 30_000}, () => undefined)
  const api = (index: number): string => `http://${cluster.host}:${cluster.nodes[index]!.port}`
  const victim = cluster.nodes[1]!
  try {
    let next = 0
    const loadStartedMs = performance.now()
    await Promise.all(
      Array.from({length: 64}, async () => {
        for (let index = next++; index < keyCount; index = next++) {
          const response = await fetch(`${api(index % 3)}/kv/key-${index}`, {method: 'PUT', body: value})
          await response.arrayBuffer()
          if (response.status !== 204) throw new Error(`put key-${index}: ${response.status}`)
        }
      }),
    )
    const loadS = (performance.now() - loadStartedMs) / 1000
    process.kill(victim.pid!, 'SIGKILL')
    for (let attempt = 0; attempt < 100 && isNodeProcess(victim); attempt++) await new Promise((resolve) => setTimeout(resolve, 50))
    await rm(victim.dataDir, {recursive: true, force: true})
    const seeds = cluster.nodes.filter((node) => node !== victim).map((node) => `${cluster.host}:${node.rpcPort}`)
    startLocalNode(cluster, victim, ['--seeds', seeds.join(',')])
    await waitForNodes(cluster, [victim], undefined, 60_000)
    const restartedMs = performance.now()
    let keys = 0
    for (;;) {
      const stats = await json(`${api(1)}/stats`)
      keys = stats.keys as number
      if (keys >= keyCount && (stats.antiEntropy as {recovering: boolean}).recovering === false) break
      if (performance.now() - restartedMs > 600_000) throw new Error(`after 600 s n2 holds ${keys} of ${keyCount} keys`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const recoveredS = (performance.now() - restartedMs) / 1000
    return markdownTable(
      ['keys (100 B) on 3 nodes, N=3', 'loaded in s', 'n2 back to every key in s, from its restart', 'keys/s'],
      [[keyCount.toLocaleString('en'), loadS.toFixed(1), recoveredS.toFixed(1), Math.round(keyCount / recoveredS).toLocaleString('en')]],
    )
  } finally {
    if (isNodeProcess(victim)) process.kill(victim.pid!, 'SIGKILL')
    for (let attempt = 0; attempt < 100 && isNodeProcess(victim); attempt++) await new Promise((resolve) => setTimeout(resolve, 50))
    await clusterDownAndRemoveFolder(dir, 5000, () => undefined)
  }
}

/** Every key deleted (each with its read's context), then the time until no node keeps an object or a tombstone. */
async function deleteAll(): Promise<string> {
  const graceMs = 5000
  const dir = await mkdtemp(path.join(tmpdir(), 'dyn-reap-'))
  const {port, rpcPort} = await freeClusterPorts(3)
  const cluster = await clusterUp({dir, nodeCount: 3, port, rpcPort, startArgs: ['--tombstone-grace-ms', String(graceMs)], readyTimeoutMs: 30_000}, () => undefined)
  const api = (index: number): string => `http://${cluster.host}:${cluster.nodes[index]!.port}`
  const figures = async (): Promise<Array<{keys: number; tombstones: number; storeBytes: number}>> =>
    Promise.all(
      [0, 1, 2].map(async (index) => {
        const stats = await json(`${api(index)}/stats`)
        return {keys: stats.keys as number, tombstones: (stats.antiEntropy as {tombstones: number}).tombstones, storeBytes: stats.storeBytes as number}
      }),
    )
  // A request refused under load (503: quorum unmet or overloaded on a busy machine) is tried again a few times.
  const withRetries = async (what: string, send: () => Promise<Response>): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      const response = await send()
      const body = await response.text()
      if (response.status === 204) return
      if (response.status !== 503 || attempt >= 5) throw new Error(`${what}: ${response.status} ${body}`)
      retries += 1
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt))
    }
  }
  let retries = 0
  const inParallel = async (work: (index: number) => Promise<void>): Promise<void> => {
    let next = 0
    await Promise.all(
      Array.from({length: 64}, async () => {
        for (let index = next++; index < keyCount; index = next++) await work(index)
      }),
    )
  }
  try {
    await inParallel((index) => withRetries(`put key-${index}`, () => fetch(`${api(index % 3)}/kv/key-${index}`, {method: 'PUT', body: value})))
    // LevelDB's size settles once its log is compacted; the figure is what /stats reports.
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const loaded = await figures()
    await inParallel(async (index) => {
      let read = await fetch(`${api(index % 3)}/kv/key-${index}`)
      await read.arrayBuffer()
      for (let attempt = 1; read.status === 503 && attempt < 5; attempt++) {
        retries += 1
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt))
        read = await fetch(`${api(index % 3)}/kv/key-${index}`)
        await read.arrayBuffer()
      }
      // 300: siblings (a put tried again after a 503 that had been applied); the context covers them all.
      if (read.status !== 200 && read.status !== 300) throw new Error(`get key-${index}: ${read.status}`)
      await withRetries(`delete key-${index}`, () => fetch(`${api(index % 3)}/kv/key-${index}`, {method: 'DELETE', headers: {'x-dyn-context': read.headers.get('x-dyn-context') ?? ''}}))
    })
    const deletedMs = performance.now()
    const afterDelete = await figures()
    let now = afterDelete
    while (now.some((node) => node.keys > 0 || node.tombstones > 0)) {
      if (performance.now() - deletedMs > 600_000) throw new Error(`600 s after the deletes: ${JSON.stringify(now)}`)
      await new Promise((resolve) => setTimeout(resolve, 500))
      now = await figures()
    }
    const reapedS = (performance.now() - deletedMs) / 1000
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const after = await figures()
    // Then the store compacts the partitions whose keys were deleted (compaction-subsystem.ts).
    type Owed = {deletesUncompacted: number; deletedBytesUncompacted: number}
    const uncompacted = async (): Promise<Owed[]> => Promise.all([0, 1, 2].map(async (index) => (await json(`${api(index)}/stats`)).compaction as Owed))
    // A partition that owes less than compaction-core's floors (deletes, bytes) is left as it is:
    // wait until no node could still have a partition above them.
    const mayOwe = (owed: Owed): boolean => owed.deletesUncompacted >= compactionDeletesMin * 64 || owed.deletedBytesUncompacted >= compactionDeletedBytesFloor * 64
    while ((await uncompacted()).some(mayOwe)) {
      if (performance.now() - deletedMs > 600_000) throw new Error(`600 s after the deletes, not compacted: ${JSON.stringify(await uncompacted())}`)
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
    const compactedS = (performance.now() - deletedMs) / 1000
    // The folder size is cached by the node for a few seconds.
    await new Promise((resolve) => setTimeout(resolve, 6000))
    const compacted = await figures()
    const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1)
    process.stderr.write(`requests tried again after a 503: ${retries}\n`)
    return markdownTable(
      [`3 nodes, ${keyCount.toLocaleString('en')} keys deleted, grace ${graceMs / 1000} s`, 'keys per node', 'tombstones per node', 'store MiB per node'],
      [
        ['loaded', loaded.map((node) => node.keys).join(' / '), loaded.map((node) => node.tombstones).join(' / '), loaded.map((node) => mib(node.storeBytes)).join(' / ')],
        ['every key deleted', afterDelete.map((node) => node.keys).join(' / '), afterDelete.map((node) => node.tombstones).join(' / '), afterDelete.map((node) => mib(node.storeBytes)).join(' / ')],
        [`reaped, ${reapedS.toFixed(1)} s after the last delete`, after.map((node) => node.keys).join(' / '), after.map((node) => node.tombstones).join(' / '), after.map((node) => mib(node.storeBytes)).join(' / ')],
        [`compacted, ${compactedS.toFixed(1)} s after the last delete`, compacted.map((node) => node.keys).join(' / '), compacted.map((node) => node.tombstones).join(' / '), compacted.map((node) => mib(node.storeBytes)).join(' / ')],
      ],
    )
  } finally {
    await clusterDownAndRemoveFolder(dir, 5000, () => undefined)
  }
}

async function cost(): Promise<string> {
  const variant = (name: string, clusterArgs: string[], calibrate: boolean) => ({
    name,
    config: experimentConfig({clusterArgs, mode: {kind: 'closed', connections: 50}, durationS, calibrate}),
  })
  const results = await runVariants([
    variant('anti-entropy off', ['--anti-entropy-ms', '0'], true),
    variant('anti-entropy on (every 1,000 ms)', [], false),
    variant('anti-entropy off', ['--anti-entropy-ms', '0'], false),
    variant('anti-entropy on (every 1,000 ms)', [], false),
  ])
  const ceiling = results[0]?.report.calibration?.opsPerS
  return markdownTable(
    ['YCSB A, closed loop, 50 connections, 3 nodes', 'ops/s', 'share of the HTTP ceiling', 'read p99.9 ms', 'update p99.9 ms'],
    results.map(({name, report}) => {
      const read = report.run.operations.find((op) => op.operation === 'read')
      const update = report.run.operations.find((op) => op.operation === 'update')
      return [name, Math.round(report.run.opsPerS).toLocaleString('en'), ceiling === undefined ? '-' : `${((report.run.opsPerS / ceiling) * 100).toFixed(1)}%`, ms(read?.latency.p999Ms), ms(update?.latency.p999Ms)]
    }),
  )
}

if (!skipped.has('bytes')) process.stdout.write(`${await exchangeBytes()}\n\n`)
if (!skipped.has('disk')) process.stdout.write(`${await lostDisk()}\n\n`)
if (!skipped.has('reap')) process.stdout.write(`${await deleteAll()}\n\n`)
if (!skipped.has('cost')) process.stdout.write(`${await cost()}\n`)
