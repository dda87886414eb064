// `dyn cluster up|down|status` with real processes: readiness is checked against the folder's
// own nodes (never another cluster that holds the ports), a node that exits while starting
// fails `up` with the end of its log, `up` brings back a crashed node and leaves the running ones
// alone, `status` says how a node ended and names members the folder did not start, settings are
// checked (and the effective N/R/W shown), and every --json answer is one object with `ok`.

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {lstat, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import type {TestContext} from 'node:test'
import {clusterDown, NodeExitedError, startLocalNode, waitForNodes} from '../../src/cli/local-cluster.js'
import type {LocalCluster} from '../../src/cli/local-cluster.js'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {dynBin, getJson, isRunning, killNode, reloadCluster, removeTestFolder, runDyn, secretArgs, sleep, startCluster, waitFor} from './harness.js'
import type {TestCluster} from './harness.js'
import {joinFromOutside, removeDead, settledOn} from './membership-walk.js'

/** A fresh folder for a cluster this test starts through the CLI; stopped and deleted after it. */
async function clusterFolder(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dyn-local-cluster-'))
  t.after(async () => {
    await clusterDown(dir, 3000, () => undefined).catch(() => undefined)
    await removeTestFolder(dir)
  })
  return dir
}

/** `dyn start` run by hand (not by `cluster up`), killed by its pid after the test. */
async function startHandNode(t: TestContext, args: readonly string[]): Promise<{pid: number; port: number}> {
  const {port, rpcPort} = await freeClusterPorts(1)
  const child = spawn(process.execPath, [dynBin, 'start', '--port', String(port), '--rpc-port', String(rpcPort), ...args], {stdio: 'ignore'})
  const pid = child.pid
  assert.ok(pid !== undefined)
  t.after(() => killNode(pid).catch(() => undefined))
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const health = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined)
    if (health?.ok) return {pid, port}
    await sleep(100)
  }
  throw new Error(`the node started by hand (pid ${pid}) never answered on port ${port}`)
}

/** Every key of every object in a JSON value is camelCase. */
function assertCamelCaseKeys(value: unknown, where = 'the answer'): void {
  if (Array.isArray(value)) value.forEach((item, i) => assertCamelCaseKeys(item, `${where}[${i}]`))
  else if (typeof value === 'object' && value !== null) {
    for (const [key, inner] of Object.entries(value)) {
      assert.match(key, /^[a-z][a-zA-Z0-9]*$/, `${where}.${key} is not camelCase`)
      assertCamelCaseKeys(inner, `${where}.${key}`)
    }
  }
}

/** The one JSON object a --json run prints on stdout (JSON.parse fails on anything else). */
function jsonOf(run: {stdout: string; stderr: string}): Record<string, unknown> {
  const body = JSON.parse(run.stdout) as Record<string, unknown>
  assert.equal(typeof body.ok, 'boolean', run.stdout)
  assertCamelCaseKeys(body)
  return body
}

describe('dyn cluster up|down|status', () => {
  describe('a second cluster on the ports of a running one', () => {
    let a: TestCluster
    before(async () => {
      a = await startCluster(2)
    })
    after(async () => {
      await a.stop()
    })

    it('is refused by cluster up before anything starts, and the running cluster is untouched', async (t) => {
      const [a1] = a.cluster.nodes
      assert.ok(a1 !== undefined)
      const dirB = await clusterFolder(t)
      const up = await runDyn(['cluster', 'up', '--nodes', '2', '--dir', dirB, '--port', String(a1.port), '--rpc-port', String(a1.rpcPort), '--json'])
      assert.equal(up.code, 2, up.stdout + up.stderr)
      const refused = jsonOf(up)
      assert.equal(refused.ok, false)
      assert.equal(refused.error, 'bad_parameter')
      assert.ok((refused.ports as number[]).includes(a1.port))
      assert.equal(existsSync(path.join(dirB, 'cluster.json')), false)
      assert.equal((await getJson(a.url(0, '/health'))).body.pid, a1.pid)
    })

    it('a node\'s data folder given as --dir is refused by up and status, and left as it was', async () => {
      const [a1] = a.cluster.nodes
      assert.ok(a1 !== undefined)
      // Followed, status's old advice (start one with cluster up there) made a cluster inside the
      // node's database, which a later down --purge would have deleted with it.
      const status = await runDyn(['cluster', 'status', '--dir', a1.dataDir, '--json'])
      assert.equal(status.code, 2, status.stdout + status.stderr)
      assert.match(String(jsonOf(status).message), /is a node's data folder \(a LevelDB database, --data of dyn start\), not a cluster folder/)
      const up = await runDyn(['cluster', 'up', '--nodes', '1', '--dir', a1.dataDir, '--json'])
      assert.equal(up.code, 2, up.stdout + up.stderr)
      assert.match(String(jsonOf(up).message), /is a node's data folder .*give dyn cluster up a folder of its own/)
      assert.equal(existsSync(path.join(a1.dataDir, 'cluster.json')), false)
      assert.equal((await getJson(a.url(0, '/health'))).body.pid, a1.pid)
    })

    it('is never taken for ready by the readiness check itself, which names the node that exited and ends with its log', async (t) => {
      // Without the port check in front of it: B's node, started on A's ports, dies with
      // EADDRINUSE while A answers /health on them; that answer is no readiness of B.
      const [a1] = a.cluster.nodes
      assert.ok(a1 !== undefined)
      const dirB = await clusterFolder(t)
      const b: LocalCluster = {host: a.cluster.host, nodes: [{name: 'n1', port: a1.port, rpcPort: a1.rpcPort, dataDir: path.join(dirB, 'n1'), logFile: path.join(dirB, 'n1.log'), pid: undefined}]}
      const [b1] = b.nodes
      assert.ok(b1 !== undefined)
      startLocalNode(b, b1, [])
      t.after(() => killNode(b1.pid).catch(() => undefined))
      await assert.rejects(waitForNodes(b, b.nodes, undefined, 30_000), (error: NodeExitedError) => {
        assert.ok(error instanceof NodeExitedError, String(error))
        assert.equal(error.code, 'node_exited')
        assert.equal(error.details.node, 'n1')
        assert.equal(error.details.exitCode, 2)
        assert.match((error.details.logTail as string[]).join('\n'), /EADDRINUSE/)
        return true
      })
    })
  })

  it('one up at a time in a folder; Ctrl-C stops the nodes an up started (exit 130); an up that waits for a paused node says so', async (t) => {
    const dir = await clusterFolder(t)
    const {port, rpcPort} = await freeClusterPorts(3)
    const args = ['cluster', 'up', '--nodes', '3', '--dir', dir, '--port', String(port), '--rpc-port', String(rpcPort)]
    const first = spawn(process.execPath, [dynBin, ...args, '--timeout', '120000'], {stdio: ['ignore', 'ignore', 'pipe']})
    t.after(() => {
      if (first.exitCode === null && first.signalCode === null) first.kill('SIGKILL')
    })
    let stderr = ''
    first.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const exited = new Promise<number | null>((resolve) => first.on('exit', (code) => resolve(code)))
    // Its first node paused once started, the up waits (for it, or for the others to join through it).
    const n1 = await waitFor('the first up to start n1', async () => {
      const match = /started n1 \(pid (\d+)\)/.exec(stderr)
      return match === null ? undefined : Number(match[1])
    })
    process.kill(n1, 'SIGSTOP')
    t.after(() => {
      if (isRunning(n1)) process.kill(n1, 'SIGCONT')
    })
    // Two ups at once in one folder started the same nodes twice (a new user's walk): refused while the first runs.
    const second = await runDyn([...args, '--json'])
    assert.equal(second.code, 3, second.stdout + second.stderr)
    const busy = jsonOf(second)
    assert.equal(busy.error, 'folder_busy')
    assert.match(String(busy.message), new RegExp(`in use by another dyn cluster up \\(pid ${first.pid}\\)`))
    // A down meanwhile would miss the nodes the up starts next: refused too.
    const down = await runDyn(['cluster', 'down', '--dir', dir, '--json'])
    assert.equal(down.code, 3, down.stdout + down.stderr)
    assert.equal(jsonOf(down).error, 'folder_busy')
    first.kill('SIGINT')
    assert.equal(await exited, 130, stderr)
    assert.match(stderr, /dyn cluster up was interrupted: the nodes it had started were stopped again/)
    const started = [...stderr.matchAll(/started (n\d) \(pid (\d+)\)/g)].map((match) => Number(match[2]))
    assert.ok(started.includes(n1))
    for (const pid of started) await waitFor(`pid ${pid} to be stopped`, async () => (isRunning(pid) ? undefined : true), 10_000)
    assert.deepEqual((await readdir(dir)).filter((entry) => entry.startsWith('.dyn-up.lock')), [], 'the lock is given back')

    // The folder is free again: up starts the cluster. With n3 paused, another up waits for it and,
    // out of time, names it paused with its remedy, as status does.
    const up = await runDyn(args)
    assert.equal(up.code, 0, up.stderr)
    const n3 = Number(/started n3 \(pid (\d+)\)/.exec(up.stderr)?.[1])
    process.kill(n3, 'SIGSTOP')
    try {
      const waiting = await runDyn(['cluster', 'up', '--dir', dir, '--timeout', '3000', '--json'])
      assert.equal(waiting.code, 3, waiting.stdout + waiting.stderr)
      const timedOut = jsonOf(waiting)
      assert.equal(timedOut.error, 'timeout')
      assert.match(String(timedOut.message), new RegExp(`n3 \\(pid ${n3}\\) is paused, stopped by a signal such as SIGSTOP or Ctrl-Z: resume it with kill -CONT ${n3}`))
    } finally {
      process.kill(n3, 'SIGCONT')
    }
  })

  it('a node that exits while starting fails cluster up with node_exited and the end of its log', async (t) => {
    const dir = await clusterFolder(t)
    // Another node holds the data folder n1 would use, so n1 exits at once (code 2).
    const squatter = await startHandNode(t, ['--name', 'squatter', '--data', path.join(dir, 'n1')])
    const {port, rpcPort} = await freeClusterPorts(1)
    const up = await runDyn(['cluster', 'up', '--nodes', '1', '--dir', dir, '--port', String(port), '--rpc-port', String(rpcPort), '--json'])
    assert.equal(up.code, 2, up.stdout + up.stderr)
    const failed = jsonOf(up)
    assert.equal(failed.error, 'node_exited')
    assert.equal(failed.node, 'n1')
    assert.equal(failed.exitCode, 2)
    assert.match((failed.logTail as string[]).join('\n'), /in use by another running node/)
    assert.match(String(failed.message), /^n1 exited while starting \(pid \d+ exited with code 2\) with error bad_parameter: the data folder .* is in use by another running node; stop it or choose another --data; its log/)
    // The node's own code, where a script finds it: node_exited stays the error.
    assert.deepEqual({nodeError: failed.nodeError, nodeMessage: failed.nodeMessage}, {nodeError: 'bad_parameter', nodeMessage: `the data folder ${path.join(dir, 'n1')} is in use by another running node; stop it or choose another --data`})

    const status = await runDyn(['cluster', 'status', '--dir', dir, '--json'])
    assert.equal(status.code, 3, status.stdout)
    const [n1] = jsonOf(status).nodes as Array<Record<string, unknown>>
    assert.equal(n1?.state, 'exited')
    assert.equal(n1?.pid, failed.pid)
    assert.deepEqual((n1?.ended as {exitCode: number}).exitCode, 2)
    // Status names the node's own error too, as up does.
    assert.equal(n1?.nodeError, 'bad_parameter')
    const text = await runDyn(['cluster', 'status', '--dir', dir])
    assert.match(text.stdout, new RegExp(`n1 .*not running \\(pid ${String(failed.pid)} exited with code 2 with error bad_parameter: the data folder .* is in use by another running node; stop it or choose another --data\\)`))

    // A cluster that never got ready does not tie the next `up` to its flags: with the
    // squatter and its data gone, other ports will do.
    await killNode(squatter.pid)
    await rm(path.join(dir, 'n1'), {recursive: true, force: true})
    const other = await freeClusterPorts(1)
    const retry = await runDyn(['cluster', 'up', '--dir', dir, '--port', String(other.port), '--rpc-port', String(other.rpcPort), '--json'])
    assert.equal(retry.code, 0, retry.stdout + retry.stderr)
    assert.deepEqual(jsonOf(retry).started, ['n1'])
    assert.equal((await reloadCluster(dir)).nodes[0]?.port, other.port)
  })

  it('cluster up brings a crashed node back on its data and leaves the running ones alone; status says how it ended and names members joined by hand', async (t) => {
    const c = await startCluster(2)
    t.after(() => c.stop())
    const [n1, n2] = c.cluster.nodes
    assert.ok(n1 !== undefined && n2 !== undefined)
    const actor = (await getJson(c.url(1, '/health'))).body.actor
    await killNode(n2.pid)

    const down = await runDyn(['cluster', 'status', '--dir', c.dir, '--json'])
    assert.equal(down.code, 3, down.stdout)
    const dead = (jsonOf(down).nodes as Array<Record<string, unknown>>)[1]
    assert.equal(dead?.state, 'exited')
    assert.equal(dead?.running, false)
    assert.equal(dead?.pid, n2.pid)
    assert.deepEqual(dead?.ended && {signal: (dead.ended as {signal: string}).signal}, {signal: 'SIGKILL'})
    assert.match((await runDyn(['cluster', 'status', '--dir', c.dir])).stdout, new RegExp(`n2 .*not running \\(pid ${n2.pid} killed by SIGKILL\\)`))
    // Its log ends with a line of its own form that says so, not the shell's bare "Killed".
    const log = (await readFile(n2.logFile, 'utf8')).trimEnd().split('\n')
    assert.match(log.at(-1) ?? '', new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ n2 ended by signal SIGKILL \\(pid ${n2.pid}, exit status 137\\)$`), log.slice(-3).join('\n'))
    assert.ok(!log.includes('Killed'), log.slice(-3).join('\n'))

    const up = await runDyn(['cluster', 'up', '--dir', c.dir, '--json'])
    assert.equal(up.code, 0, up.stdout + up.stderr)
    const result = jsonOf(up)
    assert.deepEqual(result.started, ['n2'])
    assert.deepEqual(result.alreadyRunning, ['n1'])
    const after = await reloadCluster(c.dir)
    assert.equal(after.nodes[0]?.pid, n1.pid, 'the running node was left alone')
    assert.notEqual(after.nodes[1]?.pid, n2.pid)
    // Its own data folder: its second incarnation, not a new store (which would say so).
    const identities = (await readFile(n2.logFile, 'utf8')).split('\n').filter((line) => line.includes('identity n2.'))
    assert.match(identities.at(-1) ?? '', /\(incarnation 2\)/)
    assert.notEqual((await getJson(c.url(1, '/health'))).body.actor, actor, 'every start takes a new epoch')
    assert.match((await runDyn(['cluster', 'up', '--dir', c.dir])).stdout, /^2 of this folder's nodes running and ready in .* \(all were running already; started none\); the cluster has 2 members;/)

    // A node joined by hand is a member the folder does not know: status names it.
    await startHandNode(t, ['--name', 'extra', '--data', path.join(c.dir, 'extra'), '--seeds', `${c.cluster.host}:${n1.rpcPort}`, ...secretArgs(c.dir)])
    // Until every node has heard of the join, status says the nodes do not agree yet (they count
    // different members): wait for a status that agrees and lists the joiner.
    const agreed = await waitFor('a status that agrees and lists extra', async () => {
      const run = await runDyn(['cluster', 'status', '--dir', c.dir, '--json'])
      const listed = jsonOf(run).otherMembers as Array<{name: string; up: boolean}> | undefined
      return run.code === 0 && listed !== undefined && listed.length > 0 ? listed : undefined
    })
    assert.deepEqual(agreed.map((m) => m.name), ['extra'])
    const text = await runDyn(['cluster', 'status', '--dir', c.dir])
    assert.equal(text.code, 0, text.stdout)
    assert.match(text.stdout, /extra .*not started from this folder/)
    assert.match(text.stdout, /all nodes of the folder serve and agree on the ring; 1 other member\(s\) not started from this folder: extra/)
  })

  it('a stopped cluster whose first node lost its data comes back: the nodes with data start first and the wiped one joins through them; down stops a paused node cleanly', async (t) => {
    const c = await startCluster(3)
    t.after(() => c.stop())
    const keys = Array.from({length: 12}, (_, i) => `wiped-${i}`)
    for (const key of keys) assert.equal((await fetch(c.url(0, `/kv/${key}?w=3`), {method: 'PUT', body: `value of ${key}`})).status, 204, key)
    // A paused node (Ctrl-Z, SIGSTOP) is continued by down and stops by itself, not killed.
    process.kill((await reloadCluster(c.dir)).nodes[2]?.pid as number, 'SIGSTOP')
    const down = await runDyn(['cluster', 'down', '--dir', c.dir, '--json'])
    assert.equal(down.code, 0, down.stdout + down.stderr)
    assert.deepEqual(jsonOf(down).killed, [])
    // n1, the node up would start first and alone, loses its data folder (a replaced disk).
    await rm(c.cluster.nodes[0]?.dataDir as string, {recursive: true, force: true})
    const up = await runDyn(['cluster', 'up', '--dir', c.dir, '--json'])
    assert.equal(up.code, 0, up.stdout + up.stderr)
    assert.deepEqual(jsonOf(up).started, ['n2', 'n3', 'n1'])
    // One cluster, and every key still there, through the wiped node too.
    const health = await Promise.all([0, 1, 2].map(async (index) => (await getJson(c.url(index, '/health'))).body))
    assert.equal(new Set(health.map((view) => view.clusterId)).size, 1)
    for (const key of keys) {
      const read = await fetch(c.url(0, `/kv/${key}`))
      assert.equal(read.status, 200, key)
      assert.equal(await read.text(), `value of ${key}`)
    }
  })

  it('cluster status: a member from outside the folder that left is no "other member", and every status that is not ok carries an error code and a message, with --dir and with --node', async (t) => {
    const c = await startCluster(3)
    t.after(() => c.stop())
    // n4, started by hand outside the folder, joins, and is then removed for good.
    const n4 = await joinFromOutside(t, c, 'n4')
    await settledOn([c.api(0), c.api(1), c.api(2), n4.api], ['n1', 'n2', 'n3', 'n4'])
    await removeDead('n4', n4.pid, c.api(0))
    await settledOn([c.api(0), c.api(1), c.api(2)], ['n1', 'n2', 'n3'])
    const text = await runDyn(['cluster', 'status', '--dir', c.dir])
    assert.equal(text.code, 0, text.stdout + text.stderr)
    assert.match(text.stdout, /n4 .*not started from this folder \(left the cluster\)/)
    // It said "1 other member(s) not started from this folder: n4" of a node that had left.
    assert.doesNotMatch(text.stdout, /other member\(s\)/)
    assert.match(text.stdout, /all nodes of the folder serve and agree on the ring; n4, not of this folder, has left the cluster\n/)

    // A node of the folder killed: exit 3, and the JSON names the problem as every failure does.
    const n2 = c.cluster.nodes[1]
    assert.ok(n2?.pid !== undefined)
    await killNode(n2.pid)
    const local = await runDyn(['cluster', 'status', '--dir', c.dir, '--json'])
    assert.equal(local.code, 3, local.stdout + local.stderr)
    const answer = jsonOf(local)
    assert.equal(answer.ok, false)
    // It had ok false, and neither error nor message.
    assert.equal(answer.error, 'nodes_not_serving')
    assert.match(String(answer.message), new RegExp(`^the cluster is not fully up: n2 does not serve \\(not running \\(pid ${n2.pid} killed by SIGKILL\\)\\); start n2 again with: dyn cluster up --dir `))
    assert.equal((answer.nodes as unknown[]).length, 3, 'the status fields stay beside the error')
    const remote = await waitFor('n1 to see n2 down', async () => {
      const run = await runDyn(['cluster', 'status', '--node', c.api(0), '--json'])
      const body = run.code === 3 ? jsonOf(run) : undefined
      return body !== undefined && (body.seenDown as string[]).includes('n2') ? body : undefined
    })
    assert.equal(remote.ok, false)
    assert.equal(remote.error, 'nodes_not_serving')
    assert.match(String(remote.message), /: the cluster is not fully up: n2 does not answer; seen down by some node: n2\. To bring it up: start a member that does not answer again on its machine/)
  })

  it('cluster status --node gathers every member\'s view through one node: a paused member does not answer and is seen down (exit 3), and all is well once it runs again', async (t) => {
    const c = await startCluster(3)
    const [, , n3] = c.cluster.nodes
    assert.ok(n3 !== undefined && n3.pid !== undefined)
    const paused = n3.pid
    // A paused node must run again before the cluster stops, or it cannot handle its SIGTERM.
    t.after(async () => {
      process.kill(paused, 'SIGCONT')
      await c.stop()
    })
    const through = `${c.cluster.host}:${c.cluster.nodes[1]?.port}`
    const healthy = await waitFor('a status with every member up', async () => {
      const run = await runDyn(['cluster', 'status', '--node', through, '--json'])
      return run.code === 0 ? jsonOf(run) : undefined
    })
    assert.equal(healthy.askedThrough, 'n2')
    assert.deepEqual((healthy.nodes as Array<{name: string; state: string; ringHash: string}>).map((node) => [node.name, node.state]), [['n1', 'serving'], ['n2', 'serving'], ['n3', 'serving']])
    assert.equal((healthy.effective as {n: number}).n, 3)
    const text = await waitFor('the same status as text', async () => {
      const run = await runDyn(['cluster', 'status', '--node', through])
      return run.code === 0 ? run : undefined
    })
    assert.match(text.stdout, /asked through n2 \(127\.0\.0\.1:\d+\): every member serves, all agree on the ring, and every node reaches every other/)
    // Neither --dir nor --node, where the default folder holds no cluster: DYN_NODE is asked, as
    // by every command (and as --node's help says); without it, the refusal names both flags.
    const byEnvironment = await runDyn(['cluster', 'status', '--json'], {cwd: c.dir, env: {DYN_NODE: through}})
    assert.equal(byEnvironment.code, 0, byEnvironment.stdout + byEnvironment.stderr)
    assert.equal(jsonOf(byEnvironment).askedThrough, 'n2')
    const neither = await runDyn(['cluster', 'status', '--json'], {cwd: c.dir, env: {DYN_NODE: ''}})
    assert.equal(neither.code, 2, neither.stdout + neither.stderr)
    assert.match(String(jsonOf(neither).message), /^no cluster in \.dyn\/cluster \(no cluster\.json\), the folder dyn cluster up uses when not given --dir: give --dir .*, or ask a running node of any cluster with --node HOST:PORT \(or DYN_NODE\)$/)

    process.kill(paused, 'SIGSTOP')
    // Each node's detector judges for itself: one may still say suspect when the other says down.
    type Views = Array<{name: string; peers: Array<{name: string; reachability: string}>}>
    const seesN3Down = (views: Views): boolean => views.every((view) => view.peers.find((peer) => peer.name === 'n3')?.reachability === 'down')
    const degraded = await waitFor('a status in which n1 and n2 both see n3 down', async () => {
      const run = await runDyn(['cluster', 'status', '--node', through, '--json'])
      const body = run.code === 3 ? jsonOf(run) : undefined
      return body !== undefined && seesN3Down(body.transfers as Views) ? {run, body} : undefined
    })
    assert.equal(degraded.body.ok, false)
    assert.equal(degraded.body.error, 'nodes_not_serving')
    assert.match(String(degraded.body.message), /the cluster is not fully up: n3 does not answer; seen down by some node: n3\. To bring it up: /)
    assert.deepEqual(degraded.body.seenDown, ['n3'])
    assert.equal((degraded.body.nodes as Array<{state: string}>)[2]?.state, 'not_answering')
    const views = degraded.body.transfers as Views
    assert.deepEqual(views.map((view) => view.name), ['n1', 'n2'], 'the paused node gives no view of its own')
    const degradedText = await runDyn(['cluster', 'status', '--node', through])
    assert.equal(degradedText.code, 3)
    assert.match(degradedText.stdout, /n3 .*does not answer n2 on its internode port/)
    assert.match(degradedText.stdout, /n1 sees: n3 down/)
    assert.match(degradedText.stdout, /the cluster is not fully up: n3 does not answer; seen down by some node: n3/)

    process.kill(paused, 'SIGCONT')
    await waitFor('a status with every member up again', async () => ((await runDyn(['cluster', 'status', '--node', through])).code === 0 ? true : undefined))

    // Wrong use: both a folder and a node, a node that is not there.
    const both = await runDyn(['cluster', 'status', '--node', through, '--dir', c.dir])
    assert.equal(both.code, 2, both.stderr)
    const {port: nobody} = await freeClusterPorts(1)
    const absent = await runDyn(['cluster', 'status', '--node', `127.0.0.1:${nobody}`, '--json'])
    assert.equal(absent.code, 3)
    assert.equal(jsonOf(absent).error, 'unreachable')
    const badTimeout = await getJson(c.url(1, '/cluster/status?timeout=99999999'))
    assert.equal(badTimeout.status, 400)
    assert.equal(badTimeout.body.error, 'bad_parameter')
  })

  it('a node that left the cluster is not started again by up, before or after down, and status shows it as left', async (t) => {
    const c = await startCluster(3)
    t.after(() => c.stop())
    const n3 = c.cluster.nodes[2]
    assert.ok(n3 !== undefined)
    const leave = await runDyn(['cluster', 'leave', '--name', 'n3', '--node', c.api(0), '--json'])
    assert.equal(leave.code, 0, leave.stdout + leave.stderr)
    const commit = await runDyn(['cluster', 'commit', '--node', c.api(0), '--json'])
    assert.equal(commit.code, 0, commit.stdout + commit.stderr)
    await waitFor('n3 to exit once it has left', async () => (isRunning(n3.pid as number) ? undefined : true))

    const up = await runDyn(['cluster', 'up', '--dir', c.dir, '--json'])
    assert.equal(up.code, 0, up.stdout + up.stderr)
    assert.deepEqual(jsonOf(up).started, [])
    assert.deepEqual(jsonOf(up).left, ['n3'])
    const status = await runDyn(['cluster', 'status', '--dir', c.dir, '--json'])
    assert.equal(status.code, 0, status.stdout)
    assert.equal((jsonOf(status).nodes as Array<{state: string}>)[2]?.state, 'left')
    // dyn ring lists the current members alone, as status counts them, and names the one that left.
    const ring = await runDyn(['ring', '--node', c.api(0)])
    assert.equal(ring.code, 0, ring.stdout + ring.stderr)
    assert.doesNotMatch(ring.stdout, /^ {2}n3 /m)
    assert.match(ring.stdout, /^left the cluster \(or removed\), not listed: n3$/m)
    assert.doesNotMatch(ring.stdout, /with 3 members/)

    // Stopped and started again: no node is left to say that n3 left but the folder's record.
    assert.equal((await runDyn(['cluster', 'down', '--dir', c.dir])).code, 0)
    const again = await runDyn(['cluster', 'up', '--dir', c.dir, '--json'])
    assert.equal(again.code, 0, again.stdout + again.stderr)
    assert.deepEqual(jsonOf(again).started, ['n1', 'n2'])
    assert.deepEqual(jsonOf(again).left, ['n3'])
    const text = await runDyn(['cluster', 'status', '--dir', c.dir])
    assert.equal(text.code, 0, text.stdout)
    assert.match(text.stdout, /n3 .*left the cluster/)

    // README's way back: n3's data folder moved aside, and n3 started by hand under its name,
    // joining through n1. It is a member again (a newer incarnation than the row that said it
    // left): up says it runs outside the folder and how to hand it over, rather than fail on its
    // ports; stopped, up starts it on its data folder here with the others.
    const n1 = c.cluster.nodes[0]
    assert.ok(n1 !== undefined)
    await rename(n3.dataDir, `${n3.dataDir}.old`)
    const hand = spawn(process.execPath, [dynBin, 'start', '--name', 'n3', '--host', c.cluster.host, '--port', String(n3.port), '--rpc-port', String(n3.rpcPort), '--data', n3.dataDir, '--seeds', `${c.cluster.host}:${n1.rpcPort}`, ...secretArgs(c.dir)], {stdio: 'ignore'})
    t.after(() => killNode(hand.pid).catch(() => undefined))
    await waitFor('n3 to be a member again', async () => {
      const health = await getJson(`http://${c.cluster.host}:${n3.port}/health`).catch(() => undefined)
      return health?.body.status === 'valid' ? true : undefined
    })
    const elsewhere = await runDyn(['cluster', 'up', '--dir', c.dir, '--json'])
    assert.equal(elsewhere.code, 2, elsewhere.stdout + elsewhere.stderr)
    assert.equal(jsonOf(elsewhere).error, 'bad_parameter')
    assert.match(String(jsonOf(elsewhere).message), new RegExp(`^n3 \\(pid ${hand.pid}, .*\\) runs, started outside this folder's dyn cluster up \\(by hand\\), so up cannot start it here: stop it \\(kill PID\\), then run dyn cluster up again`))
    // Status shows it serving, with its own pid, and says down does not stop it (it showed n3 as
    // left, the folder's stale mark, while n3 served).
    // Every node agrees on the ring once gossip has spread n3's return: waited for, not assumed.
    const served = await waitFor('status to see every node serving one ring', async () => {
      const answer = await runDyn(['cluster', 'status', '--dir', c.dir, '--json'])
      return answer.code === 0 ? answer : undefined
    })
    const n3Status = (jsonOf(served).nodes as Array<{name: string; state: string; serving: boolean; pid: number; startedElsewhere?: boolean}>).find((node) => node.name === 'n3')
    assert.deepEqual({state: n3Status?.state, serving: n3Status?.serving, pid: n3Status?.pid, startedElsewhere: n3Status?.startedElsewhere}, {state: 'serving', serving: true, pid: hand.pid, startedElsewhere: true})
    assert.deepEqual(jsonOf(served).left, [])
    const servedText = await runDyn(['cluster', 'status', '--dir', c.dir])
    assert.match(servedText.stdout, new RegExp(`^n3 .*pid ${hand.pid} .*serving, 3 members, .*; started outside this folder \\(by hand\\): dyn cluster down does not stop it$`, 'm'))
    // --purge would delete n3's data folder under it: refused, and nothing stopped.
    const purge = await runDyn(['cluster', 'down', '--dir', c.dir, '--purge', '--json'])
    assert.equal(purge.code, 2, purge.stdout + purge.stderr)
    assert.equal(jsonOf(purge).error, 'bad_parameter')
    assert.deepEqual(jsonOf(purge).nodes, ['n3'])
    assert.match(String(jsonOf(purge).message), new RegExp(`^n3 \\(pid ${hand.pid}, .*\\): a node of this folder runs outside its dyn cluster up \\(by hand\\), perhaps on its data folder here, which --purge would delete under it: stop it, then run dyn cluster down --dir \\S+ --purge again\\. Nothing was stopped or deleted$`))
    const n1Pid = (jsonOf(served).nodes as Array<{name: string; pid: number}>).find((node) => node.name === 'n1')?.pid
    assert.ok(n1Pid !== undefined && isRunning(n1Pid), 'the refused purge stopped nothing')
    assert.ok(existsSync(n3.dataDir), 'nor deleted anything')
    // Started by hand again on other ports, on its data folder here: status finds it where the
    // members list it (a new user's walk saw such a node shown stopped while it served).
    await killNode(hand.pid)
    const moved = await freeClusterPorts(1)
    const hand2 = spawn(process.execPath, [dynBin, 'start', '--name', 'n3', '--host', c.cluster.host, '--port', String(moved.port), '--rpc-port', String(moved.rpcPort), '--data', n3.dataDir, '--seeds', `${c.cluster.host}:${n1.rpcPort}`, ...secretArgs(c.dir)], {stdio: 'ignore'})
    t.after(() => killNode(hand2.pid).catch(() => undefined))
    const movedStatus = await waitFor('status to find n3 on its new ports', async () => {
      const answer = await runDyn(['cluster', 'status', '--dir', c.dir, '--json'])
      const n3Now = (jsonOf(answer).nodes as Array<{name: string; serving: boolean; address: string; pid: number; startedElsewhere?: boolean}>).find((node) => node.name === 'n3')
      return answer.code === 0 && n3Now?.address === `${c.cluster.host}:${moved.port}` ? n3Now : undefined
    })
    assert.deepEqual({serving: movedStatus.serving, pid: movedStatus.pid, startedElsewhere: movedStatus.startedElsewhere}, {serving: true, pid: hand2.pid, startedElsewhere: true})
    // A plain down stops the folder's nodes and names the one it leaves running.
    const down = await runDyn(['cluster', 'down', '--dir', c.dir, '--json'])
    assert.equal(down.code, 0, down.stdout + down.stderr)
    assert.deepEqual(jsonOf(down).stopped, ['n1', 'n2'])
    assert.deepEqual(jsonOf(down).startedElsewhere, [{name: 'n3', pid: hand2.pid}])
    assert.deepEqual(jsonOf(down).notRunning, [], 'n3 still runs: it is not among those not running')
    assert.ok(isRunning(hand2.pid as number), 'down does not signal a process it did not start')
    await killNode(hand2.pid)
    // A process that holds a node's data folder open without answering on its port (a node
    // started by hand on other ports, or still starting): --purge finds it by the database's lock.
    const n1Data = c.cluster.nodes[0]?.dataDir as string
    const locker = spawn(process.execPath, ['--input-type=module', '-e', `import {ClassicLevel} from ${JSON.stringify(import.meta.resolve('classic-level'))}; await new ClassicLevel(process.argv[1]).open({createIfMissing: false}); console.log('open'); setInterval(() => {}, 1000)`, n1Data], {stdio: ['ignore', 'pipe', 'inherit']})
    t.after(() => killNode(locker.pid).catch(() => undefined))
    await new Promise<void>((resolve, reject) => {
      locker.stdout.once('data', () => resolve())
      locker.once('exit', (code) => reject(new Error(`the process holding n1's data folder exited (${String(code)})`)))
    })
    const lockedPurge = await runDyn(['cluster', 'down', '--dir', c.dir, '--purge', '--json'])
    assert.equal(lockedPurge.code, 2, lockedPurge.stdout + lockedPurge.stderr)
    assert.deepEqual(jsonOf(lockedPurge).nodes, ['n1'])
    assert.match(String(jsonOf(lockedPurge).message), /^the data folder of n1 \(.*, held open by a process this folder did not start\): a node of this folder runs outside its dyn cluster up \(by hand\), .*Nothing was stopped or deleted$/)
    assert.ok(existsSync(n1Data), 'the refused purge deleted nothing')
    await killNode(locker.pid)
    const back = await runDyn(['cluster', 'up', '--dir', c.dir, '--json'])
    assert.equal(back.code, 0, back.stdout + back.stderr)
    assert.deepEqual(jsonOf(back).started, ['n1', 'n2', 'n3'])
    assert.deepEqual(jsonOf(back).left, [])

    // A folder stopped while it still held a node marked that is back since (as after a reboot,
    // with no member running to ask): the first node started says so, and up starts that node
    // too, even one that comes before it in the folder (n1 here, marked left at incarnation 0,
    // below any incarnation a started node has).
    await runDyn(['cluster', 'down', '--dir', c.dir])
    const folder = JSON.parse(await readFile(path.join(c.dir, 'cluster.json'), 'utf8')) as {nodes: Array<{name: string; left?: boolean; leftIncarnation?: number}>}
    const record = folder.nodes.find((node) => node.name === 'n1')
    assert.ok(record !== undefined)
    record.left = true
    record.leftIncarnation = 0
    await writeFile(path.join(c.dir, 'cluster.json'), `${JSON.stringify(folder, null, 2)}\n`)
    const rebooted = await runDyn(['cluster', 'up', '--dir', c.dir, '--json'])
    assert.equal(rebooted.code, 0, rebooted.stdout + rebooted.stderr)
    assert.deepEqual(jsonOf(rebooted).started, ['n2', 'n3', 'n1'])
    assert.deepEqual(jsonOf(rebooted).left, [])
  })

  it('settings: --n above --nodes is refused, R + W <= N and a capped N warn, status shows the effective N/R/W; up, status and down answer one JSON object', async (t) => {
    const refusedDir = await clusterFolder(t)
    const free = await freeClusterPorts(3)
    const tooMany = await runDyn(['cluster', 'up', '--nodes', '3', '--n', '5', '--dir', refusedDir, '--port', String(free.port), '--rpc-port', String(free.rpcPort), '--json'])
    assert.equal(tooMany.code, 2, tooMany.stdout + tooMany.stderr)
    const refused = jsonOf(tooMany)
    assert.equal(refused.error, 'bad_parameter')
    assert.match(String(refused.message), /--n 5 is larger than --nodes 3/)
    assert.equal(existsSync(path.join(refusedDir, 'cluster.json')), false)

    const dir = await clusterFolder(t)
    const {port, rpcPort} = await freeClusterPorts(1)
    const up = await runDyn(['cluster', 'up', '--nodes', '1', '--r', '1', '--w', '1', '--dir', dir, '--port', String(port), '--rpc-port', String(rpcPort), '--json'])
    assert.equal(up.code, 0, up.stdout + up.stderr)
    assert.match(up.stderr, /^dyn: warning: r=1 \+ w=1 <= n=3/m)
    assert.match(up.stderr, /^dyn: warning: N=3 but only 1 node owns partitions: each key gets 1 replica /m)
    const started = jsonOf(up)
    assert.equal(started.ok, true)
    assert.deepEqual(started.effective, {n: 1, r: 1, w: 1})
    assert.deepEqual({...(started.settings as object), clusterId: undefined}, {n: 3, r: 1, w: 1, partitions: 64, conflict: 'siblings', clusterId: undefined})
    assert.equal((started.settings as {clusterId: string}).clusterId, started.clusterId)

    const status = await runDyn(['cluster', 'status', '--dir', dir, '--json'])
    assert.equal(status.code, 0, status.stdout)
    const body = jsonOf(status)
    assert.equal(body.ok, true)
    assert.deepEqual(body.effective, {n: 1, r: 1, w: 1})
    assert.match((await runDyn(['cluster', 'status', '--dir', dir])).stdout, /settings N=3 R=1 W=1, effective N=1 R=1 W=1 \(capped: 1 member owns partitions\)/)

    const stopped = await runDyn(['cluster', 'down', '--dir', dir, '--json'])
    assert.equal(stopped.code, 0, stopped.stderr)
    assert.deepEqual(jsonOf(stopped), {ok: true, dir, stopped: ['n1'], killed: [], notRunning: [], startedElsewhere: [], purged: false})
    for (const command of ['status', 'down']) {
      const missing = await runDyn(['cluster', command, '--dir', path.join(dir, 'no-such-cluster'), '--json'])
      assert.equal(missing.code, 2, command)
      const error = jsonOf(missing)
      assert.equal(error.ok, false)
      assert.equal(error.error, 'bad_parameter')
      assert.equal(typeof error.message, 'string')
    }
  })

  it('down returns only once every node\'s wrapper has recorded its exit, so --purge never races a last write', async (t) => {
    // Issue 13.7 / 20.1: `down --purge` failed with ENOTEMPTY when a wrapper wrote its node's
    // exit record while the folder was being removed. Each round starts nodes, stops them with
    // down and checks at once: every exit record is there and no wrapper runs.
    const dir = await clusterFolder(t)
    const {port, rpcPort} = await freeClusterPorts(3)
    const up = await runDyn(['cluster', 'up', '--nodes', '3', '--dir', dir, '--port', String(port), '--rpc-port', String(rpcPort)])
    assert.equal(up.code, 0, up.stderr)
    const wrappers = (await reloadCluster(dir)).nodes.map((node) => node.wrapperPid)
    assert.ok(wrappers.every((pid) => pid !== undefined), 'cluster.json records each wrapper')
    const down = await clusterDown(dir, 3000, () => undefined)
    assert.deepEqual(down.stopped, ['n1', 'n2', 'n3'])
    for (const node of down.nodes) assert.ok(existsSync(path.join(dir, `${node.name}.exit.json`)), `${node.name}'s exit record is written before down returns`)
    for (const pid of wrappers) assert.equal(isRunning(pid as number), false, `wrapper ${pid} has exited`)
    for (let round = 0; round < 3; round += 1) {
      const again = await runDyn(['cluster', 'up', '--dir', dir])
      assert.equal(again.code, 0, again.stderr)
      if (round < 2) {
        assert.equal((await runDyn(['cluster', 'down', '--dir', dir])).code, 0)
        continue
      }
      const purged = await runDyn(['cluster', 'down', '--dir', dir, '--purge', '--json'])
      assert.equal(purged.code, 0, purged.stdout + purged.stderr)
      assert.deepEqual(jsonOf(purged), {ok: true, dir, stopped: ['n1', 'n2', 'n3'], killed: [], notRunning: [], startedElsewhere: [], purged: true, folderDeleted: true, kept: []})
      assert.equal(existsSync(dir), false)
    }
  })

  it('a user\'s own files are never a cluster\'s: up refuses a folder that holds them, and down --purge deletes only what the cluster made', async (t) => {
    // Found by a new user's walk: `up --dir` took a folder holding notes.txt, and `down --purge`
    // deleted the folder with the note in it. `--dir .` then failed to purge with EINVAL.
    const dir = await clusterFolder(t)
    await writeFile(path.join(dir, 'notes.txt'), 'mine\n')
    const free = await freeClusterPorts(1)
    const refused = await runDyn(['cluster', 'up', '--nodes', '1', '--dir', dir, '--port', String(free.port), '--rpc-port', String(free.rpcPort), '--json'])
    assert.equal(refused.code, 2, refused.stdout + refused.stderr)
    assert.equal(jsonOf(refused).error, 'bad_parameter')
    assert.match(String(jsonOf(refused).message), /already holds files that are not a dyn cluster's \(notes\.txt\) and no cluster\.json: a new cluster is made in a new or empty folder, .*Give a folder of its own, such as .*cluster$/)
    assert.deepEqual((await readdir(dir)).sort(), ['notes.txt'], 'a refused up writes nothing into the folder')

    // A cluster made in an empty folder, into which the user then put a file of their own.
    const clusterDir = path.join(dir, 'cluster')
    const up = await runDyn(['cluster', 'up', '--nodes', '1', '--dir', clusterDir, '--port', String(free.port), '--rpc-port', String(free.rpcPort)])
    assert.equal(up.code, 0, up.stderr)
    t.after(() => clusterDown(clusterDir, 3000, () => undefined).catch(() => undefined))
    await writeFile(path.join(clusterDir, 'keep-me.txt'), 'mine too\n')
    const purged = await runDyn(['cluster', 'down', '--dir', clusterDir, '--purge', '--json'])
    assert.equal(purged.code, 0, purged.stdout + purged.stderr)
    assert.deepEqual(jsonOf(purged), {ok: true, dir: clusterDir, stopped: ['n1'], killed: [], notRunning: [], startedElsewhere: [], purged: true, folderDeleted: false, kept: ['keep-me.txt'], folderKept: 'holds-other-files'})
    assert.deepEqual(await readdir(clusterDir), ['keep-me.txt'], 'the cluster\'s data, log, records, secret and description are gone; the user\'s file stays')

    // Purged from inside its own folder (--dir .): the cluster's files go, the folder one stands in stays.
    await rm(path.join(clusterDir, 'keep-me.txt'))
    const again = await runDyn(['cluster', 'up', '--nodes', '1', '--dir', '.', '--port', String(free.port), '--rpc-port', String(free.rpcPort)], {cwd: clusterDir})
    assert.equal(again.code, 0, again.stderr)
    const purgedHere = await runDyn(['cluster', 'down', '--dir', '.', '--purge'], {cwd: clusterDir})
    assert.equal(purgedHere.code, 0, purgedHere.stdout + purgedHere.stderr)
    assert.match(purgedHere.stdout, /stopped \(1 node\(s\) were running\) and its data deleted; the folder is kept, since it is the current directory or holds it/)
    assert.deepEqual(await readdir(clusterDir), [])

    // Through a symbolic link: the link is the user's and stays; what it points to is emptied.
    const link = path.join(dir, 'link')
    await symlink(clusterDir, link)
    const viaLink = await runDyn(['cluster', 'up', '--nodes', '1', '--dir', link, '--port', String(free.port), '--rpc-port', String(free.rpcPort)])
    assert.equal(viaLink.code, 0, viaLink.stderr)
    const purgedViaLink = await runDyn(['cluster', 'down', '--dir', link, '--purge', '--json'])
    assert.equal(purgedViaLink.code, 0, purgedViaLink.stdout + purgedViaLink.stderr)
    assert.equal(jsonOf(purgedViaLink).folderKept, 'symbolic-link')
    assert.ok((await lstat(link)).isSymbolicLink(), 'the link is still there')
    assert.deepEqual(await readdir(clusterDir), [])

    // A --dir that is a file is bad input, not an internal error.
    const file = path.join(dir, 'notes.txt')
    const onFile = await runDyn(['cluster', 'up', '--nodes', '1', '--dir', file, '--port', String(free.port), '--rpc-port', String(free.rpcPort), '--json'])
    assert.equal(onFile.code, 2, onFile.stdout + onFile.stderr)
    assert.equal(jsonOf(onFile).error, 'bad_parameter')
    assert.match(String(jsonOf(onFile).message), /notes\.txt is not a folder: give --dir a new or empty folder$/)
  })

  it('invalid cluster settings are bad input (exit 2, a JSON error saying what to do) and start nothing', async (t) => {
    const cases: Array<{args: string[]; message: RegExp}> = [
      {args: ['--partitions', '63'], message: /--partitions 63 is not a power of two .*use one such as 64/},
      {args: ['--n', '0'], message: /--n 0: it must be a whole number of at least 1/},
      {args: ['--n', '1'], message: /r <= n and w <= n .*lower --r\/--w or raise --n/},
      {args: ['--nodes', '0'], message: /--nodes 0: a local cluster has 1 to 64 nodes/},
      {args: ['--port', '65535', '--nodes', '2'], message: /--port 65535: the 2 nodes need ports/},
      // The internode ports follow --port: the refusal names --port, not a --rpc-port never given.
      {args: ['--port', '64900', '--nodes', '2'], message: /the internode ports \(--rpc-port, by default --port \+ 1000\) from 65900: the 2 nodes need ports 65900..65901, .*; choose a lower --port, or give --rpc-port$/},
    ]
    for (const {args, message} of cases) {
      const dir = await clusterFolder(t)
      const free = await freeClusterPorts(3)
      const ports = args.includes('--port') ? [] : ['--port', String(free.port), '--rpc-port', String(free.rpcPort)]
      const up = await runDyn(['cluster', 'up', '--dir', dir, ...ports, ...args, '--json'])
      assert.equal(up.code, 2, `${args.join(' ')}: ${up.stdout}${up.stderr}`)
      const error = jsonOf(up)
      assert.equal(error.error, 'bad_parameter', args.join(' '))
      assert.match(String(error.message), message)
      assert.equal(existsSync(path.join(dir, 'cluster.json')), false, args.join(' '))
    }
  })

  it('a folder that cannot be made is bad input, answered at once (Node\'s own recursive mkdir spins for ever under /proc)', async () => {
    const free = await freeClusterPorts(1)
    const up = await runDyn(['cluster', 'up', '--dir', '/proc/dyn-test-cluster', '--nodes', '1', '--port', String(free.port), '--json'], {timeoutMs: 30_000})
    assert.equal(up.code, 2, up.stdout + up.stderr)
    assert.equal(jsonOf(up).error, 'bad_parameter')
    assert.match(String(jsonOf(up).message), /cannot make the folder \/proc\/dyn-test-cluster: .*cannot be created there/)
    const start = await runDyn(['start', '--name', 'n1', '--data', '/proc/dyn-test-node/data', '--port', String(free.port), '--json'], {timeoutMs: 30_000})
    assert.equal(start.code, 2, start.stdout + start.stderr)
    assert.match(start.stdout + start.stderr, /cannot make the folder \/proc\/dyn-test-node\/data/)
  })
})
