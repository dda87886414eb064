/**
 * The databases a `Store` runs on, all abstract-level: classic-level (LevelDB on disk) for a real
 * node, memory-level for the simulator, which runs many nodes in one process and restarts them
 * with their storage kept (the same instance) or wiped (a new one). Both sort keys bytewise, so
 * the key layout of layout.ts and its partition scans behave the same on each, and both answer
 * a synchronous get, which the store's read path relies on.
 */

import type {AbstractChainedBatchWriteOptions, AbstractLevel, AbstractPutOptions} from 'abstract-level'
import {ClassicLevel} from 'classic-level'
import {MemoryLevel} from 'memory-level'

/** An abstract-level database of Buffer keys and values. */
export type StoreDatabase = AbstractLevel<string | Buffer | Uint8Array, Buffer, Buffer>

/**
 * classic-level's `sync` write option (fsync before answering), which abstract-level passes
 * through but its types do not name; memory-level ignores it.
 */
export type SyncedBatchWriteOptions = AbstractChainedBatchWriteOptions & {readonly sync?: boolean}
export type SyncedPutOptions = AbstractPutOptions<Buffer, Buffer> & {readonly sync: boolean}

/** One operation of a batch: a put of a record, or a delete. */
export type BatchOperation = {readonly type: 'put'; readonly key: Buffer; readonly value: Buffer} | {readonly type: 'del'; readonly key: Buffer}

/**
 * Writes `operations` as one atomic batch (one LevelDB WriteBatch), synced to disk first when
 * `sync`. Through a chained batch, not `db.batch(array, options)`: for an array batch,
 * abstract-level 3 copies the options into a new object for every operation, which cost 13 µs of
 * CPU per write on this machine against 4 µs for the same writes through a chained batch
 * (bench/README.md, "The store's write path"). A database that is not open fails the promise.
 */
export async function writeBatch(db: StoreDatabase, operations: readonly BatchOperation[], sync: boolean): Promise<void> {
  const batch = db.batch()
  try {
    for (const operation of operations) {
      if (operation.type === 'put') batch.put(operation.key, operation.value)
      else batch.del(operation.key)
    }
  } catch (error) {
    await batch.close()
    throw error
  }
  const options: SyncedBatchWriteOptions = sync ? {sync: true} : {}
  await batch.write(options)
}

/** Whether `db` answers a synchronous get (abstract-level's manifest has the flag; its types do not). */
export function supportsGetSync(db: StoreDatabase): boolean {
  return (db.supports as {getSync?: unknown}).getSync === true
}

/** LevelDB in `folder` (created when missing); a second process on the same folder fails to open it with LEVEL_LOCKED. */
export function diskDatabase(folder: string): StoreDatabase {
  return new ClassicLevel<Buffer, Buffer>(folder, {keyEncoding: 'buffer', valueEncoding: 'buffer'})
}

/**
 * Whether a LevelDB in `folder` is held open by another process (its LOCK file is locked). Opening
 * it is the only way to ask LevelDB, and it writes to the folder's LOG: only for a folder about
 * to be deleted, to not delete it under a running node.
 */
export async function isDiskDatabaseInUse(folder: string): Promise<boolean> {
  const database = new ClassicLevel<Buffer, Buffer>(folder, {keyEncoding: 'buffer', valueEncoding: 'buffer'})
  try {
    await database.open({createIfMissing: false})
  } catch (error) {
    return (error as {cause?: {code?: string}}).cause?.code === 'LEVEL_LOCKED'
  }
  await database.close()
  return false
}

/**
 * An empty in-memory database. Its data outlives `close`: a store opened on the same instance
 * again finds everything, as a node restarted on its disk would.
 */
export function memoryDatabase(): StoreDatabase {
  return new MemoryLevel<Buffer, Buffer>({keyEncoding: 'buffer', valueEncoding: 'buffer', storeEncoding: 'buffer'})
}
