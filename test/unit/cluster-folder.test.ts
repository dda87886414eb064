import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {foreignEntries, isClusterEntry, listSome} from '../../src/cli/local-cluster.js'

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
