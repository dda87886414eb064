/**
 * What the node and the CLI do with answers that are not as expected: a trace whose replies are
 * not a list (a forwarding peer's failure passed on as it came) is answered as is by
 * `roundedTrace`, and a clear's answer from a node that does not say how many changes it dropped
 * is still described.
 */
import assert from 'node:assert/strict'
import {it} from 'node:test'
import {formatClear} from '../../src/cli/cluster-change.js'
import {roundedTrace} from '../../src/coordinator/cluster-view.js'
import type {RequestTrace} from '../../src/coordinator/cluster-view.js'

it('rounds each reply latency to hundredths of a ms, and passes a trace it cannot read on as it came', () => {
  const trace = {replies: [{node: 'n1', latencyMs: 0.2522799999997005}, {node: 'n2', latencyMs: 'soon'}]} as unknown as RequestTrace
  assert.deepEqual((roundedTrace(trace) as unknown as {replies: unknown[]}).replies, [{node: 'n1', latencyMs: 0.25}, {node: 'n2', latencyMs: 'soon'}])
  const unreadable = {replies: 'none'} as unknown as RequestTrace
  assert.equal(roundedTrace(unreadable), unreadable)
})

it('describes a clear whose answer does not say how many staged changes it dropped', () => {
  assert.match(formatClear({staged: []}), /^cleared:\n/)
  assert.match(formatClear({staged: [], cleared: 0}), /^nothing was staged, so nothing changed/)
  assert.match(formatClear({staged: [], cleared: 2}), /^cleared 2 staged change\(s\)/)
})
