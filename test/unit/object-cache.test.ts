/**
 * The store's cache of decoded objects (src/storage/object-cache.ts): both bounds always hold, a
 * read entry gets a second chance over an unread one (CLOCK), a written one is never the one its
 * own write evicts, and an object larger than the whole cache is not kept (nor an older copy).
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ObjectCache} from '../../src/storage/object-cache.js'
import type {StoredObject, StoredVersion} from '../../src/storage/stored-object.js'
import {emptySet, update} from '../../src/versioning/dvvset.js'

function objectOf(valueBytes: number): StoredObject {
  const version: StoredVersion = {value: new Uint8Array(valueBytes), contentType: 'text/plain', timestampMs: 1, tombstone: false}
  return {versions: update([], emptySet<StoredVersion>(), 'n1.1', version, 1), n: 3}
}

describe('ObjectCache', () => {
  it('holds at most its entries, evicting one not read since the last pass before one that was', () => {
    const cache = new ObjectCache(3, 1_000_000)
    for (const id of ['a', 'b', 'c']) cache.set(id, objectOf(10))
    assert.ok(cache.get('a') !== undefined)
    cache.set('d', objectOf(10))
    assert.equal(cache.size, 3)
    assert.ok(cache.get('a') !== undefined, 'a was read: it had a second chance')
    assert.equal(cache.get('b'), undefined, 'b, the oldest not read, was evicted')
    cache.set('e', objectOf(10))
    assert.equal(cache.size, 3)
    assert.equal(cache.get('c'), undefined, 'then c')
  })

  it('keeps its bytes within the bound, never evicting the object just written, and keeps no object larger than itself', () => {
    const cache = new ObjectCache(100, 400)
    for (const id of ['a', 'b', 'c']) cache.set(id, objectOf(100))
    for (const id of ['a', 'b', 'c']) cache.get(id)
    cache.set('big', objectOf(300))
    assert.ok(cache.get('big') !== undefined, 'the object just written stays, even when every other was read')
    assert.ok(cache.size <= 2)
    cache.set('big', objectOf(5_000))
    assert.equal(cache.get('big'), undefined, 'too large for the cache: not kept, and the older copy is gone too')
  })

  it('replaces an object in place on a write', () => {
    const cache = new ObjectCache(2, 1_000_000)
    cache.set('a', objectOf(10))
    cache.set('b', objectOf(10))
    const newer = objectOf(20)
    cache.set('a', newer)
    assert.equal(cache.size, 2)
    assert.equal(cache.get('a'), newer)
    cache.set('c', objectOf(10))
    assert.equal(cache.get('a'), newer, 'the written entry had a second chance over b')
    assert.equal(cache.get('b'), undefined)
  })

  it('goes on round from where the last eviction stopped, through many rounds of new keys', () => {
    const cache = new ObjectCache(4, 1_000_000)
    cache.set('hot', objectOf(10))
    for (let index = 0; index < 1_000; index += 1) {
      assert.ok(cache.get('hot') !== undefined, `the key read before every write is never evicted (write ${index})`)
      cache.set(`key${index}`, objectOf(10))
      assert.ok(cache.size <= 4)
    }
    // The three other places hold the three newest keys: each write evicted the oldest unread one.
    assert.equal(cache.get('key996'), undefined)
    for (const id of ['key997', 'key998', 'key999']) assert.ok(cache.get(id) !== undefined, `${id} is cached`)
  })
})
