/**
 * Replication (src/coordinator/replication-subsystem.ts) built alone, as any subsystem can be:
 * three nodes on simulated parts (memory-level stores, the simulated network and simulated
 * time, a fixed member table) that run nothing but replication behind a router composed from
 * it. A put is stored on every home, read back through another node, forwarded by a node that is
 * not a home (and counted there in /stats), and a message of a subsystem these nodes do not run
 * is answered as an unknown type.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {seededRandom} from '../../src/clock.js'
import {replicationSubsystem} from '../../src/coordinator/replication-subsystem.js'
import type {ReplicationSubsystem} from '../../src/coordinator/replication-subsystem.js'
import {WriteActor} from '../../src/coordinator/write-actor.js'
import {HintStore} from '../../src/handoff/hints.js'
import type {Member, MemberTable} from '../../src/membership/member-table.js'
import {Membership} from '../../src/membership/membership.js'
import {partitionOfKey} from '../../src/ring/partition.js'
import {preferenceListForKey} from '../../src/ring/ring.js'
import {SimulatedTime} from '../../src/simulated-time.js'
import {memoryDatabase} from '../../src/storage/backend.js'
import {Store} from '../../src/storage/store.js'
import {routerOf, StartingRouter} from '../../src/subsystem.js'
import {MessageType} from '../../src/transport/message-type.js'
import {SimulatedNetwork} from '../../src/transport/simulated-network.js'
import type {Transport} from '../../src/transport/transport.js'
import {values} from '../../src/versioning/dvvset.js'

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
const stepTimeMsMax = 60_000
const names = ['a', 'b', 'c'] as const

const member = (name: string): Member => ({name, rpcAddress: `${name}:7000`, apiAddress: `${name}:8000`, status: 'valid', incarnation: 1})

/** A settled three-member cluster: no claimant's ring, so the ring is the balanced claim of the members. */
const table: MemberTable = {
  settings: {clusterId: 'replication-alone', partitionCount: 16, defaultN: 3, defaultR: 2, defaultW: 2, conflictPolicy: 'siblings'},
  members: names.map(member),
}

interface ReplicaNode {
  readonly store: Store
  readonly transport: Transport
  readonly replication: ReplicationSubsystem
}

async function threeReplicas(seed: number): Promise<{time: SimulatedTime; nodes: Map<string, ReplicaNode>}> {
  const time = new SimulatedTime({settle})
  const network = new SimulatedNetwork({time, random: seededRandom(seed), link: {delayMsMin: 0.2, delayMsMax: 2, lossRate: 0}})
  const nodes = new Map<string, ReplicaNode>()
  for (const name of names) {
    const scheduler = time.node(name)
    const store = await Store.open(memoryDatabase(), {writeBuffer: false, scheduler})
    const router = new StartingRouter(name)
    const transport = network.listen({address: `${name}:7000`, nodeName: name, handler: router.handle, scheduler})
    const membership = new Membership(table, name, transport, seededRandom(seed), {onChange: () => undefined, log: () => undefined})
    const replication = replicationSubsystem({
      self: name,
      store,
      hints: await HintStore.open(store),
      transport,
      clock: scheduler,
      membership,
      writeActor: new WriteActor(`${name}.1`),
      isUp: () => true,
      requestTimeoutMs: 1000,
      durableReplicaPerPut: false,
    })
    router.open(routerOf([replication]))
    nodes.set(name, {store, transport, replication})
  }
  return {time, nodes}
}

const text = (value: string): Uint8Array => new TextEncoder().encode(value)

async function storedTexts(node: ReplicaNode, key: string): Promise<string[]> {
  const object = await node.store.getObject(partitionOfKey(key, table.settings.partitionCount), key)
  return object === undefined ? [] : values(object.versions).map((version) => new TextDecoder().decode(version.value)).sort()
}

describe('replication built alone on simulated parts', () => {
  it('stores a put on every home, and another node reads it back', async () => {
    const {time, nodes} = await threeReplicas(1)
    const a = nodes.get('a')!
    const outcome = await time.until(a.replication.put({key: 'cart', value: text('apples'), contentType: 'text/plain', tombstone: false, context: [], n: 3, w: 3, dw: 0, pw: 0, explain: false}), stepTimeMsMax)
    assert.equal(outcome.ok, true)
    for (const name of names) assert.deepEqual(await storedTexts(nodes.get(name)!, 'cart'), ['apples'], name)
    const read = await time.until(nodes.get('c')!.replication.get({key: 'cart', n: 3, r: 3, pr: 0, explain: false}), stepTimeMsMax)
    assert.ok(read.ok && read.object !== undefined)
    assert.deepEqual(values(read.object.versions).map((version) => new TextDecoder().decode(version.value)), ['apples'])
    for (const name of names) assert.deepEqual(nodes.get(name)!.replication.stats(), {readRepairs: 0, forwardedPuts: 0}, name)
  })

  it('forwards a put from a node that is not a home, which counts it in its /stats fields', async () => {
    const {time, nodes} = await threeReplicas(2)
    const ring = new Membership(table, 'a', nodes.get('a')!.transport, seededRandom(2), {onChange: () => undefined, log: () => undefined}).ring
    const homes = preferenceListForKey(ring, 'basket').nodes.slice(0, 2)
    const outsider = names.find((name) => !homes.includes(name))!
    const outcome = await time.until(nodes.get(outsider)!.replication.put({key: 'basket', value: text('pears'), contentType: 'text/plain', tombstone: false, context: [], n: 2, w: 2, dw: 0, pw: 0, explain: false}), stepTimeMsMax)
    assert.equal(outcome.ok, true)
    assert.deepEqual(await storedTexts(nodes.get(outsider)!, 'basket'), [], 'a node that is not a home keeps no copy of a forwarded put')
    for (const home of homes) assert.deepEqual(await storedTexts(nodes.get(home)!, 'basket'), ['pears'], home)
    const forwarded = homes.map((home) => nodes.get(home)!.replication.stats().forwardedPuts)
    assert.deepEqual(forwarded.sort(), [0, 1], 'the first home coordinated the forwarded put')
  })

  it('answers the message types of a subsystem it does not run as unknown', async () => {
    const {time, nodes} = await threeReplicas(3)
    const answer = await time.until(nodes.get('a')!.transport.request('b:7000', MessageType.Gossip, {table}, 1000), stepTimeMsMax)
    assert.equal(answer.ok, false)
    assert.equal(!answer.ok && answer.code, 'bad_request')
    assert.match(!answer.ok ? answer.message : '', /unknown message type 11/)
  })
})
