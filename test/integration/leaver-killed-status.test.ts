/**
 * A leaver killed in the middle of its hand-off, end to end with real processes. Out of the ring,
 * it had not yet said that it handed off everything: the hints it kept wait for it, and no
 * tombstone of the cluster is reaped without its word. A new user's walk killed such a node and
 * every check the README says to alert on stayed green: `dyn cluster status` exited 0, every
 * survivor's /health said `down: []`, and `dyn top` said `leaving`. Now status (through a member
 * and from the folder) is not ok and says what to do, /health lists it down, and `dyn cluster up`
 * starts it again, after which it finishes its leave by itself. No duration is asserted: every
 * wait polls, with a bound.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {getJson, isRunning, runDyn, startCluster, waitFor} from './harness.js'

interface StatusJson {
  ok: boolean
  error?: string
  message?: string
  nodes: Array<{name: string; state: string; running: boolean; handoffUnfinished?: boolean; pid?: number}>
}

const keyCount = 200

describe('a leaver killed before it handed off everything', () => {
  it('is not ok in status, is down in /health, and is started again by up, which lets it finish its leave', async (t) => {
    const c = await startCluster(4)
    t.after(() => c.stop())
    for (let i = 0; i < keyCount; i++) {
      const response = await fetch(`http://${c.api(i % 4)}/kv/killed-leaver-${i}`, {method: 'PUT', body: `value ${i}`})
      assert.equal(response.status, 204)
    }
    const leaverPid = c.cluster.nodes[3]?.pid
    assert.ok(leaverPid !== undefined)
    assert.equal((await runDyn(['cluster', 'leave', '--name', 'n4', '--node', c.api(0)])).code, 0)
    assert.equal((await runDyn(['cluster', 'commit', '--node', c.api(0)])).code, 0)
    // Its release waits a request timeout (5 s here) after the ring change ends before it hands
    // anything off: the poll finds it handing off, and it is killed then.
    await waitFor('n4 to hand off', async () => {
      const status = JSON.parse((await runDyn(['cluster', 'status', '--node', c.api(0), '--json'])).stdout) as StatusJson
      return status.nodes.find((node) => node.name === 'n4')?.state === 'handing_off' ? true : undefined
    })
    process.kill(leaverPid, 'SIGKILL')
    await waitFor('n4 to be gone', async () => (isRunning(leaverPid) ? undefined : true))

    // Through a member: not ok, n4 named with what to do.
    const remote = await waitFor('status through a member to say n4 did not hand off', async () => {
      const answer = await runDyn(['cluster', 'status', '--node', c.api(0), '--json'])
      const status = JSON.parse(answer.stdout) as StatusJson
      return status.nodes.find((node) => node.name === 'n4')?.handoffUnfinished === true ? {answer, status} : undefined
    })
    assert.equal(remote.answer.code, 3, remote.answer.stdout)
    assert.equal(remote.status.error, 'nodes_not_serving')
    assert.match(remote.status.message ?? '', /n4 left the ring but has not handed off everything, and does not answer: .*start n4 again on its data folder to finish .*dyn cluster remove n4/)
    // Every survivor's /health lists it down, once its detector has decided.
    for (const i of [0, 1, 2]) {
      await waitFor(`n${i + 1}'s /health to list n4 down`, async () => {
        const health = await getJson(`http://${c.api(i)}/health`)
        return (health.body.down as string[] | undefined)?.includes('n4') === true ? true : undefined
      })
    }
    // From the folder: not ok either, and up is the way back.
    const folder = await runDyn(['cluster', 'status', '--dir', c.dir, '--json'])
    assert.equal(folder.code, 3, folder.stdout)
    const folderStatus = JSON.parse(folder.stdout) as StatusJson
    assert.equal(folderStatus.error, 'nodes_not_serving')
    assert.match(folderStatus.message ?? '', /n4 left the ring but has not handed off everything, and is not running: .*start it again to finish with: dyn cluster up/)
    assert.equal(folderStatus.nodes.find((node) => node.name === 'n4')?.handoffUnfinished, true)
    assert.match((await runDyn(['cluster', 'status', '--dir', c.dir])).stdout, /n4 .*left the ring, but was stopped before it had handed off everything: start it again to finish/)

    // up starts it again (not waited for: it exits by itself once done), and it finishes.
    const up = await runDyn(['cluster', 'up', '--dir', c.dir, '--json'])
    assert.equal(up.code, 0, up.stdout + up.stderr)
    const upJson = JSON.parse(up.stdout) as {started: string[]; left: string[]; finishing: string[]}
    assert.deepEqual([upJson.started, upJson.left, upJson.finishing], [[], [], ['n4']])
    await waitFor('status from the folder to be ok, n4 having handed off and left', async () => {
      const answer = await runDyn(['cluster', 'status', '--dir', c.dir, '--json'])
      const status = JSON.parse(answer.stdout) as StatusJson
      return answer.code === 0 && status.nodes.find((node) => node.name === 'n4')?.state === 'left' ? true : undefined
    })
    const after = await runDyn(['cluster', 'status', '--node', c.api(0), '--json'])
    assert.equal(after.code, 0, after.stdout)
    assert.deepEqual((await getJson(`http://${c.api(0)}/health`)).body.down, [])
    for (let i = 0; i < keyCount; i++) {
      const response = await fetch(`http://${c.api(i % 3)}/kv/killed-leaver-${i}`)
      assert.equal(response.status, 200)
      assert.equal(await response.text(), `value ${i}`)
    }
  })
})
