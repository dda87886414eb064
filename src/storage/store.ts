/**
 * The local store of one node, on an abstract-level database (backend.ts): classic-level
 * (LevelDB) on disk for a real node, memory-level in the simulator. It holds stored objects laid
 * out by partition (see layout.ts) and node metadata (identity, member table). Updates to one
 * key are serialized through a per-key mutex so that concurrent writes to the same key on this
 * replica never lose each other's version. What follows says LevelDB; memory-level behaves the
 * same, except that nothing reaches a disk.
 *
 * Writes are not fsynced by default: LevelDB appends each write to its log with write(2) before
 * answering, so an acknowledged write survives the process being killed. A write asked to be
 * durable (`dw`, paper §6.1) is synced to disk before it is acknowledged.
 *
 * The per-key lock covers the merge, not the wait for LevelDB. A merged object is the key's newest
 * at once (reads and the next merge see it) and goes to LevelDB in the next group commit; a key
 * has at most one write in a batch in flight, and the objects merged while it is in flight are
 * written together, as the newest of them, once it has landed. Each write is still acknowledged
 * only once a batch holding its version has landed. Without this, updates of a hot key waited
 * for each other's whole LevelDB round trip, one at a time (bench/README.md, "Hot keys").
 *
 * With the write buffer on (paper §6.1), a write that is not durable only replaces the key's
 * object in an in-memory buffer; reads look there first, and `flush` (called by the node every
 * T ms) writes the whole buffer to LevelDB as one batch. That trades the writes of the last T ms
 * on a crash for lower write latency; a durable write still goes to disk, synced, at once.
 */

import {Packr} from 'msgpackr'
import {assert, DynError} from '../errors.js'
import type {Scheduler} from '../scheduler.js'
import {supportsGetSync, writeBatch} from './backend.js'
import type {BatchOperation, StoreDatabase, SyncedPutOptions} from './backend.js'
import {isValidVersionSet} from '../versioning/dvvset.js'
import {KeyedMutex} from './keyed-mutex.js'
import {ObjectCache} from './object-cache.js'
import {compactionDeletedBytesFloor} from './compaction-core.js'
import {DeleteDebts, hintsDebtPartition} from './delete-debt.js'
import type {PartitionDebt} from './delete-debt.js'
import {decodeObjectKey, hintRange, inHintNamespace, isHintKey, metaKey, objectKey, objectNamespaceRange, partitionIndexMax, partitionRange} from './layout.js'
import type {StoredObject} from './stored-object.js'
import {objectValueBytes, replicasPerKeyMax} from './stored-object.js'
import {decodeStoredObject, encodeStoredObject, isCodecObject} from './object-codec.js'

const packr = new Packr({useRecords: false, moreTypes: false})

/** Bound on one partition scan page, so a scan never holds an unbounded batch in memory. */
export const scanPageMax = 1024

/** Bounds on the object cache in front of LevelDB. */
export const objectCacheEntriesMax = 50_000
export const objectCacheBytesMax = 64 * 1024 * 1024

/** Bounds on the write buffer: a write that finds it this full flushes it first. */
export const writeBufferEntriesMax = 65_536
export const writeBufferBytesMax = 64 * 1024 * 1024

export interface StoreOptions {
  /** Buffer non-durable writes in memory until the next `flush`. */
  readonly writeBuffer: boolean
  /**
   * Group commit runs on `soon`, once the current burst of I/O callbacks is done: writes issued
   * meanwhile are committed to LevelDB as one batch.
   */
  readonly scheduler: Pick<Scheduler, 'soon'>
}

/** Writes committed in one LevelDB batch at most; more wait for the next commit. */
export const groupCommitWritesMax = 512

interface PendingWrite {
  readonly key: Buffer
  /** Undefined for a delete. */
  readonly value: Buffer | undefined
  readonly sync: boolean
  readonly resolve: () => void
  readonly reject: (error: Error) => void
}

/** A write waiting for the batch that holds its version to land. */
interface LandingWaiter {
  readonly resolve: () => void
  readonly reject: (error: Error) => void
}

/**
 * One key's writes not yet landed in LevelDB (the write buffer off): the newest merged object,
 * and who waits for it. At most one batch in flight holds the key (`writing`), so the key's
 * writes land in the order they were merged. The entries and their waiters are bounded by the
 * writes in flight, which admission control bounds (src/api/admission-core.ts).
 */
interface UnlandedKey {
  readonly partition: number
  readonly key: string
  readonly dbKey: Buffer
  /** What LevelDB holds for the key: the change listener's `before` for the next landing. */
  landed: StoredObject | undefined
  /** The newest merged object: what reads and the next merge see. */
  newest: StoredObject
  /** `newest` encoded, as the next batch writes it. */
  newestBytes: Buffer
  /** Writes merged into `newest` that no batch has taken yet, and whether any asked to be synced. */
  waiting: LandingWaiter[]
  waitingDurable: boolean
  /** A batch holding the key is in flight. */
  writing: boolean
  /** Resolves once the key has nothing left to land (and leaves the map). */
  readonly drained: Promise<void>
  readonly markDrained: () => void
}

interface BufferedObject {
  readonly dbKey: Buffer
  readonly object: StoredObject
  /** `object` encoded, as a flush writes it. */
  readonly encoded: Buffer
  readonly bytes: number
  /** Being written durably right now: flushes leave it alone, reads still find it. */
  readonly durablePending?: boolean
}

/** Whether to drop `object`, about to be stored for a key the store holds nothing of (see Store.filterAbsentMerges). */
export type AbsentMergeFilter = (partition: number, key: string, object: StoredObject) => boolean

/** A change to one stored object: what the store held before and holds now (undefined: none). */
export type ObjectChangeListener = (partition: number, key: string, before: StoredObject | undefined, after: StoredObject | undefined) => void

export interface WriteOptions {
  /** Sync the write to disk before answering (a durable write). */
  readonly durable: boolean
  /**
   * Called once with the object `change` made, as soon as reads of the key here find it: before
   * it has landed in LevelDB where the store can tell (a group commit); with the write buffer on,
   * once it is buffered, or, for a durable write, once it is synced. Not called for a failure
   * value, nor when the write throws (a durable write whose sync failed included). A
   * coordinator sends the new version to the other replicas from here, so that its own landing
   * and theirs overlap (put-coordinator.ts). It must not throw.
   */
  readonly onMerged?: (object: StoredObject, bytes: Buffer) => void
}

/**
 * What a change to one key answers: the object to store, and optionally its bytes in the store's
 * layout (object-codec.ts) when the caller has them already (a replica whose merge kept the object
 * it was sent), so that they are not encoded again. `bytes` must encode `object`.
 */
export type ChangedObject = {readonly ok: true; readonly object: StoredObject; readonly bytes?: Buffer}

export class Store {
  private readonly db: StoreDatabase
  private readonly mutex = new KeyedMutex()
  private readonly cache = new ObjectCache(objectCacheEntriesMax, objectCacheBytesMax)
  /** Writes waiting for the next group commit. */
  private pendingWrites: PendingWrite[] = []
  private commitScheduled = false
  private readonly scheduler: Pick<Scheduler, 'soon'>
  private closing = false
  /** Buffered objects by `partition/key`; undefined when the write buffer is off. */
  private readonly buffer: Map<string, BufferedObject> | undefined
  /** Keys with a merged object not yet landed, by `partition/key` (the write buffer off). */
  private readonly unlanded = new Map<string, UnlandedKey>()
  private flushing: Promise<void> | undefined
  private bufferedBytes = 0
  /** Keys with a stored object (tombstones included): counted once at open, then kept up to date. */
  private objects = 0
  /**
   * Every distinct `n` of a stored object, exactly (transfers plan by it, see
   * src/handoff/transfer-plan.ts). A value is never dropped: an object's n only grows (see
   * replica.ts), and a superset costs transfers some empty pages, where a missing value would
   * lose replicas. Persisted in the same batch as the first object with a new n, so the set on
   * disk always covers the objects on disk, at no extra write.
   */
  private readonly replicaCounts: Set<number>
  /** The set changed since it was last put in a batch. */
  private replicaCountsUnsaved = false
  private replicaCountsListener: ((counts: readonly number[]) => void) | undefined
  private changeListener: ObjectChangeListener | undefined
  /**
   * What each partition owes LevelDB's compaction since its range was last compacted: bytes of
   * deleted values and deleted objects (delete-debt.ts). LevelDB keeps a deleted or overwritten
   * record until a compaction merges it with what replaced it, and its own compactions follow
   * what is written, so a store whose keys were deleted, reaped or handed off does not shrink on
   * its own (see `compactPartition`). Persisted, on a database that can compact, by
   * `saveDeleteDebt` and at close.
   */
  private readonly deleteDebts: DeleteDebts
  /**
   * False on a database that can compact but had no record of its debt when it opened (written
   * before the record was kept): the compaction subsystem sweeps it once, and nothing is saved
   * until then (a restart meanwhile sweeps again).
   */
  private deleteDebtKnown: boolean
  private readonly compactor: Compactor | undefined
  private compacting: Promise<unknown> | undefined
  /**
   * The first failure of a merged object's landing (the write buffer off), after which the store
   * takes no more writes until the node restarts, and reads go on. The object that failed was
   * dropped from memory, and it may be on other replicas already: a coordinator sends its new
   * version while it lands here (put-coordinator.ts). A later version made here on the older copy
   * LevelDB still holds would carry a counter above that version's dot, and so supersede it on
   * every replica without its client having seen it. A restart writes under a new epoch, which
   * cannot. Cassandra's commit_failure_policy `stop_commit` does the same: reads go on, writes stop.
   */
  private landingFailure: Error | undefined
  private landingFailureListener: ((error: Error) => void) | undefined
  /**
   * Consulted when an object is about to be stored for a key this store holds nothing of: true
   * drops it, answered as merged (anti-entropy's reap fence, src/antientropy/reap-fence.ts).
   */
  private absentMergeFilter: AbsentMergeFilter | undefined

  private constructor(db: StoreDatabase, options: StoreOptions, objectCount: number, replicaCounts: Set<number>, deleteDebts: DeleteDebts | undefined) {
    this.db = db
    this.objects = objectCount
    this.replicaCounts = replicaCounts
    this.compactor = compactorOf(db)
    this.deleteDebts = deleteDebts ?? new DeleteDebts()
    this.deleteDebtKnown = deleteDebts !== undefined || this.compactor === undefined
    this.buffer = options.writeBuffer ? new Map() : undefined
    this.scheduler = options.scheduler
  }

  /**
   * Opens `db` (see backend.ts) and serves it; the store owns it from here and closes it on
   * `close`. Opening an instance that is open already (a simulated node restarted on storage
   * it kept) is allowed.
   */
  static async open(db: StoreDatabase, options: StoreOptions): Promise<Store> {
    await db.open({createIfMissing: true})
    // The read path needs a synchronous get (see `read`); both backends have one.
    assert(supportsGetSync(db), 'the store database must support getSync')
    let replicaCounts = await getMetaOf<number[]>(db, replicaCountsMetaName)
    if (replicaCounts === undefined) {
      replicaCounts = await scanReplicaCounts(db)
      // An empty store stays empty (a node starting on it takes a new epoch, see isEmpty): its
      // first write records the set.
      const putOptions: SyncedPutOptions = {sync: true}
      if (replicaCounts.length > 0) await db.put(metaKey(replicaCountsMetaName), packr.pack(replicaCounts), putOptions)
    }
    return new Store(db, options, await countObjects(db), new Set(replicaCounts), await openDeleteDebts(db))
  }

  /** The distinct `n` of the stored objects, ascending. */
  get storedReplicaCounts(): number[] {
    return [...this.replicaCounts].sort((a, b) => a - b)
  }

  /** Called with every `n` set once a new value joins it (the node advertises it in its member row). */
  watchReplicaCounts(listener: (counts: readonly number[]) => void): void {
    this.replicaCountsListener = listener
  }

  /**
   * Called with every change to a stored object, once the store holds it: what it held before
   * and holds now (undefined: no object), in the order the changes of one key landed (one at a
   * time per key; objects merged while a batch was in flight land as one change). Anti-entropy's
   * trees follow the store through it.
   */
  watchChanges(listener: ObjectChangeListener): void {
    assert(this.changeListener === undefined, 'the store has a change listener already')
    this.changeListener = listener
  }

  /** Add a new `n`: the next batch that writes objects writes the set too. */
  private recordReplicaCount(n: number): void {
    assert(Number.isInteger(n) && n >= 1 && n <= replicasPerKeyMax, `replica count ${n} out of range`)
    this.replicaCounts.add(n)
    this.replicaCountsUnsaved = true
    this.replicaCountsListener?.(this.storedReplicaCounts)
  }

  /**
   * The set's record, for a batch of object writes, when it changed since the last one; a
   * batch that fails marks it unsaved again.
   */
  private replicaCountsRecord(): Array<{type: 'put'; key: Buffer; value: Buffer}> {
    if (!this.replicaCountsUnsaved) return []
    this.replicaCountsUnsaved = false
    return [{type: 'put', key: metaKey(replicaCountsMetaName), value: packr.pack(this.storedReplicaCounts)}]
  }

  /** Sets the filter of objects merged into absent keys (one at most: anti-entropy's reap fence). */
  filterAbsentMerges(filter: AbsentMergeFilter): void {
    assert(this.absentMergeFilter === undefined, 'the store has an absent-merge filter already')
    this.absentMergeFilter = filter
  }

  /** Called once, with the first landing that failed: from then on the store takes no more writes. */
  watchLandingFailure(listener: (error: Error) => void): void {
    this.landingFailureListener = listener
  }

  /** Why the store takes no more writes (a landing failed), or undefined while it takes them. */
  get writesStoppedBy(): string | undefined {
    return this.landingFailure?.message
  }

  /** Keys this node stores an object for (live or deleted), as GET /stats reports them. */
  get objectCount(): number {
    return this.objects
  }

  /**
   * Refuse new writes, let the running ones finish (their group commits included), write the
   * buffer out, then close LevelDB: a write acknowledged before close is on disk after it.
   */
  async close(): Promise<void> {
    this.closing = true
    await this.mutex.idle()
    await this.landAll()
    await this.flush()
    await this.compacting?.catch(() => undefined)
    // A record that fails to land now leaves the one saved last, an underestimate of the debt.
    await this.saveDeleteDebt().catch(() => undefined)
    await this.db.close()
  }

  /** Whether the database can compact a key range (classic-level can; memory-level, in the simulator, cannot). */
  get canCompact(): boolean {
    return this.compactor !== undefined
  }

  /** Every partition that owes anything to compaction, in partition order. */
  owedPartitions(): PartitionDebt[] {
    return this.deleteDebts.list()
  }

  /** Objects deleted since their partition was last compacted, all partitions together. */
  get deletesUncompacted(): number {
    return this.deleteDebts.deletes
  }

  /** Partitions that owe anything to compaction. */
  get partitionsOwing(): number {
    return this.deleteDebts.partitions
  }

  /** Bytes of values deleted since their partition was last compacted, all partitions together. */
  get deletedBytesUncompacted(): number {
    return this.deleteDebts.deletedBytes
  }

  /** False until a store that opened without a record of its debt has been swept (see `deleteDebtKnown`). */
  get deleteDebtRecorded(): boolean {
    return this.deleteDebtKnown
  }

  /** What a sweep found a partition owes: its debt is raised to at least `deletedBytes`. */
  recordSweptDebt(partition: number, deletedBytes: number): void {
    this.deleteDebts.raise(partition, deletedBytes)
  }

  /** The sweep is over: the debt is known, and saved from the next `saveDeleteDebt` on. */
  finishDebtSweep(): void {
    this.deleteDebtKnown = true
    this.deleteDebts.markChanged()
  }

  /**
   * Writes the record of the debt if it changed since it was last written. Not synced: LevelDB's
   * log keeps it across a killed process, and a record lost with the machine only forgets what
   * was deleted since the one before, which LevelDB then gives back at its own pace.
   */
  async saveDeleteDebt(): Promise<void> {
    if (this.compactor === undefined || !this.deleteDebtKnown || !this.deleteDebts.takeChanged()) return
    try {
      await this.db.put(metaKey(deleteDebtMetaName), packr.pack(this.deleteDebts.toRecord()))
    } catch (error) {
      this.deleteDebts.markChanged()
      throw error
    }
  }

  /**
   * LevelDB's approximate size on disk of the key range of partitions `first` to `last` (the
   * hint records for `hintsDebtPartition`), or undefined when the database cannot say
   * (memory-level). Records still only in its memtable are not counted.
   */
  async partitionsDiskBytes(first: number, last: number = first): Promise<number | undefined> {
    if (this.compactor === undefined) return undefined
    const range = debtRange(first, last)
    return this.compactor.approximateSize.call(this.db, range.gte, range.lt)
  }

  /** LevelDB's approximate size on disk of every record (undefined on memory-level). */
  async diskBytes(): Promise<number | undefined> {
    return this.compactor === undefined ? undefined : wholeDiskBytes(this.db, this.compactor)
  }

  /**
   * The bytes of a partition's live records as stored (keys and values), read from LevelDB: what
   * its size on disk would be with no garbage, before compression. Reads the whole range, for
   * the sweep of a store whose debt was never recorded; undefined if `stopped` says so on the way.
   */
  async partitionLiveBytes(partition: number, stopped: () => boolean = () => false): Promise<number | undefined> {
    let total = 0
    for await (const [key, value] of this.db.iterator(partitionRange(partition))) {
      if (stopped()) return undefined
      total += key.byteLength + value.byteLength
    }
    return total
  }

  /**
   * Compacts the key range of `partition`, so that the space of its deleted records (deleted
   * values, reaped tombstones, handed-off copies) is given back to the file system, and returns
   * the debt this paid. One compaction at a time; LevelDB compacts in its own thread and keeps
   * serving reads and writes meanwhile. Deletes that land while it runs are owed anew. Undefined
   * when the store is closing, compacting already, or cannot compact (memory-level).
   */
  async compactPartition(partition: number): Promise<PartitionDebt | undefined> {
    if (this.closing || this.compacting !== undefined || this.compactor === undefined) return undefined
    const debt = this.deleteDebts.take(partition) ?? {partition, deletedBytes: 0, deletes: 0}
    const range = debtRange(partition, partition)
    // Twice: LevelDB picks the deepest level the range reaches before it flushes its memtable,
    // and a table whose flush was under way then (or that this flush writes) may land deeper
    // still (into an empty level 2), out of that pass. The second pass reaches it; it costs a
    // flush of an almost empty memtable and little else, the range being compacted already.
    const compactRange = this.compactor.compactRange
    this.compacting = (async () => {
      await compactRange.call(this.db, range.gte, range.lt)
      await compactRange.call(this.db, range.gte, range.lt)
    })()
    try {
      await this.compacting
    } catch (error) {
      this.deleteDebts.restore(debt)
      throw error
    } finally {
      this.compacting = undefined
    }
    return debt
  }

  /** Objects waiting in the write buffer (0 when it is off). */
  get bufferedCount(): number {
    return this.buffer?.size ?? 0
  }

  async getObject(partition: number, key: string): Promise<StoredObject | undefined> {
    const id = bufferId(partition, key)
    return this.newest(id) ?? this.read(id, objectKey(partition, key))
  }

  /** The key's newest object held in memory: not yet landed, buffered, or cached. */
  private newest(id: string): StoredObject | undefined {
    return this.unlanded.get(id)?.newest ?? this.buffer?.get(id)?.object ?? this.cache.get(id)
  }

  /** Resolves once every write merged so far has landed (or failed). */
  private async landAll(): Promise<void> {
    // Each pass waits for the keys unlanded at its start; new writes are refused by then (close).
    while (this.unlanded.size > 0) await Promise.all([...this.unlanded.values()].map((entry) => entry.drained))
  }

  private unbuffer(id: string): void {
    const entry = this.buffer?.get(id)
    if (entry === undefined) return
    this.bufferedBytes -= entry.bytes
    this.buffer?.delete(id)
  }

  /**
   * Write every buffered object to LevelDB in one batch. An object replaced while the batch was
   * being written stays buffered for the next flush, so the newest version is never dropped.
   */
  async flush(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing
    const buffer = this.buffer
    if (buffer === undefined || buffer.size === 0) return
    const entries = [...buffer.entries()].filter(([, entry]) => entry.durablePending !== true)
    if (entries.length === 0) return
    this.flushing = (async () => {
      const counts = this.replicaCountsRecord()
      await writeBatch(this.db, [...entries.map(([, entry]) => ({type: 'put' as const, key: entry.dbKey, value: entry.encoded})), ...counts], false).catch((error: Error) => {
        if (counts.length > 0) this.replicaCountsUnsaved = true
        throw error
      })
      for (const [id, entry] of entries) if (buffer.get(id) === entry) this.unbuffer(id)
    })()
    try {
      await this.flushing
    } finally {
      this.flushing = undefined
    }
  }

  /**
   * Read-modify-write of one key, serialized with every other update of the same key here.
   * `change` gets what is stored and returns the object to store, or a failure value that
   * leaves the stored object untouched.
   */
  async updateObject<F extends {ok: false}>(
    partition: number,
    key: string,
    change: (stored: StoredObject | undefined) => ChangedObject | F,
    options: WriteOptions,
  ): Promise<ChangedObject | F> {
    if (this.closing) throw new DynError('unreachable', 'the store is closing: this node is shutting down')
    const dbKey = objectKey(partition, key)
    const id = bufferId(partition, key)
    const merged = await this.mutex.run(key, async () => {
      // Checked under the key's lock, so that no merge queued behind a landing that failed runs.
      if (this.landingFailure !== undefined) {
        // Certainly not taken (refusedAtOnce), so a forwarder asks the next home and a coordinator a
        // spare fallback. Its own code, not `overloaded`: a walk's operator, told "n3 (overloaded)",
        // looked at the load of a node whose disk was full.
        throw new DynError('storage_failed', `this node's store failed to write (${this.landingFailure.message}) and takes no more writes until the node restarts; reads go on. Check its disk, then restart it`)
      }
      const stored = this.newest(id) ?? this.read(id, dbKey)
      const outcome = change(stored)
      if (!outcome.ok) return {outcome}
      // A reaped tombstone brought back (absentMergeFilter): answered as merged, and nothing is stored.
      if (stored === undefined && this.absentMergeFilter?.(partition, key, outcome.object) === true) return {outcome, encoded: undefined}
      assert(isValidVersionSet(outcome.object.versions), 'refusing to store a malformed version set')
      // Encoded once, here: the same bytes land in LevelDB and go to the other replicas (onMerged).
      // The version set was checked on the line above, so encodeObject's own check is not repeated.
      const encoded = outcome.bytes ?? encodeStoredObject(outcome.object)
      // A set lookup on the hot path; an n this node has never stored adds one record to the batch.
      if (!this.replicaCounts.has(outcome.object.n)) this.recordReplicaCount(outcome.object.n)
      if (this.buffer !== undefined && !options.durable) {
        if (this.buffer.size >= writeBufferEntriesMax || this.bufferedBytes >= writeBufferBytesMax) await this.flush()
        // The object's values and its encoded copy are both held until the flush.
        const bytes = objectValueBytes(outcome.object) + encoded.length + dbKey.length
        this.unbuffer(id)
        this.buffer.set(id, {dbKey, object: outcome.object, encoded, bytes})
        this.bufferedBytes += bytes
      } else if (this.buffer !== undefined) {
        // The new object supersedes the buffered one. It takes the buffered one's place at once,
        // marked so that flushes leave it alone, so reads never fall back to an older LevelDB
        // object meanwhile; a flush already writing the old object must finish first, so that it
        // cannot land after this write.
        const pending: BufferedObject = {dbKey, object: outcome.object, encoded, bytes: objectValueBytes(outcome.object) + encoded.length + dbKey.length, durablePending: true}
        this.unbuffer(id)
        this.buffer.set(id, pending)
        this.bufferedBytes += pending.bytes
        try {
          while (this.flushing !== undefined) await this.flushing
          await this.commit(dbKey, encoded, true)
        } catch (error) {
          // Not durable, but not lost either: it stays buffered like any other write.
          if (this.buffer.get(id) === pending) {
            this.buffer.set(id, {...pending, durablePending: false})
            if (stored === undefined) this.objects += 1
            this.changed(partition, key, stored, outcome.object)
          }
          throw error
        }
        if (this.buffer.get(id) === pending) this.unbuffer(id)
      } else {
        // Lands after the lock is released: the key's next merge need not wait for LevelDB.
        return {outcome, encoded, landing: this.land(id, partition, key, dbKey, stored, outcome.object, encoded, options.durable)}
      }
      // The cache learns the object only once it is stored (a buffered one is found in the buffer).
      this.cache.set(id, outcome.object)
      // The per-key mutex makes this the only write that can find the key absent.
      if (stored === undefined) this.objects += 1
      this.changed(partition, key, stored, outcome.object)
      return {outcome, encoded}
    })
    // Outside the key's lock: whatever the caller does with the object (send it to replicas)
    // never holds up the key's next merge. The landing is awaited whatever the callback does, so
    // that its failure is always handled (and stops the store).
    let callbackError: unknown
    if (merged.outcome.ok) {
      try {
        options.onMerged?.(merged.outcome.object, merged.encoded ?? encodeObject(merged.outcome.object))
      } catch (error) {
        callbackError = error
      }
    }
    if (merged.landing !== undefined) await merged.landing
    if (callbackError !== undefined) throw callbackError
    return merged.outcome
  }

  /**
   * Makes `object` the key's newest and resolves once a batch holding it has landed. Called under
   * the key's lock, with `stored` what the merge saw: when no write of the key is unlanded, that
   * is what LevelDB holds.
   */
  private land(id: string, partition: number, key: string, dbKey: Buffer, stored: StoredObject | undefined, object: StoredObject, encoded: Buffer, durable: boolean): Promise<void> {
    let entry = this.unlanded.get(id)
    if (entry === undefined) {
      let markDrained!: () => void
      const drained = new Promise<void>((resolve) => {
        markDrained = resolve
      })
      entry = {partition, key, dbKey, landed: stored, newest: object, newestBytes: encoded, waiting: [], waitingDurable: false, writing: false, drained, markDrained}
      this.unlanded.set(id, entry)
    }
    entry.newest = object
    entry.newestBytes = encoded
    entry.waitingDurable ||= durable
    const landing = new Promise<void>((resolve, reject) => {
      entry.waiting.push({resolve, reject})
    })
    if (!entry.writing) this.writeNewest(id, entry)
    return landing
  }

  /**
   * Puts the key's newest object in the next group commit, for every write merged into it so far;
   * once that batch lands, the objects merged meanwhile follow in one more write, and the key
   * leaves `unlanded` when nothing is left.
   */
  private writeNewest(id: string, entry: UnlandedKey): void {
    const object = entry.newest
    const encoded = entry.newestBytes
    const waiters = entry.waiting
    const durable = entry.waitingDurable
    entry.waiting = []
    entry.waitingDurable = false
    entry.writing = true
    const settled = (landed: boolean): void => {
      entry.writing = false
      if (entry.waiting.length > 0) {
        this.writeNewest(id, entry)
        return
      }
      this.unlanded.delete(id)
      // The cache learns an object only once it is stored; after a failure LevelDB is asked again.
      if (landed) this.cache.set(id, object)
      else this.cache.delete(id)
      entry.markDrained()
    }
    this.commit(entry.dbKey, encoded, durable).then(
      () => {
        // One write at a time per key makes this the only landing that can find the key absent.
        if (entry.landed === undefined) this.objects += 1
        this.changed(entry.partition, entry.key, entry.landed, object)
        entry.landed = object
        for (const waiter of waiters) waiter.resolve()
        settled(true)
      },
      (error: Error) => {
        if (this.landingFailure === undefined) {
          this.landingFailure = error
          this.landingFailureListener?.(error)
        }
        for (const waiter of waiters) waiter.reject(error)
        settled(false)
      },
    )
  }

  /**
   * A merged object is stored in place of `before`: the bytes of values it no longer holds (a
   * tombstone's, above all) are owed to compaction, since LevelDB keeps the old record until a
   * compaction reaches it. A write that grows an object owes nothing: LevelDB's own compactions,
   * which follow what is written, pay for the record it replaced.
   */
  private changed(partition: number, key: string, before: StoredObject | undefined, after: StoredObject): void {
    if (before !== undefined) {
      const freed = objectValueBytes(before) - objectValueBytes(after)
      if (freed > 0) this.deleteDebts.add(partition, freed, 0)
    }
    this.changeListener?.(partition, key, before, after)
  }

  /**
   * Deletes one key's object if `shouldDelete` says so of what is stored, serialized with every
   * update of the key (so no write can merge between the check and the delete). Not synced: a
   * crash may bring the object back, which costs only a later hand-off or repair, never data.
   * True when an object was deleted.
   */
  async deleteObjectIf(partition: number, key: string, shouldDelete: (stored: StoredObject) => boolean): Promise<boolean> {
    if (this.closing) throw new DynError('unreachable', 'the store is closing: this node is shutting down')
    const dbKey = objectKey(partition, key)
    const id = bufferId(partition, key)
    return this.mutex.run(key, async () => {
      // The delete must land after the key's writes merged before it; none can merge meanwhile (the lock).
      await this.unlanded.get(id)?.drained
      const stored = this.newest(id) ?? this.read(id, dbKey)
      if (stored === undefined || !shouldDelete(stored)) return false
      if (this.buffer !== undefined) {
        this.unbuffer(id)
        // A flush already writing the buffered object must land before the delete, not after it.
        while (this.flushing !== undefined) await this.flushing
      }
      this.cache.delete(id)
      await this.commit(dbKey, undefined, false)
      // A read outside the lock while the delete was being committed found the object still in
      // LevelDB and cached it again: drop it once more, now that LevelDB no longer holds it, or
      // the cache would serve a deleted object (and the next write would count it as present).
      this.cache.delete(id)
      this.objects -= 1
      // The whole record is garbage now, and the delete adds a marker with its key. The record's
      // size is estimated, not encoded again: that cost a third of a reap's CPU.
      this.deleteDebts.add(partition, dbKey.length * 2 + objectValueBytes(stored) + stored.versions.entries.length * storedEntryOverheadBytes, 1)
      this.changeListener?.(partition, key, stored, undefined)
      return true
    })
  }

  /**
   * Group commit: every write issued before the scheduled callback runs goes to LevelDB in one
   * batch (synced if any of them asked to be), and each resolves when that batch is written.
   * One batch costs one log append instead of one per write.
   */
  private commit(key: Buffer, value: Buffer | undefined, sync: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pendingWrites.push({key, value, sync, resolve, reject})
      if (this.commitScheduled) return
      this.commitScheduled = true
      this.scheduler.soon(this.commitPending)
    })
  }

  private readonly commitPending = (): void => {
    this.commitScheduled = false
    const writes = this.pendingWrites.splice(0, groupCommitWritesMax)
    if (this.pendingWrites.length > 0) {
      this.commitScheduled = true
      this.scheduler.soon(this.commitPending)
    }
    if (writes.length === 0) return
    const operations: BatchOperation[] = writes.map((write) => (write.value === undefined ? {type: 'del', key: write.key} : {type: 'put', key: write.key, value: write.value}))
    const counts = this.replicaCountsRecord()
    writeBatch(this.db, [...operations, ...counts], writes.some((write) => write.sync)).then(
      () => {
        for (const write of writes) write.resolve()
      },
      (error: Error) => {
        if (counts.length > 0) this.replicaCountsUnsaved = true
        for (const write of writes) write.reject(error)
      },
    )
  }

  /** One page of a partition's objects in key order, starting after `afterKey`. */
  async scanPartition(
    partition: number,
    afterKey: string | undefined,
    limit: number,
  ): Promise<Array<{key: string; object: StoredObject}>> {
    assert(limit >= 1 && limit <= scanPageMax, `scan limit ${limit} out of range`)
    // A scan reads LevelDB only, so whatever is buffered goes there first.
    await this.flush()
    const range = partitionRange(partition)
    const options = afterKey === undefined ? {...range, limit} : {gt: objectKey(partition, afterKey), lt: range.lt, limit}
    const page: Array<{key: string; object: StoredObject}> = []
    for await (const [rawKey, rawValue] of this.db.iterator(options)) {
      page.push({key: decodeObjectKey(rawKey).key, object: decodeObject(rawValue)})
    }
    return page
  }

  /**
   * Read an object from the database and cache it. The lookup is synchronous: on LevelDB it is
   * answered from the memtable, the block cache or the OS page cache in microseconds, and on this
   * machine it costs about a seventh of the CPU of an asynchronous get, whose hand-off to the
   * thread pool dominates (50,000 lookups: 45 ms against 339 ms). Only a block that must come from
   * disk blocks the event loop, for a disk read; the object cache keeps the hot keys from coming
   * here at all. On memory-level it is a lookup in a tree. Being synchronous, a read cannot be
   * overtaken by a write: what it caches is what the database holds, and a write in flight
   * replaces it in the cache when it completes.
   */
  private read(id: string, dbKey: Buffer): StoredObject | undefined {
    const raw = this.db.getSync(dbKey)
    if (raw === undefined) return undefined
    const object = decodeObject(raw)
    this.cache.set(id, object)
    return object
  }

  /**
   * Records of the hint namespace (layout.ts), for the hint store (src/handoff/hints.ts), which
   * does its own encoding and its own per-key serialization. They bypass the object cache and
   * the write buffer: a hint is written once and read once, when it is delivered.
   */
  readRecord(dbKey: Buffer): Buffer | undefined {
    assert(isHintKey(dbKey), 'only hint records are read raw')
    return this.db.getSync(dbKey)
  }

  /**
   * Puts and deletes of hint records, as one batch, synced when durable. A deleted record (a
   * delivered hint) is owed to compaction, as a deleted object is; only deletes are looked up for
   * it (a hint is deleted once it is delivered, after a read that left it in LevelDB's memory).
   */
  async writeRecords(operations: readonly BatchOperation[], options: WriteOptions): Promise<void> {
    if (this.closing) throw new DynError('unreachable', 'the store is closing: this node is shutting down')
    let deletedBytes = 0
    let deletes = 0
    for (const operation of operations) {
      assert(isHintKey(operation.key), 'only hint records are written raw')
      if (operation.type !== 'del') continue
      const stored = this.db.getSync(operation.key)
      if (stored === undefined) continue
      deletedBytes += operation.key.length * 2 + stored.length
      deletes += 1
    }
    await writeBatch(this.db, operations, options.durable)
    this.deleteDebts.add(hintsDebtPartition, deletedBytes, deletes)
  }

  /** One page of hint records in key order within `range`, starting after `afterKey`. */
  async scanRecords(range: {readonly gte: Buffer; readonly lt: Buffer}, afterKey: Buffer | undefined, limit: number): Promise<Array<{key: Buffer; value: Buffer}>> {
    assert(limit >= 1 && limit <= scanPageMax, `scan limit ${limit} out of range`)
    assert(inHintNamespace(range.gte) && (inHintNamespace(range.lt) || range.lt.equals(Buffer.of(range.gte[0]! + 1))), 'only hint records are scanned raw')
    const options = afterKey === undefined ? {gte: range.gte, lt: range.lt, limit} : {gt: afterKey, lt: range.lt, limit}
    const page: Array<{key: Buffer; value: Buffer}> = []
    for await (const [key, value] of this.db.iterator(options)) page.push({key: Buffer.from(key), value: Buffer.from(value)})
    return page
  }

  async getMeta<T>(name: string): Promise<T | undefined> {
    return getMetaOf<T>(this.db, name)
  }

  async putMeta(name: string, value: unknown): Promise<void> {
    const putOptions: SyncedPutOptions = {sync: true}
    await this.db.put(metaKey(name), packr.pack(value), putOptions)
  }

  /** True when the store holds no object (metadata aside): a node may then join another cluster. */
  async isObjectFree(): Promise<boolean> {
    if (this.bufferedCount > 0 || this.unlanded.size > 0) return false
    for await (const _key of this.db.keys({gte: objectKey(0, ''), limit: 1})) return false
    return true
  }

  /** True when the store holds no record at all: a node that starts on it needs a new epoch. */
  async isEmpty(): Promise<boolean> {
    for await (const _key of this.db.keys({limit: 1})) return false
    return true
  }
}

/**
 * Counts the stored objects by walking their keys once, before the store serves: no write can
 * run meanwhile, so the count and the increments that follow never overlap. Keys only (no
 * values) are read, so this costs about a second per few million keys at start-up.
 */
async function countObjects(db: StoreDatabase): Promise<number> {
  let count = 0
  for await (const _key of db.keys(objectNamespaceRange())) count += 1
  return count
}

/** The metadata record of `replicaCounts`. */
const replicaCountsMetaName = 'replica-counts'

/**
 * What one entry of a stored object (an actor's counters, times, and its values' content types and
 * flags) adds to the object's record beside the value bytes: about 100 bytes (a tombstone over a
 * value, two entries, encodes to 212 bytes).
 */
const storedEntryOverheadBytes = 100

/** The metadata record of the debt to compaction (delete-debt.ts). */
const deleteDebtMetaName = 'delete-debt'

/** classic-level's range methods, which abstract-level's types do not name; memory-level has neither. */
interface Compactor {
  readonly compactRange: (start: Buffer, end: Buffer) => Promise<void>
  readonly approximateSize: (start: Buffer, end: Buffer) => Promise<number>
}

/**
 * The debt to compaction a store opens with, or undefined when it must be swept (see
 * `deleteDebtKnown`). Only a database that can compact keeps the record (memory-level, in the
 * simulator, has nothing to compact). A store without the record that takes almost nothing on
 * disk (a new one, above all) owes nothing worth a sweep: its empty record is written at the next
 * save, so that it is not taken for an older store at its next start.
 */
async function openDeleteDebts(db: StoreDatabase): Promise<DeleteDebts | undefined> {
  const compactor = compactorOf(db)
  if (compactor === undefined) return undefined
  const recorded = DeleteDebts.fromRecord(await getMetaOf<unknown>(db, deleteDebtMetaName))
  if (recorded !== undefined) return recorded
  if ((await wholeDiskBytes(db, compactor)) >= compactionDeletedBytesFloor) return undefined
  const empty = new DeleteDebts()
  empty.markChanged()
  return empty
}

/** LevelDB's approximate size on disk of every record: its namespaces (layout.ts) all begin below 0xff. */
function wholeDiskBytes(db: StoreDatabase, compactor: Compactor): Promise<number> {
  return compactor.approximateSize.call(db, Buffer.of(0), Buffer.of(0xff))
}

/** The key range a debt is owed by: partitions `first` to `last`, or the hint records. */
function debtRange(first: number, last: number): {gte: Buffer; lt: Buffer} {
  if (first === hintsDebtPartition && last === hintsDebtPartition) return hintRange()
  assert(first <= last && last <= partitionIndexMax, `partitions ${first} to ${last} are not a span of partitions`)
  return {gte: partitionRange(first).gte, lt: partitionRange(last).lt}
}

function compactorOf(db: StoreDatabase): Compactor | undefined {
  const methods = db as Partial<Compactor>
  if (typeof methods.compactRange !== 'function' || typeof methods.approximateSize !== 'function') return undefined
  return {compactRange: methods.compactRange, approximateSize: methods.approximateSize}
}

async function getMetaOf<T>(db: StoreDatabase, name: string): Promise<T | undefined> {
  const raw = await db.get(metaKey(name))
  return raw === undefined ? undefined : (packr.unpack(raw) as T)
}

/**
 * The distinct `n` of every stored object, read from the objects themselves: only for a store
 * written before the set was kept, once, at its first open (the set is persisted from then on).
 */
async function scanReplicaCounts(db: StoreDatabase): Promise<number[]> {
  const counts = new Set<number>()
  for await (const raw of db.values(objectNamespaceRange())) counts.add(decodeObject(raw).n)
  return [...counts]
}

function bufferId(partition: number, key: string): string {
  return `${partition}/${key}`
}

function encodeObject(object: StoredObject): Buffer {
  assert(isValidVersionSet(object.versions), 'refusing to store a malformed version set')
  return encodeStoredObject(object)
}

/** An object as LevelDB holds it: in the codec's layout, or as a msgpack map (written before it). */
function decodeObject(raw: Buffer): StoredObject {
  const object = isCodecObject(raw) ? decodeStoredObject(raw) : (packr.unpack(raw) as StoredObject)
  assert(isValidVersionSet(object.versions) && Number.isInteger(object.n), 'stored object is malformed')
  return object
}
