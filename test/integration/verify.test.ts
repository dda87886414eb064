// `dyn verify` end to end, as CI runs it: 30 seconds of cart clients under every kind of fault,
// then heal, converge, and no acknowledged add lost (exit 0); and the same check catching what
// last-writer-wins loses by design (exit 1, and it says why), so that a verify that could never
// find a loss would fail here.

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'
import {dynBin, removeTestFolder, runDyn, sleep} from './harness.js'

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
    } finally {
      await removeTestFolder(dir)
    }
  })
})
