// The partition-aware client (client-driven coordination, paper §6.4) against a real 5-node
// cluster: with N=3 two nodes of five are not home replicas of a key, so a client that routed
// badly would show forwarded puts. Checks routing, reads of its writes, recovery from a killed
// coordinator and the clock-driven refresh of the cached ring.

import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import type {Clock} from '../../src/clock.js'
import {PartitionAwareClient} from '../../src/client/partition-aware-client.js'
import type {GetResult, WriteResult} from '../../src/client/http-client.js'
import {getJson, sleep, startCluster, killNode} from './harness.js'
import type {TestCluster} from './harness.js'

const nodeCount = 5
const keyCount = 40

interface Trace {
  coordinator?: string
  forwardedBy?: string
}

/** A clock that moves only when told to, so the refresh interval is tested without waiting. */
function fakeClock(): Clock & {advance(ms: number): void} {
  let nowMs = 1_000_000
  return {nowMs: () => nowMs, monotonicMs: () => nowMs, advance: (ms: number) => void (nowMs += ms)}
}

function traceOf(result: WriteResult | GetResult): Trace {
  assert.ok(result.ok, `request failed: ${JSON.stringify(result)}`)
  return (result.trace ?? {}) as Trace
}

function textOf(result: GetResult): string[] {
  assert.ok(result.ok && result.found, `not found: ${JSON.stringify(result)}`)
  return result.siblings.map((s) => s.value.toString('utf8')).sort()
}


describe('partition-aware client on a 5-node cluster', () => {
  let c: TestCluster
  /** Node name -> host:port of its client API. */
  const addressOf = new Map<string, string>()
  const nameOf = new Map<string, string>()

  before(async () => {
    c = await startCluster(nodeCount)
    c.cluster.nodes.forEach((node, i) => {
      addressOf.set(node.name, c.api(i))
      nameOf.set(c.api(i), node.name)
    })
  })
  after(async () => {
    await c.stop()
  })

  async function homesOf(key: string): Promise<string[]> {
    const answer = await getJson(c.url(0, `/cluster/preflist/${encodeURIComponent(key)}`))
    assert.equal(answer.status, 200)
    const entries = answer.body.preflist as Array<{node: string; home: boolean; address: string}>
    return entries.filter((e) => e.home).map((e) => e.address)
  }

  it('connects through the first seed that answers and takes the ring as the nodes have it', async () => {
    const client = await PartitionAwareClient.connect(['127.0.0.1:1', c.api(2)])
    const health = await getJson(c.url(0, '/health'))
    assert.equal(client.ringHash, health.body.ringHash)
    assert.equal(client.refreshCount, 1)
  })

  it('refuses to connect when no seed answers', async () => {
    await assert.rejects(PartitionAwareClient.connect(['127.0.0.1:1', '127.0.0.1:2'], {timeoutMs: 1000}), (error: Error & {code?: string}) => error.code === 'unreachable')
  })

  it('routes every key to one of its home replicas', async () => {
    const client = await PartitionAwareClient.connect([c.api(0)])
    let nonHomeSeen = false
    for (let i = 0; i < keyCount; i += 1) {
      const key = `route-${i}`
      const homes = await homesOf(key)
      assert.equal(homes.length, 3)
      assert.ok(homes.includes(client.routeFor(key)), `${key} routed to ${client.routeFor(key)}, homes ${homes.join(', ')}`)
      if (!homes.includes(c.api(0))) nonHomeSeen = true
    }
    // The test only means something if some keys are not homed on the seed.
    assert.ok(nonHomeSeen)
  })

  it('puts are coordinated by the routed node without forwarding, and gets return them', async () => {
    // A clock that stands still: whether the requests finish within the refresh interval of the
    // system clock depends on the machine, and a refresh in between is not what this checks.
    const client = await PartitionAwareClient.connect([c.api(1)], {clock: fakeClock()})
    for (let i = 0; i < keyCount; i += 1) {
      const key = `direct-${i}`
      const routed = client.routeFor(key)
      const put = await client.put(key, Buffer.from(`value-${i}`))
      const trace = traceOf(put)
      assert.equal(trace.coordinator, nameOf.get(routed), key)
      assert.equal(trace.forwardedBy, undefined, key)
      const got = await client.get(key)
      assert.equal(traceOf(got).coordinator, nameOf.get(routed), key)
      assert.deepEqual(textOf(got), [`value-${i}`])
    }
    const deleted = await client.delete('direct-0', {context: (await client.get('direct-0') as {context: string}).context})
    assert.equal(traceOf(deleted).forwardedBy, undefined)
    const gone = await client.get('direct-0')
    assert.ok(gone.ok && !gone.found)
    // A stable cluster needs no refresh within the interval: no request missed its route.
    assert.equal(client.refreshCount, 1)
  })

  it('refetches the ring on the first request after the refresh interval of the injected clock', async () => {
    const clock = fakeClock()
    const client = await PartitionAwareClient.connect([c.api(0)], {clock})
    assert.equal(client.refreshCount, 1)
    assert.ok((await client.put('clocked', Buffer.from('a'))).ok)
    clock.advance(9_999)
    assert.ok((await client.put('clocked', Buffer.from('b'))).ok)
    assert.equal(client.refreshCount, 1)
    clock.advance(1)
    // Lazy: time passing alone fetches nothing.
    assert.equal(client.refreshCount, 1)
    assert.ok((await client.get('clocked')).ok)
    assert.equal(client.refreshCount, 2)
    clock.advance(10_000)
    assert.ok((await client.put('clocked', Buffer.from('c'))).ok)
    assert.equal(client.refreshCount, 3)
  })

  // Last: it kills a node.
  it('when the routed node is killed, the request goes to the next home replica and the ring is refreshed', async () => {
    const client = await PartitionAwareClient.connect([c.api(0), c.api(1)])
    // A key whose first home is neither seed, so a refresh can still reach a seed.
    let key = ''
    for (let i = 0; i < 1000 && key === ''; i += 1) {
      const candidate = `victim-${i}`
      const routed = client.routeFor(candidate)
      if (routed !== c.api(0) && routed !== c.api(1)) key = candidate
    }
    assert.notEqual(key, '')
    const first = await client.put(key, Buffer.from('before'))
    assert.ok(first.ok)
    const homes = await homesOf(key)
    const victim = client.routeFor(key)
    const victimName = nameOf.get(victim) as string
    const victimNode = c.cluster.nodes.find((node) => node.name === victimName)
    await killNode(victimNode?.pid)

    const refreshesBefore = client.refreshCount
    const write = await client.put(key, Buffer.from('after'), {context: first.context})
    assert.ok(client.refreshCount > refreshesBefore, 'the ring was refetched after the miss')
    const survivor = traceOf(write).coordinator as string
    assert.notEqual(survivor, victimName)
    assert.equal(traceOf(write).forwardedBy, undefined)
    assert.ok(homes.includes(addressOf.get(survivor) as string), `${survivor} is a home replica`)

    // The dead node is now avoided, so reads go straight to a live home replica.
    assert.notEqual(client.routeFor(key), victim)
    assert.ok(homes.includes(client.routeFor(key)))
    const read = await client.get(key)
    assert.equal(traceOf(read).coordinator, nameOf.get(client.routeFor(key)))
    assert.deepEqual(textOf(await client.get(key)), ['after'])
  })
})
