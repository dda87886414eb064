/**
 * Hinted handoff, the sending side (paper §4.6; Riak's handoff_sender): the node's scheduler
 * calls `round` every handoff interval, and for each target that has hints here and that the
 * failure detector sees as reachable, the hints are sent back in batches (HintDelivery). The
 * target merges each into its own copy (never overwriting what it has, see replica-server.ts)
 * and syncs it before answering; only then is each acknowledged hint removed, and only if no
 * newer write merged into it meanwhile. A hint the target refuses for good (its copy would pass
 * the size limit; a sibling count only from a node older than merges exempt from it) is dropped
 * and counted: keeping it would resend it every round, forever. Its write is still on the
 * replicas that acknowledged it, which the key keeps until someone resolves it.
 *
 * A target that is no longer a member (it left, or was removed) will never take its hints, and
 * a hint may be the only copy of an acknowledged write (w=1 on a fallback). Its hints go to each
 * key's home replicas under the ring as this node sees it instead (this node's own store when it
 * is one of them), in the same durable batches, and a hint is removed only once every one of
 * those homes acknowledged it (or refused it for good). A target that is leaving still gets its
 * hints: it hands its partitions off before it exits.
 *
 * A round that fails for a target (the request failed, the answer was malformed, or nothing of
 * a batch could be removed) puts the target in back-off (handoff-backoff.ts): from one handoff
 * interval, doubling, up to `handoffBackoffMaxMs`; a success, or the failure detector seeing the
 * target come back up after it was down, ends it. Times come from the injected Clock.
 *
 * Bounded: one round at a time, `batchesPerRoundMax` batches per target per round, at most
 * `hintDeliveryEntriesMax` hints and about `batchBytesMax` bytes per batch; the back-off state
 * is kept only for targets that have hints.
 */

import {createHash} from 'node:crypto'
import type {Clock} from '../clock.js'
import {findMember, statusOf} from '../membership/member-table.js'
import type {MemberTable} from '../membership/member-table.js'
import {preferenceList} from '../ring/ring.js'
import type {Ring} from '../ring/ring.js'
import {MessageType} from '../transport/message-type.js'
import type {Transport} from '../transport/transport.js'
import {afterFailure, handoffBackoffMaxMs, mayTry} from './handoff-backoff.js'
import type {HandoffBackoff} from './handoff-backoff.js'
import type {HintStore, PendingHint} from './hints.js'

/** Batches sent to one target in one round at most; the next round goes on. */
export const batchesPerRoundMax = 64
/** Bytes of hints in one batch at most (at least one hint), well below the 16 MiB frame limit. */
export const batchBytesMax = 4 * 1024 * 1024
/** How often the sender looks for targets that are back. */
export const handoffIntervalMsDefault = 1000

/** Codes a target refuses a hint with that another try cannot change: the hint is dropped. */
const permanentRefusals: ReadonlySet<string> = new Set(['too_many_siblings', 'object_too_large', 'bad_request'])

/** Whether hints for a node go to it, or (it left or was removed) to their keys' current homes. */
export type TargetStanding = 'member' | 'gone'

export interface HandoffDeps {
  /** This node's name: when it is a current home of a redirected hint, the hint merges here. */
  readonly self: string
  readonly hints: HintStore
  readonly transport: Transport
  readonly clock: Clock
  /** The first back-off wait: the handoff interval. */
  readonly backoffBaseMs: number
  /** The longest back-off wait; `handoffBackoffMaxMs` when absent. */
  readonly backoffMaxMs?: number
  /** Whether `name` is still a member that takes its own hints (joining, valid or leaving). */
  standingOf(name: string): TargetStanding
  /**
   * The rings whose homes a redirected hint goes to: the committed ring, and while a transition
   * runs the ring it moves to as well, so that a new home that has already scanned the
   * partition still gets the write (an old home that stops being one hands it off after).
   */
  homeRings(): readonly Ring[]
  /** The internode address of a member, or undefined when it is not (or no longer) one. */
  rpcAddressOf(name: string): string | undefined
  /** The failure detector's view: only reachable nodes are sent to. */
  isUp(name: string): boolean
  /** Merges a delivery into this node's own store, as a receiver of HintDelivery does, with its answer. */
  deliverToSelf(body: DeliveryBody): Promise<unknown>
  readonly requestTimeoutMs: number
  readonly batchEntriesMax: number
  readonly log: (line: string) => void
  /** Hints removed after their target (or, redirected, every current home) acknowledged them. */
  onDelivered?(target: string, count: number): void
  /** Of those delivered, the ones that went to current homes because the target is gone. */
  onRedirected?(target: string, count: number): void
  onDropped?(target: string, count: number): void
}

/** What HintDelivery carries, as the receiving side (src/coordinator/messages.ts) checks it. */
export interface DeliveryBody {
  readonly entries: ReadonlyArray<{readonly partition: number; readonly key: string; readonly object: PendingHint['object']}>
}

/** One node's answer to one batch: per entry 'ok' or a refusal code, or why there is none. */
type BatchAnswer = {readonly ok: true; readonly results: readonly unknown[]} | {readonly ok: false; readonly reason: string}

/** What one round did for one target. */
interface RoundOutcome {
  readonly removed: number
  /** The round ended on a failure (not on running out of hints or batches). */
  readonly failed: boolean
}

/** The answers a redirected hint has had: per home, true for acknowledged, false for refused for good. */
interface RedirectAck {
  /** Of the hint's stored bytes: a write merged into the hint since makes it another version. */
  readonly digest: string
  readonly answers: Map<string, boolean>
}

/** A target's back-off as GET /cluster shows it. */
export interface BackoffView {
  readonly failedRounds: number
  readonly retryInMs: number
}

export class HandoffSender {
  private running: Promise<void> | undefined
  private readonly backoffs = new Map<string, HandoffBackoff>()
  /** Nodes a round saw down (targets, and homes of redirected hints): seeing one up again ends back-offs. */
  private readonly seenDown = new Set<string>()
  /** Targets the last round found gone: a target that becomes gone starts without a back-off. */
  private readonly goneTargets = new Set<string>()
  /** Per gone target, per hint, which current homes have answered for which version of it. */
  private readonly redirectAcks = new Map<string, Map<string, RedirectAck>>()
  /** Per member target with hints, the rings (their owners) under which all its hints were last checked for keys it no longer homes. */
  private readonly strayScans = new Map<string, string>()

  constructor(private readonly deps: HandoffDeps) {}

  /** One round over every target with hints; a round still running is not started twice. */
  round(): Promise<void> {
    this.running ??= this.deliverAll().finally(() => {
      this.running = undefined
    })
    return this.running
  }

  /** The back-off of `target`, or undefined when it is tried every round. */
  backoffOf(target: string): BackoffView | undefined {
    const backoff = this.backoffs.get(target)
    if (backoff === undefined) return undefined
    return {failedRounds: backoff.failedRounds, retryInMs: Math.max(0, backoff.retryAtMs - this.deps.clock.monotonicMs())}
  }

  private async deliverAll(): Promise<void> {
    // Nodes back from down: whatever failed before may have been the outage itself. A target
    // that is back starts afresh, and so does every gone target, whose hints that node may be a home of.
    const cameBack = [...this.seenDown].filter((name) => this.deps.isUp(name))
    for (const name of cameBack) {
      this.seenDown.delete(name)
      this.backoffs.delete(name)
    }
    const ringsKey = this.deps
      .homeRings()
      .map((ring) => ring.owners.join(','))
      .join('|')
    for (const target of [...this.deps.hints.pendingByTarget().keys()]) {
      const gone = this.deps.standingOf(target) === 'gone'
      // Its hints now go elsewhere: what the target's own failures taught says nothing of its keys' homes.
      if (gone && (cameBack.length > 0 || !this.goneTargets.has(target))) this.backoffs.delete(target)
      if (gone) this.goneTargets.add(target)
      else this.goneTargets.delete(target)
      // Once per ring, whether the member is up, down or backing off: its hints for keys it is no
      // longer a home of go to their current homes now, not when it is next delivered to (they
      // may be a write's only copy, and the member need not come back for the key to have it).
      if (!gone && this.strayScans.get(target) !== ringsKey) {
        const strays = await this.redirect(target, 'no longer a home')
        if (!strays.failed) this.strayScans.set(target, ringsKey)
      }
      if (!gone && !this.deps.isUp(target)) {
        this.seenDown.add(target)
        continue
      }
      const triedAtMs = this.deps.clock.monotonicMs()
      if (!mayTry(this.backoffs.get(target), triedAtMs)) continue
      const outcome = gone ? await this.redirect(target, 'gone') : await this.deliverTo(target)
      // Counted from when the round tried, not from when it gave up: rounds come every interval,
      // and a wait counted from the end would always slip to the round after.
      if (outcome.failed && outcome.removed === 0) {
        this.backoffs.set(target, afterFailure(this.backoffs.get(target), triedAtMs, this.deps.backoffBaseMs, this.deps.backoffMaxMs ?? handoffBackoffMaxMs))
      } else {
        this.backoffs.delete(target)
      }
    }
    // The state is kept only for targets that still have hints here.
    for (const target of [...this.backoffs.keys()]) if (this.deps.hints.pendingFor(target) === 0) this.backoffs.delete(target)
    for (const target of [...this.redirectAcks.keys()]) if (this.deps.hints.pendingFor(target) === 0) this.redirectAcks.delete(target)
    for (const target of [...this.goneTargets]) if (this.deps.hints.pendingFor(target) === 0) this.goneTargets.delete(target)
    for (const target of [...this.strayScans.keys()]) if (this.deps.hints.pendingFor(target) === 0) this.strayScans.delete(target)
    // Down nodes are remembered while they have hints here or are a home in some ring: bounded by the members.
    const ringMembers = new Set(this.deps.homeRings().flatMap((ring) => ring.members))
    for (const name of [...this.seenDown]) if (this.deps.hints.pendingFor(name) === 0 && !ringMembers.has(name)) this.seenDown.delete(name)
  }

  /**
   * Batches to one target until it has no hints left, a batch fails, or the round's bound. Hints
   * for keys the target is no longer a home of under this node's rings (it lost their partition
   * while this node was away: a member given up during a ring change, whose transfers went on
   * without its hints) are not sent to it, which would refuse them (replica-server.ts): the
   * target's stray scan (deliverAll) hands them to the keys' current homes, and one met here,
   * which that scan left behind or which came after it, has the next round scan again.
   */
  private async deliverTo(target: string): Promise<RoundOutcome> {
    let removed = 0
    let after: PendingHint | undefined
    for (let batchIndex = 0; batchIndex < batchesPerRoundMax; batchIndex += 1) {
      const page = await this.deps.hints.batch(target, this.deps.batchEntriesMax, batchBytesMax, after)
      if (page.length === 0) break
      after = page[page.length - 1]
      const rings = this.deps.homeRings()
      const batch = page.filter((hint) => isHomeIn(rings, hint, target))
      if (batch.length < page.length) this.strayScans.delete(target)
      if (batch.length === 0) continue
      const answer = await this.send(target, batch)
      if (!answer.ok) {
        this.deps.log(`handoff of ${batch.length} hint(s) to ${target} failed (${answer.reason}); retrying later`)
        return {removed, failed: true}
      }
      const acknowledged = batch.filter((_, index) => answer.results[index] === 'ok')
      const refused = batch.filter((_, index) => isPermanentRefusal(answer.results[index]))
      const delivered = await this.deps.hints.remove(target, acknowledged)
      if (delivered > 0) this.deps.onDelivered?.(target, delivered)
      removed += delivered + (await this.dropRefused(target, refused))
      // Nothing left that this batch could remove (all changed meanwhile, or refused for now): stop, a later round retries.
      if (acknowledged.length + refused.length === 0) {
        // Said, with the target's codes: not_home, say, from a target whose ring is ahead of this node's.
        const codes = [...new Set(answer.results.map(String))].slice(0, 3).join(', ')
        this.deps.log(`handoff of ${batch.length} hint(s) to ${target}: none taken (${codes}); retrying later`)
        return {removed, failed: true}
      }
    }
    return {removed, failed: false}
  }

  /**
   * Hints for a target that is gone (or, `why` 'no longer a home', those of a member's hints whose
   * keys it is no longer a home of), to each key's current homes: every home that is up is sent
   * the batch's hints it is a home of and has not acknowledged yet, and a hint is removed once
   * all its homes acknowledged it (or refused it for good). Acknowledgements are remembered
   * between rounds, per version of the hint, so a home that is down holds back only its own
   * keys and costs the others nothing more. The round pages past hints it cannot remove yet.
   * One log line per round says what moved.
   */
  private async redirect(target: string, why: 'gone' | 'no longer a home'): Promise<RoundOutcome> {
    let removed = 0
    let redirected = 0
    const failures = new Set<string>()
    const reached = new Set<string>()
    const acks = this.redirectAcks.get(target) ?? new Map<string, RedirectAck>()
    this.redirectAcks.set(target, acks)
    let after: PendingHint | undefined
    for (let batchIndex = 0; batchIndex < batchesPerRoundMax; batchIndex += 1) {
      const page = await this.deps.hints.batch(target, this.deps.batchEntriesMax, batchBytesMax, after)
      if (page.length === 0) break
      after = page[page.length - 1]
      const rings = this.deps.homeRings()
      // A member's hints for keys it is still a home of are its own to take (deliverTo).
      const batch = why === 'gone' ? page : page.filter((hint) => !isHomeIn(rings, hint, target))
      if (batch.length === 0) continue
      const pending = batch.map((hint) => {
        const homes = currentHomes(rings, hint.partition, hint.object.n).filter((home) => home !== target)
        const known = acks.get(hintId(hint))
        // An acknowledgement counts only for the version it was given for: a write merged since is sent again.
        const answered = known !== undefined && known.digest === digestOf(hint.raw) ? known : {digest: digestOf(hint.raw), answers: new Map<string, boolean>()}
        return {hint, homes, answered}
      })
      const verdicts = await this.askHomes(batch, pending.map(({homes, answered}) => homes.filter((home) => !answered.answers.has(home))))
      const acknowledged: PendingHint[] = []
      const refused: PendingHint[] = []
      pending.forEach(({hint, homes, answered}, index) => {
        for (const home of homes) {
          const answer = verdicts.get(home)?.get(index)
          if (answer === 'ok' || isPermanentRefusal(answer)) answered.answers.set(home, answer === 'ok')
          else if (answer !== undefined) failures.add(`${home}: ${answer}`)
        }
        acks.set(hintId(hint), answered)
        if (homes.length === 0 || !homes.every((home) => answered.answers.has(home))) return
        if ([...answered.answers.values()].includes(true)) acknowledged.push(hint)
        else refused.push(hint)
      })
      for (const [home, answers] of verdicts) if ([...answers.values()].includes('ok')) reached.add(home)
      const delivered = await this.deps.hints.remove(target, acknowledged)
      if (delivered > 0) {
        this.deps.onDelivered?.(target, delivered)
        this.deps.onRedirected?.(target, delivered)
      }
      redirected += delivered
      removed += delivered + (await this.dropRefused(target, refused))
      // Removed, or changed meanwhile (then every home is asked again): either way its answers are spent.
      for (const hint of [...acknowledged, ...refused]) acks.delete(hintId(hint))
    }
    const left = this.deps.hints.pendingFor(target)
    if (left === 0) this.redirectAcks.delete(target)
    if (redirected > 0 || failures.size > 0) {
      const where = reached.size > 0 ? ` to their current homes (${[...reached].sort().join(', ')})` : ''
      const outcome = failures.size === 0 ? '' : `; not delivered to ${[...failures].slice(0, 3).join(', ')}, retrying later`
      const standing = why === 'gone' ? 'is no longer a member' : 'is no longer a home of some of its hints\' keys'
      this.deps.log(`${target} ${standing}: redirected ${redirected} of its hint(s)${where}, ${left} left${outcome}`)
    }
    // Only failed requests back off: a hint waiting for a home seen down costs no request.
    return {removed, failed: failures.size > 0}
  }

  /**
   * Each home's answer per batch index, for the hints it is asked about; a home seen down is not
   * asked (and remembered, so its return ends the back-offs).
   */
  private async askHomes(batch: readonly PendingHint[], homesPerHint: ReadonlyArray<readonly string[]>): Promise<Map<string, Map<number, string>>> {
    const indicesPerHome = new Map<string, number[]>()
    homesPerHint.forEach((homes, index) => {
      for (const home of homes) indicesPerHome.set(home, [...(indicesPerHome.get(home) ?? []), index])
    })
    const verdicts = new Map<string, Map<number, string>>()
    await Promise.all(
      [...indicesPerHome].map(async ([home, indices]) => {
        if (home !== this.deps.self && !this.deps.isUp(home)) {
          this.seenDown.add(home)
          return
        }
        const answer = await this.send(home, indices.map((index) => batch[index]!))
        const perIndex = new Map<number, string>()
        // A failed request is marked apart from the codes in an answer: it never drops a hint.
        indices.forEach((index, position) => perIndex.set(index, answer.ok ? String(answer.results[position]) : `failed (${answer.reason})`))
        verdicts.set(home, perIndex)
      }),
    )
    return verdicts
  }

  /** One batch to one node (this node's own store when it is `self`), and its answer checked. */
  private async send(node: string, batch: readonly PendingHint[]): Promise<BatchAnswer> {
    const body: DeliveryBody = {entries: batch.map(({partition, key, object}) => ({partition, key, object}))}
    let answerBody: unknown
    if (node === this.deps.self) {
      try {
        answerBody = await this.deps.deliverToSelf(body)
      } catch (error) {
        return {ok: false, reason: (error as {code?: string}).code ?? (error as Error).message}
      }
    } else {
      const address = this.deps.rpcAddressOf(node)
      if (address === undefined) return {ok: false, reason: 'not a member'}
      if (!this.deps.isUp(node)) return {ok: false, reason: 'down'}
      const answer = await this.deps.transport.request(address, MessageType.HintDelivery, body, this.deps.requestTimeoutMs)
      if (!answer.ok) return {ok: false, reason: answer.code ?? answer.error}
      answerBody = answer.body
    }
    const results = (answerBody as {results?: unknown} | null)?.results
    if (!Array.isArray(results) || results.length !== batch.length) return {ok: false, reason: 'malformed answer'}
    return {ok: true, results}
  }

  /** Removes the hints refused for good, logs and counts them; answers how many were removed. */
  private async dropRefused(target: string, refused: readonly PendingHint[]): Promise<number> {
    if (refused.length === 0) return 0
    const dropped = await this.deps.hints.remove(target, refused)
    this.deps.log(`the homes of ${refused.length} hint(s) for ${target} refused them for good (${refused.map((hint) => hint.key).slice(0, 5).join(', ')}); dropped ${dropped}`)
    if (dropped > 0) this.deps.onDropped?.(target, dropped)
    return dropped
  }
}

function hintId(hint: Pick<PendingHint, 'partition' | 'key'>): string {
  return `${hint.partition}/${hint.key}`
}

function digestOf(raw: Buffer): string {
  return createHash('sha1').update(raw).digest('base64')
}

function isPermanentRefusal(result: unknown): boolean {
  return typeof result === 'string' && permanentRefusals.has(result)
}

/**
 * Whether hints for `name` still go to it, by this node's member table: a member that left, or
 * that a transition removes, or that no ring (committed or next) has any more and is not
 * joining, is gone. A leaving member stays one until the ring it leaves is installed: it hands
 * its partitions off before it exits.
 */
export function standingIn(table: MemberTable, name: string): TargetStanding {
  const member = findMember(table, name)
  if (member === undefined || statusOf(table, member) === 'left') return 'gone'
  // A member the running transition removes is gone already: it takes no part in it.
  return table.ring?.next?.removing.includes(name) === true ? 'gone' : 'member'
}

/** Whether `node` is one of a hint's key's homes under any of `rings` (its partition, its object's n). */
function isHomeIn(rings: readonly Ring[], hint: PendingHint, node: string): boolean {
  return currentHomes(rings, hint.partition, hint.object.n).includes(node)
}

/** A partition's home replicas for `n` under each of `rings`, each once: the first n of each preference list. */
export function currentHomes(rings: readonly Ring[], partition: number, n: number): string[] {
  const homes = new Set<string>()
  for (const ring of rings) for (const home of preferenceList(ring, partition).slice(0, n)) homes.add(home)
  return [...homes]
}
