/**
 * The pure half of `npm run bench:etcd` (bench/etcd-compare.ts), issue 18's first target: "closed
 * loop, same machine, one run: puts and gets each at least 2× a 3-member etcd's, and a p99.9 no
 * higher than etcd's". Here: its options checked, the etcd members' command lines, the requests
 * each store is sent (etcd's HTTP/JSON gateway takes base64 keys and values in a JSON body; dyn
 * takes the raw value at /kv/KEY), how an answer counts, each round's figures, the dyn/etcd
 * ratios against the targets, and the tables. No IO, no clock, no randomness.
 */

import type {Result} from '../src/errors.js'
import {integerFlag} from './script-flags.js'
import {geometricMean} from './compare-stats.js'
import {figure} from './report.js'
import type {HttpReply, HttpStep, Outcome} from './operations.js'

/**
 * bench:etcd's exit codes; scripts rely on them. A measurement is no verdict, so a missed target
 * exits 0 too: the figures and `targetsMet` say how it went.
 */
export const etcdCompareExitCodes = {
  ok: 0,
  /** A cluster did not start or answer, the load failed, or a run failed. */
  failed: 1,
  /** Bad usage: fix the command line. */
  usage: 2,
  /** No etcd to compare with: the message says how to install it. */
  etcdMissing: 3,
  /** Interrupted (Ctrl-C, SIGTERM): every process started was stopped and its folder removed. */
  interrupted: 130,
} as const

export type EtcdCompareErrorCode = 'bad_parameter' | 'etcd_missing' | 'cluster_failed' | 'run_failed' | 'interrupted'

export function etcdCompareExitCodeOf(code: EtcdCompareErrorCode): number {
  switch (code) {
    case 'bad_parameter':
      return etcdCompareExitCodes.usage
    case 'etcd_missing':
      return etcdCompareExitCodes.etcdMissing
    case 'cluster_failed':
    case 'run_failed':
      return etcdCompareExitCodes.failed
    case 'interrupted':
      return etcdCompareExitCodes.interrupted
  }
}

/** What to tell a user without etcd: where Debian and Ubuntu have it, and the flag for another binary. */
export function etcdMissingMessage(binary: string, why: string): string {
  return `no etcd to compare with: ${binary} ${why}. Install etcd (Debian and Ubuntu: sudo apt-get install etcd-server; the issue measured 3.4 from Debian), or name its binary with --etcd /path/to/etcd`
}

export interface EtcdCompareOptions {
  /** Rounds of one session per store, the order alternating (dyn first in odd rounds). */
  readonly rounds: number
  /** Closed loop: requests in flight, all on one endpoint. */
  readonly connections: number
  readonly durationS: number
  readonly warmupS: number
  /** Keys loaded before measuring, and the key space every request draws from. */
  readonly records: number
  readonly valueSize: number
  readonly seed: number
  /** The etcd binary: a name looked up on PATH, or a path. */
  readonly etcd: string
  readonly json: boolean
}

/** The setup: 50 connections, 100-byte values, 10,000 keys; three rounds to see the spread. */
export const etcdCompareDefaults = {
  rounds: 3,
  connections: 50,
  durationS: 10,
  warmupS: 2,
  records: 10_000,
  valueSize: 100,
  seed: 1,
  etcd: 'etcd',
}

/** Bounds against typos. etcd refuses requests over 1.5 MiB; a value over 64 KiB is not this comparison's. */
const roundsMax = 20
const connectionsMax = 1000
const durationSMax = 600
const warmupSMax = 60
const recordsMax = 1_000_000
const valueSizeMax = 64 * 1024

/** The raw flag values as node:util parseArgs gives them. */
export interface EtcdCompareFlagValues {
  readonly rounds?: string
  readonly connections?: string
  readonly duration?: string
  readonly warmup?: string
  readonly records?: string
  readonly 'value-size'?: string
  readonly seed?: string
  readonly etcd?: string
  readonly json?: boolean
}

type Parsed<T> = Result<{value: T}, {message: string}>

export function parseEtcdCompareOptions(values: EtcdCompareFlagValues): Parsed<EtcdCompareOptions> {
  const d = etcdCompareDefaults
  const parsed = {
    rounds: integerFlag('rounds', values.rounds, d.rounds, 1, roundsMax),
    connections: integerFlag('connections', values.connections, d.connections, 1, connectionsMax),
    durationS: integerFlag('duration', values.duration, d.durationS, 1, durationSMax),
    warmupS: integerFlag('warmup', values.warmup, d.warmupS, 0, warmupSMax),
    records: integerFlag('records', values.records, d.records, 1, recordsMax),
    valueSize: integerFlag('value-size', values['value-size'], d.valueSize, 1, valueSizeMax),
    seed: integerFlag('seed', values.seed, d.seed, 0, 2 ** 31 - 1),
  }
  for (const result of Object.values(parsed)) if (!result.ok) return result
  const etcd = values.etcd ?? d.etcd
  if (etcd.trim() === '' || etcd.startsWith('-')) return {ok: false, message: `--etcd ${JSON.stringify(etcd)}: the etcd binary, a name on PATH or a path`}
  const value = (name: keyof typeof parsed): number => (parsed[name] as {value: number}).value
  return {
    ok: true,
    value: {
      rounds: value('rounds'),
      connections: value('connections'),
      durationS: value('durationS'),
      warmupS: value('warmupS'),
      records: value('records'),
      valueSize: value('valueSize'),
      seed: value('seed'),
      etcd,
      json: values.json === true,
    },
  }
}

/** "etcd Version: 3.4.23\nGit SHA: ..." → "3.4.23"; undefined when the output says no version. */
export function etcdVersionOf(output: string): string | undefined {
  return /etcd Version:\s*(\S+)/.exec(output)?.[1]
}

export interface EtcdMember {
  readonly name: string
  readonly clientPort: number
  readonly peerPort: number
}

/** The members of a cluster on loopback: clients from `firstPort`, peers after them. */
export function etcdMembers(count: number, firstPort: number): EtcdMember[] {
  return Array.from({length: count}, (_, i) => ({name: `e${i + 1}`, clientPort: firstPort + i, peerPort: firstPort + count + i}))
}

/**
 * One member's command line: loopback only, a fresh cluster with a token of its own (so that
 * members of two runs never join each other), warnings only in its log. Everything else is
 * etcd's default, as a user gets it: a fsync per commit, 100 ms heartbeats, linearizable reads.
 */
export function etcdMemberArgs(member: EtcdMember, members: readonly EtcdMember[], dataDir: string, token: string): string[] {
  const peer = (m: EtcdMember): string => `http://127.0.0.1:${m.peerPort}`
  const client = `http://127.0.0.1:${member.clientPort}`
  return [
    '--name',
    member.name,
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    client,
    '--advertise-client-urls',
    client,
    '--listen-peer-urls',
    peer(member),
    '--initial-advertise-peer-urls',
    peer(member),
    '--initial-cluster',
    members.map((m) => `${m.name}=${peer(m)}`).join(','),
    '--initial-cluster-state',
    'new',
    '--initial-cluster-token',
    token,
    '--logger',
    'zap',
    '--log-outputs',
    'stderr',
    '--log-level',
    'warn',
  ]
}

/** etcd 3.4's gateway paths (3.3 and 3.4 also serve them under /v3beta/). */
export const etcdPutPath = '/v3/kv/put'
export const etcdRangePath = '/v3/kv/range'
export const etcdStatusPath = '/v3/maintenance/status'

/** etcd's JSON gateway takes keys and values as base64 (they are bytes in its protobuf messages). */
export function etcdPutBody(key: string, value: Buffer): Buffer {
  return Buffer.from(`{"key":"${Buffer.from(key, 'utf8').toString('base64')}","value":"${value.toString('base64')}"}`)
}

export function etcdRangeBody(key: string): Buffer {
  return Buffer.from(`{"key":"${Buffer.from(key, 'utf8').toString('base64')}"}`)
}

/**
 * Whether a range answer found the key. The gateway leaves out empty fields, so an answer without
 * "kvs" found nothing; a substring check, rather than parsing the JSON, keeps the load
 * generator's work per answer as small as it is for dyn's raw value.
 */
export function etcdRangeFound(body: string): boolean {
  return body.includes('"kvs":[')
}

export function etcdPutStep(key: string, value: Buffer): HttpStep {
  return {method: 'POST', path: etcdPutPath, headers: {'content-type': 'application/json'}, body: etcdPutBody(key, value)}
}

export function etcdRangeStep(key: string): HttpStep {
  return {method: 'POST', path: etcdRangePath, headers: {'content-type': 'application/json'}, body: etcdRangeBody(key)}
}

export function etcdPutOutcome(reply: HttpReply): Outcome {
  return reply.status === 200 ? 'ok' : 'http_error'
}

export function etcdRangeOutcome(reply: HttpReply): Outcome {
  if (reply.status !== 200) return 'http_error'
  return etcdRangeFound(reply.body) ? 'ok' : 'not_found'
}

/** Whether the member that answered a status request is the leader (its own id is the leader's). */
export function etcdIsLeader(statusBody: string): boolean | undefined {
  try {
    const status = JSON.parse(statusBody) as {header?: {member_id?: unknown}; leader?: unknown}
    if (typeof status.header?.member_id !== 'string' || typeof status.leader !== 'string') return undefined
    return status.header.member_id === status.leader
  } catch {
    return undefined
  }
}

/**
 * dyn's requests: the raw value at /kv/KEY with the cluster's default N/R/W. A put carries the
 * context the key's previous put returned, as a client overwriting what it wrote does; without it
 * every put would be concurrent with the last and keep it as a sibling (Dynamo §4.4), and keys
 * would grow with each round while etcd's would not.
 */
export function dynPutStep(key: string, value: Buffer, context: string | undefined): HttpStep {
  const headers: Record<string, string> = {'content-type': 'application/octet-stream'}
  if (context !== undefined) headers['x-dyn-context'] = context
  return {method: 'PUT', path: `/kv/${encodeURIComponent(key)}`, headers, body: value}
}

export function dynGetStep(key: string): HttpStep {
  return {method: 'GET', path: `/kv/${encodeURIComponent(key)}`, headers: {}}
}

/** A put's 204 and a get's 200 (one version) or 300 (siblings) are answers; 404 found nothing. */
export function dynOutcome(reply: HttpReply): Outcome {
  if (reply.status >= 200 && reply.status < 400) return 'ok'
  if (reply.status === 404) return 'not_found'
  if (reply.status === 503 && reply.body.includes('quorum_unmet')) return 'quorum_unmet'
  if (reply.status === 503 && reply.body.includes('"overloaded"')) return 'overloaded'
  return 'http_error'
}

export type SystemName = 'dyn' | 'etcd'
export type KvOperation = 'put' | 'get'

/** The machine's CPU time counters, in clock ticks, from the first line of /proc/stat. */
export interface CpuTimes {
  readonly busy: number
  readonly total: number
}

/** The counters of a /proc/stat text (idle and iowait count as idle), or undefined when it has no `cpu` line. */
export function cpuTimesOf(procStat: string): CpuTimes | undefined {
  const line = procStat.split('\n').find((text) => text.startsWith('cpu '))
  if (line === undefined) return undefined
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number)
  if (fields.length < 5 || fields.some((value) => !Number.isFinite(value))) return undefined
  const total = fields.reduce((sum, value) => sum + value, 0)
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0)
  return {busy: total - idle, total}
}

/** The share of the machine's CPU time that was busy between two readings (0 when no time passed). */
export function busyShare(before: CpuTimes, after: CpuTimes): number {
  const total = after.total - before.total
  return total <= 0 ? 0 : (after.busy - before.busy) / total
}

/**
 * Clock ticks per second of the CPU times in /proc (USER_HZ): 100 on every Linux architecture's
 * user-space ABI, whatever the kernel's own tick rate.
 */
export const procTicksPerS = 100

/**
 * The CPU time one process has used, in ms (user + system, every thread of it), from the text of
 * its /proc/PID/stat; undefined when the text is not one. The command name (field 2) may hold
 * spaces and parentheses, so the fields are counted from the last ')'.
 */
export function processCpuMsOf(procPidStat: string): number | undefined {
  const cpu = processCpuOf(procPidStat)
  return cpu === undefined ? undefined : cpu.userMs + cpu.systemMs
}

/** The same, its user and system time apart (bench/experiments/put-floor.ts reports both). */
export function processCpuOf(procPidStat: string): {readonly userMs: number; readonly systemMs: number} | undefined {
  const end = procPidStat.lastIndexOf(')')
  if (end < 0) return undefined
  // After ')': state (field 3), ... utime is field 14 and stime field 15.
  const fields = procPidStat.slice(end + 1).trim().split(/\s+/)
  const userTicks = Number(fields[11])
  const systemTicks = Number(fields[12])
  if (!Number.isFinite(userTicks) || !Number.isFinite(systemTicks) || fields[11] === undefined || fields[12] === undefined) return undefined
  return {userMs: (userTicks * 1000) / procTicksPerS, systemMs: (systemTicks * 1000) / procTicksPerS}
}

/**
 * Between two stores' sessions the machine is let settle until its CPU is mostly idle: a store
 * that has just stopped (etcd's last WAL syncs, dyn's compactions) would otherwise run on into the
 * next store's measurement. Measured in two sessions before this wait: dyn's worst round was the
 * one right after etcd, each time.
 */
export const settleBusyShareMax = 0.25
export const settleWaitMsMax = 20_000
/** How long each look at the CPU lasts. */
export const settleSampleMs = 500

export function roundOrder(round: number): [SystemName, SystemName] {
  return round % 2 === 0 ? ['dyn', 'etcd'] : ['etcd', 'dyn']
}

/** One store's figures for one operation in one round. */
export interface OperationFigures {
  /** Operations answered successfully per second (failed and not-found ones left out). */
  readonly opsPerS: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly p999Ms: number
  /** Operations measured, and of those the ones that failed or found nothing (every key was loaded). */
  readonly count: number
  readonly failed: number
  /**
   * The CPU time the store's processes used per request measured (the warm-up left out), in µs:
   * the three nodes' or members' user + system time, every thread. It moves much less with the
   * machine's load than throughput does. Null when /proc could not be read.
   */
  readonly cpuUsPerOp: number | null
}

export interface RoundFigures {
  /** 1-based. */
  readonly round: number
  readonly order: readonly SystemName[]
  readonly dyn: Readonly<Record<KvOperation, OperationFigures>>
  readonly etcd: Readonly<Record<KvOperation, OperationFigures>>
  /** Whether the etcd member the load went to led the cluster (a follower forwards every put to the leader). */
  readonly etcdEndpointIsLeader: boolean | null
}

/** A ratio dyn / etcd, per round and summed up, against its target. */
export interface RatioSummary {
  readonly perRound: readonly number[]
  readonly geometricMean: number
  readonly min: number
  readonly max: number
  /** Throughput: dyn's at least `target` × etcd's. p99.9: dyn's at most `target` × etcd's. */
  readonly target: number
  readonly targetKind: 'at_least' | 'at_most'
  /** Rounds in which the ratio met its target. */
  readonly metRounds: number
}

/** dyn / etcd of the CPU per operation, per round: no target, it says where a throughput gap comes from. */
export interface CpuRatios {
  readonly perRound: readonly number[]
  readonly geometricMean: number
}

export interface EtcdComparison {
  readonly put: {readonly throughput: RatioSummary; readonly p999: RatioSummary; readonly cpuPerOp: CpuRatios | null}
  readonly get: {readonly throughput: RatioSummary; readonly p999: RatioSummary; readonly cpuPerOp: CpuRatios | null}
  /** Every target met in every round. */
  readonly targetsMet: boolean
}

/** The targets: puts and gets each at least 2× etcd's, a p99.9 no higher than etcd's. */
export const throughputRatioTarget = 2
export const p999RatioTarget = 1

function summary(perRound: readonly number[], target: number, targetKind: RatioSummary['targetKind']): RatioSummary {
  const met = perRound.filter((ratio) => (targetKind === 'at_least' ? ratio >= target : ratio <= target)).length
  return {perRound, geometricMean: geometricMean(perRound), min: Math.min(...perRound), max: Math.max(...perRound), target, targetKind, metRounds: met}
}

/**
 * dyn / etcd for each operation's throughput and p99.9, round by round: the two stores of one
 * round ran minutes apart at most, so their ratio is the figure that survives a shared machine's
 * drift. Refused when a figure is not positive (a store that answered nothing was not measured).
 */
export function compareStores(rounds: readonly RoundFigures[]): Parsed<EtcdComparison> {
  if (rounds.length === 0) return {ok: false, message: 'no rounds to compare'}
  for (const round of rounds) {
    for (const system of ['dyn', 'etcd'] as const) {
      for (const op of ['put', 'get'] as const) {
        const f = round[system][op]
        if (!(f.opsPerS > 0 && f.p999Ms > 0)) return {ok: false, message: `round ${round.round}: ${system} ${op}s measured ${f.opsPerS} ops/s and a p99.9 of ${f.p999Ms} ms: nothing to compare`}
      }
    }
  }
  const of = (op: KvOperation): EtcdComparison['put'] => ({
    throughput: summary(
      rounds.map((r) => r.dyn[op].opsPerS / r.etcd[op].opsPerS),
      throughputRatioTarget,
      'at_least',
    ),
    p999: summary(
      rounds.map((r) => r.dyn[op].p999Ms / r.etcd[op].p999Ms),
      p999RatioTarget,
      'at_most',
    ),
    cpuPerOp: cpuRatios(rounds.map((r) => [r.dyn[op].cpuUsPerOp, r.etcd[op].cpuUsPerOp])),
  })
  const put = of('put')
  const get = of('get')
  const targetsMet = [put.throughput, put.p999, get.throughput, get.p999].every((s) => s.metRounds === rounds.length)
  return {ok: true, value: {put, get, targetsMet}}
}

/** The CPU ratios of every round, or null when a round lacks a figure (no /proc). */
function cpuRatios(pairs: ReadonlyArray<readonly [number | null, number | null]>): CpuRatios | null {
  const perRound: number[] = []
  for (const [dyn, etcd] of pairs) {
    if (dyn === null || etcd === null || !(dyn > 0) || !(etcd > 0)) return null
    perRound.push(dyn / etcd)
  }
  return perRound.length === 0 ? null : {perRound, geometricMean: geometricMean(perRound)}
}

/** How the setup reads, for the text and the README. */
export function setupLines(options: EtcdCompareOptions, etcdVersion: string): string[] {
  return [
    `Closed loop (autocannon), ${options.connections} connections to one endpoint, ${options.valueSize}-byte values, ${options.records.toLocaleString('en-US')} keys loaded first and drawn uniformly; ${options.durationS} s measured after ${options.warmupS} s of the same load; puts, then gets; each store alone on the machine, on a fresh cluster, ${options.rounds} round(s), the order alternating.`,
    `etcd ${etcdVersion}: 3 members on loopback, its HTTP/JSON gateway (POST ${etcdPutPath}, ${etcdRangePath}, base64 keys and values), its defaults (a fsync per commit, linearizable reads).`,
    'dyn: 3 nodes, N/R/W 3/2/2, raw PUT and GET /kv/KEY on node n1; a put carries the context of the key\'s previous put (no siblings pile up); no fsync (DW 0, dyn\'s default).',
  ]
}

/** A Markdown table (as bench/experiments/common.ts makes them, without pulling in the runner). */
function markdownTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

function ratioCell(s: RatioSummary): string {
  return s.perRound.map((r) => r.toFixed(2)).join(', ')
}

/** The CPU per operation's ratio row, when every round measured it: no target (none is set for it). */
function cpuRow(op: KvOperation, ratios: CpuRatios | null): string[][] {
  if (ratios === null) return []
  return [[op, 'CPU per operation', ratios.perRound.map((r) => r.toFixed(2)).join(', '), ratios.geometricMean.toFixed(2), '-', '-']]
}

/** The figures as Markdown tables (a row per store and operation per round, then the ratios), to paste into bench/README.md. */
export function formatEtcdComparison(options: EtcdCompareOptions, etcdVersion: string, rounds: readonly RoundFigures[], comparison: EtcdComparison): string {
  const rows: string[][] = []
  for (const round of rounds) {
    for (const system of round.order) {
      for (const op of ['put', 'get'] as const) {
        const f = round[system][op]
        const leader = system === 'etcd' ? (round.etcdEndpointIsLeader === null ? '' : round.etcdEndpointIsLeader ? ' (endpoint: the leader)' : ' (endpoint: a follower)') : ''
        rows.push([String(round.round), `${system}${leader}`, op, figure(f.opsPerS), figure(f.p50Ms), figure(f.p99Ms), figure(f.p999Ms), f.cpuUsPerOp === null ? '-' : f.cpuUsPerOp.toFixed(0), String(f.failed)])
      }
    }
  }
  const target = (s: RatioSummary): string => `${s.targetKind === 'at_least' ? '≥' : '≤'} ${s.target}`
  const ratioRows = (['put', 'get'] as const).flatMap((op) => [
    [op, 'throughput', ratioCell(comparison[op].throughput), comparison[op].throughput.geometricMean.toFixed(2), target(comparison[op].throughput), `${comparison[op].throughput.metRounds} of ${rounds.length}`],
    [op, 'p99.9', ratioCell(comparison[op].p999), comparison[op].p999.geometricMean.toFixed(2), target(comparison[op].p999), `${comparison[op].p999.metRounds} of ${rounds.length}`],
    ...cpuRow(op, comparison[op].cpuPerOp),
  ])
  return [
    ...setupLines(options, etcdVersion),
    '',
    markdownTable(['round', 'store', 'operation', 'ops/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'CPU µs/op', 'failed'], rows),
    '',
    'CPU µs/op: the store\'s processes\' CPU time (user + system, every thread) per request measured.',
    '',
    'dyn / etcd, per round (throughput: higher is better for dyn; p99.9 and CPU per operation: lower is):',
    '',
    markdownTable(['operation', 'figure', 'per round', 'geometric mean', 'target', 'met in rounds'], ratioRows),
    '',
    `Issue 18's first target (every ratio on target in every round): ${comparison.targetsMet ? 'met' : 'not met'}.`,
    '',
  ].join('\n')
}
