/**
 * The capacity search of `dyn bench --find-capacity`: the highest request rate at which every
 * target of an SLA holds, the figure the paper's SLA talk is about (§2.2: a p99.9 at a stated
 * request rate). Each step is an open-loop run at one rate on the same cluster; this module
 * decides the next rate from the steps so far, so the search is pure and tested apart from the
 * runs.
 *
 * The search grows the rate by doubling while the SLA holds (or halves it while it does not),
 * and then bisects, geometrically, between the highest rate met and the lowest missed, until
 * they are within `precision` of each other or the step budget is spent. Latency grows steeply
 * near saturation, so a geometric midpoint finds the knee in fewer steps than an arithmetic one.
 *
 * A shared machine is noisy: a rate can miss once and a higher one pass. When a missed rate is
 * at or below a met one, the search stops and reports the highest met rate below every missed
 * one, the figure the user can rely on, and says that the steps were not monotonic.
 */

export interface CapacityStep {
  readonly ratePerS: number
  /** Every SLA target held at this rate. */
  readonly met: boolean
  /** Operations answered per second (the offered rate, less those shed or not started). */
  readonly goodputPerS: number
  readonly operations: ReadonlyArray<{readonly operation: string; readonly p50Ms: number; readonly p99Ms: number; readonly p999Ms: number}>
  /** The targets missed at this rate, as the SLA verdict names them. */
  readonly missed: readonly string[]
}

export interface CapacitySearchOptions {
  readonly startRatePerS: number
  /** The rates' ratio at which bisecting stops: 0.05 is within 5%. */
  readonly precision: number
  readonly ratePerSMax: number
  readonly stepsMax: number
}

export interface CapacityResult {
  /** The highest rate met below every rate missed; null when no rate was met. */
  readonly foundRatePerS: number | null
  /** The lowest rate missed; null when none was. */
  readonly lowestMissedRatePerS: number | null
  /** Why the search ended. */
  readonly ended: 'precise' | 'steps' | 'rate_max' | 'rate_min' | 'not_monotonic'
}

export const capacityPrecisionDefault = 0.05
export const capacityStepsMaxDefault = 8

/** The next rate to try, or why the search is over. */
export function nextCapacityRate(steps: readonly CapacityStep[], options: CapacitySearchOptions): {next: number} | {ended: CapacityResult['ended']} {
  if (steps.length === 0) return {next: clampRate(options.startRatePerS, options)}
  const {highestMet, lowestMissed} = bounds(steps)
  if (highestMet !== undefined && lowestMissed !== undefined && lowestMissed <= highestMet) return {ended: 'not_monotonic'}
  if (steps.length >= options.stepsMax) return {ended: 'steps'}
  if (lowestMissed === undefined) {
    const met = highestMet as number
    if (met >= options.ratePerSMax) return {ended: 'rate_max'}
    return {next: Math.min(options.ratePerSMax, met * 2)}
  }
  if (highestMet === undefined) {
    if (lowestMissed <= 1) return {ended: 'rate_min'}
    return {next: Math.max(1, Math.floor(lowestMissed / 2))}
  }
  if (lowestMissed / highestMet <= 1 + options.precision) return {ended: 'precise'}
  const middle = Math.round(Math.sqrt(highestMet * lowestMissed))
  // Whole rates: two neighbours have nothing between them.
  if (middle <= highestMet || middle >= lowestMissed) return {ended: 'precise'}
  return {next: middle}
}

/** What the steps found: the rate a user can rely on, and the lowest that failed. */
export function capacityResult(steps: readonly CapacityStep[], ended: CapacityResult['ended']): CapacityResult {
  const {lowestMissed} = bounds(steps)
  const reliable = steps.filter((step) => step.met && (lowestMissed === undefined || step.ratePerS < lowestMissed)).map((step) => step.ratePerS)
  return {foundRatePerS: reliable.length === 0 ? null : Math.max(...reliable), lowestMissedRatePerS: lowestMissed ?? null, ended}
}

export function describeEnding(ended: CapacityResult['ended'], options: CapacitySearchOptions): string {
  switch (ended) {
    case 'precise':
      return `the highest rate met and the lowest missed are within ${Math.round(options.precision * 100)}% of each other`
    case 'steps':
      return `the step budget (${options.stepsMax} runs) was spent; --max-steps gives more`
    case 'rate_max':
      return `the SLA still held at ${options.ratePerSMax} ops/s, the highest rate the bench offers`
    case 'rate_min':
      return 'the SLA was missed even at 1 op/s'
    case 'not_monotonic':
      return 'a rate missed at or below one met (a noisy machine, or a cluster that was still settling): the figure is the highest met below every miss; run again to confirm'
  }
}

function bounds(steps: readonly CapacityStep[]): {highestMet?: number; lowestMissed?: number} {
  let highestMet: number | undefined
  let lowestMissed: number | undefined
  for (const step of steps) {
    if (step.met) highestMet = Math.max(highestMet ?? 0, step.ratePerS)
    else lowestMissed = Math.min(lowestMissed ?? Number.POSITIVE_INFINITY, step.ratePerS)
  }
  return {...(highestMet === undefined ? {} : {highestMet}), ...(lowestMissed === undefined ? {} : {lowestMissed})}
}

function clampRate(ratePerS: number, options: CapacitySearchOptions): number {
  return Math.max(1, Math.min(options.ratePerSMax, Math.round(ratePerS)))
}
