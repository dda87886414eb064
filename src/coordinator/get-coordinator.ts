/**
 * The get coordinator shell (paper §4.5): the async part around get-core.ts.
 *
 * Any node can coordinate a get. Its targets are the first N reachable nodes of the key's
 * preference list (sloppy quorum, paper §4.6: the homes it believes up, and in place of each home
 * it believes down the next fallback, which answers from the hints it keeps for that home). It
 * answers once R of them have, PR of them homes (with the maximal versions and the context that
 * covers them), and keeps listening to those it asked until the deadline. When every replica
 * asked is in, home replicas that returned less than the merged object are sent it (read
 * repair), after the client already has its answer. A PR that the homes believed up cannot meet
 * is refused at once.
 *
 * It asks only R of the N at first, itself first when it is a home (a local read costs no
 * message), then the other homes believed up, in preference-list order, then fallbacks: the
 * paper asks all N, but R answers are all a get waits for, and the other N - R cost each replica
 * a read and the coordinator two messages per get (issue 18: asking all N made a get at R=2 cost
 * as much as a put at W=2; asking R cut the nodes' CPU per get by a third, bench/README.md).
 * The others are asked only when needed: at once in place of one that failed, and one more each
 * time the get has waited longer than the coordinator's recent replica reads mostly take
 * (speculative retry at their p99, as Cassandra does; read-latency.ts), so that a slow or paused
 * replica costs a get that delay, not its deadline. Replicas not asked are not read-repaired by
 * it: anti-entropy (src/antientropy) brings them up to date, as it does replicas no one reads.
 * A get with `explain` asks all N at once, so that its trace shows every replica.
 * A target believed up that refuses at once (still starting, overloaded, its connection refused)
 * is replaced by the next fallback not yet asked, as one believed down would have been: a read
 * changes nothing, so asking another node in its place is always safe (simulator seed 172406,
 * where a home restarted on a wiped disk answered "still starting" and the get fell one short).
 */

import type {Timer} from '../scheduler.js'
import type {StoredObject} from '../storage/stored-object.js'
import type {ReplyTrace, RequestTrace} from './cluster-view.js'
import type {CoordinatorDeps} from './coordinator-deps.js'
import {addFailure, addReply, addTarget, enough, finalAction, initGet, isComplete} from './get-core.js'
import type {GetCore} from './get-core.js'
import {placeKeyForRequest, reachableHomes, readOrder, sloppyTargets, spareFallbacks} from './preflist.js'
import type {RequestTarget} from './preflist.js'
import {callReplicaGet, callReplicaPut, refusedAtOnce} from './replica-client.js'

export interface GetRequest {
  readonly key: string
  readonly n: number
  readonly r: number
  /** Of the R answers, how many must come from home replicas (0: fallbacks count as homes do). */
  readonly pr: number
  /** Wait for every replica and for read repair before answering, so the trace is complete. */
  readonly explain: boolean
}

export type GetOutcome =
  | {readonly ok: true; readonly object: StoredObject | undefined; readonly trace: RequestTrace}
  | {
      readonly ok: false
      readonly error: 'quorum_unmet' | 'bad_parameter'
      readonly message: string
      readonly details: Record<string, unknown>
      readonly trace?: RequestTrace
    }

export async function coordinateGet(deps: CoordinatorDeps, request: GetRequest): Promise<GetOutcome> {
  const placed = placeKeyForRequest(deps.view(), request.key, request.n)
  if (!placed.ok) return placed
  const placement = placed.placement
  const startedMs = deps.clock.monotonicMs()
  const deadlineMs = startedMs + deps.requestTimeoutMs
  const replies: ReplyTrace[] = []
  let repaired: string[] = []
  const targets = sloppyTargets(placement, deps.self)
  const traceOf = (): RequestTrace => {
    const answered = replies.filter((reply) => reply.outcome !== 'failed')
    return {
      coordinator: deps.self,
      partition: placement.partition,
      preflist: placement.entries,
      replies: [...replies],
      repaired: [...repaired],
      counted: {home: answered.filter((reply) => reply.hintFor === undefined).length, fallback: answered.filter((reply) => reply.hintFor !== undefined).length},
    }
  }
  const pr = Math.min(request.pr, request.r)
  const reachable = reachableHomes(placement, deps.self)
  if (reachable.length < pr) {
    const down = placement.homes.filter((home) => !reachable.includes(home))
    return {
      ok: false,
      error: 'quorum_unmet',
      message: `pr=${pr} needs ${pr} home ${pr === 1 ? 'replica' : 'replicas'} to answer, but only ${reachable.length} of the key's homes ${reachable.length === 1 ? 'is' : 'are'} reachable (${reachable.join(', ') || 'none'}; down: ${down.join(', ')}). Retry when they are back, or lower pr`,
      details: {required: request.r, acknowledged: 0, answeredBy: [], failed: [], homeRequired: pr, homeAcknowledged: 0, homesReachable: reachable, homesDown: down},
      trace: traceOf(),
    }
  }

  return new Promise<GetOutcome>((resolve) => {
    const ordered = readOrder(targets, placement, deps.self)
    const firstAsked = request.explain ? ordered : ordered.slice(0, request.r)
    // The targets not asked yet, in the order they would be asked.
    const held = ordered.slice(firstAsked.length)
    let core: GetCore = initGet(firstAsked.length, request.r, pr, firstAsked.filter((target) => target.hintFor === undefined).length)
    let answered = false
    let speculation: Timer | undefined
    // The merge the get answered with, and the replies it merged: read repair reuses it when no
    // other reply came in since (most gets), instead of merging the same replies again.
    let answeredWith: {readonly replies: GetCore['replies']; readonly object: StoredObject | undefined} | undefined
    const answer = (): void => {
      if (answered) return
      const verdict = enough(core)
      if (verdict.kind === 'wait') return
      // A failure waits for the replicas still outstanding (each call ends by the deadline), so
      // that the error counts every answer and names every failure.
      if (verdict.kind === 'quorum_unmet' && !isComplete(core)) return
      answered = true
      if (speculation !== undefined) deps.scheduler.cancel(speculation)
      if (verdict.kind === 'ok') {
        answeredWith = {replies: core.replies, object: verdict.object}
        resolve({ok: true, object: verdict.object, trace: traceOf()})
        return
      }
      const answeredBy = replies.filter((reply) => reply.outcome !== 'failed').map((reply) => reply.node)
      const failed = replies.filter((reply) => reply.outcome === 'failed').map((reply) => ({node: reply.node, error: reply.error ?? 'failed'}))
      const homeShort = verdict.homeAcknowledged < verdict.homeRequired ? `; ${verdict.homeAcknowledged} of the required pr=${verdict.homeRequired} were home replicas` : ''
      resolve({
        ok: false,
        error: 'quorum_unmet',
        message:
          `${answeredBy.length} of the required ${verdict.required} replicas answered${answeredBy.length > 0 ? ` (${answeredBy.join(', ')})` : ''}${homeShort}` +
          (failed.length > 0 ? `; failed: ${failed.map((f) => `${f.node} (${f.error})`).join(', ')}` : ''),
        details: {required: verdict.required, acknowledged: answeredBy.length, answeredBy, failed, homeRequired: verdict.homeRequired, homeAcknowledged: verdict.homeAcknowledged},
        trace: traceOf(),
      })
    }
    const repair = async (): Promise<void> => {
      const action = answeredWith !== undefined && answeredWith.replies === core.replies ? finalAction(core, answeredWith.object) : finalAction(core)
      if (action.object === undefined || action.repairTargets.length === 0) return
      const object = action.object
      const timeoutMs = Math.max(1, deadlineMs - deps.clock.monotonicMs())
      const results = await Promise.all(
        action.repairTargets.map(async (node) => ({node, reply: await callReplicaPut(deps, node, placement.partition, request.key, object, false, timeoutMs)})),
      )
      repaired = results.filter((result) => result.reply.ok).map((result) => result.node)
      if (repaired.length > 0) deps.onReadRepair?.(repaired)
    }
    // The fallbacks that may stand in for a target refused at once, worked out on the first such refusal.
    let spares: ReturnType<typeof spareFallbacks> | undefined
    const ask = (node: string, hintFor: string | undefined): void => {
      const timeoutMs = Math.max(1, deadlineMs - deps.clock.monotonicMs())
      const home = hintFor === undefined
      const hinted = home ? {} : {hintFor}
      void callReplicaGet(deps, node, placement.partition, request.key, timeoutMs, hintFor).then(async (reply) => {
        if (reply.ok) {
          if (node !== deps.self) deps.readLatency.record(reply.latencyMs)
          replies.push({node, outcome: reply.object === undefined ? 'not_found' : 'ok', latencyMs: reply.latencyMs, ...hinted})
          core = addReply(core, {node, object: reply.object, home})
        } else {
          replies.push({node, outcome: 'failed', latencyMs: reply.latencyMs, error: reply.error, ...hinted})
          // A target that refused at once gets a spare fallback, which stands in for the home this
          // place belongs to and answers from its hints for it; it joins the targets held back,
          // behind the homes, so it is asked when they fail or are slow too. It was asked only
          // when no target was held back (simulator seed 66225927: a home still starting refused,
          // the held home took its place and timed out behind a partition, and the get fell one
          // short with a spare fallback up and never asked).
          if (refusedAtOnce(reply) && deadlineMs > deps.clock.monotonicMs()) {
            spares ??= spareFallbacks(placement, deps.self, targets)
            const spare = spares.shift()
            if (spare !== undefined) hold({node: spare, hintFor: hintFor ?? node})
          }
          core = addFailure(core, node, home)
          // A target not asked yet takes the failed one's place: a home first, it is one of the N.
          askNextHeld()
        }
        if (!request.explain) answer()
        if (!isComplete(core)) return
        await repair()
        answer()
      })
    }
    // Ask the next target held back, if any is left and the get still waits; true when one was asked.
    const askNextHeld = (): boolean => {
      const next = answered ? undefined : held.shift()
      if (next === undefined) return false
      core = addTarget(core, next.hintFor === undefined)
      ask(next.node, next.hintFor)
      return true
    }
    // A target to ask later; the speculation timer runs again if it had stopped for want of one.
    const hold = (target: RequestTarget): void => {
      held.push(target)
      if (speculation === undefined && !answered) speculation = deps.scheduler.after(speculationDelayMs(), speculate)
    }
    // One more target each time the get has waited longer than recent replica reads mostly took.
    const speculate = (): void => {
      speculation = undefined
      if (answered || enough(core).kind !== 'wait' || !askNextHeld() || held.length === 0) return
      speculation = deps.scheduler.after(speculationDelayMs(), speculate)
    }
    const speculationDelayMs = (): number => Math.max(0, Math.min(deps.readLatency.speculateAfterMs(), deadlineMs - deps.clock.monotonicMs()))
    for (const {node, hintFor} of firstAsked) ask(node, hintFor)
    if (held.length > 0 && !answered) speculation = deps.scheduler.after(speculationDelayMs(), speculate)
  })
}
