// A cluster created with --conflict lww keeps only the newest version of a key: concurrent
// writes do not become siblings, and a joining node adopts the policy with the cluster, whether
// it joins at start (--seeds) or later (dyn cluster join, then commit).

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {dynBin, getJson, isRunning, killNode, putValue, runDyn, secretArgs, siblingTexts, sleep, startCluster, waitFor} from './harness.js'
import type {TestCluster} from './harness.js'

interface ClusterBody {
  settings: {conflictPolicy: string}
  members: Array<{name: string; partitions: number}>
  ring: {transition: unknown}
}

async function clusterOf(api: string): Promise<ClusterBody> {
  return (await getJson(`http://${api}/cluster`)).body as unknown as ClusterBody
}

/**
 * `dyn start` for one more node of `c`, on free ports and in the cluster's folder. Its pid goes
 * to `pids`, to be killed with the cluster: a member killed earlier would hold up later joins.
 */
async function startNode(c: TestCluster, pids: number[], name: string, extraArgs: readonly string[]): Promise<string> {
  const {port, rpcPort} = await freeClusterPorts(1)
  const args = ['start', '--name', name, '--port', String(port), '--rpc-port', String(rpcPort), '--data', path.join(c.dir, name), '--request-timeout', '5000', ...secretArgs(c.dir), ...extraArgs]
  const child = spawn(process.execPath, [dynBin, ...args], {stdio: 'ignore'})
  if (child.pid !== undefined) pids.push(child.pid)
  const api = `${c.cluster.host}:${port}`
  await waitFor(`${name} to serve`, async () => ((await getJson(`http://${api}/health`)).body.ok === true ? true : undefined))
  return api
}

/** A bound on a join's transition, generous for a loaded machine: it polls, and asserts no duration. */
const joinSettleMsMax = 300_000

/** Waits until `name` owns partitions, as it and n1 see the ring, with no transition running. */
async function waitUntilOwner(c: TestCluster, name: string, api: string): Promise<void> {
  await waitFor(
    `${name} to own partitions`,
    async () => {
      const views = await Promise.all([api, c.api(0)].map(clusterOf))
      const owns = views.every((view) => view.ring.transition === null && (view.members.find((member) => member.name === name)?.partitions ?? 0) > 0)
      return owns ? true : undefined
    },
    joinSettleMsMax,
  )
}

/**
 * Two blind writes of a key that `name` is the first home of, with n=1 so that only its own
 * replica takes part: under lww its copy keeps only the newer one, under siblings both.
 */
async function assertReplicaKeepsNewestOnly(name: string, api: string): Promise<void> {
  let key: string | undefined
  for (let index = 0; key === undefined && index < 200; index += 1) {
    const candidate = `lww-${name}-${index}`
    const pre = (await getJson(`http://${api}/cluster/preflist/${candidate}`)).body as {preflist: Array<{node: string}>}
    if (pre.preflist[0]?.node === name) key = candidate
  }
  assert.ok(key !== undefined, `no key of the first 200 has ${name} as its first home`)
  assert.equal((await putValue(`http://${api}/kv/${key}?n=1&w=1`, 'older')).status, 204)
  // Timestamps are milliseconds: make sure the second write is stamped later.
  await sleep(5)
  assert.equal((await putValue(`http://${api}/kv/${key}?n=1&w=1`, 'newer')).status, 204)
  const read = await getJson(`http://${api}/kv/${key}?n=1&r=1`)
  assert.deepEqual(siblingTexts(read.body), ['newer'], `${name}'s replica kept siblings`)
}

describe('last-write-wins cluster', () => {
  let c: TestCluster
  /** The nodes the join tests start, beyond the cluster's three. */
  const joinedPids: number[] = []
  before(async () => {
    c = await startCluster(3, ['--conflict', 'lww'])
  })
  after(async () => {
    for (const pid of joinedPids) if (isRunning(pid)) await killNode(pid)
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

  it('a node that joins through a seed at start adopts lww, and its replica keeps only the newest version', async () => {
    // Started without --conflict: the cluster's policy is the one it must run.
    const api = await startNode(c, joinedPids, 'n4', ['--seeds', `${c.cluster.host}:${c.cluster.nodes[0]?.rpcPort}`])
    await waitUntilOwner(c, 'n4', api)
    assert.equal((await clusterOf(api)).settings.conflictPolicy, 'lww')
    await assertReplicaKeepsNewestOnly('n4', api)
  })

  it('a node that runs alone and joins with dyn cluster join adopts lww, and its replica keeps only the newest version', async () => {
    const api = await startNode(c, joinedPids, 'n5', [])
    assert.equal((await clusterOf(api)).settings.conflictPolicy, 'siblings', 'alone, it runs its own default')
    const join = await runDyn(['cluster', 'join', `${c.cluster.host}:${c.cluster.nodes[0]?.rpcPort}`, '--node', api, '--json'])
    assert.equal(join.code, 0, join.stdout + join.stderr)
    await waitFor('the join to be staged', async () => {
      const plan = JSON.parse((await runDyn(['cluster', 'plan', '--node', c.api(0), '--json'])).stdout) as {staged: Array<{kind: string; node: string}>}
      return plan.staged.some((change) => change.kind === 'join' && change.node === 'n5') ? true : undefined
    })
    const commit = await runDyn(['cluster', 'commit', '--node', c.api(0), '--json'])
    assert.equal(commit.code, 0, commit.stdout + commit.stderr)
    await waitUntilOwner(c, 'n5', api)
    assert.equal((await clusterOf(api)).settings.conflictPolicy, 'lww')
    await assertReplicaKeepsNewestOnly('n5', api)
  })
})
