/**
 * Tests of what GET /stats serves for live views: the store's key count (kept from open to
 * reopen, a new key counted once however often it is written), the recent-latency window that
 * forgets old seconds, the latency bucket counters, and the per-route request counters.
 */
import {after, describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join as joinPath} from 'node:path'
import {latencyBucketBoundsMs, latencyUsMax, NodeStats, recentWindowMs} from '../../src/node/stats.js'
import {systemScheduler} from '../../src/node/system-time.js'
import {diskDatabase, memoryDatabase} from '../../src/storage/backend.js'
import type {StoreDatabase} from '../../src/storage/backend.js'
import {Store} from '../../src/storage/store.js'
import type {StoredObject} from '../../src/storage/stored-object.js'
import {emptySet, update} from '../../src/versioning/dvvset.js'

const folders: string[] = []
after(async () => {
  await Promise.all(folders.map((folder) => rm(folder, {recursive: true, force: true})))
})

function objectWith(text: string): StoredObject {
  const value = {value: new TextEncoder().encode(text), contentType: 'text/plain', timestampMs: 1, tombstone: false}
  return {versions: update([], emptySet(), 'n1.a', value, 1), n: 3}
}

interface RequestsView {
  readonly requests: Record<string, {count: number; recent: {count: number; latencyMs: {p50: number; p99: number; max: number}}; latencyBuckets: {boundsMs: number[]; counts: number[]}}>
  readonly httpRequests: Record<string, number>
}

async function diskFolder(): Promise<string> {
  const folder = await mkdtemp(joinPath(tmpdir(), 'dyn-stats-test-'))
  folders.push(folder)
  return folder
}

/** Each backend the store runs on, and how a restarted node reopens it. */
const backends: ReadonlyArray<{name: string; create: () => Promise<{db: StoreDatabase; reopen: () => StoreDatabase}>}> = [
  {
    name: 'classic-level',
    create: async () => {
      const folder = await diskFolder()
      return {db: diskDatabase(folder), reopen: () => diskDatabase(folder)}
    },
  },
  {
    name: 'memory-level',
    create: async () => {
      const db = memoryDatabase()
      return {db, reopen: () => db}
    },
  },
]

for (const backend of backends) {
  describe(`Store.objectCount on ${backend.name}`, () => {
    it('counts each new key once, and counts again from the database on reopen', async () => {
      const {db, reopen} = await backend.create()
      const options = {writeBuffer: false, scheduler: systemScheduler}
      const store = await Store.open(db, options)
      assert.equal(store.objectCount, 0)
      for (const key of ['a', 'b', 'a', 'c', 'a']) await store.updateObject(1, key, () => ({ok: true, object: objectWith(key)}), {durable: false})
      // A refused change stores nothing, so it counts nothing.
      await store.updateObject(2, 'refused', () => ({ok: false as const}), {durable: false})
      assert.equal(store.objectCount, 3)
      await store.close()
      const reopened = await Store.open(reopen(), options)
      assert.equal(reopened.objectCount, 3)
      await reopened.close()
    })

    it('counts a buffered key once, before and after the flush', async () => {
      const {db} = await backend.create()
      const store = await Store.open(db, {writeBuffer: true, scheduler: systemScheduler})
      await store.updateObject(1, 'k', () => ({ok: true, object: objectWith('1')}), {durable: false})
      await store.flush()
      await store.updateObject(1, 'k', () => ({ok: true, object: objectWith('2')}), {durable: false})
      assert.equal(store.objectCount, 1)
      await store.close()
    })
  })
}

describe('NodeStats', () => {
  it('keeps recent latencies for the window only, and the totals for ever', () => {
    let nowMs = 0
    const stats = new NodeStats({monitorEventLoop: false, monotonicMs: () => nowMs})
    try {
      stats.record('get', 'ok', 500)
      nowMs = recentWindowMs - 1
      stats.record('get', 'ok', 2)
      let view = stats.snapshot() as unknown as RequestsView
      assert.equal(view.requests.get?.count, 2)
      assert.equal(view.requests.get?.recent.count, 2)
      assert.ok((view.requests.get?.recent.latencyMs.max ?? 0) >= 499)
      // The first second has left the window: its slow request no longer counts as recent.
      nowMs = recentWindowMs + 1
      view = stats.snapshot() as unknown as RequestsView
      assert.equal(view.requests.get?.count, 2)
      assert.equal(view.requests.get?.recent.count, 1)
      assert.ok((view.requests.get?.recent.latencyMs.max ?? 0) < 3)
      // A slot reused for a later second forgets what it held.
      nowMs = 3 * recentWindowMs
      stats.record('get', 'ok', 1)
      view = stats.snapshot() as unknown as RequestsView
      assert.equal(view.requests.get?.recent.count, 1)
    } finally {
      stats.stop()
    }
  })

  it('counts latencies per bucket, the slowest in the last, unbounded one', () => {
    const stats = new NodeStats({monitorEventLoop: false, monotonicMs: () => 0})
    try {
      stats.record('put', 'ok', 0.1)
      stats.record('put', 'ok', 0.3)
      stats.record('put', 'quorum_unmet', 5000)
      const buckets = (stats.snapshot() as unknown as RequestsView).requests.put?.latencyBuckets
      assert.deepEqual(buckets?.boundsMs, [...latencyBucketBoundsMs])
      assert.equal(buckets?.counts.length, latencyBucketBoundsMs.length + 1)
      assert.equal(buckets?.counts[0], 1)
      assert.equal(buckets?.counts[1], 1)
      assert.equal(buckets?.counts.at(-1), 1)
    } finally {
      stats.stop()
    }
  })

  it('keeps a latency beyond its histograms\' range, as their longest, and percentiles within 1%', () => {
    const stats = new NodeStats({monitorEventLoop: false, monotonicMs: () => 0})
    try {
      // Node's histograms count a value above their range apart (exceeds), not in count: /stats must count it.
      stats.record('get', 'ok', (2 * latencyUsMax) / 1000)
      stats.record('get', 'ok', 12.345)
      const latency = (stats.snapshot() as unknown as RequestsView).requests.get
      assert.equal(latency?.count, 2)
      assert.equal(latency?.recent.count, 2)
      assert.ok(Math.abs((latency?.recent.latencyMs.max ?? 0) - latencyUsMax / 1000) <= (0.01 * latencyUsMax) / 1000)
      assert.ok(Math.abs((latency?.recent.latencyMs.p50 ?? 0) - 12.345) <= 0.01 * 12.345, `p50 ${latency?.recent.latencyMs.p50}`)
    } finally {
      stats.stop()
    }
  })

  it('counts client API requests by route', () => {
    const stats = new NodeStats({monitorEventLoop: false, monotonicMs: () => 0})
    try {
      stats.countHttpRequest('stats')
      stats.countHttpRequest('stats')
      stats.countHttpRequest('cluster')
      const http = (stats.snapshot() as unknown as RequestsView).httpRequests
      assert.deepEqual(http, {kv: 0, cluster: 1, stats: 2, health: 0, other: 0})
    } finally {
      stats.stop()
    }
  })
})
