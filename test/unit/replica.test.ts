/**
 * The replica's steps (src/coordinator/replica.ts) and a key's n: a key keeps the largest n it
 * was ever written with, whether the write came to this replica as its coordinator or merged in
 * from another, so that every replica agrees on how many homes the key has. And a coordinator
 * never reuses a dot of its actor, even after the copy that counted them is gone.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import type {ReplicaPolicy} from '../../src/coordinator/replica.js'
import {mergeIncoming, writeNewVersion} from '../../src/coordinator/replica.js'
import {DotLedger} from '../../src/coordinator/write-actor.js'
import {memoryDatabase} from '../../src/storage/backend.js'
import {Store} from '../../src/storage/store.js'
import type {StoredVersion} from '../../src/storage/stored-object.js'
import {emptySet, join, newestDot, sync, update, values} from '../../src/versioning/dvvset.js'

/** The dots each writing actor made, as a node's write actor keeps them. */
const dots = new DotLedger()

const policy: ReplicaPolicy = {conflictPolicy: 'siblings', entriesMax: 10, siblingsPerKeyMax: 64, objectBytesMax: 8 * 1024 * 1024}
const scheduler = {soon: (callback: () => void) => setImmediate(callback)}

function version(text: string): StoredVersion {
  return {value: Buffer.from(text), contentType: 'text/plain', timestampMs: 1, tombstone: false}
}

describe('a key\'s n on a replica', () => {
  it('a new version keeps the larger n of the stored object and the write, as a merge does', async () => {
    const store = await Store.open(memoryDatabase(), {writeBuffer: false, scheduler})
    try {
      const write = (n: number, text: string) => writeNewVersion(store, policy, 2, 'k', {context: [], version: version(text), actor: 'a.1', dots, n, nowMs: 1, durable: false})
      const wide = await write(5, 'one')
      assert.ok(wide.ok)
      assert.equal(wide.object.n, 5)
      const narrow = await write(3, 'two')
      assert.ok(narrow.ok)
      assert.equal(narrow.object.n, 5, 'a later write with a smaller n leaves the key with 5 homes')
      const merged = await mergeIncoming(store, policy, 2, 'k', {versions: update([], emptySet<StoredVersion>(), 'b.1', version('three'), 1), n: 3}, false)
      assert.ok(merged.ok)
      assert.equal(merged.object.n, 5)
      assert.equal((await store.getObject(2, 'k'))?.n, 5)
    } finally {
      await store.close()
    }
  })
})

describe('a coordinator\'s dots after its copy is gone', () => {
  it('a write after a reap gets a dot above every one the actor made, so a context read before the delete leaves it as a sibling (seed 47215251)', async () => {
    const store = await Store.open(memoryDatabase(), {writeBuffer: false, scheduler})
    try {
      const ledger = new DotLedger()
      const write = (context: ReturnType<typeof join>, text: string, tombstone = false) =>
        writeNewVersion(store, policy, 2, 'k', {context, version: {...version(text), tombstone}, actor: 'a.1', dots: ledger, n: 3, nowMs: 1, durable: false})
      const first = await write([], 'one')
      assert.ok(first.ok)
      const second = await write(join(first.object.versions), 'two')
      assert.ok(second.ok)
      const deleted = await write(join(second.object.versions), '', true)
      assert.ok(deleted.ok)
      // A client read the tombstone; then every home reaped it.
      const staleContext = join(deleted.object.versions)
      assert.ok(await store.deleteObjectIf(2, 'k', () => true))
      const blind = await write([], 'blind')
      assert.ok(blind.ok)
      assert.equal(blind.dot, 4, 'above the three dots a.1 made before the reap')
      assert.equal(newestDot(blind.object.versions, 'a.1'), 4)
      // The stale context's write, coordinated by another node, meets the blind put on a replica.
      const late = update(staleContext, emptySet<StoredVersion>(), 'b.1', version('late'), 2)
      const merged = sync(blind.object.versions, late).entries
      assert.deepEqual(values({entries: merged}).map((stored) => Buffer.from(stored.value).toString()).sort(), ['blind', 'late'])
    } finally {
      await store.close()
    }
  })
})

describe('the siblings limit', () => {
  it('refuses a new concurrent version past it, but never a merge of versions other replicas accepted (a new user\'s walk; seeds 6, 13, 209)', async () => {
    const store = await Store.open(memoryDatabase(), {writeBuffer: false, scheduler})
    try {
      const limited: ReplicaPolicy = {...policy, siblingsPerKeyMax: 2}
      const blind = (actor: string, text: string) => writeNewVersion(store, limited, 1, 'k', {context: [], version: version(text), actor, dots, n: 3, nowMs: 1, durable: false})
      assert.ok((await blind('a.1', 'one')).ok)
      assert.ok((await blind('a.1', 'two')).ok)
      const third = await blind('a.1', 'three')
      assert.equal(third.ok, false)
      assert.equal(!third.ok && third.error, 'too_many_siblings')
      // Two blind writes the other side of a partition accepted: the union has four siblings.
      const bOne = update([], emptySet<StoredVersion>(), 'b.1', version('b-one'), 1)
      const otherSide = update([], bOne, 'b.1', version('b-two'), 1)
      const merged = await mergeIncoming(store, limited, 1, 'k', {versions: otherSide, n: 3}, false)
      assert.ok(merged.ok, 'a replica holds the union of what each side acknowledged')
      assert.deepEqual(values((await store.getObject(1, 'k'))?.versions ?? emptySet<StoredVersion>()).map((v) => v.value.toString()).sort(), ['b-one', 'b-two', 'one', 'two'])
      // A coordinator still adds nothing to it until the key is resolved.
      const fifth = await blind('a.1', 'five')
      assert.equal(!fifth.ok && fifth.error, 'too_many_siblings')
      // The bytes are still bounded on a merge: an object must fit in one frame to another node.
      const large = await mergeIncoming(store, {...limited, objectBytesMax: 16}, 1, 'k', {versions: update([], emptySet<StoredVersion>(), 'c.1', version('a value longer than sixteen bytes'), 1), n: 3}, false)
      assert.equal(!large.ok && large.error, 'object_too_large')
    } finally {
      await store.close()
    }
  })
})
