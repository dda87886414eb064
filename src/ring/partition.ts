/**
 * Key -> partition: the fixed division of the MD5 hash space into Q equal partitions.
 *
 * Follows Dynamo §4.2 (MD5 of the key places it on the ring) with the partitioning of §6.2
 * strategy 3: the ring is cut into Q equal ranges once, when the cluster is created, and only
 * the ownership of whole partitions ever changes. Because Q is a power of two, "which range"
 * is simply the top log2(Q) bits of the hash, so every node (and every client) computes the
 * same partition with no table. Pure: MD5 is deterministic.
 */

import {hash} from 'node:crypto'
import {assert} from '../errors.js'

/** Q for a new cluster: enough partitions to spread over a few dozen nodes, few enough to hand off cheaply. */
export const partitionCountDefault = 64

/**
 * The largest Q we accept. The claim and the per-partition work of handoff and anti-entropy
 * grow with Q, and 4096 already gives ~40 partitions per node at 100 nodes.
 */
export const partitionCountMax = 4096

/** Bits of the MD5 prefix we read: the first 4 bytes as one big-endian unsigned integer. */
const hashPrefixBits = 32

/** True for an integer power of two in 1..partitionCountMax. */
export function isValidPartitionCount(q: number): boolean {
  return Number.isInteger(q) && q >= 1 && q <= partitionCountMax && (q & (q - 1)) === 0
}

/** log2 of a valid partition count (asserted). */
export function partitionBits(partitionCount: number): number {
  assert(isValidPartitionCount(partitionCount), `invalid partition count ${partitionCount}`)
  return Math.log2(partitionCount)
}

/**
 * The partition that holds `key`: MD5 of its UTF-8 bytes, the first 4 bytes read as a
 * big-endian uint32, and the top log2(Q) bits of that. Partition p therefore covers the hash
 * range [p * 2^32/Q, (p+1) * 2^32/Q), so partitions are numbered clockwise around the ring.
 */
export function partitionOfKey(key: string, partitionCount: number): number {
  const bits = partitionBits(partitionCount)
  // A shift by 32 is a no-op in JavaScript, so the single-partition ring is its own case.
  if (bits === 0) return 0
  // crypto.hash is the one-shot form (no Hash object), on every request. Its hex answer, a string
  // made in C++, costs half of its Buffer answer (0.6 against 1.3 µs a key here); the first 8 hex
  // digits are the same big-endian 32 bits.
  const prefix = Number.parseInt(hash('md5', key, 'hex').slice(0, hashPrefixBits / 4), 16)
  return prefix >>> (hashPrefixBits - bits)
}
