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

  it('phi is the logistic approximation of the normal tail, on both sides of the mean and far out', () => {
    // The documented formula, computed directly: phi = -log10(1 / (1 + exp(y * (1.5976 + 0.070566 * y^2)))).
    const expected = (y: number): number => Math.log10(1 + Math.exp(y * (1.5976 + 0.070566 * y * y)))
    for (const y of [-3, -1, -0.25, 0.25, 0.5, 1, 2, 3, 5]) {
      const phi = phiOf(2500 + y * 200, 2500, 200)
      assert.ok(Math.abs(phi - expected(y)) < 1e-9 * Math.max(1, expected(y)), `y=${y}: ${phi}, expected ${expected(y)}`)
    }
    // Far beyond the mean phi stays finite (about 37.6 at 10 deviations), and far before it is 0, not NaN.
    const far = phiOf(2500 + 10 * 200, 2500, 200)
    assert.ok(Number.isFinite(far) && Math.abs(far - 37.6) < 0.1, `phi at 10 deviations: ${far}`)
    assert.equal(phiOf(0, 10_000, 100), 0)
  })

  it('estimates mean and deviation from the sampled intervals', () => {
    const config = {...failureDetectorDefaults, acceptablePauseMs: 1000}
    const detector = new FailureDetector(config)
    // Intervals of 100 and 900 ms in turn: a mean of 500 and a deviation of 400, above the 200 floor.
    let now = 0
    detector.watch('p', now)
    for (let i = 0; i < 10; i += 1) {
      now += i % 2 === 0 ? 100 : 900
      detector.arrival('p', now)
    }
    for (const elapsed of [0, 700, 1500, 2300, 4000]) {
      assert.equal(detector.phi('p', now + elapsed), phiOf(elapsed, 500 + 1000, 400), `${elapsed} ms after the last arrival`)
    }
    // Regular intervals have no deviation: the floor applies.
    const regular = new FailureDetector(config)
    const last = heartbeating(regular, 'q', 10)
    assert.equal(regular.phi('q', last + 1800), phiOf(1800, interval + 1000, config.minStdDeviationMs))
    // Two answers in the same millisecond sample an interval of 0.
    const twice = new FailureDetector(config)
    twice.watch('s', 0)
    twice.arrival('s', 500)
    twice.arrival('s', 500)
    assert.equal(twice.phi('s', 500 + 1200), phiOf(1200, 250 + 1000, 250))
    // Before any interval is sampled, the heartbeat interval is the mean and the floor the deviation.
    const fresh = new FailureDetector(config)
    fresh.watch('r', 100)
    assert.equal(fresh.phi('r', 100 + 1600), phiOf(1600, interval + 1000, config.minStdDeviationMs))
  })

  it('keeps only the last sampleWindowMax intervals, and samples an interval up to heartbeat + acceptable pause but not beyond', () => {
    const config = {...failureDetectorDefaults, sampleWindowMax: 3, acceptablePauseMs: 1000}
    const detector = new FailureDetector(config)
    let now = 0
    detector.watch('p', now)
    // Three short intervals, then three of 1200 ms: the short ones are evicted, the mean is 1200.
    for (const intervalMs of [100, 200, 300, 1200, 1200, 1200, 1200]) {
      now += intervalMs
      detector.arrival('p', now)
    }
    assert.equal(detector.phi('p', now + 2000), phiOf(2000, 1200 + 1000, config.minStdDeviationMs))
    // An interval of exactly heartbeat + pause (1500 ms) is sampled; the window now holds 1200, 1200, 1500.
    now += interval + 1000
    detector.arrival('p', now)
    const deviation = Math.max(Math.sqrt((1200 ** 2 * 2 + 1500 ** 2) / 3 - 1300 ** 2), config.minStdDeviationMs)
    assert.ok(Math.abs(detector.phi('p', now + 2000) - phiOf(2000, 1300 + 1000, deviation)) < 1e-9)
    // One a millisecond longer is not: the estimate stays as it was.
    const before = detector.phi('p', now + 2000)
    now += interval + 1001
    detector.arrival('p', now)
    assert.equal(detector.phi('p', now + 2000), before)
    // An arrival stamped before the last one (a late answer) samples nothing and keeps the later time.
    detector.arrival('p', now - 400)
    assert.equal(detector.phi('p', now + 2000), before)
  })

  it('is suspect from the suspect threshold and down from the down threshold, both inclusive', () => {
    const detector = new FailureDetector()
    const last = heartbeating(detector, 'p', 20)
    let t = last
    while (detector.phi('p', t) < failureDetectorDefaults.phiSuspectThreshold) t += 1
    assert.equal(detector.reachability('p', t - 1), 'up')
    assert.equal(detector.reachability('p', t), 'suspect')
    assert.equal(detector.isUp('p', t), true)
    while (detector.phi('p', t) < failureDetectorDefaults.phiDownThreshold) t += 1
    assert.equal(detector.reachability('p', t - 1), 'suspect')
    assert.equal(detector.reachability('p', t), 'down')
    assert.equal(detector.isUp('p', t - 1), true)
    assert.equal(detector.isUp('p', t), false)
    // Exactly at a threshold: phi equal to it counts.
    const exact = new FailureDetector({...failureDetectorDefaults, phiSuspectThreshold: detector.phi('p', t - 1), phiDownThreshold: detector.phi('p', t)})
    heartbeating(exact, 'p', 20)
    assert.equal(exact.reachability('p', t - 1), 'suspect')
    assert.equal(exact.reachability('p', t), 'down')
    assert.equal(exact.isUp('p', t), false)
  })

  it('watching a peer again does not reset it, and an unwatched unreachable peer is down', () => {
    const detector = new FailureDetector()
    const last = heartbeating(detector, 'p', 10)
    const phi = detector.phi('p', last + 3000)
    detector.watch('p', last + 2000)
    assert.equal(detector.phi('p', last + 3000), phi)
    detector.markUnreachable('new', 5)
    assert.equal(detector.phi('new', 5), Number.POSITIVE_INFINITY)
    assert.equal(detector.reachability('new', 5), 'down')
  })

  it('refuses each setting outside its range, and accepts its edge', () => {
    const problem = (change: Partial<typeof failureDetectorDefaults>): string | undefined => checkFailureDetectorConfig({...failureDetectorDefaults, ...change})
    assert.match(problem({heartbeatIntervalMs: 0}) ?? '', /heartbeat interval/)
    assert.match(problem({heartbeatIntervalMs: Number.NaN}) ?? '', /heartbeat interval/)
    assert.equal(problem({heartbeatIntervalMs: 1}), undefined)
    assert.match(problem({phiDownThreshold: 0}) ?? '', /^the phi threshold/)
    assert.match(problem({phiDownThreshold: -1, phiSuspectThreshold: -2}) ?? '', /^the phi threshold/)
    assert.equal(problem({phiDownThreshold: 0.5, phiSuspectThreshold: 0.5}), undefined)
    assert.match(problem({phiSuspectThreshold: 0}) ?? '', /suspect/)
    assert.equal(problem({phiSuspectThreshold: failureDetectorDefaults.phiDownThreshold}), undefined)
    assert.match(problem({phiSuspectThreshold: failureDetectorDefaults.phiDownThreshold + 0.5}) ?? '', /suspect/)
    assert.match(problem({acceptablePauseMs: -1}) ?? '', /acceptable pause/)
    assert.equal(problem({acceptablePauseMs: 0}), undefined)
    assert.match(problem({minStdDeviationMs: 0}) ?? '', /minimum deviation/)
    assert.equal(problem({minStdDeviationMs: 0.5}), undefined)
    assert.match(problem({sampleWindowMax: 0}) ?? '', /sample window/)
    assert.match(problem({sampleWindowMax: 1.5}) ?? '', /sample window/)
    assert.equal(problem({sampleWindowMax: 1}), undefined)
    assert.doesNotThrow(() => new FailureDetector({...failureDetectorDefaults, sampleWindowMax: 1}))
  })

  it('refuses a configuration that cannot work', () => {
    assert.equal(checkFailureDetectorConfig(failureDetectorDefaults), undefined)
    assert.match(checkFailureDetectorConfig({...failureDetectorDefaults, phiDownThreshold: 0}) ?? '', /phi threshold/)
    assert.match(checkFailureDetectorConfig({...failureDetectorDefaults, phiSuspectThreshold: 9}) ?? '', /suspect/)
    assert.throws(() => new FailureDetector({...failureDetectorDefaults, heartbeatIntervalMs: 0}))
  })
})
