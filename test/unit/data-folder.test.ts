/**
 * A node's data folder across a start that fails (src/node/data-folder.ts): a folder that was
 * missing or empty loses the LevelDB the start made in it, and the folders it made; a folder that
 * held anything keeps everything, and a file that is not LevelDB's is never removed.
 */

import assert from 'node:assert/strict'
import {existsSync} from 'node:fs'
import {mkdir, mkdtemp, readdir, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'
import type {TestContext} from 'node:test'
import {prepareDataFolder, takeBackFreshStore} from '../../src/node/data-folder.js'
import {diskDatabase} from '../../src/storage/backend.js'

async function tempFolder(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dyn-data-folder-'))
  t.after(() => rm(dir, {recursive: true, force: true}))
  return dir
}

/** A real LevelDB in `folder`, written to and closed, as a start that failed after opening its store leaves it. */
async function leaveStore(folder: string): Promise<void> {
  const database = diskDatabase(folder)
  await database.open({createIfMissing: true})
  await database.put(Buffer.from('meta:identity'), Buffer.from('n5.0badcafe'))
  await database.close()
}

describe('data folder: a failed start takes back the store it made', () => {
  it('removes a missing folder it made, its missing parents with it', async (t) => {
    const dir = await tempFolder(t)
    const data = path.join(dir, 'nodes', 'n5')
    const folder = await prepareDataFolder(data)
    assert.deepEqual(folder, {path: data, fresh: true, made: [path.join(dir, 'nodes'), data]})
    await leaveStore(data)
    assert.ok((await readdir(data)).includes('CURRENT'))
    await takeBackFreshStore(folder)
    assert.deepEqual(await readdir(dir), [])
  })

  it('empties a folder that was empty, and keeps the folder', async (t) => {
    const data = await tempFolder(t)
    const folder = await prepareDataFolder(data)
    assert.deepEqual(folder, {path: data, fresh: true, made: []})
    await leaveStore(data)
    await takeBackFreshStore(folder)
    assert.deepEqual(await readdir(data), [])
  })

  it('leaves a folder that held anything as it is', async (t) => {
    const data = await tempFolder(t)
    await leaveStore(data)
    const before = (await readdir(data)).sort()
    const folder = await prepareDataFolder(data)
    assert.equal(folder.fresh, false)
    await takeBackFreshStore(folder)
    assert.deepEqual((await readdir(data)).sort(), before)

    const other = path.join(data, 'other')
    await mkdir(other)
    await writeFile(path.join(other, 'notes.txt'), 'mine')
    const holding = await prepareDataFolder(other)
    assert.equal(holding.fresh, false)
    await leaveStore(other)
    await takeBackFreshStore(holding)
    assert.ok(existsSync(path.join(other, 'CURRENT')), 'not fresh: its LevelDB stays')
    assert.ok(existsSync(path.join(other, 'notes.txt')))
  })

  it('never removes a file that is not LevelDB\'s, nor the folder that holds it', async (t) => {
    const dir = await tempFolder(t)
    const data = path.join(dir, 'n5')
    const folder = await prepareDataFolder(data)
    await leaveStore(data)
    await writeFile(path.join(data, 'put-there-meanwhile.txt'), 'not the store')
    await takeBackFreshStore(folder)
    assert.deepEqual(await readdir(data), ['put-there-meanwhile.txt'])
  })
})
