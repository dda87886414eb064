/**
 * `dyn bench --fault` and `--find-capacity` as a user runs them, on clusters the bench starts:
 * a node killed, paused and cut off mid-run, each reverted at its time, and the run judged
 * before, during and after each fault; a capacity search that steps through rates on one
 * cluster; and the combinations that cannot work, refused before anything starts. Short runs:
 * this file checks that faults happen and are reported, never how fast the machine is.
 */

import assert from 'node:assert/strict'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {spawn} from 'node:child_process'
import net from 'node:net'
import {freePortRange, portsInUse} from '../../src/cli/ports.js'
import {dynBin, runDyn, sleep} from './harness.js'

const benchTimeoutMs = 180_000

interface OperationJson {
  operation: string
  count: number
  shed: number
  errors: Record<string, number>
  latency: {maxMs: number; p999Ms: number}
}

interface FaultJson {
  spec: string
  kind: string
  node: string
  atS: number
  endS: number
  appliedAtS?: number
  revertedAtS?: number
  restartS?: number
  problem?: string
}

interface ReportJson {
  ok: boolean
  config: {targetNodes: string[]; mode: {kind: string; ratePerS?: number}}
  run: {operations: OperationJson[]}
  faults?: FaultJson[]
  windows?: Array<{name: string; fromS: number; toS: number; operations: OperationJson[]; sla?: {met: boolean}}>
  capacity?: {foundRatePerS: number | null; lowestMissedRatePerS: number | null; ended: string; steps: Array<{ratePerS: number; met: boolean}>}
  sla?: {met: boolean; verdicts: Array<{target: string; met: boolean}>}
}

function parseReport(stdout: string): ReportJson {
  try {
    return JSON.parse(stdout) as ReportJson
  } catch (error) {
    throw new Error(`bench --json printed no JSON (${(error as Error).message}): ${stdout.slice(0, 500)}`)
  }
}

const countOf = (operations: readonly OperationJson[]): number => operations.reduce((sum, op) => sum + op.count + op.shed, 0)

/**
 * A first client port P for `dyn bench --nodes K --port P`, whose nodes take P..P+K-1 and, for
 * internode, P+1000..P+1000+K-1: both runs free now.
 */
async function benchClusterPorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = await freePortRange(count)
    if ((await portsInUse(Array.from({length: count}, (_, i) => port + 1000 + i))).length === 0) return port
  }
  throw new Error(`no ${count} free client ports with free internode ports 1000 above them`)
}

/** After the bench, the cluster it started is gone: none of its client ports answers. */
async function assertStopped(addresses: readonly string[]): Promise<void> {
  for (const address of addresses) {
    const answered = await fetch(`http://${address}/health`, {signal: AbortSignal.timeout(2000)}).then(
      () => true,
      () => false,
    )
    assert.equal(answered, false, `${address} still answers after the bench`)
  }
}

describe('dyn bench with faults and a capacity search', () => {
  let dir: string
  let generous: string
  let impossible: string

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dyn-bench-faults-'))
    generous = path.join(dir, 'generous.json')
    impossible = path.join(dir, 'impossible.json')
    const targets = (maxMs: number): unknown => [
      {operation: 'read', percentile: 99.9, maxMs},
      {operation: 'update', percentile: 99.9, maxMs},
    ]
    await writeFile(generous, JSON.stringify({name: 'generous', run: {workload: 'a', ratePerS: 50, durationS: 1, records: 200}, targets: targets(60_000), maxErrorRate: 1}))
    await writeFile(impossible, JSON.stringify({name: 'impossible', run: {workload: 'a', ratePerS: 40, durationS: 1, records: 200}, targets: targets(0.001)}))
  })

  after(async () => {
    if (dir !== undefined) await rm(dir, {recursive: true, force: true})
  })

  it('kills a node mid-run, starts it again, and judges the run before, during and after', async () => {
    const result = await runDyn(['bench', '--nodes', '3', '--rate', '100', '--duration', '6', '--warmup', '0', '--records', '200', '--sla', generous, '--fault', 'kill:n2@2', '--fault-duration', '2', '--json'], {timeoutMs: benchTimeoutMs})
    assert.equal(result.code, 0, result.stderr + result.stdout)
    const report = parseReport(result.stdout)
    const [fault] = report.faults ?? []
    assert.equal(report.faults?.length, 1)
    assert.equal(fault?.node, 'n2')
    assert.equal(fault?.problem, undefined, 'killed and restarted without a problem')
    assert.ok(fault?.appliedAtS !== undefined && fault.appliedAtS >= 2, `applied at ${fault?.appliedAtS} s`)
    assert.ok(fault?.revertedAtS !== undefined && fault.revertedAtS >= 4, `reverted at ${fault?.revertedAtS} s`)
    assert.ok(fault?.restartS !== undefined && fault.restartS > 0, 'the restart was waited for')
    assert.deepEqual(report.windows?.map((w) => [w.name, w.fromS, w.toS]), [['before', 0, 2], ['during kill:n2@2', 2, 4], ['after kill:n2@2', 4, 6]])
    for (const window of report.windows ?? []) assert.equal(window.sla?.met, true, `${window.name}: the generous SLA`)
    // Every operation of the run is in exactly one window.
    const inWindows = (report.windows ?? []).reduce((sum, w) => sum + countOf(w.operations), 0)
    assert.equal(inWindows, countOf(report.run.operations))
    await assertStopped(report.config.targetNodes)
  })

  it('pauses one node, cuts another off and kills a third, one after the other, and reverts each', async () => {
    // The kill comes after the partition: its restart must find the cluster behind the proxy.
    const result = await runDyn(
      ['bench', '--nodes', '3', '--rate', '60', '--duration', '8', '--warmup', '0', '--records', '200', '--fault', 'pause:n1@1', '--fault', 'partition:n3@3', '--fault', 'kill:n2@5', '--fault-duration', '2', '--json'],
      {timeoutMs: benchTimeoutMs},
    )
    assert.equal(result.code, 0, result.stderr + result.stdout)
    const report = parseReport(result.stdout)
    assert.deepEqual(report.faults?.map((f) => [f.spec, f.node, f.problem]), [['pause:n1@1', 'n1', undefined], ['partition:n3@3', 'n3', undefined], ['kill:n2@5', 'n2', undefined]])
    for (const fault of report.faults ?? []) assert.ok(fault.appliedAtS !== undefined && fault.revertedAtS !== undefined, `${fault.spec} applied and reverted`)
    assert.deepEqual(report.windows?.map((w) => w.name), ['before', 'during pause:n1@1', 'during partition:n3@3', 'during kill:n2@5', 'after kill:n2@5'])
    // A request sent to the paused node waits until it is resumed: the pause shows in its window's
    // slowest operation (a lower bound the pause itself makes, not a measure of the machine).
    const paused = report.windows?.find((w) => w.name === 'during pause:n1@1')
    const slowestMs = Math.max(...(paused?.operations ?? []).map((op) => op.latency.maxMs))
    assert.ok(slowestMs >= 500, `the slowest operation during the pause took ${slowestMs} ms`)
    await assertStopped(report.config.targetNodes)
  })

  it('interrupted during a fault (Ctrl-C), the bench leaves no node running, paused or started again', async () => {
    const port = await benchClusterPorts(3)
    const child = spawn(process.execPath, [dynBin, 'bench', '--nodes', '3', '--port', String(port), '--rate', '50', '--duration', '20', '--warmup', '0', '--records', '100', '--fault', 'kill:n3@1', '--fault', 'pause:n2@4', '--fault-duration', '3'], {stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    try {
      // Interrupt while n2 is paused (4 to 7 s into the run; n3 was killed and started again
      // before that): the first progress line of the run comes in its first second.
      const deadline = Date.now() + 120_000
      while (!/running 0\/20 s/.test(stderr) && Date.now() < deadline && child.exitCode === null) await sleep(100)
      assert.match(stderr, /running 0\/20 s/, 'the run started')
      await sleep(5000)
      child.kill('SIGINT')
      assert.equal(await exited, 130, stderr)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
    await assertStopped([0, 1, 2].map((i) => `127.0.0.1:${port + i}`))
    // Nothing listens on the cluster's ports any more: no node was started again behind the bench's back.
    for (const candidate of [port, port + 1, port + 2, port + 1000, port + 1001, port + 1002]) {
      const free = await new Promise<boolean>((resolve) => {
        const server = net.createServer()
        server.once('error', () => resolve(false))
        server.listen(candidate, '127.0.0.1', () => server.close(() => resolve(true)))
      })
      assert.equal(free, true, `port ${candidate} is still taken after the bench`)
    }
  })

  it('--find-capacity steps up while the SLA holds, and reports every step and the rate found', async () => {
    const result = await runDyn(['bench', '--nodes', '1', '--sla', generous, '--find-capacity', '--max-steps', '3', '--warmup', '0', '--json'], {timeoutMs: benchTimeoutMs})
    assert.equal(result.code, 0, result.stderr + result.stdout)
    const report = parseReport(result.stdout)
    assert.deepEqual(report.capacity?.steps.map((s) => [s.ratePerS, s.met]), [[50, true], [100, true], [200, true]])
    assert.equal(report.capacity?.foundRatePerS, 200)
    assert.equal(report.capacity?.ended, 'steps')
    assert.deepEqual(report.config.mode, {kind: 'open', ratePerS: 200}, 'the report\'s run is the step at the rate found')
    assert.equal(report.ok, true)
  })

  it('--find-capacity with an SLA no rate meets finds none, steps down, and exits 1', async () => {
    const result = await runDyn(['bench', '--nodes', '1', '--sla', impossible, '--find-capacity', '--max-steps', '3', '--warmup', '0'], {timeoutMs: benchTimeoutMs})
    assert.equal(result.code, 1, result.stderr + result.stdout)
    assert.match(result.stdout, /capacity at SLA impossible: not found/)
    assert.match(result.stdout, /\n\s+10 ops\/s MISSED[^\n]*\n\s+20 ops\/s MISSED[^\n]*\n\s+40 ops\/s MISSED/)
  })

  it('refuses faults and searches that cannot work, before starting anything', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--node', '127.0.0.1:1', '--rate', '10', '--fault', 'kill'], /--fault|--node/],
      [['--nodes', '3', '--connections', '4', '--fault', 'kill'], /needs the open loop/],
      [['--nodes', '3', '--rate', '10', '--fault', 'crash:n1'], /KIND\[:NODE\]\[@SECONDS\]/],
      [['--nodes', '3', '--rate', '10', '--fault', 'kill:n7'], /no node n7/],
      [['--nodes', '3', '--rate', '10', '--duration', '4', '--fault', 'kill@3', '--fault-duration', '2'], /past the end/],
      [['--nodes', '3', '--rate', '10', '--fault', 'kill:n1@1', '--fault', 'kill:n2@2', '--fault-duration', '3'], /one at a time/],
      [['--nodes', '3', '--rate', '10', '--fault-duration', '2'], /give a --fault too/],
      [['--nodes', '1', '--rate', '10', '--find-capacity'], /give one with --sla/],
      [['--nodes', '3', '--sla', generous, '--find-capacity', '--fault', 'kill'], /do not go together/],
      [['--nodes', '1', '--rate', '10', '--max-steps', '3'], /give --find-capacity too/],
      [['--nodes', '1', '--connections-per-node', '8'], /give --rate/],
      [['--nodes', '1', '--no-client-throttle'], /applies to the open loop/],
    ]
    for (const [flags, message] of cases) {
      const result = await runDyn(['bench', ...flags], {timeoutMs: benchTimeoutMs})
      assert.equal(result.code, 2, `${flags.join(' ')}: ${result.stderr}`)
      assert.match(result.stderr, message, flags.join(' '))
      assert.doesNotMatch(result.stderr, /loading|running/, `${flags.join(' ')} started nothing`)
    }
  })
})
