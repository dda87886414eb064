/**
 * Tests of the regression check of `dyn bench --baseline` (bench/baseline.ts): the tolerance and
 * figure lists parse or are refused clearly, a baseline file that is not a dyn bench report or
 * was run differently is refused naming what is wrong, and the comparison finds a regression,
 * lets one within the tolerance pass, and uses the calibration's units only where they are sound.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {compareWithBaseline, formatRegression, incomparableMessage, parseBaseline, parseMaxRegression, parseRegressionMetrics, setupDifferences, setupOfConfig, setupOfReport} from '../../bench/baseline.js'
import type {FigureComparison, RegressionReport} from '../../bench/baseline.js'
import {samplesNeeded} from '../../bench/sla.js'
import {clusterDefaultsOf, quorumText, runQuorum, startedClusterDefaults} from '../../bench/quorum.js'
import {config, latency, operation, report} from './bench-fixtures.js'

function find(regression: RegressionReport, name: string): FigureComparison {
  const found = regression.comparisons.find((c) => `${c.operation} ${c.metric}` === name)
  assert.ok(found, `no comparison of ${name} in ${regression.comparisons.map((c) => `${c.operation} ${c.metric}`).join(', ')}`)
  return found
}

const defaults = {source: 'base.json', maxRegression: 0.1, metrics: ['throughput', 'p99.9'] as const}

describe('parseMaxRegression', () => {
  it('takes a percentage with its sign', () => {
    assert.deepEqual(parseMaxRegression('10%'), {ok: true, value: 0.1})
    assert.deepEqual(parseMaxRegression('2.5%'), {ok: true, value: 0.025})
    assert.deepEqual(parseMaxRegression(' 0% '), {ok: true, value: 0})
    assert.deepEqual(parseMaxRegression('1000%'), {ok: true, value: 10})
  })

  it('refuses a bare number or a silly one, saying the syntax', () => {
    for (const text of ['0.1', '10', 'ten%', '%', '', '10%%', '1e2%', '-5']) {
      const parsed = parseMaxRegression(text)
      assert.equal(parsed.ok, false, `"${text}" was accepted`)
      assert.match((parsed as {message: string}).message, /percentage with its % sign, such as 10%/, text)
    }
    // A negative tolerance has its % sign: what is wrong is the value, and the message says so.
    for (const text of ['-5%', ' -0.5 % ']) {
      const negative = parseMaxRegression(text)
      assert.equal(negative.ok, false, `"${text}" was accepted`)
      assert.match((negative as {message: string}).message, /must be at least 0%/, text)
      assert.doesNotMatch((negative as {message: string}).message, /with its % sign/, text)
    }
    const huge = parseMaxRegression('5000%')
    assert.equal(huge.ok, false)
    assert.match((huge as {message: string}).message, /at most 1000%/)
  })
})

describe('parseRegressionMetrics', () => {
  it('takes names from the report, in order, each once', () => {
    assert.deepEqual(parseRegressionMetrics('throughput,p99,p99.9'), {ok: true, value: ['throughput', 'p99', 'p99.9']})
    assert.deepEqual(parseRegressionMetrics(' P50 , max,p50'), {ok: true, value: ['p50', 'max']})
  })

  it('refuses a figure the report does not have, listing those it has', () => {
    for (const text of ['p95', 'throughput,', 'latency']) {
      const parsed = parseRegressionMetrics(text)
      assert.equal(parsed.ok, false, `"${text}" was accepted`)
      assert.match((parsed as {message: string}).message, /name some of throughput, p50, p90, p99, p99\.9, max, mean/)
    }
  })
})

describe('parseBaseline', () => {
  const saved = {ok: true, ...report({operations: [operation('read', 100, latency(2))]})}

  it('accepts what dyn bench --json prints, extra fields and a missed SLA included', () => {
    const parsed = parseBaseline(JSON.stringify({...saved, ok: false, timeline: [], sla: {name: 'x', met: false, verdicts: []}}), 'base.json')
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.message)
    assert.equal(parsed.value.run.operations[0]?.operation, 'read')
  })

  it('refuses a file that is not a dyn bench report, saying what it is and how to make one', () => {
    const cases: Array<[string, RegExp]> = [
      ['{"ok": true, "config"', /is not JSON/],
      ['[1, 2]', /not a dyn bench --json report: expected an object/],
      [JSON.stringify({ok: false, error: 'unreachable', message: 'no node answered'}), /answer of a dyn bench that failed \(unreachable: no node answered\)/],
      [JSON.stringify({format: 'HdrHistogram compressed base64', workload: 'a', histograms: {}}), /--hdr-out histogram file/],
      [JSON.stringify({ok: true, key: 'k', value: 'v'}), /"config" is missing/],
      [JSON.stringify({...saved, run: {...saved.run, operations: 'none'}}), /"run\.operations" is not a list/],
      [JSON.stringify({...saved, run: {...saved.run, operations: [{operation: 'read', count: 1, throughputPerS: 1, latency: {p50Ms: 1}}]}}), /run\.operations\[0\]\.latency\.p90Ms is missing/],
      [JSON.stringify({...saved, config: {...saved.config, mode: {kind: 'open'}}}), /"config\.mode"/],
      [JSON.stringify({...saved, config: {...saved.config, records: '1000'}}), /"config\.records" is missing/],
      [JSON.stringify({...saved, calibration: {elapsedS: 1}}), /"calibration\.opsPerS" is missing/],
      [JSON.stringify({...saved, sla: {name: 'ci'}}), /"sla" has no met and verdicts/],
    ]
    for (const [text, message] of cases) {
      const parsed = parseBaseline(text, 'base.json')
      assert.equal(parsed.ok, false, `accepted: ${text.slice(0, 80)}`)
      assert.match((parsed as {message: string}).message, message)
      assert.match((parsed as {message: string}).message, /base\.json/, 'the message names the file')
    }
  })
})

describe('parseBaseline: a failed run is no baseline', () => {
  const saved = {ok: true, ...report({operations: [operation('read', 100, latency(2)), operation('update', 100, latency(3))]})}
  const refused = (text: string): string => {
    const parsed = parseBaseline(text, 'base.json')
    assert.equal(parsed.ok, false, `accepted: ${text.slice(0, 120)}`)
    const {message} = parsed as {message: string}
    assert.match(message, /^the baseline base\.json /, 'the message names the file')
    assert.match(message, /save a new baseline from a successful run \(dyn bench --json > FILE\)/, 'the message says what to do')
    return message
  }

  it('refuses a run whose every operation of a kind failed, naming the kinds and their errors', () => {
    // What a run against a cluster with two of three nodes down saved: every request quorum_unmet.
    const reads = {...operation('read', 100, latency(2), {quorum_unmet: 1000}), goodputPerS: 0}
    const updates = {...operation('update', 100, latency(3), {quorum_unmet: 900, http_error: 100}), goodputPerS: 0}
    const allFailed = refused(JSON.stringify({...saved, run: {...saved.run, operations: [reads, updates]}}))
    assert.match(allFailed, /is the report of a failed run, not a measurement to compare with: every read failed \(1000 quorum_unmet\); every update failed \(900 quorum_unmet, 100 http_error\): its figures measure failures/)
    // One kind failing is enough: that kind's figures are of failures.
    const oneKind = refused(JSON.stringify({...saved, run: {...saved.run, operations: [operation('read', 100, latency(2)), updates]}}))
    assert.match(oneKind, /: every update failed \(900 quorum_unmet, 100 http_error\): its figures/)
    assert.doesNotMatch(oneKind, /every read/)
  })

  it('refuses a run that measured nothing, or whose every operation was shed', () => {
    assert.match(refused(JSON.stringify({...saved, run: {...saved.run, opsPerS: 0, operations: []}})), /failed run, not a measurement to compare with: it measured no operation/)
    const shed = {...operation('read', 0, latency(0)), shed: 700}
    assert.match(refused(JSON.stringify({...saved, run: {...saved.run, opsPerS: 0, operations: [shed]}})), /every one of its 700 operations was shed by an overloaded node, so it measured none/)
    const keptBack = {...operation('read', 0, latency(0)), shed: 70, throttled: 630}
    assert.match(refused(JSON.stringify({...saved, run: {...saved.run, opsPerS: 0, operations: [keptBack]}})), /every one of its 700 operations was shed by an overloaded node \(630 of them kept back by the client's throttle after such sheds\), so it measured none/)
  })

  it('refuses a run whose fault was not carried out as planned', () => {
    const faults = [{spec: 'kill:n3@10', kind: 'kill', node: 'n3', atS: 10, endS: 20, appliedAtS: 10, problem: 'starting n3 again failed: port in use'}]
    assert.match(refused(JSON.stringify({...saved, ok: false, faults})), /its fault kill:n3@10 was not carried out as planned \(starting n3 again failed: port in use\), so the run is not the experiment its --fault flags name/)
    const carriedOut = parseBaseline(JSON.stringify({...saved, faults: [{...faults[0], problem: undefined, revertedAtS: 20}]}), 'base.json')
    assert.ok(carriedOut.ok, carriedOut.ok ? '' : carriedOut.message)
  })

  it('refuses an empty file (a --json run killed before its report), an interrupted run\'s answer and a bench error answer, saying to save a new one', () => {
    assert.match(refused(''), /is empty: a dyn bench --json that was interrupted \(Ctrl-C\) by a dyn older than its "interrupted" answer, or killed, prints no report/)
    const interrupted = refused(JSON.stringify({ok: false, error: 'interrupted', message: 'interrupted by SIGINT while running the workload', signal: 'SIGINT', phase: 'running'}))
    assert.match(interrupted, /is the answer of a dyn bench --json that was interrupted \(SIGINT while running\) before its report: it holds no figures to compare with; save a new baseline/)
    assert.match(refused(' \n'), /is empty/)
    assert.match(refused(JSON.stringify({ok: false, error: 'unreachable', message: 'no node answered'})), /answer of a dyn bench that failed/)
  })

  it('accepts a run with some failures, and a run that missed its SLA with a warning in the comparison', () => {
    const someFailed = parseBaseline(JSON.stringify({...saved, run: {...saved.run, operations: [operation('read', 100, latency(2), {timeout: 3})]}}), 'base.json')
    assert.ok(someFailed.ok, someFailed.ok ? '' : someFailed.message)
    const verdicts = [
      {target: 'read p99.9 <= 300 ms', measured: 412, limit: 300, met: false},
      {target: 'update p99.9 <= 300 ms', measured: 120, limit: 300, met: true},
    ]
    const missed = parseBaseline(JSON.stringify({...saved, ok: false, sla: {name: 'ci', met: false, verdicts}}), 'base.json')
    assert.ok(missed.ok, missed.ok ? '' : missed.message)
    const regression = compareWithBaseline(missed.value, report({operations: [operation('read', 100, latency(2)), operation('update', 100, latency(3))]}), defaults)
    assert.ok(regression.warnings.includes('the baseline missed its SLA ci (read p99.9 <= 300 ms): a run no worse than it may miss those targets too'), regression.warnings.join('\n'))
    const met = compareWithBaseline(saved, report({operations: [operation('read', 100, latency(2))]}), defaults)
    assert.ok(!met.warnings.some((w) => /missed its SLA/.test(w)))
  })
})

describe('comparable baselines', () => {
  const baseline = setupOfReport(report({operations: [operation('read', 100, latency(2))]}))

  it('a run set up the same way (length, seed and warm-up aside) is comparable', () => {
    assert.deepEqual(setupDifferences(baseline, setupOfConfig(config({durationS: 60, seed: 7, warmupS: 0}))), [])
    // The node count is what matters, not whether the bench started the cluster itself.
    assert.deepEqual(setupDifferences(baseline, setupOfConfig(config({nodes: ['a:1', 'b:2', 'c:3'], startNodes: 3}))), [])
  })

  it('tells an open loop that throttled at the client from one that sent everything, a report that does not say being from before the throttle', () => {
    const open = {kind: 'open', ratePerS: 500} as const
    const before = setupOfReport(report({operations: [operation('read', 100, latency(2))]}))
    const openBefore = {...before, mode: open}
    assert.match(incomparableMessage('base.json', openBefore, setupOfConfig(config({mode: open, clientThrottle: true}))) ?? '', /client throttle: baseline off \(--no-client-throttle\), this run on/)
    assert.equal(incomparableMessage('base.json', openBefore, setupOfConfig(config({mode: open, clientThrottle: false}))), undefined)
    assert.equal(incomparableMessage('base.json', {...openBefore, clientThrottle: true}, setupOfConfig(config({mode: open, clientThrottle: true}))), undefined)
  })

  it('tells open loops apart by their warm-up, and lets closed loops differ in it', () => {
    const open = {kind: 'open', ratePerS: 500} as const
    const saved = {...setupOfReport(report({operations: [operation('read', 100, latency(2))]})), mode: open, clientThrottle: true, warmupS: 2}
    assert.match(incomparableMessage('base.json', saved, setupOfConfig(config({mode: open, clientThrottle: true, warmupS: 5}))) ?? '', /warm-up: baseline 2 s, this run 5 s/)
    assert.equal(incomparableMessage('base.json', saved, setupOfConfig(config({mode: open, clientThrottle: true, warmupS: 2}))), undefined)
    const closed = setupOfReport(report({operations: [operation('read', 100, latency(2))]}))
    assert.equal(incomparableMessage('base.json', {...closed, warmupS: 2}, setupOfConfig(config({warmupS: 5}))), undefined)
  })

  it('against a closed loop, says the loops differ once, not again for each aspect of an open loop', () => {
    const closed = setupOfReport(report({operations: [operation('read', 100, latency(2))]}))
    const differences = setupDifferences(closed, setupOfConfig(config({mode: {kind: 'open', ratePerS: 500}, clientThrottle: true, warmupS: 5})))
    assert.deepEqual(differences, ['loop: baseline closed loop, 50 connections, this run open loop at 500 ops/s'])
  })

  it('refuses every difference that changes what the figures mean, naming each', () => {
    const cases: Array<[Parameters<typeof config>[0], RegExp]> = [
      [{workload: 'b'}, /workload: baseline a, this run b/],
      [{distribution: 'uniform'}, /key distribution: baseline zipfian, this run uniform/],
      [{mode: {kind: 'open', ratePerS: 500}}, /loop: baseline closed loop, 50 connections, this run open loop at 500 ops\/s/],
      [{mode: {kind: 'closed', connections: 8}}, /loop: baseline closed loop, 50 connections, this run closed loop, 8 connections/],
      [{records: 200}, /records: baseline 1000, this run 200/],
      [{valueSize: 1024}, /value size: baseline 100 bytes, this run 1024 bytes/],
      [{n: 3, r: 2, w: 2}, /quorum: baseline n=default r=default w=default dw=default, this run n=3 r=2 w=2 dw=default/],
      [{dw: 1}, /quorum: .*this run n=default r=default w=default dw=1/],
      [{clientDriven: true}, /routing: baseline server-driven, this run client-driven/],
      [{startNodes: 5}, /nodes: baseline 3, this run 5/],
      [{clusterArgs: ['--write-buffer-ms', '100']}, /cluster flags: baseline none, this run --write-buffer-ms 100/],
      [{nodes: ['a:1', 'b:2', 'c:3'], tls: {ca: Buffer.from('a CA')}}, /transport: baseline plain HTTP, this run HTTPS/],
      // A cluster the bench starts with TLS is reached over HTTPS too.
      [{startTls: {certFile: 'local.crt', keyFile: 'local.key', caFile: 'ca.crt'}}, /transport: baseline plain HTTP, this run HTTPS/],
    ]
    for (const [overrides, difference] of cases) {
      const message = incomparableMessage('base.json', baseline, setupOfConfig(config(overrides)))
      assert.ok(message !== undefined, `${JSON.stringify(overrides)} was comparable`)
      assert.match(message, difference)
      assert.match(message, /^the baseline base\.json was run differently/)
    }
    // The certificates are no part of a setup: a saved report never holds them.
    assert.equal('tls' in setupOfConfig(config({nodes: ['a:1'], tls: {ca: Buffer.from('a CA')}})), false)
    assert.equal('startTls' in setupOfConfig(config({startTls: {certFile: 'local.crt', keyFile: 'local.key', caFile: 'ca.crt'}})), false)
    const two = incomparableMessage('base.json', baseline, setupOfConfig(config({records: 200, valueSize: 10})))
    assert.match(two ?? '', /records: .*; value size: /, 'every difference is named')
  })
})

describe('comparable baselines: the quorum in effect', () => {
  const started = startedClusterDefaults(3)

  it('fills the cluster\'s defaults in as the node does: R and W follow a given N down, given values stay', () => {
    assert.deepEqual(runQuorum({}, started), {n: 3, r: 2, w: 2, dw: 0})
    assert.deepEqual(runQuorum({n: 1}, started), {n: 1, r: 1, w: 1, dw: 0})
    assert.deepEqual(runQuorum({r: 1, dw: 1}, started), {n: 3, r: 1, w: 2, dw: 1})
    // A one-node cluster's default N is fitted to it, and R and W with it.
    assert.deepEqual(runQuorum({}, startedClusterDefaults(1)), {n: 1, r: 1, w: 1, dw: 0})
    assert.deepEqual(clusterDefaultsOf({settings: {defaultN: 3, defaultR: 2, defaultW: 1}, effective: {n: 2, r: 2, w: 1}}), {fittedN: 2, defaultR: 2, defaultW: 1})
    assert.equal(clusterDefaultsOf({settings: {defaultN: 3, defaultR: 2, defaultW: 2}}), undefined, 'a node that does not say its effective N')
  })

  it('a report prints the values the requests ran with and names those left to the cluster, never n=default', () => {
    assert.equal(quorumText({}, {n: 3, r: 2, w: 2, dw: 0}), "n=3 r=2 w=2 dw=0, the cluster's defaults")
    assert.equal(quorumText({r: 1}, {n: 3, r: 1, w: 2, dw: 0}), "n=3 r=1 w=2 dw=0, n w dw: the cluster's defaults")
    assert.equal(quorumText({n: 3, r: 2, w: 2, dw: 1}, {n: 3, r: 2, w: 2, dw: 1}), 'n=3 r=2 w=2 dw=1')
    // A report from before the quorum was recorded knows only what was given.
    assert.equal(quorumText({w: 1}, undefined), 'n=default r=default w=1')
  })

  it('a run left to the defaults compares with one that gave the same values, in either order', () => {
    const defaults = report({operations: [operation('read', 100, latency(2))]})
    const explicit = config({n: 3, r: 2, w: 2})
    // A report from before the quorum was recorded, of a cluster the bench started: its quorum is known.
    assert.equal(incomparableMessage('base.json', setupOfReport(defaults), setupOfConfig(explicit, runQuorum(explicit, started))), undefined)
    // One that recorded it, against a run left to the defaults.
    const recorded = report({config: {n: 3, r: 2, w: 2}, operations: [operation('read', 100, latency(2))]})
    const withQuorum = {...recorded, config: {...recorded.config, quorum: {n: 3, r: 2, w: 2, dw: 0}}}
    assert.equal(incomparableMessage('base.json', setupOfReport(withQuorum), setupOfConfig(config(), runQuorum({}, started))), undefined)
    // A saved report's quorum is read back as it was written.
    const parsed = parseBaseline(JSON.stringify({ok: true, ...withQuorum}), 'base.json')
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.message)
    assert.deepEqual(setupOfReport(parsed.value).quorum, {n: 3, r: 2, w: 2, dw: 0})
    const malformed = parseBaseline(JSON.stringify({ok: true, ...withQuorum, config: {...withQuorum.config, quorum: {n: 3}}}), 'base.json')
    assert.match(malformed.ok ? 'accepted' : malformed.message, /"config\.quorum" has no numbers n, r, w and dw/)
  })

  it('refuses a quorum in effect that differs, and says why when a --node baseline cannot tell its defaults', () => {
    const recorded = report({operations: [operation('read', 100, latency(2))]})
    const weaker = {...recorded, config: {...recorded.config, quorum: {n: 3, r: 1, w: 2, dw: 0}}}
    assert.match(incomparableMessage('base.json', setupOfReport(weaker), setupOfConfig(config(), runQuorum({}, started))) ?? '', /quorum: baseline n=3 r=1 w=2 dw=0 in effect, this run n=3 r=2 w=2 dw=0 in effect/)
    // Against a running cluster, from before the quorum was recorded: "default" is all it says.
    const nodes = ['a:1', 'b:2', 'c:3']
    const old = report({config: {nodes}, operations: [operation('read', 100, latency(2))]})
    const explicit = config({nodes, n: 3, r: 2, w: 2})
    const message = incomparableMessage('base.json', setupOfReport(old), setupOfConfig(explicit, runQuorum(explicit, started))) ?? ''
    assert.match(message, /quorum: baseline n=default r=default w=default dw=default, this run n=3 r=2 w=2 dw=default/)
    assert.match(message, /the baseline does not record the quorum its cluster's defaults gave/)
  })
})

describe('compareWithBaseline', () => {
  const baseline = report({operations: [operation('read', 1000, latency(2, 20)), operation('update', 1000, latency(3, 30))]})

  it('finds a regression, says by how much per operation and figure, and lets the others pass', () => {
    // Reads: 30% less throughput; updates: p99.9 50% longer.
    const current = report({operations: [operation('read', 700, latency(2, 20)), operation('update', 1000, latency(3, 45))]})
    const regression = compareWithBaseline(baseline, current, defaults)
    assert.equal(regression.regressed, true)
    assert.equal(regression.unit, 'raw')
    assert.deepEqual(
      regression.comparisons.map((c) => `${c.operation} ${c.metric}`),
      ['all throughput', 'read throughput', 'read p99.9', 'update throughput', 'update p99.9'],
    )
    const readThroughput = find(regression, 'read throughput')
    assert.equal(readThroughput.regressed, true)
    assert.ok(Math.abs((readThroughput.worseBy ?? 0) - 0.3) < 1e-9, String(readThroughput.worseBy))
    assert.equal(readThroughput.unit, 'ops/s')
    const updateTail = find(regression, 'update p99.9')
    assert.equal(updateTail.regressed, true)
    assert.ok(Math.abs((updateTail.worseBy ?? 0) - 0.5) < 1e-9)
    assert.equal(find(regression, 'read p99.9').regressed, false)
    assert.equal(find(regression, 'update throughput').regressed, false)
    // The whole run lost 15%: over the 10% tolerance too.
    assert.equal(find(regression, 'all throughput').regressed, true)

    const text = formatRegression(regression)
    assert.match(text, /^against the baseline base\.json: REGRESSED \(tolerance 10\.0%; unit: raw ms and ops\/s\)$/m)
    assert.match(text, /^ {2}WORSE {2}read throughput: 700\.0 ops\/s, baseline 1000 ops\/s: 30\.0% worse$/m)
    assert.match(text, /^ {2}WORSE {2}update p99\.9: 45\.00 ms, baseline 30\.00 ms: 50\.0% worse$/m)
    assert.match(text, /^ {2}ok {5}read p99\.9: 20\.00 ms, baseline 20\.00 ms: unchanged$/m)
    assert.match(text, /warning: compared in raw ms and ops\/s: the baseline and this run were not calibrated/)
  })

  it('passes figures worse by no more than the tolerance, and better ones', () => {
    const current = report({operations: [operation('read', 905, latency(2, 21.8)), operation('update', 1100, latency(3, 25))]})
    const regression = compareWithBaseline(baseline, current, defaults)
    assert.equal(regression.regressed, false, formatRegression(regression))
    assert.ok(Math.abs((find(regression, 'read throughput').worseBy ?? 0) - 0.095) < 1e-9)
    assert.ok((find(regression, 'update p99.9').worseBy ?? 0) < 0, 'a shorter tail is better: a negative change')
    assert.match(formatRegression(regression), /update p99\.9: .*: 16\.7% better/)
    // The same run against a tolerance of 5% regresses.
    assert.equal(compareWithBaseline(baseline, current, {...defaults, maxRegression: 0.05}).regressed, true)
  })

  it('compares only the figures named', () => {
    const current = report({operations: [operation('read', 100, latency(2, 20)), operation('update', 1000, latency(3, 30))]})
    const regression = compareWithBaseline(baseline, current, {...defaults, metrics: ['p50', 'p99']})
    assert.deepEqual(
      regression.comparisons.map((c) => `${c.operation} ${c.metric}`),
      ['read p50', 'read p99', 'update p50', 'update p99'],
    )
    assert.equal(regression.regressed, false, 'throughput fell tenfold, but it was not asked for')
  })

  it('with both runs calibrated, a machine twice as slow is no regression', () => {
    // The baseline ran on a quiet machine; this run on one half as fast: half the ceiling, half
    // the throughput, every latency doubled, the calibration's included.
    const calibrated = report({operations: baseline.run.operations, calibration: [operation('read', 5000, latency(0.5, 8)), operation('update', 5000, latency(0.6, 9))]})
    const slower = report({
      operations: [operation('read', 500, latency(4, 40)), operation('update', 500, latency(6, 60))],
      calibration: [operation('read', 2500, latency(1, 30)), operation('update', 2500, latency(1.2, 12))],
    })
    const regression = compareWithBaseline(calibrated, slower, defaults)
    assert.equal(regression.unit, 'calibrated')
    assert.deepEqual(regression.warnings, [])
    assert.equal(regression.regressed, false, formatRegression(regression))
    const throughput = find(regression, 'all throughput')
    assert.equal(throughput.unit, 'share of ceiling')
    assert.equal(throughput.baseline, 0.2)
    assert.equal(throughput.current, 0.2)
    assert.equal(throughput.baselineRaw, 2000)
    assert.equal(throughput.currentRaw, 1000)
    // Latencies in calibration medians: the calibration's p99.9 (30 ms against 8, one stall in a
    // short calibration) does not enter.
    const readTail = find(regression, 'read p99.9')
    assert.equal(readTail.unit, 'calibration medians')
    assert.equal(readTail.baseline, 40)
    assert.equal(readTail.current, 40)
    assert.match(formatRegression(regression), /unit: calibrated \(both runs used --calibrate\)/)
    assert.match(formatRegression(regression), /read p99\.9: 40\.00× calibration p50 \(40\.00 ms\), baseline 40\.00× calibration p50 \(20\.00 ms\): unchanged/)

    // Compared raw, the same two runs regress on every figure.
    const raw = compareWithBaseline({...calibrated, calibration: undefined}, slower, defaults)
    assert.equal(raw.unit, 'raw')
    assert.ok(raw.comparisons.every((c) => c.regressed))
    assert.match(raw.warnings[0] ?? '', /the baseline was not calibrated/)
  })

  it("keeps an open loop's throughput in ops/s even when both runs were calibrated", () => {
    const open = {mode: {kind: 'open', ratePerS: 1000} as const}
    const base = report({config: open, operations: [operation('read', 1000, latency(2))], calibration: [operation('read', 5000, latency(1))]})
    // A faster machine (a higher ceiling) at the same offered rate: the share of the ceiling
    // falls, but the run got just as much done.
    const current = report({config: open, operations: [operation('read', 1000, latency(2))], calibration: [operation('read', 10000, latency(0.5))]})
    const regression = compareWithBaseline(base, current, defaults)
    const throughput = find(regression, 'read throughput')
    assert.equal(throughput.unit, 'ops/s')
    assert.equal(throughput.worseBy, 0)
    assert.match(throughput.note ?? '', /offered rate/)
    // The latency is in calibration medians: on the faster machine, 2 ms is worse.
    assert.equal(find(regression, 'read p99.9').unit, 'calibration medians')
    assert.equal(find(regression, 'read p99.9').regressed, true)
  })

  it('warns, per operation, of percentiles that rest on too few samples in either run, and still compares them', () => {
    // 150 reads in this run (a 15 ops/s fixture over 10 s): its p99.9 is its slowest read.
    const short = report({operations: [operation('read', 15, latency(2, 20)), operation('update', 1000, latency(3, 30))]})
    const regression = compareWithBaseline(baseline, short, {...defaults, metrics: ['throughput', 'p50', 'p99', 'p99.9', 'max']})
    const thin = regression.warnings.filter((w) => /too few samples/.test(w))
    assert.deepEqual(thin, [
      'read p99.9 rests on too few samples to mean much (this run 150, the baseline 10,000): a percentile p needs at least 1/(1 - p) samples (1,000 for p99.9), else it is about the slowest sample, the max; run longer (--duration) or at a higher rate',
    ])
    assert.notEqual(find(regression, 'read p99.9').worseBy, null, 'the figure is compared all the same')
    // Either run: the baseline's few samples count as much as this run's; each percentile past its count is named.
    const both = compareWithBaseline(report({operations: [operation('read', 5, latency(2, 20))]}), report({operations: [operation('read', 1000, latency(2, 20))]}), {...defaults, metrics: ['p50', 'p90', 'p99', 'p99.9', 'mean']})
    assert.ok(both.warnings.some((w) => w.startsWith('read p99, p99.9 rest on too few samples to mean much (this run 10,000, the baseline 50): a percentile p needs at least 1/(1 - p) samples (100 for p99, 1,000 for p99.9)')), both.warnings.join('\n'))
    assert.match(formatRegression(regression), /^ {2}warning: read p99\.9 rests on too few samples/m)
    // Enough samples: no warning (1,000 for p99.9 exactly is enough).
    assert.equal(samplesNeeded(99.9), 1000)
    assert.equal(samplesNeeded(99), 100)
    assert.equal(samplesNeeded(50), 2)
    const enough = compareWithBaseline(report({operations: [operation('read', 100, latency(2, 20))]}), report({operations: [operation('read', 100, latency(2, 20))]}), defaults)
    assert.ok(!enough.warnings.some((w) => /too few samples/.test(w)), enough.warnings.join('\n'))
  })

  it('lists an operation only one run had, without failing on it', () => {
    const withInsert = report({operations: [...baseline.run.operations, operation('insert', 5, latency(3))]})
    const regression = compareWithBaseline(baseline, withInsert, defaults)
    const insert = find(regression, 'insert p99.9')
    assert.equal(insert.worseBy, null)
    assert.equal(insert.regressed, false)
    assert.equal(insert.baseline, null)
    assert.match(insert.note ?? '', /not compared: the baseline has no insert operation/)
    assert.ok(regression.warnings.some((w) => /insert not compared: the baseline has no insert operation/.test(w)))
    assert.match(formatRegression(regression), /^ {2}n\/a {4}insert p99\.9: 30\.00 ms, baseline none: not compared/m)
  })
})
