/**
 * The node the internode and HTTP fuzzers attack: three whole nodes (`assembleNode`, the code
 * `dyn start` runs) on memory-level stores, the simulated network and simulated time, built from
 * one seed, as test/unit/assemble.test.ts builds them. Every request a node receives while the
 * cluster forms and serves a little traffic is recorded (type and decoded body): that is the
 * corpus of valid internode messages the internode fuzzer mutates.
 */

import {seededRandom} from '../../src/clock.js'
import {assembleNode, type AssembledNode, type NodeSettings} from '../../src/node/assemble.js'
import {SimulatedTime} from '../../src/simulated-time.js'
import {memoryDatabase} from '../../src/storage/backend.js'
import {SimulatedNetwork} from '../../src/transport/simulated-network.js'
import type {RequestHandler} from '../../src/transport/transport.js'

/** Simulated time a start, a settle or one fuzzed call may take before it counts as stuck. */
export const stepTimeMsMax = 60_000
export const partitionCountFuzz = 16
export const nodeNames = ['a', 'b', 'c'] as const

export interface RecordedRequest {
  readonly type: number
  readonly body: unknown
}

export interface FuzzCluster {
  readonly time: SimulatedTime
  readonly nodes: readonly AssembledNode[]
  /** Requests the nodes received from each other so far, at most `recordedRequestsMax`. */
  readonly recorded: RecordedRequest[]
  stop(): Promise<void>
}

/** Enough of every message type to mutate from, without keeping a long history. */
const recordedRequestsMax = 4000

export function addressOf(name: string): string {
  return `${name}.sim:7000`
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** Starts `a`, then `b` and `c` joining through it, and waits (in simulated time) for one settled ring. */
export async function startFuzzCluster(seed: number, log: (line: string) => void = () => undefined): Promise<FuzzCluster> {
  const time = new SimulatedTime({settle})
  const network = new SimulatedNetwork({time, random: seededRandom(seed)})
  const recorded: RecordedRequest[] = []
  const recording = (handler: RequestHandler): RequestHandler => (type, body, fromNode) => {
    if (recorded.length < recordedRequestsMax) recorded.push({type, body})
    return handler(type, body, fromNode)
  }
  const nodes: AssembledNode[] = []
  for (const [index, name] of nodeNames.entries()) {
    const scheduler = time.node(name)
    const settings: NodeSettings = {
      name,
      apiAddress: `${name}.sim:8000`,
      seeds: index === 0 ? [] : [addressOf('a')],
      settings: {partitionCount: partitionCountFuzz, defaultN: 3, defaultR: 2, defaultW: 2, conflictPolicy: 'siblings'},
      explicitSettings: {},
      requestTimeoutMs: 1000,
      gossipIntervalMs: 1000,
      writeBufferMs: 0,
    }
    nodes.push(
      await time.until(
        assembleNode({
          settings,
          database: memoryDatabase(),
          startTransport: async (handler) => network.listen({address: addressOf(name), nodeName: name, handler: recording(handler), scheduler}),
          clock: scheduler,
          scheduler,
          random: seededRandom(seed * 31 + index),
          log: (line) => log(`${name}: ${line}`),
        }),
        stepTimeMsMax,
      ),
    )
  }
  // Each join is committed by the claimant and installed once its transfers are done; gossip then
  // spreads the ring. Bounded: a ring that has not settled in a minute of simulated time is a bug.
  for (let waitedMs = 0; waitedMs < stepTimeMsMax; waitedMs += 1000) {
    const first = nodes[0] as AssembledNode
    if (nodes.every((node) => node.membership.ring.members.length === 3 && node.membership.table.ring?.next === undefined && node.membership.ring.hash === first.membership.ring.hash)) break
    await time.runFor(1000)
  }
  await time.runFor(3000)
  return {
    time,
    nodes,
    recorded,
    stop: async () => {
      for (const node of nodes) await time.until(node.stop(), stepTimeMsMax).catch(() => undefined)
    },
  }
}
