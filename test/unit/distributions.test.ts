/**
 * Tests of the bench's key distributions (YCSB §4.1; Gray et al. 1994 for the zipfian): the
 * ranges, the frequencies against theory, the scrambling, `latest` following inserts, and
 * determinism for a seed.
 *
 * Frequencies are checked with a tolerance of six standard deviations of a binomial count,
 * sqrt(draws · p · (1 − p)), on fixed seeds: a correct generator fails such a check about once
 * in five hundred million, while the mistakes that matter (a wrong θ, a wrong η, an off-by-one
 * at either end of the range) move the counts by far more. The theory for the zipfian is the
 * exact law of Gray's generator, not the ideal Zipf law: ranks 0 and 1 are exact (1/ζ and
 * 2^-θ/ζ), the tail comes from a continuous approximation that the theory below reproduces.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'
import {seededRandom} from '../../src/clock.js'
import {
  fnv1a64,
  keyChooser,
  pendingInsertsMax,
  zipfianConstant,
  zipfianGenerator,
  type DistributionName,
} from '../../bench/distributions.js'
import {assertFrequency} from './statistics.js'

const theta = zipfianConstant
const distributionNames: readonly DistributionName[] = ['uniform', 'zipfian', 'latest']

/** ζ(n, θ) summed directly, as an independent reference. */
function zetaDirect(itemCount: number): number {
  let sum = 0
  for (let i = 1; i <= itemCount; i++) sum += 1 / Math.pow(i, theta)
  return sum
}

/** The probability of each rank under Gray's generator over `itemCount` items. */
function grayProbabilities(itemCount: number): number[] {
  const zeta = zetaDirect(itemCount)
  const probabilities = new Array<number>(itemCount).fill(0)
  probabilities[0] = 1 / zeta
  if (itemCount > 1) probabilities[1] = Math.pow(0.5, theta) / zeta
  if (itemCount > 2) {
    const zeta2 = 1 + Math.pow(0.5, theta)
    const eta = (1 - Math.pow(2 / itemCount, 1 - theta)) / (1 - zeta2 / zeta)
    // Rank k is drawn when itemCount · x^α lands in [k, k + 1), x = η·u − η + 1, α = 1/(1 − θ).
    for (let k = 2; k < itemCount; k++) {
      probabilities[k] = (Math.pow((k + 1) / itemCount, 1 - theta) - Math.pow(k / itemCount, 1 - theta)) / eta
    }
  }
  return probabilities
}

function countDraws(next: () => number, size: number, draws: number): number[] {
  const counts = new Array<number>(size).fill(0)
  for (let i = 0; i < draws; i++) {
    const value = next()
    assert.ok(Number.isInteger(value) && value >= 0 && value < size, `draw ${value} is outside [0, ${size})`)
    counts[value]!++
  }
  return counts
}


/** FNV-1a 64 over bytes, straight from its definition, as a reference. */
function fnv1aBytes(bytes: Uint8Array): bigint {
  let hash = 0xcbf29ce484222325n
  for (const byte of bytes) hash = BigInt.asUintN(64, (hash ^ BigInt(byte)) * 0x100000001b3n)
  return hash
}

function longBytesLittleEndian(value: number): Buffer {
  const bytes = Buffer.alloc(8)
  bytes.writeBigInt64LE(BigInt(value))
  return bytes
}

describe('fnv1a64', () => {
  it('the reference FNV-1a matches the published vectors', () => {
    assert.equal(fnv1aBytes(Buffer.from('')), 0xcbf29ce484222325n)
    assert.equal(fnv1aBytes(Buffer.from('a')), 0xaf63dc4c8601ec8cn)
    assert.equal(fnv1aBytes(Buffer.from('foobar')), 0x85944171f73967e8n)
  })

  it("gives YCSB's hashes of the first record numbers", () => {
    assert.equal(fnv1a64(0), 6284781860667377211n)
    assert.equal(fnv1a64(1), 8517097267634966620n)
    assert.equal(fnv1a64(2), 1820151046732198393n)
  })

  it('is the absolute value of FNV-1a over the eight little-endian bytes, read as a signed long', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (value) => {
        const signed = BigInt.asIntN(64, fnv1aBytes(longBytesLittleEndian(value)))
        const hash = fnv1a64(value)
        assert.equal(hash, signed < 0n ? -signed : signed)
        assert.ok(hash >= 0n && hash <= 2n ** 63n)
      }),
    )
  })
})

describe('uniform', () => {
  it('covers the range evenly', () => {
    const recordCount = 100
    const draws = 100_000
    const chooser = keyChooser('uniform', recordCount, seededRandom(1))
    const counts = countDraws(() => chooser.next(), recordCount, draws)
    counts.forEach((count, index) => assertFrequency(count, draws, 1 / recordCount, `index ${index}`))
  })
})

describe('zipfianGenerator', () => {
  const itemCount = 1000
  const draws = 200_000
  const probabilities = grayProbabilities(itemCount)
  const counts = countDraws(zipfianGenerator(itemCount, seededRandom(2)).next, itemCount, draws)

  it('the theory is a probability distribution', () => {
    assert.ok(Math.abs(probabilities.reduce((sum, p) => sum + p, 0) - 1) < 1e-12)
  })

  it('draws rank 0 with probability 1/ζ(n, 0.99) and rank 1 with 2^-0.99/ζ', () => {
    const zeta = zetaDirect(itemCount)
    assertFrequency(counts[0]!, draws, 1 / zeta, 'rank 0')
    assertFrequency(counts[1]!, draws, Math.pow(0.5, theta) / zeta, 'rank 1')
  })

  it("draws each of the first ranks as often as Gray's generator should", () => {
    for (let rank = 0; rank < 20; rank++) assertFrequency(counts[rank]!, draws, probabilities[rank]!, `rank ${rank}`)
  })

  it('draws the tail, in octaves of ranks, as often as theory says, less often for each later octave', () => {
    let previousMeanCount = Infinity
    for (let first = 2; first < itemCount; first *= 2) {
      const end = Math.min(2 * first, itemCount)
      const count = counts.slice(first, end).reduce((sum, c) => sum + c, 0)
      const probability = probabilities.slice(first, end).reduce((sum, p) => sum + p, 0)
      assertFrequency(count, draws, probability, `ranks [${first}, ${end})`)
      const meanCount = count / (end - first)
      assert.ok(meanCount < previousMeanCount, `ranks from ${first} are drawn more often than the octave before`)
      previousMeanCount = meanCount
    }
    assert.ok(counts[0]! > counts[1]! && counts[1]! > counts[2]!, 'the first ranks are not in decreasing popularity')
  })

  it('handles one and two items', () => {
    const one = zipfianGenerator(1, seededRandom(3))
    for (let i = 0; i < 1000; i++) assert.equal(one.next(), 0)
    const two = countDraws(zipfianGenerator(2, seededRandom(4)).next, 2, 10_000)
    assertFrequency(two[0]!, 10_000, 1 / (1 + Math.pow(0.5, theta)), 'rank 0 of 2')
  })

  it('computes ζ exactly for small counts and by Euler–Maclaurin for large ones', () => {
    for (const count of [1, 2, 1000, 100_000, 100_001, 150_000]) {
      const zeta = zipfianGenerator(count, seededRandom(5)).zeta
      const reference = zetaDirect(count)
      assert.ok(Math.abs(zeta - reference) <= 1e-13 * reference, `ζ(${count}) = ${zeta}, direct sum ${reference}`)
    }
  })

  it('grown one item at a time, it draws exactly as one built at the final count', () => {
    const grown = zipfianGenerator(100, seededRandom(6))
    for (let count = 101; count <= 1000; count++) grown.grow(count)
    const fresh = zipfianGenerator(1000, seededRandom(6))
    assert.equal(grown.itemCount, 1000)
    assert.equal(grown.zeta, fresh.zeta)
    const draws = 2000
    assert.deepEqual(
      Array.from({length: draws}, () => grown.next()),
      Array.from({length: draws}, () => fresh.next()),
    )
  })

  it('grown by a jump, ζ matches and the draws stay in the new range; it never shrinks', () => {
    const grown = zipfianGenerator(100, seededRandom(7))
    grown.grow(200_000)
    grown.grow(50)
    assert.equal(grown.itemCount, 200_000)
    const reference = zetaDirect(200_000)
    assert.ok(Math.abs(grown.zeta - reference) <= 1e-13 * reference)
    const counts = countDraws(grown.next, 200_000, 20_000)
    assertFrequency(counts[0]!, 20_000, 1 / reference, 'rank 0 after growth')
  })

  it('stays in range for any item count and seed', () => {
    fc.assert(
      fc.property(fc.integer({min: 1, max: 5000}), fc.integer(), (itemCount, seed) => {
        const generator = zipfianGenerator(itemCount, seededRandom(seed))
        countDraws(generator.next, itemCount, 200)
      }),
    )
  })
})

describe('zipfian (scrambled)', () => {
  const recordCount = 1000
  const draws = 200_000
  const rankProbabilities = grayProbabilities(recordCount)
  // Hashing modulo n is not a permutation: a few ranks share an index, so an index's
  // probability is the sum over the ranks that hash to it.
  const indexProbabilities = new Array<number>(recordCount).fill(0)
  rankProbabilities.forEach((p, rank) => {
    indexProbabilities[Number(fnv1a64(rank) % BigInt(recordCount))]! += p
  })
  const chooser = keyChooser('zipfian', recordCount, seededRandom(8))
  const counts = countDraws(() => chooser.next(), recordCount, draws)

  it('puts the hottest key where rank 0 hashes, not at index 0', () => {
    const hottest = counts.indexOf(Math.max(...counts))
    assert.equal(hottest, Number(fnv1a64(0) % BigInt(recordCount)))
    assert.notEqual(hottest, 0)
    // Over many key-space sizes, rank 0 lands on index 0 about as rarely as chance allows.
    let atZero = 0
    for (let size = 2; size <= 1000; size++) if (fnv1a64(0) % BigInt(size) === 0n) atZero++
    assert.ok(atZero <= 20, `rank 0 lands on index 0 for ${atZero} sizes in 999`)
  })

  it('draws each index as often as the hashed ranks say', () => {
    counts.forEach((count, index) => assertFrequency(count, draws, indexProbabilities[index]!, `index ${index}`))
  })

  it('keeps the zipfian popularity: the sorted frequencies match the sorted theory', () => {
    const sortedCounts = [...counts].sort((a, b) => b - a)
    const sortedProbabilities = [...indexProbabilities].sort((a, b) => b - a)
    for (let position = 0; position < 100; position++) {
      assertFrequency(sortedCounts[position]!, draws, sortedProbabilities[position]!, `popularity position ${position}`)
    }
    // The hash moves the hot keys around but changes little how hot they are: the ranks that
    // collide merge, which at this size moves 8.5% of the probability in total (measured) and
    // leaves the hottest key within 1% of rank 0.
    const totalVariation = sortedProbabilities.reduce((sum, p, i) => sum + Math.abs(p - rankProbabilities[i]!), 0) / 2
    assert.ok(totalVariation < 0.1, `the hashed popularity is ${totalVariation} away from the zipfian`)
    assert.ok(Math.abs(sortedProbabilities[0]! - rankProbabilities[0]!) < 0.01 * rankProbabilities[0]!)
  })

  it('stays in range for any record count and seed', () => {
    fc.assert(
      fc.property(fc.integer({min: 1, max: 20_000}), fc.integer(), (count, seed) => {
        const scrambled = keyChooser('zipfian', count, seededRandom(seed))
        countDraws(() => scrambled.next(), count, 200)
      }),
    )
  })
})

describe('latest', () => {
  it('favours the newest records as the zipfian favours its first ranks', () => {
    const recordCount = 1000
    const draws = 100_000
    const probabilities = grayProbabilities(recordCount)
    const chooser = keyChooser('latest', recordCount, seededRandom(9))
    const counts = countDraws(() => chooser.next(), recordCount, draws)
    for (let age = 0; age < 20; age++) {
      assertFrequency(counts[recordCount - 1 - age]!, draws, probabilities[age]!, `record ${recordCount - 1 - age}`)
    }
  })

  it('follows inserted(): the newest insert becomes the hottest record', () => {
    const chooser = keyChooser('latest', 1000, seededRandom(10))
    for (let index = 1000; index < 1100; index++) chooser.inserted(index)
    assert.equal(chooser.recordCount, 1100)
    const draws = 50_000
    const counts = countDraws(() => chooser.next(), 1100, draws)
    assertFrequency(counts[1099]!, draws, 1 / zetaDirect(1100), 'the newest record')
    assert.equal(counts.indexOf(Math.max(...counts)), 1099)
  })

  it('grows over inserts acknowledged out of order only once the gap below them fills', () => {
    const chooser = keyChooser('latest', 10, seededRandom(11))
    chooser.inserted(11)
    chooser.inserted(12)
    assert.equal(chooser.recordCount, 10)
    for (let i = 0; i < 1000; i++) assert.ok(chooser.next() < 10)
    chooser.inserted(10)
    assert.equal(chooser.recordCount, 13)
    chooser.inserted(5)
    chooser.inserted(12)
    assert.equal(chooser.recordCount, 13, 'an index that already exists changes nothing')
  })

  it(`skips a gap that ${pendingInsertsMax} later inserts have waited on`, () => {
    const chooser = keyChooser('uniform', 10, seededRandom(12))
    for (let index = 11; index <= 10 + pendingInsertsMax; index++) chooser.inserted(index)
    assert.equal(chooser.recordCount, 10)
    chooser.inserted(11 + pendingInsertsMax)
    assert.equal(chooser.recordCount, 12 + pendingInsertsMax)
  })
})

describe('every chooser', () => {
  it('stays inside the key space as inserts grow it', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...distributionNames),
        fc.integer({min: 1, max: 2000}),
        fc.integer(),
        fc.array(fc.boolean(), {maxLength: 300}),
        (name, initialCount, seed, steps) => {
          const chooser = keyChooser(name, initialCount, seededRandom(seed))
          let inserts = 0
          for (const insert of steps) {
            if (insert) chooser.inserted(initialCount + inserts++)
            const index = chooser.next()
            assert.ok(Number.isInteger(index) && index >= 0 && index < chooser.recordCount)
          }
          assert.equal(chooser.recordCount, initialCount + inserts)
        },
      ),
    )
  })

  it('is deterministic for a seed', () => {
    for (const name of distributionNames) {
      const draw = (seed: number): number[] => {
        const chooser = keyChooser(name, 5000, seededRandom(seed))
        return Array.from({length: 1000}, (_, i) => {
          if (i % 10 === 0) chooser.inserted(chooser.recordCount)
          return chooser.next()
        })
      }
      assert.deepEqual(draw(13), draw(13), name)
      assert.notDeepEqual(draw(13), draw(14), name)
    }
  })
})
