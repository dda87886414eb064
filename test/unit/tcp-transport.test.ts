/**
 * The TCP transport on loopback: the shared Transport contract suite (transport-conformance.ts),
 * then what only real sockets have: bad bytes from the network survived, a raw client served,
 * and a port in use refused.
 */

import {test, type TestContext} from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import {encodeFrame, protocolVersion} from '../../src/transport/frame.js'
import {MessageType} from '../../src/transport/message-type.js'
import {systemClock, systemScheduler} from '../../src/node/system-time.js'
import {startTcpTransport, type TcpTransportOptions} from '../../src/transport/tcp-transport.js'
import type {RequestHandler, Transport} from '../../src/transport/transport.js'
import {echo, failure, requestTimeoutMs, transportConformance, type TransportWorld} from './transport-conformance.js'

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

function tcpWorld(t: TestContext): TransportWorld {
  return {
    start: (nodeName, handler = echo, extra = {}) =>
      start(t, nodeName, handler, {
        ...(extra.pendingPerPeerMax === undefined ? {} : {pendingPerPeerMax: extra.pendingPerPeerMax}),
        ...(extra.address === undefined ? {} : {port: portOf(extra.address)}),
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

transportConformance('TCP', tcpWorld)

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
  for (let beat = 0; beat < 120; beat += 1) {
    const result = await a.request(dead, MessageType.Ping, {from: 'a'}, requestTimeoutMs)
    assert.equal(result.ok, false)
    if (!/next connect attempt/.test(result.ok ? '' : result.message)) attempts += 1
    nowMs += 500
  }
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
