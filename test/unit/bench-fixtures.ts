/**
 * Bench reports built by hand for the unit tests of what reads them (the CI reports, the
 * baseline comparison): the shape `dyn bench --json` prints, with the figures a test chooses.
 */

import type {KindSummary, LatencySummary} from '../../bench/recorder.js'
import {experimentConfig} from '../../bench/experiments/common.js'
import type {BenchConfig, BenchReport, PhaseResult} from '../../bench/runner.js'
import type {OperationKind} from '../../bench/workloads.js'

export type ReportFixture = Omit<BenchReport, 'histograms'>

export function latency(p50Ms: number, p999Ms = p50Ms * 10): LatencySummary {
  return {p50Ms, p90Ms: p50Ms * 2, p99Ms: p50Ms * 5, p999Ms, maxMs: p999Ms * 1.5, meanMs: p50Ms * 1.2}
}

export function operation(kind: OperationKind, throughputPerS: number, latencySummary: LatencySummary, errors: Record<string, number> = {}): KindSummary {
  const count = Math.round(throughputPerS * 10)
  return {operation: kind, count, throughputPerS, goodputPerS: throughputPerS, shed: 0, latency: latencySummary, errors, notFound: 0, versionsSeen: {}}
}

export function phase(operations: readonly KindSummary[]): PhaseResult {
  const opsPerS = operations.reduce((sum, op) => sum + op.throughputPerS, 0)
  return {elapsedS: 10, opsPerS, goodputPerS: opsPerS, shed: 0, httpRequests: Math.round(opsPerS * 10), operations, transportErrors: {timeout: 0, connection: 0}}
}

export function config(overrides: Partial<BenchConfig> = {}): BenchConfig & {targetNodes: string[]} {
  return {
    ...experimentConfig({records: 1000, mode: {kind: 'closed', connections: 50}, durationS: 10, workload: 'a', distribution: 'zipfian'}),
    targetNodes: ['127.0.0.1:7070', '127.0.0.1:7071', '127.0.0.1:7072'],
    ...overrides,
  }
}

/** A run of reads and updates; `calibration` adds a calibration of the same operations. */
export function report(options: {
  readonly config?: Partial<BenchConfig>
  readonly operations: readonly KindSummary[]
  readonly calibration?: readonly KindSummary[]
  /** The protocol the calibration's trivial server served [default: http]. */
  readonly calibrationProtocol?: 'http' | 'https'
  readonly sla?: ReportFixture['sla']
}): ReportFixture {
  const run = phase(options.operations)
  const calibration = options.calibration === undefined ? undefined : phase(options.calibration)
  return {
    config: config({...options.config, calibrate: calibration !== undefined}),
    ...(calibration === undefined ? {} : {calibration: {...calibration, protocol: options.calibrationProtocol ?? 'http', ratio: run.opsPerS / calibration.opsPerS}}),
    run,
    timeline: [],
    ...(options.sla === undefined ? {} : {sla: options.sla}),
  }
}
