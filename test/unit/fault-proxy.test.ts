/**
 * The fault proxy of `dyn verify` (src/verify/fault-proxy.ts) between two real TCP transports,
 * each behind a route: a transparent pipe with no cut; a one-way cut holds the bytes of one
 * direction only (so the requests of both nodes stop: one way the request is held, the other
 * way its answer), and what it held goes on where it stopped once healed; isolate and
 * partition cut both ways; a connection that does not start with a Hello is not cut; a
 * direction holding more than its bound costs its connection; close leaves nothing open.
 *
 * Only outcomes are asserted, never durations: a request whose failure is expected waits a
 * short time, and everything that should happen is waited for with a generous bound.
 */

import {test, type TestContext} from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import {randomBytes} from 'node:crypto'
import {encodeFrame, protocolVersion} from '../../src/transport/frame.js'
import {MessageType} from '../../src/transport/message-type.js'
import {systemClock, systemScheduler} from '../../src/node/system-time.js'
import {startTcpTransport, type TcpTransportOptions} from '../../src/transport/tcp-transport.js'
import type {RequestHandler, Transport} from '../../src/transport/transport.js'
import {startFaultProxy, type FaultProxy, type FaultProxyOptions, type FaultProxyRoute} from '../../src/verify/fault-proxy.js'
import {failure, requestTimeoutMs} from './transport-conformance.js'

const host = '127.0.0.1'
const realTime = {clock: systemClock, scheduler: systemScheduler}
/** How long a request waits where no answer can come: short, since only its failure is checked. */
const cutTimeoutMs = 300
/** How long anything that should happen is waited for: far beyond what a loaded machine needs. */
const eventuallyMs = 20_000

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1))
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Waits until `done` holds, checking every 50 ms; fails after `eventuallyMs`. */
async function eventually(what: string, done: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + eventuallyMs
  while (!(await done())) {
    assert.ok(Date.now() < deadline, `${what}: not within ${eventuallyMs} ms`)
    await sleep(50)
  }
}

function routeTo(name: string, targetPort: number): FaultProxyRoute {
  return {name, listenHost: host, listenPort: 0, targetHost: host, targetPort}
}

async function startProxy(t: TestContext, routes: readonly FaultProxyRoute[], options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const proxy = await startFaultProxy(routes, options)
  t.after(() => proxy.close())
  return proxy
}

/** Nodes `a` and `b`, each behind a route of one proxy; `seen` holds the request bodies each node's handler got. */
async function twoNodes(t: TestContext, extra: Partial<TcpTransportOptions> = {}, options: FaultProxyOptions = {}) {
  const seen = {a: [] as unknown[], b: [] as unknown[]}
  const start = async (nodeName: 'a' | 'b'): Promise<Transport> => {
    const handler: RequestHandler = async (type, body, fromNode) => {
      seen[nodeName].push(body)
      return {type, body, fromNode}
    }
    const transport = await startTcpTransport({host, port: 0, nodeName, handler, ...realTime, ...extra})
    t.after(() => transport.close())
    return transport
  }
  const a = await start('a')
  const b = await start('b')
  const proxy = await startProxy(t, [routeTo('a', portOf(a.address)), routeTo('b', portOf(b.address))], options)
  return {a, b, proxy, seen, toA: proxy.addressOf('a'), toB: proxy.addressOf('b')}
}

/** Sends `body` from `from` to `to` until it is answered: after a heal, the transport may first have to reopen its connection. */
async function eventuallyAnswered(from: Transport, to: string, body: string): Promise<void> {
  await eventually(`an answer to ${body}`, async () => (await from.request(to, MessageType.Gossip, body, 2000)).ok)
}

async function timesOut(from: Transport, to: string, body: string): Promise<void> {
  assert.equal(failure(await from.request(to, MessageType.Gossip, body, cutTimeoutMs)), 'timeout', body)
}

test('with no cut the proxy is a transparent pipe, both ways, for small and large frames', async (t) => {
  const {a, b, proxy, toA, toB} = await twoNodes(t)
  // fromNode is what b read in a's Hello: it crossed unchanged.
  assert.deepStrictEqual(await a.request(toB, MessageType.Gossip, 'hi', requestTimeoutMs), {
    ok: true,
    body: {type: MessageType.Gossip, body: 'hi', fromNode: 'a'},
  })
  assert.deepStrictEqual(await b.request(toA, MessageType.Gossip, 'hi', requestTimeoutMs), {
    ok: true,
    body: {type: MessageType.Gossip, body: 'hi', fromNode: 'b'},
  })
  const value = randomBytes(1024 * 1024)
  const large = await a.request(toB, MessageType.ReplicaPut, {value}, requestTimeoutMs)
  assert.deepStrictEqual(large, {ok: true, body: {type: MessageType.ReplicaPut, body: {value}, fromNode: 'a'}})
  const many = await Promise.all(Array.from({length: 200}, (_, i) => a.request(toB, MessageType.ReplicaGet, i, requestTimeoutMs)))
  many.forEach((result, i) => assert.deepStrictEqual(result, {ok: true, body: {type: MessageType.ReplicaGet, body: i, fromNode: 'a'}}))

  const stats = proxy.stats()
  assert.equal(stats.connectionsOpen, 2)
  assert.equal(stats.connectionsTotal, 2)
  assert.equal(stats.bytesHeldNow, 0)
  assert.ok(stats.bytesForwarded > 2 * value.length, `${stats.bytesForwarded} bytes forwarded`)
  assert.equal(stats.errors, 0)
})

test('block(a, b) holds a to b only: a request of a never reaches b, one of b reaches a but not its answer; heal delivers what was held, mid-stream', async (t) => {
  // A clock that stands still: the transports never find a connection silent, so they keep
  // the ones they have, and what the cut held must go on over them once it heals.
  const clock = {nowMs: () => 0, monotonicMs: () => 0}
  const {a, b, proxy, seen, toA, toB} = await twoNodes(t, {clock})
  assert.ok((await a.request(toB, MessageType.Gossip, 'before', requestTimeoutMs)).ok)
  assert.ok((await b.request(toA, MessageType.Gossip, 'before', requestTimeoutMs)).ok)

  proxy.block('a', 'b')
  assert.equal(proxy.isBlocked('a', 'b'), true)
  assert.equal(proxy.isBlocked('b', 'a'), false)
  await timesOut(a, toB, 'held request')
  assert.ok(!seen.b.includes('held request'), 'a request of a reached b through the cut')
  await timesOut(b, toA, 'held answer')
  await eventually('b to a crosses the cut of a to b', () => seen.a.includes('held answer'))
  await eventually('the proxy holds bytes', () => proxy.stats().bytesHeldNow > 0)

  proxy.heal()
  assert.equal(proxy.isBlocked('a', 'b'), false)
  await eventually('the held request reaches b after the heal', () => seen.b.includes('held request'))
  assert.ok((await a.request(toB, MessageType.Gossip, 'after', requestTimeoutMs)).ok)
  assert.ok((await b.request(toA, MessageType.Gossip, 'after', requestTimeoutMs)).ok)
  const stats = proxy.stats()
  assert.equal(stats.connectionsTotal, 2, 'the connections carried on over the cut, none was reopened')
  assert.equal(stats.bytesHeldNow, 0)
})

test('a one-way block(b, a) stops the requests of a too: they reach b, their answers cannot come back', async (t) => {
  const {a, b, proxy, seen, toA, toB} = await twoNodes(t)
  // A first request of 1 MiB goes out with the Hello, in the same chunks: the source is read
  // from the Hello alone all the same.
  assert.ok((await a.request(toB, MessageType.ReplicaPut, {value: randomBytes(1024 * 1024)}, requestTimeoutMs)).ok)

  proxy.block('b', 'a')
  await timesOut(a, toB, 'unanswered')
  await eventually('the request of a reaches b', () => seen.b.includes('unanswered'))
  await timesOut(b, toA, 'held')
  assert.ok(!seen.a.includes('held'), 'a request of b reached a through the cut')

  proxy.heal()
  await eventuallyAnswered(a, toB, 'after heal')
  await eventuallyAnswered(b, toA, 'after heal')
})

test('isolate and partition cut both ways until healed', async (t) => {
  const {a, b, proxy, seen, toA, toB} = await twoNodes(t)
  const cuts: Array<[string, (proxy: FaultProxy) => void]> = [
    ['isolate', (p) => p.isolate('b')],
    ['partition', (p) => p.partition([['a'], ['b']])],
  ]
  for (const [label, cut] of cuts) {
    assert.ok((await a.request(toB, MessageType.Gossip, `before ${label}`, requestTimeoutMs)).ok)
    cut(proxy)
    assert.ok(proxy.isBlocked('a', 'b') && proxy.isBlocked('b', 'a'), label)
    await timesOut(a, toB, `${label} a to b`)
    await timesOut(b, toA, `${label} b to a`)
    assert.ok(!seen.b.includes(`${label} a to b`) && !seen.a.includes(`${label} b to a`), `a request crossed ${label}`)
    proxy.heal()
    assert.ok(!proxy.isBlocked('a', 'b') && !proxy.isBlocked('b', 'a'), label)
    await eventuallyAnswered(a, toB, `after ${label}`)
    await eventuallyAnswered(b, toA, `after ${label}`)
  }
})

test('cuts are per direction between route names, and a name that is no route is a programmer error', async (t) => {
  // Nothing connects in this test: the targets are never dialled.
  const proxy = await startProxy(t, ['a', 'b', 'c'].map((name) => routeTo(name, 1)))
  const blocked = (): string[] =>
    ['a', 'b', 'c'].flatMap((from) => ['a', 'b', 'c'].filter((to) => to !== from && proxy.isBlocked(from, to)).map((to) => from + to))
  proxy.partition([['a'], ['b', 'c']])
  assert.deepEqual(blocked(), ['ab', 'ac', 'ba', 'ca'])
  proxy.heal()
  proxy.isolate('c')
  assert.deepEqual(blocked(), ['ac', 'bc', 'ca', 'cb'])
  proxy.heal()
  proxy.block('c', 'a')
  // A partition adds its cuts to the ones already there.
  proxy.partition([['a'], ['b']])
  assert.deepEqual(blocked(), ['ab', 'ba', 'ca'])
  proxy.heal()
  assert.deepEqual(blocked(), [])
  assert.throws(() => proxy.block('a', 'x'), /assertion failed/)
  assert.throws(() => proxy.block('a', 'a'), /assertion failed/)
  assert.throws(() => proxy.partition([['a', 'b'], ['b']]), /assertion failed/)
  assert.throws(() => proxy.addressOf('x'), /assertion failed/)
})

/** A plain TCP server that echoes and keeps what each connection sent it. */
async function echoServer(t: TestContext): Promise<{port: number; received: Buffer[][]; closed: () => number}> {
  const received: Buffer[][] = []
  let closed = 0
  const server = net.createServer((socket) => {
    const chunks: Buffer[] = []
    received.push(chunks)
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      socket.write(chunk)
    })
    socket.on('close', () => {
      closed += 1
    })
  })
  const sockets = new Set<net.Socket>()
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen({host, port: 0}, resolve))
  t.after(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return {port: (server.address() as net.AddressInfo).port, received, closed: () => closed}
}

/** A raw client of `address` that keeps what comes back. */
async function rawClient(t: TestContext, address: string): Promise<{socket: net.Socket; echoed: () => Buffer}> {
  const chunks: Buffer[] = []
  const socket = net.connect({host, port: portOf(address)})
  t.after(() => socket.destroy())
  socket.on('error', () => {})
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  return {socket, echoed: () => Buffer.concat(chunks)}
}

function helloFrame(nodeName: string): Buffer {
  return encodeFrame({type: MessageType.Hello, requestId: 0, body: {protocolVersion, nodeName}})
}

test('a connection that does not start with a Hello has an unknown source: forwarded as it is both ways, whatever the cuts', async (t) => {
  const target = await echoServer(t)
  const proxy = await startProxy(t, [routeTo('a', target.port), routeTo('plain', target.port)])
  proxy.isolate('plain')
  const notFrames = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  const notHello = Buffer.concat([
    encodeFrame({type: MessageType.ReplicaGet, requestId: 1, body: {key: 'k'}}),
    encodeFrame({type: MessageType.Hello, requestId: 0, body: {protocolVersion, nodeName: 'a'}}),
  ])
  for (const bytes of [notFrames, notHello]) {
    const client = await rawClient(t, proxy.addressOf('plain'))
    client.socket.write(bytes)
    await eventually('the bytes arrive unchanged', () => target.received.some((chunks) => Buffer.concat(chunks).equals(bytes)))
    await eventually('their echo comes back', () => client.echoed().equals(bytes))
    // A side that closes closes the other.
    const closedBefore = target.closed()
    client.socket.end()
    await eventually('the target side closes too', () => target.closed() > closedBefore)
  }
  await eventually('no connection stays open', () => proxy.stats().connectionsOpen === 0)
  assert.equal(proxy.stats().connectionsTotal, 2)
  assert.equal(proxy.stats().bytesHeldNow, 0)
})

test('a raw connection that says Hello as a is held by block(a, plain) and delivered byte for byte by heal', async (t) => {
  const target = await echoServer(t)
  const proxy = await startProxy(t, [routeTo('a', target.port), routeTo('plain', target.port)])
  proxy.block('a', 'plain')
  const bytes = Buffer.concat([helloFrame('a'), encodeFrame({type: MessageType.Join, requestId: 7, body: {value: randomBytes(3000)}})])
  const client = await rawClient(t, proxy.addressOf('plain'))
  // In two writes, so that the Hello may arrive in pieces.
  client.socket.write(bytes.subarray(0, 5))
  await sleep(20)
  client.socket.write(bytes.subarray(5))
  await eventually('the proxy holds all of it', () => proxy.stats().bytesHeldNow === bytes.length)
  assert.equal(Buffer.concat(target.received.flat()).length, 0, 'bytes crossed the cut')
  proxy.heal()
  await eventually('the held bytes arrive unchanged', () => Buffer.concat(target.received.flat()).equals(bytes))
  // The answer travels plain to a, which was never cut.
  await eventually('their echo comes back', () => client.echoed().equals(bytes))
  assert.equal(proxy.stats().bytesHeldNow, 0)
})

test('a direction holding more than holdBytesMax costs its connection, and the node reconnects after the heal', async (t) => {
  // A bound of one byte: any chunk held behind the cut is over it.
  const {a, proxy, toB} = await twoNodes(t, {}, {holdBytesMax: 1})
  assert.ok((await a.request(toB, MessageType.Gossip, 'before', requestTimeoutMs)).ok)
  proxy.block('a', 'b')
  const result = await a.request(toB, MessageType.ReplicaPut, {value: randomBytes(256 * 1024)}, eventuallyMs)
  assert.equal(failure(result), 'unreachable', 'the connection was closed under the request')
  assert.equal(proxy.stats().holdOverflows, 1)
  proxy.heal()
  await eventuallyAnswered(a, toB, 'after heal')
})

test('close() closes every connection and frees every port, and may be called twice', async (t) => {
  const {a, b, proxy, toA, toB} = await twoNodes(t)
  assert.ok((await a.request(toB, MessageType.Gossip, 'before', requestTimeoutMs)).ok)
  assert.ok((await b.request(toA, MessageType.Gossip, 'before', requestTimeoutMs)).ok)
  proxy.block('a', 'b')
  await timesOut(a, toB, 'held at close')
  assert.equal(proxy.stats().connectionsOpen, 2)
  await Promise.all([proxy.close(), proxy.close()])
  await proxy.close()
  const stats = proxy.stats()
  assert.equal(stats.connectionsOpen, 0)
  assert.equal(stats.bytesHeldNow, 0)
  assert.notEqual(failure(await a.request(toB, MessageType.Gossip, 'after close', cutTimeoutMs)), 'ok')
  for (const address of [toA, toB]) {
    const server = net.createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({host, port: portOf(address)}, () => resolve())
    })
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
})
