/**
 * One dyn node: opens its store, takes its identity, joins (or creates) the cluster, and serves
 * the internode RPC and the client HTTP API. This is the only layer with real sockets, files,
 * clocks and timers; it wires them into the pure parts below.
 */

import {mkdir} from 'node:fs/promises'
import {createServer} from 'node:http'
import type {Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {createApiHandler} from '../api/handler.js'
import type {KvService} from '../api/service.js'
import {systemClock, systemRandom} from '../clock.js'
import type {Clock, Random} from '../clock.js'
import type {ClusterView} from '../coordinator/cluster-view.js'
import type {CoordinatorDeps} from '../coordinator/coordinator-deps.js'
import {coordinateDelete} from '../coordinator/delete-coordinator.js'
import {coordinateGet} from '../coordinator/get-coordinator.js'
import {isCoordinatePutBody, isReplicaGetBody, isReplicaPutBody} from '../coordinator/messages.js'
import {placeKey} from '../coordinator/preflist.js'
import {coordinatePut} from '../coordinator/put-coordinator.js'
import {mergeIncoming, objectBytesMaxDefault, siblingsPerKeyMaxDefault} from '../coordinator/replica.js'
import type {ReplicaPolicy} from '../coordinator/replica.js'
import {DynError} from '../errors.js'
import type {ClusterSettings, Member, MemberTable} from '../membership/member-table.js'
import {findMember, newMemberTable, ringMembers, settingsMismatch} from '../membership/member-table.js'
import {Membership} from '../membership/membership.js'
import {ownershipCounts, partitionOfKey} from '../ring/ring.js'
import {Store} from '../storage/store.js'
import {MessageType} from '../transport/message-type.js'
import {startTcpTransport} from '../transport/tcp-transport.js'
import type {Transport} from '../transport/transport.js'
import {entriesMaxDefault} from '../versioning/dvvset.js'
import {actorOf, loadIdentity} from './identity.js'
import {cachedFolderBytes} from './disk-usage.js'
import {NodeStats} from './stats.js'
import type {Operation} from './stats.js'

export interface NodeOptions {
  readonly name: string
  readonly host: string
  /** Client HTTP API port. */
  readonly port: number
  /** Internode RPC port. */
  readonly rpcPort: number
  readonly dataDir: string
  /** Internode addresses (host:rpcPort) of members to join through; empty creates a new cluster. */
  readonly seeds: readonly string[]
  /** The settings of a cluster this node creates (its id is drawn then). */
  readonly settings: Omit<ClusterSettings, 'clusterId'>
  /** The settings the user gave explicitly: joining a cluster whose settings differ is refused. */
  readonly explicitSettings: Partial<Omit<ClusterSettings, 'clusterId'>>
  readonly requestTimeoutMs: number
  readonly gossipIntervalMs: number
  /** 0: every write goes to LevelDB at once; T > 0: non-durable writes are buffered and flushed every T ms (paper §6.1). */
  readonly writeBufferMs: number
  readonly log: (line: string) => void
  readonly clock?: Clock
  readonly random?: Random
}

export const requestTimeoutMsDefault = 1000
export const gossipIntervalMsDefault = 1000
/** Join attempts through the seeds, half a second apart, before a node gives up starting. */
export const joinAttemptsMax = 20

export interface RunningNode {
  readonly name: string
  readonly actor: string
  readonly apiAddress: string
  readonly rpcAddress: string
  stop(): Promise<void>
}

const membersMetaName = 'members'

export async function startNode(options: NodeOptions): Promise<RunningNode> {
  const clock = options.clock ?? systemClock
  const random = options.random ?? systemRandom
  const startedAtMs = clock.nowMs()
  await mkdir(options.dataDir, {recursive: true})
  const store = await openStore(options.dataDir, options.writeBufferMs > 0)
  const cleanup: Array<() => Promise<void>> = [() => store.close()]
  let stopping: Promise<void> | undefined
  const stopAll = (): Promise<void> => {
    stopping ??= (async () => {
      for (const step of [...cleanup].reverse()) await step().catch(() => undefined)
    })()
    return stopping
  }
  try {
    return await startOnStore(options, store, clock, random, startedAtMs, cleanup, stopAll)
  } catch (error) {
    await stopAll()
    throw error
  }
}

async function openStore(dataDir: string, writeBuffer: boolean): Promise<Store> {
  try {
    return await Store.open(dataDir, {writeBuffer, schedule: setImmediate})
  } catch (error) {
    const cause = (error as {cause?: {code?: string}}).cause
    if (cause?.code === 'LEVEL_LOCKED') {
      throw new DynError('bad_parameter', `the data folder ${dataDir} is in use by another running node; stop it or choose another --data`)
    }
    throw error
  }
}

async function startOnStore(
  options: NodeOptions,
  store: Store,
  clock: Clock,
  random: Random,
  startedAtMs: number,
  cleanup: Array<() => Promise<void>>,
  stopAll: () => Promise<void>,
): Promise<RunningNode> {
  const log = options.log
  const identityOutcome = await loadIdentity(store, options.name, random, clock)
  if (!identityOutcome.ok) throw new DynError('bad_parameter', identityOutcome.message)
  const identity = identityOutcome.identity
  const actor = actorOf(identity)
  log(`identity ${actor} (incarnation ${identity.incarnation}${identityOutcome.isNewEpoch ? ', new epoch: empty store' : ''})`)

  let membership: Membership | undefined
  let deps: CoordinatorDeps | undefined
  const stats = new NodeStats()
  cleanup.push(async () => stats.stop())

  const transport: Transport = await startTcpTransport({
    host: options.host,
    port: options.rpcPort,
    nodeName: options.name,
    log,
    handler: async (type, body) => {
      if (membership === undefined || deps === undefined) throw new DynError('overloaded', `${options.name} is still starting`)
      return handleRpc(type, body, membership, deps, stats)
    },
  }).catch((error: Error) => {
    throw new DynError('bad_parameter', `cannot listen for internode RPC on ${options.host}:${options.rpcPort}: ${error.message}; choose another --rpc-port`)
  })
  cleanup.push(() => transport.close())

  const announced: Member = {
    name: options.name,
    rpcAddress: transport.address,
    apiAddress: `${options.host}:${options.port}`,
    status: 'valid',
    incarnation: identity.incarnation,
  }
  const table = await initialTable(options, store, transport, announced, random)
  // The cluster may remember a row of ours from an earlier life (this name on a lost disk):
  // our row must outrank it, or peers would keep routing to the old address.
  const remembered = findMember(table, options.name)
  const self: Member =
    remembered !== undefined && remembered.incarnation >= announced.incarnation
      ? {...announced, incarnation: remembered.incarnation + 1}
      : announced
  // The conflict policy is the cluster's, whatever this node was started with.
  const policy: ReplicaPolicy = {
    conflictPolicy: table.settings.conflictPolicy,
    entriesMax: entriesMaxDefault,
    siblingsPerKeyMax: siblingsPerKeyMaxDefault,
    objectBytesMax: objectBytesMaxDefault,
  }
  let persisting: Promise<void> = Promise.resolve()
  cleanup.push(() => persisting)
  membership = new Membership(table, options.name, transport, random, {
    onChange: (changed) => {
      // Persist in order, so the table on disk is never older than one persisted before it.
      persisting = persisting.then(() => store.putMeta(membersMetaName, changed)).catch((error: Error) => log(`could not persist the member table: ${error.message}`))
    },
    log,
  })
  membership.updateSelf(self)
  const current = membership

  const view = (): ClusterView => ({
    ring: current.ring,
    rpcAddressOf: (name) => findMember(current.table, name)?.rpcAddress,
    isUp: (name) => {
      if (name === options.name) return true
      const member = findMember(current.table, name)
      return member !== undefined && transport.peerState(member.rpcAddress) !== 'down'
    },
  })
  deps = {
    self: options.name,
    actor,
    store,
    transport,
    clock,
    policy,
    durableReplicaPerPut: options.writeBufferMs > 0,
    requestTimeoutMs: options.requestTimeoutMs,
    view,
    onReadRepair: (nodes) => {
      stats.readRepairs += nodes.length
    },
  }
  const coordinator = deps

  const timed = async <T extends {ok: boolean; error?: string}>(operation: Operation, run: () => Promise<T>): Promise<T> => {
    const beganMs = clock.monotonicMs()
    const outcome = await run()
    stats.record(operation, outcome.ok ? 'ok' : (outcome.error ?? 'failed'), clock.monotonicMs() - beganMs)
    return outcome
  }
  const storeBytes = cachedFolderBytes(options.dataDir, clock)
  const service: KvService = {
    clusterSize: () => ringMembers(current.table).length,
    settings: () => current.table.settings,
    put: (request) => timed('put', () => coordinatePut(coordinator, request)),
    get: (request) => timed('get', () => coordinateGet(coordinator, request)),
    delete: (request) => timed('delete', () => coordinateDelete(coordinator, request)),
    cluster: () => describeCluster(current, options.name, view()),
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
      storeBytes: await storeBytes(),
      ...stats.snapshot(),
    }),
    health: () => ({ok: true, node: options.name, actor, members: current.table.members.length, ringHash: current.ring.hash}),
  }

  const server = createServer({keepAliveTimeout: 65_000}, createApiHandler(service, (route) => stats.countHttpRequest(route)))
  await listen(server, options.host, options.port)
  cleanup.push(() => closeServer(server))
  const apiAddress = `${options.host}:${(server.address() as AddressInfo).port}`

  const gossipTimer = setInterval(() => {
    current.gossipRound().catch((error: Error) => log(`gossip round failed: ${error.message}`))
  }, options.gossipIntervalMs)
  cleanup.push(async () => clearInterval(gossipTimer))
  if (options.writeBufferMs > 0) {
    const flushTimer = setInterval(() => {
      store.flush().catch((error: Error) => log(`write buffer flush failed: ${error.message}`))
    }, options.writeBufferMs)
    cleanup.push(async () => clearInterval(flushTimer))
  }
  // One round right away, so a new member is known cluster-wide without waiting a full interval.
  void current.gossipRound().catch(() => undefined)

  log(`serving the client API on ${apiAddress} and internode RPC on ${transport.address}; ${current.table.members.length} member(s)`)
  return {name: options.name, actor, apiAddress, rpcAddress: transport.address, stop: stopAll}
}

/**
 * The member table a node starts with: its stored one (a restart: the node comes back with its
 * view of the ring at once, and gossip catches it up), a new cluster's, or the one a seed hands
 * back when it joins.
 */
async function initialTable(options: NodeOptions, store: Store, transport: Transport, self: Member, random: Random): Promise<MemberTable> {
  const stored = await store.getMeta<MemberTable>(membersMetaName)
  if (stored !== undefined) {
    const mismatch = settingsMismatch({...stored.settings, ...options.explicitSettings}, stored.settings)
    if (mismatch !== undefined) {
      throw new DynError('cluster_config_mismatch', `this node's cluster was created with other settings (${mismatch}); start without those flags`)
    }
    options.log(`restarting with the stored member table (${stored.members.length} member(s))`)
    return stored
  }
  if (options.seeds.length === 0) {
    let clusterId = ''
    for (let i = 0; i < 16; i += 1) clusterId += random.int(16).toString(16)
    return newMemberTable({...options.settings, clusterId}, self)
  }
  const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
  const joined = await Membership.join(transport, options.seeds, self, options.explicitSettings, joinAttemptsMax, wait)
  options.log(`joined through a seed: ${joined.members.length} member(s)`)
  return joined
}

async function handleRpc(type: number, body: unknown, membership: Membership, deps: CoordinatorDeps, stats: NodeStats): Promise<unknown> {
  switch (type) {
    case MessageType.ReplicaGet: {
      if (!isReplicaGetBody(body)) throw new DynError('bad_request', 'malformed ReplicaGet')
      checkPartition(body.partition, body.key, membership)
      return {object: (await deps.store.getObject(body.partition, body.key)) ?? null}
    }
    case MessageType.ReplicaPut: {
      if (!isReplicaPutBody(body)) throw new DynError('bad_request', 'malformed ReplicaPut')
      checkPartition(body.partition, body.key, membership)
      const merged = await mergeIncoming(deps.store, deps.policy, body.partition, body.key, body.object, body.durable)
      if (!merged.ok) throw new DynError(merged.error, merged.message)
      return {durable: body.durable}
    }
    case MessageType.CoordinatePut: {
      if (!isCoordinatePutBody(body)) throw new DynError('bad_request', 'malformed CoordinatePut')
      if (body.n > ringMembers(membership.table).length) throw new DynError('bad_parameter', `n=${body.n} is larger than the cluster`)
      stats.forwardedPuts += 1
      const {forwardedBy, budgetMs, ...request} = body
      return coordinatePut(deps, request, {by: forwardedBy, budgetMs})
    }
    case MessageType.Join:
      return membership.handleJoin(body)
    case MessageType.Gossip:
      return membership.handleGossip(body)
    default:
      throw new DynError('bad_request', `unknown message type ${type}`)
  }
}

/** A replica request must name the key's own partition: the store's layout depends on it. */
function checkPartition(partition: number, key: string, membership: Membership): void {
  if (partition !== partitionOfKey(key, membership.table.settings.partitionCount)) {
    throw new DynError('bad_request', `partition ${partition} is not the partition of that key`)
  }
}

function describeCluster(membership: Membership, self: string, view: ClusterView): unknown {
  const counts = ownershipCounts(membership.ring)
  return {
    node: self,
    settings: membership.table.settings,
    ringHash: membership.ring.hash,
    partitionCount: membership.ring.partitionCount,
    members: membership.table.members.map((member) => ({
      name: member.name,
      apiAddress: member.apiAddress,
      rpcAddress: member.rpcAddress,
      status: member.status,
      incarnation: member.incarnation,
      up: view.isUp(member.name),
      partitions: counts.get(member.name) ?? 0,
    })),
    owners: membership.ring.owners,
  }
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      reject(new DynError('bad_parameter', `cannot serve the client API on ${host}:${port}: ${error.message}; choose another --port`))
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}
