/**
 * The reap fence: tombstones a reap has just deleted, which a member drops when a repair that
 * read one before the reap brings it back (issue 14's reaping; reaper.ts says when a reap runs).
 *
 * A reap deletes a tombstone on every member, the reaper's own copy last. An anti-entropy
 * exchange, a read's repair or a push that read the tombstone from a member before the reap
 * reached it can land on a member after the reap did, and store it there again: the members then
 * differ, anti-entropy spreads the tombstone back, and when such a repair meets every pass the
 * tombstone is never reaped (simulator seed 19864461796). Each member the reap reaches, whether
 * it held the tombstone or nothing, fences that tombstone (by its versions hash) for a while, and
 * the store drops exactly that object merged into the key while the key is absent there: it
 * reads as the absent key does, and the reap found nothing older anywhere. Any other object of
 * the key (a new write, or an older copy a reap must still meet) is stored as before.
 *
 * An entry lasts until the time its caller gives: past the reaper's delete of its own copy, which
 * follows every other member's reap (each bounded by the request timeout), with a wide margin for
 * a repair's read and its merge, and no longer: a tombstone that a member kept without a fence
 * (one restarted since the reap, or reached by a reap cut short) is spread back by anti-entropy
 * once the fence has lapsed, and the next pass reaps it, instead of bouncing off the first home
 * for good. Pure: the caller gives the time.
 */

import type {Hash64} from './hash-tree.js'
import {sameHash} from './hash-tree.js'

/**
 * Entries kept at most, beyond which the oldest goes first (one forgotten early costs a later reap,
 * never data): several reapers' passes of 1,024 keys a second, each entry a key and a hash.
 */
export const reapFenceEntriesMax = 65_536

interface FenceEntry {
  readonly hash: Hash64
  readonly untilMs: number
}

export class ReapFence {
  /** By `partition/key`, in the order recorded (the oldest first). */
  private readonly entries = new Map<string, FenceEntry>()

  get size(): number {
    return this.entries.size
  }

  /** Fences the tombstone of `hash` for the key until `untilMs`. */
  record(partition: number, key: string, hash: Hash64, untilMs: number): void {
    const id = fenceId(partition, key)
    // Deleted first, so that the entry moves to the end: the map's order is the age of its entries.
    this.entries.delete(id)
    this.entries.set(id, {hash, untilMs})
    if (this.entries.size > reapFenceEntriesMax) this.entries.delete(this.entries.keys().next().value as string)
  }

  /** Whether the key has an entry in force (the caller then hashes the object and asks `drops`). */
  guards(partition: number, key: string, nowMs: number): boolean {
    const id = fenceId(partition, key)
    const entry = this.entries.get(id)
    if (entry === undefined) return false
    if (entry.untilMs > nowMs) return true
    this.entries.delete(id)
    return false
  }

  /** Whether an object of `hash`, merged into the absent key now, is the fenced tombstone. */
  drops(partition: number, key: string, hash: Hash64, nowMs: number): boolean {
    const entry = this.entries.get(fenceId(partition, key))
    return entry !== undefined && entry.untilMs > nowMs && sameHash(entry.hash, hash)
  }
}

function fenceId(partition: number, key: string): string {
  return `${partition}/${key}`
}
