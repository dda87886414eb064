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
import type {StoreDatabase} from '../../src/storage/backend.js'
import {Store} from '../../src/storage/store.js'
import {routerOf, StartingRouter} from '../../src/subsystem.js'
import {MessageType} from '../../src/transport/message-type.js'
import {SimulatedNetwork} from '../../src/transport/simulated-network.js'
import type {Transport} from '../../src/transport/transport.js'
import type {Scheduler} from '../../src/scheduler.js'
import {sleep} from '../../src/scheduler.js'
import {DynError} from '../../src/errors.js'
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

interface ReplicaOptions {
  /** Runs before a node serves a message (on that node's time): a delay, or a throw to fail it. */
  readonly beforeServe?: (node: string, type: number, scheduler: Scheduler) => Promise<void>
  /** Each node's database (a fresh memory-level one when absent). */
  readonly databaseOf?: (node: string) => StoreDatabase
}

/**
 * A memory-level database whose batch writes wait for `hold()`'s gate while one is set, and then
 * land, or fail with `fail` set: a disk that is slow, or that breaks, under a store already open.
 */
function gatedDatabase(): {database: StoreDatabase; hold: () => {release: () => void; fail: (message: string) => void}; batchesHeld: () => number} {
  const database = memoryDatabase()
  const batchOf = database.batch.bind(database) as () => ReturnType<StoreDatabase['batch']>
  let gate: Promise<void> | undefined
  let held = 0
  ;(database as {batch: () => ReturnType<StoreDatabase['batch']>}).batch = () => {
    const batch = batchOf()
    const write = batch.write.bind(batch) as (options?: object) => Promise<void>
    ;(batch as {write: (options?: object) => Promise<void>}).write = async (options?: object) => {
      if (gate !== undefined) {
        held += 1
        await gate
      }
      return write(options)
    }
    return batch
  }
  const hold = (): {release: () => void; fail: (message: string) => void} => {
    let open!: () => void
    let breakDisk!: (error: Error) => void
    gate = new Promise<void>((resolve, reject) => {
      open = resolve
      breakDisk = reject
    })
    gate.catch(() => undefined)
    return {
      release: () => {
        gate = undefined
        open()
      },
      fail: (message) => {
        gate = undefined
        breakDisk(new Error(message))
      },
    }
  }
  return {database, hold, batchesHeld: () => held}
}

/** Messages each node received, by type. */
type Received = Map<string, Map<number, number>>

async function threeReplicas(seed: number, options: ReplicaOptions = {}): Promise<{time: SimulatedTime; nodes: Map<string, ReplicaNode>; received: Received}> {
  const time = new SimulatedTime({settle})
  const received: Received = new Map(names.map((name) => [name, new Map<number, number>()]))
  const network = new SimulatedNetwork({time, random: seededRandom(seed), link: {delayMsMin: 0.2, delayMsMax: 2, lossRate: 0}})
  const nodes = new Map<string, ReplicaNode>()
  for (const name of names) {
    const scheduler = time.node(name)
    const store = await Store.open(options.databaseOf?.(name) ?? memoryDatabase(), {writeBuffer: false, scheduler})
    const router = new StartingRouter(name)
    const handler = async (type: number, body: unknown, fromNode: string): Promise<unknown> => {
      const counts = received.get(name)!
      counts.set(type, (counts.get(type) ?? 0) + 1)
      await options.beforeServe?.(name, type, scheduler)
      return router.handle(type, body, fromNode)
    }
    const transport = network.listen({address: `${name}:7000`, nodeName: name, handler, scheduler})
    const membership = new Membership(table, name, transport, seededRandom(seed), {onChange: () => undefined, log: () => undefined})
    const replication = replicationSubsystem({
      self: name,
      store,
      hints: await HintStore.open(store),
      transport,
      clock: scheduler,
      scheduler,
      membership,
      writeActor: new WriteActor(`${name}.1`),
      isUp: () => true,
      requestTimeoutMs: 1000,
      durableReplicaPerPut: false,
    })
    router.open(routerOf([replication]))
    nodes.set(name, {store, transport, replication})
  }
  return {time, nodes, received}
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

  it('asks only R replicas for a get, itself first, and all N when the get is explained', async () => {
    const {time, nodes, received} = await threeReplicas(4)
    const a = nodes.get('a')!
    const written = await time.until(a.replication.put({key: 'shelf', value: text('plums'), contentType: 'text/plain', tombstone: false, context: [], n: 3, w: 3, dw: 0, pw: 0, explain: false}), stepTimeMsMax)
    assert.equal(written.ok, true)
    const replicaGets = (): number => names.reduce((sum, name) => sum + (received.get(name)!.get(MessageType.ReplicaGet) ?? 0), 0)
    const read = await time.until(a.replication.get({key: 'shelf', n: 3, r: 2, pr: 0, explain: false}), stepTimeMsMax)
    assert.ok(read.ok && read.object !== undefined)
    assert.equal(replicaGets(), 1, 'R=2 on a home: its own copy and one other replica')
    assert.deepEqual(read.trace.replies.map((reply) => reply.node).includes('a'), true, 'the coordinator read its own copy')
    await time.until(a.replication.get({key: 'shelf', n: 3, r: 2, pr: 0, explain: true}), stepTimeMsMax)
    assert.equal(replicaGets(), 3, 'an explained get asks every replica')
    await time.until(a.replication.get({key: 'shelf', n: 3, r: 3, pr: 0, explain: false}), stepTimeMsMax)
    assert.equal(replicaGets(), 5, 'R=3 asks all three')
  })

  it('asks a replica held back at once in place of one that failed', async () => {
    const failing = new Set<string>()
    const {time, nodes, received} = await threeReplicas(5, {
      beforeServe: async (node, type) => {
        if (type === MessageType.ReplicaGet && failing.has(node)) throw new DynError('overloaded', `${node} refuses reads in this test`)
      },
    })
    const a = nodes.get('a')!
    assert.equal((await time.until(a.replication.put({key: 'crate', value: text('figs'), contentType: 'text/plain', tombstone: false, context: [], n: 3, w: 3, dw: 0, pw: 0, explain: false}), stepTimeMsMax)).ok, true)
    for (const name of ['b', 'c']) failing.add(name)
    // Both others fail: R=2 cannot be met, and the error names both, each asked once.
    const unmet = await time.until(a.replication.get({key: 'crate', n: 3, r: 2, pr: 0, explain: false}), stepTimeMsMax)
    assert.equal(unmet.ok, false)
    assert.deepEqual(['b', 'c'].map((name) => received.get(name)!.get(MessageType.ReplicaGet)), [1, 1])
    // One of them fails: the other, held back at first or not, makes R.
    failing.delete('c')
    const startedMs = time.monotonicMs()
    const read = await time.until(a.replication.get({key: 'crate', n: 3, r: 2, pr: 0, explain: false}), stepTimeMsMax)
    assert.ok(read.ok && read.object !== undefined, 'R=2 met by the replica that did not fail')
    assert.ok(time.monotonicMs() - startedMs < 50, 'in place of the failure at once, not after a speculative delay')
  })

  it('asks a spare fallback for a home that refused at once, when the home held back in its place is slow', async () => {
    const slowMs = 5_000
    let refusing: string | undefined
    let slow: string | undefined
    const {time, nodes} = await threeReplicas(8, {
      beforeServe: async (node, type, scheduler) => {
        if (type !== MessageType.ReplicaGet) return
        if (node === refusing) throw new DynError('overloaded', `${node} refuses reads in this test`)
        if (node === slow) await sleep(scheduler, slowMs)
      },
    })
    // n=2: two homes, and the third node, not a home, coordinates; R=1 asks the first home alone.
    const ring = new Membership(table, 'a', nodes.get('a')!.transport, seededRandom(8), {onChange: () => undefined, log: () => undefined}).ring
    const [first, second] = preferenceListForKey(ring, 'drawer').nodes
    const outsider = names.find((name) => name !== first && name !== second)!
    refusing = first
    slow = second
    const read = await time.until(nodes.get(outsider)!.replication.get({key: 'drawer', n: 2, r: 1, pr: 0, explain: false}), stepTimeMsMax)
    // The first home refused at once; the second, asked in its place, answers too late; the spare
    // fallback (the coordinator itself, answering from its hints for the first) makes R.
    assert.ok(read.ok, JSON.stringify(read))
    assert.deepEqual(read.trace.replies.map((reply) => `${reply.node} ${reply.outcome}${reply.hintFor === undefined ? '' : ` for ${reply.hintFor}`}`), [`${first} failed`, `${outsider} not_found for ${first}`])
  })

  it('asks one more replica when the one it asked is slow, and answers without it', async () => {
    const slowMs = 5_000
    let slowNode: string | undefined
    const {time, nodes} = await threeReplicas(6, {
      beforeServe: async (node, type, scheduler) => {
        if (type === MessageType.ReplicaGet && node === slowNode) await sleep(scheduler, slowMs)
      },
    })
    const a = nodes.get('a')!
    assert.equal((await time.until(a.replication.put({key: 'barrel', value: text('dates'), contentType: 'text/plain', tombstone: false, context: [], n: 3, w: 3, dw: 0, pw: 0, explain: false}), stepTimeMsMax)).ok, true)
    // The first get shows which other replica a's reads of this key go to; that one turns slow.
    const first = await time.until(a.replication.get({key: 'barrel', n: 3, r: 2, pr: 0, explain: false}), stepTimeMsMax)
    assert.ok(first.ok)
    slowNode = first.trace.replies.map((reply) => reply.node).find((node) => node !== 'a')
    assert.ok(slowNode !== undefined)
    const startedMs = time.monotonicMs()
    const read = await time.until(a.replication.get({key: 'barrel', n: 3, r: 2, pr: 0, explain: false}), stepTimeMsMax)
    assert.ok(read.ok && read.object !== undefined)
    const answeredBy = read.trace.replies.filter((reply) => reply.outcome !== 'failed').map((reply) => reply.node).sort()
    assert.equal(answeredBy.includes(slowNode), false, `answered by the replica asked after ${slowNode} was slow: ${answeredBy.join(', ')}`)
    assert.ok(time.monotonicMs() - startedMs < slowMs / 10, 'well before the slow replica answered')
  })

  it("sends a put to the other replicas while its own copy lands, and answers from theirs when its disk is slow", async () => {
    const disk = gatedDatabase()
    const {time, nodes} = await threeReplicas(6, {databaseOf: (name) => (name === 'a' ? disk.database : memoryDatabase())})
    const gate = disk.hold()
    const outcome = await time.until(nodes.get('a')!.replication.put({key: 'slow-disk', value: text('plums'), contentType: 'text/plain', tombstone: false, context: [], n: 3, w: 2, dw: 0, pw: 0, explain: false}), stepTimeMsMax)
    // Answered while a's own write still waits for its disk: b and c made W.
    assert.ok(outcome.ok, JSON.stringify(outcome))
    assert.equal(disk.batchesHeld(), 1)
    assert.deepEqual(outcome.trace.replies.map((reply) => `${reply.node} ${reply.outcome}`).sort(), ['b ok', 'c ok'])
    for (const name of ['b', 'c']) assert.deepEqual(await storedTexts(nodes.get(name)!, 'slow-disk'), ['plums'], name)
    // a's own reads find the version before it has landed, and it lands once the disk is back.
    assert.deepEqual(await storedTexts(nodes.get('a')!, 'slow-disk'), ['plums'])
    // W=3 needs a's own landing, which the disk holds past the request's time: the put fails at
    // its deadline, naming a, rather than waiting for the disk.
    const all = await time.until(nodes.get('a')!.replication.put({key: 'stuck-disk', value: text('pears'), contentType: 'text/plain', tombstone: false, context: [], n: 3, w: 3, dw: 0, pw: 0, explain: false}), stepTimeMsMax)
    assert.ok(!all.ok && all.error === 'quorum_unmet', JSON.stringify(all))
    assert.deepEqual(all.details.failed, [{node: 'a', error: "local store: not landed within the request's 1000 ms"}])
    gate.release()
    await time.until(nodes.get('a')!.store.close(), stepTimeMsMax)
  })

  it("counts its own copy's failed landing as a replica's failure once the put is sent", async () => {
    const disk = gatedDatabase()
    const {time, nodes} = await threeReplicas(7, {databaseOf: (name) => (name === 'a' ? disk.database : memoryDatabase())})
    const a = nodes.get('a')!
    const gate = disk.hold()
    const all = a.replication.put({key: 'broken-disk', value: text('figs'), contentType: 'text/plain', tombstone: false, context: [], n: 3, w: 3, dw: 0, pw: 0, explain: false})
    // W=3 needs a's own copy too: the put waits for it while b and c store the version.
    await time.until(sleep(time.node('test'), 50), stepTimeMsMax)
    for (const name of ['b', 'c']) assert.deepEqual(await storedTexts(nodes.get(name)!, 'broken-disk'), ['figs'], name)
    gate.fail('disk on fire')
    const outcome = await time.until(all, stepTimeMsMax)
    assert.ok(!outcome.ok && outcome.error === 'quorum_unmet', JSON.stringify(outcome))
    assert.deepEqual([...(outcome.details.acknowledgedBy as string[])].sort(), ['b', 'c'])
    assert.deepEqual(outcome.details.failed, [{node: 'a', error: 'local store: disk on fire'}])
    // From then on a's store takes no writes (a new version made on the copy its disk still
    // holds would supersede the one it sent). A put through a is forwarded to another home, which
    // counts a as a failed replica (refused at once: storage_failed) and is acknowledged by the other
    // two; nothing of it is on a. Reads go on.
    assert.match(a.store.writesStoppedBy ?? '', /disk on fire/)
    const through = await time.until(a.replication.put({key: 'after-fire', value: text('dates'), contentType: 'text/plain', tombstone: false, context: [], n: 3, w: 2, dw: 0, pw: 0, explain: true}), stepTimeMsMax)
    assert.ok(through.ok, JSON.stringify(through))
    assert.notEqual(through.trace.coordinator, 'a')
    assert.deepEqual(through.trace.replies.map((reply) => `${reply.node} ${reply.outcome}${reply.error === undefined ? '' : ` ${reply.error}`}`).sort(), ['a failed storage_failed', 'b ok', 'c ok'])
    assert.deepEqual(await storedTexts(a, 'after-fire'), [])
    const read = await time.until(a.replication.get({key: 'after-fire', n: 3, r: 2, pr: 0, explain: false}), stepTimeMsMax)
    assert.ok(read.ok && read.object !== undefined, JSON.stringify(read))
  })

  it('answers the message types of a subsystem it does not run as unknown', async () => {
    const {time, nodes} = await threeReplicas(3)
    const answer = await time.until(nodes.get('a')!.transport.request('b:7000', MessageType.Gossip, {table}, 1000), stepTimeMsMax)
    assert.equal(answer.ok, false)
    assert.equal(!answer.ok && answer.code, 'bad_request')
    assert.match(!answer.ok ? answer.message : '', /unknown message type 11/)
  })
})
