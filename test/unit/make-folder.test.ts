/**
 * makeFolder, the `mkdir -p` for folders a user names: it makes what is missing, accepts what
 * exists, and refuses with bad_parameter what cannot be made, never hanging where Node's own
 * recursive mkdir spins for ever (a path under /proc, whose mkdir answers ENOENT).
 */

import assert from 'node:assert/strict'
import {mkdtemp, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'
import {DynError} from '../../src/errors.js'
import {makeFolder} from '../../src/node/make-folder.js'

async function withTempFolder(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dyn-make-folder-'))
  try {
    await body(dir)
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}

function assertRefused(error: unknown, pattern: RegExp): true {
  assert.ok(error instanceof DynError, `a DynError, not ${String(error)}`)
  assert.equal(error.code, 'bad_parameter')
  assert.match(error.message, pattern)
  return true
}

describe('makeFolder', () => {
  it('makes every missing component, and accepts a folder that exists', async () => {
    await withTempFolder(async (dir) => {
      const deep = path.join(dir, 'a', 'b', 'c')
      // What it made, outermost first: what a failed start takes back (data-folder.ts).
      assert.deepEqual(await makeFolder(deep), [path.join(dir, 'a'), path.join(dir, 'a', 'b'), deep])
      assert.ok((await stat(deep)).isDirectory())
      assert.deepEqual(await makeFolder(deep), [])
      assert.deepEqual(await makeFolder(dir), [])
    })
  })

  it('refuses a path through a file, naming the file', async () => {
    await withTempFolder(async (dir) => {
      const file = path.join(dir, 'file')
      await writeFile(file, 'x')
      await assert.rejects(makeFolder(path.join(file, 'sub')), (error) => assertRefused(error, /file is not a folder \(ENOTDIR\)/))
      await assert.rejects(makeFolder(file), (error) => assertRefused(error, /not a folder/))
    })
  })

  // Node's recursive mkdir never returns here; the timeout turns a regression into a failure.
  it('refuses a folder under /proc at once instead of spinning', {timeout: 10_000}, async () => {
    await assert.rejects(makeFolder('/proc/dyn-make-folder-test/data'), (error) => assertRefused(error, /\/proc\/dyn-make-folder-test cannot be created there \(ENOENT/))
  })
})
