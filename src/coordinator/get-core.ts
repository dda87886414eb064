/**
 * The pure quorum core of a get (paper §4.5), with read repair as its final action.
 *
 * The coordinator asks the key's N home replicas. Once R have answered (a replica that has
 * nothing is an answer too), the core merges what they returned into the maximal versions and
 * the get can answer. It keeps collecting the other answers after that: when every replica has
 * answered or failed, `finalAction` names the replicas that returned less than the merged
 * object, so the coordinator can repair them off the latency path.
 */

import {assert} from '../errors.js'
import type {StoredObject} from '../storage/stored-object.js'
import {sameVersions, sync} from '../versioning/dvvset.js'

export interface GetReply {
  readonly node: string
  /** Undefined when the replica has nothing for the key. */
  readonly object: StoredObject | undefined
}

export interface GetCore {
  readonly r: number
  readonly targetCount: number
  readonly replies: readonly GetReply[]
  readonly failed: readonly string[]
}

export type GetVerdict =
  | {readonly kind: 'wait'}
  | {readonly kind: 'ok'; readonly object: StoredObject | undefined; readonly answered: number}
  | {readonly kind: 'quorum_unmet'; readonly required: number; readonly acknowledged: number}

export interface GetFinalAction {
  readonly object: StoredObject | undefined
  /** Replicas that answered with less than `object` (or nothing) and should be sent it. */
  readonly repairTargets: readonly string[]
}

export function initGet(targetCount: number, r: number): GetCore {
  assert(Number.isInteger(r) && r >= 1 && r <= targetCount, `r=${r} must be within 1..${targetCount}`)
  return {r, targetCount, replies: [], failed: []}
}

function assertFirstAnswer(core: GetCore, node: string): void {
  assert(!core.failed.includes(node) && !core.replies.some((reply) => reply.node === node), `${node} answered twice`)
  assert(core.replies.length + core.failed.length < core.targetCount, 'more answers than targets')
}

export function addReply(core: GetCore, reply: GetReply): GetCore {
  assertFirstAnswer(core, reply.node)
  return {...core, replies: [...core.replies, reply]}
}

export function addFailure(core: GetCore, node: string): GetCore {
  assertFirstAnswer(core, node)
  return {...core, failed: [...core.failed, node]}
}

/** Merge replies into the maximal versions; the object's N is the largest any replica stored. */
export function mergeReplies(replies: readonly GetReply[]): StoredObject | undefined {
  let merged: StoredObject | undefined
  for (const reply of replies) {
    if (reply.object === undefined) continue
    merged =
      merged === undefined
        ? reply.object
        : {versions: sync(merged.versions, reply.object.versions), n: Math.max(merged.n, reply.object.n)}
  }
  return merged
}

export function enough(core: GetCore): GetVerdict {
  const answered = core.replies.length
  // R answers (found or not): merge them and answer.
  if (answered >= core.r) return {kind: 'ok', object: mergeReplies(core.replies), answered}
  // Too many failures: the outstanding replicas cannot make up R any more.
  if (answered + (core.targetCount - answered - core.failed.length) < core.r) {
    return {kind: 'quorum_unmet', required: core.r, acknowledged: answered}
  }
  // Still waiting for answers that could make R.
  return {kind: 'wait'}
}

export function isComplete(core: GetCore): boolean {
  return core.replies.length + core.failed.length === core.targetCount
}

/** Read repair: called once every replica has answered or failed (or the deadline passed). */
export function finalAction(core: GetCore): GetFinalAction {
  const object = mergeReplies(core.replies)
  if (object === undefined) return {object, repairTargets: []}
  const repairTargets = core.replies
    .filter((reply) => reply.object === undefined || !sameVersions(reply.object.versions, object.versions))
    .map((reply) => reply.node)
  return {object, repairTargets}
}
