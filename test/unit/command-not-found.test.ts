/**
 * Tests of the suggestion for a mistyped command: an edit distance that counts a swap of two
 * neighbouring letters as one edit, and a nearest command only when it is near enough.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'
import {editDistance, nearestCommand} from '../../src/cli/command-not-found.js'

const commands = ['bench', 'cluster', 'cluster down', 'cluster status', 'cluster up', 'delete', 'get', 'help', 'put', 'ring', 'start']

describe('editDistance', () => {
  it('counts insertions, deletions, substitutions and adjacent swaps as one edit each', () => {
    const cases: Array<[string, string, number]> = [
      ['', '', 0],
      ['get', 'get', 0],
      ['', 'get', 3],
      ['gte', 'get', 1],
      ['gett', 'get', 1],
      ['gt', 'get', 1],
      ['got', 'get', 1],
      ['delte', 'delete', 1],
      ['kitten', 'sitting', 3],
      ['ca', 'abc', 3],
    ]
    for (const [a, b, distance] of cases) assert.equal(editDistance(a, b), distance, `${a} -> ${b}`)
  })

  it('is symmetric, zero only for equal strings, and within the longer length', () => {
    fc.assert(
      fc.property(fc.string({maxLength: 12}), fc.string({maxLength: 12}), (a, b) => {
        const d = editDistance(a, b)
        assert.equal(d, editDistance(b, a))
        assert.equal(d === 0, a === b)
        assert.ok(d <= Math.max(a.length, b.length))
      }),
    )
  })
})

describe('nearestCommand', () => {
  it('suggests the command a typo is near', () => {
    const cases: Array<[string[], string]> = [
      [['gte'], 'get'],
      [['gte', 'cart:alice'], 'get'],
      [['pt', 'k', 'v'], 'put'],
      [['delte', 'k'], 'delete'],
      [['rign'], 'ring'],
      [['clustr'], 'cluster'],
      [['cluster', 'upp'], 'cluster up'],
      [['clustr', 'status'], 'cluster status'],
      [['hepl'], 'help'],
    ]
    for (const [typed, expected] of cases) assert.equal(nearestCommand(typed, commands), expected, typed.join(' '))
  })

  it('suggests nothing for a word that is far from every command', () => {
    for (const typed of [['foo'], ['xyzzy'], ['a'], ['replicate', 'k']]) assert.equal(nearestCommand(typed, commands), undefined, typed.join(' '))
  })
})
