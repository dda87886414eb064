/**
 * A node's own side of an anti-entropy exchange (exchange.ts's `TreeSide`): its trees (tree-set.ts)
 * for the hashes, its store for the keys of differing segments and their objects, and the
 * replica merge for what a peer sends. The anti-entropy subsystem serves a peer's questions with
 * it and asks its own; a unit test puts two of them face to face.
 */

import type {Store} from '../storage/store.js'
import type {StoredObject} from '../storage/stored-object.js'
import type {KeyHash, KeyListing, MergeRefused, TreeSide} from './exchange.js'
import {keyListingMax, mergeRefused} from './exchange.js'
import {branchCount, objectHash, segmentOfKey, segmentsPerBranch} from './hash-tree.js'
import type {TreeSet} from './tree-set.js'

/** Objects of a partition read per page while listing keys. */
const listingPageSize = 512

export interface LocalSideParts {
  readonly name: string
  readonly trees: TreeSet
  readonly store: Pick<Store, 'scanPartition' | 'getObject' | 'writesStoppedBy'>
  /** Whether this node takes part in an exchange of (partition, n) now (a home, complete trees, the same ring). */
  canServe(partition: number, n: number): boolean
  /** The replica merge of one object into the store; `changed` false when it brought the stored copy nothing, `error` the code of a merge refused (too_many_siblings, ...). */
  merge(partition: number, key: string, object: StoredObject): Promise<{ok: true; changed: boolean} | {ok: false; error: string}>
}

/**
 * The keys of objects of this n in `segments` of a partition, with their hashes, read from the
 * store a page at a time (bounded by the partition's size: each page moves past the last key
 * read), at most keyListingMax of them.
 */
export async function listSegmentKeys(store: Pick<Store, 'scanPartition'>, partition: number, n: number, segments: readonly number[]): Promise<KeyListing> {
  const wanted = new Set(segments)
  const keys: KeyHash[] = []
  let afterKey: string | undefined
  for (;;) {
    const page = await store.scanPartition(partition, afterKey, listingPageSize)
    for (const {key, object} of page) {
      if (object.n !== n || !wanted.has(segmentOfKey(key))) continue
      if (keys.length >= keyListingMax) return {keys, truncated: true}
      const hash = objectHash(key, object)
      keys.push([key, hash[0], hash[1]])
    }
    if (page.length < listingPageSize) return {keys, truncated: false}
    afterKey = page[page.length - 1]?.key
  }
}

export function localTreeSide(parts: LocalSideParts): TreeSide {
  const {trees, store} = parts
  return {
    name: parts.name,
    roots: async (pairs) => pairs.map(({partition, n}) => (parts.canServe(partition, n) ? (trees.tree(partition, n)?.root ?? [0, 0]) : undefined)),
    branches: async (partition, n) => (parts.canServe(partition, n) ? (trees.tree(partition, n)?.branchHashes() ?? new Array<number>(branchCount * 2).fill(0)) : undefined),
    segments: async (partition, n, branches) =>
      parts.canServe(partition, n) ? branches.map((branch) => trees.tree(partition, n)?.segmentHashes(branch) ?? new Array<number>(segmentsPerBranch * 2).fill(0)) : undefined,
    keys: async (partition, n, segments) => (parts.canServe(partition, n) ? listSegmentKeys(store, partition, n, segments) : undefined),
    objects: async (partition, keys) =>
      Promise.all(
        keys.map(async (key) => {
          const object = await store.getObject(partition, key)
          return object === undefined ? {key} : {key, object}
        }),
      ),
    takesMerges: () => store.writesStoppedBy === undefined,
    merge: async (partition, entries) => {
      // A store that takes no more writes (a landing failed: a full disk) cannot take this side's
      // part: the exchange ends unfinished and is counted failed, rather than throwing at the
      // first merge, and the peer is still sent what it lacks (exchangeTree).
      if (store.writesStoppedBy !== undefined) return undefined
      // Counted only where the copy here changed: a key both sides hold alike (this side already
      // had the peer's versions) is no repair, however often an exchange that fails the other way
      // comes back to it.
      // A merge refused for a limit leaves the exchange unfinished, with its code, as a peer's does;
      // the other entries are still merged.
      let merged = 0
      let refused: MergeRefused | undefined
      for (const {key, object} of entries) {
        const result = await parts.merge(partition, key, object)
        if (!result.ok) refused ??= mergeRefused(result.error, key, 0)
        else if (result.changed) merged += 1
      }
      return refused === undefined ? merged : {...refused, merged}
    },
  }
}
