/**
 * The process shell of `dyn start`: one dyn node in a real process. It supplies the real parts
 * (classic-level in the data folder, the TCP transport, the system's clock, timers and
 * randomness) to the assembler (assemble.ts), which builds the node from them, and serves the
 * node's KV service over HTTP. This is the only place in a node with real sockets, files, clocks
 * and timers; the simulator builds the same node from simulated parts instead.
 */

import {mkdir} from 'node:fs/promises'
import {createServer} from 'node:http'
import type {Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {createApiHandler} from '../api/handler.js'
import type {Clock, Random} from '../clock.js'
import {DynError} from '../errors.js'
import type {Scheduler} from '../scheduler.js'
import {sleep} from '../scheduler.js'
import {diskDatabase} from '../storage/backend.js'
import type {StoreDatabase} from '../storage/backend.js'
import {startTcpTransport} from '../transport/tcp-transport.js'
import {assembleNode} from './assemble.js'
import type {AssembledNode, NodeSettings} from './assemble.js'
import {cachedFolderBytes} from './disk-usage.js'
import {systemClock, systemRandom, systemScheduler} from './system-time.js'

/** A node's settings (assemble.ts), with where this process serves and keeps its data instead of an API address. */
export interface NodeOptions extends Omit<NodeSettings, 'apiAddress'> {
  readonly host: string
  /** Client HTTP API port. */
  readonly port: number
  /** Internode RPC port. */
  readonly rpcPort: number
  readonly dataDir: string
  /** With seeds: commit this node's join itself (default), or only stage it. */
  readonly commitJoin?: boolean
  readonly log: (line: string) => void
  readonly clock?: Clock
  readonly random?: Random
  readonly scheduler?: Scheduler
}

export const requestTimeoutMsDefault = 1000
export const gossipIntervalMsDefault = 1000

export interface RunningNode {
  readonly name: string
  readonly actor: string
  readonly apiAddress: string
  readonly rpcAddress: string
  /**
   * Resolves once the node has left the ring (its data handed off) and a few gossip rounds have
   * told the others so: the shell stops it then.
   */
  readonly left: Promise<void>
  stop(): Promise<void>
}

/** Gossip rounds a node that has left keeps answering, so that every peer learns it left. */
export const leftGossipRounds = 3

export async function startNode(options: NodeOptions): Promise<RunningNode> {
  await mkdir(options.dataDir, {recursive: true})
  const node = await assembleNode({
    settings: {
      name: options.name,
      apiAddress: `${options.host}:${options.port}`,
      seeds: options.seeds,
      settings: options.settings,
      explicitSettings: options.explicitSettings,
      requestTimeoutMs: options.requestTimeoutMs,
      gossipIntervalMs: options.gossipIntervalMs,
      writeBufferMs: options.writeBufferMs,
      ...(options.failureDetector === undefined ? {} : {failureDetector: options.failureDetector}),
      ...(options.antiEntropy === undefined ? {} : {antiEntropy: options.antiEntropy}),
      commitJoin: options.commitJoin !== false,
    },
    database: await openDatabase(options.dataDir),
    storeBytes: cachedFolderBytes(options.dataDir, options.clock ?? systemClock),
    startTransport: (handler) =>
      startTcpTransport({
        host: options.host,
        port: options.rpcPort,
        nodeName: options.name,
        clock: options.clock ?? systemClock,
        scheduler: options.scheduler ?? systemScheduler,
        log: options.log,
        handler,
      }).catch((error: Error) => {
        throw new DynError('bad_parameter', `cannot listen for internode RPC on ${options.host}:${options.rpcPort}: ${error.message}; choose another --rpc-port`)
      }),
    clock: options.clock ?? systemClock,
    scheduler: options.scheduler ?? systemScheduler,
    random: options.random ?? systemRandom,
    log: options.log,
    monitorEventLoop: true,
  })
  try {
    return await serveHttp(options, node)
  } catch (error) {
    await node.stop()
    throw error
  }
}

/** Opens the node's LevelDB here, so that a folder in use gets an answer that names it. */
async function openDatabase(dataDir: string): Promise<StoreDatabase> {
  const database = diskDatabase(dataDir)
  try {
    await database.open({createIfMissing: true})
  } catch (error) {
    const cause = (error as {cause?: {code?: string}}).cause
    if (cause?.code === 'LEVEL_LOCKED') {
      throw new DynError('bad_parameter', `the data folder ${dataDir} is in use by another running node; stop it or choose another --data`)
    }
    throw error
  }
  return database
}

async function serveHttp(options: NodeOptions, node: AssembledNode): Promise<RunningNode> {
  const handler = createApiHandler(node.service, (route) => node.countHttpRequest(route))
  const server = createServer({keepAliveTimeout: 65_000}, handler)
  // A request with `Expect: 100-continue` reaches the handler before its body is sent: the
  // handler sends 100 Continue only once it means to read the body, so a value over the limit
  // (or any other refusal) is answered before the client uploads anything.
  server.on('checkContinue', handler)
  await listen(server, options.host, options.port)
  const apiAddress = `${options.host}:${(server.address() as AddressInfo).port}`
  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    // The HTTP server first, so that no client request reaches a node that is shutting down.
    stopping ??= closeServer(server).then(() => node.stop())
    return stopping
  }
  options.log(`serving the client API on ${apiAddress} and internode RPC on ${node.transport.address}; ${node.membership.table.members.length} member(s)`)
  const scheduler = options.scheduler ?? systemScheduler
  const left = node.left.then(async () => {
    options.log('left the cluster: every partition has been handed off')
    for (let round = 0; round < leftGossipRounds; round++) {
      await sleep(scheduler, options.gossipIntervalMs)
      await node.membership.gossipRound().catch(() => undefined)
    }
  })
  return {name: options.name, actor: node.actor, apiAddress, rpcAddress: node.transport.address, left, stop}
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      reject(new DynError('bad_parameter', `cannot serve the client API on ${host}:${port}: ${error.message}; choose another --port`))
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}
