/**
 * Tests of the hint store (src/handoff/hints.ts) on a memory-level store: hints are kept apart
 * from the node's own objects, merge per key, survive a reopen (the index is rebuilt), obey
 * hintsPerNodeMax and hintsTotalMax (beyond them a new hint is refused and counted, an existing
 * one still merges), and are removed after delivery only when unchanged since they were read.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {HintStore, hintsOfPartition} from '../../src/handoff/hints.js'
import {mergeIncoming} from '../../src/coordinator/replica.js'
import type {ReplicaPolicy} from '../../src/coordinator/replica.js'
import {memoryDatabase} from '../../src/storage/backend.js'
import {Store} from '../../src/storage/store.js'
import type {StoredObject, StoredVersion} from '../../src/storage/stored-object.js'
import {hintKey, hintRange} from '../../src/storage/layout.js'
import {emptySet, update, values} from '../../src/versioning/dvvset.js'
import {DynError} from '../../src/errors.js'

const policy: ReplicaPolicy = {conflictPolicy: 'siblings', entriesMax: 10, siblingsPerKeyMax: 64, objectBytesMax: 8 * 1024 * 1024}
const scheduler = {soon: (callback: () => void) => setImmediate(callback)}

function object(actor: string, text: string, counter = 1): StoredObject {
  const version: StoredVersion = {value: Buffer.from(text), contentType: 'text/plain', timestampMs: counter, tombstone: false}
  let versions = emptySet<StoredVersion>()
  for (let i = 0; i < counter; i += 1) versions = update([], versions, actor, version, i)
  return {versions, n: 3}
}

function texts(stored: StoredObject | undefined): string[] {
  return stored === undefined ? [] : values(stored.versions).map((version) => Buffer.from(version.value).toString('utf8')).sort()
}

describe('hint store', () => {
  it('keeps hints apart from the node\'s own objects, merges per key, and rebuilds its counts on reopen', async () => {
    const database = memoryDatabase()
    let store = await Store.open(database, {writeBuffer: false, scheduler})
    let hints = await HintStore.open(store)
    assert.ok((await mergeIncoming(hints.spaceFor('n3'), policy, 5, 'k', object('a.1', 'one'), false)).ok)
    assert.ok((await mergeIncoming(hints.spaceFor('n3'), policy, 5, 'k', object('b.1', 'two'), false)).ok)
    assert.ok((await mergeIncoming(hints.spaceFor('n4'), policy, 6, 'j', object('a.1', 'three'), false)).ok)
    assert.equal(await store.getObject(5, 'k'), undefined, 'a hint is not an object of this node')
    assert.deepEqual(texts(await hints.spaceFor('n3').getObject(5, 'k')), ['one', 'two'])
    assert.deepEqual([...hints.pendingByTarget()], [['n3', 1], ['n4', 1]])
    await store.close()
    store = await Store.open(database, {writeBuffer: false, scheduler})
    hints = await HintStore.open(store)
    assert.equal(hints.pendingTotal, 2)
    assert.equal(hints.pendingFor('n3'), 1)
    assert.deepEqual(texts(await hints.spaceFor('n3').getObject(5, 'k')), ['one', 'two'])
  })

  it('refuses a new hint beyond hintsPerNodeMax or hintsTotalMax, counts it, and still merges into an existing one', async () => {
    const store = await Store.open(memoryDatabase(), {writeBuffer: false, scheduler})
    const hints = await HintStore.open(store, {hintsPerNodeMax: 2, hintsTotalMax: 3})
    const add = (target: string, key: string, text = key) => mergeIncoming(hints.spaceFor(target), policy, 1, key, object('a.1', text), false)
    await add('n3', 'a')
    await add('n3', 'b')
    await assert.rejects(add('n3', 'c'), (error: DynError) => error.code === 'overloaded' && /2 hints for n3/.test(error.message))
    assert.ok((await add('n3', 'a', 'a-again')).ok, 'an existing hint always takes a merge')
    await add('n4', 'a')
    await assert.rejects(add('n5', 'a'), (error: DynError) => error.code === 'overloaded' && /3 hints in all/.test(error.message))
    assert.equal(hints.refused, 2)
    assert.equal(hints.pendingTotal, 3)
    assert.equal(await hints.spaceFor('n3').getObject(1, 'c'), undefined)
  })

  it('removes a delivered hint only if it is still what was sent', async () => {
    const store = await Store.open(memoryDatabase(), {writeBuffer: false, scheduler})
    const hints = await HintStore.open(store)
    await mergeIncoming(hints.spaceFor('n3'), policy, 1, 'a', object('a.1', 'one'), false)
    await mergeIncoming(hints.spaceFor('n3'), policy, 1, 'b', object('a.1', 'two'), false)
    const batch = await hints.batch('n3', 10, 1024 * 1024)
    assert.deepEqual(batch.map((hint) => hint.key), ['a', 'b'])
    // A write merges into hint b while the batch is in flight: b must stay for the next delivery.
    await mergeIncoming(hints.spaceFor('n3'), policy, 1, 'b', object('b.1', 'newer'), false)
    assert.equal(await hints.remove('n3', batch), 1)
    assert.deepEqual((await hints.batch('n3', 10, 1024 * 1024)).map((hint) => hint.key), ['b'])
    assert.equal(hints.pendingFor('n3'), 1)
  })

  it('lays out one target\'s hints as one range that holds no other target\'s', () => {
    const range = hintRange('n1')
    const inside = (key: Buffer): boolean => Buffer.compare(key, range.gte) >= 0 && Buffer.compare(key, range.lt) < 0
    assert.ok(inside(hintKey('n1', 0, 'x')))
    assert.ok(inside(hintKey('n1', 65535, '\u{10ffff}')))
    assert.ok(!inside(hintKey('n2', 0, 'x')))
    assert.ok(!inside(hintKey('n10', 0, 'x')))
    assert.ok(!inside(hintKey('n', 0, 'x')))
  })

  it('pages through one partition\'s hints for every target, one target per page, jumping over the others', async () => {
    const store = await Store.open(memoryDatabase(), {writeBuffer: false, scheduler})
    const hints = await HintStore.open(store)
    // Partition 5 held for n2 (3 keys) and n4 (1 key); other partitions around them, before and after.
    for (const [target, partition, key] of [['n2', 4, 'a'], ['n2', 5, 'x'], ['n2', 5, 'y'], ['n2', 5, 'z'], ['n2', 6, 'b'], ['n3', 4, 'c'], ['n3', 6, 'd'], ['n4', 5, 'w'], ['n5', 65535, 'e']] as const) {
      assert.ok((await mergeIncoming(hints.spaceFor(target), policy, partition, key, object('a.1', `${target}/${key}`), false)).ok)
    }
    const seen: string[] = []
    let after: {target: string; key: string} | undefined
    for (let page = 0; page < 10; page += 1) {
      const {hints: found, more} = await hintsOfPartition(store, 5, after, 2)
      assert.ok(new Set(found.map((hint) => hint.target)).size <= 1, 'one target per page')
      seen.push(...found.map((hint) => `${hint.target}/${hint.key}=${texts(hint.object).join()}`))
      if (!more) break
      const last = found.at(-1)
      assert.ok(last !== undefined, 'a page that says more is not empty')
      after = {target: last.target, key: last.key}
    }
    assert.deepEqual(seen, ['n2/x=n2/x', 'n2/y=n2/y', 'n2/z=n2/z', 'n4/w=n4/w'])
    assert.deepEqual((await hintsOfPartition(store, 65535, undefined, 10)).hints.map((hint) => hint.key), ['e'])
    assert.deepEqual(await hintsOfPartition(store, 7, undefined, 10), {hints: [], more: false})
  })
})
