/**
 * `dyn cluster status`'s view of each node's peers, ring changes and transfers (transfer-status.ts):
 * quiet when all is well, and each figure a node serves when it is not.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {formatTransfers} from '../../src/cli/transfer-status.js'

describe('cluster status: peers, ring changes and transfers', () => {
  it('says nothing when every peer is up, no hints are kept and nothing moves', () => {
    assert.equal(formatTransfers([{name: 'n1', peers: [{name: 'n2', reachability: 'up', hintsPending: 0}], transfers: {total: 0}}]), '')
  })

  it('shows a peer seen down with the hints kept for it, a ring change and a transfer with its ETA', () => {
    const text = formatTransfers([
      {
        name: 'n1',
        peers: [{name: 'n2', reachability: 'down', hintsPending: 12}, {name: 'n3', reachability: 'up', hintsPending: 0}],
        ring: {claimant: 'n1', transition: {id: '4.n1', members: ['n1', 'n2', 'n3', 'n4'], removing: []}},
      },
      {name: 'n4', transfers: {total: 16, done: 5, keysReceived: 1200, bytesReceived: 2 * 1048576, etaMs: 4100, active: [{partition: 7, source: 'n2', keys: 40}]}},
    ])
    assert.match(text, /^n1 sees: n2 down \(12 hints kept for it\)$/m)
    // One hint is one hint ("1 hints kept for it" once).
    const one = formatTransfers([{name: 'n1', peers: [{name: 'n2', reachability: 'down', hintsPending: 1}]}])
    assert.match(one, /^n1 sees: n2 down \(1 hint kept for it\)$/m)
    assert.doesNotMatch(text, /n3 up/)
    assert.match(text, /ring change 4\.n1 under way \(claimant n1\): to members n1, n2, n3, n4/)
    assert.match(text, /n4 +received 5\/16 partitions \(1200 objects fetched from their old homes, 2\.0 MB, ETA 5 s\); moving p7 from n2 \(40 objects\)/)
  })

  it('shows transfers that make no progress as stalled, with no ETA, and why when the node knows', () => {
    const waiting = formatTransfers([{name: 'n3', transfers: {total: 24, done: 8, keysReceived: 900, bytesReceived: 1048576, etaMs: null, stalledMs: 12_400, waitingFor: 'n5 down (needed for 16 partition(s); it is leaving: if its machine is lost for good, dyn cluster remove n5)'}}])
    assert.equal(waiting, '  n3     received 8/24 partitions (900 objects fetched from their old homes, 1.0 MB, no progress for 12 s); waiting: n5 down (needed for 16 partition(s); it is leaving: if its machine is lost for good, dyn cluster remove n5)\n')
    // An ETA a node still sent is not shown once it says the transfers are stalled.
    const unknown = formatTransfers([{name: 'n3', transfers: {total: 24, done: 8, etaMs: 3000, stalledMs: 10_000}}])
    assert.match(unknown, /received 8\/24 partitions \(0 objects fetched from their old homes, 0\.0 MB, no progress for 10 s: stalled for a reason this node does not know \(see its log\)\)$/m)
    assert.doesNotMatch(unknown, /ETA/)
  })

  it('says in words what an old owner still hands off after the new ring took over', () => {
    const text = formatTransfers([{name: 'n1', transfers: {total: 0, releasedPartitionsPending: 14}}])
    assert.equal(text, '  n1     releasing 14 partition(s) it no longer owns (their copies, if any, go to their new homes first)\n')
  })

  it('shows the hints kept for a member that left, and a delivery back-off', () => {
    const text = formatTransfers([
      {
        name: 'n1',
        peers: [
          {name: 'n2', status: 'left', reachability: 'down', hintsPending: 3},
          {name: 'n3', status: 'valid', reachability: 'up', hintsPending: 7, hintBackoff: {failedRounds: 4, retryInMs: 7200}},
          {name: 'n4', status: 'left', reachability: 'down', hintsPending: 0},
        ],
      },
    ])
    assert.match(text, /^n1 sees: n2 left \(3 hints kept for it, going to their keys' current homes\), n3 up \(7 hints kept for it, next try in 8 s after 4 failed round\(s\)\)$/m)
    assert.doesNotMatch(text, /n4/)
  })
})
