/**
 * The part of a node's storage a replica step (src/coordinator/replica.ts) works on: read one
 * key's object, or change it under that key's lock. The store's own objects are one such space
 * (Store); the hints held for one target node are another (src/handoff/hints.ts), so a fallback
 * merges a write into a hint with exactly the code a home replica merges it with.
 */

import type {ChangedObject, WriteOptions} from './store.js'
import type {StoredObject} from './stored-object.js'

export interface ObjectSpace {
  getObject(partition: number, key: string): Promise<StoredObject | undefined>
  /** Read-modify-write of one key; `change` answers the object to store or a failure that leaves it untouched. */
  updateObject<F extends {ok: false}>(
    partition: number,
    key: string,
    change: (stored: StoredObject | undefined) => ChangedObject | F,
    options: WriteOptions,
  ): Promise<ChangedObject | F>
}
