/**
 * The operator's membership commands end to end, with real processes: `dyn cluster join` only
 * stages a join (plan shows it, commit applies it), and a node removed for good does not hold
 * up the changes that follow (its own row never says it left; the ring does). No duration is
 * asserted: every wait polls, with a bound.
 */

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {rm} from 'node:fs/promises'
import type {ChildProcess} from 'node:child_process'
import path from 'node:path'
import {describe, it} from 'node:test'
import type {TestContext} from 'node:test'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {dynBin, getJson, isRunning, killNode, runDyn, secretArgs, sleep, startCluster, waitFor} from './harness.js'
import type {TestCluster} from './harness.js'

interface ClusterBody {
  ringHash: string
  members: Array<{name: string; status: string; partitions: number}>
  ring: {transition: unknown; staged: unknown[]}
  transfers: {releasedPartitionsPending: number}
}

async function clusterOf(api: string): Promise<ClusterBody> {
  return (await getJson(`http://${api}/cluster`)).body as unknown as ClusterBody
}

/** Every node in `apis` answers one ring owned by exactly `owners`, with nothing moving. */
async function settledOn(apis: readonly string[], owners: readonly string[]): Promise<ClusterBody> {
  return waitFor(`a settled ring owned by ${owners.join(', ')}`, async () => {
    const views = await Promise.all(apis.map(clusterOf))
    const settled = views.every((view) => {
      const owning = view.members.filter((member) => member.partitions > 0).map((member) => member.name).sort()
      return view.ring.transition === null && view.transfers.releasedPartitionsPending === 0 && owning.join() === [...owners].sort().join()
    })
    return settled && new Set(views.map((view) => view.ringHash)).size === 1 ? views[0] : undefined
  })
}

/** A fresh node started alone beside the cluster (dyn start without seeds), killed after the test: its addresses and pid. */
async function startAlone(t: TestContext, c: TestCluster, name: string): Promise<{api: string; rpc: string; pid: number | undefined}> {
  const {port, rpcPort} = await freeClusterPorts(1)
  const api = `${c.cluster.host}:${port}`
  const node: ChildProcess = spawn(process.execPath, [dynBin, 'start', '--name', name, '--port', String(port), '--rpc-port', String(rpcPort), '--data', path.join(c.dir, name), '--request-timeout', '5000', ...secretArgs(c.dir)], {stdio: 'ignore'})
  t.after(async () => {
    if (node.pid !== undefined && isRunning(node.pid)) await killNode(node.pid)
  })
  await waitFor(`${name} to serve`, async () => ((await getJson(`http://${api}/health`)).body.ok === true ? true : undefined))
  return {api, rpc: `${c.cluster.host}:${rpcPort}`, pid: node.pid}
}

/** dyn cluster join of the node at `api` through n1, until the cluster's plan shows it staged. */
async function joinStaged(c: TestCluster, api: string, name: string): Promise<void> {
  const join = await runDyn(['cluster', 'join', `${c.cluster.host}:${c.cluster.nodes[0]?.rpcPort}`, '--node', api, '--json'])
  assert.equal(join.code, 0, join.stdout + join.stderr)
  await waitFor('the join to show in the plan', async () => {
    const plan = JSON.parse((await runDyn(['cluster', 'plan', '--node', c.api(0), '--json'])).stdout) as {staged: Array<{kind: string; node: string}>}
    return plan.staged.some((change) => change.kind === 'join' && change.node === name) ? true : undefined
  })
}

describe('cluster join and remove', () => {
  it('a removed node is left for everyone, and a join staged with dyn cluster join waits for commit, then completes', async (t) => {
    const c = await startCluster(3)
    t.after(() => c.stop())
    const apis = [c.api(0), c.api(1)]
    for (let i = 0; i < 50; i++) {
      const response = await fetch(`http://${c.api(i % 3)}/kv/before-${i}`, {method: 'PUT', body: `value ${i}`})
      assert.equal(response.status, 204)
    }

    // n3 dies for good, and is removed.
    await killNode(c.cluster.nodes[2]?.pid)
    // As an operator would: once the cluster sees it down (the warning below goes by that view).
    await waitFor('n1 to see n3 down', async () => ((await clusterOf(c.api(0))).members.find((member) => member.name === 'n3') as {reachability?: string} | undefined)?.reachability === 'down' ? true : undefined)
    const remove = await runDyn(['cluster', 'remove', 'n3', '--node', c.api(0), '--json'])
    assert.equal(remove.code, 0, remove.stdout + remove.stderr)
    // A dead node is removed without a warning about itself; the one said is that two members
    // owning partitions are fewer than the cluster's N of 3.
    const fewer = "after the commit only 2 members would own partitions, fewer than the cluster's N=3: each key gets 2 replicas instead of 3 until 1 more node(s) join (transfers then bring it back to 3); requests asking n, r or w above 2 are refused (bad_parameter), and those that ask nothing run with the defaults fitted to 2"
    assert.equal(remove.stderr, `dyn: warning: ${fewer}\n`)
    assert.deepEqual((JSON.parse(remove.stdout) as {warnings: string[]}).warnings, [fewer])
    const commitRemoval = await runDyn(['cluster', 'commit', '--node', c.api(0), '--json'])
    assert.equal(commitRemoval.code, 0, commitRemoval.stdout + commitRemoval.stderr)
    const afterRemoval = await settledOn(apis, ['n1', 'n2'])
    assert.equal(afterRemoval.members.find((member) => member.name === 'n3')?.status, 'left', 'the ring no longer has n3: it has left')

    // A fresh node, started alone, joins with dyn cluster join: staged only.
    const n4Api = (await startAlone(t, c, 'n4')).api
    await joinStaged(c, n4Api, 'n4')
    // Several gossip rounds later it is still only staged: nothing committed it.
    await sleep(3000)
    const stillStaged = await clusterOf(c.api(1))
    assert.equal(stillStaged.ring.transition, null, 'dyn cluster join does not commit by itself')
    assert.equal(stillStaged.members.find((member) => member.name === 'n4')?.status, 'joining')

    const commitJoin = await runDyn(['cluster', 'commit', '--node', c.api(1), '--json'])
    assert.equal(commitJoin.code, 0, commitJoin.stdout + commitJoin.stderr)
    // Before the fix, this waited forever for n3 (removed, dead) to see the transition.
    await settledOn([...apis, n4Api], ['n1', 'n2', 'n4'])
    for (let i = 0; i < 50; i++) {
      const response = await fetch(`http://${n4Api}/kv/before-${i}`)
      assert.equal(response.status, 200, `before-${i} after the join`)
    }

    // Removing a node that still runs is staged, with a warning that leave is what it wants.
    const live = await runDyn(['cluster', 'remove', 'n2', '--node', c.api(0), '--json'])
    assert.equal(live.code, 0, live.stdout + live.stderr)
    assert.match(live.stderr, /warning: the removal of n2 is staged, but n1 still sees n2 up \(it answers its heartbeats\): remove is for a node that is gone for good; .*dyn cluster clear and use dyn cluster leave --name n2/)
    const answer = JSON.parse(live.stdout) as {ok: boolean; warnings: string[]}
    assert.equal(answer.ok, true, 'stdout stays one JSON answer')
    // And the answer carries the warnings too, so that a script sees what a person sees: this
    // one, and that two members would own partitions, fewer than N.
    assert.equal(answer.warnings.length, 2)
    assert.match(answer.warnings[0] ?? '', /^the removal of n2 is staged, but n1 still sees n2 up/)
    assert.equal(answer.warnings[1], fewer)
  })

  it('a node started alone, joined and committed at once, keeps what the join brings it', async (t) => {
    const c = await startCluster(3)
    t.after(() => c.stop())
    for (let i = 0; i < 60; i++) {
      const response = await fetch(`http://${c.api(i % 3)}/kv/kept-${i}`, {method: 'PUT', body: `value ${i}`})
      assert.equal(response.status, 204)
    }
    const n4Api = (await startAlone(t, c, 'n4')).api
    // As the README's `join && commit`: the join's transfers reach n4 within the settling time
    // after it took the cluster's ring in place of its own one-member ring.
    await joinStaged(c, n4Api, 'n4')
    const commit = await runDyn(['cluster', 'commit', '--node', c.api(0), '--json'])
    assert.equal(commit.code, 0, commit.stdout + commit.stderr)
    await settledOn([c.api(0), c.api(1), c.api(2), n4Api], ['n1', 'n2', 'n3', 'n4'])
    // Its own ring giving way to the cluster's released nothing. It once took every partition as
    // released, and handed back and deleted the copies the join's transfers had just brought it:
    // a home holding nothing, answering not found with r=1, until anti-entropy refilled it
    // (found by a new user's walk through the README).
    const n4Release = (await getJson(`http://${n4Api}/stats`)).body.release as {handedOff: number; deleted: number}
    assert.deepEqual({handedOff: n4Release.handedOff, deleted: n4Release.deleted}, {handedOff: 0, deleted: 0}, 'n4 handed off and deleted what its join brought it')
    const ring = await clusterOf(n4Api)
    assert.ok(ring.members.some((member) => member.name === 'n4' && member.partitions > 0))
  })

  it('an abandoned join is withdrawn by remove, and clear drops a staged leave (issue 13.8)', async (t) => {
    const c = await startCluster(2)
    t.after(() => c.stop())
    const n3 = await startAlone(t, c, 'n3')
    const n3Api = n3.api
    // Its own internode address as the seed is a mistake said as such, and changes nothing.
    const itself = await runDyn(['cluster', 'join', n3.rpc, '--node', n3Api, '--json'])
    assert.equal(itself.code, 2, itself.stdout + itself.stderr)
    assert.match(JSON.parse(itself.stdout).message, /is n3's own internode address: give the internode address \(host:rpc-port\) of a node of the cluster/)
    // A member's client API port as the seed: its internode address is named, as n1 gives it.
    const apiSeed = await runDyn(['cluster', 'join', c.api(0), '--node', n3Api, '--json'])
    assert.equal(apiSeed.code, 2, apiSeed.stdout + apiSeed.stderr)
    const n1Rpc = `${c.cluster.host}:${c.cluster.nodes[0]?.rpcPort}`
    assert.equal(JSON.parse(apiSeed.stdout).message, `the seed ${c.api(0)} is the client API port of n1 (its dyn start --port), not an internode port: give dyn cluster join n1's internode address, ${n1Rpc} (its --rpc-port)`)
    assert.equal(JSON.parse(apiSeed.stdout).suggestedSeed, n1Rpc)
    // A seed nobody listens on: which, why, and what to check.
    const nobody = `${c.cluster.host}:${(await freeClusterPorts(1)).rpcPort}`
    const deadSeed = await runDyn(['cluster', 'join', nobody, '--node', n3Api])
    assert.equal(deadSeed.code, 3, deadSeed.stdout + deadSeed.stderr)
    assert.match(deadSeed.stderr, new RegExp(`^dyn: could not reach the seed ${nobody}: cannot connect to ${nobody}: nothing listens on that port \\(connection refused, ECONNREFUSED\\)\\. Check that a dyn node runs there and that the port is its internode port \\(its dyn start --rpc-port.*\\[unreachable\\]`))
    const join = await runDyn(['cluster', 'join', `${c.cluster.host}:${c.cluster.nodes[0]?.rpcPort}`, '--node', n3Api, '--json'])
    assert.equal(join.code, 0, join.stdout + join.stderr)
    await waitFor('n1 to know n3 as joining', async () => ((await clusterOf(c.api(0))).members.find((member) => member.name === 'n3')?.status === 'joining' ? true : undefined))
    // While n3 runs, its join cannot be withdrawn under it: it would assert its row again.
    const running = await runDyn(['cluster', 'remove', 'n3', '--node', c.api(0), '--json'])
    assert.equal(running.code, 2, running.stdout + running.stderr)
    assert.equal(JSON.parse(running.stdout).error, 'bad_parameter')
    // The operator stops n3 before committing: the join is abandoned.
    await killNode(n3.pid)
    await waitFor('n1 to see n3 down', async () => ((await clusterOf(c.api(0))).members.find((member) => member.name === 'n3') as {reachability?: string} | undefined)?.reachability === 'down' ? true : undefined)
    assert.equal((await runDyn(['cluster', 'status', '--dir', c.dir])).code, 3, 'a member joining and down: not fully up')
    const withdraw = await runDyn(['cluster', 'remove', 'n3', '--node', c.api(1), '--json'])
    assert.equal(withdraw.code, 0, withdraw.stdout + withdraw.stderr)
    assert.match(String(JSON.parse(withdraw.stdout).note), /join of n3 was withdrawn/)
    await waitFor('both nodes to see n3 as left', async () => {
      const views = await Promise.all([c.api(0), c.api(1)].map(clusterOf))
      return views.every((view) => view.members.find((member) => member.name === 'n3')?.status === 'left') ? true : undefined
    })
    // Withdrawn once is gone: a second remove says so, with a code of its own.
    const again = await runDyn(['cluster', 'remove', 'n3', '--node', c.api(0), '--json'])
    assert.equal(again.code, 2, again.stdout + again.stderr)
    assert.equal(JSON.parse(again.stdout).error, 'already_left')
    const status = await runDyn(['cluster', 'status', '--dir', c.dir])
    assert.equal(status.code, 0, status.stdout + status.stderr)
    // n3 joins again under its name, its folder moved aside (README: "move it aside before that
    // node joins again"): it stays joining. It was handed back its own left row, said it had
    // joined, then "left the cluster: every partition has been handed off" and exited 0.
    await rm(path.join(c.dir, 'n3'), {recursive: true, force: true})
    const again3 = await startAlone(t, c, 'n3')
    const rejoin = await runDyn(['cluster', 'join', `${c.cluster.host}:${c.cluster.nodes[0]?.rpcPort}`, '--node', again3.api, '--json'])
    assert.equal(rejoin.code, 0, rejoin.stdout + rejoin.stderr)
    await waitFor('n1 to know n3 as joining again', async () => ((await clusterOf(c.api(0))).members.find((member) => member.name === 'n3')?.status === 'joining' ? true : undefined))
    await sleep(5000)
    assert.ok(again3.pid !== undefined && isRunning(again3.pid), 'n3 still runs')
    assert.equal((await clusterOf(again3.api)).members.find((member) => member.name === 'n3')?.status, 'joining')
    await killNode(again3.pid)
    await waitFor('n1 to see n3 down again', async () => ((await clusterOf(c.api(0))).members.find((member) => member.name === 'n3') as {reachability?: string} | undefined)?.reachability === 'down' ? true : undefined)
    assert.equal((await runDyn(['cluster', 'remove', 'n3', '--node', c.api(0), '--json'])).code, 0)
    // Nothing was committed: the ring is the two nodes', and nothing is staged.
    assert.equal((await runDyn(['cluster', 'commit', '--node', c.api(0), '--json'])).code, 2)

    // A staged leave, dropped by clear: nothing happens.
    const leave = await runDyn(['cluster', 'leave', '--name', 'n2', '--node', c.api(0), '--json'])
    assert.equal(leave.code, 0, leave.stdout + leave.stderr)
    assert.deepEqual(JSON.parse(leave.stdout).staged, [{kind: 'leave', node: 'n2'}])
    // Staged twice, through the other node: said, and nothing more is staged.
    const twice = await runDyn(['cluster', 'leave', '--node', c.api(1)])
    assert.equal(twice.code, 2, twice.stdout + twice.stderr)
    assert.match(twice.stderr, /the leave of n2 is already staged, not yet committed: apply it with dyn cluster commit.*\[already_leaving\]/)
    const clear = await runDyn(['cluster', 'clear', '--node', c.api(1), '--json'])
    assert.equal(clear.code, 0, clear.stdout + clear.stderr)
    assert.deepEqual(JSON.parse(clear.stdout).staged, [])
    const text = await runDyn(['cluster', 'clear', '--node', c.api(1)])
    assert.match(text.stdout, /staged changes: none/)
    assert.equal((await clusterOf(c.api(0))).ring.transition, null)
  })
})
