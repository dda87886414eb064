/**
 * The hints a node holds (paper §4.6, hinted handoff): when a home replica of a key is
 * unreachable, a put goes to a fallback node instead, which keeps the version as a hint naming
 * that home, and hands it back once the home is reachable again (handoff-sender.ts).
 *
 * Hints live in the node's LevelDB under their own namespace (src/storage/layout.ts), keyed by
 * (target, partition, key), never mixed with the node's own objects: a fallback does not become
 * a replica of the key, it only keeps the write for its home. Several writes to one key for one
 * target merge (`sync`, as a replica merges) into one hint, so a hot key costs one hint, and a
 * hint is as durable as any replica write (LevelDB's log, synced when the put asked for it).
 *
 * Bounded: at most `hintsPerNodeMax` hints for one target and `hintsTotalMax` in all. A write
 * that would need a new hint beyond either is refused (`overloaded`): the fallback does not
 * acknowledge it, so it does not count towards W, the coordinator reports it as a failed
 * replica, and the refusal is counted (`refused`, as every write kept is counted in `written`).
 * A write to a key that already has a hint always merges into it. Nothing held is ever dropped
 * to make room.
 *
 * An index of which hints exist (target -> keys) is kept in memory, rebuilt from LevelDB when
 * the node starts, so counts are exact and survive a restart; it is bounded by the limits above.
 */

import {Packr} from 'msgpackr'
import {assert, DynError} from '../errors.js'
import type {ObjectSpace} from '../storage/object-space.js'
import type {ChangedObject, Store, WriteOptions} from '../storage/store.js'
import {encodeStoredObject} from '../storage/object-codec.js'
import {decodeHintKey, hintKey, hintPartitionRange, hintRange} from '../storage/layout.js'
import {KeyedMutex} from '../storage/keyed-mutex.js'
import {scanPageMax} from '../storage/store.js'
import type {StoredObject} from '../storage/stored-object.js'
import {isValidVersionSet} from '../versioning/dvvset.js'

export interface HintLimits {
  /** Hints held for one target node at most. */
  readonly hintsPerNodeMax: number
  /** Hints held on this node at most, all targets together. */
  readonly hintsTotalMax: number
}

export const hintLimitsDefault: HintLimits = {hintsPerNodeMax: 100_000, hintsTotalMax: 250_000}

/** A hint read for delivery: what to send, and its stored bytes, to tell later whether it changed. */
export interface PendingHint {
  readonly partition: number
  readonly key: string
  readonly object: StoredObject
  readonly raw: Buffer
}

const packr = new Packr({useRecords: false, moreTypes: false})

function decodeHint(raw: Buffer): StoredObject {
  const object = packr.unpack(raw) as StoredObject
  assert(isValidVersionSet(object.versions) && Number.isInteger(object.n), 'stored hint is malformed')
  return object
}

function encodeHint(object: StoredObject): Buffer {
  assert(isValidVersionSet(object.versions), 'refusing to store a malformed hint')
  return packr.pack(object)
}

function indexId(partition: number, key: string): string {
  return `${partition}/${key}`
}

export class HintStore {
  private readonly mutex = new KeyedMutex()
  /** target -> ids (partition/key) of the hints held for it. */
  private readonly index = new Map<string, Set<string>>()
  private total = 0
  /** Writes kept as hints since the node started (a write merged into an existing hint counts too). */
  written = 0
  /** Writes refused because a limit was reached, since the node started. */
  refused = 0

  private constructor(
    private readonly store: Store,
    readonly limits: HintLimits,
  ) {}

  /** Opens the hints of `store`, rebuilding the index from what is on disk. */
  static async open(store: Store, limits: HintLimits = hintLimitsDefault): Promise<HintStore> {
    assert(limits.hintsPerNodeMax >= 1 && limits.hintsTotalMax >= 1, 'hint limits are at least 1')
    const hints = new HintStore(store, limits)
    const range = hintRange()
    let after: Buffer | undefined
    // Bounded by the hints on disk: every page moves past the last key of the one before.
    for (;;) {
      const page = await store.scanRecords(range, after, scanPageMax)
      for (const record of page) {
        const {target, partition, key} = decodeHintKey(record.key)
        hints.remember(target, indexId(partition, key))
      }
      if (page.length < scanPageMax) break
      after = page[page.length - 1]?.key
    }
    return hints
  }

  /** Hints held for each target that has any. */
  pendingByTarget(): Map<string, number> {
    const counts = new Map<string, number>()
    for (const [target, ids] of this.index) if (ids.size > 0) counts.set(target, ids.size)
    return counts
  }

  /** Whether this node holds a hint for the key, for any target (a reap waits until no member does). */
  holdsHintFor(partition: number, key: string): boolean {
    const id = indexId(partition, key)
    for (const ids of this.index.values()) if (ids.has(id)) return true
    return false
  }

  pendingFor(target: string): number {
    return this.index.get(target)?.size ?? 0
  }

  get pendingTotal(): number {
    return this.total
  }

  /** The hints for `target`, as the object space a replica step (mergeIncoming) works on. */
  spaceFor(target: string): ObjectSpace {
    return {
      getObject: async (partition, key) => {
        const raw = this.store.readRecord(hintKey(target, partition, key))
        return raw === undefined ? undefined : decodeHint(raw)
      },
      updateObject: (partition, key, change, options) => this.update(target, partition, key, change, options),
    }
  }

  private async update<F extends {ok: false}>(
    target: string,
    partition: number,
    key: string,
    change: (stored: StoredObject | undefined) => ChangedObject | F,
    options: WriteOptions,
  ): Promise<ChangedObject | F> {
    const dbKey = hintKey(target, partition, key)
    const id = indexId(partition, key)
    return this.mutex.run(`${target}\u0000${id}`, async () => {
      const raw = this.store.readRecord(dbKey)
      if (raw === undefined) this.checkRoom(target)
      const outcome = change(raw === undefined ? undefined : decodeHint(raw))
      if (!outcome.ok) return outcome
      await this.store.writeRecords([{type: 'put', key: dbKey, value: encodeHint(outcome.object)}], options)
      this.remember(target, id)
      this.written += 1
      // A hint is kept in its own layout (encodeHint); a caller that wants the object's bytes in
      // the store's layout gets them encoded here.
      if (options.onMerged !== undefined) options.onMerged(outcome.object, outcome.bytes ?? encodeStoredObject(outcome.object))
      return outcome
    })
  }

  /** A new hint must fit both limits; otherwise the write is refused, and counted. */
  private checkRoom(target: string): void {
    const forTarget = this.pendingFor(target)
    if (forTarget < this.limits.hintsPerNodeMax && this.total < this.limits.hintsTotalMax) return
    this.refused += 1
    const which = forTarget >= this.limits.hintsPerNodeMax ? `${forTarget} hints for ${target} (at most ${this.limits.hintsPerNodeMax})` : `${this.total} hints in all (at most ${this.limits.hintsTotalMax})`
    throw new DynError('overloaded', `this fallback already holds ${which}; it takes no more until they are delivered`)
  }

  /**
   * Up to `limit` hints for `target` in key order, and no more than about `bytesMax` of them (at
   * least one); after the hint `after` when given, so a caller can page past hints it cannot
   * move yet.
   */
  async batch(target: string, limit: number, bytesMax: number, after?: Pick<PendingHint, 'partition' | 'key'>): Promise<PendingHint[]> {
    const afterKey = after === undefined ? undefined : hintKey(target, after.partition, after.key)
    const page = await this.store.scanRecords(hintRange(target), afterKey, Math.min(limit, scanPageMax))
    const hints: PendingHint[] = []
    let bytes = 0
    for (const record of page) {
      if (hints.length > 0 && bytes + record.value.length > bytesMax) break
      const {partition, key} = decodeHintKey(record.key)
      hints.push({partition, key, object: decodeHint(record.value), raw: record.value})
      bytes += record.value.length
    }
    return hints
  }

  /**
   * Removes the hints the target acknowledged, each only if it is still what was sent: a write
   * that merged into a hint while it was in flight keeps the hint for the next delivery.
   * Answers how many were removed.
   */
  async remove(target: string, delivered: readonly PendingHint[]): Promise<number> {
    // Each hint under its own lock, all at once: the deletes of one batch go out together.
    const removed = await Promise.all(
      delivered.map((hint) => {
        const dbKey = hintKey(target, hint.partition, hint.key)
        const id = indexId(hint.partition, hint.key)
        return this.mutex.run(`${target}\u0000${id}`, async () => {
          const current = this.store.readRecord(dbKey)
          if (current === undefined || !current.equals(hint.raw)) return 0
          // Not synced: a delete lost in a crash only delivers the hint again, which merges to the same.
          await this.store.writeRecords([{type: 'del', key: dbKey}], {durable: false})
          this.forget(target, id)
          return 1
        })
      }),
    )
    return removed.reduce<number>((sum, one) => sum + one, 0)
  }

  /** Waits for every hint write under way (the node stops its store after this). */
  idle(): Promise<void> {
    return this.mutex.idle()
  }

  private remember(target: string, id: string): void {
    let ids = this.index.get(target)
    if (ids === undefined) {
      ids = new Set()
      this.index.set(target, ids)
    }
    if (ids.has(id)) return
    ids.add(id)
    this.total += 1
  }

  private forget(target: string, id: string): void {
    const ids = this.index.get(target)
    if (ids === undefined || !ids.delete(id)) return
    this.total -= 1
    if (ids.size === 0) this.index.delete(target)
  }
}

/** A hint as a transfer serves it: the target it is kept for, its key and its object. */
export interface PartitionHint {
  readonly target: string
  readonly key: string
  readonly object: StoredObject
}

/** Targets a scan for one partition's hints steps over at most (twice the member table's bound). */
export const hintTargetsScannedMax = 2048

/**
 * One page of the hints this node keeps for any target in `partition`, in (target, key) order
 * after `after`, at most `limit` and all for one target (so a page's keys are distinct); `more`
 * says whether hints of the partition follow. Read from the store directly: a transfer serves
 * them (transfer.ts), so that a write whose surviving replicas are a removed node's and a
 * fallback's hint still reaches the partition's new homes. Hints are laid out by target first,
 * so the scan jumps from target to target (each costs one or two one-record reads).
 */
export async function hintsOfPartition(store: Store, partition: number, after: {target: string; key: string} | undefined, limit: number): Promise<{hints: PartitionHint[]; more: boolean}> {
  const hints: PartitionHint[] = []
  // Where the next hint of the partition may be: after `after` in its target, then the targets after it.
  let from: {gte: Buffer; afterKey?: Buffer} = after === undefined ? {gte: hintRange().gte} : {gte: hintKey(after.target, partition, ''), afterKey: hintKey(after.target, partition, after.key)}
  for (let step = 0; step < hintTargetsScannedMax; step += 1) {
    const [first] = await store.scanRecords({gte: from.gte, lt: hintRange().lt}, from.afterKey, 1)
    if (first === undefined) return {hints, more: false}
    const {target, partition: found} = decodeHintKey(first.key)
    const range = hintPartitionRange(target, partition)
    if (found < partition) {
      from = {gte: range.gte}
      continue
    }
    if (found > partition) {
      from = {gte: hintRange(target).lt}
      continue
    }
    // Something of the partition follows: a page of this target's, or, once the page is full, only that fact.
    if (hints.length > 0) return {hints, more: true}
    const page = await store.scanRecords({gte: first.key, lt: range.lt}, undefined, limit)
    for (const record of page) hints.push({target, key: decodeHintKey(record.key).key, object: decodeHint(record.value)})
    if (page.length === limit) return {hints, more: true}
    from = {gte: hintRange(target).lt}
  }
  return {hints, more: true}
}
