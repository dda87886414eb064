/**
 * `dyn bench` as a user runs it, against a real 3-node cluster: the closed loop (autocannon) and
 * the open loop (undici, evenly spaced) report per-operation latency percentiles, an SLA file
 * (Dynamo §2.2: a percentile bound) turns the run into a verdict and an exit code, bad usage
 * exits 2, and --hdr-out saves histograms that decode. Short runs: this file checks plumbing and
 * counts, never how fast the machine is.
 */

import assert from 'node:assert/strict'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {createServer} from 'node:net'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import hdr from 'hdr-histogram-js'
import {freePortRange} from '../../src/cli/ports.js'
import {makeReadmeCertificates} from '../unit/tls-certificates.js'
import {getJson, runDyn, startCluster} from './harness.js'
import type {TestCluster} from './harness.js'

/** Each bench run loads, runs and reports within this (the default 60 s is for quick commands). */
const benchTimeoutMs = 120_000

interface OperationJson {
  operation: string
  count: number
  throughputPerS: number
  latency: Record<string, number>
  errors: Record<string, number>
  notFound: number
}

interface ReportJson {
  ok: boolean
  config: {workload: string; records: number; targetNodes: string[]; warmupS: number}
  load?: {records: number; failed: number}
  calibration?: {opsPerS: number; protocol: string; floor?: {operations: OperationJson[]; notStarted?: number}}
  run: {elapsedS: number; opsPerS: number; httpRequests: number; operations: OperationJson[]; transportErrors: {timeout: number; connection: number}; notStarted?: number}
  timeline: Array<{startS: number; operations: Array<{operation: string; count: number; errors: number; shed: number; p999Ms: number}>}>
  sla?: {name: string; met: boolean; verdicts: Array<{target: string; measured: number | null; met: boolean}>}
  histograms?: unknown
}

function parseReport(stdout: string): ReportJson {
  try {
    return JSON.parse(stdout) as ReportJson
  } catch (error) {
    throw new Error(`bench --json printed no JSON (${(error as Error).message}): ${stdout.slice(0, 500)}`)
  }
}

describe('dyn bench', () => {
  let c: TestCluster
  let dir: string
  let nodeFlags: string[]

  before(async () => {
    c = await startCluster(3)
    dir = await mkdtemp(path.join(tmpdir(), 'dyn-bench-test-'))
    nodeFlags = ['--node', c.api(0), '--node', c.api(1), '--node', c.api(2)]
  })

  after(async () => {
    await c?.stop()
    if (dir !== undefined) await rm(dir, {recursive: true, force: true})
  })

  it('closed loop, workload a: reads and updates with latencies, the records loaded, no transport errors', async () => {
    // One address as a URL: bench takes the same --node forms as every other command.
    const mixedFlags = ['--node', `http://${c.api(0)}/`, '--node', c.api(1), '--node', c.api(2)]
    const result = await runDyn(['bench', ...mixedFlags, '--workload', 'a', '--connections', '8', '--duration', '2', '--records', '200', '--json'], {timeoutMs: benchTimeoutMs})
    assert.equal(result.code, 0, result.stderr + result.stdout)
    const report = parseReport(result.stdout)
    assert.equal(report.ok, true)
    assert.equal(report.histograms, undefined, '--json leaves the histograms to --hdr-out')
    assert.equal(report.config.workload, 'a')
    // Not told, a closed loop warms up for 2 s (an open loop for 5: the test below).
    assert.equal(report.config.warmupS, 2)
    assert.deepEqual(report.config.targetNodes, [c.api(0), c.api(1), c.api(2)])
    assert.equal(report.load?.records, 200)
    assert.equal(report.load?.failed, 0)
    assert.deepEqual(report.run.transportErrors, {timeout: 0, connection: 0})
    const kinds = report.run.operations.map((op) => op.operation).sort()
    assert.deepEqual(kinds, ['read', 'update'])
    for (const op of report.run.operations) {
      assert.ok(op.count > 0, `${op.operation} ran`)
      assert.ok(op.throughputPerS > 0, `${op.operation} throughput`)
      for (const field of ['p50Ms', 'p90Ms', 'p99Ms', 'p999Ms', 'maxMs', 'meanMs']) {
        const value = op.latency[field]
        assert.equal(typeof value, 'number', `${op.operation} latency.${field}`)
        assert.ok((value as number) > 0, `${op.operation} latency.${field} = ${value}`)
      }
      assert.ok((op.latency.p50Ms as number) <= (op.latency.p999Ms as number))
      // Within HDR precision only: the maximum is the exact value, percentiles the top of their
      // bucket (the unit test of the recorder pins that inconsistency down).
      assert.ok((op.latency.p999Ms as number) <= (op.latency.maxMs as number) * 1.001 + 0.001, `${op.operation} p99.9 ${op.latency.p999Ms} > max ${op.latency.maxMs}`)
      assert.deepEqual(op.errors, {}, `${op.operation} errors`)
      assert.equal(op.notFound, 0, `${op.operation}: every loaded record is found`)
    }
    assert.ok(report.run.httpRequests >= report.run.operations.reduce((sum, op) => sum + op.count, 0))
  })

  it('open loop at 100 ops/s for 2 s records about 200 operations, after the floor at that rate', async () => {
    // Four connections per node are enough for 100 ops/s (the default is 64).
    const result = await runDyn(['bench', ...nodeFlags, '--rate', '100', '--duration', '2', '--records', '200', '--connections-per-node', '4', '--calibrate', '--calibration-duration', '1', '--json'], {timeoutMs: benchTimeoutMs})
    assert.equal(result.code, 0, result.stderr + result.stdout)
    const report = parseReport(result.stdout)
    // Not told, an open loop warms up for 5 s: started right after the load, 2 s left the first
    // measured second still settling (bench/README.md, "Half capacity, on a machine the nodes share").
    assert.equal(report.config.warmupS, 5)
    // The floor: the same open loop for the calibration's second, against the trivial server.
    const floor = report.calibration?.floor
    assert.ok(floor !== undefined, 'an open loop with --calibrate measures the floor')
    // A run over plain HTTP is calibrated in plain HTTP (test/integration/tls.test.ts: over HTTPS).
    assert.equal(report.calibration?.protocol, 'http')
    const floorCount = floor.operations.reduce((sum, op) => sum + op.count, 0)
    assert.ok(floorCount >= 75 && floorCount <= 105, `the floor recorded ${floorCount} operations in 1 s at 100 ops/s`)
    assert.equal(floor.notStarted ?? 0, 0)
    for (const op of floor.operations) assert.ok((op.latency.p999Ms ?? 0) > 0, `the floor's ${op.operation} p99.9`)
    const count = report.run.operations.reduce((sum, op) => sum + op.count, 0)
    assert.ok(count >= 150 && count <= 210, `recorded ${count} operations`)
    assert.equal(report.run.notStarted ?? 0, 0)
    assert.deepEqual(report.run.transportErrors, {timeout: 0, connection: 0})
    for (const op of report.run.operations) assert.deepEqual(op.errors, {}, `${op.operation} errors`)
    // The timeline: the two seconds of the schedule, about 100 operations each, adding up to the total.
    assert.deepEqual(report.timeline.map((window) => window.startS), [0, 1])
    const perSecond = report.timeline.map((window) => window.operations.reduce((sum, op) => sum + op.count, 0))
    for (const second of perSecond) assert.ok(second >= 75 && second <= 105, `a second of the timeline holds ${second} operations`)
    assert.equal(perSecond.reduce((a, b) => a + b, 0), count)
  })

  it('an SLA that cannot be met exits 1 with a MISSED verdict; a generous one exits 0', async () => {
    const impossible = path.join(dir, 'impossible.json')
    const generous = path.join(dir, 'generous.json')
    const run = {workload: 'a', connections: 4, durationS: 1, records: 100}
    await writeFile(impossible, JSON.stringify({name: 'impossible', run, targets: [{operation: 'read', percentile: 50, maxMs: 0.001}]}))
    await writeFile(generous, JSON.stringify({name: 'generous', run, targets: [{operation: 'read', percentile: 99.9, maxMs: 10_000}], maxErrorRate: 0.5}))

    const missed = await runDyn(['bench', ...nodeFlags, '--sla', impossible], {timeoutMs: benchTimeoutMs})
    assert.equal(missed.code, 1, missed.stderr + missed.stdout)
    assert.match(missed.stdout, /^SLA impossible: MISSED$/m)
    assert.match(missed.stdout, /^ {2}MISSED read p50 <= 0\.001 ms: measured \d+\.\d+ ms$/m)
    assert.match(missed.stdout, /closed loop, 4 connections, 1 s/, 'the run parameters come from the file')
    const missedJson = await runDyn(['bench', ...nodeFlags, '--sla', impossible, '--json'], {timeoutMs: benchTimeoutMs})
    assert.equal(missedJson.code, 1, missedJson.stderr + missedJson.stdout)
    assert.equal(parseReport(missedJson.stdout).ok, false, 'a missed SLA answers ok: false')

    const met = await runDyn(['bench', ...nodeFlags, '--sla', generous, '--json'], {timeoutMs: benchTimeoutMs})
    assert.equal(met.code, 0, met.stderr + met.stdout)
    const report = parseReport(met.stdout)
    assert.equal(report.sla?.name, 'generous')
    assert.equal(report.sla?.met, true)
    assert.equal(report.ok, true)
    assert.equal(report.sla?.verdicts.length, 2)
    assert.equal(report.config.records, 100)

    // The capacity search against a running cluster (issue 17 item 7): a closed-loop SLA is
    // searched in the open loop from 100 ops/s, one step per rate on the same nodes.
    const search = await runDyn(['bench', ...nodeFlags, '--sla', generous, '--find-capacity', '--max-steps', '2', '--warmup', '0'], {timeoutMs: benchTimeoutMs})
    assert.equal(search.code, 0, search.stderr + search.stdout)
    assert.match(search.stdout, /^capacity at SLA generous: 200 ops\/s$/m)
    assert.match(search.stdout, /^ +100 ops\/s met +goodput/m)
  })

  it('bad usage exits 2', async () => {
    const usages = [
      ['--workload', 'z'],
      ['--rate', '5', '--connections', '5'],
      ['--client-driven', '--connections', '5'],
      ['--client-driven'],
      ['--sla', path.join(dir, 'no-such-sla.json')],
      ['--node', 'localhost'],
      // One node over HTTPS and the others over plain HTTP (test/integration/tls.test.ts runs the bench over HTTPS).
      ['--node', 'https://127.0.0.1:7070'],
      // --port and --rpc-port choose the ports of a cluster the bench starts; with --node there is none.
      ['--port', '7070'],
      ['--rpc-port', '8070'],
    ]
    const results = await Promise.all(usages.map((flags) => runDyn(['bench', ...nodeFlags, '--duration', '1', '--records', '10', ...flags], {timeoutMs: benchTimeoutMs})))
    for (const [i, result] of results.entries()) {
      assert.equal(result.code, 2, `dyn bench ${usages[i]?.join(' ')}: ${result.stderr}${result.stdout}`)
    }
    assert.match(results[4]?.stderr ?? '', /no-such-sla\.json/)
    assert.match(results[5]?.stderr ?? '', /"localhost" has no port/)
    assert.match(results[6]?.stderr ?? '', /--node 127\.0\.0\.1:\d+ would be reached over plain HTTP and 127\.0\.0\.1:7070 over HTTPS/)
    assert.match(results[7]?.stderr ?? '', /cannot also be[\s›]+provided when using --(port|node)/)
    assert.match(results[8]?.stderr ?? '', /cannot also be[\s›]+provided when using --(rpc-port|node)/)
  })

  it('a quorum the nodes would refuse is refused before the load, in the node\'s words, exit 2, and stores nothing', async () => {
    const keysOf = async (): Promise<number[]> => Promise.all([0, 1, 2].map(async (i) => Number((await getJson(c.url(i, '/stats'))).body.keys)))
    const before = await keysOf()
    const runs = [
      ['-w', '4'],
      ['-n', '9'],
      ['-n', '4', '-w', '4', '--calibrate', '--calibration-duration', '1'],
      ['-w', '1', '--dw', '2', '--json'],
    ]
    const results = await Promise.all(runs.map((flags) => runDyn(['bench', ...nodeFlags, '--duration', '1', '--warmup', '0', '--records', '50', ...flags], {timeoutMs: benchTimeoutMs})))
    for (const [i, result] of results.entries()) {
      const run = `dyn bench ${runs[i]?.join(' ')}`
      assert.equal(result.code, 2, `${run}: ${result.stderr}${result.stdout}`)
      // Refused before anything ran: it once failed only after the whole load ("the load stored none of its records").
      assert.doesNotMatch(result.stderr, /^(starting|calibrating|loading)/m, `${run} began before it refused`)
      assert.doesNotMatch(result.stderr + result.stdout, /the load stored none/)
    }
    assert.match(results[0]?.stderr ?? '', /^dyn: w=4 is larger than n=3; w must be within 1\.\.n \(127\.0\.0\.1:\d+ would refuse every request of the run so; nothing was loaded\) \[bad_parameter\]\n$/)
    assert.match(results[1]?.stderr ?? '', /^dyn: n=9 needs 9 distinct nodes, but 3 members own partitions now; use n <= 3, or leave n out/)
    assert.match(results[2]?.stderr ?? '', /^dyn: n=4 needs 4 distinct nodes, but 3 members own partitions now/)
    const json = JSON.parse(results[3]?.stdout ?? '') as {ok: boolean; error: string; message: string}
    assert.deepEqual([json.ok, json.error], [false, 'bad_parameter'])
    assert.match(json.message, /^dw=2 is larger than w=1; dw must be within 0\.\.w/)
    assert.deepEqual(await keysOf(), before, 'nothing was loaded')
  })

  it('a node that does not answer is refused before any progress: no "starting" line, no calibration', async () => {
    // A port the OS just gave out and took back: nothing listens on it.
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const dead = `127.0.0.1:${(probe.address() as AddressInfo).port}`
    await new Promise<void>((resolve) => probe.close(() => resolve()))
    const runs = [
      ['--node', c.api(0), '--node', dead],
      ['--node', dead, '--calibrate', '--calibration-duration', '1'],
      ['--node', dead, '--json'],
    ]
    const results = await Promise.all(runs.map((flags) => runDyn(['bench', ...flags, '--duration', '1', '--warmup', '0', '--records', '10'], {timeoutMs: benchTimeoutMs})))
    for (const [i, result] of results.entries()) {
      const run = `dyn bench ${runs[i]?.join(' ')}`
      assert.equal(result.code, 3, `${run}: ${result.stderr}${result.stdout}`)
      // The refusal is all it says: a progress line before it read as a run that had begun.
      assert.doesNotMatch(result.stderr, /^(starting|calibrating)/m, `${run} said it was under way before it refused`)
    }
    assert.match(results[0]?.stderr ?? '', new RegExp(`^dyn: cannot reach a dyn node at ${dead.replaceAll('.', '\\.')} \\(ECONNREFUSED\\).*\\[unreachable\\]\\n$`))
    // With --json, stdout is the one JSON refusal, and stderr is empty.
    assert.equal((JSON.parse(results[2]?.stdout ?? '') as {error: string}).error, 'unreachable')
    assert.equal(results[2]?.stderr, '')
  })

  it('ports of the cluster it would start that are taken, overlap, or pass 65535 are refused in its own flags (--port, --rpc-port)', async () => {
    const [first] = c.cluster.nodes
    assert.ok(first !== undefined)
    // An internode port taken: with --port alone the bench's nodes use --port + 1000.
    const holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    const heldPort = (holder.address() as AddressInfo).port
    try {
      const runs = [
        ['--nodes', '1', '--port', String(first.port)],
        ['--nodes', '1', '--port', String(heldPort - 1000)],
        ['--nodes', '3', '--port', '64600'],
        // --rpc-port alone: the client ports come from the OS, the internode ones are checked.
        ['--nodes', '1', '--rpc-port', String(heldPort)],
        ['--nodes', '3', '--port', '20000', '--rpc-port', '20002'],
        ['--nodes', '3', '--rpc-port', '65534'],
        // --port alone also places the internode ports 1000 above: the advice keeps both in range.
        ['--nodes', '3', '--port', '65534'],
      ]
      const results = await Promise.all(runs.map((flags) => runDyn(['bench', ...flags, '--duration', '1', '--warmup', '0', '--records', '10', '--json'], {timeoutMs: benchTimeoutMs})))
      const refusals = results.map((result, i) => {
        assert.equal(result.code, 2, `dyn bench ${runs[i]?.join(' ')}: ${result.stderr}${result.stdout}`)
        const body = JSON.parse(result.stdout) as {error: string; message: string; ports?: number[]}
        assert.equal(body.error, 'bad_parameter')
        assert.doesNotMatch(body.message, /folder/, 'no folder it has none of')
        return body
      })
      const [clientTaken, internodeTaken, pastRange, rpcTaken, overlap, rpcPastRange, clientPastRange] = refusals
      const escaped = (port: number): string => `127\\.0\\.0\\.1:${port}`
      // --port + 1000 is not held by this test, but nothing keeps another process off it (a CI run
      // once found it taken too): the message then names both, the client port first.
      assert.match(clientTaken?.message ?? '', new RegExp(`^${escaped(first.port)} \\(the client port of n1\\)(, ${escaped(first.port + 1000)} \\(the internode port of n1\\) are| is) in use by another process, perhaps another cluster; stop it, or give dyn bench other ports with --port and --rpc-port \\(its 1 node\\(s\\) would take client ports ${first.port}\\.\\.${first.port} and internode ports ${first.port + 1000}\\.\\.${first.port + 1000} \\(--port \\+ 1000\\)\\), or leave them out for free ports the OS gives$`))
      assert.ok(clientTaken?.ports?.includes(first.port), 'the ports in use are in the --json answer, as for dyn cluster up')
      assert.match(internodeTaken?.message ?? '', new RegExp(`${escaped(heldPort)} \\(the internode port of n1\\) (is|are) in use .*; stop it, or give dyn bench other ports with --port and --rpc-port`))
      assert.ok(internodeTaken?.ports?.includes(heldPort))
      assert.match(pastRange?.message ?? '', /^--port 64600 \+ 1000: the bench's 3 node\(s\) take internode ports 65600\.\.65602, all at most 65535; choose --port 64533 or lower, give --rpc-port, or leave it out for free ports the OS gives$/)
      assert.match(rpcTaken?.message ?? '', new RegExp(`^${escaped(heldPort)} \\(the internode port of n1\\) is in use by another process, perhaps another cluster; stop it, or give dyn bench other ports with --port and --rpc-port \\(its 1 node\\(s\\) would take internode ports ${heldPort}\\.\\.${heldPort} and free client ports the OS gives\\), or leave them out`))
      assert.deepEqual(rpcTaken?.ports, [heldPort], 'only the ports it fixed are checked; the client ones come free from the OS')
      assert.match(overlap?.message ?? '', /^--port 20000 and --rpc-port 20002: the bench's 3 node\(s\) would take client ports 20000\.\.20002 and internode ports 20002\.\.20004, which overlap; choose runs 3 apart or more$/)
      assert.match(rpcPastRange?.message ?? '', /^--rpc-port 65534: the bench's 3 node\(s\) take internode ports 65534\.\.65536, all at most 65535; choose --rpc-port 65533 or lower, or leave it out for free ports the OS gives$/)
      assert.match(clientPastRange?.message ?? '', /^--port 65534: the bench's 3 node\(s\) take client ports 65534\.\.65536, all at most 65535; choose --port 64533 or lower, or leave it out for free ports the OS gives$/)
      // In text too the refusal comes alone: ports in use are found before the run says it is
      // starting (a new user's walk saw "starting" above this refusal).
      const text = await runDyn(['bench', '--nodes', '1', '--port', String(first.port), '--duration', '1', '--warmup', '0', '--records', '10'], {timeoutMs: benchTimeoutMs})
      assert.equal(text.code, 2, text.stdout + text.stderr)
      assert.doesNotMatch(text.stdout + text.stderr, /starting/)
      assert.match(text.stderr, /in use by another process/)
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()))
    }
  })

  it('--port and --rpc-port place the ports of the cluster it starts, and its nodes use them', async () => {
    // Four ports apart, two for each kind: the OS says all are free now.
    const port = await freePortRange(4)
    const rpcPort = port + 2
    const run = runDyn(['bench', '--nodes', '2', '--port', String(port), '--rpc-port', String(rpcPort), '--n', '2', '--r', '1', '--w', '1', '--connections', '2', '--duration', '2', '--warmup', '0', '--records', '20', '--json'], {timeoutMs: benchTimeoutMs})
    let finished = false
    void run.finally(() => {
      finished = true
    })
    // While the bench runs, its first node says where every member listens: asked until it
    // answers with both members (the bench's own checks bind these ports only for an instant, and
    // never answer HTTP), or the run ends.
    let rpcAddresses: string[] = []
    while (!finished && rpcAddresses.length < 2) {
      const answer = await fetch(`http://127.0.0.1:${port}/cluster`).then((response) => (response.ok ? (response.json() as Promise<{members: Array<{rpcAddress: string}>}>) : undefined)).catch(() => undefined)
      rpcAddresses = answer?.members.map((member) => member.rpcAddress).sort() ?? []
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const result = await run
    assert.equal(result.code, 0, result.stderr + result.stdout)
    assert.deepEqual(rpcAddresses, [`127.0.0.1:${rpcPort}`, `127.0.0.1:${rpcPort + 1}`], 'the members listen on the internode ports asked')
    const report = JSON.parse(result.stdout) as {config: {targetNodes: string[]}; run: {opsPerS: number}}
    assert.ok(report.run.opsPerS > 0)
    assert.deepEqual(report.config.targetNodes, [`127.0.0.1:${port}`, `127.0.0.1:${port + 1}`])
  })

  it('reaches an http:// node over plain HTTP even with a CA exported for TLS clusters (DYN_TLS_CA), as every command does', async () => {
    const certificates = await makeReadmeCertificates(path.join(dir, 'tls'))
    const result = await runDyn(['bench', '--node', `http://${c.api(0)}`, '--connections', '2', '--duration', '1', '--warmup', '0', '--records', '20', '--json'], {env: {DYN_TLS_CA: certificates.caFile}, timeoutMs: benchTimeoutMs})
    assert.equal(result.code, 0, result.stderr + result.stdout)
    const report = JSON.parse(result.stdout) as {config: {https?: boolean}; run: {opsPerS: number}}
    assert.equal(report.config.https, undefined)
    assert.ok(report.run.opsPerS > 0)
  })

  it('--hdr-out writes the histograms, which decode to the recorded counts', async () => {
    const file = path.join(dir, 'run.hdr.json')
    const result = await runDyn(['bench', ...nodeFlags, '--workload', 'b', '--connections', '4', '--duration', '1', '--records', '100', '--hdr-out', file, '--json'], {timeoutMs: benchTimeoutMs})
    assert.equal(result.code, 0, result.stderr + result.stdout)
    const report = parseReport(result.stdout)
    const saved = JSON.parse(await readFile(file, 'utf8')) as {format: string; workload: string; histograms: Record<string, string>}
    assert.equal(saved.workload, 'b')
    assert.match(saved.format, /HdrHistogram/)
    assert.deepEqual(Object.keys(saved.histograms).sort(), report.run.operations.map((op) => op.operation).sort())
    for (const op of report.run.operations) {
      const histogram = hdr.decodeFromCompressedBase64(saved.histograms[op.operation] ?? '')
      assert.equal(histogram.totalCount, op.count, `${op.operation} histogram count`)
      histogram.destroy()
    }
  })
})
