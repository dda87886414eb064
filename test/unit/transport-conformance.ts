/**
 * The Transport contract (src/transport/transport.ts) as one suite that every implementation
 * runs: TCP on loopback (tcp-transport.test.ts) and the simulated network
 * (simulated-network.test.ts). A world hides how each one starts transports and lets time pass;
 * the cases only see the Transport interface, so both must behave the same to pass.
 */
import {describe, it, type TestContext} from 'node:test'
import assert from 'node:assert/strict'
import {DynError} from '../../src/errors.js'
import {MessageType} from '../../src/transport/message-type.js'
import type {RequestHandler, RpcResult, Transport} from '../../src/transport/transport.js'

/** How one implementation starts transports and runs time, for one test. */
export interface TransportWorld {
  /** Starts a transport, at `address` when given (a restart on an address used before); it is closed when the test ends. */
  start(nodeName: string, handler?: RequestHandler, extra?: {pendingPerPeerMax?: number; address?: string}): Promise<Transport>
  /** An address where nothing listens, though it is well formed. */
  deadAddress(): Promise<string>
  /** Resolves `ms` from now on this world's time; handlers use it to take time. */
  delay(ms: number): Promise<void>
  /** Awaits `promise` from a test body, letting this world's time run meanwhile (simulated time needs driving). */
  run<T>(promise: Promise<T>): Promise<T>
}

export const requestTimeoutMs = 5000

export const echo: RequestHandler = async (type, body, fromNode) => ({type, body, fromNode})

export function failure(result: RpcResult): string {
  return result.ok ? 'ok' : result.error
}

/** A handler whose answers the test releases by hand. */
export function heldHandler(): {handler: RequestHandler; started: () => number; releaseAll: () => void} {
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

/** Lets time pass in steps of `stepMs` until `done` holds; fails after `stepsMax` steps. */
async function waitUntil(world: TransportWorld, done: () => boolean, stepMs = 5, stepsMax = 2000): Promise<void> {
  for (let step = 0; step < stepsMax && !done(); step += 1) await world.run(world.delay(stepMs))
  assert.ok(done(), `still not done after ${stepsMax} steps of ${stepMs} ms`)
}

export function transportConformance(name: string, newWorld: (t: TestContext) => TransportWorld): void {
  describe(`transport contract on ${name}`, () => {
    it('two transports talk both ways, and the handler sees who asked', async (t) => {
      const w = newWorld(t)
      const a = await w.start('a')
      const b = await w.start('b')
      assert.equal(a.peerState(b.address), 'unknown')
      const fromA = await w.run(a.request(b.address, MessageType.ReplicaGet, {key: 'k', value: Buffer.from([1, 2])}, requestTimeoutMs))
      assert.deepStrictEqual(fromA, {
        ok: true,
        body: {type: MessageType.ReplicaGet, body: {key: 'k', value: Buffer.from([1, 2])}, fromNode: 'a'},
      })
      const fromB = await w.run(b.request(a.address, MessageType.Gossip, ['x'], requestTimeoutMs))
      assert.deepStrictEqual(fromB, {ok: true, body: {type: MessageType.Gossip, body: ['x'], fromNode: 'b'}})
      assert.equal(a.peerState(b.address), 'connected')
      assert.equal(b.peerState(a.address), 'connected')
    })

    it('concurrent requests are matched to their own answers', async (t) => {
      const w = newWorld(t)
      const a = await w.start('a')
      const b = await w.start('b', async (_type, body) => {
        // Answer out of order: later requests often finish first.
        await w.delay((body as number) % 7)
        return {doubled: (body as number) * 2}
      })
      const results = await w.run(
        Promise.all(Array.from({length: 300}, (_, i) => a.request(b.address, MessageType.ReplicaPut, i, requestTimeoutMs))),
      )
      results.forEach((result, i) => assert.deepStrictEqual(result, {ok: true, body: {doubled: i * 2}}))
    })

    it('a 1 MiB value crosses intact', async (t) => {
      const w = newWorld(t)
      const a = await w.start('a')
      const b = await w.start('b', async (_type, body) => body)
      const value = Buffer.alloc(1024 * 1024, 0xab)
      value.writeUInt32BE(0xdeadbeef, 512 * 1024)
      const result = await w.run(a.request(b.address, MessageType.ReplicaPut, {value}, requestTimeoutMs))
      assert.deepStrictEqual(result, {ok: true, body: {value}})
    })

    it('a handler error reaches the caller as remote with its code', async (t) => {
      const w = newWorld(t)
      const a = await w.start('a')
      const b = await w.start('b', async (type) => {
        if (type === MessageType.ReplicaGet) throw new DynError('not_found', 'no such key')
        if (type === MessageType.ReplicaPut) throw new Error('bug')
        throw 'a string'
      })
      const coded = await w.run(a.request(b.address, MessageType.ReplicaGet, null, requestTimeoutMs))
      assert.deepStrictEqual(coded, {ok: false, error: 'remote', code: 'not_found', message: 'no such key'})
      const uncoded = await w.run(a.request(b.address, MessageType.ReplicaPut, null, requestTimeoutMs))
      assert.deepStrictEqual(uncoded, {ok: false, error: 'remote', code: 'internal', message: 'bug'})
      const thrownString = await w.run(a.request(b.address, MessageType.Gossip, null, requestTimeoutMs))
      assert.equal(thrownString.ok ? '' : thrownString.code, 'internal')
    })

    it('a handler that throws synchronously is answered too', async (t) => {
      const w = newWorld(t)
      const a = await w.start('a')
      const b = await w.start('b', ((): Promise<unknown> => {
        throw new DynError('bad_key', 'empty key')
      }) as RequestHandler)
      const result = await w.run(a.request(b.address, MessageType.CoordinateGet, null, requestTimeoutMs))
      assert.deepStrictEqual(result, {ok: false, error: 'remote', code: 'bad_key', message: 'empty key'})
    })

    it('a type that is not a request gets bad_request', async (t) => {
      const w = newWorld(t)
      const a = await w.start('a')
      const b = await w.start('b')
      for (const type of [200, MessageType.Response, MessageType.Hello]) {
        const result = await w.run(a.request(b.address, type, null, requestTimeoutMs))
        assert.equal(result.ok ? '' : result.code, 'bad_request', `type ${type}`)
      }
      assert.ok((await w.run(a.request(b.address, MessageType.Join, null, requestTimeoutMs))).ok)
    })

    it('a handler that never answers times out, and the connection still serves', async (t) => {
      const w = newWorld(t)
      const a = await w.start('a')
      const b = await w.start('b', (type, body) => (type === MessageType.ReplicaGet ? new Promise(() => {}) : echo(type, body, '')))
      const result = await w.run(a.request(b.address, MessageType.ReplicaGet, null, 50))
      assert.equal(failure(result), 'timeout')
      assert.ok((await w.run(a.request(b.address, MessageType.Gossip, null, requestTimeoutMs))).ok)
    })

    it('a closed peer fails its requests as unreachable and is reached again when it comes back', async (t) => {
      const w = newWorld(t)
      const a = await w.start('a')
      const held = heldHandler()
      const b = await w.start('b', held.handler)
      const waiting = a.request(b.address, MessageType.ReplicaGet, 'waiting', requestTimeoutMs)
      await waitUntil(w, () => held.started() > 0)
      await b.close()
      const broken = await w.run(waiting)
      assert.equal(failure(broken), 'unreachable')
      // The handler had it: the failure must not claim that nothing was sent.
      assert.ok(!broken.ok && broken.sent === undefined)
      // Nothing listens now: refused, then refused at once during the backoff, sending nothing.
      assert.equal(failure(await w.run(a.request(b.address, MessageType.ReplicaGet, null, requestTimeoutMs))), 'unreachable')
      const backingOff = await w.run(a.request(b.address, MessageType.ReplicaGet, null, requestTimeoutMs))
      assert.equal(failure(backingOff), 'unreachable')
      assert.ok(!backingOff.ok && backingOff.sent === false)
      assert.equal(a.peerState(b.address), 'down')

      const revived = await w.start('b', echo, {address: b.address})
      assert.equal(revived.address, b.address)
      let result: RpcResult = {ok: false, error: 'unreachable', message: 'not tried'}
      // The backoff is at most a second; poll well past it.
      for (let attempt = 0; attempt < 100 && !result.ok; attempt++) {
        result = await w.run(a.request(b.address, MessageType.Gossip, 'again', requestTimeoutMs))
        if (!result.ok) await w.run(w.delay(50))
      }
      assert.deepStrictEqual(result, {ok: true, body: {type: MessageType.Gossip, body: 'again', fromNode: 'a'}})
      assert.equal(a.peerState(b.address), 'connected')
    })

    it('an address where nothing listens, or no address at all, is unreachable', async (t) => {
      const w = newWorld(t)
      const a = await w.start('a')
      assert.equal(failure(await w.run(a.request(await w.deadAddress(), MessageType.Gossip, null, requestTimeoutMs))), 'unreachable')
      for (const address of ['nope', ':80', 'host:', 'host:99999', 'host:0x10']) {
        const result = await w.run(a.request(address, MessageType.Gossip, null, requestTimeoutMs))
        assert.equal(failure(result), 'unreachable', address)
        assert.ok(!result.ok && result.sent === false, address)
      }
    })

    it('beyond pendingPerPeerMax a request is overloaded at once; the others still answer', async (t) => {
      const w = newWorld(t)
      const a = await w.start('a', echo, {pendingPerPeerMax: 4})
      const held = heldHandler()
      const b = await w.start('b', held.handler)
      const waiting = Array.from({length: 4}, (_, i) => a.request(b.address, MessageType.ReplicaPut, i, requestTimeoutMs))
      assert.equal(failure(await w.run(a.request(b.address, MessageType.ReplicaPut, 'fifth', requestTimeoutMs))), 'overloaded')
      await waitUntil(w, () => held.started() >= 4)
      held.releaseAll()
      assert.deepStrictEqual(await w.run(Promise.all(waiting)), [0, 1, 2, 3].map((body) => ({ok: true, body})))
    })

    it('the receiving side bounds the handler calls it runs for one connection', async (t) => {
      const w = newWorld(t)
      const a = await w.start('a')
      const held = heldHandler()
      const b = await w.start('b', held.handler, {pendingPerPeerMax: 2})
      const waiting = Array.from({length: 3}, (_, i) => a.request(b.address, MessageType.ReplicaPut, i, requestTimeoutMs))
      // Which request finds the two slots taken depends on arrival order, which TCP keeps and the
      // simulated network need not: exactly one of the three is refused.
      await waitUntil(w, () => held.started() >= 2)
      const settledCount = {value: 0}
      const tracked = waiting.map((request) => request.then((result) => ((settledCount.value += 1), result)))
      await waitUntil(w, () => settledCount.value >= 1)
      held.releaseAll()
      const results = await w.run(Promise.all(tracked))
      const refused = results.filter((result) => !result.ok)
      assert.deepStrictEqual(refused.map((result) => (result.ok ? result : [result.error, result.code])), [['remote', 'overloaded']])
      assert.equal(results.filter((result) => result.ok).length, 2)
    })

    it('a body that cannot be encoded is a failure value, not a throw', async (t) => {
      const w = newWorld(t)
      const a = await w.start('a')
      const b = await w.start('b')
      const symbol = await w.run(a.request(b.address, MessageType.ReplicaPut, {value: Symbol('no')}, requestTimeoutMs))
      assert.deepStrictEqual(symbol.ok ? symbol : [symbol.error, symbol.code], ['remote', 'bad_request'])
      const huge = await w.run(a.request(b.address, MessageType.ReplicaPut, Buffer.alloc(17 * 1024 * 1024), requestTimeoutMs))
      assert.deepStrictEqual(huge.ok ? huge : [huge.error, huge.code], ['remote', 'bad_request'])
      assert.ok((await w.run(a.request(b.address, MessageType.ReplicaPut, 'fine', requestTimeoutMs))).ok)
    })

    it('an answer that cannot be encoded reaches the caller as internal', async (t) => {
      const w = newWorld(t)
      const a = await w.start('a')
      const b = await w.start('b', async () => ({symbol: Symbol('no')}))
      const result = await w.run(a.request(b.address, MessageType.ReplicaGet, null, requestTimeoutMs))
      assert.deepStrictEqual(result.ok ? result : [result.error, result.code], ['remote', 'internal'])
    })

    it('close fails pending requests and later ones', async (t) => {
      const w = newWorld(t)
      const a = await w.start('a')
      const b = await w.start('b', () => new Promise(() => {}))
      const waiting = a.request(b.address, MessageType.ReplicaGet, null, requestTimeoutMs)
      await w.run(w.delay(20))
      await a.close()
      assert.equal(failure(await w.run(waiting)), 'unreachable')
      assert.equal(failure(await w.run(a.request(b.address, MessageType.ReplicaGet, null, requestTimeoutMs))), 'unreachable')
      await a.close()
    })
  })
}
