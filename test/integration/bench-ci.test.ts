/**
 * `dyn bench`'s CI forms and regression check as a CI job runs them, against a real one-node
 * cluster: --junit and --markdown are written even when the SLA is missed (exit 1 kept), a saved
 * --json run serves as --baseline for the next, a baseline whose throughput no run can reach
 * fails with exit 5 and says by how much, and a baseline that is not a bench report, is the report
 * of a failed run or was run differently is refused before anything runs. Short runs: plumbing and verdicts, never speed.
 */

import assert from 'node:assert/strict'
import {mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {runDyn, startCluster} from './harness.js'
import type {TestCluster} from './harness.js'

/** Each bench run loads, runs and reports within this (the default 60 s is for quick commands). */
const benchTimeoutMs = 120_000
/** A refusal before the run takes no time beyond starting the CLI. */
const refusalTimeoutMs = 30_000

interface SavedReport {
  ok: boolean
  config: Record<string, unknown>
  run: {opsPerS: number; operations: Array<{operation: string; throughputPerS: number}>}
  regression?: {unit: string; regressed: boolean; maxRegression: number; warnings: string[]; comparisons: Array<{operation: string; metric: string; worseBy: number | null; regressed: boolean}>}
}

describe('dyn bench for CI: --junit, --markdown, --baseline', () => {
  let c: TestCluster
  let dir: string
  /** A short closed-loop run; every run here that compares with a baseline uses the same. */
  let runFlags: string[]

  before(async () => {
    c = await startCluster(1)
    dir = await mkdtemp(path.join(tmpdir(), 'dyn-bench-ci-test-'))
    runFlags = ['bench', '--node', c.api(0), '--workload', 'a', '--connections', '4', '--duration', '1', '--warmup', '0', '--records', '200']
  })

  after(async () => {
    await c?.stop()
    if (dir !== undefined) await rm(dir, {recursive: true, force: true})
  })

  it('a missed SLA still writes the JUnit and Markdown reports (into new folders), and exits 1', async () => {
    const sla = path.join(dir, 'mixed.json')
    // Met, missed and the error rate. A target the workload never measures (an insert in workload
    // a) is refused before the run now (bench-sla-checks.test.ts), and how a report renders one
    // that a run happened not to measure is unit-tested (bench-ci-reports.test.ts).
    const targets = [
      {operation: 'read', percentile: 99.9, maxMs: 60_000},
      {operation: 'update', percentile: 50, maxMs: 0.001},
    ]
    await writeFile(sla, JSON.stringify({name: 'mixed <&>', targets, maxErrorRate: 0.5}))
    const junit = path.join(dir, 'reports', 'junit.xml')
    const markdown = path.join(dir, 'reports', 'summary', 'bench.md')
    const result = await runDyn([...runFlags, '--sla', sla, '--junit', junit, '--markdown', markdown], {timeoutMs: benchTimeoutMs})
    assert.equal(result.code, 1, result.stderr + result.stdout)
    assert.match(result.stdout, /^SLA mixed <&>: MISSED$/m)

    const xml = await readFile(junit, 'utf8')
    assert.match(xml, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="dyn bench" tests="3" failures="1" errors="0" skipped="0"/)
    assert.match(xml, /<testsuite name="dyn bench: SLA mixed &lt;&amp;&gt;" tests="3"/)
    assert.match(xml, /<testcase classname="dyn\.bench\.sla\.mixed &lt;&amp;&gt;" name="read p99\.9 &lt;= 60000 ms" time="0">\n {6}<system-out>measured \d+\.\d+ ms(?: \(thin sample: .*?\))?, limit 60000 ms<\/system-out>/)
    assert.match(xml, /name="update p50 &lt;= 0\.001 ms" time="0">\n {6}<failure type="sla_missed" message="measured \d+\.\d+ ms, over the limit of 0\.001 ms"\/>/)
    assert.match(xml, /name="error rate &lt;= 0\.5" time="0">\n {6}<system-out>measured 0\.00000, limit 0\.5<\/system-out>/)
    assert.match(xml, /<property name="loop" value="closed loop, 4 connections"\/>/)

    const summary = await readFile(markdown, 'utf8')
    assert.match(summary, /^## dyn bench: ❌ SLA missed$/m)
    assert.match(summary, /^Workload \*\*a\*\* \(zipfian\), 200 records of 100 bytes, .*closed loop, 4 connections, 1 s measured after 0 s of warm-up, against 1 node\(s\)\.$/m)
    assert.match(summary, /^\| read \| \d+ \| [\d.]+ \|/m)
    assert.match(summary, /^\| update \| \d+ \| [\d.]+ \|/m)
    assert.match(summary, /^### SLA mixed \\<\\&\\>: ❌ missed$/m)
  })

  it('a saved --json run is a baseline: compared figure by figure within a wide tolerance; against 100× its throughput exit 5, saying by how much', async () => {
    const saved = await runDyn([...runFlags, '--json'], {timeoutMs: benchTimeoutMs})
    assert.equal(saved.code, 0, saved.stderr + saved.stdout)
    const baselineFile = path.join(dir, 'baseline.json')
    await writeFile(baselineFile, saved.stdout)

    // Neither run calibrated: raw units, with the warning on stderr (stdout is the one JSON object).
    // Throughput cannot be more than 100% worse, so within 1000% it never regresses; a 1 s run's
    // tail can, when a neighbour's burst lands in it, so the verdict is checked for consistency.
    const generous = await runDyn([...runFlags, '--baseline', baselineFile, '--max-regression', '1000%', '--regression-metrics', 'throughput,p99,p99.9', '--json'], {timeoutMs: benchTimeoutMs})
    const report = JSON.parse(generous.stdout) as SavedReport
    assert.equal(generous.code, report.regression?.regressed === true ? 5 : 0, generous.stderr + generous.stdout)
    assert.equal(report.ok, report.regression?.regressed !== true)
    assert.equal(report.regression?.unit, 'raw')
    for (const comparison of report.regression?.comparisons ?? []) {
      if (comparison.metric === 'throughput') assert.equal(comparison.regressed, false, `${comparison.operation} throughput within 1000%`)
      assert.equal(comparison.regressed, (comparison.worseBy as number) > 10, `${comparison.operation} ${comparison.metric}: regressed exactly when over the tolerance`)
    }
    assert.equal(report.regression?.maxRegression, 10)
    assert.deepEqual(report.regression?.comparisons.map((cmp) => `${cmp.operation} ${cmp.metric}`).sort(), ['all throughput', 'read p99', 'read p99.9', 'read throughput', 'update p99', 'update p99.9', 'update throughput'])
    for (const comparison of report.regression?.comparisons ?? []) assert.equal(typeof comparison.worseBy, 'number', `${comparison.operation} ${comparison.metric} compared`)
    assert.match(generous.stderr, /warning: compared in raw ms and ops\/s: the baseline and this run were not calibrated/)

    // A baseline with a hundred times the throughput: every throughput is over 90% worse (about 99% unless this run is far faster than the saved one).
    const inflated = JSON.parse(saved.stdout) as SavedReport
    inflated.run.opsPerS *= 100
    for (const op of inflated.run.operations) op.throughputPerS *= 100
    const inflatedFile = path.join(dir, 'inflated.json')
    await writeFile(inflatedFile, JSON.stringify(inflated))
    const junit = path.join(dir, 'regression.xml')
    const markdown = path.join(dir, 'regression.md')
    const regressed = await runDyn([...runFlags, '--baseline', inflatedFile, '--max-regression', '10%', '--junit', junit, '--markdown', markdown], {timeoutMs: benchTimeoutMs})
    assert.equal(regressed.code, 5, regressed.stderr + regressed.stdout)
    assert.match(regressed.stdout, /^against the baseline .*inflated\.json: REGRESSED \(tolerance 10\.0%; unit: raw ms and ops\/s\)$/m)
    assert.match(regressed.stdout, /^ {2}WORSE {2}all throughput: [\d.]+ ops\/s, baseline [\d.e+]+ ops\/s: 9\d\.\d% worse$/m)
    assert.match(regressed.stdout, /^ {2}WORSE {2}read throughput: .*: 9\d\.\d% worse$/m)
    assert.match(regressed.stdout, /^ {2}WORSE {2}update throughput: .*: 9\d\.\d% worse$/m)
    assert.match(regressed.stdout, /^ {2}warning: compared in raw ms and ops\/s/m)
    const xml = await readFile(junit, 'utf8')
    assert.match(xml, /<testsuite name="dyn bench: against the baseline [^"]*inflated\.json" tests="5" failures="(3|4|5)"/)
    assert.match(xml, /name="all throughput" time="0">\n {6}<failure type="regression" message="this run [\d.]+ ops\/s, baseline [\d.e+]+ ops\/s: 9\d\.\d% worse, over the tolerance of 10\.0%"\/>/)
    const summary = await readFile(markdown, 'utf8')
    assert.match(summary, /^## dyn bench: ❌ regressed$/m)
    assert.match(summary, /^\| all throughput \| [\d.]+ ops\/s \| [\d.e+]+ ops\/s \| 9\d\.\d% worse \| ❌ worse \|$/m)
  })

  it('a quorum the node would refuse every request for is refused before the load and the run, in the node\'s words (exit 2)', async () => {
    // N = 2 on a one-node cluster: the node refuses every request (bad_parameter: it cannot place
    // 2 replicas). The bench asks the node's rule first (bench/quorum.ts), so nothing is sent;
    // a run whose every operation fails all the same is bench/failed-run.ts's (unit tests).
    const flags = ['bench', '--node', c.api(0), '--workload', 'a', '--connections', '4', '--duration', '1', '--warmup', '0', '--records', '20', '--n', '2', '--w', '2', '--r', '1', '--json']
    for (const extra of [['--no-load'], []]) {
      const run = await runDyn([...flags, ...extra], {timeoutMs: benchTimeoutMs})
      assert.equal(run.code, 2, run.stderr + run.stdout)
      const refused = JSON.parse(run.stdout) as {ok: boolean; error: string; message: string; run?: unknown}
      assert.deepEqual({ok: refused.ok, error: refused.error, run: refused.run}, {ok: false, error: 'bad_parameter', run: undefined})
      assert.match(refused.message, /^n=2 needs 2 distinct nodes, but 1 member owns partitions now; .*\(127\.0\.0\.1:\d+ would refuse every request of the run so; nothing was loaded\)$/)
    }
  })

  it('a baseline that is not a bench report, is of a failed run, or was run differently, is refused before the run (exit 2)', async () => {
    const notReport = path.join(dir, 'not-a-report.json')
    await writeFile(notReport, JSON.stringify({ok: true, key: 'k'}))
    const different = path.join(dir, 'different.json')
    const config = {workload: 'b', distribution: 'zipfian', records: 200, valueSize: 100, mode: {kind: 'closed', connections: 4}, targetNodes: [c.api(0)], clientDriven: false, clusterArgs: []}
    const latency = {p50Ms: 1, p90Ms: 2, p99Ms: 3, p999Ms: 4, maxMs: 5, meanMs: 1}
    const read = {operation: 'read', count: 10, throughputPerS: 10, latency, errors: {}}
    await writeFile(different, JSON.stringify({ok: true, config, run: {opsPerS: 10, operations: [read]}}))
    // A run set up like this one whose every update failed (as against a cluster that cannot meet its quorum).
    const failed = path.join(dir, 'failed.json')
    const failedUpdate = {operation: 'update', count: 10, throughputPerS: 10, latency, errors: {quorum_unmet: 10}}
    await writeFile(failed, JSON.stringify({ok: true, config: {...config, workload: 'a'}, run: {opsPerS: 20, operations: [read, failedUpdate]}}))
    const interrupted = path.join(dir, 'interrupted.json')
    await writeFile(interrupted, '')
    const cases: Array<[string[], RegExp]> = [
      [['--baseline', failed], /failed\.json is the report of a failed run, not a measurement to compare with: every update failed \(10 quorum_unmet\).*; save a new baseline/],
      [['--baseline', interrupted], /interrupted\.json is empty: a dyn bench --json that was interrupted/],
      [['--baseline', notReport], /not-a-report\.json is not a dyn bench --json report: "config" is missing/],
      [['--baseline', path.join(dir, 'missing.json')], /cannot read the baseline .*missing\.json/],
      [['--baseline', different], /different\.json was run differently.*\(workload: baseline b, this run a\)/],
      [['--baseline', different, '--workload', 'b', '--records', '300'], /records: baseline 200, this run 300/],
      [['--baseline', different, '--workload', 'b', '--max-regression', '0.1'], /--max-regression "0\.1": give a percentage with its % sign/],
      [['--baseline', different, '--workload', 'b', '--regression-metrics', 'p95'], /"p95" is not a figure the report has/],
      [['--junit', path.join(dir, 'no-targets.xml')], /--junit needs something to judge: give --sla FILE .* or --baseline FILE\.json/],
    ]
    // runFlags with a case's own --workload or --records in place of the usual ones.
    const argsFor = (flags: string[]): string[] => {
      const overridden = new Set<string>(flags.filter((flag) => flag === '--workload' || flag === '--records'))
      return [...runFlags.filter((flag, i) => !overridden.has(flag) && !overridden.has(runFlags[i - 1] as string)), ...flags]
    }
    const results = await Promise.all(cases.map(([flags]) => runDyn(argsFor(flags), {timeoutMs: refusalTimeoutMs})))
    for (const [i, result] of results.entries()) {
      const [flags, message] = cases[i] as [string[], RegExp]
      assert.equal(result.code, 2, `dyn bench ${flags.join(' ')}: ${result.stderr}${result.stdout}`)
      assert.match(result.stderr, message)
      assert.match(result.stderr, /\[bad_parameter\]$/m)
      assert.doesNotMatch(result.stderr, /^(loading|running)/m, 'refused before loading or running')
    }
    await assert.rejects(stat(path.join(dir, 'no-targets.xml')), 'nothing written for a refused --junit')
  })
})
