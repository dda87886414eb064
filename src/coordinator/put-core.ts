/**
 * The pure quorum core of a put (paper §4.5): it is fed the replicas' acknowledgements and
 * failures and says when the put has succeeded or can no longer succeed. It owns no timers and
 * sends nothing; put-coordinator.ts does that and only feeds results in here.
 *
 * A put succeeds once W replicas (the coordinator's own write counts) have acknowledged it and,
 * of those, DW wrote durably. It fails as soon as too many replicas have failed for W (or DW)
 * to be reachable, without waiting for the timeout.
 */

import {assert} from '../errors.js'

export interface PutCore {
  readonly w: number
  readonly dw: number
  readonly targetCount: number
  readonly acknowledged: readonly string[]
  readonly durableCount: number
  readonly failed: readonly string[]
}

export type PutVerdict =
  | {readonly kind: 'wait'}
  | {readonly kind: 'ok'; readonly acknowledged: number}
  | {readonly kind: 'quorum_unmet'; readonly required: number; readonly acknowledged: number; readonly durableRequired: number; readonly durableAcknowledged: number}

export function initPut(targetCount: number, w: number, dw: number): PutCore {
  assert(Number.isInteger(w) && w >= 1 && w <= targetCount, `w=${w} must be within 1..${targetCount}`)
  assert(Number.isInteger(dw) && dw >= 0 && dw <= w, `dw=${dw} must be within 0..w`)
  return {w, dw, targetCount, acknowledged: [], durableCount: 0, failed: []}
}

function assertFirstAnswer(core: PutCore, node: string): void {
  assert(!core.acknowledged.includes(node) && !core.failed.includes(node), `${node} answered twice`)
  assert(core.acknowledged.length + core.failed.length < core.targetCount, 'more answers than targets')
}

export function addAck(core: PutCore, node: string, durable: boolean): PutCore {
  assertFirstAnswer(core, node)
  return {...core, acknowledged: [...core.acknowledged, node], durableCount: core.durableCount + (durable ? 1 : 0)}
}

export function addFailure(core: PutCore, node: string): PutCore {
  assertFirstAnswer(core, node)
  return {...core, failed: [...core.failed, node]}
}

export function enough(core: PutCore): PutVerdict {
  const acknowledged = core.acknowledged.length
  const outstanding = core.targetCount - acknowledged - core.failed.length
  // W acks, DW of them durable: the put has succeeded.
  if (acknowledged >= core.w && core.durableCount >= core.dw) return {kind: 'ok', acknowledged}
  // Too many failures: even if every outstanding replica acks (durably), W or DW cannot be met.
  if (acknowledged + outstanding < core.w || core.durableCount + outstanding < core.dw) {
    return {kind: 'quorum_unmet', required: core.w, acknowledged, durableRequired: core.dw, durableAcknowledged: core.durableCount}
  }
  // Still waiting for answers that could make the quorum.
  return {kind: 'wait'}
}
