/**
 * A bounded, least-recently-used cache of decoded objects in front of LevelDB. Every write of a
 * key on this node goes through the store (and its per-key lock), which updates the cache as it
 * writes, so a cached object is never stale; reads and the read half of every read-modify-write
 * are then served from memory instead of a LevelDB lookup and a decode.
 */

import type {StoredObject} from './stored-object.js'
import {objectValueBytes} from './stored-object.js'

interface CachedObject {
  readonly object: StoredObject
  readonly bytes: number
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
    // Map keeps insertion order: re-inserting marks the entry most recently used.
    this.entries.delete(id)
    this.entries.set(id, entry)
    return entry.object
  }

  set(id: string, object: StoredObject): void {
    this.delete(id)
    const bytes = objectValueBytes(object) + id.length
    if (bytes > this.bytesMax) return
    this.entries.set(id, {object, bytes})
    this.bytes += bytes
    // Evict least recently used entries until both bounds hold; each pass removes one entry.
    while (this.entries.size > this.entriesMax || this.bytes > this.bytesMax) {
      const oldest = this.entries.keys().next()
      if (oldest.done === true) break
      this.delete(oldest.value)
    }
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
}
