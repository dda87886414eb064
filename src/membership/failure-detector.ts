/**
 * The failure detector (paper §4.8: each node keeps its own, local view of which peers answer):
 * a phi accrual detector, as in Cassandra and Akka (Hayashibara et al., "The φ accrual failure
 * detector", 2004). It is pure arithmetic on the times it is handed: it owns no timer and reads
 * no clock, so the same code runs on real and on simulated time, and unit tests drive it with
 * plain numbers.
 *
 * It is fed arrivals: an answer to a heartbeat (a Ping) or to any other internode request proves
 * that the peer was alive when it answered. From the intervals between arrivals it estimates
 * their mean and standard deviation, and from the time since the last arrival it computes
 *
 *     phi(t) = -log10(P(an interval is longer than t))
 *
 * with the interval taken as normally distributed around mean + acceptablePauseMs with standard
 * deviation max(sampled deviation, minStdDeviationMs). The normal tail is computed with the
 * logistic approximation 1 - CDF(y) ≈ 1 / (1 + exp(y · (1.5976 + 0.070566 · y²))), where
 * y = (t - mean - acceptablePauseMs) / deviation (within 0.0002 of the exact value). phi = 1
 * means a 10% chance that the peer is merely slow, phi = 8 one in 10^8.
 *
 * A peer is `down` once phi reaches `phiDownThreshold`, `suspect` from `phiSuspectThreshold`,
 * else `up`. With the defaults (heartbeats every 500 ms, acceptable pause 2 s, deviation at
 * least 200 ms) a silent peer is suspect after about 2.8 s and down after about 3.6 s (mean +
 * pause + 5.1 deviations); a pause under 2 s (a GC, a slow disk) never marks it down. A refused
 * or reset connection is certain evidence and marks the peer down at once (`markUnreachable`);
 * the next arrival marks it up again, so a peer that answers again is up one heartbeat later.
 */

import {assert} from '../errors.js'

export interface FailureDetectorConfig {
  /** How often heartbeats are sent: the mean interval assumed before any has been sampled. */
  readonly heartbeatIntervalMs: number
  /** phi at which a peer is down (8: one chance in 10^8 that it is only slow). */
  readonly phiDownThreshold: number
  /** phi at which a peer is shown as suspect (still used for requests). */
  readonly phiSuspectThreshold: number
  /** A silence this long beyond the mean interval costs nothing: pauses shorter than it are tolerated. */
  readonly acceptablePauseMs: number
  /** A floor on the deviation, so that a very regular peer is not marked down by one late heartbeat. */
  readonly minStdDeviationMs: number
  /** Intervals kept per peer (a sliding window), so the estimate follows the peer's recent behaviour. */
  readonly sampleWindowMax: number
}

export const failureDetectorDefaults: FailureDetectorConfig = {
  heartbeatIntervalMs: 500,
  phiDownThreshold: 8,
  phiSuspectThreshold: 1,
  acceptablePauseMs: 2000,
  minStdDeviationMs: 200,
  sampleWindowMax: 100,
}

export type Reachability = 'up' | 'suspect' | 'down'

interface PeerHistory {
  lastArrivalMs: number
  /** Set by a refused or reset connection; cleared by the next arrival. */
  unreachable: boolean
  /**
   * Set while a node of another cluster answers at the peer's address (markForeign): down, and
   * not cleared by its answers, which prove that something runs there but not the member.
   */
  foreign?: boolean
  /** Sampled intervals, a ring buffer of at most sampleWindowMax. */
  readonly intervals: number[]
  next: number
  sum: number
  sumOfSquares: number
}

/** Checks a configuration; answers what is wrong, for the CLI to report. */
export function checkFailureDetectorConfig(config: FailureDetectorConfig): string | undefined {
  if (!(config.heartbeatIntervalMs > 0)) return 'the heartbeat interval must be positive'
  if (!(config.phiDownThreshold > 0)) return 'the phi threshold must be positive'
  if (!(config.phiSuspectThreshold > 0 && config.phiSuspectThreshold <= config.phiDownThreshold)) return 'the suspect threshold must be within 0..the phi threshold'
  if (!(config.acceptablePauseMs >= 0)) return 'the acceptable pause must be at least 0'
  if (!(config.minStdDeviationMs > 0)) return 'the minimum deviation must be positive'
  if (!(Number.isInteger(config.sampleWindowMax) && config.sampleWindowMax >= 1)) return 'the sample window must hold at least one interval'
  return undefined
}

export class FailureDetector {
  readonly config: FailureDetectorConfig
  private readonly peers = new Map<string, PeerHistory>()

  constructor(config: FailureDetectorConfig = failureDetectorDefaults) {
    const problem = checkFailureDetectorConfig(config)
    assert(problem === undefined, `failure detector config: ${problem}`)
    this.config = config
  }

  /**
   * Starts watching a peer not heard from yet, as if it had just answered: a peer that never
   * answers is then down within the usual time of its first being watched.
   */
  watch(peer: string, nowMs: number): void {
    if (!this.peers.has(peer)) this.peers.set(peer, {lastArrivalMs: nowMs, unreachable: false, intervals: [], next: 0, sum: 0, sumOfSquares: 0})
  }

  /** The peer answered (a heartbeat, or any internode request) at `nowMs`. */
  arrival(peer: string, nowMs: number): void {
    const history = this.peers.get(peer)
    if (history === undefined) {
      this.watch(peer, nowMs)
      return
    }
    const intervalMs = nowMs - history.lastArrivalMs
    // An interval longer than the acceptable pause was an outage (or a pause) the detector
    // already forgave or reported: sampling it would teach the detector to wait longer next time.
    if (intervalMs >= 0 && intervalMs <= this.config.heartbeatIntervalMs + this.config.acceptablePauseMs) this.sample(history, intervalMs)
    history.lastArrivalMs = Math.max(history.lastArrivalMs, nowMs)
    history.unreachable = false
  }

  /** A connection to the peer was refused or reset: it is down until it answers again. */
  markUnreachable(peer: string, nowMs: number): void {
    this.watch(peer, nowMs)
    ;(this.peers.get(peer) as PeerHistory).unreachable = true
  }

  /**
   * A node of another cluster answers at the peer's address (a ping's answer names another
   * cluster id: heartbeats.ts): the member is not there, so it is down until an answer from this
   * cluster clears it (`clearForeign`), whatever else answers meanwhile.
   */
  markForeign(peer: string, nowMs: number): void {
    this.watch(peer, nowMs)
    ;(this.peers.get(peer) as PeerHistory).foreign = true
  }

  /** An answer from this cluster at the peer's address: what markForeign set no longer holds. */
  clearForeign(peer: string): void {
    const history = this.peers.get(peer)
    if (history !== undefined) history.foreign = false
  }

  /** Forgets a peer (it left the cluster). */
  forget(peer: string): void {
    this.peers.delete(peer)
  }

  /** phi of a peer at `nowMs`; 0 for a peer not watched (no evidence against it), Infinity when unreachable. */
  phi(peer: string, nowMs: number): number {
    const history = this.peers.get(peer)
    if (history === undefined) return 0
    if (history.unreachable || history.foreign === true) return Number.POSITIVE_INFINITY
    const count = history.intervals.length
    const meanMs = count === 0 ? this.config.heartbeatIntervalMs : history.sum / count
    const variance = count === 0 ? 0 : Math.max(0, history.sumOfSquares / count - meanMs * meanMs)
    const deviationMs = Math.max(Math.sqrt(variance), this.config.minStdDeviationMs)
    return phiOf(nowMs - history.lastArrivalMs, meanMs + this.config.acceptablePauseMs, deviationMs)
  }

  reachability(peer: string, nowMs: number): Reachability {
    const phi = this.phi(peer, nowMs)
    if (phi >= this.config.phiDownThreshold) return 'down'
    if (phi >= this.config.phiSuspectThreshold) return 'suspect'
    return 'up'
  }

  isUp(peer: string, nowMs: number): boolean {
    return this.phi(peer, nowMs) < this.config.phiDownThreshold
  }

  private sample(history: PeerHistory, intervalMs: number): void {
    if (history.intervals.length < this.config.sampleWindowMax) {
      history.intervals.push(intervalMs)
    } else {
      const evicted = history.intervals[history.next] as number
      history.sum -= evicted
      history.sumOfSquares -= evicted * evicted
      history.intervals[history.next] = intervalMs
      history.next = (history.next + 1) % this.config.sampleWindowMax
    }
    history.sum += intervalMs
    history.sumOfSquares += intervalMs * intervalMs
  }
}

/**
 * -log10 of the probability that an interval drawn from N(meanMs, deviationMs) is longer than
 * `elapsedMs`, by the logistic approximation of the normal tail (see the module comment).
 */
export function phiOf(elapsedMs: number, meanMs: number, deviationMs: number): number {
  const y = (elapsedMs - meanMs) / deviationMs
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y))
  // Two forms of the same value, each the numerically stable one on its side of the mean.
  const phi = elapsedMs > meanMs ? -Math.log10(e / (1 + e)) : -Math.log10(1 - 1 / (1 + e))
  return Math.max(0, phi)
}
