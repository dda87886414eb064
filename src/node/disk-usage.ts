/**
 * The bytes a node's data folder takes on disk (LevelDB's tables, log and manifest), for GET
 * /stats. LevelDB's own `approximateSize` leaves out what is still in the log, so a young node
 * would report nothing; summing the folder's files counts what the disk really holds.
 */

import {readdir, stat, statfs} from 'node:fs/promises'
import path from 'node:path'
import type {Clock} from '../clock.js'

/** A LevelDB folder holds a few files per 2 MB table; beyond this many the sum is a lower bound. */
export const folderFilesMax = 100_000
/** Watchers poll every second; the folder is summed at most this often however many ask. */
export const folderBytesMaxAgeMs = 2000

export async function folderBytes(folder: string, filesMax: number = folderFilesMax): Promise<number> {
  const entries = await readdir(folder, {withFileTypes: true}).catch(() => [])
  let total = 0
  for (const entry of entries.slice(0, filesMax)) {
    if (!entry.isFile()) continue
    total += await stat(path.join(folder, entry.name)).then((s) => s.size, () => 0)
  }
  return total
}

/** `folderBytes`, summed again only when the last sum is older than `maxAgeMs`. */
export function cachedFolderBytes(folder: string, clock: Clock, maxAgeMs: number = folderBytesMaxAgeMs): () => Promise<number> {
  let last: {atMs: number; bytes: Promise<number>} | undefined
  return () => {
    const nowMs = clock.monotonicMs()
    if (last === undefined || nowMs - last.atMs >= maxAgeMs) last = {atMs: nowMs, bytes: folderBytes(folder)}
    return last.bytes
  }
}

/**
 * The bytes free to this process on the file system that holds `folder` (what `df` shows as
 * available), or undefined when the system does not say.
 */
export async function freeDiskBytes(folder: string): Promise<number | undefined> {
  const info = await statfs(folder).catch(() => undefined)
  return info === undefined ? undefined : diskSpaceOf(info).freeBytes
}

/**
 * The file system that holds `folder`: its size and the bytes free to this process (as `df`
 * shows them), for GET /stats and /metrics, so that an operator sees a disk filling before the
 * node's writes stop on it; undefined when the system does not say. Read at most every
 * `maxAgeMs`, however many ask.
 */
export function cachedDiskSpace(folder: string, clock: Clock, maxAgeMs: number = folderBytesMaxAgeMs): () => Promise<DiskSpace | undefined> {
  let last: {atMs: number; space: Promise<DiskSpace | undefined>} | undefined
  return () => {
    const nowMs = clock.monotonicMs()
    if (last === undefined || nowMs - last.atMs >= maxAgeMs) {
      last = {atMs: nowMs, space: statfs(folder).then((info) => diskSpaceOf(info), () => undefined)}
    }
    return last.space
  }
}

export interface DiskSpace {
  readonly freeBytes: number
  readonly sizeBytes: number
}

/**
 * Block counts are in units of the fragment size where the system gives one (Node 20's statfs
 * does not, later ones do): on virtiofs or gRPC-FUSE the block size is 1 MiB against 4 KiB
 * fragments, and the figures would read 256 times too large.
 */
function diskSpaceOf(info: {readonly bavail: number; readonly blocks: number; readonly bsize: number; readonly frsize?: number}): DiskSpace {
  const unitBytes = info.frsize ?? info.bsize
  return {freeBytes: info.bavail * unitBytes, sizeBytes: info.blocks * unitBytes}
}
