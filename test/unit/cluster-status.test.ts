// `dyn cluster status --node`'s reading of what the contacted node gathered (describeGathered):
// who serves, whether all hold one ring, and where the members' views of each other differ.

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {otherMemberLine} from '../../commands/cluster/status.js'
import {describeGathered} from '../../src/cli/cluster-status.js'
import type {GatheredStatus, MemberStatusEntry} from '../../src/node/status-subsystem.js'

const settings = {defaultN: 3, defaultR: 2, defaultW: 2, partitionCount: 64, conflictPolicy: 'siblings', clusterId: 'c1'}

/** A member that answered, seeing the others as `sees` says (up unless named). */
function answered(name: string, sees: Record<string, string>, options: {ringHash?: string; clusterId?: string; names?: string[]} = {}): MemberStatusEntry {
  const names = options.names ?? ['n1', 'n2', 'n3']
  return {
    name,
    apiAddress: `10.0.0.${name.slice(1)}:8070`,
    rpcAddress: `10.0.0.${name.slice(1)}:8071`,
    status: 'valid',
    answered: true,
    view: {
      health: {node: name, members: names.length, ringHash: options.ringHash ?? 'r1', clusterId: options.clusterId ?? 'c1'},
      cluster: {
        node: name,
        settings,
        effective: {n: 3, r: 2, w: 2},
        members: names.map((other) => ({name: other, status: 'valid', reachability: other === name ? 'up' : (sees[other] ?? 'up'), partitions: 21})),
        ring: {version: 1, claimant: 'n1', staged: [], transition: null},
      },
    },
  }
}

function silent(name: string, error = 'timeout', status = 'valid', message = 'no answer'): MemberStatusEntry {
  return {name, apiAddress: `10.0.0.${name.slice(1)}:8070`, rpcAddress: `10.0.0.${name.slice(1)}:8071`, status, answered: false, error, message}
}

describe('describeGathered', () => {
  it('all answering, one ring, everyone up: agreed, no disagreement, the settings of the contacted node', () => {
    const gathered: GatheredStatus = {node: 'n1', members: [answered('n1', {}), answered('n2', {}), answered('n3', {})]}
    const status = describeGathered('10.0.0.1:8070', gathered)
    assert.equal(status.agreed, true)
    assert.deepEqual(status.disagreements, [])
    assert.deepEqual(status.seenDown, [])
    assert.deepEqual(status.settings, {n: 3, r: 2, w: 2, partitions: 64, conflict: 'siblings', clusterId: 'c1'})
    assert.equal(status.ringMembers, 3)
  })

  it('a one-way cut: n1 sees n3 down while n2 sees it up, a disagreement and a member seen down', () => {
    const gathered: GatheredStatus = {node: 'n2', members: [answered('n1', {n3: 'down'}), answered('n2', {}), answered('n3', {})]}
    const status = describeGathered('10.0.0.2:8070', gathered)
    assert.equal(status.agreed, true, 'every member answers and holds one ring')
    assert.deepEqual(status.disagreements, [{member: 'n3', seenAs: {n1: 'down', n2: 'up'}}])
    assert.deepEqual(status.seenDown, ['n3'])
  })

  it('a member that does not answer is not serving, and the cluster does not agree', () => {
    const gathered: GatheredStatus = {node: 'n1', members: [answered('n1', {n3: 'down'}), answered('n2', {n3: 'down'}), silent('n3')]}
    const status = describeGathered('10.0.0.1:8070', gathered)
    assert.equal(status.agreed, false)
    assert.equal(status.nodes[2]?.state, 'not_answering')
    assert.match(status.nodes[2]?.problem ?? '', /does not answer n1 on its internode port \(timeout: no answer\)/)
    assert.deepEqual(status.disagreements, [], 'both answering nodes see it down alike')
    assert.deepEqual(status.seenDown, ['n3'])
  })

  it('different rings, or a member of another cluster, do not agree', () => {
    const rings = describeGathered('a:1', {node: 'n1', members: [answered('n1', {}), answered('n2', {}, {ringHash: 'r2'}), answered('n3', {})]})
    assert.equal(rings.agreed, false)
    const stranger = describeGathered('a:1', {node: 'n1', members: [answered('n1', {}), answered('n2', {}), answered('n3', {}, {clusterId: 'c2'})]})
    assert.equal(stranger.agreed, false)
    assert.match(stranger.nodes[2]?.problem ?? '', /serving cluster c2, not n1's c1/)
  })

  it('a member that left is neither asked nor counted, nor are the views of it', () => {
    const left = silent('n3', 'left', 'left', 'it left the cluster')
    const gathered: GatheredStatus = {node: 'n1', members: [answered('n1', {n3: 'down'}), answered('n2', {}), left]}
    const status = describeGathered('10.0.0.1:8070', gathered)
    assert.equal(status.nodes[2]?.state, 'left')
    assert.deepEqual(status.left, ['n3'])
    assert.equal(status.agreed, true)
    assert.deepEqual(status.disagreements, [])
    assert.deepEqual(status.seenDown, [])
  })
})

describe('dyn cluster status: a member the folder did not start', () => {
  it('shows its status and reachability, and one that left as left, without a stale reachability', () => {
    assert.equal(otherMemberLine({name: 'extra', apiAddress: '127.0.0.1:7999', status: 'valid', up: true}), 'extra  127.0.0.1:7999   not started from this folder (valid, up)\n')
    assert.equal(otherMemberLine({name: 'n4', apiAddress: '127.0.0.1:7073', status: 'joining', up: false}), 'n4     127.0.0.1:7073   not started from this folder (joining, down)\n')
    // It read "(left, up)" of a node stopped long since: no node probes a member that left.
    assert.equal(otherMemberLine({name: 'n9', apiAddress: '127.0.0.1:7079', status: 'left', up: true}), 'n9     127.0.0.1:7079   not started from this folder (left the cluster)\n')
  })
})
