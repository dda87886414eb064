/**
 * Pending ranges (as Cassandra's): while a ring transition moves a partition, a put also sends
 * its stored object to the partition's future home replicas, so that nothing written during the
 * transfer is missing on them when ownership passes. These copies do not count towards W: the
 * readers of the key still ask the current homes until the new ring is installed. The same
 * uncounted copies go to the homes a fitted put's n left out (copyToHomesBeyondN).
 */

import type {StoredObject} from '../storage/stored-object.js'
import type {CoordinatorDeps} from './coordinator-deps.js'
import {callReplicaPut} from './replica-client.js'
import {mergeIncoming} from './replica.js'

/**
 * Sends the object to the key's pending homes; the put's answer does not wait for them. A home
 * that does not take it gets a hint: nothing else would bring it a write made after its scan
 * when every old home stays a home and so releases nothing (a cluster growing to N; simulator
 * seeds 60509 and 61166, a copy lost and a copy cut off by a partition).
 */
export function copyToPendingHomes(deps: CoordinatorDeps, partition: number, key: string, n: number, object: StoredObject, timeoutMs: number, bytes?: Buffer): void {
  copyWithHint(deps, partition, key, deps.view().pendingHomes?.(partition, n) ?? [], object, timeoutMs, bytes)
}

/**
 * A put fitted to fewer owners than its key's N (`storedN`) by a node whose ring is behind the
 * coordinator's (it has not yet installed a join that the coordinator has) places only `n`
 * homes, and no transfer is left to bring the key to the others: so the key's homes under
 * `storedN` beyond the first `n` (`homes`) get the object too, with a hint when they do not take
 * it (simulator seed 15374: a delete fitted to n=2 by a node one gossip round behind the
 * install of the third node stayed on two nodes).
 */
export function copyToHomesBeyondN(deps: CoordinatorDeps, partition: number, key: string, homes: readonly string[], object: StoredObject, timeoutMs: number, bytes?: Buffer): void {
  copyWithHint(deps, partition, key, homes, object, timeoutMs, bytes)
}

/** `bytes`, when given, is `object` in the store's layout (a put's coordinator has it already). */
function copyWithHint(deps: CoordinatorDeps, partition: number, key: string, nodes: readonly string[], object: StoredObject, timeoutMs: number, bytes?: Buffer): void {
  for (const node of nodes) {
    if (node === deps.self) continue
    void callReplicaPut(deps, node, partition, key, object, false, Math.max(1, timeoutMs), undefined, bytes).then((reply) => {
      if (!reply.ok) keepHint(deps, node, partition, key, object)
    })
  }
}

/**
 * A home that did not acknowledge (it failed, timed out, or its fallback did) may lack the
 * version: the coordinator keeps a hint for it, as Cassandra's coordinators do, so that hinted
 * handoff brings it the version once it is reachable, whatever read repair does. The hint does
 * not count towards W; the hint store counts it, or counts its refusal for the limits, and it is
 * logged nowhere else, since the put's outcome does not depend on it.
 */
export function keepHint(deps: CoordinatorDeps, home: string, partition: number, key: string, object: StoredObject): void {
  void mergeIncoming(deps.hints.spaceFor(home), deps.policy, partition, key, object, false).catch(() => undefined)
}
