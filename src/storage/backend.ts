/**
 * The databases a `Store` runs on, all abstract-level: classic-level (LevelDB on disk) for a real
 * node, memory-level for the simulator, which runs many nodes in one process and restarts them
 * with their storage kept (the same instance) or wiped (a new one). Both sort keys bytewise, so
 * the key layout of layout.ts and its partition scans behave the same on each, and both answer
 * a synchronous get, which the store's read path relies on.
 */

import type {AbstractBatchOptions, AbstractLevel, AbstractPutOptions} from 'abstract-level'
import {ClassicLevel} from 'classic-level'
import {MemoryLevel} from 'memory-level'

/** An abstract-level database of Buffer keys and values. */
export type StoreDatabase = AbstractLevel<string | Buffer | Uint8Array, Buffer, Buffer>

/**
 * classic-level's `sync` write option (fsync before answering), which abstract-level passes
 * through but its types do not name; memory-level ignores it.
 */
export type SyncedBatchOptions = AbstractBatchOptions<Buffer, Buffer> & {readonly sync: boolean}
export type SyncedPutOptions = AbstractPutOptions<Buffer, Buffer> & {readonly sync: boolean}

/** Whether `db` answers a synchronous get (abstract-level's manifest has the flag; its types do not). */
export function supportsGetSync(db: StoreDatabase): boolean {
  return (db.supports as {getSync?: unknown}).getSync === true
}

/** LevelDB in `folder` (created when missing); a second process on the same folder fails to open it with LEVEL_LOCKED. */
export function diskDatabase(folder: string): StoreDatabase {
  return new ClassicLevel<Buffer, Buffer>(folder, {keyEncoding: 'buffer', valueEncoding: 'buffer'})
}

/**
 * An empty in-memory database. Its data outlives `close`: a store opened on the same instance
 * again finds everything, as a node restarted on its disk would.
 */
export function memoryDatabase(): StoreDatabase {
  return new MemoryLevel<Buffer, Buffer>({keyEncoding: 'buffer', valueEncoding: 'buffer', storeEncoding: 'buffer'})
}
