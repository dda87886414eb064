/**
 * The simulator in `npm test` (issue 7): a fixed set of seeds, each a whole cluster with clients
 * and faults on simulated time, checked from the clients' history; seeds that once found a bug,
 * kept as regression cases; determinism (one seed twice gives the same event log); and the
 * membership checks reporting every violation they find.
 *
 * More seeds: `npm run sim -- --seeds 1000`. One seed with its history: `npm run sim -- --seed S`.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {handoffTargets, releasedPartitions} from '../../src/handoff/transfer-release.js'
import {homesOf} from '../../src/handoff/transfer-plan.js'
import {partitionOfKey} from '../../src/ring/partition.js'
import {ringFromOwners} from '../../src/ring/ring.js'
import type {StoredVersion} from '../../src/storage/stored-object.js'
import {emptySet, update} from '../../src/versioning/dvvset.js'
import {SimCluster} from './cluster.js'
import {History} from './history.js'
import {checkMembership} from './membership-checks.js'
import {describeFailure, runSeed} from './simulator.js'

/** Seeds `npm test` runs on every change: enough to meet every fault kind many times over. */
export const ciSeedCount = 200

/** Seeds that found a real bug once; each stays here so the bug cannot come back unnoticed. */
export const regressionSeeds: readonly number[] = [
  // A forwarded put whose home stored it and crashed before answering was retried on the next
  // home, which stored it again under another dot that the returned context did not cover: a
  // write with that context left the first copy as a sibling (fixed: the transport says when a
  // failed request certainly never left, and the forwarder retries only then).
  254, 306, 983, 313, 528, 679, 977,
  // The harness restarted a joining node that was still starting (two incarnations on one address).
  416,
  // A removal with a write of n=2: the transfer check asked more than transfers promise.
  923,
  // A node removed after it had been down a while: the hints others kept for it stayed pending
  // for ever (fixed: they go to each key's current homes).
  55, 257,
  // A removal followed by a join: the join waited for ever for the removed node (its own row still
  // said valid) to see the transition (fixed: a member the ring no longer has counts as left).
  16, 115,
  // A write with n=2 coordinated last on a key written with n=3 left the coordinator's copy
  // saying n=2, and the release after a join deleted it on a node still home of the n=3 writes
  // (fixed: an object keeps the largest n it was written with).
  170,
  // Writes of n=4 with the cluster's N=3: transfers planned for N alone left the nodes that
  // became a 4th home without them, on a leave, a removal and a join.
  41, 45, 89,
  // A write acknowledged only by fallbacks, their hints handed back to an old home during a
  // removal after the new home's scan had passed it: the new home never got it (fixed: a home
  // merging handed-back hints copies them to the key's pending homes, as a put does).
  249,
  // A put fitted to n=1 or 2 by a node one gossip round behind the install of a join was placed on
  // that many homes by a coordinator that had installed it, and never reached its stored N=3
  // (fixed: the coordinator copies it to the key's homes beyond n, up to storedN).
  15374,
  // A copy to a pending home lost (or cut off) while every old home stayed a home: no hint was kept.
  60509,
  // A pw=1 write coordinated on the ring before an install: the check counted the new ring's homes.
  61176,
  // A node restarted on its stored ring state believed itself claimant and answered a commit with
  // nothing_staged for a leave or removal staged through another claimant meanwhile, which was
  // then never made (fixed: the claimant fetches the members' ring states before deciding).
  1122, 1639, 2122,
  // A write acknowledged by a home and a fallback's hint, the homes the hint named down: the
  // removal of that home left the hint the only surviving replica, which reached its old home
  // after the new home's scan and never the new home (fixed: transfers fetch hints too).
  2120, 2273,
]

async function assertSeedPasses(seed: number): Promise<void> {
  const result = await runSeed(seed)
  assert.equal(result.violations.length, 0, describeFailure(result))
}

describe('simulated clusters', () => {
  it('the same seed gives the same run, byte for byte', async () => {
    const first = await runSeed(7)
    const second = await runSeed(7)
    assert.equal(first.digest, second.digest)
    assert.equal(first.events, second.events)
    assert.ok(first.operations > 0)
    const other = await runSeed(8)
    assert.notEqual(other.digest, first.digest)
  })

  it(`${ciSeedCount} seeds keep every guarantee`, async () => {
    const failures: string[] = []
    for (let seed = 1; seed <= ciSeedCount; seed += 1) {
      const result = await runSeed(seed)
      if (result.violations.length > 0) failures.push(describeFailure(result))
      if (failures.length >= 3) break
    }
    assert.deepEqual(failures, [], failures.join('\n\n'))
  })

  // The regression seeds inside 1..ciSeedCount (today 16, 41, 45, 55, 89, 115 and 170) are
  // regression cases that the test above runs: listed for what they found, not run twice.
  for (const seed of regressionSeeds.filter((regression) => regression > ciSeedCount)) {
    it(`regression seed ${seed}`, () => assertSeedPasses(seed))
  }
})

/** The first key `prefix-0`, `prefix-1`, … that falls in `partition`. */
function keyIn(prefix: string, partition: number, partitionCount: number): string {
  for (let index = 0; index < 100 * partitionCount; index += 1) {
    if (partitionOfKey(`${prefix}-${index}`, partitionCount) === partition) return `${prefix}-${index}`
  }
  throw new Error(`no key found in partition ${partition}`)
}

describe('membership checks', () => {
  it('run every check and report each violation: a failed change, a ring that did not settle, a missed transfer and a stray copy', async () => {
    const partitionCount = 16
    const history = new History()
    const cluster = await SimCluster.start(1, {nodeCount: 4, partitionCount, defaultN: 3, requestTimeoutMs: 500, gossipIntervalMs: 1000, link: {delayMsMin: 0.2, delayMsMax: 1, lossRate: 0}}, history)
    try {
      const ring = cluster.assembled('n1')!.membership.ring
      // The ring "before" the change: the same members, each partition owned as the next one is.
      const owners = ring.owners.map((_, partition) => ring.owners[(partition + 1) % partitionCount]!)
      const before = ringFromOwners(partitionCount, ring.members, owners)
      // A partition with a node that released it and is no home of it now, and a node that became one.
      const partition = ring.owners.findIndex((_, p) => ring.members.some((name) => releasedPartitions(before, ring, name).includes(p) && handoffTargets(ring, p, name, 3) !== undefined))
      assert.ok(partition >= 0, 'no partition changed its homes')
      const releaser = ring.members.find((name) => releasedPartitions(before, ring, name).includes(partition) && handoffTargets(ring, partition, name, 3) !== undefined)!
      assert.ok(homesOf(ring, partition, 3).some((home) => !homesOf(before, partition, 3).includes(home)), 'no node became a home')
      // An acknowledged write no node holds: each new home misses it.
      history.writes.set('w1', {id: 'w1', key: keyIn('missed', partition, partitionCount), tombstone: false, seen: new Set(), n: 3, ranN: 3, w: 2, pw: 0, node: 'n1', startMs: 0, endMs: 0, end: 'ok', contextFrom: 'none'})
      // A copy the releaser still stores, of another key of that partition.
      const version: StoredVersion = {value: new TextEncoder().encode('{"id":"s1"}'), contentType: 'application/json', timestampMs: 0, tombstone: false}
      await cluster.time.until(
        cluster.assembled(releaser)!.store.updateObject(partition, keyIn('stray', partition, partitionCount), () => ({ok: true, object: {versions: update([], emptySet<StoredVersion>(), `${releaser}.9`, version, 0), n: 3}}), {durable: false}),
        60_000,
      )
      const change = {kind: 'join' as const, node: 'n5', ringBefore: {partitionCount, members: before.members, owners: before.owners}, expectedMembers: 5, failure: 'the stage was refused'}
      const violations = await cluster.time.until(checkMembership(cluster, history, change, 3), 600_000)
      const checks = new Set(violations.map((violation) => violation.check))
      assert.deepEqual([...checks].sort(), ['membership-change-failed', 'missed-transfer', 'ring-disagreement', 'stray-copy'])
    } finally {
      await cluster.stop()
    }
  })
})
