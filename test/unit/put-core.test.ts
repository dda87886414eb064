/**
 * Tests of the pure put quorum core (paper §4.5): exhaustively over every target count from 1 to
 * 5, every W and DW, and every sequence of answers (durable ack, plain ack, failure), the verdict
 * after each answer is compared with an oracle that tries every way the outstanding replicas could
 * still answer. Also the figures a verdict carries, purity, and the assertions on misuse.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {addAck, addFailure, enough, initPut, type PutCore, type PutVerdict} from '../../src/coordinator/put-core.js'

type Answer = 'durable' | 'plain' | 'failure'
const answerKinds: readonly Answer[] = ['durable', 'plain', 'failure']

/** The largest target count enumerated: 3^5 answer sequences per (W, DW) keep the suite fast. */
const targetCountMax = 5

/** Every sequence of `length` answers, in every order: 3^length of them. */
function answerSequences(length: number): Answer[][] {
  let sequences: Answer[][] = [[]]
  for (let position = 0; position < length; position += 1) {
    sequences = sequences.flatMap((prefix) => answerKinds.map((kind) => [...prefix, kind]))
  }
  return sequences
}

/**
 * Whether some way of answering for the `outstanding` replicas still reaches W acks with DW
 * durable ones. Found by trying every completion, not by the core's formula.
 */
function canStillSucceed(acks: number, durable: number, outstanding: number, w: number, dw: number): boolean {
  if (acks >= w && durable >= dw) return true
  if (outstanding === 0) return false
  return (
    canStillSucceed(acks + 1, durable + 1, outstanding - 1, w, dw) ||
    canStillSucceed(acks + 1, durable, outstanding - 1, w, dw) ||
    canStillSucceed(acks, durable, outstanding - 1, w, dw)
  )
}

function feed(core: PutCore, node: string, answer: Answer): PutCore {
  return answer === 'failure' ? addFailure(core, node) : addAck(core, node, answer === 'durable')
}

function expectedVerdict(acks: number, durable: number, outstanding: number, w: number, dw: number): PutVerdict {
  if (acks >= w && durable >= dw) return {kind: 'ok', acknowledged: acks}
  if (!canStillSucceed(acks, durable, outstanding, w, dw)) {
    return {kind: 'quorum_unmet', required: w, acknowledged: acks, durableRequired: dw, durableAcknowledged: durable, homeRequired: 0, homeAcknowledged: acks}
  }
  return {kind: 'wait'}
}

describe('put core', () => {
  it('decides exactly like the oracle for every target count, W, DW and answer sequence', () => {
    let checkedVerdicts = 0
    for (let targetCount = 1; targetCount <= targetCountMax; targetCount += 1) {
      const sequences = answerSequences(targetCount)
      for (let w = 1; w <= targetCount; w += 1) {
        for (let dw = 0; dw <= w; dw += 1) {
          for (const sequence of sequences) {
            let core = initPut(targetCount, w, dw)
            let acks = 0
            let durable = 0
            const where = `targets=${targetCount} w=${w} dw=${dw} answers=${sequence.join(',')}`
            assert.deepEqual(enough(core), expectedVerdict(0, 0, targetCount, w, dw), `${where}, before any answer`)
            let decided: PutVerdict['kind'] | undefined
            sequence.forEach((answer, index) => {
              core = feed(core, `node${index}`, answer)
              if (answer !== 'failure') acks += 1
              if (answer === 'durable') durable += 1
              const verdict = enough(core)
              assert.deepEqual(verdict, expectedVerdict(acks, durable, targetCount - index - 1, w, dw), `${where}, after ${index + 1}`)
              // Once decided, later answers never change the decision.
              if (decided !== undefined) assert.equal(verdict.kind, decided, `${where}: ${decided} turned into ${verdict.kind}`)
              if (verdict.kind !== 'wait') decided = verdict.kind
              checkedVerdicts += 1
            })
            // With every answer in, the put is decided one way or the other.
            assert.notEqual(enough(core).kind, 'wait', `${where}: still waiting with every answer in`)
          }
        }
      }
    }
    assert.ok(checkedVerdicts > 10_000, `only ${checkedVerdicts} verdicts checked`)
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
})
