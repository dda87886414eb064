/**
 * How a thrown error becomes an ErrorResponse body and back (src/transport/rpc-common.ts): its
 * code and message always, its details when they are a plain object that fits, never anything a
 * peer could make unbounded or unserialisable. And the RepeatLog, which logs lines any stranger
 * can repeat at the first and every power of two of each kind.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {DynError} from '../../src/errors.js'
import {errorBody, errorDetailsBytesMax, ordinal, printable, remoteFailure, RepeatLog, repeatKindsMax} from '../../src/transport/rpc-common.js'

describe('ErrorResponse bodies', () => {
  it("carry a refusal's details across, so the node that forwarded it can hand them on", () => {
    const body = errorBody(new DynError('joiner_unreachable', 'nothing was committed', {blocked: [{node: 'n6', rpcAddress: '10.0.0.6:7070', error: 'joiner_unreachable'}]}))
    assert.deepEqual(remoteFailure(body), {ok: false, error: 'remote', code: 'joiner_unreachable', message: 'nothing was committed', details: {blocked: [{node: 'n6', rpcAddress: '10.0.0.6:7070', error: 'joiner_unreachable'}]}})
  })

  it("say a LevelDB failure with dyn's code for a store that fails, storage_failed, keeping LevelDB's reason", () => {
    const body = errorBody(Object.assign(new Error('IO error: /data/n3/000123.log: No space left on device'), {code: 'LEVEL_IO_ERROR'}))
    assert.equal(body.code, 'storage_failed')
    assert.match(body.message, /No space left on device/)
    assert.equal(errorBody(new DynError('overloaded', 'busy')).code, 'overloaded')
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

describe('RepeatLog', () => {
  it('logs each kind at its first and at every power of two of its count, with the count', () => {
    const lines: string[] = []
    const repeats = new RepeatLog((line) => lines.push(line))
    for (let i = 0; i < 1000; i += 1) repeats.say('http_request', 'an HTTP request')
    // 1, 2, 4, ..., 512: ten lines for a thousand, where one a request made a thousand.
    assert.equal(lines.length, 10)
    assert.equal(lines[0], 'an HTTP request (the first since the node started; more are logged at the 2nd, 4th, 8th, ... with their count)')
    assert.deepEqual(lines.slice(1).map((line) => /\(the (\d+)\w\w since the node started\)$/.exec(line)?.[1]), ['2', '4', '8', '16', '32', '64', '128', '256', '512'])
  })

  it('counts kinds apart, so that a flood of one does not hide the first of another', () => {
    const lines: string[] = []
    const repeats = new RepeatLog((line) => lines.push(line))
    for (let i = 0; i < 3; i += 1) repeats.say('frame_too_large', 'frame')
    assert.equal(repeats.say('hello_timeout', 'timeout'), 1)
    assert.equal(repeats.say('frame_too_large', 'frame'), 4)
    assert.deepEqual(lines.map((line) => line.split(' (')[0]), ['frame', 'frame', 'timeout', 'frame'])
  })

  it('keeps at most repeatKindsMax kinds apart, counting the rest as one', () => {
    const lines: string[] = []
    const repeats = new RepeatLog((line) => lines.push(line))
    for (let kind = 0; kind < repeatKindsMax; kind += 1) repeats.say(`kind ${kind}`, 'seen')
    assert.equal(repeats.say('one more', 'seen'), 1)
    assert.equal(repeats.say('and another', 'seen'), 2)
    assert.equal(repeats.say('kind 0', 'seen'), 2)
  })

  it('says ordinals in English, and makes peer text printable and bounded', () => {
    assert.deepEqual([1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 32, 64, 111, 1024, 8192].map(ordinal), ['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '22nd', '23rd', '32nd', '64th', '111th', '1024th', '8192nd'])
    assert.equal(printable('a\nb\u0007c', 10), 'a?b?c')
    assert.equal(printable('abcdef', 3), 'abc...')
  })
})
