/**
 * What the paper-reproduction experiments share: a benchmark configuration with this project's
 * defaults, one run per variant, and a markdown table of the figures, so that each experiment's
 * output can be pasted into bench/README.md as it is; and their command lines, read from one
 * declaration per experiment (what it measures, its flags, examples), which also makes its
 * --help and refuses what it cannot read with one line and exit 2.
 */

import {existsSync} from 'node:fs'
import {mkdir, readFile, rmdir, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {parseArgs} from 'node:util'
import {exitCodes} from '../../src/cli/exit-codes.js'
import {assert} from '../../src/errors.js'
import type {Parsed} from '../faults.js'
import {runBench} from '../runner.js'
import type {BenchConfig, BenchReport} from '../runner.js'
import {failScript, integerFlag} from '../script-flags.js'
import {workloads} from '../workloads.js'
import type {WorkloadName} from '../workloads.js'

export function experimentConfig(overrides: Partial<BenchConfig>): BenchConfig {
  const workload = overrides.workload ?? 'a'
  return {
    nodes: [],
    startNodes: 3,
    clusterArgs: [],
    workload,
    distribution: workloads[workload].distribution,
    records: 10_000,
    valueSize: 100,
    mode: {kind: 'open', ratePerS: 400},
    durationS: 20,
    warmupS: 2,
    load: true,
    clientDriven: false,
    calibrate: false,
    calibrationS: 5,
    seed: 1,
    timeoutS: 10,
    ...overrides,
  }
}

/** Run each variant in turn, reporting progress on stderr; the runs never overlap. */
export async function runVariants(variants: ReadonlyArray<{name: string; config: BenchConfig}>): Promise<Array<{name: string; report: BenchReport}>> {
  const results: Array<{name: string; report: BenchReport}> = []
  for (const variant of variants) {
    process.stderr.write(`running: ${variant.name}\n`)
    const report = await runBench(variant.config, undefined)
    results.push({name: variant.name, report})
  }
  return results
}

export function markdownTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

export function ms(value: number | undefined): string {
  return value === undefined ? '-' : value.toFixed(2)
}

/** The latency figures of one operation kind of a report (undefined when it did not run). */
export function latencyOf(report: BenchReport, operation: string): {p50: number; p99: number; p999: number; mean: number; count: number} | undefined {
  const op = report.run.operations.find((o) => o.operation === operation)
  return op === undefined ? undefined : {p50: op.latency.p50Ms, p99: op.latency.p99Ms, p999: op.latency.p999Ms, mean: op.latency.meanMs, count: op.count}
}

/** The cgroup v1 cpu controller: CFS bandwidth, with which an experiment gives processes a share of a CPU. */
export const cpuController = '/sys/fs/cgroup/cpu'
/** CFS's default period: a limited group runs its share of each 100 ms, then waits out the rest. */
export const cfsPeriodUsDefault = 100_000
/** The least quota the kernel accepts per period (cpu.cfs_quota_us): 1 ms. */
export const cfsQuotaUsMin = 1000

/** The quota (µs per period) that gives `share` of a CPU; below `cfsQuotaUsMin` the kernel refuses it. */
export function cfsQuotaUsOf(share: number, periodUs: number): number {
  return Math.round(share * periodUs)
}

/** The cpu cgroup a process is in now (its path under the controller), from /proc/PID/cgroup. */
async function cpuGroupOf(pid: number): Promise<string> {
  const lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n')
  const line = lines.find((entry) => entry.split(':')[1]?.split(',').includes('cpu'))
  return line?.split(':')[2] ?? '/'
}

/** Whether this machine lets an experiment limit processes' CPU (root, and the cgroup v1 cpu controller). */
export function canLimitCpu(): boolean {
  return existsSync(path.join(cpuController, 'cpu.cfs_quota_us')) && process.getuid?.() === 0
}

/**
 * A cgroup holding the given processes (every thread of each), limited together to `share` of a
 * CPU per period (1.5: one and a half CPUs); `release` removes it once the processes have ended.
 * A group that used its share waits for the next period, so a shorter period spreads the waits
 * (a share of 0.25 of a 100 ms period can hold a request for 75 ms; of a 10 ms period, 7.5 ms).
 */
export async function cpuLimitedGroup(name: string, pids: readonly number[], share: number, periodUs = cfsPeriodUsDefault): Promise<{release: () => Promise<void>}> {
  const quotaUs = cfsQuotaUsOf(share, periodUs)
  if (quotaUs < cfsQuotaUsMin) throw new Error(`a share of ${share} CPU of a ${periodUs / 1000} ms period is a quota of ${quotaUs} µs, below the kernel's ${cfsQuotaUsMin} µs: give a longer period`)
  const dir = path.join(cpuController, name)
  await mkdir(dir)
  // The processes moved in so far, and the group each came from.
  const moved: Array<{pid: number; from: string}> = []
  try {
    await writeFile(path.join(dir, 'cpu.cfs_period_us'), String(periodUs))
    await writeFile(path.join(dir, 'cpu.cfs_quota_us'), String(quotaUs))
    for (const pid of pids) {
      const from = await cpuGroupOf(pid)
      await writeFile(path.join(dir, 'cgroup.procs'), String(pid))
      moved.push({pid, from})
    }
  } catch (error) {
    // A group the kernel refused to set up is removed, and only the processes moved into it go
    // back where they were: none is left behind for the machine.
    for (const {pid, from} of moved) await writeFile(path.join(cpuController, from, 'cgroup.procs'), String(pid)).catch(() => undefined)
    await rmdir(dir).catch(() => undefined)
    throw error
  }
  return {release: () => rmdir(dir).catch(() => undefined)}
}

/**
 * A flag's text read into its value, or refused with a message that names the flag and the text
 * (`--rate abc: a whole number of at least 1`), as `integerFlag` words it for the bench's scripts.
 */
export type FlagReader<T> = (text: string, flag: string) => Parsed<T>

/** A flag that takes a value: `--rate 400` or `--rate=400`. */
export interface ValueFlag<T> {
  readonly read: FlagReader<T>
  /** The value's name in --help: `--rate R`. */
  readonly value: string
  /** What it sets, in a few words, for --help. */
  readonly description: string
  /** The default as it would be typed; it is read like a typed value. */
  readonly default?: string
  /** The experiment cannot run without it. */
  readonly required?: boolean
  /** It may be given more than once; its value is then the list of the values given, in order (none: empty). */
  readonly multiple?: boolean
}

/** A switch: `--json`; a `negatable` one is turned off with `--no-NAME`. */
export interface SwitchFlag {
  readonly read?: never
  readonly description: string
  readonly default?: boolean
  readonly negatable?: boolean
}

export type ExperimentFlag = ValueFlag<unknown> | SwitchFlag

/** What an experiment tells its user in --help, and the flags it reads. */
export interface Experiment<Flags extends Readonly<Record<string, ExperimentFlag>>> {
  /** Its file's name without `.js`: it runs as `node dist/bench/experiments/NAME.js`. */
  readonly name: string
  /** What it measures, in one or two sentences. */
  readonly measures: string
  readonly flags: Flags
  /** Whole command lines, as bench/README.md runs it. */
  readonly examples: readonly string[]
}

type FlagValue<Flag> =
  Flag extends ValueFlag<infer T> ? (Flag extends {readonly multiple: true} ? T[] : Flag extends {readonly default: string} | {readonly required: true} ? T : T | undefined) : boolean

/** The values of an experiment's flags, each read by its reader: what the experiment runs with. */
export type FlagValues<Flags> = {readonly [Name in keyof Flags]: FlagValue<Flags[Name]>}

export type FlagsAnswer<Flags> = {readonly kind: 'help'; readonly text: string} | {readonly kind: 'refused'; readonly message: string} | {readonly kind: 'read'; readonly values: FlagValues<Flags>}

/** Any text: a path, an address. */
export const anyText: FlagReader<string> = (text) => ({ok: true, value: text})

/** A whole number from `min` to `max`. */
export function wholeNumber(min: number, max = Number.POSITIVE_INFINITY): FlagReader<number> {
  return (text, flag) => integerFlag(flag, text, min, min, max)
}

/** A count, a rate or a number of seconds: a whole number of at least 1. */
export const positiveInteger = wholeNumber(1)

/** A number above 0 and at most `max`: a share of the CPUs, the seconds of a cut. */
export function positiveNumber(max = Number.POSITIVE_INFINITY): FlagReader<number> {
  return (text, flag) => {
    // Number('') is 0 and Number('0x10') is 16: only a decimal is taken for one.
    const value = /^\s*(\d+\.?\d*|\.\d+)\s*$/.test(text) ? Number(text) : Number.NaN
    if (value > 0 && value <= max) return {ok: true, value}
    return {ok: false, message: `--${flag} ${text}: a number above 0${max === Number.POSITIVE_INFINITY ? '' : ` and at most ${max}`}`}
  }
}

/** One of the given words. */
export function oneOf<const Word extends string>(words: readonly Word[]): FlagReader<Word> {
  return (text, flag) => ((words as readonly string[]).includes(text) ? {ok: true, value: text as Word} : {ok: false, message: `--${flag} ${text}: one of ${words.join(', ')}`})
}

/** One of the bench's workloads. */
export const workloadName: FlagReader<WorkloadName> = oneOf(Object.keys(workloads) as WorkloadName[])

/** A comma-separated list of at least one value, each read by `read`: `c,a`. */
export function listOf<T>(read: FlagReader<T>): FlagReader<T[]> {
  return (text, flag) => {
    // An empty item ("10,,60", a trailing comma) is a typo more often than a wish, so it is refused
    // rather than dropped: the run would otherwise measure something other than what was typed.
    const items = text.split(',')
    if (items.some((item) => item === '')) return {ok: false, message: `--${flag} ${JSON.stringify(text)}: a comma-separated list of values, none of them empty`}
    const values: T[] = []
    for (const item of items) {
      const answer = read(item, flag)
      if (!answer.ok) return answer
      values.push(answer.value)
    }
    return {ok: true, value: values}
  }
}

/**
 * The flags of an experiment that compares variants of one cluster under the same open loop, as
 * the paper's tables of §6.1 and §6.4 do: 400 operations per second for 20 s each.
 */
export const openLoopVariantFlags = {
  rate: {read: positiveInteger, value: 'R', default: '400', description: 'the open loop\'s operations per second'},
  duration: {read: positiveInteger, value: 'S', default: '20', description: 'measured seconds per variant'},
} as const

const experimentsFolder = 'dist/bench/experiments'
/** A help text's width: a terminal's 100 columns, as bench/README.md wraps its prose. */
const helpWidth = 100

/**
 * What an experiment's command line asks for: its --help (before anything else: with `--help` the
 * rest of the line is not read, as dyn's commands do), a refusal naming the flag that cannot be
 * read, or the value of every flag. Pure, so that a unit test needs no process to exit.
 */
export function readExperimentFlags<const Flags extends Readonly<Record<string, ExperimentFlag>>>(experiment: Experiment<Flags>, args: readonly string[]): FlagsAnswer<Flags> {
  const flags: Readonly<Record<string, ExperimentFlag>> = experiment.flags
  // A default its own reader refuses is the experiment's mistake, not its user's.
  for (const [name, flag] of Object.entries(flags)) {
    if (flag.read !== undefined && flag.default !== undefined) assert(flag.read(flag.default, name).ok, `${experiment.name}: the default of --${name} (${flag.default}) is not one of its values`)
  }
  const own = args.includes('--') ? args.slice(0, args.indexOf('--')) : args
  if (own.includes('--help') || own.includes('-h')) return {kind: 'help', text: experimentHelp(experiment)}
  const given = givenFlags(flags, args)
  if (!given.ok) return {kind: 'refused', message: given.message}
  const values: Record<string, unknown> = {}
  for (const [name, flag] of Object.entries(flags)) {
    const texts = given.value.get(name)
    if (flag.read === undefined) {
      values[name] = texts === undefined ? (flag.default ?? false) : texts.at(-1) === 'on'
      continue
    }
    if (texts === undefined && flag.required === true) return {kind: 'refused', message: `give --${name} ${flag.value}: ${flag.description}`}
    // A flag given twice takes its last value, as node:util's parseArgs reads it; a list takes them all.
    const chosen = flag.multiple === true ? (texts ?? []) : [texts?.at(-1) ?? flag.default].filter((text) => text !== undefined)
    const read: unknown[] = []
    for (const text of chosen) {
      const answer = flag.read(text, name)
      if (!answer.ok) return {kind: 'refused', message: answer.message}
      read.push(answer.value)
    }
    values[name] = flag.multiple === true ? read : read[0]
  }
  return {kind: 'read', values: values as FlagValues<Flags>}
}

/**
 * The text given for each flag on the line, in order (a switch's as `on` or `off`), or the first
 * thing on it that is no flag of the experiment's: an unknown flag, a value missing or given to a
 * switch, an argument that is not a flag.
 */
function givenFlags(flags: Readonly<Record<string, ExperimentFlag>>, args: readonly string[]): Parsed<Map<string, string[]>> {
  // Not strict: node:util's own refusals are worded for a program's author and span lines; the
  // tokens let each refusal here name the flag as the user typed it.
  const {tokens} = parseArgs({
    args: [...args],
    options: Object.fromEntries(Object.entries(flags).map(([name, flag]) => [name, {type: flag.read === undefined ? 'boolean' : 'string'}] as const)),
    strict: false,
    allowPositionals: true,
    tokens: true,
    // Only where a switch is negatable: node:util then reads `--no-NAME` for every switch, and
    // the loop below refuses it for the others.
    ...(Object.values(flags).some(negatable) ? {allowNegative: true} : {}),
  })
  const given = new Map<string, string[]>()
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue
    if (token.kind === 'positional') return {ok: false, message: `unexpected argument ${JSON.stringify(token.value)}: an experiment takes flags only`}
    const flag = Object.hasOwn(flags, token.name) ? flags[token.name] : undefined
    const negated = token.rawName === `--no-${token.name}`
    if (flag === undefined || (negated && !negatable(flag))) return {ok: false, message: `unknown flag ${token.rawName}`}
    if (flag.read === undefined && token.value !== undefined) return {ok: false, message: `${token.rawName} takes no value`}
    if (flag.read !== undefined && token.value === undefined) return {ok: false, message: `${token.rawName} needs a value: ${token.rawName} ${flag.value}`}
    given.set(token.name, [...(given.get(token.name) ?? []), token.value ?? (negated ? 'off' : 'on')])
  }
  return {ok: true, value: given}
}

function negatable(flag: ExperimentFlag): boolean {
  return flag.read === undefined && flag.negatable === true
}

/** An experiment's --help: what it measures, how to run it, its flags with their defaults, and examples. */
export function experimentHelp<Flags extends Readonly<Record<string, ExperimentFlag>>>(experiment: Experiment<Flags>): string {
  const script = `node ${experimentsFolder}/${experiment.name}.js`
  const flags: Array<[string, ExperimentFlag]> = Object.entries(experiment.flags)
  const required: string[] = []
  const rows = flags.map(([name, flag]): [string, string] => {
    if (flag.read === undefined) return [flag.negatable === true ? `--[no-]${name}` : `--${name}`, `${flag.description}${flag.default === true ? ' [default: on]' : ''}`]
    if (flag.required === true) required.push(`--${name} ${flag.value}`)
    const notes = [flag.required === true ? 'required' : undefined, flag.default === undefined ? undefined : `default: ${flag.default}`, flag.multiple === true ? 'may be given more than once' : undefined].filter((note) => note !== undefined)
    return [`--${name} ${flag.value}`, `${flag.description}${notes.length === 0 ? '' : ` [${notes.join('; ')}]`}`]
  })
  rows.push(['-h, --help', 'this text'])
  const column = Math.max(...rows.map(([left]) => left.length)) + 2
  const flagLines = rows.flatMap(([left, right]) => wrapWords(right, helpWidth - 2 - column).map((line, index) => `  ${(index === 0 ? left : '').padEnd(column)}${line}`))
  return [
    ...wrapWords(experiment.measures, helpWidth),
    '',
    'USAGE',
    `  ${[script, ...required, '[FLAGS]'].join(' ')}`,
    '',
    'FLAGS',
    ...flagLines,
    '',
    'EXAMPLES',
    ...experiment.examples.map((example) => `  ${example}`),
    '',
    ...wrapWords(`More in the opening comment of bench/experiments/${experiment.name}.ts; its figures, and what they show, in bench/README.md.`, helpWidth),
    '',
  ].join('\n')
}

/** `text` in lines of at most `width` characters, broken between words (a longer word has a line of its own). */
export function wrapWords(text: string, width: number): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/).filter((part) => part !== '')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else {
      line = line === '' ? word : `${line} ${word}`
    }
  }
  return line === '' ? lines : [...lines, line]
}

/**
 * An experiment's flags from its command line, for it to run with. `--help` is answered (exit 0)
 * and a line it cannot read is refused (exit 2) here, so call it first: before either, nothing
 * has started.
 */
export function experimentFlags<const Flags extends Readonly<Record<string, ExperimentFlag>>>(experiment: Experiment<Flags>, args: readonly string[] = process.argv.slice(2)): FlagValues<Flags> {
  const answer = readExperimentFlags(experiment, args)
  if (answer.kind === 'help') {
    process.stdout.write(answer.text)
    process.exit(exitCodes.ok)
  }
  if (answer.kind === 'refused') refuseFlags(experiment.name, answer.message)
  return answer.values
}

/**
 * Refuses an experiment's command line as the bench's scripts refuse theirs: one line on stderr
 * that points at --help, exit 2. For what one flag alone cannot say (`--r` above `--n`).
 */
export function refuseFlags(name: string, message: string): never {
  failScript(name, exitCodes.usage, false, 'bad_parameter', `${message} (see --help)`)
}
