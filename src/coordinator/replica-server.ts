/**
 * The replica side of the internode protocol: what a node answers when a coordinator asks it
 * for its copy of a key (ReplicaGet), hands it a version to merge (ReplicaPut), or forwards it a
 * put to coordinate as a home replica (CoordinatePut), asks it as a fallback (the same two
 * requests naming the home they stand in for: the hints kept for it are read and written, never
 * the node's own objects), hands back hints kept for it (HintDelivery), or hands off objects of a
 * partition it released after a ring change (ObjectHandoff, the same merge). It sits beside the coordinator shells
 * that send these requests (replica-client.ts, put-coordinator.ts), so both halves of each
 * message live in one place; the node's RPC router only routes to it.
 *
 * Every body arrives from the network, so each is checked first (messages.ts): a malformed one
 * is answered with bad_request and changes nothing.
 */

import {DynError} from '../errors.js'
import {partitionOfKey} from '../ring/ring.js'
import {MessageType} from '../transport/message-type.js'
import {depsUnderActor} from './coordinator-deps.js'
import type {CoordinatorDeps} from './coordinator-deps.js'
import {heldGoesUnsaid, heldVersionsOf, isCoordinatePutBody, isHintDeliveryBody, isReplicaGetBody, isReplicaPutBody, replicaPutObject} from './messages.js'
import type {HintDeliveryAnswer, HintDeliveryBody, ReplicaGetAnswer, ReplicaPutAnswer} from './messages.js'
import type {ObjectSpace} from '../storage/object-space.js'
import {coordinatePut} from './put-coordinator.js'
import type {PutOutcome} from './put-coordinator.js'
import {copyToPendingHomes} from './pending-homes.js'
import {mergeIncoming} from './replica.js'
import {encodeStoredObject} from '../storage/object-codec.js'
import type {WriteActor} from './write-actor.js'

export interface ReplicaServerDeps {
  readonly coordinator: CoordinatorDeps
  /** Members that own partitions: a forwarded put may not ask for a larger N. */
  clusterSize(): number
  /** The cluster's partition count: a replica request must name its key's own partition. */
  partitionCount(): number
  /** Told of each forwarded put taken on. */
  onForwardedPut?(): void
  /** Whether `name` is a member other than this node: only those can be a hint's target. */
  isOtherMember(name: string): boolean
  /** Whether this node has left the cluster: it takes no hints then, since it hands off no more. */
  hasLeft?(): boolean
  /**
   * Whether this node is one of the first `n` homes of `partition` under its committed ring, or
   * under the ring a transition under way moves to. A hint handed back to a node that is not
   * (its target lost the partition while the hint's holder was away) is refused, not stored.
   */
  isHomeOf(partition: number, n: number): boolean
  /** The actor a forwarded put writes under, taken when it begins (write-actor.ts). */
  readonly writeActor: WriteActor
}

/** The message types this module answers. */
export const replicaMessageTypes: ReadonlySet<number> = new Set([
  MessageType.ReplicaGet,
  MessageType.ReplicaPut,
  MessageType.CoordinatePut,
  MessageType.HintDelivery,
  MessageType.ObjectHandoff,
])

/** Answers one replica-side request; `type` must be one of `replicaMessageTypes`. */
export async function serveReplicaRequest(deps: ReplicaServerDeps, type: number, body: unknown): Promise<ReplicaGetAnswer | ReplicaPutAnswer | PutOutcome | HintDeliveryAnswer> {
  switch (type) {
    case MessageType.ReplicaGet: {
      if (!isReplicaGetBody(body)) throw new DynError('bad_request', 'malformed ReplicaGet')
      checkPartition(deps, body.partition, body.key)
      const object = await spaceOf(deps, body.hintFor).getObject(body.partition, body.key)
      return {objectBytes: object === undefined ? null : encodeStoredObject(object)}
    }
    case MessageType.ReplicaPut: {
      if (!isReplicaPutBody(body)) throw new DynError('bad_request', 'malformed ReplicaPut')
      const incoming = replicaPutObject(body)
      if (incoming === undefined) throw new DynError('bad_request', 'malformed ReplicaPut: its object is not a valid stored object')
      checkPartition(deps, body.partition, body.key)
      const merged = await mergeIncoming(spaceOf(deps, body.hintFor), deps.coordinator.policy, body.partition, body.key, incoming.object, body.durable, incoming.bytes)
      if (!merged.ok) throw new DynError(merged.error, merged.message)
      const held = heldVersionsOf(merged.object)
      return heldGoesUnsaid(held, incoming.object) ? {durable: body.durable} : {durable: body.durable, versions: held.versions, liveVersions: held.live}
    }
    case MessageType.HintDelivery:
    case MessageType.ObjectHandoff: {
      if (!isHintDeliveryBody(body)) throw new DynError('bad_request', `malformed ${MessageType[type]}`)
      // What a node that left merges would go nowhere: the sender keeps the objects for the keys' current homes.
      if (deps.hasLeft?.() === true) throw new DynError('unreachable', 'this node has left the cluster and takes no objects; deliver them to the keys\' current homes')
      return receiveHandoff(deps, body, type === MessageType.HintDelivery)
    }
    case MessageType.CoordinatePut: {
      if (!isCoordinatePutBody(body)) throw new DynError('bad_request', 'malformed CoordinatePut')
      if (body.n > deps.clusterSize()) throw new DynError('bad_parameter', `n=${body.n} is larger than the cluster`)
      deps.onForwardedPut?.()
      const {forwardedBy, budgetMs, ...request} = body
      return deps.writeActor.run((actor) => coordinatePut(depsUnderActor(deps.coordinator, actor), request, {by: forwardedBy, budgetMs}))
    }
    default:
      throw new DynError('bad_request', `message type ${type} is not a replica request`)
  }
}

/** Where a replica request reads and writes: this node's objects, or the hints it keeps for a home. */
function spaceOf(deps: ReplicaServerDeps, hintFor: string | undefined): ObjectSpace {
  if (hintFor === undefined) return deps.coordinator.store
  if (!deps.isOtherMember(hintFor)) throw new DynError('bad_request', `${hintFor} is not another member of this cluster: no hint can be kept for it`)
  return deps.coordinator.hints.spaceFor(hintFor)
}

/**
 * Hints handed back by a fallback, or objects handed off by an old home after a ring change: each
 * merged into this node's own copy (sync, so nothing newer or concurrent here is overwritten) and
 * synced before the answer, since the sender drops (or deletes) each entry this answer
 * acknowledges. An entry refused for a limit is answered with its code.
 *
 * A hint for a key this node is no longer a home of is answered `not_home` and not stored: its
 * holder was away while the partition moved (a member given up during a ring change, whose
 * transfers went on without its hints, that came back), or routed by an older ring. Stored here,
 * after this node's release had handed the partition off, it would be a copy no reader asks and
 * no release carries on; refused, it stays with its holder, which hands it to the key's current
 * homes once its own ring agrees (handoff-sender.ts). Handed-off objects are not checked: their
 * sender is an old home whose ring already names this one.
 */
async function receiveHandoff(deps: ReplicaServerDeps, body: HintDeliveryBody, hints: boolean): Promise<HintDeliveryAnswer> {
  const {store, policy} = deps.coordinator
  const results = await Promise.all(
    body.entries.map(async (entry) => {
      if (entry.partition !== partitionOfKey(entry.key, deps.partitionCount())) return 'bad_request'
      if (hints && !deps.isHomeOf(entry.partition, entry.object.n)) return 'not_home'
      const merged = await mergeIncoming(store, policy, entry.partition, entry.key, entry.object, true)
      if (!merged.ok) return merged.error
      // A hint handed back during a ring change is a write this home takes: like a put's, it goes
      // on to the key's pending homes, or a new home whose scan passed here before it arrived
      // would never get it (simulator seed 249: a write acknowledged only by fallbacks).
      copyToPendingHomes(deps.coordinator, entry.partition, entry.key, merged.object.n, merged.object, deps.coordinator.requestTimeoutMs)
      return 'ok'
    }),
  )
  return {results}
}

/** A replica request must name the key's own partition: the store's layout depends on it. */
function checkPartition(deps: ReplicaServerDeps, partition: number, key: string): void {
  if (partition !== partitionOfKey(key, deps.partitionCount())) {
    throw new DynError('bad_request', `partition ${partition} is not the partition of that key`)
  }
}
