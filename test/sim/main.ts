/**
 * `npm run sim`: runs simulated seeds and checks each (issue 7).
 *
 *   npm run sim -- --seed 42                    one seed, with its history on failure
 *   npm run sim -- --seeds 1000                 seeds 1..1000 (or --from F for F..F+999)
 *   npm run sim -- --seeds 10000 --jobs 2       the same, split across 2 worker processes
 *
 * Exits 1 if any seed finds a violation, printing for each the command that reproduces it.
 * With --jobs, seed i goes to worker i mod J (neighbouring seeds cost alike, so the workers
 * finish together); each worker reports every seed to the parent, which prints failures as they
 * come and one summary line at the end. A seed's run does not depend on the worker it ran in.
 */

import {fork} from 'node:child_process'
import {availableParallelism} from 'node:os'
import {parseArgs} from 'node:util'
import {describeFailure, runSeed} from './simulator.js'

/** What a worker (or the single process) reports of one seed. */
interface SeedReport {
  readonly seed: number
  readonly failed: boolean
  readonly operations: number
  readonly simulatedMs: number
  /** Requests the availability model said must succeed, and deletes the resurrection check met. */
  readonly mustSucceed?: number
  readonly deletesChecked?: number
  /** Gets that asked more replicas than R. */
  readonly readsAskingMoreThanR?: number
  /** Whether its nodes ran several to a machine, and whether a whole machine failed. */
  readonly sharedMachines?: boolean
  readonly machineFailed?: boolean
  /** Printed by the parent as it comes: a failure's description, or with --verbose the seed's line. */
  readonly text?: string
}

/** The environment variable that makes this script a worker, taking its seeds from the parent. */
const workerVariable = 'DYN_SIM_WORKER'

async function runOne(seed: number, verbose: boolean): Promise<SeedReport> {
  let result: Awaited<ReturnType<typeof runSeed>>
  try {
    result = await runSeed(seed)
  } catch (error) {
    // A run that throws (a stuck cluster, a harness error) is a failure of its seed, not of the campaign.
    return {seed, failed: true, operations: 0, simulatedMs: 0, text: `seed ${seed}: the run threw — reproduce with: npm run sim -- --seed ${seed}\n  ${(error as Error).stack ?? String(error)}`}
  }
  const {operations, simulatedMs} = result
  const {mustSucceed, deletesChecked, readsAskingMoreThanR} = result.exercised
  const sharedMachines = (result.config.cluster.processesPerMachine ?? 1) > 1
  const machineFailed = result.history.log.some((line) => /^machine \S+ fails/.test(line.text))
  if (result.violations.length > 0) return {seed, failed: true, operations, simulatedMs, mustSucceed, deletesChecked, readsAskingMoreThanR, sharedMachines, machineFailed, text: describeFailure(result)}
  const line = `seed ${seed}: ok — ${operations} operations (${mustSucceed} owed an answer, ${readsAskingMoreThanR} gets asked more than R), ${deletesChecked} delete(s) checked, ${(simulatedMs / 1000).toFixed(1)} s simulated, ${result.events} events, digest ${result.digest.slice(0, 16)}`
  return {seed, failed: false, operations, simulatedMs, mustSucceed, deletesChecked, readsAskingMoreThanR, sharedMachines, machineFailed, ...(verbose ? {text: line} : {})}
}

function parseOptions() {
  return parseArgs({
    options: {
      seed: {type: 'string'},
      seeds: {type: 'string'},
      from: {type: 'string', default: '1'},
      jobs: {type: 'string', default: '1'},
      verbose: {type: 'boolean', default: false},
      help: {type: 'boolean', short: 'h', default: false},
    },
  })
}

if (process.env[workerVariable] === '1' && process.send !== undefined) {
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
} else {
  await main()
}

/** Hoisted, as main() runs before the module's constants are set. */
function usage(): string {
  return `usage: npm run sim -- [--seed S | --seeds N [--from F]] [--jobs J] [--verbose]

  --seed S     run seed S alone, printing its history if it fails
  --seeds N    run N seeds, F..F+N-1 (default: 20 seeds)
  --from F     the first seed of --seeds (default 1)
  --jobs J     split the seeds across J worker processes (default 1)
  --verbose    print a line for every seed, not only for failures

Exits 0 when every seed passes, 1 when one finds a violation, 2 on bad usage.
`
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseOptions>
  try {
    parsed = parseOptions()
  } catch (error) {
    process.stderr.write(`sim: ${(error as Error).message}\n\n${usage()}`)
    process.exit(2)
  }
  const {values} = parsed
  if (values.help) {
    process.stdout.write(usage())
    return
  }

  const wholeNumber = (name: string, raw: string): number => {
    const value = Number(raw)
    if (!Number.isSafeInteger(value) || value < 0) {
      process.stderr.write(`sim: --${name} must be a whole number, not ${JSON.stringify(raw)}\n`)
      process.exit(2)
    }
    return value
  }

  const seeds: number[] =
    values.seed !== undefined
      ? [wholeNumber('seed', values.seed)]
      : Array.from({length: wholeNumber('seeds', values.seeds ?? '20')}, (_, index) => wholeNumber('from', values.from) + index)
  const jobs = Math.min(Math.max(1, wholeNumber('jobs', values.jobs)), seeds.length, availableParallelism() * 4)
  const verbose = values.verbose || seeds.length === 1

  const startedMs = performance.now()
  let operations = 0
  let simulatedMs = 0
  let failed = 0
  let mustSucceed = 0
  let seedsWithDeleteChecked = 0
  let seedsWithReadsAskingMore = 0
  let seedsOnSharedMachines = 0
  let seedsWithMachineFailures = 0
  const take = (report: SeedReport): void => {
    operations += report.operations
    simulatedMs += report.simulatedMs
    mustSucceed += report.mustSucceed ?? 0
    if ((report.deletesChecked ?? 0) > 0) seedsWithDeleteChecked += 1
    if ((report.readsAskingMoreThanR ?? 0) > 0) seedsWithReadsAskingMore += 1
    if (report.sharedMachines === true) seedsOnSharedMachines += 1
    if (report.machineFailed === true) seedsWithMachineFailures += 1
    if (report.failed) failed += 1
    if (report.text !== undefined) process.stdout.write(`${report.text}\n`)
  }
  if (jobs === 1) {
    for (const seed of seeds) take(await runOne(seed, verbose))
  } else {
    const shares = Array.from({length: jobs}, (_, job) => seeds.filter((_, index) => index % jobs === job))
    await Promise.all(shares.map((share) => runWorker(share, verbose, take)))
  }
  const elapsedS = (performance.now() - startedMs) / 1000
  const across = jobs > 1 ? ` across ${jobs} jobs` : ''
  process.stdout.write(
    `${seeds.length - failed} passed, ${failed} failed: ${seeds.length} seeds in ${elapsedS.toFixed(1)} s${across} ` +
      `(${(seeds.length / elapsedS).toFixed(2)} seeds/s, ${Math.round(operations / elapsedS)} simulated operations/s, ${(simulatedMs / 1000 / elapsedS).toFixed(0)}x real time); ` +
      `${mustSucceed} requests owed an answer, a delete checked in ${seedsWithDeleteChecked} seeds, gets asking more than R in ${seedsWithReadsAskingMore} seeds, ` +
      `nodes sharing machines in ${seedsOnSharedMachines} seeds (a whole machine failed in ${seedsWithMachineFailures})\n`,
  )
  process.exit(failed > 0 ? 1 : 0)
}

/** Runs `seeds` in a worker process; a seed the worker did not report (it died) counts as failed. */
function runWorker(seeds: readonly number[], verbose: boolean, take: (report: SeedReport) => void): Promise<void> {
  return new Promise((resolve) => {
    const worker = fork(process.argv[1]!, [], {env: {...process.env, [workerVariable]: '1'}, stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
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
