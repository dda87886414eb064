/**
 * `npm run bench:etcd` as a user without etcd meets it: --help says how to use it, a missing etcd
 * is refused before anything starts (exit 3, saying how to install it), and a bad flag exits 2.
 * The comparison itself needs etcd, which CI does not install: its figures are in
 * bench/README.md, and its pure parts are tested in test/unit/etcd-compare-core.test.ts.
 */

import assert from 'node:assert/strict'
import {fileURLToPath} from 'node:url'
import {describe, it} from 'node:test'
import {runScript} from './harness.js'
import type {DynRun} from './harness.js'

const script = fileURLToPath(new URL('../../bench/etcd-compare.js', import.meta.url))
/** Nothing here starts a cluster: each answer comes from the script's first checks. */
const timeoutMs = 60_000

function run(args: readonly string[]): Promise<DynRun> {
  return runScript(script, args, {timeoutMs, killSignal: 'SIGINT'})
}

describe('npm run bench:etcd without etcd', () => {
  it('--help says what it measures, with examples and exit codes', async () => {
    const result = await run(['--help'])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /^EXAMPLES$/m)
    assert.match(result.stdout, /npm run bench:etcd -- --rounds 1 --duration 3/)
    assert.match(result.stdout, /^ {2}3 {2}no etcd: install it \(Debian\/Ubuntu: sudo apt-get install etcd-server\)/m)
  })

  it('refuses a missing etcd before starting anything: exit 3, etcd_missing, how to install it', async () => {
    const result = await run(['--etcd', '/nonexistent/bin/etcd', '--json'])
    assert.equal(result.code, 3, result.stderr + result.stdout)
    const answer = JSON.parse(result.stdout) as {ok: boolean; error: string; message: string}
    assert.equal(answer.ok, false)
    assert.equal(answer.error, 'etcd_missing')
    assert.match(answer.message, /\/nonexistent\/bin\/etcd was not found/)
    assert.match(answer.message, /sudo apt-get install etcd-server/)
    assert.doesNotMatch(result.stderr, /starting a fresh/)
    const text = await run(['--etcd', '/nonexistent/bin/etcd'])
    assert.equal(text.code, 3)
    assert.match(text.stderr, /^bench:etcd: no etcd to compare with: .* \[etcd_missing\]$/m)
  })

  it('refuses a bad flag with exit 2 and bad_parameter', async () => {
    for (const args of [['--rounds', '0'], ['--connections', 'many'], ['--no-such-flag']]) {
      const result = await run([...args, '--json'])
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}${result.stdout}`)
      assert.equal((JSON.parse(result.stdout) as {error: string}).error, 'bad_parameter')
    }
  })
})
