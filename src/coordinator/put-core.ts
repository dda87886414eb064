/**
 * The pure quorum core of a put (paper §4.5): it is fed the replicas' acknowledgements and
 * failures and says when the put has succeeded or can no longer succeed. It owns no timers and
 * sends nothing; put-coordinator.ts does that and only feeds results in here.
 *
 * A put succeeds once W replicas (the coordinator's own write counts) have acknowledged it and,
 * of those, DW wrote durably and PW are home replicas (paper §4.6: under sloppy quorum a
 * fallback that keeps the write as a hint counts towards W; PW, as Riak's, asks for a strict
 * quorum of homes). It fails as soon as too many replicas have failed for W, DW or PW to be
 * reachable, without waiting for the timeout.
 */

import {assert} from '../errors.js'

export interface PutCore {
  readonly w: number
  readonly dw: number
  readonly pw: number
  readonly targetCount: number
  /** How many of the targets are home replicas (the rest are fallbacks). */
  readonly homeTargetCount: number
  readonly acknowledged: readonly string[]
  readonly durableCount: number
  readonly homeAcknowledged: number
  readonly failed: readonly string[]
  readonly homeFailed: number
}

export type PutVerdict =
  | {readonly kind: 'wait'}
  | {readonly kind: 'ok'; readonly acknowledged: number}
  | {
      readonly kind: 'quorum_unmet'
      readonly required: number
      readonly acknowledged: number
      readonly durableRequired: number
      readonly durableAcknowledged: number
      readonly homeRequired: number
      readonly homeAcknowledged: number
    }

export function initPut(targetCount: number, w: number, dw: number, pw = 0, homeTargetCount = targetCount): PutCore {
  assert(Number.isInteger(w) && w >= 1 && w <= targetCount, `w=${w} must be within 1..${targetCount}`)
  assert(Number.isInteger(dw) && dw >= 0 && dw <= w, `dw=${dw} must be within 0..w`)
  assert(Number.isInteger(pw) && pw >= 0 && pw <= w, `pw=${pw} must be within 0..w`)
  assert(Number.isInteger(homeTargetCount) && homeTargetCount >= 0 && homeTargetCount <= targetCount, 'home targets are some of the targets')
  return {w, dw, pw, targetCount, homeTargetCount, acknowledged: [], durableCount: 0, homeAcknowledged: 0, failed: [], homeFailed: 0}
}

function assertFirstAnswer(core: PutCore, node: string): void {
  assert(!core.acknowledged.includes(node) && !core.failed.includes(node), `${node} answered twice`)
  assert(core.acknowledged.length + core.failed.length < core.targetCount, 'more answers than targets')
}

// Each step makes the next core with every field written out rather than `{...core, field}`: on
// Node 20 an optimized copy by spread gives the new object a map of its own often enough that the
// stores into it missed V8's inline caches at every acknowledgement (bench/README.md, "Object
// shapes on the request path"). The quorum (W, DW, PW) and the target counts never change.
function nextCore(core: PutCore, acknowledged: readonly string[], durableCount: number, homeAcknowledged: number, failed: readonly string[], homeFailed: number): PutCore {
  return {w: core.w, dw: core.dw, pw: core.pw, targetCount: core.targetCount, homeTargetCount: core.homeTargetCount, acknowledged, durableCount, homeAcknowledged, failed, homeFailed}
}

/** An acknowledgement; `home` is false for a fallback that kept the write as a hint. */
export function addAck(core: PutCore, node: string, durable: boolean, home = true): PutCore {
  assertFirstAnswer(core, node)
  return nextCore(core, [...core.acknowledged, node], core.durableCount + (durable ? 1 : 0), core.homeAcknowledged + (home ? 1 : 0), core.failed, core.homeFailed)
}

/**
 * A target that refused the write without doing it (still starting, overloaded, or unreachable)
 * is replaced by a fallback that keeps a hint, whose acknowledgement or failure then fills its
 * place: its slot stays open. A home replaced so can no longer count towards PW.
 */
export function replaceTarget(core: PutCore, node: string, home = true): PutCore {
  assertFirstAnswer(core, node)
  return home ? nextCore(core, core.acknowledged, core.durableCount, core.homeAcknowledged, core.failed, core.homeFailed + 1) : core
}

export function addFailure(core: PutCore, node: string, home = true): PutCore {
  assertFirstAnswer(core, node)
  return nextCore(core, core.acknowledged, core.durableCount, core.homeAcknowledged, [...core.failed, node], core.homeFailed + (home ? 1 : 0))
}

export function enough(core: PutCore): PutVerdict {
  const acknowledged = core.acknowledged.length
  const outstanding = core.targetCount - acknowledged - core.failed.length
  const homesOutstanding = core.homeTargetCount - core.homeAcknowledged - core.homeFailed
  // W acks, DW of them durable, PW of them from homes: the put has succeeded.
  if (acknowledged >= core.w && core.durableCount >= core.dw && core.homeAcknowledged >= core.pw) return {kind: 'ok', acknowledged}
  // Too many failures: even if every outstanding replica acks (durably), W, DW or PW cannot be met.
  if (acknowledged + outstanding < core.w || core.durableCount + outstanding < core.dw || core.homeAcknowledged + homesOutstanding < core.pw) {
    return {
      kind: 'quorum_unmet',
      required: core.w,
      acknowledged,
      durableRequired: core.dw,
      durableAcknowledged: core.durableCount,
      homeRequired: core.pw,
      homeAcknowledged: core.homeAcknowledged,
    }
  }
  // Still waiting for answers that could make the quorum.
  return {kind: 'wait'}
}
