/**
 * What the paper-reproduction experiments share: a benchmark configuration with this project's
 * defaults, one run per variant, and a markdown table of the figures, so that each experiment's
 * output can be pasted into bench/README.md as it is.
 */

import {existsSync} from 'node:fs'
import {mkdir, readFile, rmdir, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {runBench} from '../runner.js'
import type {BenchConfig, BenchReport} from '../runner.js'
import {workloads} from '../workloads.js'
import type {WorkloadName} from '../workloads.js'

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
    const report = await runBench(variant.config, undefined)
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

/** The cgroup v1 cpu controller: CFS bandwidth, with which an experiment gives processes a share of a CPU. */
export const cpuController = '/sys/fs/cgroup/cpu'
/** CFS's default period: a limited group runs its share of each 100 ms, then waits out the rest. */
export const cfsPeriodUsDefault = 100_000
/** The least quota the kernel accepts per period (cpu.cfs_quota_us): 1 ms. */
export const cfsQuotaUsMin = 1000

/** The quota (µs per period) that gives `share` of a CPU; below `cfsQuotaUsMin` the kernel refuses it. */
export function cfsQuotaUsOf(share: number, periodUs: number): number {
  return Math.round(share * periodUs)
}

/** The cpu cgroup a process is in now (its path under the controller), from /proc/PID/cgroup. */
async function cpuGroupOf(pid: number): Promise<string> {
  const lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n')
  const line = lines.find((entry) => entry.split(':')[1]?.split(',').includes('cpu'))
  return line?.split(':')[2] ?? '/'
}

/** Whether this machine lets an experiment limit processes' CPU (root, and the cgroup v1 cpu controller). */
export function canLimitCpu(): boolean {
  return existsSync(path.join(cpuController, 'cpu.cfs_quota_us')) && process.getuid?.() === 0
}

/**
 * A cgroup holding the given processes (every thread of each), limited together to `share` of a
 * CPU per period (1.5: one and a half CPUs); `release` removes it once the processes have ended.
 * A group that used its share waits for the next period, so a shorter period spreads the waits
 * (a share of 0.25 of a 100 ms period can hold a request for 75 ms; of a 10 ms period, 7.5 ms).
 */
export async function cpuLimitedGroup(name: string, pids: readonly number[], share: number, periodUs = cfsPeriodUsDefault): Promise<{release: () => Promise<void>}> {
  const quotaUs = cfsQuotaUsOf(share, periodUs)
  if (quotaUs < cfsQuotaUsMin) throw new Error(`a share of ${share} CPU of a ${periodUs / 1000} ms period is a quota of ${quotaUs} µs, below the kernel's ${cfsQuotaUsMin} µs: give a longer period`)
  const dir = path.join(cpuController, name)
  await mkdir(dir)
  // The processes moved in so far, and the group each came from.
  const moved: Array<{pid: number; from: string}> = []
  try {
    await writeFile(path.join(dir, 'cpu.cfs_period_us'), String(periodUs))
    await writeFile(path.join(dir, 'cpu.cfs_quota_us'), String(quotaUs))
    for (const pid of pids) {
      const from = await cpuGroupOf(pid)
      await writeFile(path.join(dir, 'cgroup.procs'), String(pid))
      moved.push({pid, from})
    }
  } catch (error) {
    // A group the kernel refused to set up is removed, and only the processes moved into it go
    // back where they were: none is left behind for the machine.
    for (const {pid, from} of moved) await writeFile(path.join(cpuController, from, 'cgroup.procs'), String(pid)).catch(() => undefined)
    await rmdir(dir).catch(() => undefined)
    throw error
  }
  return {release: () => rmdir(dir).catch(() => undefined)}
}

/** An experiment's `--workload`, refused unless it names one of the bench's workloads. */
export function workloadFlag(value: string): WorkloadName {
  if (!Object.hasOwn(workloads, value)) throw new Error(`--workload must be one of ${Object.keys(workloads).join(', ')}`)
  return value as WorkloadName
}

/** Refuses, naming the flag, any of an experiment's whole-number flags that is not a positive integer. */
export function requirePositiveIntegers(flags: Readonly<Record<string, number>>): void {
  for (const [flag, value] of Object.entries(flags)) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${flag} must be a positive integer`)
  }
}
