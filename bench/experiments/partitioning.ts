/**
 * Load balance of the three partitioning strategies of Dynamo §6.2 (Figure 8), by simulation.
 *
 * The paper compares, for S=30 nodes and N=3, how evenly each strategy spreads requests when every
 * node keeps the same amount of membership metadata:
 *   1. T random tokens per node; the ranges between consecutive tokens are the partitions.
 *   2. T random tokens per node, Q equal partitions; a partition lives on the first N distinct
 *      nodes met walking clockwise from its end.
 *   3. Q equal partitions, Q/S per node: what src/ring implements (buildRing, preferenceList).
 * Load-balancing efficiency is the mean number of requests a node serves divided by the number the
 * busiest node serves, where a node serves every request for a key it is one of the N replicas of.
 *
 * Everything here is a pure function of its arguments and a seed, so the numbers replay exactly;
 * `main` (run when this file is executed) sweeps T and Q and prints a Markdown table. The results
 * and their comparison with the paper are in partitioning.md beside this file.
 *
 *   node dist/bench/experiments/partitioning.js [--seeds 8] [--requests 1000000]
 */

import {createHash} from 'node:crypto'
import {fileURLToPath} from 'node:url'
import {deriveSeed, seededRandom, type Random} from '../../src/clock.js'
import {assert} from '../../src/errors.js'
import {buildRing, partitionBits, preferenceList, preferenceListForKey, type Ring} from '../../src/ring/ring.js'
import {experimentFlags, positiveInteger} from './common.js'

/** The hash space: the first 4 bytes of MD5, as src/ring/partition.ts reads them. */
export const hashSpaceSize = 2 ** 32

/** The ring position of a key: MD5 of its UTF-8 bytes, first 4 bytes big-endian (as partitionOfKey). */
export function keyPosition(key: string): number {
  return createHash('md5').update(key, 'utf8').digest().readUInt32BE(0)
}

// deriveSeed (src/clock.ts) gives each named use of the experiment's seed its own stream, so that
// (for instance) the tokens of strategy 1 do not shift when the request stream is made longer.
export {deriveSeed}

// ---------------------------------------------------------------------------------------------
// Token rings (strategies 1 and 2)
// ---------------------------------------------------------------------------------------------

/** Tokens in clockwise order: token i sits at positions[i] and belongs to node nodes[i]. */
export interface TokenRing {
  readonly nodeCount: number
  readonly positions: Uint32Array
  readonly nodes: Int32Array
}

/**
 * A token ring from (position, node) pairs in any order. Equal positions are ordered by node so
 * that the ring is a function of the pairs alone.
 */
export function tokenRingFromPairs(nodeCount: number, pairs: readonly (readonly [number, number])[]): TokenRing {
  assert(Number.isInteger(nodeCount) && nodeCount > 0, 'a token ring needs at least one node')
  assert(pairs.length > 0, 'a token ring needs at least one token')
  // position * nodeCount + node is below 2^53 for any 32-bit position and fewer than 2^21 nodes,
  // so one numeric sort of these codes orders by position, then node.
  assert(nodeCount < 2 ** 21, 'too many nodes to encode')
  const codes = new Float64Array(pairs.length)
  pairs.forEach(([position, node], index) => {
    assert(Number.isInteger(position) && position >= 0 && position < hashSpaceSize, `bad token ${position}`)
    assert(Number.isInteger(node) && node >= 0 && node < nodeCount, `bad node ${node}`)
    codes[index] = position * nodeCount + node
  })
  codes.sort()
  const positions = new Uint32Array(codes.length)
  const nodes = new Int32Array(codes.length)
  codes.forEach((code, index) => {
    const position = Math.floor(code / nodeCount)
    positions[index] = position
    nodes[index] = code - position * nodeCount
  })
  return {nodeCount, positions, nodes}
}

/** T tokens per node, each uniform over the 32-bit hash space (strategy 1 and 2, §6.2). */
export function randomTokenRing(nodeCount: number, tokensPerNode: number, random: Random): TokenRing {
  assert(Number.isInteger(tokensPerNode) && tokensPerNode > 0, `bad tokens per node ${tokensPerNode}`)
  const pairs: [number, number][] = []
  for (let node = 0; node < nodeCount; node++) {
    for (let token = 0; token < tokensPerNode; token++) pairs.push([random.int(hashSpaceSize), node])
  }
  return tokenRingFromPairs(nodeCount, pairs)
}

/**
 * The token that serves `position`: the first token at or after it, wrapping to token 0. Token i
 * therefore covers the range (positions[i-1], positions[i]].
 */
export function successorToken(ring: TokenRing, position: number): number {
  const index = lowerBound(ring.positions, position)
  return index === ring.positions.length ? 0 : index
}

/** The first `replicaCount` distinct nodes met walking clockwise from token `start` (§4.3). */
export function distinctNodesFrom(ring: TokenRing, start: number, replicaCount: number): number[] {
  assert(replicaCount >= 1 && replicaCount <= ring.nodeCount, `cannot place ${replicaCount} replicas`)
  const tokenCount = ring.positions.length
  const found: number[] = []
  // One lap at most: every node with a token is met within it.
  for (let step = 0; step < tokenCount && found.length < replicaCount; step++) {
    const node = ring.nodes[(start + step) % tokenCount] as number
    if (!found.includes(node)) found.push(node)
  }
  assert(found.length === replicaCount, 'fewer nodes hold tokens than there are replicas')
  return found
}

// ---------------------------------------------------------------------------------------------
// Placements: hash position -> slot -> N replicas
// ---------------------------------------------------------------------------------------------

/**
 * Where requests go under one strategy. A request's position picks a slot (a token's range for
 * strategy 1, an equal partition for 2 and 3); every slot has its N replica nodes and covers the
 * positions [slotStarts[s], slotEnds[s]) of the hash space, where an end beyond 2^32 wraps round
 * to the bottom of the space. The slots tile the space exactly once.
 */
export interface Placement {
  readonly nodeCount: number
  readonly replicaCount: number
  /** Replicas of slot s are slotReplicas[s*N .. s*N+N), as node indexes. */
  readonly slotReplicas: Int32Array
  /** First position of each slot, in 0..2^32-1. */
  readonly slotStarts: Float64Array
  /** One past the last position of each slot, in slotStarts[s]..slotStarts[s]+2^32. */
  readonly slotEnds: Float64Array
  readonly lookup: SlotLookup
}

/** How a position finds its slot: a search among sorted tokens, or the top bits of the position. */
export type SlotLookup =
  | {readonly kind: 'token'; readonly ring: TokenRing}
  | {readonly kind: 'partition'; readonly partitionBits: number}

export function slotOfPosition(placement: Placement, position: number): number {
  const {lookup} = placement
  if (lookup.kind === 'token') return successorToken(lookup.ring, position)
  return lookup.partitionBits === 0 ? 0 : position >>> (32 - lookup.partitionBits)
}

export function replicasOfSlot(placement: Placement, slot: number): number[] {
  const start = slot * placement.replicaCount
  return Array.from(placement.slotReplicas.subarray(start, start + placement.replicaCount))
}

/** Strategy 1: each token's range is a partition, held by the N distinct nodes from that token on. */
export function tokenRangePlacement(ring: TokenRing, replicaCount: number): Placement {
  const tokenCount = ring.positions.length
  const slotReplicas = new Int32Array(tokenCount * replicaCount)
  const slotStarts = new Float64Array(tokenCount)
  const slotEnds = new Float64Array(tokenCount)
  for (let token = 0; token < tokenCount; token++) {
    slotReplicas.set(distinctNodesFrom(ring, token, replicaCount), token * replicaCount)
    const previous = ring.positions[(token + tokenCount - 1) % tokenCount] as number
    const own = ring.positions[token] as number
    // (previous, own] is [previous+1, own+1). Token 0's range wraps past the top of the space, and
    // a lone token's range is the whole circle; a token sharing its predecessor's position gets
    // an empty range, as successorToken never picks it.
    let start = previous + 1
    let end = own + 1
    if (token === 0) end += hashSpaceSize
    if (start >= hashSpaceSize) {
      start -= hashSpaceSize
      end -= hashSpaceSize
    }
    slotStarts[token] = start
    slotEnds[token] = end
  }
  return {nodeCount: ring.nodeCount, replicaCount, slotReplicas, slotStarts, slotEnds, lookup: {kind: 'token', ring}}
}

/** The slots of Q equal partitions: partition p covers [p·2^32/Q, (p+1)·2^32/Q). */
function equalPartitionRanges(partitionCount: number): {slotStarts: Float64Array; slotEnds: Float64Array} {
  const width = hashSpaceSize / partitionCount
  const slotStarts = new Float64Array(partitionCount)
  const slotEnds = new Float64Array(partitionCount)
  for (let partition = 0; partition < partitionCount; partition++) {
    slotStarts[partition] = partition * width
    slotEnds[partition] = (partition + 1) * width
  }
  return {slotStarts, slotEnds}
}

/**
 * Strategy 2: Q equal partitions placed by random tokens. Partition p covers [p·w, (p+1)·w) with
 * w = 2^32/Q; its replicas are the N distinct nodes from the first token at or after its end
 * (p+1)·w, the ring walk of Figure 7. The last partition's end is the top of the space, which
 * wraps to token 0.
 */
export function tokenPartitionPlacement(ring: TokenRing, partitionCount: number, replicaCount: number): Placement {
  const bits = Math.log2(partitionCountOk(partitionCount))
  const width = hashSpaceSize / partitionCount
  // A token's replica list is computed once, however many partitions end in its range.
  const tokenReplicas = tokenRangePlacement(ring, replicaCount).slotReplicas
  const slotReplicas = new Int32Array(partitionCount * replicaCount)
  for (let partition = 0; partition < partitionCount; partition++) {
    const end = (partition + 1) * width
    const token = end >= hashSpaceSize ? 0 : successorToken(ring, end)
    slotReplicas.set(tokenReplicas.subarray(token * replicaCount, (token + 1) * replicaCount), partition * replicaCount)
  }
  return {
    nodeCount: ring.nodeCount,
    replicaCount,
    slotReplicas,
    ...equalPartitionRanges(partitionCount),
    lookup: {kind: 'partition', partitionBits: bits},
  }
}

/**
 * Strategy 2 allows any power of two up to 2^24: src/ring caps its Q at 4096 for the cost of
 * handoff and anti-entropy per partition, which does not bind a simulation.
 */
const strategyTwoPartitionCountMax = 2 ** 24

function partitionCountOk(partitionCount: number): number {
  assert(
    Number.isInteger(partitionCount) && partitionCount >= 1 && partitionCount <= strategyTwoPartitionCountMax,
    `bad partition count ${partitionCount}`,
  )
  assert((partitionCount & (partitionCount - 1)) === 0, `partition count ${partitionCount} is not a power of two`)
  return partitionCount
}

/**
 * Strategy 3: the project's ring. Replicas of partition p are the first N names of
 * src/ring's preferenceList(ring, p), numbered by their place in ring.members. Requests find their
 * partition by the top bits of the MD5 prefix, which is exactly what partitionOfKey computes
 * (checked by `checkFixedPartitionLookup`), without hashing the key a second time.
 */
export function fixedPartitionPlacement(ring: Ring, replicaCount: number): Placement {
  const {partitionCount, members} = ring
  assert(replicaCount >= 1 && replicaCount <= members.length, `cannot place ${replicaCount} replicas`)
  const indexOfName = new Map(members.map((name, index) => [name, index]))
  const slotReplicas = new Int32Array(partitionCount * replicaCount)
  for (let partition = 0; partition < partitionCount; partition++) {
    const home = preferenceList(ring, partition).slice(0, replicaCount)
    home.forEach((name, rank) => {
      slotReplicas[partition * replicaCount + rank] = indexOfName.get(name) as number
    })
  }
  return {
    nodeCount: members.length,
    replicaCount,
    slotReplicas,
    ...equalPartitionRanges(partitionCount),
    lookup: {kind: 'partition', partitionBits: partitionBits(partitionCount)},
  }
}

/**
 * Confirms, for the given keys, that the fast lookup of `fixedPartitionPlacement` picks the same
 * partition and the same N nodes as src/ring's preferenceListForKey. Returns the first key that
 * disagrees, or undefined.
 */
export function checkFixedPartitionLookup(ring: Ring, placement: Placement, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const expected = preferenceListForKey(ring, key)
    const slot = slotOfPosition(placement, keyPosition(key))
    const names = replicasOfSlot(placement, slot).map((index) => ring.members[index])
    const same = slot === expected.partition && names.every((name, rank) => name === expected.nodes[rank])
    if (!same) return key
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// Loads and efficiency
// ---------------------------------------------------------------------------------------------

/** How the requests of one workload fall on the ring: keys in ring order and a running total. */
export interface RingWorkload {
  /** The positions of the universe's keys, ascending. */
  readonly sortedPositions: Uint32Array
  /** requestsBefore[i]: requests for the first i keys in ring order (length K+1). */
  readonly requestsBefore: Float64Array
}

/** A workload (requests per key rank) laid out in ring order, once per workload and seed. */
export function ringWorkload(universe: KeyUniverse, requestsPerKey: Uint32Array): RingWorkload {
  const {ringOrder, sortedPositions} = universe
  assert(requestsPerKey.length === ringOrder.length, 'one request count per key')
  const requestsBefore = new Float64Array(ringOrder.length + 1)
  for (let index = 0; index < ringOrder.length; index++) {
    requestsBefore[index + 1] = (requestsBefore[index] as number) + (requestsPerKey[ringOrder[index] as number] as number)
  }
  return {sortedPositions, requestsBefore}
}

/** The number of keys (in ring order) at positions below `position`. */
function keysBelow(sortedPositions: Uint32Array, position: number): number {
  return lowerBound(sortedPositions, position)
}

/** The index of the first element of an ascending array that is not below `value` (its length if none). */
function lowerBound(sorted: ArrayLike<number>, value: number): number {
  let low = 0
  let high = sorted.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if ((sorted[middle] as number) < value) low = middle + 1
    else high = middle
  }
  return low
}

/**
 * Which keys each slot holds, as indexes into the ring order: slot s holds keys
 * firstKey[s]..endKey[s]-1, or, when its range wraps past the top of the space, firstKey[s]..K-1
 * and 0..endKey[s]-1. Found once per placement and shared by all its workloads.
 */
export interface SlotKeys {
  readonly firstKey: Int32Array
  readonly endKey: Int32Array
  readonly wraps: Uint8Array
}

export function slotKeys(placement: Placement, sortedPositions: Uint32Array): SlotKeys {
  const {slotStarts, slotEnds} = placement
  const firstKey = new Int32Array(slotStarts.length)
  const endKey = new Int32Array(slotStarts.length)
  const wraps = new Uint8Array(slotStarts.length)
  for (let slot = 0; slot < slotStarts.length; slot++) {
    const end = slotEnds[slot] as number
    const wrapped = end > hashSpaceSize
    firstKey[slot] = keysBelow(sortedPositions, slotStarts[slot] as number)
    endKey[slot] = keysBelow(sortedPositions, wrapped ? end - hashSpaceSize : end)
    wraps[slot] = wrapped ? 1 : 0
  }
  return {firstKey, endKey, wraps}
}

/**
 * Requests that fall in each slot. Each slot is a contiguous stretch of the ring, so its total is
 * a difference of two running totals: a few operations per slot instead of one lookup per
 * request, which is what lets the whole sweep run in seconds.
 */
export function requestsPerSlot(keys: SlotKeys, workload: RingWorkload): Float64Array {
  const {firstKey, endKey, wraps} = keys
  const {requestsBefore} = workload
  const all = requestsBefore[requestsBefore.length - 1] as number
  const totals = new Float64Array(firstKey.length)
  for (let slot = 0; slot < firstKey.length; slot++) {
    const before = requestsBefore[firstKey[slot] as number] as number
    const upTo = requestsBefore[endKey[slot] as number] as number
    totals[slot] = wraps[slot] === 1 ? all - before + upTo : upTo - before
  }
  return totals
}

/** The load of every node when slot s carries slotWeights[s]: each of its N replicas gets it all. */
export function loadsFromSlotWeights(placement: Placement, slotWeights: Float64Array): Float64Array {
  const {replicaCount, slotReplicas} = placement
  assert(slotWeights.length * replicaCount === slotReplicas.length, 'one weight per slot')
  const loads = new Float64Array(placement.nodeCount)
  for (let slot = 0; slot < slotWeights.length; slot++) {
    for (let rank = 0; rank < replicaCount; rank++) {
      const node = slotReplicas[slot * replicaCount + rank] as number
      loads[node] = (loads[node] as number) + (slotWeights[slot] as number)
    }
  }
  return loads
}

/**
 * Requests each node serves. A request counts once for each of its key's N replicas, because a
 * coordinator sends every get and put to all N of them (§4.5) even though it waits for only R or
 * W answers.
 */
export function servedRequests(placement: Placement, workload: RingWorkload, keys?: SlotKeys): Float64Array {
  const found = keys ?? slotKeys(placement, workload.sortedPositions)
  return loadsFromSlotWeights(placement, requestsPerSlot(found, workload))
}

/** The fraction of the hash space each slot covers; they sum to 1. */
export function slotShares(placement: Placement): Float64Array {
  const {slotStarts, slotEnds} = placement
  return Float64Array.from(slotStarts, (start, slot) => ((slotEnds[slot] as number) - start) / hashSpaceSize)
}

/**
 * The load each node would see from an endless stream of uniformly random keys: the fraction of
 * the hash space it replicates. Free of sampling noise, so it isolates the strategy's own skew.
 */
export function expectedUniformLoads(placement: Placement): Float64Array {
  return loadsFromSlotWeights(placement, slotShares(placement))
}

/** Load-balancing efficiency (§6.2): mean load of a node / load of the busiest node; 1 is perfect. */
export function balanceEfficiency(loads: ArrayLike<number>): number {
  assert(loads.length > 0, 'no nodes')
  let total = 0
  let busiest = 0
  for (let node = 0; node < loads.length; node++) {
    const load = loads[node] as number
    total += load
    busiest = Math.max(busiest, load)
  }
  return busiest === 0 ? 1 : total / loads.length / busiest
}

// ---------------------------------------------------------------------------------------------
// Request streams
// ---------------------------------------------------------------------------------------------

/**
 * A fixed universe of distinct keys and their ring positions: key r (0-based) is named
 * `${prefix}${r}`. Workloads say how many requests each key gets; under a zipfian, rank 0 is the
 * most popular. MD5 places the keys, so popularity and ring position are unrelated.
 */
export interface KeyUniverse {
  readonly names: (rank: number) => string
  /** positions[r]: the ring position of key r. */
  readonly positions: Uint32Array
  /** The ranks sorted by position (ties by rank), and their positions in that order. */
  readonly ringOrder: Uint32Array
  readonly sortedPositions: Uint32Array
}

export function keyUniverse(keyCount: number, prefix: string): KeyUniverse {
  assert(Number.isInteger(keyCount) && keyCount > 0 && keyCount < 2 ** 21, `bad key count ${keyCount}`)
  const names = (rank: number): string => `${prefix}${rank}`
  const positions = new Uint32Array(keyCount)
  for (let rank = 0; rank < keyCount; rank++) positions[rank] = keyPosition(names(rank))
  // position * 2^21 + rank stays below 2^53, so one numeric sort gives ring order, ties by rank.
  const codes = Float64Array.from(positions, (position, rank) => position * 2 ** 21 + rank)
  codes.sort()
  const ringOrder = Uint32Array.from(codes, (code) => code % 2 ** 21)
  const sortedPositions = Uint32Array.from(codes, (code) => Math.floor(code / 2 ** 21))
  return {names, positions, ringOrder, sortedPositions}
}

/** Requests per key when `requestCount` requests each pick a key uniformly at random. */
export function uniformRequests(keyCount: number, requestCount: number, random: Random): Uint32Array {
  const requests = new Uint32Array(keyCount)
  for (let request = 0; request < requestCount; request++) {
    const rank = random.int(keyCount)
    requests[rank] = (requests[rank] as number) + 1
  }
  return requests
}

/**
 * A zipfian over ranks 0..K-1, P(rank r) ∝ (r+1)^-exponent, as an alias table (Walker, Vose): a
 * draw picks a column uniformly and keeps it or takes its alias by one biased coin, so it costs
 * O(1) whatever K. Built once per exponent and shared by every seed's draws.
 */
export interface ZipfianTable {
  readonly exponent: number
  /** The probability of each rank, for checks and for the hot-key share. */
  readonly probabilities: Float64Array
  /** keepBelow[c]: a draw in column c keeps c when its coin is below this, else takes alias[c]. */
  readonly keepBelow: Float64Array
  readonly alias: Uint32Array
}

export function zipfianTable(keyCount: number, exponent: number): ZipfianTable {
  assert(Number.isInteger(keyCount) && keyCount > 0, `bad key count ${keyCount}`)
  assert(Number.isFinite(exponent) && exponent >= 0, `bad exponent ${exponent}`)
  const probabilities = new Float64Array(keyCount)
  let total = 0
  for (let rank = 0; rank < keyCount; rank++) {
    probabilities[rank] = (rank + 1) ** -exponent
    total += probabilities[rank] as number
  }
  for (let rank = 0; rank < keyCount; rank++) probabilities[rank] = (probabilities[rank] as number) / total
  // Vose: columns scaled so that the mean is 1; a short column is topped up from a tall one.
  const keepBelow = Float64Array.from(probabilities, (probability) => probability * keyCount)
  const alias = Uint32Array.from({length: keyCount}, (_, rank) => rank)
  const short: number[] = []
  const tall: number[] = []
  keepBelow.forEach((scaled, rank) => (scaled < 1 ? short : tall).push(rank))
  // Every pass settles one short column, so the loop ends within K passes.
  while (short.length > 0 && tall.length > 0) {
    const low = short.pop() as number
    const high = tall[tall.length - 1] as number
    alias[low] = high
    keepBelow[high] = (keepBelow[high] as number) - (1 - (keepBelow[low] as number))
    if ((keepBelow[high] as number) < 1) {
      tall.pop()
      short.push(high)
    }
  }
  // Whatever is left is 1 up to rounding: those columns always keep their own rank.
  for (const rank of [...short, ...tall]) keepBelow[rank] = 1
  return {exponent, probabilities, keepBelow, alias}
}

/** One zipfian rank. */
export function drawZipfian(table: ZipfianTable, random: Random): number {
  const column = random.int(table.keepBelow.length)
  return random.next() < (table.keepBelow[column] as number) ? column : (table.alias[column] as number)
}

/** The probability of the most popular key. */
export function zipfianTopShare(table: ZipfianTable): number {
  return table.probabilities[0] as number
}

/** Requests per key when `requestCount` requests each pick a key from the zipfian. */
export function zipfianRequests(table: ZipfianTable, requestCount: number, random: Random): Uint32Array {
  const requests = new Uint32Array(table.keepBelow.length)
  for (let request = 0; request < requestCount; request++) {
    const rank = drawZipfian(table, random)
    requests[rank] = (requests[rank] as number) + 1
  }
  return requests
}

// ---------------------------------------------------------------------------------------------
// The experiment
// ---------------------------------------------------------------------------------------------

/** One point of the sweep: a strategy with its parameter. */
export type StrategyConfig =
  | {readonly strategy: 1; readonly tokensPerNode: number}
  | {readonly strategy: 2; readonly tokensPerNode: number; readonly partitionCount: number}
  | {readonly strategy: 3; readonly partitionCount: number}

export interface ExperimentConfig {
  readonly nodeCount: number
  readonly replicaCount: number
  readonly seeds: readonly number[]
  readonly keyCount: number
  readonly requestCount: number
  /** One zipfian workload per exponent, measured beside the uniform one. */
  readonly zipfExponents: readonly number[]
  readonly strategies: readonly StrategyConfig[]
}

/**
 * The paper's setting (S=30, N=3) and a sweep with total metadata from ~100 to 30000 entries.
 * Token counts for strategies 1 and 2 are chosen so that S·T lands next to strategy 3's Q values
 * (4·30=120 ~ 128, ..., 137·30=4110 ~ 4096), which makes equal-metadata comparisons direct.
 */
export const tokensPerNodeSweep = [4, 9, 17, 34, 68, 137, 333, 1000] as const
/** Strategy 3's Q: powers of two up to src/ring's partitionCountMax (4096). */
export const strategyThreePartitionCounts = [128, 256, 512, 1024, 2048, 4096] as const
/**
 * Strategy 2's Q. 2^16 is "Q >> S·T" as the paper asks for most of the sweep (and still 2.2·S·T at
 * its end); 2^12 and 2^10 show what happens when the token count reaches and passes Q.
 */
export const strategyTwoPartitionCounts = [65536, 4096, 1024] as const

export function defaultExperiment(seedCount: number, requestCount: number): ExperimentConfig {
  const strategies: StrategyConfig[] = [
    ...tokensPerNodeSweep.map((tokensPerNode): StrategyConfig => ({strategy: 1, tokensPerNode})),
    ...strategyTwoPartitionCounts.flatMap((partitionCount) =>
      tokensPerNodeSweep.map((tokensPerNode): StrategyConfig => ({strategy: 2, tokensPerNode, partitionCount})),
    ),
    ...strategyThreePartitionCounts.map((partitionCount): StrategyConfig => ({strategy: 3, partitionCount})),
  ]
  return {
    nodeCount: 30,
    replicaCount: 3,
    seeds: Array.from({length: seedCount}, (_, index) => index + 1),
    keyCount: 1_000_000,
    requestCount,
    zipfExponents: [0.8, 0.6, 0.99],
    strategies,
  }
}

/**
 * Metadata a node keeps (the x axis of Figure 8): every token of every node for strategies 1 and
 * 2 (the partitions of strategy 2 are arithmetic and need no table), and the owner of each of the
 * Q partitions for strategy 3.
 */
export function metadataSize(config: StrategyConfig, nodeCount: number): number {
  return config.strategy === 3 ? config.partitionCount : config.tokensPerNode * nodeCount
}

export function strategyLabel(config: StrategyConfig, nodeCount: number): string {
  switch (config.strategy) {
    case 1:
      return `T=${config.tokensPerNode}`
    case 2:
      return `T=${config.tokensPerNode}, Q=${config.partitionCount}`
    case 3:
      return `Q=${config.partitionCount} (Q/S=${(config.partitionCount / nodeCount).toFixed(1)})`
  }
}

/** Member names of strategy 3's ring: they depend on the seed because the claim hashes them. */
export function memberNames(nodeCount: number, seed: number): string[] {
  return Array.from({length: nodeCount}, (_, index) => `node-${seed}-${index}`)
}

/**
 * The placement of one strategy for one seed. Strategies 1 and 2 with the same T and seed share
 * their tokens, so their difference is the partitioning alone.
 */
export function buildPlacement(config: StrategyConfig, nodeCount: number, replicaCount: number, seed: number): Placement {
  switch (config.strategy) {
    case 1:
    case 2: {
      const random = seededRandom(deriveSeed(seed, `tokens:${config.tokensPerNode}`))
      const ring = randomTokenRing(nodeCount, config.tokensPerNode, random)
      return config.strategy === 1
        ? tokenRangePlacement(ring, replicaCount)
        : tokenPartitionPlacement(ring, config.partitionCount, replicaCount)
    }
    case 3:
      return fixedPartitionPlacement(buildRing(config.partitionCount, memberNames(nodeCount, seed)), replicaCount)
  }
}

/** Efficiency of one placement under each workload of one seed. */
export interface PointResult {
  readonly exactUniform: number
  readonly sampledUniform: number
  /** One per zipf exponent, in the order of ExperimentConfig.zipfExponents. */
  readonly zipf: readonly number[]
}

export interface Summary {
  readonly mean: number
  readonly min: number
  readonly max: number
}

export function summarize(values: readonly number[]): Summary {
  assert(values.length > 0, 'nothing to summarize')
  const sum = values.reduce((total, value) => total + value, 0)
  return {mean: sum / values.length, min: Math.min(...values), max: Math.max(...values)}
}

export interface ResultRow {
  readonly config: StrategyConfig
  readonly label: string
  readonly metadataSize: number
  readonly exactUniform: Summary
  readonly sampledUniform: Summary
  readonly zipf: readonly Summary[]
}

/** Keys checked per strategy-3 ring against preferenceListForKey, to keep the fast lookup honest. */
const lookupCheckKeyCount = 2000

/**
 * Runs the sweep. One key universe serves every seed (MD5 already scatters it; hashing a million
 * keys is the slowest step). For every seed: a uniform workload and one zipfian workload per
 * exponent over that universe, then every strategy's placement, with its own seeded tokens or
 * member names, measured against all of them.
 */
export function runExperiment(config: ExperimentConfig): ResultRow[] {
  const universe = keyUniverse(config.keyCount, 'key-')
  const zipfTables = config.zipfExponents.map((exponent) => zipfianTable(config.keyCount, exponent))
  const checkKeys = Array.from({length: Math.min(lookupCheckKeyCount, config.keyCount)}, (_, rank) => universe.names(rank))
  const perStrategy: PointResult[][] = config.strategies.map(() => [])
  for (const seed of config.seeds) {
    const uniform = ringWorkload(
      universe,
      uniformRequests(config.keyCount, config.requestCount, seededRandom(deriveSeed(seed, 'uniform'))),
    )
    const zipfWorkloads = zipfTables.map((table) =>
      ringWorkload(
        universe,
        zipfianRequests(table, config.requestCount, seededRandom(deriveSeed(seed, `zipf:${table.exponent}`))),
      ),
    )
    config.strategies.forEach((strategy, index) => {
      const placement = buildPlacement(strategy, config.nodeCount, config.replicaCount, seed)
      if (strategy.strategy === 3) {
        const ring = buildRing(strategy.partitionCount, memberNames(config.nodeCount, seed))
        const mismatch = checkFixedPartitionLookup(ring, placement, checkKeys)
        assert(mismatch === undefined, `fast lookup disagrees with preferenceListForKey on ${String(mismatch)}`)
      }
      const keys = slotKeys(placement, universe.sortedPositions)
      ;(perStrategy[index] as PointResult[]).push({
        exactUniform: balanceEfficiency(expectedUniformLoads(placement)),
        sampledUniform: balanceEfficiency(servedRequests(placement, uniform, keys)),
        zipf: zipfWorkloads.map((workload) => balanceEfficiency(servedRequests(placement, workload, keys))),
      })
    })
  }
  return config.strategies.map((strategy, index) => {
    const points = perStrategy[index] as PointResult[]
    return {
      config: strategy,
      label: strategyLabel(strategy, config.nodeCount),
      metadataSize: metadataSize(strategy, config.nodeCount),
      exactUniform: summarize(points.map((point) => point.exactUniform)),
      sampledUniform: summarize(points.map((point) => point.sampledUniform)),
      zipf: config.zipfExponents.map((_, zipfIndex) => summarize(points.map((point) => point.zipf[zipfIndex] as number))),
    }
  })
}

/**
 * Exact uniform efficiency of a few strategies at N = 1..replicaCountMax, to show where each
 * one's imbalance comes from: strategy 3's quotas make N=1 nearly perfect, and what it loses at
 * N=3 comes from the replicas, which follow whoever owns the neighbouring partitions.
 */
export function replicaCountEffect(
  strategies: readonly StrategyConfig[],
  nodeCount: number,
  replicaCountMax: number,
  seeds: readonly number[],
): {label: string; byReplicaCount: Summary[]}[] {
  return strategies.map((strategy) => ({
    label: `${strategy.strategy}: ${strategyLabel(strategy, nodeCount)}`,
    byReplicaCount: Array.from({length: replicaCountMax}, (_, index) =>
      summarize(
        seeds.map((seed) =>
          balanceEfficiency(expectedUniformLoads(buildPlacement(strategy, nodeCount, index + 1, seed))),
        ),
      ),
    ),
  }))
}

function formatSummary(summary: Summary): string {
  return `${summary.mean.toFixed(3)} (${summary.min.toFixed(3)}–${summary.max.toFixed(3)})`
}

/** The results as a Markdown table: mean efficiency over the seeds, (min–max) beside it. */
export function formatTable(rows: readonly ResultRow[], zipfExponents: readonly number[]): string {
  const header = [
    'strategy',
    'parameter',
    'metadata',
    'uniform, exact',
    'uniform, sampled',
    ...zipfExponents.map((exponent) => `zipf s=${exponent}`),
  ]
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`]
  for (const row of rows) {
    const cells = [
      String(row.config.strategy),
      row.label,
      String(row.metadataSize),
      formatSummary(row.exactUniform),
      formatSummary(row.sampledUniform),
      ...row.zipf.map(formatSummary),
    ]
    lines.push(`| ${cells.join(' | ')} |`)
  }
  return lines.join('\n')
}

function main(): void {
  const {seeds: seedCount, requests: requestCount} = experimentFlags({
    name: 'partitioning',
    measures:
      'Paper §6.2, Figure 8, by simulation: the load-balancing efficiency (mean load over the busiest node\'s) of the three partitioning strategies at equal metadata per node, for S=30 nodes and N=3, under uniform and zipfian requests. A pure function of its seeds: the figures replay exactly.',
    flags: {
      seeds: {read: positiveInteger, value: 'N', default: '8', description: 'rings drawn per configuration, one per seed'},
      requests: {read: positiveInteger, value: 'R', default: '1000000', description: 'requests drawn per request stream (uniform, and each zipfian), over 1,000,000 keys'},
    },
    examples: ['node dist/bench/experiments/partitioning.js'],
  })
  const config = defaultExperiment(seedCount, requestCount)
  const startedMs = performance.now()
  const rows = runExperiment(config)
  console.log(
    `S=${config.nodeCount}, N=${config.replicaCount}, seeds ${config.seeds.join(',')}, ` +
      `${config.requestCount} requests per stream over ${config.keyCount} keys`,
  )
  for (const exponent of config.zipfExponents) {
    const topShare = zipfianTopShare(zipfianTable(config.keyCount, exponent))
    console.log(`zipf s=${exponent}: the most popular key draws ${(100 * topShare).toFixed(2)}% of requests`)
  }
  console.log(
    `strategy 3 lookups checked against preferenceListForKey: ${lookupCheckKeyCount} keys per ring, no mismatch`,
  )
  console.log('')
  console.log(formatTable(rows, config.zipfExponents))
  console.log('')
  console.log('Exact uniform efficiency by N, metadata ~4100:')
  console.log('')
  const effect = replicaCountEffect(
    [
      {strategy: 1, tokensPerNode: 137},
      {strategy: 2, tokensPerNode: 137, partitionCount: 1024},
      {strategy: 3, partitionCount: 4096},
    ],
    config.nodeCount,
    config.replicaCount,
    config.seeds,
  )
  const replicaCounts = Array.from({length: config.replicaCount}, (_, index) => `N=${index + 1}`)
  console.log(`| strategy | ${replicaCounts.join(' | ')} |`)
  console.log(`| --- | ${replicaCounts.map(() => '---').join(' | ')} |`)
  for (const row of effect) console.log(`| ${row.label} | ${row.byReplicaCount.map(formatSummary).join(' | ')} |`)
  const elapsedS = (performance.now() - startedMs) / 1000
  console.log('')
  console.log(`(${elapsedS.toFixed(1)} s)`)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main()
