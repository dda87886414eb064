/**
 * How a thrown error becomes an ErrorResponse body and back (src/transport/rpc-common.ts): its
 * code and message always, its details when they are a plain object that fits, never anything a
 * peer could make unbounded or unserialisable.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {DynError} from '../../src/errors.js'
import {errorBody, errorDetailsBytesMax, remoteFailure} from '../../src/transport/rpc-common.js'

describe('ErrorResponse bodies', () => {
  it("carry a refusal's details across, so the node that forwarded it can hand them on", () => {
    const body = errorBody(new DynError('joiner_unreachable', 'nothing was committed', {blocked: [{node: 'n6', rpcAddress: '10.0.0.6:7070', error: 'joiner_unreachable'}]}))
    assert.deepEqual(remoteFailure(body), {ok: false, error: 'remote', code: 'joiner_unreachable', message: 'nothing was committed', details: {blocked: [{node: 'n6', rpcAddress: '10.0.0.6:7070', error: 'joiner_unreachable'}]}})
  })

  it('leave out details that are empty, too large, not a plain object, or not JSON', () => {
    assert.deepEqual(errorBody(new DynError('overloaded', 'busy')), {code: 'overloaded', message: 'busy'})
    assert.equal(errorBody(new DynError('internal', 'big', {text: 'x'.repeat(errorDetailsBytesMax)})).details, undefined)
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    assert.equal(errorBody(Object.assign(new Error('cycle'), {code: 'internal', details: cyclic})).details, undefined)
    for (const details of [[1, 2], 'text', 7, new Map([['a', 1]]), {big: 10n}]) {
      assert.equal(remoteFailure({code: 'bad_request', message: 'm', details}).ok, false)
      assert.equal((remoteFailure({code: 'bad_request', message: 'm', details}) as {details?: unknown}).details, undefined, String(details))
    }
  })
})
