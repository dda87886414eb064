/**
 * Check 10 of the simulator (anti-entropy, paper §4.7): once every fault has healed and the
 * cluster has had the settle time, and before any final read could repair anything, the home
 * replicas of every key hold the same versions, read from their stores directly. Nothing read
 * a key in that time, so what brought a home that missed a write up to date was hinted handoff,
 * a transfer or anti-entropy: a write acknowledged by fewer homes than its n, whose coordinator
 * crashed before it kept hints, or whose home lost its disk, reaches the other homes only this
 * way. With check 1 (the final read returns every acknowledged write) it says that every home
 * replica ends up holding every acknowledged write without a client reading it.
 *
 * A key's homes here are the first n of its preference list for the largest n any node stores
 * it with: the replicas the cluster itself promises it (a key written with n=2 in a cluster whose
 * default is 3 has two homes, whatever n a read asks for). It holds with disk loss too: a wiped
 * home is brought back by anti-entropy from the homes that kept their disks.
 */

import {partitionOfKey} from '../../src/ring/partition.js'
import {preferenceListForKey} from '../../src/ring/ring.js'
import type {Ring} from '../../src/ring/ring.js'
import type {StoredObject, StoredVersion} from '../../src/storage/stored-object.js'
import {dottedValues} from '../../src/versioning/dvvset.js'
import type {VersionSet} from '../../src/versioning/dvvset.js'
import {tombstoneOf} from '../../src/antientropy/tree-set.js'
import type {Violation} from './checker.js'
import {simTombstoneGraceMs, versionId} from './cluster.js'
import type {SimCluster} from './cluster.js'

/**
 * Check 11's margin beyond the grace: the failure detectors see every node up within a few
 * seconds of the heal, and a reap pass runs every second.
 */
export const reapMarginMs = 8000

/** A replica's versions for a key, as one string: ids and causal content, so two equal strings are equal replicas. */
export function fingerprint(versions: VersionSet<StoredVersion> | undefined): string {
  if (versions === undefined) return 'nothing'
  const live = dottedValues(versions).map(({actor, counter, value}) => `${actor}:${counter}=${versionId(value.value)}`)
  const known = versions.entries.map((entry) => `${entry.actor}@${entry.counter}${entry.cloud ? `+${entry.cloud.join('.')}` : ''}`)
  return `{${known.join(',')}}[${live.join(',')}]`
}

/** Every up node's object for each key, read from the stores at one moment, with each node's ring. */
export interface Copies {
  readonly nodes: ReadonlyArray<{readonly name: string; readonly ring: Ring}>
  /** Per key, per node: its object (undefined where it holds none). */
  readonly objects: ReadonlyMap<string, ReadonlyMap<string, StoredObject | undefined>>
}

export async function readCopies(cluster: SimCluster, keys: readonly string[]): Promise<Copies> {
  const nodes = cluster.upNodes().flatMap((name) => {
    const node = cluster.assembled(name)
    return node === undefined ? [] : [{name, node, ring: node.membership.ring}]
  })
  const objects = new Map<string, Map<string, StoredObject | undefined>>()
  for (const key of keys) {
    const perNode = new Map<string, StoredObject | undefined>()
    for (const {name, node, ring} of nodes) perNode.set(name, await node.store.getObject(partitionOfKey(key, ring.partitionCount), key))
    objects.set(key, perNode)
  }
  return {nodes: nodes.map(({name, ring}) => ({name, ring})), objects}
}

/** The largest n any node stores a key with (0 for a key no node holds). */
function storedN(perNode: ReadonlyMap<string, StoredObject | undefined>): number {
  return Math.max(0, ...[...perNode.values()].map((object) => object?.n ?? 0))
}

/**
 * The n each key is stored with: the largest any up node's store records for it (0 for a key no
 * node holds), at most the ring's members. Its homes are the first that many of its preference list.
 */
export function storedReplicaCounts(copies: Copies): Map<string, number> {
  const counts = new Map<string, number>()
  const ring = copies.nodes[0]?.ring
  if (ring === undefined) return counts
  for (const [key, perNode] of copies.objects) counts.set(key, Math.min(storedN(perNode), ring.members.length))
  return counts
}

export function checkConvergence(copies: Copies): Violation[] {
  const ring = copies.nodes[0]?.ring
  if (ring === undefined) return []
  const violations: Violation[] = []
  for (const [key, objects] of copies.objects) {
    const n = storedN(objects)
    if (n === 0) continue
    const homes = preferenceListForKey(ring, key).nodes.slice(0, n).filter((home) => objects.has(home))
    const perHome = homes.map((home) => ({home, fingerprint: fingerprint(objects.get(home)?.versions)}))
    if (new Set(perHome.map((entry) => entry.fingerprint)).size <= 1) continue
    violations.push({
      check: 'unconverged-replicas',
      key,
      message: `the ${homes.length} home replicas of its n=${n} still disagree after healing and settling, before any final read: ${perHome.map((entry) => `${entry.home}=${entry.fingerprint}`).join('; ')}`,
      atMs: Number.POSITIVE_INFINITY,
    })
  }
  return violations
}

/**
 * Check 11 (deletes free their space, strays are released): once every fault has healed and every
 * member has been up for longer than the tombstone grace (plus `reapMarginMs`), no home of a key
 * keeps a tombstone of it written before then, and no node keeps a copy of a key it is no home of
 * under the key's n. Call it after the settle time, before the final reads.
 */
export function checkReaped(copies: Copies, nowMs: number, healedAtMs: number): Violation[] {
  if (nowMs - healedAtMs < simTombstoneGraceMs + reapMarginMs) return []
  const cutoffMs = nowMs - simTombstoneGraceMs - reapMarginMs
  const violations: Violation[] = []
  for (const {name, ring} of copies.nodes) {
    for (const [key, perNode] of copies.objects) {
      const object = perNode.get(name)
      if (object === undefined) continue
      // A copy on a node that is no home of the key under its n (a fallback coordinator's own, or
      // one a read at a larger n repaired onto it) is handed to the homes and released.
      if (!preferenceListForKey(ring, key).nodes.slice(0, object.n).includes(name)) {
        violations.push({check: 'stray-copy', key, message: `${name} still keeps a copy of ${key}, of which it is no home under n=${object.n}, with every member up since ${healedAtMs} ms`, atMs: Number.POSITIVE_INFINITY})
        continue
      }
      const tombstone = tombstoneOf(object)
      if (tombstone === undefined || tombstone.deletedAtMs > cutoffMs) continue
      violations.push({
        check: 'tombstone-kept',
        key,
        message: `${name} still keeps the tombstone written at ${tombstone.deletedAtMs} ms, ${nowMs - tombstone.deletedAtMs} ms ago, with every member up since ${healedAtMs} ms (grace ${simTombstoneGraceMs} ms)`,
        atMs: Number.POSITIVE_INFINITY,
      })
    }
  }
  return violations
}
