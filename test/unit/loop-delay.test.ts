/**
 * Tests of how the event loop's delay is read from Node's monitor (src/loop-delay.ts): the
 * interval between timer ticks less the resolution, never negative.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {loopDelayMs, loopDelayResolutionMs} from '../../src/loop-delay.js'

describe('loop delay', () => {
  const ns = (ms: number): number => ms * 1e6

  it('is what an interval took beyond the timer\'s resolution, so an idle loop reads near 0, not 10 ms', () => {
    assert.equal(loopDelayResolutionMs, 10)
    assert.equal(loopDelayMs(ns(10.108)), 0.108)
    assert.equal(loopDelayMs(ns(35)), 25)
    assert.equal(loopDelayMs(ns(1010)), 1000)
  })

  it('never reads below 0: a tick that came early is no delay', () => {
    assert.equal(loopDelayMs(ns(9.1)), 0)
    assert.equal(loopDelayMs(0), 0)
  })

  it('reads an empty histogram\'s non-finite figures as 0', () => {
    assert.equal(loopDelayMs(Number.NaN), 0)
    assert.equal(loopDelayMs(Number.POSITIVE_INFINITY), 0)
  })
})
