/**
 * How `dyn start` ends on the signals a terminal or a service manager sends, with a real node
 * process. SIGHUP without TLS files stops the node as SIGTERM does: its store closed, its write
 * buffer flushed, exit 0. Left to its default it ended the process at once, and a walk lost 5 of
 * 20 writes acknowledged within --write-buffer-ms before it. No duration is asserted: every wait
 * polls, with a bound.
 */

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'
import {dynBin, freePortRange, isRunning, waitFor} from './harness.js'

/** A lone node on `port`, its output kept; resolves with its exit once it ends. */
function startNode(port: number, data: string): {pid: number; output: () => string; exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>} {
  const child = spawn(process.execPath, [dynBin, 'start', '--name', 'n1', '--port', String(port), '--rpc-port', String(port + 1), '--data', data, '--write-buffer-ms', '60000'], {stdio: ['ignore', 'pipe', 'pipe']})
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) => child.once('exit', (code, signal) => resolve({code, signal})))
  assert.ok(child.pid !== undefined)
  return {pid: child.pid, output: () => output, exited}
}

async function serving(port: number): Promise<true | undefined> {
  const answer = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined)
  return answer?.ok === true ? true : undefined
}

describe('dyn start and its signals', () => {
  it('SIGHUP without TLS stops the node cleanly: exit 0, and every write acknowledged before it, still in the write buffer, is there after a restart', async (t) => {
    const folder = await mkdtemp(path.join(tmpdir(), 'dyn-signals-'))
    const port = await freePortRange(2)
    const data = path.join(folder, 'n1')
    let node = startNode(port, data)
    t.after(async () => {
      if (isRunning(node.pid)) process.kill(node.pid, 'SIGKILL')
      await rm(folder, {recursive: true, force: true})
    })
    await waitFor('n1 to serve', () => serving(port))
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

    node = startNode(port, data)
    await waitFor('n1 to serve again', () => serving(port))
    for (let i = 0; i < 20; i++) {
      const get = await fetch(`http://127.0.0.1:${port}/kv/hup-${i}`)
      assert.equal(get.status, 200, `hup-${i}`)
      assert.equal(await get.text(), `value ${i}`)
    }
    process.kill(node.pid, 'SIGTERM')
    assert.deepEqual(await node.exited, {code: 0, signal: null})
  })
})
