/**
 * The HTML form of a benchmark report (`dyn bench --report FILE.html`): one self-contained page
 * that opens with no network and runs no script. Its charts are drawn here, on the server, by
 * Apache ECharts' SVG renderer and inlined as SVG:
 *
 * - the percentile distribution, as HdrHistogram plots it: the x axis is the percentile on the
 *   1/(1-p) log scale (0%, 90%, 99%, 99.9%, ...), so that the tail the paper's SLAs speak of
 *   (§2.2: the 99.9th percentile) gets as much room as the median; one line per operation from
 *   the run's full histograms, each SLA target a marker at its percentile and limit;
 * - throughput and p99/p99.9 per second, with fault windows shaded, when the report has a
 *   timeline;
 * - latency against throughput from a capacity search, when the report has one.
 *
 * Below them the run's parameters, the operation table and the SLA verdicts. Pure: a report in,
 * a string out. The command imports this module only when --report is given, so ECharts costs
 * nothing to the other runs.
 */

import hdr from 'hdr-histogram-js'
import {LineChart} from 'echarts/charts'
import type {LineSeriesOption} from 'echarts/charts'
import {GridComponent, LegendComponent, MarkAreaComponent} from 'echarts/components'
import type {GridComponentOption, LegendComponentOption, MarkAreaComponentOption} from 'echarts/components'
import {init, use} from 'echarts/core'
import type {ComposeOption} from 'echarts/core'
import {SVGRenderer} from 'echarts/renderers'
import {timelineWindowS} from './recorder.js'
import type {KindSummary, TimelineWindow} from './recorder.js'
import {ceilingProtocol, figure} from './report.js'
import type {CapacityStep} from './capacity.js'
import type {FaultOutcome} from './fault-injector.js'
import type {BenchReport, CapacityReport, WindowReport} from './runner.js'
import {measuredText} from './sla.js'
import {quorumText} from './quorum.js'
import type {TargetVerdict} from './sla.js'

use([LineChart, GridComponent, LegendComponent, MarkAreaComponent, SVGRenderer])

type ChartOption = ComposeOption<LineSeriesOption | GridComponentOption | LegendComponentOption | MarkAreaComponentOption>

/** What the page is drawn from: the bench's report, with the histograms --json leaves out. */
export type HtmlReportInput = BenchReport

/** Each operation keeps its colour in every chart; SLA targets are green when met, red when missed. */
export const operationColours: Readonly<Record<string, string>> = {read: '#1f77b4', update: '#ff7f0e', insert: '#9467bd', rmw: '#8c564b', cart: '#17becf'}
const otherColours = ['#e377c2', '#7f7f7f', '#bcbd22']
export const metColour = '#2ca02c'
export const missedColour = '#d62728'
/** Errors and shed requests over time, all operations together. */
const failuresColour = '#e377c2'
/** The SLA limits on the capacity chart: one limit for every step, so no verdict colour. */
const limitColour = '#555555'
const faultFill = 'rgba(120, 120, 120, 0.18)'

const chartWidthPx = 1000
const chartHeightPx = 420
const fontFamily = 'system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif'
/** The percentile curve is sampled every this many decades of 1/(1-p): 50 points per nine. */
const curveStepDecades = 0.02
/** The percentile axis ends at most here (99.99999%): further nines need more samples than a run has. */
const percentileAxisDecadesMax = 7
/** A latency axis turns logarithmic when what it shows spans more than this ratio. */
const latencyLogRatio = 100

/** A percentile (0..100) on the 1/(1-p) axis: log10(1/(1-p)); 90% is 1, 99% is 2, 99.9% is 3. */
export function percentileToDecades(percentile: number): number {
  if (percentile <= 0) return 0
  if (percentile >= 100) return Number.POSITIVE_INFINITY
  return -Math.log10(1 - percentile / 100)
}

/** The axis label of a whole number of nines: 0%, 90%, 99%, 99.9%, 99.99%, ... */
export function decadesLabel(decades: number): string {
  if (decades <= 0) return '0%'
  if (decades === 1) return '90%'
  if (decades === 2) return '99%'
  return `99.${'9'.repeat(decades - 2)}%`
}

export function colourOf(operation: string, index: number): string {
  return operationColours[operation] ?? otherColours[index % otherColours.length] ?? '#000000'
}

/**
 * One operation's latency at each percentile, as [decades, ms] points from 0% to the last
 * recorded value: HdrHistogram's percentile distribution. With n values the maximum sits at
 * percentile 1 - 1/n, log10(n) decades out; beyond that there is nothing to show.
 */
export function percentileCurve(encoded: string): {points: Array<[number, number]>; count: number} {
  const histogram = hdr.decodeFromCompressedBase64(encoded)
  try {
    const count = histogram.totalCount
    if (count === 0) return {points: [], count}
    const lastDecades = Math.min(Math.log10(count), percentileAxisDecadesMax)
    const points: Array<[number, number]> = []
    const ms = (us: number): number => Math.round(us) / 1000
    for (let step = 0; step * curveStepDecades < lastDecades; step += 1) {
      const decades = step * curveStepDecades
      points.push([round(decades, 3), ms(histogram.getValueAtPercentile(100 * (1 - 10 ** -decades)))])
    }
    points.push([round(lastDecades, 3), ms(histogram.getValueAtPercentile(100))])
    return {points, count}
  } finally {
    histogram.destroy()
  }
}

/** 50% on the percentile axis (a hair below log10(2), so the sample there counts). */
const medianDecades = Math.log10(2) - 1e-9

function round(value: number, digits: number): number {
  const scale = 10 ** digits
  return Math.round(value * scale) / scale
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')
}

/** Draws one chart to an SVG string: no DOM, no animation, system fonts. */
function renderSvg(option: ChartOption): string {
  const chart = init(null, null, {renderer: 'svg', ssr: true, width: chartWidthPx, height: chartHeightPx})
  try {
    chart.setOption({animation: false, textStyle: {fontFamily}, ...option})
    return chart.renderToSVGString()
  } finally {
    chart.dispose()
  }
}

const grid: GridComponentOption = {left: 70, right: 40, top: 56, bottom: 56}
// Wide gaps: the server measures text in a generic font, and system fonts may come out wider.
const legend: LegendComponentOption = {top: 8, type: 'plain', itemGap: 24, textStyle: {fontFamily}}

/** Linear unless the values span more than `latencyLogRatio`: then log, so the fast ones stay readable. */
function latencyAxis(values: readonly number[], name: string): {axis: Record<string, unknown>; log: boolean} {
  const positive = values.filter((v) => v > 0)
  const log = positive.length > 0 && Math.max(...positive) / Math.min(...positive) > latencyLogRatio
  return {
    axis: {type: log ? 'log' : 'value', name: log ? `${name} (log scale)` : name, nameLocation: 'middle', nameGap: 50, ...(log ? {logBase: 10} : {min: 0})},
    log,
  }
}

/** The SLA's latency targets, with where they sit on the percentile axis. */
function latencyTargets(report: HtmlReportInput): Array<TargetVerdict & {operation: string; percentile: number}> {
  return (report.sla?.verdicts ?? []).filter((v): v is TargetVerdict & {operation: string; percentile: number} => v.operation !== undefined && v.percentile !== undefined)
}

function targetName(v: TargetVerdict): string {
  return `SLA ${v.target.replace('<=', '≤')} (${v.met ? 'met' : 'missed'})`
}

function percentileChart(report: HtmlReportInput): string | undefined {
  const curves = Object.entries(report.histograms)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([operation, encoded], index) => ({operation, index, ...percentileCurve(encoded)}))
    .filter((curve) => curve.count > 0)
  if (curves.length === 0) return undefined
  const targets = latencyTargets(report)
  const lastDecades = Math.max(...curves.map((c) => c.points.at(-1)?.[0] ?? 0), ...targets.map((t) => Math.min(percentileToDecades(t.percentile), percentileAxisDecadesMax)))
  const axisMax = Math.min(percentileAxisDecadesMax, Math.max(2, Math.ceil(lastDecades - 1e-9)))
  // The scale follows the curves from their median up (and the targets): a fast minimum alone
  // does not make the axis logarithmic.
  const values = [...curves.flatMap((c) => c.points.filter(([x]) => x >= medianDecades).map((p) => p[1])), ...targets.map((t) => t.limit)]
  const y = latencyAxis(values, 'latency (ms)')
  const series: LineSeriesOption[] = curves.map((curve) => ({
    name: curve.operation,
    type: 'line',
    data: curve.points.map(([x, ms]) => [x, y.log ? Math.max(ms, 0.001) : ms]),
    showSymbol: false,
    lineStyle: {width: 2.5, color: colourOf(curve.operation, curve.index)},
    itemStyle: {color: colourOf(curve.operation, curve.index)},
  }))
  for (const target of targets) {
    // The limit as a dashed step up to the target's percentile, a diamond at the target itself.
    const colour = target.met ? metColour : missedColour
    const at = round(Math.min(percentileToDecades(target.percentile), axisMax), 3)
    series.push({
      name: targetName(target),
      type: 'line',
      data: [
        {value: [0, target.limit], symbol: 'none'},
        {value: [at, target.limit], symbol: 'diamond', symbolSize: 14},
      ],
      lineStyle: {type: 'dashed', width: 1.5, color: colour},
      itemStyle: {color: colour},
    })
  }
  return renderSvg({
    legend,
    grid,
    xAxis: {
      type: 'value',
      min: 0,
      max: axisMax,
      interval: 1,
      name: 'percentile',
      nameLocation: 'middle',
      nameGap: 32,
      axisLabel: {formatter: (value: number) => decadesLabel(Math.round(value))},
      splitLine: {show: true},
    },
    yAxis: y.axis,
    series,
  })
}

/**
 * When a fault was in force: from when it was applied to when it was reverted (or the run
 * ended); undefined when it never was applied.
 */
function faultSpan(fault: FaultOutcome, elapsedS: number): {fromS: number; toS: number} | undefined {
  if (fault.appliedAtS === undefined) return undefined
  return {fromS: fault.appliedAtS, toS: fault.revertedAtS ?? Math.max(elapsedS, fault.appliedAtS)}
}

/** The shaded fault windows, carried by the first series of a time chart. */
function faultAreas(report: HtmlReportInput): MarkAreaComponentOption | undefined {
  const spans = (report.faults ?? []).flatMap((fault) => {
    const span = faultSpan(fault, report.run.elapsedS)
    return span === undefined ? [] : [{fault, ...span}]
  })
  if (spans.length === 0) return undefined
  return {
    silent: true,
    itemStyle: {color: faultFill},
    label: {position: 'insideTop', color: '#333', fontFamily},
    data: spans.map(({fault, fromS, toS}) => [{xAxis: round(fromS, 3), name: `${fault.kind} ${fault.node}`}, {xAxis: round(toS, 3)}]),
  } as MarkAreaComponentOption
}

function timelineOperations(timeline: readonly TimelineWindow[]): string[] {
  return [...new Set(timeline.flatMap((second) => second.operations.map((op) => op.operation)))].sort()
}

/**
 * The part of a window the measured run covered: the last window of a run of 10.3 s holds 0.3 s
 * of operations, and its throughput is over those 0.3 s, not a drop to a third.
 */
function windowLengthS(window: TimelineWindow, elapsedS: number): number {
  const covered = Math.min(timelineWindowS, elapsedS - window.startS)
  return covered > 0 ? covered : timelineWindowS
}

/** Each window's figures are drawn at its middle. */
function windowMiddleS(window: TimelineWindow, elapsedS: number): number {
  return round(window.startS + windowLengthS(window, elapsedS) / 2, 3)
}

function timeAxis(report: HtmlReportInput, timeline: readonly TimelineWindow[]): Record<string, unknown> {
  const last = Math.max(...timeline.map((s) => s.startS + windowLengthS(s, report.run.elapsedS)), ...(report.faults ?? []).map((f) => faultSpan(f, report.run.elapsedS)?.toS ?? 0))
  return {type: 'value', min: 0, max: Math.ceil(last - 1e-9), name: 'seconds into the run', nameLocation: 'middle', nameGap: 32}
}

function withFaults(series: LineSeriesOption[], report: HtmlReportInput): LineSeriesOption[] {
  const areas = faultAreas(report)
  const [first, ...rest] = series
  if (areas === undefined || first === undefined) return series
  return [{...first, markArea: areas}, ...rest]
}

function throughputChart(report: HtmlReportInput, timeline: readonly TimelineWindow[]): string {
  const operations = timelineOperations(timeline)
  const elapsedS = report.run.elapsedS
  const series: LineSeriesOption[] = operations.map((operation, index) => ({
    name: operation,
    type: 'line',
    data: timeline.map((second) => [windowMiddleS(second, elapsedS), (second.operations.find((op) => op.operation === operation)?.count ?? 0) / windowLengthS(second, elapsedS)]),
    showSymbol: false,
    lineStyle: {width: 2.5, color: colourOf(operation, index)},
    itemStyle: {color: colourOf(operation, index)},
  }))
  const failures = timeline.map((second) => [windowMiddleS(second, elapsedS), second.operations.reduce((sum, op) => sum + op.errors + op.shed + (op.throttled ?? 0), 0) / windowLengthS(second, elapsedS)] as [number, number])
  if (failures.some(([, n]) => n > 0)) {
    series.push({name: 'errors + shed + throttled', type: 'line', data: failures, showSymbol: false, lineStyle: {width: 1.5, type: 'dashed', color: failuresColour}, itemStyle: {color: failuresColour}})
  }
  return renderSvg({
    legend,
    grid,
    xAxis: timeAxis(report, timeline),
    yAxis: {type: 'value', min: 0, name: 'operations per second', nameLocation: 'middle', nameGap: 50},
    series: withFaults(series, report),
  })
}

function tailOverTimeChart(report: HtmlReportInput, timeline: readonly TimelineWindow[]): string {
  const operations = timelineOperations(timeline)
  const targets = latencyTargets(report).filter((t) => t.percentile >= 99)
  const at = (operation: string, field: 'p99Ms' | 'p999Ms'): Array<[number, number] | [number, '-']> =>
    timeline.map((second) => {
      const op = second.operations.find((candidate) => candidate.operation === operation)
      // A second without this operation is a gap in its line, not a zero latency.
      const x = windowMiddleS(second, report.run.elapsedS)
      return op === undefined || op.count === 0 ? [x, '-'] : [x, op[field]]
    })
  const values = [...timeline.flatMap((s) => s.operations.filter((op) => op.count > 0).flatMap((op) => [op.p99Ms, op.p999Ms])), ...targets.map((t) => t.limit)]
  const y = latencyAxis(values, 'latency (ms)')
  const series: LineSeriesOption[] = operations.flatMap((operation, index): LineSeriesOption[] => [
    {name: `${operation} p99.9`, type: 'line', data: at(operation, 'p999Ms'), showSymbol: false, lineStyle: {width: 2.5, color: colourOf(operation, index)}, itemStyle: {color: colourOf(operation, index)}},
    {name: `${operation} p99`, type: 'line', data: at(operation, 'p99Ms'), showSymbol: false, lineStyle: {width: 1.5, type: 'dashed', color: colourOf(operation, index)}, itemStyle: {color: colourOf(operation, index)}},
  ])
  const xAxis = timeAxis(report, timeline)
  for (const target of targets) {
    const colour = target.met ? metColour : missedColour
    series.push({name: targetName(target), type: 'line', data: [[0, target.limit], [xAxis.max as number, target.limit]], showSymbol: false, lineStyle: {type: 'dotted', width: 1.5, color: colour}, itemStyle: {color: colour}})
  }
  return renderSvg({legend, grid, xAxis, yAxis: y.axis, series: withFaults(series, report)})
}

function capacityChart(report: HtmlReportInput, capacity: CapacityReport): string | undefined {
  const steps = [...capacity.steps].sort((a, b) => a.goodputPerS - b.goodputPerS)
  if (steps.length === 0) return undefined
  const operations = [...new Set(steps.flatMap((step) => step.operations.map((op) => op.operation)))].sort()
  const targets = latencyTargets(report)
  const values = [...steps.flatMap((s) => s.operations.flatMap((op) => [op.p99Ms, op.p999Ms])), ...targets.map((t) => t.limit)]
  const y = latencyAxis(values, 'latency (ms)')
  // Each step a point: filled circle where the SLA held, hollow triangle where it did not.
  const point = (step: CapacityStep, ms: number) => ({
    value: [round(step.goodputPerS, 1), ms],
    symbol: step.met ? 'circle' : 'emptyTriangle',
    symbolSize: step.met ? 9 : 12,
  })
  const series: LineSeriesOption[] = operations.flatMap((operation, index): LineSeriesOption[] => {
    const colour = colourOf(operation, index)
    const of = (step: CapacityStep) => step.operations.find((op) => op.operation === operation)
    const measured = steps.filter((step) => of(step) !== undefined)
    return [
      {name: `${operation} p99.9`, type: 'line', data: measured.map((step) => point(step, of(step)?.p999Ms ?? 0)), lineStyle: {width: 2.5, color: colour}, itemStyle: {color: colour}},
      {name: `${operation} p99`, type: 'line', data: measured.map((step) => point(step, of(step)?.p99Ms ?? 0)), lineStyle: {width: 1.5, type: 'dashed', color: colour}, itemStyle: {color: colour}},
    ]
  })
  const lastOps = Math.max(...steps.map((s) => s.goodputPerS))
  for (const target of targets) {
    series.push({name: `limit ${target.target.replace('<=', '≤')}`, type: 'line', data: [[0, target.limit], [lastOps, target.limit]], showSymbol: false, lineStyle: {type: 'dotted', width: 1.5, color: limitColour}, itemStyle: {color: limitColour}})
  }
  return renderSvg({
    legend,
    grid,
    xAxis: {type: 'value', min: 0, name: 'operations answered per second', nameLocation: 'middle', nameGap: 32},
    yAxis: y.axis,
    series,
  })
}

/** A chart's section: its title, the SVG, a caption saying what it shows, and what follows it (a table). */
function figureHtml(id: string, title: string, svg: string, caption: string, after = ''): string {
  return `<section id="${id}">
<h2>${escapeHtml(title)}</h2>
<figure>
${svg}
<figcaption>${caption}</figcaption>
</figure>
${after}</section>`
}

/** A table; the columns from `numericFrom` up to (not including) `numericTo` are right-aligned figures. */
function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>, numericFrom = 1, numericTo = headers.length): string {
  const cell = (tag: 'th' | 'td', text: string, i: number): string => `<${tag}${i >= numericFrom && i < numericTo ? ' class="num"' : ''}>${text}</${tag}>`
  return `<table>
<thead><tr>${headers.map((h, i) => cell('th', escapeHtml(h), i)).join('')}</tr></thead>
<tbody>
${rows.map((row) => `<tr>${row.map((text, i) => cell('td', text, i)).join('')}</tr>`).join('\n')}
</tbody>
</table>`
}

function parameters(report: HtmlReportInput): string {
  const c = report.config
  const quorum = quorumText(c, c.quorum)
  const loop = c.mode.kind === 'closed' ? `closed loop, ${c.mode.connections} connections` : `open loop at ${c.mode.ratePerS} ops/s, ${c.clientDriven ? 'client-driven' : 'server-driven'}`
  const started = c.nodes.length === 0 ? ` (started for the run${c.clusterArgs.length > 0 ? `: ${c.clusterArgs.join(' ')}` : ''})` : ''
  const rows: Array<[string, string]> = [
    ['workload', `${c.workload} (${c.distribution} keys)`],
    ['records', `${c.records}${report.load === undefined ? ' (not loaded)' : `, loaded in ${report.load.elapsedS.toFixed(1)} s${report.load.failed > 0 ? `, ${report.load.failed} failed` : ''}`}`],
    ['value size', `${c.valueSize} bytes`],
    ['quorum', quorum],
    ['loop', loop],
    ['duration', `${c.durationS} s measured after ${c.warmupS} s of warm-up (${report.run.elapsedS.toFixed(1)} s elapsed)`],
    ['nodes', `${c.targetNodes.length}${started}: ${c.targetNodes.join(', ')}${c.https === true ? ' (over HTTPS)' : ''}`],
    ['calibration', calibration(report)],
    ['seed', String(c.seed)],
  ]
  return `<dl class="parameters">
${rows.map(([name, value]) => `<dt>${escapeHtml(name)}</dt><dd>${escapeHtml(value)}</dd>`).join('\n')}
</dl>`
}

function calibration(report: HtmlReportInput): string {
  if (report.calibration === undefined) return 'not measured (--calibrate)'
  const what = report.config.mode.kind === 'closed' ? 'throughput' : 'offered load'
  return `${what} ${(report.calibration.ratio * 100).toFixed(1)}% of this machine's ${ceilingProtocol(report.calibration)} ceiling (${report.run.opsPerS.toFixed(0)} / ${report.calibration.opsPerS.toFixed(0)} ops/s)`
}

function runSummary(report: HtmlReportInput): string {
  const run = report.run
  const transport = run.transportErrors.timeout + run.transportErrors.connection
  const refusals = (report.nodeRefusalTimes ?? []).map((node) => `${node.node} p99 ${node.p99Us} µs`).join(', ')
  const parts = [
    `${run.opsPerS.toFixed(1)} ops/s over ${run.elapsedS.toFixed(1)} s (${run.httpRequests} HTTP requests)`,
    ...(transport > 0 ? [`${run.transportErrors.timeout} timeouts, ${run.transportErrors.connection} connection errors`] : []),
    ...(run.notStarted ? [`${run.notStarted} operations not started (too many in flight)`] : []),
    ...(run.shed ? [`${run.shed} shed by overloaded nodes, goodput ${(run.goodputPerS ?? 0).toFixed(1)} ops/s${refusals === '' ? '' : ` (refusals answered at the nodes in ${refusals})`}`] : []),
    ...(run.throttled ? [`${run.throttled} kept back by the client's throttle (not sent: those nodes were shedding most requests)${run.shed ? '' : `, goodput ${(run.goodputPerS ?? 0).toFixed(1)} ops/s`}`] : []),
  ]
  return `<p>${escapeHtml(parts.join('; '))}</p>`
}

function operationRows(operations: readonly KindSummary[]): string[][] {
  return operations.map((op) => {
    const l = op.latency
    // Kept back by the client's throttle: not an error, and not shed by a node either.
    const errors = [...Object.entries(op.errors).map(([kind, count]) => `${kind} ${count}`), ...(op.throttled ? [`throttled ${op.throttled}`] : [])].join(', ') || 'none'
    return [op.operation, String(op.count), figure(op.throughputPerS), ...[l.p50Ms, l.p90Ms, l.p99Ms, l.p999Ms, l.maxMs, l.meanMs].map(figure), String(op.shed), String(op.notFound), errors].map(escapeHtml)
  })
}

function slaSection(report: HtmlReportInput): string {
  if (report.sla === undefined) return '<p>No SLA given (--sla FILE).</p>'
  const rows = report.sla.verdicts.map((v) => {
    const measured = measuredText(v)
    return [escapeHtml(v.target), escapeHtml(measured), `<span class="${v.met ? 'met' : 'missed'}">${v.met ? 'met' : 'MISSED'}</span>`]
  })
  return `<p>SLA <strong>${escapeHtml(report.sla.name)}</strong>: <span class="${report.sla.met ? 'met' : 'missed'}">${report.sla.met ? 'met' : 'MISSED'}</span></p>
${table(['target', 'measured', 'verdict'], rows, 1, 2)}`
}

function capacitySection(report: HtmlReportInput, capacity: CapacityReport): string {
  const svg = capacityChart(report, capacity)
  const found = capacity.foundRatePerS === null ? 'No rate tried met it' : `The highest rate that met it: <strong>${capacity.foundRatePerS} ops/s</strong>`
  const operations = [...new Set(capacity.steps.flatMap((step) => step.operations.map((op) => op.operation)))].sort()
  const rows = capacity.steps.map((step) => [
    String(step.ratePerS),
    step.goodputPerS.toFixed(1),
    `<span class="${step.met ? 'met' : 'missed'}">${step.met ? 'met' : 'missed'}</span>`,
    ...operations.map((operation) => {
      const op = step.operations.find((candidate) => candidate.operation === operation)
      return op === undefined ? '' : `${figure(op.p99Ms)} / ${figure(op.p999Ms)}`
    }),
    escapeHtml(step.missed.join(', ')),
  ])
  const steps = table(['offered ops/s', 'answered ops/s', 'SLA', ...operations.map((op) => `${op} p99 / p99.9 ms`), 'targets missed'], rows, 0, 2)
  const caption = `Latency against throughput, one point per rate the capacity search tried against the SLA ${escapeHtml(capacity.sla)}, in the order of the table below: x is the throughput answered, y the p99.9 (solid) and p99 (dashed) of each operation; a filled circle where the SLA held, a hollow triangle where it was missed; dotted lines are the SLA's limits. ${found} (${escapeHtml(capacity.endedBecause)}).`
  if (svg === undefined) return `<section id="capacity">\n<h2>Capacity</h2>\n<p>${found}</p>\n</section>`
  return figureHtml('capacity', 'Capacity: latency against throughput', svg, caption, `${steps}\n`)
}

/** The faults injected, what happened to each, and the SLA judged before, during and after. */
function faultsSection(faults: readonly FaultOutcome[], windows: readonly WindowReport[]): string {
  const seconds = (s: number | undefined): string => (s === undefined ? '' : s.toFixed(1))
  const faultRows = faults.map((fault) => [
    escapeHtml(fault.spec),
    escapeHtml(`${fault.kind} ${fault.node}`),
    `${seconds(fault.atS)} to ${seconds(fault.endS)}`,
    fault.appliedAtS === undefined ? 'not applied' : `${seconds(fault.appliedAtS)} to ${fault.revertedAtS === undefined ? 'the end' : seconds(fault.revertedAtS)}`,
    fault.restartS === undefined ? '' : `restarted in ${seconds(fault.restartS)} s`,
    escapeHtml(fault.problem ?? ''),
  ])
  const operations = [...new Set(windows.flatMap((w) => w.operations.map((op) => op.operation)))].sort()
  const windowRows = windows.map((w) => [
    escapeHtml(w.name),
    `${seconds(w.fromS)} to ${seconds(w.toS)}`,
    w.sla === undefined ? '' : `<span class="${w.sla.met ? 'met' : 'missed'}">${w.sla.met ? 'met' : 'MISSED'}</span>`,
    ...operations.map((operation) => {
      const op = w.operations.find((candidate) => candidate.operation === operation)
      return op === undefined ? '' : `${op.count}: ${figure(op.latency.p99Ms)} / ${figure(op.latency.p999Ms)}`
    }),
  ])
  return `<section id="faults">
<h2>Faults</h2>
${table(['fault', 'what', 'planned (s)', 'in force (s)', 'restart', 'problem'], faultRows, 6)}
${windows.length === 0 ? '' : `<p>The run judged in spans: before, during and after each fault (per operation: count: p99 / p99.9 ms).</p>\n${table(['span', 'seconds', 'SLA', ...operations], windowRows, 6)}`}
</section>`
}

const style = `
body { font-family: ${fontFamily}; color: #222; background: #fff; margin: 0 auto; padding: 16px 24px 48px; max-width: 1040px; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
figure { margin: 0; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: #555; font-size: 0.92em; margin-top: 0.3em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e4e4e4; text-align: left; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
dl.parameters { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; }
dl.parameters dt { color: #555; }
dl.parameters dd { margin: 0; }
.met { color: ${metColour}; font-weight: 600; }
.missed { color: ${missedColour}; font-weight: 600; }
`

/** The whole page. */
export function renderHtmlReport(report: HtmlReportInput): string {
  const c = report.config
  const title = `dyn bench: workload ${c.workload}, ${c.mode.kind === 'closed' ? `${c.mode.connections} connections` : `${c.mode.ratePerS} ops/s`}, ${c.targetNodes.length} node${c.targetNodes.length === 1 ? '' : 's'}`
  const sections: string[] = []
  const percentiles = percentileChart(report)
  if (percentiles !== undefined) {
    const targets = latencyTargets(report).length > 0 ? ' Each SLA target is a diamond at its percentile and limit, on a dashed line at the limit: green when met, red when missed.' : ''
    sections.push(
      figureHtml(
        'percentiles',
        'Latency by percentile',
        percentiles,
        `The latency of each operation at every percentile, from the run's full HDR histograms. The x axis stretches the tail: each step is one more nine (90%, 99%, 99.9%, ...), as in HdrHistogram's plots; a line ends at its slowest recorded operation.${targets}`,
      ),
    )
  }
  const timeline = report.timeline ?? []
  if (timeline.length > 0) {
    const faults = faultAreas(report) !== undefined ? ` Shaded: the faults while in force (${(report.faults ?? []).map((f) => escapeHtml(f.spec)).join('; ')}).` : ''
    sections.push(figureHtml('throughput', 'Throughput over time', throughputChart(report, timeline), `Operations per second over the measured run, per operation, counted in the second each started${timeline.some((s) => s.operations.some((op) => op.errors + op.shed + (op.throttled ?? 0) > 0)) ? '; dashed: errors and shed requests (throttled ones included), all operations together' : ''}.${faults}`))
    sections.push(figureHtml('tail', 'Tail latency over time', tailOverTimeChart(report, timeline), `The p99.9 (solid) and p99 (dashed) of the operations that started in each second; dotted: the SLA's limits at p99 and above.${faults}`))
  }
  if (report.faults !== undefined && report.faults.length > 0) sections.push(faultsSection(report.faults, report.windows ?? []))
  if (report.capacity !== undefined) sections.push(capacitySection(report, report.capacity))
  const versions = report.run.operations.filter((op) => Object.keys(op.versionsSeen).length > 0)
  const versionRows = versions.map((op) => {
    const total = Object.values(op.versionsSeen).reduce((a, b) => a + b, 0)
    return [escapeHtml(op.operation), escapeHtml(Object.entries(op.versionsSeen).map(([k, v]) => `${k}: ${((v / total) * 100).toFixed(3)}%`).join(', '))]
  })
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${style}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${runSummary(report)}
<section id="sla">
<h2>SLA</h2>
${slaSection(report)}
</section>
${sections.join('\n')}
<section id="operations">
<h2>Operations</h2>
${table(['operation', 'count', 'ops/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'mean ms', 'shed', 'not found', 'errors'], operationRows(report.run.operations), 1, 11)}
${versionRows.length > 0 ? `<p>Versions a read returned (1: one version; more: siblings to reconcile, paper §6.3):</p>\n${table(['operation', 'share of reads by versions'], versionRows, 2, 2)}` : ''}
</section>
<section id="parameters">
<h2>Parameters</h2>
${parameters(report)}
</section>
</body>
</html>
`
}
