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
 * A context belongs to the key it was read from: its counters say nothing about another key's
 * versions, and since an actor's counters rise across all its keys (each new dot is above every dot
 * it made on any key: dvvset.ts), another key's context read later can cover versions of this one
 * that its client never read, and a write with it would silently drop them. So every token carries a tag of its key, and `decodeContext` given a key
 * refuses a token tagged for another. The tag is 32 bits of FNV-1a, as the checksum is, and for the
 * same reason that is enough: it guards against accidents and mistakes (a context pasted from the
 * wrong read), not against an adversary, who could send any vector anyway; two keys share a tag by
 * chance once in 4 billion pairs. The tag is under the checksum and checked last, so that only a
 * whole, well-formed context is said to come from another key (a mistyped one is said altered).
 * Checking it costs one FNV pass over the key (at most 1024 bytes) per encode and decode.
 *
 * Layout (all integers unsigned LEB128 varints, minimal length):
 *   byte 0            format version (`contextFormatVersion`; a new layout gets a new number)
 *   bytes 1 to 4      the key's tag: FNV-1a 32-bit hash of the key's UTF-8 bytes, big-endian
 *   varint            number of entries
 *   per entry         varint actor length in bytes, the actor in UTF-8, varint counter,
 *                     varint number of single dots, each dot as its distance from the one before
 *                     (the first from the counter)
 *   last 4 bytes      FNV-1a 32-bit hash of every byte before it, big-endian
 * Versions 1 (no single dots, so no dot count) and 2 (no key tag) are still read, and taken for
 * any key, since they cannot say which key they came from: scripts and clients keep tokens across
 * an upgrade, and refusing them would turn every such write into a failure. Only version 3 is
 * written, so a token without a tag is one from before the upgrade and soon rare.
 *
 * A token copied short (its last characters lost to a terminal's selection or a shell's quoting)
 * is the commonest bad token, and its message says so: base64url's first characters decode to
 * the first bytes, so a cut token decodes to a prefix of a context, which `looksCutShort` tells
 * apart from a token that is altered or not a context at all. Every other refused token of a
 * length a context can have is said to be altered or not a context from this cluster, with the
 * check that refused it in parentheses: which check fails first on a changed character is an
 * accident of base64url (a changed last character may only change unused bits; one added in
 * front shifts every bit), so naming the check alone sent users after the wrong cause. The
 * checksum is checked before the format version, so that only a token written whole by a node
 * with a newer layout is said to have another version.
 */
import {assert} from '../errors.js'
import {commandWithKey, shellQuote} from '../shell-quote.js'
import {contextDotsMax, isValidVector, type ContextEntry, type VersionVector} from './dvvset.js'

/** The largest decoded token, in bytes: far above any real context (entries are pruned to about 10). */
export const contextBytesMax = 16384

/** The format version written in the first byte. Only ever increase it, for a new layout. */
export const contextFormatVersion = 3

/** The first layout: entries without single dots. */
const contextFormatVersionPlain = 1
/** The second layout: entries with single dots, no key tag. */
const contextFormatVersionUntagged = 2

/**
 * The largest counter a context may carry. A hostile client could send any counter, and the next
 * write by that actor adds one to it; capping contexts at 2^52 leaves 2^52 more writes before a
 * counter stops being a safe integer.
 */
export const contextCounterMax = 2 ** 52

export type DecodedContext =
  | {ok: true; vector: VersionVector}
  | {ok: false; error: 'bad_context'; message: string}

/**
 * What the decoding steps answer: a context, or what is wrong with the token (`message`, without
 * what to do, which decodeContext adds once, knowing the key); `otherKey` for a whole context of
 * another key, whose advice is to read this one.
 */
type Decoded = {ok: true; vector: VersionVector} | {ok: false; error: 'bad_context'; message: string; otherKey?: true}

const checksumBytes = 4
const keyTagBytes = 4
/** A varint of a counter up to 2^53 needs at most 8 bytes of 7 bits. */
const varintBytesMax = 8
/**
 * Base64url turns every 3 bytes into 4 characters; checked before decoding anything, so that what
 * is decoded is at most `contextBytesMax` bytes.
 */
const tokenCharsMax = Math.ceil((contextBytesMax * 4) / 3)
const loneSurrogatePattern = /\p{Cs}/u
const base64urlPattern = /^[A-Za-z0-9_-]+$/
const nonBase64urlPattern = /[^A-Za-z0-9_-]/

/** Reads a token's bytes; `ranOut` is set when a read stopped at `end`, where a longer token could have gone on. */
interface Reader {
  readonly bytes: Uint8Array
  offset: number
  readonly end: number
  ranOut: boolean
}

const utf8Encoder = new TextEncoder()

/**
 * Encodes a context (from `join`, `withDot` or `mergeVectors`) of `key` as an opaque token, tagged
 * with the key; the empty context gets one too.
 */
export function encodeContext(vector: VersionVector, key: string): string {
  assert(isValidVector(vector), 'encodeContext: the context must be sorted, with unique actors and canonical dots')
  assert(typeof key === 'string', 'encodeContext: a context is encoded for a key')
  const tag = keyTag(key)
  const bytes: number[] = [contextFormatVersion, (tag >>> 24) & 0xff, (tag >>> 16) & 0xff, (tag >>> 8) & 0xff, tag & 0xff]
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

/**
 * Decodes a token from a client, for a write to `key`. Never throws: anything but a token made by
 * `encodeContext` is `bad_context`, one that is the beginning of a context says it looks
 * truncated, and one tagged for another key than `key` says so. Without a key (a tool that only
 * shows a token) the tag is not checked; nor is it in a token of versions 1 and 2, which has none.
 */
export function decodeContext(token: string, key?: string, sendNone: string = sendNoneAdvice): DecodedContext {
  const decoded = decodeContextToken(token, key)
  if (decoded.ok) return decoded
  // What to send instead, naming the read to copy from ("dyn get KEY" left the user to work out
  // which key), and what leaving the context out does (`sendNone`: dyn resolve says its own).
  const read = key === undefined ? 'dyn get KEY --json' : commandWithKey('dyn get', key, ' --json')
  const copy = decoded.otherKey === true ? `Read ${shellQuote(key as string)} (${read}, or the X-Dyn-Context header) and write with the context of that read` : `Copy the whole context from your last read of this key (${read}, or the X-Dyn-Context header)`
  return {ok: false, error: 'bad_context', message: `${decoded.message} ${copy}, ${sendNone}.`}
}

function decodeContextToken(token: string, key: string | undefined): Decoded {
  if (typeof token !== 'string') return badContext('is not a string')
  if (token.length > tokenCharsMax) {
    return badContext(`is ${token.length} characters long, more than the ${tokenCharsMax} a context can take`)
  }
  const decoded = decodeToken(token, key)
  if (decoded.ok || !looksCutShort(token)) return decoded
  return badContext(`looks truncated: its ${token.length} characters end before the context they encode does, so a character or more is missing at its end`)
}

/**
 * Whether a refused token is the beginning of a context: base64url whose bytes start with a
 * format version and end before the context does, inside its key tag, its entries or its checksum.
 * Every token cut short by a character or more is, since its characters decode to the first
 * bytes of the context (a dangling last character and the unused low bits of the last one are
 * dropped); a token altered, padded or made up is not, unless it happens to be such a beginning.
 */
function looksCutShort(token: string): boolean {
  if (!base64urlPattern.test(token)) return false
  const bytes = Buffer.from(token, 'base64url')
  if (!isReadableVersion(bytes[0])) return false
  // A token whose last 4 bytes are the checksum of the rest was written whole (a cut one has odds
  // of 2^-32 of that): its fault is its structure, said as such.
  const bodyLength = bytes.length - checksumBytes
  if (bodyLength >= 1 && bytes.readUInt32BE(bodyLength) === fnv1a32(bytes, bodyLength)) return false
  // Cut inside the key tag, or after it.
  const entriesOffset = entriesOffsetOf(bytes[0])
  if (bytes.length < entriesOffset) return true
  const reader: Reader = {bytes, offset: entriesOffset, end: bytes.length, ranOut: false}
  const entries = readEntries(reader, bytes[0] !== contextFormatVersionPlain)
  if (!entries.ok) return reader.ranOut
  return bytes.length - reader.offset < checksumBytes
}

function decodeToken(token: string, key: string | undefined): Decoded {
  if (token.length === 0) return badContext('is empty')
  // Node skips characters outside the alphabet, padding and a dangling last character when it
  // decodes, so they are refused here, where the message can say so.
  if (nonBase64urlPattern.test(token)) return alteredContext('it holds characters that are not base64url: A-Z, a-z, 0-9, - and _')
  // Only the one spelling we write is accepted: base64url has several spellings of the same bytes
  // (the unused low bits of the last character), and a dangling last character decodes to nothing.
  if (token.length % 4 === 1) return alteredContext('no base64url text has its length')
  if (!endsCanonically(token)) return alteredContext('its last character is not one that a context ends with')
  const bytes = Buffer.from(token, 'base64url')
  if (bytes.length < 1 + checksumBytes) return alteredContext('it is too short to be one')
  const bodyLength = bytes.length - checksumBytes
  if (bytes.readUInt32BE(bodyLength) !== fnv1a32(bytes, bodyLength)) return alteredContext('its checksum does not match')
  // Whole, as its checksum says: a version this node does not know was written by a newer node.
  if (!isReadableVersion(bytes[0])) {
    return badContext(`has format version ${bytes[0]}, but this node reads versions ${contextFormatVersionPlain} to ${contextFormatVersion}`)
  }
  const decoded = decodeEntries(bytes, bodyLength)
  // Checked last, so that only a whole, well-formed context is said to come from another key.
  if (!decoded.ok || key === undefined || bytes[0] !== contextFormatVersion) return decoded
  return bytes.readUInt32BE(1) === keyTag(key) ? decoded : otherKeyContext
}

function decodeEntries(bytes: Uint8Array, bodyLength: number): Decoded {
  const entriesOffset = entriesOffsetOf(bytes[0])
  if (bodyLength < entriesOffset) return alteredContext('it is too short to hold its key tag')
  const reader: Reader = {bytes, offset: entriesOffset, end: bodyLength, ranOut: false}
  const entries = readEntries(reader, bytes[0] !== contextFormatVersionPlain)
  if (!entries.ok) return entries
  const vector = entries.vector
  if (reader.offset !== reader.end) return alteredContext('it has bytes after its last entry')
  // The checks above make every decoded context canonical; this one guards them.
  if (!isValidVector(vector)) return alteredContext('it is not a canonical context')
  return {ok: true, vector}
}

/**
 * Whether the last character of a token of the base64url alphabet (and of a length base64url can
 * have) leaves its unused low bits zero, as the one spelling Node writes does: with 2 or 3
 * characters in the last group it carries 4 or 2 bits that encode nothing. The same test as
 * decoding the token and encoding its bytes again, without either (this runs on every write).
 */
function endsCanonically(token: string): boolean {
  const charsInLastGroup = token.length % 4
  if (charsInLastGroup === 0) return true
  const unusedBitsMask = charsInLastGroup === 2 ? 0x0f : 0x03
  return (base64urlDigitValue(token.charCodeAt(token.length - 1)) & unusedBitsMask) === 0
}

/** The 6-bit value of one base64url character (A-Z, a-z, 0-9, -, _), already checked to be one. */
function base64urlDigitValue(code: number): number {
  if (code >= 0x41 && code <= 0x5a) return code - 0x41
  if (code >= 0x61 && code <= 0x7a) return code - 0x61 + 26
  if (code >= 0x30 && code <= 0x39) return code - 0x30 + 52
  return code === 0x2d ? 62 : 63
}

function isReadableVersion(version: number | undefined): boolean {
  return version === contextFormatVersion || version === contextFormatVersionUntagged || version === contextFormatVersionPlain
}

/** Where a token's entries begin: after its version byte, and its key tag when its layout has one. */
function entriesOffsetOf(version: number | undefined): number {
  return version === contextFormatVersion ? 1 + keyTagBytes : 1
}

/** The entries from `reader.offset` on, each checked; the reader is left after the last. */
function readEntries(reader: Reader, withDots: boolean): Decoded {
  const count = readVarint(reader)
  // Every entry takes at least 3 bytes, so a larger count is a lie; this also bounds the loop.
  if (count === undefined || count > reader.end) {
    // A count a whole context could hold, with too few bytes after it, is a context cut short.
    if (count !== undefined && count <= contextBytesMax) reader.ranOut = true
    return alteredContext('it has a malformed entry count')
  }
  const vector: ContextEntry[] = []
  for (let index = 0; index < count; index += 1) {
    const actorLength = readVarint(reader)
    if (actorLength !== undefined && actorLength > 0 && reader.offset + actorLength > reader.end) reader.ranOut = true
    if (actorLength === undefined || actorLength === 0 || reader.offset + actorLength > reader.end) {
      return alteredContext(`it has a malformed actor in entry ${index}`)
    }
    const actor = decodeActor(reader.bytes, reader.offset, reader.offset + actorLength)
    if (actor === undefined) return alteredContext(`it has an actor that is not UTF-8 in entry ${index}`)
    reader.offset += actorLength
    const previous = vector[vector.length - 1]
    if (previous !== undefined && !(previous[0] < actor)) {
      return alteredContext(`it has actors out of order or repeated at entry ${index}`)
    }
    const counter = readVarint(reader)
    if (counter === undefined || counter > contextCounterMax) {
      return alteredContext(`it has a counter that is not an integer from 0 to 2^52 in entry ${index}`)
    }
    const single = withDots ? readSingleDots(reader, counter) : []
    if (single === undefined) return alteredContext(`it has malformed single dots in entry ${index}`)
    if (counter < 1 && single.length === 0) return alteredContext(`it has a counter of 0 and no dots in entry ${index}`)
    vector.push(single.length === 0 ? [actor, counter] : [actor, counter, single])
  }
  return {ok: true, vector}
}

/** The single dots of one entry: at most `contextDotsMax`, the first at least counter + 2, ascending. */
function readSingleDots(reader: Reader, counter: number): number[] | undefined {
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

/**
 * What every refusal ends with, after what to send instead: what sending no context does, for a
 * put and a delete alike, since the same token is refused on both ("kept as a sibling" was wrong
 * for a delete, a walk). dyn resolve's --context says its own (decodeContext's `sendNone`).
 */
const sendNoneAdvice = 'or send none (a put without one is concurrent with what is stored: kept as its sibling, or on a last-writer-wins cluster the newer write wins; a delete without one deletes the versions it reads first)'

/** A refusal, `what` saying what is wrong with the token (lower-case, as every error message). */
function badContext(what: string): Decoded {
  return {ok: false, error: 'bad_context', message: `the context token ${what}.`}
}

/** A whole context, tagged for another key than the key of the write it came with. */
const otherKeyContext: Decoded = {ok: false, error: 'bad_context', message: 'the context token was read from another key: a context applies only to the key it was read from; nothing was written.', otherKey: true}

/** A token that has a context's length but is not one: changed, or never written by a node; `check` is the check that refused it. */
function alteredContext(check: string): Decoded {
  return badContext(`was altered or is not a context from this cluster (${check})`)
}

/**
 * Strict UTF-8: a malformed sequence is refused, not replaced, and a BOM is kept as a character.
 * One decoder serves every token: a call without `stream` starts afresh, also after one it refused.
 */
const strictUtf8Decoder = new TextDecoder('utf-8', {fatal: true, ignoreBOM: true})

/** Longest actor decoded by character codes; longer ones, rare, go to the decoder. */
const asciiActorCharsMax = 64

/**
 * The actor in `bytes[start, end)`, or undefined when it is not UTF-8. Actors are node names,
 * almost always ASCII, whose bytes are their character codes: decoded as such, without the
 * decoder's call and a view of the bytes, on every write that carries a context.
 */
function decodeActor(bytes: Uint8Array, start: number, end: number): string | undefined {
  if (end - start <= asciiActorCharsMax) {
    let ascii = ''
    let index = start
    while (index < end && bytes[index]! < 0x80) {
      ascii += String.fromCharCode(bytes[index]!)
      index += 1
    }
    if (index === end) return ascii
  }
  try {
    return strictUtf8Decoder.decode(bytes.subarray(start, end))
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
function readVarint(reader: Reader): number | undefined {
  let value = 0
  let scale = 1
  for (let length = 1; length <= varintBytesMax; length += 1) {
    if (reader.offset >= reader.end) {
      reader.ranOut = true
      return undefined
    }
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

/** The tag of a key in a token: FNV-1a 32 over its UTF-8 (one pass over an ASCII key, nothing allocated). */
function keyTag(key: string): number {
  // An ASCII key's UTF-8 bytes are its character codes: hashed from the string, nothing allocated
  // (every write with a context computes this twice). Any other key is encoded first.
  let hash = fnvOffsetBasis
  for (let index = 0; index < key.length; index += 1) {
    const code = key.charCodeAt(index)
    if (code >= 0x80) {
      const keyBytes = utf8Encoder.encode(key)
      return fnv1a32(keyBytes, keyBytes.length)
    }
    hash = fnvStep(hash, code)
  }
  return hash
}

const fnvOffsetBasis = 0x811c9dc5
const fnvPrime = 0x01000193

/** One byte into an FNV-1a 32 hash: the unsigned hash after it. */
function fnvStep(hash: number, byte: number): number {
  return Math.imul(hash ^ byte, fnvPrime) >>> 0
}

/** FNV-1a, 32 bits, over the first `length` bytes. */
function fnv1a32(bytes: ArrayLike<number>, length: number): number {
  let hash = fnvOffsetBasis
  for (let index = 0; index < length; index += 1) hash = fnvStep(hash, bytes[index]!)
  return hash
}
