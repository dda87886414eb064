/**
 * Reaping tombstones: a deleted key stops taking space once its delete can no longer be undone
 * (issue 14; Riak's delete_mode and Cassandra's gc_grace_seconds are the designs this avoids the
 * failures of).
 *
 * A delete is a version like any other, a tombstone, and it must outlive every older version of
 * the key anywhere in the cluster: a replica that missed the delete and still holds the value
 * would otherwise bring it back (through a read's repair, a hint, a hand-off or anti-entropy) as
 * soon as the tombstone is gone. Cassandra drops tombstones after a fixed gc_grace_seconds and
 * resurrects data when repair ran late; Riak's reap after a read can leave tombstones for ever
 * when that read times out. Here a tombstone is reaped by the first home of its key only when
 * all of the following hold at once, checked with every member of the cluster:
 *
 * - the tombstone is older than the grace period (requests and read repairs in flight that
 *   carry an older version have ended, with margin: they are bounded by the request timeout);
 * - no ring change is running, and no node (a member, or one that left and has not said that it
 *   handed off everything) is still handing off partitions a ring change took from it (they may
 *   hold older copies), and every such node answers;
 * - every present member of the cluster is up and answers;
 * - every home of the key (for its n) holds exactly this tombstone (the same versions hash);
 * - every other member holds that tombstone too, or nothing of the key (a stray copy, such as
 *   one a read repaired onto a node that is no home of the key's n, is sent the tombstone
 *   first and reaped with the rest), and no member holds a hint for it.
 *
 * Then nothing in the cluster holds an older version of the key, so nothing can bring it back;
 * and should an older copy still land on a home (a source the checks cannot see), the tombstone
 * there absorbs it, which an empty key would not. The reap itself deletes the key on every
 * member only where it still holds exactly that tombstone. A member that holds another object of
 * the key by then (a write that came meanwhile, or an older copy) says so, and the reaper keeps
 * its own copy: the next pass sends that member the tombstone, and reaps both or keeps the write.
 * Each member the reap reaches fences the tombstone for a while (reap-fence.ts): the reaper
 * deletes its own copy last, and a repair that read it in between (an exchange, a read's repair)
 * and lands on a member that had reaped would make the homes differ again, at every pass when
 * the timing repeats (simulator seed 19864461796). A reap cut short (a member that does not
 * answer) leaves the tombstone on some members: anti-entropy brings it back to the others once
 * their fence has lapsed, and the next pass reaps it again.
 *
 * A node whose row says it handed off or was removed is not asked, so every member checked must
 * know that too: one that does not may still take copies from it (a lost leaver marked removed at
 * once changes no ring, which the ring's hash would tell), and it answers no check until it does,
 * nor while it still stores copies such a node sent before.
 *
 * A member that answered a check and then comes back on a copy of its store from before (an old
 * disk) would hold a version older than the reaped tombstone. So each member raises and persists
 * its disk clock before it answers a check, the reaper raises its own before it reaps, and the
 * reap message carries every member's value, persisted by each member before it deletes
 * anything: a start on a store with a lower disk clock is refused (src/node/disk-check.ts).
 */

import type {Hash64} from './hash-tree.js'
import {objectHash, sameHash} from './hash-tree.js'
import type {StoredObject} from '../storage/stored-object.js'
import type {KeptTombstone, TreeSet} from './tree-set.js'
import {tombstoneOf} from './tree-set.js'

/** How long a tombstone is kept at least, by default: far above any request's timeout. */
export const tombstoneGraceMsDefault = 300_000
/** Tombstones one pass examines at most (all partitions together). */
export const reapKeysPerPassMax = 1024
/** Keys in one check or reap message at most. */
export const reapBatchMax = 256

/** What one member answers for one key asked about by a reaper. */
export interface ReapCheckAnswer {
  /** The hash of its object for the key (null: it holds none). */
  readonly hash: Hash64 | null
  /** It holds a hint for the key, for any target. */
  readonly hinted: boolean
  /** It still hands off partitions it released at a ring change (which may hold older copies). */
  readonly releasing?: boolean
}

/** The reaper's view of the cluster, for one pass. */
export interface ReapDeps {
  readonly self: string
  readonly trees: TreeSet
  readonly nowMs: number
  readonly graceMs: number
  /** The homes of a partition for n, in preference-list order. */
  homesOf(partition: number, n: number): readonly string[]
  /** This node's object for a key. */
  objectOf(partition: number, key: string): Promise<StoredObject | undefined>
  /** Whether this node holds a hint for the key. */
  holdsHint(partition: number, key: string): boolean
  /** The other present members, every one of which must answer. */
  readonly others: readonly string[]
  /**
   * Members that have left the ring and have not yet said that they handed off everything they
   * held (their row's `handedOff`): they may still hand old copies to a key's homes, so each must
   * answer like a member. Silence proves nothing: a node that left and does not answer in time
   * may still be running its hand-off (seed 45983: a timed-out answer was taken for a stopped
   * node, and its hand-off then brought a reaped key back).
   */
  readonly departed: readonly string[]
  /**
   * Asks `member` about `keys`: its answers, or undefined when it did not answer or refused (it
   * is on another ring, or a ring change is under way there).
   */
  check(member: string, partition: number, keys: readonly string[]): Promise<{readonly answers: readonly ReapCheckAnswer[]; readonly diskClock: number} | undefined>
  /** Raises this node's disk clock, persisted: its new value. */
  tickDiskClock(): Promise<number>
  /** Raises members' disk clocks in this node's table, persisted. */
  raiseDiskClocks(entries: ReadonlyArray<readonly [string, number]>): Promise<void>
  /**
   * Asks `member` to delete each key if it still holds the object of that hash, once it has
   * persisted every member's disk clock as the check found it: for each key, whether it keeps
   * another object of it (one that came since the check), or undefined when it did not answer.
   */
  reap(member: string, partition: number, entries: ReadonlyArray<readonly [string, number, number]>, diskClocks: ReadonlyArray<readonly [string, number]>): Promise<{readonly kept: readonly boolean[]} | undefined>
  /** Deletes this node's copy if it still has that hash (and drops that copy when a repair brings it back). */
  reapHere(partition: number, key: string, hash: Hash64): Promise<boolean>
  /** Merges this node's objects into `member`'s store (a hand-off): a stray copy elsewhere then holds the tombstone too. */
  push(member: string, partition: number, entries: ReadonlyArray<{readonly key: string; readonly object: StoredObject}>): Promise<void>
}

export interface ReapPassReport {
  readonly examined: number
  readonly reaped: number
}

/**
 * One pass: the tombstones past their grace in partitions this node is the first home of, each
 * reaped where the rule of the module comment holds. The caller has checked that no ring change
 * runs and that every present member is up.
 */
export async function reapPass(deps: ReapDeps): Promise<ReapPassReport> {
  let examined = 0
  let reaped = 0
  for (const partition of deps.trees.partitionsWithTombstones()) {
    if (examined >= reapKeysPerPassMax) break
    const candidates = deps.trees
      .tombstonesBefore(partition, deps.nowMs - deps.graceMs, reapKeysPerPassMax - examined)
      .filter(({tombstone}) => deps.homesOf(partition, tombstone.n)[0] === deps.self)
    examined += candidates.length
    for (let start = 0; start < candidates.length; start += reapBatchMax) {
      reaped += await reapBatch(deps, partition, candidates.slice(start, start + reapBatchMax))
    }
  }
  return {examined, reaped}
}

async function reapBatch(deps: ReapDeps, partition: number, batch: ReadonlyArray<{key: string; tombstone: KeptTombstone}>): Promise<number> {
  // This node's own copies, read now: each must still be a tombstone past its grace. A write may
  // have replaced the one the trees listed while earlier keys were read, and a live object every
  // home holds would pass every check below, and be deleted everywhere.
  const local: Array<{key: string; n: number; hash: Hash64; object: StoredObject}> = []
  for (const {key, tombstone} of batch) {
    const object = await deps.objectOf(partition, key)
    if (object === undefined || object.n !== tombstone.n || deps.holdsHint(partition, key)) continue
    const still = tombstoneOf(object)
    if (still === undefined || still.deletedAtMs > deps.nowMs - deps.graceMs) continue
    local.push({key, n: object.n, hash: objectHash(key, object), object})
  }
  if (local.length === 0) return 0
  const keys = local.map((entry) => entry.key)
  const answers = new Map<string, readonly ReapCheckAnswer[]>()
  const diskClocks: Array<readonly [string, number]> = []
  for (const member of [...deps.others, ...deps.departed]) {
    const answer = await deps.check(member, partition, keys)
    if (answer === undefined || answer.answers.length !== keys.length) return 0
    answers.set(member, answer.answers)
    diskClocks.push([member, answer.diskClock])
  }
  const answering = [...deps.others, ...deps.departed]
  // A member still handing off what a ring change took from it may hold older copies of anything.
  for (const member of answering) if ((answers.get(member) as readonly ReapCheckAnswer[]).some((answer) => answer.releasing === true)) return 0
  // A member that holds another copy of a key (a home that missed the tombstone, or a stray copy
  // a read repaired onto a node that is no home of the key's n) is sent this tombstone first: the
  // next pass finds it holding exactly this one. Homes that lack the key entirely get it from
  // anti-entropy; every other member must hold exactly this tombstone or nothing.
  const behind = new Map<string, Array<{key: string; object: StoredObject}>>()
  const reapable = local.filter((entry, index) => {
    const homes = deps.homesOf(partition, entry.n)
    let ready = true
    for (const member of answering) {
      const answer = (answers.get(member) as readonly ReapCheckAnswer[])[index] as ReapCheckAnswer
      const same = answer.hash !== null && sameHash(answer.hash, entry.hash)
      if (answer.hash !== null && !same) {
        const list = behind.get(member) ?? []
        list.push({key: entry.key, object: entry.object})
        behind.set(member, list)
      }
      if (answer.hinted || (answer.hash === null ? homes.includes(member) : !same)) ready = false
    }
    return ready
  })
  for (const [member, entries] of behind) await deps.push(member, partition, entries)
  if (reapable.length === 0) return 0
  const entries = reapable.map((entry) => [entry.key, entry.hash[0], entry.hash[1]] as const)
  // This node's disk clock too, then every value known here before any copy goes.
  diskClocks.push([deps.self, await deps.tickDiskClock()])
  await deps.raiseDiskClocks(diskClocks)
  // Every other member first, this node's copy last: a pass cut short leaves the tombstone here,
  // and the next pass finds it again. So does a key that a member holds another object of since
  // its check (a write, or an older copy that was in flight there): that member is sent this
  // tombstone by the next pass, which then reaps both or keeps the write.
  const keptElsewhere = new Set<string>()
  for (const member of answering) {
    const answer = await deps.reap(member, partition, entries, diskClocks)
    if (answer === undefined) return 0
    answer.kept.forEach((kept, index) => {
      if (kept) keptElsewhere.add((reapable[index] as (typeof reapable)[number]).key)
    })
  }
  let reaped = 0
  for (const entry of reapable) if (!keptElsewhere.has(entry.key) && (await deps.reapHere(partition, entry.key, entry.hash))) reaped += 1
  return reaped
}
