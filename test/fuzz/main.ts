/**
 * `npm run fuzz`: the in-process fuzzers of issue 16 ("Hostile input"), one target after another,
 * each for `--inputs` inputs (10^6 by default) from `--seed` (random and printed when absent).
 *
 *   node dist/test/fuzz/main.js                              every target, 10^6 inputs each
 *   node dist/test/fuzz/main.js --target http --inputs 5000  one target, fewer inputs
 *   node dist/test/fuzz/main.js --target frame --seed 7 --skip 1234 --inputs 1   replay one input
 *
 * Prints inputs per second per target and the totals; the first input that breaks a property
 * stops the run with its seed, index and bytes (hex), and exit code 1.
 */

import {parseArgs} from 'node:util'
import {FuzzFailure, type FuzzTarget, type TargetReport} from './fuzz-common.js'
import {frameTarget} from './frame-target.js'
import {httpTarget} from './http-target.js'
import {internodeTarget} from './internode-target.js'
import {objectTarget} from './object-target.js'

export const fuzzTargets: readonly FuzzTarget[] = [frameTarget, objectTarget, internodeTarget, httpTarget]

const inputsDefault = 1_000_000

const usage = `usage: npm run fuzz -- [--target ${fuzzTargets.map((target) => target.name).join('|')}]... [--inputs N] [--seed S] [--skip I]
  every target (or those given) for N inputs each (default ${inputsDefault}) from seed S (random when absent);
  --seed S --skip I --inputs 1 replays one input. Exit 1 on the first input that breaks a property.`

async function main(): Promise<number> {
  let values: {target?: string[]; inputs?: string; seed?: string; skip?: string; help?: boolean}
  try {
    values = parseArgs({
      options: {
        target: {type: 'string', multiple: true},
        inputs: {type: 'string'},
        seed: {type: 'string'},
        skip: {type: 'string'},
        help: {type: 'boolean'},
      },
    }).values
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`)
    return 2
  }
  if (values.help === true) {
    console.log(usage)
    return 0
  }
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed)
  const inputs = values.inputs === undefined ? inputsDefault : Number(values.inputs)
  const skip = values.skip === undefined ? 0 : Number(values.skip)
  for (const [name, value] of [['seed', seed], ['inputs', inputs], ['skip', skip]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) {
      console.error(`--${name} must be a whole number >= 0`)
      return 2
    }
  }
  const names = values.target ?? fuzzTargets.map((target) => target.name)
  const chosen = names.map((name) => fuzzTargets.find((target) => target.name === name))
  if (chosen.some((target) => target === undefined)) {
    console.error(`unknown --target; the targets are ${fuzzTargets.map((target) => target.name).join(', ')}`)
    return 2
  }
  console.log(`fuzz: seed ${seed}, ${inputs} inputs per target from input ${skip}`)
  const reports: TargetReport[] = []
  for (const target of chosen as FuzzTarget[]) {
    let lastPrintedMs = performance.now()
    const began = performance.now()
    try {
      const report = await target.run({
        seed,
        inputs,
        skip,
        progress: (done) => {
          if (performance.now() - lastPrintedMs < 10_000) return
          lastPrintedMs = performance.now()
          console.log(`  ${target.name}: ${done} inputs, ${Math.round(done / ((lastPrintedMs - began) / 1000))}/s`)
        },
      })
      reports.push(report)
      console.log(`${target.name}: ${report.inputs} inputs in ${(report.elapsedMs / 1000).toFixed(1)} s, ${Math.round(report.inputs / (report.elapsedMs / 1000))} inputs/s; ${describeBreakdown(report.breakdown)}`)
    } catch (error) {
      if (error instanceof FuzzFailure) {
        console.error(error.message)
        return 1
      }
      throw error
    }
  }
  const total = reports.reduce((sum, report) => sum + report.inputs, 0)
  const elapsedMs = reports.reduce((sum, report) => sum + report.elapsedMs, 0)
  console.log(`total: ${total} inputs over ${reports.length} target(s) in ${(elapsedMs / 1000).toFixed(1)} s, no property broken (seed ${seed})`)
  return 0
}

function describeBreakdown(breakdown: Record<string, number>): string {
  return Object.entries(breakdown)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, count]) => `${kind} ${count}`)
    .join(', ')
}

process.exitCode = await main()
