/** The plain-text form of a benchmark report (the --json form is the report object itself). */

import type {KindSummary} from './recorder.js'
import type {BenchReport, PhaseResult} from './runner.js'

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
    const errors = [...Object.entries(op.errors).map(([kind, count]) => `${kind} ${count}`), ...(op.shed > 0 ? [`shed ${op.shed}`] : [])].join(', ') || 'none'
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

/** Requests the nodes shed: how many, the goodput left, and how fast the refusals came back. */
function shedSummary(phase: PhaseResult): string {
  if (phase.shed === undefined || phase.shed === 0) return ''
  const refused = phase.operations.flatMap((op) => (op.refusedLatency === undefined ? [] : [op.refusedLatency]))
  const p99 = Math.max(...refused.map((latency) => latency.p99Ms))
  return `; ${phase.shed} shed by overloaded nodes (503, answered with p99 ${figure(p99)} ms), goodput ${(phase.goodputPerS ?? 0).toFixed(1)} ops/s (latencies below are of accepted operations)`
}

export function formatReport(report: BenchReport): string {
  const c = report.config
  const loop = c.mode.kind === 'closed' ? `closed loop, ${c.mode.connections} connections` : `open loop at ${c.mode.ratePerS} ops/s${c.clientDriven ? ', client-driven' : ', server-driven'}`
  const quorum = `n=${c.n ?? 'default'} r=${c.r ?? 'default'} w=${c.w ?? 'default'}`
  const lines = [
    `workload ${c.workload} (${c.distribution}), ${c.records} records of ${c.valueSize} bytes, ${quorum}, ${loop}, ${c.durationS} s against ${c.targetNodes.length} node(s)`,
  ]
  if (report.load) lines.push(`load: ${report.load.records} records in ${report.load.elapsedS.toFixed(1)} s${report.load.failed > 0 ? `, ${report.load.failed} failed` : ''}`)
  if (report.calibration) {
    lines.push(phaseSummary('calibration (trivial HTTP server, same driver)', report.calibration))
  }
  lines.push(phaseSummary('run', report.run))
  lines.push(...operationTable(report.run.operations))
  if (report.calibration) {
    // In an open loop the throughput is the offered rate, so the ratio says how hard the
    // machine was pushed, not how much it can take.
    const what = c.mode.kind === 'closed' ? 'throughput' : 'offered load'
    lines.push(`${what}: ${(report.calibration.ratio * 100).toFixed(1)}% of this machine's HTTP ceiling (${report.run.opsPerS.toFixed(0)} / ${report.calibration.opsPerS.toFixed(0)} ops/s, measured in this run)`)
  }
  const versions = report.run.operations.filter((op) => Object.keys(op.versionsSeen).length > 0)
  if (versions.length > 0) {
    // The paper's §6.3 figure: how often a read met concurrent versions (siblings) to reconcile.
    lines.push('versions a read returned (1: one version; more: siblings to reconcile, paper §6.3):')
  }
  for (const op of versions) {
    const total = Object.values(op.versionsSeen).reduce((a, b) => a + b, 0)
    const shares = Object.entries(op.versionsSeen).map(([k, v]) => `${k}: ${((v / total) * 100).toFixed(3)}%`)
    lines.push(`  ${op.operation}s: ${shares.join(', ')}`)
  }
  if (report.sla) {
    lines.push(`SLA ${report.sla.name}: ${report.sla.met ? 'met' : 'MISSED'}`)
    for (const v of report.sla.verdicts) {
      const measured = v.measured === null ? 'not measured' : v.target.startsWith('error rate') ? v.measured.toFixed(5) : `${v.measured.toFixed(2)} ms`
      lines.push(`  ${v.met ? 'met   ' : 'MISSED'} ${v.target}: measured ${measured}`)
    }
  }
  return `${lines.join('\n')}\n`
}
