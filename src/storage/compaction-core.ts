/**
 * When to compact a partition's key range to give the space of deleted data back: numbers in, a
 * decision out, so that every case is unit-tested (compaction-subsystem.ts is the shell that asks
 * LevelDB for the numbers and compacts).
 *
 * LevelDB compacts according to how much is written, not how much is deleted: a store that
 * deletes keeps the old records until some compaction happens to reach their files. A partition
 * is compacted here once its debt (delete-debt.ts: bytes of deleted values, deleted objects) is
 * large enough by size or by count, or has waited long enough, and only when what it owes is a
 * fair share of what the partition takes on disk, since compacting rewrites that.
 *
 * The bounds this gives, for any value size:
 * - amount: a partition is compacted at the next round (every 5 s) once it owes 4 MiB or 256
 *   deleted objects, and within a minute once it owes 64 KiB; less stays until more comes;
 * - time: anything at or above 64 KiB is back within about 70 s (the minute counts from the round
 *   that first sees the debt; plus the rounds needed to reach it, at most 16 partitions a round);
 * - cost: a partition is compacted only if what it owes is at least a quarter of its size on
 *   disk, so a compaction writes at most about 4 bytes per byte it frees (less where values
 *   compress); a large partition with a little garbage keeps it, at most a quarter of its size.
 *
 * @reference RocksDB's deletion-triggered compaction (CompactOnDeletionCollector marks a file that
 *   holds D deletes among N entries, or a deletion ratio, for compaction).
 * @reference Cassandra's single-SSTable tombstone compaction (`tombstone_threshold` 0.2 of the
 *   file droppable, `tombstone_compaction_interval`), and ScyllaDB's advice against compactions
 *   that free nothing, which the share below prevents.
 */

import type {PartitionDebt} from './delete-debt.js'

const kibibyte = 1024
const mebibyte = 1024 * kibibyte

/** Deleted bytes that get a partition compacted at the next round: large values come back within seconds. */
export const compactionDeletedBytesMin = 4 * mebibyte
/**
 * Deleted objects that get a partition compacted at the next round, whatever their size: many
 * small objects, whose delete markers LevelDB also reads past on every scan of the range.
 */
export const compactionDeletesMin = 256
/** How long a smaller debt (at least `compactionDeletedBytesFloor`) waits before its partition is compacted. */
export const compactionDelayMs = 60_000
/**
 * Deleted bytes below which a partition's debt waits for more (or for LevelDB's own compactions):
 * at most this much deleted data stays per partition for ever, 4 MiB for a store of 64 partitions.
 */
export const compactionDeletedBytesFloor = 64 * kibibyte
/**
 * A partition is compacted only if what it owes is at least this share of its size on disk: a
 * compaction rewrites the partition, so it then writes at most 1 / 0.25 = 4 bytes per byte it frees.
 */
export const compactionGarbageShareMin = 0.25

/** A partition's debt and how long it has been owed (since the round that first saw it). */
export interface OwedPartition extends PartitionDebt {
  readonly owedForMs: number
}

export type CompactionTrigger = 'deleted bytes' | 'deletes' | 'delay'

/** Why a partition's debt asks for a compaction now, or undefined while it waits. */
export function compactionTrigger(owed: OwedPartition): CompactionTrigger | undefined {
  // Nothing owed.
  if (owed.deletedBytes === 0 && owed.deletes === 0) return undefined
  // A partition's worth of deleted bytes: large values.
  if (owed.deletedBytes >= compactionDeletedBytesMin) return 'deleted bytes'
  // Many deleted objects: small values.
  if (owed.deletes >= compactionDeletesMin) return 'deletes'
  // Enough to matter, owed for a while: anything else.
  if (owed.deletedBytes >= compactionDeletedBytesFloor && owed.owedForMs >= compactionDelayMs) return 'delay'
  // Little owed, or not for long: wait.
  return undefined
}

/**
 * Whether compacting a partition that owes `deletedBytes` and takes `diskBytes` on disk (LevelDB's
 * approximate size of its range) frees enough for what it rewrites. A partition whose records are
 * still only in LevelDB's memory (0 bytes on disk) is always worth it: its compaction writes little.
 */
export function worthCompacting(deletedBytes: number, diskBytes: number): boolean {
  return deletedBytes >= compactionGarbageShareMin * diskBytes
}

/**
 * Free disk a partition's compaction may need beyond the database itself: LevelDB writes the new
 * tables before it deletes the old ones, and a range's compaction also rewrites every table of the
 * top two levels it overlaps (level 0's tables each span the whole key space; level 1 holds about
 * 10 MiB by default), not only the range's own bytes in the levels below. A walk's node at 79% of
 * a small disk rewrote 10 of its 16 MiB compacting one partition, filled the disk and stopped its
 * writes.
 */
export const compactionHeadroomTopLevelsBytes = 64 * 1024 * 1024

/**
 * Free bytes every compaction keeps in hand however small the database: a range's compaction
 * first flushes LevelDB's memtable into a table (up to its 4 MiB write buffer), and the log goes
 * on taking writes meanwhile.
 */
export const compactionHeadroomFloorBytes = 8 * 1024 * 1024

/**
 * The free bytes a compaction of a partition taking `partitionBytes` needs on a database taking
 * `databaseBytes` (its folder's files: LevelDB's own sizes leave out what is still in its log and
 * memtable): the top levels' allowance and twice the range, but never more than the whole
 * database (which a compaction cannot outgrow), and at least the floor.
 */
export function compactionRoomBytes(databaseBytes: number, partitionBytes: number): number {
  return Math.max(compactionHeadroomFloorBytes, Math.min(databaseBytes, compactionHeadroomTopLevelsBytes + 2 * partitionBytes))
}

/** The partitions whose debt asks for a compaction now, the largest debt first (by bytes, then objects). */
export function compactionQueue(owed: readonly OwedPartition[]): Array<{readonly partition: number; readonly trigger: CompactionTrigger}> {
  const due = owed.flatMap((one) => {
    const trigger = compactionTrigger(one)
    return trigger === undefined ? [] : [{one, trigger}]
  })
  due.sort((a, b) => b.one.deletedBytes - a.one.deletedBytes || b.one.deletes - a.one.deletes || a.one.partition - b.one.partition)
  return due.map(({one, trigger}) => ({partition: one.partition, trigger}))
}

/**
 * A range of partition indexes, first to last inclusive, that the sweep looks at. A store whose
 * debt was never recorded (written before it was, or its record lost) is swept once: LevelDB's
 * approximate size of a range says where the disk is used, without knowing how many partitions
 * the ring has, and a partition whose objects were all deleted holds no key to find it by.
 */
export interface PartitionSpan {
  readonly first: number
  readonly last: number
}

export type SweepStep = 'skip' | 'measure' | 'split'

/** What the sweep does with a span that takes `diskBytes` on disk. */
export function sweepStep(span: PartitionSpan, diskBytes: number): SweepStep {
  // Too little on disk to hold a debt that would ever be compacted.
  if (diskBytes < compactionDeletedBytesFloor) return 'skip'
  // One partition: count its live objects' bytes.
  if (span.first === span.last) return 'measure'
  // Several: look at each half.
  return 'split'
}

/** The two halves of a span of more than one partition. */
export function halves(span: PartitionSpan): [PartitionSpan, PartitionSpan] {
  const middle = Math.floor((span.first + span.last) / 2)
  return [
    {first: span.first, last: middle},
    {first: middle + 1, last: span.last},
  ]
}

/**
 * The deleted bytes a swept partition owes: what it takes on disk beyond its live records (keys
 * and values as stored). A lower bound: values that LevelDB compresses take less on disk than
 * their bytes, which hides that much of the garbage.
 */
export function sweptDebtBytes(diskBytes: number, liveBytes: number): number {
  return Math.max(0, Math.floor(diskBytes - liveBytes))
}
