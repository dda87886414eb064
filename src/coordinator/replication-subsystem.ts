/**
 * Replication as one of a node's subsystems (paper §4.3 to §4.5, and §4.6 on the replica side):
 * the coordinators of get, put and delete, wired to the node's store, hint store, transport and
 * membership view, and the replica side that answers what other coordinators ask of this node
 * (replica-server.ts: ReplicaGet, ReplicaPut, CoordinatePut, and the merges of HintDelivery and
 * ObjectHandoff). It repeats no work of its own; its part of GET /stats is the read repairs it
 * sent and the puts forwarded to it.
 *
 * Besides the subsystem's shape it hands the node what the client API calls (put, get, delete,
 * a key's preference list), and to the other subsystems the two merges they share with a
 * replica: hints delivered to this node by its own handoff, and objects a transfer fetched.
 */

import type {Clock} from '../clock.js'
import type {Scheduler} from '../scheduler.js'
import type {HintStore} from '../handoff/hints.js'
import {currentHomes} from '../handoff/handoff-sender.js'
import {homesOf} from '../handoff/transfer-plan.js'
import {findMember, nextRingOf, ringMembers} from '../membership/member-table.js'
import type {Membership} from '../membership/membership.js'
import type {Store} from '../storage/store.js'
import type {StoredObject} from '../storage/stored-object.js'
import type {MessageHandler, Subsystem} from '../subsystem.js'
import {MessageType} from '../transport/message-type.js'
import type {Transport} from '../transport/transport.js'
import {entriesMaxDefault} from '../versioning/dvvset.js'
import type {ClusterView} from './cluster-view.js'
import {depsUnderActor} from './coordinator-deps.js'
import type {CoordinatorDeps} from './coordinator-deps.js'
import {coordinateDelete} from './delete-coordinator.js'
import type {DeleteOutcome, DeleteRequest} from './delete-coordinator.js'
import {coordinateGet} from './get-coordinator.js'
import type {GetOutcome, GetRequest} from './get-coordinator.js'
import {placeKey} from './preflist.js'
import {ReplicaReadLatency} from './read-latency.js'
import {coordinatePut} from './put-coordinator.js'
import type {PutOutcome, PutRequest} from './put-coordinator.js'
import {mergeIncoming, objectBytesMaxDefault, siblingsPerKeyMaxDefault} from './replica.js'
import type {ReplicaPolicy} from './replica.js'
import {replicaMessageTypes, serveReplicaRequest} from './replica-server.js'
import type {ReplicaServerDeps} from './replica-server.js'
import type {WriteActor} from './write-actor.js'

/** The shared parts replication is built from. */
export interface ReplicationParts {
  readonly self: string
  readonly store: Store
  /** Where this node keeps writes for unreachable homes, as their fallback. */
  readonly hints: HintStore
  readonly transport: Transport
  readonly clock: Clock
  /** Timers for the coordinators (a get's speculative read). */
  readonly scheduler: Scheduler
  readonly membership: Membership
  /** The actor each write takes when it begins (a release may renew it meanwhile). */
  readonly writeActor: WriteActor
  /** The failure detector's opinion of a member: false only when it sees the member down. */
  isUp(name: string): boolean
  /** The whole budget of one client request, forwarding included. */
  readonly requestTimeoutMs: number
  /** Paper §6.1: with the write buffer on, one replica of every put is asked for a durable write. */
  readonly durableReplicaPerPut: boolean
  /** Siblings a key may have before this node refuses to coordinate new concurrent writes; the default when absent. */
  readonly siblingsPerKeyMax?: number
}

/** A key's place in the ring, for GET /cluster/preflist/{key}. */
export interface KeyPreflist {
  readonly partition: number
  readonly preflist: ReadonlyArray<{readonly node: string; readonly home: boolean; readonly up: boolean; readonly address: string | undefined}>
}

export interface ReplicationSubsystem extends Subsystem {
  put(request: PutRequest): Promise<PutOutcome>
  get(request: GetRequest): Promise<GetOutcome>
  delete(request: DeleteRequest): Promise<DeleteOutcome>
  /** Where a key with the cluster's default N lives, each entry with its client API address. */
  preflist(key: string): KeyPreflist
  /** Hints this node's own handoff delivers to itself (a redirected hint whose home it is), merged as a receiver merges them. */
  receiveHints(body: unknown): Promise<unknown>
  /** An object a transfer fetched, merged into this node's copy as a replica merges (never over a newer or concurrent version). */
  /** Merges a copy from another node into this one's; `changed` says whether it brought anything. */
  mergeObject(partition: number, key: string, object: StoredObject): Promise<{ok: true; changed: boolean} | {ok: false; error: string; message: string}>
}

export function replicationSubsystem(parts: ReplicationParts): ReplicationSubsystem {
  const {self, store, membership, writeActor} = parts
  // The conflict policy is the cluster's, whatever this node was started with, and it is read at
  // each use: a node started alone runs its own default until dyn cluster join adopts the
  // settings of the cluster it joins.
  const policy: ReplicaPolicy = {
    get conflictPolicy() {
      return membership.table.settings.conflictPolicy
    },
    entriesMax: entriesMaxDefault,
    siblingsPerKeyMax: parts.siblingsPerKeyMax ?? siblingsPerKeyMaxDefault,
    objectBytesMax: objectBytesMaxDefault,
  }
  // Since the node started: replicas that read repair sent a newer object to, and puts another
  // node forwarded here to coordinate as a home.
  const counts = {readRepairs: 0, forwardedPuts: 0}
  // A fresh view per request: the ring and the detector's opinions as they are when it starts.
  const view = (): ClusterView => ({
    ring: membership.ring,
    rpcAddressOf: (name) => findMember(membership.table, name)?.rpcAddress,
    isUp: parts.isUp,
    pendingHomes: (partition, n) => {
      const next = nextRingOf(membership.table)
      if (next === undefined) return []
      const now = homesOf(membership.ring, partition, n)
      return homesOf(next, partition, n).filter((node) => !now.includes(node))
    },
  })
  const coordinator: CoordinatorDeps = {
    self,
    // The actor now; each put and delete takes it once, when it begins (WriteActor.run below).
    get actor() {
      return writeActor.current
    },
    dots: writeActor.dots,
    store,
    transport: parts.transport,
    clock: parts.clock,
    scheduler: parts.scheduler,
    readLatency: new ReplicaReadLatency(),
    policy,
    durableReplicaPerPut: parts.durableReplicaPerPut,
    requestTimeoutMs: parts.requestTimeoutMs,
    view,
    hints: parts.hints,
    onReadRepair: (nodes) => {
      counts.readRepairs += nodes.length
    },
  }
  const replicaServer: ReplicaServerDeps = {
    coordinator,
    clusterSize: () => ringMembers(membership.table).length,
    partitionCount: () => membership.table.settings.partitionCount,
    onForwardedPut: () => {
      counts.forwardedPuts += 1
    },
    isOtherMember: (name) => name !== self && findMember(membership.table, name) !== undefined,
    hasLeft: () => findMember(membership.table, self)?.status === 'left',
    isHomeOf: (partition, n) => {
      const next = nextRingOf(membership.table)
      return currentHomes(next === undefined ? [membership.ring] : [membership.ring, next], partition, n).includes(self)
    },
    writeActor,
  }
  const handlers = new Map<number, MessageHandler>([...replicaMessageTypes].map((type) => [type, (body: unknown) => serveReplicaRequest(replicaServer, type, body)]))
  return {
    name: 'replication',
    handlers,
    periodicTasks: [],
    stats: () => ({readRepairs: counts.readRepairs, forwardedPuts: counts.forwardedPuts}),
    // Nothing of its own to end: a request under way is not waited for, it ends by its deadline
    // (or fails once the store closes, after every subsystem has stopped).
    stop: async () => undefined,
    put: (request) => writeActor.run((actor) => coordinatePut(depsUnderActor(coordinator, actor), request)),
    get: (request) => coordinateGet(coordinator, request),
    delete: (request) => writeActor.run((actor) => coordinateDelete(depsUnderActor(coordinator, actor), request)),
    preflist: (key) => {
      const placement = placeKey(view(), key, membership.table.settings.defaultN)
      return {
        partition: placement.partition,
        preflist: placement.entries.map((entry) => ({...entry, address: findMember(membership.table, entry.node)?.apiAddress})),
      }
    },
    receiveHints: (body) => serveReplicaRequest(replicaServer, MessageType.HintDelivery, body),
    mergeObject: async (partition, key, object) => {
      const merged = await mergeIncoming(store, policy, partition, key, object, false)
      return merged.ok ? {ok: true, changed: merged.changed} : {ok: false, error: merged.error, message: merged.message}
    },
  }
}
