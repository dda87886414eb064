/**
 * Tests of the parts of the §6.2 partitioning experiment (bench/experiments/partitioning.ts):
 * token rings and their ring walk, the three placements, the running-total request count
 * against a per-key brute force, the zipfian alias table and the efficiency measure. The
 * experiment's figures themselves are measured, not asserted; see partitioning.md.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'
import {seededRandom} from '../../src/clock.js'
import {buildRing} from '../../src/ring/ring.js'
import {
  balanceEfficiency,
  checkFixedPartitionLookup,
  distinctNodesFrom,
  drawZipfian,
  expectedUniformLoads,
  fixedPartitionPlacement,
  hashSpaceSize,
  keyUniverse,
  metadataSize,
  randomTokenRing,
  replicasOfSlot,
  ringWorkload,
  runExperiment,
  servedRequests,
  slotOfPosition,
  slotShares,
  successorToken,
  tokenPartitionPlacement,
  tokenRangePlacement,
  tokenRingFromPairs,
  uniformRequests,
  zipfianRequests,
  zipfianTable,
  zipfianTopShare,
  type KeyUniverse,
  type Placement,
} from '../../bench/experiments/partitioning.js'

const quarter = 2 ** 30

/** Loads by brute force: every key's slot looked up on its own, its requests given to each replica. */
function bruteForceLoads(placement: Placement, universe: KeyUniverse, requestsPerKey: Uint32Array): number[] {
  const loads = new Array<number>(placement.nodeCount).fill(0)
  universe.positions.forEach((position, rank) => {
    for (const node of replicasOfSlot(placement, slotOfPosition(placement, position))) {
      loads[node] = (loads[node] as number) + (requestsPerKey[rank] as number)
    }
  })
  return loads
}

/** The keys whose requests the counting tests spread over the ring. */
const universe = keyUniverse(600, 'test-key-')

/**
 * Token positions drawn mostly at random, with the edges of the space, repeats, and the positions
 * of the universe's own keys mixed in (a key exactly on a token is where off-by-ones hide).
 */
const tokenPosition = fc.oneof(
  fc.integer({min: 0, max: hashSpaceSize - 1}),
  fc.constantFrom(0, 1, quarter, hashSpaceSize - 1),
  fc.integer({min: 0, max: 599}).map((rank) => universe.positions[rank] as number),
)
const smallTokenRing = fc
  .integer({min: 3, max: 8})
  .chain((nodeCount) =>
    fc
      .array(fc.tuple(tokenPosition, fc.integer({min: 0, max: nodeCount - 1})), {minLength: 1, maxLength: 40})
      .map((pairs) => [...pairs, ...Array.from({length: nodeCount}, (_, node) => [pairs.length * 7919 + node, node])])
      .map((pairs) => tokenRingFromPairs(nodeCount, pairs as [number, number][])),
  )

describe('balanceEfficiency', () => {
  it('is mean / max load: 1 when even, 2/3 for loads 1, 2, 3', () => {
    assert.equal(balanceEfficiency([5, 5, 5]), 1)
    assert.equal(balanceEfficiency([1, 2, 3]), 2 / 3)
    assert.equal(balanceEfficiency([0, 0]), 1)
  })
})

describe('token ring', () => {
  it('orders tokens by position, then node, and walks clockwise to distinct nodes', () => {
    const ring = tokenRingFromPairs(3, [
      [quarter * 2, 2],
      [quarter, 1],
      [quarter, 0],
      [quarter * 3, 1],
    ])
    assert.deepEqual([...ring.positions], [quarter, quarter, quarter * 2, quarter * 3])
    assert.deepEqual([...ring.nodes], [0, 1, 2, 1])
    assert.equal(successorToken(ring, 0), 0)
    assert.equal(successorToken(ring, quarter), 0, 'a key on a token belongs to it')
    assert.equal(successorToken(ring, quarter + 1), 2)
    assert.equal(successorToken(ring, quarter * 3 + 1), 0, 'past the last token wraps to the first')
    assert.deepEqual(distinctNodesFrom(ring, 3, 3), [1, 0, 2])
    assert.deepEqual(distinctNodesFrom(ring, 2, 2), [2, 1])
  })

  it('gives every node T tokens', () => {
    const ring = randomTokenRing(5, 7, seededRandom(3))
    const counts = new Array<number>(5).fill(0)
    for (const node of ring.nodes) counts[node] = (counts[node] as number) + 1
    assert.deepEqual(counts, [7, 7, 7, 7, 7])
    for (let index = 1; index < ring.positions.length; index++) {
      assert.ok((ring.positions[index - 1] as number) <= (ring.positions[index] as number))
    }
  })
})

describe('strategy 1: ranges between tokens', () => {
  it('gives each token the range up to it, replicated on the next distinct nodes (worked example)', () => {
    // A at 2^30, B at 2^31, A at 3·2^30, C at 2^32-1; N=2. A's first range wraps from C's token.
    const ring = tokenRingFromPairs(3, [
      [quarter, 0],
      [quarter * 2, 1],
      [quarter * 3, 0],
      [hashSpaceSize - 1, 2],
    ])
    const placement = tokenRangePlacement(ring, 2)
    assert.deepEqual(
      [...slotShares(placement)].map((share) => share * hashSpaceSize),
      [quarter + 1, quarter, quarter, quarter - 1],
    )
    assert.deepEqual([0, 1, 2, 3].map((slot) => replicasOfSlot(placement, slot)), [[0, 1], [1, 0], [0, 2], [2, 0]])
    const loads = [...expectedUniformLoads(placement)].map((load) => load * hashSpaceSize)
    assert.deepEqual(loads, [hashSpaceSize, 2 * quarter + 1, 2 * quarter - 1])
    assert.equal(balanceEfficiency(expectedUniformLoads(placement)), 2 / 3)
  })

  it('tiles the space once, so the loads sum to N', () => {
    fc.assert(
      fc.property(smallTokenRing, fc.integer({min: 1, max: 3}), (ring, replicaCount) => {
        const placement = tokenRangePlacement(ring, replicaCount)
        const total = slotShares(placement).reduce((sum, share) => sum + share, 0)
        assert.ok(Math.abs(total - 1) < 1e-12, `shares sum to ${total}`)
        const loads = expectedUniformLoads(placement).reduce((sum, load) => sum + load, 0)
        assert.ok(Math.abs(loads - replicaCount) < 1e-9)
      }),
      {numRuns: 200},
    )
  })
})

describe('request counting', () => {
  it('equals a per-key brute force for strategies 1 and 2', () => {
    fc.assert(
      fc.property(
        smallTokenRing,
        fc.integer({min: 1, max: 3}),
        fc.constantFrom(1, 2, 16, 1024),
        fc.integer(),
        (ring, replicaCount, partitionCount, seed) => {
          const requests = uniformRequests(universe.positions.length, 3000, seededRandom(seed))
          const workload = ringWorkload(universe, requests)
          for (const placement of [
            tokenRangePlacement(ring, replicaCount),
            tokenPartitionPlacement(ring, partitionCount, replicaCount),
          ]) {
            assert.deepEqual([...servedRequests(placement, workload)], bruteForceLoads(placement, universe, requests))
          }
        },
      ),
      {numRuns: 100},
    )
  })

  it('equals a per-key brute force for strategy 3 (src/ring)', () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 8, 64, 512), fc.integer({min: 3, max: 12}), fc.integer(), (q, nodeCount, seed) => {
        const ring = buildRing(q, Array.from({length: nodeCount}, (_, index) => `n${seed}-${index}`))
        const placement = fixedPartitionPlacement(ring, 3)
        const requests = uniformRequests(universe.positions.length, 3000, seededRandom(seed))
        const workload = ringWorkload(universe, requests)
        assert.deepEqual([...servedRequests(placement, workload)], bruteForceLoads(placement, universe, requests))
      }),
      {numRuns: 40},
    )
  })
})

describe('strategy 2: equal partitions placed by tokens', () => {
  it('places partition p on the replicas of the first token at or after its end', () => {
    const ring = randomTokenRing(6, 5, seededRandom(11))
    const byToken = tokenRangePlacement(ring, 3)
    const placement = tokenPartitionPlacement(ring, 64, 3)
    for (let partition = 0; partition < 64; partition++) {
      const end = ((partition + 1) * hashSpaceSize) / 64
      const token = end >= hashSpaceSize ? 0 : successorToken(ring, end)
      assert.deepEqual(replicasOfSlot(placement, partition), replicasOfSlot(byToken, token))
    }
  })

  it('balances like strategy 1 on the same tokens when Q is far above S·T', () => {
    const ring = randomTokenRing(30, 10, seededRandom(5))
    const byToken = balanceEfficiency(expectedUniformLoads(tokenRangePlacement(ring, 3)))
    const byPartition = balanceEfficiency(expectedUniformLoads(tokenPartitionPlacement(ring, 2 ** 20, 3)))
    assert.ok(Math.abs(byToken - byPartition) < 0.01, `${byToken} vs ${byPartition}`)
  })
})

describe('strategy 3: the project ring', () => {
  it('finds the same partition and N nodes as preferenceListForKey', () => {
    const keys = Array.from({length: 1000}, (_, index) => `user:${index}`)
    for (const q of [1, 64, 4096]) {
      const ring = buildRing(q, Array.from({length: 30}, (_, index) => `node-${index}`))
      assert.equal(checkFixedPartitionLookup(ring, fixedPartitionPlacement(ring, 3), keys), undefined)
    }
    const ring = buildRing(64, ['a', 'b', 'c', 'd'])
    const other = buildRing(64, ['a', 'b', 'c', 'e'])
    assert.notEqual(checkFixedPartitionLookup(ring, fixedPartitionPlacement(other, 3), keys), undefined)
  })

  it('is perfectly balanced when S divides Q and N=1', () => {
    const ring = buildRing(64, ['a', 'b', 'c', 'd'])
    assert.equal(balanceEfficiency(expectedUniformLoads(fixedPartitionPlacement(ring, 1))), 1)
  })
})

describe('zipfian', () => {
  it('has an alias table that encodes exactly the zipf probabilities', () => {
    for (const exponent of [0, 0.6, 0.99, 1.5]) {
      const keyCount = 1000
      const table = zipfianTable(keyCount, exponent)
      const implied = Array.from(table.keepBelow, (keep) => keep / keyCount)
      table.alias.forEach((alias, column) => {
        if (alias !== column) implied[alias] = (implied[alias] as number) + (1 - (table.keepBelow[column] as number)) / keyCount
      })
      const expectedTotal = Array.from({length: keyCount}, (_, rank) => (rank + 1) ** -exponent).reduce((a, b) => a + b)
      implied.forEach((probability, rank) => {
        const expected = (rank + 1) ** -exponent / expectedTotal
        assert.ok(Math.abs(probability - expected) < 1e-12, `rank ${rank}: ${probability} vs ${expected}`)
      })
      assert.equal(zipfianTopShare(table), table.probabilities[0])
    }
  })

  it('replays with a seed and draws the top key about as often as its share', () => {
    const table = zipfianTable(10_000, 0.99)
    const requests = zipfianRequests(table, 200_000, seededRandom(42))
    assert.deepEqual(requests, zipfianRequests(table, 200_000, seededRandom(42)))
    assert.equal(requests.reduce((sum, count) => sum + count, 0), 200_000)
    const expectedTop = zipfianTopShare(table) * 200_000
    // Binomial: the standard deviation is below √expectedTop, so 5 of them is a wide margin.
    assert.ok(Math.abs((requests[0] as number) - expectedTop) < 5 * Math.sqrt(expectedTop))
    const random = seededRandom(1)
    for (let draw = 0; draw < 1000; draw++) {
      const rank = drawZipfian(table, random)
      assert.ok(Number.isInteger(rank) && rank >= 0 && rank < 10_000)
    }
  })
})

describe('the experiment', () => {
  it('counts metadata as all tokens (strategies 1, 2) or the Q partitions (strategy 3)', () => {
    assert.equal(metadataSize({strategy: 1, tokensPerNode: 34}, 30), 1020)
    assert.equal(metadataSize({strategy: 2, tokensPerNode: 34, partitionCount: 65536}, 30), 1020)
    assert.equal(metadataSize({strategy: 3, partitionCount: 1024}, 30), 1024)
  })

  it('replays exactly with the same seeds and reports efficiencies in (0, 1]', () => {
    const config = {
      nodeCount: 10,
      replicaCount: 3,
      seeds: [1, 2],
      keyCount: 2000,
      requestCount: 5000,
      zipfExponents: [0.8],
      strategies: [
        {strategy: 1, tokensPerNode: 8},
        {strategy: 2, tokensPerNode: 8, partitionCount: 256},
        {strategy: 3, partitionCount: 128},
      ] as const,
    }
    const first = runExperiment(config)
    assert.deepEqual(runExperiment(config), first)
    for (const row of first) {
      for (const summary of [row.exactUniform, row.sampledUniform, ...row.zipf]) {
        assert.ok(summary.min > 0 && summary.min <= summary.mean && summary.mean <= summary.max && summary.max <= 1)
      }
    }
  })
})
