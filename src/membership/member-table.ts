/**
 * The member table every node keeps, and its gossip merge (paper §4.8).
 *
 * Each member's row is owned by that member: only it bumps its `incarnation` (when it starts,
 * changes address or changes status), so merging two tables keeps, per member, the row with the
 * higher incarnation. Rows never disappear: a member that leaves stays as `left`, so an old
 * gossip message cannot resurrect it. Ties between rows with the same incarnation (which only a
 * bug or two processes sharing a name can produce) are broken by status rank and then address,
 * so every node still converges on the same table, and therefore computes the same ring.
 *
 * The cluster's settings (Q, the default N/R/W, the conflict policy) are fixed by the node that
 * created the cluster and travel with the table, so a joining node adopts them.
 */

import type {Ring} from '../ring/ring.js'
import {buildRing, isValidPartitionCount} from '../ring/ring.js'
import {replicasPerKeyMax} from '../storage/stored-object.js'
import type {RingState} from './claimant-core.js'
import {initialRingState, isValidRingState, mergeRingStates, ringOfState} from './claimant-core.js'
import {namePattern} from './names.js'

/**
 * `joining` and `leaving` are reserved for ownership transfer (paper §4.9), which moves data
 * before a member starts or stops owning partitions; `valid` members own partitions.
 */
export type MemberStatus = 'joining' | 'valid' | 'leaving' | 'left'

const statusRank: Record<MemberStatus, number> = {joining: 0, valid: 1, leaving: 2, left: 3}

export interface Member {
  readonly name: string
  /** host:port of its internode RPC listener. */
  readonly rpcAddress: string
  /** host:port of its client HTTP API. */
  readonly apiAddress: string
  readonly status: MemberStatus
  readonly incarnation: number
  /** The ring transition (its id) this member has seen: transfers start once every member has. */
  readonly seenTransition?: string
  /**
   * The partitions this member has received in full for the transition `transition`. `through`,
   * one entry per partition, is the largest n the partition's transfer was planned for when it
   * finished: should an object with a larger n turn up later, the plan grows (more sources) and
   * the partition is fetched again. Absent in rows from before it existed, and then every entry
   * counts as received for the cluster's default N.
   */
  readonly received?: {readonly transition: string; readonly partitions: readonly number[]; readonly through?: readonly number[]}
  /**
   * The distinct `n` of the objects this member stores, ascending (absent: none beyond the
   * cluster's default N). Transfers are planned for every n some member advertises.
   */
  readonly replicaCounts?: readonly number[]
  /**
   * Set only on a `left` row: the member has handed off every partition it held, or was removed
   * by the claimant (a removal gives up what only the removed node holds). Until a member that
   * left says so, it may still hand old copies of a key to its homes, so no tombstone is reaped
   * without its answer (reaper.ts).
   */
  readonly handedOff?: true
  /**
   * Set only on a `left` row, by the claimant that removed the member (dyn cluster remove), never
   * by the member itself: nothing it sends is stored any more, and a removed member that comes
   * back learns from it that it must stop (membership.ts).
   */
  readonly removed?: true
  /**
   * The highest disk clock of this member that the cluster has heard of: the reap checks its store
   * has answered (src/node/identity.ts). Unlike every other field it is not the owner's word
   * alone: a reaper raises it from the member's answers before it reaps, so every merge keeps the
   * larger value whichever row wins. A member that starts on a store with a lower disk clock is on
   * a copy of an older disk (src/node/disk-check.ts). Absent means 0, which is never written, so
   * that one value has one form and merges converge.
   */
  readonly diskClock?: number
  /**
   * The machine this member runs on, when it shares one with other members (`dyn start
   * --processes`, `--machine`); absent means a machine of its own. Fixed when the member is first
   * started (src/node/identity.ts); the claimant copies it into the ring state when the member
   * joins the ring, and preference lists keep a key's homes on distinct machines (ring.ts).
   */
  readonly machine?: string
}

export type ConflictPolicy = 'siblings' | 'lww'

export interface ClusterSettings {
  /** Drawn when the cluster is created, so that two clusters with equal settings never merge. */
  readonly clusterId: string
  readonly partitionCount: number
  readonly defaultN: number
  readonly defaultR: number
  readonly defaultW: number
  readonly conflictPolicy: ConflictPolicy
}

export interface MemberTable {
  readonly settings: ClusterSettings
  /** Sorted by name. */
  readonly members: readonly Member[]
  /** The claimant's ring (absent only in tables written before there was one). */
  readonly ring?: RingState
}

export function newMemberTable(settings: ClusterSettings, self: Member): MemberTable {
  return {settings, members: [self], ring: initialRingState(settings.partitionCount, self.name, self.machine)}
}

function preferredRow(a: Member, b: Member): Member {
  if (a.incarnation !== b.incarnation) return a.incarnation > b.incarnation ? a : b
  if (a.status !== b.status) return statusRank[a.status] > statusRank[b.status] ? a : b
  if (a.handedOff !== b.handedOff) return a.handedOff === true ? a : b
  if (a.removed !== b.removed) return a.removed === true ? a : b
  if (a.rpcAddress !== b.rpcAddress) return a.rpcAddress > b.rpcAddress ? a : b
  if (a.apiAddress !== b.apiAddress) return a.apiAddress > b.apiAddress ? a : b
  return (a.machine ?? '') >= (b.machine ?? '') ? a : b
}

/**
 * The row gossip keeps of two: the preferred one, with the larger disk clock of the two (a
 * max-register beside the row, so the merge stays commutative, associative and idempotent).
 */
export function mergedRow(a: Member, b: Member): Member {
  const row = preferredRow(a, b)
  const diskClock = Math.max(a.diskClock ?? 0, b.diskClock ?? 0)
  return (row.diskClock ?? 0) === diskClock ? row : {...row, diskClock}
}

/** The table with `name`'s disk clock raised to at least `value` (unchanged when it is there already, or no such member). */
export function withDiskClockAtLeast(table: MemberTable, name: string, value: number): MemberTable {
  const row = findMember(table, name)
  if (row === undefined || (row.diskClock ?? 0) >= value) return table
  return withMember(table, {...row, diskClock: value})
}

/**
 * Merge two views; commutative, associative and idempotent, so gossip in any order converges.
 * Settings are the creator's and never change, so either side's will do; a table with
 * different settings is refused before it gets here (see `settingsMismatch`).
 */
export function mergeTables(local: MemberTable, remote: MemberTable): MemberTable {
  const byName = new Map<string, Member>()
  for (const member of local.members) byName.set(member.name, member)
  for (const member of remote.members) {
    const mine = byName.get(member.name)
    byName.set(member.name, mine === undefined ? member : mergedRow(mine, member))
  }
  const members = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const ring = mergeRingStates(local.ring, remote.ring)
  return ring === undefined ? {settings: local.settings, members} : {settings: local.settings, members, ring}
}

/** Replace (or add) one member's row: used by a node for its own row. */
export function withMember(table: MemberTable, member: Member): MemberTable {
  const members = table.members.filter((m) => m.name !== member.name)
  members.push(member)
  members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  return {...table, members}
}

/** The table with another ring state (the claimant's decision). */
export function withRing(table: MemberTable, ring: RingState): MemberTable {
  return {...table, ring}
}

export function findMember(table: MemberTable, name: string): Member | undefined {
  return table.members.find((m) => m.name === name)
}

/**
 * A member's status as the whole table tells it: its own row's, except that a member which the
 * committed ring no longer has, and which no running transition brings in, has left even while
 * its row still says valid or leaving. A removed node is gone for good and never updates its own
 * row; without this, every later change would wait for it to see the transition.
 */
export function statusOf(table: MemberTable, member: Member): MemberStatus {
  const ring = table.ring
  if (ring === undefined || member.status === 'left' || member.status === 'joining') return member.status
  if (ring.members.includes(member.name) || ring.next?.members.includes(member.name) === true) return member.status
  return 'left'
}

/**
 * Whether `self` runs alone: no other member's row says it is still in the cluster. Only such a
 * node may join another cluster (dyn cluster join), and it stores no copy from a node it does not
 * know (assemble.ts).
 */
export function runsAlone(table: MemberTable, self: string): boolean {
  return !table.members.some((member) => member.name !== self && member.status !== 'left')
}

/** The members that have not left (see `statusOf`): those a node gossips with, probes and waits for. */
export function presentMembers(table: MemberTable): Member[] {
  return table.members.filter((member) => statusOf(table, member) !== 'left')
}

/**
 * The present members and those out of the ring that have not said they handed off everything:
 * every node that still works for the cluster (a leaver releases its partitions and delivers its
 * hints until then). A removed member is marked handed off, so it is not one; nor is a leaver
 * whose internode address a present member now advertises (a replacement machine): an answer
 * there is that member's, and would count the address, the member's, down.
 */
export function presentOrHandingOff(table: MemberTable): Member[] {
  const present = presentMembers(table)
  const presentAddresses = new Set(present.map((member) => member.rpcAddress))
  return table.members.filter((member) => present.includes(member) || (member.handedOff !== true && !presentAddresses.has(member.rpcAddress)))
}

/**
 * Whether `target`'s row reports `partition` received in `transition`, for a plan whose
 * sources were the old homes under `sourcesForN` (a receipt for a smaller n had fewer sources).
 */
export function hasReceived(table: MemberTable, target: string, transition: string, partition: number, sourcesForN: number): boolean {
  const received = findMember(table, target)?.received
  if (received?.transition !== transition) return false
  const index = received.partitions.indexOf(partition)
  if (index === -1) return false
  return (received.through?.[index] ?? table.settings.defaultN) >= sourcesForN
}

/** Whether a member's row says it owns partitions (a table from before there was a ring state). */
function ownsPartitions(member: Member): boolean {
  return member.status === 'valid' || member.status === 'leaving'
}

/** How many members own partitions (`ringMembers(table).length`, without copying the list: it is asked on every request). */
export function ringMemberCount(table: MemberTable): number {
  if (table.ring !== undefined) return table.ring.members.length
  let count = 0
  for (const member of table.members) if (ownsPartitions(member)) count += 1
  return count
}

/** Members of the committed ring. */
export function ringMembers(table: MemberTable): string[] {
  if (table.ring !== undefined) return [...table.ring.members]
  return table.members.filter(ownsPartitions).map((m) => m.name)
}

/** The committed ring: the claimant's, or (a table from before there was one) the claim of its members. */
export function ringOf(table: MemberTable): Ring {
  const state = table.ring
  if (state !== undefined) return ringOfState(table.settings.partitionCount, state)
  return buildRing(table.settings.partitionCount, ringMembers(table), (name) => findMember(table, name)?.machine)
}

/** The ring being moved to, while a transition runs. */
export function nextRingOf(table: MemberTable): Ring | undefined {
  const next = table.ring?.next
  return next === undefined ? undefined : ringOfState(table.settings.partitionCount, next)
}

/** Whether two tables change nothing for each other: lets gossip skip needless work. */
export function sameTable(a: MemberTable, b: MemberTable): boolean {
  if (a.members.length !== b.members.length) return false
  if (JSON.stringify(a.ring) !== JSON.stringify(b.ring)) return false
  return a.members.every((m, i) => {
    const o = b.members[i]
    return (
      o !== undefined &&
      o.name === m.name &&
      o.incarnation === m.incarnation &&
      o.status === m.status &&
      o.rpcAddress === m.rpcAddress &&
      o.apiAddress === m.apiAddress &&
      o.seenTransition === m.seenTransition &&
      o.handedOff === m.handedOff &&
      o.removed === m.removed &&
      o.diskClock === m.diskClock &&
      o.machine === m.machine &&
      JSON.stringify(o.received) === JSON.stringify(m.received) &&
      JSON.stringify(o.replicaCounts) === JSON.stringify(m.replicaCounts)
    )
  })
}

/** The first setting on which two clusters disagree, or undefined when they agree. */
export function settingsMismatch(a: ClusterSettings, b: ClusterSettings): string | undefined {
  for (const field of ['clusterId', 'partitionCount', 'defaultN', 'defaultR', 'defaultW', 'conflictPolicy'] as const) {
    if (a[field] !== b[field]) return `${field}: ${String(a[field])} here, ${String(b[field])} there`
  }
  return undefined
}

/** Structural check of a table that arrived over the network. */
export function isValidMemberTable(x: unknown): x is MemberTable {
  if (typeof x !== 'object' || x === null) return false
  const t = x as Record<string, unknown>
  const s = t.settings as Record<string, unknown> | undefined
  if (typeof s !== 'object' || s === null) return false
  if (![s.defaultN, s.defaultR, s.defaultW].every((v) => Number.isInteger(v) && (v as number) >= 1)) return false
  if (typeof s.partitionCount !== 'number' || !isValidPartitionCount(s.partitionCount)) return false
  if (s.conflictPolicy !== 'siblings' && s.conflictPolicy !== 'lww') return false
  if (typeof s.clusterId !== 'string' || !/^[0-9a-f]{16}$/.test(s.clusterId)) return false
  if (!Array.isArray(t.members) || t.members.length > membersMax) return false
  if (t.ring !== undefined && !isValidRingState(t.ring, s.partitionCount)) return false
  const names = new Set(t.members.map((m: unknown) => (m as {name?: unknown} | null)?.name))
  if (names.size !== t.members.length) return false
  return t.members.every((m: unknown) => {
    if (typeof m !== 'object' || m === null) return false
    const r = m as Record<string, unknown>
    return (
      typeof r.name === 'string' &&
      namePattern.test(r.name) &&
      typeof r.rpcAddress === 'string' &&
      typeof r.apiAddress === 'string' &&
      typeof r.status === 'string' &&
      Object.hasOwn(statusRank, r.status) &&
      Number.isSafeInteger(r.incarnation) &&
      (r.incarnation as number) >= 0 &&
      (r.incarnation as number) <= incarnationMax &&
      (r.seenTransition === undefined || typeof r.seenTransition === 'string') &&
      (r.received === undefined || isValidReceived(r.received)) &&
      (r.replicaCounts === undefined || isValidReplicaCounts(r.replicaCounts)) &&
      (r.handedOff === undefined || (r.handedOff === true && r.status === 'left')) &&
      (r.removed === undefined || (r.removed === true && r.status === 'left' && r.handedOff === true)) &&
      (r.diskClock === undefined || isDiskClock(r.diskClock)) &&
      (r.machine === undefined || (typeof r.machine === 'string' && r.machine !== r.name && namePattern.test(r.machine)))
    )
  })
}

function isReplicaCount(x: unknown): boolean {
  return Number.isInteger(x) && (x as number) >= 1 && (x as number) <= replicasPerKeyMax
}

function isValidReceived(x: unknown): boolean {
  const r = x as {transition?: unknown; partitions?: unknown; through?: unknown} | null
  return (
    typeof r === 'object' && r !== null && typeof r.transition === 'string' && Array.isArray(r.partitions) &&
    r.partitions.length <= 65_536 && r.partitions.every((p) => Number.isInteger(p) && (p as number) >= 0) &&
    (r.through === undefined || (Array.isArray(r.through) && r.through.length === r.partitions.length && r.through.every(isReplicaCount)))
  )
}

/** At most one entry per possible n, each in range, strictly ascending (so equal sets compare equal). */
function isValidReplicaCounts(x: unknown): boolean {
  return Array.isArray(x) && x.length <= replicasPerKeyMax && x.every((n, i) => isReplicaCount(n) && (i === 0 || (n as number) > (x[i - 1] as number)))
}

/**
 * Every n transfers must cover: the cluster's default N and every n a member advertises. Left
 * members count too: their rows stay, and whatever they held went to members that hold it now.
 */
export function replicaCountsInUse(table: MemberTable): number[] {
  const counts = new Set<number>([table.settings.defaultN])
  for (const member of table.members) for (const n of member.replicaCounts ?? []) counts.add(n)
  return [...counts].sort((a, b) => a - b)
}

/** A disk clock as a row or a reap carries it: 1 or more (absent means 0), bounded like incarnations. */
export function isDiskClock(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 1 && (x as number) <= incarnationMax
}

/** Incarnations stay far below 2^53, so that raising one by one always makes it larger. */
export const incarnationMax = 2 ** 48

/** A bound on the member table, so a malicious or corrupt gossip message cannot grow it without limit. */
export const membersMax = 1024
