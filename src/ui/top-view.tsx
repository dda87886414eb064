/**
 * The whole screen of `dyn top`, drawn from one `ClusterSnapshot`: a header (which node the view
 * comes through, fail-over, settings, time), the node table, the ring strip, a sparkline history
 * per node, recent events, and a footer with the keys. `mode` swaps the lower part for a node's
 * detail or for the list of keys. It fits the `height` × `width` it is given (80 × 24 at least)
 * and spends extra width on sparklines, ring and columns, extra height on events.
 */

import {Box, Text} from 'ink'
import type {ClusterSnapshot, NodeRow, TopEvent} from './cluster-snapshot.js'
import {LatencyBars} from './latency-bars.js'
import {NodeTable} from './node-table.js'
import {RingStrip} from './ring-strip.js'
import {sparklineText} from './sparkline.js'
import {accentColor, dimColor, errorColor, fit, formatBytes, formatClock, formatCount, formatDuration, formatMs, ownerColor, shownStatus, statusColor} from './theme.js'

export type TopMode = 'main' | 'detail' | 'help'

export interface TopViewProps {
  readonly snapshot: ClusterSnapshot | undefined
  readonly width: number
  readonly height: number
  readonly selected: number
  readonly mode: TopMode
  /** False for a one-off text snapshot: no selection mark and no key footer. */
  readonly interactive?: boolean
}

const eventColor: Record<TopEvent['severity'], string | undefined> = {info: undefined, warn: 'yellow', error: errorColor}

/**
 * The rows of the members now: the table, the ring's marks and colours, the history and the
 * selection count these. Members that left are listed apart on one line (DepartedLine): with a
 * row each they filled most of a 40-line screen after a few leaves and pushed the live nodes'
 * history and the events off it, and, counted in the ring's marks, turned n1's mark into 7.
 */
export function membersNow(rows: readonly NodeRow[]): NodeRow[] {
  return rows.filter((row) => row.status !== 'left')
}

/** The members that left (GET /cluster still lists them), by name on one line, cut to the width with their count first. */
export function DepartedLine({rows, width}: {readonly rows: readonly NodeRow[]; readonly width: number}) {
  const departed = rows.filter((row) => row.status === 'left').map((row) => row.name)
  if (departed.length === 0) return null
  return (
    <Text color={dimColor} wrap="truncate">
      {fit(`  ${departed.length} left the cluster: ${departed.join(' ')}`, width)}
    </Text>
  )
}

export function Header({snapshot, width}: {readonly snapshot: ClusterSnapshot; readonly width: number}) {
  const via = snapshot.nodes.find((row) => row.address === snapshot.source)?.name
  const settings = snapshot.settings ? `  N${snapshot.settings.n} R${snapshot.settings.r} W${snapshot.settings.w}` : ''
  // The members of the cluster now: one that left (still listed, as GET /cluster lists it) is not counted.
  const members = snapshot.nodes.filter((row) => row.status !== 'left').length
  const left = `via ${snapshot.source}${via ? ` (${via})` : ''}  ${members} nodes${settings}`
  const time = formatClock(snapshot.takenAtMs)
  return (
    <Box flexDirection="column">
      <Text wrap="truncate">
        <Text bold color={accentColor}>dyn top</Text>
        {`  ${fit(left, Math.max(0, width - 9 - time.length - 1))} `}
        {time}
      </Text>
      {snapshot.stale ? <Text color={errorColor} wrap="truncate">no node answers: showing the last state seen; retrying every refresh</Text> : null}
      {!snapshot.stale && snapshot.failover ? <Text color="yellow" wrap="truncate">{`${snapshot.failover.from} stopped answering: now watching through ${snapshot.failover.to}`}</Text> : null}
    </Box>
  )
}

export function History({rows, width, linesMax}: {readonly rows: readonly NodeRow[]; readonly width: number; readonly linesMax: number}) {
  const nameWidth = Math.min(16, Math.max(4, ...rows.map((row) => row.name.length)))
  const sparkWidth = Math.max(4, Math.floor((width - nameWidth - 2 - 28) / 2))
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate">{`${' '.repeat(nameWidth + 2)}${fit('requests/s', sparkWidth + 9)}p99.9 ms, worst of get and put`}</Text>
      {rows.slice(0, linesMax).map((row, index) => {
        const rate = row.history.requestsPerS.at(-1)
        const p999 = row.history.p999Ms.at(-1)
        return (
          <Text key={row.name} wrap="truncate">
            <Text color={ownerColor(index)}>{fit(row.name, nameWidth)}</Text>
            {'  '}
            <Text color={accentColor}>{sparklineText(row.history.requestsPerS, sparkWidth)}</Text>
            {` ${fit(formatCount(rate), 5, 'right')}   `}
            <Text color="yellow">{sparklineText(row.history.p999Ms, sparkWidth)}</Text>
            {` ${fit(formatMs(p999), 5, 'right')}`}
          </Text>
        )
      })}
    </Box>
  )
}

export function EventList({events, width, linesMax}: {readonly events: readonly TopEvent[]; readonly width: number; readonly linesMax: number}) {
  if (linesMax <= 0) return null
  const shown = events.slice(-linesMax)
  return (
    <Box flexDirection="column">
      <Text bold>events</Text>
      {shown.length === 0 ? <Text color={dimColor}>none yet</Text> : null}
      {shown.map((event, index) => (
        <Text key={index} wrap="truncate" color={eventColor[event.severity]}>
          {fit(`${formatClock(event.atMs)} ${event.text}`, width)}
        </Text>
      ))}
    </Box>
  )
}

export function NodeDetail({snapshot, row, index, width, linesMax}: {readonly snapshot: ClusterSnapshot; readonly row: NodeRow; readonly index: number; readonly width: number; readonly linesMax: number}) {
  const f = row.figures
  const focus = snapshot.focus?.name === row.name ? snapshot.focus : undefined
  const requests = f.latencyBuckets?.counts.reduce((a, b) => a + b, 0) ?? 0
  const status = shownStatus(row)
  return (
    <Box flexDirection="column">
      <Text wrap="truncate">
        <Text bold color={ownerColor(index)}>{row.name}</Text>
        {`  ${row.address}  `}
        <Text color={status.color}>{status.text}</Text>
        {row.answering ? `  up ${formatDuration(f.uptimeMs)}  ${formatCount(f.keys)} keys  store ${formatBytes(f.storeBytes)}  loop p99 ${formatMs(f.eventLoopDelayP99Ms)} ms${repairText(f)}` : '  its /stats does not answer'}
      </Text>
      <Text wrap="truncate">
        {'its view: '}
        {focus === undefined ? <Text color={dimColor}>asking…</Text> : null}
        {focus?.error !== undefined ? <Text color={errorColor}>{focus.error}</Text> : null}
        {(focus?.peers ?? []).map((peer) => (
          <Text key={peer.name}>
            {`${peer.name} `}
            <Text color={statusColor(peer.status)}>{peer.status}</Text>
            {'  '}
          </Text>
        ))}
      </Text>
      <Text bold wrap="truncate">{`latency of its requests since top started (${formatCount(requests)})`}</Text>
      {f.latencyBuckets === undefined ? <Text color={dimColor}>{row.answering ? 'no requests yet' : 'the node does not answer'}</Text> : <LatencyBars buckets={f.latencyBuckets} width={width} linesMax={Math.max(1, linesMax - 3)} />}
    </Box>
  )
}

export const keyHelp: ReadonlyArray<readonly [string, string]> = [
  ['q, ctrl-c', 'quit'],
  ['↑ ↓', 'select a node'],
  ['enter', "the selected node's detail: its own view of the others, store size, latency histogram"],
  ['esc', 'back from the detail or this list'],
  ['?', 'this list of keys'],
]

export function HelpPanel({width}: {readonly width: number}) {
  return (
    <Box flexDirection="column">
      <Text bold>keys</Text>
      {keyHelp.map(([keys, what]) => (
        <Text key={keys} wrap="truncate">{fit(`  ${keys.padEnd(10)} ${what}`, width)}</Text>
      ))}
      <Text bold>columns</Text>
      <Text wrap="truncate">{fit('  GET/S PUT/S: requests this node coordinated per second (puts include deletes)', width)}</Text>
      <Text wrap="truncate">{fit('  GET/PUT p99/.9: latency percentiles of the last 10 s, ms; LOOP: event-loop p99', width)}</Text>
      <Text wrap="truncate">{fit('  SHED: requests refused per second (503 overloaded), shown while a node sheds', width)}</Text>
      <Text wrap="truncate">{fit('  STATUS: as the watched node sees it; - : the node did not answer', width)}</Text>
    </Box>
  )
}

export function TopView({snapshot, width, height, selected, mode, interactive = true}: TopViewProps) {
  if (snapshot === undefined) return <Text>dyn top: asking the cluster…</Text>
  const rows = membersNow(snapshot.nodes)
  const members = rows.map((row) => row.name)
  const departedLines = rows.length < snapshot.nodes.length ? 1 : 0
  const ringLines = Math.max(1, Math.min(2, Math.ceil(snapshot.owners.length / Math.max(1, width))))
  const headerLines = 1 + (snapshot.stale || snapshot.failover ? 1 : 0)
  const fixed = headerLines + 1 + rows.length + departedLines + 1 + ringLines + (interactive ? 1 : 0)
  // Stay one line short of the terminal: a frame as tall as the screen makes ink clear it every refresh.
  const free = Math.max(0, height - 1 - fixed)
  const row = rows[Math.min(selected, rows.length - 1)]
  let lower
  if (mode === 'help') lower = <HelpPanel width={width} />
  else if (mode === 'detail' && row !== undefined) lower = <NodeDetail snapshot={snapshot} row={row} index={Math.min(selected, rows.length - 1)} width={width} linesMax={free} />
  else {
    const historyLines = Math.min(rows.length, Math.max(0, free - 3))
    const eventLines = Math.max(0, free - (historyLines > 0 ? historyLines + 1 : 0) - 1)
    lower = (
      <Box flexDirection="column">
        {historyLines > 0 ? <History rows={rows} width={width} linesMax={historyLines} /> : null}
        <EventList events={snapshot.events} width={width} linesMax={eventLines} />
      </Box>
    )
  }
  return (
    <Box flexDirection="column" width={width}>
      <Header snapshot={snapshot} width={width} />
      <NodeTable rows={rows} width={width} {...(interactive ? {selected} : {})} />
      <DepartedLine rows={snapshot.nodes} width={width} />
      <RingStrip owners={snapshot.owners} moves={snapshot.moves} members={members} width={width} linesMax={ringLines} />
      {lower}
      {interactive ? <Text color={dimColor} wrap="truncate">{mode === 'main' ? 'q quit  ↑↓ select  enter detail  ? keys' : 'esc back  q quit'}</Text> : null}
    </Box>
  )
}

/** Anti-entropy in the detail line: catching up after a lost disk, or the keys it repaired. */
function repairText(figures: NodeRow['figures']): string {
  if (figures.recovering === true) return '  recovering a lost disk (anti-entropy)'
  return figures.keysRepaired === undefined ? '' : `  ${formatCount(figures.keysRepaired)} repaired`
}
