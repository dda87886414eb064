/**
 * A run that measured nothing of the cluster serving (bench/failed-run.ts): every operation of a
 * kind failed, or none was accepted; the bench then fails with what the node answered.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {unmeasuredRun} from '../../bench/failed-run.js'
import type {KindSummary} from '../../bench/recorder.js'

const latency = {p50Ms: 1, p90Ms: 1, p99Ms: 1, p999Ms: 1, maxMs: 1, meanMs: 1}

function kind(operation: 'read' | 'update', count: number, errors: Record<string, number>, firstFailure?: {status: number; error?: string; message?: string}): KindSummary {
  return {operation, count, throughputPerS: count, goodputPerS: 0, shed: 0, latency, errors, notFound: 0, versionsSeen: {}, ...(firstFailure === undefined ? {} : {firstFailure})} as unknown as KindSummary
}

describe('unmeasuredRun', () => {
  it('a run whose every operation failed with one answer says the counts and that answer once, with its code', () => {
    const refusal = {status: 400, error: 'bad_parameter', message: 'n=2 needs 2 distinct nodes'}
    const unmeasured = unmeasuredRun({operations: [kind('read', 5, {http_error: 5}, refusal), kind('update', 4, {http_error: 4}, refusal)]})
    assert.ok(unmeasured !== undefined)
    assert.equal(unmeasured.code, 'bad_parameter')
    assert.match(unmeasured.problem, /^every read failed \(5 http_error\); every update failed \(4 http_error\); the first answer: 400 bad_parameter: n=2 needs 2 distinct nodes$/)
  })

  it('a run with one success is measured; one with no operation accepted is not', () => {
    assert.equal(unmeasuredRun({operations: [kind('read', 5, {http_error: 4}), kind('update', 4, {})]}), undefined)
    assert.deepEqual(unmeasuredRun({operations: [kind('read', 0, {})]}), {problem: 'it measured no operation', code: 'unreachable', nothingAccepted: true})
  })
})
