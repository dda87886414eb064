/**
 * `dyn cluster plan` as text (src/cli/cluster-change.ts): the transfer line counts per target,
 * and names the n values the plan covers when keys were written with another n than the cluster's.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {formatPlan} from '../../src/cli/cluster-change.js'

const base = {claimant: 'n1', ringVersion: 4, staged: [{kind: 'join', node: 'n4'}], members: ['n1', 'n2', 'n3', 'n4'], ownership: {n1: 4, n2: 4, n3: 4, n4: 4}, ownershipMoves: []}
const transfers = [{partition: 1, target: 'n4'}, {partition: 2, target: 'n4'}, {partition: 2, target: 'n1'}]

describe('cluster plan text', () => {
  it('reads as before for the cluster\'s N alone', () => {
    assert.match(formatPlan({...base, transfers, replicaCounts: [3]}), /^3 replica transfer\(s\) \(a partition copied to a new home replica\): n4 2, n1 1$/m)
  })

  it('names the n values when keys use more than one', () => {
    assert.match(formatPlan({...base, transfers, replicaCounts: [3, 5]}), /^3 replica transfer\(s\) \(a partition copied to a new home replica for keys of n 3, 5\): n4 2, n1 1$/m)
  })
})
