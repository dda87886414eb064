/**
 * Membership changes that move data, with real processes (issue 8 item 4): a 4th node joins
 * while a client writes continuously; once its transfers are done it holds every key it is a
 * home replica of (the others frozen with SIGSTOP, the key read from it alone with r=1); then a
 * node leaves under the same load, exits once it has handed off everything, and each remaining
 * home replica holds every acknowledged key, checked the same way; every node owns ⌊Q/S⌋ or
 * ⌈Q/S⌉ partitions. After the join's release, each old owner has deleted the copies it handed
 * off (its /stats keys dropped, under a new actor) and every key is still read from each of its
 * homes alone. No duration is asserted: every wait polls, with a bound.
 */

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import path from 'node:path'
import {describe, it} from 'node:test'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {dynBin, forEachConcurrently, getJson, isRunning, killNode, runDyn, secretArgs, startCluster, waitFor as harnessWaitFor} from './harness.js'

/** Bound on every wait for the cluster to reach a state. */
const settleTimeoutMs = 120_000
const pollMs = 250
/** Requests in flight while the checks read every key (thousands) back from one node. */
const checkConcurrency = 8

interface Writer {
  readonly acknowledged: Set<string>
  /** Waits until every key has been written. */
  finished(): Promise<void>
  stop(): Promise<void>
}

/** A client that writes new keys one after another through the given nodes until stopped. */
function startWriter(apis: () => readonly string[], prefix: string, keysMax: number): Writer {
  const acknowledged = new Set<string>()
  let stopped = false
  const loop = (async () => {
    for (let index = 0; index < keysMax && !stopped; index++) {
      const nodes = apis()
      const key = `${prefix}-${index}`
      const api = nodes[index % nodes.length] as string
      try {
        const response = await fetch(`http://${api}/kv/${key}`, {method: 'PUT', body: `value of ${key}`, signal: AbortSignal.timeout(10_000)})
        await response.arrayBuffer()
        if (response.status === 204) acknowledged.add(key)
      } catch {
        // A node that is leaving may close under a request: that write is simply not acknowledged.
      }
    }
  })()
  return {
    acknowledged,
    finished: () => loop,
    stop: async () => {
      stopped = true
      await loop
    },
  }
}

function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  return harnessWaitFor(what, probe, settleTimeoutMs, pollMs)
}

interface ClusterBody {
  members: Array<{name: string; apiAddress: string; partitions: number; status: string}>
  partitionCount: number
  ring: {transition: unknown}
  transfers: {releasedPartitionsPending: number}
}

/** Every node answers one settled ring of `memberCount` members, with nothing left to hand off. */
async function settled(apis: readonly string[], memberCount: number): Promise<ClusterBody> {
  return waitFor(`a settled ring of ${memberCount} members`, async () => {
    const views = await Promise.all(apis.map(async (api) => (await getJson(`http://${api}/cluster`)).body as unknown as ClusterBody & {ringHash: string}))
    const hashes = new Set(views.map((view) => view.ringHash))
    const ready = views.every((view) => view.ring.transition === null && view.transfers.releasedPartitionsPending === 0 && view.members.filter((m) => m.partitions > 0).length === memberCount)
    return ready && hashes.size === 1 ? views[0] : undefined
  })
}

/** The keys of which `name` is a home replica (of the default N), by the node's own preference lists. */
async function keysHomedOn(api: string, name: string, keys: Iterable<string>): Promise<string[]> {
  const homed: string[] = []
  await forEachConcurrently([...keys], checkConcurrency, async (key) => {
    const placement = (await getJson(`http://${api}/cluster/preflist/${key}`)).body as {preflist: Array<{node: string; home: boolean}>}
    if (placement.preflist.some((entry) => entry.home && entry.node === name)) homed.push(key)
  })
  return homed
}

/** Freeze every other node, read each key from `api` alone with r=1, thaw them; the keys it lacks. */
async function missingWhenAlone(api: string, othersPids: readonly number[], keys: readonly string[]): Promise<string[]> {
  const missing: string[] = []
  for (const pid of othersPids) process.kill(pid, 'SIGSTOP')
  try {
    await forEachConcurrently(keys, checkConcurrency, async (key) => {
      const response = await fetch(`http://${api}/kv/${key}?r=1`, {signal: AbortSignal.timeout(10_000)})
      await response.arrayBuffer()
      if (response.status !== 200) missing.push(`${key} (${response.status})`)
    })
  } finally {
    for (const pid of othersPids) process.kill(pid, 'SIGCONT')
  }
  return missing.sort()
}

function assertBalanced(view: ClusterBody): void {
  const owners = view.members.filter((member) => member.partitions > 0)
  const low = Math.floor(view.partitionCount / owners.length)
  const high = Math.ceil(view.partitionCount / owners.length)
  for (const member of owners) assert.ok(member.partitions >= low && member.partitions <= high, `${member.name} owns ${member.partitions}, expected ${low}..${high}`)
}

describe('membership changes that move data', () => {
  it('a join under load hands the new node every key it is home of; a leave hands everything on before the node exits', async (t) => {
    const c = await startCluster(3)
    t.after(() => c.stop())
    const dataDir = path.join(c.dir, 'n4')
    const {port, rpcPort} = await freeClusterPorts(1)
    const seed = `${c.cluster.host}:${c.cluster.nodes[0]?.rpcPort}`
    const n4Api = `${c.cluster.host}:${port}`
    const apis = [0, 1, 2].map((i) => c.api(i))

    // Data before the join, so that the transfer has something to move.
    const before = startWriter(() => apis, 'before', 600)
    await before.finished()
    assert.ok(before.acknowledged.size > 500, `only ${before.acknowledged.size} writes acknowledged before the join`)

    const actorsBefore = new Map<string, string>()
    for (const [index, api] of apis.entries()) actorsBefore.set(`n${index + 1}`, ((await getJson(`http://${api}/health`)).body as {actor: string}).actor)
    const during = startWriter(() => apis, 'join', 100_000)
    let n4: ChildProcess | undefined
    t.after(async () => {
      if (n4?.pid !== undefined && isRunning(n4.pid)) await killNode(n4.pid)
    })
    n4 = spawn(process.execPath, [dynBin, 'start', '--name', 'n4', '--port', String(port), '--rpc-port', String(rpcPort), '--data', dataDir, '--seeds', seed, '--request-timeout', '5000', ...secretArgs(c.dir)], {stdio: 'ignore'})
    const n4Pid = n4.pid as number
    const joined = await settled([...apis, n4Api], 4)
    await during.stop()
    assertBalanced(joined)
    assert.ok(during.acknowledged.size > 0, 'the client kept writing during the join')

    const allKeys = new Set([...before.acknowledged, ...during.acknowledged])
    const pids = c.cluster.nodes.map((node) => node.pid as number)
    const afterJoin = [
      {name: 'n1', api: c.api(0), pid: pids[0] as number},
      {name: 'n2', api: c.api(1), pid: pids[1] as number},
      {name: 'n3', api: c.api(2), pid: pids[2] as number},
      {name: 'n4', api: n4Api, pid: n4Pid},
    ]
    for (const node of afterJoin) {
      const homed = await keysHomedOn(node.api, node.name, allKeys)
      assert.ok(homed.length > 0, `${node.name} is a home replica of some keys`)
      const others = afterJoin.filter((other) => other !== node).map((other) => other.pid)
      assert.deepEqual(await missingWhenAlone(node.api, others, homed), [], `${node.name} alone answers every key it is a home replica of`)
      if (node.name === 'n4') continue
      // Each old owner held a copy of every key (N=3 on 3 nodes); the join released about a
      // quarter of them, handed off and deleted once the release finished.
      const stats = (await getJson(`http://${node.api}/stats`)).body as {keys: number; release: {deleted: number; pendingPartitions: number}}
      assert.ok(stats.release.deleted > 0, `${node.name} deleted handed-off copies: ${JSON.stringify(stats.release)}`)
      assert.equal(stats.release.pendingPartitions, 0)
      assert.ok(stats.keys < allKeys.size, `${node.name} keeps ${stats.keys} keys, fewer than the ${allKeys.size} it held before the join`)
      const health = (await getJson(`http://${node.api}/health`)).body as {actor: string}
      assert.notEqual(health.actor, actorsBefore.get(node.name), `${node.name} took a new epoch before deleting`)
    }

    // n2 leaves, under load through the nodes that stay.
    const staying = [c.api(0), c.api(2), n4Api]
    const leaveLoad = startWriter(() => staying, 'leave', 100_000)
    const leave = await runDyn(['cluster', 'leave', '--node', c.api(1), '--json'])
    assert.equal(leave.code, 0, leave.stdout + leave.stderr)
    assert.equal(JSON.parse(leave.stdout).ok, true)
    const commit = await runDyn(['cluster', 'commit', '--node', c.api(0), '--json'])
    assert.equal(commit.code, 0, commit.stdout + commit.stderr)
    const n2Pid = pids[1] as number
    await waitFor('n2 to exit after handing off its data', async () => (isRunning(n2Pid) ? undefined : true))
    const left = await settled(staying, 3)
    await leaveLoad.stop()
    assertBalanced(left)
    assert.equal(left.members.find((member) => member.name === 'n2')?.status, 'left')

    const acknowledged = new Set([...allKeys, ...leaveLoad.acknowledged])
    const remaining = [
      {name: 'n1', api: c.api(0), pid: pids[0] as number},
      {name: 'n3', api: c.api(2), pid: pids[2] as number},
      {name: 'n4', api: n4Api, pid: n4Pid},
    ]
    for (const node of remaining) {
      const homed = await keysHomedOn(node.api, node.name, acknowledged)
      const others = remaining.filter((other) => other !== node).map((other) => other.pid)
      assert.deepEqual(await missingWhenAlone(node.api, others, homed), [], `${node.name} alone answers every acknowledged key it is a home replica of`)
    }
  })

  it('bad membership changes exit 2 with a stable code and change nothing', async (t) => {
    const c = await startCluster(3)
    t.after(() => c.stop())
    const planBefore = await runDyn(['cluster', 'plan', '--node', c.api(0), '--json'])
    assert.equal(planBefore.code, 0, planBefore.stderr)
    const before = JSON.parse(planBefore.stdout)
    assert.equal(before.ok, true)
    assert.deepEqual(before.staged, [])
    const cases: Array<{args: string[]; error: string}> = [
      {args: ['cluster', 'remove', 'n9'], error: 'bad_parameter'},
      {args: ['cluster', 'remove', 'not a name'], error: 'bad_parameter'},
      {args: ['cluster', 'commit'], error: 'nothing_staged'},
      {args: ['cluster', 'join', 'nonsense'], error: 'bad_parameter'},
      {args: ['cluster', 'join', `${c.cluster.host}:${c.cluster.nodes[1]?.rpcPort}`], error: 'bad_parameter'},
    ]
    for (const {args, error} of cases) {
      const run = await runDyn([...args, '--node', c.api(0), '--json'])
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}${run.stderr}`)
      const body = JSON.parse(run.stdout)
      assert.equal(body.ok, false)
      assert.equal(body.error, error, args.join(' '))
      assert.equal(typeof body.message, 'string')
    }
    const planAfter = JSON.parse((await runDyn(['cluster', 'plan', '--node', c.api(1), '--json'])).stdout)
    assert.deepEqual(planAfter.staged, [])
    assert.equal(planAfter.ringVersion, before.ringVersion, 'no refused change raised the ring version')
  })
})
