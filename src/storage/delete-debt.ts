/**
 * What a store owes LevelDB's compaction, per partition: the bytes of values it deleted and the
 * objects it deleted since that partition's key range was last compacted (and the same for the
 * hint records, delivered hints being deleted, as one more range: `hintsDebtPartition`). LevelDB writes a delete
 * (and an overwrite) as a new record and drops the old one only when a compaction merges the two;
 * its own compactions are driven by how much is written, so a store that only deletes keeps every
 * deleted byte on disk. The compaction subsystem (compaction-subsystem.ts) pays the debt back.
 *
 * Pure data: the store adds to it as objects change, takes a partition's share before compacting
 * it (and gives it back if the compaction fails), and persists it as a metadata record, so that a
 * restart does not forget what is owed. One entry per partition that owes anything, so its size
 * is bounded by the partitions a store can hold (layout.ts's `partitionIndexMax`).
 */

import {assert} from '../errors.js'
import {partitionIndexMax} from './layout.js'

/** The hint records' key range, owed as one more partition after every partition of objects. */
export const hintsDebtPartition = partitionIndexMax + 1

/** One partition's debt: deleted value bytes (an estimate of what compacting frees) and deleted objects. */
export interface PartitionDebt {
  readonly partition: number
  readonly deletedBytes: number
  readonly deletes: number
}

/** The persisted form, versioned so that a record of another layout is ignored (and the debt swept again). */
export interface DeleteDebtRecord {
  readonly version: typeof deleteDebtRecordVersion
  /** `[partition, deletedBytes, deletes]` per partition that owes anything. */
  readonly partitions: ReadonlyArray<readonly [number, number, number]>
}

export const deleteDebtRecordVersion = 1

export class DeleteDebts {
  private readonly byPartition = new Map<number, {deletedBytes: number; deletes: number}>()
  private totalBytes = 0
  private totalDeletes = 0
  /** Changed since the last `takeChanged`: the record on disk is behind. */
  private changed = false

  /** Adds what one change freed: `deletedBytes` of values, and `deletes` objects deleted outright. */
  add(partition: number, deletedBytes: number, deletes: number): void {
    // On every reap and every write that drops bytes: the message is built only for a failure.
    if (!(Number.isInteger(partition) && partition >= 0 && partition <= hintsDebtPartition)) assert(false, `partition ${partition} out of range`)
    assert(Number.isInteger(deletedBytes) && deletedBytes >= 0 && Number.isInteger(deletes) && deletes >= 0, 'a debt is counted in whole bytes and objects')
    if (deletedBytes === 0 && deletes === 0) return
    const entry = this.byPartition.get(partition)
    if (entry === undefined) this.byPartition.set(partition, {deletedBytes, deletes})
    else {
      entry.deletedBytes += deletedBytes
      entry.deletes += deletes
    }
    this.totalBytes += deletedBytes
    this.totalDeletes += deletes
    this.changed = true
  }

  /**
   * Raises a partition's deleted bytes to at least `deletedBytes`: what a sweep found on disk
   * beyond the live objects, which includes whatever was counted since the store opened.
   */
  raise(partition: number, deletedBytes: number): void {
    const owed = this.byPartition.get(partition)?.deletedBytes ?? 0
    if (deletedBytes > owed) this.add(partition, deletedBytes - owed, 0)
  }

  /** Removes and returns a partition's debt, as a compaction of its range starts. */
  take(partition: number): PartitionDebt | undefined {
    const entry = this.byPartition.get(partition)
    if (entry === undefined) return undefined
    this.byPartition.delete(partition)
    this.totalBytes -= entry.deletedBytes
    this.totalDeletes -= entry.deletes
    this.changed = true
    return {partition, ...entry}
  }

  /** Gives back a debt `take` removed, when its compaction failed. */
  restore(debt: PartitionDebt): void {
    this.add(debt.partition, debt.deletedBytes, debt.deletes)
  }

  /** Every partition that owes anything, in partition order. */
  list(): PartitionDebt[] {
    return [...this.byPartition.entries()].sort(([a], [b]) => a - b).map(([partition, entry]) => ({partition, ...entry}))
  }

  /** Partitions that owe anything. */
  get partitions(): number {
    return this.byPartition.size
  }

  get deletedBytes(): number {
    return this.totalBytes
  }

  get deletes(): number {
    return this.totalDeletes
  }

  /** True once after any change: the caller writes the record then. */
  takeChanged(): boolean {
    const changed = this.changed
    this.changed = false
    return changed
  }

  /** The record on disk is behind (a write of it failed, or it was never written). */
  markChanged(): void {
    this.changed = true
  }

  toRecord(): DeleteDebtRecord {
    return {version: deleteDebtRecordVersion, partitions: this.list().map((debt) => [debt.partition, debt.deletedBytes, debt.deletes] as const)}
  }

  /** The debts of a record, or undefined for a record this code cannot read (another version, or damaged). */
  static fromRecord(record: unknown): DeleteDebts | undefined {
    const candidate = record as Partial<DeleteDebtRecord> | undefined
    if (candidate?.version !== deleteDebtRecordVersion || !Array.isArray(candidate.partitions)) return undefined
    const debts = new DeleteDebts()
    for (const entry of candidate.partitions) {
      const [partition, deletedBytes, deletes] = Array.isArray(entry) ? entry : []
      const whole = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 0
      if (!whole(partition) || partition > hintsDebtPartition || !whole(deletedBytes) || !whole(deletes)) return undefined
      debts.add(partition, deletedBytes, deletes)
    }
    debts.changed = false
    return debts
  }
}
