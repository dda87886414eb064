/**
 * The reap fence (src/antientropy/reap-fence.ts): a tombstone a reap deleted is dropped when it
 * comes back within the window, by its hash, and only then; entries lapse and are bounded.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ReapFence, reapFenceEntriesMax} from '../../src/antientropy/reap-fence.js'

describe('the reap fence', () => {
  it('drops exactly the reaped tombstone of the key, within its window', () => {
    const fence = new ReapFence()
    fence.record(3, 'gone', [1, 2], 11_000)
    assert.equal(fence.guards(3, 'gone', 10_500), true)
    assert.equal(fence.drops(3, 'gone', [1, 2], 10_500), true)
    assert.equal(fence.drops(3, 'gone', [1, 3], 10_500), false, 'another object of the key')
    assert.equal(fence.guards(4, 'gone', 10_500), false, 'the same key name in another partition')
    assert.equal(fence.guards(3, 'other', 10_500), false)
    assert.equal(fence.drops(3, 'gone', [1, 2], 11_000), false, 'the window has lapsed')
    assert.equal(fence.guards(3, 'gone', 11_000), false)
    assert.equal(fence.size, 0, 'a lapsed entry found is forgotten')
  })

  it("takes a key's newest reap, and keeps at most its bound, the oldest going first", () => {
    const fence = new ReapFence()
    fence.record(0, 'k', [1, 1], 60_000)
    fence.record(0, 'k', [2, 2], 60_005)
    assert.equal(fence.drops(0, 'k', [1, 1], 10), false)
    assert.equal(fence.drops(0, 'k', [2, 2], 10), true)
    for (let index = 0; index < reapFenceEntriesMax; index += 1) fence.record(1, `key${index}`, [index, 0], 60_020)
    assert.equal(fence.size, reapFenceEntriesMax)
    assert.equal(fence.guards(0, 'k', 30), false, 'the oldest entry went first')
    assert.equal(fence.guards(1, 'key0', 30), true)
  })
})
