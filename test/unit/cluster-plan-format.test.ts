/**
 * `dyn cluster plan` as text (src/cli/cluster-change.ts): the transfer line counts per target,
 * and names the n values the plan covers when keys were written with another n than the cluster's;
 * `dyn cluster commit` names the change it started by its transition id.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {formatCommit, formatPlan, formatStaged, replicaWarnings} from '../../src/cli/cluster-change.js'

const base = {claimant: 'n1', ringVersion: 4, staged: [{kind: 'join', node: 'n4'}], members: ['n1', 'n2', 'n3', 'n4'], ownership: {n1: 4, n2: 4, n3: 4, n4: 4}, ownershipMoves: []}
const transfers = [{partition: 1, target: 'n4'}, {partition: 2, target: 'n4'}, {partition: 2, target: 'n1'}]

describe('cluster plan text', () => {
  it('reads as before for the cluster\'s N alone', () => {
    assert.match(formatPlan({...base, transfers, replicaCounts: [3]}), /^3 replica transfer\(s\) \(a partition copied to a new home replica\): n4 2, n1 1$/m)
  })

  it('names the n values when keys use more than one', () => {
    assert.match(formatPlan({...base, transfers, replicaCounts: [3, 5]}), /^3 replica transfer\(s\) \(a partition copied to a new home replica for keys of n 3, 5\): n4 2, n1 1$/m)
  })

  it('names a commit by the ring change it started, as status and refusals do, not by the version it was planned on', () => {
    const committed = {...base, ringVersion: 5, transition: '5.n1', staged: [{kind: 'leave', node: 'n4'}], members: ['n1', 'n2', 'n3'], ownership: {n1: 6, n2: 5, n3: 5}, transfers, replicaCounts: [3]}
    const text = formatCommit(committed)
    assert.match(text, /^committed ring change 5\.n1 \(claimant n1\): leave n4\nafter commit: 3 members, partitions owned: n1 6, n2 5, n3 5\n/)
    assert.doesNotMatch(text, /ring version/)
    assert.match(text, /\nwatch the transfers with: dyn cluster status\n$/)
  })

  it('lists a join a commit leaves out among the staged changes, marked, then says why and what to do; a commit says it stays staged', () => {
    const message = 'n1, the claimant, cannot reach n5 at 10.9.9.9:8070, the internode address n5 advertises, so a commit leaves its join out. ...'
    const blocked = [{kind: 'join', node: 'n5', rpcAddress: '10.9.9.9:8070', error: 'joiner_unreachable', message}]
    const alone = formatPlan({claimant: 'n1', ringVersion: 3, staged: [], blocked, note: 'a commit now would be refused (joiner_unreachable): the join of n5 is all that is staged, and the claimant cannot reach it'})
    assert.equal(alone, `claimant n1, ring version 3\nstaged changes: join n5 (cannot be committed: see below)\njoin n5 cannot be committed: ${message}\na commit now would be refused (joiner_unreachable): the join of n5 is all that is staged, and the claimant cannot reach it\n`)
    const beside = formatPlan({...base, staged: [{kind: 'leave', node: 'n3'}], blocked, transfers, replicaCounts: [3]})
    assert.match(beside, /^claimant n1, ring version 4\nstaged changes: leave n3, join n5 \(cannot be committed: see below\)\njoin n5 cannot be committed: n1, the claimant/)
    const committed = formatCommit({...base, transition: '5.n1', staged: [{kind: 'leave', node: 'n3'}], blocked, transfers, replicaCounts: [3]})
    assert.match(committed, /^committed ring change 5\.n1 \(claimant n1\): leave n3\n/)
    assert.match(committed, new RegExp(`\\njoin n5 stays staged, not committed: ${message.replace(/[.()]/g, '\\$&')}\\nwatch the transfers with: dyn cluster status\\n$`))
  })

  it('says to commit a staged leave or removal, and not after a removal that withdrew a join and staged nothing', () => {
    assert.match(formatStaged({...base, staged: [{kind: 'leave', node: 'n3'}]}), /\napply it with: dyn cluster commit\n$/)
    const withdrawn = formatStaged({claimant: 'n1', ringVersion: 3, staged: [], note: 'the join of n9 was withdrawn: it owned no partitions, so nothing moves and no commit is needed'})
    assert.match(withdrawn, /^claimant n1, ring version 3\nstaged changes: none\nthe join of n9 was withdrawn: .*no commit is needed\n$/)
    assert.doesNotMatch(withdrawn, /apply it with/)
  })

  it('during a ring change, says a staged leave is committed once that change has finished, not "apply it with" a commit that is refused', () => {
    const note = 'the ring change 10.n1 is still moving data; wait until dyn cluster status shows no transfers'
    const text = formatStaged({claimant: 'n1', ringVersion: 10, staged: [{kind: 'leave', node: 'n2'}], note})
    assert.equal(text, `claimant n1, ring version 10\nstaged changes: leave n2\n${note}\nleave n2 is staged; commit with dyn cluster commit once the ring change under way has finished (dyn cluster status shows its transfers)\n`)
    assert.doesNotMatch(text, /apply it with/)
  })
})

describe('replica warnings of a plan (dyn cluster plan, leave, remove)', () => {
  const leave = {claimant: 'n1', ringVersion: 4, staged: [{kind: 'leave', node: 'n3'}], ownershipMoves: [], transfers: []}

  it('warns when fewer members than N would own partitions: fewer replicas until nodes join, larger requests refused', () => {
    const warnings = replicaWarnings({...leave, members: ['n1', 'n2'], ownership: {n1: 8, n2: 8}, replicaCounts: [3], defaultN: 3})
    assert.deepEqual(warnings, [
      "after the commit only 2 members would own partitions, fewer than the cluster's N=3: each key gets 2 replicas instead of 3 until 1 more node(s) join (transfers then bring it back to 3); requests asking n, r or w above 2 are refused (bad_parameter), and those that ask nothing run with the defaults fitted to 2",
    ])
  })

  it('warns when fewer members than the largest n keys were written with would own partitions, N met', () => {
    const warnings = replicaWarnings({...leave, members: ['n1', 'n2', 'n3', 'n4'], ownership: {n1: 4, n2: 4, n3: 4, n4: 4}, replicaCounts: [3, 5], defaultN: 3})
    assert.deepEqual(warnings, ['keys were written with n up to 5, and after the commit only 4 members would own partitions: those keys keep 4 replicas until 1 more node(s) join, and requests asking n=5 are refused (bad_parameter) until then'])
  })

  it('says both when both hold, and nothing when the owners are enough or the plan makes no ring', () => {
    assert.equal(replicaWarnings({...leave, members: ['n1', 'n2'], ownership: {n1: 8, n2: 8}, replicaCounts: [3, 4], defaultN: 3}).length, 2)
    assert.deepEqual(replicaWarnings({...leave, members: ['n1', 'n2', 'n3'], ownership: {n1: 6, n2: 5, n3: 5}, replicaCounts: [3], defaultN: 3}), [])
    assert.deepEqual(replicaWarnings({claimant: 'n1', ringVersion: 4, staged: [], note: 'nothing is staged'}), [])
    // A member listed with no partition is no owner.
    assert.equal(replicaWarnings({...leave, members: ['n1', 'n2', 'n3'], ownership: {n1: 8, n2: 8, n3: 0}, replicaCounts: [3], defaultN: 3}).length, 1)
  })

  it('from a claimant that does not say N, warns on the largest n it lists (N among them)', () => {
    const warnings = replicaWarnings({...leave, members: ['n1', 'n2'], ownership: {n1: 8, n2: 8}, replicaCounts: [3]})
    assert.deepEqual(warnings, ['keys were written with n up to 3, and after the commit only 2 members would own partitions: those keys keep 2 replicas until 1 more node(s) join, and requests asking n=3 are refused (bad_parameter) until then'])
  })
})
