/**
 * Integration-test harness: free ports from the OS, the real `dyn` executable run as a child
 * process, and a local cluster that is always stopped and deleted after its test.
 */

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdtemp, readdir, readFile, readlink} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {randomBytes} from 'node:crypto'
import type net from 'node:net'
import {clusterDown, existingSecretFile, readCluster, removeFolder} from '../../src/cli/local-cluster.js'
import {readSecretFile} from '../../src/node/cluster-secret.js'
import {encodeFrame, FrameDecoder, protocolVersion, type Frame} from '../../src/transport/frame.js'
import {acceptorProof, handshakeNonceBytes, openerProof, proofMatches} from '../../src/transport/handshake.js'
import {MessageType} from '../../src/transport/message-type.js'
import type {LocalCluster} from '../../src/cli/local-cluster.js'
import {replicaGetAnswerObject} from '../../src/coordinator/messages.js'
import {partitionOfKey} from '../../src/ring/partition.js'
import type {StoredObject, StoredVersion} from '../../src/storage/stored-object.js'
import {unauthenticatedCode} from '../../src/transport/rpc-common.js'
import type {Transport} from '../../src/transport/transport.js'
import {emptySet, update} from '../../src/versioning/dvvset.js'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {encodeStoredObject} from '../../src/storage/object-codec.js'

export {freePortRange} from '../../src/cli/ports.js'

export const dynBin = fileURLToPath(new URL('../../../bin/run.js', import.meta.url))

/**
 * The flags a node started by hand (`dyn start`) needs to join the local cluster in a folder: the
 * secret `dyn cluster up` wrote there, which every internode connection must prove.
 */
export {secretArgsOf as secretArgs} from '../../src/cli/local-cluster.js'

/** How long a raw internode handshake waits for the node's challenge. */
const handshakeTimeoutMs = 10_000

/**
 * Says Hello on a raw internode socket as a node of the local cluster in `dir` does: with the
 * secret `cluster up` wrote there, the whole handshake (src/transport/handshake.ts), checking the
 * node's proof. Resolves once the node takes requests on the socket. The socket's own listeners
 * see the node's challenge too.
 */
export async function rawHandshake(socket: net.Socket, dir: string, nodeName: string): Promise<void> {
  const file = existingSecretFile(dir)
  if (file === undefined) {
    socket.write(encodeFrame({type: MessageType.Hello, requestId: 0, body: {protocolVersion, nodeName}}))
    return
  }
  const secret = await readSecretFile(file)
  const openerNonce = randomBytes(handshakeNonceBytes)
  const decoder = new FrameDecoder()
  const challenge = new Promise<Frame>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no challenge within ${handshakeTimeoutMs} ms`)), handshakeTimeoutMs)
    const onData = (chunk: Buffer): void => {
      const decoded = decoder.push(chunk)
      if (!decoded.ok) return finish(new Error(`the node sent a bad frame: ${decoded.message}`))
      const frame = decoded.frames.find((candidate) => candidate.requestId === 0)
      if (frame !== undefined) finish(frame)
    }
    const onClose = (): void => finish(new Error('the node closed the connection during the handshake'))
    const finish = (outcome: Frame | Error): void => {
      clearTimeout(timer)
      socket.off('data', onData)
      socket.off('close', onClose)
      if (outcome instanceof Error) reject(outcome)
      else resolve(outcome)
    }
    socket.on('data', onData)
    socket.on('close', onClose)
  })
  socket.write(encodeFrame({type: MessageType.Hello, requestId: 0, body: {protocolVersion, nodeName, nonce: openerNonce}}))
  const frame = await challenge
  const body = frame.body as {nonce?: Uint8Array; proof?: unknown}
  if (frame.type !== MessageType.HelloChallenge || body.nonce === undefined) throw new Error(`the node answered the Hello with type ${frame.type}: ${JSON.stringify(frame.body)}`)
  const acceptorNonce = Buffer.from(body.nonce)
  if (!proofMatches(acceptorProof(secret, nodeName, openerNonce, acceptorNonce), body.proof)) throw new Error('the node does not prove the cluster secret')
  socket.write(encodeFrame({type: MessageType.HelloProof, requestId: 0, body: {proof: openerProof(secret, nodeName, openerNonce, acceptorNonce)}}))
}

export interface DynRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** A `dyn` run that has not finished by then is killed, so a test fails instead of hanging. */
export const runDynTimeoutMsDefault = 60_000

/** Run the real `dyn` executable to completion (or until the timeout kills it: code -1). */
export function runDyn(args: readonly string[], options: {input?: string | Buffer; env?: Record<string, string>; cwd?: string; timeoutMs?: number} = {}): Promise<DynRun> {
  return runScript(dynBin, args, {...options, timeoutMs: options.timeoutMs ?? runDynTimeoutMsDefault, killSignal: 'SIGKILL'})
}

/**
 * The answer of a `dyn start --json` that ended: its last line. Its stdout is JSON lines (README
 * "JSON output"): every line, the log's and the answer's, is checked to be one JSON object, as a
 * reader of JSON lines would take them.
 */
export function startJsonAnswer<T extends object = {ok: boolean; error: string; message: string}>(stdout: string): T {
  const lines = stdout.trimEnd().split('\n')
  const objects = lines.map((line, index) => {
    try {
      return JSON.parse(line) as unknown
    } catch {
      return assert.fail(`line ${index + 1} of dyn start --json is not JSON: ${line}\n${stdout}`)
    }
  })
  for (const [index, object] of objects.entries()) assert.ok(typeof object === 'object' && object !== null && !Array.isArray(object), `line ${index + 1} is not an object: ${lines[index]}`)
  return objects[objects.length - 1] as T
}

/**
 * Run a Node script of this project (a bench script, the `dyn` executable) to completion, its
 * output collected; at the timeout it is sent `killSignal` (a bench script is given SIGINT, so
 * that it stops what it started) and its code is -1 unless it exits with one of its own.
 */
export function runScript(script: string, args: readonly string[], options: NodeRunOptions): Promise<DynRun> {
  return runNode([script, ...args], options)
}

export interface NodeRunOptions {
  readonly input?: string | Buffer
  readonly env?: Record<string, string>
  readonly cwd?: string
  readonly timeoutMs: number
  readonly killSignal: NodeJS.Signals
}

/** Run `node` with these arguments to completion, as runScript does (its flags, a script or --eval). */
export function runNode(nodeArgs: readonly string[], options: NodeRunOptions): Promise<DynRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs, {
      env: {...process.env, ...options.env},
      ...(options.cwd === undefined ? {} : {cwd: options.cwd}),
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs,
      killSignal: options.killSignal,
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
    child.once('error', reject)
    child.once('close', (code) => resolve({code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8')}))
    child.stdin.end(options.input ?? '')
  })
}

export interface TestCluster {
  readonly dir: string
  readonly cluster: LocalCluster
  /** host:port of node i's client API. */
  api(i: number): string
  url(i: number, pathAndQuery: string): string
  stop(): Promise<void>
}

/**
 * How many times `startCluster` draws fresh ports when another process took one of them between
 * the check and the node's bind. Free ports are a best effort (see ports.ts): two test files run
 * at once, and each checks and binds ports of its own, so the race is rare but real. It says
 * nothing about the code under test, so it is retried rather than failed; any other failure of
 * `cluster up` fails the test at once, and so does a port held by a process of the cluster's own
 * folder (dyn starting a node twice would be a bug, not a race).
 */
const portRaceAttemptsMax = 3

/** The ports `cluster up` says were taken, when that is why it failed (empty: it failed for something else). */
function portsLostInRace(stderr: string): number[] {
  const ports = new Set<number>()
  for (const match of stderr.matchAll(/EADDRINUSE: address already in use [^\s:]+:(\d+)/g)) ports.add(Number(match[1]))
  // Up's own check before it starts anything: "HOST:P (the client port of n2), ... are in use by another process".
  for (const line of stderr.split('\n').filter((text) => text.includes('in use by another process'))) {
    for (const match of line.matchAll(/:(\d+) \(the (?:client|internode) port of /g)) ports.add(Number(match[1]))
  }
  return [...ports]
}

/** The socket inodes listening on TCP `port` (IPv4 and IPv6), from /proc/net. */
async function listeningInodes(port: number): Promise<Set<string>> {
  const inodes = new Set<string>()
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '')
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      // local_address is field 1 (ADDR:PORT), st field 3 (0A: LISTEN), inode field 9.
      if (fields[1]?.endsWith(`:${hexPort}`) === true && fields[3] === '0A' && fields[9] !== undefined) inodes.add(fields[9])
    }
  }
  return inodes
}

/**
 * Whether `cluster up` itself gave one of `ports` to another of its nodes than the one that could
 * not bind it: by the time up exits it has stopped the nodes it started, so the process check
 * below rarely sees them, but its "started NAME (pid P) on HOST:PORT, internode HOST:PORT" lines
 * say whose ports they were.
 */
function upGaveToAnother(stderr: string, ports: readonly number[]): boolean {
  const failing = /dyn: (\S+) exited while starting/.exec(stderr)?.[1]
  const owners = new Map<number, string>()
  for (const match of stderr.matchAll(/started (\S+) \(pid \d+\) on [^\s,]+:(\d+), internode [^\s,]+:(\d+)/g)) {
    owners.set(Number(match[2]), match[1] as string)
    owners.set(Number(match[3]), match[1] as string)
  }
  return ports.some((port) => owners.has(port) && owners.get(port) !== failing)
}

/** Whether a process whose command line names `dir` listens on one of `ports`. */
async function folderProcessHolds(dir: string, ports: readonly number[]): Promise<boolean> {
  const inodes = new Set<string>()
  for (const port of ports) for (const inode of await listeningInodes(port)) inodes.add(inode)
  if (inodes.size === 0) return false
  for (const pid of await processesNaming(dir)) {
    for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1]
      if (inode !== undefined && inodes.has(inode)) return true
    }
  }
  return false
}

/** `dyn cluster up` with K nodes in a fresh temporary folder, on free ports. */
export async function startCluster(nodeCount: number, extraArgs: readonly string[] = []): Promise<TestCluster> {
  for (let attempt = 1; ; attempt += 1) {
    const dir = await mkdtemp(path.join(tmpdir(), 'dyn-test-'))
    const {port, rpcPort} = await freeClusterPorts(nodeCount)
    // A generous request timeout: the tests check outcomes, and a loaded CI machine must not turn
    // a slow answer into quorum_unmet. Dead nodes still fail fast (their connections are refused).
    const up = await runDyn(['cluster', 'up', '--nodes', String(nodeCount), '--dir', dir, '--port', String(port), '--rpc-port', String(rpcPort), '--request-timeout', '5000', ...extraArgs])
    const cluster = await readCluster(dir)
    if (up.code === 0 && cluster !== undefined) {
      const api = (i: number): string => `${cluster.host}:${(cluster.nodes[i] as {port: number}).port}`
      return {dir, cluster, api, url: (i, pathAndQuery) => `http://${api(i)}${pathAndQuery}`, stop: () => stopCluster(dir)}
    }
    const lost = portsLostInRace(up.stderr)
    const ownProcess = lost.length > 0 && (upGaveToAnother(up.stderr, lost) || (await folderProcessHolds(dir, lost)))
    await stopCluster(dir)
    if (attempt >= portRaceAttemptsMax || lost.length === 0 || ownProcess) throw new Error(`cluster up failed (${up.code}, attempt ${attempt}${ownProcess ? `; a process of its own folder holds port ${lost.join(', ')}` : ''}): ${up.stderr}`)
    process.stderr.write(`# cluster up lost a port race for ${lost.join(', ')} (attempt ${attempt}), drawing other ports\n`)
  }
}

async function stopCluster(dir: string): Promise<void> {
  await clusterDown(dir, 3000, () => undefined).catch(() => undefined)
  await removeTestFolder(dir)
}

/**
 * Removes a test's folder once nothing writes into it any more. `cluster down` stops the nodes
 * the folder's description names and waits for their wrappers; a test may also have started
 * processes of its own in the folder (a node restarted by hand, a node started with `dyn
 * start`), which the description does not know. Every process whose command line names the
 * folder is killed and waited for first: removing a folder while a process still writes into it
 * fails with ENOTEMPTY, and that failure says nothing about the test.
 */
export async function removeTestFolder(dir: string): Promise<void> {
  const writers = await processesNaming(dir)
  for (const pid of writers) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // Gone meanwhile.
    }
  }
  for (const pid of writers) await waitUntilGone(pid)
  await removeFolder(dir)
}

/** The pids of this machine's processes (other than this one) whose command line contains `text`. */
async function processesNaming(text: string): Promise<number[]> {
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || pid === process.pid) continue
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    if (cmdline.includes(text)) pids.push(pid)
  }
  return pids
}

/** A killed process is gone within milliseconds; a bound keeps a stuck one from hanging the suite. */
const killWaitMs = 10_000

async function waitUntilGone(pid: number): Promise<void> {
  const deadline = Date.now() + killWaitMs
  while ((await isLiveProcess(pid)) && Date.now() < deadline) await sleep(20)
}

/** Running and not a zombie: a zombie writes nothing, and whoever reaps it may be slow to. */
async function isLiveProcess(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  if (stat === undefined) return false
  // The state follows the parenthesised command name, which may itself contain spaces.
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
}

/** Read the cluster description again (pids change when a test restarts nodes). */
export async function reloadCluster(dir: string): Promise<LocalCluster> {
  const cluster = await readCluster(dir)
  if (cluster === undefined) throw new Error(`no cluster in ${dir}`)
  return cluster
}

export async function putValue(url: string, value: string, context?: string): Promise<Response> {
  return fetch(url, {method: 'PUT', body: value, headers: context === undefined ? {} : {'x-dyn-context': context}})
}

export async function getJson(url: string): Promise<{status: number; body: Record<string, unknown>; context: string | null}> {
  const response = await fetch(url, {headers: {accept: 'application/json'}})
  return {status: response.status, body: (await response.json()) as Record<string, unknown>, context: response.headers.get('x-dyn-context')}
}

/** The sibling values of a JSON read, decoded as UTF-8 and sorted. */
export function siblingTexts(body: Record<string, unknown>): string[] {
  const siblings = (body.siblings ?? []) as Array<{value: string}>
  return siblings.map((s) => Buffer.from(s.value, 'base64').toString('utf8')).sort()
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** SIGKILL a node and wait (bounded) until it is gone, so the next request really meets a dead port. */
export async function killNode(pid: number | undefined): Promise<void> {
  if (pid === undefined) throw new Error('no pid to kill')
  process.kill(pid, 'SIGKILL')
  for (let attempt = 0; attempt < 100; attempt += 1) {
    if (!isRunning(pid)) return
    await sleep(50)
  }
  throw new Error(`pid ${pid} survived SIGKILL`)
}

/**
 * Runs `work` on every item, at most `concurrency` at once. Checks that read thousands of keys
 * one request at a time spend most of a test's time waiting on one round trip after another; a
 * few in flight keep the same requests and assertions and let the nodes' two cores work. After a
 * failure no new item is started, and the failure is thrown only once every item in flight has
 * finished, so that a caller's clean-up (thawing the nodes it froze) never runs under them.
 */
export async function forEachConcurrently<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  assert.ok(Number.isInteger(concurrency) && concurrency >= 1, `concurrency ${concurrency} is not a positive integer`)
  let next = 0
  let failure: {error: unknown} | undefined
  const worker = async (): Promise<void> => {
    while (next < items.length && failure === undefined) {
      const item = items[next] as T
      next += 1
      try {
        await work(item)
      } catch (error) {
        failure ??= {error}
      }
    }
  }
  await Promise.all(Array.from({length: Math.min(concurrency, items.length)}, worker))
  if (failure !== undefined) throw failure.error
}

/** Polls `probe` until it gives a value (or the bound passes, which fails the test with what was last seen). */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000, pollMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (error) {
      last = error
    }
    await sleep(pollMs)
  }
  throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`)
}

/** Whether a process runs (signal 0 probes without touching it). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * A replica write straight to a node's internode port (`rpcAddress`) from a member's transport,
 * then the same from each refused one: the member's write is stored, each refused one is answered
 * `unauthenticated` and nothing it sent is stored (read back through the member).
 */
export async function assertOnlyMembersWrite(
  rpcAddress: string,
  partitionCount: number,
  member: Transport,
  refused: ReadonlyArray<{readonly through: Transport; readonly key: string}>,
  admittedWhy: string,
  requestTimeoutMs = 5000,
): Promise<void> {
  const put = (through: Transport, key: string) => through.request(rpcAddress, MessageType.ReplicaPut, {partition: partitionOfKey(key, partitionCount), key, objectBytes: encodeStoredObject(replicaObjectOf(key)), durable: true}, requestTimeoutMs)
  const held = async (key: string): Promise<StoredObject | null> => {
    const answer = await member.request(rpcAddress, MessageType.ReplicaGet, {partition: partitionOfKey(key, partitionCount), key}, requestTimeoutMs)
    assert.ok(answer.ok, JSON.stringify(answer))
    const object = replicaGetAnswerObject(answer.body)
    assert.notEqual(object, 'malformed')
    return object === 'malformed' ? null : (object ?? null)
  }
  assert.ok((await put(member, 'admitted')).ok)
  assert.notEqual(await held('admitted'), null, admittedWhy)
  for (const {through, key} of refused) {
    const answer = await put(through, key)
    assert.equal(answer.ok, false)
    assert.equal((answer as {code?: string}).code, unauthenticatedCode)
    assert.equal(await held(key), null, `${key} was stored`)
  }
}

/** A one-version object of an actor no node has, as a process outside the cluster would send it. */
function replicaObjectOf(text: string): StoredObject {
  const version: StoredVersion = {value: Buffer.from(text), contentType: 'text/plain', timestampMs: Date.now(), tombstone: false}
  return {versions: update([], emptySet<StoredVersion>(), 'outsider.1', version, 0), n: 3}
}
