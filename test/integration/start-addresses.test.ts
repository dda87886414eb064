// `dyn start`'s addresses with real processes (issue 15 item 2): a node listens on --listen
// (0.0.0.0 allowed) and tells the cluster and clients --advertise; advertising an unspecified
// address is refused; a --host the machine does not have, and a seed that is a client API port,
// are reported as what they are, at once; a node that advertises an address its peers cannot
// reach is reported by them, and learns it from them.

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdir, mkdtemp, readdir, readFile} from 'node:fs/promises'
import {existsSync, openSync, closeSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'
import type {TestContext} from 'node:test'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {dynBin, getJson, killNode, removeTestFolder, runDyn, sleep, startJsonAnswer, waitFor} from './harness.js'

/** A fresh folder for this test's nodes, whose processes are killed and the folder deleted after it. */
async function testFolder(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dyn-start-addresses-'))
  t.after(() => removeTestFolder(dir))
  return dir
}

interface HandNode {
  readonly pid: number
  readonly port: number
  readonly rpcPort: number
  readonly logFile: string
}

/** `dyn start` by hand on free ports, its output in a log file; killed by its pid after the test. */
async function startNode(t: TestContext, dir: string, name: string, args: readonly string[]): Promise<HandNode> {
  const {port, rpcPort} = await freeClusterPorts(1)
  const logFile = path.join(dir, `${name}.log`)
  const out = openSync(logFile, 'a')
  const child = spawn(process.execPath, [dynBin, 'start', '--name', name, '--port', String(port), '--rpc-port', String(rpcPort), '--data', path.join(dir, name), '--request-timeout', '5000', ...args], {stdio: ['ignore', out, out]})
  closeSync(out)
  const pid = child.pid
  assert.ok(pid !== undefined)
  t.after(() => killNode(pid).catch(() => undefined))
  await waitFor(`${name} to serve`, async () => ((await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.ok ? true : undefined), 30_000, 100)
  return {pid, port, rpcPort, logFile}
}

function jsonFailure(run: {code: number; stdout: string; stderr: string}): {error: string; message: string} {
  assert.equal(run.code, 2, run.stdout + run.stderr)
  // The answer is the last line; the node's own log lines (JSON lines too) come before it.
  const body = startJsonAnswer(run.stdout)
  assert.equal(body.ok, false)
  return body
}

describe('dyn start addresses', () => {
  it('refuses to advertise an unspecified address, however it is asked for', async (t) => {
    const dir = await testFolder(t)
    const {port, rpcPort} = await freeClusterPorts(1)
    const base = ['start', '--name', 'n1', '--port', String(port), '--rpc-port', String(rpcPort), '--data', path.join(dir, 'n1'), '--json']
    for (const [flags, message] of [
      [['--host', '0.0.0.0'], /^--host 0\.0\.0\.0 would be advertised, and no peer or client can connect to it .*--listen 0\.0\.0\.0 --advertise ADDRESS/],
      [['--listen', '0.0.0.0'], /^--listen 0\.0\.0\.0 listens on every interface, .*add --advertise ADDRESS/],
      [['--listen', '0.0.0.0', '--advertise', '::'], /^--advertise ::: no peer or client can connect to an unspecified address/],
    ] as Array<[string[], RegExp]>) {
      const failed = jsonFailure(await runDyn([...base, ...flags]))
      assert.equal(failed.error, 'bad_parameter', flags.join(' '))
      assert.match(failed.message, message)
    }
  })

  it('says that a --host the machine does not have is no address of this machine', async (t) => {
    const dir = await testFolder(t)
    const {port, rpcPort} = await freeClusterPorts(1)
    // 198.51.100.0/24 is TEST-NET-2: documentation only, no machine's address.
    const run = await runDyn(['start', '--name', 'n1', '--host', '198.51.100.7', '--port', String(port), '--rpc-port', String(rpcPort), '--data', path.join(dir, 'n1'), '--json'])
    const failed = jsonFailure(run)
    assert.equal(failed.error, 'bad_parameter')
    assert.match(failed.message, /198\.51\.100\.7 is not an address of this machine \(.*EADDRNOTAVAIL.*\); listen on one of its addresses \(.*127\.0\.0\.1.*\) or on 0\.0\.0\.0/)
    assert.doesNotMatch(failed.message, /choose another --rpc-port/)
  })

  it('listens on 0.0.0.0 and advertises --advertise; a seed given as a client API port is said to be one, at once', async (t) => {
    const dir = await testFolder(t)
    const n1 = await startNode(t, dir, 'n1', ['--listen', '0.0.0.0', '--advertise', '127.0.0.1'])
    // Refused twice, on the folder n2 is started on below: it leaves no store behind.
    const spare = await freeClusterPorts(1)
    const wrongSeedArgs = ['start', '--name', 'n2', '--port', String(spare.port), '--rpc-port', String(spare.rpcPort), '--data', path.join(dir, 'n2'), '--seeds', `127.0.0.1:${n1.port}`, '--json']
    const wrongSeed = await runDyn(wrongSeedArgs, {timeoutMs: 8000})
    assert.equal(existsSync(path.join(dir, 'n2')), false, 'a refused start left its data folder')
    const failed = jsonFailure(wrongSeed) as {error: string; message: string; seed?: string; suggestedSeed?: string}
    assert.equal(failed.error, 'bad_parameter')
    // n1 runs with --rpc-port of its own (not --port + 1000): the hint names it, as n1 says it.
    assert.notEqual(n1.rpcPort, n1.port + 1000)
    assert.equal(
      failed.message,
      `the seed 127.0.0.1:${n1.port} is the client API port of n1 (its dyn start --port), not an internode port: give --seeds n1's internode address, 127.0.0.1:${n1.rpcPort} (its --rpc-port)`,
    )
    assert.deepEqual({seed: failed.seed, suggestedSeed: failed.suggestedSeed}, {seed: `127.0.0.1:${n1.port}`, suggestedSeed: `127.0.0.1:${n1.rpcPort}`})
    assert.doesNotMatch(wrongSeed.stdout, /frame_too_large/)
    // It exits at once, and no log line before says it would try again.
    assert.doesNotMatch(wrongSeed.stdout, /trying again|back-off/)
    // A client API port in use (n1's) is refused before the node joins: no member row, no folder.
    const portTaken = jsonFailure(await runDyn(['start', '--name', 'n2', '--port', String(n1.port), '--rpc-port', String(spare.rpcPort), '--data', path.join(dir, 'n2'), '--seeds', `127.0.0.1:${n1.rpcPort}`, '--json'], {timeoutMs: 8000}))
    assert.equal(portTaken.error, 'bad_parameter')
    assert.match(portTaken.message, new RegExp(`^cannot serve the client API on 127\\.0\\.0\\.1:${n1.port}: .*EADDRINUSE.*; choose another --port$`))
    assert.equal(existsSync(path.join(dir, 'n2')), false, 'a refused start left its data folder')
    assert.deepEqual(((await getJson(`http://127.0.0.1:${n1.port}/cluster`)).body.members as Array<{name: string}>).map((member) => member.name), ['n1'])
    await mkdir(path.join(dir, 'n2'))
    assert.equal(jsonFailure(await runDyn(wrongSeedArgs, {timeoutMs: 8000})).error, 'bad_parameter')
    assert.deepEqual(await readdir(path.join(dir, 'n2')), [], 'a refused start left a store in the empty folder it was given')

    const n2 = await startNode(t, dir, 'n2', ['--listen', '0.0.0.0', '--advertise', '127.0.0.1', '--seeds', `127.0.0.1:${n1.rpcPort}`])
    const view = await waitFor('n1 to see n2 up', async () => {
      const {body} = await getJson(`http://127.0.0.1:${n1.port}/cluster`)
      const members = body.members as Array<{name: string; apiAddress: string; rpcAddress: string; reachability: string}>
      return members.length === 2 && members.every((member) => member.reachability === 'up') ? members : undefined
    }, 60_000)
    assert.deepEqual(
      view.map(({name, apiAddress, rpcAddress}) => ({name, apiAddress, rpcAddress})),
      [
        {name: 'n1', apiAddress: `127.0.0.1:${n1.port}`, rpcAddress: `127.0.0.1:${n1.rpcPort}`},
        {name: 'n2', apiAddress: `127.0.0.1:${n2.port}`, rpcAddress: `127.0.0.1:${n2.rpcPort}`},
      ],
    )
    assert.match(await readFile(n1.logFile, 'utf8'), new RegExp(`serving the client API on 127\\.0\\.0\\.1:${n1.port} and internode RPC on 127\\.0\\.0\\.1:${n1.rpcPort} \\(listening on 0\\.0\\.0\\.0\\)`))
    // Its first start that served is its first start: nothing of the refused ones is in its store.
    assert.match(await readFile(n2.logFile, 'utf8'), /n2 identity n2\.[0-9a-f]{8} \(incarnation 1, new epoch: empty store\)/)
  })

  it('a seed nobody listens on is named, with why it could not be reached and what to check', async (t) => {
    const dir = await testFolder(t)
    const {port, rpcPort} = await freeClusterPorts(2)
    const nobody = `127.0.0.1:${rpcPort + 1}`
    const run = await runDyn(['start', '--name', 'n2', '--port', String(port), '--rpc-port', String(rpcPort), '--data', path.join(dir, 'n2'), '--seeds', nobody, '--json'])
    assert.equal(run.code, 3, run.stdout + run.stderr)
    assert.equal(existsSync(path.join(dir, 'n2')), false, 'a refused start left its data folder')
    const failed = startJsonAnswer<{error: string; message: string; seeds: string[]}>(run.stdout)
    assert.equal(failed.error, 'unreachable')
    assert.match(failed.message, new RegExp(`^could not reach the seed ${nobody} in \\d+ tries, 0\\.5 s apart; the first said: cannot connect to ${nobody}: nothing listens on that port \\(connection refused, ECONNREFUSED\\)\\. Check that a dyn node runs there and that the port is its internode port \\(its dyn start --rpc-port, by default its --port \\+ 1000\\), not its client API port`))
    assert.deepEqual(failed.seeds, [nobody])
    // The log says what the start does, as its error does: 0.5 s apart, and as many tries.
    const messages = run.stdout.trimEnd().split('\n').slice(0, -1).map((line) => (JSON.parse(line) as {message: string}).message)
    const tries = /in (\d+) tries/.exec(failed.message)?.[1]
    assert.deepEqual(messages.filter((message) => message.includes(nobody)), [`could not reach the seed ${nobody} (cannot connect to ${nobody}: nothing listens on that port (connection refused, ECONNREFUSED)); trying again 0.5 s apart, ${tries} tries in all`])
    assert.doesNotMatch(run.stdout, /back-off/)
  })

  it('a node that advertises an address its peers cannot reach is refused when it first joins; a member that comes back so is reported by them, and told so', async (t) => {
    const dir = await testFolder(t)
    const n1 = await startNode(t, dir, 'n1', [])
    // A first start that listens on 127.0.0.1 only and advertises 127.0.0.2, where nothing
    // listens: the seed cannot reach it where it says it is, so it refuses the join (nothing is
    // staged) and the node does not start.
    const {port, rpcPort} = await freeClusterPorts(1)
    const refused = await runDyn(
      ['start', '--name', 'n2', '--port', String(port), '--rpc-port', String(rpcPort), '--data', path.join(dir, 'n2-first'), '--listen', '127.0.0.1', '--advertise', '127.0.0.2', '--seeds', `127.0.0.1:${n1.rpcPort}`, '--json'],
      {timeoutMs: 60_000},
    )
    assert.equal(refused.code, 3, refused.stdout + refused.stderr)
    assert.equal(startJsonAnswer<{error: string}>(refused.stdout).error, 'joiner_unreachable')
    assert.deepEqual(((await getJson(`http://127.0.0.1:${n1.port}/cluster`)).body.members as Array<{name: string}>).map((member) => member.name), ['n1'], 'n1 staged nothing for n2')

    // A member restarted on its folder with such an address is a member still: n1 reports it,
    // and it is told why, once each.
    const joined = await startNode(t, dir, 'n2', ['--seeds', `127.0.0.1:${n1.rpcPort}`])
    await waitFor('n2 to be a member', async () => ((await getJson(`http://127.0.0.1:${joined.port}/health`)).body.status === 'valid' ? true : undefined), 60_000)
    await killNode(joined.pid)
    const n2 = await startNode(t, dir, 'n2', ['--listen', '127.0.0.1', '--advertise', '127.0.0.2', '--seeds', `127.0.0.1:${n1.rpcPort}`])
    const reported = await waitFor('n1 to report n2 and n2 to log it', async () => {
      const [log1, log2] = await Promise.all([readFile(n1.logFile, 'utf8'), readFile(n2.logFile, 'utf8')])
      const byPeer = log1.split('\n').find((line) => line.includes('n2 pings this node, but its advertised internode address'))
      const told = log2.split('\n').find((line) => line.includes('n1 cannot reach this node at'))
      return byPeer !== undefined && told !== undefined ? {byPeer, told} : undefined
    }, 60_000, 200)
    assert.match(reported.byPeer, new RegExp(`n2 pings this node, but its advertised internode address 127\\.0\\.0\\.2:${n2.rpcPort} has not answered this node for \\d+ s: .*restart n2 with --advertise`))
    assert.match(reported.told, new RegExp(`n1 cannot reach this node at 127\\.0\\.0\\.2:${n2.rpcPort}, the internode address this node advertises, though this node reaches n1: .*restart this node with --advertise`))
    // Once each, however long it lasts.
    await sleep(2000)
    const log2 = await readFile(n2.logFile, 'utf8')
    assert.equal(log2.split('\n').filter((line) => line.includes('n1 cannot reach this node at')).length, 1, log2)
  })

  it('a restart on a data folder checks its --seeds: another cluster, a client API port or, for a node alone, no answer at all is refused; its own cluster\'s seed, or one that is down, is not', async (t) => {
    const dir = await testFolder(t)
    const n1 = await startNode(t, dir, 'n1', [])
    // n9 started once without --seeds: a cluster of its own. Restarted with n1 as its seed, it
    // came back alone and took writes n1's cluster never saw (a new user's walk).
    const n9 = await startNode(t, dir, 'n9', [])
    await killNode(n9.pid)
    const restart = (seeds: string): Promise<{code: number; stdout: string; stderr: string}> =>
      runDyn(['start', '--name', 'n9', '--port', String(n9.port), '--rpc-port', String(n9.rpcPort), '--data', path.join(dir, 'n9'), '--seeds', seeds, '--json'], {timeoutMs: 20_000})
    const other = jsonFailure(await restart(`127.0.0.1:${n1.rpcPort}`)) as {error: string; message: string; seed?: string}
    assert.equal(other.error, 'cluster_config_mismatch')
    assert.match(other.message, new RegExp(`^the seed 127\\.0\\.0\\.1:${n1.rpcPort} is a node of cluster [0-9a-f]{16}, but this node's data folder holds a cluster of its own \\(id [0-9a-f]{16}, this node alone since it was started without --seeds\\), and a restart joins through no seed: to join that cluster, start this node on an empty --data folder with these --seeds`))
    assert.equal(other.seed, `127.0.0.1:${n1.rpcPort}`)
    assert.equal(jsonFailure(await restart(`127.0.0.1:${n1.port}`)).error, 'bad_parameter', 'a client API port as seed, as on a first start')
    const {rpcPort: nobodyPort} = await freeClusterPorts(1)
    const nobody = await restart(`127.0.0.1:${nobodyPort}`)
    assert.equal(nobody.code, 3, nobody.stdout + nobody.stderr)
    assert.equal(startJsonAnswer<{error: string}>(nobody.stdout).error, 'unreachable')
    assert.deepEqual(((await getJson(`http://127.0.0.1:${n1.port}/cluster`)).body.members as Array<{name: string}>).map((member) => member.name), ['n1'], 'n1 never heard of n9')

    // A member restarted with its own cluster's seed comes back; with a seed that is down, too, and says so.
    const n2 = await startNode(t, dir, 'n2', ['--seeds', `127.0.0.1:${n1.rpcPort}`])
    await waitFor('n2 to be a member', async () => ((await getJson(`http://127.0.0.1:${n2.port}/health`)).body.status === 'valid' ? true : undefined), 60_000)
    await killNode(n2.pid)
    const again = await startNode(t, dir, 'n2', ['--seeds', `127.0.0.1:${n1.rpcPort}`])
    assert.equal((await getJson(`http://127.0.0.1:${again.port}/health`)).body.clusterId, (await getJson(`http://127.0.0.1:${n1.port}/health`)).body.clusterId)
    await killNode(again.pid)
    const downSeed = await startNode(t, dir, 'n2', ['--seeds', `127.0.0.1:${nobodyPort}`])
    assert.match(await readFile(downSeed.logFile, 'utf8'), /no seed answered on restart \(127\.0\.0\.1:\d+ \(.*\)\); coming back from the stored member table of cluster [0-9a-f]{16}/)
  })
})
