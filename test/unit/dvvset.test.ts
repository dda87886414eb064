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
  descends,
  dottedValues,
  emptySet,
  entriesMaxDefault,
  isValidVersionSet,
  join,
  lww,
  mergeVectors,
  prune,
  sameVersions,
  sync,
  update,
  valueCount,
  values,
  type Entry,
  type VersionSet,
  type VersionVector,
} from '../../src/versioning/dvvset.js'

const actorPool = ['a.1', 'a.2', 'b.1', 'c.1', 'd.7'] as const

/** The value of a dot in generated sets: one dot always names one value, as in real histories. */
function dotValue(actor: string, counter: number): string {
  return `${actor}:${counter}`
}

function entryArb(actor: string, counterMax: number): fc.Arbitrary<Entry<string>> {
  return fc
    .record({
      counter: fc.integer({min: 1, max: counterMax}),
      live: fc.integer({min: 0, max: counterMax}),
      updatedAtMs: fc.integer({min: 0, max: 5}),
    })
    .map(({counter, live, updatedAtMs}) => ({
      actor,
      counter,
      values: Array.from({length: Math.min(live, counter)}, (_, index) => dotValue(actor, counter - index)),
      updatedAtMs,
    }))
}

function setArb(actors: readonly string[] = actorPool, counterMax = 8): fc.Arbitrary<VersionSet<string>> {
  return fc
    .subarray([...actors].sort())
    .chain((chosen) => fc.tuple(...chosen.map((actor) => entryArb(actor, counterMax))))
    .map((entries) => ({entries}))
}

const vectorArb: fc.Arbitrary<VersionVector> = fc
  .subarray([...actorPool].sort())
  .chain((chosen) => fc.tuple(...chosen.map((actor) => fc.tuple(fc.constant(actor), fc.integer({min: 1, max: 9})))))

function counterOf(vector: VersionVector, actor: string): number {
  return vector.find(([name]) => name === actor)?.[1] ?? 0
}

function dotKeys<V>(s: VersionSet<V>): string[] {
  return dottedValues(s).map(({actor, counter}) => `${actor}:${counter}`)
}

/** Whether a set knows a dot and holds it no longer: it lies at or below the entry's floor. */
function supersededIn<V>(s: VersionSet<V>, actor: string, counter: number): boolean {
  const entry = s.entries.find((candidate) => candidate.actor === actor)
  return entry !== undefined && counter <= entry.counter - entry.values.length
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

  it('lww keeps the newest value at its actor newest dot, and every counter', () => {
    const s: VersionSet<{t: number}> = {
      entries: [
        {actor: 'a', counter: 3, values: [{t: 5}, {t: 9}], updatedAtMs: 0},
        {actor: 'b', counter: 1, values: [{t: 7}], updatedAtMs: 0},
      ],
    }
    const resolved = lww(s, (x, y) => x.t > y.t)
    assert.deepEqual(values(resolved), [{t: 9}])
    assert.deepEqual(join(resolved), join(s))
    assert.deepEqual(dottedValues(resolved), [{actor: 'a', counter: 3, value: {t: 9}}])
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
        const newCounter = Math.max(counterOf(join(stored), actor), counterOf(context, actor)) + 1
        const kept = dottedValues(stored).filter(({actor: a, counter}) => counter > counterOf(context, a))
        const expected = [...kept, {actor, counter: newCounter, value: 'new'}]
        const byDot = (x: {actor: string; counter: number}, y: {actor: string; counter: number}) =>
          x.actor < y.actor ? -1 : x.actor > y.actor ? 1 : y.counter - x.counter
        assert.deepEqual(dottedValues(result), expected.sort(byDot))
        assert.deepEqual(join(result), mergeVectors(mergeVectors(join(stored), context), [[actor, newCounter]]))
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
 * The model: replicas with one actor each (a coordinator writes with its own actor to its own
 * store), random writes whose context is the join of some earlier read (of one replica, or of the
 * sync of a few) or no context, and random one-way syncs. The truth is tracked by dots: a write is
 * superseded exactly when some write's context covered its dot.
 */
type Operation =
  | {kind: 'write'; replica: number; readChoice: number | undefined}
  | {kind: 'read'; replicas: number[]}
  | {kind: 'sync'; from: number; to: number}

interface Write {
  id: number
  actor: string
  counter: number
  context: VersionVector
}

const replicaCount = 3
const replicaIndexArb = fc.integer({min: 0, max: replicaCount - 1})
const operationArb: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({
    kind: fc.constant('write' as const),
    replica: replicaIndexArb,
    readChoice: fc.option(fc.nat(), {nil: undefined}),
  }),
  fc.record({
    kind: fc.constant('read' as const),
    replicas: fc.uniqueArray(replicaIndexArb, {minLength: 1, maxLength: replicaCount}),
  }),
  fc.record({kind: fc.constant('sync' as const), from: replicaIndexArb, to: replicaIndexArb}),
)

function covers(context: VersionVector, write: Write): boolean {
  return counterOf(context, write.actor) >= write.counter
}

/** What a replica must hold: the writes it knows of that no write it knows of has superseded. */
function expectedLive(known: (write: Write) => boolean, writes: readonly Write[]): number[] {
  const knownWrites = writes.filter(known)
  return knownWrites
    .filter((write) => !knownWrites.some((other) => covers(other.context, write)))
    .map((write) => write.id)
    .sort((x, y) => x - y)
}

function checkReplica(s: VersionSet<number>, writes: readonly Write[], label: string): void {
  assert.ok(isValidVersionSet(s), `${label}: invalid set`)
  const clock = join(s)
  const known = (write: Write) => counterOf(clock, write.actor) >= write.counter
  const live = values(s).sort((x, y) => x - y)
  assert.deepEqual(live, expectedLive(known, writes), `${label}: live values differ from the truth`)
  // A value is still at the dot it was written with.
  for (const {actor, counter, value} of dottedValues(s)) {
    const write = writes[value]
    assert.ok(write !== undefined && write.actor === actor && write.counter === counter, `${label}: value moved dot`)
  }
}

describe('dvvset model', () => {
  it('random histories of writes and syncs keep exactly the values no context saw', () => {
    fc.assert(
      fc.property(fc.array(operationArb, {maxLength: 60, size: 'max'}), (operations) => {
        const actors = Array.from({length: replicaCount}, (_, index) => `n${index}.1`)
        const replicas: VersionSet<number>[] = actors.map(() => emptySet<number>())
        const reads: VersionVector[] = []
        const writes: Write[] = []
        let nowMs = 0
        for (const [step, operation] of operations.entries()) {
          nowMs += 1
          if (operation.kind === 'write') {
            const context = operation.readChoice === undefined || reads.length === 0 ? [] : reads[operation.readChoice % reads.length]!
            const actor = actors[operation.replica]!
            const id = writes.length
            const result = update(context, replicas[operation.replica]!, actor, id, nowMs)
            const counter = counterOf(join(result), actor)
            writes.push({id, actor, counter, context})
            replicas[operation.replica] = result
          } else if (operation.kind === 'read') {
            const merged = operation.replicas.map((index) => replicas[index]!).reduce((x, y) => sync(x, y))
            reads.push(join(merged))
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
      {numRuns: 300},
    )
  })
})
