/**
 * A local cluster: K `dyn start` processes, detached, sharing one folder that holds each
 * node's data, log and pid, and a `cluster.json` describing them. `dyn cluster up|down|status`
 * are thin wrappers around these functions, and so are the integration tests.
 */

import {spawn} from 'node:child_process'
import {existsSync, openSync, closeSync, readFileSync} from 'node:fs'
import {mkdir, readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {DynError} from '../errors.js'
import {DynClient} from '../client/http-client.js'

export interface LocalNode {
  readonly name: string
  readonly port: number
  readonly rpcPort: number
  readonly dataDir: string
  readonly logFile: string
  pid: number | undefined
}

export interface LocalCluster {
  readonly host: string
  /** The `dyn start` flags every node runs with; a restart reuses them unless new ones are given. */
  startArgs?: string[]
  readonly nodes: LocalNode[]
}

export interface UpOptions {
  readonly dir: string
  readonly nodeCount: number
  readonly port: number
  readonly rpcPort: number
  /** Extra `dyn start` flags for every node (e.g. --partitions, --conflict, --write-buffer-ms). */
  readonly startArgs: readonly string[]
  readonly readyTimeoutMs: number
}

const clusterFileName = 'cluster.json'
/** How often readiness and shutdown are polled. */
const pollIntervalMs = 100
export const stopGraceMsDefault = 5000

const runScript = fileURLToPath(new URL('../../../bin/run.js', import.meta.url))

function clusterFile(dir: string): string {
  return path.join(dir, clusterFileName)
}

export async function readCluster(dir: string): Promise<LocalCluster | undefined> {
  if (!existsSync(clusterFile(dir))) return undefined
  return JSON.parse(await readFile(clusterFile(dir), 'utf8')) as LocalCluster
}

async function writeCluster(dir: string, cluster: LocalCluster): Promise<void> {
  await writeFile(clusterFile(dir), `${JSON.stringify(cluster, null, 2)}\n`)
}

/** Whether `pid` is a live `dyn start` process for this node (not a recycled pid). */
export function isNodeProcess(node: LocalNode): boolean {
  if (node.pid === undefined) return false
  try {
    process.kill(node.pid, 0)
  } catch {
    return false
  }
  try {
    const cmdline = readFileSync(`/proc/${node.pid}/cmdline`, 'utf8')
    return cmdline.includes('start') && cmdline.includes(node.dataDir)
  } catch {
    return true
  }
}

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export async function clusterUp(options: UpOptions, log: (line: string) => void): Promise<LocalCluster> {
  await mkdir(options.dir, {recursive: true})
  const dir = path.resolve(options.dir)
  const existing = await readCluster(dir)
  if (existing !== undefined && existing.nodes.some(isNodeProcess)) {
    throw new DynError('bad_parameter', `a cluster is already running in ${options.dir}; stop it with: dyn cluster down --dir ${options.dir}`)
  }
  if (existing !== undefined && existing.nodes.length !== options.nodeCount) {
    throw new DynError('bad_parameter', `${options.dir} holds a cluster of ${existing.nodes.length} nodes; use --nodes ${existing.nodes.length}, or another --dir`)
  }
  const host = '127.0.0.1'
  const cluster: LocalCluster = existing ?? {
    host,
    nodes: Array.from({length: options.nodeCount}, (_, i) => ({
      name: `n${i + 1}`,
      port: options.port + i,
      rpcPort: options.rpcPort + i,
      dataDir: path.join(dir, `n${i + 1}`),
      logFile: path.join(dir, `n${i + 1}.log`),
      pid: undefined,
    })),
  }
  const first = cluster.nodes[0]
  if (first === undefined) throw new DynError('bad_parameter', '--nodes must be at least 1')
  const seed = `${cluster.host}:${first.rpcPort}`
  if (options.startArgs.length > 0 || cluster.startArgs === undefined) cluster.startArgs = [...options.startArgs]
  const startArgs = cluster.startArgs
  try {
    for (const node of cluster.nodes) {
      startLocalNode(cluster, node, node === first ? startArgs : [...startArgs, '--seeds', seed])
      // Recorded at once, so that `cluster down` can always find what was started.
      await writeCluster(dir, cluster)
      log(`started ${node.name} (pid ${node.pid}) on ${cluster.host}:${node.port}, internode ${cluster.host}:${node.rpcPort}`)
      // The first node must be listening before the others try to join through it.
      if (node === first) await waitForNodes(cluster, [node], undefined, options.readyTimeoutMs)
    }
    await waitForNodes(cluster, cluster.nodes, cluster.nodes.length, options.readyTimeoutMs)
  } catch (error) {
    // A cluster that did not come up is stopped whole: no detached process is left behind.
    await clusterDown(dir, stopGraceMsDefault, log).catch(() => undefined)
    throw error
  }
  return cluster
}

/** Start one node of a local cluster as a detached process logging to its file; sets `node.pid`. */
export function startLocalNode(cluster: LocalCluster, node: LocalNode, extraArgs: readonly string[]): void {
  const args = [runScript, 'start', '--name', node.name, '--host', cluster.host, '--port', String(node.port), '--rpc-port', String(node.rpcPort), '--data', node.dataDir, ...extraArgs]
  const logFd = openSync(node.logFile, 'a')
  const child = spawn(process.execPath, args, {detached: true, stdio: ['ignore', logFd, logFd]})
  closeSync(logFd)
  child.unref()
  node.pid = child.pid
}

/** Wait until every node serves and (unless `memberCount` is undefined) reports that many members and the same ring. */
export async function waitForNodes(cluster: LocalCluster, nodes: readonly LocalNode[], memberCount: number | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let lastProblem = 'no answer yet'
  while (Date.now() < deadline) {
    const dead = nodes.find((node) => !isNodeProcess(node))
    if (dead !== undefined) {
      throw new DynError('unreachable', `${dead.name} exited while starting; its log (${dead.logFile}) ends with:\n${tail(dead.logFile, 10)}`)
    }
    const views = await Promise.all(nodes.map((node) => new DynClient(`${cluster.host}:${node.port}`, 2000).getJson('/health').catch(() => undefined)))
    const hashes = new Set<string>()
    let ready = true
    for (const [i, view] of views.entries()) {
      if (view === undefined || !view.ok) {
        ready = false
        lastProblem = `${nodes[i]?.name} does not answer yet`
        continue
      }
      hashes.add(String(view.body.ringHash))
      if (memberCount !== undefined && view.body.members !== memberCount) {
        ready = false
        lastProblem = `${nodes[i]?.name} knows ${String(view.body.members)} of ${memberCount} members`
      } else if (memberCount !== undefined && (view.body.ringMembers !== memberCount || view.body.transition !== null)) {
        // Each join is committed by the claimant and installed once its transfers are done.
        ready = false
        lastProblem = `${nodes[i]?.name}'s ring has ${String(view.body.ringMembers)} of ${memberCount} members${view.body.transition === null ? '' : ', a ring change still moving data'}`
      }
    }
    if (ready && (memberCount === undefined || hashes.size === 1)) return
    if (ready) lastProblem = 'the nodes do not agree on the ring yet'
    await wait(pollIntervalMs)
  }
  throw new DynError('timeout', `the cluster was not ready after ${timeoutMs} ms (${lastProblem}); see the logs in the cluster folder`)
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

export async function clusterDown(dir: string, graceMs: number, log: (line: string) => void): Promise<LocalCluster> {
  const cluster = await readCluster(dir)
  if (cluster === undefined) throw new DynError('bad_parameter', `no cluster in ${dir} (no ${clusterFileName}); nothing to stop`)
  const running = cluster.nodes.filter(isNodeProcess)
  for (const node of running) process.kill(node.pid as number, 'SIGTERM')
  const deadline = Date.now() + graceMs
  while (running.some(isNodeProcess) && Date.now() < deadline) await wait(pollIntervalMs)
  for (const node of running.filter(isNodeProcess)) {
    log(`${node.name} did not stop within ${graceMs} ms; killing it`)
    process.kill(node.pid as number, 'SIGKILL')
  }
  while (running.some(isNodeProcess)) await wait(pollIntervalMs)
  for (const node of running) log(`stopped ${node.name} (pid ${node.pid})`)
  for (const node of cluster.nodes) node.pid = undefined
  await writeCluster(dir, cluster)
  return cluster
}

export interface NodeStatus {
  readonly name: string
  readonly address: string
  readonly pid: number | undefined
  readonly running: boolean
  readonly serving: boolean
  readonly members?: number
  readonly ringHash?: string
  /** The node's GET /cluster: its ring, the transition under way and its transfers. */
  readonly cluster?: Record<string, unknown>
}

export async function clusterStatus(dir: string): Promise<{nodes: NodeStatus[]; agreed: boolean}> {
  const cluster = await readCluster(dir)
  if (cluster === undefined) throw new DynError('bad_parameter', `no cluster in ${dir} (no ${clusterFileName}); start one with: dyn cluster up --dir ${dir}`)
  const nodes = await Promise.all(
    cluster.nodes.map(async (node): Promise<NodeStatus> => {
      const address = `${cluster.host}:${node.port}`
      const running = isNodeProcess(node)
      const health = running ? await new DynClient(address, 2000).getJson('/health').catch(() => undefined) : undefined
      const base = {name: node.name, address, pid: running ? node.pid : undefined, running}
      if (health === undefined || !health.ok) return {...base, serving: false}
      const view = await new DynClient(address, 2000).getJson('/cluster').catch(() => undefined)
      return {...base, serving: true, members: Number(health.body.members), ringHash: String(health.body.ringHash), ...(view?.ok === true ? {cluster: view.body as Record<string, unknown>} : {})}
    }),
  )
  const hashes = new Set(nodes.filter((n) => n.serving).map((n) => n.ringHash))
  return {nodes, agreed: nodes.every((n) => n.serving) && hashes.size === 1}
}
