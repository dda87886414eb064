/**
 * The transfer ETA's pace (src/handoff/transfer-pace.ts): time that moved counts, a stall counts
 * as at most the stall threshold, and a named wait not at all.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {TransferPace} from '../../src/handoff/transfer-pace.js'

describe('TransferPace', () => {
  it('gives no ETA before a partition has finished', () => {
    const pace = new TransferPace(0, 10_000)
    pace.progress(500)
    assert.equal(pace.etaMs(600, 8), undefined)
  })

  it('multiplies the remaining partitions by the wall time each took, the concurrent ones included', () => {
    const pace = new TransferPace(0, 10_000)
    // Pages every 250 ms, a partition finished every second.
    for (let t = 250; t <= 4000; t += 250) {
      if (t % 1000 === 0) pace.finish(t)
      else pace.progress(t)
    }
    assert.equal(pace.etaMs(4000, 6), 6000)
  })

  it('does not let a stall of a minute stretch the ETA once pages come again', () => {
    const pace = new TransferPace(0, 10_000)
    pace.finish(1000)
    pace.finish(2000)
    // A source is down for 60 s; then pages come again.
    pace.progress(62_000)
    pace.finish(63_000)
    // Three partitions took 3 s of moving and one stall counted as 10 s: 13 s / 3 each.
    assert.equal(pace.etaMs(63_000, 3), 13_000)
    // Counting every second since the start would have said 63 s.
  })

  it('does not count a wait the snapshot names (a source down, the transition not seen by all)', () => {
    const pace = new TransferPace(0, 10_000)
    for (let t = 1000; t <= 30_000; t += 1000) pace.waiting(t)
    pace.finish(31_000)
    assert.equal(pace.etaMs(31_000, 5), 5000)
    assert.equal(pace.sinceProgressMs(31_500), 500)
  })
})
