/**
 * The targets of one request (src/coordinator/preflist.ts, paper §4.6): the homes believed up,
 * and for each home believed down the next fallback in ring order, the coordinator itself
 * included when it is not a home; and the placement once a put learned that homes cannot take it.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {reachableHomes, readOrder, sloppyTargets, withHomesDown} from '../../src/coordinator/preflist.js'
import type {KeyPlacement} from '../../src/coordinator/preflist.js'

/** A placement of five nodes a..e in ring order, the first `n` homes, those in `down` believed down. */
function placement(n: number, down: readonly string[]): KeyPlacement {
  const nodes = ['a', 'b', 'c', 'd', 'e']
  return {partition: 3, entries: nodes.map((node, index) => ({node, home: index < n, up: !down.includes(node)})), homes: nodes.slice(0, n)}
}

describe('sloppyTargets', () => {
  it('a home coordinator is a target as a home, and a down home gets the first fallback up', () => {
    assert.deepEqual(sloppyTargets(placement(3, ['b']), 'a'), [{node: 'a'}, {node: 'd', hintFor: 'b'}, {node: 'c'}])
  })

  it('a coordinator that is not a home stands in for a down home in its ring-order place', () => {
    // Both homes down: d (the coordinator) is the first fallback, so it keeps the hint for a.
    assert.deepEqual(sloppyTargets(placement(2, ['a', 'b']), 'd'), [
      {node: 'c', hintFor: 'a'},
      {node: 'd', hintFor: 'b'},
    ])
    assert.deepEqual(sloppyTargets(placement(2, ['a', 'b']), 'c'), [
      {node: 'c', hintFor: 'a'},
      {node: 'd', hintFor: 'b'},
    ])
  })

  it('the coordinator counts itself up as a fallback even when its view says otherwise', () => {
    assert.deepEqual(sloppyTargets(placement(2, ['a', 'b', 'c']), 'c'), [
      {node: 'c', hintFor: 'a'},
      {node: 'd', hintFor: 'b'},
    ])
  })

  it('a coordinator that is not a home is no target while every home is up', () => {
    assert.deepEqual(sloppyTargets(placement(3, []), 'e'), [{node: 'a'}, {node: 'b'}, {node: 'c'}])
  })

  it('a down home with no fallback left is still tried', () => {
    assert.deepEqual(sloppyTargets(placement(3, ['a', 'b', 'c', 'd']), 'e'), [{node: 'e', hintFor: 'a'}, {node: 'b'}, {node: 'c'}])
  })
})

describe('readOrder', () => {
  it('puts the coordinator own copy first, then homes up in list order, then fallbacks, then homes believed down', () => {
    const down = placement(3, ['b'])
    assert.deepEqual(readOrder(sloppyTargets(down, 'c'), down, 'c'), [{node: 'c'}, {node: 'a'}, {node: 'd', hintFor: 'b'}])
    const noFallback = placement(5, ['b'])
    assert.deepEqual(readOrder(sloppyTargets(noFallback, 'd'), noFallback, 'd'), [{node: 'd'}, {node: 'a'}, {node: 'c'}, {node: 'e'}, {node: 'b'}])
  })

  it('asks the coordinator own hints before those of another fallback', () => {
    const bothDown = placement(2, ['a', 'b'])
    assert.deepEqual(readOrder(sloppyTargets(bothDown, 'd'), bothDown, 'd'), [
      {node: 'd', hintFor: 'b'},
      {node: 'c', hintFor: 'a'},
    ])
  })
})

describe('withHomesDown', () => {
  it('marks the homes a put could not reach as down, so fallbacks replace them and PW counts without them', () => {
    const learned = withHomesDown(placement(2, []), ['a'])
    assert.deepEqual(
      learned.entries.map((entry) => entry.up),
      [false, true, true, true, true],
    )
    assert.deepEqual(sloppyTargets(learned, 'c'), [{node: 'c', hintFor: 'a'}, {node: 'b'}])
    assert.deepEqual(reachableHomes(learned, 'c'), ['b'])
  })

  it('leaves the placement as it is when no home was tried', () => {
    const same = placement(2, ['a'])
    assert.equal(withHomesDown(same, []), same)
  })
})
