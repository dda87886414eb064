/**
 * The bodies of the internode messages the coordinators exchange (see MessageType in
 * src/transport), and their checks: anything that arrives over the network is checked before
 * use, so a confused or hostile peer gets an error answer and changes nothing here.
 */

import type {StoredObject} from '../storage/stored-object.js'
import {isValidVersionSet} from '../versioning/dvvset.js'
import {partitionIndexMax} from '../storage/layout.js'

export interface ReplicaGetBody {
  readonly partition: number
  readonly key: string
}

export interface ReplicaGetAnswer {
  readonly object: StoredObject | null
}

export interface ReplicaPutBody {
  readonly partition: number
  readonly key: string
  readonly object: StoredObject
  readonly durable: boolean
}

export interface ReplicaPutAnswer {
  readonly durable: boolean
}

/** A put (or delete) handed to a home replica by a node that is not one. */
export interface CoordinatePutBody {
  readonly key: string
  readonly value: Uint8Array
  readonly contentType: string
  readonly tombstone: boolean
  /** The client's context, already decoded and checked by the node that took the request. */
  readonly context: ReadonlyArray<readonly [string, number]>
  readonly n: number
  readonly w: number
  readonly dw: number
  readonly explain: boolean
  readonly forwardedBy: string
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}

function isPartition(x: unknown): x is number {
  return Number.isInteger(x) && (x as number) >= 0 && (x as number) <= partitionIndexMax
}

export function isStoredObject(x: unknown): x is StoredObject {
  if (!isRecord(x) || !Number.isInteger(x.n) || (x.n as number) < 1) return false
  if (!isValidVersionSet(x.versions)) return false
  const versions = x.versions as {entries: Array<{values: unknown[]}>}
  return versions.entries.every((entry) =>
    entry.values.every(
      (v) =>
        isRecord(v) &&
        v.value instanceof Uint8Array &&
        typeof v.contentType === 'string' &&
        typeof v.timestampMs === 'number' &&
        typeof v.tombstone === 'boolean',
    ),
  )
}

export function isReplicaGetBody(x: unknown): x is ReplicaGetBody {
  return isRecord(x) && isPartition(x.partition) && typeof x.key === 'string'
}

export function isReplicaPutBody(x: unknown): x is ReplicaPutBody {
  return isRecord(x) && isPartition(x.partition) && typeof x.key === 'string' && typeof x.durable === 'boolean' && isStoredObject(x.object)
}

export function isCoordinatePutBody(x: unknown): x is CoordinatePutBody {
  if (!isRecord(x)) return false
  const counts = [x.n, x.w, x.dw].every((v) => Number.isInteger(v) && (v as number) >= 0)
  const context =
    Array.isArray(x.context) &&
    x.context.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && Number.isInteger(e[1]))
  return (
    counts &&
    context &&
    typeof x.key === 'string' &&
    x.value instanceof Uint8Array &&
    typeof x.contentType === 'string' &&
    typeof x.tombstone === 'boolean' &&
    typeof x.explain === 'boolean' &&
    typeof x.forwardedBy === 'string'
  )
}
