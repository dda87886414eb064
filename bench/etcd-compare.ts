/**
 * `npm run bench:etcd`: dyn against etcd on this machine, issue 18's first target ("closed loop,
 * same machine, one run: puts and gets each at least 2× a 3-member etcd's, and a p99.9 no higher
 * than etcd's"), measured the way the issue did: autocannon, 50 connections to one endpoint,
 * 100-byte values, 10,000 keys, a 3-node dyn cluster at N/R/W 3/2/2 against a 3-member etcd
 * cluster, one after the other in one session.
 *
 * Each round starts a fresh cluster of one store, loads the keys, measures puts and then gets with
 * the bench's own closed loop (bench/closed-loop.ts: the same autocannon driver and the same HDR
 * recording for both stores, only the requests differ), stops it, and does the same with the
 * other store; the order alternates from round to round, so that neither store always runs on a
 * warmer or a busier machine. The requests, the ratios and the tables are in
 * bench/etcd-compare-core.ts.
 *
 * Every process it starts is stopped by its pid (etcd members with SIGTERM, then SIGKILL if they
 * linger; dyn nodes by `cluster down`), and their folders removed, on failure and on Ctrl-C too.
 * etcd is not a dependency: without it the script says how to install it and exits 3.
 *
 *   npm run bench:etcd -- [--rounds 3] [--connections 50] [--duration 10] [--warmup 2]
 *       [--records 10000] [--value-size 100] [--seed 1] [--etcd etcd] [--json]
 */

import {spawn, spawnSync} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtemp, open, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {parseArgs} from 'node:util'
import {clusterDownAndRemoveFolder, clusterUp} from '../src/cli/local-cluster.js'
import {freeClusterPorts, freePortRange} from '../src/cli/ports.js'
import {seededRandom} from '../src/clock.js'
import type {Random} from '../src/clock.js'
import {runClosedLoop} from './closed-loop.js'
import {HttpTargets} from './open-loop.js'
import {ContextCache} from './operations.js'
import type {OperationRun, OperationSource} from './operations.js'
import {Recorder} from './recorder.js'
import {figure} from './report.js'
import {failScript, readScriptFlags} from './script-flags.js'
import {keyName, valueOf} from './workloads.js'
import {
  busyShare,
  compareStores,
  cpuTimesOf,
  dynGetStep,
  dynOutcome,
  dynPutStep,
  etcdCompareExitCodeOf,
  etcdIsLeader,
  etcdMemberArgs,
  etcdMembers,
  etcdMissingMessage,
  etcdPutOutcome,
  etcdPutStep,
  etcdRangeOutcome,
  etcdRangeStep,
  etcdStatusPath,
  etcdVersionOf,
  formatEtcdComparison,
  parseEtcdCompareOptions,
  processCpuMsOf,
  roundOrder,
  settleBusyShareMax,
  settleSampleMs,
  settleWaitMsMax,
} from './etcd-compare-core.js'
import type {CpuTimes, EtcdCompareErrorCode, EtcdCompareOptions, KvOperation, OperationFigures, RoundFigures, SystemName} from './etcd-compare-core.js'

const usage = `Measure dyn against a 3-member etcd cluster on this machine (issue 18's first target).

USAGE
  npm run bench:etcd -- [FLAGS]
  node dist/bench/etcd-compare.js [FLAGS]        (after npm run build)

FLAGS
  --rounds N         rounds of one session per store, the order alternating [default: 3]
  --connections C    closed loop: requests in flight, on one endpoint [default: 50]
  --duration S       measured seconds per operation and store [default: 10]
  --warmup S         seconds of the same load before measuring [default: 2]
  --records R        keys loaded first, and the key space requests draw from [default: 10000]
  --value-size B     bytes per value [default: 100]
  --seed S           seed for keys and values (each round's stores get the same) [default: 1]
  --etcd PATH        the etcd binary [default: etcd, looked up on PATH]
  --json             print one JSON object: every round's figures and the dyn/etcd ratios
  --help             this text

WHAT IT DOES
  Per round and store: a fresh cluster on loopback (free ports, a temporary folder), the keys
  loaded, then puts and then gets measured with the bench's closed loop (autocannon, latency
  per request in HDR histograms). etcd: 3 members, its HTTP/JSON gateway (POST /v3/kv/put and
  /v3/kv/range), its defaults (fsync per commit, linearizable reads). dyn: 3 nodes, N/R/W
  3/2/2, PUT and GET /kv/KEY on one node. Prints throughput and p50/p99/p99.9 per store and
  operation, and dyn/etcd per round against the targets (throughput >= 2x, p99.9 <= etcd's).
  Everything started is stopped and removed, on failure and Ctrl-C too.

EXIT CODES
  0  measured (whether the targets were met is in the output: a measurement, not a check)
  1  a cluster did not start, the keys did not load, or a run failed [cluster_failed, run_failed]
  2  bad usage [bad_parameter]
  3  no etcd: install it (Debian/Ubuntu: sudo apt-get install etcd-server) or give --etcd [etcd_missing]
  130 interrupted [interrupted]

EXAMPLES
  The issue's comparison, three rounds (about 4 minutes here):
    npm run bench:etcd
  A quick look, one short round:
    npm run bench:etcd -- --rounds 1 --duration 3
  An etcd built elsewhere, the figures as JSON:
    npm run --silent bench:etcd -- --etcd /opt/etcd/etcd --json > etcd.json
`

/** A store's cluster must answer within this after its processes start. */
const readyTimeoutMs = 30_000
/** How often a starting etcd member is asked whether it is healthy, and how long one ask may take. */
const healthPollMs = 200
const healthRequestMs = 2000
/** How long an etcd member may take to exit after SIGTERM before it gets SIGKILL. */
const etcdStopGraceMs = 10_000
/** Seconds one request may take before it counts as a timeout. */
const requestTimeoutS = 10
/** Records are loaded with this many writes in flight (as the bench loads them). */
const loadConcurrency = 64
/** Characters of a member's log kept for an error message. */
const logTailChars = 2000

class EtcdCompareError extends Error {
  constructor(
    readonly code: EtcdCompareErrorCode,
    message: string,
  ) {
    super(message)
  }
}

/** A store running for one round: where the load goes, its requests, and how to stop it. */
interface RunningStore {
  readonly name: SystemName
  /** host:port of the one endpoint every request goes to. */
  readonly endpoint: string
  put(key: string, value: Buffer): OperationRun
  get(key: string): OperationRun
  /** etcd: whether the endpoint led the cluster when measuring began; dyn: null. */
  readonly endpointIsLeader: boolean | null
  /** The store's processes (the three nodes or members), whose CPU time each measurement reads. */
  readonly pids: readonly number[]
  stop(): Promise<void>
}

/** What must be stopped or removed if the run ends early; each entry removes itself when it runs. */
const cleanups = new Set<() => Promise<void>>()
/**
 * Clusters being started. An interrupt waits for them before it cleans up: stopping a cluster
 * while its nodes are still being started could miss the ones started after the stop.
 */
const starting = new Set<Promise<unknown>>()
/** Set by Ctrl-C or SIGTERM: nothing new is started after it. */
let interrupted = false

async function cleanUp(): Promise<void> {
  // The newest first; an entry registered meanwhile is found by the next turn.
  for (let last = [...cleanups].pop(); last !== undefined; last = [...cleanups].pop()) {
    cleanups.delete(last)
    await last().catch((error: Error) => process.stderr.write(`bench:etcd: cleaning up: ${error.message}\n`))
  }
}

/** Starts a store, known to an interrupt while it starts; refused once interrupted. */
async function startStore(system: SystemName, options: EtcdCompareOptions): Promise<RunningStore> {
  if (interrupted) throw new EtcdCompareError('interrupted', 'interrupted')
  const start = system === 'dyn' ? startDyn(options.records) : startEtcd(options.etcd)
  starting.add(start)
  try {
    return await start
  } finally {
    starting.delete(start)
  }
}

function log(line: string): void {
  process.stderr.write(`bench:etcd: ${line}\n`)
}

function fail(json: boolean, code: EtcdCompareErrorCode, message: string): never {
  failScript('bench:etcd', etcdCompareExitCodeOf(code), json, code, message)
}

/** The installed etcd's version, or etcd_missing saying how to get it. */
function etcdVersion(binary: string): string {
  const result = spawnSync(binary, ['--version'], {encoding: 'utf8', timeout: 10_000})
  if (result.error !== undefined) {
    const code = (result.error as NodeJS.ErrnoException).code
    throw new EtcdCompareError('etcd_missing', etcdMissingMessage(binary, code === 'ENOENT' ? 'was not found' : `could not be run (${result.error.message})`))
  }
  const version = etcdVersionOf(`${result.stdout}\n${result.stderr}`)
  if (result.status !== 0 || version === undefined) throw new EtcdCompareError('etcd_missing', etcdMissingMessage(binary, `--version did not say an etcd version (exit ${result.status})`))
  return version
}

/** A fresh 3-node dyn cluster, N/R/W 3/2/2, in a temporary folder on free ports. */
async function startDyn(records: number): Promise<RunningStore> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dyn-etcd-compare-dyn-'))
  const stop = async (): Promise<void> => {
    cleanups.delete(stop)
    await clusterDownAndRemoveFolder(dir, 3000, () => undefined)
  }
  cleanups.add(stop)
  const {port, rpcPort} = await freeClusterPorts(3)
  let cluster
  try {
    cluster = await clusterUp({dir, nodeCount: 3, port, rpcPort, settings: {defaultN: 3, defaultR: 2, defaultW: 2}, startArgs: [], readyTimeoutMs}, () => undefined)
  } catch (error) {
    throw new EtcdCompareError('cluster_failed', `the dyn cluster did not start: ${(error as Error).message}`)
  }
  const first = cluster.nodes[0]
  if (first === undefined) throw new EtcdCompareError('cluster_failed', 'the dyn cluster started without nodes')
  // Room for every key, so that a put always finds the context of the key's previous put.
  const contexts = new ContextCache(records + 1)
  return {
    name: 'dyn',
    endpoint: `${cluster.host}:${first.port}`,
    endpointIsLeader: null,
    pids: cluster.nodes.flatMap((node) => (node.pid === undefined ? [] : [node.pid])),
    put: (key, value) => ({
      kind: 'update',
      key,
      first: dynPutStep(key, value, contexts.get(key)),
      onReply: (reply) => {
        contexts.set(key, reply.contextHeader)
        return {done: true, outcome: dynOutcome(reply)}
      },
      abandon: () => undefined,
    }),
    get: (key) => ({kind: 'read', key, first: dynGetStep(key), onReply: (reply) => ({done: true, outcome: dynOutcome(reply)}), abandon: () => undefined}),
    stop,
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null
}

/** Waits for a child to exit, at most `ms`; true when it did. */
function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(exited(child)), ms)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

async function logTail(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '')
  return text.length <= logTailChars ? text.trim() : `...${text.slice(-logTailChars).trim()}`
}

/** A fresh 3-member etcd cluster on loopback in a temporary folder; the load goes to member e1. */
async function startEtcd(binary: string): Promise<RunningStore> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dyn-etcd-compare-etcd-'))
  const children: ChildProcess[] = []
  const stop = async (): Promise<void> => {
    cleanups.delete(stop)
    for (const child of children) if (!exited(child)) child.kill('SIGTERM')
    for (const child of children) {
      if (await waitForExit(child, etcdStopGraceMs)) continue
      child.kill('SIGKILL')
      await waitForExit(child, etcdStopGraceMs)
    }
    await rm(dir, {recursive: true, force: true})
  }
  cleanups.add(stop)
  const members = etcdMembers(3, await freePortRange(6))
  // A token of this run's own: members of another cluster on this machine never join this one.
  const token = `dyn-etcd-compare-${randomBytes(6).toString('hex')}`
  const logs = members.map((member) => path.join(dir, `${member.name}.log`))
  for (const [i, member] of members.entries()) {
    const logFile = await open(logs[i] as string, 'w')
    try {
      const child = spawn(binary, etcdMemberArgs(member, members, path.join(dir, member.name), token), {stdio: ['ignore', 'ignore', logFile.fd]})
      children.push(child)
      child.once('error', () => undefined)
    } finally {
      await logFile.close()
    }
  }
  const deadline = Date.now() + readyTimeoutMs
  for (const [i, member] of members.entries()) {
    for (;;) {
      const child = children[i] as ChildProcess
      if (exited(child)) throw new EtcdCompareError('cluster_failed', `etcd member ${member.name} exited while starting (${child.exitCode ?? child.signalCode}); its log:\n${await logTail(logs[i] as string)}`)
      const health = await fetch(`http://127.0.0.1:${member.clientPort}/health`, {signal: AbortSignal.timeout(healthRequestMs)})
        .then((response) => response.text())
        .catch(() => '')
      if (health.includes('"health":"true"')) break
      if (Date.now() > deadline) throw new EtcdCompareError('cluster_failed', `etcd member ${member.name} was not healthy within ${readyTimeoutMs / 1000} s; its log:\n${await logTail(logs[i] as string)}`)
      await new Promise((resolve) => setTimeout(resolve, healthPollMs))
    }
  }
  const endpoint = members[0] as (typeof members)[number]
  const status = await fetch(`http://127.0.0.1:${endpoint.clientPort}${etcdStatusPath}`, {method: 'POST', body: '{}', signal: AbortSignal.timeout(healthRequestMs)})
    .then((response) => response.text())
    .catch(() => '')
  return {
    name: 'etcd',
    endpoint: `127.0.0.1:${endpoint.clientPort}`,
    endpointIsLeader: etcdIsLeader(status) ?? null,
    pids: children.flatMap((child) => (child.pid === undefined ? [] : [child.pid])),
    put: (key, value) => ({kind: 'update', key, first: etcdPutStep(key, value), onReply: (reply) => ({done: true, outcome: etcdPutOutcome(reply)}), abandon: () => undefined}),
    get: (key) => ({kind: 'read', key, first: etcdRangeStep(key), onReply: (reply) => ({done: true, outcome: etcdRangeOutcome(reply)}), abandon: () => undefined}),
    stop,
  }
}

/** Every key written once, `loadConcurrency` at a time; a key that fails to load fails the round. */
async function loadKeys(store: RunningStore, options: EtcdCompareOptions, random: Random): Promise<void> {
  const targets = new HttpTargets(requestTimeoutS, loadConcurrency)
  let next = 0
  let failed = 0
  let firstFailure = ''
  const worker = async (): Promise<void> => {
    while (next < options.records) {
      const index = next
      next += 1
      const result = await targets.execute(store.endpoint, store.put(keyName(index), valueOf(options.valueSize, random)))
      if (result.outcome !== 'ok') {
        failed += 1
        firstFailure ||= result.outcome
      }
    }
  }
  try {
    await Promise.all(Array.from({length: loadConcurrency}, worker))
  } finally {
    await targets.close()
  }
  if (failed > 0) throw new EtcdCompareError('cluster_failed', `${failed} of ${options.records} keys could not be loaded into ${store.name} (the first: ${firstFailure})`)
}

/** One operation measured on one store: the closed loop on its one endpoint, keys drawn uniformly. */
async function measure(store: RunningStore, operation: KvOperation, options: EtcdCompareOptions, random: Random): Promise<OperationFigures> {
  const recorder = new Recorder()
  const source: OperationSource = {
    next: () => {
      const key = keyName(random.int(options.records))
      return operation === 'put' ? store.put(key, valueOf(options.valueSize, random)) : store.get(key)
    },
  }
  try {
    // Read when the warm-up ends, as the closed loop starts counting (its clock starts with the call).
    const cpuBefore = new Promise<number | undefined>((resolve) => setTimeout(() => resolve(storeCpuMs(store)), options.warmupS * 1000))
    const totals = await runClosedLoop({nodes: [store.endpoint], connections: options.connections, durationS: options.durationS, warmupS: options.warmupS, timeoutS: requestTimeoutS, factory: source, recorder})
    const cpuAfterMs = await storeCpuMs(store)
    const cpuBeforeMs = await cpuBefore
    const kind = recorder.summary(totals.elapsedS)[0]
    if (kind === undefined || kind.count === 0 || totals.elapsedS <= 0) throw new EtcdCompareError('run_failed', `${store.name} answered no ${operation} in ${options.durationS} s`)
    const errors = Object.values(kind.errors).reduce((sum, n) => sum + n, 0)
    // Every key was loaded, so a get that found nothing failed too.
    const failed = errors + kind.notFound + totals.transportErrors.timeout + totals.transportErrors.connection
    return {
      opsPerS: Math.max(0, kind.count - errors - kind.notFound) / totals.elapsedS,
      p50Ms: kind.latency.p50Ms,
      p99Ms: kind.latency.p99Ms,
      p999Ms: kind.latency.p999Ms,
      count: kind.count,
      failed,
      cpuUsPerOp: cpuBeforeMs === undefined || cpuAfterMs === undefined || totals.httpRequests === 0 ? null : ((cpuAfterMs - cpuBeforeMs) * 1000) / totals.httpRequests,
    }
  } finally {
    recorder.destroy()
  }
}

/** The CPU time the store's processes have used so far, in ms; undefined when one cannot be read (no /proc, or it exited). */
async function storeCpuMs(store: RunningStore): Promise<number | undefined> {
  if (store.pids.length === 0) return undefined
  const each = await Promise.all(store.pids.map(async (pid) => processCpuMsOf(await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''))))
  return each.every((ms) => ms !== undefined) ? each.reduce((sum: number, ms) => sum + (ms ?? 0), 0) : undefined
}

/** One store's session in one round: start, load, puts, gets, stop. */
async function session(system: SystemName, options: EtcdCompareOptions, round: number, label: string): Promise<{figures: Record<KvOperation, OperationFigures>; endpointIsLeader: boolean | null}> {
  log(`${label} ${system}: starting a fresh 3-${system === 'dyn' ? 'node' : 'member'} cluster`)
  const store = await startStore(system, options)
  try {
    // The same seed for both stores of a round: the same keys and values, in the same order.
    const random = seededRandom(options.seed + round)
    log(`${label} ${system}: loading ${options.records} keys into ${store.endpoint}${store.endpointIsLeader === null ? '' : store.endpointIsLeader ? ' (the leader)' : ' (a follower)'}`)
    await loadKeys(store, options, random)
    const figures = {} as Record<KvOperation, OperationFigures>
    for (const operation of ['put', 'get'] as const) {
      // Interrupted, the clusters are being stopped: measuring them now would only count failures.
      if (interrupted) throw new EtcdCompareError('interrupted', 'interrupted')
      log(`${label} ${system}: ${operation}s, ${options.warmupS} s warm-up + ${options.durationS} s`)
      figures[operation] = await measure(store, operation, options, random)
      const f = figures[operation]
      log(`${label} ${system} ${operation}: ${figure(f.opsPerS)} ops/s, p50 ${figure(f.p50Ms)} ms, p99 ${figure(f.p99Ms)} ms, p99.9 ${figure(f.p999Ms)} ms${f.failed > 0 ? `, ${f.failed} failed` : ''}`)
    }
    return {figures, endpointIsLeader: store.endpointIsLeader}
  } finally {
    await store.stop()
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const json = args.includes('--json')
  const values = readScriptFlags(
    () =>
      parseArgs({
        args,
        strict: true,
        allowPositionals: false,
        options: {
          rounds: {type: 'string'},
          connections: {type: 'string'},
          duration: {type: 'string'},
          warmup: {type: 'string'},
          records: {type: 'string'},
          'value-size': {type: 'string'},
          seed: {type: 'string'},
          etcd: {type: 'string'},
          json: {type: 'boolean'},
          help: {type: 'boolean', short: 'h'},
        },
      }).values,
    usage,
    (message) => fail(json, 'bad_parameter', message),
  )
  if (values === undefined) return
  const parsed = parseEtcdCompareOptions(values)
  if (!parsed.ok) fail(json, 'bad_parameter', parsed.message)
  const options = parsed.value

  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return
    interrupted = true
    log(`${signal}: stopping every cluster started and removing its folder`)
    void Promise.allSettled([...starting])
      .then(() => cleanUp())
      .then(() => fail(options.json, 'interrupted', `interrupted by ${signal}: every process started was stopped and its folder removed`))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    const version = etcdVersion(options.etcd)
    const rounds: RoundFigures[] = []
    for (let round = 0; round < options.rounds; round += 1) {
      const order = roundOrder(round)
      const measured = {} as Record<SystemName, Awaited<ReturnType<typeof session>>>
      for (const system of order) {
        await settle(`round ${round + 1}/${options.rounds}: before ${system}`)
        measured[system] = await session(system, options, round, `round ${round + 1}/${options.rounds}:`)
      }
      rounds.push({round: round + 1, order, dyn: measured.dyn.figures, etcd: measured.etcd.figures, etcdEndpointIsLeader: measured.etcd.endpointIsLeader})
    }
    const compared = compareStores(rounds)
    if (!compared.ok) throw new EtcdCompareError('run_failed', compared.message)
    if (options.json) {
      const {json: _json, ...shown} = options
      process.stdout.write(`${JSON.stringify({ok: true, etcdVersion: version, options: shown, rounds, ratios: {put: compared.value.put, get: compared.value.get}, targetsMet: compared.value.targetsMet}, null, 2)}\n`)
    } else {
      process.stdout.write(formatEtcdComparison(options, version, rounds, compared.value))
    }
  } catch (error) {
    await cleanUp()
    if (interrupted) return // The signal handler answers and exits.
    if (error instanceof EtcdCompareError) fail(options.json, error.code, error.message)
    throw error
  } finally {
    if (!interrupted) {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  }
}

await main()

/**
 * Waits (at most settleWaitMsMax) until the machine's CPU was at most settleBusyShareMax busy over
 * half a second, and says how long it took: a store's session must not run while the previous
 * one's processes are still winding down.
 */
async function settle(label: string): Promise<void> {
  const started = Date.now()
  const read = async (): Promise<CpuTimes | undefined> => cpuTimesOf(await readFile('/proc/stat', 'utf8').catch(() => ''))
  let share = Number.NaN
  while (Date.now() - started < settleWaitMsMax) {
    const before = await read()
    await new Promise((resolve) => setTimeout(resolve, settleSampleMs))
    const after = await read()
    if (before === undefined || after === undefined) return
    share = busyShare(before, after)
    if (share <= settleBusyShareMax) break
  }
  log(`${label}: the machine settled for ${((Date.now() - started) / 1000).toFixed(1)} s (CPU ${(share * 100).toFixed(0)}% busy over the last ${settleSampleMs} ms)`)
}
