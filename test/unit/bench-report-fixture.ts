// A benchmark report built from a real Recorder, shared by the HTML report's unit test and its
// browser test: known latencies, a timeline, an SLA with one target met and one missed, a fault
// with the run judged before, during and after it, and a capacity search, so that every chart
// and table of the page has something to show. (A real run has faults or a capacity search, not
// both; the page does not care.)

import {Recorder} from '../../bench/recorder.js'
import type {HtmlReportInput} from '../../bench/html-report.js'
import type {BenchConfig} from '../../bench/runner.js'
import {judge} from '../../bench/sla.js'
import {config} from './bench-fixtures.js'
import type {Sla} from '../../bench/sla.js'

export const fixtureConfig: BenchConfig & {targetNodes: string[]} = config({records: 10_000, n: 3, r: 2, w: 2, mode: {kind: 'open', ratePerS: 400}, durationS: 5, calibrate: true})

/** read p99.9 <= 500 ms is missed (reads take 1..1000 ms); update p99 <= 2000 ms is met. */
export const fixtureSla: Sla = {
  name: 'fixture',
  description: '',
  run: {},
  targets: [
    {operation: 'read', percentile: 99.9, maxMs: 500},
    {operation: 'update', percentile: 99, maxMs: 2000},
  ],
  maxErrorRate: 0.01,
}

/**
 * Reads of 1, 2, ..., 1000 ms and updates of 2, 4, ..., 2000 ms, 200 of each a second over 5
 * seconds of timeline; n2 killed from 2 s to 3 s.
 */
export function fixtureReport(options: {sla?: boolean; extras?: boolean} = {}): HtmlReportInput {
  const recorder = new Recorder()
  recorder.startTimeline(0)
  for (let i = 0; i < 1000; i += 1) {
    const startedAtMs = i * 5
    recorder.record('read', 'ok', (i + 1) * 1000, 1, startedAtMs)
    recorder.record('update', 'ok', (i + 1) * 2000, undefined, startedAtMs)
  }
  const elapsedS = 5
  const operations = recorder.summary(elapsedS)
  const verdicts = options.sla === false ? undefined : judge(fixtureSla, operations, (kind, p) => recorder.percentileMs(kind, p))
  const windows = [
    {name: 'before', fromS: 0, toS: 2},
    {name: 'during kill:n2@2', fromS: 2, toS: 3},
    {name: 'after kill:n2@2', fromS: 3, toS: 5},
  ].map((span) => {
    const part = recorder.window(span.fromS, span.toS)
    const spanOperations = part.summary(span.toS - span.fromS)
    const spanVerdicts = judge(fixtureSla, spanOperations, (kind, p) => part.percentileMs(kind, p))
    part.destroy()
    return {...span, operations: spanOperations, sla: {met: spanVerdicts.every((v) => v.met), verdicts: spanVerdicts}}
  })
  const report: HtmlReportInput = {
    config: fixtureConfig,
    calibration: {protocol: 'http', elapsedS: 5, opsPerS: 4000, httpRequests: 20_000, operations: [], transportErrors: {timeout: 0, connection: 0}, ratio: 0.1},
    load: {records: 10_000, elapsedS: 2.5, failed: 0},
    run: {elapsedS, opsPerS: 400, goodputPerS: 400, shed: 0, httpRequests: 2000, operations, transportErrors: {timeout: 0, connection: 0}},
    timeline: recorder.timeline(),
    ...(verdicts === undefined ? {} : {sla: {name: fixtureSla.name, met: verdicts.every((v) => v.met), verdicts}}),
    histograms: recorder.encodedHistograms(),
    ...(options.extras === false
      ? {}
      : {
          faults: [{spec: 'kill:n2@2', kind: 'kill' as const, node: 'n2', atS: 2, endS: 3, appliedAtS: 2.01, revertedAtS: 3.02, restartS: 0.8}],
          windows,
          capacity: {
            sla: 'fixture',
            foundRatePerS: 300,
            lowestMissedRatePerS: 400,
            ended: 'precise' as const,
            endedBecause: 'the highest rate met and the lowest missed are within 5%',
            steps: [100, 200, 300, 400].map((ratePerS, i) => ({
              ratePerS,
              met: ratePerS <= 300,
              goodputPerS: ratePerS * 0.99,
              operations: [
                {operation: 'read', p50Ms: 1 + i, p99Ms: 50 + 100 * i * i, p999Ms: 100 + 60 * i * i},
                {operation: 'update', p50Ms: 2 + i, p99Ms: 80 + 120 * i * i, p999Ms: 150 + 200 * i * i},
              ],
              missed: ratePerS <= 300 ? [] : ['read p99.9 <= 500 ms'],
            })),
          },
        }),
  }
  recorder.destroy()
  return report
}
