/**
 * Tests of the claimant's pure decisions and of the transfer plan (paper §4.9): the ring after
 * a change is balanced, moves only what the change forces, never shuffles partitions between
 * members the change does not concern, is deterministic, and merges to one ring everywhere.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'
import {claimOwners, claimOwnersFrom, ringFromOwners} from '../../src/ring/ring.js'
import {planTransfers, ownershipMoves} from '../../src/handoff/transfer-plan.js'
import {
  blockedJoin,
  blockedJoinsFailure,
  blockedOnlyNote,
  claimantOf,
  clearStaged,
  commitTransition,
  initialRingState,
  installTransition,
  isValidRingState,
  givenUpMembers,
  isStagingDecision,
  majorityShortfall,
  mergeRingStates,
  ownRowStatus,
  planTransition,
  removalsEndedByInstall,
  stageChange,
  stagedChangesMax,
  unconfirmedRingState,
  type RingState,
} from '../../src/membership/claimant-core.js'

const partitionCounts = fc.constantFrom(8, 16, 64, 256)
const names = (min: number, max: number) => fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/), {minLength: min, maxLength: max})

function counts(owners: readonly string[]): Map<string, number> {
  const out = new Map<string, number>()
  for (const owner of owners) out.set(owner, (out.get(owner) ?? 0) + 1)
  return out
}

function assertBalanced(partitionCount: number, owners: readonly string[], members: readonly string[]): void {
  const c = counts(owners)
  const low = Math.floor(partitionCount / members.length)
  const high = Math.ceil(partitionCount / members.length)
  for (const name of members) {
    const owned = c.get(name) ?? 0
    assert.ok(owned >= low && owned <= high, `${name} owns ${owned}, expected ${low}..${high}`)
  }
  for (const owner of owners) assert.ok(members.includes(owner), `owner ${owner} is not a member`)
}

describe('claimOwnersFrom (claim with history)', () => {
  it('a join is balanced, moves exactly what balance needs, and only to the joiners', () => {
    fc.assert(
      fc.property(partitionCounts, names(1, 12), names(1, 3), (q, before, joinersRaw) => {
        const joiners = joinersRaw.filter((name) => !before.includes(name))
        fc.pre(joiners.length > 0)
        const current = claimOwners(q, before)
        const after = [...before, ...joiners]
        const next = claimOwnersFrom(q, current, after)
        assertBalanced(q, next, after)
        let moved = 0
        for (let p = 0; p < q; p++) {
          if (current[p] === next[p]) continue
          moved += 1
          assert.ok(joiners.includes(next[p] as string), `partition ${p} moved ${current[p]} -> ${next[p]}, between members the join does not concern`)
        }
        // Exactly the joiners' share: each receives its quota and nothing else moves.
        const joinerShare = joiners.reduce((sum, name) => sum + (counts(next).get(name) ?? 0), 0)
        assert.equal(moved, joinerShare)
      }),
      {numRuns: 300},
    )
  })

  it('a leave or remove moves only the leaver\'s partitions, and stays balanced', () => {
    fc.assert(
      fc.property(partitionCounts, names(2, 12), fc.nat(), (q, before, pick) => {
        const leaver = before[pick % before.length] as string
        const current = claimOwners(q, before)
        const after = before.filter((name) => name !== leaver)
        const next = claimOwnersFrom(q, current, after)
        assertBalanced(q, next, after)
        for (let p = 0; p < q; p++) {
          if (current[p] !== leaver) assert.equal(next[p], current[p], `partition ${p} of ${current[p]} moved although only ${leaver} left`)
        }
      }),
      {numRuns: 300},
    )
  })

  it('is deterministic and ignores the order of members', () => {
    const current = claimOwners(64, ['a', 'b', 'c'])
    assert.deepEqual(claimOwnersFrom(64, current, ['d', 'a', 'c', 'b']), claimOwnersFrom(64, current, ['a', 'b', 'c', 'd']))
  })

  it('unchanged members keep every partition', () => {
    const current = claimOwners(64, ['a', 'b', 'c'])
    assert.deepEqual(claimOwnersFrom(64, current, ['a', 'b', 'c']), current)
  })

  it('moves about Q/S on a join at Q=64 (4th node: 16)', () => {
    const current = claimOwners(64, ['n1', 'n2', 'n3'])
    const next = claimOwnersFrom(64, current, ['n1', 'n2', 'n3', 'n4'])
    assert.equal(ownershipMoves(ringFromOwners(64, ['n1', 'n2', 'n3'], current), ringFromOwners(64, ['n1', 'n2', 'n3', 'n4'], next)).length, 16)
  })
})

describe('transfer plan', () => {
  it('every new home that was no old home receives the partition from the old homes still there', () => {
    fc.assert(
      fc.property(partitionCounts, names(2, 8), fc.constantFrom(1, 2, 3), fc.nat(), fc.boolean(), (q, before, n, pick, isRemove) => {
        const changed = before[pick % before.length] as string
        const beforeRing = ringFromOwners(q, before, claimOwners(q, before))
        const afterMembers = before.filter((name) => name !== changed)
        const afterRing = ringFromOwners(q, afterMembers, claimOwnersFrom(q, beforeRing.owners, afterMembers))
        const gone = new Set(isRemove ? [changed] : [])
        const plan = planTransfers(beforeRing, afterRing, n, gone)
        for (let p = 0; p < q; p++) {
          const oldHomes = beforeRing.members.length >= 1 ? planHomes(beforeRing, p, n) : []
          const newHomes = planHomes(afterRing, p, n)
          const targets = plan.filter((t) => t.partition === p).map((t) => t.target)
          assert.deepEqual(targets.sort(), newHomes.filter((h) => !oldHomes.includes(h)).sort())
          for (const t of plan.filter((x) => x.partition === p)) {
            assert.deepEqual(t.sources, oldHomes.filter((h) => !gone.has(h)))
          }
        }
      }),
      {numRuns: 200},
    )
  })
})

function planHomes(ring: ReturnType<typeof ringFromOwners>, partition: number, n: number): string[] {
  const seen: string[] = []
  for (let step = 0; step < ring.partitionCount && seen.length < Math.min(n, ring.members.length); step++) {
    const owner = ring.owners[(partition + step) % ring.partitionCount] as string
    if (!seen.includes(owner)) seen.push(owner)
  }
  return seen
}

describe('claimant core', () => {
  const q = 16
  const threeNodes = (): RingState => {
    const committed = commitTransition(initialRingState(q, 'n1'), q, ['n2', 'n3'], 'n1')
    assert.ok(committed.ok)
    return installTransition(committed.state, 'n1')
  }
  const threeNodesAndMore = (): RingState => {
    const committed = commitTransition(initialRingState(q, 'n1'), q, ['n2', 'n3', 'n4', 'n5'], 'n1')
    assert.ok(committed.ok)
    return installTransition(committed.state, 'n1')
  }

  it('a commit plans joins and staged changes, and the install makes them the ring', () => {
    const state = threeNodes()
    assert.deepEqual(state.members, ['n1', 'n2', 'n3'])
    assertBalanced(q, state.owners, state.members)
    const staged = stageChange(state, {kind: 'leave', node: 'n2'}, 'n1')
    assert.ok(staged.ok)
    const committed = commitTransition(staged.state, q, ['n4'], 'n1')
    assert.ok(committed.ok)
    assert.deepEqual(committed.state.next?.members, ['n1', 'n3', 'n4'])
    assert.deepEqual(committed.state.staged, [])
    const installed = installTransition(committed.state, 'n1')
    assert.deepEqual(installed.members, ['n1', 'n3', 'n4'])
    assert.ok(installed.version > committed.state.version)
  })

  it('refuses bad changes and a second commit during a transition, changing nothing', () => {
    const state = threeNodes()
    const unknown = stageChange(state, {kind: 'remove', node: 'n9'}, 'n1')
    assert.equal(unknown.ok, false)
    assert.equal(!unknown.ok && unknown.error, 'bad_parameter')
    const nothing = commitTransition(state, q, [], 'n1')
    assert.equal(!nothing.ok && nothing.error, 'nothing_staged')
    const committed = commitTransition(state, q, ['n4'], 'n1')
    assert.ok(committed.ok)
    const again = commitTransition(committed.state, q, ['n5'], 'n1')
    assert.equal(!again.ok && again.error, 'ring_in_transition')
    const single = initialRingState(q, 'n1')
    const last = stageChange(single, {kind: 'leave', node: 'n1'}, 'n1')
    assert.equal(!last.ok && last.error, 'bad_parameter')
  })

  it('gives up a staying member or a joiner whose removal is staged and that is down, never a leaver (its removal waits for a commit)', () => {
    const base = threeNodesAndMore()
    const leave = stageChange(base, {kind: 'leave', node: 'n5'}, 'n1')
    assert.ok(leave.ok)
    const committed = commitTransition(leave.state, q, ['n6'], 'n1')
    assert.ok(committed.ok)
    let state = committed.state
    for (const node of ['n2', 'n6', 'n5', 'n3']) {
      const staged = stageChange(state, {kind: 'remove', node}, 'n1', () => undefined, () => node !== 'n3')
      assert.ok(staged.ok, staged.ok ? '' : staged.message)
      state = staged.state
    }
    // n2 stays, n6 joins, n5 leaves, n3 is up.
    const down = (name: string): boolean => name === 'n3'
    assert.deepEqual([...givenUpMembers(state, down)].sort(), ['n2', 'n6'])
    assert.deepEqual([...givenUpMembers(state, () => true)], [], 'nothing is given up while it is up')
    assert.deepEqual([...givenUpMembers(base, () => false)], [], 'nor outside a transition')
  })

  it('stages the removal of a joiner of the change under way, for the ring it installs, and a merge keeps it', () => {
    const committed = commitTransition(threeNodes(), q, ['n4'], 'n1')
    assert.ok(committed.ok)
    const staged = stageChange(committed.state, {kind: 'remove', node: 'n4'}, 'n1')
    assert.ok(staged.ok, staged.ok ? '' : staged.message)
    assert.deepEqual(staged.state.staged.map((change) => `${change.kind} ${change.node}`), ['remove n4'])
    // A commit during the change says the removal waits for it.
    const early = commitTransition(staged.state, q, [], 'n1')
    assert.equal(!early.ok && early.error, 'ring_in_transition')
    assert.match(!early.ok ? early.message : '', /The removal of n4 stays staged/)
    // Gossip with a member that had not heard of it keeps it.
    assert.deepEqual(mergeRingStates(staged.state, committed.state)?.staged, staged.state.staged)
    // The install keeps it for the new ring, where the next commit takes n4 out.
    const installed = installTransition(staged.state, 'n1')
    assert.deepEqual(installed.members, ['n1', 'n2', 'n3', 'n4'])
    const removal = commitTransition(installed, q, [], 'n1')
    assert.ok(removal.ok)
    assert.deepEqual(removal.state.next?.members, ['n1', 'n2', 'n3'])
    assert.deepEqual(removal.state.next?.removing, ['n4'])
    // A node in neither ring is still refused.
    const stranger = stageChange(committed.state, {kind: 'remove', node: 'n9'}, 'n1')
    assert.equal(!stranger.ok && stranger.error, 'bad_parameter')
  })

  it('the claimant is the lowest-named member believed up, never one being removed', () => {
    const state = threeNodes()
    assert.equal(claimantOf(state, () => true), 'n1')
    assert.equal(claimantOf(state, (name) => name !== 'n1'), 'n2')
    const staged = stageChange(state, {kind: 'remove', node: 'n1'}, 'n2')
    assert.ok(staged.ok)
    const committed = commitTransition(staged.state, q, [], 'n2')
    assert.ok(committed.ok)
    assert.equal(claimantOf(committed.state, () => true), 'n2')
  })

  it('two claimants deciding at one version end on one ring everywhere (merge is commutative)', () => {
    const state = threeNodes()
    const a = commitTransition(state, q, ['n4'], 'n1')
    const b = commitTransition(state, q, ['n5'], 'n2')
    assert.ok(a.ok && b.ok)
    assert.equal(mergeRingStates(a.state, b.state), a.state)
    assert.equal(mergeRingStates(b.state, a.state), a.state)
    const newer = installTransition(b.state, 'n2')
    assert.equal(mergeRingStates(a.state, newer), newer)
  })
  it('a ring change needs a strict majority of the committed members up, the claimant included', () => {
    const of = (members: string[]) => ({...threeNodes(), members})
    const upOf = (up: string[]) => (name: string) => up.includes(name)
    assert.equal(majorityShortfall(of(['n1']), upOf(['n1'])), undefined)
    assert.equal(majorityShortfall(of(['n1', 'n2', 'n3']), upOf(['n1', 'n3'])), undefined)
    assert.deepEqual(majorityShortfall(of(['n1', 'n2', 'n3']), upOf(['n1'])), {up: ['n1'], down: ['n2', 'n3'], needed: 2})
    // Half is not a majority: of a 2 | 2 split, neither side may change the ring.
    assert.deepEqual(majorityShortfall(of(['n1', 'n2', 'n3', 'n4']), upOf(['n1', 'n2'])), {up: ['n1', 'n2'], down: ['n3', 'n4'], needed: 3})
    assert.deepEqual(majorityShortfall(of(['n1', 'n2']), upOf(['n2'])), {up: ['n2'], down: ['n1'], needed: 2})
  })

  it('a commit wins over a removal staged at one version where it had not arrived, whatever the names, and takes it in (seed 53000007269)', () => {
    const state = threeNodes()
    // n2, claimant while n1 was down, commits n4's join; n1, back and not yet told, stages n2's removal.
    const committed = commitTransition(state, q, ['n4'], 'n2')
    const staged = stageChange(state, {kind: 'remove', node: 'n2'}, 'n1')
    assert.ok(committed.ok && staged.ok)
    assert.equal(staged.state.version, committed.state.version)
    for (const merged of [mergeRingStates(committed.state, staged.state)!, mergeRingStates(staged.state, committed.state)!]) {
      assert.deepEqual(merged.next, committed.state.next, 'the join stays committed')
      assert.deepEqual(merged.staged.map((change) => `${change.kind} ${change.node}`), ['remove n2'], 'and the removal stays staged')
      assert.equal(isStagingDecision(merged), false)
      assert.deepEqual(mergeRingStates(merged, staged.state), merged)
    }
    // Two stages still meet as before, and a decision made on a staged state is not a stage.
    const removal = commitTransition(staged.state, q, [], 'n1')
    assert.ok(removal.ok)
    assert.equal(isStagingDecision(removal.state), false)
    assert.equal(isStagingDecision(clearStaged(staged.state, 'n1')), false)
    // A node that copies the mark along unread (an older dyn's commit) leaves it stale, not meaningful.
    assert.equal(isStagingDecision({...staged.state, version: staged.state.version + 1, claimant: 'n2'}), false)
  })

  it('a clear drops what is staged at a new version, and a clear of nothing changes nothing, not even the version', () => {
    const state = threeNodesAndMore()
    assert.equal(clearStaged(state, 'n2'), state)
    const staged = stageChange(state, {kind: 'leave', node: 'n4'}, 'n2')
    assert.ok(staged.ok)
    const cleared = clearStaged(staged.state, 'n2')
    assert.deepEqual(cleared.staged, [])
    assert.equal(cleared.version, staged.state.version + 1)
  })

  it('two claimants staging at one version keep both changes, whichever way the states meet (seed 467761)', () => {
    const state = threeNodesAndMore()
    const viaN2 = stageChange(state, {kind: 'leave', node: 'n4'}, 'n2')
    const viaN3 = stageChange(state, {kind: 'leave', node: 'n5'}, 'n3')
    assert.ok(viaN2.ok && viaN3.ok)
    for (const merged of [mergeRingStates(viaN2.state, viaN3.state)!, mergeRingStates(viaN3.state, viaN2.state)!]) {
      assert.equal(merged.claimant, 'n2')
      assert.deepEqual(merged.staged.map((change) => change.node), ['n4', 'n5'])
      const committed = commitTransition(merged, q, [], 'n1')
      assert.ok(committed.ok)
      assert.deepEqual(committed.state.next?.members, ['n1', 'n2', 'n3'])
    }
    // Older changes are the winner's: one it cleared stays cleared, while the other side's new one is kept.
    const both = mergeRingStates(viaN2.state, viaN3.state)!
    const cleared = clearStaged(both, 'n2')
    const stagedMeanwhile = stageChange(both, {kind: 'remove', node: 'n3'}, 'n3')
    assert.ok(stagedMeanwhile.ok)
    assert.deepEqual(mergeRingStates(cleared, stagedMeanwhile.state)!.staged, [{kind: 'remove', node: 'n3', stagedAt: both.version + 1}])
    // The same node staged on both sides: one change of it.
    const againViaN3 = stageChange(state, {kind: 'remove', node: 'n4'}, 'n3')
    assert.ok(againViaN3.ok)
    assert.deepEqual(mergeRingStates(viaN2.state, againViaN3.state)!.staged.map((change) => change.node), ['n4'])
  })

  it('merging ring states is commutative, associative and idempotent, staged changes included', () => {
    const base = threeNodesAndMore()
    const decisions = [
      base,
      stageChange(base, {kind: 'leave', node: 'n4'}, 'n2'),
      stageChange(base, {kind: 'leave', node: 'n5'}, 'n3'),
      stageChange(base, {kind: 'remove', node: 'n4'}, 'n4'),
      stageChange(base, {kind: 'remove', node: 'n3'}, 'n1'),
      commitTransition(base, q, ['n6'], 'n2'),
      commitTransition(base, q, ['n6'], 'n5'),
      clearStaged(base, 'n5'),
    ].map((decision) => ('ok' in decision ? (assert.ok(decision.ok), decision.state) : decision))
    for (const a of decisions) {
      assert.deepEqual(mergeRingStates(a, a), a)
      for (const b of decisions) {
        assert.deepEqual(mergeRingStates(a, b), mergeRingStates(b, a))
        for (const c of decisions) assert.deepEqual(mergeRingStates(mergeRingStates(a, b), c), mergeRingStates(a, mergeRingStates(b, c)))
      }
    }
  })

  it('a claimant restarted on an older state decides on the staged change once it has merged the members\' states (seed 1122)', () => {
    const stale = threeNodes()
    // Staged through n2, the claimant while n1 was down; n1 restarts on its stored state.
    const staged = stageChange(stale, {kind: 'leave', node: 'n3'}, 'n2')
    assert.ok(staged.ok)
    const onItsOwn = commitTransition(stale, q, [], 'n1')
    assert.equal(!onItsOwn.ok && onItsOwn.error, 'nothing_staged')
    const merged = mergeRingStates(stale, staged.state)!
    const committed = commitTransition(merged, q, [], 'n1')
    assert.ok(committed.ok)
    assert.deepEqual(committed.state.next?.members, ['n1', 'n2'])
    // And the decision outranks the one it was made on, wherever the two meet.
    assert.equal(mergeRingStates(staged.state, committed.state), committed.state)
  })

  it('decides only once every member asked for its ring state has answered', () => {
    assert.equal(unconfirmedRingState([], new Set()), undefined)
    assert.equal(unconfirmedRingState(['n2', 'n3'], new Set(['n2', 'n3'])), undefined)
    const silent = unconfirmedRingState(['n2', 'n3', 'n4'], new Set(['n3']))
    assert.equal(silent?.error, 'unreachable')
    assert.match(silent?.message ?? '', /n2, n4/)
    // The node a stage is about is the silent one: said as that, with what to do for each kind.
    const removal = unconfirmedRingState(['n2', 'n3', 'n4'], new Set(['n3']), {claimant: 'n1', change: {kind: 'remove', node: 'n4'}})
    assert.equal(removal?.error, 'unreachable')
    assert.match(removal?.message ?? '', /^n4 did not answer the claimant n1 \(n2 did not answer either\), whose failure detector has not yet decided that n4 is down/)
    assert.match(removal?.message ?? '', /If n4 is gone for good, retry in a few seconds.*dyn cluster leave --name n4 hands its data off/)
    const leave = unconfirmedRingState(['n4'], new Set(), {claimant: 'n1', change: {kind: 'leave', node: 'n4'}})
    assert.match(leave?.message ?? '', /a leave needs n4 running to hand its data off, so if it is gone for good, remove it instead \(dyn cluster remove n4\)/)
    // Another member silent: the stage's node answered, so the usual message.
    assert.match(unconfirmedRingState(['n2', 'n4'], new Set(['n4']), {claimant: 'n1', change: {kind: 'remove', node: 'n4'}})?.message ?? '', /could not fetch the ring state of n2/)
  })
})

describe('claimant core: each decision exactly', () => {
  const q = 8
  const ring = (members: string[], claimant = members[0]!): RingState => ({
    version: 4,
    claimant,
    members,
    owners: Array.from({length: q}, (_, partition) => members[partition % members.length]!),
    staged: [],
  })

  it('a cluster of one: version 1, its creator claimant, member and owner of every partition', () => {
    assert.deepEqual(initialRingState(4, 'solo'), {version: 1, claimant: 'solo', members: ['solo'], owners: ['solo', 'solo', 'solo', 'solo'], staged: []})
  })

  it('staging raises the version, names the claimant, appends the change; a second change of one node is refused', () => {
    const state = ring(['a', 'b', 'c'])
    const first = stageChange(state, {kind: 'leave', node: 'b'}, 'a')
    assert.ok(first.ok)
    assert.deepEqual(first.state, {...state, version: 5, claimant: 'a', staged: [{kind: 'leave', node: 'b', stagedAt: 5}], stagingAt: 5})
    const second = stageChange(first.state, {kind: 'remove', node: 'c'}, 'b')
    assert.ok(second.ok)
    assert.deepEqual(second.state.staged, [{kind: 'leave', node: 'b', stagedAt: 5}, {kind: 'remove', node: 'c', stagedAt: 6}])
    assert.equal(second.state.claimant, 'b')
    assert.equal(second.state.version, 6)
    const twice = stageChange(first.state, {kind: 'remove', node: 'b'}, 'a')
    assert.equal(!twice.ok && twice.error, 'already_leaving')
    assert.match(!twice.ok ? twice.message : '', /the leave of b is already staged, not yet committed: apply it with dyn cluster commit.*dyn cluster clear/)
    // During a ring change (d joining), a commit would be refused (ring_in_transition): the
    // refusal says the staged leave is committed once that change has finished.
    const moving: RingState = {...first.state, next: {id: '9.a', members: ['a', 'b', 'c', 'd'], owners: first.state.owners, removing: []}}
    const duringChange = stageChange(moving, {kind: 'leave', node: 'b'}, 'a')
    assert.equal(!duringChange.ok && duringChange.error, 'already_leaving')
    assert.match(!duringChange.ok ? duringChange.message : '', /the leave of b is already staged, not yet committed: commit it with dyn cluster commit once the ring change 9\.a has finished moving data/)
    assert.doesNotMatch(!duringChange.ok ? duringChange.message : '', /apply it with/)
    // With b and c staged to go, a is the last member: it may not go as well.
    const last = stageChange(second.state, {kind: 'leave', node: 'a'}, 'a')
    assert.equal(!last.ok && last.error, 'bad_parameter')
    assert.match(!last.ok ? last.message : '', /last member/)
    const unknown = stageChange(state, {kind: 'leave', node: 'z'}, 'a')
    assert.match(!unknown.ok ? unknown.message : '', /z is not a member of the ring \(members: a, b, c\)/)
    // Of two members, once one is staged to go the other is the last.
    const pair = stageChange(ring(['a', 'b']), {kind: 'leave', node: 'b'}, 'a')
    assert.ok(pair.ok)
    const lastOfTwo = stageChange(pair.state, {kind: 'remove', node: 'a'}, 'a')
    assert.equal(!lastOfTwo.ok && lastOfTwo.error, 'bad_parameter')
  })

  it('a member already on its way out is not staged again: staged, committed (leaving or being removed), or gone', () => {
    const base = ring(['a', 'b', 'c', 'd'])
    const staged = stageChange(base, {kind: 'leave', node: 'c'}, 'a')
    assert.ok(staged.ok)
    const again = stageChange(staged.state, {kind: 'leave', node: 'c'}, 'a')
    assert.equal(!again.ok && again.error, 'already_leaving')
    assert.doesNotMatch(!again.ok ? again.message : '', /instead/, 'the same change again needs no way round')
    const removal = stageChange(staged.state, {kind: 'remove', node: 'd'}, 'a')
    assert.ok(removal.ok)
    const committed = commitTransition(removal.state, q, [], 'a')
    assert.ok(committed.ok)
    // While the transition moves their data, a second leave or remove of either stages nothing
    // (it once staged the leave again, and the next merge dropped it without a word).
    for (const kind of ['leave', 'remove'] as const) {
      // A removal of the leaver c is refused while the claimant does not see it down (the default).
      const leaving = stageChange(committed.state, {kind, node: 'c'}, 'a')
      assert.equal(!leaving.ok && leaving.error, 'already_leaving', kind)
      assert.match(
        !leaving.ok ? leaving.message : '',
        kind === 'leave' ? /c is already leaving: the ring change under way \(7\.a\) .* nothing new was staged/ : /c is already leaving \(the ring change 7\.a under way .*\), and the claimant a does not see it down; nothing was staged\. While it runs, let it finish/,
      )
      const removing = stageChange(committed.state, {kind, node: 'd'}, 'a')
      assert.equal(!removing.ok && removing.error, 'already_leaving', kind)
      assert.match(!removing.ok ? removing.message : '', /d is already being removed/)
    }
    // A member the transition keeps may still be staged to go (committed after it, as always).
    assert.ok(stageChange(committed.state, {kind: 'leave', node: 'b'}, 'a').ok)
    // Once installed, the two have left; a name that never was a member is still bad input.
    const installed = installTransition(committed.state, 'a')
    const departed = (name: string): 'left' | 'removed' | undefined => ({c: 'left', d: 'removed'} as const)[name as 'c' | 'd']
    const left = stageChange(installed, {kind: 'leave', node: 'c'}, 'a', departed)
    assert.equal(!left.ok && left.error, 'already_left')
    assert.match(!left.ok ? left.message : '', /c has already left the cluster \(it handed its partitions off and left\)/)
    const removed = stageChange(installed, {kind: 'remove', node: 'd'}, 'a', departed)
    assert.equal(!removed.ok && removed.error, 'already_left')
    assert.match(!removed.ok ? removed.message : '', /d has already left the cluster \(it was removed\)/)
    const unknown = stageChange(installed, {kind: 'leave', node: 'z'}, 'a', departed)
    assert.equal(!unknown.ok && unknown.error, 'bad_parameter')
  })

  it('a join the claimant cannot reach is named with its address, why a commit leaves it out, and what to do; alone, a commit is refused with its own code', () => {
    const one = blockedJoin('n1', 'n4', '10.9.9.9:8070', 'connection refused')
    assert.deepEqual({...one, message: undefined}, {kind: 'join', node: 'n4', rpcAddress: '10.9.9.9:8070', error: 'joiner_unreachable', message: undefined})
    assert.match(one.message, /^n1, the claimant, cannot reach n4 at 10\.9\.9\.9:8070, the internode address n4 advertises \(connection refused\), so a commit leaves its join out\. /)
    assert.match(one.message, /restart it with --advertise set to an address the members can connect to \(on the same --data folder, so that its join stays staged\); then dyn cluster commit\. To give the join up instead: stop n4, then dyn cluster remove n4$/)
    const refused = blockedJoinsFailure([one])
    assert.deepEqual([refused.ok, refused.error], [false, 'joiner_unreachable'])
    assert.equal(refused.message, `nothing was committed: the join of n4 is all that is staged. ${one.message}`)
    assert.equal(blockedOnlyNote([one]), 'a commit now would be refused (joiner_unreachable): the join of n4 is all that is staged, and the claimant cannot reach it')
    const two = [one, blockedJoin('n1', 'n5', '10.9.9.9:8071', 'no answer within 1000 ms')]
    assert.match(blockedJoinsFailure(two).message, /^nothing was committed: the joins of n4, n5 are all that is staged\. n1, the claimant, cannot reach n4 .*\. n1, the claimant, cannot reach n5 at 10\.9\.9\.9:8071/)
    assert.match(blockedOnlyNote(two), /the joins of n4, n5 are all that is staged, and the claimant cannot reach them$/)
  })

  it('a leaver seen down may be removed: the commit amends the transition under way, which keeps its id and takes the leaver\'s partitions from the other replicas', () => {
    const base = ring(['a', 'b', 'c', 'd'])
    const left = stageChange(base, {kind: 'leave', node: 'd'}, 'a')
    assert.ok(left.ok)
    const leaving = commitTransition(left.state, q, [], 'a')
    assert.ok(leaving.ok)
    const running = leaving.state.next!
    assert.deepEqual(running.removing, [])
    const down = (name: string): boolean => name === 'd'
    // Up (as the claimant sees it), the leaver is refused; down, its removal is staged.
    const refused = stageChange(leaving.state, {kind: 'remove', node: 'd'}, 'a', undefined, () => false)
    assert.equal(!refused.ok && refused.error, 'already_leaving')
    const staged = stageChange(leaving.state, {kind: 'remove', node: 'd'}, 'a', undefined, down)
    assert.ok(staged.ok)
    assert.deepEqual(staged.state.staged, [{kind: 'remove', node: 'd', stagedAt: leaving.state.version + 1}])
    // A leave staged meanwhile waits for the transition, as it always did.
    const alsoLeave = stageChange(staged.state, {kind: 'leave', node: 'b'}, 'a', undefined, down)
    assert.ok(alsoLeave.ok)
    // The plan and the commit: the same members and owners, the transition's id kept, d removed.
    const plan = planTransition(alsoLeave.state, q, [])
    assert.ok(plan.ok)
    assert.deepEqual(plan.transition, {members: running.members, owners: running.owners, removing: ['d']})
    const amended = commitTransition(alsoLeave.state, q, [], 'a')
    assert.ok(amended.ok)
    assert.deepEqual(amended.state.next, {...running, removing: ['d']})
    assert.equal(amended.state.version, alsoLeave.state.version + 1)
    assert.deepEqual(amended.state.staged.map(({kind, node}) => `${kind} ${node}`), ['leave b'], 'the leave of b still waits')
    assert.deepEqual([...amended.state.members], [...base.members], 'the committed ring does not change until the install')
    // A second commit has nothing of that kind left: the transition is still moving data.
    const again = commitTransition(amended.state, q, [], 'a')
    assert.equal(!again.ok && again.error, 'ring_in_transition')
    // And a second removal of d stages nothing: it is being removed.
    const twice = stageChange(amended.state, {kind: 'remove', node: 'd'}, 'a', undefined, down)
    assert.match(!twice.ok ? twice.message : '', /d is already being removed/)
    // The sources: d is none any more, and its partitions come from the other old homes.
    const before = ringFromOwners(q, base.members, base.owners)
    const after = ringFromOwners(q, running.members, running.owners)
    const withLeaver = planTransfers(before, after, 3, new Set())
    const withoutLeaver = planTransfers(before, after, 3, new Set(['d']))
    assert.deepEqual(withoutLeaver.map(({partition, target, sourcesForN}) => [partition, target, sourcesForN]), withLeaver.map(({partition, target, sourcesForN}) => [partition, target, sourcesForN]), 'the same transfers, so what was received stays received')
    assert.ok(withLeaver.some((transfer) => transfer.sources.includes('d')))
    assert.ok(withoutLeaver.every((transfer) => !transfer.sources.includes('d') && transfer.sources.length > 0))
  })

  it('a leaver\'s staged removal survives merges at its version, and goes with the install when the leaver finished first', () => {
    const left = stageChange(ring(['a', 'b', 'c', 'd']), {kind: 'leave', node: 'd'}, 'a')
    assert.ok(left.ok)
    const leaving = commitTransition(left.state, q, [], 'a')
    assert.ok(leaving.ok)
    // Two claimants at one version (a partition): b stages d's removal, a stages c's leave.
    const viaB = stageChange(leaving.state, {kind: 'remove', node: 'd'}, 'b', undefined, (name) => name === 'd')
    const viaA = stageChange(leaving.state, {kind: 'leave', node: 'c'}, 'a')
    assert.ok(viaB.ok && viaA.ok)
    for (const merged of [mergeRingStates(viaA.state, viaB.state)!, mergeRingStates(viaB.state, viaA.state)!]) {
      assert.deepEqual(merged.staged.map(({kind, node}) => `${kind} ${node}`), ['leave c', 'remove d'])
    }
    // d came back and finished its leave before the removal was committed: the install drops it,
    // and names it as a removal the install ends, which the claimant carries out if d is down
    // then (campaign seed 840702398); c's leave, of a member that stays, is not one.
    const merged = mergeRingStates(viaA.state, viaB.state)!
    assert.deepEqual(removalsEndedByInstall(merged), ['d'])
    const installed = installTransition(merged, 'a')
    assert.deepEqual(installed.staged.map(({kind, node}) => `${kind} ${node}`), ['leave c'])
    assert.deepEqual(removalsEndedByInstall(installed), [], 'nothing runs, so nothing is installed')
  })

  it('a removal of a leaver that went silent says that it finishes its leave if it runs', () => {
    const failure = unconfirmedRingState(['b', 'd'], new Set(['b']), {claimant: 'a', change: {kind: 'remove', node: 'd'}, leaving: true})
    assert.match(failure?.message ?? '', /d is leaving: if it is still running .*, it finishes its leave by itself .*; if its machine is lost for good, retry in a few seconds, once dyn cluster status shows it down/)
    assert.doesNotMatch(failure?.message ?? '', /dyn cluster leave/)
  })

  it('clearing drops every staged change and raises the version', () => {
    const staged = stageChange(ring(['a', 'b']), {kind: 'leave', node: 'b'}, 'a')
    assert.ok(staged.ok)
    const {stagingAt: _stagingAt, ...decided} = staged.state
    assert.deepEqual(clearStaged(staged.state, 'b'), {...decided, version: 6, claimant: 'b', staged: []})
  })

  it('a plan takes out the staged nodes, adds the joiners not yet members in name order, and removes for good only the removed', () => {
    const left = stageChange(ring(['a', 'b', 'c', 'd']), {kind: 'leave', node: 'b'}, 'a')
    assert.ok(left.ok)
    const removed = stageChange(left.state, {kind: 'remove', node: 'd'}, 'a')
    assert.ok(removed.ok)
    const plan = planTransition(removed.state, q, ['f', 'a', 'e'])
    assert.ok(plan.ok)
    assert.deepEqual(plan.joins, ['e', 'f'])
    assert.deepEqual(plan.transition.members, ['a', 'c', 'e', 'f'])
    assert.deepEqual(plan.transition.removing, ['d'])
    assert.deepEqual(plan.transition.owners, claimOwnersFrom(q, removed.state.owners, ['a', 'c', 'e', 'f']))
    // Joiners that are members already are no change.
    const nothing = planTransition(ring(['a', 'b']), q, ['a', 'b'])
    assert.equal(!nothing.ok && nothing.error, 'nothing_staged')
    assert.match(!nothing.ok ? nothing.message : '', /no change is staged/)
    // The members stay in name order when a joiner sorts between them.
    const between = planTransition(ring(['a', 'c']), q, ['b'])
    assert.ok(between.ok)
    assert.deepEqual(between.transition.members, ['a', 'b', 'c'])
    const committed = commitTransition(removed.state, q, ['e', 'f'], 'c')
    assert.ok(committed.ok)
    assert.equal(committed.state.version, 7)
    assert.equal(committed.state.claimant, 'c')
    assert.deepEqual(committed.state.next, {...plan.transition, id: '7.c'})
    assert.deepEqual(committed.state.members, ['a', 'b', 'c', 'd'])
    const during = planTransition(committed.state, q, [])
    assert.equal(!during.ok && during.error, 'ring_in_transition')
    assert.match(!during.ok ? during.message : '', /^the ring change 7\.c is still moving data/, 'named by its id, as the commit and status name it')
  })

  it('an install makes the transition the ring and keeps what was staged since; without a transition it changes nothing', () => {
    const committed = commitTransition(ring(['a', 'b']), q, ['c'], 'a')
    assert.ok(committed.ok)
    const stagedSince = {...committed.state, staged: [{kind: 'leave' as const, node: 'b'}]}
    assert.deepEqual(installTransition(stagedSince, 'b'), {
      version: committed.state.version + 1,
      claimant: 'b',
      members: committed.state.next!.members,
      owners: committed.state.next!.owners,
      staged: [{kind: 'leave', node: 'b'}],
    })
    const state = ring(['a', 'b'])
    assert.equal(installTransition(state, 'a'), state)
  })

  it('merging keeps the higher version, then the lower claimant, then the smaller encoding; undefined yields the other', () => {
    const low = ring(['a', 'b'])
    const high = {...low, version: 5}
    assert.equal(mergeRingStates(low, high), high)
    assert.equal(mergeRingStates(high, low), high)
    const byB = {...low, claimant: 'b'}
    assert.equal(mergeRingStates(byB, low), low)
    assert.equal(mergeRingStates(low, byB), low)
    const other = {...low, staged: [{kind: 'leave' as const, node: 'b'}]}
    const smaller = JSON.stringify(low) <= JSON.stringify(other) ? low : other
    assert.equal(mergeRingStates(low, other), smaller)
    assert.equal(mergeRingStates(other, low), smaller)
    assert.equal(mergeRingStates(undefined, low), low)
    assert.equal(mergeRingStates(low, undefined), low)
    assert.equal(mergeRingStates(undefined, undefined), undefined)
  })

  it('the claimant skips members believed down and the removed, and is undefined when none is left', () => {
    const state = {...ring(['c', 'a', 'b']), next: {id: '5.a', members: ['a', 'c'], owners: ring(['a', 'c']).owners, removing: ['a']}}
    assert.equal(claimantOf(state, () => true), 'b')
    assert.equal(claimantOf(state, (name) => name === 'c'), 'c')
    assert.equal(claimantOf(state, () => false), undefined)
  })

  it('a member\'s own row: left stays left, out of the next ring is leaving, in the ring valid, a joiner joining until the ring has it', () => {
    const state = ring(['a', 'b'])
    const moving = {...state, next: {id: '5.a', members: ['a', 'c'], owners: ring(['a', 'c']).owners, removing: []}}
    assert.equal(ownRowStatus('left', state, 'a'), 'left')
    assert.equal(ownRowStatus('left', moving, 'c'), 'left')
    assert.equal(ownRowStatus('valid', state, 'a'), 'valid')
    assert.equal(ownRowStatus('joining', state, 'a'), 'valid')
    assert.equal(ownRowStatus('valid', moving, 'a'), 'valid')
    assert.equal(ownRowStatus('valid', moving, 'b'), 'leaving')
    assert.equal(ownRowStatus('leaving', moving, 'b'), 'leaving')
    assert.equal(ownRowStatus('joining', moving, 'c'), 'joining')
    assert.equal(ownRowStatus('joining', state, 'c'), 'joining')
    assert.equal(ownRowStatus('valid', state, 'c'), 'left')
    assert.equal(ownRowStatus('leaving', state, 'c'), 'left')
  })
})

describe('claimant core: members that share a machine', () => {
  const q = 16
  const machineOf = (name: string): string | undefined => ({a1: 'a', a2: 'a', b1: 'b'})[name]

  it('a commit records each joiner\'s machine from its row, and the install makes them the ring\'s', () => {
    const first = initialRingState(q, 'a1', 'a')
    assert.deepEqual(first.machines, {a1: 'a'})
    const committed = commitTransition(first, q, ['b1', 'a2', 'c1'], 'a1', machineOf)
    assert.ok(committed.ok)
    // In name order, own-name machines (c1: none given) left out.
    assert.deepEqual(committed.state.next?.machines, {a1: 'a', a2: 'a', b1: 'b'})
    assert.deepEqual(Object.keys(committed.state.next?.machines ?? {}), ['a1', 'a2', 'b1'])
    const installed = installTransition(committed.state, 'a1')
    assert.deepEqual(installed.machines, {a1: 'a', a2: 'a', b1: 'b'})
    assert.equal(isValidRingState(installed, q), true)
    const ring = ringFromOwners(q, installed.members, installed.owners, (name) => installed.machines?.[name])
    assert.equal(ring.machineCount, 3)
  })

  it('a member keeps the machine the ring records, whatever a row says later; a leaver takes its machine out', () => {
    const committed = commitTransition(initialRingState(q, 'a1', 'a'), q, ['a2', 'b1'], 'a1', machineOf)
    assert.ok(committed.ok)
    const ring = installTransition(committed.state, 'a1')
    const staged = stageChange(ring, {kind: 'leave', node: 'a2'}, 'a1')
    assert.ok(staged.ok)
    const next = commitTransition(staged.state, q, ['c1'], 'a1', (name) => (name === 'a1' ? 'elsewhere' : machineOf(name)))
    assert.ok(next.ok)
    assert.deepEqual(next.state.next?.machines, {a1: 'a', b1: 'b'})
  })

  it('a ring with no shared machine records none', () => {
    const committed = commitTransition(initialRingState(q, 'n1'), q, ['n2'], 'n1', () => undefined)
    assert.ok(committed.ok)
    assert.equal(committed.state.next?.machines, undefined)
    assert.equal('machines' in installTransition(committed.state, 'n1'), false)
    assert.equal('machines' in initialRingState(q, 'n1', 'n1'), false)
  })
})

describe('claimant core: a ring state from the network', () => {
  const q = 4
  const valid = {
    version: 3,
    claimant: 'a',
    members: ['a', 'b'],
    owners: ['a', 'b', 'a', 'b'],
    staged: [{kind: 'leave', node: 'b'}, {kind: 'remove', node: 'a'}],
  }
  const next = {id: '3.a', members: ['a', 'c'], owners: ['a', 'c', 'c', 'a'], removing: ['b']}

  it('accepts a well-formed state, with or without a transition, at the edges of its bounds', () => {
    assert.equal(isValidRingState(valid, q), true)
    assert.equal(isValidRingState({...valid, next}, q), true)
    assert.equal(isValidRingState({...valid, version: 1}, q), true)
    assert.equal(isValidRingState({...valid, staged: []}, q), true)
    assert.equal(isValidRingState({...valid, next: {...next, removing: []}}, q), true)
    assert.equal(isValidRingState({...valid, machines: {a: 'host1', b: 'host1'}, next: {...next, machines: {c: 'host1'}}}, q), true)
    const many = Array.from({length: stagedChangesMax}, (_, index) => `m${index}`)
    assert.equal(isValidRingState({...valid, members: many, owners: many.slice(0, q), staged: many.map((node) => ({kind: 'leave', node}))}, q), true)
  })

  it('refuses anything else', () => {
    const tooMany = Array.from({length: stagedChangesMax + 1}, (_, index) => `m${index}`)
    const bad: Array<[string, unknown]> = [
      ['null', null],
      ['a string', 'ring'],
      ['version 0', {...valid, version: 0}],
      ['a fractional version', {...valid, version: 1.5}],
      ['a version as text', {...valid, version: '3'}],
      ['no claimant', {...valid, claimant: undefined}],
      ['members not a list', {...valid, members: 'a'}],
      ['no members', {...valid, members: [], owners: []}],
      ['too many members', {...valid, members: tooMany, owners: tooMany.slice(0, q), staged: []}],
      ['an empty member name', {...valid, members: ['a', 'b', '']}],
      ['a member that is not a name', {...valid, members: ['a', 'b', 7]}],
      ['a member that is a list', {...valid, members: ['a', 'b', ['c']]}],
      ['a member twice', {...valid, members: ['a', 'b', 'a']}],
      ['owners not a list', {...valid, owners: 'a'}],
      ['too few owners', {...valid, owners: ['a', 'b', 'a']}],
      ['an owner that is no member', {...valid, owners: ['a', 'b', 'a', 'c']}],
      ['an owner that is not a name', {...valid, owners: ['a', 'b', 'a', 1]}],
      ['staged not a list', {...valid, staged: {}}],
      ['too many staged', {...valid, staged: Array.from({length: stagedChangesMax + 1}, () => ({kind: 'leave', node: 'b'}))}],
      ['a staged null', {...valid, staged: [null]}],
      ['a staged string', {...valid, staged: ['leave b']}],
      ['a staged join', {...valid, staged: [{kind: 'join', node: 'b'}]}],
      ['a staged change of no node', {...valid, staged: [{kind: 'remove', node: 2}]}],
      ['a null transition', {...valid, next: null}],
      ['a transition that is a string', {...valid, next: 'soon'}],
      ['a transition with no id', {...valid, next: {...next, id: 3}}],
      ['a transition with no members', {...valid, next: {...next, members: []}}],
      ['a transition with owners that are no members', {...valid, next: {...next, owners: ['a', 'b', 'b', 'a']}}],
      ['a transition removing no list', {...valid, next: {...next, removing: 'b'}}],
      ['a transition removing a number', {...valid, next: {...next, removing: ['b', 4]}}],
      ['machines as a list', {...valid, machines: ['host1', 'host1']}],
      ['machines of no member', {...valid, machines: {c: 'host1'}}],
      ['an empty machine record', {...valid, machines: {}}],
      ['a machine named like its member', {...valid, machines: {a: 'a'}}],
      ['a machine that is not a name', {...valid, machines: {a: 'host 1'}}],
      ['a machine that is a number', {...valid, machines: {a: 1}}],
      ['a transition with machines of no member', {...valid, next: {...next, machines: {b: 'host1'}}}],
    ]
    for (const [what, state] of bad) assert.equal(isValidRingState(state, q), false, what)
  })
})
