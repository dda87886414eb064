/**
 * Records what the benchmark measured: per operation kind, an HDR histogram of latencies in
 * microseconds (hdr-histogram-js, 3 significant digits, up to 2 minutes), counts by outcome,
 * and how many versions each read saw (paper §6.3). Only finished operations are recorded;
 * failed ones count by outcome and their latency is kept too, since a slow failure is still a
 * slow answer to the user. Requests a node shed (503 `overloaded`, refused before any work) are
 * the exception: they are counted as `shed`, and their latency goes to a histogram of its own,
 * so that the percentiles are those of the requests the cluster accepted and the refusals' own
 * speed is shown apart (issue 16: accepted p99.9, refusals answered fast). Requests the bench's
 * client-side throttle kept back are counted as `throttled`, with no latency: they never left it.
 *
 * Once the driver names the instant the measured run began (`startTimeline`), every operation
 * is also recorded in the one-second window it started in. Those windows are what a user reads
 * over time (throughput and tail per second, for the HTML report), and any span of them merges
 * into a recorder of its own (`window`), which is how a run with a fault is judged before,
 * during and after it. An operation belongs to the second it was due or sent, not the one it
 * was answered in: a request sent during a fault and answered after it is the fault's.
 * The windows' histograms are packed (memory in proportion to the values they hold), since a
 * long run keeps one per second per operation.
 */

import hdr from 'hdr-histogram-js'
import type {Histogram} from 'hdr-histogram-js'
import type {Outcome} from './operations.js'
import {outcomes} from './operations.js'
import type {OperationKind} from './workloads.js'

export const latencyUsMax = 120_000_000

/** The length of one window of the timeline. */
export const timelineWindowS = 1
/**
 * Windows kept at most: a bound on memory. A measured run lasts at most an hour (--duration), so
 * this is four times what any run needs; an operation due beyond it counts in the totals alone.
 */
const timelineWindowsMax = 4 * 3600

function newHistogram(packed = false): Histogram {
  return hdr.build({lowestDiscernibleValue: 1, highestTrackableValue: latencyUsMax, numberOfSignificantValueDigits: 3, ...(packed ? {bitBucketSize: 'packed' as const} : {})})
}

interface KindRecord {
  readonly latencyUs: Histogram
  /** The latencies of the requests shed (503 overloaded), apart from the accepted ones. */
  readonly refusedUs: Histogram
  readonly outcomes: Map<Outcome, number>
  /** versionsSeen[k] = reads that returned k live versions. */
  readonly versionsSeen: Map<number, number>
}

export interface LatencySummary {
  readonly p50Ms: number
  readonly p90Ms: number
  readonly p99Ms: number
  readonly p999Ms: number
  readonly maxMs: number
  readonly meanMs: number
}

export interface KindSummary {
  readonly operation: OperationKind
  /** Operations the cluster accepted (answered other than by shedding), whatever their outcome. */
  readonly count: number
  readonly throughputPerS: number
  /** Operations answered successfully (ok or not found) per second: what the offered load got done. */
  readonly goodputPerS: number
  /** Operations a node shed (503 overloaded); not in `count` or `latency`. */
  readonly shed: number
  /** How fast the shed ones were answered, as the client saw it; absent when none was shed. */
  readonly refusedLatency?: LatencySummary
  /**
   * Operations the client's throttle refused before sending (the node had been shedding most of
   * what it was sent); not in `count`, `shed` or `latency`. Absent when none was.
   */
  readonly throttled?: number
  /** The latencies of the accepted operations. */
  readonly latency: LatencySummary
  readonly errors: Record<string, number>
  readonly notFound: number
  readonly versionsSeen: Record<string, number>
  /**
   * The first failure a node answered for this kind in the run: its status, and the error code
   * and message of its body. `errors` counts failures by outcome only (every 4xx is
   * `http_error`); this says what the node said, so that a run that fails says why.
   */
  readonly firstFailure?: AnsweredFailure
}

/** A failure as a node answered it. */
export interface AnsweredFailure {
  readonly status: number
  /** The stable code of the node's JSON error body; absent when the body had none. */
  readonly error?: string
  readonly message?: string
}

/** One second of the measured run: what each operation did in it. */
export interface TimelineWindow {
  /** Seconds from the start of the measured run to the start of this window. */
  readonly startS: number
  readonly operations: ReadonlyArray<{
    readonly operation: OperationKind
    /** Operations accepted (not shed) that started in this window. */
    readonly count: number
    /** Of those, the ones that failed (not found aside). */
    readonly errors: number
    /** Operations a node shed (503 overloaded). */
    readonly shed: number
    /** Operations the client's throttle refused before sending. */
    readonly throttled?: number
    readonly p50Ms: number
    readonly p99Ms: number
    readonly p999Ms: number
    readonly maxMs: number
  }>
}

export class Recorder {
  private readonly kinds = new Map<OperationKind, KindRecord>()
  /** The performance.now() instant the measured run began; undefined: no timeline. */
  private timelineOriginMs: number | undefined
  /** Window index (seconds since the origin) → that window's records. */
  private readonly windows = new Map<number, Map<OperationKind, KindRecord>>()
  /** Window index → operations of the open loop that were due then and never started (too many in flight). */
  private readonly notStartedByWindow = new Map<number, number>()

  constructor(private readonly packed = false) {}

  /** The performance.now() instant the measured run began, once the driver has said. */
  get timelineOrigin(): number | undefined {
    return this.timelineOriginMs
  }

  /** From now on, each operation is also kept in the window it started in, counted from `originMs`. */
  startTimeline(originMs: number): void {
    this.timelineOriginMs = originMs
  }

  /**
   * One finished operation. `startedAtMs` (performance.now() when it was due or sent) places it
   * in the timeline; without it, or before the timeline starts, it counts in the totals alone.
   */
  record(kind: OperationKind, outcome: Outcome, latencyUs: number, versions?: number, startedAtMs?: number): void {
    const clamped = Math.min(latencyUsMax, Math.max(1, Math.round(latencyUs)))
    addTo(this.kinds, kind, outcome, clamped, versions, this.packed)
    const index = startedAtMs === undefined ? undefined : this.windowIndexOf(startedAtMs)
    if (index === undefined) return
    let window = this.windows.get(index)
    if (window === undefined) {
      window = new Map()
      this.windows.set(index, window)
    }
    addTo(window, kind, outcome, clamped, versions, true)
  }

  /** An open-loop operation due at `dueAtMs` that was never started: it failed, and counts against its window. */
  recordNotStarted(dueAtMs: number): void {
    const index = this.windowIndexOf(dueAtMs)
    if (index !== undefined) this.notStartedByWindow.set(index, (this.notStartedByWindow.get(index) ?? 0) + 1)
  }

  /**
   * The window `atMs` falls in; undefined before the timeline starts, before its origin (the
   * warm-up), or beyond the last window kept (`timelineWindowsMax`, the bound on memory).
   */
  private windowIndexOf(atMs: number): number | undefined {
    if (this.timelineOriginMs === undefined || atMs < this.timelineOriginMs) return undefined
    const index = Math.floor((atMs - this.timelineOriginMs) / (timelineWindowS * 1000))
    return index < timelineWindowsMax ? index : undefined
  }

  /** Operations due in [fromS, toS) of the timeline that were never started. */
  notStartedIn(fromS: number, toS: number): number {
    let count = 0
    for (const [index, notStarted] of this.notStartedByWindow) if (windowInSpan(index, fromS, toS)) count += notStarted
    return count
  }

  /** The timeline, one entry per window from the first to the last that holds an operation (empty ones included). */
  timeline(): TimelineWindow[] {
    if (this.windows.size === 0) return []
    const last = Math.max(...this.windows.keys())
    const result: TimelineWindow[] = []
    for (let index = 0; index <= last; index += 1) {
      const window = this.windows.get(index) ?? new Map<OperationKind, KindRecord>()
      const operations = [...window.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([operation, record]) => {
          const latency = latencySummary(record.latencyUs)
          return {
            operation,
            count: record.latencyUs.totalCount,
            errors: errorCount(record),
            shed: record.refusedUs.totalCount,
            throttled: throttledOf(record),
            p50Ms: latency.p50Ms,
            p99Ms: latency.p99Ms,
            p999Ms: latency.p999Ms,
            maxMs: latency.maxMs,
          }
        })
      result.push({startS: index * timelineWindowS, operations})
    }
    return result
  }

  /**
   * A recorder holding what started in [fromS, toS) seconds of the timeline, merged: its
   * summary and percentiles are that span's. The caller destroys it.
   */
  window(fromS: number, toS: number): Recorder {
    const merged = new Recorder(true)
    for (const [index, window] of this.windows) {
      if (!windowInSpan(index, fromS, toS)) continue
      for (const [kind, record] of window) {
        let target = merged.kinds.get(kind)
        if (target === undefined) {
          target = emptyRecord(true)
          merged.kinds.set(kind, target)
        }
        target.latencyUs.add(record.latencyUs)
        target.refusedUs.add(record.refusedUs)
        for (const [outcome, count] of record.outcomes) target.outcomes.set(outcome, (target.outcomes.get(outcome) ?? 0) + count)
        for (const [versions, count] of record.versionsSeen) target.versionsSeen.set(versions, (target.versionsSeen.get(versions) ?? 0) + count)
      }
    }
    return merged
  }

  get totalCount(): number {
    let total = 0
    for (const record of this.kinds.values()) total += record.latencyUs.totalCount + record.refusedUs.totalCount + throttledOf(record)
    return total
  }

  summary(elapsedS: number): KindSummary[] {
    const result: KindSummary[] = []
    for (const [operation, record] of [...this.kinds.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      const h = record.latencyUs
      const errors = errorsOf(record)
      const succeeded = (record.outcomes.get('ok') ?? 0) + (record.outcomes.get('not_found') ?? 0)
      const shed = record.refusedUs.totalCount
      const throttled = throttledOf(record)
      result.push({
        operation,
        count: h.totalCount,
        throughputPerS: elapsedS > 0 ? h.totalCount / elapsedS : 0,
        goodputPerS: elapsedS > 0 ? succeeded / elapsedS : 0,
        shed,
        ...(shed > 0 ? {refusedLatency: latencySummary(record.refusedUs)} : {}),
        ...(throttled > 0 ? {throttled} : {}),
        latency: latencySummary(h),
        errors,
        notFound: record.outcomes.get('not_found') ?? 0,
        versionsSeen: Object.fromEntries([...record.versionsSeen.entries()].sort(([a], [b]) => a - b).map(([k, v]) => [String(k), v])),
      })
    }
    return result
  }

  /** Any percentile of one kind's accepted operations, in ms; undefined when the kind was not measured. */
  percentileMs(kind: OperationKind, percentile: number): number | undefined {
    const record = this.kinds.get(kind)
    return record === undefined ? undefined : Math.round(record.latencyUs.getValueAtPercentile(percentile)) / 1000
  }

  /** Each kind's full histogram, compressed (HdrHistogram's base64 form), for --hdr-out. */
  encodedHistograms(): Record<string, string> {
    const encoded: Record<string, string> = {}
    for (const [kind, record] of this.kinds) encoded[kind] = hdr.encodeIntoCompressedBase64(record.latencyUs)
    return encoded
  }

  destroy(): void {
    for (const table of [this.kinds, ...this.windows.values()]) {
      for (const record of table.values()) {
        record.latencyUs.destroy()
        record.refusedUs.destroy()
      }
    }
    this.kinds.clear()
    this.windows.clear()
  }
}

/** Whether the window `index` starts within [fromS, toS) seconds of the timeline. */
function windowInSpan(index: number, fromS: number, toS: number): boolean {
  const startS = index * timelineWindowS
  return startS >= fromS && startS < toS
}

function emptyRecord(packed: boolean): KindRecord {
  return {latencyUs: newHistogram(packed), refusedUs: newHistogram(packed), outcomes: new Map(), versionsSeen: new Map()}
}

function addTo(table: Map<OperationKind, KindRecord>, kind: OperationKind, outcome: Outcome, latencyUs: number, versions: number | undefined, packed: boolean): void {
  let record = table.get(kind)
  if (record === undefined) {
    record = emptyRecord(packed)
    table.set(kind, record)
  }
  // A request the client's throttle kept back never left the client: it has no latency to show.
  if (outcome !== 'throttled') (outcome === 'overloaded' ? record.refusedUs : record.latencyUs).recordValue(latencyUs)
  record.outcomes.set(outcome, (record.outcomes.get(outcome) ?? 0) + 1)
  if (versions !== undefined) record.versionsSeen.set(versions, (record.versionsSeen.get(versions) ?? 0) + 1)
}

/** Operations that failed, by outcome: every outcome but ok, not found, shed and throttled. */
function errorsOf(record: KindRecord): Record<string, number> {
  const errors: Record<string, number> = {}
  for (const outcome of outcomes) {
    const count = record.outcomes.get(outcome) ?? 0
    if (outcome !== 'ok' && outcome !== 'not_found' && outcome !== 'overloaded' && outcome !== 'throttled' && count > 0) errors[outcome] = count
  }
  return errors
}

/** Operations the client's throttle kept back (counted by outcome only: they have no latency). */
function throttledOf(record: KindRecord): number {
  return record.outcomes.get('throttled') ?? 0
}

function errorCount(record: KindRecord): number {
  return Object.values(errorsOf(record)).reduce((a, b) => a + b, 0)
}

function latencySummary(h: Histogram): LatencySummary {
  const ms = (us: number): number => Math.round(us) / 1000
  return {
    p50Ms: ms(h.getValueAtPercentile(50)),
    p90Ms: ms(h.getValueAtPercentile(90)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    p999Ms: ms(h.getValueAtPercentile(99.9)),
    // The top of the highest bucket, like the percentiles, so p99.9 never exceeds max.
    maxMs: ms(h.getValueAtPercentile(100)),
    meanMs: ms(h.mean),
  }
}
