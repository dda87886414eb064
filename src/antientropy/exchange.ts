/**
 * One anti-entropy exchange of a partition between two of its homes (paper §4.7): compare the
 * two nodes' hash trees (hash-tree.ts) top down, list the keys of the segments that differ, and
 * repair each differing key both ways with the replica merge, so that both end up with every
 * version either had and nothing either had superseded.
 *
 * The algorithm reaches both trees through one interface, `TreeSide`: the node's own trees are
 * one side, a peer reached over the transport another, and a unit test may hand it two sides in
 * memory (riak_core's hashtree exchange takes a function to reach the remote tree for the same
 * reason). It owns no timer and no socket.
 *
 * Costs, for the targets of docs/architecture.md: an exchange of a partition whose roots agree
 * is one root comparison (batched across partitions by the caller); a partition with one
 * differing key costs the branch list (32 hashes), one branch's segments (32 hashes), the keys of
 * one segment from each side, one fetch and one merge.
 */

import type {StoredObject} from '../storage/stored-object.js'
import type {Hash64} from './hash-tree.js'
import {branchCount, differingIndexes, segmentsPerBranch} from './hash-tree.js'

/** Keys in one listing of segments at most; a listing that reaches it is cut, and the rest wait for the next exchange. */
export const keyListingMax = 4096

/** One key's hash in a listing of segments. */
export type KeyHash = readonly [key: string, high: number, low: number]

/** What a listing of segments' keys answers; `truncated` when it stopped at its bound. */
export interface KeyListing {
  readonly keys: readonly KeyHash[]
  readonly truncated: boolean
}

/**
 * One node's trees and objects, as an exchange sees them. Every method answers undefined when
 * that node cannot take part now (its trees for the partition are not complete, it is no home of
 * it, its ring differs): the exchange then stops there, unfinished. Only a local side whose store
 * takes no writes still sends the peer what it lacks (`takesMerges`, and a merge it declines).
 */
export interface TreeSide {
  readonly name: string
  /** The root of each (partition, n) asked, or undefined where the node cannot take part. */
  roots(pairs: ReadonlyArray<{readonly partition: number; readonly n: number}>): Promise<ReadonlyArray<Hash64 | undefined>>
  /** Every branch hash of one tree, flat (high, low). */
  branches(partition: number, n: number): Promise<readonly number[] | undefined>
  /** The segment hashes under each of `branches`, flat (high, low) per branch. */
  segments(partition: number, n: number, branches: readonly number[]): Promise<ReadonlyArray<readonly number[]> | undefined>
  /** The keys (of objects of this n) in `segments`, with their hashes. */
  keys(partition: number, n: number, segments: readonly number[]): Promise<KeyListing | undefined>
  /** The objects of `keys` (absent where the node holds none). */
  objects(partition: number, keys: readonly string[]): Promise<ReadonlyArray<{readonly key: string; readonly object?: StoredObject}> | undefined>
  /**
   * Merges `entries` into the node's store with the replica merge; how many it took (the local
   * side: how many it changed), or `refused` with the code the node's store answered for what it
   * could not take (`mergeRefusalCodes`: a store that takes no writes, or one key too large).
   */
  merge(partition: number, entries: ReadonlyArray<{readonly key: string; readonly object: StoredObject}>): Promise<number | MergeRefused | undefined>
  /** False while the node's store takes no writes: nothing is fetched for it to merge. Absent: it takes them. */
  takesMerges?(): boolean
}

/**
 * The codes with which a node's store refuses a merge, as opposed to failing to answer: its store
 * takes no writes (a full or failing disk), or one key's versions together would pass the object
 * size limit. Only these are reported as refusals (`ExchangeReport.refused`); any other failure
 * (a peer stopping or busy, a request that could not be sent) leaves the exchange unfinished, to
 * be tried again, and names no one: a code read as a refusal once sent a user to a log that said
 * nothing.
 */
export const mergeRefusalCodes: ReadonlySet<string> = new Set(['storage_failed', 'object_too_large'])

/**
 * A merge the node took part in but could not do whole: the code its store answered (one of
 * `mergeRefusalCodes`), the key for a refusal of one key (object_too_large), and how many of the
 * other entries it took.
 */
export interface MergeRefused {
  readonly refused: string
  readonly key?: string
  readonly merged: number
}

/** A merge refused with `error` at `key`, naming the key when the code concerns it alone (object_too_large: a full disk refuses every key); `merged` of the other entries taken. */
export function mergeRefused(error: string, key: string, merged: number): MergeRefused {
  return {refused: error, ...(error === 'object_too_large' ? {key} : {}), merged}
}

/** Who refused a merge in an exchange, with what code, and for a refusal of one key, which. */
export interface MergeRefusal {
  readonly node: string
  readonly error: string
  readonly key?: string
}

export interface ExchangeLimits {
  /** Keys repaired (either way) in one exchange at most; the rest wait for the next. */
  readonly keysMax: number
  /** Objects in one fetch or merge message at most. */
  readonly batchEntriesMax: number
}

export interface ExchangeReport {
  readonly partition: number
  readonly n: number
  readonly peer: string
  /** The exchange ran to its end (false: a side could not take part, or answered nothing). */
  readonly completed: boolean
  readonly differingSegments: number
  /** Keys that differed (held by one side only, or with other versions). */
  readonly differingKeys: number
  /** Keys whose local copy the merge changed, and keys the peer took. */
  readonly repairedHere: number
  readonly repairedThere: number
  /**
   * Keys read from one side and handed to the other's merge, both ways, whatever the merge made
   * of them: the work the exchange did, which the repair budget is charged with (a merge that
   * changes nothing costs a fetch and a write all the same).
   */
  readonly keysCopied: number
  /** Some differing keys were left for the next exchange (a bound was reached). */
  readonly unfinished: boolean
  /**
   * The side whose store refused what it was sent, and the code it answered: the exchange cannot
   * finish until that is fixed, which `dyn repair --wait` says rather than waiting.
   */
  readonly refused?: MergeRefusal
  /**
   * This side was sent everything the peer held that it lacked (the way back may still have
   * failed): a node catching up on a new disk counts the tree caught up on this.
   */
  readonly caughtUpHere: boolean
}

/**
 * Exchanges one tree (partition, n) whose roots differ: `local` is the side that started it.
 * Never throws for a side that cannot take part; a transport failure rejects, and what was
 * merged before it stays merged (every merge is idempotent).
 */
export async function exchangeTree(local: TreeSide, remote: TreeSide, partition: number, n: number, limits: ExchangeLimits): Promise<ExchangeReport> {
  const report: {-readonly [K in keyof ExchangeReport]: ExchangeReport[K]} = {partition, n, peer: remote.name, completed: false, differingSegments: 0, differingKeys: 0, repairedHere: 0, repairedThere: 0, keysCopied: 0, unfinished: false, caughtUpHere: false}
  const [localBranches, remoteBranches] = await Promise.all([local.branches(partition, n), remote.branches(partition, n)])
  if (localBranches === undefined || remoteBranches === undefined) return report
  const branches = differingIndexes(localBranches, remoteBranches, branchCount)
  if (branches.length === 0) return {...report, completed: true, caughtUpHere: true}
  const [localSegments, remoteSegments] = await Promise.all([local.segments(partition, n, branches), remote.segments(partition, n, branches)])
  if (localSegments === undefined || remoteSegments === undefined) return report
  const segments: number[] = []
  branches.forEach((branch, index) => {
    for (const within of differingIndexes(localSegments[index] ?? [], remoteSegments[index] ?? [], segmentsPerBranch)) segments.push(branch * segmentsPerBranch + within)
  })
  report.differingSegments = segments.length
  if (segments.length === 0) return {...report, completed: true, caughtUpHere: true}
  const [localKeys, remoteKeys] = await Promise.all([local.keys(partition, n, segments), remote.keys(partition, n, segments)])
  if (localKeys === undefined || remoteKeys === undefined) return report
  const {needHere, needThere} = keyDifferences(localKeys.keys, remoteKeys.keys)
  report.differingKeys = new Set([...needHere, ...needThere]).size
  report.unfinished = localKeys.truncated || remoteKeys.truncated
  // Bounded: the first keys (in the listings' order) now, the rest at the next exchange.
  // A side that takes no merges now (its store takes no writes) is sent nothing: the whole budget
  // goes to what the peer lacks, rather than to fetching what this side would throw away.
  const takesMerges = local.takesMerges?.() !== false
  const hereNow = takesMerges ? needHere.slice(0, limits.keysMax) : []
  const thereNow = needThere.slice(0, Math.max(0, limits.keysMax - hereNow.length))
  if ((takesMerges && hereNow.length < needHere.length) || thereNow.length < needThere.length) report.unfinished = true
  // The peer's versions first, so that what goes back to it is the merge of both.
  const here: CopyOutcome = takesMerges ? await copyKeys(remote, local, partition, hereNow, limits.batchEntriesMax) : {merged: 0, copied: 0, completed: needHere.length === 0, failed: false}
  report.repairedHere = here.merged
  report.keysCopied = here.copied
  report.caughtUpHere = here.completed && hereNow.length === needHere.length && !localKeys.truncated && !remoteKeys.truncated
  if (here.refused !== undefined) report.refused = {...here.refused, node: local.name}
  // A side that failed (a peer that could not send its objects, a merge that got no answer) is
  // not asked for more. A local store that refused what it was sent (it stopped taking writes, or
  // one key was too large) still sends the peer what it lacks: a merge is idempotent and keeps
  // every causally maximal version, so the peer's copy can only gain from this side's.
  if (here.failed) return report
  const there = await copyKeys(local, remote, partition, thereNow, limits.batchEntriesMax)
  report.repairedThere = there.merged
  report.keysCopied += there.copied
  if (there.refused !== undefined) report.refused = {...there.refused, node: remote.name}
  return here.completed && there.completed ? {...report, completed: true} : report
}

/** What copying keys one way came to: `failed` when a side gave no answer (and the rest was not tried), `refused` the first refusal. */
interface CopyOutcome {
  readonly merged: number
  readonly copied: number
  readonly completed: boolean
  readonly failed: boolean
  readonly refused?: Omit<MergeRefusal, 'node'>
}

/** Reads `keys` from one side and merges them into the other, a batch at a time; stops at a side that cannot take part. */
async function copyKeys(from: TreeSide, to: TreeSide, partition: number, keys: readonly string[], batchEntriesMax: number): Promise<CopyOutcome> {
  let merged = 0
  let copied = 0
  // The first code a merge was refused with. The batches after it are still sent: a refusal for a
  // limit concerns its entry alone, and one key refused every round must not hold back the rest
  // of the listing behind it (a store that takes no writes refuses them all, bounded by keysMax).
  let refused: CopyOutcome['refused']
  const failed = (): CopyOutcome => ({merged, copied, completed: false, failed: true, ...(refused === undefined ? {} : {refused})})
  for (const batch of batches(keys, batchEntriesMax)) {
    const read = await from.objects(partition, batch)
    if (read === undefined) return failed()
    const entries = present(read)
    if (entries.length === 0) continue
    copied += entries.length
    const count = await to.merge(partition, entries)
    if (count === undefined) return failed()
    if (typeof count === 'number') {
      merged += count
    } else {
      merged += count.merged
      refused ??= {error: count.refused, ...(count.key === undefined ? {} : {key: count.key})}
    }
  }
  return refused === undefined ? {merged, copied, completed: true, failed: false} : {merged, copied, completed: false, failed: false, refused}
}

/**
 * The keys each side must be sent: a key one side lacks goes to it; a key with differing hashes
 * goes both ways (either may hold versions the other lacks).
 */
export function keyDifferences(local: readonly KeyHash[], remote: readonly KeyHash[]): {needHere: string[]; needThere: string[]} {
  const remoteHashes = new Map<string, KeyHash>()
  for (const entry of remote) remoteHashes.set(entry[0], entry)
  const needHere: string[] = []
  const needThere: string[] = []
  const localKeys = new Set<string>()
  for (const entry of local) {
    localKeys.add(entry[0])
    const other = remoteHashes.get(entry[0])
    if (other === undefined) {
      needThere.push(entry[0])
    } else if (other[1] !== entry[1] || other[2] !== entry[2]) {
      needHere.push(entry[0])
      needThere.push(entry[0])
    }
  }
  for (const entry of remote) if (!localKeys.has(entry[0])) needHere.push(entry[0])
  return {needHere, needThere}
}

function present(fetched: ReadonlyArray<{readonly key: string; readonly object?: StoredObject}>): Array<{key: string; object: StoredObject}> {
  const entries: Array<{key: string; object: StoredObject}> = []
  for (const {key, object} of fetched) if (object !== undefined) entries.push({key, object})
  return entries
}

function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let index = 0; index < items.length; index += size) out.push(items.slice(index, index + size))
  return out
}
