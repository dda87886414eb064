/**
 * Tests of the dotted version vector sets (paper §4.4): examples of each rule, the algebraic laws of
 * sync as properties, and a model-based test that replays random histories of writes and syncs on
 * several replicas against the truth tracked dot by dot.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {pack, unpack} from 'msgpackr'
import {
  cloudDotsMax,
  contextDotsMax,
  covers,
  descends,
  dottedValues,
  emptySet,
  entriesMaxDefault,
  isValidVector,
  isValidVersionSet,
  join,
  lww,
  mergeVectors,
  newestDot,
  prune,
  sameVersions,
  sync,
  update,
  valueCount,
  values,
  withDot,
  type ContextEntry,
  type Entry,
  type VersionSet,
  type VersionVector,
} from '../../src/versioning/dvvset.js'

const actorPool = ['a.1', 'a.2', 'b.1', 'c.1', 'd.7'] as const

/** The value of a dot in generated sets: one dot always names one value, as in real histories. */
function dotValue(actor: string, counter: number): string {
  return `${actor}:${counter}`
}

/**
 * One actor's entry in canonical form. Mostly the contiguous runs reads and writes make, and also
 * what puts with single-dot contexts leave behind: live dots with gaps below the counter, and
 * known dots above it (a cloud).
 */
function entryArb(actor: string, counterMax: number): fc.Arbitrary<Entry<string>> {
  return fc
    .record({
      counter: fc.integer({min: 0, max: counterMax}),
      contiguous: fc.boolean(),
      live: fc.integer({min: 0, max: counterMax}),
      mask: fc.array(fc.boolean(), {minLength: counterMax, maxLength: counterMax}),
      cloudGaps: fc.uniqueArray(fc.integer({min: 2, max: 6}), {maxLength: 3}),
      updatedAtMs: fc.integer({min: 0, max: 5}),
    })
    .map(({counter, contiguous, live, mask, cloudGaps, updatedAtMs}) => {
      const top = counter === 0 && cloudGaps.length === 0 ? 1 : counter
      const dots = contiguous
        ? Array.from({length: Math.min(live, top)}, (_, index) => top - index)
        : Array.from({length: top}, (_, index) => top - index).filter((dot) => mask[dot - 1])
      const cloud = cloudGaps.map((gap) => top + gap).sort((x, y) => x - y)
      const runFromTop = dots.every((dot, index) => dot === top - index)
      return {
        actor,
        counter: top,
        values: dots.map((dot) => dotValue(actor, dot)),
        ...(runFromTop ? {} : {dots}),
        ...(cloud.length === 0 ? {} : {cloud}),
        updatedAtMs,
      }
    })
}

function setArb(actors: readonly string[] = actorPool, counterMax = 8): fc.Arbitrary<VersionSet<string>> {
  return fc
    .subarray([...actors].sort())
    .chain((chosen) => fc.tuple(...chosen.map((actor) => entryArb(actor, counterMax))))
    .map((entries) => ({entries}))
}

/** Contexts as reads make them (plain counters) and as puts make them (single dots above a counter). */
const contextEntryArb = (actor: string): fc.Arbitrary<ContextEntry> =>
  fc.oneof(
    fc.integer({min: 1, max: 9}).map((counter): ContextEntry => [actor, counter]),
    fc
      .tuple(fc.integer({min: 0, max: 6}), fc.uniqueArray(fc.integer({min: 2, max: 6}), {minLength: 1, maxLength: 3}))
      .map(([counter, gaps]): ContextEntry => [actor, counter, gaps.map((gap) => counter + gap).sort((x, y) => x - y)]),
  )

const vectorArb: fc.Arbitrary<VersionVector> = fc
  .subarray([...actorPool].sort())
  .chain((chosen) => fc.tuple(...chosen.map((actor) => contextEntryArb(actor))))

/** The highest dot of `actor` a context knows of. */
function highestOf(vector: VersionVector, actor: string): number {
  const entry = vector.find(([name]) => name === actor)
  return entry === undefined ? 0 : Math.max(entry[1], ...(entry[2] ?? []))
}

function dotKeys<V>(s: VersionSet<V>): string[] {
  return dottedValues(s).map(({actor, counter}) => `${actor}:${counter}`)
}

/** Whether a set knows a dot and holds it no longer. */
function supersededIn<V>(s: VersionSet<V>, actor: string, counter: number): boolean {
  return covers(join(s), actor, counter) && !dottedValues(s).some((d) => d.actor === actor && d.counter === counter)
}

describe('dvvset examples', () => {
  it('a first write gets the dot (actor, 1)', () => {
    const s = update([], emptySet<string>(), 'a.1', 'x', 100)
    assert.deepEqual(s, {entries: [{actor: 'a.1', counter: 1, values: ['x'], updatedAtMs: 100}]})
    assert.deepEqual(join(s), [['a.1', 1]])
    assert.deepEqual(dottedValues(s), [{actor: 'a.1', counter: 1, value: 'x'}])
  })

  it('a write with the context of a read supersedes what was read', () => {
    const first = update([], emptySet<string>(), 'a.1', 'x', 100)
    const second = update(join(first), first, 'a.1', 'y', 200)
    assert.deepEqual(values(second), ['y'])
    assert.deepEqual(join(second), [['a.1', 2]])
  })

  it('two writes with the same context through the same coordinator become siblings', () => {
    const first = update([], emptySet<string>(), 'a.1', 'x', 100)
    const context = join(first)
    const left = update(context, first, 'a.1', 'y', 200)
    const both = update(context, left, 'a.1', 'z', 300)
    assert.deepEqual(values(both), ['z', 'y'])
    assert.deepEqual(join(both), [['a.1', 3]])
  })

  it('two writes with no context through the same coordinator become siblings', () => {
    const first = update([], emptySet<string>(), 'a.1', 'x', 100)
    const second = update([], first, 'a.1', 'y', 200)
    assert.deepEqual(values(second), ['y', 'x'])
  })

  it('a write through another coordinator keeps the context counters, so that it supersedes elsewhere', () => {
    const atA = update([], emptySet<string>(), 'a.1', 'x', 100)
    const atB = update(join(atA), emptySet<string>(), 'b.1', 'y', 200)
    assert.deepEqual(atB.entries, [
      {actor: 'a.1', counter: 1, values: [], updatedAtMs: 200},
      {actor: 'b.1', counter: 1, values: ['y'], updatedAtMs: 200},
    ])
    assert.deepEqual(values(sync(atA, atB)), ['y'])
    assert.deepEqual(values(sync(atB, atA)), ['y'])
  })

  it('concurrent writes on two replicas are both kept, then one write with the merged context supersedes both', () => {
    const atA = update([], emptySet<string>(), 'a.1', 'x', 100)
    const atB = update([], emptySet<string>(), 'b.1', 'y', 100)
    const merged = sync(atA, atB)
    assert.deepEqual(values(merged), ['x', 'y'])
    assert.equal(valueCount(merged), 2)
    const resolved = update(join(merged), atA, 'a.1', 'z', 200)
    assert.deepEqual(values(sync(resolved, atB)), ['z'])
  })

  it('a write with a stale context keeps the versions written after that read', () => {
    const first = update([], emptySet<string>(), 'a.1', 'x', 100)
    const staleContext = join(first)
    const second = update(staleContext, first, 'a.1', 'y', 200)
    const third = update(staleContext, second, 'b.1', 'z', 300)
    assert.deepEqual(values(third), ['y', 'z'])
  })

  it('a put context covers the writer\'s own context and its new dot only: an unseen sibling survives writes with it', () => {
    const alice = update([], emptySet<string>(), 'a.1', 'alice', 1)
    const bob = update([], alice, 'a.1', 'bob', 2)
    const bobContext = withDot([], 'a.1', newestDot(bob, 'a.1'))
    assert.deepEqual(bobContext, [['a.1', 0, [2]]])
    const bob2 = update(bobContext, bob, 'a.1', 'bob-2', 3)
    assert.deepEqual(values(bob2), ['bob-2', 'alice'])
    assert.deepEqual(bob2.entries, [{actor: 'a.1', counter: 3, values: ['bob-2', 'alice'], dots: [3, 1], updatedAtMs: 3}])
    // Through another coordinator that has not seen bob's write yet: its dot is remembered as
    // superseded (the cloud), so that bob's version arriving later does not come back.
    const elsewhere = update(withDot(bobContext, 'a.1', 3), emptySet<string>(), 'b.1', 'bob-3', 4)
    assert.deepEqual(elsewhere.entries[0], {actor: 'a.1', counter: 0, values: [], cloud: [2, 3], updatedAtMs: 4})
    // Once it hears of dot 1 (alice, still live), the known dots join up into one counter.
    assert.deepEqual(sync(elsewhere, alice).entries[0], {actor: 'a.1', counter: 3, values: ['alice'], dots: [1], updatedAtMs: 4})
    assert.deepEqual(values(sync(elsewhere, bob2)), ['alice', 'bob-3'])
    assert.deepEqual(values(sync(bob2, elsewhere)), ['alice', 'bob-3'])
    // A read's context covers everything, so a write with it leaves one value.
    assert.deepEqual(values(update(join(sync(elsewhere, bob2)), elsewhere, 'b.1', 'all', 5)), ['all'])
  })

  it('merging one actor keeps exactly the values above both floors', () => {
    const left: VersionSet<string> = {entries: [{actor: 'a.1', counter: 5, values: ['a5', 'a4', 'a3'], updatedAtMs: 9}]}
    const right: VersionSet<string> = {entries: [{actor: 'a.1', counter: 4, values: ['a4'], updatedAtMs: 8}]}
    assert.deepEqual(sync(left, right).entries, [{actor: 'a.1', counter: 5, values: ['a5', 'a4'], updatedAtMs: 9}])
    assert.deepEqual(sync(right, left).entries, [{actor: 'a.1', counter: 5, values: ['a5', 'a4'], updatedAtMs: 9}])
  })

  it('descends and mergeVectors treat missing actors as 0', () => {
    assert.equal(descends([['a', 2], ['b', 1]], [['a', 1]]), true)
    assert.equal(descends([['a', 1]], [['a', 1], ['b', 1]]), false)
    assert.equal(descends([], []), true)
    assert.deepEqual(mergeVectors([['a', 1], ['c', 3]], [['a', 2], ['b', 1]]), [['a', 2], ['b', 1], ['c', 3]])
  })

  it('prune drops only empty entries, oldest first, down to the bound', () => {
    const s: VersionSet<string> = {
      entries: [
        {actor: 'a', counter: 1, values: [], updatedAtMs: 30},
        {actor: 'b', counter: 1, values: ['b1'], updatedAtMs: 10},
        {actor: 'c', counter: 2, values: [], updatedAtMs: 20},
        {actor: 'd', counter: 1, values: [], updatedAtMs: 20},
      ],
    }
    assert.deepEqual(prune(s, 2).entries.map((entry) => entry.actor), ['a', 'b'])
    assert.deepEqual(prune(s, 0).entries.map((entry) => entry.actor), ['b'])
    assert.equal(prune(s, 4), s)
    assert.equal(entriesMaxDefault, 10)
  })

  it('lww keeps the newest value at its own dot, and every counter', () => {
    const s: VersionSet<{t: number}> = {
      entries: [
        {actor: 'a', counter: 3, values: [{t: 5}, {t: 9}], updatedAtMs: 0},
        {actor: 'b', counter: 1, values: [{t: 7}], updatedAtMs: 0},
      ],
    }
    const resolved = lww(s, (x, y) => x.t > y.t)
    assert.deepEqual(values(resolved), [{t: 9}])
    assert.deepEqual(join(resolved), join(s))
    assert.deepEqual(dottedValues(resolved), [{actor: 'a', counter: 2, value: {t: 9}}])
  })

  it('lww breaks ties by actor, then counter', () => {
    const s: VersionSet<string> = {
      entries: [
        {actor: 'a', counter: 3, values: ['a3', 'a2'], updatedAtMs: 0},
        {actor: 'b', counter: 2, values: ['b2', 'b1'], updatedAtMs: 0},
      ],
    }
    assert.deepEqual(values(lww(s, () => false)), ['b2'])
  })

  it('isValidVersionSet rejects malformed sets', () => {
    const good = {entries: [{actor: 'a', counter: 2, values: ['x'], updatedAtMs: 1}]}
    assert.equal(isValidVersionSet(good), true)
    assert.equal(isValidVersionSet(emptySet()), true)
    assert.equal(isValidVersionSet(good, (value) => typeof value === 'string'), true)
    assert.equal(isValidVersionSet(good, (value) => typeof value === 'number'), false)
    const entry = good.entries[0]!
    const bad: unknown[] = [
      null,
      undefined,
      42,
      [],
      {},
      {entries: {}},
      {entries: [null]},
      {entries: [[]]},
      {entries: [{...entry, actor: ''}]},
      {entries: [{...entry, actor: 7}]},
      {entries: [{...entry, counter: 0}]},
      {entries: [{...entry, counter: 1.5}]},
      {entries: [{...entry, counter: 2 ** 53}]},
      {entries: [{...entry, counter: '2'}]},
      {entries: [{...entry, values: ['x', 'y', 'z']}]},
      {entries: [{...entry, values: 'x'}]},
      {entries: [{...entry, updatedAtMs: Number.NaN}]},
      {entries: [{...entry, updatedAtMs: undefined}]},
      {entries: [entry, entry]},
      {entries: [{...entry, actor: 'b'}, entry]},
    ]
    for (const x of bad) assert.equal(isValidVersionSet(x), false, JSON.stringify(x))
  })

  it('the rules that only one check states: an entry of counter 0 needs a cloud; a merged entry takes the later time; a context of another actor covers no dot', () => {
    // Counter 0 and no values passes every other check of an entry: only this rule refuses it.
    assert.equal(isValidVersionSet({entries: [{actor: 'a', counter: 0, values: [], updatedAtMs: 1}]}), false)
    // Two contiguous runs of one actor: the higher keeps its value, and the merge the later time,
    // though that time is the lower run's (so the merge is commutative).
    const higher: VersionSet<string> = {entries: [{actor: 'a', counter: 3, values: ['v3'], updatedAtMs: 100}]}
    const lower: VersionSet<string> = {entries: [{actor: 'a', counter: 2, values: ['v2'], updatedAtMs: 200}]}
    for (const merged of [sync(higher, lower), sync(lower, higher)]) {
      assert.deepEqual(merged.entries.map((entry) => [entry.counter, values({entries: [entry]}), entry.updatedAtMs]), [[3, ['v3'], 200]])
    }
    // The next actor's single dots are not this actor's: z has seen dot 5 of z, not of y.
    assert.equal(descends([['z', 1, [5]]], [['y', 0, [5]]]), false)
    assert.equal(descends([['y', 0, [5]], ['z', 1, [5]]], [['y', 0, [5]]]), true)
  })

  it("a write's context that teaches an entry nothing new leaves that entry's time, which prune goes by", () => {
    const timeOfB = (context: VersionVector, stored: VersionSet<string>): number | undefined => update(context, stored, 'a', 'new', 500).entries.find((entry) => entry.actor === 'b')?.updatedAtMs
    const plain: VersionSet<string> = {entries: [{actor: 'b', counter: 2, values: ['b2'], updatedAtMs: 100}]}
    // Seen up to the entry's own counter: its value is superseded, and its knowledge unchanged.
    assert.equal(timeOfB([['b', 2]], plain), 100)
    assert.equal(timeOfB([['b', 1]], plain), 100)
    // Seen beyond it: its knowledge grows, and so does its time.
    assert.equal(timeOfB([['b', 3]], plain), 500)
    // A single dot the entry knows already (from its cloud) teaches nothing; one it does not, does.
    const clouded: VersionSet<string> = {entries: [{actor: 'b', counter: 2, values: ['b2'], cloud: [4], updatedAtMs: 100}]}
    assert.equal(timeOfB([['b', 0, [4]]], clouded), 100)
    assert.equal(timeOfB([['b', 0, [4, 6]]], clouded), 500)
    // descends needs every single dot of b covered, not just one.
    assert.equal(descends([['y', 0, [5]]], [['y', 0, [5, 7]]]), false)
  })

  it('isValidVersionSet checks live dots, clouds, counters and each value', () => {
    const entry = {actor: 'a', counter: 5, values: ['x', 'y'], updatedAtMs: 1}
    const cloud64 = Array.from({length: cloudDotsMax}, (_, index) => 7 + index)
    const good: unknown[] = [
      {entries: [{...entry, dots: [5, 2]}]},
      {entries: [{...entry, dots: [4, 1]}]},
      {entries: [{...entry, cloud: [7, 9]}]},
      {entries: [{...entry, cloud: cloud64}]},
      {entries: [{actor: 'a', counter: 0, values: [], cloud: [2], updatedAtMs: 0}]},
      {entries: [{...entry, values: ['v', 'w', 'x', 'y', 'z']}]},
      {entries: [entry, {...entry, actor: 'b'}]},
    ]
    for (const x of good) assert.equal(isValidVersionSet(x), true, JSON.stringify(x))
    const bad: unknown[] = [
      {entries: [{...entry, dots: [5]}]},
      {entries: [{...entry, dots: [2, 5]}]},
      {entries: [{...entry, dots: [3, 3]}]},
      {entries: [{...entry, dots: [6, 2]}]},
      {entries: [{...entry, dots: [5, 0]}]},
      {entries: [{...entry, dots: [4.5, 2]}]},
      {entries: [{...entry, dots: ['5', 2]}]},
      {entries: [{...entry, dots: '52'}]},
      {entries: [{...entry, cloud: [6]}]},
      {entries: [{...entry, cloud: [5]}]},
      {entries: [{...entry, cloud: []}]},
      {entries: [{...entry, cloud: [9, 7]}]},
      {entries: [{...entry, cloud: [7, 7]}]},
      {entries: [{...entry, cloud: [7.5]}]},
      {entries: [{...entry, cloud: ['7']}]},
      {entries: [{...entry, cloud: 7}]},
      {entries: [{...entry, cloud: [...cloud64, 7 + cloudDotsMax]}]},
      {entries: [{actor: 'a', counter: -1, values: [], cloud: [1], updatedAtMs: 0}]},
      {entries: [{...entry, values: ['u', 'v', 'w', 'x', 'y', 'z']}]},
      {entries: [{...entry, updatedAtMs: Number.POSITIVE_INFINITY}]},
      {entries: [{...entry, updatedAtMs: '1'}]},
    ]
    for (const x of bad) assert.equal(isValidVersionSet(x), false, JSON.stringify(x))
    // The value check applies to every value, not to any one.
    assert.equal(isValidVersionSet({entries: [{...entry, values: ['x', 1]}]}, (value) => typeof value === 'string'), false)
    assert.equal(isValidVersionSet({entries: [{...entry, values: [1, 'x']}]}, (value) => typeof value === 'string'), false)
  })

  it('isValidVector accepts canonical contexts only', () => {
    const dots64 = Array.from({length: contextDotsMax}, (_, index) => 3 + index)
    const good: unknown[] = [[], [['a', 1]], [['a', 0, [2]]], [['a', 1, [3, 5]], ['b', 2]], [['a', 1, dots64]]]
    for (const x of good) assert.equal(isValidVector(x), true, JSON.stringify(x))
    const bad: unknown[] = [
      null,
      'a',
      {},
      [null],
      ['a'],
      [['a']],
      [['a', 1, [3], 'x']],
      [['', 1]],
      [[7, 1]],
      [['b', 1], ['a', 1]],
      [['a', 1], ['a', 2]],
      [['a', -1, [1]]],
      [['a', 1.5]],
      [['a', '1']],
      [['a', 2 ** 53]],
      [['a', 0]],
      [['a', 1, []]],
      [['a', 1, [2]]],
      [['a', 1, [4, 3]]],
      [['a', 1, [4, 4]]],
      [['a', 1, 4]],
      [['a', 1, [...dots64, 3 + contextDotsMax]]],
    ]
    for (const x of bad) assert.equal(isValidVector(x), false, JSON.stringify(x))
  })

  it('asserts on programmer errors: a bad context, actor, time, counter or bound', () => {
    const stored = update([], emptySet<string>(), 'a.1', 'x', 1)
    assert.throws(() => update([['b', 1], ['a', 1]], stored, 'a.1', 'y', 2), /assertion failed/)
    assert.throws(() => update([], stored, '', 'y', 2), /assertion failed/)
    assert.throws(() => update([], stored, 'a.1', 'y', Number.NaN), /assertion failed/)
    assert.throws(() => update([], stored, 'a.1', 'y', Number.POSITIVE_INFINITY), /assertion failed/)
    const exhausted: VersionSet<string> = {entries: [{actor: 'a.1', counter: Number.MAX_SAFE_INTEGER, values: [], updatedAtMs: 0}]}
    assert.throws(() => update([], exhausted, 'a.1', 'y', 2), /assertion failed/)
    assert.equal(newestDot(update([], {entries: [{actor: 'a.1', counter: Number.MAX_SAFE_INTEGER - 1, values: [], updatedAtMs: 0}]}, 'a.1', 'y', 2), 'a.1'), Number.MAX_SAFE_INTEGER)
    assert.throws(() => newestDot(stored, 'b.1'), /assertion failed/)
    assert.throws(() => withDot([['b', 1], ['a', 1]], 'a', 2), /assertion failed/)
    assert.throws(() => withDot([], 'a', 0), /assertion failed/)
    assert.throws(() => withDot([], 'a', 1.5), /assertion failed/)
    assert.deepEqual(withDot([], 'a', 1), [['a', 1]])
    assert.throws(() => prune(stored, -1), /assertion failed/)
    assert.throws(() => prune(stored, 0.5), /assertion failed/)
    assert.equal(prune(stored, 0), stored)
  })

  it('update keeps a cloud dot of its own actor below the new dot', () => {
    // A replica that knows dot 3 of its own actor only as superseded (from a context) writes dot 4.
    const stored: VersionSet<string> = {entries: [{actor: 'a.1', counter: 1, values: ['one'], cloud: [3], updatedAtMs: 0}]}
    const written = update([], stored, 'a.1', 'four', 5)
    assert.equal(newestDot(written, 'a.1'), 4)
    assert.deepEqual(dottedValues(written), [
      {actor: 'a.1', counter: 4, value: 'four'},
      {actor: 'a.1', counter: 1, value: 'one'},
    ])
    assert.ok(isValidVersionSet(written))
  })

  it('a new dot is above every dot the actor made, whatever the stored copy says', () => {
    // The actor made dots up to 7 on this key, and the copy that said so was reaped; a client
    // still holds a context from then, which covers a.1:1..7.
    const staleContext: VersionVector = [['a.1', 7]]
    const blind = update([], emptySet<string>(), 'a.1', 'blind', 100, 7)
    assert.deepEqual(dottedValues(blind), [{actor: 'a.1', counter: 8, value: 'blind'}])
    // The stale context's write through another coordinator keeps the blind put as a sibling.
    const late = update(staleContext, emptySet<string>(), 'b.1', 'late', 200)
    assert.deepEqual(values(sync(blind, late)), ['blind', 'late'])
    // Without the floor the blind put would have had dot 1, which that context supersedes.
    const reused = update([], emptySet<string>(), 'a.1', 'blind', 100)
    assert.deepEqual(values(sync(reused, late)), ['late'])
    // A context that knows more of the actor than the floor still wins: the new dot is above both.
    assert.equal(newestDot(update([['a.1', 9]], emptySet<string>(), 'a.1', 'v', 100, 7), 'a.1'), 10)
  })

  it('after a reap, an entry of the actor rebuilt lower (from an old context) does not lower the new dot', () => {
    // a.1 wrote v1, v2 and a tombstone (dots 1..3); X read at a.1:1, Y at a.1:2; then the reap.
    const contextX: VersionVector = [['a.1', 1]]
    const contextY: VersionVector = [['a.1', 2]]
    // X writes through b.1: b's copy now holds an entry of a.1 at counter 1 (no value), and
    // replicates it to a.1's node, whose copy was reaped.
    const v3 = update(contextX, emptySet<string>(), 'b.1', 'v3', 10)
    // A blind put through a.1's node, whose ledger says 3: dot 4, not 2.
    const v4 = update([], v3, 'a.1', 'v4', 20, 3)
    assert.equal(newestDot(v4, 'a.1'), 4)
    // Y writes with its old context through b.1: v4 survives as a sibling.
    const v5 = update(contextY, v3, 'b.1', 'v5', 30)
    assert.deepEqual(values(sync(v4, v5)).sort(), ['v3', 'v4', 'v5'])
    // Going by the stored entry alone (floor 0) gave dot 2, which Y's context superseded.
    const reused = update([], v3, 'a.1', 'v4', 20)
    assert.equal(newestDot(reused, 'a.1'), 2)
    assert.deepEqual(values(sync(reused, v5)).sort(), ['v3', 'v5'])
  })

  it('a set is plain data that survives msgpack', () => {
    type StoredVersion = {value: Uint8Array; contentType: string; timestampMs: number; tombstone: boolean}
    const version = (text: string): StoredVersion => ({
      value: new TextEncoder().encode(text),
      contentType: 'text/plain',
      timestampMs: 1700000000000,
      tombstone: false,
    })
    const first = update([], emptySet<StoredVersion>(), 'n1.1', version('x'), 1)
    const s = update([['z.9', 4]], first, 'n2.1', version('y'), 2)
    const back = unpack(pack(s)) as VersionSet<StoredVersion>
    assert.equal(isValidVersionSet(back), true)
    assert.equal(sameVersions(back, s), true)
    assert.deepEqual(
      values(back).map((v) => new TextDecoder().decode(v.value)),
      ['x', 'y'],
    )
  })
})

describe('dvvset properties', () => {
  it('generated sets are valid', () => {
    fc.assert(fc.property(setArb(), (s) => isValidVersionSet(s)))
  })

  it('sync is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(setArb(), setArb(), setArb(), (a, b, c) => {
        assert.deepEqual(sync(a, b), sync(b, a))
        assert.deepEqual(sync(sync(a, b), c), sync(a, sync(b, c)))
        assert.deepEqual(sync(a, a), a)
        assert.deepEqual(sync(a, emptySet()), a)
        assert.ok(sameVersions(sync(a, b), sync(b, a)))
        assert.deepEqual(values(sync(a, b)).sort(), values(sync(b, a)).sort())
        assert.ok(isValidVersionSet(sync(a, b)))
      }),
    )
  })

  it('sync keeps exactly the values that neither side has superseded', () => {
    fc.assert(
      fc.property(setArb(), setArb(), (a, b) => {
        const expected = new Set<string>()
        for (const side of [a, b]) {
          for (const {actor, counter} of dottedValues(side)) {
            if (!supersededIn(a, actor, counter) && !supersededIn(b, actor, counter)) {
              expected.add(dotValue(actor, counter))
            }
          }
        }
        const merged = sync(a, b)
        assert.deepEqual(new Set(values(merged)), expected)
        assert.equal(valueCount(merged), expected.size)
        // Each value is still at its own dot.
        for (const {actor, counter, value} of dottedValues(merged)) assert.equal(value, dotValue(actor, counter))
      }),
    )
  })

  it('join(sync(a, b)) = mergeVectors(join(a), join(b))', () => {
    fc.assert(
      fc.property(setArb(), setArb(), (a, b) => {
        assert.deepEqual(join(sync(a, b)), mergeVectors(join(a), join(b)))
        assert.ok(descends(join(sync(a, b)), join(a)))
      }),
    )
  })

  it('mergeVectors is a join of descends', () => {
    fc.assert(
      fc.property(vectorArb, vectorArb, vectorArb, (a, b, c) => {
        assert.deepEqual(mergeVectors(a, b), mergeVectors(b, a))
        assert.deepEqual(mergeVectors(mergeVectors(a, b), c), mergeVectors(a, mergeVectors(b, c)))
        assert.deepEqual(mergeVectors(a, a), a)
        assert.ok(descends(mergeVectors(a, b), a) && descends(mergeVectors(a, b), b))
        assert.equal(descends(a, b), JSON.stringify(mergeVectors(a, b)) === JSON.stringify(a))
        assert.equal(descends(a, b) && descends(b, a), JSON.stringify(a) === JSON.stringify(b))
      }),
    )
  })

  it('update supersedes exactly what the context saw and adds one new dot', () => {
    fc.assert(
      fc.property(vectorArb, setArb(), fc.constantFrom(...actorPool), fc.integer({min: 0, max: 99}), (context, stored, actor, nowMs) => {
        const result = update(context, stored, actor, 'new', nowMs)
        assert.ok(isValidVersionSet(result))
        const newCounter = Math.max(highestOf(join(stored), actor), highestOf(context, actor)) + 1
        const kept = dottedValues(stored).filter(({actor: a, counter}) => !covers(context, a, counter))
        const expected = [...kept, {actor, counter: newCounter, value: 'new'}]
        const byDot = (x: {actor: string; counter: number}, y: {actor: string; counter: number}) =>
          x.actor < y.actor ? -1 : x.actor > y.actor ? 1 : y.counter - x.counter
        assert.deepEqual(dottedValues(result), expected.sort(byDot))
        // Every other actor knows the union; the writer's own actor knows every dot up to the new one.
        const others = mergeVectors(join(stored), context).filter(([name]) => name !== actor)
        assert.deepEqual(join(result), mergeVectors(others, [[actor, newCounter]]))
      }),
    )
  })

  it('update with join(stored) as the context leaves exactly one value', () => {
    fc.assert(
      fc.property(setArb(), fc.constantFrom(...actorPool), (stored, actor) => {
        assert.deepEqual(values(update(join(stored), stored, actor, 'new', 0)), ['new'])
      }),
    )
  })

  it('two updates with the same context through the same actor give two siblings', () => {
    fc.assert(
      fc.property(fc.oneof(vectorArb, fc.constant([])), setArb(), fc.constantFrom(...actorPool), (context, stored, actor) => {
        const twice = update(context, update(context, stored, actor, 'first', 1), actor, 'second', 2)
        const live = values(twice)
        assert.ok(live.includes('first') && live.includes('second'))
      }),
    )
  })

  it('prune never drops a value and respects the bound', () => {
    const manyActors = Array.from({length: 16}, (_, index) => `n${index.toString().padStart(2, '0')}.1`)
    fc.assert(
      fc.property(setArb(manyActors, 3), fc.integer({min: 0, max: 18}), (s, entriesMax) => {
        const pruned = prune(s, entriesMax)
        assert.deepEqual(values(pruned), values(s))
        assert.deepEqual(dottedValues(pruned), dottedValues(s))
        const withValues = s.entries.filter((entry) => entry.values.length > 0).length
        assert.equal(pruned.entries.length, Math.min(s.entries.length, Math.max(entriesMax, withValues)))
        const keptActors = new Set(pruned.entries.map((entry) => entry.actor))
        const dropped = s.entries.filter((entry) => !keptActors.has(entry.actor))
        const keptEmpty = pruned.entries.filter((entry) => entry.values.length === 0)
        for (const gone of dropped) {
          assert.equal(gone.values.length, 0)
          for (const kept of keptEmpty) {
            assert.ok(gone.updatedAtMs < kept.updatedAtMs || (gone.updatedAtMs === kept.updatedAtMs && gone.actor < kept.actor))
          }
        }
        assert.ok(isValidVersionSet(pruned))
      }),
    )
  })

  it('lww keeps one value, the newest, and every counter', () => {
    fc.assert(
      fc.property(setArb(), fc.func(fc.integer({min: 0, max: 3})), (s, rankOf) => {
        const rank = (value: string) => rankOf(value)
        const resolved = lww(s, (x, y) => rank(x) > rank(y))
        assert.equal(valueCount(resolved), Math.min(1, valueCount(s)))
        assert.deepEqual(join(resolved), join(s))
        const [winner] = values(resolved)
        if (winner !== undefined) {
          assert.ok(values(s).includes(winner))
          assert.ok(values(s).every((value) => rank(value) <= rank(winner)))
        }
        assert.ok(isValidVersionSet(resolved))
      }),
    )
  })

  it('values and dottedValues agree, in order by actor then newest first', () => {
    fc.assert(
      fc.property(setArb(), (s) => {
        const dotted = dottedValues(s)
        assert.deepEqual(dotted.map((d) => d.value), values(s))
        assert.deepEqual(dotKeys(s), values(s))
      }),
    )
  })
})

/**
 * Single dots above `counter`, for a context entry or an entry's cloud: in half the cases the whole
 * cap, so that one more dot, or two of them together, go beyond it; otherwise any number up to it.
 */
function singleDotsArb(counter: number, cap: number): fc.Arbitrary<number[]> {
  return fc
    .oneof(fc.constant(cap), fc.integer({min: 0, max: cap}))
    .chain((length) => fc.uniqueArray(fc.integer({min: counter + 2, max: counter + 2 * cap}), {minLength: length, maxLength: length}))
    .map((dots) => dots.sort((x, y) => x - y))
}

/** A context entry of `actor` whose single dots may fill the whole cap. */
function crowdedContextEntryArb(actor: string): fc.Arbitrary<ContextEntry> {
  return fc
    .integer({min: 0, max: 6})
    .chain((counter) => singleDotsArb(counter, contextDotsMax).map((dots): ContextEntry => (dots.length === 0 ? [actor, Math.max(1, counter)] : [actor, counter, dots])))
}

/** A set of one entry of `actor`, with a run of live values at its counter and a cloud that may fill the whole cap. */
function crowdedSetArb(actor: string): fc.Arbitrary<VersionSet<string>> {
  return fc
    .record({counter: fc.integer({min: 1, max: 6}), live: fc.integer({min: 0, max: 3}), updatedAtMs: fc.integer({min: 0, max: 5})})
    .chain(({counter, live, updatedAtMs}) =>
      singleDotsArb(counter, cloudDotsMax).map((cloud) => {
        const values = Array.from({length: Math.min(live, counter)}, (_, index) => dotValue(actor, counter - index))
        return {entries: [{actor, counter, values, ...(cloud.length === 0 ? {} : {cloud}), updatedAtMs}]}
      }),
    )
}

/**
 * The cap's rule for one actor's known dots: after a merge that may have gone beyond `cap` single
 * dots, the result knows no dot that `knewBefore` did not, keeps at most `cap` single dots, and
 * what it forgot is older than every single dot it kept (it forgets only beyond the cap). Returns
 * how many dots it forgot.
 */
function forgotOldestFirst(knewBefore: (dot: number) => boolean, after: VersionVector, actor: string, dotMax: number, cap: number): number {
  const entry = after.find(([name]) => name === actor)
  const single = entry?.[2] ?? []
  assert.ok(single.length <= cap, `${single.length} single dots kept, the cap is ${cap}`)
  let forgotten = 0
  for (let dot = 1; dot <= dotMax; dot += 1) {
    const knows = covers(after, actor, dot)
    if (knows) assert.ok(knewBefore(dot), `knows dot ${dot}, which nothing it merged knew`)
    if (knows || !knewBefore(dot)) continue
    forgotten += 1
    assert.ok(single.every((kept) => kept > dot), `forgot dot ${dot} but kept an older single dot: [${single.join(', ')}]`)
  }
  if (forgotten > 0) assert.equal(single.length, cap, 'forgot dots below the cap')
  return forgotten
}

/** The highest dot two contexts know of for `actor`, plus a margin to look above it. */
function dotMaxOf(actor: string, ...vectors: VersionVector[]): number {
  return Math.max(...vectors.map((vector) => highestOf(vector, actor))) + 2
}

/**
 * Runs a property over crowded inputs whose check returns how many dots the merge forgot, and
 * asserts that some run went beyond the cap. Shrinking 64-dot arrays takes minutes, so a failure
 * reports the case as generated.
 */
function assertForgetsBeyondCap<A, B>(left: fc.Arbitrary<A>, right: fc.Arbitrary<B>, check: (a: A, b: B) => number): void {
  let capped = 0
  fc.assert(
    fc.property(left, right, (a, b) => {
      if (check(a, b) > 0) capped += 1
    }),
    {numRuns: 300, endOnFailure: true},
  )
  assert.ok(capped > 0, 'no run went beyond the cap')
}

describe('dvvset caps: 64 single dots, the oldest forgotten first', () => {
  it('a put context keeps at most 64 single dots, forgetting the oldest: the dot just written is always covered', () => {
    assertForgetsBeyondCap(crowdedContextEntryArb('a.1'), fc.nat({max: 5}), (entry, gap) => {
      const context: VersionVector = [entry]
      // The dot a put writes is above every dot of its actor that it knew of.
      const dot = highestOf(context, 'a.1') + 1 + gap
      const returned = withDot(context, 'a.1', dot)
      assert.ok(isValidVector(returned))
      assert.ok(covers(returned, 'a.1', dot), 'the context a put returns covers the version it wrote')
      return forgotOldestFirst((d) => d === dot || covers(context, 'a.1', d), returned, 'a.1', dot + 1, contextDotsMax)
    })
  })

  it('merging two contexts beyond 64 single dots forgets the oldest', () => {
    assertForgetsBeyondCap(crowdedContextEntryArb('a.1'), crowdedContextEntryArb('a.1'), (left, right) => {
      const merged = mergeVectors([left], [right])
      assert.ok(isValidVector(merged))
      assert.deepEqual(mergeVectors([right], [left]), merged)
      return forgotOldestFirst((d) => covers([left], 'a.1', d) || covers([right], 'a.1', d), merged, 'a.1', dotMaxOf('a.1', [left], [right]), contextDotsMax)
    })
  })

  it('syncing two sets beyond 64 cloud dots forgets the oldest, and keeps every value neither side superseded', () => {
    assertForgetsBeyondCap(crowdedSetArb('a.1'), crowdedSetArb('a.1'), (a, b) => {
      const merged = sync(a, b)
      assert.ok(isValidVersionSet(merged))
      for (const {actor, counter} of [...dottedValues(a), ...dottedValues(b)]) {
        if (!supersededIn(a, actor, counter) && !supersededIn(b, actor, counter)) assert.ok(values(merged).includes(dotValue(actor, counter)))
      }
      return forgotOldestFirst((d) => covers(join(a), 'a.1', d) || covers(join(b), 'a.1', d), join(merged), 'a.1', dotMaxOf('a.1', join(a), join(b)), cloudDotsMax)
    })
  })
})

/** `entry` with one more known dot above every dot it knows: only its cloud differs. */
function withCloudDot<V>(entry: Entry<V>, gap: number): Entry<V> {
  const cloud = entry.cloud ?? []
  return {...entry, cloud: [...cloud, Math.max(entry.counter + 1, ...cloud) + 1 + gap]}
}

/** `entry` with the dot of its newest live value one lower, its counter and cloud unchanged. */
function withLowerLiveDot<V>(entry: Entry<V>): Entry<V> | undefined {
  const dots = entry.dots ?? entry.values.map((_, index) => entry.counter - index)
  const lowered = [dots[0]! - 1, ...dots.slice(1)]
  // Still strictly decreasing and at least 1, or there is no such set.
  if (entry.values.length === 0 || lowered[0]! < 1 || (lowered.length > 1 && lowered[0]! <= lowered[1]!)) return undefined
  return {...entry, dots: lowered}
}

/** The same causal content as `entry`, with other times and other values at the same dots. */
function retimed<V>(entry: Entry<V>, nowMs: number): Entry<string> {
  return {...entry, values: entry.values.map((_, index) => `other ${index}`), updatedAtMs: nowMs}
}

describe('sameVersions', () => {
  it('is true for the same causal content with other times and values', () => {
    fc.assert(
      fc.property(setArb(), fc.integer({min: 6, max: 99}), (s, nowMs) => {
        assert.equal(sameVersions(s, {entries: s.entries.map((entry) => retimed(entry, nowMs))}), true)
      }),
    )
  })

  it('is false when one entry differs only in its cloud, its counter, its live dots or its count of values', () => {
    fc.assert(
      fc.property(setArb().filter((s) => s.entries.length > 0), fc.nat(), fc.nat({max: 3}), (s, pick, gap) => {
        const index = pick % s.entries.length
        const entry = s.entries[index]!
        const variants: Array<[string, Entry<string> | undefined]> = [
          ['one more cloud dot', withCloudDot(entry, gap)],
          ['a cloud dot moved up', entry.cloud === undefined ? undefined : {...entry, cloud: [...entry.cloud.slice(0, -1), entry.cloud.at(-1)! + 1]}],
          ['a counter one higher', entry.cloud === undefined && entry.dots === undefined ? {...entry, counter: entry.counter + 1} : undefined],
          ['a live dot one lower', withLowerLiveDot(entry)],
          ['one live value fewer', entry.values.length === 0 ? undefined : {...entry, values: entry.values.slice(1), ...(entry.dots === undefined ? {} : {dots: entry.dots.slice(1)})}],
        ]
        for (const [change, changed] of variants) {
          if (changed === undefined) continue
          const other = {entries: s.entries.map((each, at) => (at === index ? changed : each))}
          assert.equal(sameVersions(s, other), false, change)
          assert.equal(sameVersions(other, s), false, change)
        }
      }),
    )
  })

  it('is false for sets of different actors', () => {
    const a = update([], emptySet<string>(), 'a.1', 'x', 1)
    const b = update([], emptySet<string>(), 'b.1', 'x', 1)
    assert.equal(sameVersions(a, b), false)
    assert.equal(sameVersions(a, sync(a, b)), false)
    assert.equal(sameVersions(emptySet(), a), false)
  })
})

/**
 * The model: replicas with one actor each (a coordinator writes with its own actor to its own
 * store), random writes whose context is the one some earlier read returned (of one replica, or
 * of the sync of a few), the one an earlier put returned, or none, and random one-way syncs.
 *
 * The truth is tracked write by write, apart from the contexts: a read has seen what its context
 * covers (that is what reading means), a put has seen what its own context had seen plus itself,
 * and a blind put nothing. A write is superseded exactly when a write that has seen it is known,
 * so no value is ever lost unless a context obtained by reading it (or a successor) covered it.
 */
type Operation =
  | {kind: 'write'; replica: number; contextChoice: {from: 'read' | 'put'; index: number} | undefined}
  | {kind: 'read'; replicas: number[]}
  | {kind: 'sync'; from: number; to: number}

interface Write {
  id: number
  actor: string
  counter: number
  /** The ids of the writes its writer had seen, by the truth. */
  seen: ReadonlySet<number>
}

/** A context a client holds, with the writes it has seen by the truth. */
interface HeldContext {
  context: VersionVector
  seen: ReadonlySet<number>
}

const replicaCount = 3
const replicaIndexArb = fc.integer({min: 0, max: replicaCount - 1})
const operationArb: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({
    kind: fc.constant('write' as const),
    replica: replicaIndexArb,
    contextChoice: fc.option(fc.record({from: fc.constantFrom('read' as const, 'put' as const), index: fc.nat()}), {nil: undefined}),
  }),
  fc.record({
    kind: fc.constant('read' as const),
    replicas: fc.uniqueArray(replicaIndexArb, {minLength: 1, maxLength: replicaCount}),
  }),
  fc.record({kind: fc.constant('sync' as const), from: replicaIndexArb, to: replicaIndexArb}),
)

/** What a replica must hold: the writes it knows of that no write it knows of has seen. */
function expectedLive(known: (write: Write) => boolean, writes: readonly Write[]): number[] {
  const knownWrites = writes.filter(known)
  return knownWrites
    .filter((write) => !knownWrites.some((other) => other.seen.has(write.id)))
    .map((write) => write.id)
    .sort((x, y) => x - y)
}

function checkReplica(s: VersionSet<number>, writes: readonly Write[], label: string): void {
  assert.ok(isValidVersionSet(s), `${label}: invalid set`)
  const clock = join(s)
  const known = (write: Write) => covers(clock, write.actor, write.counter)
  const live = values(s).sort((x, y) => x - y)
  assert.deepEqual(live, expectedLive(known, writes), `${label}: live values differ from the truth`)
  // A value is still at the dot it was written with.
  for (const {actor, counter, value} of dottedValues(s)) {
    const write = writes[value]
    assert.ok(write !== undefined && write.actor === actor && write.counter === counter, `${label}: value moved dot`)
  }
}

function pick<T>(list: readonly T[], index: number): T | undefined {
  return list.length === 0 ? undefined : list[index % list.length]
}

describe('dvvset model', () => {
  it('random histories of reads, blind writes, writes with read and put contexts, and syncs lose nothing no read saw', () => {
    fc.assert(
      fc.property(fc.array(operationArb, {maxLength: 60, size: 'max'}), (operations) => {
        const actors = Array.from({length: replicaCount}, (_, index) => `n${index}.1`)
        const replicas: VersionSet<number>[] = actors.map(() => emptySet<number>())
        const reads: HeldContext[] = []
        const puts: HeldContext[] = []
        const writes: Write[] = []
        const blind: HeldContext = {context: [], seen: new Set()}
        let nowMs = 0
        for (const [step, operation] of operations.entries()) {
          nowMs += 1
          if (operation.kind === 'write') {
            const choice = operation.contextChoice
            const held = (choice === undefined ? undefined : pick(choice.from === 'read' ? reads : puts, choice.index)) ?? blind
            const actor = actors[operation.replica]!
            const id = writes.length
            const result = update(held.context, replicas[operation.replica]!, actor, id, nowMs)
            const counter = newestDot(result, actor)
            writes.push({id, actor, counter, seen: held.seen})
            replicas[operation.replica] = result
            // The context the put hands back covers exactly what its writer had seen, and itself.
            const returned = withDot(held.context, actor, counter)
            const seen = new Set([...held.seen, id])
            for (const write of writes) assert.equal(covers(returned, write.actor, write.counter), seen.has(write.id), `step ${step}: put context and write ${write.id}`)
            puts.push({context: returned, seen})
          } else if (operation.kind === 'read') {
            const merged = operation.replicas.map((index) => replicas[index]!).reduce((x, y) => sync(x, y))
            const context = join(merged)
            reads.push({context, seen: new Set(writes.filter((write) => covers(context, write.actor, write.counter)).map((write) => write.id))})
          } else {
            replicas[operation.to] = sync(replicas[operation.to]!, replicas[operation.from]!)
          }
          replicas.forEach((s, index) => checkReplica(s, writes, `step ${step}, replica ${index}`))
        }
        // Dots are unique: no two writes share one.
        assert.equal(new Set(writes.map((write) => `${write.actor}:${write.counter}`)).size, writes.length)
        const all = replicas.reduce((x, y) => sync(x, y))
        const everything = expectedLive(() => true, writes)
        assert.deepEqual(values(all).sort((x, y) => x - y), everything)
        // Every replica converges to the same set once it has synced with all the others.
        for (const s of replicas) assert.ok(sameVersions(sync(s, all), all))
      }),
      {numRuns: 400},
    )
  })
})
