/**
 * A bounded cache of decoded objects in front of LevelDB. Every write of a key on this node goes
 * through the store (and its per-key lock), which updates the cache as it writes, so a cached
 * object is never stale; reads and the read half of every read-modify-write are then served from
 * memory instead of a LevelDB lookup and a decode.
 *
 * Eviction is CLOCK (second chance), an approximation of least-recently-used: a hit only sets the
 * entry's `referenced` flag, and eviction walks from the oldest entry, giving each flagged one a
 * second chance (flag cleared, moved to the newest end) and evicting the first unflagged one.
 * Strict LRU moved the entry to the newest end on every hit, a Map delete and insert (and the
 * table's periodic rehash of the holes deletes leave): measured at 4.5% of a node's CPU under a
 * closed loop of gets (bench/README.md, "Where the time goes"), for no better hit rate on the
 * bench's key distributions.
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
   * Evict until both bounds hold, never the entry just written (`keep`). Each step either evicts
   * an entry or clears one flag, and a flag is set again only by a read, so the loop ends within
   * two passes over the entries; the bound below makes that an assertion rather than a hope.
   */
  private evictBeyondBounds(keep: string): void {
    let stepsLeft = 2 * this.entries.size + 2
    while ((this.entries.size > this.entriesMax || this.bytes > this.bytesMax) && stepsLeft > 0) {
      stepsLeft -= 1
      const oldest = this.entries.entries().next()
      if (oldest.done === true) return
      const [id, entry] = oldest.value
      if (id === keep && this.entries.size === 1) return
      if (entry.referenced || id === keep) {
        entry.referenced = false
        this.entries.delete(id)
        this.entries.set(id, entry)
        continue
      }
      this.delete(id)
    }
  }
}
