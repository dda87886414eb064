/**
 * The statistics of `npm run bench:compare` (bench/compare.ts): whether a figure (throughput, a
 * p99.9) moved between two builds by more than the machine's noise, from runs made in pairs, one
 * run of each build right after the other.
 *
 * Why pairs and ratios: a shared machine's speed drifts over minutes (a neighbour starts a job,
 * the disk cache fills), so a figure of one build is compared with the other build's figure from
 * the same minute, as a ratio (candidate / base), and only the ratios are judged. Their order in
 * each pair alternates (ABBA, bench/compare-plan.ts), so a steady drift cancels too.
 *
 * Why an order-statistics interval for the median ratio, and not a mean with a t or a bootstrap
 * interval: the ratios are few (5 to 10 pairs at ten seconds each) and far from normal: a
 * neighbour's burst makes one pair's ratio 2 and leaves the others near 1. A t interval assumes
 * normality, and a bootstrap of so few samples is known to be too narrow; both would call noise a
 * change much more often than their nominal level says. The interval [x(k), x(n+1-k)] of the
 * sorted ratios holds the true median ratio with probability 1 - 2·P(B ≤ k-1), B ~ Binomial(n, 1/2),
 * for any continuous distribution whatever (the sign test's interval): it keeps its promise with
 * five pairs, at the price of needing every pair to agree when there are so few. A change is
 * beyond noise only when that interval excludes 1.
 *
 * Pure: no clock, no randomness, no IO; the runs' figures come in as numbers.
 */

import type {Result} from '../src/errors.js'

/** Which way a figure gets better: throughput up, latency down. */
export type Better = 'higher' | 'lower'

/**
 * What the paired ratios say about one figure:
 * - `worse` / `better`: the interval excludes 1, on the bad or the good side;
 * - `within_noise`: the interval includes 1;
 * - `inconclusive`: too few pairs for any interval at the confidence asked for.
 */
export type Change = 'worse' | 'better' | 'within_noise' | 'inconclusive'

/** The confidence bench:compare asks for unless told otherwise. */
export const confidenceDefault = 0.9
/** Pairs at most: far beyond any useful run (each pair is two bench runs), and it bounds the sums below. */
export const pairsMax = 1000

/**
 * P(B ≤ j) for B ~ Binomial(n, 1/2): the chance that at most j of n ratios fall below the true
 * median. Summed in the log domain so that large n neither overflows C(n, i) nor underflows 2^-n.
 */
export function binomialHalfCdf(n: number, j: number): number {
  if (j < 0) return 0
  if (j >= n) return 1
  let logTerm = -n * Math.LN2 // log C(n, 0) / 2^n
  let sum = 0
  for (let i = 0; i <= j; i += 1) {
    sum += Math.exp(logTerm)
    logTerm += Math.log(n - i) - Math.log(i + 1) // C(n, i+1) = C(n, i) · (n - i) / (i + 1)
  }
  return Math.min(1, sum)
}

/** The coverage of [x(k), x(n+1-k)], the k-th smallest to the k-th largest of n ratios. */
export function intervalCoverage(n: number, k: number): number {
  return 1 - 2 * binomialHalfCdf(n, k - 1)
}

/**
 * The narrowest order-statistics interval whose coverage is at least `confidence`: the largest
 * rank k (1-based, k ≤ n/2) with coverage(n, k) ≥ confidence, or undefined when even the widest,
 * [min, max] (k = 1, coverage 1 - 2^(1-n)), falls short: too few pairs to tell anything.
 */
export function medianIntervalRank(n: number, confidence: number): {readonly rank: number; readonly coverage: number} | undefined {
  let best: {rank: number; coverage: number} | undefined
  for (let k = 1; k <= Math.floor(n / 2); k += 1) {
    const coverage = intervalCoverage(n, k)
    if (coverage < confidence) break
    best = {rank: k, coverage}
  }
  return best
}

/** The fewest pairs for which some interval reaches `confidence`: 5 at 90%, 6 at 95%, 8 at 99%. */
export function pairsNeeded(confidence: number): number {
  for (let n = 2; n <= pairsMax; n += 1) if (medianIntervalRank(n, confidence) !== undefined) return n
  return Number.POSITIVE_INFINITY
}

/** candidate[i] / base[i] for each pair; refused unless both lists are as long and every figure is positive and finite. */
export function pairedRatios(base: readonly number[], candidate: readonly number[]): Result<{value: number[]}, {message: string}> {
  if (base.length !== candidate.length) return {ok: false, message: `${base.length} base figures against ${candidate.length} candidate figures: a ratio needs pairs`}
  if (base.length === 0) return {ok: false, message: 'no pairs of figures to compare'}
  if (base.length > pairsMax) return {ok: false, message: `${base.length} pairs: at most ${pairsMax}`}
  const bad = [...base, ...candidate].find((x) => !(Number.isFinite(x) && x > 0))
  if (bad !== undefined) return {ok: false, message: `a figure of ${bad}: a ratio needs positive, finite figures (a run that measured nothing failed)`}
  return {ok: true, value: base.map((b, i) => (candidate[i] as number) / b)}
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

/** exp(mean(log x)): the average of ratios, for which 2 and 1/2 cancel as they should. */
export function geometricMean(values: readonly number[]): number {
  return Math.exp(values.reduce((sum, x) => sum + Math.log(x), 0) / values.length)
}

/** Sample standard deviation over mean: how much one build's runs spread on their own (0 for one run). */
export function coefficientOfVariation(values: readonly number[]): number {
  if (values.length < 2) return 0
  const mean = values.reduce((a, b) => a + b, 0) / values.length
  const variance = values.reduce((sum, x) => sum + (x - mean) ** 2, 0) / (values.length - 1)
  return Math.sqrt(variance) / mean
}

export interface FigureComparison {
  /** candidate / base, pair by pair, in the order the pairs ran. */
  readonly ratios: readonly number[]
  /** The median ratio: the estimate the interval is about. */
  readonly medianRatio: number
  readonly geometricMeanRatio: number
  /** Where the true median ratio lies, with `coverage` ≥ the confidence asked for; null: too few pairs. */
  readonly interval: {readonly low: number; readonly high: number; readonly coverage: number} | null
  readonly change: Change
  readonly baseMedian: number
  readonly candidateMedian: number
  /** Each build's own run-to-run spread: the machine's noise as this comparison saw it. */
  readonly baseCv: number
  readonly candidateCv: number
}

/**
 * Compares one figure of the paired runs. `confidence` in (0, 1): the interval's least coverage.
 * Refused (not thrown) when the figures do not pair, so that the caller can name the figure.
 */
export function compareFigure(base: readonly number[], candidate: readonly number[], better: Better, confidence: number): Result<{value: FigureComparison}, {message: string}> {
  if (!(confidence > 0 && confidence < 1)) return {ok: false, message: `a confidence of ${confidence}: it must lie strictly between 0 and 1`}
  const ratios = pairedRatios(base, candidate)
  if (!ratios.ok) return ratios
  const sorted = [...ratios.value].sort((a, b) => a - b)
  const rank = medianIntervalRank(sorted.length, confidence)
  const interval = rank === undefined ? null : {low: sorted[rank.rank - 1] as number, high: sorted[sorted.length - rank.rank] as number, coverage: rank.coverage}
  return {
    ok: true,
    value: {
      ratios: ratios.value,
      medianRatio: median(sorted),
      geometricMeanRatio: geometricMean(sorted),
      interval,
      change: changeOf(interval, better),
      baseMedian: median(base),
      candidateMedian: median(candidate),
      baseCv: coefficientOfVariation(base),
      candidateCv: coefficientOfVariation(candidate),
    },
  }
}

function changeOf(interval: FigureComparison['interval'], better: Better): Change {
  // Too few pairs: no interval reaches the confidence, so nothing can be told from noise.
  if (interval === null) return 'inconclusive'
  // The whole interval above 1: the candidate's figure is higher in (nearly) every pair.
  if (interval.low > 1) return better === 'higher' ? 'better' : 'worse'
  // The whole interval below 1: the candidate's figure is lower.
  if (interval.high < 1) return better === 'higher' ? 'worse' : 'better'
  // 1 inside the interval: what moved, the noise explains.
  return 'within_noise'
}

/** The verdict of a whole comparison: any figure worse wins, then any better; else what the figures say. */
export type Verdict = 'regressed' | 'improved' | 'within_noise' | 'inconclusive'

export function verdictOf(changes: readonly Change[]): Verdict {
  if (changes.includes('worse')) return 'regressed'
  if (changes.includes('better')) return 'improved'
  if (changes.length > 0 && changes.every((change) => change === 'inconclusive')) return 'inconclusive'
  return 'within_noise'
}
