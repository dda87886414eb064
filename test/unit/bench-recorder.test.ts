/**
 * Tests of what `dyn bench` measures and shows: the Recorder's HDR percentiles (3 significant
 * digits, Dynamo §2.2's 99.9th percentile) against known recorded values, its outcome counts and
 * versions seen (§6.3), its compressed histograms; the plain-text report of a hand-built run;
 * and the ink progress view, rendered without a terminal.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import hdr from 'hdr-histogram-js'
import {renderToString} from 'ink'
import {createElement} from 'react'
import type {KindSummary} from '../../bench/recorder.js'
import {latencyUsMax, Recorder} from '../../bench/recorder.js'
import {figure, formatReport, wrapList} from '../../bench/report.js'
import type {BenchReport, BenchConfig, PhaseResult} from '../../bench/runner.js'
import {BenchProgress} from '../../src/ui/bench-progress.js'
import type {BenchProgressSnapshot} from '../../src/ui/bench-progress.js'

/** HDR with 3 significant digits keeps any value within 0.1% (plus the 1 µs unit, in ms). */
function assertWithinHdr(actualMs: number | undefined, expectedMs: number, what: string): void {
  assert.ok(actualMs !== undefined, `${what}: not measured`)
  const tolerance = expectedMs * 0.001 + 0.001
  assert.ok(Math.abs(actualMs - expectedMs) <= tolerance, `${what}: ${actualMs} ms, expected ${expectedMs} ± ${tolerance.toFixed(4)}`)
}

/** Reads of 1, 2, ..., 1000 ms, recorded in a shuffled order that must not matter. */
function recordOneToThousandMs(recorder: Recorder): void {
  const order = Array.from({length: 1000}, (_, i) => (i * 7919) % 1000)
  for (const i of order) recorder.record('read', 'ok', (i + 1) * 1000, 1)
}

describe('wrapList', () => {
  it('wraps a long list within the width, continuation lines under the first item', () => {
    const items = Array.from({length: 40}, (_, i) => `${i + 1}: ${(i * 2.5).toFixed(3)}%`)
    const lines = wrapList('  reads: ', items, 80)
    assert.ok(lines.length > 1)
    for (const line of lines) assert.ok(line.length <= 80, `${line.length} columns: ${line}`)
    for (const line of lines.slice(1)) assert.match(line, /^ {9}\d/)
    assert.equal(lines.join(' ').replace(/ +/g, ' ').trim(), `reads: ${items.join(', ')}`)
    assert.deepEqual(wrapList('x: ', ['a'], 80), ['x: a'])
  })
})

describe('Recorder', () => {
  it('gives the percentiles of 1..1000 ms within HDR precision', () => {
    const recorder = new Recorder()
    recordOneToThousandMs(recorder)
    const [read] = recorder.summary(10)
    assert.ok(read !== undefined)
    assert.equal(read.operation, 'read')
    assert.equal(read.count, 1000)
    assertWithinHdr(read.latency.p50Ms, 500, 'p50')
    assertWithinHdr(read.latency.p90Ms, 900, 'p90')
    assertWithinHdr(read.latency.p99Ms, 990, 'p99')
    assertWithinHdr(read.latency.p999Ms, 999, 'p99.9')
    assertWithinHdr(read.latency.maxMs, 1000, 'max')
    assertWithinHdr(read.latency.meanMs, 500.5, 'mean')
    assertWithinHdr(recorder.percentileMs('read', 99.9), 999, 'percentileMs(read, 99.9)')
    assertWithinHdr(recorder.percentileMs('read', 100), 1000, 'percentileMs(read, 100)')
    assert.equal(recorder.percentileMs('update', 50), undefined, 'an operation that did not run')
    recorder.destroy()
  })

  it('keeps each operation in the second it started, and merges any span of seconds', () => {
    const recorder = new Recorder()
    const originMs = 50_000
    // Before the timeline starts (the warm-up): totals only.
    recorder.record('read', 'ok', 9_000_000, 1, originMs - 10)
    recorder.startTimeline(originMs)
    // Second 0: ten reads of 1 ms. Second 1: nothing. Second 2: ten slow reads (100 ms), one
    // failed, and a shed update. An update sent in second 2 and answered in second 3 is second 2's.
    for (let i = 0; i < 10; i += 1) recorder.record('read', 'ok', 1000, 1, originMs + i * 50)
    for (let i = 0; i < 10; i += 1) recorder.record('read', i === 0 ? 'quorum_unmet' : 'ok', 100_000, 1, originMs + 2000 + i * 10)
    recorder.record('update', 'overloaded', 300, undefined, originMs + 2500)
    recorder.record('update', 'ok', 900_000, undefined, originMs + 2999)
    const timeline = recorder.timeline()
    assert.deepEqual(timeline.map((w) => w.startS), [0, 1, 2], 'every second up to the last, empty ones included')
    assert.deepEqual(timeline[1]?.operations, [])
    const [read0] = timeline[0]?.operations ?? []
    assert.equal(read0?.count, 10)
    assertWithinHdr(read0?.p999Ms, 1, 'second 0 p99.9')
    const second2 = timeline[2]?.operations ?? []
    assert.deepEqual(second2.map((op) => [op.operation, op.count, op.errors, op.shed]), [['read', 10, 1, 0], ['update', 1, 0, 1]])
    assertWithinHdr(second2[0]?.p999Ms, 100, 'second 2 p99.9')
    // A span merges its seconds: [0, 2) holds the fast reads alone, [0, 3) all twenty.
    const first = recorder.window(0, 2)
    assert.equal(first.summary(2)[0]?.count, 10)
    assertWithinHdr(first.percentileMs('read', 100), 1, 'max of [0, 2)')
    first.destroy()
    const all = recorder.window(0, 3)
    const [read, update] = all.summary(3)
    assert.equal(read?.count, 20)
    assert.deepEqual(read?.errors, {quorum_unmet: 1})
    assert.equal(update?.shed, 1)
    assertWithinHdr(all.percentileMs('read', 99.9), 100, 'p99.9 of [0, 3)')
    all.destroy()
    // The totals still hold the warm-up's operation, which no window holds.
    assert.equal(recorder.summary(3).find((op) => op.operation === 'read')?.count, 21)
    recorder.destroy()
  })

  it('keeps microsecond resolution for fast operations', () => {
    const recorder = new Recorder()
    for (let us = 100; us <= 199; us++) recorder.record('update', 'ok', us)
    assertWithinHdr(recorder.percentileMs('update', 50), 0.149, 'p50 of 100..199 µs')
    assertWithinHdr(recorder.percentileMs('update', 100), 0.199, 'max of 100..199 µs')
    recorder.destroy()
  })

  it('never reports a percentile above the maximum', () => {
    // A single operation of 12.345 ms: every percentile of it is that operation, and so is the
    // maximum. HDR answers percentiles with the highest value of the bucket (12.351 ms here),
    // so the maximum must be read the same way or the report shows p99.9 > max.
    const recorder = new Recorder()
    recorder.record('read', 'ok', 12_345)
    const [read] = recorder.summary(1)
    assert.ok(read !== undefined)
    assert.ok(read.latency.p999Ms <= read.latency.maxMs, `p99.9 ${read.latency.p999Ms} ms > max ${read.latency.maxMs} ms`)
    assert.ok(read.latency.p50Ms <= read.latency.maxMs, `p50 ${read.latency.p50Ms} ms > max ${read.latency.maxMs} ms`)
    recorder.destroy()
  })

  it('clamps latencies below 1 µs and above the trackable maximum instead of throwing', () => {
    const recorder = new Recorder()
    recorder.record('read', 'ok', 0)
    recorder.record('read', 'ok', -5)
    recorder.record('read', 'timeout', latencyUsMax * 10)
    assert.equal(recorder.totalCount, 3)
    assert.equal(recorder.percentileMs('read', 50), 0.001)
    assertWithinHdr(recorder.percentileMs('read', 100), latencyUsMax / 1000, 'clamped maximum')
    recorder.destroy()
  })

  it('splits outcomes into errors and not found, and counts every outcome', () => {
    const recorder = new Recorder()
    const outcomes = [
      ['ok', 5],
      ['not_found', 2],
      ['quorum_unmet', 3],
      ['http_error', 1],
      ['timeout', 4],
      ['connection', 6],
    ] as const
    for (const [outcome, count] of outcomes) for (let i = 0; i < count; i++) recorder.record('update', outcome, 1000)
    recorder.record('read', 'ok', 1000)
    const summaries = recorder.summary(1)
    const update = summaries.find((s) => s.operation === 'update')
    assert.ok(update !== undefined)
    assert.equal(update.count, 21, 'failed operations keep their latency in the histogram')
    assert.deepEqual(update.errors, {quorum_unmet: 3, http_error: 1, timeout: 4, connection: 6})
    assert.equal(update.notFound, 2)
    const read = summaries.find((s) => s.operation === 'read')
    assert.deepEqual(read?.errors, {})
    assert.equal(read?.notFound, 0)
    assert.equal(recorder.totalCount, 22)
    recorder.destroy()
  })

  it('keeps shed operations (503 overloaded) out of the accepted count and percentiles, and reports goodput and the refusals apart', () => {
    const recorder = new Recorder()
    for (let i = 0; i < 90; i++) recorder.record('update', 'ok', 10_000)
    for (let i = 0; i < 10; i++) recorder.record('update', 'quorum_unmet', 20_000)
    for (let i = 0; i < 300; i++) recorder.record('update', 'overloaded', 500)
    const [update] = recorder.summary(2)
    assert.ok(update !== undefined)
    assert.equal(update.count, 100, 'accepted operations only')
    assert.equal(update.shed, 300)
    assert.deepEqual(update.errors, {quorum_unmet: 10}, 'a shed is not an error of the accepted')
    assert.equal(update.goodputPerS, 45, 'ok (and not found) per second')
    assert.equal(update.throughputPerS, 50)
    assert.ok(update.latency.p50Ms >= 9.99 && update.latency.p50Ms <= 10.01, 'the fast refusals do not pull the accepted percentiles down')
    assert.ok(update.refusedLatency !== undefined && Math.abs(update.refusedLatency.p99Ms - 0.5) < 0.01)
    assert.equal(recorder.totalCount, 400, 'progress counts every finished operation')
    recorder.record('read', 'ok', 1000)
    assert.equal(recorder.summary(1).find((s) => s.operation === 'read')?.refusedLatency, undefined, 'no refusal latency without a refusal')
    recorder.destroy()
  })

  it('counts operations the client\'s throttle kept back apart, with no latency: they were never sent', () => {
    const recorder = new Recorder()
    recorder.startTimeline(0)
    for (let i = 0; i < 10; i++) recorder.record('update', 'ok', 10_000, undefined, 10)
    for (let i = 0; i < 5; i++) recorder.record('update', 'overloaded', 500, undefined, 10)
    for (let i = 0; i < 30; i++) recorder.record('update', 'throttled', 1, undefined, 10)
    const [update] = recorder.summary(1)
    assert.ok(update !== undefined)
    assert.equal(update.count, 10)
    assert.equal(update.shed, 5)
    assert.equal(update.throttled, 30)
    assert.deepEqual(update.errors, {}, 'kept back is not an error of the accepted')
    assert.ok(update.latency.p50Ms >= 9.99 && update.latency.p50Ms <= 10.01, 'no latency of its own pulls the accepted percentiles down')
    assert.ok(update.refusedLatency !== undefined && Math.abs(update.refusedLatency.p50Ms - 0.5) < 0.01, 'nor the refusals\'')
    assert.equal(recorder.totalCount, 45)
    assert.deepEqual(recorder.timeline()[0]?.operations.map((op) => [op.count, op.shed, op.throttled]), [[10, 5, 30]])
    const window = recorder.window(0, 1)
    assert.equal(window.summary(1)[0]?.throttled, 30, 'a span of the timeline keeps them')
    window.destroy()
    recorder.record('read', 'ok', 1000)
    assert.equal(recorder.summary(1).find((s) => s.operation === 'read')?.throttled, undefined, 'absent where none was kept back')
    recorder.destroy()
  })

  it('counts the versions each read saw, only where given', () => {
    const recorder = new Recorder()
    for (const versions of [1, 1, 1, 2, 3, 1, 2, 10]) recorder.record('read', 'ok', 500, versions)
    recorder.record('read', 'not_found', 500)
    recorder.record('update', 'ok', 500)
    const [read, update] = recorder.summary(1)
    assert.deepEqual(read?.versionsSeen, {'1': 4, '2': 2, '3': 1, '10': 1})
    assert.deepEqual(Object.keys(read?.versionsSeen ?? {}), ['1', '2', '3', '10'], 'in increasing order of versions')
    assert.deepEqual(update?.versionsSeen, {})
    recorder.destroy()
  })

  it('reports throughput as count over elapsed seconds, and the kinds in name order', () => {
    const recorder = new Recorder()
    for (let i = 0; i < 1000; i++) recorder.record('update', 'ok', 100)
    for (let i = 0; i < 250; i++) recorder.record('cart', 'ok', 100)
    for (let i = 0; i < 10; i++) recorder.record('read', 'ok', 100)
    const summaries = recorder.summary(4)
    assert.deepEqual(
      summaries.map((s) => [s.operation, s.throughputPerS]),
      [
        ['cart', 62.5],
        ['read', 2.5],
        ['update', 250],
      ],
    )
    assert.ok(recorder.summary(0).every((s) => s.throughputPerS === 0), 'no elapsed time, no throughput')
    recorder.destroy()
  })

  it('encodes each kind histogram so that it decodes back to the same counts', () => {
    const recorder = new Recorder()
    recordOneToThousandMs(recorder)
    for (let i = 0; i < 37; i++) recorder.record('update', 'ok', 2000 + i)
    const encoded = recorder.encodedHistograms()
    assert.deepEqual(Object.keys(encoded).sort(), ['read', 'update'])
    const read = hdr.decodeFromCompressedBase64(encoded.read ?? '')
    assert.equal(read.totalCount, 1000)
    assertWithinHdr(read.getValueAtPercentile(99.9) / 1000, 999, 'decoded p99.9')
    const update = hdr.decodeFromCompressedBase64(encoded.update ?? '')
    assert.equal(update.totalCount, 37)
    read.destroy()
    update.destroy()
    recorder.destroy()
    assert.equal(recorder.totalCount, 0, 'destroy forgets every kind')
  })
})

function kindSummary(operation: KindSummary['operation'], count: number, p999Ms: number, extra: Partial<KindSummary> = {}): KindSummary {
  return {
    operation,
    count,
    throughputPerS: count / 2,
    goodputPerS: count / 2,
    shed: 0,
    latency: {p50Ms: 1.25, p90Ms: 2.5, p99Ms: 5.75, p999Ms, maxMs: p999Ms + 1, meanMs: 1.5},
    errors: {},
    notFound: 0,
    versionsSeen: {},
    ...extra,
  }
}

function phase(operations: readonly KindSummary[], opsPerS: number, extra: Partial<PhaseResult> = {}): PhaseResult {
  return {elapsedS: 2, opsPerS, httpRequests: 850, operations, transportErrors: {timeout: 0, connection: 0}, ...extra}
}

const config: BenchConfig & {targetNodes: readonly string[]} = {
  nodes: ['127.0.0.1:7070', '127.0.0.1:7071', '127.0.0.1:7072'],
  startNodes: 3,
  clusterArgs: [],
  workload: 'a',
  distribution: 'zipfian',
  records: 200,
  valueSize: 100,
  n: 3,
  r: 2,
  w: 2,
  mode: {kind: 'open', ratePerS: 500},
  durationS: 2,
  warmupS: 0,
  load: true,
  clientDriven: false,
  calibrate: true,
  calibrationS: 3,
  seed: 1,
  timeoutS: 10,
  targetNodes: ['127.0.0.1:7070', '127.0.0.1:7071', '127.0.0.1:7072'],
}

function handBuiltReport(): BenchReport {
  const operations = [
    kindSummary('read', 400, 12.34, {errors: {quorum_unmet: 1}, notFound: 3, versionsSeen: {'1': 396, '2': 4}}),
    kindSummary('update', 450, 456.78),
  ]
  return {
    config,
    calibration: {...phase([kindSummary('read', 2000, 0.5)], 1000), protocol: 'http', ratio: 0.425},
    load: {records: 200, elapsedS: 0.4, failed: 0},
    run: phase(operations, 425),
    timeline: [],
    sla: {
      name: 'ci',
      met: false,
      verdicts: [
        {target: 'read p99.9 <= 300 ms', measured: 12.34, limit: 300, met: true},
        {target: 'update p99.9 <= 300 ms', measured: 456.78, limit: 300, met: false},
        {target: 'cart p99 <= 300 ms', measured: null, limit: 300, met: false},
        {target: 'error rate <= 0.001', measured: 1 / 850, limit: 0.001, met: false},
      ],
    },
    histograms: {},
  }
}

describe('figure', () => {
  it('gives every figure in at most 6 characters, as precise as that allows', () => {
    assert.deepEqual([0, 1.234, 99.994, 100, 456.78, 999.94, 1000, 123456.4, 999999, 1_234_567].map(figure), ['0.00', '1.23', '99.99', '100.0', '456.8', '999.9', '1000', '123456', '999999', '1.2e+6'])
  })
})

describe('formatReport', () => {
  it('prints the quorum the requests ran with, the cluster\'s defaults filled in, not n=default', () => {
    const built = handBuiltReport()
    const text = formatReport({...built, config: {...built.config, n: undefined, r: undefined, w: undefined, quorum: {n: 3, r: 2, w: 2, dw: 0}}})
    assert.match(text, /200 records of 100 bytes, n=3 r=2 w=2 dw=0, the cluster's defaults, open loop/)
    assert.doesNotMatch(text, /=default/)
  })

  it('shows the configuration, the load, one row per operation, the calibration ratio and the SLA verdict', () => {
    const text = formatReport(handBuiltReport())
    const lines = text.split('\n')
    assert.ok(text.endsWith('\n'))
    assert.match(text, /workload a \(zipfian\), 200 records of 100 bytes, n=3 r=2 w=2, open loop at 500 ops\/s, server-driven, 2 s against 3 node\(s\)/)
    assert.match(text, /^load: 200 records in 0\.4 s$/m)
    const readRow = lines.find((line) => /^ {2}read\s/.test(line))
    assert.ok(readRow !== undefined, text)
    assert.match(readRow, /\s400\s+200\.0\s+1\.25\s+2\.50\s+5\.75\s+12\.34\s+13\.34\s+quorum_unmet 1 \(not found 3\)$/)
    const updateRow = lines.find((line) => /^ {2}update\s/.test(line))
    assert.ok(updateRow !== undefined, text)
    assert.match(updateRow, /\s450\s.*456\.8.*\snone$/)
    // A terminal of 80 columns shows the header and a row without errors unwrapped.
    const header = lines.find((line) => /^ {2}operation\s/.test(line))
    assert.ok(header !== undefined && header.indexOf('errors') + 'errors'.length <= 80, header)
    assert.ok(updateRow.length <= 80, `${updateRow.length} columns: ${updateRow}`)
    assert.match(text, /offered load: 42\.5% of this machine's HTTP ceiling \(425 \/ 1000 ops\/s, measured in this run\)/)
    assert.match(text, /^versions a read returned \(1: one version; more: siblings to reconcile, paper §6\.3\):\n {2}reads: 1: 99\.000%, 2: 1\.000%$/m)
    assert.match(text, /^SLA ci: MISSED$/m)
    assert.match(text, /^ {2}met {4}read p99\.9 <= 300 ms: measured 12\.34 ms$/m)
    assert.match(text, /^ {2}MISSED update p99\.9 <= 300 ms: measured 456\.78 ms$/m)
    assert.match(text, /^ {2}MISSED cart p99 <= 300 ms: measured not measured$/m)
    assert.match(text, /^ {2}MISSED error rate <= 0\.001: measured 0\.00118$/m)
  })

  it('names the first answer of the HTTP errors it has no name for, and only that', () => {
    const base = handBuiltReport()
    const siblings = {...kindSummary('update', 450, 9, {errors: {http_error: 4695}}), firstFailure: {status: 409, error: 'too_many_siblings', message: 'the key would have 65 siblings'}}
    const unmet = {...kindSummary('read', 400, 9, {errors: {quorum_unmet: 2}}), firstFailure: {status: 503, error: 'quorum_unmet'}}
    const text = formatReport({...base, run: phase([unmet, siblings], 850)})
    assert.match(text, /^ {2}update\s.*\shttp_error 4695 \(first: 409 too_many_siblings\)$/m)
    assert.match(text, /^ {2}read\s.*\squorum_unmet 2$/m)
  })

  it('gives an open loop\'s floor and each operation\'s p99.9 as a multiple of the floor\'s', () => {
    const base = handBuiltReport()
    const floor = phase([kindSummary('read', 250, 2), kindSummary('update', 250, 4)], 500)
    const report: BenchReport = {...base, calibration: {...(base.calibration as NonNullable<BenchReport['calibration']>), floor}}
    const text = formatReport(report)
    assert.match(text, /^floor \(trivial HTTP server, the same open loop\): 500\.0 ops\/s over /m)
    // The run's read p99.9 is 12.34 ms, its update's 456.78 ms.
    assert.match(text, /^ {2}floor read: p50 1\.25 ms, .*p99\.9 2\.00 ms; the run's p99\.9 is 6\.2x the floor's$/m)
    assert.match(text, /^ {2}floor update: p50 1\.25 ms, .*p99\.9 4\.00 ms; the run's p99\.9 is 114\.2x the floor's$/m)
    assert.doesNotMatch(formatReport(base), /floor/)
  })

  it('names the protocol of the calibration: a run over HTTPS against a trivial HTTPS server', () => {
    const base = handBuiltReport()
    const calibration = base.calibration as NonNullable<BenchReport['calibration']>
    const floor = phase([kindSummary('read', 250, 2)], 500)
    const text = formatReport({...base, config: {...base.config, https: true}, calibration: {...calibration, protocol: 'https', floor}})
    assert.match(text, /against 3 node\(s\) over HTTPS$/m)
    assert.match(text, /^calibration \(trivial HTTPS server, same driver\): 1000\.0 ops\/s/m)
    assert.match(text, /offered load: 42\.5% of this machine's HTTPS ceiling \(425 \/ 1000 ops\/s, measured in this run\)/)
    assert.match(text, /^floor \(trivial HTTPS server, the same open loop\): /m)
    assert.doesNotMatch(text, /HTTP (server|ceiling)/)
    assert.match(formatReport(base), /^calibration \(trivial HTTP server, same driver\)/m)
  })

  it('says met, shows the closed loop, and has no ratio line without calibration', () => {
    const base = handBuiltReport()
    const {calibration: _calibration, ...withoutCalibration} = base
    const report: BenchReport = {
      ...withoutCalibration,
      config: {...config, mode: {kind: 'closed', connections: 8}, calibrate: false},
      run: phase(base.run.operations, 425, {transportErrors: {timeout: 2, connection: 1}}),
      sla: {name: 'ci', met: true, verdicts: [{target: 'read p99.9 <= 300 ms', measured: 12.34, limit: 300, met: true}]},
    }
    const text = formatReport(report)
    assert.match(text, /closed loop, 8 connections/)
    assert.doesNotMatch(text, /HTTP ceiling/)
    assert.match(text, /2 timeouts, 1 connection errors/)
    assert.match(text, /^SLA ci: met$/m)
    assert.doesNotMatch(text, /MISSED/)
    assert.doesNotMatch(text, /core/, 'no core line for a cluster the bench did not start')
  })

  it('says whether the cluster the bench started had a node on every core', () => {
    const base = handBuiltReport()
    const busy = formatReport({...base, cores: {nodeProcesses: 3, machines: 3, cores: 2}})
    assert.match(busy, /^cluster: 3 node process\(es\), on a machine with 2 core\(s\): every core has a node$/m)
    const grouped = formatReport({...base, cores: {nodeProcesses: 4, machines: 2, cores: 4}})
    assert.match(grouped, /^cluster: 4 node process\(es\) on 2 machine\(s\), on a machine with 4 core\(s\): every core has a node$/m)
    const idle = formatReport({...base, cores: {nodeProcesses: 1, machines: 1, cores: 8}})
    assert.match(idle, /^cluster: 1 node process\(es\), on a machine with 8 core\(s\): 7 core\(s\) without a node; more nodes use them/m)
  })
})

/** Terminal colours and styles, which ink leaves out when it renders to a string but might not. */
const ansi = /\x1b\[[0-9;]*m/g

function renderProgress(snapshot: BenchProgressSnapshot): string {
  return renderToString(createElement(BenchProgress, {snapshot}), {columns: 100}).replace(ansi, '')
}

describe('BenchProgress', () => {
  it('renders the running phase, its progress and one line per operation without a terminal', () => {
    const output = renderProgress({
      phase: 'running',
      elapsedS: 1,
      durationS: 2,
      done: 850,
      operations: [kindSummary('read', 400, 12.34, {errors: {quorum_unmet: 2}}), kindSummary('update', 450, 45.67)],
    })
    assert.match(output, /running/)
    assert.match(output, /1\.0\/2 s/)
    assert.match(output, /█{15}░{15}/, 'half the bar filled at half the duration')
    // In dyn top's number format: one decimal under 10 ms, whole ms above.
    assert.match(output, /read\s+400 ops\s+200\/s\s+p50\s+1\.3\s+p99\s+5\.8\s+p99\.9\s+12 ms\s+errors 2/)
    assert.match(output, /update\s+450 ops/)
    assert.doesNotMatch(output.split('\n').find((line) => line.includes('update')) ?? '', /errors/)
  })

  it('renders the loading phase as records done of the total', () => {
    const output = renderProgress({phase: 'loading', elapsedS: 0.5, durationS: 2, done: 50, total: 200, operations: []})
    assert.match(output, /loading/)
    assert.match(output, /50\/200/)
    assert.match(output, /█{8}░{22}/)
  })
})
