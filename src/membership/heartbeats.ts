/**
 * What feeds the failure detector (failure-detector.ts) on one node: a Ping to every other
 * member each heartbeat interval, and the outcome of every internode request this node makes
 * (an answer of any kind proves the peer alive; a refused or reset connection proves it down).
 * The node's scheduler calls `round`; this module owns no timer and reads time from the Clock
 * it is handed, so it runs on simulated time too.
 *
 * Pings also expose a member that advertises an address the others cannot reach (a node started
 * with `--advertise` or `--host` set to an address that is not its own, or that a firewall
 * closes): it pings us, yet our pings to its advertised address fail. When a member's pings keep
 * arriving while this node sees it down for `oneWayReportAfterMs`, this node logs it and says so
 * in its answers, and the member logs what it is told, once. A ping answered by another node
 * than the member pinged (the address reaches someone else, as `127.0.0.1` does from another
 * machine) is logged too, and the member counts as unreachable.
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
  /**
   * The answering node's cluster id. A node of another cluster can hold a member's address (one
   * started anew there without --seeds, with the same name and cluster secret: a new user's walk
   * saw a leave's transfers take pages from such a node's empty store); the pinger then counts
   * the member down. Absent from nodes older than it.
   */
  readonly clusterId?: string
  /**
   * The pinging node's advertised internode address, when the answering node has not reached it
   * for a while although the pinger's pings arrive: the pinger advertises an address this node
   * cannot connect to. Absent otherwise (and from nodes older than it).
   */
  readonly unreachableAt?: string
}

/** Another cluster's id as a log names it: an id is 16 hex digits, and anything else is cut and said so. */
function clusterIdText(id: string): string {
  return /^[0-9a-f]{16}$/.test(id) ? id : `(not a cluster id: ${JSON.stringify(id.slice(0, 32))})`
}

/** A member the heartbeats watch: its name, and the internode address it advertises. */
export interface WatchedPeer {
  readonly name: string
  readonly rpcAddress: string
}

/**
 * How long a member's pings must keep arriving while this node sees it down before this node
 * calls its address unreachable: long enough for a connect to time out (2 s) and to be tried
 * again, and for a member that just restarted to be reached by our next heartbeat.
 */
export const oneWayReportAfterMs = 5000
/** Members tracked for the one-way report at once (a member table holds at most 1024). */
const oneWayTrackedMax = 1024

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
    request: async (address, type, body, timeoutMs, options) => observe(address, await inner.request(address, type, body, timeoutMs, options)),
    peerState: (address) => inner.peerState(address),
    close: () => inner.close(),
  }
}

export class Heartbeats {
  /** Peers with a Ping in flight: at most one each, so a silent peer costs one pending request. */
  private readonly inFlight = new Set<string>()
  /** Members whose pings arrive while this node sees them down: since when, and whether it was logged. */
  private readonly pingedWhileDown = new Map<string, {sinceMs: number; logged: boolean}>()
  /** Members that told this node they cannot reach its address (logged once until they stop). */
  private readonly toldUnreachable = new Set<string>()
  /** Members whose address another node answers (logged once until it changes). */
  private readonly answeredByOther = new Set<string>()
  /** Members whose address a node of another cluster answers (logged once until it changes). */
  private readonly answeredByForeign = new Set<string>()

  constructor(
    private readonly selfName: string,
    private readonly transport: Transport,
    private readonly detector: FailureDetector,
    private readonly clock: Clock,
    /** The members to watch (every other member not gone). */
    private readonly peers: () => readonly WatchedPeer[],
    /** A member's advertised internode address, for the one who pings us. */
    private readonly addressOf: (name: string) => string | undefined = () => undefined,
    private readonly log: (line: string) => void = () => {},
    /** This node's cluster id, read at each ping (a node that joins another cluster takes its id). */
    private readonly clusterId: () => string | undefined = () => undefined,
  ) {}

  /** One heartbeat round: a Ping to each peer that has none in flight; answers feed the detector through the transport. */
  round(): Promise<void> {
    const nowMs = this.clock.monotonicMs()
    const config = this.detector.config
    // An answer that comes late still proves the peer was alive: wait as long as a pause the detector forgives.
    const timeoutMs = config.heartbeatIntervalMs + config.acceptablePauseMs
    const pings: Promise<unknown>[] = []
    for (const peer of this.peers()) {
      const address = peer.rpcAddress
      this.detector.watch(address, nowMs)
      if (this.inFlight.has(address)) continue
      this.inFlight.add(address)
      const body: PingBody = {from: this.selfName}
      const ping = this.transport.request(address, MessageType.Ping, body, timeoutMs).then((result) => this.readAnswer(peer, result))
      pings.push(ping.finally(() => this.inFlight.delete(address)))
    }
    // The round is done once the pings are sent; their answers arrive on their own.
    void Promise.all(pings)
    return Promise.resolve()
  }

  /** Answers a Ping from a peer. */
  handlePing(body: unknown): PingAnswer {
    const from = (body as Partial<PingBody> | null)?.from
    if (typeof from !== 'string') throw new DynError('bad_request', 'a ping must name its sender')
    const unreachableAt = this.oneWayFrom(from)
    const clusterId = this.clusterId()
    return {node: this.selfName, ...(clusterId === undefined ? {} : {clusterId}), ...(unreachableAt === undefined ? {} : {unreachableAt})}
  }

  /**
   * `from` pings us: its advertised address, if this node has seen it down for all of the last
   * `oneWayReportAfterMs` while its pings kept coming (logged here once).
   */
  private oneWayFrom(from: string): string | undefined {
    // Our own ping, come back through a member's address that leads here: readAnswer reports it.
    if (from === this.selfName) return undefined
    const address = this.addressOf(from)
    const nowMs = this.clock.monotonicMs()
    // Only a peer this node pings can have failed to answer it: a member that has left and handed
    // off is no longer pinged, while it still pings for its last rounds before it exits. Looked up last,
    // when the address reads down, which is rare.
    if (address === undefined || this.detector.reachability(address, nowMs) !== 'down' || !this.peers().some((peer) => peer.name === from)) {
      this.pingedWhileDown.delete(from)
      return undefined
    }
    let seen = this.pingedWhileDown.get(from)
    if (seen === undefined) {
      if (this.pingedWhileDown.size >= oneWayTrackedMax) return undefined
      seen = {sinceMs: nowMs, logged: false}
      this.pingedWhileDown.set(from, seen)
    }
    if (nowMs - seen.sinceMs < oneWayReportAfterMs) return undefined
    if (!seen.logged) {
      seen.logged = true
      this.log(
        `${from} pings this node, but its advertised internode address ${address} has not answered this node for ${Math.round((nowMs - seen.sinceMs) / 1000)} s: ` +
          `if ${address} is not an address the other nodes can connect to, restart ${from} with --advertise set to one that is (or open the way from here to it); telling ${from} so`,
      )
    }
    return address
  }

  /** What a ping's answer says beyond proving the peer alive: who answered, and whether it reaches us. */
  private readAnswer(peer: WatchedPeer, result: RpcResult): void {
    if (!result.ok) return
    const answer = result.body as Partial<PingAnswer> | null
    const node = answer?.node
    if (typeof node === 'string' && node !== peer.name) {
      // Someone answers at the member's address, but not the member: no evidence about it.
      this.detector.markUnreachable(peer.rpcAddress, this.clock.monotonicMs())
      if (!this.answeredByOther.has(peer.name)) {
        this.answeredByOther.add(peer.name)
        const who = node === this.selfName ? `this node (${node})` : node
        this.log(`${peer.name} advertises ${peer.rpcAddress}, but ${who} answers there: ${peer.name} was started with an address that reaches another node (127.0.0.1 reaches each machine itself); restart it with --advertise set to an address the other nodes reach it at`)
      }
      return
    }
    this.answeredByOther.delete(peer.name)
    const theirs = answer?.clusterId
    const ours = this.clusterId()
    if (typeof theirs === 'string' && ours !== undefined && theirs !== ours) {
      // The member is not there: something of another cluster is. Down until that changes, so
      // that no replica write, hint, transfer page or hand-off counts on it (failure-detector.ts).
      this.detector.markForeign(peer.rpcAddress, this.clock.monotonicMs())
      if (!this.answeredByForeign.has(peer.name)) {
        if (this.answeredByForeign.size < oneWayTrackedMax) this.answeredByForeign.add(peer.name)
        this.log(
          `${peer.name} at ${peer.rpcAddress} answers as a node of cluster ${clusterIdText(theirs)}, not of this node's cluster ${ours}: ` +
            `a node of another cluster holds that address (one started there without --seeds, on an empty or other data folder?), so ${peer.name} counts as down here and nothing is sent to or taken from it. ` +
            `Stop that node and start ${peer.name} on its own data folder; if ${peer.name} is lost for good, dyn cluster remove ${peer.name}`,
        )
      }
      return
    }
    this.detector.clearForeign(peer.rpcAddress)
    if (this.answeredByForeign.delete(peer.name)) this.log(`${peer.name} at ${peer.rpcAddress} answers as a node of this cluster again`)
    const unreachableAt = answer?.unreachableAt
    if (typeof unreachableAt !== 'string') {
      this.toldUnreachable.delete(peer.name)
      return
    }
    if (this.toldUnreachable.has(peer.name)) return
    this.toldUnreachable.add(peer.name)
    this.log(
      `${peer.name} cannot reach this node at ${unreachableAt}, the internode address this node advertises, though this node reaches ${peer.name}: ` +
        `if ${unreachableAt} is not an address the other nodes can connect to, restart this node with --advertise set to one that is (or open the way from ${peer.name} to it)`,
    )
  }
}
