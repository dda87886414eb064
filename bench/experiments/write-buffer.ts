/**
 * Paper §6.1, Figure 5: writes through an in-memory object buffer, flushed by a writer every
 * T ms, against writes that go to the storage engine each time. The paper saw the buffer cut the
 * 99.9th percentile of writes by a factor of five during peak traffic.
 *
 * Three variants of one 3-node cluster at the same open-loop load (YCSB A, 50% updates):
 * - storage engine: every replica writes to LevelDB before acknowledging (its log, not synced);
 * - storage engine, synced: as above, and the coordinator's write is synced to disk (dw=1);
 * - write buffer: writes go to each node's buffer, flushed every 100 ms, and one other replica of
 *   every put is asked for a durable (synced) write that the answer does not wait for.
 *
 *   node dist/bench/experiments/write-buffer.js [--rate 400] [--duration 20]
 */

import {experimentConfig, experimentFlags, latencyOf, markdownTable, ms, openLoopVariantFlags, runVariants} from './common.js'

const {rate, duration: durationS} = experimentFlags({
  name: 'write-buffer',
  measures:
    "Paper §6.1, Figure 5: writes through an in-memory object buffer flushed by a writer every 100 ms (one other replica asked for a durable write), against writes that go to the storage engine each time, not synced and with the coordinator's write synced (dw=1). One 3-node cluster per variant, YCSB A in an open loop.",
  flags: openLoopVariantFlags,
  examples: ['node dist/bench/experiments/write-buffer.js'],
})
const base = {mode: {kind: 'open' as const, ratePerS: rate}, durationS}

const results = await runVariants([
  {name: 'storage engine (LevelDB, not synced)', config: experimentConfig(base)},
  {name: 'storage engine, coordinator synced (dw=1)', config: experimentConfig({...base, dw: 1})},
  {name: 'write buffer, 100 ms flush, one durable replica', config: experimentConfig({...base, clusterArgs: ['--write-buffer-ms', '100']})},
])

const rows = results.map(({name, report}) => {
  const update = latencyOf(report, 'update')
  const read = latencyOf(report, 'read')
  return [name, ms(update?.mean), ms(update?.p50), ms(update?.p99), ms(update?.p999), ms(read?.p999)]
})
process.stdout.write(`YCSB A, open loop at ${rate} ops/s for ${durationS} s, 3 nodes, N/R/W 3/2/2, 100-byte values\n\n`)
process.stdout.write(`${markdownTable(['writes go to', 'update mean ms', 'update p50 ms', 'update p99 ms', 'update p99.9 ms', 'read p99.9 ms'], rows)}\n`)
