/**
 * What a replica keeps for one key: every live version with its causal history (a dotted
 * version vector set, paper §4.4) and the largest replication factor N the key was written with
 * (every write and merge keeps the larger: a copy stays wherever some write homed it).
 */

import type {VersionSet} from '../versioning/dvvset.js'

/** One immutable version of a value. A delete is a version too: a tombstone. */
export interface StoredVersion {
  readonly value: Uint8Array
  readonly contentType: string
  /** The coordinator's wall clock when the version was made; only LWW and display use it. */
  readonly timestampMs: number
  readonly tombstone: boolean
}

/** The most replicas one key may ask for: far above any real N, and it bounds every preference-list walk. */
export const replicasPerKeyMax = 64

export interface StoredObject {
  readonly versions: VersionSet<StoredVersion>
  readonly n: number
}

/** The LWW order: newer timestamp wins; equal timestamps fall back to the bytes so every replica picks the same. */
export function isNewerVersion(a: StoredVersion, b: StoredVersion): boolean {
  if (a.timestampMs !== b.timestampMs) return a.timestampMs > b.timestampMs
  if (a.tombstone !== b.tombstone) return a.tombstone
  return Buffer.compare(Buffer.from(a.value), Buffer.from(b.value)) > 0
}

/** Bytes an object occupies, counted the way its size limit is enforced: the sum of its values. */
export function objectValueBytes(object: StoredObject): number {
  let total = 0
  for (const entry of object.versions.entries) for (const version of entry.values) total += version.value.byteLength
  return total
}

/** What a key and its object (if any) weigh in a message between nodes, as its batches are bounded: the values and the key. */
export function entryBytes(entry: {readonly key: string; readonly object?: StoredObject | undefined}): number {
  return (entry.object === undefined ? 0 : objectValueBytes(entry.object)) + entry.key.length
}

/**
 * `entries` cut, in order, into the batches of one message each: at most `entriesMax` entries
 * whose `entryBytes` sum to at most `bytesMax`, an entry larger than that alone. No batch is
 * empty. Hand-offs, releases and anti-entropy repairs all send objects so (a frame holds 16 MiB,
 * an object up to 8 MiB).
 */
export function entryBatches<T extends {readonly key: string; readonly object?: StoredObject | undefined}>(entries: readonly T[], bytesMax: number, entriesMax = Number.POSITIVE_INFINITY): T[][] {
  const batches: T[][] = []
  let batch: T[] = []
  let bytes = 0
  for (const entry of entries) {
    const size = entryBytes(entry)
    if (batch.length > 0 && (bytes + size > bytesMax || batch.length >= entriesMax)) {
      batches.push(batch)
      batch = []
      bytes = 0
    }
    batch.push(entry)
    bytes += size
  }
  if (batch.length > 0) batches.push(batch)
  return batches
}
