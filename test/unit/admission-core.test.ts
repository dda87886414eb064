/**
 * Tests of admission control's pure core (src/api/admission-core.ts): its invariants over random
 * schedules of arrivals, completions and background checks (fast-check), the limit's moves in
 * each case of the control law, and a model of a node that shares its capacity among the
 * requests in flight, offered 2x and 10x that capacity, where the core must keep the time in the
 * node near its target while the node stays busy.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {AdmissionCore, admissionSettingsDefault} from '../../src/api/admission-core.js'
import type {AdmissionSettings} from '../../src/api/admission-core.js'

const settings = admissionSettingsDefault

type Step = {readonly kind: 'arrive'; readonly afterMs: number} | {readonly kind: 'complete'; readonly afterMs: number; readonly pick: number} | {readonly kind: 'background'; readonly afterMs: number}

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({kind: fc.constant('arrive' as const), afterMs: fc.integer({min: 0, max: 30})}),
  fc.record({kind: fc.constant('complete' as const), afterMs: fc.integer({min: 0, max: 300}), pick: fc.nat()}),
  fc.record({kind: fc.constant('background' as const), afterMs: fc.integer({min: 0, max: 50})}),
)

/** Small limits so that random schedules meet them often. */
const smallSettings: AdmissionSettings = {...settings, concurrencyLimitMin: 2, concurrencyLimitMax: 12, concurrencyLimitInitial: 6}

describe('admission core: invariants over random schedules', () => {
  it('never has more in flight than the limit, keeps the limit within its bounds, refuses exactly at the limit, and lets background work yield before any refusal', () => {
    fc.assert(
      fc.property(fc.array(stepArb, {maxLength: 400}), (steps) => {
        const core = new AdmissionCore(0, smallSettings)
        const tickets: number[] = []
        let nowMs = 0
        let admitted = 0
        let shed = 0
        for (const step of steps) {
          nowMs += step.afterMs
          if (step.kind === 'arrive') {
            // Asked just before the arrival: were it to be refused, background work yields already.
            const yields = core.backgroundShouldYield(nowMs)
            const inFlightBefore = core.inFlight
            const limitBefore = core.limit
            const admission = core.arrive(nowMs)
            if (admission.ok) {
              admitted += 1
              tickets.push(admission.ticket)
            } else {
              shed += 1
              assert.equal(yields, true, 'background work yields before a foreground request is shed')
              assert.ok(core.backgroundShouldYield(nowMs), 'and keeps yielding after a refusal')
              assert.equal(admission.retryAfterMs, smallSettings.retryAfterMs)
            }
            // A refusal exactly when the limit (as moved by this instant) is met.
            if (core.limit === limitBefore) assert.equal(admission.ok, inFlightBefore < limitBefore)
          } else if (step.kind === 'complete' && tickets.length > 0) {
            const [ticket] = tickets.splice(step.pick % tickets.length, 1)
            core.complete(ticket as number, nowMs)
          } else {
            core.backgroundShouldYield(nowMs)
          }
          assert.ok(core.inFlight <= Math.max(core.limit, smallSettings.concurrencyLimitMax))
          assert.ok(core.limit >= smallSettings.concurrencyLimitMin && core.limit <= smallSettings.concurrencyLimitMax)
          assert.equal(core.inFlight, tickets.length)
        }
        const snapshot = core.snapshot(nowMs)
        assert.equal(snapshot.admitted, admitted)
        assert.equal(snapshot.shed, shed)
        assert.equal(snapshot.inFlight, tickets.length)
      }),
      {numRuns: 300},
    )
  })

  it('never sheds while every request finishes within the target', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({min: 0, max: settings.queueDelayTargetMs}), {minLength: 1, maxLength: 500}), fc.integer({min: 1, max: 50}), (inNodeMs, concurrency) => {
        // `concurrency` requests at a time, each answered within the target: a node below capacity.
        const core = new AdmissionCore(0, settings)
        let nowMs = 0
        for (const duration of inNodeMs) {
          const batch = []
          for (let i = 0; i < concurrency; i += 1) {
            const admission = core.arrive(nowMs)
            assert.ok(admission.ok, 'admitted')
            batch.push(admission.ticket)
          }
          nowMs += duration
          for (const ticket of batch) core.complete(ticket, nowMs)
        }
        assert.equal(core.snapshot(nowMs).shed, 0)
        assert.ok(core.limit >= settings.concurrencyLimitInitial, 'the limit never fell')
      }),
      {numRuns: 200},
    )
  })
})

describe('admission core: the control law, case by case', () => {
  /** Fills the limit at `startMs`, answers every request `inNodeMs` later; returns the time then. */
  function intervalOfRequests(core: AdmissionCore, startMs: number, count: number, inNodeMs: number): number {
    const tickets: number[] = []
    for (let i = 0; i < count; i += 1) {
      const admission = core.arrive(startMs)
      if (admission.ok) tickets.push(admission.ticket)
    }
    for (const ticket of tickets) core.complete(ticket, startMs + inNodeMs)
    return startMs + inNodeMs
  }

  it('cuts the limit by target / minimum when the fastest request of an interval was slower than the target', () => {
    const core = new AdmissionCore(0, settings)
    intervalOfRequests(core, 0, 10, 40)
    // The interval [0, 100) ends at the next call after it: its minimum was 40 ms, twice the target.
    core.snapshot(100)
    assert.equal(core.limit, Math.floor(settings.concurrencyLimitInitial * (settings.queueDelayTargetMs / 40)))
    assert.equal(core.snapshot(100).lastIntervalMinMs, 40)
  })

  it('cuts at most by decreaseFactorMin in one interval', () => {
    const core = new AdmissionCore(0, settings)
    intervalOfRequests(core, 0, 10, 99)
    core.snapshot(100)
    assert.equal(core.limit, Math.floor(settings.concurrencyLimitInitial * settings.decreaseFactorMin))
  })

  it('counts the oldest request in flight when nothing completed in an interval', () => {
    const core = new AdmissionCore(0, settings)
    const admission = core.arrive(10)
    assert.ok(admission.ok)
    core.snapshot(100)
    // Nothing completed in [0, 100); the one in flight had waited 90 ms by its end.
    assert.equal(core.snapshot(100).lastIntervalMinMs, 90)
    assert.ok(core.limit < settings.concurrencyLimitInitial)
  })

  it('raises the limit when it was met and the fastest request stayed within the target', () => {
    const core = new AdmissionCore(0, settings)
    intervalOfRequests(core, 0, settings.concurrencyLimitInitial + 5, 5)
    assert.equal(core.snapshot(5).shed, 5, 'the arrivals beyond the limit were shed')
    core.snapshot(100)
    assert.equal(core.limit, settings.concurrencyLimitInitial + Math.floor(settings.concurrencyLimitInitial * settings.increaseFraction))
  })

  it('keeps the limit when it was not met and the node was fast (no demand to grow)', () => {
    const core = new AdmissionCore(0, settings)
    intervalOfRequests(core, 0, 3, 5)
    core.snapshot(100)
    assert.equal(core.limit, settings.concurrencyLimitInitial)
  })

  it('never cuts below the floor nor grows above the ceiling', () => {
    const slow = new AdmissionCore(0, settings)
    let nowMs = 0
    for (let interval = 0; interval < 50; interval += 1) nowMs = intervalOfRequests(slow, interval * 100, slow.limit, 99)
    slow.snapshot(nowMs + 100)
    assert.equal(slow.limit, settings.concurrencyLimitMin)
    const fast = new AdmissionCore(0, settings)
    for (let interval = 0; interval < 500; interval += 1) intervalOfRequests(fast, interval * 100, fast.limit + 1, 1)
    fast.snapshot(500 * 100)
    assert.equal(fast.limit, settings.concurrencyLimitMax)
  })

  it('closes a long idle gap in one step and keeps the limit it learnt', () => {
    const core = new AdmissionCore(0, settings)
    intervalOfRequests(core, 0, 3, 5)
    const snapshot = core.snapshot(1_000_000)
    assert.equal(snapshot.limit, settings.concurrencyLimitInitial)
    assert.equal(snapshot.lastIntervalMinMs, 0)
    assert.equal(snapshot.state, 'normal')
  })

  it('says shedding after a refusal, for shedHoldMs, then normal again once the node is idle', () => {
    const core = new AdmissionCore(0, {...settings, concurrencyLimitInitial: 4})
    const tickets = [0, 1, 2, 3].map(() => core.arrive(0))
    assert.equal(core.arrive(0).ok, false)
    assert.equal(core.snapshot(0).state, 'shedding')
    for (const admission of tickets) if (admission.ok) core.complete(admission.ticket, 1)
    assert.equal(core.snapshot(settings.shedHoldMs).state, 'shedding')
    assert.equal(core.snapshot(settings.shedHoldMs + 1).state, 'normal')
  })

  it('refuses misuse: time going backwards, a ticket completed twice, settings out of range', () => {
    const core = new AdmissionCore(10, settings)
    assert.throws(() => core.arrive(9), /backwards/)
    const admission = core.arrive(10)
    assert.ok(admission.ok)
    core.complete(admission.ticket, 11)
    assert.throws(() => core.complete(admission.ticket, 12), /not in flight/)
    assert.throws(() => new AdmissionCore(0, {...settings, concurrencyLimitMin: 0}))
    assert.throws(() => new AdmissionCore(0, {...settings, concurrencyLimitInitial: settings.concurrencyLimitMax + 1}))
    assert.throws(() => new AdmissionCore(0, {...settings, decreaseFactorMin: 1}))
  })
})

describe('admission core: a node that shares its capacity among the requests in flight', () => {
  /**
   * A node of `capacityPerMs` requests per ms, processor-shared: each request needs one unit of
   * work plus `baseMs` of waiting on peers; every ms the capacity is split evenly among the
   * requests in flight that still need work. Offered `offeredPerMs` arrivals each ms, open loop.
   * Returns goodput (completions per ms) and the p99 time in the node after the first second.
   */
  function simulate(offeredPerMs: number, capacityPerMs: number, baseMs: number, durationMs: number): {goodputPerMs: number; p99InNodeMs: number; shedShare: number} {
    const core = new AdmissionCore(0, settings)
    const inFlight: Array<{ticket: number; startMs: number; workLeft: number}> = []
    const warmupMs = 1000
    const inNodeMs: number[] = []
    let completed = 0
    let arrived = 0
    let shed = 0
    let arrivalCredit = 0
    for (let nowMs = 0; nowMs < durationMs; nowMs += 1) {
      arrivalCredit += offeredPerMs
      while (arrivalCredit >= 1) {
        arrivalCredit -= 1
        const admission = core.arrive(nowMs)
        if (nowMs >= warmupMs) arrived += 1
        if (admission.ok) inFlight.push({ticket: admission.ticket, startMs: nowMs, workLeft: 1})
        else if (nowMs >= warmupMs) shed += 1
      }
      const working = inFlight.filter((request) => request.workLeft > 0)
      for (const request of working) request.workLeft -= capacityPerMs / working.length
      for (let i = inFlight.length - 1; i >= 0; i -= 1) {
        const request = inFlight[i] as {ticket: number; startMs: number; workLeft: number}
        if (request.workLeft <= 1e-9 && nowMs + 1 - request.startMs >= baseMs) {
          core.complete(request.ticket, nowMs + 1)
          inFlight.splice(i, 1)
          if (nowMs >= warmupMs) {
            completed += 1
            inNodeMs.push(nowMs + 1 - request.startMs)
          }
        }
      }
    }
    inNodeMs.sort((a, b) => a - b)
    return {goodputPerMs: completed / (durationMs - warmupMs), p99InNodeMs: inNodeMs[Math.floor(inNodeMs.length * 0.99)] ?? 0, shedShare: shed / Math.max(1, arrived)}
  }

  for (const overload of [2, 10]) {
    it(`offered ${overload}x its capacity, it stays busy (goodput >= 90%) and keeps the p99 time in the node within three targets`, () => {
      const capacityPerMs = 2
      const result = simulate(capacityPerMs * overload, capacityPerMs, 2, 6000)
      assert.ok(result.goodputPerMs >= 0.9 * capacityPerMs, `goodput ${result.goodputPerMs} per ms of ${capacityPerMs}`)
      assert.ok(result.p99InNodeMs <= 3 * settings.queueDelayTargetMs, `p99 in the node ${result.p99InNodeMs} ms`)
      assert.ok(result.shedShare >= 1 - 1 / overload - 0.1, `shed ${result.shedShare} of the arrivals`)
    })
  }

  it('offered half its capacity, it sheds nothing', () => {
    const result = simulate(1, 2, 2, 4000)
    assert.equal(result.shedShare, 0)
  })
})
