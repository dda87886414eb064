/**
 * Regressions against a saved run: `dyn bench --baseline FILE.json` compares this run with the
 * `--json` report of an earlier one, figure by figure (throughput and chosen latency percentiles,
 * per operation), and says which got worse by more than a tolerance, and by how much.
 *
 * Raw figures on a shared machine drift between runs with the neighbours' load, so when both runs
 * were calibrated (`--calibrate`: the same driver against a trivial HTTP server, just before the
 * run) the figures are compared in units of that calibration instead: a closed loop's throughput
 * as a share of the calibrated ceiling, every latency as a multiple of the calibration's median
 * latency of the same operation. bench/README.md ("Regressions against a baseline") says why
 * those units, and what they cannot cancel. Everything here is pure: report objects in, verdicts and text out.
 */

import {readFile} from 'node:fs/promises'
import type {KindSummary, LatencySummary} from './recorder.js'
import {unmeasuredRun} from './failed-run.js'
import {figure} from './report.js'
import {samplesNeeded} from './sla.js'
import {openLoopConnectionsPerNodeDefault} from './open-loop.js'
import {runQuorum, startedClusterDefaults} from './quorum.js'
import type {RunQuorum} from './quorum.js'
import type {BenchConfig, BenchReport, PhaseResult} from './runner.js'

/** The figures a regression check can compare; each is in every --json report, per operation. */
export const regressionMetricNames = ['throughput', 'p50', 'p90', 'p99', 'p99.9', 'max', 'mean'] as const
export type RegressionMetric = (typeof regressionMetricNames)[number]
type LatencyMetric = Exclude<RegressionMetric, 'throughput'>

/** Throughput and the paper's percentile: what a change most often costs, and what Dynamo's SLAs name. */
export const regressionMetricsDefault: readonly RegressionMetric[] = ['throughput', 'p99.9']
/**
 * 10%: a change a user would notice, and above the spread of repeated runs on a quiet, dedicated
 * runner. Not above the spread on a shared machine: there, short runs spread by tens of percent
 * in either unit (bench/README.md, "Regressions against a baseline"), so measure the spread first.
 */
export const maxRegressionDefault = 0.1
/** A tolerance above 1000% would let a figure get eleven times worse: that is no check. */
const maxRegressionLimit = 10

/**
 * The percentile each latency figure is, for the sample rule below; max and mean rest on every
 * sample and have no such limit.
 */
const percentileOf: Partial<Record<LatencyMetric, number>> = {p50: 50, p90: 90, p99: 99, 'p99.9': 99.9}

const latencyFieldOf: Record<LatencyMetric, keyof LatencySummary> = {p50: 'p50Ms', p90: 'p90Ms', p99: 'p99Ms', 'p99.9': 'p999Ms', max: 'maxMs', mean: 'meanMs'}

/** What of a report a comparison reads: the run's setup, its figures, its calibration and its SLA verdict. */
export type ComparedReport = Pick<BenchReport, 'config' | 'run' | 'calibration'> & Partial<Pick<BenchReport, 'sla'>>

/**
 * The unit a figure was compared in. `share of ceiling`: ops/s over the calibration's ops/s;
 * `calibration medians`: ms over the calibration's median (p50) ms of the same operation.
 */
export type FigureUnit = 'ops/s' | 'ms' | 'share of ceiling' | 'calibration medians'

export interface FigureComparison {
  /** An operation kind, or `all` for the whole run's throughput. */
  readonly operation: string
  readonly metric: RegressionMetric
  readonly unit: FigureUnit
  /** The figures in `unit`; null when the run (or the baseline) had no such operation. */
  readonly baseline: number | null
  readonly current: number | null
  /** The same figures in ops/s or ms, as measured. */
  readonly baselineRaw: number | null
  readonly currentRaw: number | null
  /** How much worse this run is, as a fraction (0.25: 25% worse; negative: better); null when not compared. */
  readonly worseBy: number | null
  readonly regressed: boolean
  /** Why the figure was not compared, or why it was compared raw in a calibrated comparison. */
  readonly note?: string
}

export interface RegressionReport {
  /** The baseline file as given. */
  readonly baseline: string
  /** `calibrated` when both runs were calibrated (figures in their calibrations' units where sound), else `raw`. */
  readonly unit: 'calibrated' | 'raw'
  /** The tolerance, a fraction (0.1: a figure may be 10% worse). */
  readonly maxRegression: number
  readonly metrics: readonly RegressionMetric[]
  readonly regressed: boolean
  readonly warnings: readonly string[]
  readonly comparisons: readonly FigureComparison[]
}

type Parsed<T> = {ok: true; value: T} | {ok: false; message: string}

/** `--max-regression`: a percentage with its sign (`10%`, `2.5%`), so that 0.1 and 10 are never confused. */
export function parseMaxRegression(text: string): Parsed<number> {
  const match = /^\s*(-?)\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(text)
  // A negative tolerance is written right, with its sign; it is the value that cannot be: a
  // figure would have to get better to pass.
  if (match?.[1] === '-' && Number(match[2]) > 0) return {ok: false, message: `--max-regression ${text.trim()}: the tolerance must be at least 0% (0%: any figure worse than the baseline's is a regression)`}
  if (match === null) return {ok: false, message: `--max-regression "${text}": give a percentage with its % sign, such as 10% or 2.5%`}
  const fraction = Number(match[2]) / 100
  if (fraction > maxRegressionLimit) return {ok: false, message: `--max-regression ${text}: at most ${maxRegressionLimit * 100}% (a figure ${maxRegressionLimit + 1} times worse)`}
  return {ok: true, value: fraction}
}

/** `--regression-metrics throughput,p99,p99.9`: names from regressionMetricNames, each once. */
export function parseRegressionMetrics(text: string): Parsed<RegressionMetric[]> {
  const names = text.split(',').map((name) => name.trim().toLowerCase())
  const metrics: RegressionMetric[] = []
  for (const name of names) {
    if (!(regressionMetricNames as readonly string[]).includes(name)) {
      return {ok: false, message: `--regression-metrics: "${name}" is not a figure the report has; name some of ${regressionMetricNames.join(', ')}`}
    }
    if (!metrics.includes(name as RegressionMetric)) metrics.push(name as RegressionMetric)
  }
  return {ok: true, value: metrics}
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Where an operation list breaks the report's shape, or undefined when it holds. */
function operationsProblem(operations: unknown, where: string): string | undefined {
  if (!Array.isArray(operations)) return `"${where}" is not a list`
  for (const [i, op] of operations.entries()) {
    if (!isRecord(op) || typeof op.operation !== 'string' || typeof op.count !== 'number' || typeof op.throughputPerS !== 'number') return `${where}[${i}] has no operation, count and throughputPerS`
    const latency = op.latency
    for (const field of Object.values(latencyFieldOf)) {
      if (!isRecord(latency) || typeof latency[field] !== 'number') return `${where}[${i}].latency.${field} is missing`
    }
  }
  return undefined
}

/** Where a config breaks the report's shape (the fields the comparability check reads), or undefined. */
function configProblem(config: Record<string, unknown>): string | undefined {
  for (const field of ['workload', 'distribution'] as const) if (typeof config[field] !== 'string') return `"config.${field}" is missing`
  for (const field of ['records', 'valueSize'] as const) if (typeof config[field] !== 'number') return `"config.${field}" is missing`
  for (const field of ['n', 'r', 'w', 'dw'] as const) if (config[field] !== undefined && typeof config[field] !== 'number') return `"config.${field}" is not a number`
  const mode = config.mode
  const modeValid = isRecord(mode) && ((mode.kind === 'closed' && typeof mode.connections === 'number') || (mode.kind === 'open' && typeof mode.ratePerS === 'number'))
  if (!modeValid) return '"config.mode" is neither a closed loop with connections nor an open loop with ratePerS'
  if (!Array.isArray(config.targetNodes)) return '"config.targetNodes" is missing'
  const quorum = config.quorum
  if (quorum !== undefined && !(isRecord(quorum) && ['n', 'r', 'w', 'dw'].every((field) => typeof quorum[field] === 'number'))) return '"config.quorum" has no numbers n, r, w and dw'
  return undefined
}

/**
 * Why a report that has the right shape is still no measurement to compare with, or undefined
 * when it is one. A baseline sets what "no worse" means, so its figures must be those of the
 * experiment its setup names:
 * - a run that accepted no operation (none sent, or every one shed) has no figure at all, and
 *   every comparison with it would be skipped, passing any run;
 * - an operation kind whose every request failed measured how fast the cluster says no (a
 *   quorum_unmet answer is quick), not how fast it serves;
 * - a fault that was not applied or not reverted as planned leaves the run another experiment
 *   than the one its `--fault` flags name (that run exited 1).
 * A run with some failures, or one that missed its SLA, measured what it set out to and is
 * accepted (its SLA verdict is a judgement of valid figures; compareWithBaseline warns of it).
 */
function failedRunProblem(run: {operations: readonly KindSummary[]}, faults: unknown): string | undefined {
  const unmeasured = unmeasuredRun(run)
  if (unmeasured !== undefined) return unmeasured.nothingAccepted ? unmeasured.problem : `${unmeasured.problem}: its figures measure failures, not the cluster serving`
  if (Array.isArray(faults)) {
    const undone = faults.filter((fault) => isRecord(fault) && typeof fault.problem === 'string')
    if (undone.length > 0) {
      return `its fault ${undone.map((fault) => `${String(fault.spec)} was not carried out as planned (${String(fault.problem)})`).join('; ')}, so the run is not the experiment its --fault flags name`
    }
  }
  return undefined
}

/**
 * A baseline file's text, checked to be what `dyn bench --json` prints for a finished run that
 * measured something: the parts a comparison reads must all be there, so that a wrong file fails
 * before the run starts and never halfway through a comparison, and a failed run (failedRunProblem)
 * is refused rather than held up as the figures to match.
 */
export function parseBaseline(text: string, source: string): Parsed<ComparedReport> {
  const save = 'save one with dyn bench --json > FILE'
  const saveNew = 'save a new baseline from a successful run (dyn bench --json > FILE) and compare with that'
  // A bench killed (or interrupted, before dyn said so in JSON) prints no report, so
  // `--json > FILE` leaves FILE empty.
  if (text.trim() === '') {
    return {ok: false, message: `the baseline ${source} is empty: a dyn bench --json that was interrupted (Ctrl-C) by a dyn older than its "interrupted" answer, or killed, prints no report; ${saveNew}`}
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (error) {
    return {ok: false, message: `the baseline ${source} is not JSON (${(error as Error).message}); ${save}`}
  }
  const fail = (what: string): {ok: false; message: string} => ({ok: false, message: `the baseline ${source} is not a dyn bench --json report: ${what}; ${save}`})
  if (!isRecord(raw)) return fail('expected an object')
  // An interrupted --json run answers so, with no report: said apart, as the empty file was.
  if (raw.ok === false && raw.error === 'interrupted') {
    return {ok: false, message: `the baseline ${source} is the answer of a dyn bench --json that was interrupted (${String(raw.signal ?? 'Ctrl-C')} while ${String(raw.phase ?? 'running')}) before its report: it holds no figures to compare with; ${saveNew}`}
  }
  if (raw.ok === false && typeof raw.error === 'string') {
    return {ok: false, message: `the baseline ${source} is the answer of a dyn bench that failed (${raw.error}: ${String(raw.message)}), not a run to compare with; ${saveNew}`}
  }
  if (typeof raw.format === 'string' && isRecord(raw.histograms)) return fail('it is an --hdr-out histogram file')
  if (!isRecord(raw.config)) return fail('"config" is missing')
  if (!isRecord(raw.run)) return fail('"run" is missing')
  const problem =
    configProblem(raw.config) ??
    (typeof raw.run.opsPerS === 'number' ? undefined : '"run.opsPerS" is missing') ??
    operationsProblem(raw.run.operations, 'run.operations') ??
    (raw.calibration === undefined
      ? undefined
      : !isRecord(raw.calibration) || typeof raw.calibration.opsPerS !== 'number'
        ? '"calibration.opsPerS" is missing'
        : operationsProblem(raw.calibration.operations, 'calibration.operations')) ??
    (raw.sla === undefined || (isRecord(raw.sla) && typeof raw.sla.met === 'boolean' && Array.isArray(raw.sla.verdicts)) ? undefined : '"sla" has no met and verdicts')
  if (problem !== undefined) return fail(problem)
  const report = raw as unknown as ComparedReport
  const failed = failedRunProblem(report.run, raw.faults)
  if (failed !== undefined) return {ok: false, message: `the baseline ${source} is the report of a failed run, not a measurement to compare with: ${failed}; ${saveNew}`}
  return {ok: true, value: report}
}

export async function loadBaseline(file: string): Promise<Parsed<ComparedReport>> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    return {ok: false, message: `cannot read the baseline ${file}: ${(error as Error).message}`}
  }
  return parseBaseline(text, file)
}

/** `closed loop, 50 connections` or `open loop at 500 ops/s`. */
export function describeLoop(mode: BenchConfig['mode']): string {
  return mode.kind === 'closed' ? `closed loop, ${mode.connections} connections` : `open loop at ${mode.ratePerS} ops/s`
}

/** The parts of a run's setup that change what its figures mean (the run's length and seed do not; an open loop's warm-up does). */
export type RunSetup = Pick<BenchConfig, 'mode' | 'records' | 'valueSize' | 'n' | 'r' | 'w' | 'dw' | 'connectionsPerNode' | 'faultDurationS' | 'clientThrottle' | 'warmupS'> &
  Partial<Pick<BenchConfig, 'clientDriven' | 'clusterArgs'>> & {
    // Strings, not the config's unions: a saved report may come from another version of dyn.
    readonly workload: string
    readonly distribution: string
    readonly nodeCount: number
    readonly faults?: ReadonlyArray<{readonly spec: string}>
    /** Reached over HTTPS; absent: plain HTTP. */
    readonly https?: boolean
    /** The quorum the requests ran with, defaults filled in (bench/quorum.ts); absent when not known. */
    readonly quorum?: RunQuorum
  }

/**
 * The setup of a run about to start: its nodes are those given, or the cluster it will start;
 * over HTTPS when the given nodes are reached with TLS or the cluster is started with it.
 */
export function setupOfConfig(config: BenchConfig, quorum?: RunQuorum): RunSetup {
  const {tls, startTls, ...setup} = config
  return {
    ...setup,
    nodeCount: config.nodes.length > 0 ? config.nodes.length : config.startNodes,
    ...(tls === undefined && startTls === undefined ? {} : {https: true}),
    ...(quorum === undefined ? {} : {quorum}),
  }
}

/**
 * A saved report's setup. Its quorum is the one it recorded; a report from before dyn recorded
 * it is known still when the bench started its cluster (`nodes` empty), which it made with dyn's
 * creation defaults, as now; of a cluster given with --node, nothing says what defaults it had.
 */
export function setupOfReport(report: ComparedReport): RunSetup {
  const {config} = report
  const startedCluster = Array.isArray(config.nodes) && config.nodes.length === 0
  const quorum = config.quorum ?? (startedCluster ? runQuorum(config, startedClusterDefaults(config.targetNodes.length)) : undefined)
  return {...config, nodeCount: config.targetNodes.length, ...(quorum === undefined ? {} : {quorum})}
}

/**
 * How two setups differ, one `what: baseline X, this run Y` each; empty when comparable. A
 * latency at 500 ops/s says nothing about one at 1,000, nor a 3-node cluster's about a 5-node
 * one's, so any difference here makes the figures incomparable.
 */
export function setupDifferences(baseline: RunSetup, current: RunSetup): string[] {
  const quorum = (value: number | undefined): string => (value === undefined ? 'default' : String(value))
  const effective = baseline.quorum !== undefined && current.quorum !== undefined
  const aspects: Array<[string, (setup: RunSetup) => string]> = [
    ['workload', (s) => s.workload],
    ['key distribution', (s) => s.distribution],
    ['loop', (s) => describeLoop(s.mode)],
    ['records', (s) => String(s.records)],
    ['value size', (s) => `${s.valueSize} bytes`],
    // The values the requests ran with when both runs' are known, so that a run left to the
    // cluster's defaults compares with one that gave the same values; else the flags as given.
    ['quorum', (s) => (effective ? effectiveQuorumText(s.quorum as RunQuorum) : `n=${quorum(s.n)} r=${quorum(s.r)} w=${quorum(s.w)} dw=${quorum(s.dw)}`)],
    ['routing', (s) => (s.clientDriven === true ? 'client-driven' : 'server-driven')],
    ['nodes', (s) => String(s.nodeCount)],
    // TLS costs every request its encryption: a figure over HTTPS is another experiment.
    ['transport', (s) => (s.https === true ? 'HTTPS' : 'plain HTTP')],
    ['cluster flags', (s) => (s.clusterArgs === undefined || s.clusterArgs.length === 0 ? 'none' : s.clusterArgs.join(' '))],
    // A run through a fault is another experiment than one without, or with another fault.
    ['faults', (s) => (s.faults === undefined || s.faults.length === 0 ? 'none' : `${s.faults.map((fault) => fault.spec).join(' ')} for ${s.faultDurationS ?? 'a third of the run in'} s each`)],
  ]
  // Aspects of an open loop alone, compared when both runs are open loops: against a closed loop
  // the loop's own line already says what differs.
  const openLoopAspects: Array<[string, (setup: RunSetup) => string]> = [
    // An open loop times each operation from when it was due: a shorter warm-up leaves a slow
    // start in its first measured seconds (bench/warmup.ts), so it measures another thing. A
    // closed loop only slows down, and its warm-up may differ.
    ['warm-up', (s) => `${s.warmupS} s`],
    ['connections per node', (s) => String(s.connectionsPerNode ?? openLoopConnectionsPerNodeDefault)],
    // Past capacity a throttled open loop sends a shedding node a fraction of what it is offered.
    // A report that does not say is from before the throttle, which sent everything.
    ['client throttle', (s) => (s.clientThrottle === true ? 'on' : 'off (--no-client-throttle)')],
  ]
  if (baseline.mode.kind === 'open' && current.mode.kind === 'open') aspects.push(...openLoopAspects)
  return aspects.flatMap(([what, describe]) => (describe(baseline) === describe(current) ? [] : [`${what}: baseline ${describe(baseline)}, this run ${describe(current)}`]))
}

/** `n=3 r=2 w=2 dw=0 in effect`: the quorum requests ran with, defaults filled in. */
function effectiveQuorumText(quorum: RunQuorum): string {
  return `n=${quorum.n} r=${quorum.r} w=${quorum.w} dw=${quorum.dw} in effect`
}

/** The bad_parameter message for a baseline that cannot be compared with this run, or undefined. */
export function incomparableMessage(source: string, baseline: RunSetup, current: RunSetup): string | undefined {
  const differences = setupDifferences(baseline, current)
  if (differences.length === 0) return undefined
  // A "default" against an explicit value may be the same quorum; say why it could not be told.
  const unknown = differences.some((difference) => difference.startsWith('quorum:') && difference.includes('default')) && baseline.quorum === undefined
  const why = unknown ? ` (the baseline does not record the quorum its cluster's defaults gave: it ran against --node with a dyn from before reports did, so "default" is compared as written)` : ''
  return `the baseline ${source} was run differently, so its figures do not compare with this run's (${differences.join('; ')})${why}; run with the baseline's parameters, or save a new baseline`
}

interface Figure {
  readonly value: number
  readonly raw: number
  readonly unit: FigureUnit
}

/**
 * One figure of one operation (`all`: the whole run, throughput only) in the comparison's unit.
 * Calibrated units are used only where they are sound: an open loop's throughput is the rate it
 * was offered, which a faster machine does not raise, so it stays in ops/s; a latency whose
 * calibration has no figure of the same operation stays in ms.
 *
 * Every latency, whatever its percentile, is divided by the calibration's *median* of the same
 * operation, not by the calibration's own figure at that percentile: the median rests on half
 * the calibration's samples and follows how fast the machine was serving then, while the
 * calibration's p99.9 rests on a handful of samples (in a 1 s calibration, on its slowest one)
 * and its stalls are not the run's stalls, so dividing by it adds noise instead of removing it.
 */
function figureOf(report: ComparedReport, operation: string, metric: RegressionMetric, calibrated: boolean): Figure | undefined {
  const calibration: (PhaseResult & {ratio: number}) | undefined = calibrated ? report.calibration : undefined
  const op: KindSummary | undefined = report.run.operations.find((o) => o.operation === operation)
  if (metric === 'throughput') {
    const raw = operation === 'all' ? report.run.opsPerS : op?.throughputPerS
    if (raw === undefined) return undefined
    if (calibration === undefined || report.config.mode.kind === 'open' || calibration.opsPerS <= 0) return {value: raw, raw, unit: 'ops/s'}
    return {value: raw / calibration.opsPerS, raw, unit: 'share of ceiling'}
  }
  if (op === undefined) return undefined
  const field = latencyFieldOf[metric]
  const raw = op.latency[field]
  const calibrationMedianMs = calibration?.operations.find((o) => o.operation === operation)?.latency.p50Ms
  if (calibrationMedianMs === undefined || calibrationMedianMs <= 0) return {value: raw, raw, unit: 'ms'}
  return {value: raw / calibrationMedianMs, raw, unit: 'calibration medians'}
}

function compareFigure(baselineReport: ComparedReport, currentReport: ComparedReport, operation: string, metric: RegressionMetric, calibrated: boolean, maxRegression: number): FigureComparison {
  let baseline = figureOf(baselineReport, operation, metric, calibrated)
  let current = figureOf(currentReport, operation, metric, calibrated)
  let note: string | undefined
  // Both figures must be in one unit; when only one calibration has this operation, both go raw.
  if (baseline !== undefined && current !== undefined && baseline.unit !== current.unit) {
    baseline = {value: baseline.raw, raw: baseline.raw, unit: metric === 'throughput' ? 'ops/s' : 'ms'}
    current = {value: current.raw, raw: current.raw, unit: baseline.unit}
  }
  const unit = baseline?.unit ?? current?.unit ?? (metric === 'throughput' ? 'ops/s' : 'ms')
  if (calibrated && (unit === 'ops/s' || unit === 'ms')) {
    if (metric !== 'throughput') note = 'compared in ms: a calibration has no figure for this operation'
    else if (currentReport.config.mode.kind === 'open') note = "compared in ops/s: an open loop's throughput is its offered rate, which the machine's speed does not scale"
    else note = 'compared in ops/s: a calibration measured no throughput'
  }
  let worseBy: number | null = null
  if (baseline === undefined || current === undefined) {
    note = `not compared: ${baseline === undefined ? 'the baseline' : 'this run'} has no ${operation} operation`
  } else if (baseline.value <= 0) {
    note = `not compared: the baseline's figure is 0`
  } else {
    // Worse is less throughput, or more latency; either way a fraction of the baseline's figure.
    worseBy = metric === 'throughput' ? (baseline.value - current.value) / baseline.value : (current.value - baseline.value) / baseline.value
  }
  return {
    operation,
    metric,
    unit,
    baseline: baseline?.value ?? null,
    current: current?.value ?? null,
    baselineRaw: baseline?.raw ?? null,
    currentRaw: current?.raw ?? null,
    worseBy,
    regressed: worseBy !== null && worseBy > maxRegression,
    ...(note === undefined ? {} : {note}),
  }
}

/**
 * Compare a finished run with its baseline (whose setup was checked comparable before the run).
 * Throughput is compared for the whole run and per operation; latencies per operation.
 */
export function compareWithBaseline(
  baselineReport: ComparedReport,
  currentReport: ComparedReport,
  options: {readonly source: string; readonly maxRegression: number; readonly metrics: readonly RegressionMetric[]},
): RegressionReport {
  const calibrated = baselineReport.calibration !== undefined && currentReport.calibration !== undefined
  const warnings: string[] = []
  if (!calibrated) {
    const lacking = [baselineReport.calibration === undefined ? 'the baseline' : undefined, currentReport.calibration === undefined ? 'this run' : undefined].filter((what) => what !== undefined)
    warnings.push(`compared in raw ms and ops/s: ${lacking.join(' and ')} ${lacking.length > 1 ? 'were' : 'was'} not calibrated (--calibrate), so the machine's own drift between the runs counts as a change`)
  }
  // A missed SLA is a verdict on valid figures, so the baseline is compared; but "no worse than
  // the baseline" then says nothing about meeting those targets.
  if (baselineReport.sla?.met === false) {
    const missed = baselineReport.sla.verdicts.filter((verdict) => !verdict.met).map((verdict) => String(verdict.target))
    warnings.push(`the baseline missed its SLA ${baselineReport.sla.name}${missed.length === 0 ? '' : ` (${missed.join(', ')})`}: a run no worse than it may miss those targets too`)
  }
  const operations = [...new Set([...currentReport.run.operations.map((op) => op.operation), ...baselineReport.run.operations.map((op) => op.operation)])]
  warnings.push(...fewSamplesWarnings(baselineReport, currentReport, operations, options.metrics))
  const comparisons: FigureComparison[] = []
  if (options.metrics.includes('throughput')) comparisons.push(compareFigure(baselineReport, currentReport, 'all', 'throughput', calibrated, options.maxRegression))
  for (const operation of operations) {
    for (const metric of options.metrics) comparisons.push(compareFigure(baselineReport, currentReport, operation, metric, calibrated, options.maxRegression))
  }
  // An operation only one run had (a rare one in a very short run) is listed, not judged.
  for (const operation of operations) {
    const inBaseline = baselineReport.run.operations.some((op) => op.operation === operation)
    const inCurrent = currentReport.run.operations.some((op) => op.operation === operation)
    if (options.metrics.length > 0 && !(inBaseline && inCurrent)) warnings.push(`${operation} not compared: ${inBaseline ? 'this run' : 'the baseline'} has no ${operation} operation`)
  }
  return {
    baseline: options.source,
    unit: calibrated ? 'calibrated' : 'raw',
    maxRegression: options.maxRegression,
    metrics: options.metrics,
    regressed: comparisons.some((c) => c.regressed),
    warnings,
    comparisons,
  }
}

/**
 * One warning per operation whose compared percentiles rest on fewer samples, in either run,
 * than samplesNeeded says: such a figure is still compared (a regression check that skipped it
 * would pass any short run), but its change says little, and a short run is the usual cause.
 */
function fewSamplesWarnings(baselineReport: ComparedReport, currentReport: ComparedReport, operations: readonly string[], metrics: readonly RegressionMetric[]): string[] {
  const warnings: string[] = []
  for (const operation of operations) {
    const baselineCount = baselineReport.run.operations.find((op) => op.operation === operation)?.count
    const currentCount = currentReport.run.operations.find((op) => op.operation === operation)?.count
    // An operation only one run had is not compared at all, and said so elsewhere.
    if (baselineCount === undefined || currentCount === undefined) continue
    const thin = metrics.filter((metric) => {
      const percentile = percentileOf[metric as LatencyMetric]
      return percentile !== undefined && Math.min(baselineCount, currentCount) < samplesNeeded(percentile)
    })
    if (thin.length === 0) continue
    const needs = thin.map((metric) => `${samplesNeeded(percentileOf[metric as LatencyMetric] as number).toLocaleString('en-US')} for ${metric}`).join(', ')
    warnings.push(
      `${operation} ${thin.join(', ')} rest${thin.length === 1 ? 's' : ''} on too few samples to mean much (this run ${currentCount.toLocaleString('en-US')}, the baseline ${baselineCount.toLocaleString('en-US')}): ` +
        `a percentile p needs at least 1/(1 - p) samples (${needs}), else it is about the slowest sample, the max; run longer (--duration) or at a higher rate`,
    )
  }
  return warnings
}

/** A percentage with one decimal: `12.5%`. */
export function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`
}

/** A figure in its unit, with the measured one beside a calibrated one: `12.3% of ceiling (1234 ops/s)`. */
export function figureText(value: number | null, raw: number | null, unit: FigureUnit, metric: RegressionMetric): string {
  if (value === null || raw === null) return 'none'
  const rawText = metric === 'throughput' ? `${figure(raw)} ops/s` : `${figure(raw)} ms`
  if (unit === 'share of ceiling') return `${percent(value)} of ceiling (${rawText})`
  if (unit === 'calibration medians') return `${figure(value)}× calibration p50 (${rawText})`
  return rawText
}

/** `25.0% worse`, `3.1% better`, or why it was not compared. */
export function changeText(comparison: FigureComparison): string {
  if (comparison.worseBy === null) return comparison.note ?? 'not compared'
  if (comparison.worseBy === 0) return 'unchanged'
  return comparison.worseBy > 0 ? `${percent(comparison.worseBy)} worse` : `${percent(-comparison.worseBy)} better`
}

/** `read p99.9` or `all throughput`: the figure a comparison is about. */
export function comparisonName(comparison: FigureComparison): string {
  return `${comparison.operation} ${comparison.metric}`
}

/** The unit line: which unit the comparison used and why. */
export function unitText(regression: RegressionReport): string {
  return regression.unit === 'calibrated'
    ? "calibrated (both runs used --calibrate): throughput as a share of each run's HTTP ceiling, latencies as multiples of each calibration's median latency of the same operation"
    : 'raw ms and ops/s'
}

/** The plain-text form, printed after the report (bench/report.ts) when --baseline is given. */
export function formatRegression(regression: RegressionReport): string {
  const lines = [
    `against the baseline ${regression.baseline}: ${regression.regressed ? 'REGRESSED' : 'no regression'} (tolerance ${percent(regression.maxRegression)}; unit: ${unitText(regression)})`,
  ]
  for (const warning of regression.warnings) lines.push(`  warning: ${warning}`)
  for (const c of regression.comparisons) {
    const status = c.regressed ? 'WORSE ' : c.worseBy === null ? 'n/a   ' : 'ok    '
    lines.push(`  ${status} ${comparisonName(c)}: ${figureText(c.current, c.currentRaw, c.unit, c.metric)}, baseline ${figureText(c.baseline, c.baselineRaw, c.unit, c.metric)}: ${changeText(c)}${c.note !== undefined && c.worseBy !== null ? ` (${c.note})` : ''}`)
  }
  return `${lines.join('\n')}\n`
}
