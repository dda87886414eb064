/**
 * The availability checks (issue 20): a request the cluster owed an answer must not fail, and
 * every request must be answered.
 *
 * 8. Unavailable: a get or put that the simulator's own model of the moment says must succeed
 *    failed. The model knows what the fault log (fault-log.ts) says of every node and link over
 *    the request's whole duration, and follows the request as the paper's protocol would, not as
 *    the code does: the node the client asked coordinates a get; a put goes to the first home
 *    that node believes up, or is coordinated by that node itself when it is a home or believes
 *    no home up; the coordinator asks the first N nodes of the preference list that it believes
 *    up (sloppy quorum, paper §4.6), a home it believes down replaced by the next fallback it
 *    believes up, and counts itself up. Of each node the model knows for certain, relative to the
 *    coordinator, only:
 *    - that it *answers*, and that the coordinator believes it up: it is the coordinator, or it
 *      ran, and both links with the coordinator were clean (no cut, no loss, the run's own
 *      delays), from `viewSettleMs` before the request to its end. Within that time the failure
 *      detector has heard from it (a heartbeat every 500 ms; a Ping stuck behind an earlier cut
 *      times out within 2.5 s) and any connection that a crash or a partition broke has been
 *      opened again (the simulated transport backs off 1 s at most);
 *    - that the coordinator believes it *down*: it was down for `believedDownAfterMs` before the
 *      request, and the coordinator ran and both links were clean for a Ping's timeout longer:
 *      a Ping in flight when it went down failed with its connection, or the next one (every
 *      500 ms) was refused, either of which marks a peer down at once, and nothing has come
 *      from it since;
 *    - otherwise nothing: the coordinator may believe it up or down, and it may or may not answer.
 *    The request must succeed when, whatever the coordinator believes of the nodes the model does
 *    not know (every combination is tried), R (W) of its targets answer and PR (PW) of those are
 *    homes. A node counted as answering must also have been the one a put was forwarded to, when
 *    it was forwarded. Requests the model does not judge ("maybe"): the final reads (checked on
 *    their own, after retries); requests whose coordinator or forward target had restarted
 *    within `viewSettleMs` (its detector and connections were new); requests while any running
 *    node routed by another ring than the one the run started with, or had a transition under
 *    way, or once a membership change had begun (the ring the model knows is the first one);
 *    requests refused for cause (limits, bad parameters) and puts that a replica refused for a
 *    limit (too many siblings, too large); a client request to a node that crashed under it.
 *    There is no overload in the simulator (no HTTP layer, far fewer than 4096 requests).
 *    A node whose disk failed (fault-log.ts, `diskFails`) runs on and serves reads, so the gets
 *    it coordinates or answers are judged as any; but its store refuses writes, so for a put it
 *    counts as unknown (it may be a target that refuses, which the coordinator replaces by a spare
 *    fallback, or not), and a put it would coordinate or be forwarded is not judged.
 * 9. Unanswered: every request is answered (or ends with its node's crash) within
 *    `requestAnswerMsMax`: the coordinators' deadline is the request timeout, a forwarded put's
 *    included, so a request still waiting at four times that will never be answered.
 */

import type {Ring} from '../../src/ring/ring.js'
import {preferenceListForKey} from '../../src/ring/ring.js'
import type {Violation} from './checker.js'
import type {FaultLog} from './fault-log.js'
import type {History, RequestRecord} from './history.js'

/**
 * Simulated time a node and its links with the coordinator must have been as they are before a
 * request for the coordinator's view of it to be certain (see above: 2.5 s for a stuck Ping,
 * 0.5 s to the next heartbeat, 1 s of transport back-off, with room to spare).
 */
export const viewSettleMs = 5000

/** How long a node must have been down before a request for a coordinator that saw it go (clean links) to believe it down. */
export const believedDownAfterMs = 1000

/** The heartbeats' Ping timeout (500 ms interval + 2 s acceptable pause): one sent before a cut may block the next that long. */
export const pingTimeoutMs = 2500

/** How long a client waits for an answer before it reports the request as never answered. */
export function requestAnswerMsMax(requestTimeoutMs: number): number {
  return 4 * requestTimeoutMs
}

/** What the availability check needs besides the history. */
export interface AvailabilityInput {
  readonly faults: FaultLog
  /** The ring the cluster started with; requests are judged only while every running node routes by it. */
  readonly ring: Ring
  /** Requests that end at or after this time are not judged: a membership change began then. */
  readonly judgedBeforeMs: number
}

/** What the model says of one request. */
export type Judgement = {readonly mustSucceed: true; readonly account: string} | {readonly mustSucceed: false; readonly why: string}

/** A node as the model knows it, relative to one coordinator over one request. */
type Known = 'answers' | 'believed-down' | 'unknown'

/** One of the first N targets: a home, or a fallback standing in for a home. */
interface Target {
  readonly node: string
  readonly home: boolean
}

/**
 * The targets of a request as the paper's sloppy quorum picks them, from what the coordinator
 * believes up (`believedUp`, itself always): each home believed up, and for each home believed
 * down the next fallback believed up not used yet, or the home itself when none is left.
 */
export function sloppyQuorumTargets(preflist: readonly string[], n: number, self: string, believedUp: (node: string) => boolean): Target[] {
  const up = (node: string): boolean => node === self || believedUp(node)
  const fallbacks = preflist.slice(n).filter(up)
  const targets: Target[] = []
  for (const home of preflist.slice(0, n)) {
    if (up(home)) targets.push({node: home, home: true})
    else targets.push(fallbacks.length > 0 ? {node: fallbacks.shift()!, home: false} : {node: home, home: true})
  }
  return targets
}

/** Every assignment of believed up (true) or down to `unknown`, as a lookup per node. */
function* beliefs(known: ReadonlyMap<string, Known>): Generator<(node: string) => boolean> {
  const unknown = [...known].filter(([, state]) => state === 'unknown').map(([node]) => node)
  for (let mask = 0; mask < 1 << unknown.length; mask += 1) {
    const assigned = new Set(unknown.filter((_, index) => (mask & (1 << index)) !== 0))
    yield (node) => known.get(node) === 'answers' || assigned.has(node)
  }
}

export class AvailabilityModel {
  constructor(private readonly input: AvailabilityInput) {}

  /** What the model says of a request: must it succeed, or may it fail (and why)? */
  judge(request: RequestRecord): Judgement {
    const maybe = (why: string): Judgement => ({mustSucceed: false, why})
    const endMs = request.endMs ?? Number.POSITIVE_INFINITY
    if (request.final) return maybe('a final read (checked on its own)')
    if (request.end === 'refused' || request.end === 'crashed' || request.end === 'unanswered') return maybe(`it ended ${request.end}`)
    if (endMs >= this.input.judgedBeforeMs) return maybe('a membership change had begun')
    if (request.ringSteady !== true) return maybe('a node routed by another ring, or a transition ran')
    if (request.detail !== undefined && /too_many_siblings|object_too_large/.test(request.detail)) return maybe('a replica refused it for a limit')
    const preflist = preferenceListForKey(this.input.ring, request.key).nodes
    if (request.n > preflist.length) return maybe('n above the members')
    const settled = (node: string): boolean => this.input.faults.upThroughout(node, request.startMs - viewSettleMs, endMs)
    if (!settled(request.node)) return maybe(`${request.node} had not run for ${viewSettleMs} ms`)
    const homes = preflist.slice(0, request.n)
    // A put whose coordinator may have been a node whose disk failed: it forwards once its store
    // has stopped, and its own write fails before that; the model follows neither.
    const writable = (node: string): boolean => request.kind === 'get' || this.input.faults.writableThroughout(node, request.startMs, endMs)
    if (!writable(request.node)) return maybe(`${request.node}'s disk failed`)
    if (request.kind === 'get' || homes.includes(request.node)) {
      return this.#quorumAt(request, request.node, preflist, endMs) ? {mustSucceed: true, account: this.#account(request.node, preflist, request.startMs, endMs, request.kind)} : maybe('too few replicas certainly answer')
    }
    // A put the node asked is no home of: forwarded to the first home it believes up, or
    // coordinated there as a fallback coordinator when it believes none up.
    const known = this.#known(request.node, preflist, request.startMs, endMs, request.kind)
    for (const believedUp of beliefs(known)) {
      const first = homes.find((home) => believedUp(home))
      if (first === undefined) {
        if (!this.#quorumFor(request, request.node, preflist, believedUp, known)) return maybe('a fallback coordinator may not reach W')
        continue
      }
      if (known.get(first) !== 'answers' || !settled(first)) return maybe(`the put may be forwarded to ${first}, which may not answer`)
      if (!this.#quorumAt(request, first, preflist, endMs)) return maybe(`${first} may not reach W`)
    }
    const forwardedTo = homes.find((home) => known.get(home) !== 'believed-down')
    const coordinator = forwardedTo ?? request.node
    return {mustSucceed: true, account: `${forwardedTo === undefined ? 'no home believed up: coordinated where asked' : `forwarded to ${forwardedTo}`}; ${this.#account(coordinator, preflist, request.startMs, endMs, request.kind)}`}
  }

  /** What the model knew, relative to `coordinator`, for a violation's message. */
  #account(coordinator: string, preflist: readonly string[], startMs: number, endMs: number, kind: RequestRecord['kind']): string {
    const known = this.#known(coordinator, preflist, startMs, endMs, kind)
    const named = (state: Known): string => preflist.filter((node) => known.get(node) === state).join(' ') || 'none'
    return `coordinated by ${coordinator} over [${preflist.join(' ')}]; certainly answering: ${named('answers')}; certainly believed down: ${named('believed-down')}; unknown: ${named('unknown')}`
  }

  /** Whether a request coordinated by `coordinator` meets its quorum whatever it believes of the nodes the model does not know. */
  #quorumAt(request: RequestRecord, coordinator: string, preflist: readonly string[], endMs: number): boolean {
    const known = this.#known(coordinator, preflist, request.startMs, endMs, request.kind)
    for (const believedUp of beliefs(known)) if (!this.#quorumFor(request, coordinator, preflist, believedUp, known)) return false
    return true
  }

  /** Whether the targets `coordinator` picks from one belief certainly give R (W), PR (PW) of them homes. */
  #quorumFor(request: RequestRecord, coordinator: string, preflist: readonly string[], believedUp: (node: string) => boolean, known: ReadonlyMap<string, Known>): boolean {
    const targets = sloppyQuorumTargets(preflist, request.n, coordinator, believedUp)
    const answering = targets.filter((target) => target.node === coordinator || known.get(target.node) === 'answers')
    const quorum = Math.min(request.quorum, targets.length)
    const homeQuorum = Math.min(request.homeQuorum, quorum)
    return answering.length >= quorum && answering.filter((target) => target.home).length >= homeQuorum
  }

  /** What the model knows of each node of the preference list, relative to `coordinator`, over [startMs, endMs]. */
  #known(coordinator: string, preflist: readonly string[], startMs: number, endMs: number, kind: RequestRecord['kind'] = 'get'): Map<string, Known> {
    const faults = this.input.faults
    const fromMs = startMs - viewSettleMs
    const known = new Map<string, Known>()
    for (const node of preflist) {
      if (node === coordinator) {
        known.set(node, 'answers')
        continue
      }
      const linksClean = (toMs: number): boolean => faults.linkCleanThroughout(coordinator, node, fromMs, toMs) && faults.linkCleanThroughout(node, coordinator, fromMs, toMs)
      const sawItGoFromMs = startMs - believedDownAfterMs - pingTimeoutMs
      const sawItGo = faults.upThroughout(coordinator, sawItGoFromMs, startMs) && faults.linkCleanThroughout(coordinator, node, sawItGoFromMs, startMs) && faults.linkCleanThroughout(node, coordinator, sawItGoFromMs, startMs)
      // A put's target whose disk failed answers, but refuses to store: it may or may not count.
      if (kind === 'put' && !faults.writableThroughout(node, startMs, endMs)) known.set(node, 'unknown')
      else if (faults.upThroughout(node, fromMs, endMs) && linksClean(endMs)) known.set(node, 'answers')
      else if (faults.downThroughout(node, startMs - believedDownAfterMs, startMs) && sawItGo) known.set(node, 'believed-down')
      else known.set(node, 'unknown')
    }
    return known
  }
}

/** Checks 8 and 9; also answers how many requests the model said must succeed (a check that judges none checks nothing). */
export function checkAvailability(history: History, input: AvailabilityInput): {violations: Violation[]; judged: number} {
  const model = new AvailabilityModel(input)
  const violations: Violation[] = []
  let judged = 0
  for (const request of history.requests) {
    const what = `${request.kind} ${request.key} n=${request.n} ${request.kind === 'get' ? 'r' : 'w'}=${request.quorum} ${request.kind === 'get' ? 'pr' : 'pw'}=${request.homeQuorum} by ${request.client} via ${request.node} at ${request.startMs.toFixed(1)} ms`
    if (request.end === 'unanswered') {
      violations.push({check: 'unanswered', key: request.key, message: `${what} had no answer ${request.endMs === undefined ? '' : `${(request.endMs - request.startMs).toFixed(0)} ms `}later`, atMs: request.startMs})
      continue
    }
    const judgement = model.judge(request)
    if (!judgement.mustSucceed) continue
    judged += 1
    if (request.end === 'ok') continue
    violations.push({
      check: 'unavailable',
      key: request.key,
      message: `${what} failed (${request.detail ?? request.end}), although it had to succeed (${judgement.account})`,
      atMs: request.startMs,
    })
  }
  return {violations, judged}
}
