// Real node processes killed with SIGKILL and restarted: quorum behaviour with nodes down, no
// acknowledged write lost across a crash, and a new epoch for a node that lost its disk.

import assert from 'node:assert/strict'
import {rm} from 'node:fs/promises'
import {describe, it} from 'node:test'
import path from 'node:path'
import {startLocalNode, waitForNodes} from '../../src/cli/local-cluster.js'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {getJson, killNode, putValue, reloadCluster, runDyn, secretArgs, siblingTexts, sleep, startCluster} from './harness.js'


describe('failures with real processes', () => {
  it('with 2 of 3 nodes killed, w=2 answers 503 quorum_unmet and w=1 succeeds', async (t) => {
    const c = await startCluster(3)
    t.after(() => c.stop())
    await killNode(c.cluster.nodes[1]?.pid)
    await killNode(c.cluster.nodes[2]?.pid)
    const refused = await fetch(c.url(0, '/kv/lonely?w=2'), {method: 'PUT', body: 'x'})
    assert.equal(refused.status, 503)
    const body = (await refused.json()) as {error: string; required: number; acknowledged: number}
    assert.equal(body.error, 'quorum_unmet')
    assert.equal(body.required, 2)
    assert.equal(body.acknowledged, 1)
    assert.equal((await fetch(c.url(0, '/kv/lonely?w=1'), {method: 'PUT', body: 'y'})).status, 204)
    const cli = await runDyn(['put', 'lonely', 'z', '-w', '2', '--node', c.api(0)])
    assert.equal(cli.code, 3, cli.stderr)
    assert.match(cli.stderr, /quorum_unmet/)
    const read = await getJson(c.url(0, '/kv/lonely?r=1'))
    assert.equal(read.status, 200)
    assert.ok(siblingTexts(read.body).includes('y'))
  })

  it('a put that misses W counts every acknowledgement and names each failed replica and why', async (t) => {
    // Issue 6.2: with one of three nodes killed, a w=3 put is stored by two replicas, and the
    // error must say 2 of 3, not the count at the moment the dead node's failure came in.
    const c = await startCluster(3)
    t.after(() => c.stop())
    await killNode(c.cluster.nodes[2]?.pid)
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const refused = await fetch(c.url(0, `/kv/partial-${attempt}?w=3`), {method: 'PUT', body: 'x'})
      assert.equal(refused.status, 503)
      const body = (await refused.json()) as {error: string; message: string; required: number; acknowledged: number; acknowledgedBy: string[]; failed: Array<{node: string; error: string}>}
      assert.equal(body.error, 'quorum_unmet')
      assert.equal(body.required, 3)
      assert.equal(body.acknowledged, 2, body.message)
      assert.deepEqual([...body.acknowledgedBy].sort(), ['n1', 'n2'])
      assert.deepEqual(body.failed.map((failure) => failure.node), ['n3'])
      assert.ok(body.failed[0]?.error, 'the failure says why')
      assert.match(body.message, /2 of the required 3 .*n3/)
    }
    const read = await getJson(c.url(1, '/kv/partial-0?r=2'))
    assert.deepEqual(siblingTexts(read.body), ['x'])
    const cli = await runDyn(['get', 'partial-0', '-r', '3', '--node', c.api(0)])
    assert.equal(cli.code, 3)
    assert.match(cli.stderr, /2 of the required 3 replicas answered \(n[12], n[12]\); failed: n3/)
  })

  it('acknowledged writes survive SIGKILL of every node and a restart on the same folders', async (t) => {
    const c = await startCluster(3)
    t.after(() => c.stop())
    const written = new Map<string, string>()
    for (let i = 0; i < 60; i += 1) {
      const key = `durable-${i}`
      const value = `value-${i}-${'x'.repeat(i)}`
      const response = await putValue(c.url(i % 3, `/kv/${key}`), value)
      assert.equal(response.status, 204)
      written.set(key, value)
    }
    const actorsBefore = await Promise.all([0, 1, 2].map(async (i) => (await getJson(c.url(i, '/health'))).body.actor))
    for (const node of c.cluster.nodes) await killNode(node.pid)
    const up = await runDyn(['cluster', 'up', '--nodes', '3', '--dir', c.dir])
    assert.equal(up.code, 0, up.stderr)
    for (const [key, value] of written) {
      const read = await getJson(c.url(1, `/kv/${key}?r=3`))
      assert.deepEqual(siblingTexts(read.body), [value], key)
    }
    // Same names; every start takes a new epoch (src/node/identity.ts: a copy of an older disk
    // must never reuse its actor's counters), so each actor is new.
    const actorsAfter = await Promise.all([0, 1, 2].map(async (i) => (await getJson(c.url(i, '/health'))).body.actor as string))
    assert.deepEqual(actorsAfter.map((actor) => actor.split('.')[0]), ['n1', 'n2', 'n3'])
    for (const [index, actor] of actorsAfter.entries()) assert.notEqual(actor, actorsBefore[index])
  })

  it('refuses a second node that takes the name of a running one, and the cluster keeps routing to the first', async (t) => {
    const c = await startCluster(3)
    t.after(() => c.stop())
    const cluster = await reloadCluster(c.dir)
    const {port, rpcPort} = await freeClusterPorts(1)
    const impostorDir = path.join(c.dir, 'impostor')
    const impostor = await runDyn(['start', '--name', 'n2', '--port', String(port), '--rpc-port', String(rpcPort), '--data', impostorDir, '--seeds', `${cluster.host}:${cluster.nodes[0]?.rpcPort}`, ...secretArgs(c.dir)])
    assert.equal(impostor.code, 2, impostor.stdout + impostor.stderr)
    assert.match(impostor.stderr, /already running/)
    const members = (await getJson(c.url(0, '/cluster'))).body.members as Array<{name: string; rpcAddress: string}>
    assert.equal(members.find((m) => m.name === 'n2')?.rpcAddress, `${cluster.host}:${cluster.nodes[1]?.rpcPort}`)
  })

  it('a node restarted on an empty folder with the same name gets a new epoch, and its new writes are never mistaken for old ones', async (t) => {
    const c = await startCluster(3)
    t.after(() => c.stop())
    const cluster = await reloadCluster(c.dir)
    const n3 = cluster.nodes[2]
    assert.ok(n3)
    // n3 coordinates a first write (its actor's counter 1), replicated everywhere.
    assert.equal((await fetch(c.url(2, '/kv/kv679?w=3'), {method: 'PUT', body: 'before-disk-loss'})).status, 204)
    const oldActor = (await getJson(c.url(2, '/health'))).body.actor as string
    await killNode(n3.pid)
    await rm(n3.dataDir, {recursive: true, force: true})
    startLocalNode(cluster, n3, ['--seeds', `${cluster.host}:${cluster.nodes[0]?.rpcPort}`])
    t.after(() => killNode(n3.pid).catch(() => undefined))
    await waitForNodes(cluster, cluster.nodes, 3, 30_000)
    const newActor = (await getJson(c.url(2, '/health'))).body.actor as string
    assert.equal(newActor.split('.')[0], 'n3')
    assert.notEqual(newActor, oldActor)
    // A concurrent write through the reborn n3 (no context) must become a sibling. Had n3
    // reused its old actor, its counter 1 would look already seen and the write would vanish.
    assert.equal((await fetch(c.url(2, '/kv/kv679?w=3'), {method: 'PUT', body: 'after-disk-loss'})).status, 204)
    const read = await getJson(c.url(0, '/kv/kv679?r=3'))
    assert.deepEqual(siblingTexts(read.body), ['after-disk-loss', 'before-disk-loss'])
  })
})
