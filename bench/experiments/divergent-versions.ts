/**
 * Paper §6.3: how often do reads see divergent versions? Over 24 hours of the shopping cart
 * service, 99.94% of requests saw exactly one version, 0.00057% two, 0.00047% three and
 * 0.00009% four; the paper attributes divergence mostly to concurrent writers (often robots).
 *
 * The cart workload (read, merge the siblings, add an item, write back with the context) in a
 * closed loop, at rising contention: the same number of concurrent shoppers over fewer carts,
 * each shopper picking a cart uniformly; and once with zipfian carts, where a few hot carts see
 * many concurrent writers (the paper's robots).
 *
 *   node dist/bench/experiments/divergent-versions.js [--connections 32] [--duration 15]
 */

import type {DistributionName} from '../distributions.js'
import {experimentConfig, experimentFlags, markdownTable, positiveInteger, runVariants} from './common.js'

const {connections, duration: durationS} = experimentFlags({
  name: 'divergent-versions',
  measures:
    'Paper §6.3: how often reads see divergent versions. The cart workload (read, merge the siblings, add an item, write back with the context) in a closed loop on 3 nodes, the same shoppers over fewer and fewer carts, then over zipfian carts; the share of cart reads that saw 0, 1, 2, ... versions.',
  flags: {
    connections: {read: positiveInteger, value: 'C', default: '32', description: 'concurrent shoppers (the closed loop\'s connections)'},
    duration: {read: positiveInteger, value: 'S', default: '15', description: 'measured seconds per variant'},
  },
  examples: ['node dist/bench/experiments/divergent-versions.js'],
})
const variants: ReadonlyArray<{records: number; distribution: DistributionName}> = [
  {records: 100_000, distribution: 'uniform'},
  {records: 10_000, distribution: 'uniform'},
  {records: 1_000, distribution: 'uniform'},
  {records: 100, distribution: 'uniform'},
  {records: 10_000, distribution: 'zipfian'},
]

const results = await runVariants(
  variants.map(({records, distribution}) => ({
    name: `${records} carts, ${distribution}`,
    // No load phase: a shopper's first read of a cart finds nothing and writes a new one.
    config: experimentConfig({workload: 'cart', records, distribution, load: false, mode: {kind: 'closed', connections}, durationS}),
  })),
)

const rows = results.map(({name, report}) => {
  const cart = report.run.operations.find((op) => op.operation === 'cart')
  const seen = cart?.versionsSeen ?? {}
  const total = Object.values(seen).reduce((a, b) => a + b, 0)
  const share = (k: number): string => `${(((seen[String(k)] ?? 0) / Math.max(1, total)) * 100).toFixed(4)}%`
  const more = Object.entries(seen).filter(([k]) => Number(k) > 4).reduce((sum, [, v]) => sum + v, 0)
  return [name, String(total), share(0), share(1), share(2), share(3), share(4), `${((more / Math.max(1, total)) * 100).toFixed(4)}%`]
})
process.stdout.write(`cart workload, closed loop with ${connections} shoppers for ${durationS} s, 3 nodes, N/R/W 3/2/2\n\n`)
process.stdout.write(`${markdownTable(['carts', 'cart reads', '0 versions (new cart)', '1 version', '2 versions', '3 versions', '4 versions', 'more'], rows)}\n`)
