/**
 * Tests of the client API's input checks (ARCHITECTURE "Client HTTP API"): keys of 1..1024 UTF-8
 * bytes in percent-encoded form, N/R/W/DW with the cluster's defaults, unknown parameters, flags
 * and the context header. Every bad input is a `bad_*` value, never an exception.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  checkContext,
  checkFlag,
  checkKey,
  checkKeyText,
  checkKnownParameters,
  checkQuorum,
  effectiveQuorum,
  quorumHeaders,
  keyBytesMax,
  type Checked,
} from '../../src/api/params.js'
import {encodeContext} from '../../src/versioning/context.js'
import type {VersionVector} from '../../src/versioning/dvvset.js'

function assertFails<T>(checked: Checked<T>, error: string, what: string): void {
  assert.equal(checked.ok, false, `${what} was accepted: ${JSON.stringify(checked)}`)
  if (!checked.ok) {
    assert.equal(checked.error, error, what)
    assert.ok(checked.message.length > 0, what)
  }
}

function query(text: string): URLSearchParams {
  return new URLSearchParams(text)
}

const defaults = {n: 3, r: 2, w: 2}

describe('checkKey', () => {
  it('decodes a percent-encoded key', () => {
    assert.deepEqual(checkKey('plain'), {ok: true, value: 'plain'})
    assert.deepEqual(checkKey(encodeURIComponent('späť ☃ 😀')), {ok: true, value: 'späť ☃ 😀'})
    assert.deepEqual(checkKey('a%20b'), {ok: true, value: 'a b'})
  })

  it('accepts a slash encoded as %2F', () => {
    assert.deepEqual(checkKey('users%2F42'), {ok: true, value: 'users/42'})
    assert.deepEqual(checkKey('%2F'), {ok: true, value: '/'})
    assert.deepEqual(checkKey(encodeURIComponent('a/b/c')), {ok: true, value: 'a/b/c'})
  })

  it('refuses an empty key', () => {
    assertFails(checkKey(''), 'bad_key', 'the empty key')
  })

  it('refuses the keys "." and "..", in every spelling, which URL normalisation would remove from the path', () => {
    for (const raw of ['.', '..', '%2e', '%2E', '%2e%2e', '.%2E', '%2E.']) {
      assertFails(checkKey(raw), 'bad_key', JSON.stringify(raw))
    }
    assertFails(checkKeyText('..'), 'bad_key', 'the decoded key ..')
    // Only the whole key is a dot segment: dots inside a key, or three of them, are ordinary keys.
    for (const key of ['...', '.a', 'a.', '../a', 'a/..', '.. ']) {
      assert.deepEqual(checkKey(encodeURIComponent(key)), {ok: true, value: key}, JSON.stringify(key))
    }
  })

  it('counts bytes of UTF-8, not characters: 1024 bytes pass, 1025 do not', () => {
    const cases: Array<[string, boolean]> = [
      ['a'.repeat(1024), true],
      ['a'.repeat(1025), false],
      ['é'.repeat(512), true], // 2 bytes each: 1024
      ['é'.repeat(512) + 'a', false], // 1025 bytes in 513 characters
      ['€'.repeat(341) + 'a', true], // 3 bytes each: 1023 + 1
      ['€'.repeat(341) + 'aa', false], // 1025 bytes in 343 characters
      ['😀'.repeat(256), true], // 4 bytes each: 1024, in 512 UTF-16 code units
      ['😀'.repeat(256) + 'a', false],
      ['€'.repeat(342), false], // 1026 bytes in only 342 characters
    ]
    for (const [key, accepted] of cases) {
      assert.equal(Buffer.byteLength(key, 'utf8') <= keyBytesMax, accepted, 'the case itself is miscounted')
      const checked = checkKey(encodeURIComponent(key))
      if (accepted) assert.deepEqual(checked, {ok: true, value: key}, `${Buffer.byteLength(key)} bytes`)
      else assertFails(checked, 'bad_key', `a key of ${Buffer.byteLength(key)} bytes`)
    }
  })

  it('refuses bad percent-encoding and percent-encoded bytes that are not UTF-8', () => {
    for (const raw of ['%', '%2', 'a%zz', '%G0', '100%', '%E9', '%C3', '%FF%FE', '%ED%A0%80', '%C0%AF']) {
      assertFails(checkKey(raw), 'bad_key', JSON.stringify(raw))
    }
  })

  it('accepts every key of 1..1024 bytes and refuses every longer one, without throwing', () => {
    // Characters of 1 to 4 UTF-8 bytes and a grapheme of several code points, so that lengths
    // straddle the limit; plus short keys of any graphemes.
    const pieces = ['a', '/', '%', ' ', 'é', '€', '😀', '👩‍👩‍👧']
    const keyArb = fc.oneof(
      fc.array(fc.constantFrom(...pieces), {minLength: 1, maxLength: 600}).map((parts) => parts.join('')),
      fc.string({unit: 'grapheme', minLength: 1, maxLength: 40}),
    )
    // Raw path parts mixing good and bad escapes, lone surrogates and plain characters.
    const rawPathArb = fc
      .array(
        fc.oneof(
          fc.constantFrom('%', '%2', '%2F', '%E9', '%C3%A9', '%ED%A0%80', '%zz', '%%', '\uD800', '\uDFFF'),
          fc.string({unit: 'grapheme', maxLength: 3}),
        ),
        {maxLength: 12},
      )
      .map((parts) => parts.join(''))
    fc.assert(
      fc.property(keyArb, (key) => {
        const checked = checkKey(encodeURIComponent(key))
        if (Buffer.byteLength(key, 'utf8') <= keyBytesMax && key !== '.' && key !== '..') assert.deepEqual(checked, {ok: true, value: key})
        else assertFails(checked, 'bad_key', `${Buffer.byteLength(key)} bytes`)
      }),
    )
    fc.assert(
      fc.property(rawPathArb, (raw) => {
        const checked = checkKey(raw)
        assert.equal(typeof checked.ok, 'boolean')
        if (!checked.ok) assert.equal(checked.error, 'bad_key')
      }),
    )
  })
})

describe('checkQuorum', () => {
  it('uses the defaults when nothing is given', () => {
    assert.deepEqual(checkQuorum(query(''), defaults, 5), {ok: true, value: {n: 3, r: 2, w: 2, dw: 0, storedN: 3}})
  })

  it('lets default r and w follow a smaller explicit n, so ?n=1 alone is valid', () => {
    assert.deepEqual(checkQuorum(query('n=1'), defaults, 5), {ok: true, value: {n: 1, r: 1, w: 1, dw: 0, storedN: 1}})
    assert.deepEqual(checkQuorum(query('n=2&w=1'), {n: 5, r: 4, w: 4}, 5), {ok: true, value: {n: 2, r: 2, w: 1, dw: 0, storedN: 2}})
  })

  it('fits defaults to a smaller cluster and says what was asked; the key still records the n asked', () => {
    const asked = {n: 3, r: 2, w: 2, dw: 0}
    // Issue 13.1: a young cluster runs the request with what it has, and the key keeps n=3.
    assert.deepEqual(checkQuorum(query(''), defaults, 1), {ok: true, value: {n: 1, r: 1, w: 1, dw: 0, storedN: 3, asked}})
    assert.deepEqual(checkQuorum(query(''), defaults, 2), {ok: true, value: {n: 2, r: 2, w: 2, dw: 0, storedN: 3, asked}})
    // An explicit value within the members is kept; the defaults around it are fitted.
    assert.deepEqual(checkQuorum(query('r=1'), defaults, 1), {ok: true, value: {n: 1, r: 1, w: 1, dw: 0, storedN: 3, asked: {n: 3, r: 1, w: 2, dw: 0}}})
    assert.deepEqual(checkQuorum(query('w=2&dw=2'), defaults, 2), {ok: true, value: {n: 2, r: 2, w: 2, dw: 2, storedN: 3, asked: {n: 3, r: 2, w: 2, dw: 2}}})
    assert.deepEqual(effectiveQuorum({n: 3, r: 3, w: 3, dw: 2}, 2), {n: 2, r: 2, w: 2, dw: 2, storedN: 3, asked: {n: 3, r: 3, w: 3, dw: 2}})
    assert.deepEqual(effectiveQuorum({n: 3, r: 3, w: 1, dw: 1}, 5), {n: 3, r: 3, w: 1, dw: 1, storedN: 3})
  })

  it('never lowers an explicit value: above the members that own partitions it is refused', () => {
    // Issue 13.2: `dyn put a b -w 2` on one member ran with w=1; now it is refused.
    for (const [text, size] of [['w=2', 1], ['r=2', 1], ['n=4&w=3&dw=3', 3], ['n=5', 3], ['dw=2', 1], ['r=3&pr=3&w=3&pw=3', 2], ['pw=2', 1], ['pr=2', 1]] as const) {
      const checked = checkQuorum(query(text), defaults, size)
      assertFails(checked, 'bad_parameter', `${text} on ${size} member(s)`)
      if (!checked.ok) assert.match(checked.message, /needs \d+ distinct nodes, but \d+ members? owns? partitions/, text)
    }
  })

  it('says a count with too many digits is too large, not "no whole number"; leading zeros are no size', () => {
    // A new user's walk: -w 99999999999999999999 came back as "not a whole number".
    const huge = checkQuorum(query('w=99999999999999999999'), defaults, 5)
    assertFails(huge, 'bad_parameter', 'w=99999999999999999999')
    if (!huge.ok) assert.match(huge.message, /^w=99999999999999999999 is too large; a key has at most 64 replicas$/)
    assert.deepEqual(checkQuorum(query('w=0000002'), defaults, 5), {ok: true, value: {n: 3, r: 2, w: 2, dw: 0, storedN: 3}})
    const garbage = checkQuorum(query('w=2x'), defaults, 5)
    if (!garbage.ok) assert.match(garbage.message, /is not a whole number/)
    else assert.fail('w=2x was taken')
  })

  it('takes explicit values within bounds', () => {
    assert.deepEqual(checkQuorum(query('n=5&r=1&w=5&dw=3'), defaults, 5), {ok: true, value: {n: 5, r: 1, w: 5, dw: 3, storedN: 5}})
    assert.deepEqual(checkQuorum(query('r=3&w=3&dw=3'), defaults, 3), {ok: true, value: {n: 3, r: 3, w: 3, dw: 3, storedN: 3}})
    assert.deepEqual(checkQuorum(query('dw=0'), defaults, 3), {ok: true, value: {n: 3, r: 2, w: 2, dw: 0, storedN: 3}})
    // Leading zeros still spell a whole number.
    assert.deepEqual(checkQuorum(query('n=02'), defaults, 3), {ok: true, value: {n: 2, r: 2, w: 2, dw: 0, storedN: 2}})
  })

  it('never shrinks an explicit r or w to a smaller n: larger than n as asked is refused', () => {
    assertFails(checkQuorum(query('n=2&r=3'), defaults, 5), 'bad_parameter', 'r > n')
    assertFails(checkQuorum(query('n=2&w=3'), defaults, 5), 'bad_parameter', 'w > n')
    assertFails(checkQuorum(query('r=4'), defaults, 5), 'bad_parameter', 'r > default n')
    assertFails(checkQuorum(query('w=4'), defaults, 1), 'bad_parameter', 'w > default n on a small cluster')
  })

  it('refuses dw larger than w', () => {
    assertFails(checkQuorum(query('dw=3'), defaults, 5), 'bad_parameter', 'dw > default w')
    assertFails(checkQuorum(query('w=1&dw=2'), defaults, 5), 'bad_parameter', 'dw > w')
  })

  it('takes pr <= r and pw <= w and refuses larger ones', () => {
    assert.deepEqual(checkQuorum(query('r=3&pr=2&w=3&pw=3'), defaults, 5), {ok: true, value: {n: 3, r: 3, w: 3, dw: 0, pr: 2, pw: 3, storedN: 3}})
    const pr = checkQuorum(query('r=2&pr=3'), defaults, 5)
    assert.ok(!pr.ok && pr.error === 'bad_parameter' && /pr=3 is larger than r=2/.test(pr.message))
    const pw = checkQuorum(query('w=1&pw=2'), defaults, 5)
    assert.ok(!pw.ok && pw.error === 'bad_parameter' && /pw=2 is larger than w=1/.test(pw.message))
    const bad = checkQuorum(query('pw=x'), defaults, 5)
    assert.ok(!bad.ok && bad.error === 'bad_parameter')
    const small = checkQuorum(query('pr=2&pw=2'), defaults, 2)
    assert.ok(small.ok)
    assert.equal(quorumHeaders(small.value, 2)['x-dyn-quorum'], 'n=2, r=2, w=2, dw=0, pr=2, pw=2')
  })

  it('refuses huge numbers that pass as whole numbers', () => {
    assertFails(checkQuorum(query('n=999999'), defaults, 5), 'bad_parameter', 'n=999999')
    assertFails(checkQuorum(query('r=999999'), defaults, 5), 'bad_parameter', 'r=999999')
    assertFails(checkQuorum(query('dw=999999'), defaults, 5), 'bad_parameter', 'dw=999999')
  })

  it('accepts exactly the quorums with 1 <= r, w <= n and 0 <= dw <= w as asked and explicit values within the members, then fits the defaults to the cluster', () => {
    const count = fc.option(fc.integer({min: -2, max: 8}), {nil: undefined})
    fc.assert(
      fc.property(count, count, count, count, fc.integer({min: 1, max: 6}), (n, r, w, dw, clusterSize) => {
        const params = new URLSearchParams()
        if (n !== undefined) params.set('n', String(n))
        if (r !== undefined) params.set('r', String(r))
        if (w !== undefined) params.set('w', String(w))
        if (dw !== undefined) params.set('dw', String(dw))
        const askedN = n ?? defaults.n
        const askedR = r ?? Math.min(defaults.r, askedN)
        const askedW = w ?? Math.min(defaults.w, askedN)
        const askedDw = dw ?? 0
        const valid = askedN >= 1 && askedR >= 1 && askedR <= askedN && askedW >= 1 && askedW <= askedN && askedDw >= 0 && askedDw <= askedW
        const checked = checkQuorum(params, defaults, clusterSize)
        // An explicit value is met by that many distinct nodes or refused; defaults are fitted.
        const explicitBeyond = [n, r, w, dw].some((value) => value !== undefined && value > clusterSize)
        if (!valid || explicitBeyond) return assertFails(checked, 'bad_parameter', params.toString())
        const usedN = Math.min(askedN, clusterSize)
        const usedW = Math.min(askedW, usedN)
        const used = {n: usedN, r: Math.min(askedR, usedN), w: usedW, dw: Math.min(askedDw, usedW), storedN: askedN}
        const asked = {n: askedN, r: askedR, w: askedW, dw: askedDw}
        assert.deepEqual(checked, {ok: true, value: usedN < askedN ? {...used, asked} : used})
        // Whatever the request runs with, every value the client gave is kept as given.
        if (r !== undefined) assert.equal(used.r, r)
        if (w !== undefined) assert.equal(used.w, w)
        if (dw !== undefined) assert.equal(used.dw, dw)
      }),
    )
  })
})

describe('checkKnownParameters', () => {
  it('accepts the parameters a route takes, each once', () => {
    assert.deepEqual(checkKnownParameters(query(''), ['r', 'n']), {ok: true, value: null})
    assert.deepEqual(checkKnownParameters(query('r=1&n=2'), ['r', 'n']), {ok: true, value: null})
  })

  it('refuses a parameter given twice, naming both values, rather than read the first (which may be the weaker quorum)', () => {
    for (const text of ['w=2&w=3', 'w=3&w=2', 'r=1&n=3&r=1']) {
      const checked = checkKnownParameters(query(text), ['r', 'w', 'n'])
      assertFails(checked, 'bad_parameter', text)
      if (!checked.ok) assert.match(checked.message, /is given 2 times \((w=2, w=3|w=3, w=2|r=1, r=1)\); give it once$/)
    }
  })

  it('reports an unknown parameter by name', () => {
    const checked = checkKnownParameters(query('r=1&quorum=2'), ['r', 'n'])
    assertFails(checked, 'bad_parameter', 'quorum')
    if (!checked.ok) assert.match(checked.message, /quorum/)
    assertFails(checkKnownParameters(query('R=1'), ['r']), 'bad_parameter', 'a parameter in the wrong case')
    assertFails(checkKnownParameters(query('w=1'), []), 'bad_parameter', 'a route that takes nothing')
    assertFails(checkKnownParameters(query('=1'), ['r']), 'bad_parameter', 'an empty name')
  })
})

describe('checkFlag', () => {
  it('reads absent as false and the usual spellings of true and false', () => {
    assert.deepEqual(checkFlag(query(''), 'json'), {ok: true, value: false})
    for (const text of ['json', 'json=', 'json=true', 'json=1']) assert.deepEqual(checkFlag(query(text), 'json'), {ok: true, value: true}, text)
    for (const text of ['json=false', 'json=0']) assert.deepEqual(checkFlag(query(text), 'json'), {ok: true, value: false}, text)
    // Another flag's value is not this flag's.
    assert.deepEqual(checkFlag(query('other=true'), 'json'), {ok: true, value: false})
  })

  it('refuses any other value', () => {
    for (const text of ['json=yes', 'json=TRUE', 'json=2', 'json=%20', 'json=truee']) {
      assertFails(checkFlag(query(text), 'json'), 'bad_parameter', text)
    }
  })
})

describe('checkContext', () => {
  const actorArb = fc.string({minLength: 1, maxLength: 12}).filter((actor) => !/\p{Cs}/u.test(actor))
  const vectorArb: fc.Arbitrary<VersionVector> = fc
    .uniqueArray(fc.tuple(actorArb, fc.integer({min: 1, max: 2 ** 40})), {selector: ([actor]) => actor, maxLength: 8})
    .map((pairs) => [...pairs].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))

  it('reads an absent header as the empty context', () => {
    assert.deepEqual(checkContext(undefined), {ok: true, value: []})
  })

  it('says a header sent twice was sent twice (Node joins the two with ", ")', () => {
    const token = encodeContext([['n1', 1]], 'k')
    const twice = checkContext(`${token}, ${token}`, 'k')
    assert.equal(twice.ok, false)
    assert.match(twice.ok ? '' : twice.message, /sent more than once/)
  })

  it('round-trips a token from encodeContext, also with surrounding spaces', () => {
    fc.assert(
      fc.property(vectorArb, (vector) => {
        const token = encodeContext(vector, 'k')
        assert.deepEqual(checkContext(token, 'k'), {ok: true, value: vector})
        assert.deepEqual(checkContext(` ${token}\t`, 'k'), {ok: true, value: vector})
        assert.deepEqual(checkContext(token), {ok: true, value: vector}, 'no key given: only its form is checked')
      }),
    )
    assert.deepEqual(checkContext(encodeContext([], 'k'), 'k'), {ok: true, value: []})
  })

  it('refuses a context read from another key, as bad_context saying what to do', () => {
    const checked = checkContext(encodeContext([['n1.aaaa', 7]], 'zk'), 'yk')
    assertFails(checked, 'bad_context', "zk's context for yk")
    assert.ok(!checked.ok)
    assert.equal(
      checked.message,
      'the context token was read from another key: a context applies only to the key it was read from; nothing was written. ' +
        'Read yk (dyn get yk --json, or the X-Dyn-Context header) and write with the context of that read, or send none (a put without one is concurrent with what is stored: kept as its sibling, or on a last-writer-wins cluster the newer write wins; a delete without one deletes the versions it reads first).',
    )
    // A context of format 2, from before contexts carried their key, is taken for any key.
    assert.deepEqual(checkContext('AgILbjEuZDY1YzVmNmMBAAtuMi5mNmFkM2IzNAEAxySeVw', 'yk'), {ok: true, value: [['n1.d65c5f6c', 1], ['n2.f6ad3b34', 1]]})
  })

  it('refuses several headers', () => {
    const token = encodeContext([['a.1', 1]], 'k')
    assertFails(checkContext([token, token]), 'bad_context', 'two headers')
    assertFails(checkContext([token]), 'bad_context', 'a header given as a list')
  })

  it('refuses garbage and altered tokens without throwing', () => {
    // Text in the token's own alphabet as well as any other; never blank (a blank header is not a token).
    const garbageArb = fc
      .oneof(
        fc.string({unit: fc.constantFrom(...'ABCDEFabcdef0123456789-_=+/'), minLength: 1, maxLength: 60}),
        fc.string({unit: 'grapheme', minLength: 1, maxLength: 30}),
      )
      .filter((text) => text.trim().length > 0)
    for (const garbage of ['garbage', 'not base64!', '====', 'AAAA', 'a', '\u0000', '😀']) {
      assertFails(checkContext(garbage), 'bad_context', JSON.stringify(garbage))
    }
    fc.assert(
      fc.property(garbageArb, (garbage) => {
        assertFails(checkContext(garbage), 'bad_context', JSON.stringify(garbage))
      }),
    )
    fc.assert(
      fc.property(vectorArb, fc.nat(), fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), (vector, at, replacement) => {
        const token = encodeContext(vector, 'k')
        const index = at % token.length
        fc.pre(token[index] !== replacement)
        const altered = token.slice(0, index) + replacement + token.slice(index + 1)
        assertFails(checkContext(altered, 'k'), 'bad_context', `${token} altered at ${index}`)
        assertFails(checkContext(token.slice(0, -1), 'k'), 'bad_context', `${token} truncated`)
      }),
    )
  })
})
