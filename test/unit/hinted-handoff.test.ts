/**
 * Sloppy quorum and hinted handoff (paper §4.6) on a simulated 4-node cluster (test/sim's
 * harness: the real node code on simulated time and network): with a home replica of a key
 * crashed, a w=3 put succeeds with a fallback's acknowledgement, the fallback keeps a hint for
 * the home, and pw=3 is refused before anything is written; a pr read counts homes only; the
 * hint survives a crash of the fallback; once the home is back, the hint is delivered into its
 * own store (merged, not overwritten) and removed from the fallback.
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

async function put(cluster: SimCluster, via: string, key: string, value: string, quorum: {w: number; pw?: number}): Promise<PutOutcome> {
  const service = cluster.assembled(via)?.service
  assert.ok(service, `${via} is up`)
  return cluster.time.until(
    service.put({key, value: Buffer.from(value), contentType: 'text/plain', tombstone: false, context: [], n: 3, w: quorum.w, dw: 0, pw: quorum.pw ?? 0, explain: true}),
    stepTimeMsMax,
  )
}

async function get(cluster: SimCluster, via: string, key: string, quorum: {r: number; pr?: number}): Promise<GetOutcome> {
  const service = cluster.assembled(via)?.service
  assert.ok(service, `${via} is up`)
  return cluster.time.until(service.get({key, n: 3, r: quorum.r, pr: quorum.pr ?? 0, explain: false}), stepTimeMsMax)
}

/** What `node` holds for `key` in its own store (not its hints), as sorted values. */
async function stored(cluster: SimCluster, node: string, key: string): Promise<string[]> {
  const assembled = cluster.assembled(node)
  assert.ok(assembled)
  const object = await assembled.store.getObject(partitionOfKey(key, config.partitionCount), key)
  return object === undefined ? [] : values(object.versions).map((version) => Buffer.from(version.value).toString('utf8')).sort()
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
