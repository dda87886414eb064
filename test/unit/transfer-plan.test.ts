/**
 * The transfer plan for every n in use (src/handoff/transfer-plan.ts): for the cluster's default
 * N alone it is what it always was; with per-request n values, every member that becomes a home
 * of some n in use receives exactly the objects of the n it was no home of, from the old homes
 * under the largest such n (removed members aside).
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'
import {claimOwners, claimOwnersFrom, type Ring, ringFromOwners} from '../../src/ring/ring.js'
import {homesOf, inReplicaCountRange, planTransfers} from '../../src/handoff/transfer-plan.js'

const names = (min: number, max: number) => fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/), {minLength: min, maxLength: max})

function ringOf(q: number, members: readonly string[], from?: Ring): Ring {
  return ringFromOwners(q, members, from === undefined ? claimOwners(q, members) : claimOwnersFrom(q, from.owners, members))
}

/** The rings before and after one change: a join of `changed`, or its departure. */
function change(q: number, members: readonly string[], changed: string, join: boolean): {before: Ring; after: Ring} {
  const start = join ? members.filter((name) => name !== changed) : members
  const before = ringOf(q, start)
  const after = ringOf(q, join ? [...start, changed] : start.filter((name) => name !== changed), before)
  return {before, after}
}

describe('transfer plan for every n in use', () => {
  it('for the default N alone is the plan by N: the same transfers, sources and order', () => {
    fc.assert(
      fc.property(fc.constantFrom(8, 16, 64), names(3, 8), fc.constantFrom(1, 2, 3, 4), fc.nat(), fc.boolean(), (q, members, n, pick, join) => {
        const changed = members[pick % members.length] as string
        const {before, after} = change(q, members, changed, join)
        const gone = new Set(join ? [] : [changed])
        const byN = planTransfers(before, after, n, gone)
        const byList = planTransfers(before, after, [n], gone)
        assert.deepEqual(byList, byN)
        for (let p = 0; p < q; p++) {
          const oldHomes = homesOf(before, p, Math.min(n, before.members.length))
          const newHomes = homesOf(after, p, Math.min(n, after.members.length))
          const planned = byN.filter((t) => t.partition === p)
          assert.deepEqual(planned.map((t) => t.target), newHomes.filter((home) => !oldHomes.includes(home)))
          for (const t of planned) assert.deepEqual(t.sources, oldHomes.filter((home) => !gone.has(home)))
        }
      }),
      {numRuns: 200},
    )
  })

  it('moves every object to every member that becomes one of its n homes, for each n in use, from its old homes', () => {
    fc.assert(
      fc.property(fc.constantFrom(8, 16, 64), names(3, 9), fc.uniqueArray(fc.integer({min: 1, max: 8}), {minLength: 1, maxLength: 4}), fc.nat(), fc.boolean(), (q, members, inUse, pick, join) => {
        const changed = members[pick % members.length] as string
        const {before, after} = change(q, members, changed, join)
        const gone = new Set(join ? [] : [changed])
        const plan = planTransfers(before, after, inUse, gone)
        for (let p = 0; p < q; p++) {
          const planned = plan.filter((t) => t.partition === p)
          assert.equal(new Set(planned.map((t) => t.target)).size, planned.length, 'one transfer per partition and target')
          for (const n of inUse) {
            const oldHomes = homesOf(before, p, Math.min(n, before.members.length))
            const needing = homesOf(after, p, Math.min(n, after.members.length)).filter((home) => !oldHomes.includes(home))
            const moving = planned.filter((t) => inReplicaCountRange(t.replicaCounts, n)).map((t) => t.target)
            assert.deepEqual(moving.sort(), needing.sort(), `partition ${p}, n=${n}`)
            for (const t of planned.filter((x) => inReplicaCountRange(x.replicaCounts, n))) {
              for (const home of oldHomes) if (!gone.has(home)) assert.ok(t.sources.includes(home), `${home} is a source of ${t.target} for n=${n}`)
            }
          }
        }
      }),
      {numRuns: 300},
    )
  })

  it('a join on 6 nodes gives the members that become 4th and 5th homes the n=5 objects, and only those', () => {
    const members = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7']
    const {before, after} = change(16, members, 'n7', true)
    const byDefault = planTransfers(before, after, [3], new Set())
    const plan = planTransfers(before, after, [3, 5], new Set())
    assert.ok(plan.length > byDefault.length, 'the n=5 objects add transfers')
    for (const t of plan) {
      const newIndex = homesOf(after, t.partition, 7).indexOf(t.target)
      const oldIndex = homesOf(before, t.partition, 6).indexOf(t.target)
      assert.equal(t.replicaCounts.above, newIndex)
      assert.equal(t.replicaCounts.through, oldIndex === -1 ? 64 : oldIndex)
      assert.ok(newIndex < 5)
      // A member that only becomes a 4th or 5th home (it was a home of n=3 or more already, or
      // is new at index 3 or 4) needs the n=5 objects alone, fetched from the 5 old homes.
      if (newIndex >= 3) {
        assert.equal(t.sourcesForN, 5)
        assert.deepEqual(t.sources, homesOf(before, t.partition, 5))
        assert.equal(inReplicaCountRange(t.replicaCounts, 3), false)
      }
    }
    assert.ok(plan.some((t) => t.target === 'n7' && t.replicaCounts.above >= 3), 'the new node is a 4th or 5th home somewhere')
  })

  it('a removal re-creates the n=5 copies the removed node held, never from it', () => {
    const members = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6']
    const {before, after} = change(16, members, 'n6', false)
    const gone = new Set(['n6'])
    const plan = planTransfers(before, after, [3, 5], gone)
    for (let p = 0; p < 16; p++) {
      const held = homesOf(before, p, 5).includes('n6')
      const fives = plan.filter((t) => t.partition === p && inReplicaCountRange(t.replicaCounts, 5))
      // Every partition the removed node was an n=5 home of gets a new 5th home (5 of 5 members).
      assert.equal(fives.length, held ? 1 : 0, `partition ${p}`)
      for (const t of fives) {
        assert.ok(!t.sources.includes('n6'))
        assert.deepEqual(t.sources, homesOf(before, p, 5).filter((home) => home !== 'n6'))
      }
    }
  })

  it('ranges: a member moved from index 4 to index 2 of a partition receives the n in (2, 4] in use', () => {
    const q = 8
    const before = ringFromOwners(q, ['a', 'b', 'c', 'd', 'e', 'f'], ['a', 'b', 'c', 'd', 'e', 'f', 'a', 'b'])
    // Partition 0: a b c d e f before; a b e c d f after (e moves from index 4 to index 2).
    const after = ringFromOwners(q, ['a', 'b', 'c', 'd', 'e', 'f'], ['a', 'b', 'e', 'c', 'd', 'f', 'a', 'b'])
    const forFour = planTransfers(before, after, [3, 4], new Set()).filter((t) => t.partition === 0 && t.target === 'e')
    assert.deepEqual(forFour.map((t) => ({...t.replicaCounts, sourcesForN: t.sourcesForN, sources: t.sources})), [{above: 2, through: 4, sourcesForN: 4, sources: ['a', 'b', 'c', 'd']}])
    assert.deepEqual(planTransfers(before, after, [5, 6], new Set()).filter((t) => t.partition === 0 && t.target === 'e'), [], 'e already was a home of n=5 and n=6')
    assert.deepEqual(planTransfers(before, after, [1, 2], new Set()).filter((t) => t.partition === 0 && t.target === 'e'), [], 'e is no home of n=1 or n=2')
  })
})
