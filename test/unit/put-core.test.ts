/**
 * Tests of the pure put quorum core (paper §4.5): exhaustively over every target count from 1 to
 * 4, every W, DW and PW, every mix of homes and fallbacks, and every sequence of answers (durable
 * ack, plain ack, failure), the verdict after each answer is compared with an oracle that tries
 * every way the outstanding replicas could still answer. Also the figures a verdict carries,
 * purity, and the assertions on misuse.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {addAck, addFailure, enough, initPut, replaceTarget, type PutCore, type PutVerdict} from '../../src/coordinator/put-core.js'

type Answer = 'durable' | 'plain' | 'failure'
const answerKinds: readonly Answer[] = ['durable', 'plain', 'failure']

/**
 * One target's answer, from a home replica or from a fallback that keeps the write as a hint. A
 * replica that times out reaches the core as a failure (the coordinator's call to it ends by the
 * deadline), so the sequences whose last answers are failures are the puts that hit their deadline.
 */
interface TargetAnswer {
  readonly answer: Answer
  readonly home: boolean
}

/** The largest target count enumerated: 6^4 sequences per (W, DW, PW) keep the suite fast. */
const targetCountMax = 4

/** Every sequence of `length` answers, each from a home or a fallback, in every order: 6^length of them. */
function answerSequences(length: number): TargetAnswer[][] {
  let sequences: TargetAnswer[][] = [[]]
  for (let position = 0; position < length; position += 1) {
    sequences = sequences.flatMap((prefix) => answerKinds.flatMap((answer) => [true, false].map((home) => [...prefix, {answer, home}])))
  }
  return sequences
}

/** The acknowledgements so far, and which targets have not answered yet. */
interface Tally {
  readonly acks: number
  readonly durable: number
  readonly homeAcks: number
  readonly homesOutstanding: number
  readonly fallbacksOutstanding: number
}

/** The tally after one more answer from a home or a fallback. */
function tallied(tally: Tally, {answer, home}: TargetAnswer): Tally {
  const acked = answer === 'failure' ? 0 : 1
  return {
    acks: tally.acks + acked,
    durable: tally.durable + (answer === 'durable' ? 1 : 0),
    homeAcks: tally.homeAcks + (home ? acked : 0),
    homesOutstanding: tally.homesOutstanding - (home ? 1 : 0),
    fallbacksOutstanding: tally.fallbacksOutstanding - (home ? 0 : 1),
  }
}

function met(tally: Tally, w: number, dw: number, pw: number): boolean {
  return tally.acks >= w && tally.durable >= dw && tally.homeAcks >= pw
}

/**
 * Whether some way of answering for the outstanding homes and fallbacks still reaches W acks, DW
 * of them durable and PW of them from homes. Found by trying every completion, not by the core's formula.
 */
function canStillSucceed(tally: Tally, w: number, dw: number, pw: number): boolean {
  if (met(tally, w, dw, pw)) return true
  const home = tally.homesOutstanding > 0
  if (!home && tally.fallbacksOutstanding === 0) return false
  return answerKinds.some((answer) => canStillSucceed(tallied(tally, {answer, home}), w, dw, pw))
}

function feed(core: PutCore, node: string, {answer, home}: TargetAnswer): PutCore {
  return answer === 'failure' ? addFailure(core, node, home) : addAck(core, node, answer === 'durable', home)
}

function expectedVerdict(tally: Tally, w: number, dw: number, pw: number): PutVerdict {
  const {acks, durable, homeAcks} = tally
  if (met(tally, w, dw, pw)) return {kind: 'ok', acknowledged: acks}
  if (!canStillSucceed(tally, w, dw, pw)) {
    return {kind: 'quorum_unmet', required: w, acknowledged: acks, durableRequired: dw, durableAcknowledged: durable, homeRequired: pw, homeAcknowledged: homeAcks}
  }
  return {kind: 'wait'}
}

describe('put core', () => {
  it('decides exactly like the oracle for every target count, W, DW, PW, mix of homes and fallbacks and answer sequence', () => {
    let checkedVerdicts = 0
    for (let targetCount = 1; targetCount <= targetCountMax; targetCount += 1) {
      const sequences = answerSequences(targetCount)
      for (let w = 1; w <= targetCount; w += 1) {
        for (let dw = 0; dw <= w; dw += 1) {
          for (let pw = 0; pw <= w; pw += 1) {
            for (const sequence of sequences) {
              const homeTargetCount = sequence.filter(({home}) => home).length
              let core = initPut(targetCount, w, dw, pw, homeTargetCount)
              let tally: Tally = {acks: 0, durable: 0, homeAcks: 0, homesOutstanding: homeTargetCount, fallbacksOutstanding: targetCount - homeTargetCount}
              const where = `targets=${targetCount} w=${w} dw=${dw} pw=${pw} answers=${sequence.map(({answer, home}) => `${answer}@${home ? 'home' : 'fallback'}`).join(',')}`
              assert.deepEqual(enough(core), expectedVerdict(tally, w, dw, pw), `${where}, before any answer`)
              let decided: PutVerdict['kind'] | undefined
              sequence.forEach((answer, index) => {
                core = feed(core, `node${index}`, answer)
                tally = tallied(tally, answer)
                const verdict = enough(core)
                assert.deepEqual(verdict, expectedVerdict(tally, w, dw, pw), `${where}, after ${index + 1}`)
                // Once decided, later answers never change the decision.
                if (decided !== undefined) assert.equal(verdict.kind, decided, `${where}: ${decided} turned into ${verdict.kind}`)
                if (verdict.kind !== 'wait') decided = verdict.kind
                checkedVerdicts += 1
              })
              // With every answer in (a replica that timed out is a failure), the put is decided.
              assert.notEqual(enough(core).kind, 'wait', `${where}: still waiting with every answer in`)
            }
          }
        }
      }
    }
    assert.ok(checkedVerdicts > 200_000, `only ${checkedVerdicts} verdicts checked`)
  })

  it('feeds nodes in any order: the verdict depends on the answers, not on who gave them', () => {
    const orders = [
      ['c', 'a', 'b'],
      ['b', 'c', 'a'],
    ]
    for (const order of orders) {
      let core = initPut(3, 2, 1)
      core = addAck(core, order[0]!, false)
      assert.deepEqual(enough(core), {kind: 'wait'})
      core = addAck(core, order[1]!, false)
      // Two acks but none durable: DW=1 still needs the third replica.
      assert.deepEqual(enough(core), {kind: 'wait'})
      core = addAck(core, order[2]!, true)
      assert.deepEqual(enough(core), {kind: 'ok', acknowledged: 3})
    }
  })

  it('reports what was required and what was acknowledged when the quorum is unmet', () => {
    let core = initPut(3, 2, 1)
    core = addAck(core, 'a', false)
    core = addFailure(core, 'b')
    assert.deepEqual(enough(core), {kind: 'wait'})
    core = addFailure(core, 'c')
    assert.deepEqual(enough(core), {
      kind: 'quorum_unmet',
      required: 2,
      acknowledged: 1,
      durableRequired: 1,
      durableAcknowledged: 0,
      homeRequired: 0,
      homeAcknowledged: 1,
    })
  })

  it('fails early on DW alone: enough acks but too few replicas left to write durably', () => {
    let core = initPut(3, 2, 2)
    core = addAck(core, 'a', false)
    core = addAck(core, 'b', false)
    assert.deepEqual(enough(core), {
      kind: 'quorum_unmet',
      required: 2,
      acknowledged: 2,
      durableRequired: 2,
      durableAcknowledged: 0,
      homeRequired: 0,
      homeAcknowledged: 2,
    })
  })

  it('PW counts home acknowledgements only: fallbacks count towards W, not PW', () => {
    // Three targets: two homes and one fallback standing in for a third home.
    let core = initPut(3, 2, 0, 2, 2)
    core = addAck(core, 'home-a', false, true)
    core = addAck(core, 'fallback', false, false)
    // W=2 is met, but only one home has acknowledged.
    assert.deepEqual(enough(core), {kind: 'wait'})
    core = addAck(core, 'home-b', false, true)
    assert.deepEqual(enough(core), {kind: 'ok', acknowledged: 3})
  })

  it('fails early on PW alone: a home failed, and the fallback cannot make up for it', () => {
    let core = initPut(3, 2, 0, 2, 2)
    core = addAck(core, 'home-a', false, true)
    core = addFailure(core, 'home-b', true)
    assert.deepEqual(enough(core), {kind: 'quorum_unmet', required: 2, acknowledged: 1, durableRequired: 0, durableAcknowledged: 0, homeRequired: 2, homeAcknowledged: 1})
  })

  it('with PW = 0, a fallback acknowledgement counts like a home one (sloppy quorum)', () => {
    let core = initPut(3, 3, 0, 0, 2)
    core = addAck(core, 'home-a', false, true)
    core = addAck(core, 'home-b', false, true)
    core = addAck(core, 'fallback', false, false)
    assert.deepEqual(enough(core), {kind: 'ok', acknowledged: 3})
  })

  it('never changes the core it is given', () => {
    const start = initPut(3, 2, 1)
    const snapshot = structuredClone(start)
    const acked = addAck(start, 'a', true)
    const failed = addFailure(acked, 'b')
    assert.deepEqual(start, snapshot)
    assert.deepEqual(acked.acknowledged, ['a'])
    assert.deepEqual(acked.failed, [])
    assert.deepEqual(failed.failed, ['b'])
    assert.equal(failed.durableCount, 1)
  })

  it('asserts when a node answers twice', () => {
    const acked = addAck(initPut(3, 2, 0), 'a', false)
    const failed = addFailure(initPut(3, 2, 0), 'a')
    assert.throws(() => addAck(acked, 'a', true), /answered twice/)
    assert.throws(() => addFailure(acked, 'a'), /answered twice/)
    assert.throws(() => addAck(failed, 'a', false), /answered twice/)
    assert.throws(() => addFailure(failed, 'a'), /answered twice/)
  })

  it('asserts when there are more answers than targets', () => {
    const full = addFailure(addAck(initPut(2, 1, 0), 'a', false), 'b')
    assert.throws(() => addAck(full, 'c', false), /assertion failed/)
    assert.throws(() => addFailure(full, 'c'), /assertion failed/)
  })

  it('asserts on a W or DW that cannot be met or is not a count', () => {
    assert.throws(() => initPut(3, 4, 0), /assertion failed/)
    assert.throws(() => initPut(0, 1, 0), /assertion failed/)
    assert.throws(() => initPut(3, 0, 0), /assertion failed/)
    assert.throws(() => initPut(3, 1.5, 0), /assertion failed/)
    assert.throws(() => initPut(3, 2, 3), /assertion failed/)
    assert.throws(() => initPut(3, 2, -1), /assertion failed/)
    assert.throws(() => initPut(3, 2, 0.5), /assertion failed/)
    assert.doesNotThrow(() => initPut(3, 3, 3))
    assert.doesNotThrow(() => initPut(1, 1, 0))
  })

  it('asserts on a PW above W or not a count, and on a home target count above the targets or not a count', () => {
    assert.throws(() => initPut(3, 2, 0, 3), /assertion failed/)
    assert.throws(() => initPut(3, 2, 0, -1), /assertion failed/)
    assert.throws(() => initPut(3, 2, 0, 0.5), /assertion failed/)
    assert.throws(() => initPut(3, 2, 0, 0, 4), /assertion failed/)
    assert.throws(() => initPut(3, 2, 0, 0, -1), /assertion failed/)
    assert.throws(() => initPut(3, 2, 0, 0, 1.5), /assertion failed/)
    assert.doesNotThrow(() => initPut(3, 2, 0, 2, 3))
    assert.doesNotThrow(() => initPut(3, 2, 0, 0, 0))
  })

  it('a target replaced by a spare fallback leaves its place open for the spare, and a replaced home no longer counts towards PW', () => {
    let core = replaceTarget(initPut(3, 2, 0, 1, 2), 'home-a')
    assert.equal(core.homeFailed, 1)
    assert.deepEqual(core.failed, [])
    assert.deepEqual(enough(core), {kind: 'wait'})
    core = addAck(core, 'spare', false, false)
    assert.deepEqual(enough(core), {kind: 'wait'})
    core = addAck(core, 'home-b', false, true)
    assert.equal(enough(core).kind, 'ok')
    assert.equal(enough(replaceTarget(initPut(3, 2, 0, 2, 2), 'home-a')).kind, 'quorum_unmet')
    assert.equal(replaceTarget(initPut(3, 2, 0, 1, 2), 'fallback', false).homeFailed, 0)
    assert.throws(() => replaceTarget(addAck(initPut(3, 2, 0), 'a', false), 'a'), /answered twice/)
  })

  it('counts a failure as a home failure unless told it is a fallback', () => {
    // Two of the three targets are homes and PW = 1: once both homes failed, PW cannot be met.
    const bothFailed = addFailure(addFailure(initPut(3, 1, 0, 1, 2), 'home-a'), 'home-b')
    assert.equal(bothFailed.homeFailed, 2)
    assert.equal(enough(bothFailed).kind, 'quorum_unmet')
    const fallbackFailed = addFailure(addFailure(initPut(3, 1, 0, 1, 2), 'home-a'), 'fallback', false)
    assert.equal(fallbackFailed.homeFailed, 1)
    assert.equal(enough(fallbackFailed).kind, 'wait')
  })
})
