/**
 * The local store of one node, on classic-level (LevelDB): stored objects laid out by partition
 * (see layout.ts), and node metadata (identity, member table). Updates to one key are
 * serialized through a per-key mutex so that concurrent writes to the same key on this replica
 * never lose each other's version.
 *
 * Writes are not fsynced by default: LevelDB appends each write to its log with write(2) before
 * answering, so an acknowledged write survives the process being killed. A write asked to be
 * durable (`dw`, paper §6.1) is synced to disk before it is acknowledged.
 */

import {ClassicLevel} from 'classic-level'
import {Packr} from 'msgpackr'
import {assert} from '../errors.js'
import {isValidVersionSet} from '../versioning/dvvset.js'
import {KeyedMutex} from './keyed-mutex.js'
import {decodeObjectKey, metaKey, objectKey, partitionRange} from './layout.js'
import type {StoredObject} from './stored-object.js'

const packr = new Packr({useRecords: false, moreTypes: false})

/** Bound on one partition scan page, so a scan never holds an unbounded batch in memory. */
export const scanPageMax = 1024

export interface WriteOptions {
  /** Sync the write to disk before answering (a durable write). */
  readonly durable: boolean
}

export class Store {
  private readonly db: ClassicLevel<Buffer, Buffer>
  private readonly mutex = new KeyedMutex()

  private constructor(db: ClassicLevel<Buffer, Buffer>) {
    this.db = db
  }

  static async open(folder: string): Promise<Store> {
    const db = new ClassicLevel<Buffer, Buffer>(folder, {keyEncoding: 'buffer', valueEncoding: 'buffer'})
    await db.open({createIfMissing: true})
    return new Store(db)
  }

  async close(): Promise<void> {
    await this.db.close()
  }

  async getObject(partition: number, key: string): Promise<StoredObject | undefined> {
    const raw = await this.db.get(objectKey(partition, key))
    return raw === undefined ? undefined : decodeObject(raw)
  }

  /**
   * Read-modify-write of one key, serialized with every other update of the same key here.
   * `change` gets what is stored and returns the object to store, or a failure value that
   * leaves the stored object untouched.
   */
  async updateObject<F extends {ok: false}>(
    partition: number,
    key: string,
    change: (stored: StoredObject | undefined) => {ok: true; object: StoredObject} | F,
    options: WriteOptions,
  ): Promise<{ok: true; object: StoredObject} | F> {
    const dbKey = objectKey(partition, key)
    return this.mutex.run(key, async () => {
      const raw = await this.db.get(dbKey)
      const outcome = change(raw === undefined ? undefined : decodeObject(raw))
      if (!outcome.ok) return outcome
      await this.db.put(dbKey, encodeObject(outcome.object), {sync: options.durable})
      return outcome
    })
  }

  /** One page of a partition's objects in key order, starting after `afterKey`. */
  async scanPartition(
    partition: number,
    afterKey: string | undefined,
    limit: number,
  ): Promise<Array<{key: string; object: StoredObject}>> {
    assert(limit >= 1 && limit <= scanPageMax, `scan limit ${limit} out of range`)
    const range = partitionRange(partition)
    const options = afterKey === undefined ? {...range, limit} : {gt: objectKey(partition, afterKey), lt: range.lt, limit}
    const page: Array<{key: string; object: StoredObject}> = []
    for await (const [rawKey, rawValue] of this.db.iterator(options)) {
      page.push({key: decodeObjectKey(rawKey).key, object: decodeObject(rawValue)})
    }
    return page
  }

  async getMeta<T>(name: string): Promise<T | undefined> {
    const raw = await this.db.get(metaKey(name))
    return raw === undefined ? undefined : (packr.unpack(raw) as T)
  }

  async putMeta(name: string, value: unknown): Promise<void> {
    await this.db.put(metaKey(name), packr.pack(value), {sync: true})
  }

  /** True when the store holds no record at all: a node that starts on it needs a new epoch. */
  async isEmpty(): Promise<boolean> {
    for await (const _key of this.db.keys({limit: 1})) return false
    return true
  }
}

function encodeObject(object: StoredObject): Buffer {
  assert(isValidVersionSet(object.versions), 'refusing to store a malformed version set')
  return packr.pack(object)
}

function decodeObject(raw: Buffer): StoredObject {
  const object = packr.unpack(raw) as StoredObject
  assert(isValidVersionSet(object.versions) && Number.isInteger(object.n), 'stored object is malformed')
  return object
}
