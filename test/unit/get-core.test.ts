/**
 * Tests of the pure get quorum core and its read repair (paper §4.5): the verdict after every
 * answer, exhaustively over target counts 1..5, every R and PR, every mix of homes and fallbacks
 * and every sequence of answers (found, not found, failure), with replies of mixed n; the merge
 * of replies with `sync` (concurrent siblings kept, dominated versions dropped, the largest n);
 * and `finalAction`, checked against a model that tracks, write by write, which versions each
 * replica holds and which it knows to be superseded.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  addFailure,
  addReply,
  addTarget,
  enough,
  finalAction,
  initGet,
  isComplete,
  mergeReplies,
  type GetCore,
  type GetReply,
  type GetVerdict,
} from '../../src/coordinator/get-core.js'
import type {StoredObject, StoredVersion} from '../../src/storage/stored-object.js'
import {emptySet, join, sync, update, values, type VersionSet} from '../../src/versioning/dvvset.js'

/** The largest target count enumerated: 6^5 sequences of (answer, home or fallback) per R and PR. */
const targetCountMax = 5

type Answer = 'found' | 'missing' | 'failure'
const answerKinds: readonly Answer[] = ['found', 'missing', 'failure']

/**
 * One target's answer, from a home replica or from a fallback answering from its hints. A
 * replica that times out reaches the core as a failure (the coordinator's call to it ends by the
 * deadline), so the sequences whose last answers are failures are the gets that hit their deadline.
 */
interface TargetAnswer {
  readonly answer: Answer
  readonly home: boolean
}

/** Every sequence of `length` answers, each from a home or a fallback: 6^length of them. */
function answerSequences(length: number): TargetAnswer[][] {
  let sequences: TargetAnswer[][] = [[]]
  for (let position = 0; position < length; position += 1) {
    sequences = sequences.flatMap((prefix) => answerKinds.flatMap((answer) => [true, false].map((home) => [...prefix, {answer, home}])))
  }
  return sequences
}

function version(label: string, timestampMs = 1): StoredVersion {
  return {value: new TextEncoder().encode(label), contentType: 'text/plain', timestampMs, tombstone: false}
}

function label(stored: StoredVersion): string {
  return new TextDecoder().decode(stored.value)
}

/** A replica's first write of a key, made with `actor` and no context. */
function firstWrite(actor: string, text: string, n = 3): StoredObject {
  return {versions: update([], emptySet<StoredVersion>(), actor, version(text), 1), n}
}

/** A write on top of what `object` holds, with the context of a read of it (it supersedes it). */
function overwrite(object: StoredObject, actor: string, text: string): StoredObject {
  return {versions: update(join(object.versions), object.versions, actor, version(text), 2), n: object.n}
}

function labels(object: StoredObject | undefined): string[] {
  return object === undefined ? [] : values(object.versions).map(label).sort()
}

function feedAll(core: GetCore, replies: readonly GetReply[]): GetCore {
  return replies.reduce((current, reply) => addReply(current, reply), core)
}

/**
 * Whether R answers, PR of them from homes, can still come: found by trying every way the
 * outstanding homes and fallbacks could answer or fail, not by the core's formula.
 */
function canStillAnswer(answered: number, homeAnswered: number, homesOutstanding: number, fallbacksOutstanding: number, r: number, pr: number): boolean {
  if (answered >= r && homeAnswered >= pr) return true
  if (homesOutstanding > 0) {
    return (
      canStillAnswer(answered + 1, homeAnswered + 1, homesOutstanding - 1, fallbacksOutstanding, r, pr) ||
      canStillAnswer(answered, homeAnswered, homesOutstanding - 1, fallbacksOutstanding, r, pr)
    )
  }
  if (fallbacksOutstanding > 0) {
    return (
      canStillAnswer(answered + 1, homeAnswered, 0, fallbacksOutstanding - 1, r, pr) ||
      canStillAnswer(answered, homeAnswered, 0, fallbacksOutstanding - 1, r, pr)
    )
  }
  return false
}

/** A verdict with its object reduced to what the oracle knows of it: its labels and its n. */
type VerdictSummary =
  | Exclude<GetVerdict, {kind: 'ok'}>
  | {readonly kind: 'ok'; readonly answered: number; readonly labels: string[]; readonly n: number | undefined}

function summary(verdict: GetVerdict): VerdictSummary {
  return verdict.kind === 'ok' ? {kind: 'ok', answered: verdict.answered, labels: labels(verdict.object), n: verdict.object?.n} : verdict
}

/** What the answers so far say, and which targets have not answered yet. */
interface Tally {
  readonly answered: number
  readonly homeAnswered: number
  /** The n of every reply that found the key. */
  readonly foundNs: readonly number[]
  readonly homesOutstanding: number
  readonly fallbacksOutstanding: number
}

function expectedVerdict(tally: Tally, r: number, pr: number): VerdictSummary {
  const {answered, homeAnswered, foundNs} = tally
  if (answered >= r && homeAnswered >= pr) {
    return {kind: 'ok', answered, labels: foundNs.length > 0 ? ['x'] : [], n: foundNs.length > 0 ? Math.max(...foundNs) : undefined}
  }
  if (!canStillAnswer(answered, homeAnswered, tally.homesOutstanding, tally.fallbacksOutstanding, r, pr)) {
    return {kind: 'quorum_unmet', required: r, acknowledged: answered, homeRequired: pr, homeAcknowledged: homeAnswered}
  }
  return {kind: 'wait'}
}

/**
 * The n each target's copy carries when it finds the key: mixed, so that over the sequences a
 * reply with a larger n comes before one with a smaller n and after it.
 */
const nOfTarget = [2, 4, 1, 5, 3] as const

describe('get core: verdicts', () => {
  it('decides exactly like the oracle for every target count, R, PR, mix of homes and fallbacks and answer sequence', () => {
    const foundAt = nOfTarget.map((n) => firstWrite('a.1', 'x', n))
    let checkedVerdicts = 0
    for (let targetCount = 1; targetCount <= targetCountMax; targetCount += 1) {
      const sequences = answerSequences(targetCount)
      for (let r = 1; r <= targetCount; r += 1) {
        for (let pr = 0; pr <= r; pr += 1) {
          for (const sequence of sequences) {
            const where = `targets=${targetCount} r=${r} pr=${pr} answers=${sequence.map(({answer, home}) => `${answer}@${home ? 'home' : 'fallback'}`).join(',')}`
            const homeTargetCount = sequence.filter(({home}) => home).length
            let core = initGet(targetCount, r, pr, homeTargetCount)
            let tally: Tally = {answered: 0, homeAnswered: 0, foundNs: [], homesOutstanding: homeTargetCount, fallbacksOutstanding: targetCount - homeTargetCount}
            let decided: GetVerdict['kind'] | undefined
            assert.deepEqual(summary(enough(core)), expectedVerdict(tally, r, pr), `${where}, before any answer`)
            sequence.forEach(({answer, home}, index) => {
              const node = `node${index}`
              core = answer === 'failure' ? addFailure(core, node, home) : addReply(core, {node, object: answer === 'found' ? foundAt[index] : undefined, home})
              const answered = answer === 'failure' ? 0 : 1
              tally = {
                answered: tally.answered + answered,
                homeAnswered: tally.homeAnswered + (home ? answered : 0),
                foundNs: answer === 'found' ? [...tally.foundNs, nOfTarget[index]!] : tally.foundNs,
                homesOutstanding: tally.homesOutstanding - (home ? 1 : 0),
                fallbacksOutstanding: tally.fallbacksOutstanding - (home ? 0 : 1),
              }
              const verdict = enough(core)
              assert.deepEqual(summary(verdict), expectedVerdict(tally, r, pr), `${where}, after ${index + 1}`)
              // Once decided, later answers never change the decision.
              if (decided !== undefined) assert.equal(verdict.kind, decided, `${where}: ${decided} turned into ${verdict.kind}`)
              if (verdict.kind !== 'wait') decided = verdict.kind
              assert.equal(isComplete(core), index === targetCount - 1, where)
              checkedVerdicts += 1
            })
            // With every answer in (a replica that timed out is a failure), the get is decided.
            assert.notEqual(enough(core).kind, 'wait', `${where}: still waiting with every answer in`)
          }
        }
      }
    }
    assert.ok(checkedVerdicts > 500_000, `only ${checkedVerdicts} verdicts checked`)
  })

  it('counts a replica that has nothing as an answer', () => {
    let core = initGet(3, 2)
    core = addReply(core, {node: 'a', object: undefined})
    core = addReply(core, {node: 'b', object: undefined})
    assert.deepEqual(enough(core), {kind: 'ok', object: undefined, answered: 2})
  })

  it('never changes the core it is given', () => {
    const start = initGet(3, 2)
    const snapshot = structuredClone(start)
    const replied = addReply(start, {node: 'a', object: undefined})
    addFailure(replied, 'b')
    assert.deepEqual(start, snapshot)
    assert.equal(replied.replies.length, 1)
    assert.equal(replied.failed.length, 0)
  })

  it('asserts when a node answers twice', () => {
    const replied = addReply(initGet(3, 2), {node: 'a', object: undefined})
    const failed = addFailure(initGet(3, 2), 'a')
    assert.throws(() => addReply(replied, {node: 'a', object: undefined}), /answered twice/)
    assert.throws(() => addFailure(replied, 'a'), /answered twice/)
    assert.throws(() => addReply(failed, {node: 'a', object: undefined}), /answered twice/)
    assert.throws(() => addFailure(failed, 'a'), /answered twice/)
  })

  it('asserts on more answers than targets and on an R that is not within 1..targets', () => {
    const full = addFailure(addReply(initGet(2, 1), {node: 'a', object: undefined}), 'b')
    assert.throws(() => addReply(full, {node: 'c', object: undefined}), /assertion failed/)
    assert.throws(() => addFailure(full, 'c'), /assertion failed/)
    assert.throws(() => initGet(3, 4), /assertion failed/)
    assert.throws(() => initGet(3, 0), /assertion failed/)
    assert.throws(() => initGet(3, 1.5), /assertion failed/)
    assert.throws(() => initGet(0, 1), /assertion failed/)
    assert.doesNotThrow(() => initGet(3, 3))
  })

  it('asserts on a PR above R or not a count, and on a home target count above the targets or not a count', () => {
    assert.throws(() => initGet(3, 2, 3), /assertion failed/)
    assert.throws(() => initGet(3, 2, -1), /assertion failed/)
    assert.throws(() => initGet(3, 2, 0.5), /assertion failed/)
    assert.throws(() => initGet(3, 2, 0, 4), /assertion failed/)
    assert.throws(() => initGet(3, 2, 0, -1), /assertion failed/)
    assert.throws(() => initGet(3, 2, 0, 1.5), /assertion failed/)
    assert.doesNotThrow(() => initGet(3, 2, 2, 3))
    assert.doesNotThrow(() => initGet(3, 2, 0, 0))
  })

  it('counts a failure as a home failure unless told it is a fallback', () => {
    // Two of the three targets are homes and PR = 1: once both homes failed, PR cannot be met.
    const bothFailed = addFailure(addFailure(initGet(3, 1, 1, 2), 'home-a'), 'home-b')
    assert.equal(bothFailed.homeFailed, 2)
    assert.equal(enough(bothFailed).kind, 'quorum_unmet')
    const fallbackFailed = addFailure(addFailure(initGet(3, 1, 1, 2), 'home-a'), 'fallback', false)
    assert.equal(fallbackFailed.homeFailed, 1)
    assert.equal(enough(fallbackFailed).kind, 'wait')
  })
})

describe('get core: merge and read repair', () => {
  // a wrote v1; b read it and wrote v2 over it; c wrote v3 knowing nothing. v2 and v3 are
  // concurrent siblings, v1 is dominated by v2.
  const a = firstWrite('a.1', 'v1')
  const b = overwrite(a, 'b.1', 'v2')
  const c = firstWrite('c.1', 'v3', 2)
  const everything: StoredObject = {versions: sync(b.versions, c.versions), n: 3}

  it('merges replies into the siblings of different replicas, without a dominated version', () => {
    let core = initGet(4, 3)
    core = addReply(core, {node: 'A', object: a})
    core = addReply(core, {node: 'B', object: b})
    assert.deepEqual(labels(mergeReplies(core.replies)), ['v2'])
    core = addReply(core, {node: 'C', object: c})
    const verdict = enough(core)
    assert.equal(verdict.kind, 'ok')
    if (verdict.kind !== 'ok') return
    assert.deepEqual(labels(verdict.object), ['v2', 'v3'])
    assert.equal(verdict.answered, 3)
    // The object's N is the largest any replica stored.
    assert.equal(verdict.object?.n, 3)
  })

  it('merges the same way whatever order the replies come in', () => {
    const replies: GetReply[] = [
      {node: 'A', object: a},
      {node: 'B', object: b},
      {node: 'C', object: c},
      {node: 'D', object: undefined},
    ]
    const reference = labels(mergeReplies(replies))
    for (const order of [[3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]]) {
      assert.deepEqual(labels(mergeReplies(order.map((index) => replies[index]!))), reference)
    }
  })

  it('gives the merged object the largest n of any reply, whatever order replies of mixed n come in', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer({min: 1, max: 6}), {nil: undefined}), {minLength: 1, maxLength: 5}), (ns) => {
        const replies: GetReply[] = ns.map((n, index) => ({node: `r${index}`, object: n === undefined ? undefined : firstWrite(`r${index}.1`, `v${index}`, n)}))
        const found = ns.filter((n): n is number => n !== undefined)
        const expected = found.length === 0 ? undefined : Math.max(...found)
        assert.equal(mergeReplies(replies)?.n, expected)
        const core = feedAll(initGet(replies.length, replies.length), replies)
        const verdict = enough(core)
        assert.equal(verdict.kind === 'ok' ? verdict.object?.n : 'not ok', expected)
        assert.equal(finalAction(core).object?.n, expected)
      }),
    )
  })

  it('repairs exactly the replicas that are missing the object or hold less than the merge', () => {
    let core = initGet(5, 2)
    core = feedAll(core, [
      {node: 'A', object: a},
      {node: 'B', object: b},
      {node: 'C', object: c},
      {node: 'D', object: undefined},
      {node: 'E', object: everything},
    ])
    assert.equal(isComplete(core), true)
    const action = finalAction(core)
    assert.deepEqual(labels(action.object), ['v2', 'v3'])
    assert.deepEqual([...action.repairTargets].sort(), ['A', 'B', 'C', 'D'])
    // Given the merge of the same replies (as a coordinator that answered with it does), the same action.
    assert.deepEqual(finalAction(core, mergeReplies(core.replies)), action)
  })

  it('repairs no replica when every one that answered already has everything', () => {
    const core = feedAll(initGet(3, 2), [
      {node: 'A', object: everything},
      {node: 'B', object: {versions: sync(c.versions, b.versions), n: 3}},
    ])
    const action = finalAction(addFailure(core, 'C'))
    assert.deepEqual(labels(action.object), ['v2', 'v3'])
    assert.deepEqual(action.repairTargets, [])
  })

  it('repairs nothing when no replica found the key', () => {
    const core = feedAll(initGet(3, 1), [
      {node: 'A', object: undefined},
      {node: 'B', object: undefined},
    ])
    assert.deepEqual(finalAction(addFailure(core, 'C')), {object: undefined, repairTargets: []})
  })

  it('does not repair a replica that failed: it never answered', () => {
    const core = addFailure(feedAll(initGet(3, 1), [{node: 'A', object: a}, {node: 'B', object: b}]), 'C')
    assert.deepEqual(finalAction(core).repairTargets, ['A'])
  })
})

/**
 * A random history of writes and syncs on a few replicas, replayed both on real version sets and
 * on a model. In the model a replica holds the ids of its live versions and the ids of every
 * version it has heard of; a write supersedes every version its context (a read of some replica)
 * had heard of.
 */
type Step = {kind: 'write'; replica: number; contextFrom: number | undefined} | {kind: 'sync'; replica: number; from: number}

interface ModelReplica {
  live: Set<number>
  heard: Set<number>
}

const replicaCount = 4
const actors = ['r0.1', 'r1.1', 'r2.1', 'r3.1'] as const

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('write' as const),
    replica: fc.nat({max: replicaCount - 1}),
    contextFrom: fc.option(fc.nat({max: replicaCount - 1}), {nil: undefined}),
  }),
  fc.record({kind: fc.constant('sync' as const), replica: fc.nat({max: replicaCount - 1}), from: fc.nat({max: replicaCount - 1})}),
)

function replay(steps: readonly Step[]): {sets: VersionSet<StoredVersion>[]; model: ModelReplica[]} {
  const sets = actors.map(() => emptySet<StoredVersion>())
  const model = actors.map(() => ({live: new Set<number>(), heard: new Set<number>()}))
  steps.forEach((step, id) => {
    const mine = model[step.replica]!
    if (step.kind === 'write') {
      const contextSet = step.contextFrom === undefined ? emptySet<StoredVersion>() : sets[step.contextFrom]!
      const contextHeard = step.contextFrom === undefined ? new Set<number>() : new Set(model[step.contextFrom]!.heard)
      sets[step.replica] = update(join(contextSet), sets[step.replica]!, actors[step.replica]!, version(`w${id}`, id), id)
      mine.live = new Set([...mine.live].filter((seen) => !contextHeard.has(seen)))
      mine.live.add(id)
      mine.heard = new Set([...mine.heard, ...contextHeard, id])
    } else {
      const other = model[step.from]!
      sets[step.replica] = sync(sets[step.replica]!, sets[step.from]!)
      // A version survives unless one side heard of it and no longer holds it.
      const candidates = new Set([...mine.live, ...other.live])
      mine.live = new Set(
        [...candidates].filter((id) => (!mine.heard.has(id) || mine.live.has(id)) && (!other.heard.has(id) || other.live.has(id))),
      )
      mine.heard = new Set([...mine.heard, ...other.heard])
    }
  })
  return {sets, model}
}

function sortedIds(ids: Iterable<number>): number[] {
  return [...ids].sort((x, y) => x - y)
}

describe('get core: read repair against a model', () => {
  it('merges to exactly the undominated versions and repairs exactly the replicas that lack some', () => {
    fc.assert(
      fc.property(
        fc.array(stepArb, {maxLength: 14}),
        fc.subarray([0, 1, 2, 3], {minLength: 1}),
        fc.nat({max: 3}),
        (steps, answering, rSeed) => {
          const {sets, model} = replay(steps)
          const replies: GetReply[] = answering.map((index) => ({
            node: `r${index}`,
            // A replica that never heard of the key has nothing to return.
            object: model[index]!.heard.size === 0 ? undefined : {versions: sets[index]!, n: 3},
          }))
          for (const index of answering) {
            // The model and the real sets agree on what each replica holds.
            assert.deepEqual(sortedIds(values(sets[index]!).map((v) => v.timestampMs)), sortedIds(model[index]!.live))
          }
          const r = (rSeed % answering.length) + 1
          let core = initGet(replicaCount, r)
          core = feedAll(core, replies)
          for (let index = 0; index < replicaCount; index += 1) {
            if (!answering.includes(index)) core = addFailure(core, `r${index}`)
          }
          assert.equal(isComplete(core), true)

          const heard = new Set(answering.flatMap((index) => [...model[index]!.heard]))
          const live = answering
            .flatMap((index) => [...model[index]!.live])
            .filter((id) => answering.every((index) => !model[index]!.heard.has(id) || model[index]!.live.has(id)))
          const expectedLive = sortedIds(new Set(live))

          const verdict = enough(core)
          assert.equal(verdict.kind, 'ok')
          const action = finalAction(core)
          if (heard.size === 0) {
            assert.equal(action.object, undefined)
            assert.deepEqual(action.repairTargets, [])
            return
          }
          assert.ok(action.object !== undefined)
          assert.deepEqual(sortedIds(values(action.object.versions).map((v) => v.timestampMs)), expectedLive)
          if (verdict.kind === 'ok') assert.deepEqual(verdict.object, action.object)

          const expectedTargets = answering
            .filter((index) => {
              const replica = model[index]!
              const sameLive = sortedIds(replica.live).join() === expectedLive.join()
              const sameHeard = replica.heard.size === heard.size
              return !(sameLive && sameHeard)
            })
            .map((index) => `r${index}`)
          assert.deepEqual([...action.repairTargets].sort(), expectedTargets.sort())
        },
      ),
      {numRuns: 300},
    )
  })

  it('PR counts home answers only; R counts the fallback answering from its hint', () => {
    let core = initGet(3, 2, 2, 2)
    core = addReply(core, {node: 'fallback', object: undefined, home: false})
    core = addReply(core, {node: 'home-a', object: undefined, home: true})
    assert.deepEqual(enough(core), {kind: 'wait'})
    core = addReply(core, {node: 'home-b', object: undefined, home: true})
    assert.equal(enough(core).kind, 'ok')
  })

  it('a home that failed and a spare fallback asked in its place: the spare fills its place, and the home no longer counts towards PR', () => {
    // Three targets, two of them homes; home-a refuses at once and a spare is asked for it.
    let core = addTarget(addFailure(initGet(3, 2, 1, 2), 'home-a'), false)
    assert.equal(core.homeFailed, 1)
    assert.equal(isComplete(core), false)
    assert.deepEqual(enough(core), {kind: 'wait'})
    core = addReply(core, {node: 'spare', object: undefined, home: false})
    core = addReply(core, {node: 'home-b', object: undefined, home: true})
    assert.equal(enough(core).kind, 'ok')
    core = addReply(core, {node: 'fallback', object: undefined, home: false})
    assert.equal(isComplete(core), true)
    // With PR = 2 the failed home leaves too few homes, spare or not: the get fails at once.
    assert.equal(enough(addTarget(addFailure(initGet(3, 2, 2, 2), 'home-a'), false)).kind, 'quorum_unmet')
  })

  it('fails early when PR homes can no longer answer', () => {
    let core = initGet(3, 2, 2, 2)
    core = addFailure(core, 'home-a', true)
    assert.deepEqual(enough(core), {kind: 'quorum_unmet', required: 2, acknowledged: 0, homeRequired: 2, homeAcknowledged: 0})
  })

  it('read repair never targets a fallback: its copy is a hint, which handoff delivers', () => {
    let core = initGet(3, 1, 0, 2)
    core = addReply(core, {node: 'home-a', object: undefined, home: true})
    core = addReply(core, {node: 'fallback', object: undefined, home: false})
    core = addReply(core, {node: 'home-b', object: firstWrite('a.1', 'x'), home: true})
    assert.deepEqual(finalAction(core).repairTargets, ['home-a'])
  })
})
