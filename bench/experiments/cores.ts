/**
 * A node per core (issue 18 item 3): does a machine's throughput grow with the nodes it runs,
 * when each node has a core of its own? The same closed loop against one node, and against two
 * nodes that share one machine (`dyn cluster up --processes-per-machine 2`, as `dyn start
 * --processes 2` runs them), at n = r = w = 1 so that every key has one home and the two runs do
 * the same work per request.
 *
 * On a small machine the load generator needs a core of its own too, and with two cores it is the
 * generator that limits a single node already. So each node gets an emulated core: a cgroup
 * (v1 `cpu` controller, CFS bandwidth) of its own whose quota is `--core-share` of a CPU (0.5 by
 * default), and the generator, this process, is left the rest. Two nodes then have twice the
 * CPU of one, as on a machine with a core per node. Runs alternate (one node, two nodes, one,
 * two, ...) so that the machine's drift falls on both alike.
 *
 *   node dist/bench/experiments/cores.js [--core-share 0.5] [--rounds 2] [--seconds 10] [--workloads c,a]
 *
 * Needs root and the cgroup v1 cpu controller at /sys/fs/cgroup/cpu (refused clearly otherwise).
 */

import {mkdtemp} from 'node:fs/promises'
import {availableParallelism, tmpdir} from 'node:os'
import path from 'node:path'
import {clusterDownAndRemoveFolder, clusterUp} from '../../src/cli/local-cluster.js'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {runBench} from '../runner.js'
import type {BenchReport} from '../runner.js'
import type {WorkloadName} from '../workloads.js'
import {canLimitCpu, cpuController, cpuLimitedGroup, experimentConfig, experimentFlags, listOf, markdownTable, positiveInteger, positiveNumber, workloadName} from './common.js'

const {
  'core-share': coreShare,
  rounds,
  seconds: durationS,
  connections,
  workloads: chosen,
} = experimentFlags({
  name: 'cores',
  measures:
    "A node per core: does a machine's throughput grow with the nodes it runs when each has a core of its own? The same closed loop against one node and against two nodes on one machine, at n = r = w = 1, each node in a cgroup limited to --core-share of a CPU (an emulated core), the runs alternated. Needs root and the cgroup v1 cpu controller.",
  flags: {
    'core-share': {read: positiveNumber(availableParallelism()), value: 'CPUS', default: '0.5', description: 'the CPU each node\'s cgroup may use'},
    rounds: {read: positiveInteger, value: 'N', default: '2', description: 'rounds per workload, each a run of either cluster'},
    seconds: {read: positiveInteger, value: 'S', default: '10', description: 'measured seconds per run'},
    workloads: {read: listOf(workloadName), value: 'W,W', default: 'c,a', description: 'the bench\'s workloads (as dyn bench --workload), one after the other'},
    connections: {read: positiveInteger, value: 'C', default: '50', description: 'the closed loop\'s connections'},
  },
  examples: ['node dist/bench/experiments/cores.js --rounds 2 --seconds 10'],
})
if (!canLimitCpu()) {
  process.stderr.write(`cores: needs root and the cgroup v1 cpu controller at ${cpuController} (CFS bandwidth), to give each node a core of its own; not found here\n`)
  process.exit(2)
}

interface Variant {
  readonly name: string
  readonly nodeCount: number
  readonly processesPerMachine: number
}

const variants: readonly Variant[] = [
  {name: '1 node', nodeCount: 1, processesPerMachine: 1},
  {name: '2 nodes, 1 machine', nodeCount: 2, processesPerMachine: 2},
]

async function measure(variant: Variant, workload: WorkloadName, round: number): Promise<BenchReport> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dyn-cores-'))
  const {port, rpcPort} = await freeClusterPorts(variant.nodeCount)
  const cores: Array<{release: () => Promise<void>}> = []
  try {
    const cluster = await clusterUp({dir, nodeCount: variant.nodeCount, port, rpcPort, startArgs: [], readyTimeoutMs: 30_000, processesPerMachine: variant.processesPerMachine}, () => undefined)
    for (const node of cluster.nodes) cores.push(await cpuLimitedGroup(`dyn-cores-${process.pid}-${round}-${node.name}`, [node.pid as number], coreShare))
    const nodes = cluster.nodes.map((node) => `${cluster.host}:${node.port}`)
    process.stderr.write(`round ${round}, workload ${workload}: ${variant.name}, each node limited to ${coreShare} CPU\n`)
    return await runBench(experimentConfig({nodes, workload, n: 1, r: 1, w: 1, durationS, warmupS: 2, mode: {kind: 'closed', connections}}), undefined)
  } finally {
    await clusterDownAndRemoveFolder(dir, 3000, () => undefined)
    for (const core of cores) await core.release()
  }
}

const rows: string[][] = []
for (const workload of chosen) {
  const throughput = new Map<string, number[]>(variants.map((variant) => [variant.name, []]))
  for (let round = 1; round <= rounds; round++) {
    for (const variant of variants) {
      const report = await measure(variant, workload, round)
      throughput.get(variant.name)?.push(report.run.opsPerS)
      const p999 = report.run.operations.map((op) => `${op.operation} ${op.latency.p999Ms.toFixed(1)}`).join(', ')
      rows.push([workload, String(round), variant.name, report.run.opsPerS.toFixed(0), p999])
    }
  }
  const [one, two] = variants.map((variant) => throughput.get(variant.name) ?? [])
  const ratios = (two ?? []).map((value, index) => value / ((one ?? [])[index] ?? Number.NaN))
  rows.push([workload, 'ratio', '2 nodes / 1 node, per round', ratios.map((ratio) => `${ratio.toFixed(2)}×`).join(', '), ''])
}
process.stdout.write(
  `${markdownTable(['workload', 'round', 'cluster', 'ops/s', 'p99.9 ms'], rows)}\n\n` +
    `each node in a cgroup of its own limited to ${coreShare} CPU (an emulated core); the generator unlimited on the same ${availableParallelism()}-core machine; closed loop, ${connections} connections, n=r=w=1, ${durationS} s after 2 s of warm-up, 10,000 records of 100 bytes.\n`,
)
