/**
 * The client library as an application imports it (README "From TypeScript"): the package's own
 * name resolves to the client entry (package.json "exports", with its type declarations built),
 * and examples/client.mjs, the README's example whole, runs against a real node: a first put, a
 * read, the merge written back with the read's context, one version left.
 */

import assert from 'node:assert/strict'
import {existsSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {after, before, describe, it} from 'node:test'
import {runScript, startCluster, type TestCluster} from './harness.js'

const packageRoot = fileURLToPath(new URL('../../../', import.meta.url))
const example = fileURLToPath(new URL('../../../examples/client.mjs', import.meta.url))

describe('the client library, imported by the package name', () => {
  let c: TestCluster
  before(async () => {
    c = await startCluster(3)
  })
  after(() => c.stop())

  it('exports DynClient and PartitionAwareClient, with type declarations', async () => {
    // By name at run time: the main compile runs before the client's declarations are built.
    const packageName = 'dyn'
    const library = (await import(packageName)) as Record<string, unknown>
    assert.equal(typeof library.DynClient, 'function')
    assert.equal(typeof library.PartitionAwareClient, 'function')
    assert.ok(existsSync(`${packageRoot}dist/src/client/index.d.ts`))
  })

  it('runs the README\'s example against a real node: the merge written back with the read\'s context leaves one version', async () => {
    const run = await runScript(example, [c.api(0), 'cart:readme'], {cwd: packageRoot, timeoutMs: 60_000, killSignal: 'SIGTERM'})
    assert.equal(run.code, 0, run.stderr)
    assert.deepEqual(JSON.parse(run.stdout), {key: 'cart:readme', items: ['book', 'pen'], siblings: 1})
    const read = await fetch(c.url(1, '/kv/cart:readme'))
    assert.equal(read.status, 200)
    assert.equal(await read.text(), '["book","pen"]')
  })
})
