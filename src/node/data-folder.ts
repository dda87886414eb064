/**
 * A node's data folder across one start: what the start found there, so that a start refused
 * before its node serves (a seed that is a client API port, a seed nobody answers at, a cluster
 * with other settings, an internode port in use) leaves no store behind that it made itself. Bad
 * input gets a clear error and changes nothing; a refused start once left a fresh LevelDB in a
 * folder it had just made, and every later attempt raised the incarnation recorded there.
 *
 * The join cannot be checked before the store is opened: whether the node joins at all is the
 * store's to say (a restart starts from its stored member table and asks no seed), and the join
 * announces the identity the store keeps. So the start takes back what it made instead, and only
 * that. A folder that did not exist or held nothing is `fresh`: everything in it after the start
 * is the store this start made. Taking it back removes LevelDB's own files there, never any other
 * file (someone else's, put there meanwhile, stays, and so does its folder), then the folders
 * this start made, innermost first, each only once it is empty. A folder that held anything
 * before is left as it is.
 */

import {readdir, rm, rmdir} from 'node:fs/promises'
import path from 'node:path'
import {makeFolder} from './make-folder.js'

export interface DataFolder {
  readonly path: string
  /** It did not exist, or held nothing, before this start: what is in it now is this start's. */
  readonly fresh: boolean
  /** The folders this start made for it, outermost first (the folder itself last when it was missing). */
  readonly made: readonly string[]
}

/**
 * The names of the files LevelDB (classic-level) makes in its folder: CURRENT, LOCK, LOG and
 * LOG.old, MANIFEST-NNNNNN, and numbered write-ahead logs, tables and temporary files.
 */
const levelDbFileName = /^(CURRENT|LOCK|LOG|LOG\.old|MANIFEST-[0-9]+|[0-9]+\.(log|ldb|sst|dbtmp))$/

/** Makes the data folder (and any missing parent), saying whether it is fresh and which folders it made. */
export async function prepareDataFolder(dataDir: string): Promise<DataFolder> {
  const made = await makeFolder(dataDir)
  const fresh = made.length > 0 || (await readdir(dataDir)).length === 0
  return {path: dataDir, fresh, made}
}

/**
 * Undoes what a start that failed did to a fresh folder: LevelDB's files, then the folders the
 * start made while they are empty. Call it only after this start's store is closed, and only
 * when this start had opened it: a start refused because another node holds the folder must not
 * touch that node's files. A folder that was not fresh is left alone.
 */
export async function takeBackFreshStore(folder: DataFolder): Promise<void> {
  if (!folder.fresh) return
  const names = await readdir(folder.path).catch(() => [] as string[])
  for (const name of names.filter((each) => levelDbFileName.test(each))) await rm(path.join(folder.path, name), {force: true})
  await removeMadeFolders(folder)
}

/** The folders this start made, innermost first, each while it is empty; the first that is not (or cannot go) stays, with those around it. */
export async function removeMadeFolders(folder: DataFolder): Promise<void> {
  for (const made of [...folder.made].reverse()) {
    const removed = await rmdir(made).then(
      () => true,
      () => false,
    )
    if (!removed) return
  }
}
