// The `dyn` CLI as a user runs it, against a real 3-node cluster: outputs, --json shapes,
// documented exit codes (0 ok, 1 not found, 2 bad usage or input, 3 unavailable), help texts.

import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {freePortRange, runDyn, startCluster} from './harness.js'
import type {TestCluster} from './harness.js'

describe('dyn CLI', () => {
  let c: TestCluster
  let env: Record<string, string>
  before(async () => {
    c = await startCluster(3)
    env = {DYN_NODE: c.api(0)}
  })
  after(async () => {
    await c.stop()
  })

  it('every command has --help with examples', async () => {
    const top = await runDyn(['--help'])
    assert.equal(top.code, 0)
    for (const command of ['start', 'put', 'get', 'delete', 'ring', 'cluster up', 'cluster down', 'cluster status']) {
      assert.match(top.stdout + (await runDyn(['cluster', '--help'])).stdout, new RegExp(command.split(' ').pop() as string))
      const help = await runDyn([...command.split(' '), '--help'])
      assert.equal(help.code, 0, command)
      assert.match(help.stdout, /EXAMPLES/, command)
      assert.match(help.stdout, /--json/, command)
    }
  })

  it('put then get prints the value; --json gives the documented fields', async () => {
    const put = await runDyn(['put', 'cart:alice', '{"items":["book"]}'], {env})
    assert.equal(put.code, 0, put.stderr)
    assert.match(put.stdout, /^stored cart:alice/)
    const get = await runDyn(['get', 'cart:alice', '--node', c.api(2)])
    assert.equal(get.code, 0, get.stderr)
    assert.equal(get.stdout, '{"items":["book"]}')
    const json = JSON.parse((await runDyn(['get', 'cart:alice', '--json'], {env})).stdout) as Record<string, unknown>
    assert.equal(json.key, 'cart:alice')
    assert.equal(json.found, true)
    assert.equal(typeof json.context, 'string')
    const [sibling] = json.siblings as Array<Record<string, unknown>>
    assert.equal(sibling?.text, '{"items":["book"]}')
    assert.equal(Buffer.from(String(sibling?.value), 'base64').toString(), '{"items":["book"]}')
    assert.equal(sibling?.deleted, false)
  })

  it('reads the value from stdin when it is absent', async () => {
    const put = await runDyn(['put', 'from-stdin'], {env, input: Buffer.from([0, 1, 2, 255])})
    assert.equal(put.code, 0, put.stderr)
    const json = JSON.parse((await runDyn(['get', 'from-stdin', '--json'], {env})).stdout) as {siblings: Array<{value: string; text?: string}>}
    assert.deepEqual([...Buffer.from(json.siblings[0]?.value ?? '', 'base64')], [0, 1, 2, 255])
    assert.equal(json.siblings[0]?.text, undefined)
  })

  it('shows siblings numbered with how to resolve them, and --context resolves them', async () => {
    await runDyn(['put', 'cart:bob', 'book', '--node', c.api(0)])
    await runDyn(['put', 'cart:bob', 'pen', '--node', c.api(1)])
    const get = await runDyn(['get', 'cart:bob'], {env})
    assert.equal(get.code, 0, get.stderr)
    assert.match(get.stdout, /2 siblings/)
    assert.match(get.stdout, /\[1\] (book|pen)/)
    assert.match(get.stdout, /\[2\] (book|pen)/)
    assert.match(get.stdout, /dyn put cart:bob VALUE --context \S+/)
    const context = (JSON.parse((await runDyn(['get', 'cart:bob', '--json'], {env})).stdout) as {context: string}).context
    const resolve = await runDyn(['put', 'cart:bob', 'book,pen', '--context', context], {env})
    assert.equal(resolve.code, 0, resolve.stderr)
    assert.equal((await runDyn(['get', 'cart:bob'], {env})).stdout, 'book,pen')
  })

  it('exit 1 for a missing or deleted key', async () => {
    const missing = await runDyn(['get', 'no-such-key'], {env})
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /does not exist/)
    await runDyn(['put', 'short-lived', 'x'], {env})
    const deleted = await runDyn(['delete', 'short-lived'], {env})
    assert.equal(deleted.code, 0, deleted.stderr)
    const gone = await runDyn(['get', 'short-lived', '--json'], {env})
    assert.equal(gone.code, 1)
    assert.equal((JSON.parse(gone.stdout) as {deleted: boolean}).deleted, true)
    assert.equal((await runDyn(['delete', 'never-there'], {env})).code, 1)
  })

  it('exit 2 for bad usage or input, with the error code', async () => {
    assert.equal((await runDyn(['get', 'k', '-r', 'abc'], {env})).code, 2)
    assert.equal((await runDyn(['get'], {env})).code, 2)
    const tooBig = await runDyn(['get', 'k', '-r', '5'], {env})
    assert.equal(tooBig.code, 2)
    assert.match(tooBig.stderr, /bad_parameter/)
    const badContext = await runDyn(['put', 'k', 'v', '--context', 'garbage', '--json'], {env})
    assert.equal(badContext.code, 2)
    assert.equal((JSON.parse(badContext.stdout) as {error: string}).error, 'bad_context')
  })

  it('exit 3 when no node answers', async () => {
    const port = await freePortRange(1)
    const result = await runDyn(['get', 'k', '--node', `127.0.0.1:${port}`])
    assert.equal(result.code, 3)
    assert.match(result.stderr, /cannot reach a dyn node/)
  })

  it('warns (without failing) when R + W <= N', async () => {
    const weak = await runDyn(['get', 'cart:alice', '-r', '1'], {env})
    assert.equal(weak.code, 0)
    assert.match(weak.stderr, /warning: r=1 \+ w=2 <= n=3/)
    const strong = await runDyn(['get', 'cart:alice', '-r', '2'], {env})
    assert.doesNotMatch(strong.stderr, /warning/)
  })

  it('explains a request on stderr, keeping stdout for the value', async () => {
    const get = await runDyn(['get', 'cart:alice', '--explain'], {env})
    assert.equal(get.stdout, '{"items":["book"]}')
    assert.match(get.stderr, /coordinator n1, partition \d+/)
    assert.match(get.stderr, /n2 +ok/)
  })

  it('ring shows members and a key\'s preference list', async () => {
    const ring = await runDyn(['ring'], {env})
    assert.equal(ring.code, 0)
    assert.match(ring.stdout, /64 partitions/)
    const key = await runDyn(['ring', 'cart:alice', '--json'], {env})
    const body = JSON.parse(key.stdout) as {partition: number; preflist: Array<{node: string; home: boolean}>}
    assert.equal(body.preflist.length, 3)
  })

  it('cluster status reports a healthy cluster, as text and JSON', async () => {
    const status = await runDyn(['cluster', 'status', '--dir', c.dir])
    assert.equal(status.code, 0, status.stdout)
    assert.match(status.stdout, /all nodes serve and agree on the ring/)
    const json = JSON.parse((await runDyn(['cluster', 'status', '--dir', c.dir, '--json'])).stdout) as {agreed: boolean; nodes: unknown[]}
    assert.equal(json.agreed, true)
    assert.equal(json.nodes.length, 3)
  })

  it('cluster up on a folder whose cluster runs starts nothing', async () => {
    const again = await runDyn(['cluster', 'up', '--nodes', '3', '--dir', c.dir])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /all 3 nodes were running already; started none/)
  })
})
