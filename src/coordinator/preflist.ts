/**
 * The preference list of a key as one request sees it (paper §4.3): its partition, its home
 * replicas (the first N distinct nodes clockwise) and the fallbacks after them, each with this
 * node's opinion of whether it is up.
 */

import {preferenceListForKey} from '../ring/ring.js'
import type {ClusterView, PreflistEntry} from './cluster-view.js'

export interface KeyPlacement {
  readonly partition: number
  readonly entries: readonly PreflistEntry[]
  readonly homes: readonly string[]
}

export function placeKey(view: ClusterView, key: string, n: number): KeyPlacement {
  const {partition, nodes} = preferenceListForKey(view.ring, key)
  const entries = nodes.map((node, index) => ({node, home: index < n, up: view.isUp(node)}))
  return {partition, entries, homes: nodes.slice(0, n)}
}

/** The placement of a key for a request asking N replicas, or the error a too-large N gets. */
export function placeKeyForRequest(
  view: ClusterView,
  key: string,
  n: number,
): {ok: true; placement: KeyPlacement} | {ok: false; error: 'bad_parameter'; message: string; details: Record<string, unknown>} {
  const placement = placeKey(view, key, n)
  if (placement.homes.length >= n) return {ok: true, placement}
  return {
    ok: false,
    error: 'bad_parameter',
    message: `n=${n} but the cluster has ${placement.homes.length} members; use n <= ${placement.homes.length}`,
    details: {},
  }
}

/** One node a request goes to: a home replica, or a fallback standing in for the unreachable home `hintFor`. */
export interface RequestTarget {
  readonly node: string
  readonly hintFor?: string
}

/**
 * Sloppy quorum (paper §4.6): the first N reachable nodes of the preference list. Each home
 * this node believes up is a target itself; each one it believes down is replaced by the next
 * fallback in ring order that is up and not used yet, which then keeps the write as a hint for
 * that home. A down home with no fallback left is still tried (the belief may be wrong).
 *
 * The coordinator counts itself up. As a home it is a target like any other (its own copy). When
 * it is not a home (a get coordinated anywhere, or a put no home could take) it is a fallback in
 * its ring-order place like any other: standing in for a down home, it keeps the hint for that
 * home in its own hint store and its answer counts as that fallback's.
 */
export function sloppyTargets(placement: KeyPlacement, self: string): RequestTarget[] {
  const fallbacks = placement.entries.filter((entry) => !entry.home && (entry.up || entry.node === self)).map((entry) => entry.node)
  let nextFallback = 0
  const targets: RequestTarget[] = []
  for (const entry of placement.entries) {
    if (!entry.home) continue
    if (entry.up || entry.node === self) {
      targets.push({node: entry.node})
      continue
    }
    const fallback = fallbacks[nextFallback]
    if (fallback === undefined) {
      targets.push({node: entry.node})
      continue
    }
    nextFallback += 1
    targets.push({node: fallback, hintFor: entry.node})
  }
  return targets
}

/**
 * The order in which a get asks its targets when it asks fewer than all of them
 * (get-coordinator.ts): the coordinator's own copy first (a local read sends no message), then
 * the other homes believed up, then fallbacks (the coordinator's own hints first), and last a
 * home believed down that no fallback could replace. Homes come before fallbacks so that the
 * first R asked can meet PR whenever the homes believed up can; within each rank the preference
 * list's order is kept, so that which replica a key's reads go to is the same on every
 * coordinator and spreads over the nodes as the keys do.
 */
export function readOrder(targets: readonly RequestTarget[], placement: KeyPlacement, self: string): RequestTarget[] {
  const believedUp = (node: string): boolean => node === self || placement.entries.some((entry) => entry.node === node && entry.up)
  const rank = (target: RequestTarget): number => {
    if (target.hintFor === undefined) return target.node === self ? 0 : believedUp(target.node) ? 1 : 4
    return target.node === self ? 2 : 3
  }
  // Array.prototype.sort is stable: equal ranks keep the preference list's order.
  return [...targets].sort((a, b) => rank(a) - rank(b))
}

/**
 * The fallbacks believed up (this node counts itself up) that none of `targets` uses, in ring
 * order: each can take the place of one target that refuses a request at once.
 */
export function spareFallbacks(placement: KeyPlacement, self: string, targets: readonly RequestTarget[]): string[] {
  return placement.entries.filter((entry) => !entry.home && (entry.up || entry.node === self) && !targets.some((target) => target.node === entry.node)).map((entry) => entry.node)
}

/**
 * The placement as one request sees it once it learned that `homes` cannot take it now (a put
 * forwarded to them that certainly never got there): they count as down, so that sloppyTargets
 * replaces them with fallbacks and a PW they cannot meet is refused.
 */
export function withHomesDown(placement: KeyPlacement, homes: readonly string[]): KeyPlacement {
  if (homes.length === 0) return placement
  return {...placement, entries: placement.entries.map((entry) => (homes.includes(entry.node) ? {...entry, up: false} : entry))}
}

/** The homes a request can count on: those believed up (the coordinator counts itself up). */
export function reachableHomes(placement: KeyPlacement, self: string): string[] {
  return placement.entries.filter((entry) => entry.home && (entry.up || entry.node === self)).map((entry) => entry.node)
}
