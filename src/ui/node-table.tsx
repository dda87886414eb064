/**
 * The table of `dyn top`: a row per node. Columns have a priority: on a narrow terminal the
 * least important ones are left out (80 columns hold all of the everyday ones), on a wide one
 * extra ones appear. A column whose figure no node serves is left out rather than shown as
 * zeros (hints pending and transfers in progress, until the nodes serve them), and so is SHED
 * while no node sheds.
 */

import {Box, Text} from 'ink'
import type {NodeRow} from './cluster-snapshot.js'
import {dimColor, fit, formatBytes, formatCount, formatDuration, formatMs, latencyColor, ownerColor, shownStatus, warnColor} from './theme.js'

interface Column {
  readonly title: string
  /** Columns; a function when it follows the content (within bounds). */
  readonly width: number | ((rows: readonly NodeRow[]) => number)
  readonly align: 'left' | 'right'
  /** Lower numbers are kept first when the width runs short. */
  readonly priority: number
  /** Whether any row has the figure; a column nobody serves is left out. */
  readonly served?: (rows: readonly NodeRow[]) => boolean
  readonly cell: (row: NodeRow) => {text: string; color?: string}
}

const latencyPair = (pair: {p99: number; p999: number} | undefined): {text: string; color?: string} => {
  if (pair === undefined) return {text: '-'}
  const color = latencyColor(pair.p999)
  return {text: `${formatMs(pair.p99)}/${formatMs(pair.p999)}`, ...(color ? {color} : {})}
}

/** Whether a node sheds requests now (admission control's state) or shed some since the previous poll. */
export function someNodeSheds(rows: readonly NodeRow[]): boolean {
  return rows.some((row) => row.figures.admissionState === 'shedding' || (row.figures.shedPerS ?? 0) > 0)
}

const columns: readonly Column[] = [
  {title: 'ADDRESS', width: (rows) => Math.min(21, Math.max(14, ...rows.map((row) => row.address.length))), align: 'left', priority: 2, cell: (row) => ({text: row.address})},
  {title: 'STATUS', width: 7, align: 'left', priority: 0, cell: (row) => shownStatus(row)},
  {title: 'PART', width: 4, align: 'right', priority: 1, cell: (row) => ({text: String(row.partitions)})},
  {title: 'KEYS', width: 5, align: 'right', priority: 1, cell: (row) => ({text: formatCount(row.figures.keys)})},
  {title: 'GET/S', width: 5, align: 'right', priority: 0, cell: (row) => ({text: formatCount(row.figures.getsPerS)})},
  {title: 'PUT/S', width: 5, align: 'right', priority: 0, cell: (row) => ({text: formatCount(row.figures.putsPerS)})},
  {title: 'GET p99/.9', width: 10, align: 'right', priority: 0, cell: (row) => latencyPair(row.figures.getLatencyMs)},
  {title: 'PUT p99/.9', width: 10, align: 'right', priority: 0, cell: (row) => latencyPair(row.figures.putLatencyMs)},
  {
    // Requests refused by admission control per second, in the warning colour while the node
    // sheds. Shown only while some node sheds or shed since the last poll: the rest of the time
    // the 80 columns go to the everyday ones, the address among them; 4 wide (formatCount never
    // needs more), so that at 80 columns it fits beside the address of a local cluster's node.
    title: 'SHED',
    width: 4,
    align: 'right',
    priority: 1,
    served: someNodeSheds,
    cell: (row) => (row.figures.admissionState === 'shedding' ? {text: formatCount(row.figures.shedPerS ?? 0), color: warnColor} : {text: formatCount(row.figures.shedPerS)}),
  },
  {title: 'LOOP', width: 4, align: 'right', priority: 3, cell: (row) => ({text: formatMs(row.figures.eventLoopDelayP99Ms)})},
  {title: 'HINTS', width: 5, align: 'right', priority: 1, served: (rows) => rows.some((r) => r.figures.hintsPending !== undefined), cell: (row) => ({text: formatCount(row.figures.hintsPending)})},
  {title: 'XFER', width: 4, align: 'right', priority: 1, served: (rows) => rows.some((r) => r.figures.transfersInProgress !== undefined), cell: (row) => ({text: formatCount(row.figures.transfersInProgress)})},
  {title: 'REPAIR', width: 6, align: 'right', priority: 3, served: (rows) => rows.some((r) => r.figures.keysRepaired !== undefined), cell: (row) => (row.figures.recovering === true ? {text: 'catch', color: warnColor} : {text: formatCount(row.figures.keysRepaired)})},
  {title: 'STORE', width: 9, align: 'right', priority: 4, cell: (row) => ({text: formatBytes(row.figures.storeBytes)})},
  {title: 'UPTIME', width: 7, align: 'right', priority: 5, cell: (row) => ({text: formatDuration(row.figures.uptimeMs)})},
]

/** The name column (with the selection mark) is always there; it takes what the others leave, within bounds. */
const nameWidthMin = 4
const nameWidthMax = 16

/** Which columns fit in `width`, in display order, and how wide the name column is. */
export function layoutColumns(rows: readonly NodeRow[], width: number): {columns: Array<Column & {width: number}>; nameWidth: number} {
  const candidates = columns
    .filter((column) => column.served === undefined || column.served(rows))
    .map((column) => ({...column, width: typeof column.width === 'number' ? column.width : column.width(rows)}))
  const longestName = Math.max(0, ...rows.map((row) => row.name.length))
  const nameWidth = Math.min(nameWidthMax, Math.max(nameWidthMin, longestName))
  let used = 2 + nameWidth
  const chosen = new Set<Column & {width: number}>()
  for (const column of [...candidates].sort((a, b) => a.priority - b.priority)) {
    if (used + 1 + column.width > width) continue
    chosen.add(column)
    used += 1 + column.width
  }
  return {columns: candidates.filter((column) => chosen.has(column)), nameWidth}
}

export function NodeTable({rows, width, selected}: {readonly rows: readonly NodeRow[]; readonly width: number; readonly selected?: number}) {
  const {columns: shown, nameWidth} = layoutColumns(rows, width)
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate">
        {`  ${fit('NODE', nameWidth)}`}
        {shown.map((column) => ` ${fit(column.title, column.width, column.align)}`).join('')}
      </Text>
      {rows.map((row, index) => (
        <Text key={row.name} wrap="truncate" inverse={index === selected}>
          {index === selected ? '▶ ' : '  '}
          <Text color={ownerColor(index)}>{fit(row.name, nameWidth)}</Text>
          {shown.map((column) => {
            const cell = row.answering || column.title === 'STATUS' || column.title === 'ADDRESS' || column.title === 'PART' ? column.cell(row) : {text: '-', color: dimColor}
            return (
              <Text key={column.title} color={cell.color}>
                {` ${fit(cell.text, column.width, column.align)}`}
              </Text>
            )
          })}
        </Text>
      ))}
    </Box>
  )
}
