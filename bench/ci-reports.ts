/**
 * The forms a CI system reads: `dyn bench --junit FILE` (JUnit XML, one test case per SLA target,
 * one for the error rate, one per figure compared with a --baseline) and `--markdown FILE` (a
 * summary for a job page, such as GitHub's $GITHUB_STEP_SUMMARY). Pure: a finished report (and
 * its regression check) in, text out; the command writes the files.
 *
 * JUnit semantics, chosen so that a CI page never shows green where the exit code is not 0:
 * - a target met passes; a target missed is a `<failure>` whose message has the measured figure
 *   and the limit;
 * - a target that was not measured (no operation of its kind ran, or no operation at all for the
 *   error rate) is an `<error>`: the SLA counts it as missed (exit 1), because it could not be
 *   checked, which is not the same as a measured miss and is not a pass either (`<skipped>`
 *   shows as neither failed nor passed in most CI systems);
 * - a baseline figure that got worse than the tolerance is a `<failure>`; one that could not be
 *   compared (an operation only one of the runs had) is `<skipped>`, since the regression check
 *   does not fail on it either.
 */

import type {KindSummary} from './recorder.js'
import {ceilingProtocol, figure} from './report.js'
import type {BenchReport} from './runner.js'
import {isErrorRate, limitText, measuredText} from './sla.js'
import type {TargetVerdict} from './sla.js'
import {changeText, comparisonName, describeLoop, figureText, percent, unitText} from './baseline.js'
import type {FigureComparison, RegressionReport} from './baseline.js'
import {quorumText} from './quorum.js'

/** What the CI reports read: the report `--json` prints (histograms aside). */
export type CiReport = Omit<BenchReport, 'histograms'>

/**
 * Characters XML 1.0 cannot carry even escaped: C0 controls other than tab, newline and carriage
 * return, lone surrogates, U+FFFE and U+FFFF. They are replaced by U+FFFD so that a stray byte in
 * an SLA's name never makes the whole file unreadable to the CI.
 */
const xmlForbidden = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/** Text safe inside an XML attribute value (double-quoted) or element. */
export function escapeXml(text: string): string {
  return text
    .replace(xmlForbidden, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
}

/** `name="value"` pairs, escaped. */
function attributes(pairs: Record<string, string | number>): string {
  return Object.entries(pairs)
    .map(([name, value]) => ` ${name}="${escapeXml(String(value))}"`)
    .join('')
}

/** Why a target has no measured figure, for the JUnit error and the Markdown table. */
function notMeasuredReason(verdict: TargetVerdict): string {
  return isErrorRate(verdict)
    ? 'not measured: the run completed no operation, so the error rate could not be checked (the SLA counts it as missed)'
    : 'not measured: the run recorded no operation of this kind, so the target could not be checked (the SLA counts it as missed)'
}

interface TestCase {
  readonly name: string
  readonly className: string
  readonly outcome: {readonly kind: 'passed'} | {readonly kind: 'failure' | 'error' | 'skipped'; readonly type: string; readonly message: string}
  readonly output?: string
}

function slaCases(report: CiReport): TestCase[] {
  if (report.sla === undefined) return []
  return report.sla.verdicts.map((verdict): TestCase => {
    const className = `dyn.bench.sla.${report.sla?.name ?? ''}`
    if (verdict.measured === null) return {name: verdict.target, className, outcome: {kind: 'error', type: 'not_measured', message: notMeasuredReason(verdict)}}
    if (verdict.met) return {name: verdict.target, className, outcome: {kind: 'passed'}, output: `measured ${measuredText(verdict)}, limit ${limitText(verdict)}`}
    return {name: verdict.target, className, outcome: {kind: 'failure', type: 'sla_missed', message: `measured ${measuredText(verdict)}, over the limit of ${limitText(verdict)}`}}
  })
}

function regressionCase(comparison: FigureComparison, regression: RegressionReport): TestCase {
  const name = comparisonName(comparison)
  const className = 'dyn.bench.regression'
  const figures = `this run ${figureText(comparison.current, comparison.currentRaw, comparison.unit, comparison.metric)}, baseline ${figureText(comparison.baseline, comparison.baselineRaw, comparison.unit, comparison.metric)}`
  if (comparison.worseBy === null) return {name, className, outcome: {kind: 'skipped', type: 'not_compared', message: comparison.note ?? 'not compared'}}
  if (!comparison.regressed) return {name, className, outcome: {kind: 'passed'}, output: `${figures}: ${changeText(comparison)}`}
  return {name, className, outcome: {kind: 'failure', type: 'regression', message: `${figures}: ${changeText(comparison)}, over the tolerance of ${percent(regression.maxRegression)}`}}
}

function testCaseXml(testCase: TestCase): string {
  const open = `    <testcase${attributes({classname: testCase.className, name: testCase.name, time: 0})}`
  const output = testCase.output === undefined ? '' : `      <system-out>${escapeXml(testCase.output)}</system-out>\n`
  if (testCase.outcome.kind === 'passed') return output === '' ? `${open}/>` : `${open}>\n${output}    </testcase>`
  const {kind, type, message} = testCase.outcome
  return `${open}>\n      <${kind}${attributes({type, message})}/>\n${output}    </testcase>`
}

function testSuiteXml(name: string, timeS: number, properties: Record<string, string | number>, cases: readonly TestCase[]): string {
  const count = (kind: string): number => cases.filter((c) => c.outcome.kind === kind).length
  const header = `  <testsuite${attributes({name, tests: cases.length, failures: count('failure'), errors: count('error'), skipped: count('skipped'), time: timeS.toFixed(3)})}>`
  const props = Object.entries(properties).map(([property, value]) => `      <property${attributes({name: property, value})}/>`)
  return [header, '    <properties>', ...props, '    </properties>', ...cases.map(testCaseXml), '  </testsuite>'].join('\n')
}

/** The run's parameters and headline figures, as JUnit properties (CI systems show them beside the cases). */
function runProperties(report: CiReport): Record<string, string | number> {
  const c = report.config
  return {
    workload: c.workload,
    distribution: c.distribution,
    loop: describeLoop(c.mode),
    records: c.records,
    valueSizeBytes: c.valueSize,
    nodes: c.targetNodes.length,
    transport: c.https === true ? 'HTTPS' : 'HTTP',
    durationS: c.durationS,
    opsPerS: Number(report.run.opsPerS.toFixed(2)),
    ...(report.calibration === undefined ? {} : {calibrationOpsPerS: Number(report.calibration.opsPerS.toFixed(2)), calibrationRatio: Number(report.calibration.ratio.toFixed(4)), calibrationTransport: ceilingProtocol(report.calibration)}),
  }
}

/**
 * The JUnit XML file. It needs something to judge (an SLA, a baseline or both); the command
 * refuses --junit without either before the run, since a report with no test case says nothing.
 */
export function junitReport(report: CiReport, regression: RegressionReport | undefined): string {
  const suites: string[] = []
  const timeS = report.run.elapsedS
  const totals = {tests: 0, failures: 0, errors: 0, skipped: 0}
  const add = (name: string, properties: Record<string, string | number>, cases: TestCase[]): void => {
    suites.push(testSuiteXml(name, timeS, properties, cases))
    totals.tests += cases.length
    totals.failures += cases.filter((c) => c.outcome.kind === 'failure').length
    totals.errors += cases.filter((c) => c.outcome.kind === 'error').length
    totals.skipped += cases.filter((c) => c.outcome.kind === 'skipped').length
  }
  if (report.sla !== undefined) add(`dyn bench: SLA ${report.sla.name}`, runProperties(report), slaCases(report))
  if (regression !== undefined) {
    const properties = {...runProperties(report), baseline: regression.baseline, unit: regression.unit, maxRegression: percent(regression.maxRegression), metrics: regression.metrics.join(',')}
    add(`dyn bench: against the baseline ${regression.baseline}`, properties, regression.comparisons.map((c) => regressionCase(c, regression)))
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites${attributes({name: 'dyn bench', ...totals, time: timeS.toFixed(3)})}>\n${suites.join('\n')}\n</testsuites>\n`
}

/**
 * Text safe in a Markdown table cell: every character CommonMark or GitHub would read as markup
 * (emphasis, links, code, HTML, the cell separator) is backslash-escaped, and a line break,
 * which would end the table, becomes a space.
 */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/[\\`*_[\]<>|#~!&]/g, (character) => `\\${character}`)
}

function markdownRow(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`
}

function errorsText(op: KindSummary): string {
  const parts = [...Object.entries(op.errors).map(([kind, count]) => `${kind} ${count}`), ...(op.shed > 0 ? [`shed ${op.shed}`] : []), ...(op.throttled ? [`throttled ${op.throttled}`] : [])]
  return parts.length === 0 ? 'none' : parts.join(', ')
}

function operationTableMarkdown(operations: readonly KindSummary[]): string[] {
  const lines = [markdownRow(['operation', 'count', 'ops/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'errors']), markdownRow(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---'])]
  for (const op of operations) {
    const l = op.latency
    lines.push(markdownRow([escapeMarkdown(op.operation), String(op.count), figure(op.throughputPerS), ...[l.p50Ms, l.p90Ms, l.p99Ms, l.p999Ms, l.maxMs].map(figure), escapeMarkdown(errorsText(op))]))
  }
  return lines
}

function verdictMark(met: boolean): string {
  return met ? '✅ met' : '❌ missed'
}

function slaMarkdown(sla: NonNullable<CiReport['sla']>): string[] {
  const lines = [`### SLA ${escapeMarkdown(sla.name)}: ${verdictMark(sla.met)}`, '', markdownRow(['target', 'measured', 'limit', 'verdict']), markdownRow(['---', '---:', '---:', '---'])]
  for (const v of sla.verdicts) {
    const verdict = v.measured === null ? '❌ not measured' : verdictMark(v.met)
    lines.push(markdownRow([escapeMarkdown(v.target), measuredText(v), limitText(v), verdict]))
  }
  return lines
}

function regressionMarkdown(regression: RegressionReport): string[] {
  const lines = [
    `### Against the baseline ${escapeMarkdown(regression.baseline)}: ${regression.regressed ? '❌ regressed' : '✅ no regression'}`,
    '',
    `Tolerance ${percent(regression.maxRegression)}; unit: ${escapeMarkdown(unitText(regression))}.`,
    ...regression.warnings.map((warning) => `\n> **Warning:** ${escapeMarkdown(warning)}`),
    '',
    markdownRow(['figure', 'this run', 'baseline', 'change', 'verdict']),
    markdownRow(['---', '---:', '---:', '---:', '---']),
  ]
  for (const c of regression.comparisons) {
    const verdict = c.worseBy === null ? 'not compared' : c.regressed ? '❌ worse' : '✅ ok'
    const change = c.worseBy === null ? '' : changeText(c)
    lines.push(markdownRow([escapeMarkdown(comparisonName(c)), escapeMarkdown(figureText(c.current, c.currentRaw, c.unit, c.metric)), escapeMarkdown(figureText(c.baseline, c.baselineRaw, c.unit, c.metric)), change, escapeMarkdown(c.note === undefined ? verdict : `${verdict} (${c.note})`)]))
  }
  return lines
}

/** The Markdown summary: parameters, the operation table, the SLA, the calibration and the baseline comparison. */
export function markdownSummary(report: CiReport, regression: RegressionReport | undefined): string {
  const c = report.config
  const quorum = quorumText(c, c.quorum)
  const verdicts = [report.sla === undefined ? undefined : `SLA ${report.sla.met ? 'met' : 'missed'}`, regression === undefined ? undefined : regression.regressed ? 'regressed' : 'no regression'].filter((v) => v !== undefined)
  const failed = report.sla?.met === false || regression?.regressed === true
  const heading = verdicts.length === 0 ? '## dyn bench' : `## dyn bench: ${failed ? '❌' : '✅'} ${verdicts.join(', ')}`
  const routing = c.mode.kind === 'open' ? (c.clientDriven ? ', client-driven' : ', server-driven') : ''
  const lines = [
    heading,
    '',
    `Workload **${escapeMarkdown(c.workload)}** (${escapeMarkdown(c.distribution)}), ${c.records} records of ${c.valueSize} bytes, ${quorum}, ${describeLoop(c.mode)}${routing}, ${c.durationS} s measured after ${c.warmupS} s of warm-up, against ${c.targetNodes.length} node(s)${c.https === true ? ' over HTTPS' : ''}.`,
    '',
    `Run: ${report.run.opsPerS.toFixed(1)} ops/s over ${report.run.elapsedS.toFixed(1)} s (${report.run.httpRequests} HTTP requests${report.run.transportErrors.timeout + report.run.transportErrors.connection > 0 ? `, ${report.run.transportErrors.timeout} timeouts, ${report.run.transportErrors.connection} connection errors` : ''}${report.run.notStarted ? `, ${report.run.notStarted} operations not started` : ''}).`,
  ]
  if (report.calibration !== undefined) {
    // In an open loop the throughput is the offered rate, so the ratio says how hard the machine
    // was pushed, not how much it can take (as in the text report).
    const what = c.mode.kind === 'closed' ? 'Throughput' : 'Offered load'
    lines.push('', `Calibration: ${what} was ${percent(report.calibration.ratio)} of this machine's ${ceilingProtocol(report.calibration)} ceiling (${report.run.opsPerS.toFixed(0)} / ${report.calibration.opsPerS.toFixed(0)} ops/s, the same driver against a trivial server in this run).`)
  }
  lines.push('', ...operationTableMarkdown(report.run.operations), '', 'Latencies in ms, of the operations the cluster accepted.')
  if (report.sla !== undefined) lines.push('', ...slaMarkdown(report.sla))
  if (regression !== undefined) lines.push('', ...regressionMarkdown(regression))
  return `${lines.join('\n')}\n`
}
