/**
 * A bounded cache of decoded objects in front of LevelDB. Every write of a key on this node goes
 * through the store (and its per-key lock), which updates the cache as it writes, so a cached
 * object is never stale; reads and the read half of every read-modify-write are then served from
 * memory instead of a LevelDB lookup and a decode.
 *
 * Eviction is CLOCK (second chance), an approximation of least-recently-used: a hit only sets the
 * entry's `referenced` flag, and a hand goes round the entries in insertion order, giving each
 * flagged one a second chance (flag cleared, left in place) and evicting the first unflagged one.
 * Strict LRU moved the entry to the newest end on every hit, a Map delete and insert (and the
 * table's periodic rehash of the holes deletes leave): measured at 4.5% of a node's CPU under a
 * closed loop of gets (bench/README.md, "Where the time goes"), for no better hit rate on the
 * bench's key distributions.
 *
 * The hand is one live Map iterator kept between evictions, which a Map allows: it goes on past
 * entries deleted and added since. Starting a new iterator at every eviction instead walked, each
 * time, over every hole that the evictions since the table's last rehash had left at its front:
 * with the cache full and every write a new key, that was 27% of the store's write path
 * (bench/README.md, "The store's write path").
 */

import type {StoredObject} from './stored-object.js'
import {objectValueBytes} from './stored-object.js'

interface CachedObject {
  object: StoredObject
  bytes: number
  /** Read since eviction last passed it: it gets a second chance. */
  referenced: boolean
}

export class ObjectCache {
  private readonly entries = new Map<string, CachedObject>()
  private bytes = 0
  /** The CLOCK hand: where the last eviction stopped; undefined before the first, or after a full round. */
  private hand: Iterator<[string, CachedObject]> | undefined

  constructor(
    private readonly entriesMax: number,
    private readonly bytesMax: number,
  ) {}

  get(id: string): StoredObject | undefined {
    const entry = this.entries.get(id)
    if (entry === undefined) return undefined
    entry.referenced = true
    return entry.object
  }

  set(id: string, object: StoredObject): void {
    const bytes = objectValueBytes(object) + id.length
    const existing = this.entries.get(id)
    if (bytes > this.bytesMax) {
      if (existing !== undefined) this.delete(id)
      return
    }
    if (existing === undefined) {
      this.entries.set(id, {object, bytes, referenced: false})
    } else {
      // A write keeps the entry where it is, referenced: it was just used.
      this.bytes -= existing.bytes
      existing.object = object
      existing.bytes = bytes
      existing.referenced = true
    }
    this.bytes += bytes
    this.evictBeyondBounds(id)
  }

  delete(id: string): void {
    const entry = this.entries.get(id)
    if (entry === undefined) return
    this.bytes -= entry.bytes
    this.entries.delete(id)
  }

  get size(): number {
    return this.entries.size
  }

  /**
   * Evict until both bounds hold, never the entry just written (`keep`). Each step evicts an
   * entry, clears one flag, passes `keep` or starts a new round, and a flag is set again only by
   * a read, so the loop ends within two rounds of the hand; the bound below makes that an
   * assertion rather than a hope.
   */
  private evictBeyondBounds(keep: string): void {
    let stepsLeft = 2 * this.entries.size + 4
    while ((this.entries.size > this.entriesMax || this.bytes > this.bytesMax) && stepsLeft > 0) {
      stepsLeft -= 1
      let step = this.hand?.next()
      if (step === undefined || step.done === true) {
        this.hand = this.entries.entries()
        step = this.hand.next()
        if (step.done === true) return
      }
      const [id, entry] = step.value
      if (id === keep) {
        if (this.entries.size === 1) return
        continue
      }
      if (entry.referenced) {
        entry.referenced = false
        continue
      }
      this.delete(id)
    }
  }
}
