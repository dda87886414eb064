/**
 * Component test of the bench's live progress: the phase and bar, and per operation its count,
 * throughput with a sparkline of its history, and percentiles in dyn top's formats.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {renderToString} from 'ink'
import {BenchProgress} from '../../src/ui/bench-progress.js'

describe('BenchProgress', () => {
  it('shows each operation with its throughput sparkline and percentiles', () => {
    const text = renderToString(
      <BenchProgress
        snapshot={{
          phase: 'running',
          elapsedS: 5,
          durationS: 10,
          done: 12_345,
          operations: [
            {operation: 'read', count: 12_000, throughputPerS: 2400, latency: {p50Ms: 0.8, p99Ms: 4.2, p999Ms: 350}, errors: {}},
            {operation: 'update', count: 345, throughputPerS: 69, latency: {p50Ms: 1.1, p99Ms: 12, p999Ms: 40}, errors: {timeout: 2}},
          ],
          throughputHistory: {read: [2000, 2400, 0, 2400], update: [60, 69]},
        }}
      />,
      {columns: 100},
    )
    assert.match(text, /running\s+█{15}░{15} 5\.0\/10 s/)
    assert.match(text, /read\s+12k ops\s+2\.4k\/s\s+▇█▁█\s+p50\s+\.80\s+p99\s+4\.2\s+p99\.9\s+350 ms/)
    assert.match(text, /update\s+345 ops\s+69\/s\s+▇█\s+p50\s+1\.1\s+p99\s+12\s+p99\.9\s+40 ms\s+errors 2/)
  })

  it('says a run past its seconds is waiting for its last answers, with a full bar, not "42/15 s"', () => {
    const text = renderToString(<BenchProgress snapshot={{phase: 'running', elapsedS: 42, durationS: 15, done: 10, operations: [], throughputHistory: {}}} />, {columns: 120})
    assert.match(text, /running\s+█{30} 15\.0\/15 s, waiting for the last answers \(\+27\.0 s\)/)
    assert.doesNotMatch(text, /42\.0\/15/)
  })
})
