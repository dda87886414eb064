/**
 * The checks of a run with a membership change (issue 8 item 7):
 * 1. The change settles: every running node agrees on one ring with the expected members and no
 *    transition or hand-off left (bounded; a ring that never settles is a liveness bug).
 * 2. No missed transfer: for every acknowledged write (with a disk lost, every one that W >= 2
 *    replicas acknowledged), each home replica that the change gave its key holds it (under
 *    the write's own n, or the cluster's N: see below what transfers promise), or a version
 *    whose writer had seen it. Read from the stores directly,
 *    before the final read pass, so that read repair cannot hide a transfer that missed
 *    something.
 * 3. No hint stays for a node that is no longer a member (left or removed): each went to its
 *    key's current homes (bounded: the senders' back-off is at most 30 s).
 * 4. Released copies are gone: once every release has finished, in each partition a running node
 *    released (it moved later in the preference list, src/handoff/transfer-release.ts), it stores
 *    only objects of keys it is a home of under the new ring, with each object's own n. Copies a
 *    new home refused for cause, or that kept changing through every walk, are kept on purpose and
 *    logged: a node that logged either is not held to this. Partitions a node did not release are
 *    not looked at: a copy there predates the change (read repair for a get with a larger n can
 *    leave one on a node whose object says a smaller n; see docs/architecture.md). For the same
 *    reason a node that is a home of a key under the largest n a get of it asked is not held to
 *    this for that key: the get's read repair may have sent it a copy after its release
 *    (campaign seeds 445194 and 445376, a get with n=4 of keys written with n <= 3).
 * 5. A node that joined alone hands nothing off: a join moves no one later in the joiner's own
 *    preference lists, so what its release would hand back and delete can only be what the
 *    join's transfers brought it (a node started alone once took its one-member ring giving way
 *    to the cluster's for a release of every partition, and deleted them: found by a new user's
 *    walk through the README, and met by the joiners started alone, `joinedAlone`). Counted since
 *    the joiner last started.
 * That no acknowledged write is lost although old homes deleted their copies is the final read
 * pass's check (checker.ts), which runs after this one.
 */

import {ringOfState} from '../../src/membership/claimant-core.js'
import {handoffBackoffMaxMs} from '../../src/handoff/handoff-backoff.js'
import {standingIn} from '../../src/handoff/handoff-sender.js'
import {homesOf} from '../../src/handoff/transfer-plan.js'
import {partitionOfKey} from '../../src/ring/partition.js'
import {handoffTargets, releasedPartitions} from '../../src/handoff/transfer-release.js'
import {preferenceList} from '../../src/ring/ring.js'
import type {Ring} from '../../src/ring/ring.js'
import {scanPageMax} from '../../src/storage/store.js'
import {dottedValues} from '../../src/versioning/dvvset.js'
import type {Violation} from './checker.js'
import {reapedAway} from './history.js'
import type {SimCluster} from './cluster.js'
import type {History} from './history.js'
import type {MembershipChangeResult} from './membership-faults.js'

/**
 * Runs every check and returns every violation: a failed check never hides the ones after it.
 * A change that could not be made, or a ring that did not settle, is reported first; the
 * transfer and stray-copy checks then still look at the ring the first running node routes by.
 */
export async function checkMembership(cluster: SimCluster, history: History, change: MembershipChangeResult, defaultN: number): Promise<Violation[]> {
  const atMs = cluster.time.monotonicMs()
  const violations: Violation[] = []
  if (change.failure !== undefined) {
    violations.push({check: 'membership-change-failed', key: '-', message: `the ${change.kind} of ${change.node} could not be made: ${change.failure}`, atMs})
  }
  // Check 1: the change settles on one ring.
  const settled = await cluster.settleRing(change.expectedMembers)
  if (!settled || cluster.agreedRing() === undefined) {
    const views = cluster.upNodes().map((name) => {
      const node = cluster.assembled(name)
      return `${name}: ${node?.membership.ring.members.join(' ')} hash ${node?.membership.ring.hash}${node?.membership.table.ring?.next ? ' (transition running)' : ''} released-pending ${node?.release.pendingCount}`
    })
    violations.push({check: 'ring-disagreement', key: '-', message: `after the ${change.kind} of ${change.node}, the nodes did not settle on one ring of ${change.expectedMembers} members: ${views.join('; ')}`, atMs})
  }
  // Check 3: no hint stays for a node that is no longer a member.
  const strandedHints = await hintsForNonMembers(cluster)
  if (strandedHints.length > 0) {
    violations.push({check: 'hints-for-non-member', key: '-', message: `after the ${change.kind} of ${change.node}, hints are still kept for nodes that are no longer members: ${strandedHints.join('; ')}`, atMs: cluster.time.monotonicMs()})
  }
  // Check 5: one node joined (not several, of which an earlier one may move later in the lists
  // when a later one joins, nor followed by a removal, which may move its partitions again), and
  // it handed nothing off.
  if (change.kind === 'join' && !change.node.includes(' ') && change.removedAfter === undefined) {
    const handedOff = cluster.upNodes().includes(change.node) ? (cluster.assembled(change.node)?.release.counts.handedOff ?? 0) : 0
    if (handedOff > 0) {
      violations.push({check: 'joiner-released', key: '-', message: `${change.node} joined and then handed off ${handedOff} copies as released, which only its join's transfers can have brought it`, atMs: cluster.time.monotonicMs()})
    }
  }
  const before = change.ringBefore
  const anyNode = cluster.upNodes().map((name) => cluster.assembled(name)).find((node) => node !== undefined)
  if (before === undefined || anyNode === undefined) return violations
  const ringBefore = ringOfState(before.partitionCount, before)
  const ringAfter = anyNode.membership.ring
  violations.push(...(await missedTransfers(cluster, history, change, ringBefore, ringAfter, defaultN)))
  violations.push(...(await strayCopies(cluster, history, ringBefore, ringAfter, atMs)))
  return violations
}

/** Check 2: acknowledged writes that a home replica the change gave their key does not hold. */
async function missedTransfers(cluster: SimCluster, history: History, change: MembershipChangeResult, ringBefore: Ring, ringAfter: Ring, defaultN: number): Promise<Violation[]> {
  const diskLost = history.wiped.size > 0
  // The largest n each key was written with, acknowledged or not: no copy of it carries a
  // larger one (a copy keeps the largest n it was given).
  const largestN = new Map<string, number>()
  for (const write of history.writes.values()) largestN.set(write.key, Math.max(write.n, largestN.get(write.key) ?? 0))
  const violations: Violation[] = []
  for (const write of history.writes.values()) {
    if (write.end !== 'ok' || (diskLost && write.w < 2)) continue
    const partition = partitionOfKey(write.key, ringAfter.partitionCount)
    // Transfers move the objects of each n in use to the nodes that become their homes under
    // that n, from the old homes under it. What they promise for a write: each node that
    // becomes a home under the write's n holds it, unless it already was a home under the
    // largest n the key was written with (a copy of the write carries an n between the two, so
    // the node is then planned a transfer of that n); and, for a write with n of the cluster's
    // N or more, each node that becomes a home under N (N is always planned for). A node that
    // was a home already under a larger n, or that only a smaller n would name, gets a missing
    // copy from read repair (as seed 923 found for a node that moves up the list).
    const promised = new Set<string>()
    const addNewHomes = (n: number, oldN: number): void => {
      const oldHomes = homesOf(ringBefore, partition, Math.min(oldN, ringBefore.members.length))
      for (const home of homesOf(ringAfter, partition, Math.min(n, ringAfter.members.length))) if (!oldHomes.includes(home)) promised.add(home)
    }
    addNewHomes(write.n, largestN.get(write.key) ?? write.n)
    if (write.n >= defaultN) addNewHomes(defaultN, defaultN)
    const newHomes = [...promised]
    for (const home of newHomes) {
      const node = cluster.assembled(home)
      if (node === undefined) continue
      const object = await node.store.getObject(partition, write.key)
      const held = object === undefined ? [] : dottedValues(object.versions).map(({value}) => idOf(value.value))
      const covered = held.some((id) => id === write.id || history.writes.get(id)?.seen.has(write.id) === true)
      if (covered || reapedAway(history, write, held)) continue
      violations.push({
        check: 'missed-transfer',
        key: write.key,
        message: `${write.id} (acknowledged at ${write.endMs} ms, n=${write.n} w=${write.w}) is not on ${home}, a home replica the ${change.kind} of ${change.node} gave partition ${partition}; it holds [${held.join(', ')}]`,
        atMs: write.endMs ?? write.startMs,
      })
    }
  }
  return violations
}

/**
 * The keys `name` logged as kept on purpose by its release: refused by a new home for cause
 * ("… refused 2 released object(s) (k1: object_too_large, …); kept here"), or written again
 * through every walk ("… kept, written again during 4 walks: k1, k2)").
 */
function keptOnPurpose(history: History, name: string): Set<string> {
  const kept = new Set<string>()
  for (const {text} of history.log) {
    if (!text.startsWith(`${name}: `)) continue
    const refused = /refused \d+ released object\(s\) \((.*)\); kept here$/.exec(text)?.[1]
    for (const entry of refused?.split(', ') ?? []) kept.add(entry.slice(0, entry.lastIndexOf(':')))
    const rewritten = /written again during \d+ walks: (.*)\)$/.exec(text)?.[1]
    for (const key of rewritten?.split(', ') ?? []) kept.add(key)
  }
  return kept
}

/**
 * Whether `name` is a home of a key under the largest n a get of it asked (failed gets too: a get
 * repairs once every replica has answered, whatever it answered the client), so that the get's
 * read repair may have sent it a copy.
 */
function homeUnderReadN(history: History, ring: Ring, name: string): (partition: number, key: string) => boolean {
  const largestReadN = new Map<string, number>()
  for (const request of history.requests) {
    if (request.kind === 'get') largestReadN.set(request.key, Math.max(request.n, largestReadN.get(request.key) ?? 0))
  }
  return (partition, key) => {
    const n = largestReadN.get(key)
    return n !== undefined && handoffTargets(ring, partition, name, n) === undefined
  }
}

/** Pages of one partition a check reads at most (scanPageMax keys each). */
const strayScanPagesMax = 1000

/** Check 4: objects a node stores in a partition it released although it is no home of their key (under their own n). */
async function strayCopies(cluster: SimCluster, history: History, before: Ring, ring: Ring, atMs: number): Promise<Violation[]> {
  const violations: Violation[] = []
  for (const name of cluster.upNodes()) {
    const node = cluster.assembled(name)
    if (node === undefined) continue
    const kept = keptOnPurpose(history, name)
    const repaired = homeUnderReadN(history, ring, name)
    for (const partition of releasedPartitions(before, ring, name)) {
      let afterKey: string | undefined
      for (let page = 0; page < strayScanPagesMax; page++) {
        const objects = await node.store.scanPartition(partition, afterKey, scanPageMax)
        for (const {key, object} of objects) {
          const homes = handoffTargets(ring, partition, name, object.n)
          if (homes === undefined || kept.has(key) || repaired(partition, key)) continue
          violations.push({
            check: 'stray-copy',
            key,
            message: `${name} still stores ${key} (n=${object.n}, partition ${partition}) after its releases finished, but its homes are ${homes.join(', ')} (${name} was at ${preferenceList(before, partition).indexOf(name)} of [${preferenceList(before, partition).join(', ')}] before the change, ${preferenceList(ring, partition).indexOf(name)} after)`,
            atMs,
          })
        }
        if (objects.length < scanPageMax) break
        afterKey = objects.at(-1)?.key
      }
    }
  }
  return violations
}

function idOf(bytes: Uint8Array): string {
  try {
    return (JSON.parse(Buffer.from(bytes).toString('utf8')) as {id: string}).id
  } catch {
    return '?'
  }
}

/** Simulated time the hint senders get to hand every hint for a non-member on: above their longest back-off. */
export const strandedHintsSettleMsMax = 2 * handoffBackoffMaxMs

/** Per running node, the hints it still keeps for a node that is no longer a member, once they had the time to move. */
async function hintsForNonMembers(cluster: SimCluster): Promise<string[]> {
  let stranded: string[] = []
  for (let waitedMs = 0; waitedMs <= strandedHintsSettleMsMax; waitedMs += 1000) {
    stranded = cluster.upNodes().flatMap((name) => {
      const node = cluster.assembled(name)
      if (node === undefined) return []
      const members = (node.service.cluster() as {members: Array<{name: string; hintsPending: number}>}).members
      return members.filter((member) => member.hintsPending > 0 && standingIn(node.membership.table, member.name) === 'gone').map((member) => `${name} keeps ${member.hintsPending} for ${member.name}`)
    })
    if (stranded.length === 0) return []
    await cluster.time.runFor(1000)
  }
  return stranded
}
