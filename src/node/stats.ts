/**
 * The node's own counters and latency histograms in GET /stats: the client requests it
 * coordinated, the event loop's delay and the HTTP routes served. Each subsystem counts its own
 * work and serves its own fields (src/subsystem.ts), which `snapshot` places among these as
 * /stats has always laid them out. Latencies are recorded in microseconds in Node's HDR
 * histograms (perf_hooks), so percentiles up to p99.9 are exact to within the histogram's
 * precision (two significant digits) without keeping samples.
 *
 * Besides the totals since start, each operation keeps its latencies of the last
 * `recentWindowMs` in one-second slots, and a count per latency bucket: a live view (`dyn top`)
 * shows the recent percentiles, and differences the counters between two snapshots for rates and
 * for the histogram of an interval.
 */

import {createHistogram} from 'node:perf_hooks'
import type {IntervalHistogram, RecordableHistogram} from 'node:perf_hooks'
import type {ApiRoute} from '../api/handler.js'
import {loopDelayMs, startLoopDelayMonitor} from '../loop-delay.js'
import type {Scheduler, Timer} from '../scheduler.js'

export type Operation = 'get' | 'put' | 'delete'

/**
 * Where a rejected input came in (issue 16, "Hostile input"): an internode frame the codec
 * refused (its connection closed), a connection that never said a valid Hello, a connection
 * refused over the cap, an internode request answered with a refusal, or a client HTTP request
 * answered with one (or that the HTTP parser refused).
 */
export type RejectedInput = 'frames' | 'hellos' | 'connections' | 'requests' | 'http'

/** Distinct reasons counted per kind at most: a reason is a code, so this is never reached unless codes grow. */
const rejectedReasonsMax = 64

interface OperationStats {
  count: number
  readonly outcomes: Map<string, number>
  readonly latencyUs: RecordableHistogram
  /** One histogram per second of the recent window, reused round-robin; `slotSecond` says which second each holds. */
  readonly recentUs: RecordableHistogram[]
  readonly slotSecond: number[]
  /** Requests per latency bucket since start: bucketCounts[i] counts latencies <= latencyBucketBoundsMs[i] (the last is unbounded). */
  readonly bucketCounts: number[]
  /** The sum of every latency recorded, for GET /metrics' histogram `_sum` (a mean over any window). */
  latencySumMs: number
}

/** The recent percentiles cover this long: long enough for a p99.9 of a modest rate, short enough to show a spike soon. */
export const recentWindowMs = 10_000
const recentSlotMs = 1000
const recentSlots = recentWindowMs / recentSlotMs

/** Upper bounds of the latency buckets, doubling from 0.25 ms to 1 s; one more bucket takes the rest. */
export const latencyBucketBoundsMs: readonly number[] = Array.from({length: 13}, (_, i) => 0.25 * 2 ** i)

/**
 * The longest latency a histogram here tells apart (an hour): a longer one is recorded as this,
 * since Node's histograms count a value above their range apart (in `exceeds`), not in `count`
 * or the percentiles. No request lasts that long (each has a deadline), so the clamp only guards
 * the count.
 */
export const latencyUsMax = 3_600_000_000

/**
 * Every latency histogram of /stats: 1 µs to an hour, to two significant digits (a percentile
 * within 1%, as the refusal times in admission.ts). Node's `createHistogram()` without options
 * spans 1 to 2^53 to three digits: about 370 KB of counts per histogram, against about 27 KB for
 * these (50 KB of a process's memory each, measured). A node keeps eleven per kind of operation
 * (the total and ten recent seconds), so the defaults held about 12 MB of each node's memory for
 * three kinds; and every /stats merged the recent seconds into a new histogram per kind, which
 * took about 1.4 ms of the event loop each, against 0.08 ms with these (bench/README.md, "The
 * cost of /stats").
 */
export function latencyHistogram(): RecordableHistogram {
  return createHistogram({lowest: 1, highest: latencyUsMax, figures: 2})
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
  /**
   * How late the event loop runs its callbacks: every request on this node waits that long too.
   * Only a real process samples it (the sampler is a timer of its own); in a simulation, where
   * many nodes share one event loop, it is off and /stats leaves it out.
   */
  private readonly eventLoopDelay: IntervalHistogram | undefined
  /** The same, but read and reset every second into `recentLoopDelay`, so a stall shows while it is recent. */
  private readonly eventLoopDelayNow: IntervalHistogram | undefined
  private readonly recentLoopDelay: Array<{readonly p99Ms: number; readonly maxMs: number}> = []
  private readonly loopTimer: Timer | undefined
  /** Client API requests by route, so that a watcher can see what it costs the node. */
  private readonly httpRequests: Record<ApiRoute, number> = {kv: 0, cluster: 0, stats: 0, health: 0, other: 0}
  /** Rejected inputs by kind, then by reason (an error code): every refusal of bad input is counted, so an attack shows. */
  private readonly rejected: Record<RejectedInput, Map<string, number>> = {frames: new Map(), hellos: new Map(), connections: new Map(), requests: new Map(), http: new Map()}
  private readonly monotonicMs: () => number
  private readonly scheduler: Scheduler | undefined

  /**
   * `monotonicMs` places latencies in the seconds of the recent window; `scheduler` turns the
   * recent event-loop window every second, and is needed only with `monitorEventLoop`.
   */
  constructor(options: {readonly monitorEventLoop: boolean; readonly monotonicMs: () => number; readonly scheduler?: Scheduler}) {
    this.monotonicMs = options.monotonicMs
    this.scheduler = options.scheduler
    this.eventLoopDelay = options.monitorEventLoop ? startLoopDelayMonitor() : undefined
    this.eventLoopDelayNow = options.monitorEventLoop ? startLoopDelayMonitor() : undefined
    this.loopTimer = options.monitorEventLoop && options.scheduler !== undefined ? options.scheduler.every(recentSlotMs, () => this.rotateLoopDelay()) : undefined
  }

  stop(): void {
    if (this.loopTimer !== undefined) this.scheduler?.cancel(this.loopTimer)
    this.eventLoopDelay?.disable()
    this.eventLoopDelayNow?.disable()
  }

  countHttpRequest(route: ApiRoute): void {
    this.httpRequests[route] += 1
  }

  countRejected(kind: RejectedInput, reason: string): void {
    const reasons = this.rejected[kind]
    const key = reasons.has(reason) || reasons.size < rejectedReasonsMax ? reason : 'other'
    reasons.set(key, (reasons.get(key) ?? 0) + 1)
  }

  /** `rejected` of GET /stats: per kind, the total and the count per reason. */
  private rejectedSnapshot(): Record<RejectedInput, {total: number; reasons: Record<string, number>}> {
    const snapshot = {} as Record<RejectedInput, {total: number; reasons: Record<string, number>}>
    for (const [kind, reasons] of Object.entries(this.rejected) as Array<[RejectedInput, Map<string, number>]>) {
      snapshot[kind] = {total: [...reasons.values()].reduce((sum, count) => sum + count, 0), reasons: Object.fromEntries(reasons)}
    }
    return snapshot
  }

  private rotateLoopDelay(): void {
    const delay = this.eventLoopDelayNow
    if (delay === undefined) return
    this.recentLoopDelay.push({p99Ms: loopDelayMs(delay.percentile(99)), maxMs: loopDelayMs(delay.max)})
    if (this.recentLoopDelay.length > recentSlots) this.recentLoopDelay.shift()
    delay.reset()
  }

  record(operation: Operation, outcome: string, latencyMs: number): void {
    let stats = this.operations.get(operation)
    if (stats === undefined) {
      stats = {
        count: 0,
        outcomes: new Map(),
        latencyUs: latencyHistogram(),
        recentUs: Array.from({length: recentSlots}, () => latencyHistogram()),
        slotSecond: new Array<number>(recentSlots).fill(-1),
        bucketCounts: new Array<number>(latencyBucketBoundsMs.length + 1).fill(0),
        latencySumMs: 0,
      }
      this.operations.set(operation, stats)
    }
    const latencyUs = Math.min(latencyUsMax, Math.max(1, Math.round(latencyMs * 1000)))
    stats.count += 1
    stats.outcomes.set(outcome, (stats.outcomes.get(outcome) ?? 0) + 1)
    stats.latencyUs.record(latencyUs)
    const second = Math.floor(this.monotonicMs() / recentSlotMs)
    const slot = second % recentSlots
    if (stats.slotSecond[slot] !== second) {
      stats.recentUs[slot]?.reset()
      stats.slotSecond[slot] = second
    }
    stats.recentUs[slot]?.record(latencyUs)
    const bucket = latencyBucketBoundsMs.findIndex((bound) => latencyMs <= bound)
    const index = bucket === -1 ? latencyBucketBoundsMs.length : bucket
    stats.bucketCounts[index] = (stats.bucketCounts[index] ?? 0) + 1
    stats.latencySumMs += latencyMs
  }

  /** The latencies of the last `recentWindowMs`, merged from the slots still inside it. */
  private recent(stats: OperationStats): {count: number; latencyMs: LatencySummaryMs} {
    const nowSecond = Math.floor(this.monotonicMs() / recentSlotMs)
    const merged = latencyHistogram()
    for (let slot = 0; slot < recentSlots; slot += 1) {
      const second = stats.slotSecond[slot] ?? -1
      const histogram = stats.recentUs[slot]
      if (histogram !== undefined && second > nowSecond - recentSlots) merged.add(histogram)
    }
    return {count: merged.count, latencyMs: summaryMs(merged)}
  }

  /**
   * The node's own fields of GET /stats, with the subsystems' fields (src/subsystem.ts) after
   * the requests, where /stats has always had them.
   */
  snapshot(subsystemFields: Record<string, unknown> = {}): Record<string, unknown> {
    const requests: Record<string, unknown> = {}
    for (const [operation, stats] of this.operations) {
      const recent = this.recent(stats)
      requests[operation] = {
        count: stats.count,
        outcomes: Object.fromEntries(stats.outcomes),
        latencyMs: summaryMs(stats.latencyUs),
        recent: {windowMs: recentWindowMs, count: recent.count, latencyMs: recent.latencyMs},
        latencyBuckets: {boundsMs: latencyBucketBoundsMs, counts: [...stats.bucketCounts], sumMs: stats.latencySumMs},
      }
    }
    const delay = this.eventLoopDelay
    const recentLoop = this.recentLoopDelay
    return {
      requests,
      ...subsystemFields,
      ...(delay === undefined
        ? {}
        : {
            eventLoopDelayMs: {p50: loopDelayMs(delay.percentile(50)), p99: loopDelayMs(delay.percentile(99)), p999: loopDelayMs(delay.percentile(99.9)), max: loopDelayMs(delay.max)},
            eventLoopDelayRecentMs: {
              windowMs: recentLoop.length * recentSlotMs,
              p99: Math.max(0, ...recentLoop.map((s) => s.p99Ms)),
              max: Math.max(0, ...recentLoop.map((s) => s.maxMs)),
            },
          }),
      httpRequests: {...this.httpRequests},
      rejected: this.rejectedSnapshot(),
    }
  }
}

function summaryMs(h: RecordableHistogram): LatencySummaryMs {
  if (h.count === 0) return {p50: 0, p90: 0, p99: 0, p999: 0, max: 0}
  const ms = (us: number): number => Math.round(us) / 1000
  return {p50: ms(h.percentile(50)), p90: ms(h.percentile(90)), p99: ms(h.percentile(99)), p999: ms(h.percentile(99.9)), max: ms(h.max)}
}
