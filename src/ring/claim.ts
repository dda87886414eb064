/**
 * Claim: which node owns each of the Q equal partitions (Dynamo §4.2, §6.2 strategy 3).
 *
 * The requirements: each of S nodes owns ⌊Q/S⌋ or ⌈Q/S⌉ partitions; every node computes the
 * same assignment from the same membership; a join or leave moves about Q/S partitions, not
 * more. The first two make the assignment a pure function of Q and the SET of member names,
 * with no history, so that nodes which learn of members in different orders still agree.
 *
 * The algorithm is balanced rendezvous hashing:
 *  1. Every (partition, node) pair has a pseudo-random score. Plain rendezvous hashing gives
 *     each partition to its highest scorer (its "first choice"). That alone moves the least
 *     possible on a join or leave (only what the newcomer wins, or what the leaver held), but
 *     its counts spread binomially around Q/S.
 *  2. Quotas: every node may own ⌊Q/S⌋, and Q mod S of them one more. The larger quotas go to
 *     the nodes with the most first choices (name order breaks ties), which keeps the largest
 *     possible number of partitions with their first choice.
 *  3. A node with more first choices than its quota keeps its best-scored ones and releases the
 *     rest; the released partitions are dealt, best score first, to nodes still under quota.
 *
 * So a partition leaves its first choice only when balance forces it to. Measured on random
 * member sets (see test/unit/ring.test.ts), a join or leave moves on average 1.1 to 1.4 times
 * ⌈Q/(S+1)⌉ partitions; plain capacity-bounded greedy rendezvous and the assignment that
 * maximises the total score were measured too and moved the same amount within noise, so the
 * excess is the price of exact balance without history, not of this particular rule.
 */

import {createHash} from 'node:crypto'
import {assert} from '../errors.js'
import {isValidPartitionCount} from './partition.js'

/** The per-node secret of the score function: the four 32-bit words of MD5(name). */
interface NodeScoreKey {
  readonly word0: number
  readonly word1: number
  readonly word2: number
  readonly word3: number
}

/** The 32-bit finaliser of MurmurHash3: a bijection that spreads every input bit over the output. */
function mix32(value: number): number {
  let h = value >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

function nodeScoreKey(name: string): NodeScoreKey {
  const digest = createHash('md5').update(name, 'utf8').digest()
  return {
    word0: digest.readUInt32BE(0),
    word1: digest.readUInt32BE(4),
    word2: digest.readUInt32BE(8),
    word3: digest.readUInt32BE(12),
  }
}

/** 2^21: the low score half keeps 21 bits so that the whole score is an exact 53-bit integer. */
const scoreLowRange = 2097152

/**
 * The rendezvous score of (partition, node): a 53-bit integer, exact as a double, so that
 * comparisons are the same on every machine. One MD5 per node and integer mixing per pair
 * keeps Q=4096, S=100 (409,600 pairs) to a few milliseconds; an MD5 per pair would cost ~1 s.
 */
function pairScore(key: NodeScoreKey, partition: number): number {
  const high = mix32(key.word0 ^ mix32(partition ^ key.word1))
  const low = mix32(key.word2 ^ mix32(partition ^ key.word3))
  return high * scoreLowRange + (low >>> 11)
}

/**
 * The rendezvous score of (partition, member) by which the claim ranks its choices, for tests and
 * tools that check or explain the rule below.
 */
export function rendezvousScore(name: string, partition: number): number {
  return pairScore(nodeScoreKey(name), partition)
}

/** Code-unit order: locale-independent, so every node sorts names the same way. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * The owner of every partition: `owners[p]` is the member that owns partition p.
 * A pure function of `partitionCount` and the set of `members` (their order does not matter).
 */
export function claimOwners(partitionCount: number, members: readonly string[]): string[] {
  const names = checkedNames(partitionCount, members)
  const ownerIndexes = claimOwnerIndexes(partitionCount, names.map(nodeScoreKey))
  return Array.from(ownerIndexes, (index) => names[index] as string)
}

/**
 * The members in name order, whose positions are the node indexes of the claim: at least one,
 * none twice (a programmer's error: the member table holds each name once), for a valid Q.
 */
function checkedNames(partitionCount: number, members: readonly string[]): string[] {
  assert(isValidPartitionCount(partitionCount), `invalid partition count ${partitionCount}`)
  assert(members.length > 0, 'a ring needs at least one member')
  const names = [...members].sort(compareNames)
  // names[-1] is undefined, so the first name is never taken for a repeat.
  const repeated = names.find((name, index) => name === names[index - 1])
  assert(repeated === undefined, `duplicate member ${String(repeated)}`)
  return names
}

/**
 * The claim over node indexes (positions in name order); see the module comment for the steps.
 * Lists of indexes are built in ascending order and sorted by a score or a count alone: the sort
 * is stable, so ties keep the lower index (the earlier name, or partition) first.
 */
function claimOwnerIndexes(partitionCount: number, keys: readonly NodeScoreKey[]): Int32Array {
  const nodeCount = keys.length
  const score = (partition: number, node: number): number => pairScore(keys[node] as NodeScoreKey, partition)

  // Step 1: each partition's first choice, and how many first choices each node has.
  const firstChoice = new Int32Array(partitionCount)
  const firstChoiceCount = new Int32Array(nodeCount)
  for (let partition = 0; partition < partitionCount; partition++) {
    let best = 0
    let bestScore = score(partition, 0)
    for (let node = 1; node < nodeCount; node++) {
      const candidate = score(partition, node)
      // Strictly greater: on an (astronomically unlikely) tie the earlier name wins.
      if (candidate > bestScore) {
        best = node
        bestScore = candidate
      }
    }
    firstChoice[partition] = best
    firstChoiceCount[best] = (firstChoiceCount[best] as number) + 1
  }

  // Step 2: quotas. The Q mod S larger ones go to the nodes with the most first choices.
  const quotaFloor = Math.floor(partitionCount / nodeCount)
  const largerQuotaCount = partitionCount % nodeCount
  const byFirstChoices = Array.from({length: nodeCount}, (_, node) => node).sort((a, b) => (firstChoiceCount[b] as number) - (firstChoiceCount[a] as number))
  const quota = new Int32Array(nodeCount).fill(quotaFloor)
  for (let rank = 0; rank < largerQuotaCount; rank++) quota[byFirstChoices[rank] as number] = quotaFloor + 1

  // Step 3a: every node keeps its best-scored first choices up to its quota; the rest are released.
  const owner = new Int32Array(partitionCount).fill(-1)
  const owned = new Int32Array(nodeCount)
  const chosenBy: number[][] = Array.from({length: nodeCount}, () => [])
  for (let partition = 0; partition < partitionCount; partition++) {
    ;(chosenBy[firstChoice[partition] as number] as number[]).push(partition)
  }
  const released: number[] = []
  for (let node = 0; node < nodeCount; node++) {
    const chosen = chosenBy[node] as number[]
    const nodeQuota = quota[node] as number
    chosen.sort((a, b) => score(b, node) - score(a, node))
    for (let rank = 0; rank < chosen.length; rank++) {
      const partition = chosen[rank] as number
      if (rank < nodeQuota) {
        owner[partition] = node
        owned[node] = (owned[node] as number) + 1
      } else {
        released.push(partition)
      }
    }
  }

  // Step 3b: deal the released partitions to nodes under quota, best (partition, node) score first.
  // There are exactly as many released partitions as free places, and every pair with a free
  // place is listed, so each released partition finds a node.
  const pairPartitions: number[] = []
  const pairNodes: number[] = []
  const pairScores: number[] = []
  for (const partition of released) {
    for (let node = 0; node < nodeCount; node++) {
      if ((owned[node] as number) >= (quota[node] as number)) continue
      pairPartitions.push(partition)
      pairNodes.push(node)
      pairScores.push(score(partition, node))
    }
  }
  const pairOrder = Array.from({length: pairScores.length}, (_, pair) => pair).sort(
    (a, b) =>
      (pairScores[b] as number) - (pairScores[a] as number) ||
      (pairNodes[a] as number) - (pairNodes[b] as number) ||
      (pairPartitions[a] as number) - (pairPartitions[b] as number),
  )
  let unplaced = released.length
  for (const pair of pairOrder) {
    if (unplaced === 0) break
    const partition = pairPartitions[pair] as number
    const node = pairNodes[pair] as number
    if (owner[partition] !== -1 || (owned[node] as number) >= (quota[node] as number)) continue
    owner[partition] = node
    owned[node] = (owned[node] as number) + 1
    unplaced--
  }
  assert(unplaced === 0, 'claim left a partition without an owner')
  return owner
}

/**
 * The owners after a membership change, computed from the owners before it (Riak's claimant
 * claims from the current ring, not from scratch). `members` is the member set after the change.
 *
 * The rules, each chosen so that a change only moves what it must:
 *  - a partition whose owner is no longer a member is orphaned and must move;
 *  - quotas are ⌊Q/S⌋, and the Q mod S larger ones go to the members that own the most today
 *    (then those that still own any, then name order), so no member that already fits is made
 *    to take or give a partition only to reshape the quotas;
 *  - a member over its quota releases the partitions it scores lowest (the rendezvous score of
 *    `claimOwners`), and the orphaned and released partitions are dealt, best score first, to
 *    members under quota.
 * So on a join only the joiners receive, and every partition they receive comes from a member
 * over its new quota; on a leave or remove only the leaver's partitions move. A member that the
 * change does not concern never hands a partition to another such member.
 */
export function claimOwnersFrom(partitionCount: number, currentOwners: readonly string[], members: readonly string[]): string[] {
  const names = checkedNames(partitionCount, members)
  assert(currentOwners.length === partitionCount, 'the current owners must name every partition')
  const indexOf = new Map(names.map((name, index) => [name, index]))
  const keys = names.map(nodeScoreKey)
  const score = (partition: number, node: number): number => pairScore(keys[node] as NodeScoreKey, partition)
  const nodeCount = names.length

  const owner = Int32Array.from(currentOwners, (name) => indexOf.get(name) ?? -1)
  const owned = new Int32Array(nodeCount)
  for (const node of owner) if (node >= 0) owned[node] = (owned[node] as number) + 1

  const quotaFloor = Math.floor(partitionCount / nodeCount)
  const largerQuotaCount = partitionCount % nodeCount
  // Stable, from ascending indexes: equal counts stay in name order (see claimOwnerIndexes).
  const byOwned = Array.from({length: nodeCount}, (_, node) => node).sort((a, b) => (owned[b] as number) - (owned[a] as number))
  const quota = new Int32Array(nodeCount).fill(quotaFloor)
  for (let rank = 0; rank < largerQuotaCount; rank++) quota[byOwned[rank] as number] = quotaFloor + 1

  /** The partitions `node` owns now, in ascending order (-1: orphaned). */
  const partitionsOf = (node: number): number[] => {
    const partitions: number[] = []
    owner.forEach((ownerNode, partition) => {
      if (ownerNode === node) partitions.push(partition)
    })
    return partitions
  }
  const free = partitionsOf(-1)
  quota.forEach((nodeQuota, node) => {
    const excess = (owned[node] as number) - nodeQuota
    if (excess <= 0) return
    // Lowest score first; the sort is stable, so ties keep partition order.
    const mine = partitionsOf(node).sort((a, b) => score(a, node) - score(b, node))
    for (const partition of mine.slice(0, excess)) {
      owner[partition] = -1
      free.push(partition)
    }
    owned[node] = nodeQuota
  })

  // Deal the free partitions, best (partition, node) score first, to members under quota.
  const pairs: Array<{partition: number; node: number; score: number}> = []
  for (const partition of free) {
    quota.forEach((nodeQuota, node) => {
      if ((owned[node] as number) < nodeQuota) pairs.push({partition, node, score: score(partition, node)})
    })
  }
  pairs.sort((a, b) => b.score - a.score || a.node - b.node || a.partition - b.partition)
  let unplaced = free.length
  for (const pair of pairs) {
    if (unplaced === 0) break
    if (owner[pair.partition] !== -1 || (owned[pair.node] as number) >= (quota[pair.node] as number)) continue
    owner[pair.partition] = pair.node
    owned[pair.node] = (owned[pair.node] as number) + 1
    unplaced--
  }
  assert(unplaced === 0, 'claim left a partition without an owner')
  return Array.from(owner, (index) => names[index] as string)
}

/**
 * Each machine's partitions spread apart (for members that share machines, `dyn start
 * --processes`): owners are swapped, two partitions at a time, so that as far as it can go no
 * `window` consecutive partitions have two owners on one machine. The preference list skips an
 * owner whose machine it already holds (ring.ts), and without this the member after such an owner
 * takes its homes: up to 1.5× a fair share of the home replicas was measured. riak_core's
 * location-aware claim meets the same need the same way, by moving ownership rather than
 * changing the walk.
 *
 * Swaps keep every member's count, so the claim's balance holds. A swap is made only when it
 * lowers the number of same-machine pairs closer than `window` on the ring, so the passes end;
 * partitions in `moving` (those the change moves anyway) are tried first as the other half of a
 * swap, so that spreading adds as few moves as it can. Deterministic: the same owners, machines
 * and window give the same result on every node.
 */
export function spreadMachines(owners: readonly string[], machineOf: (name: string) => string, window: number, moving: ReadonlySet<number> = new Set()): string[] {
  const partitionCount = owners.length
  const spread = [...owners]
  const machineNames = [...new Set(owners.map(machineOf))].sort(compareNames)
  const span = Math.min(window, machineNames.length, partitionCount)
  // Members on machines of their own are the claim's business alone, as they always were.
  if (span < 2 || machineNames.length === new Set(owners).size) return spread
  const machineIndex = new Map(machineNames.map((machine, index) => [machine, index]))
  const machines = Int32Array.from(owners, (owner) => machineIndex.get(machineOf(owner)) as number)
  const wrap = (position: number): number => ((position % partitionCount) + partitionCount) % partitionCount
  /** How many of the partitions closer than `span` to `position` (either side) are on `machine`. */
  const closeOn = (position: number, machine: number): number => {
    let count = 0
    for (let distance = 1; distance < span; distance++) {
      if (machines[wrap(position + distance)] === machine) count++
      if (machines[wrap(position - distance)] === machine) count++
    }
    return count
  }
  const ringDistance = (a: number, b: number): number => Math.min(wrap(a - b), wrap(b - a))
  /** The close same-machine pairs with a position within `span` of p (exact, for swaps of close partitions). */
  const pairsNear = (p: number): number => {
    let count = 0
    for (let start = p - 2 * span; start <= p + span; start++) {
      for (let distance = 1; distance < span; distance++) if (machines[wrap(start)] === machines[wrap(start + distance)]) count++
    }
    return count
  }
  /** Every close same-machine pair of the ring (for short rings, where the windows wrap onto each other). */
  const allPairs = (): number => {
    let count = 0
    for (let start = 0; start < partitionCount; start++) for (let distance = 1; distance < span; distance++) if (machines[start] === machines[wrap(start + distance)]) count++
    return count
  }
  // What swapping p and q gains: fewer close same-machine pairs (positive) or more. Far apart on a
  // ring much longer than the window, no pair touches both, and the change is what each machine
  // finds around its new place less what it found around its old one; close together, or on a
  // short ring, the pairs are counted again before and after.
  const gainOf = (p: number, q: number, machineP: number, machineQ: number, hereP: number): number => {
    const shortRing = partitionCount <= 4 * span
    if (!shortRing && ringDistance(p, q) >= span) return hereP + closeOn(q, machineQ) - closeOn(p, machineQ) - closeOn(q, machineP)
    const count = shortRing ? allPairs : (): number => pairsNear(p)
    const before = count()
    machines[p] = machineQ
    machines[q] = machineP
    const after = count()
    machines[p] = machineP
    machines[q] = machineQ
    return before - after
  }
  const candidates = [...[...moving].filter((partition) => partition >= 0 && partition < partitionCount).sort((a, b) => a - b), ...Array.from({length: partitionCount}, (_, partition) => partition).filter((partition) => !moving.has(partition))]
  // Each swap lowers the count of close same-machine pairs, so a pass without one is the last; the
  // bound only guards the loop. A budget of swaps weighed keeps the claimant's event loop free on the largest rings (Q=4096:
  // well under a second here); it is counted the same way on every node, so the result is still
  // one function of the inputs.
  let weighingsLeft = spreadWeighingsMax
  for (let pass = 0; pass < spreadPassesMax && weighingsLeft > 0; pass++) {
    let swapped = false
    for (let p = 0; p < partitionCount && weighingsLeft > 0; p++) {
      const machineP = machines[p] as number
      const hereP = closeOn(p, machineP)
      if (hereP === 0) continue
      weighingsLeft -= partitionCount
      // The best swap for p; on equal gains the earlier candidate (a partition moving anyway first).
      let best = -1
      let bestGain = 0
      for (const q of candidates) {
        const machineQ = machines[q] as number
        if (machineQ === machineP) continue
        const gain = gainOf(p, q, machineP, machineQ, hereP)
        if (gain > bestGain) {
          best = q
          bestGain = gain
        }
      }
      if (best === -1) continue
      machines[p] = machines[best] as number
      machines[best] = machineP
      const owner = spread[p] as string
      spread[p] = spread[best] as string
      spread[best] = owner
      swapped = true
    }
    if (!swapped) break
  }
  return spread
}

/** Passes of `spreadMachines` at most; in the tests a pass or two leaves nothing to improve. */
const spreadPassesMax = 16
/** Swaps `spreadMachines` weighs at most: about 0.3 s on this project's 2-core machine. */
const spreadWeighingsMax = 2_000_000
