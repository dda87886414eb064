/**
 * A simulated network, and the `Transport` each node gets on it: the test-side twin of
 * tcp-transport.ts, in the spirit of memberlist's mock network but on simulated time and seeded.
 *
 * Every request and answer travels as the bytes of a real frame (frame.ts): encoded by the
 * sender, decoded by the receiver, so the size limit, the "not sent" refusals and the copies that
 * keep nodes from sharing objects are the real ones. What TCP gives, the simulation models at the
 * level a node can observe:
 * - A connection per (caller, peer address), opened by the first request with a round trip
 *   (refused at once by an address where nothing listens; a connect that gets no answer fails
 *   after the connect timeout), and the same doubling back-off after a failed connect, which a
 *   caller that paces its own tries passes (RequestOptions.callerPaced), as over TCP.
 * - Requests and answers on it, each delayed by a seeded per-link delay drawn from the link's
 *   bounds, so messages overtake each other (the Transport contract promises no order), and lost
 *   with the link's loss rate (a lost message is a request that times out).
 * - Cuts: a message from A to B is dropped while A -> B is cut (one-way), or both ways
 *   (`partition`); a connection survives a cut, as a TCP connection does.
 * - Crashes: a crashed node's messages in flight are lost, its timers are gone (its
 *   `NodeScheduler` is halted), peers connected to it learn of it when its closing notice reaches
 *   them (if a cut drops it, their requests time out instead), and a request that arrives on a
 *   connection to a node that has since crashed or restarted is reset. A restart is a new
 *   `listen` on the same address.
 * Time comes only from the simulated scheduler, randomness only from the Random handed in, so one
 * seed gives one run.
 */

import type {Random} from '../clock.js'
import {assert} from '../errors.js'
import type {Timer} from '../scheduler.js'
import type {NodeScheduler, SimulatedTime} from '../simulated-time.js'
import {FrameDecoder, frameBytesMax, tryEncodeFrame, type Frame} from './frame.js'
import {MessageType, requestMessageTypes} from './message-type.js'
import {allocateRequestId, backOffAfterLoss, describe, errorBody, parseAddress, remoteFailure, settle, unreachable, unsent} from './rpc-common.js'
import {connectTimeoutMsDefault, pendingPerPeerMaxDefault, peersMax} from './tcp-transport.js'
import type {PeerState, RequestHandler, RequestOptions, RpcResult, Transport} from './transport.js'

/** How one direction of a link behaves. */
export interface LinkProfile {
  /** Bounds of the one-way delay of each message, drawn uniformly per message. */
  readonly delayMsMin: number
  readonly delayMsMax: number
  /** The chance that one message is lost, in [0, 1]. */
  readonly lossRate: number
}

/** A LAN's worth of delay, wide enough that messages on one link often overtake each other. */
export const linkProfileDefault: LinkProfile = {delayMsMin: 0.5, delayMsMax: 5, lossRate: 0}

export interface SimulatedNetworkOptions {
  readonly time: SimulatedTime
  /** The network's own stream of randomness: delays and losses. */
  readonly random: Random
  /** Every link's profile unless `setLink` says otherwise. */
  readonly link?: LinkProfile
}

export interface SimulatedListenOptions {
  /** "host:port"; any host name will do, the network only matches the string. */
  readonly address: string
  /** The name the handler of a peer sees as `fromNode` (TCP sends it in Hello). */
  readonly nodeName: string
  readonly handler: RequestHandler
  /** The node's scheduler: the transport's timers go there, and a crash halts it. */
  readonly scheduler: NodeScheduler
  readonly pendingPerPeerMax?: number
  readonly connectTimeoutMs?: number
  readonly log?: (line: string) => void
}

/** What the network has done with messages so far. */
export interface NetworkCounters {
  sent: number
  delivered: number
  /** Dropped by the link's loss rate. */
  lost: number
  /** Dropped by a cut, or because an end had crashed. */
  dropped: number
}

/** One listening incarnation of a node at an address; a restart is a new one. */
interface Endpoint {
  readonly address: string
  readonly nodeName: string
  readonly handler: RequestHandler
  readonly scheduler: NodeScheduler
  readonly pendingPerPeerMax: number
  readonly connectTimeoutMs: number
  readonly log: (line: string) => void
  readonly transport: SimulatedTransport
  alive: boolean
}

/** One caller's connection to one peer address. */
interface Connection {
  readonly id: number
  readonly from: Endpoint
  readonly toAddress: string
  /** The incarnation it reached; undefined while connecting. */
  target: Endpoint | undefined
  /** Frames written before the connection was up: TCP queues them, and so does this. */
  readonly queued: Buffer[]
  connectTimer: Timer | undefined
  /** Handler calls running on the receiving side for this connection. */
  handlersRunning: number
  /** Whether it has delivered an answer, i.e. the peer really serves us. */
  answered: boolean
}

export class SimulatedNetwork {
  readonly time: SimulatedTime
  readonly counters: NetworkCounters = {sent: 0, delivered: 0, lost: 0, dropped: 0}
  readonly #random: Random
  #defaultLink: LinkProfile
  readonly #links = new Map<string, LinkProfile>()
  readonly #cuts = new Set<string>()
  readonly #listening = new Map<string, Endpoint>()
  readonly #connections = new Set<Connection>()
  #nextConnectionId = 1

  constructor(options: SimulatedNetworkOptions) {
    this.time = options.time
    this.#random = options.random
    this.#defaultLink = checkedProfile(options.link ?? linkProfileDefault)
  }

  /**
   * Starts a node's transport at `address`. Like a TCP listen on a port in use, it throws (an
   * error with code EADDRINUSE) while another live transport holds the address.
   */
  listen(options: SimulatedListenOptions): Transport {
    assert(parseAddress(options.address) !== null, `"${options.address}" is a host:port address`)
    assert(options.nodeName.length > 0, 'a node has a name')
    if (this.#listening.has(options.address)) {
      throw Object.assign(new Error(`${options.address} is in use`), {code: 'EADDRINUSE'})
    }
    const pendingPerPeerMax = options.pendingPerPeerMax ?? pendingPerPeerMaxDefault
    const connectTimeoutMs = options.connectTimeoutMs ?? connectTimeoutMsDefault
    assert(Number.isInteger(pendingPerPeerMax) && pendingPerPeerMax >= 1, 'pendingPerPeerMax is a positive integer')
    assert(connectTimeoutMs > 0 && Number.isFinite(connectTimeoutMs), 'connectTimeoutMs is positive')
    let endpoint: Endpoint | undefined
    const transport = new SimulatedTransport(this, () => {
      assert(endpoint !== undefined, 'the endpoint is set before any use')
      return endpoint
    })
    endpoint = {
      address: options.address,
      nodeName: options.nodeName,
      handler: options.handler,
      scheduler: options.scheduler,
      pendingPerPeerMax,
      connectTimeoutMs,
      log: options.log ?? (() => {}),
      transport,
      alive: true,
    }
    this.#listening.set(options.address, endpoint)
    return transport
  }

  /** Whether a live transport listens at `address`. */
  isListening(address: string): boolean {
    return this.#listening.has(address)
  }

  /** Sets the profile of every link that has none of its own. */
  setDefaultLink(profile: LinkProfile): void {
    this.#defaultLink = checkedProfile(profile)
  }

  /** Sets the profile of the one-way link `from` -> `to` (addresses); undefined restores the default. */
  setLink(from: string, to: string, profile: LinkProfile | undefined): void {
    if (profile === undefined) this.#links.delete(linkKey(from, to))
    else this.#links.set(linkKey(from, to), checkedProfile(profile))
  }

  /** Drops every message from `from` to `to` (one way) until `restore` or `heal`. */
  cut(from: string, to: string): void {
    this.#cuts.add(linkKey(from, to))
  }

  restore(from: string, to: string): void {
    this.#cuts.delete(linkKey(from, to))
  }

  /** Cuts every link between the two sides, both ways. */
  partition(sideA: readonly string[], sideB: readonly string[]): void {
    for (const a of sideA) {
      for (const b of sideB) {
        this.cut(a, b)
        this.cut(b, a)
      }
    }
  }

  /** Restores every cut link. */
  heal(): void {
    this.#cuts.clear()
  }

  isCut(from: string, to: string): boolean {
    return this.#cuts.has(linkKey(from, to))
  }

  /**
   * Crashes the node listening at `address`: its scheduler is halted (its timers gone), its
   * messages in flight are lost, its pending requests never resolve (nothing of it runs any
   * more), and its peers are sent the closing notice of each connection to it. No-op if nothing
   * listens there.
   */
  crash(address: string): void {
    const endpoint = this.#listening.get(address)
    if (endpoint === undefined) return
    endpoint.scheduler.halt()
    this.#stop(endpoint)
  }

  // ---- used by SimulatedTransport ----

  /** Ends an endpoint's life: it listens no more, and each connection to it is closed on the caller's side once the notice arrives. */
  stopEndpoint(endpoint: Endpoint): void {
    this.#stop(endpoint)
  }

  #stop(endpoint: Endpoint): void {
    if (!endpoint.alive) return
    endpoint.alive = false
    if (this.#listening.get(endpoint.address) === endpoint) this.#listening.delete(endpoint.address)
    for (const connection of this.#connections) {
      // Its own connections die with it; nothing on the other side keeps state for them.
      if (connection.from === endpoint) this.#connections.delete(connection)
      // The system closes the connections of a process that ended: a notice goes to each caller.
      else if (connection.target === endpoint) {
        this.transmit(endpoint.address, undefined, connection.from, () => connection.from.transport.lose(connection, `connection to ${endpoint.address} closed`))
      }
    }
  }

  /** Opens a connection: a round trip that finds what listens at the address, if anything. */
  openConnection(from: Endpoint, toAddress: string): Connection {
    const connection: Connection = {
      id: this.#nextConnectionId++,
      from,
      toAddress,
      target: undefined,
      queued: [],
      connectTimer: undefined,
      handlersRunning: 0,
      answered: false,
    }
    this.#connections.add(connection)
    this.#carry(from.address, from, toAddress, () => {
      // The system at the other end answers the handshake, whether or not a node listens there.
      const target = this.#listening.get(toAddress)
      if (target === undefined) {
        this.transmit(toAddress, undefined, from, () => from.transport.lose(connection, `connection to ${toAddress} refused`))
      } else {
        this.transmit(toAddress, undefined, from, () => from.transport.established(connection, target))
      }
    })
    return connection
  }

  forgetConnection(connection: Connection): void {
    this.#connections.delete(connection)
  }

  /** Sends a request frame on an established connection. */
  sendRequest(connection: Connection, bytes: Buffer): void {
    this.#carry(connection.from.address, connection.from, connection.toAddress, () => this.#receiveRequest(connection, bytes))
  }

  /**
   * Carries one message to a node's endpoint: dropped if that endpoint has died by the time it
   * would arrive, or if its sender (a node; undefined for the system's own notices) had.
   */
  transmit(fromAddress: string, sender: Endpoint | undefined, to: Endpoint, deliver: () => void): void {
    this.#carry(fromAddress, sender, to.address, () => {
      if (!to.alive) {
        this.counters.dropped += 1
        return
      }
      deliver()
    })
  }

  /**
   * One message on the link: cut at either end of its flight, lost, or delivered after the
   * link's delay. A message whose sending node crashed meanwhile is lost with it.
   */
  #carry(from: string, sender: Endpoint | undefined, to: string, deliver: () => void): void {
    this.counters.sent += 1
    const key = linkKey(from, to)
    if (this.#cuts.has(key)) {
      this.counters.dropped += 1
      return
    }
    const profile = this.#links.get(key) ?? this.#defaultLink
    if (profile.lossRate > 0 && this.#random.next() < profile.lossRate) {
      this.counters.lost += 1
      return
    }
    const delayMs = profile.delayMsMin + this.#random.next() * (profile.delayMsMax - profile.delayMsMin)
    this.time.after(delayMs, () => {
      if (this.#cuts.has(key) || (sender !== undefined && !sender.alive)) {
        this.counters.dropped += 1
        return
      }
      this.counters.delivered += 1
      deliver()
    })
  }

  #receiveRequest(connection: Connection, bytes: Buffer): void {
    const target = connection.target
    assert(target !== undefined, 'requests travel on established connections only')
    const from = connection.from
    if (!target.alive || this.#listening.get(connection.toAddress) !== target) {
      // The node this connection reached is gone (crashed, or restarted since): whatever listens
      // there now resets the connection, as a kernel does for a segment of an unknown connection.
      this.transmit(connection.toAddress, undefined, from, () => from.transport.lose(connection, `connection to ${connection.toAddress} reset`))
      return
    }
    const frame = decodeOne(bytes)
    const {requestId, type} = frame
    if (!requestMessageTypes.has(type)) {
      this.#answerError(connection, target, requestId, {code: 'bad_request', message: `message type ${type} is not a request`})
      return
    }
    if (connection.handlersRunning >= target.pendingPerPeerMax) {
      this.#answerError(connection, target, requestId, {code: 'overloaded', message: `${connection.handlersRunning} requests from ${from.nodeName} already running`})
      return
    }
    connection.handlersRunning += 1
    let answer: Promise<unknown>
    try {
      answer = Promise.resolve(target.handler(type, frame.body, from.nodeName))
    } catch (error) {
      answer = Promise.reject(error)
    }
    answer.then(
      (body) => {
        connection.handlersRunning -= 1
        // A node that crashed while its handler ran answers nothing.
        if (!target.alive) return
        const encoded = tryEncodeFrame({type: MessageType.Response, requestId, body})
        if (!encoded.ok) {
          this.#answerError(connection, target, requestId, {code: 'internal', message: `answer cannot be sent: ${encoded.message}`})
          return
        }
        this.#answer(connection, target, encoded.bytes)
      },
      (error: unknown) => {
        connection.handlersRunning -= 1
        if (!target.alive) return
        const failure = errorBody(error)
        if (failure.code === 'internal') target.log(`transport ${target.address}: handler failed on type ${type} from ${from.nodeName}: ${describe(error)}`)
        this.#answerError(connection, target, requestId, failure)
      },
    )
  }

  #answerError(connection: Connection, target: Endpoint, requestId: number, failure: {code: string; message: string; details?: Record<string, unknown>}): void {
    const encoded = tryEncodeFrame({type: MessageType.ErrorResponse, requestId, body: failure})
    assert(encoded.ok, 'an error answer of two bounded strings and bounded JSON details always encodes')
    this.#answer(connection, target, encoded.bytes)
  }

  #answer(connection: Connection, target: Endpoint, bytes: Buffer): void {
    this.transmit(target.address, target, connection.from, () => connection.from.transport.answer(connection, bytes))
  }
}

/** Our side of one peer address: its connection (if any), its waiting requests, its back-off. */
interface Peer {
  readonly address: string
  connection: Connection | undefined
  everLost: boolean
  failedConnects: number
  retryAtMs: number
  nextRequestId: number
  readonly pending: Map<number, PendingRequest>
}

interface PendingRequest {
  readonly resolve: (result: RpcResult) => void
  readonly timer: Timer
}

class SimulatedTransport implements Transport {
  readonly #network: SimulatedNetwork
  readonly #endpoint: () => Endpoint
  readonly #peers = new Map<string, Peer>()
  #closed = false

  constructor(network: SimulatedNetwork, endpoint: () => Endpoint) {
    this.#network = network
    this.#endpoint = endpoint
  }

  get address(): string {
    return this.#endpoint().address
  }

  request(address: string, type: number, body: unknown, timeoutMs: number, options: RequestOptions = {}): Promise<RpcResult> {
    assert(timeoutMs > 0 && Number.isFinite(timeoutMs), 'timeoutMs is positive and finite')
    const endpoint = this.#endpoint()
    if (this.#closed || !endpoint.alive) return settle(unsent('transport is closed'))
    const peer = this.#peerFor(address)
    if (peer === null) return settle(unsent(`cannot reach "${address}": not a host:port address`))
    if (typeof peer === 'string') return settle({ok: false, error: 'overloaded', message: peer})
    if (peer.pending.size >= endpoint.pendingPerPeerMax) {
      return settle({ok: false, error: 'overloaded', message: `${peer.pending.size} requests already waiting on ${address}`})
    }
    // A caller that paces its own tries connects whatever the back-off (transport.ts).
    if (peer.connection === undefined && options.callerPaced !== true) {
      const waitMs = peer.retryAtMs - endpoint.scheduler.monotonicMs()
      if (waitMs > 0) return settle(unsent(`${address} is down; next connect attempt in ${Math.ceil(waitMs)} ms`))
    }
    const requestId = allocateRequestId(peer, endpoint.pendingPerPeerMax)
    const encoded = tryEncodeFrame({type, requestId, body})
    if (!encoded.ok) {
      return settle({ok: false, error: 'remote', code: 'bad_request', message: `request not sent: ${encoded.message}`, sent: false})
    }
    const connection = peer.connection ?? this.#connect(peer, endpoint)
    return new Promise<RpcResult>((resolve) => {
      const timer = endpoint.scheduler.after(timeoutMs, () => {
        peer.pending.delete(requestId)
        resolve({ok: false, error: 'timeout', message: `no answer from ${address} within ${timeoutMs} ms`})
      })
      peer.pending.set(requestId, {resolve, timer})
      if (connection.target === undefined) connection.queued.push(encoded.bytes)
      else this.#network.sendRequest(connection, encoded.bytes)
    })
  }

  peerState(address: string): PeerState {
    const peer = this.#peers.get(address)
    if (peer === undefined) return 'unknown'
    if (peer.connection !== undefined) return peer.connection.target !== undefined ? 'connected' : 'connecting'
    return peer.everLost ? 'down' : 'unknown'
  }

  /** Stops listening, tells every peer connected to us, and fails our pending requests with 'unreachable'. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const endpoint = this.#endpoint()
    // A crashed node's code never runs again, so only a live one has anything to fail here.
    if (!endpoint.alive) return
    this.#network.stopEndpoint(endpoint)
    for (const peer of this.#peers.values()) {
      if (peer.connection !== undefined) this.lose(peer.connection, 'transport is closed')
    }
  }

  // ---- called by the network when a message reaches this node ----

  established(connection: Connection, target: Endpoint): void {
    const peer = this.#peers.get(connection.toAddress)
    if (peer?.connection !== connection) return
    connection.target = target
    if (connection.connectTimer !== undefined) this.#endpoint().scheduler.cancel(connection.connectTimer)
    connection.connectTimer = undefined
    for (const bytes of connection.queued.splice(0)) this.#network.sendRequest(connection, bytes)
  }

  answer(connection: Connection, bytes: Buffer): void {
    const peer = this.#peers.get(connection.toAddress)
    if (peer?.connection !== connection) return
    const frame = decodeOne(bytes)
    const pending = peer.pending.get(frame.requestId)
    // An answer that arrives after its request timed out is dropped: the caller has moved on.
    if (pending === undefined) return
    peer.pending.delete(frame.requestId)
    this.#endpoint().scheduler.cancel(pending.timer)
    connection.answered = true
    peer.failedConnects = 0
    pending.resolve(frame.type === MessageType.Response ? {ok: true, body: frame.body} : remoteFailure(frame.body))
  }

  /** The connection is gone (refused, reset, closed, timed out): fail what waits on it, and back off as TCP does. */
  lose(connection: Connection, reason: string): void {
    const peer = this.#peers.get(connection.toAddress)
    this.#network.forgetConnection(connection)
    if (peer?.connection !== connection) return
    const endpoint = this.#endpoint()
    peer.connection = undefined
    peer.everLost = true
    if (connection.connectTimer !== undefined) endpoint.scheduler.cancel(connection.connectTimer)
    backOffAfterLoss(peer, connection.answered, endpoint.scheduler.monotonicMs())
    if (peer.pending.size > 0) endpoint.log(`transport ${endpoint.address}: ${reason}`)
    // Requests on a connection that had reached its peer went out: the peer may have handled
    // them. On one that never connected (refused, timed out) nothing reached the peer.
    const failure = connection.target !== undefined ? unreachable(reason) : unsent(reason)
    for (const pending of peer.pending.values()) {
      endpoint.scheduler.cancel(pending.timer)
      pending.resolve(failure)
    }
    peer.pending.clear()
  }

  // ---- outbound ----

  #peerFor(address: string): Peer | null | string {
    const known = this.#peers.get(address)
    if (known !== undefined) return known
    if (parseAddress(address) === null) return null
    if (this.#peers.size >= peersMax) {
      for (const [idle, peer] of this.#peers) if (peer.connection === undefined && peer.pending.size === 0) this.#peers.delete(idle)
      if (this.#peers.size >= peersMax) return `${peersMax} peer addresses already in use`
    }
    const peer: Peer = {address, connection: undefined, everLost: false, failedConnects: 0, retryAtMs: 0, nextRequestId: 1, pending: new Map()}
    this.#peers.set(address, peer)
    return peer
  }

  #connect(peer: Peer, endpoint: Endpoint): Connection {
    const connection = this.#network.openConnection(endpoint, peer.address)
    peer.connection = connection
    connection.connectTimer = endpoint.scheduler.after(endpoint.connectTimeoutMs, () => {
      connection.connectTimer = undefined
      this.lose(connection, `connect to ${peer.address} timed out after ${endpoint.connectTimeoutMs} ms`)
    })
    return connection
  }
}

/** Decodes the bytes of one whole frame this network carried; they were encoded by frame.ts, so anything else is a bug. */
function decodeOne(bytes: Buffer): Frame {
  const decoded = new FrameDecoder(frameBytesMax).push(bytes)
  assert(decoded.ok && decoded.frames.length === 1, 'a carried message is one whole frame')
  return decoded.frames[0] as Frame
}

function linkKey(from: string, to: string): string {
  return `${from}\u0000${to}`
}

function checkedProfile(profile: LinkProfile): LinkProfile {
  assert(
    Number.isFinite(profile.delayMsMin) && profile.delayMsMin >= 0 && Number.isFinite(profile.delayMsMax) && profile.delayMsMax >= profile.delayMsMin,
    'link delay bounds are finite, 0 <= min <= max',
  )
  assert(profile.lossRate >= 0 && profile.lossRate <= 1, 'a loss rate is in [0, 1]')
  return profile
}
