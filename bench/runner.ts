/**
 * `dyn bench` end to end: start a cluster if asked (with TLS when given its files), calibrate
 * against a trivial HTTP server (HTTPS, with the nodes' certificate, for a run over HTTPS), load
 * the records, run the workload in a closed or open loop, and report (paper §2.2: SLAs at the
 * 99.9th percentile). The command only parses flags and renders; everything measured comes
 * from here, so experiments and CI call the same function.
 */

import hdr from 'hdr-histogram-js'
import {spawn} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import {mkdtemp, writeFile} from 'node:fs/promises'
import {availableParallelism, tmpdir} from 'node:os'
import path from 'node:path'
import {performance} from 'node:perf_hooks'
import {fileURLToPath} from 'node:url'
import {seededRandom} from '../src/clock.js'
import {checkPortsFree, clusterDownAndRemoveFolder, clusterUp, loadLocalClusterTls, localClusterHost, localMachineCount, localNodeNames, rpcPortOffset} from '../src/cli/local-cluster.js'
import type {UpOptions} from '../src/cli/local-cluster.js'
import {freeClusterPorts, freePortRange} from '../src/cli/ports.js'
import {exitCodeOf, exitCodes} from '../src/cli/exit-codes.js'
import {DynClient, NotDynNodeError, UnreachableError} from '../src/client/http-client.js'
import {PartitionAwareClient} from '../src/client/partition-aware-client.js'
import {assert, DynError} from '../src/errors.js'
import type {ClientTls} from '../src/transport/tls-ca-file.js'
import type {TlsFiles} from '../src/transport/tls-options.js'
import {localClusterRoutes, localProxyHost, startFaultProxy} from '../src/verify/fault-proxy.js'
import {capacityResult, capacityStartRatePerSDefault, describeEnding, nextCapacityRate} from './capacity.js'
import type {CapacityResult, CapacitySearchOptions, CapacityStep} from './capacity.js'
import {runClosedLoop} from './closed-loop.js'
import {keyChooser} from './distributions.js'
import type {DistributionName} from './distributions.js'
import {HttpTargets, openLoopConnectionsPerNodeDefault, runOpenLoop} from './open-loop.js'
import {injectFaults} from './fault-injector.js'
import type {FaultableCluster, FaultOutcome, RunningFaults} from './fault-injector.js'
import {defaultFaultDurationS, planFaults, runWindows} from './faults.js'
import type {FaultSpec, PlannedFault} from './faults.js'
import {ContextCache, OperationFactory} from './operations.js'
import {clusterDefaultsOf, clusterRuleOf, refusedQuorum, runQuorum, startedClusterDefaults} from './quorum.js'
import type {RunQuorum} from './quorum.js'
import {Recorder} from './recorder.js'
import type {AnsweredFailure, KindSummary, TimelineWindow} from './recorder.js'
import {answerText, failureAdvice, failureCode} from './failed-run.js'
import {judge, verdictsThroughFaults} from './sla.js'
import type {Sla, TargetVerdict} from './sla.js'
import {workloads} from './workloads.js'
import type {OperationKind, WorkloadName} from './workloads.js'

export type LoopMode = {readonly kind: 'closed'; readonly connections: number} | {readonly kind: 'open'; readonly ratePerS: number}

export interface BenchConfig {
  /** Client API addresses of a running cluster; empty when the bench starts its own. */
  readonly nodes: readonly string[]
  /** Nodes of the cluster to start when `nodes` is empty. */
  readonly startNodes: number
  /** The client API port of the first node started; undefined: free ports from the OS. */
  readonly startPort?: number
  /** The internode port of the first node started; undefined: startPort + 1000, else free ports from the OS. */
  readonly startRpcPort?: number
  /** Extra `dyn start` flags for a cluster the bench starts (e.g. --write-buffer-ms 100). */
  readonly clusterArgs: readonly string[]
  /** Nodes per machine of a cluster the bench starts (dyn cluster up --processes-per-machine); undefined: 1. */
  readonly startProcessesPerMachine?: number
  readonly workload: WorkloadName
  readonly distribution: DistributionName
  readonly records: number
  readonly valueSize: number
  readonly n?: number
  readonly r?: number
  readonly w?: number
  readonly dw?: number
  readonly mode: LoopMode
  readonly durationS: number
  /** Seconds of the same load before measuring (connections opened, hot paths compiled). */
  readonly warmupS: number
  readonly load: boolean
  readonly clientDriven: boolean
  readonly calibrate: boolean
  readonly calibrationS: number
  readonly seed: number
  readonly timeoutS: number
  /** Open loop: keep-alive connections per node; undefined: the driver's default (64). */
  readonly connectionsPerNode?: number
  /** Open loop: false sends every operation, however much its node sheds; true or undefined: throttled at the client (src/client/client-throttle.ts). */
  readonly clientThrottle?: boolean
  /**
   * Open loop: told when the run's measured window starts and ends (performance.now()), for
   * experiments that read the machine over it; with --find-capacity, once per step. Not told of
   * the calibration's floor.
   */
  readonly onMeasuredWindow?: (edge: 'start' | 'end', atMs: number) => void
  /** Faults to inject into the cluster the bench starts (open loop only). */
  readonly faults?: readonly FaultSpec[]
  /** How long each fault lasts; undefined: a third of the run. */
  readonly faultDurationS?: number
  /** Search for the highest rate that meets the SLA instead of one run (open loop, SLA needed). */
  readonly capacitySearch?: Omit<CapacitySearchOptions, 'startRatePerS'>
  /**
   * HTTPS to every node of `nodes`, trusting `ca` (the system's CAs without it) and presenting
   * `cert` if given; undefined: plain HTTP. Never in the report (it holds a private key). For a
   * cluster the bench starts, give `startTls` instead: the runner reaches it with its CA.
   */
  readonly tls?: ClientTls
  /**
   * The TLS files of the cluster the bench starts (`nodes` empty), as `dyn cluster up --tls-cert
   * --tls-key --tls-ca` takes them: every node serves HTTPS and mutual TLS with the one
   * certificate, which must name 127.0.0.1; the bench reaches the nodes over HTTPS trusting the
   * CA, and `calibrate` serves its trivial server with the same certificate. Undefined: the
   * cluster serves plain HTTP. Never in the report (the report says `https`).
   */
  readonly startTls?: StartTlsFiles
}

/** The files a cluster the bench starts serves TLS with (no client CA: the bench presents no certificate). */
export type StartTlsFiles = Pick<TlsFiles, 'certFile' | 'keyFile' | 'caFile'>

export interface ProgressSnapshot {
  readonly phase: 'starting' | 'calibrating' | 'loading' | 'running' | 'done'
  readonly elapsedS: number
  readonly durationS: number
  readonly done: number
  readonly total?: number
  readonly operations: readonly KindSummary[]
  /** What this phase is, when there is more to say than its name (a step of the capacity search). */
  readonly label?: string
}

export interface PhaseResult {
  readonly elapsedS: number
  /** Operations accepted per second (shed ones aside). */
  readonly opsPerS: number
  /** Operations answered successfully per second (ok or not found). */
  readonly goodputPerS?: number
  /** Operations shed by a node (503 overloaded). */
  readonly shed?: number
  /** Operations the client's throttle refused before sending (src/client/client-throttle.ts). */
  readonly throttled?: number
  readonly httpRequests: number
  readonly operations: readonly KindSummary[]
  readonly transportErrors: {readonly timeout: number; readonly connection: number}
  readonly notStarted?: number
}

/** How fast one node answered the requests it shed, from its /stats. */
export interface NodeRefusalTimes {
  readonly node: string
  readonly count: number
  readonly p99Us: number
  readonly maxUs: number
  /** The figures are the node's since it started, not the run's alone: it sent no histogram to subtract (an older dyn). */
  readonly sinceStart?: true
}

/** One node's refusal times as its /stats gave them at one moment: since it started, with the histogram when it sends one. */
export interface NodeRefusalSnapshot extends NodeRefusalTimes {
  readonly histogram?: string
  /** How long the node had served then (/stats uptimeMs): lower later means it restarted in between. */
  readonly uptimeMs?: number
}

/** One span of a run with faults, judged on its own (bench/faults.ts). */
export interface WindowReport {
  readonly name: string
  readonly fromS: number
  readonly toS: number
  readonly operations: readonly KindSummary[]
  /** Operations due in this window that the open loop never started (too many in flight): failures. */
  readonly notStarted?: number
  readonly sla?: {readonly met: boolean; readonly verdicts: readonly TargetVerdict[]}
}

export interface CapacityReport extends CapacityResult {
  readonly sla: string
  readonly steps: readonly CapacityStep[]
  /** Why the search ended, in words. */
  readonly endedBecause: string
}

export interface BenchReport {
  /** The run's settings; `https` when the nodes were reached over TLS (the certificates and their files are left out). */
  readonly config: Omit<BenchConfig, 'tls' | 'startTls' | 'onMeasuredWindow'> & {
    readonly targetNodes: readonly string[]
    readonly https?: true
    /**
     * The quorum every request ran with, the cluster's defaults filled in (bench/quorum.ts), as a
     * node's GET /cluster said before the load; absent when no node said, and in reports from
     * before it was recorded.
     */
    readonly quorum?: RunQuorum
  }
  readonly calibration?: Calibration & {readonly ratio: number}
  readonly load?: {readonly records: number; readonly elapsedS: number; readonly failed: number}
  readonly run: PhaseResult
  /** The measured run second by second: throughput and tail over time. */
  readonly timeline: readonly TimelineWindow[]
  /** The faults injected, and what happened to each. */
  readonly faults?: readonly FaultOutcome[]
  /** With faults: before, during and after each, judged apart. */
  readonly windows?: readonly WindowReport[]
  /**
   * When the nodes shed: how fast each answered its refusals during the run (warm-up included),
   * from its /stats before and after (a node's figures since it started when it sends no
   * histogram, or restarted meanwhile; the issue 16 target is a p99 under 1 ms at the node).
   */
  readonly nodeRefusalTimes?: readonly NodeRefusalTimes[]
  /** With --find-capacity: every step of the search; `run` is then the step at the rate found (or the last). */
  readonly capacity?: CapacityReport
  readonly sla?: {readonly name: string; readonly met: boolean; readonly verdicts: readonly TargetVerdict[]}
  /** Whether the cluster the bench started used every core of this machine (absent for --node). */
  readonly cores?: CoreUse
  readonly histograms: Record<string, string>
}

/** The node processes of a cluster the bench started, the machines they form, and this machine's cores. */
export interface CoreUse {
  readonly nodeProcesses: number
  readonly machines: number
  readonly cores: number
}

/** What a run was doing, said when it is interrupted: no report is made then (commands/bench.ts). */
export type RunPhase = 'checking' | 'calibrating' | 'starting' | 'loading' | 'running'

/** A run stopped by a signal, told once what it started has been stopped and removed. */
export interface Interruption {
  readonly signal: NodeJS.Signals
  readonly phase: RunPhase
}

const phaseWords: Record<RunPhase, string> = {
  checking: 'checking the run',
  calibrating: 'calibrating',
  starting: 'starting',
  loading: 'loading the records',
  running: 'running the workload (warm-up or measured run)',
}

/**
 * What an interrupted run says: when, that it made no report, and what became of the cluster (a
 * started one is stopped and removed; nodes given with --node are left as they were, with the
 * records it loaded; before the run began, nothing was started).
 */
export function interruptionMessage(interruption: Interruption, aftermath: 'started_cluster' | 'given_nodes' | 'nothing_started'): string {
  const cluster = {
    started_cluster: 'the cluster it started was stopped and its folder removed',
    given_nodes: 'the nodes given with --node are left running, with the records it loaded',
    nothing_started: 'nothing was started',
  }[aftermath]
  return `interrupted by ${interruption.signal} while ${phaseWords[interruption.phase]}: no report was made (an interrupted run measured less than it was set to); ${cluster}`
}

/** Records are loaded with this many writes in flight. */
const loadConcurrency = 64
/** Times one record a node shed is sent again during the load, and the first wait (the node's hint), doubling. */
const loadShedRetriesMax = 5
const loadShedRetryDelayMs = 200
/** How often progress is reported while a phase runs. */
const progressIntervalMs = 250

/**
 * `onProgress` gets a snapshot of the run every 250 ms and at each phase; without one (a run with
 * --json, an experiment) none is made: a snapshot summarises every histogram of the run, which
 * took 6% of the bench's CPU in a closed loop when nothing read it.
 */
export async function runBench(
  asked: BenchConfig,
  sla: Sla | undefined,
  onProgress?: (snapshot: ProgressSnapshot) => void,
  onInterrupted?: (interruption: Interruption) => void,
): Promise<BenchReport> {
  const cleanups: Array<() => Promise<void>> = []
  let cleaning: Promise<void> | undefined
  const cleanUp = (): Promise<void> => {
    cleaning ??= (async () => {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined)
    })()
    return cleaning
  }
  // Interrupted, the bench still stops the cluster and the calibration server it started: they
  // are detached processes, and would otherwise keep their ports. The caller is told only once
  // they are stopped, so that what it says of them is true, and exits 130 whatever it does.
  let phase: RunPhase = 'checking'
  const onSignal = (signal: NodeJS.Signals): void => {
    void cleanUp().then(() => {
      try {
        onInterrupted?.({signal, phase})
      } finally {
        process.exit(exitCodes.interrupted)
      }
    })
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    // Everything the user asked for is checked before anything starts.
    const planned = plannedFaults(asked)
    if (asked.capacitySearch !== undefined && sla === undefined) throw new DynError('bad_parameter', '--find-capacity searches for the highest rate that meets an SLA: give one with --sla FILE')
    checkTls(asked)
    await checkStartPort(asked)
    const config = await reachingStartedTls(asked)
    // Nodes given with --node are asked first too: one that does not answer, or answers in the
    // other scheme, is refused as a bad flag is, before any line says the run is starting (a
    // user took "starting" followed by the refusal for a run that had begun) and before a
    // calibration that would only be thrown away.
    if (config.nodes.length > 0) await checkReachable(config.nodes, config.timeoutS, config.tls)
    // And so is the quorum asked of them (clusterQuorum refuses one the nodes would refuse).
    const givenQuorum = config.nodes.length > 0 ? await clusterQuorum(config, config.nodes) : undefined
    // Starting has no length of its own to show progress against (durationS 0: none).
    onProgress?.({phase: 'starting', elapsedS: 0, durationS: 0, done: 0, operations: []})
    phase = config.calibrate ? 'calibrating' : 'starting'
    const calibration = config.calibrate ? await calibrate(config, onProgress, cleanups) : undefined
    phase = 'starting'
    const started = config.nodes.length > 0 ? undefined : await startCluster(config, cleanups)
    const nodes = started?.addresses ?? config.nodes
    // A cluster the bench started is asked once it serves: starting it is what "starting" says.
    if (started !== undefined) await checkReachable(nodes, config.timeoutS, config.tls)
    const quorum = started === undefined ? givenQuorum : await clusterQuorum(config, nodes)
    const contexts = new ContextCache(config.records * 2 + 1_000_000)
    const random = seededRandom(config.seed)
    const chooser = keyChooser(config.distribution, config.records, random)
    const factory = new OperationFactory({workload: workloads[config.workload], chooser, contexts, valueSize: config.valueSize, quorum: {n: config.n, r: config.r, w: config.w, dw: config.dw}, random})
    phase = 'loading'
    const load = config.load ? await loadRecords(config, nodes, factory, onProgress) : undefined
    phase = 'running'
    const route = config.clientDriven ? await clientDrivenRoute(nodes, config.tls) : undefined
    const measure = (mode: LoopMode, label?: string): Promise<Measured> =>
      measureRun({...config, mode}, nodes, factory, route, sla, onProgress, label, started === undefined || planned.length === 0 ? undefined : {cluster: started.faultable, faults: planned, cleanups})
    // The nodes' refusal times before the run, so that the report gives the run's own (its
    // warm-up, and with --find-capacity every step, included).
    const refusalsBefore = await refusalTimesOf(nodes, config.timeoutS, config.tls)
    const measured = config.capacitySearch === undefined ? await measure(config.mode) : await searchCapacity(config, sla as Sla, measure)
    // Done says the whole run against the length the running phase showed (warm-up included).
    onProgress?.({phase: 'done', elapsedS: config.durationS + config.warmupS, durationS: config.durationS + config.warmupS, done: 0, operations: measured.run.operations})
    const {run} = measured
    const nodeRefusalTimes = (run.shed ?? 0) > 0 ? refusalTimesBetween(refusalsBefore, await refusalTimesOf(nodes, config.timeoutS, config.tls)).filter((node) => node.count > 0) : undefined
    const {tls, startTls: _startTls, onMeasuredWindow: _onMeasuredWindow, ...reported} = config
    return {
      config: {
        ...reported,
        ...(measured.capacity === undefined ? {} : {mode: measured.capacity.runMode}),
        // An open loop's report always says whether it throttled (the default), for --baseline.
        ...((measured.capacity?.runMode ?? config.mode).kind === 'open' ? {clientThrottle: config.clientThrottle ?? true} : {}),
        targetNodes: nodes,
        ...(tls === undefined ? {} : {https: true as const}),
        ...(quorum === undefined ? {} : {quorum}),
      },
      ...(calibration === undefined ? {} : {calibration: {...calibration, ratio: calibration.opsPerS > 0 ? run.opsPerS / calibration.opsPerS : 0}}),
      ...(load === undefined ? {} : {load}),
      run,
      timeline: measured.timeline,
      ...(measured.faults === undefined ? {} : {faults: measured.faults, windows: measured.windows ?? []}),
      ...(measured.capacity === undefined ? {} : {capacity: measured.capacity.report}),
      ...(measured.sla === undefined || sla === undefined ? {} : {sla: {name: sla.name, ...measured.sla}}),
      ...(nodeRefusalTimes === undefined ? {} : {nodeRefusalTimes}),
      ...(started === undefined ? {} : {cores: {nodeProcesses: started.faultable.cluster.nodes.length, machines: localMachineCount(started.faultable.cluster), cores: availableParallelism()}}),
      histograms: measured.histograms,
    }
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await cleanUp()
  }
}

/** One measured run: what the report says of it. */
interface Measured {
  readonly run: PhaseResult
  readonly timeline: readonly TimelineWindow[]
  readonly histograms: Record<string, string>
  readonly sla?: {readonly met: boolean; readonly verdicts: readonly TargetVerdict[]}
  readonly faults?: readonly FaultOutcome[]
  readonly windows?: readonly WindowReport[]
  readonly capacity?: {readonly report: CapacityReport; readonly runMode: LoopMode}
}

/** The faults asked for, placed in the run; refused (bad_parameter) when they cannot be injected. */
function plannedFaults(config: BenchConfig): PlannedFault[] {
  const specs = config.faults ?? []
  if (specs.length === 0) return []
  if (config.nodes.length > 0) {
    throw new DynError('bad_parameter', '--fault needs a cluster the bench started, whose processes it can kill, pause and cut off: leave out --node and give --nodes N')
  }
  if (config.mode.kind !== 'open') {
    throw new DynError('bad_parameter', '--fault needs the open loop (--rate R, or an SLA file with a rate): a closed loop slows down with the cluster, so a fault would hide in fewer requests rather than show in their latency')
  }
  if (config.capacitySearch !== undefined) throw new DynError('bad_parameter', '--fault and --find-capacity do not go together: find the capacity first, then run at that rate with the fault')
  // The proxy tells the nodes' connections apart by the Hello each starts with (fault-proxy.ts),
  // which TLS encrypts: no cut would apply, and the run would report a partition that never was.
  if (config.startTls !== undefined && specs.some((spec) => spec.kind === 'partition')) {
    throw new DynError('bad_parameter', '--fault partition cuts the links between nodes in a proxy that tells their connections apart by the first message of each, which TLS encrypts, so no cut would apply: with --tls-cert use --fault kill or pause, or run the partition on a cluster without TLS')
  }
  const placed = planFaults(specs, localNodeNames(config.startNodes), config.durationS, config.faultDurationS ?? defaultFaultDurationS(config.durationS))
  if (!placed.ok) throw new DynError('bad_parameter', placed.message)
  return placed.value
}

async function measureRun(
  config: BenchConfig,
  nodes: readonly string[],
  factory: OperationFactory,
  route: ((key: string) => string) | undefined,
  sla: Sla | undefined,
  onProgress: ((snapshot: ProgressSnapshot) => void) | undefined,
  label: string | undefined,
  faulty: {readonly cluster: FaultableCluster; readonly faults: readonly PlannedFault[]; readonly cleanups: Array<() => Promise<void>>} | undefined,
): Promise<Measured> {
  const recorder = new Recorder()
  let injected: RunningFaults | undefined
  // What the nodes answered when they failed, this run's only (not the load's, nor an earlier step's).
  factory.clearFailures()
  try {
    const driven = await withProgress('running', config.durationS + config.warmupS, recorder, onProgress, label, () => {
      const driving = drive(config, nodes, factory, recorder, route)
      if (faulty !== undefined) {
        // The driver names the start of the measured run before it first waits; faults keep its clock.
        const originMs = recorder.timelineOrigin
        assert(originMs !== undefined, 'the driver starts the timeline before it first waits')
        injected = injectFaults(faulty.cluster, faulty.faults, originMs)
        // Interrupted (Ctrl-C), the bench's cleanups abort the faults before they stop the cluster:
        // no node is started again, none stays paused, no cut stays.
        const running = injected
        faulty.cleanups.push(async () => {
          running.abort()
          await running.done
        })
      }
      return driving
    })
    const run = withFirstFailures(driven, factory.firstFailures)
    // The run is over: the fault under way ends now, reverted as planned (a killed node started again).
    injected?.stop()
    const faults = await injected?.done
    // The open loop's transport failures are already operations in the histograms; the closed
    // loop's are not, and count on their own.
    // The open loop's operations that were never started (too many in flight) failed too.
    const unanswered = config.mode.kind === 'closed' ? run.transportErrors.timeout + run.transportErrors.connection : (run.notStarted ?? 0)
    let verdicts = sla === undefined ? undefined : judge(sla, run.operations, (kind, p) => recorder.percentileMs(kind, p), unanswered)
    let windows: WindowReport[] | undefined
    if (faults !== undefined) {
      windows = runWindows(faulty?.faults ?? [], config.durationS).map((window) => {
        const part = recorder.window(window.fromS, window.toS)
        const operations = part.summary(window.toS - window.fromS)
        const notStarted = recorder.notStartedIn(window.fromS, window.toS)
        const windowVerdicts = sla === undefined ? undefined : judge(sla, operations, (kind, p) => part.percentileMs(kind, p), notStarted, {absentNotJudged: true})
        part.destroy()
        return {...window, operations, ...(notStarted > 0 ? {notStarted} : {}), ...(windowVerdicts === undefined ? {} : {sla: {met: windowVerdicts.every((v) => v.met), verdicts: windowVerdicts}})}
      })
      if (verdicts !== undefined) verdicts = verdictsThroughFaults(verdicts, windows, faults)
    }
    return {
      run,
      timeline: recorder.timeline(),
      histograms: recorder.encodedHistograms(),
      ...(verdicts === undefined ? {} : {sla: {met: verdicts.every((v) => v.met), verdicts}}),
      ...(faults === undefined ? {} : {faults, windows: windows ?? []}),
    }
  } finally {
    // Whatever happened to the run, no fault outlives it.
    if (injected !== undefined) {
      injected.abort()
      await injected.done
    }
    recorder.destroy()
  }
}

/**
 * Runs the open loop at the rates bench/capacity.ts chooses, each a full run (warm-up and
 * duration) on the same cluster and records, and keeps the run at the rate found (or, when none
 * met the SLA, the last) as the report's run.
 */
async function searchCapacity(config: BenchConfig, sla: Sla, measure: (mode: LoopMode, label?: string) => Promise<Measured>): Promise<Measured> {
  const search = config.capacitySearch as Omit<CapacitySearchOptions, 'startRatePerS'>
  const options: CapacitySearchOptions = {...search, startRatePerS: config.mode.kind === 'open' ? config.mode.ratePerS : (sla.run.ratePerS ?? capacityStartRatePerSDefault)}
  const steps: CapacityStep[] = []
  const runs = new Map<number, Measured>()
  let last: Measured | undefined
  for (;;) {
    const decision = nextCapacityRate(steps, options)
    if ('ended' in decision) {
      const result = capacityResult(steps, decision.ended)
      const kept = (result.foundRatePerS === null ? undefined : runs.get(result.foundRatePerS)) ?? (last as Measured)
      const rate = result.foundRatePerS ?? steps[steps.length - 1]?.ratePerS ?? options.startRatePerS
      return {
        ...kept,
        capacity: {report: {...result, sla: sla.name, steps: [...steps].sort((a, b) => a.ratePerS - b.ratePerS), endedBecause: describeEnding(decision.ended, options)}, runMode: {kind: 'open', ratePerS: rate}},
      }
    }
    const rate = decision.next
    const measured = await measure({kind: 'open', ratePerS: rate}, `step ${steps.length + 1} of at most ${options.stepsMax}: ${rate} ops/s`)
    last = measured
    runs.set(rate, measured)
    const verdicts = measured.sla?.verdicts ?? []
    steps.push({
      ratePerS: rate,
      met: measured.sla?.met === true,
      goodputPerS: measured.run.goodputPerS ?? measured.run.opsPerS,
      operations: measured.run.operations.map((op) => ({operation: op.operation, p50Ms: op.latency.p50Ms, p99Ms: op.latency.p99Ms, p999Ms: op.latency.p999Ms})),
      missed: verdicts.filter((v) => !v.met).map((v) => v.target),
    })
  }
}

/**
 * TLS that the bench cannot give as asked is refused before anything starts. `--calibrate` over
 * HTTPS serves its trivial server with the nodes' own certificate and key, so that the ceiling is
 * measured in the run's protocol: the bench holds them only for a cluster it starts (`startTls`),
 * and a ceiling measured in plain HTTP would not be the ceiling of an HTTPS run.
 */
function checkTls(config: BenchConfig): void {
  if (config.startTls !== undefined) {
    // The command builds one or the other: files for a cluster it starts, a client's TLS for --node.
    assert(config.nodes.length === 0 && config.tls === undefined, 'startTls is for a cluster the bench starts, which it reaches with that cluster\'s CA alone')
    return
  }
  if (config.tls === undefined) return
  if (config.nodes.length === 0) throw new DynError('bad_parameter', 'a client\'s TLS (--tls-ca, a client certificate or an https:// address) is for the nodes of a running cluster given with --node; for a cluster dyn bench starts with TLS, give it --tls-cert, --tls-key and --tls-ca')
  if (config.calibrate) {
    throw new DynError(
      'bad_parameter',
      "--calibrate over HTTPS serves its trivial server with the nodes' certificate and key, which dyn bench holds only for a cluster it starts: leave --calibrate out for a running cluster over TLS, or let the bench start one with --nodes N --tls-cert FILE --tls-key FILE --tls-ca FILE (a certificate naming 127.0.0.1) to measure this machine's HTTPS ceiling",
    )
  }
}

/**
 * The run as a client sees it: for a cluster the bench starts with TLS, HTTPS trusting that
 * cluster's CA (the nodes ask for no client certificate). The files are read and checked as
 * `dyn cluster up` checks them, certificate naming 127.0.0.1 included, before anything starts:
 * a wrong file would otherwise be found only after the calibration.
 */
async function reachingStartedTls(config: BenchConfig): Promise<BenchConfig> {
  if (config.startTls === undefined) return config
  const loaded = await loadLocalClusterTls(config.startTls, localClusterHost)
  return {...config, tls: {ca: loaded.ca, source: `--tls-ca ${config.startTls.caFile}`}}
}

export async function refusalTimesOf(nodes: readonly string[], timeoutS: number, tls?: ClientTls): Promise<NodeRefusalSnapshot[]> {
  const times: NodeRefusalSnapshot[] = []
  for (const node of nodes) {
    const stats = await new DynClient(node, timeoutS * 1000, tls === undefined ? {} : {tls}).getJson('/stats').catch(() => undefined)
    if (stats === undefined || !stats.ok) continue
    const refusal = (stats.body.admission as {refusalTimes?: {count?: unknown; p99Us?: unknown; maxUs?: unknown; histogram?: unknown}} | undefined)?.refusalTimes
    if (typeof refusal?.count === 'number' && typeof refusal.p99Us === 'number' && typeof refusal.maxUs === 'number') {
      const uptimeMs = stats.body.uptimeMs
      times.push({node, count: refusal.count, p99Us: refusal.p99Us, maxUs: refusal.maxUs, ...(typeof refusal.histogram === 'string' ? {histogram: refusal.histogram} : {}), ...(typeof uptimeMs === 'number' ? {uptimeMs} : {})})
    }
  }
  return times
}

/**
 * Each node's refusals between two snapshots: its histogram at `after` less the one at `before`,
 * so that a run's figures are its own and not mixed with what the node refused earlier (a node
 * that served closed loops before an overload refused in them too, behind the work it served).
 * A node without both histograms keeps its figures since start, marked so; one that answered
 * neither time is left out.
 */
export function refusalTimesBetween(before: readonly NodeRefusalSnapshot[], after: readonly NodeRefusalSnapshot[]): NodeRefusalTimes[] {
  return after.map((later) => {
    const previous = before.find((snapshot) => snapshot.node === later.node)
    // A node that restarted in between (a fault of the run) counts from its new start: all of it is the run's.
    const restarted = previous?.uptimeMs !== undefined && later.uptimeMs !== undefined && previous.uptimeMs > later.uptimeMs
    const earlier = restarted ? undefined : previous
    if (later.histogram === undefined || (earlier !== undefined && earlier.histogram === undefined)) return {node: later.node, count: later.count, p99Us: later.p99Us, maxUs: later.maxUs, sinceStart: true as const}
    const window = hdr.decodeFromCompressedBase64(later.histogram, 'packed')
    if (earlier?.histogram !== undefined) window.subtract(hdr.decodeFromCompressedBase64(earlier.histogram, 'packed'))
    // The top of each bucket, as the node gives its own figures.
    return {node: later.node, count: window.totalCount, p99Us: window.totalCount === 0 ? 0 : window.getValueAtPercentile(99), maxUs: window.totalCount === 0 ? 0 : window.getValueAtPercentile(100)}
  })
}

/**
 * The quorum the run's requests use, the cluster's defaults as the first node that says them
 * gives them; undefined when none does (an older dyn). Asked of the cluster even when the bench
 * started it, so that the report says what the nodes hold, not what the bench expected. An n, r,
 * w or dw given that the nodes would refuse every request for is refused here (bad_parameter,
 * exit 2), in the node's words, before anything is loaded.
 */
async function clusterQuorum(config: BenchConfig, nodes: readonly string[]): Promise<RunQuorum | undefined> {
  for (const node of nodes) {
    const cluster = await new DynClient(node, config.timeoutS * 1000, config.tls === undefined ? {} : {tls: config.tls}).getJson('/cluster').catch(() => undefined)
    const defaults = cluster?.ok === true ? clusterDefaultsOf(cluster.body) : undefined
    if (cluster?.ok !== true || defaults === undefined) continue
    const rule = clusterRuleOf(cluster.body)
    const refused = rule === undefined ? undefined : refusedQuorum(config, rule)
    if (refused !== undefined) throw new DynError('bad_parameter', `${refused} (${node} would refuse every request of the run so; nothing was loaded)`)
    return runQuorum(config, defaults)
  }
  return undefined
}

/**
 * The quorum a run about to start will use, for --baseline's check before the run: for a
 * cluster the bench starts, from dyn's creation defaults; for --node, as the cluster says
 * (undefined when no node answers, which the run itself then reports).
 */
export async function plannedQuorum(config: BenchConfig): Promise<RunQuorum | undefined> {
  if (config.nodes.length === 0) return runQuorum(config, startedClusterDefaults(config.startNodes))
  return clusterQuorum(config, config.nodes)
}

/** Every target node must answer before loading starts; a benchmark of a dead node measures nothing. */
async function checkReachable(nodes: readonly string[], timeoutS: number, tls: ClientTls | undefined): Promise<void> {
  for (const node of nodes) {
    const client = new DynClient(node, timeoutS * 1000, tls === undefined ? {} : {tls})
    const health = await client.getJson('/health')
    if (!health.ok && health.error === 'not_a_dyn_node') throw new NotDynNodeError(health.message)
    // A node's HTTPS port asked in plain HTTP says so itself: the address to fix, not an outage.
    if (!health.ok && health.error === 'https_required') throw new DynError('https_required', `${node}: ${health.message}`)
    if (!health.ok) throw new UnreachableError(node, `GET /health answered ${health.status}`)
    // /health is answered without a client certificate; a node started with --tls-client-ca
    // would refuse every operation of a bench that has none, so that is found out now.
    if (tls === undefined) continue
    const cluster = await client.getJson('/cluster')
    if (!cluster.ok && cluster.error === 'unauthenticated') throw new DynError('unauthenticated', `${node}: ${cluster.message}`)
  }
}

async function drive(config: BenchConfig, nodes: readonly string[], factory: OperationFactory, recorder: Recorder, route: ((key: string) => string) | undefined): Promise<PhaseResult> {
  const totals =
    config.mode.kind === 'closed'
      ? await runClosedLoop({nodes, connections: config.mode.connections, durationS: config.durationS, warmupS: config.warmupS, timeoutS: config.timeoutS, factory, recorder, ...(config.tls === undefined ? {} : {tls: config.tls})})
      : await runOpenLoop({
          nodes,
          ratePerS: config.mode.ratePerS,
          durationS: config.durationS,
          warmupS: config.warmupS,
          timeoutS: config.timeoutS,
          factory,
          recorder,
          ...(route === undefined ? {} : {route}),
          ...(config.connectionsPerNode === undefined ? {} : {connectionsPerNode: config.connectionsPerNode}),
          ...(config.clientThrottle === undefined ? {} : {clientThrottle: config.clientThrottle}),
          ...(config.tls === undefined ? {} : {tls: config.tls}),
          ...(config.onMeasuredWindow === undefined ? {} : {onMeasuredWindow: config.onMeasuredWindow}),
        })
  const operations = recorder.summary(totals.elapsedS)
  const count = operations.reduce((sum, op) => sum + op.count, 0)
  return {
    elapsedS: totals.elapsedS,
    opsPerS: totals.elapsedS > 0 ? count / totals.elapsedS : 0,
    goodputPerS: operations.reduce((sum, op) => sum + op.goodputPerS, 0),
    shed: operations.reduce((sum, op) => sum + op.shed, 0),
    throttled: operations.reduce((sum, op) => sum + (op.throttled ?? 0), 0),
    httpRequests: totals.httpRequests,
    operations,
    transportErrors: totals.transportErrors,
    ...('notStarted' in totals ? {notStarted: (totals as {notStarted: number}).notStarted} : {}),
  }
}

async function withProgress<T extends PhaseResult>(
  phase: ProgressSnapshot['phase'],
  durationS: number,
  recorder: Recorder,
  onProgress: ((snapshot: ProgressSnapshot) => void) | undefined,
  label: string | undefined,
  work: () => Promise<T>,
): Promise<T> {
  if (onProgress === undefined) return work()
  const begin = performance.now()
  const timer = setInterval(() => {
    const elapsedS = (performance.now() - begin) / 1000
    onProgress({phase, elapsedS, durationS, done: recorder.totalCount, operations: recorder.summary(elapsedS), ...(label === undefined ? {} : {label})})
  }, progressIntervalMs)
  try {
    return await work()
  } finally {
    clearInterval(timer)
  }
}

/** A cluster the bench started: its client addresses, and what fault injection needs. */
interface StartedCluster {
  readonly addresses: string[]
  readonly faultable: FaultableCluster
}

async function startCluster(config: BenchConfig, cleanups: Array<() => Promise<void>>): Promise<StartedCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dyn-bench-'))
  cleanups.push(async () => {
    await clusterDownAndRemoveFolder(dir, 3000, () => undefined)
  })
  // Ports in use are refused by cluster up, with the bench's way to choose others.
  const {port, rpcPort} = await benchClusterPorts(config)
  // Partitions need the nodes' links to pass through a fault proxy, as dyn verify runs them: the
  // nodes bind 127.0.0.1 and advertise the proxy's side of loopback. Only a run with a
  // partition pays for the extra hop.
  const wantsProxy = (config.faults ?? []).some((fault) => fault.kind === 'partition')
  const proxy = wantsProxy
    ? await startFaultProxy(localClusterRoutes(localNodeNames(config.startNodes), {port, rpcPort}, localProxyHost)).catch((error: Error) => {
        throw new DynError('unreachable', `the fault proxy for --fault partition cannot listen on ${localProxyHost} (${error.message}); it needs the loopback addresses 127.0.0.0/8 (Linux) and those ports free`)
      })
    : undefined
  if (proxy !== undefined) cleanups.push(() => proxy.close())
  const upOptions: UpOptions = {
    dir,
    command: 'bench',
    nodeCount: config.startNodes,
    port,
    rpcPort,
    startArgs: [...config.clusterArgs, ...startTlsArgs(config.startTls)],
    readyTimeoutMs: 30_000,
    portsInUseAdvice: benchPortsInUseAdvice(config),
    ...(proxy === undefined ? {} : {advertiseHost: localProxyHost}),
    ...(config.startProcessesPerMachine === undefined ? {} : {processesPerMachine: config.startProcessesPerMachine}),
  }
  const cluster = await clusterUp(upOptions, () => undefined)
  // A restart (after --fault kill) starts only what does not run, with the folder's own flags
  // (no startArgs given) and the same advertised host, which the folder's cluster must match.
  const restartOptions: UpOptions = {...upOptions, startArgs: []}
  return {addresses: cluster.nodes.map((node) => `${cluster.host}:${node.port}`), faultable: {cluster, upOptions: restartOptions, ...(proxy === undefined ? {} : {proxy})}}
}

/**
 * The `dyn start` flags of a cluster the bench starts with TLS, as `dyn cluster up` gives them:
 * absolute paths, since the folder keeps them for a restart (after --fault kill).
 */
function startTlsArgs(files: StartTlsFiles | undefined): string[] {
  if (files === undefined) return []
  return ['--tls-cert', path.resolve(files.certFile), '--tls-key', path.resolve(files.keyFile), '--tls-ca', path.resolve(files.caFile)]
}

/**
 * The ports of the cluster the bench starts, K of each kind: client ports from --port and
 * internode ports from --rpc-port; without --rpc-port, from --port + 1000 (as dyn cluster up);
 * what neither flag fixes, from runs of ports the OS says are free.
 */
async function benchClusterPorts(config: BenchConfig): Promise<{port: number; rpcPort: number}> {
  const count = config.startNodes
  const fixed = fixedBenchPorts(config)
  if (fixed.port === undefined && fixed.rpcPort === undefined) return freeClusterPorts(count)
  if (fixed.port !== undefined) return {port: fixed.port, rpcPort: fixed.rpcPort ?? fixed.port + rpcPortOffset}
  const rpcPort = fixed.rpcPort as number
  // Only --rpc-port given: free client ports beside it, drawn again while a run would overlap it.
  for (let attempt = 0; attempt < freeClientPortAttemptsMax; attempt += 1) {
    const port = await freePortRange(count)
    if (port + count <= rpcPort || rpcPort + count <= port) return {port, rpcPort}
  }
  throw new DynError('unreachable', `no ${count} free client port(s) apart from --rpc-port ${rpcPort}..${rpcPort + count - 1} after ${freeClientPortAttemptsMax} draws; give --port too`)
}

/** Draws of free client ports for a cluster with --rpc-port alone; the OS's free ports are many, so a few suffice. */
const freeClientPortAttemptsMax = 20

/** The first client and internode ports the user fixed for the bench's cluster (--port, --rpc-port, or --port + 1000). */
function fixedBenchPorts(config: BenchConfig): {port?: number; rpcPort?: number} {
  const port = config.startPort
  const rpcPort = config.startRpcPort ?? (port === undefined ? undefined : port + rpcPortOffset)
  return {...(port === undefined ? {} : {port}), ...(rpcPort === undefined ? {} : {rpcPort})}
}

/**
 * --port and --rpc-port, checked before anything starts and said in the bench's own flags: every
 * port they imply must exist, the two runs must not overlap, and none may be in use (cluster up
 * would refuse them too, but only after "starting").
 */
async function checkStartPort(config: BenchConfig): Promise<void> {
  if (config.nodes.length > 0) return
  const {port, rpcPort} = fixedBenchPorts(config)
  if (port === undefined && rpcPort === undefined) return
  const count = config.startNodes
  // Each run of ports, with the flag that places it: the internode run follows --port (1000
  // above) unless --rpc-port places it.
  const derived = config.startRpcPort === undefined
  const runs = [
    ...(port === undefined ? [] : [{flag: '--port', said: `--port ${port}`, what: 'client', first: port}]),
    ...(rpcPort === undefined ? [] : [{flag: derived ? '--port' : '--rpc-port', said: derived ? `--port ${port} + ${rpcPortOffset}` : `--rpc-port ${rpcPort}`, what: 'internode', first: rpcPort}]),
  ]
  for (const run of runs) {
    if (run.first + count - 1 > 65535) {
      // Without --rpc-port, --port also places the internode ports 1000 above: the lowest it can
      // be is the one that keeps those within range too.
      const lowest = 65535 - count + 1 - (run.flag === '--port' && derived ? rpcPortOffset : 0)
      const viaPort = derived && run.what === 'internode'
      throw new DynError(
        'bad_parameter',
        `${run.said}: the bench's ${count} node(s) take ${run.what} ports ${run.first}..${run.first + count - 1}, all at most 65535; choose ${run.flag} ${lowest} or lower${viaPort ? ', give --rpc-port,' : ','} or leave it out for free ports the OS gives`,
      )
    }
  }
  if (port !== undefined && rpcPort !== undefined && port < rpcPort + count && rpcPort < port + count) {
    throw new DynError('bad_parameter', `--port ${port} and --rpc-port ${rpcPort}: the bench's ${count} node(s) would take client ports ${port}..${port + count - 1} and internode ports ${rpcPort}..${rpcPort + count - 1}, which overlap; choose runs ${count} apart or more`)
  }
  const wanted = localNodeNames(count).flatMap((name, index) => [
    ...(port === undefined ? [] : [{port: port + index, what: `the client port of ${name}`}]),
    ...(rpcPort === undefined ? [] : [{port: rpcPort + index, what: `the internode port of ${name}`}]),
  ])
  await checkPortsFree(localClusterHost, wanted, benchPortsInUseAdvice(config))
}

/** What to do when a port of the bench's cluster is in use, in the bench's own flags. */
function benchPortsInUseAdvice(config: BenchConfig): string {
  const {port, rpcPort} = fixedBenchPorts(config)
  if (port === undefined && rpcPort === undefined) return 'run dyn bench again: it draws other free ports each time'
  const count = config.startNodes
  const taken = [
    ...(port === undefined ? [] : [`client ports ${port}..${port + count - 1}`]),
    ...(rpcPort === undefined ? [] : [`internode ports ${rpcPort}..${rpcPort + count - 1}${config.startRpcPort === undefined ? ` (--port + ${rpcPortOffset})` : ''}`]),
  ]
  const drawn = port === undefined ? ', or run again: its client ports are drawn anew each time' : ''
  return `give dyn bench other ports with --port and --rpc-port (its ${count} node(s) would take ${taken.join(' and ')}${port === undefined ? ' and free client ports the OS gives' : ''}), or leave them out for free ports the OS gives${drawn}`
}

/**
 * What the trivial server measured: this machine's HTTP ceiling (a closed loop, the same driver),
 * and for an open loop also its floor, the latency the driver and the machine alone add at the
 * run's rate.
 */
export type Calibration = PhaseResult & {
  /**
   * What the trivial server served, as it said itself: `https` (with the nodes' certificate) for
   * a run over HTTPS, so that the ceiling and the run pay for the same protocol.
   */
  readonly protocol: CalibrationProtocol
  /**
   * The same open loop, at the run's rate and with as many connections, against the trivial
   * server: a run's percentiles cannot be told apart from the machine's below these.
   */
  readonly floor?: PhaseResult
}

export type CalibrationProtocol = 'http' | 'https'

async function calibrate(config: BenchConfig, onProgress: ((snapshot: ProgressSnapshot) => void) | undefined, cleanups: Array<() => Promise<void>>): Promise<Calibration> {
  assert(config.tls === undefined || config.startTls !== undefined, 'the trivial server serves HTTPS only with the certificate of a cluster the bench starts: checkTls refuses --calibrate over TLS otherwise')
  const server = await startTrivialServer(config.valueSize, config.startTls)
  // Stopped on every way out, the refusal just below included.
  cleanups.push(async () => {
    server.child.kill('SIGTERM')
  })
  // The drivers reach it as they reach the nodes: a server that did not serve the run's protocol
  // would fail every request, but the ceiling must not even look measured then.
  assert(server.protocol === (config.tls === undefined ? 'http' : 'https'), `the calibration server serves ${server.protocol}, and the run goes over ${config.tls === undefined ? 'http' : 'https'}`)
  const factoryOf = (seed: number): OperationFactory => {
    const random = seededRandom(seed)
    return new OperationFactory({
      workload: workloads[config.workload],
      chooser: keyChooser(config.distribution, config.records, random),
      contexts: new ContextCache(config.records * 2),
      valueSize: config.valueSize,
      quorum: {},
      random,
    })
  }
  const address = `127.0.0.1:${server.port}`
  const recorder = new Recorder()
  const connections = config.mode.kind === 'closed' ? config.mode.connections : 50
  const durationS = config.calibrationS
  // The progress counts the warm-up too, as the run's does.
  const result = await withProgress('calibrating', durationS + config.warmupS, recorder, onProgress, undefined, async () => {
    const factory = factoryOf(config.seed + 1)
    const totals = await runClosedLoop({nodes: [address], connections, durationS, warmupS: config.warmupS, timeoutS: config.timeoutS, factory, recorder, ...(config.tls === undefined ? {} : {tls: config.tls})})
    const operations = recorder.summary(totals.elapsedS)
    const count = operations.reduce((sum, op) => sum + op.count, 0)
    return {protocol: server.protocol, elapsedS: totals.elapsedS, opsPerS: count / totals.elapsedS, httpRequests: totals.httpRequests, operations, transportErrors: totals.transportErrors}
  })
  recorder.destroy()
  // A capacity search runs at many rates: one floor would describe none of them.
  const floor = config.mode.kind === 'open' && config.capacitySearch === undefined ? await measureFloor(config, address, factoryOf(config.seed + 2), onProgress) : undefined
  server.child.kill('SIGTERM')
  return floor === undefined ? result : {...result, floor}
}

/** The open loop of the run, at its rate and with as many connections as it keeps to all its nodes, against the one trivial server. */
async function measureFloor(config: BenchConfig, address: string, factory: OperationFactory, onProgress: ((snapshot: ProgressSnapshot) => void) | undefined): Promise<PhaseResult> {
  const targetCount = Math.max(1, config.nodes.length > 0 ? config.nodes.length : config.startNodes)
  const connectionsPerNode = (config.connectionsPerNode ?? openLoopConnectionsPerNodeDefault) * targetCount
  const recorder = new Recorder()
  // The run's window is told to whoever asked; the floor's is not the run's.
  const {onMeasuredWindow: _runWindow, ...floorConfig} = config
  const floor = await withProgress('calibrating', config.calibrationS + config.warmupS, recorder, onProgress, 'floor', () =>
    drive({...floorConfig, durationS: config.calibrationS, connectionsPerNode}, [address], factory, recorder, undefined),
  )
  recorder.destroy()
  return floor
}

/**
 * The trivial server in its own process, serving HTTPS with `tls`'s certificate and key when
 * given, else plain HTTP; resolves with the port and the protocol it says it serves.
 */
function startTrivialServer(valueSize: number, tls: StartTlsFiles | undefined): Promise<{child: ChildProcess; port: number; protocol: CalibrationProtocol}> {
  const script = fileURLToPath(new URL('./trivial-server.js', import.meta.url))
  const files = tls === undefined ? [] : [path.resolve(tls.certFile), path.resolve(tls.keyFile)]
  const child = spawn(process.execPath, [script, String(valueSize), ...files], {stdio: ['ignore', 'pipe', 'inherit']})
  return new Promise((resolve, reject) => {
    let said = ''
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`the calibration server exited (${code})`)))
    // One line, "PORT PROTOCOL", which may come in more than one chunk; nothing after it is read.
    const hear = (chunk: Buffer): void => {
      said += chunk.toString()
      if (!said.includes('\n')) return
      child.stdout?.off('data', hear)
      const [port, protocol] = said.trim().split(' ')
      if (protocol === 'http' || protocol === 'https') {
        resolve({child, port: Number(port), protocol})
        return
      }
      child.kill('SIGTERM')
      reject(new Error(`the calibration server said ${JSON.stringify(said.trim())}, not its port and protocol`))
    }
    child.stdout?.on('data', hear)
  })
}

/** Each kind's first answered failure, beside its counts. */
function withFirstFailures(run: PhaseResult, failures: ReadonlyMap<OperationKind, AnsweredFailure>): PhaseResult {
  if (failures.size === 0) return run
  return {
    ...run,
    operations: run.operations.map((op) => {
      const firstFailure = failures.get(op.operation)
      return firstFailure === undefined ? op : {...op, firstFailure}
    }),
  }
}

async function loadRecords(config: BenchConfig, nodes: readonly string[], factory: OperationFactory, onProgress: ((snapshot: ProgressSnapshot) => void) | undefined): Promise<{records: number; elapsedS: number; failed: number}> {
  const targets = new HttpTargets(config.timeoutS, loadConcurrency, nodes, config.tls)
  // A running cluster (--node) may hold the records from an earlier run: each is read first, and
  // written with its context (see OperationFactory.loadRecord). A cluster the bench started is empty.
  const readFirst = config.nodes.length > 0
  const begin = performance.now()
  let next = 0
  let done = 0
  let failed = 0
  let lastFailure: string | undefined
  const timer = setInterval(() => {
    onProgress?.({phase: 'loading', elapsedS: (performance.now() - begin) / 1000, durationS: config.durationS, done, total: config.records, operations: []})
  }, progressIntervalMs)
  const worker = async (): Promise<void> => {
    while (next < config.records && targets.tlsFailure === undefined) {
      const index = next
      next += 1
      let result = await targets.execute(nodes[index % nodes.length] as string, factory.loadRecord(index, readFirst))
      // The load is not measured: a record a node shed (refused before any work, so safe to send
      // again) is sent again after a jittered wait, as the clients do, a bounded number of times.
      for (let retry = 0; result.outcome === 'overloaded' && retry < loadShedRetriesMax; retry += 1) {
        await new Promise((resolve) => setTimeout(resolve, loadShedRetryDelayMs * 2 ** retry * (0.5 + Math.random())))
        result = await targets.execute(nodes[index % nodes.length] as string, factory.loadRecord(index, readFirst))
      }
      if (result.outcome !== 'ok') {
        failed += 1
        lastFailure = result.outcome
      }
      done += 1
    }
  }
  try {
    await Promise.all(Array.from({length: loadConcurrency}, worker))
  } finally {
    clearInterval(timer)
    await targets.close()
  }
  targets.throwIfTlsFailed()
  // Not one record stored: the run could only measure failures, so it stops here, with what the
  // nodes answered (a refused parameter exits 2, an unavailable cluster 3).
  if (failed === config.records) {
    const firstFailure = factory.firstFailures.get('insert')
    const code = failureCode(lastFailure, firstFailure)
    throw new DynError(code, `the load stored none of its ${config.records} records (${lastFailure ?? 'failed'}${answerText(firstFailure)}), so nothing was measured; ${failureAdvice(exitCodeOf(code) === exitCodes.usage)}`, firstFailure === undefined ? {} : {firstFailure})
  }
  return {records: config.records, elapsedS: (performance.now() - begin) / 1000, failed}
}

async function clientDrivenRoute(nodes: readonly string[], tls: ClientTls | undefined): Promise<(key: string) => string> {
  const client = await PartitionAwareClient.connect(nodes, tls === undefined ? {} : {tls})
  return (key) => client.routeFor(key)
}

export async function writeHistograms(file: string, report: BenchReport): Promise<void> {
  await writeFile(file, `${JSON.stringify({format: 'HdrHistogram compressed base64, microseconds, one per operation', workload: report.config.workload, histograms: report.histograms}, null, 2)}\n`)
}
