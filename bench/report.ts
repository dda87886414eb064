/** The plain-text form of a benchmark report (the --json form is the report object itself). */

import type {KindSummary} from './recorder.js'
import type {BenchReport, Calibration, CapacityReport, CoreUse, PhaseResult, WindowReport} from './runner.js'
import type {FaultOutcome} from './fault-injector.js'
import {measuredText} from './sla.js'
import {quorumText} from './quorum.js'

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length)
}

/**
 * A figure in at most 6 characters, as precise as that allows: 2 decimals below 100, 1 below
 * 1,000, none below 1,000,000. With it every row of the table fits in 80 columns.
 */
export function figure(value: number): string {
  if (value < 100) return value.toFixed(2)
  if (value < 1000) return value.toFixed(1)
  if (value < 1_000_000) return value.toFixed(0)
  return value.toExponential(1)
}

/** The table of operations: one row each, within 80 columns (the errors column aside). */
export function operationTable(operations: readonly KindSummary[]): string[] {
  const column = (text: string): string => text.padStart(7)
  const lines = [
    `  ${pad('operation', 9)} ${'count'.padStart(7)}${column('ops/s')}${column('p50')}${column('p90')}${column('p99')}${column('p99.9')}${column('max')}  errors   (latencies in ms)`,
  ]
  for (const op of operations) {
    // An http_error is any 4xx or 5xx the bench has no name for: the first one's status and code
    // say which (a new user's walk saw "http_error 4695" that were 409 too_many_siblings).
    const first = op.firstFailure
    const firstHttpError = first !== undefined && first.status >= 400 && first.error !== 'quorum_unmet' && first.error !== 'overloaded' ? first : undefined
    const named = (kind: string, count: number): string =>
      kind === 'http_error' && firstHttpError !== undefined ? `${kind} ${count} (first: ${firstHttpError.status}${firstHttpError.error === undefined ? '' : ` ${firstHttpError.error}`})` : `${kind} ${count}`
    const errors = [...Object.entries(op.errors).map(([kind, count]) => named(kind, count)), ...(op.shed > 0 ? [`shed ${op.shed}`] : []), ...(op.throttled ? [`throttled ${op.throttled}`] : [])].join(', ') || 'none'
    const latency = op.latency
    lines.push(
      `  ${pad(op.operation, 9)} ${String(op.count).padStart(7)}${column(figure(op.throughputPerS))}${[latency.p50Ms, latency.p90Ms, latency.p99Ms, latency.p999Ms, latency.maxMs].map((ms) => column(figure(ms))).join('')}  ${errors}${op.notFound > 0 ? ` (not found ${op.notFound})` : ''}`,
    )
  }
  return lines
}

function phaseSummary(name: string, phase: PhaseResult): string {
  const transport = phase.transportErrors.timeout + phase.transportErrors.connection
  return `${name}: ${phase.opsPerS.toFixed(1)} ops/s over ${phase.elapsedS.toFixed(1)} s (${phase.httpRequests} HTTP requests)${transport > 0 ? `, ${phase.transportErrors.timeout} timeouts, ${phase.transportErrors.connection} connection errors` : ''}${phase.notStarted ? `, ${phase.notStarted} operations not started (too many in flight)` : ''}${shedSummary(phase)}`
}

/**
 * Requests the nodes shed: how many, how many more the client's throttle kept back, the goodput
 * left, and how fast the refusals came back.
 */
function shedSummary(phase: PhaseResult): string {
  const shed = phase.shed ?? 0
  const throttled = phase.throttled ?? 0
  if (shed === 0 && throttled === 0) return ''
  const refused = phase.operations.flatMap((op) => (op.refusedLatency === undefined ? [] : [op.refusedLatency]))
  const p99 = refused.length === 0 ? undefined : Math.max(...refused.map((latency) => latency.p99Ms))
  const parts = [
    ...(shed > 0 ? [`${shed} shed by overloaded nodes (503${p99 === undefined ? '' : `, answered with p99 ${figure(p99)} ms`})`] : []),
    ...(throttled > 0 ? [`${throttled} kept back by the client's throttle (not sent: those nodes were shedding most requests)`] : []),
  ]
  return `; ${parts.join(', ')}, goodput ${(phase.goodputPerS ?? 0).toFixed(1)} ops/s (latencies below are of accepted operations)`
}

/**
 * The protocol the calibration's trivial server served, as the reports name it: `HTTPS` when the
 * run went over HTTPS (its ceiling then pays for TLS too), else `HTTP`.
 */
export function ceilingProtocol(calibration: Pick<Calibration, 'protocol'>): 'HTTP' | 'HTTPS' {
  return calibration.protocol === 'https' ? 'HTTPS' : 'HTTP'
}

/**
 * An open loop's floor: the trivial server's percentiles under the same open loop, and the run's
 * p99.9 as a multiple of them. A run near its floor measured the machine and the driver, not the
 * cluster: its tail says only that the cluster's is no larger.
 */
export function floorLines(run: PhaseResult, floor: PhaseResult, protocol: 'HTTP' | 'HTTPS'): string[] {
  const lines = [phaseSummary(`floor (trivial ${protocol} server, the same open loop)`, floor)]
  for (const op of floor.operations) {
    const measured = run.operations.find((candidate) => candidate.operation === op.operation)
    const ratio = measured === undefined || op.latency.p999Ms <= 0 ? '' : `; the run's p99.9 is ${(measured.latency.p999Ms / op.latency.p999Ms).toFixed(1)}x the floor's`
    lines.push(`  floor ${op.operation}: p50 ${figure(op.latency.p50Ms)} ms, p99 ${figure(op.latency.p99Ms)} ms, p99.9 ${figure(op.latency.p999Ms)} ms${ratio}`)
  }
  return lines
}

export function formatReport(report: BenchReport): string {
  const c = report.config
  const loop = c.mode.kind === 'closed' ? `closed loop, ${c.mode.connections} connections` : `open loop at ${c.mode.ratePerS} ops/s${c.clientDriven ? ', client-driven' : ', server-driven'}`
  const quorum = quorumText(c, c.quorum)
  const lines = [
    `workload ${c.workload} (${c.distribution}), ${c.records} records of ${c.valueSize} bytes, ${quorum}, ${loop}, ${c.durationS} s against ${c.targetNodes.length} node(s)${c.https === true ? ' over HTTPS' : ''}`,
  ]
  if (report.cores !== undefined) lines.push(coreUseLine(report.cores))
  if (report.load) lines.push(`load: ${report.load.records} records in ${report.load.elapsedS.toFixed(1)} s${report.load.failed > 0 ? `, ${report.load.failed} failed` : ''}`)
  if (report.calibration) {
    lines.push(phaseSummary(`calibration (trivial ${ceilingProtocol(report.calibration)} server, same driver)`, report.calibration))
  }
  lines.push(phaseSummary('run', report.run))
  lines.push(...operationTable(report.run.operations))
  if (report.calibration) {
    // In an open loop the throughput is the offered rate, so the ratio says how hard the
    // machine was pushed, not how much it can take.
    const what = c.mode.kind === 'closed' ? 'throughput' : 'offered load'
    lines.push(`${what}: ${(report.calibration.ratio * 100).toFixed(1)}% of this machine's ${ceilingProtocol(report.calibration)} ceiling (${report.run.opsPerS.toFixed(0)} / ${report.calibration.opsPerS.toFixed(0)} ops/s, measured in this run)`)
    if (report.calibration.floor !== undefined) lines.push(...floorLines(report.run, report.calibration.floor, ceilingProtocol(report.calibration)))
  }
  const versions = report.run.operations.filter((op) => Object.keys(op.versionsSeen).length > 0)
  if (versions.length > 0) {
    // The paper's §6.3 figure: how often a read met concurrent versions (siblings) to reconcile.
    lines.push('versions a read returned (1: one version; more: siblings to reconcile, paper §6.3):')
  }
  for (const op of versions) {
    const total = Object.values(op.versionsSeen).reduce((a, b) => a + b, 0)
    const shares = Object.entries(op.versionsSeen).map(([k, v]) => `${k}: ${((v / total) * 100).toFixed(3)}%`)
    lines.push(...wrapList(`  ${op.operation}s: `, shares, 80))
  }
  if (report.nodeRefusalTimes !== undefined && report.nodeRefusalTimes.length > 0) {
    const slowest = Math.max(...report.nodeRefusalTimes.map((node) => node.p99Us))
    const since = report.nodeRefusalTimes.some((node) => node.sinceStart === true) ? 'their /stats, since each started' : 'their /stats, during this run, warm-up included'
    lines.push(`refusals at the nodes (${since}): ${report.nodeRefusalTimes.reduce((sum, node) => sum + node.count, 0)} answered, p99 at most ${slowest} µs, slowest ${Math.max(...report.nodeRefusalTimes.map((node) => node.maxUs))} µs`)
  }
  if (report.faults !== undefined) lines.push(...faultLines(report.faults), ...windowLines(report.windows ?? []))
  if (report.capacity !== undefined) lines.push(...capacityLines(report.capacity))
  if (report.sla) {
    lines.push(`SLA ${report.sla.name}${report.capacity === undefined ? '' : ` at ${report.config.mode.kind === 'open' ? report.config.mode.ratePerS : '?'} ops/s`}: ${report.sla.met ? 'met' : 'MISSED'}`)
    for (const v of report.sla.verdicts) {
      const measured = measuredText(v)
      lines.push(`  ${v.met ? 'met   ' : 'MISSED'} ${v.target}: measured ${measured}`)
    }
  }
  return `${lines.join('\n')}\n`
}

/**
 * `items` after `head`, comma-separated, in lines of at most `width` columns (an item longer than
 * a line gets one of its own); the lines after the first are indented to the first item.
 */
export function wrapList(head: string, items: readonly string[], width: number): string[] {
  const indent = ' '.repeat(head.length)
  const lines: string[] = []
  let line = head
  for (const [i, item] of items.entries()) {
    const text = i < items.length - 1 ? `${item},` : item
    const separator = line === head || line === indent ? '' : ' '
    if (line !== head && line !== indent && line.length + separator.length + text.length > width) {
      lines.push(line)
      line = indent + text
    } else {
      line += separator + text
    }
  }
  lines.push(line)
  return lines
}

/** What each injected fault did, in seconds of the measured run. */
function faultLines(faults: readonly FaultOutcome[]): string[] {
  const lines = ['faults (seconds of the measured run):']
  for (const fault of faults) {
    const what = fault.kind === 'kill' ? 'killed' : fault.kind === 'pause' ? 'paused' : 'cut off from the other nodes'
    const back = fault.kind === 'kill' ? 'started again' : fault.kind === 'pause' ? 'resumed' : 'healed'
    const when =
      fault.appliedAtS === undefined
        ? 'not applied (the run ended first)'
        : `${fault.node} ${what} at ${fault.appliedAtS.toFixed(1)} s, ${back} at ${(fault.revertedAtS ?? fault.appliedAtS).toFixed(1)} s${fault.restartS === undefined ? '' : ` (answering ${fault.restartS.toFixed(1)} s later)`}`
    lines.push(`  ${fault.spec}: ${when}${fault.problem === undefined ? '' : `; ${fault.problem}`}`)
  }
  return lines
}

/** Each window of a run with faults: its operations' tail and errors, and its SLA verdict. */
function windowLines(windows: readonly WindowReport[]): string[] {
  const lines = ['windows (latencies in ms; an operation counts in the second it was due):']
  for (const window of windows) {
    const verdict = window.sla === undefined ? '' : window.sla.met ? ': SLA met' : `: SLA MISSED (${window.sla.verdicts.filter((v) => !v.met).map((v) => v.target).join('; ')})`
    lines.push(`  ${window.name}, ${window.fromS}-${window.toS} s${verdict}`)
    for (const op of window.operations) {
      const errors = Object.values(op.errors).reduce((a, b) => a + b, 0) + op.shed + (op.throttled ?? 0)
      lines.push(`    ${pad(op.operation, 7)} ${String(op.count).padStart(7)} ops ${String(errors).padStart(6)} errors  p99 ${figure(op.latency.p99Ms).padStart(6)}  p99.9 ${figure(op.latency.p999Ms).padStart(6)}`)
    }
  }
  return lines
}

/** The capacity search: the rate found, why the search ended, and every step (the latency-throughput curve). */
function capacityLines(capacity: CapacityReport): string[] {
  const found = capacity.foundRatePerS === null ? 'not found: no rate tried met every target' : `${capacity.foundRatePerS} ops/s`
  const lines = [
    `capacity at SLA ${capacity.sla}: ${found}${capacity.lowestMissedRatePerS === null ? '' : ` (${capacity.lowestMissedRatePerS} ops/s missed)`}`,
    `  the search ended because ${capacity.endedBecause}`,
    '  steps, by rate (latencies in ms):',
  ]
  for (const step of capacity.steps) {
    const tails = step.operations.map((op) => `${op.operation} ${figure(op.p999Ms)}`).join(', ')
    lines.push(`  ${String(step.ratePerS).padStart(8)} ops/s ${step.met ? 'met   ' : 'MISSED'} goodput ${figure(step.goodputPerS)}/s, p99.9 ${tails}`)
  }
  return lines
}

/**
 * Whether the cluster the bench started had a node on every core (issue 18 item 3): a node's
 * request path runs on one thread, so a core without a node is capacity the run left unused.
 */
export function coreUseLine(use: CoreUse): string {
  const onMachines = use.machines === use.nodeProcesses ? '' : ` on ${use.machines} machine(s)`
  const cluster = `cluster: ${use.nodeProcesses} node process(es)${onMachines}, on a machine with ${use.cores} core(s)`
  if (use.nodeProcesses >= use.cores) return `${cluster}: every core has a node`
  const idle = use.cores - use.nodeProcesses
  return `${cluster}: ${idle} core(s) without a node; more nodes use them (--nodes, --processes-per-machine here; dyn start --processes auto on a machine of its own)`
}
