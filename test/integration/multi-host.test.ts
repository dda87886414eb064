// dyn across machines (issue 15 item 4), on one: each node in its own Linux network namespace with
// its own address on a bridge, binding 0.0.0.0 and advertising that address, as on hosts behind
// one switch. Writes and reads go through every node; `dyn cluster status --node` sees every
// member through one of them; a node cut off both ways is written around (sloppy quorum) and
// caught up after the heal; a one-way cut shows as two nodes disagreeing about a third.
//
// Namespaces need root, `ip` and `iptables`. Where they are missing the test says why and is
// skipped, except on CI (CI=true), which has them (.ci/run installs iptables), where it fails.

import assert from 'node:assert/strict'
import type {ChildProcess} from 'node:child_process'
import {randomInt} from 'node:crypto'
import {closeSync, openSync} from 'node:fs'
import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {createNetnsLab, freeSubnet, netnsUnavailable} from '../../src/cli/netns.js'
import type {NetnsLab} from '../../src/cli/netns.js'
import {writeNewSecretFile} from '../../src/node/cluster-secret.js'
import {dynBin, getJson, isRunning, killNode, putValue, removeTestFolder, runDyn, waitFor} from './harness.js'

const nodeCount = 3
/** Every namespace has ports of its own, so every node uses the same two. */
const apiPort = 7070
const rpcPort = 8070

const unavailable = await netnsUnavailable()
if (unavailable !== undefined && process.env.CI === 'true') {
  throw new Error(`the multi-host test must run on CI, but ${unavailable}`)
}

describe('a cluster across network namespaces: --listen 0.0.0.0, --advertise its own address', {skip: unavailable}, () => {
  let lab: NetnsLab
  let dir: string
  const nodes: ChildProcess[] = []
  const api = (i: number): string => `${lab.address(i)}:${apiPort}`
  const url = (i: number, pathAndQuery: string): string => `http://${api(i)}${pathAndQuery}`

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dyn-test-multi-host-'))
    lab = await createNetnsLab({nodeCount, subnet: await freeSubnet(), tag: `dmh${randomInt(100_000)}`})
    // As across machines: every node listens on every interface, so each holds the cluster secret.
    const secretFile = path.join(dir, 'cluster.secret')
    await writeNewSecretFile(secretFile)
    for (let i = 1; i <= nodeCount; i += 1) {
      const seeds = i === 1 ? [] : ['--seeds', `${lab.address(1)}:${rpcPort}`]
      const log = openSync(path.join(dir, `n${i}.log`), 'a')
      const args = [dynBin, 'start', '--name', `n${i}`, '--listen', '0.0.0.0', '--advertise', lab.address(i), '--port', String(apiPort), '--rpc-port', String(rpcPort), '--data', path.join(dir, `n${i}`), '--request-timeout', '5000', '--anti-entropy-ms', '1000', '--secret-file', secretFile, ...seeds]
      nodes.push(lab.spawn(i, process.execPath, args, {stdio: ['ignore', log, log]}))
      closeSync(log)
      await waitFor(`n${i} to serve at ${api(i)}`, async () => ((await getJson(url(i, '/health')).catch(() => undefined))?.status === 200 ? true : undefined), 60_000)
    }
    await waitFor('every node to see every member valid and up', async () => {
      const views = await Promise.all([1, 2, 3].map((i) => getJson(url(i, '/cluster')).catch(() => undefined)))
      return views.every((view) => {
        const members = (view?.body.members ?? []) as Array<{status: string; reachability: string}>
        return members.length === nodeCount && members.every((member) => member.status === 'valid' && member.reachability === 'up')
      })
        ? true
        : undefined
    })
  })

  after(async () => {
    try {
      for (const node of nodes) if (node.pid !== undefined && isRunning(node.pid)) await killNode(node.pid).catch(() => undefined)
    } finally {
      await lab?.destroy()
      await removeTestFolder(dir)
    }
  })

  /** `dyn cluster status --node` through node i, as JSON, with its exit code. */
  const status = async (i: number): Promise<{code: number; body: Record<string, unknown>}> => {
    const run = await runDyn(['cluster', 'status', '--node', api(i), '--json'])
    return {code: run.code, body: JSON.parse(run.stdout) as Record<string, unknown>}
  }

  it('every member is known by its advertised address, and status through any node sees all of them', async () => {
    const cluster = (await getJson(url(2, '/cluster'))).body
    const members = cluster.members as Array<{name: string; apiAddress: string; rpcAddress: string}>
    assert.deepEqual(
      members.map((member) => [member.name, member.apiAddress, member.rpcAddress]),
      [1, 2, 3].map((i) => [`n${i}`, api(i), `${lab.address(i)}:${rpcPort}`]),
    )
    for (const i of [1, 2, 3]) {
      // A member slower than the status timeout on a loaded machine is a moment, not a failure.
      const body = await waitFor(`status through n${i}`, async () => {
        const seen = await status(i)
        return seen.code === 0 ? seen.body : undefined
      })
      assert.equal(body.askedThrough, `n${i}`)
      assert.deepEqual((body.nodes as Array<{state: string}>).map((node) => node.state), ['serving', 'serving', 'serving'])
    }
    // The other admin commands through any one node, as on machines the user is not on.
    const ring = await runDyn(['ring', '--node', api(3), '--json'])
    assert.equal(ring.code, 0, ring.stdout + ring.stderr)
    assert.deepEqual((JSON.parse(ring.stdout).members as Array<{name: string}>).map((member) => member.name), ['n1', 'n2', 'n3'])
    const watched = await waitFor('dyn top through n2 with every node answering', async () => {
      const top = await runDyn(['top', '--node', api(2), '--json', '--interval', '500'])
      const body = top.code === 0 ? (JSON.parse(top.stdout) as {nodes: Array<{name: string; answering: boolean}>}) : undefined
      return body?.nodes.every((node) => node.answering) === true ? body : undefined
    })
    assert.deepEqual(watched.nodes.map((node) => node.name), ['n1', 'n2', 'n3'])
    const plan = await runDyn(['cluster', 'plan', '--node', api(1), '--json'])
    assert.equal(plan.code, 0, plan.stdout + plan.stderr)
    assert.equal(JSON.parse(plan.stdout).claimant, 'n1')
  })

  it('a write through each node is read through every node at r=3', async () => {
    for (const i of [1, 2, 3]) assert.equal((await putValue(url(i, `/kv/multi-host-${i}`), `from n${i}`)).status, 204)
    for (const i of [1, 2, 3]) {
      for (const j of [1, 2, 3]) {
        const read = await getJson(url(j, `/kv/multi-host-${i}?r=3`))
        assert.equal(read.status, 200, `multi-host-${i} through n${j}: ${JSON.stringify(read.body)}`)
      }
    }
  })

  it('a node cut off both ways is written around and caught up after the heal; status says who does not answer', async () => {
    await lab.isolate(3)
    try {
      const cut = await waitFor('n1 and n2 to see n3 down, and status to say so', async () => {
        const seen = await status(1)
        return seen.code === 3 && (seen.body.seenDown as string[]).includes('n3') ? seen.body : undefined
      })
      assert.equal((cut.nodes as Array<{state: string}>)[2]?.state, 'not_answering')
      // With three nodes each is a home of every key: n1 and n2 acknowledge each write (w=2).
      for (let k = 0; k < 20; k += 1) {
        const written = await putValue(url(1, `/kv/during-cut-${k}`), `value ${k}`)
        assert.equal(written.status, 204, `during-cut-${k}: ${written.status} ${await written.text()}`)
      }
    } finally {
      await lab.heal()
    }
    await waitFor('status with every member up again after the heal', async () => ((await status(2)).code === 0 ? true : undefined))
    // n3 catches up with no client read (anti-entropy, every second here): 3 keys from before the
    // cut and the 20 written during it.
    await waitFor('n3 to hold the 23 keys', async () => (((await getJson(url(3, '/stats'))).body as {keys: number}).keys >= 23 ? true : undefined))
    for (let k = 0; k < 20; k += 1) assert.equal((await getJson(url(3, `/kv/during-cut-${k}?r=3`))).status, 200, `during-cut-${k} through n3`)
  })

  it('a one-way cut: the nodes disagree about the node that n1 no longer hears, and status shows it', async () => {
    await lab.dropFrom(1, 3)
    try {
      const seen = await waitFor('status through n2 to show n1 and n2 disagreeing about n3', async () => {
        const through2 = await status(2)
        const disagreements = (through2.body.disagreements ?? []) as Array<{member: string; seenAs: Record<string, string>}>
        return disagreements.some((d) => d.member === 'n3' && d.seenAs.n1 === 'down' && d.seenAs.n2 === 'up') ? through2 : undefined
      })
      assert.equal(seen.code, 3)
      const text = await runDyn(['cluster', 'status', '--node', api(2)])
      assert.match(text.stdout, /the nodes disagree about n3: .*down from n1.*up from n2|the nodes disagree about n3: .*up from n2.*down from n1/)
    } finally {
      await lab.heal()
    }
    await waitFor('status with every member up again after the heal', async () => ((await status(2)).code === 0 ? true : undefined))
  })
})
