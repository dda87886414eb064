/**
 * The store's conformance suite, run on each backend it has (classic-level on disk, memory-level
 * in simulation; ARCHITECTURE "On disk"), then its key layout and the per-key mutex: objects and
 * metadata round-trip and survive a reopen, concurrent updates of one key lose no version, a
 * failed change stores nothing, a partition scan pages through exactly one partition in key
 * order, the write buffer and group commit keep every acknowledged write. Every test runs on a
 * database of its own (on disk: a temporary folder, removed afterwards).
 */
import {after, describe, it, type TestContext} from 'node:test'
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join as joinPath} from 'node:path'
import type {ClassicLevel} from 'classic-level'
import fc from 'fast-check'
import {KeyedMutex} from '../../src/storage/keyed-mutex.js'
import {decodeObjectKey, hintKey, metaKey, objectKey, partitionIndexMax, partitionRange} from '../../src/storage/layout.js'
import {hintsDebtPartition} from '../../src/storage/delete-debt.js'
import {systemScheduler} from '../../src/node/system-time.js'
import type {Scheduler} from '../../src/scheduler.js'
import {diskDatabase, isDiskDatabaseInUse, memoryDatabase, type StoreDatabase} from '../../src/storage/backend.js'
import {groupCommitWritesMax, scanPageMax, Store, type StoreOptions} from '../../src/storage/store.js'
import type {StoredObject, StoredVersion} from '../../src/storage/stored-object.js'
import {emptySet, join, update, values, type VersionSet} from '../../src/versioning/dvvset.js'

const folders: string[] = []
after(async () => {
  await Promise.all(folders.map((folder) => rm(folder, {recursive: true, force: true})))
})

/** The store as a node opens it without the write buffer. */
const plainStore = {writeBuffer: false, scheduler: systemScheduler}

async function temporaryFolder(): Promise<string> {
  const folder = await mkdtemp(joinPath(tmpdir(), 'dyn-store-test-'))
  folders.push(folder)
  return folder
}

/** One kind of database the store runs on. */
interface Backend {
  readonly name: string
  /** A new, empty database. */
  create(): Promise<StoreDatabase>
  /** What a node restarted on the same storage opens: a new handle on the folder, or the same memory instance. */
  reopen(db: StoreDatabase): StoreDatabase
}

const backends: readonly Backend[] = [
  {
    name: 'classic-level',
    create: async () => diskDatabase(await temporaryFolder()),
    reopen: (db) => diskDatabase((db as unknown as ClassicLevel).location),
  },
  {name: 'memory-level', create: async () => memoryDatabase(), reopen: (db) => db},
]

function version(bytes: Uint8Array | string, timestampMs = 1000, tombstone = false): StoredVersion {
  const value = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes
  return {value, contentType: 'application/octet-stream', timestampMs, tombstone}
}

function objectOf(versions: VersionSet<StoredVersion>, n = 3): StoredObject {
  return {versions, n}
}

function writeOnce(text: string, actor = 'node-a.1'): StoredObject {
  return objectOf(update([], emptySet<StoredVersion>(), actor, version(text), 1000))
}

/** An object as plain data with each value as a byte array, to compare what comes back from disk. */
function plain(object: StoredObject | undefined): unknown {
  if (object === undefined) return undefined
  return {
    n: object.n,
    entries: object.versions.entries.map((entry) => ({
      actor: entry.actor,
      counter: entry.counter,
      updatedAtMs: entry.updatedAtMs,
      values: entry.values.map((stored) => {
        assert.ok(stored.value instanceof Uint8Array, 'a value must come back as bytes')
        return {...stored, value: [...stored.value]}
      }),
    })),
  }
}

async function put(store: Store, partition: number, key: string, object: StoredObject, durable = false): Promise<void> {
  const outcome = await store.updateObject(partition, key, () => ({ok: true, object}), {durable})
  assert.equal(outcome.ok, true)
}

/** Removes the record of what a store owes compaction, as a store written by an older dyn lacks it. */
async function withoutDebtRecord(folder: string): Promise<void> {
  const db = diskDatabase(folder)
  await db.open()
  await db.del(metaKey('delete-debt'))
  await db.close()
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

function storeSuite(backend: Backend): void {
  /** Opens a store on a new database; it is closed when the test ends. */
  async function openTemporaryStore(t: TestContext, options: StoreOptions = plainStore): Promise<{store: Store; db: StoreDatabase}> {
    const db = await backend.create()
    const store = await Store.open(db, options)
    t.after(() => store.close())
    return {store, db}
  }

  describe(`store on ${backend.name}: objects and metadata`, () => {
    it('never serves a deleted object that a read cached while the delete was being committed', async (t) => {
      // Group commits run when the test says so, so that a read can land between a delete's
      // decision and its batch.
      const due: Array<() => void> = []
      const {store} = await openTemporaryStore(t, {writeBuffer: false, scheduler: {soon: (callback) => void due.push(callback)}})
      const settle = async <T>(work: Promise<T>): Promise<T> => {
        let done = false
        void work.then(() => (done = true), () => (done = true))
        for (let rounds = 0; !done && rounds < 1000; rounds++) {
          for (const callback of due.splice(0)) callback()
          await new Promise((resolve) => setImmediate(resolve))
        }
        return work
      }
      await settle(store.updateObject(0, 'k', () => ({ok: true, object: writeOnce('v')}), {durable: false}))
      const deleting = store.deleteObjectIf(0, 'k', () => true)
      for (let rounds = 0; due.length === 0 && rounds < 100; rounds++) await new Promise((resolve) => setImmediate(resolve))
      assert.equal(due.length, 1, 'the delete waits for its group commit')
      assert.ok((await store.getObject(0, 'k')) !== undefined, 'until it is committed, a read still finds the object')
      assert.equal(await settle(deleting), true)
      assert.equal(await store.getObject(0, 'k'), undefined)
      assert.equal(store.objectCount, 0)
      await settle(store.updateObject(0, 'k', () => ({ok: true, object: writeOnce('again')}), {durable: false}))
      assert.equal(store.objectCount, 1, 'a key written again after its delete counts once')
    })

    it('round-trips a stored object, its bytes, siblings and tombstones', async (t) => {
      const {store} = await openTemporaryStore(t)
      const binary = new Uint8Array([0, 1, 2, 127, 128, 254, 255])
      let versions = update([], emptySet<StoredVersion>(), 'node-a.1', version(binary, 1000), 1000)
      versions = update([], versions, 'node-a.1', version(new Uint8Array(0), 1001), 1001)
      versions = update(join(versions), versions, 'node-b.3', version(new Uint8Array(0), 1002, true), 1002)
      versions = update([], versions, 'node-c.2', version('späť ☃', 1003), 1003)
      const object = objectOf(versions, 5)
      await put(store, 7, 'the key', object, true)
      const back = await store.getObject(7, 'the key')
      assert.deepEqual(plain(back), plain(object))
      assert.deepEqual(back?.versions.entries.map((entry) => entry.values.length), [0, 1, 1])
      const tombstone = back?.versions.entries.find((entry) => entry.actor === 'node-b.3')?.values[0]
      assert.equal(tombstone?.tombstone, true)
      assert.deepEqual([...(back?.versions.entries.find((entry) => entry.actor === 'node-c.2')?.values[0]?.value ?? [])], [
        ...new TextEncoder().encode('späť ☃'),
      ])
    })

    it('deletes an object only when the check says so, under the key\'s lock, and counts it out', async (t) => {
      for (const options of [plainStore, {writeBuffer: true, scheduler: systemScheduler}]) {
        const db = await backend.create()
        const store = await Store.open(db, options)
        t.after(() => store.close())
        await put(store, 2, 'gone', writeOnce('a'))
        await put(store, 2, 'kept', writeOnce('b'))
        assert.equal(store.objectCount, 2)
        assert.equal(await store.deleteObjectIf(2, 'kept', () => false), false)
        assert.equal(await store.deleteObjectIf(2, 'absent', () => true), false)
        // A write queued behind the check runs after it: the check saw the object before it.
        const checked: string[] = []
        const deleting = store.deleteObjectIf(2, 'gone', (stored) => {
          checked.push(values(stored.versions).map((v) => new TextDecoder().decode(v.value)).join())
          return true
        })
        const rewriting = put(store, 2, 'gone', writeOnce('c'))
        assert.equal(await deleting, true)
        await rewriting
        assert.deepEqual(checked, ['a'])
        assert.deepEqual(values((await store.getObject(2, 'gone'))!.versions).map((v) => new TextDecoder().decode(v.value)), ['c'])
        assert.equal(await store.deleteObjectIf(2, 'gone', () => true), true)
        assert.equal(await store.getObject(2, 'gone'), undefined)
        assert.deepEqual((await store.scanPartition(2, undefined, 10)).map((entry) => entry.key), ['kept'])
        assert.equal(store.objectCount, 1, `${options.writeBuffer ? 'buffered' : 'plain'}: the count drops with the delete`)
        await store.close()
        const reopened = await Store.open(backend.reopen(db), plainStore)
        t.after(() => reopened.close())
        assert.equal(reopened.objectCount, 1, 'the delete reached the database')
        assert.equal(await reopened.getObject(2, 'gone'), undefined)
        await reopened.close()
      }
    })

    it('asks its absent-merge filter only for a key it holds nothing of, and drops what the filter says', async (t) => {
      for (const options of [plainStore, {writeBuffer: true, scheduler: systemScheduler}]) {
        const store = await Store.open(await backend.create(), options)
        t.after(() => store.close())
        const tombstone = objectOf(update([], emptySet<StoredVersion>(), 'node-a.1', version('', 1000, true), 1000))
        const asked: string[] = []
        store.filterAbsentMerges((partition, key, object) => {
          asked.push(`${partition}/${key}`)
          return key === 'reaped' && object.versions.entries[0]?.actor === 'node-a.1'
        })
        assert.throws(() => store.filterAbsentMerges(() => false), /has an absent-merge filter already/)
        await put(store, 4, 'reaped', tombstone)
        assert.equal(await store.getObject(4, 'reaped'), undefined, 'dropped, and answered as merged')
        assert.equal(store.objectCount, 0)
        await put(store, 4, 'other', tombstone)
        assert.ok((await store.getObject(4, 'other')) !== undefined)
        // Present: merged as ever, without asking the filter.
        await put(store, 4, 'other', tombstone)
        const rewritten = objectOf(update([], emptySet<StoredVersion>(), 'node-b.1', version('back'), 2000))
        await put(store, 4, 'reaped', rewritten)
        assert.deepEqual(values((await store.getObject(4, 'reaped'))!.versions).map((v) => new TextDecoder().decode(v.value)), ['back'])
        assert.deepEqual(asked, ['4/reaped', '4/other', '4/reaped'])
        await store.close()
      }
    })

    it('round-trips random byte values', async (t) => {
      const {store} = await openTemporaryStore(t)
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({maxLength: 300}), fc.string({minLength: 1, maxLength: 20}), async (bytes, key) => {
          const object = objectOf(update([], emptySet<StoredVersion>(), 'node-a.1', version(bytes), 5))
          await put(store, 3, key, object)
          assert.deepEqual(plain(await store.getObject(3, key)), plain(object))
        }),
        {numRuns: 50},
      )
    })

    it('answers undefined for a key it does not hold, and keeps keys of different partitions apart', async (t) => {
      const {store} = await openTemporaryStore(t)
      assert.equal(await store.getObject(0, 'nothing'), undefined)
      await put(store, 1, 'same', writeOnce('in one'))
      await put(store, 2, 'same', writeOnce('in two'))
      assert.equal(await store.getObject(0, 'same'), undefined)
      assert.deepEqual(values((await store.getObject(1, 'same'))!.versions).map((v) => new TextDecoder().decode(v.value)), ['in one'])
      assert.deepEqual(values((await store.getObject(2, 'same'))!.versions).map((v) => new TextDecoder().decode(v.value)), ['in two'])
    })

    it('keeps objects and metadata across a close and a reopen', async () => {
      const db = await backend.create()
      const first = await Store.open(db, plainStore)
      const object = writeOnce('kept')
      await put(first, 0, 'k', object)
      await put(first, partitionIndexMax, 'last', writeOnce('at the end'), true)
      await first.putMeta('identity', {name: 'node-a', epoch: 3})
      await first.close()
      const second = await Store.open(backend.reopen(db), plainStore)
      try {
        assert.deepEqual(plain(await second.getObject(0, 'k')), plain(object))
        assert.equal((await second.getObject(partitionIndexMax, 'last'))?.n, 3)
        assert.deepEqual(await second.getMeta('identity'), {name: 'node-a', epoch: 3})
        assert.equal(await second.isEmpty(), false)
      } finally {
        await second.close()
      }
    })

    it('round-trips metadata and keeps it apart from objects of the same name', async (t) => {
      const {store} = await openTemporaryStore(t)
      assert.equal(await store.getMeta('members'), undefined)
      const table = {settings: {partitionCount: 64, conflictPolicy: 'lww'}, members: [{name: 'a', incarnation: 2, tags: ['x', 'y']}]}
      await store.putMeta('members', table)
      assert.deepEqual(await store.getMeta('members'), table)
      await store.putMeta('members', {replaced: true})
      assert.deepEqual(await store.getMeta('members'), {replaced: true})
      await put(store, 0, 'members', writeOnce('an object'))
      assert.deepEqual(await store.getMeta('members'), {replaced: true})
      assert.equal((await store.getObject(0, 'members'))?.n, 3)
      assert.deepEqual(await store.scanPartition(0, undefined, scanPageMax).then((page) => page.map((row) => row.key)), ['members'])
    })

    it('is empty until the first record of any kind', async (t) => {
      const {store: forMeta} = await openTemporaryStore(t)
      assert.equal(await forMeta.isEmpty(), true)
      await forMeta.putMeta('identity', 'x')
      assert.equal(await forMeta.isEmpty(), false)
      const {store: forObject} = await openTemporaryStore(t)
      assert.equal(await forObject.isEmpty(), true)
      await put(forObject, 9, 'k', writeOnce('v'))
      assert.equal(await forObject.isEmpty(), false)
    })
  })

  describe(`store on ${backend.name}: the n values of its objects`, () => {
    it('keeps every distinct n exactly, tells the listener of a new one once, and has them again after a reopen', async (t) => {
      const db = await backend.create()
      let store = await Store.open(db, plainStore)
      const told: number[][] = []
      store.watchReplicaCounts((counts) => told.push([...counts]))
      assert.deepEqual(store.storedReplicaCounts, [])
      await put(store, 1, 'a', objectOf(writeOnce('a').versions, 3))
      await put(store, 2, 'b', objectOf(writeOnce('b').versions, 5), true)
      await put(store, 3, 'c', objectOf(writeOnce('c').versions, 3))
      assert.deepEqual(store.storedReplicaCounts, [3, 5])
      assert.deepEqual(told, [[3], [3, 5]])
      await store.close()
      store = await Store.open(backend.reopen(db), plainStore)
      t.after(() => store.close())
      assert.deepEqual(store.storedReplicaCounts, [3, 5])
    })

    it('keeps them through the write buffer too', async (t) => {
      const db = await backend.create()
      let store = await Store.open(db, {writeBuffer: true, scheduler: systemScheduler})
      await put(store, 1, 'a', objectOf(writeOnce('a').versions, 4))
      await store.close()
      store = await Store.open(backend.reopen(db), plainStore)
      t.after(() => store.close())
      assert.deepEqual(store.storedReplicaCounts, [4])
    })
  })

  describe(`store on ${backend.name}: updates`, () => {
    it('loses no version when 50 callers update one key at once, each with its own actor', async (t) => {
      const {store} = await openTemporaryStore(t)
      const callers = 50
      const outcomes = await Promise.all(
        Array.from({length: callers}, (_, index) =>
          store.updateObject(
            4,
            'hot',
            (stored) => ({
              ok: true as const,
              object: objectOf(update([], stored?.versions ?? emptySet<StoredVersion>(), `writer-${String(index).padStart(2, '0')}.1`, version(`v${index}`), index)),
            }),
            {durable: index % 10 === 0},
          ),
        ),
      )
      assert.ok(outcomes.every((outcome) => outcome.ok))
      const stored = await store.getObject(4, 'hot')
      assert.ok(stored !== undefined)
      const texts = values(stored.versions).map((v) => new TextDecoder().decode(v.value))
      assert.equal(texts.length, callers)
      assert.deepEqual(new Set(texts), new Set(Array.from({length: callers}, (_, index) => `v${index}`)))
    })

    it('hands each change what the previous change stored', async (t) => {
      const {store} = await openTemporaryStore(t)
      const seen: Array<number | undefined> = []
      await Promise.all(
        Array.from({length: 10}, (_, index) =>
          store.updateObject(
            0,
            'chain',
            (stored) => {
              seen.push(stored === undefined ? undefined : values(stored.versions).length)
              const base = stored?.versions ?? emptySet<StoredVersion>()
              // Each writer read what is stored, so its write supersedes it: one value remains.
              return {ok: true as const, object: objectOf(update(join(base), base, 'node-a.1', version(`v${index}`), index))}
            },
            {durable: false},
          ),
        ),
      )
      assert.deepEqual(seen, [undefined, ...Array.from({length: 9}, () => 1)])
      const stored = await store.getObject(0, 'chain')
      assert.equal(stored?.versions.entries[0]?.counter, 10)
    })

    it('leaves the stored object untouched when the change returns a failure', async (t) => {
      const {store} = await openTemporaryStore(t)
      const original = writeOnce('original')
      await put(store, 5, 'k', original)
      const failure = {ok: false as const, error: 'too_many_siblings' as const, message: 'too many'}
      const outcome = await store.updateObject(5, 'k', () => failure, {durable: true})
      assert.deepEqual(outcome, failure)
      assert.deepEqual(plain(await store.getObject(5, 'k')), plain(original))
      // On a key with nothing stored, a failure stores nothing either.
      const {store: empty} = await openTemporaryStore(t)
      assert.deepEqual(await empty.updateObject(5, 'new', () => failure, {durable: false}), failure)
      assert.equal(await empty.getObject(5, 'new'), undefined)
      assert.equal(await empty.isEmpty(), true)
    })

    it('stores nothing when the change throws, and the key stays usable', async (t) => {
      const {store} = await openTemporaryStore(t)
      const original = writeOnce('original')
      await put(store, 5, 'k', original)
      await assert.rejects(
        store.updateObject(5, 'k', () => {
          throw new Error('change failed')
        }, {durable: false}),
        /change failed/,
      )
      assert.deepEqual(plain(await store.getObject(5, 'k')), plain(original))
      await put(store, 5, 'k', writeOnce('after'))
      assert.deepEqual(values((await store.getObject(5, 'k'))!.versions).map((v) => new TextDecoder().decode(v.value)), ['after'])
    })

    it('refuses to store a malformed version set', async (t) => {
      const {store} = await openTemporaryStore(t)
      const malformed = {versions: {entries: [{actor: '', counter: 0, values: [], updatedAtMs: 0}]}, n: 3} as unknown as StoredObject
      await assert.rejects(store.updateObject(0, 'bad', () => ({ok: true, object: malformed}), {durable: false}), /assertion failed/)
      assert.equal(await store.getObject(0, 'bad'), undefined)
    })
  })

  describe(`store on ${backend.name}: partition scans`, () => {
    const partitions = [0, 1, 255, 256, partitionIndexMax] as const
    const keys = ['a', 'ab', 'b', 'z', 'é', '☃', '\uffff', '😀', 'key with spaces', 'a/b%2F'] as const

    async function filledStore(t: TestContext): Promise<Store> {
      const {store} = await openTemporaryStore(t)
      // Metadata sorts before every object and must never show up in a scan.
      await store.putMeta('identity', {name: 'x'})
      for (const partition of partitions) {
        for (const key of keys) await put(store, partition, key, writeOnce(`${partition}:${key}`))
      }
      return store
    }

    /** Every key of one partition, page by page. */
    async function scanAll(store: Store, partition: number, limit: number): Promise<Array<{key: string; object: StoredObject}>> {
      const rows: Array<{key: string; object: StoredObject}> = []
      let afterKey: string | undefined
      // At most one page per stored key, plus the final empty or short page.
      for (let pageIndex = 0; pageIndex <= keys.length + 1; pageIndex += 1) {
        const page = await store.scanPartition(partition, afterKey, limit)
        assert.ok(page.length <= limit, `a page of ${page.length} rows for limit ${limit}`)
        rows.push(...page)
        if (page.length < limit) return rows
        afterKey = page[page.length - 1]!.key
      }
      assert.fail('the scan did not end')
    }

    it('returns exactly one partition, in key order, with paging', async (t) => {
      const store = await filledStore(t)
      const expected = [...keys].sort(compareUtf8)
      for (const partition of partitions) {
        for (const limit of [1, 2, 3, 7, scanPageMax]) {
          const rows = await scanAll(store, partition, limit)
          assert.deepEqual(
            rows.map((row) => row.key),
            expected,
            `partition ${partition}, limit ${limit}`,
          )
          for (const row of rows) {
            const texts = values(row.object.versions).map((v) => new TextDecoder().decode(v.value))
            assert.deepEqual(texts, [`${partition}:${row.key}`])
          }
        }
      }
    })

    it('returns nothing for an empty partition, even between full neighbours', async (t) => {
      const store = await filledStore(t)
      for (const partition of [2, 254, 257, partitionIndexMax - 1]) {
        assert.deepEqual(await store.scanPartition(partition, undefined, scanPageMax), [], `partition ${partition}`)
      }
    })

    it('starts strictly after `afterKey`, whether or not that key is stored', async (t) => {
      const store = await filledStore(t)
      const expected = [...keys].sort(compareUtf8)
      for (const partition of partitions) {
        const afterStored = await store.scanPartition(partition, 'ab', scanPageMax)
        assert.deepEqual(afterStored.map((row) => row.key), expected.filter((key) => compareUtf8(key, 'ab') > 0))
        const afterAbsent = await store.scanPartition(partition, 'aa', 2)
        assert.deepEqual(afterAbsent.map((row) => row.key), ['ab', 'b'])
        const afterLast = await store.scanPartition(partition, expected[expected.length - 1]!, scanPageMax)
        assert.deepEqual(afterLast, [])
      }
    })

    it('asserts on a page limit out of range', async (t) => {
      const {store} = await openTemporaryStore(t)
      await assert.rejects(store.scanPartition(0, undefined, 0), /assertion failed/)
      await assert.rejects(store.scanPartition(0, undefined, scanPageMax + 1), /assertion failed/)
    })
  })

  describe(`store on ${backend.name}: write buffer (paper §6.1)`, () => {
    function openBuffered(t: TestContext): Promise<{store: Store; db: StoreDatabase}> {
      return openTemporaryStore(t, {writeBuffer: true, scheduler: systemScheduler})
    }

    it('serves buffered writes before they are flushed, and keeps them after a flush and a reopen', async (t) => {
      const db = await backend.create()
      const store = await Store.open(db, {writeBuffer: true, scheduler: systemScheduler})
      await put(store, 3, 'k', writeOnce('buffered'))
      assert.equal(store.bufferedCount, 1)
      assert.deepEqual(plain(await store.getObject(3, 'k')), plain(writeOnce('buffered')))
      await store.flush()
      assert.equal(store.bufferedCount, 0)
      assert.deepEqual(plain(await store.getObject(3, 'k')), plain(writeOnce('buffered')))
      await put(store, 3, 'later', writeOnce('closed-while-buffered'))
      await store.close()
      const reopened = await Store.open(backend.reopen(db), plainStore)
      t.after(() => reopened.close())
      assert.deepEqual(plain(await reopened.getObject(3, 'later')), plain(writeOnce('closed-while-buffered')))
    })

    it('never lets a flush of an older buffered object land after a newer durable write', async (t) => {
      const {store} = await openBuffered(t)
      // A flush of a large batch holding version A is under way when a durable write of B, which
      // supersedes A, arrives: B must be what stays, however the two reach LevelDB.
      for (let round = 0; round < 1000; round += 1) {
        for (let filler = 0; filler < 20; filler += 1) await put(store, 2, `filler-${round}-${filler}`, writeOnce('x'.repeat(2000)))
        const key = `raced-${round}`
        const a = writeOnce('A')
        const b = objectOf(update(join(a.versions), a.versions, 'node-a.1', version('B'), 1001))
        await put(store, 1, key, a)
        const flushing = store.flush()
        const durable = put(store, 1, key, b, true)
        await Promise.all([flushing, durable])
        await store.flush()
        assert.deepEqual(plain(await store.getObject(1, key)), plain(b), `round ${round}`)
      }
    })

    it('includes buffered objects in partition scans', async (t) => {
      const {store} = await openBuffered(t)
      await put(store, 9, 'a', writeOnce('x'))
      await put(store, 9, 'b', writeOnce('y'))
      const page = await store.scanPartition(9, undefined, 10)
      assert.deepEqual(page.map((entry) => entry.key), ['a', 'b'])
    })
  })

  describe(`store on ${backend.name}: group commit`, () => {
    /** A scheduler whose `soon` callbacks the test runs by hand. */
    function manualScheduler(): {scheduler: Pick<Scheduler, 'soon'>; queued: Array<() => void>} {
      const queued: Array<() => void> = []
      return {scheduler: {soon: (callback) => queued.push(callback)}, queued}
    }
    const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

    it('commits the writes issued before the scheduled callback runs, together, and acknowledges none before', async (t) => {
      const manual = manualScheduler()
      const {store, db} = await openTemporaryStore(t, {writeBuffer: false, scheduler: manual.scheduler})
      let acknowledged = 0
      const writes = Array.from({length: 5}, (_, i) => put(store, 6, `k${i}`, writeOnce(`v${i}`), i === 0).then(() => (acknowledged += 1)))
      await turn()
      assert.equal(acknowledged, 0)
      assert.equal(manual.queued.length, 1, 'one commit scheduled for all five writes')
      assert.equal(await db.get(objectKey(6, 'k1')), undefined, 'nothing written before the commit runs')
      manual.queued.shift()!()
      await Promise.all(writes)
      assert.equal(acknowledged, 5)
      for (let i = 0; i < 5; i += 1) assert.ok((await db.get(objectKey(6, `k${i}`))) !== undefined, `k${i}`)
    })

    it('splits more than groupCommitWritesMax waiting writes over several commits', async (t) => {
      const manual = manualScheduler()
      const {store} = await openTemporaryStore(t, {writeBuffer: false, scheduler: manual.scheduler})
      const writes = Array.from({length: groupCommitWritesMax + 10}, (_, i) => put(store, 1, `k${i}`, writeOnce('v')))
      await turn()
      assert.equal(manual.queued.length, 1)
      manual.queued.shift()!()
      assert.equal(manual.queued.length, 1, 'the writes beyond the bound wait for a second commit')
      manual.queued.shift()!()
      await Promise.all(writes)
      assert.equal(manual.queued.length, 0)
    })
  })

  describe(`store on ${backend.name}: a hot key's writes while its batch is in flight`, () => {
    function manualScheduler(): {scheduler: Pick<Scheduler, 'soon'>; queued: Array<() => void>} {
      const queued: Array<() => void> = []
      return {scheduler: {soon: (callback) => queued.push(callback)}, queued}
    }
    /** Runs the scheduled commits as they come until every one of `awaited` has settled. */
    async function commitUntilSettled(queued: Array<() => void>, ...awaited: Array<Promise<unknown>>): Promise<void> {
      let settled = false
      void Promise.allSettled(awaited).then(() => (settled = true))
      for (let turns = 0; !settled; turns += 1) {
        assert.ok(turns < 10_000, 'the writes settle within 10,000 turns of the event loop')
        queued.shift()?.()
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
    const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
    const text = (object: StoredObject | undefined): string[] => values(object?.versions ?? emptySet<StoredVersion>()).map((v) => new TextDecoder().decode(v.value))
    /** Adds `value` under `actor` to what is stored (each caller its own actor, so nothing is superseded). */
    const addVersion = (store: Store, key: string, actor: string, value: string, merges: string[]): Promise<unknown> =>
      store.updateObject(
        3,
        key,
        (stored) => {
          merges.push(value)
          return {ok: true as const, object: objectOf(update([], stored?.versions ?? emptySet<StoredVersion>(), actor, version(value), 1000))}
        },
        {durable: false},
      )

    it('merges the next writes at once, serves the newest, and lands them together after the batch in flight', async (t) => {
      const manual = manualScheduler()
      const {store, db} = await openTemporaryStore(t, {writeBuffer: false, scheduler: manual.scheduler})
      const changes: Array<{before: string[]; after: string[]}> = []
      store.watchChanges((_partition, _key, before, after) => changes.push({before: text(before), after: text(after)}))
      const merges: string[] = []
      const acknowledged: string[] = []
      const first = addVersion(store, 'hot', 'a.1', 'A', merges).then(() => acknowledged.push('A'))
      await turn()
      const next = ['B', 'C'].map((value) => addVersion(store, 'hot', `${value.toLowerCase()}.1`, value, merges).then(() => acknowledged.push(value)))
      await turn()
      // Both later writes merged while A's batch waits, and a read sees the newest object.
      assert.deepEqual(merges, ['A', 'B', 'C'])
      assert.deepEqual(text(await store.getObject(3, 'hot')).sort(), ['A', 'B', 'C'])
      assert.deepEqual(acknowledged, [])
      assert.equal(manual.queued.length, 1, 'one batch for A; B and C wait for it to land')
      manual.queued.shift()!()
      await first
      assert.deepEqual(acknowledged, ['A'], 'A is acknowledged once its batch lands, B and C not yet')
      assert.deepEqual(text(await store.getObject(3, 'hot')).sort(), ['A', 'B', 'C'])
      await commitUntilSettled(manual.queued, ...next)
      await Promise.all(next)
      assert.deepEqual(acknowledged, ['A', 'B', 'C'])
      // B and C landed in one write of the newest object, and the listener saw each landing in order.
      assert.deepEqual(changes, [{before: [], after: ['A']}, {before: ['A'], after: ['A', 'B', 'C']}])
      const raw = await db.get(objectKey(3, 'hot'))
      assert.ok(raw !== undefined)
      await store.close()
      const reopened = await Store.open(backend.reopen(db), plainStore)
      t.after(() => reopened.close())
      assert.deepEqual(text(await reopened.getObject(3, 'hot')).sort(), ['A', 'B', 'C'])
    })

    it('fails the writes of a batch that fails, and still lands the writes merged after them', async (t) => {
      const manual = manualScheduler()
      const {store, db} = await openTemporaryStore(t, {writeBuffer: false, scheduler: manual.scheduler})
      // The first batch the store writes fails, as a full disk would fail it.
      const batchOf = db.batch.bind(db)
      let failuresLeft = 1
      ;(db as {batch: typeof db.batch}).batch = ((...args: unknown[]) => {
        const batch = (batchOf as (...a: unknown[]) => ReturnType<typeof db.batch>)(...args)
        if (failuresLeft > 0 && args.length === 0) {
          failuresLeft -= 1
          const close = batch.close.bind(batch)
          ;(batch as {write: unknown}).write = async () => {
            await close()
            throw new Error('no space left on device')
          }
        }
        return batch
      }) as typeof db.batch
      const merges: string[] = []
      const firstFailed = assert.rejects(addVersion(store, 'k', 'a.1', 'A', merges), /no space left on device/)
      await turn()
      const second = addVersion(store, 'k', 'b.1', 'B', merges)
      await commitUntilSettled(manual.queued, firstFailed, second)
      await firstFailed
      await second
      // B was merged on A, so A's version lands with B's even though A's own batch failed.
      assert.deepEqual(text(await store.getObject(3, 'k')).sort(), ['A', 'B'])
      assert.equal(store.objectCount, 1)
      // A failure with nothing merged after it leaves what LevelDB holds, and the cache does not lie.
      failuresLeft = 1
      const thirdFailed = assert.rejects(addVersion(store, 'k', 'c.1', 'C', merges), /no space left on device/)
      await commitUntilSettled(manual.queued, thirdFailed)
      await thirdFailed
      assert.deepEqual(text(await store.getObject(3, 'k')).sort(), ['A', 'B'])
    })

    it('deletes only after the key\'s writes merged before the delete have landed', async (t) => {
      const manual = manualScheduler()
      const {store, db} = await openTemporaryStore(t, {writeBuffer: false, scheduler: manual.scheduler})
      const merges: string[] = []
      const written = addVersion(store, 'gone', 'a.1', 'A', merges)
      await turn()
      let seen: string[] = []
      const deleted = store.deleteObjectIf(3, 'gone', (stored) => {
        seen = text(stored)
        return true
      })
      await commitUntilSettled(manual.queued, written, deleted)
      await written
      assert.equal(await deleted, true)
      assert.deepEqual(seen, ['A'], 'the delete saw the landed object')
      assert.equal(await db.get(objectKey(3, 'gone')), undefined, 'the delete landed after the write')
      assert.equal(await store.getObject(3, 'gone'), undefined)
      assert.equal(store.objectCount, 0)
    })
  })

  describe(`store on ${backend.name}: close`, () => {
    it('finishes the writes under way, keeps them, and refuses writes after close', async () => {
      const db = await backend.create()
      const store = await Store.open(db, {writeBuffer: true, scheduler: systemScheduler})
      const writes = Array.from({length: 20}, (_, i) => put(store, 4, `k${i}`, writeOnce(`v${i}`), i % 2 === 0))
      const closed = store.close()
      await Promise.all(writes)
      await closed
      await assert.rejects(store.updateObject(4, 'late', () => ({ok: true, object: writeOnce('late')}), {durable: false}), {code: 'unreachable'})
      const reopened = await Store.open(backend.reopen(db), plainStore)
      try {
        for (let i = 0; i < 20; i += 1) assert.deepEqual(plain(await reopened.getObject(4, `k${i}`)), plain(writeOnce(`v${i}`)), `k${i}`)
      } finally {
        await reopened.close()
      }
    })
  })
}

for (const backend of backends) storeSuite(backend)

describe('store backends: what differs', () => {
  it('classic-level gives the space of a partition\'s deleted objects back once it is compacted, and pays that partition\'s debt only; memory-level has nothing to compact', async (t) => {
    const db = diskDatabase(await temporaryFolder())
    const store = await Store.open(db, plainStore)
    t.after(() => store.close())
    assert.equal(store.canCompact, true)
    // Values LevelDB's compression cannot shrink, so that the sizes say how much is stored.
    const value = (): string => randomBytes(150).toString('base64')
    for (let i = 0; i < 3000; i += 1) await put(store, 5, `key-${i}`, writeOnce(value()))
    for (let i = 0; i < 1000; i += 1) await put(store, 6, `key-${i}`, writeOnce(value()))
    // Everything flushed and compacted once, so that the sizes below compare like with like.
    const range = partitionRange(5)
    const level = db as unknown as ClassicLevel<Buffer, Buffer>
    await level.compactRange(range.gte, range.lt)
    const loadedBytes = await store.partitionsDiskBytes(5)
    assert.ok(loadedBytes !== undefined && loadedBytes > 3000 * 150, `partition 5 takes ${loadedBytes} bytes loaded`)
    assert.equal(await store.partitionsDiskBytes(5, 6), await level.approximateSize(range.gte, partitionRange(6).lt))
    for (let i = 0; i < 3000; i += 1) assert.equal(await store.deleteObjectIf(5, `key-${i}`, () => true), true)
    for (let i = 0; i < 999; i += 1) await store.deleteObjectIf(6, `key-${i}`, () => true)
    assert.equal(store.deletesUncompacted, 3999)
    assert.equal(store.partitionsOwing, 2)
    const [owed5, owed6] = store.owedPartitions()
    assert.deepEqual([owed5?.partition, owed5?.deletes, owed6?.partition, owed6?.deletes], [5, 3000, 6, 999])
    // Each deleted record owes at least its value (200 bytes of base64) and its key.
    assert.ok(owed5!.deletedBytes > 3000 * 200, `partition 5 owes ${owed5!.deletedBytes} bytes`)
    assert.deepEqual(await store.compactPartition(5), owed5)
    assert.equal(store.deletesUncompacted, 999)
    assert.deepEqual(store.owedPartitions(), [owed6])
    const compactedBytes = await store.partitionsDiskBytes(5)
    assert.ok(compactedBytes! < loadedBytes / 10, `partition 5 still takes ${compactedBytes} of ${loadedBytes} bytes`)
    // What was not deleted is all there.
    assert.equal(store.objectCount, 1)
    assert.ok((await store.getObject(6, 'key-999')) !== undefined)

    const memory = await Store.open(memoryDatabase(), plainStore)
    t.after(() => memory.close())
    for (let i = 0; i < 1000; i += 1) await put(memory, 1, `key-${i}`, writeOnce('v'))
    for (let i = 0; i < 1000; i += 1) await memory.deleteObjectIf(1, `key-${i}`, () => true)
    assert.equal(memory.canCompact, false)
    assert.equal(await memory.compactPartition(1), undefined)
    assert.equal(await memory.partitionsDiskBytes(1), undefined)
    assert.equal(memory.deleteDebtRecorded, true, 'nothing to sweep where nothing compacts')
  })

  it('owes compaction the bytes of values a write drops (a tombstone over a value) and of objects deleted, nothing for a write that grows an object', async (t) => {
    for (const writeBuffer of [false, true]) {
      const store = await Store.open(memoryDatabase(), {writeBuffer, scheduler: systemScheduler})
      t.after(() => store.close())
      const tombstoneOver = (stored: StoredObject | undefined): StoredObject => objectOf(update(join(stored!.versions), stored!.versions, 'node-a.1', version('', 2000, true), 2000))
      await put(store, 3, 'k', writeOnce('x'.repeat(1000)))
      await put(store, 3, 'k', writeOnce('x'.repeat(5000)))
      assert.equal(store.deletedBytesUncompacted, 0, 'a value that grows frees nothing LevelDB does not compact anyway')
      const outcome = await store.updateObject(3, 'k', (stored) => ({ok: true, object: tombstoneOver(stored)}), {durable: false})
      assert.equal(outcome.ok, true)
      assert.deepEqual(store.owedPartitions(), [{partition: 3, deletedBytes: 5000, deletes: 0}], `write buffer ${writeBuffer}`)
      assert.equal(await store.deleteObjectIf(3, 'k', () => true), true)
      const [owed] = store.owedPartitions()
      assert.equal(owed?.deletes, 1)
      // The tombstone's record: its key (twice, with the delete marker) and its encoding.
      assert.ok(owed!.deletedBytes > 5000 && owed!.deletedBytes < 5300, `owes ${owed!.deletedBytes} bytes`)
    }
  })

  it('owes compaction the hint records it deletes (delivered hints), as one more range after the partitions, which classic-level compacts', async (t) => {
    const db = diskDatabase(await temporaryFolder())
    const store = await Store.open(db, plainStore)
    t.after(() => store.close())
    const hint = hintKey('n2', 4, 'k')
    await store.writeRecords([{type: 'put', key: hint, value: Buffer.alloc(3000, 1)}], {durable: false})
    assert.deepEqual(store.owedPartitions(), [])
    await store.writeRecords([{type: 'del', key: hint}, {type: 'del', key: hintKey('n2', 4, 'never written')}], {durable: false})
    const [owed] = store.owedPartitions()
    assert.equal(owed?.partition, hintsDebtPartition)
    assert.equal(owed?.deletes, 1)
    assert.equal(owed?.deletedBytes, 3000 + hint.length * 2)
    assert.ok((await store.partitionsDiskBytes(hintsDebtPartition)) !== undefined)
    assert.deepEqual(await store.compactPartition(hintsDebtPartition), owed)
    assert.deepEqual(store.owedPartitions(), [])
  })

  it('keeps what each partition owes across a restart on classic-level; a store with data but without that record is to be swept once', async (t) => {
    const folder = await temporaryFolder()
    const first = await Store.open(diskDatabase(folder), plainStore)
    assert.equal(first.deleteDebtRecorded, true, 'a new store owes nothing')
    for (let i = 0; i < 10; i += 1) await put(first, 9, `key-${i}`, writeOnce('v'.repeat(100)))
    for (let i = 0; i < 10; i += 1) await first.deleteObjectIf(9, `key-${i}`, () => true)
    const owed = first.owedPartitions()
    assert.equal(owed[0]?.deletes, 10)
    await first.close()
    const second = await Store.open(diskDatabase(folder), plainStore)
    assert.equal(second.deleteDebtRecorded, true)
    assert.deepEqual(second.owedPartitions(), owed)
    // Saved as it changes, too (the compaction subsystem does every round): a killed process
    // loses only what changed since the last save.
    await put(second, 9, 'big', writeOnce('b'.repeat(10_000)))
    assert.equal(await second.deleteObjectIf(9, 'big', () => true), true)
    await second.saveDeleteDebt()
    const saved = second.owedPartitions()
    assert.deepEqual(await second.getMeta('delete-debt'), {version: 1, partitions: saved.map((debt) => [debt.partition, debt.deletedBytes, debt.deletes])})
    await second.close()
    const third = await Store.open(diskDatabase(folder), plainStore)
    assert.deepEqual(third.owedPartitions(), saved)
    assert.equal(third.deletesUncompacted, 11)
    // As a store written by an older dyn: data, and no record.
    await put(third, 10, 'large', writeOnce(randomBytes(100_000).toString('base64')))
    await third.close()
    await withoutDebtRecord(folder)
    const older = await Store.open(diskDatabase(folder), plainStore)
    t.after(() => older.close())
    assert.equal(older.deleteDebtRecorded, false)
    assert.deepEqual(older.owedPartitions(), [])
  })

  it('classic-level refuses a second store on a folder in use with LEVEL_LOCKED', async (t) => {
    const folder = await temporaryFolder()
    const first = await Store.open(diskDatabase(folder), plainStore)
    t.after(() => first.close())
    await assert.rejects(Store.open(diskDatabase(folder), plainStore), (error: {cause?: {code?: string}}) => error.cause?.code === 'LEVEL_LOCKED')
  })

  it('memory-level reopened without a close (a crash, storage kept) has what was committed, not what was buffered', async () => {
    const db = memoryDatabase()
    const crashed = await Store.open(db, {writeBuffer: true, scheduler: systemScheduler})
    await put(crashed, 2, 'committed', writeOnce('on disk'), true)
    await put(crashed, 2, 'buffered', writeOnce('in memory only'))
    const restarted = await Store.open(db, plainStore)
    try {
      assert.deepEqual(plain(await restarted.getObject(2, 'committed')), plain(writeOnce('on disk')))
      assert.equal(await restarted.getObject(2, 'buffered'), undefined)
    } finally {
      await restarted.close()
    }
  })
})

describe('storage layout', () => {
  it('round-trips object keys and places each inside its own partition range only', () => {
    fc.assert(
      fc.property(fc.integer({min: 0, max: partitionIndexMax}), fc.string({maxLength: 30}), (partition, key) => {
        const raw = objectKey(partition, key)
        assert.deepEqual(decodeObjectKey(raw), {partition, key: Buffer.from(key, 'utf8').toString('utf8')})
        const inside = (p: number): boolean => {
          const range = partitionRange(p)
          return Buffer.compare(raw, range.gte) >= 0 && Buffer.compare(raw, range.lt) < 0
        }
        assert.equal(inside(partition), true)
        if (partition > 0) assert.equal(inside(partition - 1), false)
        if (partition < partitionIndexMax) assert.equal(inside(partition + 1), false)
        // No metadata key falls in any partition range.
        assert.equal(Buffer.compare(metaKey(key), partitionRange(0).gte) < 0, true)
      }),
    )
  })

  it('lays partition ranges end to end', () => {
    for (const partition of [0, 1, 254, 255, 256, partitionIndexMax - 1]) {
      assert.deepEqual(partitionRange(partition).lt, partitionRange(partition + 1).gte)
    }
  })

  it('asserts on a partition that does not fit the layout', () => {
    for (const partition of [-1, partitionIndexMax + 1, 1.5, Number.NaN]) {
      assert.throws(() => objectKey(partition, 'k'), /assertion failed/)
      assert.throws(() => partitionRange(partition), /assertion failed/)
    }
    assert.throws(() => decodeObjectKey(metaKey('identity')), /assertion failed/)
  })
})

describe('keyed mutex', () => {
  /** A promise with its resolve function, to hold a critical section open as long as a test needs. */
  function gate(): {opened: Promise<void>; open: () => void} {
    let open!: () => void
    const opened = new Promise<void>((resolve) => {
      open = resolve
    })
    return {opened, open}
  }

  it('runs the critical sections of one key one at a time, in arrival order', async () => {
    const mutex = new KeyedMutex()
    const events: string[] = []
    let inside = 0
    const runs = Array.from({length: 20}, (_, index) =>
      mutex.run('k', async () => {
        inside += 1
        assert.equal(inside, 1, 'two critical sections of one key overlapped')
        events.push(`start ${index}`)
        // Yield a few times so that an overlapping section would get the chance to start.
        for (let turn = 0; turn < 3; turn += 1) await Promise.resolve()
        events.push(`end ${index}`)
        inside -= 1
        return index
      }),
    )
    assert.deepEqual(await Promise.all(runs), Array.from({length: 20}, (_, index) => index))
    assert.deepEqual(
      events,
      Array.from({length: 20}, (_, index) => [`start ${index}`, `end ${index}`]).flat(),
    )
    assert.equal(mutex.lockedKeyCount, 0)
  })

  it('lets different keys proceed while one is held', async () => {
    const mutex = new KeyedMutex()
    const held = gate()
    const first = mutex.run('one', () => held.opened.then(() => 'one'))
    // The other key completes although the first is still held.
    assert.equal(await mutex.run('two', async () => 'two'), 'two')
    assert.equal(mutex.lockedKeyCount, 1)
    held.open()
    assert.equal(await first, 'one')
    assert.equal(mutex.lockedKeyCount, 0)
  })

  it('removes its entry once a key is idle, also after a failure, and keeps it while anyone waits', async () => {
    const mutex = new KeyedMutex()
    assert.equal(mutex.lockedKeyCount, 0)
    const held = gate()
    const first = mutex.run('k', () => held.opened)
    const failing = mutex.run('k', async () => {
      throw new Error('boom')
    })
    const last = mutex.run('k', async () => 'last')
    assert.equal(mutex.lockedKeyCount, 1)
    held.open()
    await first
    await assert.rejects(failing, /boom/)
    assert.equal(await last, 'last')
    assert.equal(mutex.lockedKeyCount, 0)
    // Many keys, all finished: nothing is left behind.
    await Promise.all(Array.from({length: 100}, (_, index) => mutex.run(`key${index % 7}`, async () => index)))
    assert.equal(mutex.lockedKeyCount, 0)
  })
})

describe('isDiskDatabaseInUse', () => {
  it('says a LevelDB folder is in use exactly while a database holds it open (dyn cluster down --purge asks it)', async (t) => {
    const folder = await mkdtemp(joinPath(tmpdir(), 'dyn-inuse-'))
    t.after(() => rm(folder, {recursive: true, force: true}))
    const database = diskDatabase(folder)
    await database.open({createIfMissing: true})
    try {
      assert.equal(await isDiskDatabaseInUse(folder), true)
    } finally {
      await database.close()
    }
    assert.equal(await isDiskDatabaseInUse(folder), false)
    // Not a database at all: nothing holds it.
    assert.equal(await isDiskDatabaseInUse(joinPath(folder, 'no-such-folder')), false)
  })
})

