/**
 * `npm run sim`: runs simulated seeds and checks each (issue 7).
 *
 *   npm run sim -- --seed 42            one seed, with its history on failure
 *   npm run sim -- --seeds 1000         seeds 1..1000 (or --from F for F..F+999)
 *
 * Exits 1 if any seed finds a violation, printing for each the command that reproduces it.
 */

import {parseArgs} from 'node:util'
import {describeFailure, runSeed} from './simulator.js'

const {values} = parseArgs({
  options: {
    seed: {type: 'string'},
    seeds: {type: 'string'},
    from: {type: 'string', default: '1'},
    verbose: {type: 'boolean', default: false},
  },
})

function wholeNumber(name: string, raw: string): number {
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

const startedMs = performance.now()
let operations = 0
let simulatedMs = 0
let failed = 0
for (const seed of seeds) {
  let result: Awaited<ReturnType<typeof runSeed>>
  try {
    result = await runSeed(seed)
  } catch (error) {
    // A run that throws (a stuck cluster, a harness error) is a failure of its seed, not of the campaign.
    failed += 1
    process.stdout.write(`seed ${seed}: the run threw — reproduce with: npm run sim -- --seed ${seed}\n  ${(error as Error).stack ?? String(error)}\n`)
    continue
  }
  operations += result.operations
  simulatedMs += result.simulatedMs
  if (result.violations.length > 0) {
    failed += 1
    process.stdout.write(`${describeFailure(result)}\n`)
  } else if (values.verbose || seeds.length === 1) {
    process.stdout.write(`seed ${seed}: ok — ${result.operations} operations, ${(result.simulatedMs / 1000).toFixed(1)} s simulated, ${result.events} events, digest ${result.digest.slice(0, 16)}\n`)
  }
}
const elapsedS = (performance.now() - startedMs) / 1000
process.stdout.write(
  `${seeds.length - failed} passed, ${failed} failed: ${seeds.length} seeds in ${elapsedS.toFixed(1)} s ` +
    `(${(seeds.length / elapsedS).toFixed(2)} seeds/s, ${Math.round(operations / elapsedS)} simulated operations/s, ${(simulatedMs / 1000 / elapsedS).toFixed(0)}x real time)\n`,
)
process.exit(failed > 0 ? 1 : 0)
