/**
 * The cluster secret with real processes (issue 16 item 3): a cluster made by `dyn cluster up`
 * holds a secret its nodes prove to each other; a node started without it, or with another, is
 * refused with `unauthenticated` and a message that says what to do, and a process that reaches
 * the internode port without the secret stores nothing there, where the same write with the
 * secret is stored (so the refusal, not a malformed write, is what keeps it out).
 */

import assert from 'node:assert/strict'
import {readFile, stat, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {describe, it} from 'node:test'
import {secretFileOf} from '../../src/cli/local-cluster.js'
import {readSecretFile} from '../../src/node/cluster-secret.js'
import {systemClock, systemScheduler} from '../../src/node/system-time.js'
import {unauthenticatedCode} from '../../src/transport/rpc-common.js'
import {startTcpTransport} from '../../src/transport/tcp-transport.js'
import type {Transport} from '../../src/transport/transport.js'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {assertOnlyMembersWrite, getJson, killNode, reloadCluster, runDyn, startCluster, startJsonAnswer, type TestCluster} from './harness.js'

const requestTimeoutMs = 5000

/** `dyn start` for a node that tries to join `c` through n1, with these extra flags; it must exit. */
async function joinAttempt(c: TestCluster, name: string, extraArgs: readonly string[]): Promise<{code: number; error: string; message: string}> {
  const cluster = await reloadCluster(c.dir)
  const {port, rpcPort} = await freeClusterPorts(1)
  const run = await runDyn(['start', '--name', name, '--port', String(port), '--rpc-port', String(rpcPort), '--data', path.join(c.dir, name), '--seeds', `${cluster.host}:${cluster.nodes[0]?.rpcPort}`, '--json', ...extraArgs], {timeoutMs: 30_000})
  // With --json the log lines are JSON lines, and the failure is the last line.
  const failure = startJsonAnswer(run.stdout)
  return {code: run.code, ...failure}
}

async function transport(nodeName: string, secret: Buffer | undefined): Promise<Transport> {
  return startTcpTransport({host: '127.0.0.1', port: 0, nodeName, ...(secret === undefined ? {} : {secret}), clock: systemClock, scheduler: systemScheduler, handler: async () => null})
}

describe('the cluster secret between real processes', () => {
  it('cluster up writes a secret only its owner reads; nodes without it or with another are refused, and a stranger\'s replica write is not stored', async (t) => {
    const c = await startCluster(3)
    t.after(() => c.stop())
    const secretFile = secretFileOf(c.dir)
    assert.equal((await stat(secretFile)).mode & 0o777, 0o600)
    const secret = await readSecretFile(secretFile)
    assert.equal(secret.length, 64, '256 random bits as hex')

    // The nodes talk to each other: one ring, every member up.
    const {body} = await getJson(c.url(0, '/cluster'))
    const members = body.members as Array<{name: string; reachability: string}>
    assert.deepEqual(members.map((member) => member.reachability), ['up', 'up', 'up'])

    // A node without the secret cannot join, and is told what to do.
    const without = await joinAttempt(c, 'n9', [])
    assert.equal(without.code, 2)
    assert.equal(without.error, unauthenticatedCode)
    assert.match(without.message, /n1 requires the cluster secret: start n9 with the cluster's --secret-file/)
    // Nor one with another secret.
    const otherFile = path.join(c.dir, 'other.secret')
    await writeFile(otherFile, `${'ab'.repeat(32)}\n`, {mode: 0o600})
    const other = await joinAttempt(c, 'n8', ['--secret-file', otherFile])
    assert.equal(other.code, 2)
    assert.equal(other.error, unauthenticatedCode)
    assert.match(other.message, /does not prove that it holds this cluster's secret/)
    // n1 logged both refusals (and never the secret).
    const cluster = await reloadCluster(c.dir)
    const n1 = cluster.nodes[0]!
    const text = await readFile(n1.logFile, 'utf8')
    assert.match(text, /refused the connection from .* \(says it is n9\): it sent no proof of the cluster secret/)
    assert.match(text, /\(says it is n8\) closed before it proved the cluster secret/)
    assert.ok(!text.includes(secret.toString()), 'the log holds the secret')
    // Neither joined.
    const after = (await getJson(c.url(0, '/cluster'))).body.members as Array<{name: string}>
    assert.deepEqual(after.map((member) => member.name).sort(), ['n1', 'n2', 'n3'])

    // A replica write straight to n1's internode port: stored with the secret, refused without.
    const partitionCount = (body.settings as {partitionCount: number}).partitionCount
    const n1Rpc = `${cluster.host}:${n1.rpcPort}`
    const member = await transport('tester', secret)
    const stranger = await transport('stranger', undefined)
    const impostor = await transport('impostor', Buffer.from('ab'.repeat(32)))
    t.after(() => Promise.all([member.close(), stranger.close(), impostor.close()]))
    await assertOnlyMembersWrite(n1Rpc, partitionCount, member, [{through: stranger, key: 'from-a-stranger'}, {through: impostor, key: 'from-an-impostor'}], 'the same write with the secret is stored', requestTimeoutMs)

    // A member restarted on its own folder with another secret, and no --seeds: refused before it
    // serves, where it used to serve and fail every write on the others' refusals.
    const n3 = cluster.nodes[2]!
    await killNode(n3.pid)
    const restart = await runDyn(['start', '--name', 'n3', '--port', String(n3.port), '--rpc-port', String(n3.rpcPort), '--data', n3.dataDir, '--secret-file', otherFile, '--json'], {timeoutMs: 60_000})
    assert.equal(restart.code, 2, restart.stdout + restart.stderr)
    const refused = startJsonAnswer(restart.stdout)
    assert.equal(refused.error, unauthenticatedCode)
    assert.match(refused.message, /^n1, n2 refused this node's internode handshake \(n1: .*\): n3 does not prove itself as its cluster asks\. Start it as the refusal says: with the cluster's --secret-file/)
  })
})
