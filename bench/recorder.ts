/**
 * Records what the benchmark measured: per operation kind, an HDR histogram of latencies in
 * microseconds (hdr-histogram-js, 3 significant digits, up to 2 minutes), counts by outcome,
 * and how many versions each read saw (paper §6.3). Only finished operations are recorded;
 * failed ones count by outcome and their latency is kept too, since a slow failure is still a
 * slow answer to the user. Requests a node shed (503 `overloaded`, refused before any work) are
 * the exception: they are counted as `shed`, and their latency goes to a histogram of its own,
 * so that the percentiles are those of the requests the cluster accepted and the refusals' own
 * speed is shown apart (issue 16: accepted p99.9, refusals answered fast).
 */

import hdr from 'hdr-histogram-js'
import type {Histogram} from 'hdr-histogram-js'
import type {Outcome} from './operations.js'
import {outcomes} from './operations.js'
import type {OperationKind} from './workloads.js'

export const latencyUsMax = 120_000_000

function newHistogram(): Histogram {
  return hdr.build({lowestDiscernibleValue: 1, highestTrackableValue: latencyUsMax, numberOfSignificantValueDigits: 3})
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
  /** The latencies of the accepted operations. */
  readonly latency: LatencySummary
  readonly errors: Record<string, number>
  readonly notFound: number
  readonly versionsSeen: Record<string, number>
}

export class Recorder {
  private readonly kinds = new Map<OperationKind, KindRecord>()

  record(kind: OperationKind, outcome: Outcome, latencyUs: number, versions?: number): void {
    let record = this.kinds.get(kind)
    if (record === undefined) {
      record = {latencyUs: newHistogram(), refusedUs: newHistogram(), outcomes: new Map(), versionsSeen: new Map()}
      this.kinds.set(kind, record)
    }
    const histogram = outcome === 'overloaded' ? record.refusedUs : record.latencyUs
    histogram.recordValue(Math.min(latencyUsMax, Math.max(1, Math.round(latencyUs))))
    record.outcomes.set(outcome, (record.outcomes.get(outcome) ?? 0) + 1)
    if (versions !== undefined) record.versionsSeen.set(versions, (record.versionsSeen.get(versions) ?? 0) + 1)
  }

  get totalCount(): number {
    let total = 0
    for (const record of this.kinds.values()) total += record.latencyUs.totalCount + record.refusedUs.totalCount
    return total
  }

  summary(elapsedS: number): KindSummary[] {
    const result: KindSummary[] = []
    for (const [operation, record] of [...this.kinds.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      const h = record.latencyUs
      const errors: Record<string, number> = {}
      for (const outcome of outcomes) {
        const count = record.outcomes.get(outcome) ?? 0
        if (outcome !== 'ok' && outcome !== 'not_found' && outcome !== 'overloaded' && count > 0) errors[outcome] = count
      }
      const succeeded = (record.outcomes.get('ok') ?? 0) + (record.outcomes.get('not_found') ?? 0)
      const shed = record.refusedUs.totalCount
      result.push({
        operation,
        count: h.totalCount,
        throughputPerS: elapsedS > 0 ? h.totalCount / elapsedS : 0,
        goodputPerS: elapsedS > 0 ? succeeded / elapsedS : 0,
        shed,
        ...(shed > 0 ? {refusedLatency: latencySummary(record.refusedUs)} : {}),
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
    for (const record of this.kinds.values()) {
      record.latencyUs.destroy()
      record.refusedUs.destroy()
    }
    this.kinds.clear()
  }
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
