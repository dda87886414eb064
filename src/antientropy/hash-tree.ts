/**
 * The hash tree one node keeps over the keys of one partition and one replica count n, for
 * anti-entropy (paper §4.7, "Handling permanent failures: replica synchronization").
 *
 * Dynamo's Merkle trees hash each node's children, so changing one key rehashes a path and
 * Riak's first design (hashtree.erl) kept them on disk and rebuilt them from a full scan every
 * week. Here, as in Riak's Tictac AAE, a segment holds the XOR of the hashes of its keys' (key,
 * version) pairs, and each level above it the XOR of the segments below: XOR is its own inverse,
 * so a change is O(1) (take the old hash out, put the new one in, on three levels), two trees
 * built in any order over the same keys are equal, and a tree never needs rebuilding while its
 * node runs. The tree is three levels: one root, `branchCount` branches and, under each,
 * `segmentsPerBranch` segments; an exchange compares roots, then the branches of differing
 * roots, then the segments of differing branches, then the keys of differing segments.
 *
 * A hash is 64 bits, held as two unsigned 32-bit halves so that the arithmetic stays in plain
 * numbers and a tree is two typed arrays. Everything here is pure.
 */

import {hash} from 'node:crypto'
import {assert} from '../errors.js'
import type {StoredObject} from '../storage/stored-object.js'

/** Branches under a root. */
export const branchCount = 32
/** Segments under each branch. */
export const segmentsPerBranch = 32
/**
 * Segments of one tree: 1,024, so that 100,000 keys over 64 partitions put about 1.5 keys in a
 * segment, and one differing key costs the keys of one segment on the wire, not a partition's.
 */
export const segmentCount = branchCount * segmentsPerBranch

/** A 64-bit hash as its high and low 32-bit halves. */
export type Hash64 = readonly [high: number, low: number]

export const zeroHash: Hash64 = [0, 0]

export function sameHash(a: Hash64, b: Hash64): boolean {
  return a[0] === b[0] && a[1] === b[1]
}

export function isZeroHash(hash: Hash64): boolean {
  return hash[0] === 0 && hash[1] === 0
}

export class HashTree {
  private rootHigh = 0
  private rootLow = 0
  private readonly branches = new Uint32Array(branchCount * 2)
  private readonly segments = new Uint32Array(segmentCount * 2)
  /** Keys the tree holds a hash for: an exchange of an empty tree needs no scan. */
  private keys = 0

  get keyCount(): number {
    return this.keys
  }

  get root(): Hash64 {
    return [this.rootHigh, this.rootLow]
  }

  /**
   * Takes `before` out of `segment` and puts `after` in (either may be undefined: a key that
   * appears or disappears). The same call with the two swapped undoes it.
   */
  replace(segment: number, before: Hash64 | undefined, after: Hash64 | undefined): void {
    assert(Number.isInteger(segment) && segment >= 0 && segment < segmentCount, `segment ${segment} out of range`)
    let high = 0
    let low = 0
    if (before !== undefined) {
      high ^= before[0]
      low ^= before[1]
      this.keys -= 1
    }
    if (after !== undefined) {
      high ^= after[0]
      low ^= after[1]
      this.keys += 1
    }
    assert(this.keys >= 0, 'a hash tree took out a key it never held')
    const branch = Math.floor(segment / segmentsPerBranch)
    this.segments[segment * 2] = ((this.segments[segment * 2] as number) ^ high) >>> 0
    this.segments[segment * 2 + 1] = ((this.segments[segment * 2 + 1] as number) ^ low) >>> 0
    this.branches[branch * 2] = ((this.branches[branch * 2] as number) ^ high) >>> 0
    this.branches[branch * 2 + 1] = ((this.branches[branch * 2 + 1] as number) ^ low) >>> 0
    this.rootHigh = (this.rootHigh ^ high) >>> 0
    this.rootLow = (this.rootLow ^ low) >>> 0
  }

  /** Every branch's hash, as high and low halves in branch order (`branchCount` * 2 numbers). */
  branchHashes(): number[] {
    return Array.from(this.branches)
  }

  /** The hashes of every segment under `branch`, as high and low halves in segment order. */
  segmentHashes(branch: number): number[] {
    assert(Number.isInteger(branch) && branch >= 0 && branch < branchCount, `branch ${branch} out of range`)
    return Array.from(this.segments.subarray(branch * segmentsPerBranch * 2, (branch + 1) * segmentsPerBranch * 2))
  }
}

/** The branch a segment lies under. */
export function branchOfSegment(segment: number): number {
  return Math.floor(segment / segmentsPerBranch)
}

/**
 * The indexes at which two flat lists of hash halves (as `branchHashes` and `segmentHashes`
 * give them) differ; a list of the wrong length differs everywhere.
 */
export function differingIndexes(local: readonly number[], remote: readonly number[], count: number): number[] {
  const differing: number[] = []
  for (let index = 0; index < count; index += 1) {
    if (local[index * 2] !== remote[index * 2] || local[index * 2 + 1] !== remote[index * 2 + 1]) differing.push(index)
  }
  return differing
}

/**
 * The segment a key falls in: FNV-1a over its UTF-16 code units, so that every node puts a key
 * in the same segment whatever its versions are. It need not resist an adversary: a segment
 * that holds many keys only costs an exchange more keys to list.
 */
export function segmentOfKey(key: string): number {
  let hash = 0x811c9dc5
  for (let index = 0; index < key.length; index += 1) {
    hash ^= key.charCodeAt(index)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0) % segmentCount
}

/**
 * The hash of one key's object as it enters a tree: the key and the causal content of its
 * versions, read as `sameVersions` compares them (each actor's counter, live dots and cloud).
 * Two replicas that hold the same versions hash equal whatever order they learned them in or
 * when; times are left out, and so are the values, since one dot names one value. The object's
 * n is not hashed: it chooses the tree.
 */
export function objectHash(key: string, object: StoredObject): Hash64 {
  const parts: string[] = [key]
  for (const entry of object.versions.entries) {
    const live = entry.dots ?? entry.values.map((_, index) => entry.counter - index)
    parts.push(`${entry.actor}\u0000${entry.counter}\u0000${live.join(',')}\u0000${(entry.cloud ?? []).join(',')}`)
  }
  // The one-shot crypto.hash: every write hashes its object, and it costs half of createHash's.
  const digest = hash('md5', parts.join('\u0001'), 'buffer')
  return [digest.readUInt32BE(0), digest.readUInt32BE(4)]
}
