/**
 * The transfer plan of a ring change (paper §4.9): which partitions each node must receive, and
 * from whom, before the new ring may take over. Pure.
 *
 * A key's data lives on its n home replicas (the first n distinct owners clockwise), and n is
 * the key's own (a write may ask for another n than the cluster's, up to replicasPerKeyMax), so
 * a change of one owner changes the home sets of the partitions just before it too, and
 * differently for each n. A member at index i of a partition's new preference list is a home
 * of the keys with n > i; if it was at index j of the old list it already was a home of those
 * with n > j. So it must receive the objects with n in (i, j] (every n above i when it is new
 * to the partition), and it has something to receive only if some n in use lies there. It
 * fetches them from every old home under the largest such n that is still there (not removed),
 * because with W < n no single old home is sure to hold every acknowledged write. A partition
 * whose old homes are all gone has no source, and needs nothing fetched.
 *
 * For the cluster's default N alone this is every new home that was not an old home, fetching
 * from the old homes, as it was before per-key n was planned for.
 */

import type {Ring} from '../ring/ring.js'
import {preferenceList} from '../ring/ring.js'
import {replicasPerKeyMax} from '../storage/stored-object.js'

/** The replication factors whose objects a transfer moves: n with above < n <= through. */
export interface ReplicaCountRange {
  readonly above: number
  readonly through: number
}

export interface PlannedTransfer {
  readonly partition: number
  /** The new home that receives the partition. */
  readonly target: string
  /** The old homes it fetches from, in preference-list order. */
  readonly sources: readonly string[]
  /** The n it becomes a home of: why it is planned (it fetches every n it is a home of, see transfer.ts). */
  readonly replicaCounts: ReplicaCountRange
  /** The largest n in use within `replicaCounts`: the sources are the old homes under it. */
  readonly sourcesForN: number
}

/** The home replicas of one partition: the first n of its preference list. */
export function homesOf(ring: Ring, partition: number, n: number): string[] {
  return preferenceList(ring, partition).slice(0, n)
}

/** Whether an object written with `n` is one a transfer over `range` moves. */
export function inReplicaCountRange(range: ReplicaCountRange, n: number): boolean {
  return n > range.above && n <= range.through
}

/**
 * Every transfer from `before` to `after` for the replication factors in use (`replicaCounts`:
 * the cluster's default N and every per-request n some member stores; one number is the
 * default N alone), by partition then target. `gone` names members that are removed: they are
 * no source.
 */
export function planTransfers(before: Ring, after: Ring, replicaCounts: number | readonly number[], gone: ReadonlySet<string>): PlannedTransfer[] {
  const inUse = [...new Set(typeof replicaCounts === 'number' ? [replicaCounts] : replicaCounts)].sort((a, b) => a - b)
  const largest = inUse.at(-1)
  if (largest === undefined) return []
  const transfers: PlannedTransfer[] = []
  for (let partition = 0; partition < after.partitionCount; partition++) {
    const oldList = preferenceList(before, partition)
    const oldIndexOf = new Map(oldList.map((node, index) => [node, index]))
    const newList = preferenceList(after, partition).slice(0, largest)
    newList.forEach((target, newIndex) => {
      const oldIndex = oldIndexOf.get(target)
      const range: ReplicaCountRange = {above: newIndex, through: oldIndex === undefined ? replicasPerKeyMax : oldIndex}
      // An n larger than a ring counts as all of its members (a smaller cluster than the write's).
      const sourcesForN = inUse.filter((n) => inReplicaCountRange(range, n)).at(-1)
      if (sourcesForN === undefined) return
      const sources = oldList.slice(0, sourcesForN).filter((node) => !gone.has(node))
      transfers.push({partition, target, sources, replicaCounts: range, sourcesForN})
    })
  }
  return transfers
}

/** The ownership moves of a change: partition, owner before and after (what `dyn cluster plan` lists). */
export function ownershipMoves(before: Ring, after: Ring): Array<{partition: number; from: string; to: string}> {
  const moves: Array<{partition: number; from: string; to: string}> = []
  for (let partition = 0; partition < after.partitionCount; partition++) {
    const from = before.owners[partition] as string
    const to = after.owners[partition] as string
    if (from !== to) moves.push({partition, from, to})
  }
  return moves
}
