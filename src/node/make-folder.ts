/**
 * `mkdir -p` for folders a user names (a data folder, a cluster folder, a report's folder).
 *
 * Node's own recursive mkdir never returns on a file system that answers ENOENT to a mkdir whose
 * parent exists: procfs does (`/proc/x` cannot be made, and the answer says "no such file"), so
 * Node takes it for a missing parent, makes the parent (EEXIST: fine), and tries again, for ever
 * (`fs.mkdirSync('/proc/x/y', {recursive: true})` spins at 100% CPU; the promise form never
 * settles). A user who mistypes `--data-dir /proc/...` would see a node that hangs at start. Here
 * the walk is bounded: find the nearest folder that exists (at most one step per path
 * component), then make each missing component once, in order; any refusal, ENOENT included, is
 * the answer.
 */

import {mkdir, stat} from 'node:fs/promises'
import path from 'node:path'
import {DynError} from '../errors.js'

/** Refusals that a different folder fixes: they are the user's to act on (bad_parameter), not the node's failure. */
const folderRefusals = new Set(['EACCES', 'EPERM', 'ENOENT', 'ENOTDIR', 'EROFS', 'EEXIST'])

/**
 * Makes `folder` and any missing parent, and returns the folders it made, outermost first (none
 * when `folder` existed): what a caller that must leave no trace of a failed run takes back
 * (src/node/data-folder.ts). A folder that cannot be made where it is asked for is a
 * `bad_parameter` DynError that names the component that failed and why; other failures (a full
 * disk, an I/O error) are thrown as they are.
 */
export async function makeFolder(folder: string): Promise<string[]> {
  try {
    return await makeFolderComponents(folder)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? ''
    if (!folderRefusals.has(code)) throw error
    const where = (error as NodeJS.ErrnoException).path ?? folder
    throw new DynError('bad_parameter', `cannot make the folder ${folder}: ${where} ${describeRefusal(code)}; choose a folder on a writable file system that you may write to`)
  }
}

function describeRefusal(code: string): string {
  if (code === 'ENOTDIR') return 'is not a folder (ENOTDIR)'
  if (code === 'EACCES' || code === 'EPERM') return `may not be written (${code})`
  if (code === 'EROFS') return 'is on a read-only file system (EROFS)'
  if (code === 'EEXIST') return 'exists and is not a folder (EEXIST)'
  return 'cannot be created there (ENOENT: a file system such as /proc takes no new folders)'
}

async function makeFolderComponents(folder: string): Promise<string[]> {
  const missing: string[] = []
  let current = path.resolve(folder)
  // Each step goes one component up; the root is its own parent, which ends the walk.
  for (;;) {
    const info = await stat(current).catch((error: NodeJS.ErrnoException) => {
      // ENOTDIR: some component above is a file; going up finds it, and names it.
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined
      throw error
    })
    if (info !== undefined) {
      if (!info.isDirectory()) throw Object.assign(new Error(`ENOTDIR: ${current} is not a folder, mkdir '${folder}'`), {code: 'ENOTDIR', path: current})
      break
    }
    missing.push(current)
    const parent = path.dirname(current)
    if (parent === current) break
    current = parent
  }
  const made: string[] = []
  for (const component of missing.reverse()) {
    const madeHere = await mkdir(component).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        // Made by someone else meanwhile: as good as made here, but not this call's to take back.
        if (error.code !== 'EEXIST') throw error
        return false
      },
    )
    if (madeHere) made.push(component)
  }
  return made
}
