/**
 * The second half of an ownership transfer: once a new ring is installed, each node hands the
 * copies it is no longer a home replica of to their new homes and then deletes them (Riak's
 * ownership handoff from the old owner, which deletes the vnode's data once it is handed off).
 * The receivers already fetched these partitions before the install (transfer.ts), so this pass
 * mostly carries what reached the old home after their scan and whose copy to the pending homes
 * was lost (a write acknowledged by this node alone, w=1, included); then it frees the space. It
 * is also what a leaving node does last before it exits.
 *
 * Which partitions: those where this node moved later in the preference list (or left it), since
 * only there can it stop being a home of a key for some n. Which objects: each by its own `n`
 * (a key written with a larger per-request n may still be homed here): an object is handed to
 * the first `n` of the new preference list unless this node is one of them, and kept after when
 * a transition under way makes this node one of them again. A node that was a cluster of its own
 * and joined another releases nothing.
 *
 * The order of one release, and why:
 * 1. Wait `settleMs` (one request timeout plus gossip rounds) after the install, so coordinators
 *    still routing by the old ring have finished.
 * 2. Per page of a released partition, send the objects in batches (ObjectHandoff) to each new
 *    home, which merges each with `sync` (never an overwrite) and syncs before it answers per
 *    entry. The cursor is persisted after each page, so a restart resumes.
 * 3. Before the first delete of a release, take a new epoch (persisted in the identity) and wait
 *    until every write begun under the old actor has ended. The counter of this node's actor on a
 *    key comes from its own copy: a write under the old actor after the copy is gone would restart
 *    it and make a dot other replicas hold for another value (kv679). A copy that carries the
 *    current actor (written under it during the release) makes the node take another epoch first.
 * 4. Delete a copy only once every new home acknowledged it durably, and only if it is still
 *    exactly what was sent (checked under the key's lock): a write merged meanwhile keeps it, and
 *    the partition is walked again (a bounded number of times) to hand that write off too. A copy
 *    a new home refused for cause (its limits) is kept and logged.
 */

import type {Clock} from '../clock.js'
import {hintDeliveryEntriesMax} from '../coordinator/messages.js'
import type {HintDeliveryBody} from '../coordinator/messages.js'
import type {Ring} from '../ring/ring.js'
import {preferenceList} from '../ring/ring.js'
import type {Store} from '../storage/store.js'
import type {StoredObject} from '../storage/stored-object.js'
import {entryBatches} from '../storage/stored-object.js'
import {MessageType} from '../transport/message-type.js'
import type {Transport} from '../transport/transport.js'
import {sameVersions} from '../versioning/dvvset.js'

/** Objects read from the local store per page of a release. */
export const releasePageKeys = 256
/** Pages handed off per partition in one round; a larger partition continues in the next round. */
export const releasePagesPerRunMax = 10_000
/** Value bytes in one batch at most (at least one object), well below the 16 MiB frame limit. */
export const releaseBatchBytesMax = 4 * 1024 * 1024
/** Walks of one partition at most: a partition whose copies kept changing is left after that many. */
export const releaseWalksPerPartitionMax = 4
/** One batch's merge on a new home. */
export const releaseBatchTimeoutMs = 10_000

interface ReleaseItem {
  readonly partition: number
  readonly afterKey?: string
  /** Walks of this partition begun so far (the first included). */
  readonly walks?: number
}

interface ReleaseState {
  /** The ring whose install released these partitions. */
  readonly ringHash: string
  readonly items: readonly ReleaseItem[]
  /** The ring whose release this node took a new epoch for (step 3 above). */
  readonly epochRenewedFor?: string
}

export interface ReleaseDeps {
  readonly self: string
  readonly store: Store
  readonly transport: Transport
  readonly clock: Clock
  /** The ring this node routes by now. */
  ring(): Ring
  /** The ring a transition under way installs next (its transfers are fetching now), if any. */
  pendingRing(): Ring | undefined
  /** The internode address of a member, or undefined when it is not one. */
  rpcAddressOf(name: string): string | undefined
  /** How long coordinators may still route by the old ring after an install. */
  readonly settleMs: number
  /** The actor this node writes new versions under now. */
  currentActor(): string
  /** Takes a new epoch, persisted, and resolves once every write begun under the old actor has ended. */
  renewActor(): Promise<void>
  log(line: string): void
}

const releaseMetaName = 'transfer.release'

/**
 * The partitions `self` releases when `after` replaces `before`: those where it moved later in
 * the preference list, or out of it (a leaving or removed node). Only there can it stop being a
 * home of a key for some n. Pure.
 */
export function releasedPartitions(before: Ring, after: Ring, self: string): number[] {
  const released: number[] = []
  if (!before.members.includes(self)) return released
  // A node that was a cluster of its own and now routes by a ring without it has joined another
  // cluster (dyn cluster join on a node started alone): it held nothing, since a node joins another
  // cluster only with an empty store, and what it receives from now on is that cluster's
  // transfers to it, which a release would hand back and delete.
  if (before.members.length === 1 && !after.members.includes(self)) return released
  for (let partition = 0; partition < after.partitionCount; partition++) {
    const was = preferenceList(before, partition).indexOf(self)
    const is = after.members.includes(self) ? preferenceList(after, partition).indexOf(self) : Number.POSITIVE_INFINITY
    if (was >= 0 && is > was) released.push(partition)
  }
  return released
}

/**
 * Where an object of `partition` written with `n` replicas goes: its homes under `ring` (the
 * first n of the preference list, at most every member), or undefined when `self` is one of them
 * and keeps it. Pure.
 */
export function handoffTargets(ring: Ring, partition: number, self: string, n: number): string[] | undefined {
  const homes = preferenceList(ring, partition).slice(0, Math.min(n, ring.members.length))
  return homes.includes(self) ? undefined : homes
}

/** Whether `stored` is still exactly the copy that was handed off: same causal content, same n. */
function isUnchanged(stored: StoredObject, sent: StoredObject): boolean {
  return stored.n === sent.n && sameVersions(stored.versions, sent.versions)
}

function carriesActor(object: StoredObject, actor: string): boolean {
  return object.versions.entries.some((entry) => entry.actor === actor)
}

/** What one page came to: whether it was sent everywhere, and the copies that changed meanwhile. */
interface PageOutcome {
  readonly sent: boolean
  readonly changed: readonly string[]
}

/** Keys named in one log line at most. */
const loggedKeysMax = 5

export class ReleaseHandoff {
  private lastRing: Ring | undefined
  private state: ReleaseState | undefined
  private loaded = false
  private installSeenAtMs = 0
  private runningPass: Promise<void> | undefined
  private stopped = false
  /**
   * Since the node started: copies every new home acknowledged (`handedOff`), of those the local
   * copies deleted (the rest changed meanwhile and wait for another walk), and copies a new home
   * refused for cause (its limits), kept here and logged.
   */
  readonly counts = {handedOff: 0, deleted: 0, refused: 0}

  constructor(private readonly deps: ReleaseDeps) {
    this.lastRing = deps.ring()
  }

  /**
   * Partitions still to hand off, counting those released by an install the next tick has not
   * yet noticed (/stats and `dyn cluster status` must not call the release done before it began).
   */
  get pendingCount(): number {
    const noted = this.state?.items ?? []
    const ring = this.deps.ring()
    if (this.lastRing === undefined || this.lastRing.hash === ring.hash) return noted.length
    const notedPartitions = new Set(noted.map((item) => item.partition))
    return noted.length + releasedPartitions(this.lastRing, ring, this.deps.self).filter((partition) => !notedPartitions.has(partition)).length
  }

  /** One round: notice an install, and hand off what it released once coordinators have caught up. */
  async tick(): Promise<void> {
    if (this.stopped) return
    if (!this.loaded) {
      this.state = await this.deps.store.getMeta<ReleaseState>(releaseMetaName)
      this.loaded = true
      this.installSeenAtMs = this.deps.clock.monotonicMs()
    }
    const ring = this.deps.ring()
    const previous = this.lastRing
    this.lastRing = ring
    if (previous !== undefined && previous.hash !== ring.hash) await this.noteInstall(previous, ring)
    if (this.state === undefined || this.state.items.length === 0) return
    // Step 1: coordinators that still route by the old ring have finished by now.
    if (this.deps.clock.monotonicMs() - this.installSeenAtMs < this.deps.settleMs) return
    this.runningPass ??= this.pass().finally(() => {
      this.runningPass = undefined
    })
    await this.runningPass
  }

  /**
   * The first tick has not yet loaded the release state kept on disk: until then `pendingCount`
   * cannot count the partitions an earlier run of this node left to hand off. (An install the
   * tick has not noticed yet is counted by `pendingCount` itself.)
   */
  get stateLoading(): boolean {
    return !this.loaded
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.runningPass
  }

  private async noteInstall(before: Ring, after: Ring): Promise<void> {
    const released = releasedPartitions(before, after, this.deps.self)
    const kept = (this.state?.items ?? []).filter((item) => !released.includes(item.partition))
    const items: ReleaseItem[] = [...kept, ...released.map((partition) => ({partition}))]
    this.state = {ringHash: after.hash, items, ...(this.state?.epochRenewedFor === undefined ? {} : {epochRenewedFor: this.state.epochRenewedFor})}
    this.installSeenAtMs = this.deps.clock.monotonicMs()
    await this.persist()
    if (released.length > 0) this.deps.log(`ring installed: handing off ${released.length} released partition(s) once coordinators have caught up`)
  }

  private async persist(): Promise<void> {
    if (this.state !== undefined) await this.deps.store.putMeta(releaseMetaName, this.state)
  }

  private replaceItem(partition: number, item: ReleaseItem | undefined): void {
    const state = this.state
    if (state === undefined) return
    const items = item === undefined ? state.items.filter((other) => other.partition !== partition) : state.items.map((other) => (other.partition === partition ? item : other))
    this.state = {...state, items}
  }

  /** Hand off each released partition in turn; a failure leaves the rest for the next round. */
  private async pass(): Promise<void> {
    for (;;) {
      const item = this.state?.items[0]
      if (item === undefined || this.stopped) return
      const finished = await this.walk(item)
      if (!finished) return
    }
  }

  /** Pages through one partition from its cursor; true once it is done with (for now or for good). */
  private async walk(start: ReleaseItem): Promise<boolean> {
    let item: ReleaseItem = {...start, walks: start.walks ?? 1}
    const changed: string[] = []
    let walked = 0
    for (let page = 0; page < releasePagesPerRunMax; page++) {
      if (this.stopped) return false
      const objects = await this.deps.store.scanPartition(item.partition, item.afterKey, releasePageKeys)
      walked += objects.length
      const outcome = await this.handOffPage(item.partition, objects)
      if (!outcome.sent) return false
      changed.push(...outcome.changed)
      const last = objects.at(-1)
      if (last === undefined || objects.length < releasePageKeys) break
      item = {...item, afterKey: last.key}
      this.replaceItem(item.partition, item)
      await this.persist()
    }
    if (changed.length > 0 && (item.walks ?? 1) < releaseWalksPerPartitionMax) {
      // Writes merged into copies while they were handed off: walk again to hand those off too.
      this.replaceItem(item.partition, {partition: item.partition, walks: (item.walks ?? 1) + 1})
      await this.persist()
      return true
    }
    this.replaceItem(item.partition, undefined)
    await this.persist()
    const named = changed.slice(0, loggedKeysMax).join(', ') + (changed.length > loggedKeysMax ? ', …' : '')
    const left = changed.length > 0 ? ` (${changed.length} cop${changed.length === 1 ? 'y' : 'ies'} kept, written again during ${releaseWalksPerPartitionMax} walks: ${named})` : ''
    // An empty partition is said nothing of: a new cluster's joins release a few dozen of them on
    // each node, and a line for each was noise a new user's walk asked about.
    if (walked > 0 || start.afterKey !== undefined) this.deps.log(`handed off released partition ${item.partition}${left}`)
    return true
  }

  /** Sends one page to the objects' new homes and deletes what all of them acknowledged. */
  private async handOffPage(partition: number, objects: ReadonlyArray<{key: string; object: StoredObject}>): Promise<PageOutcome> {
    const ring = this.deps.ring()
    const pending = this.deps.pendingRing()
    const entries = new Map<string, {readonly object: StoredObject; readonly targets: readonly string[]; readonly keep: boolean; refused: boolean}>()
    const byTarget = new Map<string, Array<{partition: number; key: string; object: StoredObject}>>()
    for (const {key, object} of objects) {
      const targets = handoffTargets(ring, partition, this.deps.self, object.n)
      if (targets === undefined) continue
      // A transition under way makes this node a home of the key again: its copy is still handed
      // to the current homes, but it is one that transition's transfers bring here (or count on),
      // not the release's to delete.
      const keep = pending !== undefined && handoffTargets(pending, partition, this.deps.self, object.n) === undefined
      entries.set(key, {object, targets, keep, refused: false})
      for (const target of targets) {
        const list = byTarget.get(target) ?? []
        list.push({partition, key, object})
        byTarget.set(target, list)
      }
    }
    if (entries.size === 0) return {sent: true, changed: []}
    const answers = await Promise.all([...byTarget].map(([target, list]) => this.sendTo(target, list)))
    if (answers.some((answer) => answer === undefined)) return {sent: false, changed: []}
    for (const refusedKeys of answers) for (const key of refusedKeys ?? []) {
      const entry = entries.get(key)
      if (entry !== undefined) entry.refused = true
    }
    const acknowledged = [...entries].filter(([, entry]) => !entry.refused)
    const refusedCount = entries.size - acknowledged.length
    this.counts.refused += refusedCount
    this.counts.handedOff += acknowledged.length
    const kept = await this.deleteHandedOff(partition, acknowledged.filter(([, entry]) => !entry.keep).map(([key, {object}]) => ({key, object})))
    return {sent: true, changed: kept}
  }

  /**
   * Batches of one target's entries, bounded in count and bytes. The keys it refused for cause,
   * or undefined when a batch failed (unreachable, timed out, malformed answer): asked again in a
   * later round, with nothing deleted.
   */
  private async sendTo(target: string, list: ReadonlyArray<{partition: number; key: string; object: StoredObject}>): Promise<string[] | undefined> {
    const address = this.deps.rpcAddressOf(target)
    if (address === undefined) return undefined
    const refused: string[] = []
    for (const batch of entryBatches(list, releaseBatchBytesMax, hintDeliveryEntriesMax)) {
      const body: HintDeliveryBody = {entries: batch}
      const answer = await this.deps.transport.request(address, MessageType.ObjectHandoff, body, releaseBatchTimeoutMs)
      if (!answer.ok) {
        this.deps.log(`handoff of ${batch.length} released object(s) to ${target} failed (${answer.code ?? answer.error}); retrying next round`)
        return undefined
      }
      const results = (answer.body as {results?: unknown} | null)?.results
      if (!Array.isArray(results) || results.length !== batch.length) {
        this.deps.log(`handoff to ${target}: malformed answer; retrying next round`)
        return undefined
      }
      const refusedHere = batch.map((entry, at) => ({key: entry.key, code: String(results[at])})).filter(({code}) => code !== 'ok')
      if (refusedHere.length > 0) {
        this.deps.log(`${target} refused ${refusedHere.length} released object(s) (${refusedHere.slice(0, 5).map(({key, code}) => `${key}: ${code}`).join(', ')}); kept here`)
      }
      refused.push(...refusedHere.map(({key}) => key))
    }
    return refused
  }

  /** Step 3 and 4 above: a new epoch first, then each copy deleted if unchanged. The keys kept. */
  private async deleteHandedOff(partition: number, handedOff: ReadonlyArray<{key: string; object: StoredObject}>): Promise<string[]> {
    if (handedOff.length === 0) return []
    const state = this.state
    if (state !== undefined && state.epochRenewedFor !== state.ringHash) {
      await this.deps.renewActor()
      this.state = {...(this.state ?? state), epochRenewedFor: state.ringHash}
      await this.persist()
    }
    const kept: string[] = []
    const carryingActor: Array<{key: string; object: StoredObject}> = []
    for (const {key, object} of handedOff) {
      let unchangedButCarries = false
      const gone = await this.deps.store.deleteObjectIf(partition, key, (stored) => {
        const unchanged = isUnchanged(stored, object)
        unchangedButCarries = unchanged && carriesActor(stored, this.deps.currentActor())
        return unchanged && !unchangedButCarries
      })
      if (unchangedButCarries) carryingActor.push({key, object})
      else if (!gone) kept.push(key)
    }
    if (carryingActor.length > 0) {
      // Written under the current actor during the release: that actor must not write these keys
      // again once their copies are gone, so it is retired too before they are deleted.
      await this.deps.renewActor()
      for (const {key, object} of carryingActor) {
        if (!(await this.deps.store.deleteObjectIf(partition, key, (stored) => !carriesActor(stored, this.deps.currentActor()) && isUnchanged(stored, object)))) kept.push(key)
      }
    }
    this.counts.deleted += handedOff.length - kept.length
    return kept
  }
}
