/** The TCP transport on loopback: requests both ways, failures as values, and bad input survived. */

import {test, type TestContext} from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import {DynError} from '../../src/errors.js'
import {encodeFrame, protocolVersion} from '../../src/transport/frame.js'
import {MessageType} from '../../src/transport/message-type.js'
import {systemClock, systemScheduler} from '../../src/node/system-time.js'
import {startTcpTransport, type TcpTransportOptions} from '../../src/transport/tcp-transport.js'
import type {RequestHandler, RpcResult, Transport} from '../../src/transport/transport.js'

const host = '127.0.0.1'
const realTime = {clock: systemClock, scheduler: systemScheduler}
const requestTimeoutMs = 5000

const echo: RequestHandler = async (type, body, fromNode) => ({type, body, fromNode})

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

function portOf(transport: Transport): number {
  return Number(transport.address.slice(transport.address.lastIndexOf(':') + 1))
}

function failure(result: RpcResult): string {
  return result.ok ? 'ok' : result.error
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** A handler whose answers the test releases by hand. */
function heldHandler(): {handler: RequestHandler; started: () => number; releaseAll: () => void} {
  const waiting: Array<() => void> = []
  let startedCount = 0
  return {
    handler: (_type, body) =>
      new Promise((resolve) => {
        startedCount += 1
        waiting.push(() => resolve(body))
      }),
    started: () => startedCount,
    releaseAll: () => {
      for (const release of waiting.splice(0)) release()
    },
  }
}

/** Opens a raw socket to `transport` and resolves once the transport has closed it. */
function rawSocketClosedAfter(t: TestContext, transport: Transport, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({host, port: portOf(transport)}, () => socket.write(bytes))
    t.after(() => socket.destroy())
    socket.on('error', () => {})
    socket.on('data', () => {})
    socket.on('close', () => resolve())
  })
}

function helloFrame(nodeName: string): Buffer {
  return encodeFrame({type: MessageType.Hello, requestId: 0, body: {protocolVersion, nodeName}})
}

test('two transports talk both ways, and the handler sees who asked', async (t) => {
  const a = await start(t, 'a')
  const b = await start(t, 'b')
  assert.equal(a.peerState(b.address), 'unknown')
  const fromA = await a.request(b.address, MessageType.ReplicaGet, {key: 'k', value: Buffer.from([1, 2])}, requestTimeoutMs)
  assert.deepStrictEqual(fromA, {
    ok: true,
    body: {type: MessageType.ReplicaGet, body: {key: 'k', value: Buffer.from([1, 2])}, fromNode: 'a'},
  })
  const fromB = await b.request(a.address, MessageType.Gossip, ['x'], requestTimeoutMs)
  assert.deepStrictEqual(fromB, {ok: true, body: {type: MessageType.Gossip, body: ['x'], fromNode: 'b'}})
  assert.equal(a.peerState(b.address), 'connected')
  assert.equal(b.peerState(a.address), 'connected')
})

test('concurrent requests are matched to their own answers', async (t) => {
  const a = await start(t, 'a')
  const b = await start(t, 'b', async (_type, body) => {
    // Answer out of order: later requests often finish first.
    await sleep((body as number) % 7)
    return {doubled: (body as number) * 2}
  })
  const results = await Promise.all(
    Array.from({length: 300}, (_, i) => a.request(b.address, MessageType.ReplicaPut, i, requestTimeoutMs)),
  )
  results.forEach((result, i) => assert.deepStrictEqual(result, {ok: true, body: {doubled: i * 2}}))
})

test('a 1 MiB value crosses intact', async (t) => {
  const a = await start(t, 'a')
  const b = await start(t, 'b', async (_type, body) => body)
  const value = Buffer.alloc(1024 * 1024, 0xab)
  value.writeUInt32BE(0xdeadbeef, 512 * 1024)
  const result = await a.request(b.address, MessageType.ReplicaPut, {value}, requestTimeoutMs)
  assert.deepStrictEqual(result, {ok: true, body: {value}})
})

test('a handler error reaches the caller as remote with its code', async (t) => {
  const a = await start(t, 'a')
  const b = await start(t, 'b', async (type) => {
    if (type === MessageType.ReplicaGet) throw new DynError('not_found', 'no such key')
    if (type === MessageType.ReplicaPut) throw new Error('bug')
    throw 'a string'
  })
  const coded = await a.request(b.address, MessageType.ReplicaGet, null, requestTimeoutMs)
  assert.deepStrictEqual(coded, {ok: false, error: 'remote', code: 'not_found', message: 'no such key'})
  const uncoded = await a.request(b.address, MessageType.ReplicaPut, null, requestTimeoutMs)
  assert.deepStrictEqual(uncoded, {ok: false, error: 'remote', code: 'internal', message: 'bug'})
  const thrownString = await a.request(b.address, MessageType.Gossip, null, requestTimeoutMs)
  assert.equal(thrownString.ok ? '' : thrownString.code, 'internal')
})

test('a handler that throws synchronously is answered too', async (t) => {
  const a = await start(t, 'a')
  const b = await start(t, 'b', ((): Promise<unknown> => {
    throw new DynError('bad_key', 'empty key')
  }) as RequestHandler)
  const result = await a.request(b.address, MessageType.CoordinateGet, null, requestTimeoutMs)
  assert.deepStrictEqual(result, {ok: false, error: 'remote', code: 'bad_key', message: 'empty key'})
})

test('a type that is not a request gets bad_request', async (t) => {
  const a = await start(t, 'a')
  const b = await start(t, 'b')
  for (const type of [200, MessageType.Response, MessageType.Hello]) {
    const result = await a.request(b.address, type, null, requestTimeoutMs)
    assert.equal(result.ok ? '' : result.code, 'bad_request', `type ${type}`)
  }
  assert.ok((await a.request(b.address, MessageType.Join, null, requestTimeoutMs)).ok)
})

test('a handler that never answers times out, and the connection still serves', async (t) => {
  const a = await start(t, 'a')
  const b = await start(t, 'b', (type, body) => (type === MessageType.ReplicaGet ? new Promise(() => {}) : echo(type, body, '')))
  const result = await a.request(b.address, MessageType.ReplicaGet, null, 50)
  assert.equal(failure(result), 'timeout')
  assert.ok((await a.request(b.address, MessageType.Gossip, null, requestTimeoutMs)).ok)
})

test('a closed peer fails its requests as unreachable and is reached again when it comes back', async (t) => {
  const a = await start(t, 'a')
  const held = heldHandler()
  const b = await startTcpTransport({host, port: 0, nodeName: 'b', handler: held.handler, ...realTime})
  const port = portOf(b)
  const waiting = a.request(b.address, MessageType.ReplicaGet, 'waiting', requestTimeoutMs)
  while (held.started() === 0) await sleep(5)
  await b.close()
  assert.equal(failure(await waiting), 'unreachable')
  // Nothing listens now: refused, then refused at once during the backoff.
  assert.equal(failure(await a.request(b.address, MessageType.ReplicaGet, null, requestTimeoutMs)), 'unreachable')
  assert.equal(failure(await a.request(b.address, MessageType.ReplicaGet, null, requestTimeoutMs)), 'unreachable')
  assert.equal(a.peerState(b.address), 'down')

  const revived = await start(t, 'b', echo, {port})
  assert.equal(revived.address, b.address)
  let result: RpcResult = {ok: false, error: 'unreachable', message: 'not tried'}
  // The backoff is at most a second; poll well past it.
  for (let attempt = 0; attempt < 100 && !result.ok; attempt++) {
    result = await a.request(b.address, MessageType.Gossip, 'again', requestTimeoutMs)
    if (!result.ok) await sleep(50)
  }
  assert.deepStrictEqual(result, {ok: true, body: {type: MessageType.Gossip, body: 'again', fromNode: 'a'}})
  assert.equal(a.peerState(b.address), 'connected')
})

test('an address where nothing listens, or no address at all, is unreachable', async (t) => {
  const a = await start(t, 'a')
  const probe = await startTcpTransport({host, port: 0, nodeName: 'probe', handler: echo, ...realTime})
  await probe.close()
  assert.equal(failure(await a.request(probe.address, MessageType.Gossip, null, requestTimeoutMs)), 'unreachable')
  for (const address of ['nope', ':80', 'host:', 'host:99999', 'host:0x10']) {
    assert.equal(failure(await a.request(address, MessageType.Gossip, null, requestTimeoutMs)), 'unreachable', address)
  }
})

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
    const socket = net.connect({host, port: portOf(b)}, () => {
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

test('beyond pendingPerPeerMax a request is overloaded at once; the others still answer', async (t) => {
  const a = await start(t, 'a', echo, {pendingPerPeerMax: 4})
  const held = heldHandler()
  const b = await start(t, 'b', held.handler)
  const waiting = Array.from({length: 4}, (_, i) => a.request(b.address, MessageType.ReplicaPut, i, requestTimeoutMs))
  assert.equal(failure(await a.request(b.address, MessageType.ReplicaPut, 'fifth', requestTimeoutMs)), 'overloaded')
  while (held.started() < 4) await sleep(5)
  held.releaseAll()
  assert.deepStrictEqual(await Promise.all(waiting), [0, 1, 2, 3].map((body) => ({ok: true, body})))
})

test('the receiving side bounds the handler calls it runs for one connection', async (t) => {
  const a = await start(t, 'a')
  const held = heldHandler()
  const b = await start(t, 'b', held.handler, {pendingPerPeerMax: 2})
  const waiting = Array.from({length: 3}, (_, i) => a.request(b.address, MessageType.ReplicaPut, i, requestTimeoutMs))
  const third = await waiting[2]
  assert.deepStrictEqual(third && !third.ok ? [third.error, third.code] : third, ['remote', 'overloaded'])
  held.releaseAll()
  assert.deepStrictEqual(await Promise.all(waiting.slice(0, 2)), [0, 1].map((body) => ({ok: true, body})))
})

test('a body that cannot be encoded is a failure value, not a throw', async (t) => {
  const a = await start(t, 'a')
  const b = await start(t, 'b')
  const symbol = await a.request(b.address, MessageType.ReplicaPut, {value: Symbol('no')}, requestTimeoutMs)
  assert.deepStrictEqual(symbol.ok ? symbol : [symbol.error, symbol.code], ['remote', 'bad_request'])
  const huge = await a.request(b.address, MessageType.ReplicaPut, Buffer.alloc(17 * 1024 * 1024), requestTimeoutMs)
  assert.deepStrictEqual(huge.ok ? huge : [huge.error, huge.code], ['remote', 'bad_request'])
  assert.ok((await a.request(b.address, MessageType.ReplicaPut, 'fine', requestTimeoutMs)).ok)
})

test('an answer that cannot be encoded reaches the caller as internal', async (t) => {
  const a = await start(t, 'a')
  const b = await start(t, 'b', async () => ({symbol: Symbol('no')}))
  const result = await a.request(b.address, MessageType.ReplicaGet, null, requestTimeoutMs)
  assert.deepStrictEqual(result.ok ? result : [result.error, result.code], ['remote', 'internal'])
})

test('close fails pending requests and later ones', async (t) => {
  const a = await startTcpTransport({host, port: 0, nodeName: 'a', handler: echo, ...realTime})
  const b = await start(t, 'b', () => new Promise(() => {}))
  const waiting = a.request(b.address, MessageType.ReplicaGet, null, requestTimeoutMs)
  await sleep(20)
  await a.close()
  assert.equal(failure(await waiting), 'unreachable')
  assert.equal(failure(await a.request(b.address, MessageType.ReplicaGet, null, requestTimeoutMs)), 'unreachable')
  await a.close()
})

test('listening on a port in use rejects with the listen error', async (t) => {
  const a = await start(t, 'a')
  await assert.rejects(
    startTcpTransport({host, port: portOf(a), nodeName: 'b', handler: echo, ...realTime}),
    (error: unknown) => (error as {code?: unknown}).code === 'EADDRINUSE',
  )
})
