/**
 * Every hash tree of one node (hash-tree.ts): one per partition and per n of the objects it
 * stores, kept up to date on every change to the store (Store.watchChanges), never by a scan on
 * the write path.
 *
 * The trees live in memory only. A node that starts builds them from its store in the
 * background, one partition at a time, while it serves: each partition's trees are "complete"
 * once its scan is done, and an exchange (exchange.ts) never compares a partition that is not
 * complete on both sides. Riak's hashtree.erl persisted its trees and still rebuilt them weekly
 * with a full scan under throttles, and its users saw that load; a tree here is exact for as long
 * as the process runs, so only a start pays a scan (about a second per 100,000 small objects).
 *
 * A change that lands during a partition's scan is the delicate case: the scan reads pages of
 * the store at some instant, and a change may have landed before or after that instant. While a
 * partition is scanned, its tree set remembers the hash it holds for every key it has seen (from
 * the scan or a change); a change always replaces what is remembered for its key, and a scanned
 * object only enters for a key no change has named yet. The last change of a key names what
 * the store holds, so when the scan ends each key's hash is the store's, whatever the order was.
 */

import {assert} from '../errors.js'
import type {StoredObject} from '../storage/stored-object.js'
import type {Hash64} from './hash-tree.js'
import {HashTree, objectHash, segmentOfKey} from './hash-tree.js'

/** A key's contribution to its partition's trees. */
interface Contribution {
  readonly n: number
  readonly hash: Hash64
}

interface PartitionTrees {
  readonly trees: Map<number, HashTree>
  /** What each key contributes, kept only while the partition is being scanned. */
  scanning: Map<string, Contribution | undefined> | undefined
  complete: boolean
}

/** One page of a partition's objects, in key order, after `afterKey`. */
export type ScanPage = (partition: number, afterKey: string | undefined) => Promise<ReadonlyArray<{readonly key: string; readonly object: StoredObject}>>

/** A key whose every live version is a tombstone: what a reap may remove (reaper.ts). */
export interface KeptTombstone {
  readonly n: number
  /** The newest tombstone's time (the coordinator's wall clock when it deleted). */
  readonly deletedAtMs: number
}

/** Whether an object holds only tombstones, and when the newest was written; undefined for a live object. */
export function tombstoneOf(object: StoredObject): KeptTombstone | undefined {
  let deletedAtMs = Number.NEGATIVE_INFINITY
  let count = 0
  for (const entry of object.versions.entries) {
    for (const version of entry.values) {
      if (!version.tombstone) return undefined
      deletedAtMs = Math.max(deletedAtMs, version.timestampMs)
      count += 1
    }
  }
  return count === 0 ? undefined : {n: object.n, deletedAtMs}
}

export class TreeSet {
  private readonly partitions = new Map<number, PartitionTrees>()
  /** Keys that hold only tombstones, by partition: kept in step with the trees, so a reap pass never scans. */
  private readonly tombstones = new Map<number, Map<string, KeptTombstone>>()
  private tombstoneTotal = 0

  constructor(private readonly partitionCount: number) {
    assert(Number.isInteger(partitionCount) && partitionCount >= 1, `partition count ${partitionCount} out of range`)
  }

  /** The store changed one key: what it held before and holds now (undefined: no object). */
  apply(partition: number, key: string, before: StoredObject | undefined, after: StoredObject | undefined): void {
    const trees = this.partitionTrees(partition)
    this.trackTombstone(partition, key, after)
    const next = after === undefined ? undefined : {n: after.n, hash: objectHash(key, after)}
    if (trees.scanning !== undefined) {
      // Mid-scan: what this key contributes is what is remembered, or nothing yet.
      const previous = trees.scanning.get(key)
      this.move(trees, key, previous, next)
      trees.scanning.set(key, next)
      return
    }
    const previous = before === undefined ? undefined : {n: before.n, hash: objectHash(key, before)}
    this.move(trees, key, previous, next)
  }

  /** Whether a partition's trees hold every key the store holds in it (its scan is done). */
  isComplete(partition: number): boolean {
    return this.partitions.get(partition)?.complete === true
  }

  /** The tree of one partition and n; undefined when no key of that n was ever seen. */
  tree(partition: number, n: number): HashTree | undefined {
    return this.partitions.get(partition)?.trees.get(n)
  }

  /** The n of every non-empty tree of a partition, ascending. */
  replicaCounts(partition: number): number[] {
    const trees = this.partitions.get(partition)?.trees
    if (trees === undefined) return []
    return [...trees.entries()].filter(([, tree]) => tree.keyCount > 0).map(([n]) => n).sort((a, b) => a - b)
  }

  /** Partitions whose scan is done. */
  get completeCount(): number {
    let count = 0
    for (const trees of this.partitions.values()) if (trees.complete) count += 1
    return count
  }

  /** Keys held across every tree (each key once: it is in the tree of its n). */
  get keyCount(): number {
    let count = 0
    for (const trees of this.partitions.values()) for (const tree of trees.trees.values()) count += tree.keyCount
    return count
  }

  /**
   * Builds one partition's trees from the store, a page at a time (`scan` waits between pages as
   * the caller sees fit). Changes applied meanwhile are folded in as the module comment says.
   * A partition built once stays complete: its trees then follow every change.
   */
  async build(partition: number, scan: ScanPage): Promise<void> {
    const trees = this.partitionTrees(partition)
    if (trees.complete || trees.scanning !== undefined) return
    // Whatever the trees held before (changes applied before the scan) is dropped: the scan and
    // the changes during it give every key's hash from here.
    trees.trees.clear()
    const seen = new Map<string, Contribution | undefined>()
    trees.scanning = seen
    try {
      let afterKey: string | undefined
      for (let pages = 0; pages < Number.MAX_SAFE_INTEGER; pages += 1) {
        const page = await scan(partition, afterKey)
        for (const {key, object} of page) {
          if (seen.has(key)) continue
          const contribution = {n: object.n, hash: objectHash(key, object)}
          this.move(trees, key, undefined, contribution)
          seen.set(key, contribution)
          this.trackTombstone(partition, key, object)
        }
        if (page.length === 0) break
        afterKey = page[page.length - 1]?.key
      }
      trees.complete = true
    } finally {
      trees.scanning = undefined
    }
  }

  /** Tombstones kept on this node, all partitions. */
  get tombstoneCount(): number {
    return this.tombstoneTotal
  }

  /** Up to `limit` tombstones of one partition deleted at or before `cutoffMs`, in no particular order. */
  tombstonesBefore(partition: number, cutoffMs: number, limit: number): Array<{key: string; tombstone: KeptTombstone}> {
    const found: Array<{key: string; tombstone: KeptTombstone}> = []
    for (const [key, tombstone] of this.tombstones.get(partition) ?? []) {
      if (found.length >= limit) break
      if (tombstone.deletedAtMs <= cutoffMs) found.push({key, tombstone})
    }
    return found
  }

  /** Partitions that hold at least one tombstone. */
  partitionsWithTombstones(): number[] {
    return [...this.tombstones.keys()].sort((a, b) => a - b)
  }

  private trackTombstone(partition: number, key: string, object: StoredObject | undefined): void {
    const tombstone = object === undefined ? undefined : tombstoneOf(object)
    let kept = this.tombstones.get(partition)
    const had = kept?.has(key) === true
    if (tombstone !== undefined) {
      if (kept === undefined) {
        kept = new Map()
        this.tombstones.set(partition, kept)
      }
      kept.set(key, tombstone)
      if (!had) this.tombstoneTotal += 1
    } else if (had && kept !== undefined) {
      kept.delete(key)
      this.tombstoneTotal -= 1
      if (kept.size === 0) this.tombstones.delete(partition)
    }
  }

  private partitionTrees(partition: number): PartitionTrees {
    assert(Number.isInteger(partition) && partition >= 0 && partition < this.partitionCount, `partition ${partition} out of range`)
    let trees = this.partitions.get(partition)
    if (trees === undefined) {
      trees = {trees: new Map(), scanning: undefined, complete: false}
      this.partitions.set(partition, trees)
    }
    return trees
  }

  private move(trees: PartitionTrees, key: string, from: Contribution | undefined, to: Contribution | undefined): void {
    const segment = segmentOfKey(key)
    if (from !== undefined && to !== undefined && from.n === to.n) {
      this.treeOf(trees, from.n).replace(segment, from.hash, to.hash)
      return
    }
    if (from !== undefined) this.treeOf(trees, from.n).replace(segment, from.hash, undefined)
    if (to !== undefined) this.treeOf(trees, to.n).replace(segment, undefined, to.hash)
  }

  private treeOf(trees: PartitionTrees, n: number): HashTree {
    let tree = trees.trees.get(n)
    if (tree === undefined) {
      tree = new HashTree()
      trees.trees.set(n, tree)
    }
    return tree
  }
}
