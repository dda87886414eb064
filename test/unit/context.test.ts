/**
 * Tests of the opaque context token: it round-trips every vector, is bound to its key, and
 * `decodeContext` rejects anything else with `bad_context` without ever throwing.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  contextBytesMax,
  contextCounterMax,
  contextFormatVersion,
  decodeContext,
  encodeContext,
} from '../../src/versioning/context.js'
import {contextDotsMax, type ContextEntry, type VersionVector} from '../../src/versioning/dvvset.js'

const actorArb = fc
  .oneof(
    fc.string({minLength: 1, maxLength: 20}),
    fc.string({unit: 'grapheme', minLength: 1, maxLength: 8}),
    fc.string({unit: 'binary', minLength: 1, maxLength: 8}),
  )
  .filter((actor) => !/\p{Cs}/u.test(actor))
const counterArb = fc.oneof(
  fc.integer({min: 1, max: 1000}),
  fc.maxSafeNat().map((n) => (n % contextCounterMax) + 1),
  fc.constant(contextCounterMax),
)
/** A context entry: a plain counter, or a counter (maybe 0) with single dots above it, as a put makes. */
const entryArb: fc.Arbitrary<ContextEntry> = fc.oneof(
  fc.tuple(actorArb, counterArb),
  fc
    .tuple(actorArb, fc.integer({min: 0, max: 1000}), fc.uniqueArray(fc.integer({min: 2, max: 5000}), {minLength: 1, maxLength: contextDotsMax}))
    .map(([actor, counter, gaps]): ContextEntry => {
      const single = [...new Set(gaps.map((gap) => counter + gap))].sort((x, y) => x - y)
      return [actor, counter, single]
    }),
)
const vectorArb: fc.Arbitrary<VersionVector> = fc
  .uniqueArray(entryArb, {selector: ([actor]) => actor, maxLength: 12})
  .map((pairs) => [...pairs].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))

/** The key most tokens here are encoded for. */
const key = 'cart:bob'
const keyArb = fc.oneof(fc.string({minLength: 1, maxLength: 20}), fc.string({unit: 'grapheme', minLength: 1, maxLength: 8}))

/** The key tag as the token writes it: FNV-1a 32 of the key's UTF-8, big-endian. */
function tagBytes(text: string): number[] {
  let hash = 0x811c9dc5
  for (const byte of Buffer.from(text, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0
  return [(hash >>> 24) & 0xff, (hash >>> 16) & 0xff, (hash >>> 8) & 0xff, hash & 0xff]
}

/** What a token of the current format begins with, for `key`. */
const head = [contextFormatVersion, ...tagBytes(key)]

/** The refusal of a whole context for `other`, tagged for another key. */
function otherKeyMessage(other: string): string {
  return (
    'the context token was read from another key: a context applies only to the key it was read from; nothing was written. ' +
    `Read ${other} (dyn get ${other} --json, or the X-Dyn-Context header) and write with the context of that read, ` +
    'or send none (a put without one is concurrent with what is stored: kept as its sibling, or on a last-writer-wins cluster the newer write wins; a delete without one deletes the versions it reads first).'
  )
}

/** Tokens written by a node before contexts carried their key (format 2, made by its encodeContext), with their vectors. */
const untaggedTokens: Array<[string, VersionVector]> = [
  ['AgILbjEuZDY1YzVmNmMBAAtuMi5mNmFkM2IzNAEAxySeVw', [['n1.d65c5f6c', 1], ['n2.f6ad3b34', 1]]],
  ['AgEDYS4xAAIHAgl83w4', [['a.1', 0, [7, 9]]]],
  ['AgBde4yf', []],
  // The README's token before format 3, of format 1.
  ['AQILbjEuZDY1YzVmNmMBC24yLmY2YWQzYjM0AajAeK4', [['n1.d65c5f6c', 1], ['n2.f6ad3b34', 1]]],
]

function assertRejected(token: string, forKey?: string): void {
  const decoded = decodeContext(token, forKey)
  assert.equal(decoded.ok, false, `accepted ${JSON.stringify(token)}`)
  if (!decoded.ok) {
    assert.equal(decoded.error, 'bad_context')
    assert.ok(decoded.message.length > 0)
  }
}

/** Builds a token from raw body bytes with a correct checksum, to reach the structural checks. */
function tokenFromBody(body: number[]): string {
  let hash = 0x811c9dc5
  for (const byte of body) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0
  const bytes = [...body, (hash >>> 24) & 0xff, (hash >>> 16) & 0xff, (hash >>> 8) & 0xff, hash & 0xff]
  return Buffer.from(bytes).toString('base64url')
}

/** The unsigned LEB128 varint of `value`, as the token writes counters. */
function varint(value: number): number[] {
  const bytes: number[] = []
  let rest = value
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80)
    rest = Math.floor(rest / 0x80)
  }
  bytes.push(rest)
  return bytes
}

function ascii(text: string): number[] {
  return [text.length, ...Buffer.from(text, 'latin1')]
}

describe('context token', () => {
  it('round-trips every vector with its key, and without a key given', () => {
    fc.assert(
      fc.property(vectorArb, keyArb, (vector, anyKey) => {
        const token = encodeContext(vector, anyKey)
        assert.match(token, /^[A-Za-z0-9_-]+$/)
        assert.deepEqual(decodeContext(token, anyKey), {ok: true, vector})
        // A tool that only shows a token gives no key: the tag is not checked.
        assert.deepEqual(decodeContext(token), {ok: true, vector})
      }),
    )
  })

  it('refuses a token for another key than its own, with bad_context, saying so and what to do', () => {
    fc.assert(
      fc.property(vectorArb, keyArb, keyArb, (vector, own, other) => {
        fc.pre(own !== other && tagBytes(own).join() !== tagBytes(other).join())
        const decoded = decodeContext(encodeContext(vector, own), other)
        assert.equal(decoded.ok, false)
        if (!decoded.ok) {
          assert.equal(decoded.error, 'bad_context')
          assert.match(decoded.message, /^the context token was read from another key: a context applies only to the key it was read from; nothing was written\. Read /)
        }
      }),
    )
    // The walk that lost a value: zk's context on a write to yk.
    const zk = encodeContext([['n1.d65c5f6c', 3]], 'zk')
    assert.deepEqual(decodeContext(zk, 'yk'), {ok: false, error: 'bad_context', message: otherKeyMessage('yk')})
    assert.deepEqual(decodeContext(zk, 'zk'), {ok: true, vector: [['n1.d65c5f6c', 3]]})
    // A key that is not one shell word is quoted in the command the message gives.
    assert.equal((decodeContext(zk, "bob's cart") as {message: string}).message, otherKeyMessage(`'bob'\\''s cart'`))
    // The empty context is bound too: a write with it to another key is refused, not taken as blind.
    assert.equal(decodeContext(encodeContext([], 'zk'), 'yk').ok, false)
    // Keys differing only in case or in a byte of their UTF-8 are other keys.
    assert.equal(decodeContext(encodeContext([], 'Key'), 'key').ok, false)
    assert.equal(decodeContext(encodeContext([], 'caf\u00e9'), 'cafe\u0301').ok, false)
  })

  it('takes tokens of formats 1 and 2, which carry no key, for any key', () => {
    for (const [token, vector] of untaggedTokens) {
      assert.deepEqual(decodeContext(token), {ok: true, vector}, token)
      assert.deepEqual(decodeContext(token, key), {ok: true, vector}, token)
      assert.deepEqual(decodeContext(token, 'another key'), {ok: true, vector}, token)
    }
  })

  it('gives the empty vector a token, starting with the format version and the key tag', () => {
    const token = encodeContext([], key)
    assert.ok(token.length > 0)
    assert.deepEqual(decodeContext(token, key), {ok: true, vector: []})
    assert.deepEqual([...Buffer.from(token, 'base64url').subarray(0, 5)], head)
  })

  it('checks its own body bytes the same way the test helper builds them', () => {
    assert.equal(tokenFromBody([...head, 1, ...ascii('a.1'), 5, 0]), encodeContext([['a.1', 5]], key))
    // Single dots are written as distances: 0 then 7 and 9 is "0, 2 dots, +7, +2".
    assert.equal(tokenFromBody([...head, 1, ...ascii('a.1'), 0, 2, 7, 2]), encodeContext([['a.1', 0, [7, 9]]], key))
    // The tag is FNV-1a of the key's UTF-8 bytes, not of its UTF-16 code units.
    const unicodeKey = 'ключ😀'
    assert.equal(tokenFromBody([contextFormatVersion, ...tagBytes(unicodeKey), 0]), encodeContext([], unicodeKey))
  })

  it('still reads tokens of the first format, which had no single dots', () => {
    assert.deepEqual(decodeContext(tokenFromBody([1, 2, ...ascii('a.1'), 5, ...ascii('b.2'), 1])), {ok: true, vector: [['a.1', 5], ['b.2', 1]]})
    assert.equal(decodeContext(tokenFromBody([1, 1, ...ascii('a.1'), 0])).ok, false, 'a zero counter')
  })

  it('rejects single dots that are not canonical, in formats 2 and 3', () => {
    for (const start of [[2], head]) {
      const cases: Array<[string, number[]]> = [
        ['a zero counter and no dots', [...start, 1, ...ascii('a'), 0, 0]],
        ['a dot just above the counter (it belongs in the counter)', [...start, 1, ...ascii('a'), 3, 1, 1]],
        ['a repeated dot', [...start, 1, ...ascii('a'), 3, 2, 2, 0]],
        ['a missing dot', [...start, 1, ...ascii('a'), 3, 2, 2]],
        ['more dots than a context keeps', [...start, 1, ...ascii('a'), 0, contextDotsMax + 1, ...Array.from({length: contextDotsMax + 1}, () => 2)]],
      ]
      for (const [label, body] of cases) {
        assert.equal(decodeContext(tokenFromBody(body)).ok, false, label)
        assert.equal(decodeContext(tokenFromBody(body), key).ok, false, label)
      }
    }
  })

  it('rejects arbitrary strings without throwing', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({unit: 'binary'}),
          fc.base64String(),
          fc.uint8Array({maxLength: 64}).map((bytes) => Buffer.from(bytes).toString('base64url')),
        ),
        (token) => {
          assertRejected(token)
          assertRejected(token, key)
        },
      ),
      {numRuns: 500},
    )
  })

  it('rejects mutated tokens without throwing', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const mutationArb = fc.record({
      kind: fc.constantFrom('replace', 'insert', 'delete', 'truncate', 'swap'),
      position: fc.nat(),
      character: fc.constantFrom(...alphabet),
    })
    fc.assert(
      fc.property(vectorArb, mutationArb, (vector, {kind, position, character}) => {
        const token = encodeContext(vector, key)
        const at = position % token.length
        const mutated =
          kind === 'replace'
            ? token.slice(0, at) + character + token.slice(at + 1)
            : kind === 'insert'
              ? token.slice(0, at) + character + token.slice(at)
              : kind === 'delete'
                ? token.slice(0, at) + token.slice(at + 1)
                : kind === 'truncate'
                  ? token.slice(0, at)
                  : token.slice(0, at) + token.slice(at + 1, at + 2) + token.slice(at, at + 1) + token.slice(at + 2)
        fc.pre(mutated !== token)
        assertRejected(mutated)
        assertRejected(mutated, key)
      }),
      {numRuns: 500},
    )
  })

  it('rejects well-checksummed tokens with a bad structure, each for its own reason', () => {
    // The plain layout of version 1, which every structural check applies to. Each case names the
    // check that must refuse it: a later check refusing it instead would hide a broken one.
    const version = 1
    const cases: Array<[string, number[], RegExp]> = [
      ['only a version', [version], /has a malformed entry count/],
      ['a future version', [contextFormatVersion + 1, 0], /has format version 4, but this node reads versions 1 to 3/],
      ['version zero', [0, 0], /has format version 0/],
      ['unsorted actors', [version, 2, ...ascii('b'), 1, ...ascii('a'), 1], /has actors out of order or repeated at entry 1/],
      ['duplicate actors', [version, 2, ...ascii('a'), 1, ...ascii('a'), 2], /has actors out of order or repeated at entry 1/],
      ['a zero counter', [version, 1, ...ascii('a'), 0], /has a counter of 0 and no dots in entry 0/],
      ['an empty actor', [version, 1, 0, 1], /has a malformed actor in entry 0/],
      ['an actor that is not UTF-8', [version, 1, 2, 0xc3, 0x28, 1], /has an actor that is not UTF-8 in entry 0/],
      ['an actor longer than the token', [version, 1, 9, 0x61, 1], /has a malformed actor in entry 0/],
      ['an actor one byte longer than the token', [version, 1, 3, 0x61, 0x62], /has a malformed actor in entry 0/],
      ['a missing counter', [version, 1, ...ascii('a')], /has a counter that is not an integer from 0 to 2\^52 in entry 0/],
      ['a missing entry', [version, 2, ...ascii('a'), 1], /has a malformed actor in entry 1/],
      ['an entry count larger than the token', [version, 0xff, 0x7f], /has a malformed entry count/],
      // A count as large as the body is not refused as a count: the entries it promises are missing.
      ['an entry count equal to the body', [version, 5, ...ascii('a'), 1], /has a malformed actor in entry 1/],
      ['trailing bytes', [version, 1, ...ascii('a'), 1, 0], /has bytes after its last entry/],
      ['a padded varint', [version, 1, ...ascii('a'), 0x81, 0x00], /has a counter that is not an integer/],
      ['a counter above 2^52', [version, 1, ...ascii('a'), 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x08], /has a counter that is not an integer from 0 to 2\^52 in entry 0/],
      ['a varint of 9 bytes', [version, 1, ...ascii('a'), 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], /has a counter that is not an integer/],
      // Format 3 puts the key tag before the entries.
      ['a key tag cut short', [contextFormatVersion, 0x12, 0x34], /is too short to hold its key tag/],
      ['a key tag and no entry count', [...head], /has a malformed entry count/],
      ['a key tag and trailing bytes', [...head, 0, 0], /has bytes after its last entry/],
    ]
    for (const [label, body, reason] of cases) {
      // Given a key or not: a malformed token is refused for what is wrong with it, not for its key.
      const decoded = decodeContext(tokenFromBody(body), 'some other key')
      assert.equal(decoded.ok, false, label)
      if (!decoded.ok) {
        assert.equal(decoded.error, 'bad_context', label)
        assert.match(decoded.message, reason, label)
        assert.match(decoded.message, /Copy the whole context from your last read of this key \(dyn get (KEY|'some other key') --json, or the X-Dyn-Context header\), or send none/, label)
        // Its checksum holds, so only a newer node's token is told its version; any other was altered or made up.
        if (!/format version/.test(decoded.message)) assert.match(decoded.message, /^the context token was altered or is not a context from this cluster \(it /, label)
      }
    }
    // The largest counter is accepted, one more is not.
    assert.deepEqual(decodeContext(encodeContext([['a', contextCounterMax]], key), key), {ok: true, vector: [['a', contextCounterMax]]})
  })

  it('single dots: at most contextDotsMax, the first at least counter + 2, ascending, at most 2^52', () => {
    const entry = (counter: number[], dots: number[]): string => tokenFromBody([...head, 1, ...ascii('a'), ...counter, dots.length, ...dots])
    const reasonOf = (token: string): string => {
      const decoded = decodeContext(token, key)
      return decoded.ok ? 'ok' : decoded.message
    }
    const manyDots = (count: number): string => tokenFromBody([...head, 1, ...ascii('a'), 1, count, 2, ...Array.from({length: count - 1}, () => 1)])
    assert.equal(reasonOf(manyDots(contextDotsMax)), 'ok', 'exactly contextDotsMax dots')
    assert.match(reasonOf(manyDots(contextDotsMax + 1)), /has malformed single dots in entry 0/)
    assert.match(reasonOf(entry([1], [1])), /has malformed single dots in entry 0/, 'a first dot right after the counter belongs in the counter')
    assert.equal(reasonOf(entry([1], [2])), 'ok')
    assert.match(reasonOf(entry([1], [2, 0])), /has malformed single dots in entry 0/, 'a repeated dot')
    assert.equal(reasonOf(entry([1], [2, 1])), 'ok')
    assert.match(reasonOf(entry([0], [])), /has a counter of 0 and no dots in entry 0/)
    assert.equal(reasonOf(entry([0], [2])), 'ok', 'a counter of 0 with a dot above it')
    // 2^52 - 2 as a varint, then a first dot 2 above it: exactly 2^52 is allowed, one more is not.
    const counterBelowMax = [...varint(contextCounterMax - 2)]
    assert.equal(reasonOf(entry(counterBelowMax, [2])), 'ok')
    assert.match(reasonOf(entry(counterBelowMax, [3])), /has malformed single dots in entry 0/)
  })

  it('says which check refused: base64url, length, checksum, and a counter cut off at the end of the body', () => {
    const reason = (token: string): string => {
      const decoded = decodeContext(token)
      return decoded.ok ? 'ok' : decoded.message
    }
    // 18 bytes, 24 characters: one more is a length no base64url text has.
    const token = encodeContext([['a.123', 3]], key)
    assert.equal(token.length % 4, 0)
    assert.match(reason(`${token}=`), /^the context token was altered or is not a context from this cluster \(it holds characters that are not base64url: A-Z, a-z, 0-9, - and _\)\./)
    assert.match(reason(`${token}A`), /^the context token was altered or is not a context from this cluster \(no base64url text has its length\)\./)
    assert.match(reason('AAAA'), /^the context token was altered or is not a context from this cluster \(it is too short to be one\)\./)
    assert.match(reason(''), /^the context token is empty\./)
    const bytes = Buffer.from(token, 'base64url')
    bytes[2] = (bytes[2] as number) ^ 0x01
    assert.match(reason(bytes.toString('base64url')), /^the context token was altered or is not a context from this cluster \(its checksum does not match\)\./)
    // A changed key tag is under the checksum too: altered, not another key's.
    assert.match((decodeContext(bytes.toString('base64url'), key) as {message: string}).message, /\(its checksum does not match\)/)
    // The body ends right after the actor: reading the counter must stop at the end of the body,
    // not read on into the checksum. The checksum's first byte is below 0x80 (a whole varint) for
    // 'ab', 'x', 'xy', 'n1' and 'node', and above it (a varint that would go on) for 'a' and 'abc'.
    for (const actor of ['a', 'ab', 'abc', 'x', 'xy', 'n1', 'node']) {
      assert.match(reason(tokenFromBody([1, 1, ...ascii(actor)])), /has a counter that is not an integer from 0 to 2\^52 in entry 0/, actor)
    }
  })

  it('says a token cut short by one character or more looks truncated, and to copy the whole context from the last read', () => {
    fc.assert(
      fc.property(vectorArb, fc.nat(), fc.boolean(), (vector, cut, withKey) => {
        const token = encodeContext(vector, key)
        // Any cut that leaves the first byte (two characters): shorter is no beginning of anything.
        // Cuts inside the key tag (up to 7 characters) are among them.
        const length = 2 + (cut % (token.length - 2))
        const decoded = decodeContext(token.slice(0, length), withKey ? key : undefined)
        assert.equal(decoded.ok, false)
        if (!decoded.ok) {
          assert.equal(decoded.error, 'bad_context', 'the same stable code as any bad context')
          assert.equal(
            decoded.message,
            `the context token looks truncated: its ${length} characters end before the context they encode does, so a character or more is missing at its end. ` +
              `Copy the whole context from your last read of this key (dyn get ${withKey ? key : 'KEY'} --json, or the X-Dyn-Context header), or send none (a put without one is concurrent with what is stored: kept as its sibling, or on a last-writer-wins cluster the newer write wins; a delete without one deletes the versions it reads first).`,
          )
        }
      }),
      {numRuns: 300},
    )
    // The README's former context (format 1) missing its last character: once said to be "not valid base64url".
    assert.match((decodeContext('AQILbjEuZDY1YzVmNmMBC24yLmY2YWQzYjM0AajAeK') as {message: string}).message, /^the context token looks truncated: its 42 characters/)
  })

  it('names the key in the read to copy from, after -- for a key that starts with a dash', () => {
    assert.match((decodeContext('garbage', 'cart bob') as {message: string}).message, /\(dyn get 'cart bob' --json, or the X-Dyn-Context header\)/)
    assert.match((decodeContext('garbage', '-dash') as {message: string}).message, /\(dyn get --json -- -dash, or the X-Dyn-Context header\)/)
    assert.match((decodeContext('garbage') as {message: string}).message, /\(dyn get KEY --json, or the X-Dyn-Context header\)/)
    // dyn resolve says what leaving --context out does there, in place of a put's and a delete's.
    assert.match((decodeContext('garbage', 'k', 'or leave --context out (the choice wins)') as {message: string}).message, /\(dyn get k --json, or the X-Dyn-Context header\), or leave --context out \(the choice wins\)\.$/)
  })

  it('does not call truncated a token of full length with a changed character, nor one that is no context', () => {
    const token = encodeContext([['n1.d65c5f6c', 1], ['n2.f6ad3b34', 1]], key)
    const last = token.at(-1) === 'A' ? 'B' : 'A'
    const reason = (text: string): string => (decodeContext(text) as {message: string}).message
    assert.doesNotMatch(reason(token.slice(0, -1) + last), /truncated:/)
    for (const other of ['garbage', 'not-a-context', `${token}=`, `${token.slice(0, -1)} `, 'AAAA', '']) assert.doesNotMatch(reason(other), /looks truncated/, other)
  })

  it('says a token altered in its last character or by one added in front was altered or is not a context from this cluster, and to copy the whole context', () => {
    // A user's walk: another last character read "is not valid base64url" (it changed only unused
    // bits), one added in front "has format version 0, but this node reads versions 1 and 2".
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const altered = /^the context token was altered or is not a context from this cluster \([^)]+\)\. Copy the whole context from your last read of this key \(dyn get \S+ --json, or the X-Dyn-Context header\), or send none/
    fc.assert(
      fc.property(vectorArb, fc.constantFrom(...alphabet), (vector, character) => {
        const token = encodeContext(vector, key)
        const changedLast = token.slice(0, -1) + character
        if (changedLast !== token) {
          const decoded = decodeContext(changedLast, key)
          assert.ok(!decoded.ok && decoded.error === 'bad_context')
          assert.match(decoded.message, altered, changedLast)
        }
        const decoded = decodeContext(character + token, key)
        assert.ok(!decoded.ok && decoded.error === 'bad_context')
        assert.match(decoded.message, altered, character + token)
      }),
      {numRuns: 300},
    )
    // The two spellings the walk met, on one token: each check that refuses is named after the headline.
    // A counter of two varint bytes makes 25 bytes, so that the last character has unused bits.
    const token = encodeContext([['n1.b0d518a4', 200]], key)
    const respelled = alphabet.split('').map((character) => token.slice(0, -1) + character).find((other) => other !== token && Buffer.from(other, 'base64url').equals(Buffer.from(token, 'base64url')))!
    assert.match((decodeContext(respelled) as {message: string}).message, /was altered or is not a context from this cluster \(its last character is not one that a context ends with\)/)
    assert.match((decodeContext(`A${token}`) as {message: string}).message, /was altered or is not a context from this cluster \(its checksum does not match\)/)
  })

  it('round-trips the varint boundaries of counters and actor lengths', () => {
    for (const counter of [127, 128, 129, 16383, 16384, 2 ** 21, 2 ** 35, contextCounterMax]) {
      const vector: VersionVector = [['a', counter]]
      assert.deepEqual(decodeContext(encodeContext(vector, key), key), {ok: true, vector}, `counter ${counter}`)
    }
    for (const length of [127, 128, 129]) {
      const vector: VersionVector = [['x'.repeat(length), 1]]
      assert.deepEqual(decodeContext(encodeContext(vector, key), key), {ok: true, vector}, `actor of ${length} bytes`)
    }
  })

  it('round-trips an actor that starts with a byte order mark', () => {
    const vector: VersionVector = [['\ufeffa', 1]]
    assert.deepEqual(decodeContext(encodeContext(vector, key), key), {ok: true, vector})
  })

  it('rejects over-long tokens before decoding them', () => {
    const actor = 'x'.repeat(100)
    const vector: VersionVector = Array.from({length: 200}, (_, index) => [`${actor}${index.toString().padStart(3, '0')}`, 1] as const)
    const token = encodeContext(vector, key)
    assert.ok(Buffer.from(token, 'base64url').length > contextBytesMax)
    assertRejected(token)
    assertRejected('A'.repeat(1_000_000))
    // The longest token that can decode to contextBytesMax bytes is read; one character more is not.
    const longest = Math.ceil((contextBytesMax * 4) / 3)
    const atMost = decodeContext('A'.repeat(longest))
    assert.ok(!atMost.ok && /\(its checksum does not match\)/.test(atMost.message), 'read, and refused for what it holds')
    const over = decodeContext('A'.repeat(longest + 1))
    assert.ok(!over.ok && over.message.includes(`is ${longest + 1} characters long, more than the ${longest} a context can take`))
  })

  it('rejects non-canonical base64url spellings and padding', () => {
    const token = encodeContext([['a.1', 3]], key)
    assertRejected(`${token}=`)
    assertRejected(` ${token}`)
    assertRejected(`${token}+`)
    assertRejected(`${token.slice(0, -1)}/`)
    assertRejected('')
    // The same bytes spelled with other unused low bits in the last character.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    let respellings = 0
    for (const vector of [[['a.1', 3]], [['ab', 1]], [['abc', 1]]] as VersionVector[]) {
      const original = encodeContext(vector, key)
      for (const character of alphabet) {
        const respelled = original.slice(0, -1) + character
        if (respelled === original) continue
        if (!Buffer.from(respelled, 'base64url').equals(Buffer.from(original, 'base64url'))) continue
        respellings += 1
        assertRejected(respelled)
        assertRejected(respelled, key)
      }
    }
    assert.ok(respellings > 0)
  })

  it('reads the tokens an earlier build wrote: the same key tags and actors, ASCII or not', () => {
    // Written by c435d03, before the key tag of an ASCII key was hashed from its characters and an
    // ASCII actor decoded from its bytes directly: a client may hold such tokens across an upgrade.
    const written: Array<[string, VersionVector, string]> = [
      ['cart:bob', [['n1', 7]], 'A8m46h4BAm4xBwBE8xSm'],
      ['käse/🧀', [['n1', 3, [5, 9]], ['n2', 1]], 'A58fHxACAm4xAwICBAJuMgEAV6ykxA'],
      ['user:42', [['é.1', 2]], 'Ay9re4IBBMOpLjECABumFls'],
    ]
    for (const [ownKey, vector, token] of written) {
      assert.deepEqual(decodeContext(token, ownKey), {ok: true, vector})
      assert.equal(encodeContext(vector, ownKey), token)
    }
  })

  it('refuses a spelling exactly when decoding and encoding again would not give it back', () => {
    // The check is made on the characters; Node's own round trip is the reference.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const spellingReason = /\((no base64url text has its length|its last character is not one that a context ends with)\)/
    fc.assert(
      fc.property(fc.string({unit: fc.constantFrom(...alphabet), minLength: 1, maxLength: 40}), (token) => {
        const decoded = decodeContext(token)
        const canonical = Buffer.from(token, 'base64url').toString('base64url') === token
        if (canonical) {
          assert.ok(decoded.ok || !spellingReason.test(decoded.message), token)
        } else {
          // A spelling refused may also be said to look cut short, when it begins like a context.
          assert.ok(!decoded.ok && (spellingReason.test(decoded.message) || /looks truncated/.test(decoded.message)), token)
        }
      }),
      {numRuns: 5000},
    )
  })

  it('asserts that what it encodes is a canonical context of well-formed actors', () => {
    assert.throws(() => encodeContext([['b', 1], ['a', 1]], key), /assertion failed/)
    assert.throws(() => encodeContext([['a', 0]], key), /assertion failed/)
    assert.throws(() => encodeContext([['a\ud800', 1]], key), /assertion failed/)
    assert.throws(() => encodeContext([], undefined as unknown as string), /assertion failed/)
    assert.doesNotThrow(() => encodeContext([['a\ud83d\ude00', 1]], key))
  })

  it('never throws on values that are not strings', () => {
    for (const x of [undefined, null, 42, {}, []]) {
      const decoded = decodeContext(x as unknown as string, key)
      assert.equal(decoded.ok, false)
      if (!decoded.ok) assert.match(decoded.message, /^the context token is not a string\./)
    }
  })
})
