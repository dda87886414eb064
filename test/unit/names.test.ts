/**
 * The order of names for people (src/membership/names.ts, compareNamesNaturally): digit runs by
 * value, the rest by code unit; a total order, and apart from compareNames, which the claim uses.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'
import {compareNamesNaturally} from '../../src/membership/names.js'
import {compareNames} from '../../src/ring/claim.js'

describe('compareNamesNaturally', () => {
  it('puts n2 before n10, and letters by code unit', () => {
    const names = ['n10', 'n2', 'n1', 'db-b', 'n12', 'db-a10', 'db-a9', 'n11', 'x', 'n01']
    assert.deepEqual([...names].sort(compareNamesNaturally), ['db-a9', 'db-a10', 'db-b', 'n1', 'n01', 'n2', 'n10', 'n11', 'n12', 'x'])
    // The claim's order is left as it is: where partitions go depends on it.
    assert.deepEqual(['n2', 'n10'].sort(compareNames), ['n10', 'n2'])
  })

  it('is a total order: antisymmetric, 0 only for equal names, and transitive', () => {
    // Names from a small set as well, so that equal names and ties of value (0, 00) are drawn often.
    const name = fc.oneof(fc.stringMatching(/^[a-c0-9]{1,6}$/), fc.constantFrom('a', 'a0', 'a00', '0', '00', '0a'))
    fc.assert(
      fc.property(name, name, name, (a, b, c) => {
        // A sum, not a negation: -Math.sign(0) is -0, which strict equality tells apart from 0.
        assert.equal(Math.sign(compareNamesNaturally(a, b)) + Math.sign(compareNamesNaturally(b, a)), 0)
        assert.equal(compareNamesNaturally(a, b) === 0, a === b)
        if (compareNamesNaturally(a, b) <= 0 && compareNamesNaturally(b, c) <= 0) assert.ok(compareNamesNaturally(a, c) <= 0, `${a} ${b} ${c}`)
      }),
    )
  })
})
