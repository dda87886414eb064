/**
 * Everything a coordinator shell is handed by its node: identity, local store, transport, clock
 * and the current cluster view. The shells hold no state of their own between requests.
 */

import type {Clock} from '../clock.js'
import type {Scheduler} from '../scheduler.js'
import type {HintStore} from '../handoff/hints.js'
import type {Store} from '../storage/store.js'
import type {Transport} from '../transport/transport.js'
import type {ClusterView} from './cluster-view.js'
import type {ReplicaReadLatency} from './read-latency.js'
import type {ReplicaPolicy} from './replica.js'
import type {DotLedger} from './write-actor.js'

export interface CoordinatorDeps {
  /** This node's name. */
  readonly self: string
  /**
   * This node's actor in version vectors: its name and its current epoch. It changes when the
   * node takes a new epoch (write-actor.ts), so a write reads it once: the deps a put or delete
   * runs with carry the actor taken when it began (WriteActor.run), for its whole course.
   */
  readonly actor: string
  /** The highest dot each of this node's actors has made, on any key (write-actor.ts). */
  readonly dots: DotLedger
  readonly store: Store
  /** The hints this node keeps as a fallback for unreachable homes (paper §4.6). */
  readonly hints: HintStore
  readonly transport: Transport
  readonly clock: Clock
  /** Timers: a get asks one more replica when those it asked are slow (get-coordinator.ts). */
  readonly scheduler: Scheduler
  /** The node's recent replica read latencies, which say when a get asks one more replica. */
  readonly readLatency: ReplicaReadLatency
  readonly policy: ReplicaPolicy
  /**
   * Paper §6.1: with the write buffer on, one replica of every put is asked for a durable write
   * (not waited for unless DW asks), so a crash loses no write that only sat in buffers.
   */
  readonly durableReplicaPerPut: boolean
  /** The whole budget of one client request, forwarding included. */
  readonly requestTimeoutMs: number
  view(): ClusterView
  /** Told which replicas read repair sent a newer object to. */
  onReadRepair?(nodes: readonly string[]): void
}

const depsByActor = new WeakMap<CoordinatorDeps, CoordinatorDeps>()

/**
 * The deps a put or delete runs with: `deps` with the actor taken when the write began. One copy
 * is kept per deps and actor rather than made per write: copying every field for each request
 * was about 2% of a coordinating node's CPU under puts. The actor changes rarely (a new epoch),
 * and a write still running under a retired actor only makes its own copy again.
 */
export function depsUnderActor(deps: CoordinatorDeps, actor: string): CoordinatorDeps {
  const kept = depsByActor.get(deps)
  if (kept !== undefined && kept.actor === actor) return kept
  const made: CoordinatorDeps = {...deps, actor}
  depsByActor.set(deps, made)
  return made
}
