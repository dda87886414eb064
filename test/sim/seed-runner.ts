/**
 * Runs simulator seeds in this process or split across worker processes, and reports each seed
 * as a small summary (issue 7). `npm run sim` (main.ts) uses it for campaigns (`--jobs`), and
 * `npm test`'s simulator suite for its fixed seeds and its regression seeds (some of them run
 * with the shape they were found with), a worker per core.
 *
 * With J workers, run i goes to worker i mod J (neighbouring seeds cost alike, so the workers
 * finish together); each worker is this module run as a script, takes its runs in one message
 * and sends one report per run back. A run does not depend on the worker it ran in: the simulator
 * takes its time and randomness from the seed (and the config it is given) alone.
 */

import {fork} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {describeFailure, runSeed} from './simulator.js'
import type {RunConfig} from './simulator.js'

/**
 * One run: a seed, and the shape it runs with when that is not the one the seed draws (a
 * regression seed run as it was found, before a variant was added to the seeds' shapes).
 */
export interface SeedJob {
  readonly seed: number
  readonly config?: RunConfig
}

/** What a worker (or the single process) reports of one seed. */
export interface SeedReport {
  readonly seed: number
  readonly failed: boolean
  readonly operations: number
  readonly simulatedMs: number
  /** Requests the availability model said must succeed, and deletes the resurrection check met. */
  readonly mustSucceed?: number
  readonly deletesChecked?: number
  /** Gets that asked more replicas than R. */
  readonly readsAskingMoreThanR?: number
  /** Puts a coordinator refused because the key was at its siblings limit. */
  readonly putsRefusedForSiblings?: number
  /** Whether its nodes ran several to a machine, and whether a whole machine failed. */
  readonly sharedMachines?: boolean
  readonly machineFailed?: boolean
  /** Whether a node's disk failed and its store stopped taking writes (runDiskFailure). */
  readonly writesStopped?: boolean
  /** Whether a node restarted on its folder without confirming that it is still a member, and so took no writes for a while (membership-confirmation.ts). */
  readonly unconfirmedRestart?: boolean
  /** A failure's description, or with `verbose` the seed's line. */
  readonly text?: string
}

/** The environment variable that makes this module a worker, taking its seeds from the parent. */
const workerVariable = 'DYN_SIM_WORKER'

/** Runs one seed (with `config`, when given); a run that throws is a failure of its seed, reported like any other. */
export async function runOne(seed: number, verbose: boolean, config?: RunConfig): Promise<SeedReport> {
  let result: Awaited<ReturnType<typeof runSeed>>
  try {
    result = await runSeed(seed, config)
  } catch (error) {
    // A run that throws (a stuck cluster, a harness error) is a failure of its seed, not of the campaign.
    return {seed, failed: true, operations: 0, simulatedMs: 0, text: `seed ${seed}: the run threw — reproduce with: npm run sim -- --seed ${seed}\n  ${(error as Error).stack ?? String(error)}`}
  }
  const {operations, simulatedMs} = result
  const {mustSucceed, deletesChecked, readsAskingMoreThanR, putsRefusedForSiblings} = result.exercised
  const sharedMachines = (result.config.cluster.processesPerMachine ?? 1) > 1
  const machineFailed = result.history.log.some((line) => /^machine \S+ fails/.test(line.text))
  const writesStopped = result.history.log.some((line) => /^\S+'s store took no writes: /.test(line.text))
  const unconfirmedRestart = result.history.log.some((line) => /^\S+: warning: \S+ restarted on its folder where it could not confirm that it is still a member/.test(line.text))
  const counts = {operations, simulatedMs, mustSucceed, deletesChecked, readsAskingMoreThanR, putsRefusedForSiblings, sharedMachines, machineFailed, writesStopped, unconfirmedRestart}
  if (result.violations.length > 0) return {seed, failed: true, ...counts, text: describeFailure(result)}
  const line = `seed ${seed}: ok — ${operations} operations (${mustSucceed} owed an answer, ${readsAskingMoreThanR} gets asked more than R), ${deletesChecked} delete(s) checked, ${(simulatedMs / 1000).toFixed(1)} s simulated, ${result.events} events, digest ${result.digest.slice(0, 16)}`
  return {seed, failed: false, ...counts, ...(verbose ? {text: line} : {})}
}

/**
 * Runs `seeds` across `jobs` worker processes (in this process when `jobs` is 1), calling `take`
 * with each seed's report as it comes; resolves once every seed is reported. A seed a worker did
 * not report (it died) is reported failed.
 */
export async function runSeeds(seeds: readonly number[], jobs: number, verbose: boolean, take: (report: SeedReport) => void): Promise<void> {
  await runJobs(
    seeds.map((seed) => ({seed})),
    jobs,
    verbose,
    (_index, report) => take(report),
  )
}

/**
 * Runs `runs` across `workers` worker processes (in this process when `workers` is 1), calling
 * `take` with each run's index in `runs` and its report as it comes; resolves once every run is
 * reported. A run a worker did not report (it died) is reported failed.
 */
export async function runJobs(runs: readonly SeedJob[], workers: number, verbose: boolean, take: (index: number, report: SeedReport) => void): Promise<void> {
  if (workers <= 1) {
    for (const [index, run] of runs.entries()) take(index, await runOne(run.seed, verbose, run.config))
    return
  }
  const indexes = runs.map((_, index) => index)
  const shares = Array.from({length: workers}, (_, worker) => indexes.filter((index) => index % workers === worker)).filter((share) => share.length > 0)
  await Promise.all(shares.map((share) => runWorker(runs, share, verbose, take)))
}

/** What a worker is sent (its runs, with their indexes in the whole list) and sends back. */
interface WorkerRuns {
  readonly runs: ReadonlyArray<SeedJob & {readonly index: number}>
  readonly verbose: boolean
}
interface WorkerReport {
  readonly index: number
  readonly report: SeedReport
}

function runWorker(runs: readonly SeedJob[], share: readonly number[], verbose: boolean, take: (index: number, report: SeedReport) => void): Promise<void> {
  return new Promise((resolve) => {
    // Structured clone, not JSON: a run's config holds fields that may be undefined.
    const worker = fork(fileURLToPath(import.meta.url), [], {env: {...process.env, [workerVariable]: '1'}, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced'})
    const reported = new Set<number>()
    worker.on('message', ({index, report}: WorkerReport) => {
      reported.add(index)
      take(index, report)
    })
    worker.on('exit', (code, signal) => {
      const missing = share.filter((index) => !reported.has(index))
      if (missing.length > 0) {
        const seeds = missing.map((index) => runs[index]!.seed)
        take(missing[0]!, {seed: seeds[0]!, failed: true, operations: 0, simulatedMs: 0, text: `a worker ended (${signal ?? `exit ${code}`}) before seeds ${seeds.join(', ')} — reproduce with: npm run sim -- --seed ${seeds[0]}`})
        for (const index of missing.slice(1)) take(index, {seed: runs[index]!.seed, failed: true, operations: 0, simulatedMs: 0})
      }
      resolve()
    })
    const message: WorkerRuns = {runs: share.map((index) => ({...runs[index]!, index})), verbose}
    worker.send(message)
  })
}

if (process.env[workerVariable] === '1' && process.send !== undefined && process.argv[1] === fileURLToPath(import.meta.url)) {
  // A worker: one message with its runs, one report per run, then it ends.
  process.once('message', (message: WorkerRuns) => {
    void (async () => {
      for (const run of message.runs) {
        const answer: WorkerReport = {index: run.index, report: await runOne(run.seed, message.verbose, run.config)}
        await new Promise<void>((resolve) => process.send!(answer, () => resolve()))
      }
      process.disconnect()
    })()
  })
}
