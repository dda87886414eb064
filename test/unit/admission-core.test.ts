/**
 * Tests of admission control's pure core (src/api/admission-core.ts): its invariants over random
 * schedules of arrivals, completions and background checks (fast-check), the limit's moves in
 * each case of the control law, requests admitted while their body is still uploading (a slow
 * client is no queue in the node), the limit's return on a node left idle, and a model of a node
 * that shares its capacity among the requests in flight, offered 2x and 10x that capacity, where
 * the core must keep the time in the node near its target while the node stays busy.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {AdmissionCore, admissionSettingsDefault} from '../../src/api/admission-core.js'
import type {AdmissionSettings, ArriveOptions} from '../../src/api/admission-core.js'

const settings = admissionSettingsDefault

type Step = {readonly kind: 'arrive'; readonly afterMs: number} | {readonly kind: 'complete'; readonly afterMs: number; readonly pick: number} | {readonly kind: 'background'; readonly afterMs: number}

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({kind: fc.constant('arrive' as const), afterMs: fc.integer({min: 0, max: 30})}),
  fc.record({kind: fc.constant('complete' as const), afterMs: fc.integer({min: 0, max: 300}), pick: fc.nat()}),
  fc.record({kind: fc.constant('background' as const), afterMs: fc.integer({min: 0, max: 50})}),
)

/** Admits `count` requests at `nowMs` (still uploading their body, with `options`); returns their tickets. */
function admit(core: AdmissionCore, nowMs: number, count: number, options: ArriveOptions = {}): number[] {
  const tickets: number[] = []
  for (let i = 0; i < count; i += 1) {
    const admission = core.arrive(nowMs, options)
    if (admission.ok) tickets.push(admission.ticket)
  }
  return tickets
}

/** Small limits and short intervals so that random schedules meet them and cut them often. */
const smallSettings: AdmissionSettings = {...settings, queueDelayTargetMs: 20, intervalMs: 50, windowIntervals: 2, concurrencyLimitMin: 2, concurrencyLimitMax: 12}

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

  it('with requests admitted uploading: never more in flight than the limit, refuses exactly at the limit, counts uploads as held slots', () => {
    type UploadStep = Step | {readonly kind: 'arrive-uploading'; readonly afterMs: number} | {readonly kind: 'body-received'; readonly afterMs: number; readonly pick: number}
    const uploadStepArb: fc.Arbitrary<UploadStep> = fc.oneof(
      stepArb,
      fc.record({kind: fc.constant('arrive-uploading' as const), afterMs: fc.integer({min: 0, max: 30})}),
      fc.record({kind: fc.constant('body-received' as const), afterMs: fc.integer({min: 0, max: 300}), pick: fc.nat()}),
    )
    fc.assert(
      fc.property(fc.array(uploadStepArb, {maxLength: 400}), (steps) => {
        const core = new AdmissionCore(0, smallSettings)
        const uploading: number[] = []
        const working: number[] = []
        let nowMs = 0
        for (const step of steps) {
          nowMs += step.afterMs
          if (step.kind === 'arrive' || step.kind === 'arrive-uploading') {
            core.backgroundShouldYield(nowMs)
            const inFlightBefore = core.inFlight
            const limitBefore = core.limit
            const admission = core.arrive(nowMs, {uploading: step.kind === 'arrive-uploading'})
            if (admission.ok) (step.kind === 'arrive' ? working : uploading).push(admission.ticket)
            assert.equal(admission.ok, inFlightBefore < limitBefore, 'a refusal exactly at the limit, uploads counted')
          } else if (step.kind === 'body-received' && uploading.length > 0) {
            const [ticket] = uploading.splice(step.pick % uploading.length, 1)
            core.bodyReceived(ticket as number, nowMs)
            working.push(ticket as number)
          } else if (step.kind === 'complete' && working.length + uploading.length > 0) {
            // A pick past the working requests completes one still uploading (its client went away).
            const pick = step.pick % (working.length + uploading.length)
            const [ticket] = pick < working.length ? working.splice(pick, 1) : uploading.splice(pick - working.length, 1)
            core.complete(ticket as number, nowMs)
          } else {
            core.backgroundShouldYield(nowMs)
          }
          assert.equal(core.inFlight, working.length + uploading.length)
          assert.ok(core.inFlight <= smallSettings.concurrencyLimitMax)
          assert.ok(core.limit >= smallSettings.concurrencyLimitMin && core.limit <= smallSettings.concurrencyLimitMax)
        }
        assert.equal(core.snapshot(nowMs).inFlight, working.length + uploading.length)
      }),
      {numRuns: 300},
    )
  })

  it('a request admitted uploading and told bodyReceived at once is a plain request: the same decisions, limits and snapshots', () => {
    fc.assert(
      fc.property(fc.array(stepArb, {maxLength: 400}), (steps) => {
        const plain = new AdmissionCore(0, smallSettings)
        const notUploading = new AdmissionCore(0, smallSettings)
        const viaUpload = new AdmissionCore(0, smallSettings)
        const cores = [plain, notUploading, viaUpload]
        const tickets: number[] = []
        let nowMs = 0
        for (const step of steps) {
          nowMs += step.afterMs
          if (step.kind === 'arrive') {
            const admission = plain.arrive(nowMs)
            assert.deepEqual(notUploading.arrive(nowMs, {uploading: false}), admission)
            const uploaded = viaUpload.arrive(nowMs, {uploading: true})
            assert.deepEqual(uploaded, admission)
            if (uploaded.ok) viaUpload.bodyReceived(uploaded.ticket, nowMs)
            if (admission.ok) tickets.push(admission.ticket)
          } else if (step.kind === 'complete' && tickets.length > 0) {
            const [ticket] = tickets.splice(step.pick % tickets.length, 1)
            for (const core of cores) core.complete(ticket as number, nowMs)
          } else {
            const yields = plain.backgroundShouldYield(nowMs)
            for (const core of cores) assert.equal(core.backgroundShouldYield(nowMs), yields)
          }
          const snapshot = plain.snapshot(nowMs)
          for (const core of cores) assert.deepEqual(core.snapshot(nowMs), snapshot)
        }
      }),
      {numRuns: 300},
    )
  })

  it('never sheds, and never lowers its limit, while every request finishes within the target', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({min: 0, max: settings.queueDelayTargetMs}), {minLength: 1, maxLength: 500}), fc.integer({min: 1, max: 64}), (inNodeMs, concurrency) => {
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
        assert.equal(core.limit, settings.concurrencyLimitMax, 'the limit never fell')
      }),
      {numRuns: 200},
    )
  })

  it('never sheds for noise: stalls that hold every request above the target for less than a whole window', () => {
    // A stall (a GC pause, a neighbour's burst) makes every request in flight through it slow;
    // one shorter than the window, followed by ordinary fast requests, is not a standing queue.
    const stallMaxMs = settings.queueDelayTargetMs + (settings.windowIntervals - 2) * settings.intervalMs
    const batchArb = fc.oneof(fc.integer({min: 0, max: settings.queueDelayTargetMs / 2}), fc.integer({min: settings.queueDelayTargetMs + 1, max: stallMaxMs}))
    fc.assert(
      fc.property(fc.array(batchArb, {minLength: 1, maxLength: 300}), fc.integer({min: 1, max: 64}), (durations, concurrency) => {
        const core = new AdmissionCore(0, settings)
        let nowMs = 0
        const batch = (duration: number): void => {
          const tickets = []
          for (let i = 0; i < concurrency; i += 1) {
            const admission = core.arrive(nowMs)
            assert.ok(admission.ok, `admitted at ${nowMs} ms`)
            tickets.push(admission.ticket)
          }
          nowMs += duration
          for (const ticket of tickets) core.complete(ticket, nowMs)
        }
        for (const duration of durations) {
          batch(duration)
          // After a stall, the node answers fast again for an interval.
          if (duration > settings.queueDelayTargetMs) for (let fastMs = 0; fastMs <= settings.intervalMs; fastMs += 5) batch(5)
        }
        assert.equal(core.snapshot(nowMs).shed, 0)
        assert.equal(core.limit, settings.concurrencyLimitMax, 'the limit never fell')
      }),
      {numRuns: 200},
    )
  })
})

describe('admission core: the control law, case by case', () => {
  const {queueDelayTargetMs: targetMs, intervalMs, windowIntervals} = settings
  const windowMs = intervalMs * windowIntervals

  /**
   * `inFlight` requests arrive at 0 and one completes in each interval of the first window,
   * `inNodeMs[i]` after the start of interval i (so the interval's minimum is that time plus
   * i intervals); returns the core at the window's end.
   */
  function windowOfMinima(inFlight: number, minimaMs: readonly number[]): AdmissionCore {
    const core = new AdmissionCore(0, settings)
    const tickets = admit(core, 0, inFlight)
    minimaMs.forEach((minMs, i) => {
      assert.ok(minMs >= i * intervalMs && minMs < (i + 1) * intervalMs, 'a completion time within its interval')
      core.complete(tickets[i] as number, minMs)
    })
    core.snapshot(minimaMs.length * intervalMs)
    return core
  }

  it('starts at the backstop, and sheds nothing until it has seen a standing queue', () => {
    const core = new AdmissionCore(0, settings)
    assert.equal(core.limit, settings.concurrencyLimitMax)
    assert.equal(admit(core, 0, 1000).length, 1000)
  })

  it('cuts to what was in flight times target / minimum after a whole window above the target', () => {
    const core = windowOfMinima(50, [200, 300, 600, 800])
    // The window's minimum was 200 ms, twice the target; 50 were in flight.
    assert.equal(core.limit, Math.floor(50 * (targetMs / 200)))
  })

  it('does not cut when one interval of the window had a request within the target', () => {
    const core = windowOfMinima(50, [200, 300, 600])
    const fresh = admit(core, 3 * intervalMs + 10, 1)
    core.complete(fresh[0] as number, 3 * intervalMs + 10 + targetMs)
    core.snapshot(windowMs)
    assert.equal(core.limit, settings.concurrencyLimitMax)
    assert.equal(core.snapshot(windowMs).standingQueueMs, 0)
  })

  it('does not cut for a stall shorter than the window', () => {
    const core = windowOfMinima(50, [200, 300, 600])
    assert.equal(core.limit, settings.concurrencyLimitMax)
    assert.equal(core.snapshot(3 * intervalMs).standingQueueMs, 3 * intervalMs)
  })

  it('cuts by at least decreaseFactorMax and at most by decreaseFactorMin', () => {
    assert.equal(windowOfMinima(50, [targetMs + 5, 300, 600, 800]).limit, Math.floor(50 * settings.decreaseFactorMax))
    assert.equal(windowOfMinima(50, [249, 499, 749, 999]).limit, Math.floor(50 * Math.max(settings.decreaseFactorMin, targetMs / 249)))
    const stalled = new AdmissionCore(0, settings)
    admit(stalled, 0, 50)
    // Nothing completes for 2.5 windows: the minimum of the second window is its oldest's age.
    stalled.snapshot(windowMs)
    stalled.snapshot(2 * windowMs)
    assert.ok(stalled.limit <= Math.floor(50 * settings.decreaseFactorMin))
  })

  it('counts the oldest request in flight when nothing completed in an interval', () => {
    const core = new AdmissionCore(0, settings)
    assert.ok(core.arrive(10).ok)
    assert.equal(core.snapshot(intervalMs).lastIntervalDelayMs, intervalMs - 10)
    core.snapshot(windowMs)
    assert.equal(core.limit, settings.concurrencyLimitMin, 'one in flight, cut to the floor')
  })

  it('takes the fastest quarter, not the minimum: a few requests answered at once do not hide a standing queue', () => {
    // In each interval a few requests are answered at once (an error, a request answered before
    // any peer is asked), and many after twice the target.
    const judge = (core: AdmissionCore): number => {
      const slow = admit(core, 0, 400)
      for (let interval = 0; interval < windowIntervals; interval += 1) {
        const startMs = interval * intervalMs
        for (const ticket of admit(core, startMs + 1, 5)) core.complete(ticket, startMs + 1)
        for (const ticket of slow.splice(0, 40)) core.complete(ticket, startMs + 2 * targetMs)
      }
      core.snapshot(windowMs)
      return core.limit
    }
    const limit = judge(new AdmissionCore(0, settings))
    assert.ok(limit < settings.concurrencyLimitMax, `cut to ${limit}`)
    // The same schedule judged by the minimum would not have cut.
    assert.equal(judge(new AdmissionCore(0, {...settings, signalQuantile: 0})), settings.concurrencyLimitMax)
  })

  it('adds the event loop\'s delay (time before the handler starts) to the time in the node', () => {
    const withDelay = new AdmissionCore(0, settings)
    const without = new AdmissionCore(0, settings)
    for (let interval = 0; interval < windowIntervals; interval += 1) {
      const startMs = interval * intervalMs
      // Requests answered within the target once their handler ran, on a loop late by more than the target.
      for (const core of [withDelay, without]) for (const ticket of admit(core, startMs + 1, 10)) core.complete(ticket, startMs + 1 + targetMs / 2)
      withDelay.observeLoopDelay(startMs + 100, targetMs)
    }
    assert.equal(withDelay.snapshot(windowMs).lastIntervalDelayMs, targetMs / 2 + targetMs)
    assert.ok(withDelay.limit < settings.concurrencyLimitMax, 'the loop\'s delay made a standing queue')
    assert.equal(without.limit, settings.concurrencyLimitMax)
    assert.throws(() => withDelay.observeLoopDelay(windowMs, -1))
  })

  it('needs a whole new window above the target before it cuts again', () => {
    const core = new AdmissionCore(0, settings)
    admit(core, 0, 200)
    core.snapshot(windowMs)
    const afterFirstCut = core.limit
    assert.ok(afterFirstCut < 200)
    core.snapshot(2 * windowMs - intervalMs)
    assert.equal(core.limit, afterFirstCut, 'not cut again on less than a new window')
    core.snapshot(2 * windowMs)
    assert.ok(core.limit < afterFirstCut)
  })

  /** A core whose limit was cut by a stall of `2 * inFlight` requests for a window, all answered at the cut, and the time one interval later. */
  function coreCutTo(inFlight: number): {core: AdmissionCore; nowMs: number} {
    const core = new AdmissionCore(0, settings)
    const tickets = admit(core, 0, 2 * inFlight)
    core.snapshot(windowMs)
    assert.equal(core.limit, Math.floor(2 * inFlight * Math.max(settings.decreaseFactorMin, targetMs / intervalMs)))
    for (const ticket of tickets) core.complete(ticket, windowMs)
    // The interval of those slow completions closes before the caller's requests begin.
    core.snapshot(windowMs + intervalMs)
    return {core, nowMs: windowMs + intervalMs}
  }

  it('raises the limit when it was met and the fastest request stayed under growthFraction of the target', () => {
    const {core, nowMs} = coreCutTo(40)
    const limit = core.limit
    const tickets = admit(core, nowMs + 1, limit + 5)
    assert.equal(tickets.length, limit)
    assert.equal(core.snapshot(nowMs + 1).shed, 5, 'the arrivals beyond the limit were shed')
    for (const ticket of tickets) core.complete(ticket, nowMs + 6)
    core.snapshot(nowMs + intervalMs)
    assert.equal(core.limit, limit + Math.max(1, Math.floor(limit * settings.increaseFraction)))
  })

  it('keeps the limit in the band between growthFraction of the target and the target, even when met', () => {
    const {core, nowMs} = coreCutTo(40)
    const limit = core.limit
    const tickets = admit(core, nowMs + 1, limit + 5)
    for (const ticket of tickets) core.complete(ticket, nowMs + 1 + targetMs * settings.growthFraction + 10)
    core.snapshot(nowMs + intervalMs)
    assert.equal(core.limit, limit)
  })

  it('after a refusal, grows the limit without demand only once the node has refused nothing for calmAfterShedMs', () => {
    // Growing in every lull of an overload whose clients throttle themselves let each burst queue
    // before the next cut (10x goodput 47-51% against 88%); never growing without demand left an
    // idle node's limit cut for good.
    const {core, nowMs} = coreCutTo(40)
    const limit = core.limit
    const admitted = admit(core, nowMs + 1, limit)
    assert.equal(core.arrive(nowMs + 1).ok, false, 'a refusal at the limit')
    for (const ticket of admitted) core.complete(ticket, nowMs + 6)
    // A lull within the target: the limit was met in the interval of the refusal, and grows once.
    core.snapshot(nowMs + intervalMs)
    const grown = core.limit
    assert.equal(grown, limit + Math.max(1, Math.floor(limit * settings.increaseFraction)))
    // Fast requests below the limit, for less than calmAfterShedMs after the refusal: no growth.
    let at = nowMs + intervalMs
    for (; at + intervalMs < nowMs + 1 + settings.calmAfterShedMs; at += intervalMs) {
      for (const ticket of admit(core, at + 1, 2)) core.complete(ticket, at + 6)
    }
    core.snapshot(at)
    assert.equal(core.limit, grown)
    // Calm at last: it grows again without demand.
    for (let i = 0; i < 3; i += 1, at += intervalMs) for (const ticket of admit(core, at + 1, 2)) core.complete(ticket, at + 6)
    core.snapshot(at + intervalMs)
    assert.ok(core.limit > grown, `${core.limit} > ${grown}`)
  })

  it('raises the limit by increaseFraction when the node was fast, even with the limit not met (no refusal yet)', () => {
    // This test once asserted the opposite (no demand at the limit, no growth). That rule left a
    // limit cut on a node whose demand then stayed below it at the floor for minutes; a limit that
    // is not binding is grown once the node has refused nothing for calmAfterShedMs (here: never).
    const {core, nowMs} = coreCutTo(40)
    const limit = core.limit
    for (const ticket of admit(core, nowMs + 1, 3)) core.complete(ticket, nowMs + 6)
    core.snapshot(nowMs + intervalMs)
    assert.equal(core.limit, limit + Math.max(1, Math.floor(limit * settings.increaseFraction)))
  })

  it('never cuts below the floor nor grows above the ceiling', () => {
    const slow = new AdmissionCore(0, settings)
    admit(slow, 0, 100)
    for (let window = 1; window <= 20; window += 1) slow.snapshot(window * windowMs)
    assert.equal(slow.limit, settings.concurrencyLimitMin)
    const {core: fast, nowMs} = coreCutTo(40)
    for (let interval = 1; interval <= 500; interval += 1) {
      const startMs = nowMs + interval * intervalMs
      for (const ticket of admit(fast, startMs, fast.limit + 1)) fast.complete(ticket, startMs + 1)
    }
    fast.snapshot(nowMs + 501 * intervalMs)
    assert.equal(fast.limit, settings.concurrencyLimitMax)
  })

  it('closes a long idle gap in one step, and grows the limit back as that many idle intervals would', () => {
    // This test once asserted that the gap kept the limit learnt before it: the old rule grew a
    // limit only under demand, so a node left idle kept a storm's cut for ever. An idle node has
    // no queue to protect; its limit doubles per idle interval, back to the backstop.
    const {core, nowMs} = coreCutTo(40)
    assert.ok(core.limit < settings.concurrencyLimitMax)
    const snapshot = core.snapshot(nowMs + 1_000_000)
    assert.equal(snapshot.limit, settings.concurrencyLimitMax)
    assert.equal(snapshot.lastIntervalDelayMs, 0)
    assert.equal(snapshot.state, 'normal')
  })

  it('says shedding after a refusal, for shedHoldMs, then normal again once the node is idle', () => {
    const core = new AdmissionCore(0, {...settings, concurrencyLimitMin: 1, concurrencyLimitMax: 4})
    const tickets = [0, 1, 2, 3].map(() => core.arrive(0))
    assert.equal(core.arrive(0).ok, false)
    assert.equal(core.snapshot(0).state, 'shedding')
    for (const admission of tickets) if (admission.ok) core.complete(admission.ticket, 1)
    assert.equal(core.snapshot(settings.shedHoldMs).state, 'shedding')
    assert.equal(core.snapshot(settings.shedHoldMs + 1).state, 'normal')
  })

  it('lets background work yield after one slow interval, long before a cut', () => {
    const core = new AdmissionCore(0, settings)
    admit(core, 0, 10)
    assert.equal(core.backgroundShouldYield(intervalMs - 1), false)
    assert.equal(core.backgroundShouldYield(intervalMs), true, 'the oldest had waited a whole interval')
    assert.equal(core.limit, settings.concurrencyLimitMax)
  })

  it('refuses misuse: time going backwards, a ticket completed twice, settings out of range', () => {
    const core = new AdmissionCore(10, settings)
    assert.throws(() => core.arrive(9), /backwards/)
    const admission = core.arrive(10)
    assert.ok(admission.ok)
    core.complete(admission.ticket, 11)
    assert.throws(() => core.complete(admission.ticket, 12), /not in flight/)
    assert.throws(() => new AdmissionCore(0, {...settings, concurrencyLimitMin: 0}))
    assert.throws(() => new AdmissionCore(0, {...settings, windowIntervals: 0}))
    assert.throws(() => new AdmissionCore(0, {...settings, decreaseFactorMax: 1}))
    assert.throws(() => new AdmissionCore(0, {...settings, decreaseFactorMin: 0.95}))
  })
})

describe('admission core: a request still uploading its body, and the limit on a node left idle', () => {
  const {queueDelayTargetMs: targetMs, intervalMs, windowIntervals, concurrencyLimitMin: limitMin, concurrencyLimitMax: limitMax} = settings
  const windowMs = intervalMs * windowIntervals

  it('a client that sends part of its body and holds the connection for 4 s is no queue: the limit stays at the backstop, the state normal, and its time in the node counts from bodyReceived', () => {
    // The user's report: PUT /kv/x with Content-Length: 5, 2 bytes sent, the connection held 4 s
    // on an otherwise idle node. Counted from admission, its age was the signal for 16 intervals
    // with nothing completing: a cut to the floor, and background work yielding all along.
    const core = new AdmissionCore(0, settings)
    const upload = core.arrive(0, {uploading: true})
    assert.ok(upload.ok)
    const stallMs = 4000
    // Asked each interval, as the node's periodic tasks and GET /stats would.
    for (let nowMs = intervalMs; nowMs <= stallMs; nowMs += intervalMs) {
      assert.equal(core.backgroundShouldYield(nowMs), false, `background work runs at ${nowMs} ms`)
      const snapshot = core.snapshot(nowMs)
      assert.equal(snapshot.state, 'normal', `normal at ${nowMs} ms`)
      assert.equal(snapshot.limit, limitMax, `the limit at ${nowMs} ms`)
      assert.equal(snapshot.lastIntervalDelayMs, 0)
      assert.equal(snapshot.standingQueueMs, 0)
      assert.equal(snapshot.inFlight, 1, 'it holds its slot')
    }
    // The body arrives whole at last and the node answers 30 ms later: 30 ms in the node, not 4,030.
    core.bodyReceived(upload.ticket, stallMs)
    core.complete(upload.ticket, stallMs + 30)
    const after = core.snapshot(stallMs + intervalMs)
    assert.equal(after.lastIntervalDelayMs, 30)
    assert.equal(after.limit, limitMax)
    // The burst of 50 GETs that followed: all taken.
    assert.equal(admit(core, stallMs + intervalMs, 50).length, 50)
    assert.equal(core.snapshot(stallMs + intervalMs).shed, 0)
  })

  it('a request completed while still uploading (its client gone, or bad input) frees its slot and records no time in the node', () => {
    // It holds a slot while uploading: on a limit of one, the next arrival is refused.
    const tight = new AdmissionCore(0, {...settings, concurrencyLimitMin: 1, concurrencyLimitMax: 1})
    const held = tight.arrive(0, {uploading: true})
    assert.ok(held.ok)
    assert.equal(tight.arrive(1).ok, false, 'the upload holds the only slot')
    tight.complete(held.ticket, 3000)
    assert.equal(tight.inFlight, 0)
    assert.ok(tight.arrive(3001).ok, 'its slot is free again')
    assert.throws(() => tight.complete(held.ticket, 3002), /not in flight/)
    assert.throws(() => tight.bodyReceived(held.ticket, 3002), /not uploading/)

    // No time recorded, not even 0: with a 40 ms request answered in the same interval, the
    // fastest quarter is 40 ms (a 0 recorded for the abandoned upload would have made it 0, and
    // its time since arrival, 20 ms).
    const core = new AdmissionCore(0, settings)
    const abandoned = core.arrive(0, {uploading: true})
    const answered = core.arrive(10)
    assert.ok(abandoned.ok && answered.ok)
    core.complete(abandoned.ticket, 20)
    core.complete(answered.ticket, 50)
    assert.equal(core.snapshot(intervalMs).lastIntervalDelayMs, 40)
    // Alone in an interval, it leaves the interval idle: no signal at all.
    const alone = core.arrive(intervalMs, {uploading: true})
    assert.ok(alone.ok)
    core.complete(alone.ticket, 2 * intervalMs - 1)
    assert.equal(core.snapshot(2 * intervalMs).lastIntervalDelayMs, 0)
    assert.equal(core.limit, limitMax)
  })

  it('a request whose body is received is the newest in the queue: the oldest stays the signal, and its own age counts from bodyReceived', () => {
    const core = new AdmissionCore(0, settings)
    const uploaded = core.arrive(0, {uploading: true})
    const plain = core.arrive(100)
    assert.ok(uploaded.ok && plain.ok)
    core.bodyReceived(uploaded.ticket, 150)
    // Nothing completed: the oldest in the queue is the plain request (150 ms), not the upload (250 ms since arrival).
    assert.equal(core.snapshot(intervalMs).lastIntervalDelayMs, intervalMs - 100)
    core.complete(plain.ticket, intervalMs + 10)
    assert.equal(core.snapshot(2 * intervalMs).lastIntervalDelayMs, intervalMs + 10 - 100)
    // Nothing completed again: the upload is the oldest now, aged from its body's arrival.
    assert.equal(core.snapshot(3 * intervalMs).lastIntervalDelayMs, 3 * intervalMs - 150)
  })

  it('refuses misuse of bodyReceived: an unknown ticket, one admitted without uploading, one told twice', () => {
    const core = new AdmissionCore(0, settings)
    assert.throws(() => core.bodyReceived(7, 0), /not uploading/)
    const plain = core.arrive(0)
    const upload = core.arrive(0, {uploading: true})
    assert.ok(plain.ok && upload.ok)
    assert.throws(() => core.bodyReceived(plain.ticket, 1), /not uploading/)
    core.bodyReceived(upload.ticket, 1)
    assert.throws(() => core.bodyReceived(upload.ticket, 2), /not uploading/)
    assert.throws(() => core.bodyReceived(upload.ticket, 0), /not uploading|backwards/)
    assert.throws(() => core.complete(99, 2), /not in flight/)
    core.complete(upload.ticket, 3)
    core.complete(plain.ticket, 3)
    assert.equal(core.inFlight, 0)
  })

  it('grows a limit cut to the floor by a standing queue back to the backstop within ceil(log2(max / min)) idle intervals', () => {
    // An idle interval doubles the limit (idleIncreaseFactor): 4 -> 4,096 in 10 intervals, 2.5 s.
    const idleIntervals = Math.ceil(Math.log(limitMax / limitMin) / Math.log(settings.idleIncreaseFactor))
    assert.ok(idleIntervals * intervalMs <= 2500)
    /** A core cut to the floor by 100 requests stalled for two windows, answered at the second cut; and the time one interval later. */
    const cutToFloor = (): {core: AdmissionCore; nowMs: number} => {
      const core = new AdmissionCore(0, settings)
      const tickets = admit(core, 0, 100)
      core.snapshot(windowMs)
      assert.equal(core.limit, Math.floor(100 * (targetMs / intervalMs)), 'the first cut')
      core.snapshot(2 * windowMs)
      assert.equal(core.limit, limitMin, 'the second cut, to the floor')
      for (const ticket of tickets) core.complete(ticket, 2 * windowMs)
      // The interval of those slow answers is above the target: no growth in it.
      core.snapshot(2 * windowMs + intervalMs)
      assert.equal(core.limit, limitMin)
      return {core, nowMs: 2 * windowMs + intervalMs}
    }
    // Closed interval by interval (the node's periodic tasks ask every interval).
    const {core: stepped, nowMs} = cutToFloor()
    for (let interval = 1; interval < idleIntervals; interval += 1) {
      stepped.snapshot(nowMs + interval * intervalMs)
      assert.ok(stepped.limit < limitMax, `not yet back after ${interval} idle intervals`)
    }
    assert.equal(stepped.snapshot(nowMs + idleIntervals * intervalMs).limit, limitMax)
    assert.equal(stepped.snapshot(nowMs + idleIntervals * intervalMs).state, 'normal')
    // Closed in one gap (nothing asks until the next request), with a slow upload holding a slot
    // all along (it is in no queue, so the node is idle all the same): the same.
    const short = cutToFloor()
    assert.ok(short.core.arrive(short.nowMs, {uploading: true}).ok)
    assert.ok(short.core.snapshot(short.nowMs + (idleIntervals - 1) * intervalMs).limit < limitMax)
    const gap = cutToFloor()
    assert.ok(gap.core.arrive(gap.nowMs, {uploading: true}).ok)
    assert.equal(gap.core.snapshot(gap.nowMs + idleIntervals * intervalMs).limit, limitMax)
    // The burst that found 29 of 50 refused on the user's node is taken whole.
    assert.equal(admit(gap.core, gap.nowMs + idleIntervals * intervalMs, 50).length, 50)
  })

  it('cuts under a standing queue as before: no growth while the signal is above the target, the cut at the window\'s end, and uploads alongside change neither the signal nor when it comes', () => {
    // A standing queue beside a limit it does not meet: the limit does not grow during the window
    // (the new growth needs the signal within the target) and is cut at its end, from what was in flight.
    const core = new AdmissionCore(0, settings)
    const storm = admit(core, 0, 200)
    core.snapshot(windowMs)
    const firstCut = Math.floor(200 * (targetMs / intervalMs))
    assert.equal(core.limit, firstCut)
    for (const ticket of storm) core.complete(ticket, windowMs)
    // One fast interval ends the run: the limit grows once, by increaseFraction (requests were in the queue).
    const fastFromMs = windowMs + intervalMs
    core.snapshot(fastFromMs)
    for (const ticket of admit(core, fastFromMs, 1)) core.complete(ticket, fastFromMs + 5)
    const queueFromMs = fastFromMs + intervalMs
    core.snapshot(queueFromMs)
    const grown = firstCut + Math.floor(firstCut * settings.increaseFraction)
    assert.equal(core.limit, grown)
    admit(core, queueFromMs, 10)
    for (let interval = 1; interval < windowIntervals; interval += 1) {
      core.snapshot(queueFromMs + interval * intervalMs)
      assert.equal(core.limit, grown, `no growth and no cut after ${interval} intervals above the target`)
    }
    core.snapshot(queueFromMs + windowMs)
    assert.equal(core.limit, Math.max(limitMin, Math.floor(10 * Math.max(settings.decreaseFactorMin, targetMs / intervalMs))))

    // The same queue with ten slow uploads beside it: the same signal every interval and the cut
    // at the same moment, from the slots held (uploads included, as the limit counts them).
    const minimaMs = [200, 300, 600, 800]
    const plain = new AdmissionCore(0, settings)
    const withUploads = new AdmissionCore(0, settings)
    admit(withUploads, 0, 10, {uploading: true})
    const plainTickets = admit(plain, 0, 50)
    const uploadTickets = admit(withUploads, 0, 50)
    minimaMs.forEach((minMs, i) => {
      plain.complete(plainTickets[i] as number, minMs)
      withUploads.complete(uploadTickets[i] as number, minMs)
      const endMs = (i + 1) * intervalMs
      const a = plain.snapshot(endMs)
      const b = withUploads.snapshot(endMs)
      assert.equal(b.lastIntervalDelayMs, a.lastIntervalDelayMs)
      assert.equal(a.lastIntervalDelayMs, minMs)
      assert.equal(b.standingQueueMs, a.standingQueueMs)
      if (i < windowIntervals - 1) assert.equal(b.limit, a.limit, 'no cut before the window ends')
    })
    assert.equal(plain.limit, Math.floor(50 * (targetMs / 200)), 'cut as before')
    assert.equal(withUploads.limit, Math.floor(60 * (targetMs / 200)))
  })
})

describe('admission core: a node that shares its capacity among the requests in flight', () => {
  /**
   * A node of `capacityPerMs` requests per ms, processor-shared: each request needs one unit of
   * work plus `baseMs` of waiting on peers; every ms the capacity is split evenly among the
   * requests in flight that still need work. Offered `offeredPerMs` arrivals each ms, open loop.
   * Returns goodput (completions per ms) and the p99 time in the node after `warmupMs`: the
   * limit starts at the backstop and is cut at most once per window, so the first seconds of an
   * overload (a few windows) are its convergence, not its steady state.
   */
  function simulate(offeredPerMs: number, capacityPerMs: number, baseMs: number, durationMs: number, warmupMs: number): {goodputPerMs: number; p99InNodeMs: number; shedShare: number} {
    const core = new AdmissionCore(0, settings)
    const inFlight: Array<{ticket: number; startMs: number; workLeft: number}> = []
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
      const result = simulate(capacityPerMs * overload, capacityPerMs, 2, 16_000, 6000)
      assert.ok(result.goodputPerMs >= 0.9 * capacityPerMs, `goodput ${result.goodputPerMs} per ms of ${capacityPerMs}`)
      assert.ok(result.p99InNodeMs <= 3 * settings.queueDelayTargetMs, `p99 in the node ${result.p99InNodeMs} ms`)
      assert.ok(result.shedShare >= 1 - 1 / overload - 0.1, `shed ${result.shedShare} of the arrivals`)
    })
  }

  it('offered half its capacity, it sheds nothing', () => {
    const result = simulate(1, 2, 2, 6000, 0)
    assert.equal(result.shedShare, 0)
  })
})
