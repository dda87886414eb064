/**
 * The replica's steps (src/coordinator/replica.ts) and a key's n: a key keeps the largest n it
 * was ever written with, whether the write came to this replica as its coordinator or merged in
 * from another, so that every replica agrees on how many homes the key has.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import type {ReplicaPolicy} from '../../src/coordinator/replica.js'
import {mergeIncoming, writeNewVersion} from '../../src/coordinator/replica.js'
import {memoryDatabase} from '../../src/storage/backend.js'
import {Store} from '../../src/storage/store.js'
import type {StoredVersion} from '../../src/storage/stored-object.js'
import {emptySet, update} from '../../src/versioning/dvvset.js'

const policy: ReplicaPolicy = {conflictPolicy: 'siblings', entriesMax: 10, siblingsPerKeyMax: 64, objectBytesMax: 8 * 1024 * 1024}
const scheduler = {soon: (callback: () => void) => setImmediate(callback)}

function version(text: string): StoredVersion {
  return {value: Buffer.from(text), contentType: 'text/plain', timestampMs: 1, tombstone: false}
}

describe('a key\'s n on a replica', () => {
  it('a new version keeps the larger n of the stored object and the write, as a merge does', async () => {
    const store = await Store.open(memoryDatabase(), {writeBuffer: false, scheduler})
    try {
      const write = (n: number, text: string) => writeNewVersion(store, policy, 2, 'k', {context: [], version: version(text), actor: 'a.1', n, nowMs: 1, durable: false})
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
