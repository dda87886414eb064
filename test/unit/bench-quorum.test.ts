/**
 * The bench's check of the quorum given (bench/quorum.ts, refusedQuorum and clusterRuleOf)
 * before its load: an n, r, w or dw the nodes would refuse every request for is refused with
 * the node's own rule and words (src/api/params.ts, checkQuorum), and nothing else is.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {clusterRuleOf, refusedQuorum} from '../../bench/quorum.js'

/** A GET /cluster of three members with dyn's defaults, as a node serves it (the fields the rule reads). */
const threeMembers = {settings: {defaultN: 3, defaultR: 2, defaultW: 2}, effective: {n: 3, r: 2, w: 2}, owners: Array.from({length: 64}, (_, p) => `n${(p % 3) + 1}`)}

describe('the bench refuses a quorum the nodes would refuse, before the load', () => {
  const rule = clusterRuleOf(threeMembers)

  it('reads the rule from GET /cluster: the defaults as set, and the members owning partitions', () => {
    assert.deepEqual(rule, {defaultN: 3, defaultR: 2, defaultW: 2, owners: 3})
    assert.equal(clusterRuleOf({owners: []}), undefined, 'a node that does not say its settings')
  })

  it('refuses n, r, w or dw above the members owning partitions, in the node\'s words', () => {
    assert.ok(rule)
    // -w 4 alone is above the cluster's N first, as a node says it of ?w=4.
    assert.equal(refusedQuorum({w: 4}, rule), 'w=4 is larger than n=3; w must be within 1..n')
    assert.equal(refusedQuorum({n: 4, w: 4}, rule), "n=4 needs 4 distinct nodes, but 3 members own partitions now; use n <= 3, or leave n out to run with the cluster's default fitted to its size until more nodes join")
    assert.equal(refusedQuorum({n: 9}, rule), "n=9 needs 9 distinct nodes, but 3 members own partitions now; use n <= 3, or leave n out to run with the cluster's default fitted to its size until more nodes join")
  })

  it('refuses r > n, w > n and dw > w, as the node does', () => {
    assert.ok(rule)
    assert.equal(refusedQuorum({n: 2, r: 3}, rule), 'r=3 is larger than n=2; r must be within 1..n')
    assert.equal(refusedQuorum({n: 1, w: 2}, rule), 'w=2 is larger than n=1; w must be within 1..n')
    assert.equal(refusedQuorum({w: 1, dw: 2}, rule), 'dw=2 is larger than w=1; dw must be within 0..w')
  })

  it('lets through what the nodes take: the defaults, values within the members, n alone with the defaults following it down', () => {
    assert.ok(rule)
    for (const given of [{}, {n: 3, r: 3, w: 3, dw: 3}, {n: 1}, {r: 1, w: 1}]) assert.equal(refusedQuorum(given, rule), undefined, JSON.stringify(given))
    // A cluster smaller than its N: the defaults are fitted by the node, not refused.
    const two = clusterRuleOf({...threeMembers, owners: ['n1', 'n2']})
    assert.ok(two)
    assert.equal(refusedQuorum({}, two), undefined)
    assert.match(refusedQuorum({r: 3}, two) ?? '', /^r=3 needs 3 distinct nodes, but 2 members own partitions now/)
  })
})
