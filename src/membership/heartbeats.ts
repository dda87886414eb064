/**
 * What feeds the failure detector (failure-detector.ts) on one node: a Ping to every other
 * member each heartbeat interval, and the outcome of every internode request this node makes
 * (an answer of any kind proves the peer alive; a refused or reset connection proves it down).
 * The node's scheduler calls `round`; this module owns no timer and reads time from the Clock
 * it is handed, so it runs on simulated time too.
 */

import type {Clock} from '../clock.js'
import {DynError} from '../errors.js'
import {MessageType} from '../transport/message-type.js'
import type {RpcResult, Transport} from '../transport/transport.js'
import type {FailureDetector} from './failure-detector.js'

export interface PingBody {
  readonly from: string
}

export interface PingAnswer {
  readonly node: string
}

/**
 * A transport that tells the detector what each request's outcome says about its peer. Every
 * internode request of the node (coordinators, gossip, handoff, heartbeats) goes through it.
 */
export function observedTransport(inner: Transport, detector: FailureDetector, clock: Clock): Transport {
  const observe = (address: string, result: RpcResult): RpcResult => {
    const nowMs = clock.monotonicMs()
    // Nothing sent (refused here, or backing off): no new evidence about the peer either way.
    if (!result.ok && result.sent === false && result.error !== 'unreachable') return result
    // A remote refusal is still an answer: the peer is alive, whatever it thought of the request.
    if (result.ok || result.error === 'remote') detector.arrival(address, nowMs)
    else if (result.error === 'unreachable') detector.markUnreachable(address, nowMs)
    // A timeout says nothing certain (the peer may be slow, or the request large): phi decides.
    return result
  }
  return {
    get address() {
      return inner.address
    },
    request: async (address, type, body, timeoutMs) => observe(address, await inner.request(address, type, body, timeoutMs)),
    peerState: (address) => inner.peerState(address),
    close: () => inner.close(),
  }
}

export class Heartbeats {
  /** Peers with a Ping in flight: at most one each, so a silent peer costs one pending request. */
  private readonly inFlight = new Set<string>()

  constructor(
    private readonly selfName: string,
    private readonly transport: Transport,
    private readonly detector: FailureDetector,
    private readonly clock: Clock,
    /** The internode addresses of the members to watch (every other member not gone). */
    private readonly peers: () => readonly string[],
  ) {}

  /** One heartbeat round: a Ping to each peer that has none in flight; answers feed the detector through the transport. */
  round(): Promise<void> {
    const nowMs = this.clock.monotonicMs()
    const config = this.detector.config
    // An answer that comes late still proves the peer was alive: wait as long as a pause the detector forgives.
    const timeoutMs = config.heartbeatIntervalMs + config.acceptablePauseMs
    const pings: Promise<unknown>[] = []
    for (const address of this.peers()) {
      this.detector.watch(address, nowMs)
      if (this.inFlight.has(address)) continue
      this.inFlight.add(address)
      const body: PingBody = {from: this.selfName}
      pings.push(this.transport.request(address, MessageType.Ping, body, timeoutMs).finally(() => this.inFlight.delete(address)))
    }
    // The round is done once the pings are sent; their answers arrive on their own.
    void Promise.all(pings)
    return Promise.resolve()
  }

  /** Answers a Ping from a peer. */
  handlePing(body: unknown): PingAnswer {
    const from = (body as Partial<PingBody> | null)?.from
    if (typeof from !== 'string') throw new DynError('bad_request', 'a ping must name its sender')
    return {node: this.selfName}
  }
}
