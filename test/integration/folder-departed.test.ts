// A folder whose own nodes have all left or been removed, while the cluster lives on in nodes
// started by hand: status and up must not send the user to start a removed node again. Status
// said "n3 ... not running (killed by SIGKILL) ... start n3 again with: dyn cluster up", up then
// started n3, which stopped on learning it was removed, and up failed with node_exited; the next
// status gave the same advice. A leaver started again by up made up crash on an address
// "127.0.0.1:undefined" and record the cluster id "undefined".

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import path from 'node:path'
import {describe, it} from 'node:test'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {dynBin, getJson, isRunning, killNode, reloadCluster, runDyn, secretArgs, startCluster, waitFor} from './harness.js'
import {isNodeProcess} from '../../src/cli/local-cluster.js'

describe('a folder whose nodes all left or were removed', () => {
  it('status says so and up starts none of them, with the cluster living on in nodes started by hand', async (t) => {
    const c = await startCluster(3)
    t.after(() => c.stop())
    // n4 and n5, started by hand, join through n1.
    const hand: Array<{api: string; pid: number}> = []
    for (const name of ['n4', 'n5']) {
      const {port, rpcPort} = await freeClusterPorts(1)
      const child = spawn(process.execPath, [dynBin, 'start', '--name', name, '--port', String(port), '--rpc-port', String(rpcPort), '--data', path.join(c.dir, `hand-${name}`), '--seeds', `${c.cluster.host}:${c.cluster.nodes[0]!.rpcPort}`, '--request-timeout', '5000', ...secretArgs(c.dir)], {stdio: 'ignore'})
      assert.ok(child.pid !== undefined)
      const pid = child.pid
      t.after(async () => {
        if (isRunning(pid)) await killNode(pid)
      })
      hand.push({api: `${c.cluster.host}:${port}`, pid})
    }
    const n4 = hand[0]!.api
    const members = async (): Promise<Array<{name: string; status: string}>> => ((await getJson(`http://${n4}/cluster`)).body.members ?? []) as Array<{name: string; status: string}>
    await waitFor('n4 and n5 to be members', async () => ((await members()).filter((m) => m.status === 'valid').length === 5 ? true : undefined))
    // n1 and n2 leave (they exit once handed off); n3 is lost, then removed.
    for (const args of [['cluster', 'leave', '--name', 'n1'], ['cluster', 'leave', '--name', 'n2'], ['cluster', 'commit']]) {
      const run = await runDyn([...args, '--node', n4])
      assert.equal(run.code, 0, run.stderr)
    }
    await waitFor('n1 and n2 to exit', async () => {
      const cluster = await reloadCluster(c.dir)
      return cluster.nodes.slice(0, 2).every((node) => !isNodeProcess(node)) ? true : undefined
    })
    await waitFor('the leave to finish', async () => ((await getJson(`http://${n4}/cluster`)).body.transfers as {transition?: unknown} | undefined)?.transition == null ? true : undefined)
    await killNode((await reloadCluster(c.dir)).nodes[2]!.pid)
    await waitFor('n4 to see n3 down', async () => ((await getJson(`http://${n4}/cluster`)).body.members as Array<{name: string; reachability?: string}>).find((m) => m.name === 'n3')?.reachability === 'down' ? true : undefined)
    for (const args of [['cluster', 'remove', 'n3'], ['cluster', 'commit']]) {
      const run = await runDyn([...args, '--node', n4])
      assert.equal(run.code, 0, run.stderr)
    }
    await waitFor('n3 removed', async () => ((await members()).find((m) => m.name === 'n3')?.status === 'left' ? true : undefined))

    // The folder has no running node to ask: n1 and n2 say themselves that they left. n3, killed
    // before its removal, cannot know it: up starts it once, it stops on learning it, and up says
    // so (exit 2, already_left: nothing of the folder is left to run), not node_exited.
    const up = await runDyn(['cluster', 'up', '--dir', c.dir, '--json'])
    assert.equal(up.code, 2, up.stdout)
    const upAnswer = JSON.parse(up.stdout) as {error: string; message: string}
    assert.equal(upAnswer.error, 'already_left')
    assert.match(upAnswer.message, /every node of .* has left the cluster \(n1, n2 left; n3 was removed\), so up starts none of them/)
    const cluster = await reloadCluster(c.dir)
    assert.ok(cluster.nodes.every((node) => !isNodeProcess(node)), 'no node of the folder runs')
    assert.notEqual(cluster.clusterId, 'undefined')

    // Status: every node gone, none to start again.
    const status = await runDyn(['cluster', 'status', '--dir', c.dir])
    assert.equal(status.code, 3)
    assert.match(status.stdout, /^n1 .* left the cluster$/m)
    assert.match(status.stdout, /^n3 .* removed from the cluster/m)
    assert.match(status.stdout, /every node of .* has left the cluster or was removed, so dyn cluster up starts none of them/)
    assert.doesNotMatch(status.stdout, /start n\d.* again/)
    // A second up starts nothing at all.
    const again = await runDyn(['cluster', 'up', '--dir', c.dir])
    assert.equal(again.code, 2)
    assert.match(again.stderr, /\[already_left\]/)
    assert.doesNotMatch(again.stderr, /^started /m)
  })
})
