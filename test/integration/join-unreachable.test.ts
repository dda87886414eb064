/**
 * A node that advertises an address no member can reach (a new user's walk: `dyn start
 * --advertise` set to an address that does not lead back to the node, which listens on
 * 127.0.0.1), with real processes: `dyn cluster join` is refused with what to do and stages
 * nothing, where it once answered ok while `dyn cluster plan` then said nothing was staged; a join
 * staged before the node was restarted with such an address is shown by the plan as one a commit
 * leaves out, and a commit of it alone is refused, until the node is restarted with its right
 * address on the same folder. 127.0.0.2 stands for the wrong address: nothing listens there, as
 * each node listens on 127.0.0.1 alone. Each test has its own ports and folder, and stops every
 * process it starts by its pid; no duration is asserted.
 */

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {dynBin, getJson, isRunning, killNode, removeTestFolder, runDyn, waitFor} from './harness.js'

interface Plan {
  ok: boolean
  staged: Array<{kind: string; node: string}>
  blocked?: Array<{kind: string; node: string; rpcAddress: string; error: string; message: string}>
  note?: string
}

interface Refusal {
  ok: boolean
  error: string
  message: string
  node?: string
  rpcAddress?: string
}

describe('a node that advertises an address no member can reach', () => {
  it('is refused by dyn cluster join with nothing staged; staged before, it is shown by plan and refused by commit until it advertises its right address', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'dyn-join-unreachable-'))
    const {port, rpcPort} = await freeClusterPorts(2)
    const started: ChildProcess[] = []
    t.after(async () => {
      for (const child of started) if (child.pid !== undefined && isRunning(child.pid)) await killNode(child.pid)
      await removeTestFolder(dir)
    })
    const api = (index: number): string => `127.0.0.1:${port + index}`
    const rpc = (index: number): string => `127.0.0.1:${rpcPort + index}`
    /** Starts node n(index+1) on its folder, listening on 127.0.0.1 and advertising `advertise`; resolves once it serves. */
    const start = async (index: number, advertise: string): Promise<ChildProcess> => {
      const name = `n${index + 1}`
      const args = ['start', '--name', name, '--listen', '127.0.0.1', '--advertise', advertise, '--port', String(port + index), '--rpc-port', String(rpcPort + index), '--data', path.join(dir, name)]
      const child = spawn(process.execPath, [dynBin, ...args], {stdio: 'ignore'})
      started.push(child)
      await waitFor(`${name} to serve`, async () => ((await getJson(`http://${api(index)}/health`)).body.ok === true ? true : undefined))
      return child
    }
    const plan = async (): Promise<Plan> => JSON.parse((await runDyn(['cluster', 'plan', '--node', api(0), '--json'])).stdout) as Plan
    const wrong = `127.0.0.2:${rpcPort + 1}`

    await start(0, '127.0.0.1')
    let n2 = await start(1, '127.0.0.2')

    // The join is refused, with the code, the address, and what to do; nothing is staged anywhere.
    const refused = await runDyn(['cluster', 'join', rpc(0), '--node', api(1), '--json'])
    assert.equal(refused.code, 3, refused.stdout + refused.stderr)
    const refusal = JSON.parse(refused.stdout) as Refusal
    assert.deepEqual({ok: refusal.ok, error: refusal.error, node: refusal.node, rpcAddress: refusal.rpcAddress}, {ok: false, error: 'joiner_unreachable', node: 'n2', rpcAddress: wrong})
    assert.match(refusal.message, new RegExp(`^the seed ${rpc(0)} refused the join: n1 cannot reach n2 at ${wrong}, the internode address n2 advertises \\(.*\\), and every member must: nothing was staged\\. Restart n2 with --advertise set to an address the cluster's nodes can connect to`))
    const text = await runDyn(['cluster', 'join', rpc(0), '--node', api(1)])
    assert.equal(text.code, 3)
    assert.match(text.stderr, /Restart n2 with --advertise .* then join again \[joiner_unreachable\]/)
    const nothing = await plan()
    assert.deepEqual([nothing.staged, nothing.blocked], [[], undefined])
    const n1Members = (await getJson(`http://${api(0)}/cluster`)).body.members as Array<{name: string}>
    assert.deepEqual(n1Members.map((member) => member.name), ['n1'], 'n1 took no row of n2')
    assert.equal((await getJson(`http://${api(1)}/health`)).body.members, 1, 'n2 still runs alone')

    // Restarted with its right address, n2 joins; then it is restarted with the wrong one again.
    await killNode(n2.pid)
    n2 = await start(1, '127.0.0.1')
    const joined = await runDyn(['cluster', 'join', rpc(0), '--node', api(1), '--json'])
    assert.equal(joined.code, 0, joined.stdout + joined.stderr)
    await waitFor('the join to show in the plan', async () => ((await plan()).staged.some((change) => change.kind === 'join' && change.node === 'n2') ? true : undefined))
    await killNode(n2.pid)
    n2 = await start(1, '127.0.0.2')

    // The plan lists the staged join apart, with why and what to do; nothing is committable.
    const blocked = await waitFor('the plan to list the join of n2 as not committable', async () => {
      const current = await plan()
      return current.blocked?.some((change) => change.node === 'n2' && change.rpcAddress === wrong) === true ? current : undefined
    })
    assert.deepEqual(blocked.staged, [])
    assert.deepEqual(blocked.blocked?.map(({kind, node, error}) => ({kind, node, error})), [{kind: 'join', node: 'n2', error: 'joiner_unreachable'}])
    assert.match(blocked.blocked?.[0]?.message ?? '', new RegExp(`^n1, the claimant, cannot reach n2 at ${wrong}, the internode address n2 advertises \\(.*\\), so a commit leaves its join out\\. .*restart it with --advertise set to an address the members can connect to \\(on the same --data folder, so that its join stays staged\\); then dyn cluster commit\\. To give the join up instead: stop n2, then dyn cluster remove n2$`))
    assert.match(blocked.note ?? '', /^a commit now would be refused \(joiner_unreachable\)/)
    const planText = await runDyn(['cluster', 'plan', '--node', api(0)])
    assert.equal(planText.code, 0, planText.stderr)
    assert.match(planText.stdout, /^claimant n1, ring version \d+\nstaged changes: join n2 \(cannot be committed: see below\)\njoin n2 cannot be committed: n1, the claimant, cannot reach n2/)

    // A commit of it alone is refused, and says what to do; the ring does not change.
    const commit = await runDyn(['cluster', 'commit', '--node', api(0), '--json'])
    assert.equal(commit.code, 3, commit.stdout + commit.stderr)
    const commitRefusal = JSON.parse(commit.stdout) as Refusal
    assert.equal(commitRefusal.error, 'joiner_unreachable')
    assert.match(commitRefusal.message, /^nothing was committed: the join of n2 is all that is staged\. n1, the claimant, cannot reach n2 .*restart it with --advertise/)
    const ring = (await getJson(`http://${api(0)}/cluster`)).body.ring as {transition: unknown}
    assert.equal(ring.transition, null, 'no ring change started')

    // Restarted with its right address on the same folder, its join is staged still, and committed.
    await killNode(n2.pid)
    n2 = await start(1, '127.0.0.1')
    await waitFor('the join to be committable again', async () => ((await plan()).staged.some((change) => change.kind === 'join' && change.node === 'n2') ? true : undefined))
    const committed = await runDyn(['cluster', 'commit', '--node', api(0), '--json'])
    assert.equal(committed.code, 0, committed.stdout + committed.stderr)
    assert.equal((JSON.parse(committed.stdout) as {blocked?: unknown}).blocked, undefined)
    await waitFor('n2 to own partitions', async () => {
      const members = (await getJson(`http://${api(0)}/cluster`)).body.members as Array<{name: string; partitions: number}>
      return (members.find((member) => member.name === 'n2')?.partitions ?? 0) > 0 ? true : undefined
    })
  })
})
