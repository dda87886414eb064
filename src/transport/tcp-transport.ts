/**
 * The real `Transport`: internode RPC over TCP with node:net, framed by `frame.ts`.
 *
 * Outbound, each peer address gets one persistent connection, opened lazily by the first
 * request and reused by all later ones; requests are multiplexed on it by a u32 request id, so
 * many can be in flight at once and answers may come back in any order. Inbound, each accepted
 * connection must start with a Hello; after it, every request is handed to the node's handler
 * at once (concurrently) and answered with the same request id. A connection is one-way: the
 * side that opened it sends requests, the other answers, so two nodes that both talk use two.
 *
 * Failure handling follows what Dynamo's section 4.8 needs from its messaging layer: a request
 * to a dead peer fails fast (a short, doubling backoff after a failed connect) rather than
 * piling up, and bad input from the network costs one connection, never the process. Bytes of
 * another protocol (an HTTP request at this port, a web server's answer to ours) are told apart
 * from broken frames by their first bytes and said as what they are (foreign-protocol.ts).
 *
 * A connection that goes silent is not waited for. Behind a network partition the kernel keeps
 * retransmitting what was written, doubling its wait each time (up to two minutes on Linux), and
 * everything written after it queues behind: once the partition heals, the connection would
 * deliver again only at the next retransmission, however long the cut lasted. So a request that
 * times out on a connection from which nothing has arrived for `silentConnectionMsMax` closes
 * it, and the next request opens a fresh one, which a healed network carries at once.
 *
 * With a cluster secret, each connection begins with a challenge-response that proves to each
 * side that the other holds it (handshake.ts): the opener holds its requests until the acceptor
 * has proved itself, and the acceptor hands nothing to the node until the opener has. A side
 * without the secret, or with another, is refused with `unauthenticated`, and both log why.
 *
 * With TLS (a node's certificate, key and the cluster CA, tls-options.ts), every connection is
 * mutual TLS before any frame: the acceptor asks for the opener's certificate and refuses one that
 * does not chain to the CA; the opener refuses an acceptor whose certificate does not chain to it
 * or does not name the host dialled (its subject alternative names, as HTTPS and etcd's peers
 * check). The acceptor cannot check the opener's name the same way (it connects from any port,
 * through NATs), so any certificate of the cluster CA may open a connection: the CA is the
 * cluster's, and signing a certificate is admitting a node. Hello and the secret's handshake then
 * run inside TLS unchanged, so a cluster may hold both: the secret still proves each side's
 * membership, and TLS adds what the secret alone does not give (privacy, integrity of every frame
 * and a binding to the address dialled). A refused handshake is `unauthenticated`, logged by both
 * sides with the reason (never key material).
 */

import {randomBytes} from 'node:crypto'
import net from 'node:net'
import tls from 'node:tls'
import type {Clock} from '../clock.js'
import {assert} from '../errors.js'
import {QuietChecks} from '../quiet-connections.js'
import type {Scheduler, Timer} from '../scheduler.js'
import {FrameDecoder, frameBytesMax, protocolVersion, tryEncodeFrame, type Frame} from './frame.js'
import {acceptorProof, handshakeNonceBytes, isNonce, openerProof, proofMatches} from './handshake.js'
import {MessageType, requestMessageTypes} from './message-type.js'
import {answerQuoteBytesMax, internodeHttpAnswer, isHttpAnswer, openingBytesMax, quoteAnswer, recogniseOpening, tlsHandshakeRecordType} from './foreign-protocol.js'
import {allocateRequestId, answeredInPlainText, backOffAfterLoss, describe, errorBody, formatAddress, isLoggedCount, isStoppingRefusal, notInternodeCode, parseAddress, printable, remoteFailure, RepeatLog, settle, socketErrorInWords, stoppingRefusal, unauthenticatedCode, unsent} from './rpc-common.js'
import type {NodeTls} from './tls-options.js'
import type {PeerState, RequestHandler, RequestOptions, RpcResult, Transport} from './transport.js'

export interface TcpTransportOptions {
  /** The address to listen on: an interface's address, or `0.0.0.0` / `::` for every interface. */
  host: string
  /**
   * The host other nodes reach this one at, which `address` carries (and Hello announces); the
   * listen host when absent. Never an unspecified address: peers cannot connect to `0.0.0.0`.
   */
  advertiseHost?: string
  /** 0 lets the OS pick a free port; `address` then carries the one it picked. */
  port: number
  /** The name sent in Hello; the remote handler sees it as `fromNode`. */
  nodeName: string
  /**
   * The cluster secret: every connection, both ways, must prove it holds the same (handshake.ts).
   * Without one, connections from nodes without one are accepted as they say Hello.
   */
  secret?: Buffer
  /** Mutual TLS on every connection, both ways, with this node's certificate and the cluster CA (see the header). */
  tls?: Pick<NodeTls, 'cert' | 'key' | 'ca'>
  handler: RequestHandler
  /** The transport's only source of time: back-off deadlines. */
  clock: Clock
  /** Sets every timer of the transport: request, connect and Hello timeouts. */
  scheduler: Scheduler
  /** Requests waiting on one peer (and handler calls running for one inbound connection); beyond it, 'overloaded' at once. */
  pendingPerPeerMax?: number
  connectTimeoutMs?: number
  /** The longest wait between two connect attempts to a peer whose host refused them (nothing listens). */
  reconnectBackoffMaxMs?: number
  /** The longest wait between two connect attempts to a peer that is silent (timed out, unreachable host). */
  silentBackoffMaxMs?: number
  /**
   * How long an accepted connection has to say Hello, and with TLS to finish its TLS handshake
   * (a separate deadline before the Hello's) [default: helloTimeoutMs]. Tests shorten it.
   */
  handshakeTimeoutMs?: number
  log?: (line: string) => void
  /**
   * Where clients reach this node's HTTP API (`http://host:port`, or https): an HTTP request that
   * reaches the internode port is answered with it, and the log line says it. Absent, both say
   * only "the client API port".
   */
  clientApiUrl?: string
  /**
   * Told of every input refused from the network, by kind and reason, for /stats: a frame the
   * codec refused, a connection without a valid Hello, a connection over the cap, a request
   * answered with a refusal (its error code).
   */
  onRejected?: (kind: 'frames' | 'hellos' | 'connections' | 'requests', reason: string) => void
}

/**
 * 4096 waiting requests per peer is far above what a healthy peer has in flight (tens to a few
 * hundred at benchmark load), yet puts a limit on what a stuck peer can make callers queue.
 */
export const pendingPerPeerMaxDefault = 4096
/** Long enough for a loaded LAN, short against the request timeouts of a few hundred ms above it. */
export const connectTimeoutMsDefault = 2000
/**
 * Over TCP a dead peer is tried again after 100 ms, then twice as long after each refused
 * connect, up to this: about one attempt per 5 s per dead peer, where the heartbeats alone would
 * try twice a second. A peer that comes back is tried at once when it connects to this node
 * (its Hello, from the same host), so it is seen up again within a heartbeat all the same.
 */
export const tcpReconnectBackoffMsMax = 5000
/**
 * A peer that is silent rather than refused (a connect that timed out, a host or network
 * unreachable, a connection that stopped answering) is behind a partition or paused. It cannot
 * announce its return the way a restarted process does (its connects are as lost as ours), so
 * it is tried again sooner: 100 ms doubling to this. Each such attempt has already waited a
 * connect timeout or a request timeout, so a peer behind a partition costs one connect (one SYN
 * and its retransmission) about every 3 s, and a healed partition is seen within about 2 s.
 */
export const tcpSilentBackoffMsMax = 1000
/**
 * A request that times out on a connection from which nothing at all has arrived for this long
 * closes it (see the header). On a live connection the heartbeats' answers arrive every
 * heartbeat interval (500 ms), so only a peer that stopped answering, or the network between,
 * reaches it; a slow handler on a live peer never does. It is longer than TCP's first
 * retransmissions (200 ms, then 400 ms), so a single lost packet does not reopen a connection.
 */
export const silentConnectionMsMax = 1000
/**
 * An accepted connection idle this long is probed by the kernel (TCP keep-alive), so that one
 * whose caller vanished behind a partition, and reconnected since, does not stay open for ever.
 */
export const inboundKeepAliveMs = 30_000
/** A connection that has not said Hello within this time is closed, so idle strangers cannot hold sockets. */
export const helloTimeoutMs = 10_000
/** Accepted connections at once; a cluster needs one per peer, the rest is slack for restarts. */
export const inboundConnectionsMax = 4096
/** Peer addresses remembered at once (their connection and backoff state). */
export const peersMax = 4096
const nodeNameCharsMax = 256
/** A host:port with an IPv6 host and its brackets fits; anything longer in a Hello is ignored. */
const helloAddressCharsMax = 300
/** The handshake's frames (Hello, its challenge and proof, a refusal) use an id no request ever gets. */
const helloRequestId = 0
/** A refused opener gets this long to read why before its connection is destroyed. */
const refusalLingerMs = 1000
/**
 * A draining node ends an inbound connection once it has no request running and nothing has
 * arrived on it for this many checks in a row, this far apart: its peer has then taken in the
 * stopping notice (see drainInbound) and sends nothing more.
 */
const drainCheckMs = 50
const drainQuietChecks = 2
/**
 * An ended inbound connection (its last answers flushed, then a FIN) is destroyed this long
 * after if its peer has not closed it: enough for the answers to cross a LAN, short within a stop.
 */
const drainedLingerMs = 200
/** The longest refusal text taken from a peer before its handshake: one line of a log. */
const refusalMessageCharsMax = 300
/** The reason /stats counts an HTTP request at the internode port under (rejected.hellos). */
export const httpRequestReason = 'http_request'
/**
 * The error codes of an answer that refuses the request itself (malformed, or unacceptable from
 * this sender), as /stats counts rejected inputs; a failure of the work (a timeout, a quorum not
 * met, overload) is no rejected input.
 */
const refusalCodes: ReadonlySet<string> = new Set(['bad_request', 'bad_parameter', 'bad_key', 'bad_value', 'bad_context', 'value_too_large', 'object_too_large', 'too_many_siblings', 'cluster_config_mismatch', 'removed'])
/**
 * Connect errors that mean the network lost the peer (no route, no answer), not that its host
 * refused: they back off as a silent peer does.
 */
const silentErrorCodes = new Set(['ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN'])

/** Starts listening; rejects with the listen error (e.g. EADDRINUSE) if it cannot. */
export async function startTcpTransport(options: TcpTransportOptions): Promise<TcpTransport> {
  assert(Number.isInteger(options.port) && options.port >= 0 && options.port <= 0xffff, 'port is 0..65535')
  assert(options.nodeName.length > 0 && options.nodeName.length <= nodeNameCharsMax, 'node name is 1..256 chars')
  const advertiseHost = options.advertiseHost ?? options.host
  assert(!isUnspecifiedHost(advertiseHost), 'an advertised host is never an unspecified address')
  const pendingPerPeerMax = options.pendingPerPeerMax ?? pendingPerPeerMaxDefault
  const connectTimeoutMs = options.connectTimeoutMs ?? connectTimeoutMsDefault
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? helloTimeoutMs
  assert(Number.isInteger(pendingPerPeerMax) && pendingPerPeerMax >= 1, 'pendingPerPeerMax is a positive integer')
  assert(connectTimeoutMs > 0 && Number.isFinite(connectTimeoutMs), 'connectTimeoutMs is positive')
  assert(handshakeTimeoutMs > 0 && Number.isFinite(handshakeTimeoutMs), 'handshakeTimeoutMs is positive')
  assert(options.secret === undefined || options.secret.length > 0, 'a cluster secret is not empty')

  const secure = options.tls ?? null
  const server = net.createServer()
  // With TLS the port takes plain TCP connections and hands those that open with a TLS handshake to
  // a TLS server that does not listen itself (see #sniff), so that a node without TLS gets a
  // refusal it can read instead of a connection that closes without a reason.
  // The TLS handshake's deadline is #sniff's (a total one, on the scheduler); Node's own
  // handshakeTimeout, the same length, restarts at every byte received, so that alone an opener
  // trickling its handshake one byte at a time could hold the socket for ever.
  const tlsServer = secure === null ? null : tls.createServer({cert: secure.cert, key: secure.key, ca: secure.ca, requestCert: true, rejectUnauthorized: false, handshakeTimeout: handshakeTimeoutMs})
  // rejectUnauthorized is false so that an opener whose certificate fails is not cut off without a
  // word (Node would close the socket and report a bare "socket hang up"): #accept hands nothing
  // of it to the node, and #refuseCertificate tells it why over the TLS it set up.
  // With TLS a connection reaches #accept (and its count) only after its handshake: the server's
  // own cap bounds those still in it.
  if (secure !== null) server.maxConnections = inboundConnectionsMax
  const listened = new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({host: options.host, port: options.port}, () => {
      server.off('error', reject)
      resolve()
    })
  })
  await listened
  const bound = server.address()
  assert(bound !== null && typeof bound === 'object', 'a listening TCP server has an address')
  return new TcpTransport(server, tlsServer, formatAddress(advertiseHost, bound.port), {
    nodeName: options.nodeName,
    secret: options.secret ?? null,
    tls: secure,
    handler: options.handler,
    clock: options.clock,
    scheduler: options.scheduler,
    pendingPerPeerMax,
    connectTimeoutMs,
    handshakeTimeoutMs,
    reconnectBackoffMaxMs: options.reconnectBackoffMaxMs ?? tcpReconnectBackoffMsMax,
    silentBackoffMaxMs: options.silentBackoffMaxMs ?? tcpSilentBackoffMsMax,
    log: options.log ?? (() => {}),
    onRejected: options.onRejected ?? (() => {}),
    clientApiUrl: options.clientApiUrl ?? null,
  })
}

/**
 * Whether a TLS peer proved, on this connection, a certificate of the CA its server checks
 * against. `authorized` alone is not enough: Node reports a TLS 1.3 session resumed from a ticket
 * as authorized when the session it resumes had no certificate at all, so an opener refused for
 * presenting none could come back with the ticket it was issued then and be taken for a member
 * (or, on the client API, for a client of its client CA). A resumed session of a peer that did
 * present one keeps its certificate.
 */
export function hasVerifiedCertificate(socket: tls.TLSSocket): boolean {
  if (!socket.authorized) return false
  const certificate = socket.getPeerCertificate()
  return certificate !== null && Object.keys(certificate).length > 0
}

/** `0.0.0.0`, `::` and their spellings: what a server may bind, but no peer can connect to. */
export function isUnspecifiedHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  if (net.isIPv4(bare)) return bare.split('.').every((part) => Number(part) === 0)
  if (net.isIPv6(bare)) return /^[0:]+$/.test(bare.split('%')[0] ?? bare)
  return false
}

interface Settings {
  readonly nodeName: string
  readonly secret: Buffer | null
  readonly tls: Pick<NodeTls, 'cert' | 'key' | 'ca'> | null
  readonly handler: RequestHandler
  readonly clock: Clock
  readonly scheduler: Scheduler
  readonly pendingPerPeerMax: number
  readonly connectTimeoutMs: number
  readonly handshakeTimeoutMs: number
  readonly reconnectBackoffMaxMs: number
  readonly silentBackoffMaxMs: number
  readonly log: (line: string) => void
  readonly onRejected: (kind: 'frames' | 'hellos' | 'connections' | 'requests', reason: string) => void
  readonly clientApiUrl: string | null
}

interface PendingRequest {
  readonly resolve: (result: RpcResult) => void
  readonly timer: Timer
  /** Its place among the requests sent to the peer: a drain refuses every request after the first it refused. */
  readonly sequence: number
}

/** Our outbound side of one peer: its connection (if any), its waiting requests, its backoff. */
interface Peer {
  readonly address: string
  readonly host: string
  readonly port: number
  socket: net.Socket | null
  writer: FrameWriter | null
  connected: boolean
  /**
   * Whether requests may be written on the current connection: at once without a secret, and
   * with one once the peer has proved it holds it. Until then they wait in `held`.
   */
  authenticated: boolean
  /** This connection's nonce in its Hello (with a secret), which the peer's proof must answer. */
  openerNonce: Buffer | null
  /**
   * Request frames waiting for the handshake to end, by request id: each leaves when its request
   * times out, so they are never more than the requests pending (`pendingPerPeerMax`).
   */
  held: Map<number, Buffer>
  /** Ends a connection whose handshake has not finished within the connect timeout of its connect. */
  handshakeTimer: Timer | null
  /** Whether the current connection has delivered an answer, i.e. the peer really serves us. */
  answeredSinceConnect: boolean
  /** Set once a connection failed or closed; distinguishes 'down' from 'unknown'. */
  everLost: boolean
  /** When the current connection last delivered bytes (or connected): how long it has been silent. */
  lastHeardMs: number
  failedConnects: number
  retryAtMs: number
  /**
   * Whether the log last said the peer is unreachable: each change of state is logged once
   * (unreachable, answering again), never each refused reconnect.
   */
  reportedDown: boolean
  /**
   * The current (or last) connection was opened for a caller that paces its own tries and has
   * carried no other request (RequestOptions.callerPaced): its failure is the caller's to report,
   * so it is not logged as the peer being unreachable.
   */
  pacedByCaller: boolean
  /** The socket error of the current connection, for the one line that reports it. */
  lastError: string | null
  /** Its code (ECONNREFUSED, EHOSTUNREACH, ...): a refusal and silence back off differently. */
  lastErrorCode: string | null
  /**
   * Why the last connection was of no use when trying again soon will not help: the peer is not
   * a dyn node at all (it answered HTTP, say), or it refused this node's cluster secret (or
   * lack of one). Requests refused during the back-off carry it, so a caller need not wait.
   */
  refusal: {readonly code: string; readonly reason: string} | null
  /** Why the last connection failed or broke, with its cause: requests refused during the back-off say it. */
  lastFailure: string | null
  nextRequestId: number
  readonly pending: Map<number, PendingRequest>
  /** The next PendingRequest.sequence. */
  nextSequence: number
  /**
   * Set once the peer said on the current connection that it is stopping (drainInbound), else
   * null: the sequence of the last request sent before its stopping notice came, or of the first
   * it refused as stopping, whichever came first. The peer reads a connection's requests in order
   * and refuses each it reads once it drains, so every request sent after that one was refused or
   * never read: none is sent to it any more, and those still waiting when the connection closes
   * failed before the peer did anything with them, which a caller may safely ask another node.
   */
  stoppingAfter: number | null
}

/** What arrives on one outbound connection: its frames, and its first bytes (to tell another protocol apart). */
interface AnswerStream {
  readonly decoder: FrameDecoder
  /** The first bytes received (answerQuoteBytesMax and one), quoted when they are no frame. */
  head: Buffer
  /** Whether a whole frame has arrived: from then on, bytes that fail to decode are a broken peer, not another protocol. */
  framed: boolean
}

/** One accepted connection. */
interface InboundConnection {
  readonly socket: net.Socket
  readonly writer: FrameWriter
  readonly decoder: FrameDecoder
  readonly description: string
  /** Where the handshake is: waiting for Hello, for the opener's proof (with a secret), done, or refused. */
  stage: 'hello' | 'proof' | 'open' | 'refused'
  /** The opener's Hello, kept while its proof is awaited. */
  hello: Hello | null
  /** This side's nonce in its challenge, which the opener's proof must answer. */
  acceptorNonce: Buffer | null
  /** Destroys a refused connection whose opener does not close it first. */
  lingerTimer: Timer | null
  fromNode: string | null
  /** The opener's Hello said it reads a stopping notice (see drainInbound). */
  readsStoppingNotice: boolean
  helloTimer: Timer | null
  handlersRunning: number
  /** Set once the connection was counted as a rejected input (it is closed then), so that its close does not count it again. */
  rejected: boolean
  /**
   * Its first bytes (at most openingBytesMax) while its Hello is awaited, to tell an HTTP request
   * or a TLS handshake from bad frames (foreign-protocol.ts); emptied once the Hello has come.
   */
  opening: Buffer
}

/**
 * Writes frames to one socket, batching the frames written in one turn of the event loop into
 * a single writev: corked on the first write, uncorked once the turn's I/O callbacks have all run
 * (setImmediate). Measured on loopback (50k request/response round trips, 64 in flight, 100-byte
 * values), batching did about 130k round trips/s against about 50k/s for one write (one syscall)
 * per frame. Uncorking on the next tick instead batched only the frames of one callback: a node
 * coordinating client requests sends each request's replica messages from that request's own
 * socket callback, so every request cost a writev per replica. Uncorking at the end of the turn
 * batches the replica messages of every request read in that turn; in one session (three nodes,
 * 50 connections of gets on one of them) it did 10,981 and 10,932 gets/s against 9,104 and
 * 7,073, and the replicas spent 30% less CPU; with one request in flight the two measured alike
 * (0.19 to 0.22 ms p50). The end of the turn is the Scheduler's `soon` (setImmediate in a real
 * node).
 */
class FrameWriter {
  readonly #socket: net.Socket
  #corked = false
  readonly #uncork = (): void => {
    this.#corked = false
    this.#socket.uncork()
  }

  readonly #scheduler: Pick<Scheduler, 'soon'>

  constructor(socket: net.Socket, scheduler: Pick<Scheduler, 'soon'>) {
    this.#socket = socket
    this.#scheduler = scheduler
  }

  write(bytes: Buffer): void {
    if (this.#socket.destroyed) return
    if (!this.#corked) {
      this.#corked = true
      this.#socket.cork()
      this.#scheduler.soon(this.#uncork)
    }
    // The return value (buffer above its high-water mark) is ignored on purpose: what can be
    // queued is already bounded by `pendingPerPeerMax` frames of at most `frameBytesMax`.
    this.#socket.write(bytes)
  }
}

export class TcpTransport implements Transport {
  readonly address: string
  readonly #server: net.Server
  readonly #settings: Settings
  /** With TLS, the server that takes the connections #sniff hands it, and what this node dials with (replaceTls changes both). */
  readonly #tlsServer: tls.Server | null
  #tls: Pick<NodeTls, 'cert' | 'key' | 'ca'> | null
  readonly #peers = new Map<string, Peer>()
  readonly #inbound = new Set<InboundConnection>()
  #closed = false
  #closing: Promise<void> | null = null
  /** Set by drainInbound: requests are refused `overloaded` from then on. */
  #draining = false
  #drainedPromise: Promise<void> | null = null

  /** With TLS, the connections #sniff took (until they close): close() ends those still in their handshake. */
  readonly #tlsOpeners = new Set<net.Socket>()
  /**
   * With TLS, the connections whose TLS handshake is under way, by the peer's `address:port` (see
   * #sniff): at most one live connection has a given one, and both the plain socket and the TLS
   * socket over it tell it, which ties a TLS socket to its plain socket without Node's internals.
   */
  readonly #tlsHandshakes = new Map<string, TlsHandshake>()
  /** Failed TLS handshakes so far: a flood of them is logged at every power of two only. */
  #tlsFailures = 0
  /** The lines about refused connections, by kind (a rejection's code): logged at the first and every power of two of each. */
  readonly #repeats: RepeatLog
  /** Inbound connections closed before they proved the secret: logged at the first and every power of two. */
  #closedBeforeProof = 0

  constructor(server: net.Server, tlsServer: tls.Server | null, address: string, settings: Settings) {
    this.address = address
    this.#server = server
    this.#settings = settings
    this.#tlsServer = tlsServer
    this.#tls = settings.tls
    this.#repeats = new RepeatLog(settings.log)
    if (tlsServer === null) {
      server.on('connection', (socket: net.Socket) => this.#accept(socket))
    } else {
      server.on('connection', (socket: net.Socket) => this.#sniff(socket, tlsServer))
      tlsServer.on('secureConnection', (socket: tls.TLSSocket) => {
        this.#handshakeDone(socket)
        if (hasVerifiedCertificate(socket)) this.#accept(socket)
        else this.#refuseCertificate(socket)
      })
      tlsServer.on('tlsClientError', (error: Error & {code?: string}, socket: tls.TLSSocket) => this.#refuseTls(error, socket))
    }
    // With TLS the server itself caps its connections (maxConnections): one over the cap is
    // closed by Node before any listener sees it, so without this its refusal would go unseen.
    server.on('drop', (dropped?: {remoteAddress?: string; remotePort?: number}) => {
      this.#settings.onRejected('connections', 'over_limit')
      this.#repeats.say('over_limit', `transport ${address}: refused a connection from ${dropped?.remoteAddress ?? 'an opener'}:${dropped?.remotePort ?? '?'}: ${inboundConnectionsMax} connections are open, the most a node takes`)
    })
    server.on('error', (error) => settings.log(`transport ${address}: server error: ${error.message}`))
  }

  request(address: string, type: number, body: unknown, timeoutMs: number, options: RequestOptions = {}): Promise<RpcResult> {
    assert(timeoutMs > 0 && Number.isFinite(timeoutMs), 'timeoutMs is positive and finite')
    const callerPaced = options.callerPaced === true
    if (this.#closed) return settle(unsent('transport is closed'))
    const peer = this.#peerFor(address)
    if (peer === null) return settle(unsent(`cannot reach "${address}": not a host:port address`))
    if (typeof peer === 'string') return settle({ok: false, error: 'overloaded', message: peer})
    if (peer.pending.size >= this.#settings.pendingPerPeerMax) {
      return settle({
        ok: false,
        error: 'overloaded',
        message: `${peer.pending.size} requests already waiting on ${address}`,
      })
    }
    // A caller that paces its own tries (a join through its seeds) connects whatever the back-off.
    if (peer.socket === null && !callerPaced) {
      const waitMs = peer.retryAtMs - this.#settings.clock.monotonicMs()
      if (waitMs > 0) {
        if (peer.refusal !== null) {
          return settle({ok: false, error: 'unreachable', code: peer.refusal.code, message: `${peer.refusal.reason}; next connect attempt in ${Math.ceil(waitMs)} ms`, sent: false})
        }
        const why = peer.lastFailure === null ? '' : ` (${peer.lastFailure})`
        return settle(unsent(`${address} is down${why}; next connect attempt in ${Math.ceil(waitMs)} ms`))
      }
    }
    if (peer.stoppingAfter !== null) return settle(unsent(`${address} is stopping: it refuses every request from now on`))
    const requestId = allocateRequestId(peer, this.#settings.pendingPerPeerMax)
    const encoded = tryEncodeFrame({type, requestId, body})
    if (!encoded.ok) {
      // Refused here, but shaped like the peer's own refusal of a bad request: it must not count
      // against the peer's health the way 'unreachable' or 'timeout' would.
      return settle({ok: false, error: 'remote', code: 'bad_request', message: `request not sent: ${encoded.message}`, sent: false})
    }
    const opening = peer.writer === null
    const writer = peer.writer ?? this.#connect(peer)
    if (typeof writer === 'string') return settle(unsent(writer))
    // A connection that only a caller pacing its own tries has used is that caller's to report.
    if (opening) peer.pacedByCaller = callerPaced
    else if (!callerPaced) peer.pacedByCaller = false
    const socket = peer.socket
    return new Promise<RpcResult>((resolve) => {
      const timer = this.#settings.scheduler.after(timeoutMs, () => {
        peer.pending.delete(requestId)
        // A request still held for the handshake is never sent late.
        if (peer.held.get(requestId) === encoded.bytes) peer.held.delete(requestId)
        resolve({ok: false, error: 'timeout', message: `no answer from ${address} within ${timeoutMs} ms`})
        if (socket !== null) this.#closeIfSilent(peer, socket)
      })
      peer.pending.set(requestId, {resolve, timer, sequence: peer.nextSequence++})
      if (peer.authenticated) writer.write(encoded.bytes)
      else peer.held.set(requestId, encoded.bytes)
    })
  }

  peerState(address: string): PeerState {
    const peer = this.#peers.get(address)
    if (peer === undefined) return 'unknown'
    if (peer.socket !== null) return peer.connected ? 'connected' : 'connecting'
    return peer.everLost ? 'down' : 'unknown'
  }

  /**
   * A stop's first step, before the node's parts stop. The port stops accepting; every peer
   * connected is sent a stopping notice (an error answer to no request, which a peer of this
   * version takes as: send nothing more on this connection), and every request read from now on
   * is refused `overloaded`, marked as a stop (stoppingRefusal), which the sender takes as
   * certainly not done and asks another node. The requests already handed to the node are
   * answered; a connection with none running on which nothing has arrived for a while is ended,
   * its answers flushed. Resolves once every inbound connection has closed. A forwarded put cut off
   * by a stop used to reach its client as `unreachable`, although the put had often been applied.
   */
  drainInbound(): Promise<void> {
    if (this.#drainedPromise !== null) return this.#drainedPromise
    this.#draining = true
    this.#server.close()
    for (const connection of this.#inbound) this.#sendStoppingNotice(connection)
    this.#drainedPromise = new Promise<void>((resolve) => {
      const quiet = new QuietChecks<InboundConnection>()
      const check = (): void => {
        for (const connection of this.#inbound) {
          const socket = connection.socket
          if (quiet.check(connection, socket, connection.handlersRunning > 0) >= drainQuietChecks && !socket.writableEnded) this.#endAfterAnswers(socket)
        }
        if (this.#inbound.size === 0) {
          this.#settings.scheduler.cancel(timer)
          resolve()
        }
      }
      const timer = this.#settings.scheduler.every(drainCheckMs, check)
    })
    return this.#drainedPromise
  }

  /**
   * Tells the peer on a connection that this node is stopping (see drainInbound): only once its
   * handshake is done, and only to a peer that said it reads the notice. A peer of an earlier
   * version is refused request by request (`overloaded`, which it too takes as not done).
   */
  #sendStoppingNotice(connection: InboundConnection): void {
    if (connection.stage !== 'open' || !connection.readsStoppingNotice || connection.socket.destroyed) return
    const notice = tryEncodeFrame({type: MessageType.ErrorResponse, requestId: helloRequestId, body: stoppingRefusal(this.#settings.nodeName)})
    assert(notice.ok, 'the stopping notice always encodes')
    connection.writer.write(notice.bytes)
  }

  /** Ends a socket once what is written on it has gone out (end() flushes what the writer corked), and destroys it a while later if its peer keeps it open. */
  #endAfterAnswers(socket: net.Socket): void {
    socket.end()
    const linger = this.#settings.scheduler.after(drainedLingerMs, () => socket.destroy())
    socket.once('close', () => this.#settings.scheduler.cancel(linger))
  }

  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing
    this.#closed = true
    this.#closing = new Promise<void>((resolve) => {
      this.#server.close(() => resolve())
      for (const connection of this.#inbound) {
        // After a drain, what is left gets the answers already written before its end (over TLS its
        // raw socket, destroyed below, cuts it at once); a handler still running after the
        // drain's bound cannot answer, and its sender sees the request as maybe done.
        if (!this.#draining) connection.socket.destroy()
        else if (!connection.socket.writableEnded) this.#endAfterAnswers(connection.socket)
      }
      for (const raw of this.#tlsOpeners) raw.destroy()
      for (const handshake of this.#tlsHandshakes.values()) this.#settings.scheduler.cancel(handshake.timer)
      this.#tlsHandshakes.clear()
      for (const peer of this.#peers.values()) this.#dropConnection(peer, 'transport is closed')
    })
    return this.#closing
  }

  // ---- outbound ----

  /** The peer record of an address: null if malformed, a message if the table is full. */
  #peerFor(address: string): Peer | null | string {
    const known = this.#peers.get(address)
    if (known !== undefined) return known
    const parsed = parseAddress(address)
    if (parsed === null) return null
    if (this.#peers.size >= peersMax) {
      this.#forgetIdlePeers()
      if (this.#peers.size >= peersMax) return `${peersMax} peer addresses already in use`
    }
    const peer: Peer = {
      address,
      host: parsed.host,
      port: parsed.port,
      socket: null,
      writer: null,
      connected: false,
      authenticated: false,
      openerNonce: null,
      held: new Map(),
      handshakeTimer: null,
      answeredSinceConnect: false,
      everLost: false,
      lastHeardMs: 0,
      failedConnects: 0,
      retryAtMs: 0,
      reportedDown: false,
      pacedByCaller: false,
      lastError: null,
      lastErrorCode: null,
      refusal: null,
      lastFailure: null,
      nextRequestId: 1,
      nextSequence: 0,
      stoppingAfter: null,
      pending: new Map(),
    }
    this.#peers.set(address, peer)
    return peer
  }

  /** Forgets peers with no connection and nothing waiting: all they hold is backoff state. */
  #forgetIdlePeers(): void {
    for (const [address, peer] of this.#peers) {
      if (peer.socket === null && peer.pending.size === 0) this.#peers.delete(address)
    }
  }

  /**
   * Serve and dial with new certificates (a rotation, src/node/tls-reloader.ts): connections
   * accepted or opened from now on use them, and those open keep theirs. `next` has passed the
   * checks of tls-options.ts; Node builds its context before anything changes, so a context it
   * refuses leaves this transport as it was.
   */
  replaceTls(next: Pick<NodeTls, 'cert' | 'key' | 'ca'>): void {
    assert(this.#tlsServer !== null && this.#tls !== null, 'only a transport started with TLS takes new certificates')
    this.#tlsServer.setSecureContext({cert: next.cert, key: next.key, ca: next.ca})
    this.#tls = next
  }

  /** Opens the peer's connection and sends Hello; a message when it cannot even start. */
  #connect(peer: Peer): FrameWriter | string {
    let socket: net.Socket
    const secure = this.#tls
    try {
      // Node checks the acceptor's certificate against the CA and the host dialled (its default
      // checkServerIdentity); a name is also sent as SNI, an IP address is not.
      socket = secure === null ? net.connect({host: peer.host, port: peer.port}) : tls.connect({host: peer.host, port: peer.port, cert: secure.cert, key: secure.key, ca: secure.ca, ...(net.isIP(peer.host) === 0 ? {servername: peer.host} : {})})
    } catch (error) {
      return `cannot connect to ${peer.address}: ${describe(error)}`
    }
    socket.setNoDelay(true)
    const writer = new FrameWriter(socket, this.#settings.scheduler)
    peer.socket = socket
    peer.writer = writer
    peer.connected = false
    // With a secret, nothing but Hello goes out until the peer has proved it holds it.
    peer.openerNonce = this.#settings.secret === null ? null : randomBytes(handshakeNonceBytes)
    peer.authenticated = peer.openerNonce === null
    peer.held = new Map()
    peer.answeredSinceConnect = false
    peer.lastError = null
    peer.lastErrorCode = null
    const stream: AnswerStream = {decoder: new FrameDecoder(frameBytesMax), head: Buffer.alloc(0), framed: false}
    const scheduler = this.#settings.scheduler
    const connectTimer = scheduler.after(this.#settings.connectTimeoutMs, () => {
      this.#dropConnection(peer, `connect to ${peer.address} timed out after ${this.#settings.connectTimeoutMs} ms`, socket, {silent: true})
    })
    // Over TLS the connection is up once the handshake is done: the connect timeout covers both.
    socket.once(secure === null ? 'connect' : 'secureConnect', () => {
      scheduler.cancel(connectTimer)
      if (peer.socket !== socket) return
      peer.connected = true
      peer.lastHeardMs = this.#settings.clock.monotonicMs()
      // An acceptor that never finishes the handshake (or trickles it) must not hold requests.
      if (!peer.authenticated) {
        peer.handshakeTimer = scheduler.after(this.#settings.connectTimeoutMs, () => {
          peer.handshakeTimer = null
          if (peer.socket === socket && !peer.authenticated) this.#dropConnection(peer, `${peer.address} did not finish the handshake within ${this.#settings.connectTimeoutMs} ms of the connect`, socket, {silent: true})
        })
      }
    })
    socket.on('data', (chunk: Buffer) => this.#onAnswerBytes(peer, socket, stream, chunk))
    /** Why this connection's TLS handshake was refused, once an error said so. */
    let tlsRefused: string | undefined
    socket.on('error', (error: Error & {code?: unknown}) => {
      // Reported with the state change it causes (#dropConnection), once.
      if (peer.socket !== socket) return
      peer.lastError = error.message
      peer.lastErrorCode = typeof error.code === 'string' ? error.code : null
      // A TLS refusal, by either side, will not pass by trying again soon: requests fail with it
      // at once (as for a wrong secret), so that a join through such a peer fails saying why.
      tlsRefused = secure === null ? undefined : tlsRefusal(error, peer.address, peer.connected)
      if (tlsRefused !== undefined) peer.refusal = {code: unauthenticatedCode, reason: tlsRefused}
    })
    socket.on('close', () => {
      scheduler.cancel(connectTimer)
      // A refusal or a reset came from the peer's host; the other errors say the network lost it.
      const silent = peer.lastErrorCode !== null && silentErrorCodes.has(peer.lastErrorCode)
      if (tlsRefused !== undefined) this.#dropConnection(peer, tlsRefused, socket, {code: unauthenticatedCode})
      else this.#dropConnection(peer, peer.connected ? `connection to ${peer.address} closed` : `cannot connect to ${peer.address}`, socket, {silent})
    })
    // Node queues writes until the connection is up, so Hello and the first requests go out
    // together without waiting here.
    writer.write(this.#hello(peer.openerNonce))
    return writer
  }

  /**
   * The first frame of a connection. The address tells the peer which of its peer records is this
   * node, whatever address the connection comes from (a NAT, a proxy): see #peersBack. With a
   * secret it carries the connection's nonce (handshake.ts).
   */
  #hello(nonce: Buffer | null): Buffer {
    // `stoppingNotice`: this node reads a stopping notice (see drainInbound); a node of an earlier
    // version took one for a refused handshake, so it is sent only to openers that say so.
    const body = {protocolVersion, nodeName: this.#settings.nodeName, address: this.address, stoppingNotice: true, ...(nonce === null ? {} : {nonce})}
    const hello = tryEncodeFrame({type: MessageType.Hello, requestId: helloRequestId, body})
    assert(hello.ok, 'a Hello always encodes')
    return hello.bytes
  }

  /**
   * A handshake frame on an outbound connection: the acceptor's challenge, checked before any
   * request goes out and answered with this node's proof, or the acceptor's refusal.
   */
  #onHandshakeAnswer(peer: Peer, socket: net.Socket, frame: Frame): void {
    const secret = this.#settings.secret
    if (frame.type === MessageType.ErrorResponse) {
      // Said before any proof, by whatever answers on the address: taken only as a refusal of the
      // handshake (never as another code a caller would act on), and its text bounded and printable.
      const body = frame.body as {message?: unknown} | null
      const message = typeof body?.message === 'string' ? printable(body.message, refusalMessageCharsMax) : 'no reason given'
      const reason = `${peer.address} refused the connection: ${message}`
      peer.refusal = {code: unauthenticatedCode, reason}
      this.#dropConnection(peer, reason, socket, {code: unauthenticatedCode})
      return
    }
    const challenge = frame.body as {nonce?: unknown; proof?: unknown} | null
    if (frame.type !== MessageType.HelloChallenge || secret === null || peer.authenticated || peer.openerNonce === null) {
      this.#dropConnection(peer, `${peer.address} sent an unexpected handshake frame (type ${frame.type})`, socket)
      return
    }
    const nonce = challenge?.nonce
    if (!isNonce(nonce) || !proofMatches(acceptorProof(secret, this.#settings.nodeName, peer.openerNonce, Buffer.from(nonce)), challenge?.proof)) {
      const reason = `${peer.address} does not prove that it holds this cluster's secret: is it a node of another cluster? Give every node the same --secret-file`
      peer.refusal = {code: unauthenticatedCode, reason}
      this.#dropConnection(peer, reason, socket, {code: unauthenticatedCode})
      return
    }
    const answer = tryEncodeFrame({type: MessageType.HelloProof, requestId: helloRequestId, body: {proof: openerProof(secret, this.#settings.nodeName, peer.openerNonce, Buffer.from(nonce))}})
    assert(answer.ok, 'a HelloProof always encodes')
    const writer = peer.writer
    assert(writer !== null, 'a connection being set up has a writer')
    writer.write(answer.bytes)
    peer.authenticated = true
    if (peer.handshakeTimer !== null) this.#settings.scheduler.cancel(peer.handshakeTimer)
    peer.handshakeTimer = null
    for (const bytes of peer.held.values()) writer.write(bytes)
    peer.held = new Map()
  }

  #onAnswerBytes(peer: Peer, socket: net.Socket, stream: AnswerStream, chunk: Buffer): void {
    if (peer.socket !== socket) return
    peer.lastHeardMs = this.#settings.clock.monotonicMs()
    // One byte more than is quoted, so that the quote says when it was cut.
    if (stream.head.length <= answerQuoteBytesMax) stream.head = Buffer.concat([stream.head, chunk.subarray(0, answerQuoteBytesMax + 1 - stream.head.length)])
    const decoded = stream.decoder.push(chunk)
    if (!decoded.ok) {
      // Bytes that are no frame before any whole frame came: the address is no dyn node's
      // internode port (a client API port, another web server), a user's slip, not a network
      // fault. Said as such, and carried by the failures, so a join fails at once rather than
      // trying 20 times. Another protocol version is a dyn node all the same, and said as a bad frame.
      if (!stream.framed && decoded.error !== 'bad_version') {
        const reason = isHttpAnswer(stream.head)
          ? `${peer.address} answered in HTTP: it is a client API port (dyn start --port), not an internode port (--rpc-port)`
          : `${peer.address} answered with bytes that are not dyn's internode protocol, beginning ${quoteAnswer(stream.head)}: it is no dyn node's internode port (--rpc-port)`
        peer.refusal = {code: notInternodeCode, reason}
        this.#dropConnection(peer, reason, socket, {code: notInternodeCode})
        return
      }
      this.#dropConnection(peer, `bad frame from ${peer.address}: ${decoded.error}: ${decoded.message}`, socket)
      return
    }
    if (decoded.frames.length > 0) stream.framed = true
    for (const frame of decoded.frames) {
      if (frame.requestId === helloRequestId) {
        // The stopping notice of a peer that drains (drainInbound): every request sent so far is
        // answered or refused by it; none is sent to it any more.
        if (peer.authenticated && frame.type === MessageType.ErrorResponse && isStoppingRefusal(frame.body)) {
          peer.stoppingAfter ??= peer.nextSequence - 1
          continue
        }
        this.#onHandshakeAnswer(peer, socket, frame)
        if (peer.socket !== socket) return
        continue
      }
      if (!peer.authenticated) {
        this.#dropConnection(peer, `${peer.address} answered a request before proving it holds the cluster secret`, socket, {code: unauthenticatedCode})
        return
      }
      if (frame.type !== MessageType.Response && frame.type !== MessageType.ErrorResponse) {
        this.#dropConnection(peer, `${peer.address} sent message type ${frame.type} on a request connection`, socket)
        return
      }
      const pending = peer.pending.get(frame.requestId)
      // An answer that arrives after its request timed out is dropped: the caller has moved on.
      if (pending === undefined) continue
      peer.pending.delete(frame.requestId)
      this.#settings.scheduler.cancel(pending.timer)
      peer.answeredSinceConnect = true
      peer.failedConnects = 0
      peer.refusal = null
      if (peer.reportedDown) {
        peer.reportedDown = false
        this.#settings.log(`transport ${this.address}: ${peer.address} answers again`)
      }
      if (frame.type === MessageType.ErrorResponse && peer.stoppingAfter === null && isStoppingRefusal(frame.body)) peer.stoppingAfter = pending.sequence
      pending.resolve(frame.type === MessageType.Response ? {ok: true, body: frame.body} : remoteFailure(frame.body))
    }
  }

  /**
   * A request on `socket` has just timed out. If nothing has arrived on the connection for
   * `silentConnectionMsMax`, it is stuck (see the header): closed, so the next request opens a
   * fresh one. What still waits on it fails as a timeout, which it is: the peer may have handled
   * it, and it is no proof that the peer is down (a pause the failure detector forgives ends the
   * same way), so only the detector's arithmetic decides that.
   */
  #closeIfSilent(peer: Peer, socket: net.Socket): void {
    if (peer.socket !== socket || !peer.connected) return
    const silentMs = this.#settings.clock.monotonicMs() - peer.lastHeardMs
    if (silentMs < silentConnectionMsMax) return
    const reason = `nothing from ${peer.address} for ${Math.round(silentMs)} ms while a request timed out; reopening the connection`
    this.#dropConnection(peer, reason, socket, {silent: true, failWith: {ok: false, error: 'timeout', message: `no answer from ${peer.address}: ${reason}`}})
  }

  /**
   * Ends the peer's connection (if it is still `socket`, when given) and fails everything
   * waiting on it. Idempotent, since a broken socket reports through several events. `silent`:
   * the peer's host said nothing (a timeout, an unreachable host), which backs off less than a
   * refusal; `failWith` replaces the usual failure of what waits; `code` marks the usual one.
   */
  #dropConnection(peer: Peer, reason: string, socket?: net.Socket, how: {silent?: boolean; failWith?: RpcResult; code?: string} = {}): void {
    if (peer.socket === null || (socket !== undefined && peer.socket !== socket)) return
    const dropped = peer.socket
    // Requests written on an established connection went out: the peer may have handled them.
    // Those held for the handshake never did.
    const wasSent = peer.connected && peer.authenticated
    peer.socket = null
    peer.writer = null
    peer.connected = false
    peer.authenticated = false
    peer.held = new Map()
    if (peer.handshakeTimer !== null) this.#settings.scheduler.cancel(peer.handshakeTimer)
    peer.handshakeTimer = null
    peer.everLost = true
    const answered = peer.answeredSinceConnect
    const backOffMaxMs = how.silent === true ? this.#settings.silentBackoffMaxMs : this.#settings.reconnectBackoffMaxMs
    backOffAfterLoss(peer, answered, this.#settings.clock.monotonicMs(), backOffMaxMs)
    dropped.destroy()
    // The socket's error says why (a refused connect: nothing listens there), for the log line and
    // for what waits alike: a join through a seed nobody listens on once failed with no more than
    // "connection to ... closed".
    const why = peer.lastError === null ? reason : `${reason}: ${socketErrorInWords(peer.lastErrorCode, peer.lastError)}`
    peer.lastFailure = why
    this.#logLoss(peer, answered, why, backOffMaxMs)
    // On a connection that never connected (refused, timed out) nothing reached the peer.
    const failure: RpcResult = how.failWith ?? {ok: false, error: 'unreachable', message: why, ...(how.code === undefined ? {} : {code: how.code}), ...(wasSent ? {} : {sent: false as const})}
    const stoppingAfter = peer.stoppingAfter
    peer.stoppingAfter = null
    for (const pending of peer.pending.values()) {
      this.#settings.scheduler.cancel(pending.timer)
      // Sent after the peer began refusing as it stopped: it did nothing with it (see Peer.stoppingAfter).
      if (stoppingAfter !== null && pending.sequence > stoppingAfter) pending.resolve(unsent(`${peer.address} stopped before it read the request (${why})`))
      else pending.resolve(failure)
    }
    peer.pending.clear()
  }

  /**
   * One line per change of a peer's state: a connection that served us broke, or a peer became
   * unreachable; the refused reconnects after that are not logged (they are the back-off's).
   */
  #logLoss(peer: Peer, answered: boolean, reason: string, backOffMaxMs: number): void {
    if (this.#closed) return
    if (answered) {
      this.#settings.log(`transport ${this.address}: lost the connection to ${peer.address} (${reason})`)
      return
    }
    // A join through a seed says itself what it does about a seed it cannot reach (membership.ts).
    if (peer.reportedDown || peer.pacedByCaller) return
    peer.reportedDown = true
    this.#settings.log(`transport ${this.address}: ${peer.address} is unreachable (${reason}); trying again with a back-off up to ${backOffMaxMs} ms, logged again once it answers`)
  }

  /**
   * A node that connects to this one may be a peer that was down and came back: its Hello ends
   * the back-off of the down peer at the address it announces, and of every down peer on the
   * host it connects from, so that the next request tries it at once.
   */
  #peersBack(remoteAddress: string | undefined, announced: string | null): void {
    const host = remoteAddress === undefined ? null : remoteAddress.startsWith('::ffff:') ? remoteAddress.slice('::ffff:'.length) : remoteAddress
    for (const peer of this.#peers.values()) {
      if (peer.socket === null && (peer.host === host || peer.address === announced)) peer.retryAtMs = 0
    }
  }

  // ---- inbound ----

  #accept(socket: net.Socket): void {
    const description = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`
    if (this.#closed) {
      socket.destroy()
      return
    }
    if (this.#inbound.size >= inboundConnectionsMax) {
      this.#settings.onRejected('connections', 'over_limit')
      this.#repeats.say('over_limit', `transport ${this.address}: refused a connection from ${description}: ${inboundConnectionsMax} connections are open, the most a node takes`)
      socket.destroy()
      return
    }
    socket.setNoDelay(true)
    socket.setKeepAlive(true, inboundKeepAliveMs)
    const connection: InboundConnection = {
      socket,
      writer: new FrameWriter(socket, this.#settings.scheduler),
      decoder: new FrameDecoder(frameBytesMax),
      description,
      stage: 'hello',
      hello: null,
      acceptorNonce: null,
      lingerTimer: null,
      fromNode: null,
      readsStoppingNotice: false,
      helloTimer: null,
      handlersRunning: 0,
      rejected: false,
      opening: Buffer.alloc(0),
    }
    connection.helloTimer = this.#settings.scheduler.after(this.#settings.handshakeTimeoutMs, () => {
      this.#refuse(connection, `no Hello within ${this.#settings.handshakeTimeoutMs} ms`, 'hellos', 'hello_timeout')
    })
    this.#inbound.add(connection)
    socket.on('data', (chunk: Buffer) => this.#onRequestBytes(connection, chunk))
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A peer resets the connections it gives up on (after a partition heals, or a request that
      // timed out): it has opened a new one, so this is said as such, not as a failure of this node.
      const from = connection.fromNode === null ? description : `${printable(connection.fromNode, nodeNameCharsMax)} (${description})`
      const said = error.code === 'ECONNRESET' || error.code === 'EPIPE' ? `closed by the other side (${error.code}): it gave up on this connection, and opens a new one if it still needs one` : error.message
      const line = `transport ${this.address}: connection from ${from}: ${said}`
      // Before its Hello the other side is any stranger, who can reset connections by the thousand.
      if (connection.fromNode === null) this.#repeats.say('reset_before_hello', line)
      else this.#settings.log(line)
    })
    socket.on('close', () => {
      if (connection.helloTimer !== null) this.#settings.scheduler.cancel(connection.helloTimer)
      if (connection.lingerTimer !== null) this.#settings.scheduler.cancel(connection.lingerTimer)
      // An opener with another secret finds this node's proof wrong and hangs up before its own:
      // said here too, so that both sides of a refused connection log it. An opener that gave up
      // waiting (this node was paused or too busy to answer, and the connection sat in the
      // kernel's queue) hangs up at the same point, so the log names both.
      if (connection.stage === 'proof' && !this.#closed) {
        if (!connection.rejected) {
          connection.rejected = true
          this.#settings.onRejected('hellos', unauthenticatedCode)
        }
        // One line per connection flooded the log of a node resumed after a pause (each peer had
        // given up on several): logged at the first and every power of two, with the count.
        this.#closedBeforeProof += 1
        if (isLoggedCount(this.#closedBeforeProof)) this.#settings.log(`transport ${this.address}: the connection from ${description} (says it is ${printable(connection.hello?.nodeName ?? '?', nodeNameCharsMax)}) closed before it proved the cluster secret (${this.#closedBeforeProof} so far): it gave up waiting for this node (paused, or too busy to answer in time), or it holds another secret or is no node of this cluster`)
      }
      this.#inbound.delete(connection)
      // A peer that closed in the middle of a frame (a truncated frame, a half-closed socket) sent
      // an input that was never whole: counted, as every refused input is. So is one that closed
      // before its first bytes said what they were (the start of an HTTP method, say).
      if (!connection.rejected && (connection.decoder.bufferedBytes > 0 || (connection.stage === 'hello' && connection.opening.length > 0))) {
        connection.rejected = true
        this.#settings.onRejected('frames', 'truncated')
      }
    })
  }

  /**
   * With TLS, the first bytes of an accepted connection: a TLS handshake record goes on to the TLS
   * server (which reads the bytes already taken, as Node's TLS socket does with what its socket
   * has buffered); anything else is an opener without TLS, refused with a reason it can read.
   */
  #sniff(raw: net.Socket, tlsServer: tls.Server): void {
    // A socket already closed has no address, and no handshake to wait for.
    if (this.#closed || raw.remoteAddress === undefined) {
      raw.destroy()
      return
    }
    const description = `${raw.remoteAddress}:${raw.remotePort ?? '?'}`
    const timeoutMs = this.#settings.handshakeTimeoutMs
    this.#tlsOpeners.add(raw)
    // Until the TLS server takes the socket, an error (a reset) only ends it.
    const onError = (): void => {
      raw.destroy()
    }
    raw.on('error', onError)
    let opened = false
    // One deadline for the first bytes and the whole TLS handshake: an opener that sends one byte
    // and stops, or trickles its handshake, holds one of the capped sockets no longer than this.
    const handshake: TlsHandshake = {
      description,
      settled: false,
      timer: this.#settings.scheduler.after(timeoutMs, () => {
        handshake.settled = true
        this.#settings.onRejected('hellos', opened ? 'tls_handshake_timeout' : 'hello_timeout')
        this.#logTlsFailure(`closing connection from ${description}: ${opened ? `it did not finish its TLS handshake within ${timeoutMs} ms` : `nothing within ${timeoutMs} ms`}`)
        raw.destroy()
      }),
    }
    this.#tlsHandshakes.set(description, handshake)
    raw.once('close', () => {
      this.#settings.scheduler.cancel(handshake.timer)
      this.#tlsOpeners.delete(raw)
      if (this.#tlsHandshakes.get(description) === handshake) this.#tlsHandshakes.delete(description)
      if (handshake.settled || this.#closed) return
      // Closed in the handshake without an error that still knew its address (#refuseTls): the
      // opener hung up, most often because it does not trust this node's certificate.
      handshake.settled = true
      this.#settings.onRejected('hellos', 'tls_handshake')
      this.#logTlsFailure(`refused the TLS connection from ${description}: ${openerClosedInHandshake}`)
    })
    raw.once('data', (chunk: Buffer) => {
      opened = true
      raw.off('error', onError)
      raw.pause()
      if (chunk[0] === tlsHandshakeRecordType) {
        raw.unshift(chunk)
        tlsServer.emit('connection', raw)
        return
      }
      handshake.settled = true
      this.#settings.scheduler.cancel(handshake.timer)
      this.#refusePlainOpener(raw, description, chunk)
    })
  }

  /** A TLS handshake finished (its certificate is checked next): its deadline no longer applies. */
  #handshakeDone(socket: tls.TLSSocket): void {
    const handshake = this.#tlsHandshakes.get(`${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`)
    if (handshake === undefined) return
    handshake.settled = true
    this.#settings.scheduler.cancel(handshake.timer)
    this.#tlsHandshakes.delete(handshake.description)
  }

  /** A line about a failed TLS opener: at the first and every power of two, so that a flood of them cannot flood the log. */
  #logTlsFailure(line: string): void {
    this.#tlsFailures += 1
    if (isLoggedCount(this.#tlsFailures)) this.#settings.log(`transport ${this.address}: ${line} (${this.#tlsFailures} failed TLS opener(s) so far)`)
  }

  /**
   * An opener that sent something else than a TLS handshake to a node with TLS: a node started
   * without --tls-*, told so in an `unauthenticated` answer to its Hello (which fails its join at
   * once, saying why), or anything else, closed. Nothing it sent reaches the node's handler.
   */
  #refusePlainOpener(raw: net.Socket, description: string, chunk: Buffer): void {
    raw.on('error', () => raw.destroy())
    // A plain HTTP request (curl http:// at this port): answered in plain HTTP, as without TLS.
    // Only the first chunk is looked at: a request whose method is split across chunks is closed
    // as any other plain opener.
    const opening = recogniseOpening(chunk.subarray(0, openingBytesMax))
    if (opening.kind === 'http') {
      this.#settings.onRejected('hellos', httpRequestReason)
      this.#answerHttpAtInternodePort(raw, opening.method, opening.target, description)
      raw.on('data', () => undefined)
      raw.resume()
      const timer = this.#settings.scheduler.after(refusalLingerMs, () => raw.destroy())
      raw.once('close', () => this.#settings.scheduler.cancel(timer))
      return
    }
    this.#settings.onRejected('hellos', 'tls_required')
    const decoded = new FrameDecoder(frameBytesMax).push(chunk)
    const hello = decoded.ok && decoded.frames[0] !== undefined ? readHello(decoded.frames[0]) : null
    if (hello === null) {
      this.#repeats.say('tls_required', `transport ${this.address}: closing connection from ${description}: it did not open a TLS handshake, which this node requires`)
      raw.destroy()
      return
    }
    this.#repeats.say('tls_required', `transport ${this.address}: refused the connection from ${description} (says it is ${printable(hello.nodeName, nodeNameCharsMax)}): it does not use TLS, which this node requires`)
    const refusal = tryEncodeFrame({type: MessageType.ErrorResponse, requestId: helloRequestId, body: {code: unauthenticatedCode, message: `${this.#settings.nodeName} requires TLS: start ${printable(hello.nodeName, nodeNameCharsMax)} with --tls-cert, --tls-key and --tls-ca (a certificate of this cluster's CA)`}})
    assert(refusal.ok, 'a refusal of two bounded strings always encodes')
    raw.end(refusal.bytes)
    const timer = this.#settings.scheduler.after(refusalLingerMs, () => raw.destroy())
    raw.once('close', () => this.#settings.scheduler.cancel(timer))
  }

  /**
   * An opener whose TLS handshake ended without a certificate of the cluster CA: none, or one
   * another CA signed. It is told why (an `unauthenticated` answer to its Hello, which its
   * requests and its join then fail with), the log says why and whose certificate it was, and
   * nothing it sends reaches the node.
   */
  #refuseCertificate(socket: tls.TLSSocket): void {
    const description = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`
    this.#settings.onRejected('hellos', 'tls_certificate')
    const certificate = socket.getPeerCertificate()
    const presented = certificate === null || Object.keys(certificate).length === 0 ? null : certificate
    const code = printable(String(socket.authorizationError ?? 'not verified'), refusalMessageCharsMax)
    // Without a certificate OpenSSL still reports a chain error (UNABLE_TO_GET_ISSUER_CERT), which
    // would send the reader looking at a chain that is not there: the missing certificate is said alone.
    const why = presented === null ? 'it presented no certificate' : `its certificate (subject CN=${printable(String(presented.subject?.CN ?? '?'), nodeNameCharsMax)}, issuer CN=${printable(String(presented.issuer?.CN ?? '?'), nodeNameCharsMax)}) is not signed by the cluster CA (--tls-ca) (${code})`
    this.#repeats.say('tls_certificate', `transport ${this.address}: refused the TLS connection from ${description}: ${why}`)
    socket.on('error', () => socket.destroy())
    const toOpener = presented === null
      ? `${this.#settings.nodeName} requires a certificate of the cluster CA, and this node presented none: start it with --tls-cert, --tls-key and --tls-ca`
      : `${this.#settings.nodeName} refused this node's certificate (${code}): every node needs a certificate signed by the cluster CA, the one each node is given as --tls-ca`
    const refusal = tryEncodeFrame({type: MessageType.ErrorResponse, requestId: helloRequestId, body: {code: unauthenticatedCode, message: toOpener}})
    assert(refusal.ok, 'a refusal of two bounded strings always encodes')
    socket.end(refusal.bytes)
    const timer = this.#settings.scheduler.after(refusalLingerMs, () => socket.destroy())
    socket.once('close', () => this.#settings.scheduler.cancel(timer))
  }

  /**
   * An opener that failed this node's TLS handshake: no certificate, a handshake that stalled or
   * is not TLS, or an opener that refused this node's certificate. Closed (Node leaves a socket
   * whose handshake timed out open), counted, and logged with the reason, never key material.
   */
  #refuseTls(error: Error & {code?: string}, socket: tls.TLSSocket): void {
    socket.destroy()
    if (this.#closed) return
    // A TLS socket that has closed no longer knows its peer's address: then the plain socket's
    // close reports the failure (#sniff), with the address it took at the accept.
    if (socket.remoteAddress === undefined) return
    const handshake = this.#tlsHandshakes.get(`${socket.remoteAddress}:${socket.remotePort ?? '?'}`)
    if (handshake === undefined || handshake.settled) return
    handshake.settled = true
    this.#settings.scheduler.cancel(handshake.timer)
    const failure = tlsHandshakeFailure(error, this.#settings.handshakeTimeoutMs)
    this.#settings.onRejected('hellos', failure.reason)
    this.#logTlsFailure(`refused the TLS connection from ${handshake.description}: ${failure.why} (${error.code ?? 'tls'}: ${printable(error.message, refusalMessageCharsMax)})`)
  }

  #onRequestBytes(connection: InboundConnection, chunk: Buffer): void {
    // A refused connection is only waiting for its answer to leave: what else it sends is dropped.
    if (isRefused(connection)) return
    if (connection.stage === 'hello' && connection.opening.length < openingBytesMax) {
      connection.opening = Buffer.concat([connection.opening, chunk.subarray(0, openingBytesMax - connection.opening.length)])
    }
    const decoded = connection.decoder.push(chunk)
    if (!decoded.ok) {
      if (connection.stage === 'hello') {
        // Where a Hello was due, the first bytes say whether this is a frame gone wrong or
        // another protocol at the wrong port, which is said as such: "frame of 1195725860 bytes"
        // would send the user looking for a bug.
        const opening = recogniseOpening(connection.opening)
        // The start of an HTTP method ("OPTI"): the next bytes decide, within the Hello deadline.
        if (opening.kind === 'undecided') return
        if (opening.kind === 'http') {
          this.#answerHttp(connection, opening.method, opening.target)
          return
        }
        // A TLS record where a Hello frame was due: the opener runs with TLS and this node without.
        if (opening.kind === 'tls') {
          this.#refuse(connection, 'it opened a TLS handshake (a node started with --tls-*, or an HTTPS client), and this node runs without TLS: start every node of the cluster with --tls-cert, --tls-key and --tls-ca, or none; clients use the client API port', 'hellos', 'tls_unexpected')
          return
        }
      }
      this.#refuse(connection, `${decoded.error}: ${decoded.message}`, 'frames', decoded.error)
      return
    }
    for (const frame of decoded.frames) {
      if (connection.socket.destroyed || connection.stage === 'refused') return
      if (connection.stage === 'open' && connection.fromNode !== null) this.#dispatch(connection, connection.fromNode, frame)
      else this.#onHandshakeRequest(connection, frame)
    }
  }

  /**
   * The opener's side of the handshake as this node receives it: its Hello, and with a secret
   * the proof that answers this node's challenge. Nothing reaches the node's handler before.
   */
  #onHandshakeRequest(connection: InboundConnection, frame: Frame): void {
    const secret = this.#settings.secret
    const self = this.#settings.nodeName
    if (connection.stage === 'hello') {
      const hello = readHello(frame)
      if (hello === null) {
        this.#refuse(connection, `first frame is not a valid Hello (type ${frame.type})`, 'hellos', frame.type === MessageType.Hello ? 'bad_hello' : 'no_hello')
        return
      }
      if (secret === null) {
        if (hello.nonce === null) this.#open(connection, hello)
        else this.#refuseOpener(connection, hello, `${self} runs without a cluster secret and ${hello.nodeName} with one: start every node of the cluster with the same --secret-file`, 'it holds a cluster secret and this node none')
        return
      }
      if (hello.nonce === null) {
        this.#refuseOpener(connection, hello, `${self} requires the cluster secret: start ${hello.nodeName} with the cluster's --secret-file`, 'it sent no proof of the cluster secret')
        return
      }
      const acceptorNonce = randomBytes(handshakeNonceBytes)
      const challenge = tryEncodeFrame({type: MessageType.HelloChallenge, requestId: helloRequestId, body: {nonce: acceptorNonce, proof: acceptorProof(secret, hello.nodeName, hello.nonce, acceptorNonce)}})
      assert(challenge.ok, 'a HelloChallenge always encodes')
      connection.stage = 'proof'
      connection.opening = Buffer.alloc(0)
      connection.hello = hello
      connection.acceptorNonce = acceptorNonce
      connection.writer.write(challenge.bytes)
      return
    }
    const hello = connection.hello
    assert(connection.stage === 'proof' && secret !== null && hello !== null && hello.nonce !== null && connection.acceptorNonce !== null, 'a proof is awaited only after a challenge')
    const proof = frame.type === MessageType.HelloProof ? (frame.body as {proof?: unknown} | null)?.proof : undefined
    if (!proofMatches(openerProof(secret, hello.nodeName, hello.nonce, connection.acceptorNonce), proof)) {
      const what = frame.type === MessageType.HelloProof ? 'its proof does not match this cluster\'s secret' : `it sent message type ${frame.type} instead of its proof`
      this.#refuseOpener(connection, hello, `${hello.nodeName} does not hold the cluster secret of ${self}: give every node the same --secret-file`, what)
      return
    }
    this.#open(connection, hello)
  }

  /** The handshake is done: from now on the connection's requests go to the node's handler. */
  #open(connection: InboundConnection, hello: Hello): void {
    connection.stage = 'open'
    connection.opening = Buffer.alloc(0)
    connection.hello = null
    connection.acceptorNonce = null
    connection.fromNode = hello.nodeName
    connection.readsStoppingNotice = hello.stoppingNotice
    if (connection.helloTimer !== null) this.#settings.scheduler.cancel(connection.helloTimer)
    connection.helloTimer = null
    this.#peersBack(connection.socket.remoteAddress, hello.address)
    // A connection opened while this node drains is told at once (see drainInbound).
    if (this.#draining) this.#sendStoppingNotice(connection)
  }

  /**
   * Refuses an opener for the cluster secret: it is told why (an `unauthenticated` answer to its
   * Hello, which its requests then fail with), the log says why (never the secret), and the
   * connection ends once the answer is out.
   */
  #refuseOpener(connection: InboundConnection, hello: Hello, toOpener: string, logged: string): void {
    // Counted per node it says it is (the kinds are bounded): a node that keeps reconnecting with a
    // wrong secret must not hide the first refusal of another (a review).
    this.#repeats.say(`${unauthenticatedCode} ${printable(hello.nodeName, nodeNameCharsMax)}`, `transport ${this.address}: refused the connection from ${connection.description} (says it is ${printable(hello.nodeName, nodeNameCharsMax)}): ${logged}`)
    connection.stage = 'refused'
    if (!connection.rejected) {
      connection.rejected = true
      this.#settings.onRejected('hellos', unauthenticatedCode)
    }
    const refusal = tryEncodeFrame({type: MessageType.ErrorResponse, requestId: helloRequestId, body: {code: unauthenticatedCode, message: toOpener}})
    assert(refusal.ok, 'a refusal of two bounded strings always encodes')
    connection.writer.write(refusal.bytes)
    connection.socket.end()
    const socket = connection.socket
    connection.lingerTimer = this.#settings.scheduler.after(refusalLingerMs, () => socket.destroy())
  }

  #dispatch(connection: InboundConnection, fromNode: string, frame: Frame): void {
    const {requestId, type} = frame
    if (!requestMessageTypes.has(type)) {
      this.#settings.onRejected('requests', 'not_a_request')
      this.#answerError(connection, requestId, {code: 'bad_request', message: `message type ${type} is not a request`})
      return
    }
    if (this.#draining) {
      this.#answerError(connection, requestId, stoppingRefusal(this.#settings.nodeName))
      return
    }
    if (connection.handlersRunning >= this.#settings.pendingPerPeerMax) {
      this.#answerError(connection, requestId, {
        code: 'overloaded',
        message: `${connection.handlersRunning} requests from ${fromNode} already running`,
      })
      return
    }
    connection.handlersRunning += 1
    let answer: Promise<unknown>
    try {
      answer = Promise.resolve(this.#settings.handler(type, frame.body, fromNode))
    } catch (error) {
      answer = Promise.reject(error)
    }
    answer.then(
      (body) => {
        connection.handlersRunning -= 1
        this.#guarded(() => this.#answer(connection, requestId, body))
      },
      (error: unknown) => {
        connection.handlersRunning -= 1
        this.#guarded(() => {
          const failure = errorBody(error)
          if (refusalCodes.has(failure.code)) this.#settings.onRejected('requests', failure.code)
          if (failure.code === 'internal') {
            this.#settings.log(`transport ${this.address}: handler failed on type ${type} from ${fromNode}: ${describe(error)}`)
          }
          this.#answerError(connection, requestId, failure)
        })
      },
    )
  }

  #answer(connection: InboundConnection, requestId: number, body: unknown): void {
    if (connection.socket.destroyed) return
    const encoded = tryEncodeFrame({type: MessageType.Response, requestId, body})
    if (!encoded.ok) {
      this.#answerError(connection, requestId, {code: 'internal', message: `answer cannot be sent: ${encoded.message}`})
      return
    }
    connection.writer.write(encoded.bytes)
  }

  #answerError(connection: InboundConnection, requestId: number, failure: {code: string; message: string; details?: Record<string, unknown>}): void {
    if (connection.socket.destroyed) return
    const encoded = tryEncodeFrame({type: MessageType.ErrorResponse, requestId, body: failure})
    assert(encoded.ok, 'an error answer of two bounded strings and bounded JSON details always encodes')
    connection.writer.write(encoded.bytes)
  }

  /**
   * Runs an answer step so that nothing it throws can become an unhandled rejection, which would
   * end the process: a peer's request must never be able to do that.
   */
  #guarded(step: () => void): void {
    try {
      step()
    } catch (error) {
      this.#settings.log(`transport ${this.address}: failed to answer a request: ${describe(error)}`)
    }
  }

  /**
   * Closes one inbound connection after bad input, counted once as `kind`/`code` and logged by
   * `code` (at the first and every power of two: any stranger can repeat it); nothing else is affected.
   */
  #refuse(connection: InboundConnection, reason: string, kind: 'frames' | 'hellos', code: string): void {
    if (!connection.rejected) {
      connection.rejected = true
      this.#settings.onRejected(kind, code)
    }
    this.#repeats.say(code, `transport ${this.address}: closing connection from ${connection.description}: ${reason}`)
    connection.socket.destroy()
  }

  /**
   * An HTTP request at the internode port (a monitor or a curl given the wrong port): answered
   * in plain HTTP with 400 and where clients go, so that its user reads why instead of an empty
   * reply, then closed; counted in /stats (rejected.hellos http_request) and logged by kind.
   * Nothing it sent reaches the node.
   */
  #answerHttp(connection: InboundConnection, method: string, target: string): void {
    connection.stage = 'refused'
    if (!connection.rejected) {
      connection.rejected = true
      this.#settings.onRejected('hellos', httpRequestReason)
    }
    if (connection.helloTimer !== null) this.#settings.scheduler.cancel(connection.helloTimer)
    connection.helloTimer = null
    const socket = connection.socket
    this.#answerHttpAtInternodePort(socket, method, target, connection.description)
    // What the client still sends is read and dropped (#onRequestBytes) until it closes, within a
    // bound: closing a socket with unread bytes makes the kernel send a reset, which could reach
    // the client before it has read the answer.
    connection.lingerTimer = this.#settings.scheduler.after(refusalLingerMs, () => socket.destroy())
  }

  /**
   * An HTTP request at the internode port, on a plain socket or on one of a node with TLS: the log
   * and the client are told where clients go instead, and the answer ends the socket's writing
   * (what becomes of the socket after is the caller's).
   */
  #answerHttpAtInternodePort(socket: net.Socket, method: string, target: string, from: string): void {
    const port = parseAddress(this.address)?.port ?? '?'
    const api = this.#settings.clientApiUrl
    const clientsUse = api === null ? 'clients use the client API port (dyn start --port)' : `clients use the client API port (${api}, dyn start --port)`
    this.#repeats.say(httpRequestReason, `transport ${this.address}: an HTTP request (${method} ${target}) from ${from} reached the internode port ${port}: ${clientsUse}`)
    socket.end(internodeHttpAnswer(method, `port ${port} is the internode port of dyn node ${this.#settings.nodeName}, which speaks only the protocol between the nodes of a cluster, not HTTP: ${clientsUse}`))
  }
}

/** Whether a connection was refused and is closing (a plain boolean, so that the stage is not narrowed past the calls that change it). */
function isRefused(connection: InboundConnection): boolean {
  return connection.stage === 'refused'
}

/** A TLS opener of #sniff until its handshake is done or has failed. */
interface TlsHandshake {
  /** The peer's `address:port`, as the accept saw it: its key in #tlsHandshakes and its name in the log. */
  readonly description: string
  /** Its deadline: the first bytes and the whole TLS handshake within handshakeTimeoutMs. */
  readonly timer: Timer
  /** Done, or its failure counted and logged: nothing more is said of it. */
  settled: boolean
}


/**
 * Why an opener hung up in the middle of the TLS handshake, as far as this side can tell: most
 * often it does not trust this node's certificate, but an opener also gives up waiting when this
 * node did not answer in time (it was paused, or too busy), which the logs after a pause show.
 */
const openerClosedInHandshake = "it closed the connection during the handshake: it does not trust this node's certificate (another cluster CA in its --tls-ca?), it gave up waiting (this node was paused or too slow to answer), or it is no node"

/**
 * A failed TLS handshake as the acceptor counts and logs it, by what the error says: a stall, no
 * certificate, the opener's refusal of this node's certificate, or bytes that are not a TLS
 * handshake this node can take. A certificate of another CA is not among them: it completes the
 * handshake and is refused after it (#refuseCertificate).
 */
function tlsHandshakeFailure(error: Error & {code?: string}, timeoutMs: number): {reason: string; why: string} {
  const code = error.code ?? ''
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return {reason: 'tls_handshake_timeout', why: `it did not finish its TLS handshake within ${timeoutMs} ms`}
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE' || /no certificate|certificate required|did not return a certificate/i.test(error.message)) {
    return {reason: 'tls_certificate', why: 'it presented no certificate: start it with --tls-cert, --tls-key and --tls-ca'}
  }
  if (/ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_|DECRYPT_ERROR)/.test(code)) return {reason: 'tls_handshake', why: 'it refused this node\'s certificate: it trusts another CA (check its --tls-ca)'}
  if (code === 'ECONNRESET') return {reason: 'tls_handshake', why: openerClosedInHandshake}
  if (/ALERT/.test(code)) return {reason: 'tls_handshake', why: 'it ended the TLS handshake with an alert'}
  return {reason: 'tls_garbled', why: 'what it sent is not a TLS handshake this node takes (not TLS, or a TLS version or cipher this node does not offer)'}
}

/** A Hello's sender: its name, the address it announces (absent from older nodes' Hellos), and its nonce when it holds a cluster secret. */
interface Hello {
  readonly nodeName: string
  readonly address: string | null
  readonly nonce: Buffer | null
  /** The opener reads a stopping notice (drainInbound); absent from a node of an earlier version. */
  readonly stoppingNotice: boolean
}

function readHello(frame: Frame): Hello | null {
  if (frame.type !== MessageType.Hello) return null
  const body = frame.body
  if (typeof body !== 'object' || body === null) return null
  const hello = body as {protocolVersion?: unknown; nodeName?: unknown; address?: unknown; nonce?: unknown; stoppingNotice?: unknown}
  if (hello.protocolVersion !== protocolVersion) return null
  const nodeName = hello.nodeName
  if (typeof nodeName !== 'string' || nodeName.length === 0 || nodeName.length > nodeNameCharsMax) return null
  const address = typeof hello.address === 'string' && hello.address.length <= helloAddressCharsMax ? hello.address : null
  // A nonce that is there but malformed is a bad Hello, not a Hello without a secret.
  if (hello.nonce !== undefined && !isNonce(hello.nonce)) return null
  return {nodeName, address, nonce: hello.nonce === undefined ? null : Buffer.from(hello.nonce), stoppingNotice: hello.stoppingNotice === true}
}

/**
 * Why a TLS connection to `address` was refused, as the opener's requests fail with it, or
 * undefined when the error is no TLS refusal (a refused connect, a reset of a live connection).
 * `established`: the opener's side of the handshake had finished (the acceptor may still refuse
 * its certificate then, in TLS 1.3).
 */
export function tlsRefusal(error: Error & {code?: unknown}, address: string, established: boolean): string | undefined {
  const code = typeof error.code === 'string' ? error.code : ''
  const message = printable(error.message, refusalMessageCharsMax)
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `${address}'s certificate does not name the host dialled (${message}): its certificate must list the address it advertises as a subject alternative name`
  if (/ALERT/.test(code)) return `${address} refused this node's certificate (${message}): sign every node's certificate with the cluster CA given to it as --tls-ca`
  if (answeredInPlainText(error)) return `${address} does not speak TLS (${message}): start every node of the cluster with --tls-cert, --tls-key and --tls-ca, or none`
  if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ISSUER/.test(code)) return `${address}'s certificate is not one of this cluster's CA (${message}): is it a node of another cluster? Sign every node's certificate with the CA given as --tls-ca`
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return `the TLS handshake with ${address} failed (${message})`
  if (!established && code === 'ECONNRESET') return `${address} closed the connection during the TLS handshake (${message}): it may run without TLS, or refuse this node's certificate; start every node with certificates of the same CA`
  return undefined
}
