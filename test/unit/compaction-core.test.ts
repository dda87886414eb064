/**
 * When a partition is compacted to give deleted space back (src/storage/compaction-core.ts), case
 * by case, and what a partition owes (src/storage/delete-debt.ts): pure numbers, no LevelDB.
 * test/unit/compaction-subsystem.test.ts runs the same decisions on real LevelDB.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'
import {
  compactionRoomBytes,
  compactionDelayMs,
  compactionDeletedBytesFloor,
  compactionDeletedBytesMin,
  compactionDeletesMin,
  compactionGarbageShareMin,
  compactionQueue,
  compactionTrigger,
  halves,
  sweepStep,
  sweptDebtBytes,
  worthCompacting,
} from '../../src/storage/compaction-core.js'
import type {OwedPartition, PartitionSpan} from '../../src/storage/compaction-core.js'
import {DeleteDebts, hintsDebtPartition} from '../../src/storage/delete-debt.js'
import {partitionIndexMax} from '../../src/storage/layout.js'

function owed(deletedBytes: number, deletes: number, owedForMs = 0, partition = 0): OwedPartition {
  return {partition, deletedBytes, deletes, owedForMs}
}

describe('compactionTrigger', () => {
  it('asks nothing of a partition that owes nothing, however long', () => {
    assert.equal(compactionTrigger(owed(0, 0, 10 * compactionDelayMs)), undefined)
  })

  it('compacts at once a partition owing a partition\'s worth of deleted bytes, however few the objects (large values)', () => {
    assert.equal(compactionTrigger(owed(compactionDeletedBytesMin, 0)), 'deleted bytes')
    assert.equal(compactionTrigger(owed(compactionDeletedBytesMin, 1)), 'deleted bytes')
    assert.equal(compactionTrigger(owed(compactionDeletedBytesMin - 1, 1)), undefined)
  })

  it('compacts at once a partition with many deleted objects, however small (small values)', () => {
    assert.equal(compactionTrigger(owed(compactionDeletesMin * 40, compactionDeletesMin)), 'deletes')
    assert.equal(compactionTrigger(owed(0, compactionDeletesMin)), 'deletes')
    assert.equal(compactionTrigger(owed(compactionDeletesMin * 40, compactionDeletesMin - 1)), undefined)
  })

  it('compacts a smaller debt once it has been owed the delay, if it reaches the floor (any value size)', () => {
    assert.equal(compactionTrigger(owed(compactionDeletedBytesFloor, 1, compactionDelayMs)), 'delay')
    assert.equal(compactionTrigger(owed(compactionDeletedBytesFloor, 1, compactionDelayMs - 1)), undefined, 'not yet')
    assert.equal(compactionTrigger(owed(compactionDeletedBytesFloor - 1, compactionDeletesMin - 1, 100 * compactionDelayMs)), undefined, 'below the floor it waits for more')
  })

  it('bounds what a partition keeps: any debt past the floor is due after the delay, any past the minimums at once', () => {
    fc.assert(
      fc.property(fc.nat(64 * 1024 * 1024), fc.nat(10_000), fc.nat(10 * compactionDelayMs), (deletedBytes, deletes, owedForMs) => {
        const trigger = compactionTrigger(owed(deletedBytes, deletes, owedForMs))
        if (deletedBytes >= compactionDeletedBytesMin || deletes >= compactionDeletesMin) assert.notEqual(trigger, undefined)
        if (deletedBytes >= compactionDeletedBytesFloor && owedForMs >= compactionDelayMs) assert.notEqual(trigger, undefined)
        if (trigger !== undefined) assert.ok(deletedBytes >= compactionDeletedBytesFloor || deletes >= compactionDeletesMin, 'nothing below both floors is compacted')
      }),
    )
  })
})

describe('worthCompacting', () => {
  it('rewrites a partition only when it owes at least a quarter of what it takes on disk', () => {
    assert.equal(compactionGarbageShareMin, 0.25)
    assert.equal(worthCompacting(250, 1000), true)
    assert.equal(worthCompacting(249, 1000), false)
    // A partition that was all deleted owes about what it takes, or more where values compress.
    assert.equal(worthCompacting(3000, 1000), true)
  })

  it('compacts a partition whose records are only in LevelDB\'s memory (nothing on disk yet): it costs a small write', () => {
    assert.equal(worthCompacting(1, 0), true)
  })
})

describe('compactionQueue', () => {
  it('lists the partitions due, the largest debt first (bytes, then objects, then the lower partition), and leaves the others', () => {
    const queue = compactionQueue([
      owed(compactionDeletedBytesFloor, 1, 0, 1),
      owed(compactionDeletedBytesMin, 0, 0, 2),
      owed(100, compactionDeletesMin, 0, 3),
      owed(compactionDeletedBytesFloor, 1, compactionDelayMs, 4),
      owed(compactionDeletedBytesMin * 2, 0, 0, 5),
      owed(100, compactionDeletesMin + 1, 0, 6),
      owed(100, compactionDeletesMin + 1, 0, 7),
    ])
    assert.deepEqual(queue, [
      {partition: 5, trigger: 'deleted bytes'},
      {partition: 2, trigger: 'deleted bytes'},
      {partition: 4, trigger: 'delay'},
      {partition: 6, trigger: 'deletes'},
      {partition: 7, trigger: 'deletes'},
      {partition: 3, trigger: 'deletes'},
    ])
  })
})

describe('the sweep of a store whose debt was never recorded', () => {
  it('skips a span with little on disk, measures a single partition, splits a larger span', () => {
    assert.equal(sweepStep({first: 0, last: partitionIndexMax}, compactionDeletedBytesFloor - 1), 'skip')
    assert.equal(sweepStep({first: 0, last: partitionIndexMax}, compactionDeletedBytesFloor), 'split')
    assert.equal(sweepStep({first: 7, last: 7}, compactionDeletedBytesFloor), 'measure')
    assert.equal(sweepStep({first: 7, last: 7}, 0), 'skip')
  })

  it('halving every span from the whole index space reaches each partition once, within 16 halvings, with at most 2 spans pending a level', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({min: 0, max: partitionIndexMax}), {minLength: 1, maxLength: 40}), (used) => {
        // The disk holds something in the `used` partitions only; the sweep walks depth first.
        const onDisk = (span: PartitionSpan): number => (used.some((p) => p >= span.first && p <= span.last) ? compactionDeletedBytesFloor : 0)
        const pending: Array<PartitionSpan & {depth: number}> = [{first: 0, last: partitionIndexMax, depth: 0}]
        const measured: number[] = []
        let pendingMax = 0
        while (pending.length > 0) {
          const span = pending.pop()!
          assert.ok(span.depth <= 16)
          const step = sweepStep(span, onDisk(span))
          if (step === 'measure') measured.push(span.first)
          if (step === 'split') pending.push(...halves(span).reverse().map((half) => ({...half, depth: span.depth + 1})))
          pendingMax = Math.max(pendingMax, pending.length)
        }
        assert.deepEqual(measured, [...used].sort((a, b) => a - b))
        assert.ok(pendingMax <= 2 * 17)
      }),
    )
  })

  it('owes what a partition takes on disk beyond its live records, never less than nothing', () => {
    assert.equal(sweptDebtBytes(1000, 200), 800)
    assert.equal(sweptDebtBytes(1000, 3000), 0)
  })
})

describe('DeleteDebts', () => {
  it('adds per partition, takes a partition\'s debt for a compaction and gives it back if that fails', () => {
    const debts = new DeleteDebts()
    debts.add(3, 100, 1)
    debts.add(3, 50, 0)
    debts.add(1, 0, 2)
    debts.add(2, 0, 0)
    assert.deepEqual(debts.list(), [
      {partition: 1, deletedBytes: 0, deletes: 2},
      {partition: 3, deletedBytes: 150, deletes: 1},
    ])
    assert.deepEqual([debts.deletedBytes, debts.deletes, debts.partitions], [150, 3, 2])
    const taken = debts.take(3)
    assert.deepEqual(taken, {partition: 3, deletedBytes: 150, deletes: 1})
    assert.deepEqual([debts.deletedBytes, debts.deletes, debts.partitions], [0, 2, 1])
    assert.equal(debts.take(3), undefined)
    debts.restore(taken!)
    assert.deepEqual([debts.deletedBytes, debts.deletes, debts.partitions], [150, 3, 2])
  })

  it('raises a partition\'s bytes to what a sweep found, never lowers them', () => {
    const debts = new DeleteDebts()
    debts.add(4, 500, 1)
    debts.raise(4, 300)
    debts.raise(5, 0)
    assert.deepEqual(debts.list(), [{partition: 4, deletedBytes: 500, deletes: 1}])
    debts.raise(4, 800)
    assert.deepEqual(debts.list(), [{partition: 4, deletedBytes: 800, deletes: 1}])
  })

  it('says once that it changed, and round-trips its record; a record of another version or a damaged one is not read', () => {
    const debts = new DeleteDebts()
    assert.equal(debts.takeChanged(), false)
    debts.add(7, 10, 1)
    assert.equal(debts.takeChanged(), true)
    assert.equal(debts.takeChanged(), false)
    const read = DeleteDebts.fromRecord(debts.toRecord())
    assert.deepEqual(read?.list(), debts.list())
    assert.equal(read?.takeChanged(), false, 'a record just read is what the disk holds')
    assert.equal(DeleteDebts.fromRecord(undefined), undefined)
    assert.equal(DeleteDebts.fromRecord({version: 2, partitions: []}), undefined)
    assert.equal(DeleteDebts.fromRecord({version: 1, partitions: [[7, -1, 0]]}), undefined)
    assert.equal(DeleteDebts.fromRecord({version: 1, partitions: [[hintsDebtPartition + 1, 1, 0]]}), undefined)
    assert.deepEqual(DeleteDebts.fromRecord({version: 1, partitions: [[hintsDebtPartition, 1, 0]]})?.list(), [{partition: hintsDebtPartition, deletedBytes: 1, deletes: 0}])
    assert.equal(DeleteDebts.fromRecord({version: 1, partitions: ['x']}), undefined)
  })
})

describe('compactionRoomBytes', () => {
  it('asks the top levels\' allowance and twice the range, never more than the whole database, at least 8 MiB', () => {
    const mib = 1024 * 1024
    // A large database: the allowance and twice the partition's range.
    assert.equal(compactionRoomBytes(10_000 * mib, 30 * mib), 64 * mib + 60 * mib)
    // A small one cannot need more than itself (a compaction's output is at most its input).
    assert.equal(compactionRoomBytes(16 * mib, 2 * mib), 16 * mib)
    // However small the database (or its size read before LevelDB flushed), the floor: a
    // compaction flushes the memtable (up to 4 MiB) first.
    assert.equal(compactionRoomBytes(0, 0), 8 * mib)
    assert.equal(compactionRoomBytes(3 * mib, 0), 8 * mib)
    fc.assert(
      fc.property(fc.nat(1e12), fc.nat(1e12), (database, partition) => {
        const room = compactionRoomBytes(database, partition)
        return room >= 8 * mib && room <= Math.max(8 * mib, database)
      }),
    )
  })
})
