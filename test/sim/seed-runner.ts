/**
 * Runs simulator seeds in this process or split across worker processes, and reports each seed
 * as a small summary (issue 7). `npm run sim` (main.ts) uses it for campaigns (`--jobs`), and
 * `npm test`'s simulator suite for its fixed seeds, a worker per core.
 *
 * With more than one job, seed i goes to worker i mod J (neighbouring seeds cost alike, so the
 * workers finish together); each worker is this module run as a script, takes its seeds in one
 * message and sends one report per seed back. A seed's run does not depend on the worker it ran
 * in: the simulator takes its time and randomness from the seed alone.
 */

import {fork} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {describeFailure, runSeed} from './simulator.js'

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
  /** A failure's description, or with `verbose` the seed's line. */
  readonly text?: string
}

/** The environment variable that makes this module a worker, taking its seeds from the parent. */
const workerVariable = 'DYN_SIM_WORKER'

/** Runs one seed; a run that throws is a failure of its seed, reported like any other. */
export async function runOne(seed: number, verbose: boolean): Promise<SeedReport> {
  let result: Awaited<ReturnType<typeof runSeed>>
  try {
    result = await runSeed(seed)
  } catch (error) {
    // A run that throws (a stuck cluster, a harness error) is a failure of its seed, not of the campaign.
    return {seed, failed: true, operations: 0, simulatedMs: 0, text: `seed ${seed}: the run threw — reproduce with: npm run sim -- --seed ${seed}\n  ${(error as Error).stack ?? String(error)}`}
  }
  const {operations, simulatedMs} = result
  const {mustSucceed, deletesChecked, readsAskingMoreThanR, putsRefusedForSiblings} = result.exercised
  const sharedMachines = (result.config.cluster.processesPerMachine ?? 1) > 1
  const machineFailed = result.history.log.some((line) => /^machine \S+ fails/.test(line.text))
  const counts = {operations, simulatedMs, mustSucceed, deletesChecked, readsAskingMoreThanR, putsRefusedForSiblings, sharedMachines, machineFailed}
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
  if (jobs <= 1) {
    for (const seed of seeds) take(await runOne(seed, verbose))
    return
  }
  const shares = Array.from({length: jobs}, (_, job) => seeds.filter((_, index) => index % jobs === job)).filter((share) => share.length > 0)
  await Promise.all(shares.map((share) => runWorker(share, verbose, take)))
}

function runWorker(seeds: readonly number[], verbose: boolean, take: (report: SeedReport) => void): Promise<void> {
  return new Promise((resolve) => {
    const worker = fork(fileURLToPath(import.meta.url), [], {env: {...process.env, [workerVariable]: '1'}, stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
    const reported = new Set<number>()
    worker.on('message', (report: SeedReport) => {
      reported.add(report.seed)
      take(report)
    })
    worker.on('exit', (code, signal) => {
      const missing = seeds.filter((seed) => !reported.has(seed))
      if (missing.length > 0) {
        const first = missing[0]!
        take({seed: first, failed: true, operations: 0, simulatedMs: 0, text: `a worker ended (${signal ?? `exit ${code}`}) before seeds ${missing.join(', ')} — reproduce with: npm run sim -- --seed ${first}`})
        for (const seed of missing.slice(1)) take({seed, failed: true, operations: 0, simulatedMs: 0})
      }
      resolve()
    })
    worker.send({seeds, verbose})
  })
}

if (process.env[workerVariable] === '1' && process.send !== undefined && process.argv[1] === fileURLToPath(import.meta.url)) {
  // A worker: one message with its seeds, one report per seed, then it ends.
  process.once('message', (message: {seeds: number[]; verbose: boolean}) => {
    void (async () => {
      for (const seed of message.seeds) {
        const report = await runOne(seed, message.verbose)
        await new Promise<void>((resolve) => process.send!(report, () => resolve()))
      }
      process.disconnect()
    })()
  })
}
