/**
 * Giving deleted space back (issue 14: "deletes that free space"): a node's store compacts the
 * key range of a partition once the data deleted there is worth it. A delete writes a tombstone
 * over the value, and reaped tombstones, copies handed off by a release and strays released by
 * anti-entropy are deleted outright; LevelDB keeps the old records until a compaction merges them
 * with what replaced them, and it compacts by how much is written, so a store that only deletes
 * kept its size (150 values of 200 KB, deleted and reaped: 30 MB before, 30.5 MB after).
 *
 * The store counts what each partition owes (delete-debt.ts: bytes of deleted values, deleted
 * objects) and keeps the count across restarts. One task, every `compactionIntervalMs`, asks
 * compaction-core.ts which partitions are due (4 MiB or 256 deletes owed at once, 64 KiB owed for
 * a minute) and compacts those, the largest debt first, that owe at least a quarter of what their
 * range takes on disk (LevelDB's approximate size), at most `compactionPartitionsPerRoundMax` a
 * round, so the disk work comes in bounded steps while the node serves. LevelDB compacts in its
 * own thread and keeps answering reads and writes meanwhile.
 *
 * A store that opened without a record of its debt (written by a version that kept none) is swept
 * once, a few partitions a round: LevelDB's approximate sizes say which partitions take space,
 * and a partition's debt is what it takes beyond its live records. The simulator's memory-level
 * has nothing to compact, and the task does nothing there.
 */

import {isLoggedCount} from '../logged-count.js'
import type {Subsystem} from '../subsystem.js'
import {compactionQueue, compactionRoomBytes, halves, sweepStep, sweptDebtBytes, worthCompacting} from './compaction-core.js'
import type {CompactionTrigger, PartitionSpan} from './compaction-core.js'
import {partitionIndexMax} from './layout.js'
import type {Store} from './store.js'

/** How often a node looks for partitions to compact. */
export const compactionIntervalMs = 5000
/** Partitions compacted in one round at most (a small partition's range compacts in milliseconds). */
export const compactionPartitionsPerRoundMax = 16
/**
 * LevelDB size questions (the approximate size of a range, read from its files' indexes in
 * microseconds) in one round at most, the sweep's and the compactions' together.
 */
export const compactionProbesPerRoundMax = 256
/**
 * Live bytes the sweep reads in one round at most (at least one partition): 64 MiB every 5 s, so
 * a store of 10 GiB is swept in under 15 minutes, once.
 */
export const sweepBytesPerRoundMax = 64 * 1024 * 1024

/** One partition compacted in a round: why, and what it owed. */
interface Compacted {
  readonly partition: number
  readonly trigger: CompactionTrigger
  readonly deletedBytes: number
  readonly deletes: number
}

/** What a compaction asks of the disk under the store, from the node's shell (file system calls). */
export interface CompactionDisk {
  /** The bytes free on the file system that holds the store, or undefined when it does not say. */
  freeBytes(): Promise<number | undefined>
  /** The bytes the store's folder takes (its files: LevelDB's own sizes leave out its log). */
  databaseBytes(): Promise<number>
}

/**
 * `disk`: asked before each compaction, which is put off while the disk has less free than it
 * may need (`compactionRoomBytes`); absent (a store in memory), nothing is put off.
 */
export function compactionSubsystem(store: Store, log: (line: string) => void, clock: {monotonicMs(): number}, disk?: CompactionDisk): Subsystem {
  /** `deferredForSpace`: compactions put off because the disk had less free than they may need. */
  const counts = {partitionsCompacted: 0, lastRoundMs: 0, diskBytesFreed: 0, deferredForSpace: 0}
  /** When a round first saw each partition owe something (monotonic ms); a compaction clears it. */
  const owedSinceMs = new Map<number, number>()
  /**
   * The spans of partitions the sweep has still to look at, depth first (at most two per level
   * of halving, so at most 2 × 16 entries).
   */
  const unswept: PartitionSpan[] = store.deleteDebtRecorded ? [] : [{first: 0, last: partitionIndexMax}]
  let running: Promise<void> | undefined
  let stopped = false

  /** One round's share of the sweep; the debt it finds is recorded as the partitions' deleted bytes. */
  const sweepSome = async (probes: {left: number}): Promise<void> => {
    let bytesRead = 0
    while (!stopped && unswept.length > 0 && probes.left > 0 && bytesRead < sweepBytesPerRoundMax) {
      const span = unswept.pop()!
      probes.left -= 1
      const diskBytes = (await store.partitionsDiskBytes(span.first, span.last)) ?? 0
      const step = sweepStep(span, diskBytes)
      if (step === 'split') unswept.push(...halves(span).reverse())
      else if (step === 'measure') {
        const liveBytes = await store.partitionLiveBytes(span.first, () => stopped)
        if (liveBytes === undefined) return
        bytesRead += liveBytes
        store.recordSweptDebt(span.first, sweptDebtBytes(diskBytes, liveBytes))
      }
    }
    if (stopped || unswept.length > 0) return
    store.finishDebtSweep()
    if (store.partitionsOwing > 0) log(`swept the store for the space of data deleted before it was counted: ${mib(store.deletedBytesUncompacted)} MiB owed in ${store.partitionsOwing} partition(s)`)
  }

  const round = async (): Promise<void> => {
    const startedMs = clock.monotonicMs()
    const probes = {left: compactionProbesPerRoundMax}
    if (!store.deleteDebtRecorded) await sweepSome(probes)
    const nowMs = clock.monotonicMs()
    const owed = store.owedPartitions()
    const owing = new Map(owed.map((debt) => [debt.partition, debt]))
    for (const partition of [...owedSinceMs.keys()]) if (!owing.has(partition)) owedSinceMs.delete(partition)
    for (const debt of owed) if (!owedSinceMs.has(debt.partition)) owedSinceMs.set(debt.partition, nowMs)
    const queue = compactionQueue(owed.map((debt) => ({...debt, owedForMs: nowMs - owedSinceMs.get(debt.partition)!})))
    const compacted: Compacted[] = []
    // What the compactions free is measured over the whole store: LevelDB compacts whole files,
    // and a file holds neighbouring partitions too, whose garbage goes with it.
    let diskBytesBefore: number | undefined
    for (const {partition, trigger} of queue) {
      if (stopped || compacted.length >= compactionPartitionsPerRoundMax || probes.left <= 0) break
      probes.left -= 1
      const partitionBytes = (await store.partitionsDiskBytes(partition)) ?? 0
      if (!worthCompacting(owing.get(partition)!.deletedBytes, partitionBytes)) continue
      diskBytesBefore ??= (await store.diskBytes()) ?? 0
      // A compaction that fills the disk stops the store's writes until a restart: it waits until
      // there is room, and says so (its debt stays counted, so it runs once there is).
      const lacking = await roomLacking(disk, partitionBytes)
      if (lacking !== undefined) {
        counts.deferredForSpace += 1
        if (isLoggedCount(counts.deferredForSpace)) {
          log(`compaction put off (${counts.deferredForSpace} time(s) so far): the disk has ${mib(lacking.freeBytes)} MiB free, and compacting partition ${partition} may need ${mib(lacking.roomBytes)} MiB; the space of deleted data (${mib(store.deletedBytesUncompacted)} MiB) is given back once the disk has room (free some, or grow it)`)
        }
        break
      }
      const paid = await store.compactPartition(partition)
      if (paid === undefined) break
      owedSinceMs.delete(partition)
      compacted.push({partition, trigger, deletedBytes: paid.deletedBytes, deletes: paid.deletes})
    }
    await store.saveDeleteDebt()
    if (compacted.length === 0) return
    const freed = Math.max(0, diskBytesBefore! - ((await store.diskBytes()) ?? 0))
    counts.partitionsCompacted += compacted.length
    counts.lastRoundMs = Math.round(clock.monotonicMs() - startedMs)
    counts.diskBytesFreed += freed
    const deletedBytes = compacted.reduce((sum, one) => sum + one.deletedBytes, 0)
    const deletes = compacted.reduce((sum, one) => sum + one.deletes, 0)
    const triggers = [...new Set(compacted.map((one) => one.trigger))].join(', ')
    log(`compacted ${compacted.length} partition(s) owing ${mib(deletedBytes)} MiB of deleted values and ${deletes} deletes (${triggers}; ${counts.lastRoundMs} ms): ${mib(freed)} MiB given back`)
  }

  return {
    name: 'compaction',
    handlers: new Map(),
    periodicTasks: [
      {
        name: 'compaction',
        intervalMs: compactionIntervalMs,
        run: async () => {
          // A round that outlasts the interval is not overlapped by the next one.
          if (!store.canCompact || stopped || running !== undefined) return
          running = round()
          try {
            await running
          } finally {
            running = undefined
          }
        },
      },
    ],
    stats: () => ({
      compaction: {
        ...counts,
        deletesUncompacted: store.deletesUncompacted,
        deletedBytesUncompacted: store.deletedBytesUncompacted,
        partitionsOwing: store.partitionsOwing,
        sweeping: !store.deleteDebtRecorded,
      },
    }),
    // The round under way stops at its next step; closing the store then waits for a compaction
    // still running and saves the debt.
    stop: async () => {
      stopped = true
      await running?.catch(() => undefined)
    },
  }
}

/**
 * The bytes free and the bytes a compaction of a partition taking `partitionBytes` may need, when
 * the disk has less free than that; undefined when it has room, or when there is no disk to ask
 * (a store in memory) or it does not say.
 */
async function roomLacking(disk: CompactionDisk | undefined, partitionBytes: number): Promise<{freeBytes: number; roomBytes: number} | undefined> {
  const freeBytes = await disk?.freeBytes()
  if (disk === undefined || freeBytes === undefined) return undefined
  const roomBytes = compactionRoomBytes(await disk.databaseBytes(), partitionBytes)
  return freeBytes < roomBytes ? {freeBytes, roomBytes} : undefined
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1)
}
