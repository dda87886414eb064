// `dyn verify` end to end, as CI runs it: 30 seconds of cart clients under every kind of fault,
// then heal, converge, and no acknowledged add lost (exit 0); and the same check catching what
// last-writer-wins loses by design (exit 1, and it says why), so that a verify that could never
// find a loss would fail here.

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {createServer} from 'node:net'
import {mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'
import {isNodeProcess} from '../../src/cli/local-cluster.js'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {dynBin, reloadCluster, removeTestFolder, runDyn, sleep, startCluster} from './harness.js'
import {joinFromOutside, removeFolderNode, settledOn} from './membership-walk.js'

/** A 30-second run, its heal, convergence and check, and the start and stop of 5 nodes, with room to spare. */
const verifyTimeoutMs = 240_000

describe('dyn verify', () => {
  it('30 s of kills, pauses, partitions, isolations and one-way cuts lose no acknowledged add', async () => {
    const run = await runDyn(['verify', '--duration', '30', '--seed', '20261203', '--fault-seconds', '2,4', '--gap-seconds', '1', '--json'], {timeoutMs: verifyTimeoutMs})
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`)
    const report = JSON.parse(run.stdout) as Record<string, any>
    assert.equal(report.ok, true)
    assert.equal(report.adds.lost, 0)
    assert.ok(report.adds.acknowledged > 0, 'some adds were acknowledged')
    // Every kind of fault was injected (the seed's schedule deals all five in its first turn).
    assert.deepEqual(Object.keys(report.faults).sort(), ['isolate', 'kill', 'one-way', 'partition', 'pause'])
    assert.equal(typeof report.convergedAfterMs, 'number')
    assert.ok(report.operations.succeeded > 0)
  })

  it('with --conflict lww, concurrent adds overwrite each other: verify finds the lost adds, says why, and exits 1', async () => {
    const run = await runDyn(['verify', '--duration', '12', '--seed', '5', '--faults', 'none', '--conflict', 'lww', '--carts', '2'], {timeoutMs: verifyTimeoutMs})
    assert.equal(run.code, 1, run.stdout + run.stderr)
    assert.match(run.stdout, /lost acknowledged adds: [1-9]\d*/)
    assert.match(run.stdout, /verdict: LOST \d+ acknowledged add\(s\): with --conflict lww, two writes of one cart made concurrently/)
  })

  it('stopped by Ctrl-C, it says so with the code interrupted and exits 2', async () => {
    const child = spawn(process.execPath, [dynBin, 'verify', '--duration', '60', '--faults', 'none', '--json'], {stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    // Interrupted once its clients run (its cluster has started by then).
    await sleep(8000)
    child.kill('SIGINT')
    assert.equal(await exited, 2, stdout)
    const answer = JSON.parse(stdout) as {ok: boolean; error: string; message: string}
    assert.equal(answer.ok, false)
    // It was bad_request, the code of a malformed request, for a run its user stopped.
    assert.equal(answer.error, 'interrupted')
    assert.match(answer.message, /stopped before the end of its run \(Ctrl-C\): nothing was checked/)
  })

  it("on a folder whose membership changed, judges the ring's members where they run, faults only the folder's own nodes, and never starts a node that left", async (t) => {
    // The new user's walk: dyn cluster up made n1..n3; n3 was removed, and n6, started by hand
    // outside the folder, joined. Before the fix verify aimed a third of its clients at the
    // removed n3, counted n3's silence as hints kept, and read no copy on n6 ("not running"):
    // NOT CONVERGED, exit 1, on a cluster that was fine.
    const c = await startCluster(3)
    t.after(() => c.stop())
    await removeFolderNode(c, 2, c.api(0))
    const n6 = (await joinFromOutside(t, c, 'n6')).api
    await settledOn([c.api(0), c.api(1), n6], ['n1', 'n2', 'n6'])
    const removedPid = (await reloadCluster(c.dir)).nodes[2]?.pid

    const run = await runDyn(['verify', '--dir', c.dir, '--faults', 'kill', '--duration', '10', '--fault-seconds', '2,3', '--seed', '3', '--converge-timeout', '60', '--json'], {timeoutMs: verifyTimeoutMs})
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`)
    const report = JSON.parse(run.stdout) as Record<string, any>
    assert.equal(report.ok, true)
    assert.deepEqual(report.members, ['n1', 'n2', 'n6'])
    assert.equal(report.nodes, 3)
    assert.deepEqual(report.left, ['n3'])
    assert.deepEqual(report.faultTargets, ['n1', 'n2'])
    assert.deepEqual(report.notFaulted, [{name: 'n6', why: 'joined from outside this folder'}])
    assert.deepEqual(report.unreadHomes, [], 'every home replica was read, n6 included')
    // Faults only on the folder's own nodes: never on n6, which verify could not restart, nor on n3.
    const faulted = (report.faultLog as Array<{text: string}>).filter((entry) => entry.text.startsWith('kill ')).map((entry) => entry.text.split(' ')[1])
    assert.ok(faulted.length > 0 && faulted.every((name) => name === 'n1' || name === 'n2'), faulted.join())
    // The removed node was not started again: the folder records it as left, not running, with its old pid.
    const after = await reloadCluster(c.dir)
    const n3 = after.nodes[2]
    assert.ok(n3 !== undefined)
    assert.equal(n3.left, true)
    assert.equal(isNodeProcess(n3), false)
    assert.equal(n3.pid, removedPid)

    // With n2 removed too, n1 is the folder's only member: faults are refused before anything
    // runs, with what to do, rather than a run that could fault one node only.
    await removeFolderNode(c, 1, c.api(0))
    await settledOn([c.api(0), n6], ['n1', 'n6'])
    const refused = await runDyn(['verify', '--dir', c.dir, '--faults', 'kill', '--duration', '9', '--json'])
    assert.equal(refused.code, 2, refused.stdout + refused.stderr)
    const answer = JSON.parse(refused.stdout) as {error: string; message: string}
    assert.equal(answer.error, 'bad_parameter')
    assert.match(answer.message, /has only n1 among its members, fewer than the two a nemesis needs \(the others, n6 \(joined from outside this folder\), it loads and reads but leaves alone\): use --faults none/)
    assert.equal(isNodeProcess((await reloadCluster(c.dir)).nodes[1] as NonNullable<typeof n3>), false, 'the removed n2 was not started again')
  })

  it('refuses what it cannot do, before starting anything', async () => {
    const unknown = await runDyn(['verify', '--faults', 'kill,flood', '--json'])
    assert.equal(unknown.code, 2)
    assert.equal(JSON.parse(unknown.stdout).error, 'bad_parameter')
    const seconds = await runDyn(['verify', '--fault-seconds', '5,2'])
    assert.equal(seconds.code, 2)
    assert.match(seconds.stderr, /--fault-seconds "5,2": give MIN,MAX/)
    // Too short for a fault of 3 to 8 s: it would pass without any.
    const short = await runDyn(['verify', '--duration', '5', '--faults', 'kill', '--json'])
    assert.equal(short.code, 2)
    assert.equal(JSON.parse(short.stdout).error, 'bad_parameter')
    assert.match(JSON.parse(short.stdout).message, /Use --duration 9 or more/)
    // Two bad flags: both said in one refusal (the second was said only once the first was fixed).
    const both = await runDyn(['verify', '--faults', 'kill,flood', '--fault-seconds', '5,2'])
    assert.equal(both.code, 2)
    assert.match(both.stderr, /--faults: unknown fault kind "flood".*; --fault-seconds "5,2": give MIN,MAX/)
    // --port is taken as given: one of the ports it asks for, in use, is refused, naming it.
    const {port, rpcPort} = await freeClusterPorts(5)
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(port + 2, '127.0.0.1', resolve))
    try {
      const taken = await runDyn(['verify', '--port', String(port), '--rpc-port', String(rpcPort), '--faults', 'none', '--duration', '5', '--json'])
      assert.equal(taken.code, 2, taken.stdout + taken.stderr)
      assert.equal(JSON.parse(taken.stdout).error, 'bad_parameter')
      assert.match(JSON.parse(taken.stdout).message, new RegExp(`${port + 2}.*in use.*give --port and --rpc-port where 5 consecutive ports of each are free`))
    } finally {
      blocker.close()
    }
  })

  it('judges a folder\'s cluster by its own settings: flags that contradict them are refused, before starting anything', async () => {
    // A folder as a plain `dyn cluster up --nodes 3` leaves it, stopped: no settings recorded, so
    // the default conflict policy, siblings. The refusals come before any node would start.
    const dir = await mkdtemp(path.join(tmpdir(), 'dyn-verify-folder-'))
    try {
      const nodes = ['n1', 'n2', 'n3'].map((name, i) => ({name, port: 27070 + i, rpcPort: 28070 + i, dataDir: path.join(dir, name), logFile: path.join(dir, `${name}.log`)}))
      await writeFile(path.join(dir, 'cluster.json'), JSON.stringify({host: '127.0.0.1', settings: {}, startArgs: [], clusterId: 'c0ffee', nodes}))
      const conflict = await runDyn(['verify', '--dir', dir, '--faults', 'kill', '--duration', '9', '--conflict', 'lww', '--json'])
      assert.equal(conflict.code, 2, conflict.stdout + conflict.stderr)
      const answer = JSON.parse(conflict.stdout) as {error: string; message: string}
      assert.equal(answer.error, 'bad_parameter')
      assert.match(answer.message, /holds a cluster created with --conflict siblings, fixed since \(not --conflict lww\); drop the flag/)
      const count = await runDyn(['verify', '--dir', dir, '--faults', 'kill', '--duration', '9', '--nodes', '5'])
      assert.equal(count.code, 2)
      assert.match(count.stderr, /holds a cluster of 3 nodes \(not --nodes 5\)/)
      // A folder's nodes keep their ports: --port would be ignored, so it is refused.
      const ports = await runDyn(['verify', '--dir', dir, '--faults', 'kill', '--duration', '9', '--port', '47000'])
      assert.equal(ports.code, 2)
      assert.match(ports.stderr, /--port and --rpc-port apply to a cluster dyn verify starts; .* keeps its own ports \(its first node's are 27070 and 28070\)/)
    } finally {
      await removeTestFolder(dir)
    }
  })
})
