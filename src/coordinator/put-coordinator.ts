/**
 * The put (and delete) coordinator shell (paper §4.5): the async part around put-core.ts.
 *
 * A put is coordinated by one of the key's N home replicas when one can take it: any other node
 * forwards it to the first home replica it believes up that answers. When it believes none up,
 * or every home it tried certainly never took the put, it coordinates the put itself, as a
 * fallback coordinator (paper §4.6: "all read and write operations are performed on the first N
 * healthy nodes from the preference list"). The coordinator makes the new version from the
 * client's context against its own copy and, while that lands, sends it to the first N
 * reachable nodes of the preference list (sloppy quorum: the homes it believes up, and for each
 * home it believes down the next fallback, which keeps the write as a hint for that home; the
 * coordinator itself may be that fallback, keeping the hint in its own hint store), and answers
 * as soon as the core says W acks (DW durable, PW from homes) are in, or that they can no longer
 * be. A home coordinator's own write is its acknowledgement; a fallback coordinator's own copy
 * is not one the key's readers ask, so only its hint counts. Replicas that answer later still
 * store the version. A PW that the homes believed up cannot meet is refused before anything is
 * written.
 */

import type {StoredObject, StoredVersion} from '../storage/stored-object.js'
import {DynError} from '../errors.js'
import {MessageType} from '../transport/message-type.js'
import type {VersionVector} from '../versioning/dvvset.js'
import {withDot} from '../versioning/dvvset.js'
import type {ReplyTrace, RequestTrace} from './cluster-view.js'
import type {CoordinatorDeps} from './coordinator-deps.js'
import type {CoordinatePutBody, HeldVersions} from './messages.js'
import {heldVersionsOf, mostHeld} from './messages.js'
import {placeKeyForRequest, reachableHomes, sloppyTargets, spareFallbacks, withHomesDown} from './preflist.js'
import type {KeyPlacement, RequestTarget} from './preflist.js'
import {addAck, addFailure, enough, initPut, replaceTarget} from './put-core.js'
import type {PutCore} from './put-core.js'
import {copyToHomesBeyondN, copyToPendingHomes, keepHint} from './pending-homes.js'
import {callReplicaPut, refusedAtOnce, refusedBeforeTaking} from './replica-client.js'
import {writeNewVersion} from './replica.js'
import type {NewVersion} from './replica.js'
import {encodeStoredObject} from '../storage/object-codec.js'

export interface PutRequest {
  readonly key: string
  readonly value: Uint8Array
  readonly contentType: string
  readonly tombstone: boolean
  readonly context: VersionVector
  readonly n: number
  /**
   * The replica count recorded with the key: what the client asked for, or the cluster's default
   * N, even when the ring has fewer owners now and `n` (what this request places) had to be
   * smaller. Transfers and copies to pending homes bring the key to this many homes as members
   * join. The same as `n` when absent.
   */
  readonly storedN?: number
  readonly w: number
  readonly dw: number
  /** Of the W acknowledgements, how many must come from home replicas (0: fallbacks count as homes do). */
  readonly pw: number
  /** Wait for every replica before answering, so the trace is complete. */
  readonly explain: boolean
}

export type PutFailureCode = 'quorum_unmet' | 'too_many_siblings' | 'object_too_large' | 'unreachable' | 'bad_parameter' | 'internal'

export type PutOutcome =
  | {
      readonly ok: true
      readonly context: VersionVector
      /** How many versions the key has at the coordinator right after the write (tombstones included), */
      readonly siblings?: number
      /** and how many of them are live (not tombstones): after a delete, 0 unless its context missed a write. */
      readonly liveSiblings?: number
      readonly trace: RequestTrace
    }
  | {
      readonly ok: false
      readonly error: PutFailureCode
      readonly message: string
      readonly details: Record<string, unknown>
      readonly trace?: RequestTrace
    }

// The two objects every put makes below are written out field by field, not as `{...request,
// forwardedBy, budgetMs}` or `{...fields, onMerged}`: on Node 20 an optimized spread followed by
// a property gives each object a map of its own, and every read of it downstream then missed
// V8's inline caches, in the store's merge and in msgpackr's packing of a forward
// (bench/README.md, "Object shapes on the request path"; test/unit/object-shapes.test.ts).

/** The body of a put forwarded to a home: the client's request, who forwards it and the budget left. */
export function forwardedPutBody(request: PutRequest, forwardedBy: string, budgetMs: number): CoordinatePutBody {
  return {
    key: request.key,
    value: request.value,
    contentType: request.contentType,
    tombstone: request.tombstone,
    context: request.context,
    n: request.n,
    storedN: request.storedN ?? request.n,
    w: request.w,
    dw: request.dw,
    pw: request.pw,
    explain: request.explain,
    forwardedBy,
    budgetMs,
  }
}

/** The new version a coordinator makes of a put, against its own copy, under the actor the put began with. */
export function coordinatorWrite(request: PutRequest, version: StoredVersion, deps: Pick<CoordinatorDeps, 'actor' | 'dots'>, durable: boolean, onMerged: NewVersion['onMerged']): NewVersion {
  return {context: request.context, version, actor: deps.actor, dots: deps.dots, n: request.storedN ?? request.n, nowMs: version.timestampMs, durable, onMerged}
}

/** Who forwarded a put here, and how much of the client's budget was left when it did. */
export interface Forwarded {
  readonly by: string
  readonly budgetMs: number
}

/** Time the forwarder keeps for itself out of its budget, so the home's answer can reach it. */
const forwardMarginMs = 50

export async function coordinatePut(deps: CoordinatorDeps, request: PutRequest, forwarded?: Forwarded): Promise<PutOutcome> {
  const placed = placeKeyForRequest(deps.view(), request.key, request.n)
  if (!placed.ok) return placed
  const placement = placed.placement
  // A forwarded put is coordinated here even if this node's ring has moved on, so a request
  // can never bounce between nodes whose views disagree.
  // A home whose store has stopped taking writes (store.ts, a failed landing) forwards like any
  // other node, to the other homes.
  const selfWrites = deps.store.writesStoppedBy === undefined
  if ((placement.homes.includes(deps.self) && selfWrites) || forwarded !== undefined) {
    return coordinateHere(deps, request, placement, {budgetMs: forwarded?.budgetMs ?? deps.requestTimeoutMs, ...(forwarded === undefined ? {} : {forwardedBy: forwarded.by})})
  }
  const forwardedPut = await forwardPut(deps, request, placement.homes.filter((home) => home !== deps.self))
  if (forwardedPut.kind === 'answered') return forwardedPut.outcome
  // No home took the put, and none may have: this node coordinates it as a fallback, with the
  // homes it tried counted as down, so that fallbacks keeping hints stand in for them.
  return coordinateHere(deps, request, withHomesDown(placement, forwardedPut.homesTried), {budgetMs: forwardedPut.budgetMs, homesTried: forwardedPut.homesTried})
}

const putFailureCodes: readonly string[] = ['quorum_unmet', 'too_many_siblings', 'object_too_large', 'unreachable', 'bad_parameter', 'internal']

/** A peer's answer to CoordinatePut, checked: its codes become HTTP statuses here. */
function checkedOutcome(body: unknown, home: string): PutOutcome {
  const outcome = body as Partial<PutOutcome> | null
  if (outcome?.ok === true && Array.isArray(outcome.context)) return outcome as PutOutcome
  if (outcome?.ok === false && typeof outcome.error === 'string' && putFailureCodes.includes(outcome.error)) {
    return {ok: false, error: outcome.error, message: String(outcome.message), details: typeof outcome.details === 'object' && outcome.details !== null ? outcome.details : {}, ...(outcome.trace ? {trace: outcome.trace} : {})}
  }
  return {ok: false, error: 'unreachable', message: `${home} answered the forwarded put with something that is not an outcome`, details: {node: home}}
}

/** What forwarding came to: a home's answer (or a failure after which no other node may coordinate), or none that took it. */
type ForwardResult =
  | {readonly kind: 'answered'; readonly outcome: PutOutcome}
  | {readonly kind: 'coordinate-here'; readonly homesTried: readonly string[]; readonly budgetMs: number}

async function forwardPut(deps: CoordinatorDeps, request: PutRequest, homes: readonly string[]): Promise<ForwardResult> {
  const deadlineMs = deps.clock.monotonicMs() + deps.requestTimeoutMs
  const view = deps.view()
  // Only homes this node believes up are asked: for one believed down, sloppy quorum puts a
  // fallback in its place that keeps a hint for it, which a forward to it could only delay.
  const believedUp = homes.filter((home) => view.isUp(home))
  const tried: string[] = []
  for (const home of believedUp) {
    const remainingMs = deadlineMs - deps.clock.monotonicMs()
    const address = view.rpcAddressOf(home)
    if (remainingMs <= 0) return {kind: 'answered', outcome: budgetSpent(homes, tried)}
    if (address === undefined) continue
    tried.push(home)
    const body = forwardedPutBody(request, deps.self, Math.max(1, remainingMs - forwardMarginMs))
    const answer = await deps.transport.request(address, MessageType.CoordinatePut, body, remainingMs)
    if (answer.ok) return {kind: 'answered', outcome: checkedOutcome(answer.body, home)}
    // Only a home that certainly did not take the put is worth replacing by the next: one that
    // is still starting, or one this node's transport refused to send to. After a timeout it may have written, and a
    // second coordinator would only add a sibling of the same value.
    // An 'unreachable' after the request went out (the connection broke under it) may have been
    // coordinated there: a second coordinator would give the same value a second dot, which no
    // context the client is handed covers (simulator seeds 254, 306, 983, 313, 528, 679, 977).
    // The same rule guards the fallback coordination below: it runs only when no home may have
    // taken the put.
    const retryable = (answer.error === 'unreachable' && answer.sent === false) || answer.error === 'overloaded' || (answer.error === 'remote' && refusedBeforeTaking(answer.code))
    if (!retryable) {
      return {kind: 'answered', outcome: {ok: false, error: 'unreachable', message: `${home} did not complete the forwarded put: ${answer.message}`, details: {node: home}}}
    }
  }
  const budgetMs = deadlineMs - deps.clock.monotonicMs()
  if (budgetMs <= 0) return {kind: 'answered', outcome: budgetSpent(homes, tried)}
  return {kind: 'coordinate-here', homesTried: tried, budgetMs}
}

/** The client's budget went on homes that did not take the put: nothing was written anywhere. */
function budgetSpent(homes: readonly string[], tried: readonly string[]): PutOutcome {
  return {
    ok: false,
    error: 'unreachable',
    message: `the request's time ran out before any of the key's home replicas (${homes.join(', ')}) took the put; tried ${tried.join(', ') || 'none'}; nothing was written. Retry it`,
    details: {tried},
  }
}

/**
 * Whether a reply is one of the targets' answers, counted towards W: a home's, or a fallback's
 * for the home it stood in for. The coordinator's own copy when it is not a home (a fallback
 * coordinator, or a forwarded put whose ring moved) is not one, even when the coordinator is
 * also a target as a fallback: then its hint is the answer that counts.
 */
function isTargetReply(targets: readonly RequestTarget[], reply: ReplyTrace): boolean {
  return targets.some((target) => target.node === reply.node && target.hintFor === reply.hintFor)
}

/**
 * The error of a put that did not reach W (or DW, or PW): every replica that acknowledged, every
 * one that failed and why. Homes and fallbacks (hints) count towards W; a copy stored on a node
 * that is neither (a forwarded put whose ring moved, a fallback coordinator's own copy) is not counted.
 */
function quorumUnmet(trace: RequestTrace, core: PutCore, targets: readonly RequestTarget[]): PutOutcome {
  const replies = trace.replies
  const acknowledgedBy = replies.filter((reply) => reply.outcome === 'ok' && isTargetReply(targets, reply)).map((reply) => reply.node)
  const failed = replies.filter((reply) => reply.outcome === 'failed').map((reply) => ({node: reply.node, error: reply.error ?? 'failed', ...(reply.hintFor ? {hintFor: reply.hintFor} : {})}))
  const durableShort = core.durableCount < core.dw
  const homeShort = core.homeAcknowledged < core.pw
  const acked = `${acknowledgedBy.length} of the required ${core.w} replicas acknowledged the write${acknowledgedBy.length > 0 ? ` (${acknowledgedBy.join(', ')})` : ''}`
  const durable = durableShort ? `; ${core.durableCount} of the required ${core.dw} wrote it durably` : ''
  const homes = homeShort ? `; ${core.homeAcknowledged} of the required pw=${core.pw} were home replicas` : ''
  const failures = failed.length > 0 ? `; failed: ${failed.map((f) => `${f.node} (${f.error})`).join(', ')}` : ''
  const stored = acknowledgedBy.length > 0 ? '. The replicas that acknowledged keep the version; read the key before retrying' : ''
  return {
    ok: false,
    error: 'quorum_unmet',
    message: `${acked}${durable}${homes}${failures}${stored}`,
    details: {
      required: core.w,
      acknowledged: acknowledgedBy.length,
      acknowledgedBy,
      failed,
      durableRequired: core.dw,
      durableAcknowledged: core.durableCount,
      homeRequired: core.pw,
      homeAcknowledged: core.homeAcknowledged,
    },
    trace,
  }
}

/** PW homes cannot acknowledge when fewer are reachable: refused before anything is written. */
function homesUnreachable(request: PutRequest, placement: KeyPlacement, reachable: readonly string[], trace: RequestTrace): PutOutcome {
  const down = placement.homes.filter((home) => !reachable.includes(home))
  return {
    ok: false,
    error: 'quorum_unmet',
    message: `pw=${request.pw} needs ${request.pw} home ${request.pw === 1 ? 'replica' : 'replicas'} to acknowledge, but only ${reachable.length} of the key's homes ${reachable.length === 1 ? 'is' : 'are'} reachable (${reachable.join(', ') || 'none'}; down: ${down.join(', ')}); nothing was written. Retry when they are back, or lower pw`,
    details: {required: request.w, acknowledged: 0, acknowledgedBy: [], failed: [], homeRequired: request.pw, homeAcknowledged: 0, homesReachable: reachable, homesDown: down},
    trace,
  }
}

/** How this node came to coordinate a put, and how much of the client's budget is left for it. */
interface Coordination {
  readonly budgetMs: number
  /** Set when another node forwarded the put here. */
  readonly forwardedBy?: string
  /** Set when this node is not a home and coordinates as a fallback: the homes it tried first. */
  readonly homesTried?: readonly string[]
}

async function coordinateHere(deps: CoordinatorDeps, request: PutRequest, placement: KeyPlacement, coordination: Coordination): Promise<PutOutcome> {
  const startedMs = deps.clock.monotonicMs()
  const deadlineMs = startedMs + Math.min(deps.requestTimeoutMs, coordination.budgetMs)
  const {forwardedBy, homesTried} = coordination
  // A node that is not a home still makes the version against its own copy and keeps that copy:
  // its actor's counter for the key comes from there, so its dots are never reused. But only
  // the targets count towards W: a copy here is not one the key's readers will ask, unless this
  // node is also a target as a fallback, keeping a hint for a down home.
  const selfIsHome = placement.homes.includes(deps.self)
  // Paper §6.1: one replica (the coordinator) makes a durable write when DW >= 1; the others are
  // asked for durable writes only when DW needs more than that one.
  const durable = request.dw >= 1
  const remoteDurable = request.dw >= (selfIsHome ? 2 : 1)
  const replies: ReplyTrace[] = []
  // The homes this coordinator keeps a hint for because they (or their fallback) did not
  // acknowledge: --explain names them, since otherwise a failed home looks abandoned.
  const hintsKeptFor: string[] = []
  const targets = sloppyTargets(placement, deps.self)
  const traceOf = (): RequestTrace => {
    const acked = replies.filter((reply) => reply.outcome === 'ok' && isTargetReply(targets, reply))
    return {
      coordinator: deps.self,
      partition: placement.partition,
      preflist: placement.entries,
      replies: [...replies],
      repaired: [],
      counted: {home: acked.filter((reply) => reply.hintFor === undefined).length, fallback: acked.filter((reply) => reply.hintFor !== undefined).length},
      hintsWritten: acked.flatMap((reply) => (reply.hintFor === undefined ? [] : [{node: reply.node, target: reply.hintFor}])),
      ...(hintsKeptFor.length === 0 ? {} : {hintsKept: hintsKeptFor.map((target) => ({node: deps.self, target}))}),
      ...(forwardedBy === undefined ? {} : {forwardedBy}),
      ...(homesTried === undefined ? {} : {fallbackCoordinator: {homesTried}}),
    }
  }
  // Every target but this node as a home, whose own write below is its acknowledgement; this
  // node as a fallback is called like the others, and writes into its hint store.
  const others = targets.filter((target) => target.node !== deps.self || target.hintFor !== undefined)
  const targetCount = targets.length
  const w = Math.min(request.w, targetCount)
  const pw = Math.min(request.pw, w)
  const reachable = reachableHomes(placement, deps.self)
  if (reachable.length < pw) return homesUnreachable(request, placement, reachable, traceOf())

  const version: StoredVersion = {
    value: request.value,
    contentType: request.contentType,
    timestampMs: deps.clock.nowMs(),
    tombstone: request.tombstone,
  }
  // The coordinator makes the new version against its own copy, and sends that object to the
  // other targets as soon as its own reads find it, while it lands here: the two landings
  // overlap, so a put waits for the slower of them rather than for both in turn. Sending before
  // landing never gives one dot two values: the dot is recorded in the node's ledger when it is
  // made (write-actor.ts), so a landing that fails cannot let this process make it again, and a
  // restarted node writes under a new epoch. A local failure after the send counts as this
  // replica's failure, as a remote one's does.
  const homeTargetCount = targets.filter((target) => target.hintFor === undefined).length
  let core = initPut(targetCount, w, Math.min(request.dw, w), pw, homeTargetCount)
  return new Promise<PutOutcome>((resolve, reject) => {
    let answered = false
    // The other targets' answers, and this node's own landing.
    let outstanding = others.length + 1
    // Set once the new version is made: what is sent, and the context the client is answered with.
    let made: {readonly stored: StoredObject; readonly context: VersionVector} | undefined
    // The most versions, and live versions, that a replica acknowledging before the answer holds
    // after the write: the client is told the key's siblings from these, not from this node's copy
    // alone, which may lack a version written while this node was down (a delete whose read missed
    // it is then no delete, and says so). A replica that says nothing (a usual put's answer, an
    // older dyn) is not counted.
    let heldMax: HeldVersions | undefined
    const settle = (): void => {
      if (answered || made === undefined) return
      const verdict = enough(core)
      if (verdict.kind === 'wait') return
      // A failure waits for the replicas still outstanding (each call ends by the deadline), so
      // that the error counts every acknowledgement and names every failure; so does --explain.
      if ((request.explain || verdict.kind === 'quorum_unmet') && outstanding > 0) return
      answered = true
      if (verdict.kind === 'ok') {
        const most = mostHeld(heldVersionsOf(made.stored), heldMax)
        resolve({ok: true, context: made.context, siblings: most.versions, liveSiblings: most.live, trace: traceOf()})
        return
      }
      resolve(quorumUnmet(traceOf(), core, targets))
    }
    // A target that refuses at once is replaced by the next spare fallback, which keeps a hint for
    // the home of that place and counts as its fallback, as if the target had been believed down
    // (simulator seed 172406: a home restarted on a wiped disk answered "still starting").
    // Worked out on the first such refusal, before any spare joined the targets.
    let spares: ReturnType<typeof spareFallbacks> | undefined
    const send = (stored: StoredObject, bytes: Buffer, node: string, hintFor: string | undefined, askDurable: boolean): void => {
      const timeoutMs = Math.max(1, deadlineMs - deps.clock.monotonicMs())
      const home = hintFor === undefined
      const hinted = home ? {} : {hintFor}
      void callReplicaPut(deps, node, placement.partition, request.key, stored, askDurable, timeoutMs, hintFor, bytes).then((reply) => {
        if (reply.ok) {
          outstanding -= 1
          replies.push({node, outcome: 'ok', latencyMs: reply.latencyMs, durable: reply.durable, ...hinted})
          core = addAck(core, node, reply.durable, home)
          if (reply.held !== undefined) heldMax = mostHeld(reply.held, heldMax)
        } else {
          replies.push({node, outcome: 'failed', latencyMs: reply.latencyMs, error: reply.error, ...hinted})
          let spare: string | undefined
          if (refusedAtOnce(reply) && deadlineMs > deps.clock.monotonicMs()) {
            spares ??= spareFallbacks(placement, deps.self, targets)
            spare = spares.shift()
          }
          if (spare !== undefined) {
            core = replaceTarget(core, node, home)
            targets.push({node: spare, hintFor: hintFor ?? node})
            send(stored, bytes, spare, hintFor ?? node, askDurable)
            return
          }
          outstanding -= 1
          core = addFailure(core, node, home)
          // This node's own hint store just refused that very hint: asking it again would not help.
          if (node !== deps.self) {
            keepHint(deps, hintFor ?? node, placement.partition, request.key, stored)
            hintsKeptFor.push(hintFor ?? node)
          }
        }
        settle()
      })
    }
    const sendToOthers = (stored: StoredObject, dot: number, bytes: Buffer): void => {
      if (made !== undefined) return
      // Exactly what the client's context covered plus the version just written: never a sibling
      // the client was not shown (ARCHITECTURE "Client HTTP API").
      made = {stored, context: withDot(request.context, deps.actor, dot)}
      copyToPendingHomes(deps, placement.partition, request.key, request.storedN ?? request.n, stored, deadlineMs - deps.clock.monotonicMs(), bytes)
      copyToHomesBeyondN(deps, placement.partition, request.key, placement.entries.slice(request.n, request.storedN ?? request.n).map(({node}) => node), stored, deadlineMs - deps.clock.monotonicMs(), bytes)
      for (const [index, {node, hintFor}] of others.entries()) send(stored, bytes, node, hintFor, remoteDurable || (deps.durableReplicaPerPut && index === 0 && !durable))
      // Its own landing ends by the deadline too, as each replica call does: a put that fails, or
      // is explained, waits for every answer, and a disk that hangs must not hold it for ever.
      ownDeadline = deps.scheduler.after(Math.max(0, deadlineMs - deps.clock.monotonicMs()), () => {
        ownDeadline = undefined
        ownLanded('failed', `local store: not landed within the request's ${Math.round(deadlineMs - startedMs)} ms`)
      })
    }
    // This node's own landing, once made and sent: its answer, or the deadline's, whichever comes first.
    let ownDeadline: ReturnType<typeof deps.scheduler.after> | undefined
    let ownAnswered = false
    const ownLanded = (outcome: 'ok' | 'failed', error?: string): void => {
      if (ownAnswered) return
      ownAnswered = true
      if (ownDeadline !== undefined) deps.scheduler.cancel(ownDeadline)
      outstanding -= 1
      replies.push({node: deps.self, outcome, latencyMs: deps.clock.monotonicMs() - startedMs, ...(outcome === 'ok' ? {durable} : {error})})
      // A home coordinator's own write is its acknowledgement; a fallback coordinator's own copy is not counted.
      if (selfIsHome) core = outcome === 'ok' ? addAck(core, deps.self, durable) : addFailure(core, deps.self)
      settle()
    }
    const write = coordinatorWrite(request, version, deps, durable, ({object, dot, bytes}) => sendToOthers(object, dot, bytes))
    writeNewVersion(deps.store, deps.policy, placement.partition, request.key, write).then(
      (local) => {
        // Refused (limits) before anything was stored or sent: the key is unchanged everywhere.
        if (!local.ok) {
          replies.push({node: deps.self, outcome: 'failed', latencyMs: deps.clock.monotonicMs() - startedMs})
          answered = true
          resolve({ok: false, error: local.error, message: local.message, details: {}, trace: traceOf()})
          return
        }
        // Sent from onMerged already, unless the store answered without calling it.
        if (made === undefined) sendToOthers(local.object, local.dot, encodeStoredObject(local.object))
        ownLanded('ok')
      },
      (error: Error) => {
        if (made === undefined) {
          replies.push({node: deps.self, outcome: 'failed', latencyMs: deps.clock.monotonicMs() - startedMs, error: `local store: ${error.message}`})
          // Nothing was sent. A store that takes no writes refused before anything was made
          // (storage_failed: certainly not taken), which the caller passes on as it is, so that
          // a forwarder asks the next home and a client sees a 503 that says why.
          answered = true
          if (error instanceof DynError && refusedBeforeTaking(error.code)) {
            reject(error)
            return
          }
          resolve({ok: false, error: 'internal', message: `the coordinator could not store the write: ${error.message}`, details: {}, trace: traceOf()})
          return
        }
        ownLanded('failed', `local store: ${error.message}`)
      },
    )
  })
}
