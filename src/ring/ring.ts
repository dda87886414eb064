/**
 * The ring: Q equal partitions, the owner of each, and the preference list of every key.
 *
 * Follows Dynamo §4.2 (consistent hashing with MD5), §4.3 (the preference list: walk the ring
 * clockwise from the key's position and collect distinct nodes; the first N are the key's home
 * replicas, the rest its fallbacks) and §6.2 strategy 3 (Q fixed equal partitions, ownership
 * assigned per partition by `claimOwners`). Pure: a ring is a value computed from Q and the
 * member set, so nodes that agree on membership agree on the ring, and `hash` lets them check.
 *
 * A member may share a machine with other members (one process per core, `dyn start
 * --processes`). §4.3 builds the preference list "by skipping positions in the ring to ensure
 * that the list contains only distinct physical nodes": so the walk takes one member per machine
 * first, and the members on machines already in the list only after every machine has one. With
 * N machines or more a key's N homes are on N machines, and losing one machine loses one copy.
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
  /**
   * machines[i] is the machine members[i] runs on: its own name unless it shares one with other
   * members. A member's machine never changes (src/node/identity.ts keeps it).
   */
  readonly machines: readonly string[]
  /** How many distinct machines the members run on (members.length when none shares one). */
  readonly machineCount: number
  /** A short hex digest of (partitionCount, members, owners, shared machines): equal rings have equal hashes. */
  readonly hash: string
}

/**
 * The machine of each member, by name: absent or equal to the name means a machine of its own.
 * What a ring state carries (claimant-core.ts) and a member row advertises.
 */
export type MachineOf = (name: string) => string | undefined

/** Hex characters of MD5 kept in `Ring.hash`: 64 bits, so two different rings share a hash with odds near 2^-64. */
const ringHashLength = 16

/**
 * The ring for Q partitions over `members`. Their order does not matter; they must be unique
 * and non-empty. Programmer errors (bad Q, duplicates) are asserted: membership is validated
 * where it is learnt, before a ring is built from it.
 */
export function buildRing(partitionCount: number, members: readonly string[], machineOf?: MachineOf): Ring {
  assert(isValidPartitionCount(partitionCount), `invalid partition count ${partitionCount}`)
  assert(members.length > 0, 'a ring needs at least one member')
  for (const name of members) assert(typeof name === 'string' && name.length > 0, 'member names are non-empty strings')
  const sortedMembers = Object.freeze([...members].sort(compareNames))
  return ringOf(partitionCount, sortedMembers, Object.freeze(claimOwners(partitionCount, sortedMembers)), machineOf)
}

/**
 * A ring with given owners: what the claimant decided (claimOwnersFrom) and gossip carries. Every
 * owner must be a member; members may own nothing (S > Q).
 */
export function ringFromOwners(partitionCount: number, members: readonly string[], owners: readonly string[], machineOf?: MachineOf): Ring {
  assert(isValidPartitionCount(partitionCount), `invalid partition count ${partitionCount}`)
  assert(owners.length === partitionCount, `a ring of ${partitionCount} partitions needs as many owners`)
  const sortedMembers = Object.freeze([...members].sort(compareNames))
  const memberSet = new Set(sortedMembers)
  assert(memberSet.size === sortedMembers.length, 'duplicate ring member')
  for (const owner of owners) assert(memberSet.has(owner), `owner ${owner} is not a ring member`)
  return ringOf(partitionCount, sortedMembers, Object.freeze([...owners]), machineOf)
}

function ringOf(partitionCount: number, members: readonly string[], owners: readonly string[], machineOf: MachineOf | undefined): Ring {
  const machines = Object.freeze(members.map((name) => machineOf?.(name) ?? name))
  for (const machine of machines) assert(machine.length > 0, 'machine names are non-empty strings')
  const machineCount = new Set(machines).size
  return Object.freeze({partitionCount, members, owners, machines, machineCount, hash: ringHash(partitionCount, members, owners, machines, machineCount)})
}

/**
 * The members are part of the digest as well as the owners: when S > Q some members own no
 * partition, yet they still appear (as fallbacks) in every preference list. The machines are,
 * when some are shared, since they reorder the preference lists; a ring without shared machines
 * keeps the digest it had before machines existed.
 */
function ringHash(partitionCount: number, members: readonly string[], owners: readonly string[], machines: readonly string[], machineCount: number): string {
  // JSON keeps the encoding unambiguous whatever characters the names contain.
  const canonical = JSON.stringify(machineCount === members.length ? [partitionCount, members, owners] : [partitionCount, members, owners, machines])
  return createHash('md5').update(canonical, 'utf8').digest('hex').slice(0, ringHashLength)
}

/** Each ring's member -> machine map, built when a preference list first needs it. */
const machineMaps = new WeakMap<Ring, Map<string, string>>()

function machineMapOf(ring: Ring): Map<string, string> {
  let map = machineMaps.get(ring)
  if (map === undefined) {
    map = new Map(ring.members.map((name, index) => [name, ring.machines[index] as string]))
    machineMaps.set(ring, map)
  }
  return map
}

/** The machine `name` runs on in this ring (its own name for a member alone on its machine, or one the ring does not have). */
export function machineOfMember(ring: Ring, name: string): string {
  return machineMapOf(ring).get(name) ?? name
}

/**
 * Every member, in the order a request for `partition` should try them: the distinct owners met
 * walking clockwise from `partition` (p, p+1, ... wrapping), then the members that own no
 * partition (possible only when S > Q), in name order. Callers take the first N as the home
 * replicas and the rest as fallbacks for sloppy quorum and hinted handoff (§4.6).
 *
 * When members share machines, that order is kept but split in two: first each member that is
 * the first met of its machine, then the others. So the homes and the first fallbacks are on as
 * many machines as there are.
 */
export function preferenceList(ring: Ring, partition: number): readonly string[] {
  const {partitionCount} = ring
  assert(
    Number.isInteger(partition) && partition >= 0 && partition < partitionCount,
    `partition ${partition} out of range 0..${partitionCount - 1}`,
  )
  // A ring never changes (it is frozen; a new one is built for every change), so each partition's
  // list is worked out once per ring: every request asked for it, walking the ring anew.
  let lists = preferenceLists.get(ring)
  if (lists === undefined) {
    lists = new Array<readonly string[] | undefined>(partitionCount)
    preferenceLists.set(ring, lists)
  }
  let list = lists[partition]
  if (list === undefined) {
    list = Object.freeze(walkPreferenceList(ring, partition))
    lists[partition] = list
  }
  return list
}

/** Each ring's preference lists, by partition, as they are first asked for. */
const preferenceLists = new WeakMap<Ring, Array<readonly string[] | undefined>>()

function walkPreferenceList(ring: Ring, partition: number): string[] {
  const {partitionCount, owners, members} = ring
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
  return ring.machineCount === members.length ? nodes : distinctMachinesFirst(ring, nodes)
}

function distinctMachinesFirst(ring: Ring, nodes: readonly string[]): string[] {
  const machineOf = machineMapOf(ring)
  const machinesSeen = new Set<string>()
  const first: string[] = []
  const later: string[] = []
  for (const node of nodes) {
    const machine = machineOf.get(node) ?? node
    if (machinesSeen.has(machine)) {
      later.push(node)
    } else {
      machinesSeen.add(machine)
      first.push(node)
    }
  }
  return first.concat(later)
}

/** The key's partition and its preference list (see `preferenceList`). */
export function preferenceListForKey(ring: Ring, key: string): {partition: number; nodes: readonly string[]} {
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
