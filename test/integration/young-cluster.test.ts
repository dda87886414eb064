// Issue 13.1: keys written while a cluster is small record the N asked (the cluster's default),
// not the smaller number the cluster could give then, so that when members join every key
// reaches its full N. Walked as a new user would: one node, 200 keys, two more nodes started by
// hand with --seeds, then one of them killed.

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {openSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {describe, it} from 'node:test'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {dynBin, getJson, killNode, putValue, secretArgs, startCluster, waitFor} from './harness.js'

const keyCount = 200

describe('a cluster that grows from one node', () => {
  it('gives every key written on one node its full N once two more join, and loses none when one of them dies', async (t) => {
    const c = await startCluster(1)
    t.after(() => c.stop())
    for (let i = 0; i < keyCount; i += 1) {
      const put = await putValue(c.url(0, `/kv/young-${i}`), `value-${i}`)
      assert.equal(put.status, 204)
      assert.equal(put.headers.get('x-dyn-quorum'), 'n=1, r=1, w=1, dw=0', 'a default fitted to one member')
    }
    const seed = `${c.cluster.host}:${c.cluster.nodes[0]?.rpcPort}`
    const joined: Array<{name: string; pid: number; api: string}> = []
    for (const name of ['n2', 'n3']) {
      const {port, rpcPort} = await freeClusterPorts(1)
      const child = spawn(process.execPath, [dynBin, 'start', '--name', name, '--port', String(port), '--rpc-port', String(rpcPort), '--data', path.join(c.dir, `hand-${name}`), '--seeds', seed, ...secretArgs(c.dir)], {stdio: 'ignore'})
      assert.ok(child.pid !== undefined)
      const pid = child.pid
      t.after(() => killNode(pid).catch(() => undefined))
      joined.push({name, pid, api: `${c.cluster.host}:${port}`})
    }
    const apis = [c.api(0), ...joined.map((node) => node.api)]
    // Settled: three owners, no ring change under way, and every node holds every key.
    const counts = await waitFor('every node to hold all 200 keys', async () => {
      const views = await Promise.all(apis.map(async (api) => ({health: (await getJson(`http://${api}/health`)).body, stats: (await getJson(`http://${api}/stats`)).body})))
      const settled = views.every((view) => view.health.ringMembers === 3 && view.health.transition === null)
      const keys = views.map((view) => view.stats.keys as number)
      return settled && keys.every((count) => count === keyCount) ? keys : undefined
    })
    assert.deepEqual(counts, [keyCount, keyCount, keyCount])
    const cluster = (await getJson(c.url(0, '/cluster'))).body as {effective: {n: number}}
    assert.equal(cluster.effective.n, 3)
    // The first node worked out its query-free quorum while it was alone: its requests now run
    // with the full defaults, for reads and writes alike.
    const read = await fetch(c.url(0, '/kv/young-0'))
    await read.arrayBuffer()
    assert.equal(read.headers.get('x-dyn-quorum'), 'n=3, r=2, w=2, dw=0')
    assert.equal(read.headers.get('x-dyn-quorum-asked'), null)
    const write = await putValue(c.url(0, '/kv/young-after'), 'grown')
    assert.equal(write.status, 204)
    assert.equal(write.headers.get('x-dyn-quorum'), 'n=3, r=2, w=2, dw=0')
    assert.equal(write.headers.get('x-dyn-quorum-asked'), null)
    // With n2 gone, every key is still read at the default R=2.
    await killNode(joined[0]?.pid)
    const missing: string[] = []
    for (let i = 0; i < keyCount; i += 1) {
      const read = await getJson(c.url(0, `/kv/young-${i}`))
      if (read.status !== 200) missing.push(`young-${i} (${read.status})`)
    }
    assert.deepEqual(missing, [])
  })

  it('installs a new, empty cluster\'s ring at the join commit, with no transfer, and each node logs what it owns (issue 13.3)', async (t) => {
    const c = await startCluster(1)
    t.after(() => c.stop())
    const seed = `${c.cluster.host}:${c.cluster.nodes[0]?.rpcPort}`
    const startedAtMs = Date.now()
    const joined: Array<{name: string; api: string; logPath: string}> = []
    for (const name of ['n2', 'n3']) {
      const {port, rpcPort} = await freeClusterPorts(1)
      const logPath = path.join(c.dir, `hand-${name}.log`)
      const log = openSync(logPath, 'w')
      const child = spawn(process.execPath, [dynBin, 'start', '--name', name, '--port', String(port), '--rpc-port', String(rpcPort), '--data', path.join(c.dir, `hand-${name}`), '--seeds', seed, ...secretArgs(c.dir)], {stdio: ['ignore', log, log]})
      assert.ok(child.pid !== undefined)
      const pid = child.pid
      t.after(() => killNode(pid).catch(() => undefined))
      joined.push({name, api: `${c.cluster.host}:${port}`, logPath})
    }
    const apis = [c.api(0), ...joined.map((node) => node.api)]
    await waitFor('three owners on every node, no ring change under way', async () => {
      const views = await Promise.all(apis.map(async (api) => (await getJson(`http://${api}/health`)).body))
      return views.every((view) => view.ringMembers === 3 && view.transition === null) ? true : undefined
    })
    t.diagnostic(`three owners everywhere ${Date.now() - startedAtMs} ms after the two nodes were started`)
    for (const {name, logPath} of joined) {
      const lines = readFileSync(logPath, 'utf8').split('\n')
      assert.deepEqual(lines.filter((line) => line.includes('received partition')), [], `${name} fetched partitions: a transfer ran`)
      const owns = lines.map((line) => / this node owns (\d+) of 64 partitions/.exec(line)).find((match) => match !== null)
      assert.ok(owns !== undefined, `${name} never logged the partitions it owns`)
      assert.ok(Number(owns[1]) > 0, `${name} owns ${owns[1]} partitions`)
    }
    // And the cluster serves at once with its full N.
    const put = await putValue(`http://${joined[0]?.api}/kv/first`, 'one')
    assert.equal(put.status, 204)
    assert.equal(put.headers.get('x-dyn-quorum'), 'n=3, r=2, w=2, dw=0')
  })
})
