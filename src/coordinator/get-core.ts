/**
 * The pure quorum core of a get (paper §4.5), with read repair as its final action.
 *
 * The coordinator's targets are the first N reachable nodes of the key's preference list (its
 * homes, with fallbacks in place of unreachable ones, paper §4.6), but it asks only as many as
 * it needs and adds more as it goes (`addTarget`: in place of one that failed, or one more when
 * those asked are slow); the core counts the targets asked so far. Once R have answered, PR of
 * them home replicas (a replica that has nothing is an answer too), the core merges what they
 * returned into the maximal versions and the get can answer. It keeps collecting the other
 * answers after that: when every replica asked has answered or failed, `finalAction` names the
 * replicas that returned less than the merged object, so the coordinator can repair them off
 * the latency path.
 */

import {assert} from '../errors.js'
import type {StoredObject} from '../storage/stored-object.js'
import {sameVersions, sync} from '../versioning/dvvset.js'

export interface GetReply {
  readonly node: string
  /** Undefined when the replica has nothing for the key. */
  readonly object: StoredObject | undefined
  /** False for a fallback answering from the hints it holds for a home; a home when absent. */
  readonly home?: boolean
}

export interface GetCore {
  readonly r: number
  readonly pr: number
  readonly targetCount: number
  readonly homeTargetCount: number
  readonly replies: readonly GetReply[]
  readonly failed: readonly string[]
  readonly homeFailed: number
}

export type GetVerdict =
  | {readonly kind: 'wait'}
  | {readonly kind: 'ok'; readonly object: StoredObject | undefined; readonly answered: number}
  | {readonly kind: 'quorum_unmet'; readonly required: number; readonly acknowledged: number; readonly homeRequired: number; readonly homeAcknowledged: number}

export interface GetFinalAction {
  readonly object: StoredObject | undefined
  /** Replicas that answered with less than `object` (or nothing) and should be sent it. */
  readonly repairTargets: readonly string[]
}

export function initGet(targetCount: number, r: number, pr = 0, homeTargetCount = targetCount): GetCore {
  assert(Number.isInteger(r) && r >= 1 && r <= targetCount, `r=${r} must be within 1..${targetCount}`)
  assert(Number.isInteger(pr) && pr >= 0 && pr <= r, `pr=${pr} must be within 0..r`)
  assert(Number.isInteger(homeTargetCount) && homeTargetCount >= 0 && homeTargetCount <= targetCount, 'home targets are some of the targets')
  return {r, pr, targetCount, homeTargetCount, replies: [], failed: [], homeFailed: 0}
}

function isHome(reply: GetReply): boolean {
  return reply.home !== false
}

function assertFirstAnswer(core: GetCore, node: string): void {
  assert(!core.failed.includes(node) && !core.replies.some((reply) => reply.node === node), `${node} answered twice`)
  assert(core.replies.length + core.failed.length < core.targetCount, 'more answers than targets')
}

// Each step makes the next core with every field written out rather than `{...core, field}`: on
// Node 20 an optimized copy by spread gives the new object a map of its own often enough that the
// coordinator's reads of it missed V8's inline caches once per get (bench/README.md, "Object
// shapes on the request path").
function nextCore(core: GetCore, targetCount: number, homeTargetCount: number, replies: readonly GetReply[], failed: readonly string[], homeFailed: number): GetCore {
  return {r: core.r, pr: core.pr, targetCount, homeTargetCount, replies, failed, homeFailed}
}

export function addReply(core: GetCore, reply: GetReply): GetCore {
  assertFirstAnswer(core, reply.node)
  return nextCore(core, core.targetCount, core.homeTargetCount, [...core.replies, reply], core.failed, core.homeFailed)
}

export function addFailure(core: GetCore, node: string, home = true): GetCore {
  assertFirstAnswer(core, node)
  return nextCore(core, core.targetCount, core.homeTargetCount, core.replies, [...core.failed, node], core.homeFailed + (home ? 1 : 0))
}

/** One more target asked (a home unless `home` is false): its answer or failure is awaited too. */
export function addTarget(core: GetCore, home = true): GetCore {
  return nextCore(core, core.targetCount + 1, core.homeTargetCount + (home ? 1 : 0), core.replies, core.failed, core.homeFailed)
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
  const homeAnswered = core.replies.filter(isHome).length
  const homesOutstanding = core.homeTargetCount - homeAnswered - core.homeFailed
  // R answers (found or not), PR of them from homes: merge them and answer.
  if (answered >= core.r && homeAnswered >= core.pr) return {kind: 'ok', object: mergeReplies(core.replies), answered}
  // Too many failures: the outstanding replicas cannot make up R (or PR) any more.
  if (answered + (core.targetCount - answered - core.failed.length) < core.r || homeAnswered + homesOutstanding < core.pr) {
    return {kind: 'quorum_unmet', required: core.r, acknowledged: answered, homeRequired: core.pr, homeAcknowledged: homeAnswered}
  }
  // Still waiting for answers that could make R.
  return {kind: 'wait'}
}

export function isComplete(core: GetCore): boolean {
  return core.replies.length + core.failed.length === core.targetCount
}

/**
 * Read repair: called once every replica has answered or failed (or the deadline passed). Only
 * home replicas are repaired: a fallback's copy is a hint, which hinted handoff delivers.
 * `merged` is `mergeReplies(core.replies)`, given by a caller that has it already.
 */
export function finalAction(core: GetCore, merged: StoredObject | undefined = mergeReplies(core.replies)): GetFinalAction {
  const object = merged
  if (object === undefined) return {object, repairTargets: []}
  const repairTargets = core.replies
    .filter((reply) => isHome(reply) && (reply.object === undefined || !sameVersions(reply.object.versions, object.versions)))
    .map((reply) => reply.node)
  return {object, repairTargets}
}
