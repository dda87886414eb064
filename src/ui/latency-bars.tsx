/**
 * A latency histogram as horizontal bars, one per bucket (≤0.25 ms, ≤0.5 ms, … , >1 s), from
 * the first to the last bucket that holds anything, so that the shape shows in a few lines.
 */

import {Box, Text} from 'ink'
import type {LatencyBuckets} from './cluster-snapshot.js'
import {accentColor, fit, formatCount, formatMs, latencyColor} from './theme.js'

export function bucketLabel(buckets: LatencyBuckets, index: number): string {
  const bound = buckets.boundsMs[index]
  if (bound !== undefined) return `≤${formatMs(bound)} ms`
  return `>${formatMs(buckets.boundsMs[buckets.boundsMs.length - 1])} ms`
}

export function LatencyBars({buckets, width, linesMax}: {readonly buckets: LatencyBuckets; readonly width: number; readonly linesMax: number}) {
  const first = buckets.counts.findIndex((count) => count > 0)
  if (first === -1) return <Text>no requests yet</Text>
  let last = buckets.counts.length - 1
  while (last > first && (buckets.counts[last] ?? 0) === 0) last -= 1
  // Too many buckets for the lines given: keep the slowest, where the tail is.
  const start = Math.max(first, last - linesMax + 1)
  const top = Math.max(...buckets.counts.slice(start, last + 1))
  const labelWidth = 10
  const countWidth = 6
  const barWidth = Math.max(1, width - labelWidth - countWidth - 2)
  return (
    <Box flexDirection="column">
      {buckets.counts.slice(start, last + 1).map((count, offset) => {
        const index = start + offset
        const length = top === 0 ? 0 : Math.max(count > 0 ? 1 : 0, Math.round((count / top) * barWidth))
        const bound = buckets.boundsMs[index] ?? Number.POSITIVE_INFINITY
        return (
          <Text key={index} wrap="truncate">
            {fit(bucketLabel(buckets, index), labelWidth, 'right')}{' '}
            <Text color={latencyColor(bound === Number.POSITIVE_INFINITY ? 1000 : bound) ?? accentColor}>{'█'.repeat(length)}</Text>
            {' '.repeat(barWidth - length)} {fit(formatCount(count), countWidth, 'right')}
          </Text>
        )
      })}
    </Box>
  )
}
