/**
 * Live progress of `dyn bench` on a terminal: the phase, a progress bar, and per operation the
 * count, throughput (with a sparkline of it over the run) and latency percentiles so far, in the
 * colours and number formats of `dyn top` (theme.ts), so that a latency reads the same in both.
 * It renders a plain snapshot object and fetches nothing.
 */

import {Box, Text} from 'ink'
import {Sparkline} from './sparkline.js'
import {accentColor, benchPhasePosition, errorColor, fit, formatCount, formatMs, latencyColor} from './theme.js'

export interface BenchProgressOperation {
  readonly operation: string
  readonly count: number
  readonly throughputPerS: number
  readonly latency: {readonly p50Ms: number; readonly p99Ms: number; readonly p999Ms: number}
  readonly errors: Record<string, number>
}

export interface BenchProgressSnapshot {
  readonly phase: string
  readonly elapsedS: number
  readonly durationS: number
  readonly done: number
  readonly total?: number
  readonly operations: readonly BenchProgressOperation[]
  /** More about the phase than its name (a step of a capacity search). */
  readonly label?: string
  /** Per operation, its throughput at each progress update of this phase, oldest first. */
  readonly throughputHistory?: Readonly<Record<string, readonly number[]>>
}

const barWidth = 30
const sparkWidth = 16

export function ProgressBar({fraction}: {readonly fraction: number}) {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * barWidth)
  return <Text color={accentColor}>{'█'.repeat(filled) + '░'.repeat(barWidth - filled)}</Text>
}

function Latency({label, ms}: {readonly label: string; readonly ms: number}) {
  return (
    <Text>
      {`  ${label} `}
      <Text color={latencyColor(ms)}>{fit(formatMs(ms), 4, 'right')}</Text>
    </Text>
  )
}

export function BenchProgress({snapshot}: {readonly snapshot: BenchProgressSnapshot}) {
  const fraction = snapshot.total !== undefined ? snapshot.done / Math.max(1, snapshot.total) : Math.min(1, snapshot.elapsedS / Math.max(0.001, snapshot.durationS))
  const detail = benchPhasePosition(snapshot, 1)
  return (
    <Box flexDirection="column">
      <Box gap={1}>
        <Text bold>{snapshot.phase.padEnd(11)}</Text>
        <ProgressBar fraction={fraction} />
        <Text>{detail}</Text>
        {snapshot.label === undefined ? null : <Text dimColor>{snapshot.label}</Text>}
      </Box>
      {snapshot.operations.map((op) => {
        const errors = Object.values(op.errors).reduce((a, b) => a + b, 0)
        return (
          <Text key={op.operation} wrap="truncate">
            {`  ${op.operation.padEnd(8)} ${fit(formatCount(op.count), 5, 'right')} ops ${fit(formatCount(op.throughputPerS), 5, 'right')}/s `}
            <Sparkline values={snapshot.throughputHistory?.[op.operation] ?? []} width={sparkWidth} color={accentColor} />
            <Latency label="p50" ms={op.latency.p50Ms} />
            <Latency label="p99" ms={op.latency.p99Ms} />
            <Latency label="p99.9" ms={op.latency.p999Ms} />
            {' ms'}
            {errors > 0 ? <Text color={errorColor}>{`  errors ${errors}`}</Text> : null}
          </Text>
        )
      })}
    </Box>
  )
}
