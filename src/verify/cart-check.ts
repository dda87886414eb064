/**
 * What `dyn verify` checks, as pure functions: the shopping cart of the Dynamo paper (§4.4: "an
 * add to cart operation can never be forgotten or rejected"). Each client reads a cart, merges
 * its siblings (the union of their items), adds one item no one else ever adds, and writes the
 * cart back with the read's context. An add whose write was acknowledged must be in the final
 * cart; one whose write failed may or may not be (a failed write can still have reached a
 * replica). The final cart is read from each home replica alone, after the faults are healed and
 * the replicas have converged: an acknowledged item missing from every home is lost; one missing
 * from some homes only means they have not converged; one missing from the homes that could be
 * read, when some could not, is unverified (never called lost on a guess).
 */

import type {FaultKind} from './nemesis.js'

/** A cart's value: the JSON array of its items. */
export function encodeCart(items: ReadonlySet<string>): Uint8Array {
  return new TextEncoder().encode(JSON.stringify([...items].sort()))
}

/**
 * The union of the items in each version (sibling) of a cart: how a client merges siblings. A
 * version that is not a JSON array of strings contributes nothing; `undefined` says so.
 */
export function mergeCartVersions(versions: readonly Uint8Array[]): {items: Set<string>; unreadable: number} {
  const items = new Set<string>()
  let unreadable = 0
  for (const bytes of versions) {
    const parsed = parseCart(bytes)
    if (parsed === undefined) unreadable += 1
    else for (const item of parsed) items.add(item)
  }
  return {items, unreadable}
}

function parseCart(bytes: Uint8Array): string[] | undefined {
  try {
    const value = JSON.parse(new TextDecoder().decode(bytes)) as unknown
    return Array.isArray(value) && value.every((item) => typeof item === 'string') ? value : undefined
  } catch {
    return undefined
  }
}

/** One add to a cart, as the client saw its write end. */
export interface AddRecord {
  readonly cart: string
  readonly item: string
  /** acknowledged: the put answered 204; failed: it answered an error or nothing (maybe applied). */
  readonly outcome: 'acknowledged' | 'failed'
}

/** A home replica's final copy of a cart: its items, or why there are none. */
export type ReplicaCart = {readonly node: string; readonly items: ReadonlySet<string>} | {readonly node: string; readonly error: string}

export interface LostAdd {
  readonly cart: string
  readonly item: string
}

export interface CartCheck {
  readonly acknowledged: number
  readonly failed: number
  /** Failed adds found in the final carts anyway (their write reached a replica). */
  readonly failedButPresent: number
  /** Acknowledged adds on no home replica. */
  readonly lost: readonly LostAdd[]
  /** Acknowledged adds on some home replicas but not all (replicas not converged). */
  readonly missingOnSomeHomes: readonly LostAdd[]
  /** Acknowledged adds on none of the homes that were read, where some home could not be read: not known to be lost. */
  readonly unverified: readonly LostAdd[]
}

/** Checks every add against each cart's home replicas. */
export function checkCarts(adds: readonly AddRecord[], finalCarts: ReadonlyMap<string, readonly ReplicaCart[]>): CartCheck {
  const lost: LostAdd[] = []
  const missingOnSomeHomes: LostAdd[] = []
  const unverified: LostAdd[] = []
  let acknowledged = 0
  let failed = 0
  let failedButPresent = 0
  for (const add of adds) {
    const replicas = finalCarts.get(add.cart) ?? []
    const holding = replicas.filter((replica) => 'items' in replica && replica.items.has(add.item)).length
    if (add.outcome === 'failed') {
      failed += 1
      if (holding > 0) failedButPresent += 1
      continue
    }
    acknowledged += 1
    const allRead = replicas.length > 0 && replicas.every((replica) => 'items' in replica)
    if (holding === 0) (allRead ? lost : unverified).push({cart: add.cart, item: add.item})
    else if (holding < replicas.length) missingOnSomeHomes.push({cart: add.cart, item: add.item})
  }
  return {acknowledged, failed, failedButPresent, lost, missingOnSomeHomes, unverified}
}

/** Whether every home replica of every cart was read and holds the same items. */
export function converged(finalCarts: ReadonlyMap<string, readonly ReplicaCart[]>): boolean {
  for (const replicas of finalCarts.values()) {
    const sets = replicas.map((replica) => ('items' in replica ? [...replica.items].sort().join('\n') : undefined))
    if (sets.length === 0 || sets.some((set) => set === undefined) || new Set(sets).size !== 1) return false
  }
  return true
}

/** One client operation's end, for availability: when it began and whether it succeeded. */
export interface OperationRecord {
  readonly atMs: number
  readonly ok: boolean
}

/** A fault's window in the run, to count the operations that began during it. */
export interface FaultWindow {
  readonly kind: FaultKind
  readonly startMs: number
  readonly endMs: number
}

export interface Availability {
  readonly operations: number
  readonly succeeded: number
  /** succeeded / operations; 1 when there were none. */
  readonly ratio: number
}

/** Availability outside every fault, and during each kind of fault. */
export function availabilityByFault(operations: readonly OperationRecord[], windows: readonly FaultWindow[]): {outside: Availability; during: Partial<Record<FaultKind, Availability>>} {
  const tally = new Map<FaultKind | 'outside', {operations: number; succeeded: number}>()
  for (const operation of operations) {
    const window = windows.find((w) => operation.atMs >= w.startMs && operation.atMs < w.endMs)
    const key = window?.kind ?? 'outside'
    const counts = tally.get(key) ?? {operations: 0, succeeded: 0}
    counts.operations += 1
    if (operation.ok) counts.succeeded += 1
    tally.set(key, counts)
  }
  const of = (counts: {operations: number; succeeded: number} | undefined): Availability => {
    const {operations: n, succeeded} = counts ?? {operations: 0, succeeded: 0}
    return {operations: n, succeeded, ratio: n === 0 ? 1 : succeeded / n}
  }
  const during: Partial<Record<FaultKind, Availability>> = {}
  for (const [key, counts] of tally) if (key !== 'outside') during[key] = of(counts)
  return {outside: of(tally.get('outside')), during}
}
