/**
 * The release hand-off after a ring change (src/handoff/transfer-release.ts): which partitions
 * and objects a node releases (pure), and the hand-off itself between real stores over the
 * simulated network, with the real receiving side (replica-server.ts): copies every new home
 * acknowledged are deleted; a copy written again during the hand-off, or refused by a new home,
 * is kept; the node takes a new epoch before its first delete, and a restart keeps it. The
 * write actor (src/coordinator/write-actor.ts) holds a replacement until the old actor's writes end.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {seededRandom} from '../../src/clock.js'
import type {CoordinatorDeps} from '../../src/coordinator/coordinator-deps.js'
import {replicaMessageTypes, serveReplicaRequest} from '../../src/coordinator/replica-server.js'
import type {ReplicaServerDeps} from '../../src/coordinator/replica-server.js'
import {writeNewVersion} from '../../src/coordinator/replica.js'
import type {ReplicaPolicy} from '../../src/coordinator/replica.js'
import {DotLedger, WriteActor} from '../../src/coordinator/write-actor.js'
import {HintStore, hintLimitsDefault} from '../../src/handoff/hints.js'
import {handoffTargets, ReleaseHandoff, releasedPartitions, releaseWalksPerPartitionMax} from '../../src/handoff/transfer-release.js'
import {actorOf, loadIdentity, renewEpoch, type Identity} from '../../src/node/identity.js'
import {partitionOfKey} from '../../src/ring/partition.js'
import type {Ring} from '../../src/ring/ring.js'
import {buildRing, preferenceList} from '../../src/ring/ring.js'
import {SimulatedTime} from '../../src/simulated-time.js'
import {ReplicaReadLatency} from '../../src/coordinator/read-latency.js'
import {memoryDatabase} from '../../src/storage/backend.js'
import {Store} from '../../src/storage/store.js'
import {MessageType} from '../../src/transport/message-type.js'
import {SimulatedNetwork} from '../../src/transport/simulated-network.js'
import type {RequestHandler, Transport} from '../../src/transport/transport.js'
import {values} from '../../src/versioning/dvvset.js'

const partitionCount = 8
const policy: ReplicaPolicy = {conflictPolicy: 'siblings', entriesMax: 10, siblingsPerKeyMax: 100, objectBytesMax: 1024 * 1024}
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
const stepMsMax = 600_000

describe('release decisions', () => {
  const before = buildRing(16, ['a', 'b', 'c'])
  const after = buildRing(16, ['a', 'b', 'c', 'd'])

  it('a partition is released where the node moved later in the preference list, or left it', () => {
    for (const self of ['a', 'b', 'c']) {
      const released = new Set(releasedPartitions(before, after, self))
      for (let partition = 0; partition < 16; partition++) {
        const moved = preferenceList(after, partition).indexOf(self) > preferenceList(before, partition).indexOf(self)
        assert.equal(released.has(partition), moved, `${self}, partition ${partition}`)
      }
    }
    assert.ok(releasedPartitions(before, after, 'a').length > 0, 'a join releases something')
    assert.deepEqual(releasedPartitions(before, buildRing(16, ['b', 'c']), 'a'), Array.from({length: 16}, (_, p) => p), 'a leaving node releases everything')
    assert.deepEqual(releasedPartitions(before, after, 'd'), [], 'a joining node releases nothing')
    // A node started alone, then joined to another cluster (dyn cluster join): its own one-member
    // ring gives way to one without it, and what it holds from then on are that cluster's
    // transfers to it (a node joins another cluster only with an empty store).
    assert.deepEqual(releasedPartitions(buildRing(16, ['d']), before, 'd'), [], 'a node that joins another cluster releases nothing')
  })

  it('an object goes to its own n homes in the new ring, unless this node is one of them', () => {
    for (let partition = 0; partition < 16; partition++) {
      const list = preferenceList(after, partition)
      const third = list[2]!
      assert.deepEqual(handoffTargets(after, partition, third, 2), list.slice(0, 2), 'n=2: the third node hands off')
      assert.equal(handoffTargets(after, partition, third, 3), undefined, 'n=3: the third node is still a home')
      assert.deepEqual(handoffTargets(after, partition, 'e', 9), list, 'n above the member count: every member')
    }
  })
})

describe('write actor', () => {
  it('a replacement resolves only once the writes begun under the old actor have ended', async () => {
    const actors = new WriteActor('a.1')
    let finish: () => void = () => undefined
    const taken: string[] = []
    const write = actors.run(async (actor) => {
      taken.push(actor)
      await new Promise<void>((resolve) => {
        finish = resolve
      })
    })
    let replaced = false
    const replacing = actors.replace('a.2').then(() => {
      replaced = true
    })
    await actors.run(async (actor) => {
      taken.push(actor)
    })
    await settle()
    assert.equal(replaced, false, 'still waiting for the write under a.1')
    finish()
    await write
    await replacing
    assert.equal(replaced, true)
    assert.deepEqual(taken, ['a.1', 'a.2'])
  })
})

describe('dot ledger', () => {
  it('keeps the highest dot of each actor, and forgets a retired actor once its writes have ended', async () => {
    const actors = new WriteActor('a.1')
    actors.dots.madeDot('a.1', 5)
    actors.dots.madeDot('a.1', 3)
    assert.equal(actors.dots.highestDot('a.1'), 5, 'a lower dot (another key) does not lower it')
    assert.equal(actors.dots.highestDot('b.1'), 0)
    let finish: () => void = () => undefined
    const write = actors.run(async (actor) => {
      await new Promise<void>((resolve) => {
        finish = resolve
      })
      actors.dots.madeDot(actor, 6)
    })
    const replacing = actors.replace('a.2')
    await settle()
    assert.equal(actors.dots.highestDot('a.1'), 5, 'kept while a write under a.1 runs')
    finish()
    await write
    await replacing
    assert.equal(actors.dots.highestDot('a.1'), 0, 'forgotten once its last write ended')
    await actors.replace('a.3')
    actors.dots.madeDot('a.3', 1)
    assert.equal(actors.dots.highestDot('a.3'), 1)
    assert.throws(() => actors.dots.madeDot('a.3', 0), /positive integer/)
  })
})

interface ReceiverNode {
  readonly store: Store
  readonly transport: Transport
}

/** The sending node and two receivers, a leaving a ring of a, b, c (n=2: every object goes to b and c). */
async function world(options: {cObjectBytesMax?: number; beforeServe?: (to: string, keys: readonly string[]) => Promise<void>} = {}) {
  const time = new SimulatedTime({settle})
  const network = new SimulatedNetwork({time, random: seededRandom(5), link: {delayMsMin: 0.5, delayMsMax: 2, lossRate: 0}})
  const random = seededRandom(9)
  const receivers = new Map<string, ReceiverNode>()
  for (const name of ['b', 'c']) {
    const store = await Store.open(memoryDatabase(), {writeBuffer: false, scheduler: time})
    const hints = await HintStore.open(store, hintLimitsDefault)
    const receiverPolicy = name === 'c' && options.cObjectBytesMax !== undefined ? {...policy, objectBytesMax: options.cObjectBytesMax} : policy
    let deps: ReplicaServerDeps | undefined
    const handler: RequestHandler = async (type, body) => {
      assert.ok(replicaMessageTypes.has(type) && deps !== undefined)
      if (type === MessageType.ObjectHandoff) await options.beforeServe?.(name, (body as {entries: Array<{key: string}>}).entries.map((entry) => entry.key))
      return serveReplicaRequest(deps, type, body)
    }
    const transport = network.listen({address: `${name}:7000`, nodeName: name, handler, scheduler: time.node(`${name}:7000`)})
    const coordinator: CoordinatorDeps = {
      self: name,
      actor: `${name}.1`,
      dots: new DotLedger(),
      store,
      hints,
      transport,
      clock: time,
      scheduler: time.node(`${name}:7000`),
      readLatency: new ReplicaReadLatency(),
      policy: receiverPolicy,
      durableReplicaPerPut: false,
      requestTimeoutMs: 1000,
      view: () => ({ring: buildRing(partitionCount, ['b', 'c']), rpcAddressOf: (member) => `${member}:7000`, isUp: () => true}),
    }
    deps = {coordinator, clusterSize: () => 2, partitionCount: () => partitionCount, isOtherMember: (member) => member !== name, isHomeOf: () => true, writeActor: new WriteActor(`${name}.1`)}
    receivers.set(name, {store, transport})
  }
  const database = memoryDatabase()
  const store = await Store.open(database, {writeBuffer: false, scheduler: time})
  const transport = network.listen({address: 'a:7000', nodeName: 'a', handler: async () => ({}), scheduler: time.node('a:7000')})
  const loaded = await loadIdentity(store, 'a', random, time)
  assert.ok(loaded.ok)
  let identity = loaded.identity
  const writeActor = new WriteActor(actorOf(identity))
  const renewals: Array<{epoch: string; objectsThen: number}> = []
  let ring: Ring = buildRing(partitionCount, ['a', 'b', 'c'])
  let pending: Ring | undefined
  const logLines: string[] = []
  const release = new ReleaseHandoff({
    self: 'a',
    store,
    transport,
    clock: time,
    ring: () => ring,
    pendingRing: () => pending,
    rpcAddressOf: (name) => `${name}:7000`,
    settleMs: 0,
    currentActor: () => writeActor.current,
    renewActor: async () => {
      renewals.push({epoch: identity.epoch, objectsThen: store.objectCount})
      identity = await renewEpoch(store, identity, random)
      await writeActor.replace(actorOf(identity))
    },
    log: (line) => logLines.push(line),
  })
  /** A write coordinated on a, as its put coordinator makes it (n=2); `write` runs simulated time until it is done. */
  const writeDuring = (key: string, text: string): Promise<void> =>
    writeActor.run(async (actor) => {
      const partition = partitionOfKey(key, partitionCount)
      const written = await writeNewVersion(store, policy, partition, key, {
        context: [],
        version: {value: new TextEncoder().encode(text), contentType: 'text/plain', timestampMs: time.nowMs(), tombstone: false},
        actor,
        dots: writeActor.dots,
        n: 2,
        nowMs: time.nowMs(),
        durable: false,
      })
      assert.ok(written.ok)
    })
  const write = (key: string, text: string): Promise<void> => time.until(writeDuring(key, text), stepMsMax)
  const runRelease = async (): Promise<void> => {
    await time.until(release.tick(), stepMsMax)
    ring = buildRing(partitionCount, ['b', 'c'])
    await time.until(release.tick(), stepMsMax)
  }
  const valuesOn = async (node: Store, key: string): Promise<string[]> => {
    const object = await node.getObject(partitionOfKey(key, partitionCount), key)
    return object === undefined ? [] : values(object.versions).map((v) => new TextDecoder().decode(v.value)).sort()
  }
  const setPending = (next: Ring | undefined): void => {
    pending = next
  }
  return {time, store, database, receivers, release, write, writeDuring, runRelease, valuesOn, renewals, logLines, identity: () => identity, writeActor, setPending}
}

describe('release hand-off', () => {
  const keys = Array.from({length: 300}, (_, index) => `key-${index}`)

  it('hands every copy to its new homes, deletes it here, and takes a new epoch first, kept across a restart', async () => {
    const w = await world()
    for (const key of keys) await w.write(key, `v-${key}`)
    const epochBefore = w.identity().epoch
    assert.equal(w.store.objectCount, keys.length)
    await w.runRelease()
    assert.equal(w.release.pendingCount, 0)
    for (const key of keys) {
      for (const name of ['b', 'c']) assert.deepEqual(await w.valuesOn(w.receivers.get(name)!.store, key), [`v-${key}`], `${key} on ${name}`)
    }
    assert.equal(w.store.objectCount, 0, 'every handed-off copy is deleted')
    assert.deepEqual(await w.store.scanPartition(0, undefined, 10), [])
    assert.equal(w.release.counts.deleted, keys.length)
    assert.equal(w.renewals.length, 1, 'one new epoch for the release')
    assert.equal(w.renewals[0]!.objectsThen, keys.length, 'the epoch changed before the first delete')
    assert.notEqual(w.identity().epoch, epochBefore)
    assert.equal(w.writeActor.current, `a.${w.identity().epoch}`)
    await w.store.close()
    const reopened = await Store.open(w.database, {writeBuffer: false, scheduler: w.time})
    assert.equal((await reopened.getMeta<Identity>('identity'))?.epoch, w.identity().epoch, 'the new epoch is persisted')
    const restarted = await loadIdentity(reopened, 'a', seededRandom(1), w.time)
    assert.ok(restarted.ok)
    assert.ok(![epochBefore, w.identity().epoch].includes(restarted.identity.epoch), 'a restart takes an epoch of its own')
    await reopened.close()
  })

  it('says which partitions it handed off, and nothing of the empty ones (a new cluster releases dozens)', async () => {
    const empty = await world()
    await empty.runRelease()
    assert.equal(empty.release.pendingCount, 0)
    assert.deepEqual(empty.logLines.filter((line) => line.startsWith('handed off released partition')), [])
    const w = await world()
    await w.write(keys[0]!, 'v')
    await w.runRelease()
    assert.deepEqual(w.logLines.filter((line) => line.startsWith('handed off released partition')), [`handed off released partition ${partitionOfKey(keys[0]!, partitionCount)}`])
  })

  it('hands every copy to its current homes, and keeps those a transition under way makes it a home of again', async () => {
    const w = await world()
    for (const key of keys) await w.write(key, `v-${key}`)
    // The ring installed without a, while a pending one (its transfers fetching) homes a again
    // in some partitions (the keys are written with n=2).
    const pending = buildRing(partitionCount, ['a', 'b', 'c', 'd', 'e'])
    w.setPending(pending)
    await w.runRelease()
    const homedAgain = keys.filter((key) => preferenceList(pending, partitionOfKey(key, partitionCount)).slice(0, 2).includes('a'))
    assert.ok(homedAgain.length > 0 && homedAgain.length < keys.length, `a is a home again of ${homedAgain.length} of ${keys.length} keys`)
    assert.equal(w.store.objectCount, homedAgain.length, 'a kept exactly the copies the pending ring makes it a home of')
    for (const key of homedAgain) assert.deepEqual(await w.valuesOn(w.store, key), [`v-${key}`], `${key} kept on a`)
    assert.equal(w.release.counts.deleted, keys.length - homedAgain.length, 'the others were deleted')
    // Every copy still went to the current ring's homes: the kept ones too.
    assert.equal(w.release.counts.handedOff, keys.length)
    for (const key of keys) {
      for (const name of ['b', 'c']) assert.deepEqual(await w.valuesOn(w.receivers.get(name)!.store, key), [`v-${key}`], `${key} on ${name}`)
    }
  })

  it('a write arriving during the hand-off keeps the copy (with the write), and is handed off on the next walk', async () => {
    let writesDuring = 0
    let w: Awaited<ReturnType<typeof world>> | undefined
    // Every delivery of `key-7` to b first writes it again on a: after the page was read, before the delete.
    w = await world({
      beforeServe: async (to, batchKeys) => {
        if (to !== 'b' || !batchKeys.includes('key-7') || writesDuring >= 2) return
        writesDuring += 1
        await w!.writeDuring('key-7', `during-${writesDuring}`)
      },
    })
    for (const key of keys) await w.write(key, `v-${key}`)
    await w.runRelease()
    assert.equal(writesDuring, 2)
    assert.equal(w.release.pendingCount, 0)
    // Walk 1 and 2 found it changed and kept it; walk 3 handed the last write off and deleted it.
    assert.equal(w.store.objectCount, 0)
    for (const name of ['b', 'c']) {
      const held = await w.valuesOn(w.receivers.get(name)!.store, 'key-7')
      assert.ok(held.includes('during-2'), `${name} holds the write made during the hand-off: ${held.join(', ')}`)
    }
  })

  it('a copy written again on every walk is kept here, with its newest write', async () => {
    let writesDuring = 0
    let w: Awaited<ReturnType<typeof world>> | undefined
    w = await world({
      beforeServe: async (to, batchKeys) => {
        if (to !== 'b' || !batchKeys.includes('key-7')) return
        writesDuring += 1
        await w!.writeDuring('key-7', `during-${writesDuring}`)
      },
    })
    for (const key of keys) await w.write(key, `v-${key}`)
    await w.runRelease()
    assert.equal(writesDuring, releaseWalksPerPartitionMax)
    assert.equal(w.store.objectCount, 1, 'only the key written during every walk is kept')
    assert.ok((await w.valuesOn(w.store, 'key-7')).includes(`during-${writesDuring}`))
  })

  it('a copy written last with a smaller n keeps the largest n, and stays where that n homes it', async () => {
    const w = await world()
    const key = 'key-1'
    const partition = partitionOfKey(key, partitionCount)
    await w.time.until(
      writeNewVersion(w.store, policy, partition, key, {context: [], version: {value: new Uint8Array([1]), contentType: 'text/plain', timestampMs: 1, tombstone: false}, actor: 'a.x', dots: new DotLedger(), n: 3, nowMs: 1, durable: false}),
      stepMsMax,
    )
    await w.write(key, 'written with n=2')
    const object = await w.store.getObject(partition, key)
    assert.equal(object?.n, 3, 'the n=2 write keeps the n=3 the key was written with')
    assert.equal(handoffTargets(buildRing(partitionCount, ['b', 'c', 'a']), partition, 'a', object!.n), undefined, 'a third home keeps a key written with n=3')
  })

  it('a copy a new home refuses for cause is kept here and logged; the rest is deleted', async () => {
    const w = await world({cObjectBytesMax: 1000})
    for (const key of keys) await w.write(key, `v-${key}`)
    await w.write('big', 'x'.repeat(5000))
    await w.runRelease()
    assert.equal(w.release.pendingCount, 0)
    assert.deepEqual(await w.valuesOn(w.store, 'big'), ['x'.repeat(5000)], 'kept on the old home')
    assert.deepEqual(await w.valuesOn(w.receivers.get('c')!.store, 'big'), [], 'refused by c')
    assert.equal(w.store.objectCount, 1)
    assert.equal(w.release.counts.refused, 1)
    assert.ok(w.logLines.some((line) => line.includes('refused 1 released object(s) (big: object_too_large)')), w.logLines.join('\n'))
  })
})
