/**
 * What TLS costs a cluster (README "TLS"): the same closed loop against three local nodes over
 * plain HTTP and with TLS on both ports, a fresh cluster per run, the two alternated so that the
 * machine's noise falls on both alike. With TLS, every client request and every internode frame is
 * encrypted, and the bench encrypts its own requests on the same machine: the figure is what a
 * user of a TLS cluster gets, load generator included.
 *
 *   node dist/bench/experiments/tls-cost.js --tls-dir tls [--workload c] [--rounds 3] [--duration 10]
 *
 * `--tls-dir` is a folder made by the README's "TLS" commands: its `ca.crt`, and `local.crt` and
 * `local.key`, which name 127.0.0.1, so every local node serves with them (as the nodes of one
 * machine do under `dyn start --processes`, and those of `dyn cluster up --tls-cert`).
 */

import {spawn} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import {access, mkdtemp, readFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {removeFolder} from '../../src/cli/local-cluster.js'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {DynClient} from '../../src/client/http-client.js'
import type {ClientTls} from '../../src/transport/tls-ca-file.js'
import {runBench} from '../runner.js'
import type {BenchReport} from '../runner.js'
import {anyText, experimentConfig, experimentFlags, latencyOf, markdownTable, ms, positiveInteger, workloadName} from './common.js'

const {'tls-dir': tlsDir, workload, rounds, duration: durationS, connections} = experimentFlags({
  name: 'tls-cost',
  measures:
    'What TLS costs a cluster: the same closed loop against three local nodes over plain HTTP and with TLS on both ports (client and internode), a fresh cluster per run, the two alternated. The bench encrypts its own requests on the same machine: the figure is what a user of a TLS cluster gets, load generator included.',
  flags: {
    'tls-dir': {read: anyText, value: 'DIR', required: true, description: 'a folder made by the README\'s "TLS" commands: ca.crt, and local.crt and local.key, which name 127.0.0.1'},
    workload: {read: workloadName, value: 'W', default: 'c', description: 'the bench\'s workload, as dyn bench --workload'},
    rounds: {read: positiveInteger, value: 'N', default: '3', description: 'runs of each transport, alternated'},
    duration: {read: positiveInteger, value: 'S', default: '10', description: 'measured seconds per run'},
    connections: {read: positiveInteger, value: 'C', default: '50', description: 'the closed loop\'s connections'},
  },
  examples: ['node dist/bench/experiments/tls-cost.js --tls-dir tls --workload c', 'node dist/bench/experiments/tls-cost.js --tls-dir tls --workload a'],
})
const runScript = fileURLToPath(new URL('../../../bin/run.js', import.meta.url))
const nodeCount = 3
/** How long three fresh nodes may take to form a ring and see each other up. */
const formTimeoutMs = 60_000
const stopTimeoutMs = 20_000

const files = {ca: path.join(tlsDir, 'ca.crt'), cert: path.join(tlsDir, 'local.crt'), key: path.join(tlsDir, 'local.key')}
for (const file of Object.values(files)) {
  await access(file).catch(() => {
    process.stderr.write(`${file} is missing: make ${tlsDir} with the README's "TLS" commands\n`)
    process.exit(2)
  })
}
const clientTls: ClientTls = {ca: await readFile(files.ca), source: `--tls-ca ${files.ca}`}

type Transport = 'plain HTTP' | 'TLS'

/** Three `dyn start` nodes on free ports, with TLS or without; resolves once every node sees every member up. */
async function startNodes(transport: Transport, dir: string): Promise<{nodes: string[]; children: ChildProcess[]}> {
  const {port, rpcPort} = await freeClusterPorts(nodeCount)
  const tlsArgs = transport === 'TLS' ? ['--tls-cert', files.cert, '--tls-key', files.key, '--tls-ca', files.ca] : []
  const children: ChildProcess[] = []
  const nodes: string[] = []
  for (let index = 0; index < nodeCount; index += 1) {
    const seeds = index === 0 ? [] : ['--seeds', `127.0.0.1:${rpcPort}`]
    const name = `n${index + 1}`
    children.push(spawn(process.execPath, [runScript, 'start', '--name', name, '--port', String(port + index), '--rpc-port', String(rpcPort + index), '--data', path.join(dir, name), ...seeds, ...tlsArgs], {stdio: 'ignore'}))
    nodes.push(`127.0.0.1:${port + index}`)
  }
  const deadline = Date.now() + formTimeoutMs
  const client = (node: string): DynClient => new DynClient(node, 2000, transport === 'TLS' ? {tls: clientTls} : {})
  for (;;) {
    const views = await Promise.all(nodes.map((node) => client(node).getJson('/cluster').catch(() => undefined)))
    const formed = views.every((view) => {
      const members = (view?.ok === true ? view.body.members : []) as Array<{status: string; reachability: string}>
      return members.length === nodeCount && members.every((member) => member.status === 'valid' && member.reachability === 'up')
    })
    if (formed) return {nodes, children}
    if (Date.now() > deadline) {
      await stopNodes(children)
      throw new Error(`the ${transport} cluster did not form within ${formTimeoutMs / 1000} s`)
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

async function stopNodes(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      const stopped = await Promise.race([exited.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), stopTimeoutMs))])
      if (!stopped) child.kill('SIGKILL')
    }),
  )
}

async function measure(transport: Transport): Promise<BenchReport> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dyn-tls-cost-'))
  const started = await startNodes(transport, dir)
  try {
    return await runBench(experimentConfig({nodes: started.nodes, workload, mode: {kind: 'closed', connections}, durationS, ...(transport === 'TLS' ? {tls: clientTls} : {})}), undefined)
  } finally {
    await stopNodes(started.children)
    await removeFolder(dir)
  }
}

const rows: string[][] = []
const ratios: number[] = []
for (let round = 1; round <= rounds; round += 1) {
  const order: Transport[] = round % 2 === 1 ? ['plain HTTP', 'TLS'] : ['TLS', 'plain HTTP']
  const opsPerS = new Map<Transport, number>()
  for (const transport of order) {
    process.stderr.write(`round ${round}: ${transport}\n`)
    const report = await measure(transport)
    opsPerS.set(transport, report.run.opsPerS)
    const operations = report.run.operations.map((operation) => operation.operation)
    const errors = report.run.operations.reduce((sum, operation) => sum + Object.values(operation.errors).reduce((a, b) => a + b, 0), 0)
    const tails = operations.map((operation) => `${operation} ${ms(latencyOf(report, operation)?.p999)}`).join(', ')
    rows.push([String(round), transport, report.run.opsPerS.toFixed(0), tails, String(errors)])
  }
  ratios.push((opsPerS.get('TLS') ?? 0) / (opsPerS.get('plain HTTP') ?? 1))
}
const geometricMean = Math.exp(ratios.reduce((sum, ratio) => sum + Math.log(ratio), 0) / ratios.length)
process.stdout.write(`YCSB ${workload}, closed loop, ${connections} connections over all ${nodeCount} nodes, ${durationS} s, 10,000 records of 100 bytes, N/R/W 3/2/2\n\n`)
process.stdout.write(`${markdownTable(['round', 'transport', 'ops/s', 'p99.9 ms', 'errors'], rows)}\n\n`)
process.stdout.write(`TLS / plain HTTP throughput per round: ${ratios.map((ratio) => ratio.toFixed(2)).join(', ')}; geometric mean ${geometricMean.toFixed(2)}\n`)
