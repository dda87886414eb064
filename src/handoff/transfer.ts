/**
 * Ownership transfer (paper §4.9; Riak's handoff, Cassandra's streaming): while a ring
 * transition runs, each node fetches the partitions it is about to become a home replica of
 * (for some n in use: transfer-plan.ts), page by page, from every old home that is still there,
 * asking only for the objects whose n makes it a home, and merges each object into its own
 * copy with `sync` (so a transferred version never overwrites a newer or concurrent one). Once a
 * partition is in from every source, the node reports it in its member row; the claimant
 * installs the new ring when every planned transfer is reported.
 *
 * Why a transfer may start only when it does: writes reach the new homes only once their
 * coordinator knows the transition, so a node waits until every member's row says it has seen
 * it, plus one request timeout for writes already under way, before it scans. After that every
 * acknowledged write is either in a source's copy when the scan passes, or sent to this node too.
 *
 * Hints are sources too: a new home first pages through the hints every member keeps in the
 * partition (for any target), since a fallback's hint may be the only surviving replica of
 * an acknowledged write once the home that also took it is removed.
 *
 * Resumable: after each page the position (`afterKey`) is written to the node's metadata, after
 * the merged objects (one LevelDB log, so a synced cursor means the objects before it are on
 * disk); a restarted receiver continues from there; a source that fails is asked again on a
 * later round. Bounded: at most `concurrentTransfersMax` partitions are received at once per
 * node, and a node serves at most `transfersServedMax` pages at once (more are refused as
 * overloaded and retried).
 */

import type {Clock} from '../clock.js'
import {DynError} from '../errors.js'
import type {MemberTable} from '../membership/member-table.js'
import {givenUpMembers, isLeaving} from '../membership/claimant-core.js'
import {findMember, hasReceived, nextRingOf, presentMembers, replicaCountsInUse, ringOf} from '../membership/member-table.js'
import type {Membership} from '../membership/membership.js'
import {partitionOfKey} from '../ring/partition.js'
import type {Store} from '../storage/store.js'
import {scanPageMax} from '../storage/store.js'
import type {StoredObject} from '../storage/stored-object.js'
import {entryBytes, objectValueBytes, replicasPerKeyMax} from '../storage/stored-object.js'
import {MessageType} from '../transport/message-type.js'
import type {Transport} from '../transport/transport.js'
import type {PlannedTransfer, ReplicaCountRange} from './transfer-plan.js'
import {TransferPace} from './transfer-pace.js'
import {inReplicaCountRange, planTransfers} from './transfer-plan.js'
import {hintsOfPartition} from './hints.js'

/** Keys per page: large enough to amortise a round trip, small enough to keep a page's merges short. */
export const transferPageKeys = 256
/** A page stops growing past this many value bytes, so that it always fits one frame (16 MiB). */
export const transferPageBytesMax = 4 * 1024 * 1024
/** Partitions a node receives at once. */
export const concurrentTransfersMax = 2
/** Pages a node serves at once; more are refused with overloaded and asked again later. */
export const transfersServedMax = 4
/** One page request's budget. */
export const transferPageTimeoutMs = 10_000
/** How often a node looks for transfers to start. */
export const transferIntervalMs = 500
/** Pages fetched from one source in one run; a larger partition continues in the next run. */
export const transferPagesPerRunMax = 10_000
/**
 * How long transfers may go without a page before they count as stalled, when no source is known
 * to be down or failing: one page's budget, since a source that has not answered by then has failed.
 */
export const transferStallMs = transferPageTimeoutMs

export interface TransferPageBody {
  readonly partition: number
  readonly afterKey?: string
  readonly limit: number
  /** Only objects whose n lies in this range are sent (absent: every object). */
  readonly replicaCounts?: ReplicaCountRange
  /** A page of the hints the source keeps in the partition, for any target, after `afterHint`, in place of its objects. */
  readonly hints?: boolean
  readonly afterHint?: HintPosition
}

/** Where a page of hints ended: hints are kept per target, then key. */
export interface HintPosition {
  readonly target: string
  readonly key: string
}

export interface TransferPageAnswer {
  readonly objects: ReadonlyArray<{readonly key: string; readonly object: StoredObject}>
  readonly more: boolean
  /**
   * The last key the page covered, sent or skipped: where the next page starts. Objects outside
   * the n range are skipped, so a page may send none and still not be the last.
   */
  readonly lastKey?: string
  /** A page of hints: the last hint it covered. */
  readonly lastHint?: HintPosition
}

export interface TransferDeps {
  readonly self: string
  readonly store: Store
  readonly transport: Transport
  readonly clock: Clock
  readonly membership: Membership
  /** The longest a write already under way may take: transfers wait that long after every member has seen the transition. */
  readonly requestTimeoutMs: number
  /** Merges an incoming object into this node's copy (the replica's merge, injected from the coordinator layer). */
  mergeObject(partition: number, key: string, object: StoredObject): Promise<{ok: true} | {ok: false; message: string}>
  /** Checks an object from the network. */
  isStoredObject(x: unknown): x is StoredObject
  /** The failure detector's opinion of a member (false only when it sees it down): says which sources hold transfers up. */
  isUp?(name: string): boolean
  log(line: string): void
}

interface Cursor {
  readonly afterKey?: string
  readonly afterHint?: HintPosition
  readonly done: boolean
}

interface ActiveTransfer {
  readonly partition: number
  readonly startedMs: number
  source: string
  keys: number
  bytes: number
}

export interface TransferSnapshot {
  readonly transition: string | undefined
  /** Transfers this node receives in the running transition, and how many it has finished. */
  readonly total: number
  readonly done: number
  readonly keysReceived: number
  readonly bytesReceived: number
  readonly active: ReadonlyArray<{partition: number; source: string; keys: number; bytes: number; elapsedMs: number}>
  /** Remaining transfers times the mean time per finished one; undefined before the first finishes, and while they are stalled. */
  readonly etaMs: number | undefined
  /** How long this node's transfers have gone without a page, once that is at least transferStallMs or a source they need is down or failing. */
  readonly stalledMs?: number
  /** Transfers of the whole cluster the claimant still waits for (as this node's table shows). */
  readonly clusterOutstanding: number
  /** Why nothing moves yet, or what holds the transfers up (a source down, or failing), when something does. */
  readonly waitingFor?: string
}

function cursorName(transition: string, partition: number, source: string, hints = false): string {
  return `transfer.${transition}.${partition}.${hints ? 'hints.' : ''}${source}`
}

/** The planned transfers of the table's running transition, for every n its members store. */
export function transfersOfTable(table: MemberTable): PlannedTransfer[] {
  const next = table.ring?.next
  const after = nextRingOf(table)
  if (next === undefined || after === undefined) return []
  return planTransfers(ringOf(table), after, replicaCountsInUse(table), new Set(next.removing))
}

export class TransferManager {
  private readonly active = new Map<number, ActiveTransfer>()
  private readonly running = new Set<Promise<void>>()
  private served = 0
  private allSeen: {transition: string; atMs: number} | undefined
  private stats = {transition: '', keys: 0, bytes: 0, pace: new TransferPace(0, transferStallMs)}
  /** The last failure of each source this node could not page (cleared by its next page): what a stall is waiting for. */
  private readonly failingSources = new Map<string, string>()
  private stopped = false

  constructor(private readonly deps: TransferDeps) {}

  /** One round: start the transfers this node still needs, up to the bound. */
  async tick(): Promise<void> {
    if (this.stopped) return
    const table = this.deps.membership.table
    const next = table.ring?.next
    if (next === undefined) return
    if (this.stats.transition !== next.id) {
      const now = this.deps.clock.monotonicMs()
      this.stats = {transition: next.id, keys: 0, bytes: 0, pace: new TransferPace(now, transferStallMs)}
      this.failingSources.clear()
    }
    if (this.waitingFor(table) !== undefined) {
      // Waiting for a reason the snapshot names is no stall: the stall clock starts when the scans may.
      this.stats.pace.waiting(this.deps.clock.monotonicMs())
      return
    }
    for (const transfer of this.pending(table)) {
      if (this.active.size >= concurrentTransfersMax) break
      if (this.active.has(transfer.partition)) continue
      const record: ActiveTransfer = {partition: transfer.partition, startedMs: this.deps.clock.monotonicMs(), source: transfer.sources[0] ?? '', keys: 0, bytes: 0}
      this.active.set(transfer.partition, record)
      const run = this.receive(next.id, transfer, record)
        .catch((error: Error) => {
          this.deps.log(`transfer of partition ${transfer.partition} failed for now: ${error.message}`)
          return false
        })
        .then((received) => {
          this.active.delete(transfer.partition)
          this.running.delete(run)
          // After a success the next partition starts at once, not at the next round (a join
          // moves many); after a failure it waits for the next round, so a dead source costs
          // one attempt per round rather than a busy loop.
          if (received && !this.stopped) void this.tick().catch(() => undefined)
        })
      this.running.add(run)
    }
  }

  /** Stop starting transfers and wait for those under way to finish their current page. */
  async stop(): Promise<void> {
    this.stopped = true
    await Promise.all([...this.running])
  }

  /** The source side: one page of a partition, in key order after `afterKey`. */
  async serve(body: unknown): Promise<TransferPageAnswer> {
    const request = body as Partial<TransferPageBody> | null
    const partitionCount = this.deps.membership.table.settings.partitionCount
    if (
      request === null || typeof request !== 'object' ||
      !Number.isInteger(request.partition) || (request.partition as number) < 0 || (request.partition as number) >= partitionCount ||
      !Number.isInteger(request.limit) || (request.limit as number) < 1 || (request.limit as number) > scanPageMax ||
      (request.afterKey !== undefined && typeof request.afterKey !== 'string') ||
      (request.replicaCounts !== undefined && !isReplicaCountRange(request.replicaCounts)) ||
      (request.hints !== undefined && typeof request.hints !== 'boolean') ||
      (request.afterHint !== undefined && !isHintPosition(request.afterHint))
    ) {
      throw new DynError('bad_request', 'malformed TransferPage')
    }
    if (this.served >= transfersServedMax) throw new DynError('overloaded', `${this.deps.self} is serving ${transfersServedMax} transfer pages; ask again later`)
    this.served += 1
    try {
      if (request.hints === true) return await this.serveHints(request as TransferPageBody)
      const page = await this.deps.store.scanPartition(request.partition as number, request.afterKey, request.limit as number)
      const range = request.replicaCounts
      const objects: Array<{key: string; object: StoredObject}> = []
      let bytes = 0
      let covered = 0
      for (const entry of page) {
        if (range === undefined || inReplicaCountRange(range, entry.object.n)) {
          const size = entryBytes(entry)
          if (objects.length > 0 && bytes + size > transferPageBytesMax) break
          objects.push(entry)
          bytes += size
        }
        covered += 1
      }
      const lastKey = page[covered - 1]?.key
      return {objects, more: covered < page.length || page.length === request.limit, ...(lastKey === undefined ? {} : {lastKey})}
    } finally {
      this.served -= 1
    }
  }

  /** A page of the hints this node keeps in a partition (for any target), those whose n is in the range. */
  private async serveHints(request: TransferPageBody): Promise<TransferPageAnswer> {
    const page = await hintsOfPartition(this.deps.store, request.partition, request.afterHint, request.limit)
    const objects: Array<{key: string; object: StoredObject}> = []
    let bytes = 0
    let covered = 0
    for (const hint of page.hints) {
      if (request.replicaCounts === undefined || inReplicaCountRange(request.replicaCounts, hint.object.n)) {
        const size = entryBytes(hint)
        if (objects.length > 0 && bytes + size > transferPageBytesMax) break
        objects.push({key: hint.key, object: hint.object})
        bytes += size
      }
      covered += 1
    }
    const last = page.hints[covered - 1]
    return {objects, more: covered < page.hints.length || page.more, ...(last === undefined ? {} : {lastHint: {target: last.target, key: last.key}})}
  }

  snapshot(): TransferSnapshot {
    const table = this.deps.membership.table
    const next = table.ring?.next
    const all = transfersOfTable(table)
    const mine = all.filter((transfer) => transfer.target === this.deps.self)
    const done = next === undefined ? 0 : mine.filter((transfer) => hasReceived(table, this.deps.self, next.id, transfer.partition, transfer.sourcesForN)).length
    const now = this.deps.clock.monotonicMs()
    const outstanding = next === undefined ? 0 : all.filter((transfer) => !hasReceived(table, transfer.target, next.id, transfer.partition, transfer.sourcesForN)).length
    const startWait = next === undefined ? undefined : this.waitingFor(table)
    const holdUp = next === undefined || startWait !== undefined ? undefined : this.heldUpBy(table)
    const sinceProgressMs = this.stats.pace.sinceProgressMs(now)
    // A transfer that waits for a source down, or failing, makes no progress however long the
    // ETA's mean is: the ETA would count down (or climb) as if it moved. Stalled, it is not shown.
    const stalled = next !== undefined && startWait === undefined && done < mine.length && this.stats.transition === next.id && (holdUp !== undefined || sinceProgressMs >= transferStallMs)
    const waitingFor = startWait ?? holdUp
    return {
      transition: next?.id,
      total: mine.length,
      done,
      keysReceived: next !== undefined && this.stats.transition === next.id ? this.stats.keys : 0,
      bytesReceived: next !== undefined && this.stats.transition === next.id ? this.stats.bytes : 0,
      active: [...this.active.values()].map((a) => ({partition: a.partition, source: a.source, keys: a.keys, bytes: a.bytes, elapsedMs: now - a.startedMs})),
      etaMs: stalled || this.stats.transition !== next?.id ? undefined : this.stats.pace.etaMs(now, mine.length - done),
      ...(stalled ? {stalledMs: sinceProgressMs} : {}),
      clusterOutstanding: outstanding,
      ...(waitingFor === undefined ? {} : {waitingFor}),
    }
  }

  /**
   * Members of the ring this transition makes whose removal is staged and that this node sees
   * down (givenUpMembers, claimant-core.ts; leavers keep their own commit path). The operator
   * gave up what only they hold (`dyn cluster remove`, as riak-admin cluster force-remove), so
   * the transfers under way take their partitions from the other sources and hint holders rather
   * than wait for them, as the removal's own transition will: a staying member lost for good
   * during a join held that join up until it came back, and its removal could not be committed
   * meanwhile. One that is up is paged as usual, and its removal is committed after the install.
   */
  private givenUp(table: MemberTable): Set<string> {
    return givenUpMembers(table.ring, (name) => this.deps.isUp?.(name) !== false)
  }

  /**
   * What holds this node's remaining transfers up, when it knows: the members they must page
   * (every hint holder, then the partition's sources) that its failure detector sees down, or
   * whose last page request failed. Each is named with how many partitions wait for it, and a
   * leaving member that is down with the way out should its machine be lost for good (a removal,
   * which replaces the leave: claimant-core.ts). Undefined when nothing is known to hold them up.
   */
  private heldUpBy(table: MemberTable): string | undefined {
    const pending = this.pending(table)
    if (pending.length === 0) return undefined
    const holders = hintHolders(table)
    const givenUp = this.givenUp(table)
    const waits = new Map<string, number>()
    for (const transfer of pending) {
      for (const name of new Set([...holders, ...transfer.sources])) if (name !== this.deps.self && !givenUp.has(name)) waits.set(name, (waits.get(name) ?? 0) + 1)
    }
    const state = table.ring
    const reasons: string[] = []
    for (const [name, partitions] of [...waits].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const count = `${partitions} partition(s)`
      if (this.deps.isUp?.(name) === false) {
        const lost =
          state !== undefined && isLeaving(state, name)
            ? `; it is leaving: if its machine is lost for good, dyn cluster remove ${name}`
            : `; they go on once it is back, or without it once its removal is staged: if its machine is lost for good, dyn cluster remove ${name}`
        reasons.push(`${name} down (needed for ${count}${lost})`)
        continue
      }
      const failure = this.failingSources.get(name)
      if (failure !== undefined) reasons.push(`${name} does not serve its pages (needed for ${count}): ${failure}`)
    }
    return reasons.length === 0 ? undefined : reasons.join('; ')
  }

  /**
   * Why transfers cannot start yet, or undefined when they can: every member that routes
   * requests must have seen the transition, and a request timeout must have passed since.
   */
  private waitingFor(table: MemberTable): string | undefined {
    const next = table.ring?.next
    if (next === undefined) return undefined
    const removing = new Set(next.removing)
    // A member given up (its removal staged, down) routes nothing while it is down. Should it come
    // back before its removal is committed, a write it coordinates before it learns the transition
    // reaches the old homes only, and the release after the install hands those copies on.
    const givenUp = this.givenUp(table)
    const routers = presentMembers(table).filter((member) => !removing.has(member.name) && !givenUp.has(member.name))
    // One that is down says so (it sees the transition only once it is back), with the way out
    // should it be lost for good: its removal staged, the transfers no longer wait for it (givenUp).
    const unaware = routers
      .filter((member) => member.seenTransition !== next.id)
      .map((member) => (this.deps.isUp?.(member.name) === false ? `${member.name} (down; if its machine is lost for good, dyn cluster remove ${member.name})` : member.name))
    if (unaware.length > 0) {
      this.allSeen = undefined
      return `members that have not seen the transition yet: ${unaware.join(', ')}`
    }
    const now = this.deps.clock.monotonicMs()
    if (this.allSeen?.transition !== next.id) this.allSeen = {transition: next.id, atMs: now}
    if (now - this.allSeen.atMs < this.deps.requestTimeoutMs) return 'writes started before the transition was seen to finish'
    return undefined
  }

  private pending(table: MemberTable): PlannedTransfer[] {
    const next = table.ring?.next
    if (next === undefined) return []
    return transfersOfTable(table).filter((transfer) => transfer.target === this.deps.self && !hasReceived(table, this.deps.self, next.id, transfer.partition, transfer.sourcesForN))
  }

  /**
   * Fetch the hints every member keeps in one partition, then the partition from each of its
   * sources, then report it received; false when a holder or a source failed.
   *
   * Why the hints: with W < n an acknowledged write may survive only on one home and on a
   * fallback's hint for another (the homes down when it was written). Should that home be
   * removed, its copy is gone, and the hint reaches the old home it names only when that home
   * is back, possibly after this scan, and after the install nothing copies it here (seeds
   * 2120, 2273). A hint is a surviving replica like a source's copy, so it is fetched like one.
   * Hints first: a hint handed back to its home (a source) after its holder was paged is in
   * that source's copy when the source is paged after.
   */
  private async receive(transition: string, transfer: PlannedTransfer, record: ActiveTransfer): Promise<boolean> {
    const without = new Set<string>()
    const skips = (name: string): boolean => {
      if (!this.givenUp(this.deps.membership.table).has(name)) return false
      without.add(name)
      return true
    }
    for (const holder of hintHolders(this.deps.membership.table)) {
      if (skips(holder)) continue
      record.source = `${holder} (hints)`
      const finished = await this.fetchFrom(transition, transfer, holder, record, true)
      if (!finished) return false
    }
    for (const source of transfer.sources) {
      if (skips(source)) continue
      record.source = source
      const finished = await this.fetchFrom(transition, transfer, source, record)
      if (!finished) return false
    }
    if (this.stopped || this.deps.membership.table.ring?.next?.id !== transition) return false
    const table = this.deps.membership.table
    const row = findMember(table, this.deps.self)?.received
    const through = new Map<number, number>()
    if (row?.transition === transition) row.partitions.forEach((partition, i) => through.set(partition, row.through?.[i] ?? table.settings.defaultN))
    through.set(transfer.partition, Math.max(transfer.sourcesForN, through.get(transfer.partition) ?? 0))
    const partitions = [...through.keys()].sort((a, b) => a - b)
    this.deps.membership.updateOwnRow({received: {transition, partitions, through: partitions.map((partition) => through.get(partition) as number)}})
    this.stats.pace.finish(this.deps.clock.monotonicMs())
    const sources = transfer.sources.filter((source) => !without.has(source))
    const from = sources.length > 0 ? ` and ${sources.join(', ')}` : transfer.sources.length === 0 ? ' and no source (every old home removed)' : ''
    const skipped = without.size === 0 ? '' : ` (without ${[...without].sort().join(', ')}: down, ${without.size === 1 ? 'its removal' : 'their removals'} staged)`
    this.deps.log(`received partition ${transfer.partition} from the members' hints${from}${skipped}: ${record.keys} keys`)
    return true
  }

  /**
   * Pages from one source until it has no more; false when the source failed (asked again later).
   * The cursor needs no n range in its name: a partition has one transfer per target in a
   * transition, and its range is fixed by the two rings; an n that turns up later only adds
   * sources, each with a cursor of its own.
   */
  private async fetchFrom(transition: string, transfer: PlannedTransfer, source: string, record: ActiveTransfer, hints = false): Promise<boolean> {
    const partition = transfer.partition
    const name = cursorName(transition, partition, source, hints)
    let cursor: Cursor = (await this.deps.store.getMeta<Cursor>(name)) ?? {done: false}
    if (cursor.done) return true
    const address = findMember(this.deps.membership.table, source)?.rpcAddress
    if (address === undefined) {
      this.failingSources.set(source, 'its address is unknown here')
      return false
    }
    // A source this node sees down is asked again once it is up, not now: among the reasons it
    // can be down is a node of another cluster answering at its address (heartbeats.ts), whose
    // pages would be counted as the member's (a new user's walk saw a leave take them).
    if (source !== this.deps.self && this.deps.isUp?.(source) === false) {
      this.failingSources.set(source, 'it is down')
      return false
    }
    const partitionCount = this.deps.membership.table.settings.partitionCount
    for (let page = 0; page < transferPagesPerRunMax; page++) {
      if (this.stopped) return false
      const position = hints ? (cursor.afterHint === undefined ? {} : {afterHint: cursor.afterHint}) : cursor.afterKey === undefined ? {} : {afterKey: cursor.afterKey}
      const body: TransferPageBody = {partition, limit: transferPageKeys, replicaCounts: fetchedReplicaCounts(transfer), ...(hints ? {hints: true} : {}), ...position}
      // This node's own hints are read here, as a source would serve them.
      const answer = source === this.deps.self ? await this.serve(body).then((page) => ({ok: true as const, body: page as unknown}), (error: Error) => ({ok: false as const, message: error.message})) : await this.deps.transport.request(address, MessageType.TransferPage, body, transferPageTimeoutMs)
      if (!answer.ok) {
        this.failingSources.set(source, answer.message)
        return false
      }
      this.failingSources.delete(source)
      this.stats.pace.progress(this.deps.clock.monotonicMs())
      const checked = checkedPage(answer.body, partition, partitionCount, this.deps.isStoredObject)
      if (checked === undefined) throw new DynError('bad_request', `${source} answered a transfer page with something that is not one`)
      // A page's keys are distinct, so their merges may run at once: the store commits them as
      // one batch, where merging one after another paid a commit per key.
      const merges = await Promise.all(checked.objects.map(async ({key, object}) => ({key, merged: await this.deps.mergeObject(partition, key, object)})))
      for (const {key, merged} of merges) if (!merged.ok) this.deps.log(`transfer: ${key} not merged: ${merged.message}`)
      for (const {object} of checked.objects) {
        record.keys += 1
        record.bytes += objectValueBytes(object)
        this.stats.keys += 1
        this.stats.bytes += objectValueBytes(object)
      }
      cursor = hints ? {afterHint: checked.lastHint ?? cursor.afterHint, done: !checked.more} : {afterKey: checked.lastKey ?? checked.objects.at(-1)?.key ?? cursor.afterKey, done: !checked.more}
      await this.deps.store.putMeta(name, cursor)
      if (cursor.done) return true
    }
    return false
  }
}

function checkedPage(body: unknown, partition: number, partitionCount: number, isStoredObject: (x: unknown) => x is StoredObject): TransferPageAnswer | undefined {
  const page = body as Partial<TransferPageAnswer> | null
  if (page === null || typeof page !== 'object' || !Array.isArray(page.objects) || typeof page.more !== 'boolean') return undefined
  if (page.objects.length > scanPageMax) return undefined
  if (page.lastKey !== undefined && (typeof page.lastKey !== 'string' || partitionOfKey(page.lastKey, partitionCount) !== partition)) return undefined
  if (page.lastHint !== undefined && (!isHintPosition(page.lastHint) || partitionOfKey(page.lastHint.key, partitionCount) !== partition)) return undefined
  for (const entry of page.objects) {
    if (typeof entry?.key !== 'string' || partitionOfKey(entry.key, partitionCount) !== partition || !isStoredObject(entry.object)) return undefined
  }
  return page as TransferPageAnswer
}

/**
 * The n of the objects a transfer asks its sources for: every n of which the target is a home
 * in the new ring, not only those it becomes a home of. A source knows a key's n from its own
 * copy, which may lag (n is the largest any write gave the key, and a replica that missed the
 * larger write holds a smaller one), so the objects the target already was a home of come too,
 * as every object of the partition did before transfers knew of n: the target catches up on
 * any it lacks. Objects whose n makes the target no home at all are left out. For the default
 * N alone nothing changes: no object has an n above the range.
 */
function fetchedReplicaCounts(transfer: PlannedTransfer): ReplicaCountRange {
  return {above: transfer.replicaCounts.above, through: replicasPerKeyMax}
}

/**
 * The members whose hints a receiver fetches: every member of the committed or the next ring
 * that the transition does not remove (a removed node's hints are gone with it), this node
 * included. A member of neither (a join not committed) is in no preference list, so it was
 * never a fallback.
 */
export function hintHolders(table: MemberTable): string[] {
  const ring = table.ring
  if (ring === undefined) return []
  const removing = new Set(ring.next?.removing ?? [])
  return [...new Set([...ring.members, ...(ring.next?.members ?? [])])].filter((name) => !removing.has(name)).sort()
}

function isHintPosition(x: unknown): x is HintPosition {
  const position = x as Partial<HintPosition> | null
  return typeof position === 'object' && position !== null && typeof position.target === 'string' && position.target.length > 0 && typeof position.key === 'string'
}

function isReplicaCountRange(x: unknown): x is ReplicaCountRange {
  const range = x as Partial<ReplicaCountRange> | null
  return (
    typeof range === 'object' && range !== null &&
    Number.isInteger(range.above) && (range.above as number) >= 0 &&
    Number.isInteger(range.through) && (range.through as number) > (range.above as number) && (range.through as number) <= replicasPerKeyMax
  )
}
