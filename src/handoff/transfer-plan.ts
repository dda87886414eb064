/**
 * The transfer plan of a ring change (paper §4.9): which partitions each node must receive, and
 * from whom, before the new ring may take over. Pure.
 *
 * A partition's data lives on its N home replicas (the first N distinct owners clockwise), so
 * a change of one owner changes the home sets of the partitions just before it too. What must
 * move is, per partition, every new home that was not an old home; it fetches the partition
 * from every old home that is still there (not removed), because with W < N no single old home
 * is sure to hold every acknowledged write. A partition whose old homes are all gone has no
 * source, and needs nothing fetched.
 */

import type {Ring} from '../ring/ring.js'
import {preferenceList} from '../ring/ring.js'

export interface PlannedTransfer {
  readonly partition: number
  /** The new home that receives the partition. */
  readonly target: string
  /** The old homes it fetches from, in preference-list order. */
  readonly sources: readonly string[]
}

/** The home replicas of one partition: the first n of its preference list. */
export function homesOf(ring: Ring, partition: number, n: number): string[] {
  return preferenceList(ring, partition).slice(0, n)
}

/**
 * Every transfer from `before` to `after` for replication factor `n`, by partition then target.
 * `gone` names members that are removed: they are no source.
 */
export function planTransfers(before: Ring, after: Ring, n: number, gone: ReadonlySet<string>): PlannedTransfer[] {
  const transfers: PlannedTransfer[] = []
  for (let partition = 0; partition < after.partitionCount; partition++) {
    const oldHomes = homesOf(before, partition, Math.min(n, before.members.length))
    const newHomes = homesOf(after, partition, Math.min(n, after.members.length))
    for (const target of newHomes) {
      if (oldHomes.includes(target)) continue
      transfers.push({partition, target, sources: oldHomes.filter((node) => !gone.has(node))})
    }
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
