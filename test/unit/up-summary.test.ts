/**
 * The last line of `dyn cluster up` (src/cli/up-summary.ts): the folder's running nodes, counted
 * as the folder's, and the cluster's members as a live member lists them. It read "cluster of 2
 * ready" of a cluster of four members, and "cluster of 1 ready ... (all 1 nodes were running
 * already)" of one of three.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {localMachineCount} from '../../src/cli/local-cluster.js'
import type {LocalCluster} from '../../src/cli/local-cluster.js'
import {presentMemberCount, upSummaryText} from '../../src/cli/up-summary.js'

describe('dyn cluster up: the ready line', () => {
  it('counts the folder\'s nodes as such, and the members a live node lists, without those that left', () => {
    const members = presentMemberCount({members: [{name: 'n1', status: 'valid'}, {name: 'n2', status: 'valid'}, {name: 'n3', status: 'left'}, {name: 'n4', status: 'valid'}, {name: 'n5', status: 'leaving'}]})
    assert.equal(members, 4)
    const text = upSummaryText({dir: '.dyn/demo', started: ['n2'], alreadyRunning: ['n1'], left: ['n3'], machines: 2, clusterMembers: members})
    assert.equal(text, "2 of this folder's nodes running and ready in .dyn/demo (started n2; n1 was running already and left alone; n3 left the cluster and was not started); the cluster has 4 members")
    assert.doesNotMatch(text, /cluster of/)
  })

  it('says a node started again only to finish its leave apart: neither running and ready, nor left and not started', () => {
    // The review of this change: up said "started n4" and "n4 left the cluster and was not started" at once.
    assert.equal(
      upSummaryText({dir: 'd', started: [], alreadyRunning: ['n1', 'n2', 'n3'], left: [], finishing: ['n4'], machines: 3, clusterMembers: 3}),
      "3 of this folder's nodes running and ready in d (all were running already; started none; n4 started again only to finish its leave (it exits by itself once done)); the cluster has 3 members",
    )
  })

  it('says one node running already as one, and nothing of the cluster\'s size when no member said it', () => {
    assert.equal(upSummaryText({dir: 'd', started: [], alreadyRunning: ['n1'], left: ['n2', 'n3'], machines: 1, clusterMembers: undefined}), "1 of this folder's nodes running and ready in d (it was running already; started none; n2, n3 left the cluster and were not started)")
    assert.equal(presentMemberCount(undefined), undefined)
    assert.equal(presentMemberCount({}), undefined)
  })

  it('counts no machine for a node found removed during this up (it said "2 of this folder\'s nodes running on 3 machines")', () => {
    const node = (name: string) => ({name, port: 1, rpcPort: 2, dataDir: name, logFile: `${name}.log`, pid: undefined})
    const cluster = {host: '127.0.0.1', nodes: [node('n1'), node('n2'), node('n3')]} as unknown as LocalCluster
    assert.equal(localMachineCount(cluster), 3)
    assert.equal(localMachineCount(cluster, ['n2']), 2)
  })

  it('names the machines when nodes share them', () => {
    assert.match(upSummaryText({dir: 'd', started: ['n1', 'n2', 'n3', 'n4'], alreadyRunning: [], left: [], machines: 2, clusterMembers: 4}), /^4 of this folder's nodes running on 2 machines and ready in d \(started n1, n2, n3, n4\); the cluster has 4 members$/)
  })
})
