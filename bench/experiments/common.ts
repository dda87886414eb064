/**
 * What the paper-reproduction experiments share: a benchmark configuration with this project's
 * defaults, one run per variant, and a markdown table of the figures, so that each experiment's
 * output can be pasted into bench/README.md as it is.
 */

import {runBench} from '../runner.js'
import type {BenchConfig, BenchReport} from '../runner.js'
import {workloads} from '../workloads.js'

export function experimentConfig(overrides: Partial<BenchConfig>): BenchConfig {
  const workload = overrides.workload ?? 'a'
  return {
    nodes: [],
    startNodes: 3,
    clusterArgs: [],
    workload,
    distribution: workloads[workload].distribution,
    records: 10_000,
    valueSize: 100,
    mode: {kind: 'open', ratePerS: 400},
    durationS: 20,
    warmupS: 2,
    load: true,
    clientDriven: false,
    calibrate: false,
    calibrationS: 5,
    seed: 1,
    timeoutS: 10,
    ...overrides,
  }
}

/** Run each variant in turn, reporting progress on stderr; the runs never overlap. */
export async function runVariants(variants: ReadonlyArray<{name: string; config: BenchConfig}>): Promise<Array<{name: string; report: BenchReport}>> {
  const results: Array<{name: string; report: BenchReport}> = []
  for (const variant of variants) {
    process.stderr.write(`running: ${variant.name}\n`)
    const report = await runBench(variant.config, undefined, () => undefined)
    results.push({name: variant.name, report})
  }
  return results
}

export function markdownTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

export function ms(value: number | undefined): string {
  return value === undefined ? '-' : value.toFixed(2)
}

/** The latency figures of one operation kind of a report (undefined when it did not run). */
export function latencyOf(report: BenchReport, operation: string): {p50: number; p99: number; p999: number; mean: number; count: number} | undefined {
  const op = report.run.operations.find((o) => o.operation === operation)
  return op === undefined ? undefined : {p50: op.latency.p50Ms, p99: op.latency.p99Ms, p999: op.latency.p999Ms, mean: op.latency.meanMs, count: op.count}
}
