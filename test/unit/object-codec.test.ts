/**
 * The stored-object codec (src/storage/object-codec.ts): objects survive the round trip, bad
 * bytes are refused with its own error, records of the msgpack layout written before it are
 * still read, and a replica whose merge keeps the object it was sent stores the bytes it came in.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {isDeepStrictEqual} from 'node:util'
import {Packr} from 'msgpackr'
import {seededRandom} from '../../src/clock.js'
import type {ReplicaPolicy} from '../../src/coordinator/replica.js'
import {mergeIncoming} from '../../src/coordinator/replica.js'
import {replicaGetAnswerObject, replicaPutObject} from '../../src/coordinator/messages.js'
import {systemScheduler} from '../../src/node/system-time.js'
import {memoryDatabase} from '../../src/storage/backend.js'
import {objectKey} from '../../src/storage/layout.js'
import {decodeStoredObject, encodeStoredObject, isCodecObject, objectCodecMagic, ObjectCodecError} from '../../src/storage/object-codec.js'
import {objectHash} from '../../src/antientropy/hash-tree.js'
import {Store} from '../../src/storage/store.js'
import type {StoredObject, StoredVersion} from '../../src/storage/stored-object.js'
import {emptySet, join, update} from '../../src/versioning/dvvset.js'
import {checkObjectInput, objectInput, randomStoredObject} from '../fuzz/object-target.js'

const policy: ReplicaPolicy = {conflictPolicy: 'siblings', entriesMax: 10, siblingsPerKeyMax: 64, objectBytesMax: 8 * 1024 * 1024}

function version(value: string, timestampMs = 1000): StoredVersion {
  return {value: Buffer.from(value), contentType: 'text/plain', timestampMs, tombstone: false}
}

/** Values as plain arrays: a decoded value is a view of the record, an original may be another Buffer. */
function plain(object: StoredObject): unknown {
  return {n: object.n, entries: object.versions.entries.map((entry) => ({...entry, values: entry.values.map((value) => ({...value, value: [...value.value]}))}))}
}

describe('stored-object codec', () => {
  it('gives back every object it encodes: any actors, values, dots, clouds and numbers up to 2^53', () => {
    const random = seededRandom(20261206)
    for (let index = 0; index < 2000; index += 1) {
      const object = randomStoredObject(random)
      const bytes = encodeStoredObject(object)
      assert.ok(isCodecObject(bytes))
      assert.ok(isDeepStrictEqual(plain(decodeStoredObject(bytes)), plain(object)), `object ${index} changed on the round trip`)
    }
  })

  it('refuses truncated, padded and foreign bytes with ObjectCodecError, never another error', () => {
    const bytes = encodeStoredObject({versions: update([], emptySet<StoredVersion>(), 'n1.1', version('value'), 1000), n: 3})
    for (let length = 0; length < bytes.length; length += 1) assert.throws(() => decodeStoredObject(bytes.subarray(0, length)), ObjectCodecError, `cut at ${length}`)
    assert.throws(() => decodeStoredObject(Buffer.concat([bytes, Buffer.from([0])])), ObjectCodecError)
    assert.throws(() => decodeStoredObject(Buffer.from([0x82, 0xa1, 0x6e, 0x03])), ObjectCodecError, 'a msgpack map is not this layout')
    assert.throws(() => decodeStoredObject(Buffer.from([objectCodecMagic, 99, 3, 0])), /format 99/)
    // A count far beyond any object (a corrupt varint) is refused before anything is allocated for it.
    assert.throws(() => decodeStoredObject(Buffer.from([objectCodecMagic, 1, 3, 0xff, 0xff, 0xff, 0x7f])), /more than an object holds/)
    // The fuzz target's own properties, on inputs of a fixed seed (npm run fuzz runs a million).
    for (let index = 0; index < 2000; index += 1) {
      const outcome = checkObjectInput(objectInput(7, index))
      assert.ok(outcome === 'decoded' || outcome === 'refused', outcome)
    }
  })

  it('reads a record written in the msgpack layout before it, and writes the key back in its own', async (t) => {
    const db = memoryDatabase()
    const store = await Store.open(db, {writeBuffer: false, scheduler: systemScheduler})
    t.after(() => store.close())
    const old: StoredObject = {versions: update([], emptySet<StoredVersion>(), 'n1.1', version('old layout'), 1000), n: 3}
    await db.put(objectKey(4, 'k'), new Packr({useRecords: false, moreTypes: false}).pack(old))
    const read = await store.getObject(4, 'k')
    assert.ok(read !== undefined && isDeepStrictEqual(plain(read), plain(old)))
    const next = update(join(old.versions), old.versions, 'n1.1', version('new layout', 2000), 2000)
    assert.equal((await store.updateObject(4, 'k', () => ({ok: true, object: {versions: next, n: 3}}), {durable: false})).ok, true)
    const raw = await db.get(objectKey(4, 'k'))
    assert.ok(raw !== undefined && isCodecObject(raw), 'the key is written back in the codec layout')
  })

  it('stores the bytes a replica was sent when its merge keeps that object, and the merge when it does not', async (t) => {
    const db = memoryDatabase()
    const store = await Store.open(db, {writeBuffer: false, scheduler: systemScheduler})
    t.after(() => store.close())
    const first: StoredObject = {versions: update([], emptySet<StoredVersion>(), 'a.1', version('one'), 1000), n: 3}
    await mergeIncoming(store, policy, 2, 'k', first, false, encodeStoredObject(first))
    // A newer write of the same actor supersedes what is stored: the merge is the object sent.
    const second: StoredObject = {versions: update(join(first.versions), first.versions, 'a.1', version('two', 2000), 2000), n: 3}
    await assertStoresSentBytes(store, db, second)
    // A concurrent write of another actor: the merge keeps both, so it is encoded here.
    const concurrent: StoredObject = {versions: update([], emptySet<StoredVersion>(), 'b.1', version('other'), 3000), n: 3}
    const merged = await mergeIncoming(store, policy, 2, 'k', concurrent, false, encodeStoredObject(concurrent))
    assert.ok(merged.ok)
    const stored = await db.get(objectKey(2, 'k'))
    assert.ok(stored !== undefined)
    assert.equal(decodeStoredObject(stored).versions.entries.length, 2, 'both actors are stored, not only the object sent')
    assert.ok(isDeepStrictEqual(plain(decodeStoredObject(stored)), plain(merged.object)))
    // The key now has two actors. A coordinator's next write, with a context that saw both,
    // supersedes b's value: the merge makes b's entry anew, equal to the one sent but not it.
    const both = merged.object.versions
    const third: StoredObject = {versions: update(join(both), both, 'a.1', version('three', 4000), 4000), n: 3}
    await assertStoresSentBytes(store, db, third)
  })

  it('writes a pinned layout and hash: a change to either is a change to the disk format or the protocol', () => {
    const object: StoredObject = {
      versions: {
        entries: [
          {actor: 'n1.7', counter: 5, values: [{value: Buffer.from('apples'), contentType: 'text/plain', timestampMs: 1765000000000, tombstone: false}], updatedAtMs: 1765000000001},
          {actor: 'n2.3', counter: 9, values: [], dots: [], cloud: [11, 12], updatedAtMs: 1765000000002},
        ],
      },
      n: 3,
    }
    const pinned =
      'c1010302046e312e3700000000000014400010202b23af794201066170706c65730a746578742f706c61696e0000202b23af79420000046e322e3300000000000022400020202b23af79420003000200000000000026400000000000002840'
    assert.equal(encodeStoredObject(object).toString('hex'), pinned)
    assert.ok(isDeepStrictEqual(plain(decodeStoredObject(Buffer.from(pinned, 'hex'))), plain(object)))
    // Nodes compare these across the network: a new hash needs a new protocol version (frame.ts).
    assert.deepEqual(objectHash('cart', object), [2213006665, 4114581129])
  })

  it('checks what comes from another node as a stored object: a ReplicaGet answer, a ReplicaPut body', () => {
    const object: StoredObject = {versions: update([], emptySet<StoredVersion>(), 'a.1', version('v'), 1000), n: 3}
    const bytes = encodeStoredObject(object)
    assert.equal(replicaGetAnswerObject({objectBytes: null}), undefined, 'the replica holds nothing')
    const answered = replicaGetAnswerObject({objectBytes: bytes})
    assert.ok(answered !== undefined && answered !== 'malformed' && isDeepStrictEqual(plain(answered), plain(object)))
    for (const body of [null, {}, {object}, {objectBytes: 'text'}, {objectBytes: bytes.subarray(0, bytes.length - 1)}]) assert.equal(replicaGetAnswerObject(body), 'malformed', JSON.stringify(body))
    // Decodable, but not a stored object: n = 0 (n is 1 to 64).
    const zeroN = Buffer.from(bytes)
    zeroN[2] = 0
    assert.equal(replicaGetAnswerObject({objectBytes: zeroN}), 'malformed')
    assert.equal(replicaPutObject({partition: 1, key: 'k', objectBytes: zeroN, durable: false}), undefined)
    assert.ok(replicaPutObject({partition: 1, key: 'k', objectBytes: bytes, durable: false}) !== undefined)
  })
})

/**
 * Sends `object` to the replica as a coordinator would and checks that the replica stored the
 * very bytes it was sent. They are marked so that bytes encoded anew cannot pass for them: n
 * (byte 2) written as a two-byte varint, which decodes to the same object but is not what
 * encoding writes.
 */
async function assertStoresSentBytes(store: Store, db: ReturnType<typeof memoryDatabase>, object: StoredObject): Promise<void> {
  const sentBytes = encodeStoredObject(object)
  const marked = Buffer.concat([sentBytes.subarray(0, 2), Buffer.from([0x80 | (sentBytes[2] as number), 0x00]), sentBytes.subarray(3)])
  const markedObject = decodeStoredObject(marked)
  assert.notDeepEqual(encodeStoredObject(markedObject), marked)
  assert.equal((await mergeIncoming(store, policy, 2, 'k', markedObject, false, marked)).ok, true)
  assert.deepEqual(await db.get(objectKey(2, 'k')), marked, 'the replica stored the bytes it was sent')
}
