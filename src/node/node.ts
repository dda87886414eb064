/**
 * The process shell of `dyn start`: one dyn node in a real process. It supplies the real parts
 * (classic-level in the data folder, the TCP transport, the system's clock, timers and
 * randomness) to the assembler (assemble.ts), which builds the node from them, and serves the
 * node's KV service over HTTP, or HTTPS with the node's certificate when it runs with TLS. This is the only place in a node with real sockets, files, clocks
 * and timers; the simulator builds the same node from simulated parts instead.
 */

import {leftClusterLogLine} from './log-lines.js'
import {prepareDataFolder, removeMadeFolders, takeBackFreshStore} from './data-folder.js'
import {createServer} from 'node:http'
import type {IncomingMessage, RequestListener, Server, ServerResponse} from 'node:http'
import {createServer as createHttpsServer} from 'node:https'
import type {Server as HttpsServer} from 'node:https'
import net from 'node:net'
import {createSecureContext} from 'node:tls'
import type {TLSSocket} from 'node:tls'
import type {AddressInfo} from 'node:net'
import {networkInterfaces} from 'node:os'
import {AdmissionControl} from '../api/admission.js'
import type {AdmissionSettings} from '../api/admission-core.js'
import {createApiHandler} from '../api/handler.js'
import type {Clock, Random} from '../clock.js'
import {assert, DynError} from '../errors.js'
import {presentMembers} from '../membership/member-table.js'
import type {Scheduler, Timer} from '../scheduler.js'
import {sleep} from '../scheduler.js'
import {stopDelayMsMax} from '../api/readiness.js'
import {diskDatabase} from '../storage/backend.js'
import type {StoreDatabase} from '../storage/backend.js'
import {formatAddress, isLoggedCount} from '../transport/rpc-common.js'
import {hasVerifiedCertificate, isUnspecifiedHost, startTcpTransport} from '../transport/tcp-transport.js'
import type {TcpTransport} from '../transport/tcp-transport.js'
import {loadNodeTls} from '../transport/tls-options.js'
import type {NodeTls, TlsFiles} from '../transport/tls-options.js'
import {assembleNode} from './assemble.js'
import type {AssembledNode, NodeSettings} from './assemble.js'
import {cachedDiskSpace, cachedFolderBytes, freeDiskBytes} from './disk-usage.js'
import {systemClock, systemRandom, systemScheduler} from './system-time.js'
import {answerPlainHttpOnTls} from './plain-http-on-tls.js'
import {headersTimeoutMsOf, serveInOrder} from './serve-in-order.js'
import type {InOrderServing} from './serve-in-order.js'
import {TlsReloader} from './tls-reloader.js'
import type {TlsReloadOutcome} from './tls-reloader.js'

/** A node's settings (assemble.ts), with where this process serves and keeps its data instead of an API address. */
export interface NodeOptions extends Omit<NodeSettings, 'apiAddress'> {
  /** What the client API and internode ports bind: one address of this machine, or 0.0.0.0 / :: for all. */
  readonly listenHost: string
  /** What the cluster and clients are told to reach this node at; never 0.0.0.0 or ::. */
  readonly advertiseHost: string
  /** Client HTTP API port. */
  readonly port: number
  /** Internode RPC port. */
  readonly rpcPort: number
  readonly dataDir: string
  /**
   * The cluster secret every internode connection must prove, both ways (src/transport/
   * handshake.ts); without one, the node talks to any process that reaches its internode port.
   */
  readonly secret?: Buffer
  /**
   * The node's certificate, key and the cluster CA (src/transport/tls-options.ts, checked): the
   * client API is served over HTTPS, and every internode connection is mutual TLS, each side
   * checking the other's certificate against the CA. Without it both ports are plain.
   */
  readonly tls?: NodeTls
  /**
   * The files `tls` was read from: read again every minute and on `reloadTls`, and taken when
   * they changed and pass the same checks (src/node/tls-reloader.ts). Without them the node keeps
   * `tls` until it stops.
   */
  readonly tlsFiles?: TlsFiles
  /** With seeds: commit this node's join itself (default), or only stage it. */
  readonly commitJoin?: boolean
  /** The admission control's settings (src/api/admission-core.ts) [default: admissionSettingsDefault]. */
  readonly admission?: AdmissionSettings
  /** How long a client request may take to arrive whole, headers and body [default: httpRequestTimeoutMsDefault]. */
  readonly httpRequestTimeoutMs?: number
  /**
   * How long a stop asked with `afterDelay` (a signal to `dyn start`) waits before the node stops
   * taking connections, serving meanwhile with `GET /ready` answering 503 (dyn start
   * --stop-delay-ms) [default: 0, no wait].
   */
  readonly stopDelayMs?: number
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
  /** Resolves with the error that makes the node unfit to run on (a copy of an older disk found after its start): stop it and say why. */
  readonly failed: Promise<DynError>
  /**
   * Reads the TLS files again and takes them if they changed and pass (`dyn start` calls it on
   * SIGHUP); undefined for a node without TLS files.
   */
  reloadTls(): Promise<TlsReloadOutcome | undefined>
  /**
   * Stops the node: it stops taking connections, answers what it has begun, and closes its store.
   * With `afterDelay` (an operator's stop) it first waits the node's stop delay out, serving,
   * with `GET /ready` answering 503 so that balancers send elsewhere. One stop runs, the first asked.
   */
  stop(options?: {readonly afterDelay?: boolean}): Promise<void>
}

/** Gossip rounds a node that has left keeps answering, so that every peer learns it left. */
export const leftGossipRounds = 3

export async function startNode(options: NodeOptions): Promise<RunningNode> {
  const stopDelayMs = options.stopDelayMs ?? 0
  assert(Number.isInteger(stopDelayMs) && stopDelayMs >= 0 && stopDelayMs <= stopDelayMsMax, `stopDelayMs must be an integer from 0 to ${stopDelayMsMax}`)
  if (isUnspecifiedHost(options.advertiseHost)) {
    throw new DynError('bad_parameter', `cannot advertise ${options.advertiseHost}: no peer or client can connect to it; advertise an address of this machine the others reach it at`)
  }
  await checkApiPort(options.listenHost, options.port)
  const dataFolder = await prepareDataFolder(options.dataDir)
  if (isLoopback(options.listenHost) && !isLoopback(options.advertiseHost)) {
    options.log(`warning: listening on ${options.listenHost}, which only this machine reaches, while advertising ${options.advertiseHost}: other machines cannot connect unless something forwards ${options.advertiseHost} to it (--listen 0.0.0.0 listens on every interface)`)
  }
  if (options.secret === undefined && options.tls === undefined && !isLoopback(options.listenHost)) {
    options.log(`warning: listening on ${options.listenHost} without a cluster secret or TLS: any process that reaches internode port ${options.rpcPort} can join this cluster, gossip and write replicas; give every node the same --secret-file (dyn cluster up writes one), or certificates of one CA (--tls-cert, --tls-key, --tls-ca)`)
  }
  if (options.tls !== undefined) options.log(`TLS on both ports with ${options.tls.description}; peers must present a certificate of the cluster CA`)
  if (options.tls !== undefined) warnOfSharedClientCa(options.tls, options.log)
  // One admission control per node, on the node's clock: the HTTP handler and the node's
  // forwarded puts and background tasks all ask it (src/api/admission.ts).
  const admission = new AdmissionControl(options.clock ?? systemClock, options.admission, {monitorEventLoop: true})
  let transport: TcpTransport | undefined
  // The certificate rotation of a node with TLS files: made once the API server and the transport
  // it reloads run (serveHttp), and shown in /stats from then on.
  const tlsRotation: {reloader?: TlsReloader} = {}
  const database = await openDatabase(options.dataDir).catch(async (error: unknown) => {
    // Not opened (another node holds the folder, say): nothing in it is this start's but the
    // folders it made, and those go only while empty.
    await removeMadeFolders(dataFolder)
    throw error
  })
  // The folder's size, summed at most every 2 s: /stats shows it, and compactions weigh it.
  const storeBytes = cachedFolderBytes(options.dataDir, options.clock ?? systemClock)
  const node = await assembleNode({
    settings: {
      name: options.name,
      apiAddress: formatAddress(options.advertiseHost, options.port),
      seeds: options.seeds,
      settings: options.settings,
      explicitSettings: options.explicitSettings,
      requestTimeoutMs: options.requestTimeoutMs,
      gossipIntervalMs: options.gossipIntervalMs,
      writeBufferMs: options.writeBufferMs,
      ...(options.failureDetector === undefined ? {} : {failureDetector: options.failureDetector}),
      ...(options.antiEntropy === undefined ? {} : {antiEntropy: options.antiEntropy}),
      commitJoin: options.commitJoin !== false,
      ...(options.machine === undefined ? {} : {machine: options.machine}),
    },
    database,
    storeBytes,
    diskSpace: cachedDiskSpace(options.dataDir, options.clock ?? systemClock),
    compactionDisk: {freeBytes: () => freeDiskBytes(options.dataDir), databaseBytes: storeBytes},
    startTransport: (handler, onRejected) =>
      startTcpTransport({
        onRejected,
        host: options.listenHost,
        advertiseHost: options.advertiseHost,
        port: options.rpcPort,
        nodeName: options.name,
        // An HTTP request at the internode port is told where clients go: this node's client API.
        clientApiUrl: `${options.tls === undefined ? 'http' : 'https'}://${formatAddress(options.advertiseHost, options.port)}`,
        ...(options.secret === undefined ? {} : {secret: options.secret}),
        ...(options.tls === undefined ? {} : {tls: options.tls}),
        clock: options.clock ?? systemClock,
        scheduler: options.scheduler ?? systemScheduler,
        log: options.log,
        handler,
      }).then(
        (started) => {
          transport = started
          return started
        },
        (error: Error) => {
          throw listenError(error, 'listen for internode RPC', options.listenHost, options.rpcPort, '--rpc-port')
        },
      ),
    clock: options.clock ?? systemClock,
    scheduler: options.scheduler ?? systemScheduler,
    random: options.random ?? systemRandom,
    log: options.log,
    monitorEventLoop: true,
    admission,
    ...(options.tls === undefined || options.tlsFiles === undefined ? {} : {tlsStats: () => tlsRotation.reloader?.stats()}),
  }).catch(async (error: unknown) => {
    // Refused before serving (a join through a seed that is a client API port or answers nobody,
    // a port in use): a folder that was fresh loses the store this start made in it. The
    // assembler has closed the store; closing again covers a failure before it took it over.
    // A folder that held this node's data keeps the identity this start wrote, a new epoch and
    // the incarnation after the last (src/node/identity.ts): every start takes a new epoch, so
    // that no start ever writes with the counters of an earlier one, and the join has announced
    // the incarnation to the seed, which may have taken the row though its answer was lost, so
    // the next start must announce a higher one. A refused join writes nothing else.
    await database.close().catch(() => undefined)
    await takeBackFreshStore(dataFolder)
    admission.stop()
    throw error
  })
  try {
    assert(transport !== undefined, 'the assembler started the transport')
    return await serveHttp(options, node, admission, transport, tlsRotation)
  } catch (error) {
    await node.stop()
    admission.stop()
    throw error
  }
}

/** Opens the node's LevelDB here, so that a folder in use gets an answer that names it. */
async function openDatabase(dataDir: string): Promise<StoreDatabase> {
  const database = diskDatabase(dataDir)
  try {
    await database.open({createIfMissing: true})
  } catch (error) {
    const cause = (error as {cause?: {code?: string; message?: string}}).cause
    if (cause?.code === 'LEVEL_LOCKED') {
      throw new DynError('bad_parameter', `the data folder ${dataDir} is in use by another running node; stop it or choose another --data`)
    }
    const refusal = storageRefusal(dataDir, cause?.message)
    if (refusal !== undefined) throw refusal
    throw error
  }
  return database
}

/**
 * Why LevelDB would not open `dataDir`, for its disk, with what to do; undefined for another
 * failure. classic-level says only "Database failed to open" and keeps LevelDB's own reason in
 * the error's cause: a walk's node on a full disk exited with that alone, as `internal`, the
 * reason left in LevelDB's LOG file. LevelDB writes as it opens (its log replayed into a table),
 * so a full disk stops a start.
 */
export function storageRefusal(dataDir: string, reason: string | undefined): DynError | undefined {
  if (reason === undefined) return undefined
  if (/no space left on device|ENOSPC/i.test(reason)) {
    return new DynError('storage_failed', `the disk of the data folder ${dataDir} is full: LevelDB could not write as it opened (${reason}). Free space on that disk (or grow it), then start the node again: what it stored is still there`)
  }
  if (/^IO error/i.test(reason)) return new DynError('storage_failed', `LevelDB could not open the data folder ${dataDir} for an I/O error (${reason}): check that disk (its space, its health, the folder's permissions), then start the node again`)
  if (/^Corruption/i.test(reason)) return new DynError('storage_failed', `LevelDB finds the data folder ${dataDir} corrupt (${reason}): replace it as a lost disk (README, "a replaced disk"): move the folder aside, and start the node under the same name on an empty --data folder with --seeds of a running member; anti-entropy brings its keys back from the other replicas`)
  return undefined
}

/**
 * Client connections one node keeps open at once; beyond it a new one is closed at once (and
 * counted). Without a cap, idle connections could take every file descriptor of the process,
 * and LevelDB and the internode port would fail with them. 4096, like the requests in flight
 * (api/handler.ts) and the internode connections (tcp-transport.ts): with LevelDB's own files
 * the node stays well inside the usual limit of a server's process.
 */
export const httpConnectionsMax = 4096

/**
 * A client that has not finished its TLS handshake within this long is dropped, as an idle
 * stranger. Node's handshakeTimeout, which this sets, is not restarted by the bytes of the
 * handshake, so a client that trickles its handshake a byte at a time is dropped at the same
 * deadline (test/unit/tls-options.test.ts keeps it so). On the client API it runs from the
 * connection's first byte, which plain-http-on-tls.ts waits for (as long again at most) before
 * Node's TLS layer takes the connection: there a connection is held 2 × 10 s at the very most.
 */
export const tlsHandshakeTimeoutMs = 10_000

/**
 * The client API's connections that may still be in their TLS handshake, by server: Node's
 * closeAllConnections() reaches only the connections its HTTP layer has, which a TLS client
 * joins once its handshake is done, so closeApiServer ends these itself. Each leaves its set
 * when it closes, and the server's maxConnections bounds them.
 */
const acceptedSockets = new WeakMap<Server, Set<net.Socket>>()

/** Each client API server's in-order serving, which a stop drains (closeApiServer). */
const inOrderServings = new WeakMap<Server, InOrderServing>()

/**
 * How long a stopping node keeps answering the client requests it has begun before it ends their
 * connections. A get or put answers within --request-timeout (1 s unless set); an upload slower
 * than this is cut. Well within `dyn cluster down`'s 5 s before SIGKILL, so that the store
 * still closes after the drain.
 */
export const apiDrainMsMax = 3000

/**
 * How long a client request may take to arrive whole, headers and body (answered 408
 * `request_timeout` after; dyn start --http-request-timeout-ms). Its request line and headers
 * may take a third of it. Node's own defaults (5 minutes, checked every 30 s) held a stalled
 * upload for over 5 minutes and then closed it without an answer.
 */
export const httpRequestTimeoutMsDefault = 60_000
/** How often Node checks both, and so how late at most a timed-out request is answered. */
const httpTimeoutsCheckMs = 1000

/**
 * The client API of a node with a client CA (--tls-client-ca): a request over a connection whose
 * client did not present a certificate of that CA is answered `unauthenticated` (403) and counted
 * (/stats rejected.http `client_certificate`), before the API sees it. /health stays open to any
 * client that trusts the cluster CA, as load balancers' and the --processes supervisor's probes
 * need: it shows the node and the cluster's shape (names, ring hash), no key or value.
 */
function requiringClientCertificates(handler: RequestListener, countRejected: (reason: string) => void, clientCa: ClientCaGeneration): RequestListener {
  return (request, response) => {
    const socket = request.socket as TLSSocket
    const url = request.url ?? ''
    if (url === '/health' || url.startsWith('/health?')) return handler(request, response)
    // A connection verified against a client CA that a reload has since replaced is not trusted
    // on: closed before its request is read any further, so that its client connects again and is
    // checked against the CA in force (removing a CA revokes its clients at once, not only those
    // that connect after). The request was not served, so sending it again is safe.
    if (clientCa.ofSocket.get(socket) !== clientCa.current) {
      countRejected('client_ca_changed')
      socket.destroy()
      return
    }
    if (hasVerifiedCertificate(socket)) return handler(request, response)
    countRejected('client_certificate')
    // Null once the connection has closed under the request.
    const presented: Partial<ReturnType<TLSSocket['getPeerCertificate']>> = socket.getPeerCertificate() ?? {}
    const message =
      presented.subject === undefined
        ? 'this node serves only clients with a certificate of its client CA (dyn start --tls-client-ca): give --tls-cert and --tls-key (or DYN_TLS_CERT and DYN_TLS_KEY) with your client certificate and key'
        : `the client certificate given (subject ${describeName(presented.subject)}, issuer ${describeName(presented.issuer ?? {})}) is not one of this node's client CA (${socket.authorizationError ?? 'not authorized'}): give a certificate signed by the CA the node was started with as --tls-client-ca`
    const body = JSON.stringify({error: 'unauthenticated', message})
    response.writeHead(403, {'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close'})
    response.end(body)
  }
}

/**
 * Which client CA the API's server checks clients against now (a count of the changes a reload
 * made), and which one each connection was checked against at its handshake.
 */
interface ClientCaGeneration {
  current: number
  /** The client CA (PEM) of the current generation. */
  ca: Buffer
  readonly ofSocket: WeakMap<net.Socket, number>
}

/** The client CA generations of the API servers that ask for client certificates: a reload that changes the CA counts one more. */
const clientCaGenerations = new WeakMap<Server, ClientCaGeneration>()

/** A certificate's subject or issuer as Node gives it (attribute → value), one line for a message. */
function describeName(name: Readonly<Record<string, string | string[] | undefined>>): string {
  return Object.entries(name)
    .filter((entry): entry is [string, string | string[]] => entry[1] !== undefined)
    .map(([attribute, value]) => `${attribute}=${Array.isArray(value) ? value.join('+') : value}`)
    .join(', ')
}

/**
 * The client API's HTTP server for an assembled node, not yet listening: the request handler,
 * and what Node's HTTP layer refuses before the handler sees anything (bytes that are not HTTP,
 * connections over the cap), answered and counted in /stats `rejected.http` too. The fuzzers
 * (test/fuzz) drive this same server over in-memory connections. With `tls` it is an HTTPS
 * server only: a plain HTTP request to its port is answered 400 `https_required`, in plain HTTP,
 * and nothing else (plain-http-on-tls.ts).
 */
export function createApiServer(node: Pick<AssembledNode, 'service' | 'countHttpRequest' | 'countRejected'>, log: (line: string) => void, admission?: AdmissionControl, tls?: NodeTls, handshakeTimeoutMs = tlsHandshakeTimeoutMs, httpRequestTimeoutMs = httpRequestTimeoutMsDefault): Server {
  const apiHandler = createApiHandler(node.service, (route) => node.countHttpRequest(route), (code) => node.countRejected('http', code), admission)
  const clientCa: ClientCaGeneration | undefined = tls?.clientCa === undefined ? undefined : {current: 0, ca: tls.clientCa, ofSocket: new WeakMap()}
  const handler = clientCa === undefined ? apiHandler : requiringClientCertificates(apiHandler, (reason) => node.countRejected('http', reason), clientCa)
  // Node answers an HTTP/1.1 request without a Host header with a bare 400 of its own (no JSON,
  // not counted) before the handler sees it; the API routes by path alone and needs no Host, so
  // such a request is served like any other (found by the HTTP fuzzer, test/fuzz/http-target.ts).
  // A request must arrive whole within httpRequestTimeoutMs, its headers within a third of it.
  const httpOptions = {keepAliveTimeout: 65_000, requireHostHeader: false, requestTimeout: httpRequestTimeoutMs, headersTimeout: headersTimeoutMsOf(httpRequestTimeoutMs), connectionsCheckingInterval: httpTimeoutsCheckMs}
  // Clients are asked for a certificate only with a client CA (--tls-client-ca). A client without
  // one still completes the handshake (rejectUnauthorized false) so that it can be told, in the
  // API's own JSON, what to give (requiringClientCertificates), rather than see a bare reset.
  const clientAuth = tls?.clientCa === undefined ? {} : {requestCert: true, rejectUnauthorized: false, ca: tls.clientCa}
  const server: Server = tls === undefined ? createServer(httpOptions) : createHttpsServer({...httpOptions, cert: tls.cert, key: tls.key, ...clientAuth, handshakeTimeout: handshakeTimeoutMs})
  server.maxConnections = httpConnectionsMax
  // A client that half-closes its side once it has sent its request (`printf ... | nc`, a
  // shutdown(SHUT_WR) after the last request) is still answered: Node's default aborted the
  // requests under way and closed the connection, after a PUT had been applied.
  // (Node's own switch for it, set by its http tests and not in its types; a plain server's
  // sockets are always half-open, a TLS socket once its handshake is done, below.)
  ;(server as Server & {httpAllowHalfOpen: boolean}).httpAllowHalfOpen = true
  // A TLS socket is half-open only once its handshake is done: one half-open from the accept
  // kept a client that gave up mid-handshake (one that did not trust the node's certificate
  // closes right after the server's flight) open, unlogged and uncounted, until the handshake
  // timeout; closed at its FIN, it is a handshake failure at once (tlsClientError below).
  // Prepended, so that the socket is half-open before the HTTP layer takes it.
  if (tls !== undefined) server.prependListener('secureConnection', (socket: net.Socket) => {
    socket.allowHalfOpen = true
  })
  // Run with Node's own TLS listener, once a connection's first byte shows a TLS handshake.
  const onTlsConnection: Array<(raw: net.Socket) => void> = []
  // A client that fails the handshake (bytes that are not TLS, a client that does not trust the
  // CA, one that stalls) never reaches the handler: closed, counted, and logged at the first and
  // every power of two, whether Node's TLS layer failed it or the deadline from the accept did.
  let tlsFailures = 0
  const tlsHandshakeFailed = (from: string, timedOut: boolean, why: string): void => {
    tlsFailures += 1
    node.countRejected('http', timedOut ? 'tls_handshake_timeout' : 'tls_handshake')
    if (isLoggedCount(tlsFailures)) log(`client API: TLS handshake with ${from} failed (${tlsFailures} so far): ${why}`)
  }
  if (tls !== undefined) {
    answerPlainHttpOnTls(server, {
      onTlsConnection,
      firstByteTimeoutMs: handshakeTimeoutMs,
      onFirstByteTimeout: (from) => tlsHandshakeFailed(from, true, `nothing sent within ${handshakeTimeoutMs} ms of the accept`),
      countRejected: (reason) => node.countRejected('http', reason),
      log,
      scheduler: systemScheduler,
    })
  }
  if (clientCa !== undefined) {
    clientCaGenerations.set(server, clientCa)
    // The generation a connection is checked under is the one in force when Node took it over:
    // Node chooses the TLS context, and so the client CA that will verify its certificate, right
    // then (in its own 'connection' listener, which answerPlainHttpOnTls runs at the first byte,
    // with this), and a handshake can finish after a reload has replaced that CA. The TLS socket
    // is tied to its accepted socket by the peer's address:port, unique among live connections to
    // one port, as the transport ties them.
    const acceptedUnder = new Map<string, number>()
    onTlsConnection.push((raw: net.Socket) => {
      const peer = `${raw.remoteAddress}:${raw.remotePort}`
      acceptedUnder.set(peer, clientCa.current)
      raw.once('close', () => acceptedUnder.delete(peer))
    })
    server.on('secureConnection', (socket: TLSSocket) => {
      const peer = `${socket.remoteAddress}:${socket.remotePort}`
      // Not found only if its accepted socket is gone already: such a connection is served nothing.
      clientCa.ofSocket.set(socket, acceptedUnder.get(peer) ?? -1)
      acceptedUnder.delete(peer)
    })
  }
  if (tls !== undefined) {
    const accepted = new Set<net.Socket>()
    acceptedSockets.set(server, accepted)
    // Each accepted socket's peer, for the log of a handshake that fails: a TLS socket whose
    // client already closed it no longer knows its peer, nor does the socket it wraps.
    const peerOf = new WeakMap<net.Socket, string>()
    server.on('connection', (socket: net.Socket) => {
      accepted.add(socket)
      if (socket.remoteAddress !== undefined) peerOf.set(socket, `${socket.remoteAddress}:${socket.remotePort ?? '?'}`)
      socket.once('close', () => accepted.delete(socket))
    })
    // Node leaves a socket whose handshake failed open: closed here. Prepended: node:https hands
    // every tlsClientError on to 'clientError' too, whose handler below would count it as
    // malformed HTTP and write an HTTP answer into the failed handshake; once this has destroyed
    // the socket, that handler only lets it go.
    server.prependListener('tlsClientError', (error: Error & {code?: string}, socket: net.Socket) => {
      // Read before the socket is destroyed: a TLS socket that has closed no longer knows its peer.
      // (Node keeps the socket a TLS socket wraps as its _parent, outside its types.)
      const wrapped = (socket as net.Socket & {_parent?: unknown})._parent
      const from =
        socket.remoteAddress !== undefined
          ? `${socket.remoteAddress}:${socket.remotePort ?? '?'}`
          : ((wrapped instanceof net.Socket ? peerOf.get(wrapped) : undefined) ?? 'a client that had already closed the connection')
      socket.destroy()
      tlsHandshakeFailed(from, error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT', error.code ?? error.message)
    })
  }
  // Requests, one at a time per connection, and Node's own refusals (its parser's, its
  // timeouts') answered in the API's JSON and counted in /stats.
  inOrderServings.set(server, serveInOrder(server, handler, (reason) => node.countRejected('http', reason), httpRequestTimeoutMs))
  // Node closes a connection over maxConnections before any listener sees it: counted and logged
  // here, or a client turned away would find nothing about it on the node's side.
  let drops = 0
  server.on('drop', (dropped?: {remoteAddress?: string; remotePort?: number}) => {
    drops += 1
    node.countRejected('http', 'over_limit')
    if (isLoggedCount(drops)) log(`client API: refused a connection from ${dropped?.remoteAddress ?? 'a client'}:${dropped?.remotePort ?? '?'}: ${httpConnectionsMax} connections are open, the most a node takes (${drops} refused so far)`)
  })
  // After the listen, an 'error' is a failed accept (EMFILE when the process is out of file
  // descriptors): with no listener, Node would throw it and end the process. The connection is
  // lost, the node serves on; logged at the first and then at every power of two, so a flood of
  // them cannot flood the log.
  let acceptFailures = 0
  server.on('error', (error) => {
    // Before the listen has succeeded, an error is the listen's own (a port in use): `listen` reports it.
    if (!server.listening) return
    acceptFailures += 1
    node.countRejected('http', 'accept_failed')
    if (isLoggedCount(acceptFailures)) log(`client API: could not accept a connection (${acceptFailures} so far): ${error.message}`)
  })
  return server
}

async function serveHttp(options: NodeOptions, node: AssembledNode, admission: AdmissionControl, transport: TcpTransport, tlsRotation: {reloader?: TlsReloader}): Promise<RunningNode> {
  const scheduler = options.scheduler ?? systemScheduler
  const clock = options.clock ?? systemClock
  const server = createApiServer(node, options.log, admission, options.tls, tlsHandshakeTimeoutMs, options.httpRequestTimeoutMs)
  await listen(server, options.listenHost, options.port)
  const apiAddress = formatAddress(options.advertiseHost, (server.address() as AddressInfo).port)
  const reloader = startTlsReloader(options, server, transport, clock, scheduler)
  tlsRotation.reloader = reloader
  let stopping: Promise<void> | undefined
  const stopDelayMs = options.stopDelayMs ?? 0
  // Ends the stop delay under way, if any.
  let endDelay: (() => void) | undefined
  const stop = (stopOptions: {readonly afterDelay?: boolean} = {}): Promise<void> => {
    // A stop that must not wait (the node has left, its disk is an old copy, its supervisor is
    // gone, or its operator asked again) cuts short a delay under way: an old disk served on for
    // the rest of the delay could bring deleted keys back.
    if (stopOptions.afterDelay !== true) endDelay?.()
    stopping ??= (async () => {
      // A balancer that health-checks GET /ready keeps sending new connections to a node until it
      // sees it fail; a port closed before then refuses them, and the kernel resets those it had
      // queued (a client of a balancer that does not retry sees errors). So the node first says it
      // is not ready and serves on, for as long as the operator says the balancer needs.
      if (stopOptions.afterDelay === true && stopDelayMs > 0) {
        node.announceStop(stopDelayMs)
        options.log(`stopping in ${stopDelayMs} ms (--stop-delay-ms): GET /ready answers 503 meanwhile, so that balancers send elsewhere; serving until then`)
        await new Promise<void>((resolve) => {
          const timer = scheduler.after(stopDelayMs, resolve)
          endDelay = () => {
            scheduler.cancel(timer)
            resolve()
          }
        })
        endDelay = undefined
      }
      reloader?.stop()
      // The HTTP server first, so that no client request reaches a node that is shutting down; the
      // requests it has begun are answered first, while the node's replicas still answer it.
      // Other nodes' requests are drained at the same time: those under way are answered, new ones
      // refused `overloaded`, so that their senders ask another node (a forwarded put cut off by
      // the stop reached its client as `unreachable`, although it had often been applied).
      await Promise.all([closeApiServer(server, scheduler), settledWithin(transport.drainInbound(), scheduler, apiDrainMsMax)])
        .then(() => node.stop())
        .finally(() => admission.stop())
    })()
    return stopping
  }
  const bound = options.listenHost === options.advertiseHost ? '' : ` (listening on ${options.listenHost})`
  options.log(`serving the client API on ${options.tls === undefined ? '' : 'https://'}${apiAddress} and internode RPC on ${node.transport.address}${bound}; ${presentMembers(node.membership.table).length} member(s)`)
  const left = node.left.then(async () => {
    options.log(leftClusterLogLine)
    // Said every time, also to a node started again on the folder of a node that had left: it
    // served a few seconds, learnt that it had left, and stopped without saying how to come back.
    options.log(`no longer a member: stopping; to bring it back, start it on an empty --data folder with --seeds of a member (this folder holds nothing the cluster needs)`)
    for (let round = 0; round < leftGossipRounds; round++) {
      await sleep(scheduler, options.gossipIntervalMs)
      await node.membership.gossipRound().catch(() => undefined)
    }
  })
  const failed = node.failed.then((error) => {
    options.log(`error ${error.code}: ${error.message}`)
    return error
  })
  const reloadTls = async (): Promise<TlsReloadOutcome | undefined> => (reloader === undefined ? undefined : reloader.reload('asked'))
  return {name: options.name, actor: node.actor, apiAddress, rpcAddress: node.transport.address, left, failed, reloadTls, stop}
}

/**
 * The certificate rotation of a node started with TLS files (tls-reloader.ts), checking them from
 * now on: it applies files that pass to both ports. Undefined for a node without them.
 */
function startTlsReloader(options: NodeOptions, server: Server, transport: TcpTransport, clock: Clock, scheduler: Scheduler): TlsReloader | undefined {
  const files = options.tlsFiles
  if (options.tls === undefined || files === undefined) return undefined
  const reloader = new TlsReloader(
    {
      load: () => loadNodeTls(files, clock.nowMs(), options.advertiseHost),
      apply: (next) => {
        // Built first, so that files Node refuses change neither port.
        createSecureContext({cert: next.cert, key: next.key, ca: next.ca})
        if (next.clientCa !== undefined) createSecureContext({ca: next.clientCa})
        replaceApiTls(server, next)
        transport.replaceTls(next)
        warnOfSharedClientCa(next, options.log)
      },
      scheduler,
      log: options.log,
    },
    options.tls,
  )
  reloader.start()
  return reloader
}

/** At start and at every rotation: a client CA that shares a certificate with the cluster CA lets clients in as members. */
function warnOfSharedClientCa(tls: NodeTls, log: (line: string) => void): void {
  if (tls.clientCaSharedWithCluster === undefined) return
  log(`warning: --tls-client-ca holds ${tls.clientCaSharedWithCluster}, which is also in the cluster CA (--tls-ca): every client certificate it signed is also accepted on the internode port, as a node certificate is; give the clients a CA of their own (README "Client certificates")`)
}

/**
 * Serve the client API with new certificates (a rotation): new connections use them. A client CA
 * that changed counts one more generation, so connections checked under the old one are closed
 * at their next request (requiringClientCertificates).
 */
function replaceApiTls(server: Server, next: NodeTls): void {
  ;(server as HttpsServer).setSecureContext({cert: next.cert, key: next.key, ...(next.clientCa === undefined ? {} : {ca: next.clientCa})})
  const clientCa = clientCaGenerations.get(server)
  if (clientCa === undefined || next.clientCa === undefined || next.clientCa.equals(clientCa.ca)) return
  clientCa.current += 1
  clientCa.ca = next.clientCa
}

/**
 * Refuses a client API port this node cannot bind, before it makes its data folder or joins: the
 * API server listens only once the node is assembled (it serves the node), after the join has
 * added this node's row to the cluster, so a port in use found then left a joining member behind,
 * advertising the API address of whatever held the port, and a store in its folder. The port is
 * bound and let go at once; one taken between this check and the real listen is still refused
 * there, as before. Port 0 (the OS picks one) is always free.
 */
async function checkApiPort(host: string, port: number): Promise<void> {
  if (port === 0) return
  const probe = net.createServer()
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (error) => reject(listenError(error, 'serve the client API', host, port, '--port')))
    probe.listen(port, host, () => probe.close(() => resolve()))
  })
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      reject(listenError(error, 'serve the client API', host, port, '--port'))
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })
}

/**
 * What a failed listen means, in the user's terms: a port in use is the port flag's to change,
 * but an address this machine does not have, or a name that does not resolve, is the address's.
 */
export function listenError(error: Error & {code?: unknown}, what: string, host: string, port: number, portFlag: string): DynError {
  const at = `cannot ${what} on ${formatAddress(host, port)}`
  switch (error.code) {
    case 'EADDRNOTAVAIL':
      return new DynError(
        'bad_parameter',
        `${at}: ${host} is not an address of this machine (${error.message}); listen on one of its addresses (${machineAddresses().join(', ')}) or on 0.0.0.0 for all of them, with --listen (or --host), and give the address the others reach it at with --advertise`,
      )
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new DynError('bad_parameter', `${at}: the host name ${host} does not resolve (${error.message}); give --listen (or --host) an IP address of this machine, or 0.0.0.0`)
    case 'EACCES':
      return new DynError('bad_parameter', `${at}: ${error.message}; ports below 1024 need privileges: choose another ${portFlag}`)
    default:
      return new DynError('bad_parameter', `${at}: ${error.message}; choose another ${portFlag}`)
  }
}

/** This machine's addresses, for a message that asks the user to pick one. */
export function machineAddresses(): string[] {
  const addresses = Object.values(networkInterfaces()).flatMap((entries) => (entries ?? []).map((entry) => entry.address))
  // Link-local IPv6 addresses need an interface name to be used: not worth suggesting.
  return [...new Set(addresses.filter((address) => !address.toLowerCase().startsWith('fe80:')))]
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  if (net.isIPv4(host)) return host.startsWith('127.')
  return host === '::1' || host === '[::1]'
}

/** Resolves once `promise` has, or `boundMs` has passed, whichever is first; the timer is cancelled either way. */
async function settledWithin(promise: Promise<void>, scheduler: Scheduler, boundMs: number): Promise<void> {
  let timer: Timer | undefined
  await Promise.race([promise, new Promise<void>((resolve) => (timer = scheduler.after(boundMs, resolve)))])
  if (timer !== undefined) scheduler.cancel(timer)
}

/**
 * Stops serving, first answering what was begun: no new connection is accepted (a client is
 * refused at once and goes to another node), and the requests being served are answered, each
 * closing its connection, while quiet connections close (InOrderServing.drain), for at most
 * `drainMs`. Then every connection still open is ended, those in their TLS handshake included.
 */
export async function closeApiServer(server: Server, scheduler: Scheduler = systemScheduler, drainMs = apiDrainMsMax): Promise<void> {
  // Node's HTTP close stops accepting, stops the checks of its request timeouts (left running,
  // their interval would hold the server for ever), and ends at once every connection with no
  // request under way, those whose client has just sent one the node has not read yet included:
  // 32 connections of puts under a SIGTERM got 32 resets that way. That last step is left to the
  // drain, which closes a connection only once it has stayed quiet.
  const closed = new Promise<void>((resolve) => {
    server.closeIdleConnections = () => undefined
    server.close(() => resolve())
    delete (server as Partial<Server>).closeIdleConnections
  })
  const serving = inOrderServings.get(server)
  if (serving !== undefined) {
    await settledWithin(serving.drain(scheduler), scheduler, drainMs)
    serving.endAll()
  }
  server.closeAllConnections()
  for (const socket of acceptedSockets.get(server) ?? []) socket.destroy()
  await closed
}
