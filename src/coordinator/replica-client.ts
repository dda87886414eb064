/**
 * Calls one replica of a key, whether it is this node (the local store, no network) or a peer
 * (an internode RPC), and reports the outcome as a value with its latency. The coordinator
 * shells treat every replica alike through these two functions. A fallback is called with the
 * home it stands in for (`hintFor`); the coordinator itself is never one (preflist.ts).
 */

import {MessageType} from '../transport/message-type.js'
import type {StoredObject} from '../storage/stored-object.js'
import type {CoordinatorDeps} from './coordinator-deps.js'
import {isStoredObject} from './messages.js'
import type {ReplicaGetBody, ReplicaPutBody} from './messages.js'
import {mergeIncoming} from './replica.js'

export type ReplicaFailure = {readonly ok: false; readonly error: string; readonly latencyMs: number}

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
      return {ok: true, object: await deps.store.getObject(partition, key), latencyMs: elapsed()}
    } catch (error) {
      return {ok: false, error: `local store: ${(error as Error).message}`, latencyMs: elapsed()}
    }
  }
  const address = deps.view().rpcAddressOf(node)
  if (address === undefined) return {ok: false, error: 'unknown member', latencyMs: 0}
  const body: ReplicaGetBody = hintFor === undefined ? {partition, key} : {partition, key, hintFor}
  const answer = await deps.transport.request(address, MessageType.ReplicaGet, body, timeoutMs)
  if (!answer.ok) return {ok: false, error: answer.code ?? answer.error, latencyMs: elapsed()}
  const object = (answer.body as {object?: unknown} | null)?.object
  if (object === null || object === undefined) return {ok: true, object: undefined, latencyMs: elapsed()}
  if (!isStoredObject(object)) return {ok: false, error: 'malformed answer', latencyMs: elapsed()}
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
): Promise<{ok: true; durable: boolean; latencyMs: number} | ReplicaFailure> {
  const startedMs = deps.clock.monotonicMs()
  const elapsed = (): number => deps.clock.monotonicMs() - startedMs
  if (node === deps.self) {
    try {
      const merged = await mergeIncoming(deps.store, deps.policy, partition, key, object, durable)
      if (!merged.ok) return {ok: false, error: merged.error, latencyMs: elapsed()}
      return {ok: true, durable, latencyMs: elapsed()}
    } catch (error) {
      return {ok: false, error: `local store: ${(error as Error).message}`, latencyMs: elapsed()}
    }
  }
  const address = deps.view().rpcAddressOf(node)
  if (address === undefined) return {ok: false, error: 'unknown member', latencyMs: 0}
  const body: ReplicaPutBody = hintFor === undefined ? {partition, key, object, durable} : {partition, key, object, durable, hintFor}
  const answer = await deps.transport.request(address, MessageType.ReplicaPut, body, timeoutMs)
  if (!answer.ok) return {ok: false, error: answer.code ?? answer.error, latencyMs: elapsed()}
  return {ok: true, durable: (answer.body as {durable?: unknown} | null)?.durable === true, latencyMs: elapsed()}
}
