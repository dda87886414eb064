/**
 * How long the hint sender waits before it tries a target again after a failed delivery round
 * (handoff-sender.ts), pure: exponential back-off on injected times, as Cassandra's hint
 * dispatcher and TCP do. The first failure waits one handoff interval, each further one twice
 * the wait before, up to `handoffBackoffMaxMs`; a success, or the failure detector seeing the
 * target come back up after it was down, starts it afresh. So a target that answers but cannot
 * take its hints (overloaded, a full disk) is not asked every second, and one that comes back
 * from a crash is asked at once.
 */

import {assert} from '../errors.js'

/**
 * The longest wait between two delivery rounds to one target: long enough that a target that
 * keeps failing costs one batch per half minute, short enough that hints still move within a
 * minute of whatever blocked them clearing without the detector noticing (a target that was
 * never seen down, e.g. one that answered with errors).
 */
export const handoffBackoffMaxMs = 30_000

/** A target's back-off: the failed rounds in a row, and when the next round may try it. */
export interface HandoffBackoff {
  readonly failedRounds: number
  readonly retryAtMs: number
}

/** The wait after `failedRounds` failures in a row (at least 1): base × 2^(failures − 1), capped. */
export function backoffDelayMs(failedRounds: number, baseMs: number, maxMs: number = handoffBackoffMaxMs): number {
  assert(Number.isInteger(failedRounds) && failedRounds >= 1, 'a back-off follows at least one failed round')
  assert(baseMs > 0 && maxMs >= baseMs, 'the back-off base is positive and at most its maximum')
  // Capping the exponent first keeps 2 ** k finite however long the failures go on.
  const doublings = Math.min(failedRounds - 1, Math.ceil(Math.log2(maxMs / baseMs)))
  return Math.min(maxMs, baseMs * 2 ** doublings)
}

/** The back-off after one more failed round at `nowMs`. */
export function afterFailure(previous: HandoffBackoff | undefined, nowMs: number, baseMs: number, maxMs: number = handoffBackoffMaxMs): HandoffBackoff {
  const failedRounds = (previous?.failedRounds ?? 0) + 1
  return {failedRounds, retryAtMs: nowMs + backoffDelayMs(failedRounds, baseMs, maxMs)}
}

/** Whether a round at `nowMs` may try the target. */
export function mayTry(backoff: HandoffBackoff | undefined, nowMs: number): boolean {
  return backoff === undefined || nowMs >= backoff.retryAtMs
}
