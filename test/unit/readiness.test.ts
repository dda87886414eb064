// GET /ready's rule (src/api/readiness.ts): a node that left, or that reaches fewer members than
// the default quorum needs, is not ready for client traffic; a node serving normally is.

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {readinessOf} from '../../src/api/readiness.js'

describe('readinessOf', () => {
  it('a member reaching enough of the others for R and W is ready, joining, valid or leaving', () => {
    for (const status of ['joining', 'valid', 'leaving']) assert.deepEqual(readinessOf({status, members: 3, down: 1, r: 2, w: 2}), {ready: true})
    assert.deepEqual(readinessOf({status: 'valid', members: 1, down: 0, r: 1, w: 1}), {ready: true}, 'a node alone, its quorum capped to 1')
  })

  it('a node cut off from the others (every request through it would fail quorum_unmet) is not ready, and says why', () => {
    // The walk's isolated node answered /health 200 while every get and put through it failed.
    const cut = readinessOf({status: 'valid', members: 3, down: 2, r: 2, w: 2})
    assert.ok(!cut.ready)
    assert.deepEqual(cut.reasons, ['it reaches 1 of the 3 members (itself included), fewer than the 2 a request with the defaults (R=2, W=2) needs: gets and puts through it fail quorum_unmet'])
    // W alone can be the larger.
    assert.equal(readinessOf({status: 'valid', members: 5, down: 2, r: 1, w: 4}).ready, false)
  })

  it('a node that has left is not ready, whatever it reaches', () => {
    const left = readinessOf({status: 'left', members: 3, down: 0, r: 2, w: 2})
    assert.ok(!left.ready)
    assert.match(left.reasons[0] ?? '', /it has left the cluster/)
  })

  it('a node waiting out its stop delay is not ready, says for how long it serves still, and keeps its other reasons', () => {
    const stopping = readinessOf({status: 'valid', members: 3, down: 0, r: 2, w: 2, stoppingInMs: 2400})
    assert.ok(!stopping.ready)
    assert.deepEqual(stopping.reasons, ['it is stopping: it serves 3 s more so that balancers stop sending it requests, then finishes what it has begun and exits'])
    // Its delay over, it is still not ready until its port closes.
    assert.equal(readinessOf({status: 'valid', members: 3, down: 0, r: 2, w: 2, stoppingInMs: 0}).ready, false)
    const stoppingAndCut = readinessOf({status: 'valid', members: 3, down: 2, r: 2, w: 2, stoppingInMs: 1000})
    assert.ok(!stoppingAndCut.ready)
    assert.equal(stoppingAndCut.reasons.length, 2)
  })
})
