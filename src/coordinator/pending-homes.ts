/**
 * Pending ranges (as Cassandra's): while a ring transition moves a partition, a put also sends
 * its stored object to the partition's future home replicas, so that nothing written during the
 * transfer is missing on them when ownership passes. These copies do not count towards W: the
 * readers of the key still ask the current homes until the new ring is installed.
 */

import type {StoredObject} from '../storage/stored-object.js'
import type {CoordinatorDeps} from './coordinator-deps.js'
import {callReplicaPut} from './replica-client.js'

/** Sends the object to the key's pending homes; the put's answer does not wait for them. */
export function copyToPendingHomes(deps: CoordinatorDeps, partition: number, key: string, n: number, object: StoredObject, timeoutMs: number): void {
  const pending = deps.view().pendingHomes?.(partition, n) ?? []
  for (const node of pending) {
    if (node === deps.self) continue
    void callReplicaPut(deps, node, partition, key, object, false, Math.max(1, timeoutMs))
  }
}
