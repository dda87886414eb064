/**
 * Measures PUT throughput of one node of a 3-node cluster (N=3, W=2, 100-byte values) against
 * a trivial Node HTTP server on the same machine, with the same autocannon load in the same
 * run. Absolute numbers on a shared machine drift; the ratio is the figure worth comparing.
 *
 *   node dist/bench/put-throughput.js [--connections 50] [--duration 10]
 *
 * Every request writes a distinct key, so no key accumulates siblings.
 */

import autocannon from 'autocannon'
import {spawn} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {clusterDownAndRemoveFolder, clusterUp} from '../src/cli/local-cluster.js'

const {values: options} = parseArgs({
  options: {
    connections: {type: 'string', default: '50'},
    duration: {type: 'string', default: '10'},
    port: {type: 'string', default: '27070'},
  },
})
const connections = Number(options.connections)
const durationS = Number(options.duration)
const value = Buffer.alloc(100, 'v')

interface Measured {
  readonly requestsPerS: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly errors: number
  readonly non2xx: number
}

async function load(url: string, keyed: boolean): Promise<Measured> {
  let counter = 0
  const result = await autocannon({
    url,
    connections,
    duration: durationS,
    method: 'PUT',
    body: value,
    requests: [
      {
        method: 'PUT',
        body: value,
        setupRequest: (request) => {
          counter += 1
          return keyed ? {...request, path: `/kv/bench-${process.pid}-${counter}`} : request
        },
      },
    ],
  })
  return {
    requestsPerS: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  }
}

function startTrivialServer(): Promise<{child: ChildProcess; port: number}> {
  const script = fileURLToPath(new URL('./trivial-server.js', import.meta.url))
  const child = spawn(process.execPath, [script], {stdio: ['ignore', 'pipe', 'inherit']})
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.stdout?.once('data', (chunk: Buffer) => resolve({child, port: Number(chunk.toString().trim())}))
  })
}

const dir = await mkdtemp(path.join(tmpdir(), 'dyn-bench-'))
const basePort = Number(options.port)
const trivial = await startTrivialServer()
try {
  await clusterUp({dir, nodeCount: 3, port: basePort, rpcPort: basePort + 1000, startArgs: [], readyTimeoutMs: 30_000}, () => undefined)
  const baseline = await load(`http://127.0.0.1:${trivial.port}/`, false)
  const cluster = await load(`http://127.0.0.1:${basePort}/kv/x?w=2`, true)
  const show = (name: string, m: Measured): string =>
    `${name.padEnd(28)} ${m.requestsPerS.toFixed(0).padStart(7)} req/s   p50 ${m.p50Ms} ms   p99 ${m.p99Ms} ms   errors ${m.errors}   non-2xx ${m.non2xx}`
  process.stdout.write(`autocannon PUT, 100-byte values, ${connections} connections, ${durationS} s each\n`)
  process.stdout.write(`${show('trivial Node HTTP server', baseline)}\n`)
  process.stdout.write(`${show('dyn node (3 nodes, N=3 W=2)', cluster)}\n`)
  process.stdout.write(`ratio dyn / trivial: ${(cluster.requestsPerS / baseline.requestsPerS).toFixed(3)}\n`)
} finally {
  trivial.child.kill('SIGTERM')
  await clusterDownAndRemoveFolder(dir, 3000, () => undefined)
}
