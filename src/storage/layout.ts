/**
 * The on-disk key layout of a node's LevelDB (ARCHITECTURE "On disk").
 *
 * Every LevelDB key starts with a one-byte namespace so that unrelated records never interleave:
 *   0x00 <name utf8>                      node metadata (identity, member table)
 *   0x01 <partition u16 BE> <key utf8>    the stored object of one key
 *   0x02 <target length u8> <target utf8> <partition u16 BE> <key utf8>
 *                                         a hint: a write this node took for `target`, a home
 *                                         replica that was unreachable (src/handoff/hints.ts)
 * Objects are prefixed by their partition so that handoff and anti-entropy can scan one
 * partition on its own with a bounded range iterator, in key order. Hints live in their own
 * namespace, never mixed with the node's own objects, and are prefixed by their target so that
 * the hints for one node are one range.
 */

import {assert} from '../errors.js'

const namespaceMeta = 0x00
const namespaceObject = 0x01
const namespaceHint = 0x02

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

/** The bytes that start every hint for `target`. */
function hintPrefix(target: string): Buffer {
  const name = Buffer.from(target, 'utf8')
  assert(name.length >= 1 && name.length <= 255, `hint target ${target} must be 1..255 bytes`)
  return Buffer.concat([Buffer.of(namespaceHint, name.length), name])
}

export function hintKey(target: string, partition: number, key: string): Buffer {
  assert(Number.isInteger(partition) && partition >= 0 && partition <= partitionIndexMax, `partition ${partition} out of range`)
  const partitionBytes = Buffer.allocUnsafe(2)
  partitionBytes.writeUInt16BE(partition, 0)
  return Buffer.concat([hintPrefix(target), partitionBytes, Buffer.from(key, 'utf8')])
}

/** The half-open range holding every hint for `target`, or (without one) every hint. */
export function hintRange(target?: string): {gte: Buffer; lt: Buffer} {
  if (target === undefined) return {gte: Buffer.of(namespaceHint), lt: Buffer.of(namespaceHint + 1)}
  const gte = hintPrefix(target)
  // The prefix ends in the target's last byte; the next prefix of that length bounds the range.
  // The length byte before the name keeps one target's range from holding another's.
  const lt = Buffer.from(gte)
  let index = lt.length - 1
  while (index > 0 && lt[index] === 0xff) index -= 1
  assert(index > 1, `hint target ${target} has no successor`)
  lt[index] = (lt[index] as number) + 1
  return {gte, lt: lt.subarray(0, index + 1)}
}

/** The half-open range holding the hints for `target` of one partition. */
export function hintPartitionRange(target: string, partition: number): {gte: Buffer; lt: Buffer} {
  const gte = hintKey(target, partition, '')
  return {gte, lt: partition < partitionIndexMax ? hintKey(target, partition + 1, '') : hintRange(target).lt}
}

export function decodeHintKey(raw: Buffer): {target: string; partition: number; key: string} {
  assert(raw.length >= 4 && raw[0] === namespaceHint, 'not a hint key')
  const length = raw[1] as number
  assert(raw.length >= 2 + length + 2, 'hint key too short')
  const target = raw.subarray(2, 2 + length).toString('utf8')
  return {target, partition: raw.readUInt16BE(2 + length), key: raw.subarray(4 + length).toString('utf8')}
}

export function isHintKey(raw: Buffer): boolean {
  return raw.length >= 4 && raw[0] === namespaceHint
}

/** Whether a key or range bound lies in the hint namespace. */
export function inHintNamespace(raw: Buffer): boolean {
  return raw.length >= 1 && raw[0] === namespaceHint
}
