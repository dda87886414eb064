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
