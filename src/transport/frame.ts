/**
 * The wire format of internode RPC: how one typed request or response becomes bytes on a TCP
 * stream, and how a stream of arbitrarily split chunks becomes whole frames again. Follows the
 * shape of hashicorp/memberlist's wire format (a type byte and a version on every message) with
 * a length prefix, because TCP is a byte stream.
 *
 * A frame is `[u32 BE length of the rest][u8 protocolVersion][u8 type][u32 BE requestId][body]`
 * where the body is one MessagePack value (plain objects, arrays, strings, numbers, Buffers).
 *
 * Copies are what this layer costs on every get and put, so: encoding packs the body once into
 * msgpackr's buffer with room reserved in front for the header (no second copy); decoding hands
 * out frames as views of the received chunk whenever a frame lies inside one chunk, and only
 * assembles a fresh buffer when a frame spans chunks.
 */

import {Packr, Unpackr, RESERVE_START_SPACE} from 'msgpackr'
import {assert, DynError} from '../errors.js'

/**
 * Written in every frame; a frame of another version closes the connection. 2: the anti-entropy
 * object hash changed (hash-tree.ts), so trees of version-1 nodes would differ from ours in every
 * segment and their exchanges would copy every key.
 */
export const protocolVersion = 2

/** Largest whole frame (prefix included): a value is at most 1 MiB, so this leaves ample room for batches. */
export const frameBytesMax = 16 * 1024 * 1024

/** The length prefix, which counts the bytes after itself. */
export const lengthPrefixBytes = 4
/** Prefix, version, type and request id: everything before the body. */
const headerBytes = lengthPrefixBytes + 1 + 1 + 4
/** Version, type, request id and the shortest MessagePack value (one byte). */
const frameRestBytesMin = headerBytes - lengthPrefixBytes + 1
/** The smallest whole frame, prefix included. */
export const frameBytesMin = lengthPrefixBytes + frameRestBytesMin
const typeMax = 0xff
/**
 * The deepest nesting of arrays and maps a body may have. The deepest real body (a transfer
 * page of objects, each with its versions and their dots) nests under 12 levels. MessagePack
 * itself has no limit, and msgpackr decodes tens of thousands of levels within a frame of a few
 * hundred KiB; a value that deep overflows the stack of any recursive code that meets it later
 * (a deep comparison, JSON.stringify of a status answer, a log line), far from here. Found by
 * the frame fuzzer (test/fuzz/frame-target.ts, kept in test/unit/frame.test.ts).
 */
export const bodyDepthMax = 64
const requestIdMax = 0xffff_ffff

export interface Frame {
  /** A `MessageType`; kept a plain number so that a frame of an unknown type still decodes. */
  readonly type: number
  /** u32 chosen by the requester; a response carries the id of its request. */
  readonly requestId: number
  readonly body: unknown
}

export type FrameEncodeResult =
  | {ok: true; bytes: Buffer}
  | {ok: false; error: 'bad_body' | 'frame_too_large'; message: string}

export type FrameDecodeError = 'frame_too_large' | 'bad_version' | 'bad_frame'

export type FrameDecodeResult =
  | {ok: true; frames: Frame[]}
  | {ok: false; error: FrameDecodeError; message: string}

// Plain objects rather than msgpackr records: records would make a frame depend on structures
// that an earlier frame defined, and frames must each be readable on their own.
const packr = new Packr({useRecords: false})
// A frame that is a view of a shared receive chunk has its binary values copied out, so that a
// small value kept in memory (a write buffer, a hint) does not hold the whole chunk alive.
const unpackrCopyingBinaries = new Unpackr({useRecords: false, copyBuffers: true})
// A frame that owns its memory hands out binary values as views of it: no copy at all, which is
// what matters for large values (those always span chunks and so are always assembled).
const unpackrViewingBinaries = new Unpackr({useRecords: false, copyBuffers: false})

/** Encodes a frame, or says why its body cannot travel (unencodable, or larger than `bytesMax`). */
export function tryEncodeFrame(frame: Frame, bytesMax: number = frameBytesMax): FrameEncodeResult {
  assert(Number.isInteger(frame.type) && frame.type >= 0 && frame.type <= typeMax, 'frame type is a u8')
  assert(
    Number.isInteger(frame.requestId) && frame.requestId >= 0 && frame.requestId <= requestIdMax,
    'request id is a u32',
  )
  let bytes: Buffer
  try {
    // msgpackr reserves the header's bytes in front of the body, so the frame is one buffer
    // without copying the body a second time.
    bytes = packr.pack(frame.body, RESERVE_START_SPACE | headerBytes)
  } catch (error) {
    return {ok: false, error: 'bad_body', message: `body cannot be encoded: ${describeError(error)}`}
  }
  if (bytes.length > bytesMax) {
    return {
      ok: false,
      error: 'frame_too_large',
      message: `frame of ${bytes.length} bytes exceeds the limit of ${bytesMax} bytes`,
    }
  }
  bytes.writeUInt32BE(bytes.length - lengthPrefixBytes, 0)
  bytes[4] = protocolVersion
  bytes[5] = frame.type
  bytes.writeUInt32BE(frame.requestId, 6)
  return {ok: true, bytes}
}

/**
 * Encodes a frame; throws a `DynError` with code `bad_request` when the body cannot be encoded
 * or the frame exceeds `frameBytesMax`. Senders that must not throw use `tryEncodeFrame`.
 */
export function encodeFrame(frame: Frame): Buffer {
  const encoded = tryEncodeFrame(frame)
  if (!encoded.ok) throw new DynError('bad_request', encoded.message, {reason: encoded.error})
  return encoded.bytes
}

/**
 * Turns a byte stream into frames. Feed it every chunk in order; chunks may split anywhere.
 * After the first error the stream is unusable (framing is lost), so every later `push`
 * answers the same error and the owner should close the connection; whole frames that came
 * before the error in the same push are not returned, since their connection is going away.
 */
export class FrameDecoder {
  readonly #bytesMax: number
  /** Received bytes not yet returned as frames, oldest first. */
  readonly #chunks: Buffer[] = []
  /** Bytes of `#chunks[0]` already consumed; an offset rather than a new view saves an allocation per frame. */
  #firstChunkOffset = 0
  #bufferedBytes = 0
  #failure: Extract<FrameDecodeResult, {ok: false}> | null = null

  constructor(bytesMax: number = frameBytesMax) {
    assert(Number.isInteger(bytesMax) && bytesMax >= headerBytes + 1, 'frame limit fits at least a header and a body')
    this.#bytesMax = bytesMax
  }

  /** Bytes received and not yet returned as frames: more than 0 when a stream ends, its last frame was cut off. */
  get bufferedBytes(): number {
    return this.#bufferedBytes
  }

  push(chunk: Buffer): FrameDecodeResult {
    if (this.#failure !== null) return this.#failure
    const frames: Frame[] = []
    if (chunk.length === 0) return {ok: true, frames}
    this.#chunks.push(chunk)
    this.#bufferedBytes += chunk.length
    // Each pass either returns a frame (consuming at least `headerBytes + 1` bytes) or stops,
    // so the loop is bounded by the bytes buffered.
    while (this.#bufferedBytes >= lengthPrefixBytes) {
      const restBytes = this.#readUInt32(0)
      const frameBytes = lengthPrefixBytes + restBytes
      if (frameBytes > this.#bytesMax) {
        return this.#fail('frame_too_large', `frame of ${frameBytes} bytes exceeds the limit of ${this.#bytesMax} bytes`)
      }
      if (restBytes < frameRestBytesMin) {
        return this.#fail('bad_frame', `frame length ${restBytes} is shorter than a header and a body`)
      }
      // The version is checked as soon as its byte arrives, not after a whole (possibly huge) frame.
      if (this.#bufferedBytes > lengthPrefixBytes) {
        const version = this.#byteAt(lengthPrefixBytes)
        if (version !== protocolVersion) {
          return this.#fail('bad_version', `protocol version ${version}, expected ${protocolVersion}`)
        }
      }
      if (this.#bufferedBytes < frameBytes) break
      const frame = this.#takeFrame(frameBytes)
      if (!frame.ok) return frame
      frames.push(frame.frame)
    }
    return {ok: true, frames}
  }

  /** Removes the next frame of `frameBytes` (all buffered) and decodes it. */
  #takeFrame(frameBytes: number): {ok: true; frame: Frame} | Extract<FrameDecodeResult, {ok: false}> {
    const first = this.#chunks[0]
    assert(first !== undefined, 'a whole frame is buffered')
    const offset = this.#firstChunkOffset
    this.#bufferedBytes -= frameBytes
    if (first.length - offset > frameBytes) {
      // Several frames in one chunk (the common case under load): decode in place.
      this.#firstChunkOffset += frameBytes
      return this.#decode(first, offset, frameBytes, false)
    }
    if (first.length - offset === frameBytes) {
      this.#chunks.shift()
      this.#firstChunkOffset = 0
      // A chunk that is exactly one frame and owns its whole ArrayBuffer (as a socket read does)
      // is memory that nothing else shares, so its binary values may be handed out as views.
      const ownsMemory = offset === 0 && first.byteOffset === 0 && first.byteLength === first.buffer.byteLength
      return this.#decode(first, offset, frameBytes, ownsMemory)
    }
    return this.#decode(this.#assemble(frameBytes), 0, frameBytes, true)
  }

  /** Copies a frame that spans chunks into memory of its own, consuming those chunks. */
  #assemble(frameBytes: number): Buffer {
    const assembled = Buffer.allocUnsafeSlow(frameBytes)
    let filled = 0
    // Each pass consumes a whole chunk or finishes the frame; the chunks hold the frame's bytes.
    while (filled < frameBytes) {
      const chunk = this.#chunks[0]
      assert(chunk !== undefined, 'a whole frame is buffered')
      const available = chunk.length - this.#firstChunkOffset
      const wanted = frameBytes - filled
      if (available <= wanted) {
        chunk.copy(assembled, filled, this.#firstChunkOffset)
        filled += available
        this.#chunks.shift()
        this.#firstChunkOffset = 0
      } else {
        chunk.copy(assembled, filled, this.#firstChunkOffset, this.#firstChunkOffset + wanted)
        filled += wanted
        this.#firstChunkOffset += wanted
      }
    }
    return assembled
  }

  #decode(
    source: Buffer,
    offset: number,
    frameBytes: number,
    ownsMemory: boolean,
  ): {ok: true; frame: Frame} | Extract<FrameDecodeResult, {ok: false}> {
    const type = source[offset + 5]
    assert(type !== undefined, 'a taken frame holds its header')
    const requestId = source.readUInt32BE(offset + 6)
    const unpackr = ownsMemory ? unpackrViewingBinaries : unpackrCopyingBinaries
    try {
      const body: unknown = unpackr.unpack(source, {start: offset + headerBytes, end: offset + frameBytes})
      // Each level of nesting takes at least one byte, so a body of at most bodyDepthMax bytes (an
      // answer, a heartbeat) cannot be too deep: only larger ones are walked.
      if (frameBytes - headerBytes > bodyDepthMax && nestsDeeperThan(body, bodyDepthMax)) return this.#fail('bad_frame', `body nests deeper than ${bodyDepthMax} levels`)
      return {ok: true, frame: {type, requestId, body}}
    } catch (error) {
      return this.#fail('bad_frame', `body is not one MessagePack value: ${describeError(error)}`)
    }
  }

  #byteAt(offset: number): number {
    let skipped = -this.#firstChunkOffset
    for (const chunk of this.#chunks) {
      if (offset < skipped + chunk.length) return chunk[offset - skipped] as number
      skipped += chunk.length
    }
    assert(false, 'byte offset is buffered')
  }

  #readUInt32(offset: number): number {
    const first = this.#chunks[0]
    const start = this.#firstChunkOffset + offset
    if (first !== undefined && first.length >= start + 4) return first.readUInt32BE(start)
    // The prefix is split across chunks: rare, so read it byte by byte.
    return (
      ((this.#byteAt(offset) << 24) >>> 0) +
      (this.#byteAt(offset + 1) << 16) +
      (this.#byteAt(offset + 2) << 8) +
      this.#byteAt(offset + 3)
    )
  }

  #fail(error: FrameDecodeError, message: string): Extract<FrameDecodeResult, {ok: false}> {
    this.#failure = {ok: false, error, message}
    this.#chunks.length = 0
    this.#firstChunkOffset = 0
    this.#bufferedBytes = 0
    return this.#failure
  }
}

/**
 * Whether arrays and maps in `value` nest deeper than `depthMax`, without recursion (the point is
 * to survive any depth). Each array element and map value is visited once, so the walk is
 * bounded by the size of the decoded value; binary values and other leaves end a branch.
 */
function nestsDeeperThan(value: unknown, depthMax: number): boolean {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return false
  const pending: Array<{value: object; depth: number}> = [{value, depth: 1}]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (next.depth > depthMax) return true
    const children = Array.isArray(next.value) ? next.value : next.value instanceof Map ? [...next.value.values()] : Object.values(next.value)
    for (const child of children) {
      if (typeof child === 'object' && child !== null && !(child instanceof Uint8Array)) pending.push({value: child as object, depth: next.depth + 1})
    }
  }
  return false
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
