/**
 * `dyn cluster plan` as text (src/cli/cluster-change.ts): the transfer line counts per target,
 * and names the n values the plan covers when keys were written with another n than the cluster's;
 * `dyn cluster commit` names the change it started by its transition id.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {formatCommit, formatPlan, formatStaged} from '../../src/cli/cluster-change.js'

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

  it('says to commit a staged leave or removal, and not after a removal that withdrew a join and staged nothing', () => {
    assert.match(formatStaged({...base, staged: [{kind: 'leave', node: 'n3'}]}), /\napply it with: dyn cluster commit\n$/)
    const withdrawn = formatStaged({claimant: 'n1', ringVersion: 3, staged: [], note: 'the join of n9 was withdrawn: it owned no partitions, so nothing moves and no commit is needed'})
    assert.match(withdrawn, /^claimant n1, ring version 3\nstaged changes: none\nthe join of n9 was withdrawn: .*no commit is needed\n$/)
    assert.doesNotMatch(withdrawn, /apply it with/)
  })
})
