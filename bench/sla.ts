/**
 * SLA files (bench/sla/*.json): the run to make and the targets it must meet, stated the way
 * Dynamo's users state them, at a high percentile (paper §2.2). A file is checked whole before
 * anything runs; the verdict lists every target met or missed with the measured value.
 */

import {access, readFile} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import type {KindSummary} from './recorder.js'
import {nearestCommand} from '../src/cli/command-not-found.js'
import {isWorkloadName, workloads} from './workloads.js'
import type {OperationKind, WorkloadName} from './workloads.js'
import {replicasPerKeyMax} from '../src/storage/stored-object.js'

export interface SlaRun {
  readonly workload?: WorkloadName
  readonly ratePerS?: number
  readonly connections?: number
  readonly durationS?: number
  readonly records?: number
  readonly valueSize?: number
  readonly n?: number
  readonly r?: number
  readonly w?: number
}

export interface SlaTarget {
  readonly operation: OperationKind
  readonly percentile: number
  readonly maxMs: number
}

export interface Sla {
  readonly name: string
  readonly description: string
  readonly run: SlaRun
  readonly targets: readonly SlaTarget[]
  /** Operations that failed (any error, not found excluded) over all operations. */
  readonly maxErrorRate?: number
}

export interface TargetVerdict {
  readonly target: string
  /** The latency target's operation and percentile, for charts; absent on the error-rate verdict. */
  readonly operation?: OperationKind
  readonly percentile?: number
  readonly measured: number | null
  readonly limit: number
  readonly met: boolean
  /** Set when the target was not judged, and why (a window of a run with faults without that operation). */
  readonly notJudged?: string
  /** `count`: measured and limit are counts (`measured` of `limit` needed); otherwise ms, or a rate for the error rate. */
  readonly unit?: 'count'
  /** A latency target's sample: the operation's requests the cluster answered (its histogram's count). */
  readonly samples?: number
  /** Set when `samples` is fewer than the percentile needs (samplesNeeded): why the verdict may not repeat. */
  readonly thinSample?: string
}

/**
 * The samples a percentile needs to mean something: 1/(1 − p), the count at which one sample
 * lies above it (100 for p99, 1,000 for p99.9). With fewer, the percentile is the largest sample
 * or next to it: a p99.9 of 150 samples is their max, and one stall moves it by any amount.
 */
export function samplesNeeded(percentile: number): number {
  return Math.ceil(100 / (100 - percentile) - 1e-9)
}

/**
 * The sample behind a latency verdict, and a warning when it is thinner than samplesNeeded: the
 * verdict stands as measured (a gate that skipped it would pass any short run), but it is about
 * the slowest request or next to it, and the next run of the same setup may well give another.
 */
export function latencySample(requests: number, percentile: number): Pick<TargetVerdict, 'samples' | 'thinSample'> {
  const needed = samplesNeeded(percentile)
  if (requests >= needed) return {samples: requests}
  return {samples: requests, thinSample: `thin sample: ${requests.toLocaleString('en-US')} requests, p${percentile} needs ${needed.toLocaleString('en-US')} to be more than the slowest one; run longer (--duration) or at a higher rate`}
}

/** The shipped SLA files' folder (bench/sla, from this module in dist/bench), relative to `cwd` when it lies under it. */
function shippedSlaFolder(cwd: string): string {
  const folder = fileURLToPath(new URL('../../bench/sla', import.meta.url))
  const relative = path.relative(cwd, folder)
  return relative.startsWith('..') || path.isAbsolute(relative) ? folder : relative
}

const operationKinds: readonly string[] = ['read', 'update', 'insert', 'rmw', 'cart']
const runCounts = ['ratePerS', 'connections', 'durationS', 'records', 'valueSize', 'n', 'r', 'w'] as const
/** Each run count's bounds, those of the dyn bench flag it stands for (--rate, --connections, --duration, --records, --value-size, -n, -r, -w). */
const runCountBounds: Readonly<Record<(typeof runCounts)[number], readonly [number, number]>> = {
  ratePerS: [1, 1_000_000],
  connections: [1, 10_000],
  durationS: [1, 3600],
  records: [1, 100_000_000],
  valueSize: [1, 1024 * 1024],
  n: [1, replicasPerKeyMax],
  r: [1, replicasPerKeyMax],
  w: [1, replicasPerKeyMax],
}
const slaKeys: readonly string[] = ['name', 'description', 'run', 'targets', 'maxErrorRate']
const runKeys: readonly string[] = ['workload', ...runCounts]
const targetKeys: readonly string[] = ['operation', 'percentile', 'maxMs']

/**
 * The first key of `object` that an SLA file does not take there, said with the nearest one it
 * does take: a misspelt key would otherwise be ignored, and the gate would judge another run
 * than the file describes (a closed loop for a misspelt "ratePerS", no error-rate target for a
 * misspelt "maxErrorRate").
 */
function unknownKey(object: object, known: readonly string[], where: string): string | undefined {
  const key = Object.keys(object).find((candidate) => !known.includes(candidate))
  if (key === undefined) return undefined
  const near = nearestCommand([key], known) ?? known.find((candidate) => candidate.toLowerCase() === key.toLowerCase())
  return `"${where}${key}" is not a key of an SLA file${near === undefined ? '' : ` (did you mean "${where}${near}"?)`}; ${where === '' ? 'the file' : `"${where.replace(/\.$/, '')}"`} takes ${known.join(', ')}`
}

export function parseSla(text: string, source: string): {ok: true; sla: Sla} | {ok: false; message: string} {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (error) {
    return {ok: false, message: `${source} is not JSON: ${(error as Error).message}`}
  }
  const fail = (what: string): {ok: false; message: string} => ({ok: false, message: `${source}: ${what}`})
  if (typeof raw !== 'object' || raw === null) return fail('expected an object with name, run and targets')
  const sla = raw as Record<string, unknown>
  const unknownTop = unknownKey(sla, slaKeys, '')
  if (unknownTop !== undefined) return fail(unknownTop)
  if (typeof sla.name !== 'string') return fail('"name" must be a string')
  if (sla.description !== undefined && typeof sla.description !== 'string') return fail('"description" must be a string')
  const run = (sla.run === undefined ? {} : sla.run) as Record<string, unknown>
  if (typeof run !== 'object' || run === null || Array.isArray(run)) return fail('"run" must be an object')
  const unknownRun = unknownKey(run, runKeys, 'run.')
  if (unknownRun !== undefined) return fail(unknownRun)
  if (run.workload !== undefined && !(typeof run.workload === 'string' && isWorkloadName(run.workload))) return fail(`"run.workload" must be one of a, b, c, d, f, cart`)
  for (const name of runCounts) {
    const value = run[name]
    const [min, max] = runCountBounds[name]
    // Checked as the matching flag is, before anything starts: "records": 10.5 once started a
    // cluster and failed an assertion, and "n": 1.5 was refused only by the nodes (a new user's walk).
    if (value !== undefined && !(typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max)) return fail(`"run.${name}" must be a whole number from ${min} to ${max}, as the matching flag takes`)
  }
  if (run.ratePerS !== undefined && run.connections !== undefined) return fail('give "run.ratePerS" (open loop) or "run.connections" (closed loop), not both')
  if (!Array.isArray(sla.targets) || sla.targets.length === 0) return fail('"targets" must be a non-empty list')
  for (const [i, t] of (sla.targets as Array<Record<string, unknown>>).entries()) {
    if (typeof t !== 'object' || t === null) return fail(`targets[${i}] must be an object`)
    const unknownTarget = unknownKey(t, targetKeys, `targets[${i}].`)
    if (unknownTarget !== undefined) return fail(unknownTarget)
    if (typeof t.operation !== 'string' || !operationKinds.includes(t.operation)) return fail(`targets[${i}].operation must be one of ${operationKinds.join(', ')}`)
    if (typeof t.percentile !== 'number' || t.percentile <= 0 || t.percentile > 100) return fail(`targets[${i}].percentile must be in (0, 100]`)
    if (typeof t.maxMs !== 'number' || t.maxMs <= 0) return fail(`targets[${i}].maxMs must be a positive number of milliseconds`)
  }
  if (sla.maxErrorRate !== undefined && !(typeof sla.maxErrorRate === 'number' && sla.maxErrorRate >= 0 && sla.maxErrorRate <= 1)) return fail('"maxErrorRate" must be within 0..1')
  return {ok: true, sla: {description: '', ...(sla as object)} as Sla}
}

export async function loadSla(file: string): Promise<{ok: true; sla: Sla} | {ok: false; message: string}> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    return {ok: false, message: `cannot read the SLA file ${file}: ${(error as Error).message}${await shippedHint(file, error as NodeJS.ErrnoException)}`}
  }
  return parseSla(text, file)
}

/** The SLA files dyn ships in bench/sla, by name. */
const shippedSlaNames: readonly string[] = ['paper.json', 'ci.json']

/**
 * Where the shipped copy is when a missing file has the name of one: README, --help and CI use
 * `--sla bench/sla/ci.json`, which is read from the current folder and so exists only in a
 * clone. The shipped file is named, never read in its place: what the user typed is what runs,
 * and a file of their own by that name may be what they meant. A name without a folder (`--sla
 * ci`) that is none of them is told every shipped file.
 */
async function shippedHint(file: string, error: NodeJS.ErrnoException): Promise<string> {
  if (error.code !== 'ENOENT') return ''
  const folder = shippedSlaFolder(process.cwd())
  const base = path.basename(file)
  const name = shippedSlaNames.find((shipped) => shipped === base || shipped === `${base}.json`)
  if (name !== undefined) {
    const copy = path.join(folder, name)
    const shipped = await access(copy).then(
      () => true,
      () => false,
    )
    if (shipped) return `; dyn ships an SLA file of that name at ${copy} (a relative --sla is read from the current folder, ${process.cwd()}): give --sla ${copy} to run it`
  }
  return path.dirname(file) === '.' ? `; the SLA files dyn ships are ${shippedSlaNames.map((shipped) => path.join(folder, shipped)).join(' and ')}` : ''
}

/** A latency target no run of the workload can measure, and what the workload does instead. */
export interface UnmeasurableTargets {
  readonly ok: false
  readonly error: 'sla_not_measurable'
  readonly message: string
  /** The operations of the targets that cannot be measured, each once. */
  readonly operations: readonly OperationKind[]
  readonly workload: WorkloadName
  readonly workloadOperations: readonly OperationKind[]
}

/**
 * The targets of `sla` that `workload` can never measure, because it never runs their
 * operation (an insert target with workload a, which reads and updates), or undefined when
 * every target can be measured. Knowable before anything runs, so the file is refused then
 * rather than judged "not measured" after a whole run. `workloadSource` says where the workload
 * came from (--workload, the file's run.workload, or the default), since that is what to change.
 * A rare operation (workload d's 5% inserts) can still miss a very short run; that is not known
 * beforehand and stays a "not measured" verdict.
 */
export function unmeasurableTargets(sla: Sla, source: string, workload: WorkloadName, workloadSource: string): UnmeasurableTargets | undefined {
  const workloadOperations = workloads[workload].mix.map((entry) => entry.kind)
  const operations = [...new Set(sla.targets.map((target) => target.operation).filter((operation) => !workloadOperations.includes(operation)))]
  if (operations.length === 0) return undefined
  const indexes = sla.targets.flatMap((target, i) => (operations.includes(target.operation) ? [`targets[${i}]`] : []))
  const having = (operation: OperationKind): string => {
    const names = (Object.keys(workloads) as WorkloadName[]).filter((name) => workloads[name].mix.some((entry) => entry.kind === operation))
    return `${operation}: workload ${names.join(' or ')}`
  }
  const message =
    `${source}: ${indexes.join(', ')} ${indexes.length === 1 ? 'is' : 'are'} on ${operations.join(' and ')}, which workload ${workload} (${workloadSource}) never runs: ` +
    `its operations are ${workloadOperations.join(' and ')}, so ${indexes.length === 1 ? 'that target' : 'those targets'} could only be "not measured", a miss, after the whole run; ` +
    `run a workload that has ${operations.length === 1 ? 'it' : 'them'} (${operations.map(having).join('; ')}) or take the target out of the file`
  return {ok: false, error: 'sla_not_measurable', message, operations, workload, workloadOperations}
}

/**
 * Judge a finished run; `percentileMs(kind, p)` reads the run's histogram of that kind.
 * `unanswered` counts requests the driver got no answer to at all (timeouts and connection
 * errors of the closed loop, which never reach the histograms): they count as errors.
 */
export function judge(
  sla: Sla,
  operations: readonly KindSummary[],
  percentileMs: (kind: OperationKind, percentile: number) => number | undefined,
  unanswered = 0,
  options: {readonly absentNotJudged?: boolean} = {},
): TargetVerdict[] {
  const verdicts: TargetVerdict[] = sla.targets.map((target) => {
    const name = `${target.operation} p${target.percentile} <= ${target.maxMs} ms`
    // A window of a run with faults may hold none of a rare operation (a short window, a
    // write-light workload): that says nothing against the SLA, and the whole run judges it.
    const ran = operations.some((op) => op.operation === target.operation && op.count + op.shed + (op.throttled ?? 0) > 0)
    if (options.absentNotJudged === true && !ran) return {target: name, operation: target.operation, percentile: target.percentile, measured: null, limit: target.maxMs, met: true, notJudged: `no ${target.operation} operation in this window`}
    const measured = percentileMs(target.operation, target.percentile) ?? null
    const requests = operations.filter((op) => op.operation === target.operation).reduce((sum, op) => sum + op.count, 0)
    return {
      target: name,
      operation: target.operation,
      percentile: target.percentile,
      measured,
      limit: target.maxMs,
      met: measured !== null && measured <= target.maxMs,
      ...(measured === null ? {} : latencySample(requests, target.percentile)),
    }
  })
  if (sla.maxErrorRate !== undefined) {
    let total = unanswered
    let failed = unanswered
    for (const op of operations) {
      // A request shed by a node (503 overloaded), or kept back by the client's throttle, did not
      // get done: it counts against the SLA like an error, though the report shows it apart.
      total += op.count + op.shed + (op.throttled ?? 0)
      failed += op.shed + (op.throttled ?? 0)
      for (const count of Object.values(op.errors)) failed += count
    }
    const rate = total === 0 ? null : failed / total
    const target = `error rate <= ${sla.maxErrorRate}`
    if (total === 0 && options.absentNotJudged === true) verdicts.push({target, measured: null, limit: sla.maxErrorRate, met: true, notJudged: 'no operation in this window'})
    else verdicts.push({target, measured: rate, limit: sla.maxErrorRate, met: rate !== null && rate <= sla.maxErrorRate})
  }
  return verdicts
}

/**
 * The verdict of a run with faults: the whole run's targets, and two more. Dynamo's claim is
 * that the SLA holds through a failure, so every window (before, during and after each fault)
 * must meet every target; and a fault that could not be applied or reverted leaves nothing
 * checked, so it fails the run too, whatever the latencies say.
 */
export function verdictsThroughFaults(
  runVerdicts: readonly TargetVerdict[],
  windows: ReadonlyArray<{readonly sla?: {readonly met: boolean}}>,
  faults: ReadonlyArray<{readonly problem?: string}>,
): TargetVerdict[] {
  const windowsMet = windows.filter((window) => window.sla?.met !== false).length
  const faultsDone = faults.filter((fault) => fault.problem === undefined).length
  return [
    ...runVerdicts,
    {target: 'windows meeting every target (before, during and after each fault)', measured: windowsMet, limit: windows.length, met: windowsMet === windows.length, unit: 'count'},
    {target: 'faults applied and reverted as planned', measured: faultsDone, limit: faults.length, met: faultsDone === faults.length, unit: 'count'},
  ]
}

/** A verdict's measured figure in words: `355.60 ms`, an error rate as a fraction, `2 of 3` for a count, or why it was not judged. */
export function measuredText(verdict: TargetVerdict): string {
  if (verdict.notJudged !== undefined) return `not judged (${verdict.notJudged})`
  if (verdict.measured === null) return 'not measured'
  if (verdict.unit === 'count') return `${verdict.measured} of ${verdict.limit}`
  if (isErrorRate(verdict)) return verdict.measured.toFixed(5)
  return `${verdict.measured.toFixed(2)} ms${verdict.thinSample === undefined ? '' : ` (${verdict.thinSample})`}`
}

/** A verdict's limit in words: `300 ms`, an error rate, or a count (all of them). */
export function limitText(verdict: TargetVerdict): string {
  if (verdict.unit === 'count') return `all ${verdict.limit}`
  return isErrorRate(verdict) ? String(verdict.limit) : `${verdict.limit} ms`
}

export function isErrorRate(verdict: TargetVerdict): boolean {
  return verdict.target.startsWith('error rate')
}
