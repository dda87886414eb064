/**
 * Tests of the JSON union merge of siblings: the shopping cart keeps every item, objects merge
 * key by key, conflicting scalars keep the newest and are reported, and the laws that make it a
 * safe reconciliation (idempotent; never drops an array element any sibling had).
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {canonicalJson, mergeDepthMax, mergeJsonUnion} from '../../src/cli/json-merge.js'

function merged(documents: unknown[]): unknown {
  const outcome = mergeJsonUnion(documents)
  assert.ok(outcome.ok)
  return outcome.value
}

describe('mergeJsonUnion', () => {
  it('unions two carts, a shared item once', () => {
    assert.deepEqual(merged([{items: ['book', 'pen']}, {items: ['pen', 'mug']}]), {items: ['book', 'pen', 'mug']})
  })

  it('keeps an item as often as the sibling that has it most often', () => {
    assert.deepEqual(merged([['book', 'book'], ['book']]), ['book', 'book'])
    assert.deepEqual(merged([[{sku: 1}], [{sku: 1}], [{sku: 2}]]), [{sku: 1}, {sku: 2}])
  })

  it('merges objects key by key, recursively', () => {
    assert.deepEqual(merged([{a: {x: [1]}, b: 1}, {a: {y: true, x: [2]}}]), {a: {x: [1, 2], y: true}, b: 1})
  })

  it('keeps the newest of conflicting scalars and reports the conflict with every value', () => {
    const outcome = mergeJsonUnion([{owner: 'bob', n: 1}, {owner: 'alice', n: 1}, {owner: 'bob'}])
    assert.ok(outcome.ok)
    assert.deepEqual(outcome.value, {owner: 'bob', n: 1})
    assert.deepEqual(outcome.conflicts, [{path: '$.owner', values: ['bob', 'alice'], kept: 'bob'}])
  })

  it('treats a change of type as a conflict', () => {
    const outcome = mergeJsonUnion([{a: [1]}, {a: {b: 1}}])
    assert.ok(outcome.ok)
    assert.deepEqual(outcome.value, {a: {b: 1}})
    assert.equal(outcome.conflicts[0]?.path, '$.a')
  })

  it('keeps a key named __proto__ as a plain key', () => {
    const value = merged([JSON.parse('{"__proto__": {"x": 1}}'), {}]) as Record<string, unknown>
    assert.equal(JSON.stringify(value), '{"__proto__":{"x":1}}')
    assert.equal(Object.getPrototypeOf(value), Object.prototype)
  })

  it('refuses documents nested too deep, and an empty list', () => {
    let deep: unknown = 1
    for (let i = 0; i <= mergeDepthMax; i += 1) deep = [deep]
    const outcome = mergeJsonUnion([deep, 1])
    assert.equal(outcome.ok, false)
    assert.equal(mergeJsonUnion([]).ok, false)
  })

  it('is idempotent and never drops an array element any sibling had', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.jsonValue({maxDepth: 3}), {maxLength: 5}), {minLength: 1, maxLength: 4}), (arrays) => {
        const union = merged(arrays) as unknown[]
        const inUnion = new Set(union.map(canonicalJson))
        for (const array of arrays) for (const element of array) assert.ok(inUnion.has(canonicalJson(element)))
        const first = arrays[0] as unknown[]
        assert.equal(canonicalJson(merged([first, first])), canonicalJson(merged([first])))
      }),
    )
  })
})
