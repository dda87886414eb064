// `dyn cluster up` and the node flags it saves in the folder (startArgs in cluster.json), with
// real processes. A new user's walk found a later `up --write-buffer-ms 0 --anti-entropy-ms 1000`
// dropping a saved `--request-timeout 3000`; `up --request-timeout 2500` with every node running
// saying "started none", exiting 0 and saving flags no node used; and, after a kill -9 of n3, the
// next `up` starting n3 with those flags beside n1 and n2 on the old ones. Here flags merge, a
// change is refused while any node runs with nothing changed, and after `down` it applies to all.

import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {mkdtemp, readFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'
import type {TestContext} from 'node:test'
import {clusterDown} from '../../src/cli/local-cluster.js'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {killNode, reloadCluster, removeTestFolder, runDyn} from './harness.js'

/** The `dyn start` flags node `pid` runs with, as its command line says: each flag's value, the last one given winning. */
function runningFlags(pid: number | undefined): Map<string, string> {
  assert.ok(pid !== undefined, 'the node has no pid')
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
  const flags = new Map<string, string>()
  for (const [at, arg] of args.entries()) if (arg.startsWith('--') && at + 1 < args.length) flags.set(arg, args[at + 1] as string)
  return flags
}

/** The flags `names` take on every node of the folder that runs, node by node: {n1: {...}, ...}. */
async function flagsOfNodes(dir: string, names: readonly string[]): Promise<Record<string, Record<string, string | undefined>>> {
  const cluster = await reloadCluster(dir)
  return Object.fromEntries(cluster.nodes.map((node) => {
    const flags = runningFlags(node.pid)
    return [node.name, Object.fromEntries(names.map((name) => [name, flags.get(name)]))]
  }))
}

const watched = ['--request-timeout', '--write-buffer-ms', '--anti-entropy-ms']
const savedFlags = ['--request-timeout', '3000', '--write-buffer-ms', '50', '--anti-entropy-ms', '0']
const savedOnNode = {'--request-timeout': '3000', '--write-buffer-ms': '50', '--anti-entropy-ms': '0'}

/** A folder of its own with a cluster of `nodeCount` started by `dyn cluster up` with `savedFlags`; stopped and deleted after the test. */
async function upFolder(t: TestContext, nodeCount: number): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dyn-up-flags-'))
  t.after(async () => {
    await clusterDown(dir, 3000, () => undefined).catch(() => undefined)
    await removeTestFolder(dir)
  })
  const {port, rpcPort} = await freeClusterPorts(nodeCount)
  const up = await runDyn(['cluster', 'up', '--nodes', String(nodeCount), '--dir', dir, '--port', String(port), '--rpc-port', String(rpcPort), ...savedFlags, '--json'])
  assert.equal(up.code, 0, up.stdout + up.stderr)
  return dir
}

/** The folder's saved start flags, as cluster.json holds them. */
async function savedStartArgs(dir: string): Promise<unknown> {
  return (JSON.parse(await readFile(path.join(dir, 'cluster.json'), 'utf8')) as {startArgs?: unknown}).startArgs
}

describe('dyn cluster up: the saved node flags', () => {
  it('refuses a flag that differs from the saved one while the nodes run, naming flag and nodes, with nothing changed; the saved value given again keeps the other saved flags', async (t) => {
    const dir = await upFolder(t, 2)
    const file = path.join(dir, 'cluster.json')
    const before = await readFile(file, 'utf8')
    const pids = (await reloadCluster(dir)).nodes.map((node) => node.pid)
    const refused = await runDyn(['cluster', 'up', '--dir', dir, '--request-timeout', '2500', '--json'])
    assert.equal(refused.code, 2, refused.stdout + refused.stderr)
    const answer = JSON.parse(refused.stdout) as {ok: boolean; error: string; message: string; nodes: string[]; changes: unknown}
    assert.equal(answer.ok, false)
    assert.equal(answer.error, 'bad_parameter')
    assert.deepEqual(answer.nodes, ['n1', 'n2'])
    assert.deepEqual(answer.changes, [{flag: '--request-timeout', saved: '3000', asked: '2500'}])
    assert.match(answer.message, /its running nodes \(n1, n2\) run with other start flags than asked \(saved -> asked\): --request-timeout 3000 -> 2500\./)
    assert.match(answer.message, /stop the cluster \(dyn cluster down --dir \S+\) and run dyn cluster up --dir \S+ --request-timeout 2500; or leave those flags out/)
    assert.equal(await readFile(file, 'utf8'), before, 'the refused up changed cluster.json')
    assert.deepEqual((await reloadCluster(dir)).nodes.map((node) => node.pid), pids)
    // The saved value given again is no change: up goes on, starts none, and keeps the flags not
    // given (it once saved the one flag given in place of all of them).
    const same = await runDyn(['cluster', 'up', '--dir', dir, '--request-timeout', '3000', '--json'])
    assert.equal(same.code, 0, same.stdout + same.stderr)
    assert.deepEqual((JSON.parse(same.stdout) as {started: string[]}).started, [])
    assert.deepEqual(await savedStartArgs(dir), savedFlags)
    assert.deepEqual((JSON.parse(same.stdout) as {startFlags: string[]}).startFlags, savedFlags)
  })

  it('refuses it too with a node killed, and a plain up then brings that node back with the flags of its peers, and says them', async (t) => {
    const dir = await upFolder(t, 3)
    const file = path.join(dir, 'cluster.json')
    const n3 = (await reloadCluster(dir)).nodes[2]
    await killNode(n3?.pid)
    const before = await readFile(file, 'utf8')
    const refused = await runDyn(['cluster', 'up', '--dir', dir, '--request-timeout', '2500', '--json'])
    assert.equal(refused.code, 2, refused.stdout + refused.stderr)
    const answer = JSON.parse(refused.stdout) as {error: string; message: string; nodes: string[]}
    assert.equal(answer.error, 'bad_parameter')
    assert.deepEqual(answer.nodes, ['n1', 'n2'])
    assert.match(answer.message, /its running nodes \(n1, n2\) run with other start flags than asked \(saved -> asked\): --request-timeout 3000 -> 2500\./)
    assert.equal(await readFile(file, 'utf8'), before, 'the refused up changed cluster.json')
    assert.equal((await reloadCluster(dir)).nodes[2]?.pid, n3?.pid, 'the refused up started n3')
    const back = await runDyn(['cluster', 'up', '--dir', dir])
    assert.equal(back.code, 0, back.stdout + back.stderr)
    assert.match(back.stdout, /\(started n3; n1, n2 were running already and left alone\)/)
    assert.deepEqual(await flagsOfNodes(dir, watched), {n1: savedOnNode, n2: savedOnNode, n3: savedOnNode})
    assert.match(back.stdout, /^its nodes run with --request-timeout 3000 --write-buffer-ms 50 --anti-entropy-ms 0 \(saved in the folder/m)
  })

  it('after down, merges the flags given into the saved ones (those not given kept), says the change, and starts every node with them', async (t) => {
    const dir = await upFolder(t, 2)
    assert.equal((await runDyn(['cluster', 'down', '--dir', dir])).code, 0)
    const up = await runDyn(['cluster', 'up', '--dir', dir, '--write-buffer-ms', '0', '--anti-entropy-ms', '1000', '--json'])
    assert.equal(up.code, 0, up.stdout + up.stderr)
    const merged = ['--request-timeout', '3000', '--write-buffer-ms', '0', '--anti-entropy-ms', '1000']
    assert.deepEqual(await savedStartArgs(dir), merged)
    const expected = {'--request-timeout': '3000', '--write-buffer-ms': '0', '--anti-entropy-ms': '1000'}
    assert.deepEqual(await flagsOfNodes(dir, watched), {n1: expected, n2: expected})
    assert.deepEqual((JSON.parse(up.stdout) as {startFlags: string[]}).startFlags, merged)
    // Down again, a changed flag is said on stderr as it takes effect for every node.
    assert.equal((await runDyn(['cluster', 'down', '--dir', dir])).code, 0)
    const changed = await runDyn(['cluster', 'up', '--dir', dir, '--request-timeout', '2500'])
    assert.equal(changed.code, 0, changed.stdout + changed.stderr)
    assert.match(changed.stderr, /the folder's nodes start with other flags from now on \(saved -> asked\): --request-timeout 3000 -> 2500/)
    assert.match(changed.stdout, /^its nodes run with --request-timeout 2500 --write-buffer-ms 0 --anti-entropy-ms 1000 /m)
    const now = {'--request-timeout': '2500', '--write-buffer-ms': '0', '--anti-entropy-ms': '1000'}
    assert.deepEqual(await flagsOfNodes(dir, watched), {n1: now, n2: now})
  })

  it('down waits out the stop delay the nodes run with before its grace counts: they stop by themselves, none is killed', async (t) => {
    const dir = await upFolder(t, 1)
    assert.equal((await runDyn(['cluster', 'down', '--dir', dir])).code, 0)
    const up = await runDyn(['cluster', 'up', '--dir', dir, '--stop-delay-ms', '2000', '--json'])
    assert.equal(up.code, 0, up.stdout + up.stderr)
    assert.deepEqual(await flagsOfNodes(dir, ['--stop-delay-ms']), {n1: {'--stop-delay-ms': '2000'}})
    // A grace shorter than the delay: counted from the SIGTERM alone, it killed the node serving its delay.
    const down = await runDyn(['cluster', 'down', '--dir', dir, '--grace', '500', '--json'])
    assert.equal(down.code, 0, down.stdout + down.stderr)
    const stopped = JSON.parse(down.stdout) as {stopped: string[]; killed: string[]}
    assert.deepEqual(stopped.stopped, ['n1'])
    assert.deepEqual(stopped.killed, [])
  })
})
