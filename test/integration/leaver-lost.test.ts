/**
 * A leaving node whose machine is lost in the middle of its leave, end to end with real
 * processes (a new user's walk): the ring change waits for it for ever, `dyn cluster status`
 * says the transfers are stalled and why, with no ETA; `dyn cluster remove` of the leaver, once
 * it is down, replaces the leave and the commit amends the change under way, which then ends
 * from the surviving replicas with every key readable; and the leaver, started again on its
 * folder, learns that it was removed and exits. No duration is asserted: every wait polls, with
 * a bound.
 */

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {describe, it} from 'node:test'
import {dynBin, getJson, isRunning, killNode, runDyn, secretArgs, startCluster, waitFor} from './harness.js'

interface ClusterBody {
  ringHash: string
  members: Array<{name: string; status: string; reachability: string; partitions: number}>
  ring: {transition: {id: string; removing: string[]} | null; staged: unknown[]}
  transfers: {releasedPartitionsPending: number}
}

async function clusterOf(api: string): Promise<ClusterBody> {
  return (await getJson(`http://${api}/cluster`)).body as unknown as ClusterBody
}

const keyCount = 300

describe('a leaver lost in the middle of its leave', () => {
  it('stalls its ring change, which status says, until dyn cluster remove replaces the leave; the change then ends from the other replicas, and the leaver, back, exits', async (t) => {
    const c = await startCluster(4)
    t.after(() => c.stop())
    const apis = [c.api(0), c.api(1), c.api(2)]
    // Values of 2 KB, as in the walk, written to every home (w=3) so that each survives one loss.
    const value = (i: number): string => `value ${i} `.padEnd(2048, '.')
    for (let i = 0; i < keyCount; i++) {
      const response = await fetch(`http://${c.api(i % 3)}/kv/lost-${i}?w=3`, {method: 'PUT', body: value(i)})
      assert.equal(response.status, 204)
    }

    const leave = await runDyn(['cluster', 'leave', '--name', 'n4', '--node', c.api(0), '--json'])
    assert.equal(leave.code, 0, leave.stdout + leave.stderr)
    const commit = await runDyn(['cluster', 'commit', '--node', c.api(0), '--json'])
    assert.equal(commit.code, 0, commit.stdout + commit.stderr)
    const transition = (JSON.parse(commit.stdout) as {transition: string}).transition
    // n4's machine dies before its partitions are on their new homes: they wait a request timeout
    // (5 s here) after every member has seen the change before they fetch anything.
    await killNode(c.cluster.nodes[3]?.pid)

    // Status says the transfers are stalled, why, and the way out; no ETA counts down meanwhile.
    const status = await waitFor('status to show the transfers waiting for n4', async () => {
      const run = await runDyn(['cluster', 'status', '--dir', c.dir])
      return /waiting: n4 down \(needed for \d+ partition\(s\); it is leaving: if its machine is lost for good, dyn cluster remove n4\)/.test(run.stdout) ? run.stdout : undefined
    })
    assert.match(status, new RegExp(`ring change ${transition.replace('.', '\\.')} under way`))
    assert.match(status, /received \d+\/\d+ partitions \([^)]*no progress for \d+ s\)/)
    assert.doesNotMatch(status, /ETA/)
    assert.equal((await clusterOf(c.api(0))).ring.transition?.id, transition, 'the change is held up')

    // Removed as an operator would: once n1 sees it down.
    await waitFor('n1 to see n4 down', async () => ((await clusterOf(c.api(0))).members.find((member) => member.name === 'n4')?.reachability === 'down' ? true : undefined))
    const remove = await runDyn(['cluster', 'remove', 'n4', '--node', c.api(0), '--json'])
    assert.equal(remove.code, 0, remove.stdout + remove.stderr)
    const staged = JSON.parse(remove.stdout) as {ok: boolean; warnings: string[]; staged: Array<{kind: string; node: string}>; note: string}
    assert.deepEqual(staged.warnings, [], 'a dead leaver is removed without a warning')
    assert.deepEqual(staged.staged, [{kind: 'remove', node: 'n4'}])
    assert.match(staged.note, /a commit removes n4 \(leaving, and down\) in the ring change .* under way, in place of its leave/)
    const amend = await runDyn(['cluster', 'commit', '--node', c.api(1), '--json'])
    assert.equal(amend.code, 0, amend.stdout + amend.stderr)
    assert.equal((JSON.parse(amend.stdout) as {transition: string}).transition, transition, 'the change under way is amended, not replaced')

    // The change ends on n1..n3, nothing moving, and every key is there.
    await waitFor('a settled ring of n1, n2 and n3', async () => {
      const views = await Promise.all(apis.map(clusterOf))
      const settled = views.every((view) => view.ring.transition === null && view.transfers.releasedPartitionsPending === 0 && view.members.filter((member) => member.partitions > 0).map((member) => member.name).join() === 'n1,n2,n3')
      return settled && new Set(views.map((view) => view.ringHash)).size === 1 ? true : undefined
    })
    assert.equal((await clusterOf(c.api(0))).members.find((member) => member.name === 'n4')?.status, 'left')
    for (let i = 0; i < keyCount; i++) {
      const response = await fetch(`http://${c.api(i % 3)}/kv/lost-${i}?r=3`)
      assert.equal(response.status, 200, `lost-${i}`)
      assert.equal(await response.text(), value(i))
    }

    // The machine comes back after all, and n4 is started on its folder: its start hears from the
    // members that it was removed, and it exits before it serves (exit 2), handing nothing off,
    // and the ring stays as it is.
    const n4 = c.cluster.nodes[3]!
    const restarted = spawn(process.execPath, [dynBin, 'start', '--name', 'n4', '--port', String(n4.port), '--rpc-port', String(n4.rpcPort), '--data', n4.dataDir, '--request-timeout', '5000', ...secretArgs(c.dir)], {stdio: ['ignore', 'ignore', 'pipe']})
    t.after(async () => {
      if (restarted.pid !== undefined && isRunning(restarted.pid)) await killNode(restarted.pid)
    })
    let stderr = ''
    restarted.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const exitCode = await waitFor('the removed leaver to exit', async () => restarted.exitCode ?? undefined)
    assert.equal(exitCode, 2, stderr)
    assert.match(stderr, /n4 was removed from the cluster while it was away \(dyn cluster remove; n[123](, n[123])* says? so\): .*does not start on this folder.*\[removed\]/s)
    const after = await clusterOf(c.api(0))
    assert.equal(after.ring.transition, null)
    assert.deepEqual(after.members.filter((member) => member.partitions > 0).map((member) => member.name), ['n1', 'n2', 'n3'])
  })
})
