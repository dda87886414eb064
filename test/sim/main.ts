/**
 * `npm run sim`: runs simulated seeds and checks each (issue 7).
 *
 *   npm run sim -- --seed 42                    one seed, with its history on failure
 *   npm run sim -- --seeds 1000                 seeds 1..1000 (or --from F for F..F+999)
 *   npm run sim -- --seeds 10000 --jobs 2       the same, split across 2 worker processes
 *
 * Exits 1 if any seed finds a violation, printing for each the command that reproduces it.
 * With --jobs, the seeds are split across worker processes (seed-runner.ts), each of which
 * reports every seed to this one; it prints failures as they come and one summary line at the end.
 */

import {availableParallelism} from 'node:os'
import {parseArgs} from 'node:util'
import {runSeeds, type SeedReport} from './seed-runner.js'

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

await main()

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
  let seedsWithWritesStopped = 0
  let seedsWithUnconfirmedRestarts = 0
  const take = (report: SeedReport): void => {
    operations += report.operations
    simulatedMs += report.simulatedMs
    mustSucceed += report.mustSucceed ?? 0
    if ((report.deletesChecked ?? 0) > 0) seedsWithDeleteChecked += 1
    if ((report.readsAskingMoreThanR ?? 0) > 0) seedsWithReadsAskingMore += 1
    if (report.sharedMachines === true) seedsOnSharedMachines += 1
    if (report.machineFailed === true) seedsWithMachineFailures += 1
    if (report.writesStopped === true) seedsWithWritesStopped += 1
    if (report.unconfirmedRestart === true) seedsWithUnconfirmedRestarts += 1
    if (report.failed) failed += 1
    if (report.text !== undefined) process.stdout.write(`${report.text}\n`)
  }
  await runSeeds(seeds, jobs, verbose, take)
  const elapsedS = (performance.now() - startedMs) / 1000
  const across = jobs > 1 ? ` across ${jobs} jobs` : ''
  process.stdout.write(
    `${seeds.length - failed} passed, ${failed} failed: ${seeds.length} seeds in ${elapsedS.toFixed(1)} s${across} ` +
      `(${(seeds.length / elapsedS).toFixed(2)} seeds/s, ${Math.round(operations / elapsedS)} simulated operations/s, ${(simulatedMs / 1000 / elapsedS).toFixed(0)}x real time); ` +
      `${mustSucceed} requests owed an answer, a delete checked in ${seedsWithDeleteChecked} seeds, gets asking more than R in ${seedsWithReadsAskingMore} seeds, ` +
      `nodes sharing machines in ${seedsOnSharedMachines} seeds (a whole machine failed in ${seedsWithMachineFailures}), a node's writes stopped on a failing disk in ${seedsWithWritesStopped} seeds, ` +
      `a node restarted without confirming that it is still a member in ${seedsWithUnconfirmedRestarts} seeds\n`,
  )
  process.exit(failed > 0 ? 1 : 0)
}
