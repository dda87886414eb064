/**
 * `dyn bench --json` interrupted (Ctrl-C) mid-run, as a real process: it still prints exactly one
 * JSON object, the error answer `interrupted` (README "JSON output"), exits 130, stops the cluster
 * it started and removes its folder; and that answer saved as a baseline is refused, saying what
 * it is. The bench runs in a temp folder of this file's own (TMPDIR), so that the cluster's
 * folder is found there and, should the bench leave it, its nodes are stopped by their pids.
 */

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {freePortRange, portsInUse} from '../../src/cli/ports.js'
import {dynBin, runDyn, sleep} from './harness.js'

/** A bound on waiting for the run to begin on a busy machine, not a measure of anything. */
const runStartTimeoutMs = 120_000

/** A client port whose internode port (1000 above) is free too, as the bench's --port needs. */
async function benchClusterPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = await freePortRange(1)
    if ((await portsInUse([port + 1000])).length === 0) return port
  }
  throw new Error('no free client port with a free internode port 1000 above it')
}

/** How many gets the node has coordinated, or undefined while it does not answer. */
async function getsServed(port: number): Promise<number | undefined> {
  const stats = await fetch(`http://127.0.0.1:${port}/stats`, {signal: AbortSignal.timeout(2000)}).then(
    async (response) => (await response.json()) as {requests?: {get?: {count?: number}}},
    () => undefined,
  )
  return stats === undefined ? undefined : (stats.requests?.get?.count ?? 0)
}

/** The cluster folders the bench left in `dir`; their nodes are stopped by pid, so that no test leaves one running. */
async function leftClusters(dir: string): Promise<string[]> {
  const left = (await readdir(dir)).filter((name) => name.startsWith('dyn-bench-'))
  for (const folder of left) {
    for (const file of (await readdir(path.join(dir, folder))).filter((name) => name.endsWith('.pid'))) {
      const pid = Number((await readFile(path.join(dir, folder, file), 'utf8')).trim())
      if (Number.isInteger(pid) && pid > 0) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // Already gone.
        }
      }
    }
  }
  return left
}

describe('dyn bench --json interrupted', () => {
  let dir = ''

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dyn-bench-interrupt-'))
  })

  after(async () => {
    await leftClusters(dir)
    await rm(dir, {recursive: true, force: true})
  })

  it('prints one JSON object, interrupted, exits 130 with its cluster stopped; that answer is no baseline', async () => {
    const port = await benchClusterPort()
    // A long warm-up, so that the interrupt lands in the run whenever this machine gets to it.
    const args = ['bench', '--nodes', '1', '--port', String(port), '--workload', 'a', '--rate', '20', '--records', '20', '--duration', '2', '--warmup', '600', '--json']
    const child = spawn(process.execPath, [dynBin, ...args], {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, TMPDIR: dir}})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    try {
      // The run is under way once the node has served more gets than the load could have made
      // (it reads each record at most once): workload a's reads.
      const deadline = Date.now() + runStartTimeoutMs
      while (((await getsServed(port)) ?? 0) <= 40 && Date.now() < deadline && child.exitCode === null) await sleep(200)
      assert.ok(((await getsServed(port)) ?? 0) > 40, `the run did not start: ${stderr}${stdout}`)
      child.kill('SIGINT')
      assert.equal(await exited, 130, stderr + stdout)
    } finally {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL')
    }
    // Exactly one JSON object on stdout (JSON.parse takes one value and nothing after it), the
    // error answer of every command.
    assert.notEqual(stdout.trim(), '', 'nothing on stdout')
    const answer = JSON.parse(stdout) as Record<string, unknown>
    assert.equal(answer.ok, false)
    assert.equal(answer.error, 'interrupted')
    assert.equal(answer.signal, 'SIGINT')
    assert.equal(answer.phase, 'running')
    assert.match(String(answer.message), /^interrupted by SIGINT while running the workload .*: no report was made .*; the cluster it started was stopped and its folder removed$/)
    assert.equal('run' in answer, false, 'no partial report')
    // Its cluster is stopped and its folder removed, as before.
    assert.equal(await getsServed(port), undefined, 'the node still answers')
    assert.deepEqual(await leftClusters(dir), [], 'the cluster folder is left')

    // Saved as `--json > FILE`, it is refused as a baseline before any run, saying what it is.
    const saved = path.join(dir, 'interrupted.json')
    await writeFile(saved, stdout)
    const refused = await runDyn(['bench', '--nodes', '1', '--workload', 'a', '--rate', '20', '--records', '20', '--baseline', saved, '--json'], {cwd: dir})
    assert.equal(refused.code, 2, refused.stderr + refused.stdout)
    const refusal = JSON.parse(refused.stdout) as {error: string; message: string}
    assert.equal(refusal.error, 'bad_parameter')
    assert.match(refusal.message, /interrupted\.json is the answer of a dyn bench --json that was interrupted \(SIGINT while running\) before its report/)
  })

  it('a reader of its output that goes away (2>&1 | head -1) ends nothing: the run finishes, stops its cluster and removes its folder', async () => {
    // It died on its next progress line (EPIPE on stderr), before its cleanup, leaving its node running (a new user's walk).
    const port = await benchClusterPort()
    const line = [process.execPath, dynBin, 'bench', '--nodes', '1', '--port', String(port), '--rate', '50', '--duration', '3', '--warmup', '1', '--records', '10'].map((word) => `'${word}'`).join(' ')
    const run = await new Promise<{code: number | null; out: string}>((resolve) => {
      // The pipeline's status is the bench's, not head's.
      const child = spawn('/bin/bash', ['-c', `set -o pipefail; ${line} 2>&1 | head -1`], {stdio: ['ignore', 'pipe', 'inherit'], env: {...process.env, TMPDIR: dir}})
      let out = ''
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
      child.once('close', (code) => resolve({code, out}))
    })
    assert.equal(run.code, 0, `the bench failed once its reader went away: ${run.out}`)
    assert.equal(run.out.split('\n').filter((text) => text !== '').length, 1, run.out)
    assert.equal(await getsServed(port), undefined, 'its node still answers')
    assert.deepEqual(await leftClusters(dir), [], 'its cluster folder is left')
  })
})
