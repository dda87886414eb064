/**
 * The bytes of one stored object (a key's version set and its n): how LevelDB keeps it, and how a
 * put's object travels to the other replicas (`ReplicaPut`), so that a put encodes its object once
 * in the whole cluster and a replica whose merge keeps what it was sent stores those very bytes.
 *
 * The layout is fixed by the object's shape (paper §4.4's versions, as dvvset.ts holds them), so
 * it writes no field names and reads nothing it has to look up: msgpackr packing the same plain
 * objects was about a tenth of a put's CPU on the coordinator (bench/README.md, "The put path
 * encodes once"). Records written before it (msgpack maps, which never start with 0xc1, a byte
 * the msgpack format leaves unused) are still read, by the caller's msgpack decoder.
 *
 *   0xc1, format 1, varint n, varint entry count, then per entry (in the set's actor order):
 *     string actor, f64 counter, f64 updatedAtMs, varint value count, per value
 *     (bytes value, string contentType, f64 timestampMs, u8 tombstone), u8 flags
 *     (1: dots follow, 2: cloud follows), then each present list as varint count and f64s.
 *   A string is a varint byte length and its UTF-8; bytes are a varint length and the bytes.
 *   Numbers are little-endian IEEE doubles: counters and times are whole numbers below 2^53.
 *
 * Decoding checks every length against what is left and throws `ObjectCodecError` on anything it
 * cannot read; whether the result is a valid version set is the caller's check (isValidVersionSet).
 * It takes a varint written longer than it needs to be: such bytes decode to one object every
 * time, so a replica that keeps them as it was sent them still reads back what it merged.
 * The layout is the one on disk, so changing it needs a new format byte and a reader of the old
 * one (test/unit/object-codec.test.ts pins its bytes).
 * Pure: no clock, no I/O.
 */

import {assert} from '../errors.js'
import type {Entry} from '../versioning/dvvset.js'
import type {StoredObject, StoredVersion} from './stored-object.js'

/** First byte of an object in this layout; msgpack never writes it (the format's one unused byte). */
export const objectCodecMagic = 0xc1
const formatVersion = 1
const flagDots = 1
const flagCloud = 2
/** Bound on any count read (entries, values, dots): a larger one is corrupt, not big. */
const countMax = 1 << 20

export class ObjectCodecError extends Error {
  override readonly name = 'ObjectCodecError'
}

/** Whether `bytes` is an object in this layout (rather than an older msgpack record). */
export function isCodecObject(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === objectCodecMagic
}

function varintBytes(value: number): number {
  let bytes = 1
  while (value >= 0x80) {
    value = Math.floor(value / 0x80)
    bytes += 1
  }
  return bytes
}

/** UTF-8 length of a string; ASCII (every actor, almost every content type) without a native call. */
function utf8Length(text: string): number {
  for (let index = 0; index < text.length; index += 1) {
    if (text.charCodeAt(index) >= 0x80) return Buffer.byteLength(text, 'utf8')
  }
  return text.length
}

function encodedLength(object: StoredObject): number {
  const entries = object.versions.entries
  let total = 2 + varintBytes(object.n) + varintBytes(entries.length)
  for (const entry of entries) {
    const actorBytes = utf8Length(entry.actor)
    total += varintBytes(actorBytes) + actorBytes + 16 + varintBytes(entry.values.length) + 1
    for (const version of entry.values) {
      const typeBytes = utf8Length(version.contentType)
      total += varintBytes(version.value.byteLength) + version.value.byteLength + varintBytes(typeBytes) + typeBytes + 9
    }
    if (entry.dots !== undefined) total += varintBytes(entry.dots.length) + 8 * entry.dots.length
    if (entry.cloud !== undefined) total += varintBytes(entry.cloud.length) + 8 * entry.cloud.length
  }
  return total
}

/** The object's bytes in this layout. */
export function encodeStoredObject(object: StoredObject): Buffer {
  const out = Buffer.allocUnsafe(encodedLength(object))
  let at = 0
  const writeVarint = (value: number): void => {
    while (value >= 0x80) {
      out[at++] = (value % 0x80) | 0x80
      value = Math.floor(value / 0x80)
    }
    out[at++] = value
  }
  const writeFloat = (value: number): void => {
    at = out.writeDoubleLE(value, at)
  }
  const writeString = (text: string): void => {
    const length = utf8Length(text)
    writeVarint(length)
    if (length === text.length) {
      for (let index = 0; index < length; index += 1) out[at + index] = text.charCodeAt(index)
    } else {
      out.write(text, at, length, 'utf8')
    }
    at += length
  }
  const writeList = (list: readonly number[]): void => {
    writeVarint(list.length)
    for (const dot of list) writeFloat(dot)
  }
  out[at++] = objectCodecMagic
  out[at++] = formatVersion
  writeVarint(object.n)
  const entries = object.versions.entries
  writeVarint(entries.length)
  for (const entry of entries) {
    writeString(entry.actor)
    writeFloat(entry.counter)
    writeFloat(entry.updatedAtMs)
    writeVarint(entry.values.length)
    for (const version of entry.values) {
      writeVarint(version.value.byteLength)
      out.set(version.value, at)
      at += version.value.byteLength
      writeString(version.contentType)
      writeFloat(version.timestampMs)
      out[at++] = version.tombstone ? 1 : 0
    }
    out[at++] = (entry.dots === undefined ? 0 : flagDots) | (entry.cloud === undefined ? 0 : flagCloud)
    if (entry.dots !== undefined) writeList(entry.dots)
    if (entry.cloud !== undefined) writeList(entry.cloud)
  }
  assert(at === out.length, `encoded ${at} bytes where ${out.length} were counted`)
  return out
}

/**
 * The object in `bytes` (this layout). Values are views into `bytes`, not copies: the caller
 * gives a buffer of its own (LevelDB's answer, a frame body already copied out of the socket's).
 */
export function decodeStoredObject(bytes: Uint8Array): StoredObject {
  const view = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = 0
  const need = (count: number): void => {
    if (at + count > view.length) throw new ObjectCodecError(`the object ends at byte ${view.length}, ${count} more were expected at ${at}`)
  }
  const readVarint = (): number => {
    let value = 0
    let scale = 1
    for (let index = 0; index < 8; index += 1) {
      need(1)
      const byte = view[at++] as number
      value += (byte & 0x7f) * scale
      if (byte < 0x80) return value
      scale *= 0x80
    }
    throw new ObjectCodecError(`a length at byte ${at} runs past 8 bytes`)
  }
  const readCount = (what: string): number => {
    const count = readVarint()
    if (count > countMax) throw new ObjectCodecError(`${count} ${what} is more than an object holds`)
    return count
  }
  const readFloat = (): number => {
    need(8)
    const value = view.readDoubleLE(at)
    at += 8
    return value
  }
  const readBytes = (): Buffer => {
    const length = readVarint()
    need(length)
    const slice = view.subarray(at, at + length)
    at += length
    return slice
  }
  const readString = (): string => {
    const length = readVarint()
    need(length)
    // Buffer's own UTF-8 slice: faster than building a short ASCII string in JavaScript (measured).
    const text = view.toString('utf8', at, at + length)
    at += length
    return text
  }
  const readList = (what: string): number[] => {
    const count = readCount(what)
    const list: number[] = []
    for (let index = 0; index < count; index += 1) list.push(readFloat())
    return list
  }
  need(2)
  if (view[0] !== objectCodecMagic) throw new ObjectCodecError(`an object starts with byte ${objectCodecMagic}, not ${view[0]}`)
  if (view[1] !== formatVersion) throw new ObjectCodecError(`object format ${view[1]} is not one this node reads (${formatVersion})`)
  at = 2
  const n = readVarint()
  const entryCount = readCount('entries')
  const entries: Array<Entry<StoredVersion>> = []
  for (let entryIndex = 0; entryIndex < entryCount; entryIndex += 1) {
    const actor = readString()
    const counter = readFloat()
    const updatedAtMs = readFloat()
    const valueCount = readCount('values')
    const values: StoredVersion[] = []
    for (let valueIndex = 0; valueIndex < valueCount; valueIndex += 1) {
      const value = readBytes()
      const contentType = readString()
      const timestampMs = readFloat()
      need(1)
      const tombstoneByte = view[at++] as number
      if (tombstoneByte > 1) throw new ObjectCodecError(`a tombstone flag is 0 or 1, not ${tombstoneByte}`)
      const tombstone = tombstoneByte === 1
      values.push({value, contentType, timestampMs, tombstone})
    }
    need(1)
    const flags = view[at++] as number
    if ((flags & ~(flagDots | flagCloud)) !== 0) throw new ObjectCodecError(`unknown entry flags ${flags}`)
    const dots = (flags & flagDots) === 0 ? undefined : readList('dots')
    const cloud = (flags & flagCloud) === 0 ? undefined : readList('cloud dots')
    // The property order dvvset.ts builds entries in (makeEntry), so that entries read here and
    // entries made there share their shapes; the common case without dots or cloud spreads nothing.
    entries.push(
      dots === undefined && cloud === undefined
        ? {actor, counter, values, updatedAtMs}
        : {actor, counter, values, ...(dots === undefined ? {} : {dots}), ...(cloud === undefined ? {} : {cloud}), updatedAtMs},
    )
  }
  if (at !== view.length) throw new ObjectCodecError(`${view.length - at} bytes follow the object`)
  return {versions: {entries}, n}
}
