/**
 * When a get should ask one more replica (speculative retry). A get asks only the R replicas it
 * needs (get-coordinator.ts), so one slow or paused replica among them would hold the answer
 * until the request's deadline; Cassandra's answer is to ask the next replica once the request
 * has waited longer than most replica reads take (its default: the 99th percentile of recent
 * reads). This keeps the recent replica read latencies one coordinator saw and gives that
 * percentile, held within bounds.
 *
 * Pure: it is handed latencies, never reads a clock. The percentile is recomputed only every
 * `recomputeEvery` samples, so that a get pays one array write, not a sort.
 */

import {assert} from '../errors.js'

export interface ReadLatencySettings {
  /** How many recent replica reads the percentile is taken over (a ring of samples). */
  readonly samplesMax: number
  /** The percentile of recent reads after which a get asks one more replica, in (0, 1). */
  readonly quantile: number
  /** Never sooner than this: below it, a replica's answer is within a machine's scheduling noise. */
  readonly floorMs: number
  /** Never later than this (and never later than the request's own deadline, which the caller knows). */
  readonly ceilingMs: number
  /** The delay used before any sample was seen. */
  readonly initialMs: number
  /** The percentile is recomputed after this many new samples. */
  readonly recomputeEvery: number
}

/**
 * Defaults: 256 samples is a few hundred milliseconds of a busy node's reads and a longer memory
 * of an idle one's; p99 asks one more replica for about one read in a hundred, so the extra load
 * it adds stays near 1%; 2 ms is a scheduling hiccup on a shared machine; 50 ms before anything
 * is known is the order of a loaded replica's read on one (bench/README.md).
 */
export const readLatencySettingsDefault: ReadLatencySettings = {
  samplesMax: 256,
  quantile: 0.99,
  floorMs: 2,
  ceilingMs: 1000,
  initialMs: 50,
  recomputeEvery: 32,
}

export class ReplicaReadLatency {
  readonly #samples: Float64Array
  #count = 0
  #next = 0
  #sinceRecompute = 0
  #delayMs: number

  constructor(readonly settings: ReadLatencySettings = readLatencySettingsDefault) {
    assert(Number.isInteger(settings.samplesMax) && settings.samplesMax > 0, 'samplesMax must be a positive integer')
    assert(settings.quantile > 0 && settings.quantile < 1, 'quantile must be within (0, 1)')
    assert(settings.floorMs >= 0 && settings.floorMs <= settings.ceilingMs, 'floorMs must be within [0, ceilingMs]')
    assert(Number.isInteger(settings.recomputeEvery) && settings.recomputeEvery > 0, 'recomputeEvery must be a positive integer')
    this.#samples = new Float64Array(settings.samplesMax)
    this.#delayMs = this.#clamp(settings.initialMs)
  }

  /** A replica read that answered, and how long it took (ms, from the request to the answer). */
  record(latencyMs: number): void {
    if (!Number.isFinite(latencyMs) || latencyMs < 0) return
    this.#samples[this.#next] = latencyMs
    this.#next = (this.#next + 1) % this.settings.samplesMax
    this.#count = Math.min(this.#count + 1, this.settings.samplesMax)
    this.#sinceRecompute += 1
    // The first samples replace the initial guess at once; after that, every `recomputeEvery`.
    if (this.#sinceRecompute >= this.settings.recomputeEvery || this.#count < this.settings.recomputeEvery) this.#recompute()
  }

  /** How long a get waits for its replicas before it asks one more (ms). */
  speculateAfterMs(): number {
    return this.#delayMs
  }

  #recompute(): void {
    this.#sinceRecompute = 0
    const sorted = this.#samples.slice(0, this.#count).sort()
    const index = Math.min(sorted.length - 1, Math.ceil(this.settings.quantile * sorted.length) - 1)
    this.#delayMs = this.#clamp(sorted[Math.max(0, index)] ?? this.settings.initialMs)
  }

  #clamp(ms: number): number {
    return Math.min(this.settings.ceilingMs, Math.max(this.settings.floorMs, ms))
  }
}
