// Real node processes: failure detection (SIGKILL, SIGSTOP/SIGCONT), sloppy quorum (w=3 with a
// home down on 4 nodes; pw=3 refused; with both homes of an n=2 key killed, a w=2 put coordinated
// by a fallback, through the API and through the partition-aware client) and hinted handoff (the
// hint survives a restart of the fallback, and reaches the home once it is back, checked by
// reading from the home alone). Every wait polls with a bound; no duration is asserted.

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {PartitionAwareClient} from '../../src/client/partition-aware-client.js'
import {startLocalNode, waitForNodes} from '../../src/cli/local-cluster.js'
import type {LocalCluster, LocalNode} from '../../src/cli/local-cluster.js'
import {getJson, killNode, reloadCluster, siblingTexts, startCluster, waitFor} from './harness.js'

/** Bound on every wait below: far above the detector's few seconds, so only a real failure trips it. */
const waitMsMax = 30_000

interface MemberView {
  name: string
  reachability: string
  hintsPending: number
}

async function members(url: string): Promise<MemberView[]> {
  return (await getJson(url)).body.members as MemberView[]
}

/** Polls `probe` until it answers true, for at most waitMsMax; fails with `what` otherwise. */
async function eventually(what: string, probe: () => Promise<boolean>): Promise<void> {
  await waitFor(what, async () => ((await probe()) ? true : undefined), waitMsMax, 200)
}

function nodeNamed(cluster: LocalCluster, name: string): LocalNode {
  const node = cluster.nodes.find((candidate) => candidate.name === name)
  assert.ok(node, `no node ${name}`)
  return node
}

function apiOf(cluster: LocalCluster, node: LocalNode): string {
  return `http://${cluster.host}:${node.port}`
}

describe('failure detection, sloppy quorum and hinted handoff with real processes', () => {
  it('with a home killed, w=3 succeeds through a fallback and pw=3 is refused; the hint survives a restart of the fallback and reaches the home', async (t) => {
    const c = await startCluster(4)
    t.after(() => c.stop())
    const cluster = await reloadCluster(c.dir)
    const key = 'handoff-key'
    const preflist = (await getJson(c.url(0, `/cluster/preflist/${key}`))).body.preflist as Array<{node: string; home: boolean}>
    const homes = preflist.filter((entry) => entry.home).map((entry) => entry.node)
    const fallbackName = preflist.find((entry) => !entry.home)?.node
    assert.equal(homes.length, 3)
    assert.ok(fallbackName)
    const [coordinatorName, , downName] = homes as [string, string, string]
    const coordinator = nodeNamed(cluster, coordinatorName)
    const down = nodeNamed(cluster, downName)
    const fallback = nodeNamed(cluster, fallbackName)
    t.after(async () => {
      for (const node of [down, fallback]) await killNode(node.pid).catch(() => undefined)
    })

    await killNode(down.pid)
    await eventually(`${coordinatorName} sees ${downName} down`, async () => (await members(`${apiOf(cluster, coordinator)}/cluster`)).find((m) => m.name === downName)?.reachability === 'down')

    const strict = await fetch(`${apiOf(cluster, coordinator)}/kv/${key}?w=3&pw=3`, {method: 'PUT', body: 'strict'})
    assert.equal(strict.status, 503)
    const strictBody = (await strict.json()) as {error: string; homeRequired: number; message: string}
    assert.equal(strictBody.error, 'quorum_unmet')
    assert.equal(strictBody.homeRequired, 3)
    assert.match(strictBody.message, /pw=3/)

    const sloppy = await fetch(`${apiOf(cluster, coordinator)}/kv/${key}?w=3&explain=true`, {method: 'PUT', body: 'while-down', headers: {accept: 'application/json'}})
    assert.equal(sloppy.status, 200)
    const trace = ((await sloppy.json()) as {trace: {counted: {home: number; fallback: number}; hintsWritten: Array<{node: string; target: string}>}}).trace
    assert.deepEqual(trace.counted, {home: 2, fallback: 1})
    assert.deepEqual(trace.hintsWritten, [{node: fallbackName, target: downName}])
    const hintsOnFallback = async (): Promise<number> => (await members(`${apiOf(cluster, fallback)}/cluster`)).find((m) => m.name === downName)?.hintsPending ?? -1
    assert.equal(await hintsOnFallback(), 1)

    // The fallback is killed and restarted on its folder: the hint is still there.
    await killNode(fallback.pid)
    startLocalNode(cluster, fallback, cluster.startArgs ?? [])
    await waitForNodes(cluster, [fallback], undefined, waitMsMax)
    assert.equal(await hintsOnFallback(), 1)

    // The home comes back; within the bound the hint is delivered and dropped.
    startLocalNode(cluster, down, cluster.startArgs ?? [])
    await waitForNodes(cluster, [down], undefined, waitMsMax)
    await eventually(`the hint for ${downName} is delivered`, async () => (await hintsOnFallback()) === 0)
    const stats = (await getJson(`${apiOf(cluster, fallback)}/stats`)).body.hints as {delivered: number; pending: number}
    assert.equal(stats.delivered, 1)
    assert.equal(stats.pending, 0)

    // Every other node stops; the home, alone, holds the write in its own store.
    for (const node of cluster.nodes) if (node !== down) await killNode(node.pid).catch(() => undefined)
    const alone = await getJson(`${apiOf(cluster, down)}/kv/${key}?r=1`)
    assert.equal(alone.status, 200, JSON.stringify(alone.body))
    assert.deepEqual(siblingTexts(alone.body), ['while-down'])
    const replies = (alone.body.trace as {replies: Array<{node: string; outcome: string}>}).replies
    assert.ok(replies.some((reply) => reply.node === downName && reply.outcome === 'ok'), JSON.stringify(replies))
  })

  it('with both homes of an n=2 key killed, a w=2 put through another node is coordinated there as a fallback; each home, back and alone, returns it', async (t) => {
    const c = await startCluster(4)
    t.after(() => c.stop())
    const cluster = await reloadCluster(c.dir)
    const key = 'orphan-key'
    const preflist = (await getJson(c.url(0, `/cluster/preflist/${key}`))).body.preflist as Array<{node: string}>
    const [home1, home2, fallback1, fallback2] = preflist.map((entry) => nodeNamed(cluster, entry.node)) as [LocalNode, LocalNode, LocalNode, LocalNode]
    t.after(async () => {
      for (const node of cluster.nodes) await killNode(node.pid).catch(() => undefined)
    })
    // Connected before the kill: its cached ring still believes both homes up.
    const client = await PartitionAwareClient.connect([`${cluster.host}:${fallback1.port}`])

    await killNode(home1.pid)
    await killNode(home2.pid)
    const seenDown = async (node: LocalNode): Promise<boolean> => {
      const view = await members(`${apiOf(cluster, node)}/cluster`)
      return [home1, home2].every((home) => view.find((m) => m.name === home.name)?.reachability === 'down')
    }
    await eventually('the fallbacks see both homes down', async () => (await seenDown(fallback1)) && (await seenDown(fallback2)))

    const sloppy = await fetch(`${apiOf(cluster, fallback2)}/kv/${key}?n=2&w=2&explain=true`, {method: 'PUT', body: 'while-down', headers: {accept: 'application/json'}})
    const sloppyBody = (await sloppy.json()) as {trace: {coordinator: string; fallbackCoordinator?: unknown; counted: unknown; hintsWritten: Array<{node: string; target: string}>}}
    assert.equal(sloppy.status, 200, JSON.stringify(sloppyBody))
    const trace = sloppyBody.trace
    assert.equal(trace.coordinator, fallback2.name)
    assert.deepEqual(trace.fallbackCoordinator, {homesTried: []})
    assert.deepEqual(trace.counted, {home: 0, fallback: 2})
    const byTarget = (a: {target: string}, b: {target: string}): number => a.target.localeCompare(b.target)
    assert.deepEqual([...trace.hintsWritten].sort(byTarget), [{node: fallback1.name, target: home1.name}, {node: fallback2.name, target: home2.name}].sort(byTarget))
    const context = sloppy.headers.get('x-dyn-context')
    assert.ok(context)

    // The client's first choice (a home) refuses the connection; it ends at a live node that coordinates.
    const routed = await client.put(key, Buffer.from('after'), {n: 2, w: 2, context})
    assert.ok(routed.ok, JSON.stringify(routed))
    assert.ok([fallback1.name, fallback2.name].includes((routed.trace as {coordinator: string}).coordinator), JSON.stringify(routed.trace))

    startLocalNode(cluster, home1, cluster.startArgs ?? [])
    startLocalNode(cluster, home2, cluster.startArgs ?? [])
    await waitForNodes(cluster, [home1, home2], undefined, waitMsMax)
    const pendingFor = async (holder: LocalNode, home: LocalNode): Promise<number> => (await members(`${apiOf(cluster, holder)}/cluster`)).find((m) => m.name === home.name)?.hintsPending ?? -1
    await eventually('the hints for both homes are delivered', async () => (await pendingFor(fallback1, home1)) === 0 && (await pendingFor(fallback2, home2)) === 0)

    // Each home alone, every other node stopped, answers from its own store.
    const readAlone = async (home: LocalNode): Promise<void> => {
      const alone = await getJson(`${apiOf(cluster, home)}/kv/${key}?n=2&r=1`)
      assert.equal(alone.status, 200, JSON.stringify(alone.body))
      assert.deepEqual(siblingTexts(alone.body), ['after'])
      const replies = (alone.body.trace as {replies: Array<{node: string; outcome: string}>}).replies
      assert.ok(replies.some((reply) => reply.node === home.name && reply.outcome === 'ok'), JSON.stringify(replies))
    }
    for (const node of [fallback1, fallback2, home2]) await killNode(node.pid)
    await readAlone(home1)
    await killNode(home1.pid)
    startLocalNode(cluster, home2, cluster.startArgs ?? [])
    await waitForNodes(cluster, [home2], undefined, waitMsMax)
    await readAlone(home2)
  })

  it('a SIGSTOPped node is marked down by the others, and up again after SIGCONT', async (t) => {
    const c = await startCluster(3)
    t.after(() => c.stop())
    const cluster = await reloadCluster(c.dir)
    const frozen = cluster.nodes[2]
    assert.ok(frozen?.pid)
    const pid = frozen.pid
    t.after(() => {
      try {
        process.kill(pid, 'SIGCONT')
      } catch {
        // Already gone.
      }
    })
    const seenBy = async (i: number): Promise<string | undefined> => (await members(c.url(i, '/cluster'))).find((m) => m.name === frozen.name)?.reachability
    assert.equal(await seenBy(0), 'up')
    // A joined node turns valid once its join is installed and gossip has told the others.
    const statusSeenBy = async (i: number): Promise<string | undefined> => ((await members(c.url(i, '/cluster'))).find((m) => m.name === frozen.name) as (MemberView & {status: string}) | undefined)?.status
    await eventually(`${frozen.name} is valid for n1 and n2`, async () => (await statusSeenBy(0)) === 'valid' && (await statusSeenBy(1)) === 'valid')
    process.kill(pid, 'SIGSTOP')
    await eventually(`${frozen.name} is seen down by n1 and n2`, async () => (await seenBy(0)) === 'down' && (await seenBy(1)) === 'down')
    const status = (await members(c.url(0, '/cluster'))).find((m) => m.name === frozen.name) as MemberView & {status: string}
    assert.equal(status.status, 'valid', 'reachability is this node\'s view; the membership status is unchanged')
    process.kill(pid, 'SIGCONT')
    await eventually(`${frozen.name} is seen up again`, async () => (await seenBy(0)) === 'up' && (await seenBy(1)) === 'up')
  })
})
