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
 *
 * Every landing of a write hashes its object twice (what it replaces and what it becomes,
 * tree-set.ts), so this is on every put's path on every replica. It was an MD5 of a string built
 * for it (about 3% of a replica's CPU under puts, bench/README.md); it is now two 32-bit lanes of
 * MurmurHash3's mixing over the same content read as 32-bit words, with no string and no
 * allocation but the answer. Like the segment hash it need not resist an adversary: two replicas
 * that differ and hash equal only leave that key to read repair, and the versions that go into
 * it are made by the nodes, not chosen by clients. The word stream is prefix-free (every string
 * and list is preceded by its length), so two different contents never feed the same words.
 */
export function objectHash(key: string, object: StoredObject): Hash64 {
  laneHigh = objectHashSeedHigh
  laneLow = objectHashSeedLow
  wordsMixed = 0
  mixString(key)
  const entries = object.versions.entries
  mixWord(entries.length)
  for (const entry of entries) {
    mixString(entry.actor)
    mixCounter(entry.counter)
    const dots = entry.dots
    const liveCount = dots === undefined ? entry.values.length : dots.length
    mixWord(liveCount)
    for (let index = 0; index < liveCount; index += 1) mixCounter(dots === undefined ? entry.counter - index : (dots[index] as number))
    const cloud = entry.cloud
    mixWord(cloud === undefined ? 0 : cloud.length)
    if (cloud !== undefined) for (const dot of cloud) mixCounter(dot)
  }
  return finishObjectHash()
}

// The two lanes' state while one object is hashed: module-level, since hashing is synchronous
// and never re-entered, so that a hash allocates nothing but its answer.
let laneHigh = 0
let laneLow = 0
let wordsMixed = 0
// MurmurHash3's 32-bit constants for the first lane and its x86_128 variant's for the second.
const objectHashSeedHigh = 0x9747b28c
const objectHashSeedLow = 0x2f2a31d5

function rotateLeft(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits))
}

function mixWord(word: number): void {
  let k = Math.imul(word, 0xcc9e2d51)
  k = Math.imul(rotateLeft(k, 15), 0x1b873593)
  laneHigh = (Math.imul(rotateLeft(laneHigh ^ k, 13), 5) + 0xe6546b64) | 0
  let j = Math.imul(word, 0x38b34ae5)
  j = Math.imul(rotateLeft(j, 17), 0xa1e38b93)
  laneLow = (Math.imul(rotateLeft(laneLow ^ j, 15), 5) + 0x0bcaa747) | 0
  wordsMixed += 1
}

/** A counter or dot: a whole number below 2^53, as its low and high 32 bits. */
function mixCounter(value: number): void {
  mixWord(value >>> 0)
  mixWord(Math.floor(value / 0x1_0000_0000))
}

/** A string: its length, then its UTF-16 code units two to a word. */
function mixString(text: string): void {
  const length = text.length
  mixWord(length)
  let index = 0
  for (; index + 1 < length; index += 2) mixWord(text.charCodeAt(index) | (text.charCodeAt(index + 1) << 16))
  if (index < length) mixWord(text.charCodeAt(index))
}

function finalMix(value: number): number {
  let h = value ^ (value >>> 16)
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}

function finishObjectHash(): Hash64 {
  let high = laneHigh ^ wordsMixed
  let low = laneLow ^ wordsMixed
  high = (high + low) | 0
  low = (low + high) | 0
  high = finalMix(high)
  low = finalMix(low)
  high = (high + low) | 0
  low = (low + high) | 0
  return [high >>> 0, low >>> 0]
}
