/**
 * A fault-injecting TCP proxy for `dyn verify`, which checks a local cluster the way Jepsen
 * does: it runs operations while it cuts and heals the network between nodes, then checks what
 * the clients saw. Cutting the links between processes on one machine would take root
 * (iptables, network namespaces); instead every node advertises one of this proxy's addresses
 * as its internode port, so every internode connection passes through the proxy, and the proxy
 * can stop the bytes between any two named nodes.
 *
 * Each route listens on one address and forwards every connection it accepts to one node, the
 * route's `name`: that is the connection's destination. Its source is the node that opened it,
 * which the proxy learns from the Hello that every dyn connection starts with (see
 * tcp-transport.ts). A connection that starts otherwise has an unknown source: no cut applies
 * to it, since the proxy cannot tell between which nodes its bytes travel.
 *
 * A cut is one direction between two names, as a firewall rule against one host's packets to
 * another is, but it holds the bytes instead of dropping them: TCP keeps unacknowledged data
 * across a partition and sends it again once the network heals, so a connection that survives
 * a cut carries on mid-stream, its framing intact. A direction holding bytes pauses the socket
 * it reads from, so what the proxy holds is a chunk or so per direction (the rest waits in the
 * kernel's buffers, as it would behind a real partition); one holding more than `holdBytesMax`
 * costs its connection.
 * Unlike a real partition, a connection closed on one side is closed on the other at once, cut
 * or not, unless the closing side's reader is paused behind the cut: then its close is read, and
 * passed on, only at the heal, after the frames held before it (harmless: dyn's replica merges are
 * idempotent, and its transport only ever closes a connection it has given up on, opening a new
 * one, held in turn while the cut lasts).
 *
 * The proxy never alters, reorders or invents a byte: with no cut it is a transparent pipe.
 */

import net from 'node:net'
import {assert} from '../errors.js'
import {FrameDecoder, frameBytesMin, lengthPrefixBytes} from '../transport/frame.js'
import {MessageType} from '../transport/message-type.js'
import {formatAddress} from '../transport/rpc-common.js'

export interface FaultProxyRoute {
  /** The node behind the route: the destination of every connection it accepts, and the name cuts use. */
  readonly name: string
  readonly listenHost: string
  /** 0 lets the OS pick a free port; `addressOf` then carries the one it picked. */
  readonly listenPort: number
  readonly targetHost: string
  readonly targetPort: number
}

export interface FaultProxyOptions {
  /** Client bytes held while waiting for a connection's first frame; beyond it the source is unknown. */
  helloBytesMax?: number
  /** Bytes held behind a cut in one direction of one connection; beyond it the connection is destroyed. */
  holdBytesMax?: number
  /** Connections open at once; beyond it a new one is refused (closed at once). */
  connectionsMax?: number
}

export interface FaultProxyStats {
  /** Connections with a socket still open on either side. */
  connectionsOpen: number
  /** Connections accepted since the start, refused ones not counted. */
  connectionsTotal: number
  /** Bytes written to either side of any connection. */
  bytesForwarded: number
  /** Bytes held now: behind a cut, or waiting for their connection's first frame. */
  bytesHeldNow: number
  /** Socket errors (a refused upstream connect, a reset) and failures caught in a socket event. */
  errors: number
  /** Connections refused for being beyond `connectionsMax`, or accepted while closing. */
  connectionsRefused: number
  /** Connections destroyed for holding more than `holdBytesMax` in one direction. */
  holdOverflows: number
}

export interface FaultProxy {
  /** "host:port" that the route of `name` listens on: what node `name` must advertise. */
  addressOf(name: string): string
  /** Holds every byte travelling from `from` to `to`, on every connection between them, open or opened later. */
  block(from: string, to: string): void
  /** Blocks both directions between `name` and every other route's name. */
  isolate(name: string): void
  /** Blocks both directions between every two names in different groups; a name in no group keeps its links. */
  partition(groups: readonly (readonly string[])[]): void
  /** Removes every cut and lets every held byte go on, in order. */
  heal(): void
  isBlocked(from: string, to: string): boolean
  stats(): FaultProxyStats
  /** Stops listening and destroys every connection; resolves once every socket is closed. Safe to call twice. */
  close(): Promise<void>
}

/** A Hello is tens of bytes; 64 KiB is far above it, and small against what a stranger may make the proxy hold. */
export const helloBytesMaxDefault = 64 * 1024
/**
 * A paused socket is read no further, so a direction holds about one chunk (64 KiB) in practice;
 * 8 MiB is far above that, yet a bound should a socket deliver more after its pause.
 */
export const holdBytesMaxDefault = 8 * 1024 * 1024
/** A local cluster needs one connection per ordered pair of nodes; the rest is slack for reconnects. */
export const connectionsMaxDefault = 4096

/** Where the nodes of a local cluster behind a proxy are told to reach each other: the proxy's side of loopback. */
export const localProxyHost = '127.0.0.2'

/**
 * The routes for a local cluster whose nodes bind 127.0.0.1 on consecutive ports and advertise
 * `advertiseHost` on the same ports: both ports of each node, the internode one to cut, the
 * client one as it is (an HTTP connection sends no Hello, so no cut applies to it), for tools
 * that use advertised addresses.
 */
export function localClusterRoutes(names: readonly string[], ports: {readonly port: number; readonly rpcPort: number}, advertiseHost: string): FaultProxyRoute[] {
  return names.flatMap((name, i) => [
    {name, listenHost: advertiseHost, listenPort: ports.rpcPort + i, targetHost: '127.0.0.1', targetPort: ports.rpcPort + i},
    {name: `${name} client API`, listenHost: advertiseHost, listenPort: ports.port + i, targetHost: '127.0.0.1', targetPort: ports.port + i},
  ])
}

/** Starts every route's listener; rejects with the first listen error (e.g. EADDRINUSE), having closed the others. */
export async function startFaultProxy(routes: readonly FaultProxyRoute[], options: FaultProxyOptions = {}): Promise<FaultProxy> {
  assert(routes.length > 0, 'a fault proxy has at least one route')
  const names = new Set<string>()
  for (const route of routes) {
    assert(route.name.length > 0, 'a route names its node')
    assert(!names.has(route.name), `route names are unique ("${route.name}" twice)`)
    names.add(route.name)
    assert(route.listenHost.length > 0 && route.targetHost.length > 0, 'a route has a listen host and a target host')
    assert(Number.isInteger(route.listenPort) && route.listenPort >= 0 && route.listenPort <= 0xffff, 'listen port is 0..65535')
    assert(Number.isInteger(route.targetPort) && route.targetPort >= 1 && route.targetPort <= 0xffff, 'target port is 1..65535')
  }
  const settings: Settings = {
    helloBytesMax: options.helloBytesMax ?? helloBytesMaxDefault,
    holdBytesMax: options.holdBytesMax ?? holdBytesMaxDefault,
    connectionsMax: options.connectionsMax ?? connectionsMaxDefault,
  }
  assert(Number.isInteger(settings.helloBytesMax) && settings.helloBytesMax >= frameBytesMin, 'helloBytesMax fits at least the smallest frame')
  assert(Number.isInteger(settings.holdBytesMax) && settings.holdBytesMax >= 1, 'holdBytesMax is a positive integer')
  assert(Number.isInteger(settings.connectionsMax) && settings.connectionsMax >= 1, 'connectionsMax is a positive integer')

  const listening: ListeningRoute[] = []
  try {
    for (const route of routes) listening.push({route, server: await listen(route), port: 0})
  } catch (error) {
    await Promise.all(listening.map(({server}) => closeServer(server)))
    throw error
  }
  for (const entry of listening) {
    const bound = entry.server.address()
    assert(bound !== null && typeof bound === 'object', 'a listening TCP server has an address')
    entry.port = bound.port
  }
  return new TcpFaultProxy(listening, settings)
}

function listen(route: FaultProxyRoute): Promise<net.Server> {
  const server = net.createServer()
  return new Promise<net.Server>((resolve, reject) => {
    server.once('error', reject)
    server.listen({host: route.listenHost, port: route.listenPort}, () => {
      server.off('error', reject)
      resolve(server)
    })
  })
}

function closeServer(server: net.Server): Promise<void> {
  // The callback's error only says the server was not listening, which is closed enough.
  return new Promise<void>((resolve) => server.close(() => resolve()))
}

interface Settings {
  readonly helloBytesMax: number
  readonly holdBytesMax: number
  readonly connectionsMax: number
}

interface ListeningRoute {
  readonly route: FaultProxyRoute
  readonly server: net.Server
  port: number
}

/** One direction of one connection: the bytes read from `from` and written to `to`. */
interface Direction {
  /** Whether the bytes travel from the connection's source to its destination (client to upstream). */
  readonly towardsDestination: boolean
  /** The socket read from, paused while this direction holds bytes or `to` is full. */
  readonly from: net.Socket
  readonly to: net.Socket
  /** Chunks held behind a cut (or until the source is known), oldest first. */
  readonly held: Buffer[]
  heldBytes: number
}

/** One accepted connection and the upstream one it is forwarded to. */
interface Link {
  /** The route's name: the node the connection was opened to. */
  readonly destination: string
  /** The node that opened it, from its Hello; undefined while unknown (and for ever, if it did not say Hello). */
  source: string | undefined
  /** Whether the first frame has been read (or given up on): until then the client's bytes wait in `helloHead`. */
  identified: boolean
  /** The client's bytes until its first frame is whole, as one buffer (they are few). */
  helloHead: Buffer
  readonly client: net.Socket
  readonly upstream: net.Socket
  readonly toUpstream: Direction
  readonly toClient: Direction
  /** Set once either side closed or failed: nothing is forwarded any more, and both sockets are going. */
  finished: boolean
  /** Sockets of the two not yet closed; the link is forgotten at 0. */
  socketsOpen: number
}

class TcpFaultProxy implements FaultProxy {
  readonly #routes: ReadonlyMap<string, ListeningRoute>
  readonly #settings: Settings
  readonly #links = new Set<Link>()
  /** Sender name to the names its bytes are held from. */
  readonly #cuts = new Map<string, Set<string>>()
  /** close() calls waiting for the last link to be forgotten. */
  readonly #linksGoneWaiters: Array<() => void> = []
  #closing: Promise<void> | null = null
  #connectionsTotal = 0
  #connectionsRefused = 0
  #bytesForwarded = 0
  #bytesHeldNow = 0
  #errors = 0
  #holdOverflows = 0

  constructor(listening: readonly ListeningRoute[], settings: Settings) {
    this.#settings = settings
    this.#routes = new Map(listening.map((entry) => [entry.route.name, entry]))
    for (const {route, server} of listening) {
      server.on('connection', (client: net.Socket) => this.#accept(route, client))
      server.on('error', () => {
        this.#errors += 1
      })
    }
  }

  addressOf(name: string): string {
    const entry = this.#routes.get(name)
    assert(entry !== undefined, `"${name}" is the name of a route`)
    return formatAddress(entry.route.listenHost, entry.port)
  }

  block(from: string, to: string): void {
    this.#assertRoute(from)
    this.#assertRoute(to)
    assert(from !== to, 'a cut is between two different nodes')
    let blocked = this.#cuts.get(from)
    if (blocked === undefined) {
      blocked = new Set()
      this.#cuts.set(from, blocked)
    }
    blocked.add(to)
  }

  isolate(name: string): void {
    this.#assertRoute(name)
    for (const other of this.#routes.keys()) {
      if (other === name) continue
      this.block(name, other)
      this.block(other, name)
    }
  }

  partition(groups: readonly (readonly string[])[]): void {
    const seen = new Set<string>()
    for (const group of groups) {
      for (const name of group) {
        this.#assertRoute(name)
        assert(!seen.has(name), `"${name}" is in one group only`)
        seen.add(name)
      }
    }
    groups.forEach((group, index) => {
      for (const other of groups.slice(index + 1)) {
        for (const name of group) {
          for (const otherName of other) {
            this.block(name, otherName)
            this.block(otherName, name)
          }
        }
      }
    })
  }

  heal(): void {
    this.#cuts.clear()
    for (const link of this.#links) {
      this.#flush(link, link.toUpstream)
      this.#flush(link, link.toClient)
    }
  }

  isBlocked(from: string, to: string): boolean {
    this.#assertRoute(from)
    this.#assertRoute(to)
    return this.#cut(from, to)
  }

  stats(): FaultProxyStats {
    return {
      connectionsOpen: this.#links.size,
      connectionsTotal: this.#connectionsTotal,
      bytesForwarded: this.#bytesForwarded,
      bytesHeldNow: this.#bytesHeldNow,
      errors: this.#errors,
      connectionsRefused: this.#connectionsRefused,
      holdOverflows: this.#holdOverflows,
    }
  }

  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing
    const serversClosed = [...this.#routes.values()].map(({server}) => closeServer(server))
    for (const link of this.#links) this.#finish(link, {destroy: true})
    const linksGone = new Promise<void>((resolve) => {
      if (this.#links.size === 0) resolve()
      else this.#linksGoneWaiters.push(resolve)
    })
    this.#closing = Promise.all([...serversClosed, linksGone]).then(() => {})
    return this.#closing
  }

  #assertRoute(name: string): void {
    assert(this.#routes.has(name), `"${name}" is the name of a route`)
  }

  #cut(from: string, to: string): boolean {
    return this.#cuts.get(from)?.has(to) ?? false
  }

  // ---- connections ----

  #accept(route: FaultProxyRoute, client: net.Socket): void {
    client.on('error', () => {
      this.#errors += 1
    })
    if (this.#closing !== null || this.#links.size >= this.#settings.connectionsMax) {
      this.#connectionsRefused += 1
      client.destroy()
      return
    }
    let upstream: net.Socket
    try {
      // Connected at once, not after the Hello: Node queues what is written until it is up.
      upstream = net.connect({host: route.targetHost, port: route.targetPort})
    } catch {
      this.#errors += 1
      client.destroy()
      return
    }
    upstream.on('error', () => {
      this.#errors += 1
    })
    // The proxy must add no delay of its own: dyn's frames are small and latency-bound.
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    const link: Link = {
      destination: route.name,
      source: undefined,
      identified: false,
      helloHead: Buffer.alloc(0),
      client,
      upstream,
      toUpstream: {towardsDestination: true, from: client, to: upstream, held: [], heldBytes: 0},
      toClient: {towardsDestination: false, from: upstream, to: client, held: [], heldBytes: 0},
      finished: false,
      socketsOpen: 2,
    }
    this.#links.add(link)
    this.#connectionsTotal += 1
    client.on('data', (chunk: Buffer) => this.#guarded(link, () => this.#onClientBytes(link, chunk)))
    upstream.on('data', (chunk: Buffer) => this.#guarded(link, () => this.#forward(link, link.toClient, chunk)))
    for (const direction of [link.toUpstream, link.toClient]) {
      direction.to.on('drain', () => this.#guarded(link, () => this.#resumeIfFree(link, direction)))
    }
    for (const socket of [client, upstream]) {
      // A failed side takes the other down at once; its own 'close' follows.
      socket.on('error', () => this.#guarded(link, () => this.#finish(link, {destroy: true})))
      socket.on('end', () => this.#guarded(link, () => this.#onEnd(link, socket)))
      socket.on('close', () => this.#guarded(link, () => this.#onClose(link)))
    }
  }

  /**
   * Runs one socket event's work so that nothing it throws escapes into the event loop, where
   * it would end the verify run: counted, and the connection it concerns destroyed.
   */
  #guarded(link: Link, step: () => void): void {
    try {
      step()
    } catch {
      this.#errors += 1
      this.#finish(link, {destroy: true})
    }
  }

  #onClientBytes(link: Link, chunk: Buffer): void {
    if (link.identified) {
      this.#forward(link, link.toUpstream, chunk)
      return
    }
    if (link.finished) return
    link.helloHead = link.helloHead.length === 0 ? chunk : Buffer.concat([link.helloHead, chunk])
    this.#bytesHeldNow += chunk.length
    const verdict = readSource(link.helloHead, this.#settings.helloBytesMax)
    if (verdict !== 'incomplete') this.#identify(link, verdict.source)
  }

  /** Settles the connection's source and lets go what waited for it. */
  #identify(link: Link, source: string | undefined): void {
    link.identified = true
    link.source = source
    const head = link.helloHead
    link.helloHead = Buffer.alloc(0)
    this.#bytesHeldNow -= head.length
    if (head.length > 0) this.#forward(link, link.toUpstream, head)
    this.#flush(link, link.toClient)
  }

  /** Whether bytes may go in this direction now: the source is known (or known to be unknown), and no cut lies across it. */
  #passable(link: Link, direction: Direction): boolean {
    if (!link.identified) return false
    if (link.source === undefined) return true
    return direction.towardsDestination ? !this.#cut(link.source, link.destination) : !this.#cut(link.destination, link.source)
  }

  #forward(link: Link, direction: Direction, chunk: Buffer): void {
    if (link.finished) return
    // Behind bytes already held, a chunk waits its turn even if the cut is gone: order is kept.
    if (direction.held.length > 0 || !this.#passable(link, direction)) {
      this.#hold(link, direction, chunk)
      return
    }
    this.#write(direction, chunk)
  }

  #hold(link: Link, direction: Direction, chunk: Buffer): void {
    direction.held.push(chunk)
    direction.heldBytes += chunk.length
    this.#bytesHeldNow += chunk.length
    // What the sender writes next stays in the kernel's buffers and then the sender's, as TCP
    // keeps it behind a partition, instead of in this process.
    direction.from.pause()
    if (direction.heldBytes > this.#settings.holdBytesMax) {
      this.#holdOverflows += 1
      this.#finish(link, {destroy: true})
    }
  }

  #write(direction: Direction, chunk: Buffer): void {
    // A side being closed takes no more bytes; they go with the connection.
    if (direction.to.destroyed || direction.to.writableEnded) return
    this.#bytesForwarded += chunk.length
    if (!direction.to.write(chunk)) direction.from.pause()
  }

  /** Writes what a direction held, in order, if it may go now, and reads on. */
  #flush(link: Link, direction: Direction): void {
    if (link.finished || !this.#passable(link, direction)) return
    // Bounded by `holdBytesMax`, which is already in memory: written in one go, and the
    // sender is resumed only once the receiving socket has drained it.
    for (const chunk of direction.held.splice(0)) {
      direction.heldBytes -= chunk.length
      this.#bytesHeldNow -= chunk.length
      this.#write(direction, chunk)
    }
    this.#resumeIfFree(link, direction)
  }

  #resumeIfFree(link: Link, direction: Direction): void {
    if (link.finished || direction.held.length > 0 || direction.to.writableNeedDrain) return
    direction.from.resume()
  }

  #onEnd(link: Link, socket: net.Socket): void {
    // A client that ended before a whole first frame said no Hello: what it sent goes on as it is.
    if (socket === link.client && !link.identified) this.#identify(link, undefined)
    this.#finish(link, {destroy: false})
  }

  #onClose(link: Link): void {
    link.socketsOpen -= 1
    this.#finish(link, {destroy: false})
    if (link.socketsOpen > 0) return
    this.#links.delete(link)
    if (this.#links.size === 0) {
      for (const resolve of this.#linksGoneWaiters.splice(0)) resolve()
    }
  }

  /**
   * Closes both sides once either closed, ended or failed. Held bytes are dropped with the
   * connection; what was already written is still delivered unless `destroy` (a failure, a
   * bound, close()), which destroys both sockets at once. Idempotent: several events report one
   * broken connection.
   */
  #finish(link: Link, how: {destroy: boolean}): void {
    if (how.destroy) {
      link.client.destroy()
      link.upstream.destroy()
    }
    if (link.finished) return
    link.finished = true
    for (const direction of [link.toUpstream, link.toClient]) {
      this.#bytesHeldNow -= direction.heldBytes
      direction.held.length = 0
      direction.heldBytes = 0
    }
    this.#bytesHeldNow -= link.helloHead.length
    link.helloHead = Buffer.alloc(0)
    if (!how.destroy) {
      link.client.destroySoon()
      link.upstream.destroySoon()
    }
  }
}

/**
 * The source a connection's first bytes name: the nodeName of a Hello once the first frame is
 * whole, undefined when the first frame is anything else or cannot be a frame of at most
 * `helloBytesMax` bytes (so at most that many bytes wait for it), or 'incomplete' meanwhile.
 * Only the first frame is decoded: what follows it may be larger than `helloBytesMax`.
 */
function readSource(head: Buffer, helloBytesMax: number): {source: string | undefined} | 'incomplete' {
  if (head.length < lengthPrefixBytes) return 'incomplete'
  const frameBytes = lengthPrefixBytes + head.readUInt32BE(0)
  if (frameBytes > helloBytesMax) return {source: undefined}
  if (head.length < frameBytes) return 'incomplete'
  const decoded = new FrameDecoder(helloBytesMax).push(head.subarray(0, frameBytes))
  if (!decoded.ok) return {source: undefined}
  const frame = decoded.frames[0]
  if (frame === undefined || frame.type !== MessageType.Hello) return {source: undefined}
  const body = frame.body
  if (typeof body !== 'object' || body === null) return {source: undefined}
  const nodeName = (body as {nodeName?: unknown}).nodeName
  return {source: typeof nodeName === 'string' && nodeName.length > 0 ? nodeName : undefined}
}
