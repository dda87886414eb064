/**
 * The cluster folder's lock (src/cli/folder-lock.ts): one holder at a time, across processes
 * racing for it; a stale lock taken over; a file under its name that is no lock left alone; a
 * second take in one process refused; `down`'s check.
 */

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'
import {DynError} from '../../src/errors.js'
import {folderLockFileName, takeFolderLock, withFolderLock} from '../../src/cli/folder-lock.js'
import {processStartTicksOf} from '../../src/cli/process-state.js'

const lockModule = fileURLToPath(new URL('../../src/cli/folder-lock.js', import.meta.url))

async function folder(t: {after: (fn: () => Promise<void>) => void}): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dyn-folder-lock-'))
  t.after(() => rm(dir, {recursive: true, force: true}))
  return dir
}

/** A pid that runs no process: one past the kernel's default pid_max, which no process gets. */
const deadPid = 4_194_305

describe('the cluster folder lock', () => {
  it('is held once: a second take is refused (folder_busy, naming the holder) until it is given back', async (t) => {
    const dir = await folder(t)
    const lock = await takeFolderLock(dir, 'cluster up')
    await assert.rejects(takeFolderLock(dir, 'bench'), (error: DynError) => error.code === 'folder_busy' && new RegExp(`another dyn cluster up \\(pid ${process.pid}\\)`).test(error.message))
    // A down from this process (a bench cleaning up what its own up started) runs under the same hold.
    assert.equal(await withFolderLock(dir, 'cluster down', async () => 'stopped'), 'stopped')
    await lock.release()
    assert.deepEqual(await readdir(dir), [], 'nothing is left in the folder')
    const again = await takeFolderLock(dir, 'cluster up')
    await again.release()
  })

  it('takes over a lock whose holder no longer runs, and leaves alone a file under its name that is not a lock', async (t) => {
    const dir = await folder(t)
    const file = path.join(dir, folderLockFileName)
    await writeFile(file, JSON.stringify({pid: deadPid, command: 'cluster up'}))
    assert.equal(await withFolderLock(dir, 'cluster down', async () => 'stopped'), 'stopped')
    assert.deepEqual(await readdir(dir), [], 'the down gave back the lock it took over')
    await writeFile(file, JSON.stringify({pid: deadPid, command: 'cluster up'}))
    const lock = await takeFolderLock(dir, 'cluster up')
    assert.equal(JSON.parse(await readFile(file, 'utf8')).pid, process.pid)
    await lock.release()

    await writeFile(file, 'notes of my own\n')
    await assert.rejects(takeFolderLock(dir, 'cluster up'), (error: DynError) => error.code === 'folder_busy' && /is not a lock dyn made .*delete it/.test(error.message))
    assert.equal(await readFile(file, 'utf8'), 'notes of my own\n', 'the file is unchanged')
    assert.deepEqual((await readdir(dir)).sort(), [folderLockFileName], 'no temporary file is left')
  })

  it('a lock held by another running process refuses a take and a down, unless its pid now names a process started later; a folder that cannot be written is bad input', async (t) => {
    const dir = await folder(t)
    // Pid 1 always runs.
    await writeFile(path.join(dir, folderLockFileName), JSON.stringify({pid: 1, command: 'verify'}))
    await assert.rejects(takeFolderLock(dir, 'cluster up'), (error: DynError) => error.code === 'folder_busy' && /another dyn verify \(pid 1\)/.test(error.message))
    await assert.rejects(withFolderLock(dir, 'cluster down', async () => assert.fail('ran under another holder')), (error: DynError) => error.code === 'folder_busy' && /another dyn verify \(pid 1\)/.test(error.message))
    // The same pid started at another time is another process: its lock is stale (a pid handed out again).
    assert.ok(processStartTicksOf(1) !== undefined)
    await writeFile(path.join(dir, folderLockFileName), JSON.stringify({pid: 1, command: 'verify', started: `${processStartTicksOf(1)}1`}))
    const taken = await takeFolderLock(dir, 'cluster up')
    await taken.release()
    await assert.rejects(takeFolderLock(path.join(dir, 'missing', 'deeper'), 'cluster up'), (error: DynError) => error.code === 'bad_parameter' && /cannot write in the folder/.test(error.message))
  })

  it('processes racing for it, over a stale lock too, never hold it at once', async (t) => {
    const dir = await folder(t)
    const marker = path.join(dir, 'holder')
    // Each racer takes the lock, proves it alone by making a marker file exclusively (O_EXCL
    // fails if another racer's is there), holds it a moment, then removes the marker and lets go;
    // every third time it leaves the lock behind as a holder killed with SIGKILL would (its pid
    // one that runs no more), so that the others race to take a stale lock over again and again
    // (with three racers or more on one stale lock, two once held it at once).
    const racer = `
      const {takeFolderLock} = await import(${JSON.stringify(lockModule)})
      const {open, rm, writeFile} = await import('node:fs/promises')
      let held = 0
      for (let round = 0; round < 30; round += 1) {
        let lock
        try { lock = await takeFolderLock(${JSON.stringify(dir)}, 'cluster up') } catch (error) { if (error.code === 'folder_busy') continue; throw error }
        const handle = await open(${JSON.stringify(marker)}, 'wx')
        await handle.close()
        await new Promise((resolve) => setTimeout(resolve, 2))
        await rm(${JSON.stringify(marker)})
        if (round % 3 === 0) await writeFile(${JSON.stringify(path.join(dir, folderLockFileName))}, JSON.stringify({pid: ${deadPid}, command: 'cluster up'}))
        await lock.release()
        held += 1
      }
      process.stdout.write(String(held))
    `
    await writeFile(path.join(dir, folderLockFileName), JSON.stringify({pid: deadPid, command: 'cluster up'}))
    const runs = await Promise.all(
      Array.from({length: 6}, () =>
        new Promise<{code: number | null; out: string; err: string}>((resolve) => {
          const child = spawn(process.execPath, ['--input-type=module', '-e', racer], {stdio: ['ignore', 'pipe', 'pipe']})
          let out = ''
          let err = ''
          child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
          child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
          child.on('close', (code) => resolve({code, out, err}))
        }),
      ),
    )
    for (const run of runs) assert.equal(run.code, 0, `a racer failed (two held the lock at once, or an error): ${run.err}`)
    assert.ok(runs.reduce((sum, run) => sum + Number(run.out), 0) > 0, 'some racer held the lock')
    // A stale lock the last holder left is all that may remain: no temporary file, no claim.
    assert.ok((await readdir(dir)).every((entry) => entry === folderLockFileName), (await readdir(dir)).join(', '))
  })
})
