/**
 * The bodies of the internode messages the coordinators exchange (see MessageType in
 * src/transport), and their checks: anything that arrives over the network is checked before
 * use, so a confused or hostile peer gets an error answer and changes nothing here.
 */

import {replicasPerKeyMax} from '../storage/stored-object.js'
import type {StoredObject} from '../storage/stored-object.js'
import {contextCounterMax} from '../versioning/context.js'
import {isValidVector, isValidVersionSet, type VersionVector} from '../versioning/dvvset.js'
import {partitionIndexMax} from '../storage/layout.js'
import {decodeStoredObject, ObjectCodecError} from '../storage/object-codec.js'

/** Keys and values arriving from peers obey the same limits as the client API's. */
const keyBytesMax = 1024
const valueBytesMax = 1024 * 1024
/** A content type that can be sent back as an HTTP header as it is. */
const contentTypePattern = /^[\x20-\x7e]{1,256}$/

export interface ReplicaGetBody {
  readonly partition: number
  readonly key: string
  /** Set when this node is asked as a fallback: answer from the hints held for that home. */
  readonly hintFor?: string
}

export interface ReplicaGetAnswer {
  /** The replica's object in the store's layout (src/storage/object-codec.ts); null when it holds none. */
  readonly objectBytes: Uint8Array | null
}

export interface ReplicaPutBody {
  readonly partition: number
  readonly key: string
  /**
   * The object in the store's layout (src/storage/object-codec.ts): the coordinator encodes it
   * once for its own store and every replica, and a replica whose merge keeps it stores these bytes.
   */
  readonly objectBytes: Uint8Array
  readonly durable: boolean
  /** Set when this node is a fallback for that unreachable home: keep the write as a hint for it. */
  readonly hintFor?: string
}

/**
 * Hints handed back to the home replica they were kept for (HintDelivery, src/handoff/handoff-sender.ts),
 * and objects an old home hands off to a new one after a ring change (ObjectHandoff,
 * src/handoff/transfer-release.ts): one body, one check, one merge on the receiver.
 */
export interface HintDeliveryBody {
  readonly entries: ReadonlyArray<{readonly partition: number; readonly key: string; readonly object: StoredObject}>
}

/** Per entry, in order: 'ok' once merged and synced, or the code of the refusal. */
export interface HintDeliveryAnswer {
  readonly results: readonly string[]
}

/** Hints in one delivery at most (the sender also keeps a batch to a few MiB, below the frame limit). */
export const hintDeliveryEntriesMax = 256

export interface ReplicaPutAnswer {
  readonly durable: boolean
  /**
   * What the replica holds for the key once the write is merged: every version, and those that
   * are not tombstones. Left out when that is one live version and the write was no delete (the
   * usual put's answer), and by a replica of an older dyn: the coordinator then counts its own
   * copy only. A replica may hold a version the coordinator's copy lacked (one written while the
   * coordinator was down), which the write did not cover: the coordinator tells its client so (a
   * delete that left a live version is not "deleted").
   */
  readonly versions?: number
  readonly liveVersions?: number
}

/** What one replica holds for a key after a write: its versions and how many of them are live. */
export interface HeldVersions {
  readonly versions: number
  readonly live: number
}

/** The versions of an object and how many are live, as a ReplicaPut answer reports them. */
export function heldVersionsOf(object: StoredObject): HeldVersions {
  let versions = 0
  let live = 0
  for (const entry of object.versions.entries) {
    for (const version of entry.values) {
      versions += 1
      if (!version.tombstone) live += 1
    }
  }
  return {versions, live}
}

/**
 * What a ReplicaPut answer says a replica holds, each count checked; undefined when it says
 * nothing (the usual put's answer, or a replica of an older dyn, which reports no counts: taken
 * as one live version, it made every delete look undone).
 */
export function replicaPutAnswerHeld(body: unknown): HeldVersions | undefined {
  const answer = body as {versions?: unknown; liveVersions?: unknown} | null
  if (answer?.versions === undefined && answer?.liveVersions === undefined) return undefined
  const versions = answerCount(answer.versions, 1)
  return {versions, live: Math.min(versions, answerCount(answer.liveVersions, 1))}
}

/** Whether a replica's answer to a write leaves its counts out: one live version, and no tombstone in what it was sent. */
export function heldGoesUnsaid(held: HeldVersions, sent: StoredObject): boolean {
  if (held.versions !== 1 || held.live !== 1) return false
  const sentHeld = heldVersionsOf(sent)
  return sentHeld.live === sentHeld.versions
}

/** The larger of each count: what the most any of the replicas holds (`b` absent: `a`). */
export function mostHeld(a: HeldVersions, b: HeldVersions | undefined): HeldVersions {
  return b === undefined ? a : {versions: Math.max(a.versions, b.versions), live: Math.max(a.live, b.live)}
}

/** A count from a peer's answer, or `otherwise` when it is not one. */
function answerCount(x: unknown, otherwise: number): number {
  return Number.isSafeInteger(x) && (x as number) >= 0 && (x as number) <= versionsPerAnswerMax ? (x as number) : otherwise
}

/** Far above any object's versions (the siblings limit is far lower): a larger count is malformed and ignored. */
const versionsPerAnswerMax = 1_000_000

/** A put (or delete) handed to a home replica by a node that is not one. */
export interface CoordinatePutBody {
  readonly key: string
  readonly value: Uint8Array
  readonly contentType: string
  readonly tombstone: boolean
  /** The client's context, already decoded and checked by the node that took the request. */
  readonly context: VersionVector
  readonly n: number
  /** The replica count recorded with the key, at least `n` (put-coordinator.ts); `n` when absent. */
  readonly storedN?: number
  readonly w: number
  readonly dw: number
  /** Of the W acknowledgements, how many must come from home replicas. */
  readonly pw: number
  readonly explain: boolean
  readonly forwardedBy: string
  /** What is left of the client's request budget: the home answers within it. */
  readonly budgetMs: number
}

/** A plain object from the network (not null, not an array). */
export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}

function isPartition(x: unknown): x is number {
  return Number.isInteger(x) && (x as number) >= 0 && (x as number) <= partitionIndexMax
}

function isKey(x: unknown): x is string {
  return typeof x === 'string' && x.length > 0 && Buffer.byteLength(x, 'utf8') <= keyBytesMax
}

function isStoredVersion(v: unknown): boolean {
  return (
    isRecord(v) &&
    v.value instanceof Uint8Array &&
    v.value.byteLength <= valueBytesMax &&
    typeof v.contentType === 'string' &&
    contentTypePattern.test(v.contentType) &&
    typeof v.timestampMs === 'number' &&
    Number.isFinite(v.timestampMs) &&
    typeof v.tombstone === 'boolean'
  )
}

export function isStoredObject(x: unknown): x is StoredObject {
  if (!isRecord(x) || !Number.isInteger(x.n) || (x.n as number) < 1 || (x.n as number) > 64) return false
  if (!isValidVersionSet(x.versions, isStoredVersion)) return false
  // Counters near 2^53 would overflow on the next write: the same bound as a client context's.
  return (x.versions as {entries: Array<{counter: number; cloud?: number[]}>}).entries.every(
    (entry) => Math.max(entry.counter, ...(entry.cloud ?? [])) <= contextCounterMax,
  )
}

/** Whether a client's content type can be stored and sent back as a header. */
export function isSafeContentType(x: string): boolean {
  return contentTypePattern.test(x)
}

function isHintTarget(x: unknown): boolean {
  return x === undefined || (typeof x === 'string' && x.length >= 1 && x.length <= 64)
}

export function isReplicaGetBody(x: unknown): x is ReplicaGetBody {
  return isRecord(x) && isPartition(x.partition) && isKey(x.key) && isHintTarget(x.hintFor)
}

export function isReplicaPutBody(x: unknown): x is ReplicaPutBody {
  return isRecord(x) && isPartition(x.partition) && isKey(x.key) && typeof x.durable === 'boolean' && x.objectBytes instanceof Uint8Array && isHintTarget(x.hintFor)
}

/**
 * A ReplicaPut's object and its bytes, or undefined when they are not a valid stored object (bytes
 * that do not decode, or decode to what `isStoredObject` refuses).
 */
export function replicaPutObject(body: ReplicaPutBody): {readonly object: StoredObject; readonly bytes: Buffer} | undefined {
  return wireObject(body.objectBytes)
}

/**
 * A ReplicaGet answer's object: undefined when the replica holds none, 'malformed' when the
 * answer is not one (no bytes field, or bytes that are not a valid stored object).
 */
export function replicaGetAnswerObject(body: unknown): StoredObject | undefined | 'malformed' {
  if (!isRecord(body)) return 'malformed'
  const raw = body.objectBytes
  if (raw === null) return undefined
  if (!(raw instanceof Uint8Array)) return 'malformed'
  return wireObject(raw)?.object ?? 'malformed'
}

/** An object that came from another node in the store's layout, decoded and checked as any stored object. */
function wireObject(raw: Uint8Array): {readonly object: StoredObject; readonly bytes: Buffer} | undefined {
  const bytes = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)
  let object: unknown
  try {
    object = decodeStoredObject(bytes)
  } catch (error) {
    if (error instanceof ObjectCodecError) return undefined
    throw error
  }
  return isStoredObject(object) ? {object, bytes} : undefined
}

export function isHintDeliveryBody(x: unknown): x is HintDeliveryBody {
  if (!isRecord(x) || !Array.isArray(x.entries) || x.entries.length === 0 || x.entries.length > hintDeliveryEntriesMax) return false
  return x.entries.every((entry: unknown) => isRecord(entry) && isPartition(entry.partition) && isKey(entry.key) && isStoredObject(entry.object))
}

export function isCoordinatePutBody(x: unknown): x is CoordinatePutBody {
  if (!isRecord(x)) return false
  const {n, w, dw, pw} = x
  if (!Number.isInteger(n) || !Number.isInteger(w) || !Number.isInteger(dw) || !Number.isInteger(pw)) return false
  const counts = (w as number) >= 1 && (w as number) <= (n as number) && (dw as number) >= 0 && (dw as number) <= (w as number) && (pw as number) >= 0 && (pw as number) <= (w as number)
  const storedN = x.storedN === undefined || (Number.isInteger(x.storedN) && (x.storedN as number) >= (n as number) && (x.storedN as number) <= replicasPerKeyMax)
  const context = isValidVector(x.context) && x.context.every(([, counter, single]) => Math.max(counter, ...(single ?? [])) <= contextCounterMax)
  return (
    counts &&
    storedN &&
    context &&
    isKey(x.key) &&
    x.value instanceof Uint8Array &&
    x.value.byteLength <= valueBytesMax &&
    typeof x.contentType === 'string' &&
    contentTypePattern.test(x.contentType) &&
    typeof x.tombstone === 'boolean' &&
    typeof x.explain === 'boolean' &&
    typeof x.forwardedBy === 'string' &&
    typeof x.budgetMs === 'number' &&
    x.budgetMs > 0
  )
}
