/**
 * The pure core of a node's admission control (issue 16; ARCHITECTURE "Overload"): which client
 * requests a node takes on, which it sheds at once, and when its background work should yield.
 * It reads no clock: every call is handed the node's monotonic time, so that a test can drive it
 * through any schedule of arrivals and completions (admission.ts is the thin shell that reads
 * the node's Clock; handler.ts asks it before reading a request's body).
 *
 * The signal is CoDel's (Nichols and Jacobson, "Controlling Queue Delay", ACM Queue 2012): the
 * *minimum* time an admitted request spent in the node over an interval of `intervalMs`,
 * compared with `queueDelayTargetMs`. The minimum, not a mean or a percentile, because one slow
 * request (a slow replica, a compaction) says nothing about a queue, while an interval in which
 * even the fastest request took longer than the target means a standing queue: work waiting for
 * the event loop, for the store's threads or for peers. On Node there is no explicit queue to
 * time: every admitted request is "in flight" on one event loop at once and they share it, so the
 * time a request spends in the node is its queueing delay plus its service time. The service
 * time of a request on an idle node is a few milliseconds, well under the target, so a minimum
 * above the target is queueing. An interval in which nothing completed while requests were in
 * flight counts the age of the oldest in flight instead (a node so stalled that nothing finishes
 * is the most overloaded of all).
 *
 * The actuator is a concurrency limit, as Facebook's "Fail at Scale" (Maurer, ACM Queue 2015),
 * Netflix's concurrency-limits and Envoy's adaptive concurrency filter use: arrivals beyond
 * `limit` requests in flight are refused at once. At the end of each interval the limit moves:
 *   - the minimum was above the target: multiply the limit by target / minimum (at least by
 *     `decreaseFactorMin`), the gradient that brings the time in the node back to the target
 *     when requests share the node (Little's law: time in node = in flight / throughput);
 *   - the minimum was within the target and requests met the limit: raise it by
 *     `increaseFraction` of itself (at least one), to find capacity freed since;
 *   - otherwise it stays (an idle node keeps the limit it learnt).
 * CoDel's own control law (drop one packet, then the next after interval / sqrt(count)) is meant
 * for TCP senders that halve their rate at one drop; client requests arriving open loop do not
 * slow down, so the shedding has to take the whole excess at once, which a limit does. The limit
 * stays within [`concurrencyLimitMin`, `concurrencyLimitMax`]: the floor lets a node always make
 * progress, the ceiling is the fixed backstop of the old 4,096 in flight (a fixed count alone
 * would either shed a fast node's work or let a slow node's latency grow to seconds).
 *
 * A refusal is decided from two numbers (in flight, limit) and costs nothing more; the SRE
 * book's "Handling Overload" and the AWS Builders' Library's "Using load shedding to avoid
 * overload" both ask that it be that cheap, and that the answer tell the client to come back
 * later: `retryAfterMs` is the hint handed out with each refusal.
 *
 * Background work (hint delivery, transfers, release, anti-entropy, reaping) yields first
 * (paper §6.5, where background tasks get time slices only when foreground latency allows):
 * `backgroundShouldYield` turns true at a lower threshold than shedding does, when the last
 * interval's minimum passed `backgroundYieldFraction` of the target, when the requests in flight
 * reach that fraction of the limit, or for `shedHoldMs` after any refusal.
 */

import {assert} from '../errors.js'

export interface AdmissionSettings {
  /** CoDel's target: the fastest request of an interval should spend no longer than this in the node. */
  readonly queueDelayTargetMs: number
  /** CoDel's interval: the window of the minimum, and how often the limit moves. */
  readonly intervalMs: number
  /** The limit never goes below this: a node always takes some work, so that its latency is measured at all. */
  readonly concurrencyLimitMin: number
  /** The hard backstop: never more client requests in flight than this, whatever the latency. */
  readonly concurrencyLimitMax: number
  /** Where the limit starts: a node that has measured nothing yet takes this many at once. */
  readonly concurrencyLimitInitial: number
  /** The largest cut of one interval (the limit is multiplied by at least this). */
  readonly decreaseFactorMin: number
  /** The growth of one interval in which the limit was met within the target. */
  readonly increaseFraction: number
  /** Background work yields once the signal passes this fraction of what sheds foreground work. */
  readonly backgroundYieldFraction: number
  /** After a refusal, background work keeps yielding this long. */
  readonly shedHoldMs: number
  /** What a refused client is told to wait before it retries. */
  readonly retryAfterMs: number
}

/**
 * The defaults. The target is 20 ms, two intervals of CoDel's 5 ms target: a put here waits for
 * W replicas over loopback TCP and a LevelDB write on a machine that the bench shares, whose
 * unloaded fastest put takes 1 to 5 ms; CoDel asks for a target of 5 to 10% of the interval for
 * packets, and a request's own service time sits on top of its queueing. The interval is
 * CoDel's 100 ms. The retry hint is two intervals: by then the limit has moved twice.
 */
export const admissionSettingsDefault: AdmissionSettings = {
  queueDelayTargetMs: 20,
  intervalMs: 100,
  concurrencyLimitMin: 4,
  concurrencyLimitMax: 1024,
  concurrencyLimitInitial: 64,
  decreaseFactorMin: 0.5,
  increaseFraction: 0.1,
  backgroundYieldFraction: 0.5,
  shedHoldMs: 1000,
  retryAfterMs: 200,
}

export type AdmissionState = 'normal' | 'background-yields' | 'shedding'

export type Admission = {readonly ok: true; readonly ticket: number} | {readonly ok: false; readonly error: 'overloaded'; readonly inFlight: number; readonly limit: number; readonly retryAfterMs: number}

export interface AdmissionSnapshot {
  readonly state: AdmissionState
  readonly limit: number
  readonly inFlight: number
  readonly admitted: number
  readonly shed: number
  /** The fastest admitted request of the last whole interval, in ms (CoDel's signal); 0 when idle. */
  readonly lastIntervalMinMs: number
  readonly queueDelayTargetMs: number
}

export function checkSettings(settings: AdmissionSettings): void {
  assert(settings.queueDelayTargetMs > 0 && settings.intervalMs > 0, 'the target and the interval are positive')
  assert(Number.isInteger(settings.concurrencyLimitMin) && settings.concurrencyLimitMin >= 1, 'the limit floor is a whole number >= 1')
  assert(Number.isInteger(settings.concurrencyLimitMax) && settings.concurrencyLimitMax >= settings.concurrencyLimitMin, 'the limit ceiling is a whole number >= the floor')
  assert(settings.concurrencyLimitInitial >= settings.concurrencyLimitMin && settings.concurrencyLimitInitial <= settings.concurrencyLimitMax, 'the initial limit is within the floor and the ceiling')
  assert(settings.decreaseFactorMin > 0 && settings.decreaseFactorMin < 1, 'a cut multiplies by a factor in (0, 1)')
  assert(settings.increaseFraction > 0, 'growth is positive')
  assert(settings.backgroundYieldFraction > 0 && settings.backgroundYieldFraction <= 1, 'background yields at or before foreground sheds')
  assert(settings.shedHoldMs >= 0 && settings.retryAfterMs > 0, 'the hold and the retry hint are not negative')
}

/**
 * The decision state of one node. `arrive` admits (and hands out a ticket) or refuses;
 * `complete` is told when an admitted request has been answered. Time must not go backwards
 * between calls (it is the node's monotonic clock).
 */
export class AdmissionCore {
  readonly settings: AdmissionSettings
  private limitValue: number
  /** Admitted requests still in flight: ticket -> start. A Map keeps insertion order, so the first entry is the oldest. */
  private readonly startsMs = new Map<number, number>()
  private nextTicket = 0
  private intervalStartMs: number
  /** The fastest completion of the current interval; undefined until one completes. */
  private intervalMinMs: number | undefined
  /** Whether an arrival met the limit during the current interval (the demand to grow it). */
  private limitMetThisInterval = false
  private lastIntervalMinValue = 0
  private lastShedMs: number | undefined
  private lastNowMs: number
  private admittedCount = 0
  private shedCount = 0

  constructor(nowMs: number, settings: AdmissionSettings = admissionSettingsDefault) {
    checkSettings(settings)
    this.settings = settings
    this.limitValue = settings.concurrencyLimitInitial
    this.intervalStartMs = nowMs
    this.lastNowMs = nowMs
  }

  get limit(): number {
    return this.limitValue
  }

  get inFlight(): number {
    return this.startsMs.size
  }

  /** Admit a request arriving at `nowMs`, or refuse it: a refusal has cost nothing but this call. */
  arrive(nowMs: number): Admission {
    this.advance(nowMs)
    if (this.startsMs.size >= this.limitValue) {
      this.limitMetThisInterval = true
      this.shedCount += 1
      this.lastShedMs = nowMs
      return {ok: false, error: 'overloaded', inFlight: this.startsMs.size, limit: this.limitValue, retryAfterMs: this.settings.retryAfterMs}
    }
    const ticket = this.nextTicket
    this.nextTicket += 1
    this.startsMs.set(ticket, nowMs)
    this.admittedCount += 1
    if (this.startsMs.size >= this.limitValue) this.limitMetThisInterval = true
    return {ok: true, ticket}
  }

  /** An admitted request was answered at `nowMs`. A ticket completes once; an unknown one is a programmer's error. */
  complete(ticket: number, nowMs: number): void {
    const startMs = this.startsMs.get(ticket)
    assert(startMs !== undefined, `ticket ${ticket} is not in flight`)
    this.advance(nowMs)
    this.startsMs.delete(ticket)
    const inNodeMs = nowMs - startMs
    this.intervalMinMs = this.intervalMinMs === undefined ? inNodeMs : Math.min(this.intervalMinMs, inNodeMs)
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
      inFlight: this.startsMs.size,
      admitted: this.admittedCount,
      shed: this.shedCount,
      lastIntervalMinMs: this.lastIntervalMinValue,
      queueDelayTargetMs: this.settings.queueDelayTargetMs,
    }
  }

  private stateAt(nowMs: number): AdmissionState {
    const settings = this.settings
    // Shedding: a refusal within the hold.
    if (this.lastShedMs !== undefined && nowMs - this.lastShedMs <= settings.shedHoldMs) return 'shedding'
    const yieldDelayMs = settings.queueDelayTargetMs * settings.backgroundYieldFraction
    // The queue is building: the last interval's fastest request passed the lower threshold.
    if (this.lastIntervalMinValue > yieldDelayMs) return 'background-yields'
    // Demand is near the limit: foreground work would be shed next.
    if (this.startsMs.size >= Math.max(1, Math.floor(this.limitValue * settings.backgroundYieldFraction))) return 'background-yields'
    return 'normal'
  }

  /**
   * Closes every interval that ended by `nowMs`, moving the limit once per interval. A gap of
   * many intervals (a stalled loop, an idle node) is closed in at most two steps: the interval
   * that was open, then one for all the empty ones after it, since nothing was measured in them.
   */
  private advance(nowMs: number): void {
    assert(nowMs >= this.lastNowMs, 'time does not go backwards')
    this.lastNowMs = nowMs
    const {intervalMs} = this.settings
    if (nowMs < this.intervalStartMs + intervalMs) return
    const endMs = this.intervalStartMs + intervalMs
    this.closeInterval(endMs)
    const intervalsSkipped = Math.floor((nowMs - endMs) / intervalMs)
    if (intervalsSkipped > 0) this.closeInterval(endMs + intervalsSkipped * intervalMs)
    this.intervalStartMs = endMs + intervalsSkipped * intervalMs
  }

  private closeInterval(endMs: number): void {
    const settings = this.settings
    const oldestStartMs = this.startsMs.values().next().value
    // CoDel's signal: the fastest completion; with none, the oldest still in flight (nothing
    // finished while it waited); with neither, the node was idle.
    const minMs = this.intervalMinMs ?? (oldestStartMs === undefined ? 0 : endMs - oldestStartMs)
    this.lastIntervalMinValue = minMs
    if (minMs > settings.queueDelayTargetMs) {
      // Above the target: cut towards the limit that would bring the time in the node back to it.
      const factor = Math.max(settings.decreaseFactorMin, settings.queueDelayTargetMs / minMs)
      this.limitValue = Math.max(settings.concurrencyLimitMin, Math.floor(this.limitValue * factor))
    } else if (this.limitMetThisInterval) {
      // Within the target and the limit met: there is room, and demand for it.
      this.limitValue = Math.min(settings.concurrencyLimitMax, this.limitValue + Math.max(1, Math.floor(this.limitValue * settings.increaseFraction)))
    }
    this.intervalMinMs = undefined
    this.limitMetThisInterval = false
  }
}
