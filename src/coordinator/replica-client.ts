/**
 * Calls one replica of a key, whether it is this node (the local store, no network) or a peer
 * (an internode RPC), and reports the outcome as a value with its latency. The coordinator
 * shells treat every replica alike through these two functions. A fallback is called with the
 * home it stands in for (`hintFor`), and reads and writes only the hints it keeps for that home;
 * so is the coordinator when it stands in for a down home itself (preflist.ts): then its own hint
 * store is used, never its own copy of the key.
 */

import {assert, DynError} from '../errors.js'
import type {ObjectSpace} from '../storage/object-space.js'
import {MessageType} from '../transport/message-type.js'
import {isStoreFailure} from '../transport/rpc-common.js'
import type {StoredObject} from '../storage/stored-object.js'
import {encodeStoredObject} from '../storage/object-codec.js'
import type {CoordinatorDeps} from './coordinator-deps.js'
import {heldVersionsOf, replicaGetAnswerObject, replicaPutAnswerHeld} from './messages.js'
import type {HeldVersions, ReplicaGetBody, ReplicaPutBody} from './messages.js'
import {mergeIncoming} from './replica.js'

export type ReplicaFailure = {readonly ok: false; readonly error: string; readonly latencyMs: number}

/**
 * A replica's failure that says it did not serve the request and came back before the deadline
 * (a node still starting or overloaded, one whose store takes no writes, one not yet confirmed a
 * member since its restart, a connection refused or broken): another node can be asked in its
 * place. A timeout is not one: the request's time is spent.
 */
export function refusedAtOnce(failure: ReplicaFailure): boolean {
  return refusedBeforeTaking(failure.error) || failure.error === 'unreachable'
}

/**
 * Whether a node's error code says it refused a write before it made anything of it: overloaded,
 * its store takes no writes (storage_failed), or it has not confirmed since its restart that it is
 * still a member (not_ready, which a node's peers are answered with for nothing else). Another
 * node may then be asked in its place without a second version of the same write.
 */
export function refusedBeforeTaking(code: string | undefined): boolean {
  return code === 'overloaded' || code === 'storage_failed' || code === 'not_ready'
}

/** Where this node, as a replica of the request, reads and writes: its own objects, or its hints for a home. */
function localSpace(deps: CoordinatorDeps, hintFor: string | undefined): ObjectSpace {
  if (hintFor === undefined) return deps.store
  assert(hintFor !== deps.self, 'a node never keeps hints for itself')
  return deps.hints.spaceFor(hintFor)
}

/** A local failure as a reply's error: a stable code when there is one (a full hint store is `overloaded`). */
function localError(error: unknown): string {
  if (error instanceof DynError) return error.code
  // LevelDB failing here is said as a peer says it (errorBody): storage_failed, not taken.
  if (isStoreFailure(error)) return 'storage_failed'
  return `local store: ${(error as Error).message}`
}

export async function callReplicaGet(
  deps: CoordinatorDeps,
  node: string,
  partition: number,
  key: string,
  timeoutMs: number,
  hintFor?: string,
): Promise<{ok: true; object: StoredObject | undefined; latencyMs: number} | ReplicaFailure> {
  const startedMs = deps.clock.monotonicMs()
  const elapsed = (): number => deps.clock.monotonicMs() - startedMs
  if (node === deps.self) {
    try {
      return {ok: true, object: await localSpace(deps, hintFor).getObject(partition, key), latencyMs: elapsed()}
    } catch (error) {
      return {ok: false, error: localError(error), latencyMs: elapsed()}
    }
  }
  const address = deps.view().rpcAddressOf(node)
  if (address === undefined) return {ok: false, error: 'unknown member', latencyMs: 0}
  const body: ReplicaGetBody = hintFor === undefined ? {partition, key} : {partition, key, hintFor}
  const answer = await deps.transport.request(address, MessageType.ReplicaGet, body, timeoutMs)
  if (!answer.ok) return {ok: false, error: answer.code ?? answer.error, latencyMs: elapsed()}
  const object = replicaGetAnswerObject(answer.body)
  if (object === 'malformed') return {ok: false, error: 'malformed answer', latencyMs: elapsed()}
  return {ok: true, object, latencyMs: elapsed()}
}

export async function callReplicaPut(
  deps: CoordinatorDeps,
  node: string,
  partition: number,
  key: string,
  object: StoredObject,
  durable: boolean,
  timeoutMs: number,
  hintFor?: string,
  objectBytes?: Buffer,
): Promise<{ok: true; durable: boolean; held: HeldVersions | undefined; latencyMs: number} | ReplicaFailure> {
  const startedMs = deps.clock.monotonicMs()
  const elapsed = (): number => deps.clock.monotonicMs() - startedMs
  if (node === deps.self) {
    try {
      const merged = await mergeIncoming(localSpace(deps, hintFor), deps.policy, partition, key, object, durable, objectBytes)
      if (!merged.ok) return {ok: false, error: merged.error, latencyMs: elapsed()}
      return {ok: true, durable, held: heldVersionsOf(merged.object), latencyMs: elapsed()}
    } catch (error) {
      return {ok: false, error: localError(error), latencyMs: elapsed()}
    }
  }
  const address = deps.view().rpcAddressOf(node)
  if (address === undefined) return {ok: false, error: 'unknown member', latencyMs: 0}
  // The object travels in the store's layout; a caller that has its bytes (a put's coordinator,
  // once for every replica) passes them, others have them made here.
  const bytes = objectBytes ?? encodeStoredObject(object)
  const body: ReplicaPutBody = hintFor === undefined ? {partition, key, objectBytes: bytes, durable} : {partition, key, objectBytes: bytes, durable, hintFor}
  const answer = await deps.transport.request(address, MessageType.ReplicaPut, body, timeoutMs)
  if (!answer.ok) return {ok: false, error: answer.code ?? answer.error, latencyMs: elapsed()}
  return {ok: true, durable: (answer.body as {durable?: unknown} | null)?.durable === true, held: replicaPutAnswerHeld(answer.body), latencyMs: elapsed()}
}
