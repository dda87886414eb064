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
 */

import {homesOf} from '../../src/handoff/transfer-plan.js'
import {partitionOfKey} from '../../src/ring/partition.js'
import {ringFromOwners} from '../../src/ring/ring.js'
import {dottedValues} from '../../src/versioning/dvvset.js'
import type {Violation} from './checker.js'
import type {SimCluster} from './cluster.js'
import type {History} from './history.js'
import type {MembershipChangeResult} from './membership-faults.js'

export async function checkMembership(cluster: SimCluster, history: History, change: MembershipChangeResult, defaultN: number): Promise<Violation[]> {
  const atMs = cluster.time.monotonicMs()
  if (change.failure !== undefined) {
    return [{check: 'membership-change-failed', key: '-', message: `the ${change.kind} of ${change.node} could not be made: ${change.failure}`, atMs}]
  }
  const settled = await cluster.settleRing(change.expectedMembers)
  const agreed = cluster.agreedRing()
  if (!settled || agreed === undefined) {
    const views = cluster.upNodes().map((name) => {
      const node = cluster.assembled(name)
      return `${name}: ${node?.membership.ring.members.join(' ')} hash ${node?.membership.ring.hash}${node?.membership.table.ring?.next ? ' (transition running)' : ''} released-pending ${node?.release.pendingCount}`
    })
    return [{check: 'ring-disagreement', key: '-', message: `after the ${change.kind} of ${change.node}, the nodes did not settle on one ring of ${change.expectedMembers} members: ${views.join('; ')}`, atMs}]
  }
  const before = change.ringBefore
  if (before === undefined) return []
  const ringBefore = ringFromOwners(before.partitionCount, before.members, before.owners)
  const anyNode = cluster.assembled(cluster.upNodes()[0]!)!
  const ringAfter = anyNode.membership.ring
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
      if (covered) continue
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

function idOf(bytes: Uint8Array): string {
  try {
    return (JSON.parse(Buffer.from(bytes).toString('utf8')) as {id: string}).id
  } catch {
    return '?'
  }
}
