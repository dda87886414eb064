/**
 * The TCP transport on loopback: the shared Transport contract suite (transport-conformance.ts),
 * then what only real sockets have: bad bytes from the network survived, a raw client served,
 * a port in use refused, the back-off and the log of a dead peer; a connection that went silent
 * (behind a proxy that plays a partition) reopened, so a peer answers within a few heartbeats
 * of a heal whatever the partition's length; an HTTP port named as such; an advertised address.
 */

import {test, type TestContext} from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import {encodeFrame, FrameDecoder, protocolVersion} from '../../src/transport/frame.js'
import type {Frame} from '../../src/transport/frame.js'
import {stoppingRefusal} from '../../src/transport/rpc-common.js'
import {MessageType} from '../../src/transport/message-type.js'
import {systemClock, systemScheduler} from '../../src/node/system-time.js'
import {isUnspecifiedHost, startTcpTransport, type TcpTransportOptions} from '../../src/transport/tcp-transport.js'
import type {RequestHandler, Transport} from '../../src/transport/transport.js'
import {echo, failure, heldHandler, requestTimeoutMs, transportConformance, type TransportWorld} from './transport-conformance.js'

const host = '127.0.0.1'
const realTime = {clock: systemClock, scheduler: systemScheduler}

async function start(
  t: TestContext,
  nodeName: string,
  handler: RequestHandler = echo,
  extra: Partial<TcpTransportOptions> = {},
): Promise<Transport> {
  const transport = await startTcpTransport({host, port: 0, nodeName, handler, ...realTime, ...extra})
  t.after(() => transport.close())
  return transport
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1))
}

function tcpWorld(t: TestContext, secret?: Buffer): TransportWorld {
  return {
    start: (nodeName, handler = echo, extra = {}) =>
      start(t, nodeName, handler, {
        ...(extra.pendingPerPeerMax === undefined ? {} : {pendingPerPeerMax: extra.pendingPerPeerMax}),
        ...(extra.address === undefined ? {} : {port: portOf(extra.address)}),
        ...(secret === undefined ? {} : {secret}),
      }),
    deadAddress: async () => {
      const probe = await startTcpTransport({host, port: 0, nodeName: 'probe', handler: echo, ...realTime})
      await probe.close()
      return probe.address
    },
    delay: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    run: (promise) => promise,
  }
}

transportConformance('TCP', (t) => tcpWorld(t))
// Every guarantee holds the same once each connection begins with the cluster secret's handshake.
transportConformance('TCP with a cluster secret', (t) => tcpWorld(t, Buffer.from('a cluster secret of the conformance suite')))

/** Opens a raw socket to `transport` and resolves once the transport has closed it. */
function rawSocketClosedAfter(t: TestContext, transport: Transport, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({host, port: portOf(transport.address)}, () => socket.write(bytes))
    t.after(() => socket.destroy())
    socket.on('error', () => {})
    socket.on('data', () => {})
    socket.on('close', () => resolve())
  })
}

function helloFrame(nodeName: string): Buffer {
  return encodeFrame({type: MessageType.Hello, requestId: 0, body: {protocolVersion, nodeName}})
}

test('garbage, a huge length prefix or a missing Hello close that socket only', async (t) => {
  const a = await start(t, 'a')
  const b = await start(t, 'b')
  assert.ok((await a.request(b.address, MessageType.Gossip, 'before', requestTimeoutMs)).ok)

  const hugePrefix = Buffer.concat([helloFrame('raw'), Buffer.from([0xff, 0xff, 0xff, 0xff, protocolVersion])])
  const noHello = encodeFrame({type: MessageType.ReplicaGet, requestId: 1, body: null})
  const wrongVersionHello = encodeFrame({type: MessageType.Hello, requestId: 0, body: {protocolVersion: 99, nodeName: 'x'}})
  const badBody = Buffer.concat([helloFrame('raw'), Buffer.from([0, 0, 0, 8, protocolVersion, 20, 0, 0, 0, 1, 0x92, 0x01])])
  await Promise.all(
    [Buffer.from('GET / HTTP/1.1\r\n\r\n'), hugePrefix, noHello, wrongVersionHello, badBody].map((bytes) =>
      rawSocketClosedAfter(t, b, bytes),
    ),
  )
  assert.deepStrictEqual(await a.request(b.address, MessageType.Gossip, 'after', requestTimeoutMs), {
    ok: true,
    body: {type: MessageType.Gossip, body: 'after', fromNode: 'a'},
  })
  assert.equal(a.peerState(b.address), 'connected')
})

test('a raw client that says Hello is served like any node', async (t) => {
  const b = await start(t, 'b')
  const answer = await new Promise<Buffer>((resolve, reject) => {
    const socket = net.connect({host, port: portOf(b.address)}, () => {
      socket.write(Buffer.concat([helloFrame('raw'), encodeFrame({type: MessageType.Join, requestId: 9, body: 'hi'})]))
    })
    t.after(() => socket.destroy())
    socket.on('error', reject)
    socket.once('data', resolve)
  })
  assert.equal(answer[5], MessageType.Response)
  assert.equal(answer.readUInt32BE(6), 9)
})

test('a peer answering garbage fails the request as unreachable, and the caller survives', async (t) => {
  const a = await start(t, 'a')
  const liar = net.createServer((socket) => {
    socket.on('error', () => {})
    socket.once('data', () => socket.write(Buffer.from([0, 0, 0, 3, 9, 9, 9])))
  })
  await new Promise<void>((resolve) => liar.listen({host, port: 0}, resolve))
  t.after(() => new Promise<void>((resolve) => liar.close(() => resolve())))
  const address = `${host}:${(liar.address() as net.AddressInfo).port}`
  assert.equal(failure(await a.request(address, MessageType.Gossip, null, requestTimeoutMs)), 'unreachable')
})

test('listening on a port in use rejects with the listen error', async (t) => {
  const a = await start(t, 'a')
  await assert.rejects(
    startTcpTransport({host, port: portOf(a.address), nodeName: 'b', handler: echo, ...realTime}),
    (error: unknown) => (error as {code?: unknown}).code === 'EADDRINUSE',
  )
})

test('a dead peer is logged once, reconnects back off up to the cap, and its return is logged once', async (t) => {
  // The back-off is read from the clock: a clock moved by hand, half a second per heartbeat.
  let nowMs = 0
  const clock = {nowMs: () => nowMs, monotonicMs: () => nowMs}
  const lines: string[] = []
  const a = await start(t, 'a', echo, {clock, log: (line) => lines.push(line)})
  const dead = await tcpWorld(t).deadAddress()
  let attempts = 0
  const messages: string[] = []
  for (let beat = 0; beat < 120; beat += 1) {
    const result = await a.request(dead, MessageType.Ping, {from: 'a'}, requestTimeoutMs)
    assert.equal(result.ok, false)
    messages.push(result.ok ? '' : result.message)
    if (!/next connect attempt/.test(result.ok ? '' : result.message)) attempts += 1
    nowMs += 500
  }
  // Every failure says why, the back-off's too: a join through this address says what to check
  // (it once got "connection to ... closed", then "... is down; next connect attempt in 3499 ms").
  const refused = `cannot connect to ${dead}: nothing listens on that port (connection refused, ECONNREFUSED)`
  assert.equal(messages[0], refused)
  assert.ok(messages.some((message) => message.startsWith(`${dead} is down (${refused}); next connect attempt in `)), messages.slice(0, 4).join('\n'))
  // A minute of heartbeats: 100 ms, 200 ms, ... doubling to 5 s, then one attempt per 5 s.
  assert.ok(attempts <= 18, `${attempts} connect attempts in a minute`)
  assert.equal(lines.filter((line) => line.includes(dead)).length, 1, lines.join('\n'))
  assert.match(lines[0] ?? '', /is unreachable \(.*ECONNREFUSED.*\); trying again with a back-off/)

  // The peer comes back on its address and says Hello first: tried at once, logged once.
  const back = await start(t, 'back', echo, {port: portOf(dead)})
  assert.ok((await back.request(a.address, MessageType.Ping, {from: 'back'}, requestTimeoutMs)).ok)
  assert.ok((await a.request(dead, MessageType.Ping, {from: 'a'}, requestTimeoutMs)).ok)
  assert.deepEqual(lines.slice(1), [`transport ${a.address}: ${dead} answers again`])
})

/**
 * A TCP proxy in front of `targetPort`. `cut` makes every connection, open or opened later,
 * carry nothing (what a partition does to the bytes written on it); `heal` lets the connections
 * opened from then on carry again, while the ones from before stay stuck, as a connection does
 * whose kernel is between two retransmissions, seconds or minutes apart, after a long cut.
 */
async function cuttableProxy(t: TestContext, targetPort: number): Promise<{address: string; accepted: () => number; cut: () => void; heal: () => void}> {
  const links: Array<{client: net.Socket; upstream: net.Socket; stuck: boolean}> = []
  let cut = false
  const server = net.createServer((client) => {
    const upstream = net.connect({host, port: targetPort})
    const link = {client, upstream, stuck: cut}
    links.push(link)
    client.on('data', (bytes: Buffer) => {
      if (!link.stuck) upstream.write(bytes)
    })
    upstream.on('data', (bytes: Buffer) => {
      if (!link.stuck) client.write(bytes)
    })
    for (const [one, other] of [[client, upstream], [upstream, client]] as const) {
      one.on('error', () => {})
      one.on('close', () => other.destroy())
    }
  })
  await new Promise<void>((resolve) => server.listen({host, port: 0}, resolve))
  t.after(async () => {
    for (const link of links) link.client.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return {
    address: `${host}:${(server.address() as net.AddressInfo).port}`,
    accepted: () => links.length,
    cut: () => {
      cut = true
      for (const link of links) link.stuck = true
    },
    heal: () => {
      cut = false
    },
  }
}

test('a request that times out on a connection silent for a second reopens it; what waited on it fails as a timeout', async (t) => {
  let nowMs = 0
  const clock = {nowMs: () => nowMs, monotonicMs: () => nowMs}
  const lines: string[] = []
  const a = await start(t, 'a', echo, {clock, log: (line) => lines.push(line)})
  const b = await start(t, 'b')
  const proxy = await cuttableProxy(t, portOf(b.address))
  assert.ok((await a.request(proxy.address, MessageType.Ping, {from: 'a'}, requestTimeoutMs)).ok)

  // The partition comes and goes while the connection is open; the kernel holds what a writes.
  proxy.cut()
  const waiting = a.request(proxy.address, MessageType.Gossip, 'long', requestTimeoutMs)
  nowMs += 1000
  proxy.heal()
  const timedOut = await a.request(proxy.address, MessageType.Ping, {from: 'a'}, 20)
  assert.equal(failure(timedOut), 'timeout')
  // The long request did not wait out its 5 s on a connection that had gone quiet.
  const early = await waiting
  assert.equal(failure(early), 'timeout')
  assert.match(early.ok ? '' : early.message, /nothing from .* for 1000 ms while a request timed out; reopening the connection/)
  // It had answered before, so the next request reconnects at once, on a fresh connection.
  assert.deepStrictEqual(await a.request(proxy.address, MessageType.Gossip, 'after', 2000), {ok: true, body: {type: MessageType.Gossip, body: 'after', fromNode: 'a'}})
  assert.equal(proxy.accepted(), 2)
  assert.deepEqual(lines, [`transport ${a.address}: lost the connection to ${proxy.address} (nothing from ${proxy.address} for 1000 ms while a request timed out; reopening the connection)`])
})

test('a request that times out on a live connection leaves it open', async (t) => {
  let nowMs = 0
  const clock = {nowMs: () => nowMs, monotonicMs: () => nowMs}
  const a = await start(t, 'a', echo, {clock})
  const b = await start(t, 'b', (type, body, fromNode) => (type === MessageType.ReplicaGet ? new Promise(() => {}) : echo(type, body, fromNode)))
  const proxy = await cuttableProxy(t, portOf(b.address))
  assert.ok((await a.request(proxy.address, MessageType.Ping, {from: 'a'}, requestTimeoutMs)).ok)
  nowMs += 5000
  // A slow handler, while heartbeats still come back: the connection is alive.
  assert.ok((await a.request(proxy.address, MessageType.Ping, {from: 'a'}, requestTimeoutMs)).ok)
  assert.equal(failure(await a.request(proxy.address, MessageType.ReplicaGet, null, 50)), 'timeout')
  assert.ok((await a.request(proxy.address, MessageType.Ping, {from: 'a'}, requestTimeoutMs)).ok)
  assert.equal(proxy.accepted(), 1)
})

test('after a partition of any length, a peer answers again within a few heartbeats of the heal', async (t) => {
  // Heartbeats on a clock moved by hand, half a second each; the proxy plays the network.
  let nowMs = 0
  const clock = {nowMs: () => nowMs, monotonicMs: () => nowMs}
  const a = await start(t, 'a', echo, {clock})
  const b = await start(t, 'b')
  const proxy = await cuttableProxy(t, portOf(b.address))
  // The real time a request may wait is short where no answer can come, and generous where one
  // should, so that a slow machine makes no difference: only the hand-moved clock counts.
  const beat = async (timeoutMs: number): Promise<boolean> => {
    const result = await a.request(proxy.address, MessageType.Ping, {from: 'a'}, timeoutMs)
    nowMs += 500
    return result.ok
  }
  assert.ok(await beat(requestTimeoutMs))
  for (const cutBeats of [20, 120, 360]) {
    proxy.cut()
    for (let i = 0; i < cutBeats; i += 1) assert.equal(await beat(5), false)
    proxy.heal()
    let beatsToAnswer = 1
    while (!(await beat(1000))) {
      beatsToAnswer += 1
      // Before, every later request went on the connection the cut had stuck: never again.
      assert.ok(beatsToAnswer <= 6, `no answer within 6 heartbeats of a heal after ${cutBeats / 2} s of partition`)
    }
  }
})

test('an address that answers HTTP is said to be a client API port, at once', async (t) => {
  const lines: string[] = []
  const a = await start(t, 'a', echo, {log: (line) => lines.push(line)})
  const web = http.createServer((_request, response) => response.end('hello'))
  await new Promise<void>((resolve) => web.listen({host, port: 0}, resolve))
  t.after(() => new Promise<void>((resolve) => web.close(() => resolve())))
  const address = `${host}:${(web.address() as net.AddressInfo).port}`
  for (let i = 0; i < 2; i += 1) {
    // The first over the connection, the next refused during the back-off: both say why.
    const result = await a.request(address, MessageType.Join, null, requestTimeoutMs)
    assert.deepEqual(result.ok ? result : [result.error, result.code], ['unreachable', 'not_internode'])
    assert.match(result.ok ? '' : result.message, /answered in HTTP: it is a client API port \(dyn start --port\), not an internode port \(--rpc-port\)/)
  }
  assert.equal(lines.length, 1, lines.join('\n'))
})

/** Sends `parts` on a raw socket to `port`, one write each, a few ms apart, and resolves with everything the other side sent before it closed. */
function rawExchange(t: TestContext, port: number, parts: readonly string[]): Promise<string> {
  return new Promise((resolve) => {
    const received: Buffer[] = []
    const socket = net.connect({host, port}, async () => {
      for (const part of parts) {
        socket.write(part)
        await new Promise((wait) => setTimeout(wait, 20))
      }
    })
    t.after(() => socket.destroy())
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => received.push(chunk))
    socket.on('close', () => resolve(Buffer.concat(received).toString('utf8')))
  })
}

function httpGet(port: number, path: string): Promise<{status: number; body: string}> {
  return new Promise((resolve, reject) => {
    const request = http.get({host, port, path, agent: false}, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => resolve({status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8')}))
    })
    request.on('error', reject)
  })
}

test('an HTTP request at the internode port is answered 400 with where clients go, counted, logged per kind at powers of two, and the port serves on', async (t) => {
  const lines: string[] = []
  const rejected: string[] = []
  const a = await start(t, 'a')
  const b = await start(t, 'b', echo, {clientApiUrl: 'http://127.0.0.1:7070', log: (line) => lines.push(line), onRejected: (kind, reason) => rejected.push(`${kind}:${reason}`)})
  const port = portOf(b.address)
  const said = `clients use the client API port (http://127.0.0.1:7070, dyn start --port)`
  const answer = await httpGet(port, '/metrics')
  assert.deepEqual(answer, {status: 400, body: `port ${port} is the internode port of dyn node b, which speaks only the protocol between the nodes of a cluster, not HTTP: ${said}\n`})
  assert.equal(lines.length, 1, lines.join('\n'))
  assert.match(lines[0] ?? '', new RegExp(`^transport ${b.address}: an HTTP request \\(GET /metrics\\) from 127\\.0\\.0\\.1:\\d+ reached the internode port ${port}: clients use the client API port \\(http://127\\.0\\.0\\.1:7070, dyn start --port\\) \\(the first since the node started`))
  // A method split across writes is told apart all the same, once its space has come.
  assert.match(await rawExchange(t, port, ['OPTI', 'ONS /x HTTP/1.1\r\nhost: b\r\n\r\n']), /^HTTP\/1\.1 400 Bad Request\r\n[^]*clients use the client API port/)
  for (let i = 0; i < 100; i += 1) assert.equal((await httpGet(port, `/metrics?${i}`)).status, 400)
  // 102 requests: logged at the 1st, 2nd, 4th, ..., 64th, where one line a request made 102.
  const httpLines = lines.filter((line) => line.includes('an HTTP request'))
  assert.equal(httpLines.length, 7, httpLines.join('\n'))
  assert.match(httpLines[6] ?? '', /\(the 64th since the node started\)$/)
  assert.deepEqual(new Set(rejected), new Set(['hellos:http_request']))
  assert.equal(rejected.length, 102)
  assert.deepEqual(await a.request(b.address, MessageType.Gossip, 'after', requestTimeoutMs), {ok: true, body: {type: MessageType.Gossip, body: 'after', fromNode: 'a'}})
})

test('connections refused for bad frames are logged per kind at powers of two, each counted', async (t) => {
  const lines: string[] = []
  const rejected: string[] = []
  const b = await start(t, 'b', echo, {log: (line) => lines.push(line), onRejected: (kind, reason) => rejected.push(`${kind}:${reason}`)})
  const hugePrefix = Buffer.from([0xff, 0xff, 0xff, 0xff, protocolVersion])
  for (let i = 0; i < 20; i += 1) await rawSocketClosedAfter(t, b, hugePrefix)
  await rawSocketClosedAfter(t, b, encodeFrame({type: MessageType.ReplicaGet, requestId: 1, body: null}))
  assert.equal(rejected.filter((reason) => reason === 'frames:frame_too_large').length, 20)
  // 20 of one kind: the 1st, 2nd, 4th, 8th and 16th; the first of another kind is said all the same.
  assert.deepEqual(lines.map((line) => /(frame_too_large|not a valid Hello).*\((the \w+)/.exec(line)?.slice(1).join(' ')), ['frame_too_large the first', 'frame_too_large the 2nd', 'frame_too_large the 4th', 'frame_too_large the 8th', 'frame_too_large the 16th', 'not a valid Hello the first'])
})

test('an address that answers with bytes of another protocol is refused at once with not_internode, quoting them', async (t) => {
  // As Python's http.server answers a request line it cannot read: an HTML page, without a
  // status line (HTTP/0.9), then it closes.
  const page = '<!DOCTYPE HTML>\n<html lang="en">\n<head><title>Error response</title></head></html>\n'
  const python = net.createServer((socket) => {
    socket.on('error', () => {})
    socket.once('data', () => socket.end(page))
  })
  await new Promise<void>((resolve) => python.listen({host, port: 0}, resolve))
  t.after(() => new Promise<void>((resolve) => python.close(() => resolve())))
  const address = `${host}:${(python.address() as net.AddressInfo).port}`
  const lines: string[] = []
  const a = await start(t, 'a', echo, {log: (line) => lines.push(line)})
  for (const callerPaced of [true, true, false]) {
    const result = await a.request(address, MessageType.Join, null, requestTimeoutMs, {callerPaced})
    assert.deepEqual(result.ok ? result : [result.error, result.code], ['unreachable', 'not_internode'])
    assert.match(result.ok ? '' : result.message, new RegExp(`^${address} answered with bytes that are not dyn's internode protocol, beginning "<!DOCTYPE HTML>\\?<html lang="en">\\.\\.\\.": it is no dyn node's internode port \\(--rpc-port\\)`))
  }
  assert.doesNotMatch(lines.join('\n'), /frame_too_large/)
})

test('a caller that paces its own tries connects on each, past the back-off, and its failures are not logged', async (t) => {
  // A join through its seeds: it tries every half second and says itself what it does. The clock
  // stands still, so the back-off of the first refused connect never ends by itself.
  const clock = {nowMs: () => 0, monotonicMs: () => 0}
  const lines: string[] = []
  const a = await start(t, 'a', echo, {clock, log: (line) => lines.push(line)})
  const dead = await tcpWorld(t).deadAddress()
  const refused = `cannot connect to ${dead}: nothing listens on that port (connection refused, ECONNREFUSED)`
  for (let i = 0; i < 3; i += 1) {
    const result = await a.request(dead, MessageType.Join, null, requestTimeoutMs, {callerPaced: true})
    assert.equal(result.ok ? '' : result.message, refused, 'each try is a connect of its own')
  }
  const ordinary = await a.request(dead, MessageType.Ping, {from: 'a'}, requestTimeoutMs)
  assert.match(ordinary.ok ? '' : ordinary.message, /next connect attempt in/)
  // Back on its address: the next paced try reaches it, while the back-off still holds the others.
  const back = await start(t, 'back', echo, {port: portOf(dead)})
  assert.match(await a.request(back.address, MessageType.Ping, {from: 'a'}, requestTimeoutMs).then((result) => (result.ok ? '' : result.message)), /next connect attempt in/)
  assert.ok((await a.request(back.address, MessageType.Join, null, requestTimeoutMs, {callerPaced: true})).ok)
  // An address that answers HTTP: refused as such, and not logged either.
  const web = http.createServer((_request, response) => response.end('hello'))
  await new Promise<void>((resolve) => web.listen({host, port: 0}, resolve))
  t.after(() => new Promise<void>((resolve) => web.close(() => resolve())))
  const httpResult = await a.request(`${host}:${(web.address() as net.AddressInfo).port}`, MessageType.Join, null, requestTimeoutMs, {callerPaced: true})
  assert.deepEqual(httpResult.ok ? httpResult : httpResult.code, 'not_internode')
  assert.deepEqual(lines, [])
})

test('a transport listening on every interface announces the address it advertises', async (t) => {
  const a = await start(t, 'a')
  const b = await startTcpTransport({host: '0.0.0.0', advertiseHost: host, port: 0, nodeName: 'b', handler: echo, ...realTime})
  t.after(() => b.close())
  assert.equal(b.address, `${host}:${portOf(b.address)}`)
  assert.ok((await a.request(b.address, MessageType.Ping, {from: 'a'}, requestTimeoutMs)).ok)
  for (const unspecified of ['0.0.0.0', '::', '[::]', '0:0::0']) assert.ok(isUnspecifiedHost(unspecified), unspecified)
  for (const specified of ['127.0.0.1', '::1', '10.0.0.0', 'db-1.example', 'localhost']) assert.ok(!isUnspecifiedHost(specified), specified)
})

test('a draining transport answers what it has begun, refuses the rest as stopping, and its peer sends it nothing more', async (t) => {
  const a = await start(t, 'a')
  const held = heldHandler()
  const b = await startTcpTransport({host, port: 0, nodeName: 'b', handler: held.handler, ...realTime})
  t.after(() => b.close())
  const begun = a.request(b.address, MessageType.Gossip, 'begun', requestTimeoutMs)
  while (held.started() === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  let drained = false
  const draining = b.drainInbound().then(() => (drained = true))
  // Until the stopping notice reaches it, what a sends is refused as stopping (never served);
  // from then on a sends nothing to b: refused at once, as not sent.
  for (let tries = 0; ; tries += 1) {
    assert.ok(tries < 1000, 'the stopping notice arrived')
    const result = await a.request(b.address, MessageType.Gossip, 'late', requestTimeoutMs)
    assert.ok(!result.ok, 'nothing is served once b drains')
    if (result.error === 'remote') {
      assert.equal(result.code, 'overloaded')
      continue
    }
    assert.equal(result.error, 'unreachable')
    assert.equal(result.sent, false)
    assert.match(result.message, /is stopping/)
    break
  }
  assert.equal(held.started(), 1, 'no request after the drain began reached the handler')
  assert.equal(drained, false, 'the drain waits for the request it has begun')
  held.releaseAll()
  assert.deepEqual(await begun, {ok: true, body: 'begun'})
  await draining
  // b has ended the connection: a tries a new one, which the closed port refuses.
  assert.equal(failure(await a.request(b.address, MessageType.Gossip, 'after', requestTimeoutMs)), 'unreachable')
})

test('requests sent after the first a stopping peer refused, cut off by its close, fail as not sent', async (t) => {
  const a = await start(t, 'a')
  // A peer that reads a Hello and two requests, refuses the first as a stopping node does, and
  // closes without reading the second any further: the second was never served.
  const stopping = net.createServer((socket) => {
    socket.on('error', () => {})
    const decoder = new FrameDecoder()
    const requests: Frame[] = []
    socket.on('data', (chunk: Buffer) => {
      const decoded = decoder.push(chunk)
      if (!decoded.ok) return
      requests.push(...decoded.frames.filter((frame) => frame.type !== MessageType.Hello))
      if (requests.length < 2) return
      socket.write(encodeFrame({type: MessageType.ErrorResponse, requestId: (requests[0] as Frame).requestId, body: stoppingRefusal('stopping')}))
      socket.end()
    })
  })
  await new Promise<void>((resolve) => stopping.listen({host, port: 0}, resolve))
  t.after(() => new Promise<void>((resolve) => stopping.close(() => resolve())))
  const address = `${host}:${(stopping.address() as net.AddressInfo).port}`
  const [first, second] = await Promise.all([a.request(address, MessageType.Gossip, 1, requestTimeoutMs), a.request(address, MessageType.Gossip, 2, requestTimeoutMs)])
  assert.deepEqual(first.ok ? 'ok' : [first.error, first.code], ['remote', 'overloaded'])
  assert.deepEqual(second.ok ? 'ok' : [second.error, second.sent], ['unreachable', false])
})

test('the stopping notice goes only to peers whose Hello says they read it; a peer of an earlier version is refused request by request', async (t) => {
  const b = await startTcpTransport({host, port: 0, nodeName: 'b', handler: echo, ...realTime})
  t.after(() => b.close())
  /** A raw opener: its frames as they come, and a promise of the answer to request `id`. */
  const opener = async (hello: Record<string, unknown>): Promise<{socket: net.Socket; frames: Frame[]; answerTo: (id: number) => Promise<Frame>}> => {
    const socket = net.connect({host, port: portOf(b.address)})
    t.after(() => socket.destroy())
    socket.on('error', () => {})
    const decoder = new FrameDecoder()
    const frames: Frame[] = []
    const waiting = new Map<number, (frame: Frame) => void>()
    socket.on('data', (chunk: Buffer) => {
      const decoded = decoder.push(chunk)
      if (!decoded.ok) return
      for (const frame of decoded.frames) {
        frames.push(frame)
        waiting.get(frame.requestId)?.(frame)
      }
    })
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    socket.write(encodeFrame({type: MessageType.Hello, requestId: 0, body: {protocolVersion, ...hello}}))
    return {socket, frames, answerTo: (id) => new Promise((resolve) => waiting.set(id, resolve))}
  }
  const current = await opener({nodeName: 'current', stoppingNotice: true})
  const earlier = await opener({nodeName: 'earlier'})
  // Each is served before the drain: both handshakes are done.
  for (const [index, peer] of [current, earlier].entries()) {
    const answered = peer.answerTo(index + 1)
    peer.socket.write(encodeFrame({type: MessageType.Gossip, requestId: index + 1, body: 'before'}))
    assert.equal((await answered).type, MessageType.Response)
  }
  const drained = b.drainInbound()
  for (const [index, peer] of [current, earlier].entries()) {
    const answered = peer.answerTo(index + 10)
    peer.socket.write(encodeFrame({type: MessageType.Gossip, requestId: index + 10, body: 'after'}))
    const refusal = await answered
    assert.equal(refusal.type, MessageType.ErrorResponse)
    assert.deepEqual(refusal.body, stoppingRefusal('b'))
  }
  // The notice (request id 0, after the handshake) came before that refusal to the peer that reads it, and never to the other.
  const notices = (peer: typeof current): Frame[] => peer.frames.filter((frame) => frame.requestId === 0 && frame.type === MessageType.ErrorResponse)
  assert.deepEqual(notices(current).map((frame) => frame.body), [stoppingRefusal('b')])
  assert.deepEqual(notices(earlier), [])
  await drained
})

