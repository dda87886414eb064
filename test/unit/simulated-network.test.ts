/**
 * The simulated network (src/transport/simulated-network.ts): first the shared Transport
 * contract suite, as TCP runs it; then what only a simulation can show on purpose: seeded delays
 * that reorder and replay, message loss, one-way and two-way cuts, and crashes that lose what
 * was in flight and the node's timers, followed by restarts.
 */
import {describe, it, type TestContext} from 'node:test'
import assert from 'node:assert/strict'
import {seededRandom} from '../../src/clock.js'
import {sleep} from '../../src/scheduler.js'
import {SimulatedTime} from '../../src/simulated-time.js'
import {MessageType} from '../../src/transport/message-type.js'
import {SimulatedNetwork, type LinkProfile} from '../../src/transport/simulated-network.js'
import type {RequestHandler, RpcResult, Transport} from '../../src/transport/transport.js'
import {echo, failure, heldHandler, transportConformance, type TransportWorld} from './transport-conformance.js'

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
/** Virtual time one awaited step may take at most. */
const stepTimeMsMax = 600_000

interface SimWorld extends TransportWorld {
  readonly time: SimulatedTime
  readonly network: SimulatedNetwork
}

function simWorld(t: TestContext, seed = 1, link?: LinkProfile): SimWorld {
  const time = new SimulatedTime({settle})
  const network = new SimulatedNetwork({time, random: seededRandom(seed), ...(link === undefined ? {} : {link})})
  let hosts = 0
  return {
    time,
    network,
    start: async (nodeName, handler = echo, extra = {}) => {
      hosts += 1
      const address = extra.address ?? `10.0.0.${hosts}:7000`
      const transport = network.listen({
        address,
        nodeName,
        handler,
        // One view per address: a crash halts it, and a restart after a crash gets a new one.
        scheduler: time.node(address),
        ...(extra.pendingPerPeerMax === undefined ? {} : {pendingPerPeerMax: extra.pendingPerPeerMax}),
      })
      t.after(() => transport.close())
      return transport
    },
    deadAddress: async () => '10.0.9.9:7000',
    delay: (ms) => sleep(time, ms),
    run: (promise) => time.until(promise, stepTimeMsMax),
  }
}

transportConformance('the simulated network', (t) => simWorld(t))

/** Sends `count` requests at once and reports, per request, when (virtual ms after sending) its answer came, and in which order. */
async function timedRequests(w: SimWorld, from: Transport, to: Transport, count: number): Promise<{latenciesMs: number[]; order: number[]}> {
  const startedMs = w.time.monotonicMs()
  const order: number[] = []
  const latenciesMs = await w.run(
    Promise.all(
      Array.from({length: count}, (_, i) =>
        from.request(to.address, MessageType.Gossip, i, 10_000).then((result) => {
          assert.ok(result.ok, `request ${i}`)
          order.push(i)
          return w.time.monotonicMs() - startedMs
        }),
      ),
    ),
  )
  return {latenciesMs, order}
}

describe('simulated network: delay, reordering, loss', () => {
  const link: LinkProfile = {delayMsMin: 10, delayMsMax: 20, lossRate: 0}

  it('takes two one-way delays per answer (four with the handshake), reorders, and replays from the seed', async (t) => {
    const run = async (seed: number): Promise<{latenciesMs: number[]; order: number[]; first: number}> => {
      const w = simWorld(t, seed, link)
      const a = await w.start('a')
      const b = await w.start('b')
      const firstStartedMs = w.time.monotonicMs()
      await w.run(a.request(b.address, MessageType.Gossip, 'connect', 10_000))
      const first = w.time.monotonicMs() - firstStartedMs
      return {...(await timedRequests(w, a, b, 50)), first}
    }
    const one = await run(7)
    assert.ok(one.first >= 40 && one.first <= 80, `the first answer, with the handshake, took ${one.first} ms`)
    for (const latencyMs of one.latenciesMs) assert.ok(latencyMs >= 20 && latencyMs <= 40, `an answer took ${latencyMs} ms`)
    assert.notDeepEqual(one.order, [...one.order].sort((x, y) => x - y), 'some answers overtook others')
    assert.deepEqual(await run(7), one, 'the same seed replays the same run')
    assert.notDeepEqual((await run(8)).latenciesMs, one.latenciesMs, 'another seed gives another run')
  })

  it('honours a slower link in one direction only', async (t) => {
    const w = simWorld(t, 3, link)
    const a = await w.start('a')
    const b = await w.start('b')
    w.network.setLink(b.address, a.address, {delayMsMin: 100, delayMsMax: 100, lossRate: 0})
    await w.run(a.request(b.address, MessageType.Gossip, 'connect', 10_000))
    const {latenciesMs} = await timedRequests(w, a, b, 20)
    for (const latencyMs of latenciesMs) assert.ok(latencyMs >= 110 && latencyMs <= 120, `an answer took ${latencyMs} ms`)
  })

  it('loses messages at the link loss rate: the requests they belong to time out', async (t) => {
    const w = simWorld(t, 11, link)
    const a = await w.start('a')
    const b = await w.start('b')
    await w.run(a.request(b.address, MessageType.Gossip, 'connect', 10_000))
    w.network.setDefaultLink({...link, lossRate: 0.2})
    const results = await w.run(Promise.all(Array.from({length: 1000}, (_, i) => a.request(b.address, MessageType.Gossip, i, 500))))
    const timedOut = results.filter((result) => failure(result) === 'timeout').length
    // A request survives when it and its answer both do: 0.8 * 0.8, so 36% time out.
    assert.ok(timedOut > 290 && timedOut < 430, `${timedOut} of 1000 timed out`)
    assert.equal(results.filter((result) => result.ok).length, 1000 - timedOut)
    assert.equal(w.network.counters.lost > 0, true)
  })

  it('hands the handler a decoded copy: no object is shared between nodes', async (t) => {
    const w = simWorld(t)
    let received: {list: number[]; bytes: Buffer} | undefined
    const a = await w.start('a')
    const b = await w.start('b', async (_type, body) => {
      received = body as {list: number[]; bytes: Buffer}
      return body
    })
    const sent = {list: [1, 2], bytes: Buffer.from([9])}
    const answer = await w.run(a.request(b.address, MessageType.ReplicaPut, sent, 1000))
    assert.ok(answer.ok)
    assert.notEqual(received, sent)
    assert.notEqual(received?.bytes.buffer, sent.bytes.buffer)
    assert.notEqual(answer.body, received)
    assert.deepEqual(answer.body, sent)
  })
})

describe('simulated network: cuts and partitions', () => {
  it('a one-way cut drops what goes that way: the request still runs over there, but its answer never comes', async (t) => {
    const w = simWorld(t)
    const calls: string[] = []
    const recording: RequestHandler = async (type, body, fromNode) => {
      calls.push(`${fromNode}->${String(body)}`)
      return echo(type, body, fromNode)
    }
    const a = await w.start('a', recording)
    const b = await w.start('b', recording)
    assert.ok((await w.run(a.request(b.address, MessageType.Gossip, 'before', 1000))).ok)
    assert.ok((await w.run(b.request(a.address, MessageType.Gossip, 'before', 1000))).ok)
    w.network.cut(a.address, b.address)
    assert.equal(failure(await w.run(a.request(b.address, MessageType.Gossip, 'a-cut', 1000))), 'timeout')
    assert.equal(failure(await w.run(b.request(a.address, MessageType.Gossip, 'b-answer-cut', 1000))), 'timeout')
    assert.deepEqual(calls.slice(2), ['b->b-answer-cut'], "a ran b's request; b never got a's")
    assert.equal(a.peerState(b.address), 'connected', 'a cut does not close a connection')
    w.network.restore(a.address, b.address)
    assert.ok((await w.run(a.request(b.address, MessageType.Gossip, 'after', 1000))).ok)
    assert.ok((await w.run(b.request(a.address, MessageType.Gossip, 'after', 1000))).ok)
  })

  it('a two-way partition times out both sides until it heals; new connections fail to connect', async (t) => {
    const w = simWorld(t)
    const a = await w.start('a')
    const b = await w.start('b')
    const c = await w.start('c')
    assert.ok((await w.run(a.request(b.address, MessageType.Gossip, 1, 1000))).ok)
    w.network.partition([a.address], [b.address, c.address])
    assert.equal(failure(await w.run(a.request(b.address, MessageType.Gossip, 2, 1000))), 'timeout')
    assert.equal(failure(await w.run(b.request(a.address, MessageType.Gossip, 3, 1000))), 'timeout')
    // No connection to c yet: the handshake gets no answer, so the connect times out (2 s).
    assert.equal(failure(await w.run(a.request(c.address, MessageType.Gossip, 4, 5000))), 'unreachable')
    assert.equal(a.peerState(c.address), 'down')
    assert.ok((await w.run(b.request(c.address, MessageType.Gossip, 5, 1000))).ok, 'the majority side still talks')
    w.network.heal()
    assert.ok((await w.run(b.request(a.address, MessageType.Gossip, 6, 1000))).ok)
    await w.run(w.delay(1000))
    assert.ok((await w.run(a.request(c.address, MessageType.Gossip, 7, 1000))).ok)
  })
})

describe('simulated network: crashes and restarts', () => {
  it('a crash fails requests waiting on the node as soon as the closing notice arrives, and drops what was in flight', async (t) => {
    const w = simWorld(t)
    const a = await w.start('a')
    const held = heldHandler()
    const b = await w.start('b', held.handler)
    const waiting = a.request(b.address, MessageType.ReplicaGet, 'waiting', 10_000)
    while (held.started() === 0) await w.run(w.delay(1))
    // This one is on the wire when b crashes: b never runs it.
    const inFlight = a.request(b.address, MessageType.ReplicaGet, 'in flight', 10_000)
    const crashedAtMs = w.time.monotonicMs()
    w.network.crash(b.address)
    const results: RpcResult[] = await w.run(Promise.all([waiting, inFlight]))
    assert.deepEqual(results.map(failure), ['unreachable', 'unreachable'])
    assert.ok(w.time.monotonicMs() - crashedAtMs < 100, 'failed by the notice, long before the 10 s timeout')
    assert.equal(held.started(), 1)
    held.releaseAll()
    await w.run(w.delay(100))
    assert.equal(a.peerState(b.address), 'down')
  })

  it("a crashed node's timers are gone and its own requests never resolve", async (t) => {
    const w = simWorld(t)
    const a = await w.start('a', () => new Promise(() => {}))
    const b = await w.start('b')
    let resolved = false
    void b.request(a.address, MessageType.Gossip, 'from b', 1000).then(() => (resolved = true))
    await w.run(w.delay(50))
    assert.equal(w.time.node(b.address).pendingCount, 1, "b's request timeout is set")
    const bScheduler = w.time.node(b.address)
    w.network.crash(b.address)
    assert.equal(bScheduler.halted, true)
    assert.equal(bScheduler.pendingCount, 0)
    await w.run(w.delay(5000))
    assert.equal(resolved, false)
    assert.equal(failure(await w.run(b.request(a.address, MessageType.Gossip, 'after', 1000))), 'unreachable')
  })

  /** Two nodes, a and b; b answers once, crashes, and a's next request is refused. */
  async function crashedAfterAnAnswer(t: TestContext, type: MessageType): Promise<{w: SimWorld; a: Transport; b: Transport}> {
    const w = simWorld(t)
    const a = await w.start('a')
    const b = await w.start('b')
    assert.ok((await w.run(a.request(b.address, type, 'first', 1000))).ok)
    w.network.crash(b.address)
    await w.run(w.delay(100))
    assert.equal(failure(await w.run(a.request(b.address, type, 'refused', 1000))), 'unreachable')
    return {w, a, b}
  }

  it('a node restarted on its address is reached again, after the back-off', async (t) => {
    const {w, a, b} = await crashedAfterAnAnswer(t, MessageType.Gossip)
    assert.throws(() => w.network.listen({address: a.address, nodeName: 'x', handler: echo, scheduler: w.time.node('x')}), {code: 'EADDRINUSE'})
    const revived = await w.start('b2', echo, {address: b.address})
    assert.notEqual(w.time.node(b.address).halted, true)
    let result: RpcResult = {ok: false, error: 'unreachable', message: 'not tried'}
    for (let attempt = 0; attempt < 100 && !result.ok; attempt += 1) {
      result = await w.run(a.request(revived.address, MessageType.Gossip, 'again', 1000))
      if (!result.ok) await w.run(w.delay(50))
    }
    assert.deepEqual(result, {ok: true, body: {type: MessageType.Gossip, body: 'again', fromNode: 'a'}})
  })

  it('a caller that paces its own tries connects during the back-off (a join through its seeds)', async (t) => {
    const {w, a, b} = await crashedAfterAnAnswer(t, MessageType.Join)
    const revived = await w.start('b2', echo, {address: b.address})
    // Back at once: an ordinary request still waits out the back-off, a paced one connects.
    const backingOff = await w.run(a.request(revived.address, MessageType.Join, 'held back', 1000))
    assert.match(backingOff.ok ? '' : backingOff.message, /next connect attempt in/)
    assert.deepEqual(await w.run(a.request(revived.address, MessageType.Join, 'paced', 1000, {callerPaced: true})), {ok: true, body: {type: MessageType.Join, body: 'paced', fromNode: 'a'}})
  })

  it('a crash behind a partition is noticed only after it heals: timeouts, then a reset, then the new node', async (t) => {
    const w = simWorld(t)
    const a = await w.start('a')
    const b = await w.start('b')
    assert.ok((await w.run(a.request(b.address, MessageType.Gossip, 1, 1000))).ok)
    w.network.partition([a.address], [b.address])
    w.network.crash(b.address)
    assert.equal(failure(await w.run(a.request(b.address, MessageType.Gossip, 2, 1000))), 'timeout')
    await w.start('b again', echo, {address: b.address})
    w.network.heal()
    assert.equal(failure(await w.run(a.request(b.address, MessageType.Gossip, 3, 1000))), 'unreachable', 'the old connection is reset')
    const answer = await w.run(a.request(b.address, MessageType.Gossip, 4, 1000))
    assert.deepEqual(answer, {ok: true, body: {type: MessageType.Gossip, body: 4, fromNode: 'a'}})
  })
})
