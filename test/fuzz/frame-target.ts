/**
 * Fuzz target `frame`: the internode frame codec (src/transport/frame.ts), the first code every
 * byte from the network meets. Each input is a stream of 1 to 4 frames with hostile MessagePack
 * bodies (or deeply nested ones, or plain random bytes), usually mutated, fed to a `FrameDecoder`
 * in random chunks. Properties:
 * - `push` never throws, whatever the bytes;
 * - every frame it returns has a u8 type and a u32 request id, and every error is one of the
 *   three the codec documents;
 * - the outcome does not depend on how the stream was cut: the same frames, or the same error,
 *   as when the whole stream arrives in one chunk;
 * - after an error every later push answers the same error (the stream is unusable);
 * - a stream that was not mutated decodes to the frames it was encoded from.
 */

import {isDeepStrictEqual} from 'node:util'
import {FrameDecoder, frameBytesMax, protocolVersion, tryEncodeFrame, type Frame, type FrameDecodeResult} from '../../src/transport/frame.js'
import {MessageType} from '../../src/transport/message-type.js'
import {ValuePool, hex, hostileValue, inputRandom, mutateBytes, randomChunks, runSyncInputs, type FuzzTarget, type TargetReport} from './fuzz-common.js'
import type {Random} from '../../src/clock.js'

const decodeErrors: ReadonlySet<string> = new Set(['frame_too_large', 'bad_version', 'bad_frame'])
/** A small limit for some inputs, so that "too large" is met without allocating 16 MiB. */
const smallFrameBytesMax = 256
const framesPerInputMax = 4
/**
 * Nesting depths: most inputs just past the codec's limit (`bodyDepthMax`), a few deep enough
 * to overflow a recursive decoder's stack many times over (slow to throw, so rare).
 */
const nestingDepthMax = 200_000
const shallowNestingDepthMax = 200

export interface FrameInput {
  readonly bytes: Buffer
  readonly chunks: Buffer[]
  readonly bytesMax: number
  /** The frames the bytes were encoded from, when they were not mutated. */
  readonly encoded: Frame[] | undefined
}

const bodies = new ValuePool(hostileValue, 'frame-bodies')

export function frameInput(seed: number, index: number): FrameInput {
  const random = inputRandom(seed, index, 'frame')
  const bytesMax = random.int(8) === 0 ? smallFrameBytesMax : frameBytesMax
  const shape = random.int(10)
  let bytes: Buffer
  let encoded: Frame[] | undefined
  if (shape === 0) {
    bytes = Buffer.alloc(random.int(64))
    for (let i = 0; i < bytes.length; i += 1) bytes[i] = random.int(256)
  } else if (shape === 1) {
    // A body of nested one-element arrays (0x91 ...): decoding it must fail as bad_frame, not crash.
    const depth = 1 + random.int(random.int(50) === 0 ? nestingDepthMax : shallowNestingDepthMax)
    const body = Buffer.alloc(depth + 1, 0x91)
    body[depth] = 0x00
    bytes = Buffer.concat([header(10 + body.length - 4, random.int(256), random.int(0x100000000)), body])
  } else {
    const frames: Frame[] = []
    const count = 1 + random.int(framesPerInputMax)
    for (let i = 0; i < count; i += 1) {
      frames.push({type: frameType(random), requestId: random.int(0x100000000), body: bodies.pick(seed, random)})
    }
    const parts: Buffer[] = []
    for (const frame of frames) {
      const result = tryEncodeFrame(frame, bytesMax)
      if (result.ok) parts.push(result.bytes)
    }
    bytes = Buffer.concat(parts)
    const mutate = random.int(4) !== 0
    encoded = mutate ? undefined : frames.filter((frame) => tryEncodeFrame(frame, bytesMax).ok)
    if (mutate) bytes = mutateBytes(random, bytes)
  }
  return {bytes, chunks: randomChunks(random, bytes), bytesMax, encoded}
}

/** A frame header with the length prefix given as is (it counts the bytes after itself). */
function header(restBytes: number, type: number, requestId: number): Buffer {
  const bytes = Buffer.alloc(10)
  bytes.writeUInt32BE(restBytes >>> 0, 0)
  bytes[4] = protocolVersion
  bytes[5] = type
  bytes.writeUInt32BE(requestId >>> 0, 6)
  return bytes
}

function frameType(random: Random): number {
  const known = Object.values(MessageType).filter((value): value is number => typeof value === 'number')
  return random.int(4) === 0 ? random.int(256) : (known[random.int(known.length)] as number)
}

interface StreamOutcome {
  readonly frames: Frame[]
  readonly error: string | null
}

/** Runs one input; returns the property it broke, or its outcome (as one chunk). */
export function checkFrameInput(input: FrameInput): string | StreamOutcome {
  const whole = decodeStream([input.bytes], input.bytesMax)
  if (typeof whole === 'string') return whole
  const chunked = decodeStream(input.chunks, input.bytesMax)
  if (typeof chunked === 'string') return chunked
  if (whole.error !== chunked.error) return `the same bytes in other chunks gave another outcome (${whole.error} / ${chunked.error})`
  if (whole.error === null && !sameFrames(whole.frames, chunked.frames)) return 'the same bytes in other chunks gave other frames'
  if (input.encoded !== undefined) {
    if (whole.error !== null) return `an unmutated stream was refused: ${whole.error}`
    if (!sameHeaders(whole.frames, input.encoded)) return 'an unmutated stream decoded to other frames than it was encoded from'
  }
  return whole
}

/** Feeds `chunks` in order; a string names a broken property. */
function decodeStream(chunks: readonly Buffer[], bytesMax: number): StreamOutcome | string {
  const decoder = new FrameDecoder(bytesMax)
  const frames: Frame[] = []
  for (const chunk of chunks) {
    let result: FrameDecodeResult
    try {
      result = decoder.push(chunk)
    } catch (error) {
      return `push threw: ${(error as Error).stack ?? String(error)}`
    }
    if (!result.ok) {
      if (!decodeErrors.has(result.error)) return `an undocumented error: ${result.error}`
      let again: FrameDecodeResult
      try {
        again = decoder.push(Buffer.from([protocolVersion]))
      } catch (error) {
        return `push after an error threw: ${(error as Error).message}`
      }
      if (again.ok || again.error !== result.error) return 'a push after an error did not answer the same error'
      return {frames, error: result.error}
    }
    for (const frame of result.frames) {
      if (!Number.isInteger(frame.type) || frame.type < 0 || frame.type > 0xff) return `a frame type ${frame.type} is not a u8`
      if (!Number.isInteger(frame.requestId) || frame.requestId < 0 || frame.requestId > 0xffffffff) return `a request id ${frame.requestId} is not a u32`
      frames.push(frame)
    }
  }
  return {frames, error: null}
}

export function sameFrames(a: readonly Frame[], b: readonly Frame[]): boolean {
  return a.length === b.length && a.every((frame, i) => isDeepStrictEqual(withComparableDates(frame), withComparableDates(b[i])))
}

/**
 * The value with each invalid Date replaced by one marker, all else as it was: msgpack's
 * timestamp extension decodes to a Date, an invalid one from a timestamp of the wrong size, and
 * deep equality never finds two invalid Dates equal (their times are NaN), so the same bytes
 * seemed to decode to other frames (seed 803640489, input 2102). Only arrays, Maps, Sets and
 * plain objects are looked into, so that every other decoded type (a Set, an Error, a typed
 * array, an ArrayBuffer) is still compared by deep equality itself. Bodies are at most
 * bodyDepthMax deep, so the recursion is bounded.
 */
function withComparableDates(value: unknown): unknown {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? invalidDate : value
  if (Array.isArray(value)) return value.map(withComparableDates)
  if (value instanceof Map) return new Map([...value].map(([key, entry]) => [withComparableDates(key), withComparableDates(entry)]))
  if (value instanceof Set) return new Set([...value].map(withComparableDates))
  if (typeof value === 'object' && value !== null && [Object.prototype, null].includes(Object.getPrototypeOf(value) as object | null)) {
    const copy: Record<string, unknown> = Object.create(Object.getPrototypeOf(value) as object | null) as Record<string, unknown>
    for (const [key, entry] of Object.entries(value)) Object.defineProperty(copy, key, {value: withComparableDates(entry), enumerable: true, writable: true, configurable: true})
    return copy
  }
  return value
}

/** What every invalid Date is compared as. */
const invalidDate = Symbol('an invalid Date')

/** Type and request id of each frame (bodies may decode to an equal value of another JS type: a bigint as a number). */
function sameHeaders(a: readonly Frame[], b: readonly Frame[]): boolean {
  return a.length === b.length && a.every((frame, i) => frame.type === b[i]?.type && frame.requestId === b[i]?.requestId)
}

export const frameTarget: FuzzTarget = {
  name: 'frame',
  run: (options): Promise<TargetReport> =>
    runSyncInputs('frame', options, frameInput, (input) => {
      const outcome = checkFrameInput(input)
      if (typeof outcome === 'string') return {broken: outcome, shown: `${hex(input.bytes)} (chunks of ${input.chunks.map((chunk) => chunk.length).join(',')} bytes, limit ${input.bytesMax})`}
      return {kind: outcome.error === null ? 'accepted' : outcome.error}
    }),
}
