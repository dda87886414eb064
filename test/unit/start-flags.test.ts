/**
 * The start flags of a local cluster's nodes (src/cli/start-flags.ts): how the flags a later
 * `dyn cluster up` gives merge into the saved ones, and what differs. A new user's walk found
 * `up --write-buffer-ms 0 --anti-entropy-ms 1000` dropping a saved `--request-timeout 3000`, and
 * a change saved while every node ran with the old flags.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {mergeStartFlags, startFlagChanges, startFlagChangeText, startFlagPairs, startFlagsRefusal, startFlagsText} from '../../src/cli/start-flags.js'

const saved = ['--request-timeout', '3000', '--write-buffer-ms', '50', '--anti-entropy-ms', '0']

describe('local cluster start flags', () => {
  it('a flag given replaces the saved value of that flag in its place, and the saved flags not given are kept', () => {
    assert.deepEqual(mergeStartFlags(saved, ['--write-buffer-ms', '0', '--anti-entropy-ms', '1000']), ['--request-timeout', '3000', '--write-buffer-ms', '0', '--anti-entropy-ms', '1000'])
  })

  it('no flags given keeps the saved ones; flags not saved follow them; nothing saved takes the flags given', () => {
    assert.deepEqual(mergeStartFlags(saved, []), saved)
    assert.deepEqual(mergeStartFlags(['--request-timeout', '3000'], ['--tombstone-grace-ms', '60000', '--request-timeout', '2500']), ['--request-timeout', '2500', '--tombstone-grace-ms', '60000'])
    assert.deepEqual(mergeStartFlags([], ['--request-timeout', '2500']), ['--request-timeout', '2500'])
  })

  it('a flag given twice takes its last value, as dyn start takes it', () => {
    assert.deepEqual(mergeStartFlags([], ['--request-timeout', '1', '--request-timeout', '2']), ['--request-timeout', '2'])
  })

  it('keeps the TLS files when none is given, and replaces them as one group when any is (a new set without a client CA drops the old one)', () => {
    const tls = ['--tls-cert', '/a.crt', '--tls-key', '/a.key', '--tls-ca', '/ca.crt', '--tls-client-ca', '/clients.crt']
    assert.deepEqual(mergeStartFlags(['--request-timeout', '5000', ...tls], ['--request-timeout', '6000']), ['--request-timeout', '6000', ...tls])
    assert.deepEqual(mergeStartFlags(['--request-timeout', '5000', ...tls], ['--tls-cert', '/b.crt', '--tls-key', '/b.key', '--tls-ca', '/ca.crt']), [
      '--request-timeout', '5000', '--tls-cert', '/b.crt', '--tls-key', '/b.key', '--tls-ca', '/ca.crt',
    ])
  })

  it('lists the flags whose values differ, with the saved value (undefined: dyn start\'s default) and the one asked', () => {
    assert.deepEqual(startFlagChanges(saved, mergeStartFlags(saved, [])), [])
    assert.deepEqual(startFlagChanges(saved, mergeStartFlags(saved, ['--request-timeout', '3000'])), [], 'the saved value given again is no change')
    assert.deepEqual(startFlagChanges(saved, mergeStartFlags(saved, ['--request-timeout', '2500', '--http-request-timeout-ms', '9000'])), [
      {flag: '--request-timeout', saved: '3000', asked: '2500'},
      {flag: '--http-request-timeout-ms', saved: undefined, asked: '9000'},
    ])
    assert.deepEqual(startFlagChanges(['--tls-client-ca', '/c'], []), [{flag: '--tls-client-ca', saved: '/c', asked: undefined}])
  })

  it('says a change as saved -> asked, and the saved flags without the TLS files', () => {
    assert.equal(startFlagChangeText({flag: '--request-timeout', saved: '3000', asked: '2500'}), '--request-timeout 3000 -> 2500')
    assert.equal(startFlagChangeText({flag: '--write-buffer-ms', saved: undefined, asked: '50'}), "--write-buffer-ms (dyn start's default) -> 50")
    assert.equal(startFlagsText(['--request-timeout', '3000', '--write-buffer-ms', '50', '--tls-cert', '/a.crt']), '--request-timeout 3000 --write-buffer-ms 50')
    assert.equal(startFlagsText([]), '')
  })

  it('the refusal names the flags that differ, the running nodes, and both ways on: down and up with the flags, or leave them out', () => {
    const changes = startFlagChanges(saved, mergeStartFlags(saved, ['--request-timeout', '2500']))
    const text = startFlagsRefusal('.dyn/c', changes, ['n1', 'n2'])
    assert.match(text, /^\.dyn\/c: its running nodes \(n1, n2\) run with other start flags than asked \(saved -> asked\): --request-timeout 3000 -> 2500\./)
    assert.match(text, /stop the cluster \(dyn cluster down --dir \.dyn\/c\) and run dyn cluster up --dir \.dyn\/c --request-timeout 2500;/)
    assert.match(text, /or leave those flags out/)
    assert.match(startFlagsRefusal('d', changes, ['n3']), /its running node \(n3\) runs with .* none while it runs/)
  })

  it('a list that is not pairs of flag and value is a programmer\'s error', () => {
    assert.throws(() => startFlagPairs(['--request-timeout']), /assertion failed/)
    assert.throws(() => startFlagPairs(['3000', '--request-timeout']), /assertion failed/)
  })
})
