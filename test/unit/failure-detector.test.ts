/**
 * Tests of the phi accrual failure detector (src/membership/failure-detector.ts) on plain,
 * injected times: a peer heartbeating regularly stays up; one that goes silent (killed, or
 * frozen by SIGSTOP) is down within 5 s; one that answers again is up at once; a pause shorter
 * than the acceptable pause never marks it down; a refused connection marks it down at once.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {checkFailureDetectorConfig, FailureDetector, failureDetectorDefaults, phiOf} from '../../src/membership/failure-detector.js'

const interval = failureDetectorDefaults.heartbeatIntervalMs

/** A detector that has heard `count` heartbeats from `peer`, one per interval, ending at the returned time. */
function heartbeating(detector: FailureDetector, peer: string, count: number, jitterMs: (i: number) => number = () => 0): number {
  let now = 0
  detector.watch(peer, now)
  for (let i = 0; i < count; i += 1) {
    now += interval + jitterMs(i)
    detector.arrival(peer, now)
  }
  return now
}

/** The first time, in 10 ms steps after `fromMs`, at which `peer` is down. */
function downAfter(detector: FailureDetector, peer: string, fromMs: number): number {
  for (let t = fromMs; t < fromMs + 60_000; t += 10) if (!detector.isUp(peer, t)) return t - fromMs
  return Number.POSITIVE_INFINITY
}

describe('failure detector', () => {
  it('a peer that heartbeats on time is up, and a silent one is down within 5 s but not before the acceptable pause', () => {
    const detector = new FailureDetector()
    const last = heartbeating(detector, 'p', 50)
    assert.equal(detector.reachability('p', last + interval), 'up')
    const silentMs = downAfter(detector, 'p', last)
    assert.ok(silentMs <= 5000, `down after ${silentMs} ms`)
    assert.ok(silentMs > failureDetectorDefaults.acceptablePauseMs + interval, `down after ${silentMs} ms`)
  })

  it('is suspect before it is down', () => {
    const detector = new FailureDetector()
    const last = heartbeating(detector, 'p', 20)
    const downMs = downAfter(detector, 'p', last)
    let suspectSeen = false
    for (let t = last; t < last + downMs; t += 10) if (detector.reachability('p', t) === 'suspect') suspectSeen = true
    assert.ok(suspectSeen)
  })

  it('a pause shorter than the acceptable pause never marks a peer down', () => {
    fc.assert(
      fc.property(fc.integer({min: 5, max: 100}), fc.integer({min: 0, max: failureDetectorDefaults.acceptablePauseMs}), fc.array(fc.integer({min: -100, max: 100}), {minLength: 100, maxLength: 100}), (count, pauseMs, jitter) => {
        const detector = new FailureDetector()
        const last = heartbeating(detector, 'p', count, (i) => jitter[i % jitter.length] as number)
        for (let t = last; t <= last + interval + pauseMs; t += 25) assert.ok(detector.isUp('p', t), `down ${t - last} ms into a ${pauseMs} ms pause`)
      }),
    )
  })

  it('a peer that answers again is up at once, and the outage does not slow the next detection', () => {
    const detector = new FailureDetector()
    const last = heartbeating(detector, 'p', 20)
    const firstMs = downAfter(detector, 'p', last)
    const back = last + 30_000
    assert.equal(detector.isUp('p', back), false)
    detector.arrival('p', back)
    assert.equal(detector.reachability('p', back), 'up')
    let now = back
    for (let i = 0; i < 5; i += 1) {
      now += interval
      detector.arrival('p', now)
    }
    assert.equal(downAfter(detector, 'p', now), firstMs)
  })

  it('a refused connection marks the peer down at once, and its next answer up', () => {
    const detector = new FailureDetector()
    const last = heartbeating(detector, 'p', 10)
    detector.markUnreachable('p', last + 1)
    assert.equal(detector.reachability('p', last + 1), 'down')
    detector.arrival('p', last + 200)
    assert.equal(detector.reachability('p', last + 200), 'up')
  })

  it('a peer never heard from is up until it has been silent as long as a silent known peer', () => {
    const detector = new FailureDetector()
    assert.equal(detector.isUp('never', 0), true)
    detector.watch('never', 1000)
    assert.equal(detector.isUp('never', 1000 + failureDetectorDefaults.acceptablePauseMs), true)
    assert.ok(downAfter(detector, 'never', 1000) <= 5000)
  })

  it('watches peers independently', () => {
    const detector = new FailureDetector()
    const last = heartbeating(detector, 'a', 10)
    detector.watch('b', 0)
    detector.markUnreachable('b', last)
    assert.equal(detector.isUp('a', last), true)
    assert.equal(detector.isUp('b', last), false)
    detector.forget('b')
    assert.equal(detector.isUp('b', last), true)
  })

  it('phi grows with silence and is 0 well before the mean', () => {
    assert.equal(phiOf(0, 2500, 200), 0)
    let previous = 0
    for (let t = 2000; t < 5000; t += 100) {
      const phi = phiOf(t, 2500, 200)
      assert.ok(phi >= previous)
      previous = phi
    }
    assert.ok(Math.abs(phiOf(2500, 2500, 200) - Math.log10(2)) < 1e-9)
  })

  it('refuses a configuration that cannot work', () => {
    assert.equal(checkFailureDetectorConfig(failureDetectorDefaults), undefined)
    assert.match(checkFailureDetectorConfig({...failureDetectorDefaults, phiDownThreshold: 0}) ?? '', /phi threshold/)
    assert.match(checkFailureDetectorConfig({...failureDetectorDefaults, phiSuspectThreshold: 9}) ?? '', /suspect/)
    assert.throws(() => new FailureDetector({...failureDetectorDefaults, heartbeatIntervalMs: 0}))
  })
})
