/**
 * The colours and number formats every dyn view shares (`dyn top`, `dyn resolve`, the bench's
 * live progress), so that a node, a status or a latency looks the same wherever it appears.
 * Colours are ink colour names; ink (chalk) drops them when the output is not a terminal, and
 * the commands turn them off for NO_COLOR (src/cli/terminal.ts).
 */

import type {NodeRow, NodeStatus} from './cluster-snapshot.js'

/** Owner colours, by a node's position in the member list; they repeat beyond eight nodes. */
export const ownerColors = ['cyan', 'magenta', 'yellow', 'green', 'blue', 'red', 'cyanBright', 'magentaBright'] as const

export function ownerColor(index: number): string {
  return ownerColors[((index % ownerColors.length) + ownerColors.length) % ownerColors.length] as string
}

/**
 * What the STATUS column and a node's detail say of a node: its membership status as the node
 * watched through sees it, except that a member it sees up says for itself (its own /stats) that
 * it serves out its stop delay before it exits (`exiting`) or that its store takes no writes
 * (`rdonly`: it serves reads only): a walk that filled a node's disk found it shown `up` while
 * every write to it was refused. Seven characters at most, the column's width at 80 columns
 * (a wider column pushed the address out beside a SHED column).
 */
export function shownStatus(row: Pick<NodeRow, 'status' | 'answering' | 'figures'>): {readonly text: string; readonly color: string} {
  if (row.status === 'up' && row.answering && row.figures.stoppingInMs !== undefined) return {text: 'exiting', color: warnColor}
  if (row.status === 'up' && row.answering && row.figures.writesStopped !== undefined) return {text: 'rdonly', color: errorColor}
  return {text: row.status, color: statusColor(row.status)}
}

export function statusColor(status: NodeStatus): string {
  if (status === 'up') return 'green'
  if (status === 'down') return 'red'
  if (status === 'suspect') return 'yellow'
  if (status === 'joining' || status === 'leaving') return 'blue'
  return 'gray'
}

/** Latency colours against the paper's SLA (300 ms at p99.9): fine, a tenth of it used up, over it. */
export const latencyWarnMs = 30
export const latencyBadMs = 300

export function latencyColor(ms: number | undefined): string | undefined {
  if (ms === undefined || !Number.isFinite(ms)) return undefined
  if (ms >= latencyBadMs) return 'red'
  if (ms >= latencyWarnMs) return 'yellow'
  return 'green'
}

/** The accent of progress bars and sparklines. */
export const accentColor = 'cyan'
export const errorColor = 'red'
/** Work under way that a viewer should notice (a node catching up after a lost disk). */
export const warnColor = 'yellow'
export const dimColor = 'gray'

/** A count in at most 5 characters: 999, 1.2k, 12k, 1.2M. */
export function formatCount(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '-'
  const abs = Math.abs(value)
  if (abs < 1000) return abs < 10 && !Number.isInteger(value) ? value.toFixed(1) : String(Math.round(value))
  const units = ['k', 'M', 'G', 'T']
  let scaled = abs
  let unit = ''
  for (const next of units) {
    if (scaled < 1000) break
    scaled /= 1000
    unit = next
  }
  return `${value < 0 ? '-' : ''}${scaled < 10 ? scaled.toFixed(1) : Math.round(scaled)}${unit}`
}

/** Milliseconds in at most 4 characters: 0.42, 3.4, 120, 1.2s, 12s. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-'
  if (ms < 1) return ms.toFixed(2).replace(/^0/, '')
  if (ms < 10) return ms.toFixed(1)
  if (ms < 1000) return String(Math.round(ms))
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`
}

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '-'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let scaled = bytes
  let unit = 0
  while (scaled >= 1024 && unit < units.length - 1) {
    scaled /= 1024
    unit += 1
  }
  return `${unit === 0 ? scaled : scaled < 10 ? scaled.toFixed(1) : Math.round(scaled)} ${units[unit]}`
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-'
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`
}

/** Wall-clock time of day, HH:MM:SS, in UTC so that captures and logs agree. */
export function formatClock(atMs: number): string {
  return new Date(atMs).toISOString().slice(11, 19)
}

/** Fit text to exactly `width` columns: cut with an ellipsis, or pad. */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return ''
  const cut = text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text
  return align === 'left' ? cut.padEnd(width) : cut.padStart(width)
}

/**
 * Where a bench phase is: `done/total`, or `elapsed/duration s`, and past its seconds that it is
 * waiting for its last answers (an open loop the cluster fell behind), never "42/15 s". The live
 * screen and the plain progress lines both say it.
 */
export function benchPhasePosition(snapshot: {readonly elapsedS: number; readonly durationS: number; readonly done: number; readonly total?: number}, fractionDigits: number): string {
  if (snapshot.total !== undefined) return `${snapshot.done}/${snapshot.total}`
  if (snapshot.durationS <= 0) return ''
  const late = snapshot.elapsedS > snapshot.durationS ? `, waiting for the last answers (+${(snapshot.elapsedS - snapshot.durationS).toFixed(fractionDigits)} s)` : ''
  return `${Math.min(snapshot.elapsedS, snapshot.durationS).toFixed(fractionDigits)}/${snapshot.durationS} s${late}`
}
