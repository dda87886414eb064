/**
 * Giving deleted space back (issue 14: "deletes that free space"): a node's store compacts the
 * key range of a partition once enough of its objects were deleted. Reaped tombstones, copies
 * handed off by a release and strays released by anti-entropy are all deletes, and LevelDB keeps
 * a delete marker for each until a compaction reaches its file; without this a store whose keys
 * were all deleted kept its size (2.5 MiB loaded, 3.9 MiB once every key was reaped).
 *
 * One task, every `compactionIntervalMs`: the partitions with at least `compactionDeletesMin`
 * deletes since their last compaction are compacted one after another, the most deleted first,
 * at most `compactionPartitionsPerRoundMax` of them, so the disk work comes in bounded steps
 * while the node serves. LevelDB compacts in its own
 * thread and keeps answering reads and writes meanwhile. The simulator's memory-level has
 * nothing to compact, and the task does nothing there.
 */

import type {Subsystem} from '../subsystem.js'
import type {Store} from './store.js'

/** How often a node looks for partitions to compact. */
export const compactionIntervalMs = 5000
/** Partitions compacted in one round at most (a small partition's range compacts in milliseconds). */
export const compactionPartitionsPerRoundMax = 16
/**
 * Deletes in one partition since its last compaction that make it worth compacting: a range of a
 * few hundred deleted keys compacts in milliseconds, and a store of 20,000 keys spread over 64
 * partitions that are all deleted (about 300 per partition) gets its space back.
 */
export const compactionDeletesMin = 256

export function compactionSubsystem(store: Store, log: (line: string) => void, clock: {monotonicMs(): number}): Subsystem {
  const counts = {partitionsCompacted: 0, lastRoundMs: 0}
  return {
    name: 'compaction',
    handlers: new Map(),
    periodicTasks: [
      {
        name: 'compaction',
        intervalMs: compactionIntervalMs,
        run: async () => {
          const startedMs = clock.monotonicMs()
          const compacted: Array<{partition: number; deletes: number}> = []
          for (let round = 0; round < compactionPartitionsPerRoundMax; round += 1) {
            const one = await store.compactMostDeleted(compactionDeletesMin)
            if (one === undefined) break
            compacted.push(one)
          }
          if (compacted.length === 0) return
          counts.partitionsCompacted += compacted.length
          counts.lastRoundMs = Math.round(clock.monotonicMs() - startedMs)
          const deletes = compacted.reduce((sum, one) => sum + one.deletes, 0)
          log(`compacted ${compacted.length} partition(s) after ${deletes} deletes (${counts.lastRoundMs} ms), giving their space back`)
        },
      },
    ],
    stats: () => ({compaction: {...counts, deletesUncompacted: store.deletesUncompacted}}),
    // Closing the store waits for a compaction under way.
    stop: async () => undefined,
  }
}
