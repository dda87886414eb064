// A cluster created with --conflict lww keeps only the newest version of a key: concurrent
// writes do not become siblings, and a joining node adopts the policy with the cluster.

import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {getJson, putValue, siblingTexts, sleep, startCluster} from './harness.js'
import type {TestCluster} from './harness.js'

describe('last-write-wins cluster', () => {
  let c: TestCluster
  before(async () => {
    c = await startCluster(3, ['--conflict', 'lww'])
  })
  after(async () => {
    await c.stop()
  })

  it('every node runs the cluster\'s policy', async () => {
    for (let i = 0; i < 3; i += 1) {
      const cluster = (await getJson(c.url(i, '/cluster'))).body as {settings: {conflictPolicy: string}}
      assert.equal(cluster.settings.conflictPolicy, 'lww', `node ${i}`)
    }
  })

  it('two concurrent writes leave only the newer one', async () => {
    assert.equal((await putValue(c.url(0, '/kv/lww-key?w=3'), 'older')).status, 204)
    // Timestamps are milliseconds: make sure the second write is stamped later.
    await sleep(5)
    assert.equal((await putValue(c.url(1, '/kv/lww-key?w=3'), 'newer')).status, 204)
    for (let i = 0; i < 3; i += 1) {
      const read = await getJson(c.url(i, '/kv/lww-key?r=3'))
      assert.deepEqual(siblingTexts(read.body), ['newer'], `node ${i}`)
    }
    const raw = await fetch(c.url(2, '/kv/lww-key'))
    assert.equal(raw.status, 200)
    assert.equal(await raw.text(), 'newer')
  })
})
