/**
 * Tests of src/node/membership-confirmation.ts: a node restarted on its folder takes writes once a
 * majority of its ring's members, itself counted, has answered it, so that some answering member
 * always knows of a removal that a majority decided; the members it counts against are its own
 * ring's and every answering member's.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {afterAnswers, confirmedFromStart, tally, unconfirmedAtStart, unconfirmedReason} from '../../src/node/membership-confirmation.js'

const five = ['n1', 'n2', 'n3', 'n4', 'n5']
const named = (...names: string[]): Array<{name: string}> => names.map((name) => ({name}))

describe('membership confirmation', () => {
  it('needs a majority of the ring, itself counted', () => {
    const needed = [1, 2, 3, 4, 5, 6, 7].map((count) => tally(unconfirmedAtStart(), 'n1', Array.from({length: count}, (_, i) => `n${i + 1}`)))
    assert.deepEqual(needed.map((t) => t.needed), [1, 2, 2, 3, 3, 4, 4])
    assert.deepEqual(needed.map((t) => t.votes), [1, 1, 1, 1, 1, 1, 1], 'itself, before any answer')
  })

  it('is confirmed at once for the ring\'s only member, and for a node that joined or made its cluster', () => {
    assert.equal(afterAnswers(unconfirmedAtStart(), 'n1', ['n1'], []).confirmed, true)
    assert.equal(confirmedFromStart().confirmed, true)
  })

  it('is not confirmed by one other member of five: two removed nodes answering each other', () => {
    // The walk that lost writes: n4 and n5 removed while down, started together, the others away.
    const state = afterAnswers(unconfirmedAtStart(), 'n4', five, named('n5'))
    assert.equal(state.confirmed, false)
    assert.match(unconfirmedReason(state, 'n4', five), /^n4 restarted on its folder where it could not confirm that it is still a member: of the ring's 5 members, 2 \(itself included\) have answered it since it started, and 3 must/)
    assert.match(unconfirmedReason(state, 'n4', five), /remove them \(dyn cluster remove NAME, with --without-majority when most are lost\)$/)
    // Nor by no answer at all (a node alone), nor by names that are no ring members.
    assert.equal(afterAnswers(unconfirmedAtStart(), 'n3', five, []).confirmed, false)
    assert.equal(afterAnswers(unconfirmedAtStart(), 'n3', five, named('n3', 'n9', 'n10')).confirmed, false)
  })

  it('adds up the answers of successive rounds, and stays confirmed', () => {
    const first = afterAnswers(unconfirmedAtStart(), 'n4', five, named('n5'))
    const second = afterAnswers(first, 'n4', five, named('n1'))
    assert.equal(second.confirmed, true)
    assert.deepEqual([...second.answeredBy].sort(), ['n1', 'n5'])
    assert.equal(afterAnswers(second, 'n4', five, []).confirmed, true)
  })

  it('counts against the members the answers name too: a ring that grew while the node was away', () => {
    // n1 remembers a ring of n1..n3; while it was down n4 and n5 joined, and n3..n5 removed it
    // while n2 was down too. n2's answer alone is a majority of n1..n3, not of n1..n5.
    const ownRing = ['n1', 'n2', 'n3']
    assert.equal(afterAnswers(unconfirmedAtStart(), 'n1', ownRing, named('n2')).confirmed, true, 'an answer that names no ring counts against the node\'s own')
    const state = afterAnswers(unconfirmedAtStart(), 'n1', ownRing, [{name: 'n2', ringMembers: five}])
    assert.equal(state.confirmed, false)
    assert.deepEqual(tally(state, 'n1', ownRing), {votes: 2, needed: 3, members: 5})
    assert.equal(afterAnswers(state, 'n1', ownRing, [{name: 'n4', ringMembers: five}]).confirmed, true)
  })

  it('counts against the ring its table holds now: a ring that gossip shrank needs fewer', () => {
    assert.equal(afterAnswers(unconfirmedAtStart(), 'n3', ['n1', 'n2', 'n3'], named('n1')).confirmed, true)
    assert.equal(afterAnswers(unconfirmedAtStart(), 'n3', five, named('n1')).confirmed, false)
  })
})
