/**
 * What a replicated put costs in Node before dyn does anything (issue 18, item 1: know where the
 * time goes). The same closed loop (autocannon, PUTs of 100-byte values, every put a new key, one
 * endpoint) against four systems of three processes each but the last, one after another in each
 * round, rounds alternating their order:
 *
 *   - `node`: an HTTP server (Node's own) that reads each PUT's body, sends it to two other
 *     processes over TCP as a length-prefixed frame (frames corked until the end of the turn, as
 *     dyn's transport does) and answers 204 once one of them has acknowledged it (W = 2, the
 *     first process counting as one): what any Node program pays to take a request and copy it to
 *     two peers, with no storage, no versions and no codec;
 *   - `transport`: the same, with dyn's own internode transport (src/transport/tcp-transport.ts:
 *     msgpack frames, request ids, timeouts) in place of the hand-written frames, and peers that
 *     answer at once;
 *   - `dyn`: a 3-node dyn cluster, N/R/W 3/2/2, every put through its first node;
 *   - `dyn, one node`: one dyn node at N = R = W = 1: a put that is stored and versioned but sent
 *     to no one.
 *
 * Each process's CPU time, every thread, from /proc/PID/stat, over the measured seconds,
 * per put; the generator's too. What dyn adds over `node` is dyn's; what `node` costs is the least
 * any Node design with a process per replica could.
 *
 *   node dist/bench/experiments/put-floor.js [--seconds 8] [--rounds 2] [--connections 50]
 */

import autocannon from 'autocannon'
import type {Request} from 'autocannon'
import {spawn} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import {mkdtemp, readFile} from 'node:fs/promises'
import http from 'node:http'
import net from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {clusterDownAndRemoveFolder, clusterUp, readCluster} from '../../src/cli/local-cluster.js'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {systemClock, systemScheduler} from '../../src/node/system-time.js'
import {MessageType} from '../../src/transport/message-type.js'
import {startTcpTransport} from '../../src/transport/tcp-transport.js'
import {processCpuOf} from '../etcd-compare-core.js'
import {experimentFlags, markdownTable, positiveInteger} from './common.js'

/** Set in the environment of the helper processes this experiment starts: which part each plays. */
const roleVariable = 'DYN_PUT_FLOOR_ROLE'
const replicaTimeoutMs = 10_000
const frameLengthBytes = 4
const frameIdBytes = 4

type Role = 'raw-replica' | 'raw-coordinator' | 'transport-replica' | 'transport-coordinator'
const role = process.env[roleVariable] as Role | undefined

if (role === undefined) await main()
else await serve(role, process.argv.slice(2))

/** Calls `onFrame` with each length-prefixed frame that arrives on `socket`. */
function readFrames(socket: net.Socket, onFrame: (frame: Buffer) => void): void {
  let pending: Buffer = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    let offset = 0
    while (pending.length - offset >= frameLengthBytes) {
      const length = pending.readUInt32BE(offset)
      if (pending.length - offset - frameLengthBytes < length) break
      onFrame(pending.subarray(offset + frameLengthBytes, offset + frameLengthBytes + length))
      offset += frameLengthBytes + length
    }
    pending = pending.subarray(offset)
  })
}

/** Writes length-prefixed frames on `socket`, corked until the end of the turn (as dyn's transport does). */
function frameWriter(socket: net.Socket): (frame: Buffer) => void {
  let corked = false
  return (frame) => {
    if (!corked) {
      corked = true
      socket.cork()
      setImmediate(() => {
        corked = false
        socket.uncork()
      })
    }
    // One buffer per frame: a frame written as two would double the chunks each writev carries.
    const framed = Buffer.allocUnsafe(frameLengthBytes + frame.length)
    framed.writeUInt32BE(frame.length)
    frame.copy(framed, frameLengthBytes)
    socket.write(framed)
  }
}

/** Reads a request's body, then calls `onBody`. */
function withBody(request: http.IncomingMessage, onBody: (body: Buffer) => void): void {
  const chunks: Buffer[] = []
  request.on('data', (chunk: Buffer) => chunks.push(chunk))
  request.on('end', () => onBody(Buffer.concat(chunks)))
}

/** A helper process: listens on a port the OS picks and prints it once ready. */
async function serve(part: Role, peers: readonly string[]): Promise<void> {
  const ready = (port: number): void => {
    process.stdout.write(`${port}\n`)
  }
  // The parent stops its helpers with SIGTERM; nothing of theirs needs saving. A parent that died
  // without doing so closes their stdin, which ends them too: no helper outlives the experiment.
  process.on('SIGTERM', () => process.exit(0))
  process.stdin.on('close', () => process.exit(0))
  process.stdin.resume()
  if (part === 'raw-replica') {
    const server = net.createServer((socket) => {
      socket.setNoDelay(true)
      const write = frameWriter(socket)
      // The acknowledgement is the request's id.
      readFrames(socket, (frame) => write(frame.subarray(0, frameIdBytes)))
    })
    server.listen(0, '127.0.0.1', () => ready((server.address() as net.AddressInfo).port))
  } else if (part === 'transport-replica') {
    const transport = await startTcpTransport({host: '127.0.0.1', port: 0, nodeName: 'replica', clock: systemClock, scheduler: systemScheduler, handler: async () => true})
    ready(Number(transport.address.split(':').at(-1)))
  } else if (part === 'raw-coordinator') {
    const waiting = new Map<number, () => void>()
    let nextId = 1
    const writers = peers.map((port) => {
      const socket = net.connect(Number(port), '127.0.0.1')
      socket.setNoDelay(true)
      readFrames(socket, (frame) => {
        const id = frame.readUInt32BE(0)
        const acknowledged = waiting.get(id)
        waiting.delete(id)
        acknowledged?.()
      })
      return frameWriter(socket)
    })
    const server = http.createServer((request, response) => {
      withBody(request, (body) => {
        const id = nextId
        nextId = (nextId % 0xffff_ffff) + 1
        const key = Buffer.from(request.url ?? '/')
        const frame = Buffer.allocUnsafe(frameIdBytes + 4 + key.length + body.length)
        frame.writeUInt32BE(id, 0)
        frame.writeUInt32BE(key.length, frameIdBytes)
        key.copy(frame, frameIdBytes + 4)
        body.copy(frame, frameIdBytes + 4 + key.length)
        // W = 2: this process and the first peer to acknowledge.
        waiting.set(id, () => {
          response.writeHead(204)
          response.end()
        })
        for (const write of writers) write(frame)
      })
    })
    server.listen(0, '127.0.0.1', () => ready((server.address() as net.AddressInfo).port))
  } else {
    const transport = await startTcpTransport({host: '127.0.0.1', port: 0, nodeName: 'coordinator', clock: systemClock, scheduler: systemScheduler, handler: async () => true})
    const addresses = peers.map((port) => `127.0.0.1:${port}`)
    const server = http.createServer((request, response) => {
      withBody(request, (value) => {
        const body = {key: request.url ?? '/', value}
        let answered = false
        for (const address of addresses) {
          void transport.request(address, MessageType.Ping, body, replicaTimeoutMs).then((answer) => {
            if (answered) return
            answered = true
            response.writeHead(answer.ok ? 204 : 503)
            response.end()
          })
        }
      })
    })
    server.listen(0, '127.0.0.1', () => ready((server.address() as net.AddressInfo).port))
  }
}

interface System {
  readonly name: string
  readonly url: string
  /** The processes of the system, the endpoint first. */
  readonly pids: readonly number[]
  stop(): Promise<void>
}

interface Cpu {
  readonly userUs: number
  readonly systemUs: number
}

/** A process's CPU time so far, every thread (those that have exited too), from /proc/PID/stat; 0 once it cannot be read. */
async function cpuOf(pid: number): Promise<Cpu> {
  const cpu = processCpuOf(await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''))
  return {userUs: (cpu?.userMs ?? 0) * 1000, systemUs: (cpu?.systemMs ?? 0) * 1000}
}

function startHelper(part: Role, peers: readonly number[]): Promise<{child: ChildProcess; port: number}> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...peers.map(String)], {env: {...process.env, [roleVariable]: part}, stdio: ['pipe', 'pipe', 'inherit']})
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`the ${part} process exited (${code}) before it was ready`)))
    child.stdout?.once('data', (chunk: Buffer) => resolve({child, port: Number(chunk.toString().trim())}))
  })
}

async function helperSystem(name: string, replica: Role, coordinator: Role): Promise<System> {
  const replicas = [await startHelper(replica, []), await startHelper(replica, [])]
  const front = await startHelper(coordinator, replicas.map((helper) => helper.port))
  const children = [front, ...replicas]
  return {
    name,
    url: `http://127.0.0.1:${front.port}`,
    pids: children.map((helper) => helper.child.pid ?? 0),
    stop: async () => {
      await Promise.all(
        children.map(
          (helper) =>
            new Promise<void>((resolve) => {
              helper.child.removeAllListeners('exit')
              helper.child.once('exit', () => resolve())
              helper.child.kill('SIGTERM')
            }),
        ),
      )
    },
  }
}

async function dynSystem(name: string, nodeCount: number): Promise<System> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dyn-put-floor-'))
  const {port, rpcPort} = await freeClusterPorts(nodeCount)
  const quorum = nodeCount === 1 ? ['--n', '1', '--r', '1', '--w', '1'] : []
  const stop = (): Promise<void> => clusterDownAndRemoveFolder(dir, 5000, () => undefined)
  try {
    await clusterUp({dir, nodeCount, port, rpcPort, startArgs: quorum, readyTimeoutMs: 60_000}, () => undefined)
    const cluster = await readCluster(dir)
    const pids = (cluster?.nodes ?? []).map((node) => node.pid ?? 0)
    if (pids.length !== nodeCount || pids.includes(0)) throw new Error(`the cluster in ${dir} did not say its nodes' process ids`)
    return {name, url: `http://127.0.0.1:${port}`, pids, stop}
  } catch (error) {
    await stop()
    throw error
  }
}

interface Measured {
  readonly system: string
  readonly putsPerS: number
  readonly failed: number
  /** µs of CPU per put for each process, the endpoint first, then the generator (this process). */
  readonly cpuPerPutUs: readonly Cpu[]
}

async function measure(system: System, seconds: number, connections: number): Promise<Measured> {
  const value = Buffer.alloc(100, 'v')
  let counter = 0
  // Every put a new key, so that no key gathers versions and dyn's puts need no context.
  const requests: Request[] = [{method: 'PUT', setupRequest: (request: Request) => ({...request, path: `/kv/floor-${counter++}`, body: value})}]
  await autocannon({url: system.url, connections, duration: 2, requests})
  const processes = [...system.pids, process.pid]
  const before = await Promise.all(processes.map(cpuOf))
  const result = await autocannon({url: system.url, connections, duration: seconds, requests})
  const after = await Promise.all(processes.map(cpuOf))
  const puts = Math.max(1, result.requests.total)
  return {
    system: system.name,
    putsPerS: result.requests.total / seconds,
    // autocannon counts each timeout among its errors too.
    failed: result.non2xx + result.errors,
    cpuPerPutUs: after.map((end, index) => {
      const start = before[index] ?? end
      return {userUs: (end.userUs - start.userUs) / puts, systemUs: (end.systemUs - start.systemUs) / puts}
    }),
  }
}

async function main(): Promise<void> {
  const {seconds, rounds, connections} = experimentFlags({
    name: 'put-floor',
    measures:
      "What a replicated put costs in Node before dyn does anything: the same closed loop of PUTs (every put a new key) against an HTTP server that copies each body to two peer processes over TCP, the same with dyn's internode transport, a 3-node dyn cluster (N/R/W 3/2/2) and one dyn node (N=R=W=1); each process's CPU per put, every thread, from /proc.",
    flags: {
      seconds: {read: positiveInteger, value: 'S', default: '8', description: 'measured seconds per system and round (after 2 s of the same load)'},
      rounds: {read: positiveInteger, value: 'R', default: '2', description: 'rounds, the order of the systems reversed every other round'},
      connections: {read: positiveInteger, value: 'C', default: '50', description: "the closed loop's connections, all to the first process"},
    },
    examples: ['node dist/bench/experiments/put-floor.js', 'node dist/bench/experiments/put-floor.js --seconds 10 --rounds 3'],
  })
  const makers: ReadonlyArray<() => Promise<System>> = [
    () => helperSystem('node', 'raw-replica', 'raw-coordinator'),
    () => helperSystem('transport', 'transport-replica', 'transport-coordinator'),
    () => dynSystem('dyn', 3),
    () => dynSystem('dyn, one node', 1),
  ]
  const rows: string[][] = []
  // A dyn cluster runs detached from this process: on Ctrl-C (or a plain kill) the one running is
  // stopped before this process ends, as the finally below stops it after a run or a failure.
  let running: System | undefined
  const stopOnSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`put-floor: ${signal}: stopping what it started\n`)
    void (running?.stop() ?? Promise.resolve()).finally(() => process.exit(130))
  }
  process.once('SIGINT', stopOnSignal)
  process.once('SIGTERM', stopOnSignal)
  for (let round = 1; round <= rounds; round += 1) {
    const order = round % 2 === 1 ? makers : [...makers].reverse()
    for (const make of order) {
      const system = await make()
      running = system
      let measured: Measured
      try {
        measured = await measure(system, seconds, connections)
      } finally {
        running = undefined
        await system.stop()
      }
      const cpu = measured.cpuPerPutUs
      const nodes = cpu.slice(0, -1)
      const endpoint = nodes[0] ?? {userUs: 0, systemUs: 0}
      const generator = cpu.at(-1) ?? {userUs: 0, systemUs: 0}
      const figure = (value: Cpu): string => `${value.userUs.toFixed(0)} / ${value.systemUs.toFixed(0)}`
      const total = nodes.reduce((sum, value) => sum + value.userUs + value.systemUs, 0)
      process.stderr.write(`put-floor: round ${round}: ${measured.system}: ${measured.putsPerS.toFixed(0)} puts/s, ${total.toFixed(0)} µs of CPU per put in its processes\n`)
      rows.push([String(round), measured.system, measured.putsPerS.toFixed(0), String(measured.failed), figure(endpoint), nodes.length > 1 ? nodes.slice(1).map(figure).join(', ') : '-', total.toFixed(0), figure(generator)])
    }
  }
  process.stdout.write(
    `${markdownTable(['round', 'system', 'puts/s', 'failed', 'endpoint µs/put, user / system', 'peers µs/put', 'all its processes µs/put', 'generator µs/put'], rows)}\n\nautocannon, ${connections} connections to the first process, PUTs of 100-byte values, every put a new key, ${seconds} s measured after 2 s of the same load; CPU time of every thread of each process, from /proc.\n`,
  )
}
