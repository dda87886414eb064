/**
 * What a folder's node that no longer runs says of itself (src/cli/local-cluster.ts,
 * `departureOf`): removed (its last line the coded error), left (exit 0 after its last hand-off),
 * or nothing (a crash, a kill, a stop). And the status verdict once every node of the folder is
 * gone: not "start it with dyn cluster up", which started a removed node that only stopped again.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {departureOf} from '../../src/cli/local-cluster.js'
import {localStatusVerdict} from '../../src/cli/cluster-status.js'
import type {ClusterStatus, NodeStatus} from '../../src/cli/cluster-status.js'
import {leftClusterLogLine} from '../../src/node/log-lines.js'

const at = '2026-12-06T04:35:48.097Z n2'

describe('departureOf', () => {
  it('reads removed from the coded error a node stops with on learning it', () => {
    assert.equal(departureOf({exitCode: 2}, [`${at} error removed: n3 was removed`, `${at} stopped`, 'dyn: n3 was removed from the cluster; it stops without handing anything off [removed]']), 'removed')
  })

  it('reads left from an exit 0 after the last hand-off, with the lines a leaver logs after it', () => {
    assert.equal(departureOf({exitCode: 0}, [`${at} ${leftClusterLogLine}`, `${at} transport: lost the connection`, `${at} left the cluster: stopping`, `${at} stopped`]), 'left')
  })

  it('says nothing of a kill, a crash, a stop by down, or another coded error', () => {
    assert.equal(departureOf({signal: 'SIGKILL'}, [`${at} ${leftClusterLogLine}`]), undefined)
    assert.equal(departureOf(undefined, ['dyn: n3 was removed from the cluster [removed]']), undefined)
    assert.equal(departureOf({exitCode: 0}, [`${at} stopped`]), undefined)
    assert.equal(departureOf({exitCode: 2}, ['dyn: the data folder of n2 is a copy of an older disk [old_disk]']), undefined)
    // A leave's line, but not the exit of a leaver.
    assert.equal(departureOf({exitCode: 1}, [`${at} ${leftClusterLogLine}`, 'boom']), undefined)
  })
})

describe('dyn cluster status when every node of the folder is gone', () => {
  const node = (name: string, departure?: 'left' | 'removed'): NodeStatus => ({name, address: `127.0.0.1:${name}`, rpcAddress: '', pid: 1, running: false, serving: false, state: 'left', ...(departure === undefined ? {} : {departure})})
  const status = (nodes: NodeStatus[]): ClusterStatus => ({dir: '.dyn/demo', nodes, agreed: false, otherMembers: []})

  it('says so, and does not advise dyn cluster up, which starts none of them', () => {
    const verdict = localStatusVerdict(status([node('n1', 'left'), node('n2'), node('n3', 'removed')]), new Set(['n2']), false)
    assert.ok(!verdict.ok)
    assert.equal(verdict.error, 'cluster_stopped')
    assert.match(verdict.message, /^every node of \.dyn\/demo has left the cluster or was removed, so dyn cluster up starts none of them; .*dyn cluster status --node HOST:PORT$/)
    assert.doesNotMatch(verdict.message, /start it with/)
  })

  it('still advises up while some node of the folder is only stopped', () => {
    const verdict = localStatusVerdict(status([node('n1', 'removed'), {...node('n2'), state: 'stopped'}]), new Set(), false)
    assert.match(verdict.message, /the cluster is stopped; start it with: dyn cluster up --dir \.dyn\/demo/)
  })
})
