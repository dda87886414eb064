/**
 * The opaque context token (paper §4.1: `get` returns a context that the client passes back to `put`).
 *
 * The token is a causal context (what a client has seen: a version vector, plus the single dots a
 * put adds, see dvvset.ts), encoded as base64url so that it fits an HTTP header and a command line. Clients must treat it as opaque; the server must
 * treat it as hostile: `decodeContext` checks every byte and never throws.
 *
 * A context that decodes to a wrong vector is dangerous: with counters too high, a write would
 * supersede versions the client never saw. So the token carries a checksum, and a truncated or
 * mistyped token is rejected instead of being read as some other vector. The checksum guards against
 * accidents only; it is not a signature.
 *
 * Layout (all integers unsigned LEB128 varints, minimal length):
 *   byte 0            format version (`contextFormatVersion`; a new layout gets a new number)
 *   varint            number of entries
 *   per entry         varint actor length in bytes, the actor in UTF-8, varint counter,
 *                     varint number of single dots, each dot as its distance from the one before
 *                     (the first from the counter)
 *   last 4 bytes      FNV-1a 32-bit hash of every byte before it, big-endian
 * Version 1 (no single dots, so no dot count) is still read: tokens that scripts kept stay valid.
 */
import {assert} from '../errors.js'
import {contextDotsMax, isValidVector, type ContextEntry, type VersionVector} from './dvvset.js'

/** The largest decoded token, in bytes: far above any real context (entries are pruned to about 10). */
export const contextBytesMax = 16384

/** The format version written in the first byte. Only ever increase it, for a new layout. */
export const contextFormatVersion = 2

/** The first layout: entries without single dots. */
const contextFormatVersionPlain = 1

/**
 * The largest counter a context may carry. A hostile client could send any counter, and the next
 * write by that actor adds one to it; capping contexts at 2^52 leaves 2^52 more writes before a
 * counter stops being a safe integer.
 */
export const contextCounterMax = 2 ** 52

export type DecodedContext =
  | {ok: true; vector: VersionVector}
  | {ok: false; error: 'bad_context'; message: string}

const checksumBytes = 4
/** A varint of a counter up to 2^53 needs at most 8 bytes of 7 bits. */
const varintBytesMax = 8
/**
 * Base64url turns every 3 bytes into 4 characters; checked before decoding anything, so that what
 * is decoded is at most `contextBytesMax` bytes.
 */
const tokenCharsMax = Math.ceil((contextBytesMax * 4) / 3)
const loneSurrogatePattern = /\p{Cs}/u

const utf8Encoder = new TextEncoder()

/** Encodes a context (from `join`, `withDot` or `mergeVectors`) as an opaque token; the empty context gets one too. */
export function encodeContext(vector: VersionVector): string {
  assert(isValidVector(vector), 'encodeContext: the context must be sorted, with unique actors and canonical dots')
  const bytes: number[] = [contextFormatVersion]
  writeVarint(bytes, vector.length)
  for (const [actor, counter, single] of vector) {
    // A lone surrogate has no UTF-8 form: the actor would come back changed.
    assert(!loneSurrogatePattern.test(actor), 'encodeContext: an actor must be well-formed Unicode')
    const actorBytes = utf8Encoder.encode(actor)
    writeVarint(bytes, actorBytes.length)
    for (const byte of actorBytes) bytes.push(byte)
    writeVarint(bytes, counter)
    writeVarint(bytes, single?.length ?? 0)
    let previous = counter
    for (const dot of single ?? []) {
      writeVarint(bytes, dot - previous)
      previous = dot
    }
  }
  const checksum = fnv1a32(bytes, bytes.length)
  bytes.push((checksum >>> 24) & 0xff, (checksum >>> 16) & 0xff, (checksum >>> 8) & 0xff, checksum & 0xff)
  return Buffer.from(bytes).toString('base64url')
}

/** Decodes a token from a client. Never throws: anything but a token made by `encodeContext` is `bad_context`. */
export function decodeContext(token: string): DecodedContext {
  if (typeof token !== 'string') return badContext('is not a string')
  if (token.length > tokenCharsMax) {
    return badContext(`is ${token.length} characters long, more than the ${tokenCharsMax} a context can take`)
  }
  const bytes = Buffer.from(token, 'base64url')
  // Only the one spelling we write is accepted. This also refuses every other token that is not
  // base64url: Node skips characters outside the alphabet, padding and a dangling last character
  // when it decodes, and never writes them when it encodes, so such a token does not come back.
  // Base64url also has several spellings of the same bytes (the unused low bits of the last character).
  if (bytes.toString('base64url') !== token) return badContext('is not valid base64url')
  if (bytes.length < 1 + checksumBytes) return badContext('is too short (truncated?)')
  if (bytes[0] !== contextFormatVersion && bytes[0] !== contextFormatVersionPlain) {
    return badContext(`has format version ${bytes[0]}, but this node reads versions ${contextFormatVersionPlain} and ${contextFormatVersion}`)
  }
  const bodyLength = bytes.length - checksumBytes
  if (bytes.readUInt32BE(bodyLength) !== fnv1a32(bytes, bodyLength)) {
    return badContext('fails its checksum (truncated or altered?)')
  }
  return decodeEntries(bytes, bodyLength)
}

function decodeEntries(bytes: Uint8Array, bodyLength: number): DecodedContext {
  const reader = {bytes, offset: 1, end: bodyLength}
  const count = readVarint(reader)
  // Every entry takes at least 3 bytes, so a larger count is a lie; this also bounds the loop.
  if (count === undefined || count > bodyLength) return badContext('has a malformed entry count')
  const withDots = bytes[0] === contextFormatVersion
  const vector: ContextEntry[] = []
  const utf8Decoder = new TextDecoder('utf-8', {fatal: true, ignoreBOM: true})
  for (let index = 0; index < count; index += 1) {
    const actorLength = readVarint(reader)
    if (actorLength === undefined || actorLength === 0 || reader.offset + actorLength > reader.end) {
      return badContext(`has a malformed actor in entry ${index}`)
    }
    const actor = decodeUtf8(utf8Decoder, bytes.subarray(reader.offset, reader.offset + actorLength))
    if (actor === undefined) return badContext(`has an actor that is not UTF-8 in entry ${index}`)
    reader.offset += actorLength
    const previous = vector[vector.length - 1]
    if (previous !== undefined && !(previous[0] < actor)) {
      return badContext(`has actors out of order or repeated at entry ${index}`)
    }
    const counter = readVarint(reader)
    if (counter === undefined || counter > contextCounterMax) {
      return badContext(`has a counter that is not an integer from 0 to 2^52 in entry ${index}`)
    }
    const single = withDots ? readSingleDots(reader, counter) : []
    if (single === undefined) return badContext(`has malformed single dots in entry ${index}`)
    if (counter < 1 && single.length === 0) return badContext(`has a counter of 0 and no dots in entry ${index}`)
    vector.push(single.length === 0 ? [actor, counter] : [actor, counter, single])
  }
  if (reader.offset !== reader.end) return badContext('has bytes after its last entry')
  // The checks above make every decoded context canonical; this one guards them.
  if (!isValidVector(vector)) return badContext('is not a canonical context')
  return {ok: true, vector}
}

/** The single dots of one entry: at most `contextDotsMax`, the first at least counter + 2, ascending. */
function readSingleDots(reader: {bytes: Uint8Array; offset: number; end: number}, counter: number): number[] | undefined {
  const count = readVarint(reader)
  if (count === undefined || count > contextDotsMax) return undefined
  const single: number[] = []
  let previous = counter
  for (let index = 0; index < count; index += 1) {
    const distance = readVarint(reader)
    if (distance === undefined || distance < 1 || (index === 0 && distance < 2)) return undefined
    previous += distance
    if (previous > contextCounterMax) return undefined
    single.push(previous)
  }
  return single
}

function badContext(what: string): DecodedContext {
  return {
    ok: false,
    error: 'bad_context',
    message:
      `The context token ${what}. Pass back unchanged the context returned by a read of this key, ` +
      'or send no context (the write is then kept as a sibling of what is stored).',
  }
}

function decodeUtf8(decoder: InstanceType<typeof TextDecoder>, bytes: Uint8Array): string | undefined {
  try {
    return decoder.decode(bytes)
  } catch {
    return undefined
  }
}

function writeVarint(bytes: number[], value: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, 'writeVarint: value must be a non-negative safe integer')
  let rest = value
  // At most varintBytesMax turns: each removes 7 bits from a number below 2^53.
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) + 0x80)
    rest = Math.floor(rest / 0x80)
  }
  bytes.push(rest)
}

/** Reads a minimal-length varint below 2^53, or undefined when it is truncated, too long or padded. */
function readVarint(reader: {bytes: Uint8Array; offset: number; end: number}): number | undefined {
  let value = 0
  let scale = 1
  for (let length = 1; length <= varintBytesMax; length += 1) {
    if (reader.offset >= reader.end) return undefined
    const byte = reader.bytes[reader.offset]!
    reader.offset += 1
    value += (byte & 0x7f) * scale
    if (byte < 0x80) {
      // A last byte of zero after others means a padded encoding: the token was not written by us.
      if (length > 1 && byte === 0) return undefined
      return Number.isSafeInteger(value) ? value : undefined
    }
    scale *= 0x80
  }
  return undefined
}

/** FNV-1a, 32 bits, over the first `length` bytes. */
function fnv1a32(bytes: ArrayLike<number>, length: number): number {
  let hash = 0x811c9dc5
  for (let index = 0; index < length; index += 1) {
    hash ^= bytes[index]!
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash >>> 0
}
