/**
 * The node's counters and latency histograms, served at GET /stats. Latencies are recorded in
 * microseconds in Node's HDR histograms (perf_hooks), so percentiles up to p99.9 are exact to
 * within the histogram's precision without keeping samples.
 */

import {createHistogram, monitorEventLoopDelay} from 'node:perf_hooks'
import type {IntervalHistogram, RecordableHistogram} from 'node:perf_hooks'

export type Operation = 'get' | 'put' | 'delete'

interface OperationStats {
  count: number
  readonly outcomes: Map<string, number>
  readonly latencyUs: RecordableHistogram
}

export interface LatencySummaryMs {
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly p999: number
  readonly max: number
}

export class NodeStats {
  private readonly operations = new Map<Operation, OperationStats>()
  readRepairs = 0
  forwardedPuts = 0
  /** Writes this node kept as hints for unreachable homes (a write merged into an existing hint counts too). */
  hintsWritten = 0
  /** Hints the target acknowledged durably, and removed here. */
  hintsDelivered = 0
  /** Hints the target refused for good (a limit its copy reached), removed here without delivery. */
  hintsDropped = 0
  /**
   * How late the event loop runs its callbacks: every request on this node waits that long too.
   * Only a real process samples it (the sampler is a timer of its own); in a simulation, where
   * many nodes share one event loop, it is off and /stats leaves it out.
   */
  private readonly eventLoopDelay: IntervalHistogram | undefined

  constructor(options: {readonly monitorEventLoop: boolean}) {
    this.eventLoopDelay = options.monitorEventLoop ? monitorEventLoopDelay({resolution: 10}) : undefined
    this.eventLoopDelay?.enable()
  }

  stop(): void {
    this.eventLoopDelay?.disable()
  }

  record(operation: Operation, outcome: string, latencyMs: number): void {
    let stats = this.operations.get(operation)
    if (stats === undefined) {
      stats = {count: 0, outcomes: new Map(), latencyUs: createHistogram()}
      this.operations.set(operation, stats)
    }
    stats.count += 1
    stats.outcomes.set(outcome, (stats.outcomes.get(outcome) ?? 0) + 1)
    stats.latencyUs.record(Math.max(1, Math.round(latencyMs * 1000)))
  }

  /** `hints` adds what only the hint store knows: refused writes and hints pending. */
  snapshot(hints: {readonly refused: number; readonly pending: number} = {refused: 0, pending: 0}): Record<string, unknown> {
    const requests: Record<string, unknown> = {}
    for (const [operation, stats] of this.operations) {
      const h = stats.latencyUs
      const ms = (us: number): number => Math.round(us) / 1000
      const latencyMs: LatencySummaryMs = {
        p50: ms(h.percentile(50)),
        p90: ms(h.percentile(90)),
        p99: ms(h.percentile(99)),
        p999: ms(h.percentile(99.9)),
        max: ms(h.max),
      }
      requests[operation] = {count: stats.count, outcomes: Object.fromEntries(stats.outcomes), latencyMs}
    }
    const delay = this.eventLoopDelay
    const delayMs = (ns: number): number => Math.round(ns / 1000) / 1000
    return {
      requests,
      readRepairs: this.readRepairs,
      forwardedPuts: this.forwardedPuts,
      hints: {written: this.hintsWritten, delivered: this.hintsDelivered, dropped: this.hintsDropped, refused: hints.refused, pending: hints.pending},
      ...(delay === undefined
        ? {}
        : {eventLoopDelayMs: {p50: delayMs(delay.percentile(50)), p99: delayMs(delay.percentile(99)), p999: delayMs(delay.percentile(99.9)), max: delayMs(delay.max)}}),
    }
  }
}
