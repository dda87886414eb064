/**
 * What a replica does with its own copy of a key (paper §4.4, §4.5): make a new version as a
 * coordinator, merge a version sent by another coordinator (or by read repair), and read.
 * Every change goes through Store.updateObject, so it is serialized per key on this node.
 */

import type {ObjectSpace} from '../storage/object-space.js'
import type {StoredObject, StoredVersion} from '../storage/stored-object.js'
import {isNewerVersion, objectValueBytes} from '../storage/stored-object.js'
import type {VersionSet, VersionVector} from '../versioning/dvvset.js'
import {emptySet, lww, newestDot, prune, sameVersions, sync, update, valueCount} from '../versioning/dvvset.js'
import type {ConflictPolicy} from '../membership/member-table.js'
import type {DotLedger} from './write-actor.js'

export interface ReplicaPolicy {
  readonly conflictPolicy: ConflictPolicy
  /** Paper §4.4: version-vector entries beyond this are pruned, oldest first. */
  readonly entriesMax: number
  /** A key with more siblings than this refuses new concurrent writes at a coordinator until it is resolved. */
  readonly siblingsPerKeyMax: number
  /** The sum of all siblings' value bytes, bounded so one object always fits in one frame. */
  readonly objectBytesMax: number
}

export const siblingsPerKeyMaxDefault = 64
export const objectBytesMaxDefault = 8 * 1024 * 1024

export type LocalWriteFailure = {
  readonly ok: false
  readonly error: 'too_many_siblings' | 'object_too_large'
  readonly message: string
}

/**
 * The limits a stored object obeys. The sibling count bounds what clients can pile onto a key:
 * it is checked where a new version is made (the coordinator's step), never on a merge of
 * versions that other replicas already accepted, or replicas that each accepted writes up to the
 * limit apart (a partition, a paused node) could never hold their union: hints would be refused
 * for good and anti-entropy would find the key differing for ever, so an acknowledged write
 * stayed on fewer than N replicas until someone resolved the key (found by a new user's walk).
 * No coordinator adds to a key while its own copy is past the limit, but the count is not
 * bounded across the cluster: a fallback coordinator starts from an empty copy, so each partition
 * episode can add up to the limit again (docs/architecture.md). The bytes are checked on every
 * merge too: an object must always fit in one frame to another node.
 */
function checkLimits(object: StoredObject, policy: ReplicaPolicy, madeHere: boolean): LocalWriteFailure | undefined {
  const siblings = valueCount(object.versions)
  if (madeHere && siblings > policy.siblingsPerKeyMax) {
    return {
      ok: false,
      error: 'too_many_siblings',
      message: `the key would have ${siblings} siblings (at most ${policy.siblingsPerKeyMax}); read it, reconcile the siblings and write back with the read's context`,
    }
  }
  const bytes = objectValueBytes(object)
  if (bytes > policy.objectBytesMax) {
    return {
      ok: false,
      error: 'object_too_large',
      message: `the key's versions would hold ${bytes} bytes (at most ${policy.objectBytesMax}); reconcile its siblings first`,
    }
  }
  return undefined
}

function settle(versions: VersionSet<StoredVersion>, policy: ReplicaPolicy): VersionSet<StoredVersion> {
  const resolved = policy.conflictPolicy === 'lww' ? lww(versions, isNewerVersion) : versions
  return prune(resolved, policy.entriesMax)
}

export interface NewVersion {
  readonly context: VersionVector
  readonly version: StoredVersion
  readonly actor: string
  /** The highest dot each actor of this node has made; a write on a copy without the actor's entry starts above it. */
  readonly dots: DotLedger
  readonly n: number
  readonly nowMs: number
  readonly durable: boolean
  /**
   * Called with the new object and its dot as soon as this node's reads find it, before it has
   * landed where the store can tell (Store's `onMerged`); it must not throw.
   */
  readonly onMerged?: (made: {readonly object: StoredObject; readonly dot: number; readonly bytes: Buffer}) => void
}

/**
 * The coordinator's step of a put: a new version that supersedes exactly what the context saw.
 * `dot` is the counter of the dot the new version got, under the coordinator's actor.
 */
export async function writeNewVersion(
  store: ObjectSpace,
  policy: ReplicaPolicy,
  partition: number,
  key: string,
  write: NewVersion,
): Promise<{ok: true; object: StoredObject; dot: number} | LocalWriteFailure> {
  let dot = 0
  const outcome = await store.updateObject<LocalWriteFailure>(
    partition,
    key,
    (stored) => {
      // Read and recorded inside the per-key step, so that no other write on this key runs between.
      const written = update(write.context, stored?.versions ?? emptySet<StoredVersion>(), write.actor, write.version, write.nowMs, write.dots.highestDot(write.actor))
      dot = newestDot(written, write.actor)
      write.dots.madeDot(write.actor, dot)
      // A key's n only grows: the largest n it was ever written with, as mergeIncoming keeps it.
      // The two must agree, or a coordinator would store n=3 where its replicas keep the 5 an
      // earlier write gave them, and replicas would disagree on how many homes the key has.
      // Growing is also what transfers need: a key once written with n=5 has copies on 5 homes,
      // and those keep being moved on ring changes instead of going stale on nodes no transfer
      // plans for, and a release decides by it which copies to delete (simulator seed 170).
      // (Lowering a key's n is therefore not possible by writing it again.)
      const object: StoredObject = {versions: settle(written, policy), n: Math.max(write.n, stored?.n ?? 0)}
      return checkLimits(object, policy, true) ?? {ok: true, object}
    },
    write.onMerged === undefined ? {durable: write.durable} : {durable: write.durable, onMerged: (object, bytes) => write.onMerged?.({object, dot, bytes})},
  )
  // Written out, not `{...outcome, dot}`: see the note where put-coordinator.ts makes `write`.
  return outcome.ok ? {ok: true, object: outcome.object, dot} : outcome
}

/**
 * A replica's step of a put, and read repair, hints, transfers and anti-entropy: keep everything
 * not dominated by either side. A merge that would make the object too large is refused, so that
 * no replica ever holds an object too large to send to another (the coordinator only checked its
 * own copy); the sibling count is not checked here (checkLimits says why).
 */
export async function mergeIncoming(
  store: ObjectSpace,
  policy: ReplicaPolicy,
  partition: number,
  key: string,
  incoming: StoredObject,
  durable: boolean,
  incomingBytes?: Buffer,
): Promise<{ok: true; object: StoredObject; changed: boolean} | LocalWriteFailure> {
  // Whether the merge brought the stored copy anything: anti-entropy counts a key repaired only
  // then (a walk saw a node count the same 54 keys "repaired" every round, merging in a stale
  // peer's versions that it already had, while that peer's full disk refused the way back).
  let changed = true
  const merged = await store.updateObject<LocalWriteFailure>(
    partition,
    key,
    (stored) => {
      const versions = stored === undefined ? incoming.versions : sync(stored.versions, incoming.versions)
      const object: StoredObject = {versions: settle(versions, policy), n: Math.max(incoming.n, stored?.n ?? 0)}
      const refused = checkLimits(object, policy, false)
      if (refused !== undefined) return refused
      changed = stored === undefined || stored.n !== object.n || !sameVersions(stored.versions, object.versions)
      // A put's object usually supersedes what a replica holds: the merge then comes to what it
      // was sent, and that object, with the bytes it came in, is what is stored (no encoding again).
      return incomingBytes !== undefined && sameContentAs(object, incoming) ? {ok: true, object: incoming, bytes: incomingBytes} : {ok: true, object}
    },
    {durable},
  )
  return merged.ok ? {ok: true, object: merged.object, changed} : merged
}

/**
 * Whether a merge came to the object a replica was sent: the same n, the same causal content
 * (`sameVersions`: actors, counters, live dots, clouds; the values then are the same too, since
 * one dot names one value) and the same entry times, which pruning reads. Then `incoming` can be
 * stored in the merge's place. Not by identity: an entry both sides hold alike comes out of the
 * merge as the replica's own object, and an entry a context superseded values of is made anew, as
 * a key written through several coordinators has (a review found identity kept the bytes for keys
 * of one actor only).
 */
function sameContentAs(merged: StoredObject, incoming: StoredObject): boolean {
  return (
    merged.n === incoming.n &&
    sameVersions(merged.versions, incoming.versions) &&
    merged.versions.entries.every((entry, index) => entry.updatedAtMs === incoming.versions.entries[index]?.updatedAtMs)
  )
}
