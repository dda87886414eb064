/**
 * Whether an open loop's tail is the machine's run queue (issue 18's third target: p99.9 under
 * 10 ms at half the closed loop's throughput). A 3-node cluster is made with `dyn cluster up`,
 * then one bench run loads it and runs an open loop at `--rate`, as `dyn bench` does; each
 * node's threads, and this process's (the load generator), are read from Linux's
 * /proc/PID/task/TID/schedstat when the measured window starts and when it ends (the open loop
 * names both): the time each thread ran on a CPU, the time it was runnable but waited for one,
 * and how often it was switched in. A node's main thread is its event loop: every request it
 * handles waits whenever that thread waits, so when it waits for a CPU about as long as it runs,
 * the tail measures the machine's scheduler as much as the store. The generator's event loop
 * times every operation, so its waits are in the latencies too. Linux only; figures per second
 * of the measured window.
 *
 *   node dist/bench/experiments/run-queue.js [--rate 3850] [--workload a] [--duration 10]
 *       [--warmup 5] [--records 10000] [--json]
 */

import {readdirSync, readFileSync, rmSync} from 'node:fs'
import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {clusterDownAndRemoveFolder, clusterUp, removeFolder} from '../../src/cli/local-cluster.js'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {runBench} from '../runner.js'
import {warmupSOpenDefault} from '../warmup.js'
import {experimentConfig, experimentFlags, markdownTable, ms, positiveInteger, wholeNumber, workloadName} from './common.js'

const options = experimentFlags({
  name: 'run-queue',
  measures:
    "Whether an open loop's tail is the machine's run queue: a 3-node cluster is loaded and run in an open loop as dyn bench runs it, and every thread of each node and of the load generator is read from Linux's /proc/PID/task/TID/schedstat over the measured window: how long it ran on a CPU, how long it waited for one, how often it was switched in. Linux only.",
  flags: {
    rate: {read: positiveInteger, value: 'R', default: '3850', description: 'the open loop\'s operations per second'},
    workload: {read: workloadName, value: 'W', default: 'a', description: 'the bench\'s workload, as dyn bench --workload'},
    duration: {read: positiveInteger, value: 'S', default: '10', description: 'measured seconds'},
    warmup: {read: wholeNumber(0), value: 'S', default: String(warmupSOpenDefault), description: 'seconds of the same load before measuring'},
    records: {read: positiveInteger, value: 'N', default: '10000', description: 'keys loaded before the run'},
    json: {description: 'print the figures as one JSON object'},
  },
  examples: ['node dist/bench/experiments/run-queue.js --rate 1925 --warmup 2    # a quarter of the closed loop\'s rate', 'node dist/bench/experiments/run-queue.js --rate 3850 --warmup 2    # half'],
})
const {workload, rate: ratePerS, duration: durationS, warmup: warmupS, records} = options
const readyTimeoutMs = 60_000
const stopTimeoutMs = 30_000

/** One thread's counters: ns on a CPU, ns runnable but waiting for one, times switched in. */
interface ThreadSched {
  readonly runNs: number
  readonly waitNs: number
  readonly slices: number
}

/** Every thread of a process by thread id (the main thread's id is the process's), read at `atMs`. */
interface Snapshot {
  readonly atMs: number
  readonly threads: ReadonlyMap<number, ThreadSched>
}

/**
 * Reads every thread of `pid` synchronously, so that the window's edges are where the driver
 * named them. Fails when the process's main thread cannot be read: a node that exited, or a
 * kernel without schedstat, would otherwise show as a thread that never ran or waited.
 */
function threadsOf(pid: number): Map<number, ThreadSched> {
  const threads = new Map<number, ThreadSched>()
  let tids: string[] = []
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    tids = []
  }
  for (const tid of tids) {
    let text = ''
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8')
    } catch {
      continue // the thread ended between the listing and the read
    }
    const fields = text.trim().split(/\s+/).map(Number)
    if (fields.length === 3 && fields.every(Number.isFinite)) threads.set(Number(tid), {runNs: fields[0]!, waitNs: fields[1]!, slices: fields[2]!})
  }
  if (!threads.has(pid)) throw new Error(`no schedstat for process ${pid}: it exited, or this kernel does not keep schedstat (Linux with CONFIG_SCHED_INFO)`)
  return threads
}

/**
 * Per second of the window: the main thread's figures, and the other threads' summed. A thread
 * that ended during the window is missing from its end and not counted; a thread id reused by a
 * new thread would go backwards, and counts from zero instead.
 */
function perSecond(pid: number, before: Snapshot, after: Snapshot): {main: ThreadSched; others: ThreadSched} {
  const seconds = (after.atMs - before.atMs) / 1000
  const zero = {runNs: 0, waitNs: 0, slices: 0}
  const others = {...zero}
  let main = {...zero}
  for (const [tid, end] of after.threads) {
    const known = before.threads.get(tid)
    const start = known === undefined || known.runNs > end.runNs ? zero : known
    const delta = {runNs: (end.runNs - start.runNs) / seconds, waitNs: (end.waitNs - start.waitNs) / seconds, slices: (end.slices - start.slices) / seconds}
    if (tid === pid) main = delta
    else {
      others.runNs += delta.runNs
      others.waitNs += delta.waitNs
      others.slices += delta.slices
    }
  }
  return {main, others}
}

const dir = await mkdtemp(path.join(tmpdir(), 'dyn-run-queue-'))
const log = (line: string): void => void process.stderr.write(`${line}\n`)
let clusterStarted = false
let startedPids: number[] = []
// Interrupted, the nodes (detached, each under a small wrapper) are stopped here, before the
// bench's own handler ends the process: nothing outlives the experiment.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const pid of startedPids) {
      try {
        process.kill(pid, 'SIGTERM')
      } catch {
        // already gone
      }
    }
    rmSync(dir, {recursive: true, force: true})
    process.exit(130)
  })
}
try {
  const {port, rpcPort} = await freeClusterPorts(3)
  const cluster = await clusterUp({dir, nodeCount: 3, port, rpcPort, startArgs: [], readyTimeoutMs}, log)
  clusterStarted = true
  startedPids = cluster.nodes.flatMap((node) => [node.pid, node.wrapperPid].filter((pid): pid is number => pid !== undefined))
  const addresses = cluster.nodes.map((node) => `${cluster.host}:${node.port}`)
  const pids = cluster.nodes.map((node) => node.pid)
  if (pids.some((pid) => pid === undefined)) throw new Error('dyn cluster up did not record every node pid')
  // The load generator (this process) last: its event loop's waits delay the operations it times too.
  const watched = [...(pids as number[]), process.pid]
  const snapshot = (): Snapshot[] => {
    const atMs = performance.now()
    return watched.map((pid) => ({atMs, threads: threadsOf(pid)}))
  }
  let before: Snapshot[] | undefined
  let after: Snapshot[] | undefined
  let windowFailure: Error | undefined
  log(`loading ${records} records, then an open loop at ${ratePerS} ops/s: ${warmupS} s of warm-up, then ${durationS} s measured`)
  // One run, load included, as dyn bench makes it: the run's updates then start from the
  // contexts the load saw. The driver names the measured window's edges.
  const report = await runBench(
    experimentConfig({
      nodes: addresses,
      startNodes: 0,
      workload,
      records,
      mode: {kind: 'open', ratePerS},
      durationS,
      warmupS,
      load: true,
      onMeasuredWindow: (edge) => {
        // Called from the driver's timer: a failure is kept for after the run, not thrown there.
        try {
          if (edge === 'start') before = snapshot()
          else after = snapshot()
        } catch (error) {
          windowFailure ??= error as Error
        }
      },
    }),
    undefined,
  )
  if (windowFailure !== undefined) throw windowFailure
  if (before === undefined || after === undefined) throw new Error('the open loop did not name its measured window (it stopped early)')
  const ends = after
  const starts = before
  const names = [...cluster.nodes.map((node) => node.name), 'bench (the load generator)']
  const nodes = watched.map((pid, index) => ({name: names[index]!, ...perSecond(pid, starts[index]!, ends[index]!)}))
  const latency = report.run.operations.map((operation) => ({operation: operation.operation, p50Ms: operation.latency.p50Ms, p99Ms: operation.latency.p99Ms, p999Ms: operation.latency.p999Ms}))
  if (options.json) {
    process.stdout.write(`${JSON.stringify({workload, ratePerS, durationS, warmupS, records, goodputPerS: report.run.goodputPerS ?? report.run.opsPerS, latency, nodes}, null, 2)}\n`)
  } else {
    const msPerS = (ns: number): string => (ns / 1e6).toFixed(0)
    process.stdout.write(
      `workload ${workload}, open loop at ${ratePerS} ops/s, ${durationS} s after ${warmupS} s of warm-up: goodput ${(report.run.goodputPerS ?? report.run.opsPerS).toFixed(0)} ops/s; ${latency.map((l) => `${l.operation} p50 ${ms(l.p50Ms)} ms, p99 ${ms(l.p99Ms)} ms, p99.9 ${ms(l.p999Ms)} ms`).join('; ')}\n\n`,
    )
    process.stdout.write(
      `${markdownTable(
        ['process', 'event loop: ran ms/s', 'waited for a CPU ms/s', 'switched in /s', 'other threads: ran ms/s', 'waited ms/s'],
        nodes.map((node) => [node.name, msPerS(node.main.runNs), msPerS(node.main.waitNs), node.main.slices.toFixed(0), msPerS(node.others.runNs), msPerS(node.others.waitNs)]),
      )}\n`,
    )
  }
} finally {
  // Whatever happened after the cluster came up, its nodes are stopped before the folder goes.
  if (clusterStarted) await clusterDownAndRemoveFolder(dir, stopTimeoutMs, log).catch((error: Error) => log(`stopping the cluster: ${error.message}`))
  await removeFolder(dir)
}
