/**
 * The real clock, timers and randomness: the system's wall clock and monotonic clock, Node's
 * event-loop timers, and Math.random. Only the process shell (`dyn start`), the CLI and bench/
 * use these; everything below them takes a `Clock`, a `Scheduler` and a `Random` as inputs, and
 * the simulator hands it simulated ones instead (test/unit/time-sources.test.ts keeps it so).
 */

import type {Clock, Random} from '../clock.js'
import type {Scheduler, Timer} from '../scheduler.js'
import {assert} from '../errors.js'

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
}

export const systemRandom: Random = {
  next: () => Math.random(),
  int: (bound: number) => Math.floor(Math.random() * bound),
}

/**
 * Node's timers. A Node `Timeout` is handed out as the `Timer` itself, with no wrapper: the TCP
 * transport sets one per request, so this stays as cheap as calling setTimeout directly.
 */
export const systemScheduler: Scheduler = {
  after: (delayMs, callback) => {
    assert(delayMs >= 0 && Number.isFinite(delayMs), 'a delay is finite and >= 0')
    return setTimeout(callback, delayMs) as unknown as Timer
  },
  every: (intervalMs, callback) => {
    assert(intervalMs > 0 && Number.isFinite(intervalMs), 'an interval is finite and > 0')
    return setInterval(callback, intervalMs) as unknown as Timer
  },
  soon: (callback) => {
    setImmediate(callback)
  },
  // clearTimeout and clearInterval are interchangeable in Node: both clear either kind of timer.
  cancel: (timer) => clearTimeout(timer as unknown as NodeJS.Timeout),
}
