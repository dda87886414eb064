/**
 * The on-disk key layout of a node's LevelDB (ARCHITECTURE "On disk").
 *
 * Every LevelDB key starts with a one-byte namespace so that unrelated records never interleave:
 *   0x00 <name utf8>                      node metadata (identity, member table)
 *   0x01 <partition u16 BE> <key utf8>    the stored object of one key
 * Objects are prefixed by their partition so that handoff and anti-entropy can scan one
 * partition on its own with a bounded range iterator, in key order.
 */

import {assert} from '../errors.js'

const namespaceMeta = 0x00
const namespaceObject = 0x01

/** Partitions are stored as u16, so Q can never exceed this. */
export const partitionIndexMax = 0xffff

export function metaKey(name: string): Buffer {
  return Buffer.concat([Buffer.of(namespaceMeta), Buffer.from(name, 'utf8')])
}

export function objectKey(partition: number, key: string): Buffer {
  assert(Number.isInteger(partition) && partition >= 0 && partition <= partitionIndexMax, `partition ${partition} out of range`)
  const keyBytes = Buffer.from(key, 'utf8')
  const out = Buffer.allocUnsafe(3 + keyBytes.length)
  out[0] = namespaceObject
  out.writeUInt16BE(partition, 1)
  keyBytes.copy(out, 3)
  return out
}

/** The half-open range [gte, lt) holding every object of one partition. */
export function partitionRange(partition: number): {gte: Buffer; lt: Buffer} {
  assert(Number.isInteger(partition) && partition >= 0 && partition <= partitionIndexMax, `partition ${partition} out of range`)
  const gte = Buffer.of(namespaceObject, partition >> 8, partition & 0xff)
  const next = partition + 1
  const lt = next > partitionIndexMax ? Buffer.of(namespaceObject + 1) : Buffer.of(namespaceObject, next >> 8, next & 0xff)
  return {gte, lt}
}

/** The half-open range [gte, lt) holding every object of every partition (metadata excluded). */
export function objectNamespaceRange(): {gte: Buffer; lt: Buffer} {
  return {gte: Buffer.of(namespaceObject), lt: Buffer.of(namespaceObject + 1)}
}

export function decodeObjectKey(raw: Buffer): {partition: number; key: string} {
  assert(raw.length >= 3 && raw[0] === namespaceObject, 'not an object key')
  return {partition: raw.readUInt16BE(1), key: raw.subarray(3).toString('utf8')}
}
