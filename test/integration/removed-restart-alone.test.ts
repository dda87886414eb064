/**
 * A node removed while it was down, started again on its folder where no member answers it, end
 * to end with real processes. A helper's walk found such a node serving as a member of its stale
 * ring: it acknowledged writes (w=1), then, once the members were back, learnt that it was removed
 * and stopped without handing anything off, and every one of those writes was gone. Now it takes
 * no writes until a majority of its members has answered it (src/node/membership-confirmation.ts):
 * its puts and deletes are refused 503 not_ready, /ready says why, reads go on; once the members
 * are back it hears that it was removed and exits (2); what the cluster holds is untouched. No
 * duration is asserted: every wait polls, with a bound.
 */

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {describe, it} from 'node:test'
import {dynBin, getJson, isRunning, killNode, runDyn, secretArgs, startCluster, waitFor} from './harness.js'

interface ClusterBody {
  ringHash: string
  members: Array<{name: string; status: string; reachability: string; partitions: number}>
  ring: {transition: {id: string} | null}
}

async function clusterOf(api: string): Promise<ClusterBody> {
  return (await getJson(`http://${api}/cluster`)).body as unknown as ClusterBody
}

describe('a removed node started again where no member answers', () => {
  it('takes no writes until a majority of its members answers, then learns that it was removed and exits; nothing it was asked to write is lost, since it acknowledged none', async (t) => {
    const c = await startCluster(3)
    t.after(() => c.stop())
    const before = await fetch(`http://${c.api(0)}/kv/before?w=3`, {method: 'PUT', body: 'kept'})
    assert.equal(before.status, 204)

    // n3 goes down and is removed by the other two (a majority), which settle on a ring without it.
    const n3 = c.cluster.nodes[2]!
    await killNode(n3.pid)
    await waitFor('n1 to see n3 down', async () => ((await clusterOf(c.api(0))).members.find((member) => member.name === 'n3')?.reachability === 'down' ? true : undefined))
    const remove = await runDyn(['cluster', 'remove', 'n3', '--node', c.api(0), '--json'])
    assert.equal(remove.code, 0, remove.stdout + remove.stderr)
    const commit = await runDyn(['cluster', 'commit', '--node', c.api(0), '--json'])
    assert.equal(commit.code, 0, commit.stdout + commit.stderr)
    await waitFor('a settled ring of n1 and n2', async () => {
      const views = await Promise.all([c.api(0), c.api(1)].map(clusterOf))
      const settled = views.every((view) => view.ring.transition === null && view.members.filter((member) => member.partitions > 0).map((member) => member.name).join() === 'n1,n2')
      return settled ? true : undefined
    })

    // The survivors stop, their folders kept (a whole site going down), and n3's machine comes back first.
    const down = await runDyn(['cluster', 'down', '--dir', c.dir])
    assert.equal(down.code, 0, down.stdout + down.stderr)
    const restarted = spawn(process.execPath, [dynBin, 'start', '--name', 'n3', '--port', String(n3.port), '--rpc-port', String(n3.rpcPort), '--data', n3.dataDir, '--request-timeout', '1000', ...secretArgs(c.dir)], {stdio: ['ignore', 'pipe', 'pipe']})
    t.after(async () => {
      if (restarted.pid !== undefined && isRunning(restarted.pid)) await killNode(restarted.pid)
    })
    // Its log lines and its final error, as an operator reads them (both streams).
    let output = ''
    const collect = (chunk: Buffer): void => {
      output += chunk.toString()
    }
    restarted.stdout.on('data', collect)
    restarted.stderr.on('data', collect)
    const n3Api = `127.0.0.1:${n3.port}`
    // It starts once its disk check gives up (no member answers), and serves.
    await waitFor('n3 to serve', async () => ((await fetch(`http://${n3Api}/health`).catch(() => undefined))?.status === 200 ? true : undefined))
    assert.match(output, /warning: n3 restarted on its folder where it could not confirm that it is still a member: of the ring's 3 members, 1 \(itself included\) have answered it since it started, and 2 must/)

    // Writes are refused, at any quorum, and say why and what to do; reads go on; /ready says why.
    for (const [method, path] of [['PUT', '/kv/alone?w=1'], ['PUT', '/kv/alone'], ['DELETE', '/kv/before?w=1']] as const) {
      const response = await fetch(`http://${n3Api}${path}`, {method, ...(method === 'PUT' ? {body: 'lost?'} : {})})
      const body = (await response.json()) as {error: string; message: string}
      assert.equal(response.status, 503, `${method} ${path}`)
      assert.equal(body.error, 'not_ready')
      assert.match(body.message, /could not confirm that it is still a member.*takes no puts or deletes and stores no copies sent by other nodes \(reads go on\).*Send the write to another node$/s)
    }
    // Counted in /stats under their code, as dyn top shows outcomes.
    const stats = (await getJson(`http://${n3Api}/stats`)).body as {requests: Record<string, {outcomes: Record<string, number>}>}
    assert.equal(stats.requests.put?.outcomes.not_ready, 2)
    assert.equal(stats.requests.delete?.outcomes.not_ready, 1)
    const read = await fetch(`http://${n3Api}/kv/before?r=1`)
    assert.equal(read.status, 200)
    assert.equal(await read.text(), 'kept')
    const ready = await getJson(`http://${n3Api}/ready`)
    assert.equal(ready.status, 503)
    assert.match(JSON.stringify(ready.body), /could not confirm that it is still a member/)

    // The members come back (up starts n1 and n2, not the removed n3): n3's next round hears that
    // it was removed, and it exits, handing nothing off.
    const up = await runDyn(['cluster', 'up', '--dir', c.dir])
    assert.equal(up.code, 0, up.stdout + up.stderr)
    const exitCode = await waitFor('the removed node to exit', async () => restarted.exitCode ?? undefined)
    assert.equal(exitCode, 2, output)
    // Told by its next round (naming who said so), or by gossip if that came first.
    assert.match(output, /n3 was removed from the cluster while it was away \(dyn cluster remove(; n[12](, n[12])? says? so)?\)/)
    const reloaded = await clusterOf(c.api(0))
    assert.deepEqual(reloaded.members.filter((member) => member.partitions > 0).map((member) => member.name), ['n1', 'n2'])
    for (const api of [c.api(0), c.api(1)]) {
      assert.equal((await fetch(`http://${api}/kv/alone?r=1`)).status, 404, 'nothing was acknowledged, so nothing is missing')
      const kept = await fetch(`http://${api}/kv/before?r=2`)
      assert.equal(kept.status, 200)
      assert.equal(await kept.text(), 'kept')
    }
  })
})
