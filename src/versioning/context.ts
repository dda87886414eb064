/**
 * The opaque context token (paper §4.1: `get` returns a context that the client passes back to `put`).
 *
 * The token is the causal context of what a client read (a version vector), encoded as base64url so
 * that it fits an HTTP header and a command line. Clients must treat it as opaque; the server must
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
 *   per entry         varint actor length in bytes, the actor in UTF-8, varint counter
 *   last 4 bytes      FNV-1a 32-bit hash of every byte before it, big-endian
 */
import {assert} from '../errors.js'
import {isValidVector, type VersionVector} from './dvvset.js'

/** The largest decoded token, in bytes: far above any real context (entries are pruned to about 10). */
export const contextBytesMax = 16384

/** The format version written in the first byte. Only ever increase it, for a new layout. */
export const contextFormatVersion = 1

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
/** Base64url turns every 3 bytes into 4 characters; checked before decoding anything. */
const tokenCharsMax = Math.ceil((contextBytesMax * 4) / 3)
const base64urlPattern = /^[A-Za-z0-9_-]*$/
const loneSurrogatePattern = /\p{Cs}/u

const utf8Encoder = new TextEncoder()

/** Encodes a vector (from `join` or `mergeVectors`) as an opaque token; the empty vector gets one too. */
export function encodeContext(vector: VersionVector): string {
  assert(isValidVector(vector), 'encodeContext: the vector must be sorted, with unique actors and counters >= 1')
  const bytes: number[] = [contextFormatVersion]
  writeVarint(bytes, vector.length)
  for (const [actor, counter] of vector) {
    // A lone surrogate has no UTF-8 form: the actor would come back changed.
    assert(!loneSurrogatePattern.test(actor), 'encodeContext: an actor must be well-formed Unicode')
    const actorBytes = utf8Encoder.encode(actor)
    writeVarint(bytes, actorBytes.length)
    for (const byte of actorBytes) bytes.push(byte)
    writeVarint(bytes, counter)
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
  if (!base64urlPattern.test(token) || token.length % 4 === 1) return badContext('is not valid base64url')
  const bytes = Buffer.from(token, 'base64url')
  // Base64url has several spellings of the same bytes (unused low bits); only the one we write is accepted.
  if (bytes.toString('base64url') !== token) return badContext('is not valid base64url')
  if (bytes.length > contextBytesMax) return badContext(`decodes to more than ${contextBytesMax} bytes`)
  if (bytes.length < 1 + checksumBytes) return badContext('is too short (truncated?)')
  if (bytes[0] !== contextFormatVersion) {
    return badContext(`has format version ${bytes[0]}, but this node reads version ${contextFormatVersion}`)
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
  const vector: Array<readonly [string, number]> = []
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
    if (counter === undefined || counter < 1 || counter > contextCounterMax) {
      return badContext(`has a counter that is not an integer from 1 to 2^52 in entry ${index}`)
    }
    vector.push([actor, counter])
  }
  if (reader.offset !== reader.end) return badContext('has bytes after its last entry')
  return {ok: true, vector}
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
