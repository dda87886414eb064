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

/**
 * The n each key is stored with: the largest any up node's store records for it (0 for a key no
 * node holds), at most the ring's members. Its homes are the first that many of its preference list.
 */
export async function storedReplicaCounts(cluster: SimCluster, keys: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>()
  const nodes = cluster.upNodes().flatMap((name) => cluster.assembled(name) ?? [])
  const ring = nodes[0]?.membership.ring
  if (ring === undefined) return counts
  for (const key of keys) {
    let n = 0
    for (const node of nodes) n = Math.max(n, (await node.store.getObject(partitionOfKey(key, ring.partitionCount), key))?.n ?? 0)
    counts.set(key, Math.min(n, ring.members.length))
  }
  return counts
}

export async function checkConvergence(cluster: SimCluster, keys: readonly string[]): Promise<Violation[]> {
  const nodes = cluster.upNodes().flatMap((name) => {
    const node = cluster.assembled(name)
    return node === undefined ? [] : [{name, node}]
  })
  const ring = nodes[0]?.node.membership.ring
  if (ring === undefined) return []
  const violations: Violation[] = []
  for (const key of keys) {
    const partition = partitionOfKey(key, ring.partitionCount)
    const objects = new Map<string, StoredObject | undefined>()
    for (const {name, node} of nodes) objects.set(name, await node.store.getObject(partition, key))
    const n = Math.max(0, ...[...objects.values()].map((object) => object?.n ?? 0))
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
export async function checkReaped(cluster: SimCluster, keys: readonly string[], healedAtMs: number): Promise<Violation[]> {
  const nowMs = cluster.time.nowMs()
  if (nowMs - healedAtMs < simTombstoneGraceMs + reapMarginMs) return []
  const cutoffMs = nowMs - simTombstoneGraceMs - reapMarginMs
  const violations: Violation[] = []
  for (const name of cluster.upNodes()) {
    const node = cluster.assembled(name)
    if (node === undefined) continue
    const ring = node.membership.ring
    for (const key of keys) {
      const object = await node.store.getObject(partitionOfKey(key, ring.partitionCount), key)
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
