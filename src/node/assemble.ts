/**
 * Builds one dyn node from injected parts: a storage backend, a transport factory, a Clock, a
 * Scheduler, a Random, its settings and a log. It opens the store, takes the node's identity,
 * joins (or creates, or restores) the cluster, and returns what the node serves: the KV service
 * behind the client API, the internode RPC router, its periodic tasks, and a stop.
 *
 * Nothing here touches real IO or time: the process shell (node.ts) hands in classic-level, TCP
 * and the system's clock and timers, and serves the KV service over HTTP; the simulator hands in
 * memory-level, the simulated network and simulated time, and calls the service directly. Both
 * run this same code.
 */

import type {ApiRoute} from '../api/handler.js'
import type {KvService} from '../api/service.js'
import {effectiveQuorum} from '../api/params.js'
import type {Clock, Random} from '../clock.js'
import type {ClusterView} from '../coordinator/cluster-view.js'
import type {CoordinatorDeps} from '../coordinator/coordinator-deps.js'
import {coordinateDelete} from '../coordinator/delete-coordinator.js'
import {coordinateGet} from '../coordinator/get-coordinator.js'
import {placeKey} from '../coordinator/preflist.js'
import {coordinatePut} from '../coordinator/put-coordinator.js'
import {objectBytesMaxDefault, siblingsPerKeyMaxDefault} from '../coordinator/replica.js'
import type {ReplicaPolicy} from '../coordinator/replica.js'
import {isStoredObject} from '../coordinator/messages.js'
import {mergeIncoming} from '../coordinator/replica.js'
import {replicaMessageTypes, serveReplicaRequest} from '../coordinator/replica-server.js'
import {WriteActor} from '../coordinator/write-actor.js'
import {homesOf, planTransfers} from '../handoff/transfer-plan.js'
import {TransferManager, transferIntervalMs} from '../handoff/transfer.js'
import {ReleaseHandoff} from '../handoff/transfer-release.js'
import {Claimant} from '../membership/claimant.js'
import type {ClusterChangeRequest} from '../membership/claimant.js'
import type {ReplicaServerDeps} from '../coordinator/replica-server.js'
import {DynError} from '../errors.js'
import type {ClusterSettings, Member, MemberTable} from '../membership/member-table.js'
import {findMember, isValidMemberTable, newMemberTable, nextRingOf, presentMembers, replicaCountsInUse, ringMembers, settingsMismatch, statusOf} from '../membership/member-table.js'
import {joinRequestTimeoutMs, Membership} from '../membership/membership.js'
import {FailureDetector, failureDetectorDefaults} from '../membership/failure-detector.js'
import type {FailureDetectorConfig, Reachability} from '../membership/failure-detector.js'
import {Heartbeats, observedTransport} from '../membership/heartbeats.js'
import {HandoffSender, handoffIntervalMsDefault, standingIn} from '../handoff/handoff-sender.js'
import type {BackoffView} from '../handoff/handoff-sender.js'
import {HintStore, hintLimitsDefault} from '../handoff/hints.js'
import type {HintLimits} from '../handoff/hints.js'
import {hintDeliveryEntriesMax} from '../coordinator/messages.js'
import {ownershipCounts} from '../ring/ring.js'
import type {Scheduler} from '../scheduler.js'
import {sleep} from '../scheduler.js'
import type {StoreDatabase} from '../storage/backend.js'
import {Store} from '../storage/store.js'
import {MessageType} from '../transport/message-type.js'
import type {RequestHandler, Transport} from '../transport/transport.js'
import {entriesMaxDefault} from '../versioning/dvvset.js'
import {actorOf, loadIdentity, renewEpoch} from './identity.js'
import {NodeStats} from './stats.js'
import type {Operation} from './stats.js'

/** What a node is configured with, in either world. */
export interface NodeSettings {
  readonly name: string
  /** The client API address this node announces to the cluster (host:port). */
  readonly apiAddress: string
  /** Internode addresses of members to join through; empty creates a new cluster. */
  readonly seeds: readonly string[]
  /** The settings of a cluster this node creates (its id is drawn then). */
  readonly settings: Omit<ClusterSettings, 'clusterId'>
  /** The settings the user gave explicitly: joining a cluster whose settings differ is refused. */
  readonly explicitSettings: Partial<Omit<ClusterSettings, 'clusterId'>>
  readonly requestTimeoutMs: number
  readonly gossipIntervalMs: number
  /** 0: every write goes to the database at once; T > 0: non-durable writes are buffered and flushed every T ms (paper §6.1). */
  readonly writeBufferMs: number
  /** The failure detector's thresholds (failure-detector.ts); the defaults when absent. */
  readonly failureDetector?: FailureDetectorConfig
  /** How often hints are offered to their targets (handoff-sender.ts); the default when absent. */
  readonly handoffIntervalMs?: number
  /** Bounds on the hints this node keeps (hints.ts); the defaults when absent. */
  readonly hintLimits?: HintLimits
  /**
   * A node that joins through seeds commits its own join once no other change is staged and no
   * transition runs (false: it only stages it, for dyn cluster plan / commit). Default true.
   */
  readonly commitJoin?: boolean
}

/** The parts a node is built from. */
export interface NodeParts {
  readonly settings: NodeSettings
  /** The storage backend (backend.ts); the node's store owns it from here and closes it on stop. */
  readonly database: StoreDatabase
  /** Starts this node's transport with the RPC router as its request handler. */
  readonly startTransport: (handler: RequestHandler) => Promise<Transport>
  readonly clock: Clock
  readonly scheduler: Scheduler
  readonly random: Random
  readonly log: (line: string) => void
  /** Sample the event loop's delay for /stats (real processes only: it runs a timer of its own). */
  readonly monitorEventLoop?: boolean
  /** The bytes the store takes on disk, for /stats (a real process sums its data folder); left out when absent. */
  readonly storeBytes?: () => Promise<number>
}

/** Work a node repeats on its scheduler; `run` does one round at once (the simulator may call it too). */
export interface PeriodicTask {
  readonly name: string
  readonly intervalMs: number
  run(): Promise<void>
}

export interface AssembledNode {
  readonly name: string
  /** This node's actor in version vectors now: its name and its current epoch (a release renews it). */
  readonly actor: string
  /** Everything the client API serves. */
  readonly service: KvService
  /** The internode RPC router: what the transport hands each inbound request to. */
  readonly router: RequestHandler
  readonly transport: Transport
  /** The member table and ring as this node sees them (read them; gossip changes them). */
  readonly membership: Membership
  /** The local store, for a simulator that checks what each replica holds. */
  readonly store: Store
  /** The hints this node keeps as a fallback, for a simulator that checks what each one holds. */
  readonly hints: HintStore
  /** Scheduled on the injected scheduler until `stop`. */
  readonly periodicTasks: readonly PeriodicTask[]
  /** Counts a client API request by route for /stats (the HTTP server calls it; a simulation need not). */
  countHttpRequest(route: ApiRoute): void
  /** Resolves once this node has left the ring (a leave or remove whose data has moved): its shell should stop it. */
  readonly left: Promise<void>
  /** This node's ownership transfers: the fetches before an install and the hand-off after it. */
  readonly transfers: TransferManager
  readonly release: ReleaseHandoff
  /** Stops the periodic tasks, waits for the member table to be persisted, closes the transport and the store. */
  stop(): Promise<void>
}

/** Join attempts through the seeds, half a second apart, before a node gives up starting. */
export const joinAttemptsMax = 20

const membersMetaName = 'members'

export async function assembleNode(parts: NodeParts): Promise<AssembledNode> {
  const {clock} = parts
  const startedAtMs = clock.nowMs()
  const store = await Store.open(parts.database, {writeBuffer: parts.settings.writeBufferMs > 0, scheduler: parts.scheduler})
  const cleanup: Array<() => Promise<void>> = [() => store.close()]
  let stopping: Promise<void> | undefined
  const stopAll = (): Promise<void> => {
    stopping ??= (async () => {
      for (const step of [...cleanup].reverse()) await step().catch(() => undefined)
    })()
    return stopping
  }
  try {
    return await assembleOnStore(parts, store, startedAtMs, cleanup, stopAll)
  } catch (error) {
    await stopAll()
    throw error
  }
}

async function assembleOnStore(
  parts: NodeParts,
  store: Store,
  startedAtMs: number,
  cleanup: Array<() => Promise<void>>,
  stopAll: () => Promise<void>,
): Promise<AssembledNode> {
  const {settings: options, clock, random, scheduler, log} = parts
  const identityOutcome = await loadIdentity(store, options.name, random, clock)
  if (!identityOutcome.ok) throw new DynError('bad_parameter', identityOutcome.message)
  let identity = identityOutcome.identity
  const writeActor = new WriteActor(actorOf(identity))
  log(`identity ${writeActor.current} (incarnation ${identity.incarnation}${identityOutcome.isNewEpoch ? ', new epoch: empty store' : ''})`)
  // Before a release deletes handed-off copies (transfer-release.ts): persist a new epoch first,
  // then let every later write take the new actor, and wait for the writes under the old one.
  const renewActor = async (): Promise<void> => {
    const before = writeActor.current
    identity = await renewEpoch(store, identity, random)
    await writeActor.replace(actorOf(identity))
    log(`new epoch: writing as ${writeActor.current} (was ${before}) before deleting handed-off copies`)
  }

  let membership: Membership | undefined
  let replicaDeps: ReplicaServerDeps | undefined
  let heartbeats: Heartbeats | undefined
  let claimant: Claimant | undefined
  let transfers: TransferManager | undefined
  const stats = new NodeStats({monitorEventLoop: parts.monitorEventLoop === true, monotonicMs: () => clock.monotonicMs(), scheduler})
  cleanup.push(async () => stats.stop())
  const hints = await HintStore.open(store, options.hintLimits ?? hintLimitsDefault)
  // Runs before the store closes (cleanup runs in reverse): no hint write is cut off.
  cleanup.push(() => hints.idle())
  if (hints.pendingTotal > 0) log(`${hints.pendingTotal} hint(s) kept from before the restart`)

  const router: RequestHandler = async (type, body) => {
    if (membership === undefined || replicaDeps === undefined || heartbeats === undefined || claimant === undefined || transfers === undefined) {
      throw new DynError('overloaded', `${options.name} is still starting`)
    }
    return routeRpc(type, body, {membership, replicaDeps, heartbeats, claimant, transfers})
  }
  const rawTransport = await parts.startTransport(router)
  cleanup.push(() => rawTransport.close())
  // Every request this node makes goes through the detector's observer: answers and refused
  // connections are evidence about the peer, beside the heartbeats.
  const detector = new FailureDetector(options.failureDetector ?? failureDetectorDefaults)
  const transport = observedTransport(rawTransport, detector, clock)

  const announced: Member = {
    name: options.name,
    rpcAddress: transport.address,
    apiAddress: options.apiAddress,
    // A node that joins through a seed owns nothing until a commit gives it partitions and its
    // transfers are done; the claimant makes it valid then.
    status: options.seeds.length > 0 ? 'joining' : 'valid',
    incarnation: identity.incarnation,
  }
  const table = await initialTable(options, store, transport, announced, random, scheduler, log)
  // The cluster may remember a row of ours from an earlier life (this name on a lost disk):
  // our row must outrank it, or peers would keep routing to the old address.
  const remembered = findMember(table, options.name)
  const self: Member =
    remembered === undefined
      ? announced
      : {...remembered, rpcAddress: announced.rpcAddress, apiAddress: announced.apiAddress, incarnation: Math.max(remembered.incarnation + 1, announced.incarnation)}
  // The conflict policy is the cluster's, whatever this node was started with.
  const policy: ReplicaPolicy = {
    conflictPolicy: table.settings.conflictPolicy,
    entriesMax: entriesMaxDefault,
    siblingsPerKeyMax: siblingsPerKeyMaxDefault,
    objectBytesMax: objectBytesMaxDefault,
  }
  let persisting: Promise<void> = Promise.resolve()
  cleanup.push(() => persisting)
  let announceLeft: () => void = () => undefined
  const left = new Promise<void>((resolve) => {
    announceLeft = resolve
  })
  membership = new Membership(table, options.name, transport, random, {
    onChange: (changed) => {
      // Persist in order, so the table on disk is never older than one persisted before it.
      persisting = persisting.then(() => store.putMeta(membersMetaName, changed)).catch((error: Error) => log(`could not persist the member table: ${error.message}`))
    },
    log,
  })
  // The n values this node stores travel in its row, so that every node plans transfers for
  // them; a write with an n the store has never held adds one, and the row follows.
  const storedCounts = store.storedReplicaCounts
  membership.updateSelf(storedCounts.length === 0 ? self : {...self, replicaCounts: storedCounts})
  const current = membership
  store.watchReplicaCounts((counts) => current.updateOwnRow({replicaCounts: counts}))
  heartbeats = new Heartbeats(options.name, transport, detector, clock, () =>
    presentMembers(current.table).filter((member) => member.name !== options.name).map((member) => member.rpcAddress),
  )
  const reachabilityOf = (name: string): Reachability => {
    if (name === options.name) return 'up'
    const member = findMember(current.table, name)
    return member === undefined ? 'down' : detector.reachability(member.rpcAddress, clock.monotonicMs())
  }

  const view = (): ClusterView => ({
    ring: current.ring,
    rpcAddressOf: (name) => findMember(current.table, name)?.rpcAddress,
    isUp: (name) => reachabilityOf(name) !== 'down',
    pendingHomes: (partition, n) => {
      const next = nextRingOf(current.table)
      if (next === undefined) return []
      const now = homesOf(current.ring, partition, n)
      return homesOf(next, partition, n).filter((node) => !now.includes(node))
    },
  })
  const coordinator: CoordinatorDeps = {
    self: options.name,
    // The actor now; each put and delete takes it once, when it begins (writeDeps below).
    get actor() {
      return writeActor.current
    },
    store,
    transport,
    clock,
    policy,
    durableReplicaPerPut: options.writeBufferMs > 0,
    requestTimeoutMs: options.requestTimeoutMs,
    view,
    hints,
    onReadRepair: (nodes) => {
      stats.readRepairs += nodes.length
    },
    onHintWritten: () => {
      stats.hintsWritten += 1
    },
  }
  const replicaServer: ReplicaServerDeps = {
    coordinator,
    clusterSize: () => ringMembers(current.table).length,
    partitionCount: () => current.table.settings.partitionCount,
    onForwardedPut: () => {
      stats.forwardedPuts += 1
    },
    isOtherMember: (name) => name !== options.name && findMember(current.table, name) !== undefined,
    hasLeft: () => findMember(current.table, options.name)?.status === 'left',
    writeActor,
  }
  replicaDeps = replicaServer
  const handoffIntervalMs = options.handoffIntervalMs ?? handoffIntervalMsDefault
  const handoff = new HandoffSender({
    self: options.name,
    hints,
    transport,
    clock,
    backoffBaseMs: handoffIntervalMs,
    standingOf: (name) => standingIn(current.table, name),
    homeRings: () => {
      const next = nextRingOf(current.table)
      return next === undefined ? [current.ring] : [current.ring, next]
    },
    rpcAddressOf: (name) => findMember(current.table, name)?.rpcAddress,
    isUp: (name) => reachabilityOf(name) !== 'down',
    deliverToSelf: (body) => serveReplicaRequest(replicaServer, MessageType.HintDelivery, body),
    requestTimeoutMs: Math.max(options.requestTimeoutMs, 5000),
    batchEntriesMax: hintDeliveryEntriesMax,
    log,
    onDelivered: (_target, count) => {
      stats.hintsDelivered += count
    },
    onRedirected: (_target, count) => {
      stats.hintsRedirected += count
    },
    onDropped: (_target, count) => {
      stats.hintsDropped += count
    },
  })

  const transferManager = new TransferManager({
    self: options.name,
    store,
    transport,
    clock,
    membership: current,
    requestTimeoutMs: options.requestTimeoutMs,
    mergeObject: async (partition, key, object) => {
      const merged = await mergeIncoming(store, policy, partition, key, object, false)
      return merged.ok ? {ok: true} : {ok: false, message: merged.message}
    },
    isStoredObject,
    log,
  })
  transfers = transferManager
  cleanup.push(() => transferManager.stop())
  const release = new ReleaseHandoff({
    self: options.name,
    store,
    transport,
    clock,
    ring: () => current.ring,
    rpcAddressOf: (name) => findMember(current.table, name)?.rpcAddress,
    settleMs: options.requestTimeoutMs + 2 * options.gossipIntervalMs,
    currentActor: () => writeActor.current,
    renewActor,
    onHandedOff: (count) => {
      stats.releaseHandedOff += count
    },
    onDeleted: (count) => {
      stats.releaseDeleted += count
    },
    onRefused: (count) => {
      stats.releaseRefused += count
    },
    log,
  })
  cleanup.push(() => release.stop())
  const claimantShell = new Claimant(current, options.name, transport, (name) => view().isUp(name), (before, after, gone, table) => planTransfers(before, after, replicaCountsInUse(table), gone), log)
  claimant = claimantShell

  const timed = async <T extends {ok: boolean; error?: string}>(operation: Operation, run: () => Promise<T>): Promise<T> => {
    const beganMs = clock.monotonicMs()
    const outcome = await run()
    stats.record(operation, outcome.ok ? 'ok' : (outcome.error ?? 'failed'), clock.monotonicMs() - beganMs)
    return outcome
  }
  const service: KvService = {
    clusterSize: () => ringMembers(current.table).length,
    settings: () => current.table.settings,
    put: (request) => timed('put', () => writeActor.run((actor) => coordinatePut({...coordinator, actor}, request))),
    get: (request) => timed('get', () => coordinateGet(coordinator, request)),
    delete: (request) => timed('delete', () => writeActor.run((actor) => coordinateDelete({...coordinator, actor}, request))),
    cluster: () => describeCluster(current, options.name, reachabilityOf, hints, handoff, claimantShell, transferManager, release),
    clusterChange: (request: ClusterChangeRequest) => claimantShell.request(request),
    joinCluster: (seed: string) => joinAnotherCluster(current, store, transport, seed, options.name),
    preflist: (key) => {
      const placement = placeKey(view(), key, current.table.settings.defaultN)
      return {
        partition: placement.partition,
        preflist: placement.entries.map((entry) => ({...entry, address: findMember(current.table, entry.node)?.apiAddress})),
      }
    },
    stats: async () => ({
      node: options.name,
      uptimeMs: clock.nowMs() - startedAtMs,
      writeBufferMs: options.writeBufferMs,
      bufferedObjects: store.bufferedCount,
      keys: store.objectCount,
      ...(parts.storeBytes === undefined ? {} : {storeBytes: await parts.storeBytes()}),
      ...stats.snapshot({refused: hints.refused, pending: hints.pendingTotal}, release.pendingCount),
    }),
    health: () => ({
      ok: true,
      node: options.name,
      actor: writeActor.current,
      members: current.table.members.length,
      ringHash: current.ring.hash,
      // The members this node's failure detector sees as down (left members aside).
      down: presentMembers(current.table).filter((member) => reachabilityOf(member.name) === 'down').map((member) => member.name),
      ringMembers: current.ring.members.length,
      status: findMember(current.table, options.name)?.status,
      transition: current.table.ring?.next?.id ?? null,
    }),
  }

  const beats = heartbeats
  const periodicTasks: PeriodicTask[] = [
    {name: 'gossip', intervalMs: options.gossipIntervalMs, run: () => current.gossipRound()},
    {name: 'heartbeat', intervalMs: detector.config.heartbeatIntervalMs, run: () => beats.round()},
    {name: 'hinted handoff', intervalMs: handoffIntervalMs, run: () => handoff.round()},
    {name: 'claimant', intervalMs: options.gossipIntervalMs, run: () => claimantShell.tick()},
    {name: 'transfers', intervalMs: transferIntervalMs, run: () => transferManager.tick()},
    {
      name: 'release handoff',
      intervalMs: transferIntervalMs,
      run: async () => {
        await release.tick()
        // A node that has left exits only once it has handed off every partition it held.
        if (findMember(current.table, options.name)?.status === 'left' && release.pendingCount === 0) announceLeft()
      },
    },
  ]
  // Only a join made through --seeds commits itself: one made with dyn cluster join is staged,
  // for the operator's dyn cluster plan and commit, as that command says.
  if (options.commitJoin !== false && options.seeds.length > 0) {
    periodicTasks.push({
      name: 'join commit',
      intervalMs: options.gossipIntervalMs,
      run: async () => {
        if (findMember(current.table, options.name)?.status !== 'joining') return
        // Refused while another transition runs or other changes are staged: asked again next round.
        await claimantShell.request({op: 'commit', joinsOnly: true}).then(
          () => log('committed this node\'s join'),
          () => undefined,
        )
      },
    })
  }
  if (options.writeBufferMs > 0) periodicTasks.push({name: 'write buffer flush', intervalMs: options.writeBufferMs, run: () => store.flush()})
  for (const task of periodicTasks) {
    const timer = scheduler.every(task.intervalMs, () => {
      task.run().catch((error: Error) => log(`${task.name} failed: ${error.message}`))
    })
    cleanup.push(async () => scheduler.cancel(timer))
  }
  // One round right away, so a new member is known cluster-wide without waiting a full interval.
  void current.gossipRound().catch(() => undefined)

  return {
    name: options.name,
    get actor() {
      return writeActor.current
    },
    service,
    router,
    transport: rawTransport,
    membership: current,
    store,
    hints,
    periodicTasks,
    countHttpRequest: (route) => stats.countHttpRequest(route),
    left,
    transfers: transferManager,
    release,
    stop: stopAll,
  }
}

/**
 * The member table a node starts with: its stored one (a restart: the node comes back with its
 * view of the ring at once, and gossip catches it up), a new cluster's, or the one a seed hands
 * back when it joins.
 */
async function initialTable(
  options: NodeSettings,
  store: Store,
  transport: Transport,
  self: Member,
  random: Random,
  scheduler: Scheduler,
  log: (line: string) => void,
): Promise<MemberTable> {
  const stored = await store.getMeta<MemberTable>(membersMetaName)
  if (stored !== undefined) {
    const mismatch = settingsMismatch({...stored.settings, ...options.explicitSettings}, stored.settings)
    if (mismatch !== undefined) {
      throw new DynError('cluster_config_mismatch', `this node's cluster was created with other settings (${mismatch}); start without those flags`)
    }
    log(`restarting with the stored member table (${stored.members.length} member(s))`)
    return stored
  }
  if (options.seeds.length === 0) {
    let clusterId = ''
    for (let i = 0; i < 16; i += 1) clusterId += random.int(16).toString(16)
    return newMemberTable({...options.settings, clusterId}, self)
  }
  const joined = await Membership.join(transport, options.seeds, self, options.explicitSettings, joinAttemptsMax, (ms) => sleep(scheduler, ms))
  log(`joined through a seed: ${joined.members.length} member(s)`)
  return joined
}

/** What the RPC router hands each kind of internode request to. */
interface RpcServers {
  readonly membership: Membership
  readonly replicaDeps: ReplicaServerDeps
  readonly heartbeats: Heartbeats
  readonly claimant: Claimant
  readonly transfers: TransferManager
}

/** The RPC router: replica requests to the replica server, the others to membership, heartbeats, the claimant and transfers. */
async function routeRpc(type: number, body: unknown, servers: RpcServers): Promise<unknown> {
  const {membership, replicaDeps, heartbeats, claimant, transfers} = servers
  if (replicaMessageTypes.has(type)) return serveReplicaRequest(replicaDeps, type, body)
  switch (type) {
    case MessageType.Ping:
      return heartbeats.handlePing(body)
    case MessageType.ClusterChange:
      return claimant.handle(body)
    case MessageType.TransferPage:
      return transfers.serve(body)
    case MessageType.Join:
      return membership.handleJoin(body)
    case MessageType.Gossip:
      return membership.handleGossip(body)
    default:
      throw new DynError('bad_request', `unknown message type ${type}`)
  }
}

/**
 * dyn cluster join SEED: a node that runs alone, holding no data, joins the seed's cluster as
 * joining (a commit gives it partitions). Anything else is refused and changes nothing: a node
 * with data or peers of its own would lose them.
 */
async function joinAnotherCluster(membership: Membership, store: Store, transport: Transport, seed: string, self: string): Promise<unknown> {
  if (!/^[^\s:]+:\d{1,5}$/.test(seed)) throw new DynError('bad_parameter', `the seed must be an internode address host:rpc-port, not ${JSON.stringify(seed)}`)
  const table = membership.table
  if (table.members.some((member) => member.name !== self && member.status !== 'left')) {
    throw new DynError('bad_parameter', `${self} is already in a cluster of ${table.members.length} members; only a node running alone can join another cluster`)
  }
  if (!(await store.isObjectFree())) throw new DynError('bad_parameter', `${self} holds data of its own; start it on an empty --data folder to join another cluster`)
  const mine = findMember(table, self)
  if (mine === undefined) throw new DynError('internal', `${self} has no row of its own`)
  const member: Member = {name: self, rpcAddress: mine.rpcAddress, apiAddress: mine.apiAddress, status: 'joining', incarnation: mine.incarnation + 1}
  const answer = await transport.request(seed, MessageType.Join, {member, requestedSettings: {}}, joinRequestTimeoutMs)
  if (!answer.ok) throw new DynError(answer.code === 'bad_parameter' || answer.code === 'cluster_config_mismatch' ? answer.code : 'unreachable', `the seed ${seed} refused or did not answer the join: ${answer.message}`)
  const joined = (answer.body as {table?: unknown} | null)?.table
  if (!isValidMemberTable(joined)) throw new DynError('unreachable', `the seed ${seed} answered the join with something that is not a member table`)
  membership.adopt(joined)
  return {joined: seed, members: joined.members.length, status: 'joining'}
}

/** A member's hint back-off for GET /cluster, as `{hintBackoff}`, or nothing while it is tried every round. */
function hintBackoffOf(handoff: HandoffSender, name: string): {hintBackoff?: BackoffView} {
  const backoff = handoff.backoffOf(name)
  return backoff === undefined ? {} : {hintBackoff: backoff}
}

function describeCluster(
  membership: Membership,
  self: string,
  reachabilityOf: (name: string) => Reachability,
  hints: HintStore,
  handoff: HandoffSender,
  claimant: Claimant,
  transfers: TransferManager,
  release: ReleaseHandoff,
): unknown {
  const counts = ownershipCounts(membership.ring)
  const settings = membership.table.settings
  const {n, r, w} = effectiveQuorum({n: settings.defaultN, r: settings.defaultR, w: settings.defaultW, dw: 0}, ringMembers(membership.table).length)
  return {
    node: self,
    settings,
    // What a request without parameters runs with: the defaults fitted to the cluster's size.
    effective: {n, r, w},
    ringHash: membership.ring.hash,
    partitionCount: membership.ring.partitionCount,
    members: membership.table.members.map((member) => ({
      name: member.name,
      apiAddress: member.apiAddress,
      rpcAddress: member.rpcAddress,
      // A removed member's own row still says valid: the ring tells it has left.
      status: statusOf(membership.table, member),
      incarnation: member.incarnation,
      // Membership status (gossiped, the cluster's) and reachability (this node's own view) are apart.
      reachability: reachabilityOf(member.name),
      up: reachabilityOf(member.name) !== 'down',
      // Writes this node keeps as a fallback for that member, waiting for it to be reachable.
      hintsPending: hints.pendingFor(member.name),
      // Present only while delivery to it backs off after failed rounds (handoff-backoff.ts).
      ...hintBackoffOf(handoff, member.name),
      partitions: counts.get(member.name) ?? 0,
    })),
    owners: membership.ring.owners,
    ring: {
      version: membership.table.ring?.version,
      claimant: claimant.claimant(),
      staged: membership.table.ring?.staged ?? [],
      transition: membership.table.ring?.next === undefined ? null : {id: membership.table.ring.next.id, members: membership.table.ring.next.members, removing: membership.table.ring.next.removing, owners: membership.table.ring.next.owners},
    },
    transfers: {...transfers.snapshot(), releasedPartitionsPending: release.pendingCount},
  }
}
