/**
 * A local cluster: K `dyn start` processes, detached, sharing one folder that holds each
 * node's data, log, pid and exit record, and a `cluster.json` describing them. `dyn cluster
 * up|down` are thin wrappers around these functions (and `status` around cluster-status.ts),
 * and so are the integration tests.
 *
 * A node is only ever taken for ready when its own process answers: `GET /health` must name the
 * pid this folder started and the cluster id the folder's first node created. A port answered by
 * some other process (another cluster holding the same ports, say) proves nothing.
 */

import {spawn} from 'node:child_process'
import {closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync} from 'node:fs'
import {lstat, readdir, readFile, realpath, rename, rm, rmdir, writeFile} from 'node:fs/promises'
import {makeFolder} from '../node/make-folder.js'
import {constants as osConstants} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {DynClient} from '../client/http-client.js'
import type {ClientTls} from '../client/http-client.js'
import {DynError} from '../errors.js'
import {clusterSecretFileName, writeNewSecretFile} from '../node/cluster-secret.js'
import {leftClusterLogLine} from '../node/log-lines.js'
import type {CreationSettings} from './cluster-settings.js'
import {checkCreationSettings, creationSettingsArgs, creationSettingsDefault, settingFlags} from './cluster-settings.js'
import {portsInUse} from './ports.js'
import {processStateOf} from './process-state.js'
import {folderLockFileName, isFolderLockEntry, takeFolderLock, withFolderLock} from './folder-lock.js'
import {loadNodeTls, tlsFilesOf} from '../transport/tls-options.js'
import {clientIdentityFromEnvironment, failureText, parseFailureLine} from './command-output.js'
import type {NodeTls, TlsFiles} from '../transport/tls-options.js'
import {counted, shellQuote} from './format.js'
import {mergeStartFlags, startFlagChanges, startFlagChangeText, startFlagsRefusal, tlsStartFlags} from './start-flags.js'

export interface LocalNode {
  readonly name: string
  readonly port: number
  readonly rpcPort: number
  readonly dataDir: string
  readonly logFile: string
  /**
   * The machine it shares with other nodes of the folder (`--processes-per-machine`): started with
   * `dyn start --machine`, so that a key's replicas go to distinct machines. Absent: its own.
   */
  readonly machine?: string
  pid: number | undefined
  /**
   * The pid of the `/bin/sh` wrapper that runs the node and writes its exit record after the
   * node ends. The folder is not finished with until it has exited too (see clusterDown).
   */
  wrapperPid?: number | undefined
  /**
   * The node has left the cluster (`dyn cluster leave` done, or `dyn cluster remove`), as a
   * serving member reported it: `up` starts it no more, and `status` shows it as left.
   */
  left?: boolean
  /**
   * The incarnation of the member's row that said it left, when the member reported one: the node
   * is a member again once a serving member lists it, not left, with a higher incarnation (it
   * joined again under its name, as README's way back for a removed node does; an incarnation
   * only grows). A member restarted from an older table lists it with a lower one, which is no news.
   */
  leftIncarnation?: number
}

export interface LocalCluster {
  readonly host: string
  /**
   * The host the nodes advertise when it is not `host` (each binds `host`): `dyn verify` runs its
   * fault-injecting proxy there, so that every internode connection passes through it.
   */
  readonly advertiseHost?: string
  /** The settings given explicitly when the cluster was created (the rest are the defaults). */
  settings?: Partial<CreationSettings>
  /**
   * The other `dyn start` flags every node runs with, as (flag, value) pairs. A later `up` starts
   * its nodes with them, the flags it is given merged in (`mergeStartFlags`), and changes them only
   * while no node of the folder runs.
   */
  startArgs?: string[]
  /** The id the first node drew when it created the cluster; every node of the folder must report it. */
  clusterId?: string
  readonly nodes: LocalNode[]
}

/** The address a local cluster's nodes listen on and advertise (a folder of dyn verify's advertises its proxy's instead). */
export const localClusterHost = '127.0.0.1'

export interface UpOptions {
  readonly dir: string
  /** Undefined: the folder's count, or `nodeCountDefault` for a new folder. */
  readonly nodeCount?: number
  /** Client API port of the first node; undefined: the folder's, or `portDefault`. */
  readonly port?: number
  /** Internode port of the first node; undefined: the folder's, or port + `rpcPortOffset`. */
  readonly rpcPort?: number
  /** Settings for a new cluster (Q, default N/R/W, conflict policy); fixed once it exists. */
  readonly settings?: Partial<CreationSettings>
  /**
   * Other `dyn start` flags for every node (e.g. --request-timeout, --write-buffer-ms), as (flag,
   * value) pairs: on a folder that holds a cluster, each replaces the saved value of that flag and
   * the saved flags not given are kept; a change is refused while a node of the folder runs.
   */
  readonly startArgs: readonly string[]
  readonly readyTimeoutMs: number
  /** For a new cluster: the host the nodes advertise (see LocalCluster.advertiseHost). */
  readonly advertiseHost?: string
  /**
   * For a new cluster: nodes per simulated machine, P (default 1). Nodes n1..nP run as machine m1,
   * the next P as m2, and so on: a machine with more cores than nodes runs P processes that the
   * ring treats as one machine (`dyn start --processes`).
   */
  readonly processesPerMachine?: number
  /**
   * What the user of the calling command does to run on other ports, said when a port of a node
   * to start is in use; undefined: dyn cluster up's own flags (`portsInUseAdviceDefault`). dyn
   * bench and dyn verify, which start clusters with other flags, say their own.
   */
  readonly portsInUseAdvice?: string
  /**
   * Aborted by the calling command on Ctrl-C (SIGINT), SIGTERM or SIGHUP: `up` starts no further node,
   * stops the ones it started, and fails with `interrupted`.
   */
  readonly signal?: AbortSignal
  /** The command that starts the cluster, as its user typed it ("cluster up", "bench", "verify"): named to another that finds the folder busy. */
  readonly command?: string
}

/** dyn cluster up's way to other ports, for a port in use. */
export const portsInUseAdviceDefault = 'choose free ports with --port and --rpc-port (for a new folder)'

/** What `clusterUp` did: the cluster, which nodes it started, which already ran, and which have left it (not started). */
export interface UpResult extends LocalCluster {
  readonly started: string[]
  readonly alreadyRunning: string[]
  readonly left: string[]
  /** Nodes out of the ring, stopped before they had handed off everything, started again only to finish their leave (not waited for: each exits by itself once done). */
  readonly finishing: string[]
}

/**
 * A failure of the local cluster that is not an API error: a node of the folder exited while it
 * was starting. Its code is as stable as the API's; the CLI exits 2 for it (the usual causes, a
 * port or data folder in use or settings that do not match the stored cluster, are fixed on the
 * command line), and `details` carry the node, how it ended and the end of its log.
 */
export class NodeExitedError extends Error {
  readonly code = 'node_exited'
  constructor(
    message: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message)
    this.name = 'NodeExitedError'
  }
}

export const nodeCountDefault = 3
export const nodeCountMax = 64
/** Processes per machine in a local cluster: a bound well above the cores of today's machines. */
export const processesPerMachineMax = 64
export const portDefault = 7070
/** The internode port of a node is its client port plus this, unless --rpc-port says otherwise. */
export const rpcPortOffset = 1000
export const stopGraceMsDefault = 5000

export const clusterFileName = 'cluster.json'
/** How often readiness and shutdown are polled. */
const pollIntervalMs = 100
/** How long after a first sign of a node's death it is looked at again. */
const deathRecheckMs = 200

/** The wrapper writes the node's pid within milliseconds; past this it failed to start it. */
const pidFileWaitMs = 5000
/** A node's exit record follows its exit within milliseconds; how long to wait for it. */
const exitRecordWaitMs = 1000
/** Lines of a node's log quoted when it exits while starting. */
const logTailLines = 10
/** Each readiness or status request to a node gives up after this. */
export const probeTimeoutMs = 2000

/** The CLI's entry script, which the node processes run (`node bin/run.js start ...`). */
export const dynRunScript = fileURLToPath(new URL('../../../bin/run.js', import.meta.url))

/**
 * The detached process is this small POSIX shell wrapper around `dyn start`: it records the
 * node's pid (the node itself, not the wrapper, is what gets signalled and what /health names)
 * and, when the node ends for whatever reason, SIGKILL included, its exit status. The shell
 * reports a death by signal S as status 128 + S. Both files are written whole or not at all.
 * A node ended by a signal it could not handle (SIGKILL: `down` past its grace, the kernel's
 * out-of-memory killer) says nothing itself: the wrapper writes it to the node's log, as a line
 * of the log's own form, in place of the shell's bare "Killed", which named neither the node nor
 * the time.
 */
const wrapperScript = [
  'exit_file=$1; pid_file=$2; name=$3; shift 3',
  '"$@" &',
  'child=$!',
  'printf "%s\\n" "$child" > "$pid_file.tmp" && mv "$pid_file.tmp" "$pid_file"',
  'wait "$child" 2>/dev/null',
  'status=$?',
  'if [ "$status" -gt 128 ]; then printf "%s %s ended by signal SIG%s (pid %s, exit status %s)\\n" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$name" "$(kill -l "$status")" "$child" "$status"; fi',
  'printf \'{"pid": %s, "status": %s, "endedAt": "%s"}\\n\' "$child" "$status" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$exit_file.tmp" && mv "$exit_file.tmp" "$exit_file"',
].join('\n')

function clusterFile(dir: string): string {
  return path.join(dir, clusterFileName)
}

/** The names of a new local cluster's nodes, in order: n1, n2, ... */
export function localNodeNames(nodeCount: number): string[] {
  return Array.from({length: nodeCount}, (_, i) => `n${i + 1}`)
}

/** The cluster secret's file in a local cluster's folder, which `up` writes for a new cluster. */
export function secretFileOf(dir: string): string {
  return path.join(dir, clusterSecretFileName)
}

/** The folder's secret file when it has one (a folder made before secrets existed has none). */
export function existingSecretFile(dir: string): string | undefined {
  const file = secretFileOf(dir)
  return existsSync(file) ? file : undefined
}

/** The `dyn start` flags that give a node the folder's secret, when it has one. */
export function secretArgsOf(dir: string): string[] {
  const file = existingSecretFile(dir)
  return file === undefined ? [] : ['--secret-file', file]
}

function pidFile(node: LocalNode): string {
  return path.join(path.dirname(node.logFile), `${node.name}.pid`)
}

function exitFile(node: LocalNode): string {
  return path.join(path.dirname(node.logFile), `${node.name}.exit.json`)
}

export async function readCluster(dir: string): Promise<LocalCluster | undefined> {
  return clusterOfText(dir, await clusterFileText(dir))
}

/** The text of the folder's cluster.json, or undefined when there is none (no such file, or --dir is no folder). */
async function clusterFileText(dir: string): Promise<string | undefined> {
  return readFile(clusterFile(dir), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined
    throw error
  })
}

/** The cluster a cluster.json's text describes; refused when the text is no cluster description. */
function clusterOfText(dir: string, text: string | undefined): LocalCluster | undefined {
  if (text === undefined) return undefined
  try {
    const cluster = JSON.parse(text) as LocalCluster
    // The saved node flags are pairs of flag and value (start-flags.ts asserts it): a file edited
    // by hand into another shape is refused here, as bad input, rather than failing an assertion.
    const args: unknown = cluster.startArgs
    const flagsWellFormed = args === undefined || (Array.isArray(args) && args.length % 2 === 0 && args.every((arg, at) => typeof arg === 'string' && (at % 2 === 1 || arg.startsWith('--'))))
    if (typeof cluster.host === 'string' && Array.isArray(cluster.nodes) && flagsWellFormed) return cluster
  } catch {
    // Reported below, with what to do.
  }
  throw new DynError('bad_parameter', `${clusterFile(dir)} is not a cluster description; restore it, or use another --dir`)
}

async function writeCluster(dir: string, cluster: LocalCluster): Promise<void> {
  const {host, advertiseHost, settings, startArgs, clusterId, nodes} = cluster
  // Written aside and renamed into place, so that a reader (status, another up) never meets half a file.
  const aside = `${clusterFile(dir)}.tmp`
  await writeFile(aside, `${JSON.stringify({host, advertiseHost, settings, startArgs, clusterId, nodes}, null, 2)}\n`)
  await rename(aside, clusterFile(dir))
}

/**
 * Whether the process `pid` is stopped by a signal (SIGSTOP, Ctrl-Z: state T in Linux's
 * /proc/PID/stat), which keeps its ports open and answers nothing; false where that cannot be read.
 */
export function isProcessPaused(pid: number): boolean {
  const state = processStateOf(pid)
  return state === 'T' || state === 't'
}

/**
 * Whether `pid` is alive and its command line is the one expected (`expected`), so that a pid
 * the system reused for another program is not taken for ours. An empty command line (between
 * fork and exec, or exiting) is no evidence of another program, and neither is one that cannot
 * be read.
 */
function isLiveProcessOf(pid: number | undefined, expected: (cmdline: string) => boolean): boolean {
  if (pid === undefined) return false
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    return cmdline.length === 0 || expected(cmdline)
  } catch {
    return true
  }
}

/** Whether `pid` is a live `dyn start` process for this node (not a recycled pid). */
export function isNodeProcess(node: LocalNode): boolean {
  return isLiveProcessOf(node.pid, (cmdline) => cmdline.includes('start') && cmdline.includes(node.dataDir))
}

/**
 * Whether the node's wrapper still runs: it writes the node's exit record (into the folder)
 * after the node has ended, so a folder must not be removed before it is gone. A pid reused by
 * another program is told apart by the wrapper's command line, which names the exit record.
 */
export function isWrapperProcess(node: LocalNode): boolean {
  return isLiveProcessOf(node.wrapperPid, (cmdline) => cmdline.includes(exitFile(node)))
}

/** A node seen dead twice, a moment apart: one look can meet a process in the middle of its exec. */
async function confirmedDead(node: LocalNode): Promise<boolean> {
  if (isNodeProcess(node)) return false
  await wait(deathRecheckMs)
  return !isNodeProcess(node)
}

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Start the nodes of the folder that do not run, leave those that do alone, and wait until all
 * of them serve as one cluster. A new folder gets a new cluster; a stopped one restarts on its
 * data; one with a crashed node gets that node back (same name, ports and data folder).
 * On failure only the nodes started here are stopped again.
 */
export async function clusterUp(options: UpOptions, log: (line: string) => void): Promise<UpResult> {
  // Each attempt reads the folder, checks what it was asked, then takes the folder's lock and
  // starts nodes only if the folder is still as it read it; another command that changed it
  // meanwhile (it started nodes, and has let go of the lock since) makes the next attempt read it
  // afresh. Bounded: a folder changed under every attempt is busy.
  for (let attempt = 1; ; attempt += 1) {
    const result = await clusterUpOnce(options, log, attempt === upAttemptsMax)
    if (result !== 'changed') return result
  }
}

/** Attempts of `clusterUp` at most, each after another command changed the folder under the last. */
const upAttemptsMax = 3

/** One attempt of `clusterUp`: 'changed' when another command changed the folder between its read and its lock. */
async function clusterUpOnce(options: UpOptions, log: (line: string) => void, lastAttempt: boolean): Promise<UpResult | 'changed'> {
  const dir = path.resolve(options.dir)
  if (!existsSync(clusterFile(dir)) && isNodeDataFolder(dir)) {
    // A cluster made there would live inside a node's database, and `down --purge` would delete it.
    throw new DynError('bad_parameter', `${options.dir} is a node's data folder (a LevelDB database, --data of dyn start), not a cluster folder: give dyn cluster up a folder of its own, such as ${path.join(path.dirname(options.dir), 'cluster')}`)
  }
  // One read: what the folder holds, and what is compared under the lock below.
  const textRead = await clusterFileText(dir)
  const existing = clusterOfText(dir, textRead)
  const cluster = planCluster(dir, existing, options)
  if (existing === undefined) {
    const refusal = await newClusterFolderRefusal(options.dir, cluster.nodes.map((node) => node.name))
    if (refusal !== undefined) throw new DynError('bad_parameter', refusal)
  }
  if (existing !== undefined && existing.advertiseHost !== options.advertiseHost) {
    // Its nodes advertise the proxy of dyn verify: started without it, they could not reach each other.
    throw new DynError('bad_parameter', `${options.dir} holds a cluster made by dyn verify, whose nodes reach each other through verify's fault proxy on ${existing.advertiseHost}: run it with dyn verify --dir ${shellQuote(options.dir)}, or use another --dir`)
  }
  const alreadyRunning = cluster.nodes.filter(isNodeProcess)
  // Before anything changes: a change of flags while a node runs is refused here.
  cluster.startArgs = startArgsOfUp(options, existing, alreadyRunning, log)
  // The folder's TLS files checked as `dyn start` checks them, before any node starts: a node
  // would refuse them too, but only after it was started, and this `up` would then stop the
  // others again.
  await localClusterNodeTls(cluster, tlsArgsOf(options.startArgs) === undefined ? dir : undefined)
  // A node that left the cluster would only find out again that it left, and exit: ask a
  // running member which nodes left before starting any.
  const asked = await learnLeft(cluster, alreadyRunning)
  // With no running member to ask, a node's own last run says whether it left or was removed:
  // such a node is not started (it would only learn it again, and exit). Not recorded, since a
  // member's word is newer: a member that lists it again (it joined again by hand) wins next time.
  const departed = new Map(asked ? [] : cluster.nodes.filter((node) => node.left !== true).flatMap((node) => {
    const departure = nodeDeparture(node)
    return departure === undefined ? [] : [[node, departure] as const]
  }))
  // A node marked left is started too if the first node started finds it joined again since
  // (startMissing decides then); its ports are checked only then, since it may never start.
  const missing = cluster.nodes.filter((node) => !alreadyRunning.includes(node) && !departed.has(node) && (node.left !== true || node.leftIncarnation !== undefined))
  if (alreadyRunning.length === 0 && missing.every((node) => node.left === true)) throw allDepartedError(options.dir, cluster, departed)
  for (const node of alreadyRunning) log(`${node.name} (pid ${node.pid}) is running; left alone`)
  const portsAdvice = options.portsInUseAdvice ?? portsInUseAdviceDefault
  const startingNow = missing.filter((node) => node.left !== true)
  await refuseStartedElsewhere(cluster, startingNow)
  await checkNodePortsFree(cluster.host, startingNow, portsAdvice)
  const made = await makeFolder(dir)
  // From here on the folder changes: one command at a time (folder-lock.ts). A folder this call
  // made is removed again if the lock is refused.
  const lock = await takeFolderLock(dir, options.command ?? 'cluster up').catch(async (error: unknown) => {
    for (const folder of [...made].reverse()) await rmdir(folder).catch(() => undefined)
    throw error
  })
  try {
    if ((await clusterFileText(dir)) !== textRead) {
      if (!lastAttempt) return 'changed'
      throw new DynError('folder_busy', `${options.dir} was changed by another dyn command each time this one read it; wait for that command to end, then run this again`)
    }
    return await startAndWait(dir, options, log, cluster, existing, alreadyRunning, missing, departed, portsAdvice)
  } finally {
    await lock.release()
  }
}

/** The part of an `up` attempt that starts nodes and waits for them, with the folder's lock held. */
async function startAndWait(
  dir: string,
  options: UpOptions,
  log: (line: string) => void,
  cluster: LocalCluster,
  existing: LocalCluster | undefined,
  alreadyRunning: readonly LocalNode[],
  missing: readonly LocalNode[],
  departed: Map<LocalNode, Departure>,
  portsAdvice: string,
): Promise<UpResult> {
  // A new cluster gets its own secret, which every internode connection must prove: a process
  // that reaches a node's internode port without it can neither join nor write. A folder made
  // before secrets existed runs on without one (its running nodes have none).
  if (existing === undefined) await writeNewSecretFile(secretFileOf(dir)).catch((error: NodeJS.ErrnoException) => {
    // Left by an earlier attempt on this folder that failed before it wrote cluster.json.
    if (error.code !== 'EEXIST') throw error
  })
  const started: LocalNode[] = []
  // Nodes started only to finish their leave (stoppedLeavers), among `started`.
  const finishing = new Set<LocalNode>()
  // One deadline for the whole start, however many waits it takes.
  const deadlineMs = Date.now() + options.readyTimeoutMs
  const remainingMs = (): number => Math.max(1, deadlineMs - Date.now())
  try {
    throwIfInterrupted(options.signal)
    await startMissing(dir, cluster, alreadyRunning, missing, started, departed, remainingMs, portsAdvice, log, options.signal)
    // A node started here that stops on learning it was removed is gone, not failed: waited for
    // again without it. Bounded: each round drops one node.
    for (;;) {
      const members = cluster.nodes.filter((node) => node.left !== true && !departed.has(node))
      // The first node started may have learnt that every node of the folder left (itself too):
      // nothing is left to wait for, and a wait for none once recorded the cluster id "undefined".
      if (members.length === 0) throw allDepartedError(options.dir, cluster, departed)
      try {
        cluster.clusterId = await waitForNodes(cluster, members, members.length, remainingMs(), options.signal)
        break
      } catch (error) {
        if (!removedOnStart(error, started, departed, log)) throw error
      }
    }
    // Interrupted during the last wait: what was started is stopped all the same, as the command said it would be.
    throwIfInterrupted(options.signal)
    // A node that left the ring but was stopped before it had handed off everything is started
    // again to finish (a walk killed one mid-hand-off): it exits by itself once done, so it is not
    // waited for, and one whose ports are taken is said, not a failure of the whole up.
    const running = cluster.nodes.filter(isNodeProcess)
    for (const node of await stoppedLeavers(cluster, running)) {
      try {
        // Started by hand meanwhile (it answers as itself elsewhere), or its ports taken: a second
        // process on its data folder must never start.
        await refuseStartedElsewhere(cluster, [node])
        await checkNodePortsFree(cluster.host, [node], portsAdvice)
      } catch (error) {
        log(`${node.name} left the ring before it had handed off everything, but is not started again: ${(error as Error).message}`)
        continue
      }
      startLocalNode(cluster, node, [...nodeStartArgs(cluster), '--seeds', running.map((member) => `${cluster.host}:${member.rpcPort}`).join(',')])
      finishing.add(node)
      log(`started ${node.name} (pid ${node.pid}) again to finish its leave: it left the ring before it had handed off everything; it exits by itself once done`)
    }
    await writeCluster(dir, cluster)
  } catch (error) {
    // What this call started is stopped again, so that no detached process is left behind;
    // nodes that were running before are not this call's to stop. Those stopped here read as
    // stopped; one that exited by itself keeps its pid, so that status can say how it ended.
    const {stopped} = await stopNodes(started, stopGraceMsDefault + stopDelayMsOf(cluster.startArgs ?? []), log)
    for (const node of started) if (stopped.includes(node.name)) node.pid = undefined
    await writeCluster(dir, cluster).catch(() => undefined)
    throw error
  }
  const left = cluster.nodes.filter((node) => (node.left === true || departed.has(node)) && !finishing.has(node)).map((node) => node.name)
  for (const node of cluster.nodes.filter((candidate) => left.includes(candidate.name))) log(`${node.name} ${departed.get(node) === 'removed' ? 'was removed from the cluster (its last run stopped on learning it)' : 'has left the cluster (dyn cluster leave or remove)'}; not started`)
  return {...cluster, started: started.map((n) => n.name), alreadyRunning: alreadyRunning.filter((n) => n.left !== true).map((n) => n.name), left, finishing: [...finishing].map((n) => n.name)}
}

/**
 * Whether `error` is a node started here exiting with `removed` (it learnt from the members that
 * it was removed, and stopped, as it must): then it is marked departed and no longer counted as
 * started (its process is gone), and up goes on without it. Any other exit is a failure.
 */
function removedOnStart(error: unknown, started: LocalNode[], departed: Map<LocalNode, Departure>, log: (line: string) => void): boolean {
  if (!(error instanceof NodeExitedError)) return false
  // A node whose own folder says it left and handed off refuses to start (already_left): as gone.
  const departure = departureOfCode(error.details.nodeError)
  if (departure === undefined) return false
  const node = started.find((candidate) => candidate.name === error.details.node)
  if (node === undefined) return false
  departed.set(node, departure)
  started.splice(started.indexOf(node), 1)
  log(`${node.name} ${departure === 'removed' ? 'stopped on learning that it was removed from the cluster' : 'has left the cluster (its folder says it handed off its data)'}; it is not started again`)
  return true
}


/**
 * Every node of the folder has left the cluster or was removed, and none runs: up has nothing to
 * start. The cluster may live on in members started elsewhere, which the folder does not know.
 */
function allDepartedError(dir: string, cluster: LocalCluster, departed: ReadonlyMap<LocalNode, Departure>): DynError {
  const removed = cluster.nodes.filter((node) => departed.get(node) === 'removed').map((node) => node.name)
  const gone = cluster.nodes.filter((node) => !removed.includes(node.name)).map((node) => node.name)
  const how = [gone.length === 0 ? undefined : `${gone.join(', ')} left`, removed.length === 0 ? undefined : `${removed.join(', ')} ${removed.length === 1 ? 'was' : 'were'} removed`].filter((part) => part !== undefined).join('; ')
  return new DynError('already_left', `every node of ${dir} has left the cluster (${how}), so up starts none of them: a node that left or was removed only stops again. If the cluster lives on in members started elsewhere, ask one of them: dyn cluster status --node HOST:PORT; to run a cluster from this folder again, make a new one (dyn cluster down --dir ${shellQuote(dir)} --purge, then dyn cluster up)`)
}

/** The --stop-delay-ms a folder's nodes start with (0 without it): they serve that long after a SIGTERM. */
function stopDelayMsOf(startArgs: readonly string[]): number {
  const delayMs = Number(startFlagValue(startArgs, '--stop-delay-ms') ?? 0)
  return Number.isSafeInteger(delayMs) && delayMs > 0 ? delayMs : 0
}

/** The value given to `flag` among start flags, or undefined when it is not there. */
function startFlagValue(startArgs: readonly string[], flag: string): string | undefined {
  const at = startArgs.indexOf(flag)
  return at < 0 ? undefined : startArgs[at + 1]
}

/** The `dyn start` TLS flags among a node's start flags (certificate, key, cluster CA, client CA), or undefined for none. */
function tlsArgsOf(startArgs: readonly string[] | undefined): string[] | undefined {
  if (startArgs === undefined || !startArgs.includes('--tls-cert')) return undefined
  return tlsStartFlags.flatMap((flag) => {
    const value = startFlagValue(startArgs, flag)
    return value === undefined ? [] : [flag, value]
  })
}

/**
 * The start flags of the folder's nodes once `up` is given `options.startArgs`: merged into the
 * saved ones flag by flag (`mergeStartFlags`), so that `up --write-buffer-ms 0` keeps a saved
 * `--request-timeout`. A folder's nodes all run with the same flags, so a change is refused while
 * any of them runs, before anything is written or started: the next node to start (a crashed one
 * brought back) would run with other settings than its peers, and the folder would record flags
 * that no running node uses. With none running, the change is said and applies to every node.
 */
function startArgsOfUp(options: UpOptions, existing: LocalCluster | undefined, running: readonly LocalNode[], log: (line: string) => void): string[] {
  const saved = existing?.startArgs ?? []
  refuseOtherTlsWhileRunning(options, saved, running)
  const merged = mergeStartFlags(saved, options.startArgs)
  const changes = startFlagChanges(saved, merged)
  // A new folder has nothing saved to differ from.
  if (existing === undefined || changes.length === 0) return merged
  if (running.length > 0) {
    const names = running.map((node) => node.name)
    throw new DynError('bad_parameter', startFlagsRefusal(options.dir, changes, names), {
      nodes: names,
      changes: changes.map((change) => ({flag: change.flag, saved: change.saved ?? null, asked: change.asked ?? null})),
    })
  }
  log(`the folder's nodes start with other flags from now on (saved -> asked): ${changes.map(startFlagChangeText).join(', ')}`)
  return merged
}

/**
 * Other TLS files than the folder's while a node of it runs are refused, with the advice that fits
 * them (a general change of flags is refused by `startArgsOfUp` too, but says nothing of
 * certificates): its running nodes would refuse the new ones' certificates or their lack of one.
 * Certificates are renewed in place instead (README "Rotating certificates").
 */
function refuseOtherTlsWhileRunning(options: UpOptions, saved: readonly string[], running: readonly LocalNode[]): void {
  const kept = tlsArgsOf(saved)
  const given = tlsArgsOf(options.startArgs)
  if (given === undefined || running.length === 0 || given.join('\u0000') === (kept ?? []).join('\u0000')) return
  const names = running.map((node) => node.name).join(', ')
  if (kept === undefined) {
    throw new DynError('bad_parameter', `${options.dir}: its running nodes (${names}) serve without TLS, and would refuse nodes started with it: stop them first (dyn cluster down --dir ${shellQuote(options.dir)}), or make another folder for a cluster with TLS`)
  }
  throw new DynError('bad_parameter', `${options.dir}: its running nodes (${names}) serve with ${kept.join(' ')}, and a folder's nodes all run with the files it was made with: to renew a certificate, replace those files in place and the nodes take them (README "Rotating certificates"); for other files, stop the nodes first (dyn cluster down --dir ${shellQuote(options.dir)})`)
}

/**
 * The folder's TLS files, read and checked as `dyn start` reads them: what its nodes serve and
 * present to each other, and what a process of this machine presents to reach their internode
 * ports (the certificate names 127.0.0.1 and the cluster CA signed it). Undefined for a cluster
 * without TLS; files that no longer pass are bad input, said so.
 */
export async function localClusterNodeTls(cluster: LocalCluster, keptIn: string | undefined): Promise<NodeTls | undefined> {
  const args = tlsArgsOf(cluster.startArgs)
  if (args === undefined) return undefined
  const files = tlsFilesOf({'tls-cert': startFlagValue(args, '--tls-cert'), 'tls-key': startFlagValue(args, '--tls-key'), 'tls-ca': startFlagValue(args, '--tls-ca'), 'tls-client-ca': startFlagValue(args, '--tls-client-ca')})
  if (!files.ok) throw new DynError(files.error, files.message)
  if (files.files === undefined) return undefined
  return loadLocalClusterTls(files.files, cluster.advertiseHost ?? cluster.host, keptIn)
}

/**
 * TLS files for the nodes of a local cluster, which all advertise `host`, read and checked as
 * `dyn start` checks them; refused (bad input) with what to do. `keptIn` names the folder that
 * keeps the files when they are its own rather than the caller's flags. `dyn bench` checks the
 * files of the cluster it is about to start here too, before it calibrates.
 */
export async function loadLocalClusterTls(files: TlsFiles, host: string, keptIn?: string): Promise<NodeTls> {
  const loaded = await loadNodeTls(files, Date.now(), host)
  if (loaded.ok) return loaded.tls
  // The check speaks of dyn start's flags; here the files may be the folder's, and every node of
  // a local cluster advertises one host, so the advice says what applies to a folder.
  const namesHost = / does not name /.test(loaded.message) ? ` The nodes of a local cluster all advertise ${host}: give a certificate that names it, as the README's tls/local.crt does.` : ''
  const kept = keptIn !== undefined ? `${keptIn} keeps the TLS files its nodes were first started with (cluster.json), and one of them no longer passes: ` : ''
  const next = keptIn !== undefined ? ` Put the file back or renew it in place; or, with the folder's nodes stopped (dyn cluster down --dir ${shellQuote(keptIn)}), give dyn cluster up --dir ${shellQuote(keptIn)} other --tls-cert, --tls-key and --tls-ca.` : ''
  throw new DynError(loaded.error, `${kept}${loaded.message.replace(/\.$/, '')}.${namesHost}${next}`)
}

/** Whether `dir` holds a LevelDB database (a node's --data folder): its CURRENT and LOCK files. */
export function isNodeDataFolder(dir: string): boolean {
  return existsSync(path.join(dir, 'CURRENT')) && existsSync(path.join(dir, 'LOCK'))
}

/** The cluster CA file the folder's nodes were started with (their --tls-ca, an absolute path), or undefined without TLS. */
export function localClusterCaFile(cluster: LocalCluster): string | undefined {
  const args = tlsArgsOf(cluster.startArgs)
  return args === undefined ? undefined : startFlagValue(args, '--tls-ca')
}

/** The cluster CA a client of the folder's nodes trusts (their --tls-ca), read once per cluster object. */
const clusterCaOf = new WeakMap<LocalCluster, ClientTls>()

/** The client CA the folder's nodes were started with (their --tls-client-ca, an absolute path), or undefined when they ask clients for no certificate. */
export function localClusterClientCaFile(cluster: LocalCluster): string | undefined {
  const args = tlsArgsOf(cluster.startArgs)
  return args === undefined ? undefined : startFlagValue(args, '--tls-client-ca')
}

/**
 * The TLS a client of the folder's nodes needs: HTTPS trusting the cluster CA they were started
 * with, or undefined for a cluster without TLS. When they ask their clients for a certificate
 * (--tls-client-ca), the one in DYN_TLS_CERT and DYN_TLS_KEY is presented, as every command
 * presents it; without one, the nodes answer /health alone (the readiness probes) and everything
 * else `unauthenticated`. A file gone since, or a certificate without its key, is bad input,
 * said so.
 */
export function localClusterTls(cluster: LocalCluster): ClientTls | undefined {
  const caFile = localClusterCaFile(cluster)
  if (caFile === undefined) return undefined
  let tls = clusterCaOf.get(cluster)
  if (tls === undefined) {
    let ca: Buffer
    try {
      ca = readFileSync(caFile)
    } catch (error) {
      throw new DynError('bad_parameter', `the cluster's nodes serve TLS with the CA ${caFile}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): put it back; or stop the folder's nodes (dyn cluster down, which needs no file) and start them with other --tls-cert, --tls-key and --tls-ca`)
    }
    const identity: ReturnType<typeof clientIdentityFromEnvironment> = localClusterClientCaFile(cluster) === undefined ? {ok: true} : clientIdentityFromEnvironment()
    if (!identity.ok) throw new DynError(identity.error, identity.message)
    tls = {ca, source: `--tls-ca ${caFile}`, ...(identity.cert === undefined ? {} : {cert: identity.cert, key: identity.key})}
    clusterCaOf.set(cluster, tls)
  }
  return tls
}

/** Why the folder cannot reach its nodes over TLS (a file gone since, say), or undefined when it can. */
export function localClusterTlsProblem(cluster: LocalCluster): string | undefined {
  try {
    localClusterTls(cluster)
    return undefined
  } catch (error) {
    return (error as Error).message
  }
}

/** A client of one of the folder's nodes (`host:port`), or of the first of several that answers, over HTTPS when they serve TLS. */
export function localNodeClient(cluster: LocalCluster, address: string | readonly string[], timeoutMs: number): DynClient {
  const tls = localClusterTls(cluster)
  return new DynClient(address, timeoutMs, tls === undefined ? {} : {tls})
}

/**
 * Marks the folder's nodes that have left the cluster, as the first of `from` that answers
 * GET /cluster reports its members (a removed node shows as `left` too), and unmarks one that
 * has joined again under its name since (`markLeft`: only a row with a higher incarnation than
 * the one that said it left counts, so a member answering from an older table cannot unmark it).
 */
async function learnLeft(cluster: LocalCluster, from: readonly LocalNode[]): Promise<boolean> {
  const answer = await membersAnswer(cluster, from)
  if (answer === undefined) return false
  for (const local of cluster.nodes) {
    const member = answer.members.find((candidate) => candidate.name === local.name)
    // A node's word on its own row is no news of its return: a removed node started again on
    // its old data says valid (with a higher incarnation) until it learns it was removed.
    if (member !== undefined && (local !== answer.node || member.status === 'left')) markLeft(local, member)
  }
  return true
}

/**
 * The members as the first of `from` that answers GET /cluster reports them, and which node that
 * was; undefined when none answers. A folder whose TLS files can no longer be read asks none:
 * nothing is learnt then, so that `down` still stops its nodes (by signal), and `up` says what is
 * wrong with the files.
 */
async function membersAnswer(cluster: LocalCluster, from: readonly LocalNode[]): Promise<{node: LocalNode; members: ReportedMember[]} | undefined> {
  if (localClusterTlsProblem(cluster) !== undefined) return undefined
  for (const node of from) {
    const answer = await localNodeClient(cluster, `${cluster.host}:${node.port}`, probeTimeoutMs).getJson('/cluster').catch(() => undefined)
    if (answer?.ok === true) return {node, members: (answer.body.members ?? []) as ReportedMember[]}
  }
  return undefined
}

/** A member's row as GET /cluster reports it: what learnLeft reads. */
export interface ReportedMember {
  readonly name?: unknown
  readonly status?: unknown
  readonly incarnation?: unknown
  /** Of a member that left: whether it has handed off everything (absent from an older dyn). */
  readonly handedOff?: unknown
}

/**
 * The folder's nodes that do not run and that the first of `from` to answer GET /cluster reports
 * out of the ring without having handed off everything: stopped before they were done (a kill, a
 * `down` in the middle of a leave). Each must be started again to finish: its hints, and every
 * tombstone's reaping, wait for it.
 */
async function stoppedLeavers(cluster: LocalCluster, from: readonly LocalNode[]): Promise<LocalNode[]> {
  const members = (await membersAnswer(cluster, from))?.members ?? []
  return cluster.nodes.filter((local) => !isNodeProcess(local) && members.some((member) => member.name === local.name && member.status === 'left' && member.handedOff === false))
}

/**
 * What one member's reported row says of a folder's node: it left (marked, with the row's
 * incarnation), or it is a member again since it left (valid or leaving, with a higher
 * incarnation: unmarked), or nothing new. A mark made without an incarnation (by an older dyn)
 * stays for good, as it did.
 */
export function markLeft(local: LocalNode, member: ReportedMember): void {
  const incarnation = typeof member.incarnation === 'number' && Number.isSafeInteger(member.incarnation) ? member.incarnation : undefined
  if (member.status === 'left') {
    local.left = true
    if (incarnation !== undefined && (local.leftIncarnation === undefined || incarnation > local.leftIncarnation)) local.leftIncarnation = incarnation
    return
  }
  // Joining is not back yet: a join only staged (--no-commit) may never be committed, and up
  // would wait for it to turn valid.
  const isMember = member.status === 'valid' || member.status === 'leaving'
  if (isMember && local.left === true && local.leftIncarnation !== undefined && incarnation !== undefined && incarnation > local.leftIncarnation) {
    local.left = undefined
    local.leftIncarnation = undefined
  }
}

/**
 * The nodes of `nodes` that answer as themselves, in the folder's cluster, from a process the
 * folder did not start: a `dyn start` typed by hand (README's way back for a node that left, or a
 * restart after a crash), which the folder's record does not know. Each is looked for on its
 * port, then, when a node of the folder runs to say so, at the client address the members list
 * it at, up (one started by hand on other ports). Another process on a node's port, a node of
 * another cluster among them, is not one. `address` is where it answered (host:port).
 */
export async function nodesStartedElsewhere(cluster: LocalCluster, nodes: readonly LocalNode[]): Promise<Array<{node: LocalNode; pid: number | undefined; view: HealthView; address: string}>> {
  // Only a folder whose cluster has an id can know its own nodes: a node of the same name in
  // another cluster (another folder on these ports) is left to the port check.
  if (nodes.length === 0 || localClusterTlsProblem(cluster) !== undefined || cluster.clusterId === undefined) return []
  type Answer = {node: LocalNode; address: string; view: HealthView | undefined}
  const asItself = (answers: readonly Answer[]): Array<Answer & {view: HealthView}> =>
    answers.filter((answer): answer is Answer & {view: HealthView} => answer.view !== undefined && answer.view.node === answer.node.name && answer.view.clusterId === cluster.clusterId)
  const found = asItself(await Promise.all(nodes.map(async (node) => ({node, address: `${cluster.host}:${node.port}`, view: await probe(cluster, node, startedElsewhereProbeTimeoutMs)}))))
  const missing = nodes.filter((node) => !found.some((hit) => hit.node === node))
  const moved = missing.length === 0 ? [] : asItself(await movedNodes(cluster, missing))
  return [...found, ...moved].map(({node, view, address}) => ({node, view, address, pid: typeof view.pid === 'number' ? view.pid : undefined}))
}

/** `nodes` where the members of a running node of the folder list them, up, at another client address: each with its answer there. */
async function movedNodes(cluster: LocalCluster, nodes: readonly LocalNode[]): Promise<Array<{node: LocalNode; address: string; view: HealthView | undefined}>> {
  const asked = cluster.nodes.find((node) => isNodeProcess(node) && !nodes.includes(node))
  if (asked === undefined) return []
  const answer = await localNodeClient(cluster, `${cluster.host}:${asked.port}`, startedElsewhereProbeTimeoutMs).getJson('/cluster').catch(() => undefined)
  const members = answer?.ok === true && Array.isArray(answer.body.members) ? (answer.body.members as Array<{name?: unknown; apiAddress?: unknown; status?: unknown; up?: unknown}>) : []
  const listed = nodes.flatMap((node) => {
    const member = members.find((m) => m.name === node.name && m.status !== 'left' && m.up === true && typeof m.apiAddress === 'string' && m.apiAddress !== `${cluster.host}:${node.port}`)
    return member === undefined ? [] : [{node, address: member.apiAddress as string}]
  })
  return Promise.all(listed.map(async ({node, address}) => ({node, address, view: await probeAt(cluster, address, startedElsewhereProbeTimeoutMs)})))
}

/**
 * How long a node the folder does not run gets to answer as itself: on this machine's loopback a
 * node answers /health in milliseconds, and status and down ask every stopped node, so something
 * else silent on a stopped node's port must not hold them up for long.
 */
const startedElsewhereProbeTimeoutMs = 500

/** Such nodes named for a message: each with its pid and where it answered. */
function startedElsewhereText(running: ReadonlyArray<{node: LocalNode; pid: number | undefined; address: string}>): string {
  return running.map(({node, pid, address}) => `${node.name} (${pid === undefined ? 'pid unknown' : `pid ${pid}`}, ${address})`).join(', ')
}

/**
 * Refuses when a node `up` would start already answers on its port as itself from a process the
 * folder did not start: started again it would only find its ports taken; the answer names its
 * pid and what to do.
 */
async function refuseStartedElsewhere(cluster: LocalCluster, nodes: readonly LocalNode[]): Promise<void> {
  const running = await nodesStartedElsewhere(cluster, nodes)
  if (running.length === 0) return
  const [runs, it, its] = running.length === 1 ? ['runs', 'it', 'its'] : ['run', 'them', 'their']
  throw new DynError(
    'bad_parameter',
    `${startedElsewhereText(running)} ${runs}, started outside this folder's dyn cluster up (by hand), so up cannot start ${it} here: stop ${it} (kill PID), then run dyn cluster up again, which starts ${it} on ${its} data folder in this folder`,
    {nodes: running.map(({node}) => node.name)},
  )
}

/** Start `missing`: a new cluster's first node alone first, then the rest seeded by what runs. */
async function startMissing(
  dir: string,
  cluster: LocalCluster,
  running: readonly LocalNode[],
  missing: readonly LocalNode[],
  started: LocalNode[],
  departed: Map<LocalNode, Departure>,
  remainingMs: () => number,
  portsAdvice: string,
  log: (line: string) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  const startArgs = nodeStartArgs(cluster)
  const seeds = running.map((node) => `${cluster.host}:${node.rpcPort}`)
  const leftWhenPlanned = new Set(missing.filter((node) => node.left === true))
  // The first node started learns which of the others left (a folder stopped after a leave),
  // and which joined again since they left: those, skipped while still marked, come back at the
  // end of the queue. Each node is queued at most twice, which bounds the loop.
  // With nothing running, the first node starts alone and must come back from its stored member
  // table: a node whose data folder is gone (a replaced disk) would found a cluster of its own
  // instead, and take writes there, while up waited for it in vain (a new user's walk). So a
  // stopped cluster's nodes that still hold their data start first; the others join through them,
  // as a replaced disk does beside running nodes.
  const holdsData = (node: LocalNode): boolean => isNodeDataFolder(node.dataDir)
  const queue = running.length === 0 && cluster.clusterId !== undefined ? [...missing.filter(holdsData), ...missing.filter((node) => !holdsData(node))] : [...missing]
  const skipped = new Set<LocalNode>()
  while (queue.length > 0) {
    const node = queue.shift() as LocalNode
    if (started.includes(node)) continue
    if (node.left === true) {
      skipped.add(node)
      continue
    }
    if (leftWhenPlanned.has(node)) {
      await refuseStartedElsewhere(cluster, [node])
      await checkNodePortsFree(cluster.host, [node], portsAdvice)
    }
    // With nothing running, the first node starts without seeds: on a new folder it creates the
    // cluster, on a stopped one it comes back from its stored member table. It must serve
    // before the others try to join through it. A node started next to running ones joins
    // through all of them (it, too, prefers its stored table when it has one). Interrupted, no
    // node is started after the nodes started so far are being stopped.
    throwIfInterrupted(signal)
    startLocalNode(cluster, node, seeds.length === 0 ? startArgs : [...startArgs, '--seeds', seeds.join(',')])
    started.push(node)
    // Recorded at once, so that `cluster down` can always find what was started.
    await writeCluster(dir, cluster)
    log(`started ${node.name} (pid ${node.pid}) on ${cluster.host}:${node.port}, internode ${cluster.host}:${node.rpcPort}`)
    if (seeds.length === 0) {
      try {
        cluster.clusterId = await waitForNodes(cluster, [node], undefined, remainingMs(), signal)
      } catch (error) {
        // Removed while it was down: the next node is tried as the first.
        if (removedOnStart(error, started, departed, log)) continue
        throw error
      }
      seeds.push(`${cluster.host}:${node.rpcPort}`)
      await learnLeft(cluster, [node])
      for (const earlier of skipped) if (earlier.left !== true) queue.push(earlier)
      skipped.clear()
    }
  }
}

function newCluster(dir: string, options: UpOptions): LocalCluster {
  const nodeCount = options.nodeCount ?? nodeCountDefault
  const port = options.port ?? portDefault
  const rpcPort = options.rpcPort ?? port + rpcPortOffset
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > nodeCountMax) {
    throw new DynError('bad_parameter', `--nodes ${nodeCount}: a local cluster has 1 to ${nodeCountMax} nodes`)
  }
  for (const [flag, first] of [['--port', port], ['--rpc-port', rpcPort]] as const) {
    if (!Number.isInteger(first) || first < 1 || first + nodeCount - 1 > 65535) {
      // An internode port derived from --port is said as such: "choose a lower --rpc-port" named
      // a flag that was never given.
      const derived = flag === '--rpc-port' && options.rpcPort === undefined
      const named = derived ? `the internode ports (--rpc-port, by default --port + ${rpcPortOffset}) from ${first}` : `${flag} ${first}`
      const choose = derived ? `choose a lower --port, or give --rpc-port` : `choose a lower ${flag}`
      throw new DynError('bad_parameter', `${named}: the ${nodeCount} nodes need ports ${first}..${first + nodeCount - 1}, all between 1 and 65535; ${choose}`)
    }
  }
  if (Math.abs(port - rpcPort) < nodeCount) {
    throw new DynError('bad_parameter', `--port ${port} and --rpc-port ${rpcPort}: the ${nodeCount} client ports and internode ports overlap; keep them at least ${nodeCount} apart`)
  }
  const perMachine = options.processesPerMachine ?? 1
  if (!Number.isInteger(perMachine) || perMachine < 1 || perMachine > Math.min(processesPerMachineMax, nodeCount)) {
    throw new DynError('bad_parameter', `--processes-per-machine ${perMachine}: give 1 to ${Math.min(processesPerMachineMax, nodeCount)} (at most --nodes ${nodeCount})`)
  }
  const settings = options.settings ?? {}
  const checked = checkCreationSettings(settings)
  if (!checked.ok) throw new DynError(checked.error, checked.message)
  if (settings.defaultN !== undefined && settings.defaultN > nodeCount) {
    throw new DynError(
      'bad_parameter',
      `--n ${settings.defaultN} is larger than --nodes ${nodeCount}: every key would have only ${counted(nodeCount, 'replica')}, and N is fixed once the cluster exists; use --nodes ${settings.defaultN}, or --n ${nodeCount} or less`,
    )
  }
  return {
    host: localClusterHost,
    ...(options.advertiseHost === undefined ? {} : {advertiseHost: options.advertiseHost}),
    settings: {...settings},
    nodes: localNodeNames(nodeCount).map((name, i) => ({
      name,
      port: port + i,
      rpcPort: rpcPort + i,
      dataDir: path.join(dir, name),
      logFile: path.join(dir, `${name}.log`),
      ...(perMachine === 1 ? {} : {machine: localMachineName(i, perMachine)}),
      pid: undefined,
    })),
  }
}

/** The machine of a local cluster's node `index` (from 0) with `perMachine` nodes per machine: m1, m1, ..., m2, ... */
export function localMachineName(index: number, perMachine: number): string {
  return `m${Math.floor(index / perMachine) + 1}`
}

/** The nodes per machine of a folder's cluster: how many share the first node's machine (1 when none shares one). */
function processesPerMachineOf(cluster: LocalCluster): number {
  const first = cluster.nodes[0]
  if (first === undefined) return 1
  return cluster.nodes.filter((node) => (node.machine ?? node.name) === (first.machine ?? first.name)).length
}

/** How many machines a local cluster's nodes run on (each node without one is a machine of its own), not counting those that left, or that `departed` names (found removed during this up, not yet marked). */
export function localMachineCount(cluster: LocalCluster, departed: readonly string[] = []): number {
  return new Set(cluster.nodes.filter((node) => node.left !== true && !departed.includes(node.name)).map((node) => node.machine ?? node.name)).size
}

/**
 * The cluster `up` works on. A folder that holds one keeps its nodes, ports and settings, except
 * when that cluster never got ready (no id recorded) and nothing of it runs: then it is planned
 * afresh from the flags, the folder's record filling in what they leave out, so that a failed
 * first `up` (a port or data folder in use) does not tie the next one to its mistakes.
 */
function planCluster(dir: string, existing: LocalCluster | undefined, options: UpOptions): LocalCluster {
  if (existing === undefined) return newCluster(dir, options)
  if (existing.clusterId !== undefined || existing.nodes.some(isNodeProcess)) return checkExisting(existing, options)
  const first = existing.nodes[0]
  const settingsGiven = Object.keys(options.settings ?? {}).length > 0
  const planned = newCluster(dir, {
    ...options,
    nodeCount: options.nodeCount ?? existing.nodes.length,
    port: options.port ?? first?.port,
    rpcPort: options.rpcPort ?? (options.port === undefined ? first?.rpcPort : undefined),
    settings: settingsGiven ? options.settings : existing.settings,
    processesPerMachine: options.processesPerMachine ?? processesPerMachineOf(existing),
  })
  if (existing.startArgs !== undefined) planned.startArgs = existing.startArgs
  return planned
}

/** An existing folder keeps its nodes, ports and settings: flags that say otherwise are refused. */
function checkExisting(cluster: LocalCluster, options: UpOptions): LocalCluster {
  const refusal = existingClusterRefusal(cluster, options)
  if (refusal !== undefined) throw new DynError('bad_parameter', refusal)
  return cluster
}

/**
 * Why flags given for the folder `options.dir` contradict the cluster it holds (its node count,
 * ports, processes per machine and settings are fixed), in words that say what to do; undefined
 * when none does. Only what `options` gives is compared: a flag left out takes the folder's.
 */
export function existingClusterRefusal(cluster: LocalCluster, options: Pick<UpOptions, 'dir' | 'nodeCount' | 'port' | 'rpcPort' | 'processesPerMachine' | 'settings'>): string | undefined {
  const first = cluster.nodes[0]
  if (first === undefined) return `${options.dir} describes a cluster without nodes; use another --dir`
  const refusal = (what: string): string => `${options.dir} holds a cluster ${what}; drop the flag to use it as it is, or use another --dir`
  if (options.nodeCount !== undefined && options.nodeCount !== cluster.nodes.length) return refusal(`of ${cluster.nodes.length} nodes (not --nodes ${options.nodeCount})`)
  if (options.port !== undefined && options.port !== first.port) return refusal(`whose first node has port ${first.port} (not --port ${options.port})`)
  if (options.rpcPort !== undefined && options.rpcPort !== first.rpcPort) return refusal(`whose first node has internode port ${first.rpcPort} (not --rpc-port ${options.rpcPort})`)
  const perMachine = processesPerMachineOf(cluster)
  if (options.processesPerMachine !== undefined && options.processesPerMachine !== perMachine) return refusal(`of ${perMachine} process(es) per machine (not --processes-per-machine ${options.processesPerMachine})`)
  const fixed = localClusterSettings(cluster)
  for (const [key, value] of Object.entries(options.settings ?? {}) as Array<[keyof CreationSettings, unknown]>) {
    if (value !== undefined && value !== fixed[key]) return refusal(`created with ${settingFlags[key]} ${fixed[key]}, fixed since (not ${settingFlags[key]} ${String(value)})`)
  }
  return undefined
}

/**
 * The settings a folder's cluster was created with: those recorded, which are only the ones given
 * explicitly (a plain `dyn cluster up` records none), and the defaults for the rest.
 */
export function localClusterSettings(cluster: LocalCluster): CreationSettings {
  const recorded = cluster.settings ?? {}
  const settings = {...creationSettingsDefault}
  // Key by key: a setting recorded as undefined is one not given, not one given as nothing.
  for (const key of Object.keys(settings) as Array<keyof CreationSettings>) {
    if (recorded[key] !== undefined) Object.assign(settings, {[key]: recorded[key]})
  }
  return settings
}

/**
 * Refuses early, before anything starts (`bad_parameter`, the ports in `ports`), when a client or
 * internode port of a node to start is in use on `host`, saying which and `advice` (how to choose
 * others in the calling command's own flags). dyn bench asks it before it says it is starting,
 * with the ports its cluster will take.
 */
export async function checkNodePortsFree(host: string, nodes: ReadonlyArray<{readonly name: string; readonly port: number; readonly rpcPort: number}>, advice: string): Promise<void> {
  const wanted = nodes.flatMap((node) => [
    {port: node.port, what: `the client port of ${node.name}`},
    {port: node.rpcPort, what: `the internode port of ${node.name}`},
  ])
  await checkPortsFree(host, wanted, advice)
}

/** Refuses (bad_parameter) when any of `wanted` is in use on `host`, naming each with what it was for. */
export async function checkPortsFree(host: string, wanted: ReadonlyArray<{readonly port: number; readonly what: string}>, advice: string): Promise<void> {
  const taken = new Set(await portsInUse(wanted.map((w) => w.port), host))
  const clashes = wanted.filter((w) => taken.has(w.port))
  if (clashes.length === 0) return
  throw new DynError(
    'bad_parameter',
    `${clashes.map((c) => `${host}:${c.port} (${c.what})`).join(', ')} ${clashes.length === 1 ? 'is' : 'are'} in use by another process, perhaps another cluster; stop it, or ${advice}`,
    {ports: clashes.map((c) => c.port)},
  )
}

/** The flags every node of the folder starts with: the cluster's settings, then the saved node flags. */
function nodeStartArgs(cluster: LocalCluster): string[] {
  return [...creationSettingsArgs(cluster.settings ?? {}), ...(cluster.startArgs ?? [])]
}

/**
 * Start one node of a local cluster as a detached process (the wrapper above) logging to its
 * file; sets `node.pid` to the node's own pid once the wrapper has reported it, which takes
 * milliseconds. Synchronous, so that the pid is known as soon as this returns.
 */
export function startLocalNode(cluster: LocalCluster, node: LocalNode, extraArgs: readonly string[]): void {
  mkdirSync(path.dirname(node.logFile), {recursive: true})
  rmSync(pidFile(node), {force: true})
  rmSync(exitFile(node), {force: true})
  const where = cluster.advertiseHost === undefined ? ['--host', cluster.host] : ['--listen', cluster.host, '--advertise', cluster.advertiseHost]
  const secret = secretArgsOf(path.dirname(node.logFile))
  const machine = node.machine === undefined ? [] : ['--machine', node.machine]
  const args = [dynRunScript, 'start', '--name', node.name, ...where, '--port', String(node.port), '--rpc-port', String(node.rpcPort), '--data', node.dataDir, ...machine, ...secret, ...extraArgs]
  const logFd = openSync(node.logFile, 'a')
  const wrapper = spawn('/bin/sh', ['-c', wrapperScript, 'dyn-node', exitFile(node), pidFile(node), node.name, process.execPath, ...args], {detached: true, stdio: ['ignore', logFd, logFd]})
  closeSync(logFd)
  // A failed spawn is also reported as an 'error' event, after this has thrown already.
  wrapper.once('error', () => undefined)
  wrapper.unref()
  if (wrapper.pid === undefined) throw new DynError('internal', `could not start ${node.name}: /bin/sh could not be run`)
  node.wrapperPid = wrapper.pid
  const sleeper = new Int32Array(new SharedArrayBuffer(4))
  const deadline = Date.now() + pidFileWaitMs
  while (Date.now() < deadline) {
    const pid = existsSync(pidFile(node)) ? Number.parseInt(readFileSync(pidFile(node), 'utf8'), 10) : Number.NaN
    if (Number.isInteger(pid) && pid > 0) {
      node.pid = pid
      return
    }
    Atomics.wait(sleeper, 0, 0, 5)
  }
  throw new DynError('internal', `could not start ${node.name}: its wrapper (/bin/sh) reported no pid within ${pidFileWaitMs} ms; see ${node.logFile}`)
}

/** How a node's process ended, from its wrapper's record; undefined when unknown. */
export interface NodeEnding {
  readonly exitCode?: number
  readonly signal?: string
  readonly endedAt?: string
}

/** The wrapper's exit record for the node's recorded pid (a record of an earlier pid is not it). */
export function nodeEnding(node: LocalNode): NodeEnding | undefined {
  try {
    const record = JSON.parse(readFileSync(exitFile(node), 'utf8')) as {pid: number; status: number; endedAt?: string}
    if (record.pid !== node.pid) return undefined
    const endedAt = typeof record.endedAt === 'string' ? {endedAt: record.endedAt} : {}
    if (record.status > 128) {
      const signal = Object.entries(osConstants.signals).find(([, number]) => number === record.status - 128)?.[0]
      if (signal !== undefined) return {signal, ...endedAt}
    }
    return {exitCode: record.status, ...endedAt}
  } catch {
    return undefined
  }
}

/** "exited with code 2", "killed by SIGKILL", or that it is not known. */
export function describeEnding(pid: number | undefined, ending: NodeEnding | undefined): string {
  if (ending?.signal !== undefined) return `pid ${pid} killed by ${ending.signal}`
  if (ending?.exitCode !== undefined) return `pid ${pid} exited with code ${ending.exitCode}`
  return `pid ${pid} gone, how it ended is not known`
}

/**
 * The coded error a node that exited with a code printed last (old_disk: a copy of an older
 * disk), read back from its log; undefined for a node killed by a signal or that printed none.
 * Its code goes in the details of `up`'s and `status`'s answers, where a script can match it.
 */
export function nodeFailure(node: LocalNode, ending: NodeEnding | undefined, logTail: readonly string[] = tail(node.logFile, 1)): {code: string; message: string} | undefined {
  return ending?.exitCode === undefined ? undefined : parseFailureLine(logTail.at(-1) ?? '')
}

/** How a folder's node is gone from the cluster, as its own last run says: it left, or it was removed. */
export type Departure = 'left' | 'removed'

/** The last lines of a log that `departureOf` reads: a leaver logs a few more after its last hand-off (gossip, stopping, stopped). */
const departureLogLines = 8

/** The departure a node's coded exit says: `removed` (it learnt it was removed), `already_left` (its folder says it left). */
function departureOfCode(code: unknown): Departure | undefined {
  return code === 'removed' ? 'removed' : code === 'already_left' ? 'left' : undefined
}

/**
 * Whether a node's own last run says it is gone from the cluster: it stopped on learning it was
 * removed (its last line the coded error `removed`), it refused to start on a folder that says
 * it left (`already_left`), or it exited 0 after handing everything off on a leave. Undefined for any other ending (a crash, a kill, a stop by down). It is what a
 * folder knows when none of its nodes runs to ask: after every node of the folder left or was
 * removed (the cluster living on in nodes started by hand), status advised starting a removed
 * node again, and up started it, which then exited `removed` and failed up with node_exited.
 * Pure on the recorded ending and the log's last lines.
 */
export function departureOf(ending: NodeEnding | undefined, logTail: readonly string[]): Departure | undefined {
  if (ending?.exitCode === undefined) return undefined
  const coded = departureOfCode(parseFailureLine(logTail.at(-1) ?? '')?.code)
  if (coded !== undefined) return coded
  if (ending.exitCode === 0 && logTail.some((line) => line.endsWith(leftClusterLogLine))) return 'left'
  return undefined
}

/** `departureOf` for a node of the folder that does not run, read from its exit record and log. */
export function nodeDeparture(node: LocalNode): Departure | undefined {
  if (node.pid === undefined || isNodeProcess(node)) return undefined
  return departureOf(nodeEnding(node), tail(node.logFile, departureLogLines))
}

async function exitedWhileStarting(node: LocalNode): Promise<NodeExitedError> {
  let ending = nodeEnding(node)
  for (let waitedMs = 0; ending === undefined && waitedMs < exitRecordWaitMs; waitedMs += 50) {
    await wait(50)
    ending = nodeEnding(node)
  }
  const logTail = tail(node.logFile, logTailLines)
  const failure = nodeFailure(node, ending, logTail)
  const failed = failureText(failure)
  return new NodeExitedError(`${node.name} exited while starting (${describeEnding(node.pid, ending)})${failed}; its log (${node.logFile}) ends with:\n${logTail.join('\n')}`, {
    node: node.name,
    pid: node.pid,
    ...ending,
    ...(failure === undefined ? {} : {nodeError: failure.code, nodeMessage: failure.message}),
    log: node.logFile,
    logTail,
  })
}

/**
 * Wait until every node of `nodes` serves as itself (its /health names its pid) in one cluster
 * (the folder's recorded id, or else one id shared by all), and, unless `memberCount` is
 * undefined, knows at least that many members and computes the same ring. Returns the cluster
 * id. A node whose process exits fails the wait at once with a `NodeExitedError`.
 */
export async function waitForNodes(cluster: LocalCluster, nodes: readonly LocalNode[], memberCount: number | undefined, timeoutMs: number, signal?: AbortSignal): Promise<string> {
  const deadline = Date.now() + timeoutMs
  let lastProblem = 'no answer yet'
  while (Date.now() < deadline) {
    throwIfInterrupted(signal)
    const views = await Promise.all(nodes.map((node) => probe(cluster, node)))
    for (const node of nodes) if (await confirmedDead(node)) throw await exitedWhileStarting(node)
    const problem = readinessProblem(cluster, nodes, views, memberCount)
    if (problem === undefined) return String(views[0]?.clusterId)
    // A paused node holds the others up too ("n1 does not reach n3 yet"): the cause is said, with
    // its remedy, as status says it (waited for all the same: it may be resumed meanwhile).
    const paused = nodes.find((node) => node.pid !== undefined && isProcessPaused(node.pid))
    lastProblem = paused === undefined ? problem : `${paused.name} (pid ${paused.pid}) is paused, stopped by a signal such as SIGSTOP or Ctrl-Z: resume it with kill -CONT ${paused.pid}`
    await wait(pollIntervalMs)
  }
  throw new DynError('timeout', `the cluster was not ready after ${timeoutMs} ms (${lastProblem}); see the logs in the cluster folder`)
}

/** What an `up` stopped by its user says, once `clusterUp` has stopped the nodes it started. */
export const interruptedUpMessage = 'dyn cluster up was interrupted: the nodes it had started were stopped again, and nodes that were running before are left alone; run it again to start the cluster'

/** Fails an `up` whose command was interrupted; `clusterUp` then stops the nodes it started. */
function throwIfInterrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new DynError('interrupted', interruptedUpMessage)
}

export interface HealthView {
  readonly pid: unknown
  readonly node: unknown
  readonly clusterId: unknown
  readonly members: unknown
  readonly ringHash: unknown
  /** The members the node's failure detector sees as down. */
  readonly down?: unknown
  /** Members that own partitions in its ring, and the ring change under way (null when none). */
  readonly ringMembers?: unknown
  readonly transition?: unknown
  /** The node's own membership status (joining, valid, leaving, left). */
  readonly status?: unknown
  /** Anti-entropy on the node: catching up after a lost disk, keys repaired (AntiEntropySummary). */
  readonly antiEntropy?: unknown
  /** Why a node restarted on its folder takes no writes yet (src/node/membership-confirmation.ts); absent once it does. */
  readonly membershipUnconfirmed?: unknown
}

export async function probe(cluster: LocalCluster, node: LocalNode, timeoutMs = probeTimeoutMs): Promise<HealthView | undefined> {
  return probeAt(cluster, `${cluster.host}:${node.port}`, timeoutMs)
}

/** GET /health at a client address (host:port) with the folder's TLS: the answer, or undefined. */
async function probeAt(cluster: LocalCluster, address: string, timeoutMs: number): Promise<HealthView | undefined> {
  const answer = await localNodeClient(cluster, address, timeoutMs).getJson('/health').catch(() => undefined)
  return answer?.ok === true ? (answer.body as unknown as HealthView) : undefined
}

/** Why the nodes are not ready yet, or undefined when they are: the readiness rule, pure. */
function readinessProblem(cluster: LocalCluster, nodes: readonly LocalNode[], views: ReadonlyArray<HealthView | undefined>, memberCount: number | undefined): string | undefined {
  const clusterId = cluster.clusterId ?? views[0]?.clusterId
  const hashes = new Set<unknown>()
  for (const [i, node] of nodes.entries()) {
    const view = views[i]
    if (view === undefined) return `${node.name} does not answer yet`
    if (view.pid !== node.pid || view.node !== node.name) {
      return `${cluster.host}:${node.port} is answered by ${String(view.node)} (pid ${String(view.pid)}), not by ${node.name} (pid ${node.pid})`
    }
    if (view.clusterId !== clusterId) return `${node.name} is in cluster ${String(view.clusterId)}, not in this folder's cluster ${String(clusterId)}`
    if (memberCount !== undefined && Number(view.members) < memberCount) return `${node.name} knows ${String(view.members)} of ${memberCount} members`
    // Started nodes must also reach each other (its failure detector's view, /health's `down`):
    // right after a restart a node may still be backing off from a peer it saw die.
    const unreached = Array.isArray(view.down) ? view.down.filter((name) => nodes.some((other) => other.name === name)) : []
    if (unreached.length > 0) return `${node.name} does not reach ${unreached.join(', ')} yet`
    // A node turns valid once its join is installed (its own view; the others learn it by gossip).
    if (memberCount !== undefined && view.status !== undefined && view.status !== 'valid') return `${node.name} is still ${String(view.status)}`
    // A node restarted on its folder takes writes once a majority of the ring has answered it
    // (src/node/membership-confirmation.ts): up returns once every node takes them. Not asked of
    // the first node of a stopped cluster while it is alone, which no one can answer yet.
    if (memberCount !== undefined && typeof view.membershipUnconfirmed === 'string') return `${node.name} has not confirmed yet that it is still a member (it takes no writes until a majority of the ring's members answers it)`
    // Each join is committed by the claimant and installed once its transfers are done.
    if (memberCount !== undefined && (Number(view.ringMembers) < memberCount || (view.transition !== undefined && view.transition !== null))) {
      return `${node.name}'s ring has ${String(view.ringMembers)} of ${memberCount} members${view.transition === null || view.transition === undefined ? '' : ', a ring change still moving data'}`
    }
    hashes.add(view.ringHash)
  }
  if (memberCount !== undefined && hashes.size > 1) return 'the nodes do not agree on the ring yet'
  return undefined
}

function tail(file: string, lines: number): string[] {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines)
  } catch {
    return ['(no log)']
  }
}

/**
 * Stop the nodes that run (SIGTERM, then SIGKILL after `graceMs`): the names of those stopped,
 * and of those among them that had to be killed. A paused node (SIGSTOP, Ctrl-Z) is sent SIGCONT
 * after the SIGTERM, so that it stops cleanly, its store closed, instead of being killed at the
 * deadline (a new user's walk); to one that runs, SIGCONT is nothing.
 */
async function stopNodes(nodes: readonly LocalNode[], graceMs: number, log: (line: string) => void): Promise<{stopped: string[]; killed: string[]}> {
  const running = nodes.filter(isNodeProcess)
  for (const node of running) {
    process.kill(node.pid as number, 'SIGTERM')
    try {
      process.kill(node.pid as number, 'SIGCONT')
    } catch {
      // It ended between the two signals: nothing to continue.
    }
  }
  const deadline = Date.now() + graceMs
  while (running.some(isNodeProcess) && Date.now() < deadline) await wait(pollIntervalMs)
  const killed = running.filter(isNodeProcess)
  for (const node of killed) {
    log(`${node.name} did not stop within ${graceMs} ms; killing it`)
    process.kill(node.pid as number, 'SIGKILL')
  }
  while (running.some(isNodeProcess)) await wait(pollIntervalMs)
  for (const node of running) log(`${killed.includes(node) ? 'killed' : 'stopped'} ${node.name} (pid ${node.pid})`)
  return {stopped: running.map((node) => node.name), killed: killed.map((node) => node.name)}
}

/**
 * Stop every running node of the folder; the description, which nodes were stopped, and which
 * still run because the folder did not start them (a `dyn start` by hand: down does not signal a
 * process it knows only from a node's answer). With `purging`, such a node is refused before
 * anything stops: it may run on its data folder here, which the purge would delete under it.
 */
export async function clusterDown(dir: string, graceMs: number, log: (line: string) => void, purging = false): Promise<LocalCluster & DownResult> {
  const cluster = await readCluster(dir)
  if (cluster === undefined) throw noClusterToStop(dir)
  // Held for the whole stop: an up still starting nodes would start more after this stopped
  // those it knew of, and one beginning meanwhile would start nodes this then records as stopped.
  return withFolderLock(dir, purging ? 'cluster down --purge' : 'cluster down', async () => stopFolder(dir, (await readCluster(dir)) ?? cluster, graceMs, log, purging))
}

function noClusterToStop(dir: string): DynError {
  return new DynError('bad_parameter', `no cluster in ${dir} (no ${clusterFileName}); nothing to stop`)
}

/** `clusterDown` with the folder's lock held. */
async function stopFolder(dir: string, cluster: LocalCluster, graceMs: number, log: (line: string) => void, purging: boolean): Promise<LocalCluster & DownResult> {
  const notOurs = cluster.nodes.filter((node) => !isNodeProcess(node))
  const elsewhere = await nodesStartedElsewhere(cluster, notOurs)
  if (purging) {
    // A node started by hand on its data folder here may answer on other ports, or not yet: its
    // database's lock says it all the same. LevelDB is loaded only here: every cluster command
    // imports this module, and most never need it.
    const {isDiskDatabaseInUse} = await import('../storage/backend.js')
    const locked = (await Promise.all(notOurs.filter((node) => !elsewhere.some((e) => e.node === node)).map(async (node) => ((isNodeDataFolder(node.dataDir) && (await isDiskDatabaseInUse(node.dataDir))) ? [node] : [])))).flat()
    if (elsewhere.length > 0 || locked.length > 0) {
      const named = [...(elsewhere.length > 0 ? [startedElsewhereText(elsewhere)] : []), ...locked.map((node) => `the data folder of ${node.name} (${node.dataDir}, held open by a process this folder did not start)`)]
      const one = elsewhere.length + locked.length === 1
      throw new DynError(
        'bad_parameter',
        `${named.join(', ')}: ${one ? 'a node' : 'nodes'} of this folder ${one ? 'runs' : 'run'} outside its dyn cluster up (by hand), perhaps on ${one ? 'its data folder' : 'their data folders'} here, which --purge would delete under ${one ? 'it' : 'them'}: stop ${one ? 'it' : 'them'}, then run dyn cluster down --dir ${shellQuote(dir)} --purge again. Nothing was stopped or deleted`,
        {nodes: [...elsewhere.map(({node}) => node.name), ...locked.map((node) => node.name)]},
      )
    }
  }
  // Recorded while a member can still say it, so that the next `up` does not start them.
  await learnLeft(cluster, cluster.nodes.filter(isNodeProcess))
  // Nodes started with a stop delay serve that long after the SIGTERM before they begin to stop:
  // the grace counts from then.
  const {stopped, killed} = await stopNodes(cluster.nodes, graceMs + stopDelayMsOf(cluster.startArgs ?? []), log)
  await waitForWrappers(cluster.nodes, log)
  for (const node of cluster.nodes) {
    node.pid = undefined
    node.wrapperPid = undefined
  }
  await writeCluster(dir, cluster)
  return {...cluster, stopped, killed, startedElsewhere: elsewhere.map(({node, pid}) => ({name: node.name, ...(pid === undefined ? {} : {pid})}))}
}

/**
 * A wrapper writes its node's exit record within milliseconds of the node's end; this bounds
 * the wait for one that is stuck (stopped by SIGSTOP, say), after which it is killed.
 */
const wrapperExitWaitMs = 5000

/**
 * Waits until every node's wrapper has written its exit record and exited, so that nothing
 * writes into the folder once `down` returns (a `--purge` that raced a wrapper's last write
 * failed with ENOTEMPTY). A wrapper still there after the bound is killed: its node is gone.
 */
async function waitForWrappers(nodes: readonly LocalNode[], log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + wrapperExitWaitMs
  while (nodes.some(isWrapperProcess) && Date.now() < deadline) await wait(20)
  for (const node of nodes.filter(isWrapperProcess)) {
    log(`the wrapper of ${node.name} (pid ${node.wrapperPid}) did not exit within ${wrapperExitWaitMs} ms after its node; killing it`)
    process.kill(node.wrapperPid as number, 'SIGKILL')
  }
  while (nodes.some(isWrapperProcess)) await wait(20)
}

/** How often, and how far apart, removing a folder is tried again when something still wrote into it. */
const removeRetries = 10
const removeRetryDelayMs = 100

/**
 * Why `dir` cannot take a new cluster, in words that say what to do; undefined when it can: a
 * folder that does not exist yet, or one that holds nothing but what a cluster of `nodeNames`
 * makes (left by an earlier `up` that failed before it wrote cluster.json). `down --purge`
 * deletes what a cluster keeps in its folder, so a folder that already holds a user's files is
 * not one to make a cluster in (a --dir of ~/project would put the cluster's data among the
 * project's files); dyn verify asks this too, before it starts anything.
 */
export async function newClusterFolderRefusal(dir: string, nodeNames: readonly string[]): Promise<string | undefined> {
  let entries: string[]
  try {
    entries = await folderEntries(dir)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOTDIR') return `${dir} is not a folder: give --dir a new or empty folder`
    if (code === 'EACCES' || code === 'EPERM') return `${dir} cannot be read (${code}): give --dir a folder you may read and write`
    throw error
  }
  const foreign = foreignEntries(entries, nodeNames)
  if (foreign.length === 0) return undefined
  return `${dir} already holds files that are not a dyn cluster's (${listSome(foreign)}) and no ${clusterFileName}: a new cluster is made in a new or empty folder, which dyn cluster down --purge deletes again. Give a folder of its own, such as ${path.join(dir, 'cluster')}`
}

/** Rounds of removal at most, each after the entries a late write may have added (a wrapper's exit record). */
const purgeRounds = 3
const purgeRoundDelayMs = 100

/**
 * `dyn cluster down --purge`: stops the folder's nodes and their wrappers, then deletes what the
 * cluster keeps in the folder (each node's data folder, log, pid and exit records, then its
 * secret, and its description last, so that a purge cut short can be run again) and the folder
 * itself once nothing else is in it. Anything else found there (a user's own files) is left in
 * place, and so is the folder then: `kept` names those entries. The folder is also kept when it
 * is the current directory or holds it, or when `dir` is a symbolic link (the link is the user's;
 * what it points to is purged). Entries a process this folder's description does not know of
 * writes late (an older folder without wrapper pids) are removed in a further round.
 *
 * For a folder the caller made itself (a temporary one), `clusterDownAndRemoveFolder` removes
 * everything.
 */
export async function clusterDownAndPurge(dir: string, graceMs: number, log: (line: string) => void): Promise<LocalCluster & PurgeResult> {
  if ((await readCluster(dir)) === undefined) throw noClusterToStop(dir)
  const folder = await realpath(dir)
  // The lock is held from the stop to the last entry deleted: an up that began in between would
  // start nodes in a folder whose description and data are being deleted. Its own file goes last,
  // when it is given back; the folder then is removed only if empty, so a command that took the
  // folder in that moment keeps what it made.
  const purged = await withFolderLock(dir, 'cluster down --purge', async () => {
    const cluster = await clusterDown(dir, graceMs, log, true)
    const names = cluster.nodes.map((node) => node.name)
    const lastFirst = (entry: string): number => (entry === clusterFileName ? 2 : entry === clusterSecretFileName ? 1 : 0)
    for (let round = 0; round < purgeRounds; round += 1) {
      const ours = (await folderEntries(folder)).filter((entry) => entry !== folderLockFileName && isClusterEntry(entry, names)).sort((a, b) => lastFirst(a) - lastFirst(b))
      if (ours.length === 0) break
      if (round > 0) await wait(purgeRoundDelayMs)
      for (const entry of ours) await removeFolder(path.join(folder, entry))
    }
    return {cluster, kept: foreignEntries(await folderEntries(folder), names)}
  })
  const {cluster} = purged
  let kept = purged.kept
  const fromFolder = path.relative(folder, await realpath(process.cwd()))
  const holdsCurrentDirectory = fromFolder === '' || (fromFolder !== '..' && !fromFolder.startsWith(`..${path.sep}`) && !path.isAbsolute(fromFolder))
  const isLink = (await lstat(dir)).isSymbolicLink()
  let folderKept: PurgeResult['folderKept'] = kept.length > 0 ? 'holds-other-files' : isLink ? 'symbolic-link' : holdsCurrentDirectory ? 'current-directory' : undefined
  if (folderKept === undefined) {
    try {
      await rmdir(folder)
    } catch (error) {
      if (!['ENOTEMPTY', 'EEXIST'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error
      // Another command made something here once the lock was given back: it is that command's.
      folderKept = 'holds-other-files'
      kept = await folderEntries(folder)
    }
  }
  return {...cluster, kept, folderDeleted: folderKept === undefined, ...(folderKept === undefined ? {} : {folderKept})}
}

export interface DownResult {
  /** The nodes stopped, by name. */
  readonly stopped: string[]
  /** Those of them that did not stop within the grace period and were killed (SIGKILL). */
  readonly killed: string[]
  /** Nodes of the folder that serve from a process it did not start (by hand), left running. */
  readonly startedElsewhere: ReadonlyArray<{readonly name: string; readonly pid?: number}>
}

export interface PurgeResult extends DownResult {
  /** Entries left in the folder that the cluster did not make, sorted. */
  readonly kept: string[]
  readonly folderDeleted: boolean
  /** Why the folder stayed: files of the user's own in it, `--dir` a symbolic link (the user's), or the current directory in it. */
  readonly folderKept?: 'holds-other-files' | 'symbolic-link' | 'current-directory'
}

/**
 * For a folder the caller made itself (a temporary folder of a benchmark or an experiment): stops
 * the nodes of the cluster it holds, if any, and removes the folder with everything in it,
 * whatever else its runs put there (a node started by hand beside the cluster's).
 */
export async function clusterDownAndRemoveFolder(dir: string, graceMs: number, log: (line: string) => void): Promise<void> {
  try {
    if ((await readCluster(dir)) !== undefined) await clusterDown(dir, graceMs, log)
  } finally {
    await removeFolder(dir)
  }
}

/** A folder's entries, sorted; none when it does not exist. */
async function folderEntries(dir: string): Promise<string[]> {
  const entries = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return []
    throw error
  })
  return entries.sort()
}

/**
 * Whether an entry of a cluster's folder is one the cluster made: its description and secret,
 * and per node (`nodeNames`) its data folder, log, and the pid and exit records its wrapper
 * writes (with the temporary names they are written under before being moved into place).
 */
export function isClusterEntry(entry: string, nodeNames: readonly string[]): boolean {
  if (entry === clusterFileName || entry === `${clusterFileName}.tmp` || entry === clusterSecretFileName || isFolderLockEntry(entry)) return true
  return nodeNames.some((name) => [name, `${name}.log`, `${name}.pid`, `${name}.pid.tmp`, `${name}.exit.json`, `${name}.exit.json.tmp`].includes(entry))
}

/** The entries of a folder that a cluster with these nodes would not have made. */
export function foreignEntries(entries: readonly string[], nodeNames: readonly string[]): string[] {
  return entries.filter((entry) => !isClusterEntry(entry, nodeNames)).sort()
}

/** A few names of a list for a message, with how many more there are. */
export function listSome(names: readonly string[]): string {
  const shown = names.slice(0, 3).join(', ')
  return names.length > 3 ? `${shown} and ${names.length - 3} more` : shown
}

/** Deletes a folder and everything in it, retrying while a last write races the removal. */
export async function removeFolder(dir: string): Promise<void> {
  await rm(dir, {recursive: true, force: true, maxRetries: removeRetries, retryDelay: removeRetryDelayMs})
}
