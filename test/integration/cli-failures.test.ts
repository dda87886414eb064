// The `dyn` CLI when a request fails on a cluster with a node down: --explain shows the trace
// (who was asked, who answered, who failed) in text mode as it does in JSON, for get, put and
// delete, and the exit code is 3 (unavailable).

import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {killNode, runDyn, startCluster} from './harness.js'
import type {TestCluster} from './harness.js'

describe('dyn CLI with a node down', () => {
  let c: TestCluster
  let env: Record<string, string>
  let context: string
  before(async () => {
    c = await startCluster(2, ['--n', '2', '--r', '1', '--w', '1'])
    env = {DYN_NODE: c.api(0)}
    const put = await runDyn(['put', 'doomed', 'v', '-w', '2', '--json'], {env})
    assert.equal(put.code, 0, put.stderr)
    context = String((JSON.parse(put.stdout) as {context: string}).context)
    await killNode(c.cluster.nodes[1]?.pid)
  })
  after(async () => {
    await c.stop()
  })

  // Each case runs three times (text, JSON, without --explain); a failed write is still stored
  // on n1, so the delete carries a context rather than reading a key it deleted itself.
  const cases: Array<[string, () => string[]]> = [
    ['put', () => ['put', 'doomed', 'v2', '-w', '2']],
    ['get', () => ['get', 'doomed', '-r', '2']],
    ['delete', () => ['delete', 'doomed', '-w', '2', '--context', context]],
  ]

  for (const [name, argsOf] of cases) {
    it(`a ${name} that misses its quorum prints the trace with --explain, in text and in JSON`, async () => {
      const args = argsOf()
      const text = await runDyn([...args, '--explain'], {env})
      assert.equal(text.code, 3, text.stderr)
      assert.match(text.stderr, /\[quorum_unmet\]/)
      assert.match(text.stderr, /coordinator n1, partition \d+/)
      assert.match(text.stderr, /preference list: .*n2/)
      assert.match(text.stderr, /^ +n1 +ok/m)
      // The trace comes before the error line, as it does for a request that succeeds.
      assert.ok(text.stderr.indexOf('coordinator n1') < text.stderr.indexOf('[quorum_unmet]'), text.stderr)
      const json = await runDyn([...args, '--explain', '--json'], {env})
      assert.equal(json.code, 3)
      const body = JSON.parse(json.stdout) as {ok: boolean; error: string; trace?: {coordinator: string}}
      assert.equal(body.ok, false)
      assert.equal(body.error, 'quorum_unmet')
      assert.equal(body.trace?.coordinator, 'n1')
      // Without --explain the text stays one line, and the JSON has no trace (README "JSON
      // output": with --explain, answers and failures carry the trace); put and get once
      // passed the node's whole answer on, trace included.
      const quiet = await runDyn(args, {env})
      assert.equal(quiet.code, 3)
      assert.doesNotMatch(quiet.stderr, /coordinator/)
      const quietJson = await runDyn([...args, '--json'], {env})
      assert.equal(quietJson.code, 3)
      const quietBody = JSON.parse(quietJson.stdout) as {error: string; trace?: unknown}
      assert.equal(quietBody.error, 'quorum_unmet')
      assert.equal(quietBody.trace, undefined, `${name}: a trace without --explain`)
    })
  }
})
