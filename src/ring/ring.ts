/**
 * The ring: Q equal partitions, the owner of each, and the preference list of every key.
 *
 * Follows Dynamo §4.2 (consistent hashing with MD5), §4.3 (the preference list: walk the ring
 * clockwise from the key's position and collect distinct nodes; the first N are the key's home
 * replicas, the rest its fallbacks) and §6.2 strategy 3 (Q fixed equal partitions, ownership
 * assigned per partition by `claimOwners`). Pure: a ring is a value computed from Q and the
 * member set, so nodes that agree on membership agree on the ring, and `hash` lets them check.
 */

import {createHash} from 'node:crypto'
import {assert} from '../errors.js'
import {claimOwners, compareNames} from './claim.js'
import {isValidPartitionCount, partitionOfKey} from './partition.js'

export {claimOwners, claimOwnersFrom, compareNames} from './claim.js'
export {
  isValidPartitionCount,
  partitionBits,
  partitionCountDefault,
  partitionCountMax,
  partitionOfKey,
} from './partition.js'

export interface Ring {
  readonly partitionCount: number
  /** Node names, in code-unit order. */
  readonly members: readonly string[]
  /** owners[p] is the name of the node that owns partition p. */
  readonly owners: readonly string[]
  /** A short hex digest of (partitionCount, members, owners): equal rings have equal hashes. */
  readonly hash: string
}

/** Hex characters of MD5 kept in `Ring.hash`: 64 bits, so two different rings share a hash with odds near 2^-64. */
const ringHashLength = 16

/**
 * The ring for Q partitions over `members`. Their order does not matter; they must be unique
 * and non-empty. Programmer errors (bad Q, duplicates) are asserted: membership is validated
 * where it is learnt, before a ring is built from it.
 */
export function buildRing(partitionCount: number, members: readonly string[]): Ring {
  assert(isValidPartitionCount(partitionCount), `invalid partition count ${partitionCount}`)
  assert(members.length > 0, 'a ring needs at least one member')
  for (const name of members) assert(typeof name === 'string' && name.length > 0, 'member names are non-empty strings')
  const sortedMembers = Object.freeze([...members].sort(compareNames))
  const owners = Object.freeze(claimOwners(partitionCount, sortedMembers))
  return Object.freeze({
    partitionCount,
    members: sortedMembers,
    owners,
    hash: ringHash(partitionCount, sortedMembers, owners),
  })
}

/**
 * A ring with given owners: what the claimant decided (claimOwnersFrom) and gossip carries. Every
 * owner must be a member; members may own nothing (S > Q).
 */
export function ringFromOwners(partitionCount: number, members: readonly string[], owners: readonly string[]): Ring {
  assert(isValidPartitionCount(partitionCount), `invalid partition count ${partitionCount}`)
  assert(owners.length === partitionCount, `a ring of ${partitionCount} partitions needs as many owners`)
  const sortedMembers = Object.freeze([...members].sort(compareNames))
  const memberSet = new Set(sortedMembers)
  assert(memberSet.size === sortedMembers.length, 'duplicate ring member')
  for (const owner of owners) assert(memberSet.has(owner), `owner ${owner} is not a ring member`)
  const frozenOwners = Object.freeze([...owners])
  return Object.freeze({partitionCount, members: sortedMembers, owners: frozenOwners, hash: ringHash(partitionCount, sortedMembers, frozenOwners)})
}

/**
 * The members are part of the digest as well as the owners: when S > Q some members own no
 * partition, yet they still appear (as fallbacks) in every preference list.
 */
function ringHash(partitionCount: number, members: readonly string[], owners: readonly string[]): string {
  // JSON keeps the encoding unambiguous whatever characters the names contain.
  const canonical = JSON.stringify([partitionCount, members, owners])
  return createHash('md5').update(canonical, 'utf8').digest('hex').slice(0, ringHashLength)
}

/**
 * Every member, in the order a request for `partition` should try them: the distinct owners met
 * walking clockwise from `partition` (p, p+1, ... wrapping), then the members that own no
 * partition (possible only when S > Q), in name order. Callers take the first N as the home
 * replicas and the rest as fallbacks for sloppy quorum and hinted handoff (§4.6).
 */
export function preferenceList(ring: Ring, partition: number): string[] {
  const {partitionCount, owners, members} = ring
  assert(
    Number.isInteger(partition) && partition >= 0 && partition < partitionCount,
    `partition ${partition} out of range 0..${partitionCount - 1}`,
  )
  const nodes: string[] = []
  const seen = new Set<string>()
  // One lap of the ring at most; stop early once every member has been met.
  for (let step = 0; step < partitionCount && nodes.length < members.length; step++) {
    const owner = owners[(partition + step) % partitionCount] as string
    if (seen.has(owner)) continue
    seen.add(owner)
    nodes.push(owner)
  }
  for (const name of members) if (!seen.has(name)) nodes.push(name)
  return nodes
}

/** The key's partition and its preference list (see `preferenceList`). */
export function preferenceListForKey(ring: Ring, key: string): {partition: number; nodes: string[]} {
  const partition = partitionOfKey(key, ring.partitionCount)
  return {partition, nodes: preferenceList(ring, partition)}
}

/** How many partitions each member owns, in name order; members owning none map to 0. */
export function ownershipCounts(ring: Ring): Map<string, number> {
  const counts = new Map<string, number>()
  for (const name of ring.members) counts.set(name, 0)
  for (const owner of ring.owners) counts.set(owner, (counts.get(owner) ?? 0) + 1)
  return counts
}

/** The partitions whose owner differs between two rings of the same Q, ascending. */
export function movedPartitions(before: Ring, after: Ring): number[] {
  assert(
    before.partitionCount === after.partitionCount,
    `rings of different partition counts (${before.partitionCount}, ${after.partitionCount})`,
  )
  const moved: number[] = []
  for (let partition = 0; partition < before.partitionCount; partition++) {
    if (before.owners[partition] !== after.owners[partition]) moved.push(partition)
  }
  return moved
}
