import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {foreignEntries, isClusterEntry, listSome, markLeft} from '../../src/cli/local-cluster.js'
import type {LocalNode} from '../../src/cli/local-cluster.js'

describe('a local cluster\'s folder: what the cluster made, and what it did not', () => {
  const nodes = ['n1', 'n2']

  it('counts the description, the secret and each node\'s data, log and records as the cluster\'s', () => {
    for (const entry of ['cluster.json', 'cluster.secret', 'n1', 'n1.log', 'n1.pid', 'n1.pid.tmp', 'n1.exit.json', 'n1.exit.json.tmp', 'n2', 'n2.log']) {
      assert.equal(isClusterEntry(entry, nodes), true, entry)
    }
  })

  it('counts anything else as the user\'s: other nodes\' names, near misses, a database\'s own files', () => {
    for (const entry of ['notes.txt', 'n3', 'n3.log', 'n1.log.old', 'n1.txt', 'cluster.json.bak', 'CURRENT', 'LOCK', '.git', 'N1']) {
      assert.equal(isClusterEntry(entry, nodes), false, entry)
    }
    assert.deepEqual(foreignEntries(['n1', 'zeta', 'cluster.json', 'alpha', 'n2.pid'], nodes), ['alpha', 'zeta'])
    assert.deepEqual(foreignEntries([], nodes), [])
  })

  it('names at most three entries in a message, and how many more there are', () => {
    assert.equal(listSome(['a']), 'a')
    assert.equal(listSome(['a', 'b', 'c']), 'a, b, c')
    assert.equal(listSome(['a', 'b', 'c', 'd', 'e']), 'a, b, c and 2 more')
  })
})

describe('markLeft: a folder\'s record of a node that left, from a member\'s row', () => {
  const node = (fields: Partial<LocalNode> = {}): LocalNode => ({name: 'n3', port: 7072, rpcPort: 8072, dataDir: '/d/n3', logFile: '/d/n3.log', pid: undefined, ...fields})

  it('marks a node whose row says left, keeping the highest incarnation that said so', () => {
    const local = node()
    markLeft(local, {name: 'n3', status: 'left', incarnation: 4})
    assert.equal(local.left, true)
    assert.equal(local.leftIncarnation, 4)
    markLeft(local, {name: 'n3', status: 'left', incarnation: 2})
    assert.equal(local.leftIncarnation, 4)
  })

  it('unmarks it when a member row (valid or leaving) has a higher incarnation: it joined again under its name', () => {
    for (const status of ['valid', 'leaving']) {
      const local = node({left: true, leftIncarnation: 4})
      markLeft(local, {name: 'n3', status, incarnation: 5})
      assert.equal(local.left, undefined, status)
      assert.equal(local.leftIncarnation, undefined, status)
    }
  })

  it('keeps the mark while its new join is only joining: a staged join may never be committed', () => {
    const local = node({left: true, leftIncarnation: 4})
    markLeft(local, {name: 'n3', status: 'joining', incarnation: 5})
    assert.equal(local.left, true)
  })

  it('keeps the mark against a row from an older table (no higher incarnation), and one made without an incarnation for good', () => {
    for (const row of [{status: 'leaving', incarnation: 4}, {status: 'valid', incarnation: 3}, {status: 'valid'}, {status: 'valid', incarnation: 'x'}]) {
      const local = node({left: true, leftIncarnation: 4})
      markLeft(local, {name: 'n3', ...row})
      assert.equal(local.left, true, JSON.stringify(row))
    }
    const old = node({left: true})
    markLeft(old, {name: 'n3', status: 'valid', incarnation: 99})
    assert.equal(old.left, true, 'marked by an older dyn, with no incarnation to compare')
  })

  it('leaves a node that never left alone', () => {
    const local = node()
    markLeft(local, {name: 'n3', status: 'valid', incarnation: 9})
    assert.equal(local.left, undefined)
  })
})
