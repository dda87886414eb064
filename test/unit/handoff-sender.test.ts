/**
 * The hint sender (src/handoff/handoff-sender.ts) on its own: a real hint store on memory-level,
 * the simulated network and simulated time, and peers that merge what they are handed into
 * their own stores (as a HintDelivery receiver does) or refuse it. Shown here: a target that is
 * gone has its hints delivered to each key's current homes, this node's own store among them,
 * and a hint is removed only once every one of those homes acknowledged it; a target whose
 * rounds fail is tried again after a back-off that doubles from the handoff interval up to its
 * bound, and that ends on a success or when the target is seen up after being down. Also the
 * back-off arithmetic and the rule that says which targets are gone.
 */
import {WriteActor} from '../../src/coordinator/write-actor.js'
import {describe, it, type TestContext} from 'node:test'
import assert from 'node:assert/strict'
import {seededRandom} from '../../src/clock.js'
import {DynError} from '../../src/errors.js'
import {afterFailure, backoffDelayMs, handoffBackoffMaxMs, mayTry} from '../../src/handoff/handoff-backoff.js'
import {HandoffSender, currentHomes, standingIn} from '../../src/handoff/handoff-sender.js'
import type {DeliveryBody, TargetStanding} from '../../src/handoff/handoff-sender.js'
import {HintStore} from '../../src/handoff/hints.js'
import {mergeIncoming} from '../../src/coordinator/replica.js'
import type {ReplicaPolicy} from '../../src/coordinator/replica.js'
import {serveReplicaRequest} from '../../src/coordinator/replica-server.js'
import type {ReplicaServerDeps} from '../../src/coordinator/replica-server.js'
import type {CoordinatorDeps} from '../../src/coordinator/coordinator-deps.js'
import type {Member, MemberTable} from '../../src/membership/member-table.js'
import {buildRing} from '../../src/ring/ring.js'
import {partitionOfKey} from '../../src/ring/partition.js'
import {SimulatedTime} from '../../src/simulated-time.js'
import {memoryDatabase} from '../../src/storage/backend.js'
import {Store} from '../../src/storage/store.js'
import type {StoredObject, StoredVersion} from '../../src/storage/stored-object.js'
import {MessageType} from '../../src/transport/message-type.js'
import {SimulatedNetwork} from '../../src/transport/simulated-network.js'
import {emptySet, update, values} from '../../src/versioning/dvvset.js'

const policy: ReplicaPolicy = {conflictPolicy: 'siblings', entriesMax: 10, siblingsPerKeyMax: 64, objectBytesMax: 8 * 1024 * 1024}
const partitionCount = 16
const intervalMs = 1000
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

function object(text: string, n = 3): StoredObject {
  const version: StoredVersion = {value: Buffer.from(text), contentType: 'text/plain', timestampMs: 1, tombstone: false}
  return {versions: update([], emptySet<StoredVersion>(), 'c.1', version, 0), n}
}

/** What a HintDelivery receiver does: each entry merged into the store with sync, answered per entry. */
async function mergeDelivery(store: Store, body: DeliveryBody): Promise<{results: string[]}> {
  const results = await Promise.all(body.entries.map(async (entry) => ((await mergeIncoming(store, policy, entry.partition, entry.key, entry.object, true)).ok ? 'ok' : 'refused')))
  return {results}
}

async function texts(store: Store, key: string): Promise<string[]> {
  const stored = await store.getObject(partitionOfKey(key, partitionCount), key)
  return stored === undefined ? [] : values(stored.versions).map((version) => Buffer.from(version.value).toString('utf8')).sort()
}

interface Peer {
  readonly store: Store
  /** When false, the peer answers every delivery with `overloaded`. */
  accepting: boolean
  /** The simulated times at which a delivery reached it. */
  readonly deliveriesAtMs: number[]
}

/** This node (n1) with its hint store and sender, and peers n2..n4 on the simulated network. */
async function world(t: TestContext, ringMembers: readonly string[]) {
  const time = new SimulatedTime({settle})
  const network = new SimulatedNetwork({time, random: seededRandom(3), link: {delayMsMin: 0.2, delayMsMax: 1, lossRate: 0}})
  const selfStore = await Store.open(memoryDatabase(), {writeBuffer: false, scheduler: time})
  const hints = await HintStore.open(selfStore)
  const peers = new Map<string, Peer>()
  for (const name of ['n2', 'n3', 'n4']) {
    const peer: Peer = {store: await Store.open(memoryDatabase(), {writeBuffer: false, scheduler: time}), accepting: true, deliveriesAtMs: []}
    peers.set(name, peer)
    const transport = network.listen({
      address: `${name}:7000`,
      nodeName: name,
      scheduler: time.node(`${name}:7000`),
      handler: async (type, body) => {
        assert.equal(type, MessageType.HintDelivery)
        peer.deliveriesAtMs.push(time.monotonicMs())
        if (!peer.accepting) throw new DynError('overloaded', `${name} takes nothing now`)
        return mergeDelivery(peer.store, body as DeliveryBody)
      },
    })
    t.after(() => transport.close())
  }
  const transport = network.listen({address: 'n1:7000', nodeName: 'n1', scheduler: time.node('n1:7000'), handler: async () => ({})})
  t.after(() => transport.close())
  const standing = new Map<string, TargetStanding>()
  const down = new Set<string>()
  const logs: string[] = []
  const counted = {delivered: 0, redirected: 0}
  const ring = buildRing(partitionCount, ringMembers)
  const sender = new HandoffSender({
    self: 'n1',
    hints,
    transport,
    clock: time,
    backoffBaseMs: intervalMs,
    standingOf: (name) => standing.get(name) ?? 'member',
    homeRings: () => [ring],
    rpcAddressOf: (name) => `${name}:7000`,
    isUp: (name) => !down.has(name),
    deliverToSelf: (body) => mergeDelivery(selfStore, body),
    requestTimeoutMs: 500,
    batchEntriesMax: 256,
    log: (line) => logs.push(line),
    onDelivered: (_target, count) => {
      counted.delivered += count
    },
    onRedirected: (_target, count) => {
      counted.redirected += count
    },
  })
  const hint = async (target: string, key: string, text: string, n = 3): Promise<void> => {
    assert.ok((await mergeIncoming(hints.spaceFor(target), policy, partitionOfKey(key, partitionCount), key, object(text, n), false)).ok)
  }
  /** One round now, then simulated time up to the next one. */
  const round = async (): Promise<void> => {
    await time.until(sender.round(), 60_000)
    await time.runFor(intervalMs - 1)
    await time.runFor(1)
  }
  return {time, hints, selfStore, peers, standing, down, logs, counted, sender, hint, round, peer: (name: string) => peers.get(name)!}
}

describe('hint sender', () => {
  it('delivers the hints of a removed target to each key\'s current homes, this node\'s own store among them', async (t) => {
    const w = await world(t, ['n1', 'n3', 'n4'])
    await w.hint('n2', 'cart', 'v1')
    await w.hint('n2', 'basket', 'v2')
    w.standing.set('n2', 'gone')
    await w.round()
    assert.equal(w.hints.pendingFor('n2'), 0)
    for (const key of ['cart', 'basket']) {
      const expected = key === 'cart' ? ['v1'] : ['v2']
      assert.deepEqual(await texts(w.selfStore, key), expected, 'this node is a home: merged into its own store')
      assert.deepEqual(await texts(w.peer('n3').store, key), expected)
      assert.deepEqual(await texts(w.peer('n4').store, key), expected)
    }
    assert.deepEqual(w.peer('n2').deliveriesAtMs, [], 'nothing is sent to the removed node')
    assert.deepEqual(w.counted, {delivered: 2, redirected: 2})
    assert.equal(w.logs.filter((line) => line.includes('n2 is no longer a member: redirected 2')).length, 1, w.logs.join('\n'))
  })

  it('keeps a redirected hint until every current home has acknowledged it', async (t) => {
    const w = await world(t, ['n1', 'n3', 'n4'])
    await w.hint('n2', 'cart', 'v1')
    w.standing.set('n2', 'gone')
    w.peer('n4').accepting = false
    w.down.add('n3')
    await w.round()
    assert.equal(w.hints.pendingFor('n2'), 1, 'n3 is down and n4 refused: the hint stays')
    assert.deepEqual(await texts(w.selfStore, 'cart'), ['v1'])
    assert.deepEqual(w.counted, {delivered: 0, redirected: 0})
    w.down.delete('n3')
    await w.round()
    await w.round()
    assert.equal(w.hints.pendingFor('n2'), 1, 'n4 still refuses')
    assert.deepEqual(await texts(w.peer('n3').store, 'cart'), ['v1'])
    w.peer('n4').accepting = true
    for (let i = 0; i < 8 && w.hints.pendingFor('n2') > 0; i += 1) await w.round()
    assert.equal(w.hints.pendingFor('n2'), 0)
    assert.deepEqual(await texts(w.peer('n4').store, 'cart'), ['v1'])
    assert.equal(w.peer('n3').deliveriesAtMs.length, 1, 'a home that acknowledged is not asked again')
    assert.deepEqual(w.counted, {delivered: 1, redirected: 1})
  })

  it('backs a failing target off from the handoff interval, doubling up to its bound, and starts afresh after a success', async (t) => {
    const w = await world(t, ['n1', 'n2', 'n3'])
    await w.hint('n2', 'cart', 'v1')
    w.peer('n2').accepting = false
    const startMs = w.time.monotonicMs()
    for (let i = 0; i < 100; i += 1) await w.round()
    const tries = w.peer('n2').deliveriesAtMs.map((atMs) => Math.round((atMs - startMs) / intervalMs))
    const gaps = tries.slice(1).map((atRound, index) => atRound - tries[index]!)
    assert.deepEqual(gaps.slice(0, 7), [1, 2, 4, 8, 16, 30, 30], `tried at rounds ${tries.join(', ')}`)
    assert.ok(gaps.every((gap) => gap <= handoffBackoffMaxMs / intervalMs))
    const backoff = w.sender.backoffOf('n2')
    assert.ok(backoff !== undefined && backoff.failedRounds === tries.length && backoff.retryInMs <= handoffBackoffMaxMs, JSON.stringify(backoff))

    w.peer('n2').accepting = true
    for (let i = 0; i < 31 && w.hints.pendingFor('n2') > 0; i += 1) await w.round()
    assert.equal(w.hints.pendingFor('n2'), 0)
    assert.equal(w.sender.backoffOf('n2'), undefined, 'a success ends the back-off')

    await w.hint('n2', 'cart', 'v2')
    w.peer('n2').accepting = false
    const before = w.peer('n2').deliveriesAtMs.length
    for (let i = 0; i < 4; i += 1) await w.round()
    assert.equal(w.peer('n2').deliveriesAtMs.length - before, 3, 'tried at rounds 0, 1 and 3 again')
  })

  it('ends the back-off when the failure detector sees the target come back up', async (t) => {
    const w = await world(t, ['n1', 'n2', 'n3'])
    await w.hint('n2', 'cart', 'v1')
    w.peer('n2').accepting = false
    for (let i = 0; i < 40; i += 1) await w.round()
    assert.ok((w.sender.backoffOf('n2')?.retryInMs ?? 0) > intervalMs)
    w.down.add('n2')
    await w.round()
    w.down.delete('n2')
    w.peer('n2').accepting = true
    const before = w.peer('n2').deliveriesAtMs.length
    await w.round()
    assert.equal(w.peer('n2').deliveriesAtMs.length, before + 1, 'tried in the first round after it is seen up')
    assert.equal(w.hints.pendingFor('n2'), 0)
  })
})

describe('hint sender, a target that becomes gone', () => {
  it('redirects at once, without the back-off the target itself had', async (t) => {
    // n2 is a home of every key while it is a member (three members, N = 3).
    const w = await world(t, ['n1', 'n2', 'n3'])
    await w.hint('n2', 'cart', 'v1')
    w.peer('n2').accepting = false
    for (let i = 0; i < 20; i += 1) await w.round()
    assert.ok((w.sender.backoffOf('n2')?.retryInMs ?? 0) > intervalMs)
    w.standing.set('n2', 'gone')
    await w.round()
    assert.equal(w.hints.pendingFor('n2'), 0)
    assert.deepEqual(await texts(w.peer('n3').store, 'cart'), ['v1'])
  })
})

describe('hint sender, a member that lost the partition of some of its hints\' keys', () => {
  /** Four members, and hints for n2 of two keys written with n = 2: one n2 is a home of, one it is not (nor n1). */
  async function lostAndKept(t: TestContext) {
    const members = ['n1', 'n2', 'n3', 'n4']
    const w = await world(t, members)
    // The same ring the world's sender has.
    const ring = buildRing(partitionCount, members)
    const keys = Array.from({length: 200}, (_, index) => `k${index}`)
    const homesOfKey = (key: string): string[] => currentHomes([ring], partitionOfKey(key, partitionCount), 2)
    const kept = keys.find((key) => homesOfKey(key).includes('n2'))!
    const moved = keys.find((key) => !homesOfKey(key).includes('n2') && !homesOfKey(key).includes('n1'))!
    await w.hint('n2', kept, 'still-home', 2)
    await w.hint('n2', moved, 'moved', 2)
    return {w, homesOfKey, kept, moved}
  }

  it('sends it the hints of keys it is still a home of, and the others to their keys\' current homes', async (t) => {
    const {w, homesOfKey, kept, moved} = await lostAndKept(t)
    await w.round()
    assert.equal(w.hints.pendingFor('n2'), 0)
    assert.deepEqual(await texts(w.peer('n2').store, kept), ['still-home'])
    assert.deepEqual(await texts(w.peer('n2').store, moved), [], 'not sent to a member that is not a home of the key')
    for (const home of homesOfKey(moved)) assert.deepEqual(await texts(w.peer(home).store, moved), ['moved'], `${home} is a home of ${moved}`)
    assert.deepEqual(w.counted, {delivered: 2, redirected: 1})
    assert.equal(w.logs.filter((line) => line.includes("n2 is no longer a home of some of its hints' keys: redirected 1")).length, 1, w.logs.join('\n'))
  })

  it('hands the hints of keys it lost to their current homes while it is down, and keeps the others for it', async (t) => {
    const {w, homesOfKey, moved} = await lostAndKept(t)
    w.down.add('n2')
    await w.round()
    assert.equal(w.hints.pendingFor('n2'), 1, 'the hint of a key n2 is still a home of waits for it')
    for (const home of homesOfKey(moved)) assert.deepEqual(await texts(w.peer(home).store, moved), ['moved'], `${home} is a home of ${moved}`)
    assert.deepEqual(w.peer('n2').deliveriesAtMs, [])
  })

  it('is refused by a node that is not a home of the key, which stores nothing', async () => {
    const deps: ReplicaServerDeps = {
      // Never reached: the refusal comes before anything is merged.
      coordinator: {} as CoordinatorDeps,
      clusterSize: () => 3,
      partitionCount: () => partitionCount,
      isOtherMember: () => true,
      isHomeOf: () => false,
      writeActor: new WriteActor('n1.1'),
    }
    const body: DeliveryBody = {entries: [{partition: partitionOfKey('cart', partitionCount), key: 'cart', object: object('v1')}]}
    assert.deepEqual(await serveReplicaRequest(deps, MessageType.HintDelivery, body), {results: ['not_home']})
  })
})

describe('a node that has left', () => {
  it('refuses a hint delivery, so that the sender keeps the hints for the keys\' current homes', async () => {
    const deps: ReplicaServerDeps = {
      // Never reached: the refusal comes before anything is merged.
      coordinator: {} as CoordinatorDeps,
      clusterSize: () => 3,
      partitionCount: () => partitionCount,
      isOtherMember: () => true,
      isHomeOf: () => true,
      hasLeft: () => true,
      writeActor: new WriteActor('n1.1'),
    }
    const body: DeliveryBody = {entries: [{partition: partitionOfKey('cart', partitionCount), key: 'cart', object: object('v1')}]}
    await assert.rejects(serveReplicaRequest(deps, MessageType.HintDelivery, body), (error: DynError) => error.code === 'unreachable')
  })
})

describe('hint delivery back-off', () => {
  it('doubles from the base to its bound and stays there', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 50, 10_000].map((failures) => backoffDelayMs(failures, 1000)),
      [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000],
    )
    assert.equal(backoffDelayMs(3, 250, 1000), 1000)
    const first = afterFailure(undefined, 5000, 1000)
    assert.deepEqual(first, {failedRounds: 1, retryAtMs: 6000})
    assert.deepEqual(afterFailure(first, 6000, 1000), {failedRounds: 2, retryAtMs: 8000})
    assert.equal(mayTry(undefined, 0), true)
    assert.equal(mayTry(first, 5999), false)
    assert.equal(mayTry(first, 6000), true)
  })
})

describe('which hint targets are gone', () => {
  const row = (name: string, status: Member['status']): Member => ({name, rpcAddress: `${name}:7000`, apiAddress: `${name}:8000`, status, incarnation: 1})
  const settings: MemberTable['settings'] = {clusterId: 'c', partitionCount: 4, defaultN: 3, defaultR: 2, defaultW: 2, conflictPolicy: 'siblings'}
  const owners = ['n1', 'n2', 'n3', 'n1']
  const table = (members: Member[], ring: NonNullable<MemberTable['ring']>): MemberTable => ({settings, members, ring})

  it('is gone when it left, when a transition removes it, or when no ring has it; a leaving member is not', () => {
    const committed = {version: 3, claimant: 'n1', members: ['n1', 'n2', 'n3'], owners, staged: []}
    const members = [row('n1', 'valid'), row('n2', 'valid'), row('n3', 'leaving'), row('n4', 'left'), row('n5', 'joining')]
    const stable = table(members, committed)
    assert.equal(standingIn(stable, 'n2'), 'member')
    assert.equal(standingIn(stable, 'n3'), 'member', 'a leaving member hands off before it exits')
    assert.equal(standingIn(stable, 'n4'), 'gone')
    assert.equal(standingIn(stable, 'n5'), 'member')
    assert.equal(standingIn(stable, 'n9'), 'gone', 'no row at all')
    const removing = table(members, {...committed, next: {id: '4.n1', members: ['n1', 'n3'], owners: ['n1', 'n3', 'n3', 'n1'], removing: ['n2']}})
    assert.equal(standingIn(removing, 'n2'), 'gone')
    // Removed while down: its row still says valid, but the installed ring no longer has it.
    const installed = table(members, {version: 5, claimant: 'n1', members: ['n1', 'n3'], owners: ['n1', 'n3', 'n3', 'n1'], staged: []})
    assert.equal(standingIn(installed, 'n2'), 'gone')
  })

  it('takes the homes of every ring given, each once', () => {
    const before = buildRing(16, ['n1', 'n2', 'n3', 'n4'])
    const after = buildRing(16, ['n1', 'n3', 'n4'])
    assert.deepEqual(currentHomes([after], 0, 3).sort(), ['n1', 'n3', 'n4'])
    assert.deepEqual(currentHomes([after], 0, 5).sort(), ['n1', 'n3', 'n4'], 'capped at the members')
    const both = currentHomes([before, after], 5, 2)
    assert.equal(new Set(both).size, both.length)
  })
})
