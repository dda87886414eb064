/** The internode frame codec: round trips over arbitrary chunk splits, and bad input as error values. */

import {test} from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {inspect} from 'node:util'
import {DynError} from '../../src/errors.js'
import {encodeFrame, FrameDecoder, frameBytesMax, protocolVersion, tryEncodeFrame, type Frame} from '../../src/transport/frame.js'
import {MessageType} from '../../src/transport/message-type.js'

/** Plain data as the transport carries it: what msgpack gives back exactly. */
const plainValue = fc.letrec<{value: unknown}>((tie) => ({
  value: fc.oneof(
    {depthSize: 'small', withCrossShrink: true},
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    // msgpack has no negative zero for integers; -0 comes back as 0.
    fc.double().map((x) => (Object.is(x, -0) ? 0 : x)),
    fc.string(),
    fc.string({unit: 'binary'}),
    fc.uint8Array({maxLength: 300}).map((bytes) => Buffer.from(bytes)),
    fc.array(tie('value'), {maxLength: 5}),
    fc.dictionary(
      fc.string().filter((key) => key !== '__proto__'),
      tie('value'),
      {maxKeys: 5, noNullPrototype: true},
    ),
  ),
})).value

const frameArbitrary = fc.record({
  type: fc.integer({min: 0, max: 255}),
  requestId: fc.nat({max: 0xffff_ffff}),
  body: plainValue,
}, {noNullPrototype: true})

/** Splits bytes into chunks at the given cut points (sorted, deduplicated). */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let start = 0
  for (const point of points) {
    chunks.push(bytes.subarray(start, point))
    start = point
  }
  chunks.push(bytes.subarray(start))
  return chunks
}

function decodeAll(decoder: FrameDecoder, chunks: Buffer[]): Frame[] {
  const frames: Frame[] = []
  for (const chunk of chunks) {
    const result = decoder.push(chunk)
    assert.ok(result.ok, result.ok ? '' : result.message)
    frames.push(...result.frames)
  }
  return frames
}

test('frames round trip through any split of the stream', () => {
  fc.assert(
    fc.property(
      fc.array(frameArbitrary, {minLength: 1, maxLength: 6}),
      fc.array(fc.nat(), {maxLength: 12}),
      (frames, cuts) => {
        const stream = Buffer.concat(frames.map((frame) => encodeFrame(frame)))
        const decoded = decodeAll(new FrameDecoder(), split(stream, cuts))
        assert.deepStrictEqual(decoded, frames)
      },
    ),
    {numRuns: 300},
  )
})

test('a frame fed one byte at a time decodes once, at its last byte', () => {
  const frame = {type: MessageType.ReplicaPut, requestId: 7, body: {key: 'k', value: Buffer.from('v')}}
  const bytes = encodeFrame(frame)
  const decoder = new FrameDecoder()
  for (let i = 0; i < bytes.length - 1; i++) {
    const result = decoder.push(bytes.subarray(i, i + 1))
    assert.deepStrictEqual(result, {ok: true, frames: []})
  }
  assert.deepStrictEqual(decoder.push(bytes.subarray(bytes.length - 1)), {ok: true, frames: [frame]})
})

test('the header is laid out as the wire format says', () => {
  const bytes = encodeFrame({type: MessageType.Gossip, requestId: 0x01020304, body: null})
  assert.equal(bytes.readUInt32BE(0), bytes.length - 4)
  assert.equal(bytes[4], protocolVersion)
  assert.equal(bytes[5], MessageType.Gossip)
  assert.equal(bytes.readUInt32BE(6), 0x01020304)
  assert.equal(bytes[10], 0xc0) // msgpack nil
})

test('Uint8Array values come back as Buffers', () => {
  const bytes = encodeFrame({type: 1, requestId: 1, body: {value: new Uint8Array([1, 2, 3])}})
  const result = new FrameDecoder().push(bytes)
  assert.ok(result.ok)
  const body = result.frames[0]?.body as {value: unknown}
  assert.ok(Buffer.isBuffer(body.value))
  assert.deepStrictEqual(body.value, Buffer.from([1, 2, 3]))
})

test('binary values decoded from a shared chunk do not alias it', () => {
  const first = encodeFrame({type: 1, requestId: 1, body: Buffer.from('first')})
  const second = encodeFrame({type: 1, requestId: 2, body: Buffer.from('second')})
  const chunk = Buffer.concat([first, second])
  const result = new FrameDecoder().push(chunk)
  assert.ok(result.ok)
  chunk.fill(0)
  assert.deepStrictEqual(
    result.frames.map((frame) => frame.body),
    [Buffer.from('first'), Buffer.from('second')],
  )
})

test('a frame larger than the limit is refused from its length prefix alone', () => {
  const decoder = new FrameDecoder(100)
  const bytes = encodeFrame({type: 1, requestId: 1, body: Buffer.alloc(200)})
  const result = decoder.push(bytes.subarray(0, 4))
  assert.equal(result.ok ? 'ok' : result.error, 'frame_too_large')
  // The stream is lost after an error: every later push answers the same error.
  const later = decoder.push(encodeFrame({type: 1, requestId: 2, body: null}))
  assert.equal(later.ok ? 'ok' : later.error, 'frame_too_large')
})

test('a huge length prefix is refused at once', () => {
  const result = new FrameDecoder().push(Buffer.from([0xff, 0xff, 0xff, 0xff]))
  assert.equal(result.ok ? 'ok' : result.error, 'frame_too_large')
})

test('encoding a body over the limit, or one msgpack cannot carry, is an error value', () => {
  const oversize = tryEncodeFrame({type: 1, requestId: 1, body: Buffer.alloc(frameBytesMax)})
  assert.equal(oversize.ok ? 'ok' : oversize.error, 'frame_too_large')
  const unencodable = tryEncodeFrame({type: 1, requestId: 1, body: {symbol: Symbol('no')}})
  assert.equal(unencodable.ok ? 'ok' : unencodable.error, 'bad_body')
  assert.throws(
    () => encodeFrame({type: 1, requestId: 1, body: Symbol('no')}),
    (error: unknown) => error instanceof DynError && error.code === 'bad_request',
  )
})

test('another protocol version is refused as soon as its byte arrives', () => {
  const bytes = Buffer.from(encodeFrame({type: 1, requestId: 1, body: 'x'}))
  bytes[4] = protocolVersion + 1
  const result = new FrameDecoder().push(bytes.subarray(0, 5))
  assert.equal(result.ok ? 'ok' : result.error, 'bad_version')
})

test('garbage is bad_frame: a too-short length, a broken body, trailing bytes in a body', () => {
  const tooShort = Buffer.from([0, 0, 0, 3, protocolVersion, 1, 0])
  const brokenBody = Buffer.from([0, 0, 0, 9, protocolVersion, 1, 0, 0, 0, 1, 0xd9, 0x05, 0x61]) // str8 of 5 bytes, 1 given
  const shortArray = Buffer.from([0, 0, 0, 8, protocolVersion, 1, 0, 0, 0, 1, 0x92, 0x01]) // array of 2, 1 element
  const trailing = Buffer.from([0, 0, 0, 8, protocolVersion, 1, 0, 0, 0, 1, 0x01, 0x02])
  for (const garbage of [tooShort, brokenBody, shortArray, trailing]) {
    const result = new FrameDecoder().push(garbage)
    assert.equal(result.ok ? 'ok' : result.error, 'bad_frame', garbage.toString('hex'))
  }
})

test('an HTTP request sent to the transport port is refused, not buffered', () => {
  const result = new FrameDecoder().push(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
  assert.equal(result.ok ? 'ok' : result.error, 'frame_too_large')
})

test('a frame decodes the same whatever bytes follow it in the chunk', () => {
  // Frames are decoded in place inside a chunk, so a body must never read past its own end.
  const framed = (body: Uint8Array): Buffer => {
    const header = Buffer.alloc(10)
    header.writeUInt32BE(6 + body.length, 0)
    header[4] = protocolVersion
    return Buffer.concat([header, body])
  }
  // Compared as printed: a body of msgpack's timestamp extension with a wrong length decodes to an
  // Invalid Date, which deepStrictEqual never finds equal to another (NaN), whatever followed it
  // (a CI run's random seed drew it: the example below).
  const outcome = (result: ReturnType<FrameDecoder['push']>): string =>
    inspect(result.ok ? result.frames[0] : result.error, {depth: null})
  fc.assert(
    fc.property(fc.uint8Array({minLength: 1, maxLength: 40}), plainValue, (body, after) => {
      const alone = outcome(new FrameDecoder().push(framed(body)))
      const next = encodeFrame({type: 1, requestId: 2, body: after})
      const followed = outcome(new FrameDecoder().push(Buffer.concat([framed(body), next])))
      assert.equal(followed, alone)
    }),
    {numRuns: 1000, examples: [[Uint8Array.from([0xd5, 0xff, 0, 0]), null]]},
  )
})

test('no input makes the decoder throw', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({maxLength: 64}), {maxLength: 8}), fc.boolean(), (chunks, withValidStart) => {
      const decoder = new FrameDecoder(4096)
      if (withValidStart) decoder.push(encodeFrame({type: 1, requestId: 1, body: [1, 'a']}))
      for (const chunk of chunks) {
        const result = decoder.push(Buffer.from(chunk))
        if (!result.ok) assert.ok(['frame_too_large', 'bad_version', 'bad_frame'].includes(result.error))
      }
    }),
    {numRuns: 500},
  )
})
