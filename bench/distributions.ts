/**
 * Key distributions for the load tester, after YCSB (Cooper et al., "Benchmarking Cloud Serving
 * Systems with YCSB", SoCC 2010, §4.1): which record a read or an update touches. Dynamo's own
 * evaluation (§6) stresses that real request popularity is skewed, so the skewed choosers here
 * matter more than the uniform one: they decide how hot the hottest preference lists run.
 *
 * - `uniform`: every existing record equally likely.
 * - `zipfian`: YCSB's scrambled zipfian. A rank is drawn from a zipfian over the record count
 *   (Gray et al., "Quickly generating billion-record synthetic databases", SIGMOD 1994), then
 *   hashed with FNV-1a and reduced modulo the record count, so that the popular records are
 *   spread over the key space instead of being the lowest indexes. Hashing modulo n is not a
 *   permutation: colliding ranks merge (the hottest key keeps rank 0's probability within 1%
 *   at 1000 records), and about 1/e of the records are never drawn (measured: 32% of 1000,
 *   28% of 100,000). YCSB avoids the gaps by drawing from a fixed zipfian over 10^10 ranks,
 *   which flattens the head (its hottest key takes 1/ζ(10^10) ≈ 3.8% of draws instead of
 *   1/ζ(n), 13% at n = 1000); the zipfian here is over the record count, as the bench asks.
 * - `latest`: YCSB's skewed-latest: `lastInserted - zipfian(lastInserted + 1)`, so the records
 *   inserted most recently are the most popular (workload D: status updates, newest first).
 *
 * Pure: randomness comes in as a `Random`; no IO, no clock.
 */

import {assert} from '../src/errors.js'
import type {Random} from '../src/clock.js'

export type DistributionName = 'uniform' | 'zipfian' | 'latest'

/** YCSB's default skew θ: rank k (from 1) is drawn with probability ∝ 1/k^0.99. */
export const zipfianConstant = 0.99

/**
 * ζ(n, θ) is summed term by term up to this many terms; beyond it the Euler–Maclaurin formula
 * finishes the sum. This bounds the work of creating a chooser over a large key space (a
 * hundred million records would otherwise cost a hundred million `Math.pow` calls); the
 * formula's truncation error is of order a^-4 for a first term a this large, far below the
 * rounding of the sum itself (measured: 8e-14 relative to a direct sum at ten million items).
 */
export const zetaTermsExactMax = 100_000

/**
 * The most indexes acknowledged out of order that a chooser holds while it waits for the gap
 * below them to fill. Far more than the inserts a runner keeps in flight at once; when it is
 * exceeded, the insert at the gap is taken as lost and the key space moves past it.
 */
export const pendingInsertsMax = 4096

/** Chooses record indexes in [0, recordCount) for reads/updates; `latest` favours the most recently inserted records. */
export interface KeyChooser {
  next(): number
  /**
   * Tell it that record `index` now exists (after an insert): `latest` and the key space grow.
   * Inserts may be acknowledged out of order; the key space grows over the longest run of
   * acknowledged indexes from `recordCount` up, so that reads pick only records whose insert,
   * and every insert below it, has finished. Call it once for every insert that was started, even
   * one that failed, or the key space waits at the gap (for at most `pendingInsertsMax` later
   * acknowledgements). Indexes below `recordCount` are already known and ignored.
   */
  inserted(index: number): void
  readonly recordCount: number
}

/** A zipfian over ranks [0, itemCount): rank 0 is the most popular. */
export interface ZipfianGenerator {
  next(): number
  readonly itemCount: number
  /** ζ(itemCount, θ) = Σ_{i=1..itemCount} 1/i^θ; rank 0 is drawn with probability exactly 1/zeta. */
  readonly zeta: number
  /** Extend the ranks to [0, itemCount); ζ is extended by the new terms only. Never shrinks. */
  grow(itemCount: number): void
}

export function keyChooser(name: DistributionName, recordCount: number, random: Random): KeyChooser {
  assert(Number.isSafeInteger(recordCount) && recordCount >= 1, `keyChooser needs at least one record, got ${recordCount}`)
  const keySpace = new KeySpace(recordCount)
  const over = (next: () => number): KeyChooser => ({
    next,
    inserted: (index) => keySpace.acknowledge(index),
    get recordCount() {
      return keySpace.recordCount
    },
  })
  switch (name) {
    case 'uniform':
      return over(() => random.int(keySpace.recordCount))
    case 'zipfian': {
      const ranks = zipfianGenerator(recordCount, random)
      return over(() => {
        // The ranks grow lazily with the key space, so a burst of inserts costs one ζ update.
        ranks.grow(keySpace.recordCount)
        return Number(fnv1a64(ranks.next()) % BigInt(keySpace.recordCount))
      })
    }
    case 'latest': {
      const ages = zipfianGenerator(recordCount, random)
      return over(() => {
        ages.grow(keySpace.recordCount)
        // Age 0 is the last record of the key space, the newest one.
        return keySpace.recordCount - 1 - ages.next()
      })
    }
  }
}

/**
 * Gray et al.'s zipfian generator as YCSB's ZipfianGenerator has it: rank 0 with probability
 * 1/ζ(n), rank 1 with 2^-θ/ζ(n) (both exact), and the remaining ranks by inverting a continuous
 * approximation of the tail, which costs one `Math.pow` per draw whatever n is.
 *
 * It differs from YCSB in one place on purpose: when the item count grows, η is recomputed with
 * the new count (YCSB keeps the count it was built with in η, which skews the tail after growth).
 */
export function zipfianGenerator(itemCount: number, random: Random, constant: number = zipfianConstant): ZipfianGenerator {
  assert(constant > 0 && constant < 1, `the zipfian constant must lie in (0, 1), got ${constant}`)
  assert(Number.isSafeInteger(itemCount) && itemCount >= 1, `a zipfian needs at least one item, got ${itemCount}`)
  const theta = constant
  const alpha = 1 / (1 - theta)
  const zeta2 = zetaBetween(0, 2, theta)
  let count = itemCount
  let zeta = zetaBetween(0, count, theta)
  let eta = etaOf(count, zeta, zeta2, theta)
  return {
    next(): number {
      const u = random.next()
      const uz = u * zeta
      if (uz < 1) return 0
      if (uz < 1 + Math.pow(0.5, theta)) return 1
      // Floating rounding could land exactly on `count` for u just below 1; keep it in range.
      return Math.min(count - 1, Math.floor(count * Math.pow(eta * u - eta + 1, alpha)))
    },
    get itemCount() {
      return count
    },
    get zeta() {
      return zeta
    },
    grow(newItemCount: number): void {
      if (newItemCount <= count) return
      assert(Number.isSafeInteger(newItemCount), `item count must be an integer, got ${newItemCount}`)
      zeta += zetaBetween(count, newItemCount, theta)
      count = newItemCount
      eta = etaOf(count, zeta, zeta2, theta)
    },
  }
}

/**
 * η maps the uniform draw onto the tail (ranks 2 and up). With one or two items the tail is
 * empty and `next` never reaches the formula, so η is left at zero rather than dividing by zero.
 */
function etaOf(itemCount: number, zeta: number, zeta2: number, theta: number): number {
  if (itemCount <= 2) return 0
  return (1 - Math.pow(2 / itemCount, 1 - theta)) / (1 - zeta2 / zeta)
}

/** Σ_{i=from+1..to} 1/i^θ: the terms that take ζ(from, θ) to ζ(to, θ). */
function zetaBetween(fromCount: number, toCount: number, theta: number): number {
  const exactTo = Math.min(toCount, fromCount + zetaTermsExactMax)
  let sum = 0
  for (let i = fromCount + 1; i <= exactTo; i++) sum += 1 / Math.pow(i, theta)
  if (exactTo === toCount) return sum
  // Euler–Maclaurin for Σ_{i=a+1..b} f(i) with f(x) = x^-θ: the integral, the end correction
  // and the first derivative correction. The next term is of order f'''(a)/720 ≈ a^-4, which
  // is negligible here because a ≥ zetaTermsExactMax.
  const a = exactTo
  const b = toCount
  const integral = (Math.pow(a, 1 - theta) * Math.expm1((1 - theta) * Math.log(b / a))) / (1 - theta)
  const ends = (Math.pow(b, -theta) - Math.pow(a, -theta)) / 2
  const slopes = (-theta * Math.pow(b, -theta - 1) + theta * Math.pow(a, -theta - 1)) / 12
  return sum + integral + ends + slopes
}

const fnvOffsetBasis64 = 0xcbf29ce484222325n
const fnvPrime64 = 0x100000001b3n

/**
 * YCSB's `fnvhash64` of a long: FNV-1a 64 over the eight bytes of the value's two's complement,
 * least significant first, then the absolute value of the result read as a signed long. So the
 * hash lies in [0, 2^63] and, for index 0, gives YCSB's familiar first key `user6284781860667377211`.
 */
export function fnv1a64(value: number): bigint {
  // A constant message: this runs once per key chosen, so it must not build a string each time.
  assert(Number.isSafeInteger(value), 'fnv1a64 hashes safe integers')
  let rest = BigInt.asUintN(64, BigInt(value))
  let hash = fnvOffsetBasis64
  for (let byteIndex = 0; byteIndex < 8; byteIndex++) {
    hash ^= rest & 0xffn
    rest >>= 8n
    hash = BigInt.asUintN(64, hash * fnvPrime64)
  }
  const signed = BigInt.asIntN(64, hash)
  return signed < 0n ? -signed : signed
}

/**
 * The records that exist: [0, recordCount). Grows over the longest run of acknowledged inserts,
 * holding the ones acknowledged beyond a gap until the gap fills (YCSB's acknowledged counter).
 */
class KeySpace {
  recordCount: number
  private readonly pending = new Set<number>()

  constructor(recordCount: number) {
    this.recordCount = recordCount
  }

  acknowledge(index: number): void {
    assert(Number.isSafeInteger(index) && index >= 0, `an inserted index must be a non-negative integer, got ${index}`)
    if (index < this.recordCount) return
    this.pending.add(index)
    if (this.pending.size > pendingInsertsMax) {
      // The insert at the gap never reported: take it as lost and move past it.
      this.recordCount = Math.min(...this.pending)
    }
    // Bounded by the pending set, which holds at most pendingInsertsMax + 1 indexes.
    while (this.pending.delete(this.recordCount)) this.recordCount++
  }
}
