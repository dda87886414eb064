/**
 * How `dyn start` ends on the signals a terminal or a service manager sends, with a real node
 * process. SIGHUP without TLS files stops the node as SIGTERM does: its store closed, its write
 * buffer flushed, exit 0. Left to its default it ended the process at once, and a walk lost 5 of
 * 20 writes acknowledged within --write-buffer-ms before it. A stopping node first answers the
 * requests it has begun (a drain): ended at once, 32 connections of puts under a SIGTERM got 32
 * resets, each for a put that may have been applied. No duration is asserted: every wait polls,
 * with a bound.
 */

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdtemp, rm} from 'node:fs/promises'
import http from 'node:http'
import net from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'
import type {TestContext} from 'node:test'
import {DynClient} from '../../src/client/http-client.js'
import {dynBin, forEachConcurrently, freePortRange, getJson, isRunning, reloadCluster, runDyn, startCluster, waitFor} from './harness.js'

/** A lone node on `port`, its output kept; resolves with its exit once it ends. */
function startNode(port: number, data: string, extraArgs: readonly string[] = ['--write-buffer-ms', '60000']): {pid: number; output: () => string; exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>} {
  const child = spawn(process.execPath, [dynBin, 'start', '--name', 'n1', '--port', String(port), '--rpc-port', String(port + 1), '--data', data, ...extraArgs], {stdio: ['ignore', 'pipe', 'pipe']})
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) => child.once('exit', (code, signal) => resolve({code, signal})))
  assert.ok(child.pid !== undefined)
  return {pid: child.pid, output: () => output, exited}
}

/** Resolves with `promise`'s value, or fails the test once `boundMs` has passed without it. */
async function within<T>(what: string, promise: Promise<T>, boundMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const bound = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${boundMs} ms`)), boundMs)))
  try {
    return await Promise.race([promise, bound])
  } finally {
    clearTimeout(timer)
  }
}

/** Whether a new connection to the port is refused (the node stopped accepting). */
function refusesConnections(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(undefined)
    })
    socket.once('error', (error: Error & {code?: string}) => resolve(error.code === 'ECONNREFUSED' ? true : undefined))
  })
}

/**
 * A PUT sent over a raw connection up to its body: resolves once the node has answered 100
 * Continue, which it does only from the handler about to read the body, so the request is then
 * under way in the node. `finish` sends the body and resolves with everything the node sent back
 * by the time it closed the connection.
 */
async function putHeldAtItsBody(port: number, key: string, body: string): Promise<{finish: () => Promise<string>; closed: Promise<string>}> {
  const socket = net.connect(port, '127.0.0.1')
  let received = ''
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(received)))
  socket.on('error', () => undefined)
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString()
      if (received.includes('100 Continue')) resolve()
    })
    socket.once('close', () => reject(new Error(`the node closed the connection before 100 Continue: ${JSON.stringify(received)}`)))
    socket.write(`PUT /kv/${key} HTTP/1.1\r\nHost: n1\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`)
  })
  return {
    finish: () => {
      socket.write(body)
      return closed
    },
    closed,
  }
}

async function serving(port: number): Promise<true | undefined> {
  const answer = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined)
  return answer?.ok === true ? true : undefined
}

type StartedNode = ReturnType<typeof startNode>

/**
 * A lone node in a folder of its own, serving once this resolves; `start` starts it again on its
 * data (once it has stopped) and waits until it serves. After the test it is killed if it still
 * runs, and its folder removed.
 */
async function loneNode(t: TestContext, extraArgs?: readonly string[]): Promise<{port: number; current: () => StartedNode; start: (args?: readonly string[]) => Promise<StartedNode>}> {
  const folder = await mkdtemp(path.join(tmpdir(), 'dyn-signals-'))
  const port = await freePortRange(2)
  const data = path.join(folder, 'n1')
  let node: StartedNode | undefined
  t.after(async () => {
    if (node !== undefined && isRunning(node.pid)) process.kill(node.pid, 'SIGKILL')
    await rm(folder, {recursive: true, force: true})
  })
  const start = async (args?: readonly string[]): Promise<StartedNode> => {
    node = startNode(port, data, args)
    await waitFor('n1 to serve', () => serving(port))
    return node
  }
  await start(extraArgs)
  return {port, current: () => node as StartedNode, start}
}

/** Reads each key back from the node on `port` as it was written, then stops the node with SIGTERM, which it ends with exit 0. */
async function assertKeptThenStop(port: number, node: StartedNode, written: ReadonlyArray<readonly [string, string]>): Promise<void> {
  for (const [key, value] of written) {
    const get = await fetch(`http://127.0.0.1:${port}/kv/${key}`)
    assert.equal(get.status, 200, key)
    assert.equal(await get.text(), value)
  }
  process.kill(node.pid, 'SIGTERM')
  assert.deepEqual(await node.exited, {code: 0, signal: null})
}

describe('dyn start and its signals', () => {
  it('SIGHUP without TLS stops the node cleanly: exit 0, and every write acknowledged before it, still in the write buffer, is there after a restart', async (t) => {
    const lone = await loneNode(t)
    const port = lone.port
    let node = lone.current()
    // A write buffer of a minute: every write below is acknowledged from memory, not yet in LevelDB.
    for (let i = 0; i < 20; i++) {
      const put = await fetch(`http://127.0.0.1:${port}/kv/hup-${i}`, {method: 'PUT', body: `value ${i}`})
      assert.equal(put.status, 204)
    }
    process.kill(node.pid, 'SIGHUP')
    const ending = await node.exited
    assert.deepEqual(ending, {code: 0, signal: null}, node.output())
    assert.match(node.output(), /SIGHUP: stopping/)
    assert.match(node.output(), /stopped/)

    node = await lone.start()
    await assertKeptThenStop(port, node, Array.from({length: 20}, (_, i) => [`hup-${i}`, `value ${i}`] as const))
  })

  it('SIGTERM with --stop-delay-ms: the node says it is not ready and serves on through the delay, then stops as always (exit 0, nothing lost)', async (t) => {
    const lone = await loneNode(t, ['--stop-delay-ms', '8000'])
    const port = lone.port
    let node = lone.current()
    assert.equal((await fetch(`http://127.0.0.1:${port}/ready`)).status, 200)
    assert.equal((await fetch(`http://127.0.0.1:${port}/kv/before-stop`, {method: 'PUT', body: 'before'})).status, 204)
    process.kill(node.pid, 'SIGTERM')
    // A balancer checking /ready sees it fail, while everything else is still served.
    const notReady = await waitFor('/ready to answer 503', async () => {
      const answer = await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined)
      return answer?.status === 503 ? ((await answer.json()) as {error: string; reasons: string[]}) : undefined
    })
    assert.equal(notReady.error, 'not_ready')
    assert.match(notReady.reasons.join('; '), /it is stopping: it serves \d+ s more so that balancers stop sending it requests/)
    assert.equal((await fetch(`http://127.0.0.1:${port}/kv/during-delay`, {method: 'PUT', body: 'during'})).status, 204)
    const read = await fetch(`http://127.0.0.1:${port}/kv/before-stop`)
    assert.equal(read.status, 200)
    assert.equal(await read.text(), 'before')
    const health = await fetch(`http://127.0.0.1:${port}/health`)
    assert.equal(health.status, 200, '/health stays 200 while the process serves')
    assert.equal(((await health.json()) as {ready: boolean}).ready, false)
    // dyn cluster status says so too (a reviewer found it silent).
    const status = await runDyn(['cluster', 'status', '--node', `127.0.0.1:${port}`, '--json'])
    assert.match(String((JSON.parse(status.stdout) as {nodes: Array<{stopping?: string}>}).nodes[0]?.stopping), /^it is stopping: it serves \d+ s more/, status.stdout)
    // So do /stats and dyn top, whose STATUS showed such a node `up` (a walk's finding).
    const stats = (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as {stoppingInMs?: number}
    assert.ok(typeof stats.stoppingInMs === 'number' && stats.stoppingInMs > 0 && stats.stoppingInMs <= 8000, JSON.stringify(stats.stoppingInMs))
    const top = await runDyn(['top', '--node', `127.0.0.1:${port}`])
    assert.match(top.stdout, /n1\s+127\.0\.0\.1:\d+\s+exiting\s/, top.stdout)
    assert.deepEqual(await within('the node to exit after its delay', node.exited, 60_000), {code: 0, signal: null}, node.output())
    assert.match(node.output(), /SIGTERM: stopping/)
    assert.match(node.output(), /stopping in 8000 ms \(--stop-delay-ms\): GET \/ready answers 503 meanwhile/)

    node = await lone.start()
    await assertKeptThenStop(port, node, [['before-stop', 'before'], ['during-delay', 'during']])
  })

  it('a second SIGTERM, a second after the first, ends the stop delay: the node stops cleanly at once; one sooner is taken as the same signal twice', async (t) => {
    const lone = await loneNode(t, ['--stop-delay-ms', '120000'])
    const port = lone.port
    const node = lone.current()
    assert.equal((await fetch(`http://127.0.0.1:${port}/kv/kept`, {method: 'PUT', body: 'kept'})).status, 204)
    process.kill(node.pid, 'SIGTERM')
    // The same stop delivered twice (a terminal and a supervisor): ignored, the node serves on.
    process.kill(node.pid, 'SIGTERM')
    await waitFor('/ready to answer 503', async () => ((await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined))?.status === 503 ? true : undefined))
    await new Promise((resolve) => setTimeout(resolve, 1500))
    assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200, 'still serving in its delay')
    process.kill(node.pid, 'SIGTERM')
    // Far within the two minutes of its delay.
    assert.deepEqual(await within('the node to exit on the second signal', node.exited, 30_000), {code: 0, signal: null}, node.output())
    assert.match(node.output(), /SIGTERM again: not waiting out the stop delay/)
    await assertKeptThenStop(port, await lone.start(), [['kept', 'kept']])
  })

  it('SIGTERM answers the requests under way before the node stops, each closing its connection; an upload that never ends is cut at the drain\'s bound', async (t) => {
    // Without the drain's bound, the stalled upload below would hold the node for ten minutes.
    const lone = await loneNode(t, ['--http-request-timeout-ms', '600000'])
    const port = lone.port
    let node = lone.current()
    const held = await Promise.all([0, 1, 2, 3].map((i) => putHeldAtItsBody(port, `drain-${i}`, `drained value ${i}`)))
    const stalled = await putHeldAtItsBody(port, 'drain-stalled', 'never sent')
    process.kill(node.pid, 'SIGTERM')
    // The node stops accepting at once: a client goes to another node, not to one that is stopping.
    await waitFor('n1 to refuse new connections', () => refusesConnections(port), 30_000, 20)
    const answers = await Promise.all(held.map((put) => within('an answer to a put under way', put.finish(), 30_000)))
    for (const answer of answers) {
      assert.match(answer, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 204 /, answer)
      assert.match(answer, /\r\nconnection: close\r\n/i, answer)
    }
    assert.deepEqual(await within('n1 to stop', node.exited, 60_000), {code: 0, signal: null}, node.output())
    assert.doesNotMatch(await stalled.closed, /HTTP\/1\.1 204/)

    node = await lone.start()
    for (let i = 0; i < 4; i++) {
      const get = await fetch(`http://127.0.0.1:${port}/kv/drain-${i}`)
      assert.equal(get.status, 200, `drain-${i}`)
      assert.equal(await get.text(), `drained value ${i}`)
    }
    assert.equal((await fetch(`http://127.0.0.1:${port}/kv/drain-stalled`)).status, 404)
    process.kill(node.pid, 'SIGTERM')
    assert.deepEqual(await node.exited, {code: 0, signal: null})
  })

  it('SIGTERM under a steady load of puts: every request gets an answer or a refused connection, never a reset, and every acknowledged put is kept', async (t) => {
    const lone = await loneNode(t, [])
    const port = lone.port
    let node = lone.current()
    const agent = new http.Agent({keepAlive: true, maxSockets: 16})
    t.after(() => agent.destroy())
    const outcomes = new Map<string, number>()
    const acknowledged: string[] = []
    let exited = false
    const put = (key: string): Promise<void> =>
      new Promise((resolve) => {
        const request = http.request({host: '127.0.0.1', port, method: 'PUT', path: `/kv/${key}`, agent}, (response) => {
          response.resume()
          response.once('end', () => {
            outcomes.set(`status ${response.statusCode}`, (outcomes.get(`status ${response.statusCode}`) ?? 0) + 1)
            if (response.statusCode === 204) acknowledged.push(key)
            resolve()
          })
        })
        request.once('error', (error: Error & {code?: string}) => {
          const outcome = error.code ?? error.message
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
          resolve()
        })
        request.end(`value of ${key}`)
      })
    // Sixteen connections, each putting its next key as soon as the last is answered, until the node has exited.
    const writers = Array.from({length: 16}, async (_, writer) => {
      for (let i = 0; !exited; i++) await put(`load-${writer}-${i}`)
    })
    await waitFor('a few hundred puts acknowledged', async () => (acknowledged.length >= 300 ? true : undefined), 60_000, 20)
    process.kill(node.pid, 'SIGTERM')
    const ending = await within('n1 to stop', node.exited, 60_000)
    exited = true
    await Promise.all(writers)
    assert.deepEqual(ending, {code: 0, signal: null}, node.output())
    const outcomeList = [...outcomes.entries()].map(([outcome, count]) => `${outcome}: ${count}`).join(', ')
    for (const outcome of outcomes.keys()) assert.ok(outcome === 'status 204' || outcome === 'ECONNREFUSED', `an outcome other than an answer or a refused connection: ${outcomeList}`)

    node = await lone.start([])
    await forEachConcurrently(acknowledged, 8, async (key) => {
      const get = await fetch(`http://127.0.0.1:${port}/kv/${key}`)
      assert.equal(get.status, 200, key)
      assert.equal(await get.text(), `value of ${key}`)
    })
    process.kill(node.pid, 'SIGTERM')
    assert.deepEqual(await node.exited, {code: 0, signal: null})
  })

  it('puts forwarded to a node that stops are finished or go to another home: a client of another node sees no error through three stops', async (t) => {
    // Four nodes at N=3: n1 is no home of a quarter of the keys and forwards their puts to the
    // first of their homes believed up. A stop cut the forwards n4 was serving, or had not read
    // yet, and their clients got 503 unreachable (a walk: 13 in 8 stops), although many had been
    // applied. Once n4 stops, n1 forwards to the next home.
    const c = await startCluster(4)
    t.after(() => c.stop())
    // Keys that n1 forwards to n4: n1 is none of their homes, and n4 the first.
    const keys: string[] = []
    for (let candidate = 0; keys.length < 24; candidate++) {
      assert.ok(candidate < 10_000, 'keys of that preference list exist')
      const key = `forwarded-${candidate}`
      const preflist = (await getJson(c.url(0, `/cluster/preflist/${key}`))).body.preflist as Array<{node: string; home: boolean}>
      const homes = preflist.filter((entry) => entry.home).map((entry) => entry.node)
      if (homes[0] === 'n4' && !homes.includes('n1')) keys.push(key)
    }
    let stopping = false
    const outcomes = new Map<string, number>()
    const writers = keys.map(async (key) => {
      const client = new DynClient([c.api(0)])
      let context: string | undefined
      for (let i = 0; !stopping; i++) {
        const put = await client.put(key, Buffer.from(`value ${i}`), context === undefined ? {} : {context})
        const outcome = put.ok ? 'ok' : `${put.error}: ${put.message}`
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
        if (put.ok) context = put.context
      }
    })
    for (let round = 0; round < 3; round++) {
      // `cluster up` (below, and the cluster's start) returns once every node serves.
      const pid = (await reloadCluster(c.dir)).nodes[3]?.pid
      assert.ok(pid !== undefined)
      process.kill(pid, 'SIGTERM')
      await waitFor('n4 to stop', async () => (isRunning(pid) ? undefined : true), 60_000, 20)
      const up = await runDyn(['cluster', 'up', '--dir', c.dir])
      assert.equal(up.code, 0, up.stderr)
    }
    stopping = true
    await Promise.all(writers)
    const outcomeList = [...outcomes.entries()].map(([outcome, count]) => `${outcome} (${count})`).join('; ')
    assert.deepEqual([...outcomes.keys()], ['ok'], outcomeList)
  })
})
