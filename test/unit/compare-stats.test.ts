/**
 * Tests of bench:compare's statistics (bench/compare-stats.ts): the binomial tail and the
 * order-statistics interval against exact values, the interval's promised coverage and false
 * alarm rate checked by simulation on noise shaped like a shared machine's (seeded, so it
 * replays), and the verdicts: a clearly shifted sample is detected in the right direction,
 * identical samples and noisy overlapping ones are not, and too few pairs decide nothing.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {seededRandom} from '../../src/clock.js'
import type {Random} from '../../src/clock.js'
import {
  binomialHalfCdf,
  coefficientOfVariation,
  compareFigure,
  geometricMean,
  intervalCoverage,
  median,
  medianIntervalRank,
  pairedRatios,
  pairsNeeded,
  verdictOf,
} from '../../bench/compare-stats.js'
import type {FigureComparison} from '../../bench/compare-stats.js'

function choose(n: number, k: number): number {
  let c = 1
  for (let i = 0; i < k; i += 1) c = (c * (n - i)) / (i + 1)
  return c
}

function compared(base: readonly number[], candidate: readonly number[], better: 'higher' | 'lower', confidence = 0.9): FigureComparison {
  const result = compareFigure(base, candidate, better, confidence)
  assert.ok(result.ok, result.ok ? '' : result.message)
  return result.value
}

/**
 * A figure as a shared 2-core machine gives it: around `level`, a spread of about 15% most of
 * the time, and now and then (one run in five) a neighbour's burst that moves it by up to 2x.
 * Skewed and heavy-tailed on purpose: the interval must keep its promise on such noise.
 */
function noisy(random: Random, level: number): number {
  const everyday = 1 + 0.15 * (random.next() + random.next() + random.next() - 1.5)
  const burst = random.next() < 0.2 ? 1 + random.next() : 1
  return level * everyday * (random.next() < 0.5 ? burst : 1 / burst)
}

describe('binomialHalfCdf and the interval coverage', () => {
  it('match the sums of binomial coefficients', () => {
    for (const n of [1, 2, 5, 6, 10, 17, 30]) {
      let sum = 0
      for (let j = 0; j < n; j += 1) {
        sum += choose(n, j)
        const exact = sum / 2 ** n
        assert.ok(Math.abs(binomialHalfCdf(n, j) - exact) < 1e-12, `n=${n} j=${j}: ${binomialHalfCdf(n, j)} against ${exact}`)
      }
      assert.equal(binomialHalfCdf(n, n), 1)
      assert.equal(binomialHalfCdf(n, -1), 0)
    }
  })

  it('stays finite and exact enough for many pairs', () => {
    // P(B ≤ 500) for n = 1000 is 1/2 + P(B = 500)/2, and P(B = 500) ≈ 1/sqrt(500π).
    const expected = 0.5 + 0.5 / Math.sqrt(500 * Math.PI)
    assert.ok(Math.abs(binomialHalfCdf(1000, 500) - expected) < 1e-4)
  })

  it('gives [min, max] of n pairs a coverage of 1 - 2^(1-n), and picks the narrowest interval that reaches the confidence', () => {
    assert.equal(intervalCoverage(5, 1), 1 - 2 / 32)
    assert.equal(intervalCoverage(6, 1), 1 - 2 / 64)
    assert.deepEqual(medianIntervalRank(5, 0.9), {rank: 1, coverage: 0.9375})
    // Ten pairs: [x(2), x(9)] covers 97.9%, [x(3), x(8)] only 89.1%.
    assert.equal(medianIntervalRank(10, 0.9)?.rank, 2)
    assert.ok(Math.abs((medianIntervalRank(10, 0.9)?.coverage ?? 0) - (1 - (2 * 11) / 1024)) < 1e-12)
    assert.equal(medianIntervalRank(10, 0.85)?.rank, 3)
    assert.equal(medianIntervalRank(4, 0.9), undefined, 'four pairs cannot reach 90%: [min, max] covers 87.5%')
    assert.equal(medianIntervalRank(1, 0.5), undefined, 'one pair has no interval')
  })

  it('says how many pairs a confidence needs', () => {
    assert.equal(pairsNeeded(0.5), 2)
    assert.equal(pairsNeeded(0.9), 5)
    assert.equal(pairsNeeded(0.95), 6)
    assert.equal(pairsNeeded(0.99), 8)
  })
})

describe('the interval keeps its promise on skewed, bursty noise (seeded simulation)', () => {
  const trials = 4000

  it('holds the true median ratio at least as often as its coverage says', () => {
    const random = seededRandom(18)
    for (const n of [5, 6, 10]) {
      // The true median ratio of two independent draws of the same noise is 1 by symmetry.
      let covered = 0
      let nominal = 0
      for (let t = 0; t < trials; t += 1) {
        const base = Array.from({length: n}, () => noisy(random, 100))
        const candidate = Array.from({length: n}, () => noisy(random, 100))
        const result = compared(base, candidate, 'higher')
        nominal = result.interval?.coverage ?? 0
        if (result.interval !== null && result.interval.low <= 1 && result.interval.high >= 1) covered += 1
      }
      // Six standard deviations of a binomial count below the promise: never flakes, and a
      // too-narrow interval (a t or bootstrap interval on 5 pairs misses by far more) fails.
      const tolerance = 6 * Math.sqrt(trials * nominal * (1 - nominal))
      assert.ok(covered >= trials * nominal - tolerance, `n=${n}: covered ${covered} of ${trials}, promised ${(nominal * 100).toFixed(1)}%`)
    }
  })

  it('calls the same build worse in at most half its miss rate (one side of the interval), over throughput and latency alike', () => {
    const random = seededRandom(99)
    for (const better of ['higher', 'lower'] as const) {
      let worse = 0
      let better_ = 0
      for (let t = 0; t < trials; t += 1) {
        const base = Array.from({length: 6}, () => noisy(random, 40))
        const candidate = Array.from({length: 6}, () => noisy(random, 40))
        const change = compared(base, candidate, better).change
        if (change === 'worse') worse += 1
        if (change === 'better') better_ += 1
      }
      // [min, max] of 6 misses 1/32 of the time, half on each side: 1/64 each.
      const p = 1 / 64
      const tolerance = 6 * Math.sqrt(trials * p * (1 - p))
      assert.ok(worse <= trials * p + tolerance, `${better} is better: ${worse} false regressions in ${trials}`)
      assert.ok(better_ <= trials * p + tolerance, `${better} is better: ${better_} false improvements in ${trials}`)
    }
  })
})

describe('compareFigure', () => {
  it('detects a clearly lower throughput as worse, and a higher one as better', () => {
    const base = [3500, 3420, 3610, 3380, 3550, 3490]
    const slower = base.map((x, i) => x * (0.7 + 0.02 * (i % 3)))
    const worse = compared(base, slower, 'higher')
    assert.equal(worse.change, 'worse')
    assert.ok(worse.interval !== null && worse.interval.high < 1)
    assert.ok(Math.abs(worse.medianRatio - 0.72) < 0.011)
    assert.equal(compared(slower, base, 'higher').change, 'better')
  })

  it('detects a doubled p99.9 as worse, and a halved one as better', () => {
    const base = [41, 38, 55, 44, 47, 39]
    const doubled = base.map((x, i) => x * (2 + (i % 2 === 0 ? 0.1 : -0.1)))
    assert.equal(compared(base, doubled, 'lower').change, 'worse')
    assert.equal(compared(doubled, base, 'lower').change, 'better')
  })

  it('finds identical samples within noise, ratio 1, no spread of the ratios', () => {
    const same = [3500, 3420, 3610, 3380, 3550, 3490]
    const result = compared(same, same, 'higher')
    assert.equal(result.change, 'within_noise')
    assert.equal(result.medianRatio, 1)
    assert.equal(result.geometricMeanRatio, 1)
    assert.deepEqual(result.interval, {low: 1, high: 1, coverage: 1 - 2 / 64})
  })

  it('finds noisy samples that overlap within noise, even when their medians differ by 20%', () => {
    // What the shared machine gave: pairs disagree about the direction.
    const base = [1025, 630, 951, 2711, 1689, 1200]
    const candidate = [1400, 590, 1300, 2100, 2000, 1500]
    const result = compared(base, candidate, 'higher')
    assert.ok(result.candidateMedian / result.baseMedian > 1.2)
    assert.equal(result.change, 'within_noise')
    assert.ok(result.baseCv > 0.4, 'the spread of the runs is reported')
  })

  it('decides nothing with too few pairs, however large the change', () => {
    const result = compared([100, 100, 100, 100], [10, 10, 10, 10], 'higher', 0.9)
    assert.equal(result.change, 'inconclusive')
    assert.equal(result.interval, null)
    assert.equal(result.medianRatio, 0.1, 'the figures are still reported')
  })

  it('refuses figures that do not pair, or are not positive, and a confidence outside (0, 1)', () => {
    assert.equal(compareFigure([1, 2], [1], 'higher', 0.9).ok, false)
    assert.equal(compareFigure([], [], 'higher', 0.9).ok, false)
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const result = compareFigure([1, 2, bad], [1, 2, 3], 'lower', 0.9)
      assert.equal(result.ok, false, `${bad} was accepted`)
      assert.match((result as {message: string}).message, /positive, finite/)
    }
    assert.equal(compareFigure([1], [1], 'higher', 1).ok, false)
    assert.equal(compareFigure([1], [1], 'higher', 0).ok, false)
  })
})

describe('small helpers', () => {
  it('pairs ratios in order', () => {
    assert.deepEqual(pairedRatios([2, 4], [1, 8]), {ok: true, value: [0.5, 2]})
  })

  it('takes medians of odd and even counts, and a geometric mean for which 2 and 1/2 cancel', () => {
    assert.equal(median([3, 1, 2]), 2)
    assert.equal(median([4, 1, 3, 2]), 2.5)
    assert.ok(Math.abs(geometricMean([2, 0.5]) - 1) < 1e-12)
    assert.ok(Math.abs(geometricMean([1, 4]) - 2) < 1e-12)
  })

  it('gives the sample coefficient of variation, 0 for one run', () => {
    assert.equal(coefficientOfVariation([5]), 0)
    assert.equal(coefficientOfVariation([7, 7, 7]), 0)
    assert.ok(Math.abs(coefficientOfVariation([1, 3]) - Math.SQRT2 / 2) < 1e-12)
  })

  it('lets one worse figure decide the verdict, then one better', () => {
    assert.equal(verdictOf(['within_noise', 'better', 'worse']), 'regressed')
    assert.equal(verdictOf(['within_noise', 'better']), 'improved')
    assert.equal(verdictOf(['within_noise', 'within_noise']), 'within_noise')
    assert.equal(verdictOf(['inconclusive', 'inconclusive']), 'inconclusive')
  })
})
