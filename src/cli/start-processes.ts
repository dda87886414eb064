/**
 * `dyn start --processes K`: one machine runs K nodes, one per core, that the ring treats as one
 * machine (paper §4.3: a key's preference list holds distinct physical nodes; src/ring/ring.ts).
 *
 * A node is one Node.js process, and its request path (HTTP, coordination, the replica side,
 * LevelDB's calls) runs on one thread, so one node uses about one core. Rather than split a
 * node's request path across threads, which would put every request through a second hop
 * inside the machine, a machine runs several whole nodes: each owns its share of the
 * partitions, its own LevelDB and its own sockets, so throughput grows with the cores the way
 * it grows with machines. What keeps this safe is the machine name every one of them carries:
 * a key's N homes are on N distinct machines, so losing the machine loses one copy of each key.
 *
 * This module plans the K nodes (names, ports, folders, seeds) purely, and runs them as child
 * processes of the foreground `dyn start`: it starts the first, waits until it serves, starts
 * the rest through it, passes a stop signal on to every child, and ends when they have all ended.
 */

import {spawn, type ChildProcess} from 'node:child_process'
import {mkdir, readFile, rename, writeFile} from 'node:fs/promises'
import path from 'node:path'
import type {Readable, Writable} from 'node:stream'
import {DynClient} from '../client/http-client.js'
import type {ClientTls} from '../client/http-client.js'
import {namePattern} from '../membership/names.js'
import {formatAddress} from '../transport/rpc-common.js'
import {failureText, parseFailureLine} from './command-output.js'
import {LineRelay} from './line-relay.js'

/** Processes one `dyn start` may run: far above today's core counts, and a bound on what a typo can start. */
export const processesMax = 256

export interface ProcessesRequest {
  readonly name: string
  /** The machine the K nodes share; the first node's name (`name`) unless given. */
  readonly machine?: string
  readonly processes: number
  readonly port: number
  readonly rpcPort: number
  readonly data: string
  readonly advertiseHost: string
  /** Internode addresses to join through; empty: the first node creates a cluster. */
  readonly seeds: readonly string[]
}

/** One of the K nodes: what its `dyn start` gets beyond the flags they all share. */
export interface PlannedProcess {
  readonly name: string
  readonly port: number
  readonly rpcPort: number
  readonly data: string
  readonly seeds: readonly string[]
}

export interface ProcessesPlan {
  readonly machine: string
  readonly processes: readonly PlannedProcess[]
}

export type Planned = {readonly ok: true; readonly plan: ProcessesPlan} | {readonly ok: false; readonly error: 'bad_parameter'; readonly message: string}

/**
 * The K nodes of one machine: `<name>-1` .. `<name>-K` on ports P..P+K-1 and internode ports
 * R..R+K-1, each with its own folder under --data. The first joins through the given seeds (or
 * creates the cluster without them); the others join through the given seeds, or the first.
 * Every name, port and folder is a pure function of the flags, so a restart with the same flags
 * finds each node's folder again.
 */
export function planProcesses(request: ProcessesRequest): Planned {
  const {processes, port, rpcPort} = request
  const refuse = (message: string): Planned => ({ok: false, error: 'bad_parameter', message})
  if (!Number.isInteger(processes) || processes < 1 || processes > processesMax) return refuse(`--processes ${processes}: give 1 to ${processesMax}, or auto (one per core)`)
  const machine = request.machine ?? request.name
  if (!namePattern.test(machine)) return refuse(`--machine "${machine}": use 1 to 64 letters, digits, '.', '_' or '-'`)
  const names = Array.from({length: processes}, (_, index) => `${request.name}-${index + 1}`)
  const longest = names.at(-1) as string
  if (!namePattern.test(longest)) return refuse(`--name "${request.name}": its nodes are named ${names[0]} to ${longest}, which must be 1 to 64 letters, digits, '.', '_' or '-'; choose a shorter --name`)
  if (port === 0 || rpcPort === 0) return refuse('--processes needs fixed ports: give --port (and --rpc-port, or leave it to be --port + 1000), not 0, so that the nodes can find each other and restart on the same ports')
  for (const [flag, first] of [['--port', port], ['--rpc-port', rpcPort]] as const) {
    if (first + processes - 1 > 65535) return refuse(`${flag} ${first}: the ${processes} nodes need ports ${first}..${first + processes - 1}; choose a lower ${flag}`)
  }
  if (Math.abs(port - rpcPort) < processes) {
    return refuse(`--port ${port} and --rpc-port ${rpcPort}: the ${processes} client ports and internode ports overlap; keep them at least ${processes} apart`)
  }
  const firstSeeds = [formatAddress(request.advertiseHost, rpcPort)]
  return {
    ok: true,
    plan: {
      machine,
      processes: names.map((name, index) => ({
        name,
        port: port + index,
        rpcPort: rpcPort + index,
        data: path.join(request.data, name),
        seeds: request.seeds.length > 0 || index === 0 ? request.seeds : firstSeeds,
      })),
    },
  }
}

/**
 * What --data records of the nodes it holds (processes.json): how many, so that `--processes
 * auto` on a machine whose core count changed (a cgroup limit, a resized VM) starts the same
 * nodes again, and a smaller count, which would leave nodes down that still hold replicas, is
 * refused.
 */
export interface ProcessesRecord {
  readonly name: string
  readonly processes: number
}

export const processesRecordFile = 'processes.json'

export async function readProcessesRecord(data: string): Promise<ProcessesRecord | undefined> {
  const text = await readFile(path.join(data, processesRecordFile), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined
    throw error
  })
  if (text === undefined) return undefined
  const record = JSON.parse(text) as Partial<ProcessesRecord>
  if (typeof record.name !== 'string' || !Number.isInteger(record.processes) || (record.processes as number) < 1) {
    throw new Error(`${path.join(data, processesRecordFile)} is not a record of dyn start --processes; move it aside`)
  }
  return record as ProcessesRecord
}

/** Written whole or not at all, before any node starts. */
export async function writeProcessesRecord(data: string, record: ProcessesRecord): Promise<void> {
  await mkdir(data, {recursive: true})
  const file = path.join(data, processesRecordFile)
  await writeFile(`${file}.tmp`, `${JSON.stringify(record)}\n`)
  await rename(`${file}.tmp`, file)
}

/**
 * How many nodes to run: the number asked for, or for `auto` the folder's count once it has one
 * (else this machine's cores). Fewer than the folder already holds is refused: those nodes are
 * members that would stay down with their replicas.
 */
export function processCount(requested: number | 'auto', cores: number, name: string, recorded: ProcessesRecord | undefined): {ok: true; processes: number} | {ok: false; error: 'bad_parameter'; message: string} {
  if (recorded !== undefined && recorded.name !== name) {
    return {ok: false, error: 'bad_parameter', message: `this --data folder holds the nodes of --name ${recorded.name} (${processesRecordFile}), not ${name}; start with --name ${recorded.name} or use another --data folder`}
  }
  const processes = requested === 'auto' ? (recorded?.processes ?? Math.min(cores, processesMax)) : requested
  if (recorded !== undefined && processes < recorded.processes) {
    return {
      ok: false,
      error: 'bad_parameter',
      message: `this --data folder holds ${recorded.processes} nodes (${name}-1..${name}-${recorded.processes}); starting ${processes} would leave ${processes + 1 === recorded.processes ? `${name}-${recorded.processes}` : `${name}-${processes + 1}..${name}-${recorded.processes}`} down while the ring still counts on their replicas. Give --processes ${recorded.processes} (or auto), or take them out first with dyn cluster leave`,
    }
  }
  return {ok: true, processes}
}

/**
 * How long the nodes may take to serve before the start is given up. Long: a node's own start is
 * bounded (a join gives up after its attempts, the disk check after its rounds), and a node that
 * gives up ends, which fails the start at once.
 */
export const processReadyTimeoutMs = 600_000
/**
 * A second stop signal this long after the first cuts a node's stop delay short (dyn start and its
 * --processes supervisor); one sooner is the first delivered twice (a terminal's Ctrl-C reaches a
 * node from the terminal and from its supervisor; systemd signals every process of the unit).
 */
export const repeatedSignalMs = 1000

/** How long the nodes have to stop after the signal is passed on, before they are killed. */
export const processStopGraceMs = 30_000
const readyPollIntervalMs = 200
const healthProbeTimeoutMs = 1000

export interface RunProcessesOptions {
  readonly plan: ProcessesPlan
  /** The nodes' --stop-delay-ms: they serve that long after the signal, so they get that long more before they are killed. */
  readonly stopDelayMs: number
  /** The whole `dyn start` command line (after node's own) of one planned node. */
  readonly argsOf: (planned: PlannedProcess) => string[]
  /** The script the children run (bin/run.js). */
  readonly runScript: string
  readonly advertiseHost: string
  /** With TLS nodes (--tls-*): the CA the supervisor checks their HTTPS health answers with. */
  readonly tls?: ClientTls
  readonly log: (line: string) => void
}

/**
 * How a child ended, beyond `exit 2`: its exit code, and the coded error its `dyn start` failed
 * with when it printed one (its last `dyn: MESSAGE [CODE]` line on stderr, or its last
 * `{"ok": false, ...}` line on stdout with --json), as `dyn cluster up` reports a node that exited.
 */
export interface ChildEnding {
  readonly exitCode?: number
  readonly nodeError?: string
  readonly nodeMessage?: string
}

/** How a run of K nodes ended: every child stopped (`failed` empty), or which failed and how. */
export interface ProcessesOutcome {
  readonly startFailed?: {readonly name: string; readonly message: string} & ChildEnding
  readonly failed: ReadonlyArray<{readonly name: string; readonly status: string} & ChildEnding>
}

/** The end of a child's output kept to find its error in: a failure is one line, far shorter. */
const outputTailChars = 8192

/** A child's coded error in the tail of its stdout and stderr: the last failure line of either (see ChildEnding). */
export function childFailure(stdoutTail: string, stderrTail: string): {code: string; message: string} | undefined {
  const fromStderr = stderrTail.split('\n').map((line) => parseFailureLine(line.trimEnd())).filter((failure) => failure !== undefined).at(-1)
  if (fromStderr !== undefined) return fromStderr
  for (const line of stdoutTail.split('\n').reverse()) {
    if (!line.startsWith('{')) continue
    try {
      const answer = JSON.parse(line) as {ok?: unknown; error?: unknown; message?: unknown}
      if (answer.ok === false && typeof answer.error === 'string') return {code: answer.error, message: typeof answer.message === 'string' ? answer.message : ''}
    } catch {
      // A line cut by the tail's start, or a log line that is no JSON: not the failure.
    }
  }
  return undefined
}

/** The ending's fields for an outcome. */
function endingOf(child: Child): ChildEnding {
  const failure = childFailure(child.stdoutTail, child.stderrTail)
  return {...(child.exitCode === undefined ? {} : {exitCode: child.exitCode}), ...(failure === undefined ? {} : {nodeError: failure.code, nodeMessage: failure.message})}
}

/** " with error CODE: message" for an ending, as `dyn cluster up` says it of a node that exited. */
function endingText(ending: ChildEnding): string {
  return failureText(ending.nodeError === undefined ? undefined : {code: ending.nodeError, message: ending.nodeMessage ?? ''})
}

interface Child {
  readonly planned: PlannedProcess
  readonly process: ChildProcess
  readonly exited: Promise<string>
  ended: string | undefined
  exitCode: number | undefined
  /** The last `outputTailChars` of its stdout and stderr, as passed on (whole lines, line-relay.ts). */
  stdoutTail: string
  stderrTail: string
  /** It answered GET /health as itself: its signal handlers are in place (SIGHUP among them, with TLS). */
  serving: boolean
}

/**
 * Run the planned nodes until they have all ended. Each logs to this process's stdout and
 * stderr itself (its lines carry its name). A child that ends while the nodes are starting stops
 * the others and fails the start; afterwards one ending leaves the others serving, as a machine
 * with one failed process would, and the run ends when the last one does.
 */
export async function runProcesses(options: RunProcessesOptions): Promise<ProcessesOutcome> {
  const children: Child[] = []
  let stopping = false
  let killTimer: NodeJS.Timeout | undefined
  const stopAll = (signal: NodeJS.Signals): void => {
    stopping = true
    for (const child of children) if (child.ended === undefined) child.process.kill(signal)
    // A node that hangs while it stops must not hold the command (and its ports) for ever.
    const killAfterMs = options.stopDelayMs + processStopGraceMs
    killTimer ??= setTimeout(() => {
      for (const child of children) {
        if (child.ended !== undefined) continue
        options.log(`${child.planned.name} did not stop within ${killAfterMs / 1000} s; killing it`)
        child.process.kill('SIGKILL')
      }
    }, killAfterMs)
  }
  // The first signal is passed on once: a terminal's Ctrl-C reaches the children too, and a node
  // stops on its first signal. Every later one, a second or more after it, is passed on as well:
  // it cuts the nodes' stop delay short (--stop-delay-ms), as it does for a lone node (each node
  // takes a repeat within a second of its own first signal as the same one).
  let firstSignalAtMs = 0
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      if (options.stopDelayMs > 0 && performance.now() - firstSignalAtMs >= repeatedSignalMs) {
        options.log(`${signal} again: the nodes stop without waiting out their stop delay`)
        for (const child of children) if (child.ended === undefined) child.process.kill('SIGTERM')
      }
      return
    }
    firstSignalAtMs = performance.now()
    options.log(`${signal}: stopping ${children.filter((child) => child.ended === undefined).length} node(s)`)
    stopAll('SIGTERM')
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  // With TLS, SIGHUP to the supervisor asks every node to take its rotated certificate files now
  // (each reads the same --tls-* files; src/node/tls-reloader.ts). Without TLS it stops the nodes,
  // as SIGTERM does, each closing its store (as a lone dyn start does on SIGHUP).
  // Only nodes that serve get it: one still starting has no handler for it yet, and SIGHUP's
  // default would end it (those read the files as they start anyway); nor while stopping, when a
  // node's handlers may be gone already.
  const onReload = (): void => {
    if (stopping) return
    for (const child of children) if (child.serving && child.ended === undefined) child.process.kill('SIGHUP')
  }
  const onHangup = options.tls !== undefined ? onReload : (): void => onSignal('SIGHUP')
  process.on('SIGHUP', onHangup)
  try {
    const [first, ...rest] = options.plan.processes
    const startFailure = async (group: readonly PlannedProcess[]): Promise<ProcessesOutcome['startFailed']> => {
      const started = group.map((planned) => startChild(planned, options, () => stopping))
      children.push(...started)
      return waitUntilServing(started, options.advertiseHost, options.tls, () => stopping)
    }
    const startFailed = (first === undefined ? undefined : await startFailure([first])) ?? (stopping ? undefined : await startFailure(rest))
    if (startFailed !== undefined) {
      options.log(`${startFailed.name} did not start: ${startFailed.message}; stopping the others`)
      stopAll('SIGTERM')
    } else if (!stopping) {
      options.log(`${children.length} node(s) serving on machine ${options.plan.machine}: ${children.map((child) => `${child.planned.name} on ${formatAddress(options.advertiseHost, child.planned.port)}`).join(', ')}`)
    }
    const endings = await Promise.all(children.map(async (child) => ({name: child.planned.name, status: await child.exited, ...endingOf(child)})))
    // A node asked to stop may exit by that very signal when it comes in the last moment of its
    // exit, after its store is closed (Node's handlers are gone by then): that is a stop too.
    const stoppedAsAsked = (status: string): boolean => stopping && (status === 'signal SIGTERM' || status === 'signal SIGINT')
    const failed = endings.filter((ending) => ending.status !== 'exit 0' && !stoppedAsAsked(ending.status))
    return {...(startFailed === undefined ? {} : {startFailed}), failed}
  } finally {
    if (killTimer !== undefined) clearTimeout(killTimer)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.off('SIGHUP', onHangup)
  }
}

function startChild(planned: PlannedProcess, options: RunProcessesOptions, stopping: () => boolean): Child {
  // The IPC channel is how a child learns that this process is gone (killed, crashed): it stops
  // then, rather than keep its ports and store with no one to stop it (commands/start.ts).
  // Its output is passed on a whole line at a time, and the end of it kept: a child that fails prints its
  // coded error there, which the supervisor's own failure then reports (ChildEnding).
  const child = spawn(process.execPath, [options.runScript, ...options.argsOf(planned)], {stdio: ['ignore', 'pipe', 'pipe', 'ipc']})
  const record: Child = {
    planned,
    process: child,
    ended: undefined,
    exitCode: undefined,
    stdoutTail: '',
    stderrTail: '',
    serving: false,
    exited: new Promise<string>((resolve) => {
      child.once('error', (error) => {
        record.ended = `could not be run: ${error.message}`
        resolve(record.ended)
      })
      // 'close', not 'exit': it comes once the child's output has been read to its end, its error included.
      child.once('close', (code, signal) => {
        record.ended = signal === null ? `exit ${code ?? 0}` : `signal ${signal}`
        if (signal === null) record.exitCode = code ?? 0
        if (!stopping()) {
          // A node ends by itself with 0 once it has left the cluster (dyn cluster leave or
          // remove; on a later start it finds that again and exits), or when stopped apart from
          // this command. Either way the others run on.
          const why = record.ended === 'exit 0' ? 'exit 0: it left the cluster, or was stopped apart from this command; the other nodes run on' : record.ended
          options.log(`${planned.name} (pid ${child.pid}) ended: ${why}${endingText(endingOf(record))}`)
        }
        resolve(record.ended)
      })
    }),
  }
  relayLines(child.stdout, process.stdout, (text) => {
    record.stdoutTail = (record.stdoutTail + text).slice(-outputTailChars)
  })
  relayLines(child.stderr, process.stderr, (text) => {
    record.stderrTail = (record.stderrTail + text).slice(-outputTailChars)
  })
  return record
}

/**
 * Passes a child's stream on to this process's, whole lines at a time (line-relay.ts: the K
 * nodes share one stdout and one stderr, and a line cut by the pipe must not be finished after
 * another node's), and tells `seen` what was passed on, for the tail a failure is read from.
 */
function relayLines(from: Readable | null, to: Writable, seen: (text: string) => void): void {
  if (from === null) return
  const relay = new LineRelay()
  const pass = (bytes: Buffer): void => {
    if (bytes.length === 0) return
    to.write(bytes)
    seen(bytes.toString('utf8'))
  }
  from.on('data', (chunk: Buffer) => pass(relay.push(chunk)))
  // 'end' comes before the child's 'close', so its last unfinished line is in the tail by then.
  from.once('end', () => pass(relay.end()))
}

/** Waits until each child answers GET /health as itself; the first that ends or never answers is the failure. */
async function waitUntilServing(children: readonly Child[], advertiseHost: string, tls: ClientTls | undefined, stopped: () => boolean): Promise<ProcessesOutcome['startFailed']> {
  const deadlineMs = Date.now() + processReadyTimeoutMs
  const waiting = new Set(children)
  while (waiting.size > 0 && !stopped()) {
    for (const child of [...waiting]) {
      if (child.ended !== undefined) {
        const ending = endingOf(child)
        return {name: child.planned.name, message: `it ended (${child.ended})${endingText(ending)}; its log is above`, ...ending}
      }
      const answer = await new DynClient(formatAddress(advertiseHost, child.planned.port), healthProbeTimeoutMs, tls === undefined ? {} : {tls}).getJson('/health').catch(() => undefined)
      if (answer?.ok === true && answer.body.node === child.planned.name) {
        child.serving = true
        waiting.delete(child)
      }
    }
    if (waiting.size === 0) break
    if (Date.now() > deadlineMs) {
      const late = [...waiting][0] as Child
      return {name: late.planned.name, message: `it did not serve on ${formatAddress(advertiseHost, late.planned.port)} within ${processReadyTimeoutMs / 1000} s`}
    }
    await new Promise((resolve) => setTimeout(resolve, readyPollIntervalMs))
  }
  return undefined
}
