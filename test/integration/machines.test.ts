// Nodes that share a machine, with real processes (issue 18 item 3): `dyn start --processes`
// runs one node per core as child processes that the ring counts as one machine, stops them all
// on one signal and refuses a restart that claims another machine; `dyn cluster up
// --processes-per-machine` groups a local cluster's nodes into machines, and every key's home
// replicas are then on distinct machines (paper §4.3).

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {closeSync, existsSync, openSync} from 'node:fs'
import {createServer} from 'node:net'
import {mkdir, mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {dynBin, getJson, isRunning, killNode, putValue, removeTestFolder, runDyn, secretArgs, startCluster, startJsonAnswer, waitFor} from './harness.js'

interface MemberView {
  readonly name: string
  readonly status: string
  readonly machine: string
}

describe('nodes that share a machine', () => {
  it('dyn start --processes 2 runs two nodes as one machine, serves through both, stops both on one SIGTERM, and refuses another machine on restart', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'dyn-processes-'))
    t.after(() => removeTestFolder(dir))
    const {port, rpcPort} = await freeClusterPorts(2)
    const logFile = path.join(dir, 'start.log')
    const out = openSync(logFile, 'a')
    const argsWith = (processes: string): string[] => ['start', '--processes', processes, '--name', 'box', '--port', String(port), '--rpc-port', String(rpcPort), '--data', path.join(dir, 'data'), '--request-timeout', '5000']
    const args = argsWith('2')
    const parent = spawn(process.execPath, [dynBin, ...args], {stdio: ['ignore', out, out]})
    closeSync(out)
    const parentPid = parent.pid
    assert.ok(parentPid !== undefined)
    const exited = new Promise<number | null>((resolve) => parent.once('exit', (code) => resolve(code)))
    t.after(() => killNode(parentPid).catch(() => undefined))

    // Both nodes serve, each as itself, and the ring has both, on one machine named after --name.
    const members = await waitFor(
      'both nodes in the ring',
      async () => {
        const cluster = await getJson(`http://127.0.0.1:${port}/cluster`).catch(() => undefined)
        const rows = (cluster?.body.members ?? []) as MemberView[]
        return rows.length === 2 && rows.every((row) => row.status === 'valid') ? {rows, machineCount: cluster?.body.machineCount} : undefined
      },
      60_000,
      200,
    )
    assert.deepEqual(
      members.rows.map((row) => [row.name, row.machine]),
      [
        ['box-1', 'box'],
        ['box-2', 'box'],
      ],
    )
    assert.equal(members.machineCount, 1)
    const pids: number[] = []
    for (const [index, name] of ['box-1', 'box-2'].entries()) {
      const health = await getJson(`http://127.0.0.1:${port + index}/health`)
      assert.equal(health.body.node, name)
      pids.push(health.body.pid as number)
    }
    assert.notEqual(pids[0], parentPid)

    // A write through one node reads back through the other.
    assert.equal((await putValue(`http://127.0.0.1:${port + 1}/kv/shared-key`, 'on one machine')).status, 204)
    const read = await fetch(`http://127.0.0.1:${port}/kv/shared-key`)
    assert.equal(read.status, 200)
    assert.equal(await read.text(), 'on one machine')

    // One SIGTERM to the foreground process stops every node, which exit cleanly, and so does it.
    process.kill(parentPid, 'SIGTERM')
    assert.equal(await exited, 0, await readFile(logFile, 'utf8'))
    for (const pid of pids) await waitFor(`node ${pid} to end`, async () => (isRunning(pid) ? undefined : true), 10_000, 50)

    // The nodes were first started on machine "box": a start that says otherwise is refused, and
    // nothing of it keeps running.
    const refused = await runDyn([...args, '--machine', 'elsewhere', '--json'])
    assert.equal(refused.code, 2, refused.stdout + refused.stderr)
    // The answer is the last line; the nodes' own log lines (and their failures) come before it.
    const answer = startJsonAnswer(refused.stdout)
    assert.equal(answer.error, 'node_exited')
    assert.match(refused.stdout, /first started on machine \\"box\\"/)
    assert.match(refused.stdout, /cannot be started with --machine elsewhere/)

    // The folder records how many nodes it holds; auto starts as many again, whatever the cores.
    assert.deepEqual(JSON.parse(await readFile(path.join(dir, 'data', 'processes.json'), 'utf8')), {name: 'box', processes: 2})
    const fewer = await runDyn([...argsWith('1'), '--json'])
    assert.equal(fewer.code, 2, fewer.stdout + fewer.stderr)
    assert.match(fewer.stdout, /holds 2 nodes/)

    // A supervisor that is killed outright leaves no node behind: each learns it from its IPC
    // channel and stops, closing its store.
    const again = spawn(process.execPath, [dynBin, ...argsWith('auto')], {stdio: 'ignore'})
    const againPid = again.pid
    assert.ok(againPid !== undefined)
    t.after(() => killNode(againPid).catch(() => undefined))
    const restartedPids = await waitFor(
      'both nodes to serve again',
      async () => {
        const answers = await Promise.all([0, 1].map((index) => getJson(`http://127.0.0.1:${port + index}/health`).catch(() => undefined)))
        return answers.every((answer) => answer?.status === 200) ? answers.map((answer) => answer?.body.pid as number) : undefined
      },
      60_000,
      200,
    )
    process.kill(againPid, 'SIGKILL')
    for (const pid of restartedPids) await waitFor(`node ${pid} to stop without its supervisor`, async () => (isRunning(pid) ? undefined : true), 20_000, 50)
  })

  it('refuses --processes values it cannot run, before starting anything', async () => {
    for (const [value, message] of [
      ['0', /--processes 0: give 1 to 256/],
      ['many', /--processes "many": give how many nodes/],
      ['300', /--processes 300: give 1 to 256/],
    ] as const) {
      const run = await runDyn(['start', '--processes', value, '--name', 'x', '--port', '7070', '--data', '/nonexistent/never-made', '--json'])
      assert.equal(run.code, 2, run.stdout + run.stderr)
      const answer = JSON.parse(run.stdout) as {error: string; message: string}
      assert.equal(answer.error, 'bad_parameter')
      assert.match(answer.message, message)
    }
    const overlapping = await runDyn(['start', '--processes', '3', '--name', 'x', '--port', '7070', '--rpc-port', '7072', '--data', '/nonexistent/never-made', '--json'])
    assert.equal(overlapping.code, 2)
    assert.match((JSON.parse(overlapping.stdout) as {message: string}).message, /overlap; keep them at least 3 apart/)
  })

  it('refuses a port of any of its nodes that is taken, before starting any', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'dyn-processes-ports-'))
    t.after(() => removeTestFolder(dir))
    const {port, rpcPort} = await freeClusterPorts(2)
    // The second node's client port is taken: it once failed after the first had started (and joined).
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(port + 1, '127.0.0.1', resolve))
    t.after(() => blocker.close())
    const run = await runDyn(['start', '--processes', '2', '--name', 'box', '--port', String(port), '--rpc-port', String(rpcPort), '--data', path.join(dir, 'data'), '--json'])
    assert.equal(run.code, 2, run.stdout + run.stderr)
    const answer = JSON.parse(run.stdout) as {error: string; message: string; ports: number[]}
    assert.equal(answer.error, 'bad_parameter')
    assert.match(answer.message, new RegExp(`127\\.0\\.0\\.1:${port + 1} \\(box-2's client port\\) is in use`))
    assert.deepEqual(answer.ports, [port + 1])
    assert.equal(existsSync(path.join(dir, 'data')), false, 'nothing was written')
  })

  it('a child that fails to start is reported with its exit code and its own coded error, in text and JSON', async (t) => {
    const c = await startCluster(1)
    t.after(() => c.stop())
    const dir = await mkdtemp(path.join(tmpdir(), 'dyn-processes-failure-'))
    t.after(() => removeTestFolder(dir))
    const {port, rpcPort} = await freeClusterPorts(2)
    // The second node's data folder cannot be made (a file is in its place): box-1 starts,
    // serves and stages its join through the seed, then box-2 fails with bad_parameter (exit 2).
    await mkdir(path.join(dir, 'data'), {recursive: true})
    await writeFile(path.join(dir, 'data', 'box-2'), 'not a folder')
    const seed = `${c.cluster.host}:${(c.cluster.nodes[0] as {rpcPort: number}).rpcPort}`
    const args = ['start', '--processes', '2', '--name', 'box', '--port', String(port), '--rpc-port', String(rpcPort), '--data', path.join(dir, 'data'), '--seeds', seed, ...secretArgs(c.dir)]
    const json = await runDyn([...args, '--json'])
    assert.equal(json.code, 2, json.stdout + json.stderr)
    const answer = startJsonAnswer<{ok: boolean; error: string; message: string; node: string; exitCode: number; nodeError: string; nodeMessage: string}>(json.stdout)
    assert.equal(answer.error, 'node_exited')
    assert.equal(answer.node, 'box-2')
    assert.equal(answer.exitCode, 2)
    assert.equal(answer.nodeError, 'bad_parameter')
    assert.match(answer.nodeMessage, /cannot make the folder/)
    assert.match(answer.message, /box-2 did not start: it ended \(exit 2\) with error bad_parameter: cannot make the folder/)
    const text = await runDyn(args)
    assert.equal(text.code, 2)
    assert.match(text.stderr, /box-2 did not start: it ended \(exit 2\) with error bad_parameter: .* \[node_exited\]/)
  })

  it('dyn cluster up --processes-per-machine 2 puts every key\'s N homes on N distinct machines', async (t) => {
    const cluster = await startCluster(4, ['--processes-per-machine', '2', '--n', '2'])
    t.after(() => cluster.stop())
    assert.deepEqual(
      cluster.cluster.nodes.map((node) => node.machine),
      ['m1', 'm1', 'm2', 'm2'],
    )
    const view = await getJson(cluster.url(0, '/cluster'))
    assert.equal(view.body.machineCount, 2)
    const machineOf = new Map(((view.body.members ?? []) as MemberView[]).map((row) => [row.name, row.machine]))
    for (let index = 0; index < 40; index++) {
      const preflist = await getJson(cluster.url(index % 4, `/cluster/preflist/key-${index}`))
      const homes = (preflist.body.preflist as Array<{node: string; home: boolean}>).filter((entry) => entry.home).map((entry) => entry.node)
      assert.equal(homes.length, 2)
      assert.notEqual(machineOf.get(homes[0] as string), machineOf.get(homes[1] as string), `key-${index}: homes ${homes.join(', ')} share a machine`)
    }
    // The folder remembers its grouping: a restart with another one is refused, before anything starts.
    const again = await runDyn(['cluster', 'up', '--dir', cluster.dir, '--processes-per-machine', '1', '--json'])
    assert.equal(again.code, 2, again.stdout + again.stderr)
    assert.match((JSON.parse(again.stdout) as {message: string}).message, /of 2 process\(es\) per machine \(not --processes-per-machine 1\)/)
  })
})
