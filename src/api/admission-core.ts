/**
 * The pure core of a node's admission control (issue 16; ARCHITECTURE "Overload"): which client
 * requests a node takes on, which it sheds at once, and when its background work should yield.
 * It reads no clock: every call is handed the node's monotonic time, so that a test can drive it
 * through any schedule of arrivals and completions (admission.ts is the thin shell that reads
 * the node's Clock; handler.ts asks it before reading a request's body, and tells it when the
 * body has been read).
 *
 * The rule sheds only under a *standing* queue, never under noise. It was chosen by measurement
 * on a 2-core machine shared by three nodes, the bench and other jobs (bench/README.md,
 * "Overload"): a first rule, with CoDel's minimum over 100 ms against a 20 ms target and a limit
 * that started at 64 and was cut by up to half per interval, shed at half capacity and cost a
 * closed loop of 64 connections 43% of its throughput, because on such a machine a GC pause or a
 * neighbour's burst pushes every request of a 100 ms interval above 20 ms with no queue built.
 * A target of 50 ms (tried) shed at 6,000 ops/s offered and lost a third of the goodput there, since
 * on that machine the load generator shares the cores and spends as much on a refusal as on an
 * answer; 100 ms sheds only what the nodes themselves cannot take.
 *
 * The signal is CoDel's (Nichols and Jacobson, "Controlling Queue Delay", ACM Queue 2012),
 * adapted to one event loop. For each interval of `intervalMs` (250 ms): the fastest quarter
 * (`signalQuantile`) of the admitted requests' times in the node, from the handler's start (or,
 * for a request with a body, from the moment its body was read: see below) to the answer, plus
 * the event loop's median delay over the interval (observeLoopDelay: the shell's
 * `monitorEventLoopDelay`), the time a request waits before its handler starts, which the time in
 * the node does not see. A standing queue is `windowIntervals` intervals in a row (1 s) whose
 * signal was above `queueDelayTargetMs` (100 ms). CoDel's minimum is blind to slow requests (a
 * slow replica, a compaction, a GC pause); a low quantile is as blind to them, and unlike the
 * minimum it is not fooled by the few requests a loaded node still answers at once (measured:
 * with the bench offering 6,000 ops/s some requests still took under 1 ms in the node, the minimum
 * stayed near 0 while the fastest quarter was at 30 to 150 ms). The window is long because on a
 * noisy machine one slow interval is common and one slow second of every request is not; the
 * target sits above what a node under a closed loop at its capacity shows (15 to 25 ms measured
 * at 64 connections, 40 to 60 ms in its first second) and below what a node with a queue that
 * keeps growing shows (it grows without bound). An interval in which nothing completed while
 * requests were in the node's queue counts the age of the oldest of them instead (a node so
 * stalled that nothing finishes is the most overloaded of all).
 *
 * Time spent waiting for a client's bytes is not time in the node's queue. The handler admits a
 * key request before it reads the body, so that a refusal costs nothing (no upload read only to
 * be thrown away); but while the body is still arriving the node is waiting on the client, not
 * the client on the node. Counted from admission, one client that sent 2 of a PUT's 5 bytes and
 * held its connection for 4 s, on an otherwise idle node, was the oldest in flight through 16
 * intervals in which nothing completed: the signal read its age, a window above the target cut
 * the limit from 4,096 to the floor, and background work yielded meanwhile (found by a user,
 * reproduced). So a request with a body is admitted `uploading`: it holds a slot (it counts
 * towards the limit, since the node has taken it on and will answer it), but until `bodyReceived`
 * it is not in the node's queue, never the oldest in flight whose age becomes the signal, and its
 * time in the node counts from when its body was received. One completed while still uploading
 * (its client went away mid-upload, or it was refused for bad input before its body was read)
 * frees its slot and records no time in the node: it never queued, and a time of 0 would pull the
 * fastest quarter down once for every abandoned upload, hiding a queue.
 *
 * The actuator is a concurrency limit (Facebook's "Fail at Scale", Netflix's concurrency-limits,
 * Envoy's adaptive concurrency): an arrival with `limit` requests in flight is refused at once,
 * and only then. The limit starts at the backstop, `concurrencyLimitMax` (4,096, the handler's
 * old fixed bound), so that a node sheds nothing until it has seen a standing queue. Its moves:
 *   - every interval's signal above the target for a whole window in a row (a standing queue):
 *     the limit is set to the most requests in flight at once during those intervals (slots
 *     held, uploads included, since the limit counts them; or the limit, if lower), times
 *     target / signal (the lowest of the window's), a factor held within [`decreaseFactorMin`,
 *     `decreaseFactorMax`]: by Little's law (time in node = in flight / throughput) that brings
 *     the time in the node back towards the target at the same throughput. Cutting from what was in flight, not from the
 *     limit, lands on a useful limit at the first cut even from 4,096. The count of intervals
 *     then starts afresh, so the next cut needs a whole new second above the target (hysteresis:
 *     at most one cut per window, and never on the samples that caused the last one);
 *   - an interval whose signal stayed within `growthFraction` of the target (all of it, by
 *     default) while an arrival met the limit: the limit grows by `increaseFraction` of itself
 *     (at least one), to find capacity freed since (additive-ish increase, multiplicative
 *     decrease). The hysteresis is in time: one interval within the target grows the limit, a
 *     whole window above it is needed to cut;
 *   - the same without an arrival that met the limit, once the node has refused nothing for
 *     `calmAfterShedMs` (5 s): growing only with demand, a limit cut on a node whose demand then
 *     stayed below it never came back (a node stayed at 4 for minutes after a slow client left,
 *     then refused 29 of a burst of 50 GETs that the other nodes answered in full). Growing in
 *     every lull instead, refusals or not, let each burst of an overload whose clients throttle
 *     themselves (they send in bursts) queue before the next cut: at ten times capacity the
 *     goodput fell from 88% to 47 to 51% (bench/README.md, "Overload: the limit grows back
 *     when calm"). After 5 s without a refusal the overload is over, and a limit that is not
 *     binding is harmless to grow: a new standing queue cuts it again within a window, from what
 *     is in flight then and not from the limit, as it cuts a fresh node's 4,096;
 *   - a calm interval in which no request was in the node's queue at all (none completed, none in
 *     it at the interval's end; requests still uploading do not count): the limit is multiplied by
 *     `idleIncreaseFactor` (2) instead, so that from the floor it is back at the backstop in
 *     log2(4,096 / 4) = 10 intervals (2.5 s) rather than the 73 (18 s) of 10% steps. An idle node
 *     has no queue to protect and has learnt nothing about its capacity since the cut, and the
 *     backstop it returns to is where a fresh node starts, which the first window of a storm cuts
 *     to a useful limit; doubling rather than a jump to the backstop keeps a storm with short
 *     lulls from winning its whole limit back in each lull. An idle gap of many intervals grows
 *     the limit as that many idle intervals would;
 *   - otherwise (above the target for less than a window) it stays.
 * CoDel's own control law (drop one packet, then the next after interval / sqrt(count)) is meant
 * for TCP senders that halve their rate at one drop; client requests arriving open loop do not
 * slow down, so the shedding has to take the whole excess at once, which a limit does.
 *
 * A refusal is decided from two numbers (in flight, limit) and costs nothing more; the SRE
 * book's "Handling Overload" and the AWS Builders' Library's "Using load shedding to avoid
 * overload" both ask that it be that cheap, and that the answer tell the client to come back
 * later: `retryAfterMs` is the hint handed out with each refusal.
 *
 * Background work (hint delivery, transfers, release, anti-entropy, reaping) yields first
 * (paper §6.5, where background tasks get time slices only when foreground latency allows):
 * `backgroundShouldYield` turns true at a lower threshold than shedding does, and sooner: when
 * the last single interval's signal passed `backgroundYieldFraction` of the target, when the
 * requests in flight reach that fraction of the limit, or for `shedHoldMs` after any refusal.
 */

import {assert} from '../errors.js'

export interface AdmissionSettings {
  /** The target: the signal (the fastest quarter's time in the node plus the loop's delay) held above it for a whole window is a standing queue. */
  readonly queueDelayTargetMs: number
  /**
   * Which of an interval's times in the node is its signal: 0 is CoDel's minimum; 0.25, the
   * fastest quarter, is as blind to slow requests and not fooled by a few answered at once.
   */
  readonly signalQuantile: number
  /** How often the signal is sampled and the limit may grow. */
  readonly intervalMs: number
  /** The window, in intervals: a cut needs this many intervals in a row whose signal was above the target. */
  readonly windowIntervals: number
  /** The limit never goes below this: a node always takes some work, so that its latency is measured at all. */
  readonly concurrencyLimitMin: number
  /** The hard backstop, and where the limit starts: never more client requests in flight than this. */
  readonly concurrencyLimitMax: number
  /** The largest cut (what was in flight is multiplied by at least this). */
  readonly decreaseFactorMin: number
  /** The smallest cut (what was in flight is multiplied by at most this). */
  readonly decreaseFactorMax: number
  /** The growth of one interval whose signal stayed within `growthFraction` of the target, with requests in the node's queue. */
  readonly increaseFraction: number
  /** The growth of one interval with nothing in the node's queue: the limit is multiplied by this (never less than `increaseFraction` would give). */
  readonly idleIncreaseFactor: number
  /** The limit grows only when the interval's signal stayed within this fraction of the target. */
  readonly growthFraction: number
  /** Without an arrival that met the limit, it grows only once the node has refused nothing for this long. */
  readonly calmAfterShedMs: number
  /** Background work yields once the signal passes this fraction of what sheds foreground work. */
  readonly backgroundYieldFraction: number
  /** After a refusal, background work keeps yielding this long. */
  readonly shedHoldMs: number
  /** What a refused client is told to wait before it retries. */
  readonly retryAfterMs: number
}

/**
 * The defaults, measured on the 2-core shared machine (bench/README.md, "Overload"; the header
 * above says why each). The cut is by target / signal, at least a tenth and at most nine tenths
 * of what was in flight per window, and the growth quick (10% per interval within the target,
 * twice the limit per idle interval), so a limit cut by a passing storm comes back within
 * seconds. The cut used to be held to at most a half per window: from a thousand requests in
 * flight it took six windows or more to reach a useful limit, while the requests admitted
 * meanwhile waited seconds, and at ten times capacity the goodput fell to a fifth of capacity
 * (bench/README.md, "The nodes alone overloaded, on a fraction of a core"; 0.62 to 0.77 of it
 * with a tenth). The retry hint is two intervals: by then the limit can have moved.
 */
export const admissionSettingsDefault: AdmissionSettings = {
  queueDelayTargetMs: 100,
  signalQuantile: 0.25,
  intervalMs: 250,
  windowIntervals: 4,
  concurrencyLimitMin: 4,
  concurrencyLimitMax: 4096,
  decreaseFactorMin: 0.1,
  decreaseFactorMax: 0.9,
  increaseFraction: 0.1,
  idleIncreaseFactor: 2,
  growthFraction: 1,
  calmAfterShedMs: 5000,
  backgroundYieldFraction: 0.5,
  shedHoldMs: 1000,
  retryAfterMs: 500,
}

/** The window is this many sampling intervals (`windowIntervals` of the defaults). */
export const admissionWindowIntervals = admissionSettingsDefault.windowIntervals

/** The bounds `dyn start --admission-target-ms / --admission-window-ms` accept (whole ms). */
export const admissionTargetMsRange = {min: 1, max: 60_000} as const
export const admissionWindowMsRange = {min: admissionWindowIntervals, max: 600_000} as const

/**
 * The settings of a node started with another target or window than the defaults' (100 ms,
 * 1,000 ms): the window stays `admissionWindowIntervals` intervals, so the signal is sampled
 * every `windowMs / admissionWindowIntervals`; everything else is the defaults'. A tiny target
 * makes a node shed as soon as its requests queue at all (the overload integration test uses
 * 1 ms, so that whether it sheds does not depend on how loaded the machine is).
 */
export function admissionSettingsWith(options: {readonly queueDelayTargetMs?: number; readonly windowMs?: number}): AdmissionSettings {
  const settings: AdmissionSettings = {
    ...admissionSettingsDefault,
    ...(options.queueDelayTargetMs === undefined ? {} : {queueDelayTargetMs: options.queueDelayTargetMs}),
    ...(options.windowMs === undefined ? {} : {intervalMs: options.windowMs / admissionWindowIntervals}),
  }
  checkSettings(settings)
  return settings
}

export type AdmissionState = 'normal' | 'background-yields' | 'shedding'

/** How a request is admitted. */
export interface ArriveOptions {
  /**
   * Its body is still coming from the client: it holds a slot but is not in the node's queue
   * until `bodyReceived` (the header says why). Absent or false: in the queue from arrival.
   */
  readonly uploading?: boolean
}

export type Admission = {readonly ok: true; readonly ticket: number} | {readonly ok: false; readonly error: 'overloaded'; readonly inFlight: number; readonly limit: number; readonly retryAfterMs: number}

export interface AdmissionSnapshot {
  readonly state: AdmissionState
  readonly limit: number
  readonly inFlight: number
  readonly admitted: number
  readonly shed: number
  /** The signal of the last whole interval (fastest quarter's time in the node plus the loop's median delay), in ms; 0 when idle. */
  readonly lastIntervalDelayMs: number
  /** How long the signal has been above the target (whole intervals, since the last cut); a cut comes at a whole window. */
  readonly standingQueueMs: number
  readonly queueDelayTargetMs: number
}

export function checkSettings(settings: AdmissionSettings): void {
  assert(settings.queueDelayTargetMs > 0 && settings.intervalMs > 0, 'the target and the interval are positive')
  assert(settings.signalQuantile >= 0 && settings.signalQuantile < 0.5, 'the signal is a low quantile')
  assert(Number.isInteger(settings.windowIntervals) && settings.windowIntervals >= 1, 'the window is a whole number of intervals >= 1')
  assert(Number.isInteger(settings.concurrencyLimitMin) && settings.concurrencyLimitMin >= 1, 'the limit floor is a whole number >= 1')
  assert(Number.isInteger(settings.concurrencyLimitMax) && settings.concurrencyLimitMax >= settings.concurrencyLimitMin, 'the limit ceiling is a whole number >= the floor')
  assert(settings.decreaseFactorMin > 0 && settings.decreaseFactorMin <= settings.decreaseFactorMax && settings.decreaseFactorMax < 1, 'a cut multiplies by a factor in (0, 1)')
  assert(settings.increaseFraction > 0, 'growth is positive')
  assert(settings.idleIncreaseFactor >= 1, 'an idle interval does not shrink the limit')
  assert(settings.growthFraction > 0 && settings.growthFraction <= 1, 'the limit grows only within the target')
  assert(settings.backgroundYieldFraction > 0 && settings.backgroundYieldFraction <= 1, 'background yields at or before foreground sheds')
  assert(settings.shedHoldMs >= 0 && settings.retryAfterMs > 0, 'the hold and the retry hint are not negative')
}

/**
 * The decision state of one node. `arrive` admits (and hands out a ticket) or refuses;
 * `bodyReceived` is told when the body of a request admitted uploading has been read whole;
 * `complete` is told when an admitted request has been answered. Time must not go backwards
 * between calls (it is the node's monotonic clock).
 */
export class AdmissionCore {
  readonly settings: AdmissionSettings
  private limitValue: number
  /**
   * Admitted requests in the node's queue: ticket -> when their time in the node began (arrival,
   * or their body received). A Map keeps insertion order, and every entry is inserted at the
   * latest time seen (time does not go backwards), so the first entry is the oldest.
   */
  private readonly startsMs = new Map<number, number>()
  /** Admitted requests whose body is still coming: they hold a slot, and are in no queue of the node's. */
  private readonly uploading = new Set<number>()
  private nextTicket = 0
  private intervalStartMs: number
  /** The times in the node of the requests completed in the current interval. */
  private intervalSojournsMs: number[] = []
  /** The event loop's delay (time before a handler starts) observed during the current interval. */
  private intervalLoopDelayMs = 0
  /** Whether an arrival met the limit during the current interval (the demand to grow it). */
  private limitMetThisInterval = false
  private lastIntervalMinValue = 0
  /** Intervals in a row whose signal was above the target, the lowest of their signals, and the most in flight at once during them (what a cut is taken from). */
  private intervalsAbove = 0
  private runMinValue = Number.POSITIVE_INFINITY
  private runPeakInFlight = 0
  private lastShedMs: number | undefined
  private lastNowMs: number
  private admittedCount = 0
  private shedCount = 0

  constructor(nowMs: number, settings: AdmissionSettings = admissionSettingsDefault) {
    checkSettings(settings)
    this.settings = settings
    this.limitValue = settings.concurrencyLimitMax
    this.intervalStartMs = nowMs
    this.lastNowMs = nowMs
  }

  get limit(): number {
    return this.limitValue
  }

  /** The slots held: requests in the node's queue and requests still uploading. */
  get inFlight(): number {
    return this.startsMs.size + this.uploading.size
  }

  /**
   * Admit a request arriving at `nowMs`, or refuse it: a refusal has cost nothing but this call.
   * `uploading`: its body is still coming, and `bodyReceived` will say when it has come.
   */
  arrive(nowMs: number, options: ArriveOptions = {}): Admission {
    this.advance(nowMs)
    const inFlight = this.inFlight
    if (inFlight >= this.limitValue) {
      this.limitMetThisInterval = true
      this.shedCount += 1
      this.lastShedMs = nowMs
      return {ok: false, error: 'overloaded', inFlight, limit: this.limitValue, retryAfterMs: this.settings.retryAfterMs}
    }
    const ticket = this.nextTicket
    this.nextTicket += 1
    if (options.uploading === true) this.uploading.add(ticket)
    else this.startsMs.set(ticket, nowMs)
    this.admittedCount += 1
    this.runPeakInFlight = Math.max(this.runPeakInFlight, inFlight + 1)
    if (inFlight + 1 >= this.limitValue) this.limitMetThisInterval = true
    return {ok: true, ticket}
  }

  /**
   * The body of `ticket`, admitted uploading, was read whole at `nowMs`: from now on the request
   * is in the node's queue, and its time in the node counts from here. Only a ticket still
   * uploading may be told so, once; any other is a programmer's error.
   */
  bodyReceived(ticket: number, nowMs: number): void {
    assert(this.uploading.has(ticket), `ticket ${ticket} is not uploading`)
    this.advance(nowMs)
    this.uploading.delete(ticket)
    // Inserted last at the latest time seen: the newest in the queue, so the first entry stays the oldest.
    this.startsMs.set(ticket, nowMs)
  }

  /**
   * An admitted request was answered at `nowMs`. A ticket completes once; an unknown one is a
   * programmer's error. One still uploading (its client went away mid-upload, or it was refused
   * for bad input before its body was read) frees its slot and records no time in the node: it
   * never was in the node's queue (the header says why a time of 0 would be wrong too).
   */
  complete(ticket: number, nowMs: number): void {
    const startMs = this.startsMs.get(ticket)
    assert(startMs !== undefined || this.uploading.has(ticket), `ticket ${ticket} is not in flight`)
    this.advance(nowMs)
    if (startMs === undefined) {
      this.uploading.delete(ticket)
      return
    }
    this.startsMs.delete(ticket)
    const inNodeMs = nowMs - startMs
    this.intervalSojournsMs.push(inNodeMs)
  }

  /**
   * The event loop's delay observed at `nowMs` (the shell's `monitorEventLoopDelay`, its median
   * over the last sample): the time a request waits before its handler starts, which the time in
   * the node does not see. It adds to the current interval's signal (the largest if several).
   */
  observeLoopDelay(nowMs: number, delayMs: number): void {
    assert(delayMs >= 0, 'a delay is not negative')
    this.advance(nowMs)
    this.intervalLoopDelayMs = Math.max(this.intervalLoopDelayMs, delayMs)
  }

  /** Whether background work should skip its pass now: a lower threshold than shedding's. */
  backgroundShouldYield(nowMs: number): boolean {
    this.advance(nowMs)
    return this.stateAt(nowMs) !== 'normal'
  }

  snapshot(nowMs: number): AdmissionSnapshot {
    this.advance(nowMs)
    return {
      state: this.stateAt(nowMs),
      limit: this.limitValue,
      inFlight: this.inFlight,
      admitted: this.admittedCount,
      shed: this.shedCount,
      lastIntervalDelayMs: this.lastIntervalMinValue,
      standingQueueMs: this.intervalsAbove * this.settings.intervalMs,
      queueDelayTargetMs: this.settings.queueDelayTargetMs,
    }
  }

  private stateAt(nowMs: number): AdmissionState {
    const settings = this.settings
    // Shedding: a refusal within the hold.
    if (this.lastShedMs !== undefined && nowMs - this.lastShedMs <= settings.shedHoldMs) return 'shedding'
    const yieldDelayMs = settings.queueDelayTargetMs * settings.backgroundYieldFraction
    // A queue may be building: the last single interval's fastest request passed the lower threshold.
    if (this.lastIntervalMinValue > yieldDelayMs) return 'background-yields'
    // Demand is near the limit (slots held, uploads too): foreground work would be shed next.
    if (this.inFlight >= Math.max(1, Math.floor(this.limitValue * settings.backgroundYieldFraction))) return 'background-yields'
    return 'normal'
  }

  /**
   * Closes every interval that ended by `nowMs`. A gap of many intervals with requests in the
   * node's queue (a stalled loop, a node where nothing finishes) is closed interval by interval,
   * since the oldest of them aged through each, up to two windows' worth (enough for the cut a
   * stall earns; the rest is closed in one step). An idle gap (requests still uploading do not age
   * in the queue) is closed in at most two steps, the interval that was open then one for all the
   * empty ones, since nothing was measured in them; that step grows the limit as that many idle
   * intervals would.
   */
  private advance(nowMs: number): void {
    assert(nowMs >= this.lastNowMs, 'time does not go backwards')
    this.lastNowMs = nowMs
    const {intervalMs} = this.settings
    let stepsLeft = 2 * this.settings.windowIntervals
    while (nowMs >= this.intervalStartMs + intervalMs) {
      const endMs = this.intervalStartMs + intervalMs
      this.closeInterval(endMs)
      this.intervalStartMs = endMs
      stepsLeft -= 1
      if (this.startsMs.size === 0 || stepsLeft <= 0) break
    }
    const intervalsSkipped = Math.floor((nowMs - this.intervalStartMs) / intervalMs)
    if (intervalsSkipped > 0) {
      this.closeInterval(this.intervalStartMs + intervalsSkipped * intervalMs, intervalsSkipped)
      this.intervalStartMs += intervalsSkipped * intervalMs
    }
  }

  /** Closes the `intervals` intervals that end at `endMs` (more than one only for a gap closed in one step). */
  private closeInterval(endMs: number, intervals = 1): void {
    const settings = this.settings
    const oldestStartMs = this.startsMs.values().next().value
    // The interval's fastest completion; with none, the oldest still in the queue (nothing
    // finished while it waited); with neither, the node was idle (0: no queue at all).
    const sojourns = this.intervalSojournsMs
    let minMs = 0
    if (sojourns.length > 0) {
      sojourns.sort((a, b) => a - b)
      minMs = (sojourns[Math.floor(settings.signalQuantile * (sojourns.length - 1))] as number) + this.intervalLoopDelayMs
    } else if (oldestStartMs !== undefined) {
      minMs = endMs - oldestStartMs + this.intervalLoopDelayMs
    }
    this.lastIntervalMinValue = minMs
    if (minMs > settings.queueDelayTargetMs) {
      this.runMinValue = Math.min(this.runMinValue, minMs)
      this.intervalsAbove += 1
      if (this.intervalsAbove >= settings.windowIntervals) {
        // A standing queue for a whole window: cut to what was in flight, by target / signal.
        const factor = Math.min(settings.decreaseFactorMax, Math.max(settings.decreaseFactorMin, settings.queueDelayTargetMs / this.runMinValue))
        const base = Math.min(this.limitValue, Math.max(this.runPeakInFlight, this.inFlight))
        this.limitValue = Math.max(settings.concurrencyLimitMin, Math.floor(base * factor))
        // The next cut needs a whole new window above the target, never the samples behind this one.
        this.resetRun()
      }
    } else {
      this.resetRun()
    }
    // Well within the target: the limit grows when an arrival met it (demand for room), and
    // without demand only once the node has refused nothing for `calmAfterShedMs` (the header
    // says why both); faster when nothing at all was in the queue.
    const idle = sojourns.length === 0 && oldestStartMs === undefined
    const calm = this.lastShedMs === undefined || endMs - this.lastShedMs >= settings.calmAfterShedMs
    if (minMs <= settings.queueDelayTargetMs * settings.growthFraction && (this.limitMetThisInterval || calm)) this.grow(intervals, idle && calm)
    this.intervalSojournsMs = []
    this.intervalLoopDelayMs = 0
    this.limitMetThisInterval = false
  }

  /**
   * Grows the limit as `intervals` intervals within the target would: by `increaseFraction` (at
   * least one) each, or, when nothing was in the node's queue (`idle`), by `idleIncreaseFactor`
   * each. Bounded: every step adds at least one, and it stops at the backstop.
   */
  private grow(intervals: number, idle: boolean): void {
    const {concurrencyLimitMax, increaseFraction, idleIncreaseFactor} = this.settings
    for (let i = 0; i < intervals && this.limitValue < concurrencyLimitMax; i += 1) {
      const limit = this.limitValue
      const stepped = limit + Math.max(1, Math.floor(limit * increaseFraction))
      const grown = idle ? Math.max(stepped, Math.ceil(limit * idleIncreaseFactor)) : stepped
      this.limitValue = Math.min(concurrencyLimitMax, grown)
    }
  }

  private resetRun(): void {
    this.intervalsAbove = 0
    this.runMinValue = Number.POSITIVE_INFINITY
    this.runPeakInFlight = this.inFlight
  }
}
