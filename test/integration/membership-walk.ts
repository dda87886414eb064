/**
 * A folder's cluster whose membership changed after `dyn cluster up`, as a new user's walk left
 * one: a node of the folder removed, and a node started by hand (`dyn start`, outside the folder)
 * joined with `dyn cluster join` and committed. The folder still records only what `up` made, so
 * the commands that read it (`dyn verify --dir`, `dyn cluster status --dir`) must ask the members.
 * Every wait polls, with a bound; no duration is asserted.
 */

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import path from 'node:path'
import type {TestContext} from 'node:test'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {dynBin, getJson, isRunning, killNode, reloadCluster, runDyn, secretArgs, waitFor} from './harness.js'
import type {TestCluster} from './harness.js'

interface MemberRow {
  name: string
  status: string
  partitions: number
  reachability?: string
}

interface ClusterView {
  ringHash: string
  members: MemberRow[]
  ring: {transition: unknown}
}

async function clusterOf(api: string): Promise<ClusterView> {
  return (await getJson(`http://${api}/cluster`)).body as unknown as ClusterView
}

/** Every node in `apis` holds one ring, owned by exactly `owners`, with no ring change under way. */
export async function settledOn(apis: readonly string[], owners: readonly string[]): Promise<void> {
  await waitFor(`a settled ring owned by ${owners.join(', ')}`, async () => {
    const views = await Promise.all(apis.map(clusterOf))
    const owning = (view: ClusterView): string => view.members.filter((member) => member.partitions > 0).map((member) => member.name).sort().join()
    const settled = views.every((view) => view.ring.transition === null && owning(view) === [...owners].sort().join())
    return settled && new Set(views.map((view) => view.ringHash)).size === 1 ? true : undefined
  })
}

/**
 * Waits until the ring seen through `api` has no change under way, as an operator waits for `dyn
 * cluster status` to show no transfers: a commit meanwhile is refused (ring_in_transition). A
 * cluster just made by dyn cluster up may still be moving data, and a fresh-clone CI run met that.
 */
export async function noChangeUnderWay(api: string): Promise<void> {
  await waitFor('no ring change under way', async () => ((await clusterOf(api)).ring.transition === null ? true : undefined))
}

/** Kills the member `name` (its process `pid`, when it runs) for good, then removes it through `through` (a client API) and commits. */
export async function removeDead(name: string, pid: number | undefined, through: string): Promise<void> {
  await noChangeUnderWay(through)
  if (pid !== undefined && isRunning(pid)) await killNode(pid)
  // As an operator would: once the cluster sees it down.
  await waitFor(`${name} to be seen down`, async () => ((await clusterOf(through)).members.find((member) => member.name === name)?.reachability === 'down' ? true : undefined))
  const remove = await runDyn(['cluster', 'remove', name, '--node', through, '--json'])
  assert.equal(remove.code, 0, remove.stdout + remove.stderr)
  const commit = await runDyn(['cluster', 'commit', '--node', through, '--json'])
  assert.equal(commit.code, 0, commit.stdout + commit.stderr)
}

/** Kills node `index` of the folder for good (its pid as the folder records it now), then removes it through `through`. */
export async function removeFolderNode(c: TestCluster, index: number, through: string): Promise<void> {
  // The folder's record now: a node verify or up restarted runs under a newer pid than at the start.
  const node = (await reloadCluster(c.dir)).nodes[index]
  assert.ok(node !== undefined)
  await removeDead(node.name, node.pid, through)
}

/**
 * A fresh node `name` started by hand beside the folder (dyn start, with the folder's secret),
 * joined through the folder's first node and committed: its client API and pid. It is killed by
 * pid after the test.
 */
export async function joinFromOutside(t: TestContext, c: TestCluster, name: string): Promise<{api: string; pid: number | undefined}> {
  const {port, rpcPort} = await freeClusterPorts(1)
  const api = `${c.cluster.host}:${port}`
  const node = spawn(process.execPath, [dynBin, 'start', '--name', name, '--port', String(port), '--rpc-port', String(rpcPort), '--data', path.join(c.dir, `outside-${name}`), '--request-timeout', '5000', ...secretArgs(c.dir)], {stdio: 'ignore'})
  t.after(async () => {
    if (node.pid !== undefined && isRunning(node.pid)) await killNode(node.pid)
  })
  await waitFor(`${name} to serve`, async () => ((await getJson(`http://${api}/health`)).body.ok === true ? true : undefined))
  const join = await runDyn(['cluster', 'join', `${c.cluster.host}:${c.cluster.nodes[0]?.rpcPort}`, '--node', api, '--json'])
  assert.equal(join.code, 0, join.stdout + join.stderr)
  await waitFor(`the join of ${name} to be staged`, async () => {
    const plan = JSON.parse((await runDyn(['cluster', 'plan', '--node', c.api(0), '--json'])).stdout) as {staged: Array<{kind: string; node: string}>}
    return plan.staged.some((change) => change.kind === 'join' && change.node === name) ? true : undefined
  })
  await noChangeUnderWay(c.api(0))
  const commit = await runDyn(['cluster', 'commit', '--node', c.api(0), '--json'])
  assert.equal(commit.code, 0, commit.stdout + commit.stderr)
  return {api, pid: node.pid}
}
