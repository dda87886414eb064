/**
 * Live progress of `dyn bench` on a terminal: the phase, a progress bar, and per operation the
 * count, throughput and latency percentiles so far. It renders a plain snapshot object and
 * fetches nothing.
 */

import {Box, Text} from 'ink'

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
}

const barWidth = 30

export function ProgressBar({fraction}: {readonly fraction: number}) {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * barWidth)
  return <Text color="cyan">{'█'.repeat(filled) + '░'.repeat(barWidth - filled)}</Text>
}

export function BenchProgress({snapshot}: {readonly snapshot: BenchProgressSnapshot}) {
  const fraction = snapshot.total !== undefined ? snapshot.done / Math.max(1, snapshot.total) : snapshot.elapsedS / Math.max(0.001, snapshot.durationS)
  const detail = snapshot.total !== undefined ? `${snapshot.done}/${snapshot.total}` : `${snapshot.elapsedS.toFixed(1)}/${snapshot.durationS} s`
  return (
    <Box flexDirection="column">
      <Box gap={1}>
        <Text bold>{snapshot.phase.padEnd(11)}</Text>
        <ProgressBar fraction={fraction} />
        <Text>{detail}</Text>
      </Box>
      {snapshot.operations.map((op) => {
        const errors = Object.values(op.errors).reduce((a, b) => a + b, 0)
        return (
          <Text key={op.operation}>
            {`  ${op.operation.padEnd(8)} ${String(op.count).padStart(8)} ops ${op.throughputPerS.toFixed(0).padStart(7)}/s  p50 ${op.latency.p50Ms.toFixed(2)}  p99 ${op.latency.p99Ms.toFixed(2)}  p99.9 ${op.latency.p999Ms.toFixed(2)} ms`}
            {errors > 0 ? <Text color="red">{`  errors ${errors}`}</Text> : null}
          </Text>
        )
      })}
    </Box>
  )
}
