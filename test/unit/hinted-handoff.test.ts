/**
 * Sloppy quorum and hinted handoff (paper §4.6) on a simulated 4-node cluster (test/sim's
 * harness: the real node code on simulated time and network): with a home replica of a key
 * crashed, a w=3 put succeeds with a fallback's acknowledgement, the fallback keeps a hint for
 * the home, and pw=3 is refused before anything is written; a pr read counts homes only; the
 * hint survives a crash of the fallback; once the home is back, the hint is delivered into its
 * own store (merged, not overwritten) and removed from the fallback. With every home of a key
 * down, a put through another node is coordinated there as a fallback, which keeps a hint
 * itself; a forwarded put that was sent and never answered still fails, with no second coordinator.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {SimCluster, type ClusterConfig} from '../sim/cluster.js'
import {History} from '../sim/history.js'
import {preferenceListForKey} from '../../src/ring/ring.js'
import {partitionOfKey} from '../../src/ring/partition.js'
import {values} from '../../src/versioning/dvvset.js'
import type {PutOutcome} from '../../src/coordinator/put-coordinator.js'
import type {GetOutcome} from '../../src/coordinator/get-coordinator.js'

const config: ClusterConfig = {
  nodeCount: 4,
  partitionCount: 16,
  defaultN: 3,
  requestTimeoutMs: 500,
  gossipIntervalMs: 1000,
  link: {delayMsMin: 0.2, delayMsMax: 2, lossRate: 0},
}
const stepTimeMsMax = 60_000

async function put(cluster: SimCluster, via: string, key: string, value: string, quorum: {w: number; pw?: number; n?: number}): Promise<PutOutcome> {
  const service = cluster.assembled(via)?.service
  assert.ok(service, `${via} is up`)
  return cluster.time.until(
    service.put({key, value: Buffer.from(value), contentType: 'text/plain', tombstone: false, context: [], n: quorum.n ?? 3, w: quorum.w, dw: 0, pw: quorum.pw ?? 0, explain: true}),
    stepTimeMsMax,
  )
}

async function get(cluster: SimCluster, via: string, key: string, quorum: {r: number; pr?: number; n?: number}): Promise<GetOutcome> {
  const service = cluster.assembled(via)?.service
  assert.ok(service, `${via} is up`)
  return cluster.time.until(service.get({key, n: quorum.n ?? 3, r: quorum.r, pr: quorum.pr ?? 0, explain: false}), stepTimeMsMax)
}

/** What `node` holds for `key` in its own store (not its hints), as sorted values. */
async function stored(cluster: SimCluster, node: string, key: string): Promise<string[]> {
  const assembled = cluster.assembled(node)
  assert.ok(assembled)
  const object = await assembled.store.getObject(partitionOfKey(key, config.partitionCount), key)
  return object === undefined ? [] : values(object.versions).map((version) => Buffer.from(version.value).toString('utf8')).sort()
}

/** What `node` keeps for `key` as hints for `home`, as sorted values. */
async function hinted(cluster: SimCluster, node: string, home: string, key: string): Promise<string[]> {
  const assembled = cluster.assembled(node)
  assert.ok(assembled)
  const object = await assembled.hints.spaceFor(home).getObject(partitionOfKey(key, config.partitionCount), key)
  return object === undefined ? [] : values(object.versions).map((version) => Buffer.from(version.value).toString('utf8')).sort()
}

/** A key's whole preference list, in ring order, by the first node's ring. */
function ringOrder(cluster: SimCluster, key: string): string[] {
  const ring = cluster.assembled('n1')?.membership.ring
  assert.ok(ring)
  return [...preferenceListForKey(ring, key).nodes]
}

/** A key, its three homes and the one fallback, by the first node's ring. */
function placement(cluster: SimCluster, key: string): {homes: string[]; fallback: string} {
  const ring = cluster.assembled('n1')?.membership.ring
  assert.ok(ring)
  const nodes = preferenceListForKey(ring, key).nodes
  return {homes: nodes.slice(0, 3), fallback: nodes[3] as string}
}

function hintsOn(cluster: SimCluster, node: string): Map<string, number> {
  const described = cluster.assembled(node)?.service.cluster() as {members: Array<{name: string; hintsPending: number}>}
  return new Map(described.members.filter((member) => member.hintsPending > 0).map((member) => [member.name, member.hintsPending]))
}

describe('sloppy quorum and hinted handoff (simulated)', () => {
  it('a w=3 put with a home down succeeds through a fallback, pw=3 is refused, and the hint is delivered when the home returns', async () => {
    const history = new History()
    const cluster = await SimCluster.start(11, config, history)
    try {
      const key = 'cart'
      const {homes, fallback} = placement(cluster, key)
      const [coordinator, , down] = homes as [string, string, string]
      await cluster.crash(down)
      // The others see the crash at once (refused connections) or within the detector's bound.
      await cluster.time.runFor(5000)
      const reachability = (cluster.assembled(coordinator)?.service.cluster() as {members: Array<{name: string; reachability: string}>}).members.find((m) => m.name === down)?.reachability
      assert.equal(reachability, 'down')

      const strict = await put(cluster, coordinator, key, 'strict', {w: 3, pw: 3})
      assert.equal(strict.ok, false)
      assert.ok(!strict.ok && strict.error === 'quorum_unmet')
      assert.ok(!strict.ok && strict.details.homeRequired === 3, JSON.stringify(!strict.ok && strict.details))
      assert.match(!strict.ok ? strict.message : '', /pw=3 needs 3 home replicas/)
      assert.deepEqual(await stored(cluster, coordinator, key), [], 'a refused pw write stores nothing')

      const sloppy = await put(cluster, coordinator, key, 'v1', {w: 3})
      assert.equal(sloppy.ok, true, JSON.stringify(sloppy))
      const fallbackReply = sloppy.trace?.replies.find((reply) => reply.node === fallback)
      assert.equal(fallbackReply?.hintFor, down, 'the fallback stood in for the down home')
      assert.deepEqual(sloppy.trace?.counted, {home: 2, fallback: 1})
      assert.deepEqual(await stored(cluster, fallback, key), [], 'a hint is not the fallback\'s own data')
      assert.deepEqual(hintsOn(cluster, fallback), new Map([[down, 1]]))

      // R counts the fallback's answer (from its hint); PR=3 cannot be met with a home down.
      const read = await get(cluster, coordinator, key, {r: 3})
      assert.ok(read.ok && read.object !== undefined)
      const strictRead = await get(cluster, coordinator, key, {r: 3, pr: 3})
      assert.ok(!strictRead.ok && strictRead.error === 'quorum_unmet')

      // The fallback crashes and comes back: its hint is still there.
      await cluster.crash(fallback)
      await cluster.restart(fallback, {wipe: false})
      assert.deepEqual(hintsOn(cluster, fallback), new Map([[down, 1]]))

      await cluster.restart(down, {wipe: false})
      await cluster.time.runFor(10_000)
      assert.deepEqual(await stored(cluster, down, key), ['v1'], 'the home holds the write, without any read')
      assert.deepEqual(hintsOn(cluster, fallback), new Map())
      const stats = (await cluster.assembled(fallback)?.service.stats()) as {hints: {delivered: number; pending: number}}
      assert.equal(stats.hints.delivered, 1)
      assert.equal(stats.hints.pending, 0)
    } finally {
      await cluster.stop()
    }
  })

  it('a delivered hint merges with what the home wrote meanwhile: both versions stay', async () => {
    const history = new History()
    const cluster = await SimCluster.start(12, config, history)
    try {
      const key = 'concurrent'
      const {homes, fallback} = placement(cluster, key)
      const [coordinator, other, down] = homes as [string, string, string]
      await cluster.crash(down)
      await cluster.time.runFor(5000)
      assert.ok((await put(cluster, coordinator, key, 'while-down', {w: 3})).ok)
      await cluster.restart(down, {wipe: false})
      // Before the hint arrives, the returning home takes a concurrent write of its own (w=1, coordinated where it lands).
      const direct = await cluster.time.until(
        (cluster.assembled(down)?.service as NonNullable<ReturnType<SimCluster['assembled']>>['service']).put({key, value: Buffer.from('after'), contentType: 'text/plain', tombstone: false, context: [], n: 3, w: 1, dw: 0, pw: 0, explain: false}),
        stepTimeMsMax,
      )
      assert.ok(direct.ok)
      await cluster.time.runFor(10_000)
      assert.deepEqual(await stored(cluster, down, key), ['after', 'while-down'])
      assert.equal(hintsOn(cluster, fallback).size, 0)
      assert.ok((await stored(cluster, other, key)).includes('while-down'))
    } finally {
      await cluster.stop()
    }
  })

  it('with every home of a key down, a put through another node is coordinated there as a fallback, which keeps a hint itself; gets read the hints, and the homes get the write back', async () => {
    const history = new History()
    const cluster = await SimCluster.start(13, config, history)
    try {
      const key = 'orphan'
      const [home1, home2, fallback1, fallback2] = ringOrder(cluster, key) as [string, string, string, string]
      await cluster.crash(home1)
      await cluster.crash(home2)
      await cluster.time.runFor(5000)

      // A strict quorum cannot be met without a home: refused before anything is written.
      const strict = await put(cluster, fallback2, key, 'strict', {n: 2, w: 2, pw: 1})
      assert.ok(!strict.ok && strict.error === 'quorum_unmet', JSON.stringify(strict))
      assert.match(!strict.ok ? strict.message : '', /pw=1 needs 1 home replica to acknowledge, but only 0 of the key's homes are reachable/)
      assert.deepEqual(await stored(cluster, fallback2, key), [])
      assert.deepEqual(hintsOn(cluster, fallback2), new Map())

      // The second fallback coordinates: the first stands in for the first home, itself for the second.
      const sloppy = await put(cluster, fallback2, key, 'v1', {n: 2, w: 2})
      assert.equal(sloppy.ok, true, JSON.stringify(sloppy))
      const trace = sloppy.trace
      assert.ok(trace)
      assert.equal(trace.coordinator, fallback2)
      assert.deepEqual(trace.fallbackCoordinator, {homesTried: []})
      assert.equal(trace.forwardedBy, undefined)
      assert.deepEqual(trace.counted, {home: 0, fallback: 2})
      const byTarget = (a: {target: string}, b: {target: string}): number => a.target.localeCompare(b.target)
      assert.deepEqual([...(trace.hintsWritten ?? [])].sort(byTarget), [{node: fallback1, target: home1}, {node: fallback2, target: home2}].sort(byTarget))
      // Its own copy stays (its dots for the key come from there), apart from the hint it keeps.
      assert.deepEqual(await stored(cluster, fallback2, key), ['v1'])
      assert.deepEqual(await hinted(cluster, fallback2, home2, key), ['v1'])
      assert.deepEqual(await hinted(cluster, fallback1, home1, key), ['v1'])
      assert.deepEqual(hintsOn(cluster, fallback2), new Map([[home2, 1]]))
      assert.deepEqual(hintsOn(cluster, fallback1), new Map([[home1, 1]]))

      // A get through the same node asks the same targets: the other fallback's hint, and its own.
      const read = await get(cluster, fallback2, key, {n: 2, r: 2})
      assert.ok(read.ok && read.object !== undefined, JSON.stringify(read))
      assert.deepEqual(values(read.object.versions).map((version) => Buffer.from(version.value).toString('utf8')), ['v1'])
      assert.ok(read.trace.replies.some((reply) => reply.node === fallback2 && reply.hintFor === home2 && reply.outcome === 'ok'), JSON.stringify(read.trace.replies))

      // A put through the first fallback (itself standing in for the first home) covers v1 with the read's context.
      const service = cluster.assembled(fallback1)?.service
      assert.ok(service)
      const next = await cluster.time.until(
        service.put({key, value: Buffer.from('v2'), contentType: 'text/plain', tombstone: false, context: sloppy.ok ? sloppy.context : [], n: 2, w: 2, dw: 0, pw: 0, explain: false}),
        stepTimeMsMax,
      )
      assert.ok(next.ok, JSON.stringify(next))
      assert.deepEqual(await hinted(cluster, fallback1, home1, key), ['v2'])
      assert.deepEqual(await hinted(cluster, fallback2, home2, key), ['v2'])

      await cluster.restart(home1, {wipe: false})
      await cluster.restart(home2, {wipe: false})
      await cluster.time.runFor(10_000)
      assert.deepEqual(await stored(cluster, home1, key), ['v2'], 'the first home holds the write, without any read')
      assert.deepEqual(await stored(cluster, home2, key), ['v2'], 'the second home holds the write, without any read')
      assert.deepEqual(hintsOn(cluster, fallback1), new Map())
      assert.deepEqual(hintsOn(cluster, fallback2), new Map())
    } finally {
      await cluster.stop()
    }
  })

  it('a fallback coordinator short of W names each replica once: its hint counts, its own copy does not', async () => {
    const history = new History()
    const cluster = await SimCluster.start(15, config, history)
    try {
      const key = 'short'
      const [home1, home2, fallback1, fallback2] = ringOrder(cluster, key) as [string, string, string, string]
      for (const node of [home1, home2, fallback1]) await cluster.crash(node)
      await cluster.time.runFor(5000)
      // Only the coordinator is left: it stands in for the first home, and the second has no fallback.
      const outcome = await put(cluster, fallback2, key, 'alone', {n: 2, w: 2})
      assert.ok(!outcome.ok && outcome.error === 'quorum_unmet', JSON.stringify(outcome))
      assert.deepEqual(outcome.details.acknowledgedBy, [fallback2])
      assert.equal(outcome.details.acknowledged, 1)
      assert.equal(outcome.details.homeAcknowledged, 0)
      assert.deepEqual((outcome.details.failed as Array<{node: string}>).map((failure) => failure.node), [home2])
      assert.deepEqual(outcome.trace?.counted, {home: 0, fallback: 1})
      assert.deepEqual(outcome.trace?.hintsWritten, [{node: fallback2, target: home1}])
      // The second home did not acknowledge: the coordinator keeps a hint for it as well, and says so.
      assert.deepEqual(outcome.trace?.hintsKept, [{node: fallback2, target: home2}])
      await cluster.time.runFor(100)
      assert.deepEqual(hintsOn(cluster, fallback2), new Map([[home1, 1], [home2, 1]]))
    } finally {
      await cluster.stop()
    }
  })

  it('a forwarded put that reached a home and went unanswered fails: no fallback coordinates it a second time', async () => {
    const history = new History()
    const cluster = await SimCluster.start(14, config, history)
    try {
      const key = 'unanswered'
      const [home1, home2, fallback1] = ringOrder(cluster, key) as [string, string, string]
      const address = (name: string): string => `${name}:7000`
      // The homes hear the forwarder, but their answers never reach it.
      cluster.network.cut(address(home1), address(fallback1))
      cluster.network.cut(address(home2), address(fallback1))
      const outcome = await put(cluster, fallback1, key, 'once', {n: 2, w: 1})
      assert.ok(!outcome.ok && outcome.error === 'unreachable', JSON.stringify(outcome))
      assert.match(!outcome.ok ? outcome.message : '', /did not complete the forwarded put/)
      assert.deepEqual(await stored(cluster, fallback1, key), [], 'the forwarder made no version of its own')
      assert.deepEqual(hintsOn(cluster, fallback1), new Map())
      assert.deepEqual(await stored(cluster, home1, key), ['once'], 'the home coordinated the put once')
    } finally {
      await cluster.stop()
    }
  })
})

describe('hints for a node that is removed (simulated)', () => {
  it('go to the key\'s current homes, this node among them, and none stays pending', async () => {
    const history = new History()
    const cluster = await SimCluster.start(13, config, history)
    try {
      const key = 'cart'
      const {homes, fallback} = placement(cluster, key)
      const [coordinator, , gone] = homes as [string, string, string]
      await cluster.crash(gone)
      await cluster.time.runFor(5000)
      assert.ok((await put(cluster, coordinator, key, 'v1', {w: 3})).ok)
      assert.deepEqual(hintsOn(cluster, fallback), new Map([[gone, 1]]))
      // The home is lost for good: removed, as an operator would.
      await cluster.depart(gone)
      const service = cluster.assembled(coordinator)?.service
      assert.ok(service)
      await cluster.time.until(service.clusterChange({op: 'stage', change: {kind: 'remove', node: gone}}), stepTimeMsMax)
      await cluster.time.until(service.clusterChange({op: 'commit'}), stepTimeMsMax)
      assert.ok(await cluster.settleRing(3), 'the ring settles without the removed node')
      await cluster.time.runFor(10_000)
      assert.deepEqual(hintsOn(cluster, fallback), new Map(), 'no hint is left for the removed node')
      // Three members and n=3: the fallback is now one of the key's homes, so the hint merged into its own store.
      assert.deepEqual(await stored(cluster, fallback, key), ['v1'])
      const stats = (await cluster.assembled(fallback)?.service.stats()) as {hints: {delivered: number; redirected: number; pending: number}}
      assert.equal(stats.hints.redirected, 1)
      assert.equal(stats.hints.delivered, 1)
      assert.equal(stats.hints.pending, 0)
      for (const node of cluster.upNodes()) assert.deepEqual(await stored(cluster, node, key), ['v1'], `${node} holds the write`)
    } finally {
      await cluster.stop()
    }
  })
})
