/**
 * Where the nodes' time goes under a closed loop (issue 18, item 1): a 3-node cluster is made
 * and loaded with this checkout's `dyn cluster up` and bench, then each node is restarted on its
 * data under `node --cpu-prof` from the build given (`--bin`, this checkout's by default, so
 * that another build's nodes can be profiled on the same data: main's, for a before and after),
 * the workload runs against all three for `--duration` seconds, and the nodes are stopped with
 * SIGTERM, which writes their profiles. The shares of the three nodes' busy time by place and by
 * function are printed as Markdown tables for bench/README.md (bench/profile-summary.ts), with
 * the run's throughput. A profiled node runs slower than an unprofiled one; the shares, not the
 * throughput, are the figures.
 *
 * `--endpoints 1` sends every request to the first node, as bench:etcd does, and gives that node's
 * profile apart from the others' (the one that coordinates everything, and the replicas).
 *
 * `--ic` restarts the nodes under `node --log-ic` instead, and gives each node's inline-cache
 * misses per operation in the measured window, by site (bench/ic-log.ts): a warm node's request
 * path should miss next to never, and a site that misses at every request is making objects of a
 * new shape each time (bench/README.md, "Object shapes on the request path").
 *
 *   node dist/bench/experiments/profile.js [--workload c] [--connections 50] [--duration 15]
 *       [--records 10000] [--endpoints 3] [--bin /path/to/other/checkout/bin/run.js] [--top 15]
 *       [--ic] [--keep DIR] [--json]
 */

import {spawn} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import {mkdir, mkdtemp, readdir, readFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {clusterDown, clusterUp, probe, readCluster, removeFolder, secretArgsOf} from '../../src/cli/local-cluster.js'
import type {LocalCluster} from '../../src/cli/local-cluster.js'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {runBench} from '../runner.js'
import type {BenchReport} from '../runner.js'
import {summarizeProfiles} from '../profile-summary.js'
import {summarizeIcLog} from '../ic-log.js'
import type {IcSite} from '../ic-log.js'
import type {CostShare, CpuProfile} from '../profile-summary.js'
import {anyText, experimentConfig, experimentFlags, positiveInteger, wholeNumber, workloadName} from './common.js'

const options = experimentFlags({
  name: 'profile',
  measures:
    "Where the nodes' time goes under a closed loop: a 3-node cluster is made and loaded, each node is restarted on its data under node --cpu-prof (from the build --bin names), the workload runs, and the shares of the nodes' busy time by place and by function are printed as Markdown tables. The shares, not the throughput, are the figures: a profiled node runs slower. With --ic, the nodes run under node --log-ic instead, and each node's inline-cache misses per operation are given by site.",
  flags: {
    workload: {read: workloadName, value: 'W', default: 'c', description: 'the bench\'s workload, as dyn bench --workload'},
    connections: {read: positiveInteger, value: 'C', default: '50', description: 'the closed loop\'s connections'},
    duration: {read: positiveInteger, value: 'S', default: '15', description: 'profiled seconds'},
    records: {read: positiveInteger, value: 'N', default: '10000', description: 'keys loaded before the run'},
    // The cluster has three nodes: the load goes to the first 1, 2 or all 3.
    endpoints: {read: wholeNumber(1, 3), value: 'E', default: '3', description: 'nodes the load goes to, from the first; with fewer than 3, their profile is given apart from the others\''},
    bin: {read: anyText, value: 'FILE', default: fileURLToPath(new URL('../../../bin/run.js', import.meta.url)), description: 'the bin/run.js of the build whose nodes are profiled (another checkout\'s, for a before and after)'},
    top: {read: positiveInteger, value: 'N', default: '15', description: 'functions listed'},
    keep: {read: anyText, value: 'DIR', description: 'work in DIR and keep it (the cluster and the profiles) [default: a temporary folder, removed]'},
    ic: {description: "count V8's inline-cache misses per operation by site (node --log-ic) instead of profiling the CPU: a site that keeps missing in a warm node gets objects of a new shape each time"},
    json: {description: 'print the figures as one JSON object'},
  },
  examples: ['node dist/bench/experiments/profile.js --workload c', 'node dist/bench/experiments/profile.js --workload c --endpoints 1', 'node dist/bench/experiments/profile.js --workload a --endpoints 1 --ic'],
})
const {workload, connections, duration: durationS, records, top, endpoints} = options
const bin = path.resolve(options.bin)
const readyTimeoutMs = 60_000
const stopTimeoutMs = 30_000

const dir = options.keep ?? (await mkdtemp(path.join(tmpdir(), 'dyn-profile-')))
const profileDir = path.join(dir, 'profiles')
const children: ChildProcess[] = []
/** When each node was started (ms since the epoch): V8's log times its events from there. */
const startedAtMs = new Map<string, number>()
const log = (line: string): void => void process.stderr.write(`${line}\n`)

try {
  const {port, rpcPort} = await freeClusterPorts(3)
  await clusterUp({dir: path.join(dir, 'cluster'), nodeCount: 3, port, rpcPort, startArgs: [], readyTimeoutMs}, log)
  const cluster = await readCluster(path.join(dir, 'cluster'))
  if (cluster === undefined) throw new Error('the cluster folder has no record after dyn cluster up')
  const addresses = cluster.nodes.map((node) => `${cluster.host}:${node.port}`)
  log(`loading ${records} records`)
  await runBench(experimentConfig({nodes: addresses, startNodes: 0, workload, records, mode: {kind: 'closed', connections}, durationS: 1, warmupS: 0, load: true}), undefined)
  await clusterDown(path.join(dir, 'cluster'), stopTimeoutMs, log)

  await mkdir(profileDir, {recursive: true})
  for (const node of cluster.nodes) children.push(startProfiled(cluster, node.name))
  await waitUntilServing(cluster)
  log(`running workload ${workload}, ${connections} connections, ${durationS} s, nodes from ${bin}`)
  const warmupS = 2
  const runStartedAtMs = Date.now()
  const report = await runBench(experimentConfig({nodes: addresses.slice(0, endpoints), startNodes: 0, workload, records, mode: {kind: 'closed', connections}, durationS, warmupS, load: false}), undefined)
  await stopAll()
  if (options.ic) {
    const endpointNames = cluster.nodes.slice(0, endpoints).map((node) => node.name)
    const operations = Math.max(1, report.run.opsPerS * durationS)
    const nodes = await Promise.all(
      cluster.nodes.map(async (node) => {
        // The measured window, after the bench's warm-up, in each node's own log time.
        const fromUs = (runStartedAtMs + warmupS * 1000 - (startedAtMs.get(node.name) ?? runStartedAtMs)) * 1000
        const summary = summarizeIcLog(await readFile(path.join(profileDir, `${node.name}.log`), 'utf8'), fromUs, fromUs + durationS * 1e6)
        return {node: node.name, endpoint: endpointNames.includes(node.name), missesPerOperation: summary.events / operations, sites: summary.sites.slice(0, top)}
      }),
    )
    if (options.json) process.stdout.write(`${JSON.stringify({workload, connections, durationS, records, endpoints, bin, opsPerS: report.run.opsPerS, nodes}, null, 2)}\n`)
    else for (const node of nodes) process.stdout.write(describeIc(report, node.node, node.endpoint, node.missesPerOperation, node.sites))
  } else {
    await describeProfiles(report, cluster)
  }
} finally {
  await stopAll()
  if (options.keep === undefined) await removeFolder(dir)
}

/** The CPU profiles' shares, summed per group of nodes, printed. */
async function describeProfiles(report: BenchReport, cluster: LocalCluster): Promise<void> {
  const profiles = await readProfiles()
  // With fewer endpoints than nodes, the nodes that coordinate and those that only serve
  // replica requests do different work: each group is summed apart.
  const endpointNames = cluster.nodes.slice(0, endpoints).map((node) => node.name)
  const groups =
    endpoints === cluster.nodes.length
      ? [{nodes: 'all three nodes', profiles: [...profiles.values()].flat()}]
      : [
          {nodes: `the endpoint${endpoints === 1 ? '' : 's'} (${endpointNames.join(', ')})`, profiles: [...profiles].filter(([name]) => endpointNames.includes(name)).flatMap(([, list]) => list)},
          {nodes: 'the other nodes', profiles: [...profiles].filter(([name]) => !endpointNames.includes(name)).flatMap(([, list]) => list)},
        ]
  const summaries = groups.map((group) => ({nodes: group.nodes, summary: summarizeProfiles(group.profiles, top)}))
  if (options.json) {
    process.stdout.write(`${JSON.stringify({workload, connections, durationS, records, endpoints, bin, opsPerS: report.run.opsPerS, summaries}, null, 2)}\n`)
  } else {
    for (const {nodes, summary} of summaries) process.stdout.write(describe(report, nodes, summary.busyMicroseconds, summary.byPlace, summary.byFunction))
  }
}

/** One node restarted on its data under the profiler, as `dyn cluster up` started it. */
function startProfiled(cluster: LocalCluster, name: string): ChildProcess {
  const node = cluster.nodes.find((candidate) => candidate.name === name)
  if (node === undefined) throw new Error(`no node ${name}`)
  const seeds = cluster.nodes[0] === node ? [] : ['--seeds', `${cluster.host}:${cluster.nodes[0]!.rpcPort}`]
  const nodeFlags = options.ic ? ['--log-ic', `--logfile=${path.join(profileDir, `${name}.log`)}`, '--no-logfile-per-isolate'] : ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, name)}`]
  const args = [
    ...nodeFlags,
    bin,
    'start',
    '--name',
    name,
    '--host',
    cluster.host,
    '--port',
    String(node.port),
    '--rpc-port',
    String(node.rpcPort),
    '--data',
    node.dataDir,
    ...secretArgsOf(path.join(dir, 'cluster')),
    ...seeds,
  ]
  const child = spawn(process.execPath, args, {stdio: 'ignore'})
  startedAtMs.set(name, Date.now())
  node.pid = child.pid
  return child
}

async function waitUntilServing(cluster: LocalCluster): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs
  while (Date.now() < deadline) {
    const views = await Promise.all(cluster.nodes.map((node) => probe(cluster, node)))
    if (views.every((view) => view !== undefined && Number(view.ringMembers) === cluster.nodes.length && (view.down as unknown[] | undefined)?.length === 0)) return
    if (children.some((child) => child.exitCode !== null)) throw new Error('a profiled node exited while starting')
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`the profiled nodes were not serving after ${readyTimeoutMs} ms`)
}

/** SIGTERM each node still running and wait for it to end (it writes its profile as it exits). */
async function stopAll(): Promise<void> {
  const running = children.filter((child) => child.exitCode === null && child.signalCode === null)
  await Promise.all(
    running.map(
      (child) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            child.kill('SIGKILL')
            resolve()
          }, stopTimeoutMs)
          child.once('exit', () => {
            clearTimeout(timer)
            resolve()
          })
          child.kill('SIGTERM')
        }),
    ),
  )
}

/** Each node's profiles, by node name. */
async function readProfiles(): Promise<Map<string, CpuProfile[]>> {
  const profiles = new Map<string, CpuProfile[]>()
  for (const entry of await readdir(profileDir, {withFileTypes: true})) {
    // Only each node's folder of profiles: a kept folder may also hold an --ic run's logs.
    if (!entry.isDirectory()) continue
    const name = entry.name
    const list: CpuProfile[] = []
    for (const file of await readdir(path.join(profileDir, name))) {
      if (file.endsWith('.cpuprofile')) list.push(JSON.parse(await readFile(path.join(profileDir, name, file), 'utf8')) as CpuProfile)
    }
    profiles.set(name, list)
  }
  if ([...profiles.values()].every((list) => list.length === 0)) throw new Error(`no profile was written under ${profileDir}`)
  return profiles
}

function describe(report: BenchReport, nodes: string, busyMicroseconds: number, byPlace: readonly CostShare[], byFunction: readonly CostShare[]): string {
  const rows = (shares: readonly CostShare[]): string => shares.map((share) => `| ${(share.share * 100).toFixed(1)}% | ${share.name} |`).join('\n')
  return [
    `workload ${workload}, ${connections} connections on ${endpoints} endpoint(s), ${durationS} s: ${report.run.opsPerS.toFixed(0)} ops/s under the profiler; ${nodes} busy ${(busyMicroseconds / 1e6).toFixed(1)} s in all`,
    '',
    '| share of busy time | place |',
    '| --- | --- |',
    rows(byPlace),
    '',
    '| share of busy time | function (self) |',
    '| --- | --- |',
    rows(byFunction),
    '',
  ].join('\n')
}

function describeIc(report: BenchReport, node: string, endpoint: boolean, missesPerOperation: number, sites: readonly IcSite[]): string {
  const rows = sites.map((site) => `| ${site.count} | ${site.kind} \`${site.key}\` (${site.states}) | ${site.code}, line ${site.line}, column ${site.column} |`).join('\n')
  return [
    `workload ${workload}, ${connections} connections on ${endpoints} endpoint(s), ${durationS} s: ${report.run.opsPerS.toFixed(0)} ops/s; ${node}${endpoint ? ' (an endpoint)' : ''}: ${missesPerOperation.toFixed(2)} inline-cache misses per operation`,
    '',
    '| misses | access | where |',
    '| --- | --- | --- |',
    rows,
    '',
  ].join('\n')
}
