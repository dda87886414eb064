/**
 * Paper §6.4, Table 2: server-driven coordination (a load balancer sends each request to any
 * node, which forwards writes to a coordinator among the key's top N) against client-driven
 * coordination (the client caches the ring and sends each request straight to a coordinator).
 * The paper measured p99.9 68.9 ms vs 30.4 ms for reads and 68.5 ms vs 30.4 ms for writes.
 *
 * 5 nodes with N=3, so that a random node is a key's home replica only 3 times in 5, at the same
 * open-loop load; server-driven sends round robin over all nodes.
 *
 *   node dist/bench/experiments/coordination.js [--rate 400] [--duration 20]
 */

import {experimentConfig, experimentFlags, latencyOf, markdownTable, ms, openLoopVariantFlags, runVariants} from './common.js'

const {rate, duration: durationS} = experimentFlags({
  name: 'coordination',
  measures:
    'Paper §6.4, Table 2: server-driven coordination (each request to any node, round robin, which forwards it to a coordinator among the key\'s top N) against client-driven coordination (the client caches the ring and sends each request straight to a coordinator). 5 nodes with N=3, the same open loop for both.',
  flags: openLoopVariantFlags,
  examples: ['node dist/bench/experiments/coordination.js'],
})
const base = {startNodes: 5, mode: {kind: 'open' as const, ratePerS: rate}, durationS}

const results = await runVariants([
  {name: 'server-driven', config: experimentConfig(base)},
  {name: 'client-driven', config: experimentConfig({...base, clientDriven: true})},
])

const rows = results.map(({name, report}) => {
  const read = latencyOf(report, 'read')
  const update = latencyOf(report, 'update')
  return [name, ms(read?.p999), ms(update?.p999), ms(read?.mean), ms(update?.mean)]
})
process.stdout.write(`YCSB A, open loop at ${rate} ops/s for ${durationS} s, 5 nodes, N/R/W 3/2/2, 100-byte values\n\n`)
process.stdout.write(`${markdownTable(['coordination', 'read p99.9 ms', 'write p99.9 ms', 'read mean ms', 'write mean ms'], rows)}\n`)
