/**
 * How late the event loop runs: what GET /stats, `dyn top` and admission control report as the
 * loop's delay. Node's `monitorEventLoopDelay` times the ticks of a timer that repeats every
 * `resolution` ms and records the whole interval between ticks, so an idle loop reads as the
 * resolution itself (about 10 ms here) rather than as no delay: the delay is what an interval
 * took beyond the resolution. Only a node's process shell times its loop; a simulation has none.
 */

import {monitorEventLoopDelay} from 'node:perf_hooks'
import type {IntervalHistogram} from 'node:perf_hooks'

/** The timer's period: fine enough to see a stall of a few ms, coarse enough to cost nothing. */
export const loopDelayResolutionMs = 10

/** A running monitor of the loop's ticks; read it with `loopDelayMs`, stop it with `disable()`. */
export function startLoopDelayMonitor(): IntervalHistogram {
  const histogram = monitorEventLoopDelay({resolution: loopDelayResolutionMs})
  histogram.enable()
  return histogram
}

/** The delay an interval the monitor recorded (in ns) stands for, in ms: its excess over the resolution. */
export function loopDelayMs(recordedNs: number): number {
  if (!Number.isFinite(recordedNs)) return 0
  return Math.max(0, Math.round(recordedNs / 1000 - loopDelayResolutionMs * 1000) / 1000)
}
