/**
 * Overload (issue 16's targets): a three-node cluster offered half, twice and ten times what it
 * can do, open loop, with admission control as `dyn start` runs it. What the targets ask:
 * goodput at 2× and 10× at least 90% of capacity; the p99.9 of the accepted requests at most
 * twice its value at half capacity; refusals answered at the node in under 1 ms.
 *
 * On one machine the load generator competes with the nodes for the same cores, and below the
 * nodes' capacity it is the generator that queues. So, where the machine has at least two
 * cores and `taskset`, the nodes run on the first core and this process (the generator) on the
 * others, and each node's process is pinned after it starts. The generator keeps
 * `--connections-per-node` connections to each node (as many users would), so that an overload
 * reaches the nodes rather than queueing in the generator's pools.
 *
 * Pinning alone is not enough on a two-core machine: ten times the capacity of three nodes on
 * one core is more than one core of generator can offer (refusing costs it as much as an answer),
 * so the overload queued in the generator again. `--nodes-cpu-share S` (root, cgroup v1 cpu
 * controller) also limits the three nodes together to S of a CPU, so that the system under test
 * is small enough for the generator's core to overload it tenfold: the targets are about how the
 * nodes behave past their capacity, whatever that capacity is.
 *
 * Sharing one quota couples the three nodes as separate machines never are: one node's work
 * takes CPU from the others, so a node whose own queue is short still sees its requests slow
 * down, and cuts its own admission limit for load that is not its own. `--cpu-share-per-node`
 * gives each node a group of its own, with a third of S each (the same CPU in all), so that
 * each node's admission control sees what its own CPU does, as on a machine of its own; a third
 * of a quarter of a CPU needs a CFS period of at least 12 ms for the kernel's least quota.
 *
 * Capacity is the closed loop's goodput (64 connections): what the cluster answers when it is
 * kept busy. The refusal times are each node's own (/stats, admission.refusalTimes), counted
 * over the run at that rate.
 *
 * Past capacity the bench's client-side throttle (src/client/client-throttle.ts, as in dyn's own
 * clients) keeps back part of what goes to a node that sheds most of what it gets. `--throttle
 * both` (the default) runs each overloaded rate twice on the same cluster, without it and with
 * it, the order alternating from one rate to the next: what the nodes alone do with the whole
 * load, and what a population of dyn's clients gets; `on` or `off` runs one of the two.
 *
 *   node dist/bench/experiments/overload.js [--seconds 10] [--warmup 5] [--connections-per-node 1000] [--no-pin]
 *       [--nodes-cpu-share 0.25 [--cpu-share-per-node]] [--cfs-period-ms 10] [--throttle both|on|off] [--reports DIR]
 *
 * `--reports DIR` also writes each run's whole report (the bench's --json, with its per-second
 * timeline) to DIR, one file per run, for a look at how a run's latency moved within it.
 */

import {execFile} from 'node:child_process'
import {mkdir, mkdtemp, writeFile} from 'node:fs/promises'
import {availableParallelism, tmpdir} from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'
import {clusterDownAndRemoveFolder, clusterUp} from '../../src/cli/local-cluster.js'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {runBench} from '../runner.js'
import type {BenchReport} from '../runner.js'
import {anyText, canLimitCpu, cfsQuotaUsMin, cfsQuotaUsOf, cpuController, cpuLimitedGroup, experimentConfig, experimentFlags, markdownTable, oneOf, positiveInteger, positiveNumber, refuseFlags, wholeNumber} from './common.js'

const run = promisify(execFile)
const experiment = 'overload'
const values = experimentFlags({
  name: experiment,
  measures:
    'Overload: a three-node cluster offered half, twice and ten times its capacity (the closed loop\'s goodput) in an open loop, with admission control as dyn start runs it: goodput, the p99.9 of the accepted requests, and how fast the nodes refuse. Where it can, the nodes run on the first core and the generator on the others.',
  flags: {
    seconds: {read: positiveInteger, value: 'S', default: '10', description: 'measured seconds per run'},
    warmup: {read: wholeNumber(0), value: 'S', default: '5', description: 'seconds of the same load before each run is measured'},
    'connections-per-node': {read: positiveInteger, value: 'C', default: '1000', description: 'the open loop\'s connections to each node'},
    pin: {default: true, negatable: true, description: 'pin the nodes to the first core and the generator to the others (taskset)'},
    'nodes-cpu-share': {read: positiveNumber(availableParallelism()), value: 'CPUS', description: 'limit the three nodes together to this much CPU (root, cgroup v1 cpu controller)'},
    'cpu-share-per-node': {description: 'give each node a cgroup of its own with a third of --nodes-cpu-share'},
    'cfs-period-ms': {read: positiveNumber(1000), value: 'MS', default: '10', description: 'the CFS period of those limits, 1 to 1000'},
    throttle: {read: oneOf(['both', 'on', 'off']), value: 'MODE', default: 'both', description: 'each overloaded rate without the client throttle and with it (both), or one of them'},
    reports: {read: anyText, value: 'DIR', description: 'also write each run\'s whole report (the bench\'s --json) to DIR'},
    'admission-target-ms': {read: positiveInteger, value: 'MS', description: 'the nodes\' admission target (dyn start --admission-target-ms; the nodes\' own default when absent)'},
  },
  examples: ['node dist/bench/experiments/overload.js --nodes-cpu-share 0.25', 'node dist/bench/experiments/overload.js --nodes-cpu-share 0.25 --cfs-period-ms 12 --throttle on --cpu-share-per-node'],
})
const {seconds: durationS, warmup: warmupS, 'connections-per-node': connectionsPerNode, 'nodes-cpu-share': nodesCpuShare} = values
if (nodesCpuShare !== undefined && !canLimitCpu()) {
  process.stderr.write(`overload: --nodes-cpu-share needs root and the cgroup v1 cpu controller at ${cpuController}; not found here\n`)
  process.exit(2)
}

/** One run's report as the bench's --json writes it, into `dir` (made if missing). */
async function writeReport(dir: string, name: string, report: BenchReport): Promise<void> {
  await mkdir(dir, {recursive: true})
  await writeFile(path.join(dir, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`)
}

/** Pins a process and all its threads to the given CPUs; false when taskset is missing or refuses. */
async function pin(pid: number, cpus: string): Promise<boolean> {
  return run('taskset', ['-a', '-p', '-c', cpus, String(pid)]).then(
    () => true,
    () => false,
  )
}

function p999Of(report: BenchReport): string {
  return report.run.operations.map((op) => `${op.operation} ${op.latency.p999Ms.toFixed(1)}`).join(', ')
}

// The CFS period of --nodes-cpu-share: past its quota the group is stopped for the rest of the
// period, so a request that arrives then waits up to (1 - share) of it whatever the node does.
const limitedPeriodUs = Math.round(values['cfs-period-ms'] * 1000)
if (!(limitedPeriodUs >= 1000 && limitedPeriodUs <= 1_000_000)) refuseFlags(experiment, '--cfs-period-ms must be within 1 to 1000 (the kernel\'s bounds for cpu.cfs_period_us)')
const perNode = values['cpu-share-per-node']
if (perNode && nodesCpuShare === undefined) refuseFlags(experiment, '--cpu-share-per-node divides --nodes-cpu-share among the nodes: give --nodes-cpu-share too')
// What one group gets: all of S for the three nodes together, or a third of it for each node alone.
const groupShare = nodesCpuShare === undefined ? undefined : perNode ? nodesCpuShare / 3 : nodesCpuShare
if (groupShare !== undefined && cfsQuotaUsOf(groupShare, limitedPeriodUs) < cfsQuotaUsMin) {
  refuseFlags(experiment, `a share of ${groupShare.toFixed(4)} CPU per group of a ${limitedPeriodUs / 1000} ms period is below the kernel's least quota of ${cfsQuotaUsMin / 1000} ms; give a --cfs-period-ms of at least ${Math.ceil(cfsQuotaUsMin / groupShare / 1000)}`)
}
// Made only once every flag is checked: a refused run leaves no folder behind.
const dir = await mkdtemp(path.join(tmpdir(), 'dyn-overload-'))
const {port, rpcPort} = await freeClusterPorts(3)
const pinned = values.pin && availableParallelism() >= 2
const limits: Array<{release: () => Promise<void>}> = []
try {
  const startArgs = values['admission-target-ms'] === undefined ? [] : ['--admission-target-ms', String(values['admission-target-ms'])]
  const cluster = await clusterUp({dir, nodeCount: 3, port, rpcPort, startArgs, readyTimeoutMs: 30_000}, () => undefined)
  const nodes = cluster.nodes.map((node) => `${cluster.host}:${node.port}`)
  let pinning = 'not pinned'
  if (pinned) {
    const generatorCpus = `1-${availableParallelism() - 1}`
    const done = await Promise.all([...cluster.nodes.map((node) => pin(node.pid as number, '0')), pin(process.pid, generatorCpus)])
    pinning = done.every(Boolean) ? `nodes on CPU 0, the generator on CPUs ${generatorCpus}` : 'pinning failed (taskset): not pinned'
  }
  if (nodesCpuShare !== undefined && groupShare !== undefined) {
    // A short period (10 ms unless --cfs-period-ms), so that the limit itself holds a request
    // for milliseconds, not the 100 ms of the kernel's default period.
    const pids = cluster.nodes.map((node) => node.pid as number)
    if (perNode) {
      for (const [index, pid] of pids.entries()) limits.push(await cpuLimitedGroup(`dyn-overload-${process.pid}-${index + 1}`, [pid], groupShare, limitedPeriodUs))
      pinning += `; each node limited to ${groupShare.toFixed(4)} CPU in a group of its own, ${nodesCpuShare} in all (CFS period ${limitedPeriodUs / 1000} ms)`
    } else {
      limits.push(await cpuLimitedGroup(`dyn-overload-${process.pid}`, pids, groupShare, limitedPeriodUs))
      pinning += `; the three nodes limited together to ${nodesCpuShare} CPU (CFS period ${limitedPeriodUs / 1000} ms)`
    }
  }
  process.stderr.write(`cluster of 3 nodes in ${dir}; ${pinning}\n`)
  // The warm-up also lets admission control settle: the targets are about a sustained overload.
  const base = experimentConfig({nodes, durationS, warmupS, records: 10_000})
  // Capacity: the best goodput of two closed loops, one that keeps the nodes just busy and one
  // that queues at them (a closed loop is generator-bound at low counts on a shared machine).
  const rows: string[][] = []
  let capacity = 0
  // Nodes limited to a fraction of a CPU reach their capacity with fewer connections, and 64 in
  // flight there already make a standing queue that admission control sheds.
  for (const connections of nodesCpuShare === undefined ? [64, 256] : [16, 64]) {
    process.stderr.write(`capacity: closed loop, ${connections} connections\n`)
    const closed = await runBench({...base, load: rows.length === 0, mode: {kind: 'closed', connections}}, undefined)
    if (values.reports !== undefined) await writeReport(values.reports, `closed-${connections}`, closed)
    const goodput = closed.run.goodputPerS ?? closed.run.opsPerS
    capacity = Math.max(capacity, goodput)
    rows.push([`closed, ${connections} connections`, '-', goodput.toFixed(0), '-', String(closed.run.shed ?? 0), '-', p999Of(closed), '-'])
  }
  let halfP999 = 0
  // Half capacity sheds nothing, so the throttle has nothing to do there: it runs once.
  const runs: Array<{multiple: number; clientThrottle: boolean}> = [{multiple: 0.5, clientThrottle: values.throttle !== 'off'}]
  for (const [index, multiple] of [2, 10].entries()) {
    const order = values.throttle !== 'both' ? [values.throttle === 'on'] : index % 2 === 0 ? [false, true] : [true, false]
    for (const clientThrottle of order) runs.push({multiple, clientThrottle})
  }
  for (const {multiple, clientThrottle} of runs) {
    const ratePerS = Math.round(capacity * multiple)
    process.stderr.write(`open loop at ${multiple}x capacity: ${ratePerS} ops/s, ${clientThrottle ? 'throttled at the client' : 'not throttled'}\n`)
    const report = await runBench({...base, load: false, mode: {kind: 'open', ratePerS}, connectionsPerNode, clientThrottle}, undefined)
    if (values.reports !== undefined) await writeReport(values.reports, `open-${multiple}x-${clientThrottle ? 'throttled' : 'not-throttled'}`, report)
    const goodput = report.run.goodputPerS ?? 0
    const worstP999 = Math.max(...report.run.operations.map((op) => op.latency.p999Ms))
    if (multiple === 0.5) halfP999 = worstP999
    // The run's own refusals: the bench subtracts each node's histogram from before the run.
    const refused = report.nodeRefusalTimes ?? []
    const refusedCount = refused.reduce((sum, node) => sum + node.count, 0)
    const sinceStart = refused.some((node) => node.sinceStart === true)
    rows.push([
      `open, ${multiple}×${multiple === 0.5 ? '' : clientThrottle ? ', throttled' : ', not throttled'}`,
      String(ratePerS),
      goodput.toFixed(0),
      `${((goodput / capacity) * 100).toFixed(0)}%`,
      String(report.run.shed ?? 0),
      String(report.run.throttled ?? 0),
      `${p999Of(report)}${multiple === 0.5 ? '' : ` (${(worstP999 / halfP999).toFixed(1)}× half)`}`,
      refusedCount === 0 ? '-' : `${refusedCount} refused, node p99 ≤ ${Math.max(...refused.filter((node) => node.count > 0).map((node) => node.p99Us))} µs${sinceStart ? ' (since each node started)' : ''}`,
    ])
  }
  process.stdout.write(
    `${markdownTable(['run', 'offered ops/s', 'goodput ops/s', 'of capacity', 'shed', 'throttled', 'accepted p99.9 ms', 'refusals at the nodes'], rows)}\n\n${pinning}; capacity ${capacity.toFixed(0)} ops/s (the better closed loop); ${connectionsPerNode} connections per node in the open loop; ${durationS} s per run after ${warmupS} s of the same load; admission target ${values['admission-target-ms'] === undefined ? 'the nodes\' default' : `${values['admission-target-ms']} ms`}.\n`,
  )
} finally {
  await clusterDownAndRemoveFolder(dir, 3000, () => undefined)
  for (const limit of limits) await limit.release()
}
