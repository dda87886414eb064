/**
 * What `dyn cluster status` says of a node that has left the ring but still hands off what it
 * held, end to end with real processes. Once its ring change ends, the leaver releases its
 * partitions (their copies go to their new homes first) and delivers its hints, and only then
 * says it handed off everything and exits. A new user's walk saw status call such a node "left
 * the cluster" while it still had 40 partitions to release: an operator who stopped it then would
 * have kept its hints from their homes. Status, through a member and from the folder, now shows
 * it handing off until it is done, then left. No duration is asserted: every wait polls, with a
 * bound.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {isRunning, runDyn, secretArgs, startCluster, startJsonAnswer, waitFor} from './harness.js'

interface StatusJson {
  nodes: Array<{name: string; state: string; running: boolean}>
  left: string[]
}

const keyCount = 300

describe('a leaver handing off, as status shows it', () => {
  it('is shown handing off (do not stop it) while it releases its partitions, then left once it exits; the members that remain agree throughout', async (t) => {
    const c = await startCluster(4)
    t.after(() => c.stop())
    const value = (i: number): string => `value ${i} `.padEnd(1024, '.')
    for (let i = 0; i < keyCount; i++) {
      const response = await fetch(`http://${c.api(i % 4)}/kv/handoff-${i}`, {method: 'PUT', body: value(i)})
      assert.equal(response.status, 204)
    }
    const leaverPid = c.cluster.nodes[3]?.pid
    assert.ok(leaverPid !== undefined)

    const leave = await runDyn(['cluster', 'leave', '--name', 'n4', '--node', c.api(0), '--json'])
    assert.equal(leave.code, 0, leave.stdout + leave.stderr)
    const commit = await runDyn(['cluster', 'commit', '--node', c.api(0), '--json'])
    assert.equal(commit.code, 0, commit.stdout + commit.stderr)

    // Each path's states of n4, in the order seen, until the leaver has exited. Its release waits
    // a request timeout (5 s here) after its ring change ends before it hands anything off, so
    // the polls below see it handing off.
    const seen = {remote: [] as string[], folder: [] as string[]}
    let handingOffText = ''
    const note = (states: string[], state: string | undefined): void => {
      if (state !== undefined && states.at(-1) !== state) states.push(state)
    }
    await waitFor('n4 to hand off and exit', async () => {
      const remote = await runDyn(['cluster', 'status', '--node', c.api(0), '--json'])
      const remoteStatus = JSON.parse(remote.stdout) as StatusJson
      note(seen.remote, remoteStatus.nodes.find((node) => node.name === 'n4')?.state)
      if (remoteStatus.nodes.find((node) => node.name === 'n4')?.state === 'handing_off') {
        assert.equal(remote.code, 0, `the members that remain serve and agree: ${remote.stdout}`)
        assert.ok(remoteStatus.left.includes('n4'), 'a leaver handing off is counted with those that left')
        if (handingOffText === '') handingOffText = (await runDyn(['cluster', 'status', '--node', c.api(0)])).stdout
      }
      const folder = await runDyn(['cluster', 'status', '--dir', c.dir, '--json'])
      note(seen.folder, (JSON.parse(folder.stdout) as StatusJson).nodes.find((node) => node.name === 'n4')?.state)
      return isRunning(leaverPid) ? undefined : true
    })
    // Once it has exited, both ways say it left. (A poll in the moment between its server closing
    // and its process ending can find it running and not answering: a CI run did.)
    await waitFor('both ways of asking to say n4 left', async () => {
      const remote = JSON.parse((await runDyn(['cluster', 'status', '--node', c.api(0), '--json'])).stdout) as StatusJson
      const folder = JSON.parse((await runDyn(['cluster', 'status', '--dir', c.dir, '--json'])).stdout) as StatusJson
      note(seen.remote, remote.nodes.find((node) => node.name === 'n4')?.state)
      note(seen.folder, folder.nodes.find((node) => node.name === 'n4')?.state)
      return seen.remote.at(-1) === 'left' && seen.folder.at(-1) === 'left' ? true : undefined
    })
    assert.ok(seen.remote.includes('handing_off'), `through a member: ${seen.remote.join(' -> ')}`)
    assert.ok(seen.folder.includes('handing_off'), `from the folder: ${seen.folder.join(' -> ')}`)
    // Never "left" before it was done handing off.
    for (const states of [seen.remote, seen.folder]) assert.ok(states.indexOf('left') > states.indexOf('handing_off'), states.join(' -> '))
    // Whether the text was caught while it handed off depends on when the poll fell; when it was, it says not to stop it.
    if (handingOffText !== '') assert.match(handingOffText, /n4 .*left the ring, handing off: .*do not stop it before/)

    // Started again on its folder (a service manager restarting it on exit), it refuses at once
    // with a code of its own and serves nothing: it served for seconds and exited 0 before.
    const n4 = c.cluster.nodes[3]!
    const again = await runDyn(['start', '--name', 'n4', '--port', String(n4.port), '--rpc-port', String(n4.rpcPort), '--data', n4.dataDir, '--request-timeout', '5000', ...secretArgs(c.dir), '--json'], {timeoutMs: 30_000})
    assert.equal(again.code, 2, again.stdout + again.stderr)
    const refusal = startJsonAnswer(again.stdout)
    assert.equal(refusal.error, 'already_left')
    assert.match(refusal.message, /n4 has left the cluster and handed off its data: .* start it on an empty --data folder with --seeds of a member/)
    assert.equal(await fetch(`http://${c.cluster.host}:${n4.port}/health`).then(() => 'answered', () => 'refused'), 'refused')

    // Every key is still readable from the members that remain.
    for (let i = 0; i < keyCount; i++) {
      const response = await fetch(`http://${c.api(i % 3)}/kv/handoff-${i}`)
      assert.equal(response.status, 200)
      assert.equal(await response.text(), value(i))
    }
  })
})
