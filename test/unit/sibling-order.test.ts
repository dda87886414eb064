/**
 * The one order, numbering and identity of a key's siblings (src/api/sibling-order.ts): oldest
 * first, equal times by dot, so that the API's JSON, dyn get (text and --json), dyn resolve --pick
 * and the resolve screen all number the same sibling alike.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {compareSiblings, numberSiblings, orderSiblings, parseSiblingId, siblingId} from '../../src/api/sibling-order.js'

describe('sibling order', () => {
  it('is oldest first, not the version set\'s actor order (the walk: "second" via n1 came before the older "first" via n3)', () => {
    // As the version set lists them: by actor, n1 before n3.
    const asStored = [
      {text: 'second', timestampMs: 2000, actor: 'n1.aaaa', counter: 1},
      {text: 'first', timestampMs: 1000, actor: 'n3.cccc', counter: 1},
    ]
    assert.deepEqual(orderSiblings(asStored).map((s) => s.text), ['first', 'second'])
  })

  it('puts a tombstone where its time puts it, as the listing does (b, then the later delete)', () => {
    // One actor, its dots newest first in the set: the tombstone (3) before b (2).
    const asStored = [
      {text: '(deleted)', timestampMs: 3000, actor: 'n1.aaaa', counter: 3},
      {text: 'b', timestampMs: 2000, actor: 'n1.aaaa', counter: 2},
    ]
    assert.deepEqual(
      numberSiblings(asStored).map((s) => [s.number, s.text, s.id]),
      [
        [1, 'b', 'n1.aaaa:2'],
        [2, '(deleted)', 'n1.aaaa:3'],
      ],
    )
  })

  it('breaks equal times by actor, then counter, so every permutation of one set orders alike', () => {
    const siblings = [
      {timestampMs: 5, actor: 'n2.b', counter: 7},
      {timestampMs: 5, actor: 'n1.a', counter: 9},
      {timestampMs: 5, actor: 'n1.a', counter: 2},
      {timestampMs: 4, actor: 'n9.z', counter: 1},
    ]
    const expected = ['n9.z:1', 'n1.a:2', 'n1.a:9', 'n2.b:7']
    const permutations = (items: typeof siblings): Array<typeof siblings> =>
      items.length <= 1 ? [items] : items.flatMap((item, index) => permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [item, ...rest]))
    for (const permutation of permutations(siblings)) {
      assert.deepEqual(
        numberSiblings(permutation).map((s) => s.id),
        expected,
      )
    }
    assert.equal(compareSiblings(siblings[0]!, siblings[0]!), 0)
  })

  it('keeps the order it was given for siblings without dots (a node that serves none) at one time', () => {
    const ordered = numberSiblings([
      {timestampMs: 1, name: 'x'},
      {timestampMs: 1, name: 'y'},
      {timestampMs: 0, name: 'z'},
    ])
    assert.deepEqual(
      ordered.map((s) => [s.number, s.name, s.id]),
      [
        [1, 'z', undefined],
        [2, 'x', undefined],
        [3, 'y', undefined],
      ],
    )
  })

  it('names a sibling by its dot, and reads such a name back; anything else is no id', () => {
    assert.equal(siblingId('n1.3fa9c2d1', 4), 'n1.3fa9c2d1:4')
    assert.deepEqual(parseSiblingId('n1.3fa9c2d1:4'), {actor: 'n1.3fa9c2d1', counter: 4})
    assert.deepEqual(parseSiblingId(' node_b-2.ff:17 '), {actor: 'node_b-2.ff', counter: 17})
    for (const text of ['', '2', 'n1.3fa9c2d1', 'n1.3fa9c2d1:', 'n1.3fa9c2d1:0', 'n1.3fa9c2d1:-1', 'n1.3fa9c2d1:1.5', 'n1 x:3', ':3', 'n1:3:4', 'n1.a:99999999999999999']) {
      assert.equal(parseSiblingId(text), undefined, text)
    }
  })
})
