/**
 * The pure half of `npm run bench:compare` (bench/compare.ts): its options checked, the `dyn
 * bench` command both builds run, the order of the runs (pairs, ABBA), the figures read from each
 * run's `--json` report, the comparison of base and candidate figure by figure
 * (bench/compare-stats.ts), the text a person reads, and the exit codes. No IO here, so that
 * every decision the script makes can be tested without building or running anything.
 */

import type {Result} from '../src/errors.js'
import {integerFlag} from './script-flags.js'
import {figure} from './report.js'
import {compareFigure, confidenceDefault, pairsNeeded, verdictOf} from './compare-stats.js'
import type {Better, Change, FigureComparison, Verdict} from './compare-stats.js'
import {warmupSDefaultOf} from './warmup.js'
import {isWorkloadName} from './workloads.js'
import type {WorkloadName} from './workloads.js'

/**
 * bench:compare's exit codes. Scripts rely on them, so they never change meaning. 5 is what
 * `dyn bench --baseline` exits with for a regression, so a CI step can treat both alike.
 */
export const compareExitCodes = {
  /** Nothing got worse beyond noise (an improvement, or too few rounds to tell, exit 0 too). */
  ok: 0,
  /** Bad usage or input: a flag, an unknown ref, not a git checkout, a candidate not built. */
  usage: 2,
  /** Throughput fell or a p99.9 rose beyond noise. */
  regression: 5,
  /** The base could not be checked out, installed or built, or building it changed its files. */
  buildFailed: 6,
  /** A `dyn bench` run failed or printed no report. */
  benchFailed: 7,
  /** Interrupted (Ctrl-C, SIGTERM): everything started was stopped and removed. */
  interrupted: 130,
} as const

/** Every error code bench:compare may answer with; scripts match on these strings. */
export type CompareErrorCode = 'bad_parameter' | 'not_a_repository' | 'unknown_ref' | 'stale_build' | 'dirty_base' | 'build_failed' | 'bench_failed' | 'interrupted'

export function compareExitCodeOf(code: CompareErrorCode): number {
  switch (code) {
    case 'bad_parameter':
    case 'not_a_repository':
    case 'unknown_ref':
    case 'stale_build':
      return compareExitCodes.usage
    case 'dirty_base':
    case 'build_failed':
      return compareExitCodes.buildFailed
    case 'bench_failed':
      return compareExitCodes.benchFailed
    case 'interrupted':
      return compareExitCodes.interrupted
  }
}

export type Side = 'base' | 'candidate'

export interface CompareOptions {
  /** The base ref as given; undefined: the merge-base of HEAD and main (see compare.ts). */
  readonly base: string | undefined
  /** Pairs of runs, one of each build per round. */
  readonly rounds: number
  readonly workload: WorkloadName
  readonly loop: {readonly kind: 'closed'; readonly connections: number} | {readonly kind: 'open'; readonly ratePerS: number}
  readonly durationS: number
  readonly warmupS: number
  readonly nodes: number
  readonly records: number
  readonly seed: number
  /** The least coverage of each figure's interval, in (0, 1). */
  readonly confidence: number
  readonly json: boolean
  /** More `dyn bench` flags, given after `--`, passed to both builds as they are. */
  readonly benchExtra: readonly string[]
}

export const compareDefaults = {
  /** An even count: as many pairs run base first as candidate first, so a steady drift cancels exactly. */
  rounds: 6,
  workload: 'a' as WorkloadName,
  connections: 50,
  durationS: 10,
  /** A closed loop's; an open loop's is `warmupSDefaultOf('open')`, as dyn bench's. */
  warmupS: warmupSDefaultOf('closed'),
  nodes: 3,
  records: 10_000,
  seed: 1,
  confidence: confidenceDefault,
}

/** Bounds against typos: a compare runs 2 × rounds × (warm-up + duration) seconds and more. */
const roundsMax = 100
const durationSMax = 3600
const warmupSMax = 600
const nodesMax = 16
const connectionsMax = 10_000
const rateMax = 1_000_000
const recordsMax = 10_000_000
/** The confidence is a percentage in this range: below 50% an interval says nothing, 99.9% needs 11 rounds. */
const confidencePercentMin = 50
const confidencePercentMax = 99.9

/**
 * `dyn bench` flags bench:compare sets itself (given after `--` they would contradict its own),
 * or that would stop the two builds from being measured alike.
 */
const refusedBenchFlags: ReadonlyMap<string, string> = new Map([
  ['--node', 'both builds must run on clusters they start themselves, or the same running cluster would be measured twice'],
  ['--nodes', 'use bench:compare --nodes'],
  ['--workload', 'use bench:compare --workload'],
  ['--connections', 'use bench:compare --connections'],
  ['--rate', 'use bench:compare --rate'],
  ['--duration', 'use bench:compare --duration'],
  ['--warmup', 'use bench:compare --warmup'],
  ['--records', 'use bench:compare --records'],
  ['--seed', 'use bench:compare --seed'],
  ['--json', 'bench:compare reads every run as JSON already'],
  ['--sla', 'a missed SLA exits 1, which would read as a failed run: judge an SLA with dyn bench itself'],
  ['--baseline', 'bench:compare is the comparison'],
  ['--find-capacity', 'a capacity search has no single figure per run to pair'],
  ['--fault', 'a fault run is judged per window, not by one figure'],
  ['--report', 'one run\'s page says nothing about the comparison'],
  ['--junit', 'bench:compare has its own --json'],
  ['--markdown', 'bench:compare has its own --json'],
  ['--hdr-out', 'each run would overwrite the file'],
])

/** The raw values of bench:compare's flags as node:util parseArgs gives them. */
export interface CompareFlagValues {
  readonly base?: string
  readonly rounds?: string
  readonly workload?: string
  readonly connections?: string
  readonly rate?: string
  readonly duration?: string
  readonly warmup?: string
  readonly nodes?: string
  readonly records?: string
  readonly seed?: string
  readonly confidence?: string
  readonly json?: boolean
}

type Parsed<T> = Result<{value: T}, {message: string}>

/** "90", "90%" or "97.5%": a percentage in [50, 99.9], returned as a fraction. */
export function parseConfidence(text: string | undefined): Parsed<number> {
  if (text === undefined) return {ok: true, value: compareDefaults.confidence}
  const match = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(text)
  const percent = match === null ? Number.NaN : Number(match[1])
  if (!(percent >= confidencePercentMin && percent <= confidencePercentMax)) {
    return {ok: false, message: `--confidence ${text}: a percentage from ${confidencePercentMin} to ${confidencePercentMax}, such as 90 or 95%`}
  }
  return {ok: true, value: percent / 100}
}

/** Checks every flag and the `dyn bench` flags after `--`; the first problem is the message. */
export function parseCompareOptions(values: CompareFlagValues, benchExtra: readonly string[]): Parsed<CompareOptions> {
  if (values.base !== undefined && (values.base.trim() === '' || values.base.startsWith('-'))) {
    return {ok: false, message: `--base ${JSON.stringify(values.base)}: a git ref (a branch, tag or commit), such as main or HEAD~1`}
  }
  const workload = values.workload ?? compareDefaults.workload
  if (!isWorkloadName(workload)) return {ok: false, message: `--workload ${workload}: one of a, b, c, d, f or cart`}
  if (values.rate !== undefined && values.connections !== undefined) {
    return {ok: false, message: '--rate (open loop) and --connections (closed loop) exclude each other: give one'}
  }
  const numbers = {
    rounds: integerFlag('rounds', values.rounds, compareDefaults.rounds, 1, roundsMax),
    connections: integerFlag('connections', values.connections, compareDefaults.connections, 1, connectionsMax),
    rate: integerFlag('rate', values.rate, 0, 1, rateMax),
    duration: integerFlag('duration', values.duration, compareDefaults.durationS, 1, durationSMax),
    warmup: integerFlag('warmup', values.warmup, warmupSDefaultOf(values.rate === undefined ? 'closed' : 'open'), 0, warmupSMax),
    nodes: integerFlag('nodes', values.nodes, compareDefaults.nodes, 1, nodesMax),
    records: integerFlag('records', values.records, compareDefaults.records, 1, recordsMax),
    seed: integerFlag('seed', values.seed, compareDefaults.seed, 0, 2 ** 31 - 1),
  }
  for (const parsed of Object.values(numbers)) if (!parsed.ok) return parsed
  const value = (parsed: Parsed<number>): number => (parsed as {value: number}).value
  const confidence = parseConfidence(values.confidence)
  if (!confidence.ok) return confidence
  for (const arg of benchExtra) {
    const name = arg.split('=')[0] as string
    const why = refusedBenchFlags.get(name)
    if (why !== undefined) return {ok: false, message: `${name} after --: ${why}`}
  }
  return {
    ok: true,
    value: {
      base: values.base?.trim(),
      rounds: value(numbers.rounds),
      workload,
      loop: values.rate === undefined ? {kind: 'closed', connections: value(numbers.connections)} : {kind: 'open', ratePerS: value(numbers.rate)},
      durationS: value(numbers.duration),
      warmupS: value(numbers.warmup),
      nodes: value(numbers.nodes),
      records: value(numbers.records),
      seed: value(numbers.seed),
      confidence: confidence.value,
      json: values.json === true,
      benchExtra: [...benchExtra],
    },
  }
}

/** What the user should know before the runs start (printed, and kept in the JSON). */
export function planWarnings(options: CompareOptions): string[] {
  const warnings: string[] = []
  const needed = pairsNeeded(options.confidence)
  if (options.rounds < needed) {
    warnings.push(
      `with ${options.rounds} round(s) no change can be told from noise at ${percent(options.confidence)} confidence: that needs at least ${needed} rounds; the figures are shown, and every verdict is inconclusive`,
    )
  }
  if (options.rounds % 2 === 1) warnings.push(`${options.rounds} rounds: with an odd count the base runs first once more often than the candidate, so a steady drift does not cancel exactly; an even count does`)
  return warnings
}

/** The `dyn bench` arguments every run uses, base and candidate alike (after `node bin/run.js`). */
export function benchArgs(options: CompareOptions): string[] {
  const loop = options.loop.kind === 'closed' ? ['--connections', String(options.loop.connections)] : ['--rate', String(options.loop.ratePerS)]
  return [
    'bench',
    '--nodes',
    String(options.nodes),
    '--workload',
    options.workload,
    ...loop,
    '--duration',
    String(options.durationS),
    '--warmup',
    String(options.warmupS),
    '--records',
    String(options.records),
    '--seed',
    String(options.seed),
    ...options.benchExtra,
    '--json',
  ]
}

export interface PlannedRun {
  /** 0-based round: the pair this run belongs to. */
  readonly round: number
  readonly side: Side
}

/**
 * The runs in order: a pair per round, base first in even rounds and candidate first in odd ones
 * (ABBA...). Whatever slowly speeds up or slows down the machine over the session then favours
 * neither build, and a build that runs second in a pair (on a warmer disk cache, say) is second
 * as often as the other.
 */
export function runOrder(rounds: number): PlannedRun[] {
  const runs: PlannedRun[] = []
  for (let round = 0; round < rounds; round += 1) {
    const sides: Side[] = round % 2 === 0 ? ['base', 'candidate'] : ['candidate', 'base']
    for (const side of sides) runs.push({round, side})
  }
  return runs
}

/** The figures of one run that bench:compare judges. */
export interface RunFigures {
  /** Operations per second, all kinds together (closed loop: what the cluster answered). */
  readonly opsPerS: number
  /** p99.9 in ms per operation kind. */
  readonly p999Ms: Readonly<Record<string, number>>
  /** Failed operations and unanswered requests: shown, since a faster build that fails more is not faster. */
  readonly errors: number
}

/** The figures of a `dyn bench --json` report; refused when it is not one or measured nothing. */
export function figuresOfReport(json: unknown): Parsed<RunFigures> {
  const report = json as {ok?: unknown; run?: {opsPerS?: unknown; operations?: unknown; transportErrors?: {timeout?: unknown; connection?: unknown}}}
  const run = report?.run
  if (typeof run !== 'object' || run === null || typeof run.opsPerS !== 'number' || !Array.isArray(run.operations)) {
    return {ok: false, message: 'the output is not a dyn bench --json report (no run.opsPerS and run.operations)'}
  }
  const p999Ms: Record<string, number> = {}
  let errors = 0
  for (const op of run.operations as Array<{operation?: unknown; count?: unknown; latency?: {p999Ms?: unknown}; errors?: unknown}>) {
    if (typeof op?.operation !== 'string' || typeof op.latency?.p999Ms !== 'number' || typeof op.count !== 'number') {
      return {ok: false, message: 'an operation of the report has no name, count or latency.p999Ms'}
    }
    if (op.count > 0) p999Ms[op.operation] = op.latency.p999Ms
    errors += Object.values((op.errors ?? {}) as Record<string, unknown>).reduce<number>((sum, n) => sum + (typeof n === 'number' ? n : 0), 0)
  }
  const transport = run.transportErrors
  errors += (typeof transport?.timeout === 'number' ? transport.timeout : 0) + (typeof transport?.connection === 'number' ? transport.connection : 0)
  if (!(run.opsPerS > 0) || Object.keys(p999Ms).length === 0) return {ok: false, message: 'the run measured no operation (0 ops/s)'}
  return {ok: true, value: {opsPerS: run.opsPerS, p999Ms, errors}}
}

export interface MeasuredRun extends PlannedRun {
  readonly figures: RunFigures
}

export interface NamedComparison extends FigureComparison {
  /** `throughput` or `p99.9`. */
  readonly figure: 'throughput' | 'p99.9'
  /** The operation kind, or `all` for the throughput of every kind together. */
  readonly operation: string
  readonly unit: 'ops/s' | 'ms'
  readonly better: Better
}

export interface Comparison {
  readonly figures: readonly NamedComparison[]
  readonly verdict: Verdict
  /** Operation kinds left out because some run did not measure them. */
  readonly unpaired: readonly string[]
}

/**
 * Base and candidate figure by figure, paired by round: the closed loop's throughput (an open
 * loop's is the rate it was asked for, so it is not judged) and each operation kind's p99.9.
 * Every round must have one run of each side.
 */
export function compareRuns(runs: readonly MeasuredRun[], loop: CompareOptions['loop'], confidence: number): Parsed<Comparison> {
  const rounds = [...new Set(runs.map((run) => run.round))].sort((a, b) => a - b)
  const pairs: Array<{base: RunFigures; candidate: RunFigures}> = []
  for (const round of rounds) {
    const base = runs.find((run) => run.round === round && run.side === 'base')
    const candidate = runs.find((run) => run.round === round && run.side === 'candidate')
    if (base === undefined || candidate === undefined) return {ok: false, message: `round ${round + 1} has no ${base === undefined ? 'base' : 'candidate'} run`}
    pairs.push({base: base.figures, candidate: candidate.figures})
  }
  if (pairs.length === 0) return {ok: false, message: 'no runs to compare'}
  const kinds = [...new Set(pairs.flatMap((pair) => [...Object.keys(pair.base.p999Ms), ...Object.keys(pair.candidate.p999Ms)]))].sort()
  const paired = kinds.filter((kind) => pairs.every((pair) => pair.base.p999Ms[kind] !== undefined && pair.candidate.p999Ms[kind] !== undefined))
  const specs: Array<{figure: NamedComparison['figure']; operation: string; unit: NamedComparison['unit']; better: Better; of: (figures: RunFigures) => number}> = [
    ...(loop.kind === 'closed' ? [{figure: 'throughput' as const, operation: 'all', unit: 'ops/s' as const, better: 'higher' as const, of: (f: RunFigures) => f.opsPerS}] : []),
    ...paired.map((kind) => ({figure: 'p99.9' as const, operation: kind, unit: 'ms' as const, better: 'lower' as const, of: (f: RunFigures) => f.p999Ms[kind] as number})),
  ]
  const figures: NamedComparison[] = []
  for (const spec of specs) {
    const compared = compareFigure(
      pairs.map((pair) => spec.of(pair.base)),
      pairs.map((pair) => spec.of(pair.candidate)),
      spec.better,
      confidence,
    )
    if (!compared.ok) return {ok: false, message: `${labelOf(spec)}: ${compared.message}`}
    figures.push({figure: spec.figure, operation: spec.operation, unit: spec.unit, better: spec.better, ...compared.value})
  }
  return {ok: true, value: {figures, verdict: verdictOf(figures.map((f) => f.change)), unpaired: kinds.filter((kind) => !paired.includes(kind))}}
}

function labelOf(f: {figure: string; operation: string; unit: string}): string {
  return f.figure === 'throughput' ? `throughput ${f.unit}` : `${f.operation} ${f.figure} ${f.unit}`
}

/** The exit code of a finished comparison: 5 when anything got worse beyond noise. */
export function exitCodeOfVerdict(verdict: Verdict): number {
  return verdict === 'regressed' ? compareExitCodes.regression : compareExitCodes.ok
}

function percent(fraction: number): string {
  return `${Number((fraction * 100).toFixed(1))}%`
}

const changeText: Readonly<Record<Change, string>> = {
  worse: 'WORSE',
  better: 'better',
  within_noise: 'within noise',
  inconclusive: 'inconclusive',
}

const verdictText: Readonly<Record<Verdict, string>> = {
  regressed: 'REGRESSED: a figure got worse beyond the noise',
  improved: 'improved: a figure got better beyond the noise, none worse',
  within_noise: 'within noise: no figure moved beyond what the machine\'s noise explains',
  inconclusive: 'inconclusive: too few rounds to tell any change from noise',
}

/** What each side was, in words, for the text's first lines. */
export interface SidesDescription {
  readonly base: string
  readonly candidate: string
}

/** The comparison as a person reads it: the setup, a row per figure, the noise, the verdict. */
export function formatComparison(comparison: Comparison, options: CompareOptions, sides: SidesDescription, runs: readonly MeasuredRun[]): string {
  const coverage = comparison.figures.find((f) => f.interval !== null)?.interval?.coverage
  const lines = [
    `base:      ${sides.base}`,
    `candidate: ${sides.candidate}`,
    `each run:  node bin/run.js ${benchArgs(options).join(' ')}`,
    `${options.rounds} round(s) of one run per build, base first in odd rounds and candidate first in even ones; each run starts its own cluster`,
    '',
  ]
  const header = ['figure', 'base', 'candidate', 'ratio', coverage === undefined ? 'interval' : `interval (${percent(coverage)})`, 'verdict']
  const rows = comparison.figures.map((f) => [
    labelOf(f),
    figure(f.baseMedian),
    figure(f.candidateMedian),
    f.medianRatio.toFixed(3),
    f.interval === null ? '-' : `${f.interval.low.toFixed(3)} to ${f.interval.high.toFixed(3)}`,
    changeText[f.change],
  ])
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] as string).length)))
  const line = (cells: readonly string[]): string => `  ${cells.map((cell, i) => (i === 0 || i === cells.length - 1 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join('  ')}`.trimEnd()
  lines.push(line(header), ...rows.map(line))
  lines.push('  (base and candidate: medians of their runs; ratio: the median of candidate / base over the pairs; interval: where the true median ratio lies)')
  lines.push('', 'pairs (candidate / base, in round order):')
  for (const f of comparison.figures) lines.push(`  ${labelOf(f).padEnd(widths[0] as number)}  ${f.ratios.map((r) => r.toFixed(3)).join(' ')}`)
  lines.push('', "noise (each build's own spread over its runs, coefficient of variation):")
  for (const f of comparison.figures) lines.push(`  ${labelOf(f).padEnd(widths[0] as number)}  base ${percent(f.baseCv)}, candidate ${percent(f.candidateCv)}`)
  const errors = (side: Side): number => runs.filter((run) => run.side === side).reduce((sum, run) => sum + run.figures.errors, 0)
  if (errors('base') + errors('candidate') > 0) lines.push('', `failed operations over all runs: base ${errors('base')}, candidate ${errors('candidate')}`)
  if (comparison.unpaired.length > 0) lines.push('', `not compared (missing from some run): ${comparison.unpaired.join(', ')}`)
  lines.push('', `verdict: ${verdictText[comparison.verdict]} (exit ${exitCodeOfVerdict(comparison.verdict)})`)
  return `${lines.join('\n')}\n`
}
