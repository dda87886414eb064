/**
 * What a coordinator needs to know of the cluster at the moment a request starts: the ring and
 * how to reach each member. The node builds a fresh view whenever its member table changes.
 */

import type {Ring} from '../ring/ring.js'

export interface ClusterView {
  readonly ring: Ring
  /** The internode RPC address of a member, or undefined for a name the table does not know. */
  rpcAddressOf(name: string): string | undefined
  /** This node's current opinion of whether a member answers. */
  isUp(name: string): boolean
  /** While a ring transition runs: the partition's future homes that are not homes yet (pending-homes.ts). */
  pendingHomes?(partition: number, n: number): readonly string[]
}

export interface PreflistEntry {
  readonly node: string
  readonly home: boolean
  readonly up: boolean
}

/** One replica's part in a request, for `--explain` and the API's trace. */
export interface ReplyTrace {
  readonly node: string
  readonly outcome: 'ok' | 'not_found' | 'failed'
  readonly latencyMs: number
  readonly durable?: boolean
  readonly error?: string
}

export interface RequestTrace {
  readonly coordinator: string
  readonly partition: number
  readonly preflist: readonly PreflistEntry[]
  readonly replies: readonly ReplyTrace[]
  readonly repaired: readonly string[]
  /** Set when the node that took the request was not a home replica and forwarded it. */
  readonly forwardedBy?: string
}
