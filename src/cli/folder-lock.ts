/**
 * One command at a time starts the nodes of a cluster folder. Two `dyn cluster up` at once (two
 * terminals, a script run twice) both found the same nodes missing and started them, and the
 * loser's nodes, exiting on ports already taken, overwrote the winner's pid records and took the
 * winner's first node down through the loser's cleanup (found by a new user's walk).
 *
 * The lock is a file in the folder, `.dyn-up.lock`, holding the pid, start time and command of its
 * holder. It appears whole or not at all: it is written under a name of the holder's own and then
 * hard-linked to the lock's name, which fails if a lock exists (link(2) never replaces a file). A
 * lock whose holder no longer runs (killed with SIGKILL, so it never gave the lock back), or whose
 * pid now names a process that started later, is taken over; a file under the lock's name that is
 * not a lock is never removed, only reported. `dyn cluster down` holds it too (withFolderLock).
 *
 * A stale lock is taken over by one command at a time: it claims the takeover by hard-linking the
 * lock file it found to `.dyn-up.lock.takeover` (link(2) fails if another command's claim is
 * there), reads the holder from what it linked (a lock made since, by a command that runs, is left
 * alone), and removes the lock's name only while it still names that same file (inode), which no
 * one else may remove meanwhile: the stale holder is gone, and other takeovers wait for the claim.
 * The takeover moved a stale lock aside before, and three commands on one stale lock could all
 * hold it (a race test failed once in CI, two holders at once). A claim left by a command that
 * died in the middle of a takeover (milliseconds) is removed once it is older than 10 s.
 */

import {link, readFile, rename, stat, unlink, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {DynError} from '../errors.js'
import {processStartTicksOf, processStateOf} from './process-state.js'

export const folderLockFileName = '.dyn-up.lock'

/** The names a lock's holder writes before linking (and a takeover moves a stale lock to), which a folder may hold for a moment. */
export function isFolderLockEntry(entry: string): boolean {
  return entry === folderLockFileName || entry === takeoverClaimName || /^\.dyn-up\.lock\.\d+\.(tmp|stale)$/.test(entry)
}

/** The claim of a takeover in progress: a hard link to the lock file found stale. */
const takeoverClaimName = `${folderLockFileName}.takeover`
/** How long a command waits for another's takeover (a few system calls) before trying again. */
const takeoverWaitMs = 20
/** A claim older than this was left by a command that died in the middle of its takeover. */
const takeoverClaimAbandonedMs = 10_000

/** Takeovers of a stale lock at most, before giving up to commands that keep taking it. */
const takeAttemptsMax = 3

interface LockHolder {
  readonly pid: number
  readonly command: string
  /** When the holder started (processStartTicksOf), so that a pid handed out again to another process is not taken for it. */
  readonly started?: string
}

export interface FolderLock {
  release(): Promise<void>
}

/** The locks this process holds (file -> the command holding it): a second `up` of one folder in one process is refused as another's would be. */
const heldHere = new Map<string, string>()

/**
 * Takes the lock of `dir` (which must exist) for `command` (as its user typed it: "cluster up"); refused with
 * `folder_busy` while another command that runs holds it, and with `bad_parameter` when the folder
 * cannot be written.
 */
export async function takeFolderLock(dir: string, command: string): Promise<FolderLock> {
  const file = path.join(dir, folderLockFileName)
  const mine = path.join(dir, `${folderLockFileName}.${process.pid}.tmp`)
  const holding = heldHere.get(file)
  if (holding !== undefined) throw busy(dir, file, {pid: process.pid, command: holding})
  try {
    const started = processStartTicksOf(process.pid)
    await writeFile(mine, JSON.stringify({pid: process.pid, command, ...(started === undefined ? {} : {started})} satisfies LockHolder), {mode: 0o600})
  } catch (error) {
    throw unwritable(dir, error)
  }
  try {
    for (let attempt = 0; attempt < takeAttemptsMax; attempt += 1) {
      try {
        await placeLock(mine, file)
        heldHere.set(file, command)
        return {release: () => release(file)}
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw unwritable(dir, error)
      }
      const holder = await readHolder(file)
      if (holder === 'absent') continue
      if (holder === 'not_a_lock') {
        throw new DynError('folder_busy', `${file} is not a lock dyn made (it holds something else): if no dyn command is starting this folder's nodes, delete it, then run this again`, {lockFile: file})
      }
      // A lock under this process's own pid that it does not hold is an earlier process's, whose pid came round again.
      if (holder.pid !== process.pid && isRunning(holder)) throw busy(dir, file, holder)
      await takeOver(dir, file, holder)
    }
    throw new DynError('folder_busy', `${dir}: another dyn command took its lock (${file}) each time this one tried; wait for it to end, then run this again`, {lockFile: file})
  } finally {
    await unlink(mine).catch(() => undefined)
  }
}

/**
 * Runs `fn` holding the lock of `dir` (refused with `folder_busy` while another command holds it):
 * for a command that must not act under a start in progress, nor let one begin meanwhile (`dyn
 * cluster down`: an up taking the folder while it stops nodes would start the rest, unrecorded).
 * Within a process that holds the lock already (a bench stopping the cluster its own up started),
 * `fn` runs under that hold.
 */
export async function withFolderLock<T>(dir: string, command: string, fn: () => Promise<T>): Promise<T> {
  if (heldHere.has(path.join(dir, folderLockFileName))) return fn()
  const lock = await takeFolderLock(dir, command)
  try {
    return await fn()
  } finally {
    await lock.release()
  }
}

function busy(dir: string, file: string, holder: LockHolder): DynError {
  return new DynError(
    'folder_busy',
    `${dir} is in use by another dyn ${holder.command} (pid ${holder.pid}), which starts the same nodes: wait for it to end, or stop it (Ctrl-C, or kill ${holder.pid}: it stops the nodes it started), then run this again`,
    {pid: holder.pid, lockFile: file},
  )
}

function unwritable(dir: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code ?? ''
  if (!['EACCES', 'EPERM', 'EROFS', 'ENOENT', 'ENOTDIR', 'ENOSPC'].includes(code)) return error as Error
  return new DynError('bad_parameter', `cannot write in the folder ${dir} (${code}): give --dir a folder you may write to, on a writable file system with space left`)
}

/**
 * Removes the stale lock `file` (its holder `stale` no longer runs) under the takeover claim; does
 * nothing when another command is taking it over (the caller tries again), or when the lock is no
 * longer that stale one. A file system without hard links moves it aside instead (`moveAside`).
 */
async function takeOver(dir: string, file: string, stale: LockHolder): Promise<void> {
  const claim = path.join(dir, takeoverClaimName)
  try {
    await link(file, claim)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? ''
    if (code === 'ENOENT') return
    // Another command is taking it over: give it the moment that takes before trying again.
    if (code === 'EEXIST') {
      await removeAbandonedClaim(claim)
      await new Promise((resolve) => setTimeout(resolve, takeoverWaitMs))
      return
    }
    if (['EPERM', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'].includes(code)) return moveAside(dir, file, stale)
    throw unwritable(dir, error)
  }
  try {
    const claimed = await readHolder(claim)
    // What was linked is a lock made since the stale one was read, by a command that runs: left alone.
    if (claimed === 'absent' || claimed === 'not_a_lock' || claimed.pid !== stale.pid || claimed.started !== stale.started || isRunning(claimed)) return
    const [lock, linked] = await Promise.all([stat(file).catch(() => undefined), stat(claim)])
    if (lock !== undefined && lock.ino === linked.ino && lock.dev === linked.dev) await unlink(file).catch(() => undefined)
  } finally {
    await unlink(claim).catch(() => undefined)
  }
}

/** A takeover claim left by a command that died in the middle of its takeover (older than any takeover takes) is removed. */
async function removeAbandonedClaim(claim: string): Promise<void> {
  const claimed = await stat(claim).catch(() => undefined)
  if (claimed !== undefined && Date.now() - claimed.ctimeMs > takeoverClaimAbandonedMs) await unlink(claim).catch(() => undefined)
}

/** Moves a stale lock aside, on a file system without hard links; one that turns out to be live (another command's, made a moment ago) is put back. */
async function moveAside(dir: string, file: string, stale: LockHolder): Promise<void> {
  const aside = path.join(dir, `${folderLockFileName}.${process.pid}.stale`)
  try {
    await rename(file, aside)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw unwritable(dir, error)
  }
  const moved = await readHolder(aside)
  if (moved !== 'absent' && moved !== 'not_a_lock' && moved.pid !== stale.pid && isRunning(moved)) {
    await link(aside, file).catch(() => undefined)
  }
  await unlink(aside).catch(() => undefined)
}

/** Gives the lock back if this process still holds it (a lock taken over from it is the new holder's). */
async function release(file: string): Promise<void> {
  heldHere.delete(file)
  const holder = await readHolder(file)
  if (holder !== 'absent' && holder !== 'not_a_lock' && holder.pid === process.pid) await unlink(file).catch(() => undefined)
}

async function readHolder(file: string): Promise<LockHolder | 'absent' | 'not_a_lock'> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : 'not_a_lock'
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>
    if (!(Number.isInteger(parsed.pid) && (parsed.pid as number) > 0 && typeof parsed.command === 'string')) return 'not_a_lock'
    return {pid: parsed.pid as number, command: parsed.command, ...(typeof parsed.started === 'string' ? {started: parsed.started} : {})}
  } catch {
    return 'not_a_lock'
  }
}

/**
 * Whether the holder still runs: its pid runs (EPERM: as another user), is no zombie, and, where
 * the lock says when it started, started then (a pid handed out again after the holder was killed
 * is another process, whose folder this is not; a review found a stale lock blocking the folder
 * for good, its message advising to kill an unrelated process).
 */
function isRunning(holder: LockHolder): boolean {
  try {
    process.kill(holder.pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  if (processStateOf(holder.pid) === 'Z') return false
  const started = processStartTicksOf(holder.pid)
  return holder.started === undefined || started === undefined || started === holder.started
}

/**
 * Puts the lock written at `mine` in place as `file`, failing with EEXIST if a lock is there: a
 * hard link, so that it appears whole. A file system without hard links (vfat, some network
 * mounts) gets an exclusive create instead, whose content a reader may find empty for a moment
 * (and then refuses, as for any file that is no lock).
 */
async function placeLock(mine: string, file: string): Promise<void> {
  try {
    await link(mine, file)
  } catch (error) {
    if (!['EPERM', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error
    await writeFile(file, await readFile(mine), {flag: 'wx', mode: 0o600})
  }
}
