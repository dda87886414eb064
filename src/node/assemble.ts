/**
 * Builds one dyn node from injected parts: a storage backend, a transport factory, a Clock, a
 * Scheduler, a Random, its settings and a log. A node is a list of subsystems (src/subsystem.ts,
 * after riak_core's services under one vnode): this module builds the parts they share, lists
 * them, and composes what they declare into what the node serves.
 *
 * The shared parts, in the order they are made: the store and the node's identity (the actor
 * its writes take), the node's own /stats, the hint store, the transport (started at once with a
 * router that answers `overloaded` until the subsystems exist, since a joining node asks its seed
 * through it) with the failure detector observing every request, and the membership view (the
 * member table this node restores, creates or joins, persisted on every change).
 *
 * The subsystems, in list order: membership and failure detection (paper §4.8), replication
 * (§4.3 to §4.5, the replica side of §4.6), hinted handoff (§4.6), ring changes (§4.9: the
 * claimant, transfers and release), the write buffer (§6.1) and anti-entropy (§4.7). The list order is the order in
 * which their periodic tasks are scheduled (timers due at the same instant run in that order,
 * which a simulated run depends on) and in which their fields appear in /stats; they stop in the
 * reverse order, before the shared parts close in the reverse of theirs (the store last).
 *
 * Nothing here touches real IO or time: the process shell (node.ts) hands in classic-level, TCP
 * and the system's clock and timers, and serves the KV service over HTTP; the simulator hands in
 * memory-level, the simulated network and simulated time, and calls the service directly. Both
 * run this same code.
 */

import {antiEntropySubsystem} from '../antientropy/anti-entropy-subsystem.js'
import type {AdmissionControl} from '../api/admission.js'
import type {ApiRoute} from '../api/handler.js'
import type {KvService} from '../api/service.js'
import type {Clock, Random} from '../clock.js'
import {hintDeliveryEntriesMax, isStoredObject} from '../coordinator/messages.js'
import {replicationSubsystem} from '../coordinator/replication-subsystem.js'
import {WriteActor} from '../coordinator/write-actor.js'
import {assert, DynError} from '../errors.js'
import {HintStore, hintLimitsDefault} from '../handoff/hints.js'
import type {HintLimits} from '../handoff/hints.js'
import {hintsSubsystem} from '../handoff/hints-subsystem.js'
import {ringChangeSubsystem} from '../handoff/ring-change-subsystem.js'
import type {TransferManager} from '../handoff/transfer.js'
import type {ReleaseHandoff} from '../handoff/transfer-release.js'
import {FailureDetector, failureDetectorDefaults} from '../membership/failure-detector.js'
import type {FailureDetectorConfig, Reachability} from '../membership/failure-detector.js'
import {observedTransport} from '../membership/heartbeats.js'
import {effectiveQuorum} from '../api/params.js'
import {readinessOf} from '../api/readiness.js'
import type {ClusterSettings, Member, MemberTable} from '../membership/member-table.js'
import {findMember, membersMax, newMemberTable, presentMembers, presentOrHandingOff, ringMemberCount, ringMembers, runsAlone, settingsMismatch} from '../membership/member-table.js'
import {namePattern} from '../membership/names.js'
import {hasLiveVersion} from '../coordinator/delete-coordinator.js'
import {checkSeedsOnRestart, Membership} from '../membership/membership.js'
import {membershipSubsystem} from '../membership/membership-subsystem.js'
import type {Scheduler} from '../scheduler.js'
import {sleep} from '../scheduler.js'
import type {StoreDatabase} from '../storage/backend.js'
import {Store} from '../storage/store.js'
import {compactionSubsystem} from '../storage/compaction-subsystem.js'
import type {CompactionDisk} from '../storage/compaction-subsystem.js'
import {writeBufferSubsystem} from '../storage/write-buffer-subsystem.js'
import {routerOf, StartingRouter, statsOf} from '../subsystem.js'
import type {PeriodicTask, Router, Subsystem} from '../subsystem.js'
import type {RequestHandler, Transport} from '../transport/transport.js'
import {describeCluster} from './cluster-description.js'
import {statusSubsystem} from './status-subsystem.js'
import {askPeersForDiskClock, oldDiskError} from './disk-check.js'
import {afterAnswers, confirmedFromStart, unconfirmedAtStart, unconfirmedReason} from './membership-confirmation.js'
import {actorOf, IdentityKeeper, loadIdentity} from './identity.js'
import {MessageType} from '../transport/message-type.js'
import {unauthenticatedCode} from '../transport/rpc-common.js'
import {isLoggedCount} from '../logged-count.js'
import type {DiskSpace} from './disk-usage.js'
import {compareNames} from '../ring/claim.js'
import {LatestWriter} from './latest-writer.js'
import {NodeStats} from './stats.js'
import type {Operation, RejectedInput} from './stats.js'

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
  /** Anti-entropy's interval and repair budget (anti-entropy-subsystem.ts); the defaults when absent. */
  readonly antiEntropy?: {readonly exchangeIntervalMs?: number; readonly keysRepairedPerSecondMax?: number; readonly tombstoneGraceMs?: number}
  /** Siblings a key may have before a coordinator here refuses new concurrent writes (replica.ts); the default when absent. */
  readonly siblingsPerKeyMax?: number
  /**
   * A node that joins through seeds commits its own join once no other change is staged and no
   * transition runs (false: it only stages it, for dyn cluster plan / commit). Default true.
   */
  readonly commitJoin?: boolean
  /**
   * The machine this node shares with other members (`dyn start --processes`, `--machine`):
   * preference lists keep a key's homes on distinct machines (ring.ts). Absent: a machine of its
   * own. Fixed on the node's first start; a later start with another machine is refused.
   */
  readonly machine?: string
}

/** The parts a node is built from. */
export interface NodeParts {
  readonly settings: NodeSettings
  /** The storage backend (backend.ts); the node's store owns it from here and closes it on stop. */
  readonly database: StoreDatabase
  /**
   * Starts this node's transport with the RPC router as its request handler; the transport tells
   * `onRejected` of every input it refuses, for /stats (a simulated network, which carries no
   * hostile bytes, may ignore it).
   */
  readonly startTransport: (handler: RequestHandler, onRejected: (kind: RejectedInput, reason: string) => void) => Promise<Transport>
  readonly clock: Clock
  readonly scheduler: Scheduler
  readonly random: Random
  readonly log: (line: string) => void
  /** Sample the event loop's delay for /stats (real processes only: it runs a timer of its own). */
  readonly monitorEventLoop?: boolean
  /** The bytes the store takes on disk, for /stats (a real process sums its data folder); left out when absent. */
  readonly storeBytes?: () => Promise<number>
  /** The size of the disk that holds the data folder and its free bytes, for /stats (a real node's; undefined in a simulation). */
  readonly diskSpace?: () => Promise<DiskSpace | undefined>
  /** The store's disk, whose free room compactions wait for (a real process asks its file system); absent, none waits. */
  readonly compactionDisk?: CompactionDisk
  /**
   * The node's admission control (src/api/admission.ts), shared with its HTTP handler: it admits
   * or refuses forwarded puts as a whole, lets background passes yield, and is shown in /stats.
   * Without it every request is admitted and background work never yields.
   */
  readonly admission?: AdmissionControl
  /** The certificate the node serves with and how its rotations went (src/node/tls-reloader.ts), for /stats; absent without TLS. */
  readonly tlsStats?: () => unknown
}

export interface AssembledNode {
  readonly name: string
  /** This node's actor in version vectors now: its name and its current epoch (a release renews it). */
  readonly actor: string
  /** Everything the client API serves. */
  readonly service: KvService
  /** The internode RPC router: what the transport hands each inbound request to. */
  readonly router: Router
  readonly transport: Transport
  /** The member table and ring as this node sees them (read them; gossip changes them). */
  readonly membership: Membership
  /** The local store, for a simulator that checks what each replica holds. */
  readonly store: Store
  /** The hints this node keeps as a fallback, for a simulator that checks what each one holds. */
  readonly hints: HintStore
  /** What the node is made of, in list order. */
  readonly subsystems: readonly Subsystem[]
  /** The subsystems' periodic tasks, scheduled on the injected scheduler in this order until `stop`. */
  readonly periodicTasks: readonly PeriodicTask[]
  /** Counts a client API request by route for /stats (the HTTP server calls it; a simulation need not). */
  countHttpRequest(route: ApiRoute): void
  /** Counts a rejected input for /stats' `rejected` (the HTTP server calls it for refused requests). */
  countRejected(kind: RejectedInput, reason: string): void
  /** Resolves once this node has left the ring (a leave or remove whose data has moved): its shell should stop it. */
  readonly left: Promise<void>
  /**
   * Resolves (never rejects) with the error that makes this node unfit to run on: a copy of an
   * older disk found after the start (src/node/disk-check.ts), or a removal from the cluster it
   * learns of after being away (membership.ts). Its shell should stop it and say why.
   */
  readonly failed: Promise<DynError>
  /** This node's ownership transfers: the fetches before an install and the hand-off after it. */
  readonly transfers: TransferManager
  readonly release: ReleaseHandoff
  /**
   * From now on `GET /ready` and /health say that this node stops in `delayMs` (its shell's stop
   * delay), while it serves on: not ready, so that balancers send elsewhere before its ports close.
   */
  announceStop(delayMs: number): void
  /** Cancels the periodic tasks, stops the subsystems, waits for the member table to be persisted, closes the transport and the store. */
  stop(): Promise<void>
}

/** Join attempts through the seeds, half a second apart, before a node gives up starting. */
export const joinAttemptsMax = 20

const membersMetaName = 'members'

export async function assembleNode(parts: NodeParts): Promise<AssembledNode> {
  const {clock} = parts
  const startedAtMs = clock.nowMs()
  const store = await Store.open(parts.database, {writeBuffer: parts.settings.writeBufferMs > 0, scheduler: parts.scheduler})
  // Every part that must be closed or waited for adds its step as it is made; a stop (or a
  // failed start) runs them in reverse, each whatever the one before did, the store's last.
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
  // The shared parts. Each that must be waited for or closed adds its cleanup step as it is made.
  const identityOutcome = await loadIdentity(store, options.name, random, clock, options.machine)
  if (!identityOutcome.ok) throw new DynError('bad_parameter', identityOutcome.message)
  const identity = identityOutcome.identity
  const identityKeeper = new IdentityKeeper(store, identity)
  const writeActor = new WriteActor(actorOf(identity))
  log(`identity ${writeActor.current} (incarnation ${identity.incarnation}${identityOutcome.isNewEpoch ? ', new epoch: empty store' : ''})`)
  const renewActor = epochRenewal(identityKeeper, writeActor, random, log)

  const stats = new NodeStats({monitorEventLoop: parts.monitorEventLoop === true, monotonicMs: () => clock.monotonicMs(), scheduler})
  cleanup.push(async () => stats.stop())
  const hints = await HintStore.open(store, options.hintLimits ?? hintLimitsDefault)
  // Runs before the store closes (cleanup runs in reverse): no hint write is cut off.
  cleanup.push(() => hints.idle())
  if (hints.pendingTotal > 0) log(`${hints.pendingTotal} hint(s) kept from before the restart`)

  const router = new StartingRouter(options.name)
  const rawTransport = await parts.startTransport(router.handle, (kind, reason) => stats.countRejected(kind, reason))
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
    ...(identity.machine === undefined ? {} : {machine: identity.machine}),
  }
  const {table, fromStore} = await initialTable(options, store, transport, announced, random, scheduler, log)
  // The cluster may remember a row of ours from an earlier life (this name on a lost disk):
  // our row must outrank it, or peers would keep routing to the old address.
  const remembered = findMember(table, options.name)
  const self: Member =
    remembered === undefined
      ? announced
      : {...withoutMachine(remembered), ...(announced.machine === undefined ? {} : {machine: announced.machine}), rpcAddress: announced.rpcAddress, apiAddress: announced.apiAddress, incarnation: Math.max(remembered.incarnation + 1, announced.incarnation)}
  // Until the start's disk check is done, a table that knows a higher disk clock of ours is what
  // that check looks at; after it, such a table means this node runs on an old disk.
  let diskWatch: ((changed: MemberTable) => void) | undefined
  const failure = deferredFailure()
  // Removed while it was away: it hands nothing off (membership.ts) and stops, keeping its folder.
  const onRemoved = (): void => {
    const error = new DynError(
      'removed',
      `${options.name} was removed from the cluster while it was away (dyn cluster remove): a removal gives up what only it held, so it hands nothing off and stops. Its data folder is kept as it was; move it aside before this node joins again.`,
    )
    failure.fail(error)
  }
  const {membership, persisted} = persistedMembership(table, options.name, transport, random, store, log, (changed) => diskWatch?.(changed), onRemoved)
  cleanup.push(persisted)
  router.serveEarly(MessageType.DiskClockQuery, (body) => {
    const name = (body as {name?: unknown} | null)?.name
    if (typeof name !== 'string') throw new DynError('bad_request', 'malformed DiskClockQuery')
    const row = findMember(membership.table, name)
    // A node restarting on its folder learns here, before it serves, that it was removed while it
    // was away (checkDisk); gossip would tell it only after its API had opened.
    // With the removed row's incarnation: a member that has not heard yet of a rejoin under the
    // name still holds the removed row, below the rejoined node's own (a review).
    // Also whether a ring change under way removes the asker (its row is marked removed only when
    // the change is installed, after the transfers), and this node's ring members: a node
    // restarted on its folder counts these answers towards confirming that it is still a member
    // (membership-confirmation.ts).
    const removing = membership.table.ring?.next?.removing.includes(name) === true
    return {diskClock: row?.diskClock ?? 0, ...(row?.removed === true ? {removed: true, incarnation: row.incarnation} : {}), ...(removing ? {removing: true} : {}), ringMembers: ringNamesOf(membership.table)}
  })
  // The n values this node stores travel in its row, so that every node plans transfers for
  // them; a write with an n the store has never held adds one, and the row follows.
  const storedCounts = store.storedReplicaCounts
  membership.updateSelf(storedCounts.length === 0 ? self : {...self, replicaCounts: storedCounts})
  store.watchReplicaCounts((counts) => membership.updateOwnRow({replicaCounts: counts}))
  store.watchLandingFailure((error) => log(`error: the store failed to write (${error.message}): this node takes no more writes until it restarts, and goes on serving reads; check its disk, then restart it`))
  // What each member answered this node's DiskClockQuery, at the start and in later rounds.
  const askMember = diskClockAsker(transport, options, remembered, identityOutcome.isNewEpoch)
  const diskCheck = await checkDisk({options, membership, scheduler, identityKeeper, isNewEpoch: identityOutcome.isNewEpoch, remembered, askMember, log})
  // A node restarted on its stored table takes writes once a majority of the ring's members has
  // answered it (membership-confirmation.ts): what the start's check heard counts, and the
  // members not heard from yet are asked again in the background, a round at a time.
  let confirmation = fromStore ? afterAnswers(unconfirmedAtStart(), options.name, ringNamesOf(membership.table), diskCheck.confirming) : confirmedFromStart()
  const confirmationReason = (): string | undefined => (confirmation.confirmed ? undefined : unconfirmedReason(confirmation, options.name, ringNamesOf(membership.table)))
  if (!confirmation.confirmed) {
    log(`warning: ${confirmationReason() as string}`)
    let stopped = false
    let roundInFlight: Promise<void> | undefined
    let failedInARow = 0
    const confirmationRound = async (): Promise<void> => {
      const unasked = presentMembers(membership.table).filter((member) => member.name !== options.name && !confirmation.answeredBy.has(member.name))
      const answers = await Promise.all(unasked.map(askMember))
      if (stopped || confirmation.confirmed) return
      const removedBy = new Set(answers.filter((answer) => answer.removed).map((answer) => answer.name))
      if (removedBy.size > 0) {
        failure.fail(removedWhileAway(options.name, removedBy, 'stops'))
        return
      }
      // The disk clocks the members know of this node go into its table, where diskWatch judges
      // them as it does those gossip brings (an old disk stops the node; a new one takes them over).
      membership.raiseDiskClocks([[options.name, Math.max(0, ...answers.map((answer) => answer.diskClock ?? 0))]])
      if (failure.failed) return
      confirmation = afterAnswers(confirmation, options.name, ringNamesOf(membership.table), answers.filter(confirms))
      if (confirmation.confirmed) log(`confirmed as a member: a majority of the ring's members has answered (${[...confirmation.answeredBy].sort(compareNames).join(', ')}); taking writes`)
    }
    const startRound = (): void => {
      if (stopped || confirmation.confirmed || roundInFlight !== undefined) return
      roundInFlight = confirmationRound()
        .then(
          () => {
            failedInARow = 0
          },
          (error: Error) => {
            failedInARow += 1
            if (isLoggedCount(failedInARow)) log(`membership confirmation round failed: ${error.message}${failedInARow === 1 ? '' : ` (${failedInARow} rounds in a row)`}`)
          },
        )
        .finally(() => {
          roundInFlight = undefined
        })
    }
    const confirmationTimer = scheduler.every(membershipConfirmationRetryMs, () => {
      if (confirmation.confirmed) scheduler.cancel(confirmationTimer)
      else startRound()
    })
    startRound()
    cleanup.push(async () => {
      stopped = true
      scheduler.cancel(confirmationTimer)
      await roundInFlight
    })
  }
  /** Refuses a client write while this node has not confirmed that it is still a member. */
  const refuseUnconfirmedWrite = (operation: Operation): void => {
    const reason = confirmationReason()
    if (reason === undefined) return
    // Counted under its code, as every other outcome is, so that dyn top and /stats show it.
    stats.record(operation, 'not_ready', 0)
    throw new DynError('not_ready', `${reason}. Send the write to another node`, {membershipUnconfirmed: true})
  }
  diskWatch = (changed) => {
    const known = findMember(changed, options.name)?.diskClock ?? 0
    if (known <= identityKeeper.diskClock) return
    // A store that started empty holds nothing a reap covered: it takes the value over (its start
    // may have had no peer to ask). Any other is a copy of an older disk.
    if (identityOutcome.isNewEpoch) void identityKeeper.raiseTo(known).catch((error: Error) => log(`could not persist the disk clock: ${error.message}`))
    else failure.fail(oldDiskError(options.name, identityKeeper.diskClock, known, []))
  }
  diskWatch(membership.table)
  const reachabilityOf = (name: string): Reachability => {
    if (name === options.name) return 'up'
    const member = findMember(membership.table, name)
    return member === undefined ? 'down' : detector.reachability(member.rpcAddress, clock.monotonicMs())
  }
  const isUp = (name: string): boolean => reachabilityOf(name) !== 'down'

  // The subsystems, each built from the shared parts it needs (and from what an earlier one
  // hands the others: replication's merges).
  const shared = {self: options.name, store, transport, clock, membership, log}
  const membershipAndDetection = membershipSubsystem({...shared, detector, gossipIntervalMs: options.gossipIntervalMs})
  const replication = replicationSubsystem({
    ...shared,
    scheduler,
    hints,
    writeActor,
    isUp,
    requestTimeoutMs: options.requestTimeoutMs,
    durableReplicaPerPut: options.writeBufferMs > 0,
    ...(options.siblingsPerKeyMax === undefined ? {} : {siblingsPerKeyMax: options.siblingsPerKeyMax}),
  })
  const hintedHandoff = hintsSubsystem({
    ...shared,
    hints,
    isUp,
    deliverToSelf: replication.receiveHints,
    batchEntriesMax: hintDeliveryEntriesMax,
    requestTimeoutMs: options.requestTimeoutMs,
    ...(options.handoffIntervalMs === undefined ? {} : {handoffIntervalMs: options.handoffIntervalMs}),
  })
  const ringChanges = ringChangeSubsystem({
    ...shared,
    isUp,
    requestTimeoutMs: options.requestTimeoutMs,
    gossipIntervalMs: options.gossipIntervalMs,
    commitsOwnJoin: options.commitJoin !== false && options.seeds.length > 0,
    holdsNothing: () => store.objectCount === 0 && hints.pendingTotal === 0,
    hintsPending: () => hints.pendingTotal,
    mergeObject: replication.mergeObject,
    isStoredObject,
    currentActor: () => writeActor.current,
    renewActor,
  })
  // A node that starts on an empty store under a name the committed ring still gives partitions
  // lost its disk (or was wiped): anti-entropy brings back what it is a home of, and says so.
  // (A node that creates a new cluster owns every partition of an empty ring: nothing to recover.)
  const recovering = identityOutcome.isNewEpoch && options.seeds.length > 0 && remembered !== undefined && membership.ring.members.includes(options.name)
  // Copy-bearing messages being handled, by sender (refusingCopiesFromOutsiders counts them).
  const copiesInFlight = new Map<string, number>()
  const antiEntropy = antiEntropySubsystem({
    ...shared,
    isUp,
    mergeObject: replication.mergeObject,
    isStoredObject,
    requestTimeoutMs: options.requestTimeoutMs,
    recovering,
    holdsHint: (partition, key) => hints.holdsHintFor(partition, key),
    releasing: () => ringChanges.release.pendingCount > 0 || ringChanges.release.stateLoading,
    storingCopiesFrom: (senders) => senders.filter((sender) => (copiesInFlight.get(sender) ?? 0) > 0),
    renewActor,
    diskClock: {
      tick: async () => {
        const value = await identityKeeper.tick()
        membership.raiseDiskClocks([[options.name, value]])
        return value
      },
      raise: async (entries) => {
        membership.raiseDiskClocks(entries)
        await persisted()
      },
    },
    ...(options.antiEntropy === undefined ? {} : options.antiEntropy),
  })
  // What this node says of itself (GET /health, GET /cluster), and through the status subsystem to
  // a node that gathers every member's view (dyn cluster status --node).
  // Set once the shell announces a stop with a delay (announceStop).
  let stopAnnounced: {readonly atMs: number; readonly delayMs: number} | undefined
  /** What is left of the announced stop delay, in ms (undefined before a stop is announced): /health and /stats both say it. */
  const stoppingInMs = (): number | undefined => (stopAnnounced === undefined ? undefined : Math.max(0, stopAnnounced.atMs + stopAnnounced.delayMs - clock.monotonicMs()))
  const healthOfSelf = (): Record<string, unknown> => {
    // The members that are part of the cluster now (joining, valid or leaving); a node that left
    // or was removed keeps a row in the table, so that it is never taken back, but is no member.
    const present = presentMembers(membership.table)
    // The members this node's failure detector sees as down (left members aside).
    const down = present.filter((member) => reachabilityOf(member.name) === 'down').map((member) => member.name)
    // And those out of the ring that have not said they handed off everything: no member any more,
    // but one down owes its hints and holds every tombstone back from reaping (a walk killed a
    // leaver mid-hand-off, and /health said down: [] on every survivor). Said, not counted for /ready.
    const handoffsDown = presentOrHandingOff(membership.table)
      .filter((member) => !present.includes(member) && reachabilityOf(member.name) === 'down')
      .map((member) => member.name)
    const own = findMember(membership.table, options.name)
    const settings = membership.table.settings
    const {r, w} = effectiveQuorum({n: settings.defaultN, r: settings.defaultR, w: settings.defaultW, dw: 0}, ringMemberCount(membership.table))
    const stoppingLeftMs = stoppingInMs()
    const unconfirmed = confirmationReason()
    const readiness = readinessOf({
      status: own?.status,
      members: present.length,
      down: down.length,
      r,
      w,
      ...(stoppingLeftMs === undefined ? {} : {stoppingInMs: stoppingLeftMs}),
      ...(unconfirmed === undefined ? {} : {membershipUnconfirmed: unconfirmed}),
    })
    return {
      ok: true,
      // For GET /ready (a balancer's readiness check); /health itself answers 200 while the process serves.
      ...(readiness.ready ? {ready: true} : {ready: false, notReadyBecause: readiness.reasons}),
      node: options.name,
      actor: writeActor.current,
      members: present.length,
      ringHash: membership.ring.hash,
      down: [...down, ...handoffsDown],
      ringMembers: membership.ring.members.length,
      status: own?.status,
      // A node that left says here once it has handed off everything (it then exits within a few gossip rounds).
      ...(own?.handedOff === true ? {handedOff: true} : {}),
      transition: membership.table.ring?.next?.id ?? null,
      antiEntropy: antiEntropy.summary(),
      // A node whose store failed to write (a full or failing disk) still answers reads and
      // coordinates, but stores nothing until it restarts: said here, so that status and monitors see it.
      ...(store.writesStoppedBy === undefined ? {} : {writesStopped: store.writesStoppedBy}),
      // A node restarted on its folder that has not confirmed yet that it is still a member takes
      // no writes: said here, so that dyn cluster up waits for it and monitors see it.
      ...(unconfirmed === undefined ? {} : {membershipUnconfirmed: unconfirmed}),
    }
  }
  const describeSelf = (): Record<string, unknown> => describeCluster({membership, self: options.name, reachabilityOf, hints: hintedHandoff, ringChanges})
  const status = statusSubsystem({
    self: options.name,
    transport,
    membership,
    ownStatus: () => ({health: {...healthOfSelf(), clusterId: membership.table.settings.clusterId}, cluster: describeSelf()}),
  })
  // The node is this list. Its order is the order in which the periodic tasks are scheduled (and
  // so run, when due at one instant) and in which /stats shows the fields; they stop in reverse.
  const subsystems: readonly Subsystem[] = [
    membershipAndDetection,
    replication,
    hintedHandoff,
    ringChanges,
    writeBufferSubsystem(store, options.writeBufferMs),
    compactionSubsystem(store, log, clock, parts.compactionDisk),
    antiEntropy,
    status,
  ]

  // Composed: one router, one list of timers, one /stats, one stop.
  for (const subsystem of subsystems) cleanup.push(() => subsystem.stop())
  router.open(refusingCopiesWhileUnconfirmed(admittingForwardedPuts(refusingCopiesFromOutsiders(routerOf(subsystems), membership, options.name, copiesInFlight), parts.admission), confirmationReason))
  const periodicTasks = subsystems.flatMap((subsystem) => subsystem.periodicTasks)
  for (const task of periodicTasks) {
    const run = yieldingUnderPressure(task, parts.admission)
    // A task that fails the same way round after round (anti-entropy on a node whose disk is full
    // logged it every second, 305 lines in five minutes of a walk) is logged at its 1st, 2nd,
    // 4th, 8th... failure in a row, with the count; a success, or another failure, starts again.
    let failedInARow = 0
    let lastFailure = ''
    const timer = scheduler.every(task.intervalMs, () => {
      run().then(
        () => {
          failedInARow = 0
        },
        (error: Error) => {
          failedInARow = error.message === lastFailure ? failedInARow + 1 : 1
          lastFailure = error.message
          if (isLoggedCount(failedInARow)) log(`${task.name} failed: ${error.message}${failedInARow === 1 ? '' : ` (${failedInARow} rounds in a row)`}`)
        },
      )
    })
    cleanup.push(async () => scheduler.cancel(timer))
  }
  // A round at start that fails is as good as a missed one: the next comes within an interval.
  for (const task of periodicTasks) if (task.runsAtStart === true) void task.run().catch(() => undefined)

  // What the client API serves, from the subsystems and the shared parts; each request is timed
  // for /stats, under `label` of its outcome: ok, or its error.
  const timed = async <T extends {ok: boolean; error?: string}>(operation: Operation, run: () => Promise<T>, label: (outcome: T) => string = (outcome) => (outcome.ok ? 'ok' : (outcome.error ?? 'failed'))): Promise<T> => {
    const beganMs = clock.monotonicMs()
    const outcome = await run()
    stats.record(operation, label(outcome), clock.monotonicMs() - beganMs)
    return outcome
  }
  const service: KvService = {
    clusterSize: () => ringMemberCount(membership.table),
    settings: () => membership.table.settings,
    // Async, so that a refusal is a rejected promise as every other failure is, never a throw.
    put: async (request) => {
      refuseUnconfirmedWrite('put')
      return timed('put', () => replication.put(request))
    },
    // A get that finds no live version is answered 404 not_found, and counted so, as a delete of
    // a missing key is (a walk saw 404s counted ok).
    get: (request) => timed('get', () => replication.get(request), (outcome) => (!outcome.ok ? outcome.error : hasLiveVersion(outcome.object) ? 'ok' : 'not_found')),
    delete: async (request) => {
      refuseUnconfirmedWrite('delete')
      return timed('delete', () => replication.delete(request))
    },
    cluster: describeSelf,
    clusterChange: (request) => ringChanges.request(request),
    joinCluster: (seed) => membershipAndDetection.joinAnotherCluster(seed),
    preflist: (key) => replication.preflist(key),
    repair: (partition) => antiEntropy.repairNow(partition),
    stats: async () => ({
      node: options.name,
      uptimeMs: clock.nowMs() - startedAtMs,
      writeBufferMs: options.writeBufferMs,
      bufferedObjects: store.bufferedCount,
      keys: store.objectCount,
      ...(store.writesStoppedBy === undefined ? {} : {writesStopped: store.writesStoppedBy}),
      // While the node serves out its stop delay (dyn start --stop-delay-ms): what is left of it, so
      // that a watcher (dyn top) shows the node stopping, as /ready and dyn cluster status do.
      ...(stopAnnounced === undefined ? {} : {stoppingInMs: stoppingInMs()}),
      ...(parts.storeBytes === undefined ? {} : {storeBytes: await parts.storeBytes()}),
      ...diskSpaceStats(await parts.diskSpace?.()),
      ...stats.snapshot(statsOf(subsystems)),
      ...(parts.admission === undefined ? {} : {admission: parts.admission.stats()}),
      ...(parts.tlsStats === undefined ? {} : {tls: parts.tlsStats()}),
    }),
    health: healthOfSelf,
    clusterStatus: (timeoutMs) => status.gather(timeoutMs),
  }

  return {
    name: options.name,
    get actor() {
      return writeActor.current
    },
    service,
    router: router.handle,
    transport: rawTransport,
    membership,
    store,
    hints,
    subsystems,
    periodicTasks,
    countHttpRequest: (route) => stats.countHttpRequest(route),
    countRejected: (kind, reason) => stats.countRejected(kind, reason),
    left: ringChanges.left,
    failed: failure.promise,
    transfers: ringChanges.transfers,
    release: ringChanges.release,
    announceStop: (delayMs) => {
      assert(Number.isFinite(delayMs) && delayMs >= 0, 'announceStop: the delay is a number of ms, at least 0')
      stopAnnounced ??= {atMs: clock.monotonicMs(), delayMs}
    },
    stop: stopAll,
  }
}

/** /stats' disk fields: the data folder's disk, its size and what is free on it, when known. */
function diskSpaceStats(space: DiskSpace | undefined): Record<string, number> {
  return space === undefined ? {} : {diskFreeBytes: space.freeBytes, diskBytes: space.sizeBytes}
}

/**
 * The renewal of this node's epoch, which a release runs before it deletes handed-off copies
 * (transfer-release.ts): persist a new epoch first, then let every later write take the new
 * actor, and wait for the writes under the old one.
 */
function epochRenewal(identityKeeper: IdentityKeeper, writeActor: WriteActor, random: Random, log: (line: string) => void): () => Promise<void> {
  return async () => {
    const before = writeActor.current
    const identity = await identityKeeper.renewEpoch(random)
    await writeActor.replace(actorOf(identity))
    log(`new epoch: writing as ${writeActor.current} (was ${before}) before deleting handed-off copies`)
  }
}

/**
 * The membership view every subsystem reads: the member table and ring, persisted on every
 * change so that a restart comes back with its view of the ring. Writes are chained, so the table
 * on disk is never older than one persisted before it; `persisted` resolves once the last one is
 * done (the node waits for it before its store closes).
 */
function persistedMembership(
  table: MemberTable,
  name: string,
  transport: Transport,
  random: Random,
  store: Store,
  log: (line: string) => void,
  afterChange: (changed: MemberTable) => void,
  onRemoved: () => void,
): {membership: Membership; persisted: () => Promise<void>} {
  // Changes of one turn are one write (latest-writer.ts): an install and its removals land together.
  const writer = new LatestWriter<MemberTable>((newest) => store.putMeta(membersMetaName, newest), (error) => log(`could not persist the member table: ${error.message}`))
  const membership = new Membership(table, name, transport, random, {
    onChange: (changed) => {
      writer.offer(changed)
      afterChange(changed)
    },
    log,
    onRemoved,
  })
  return {membership, persisted: () => writer.settled()}
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
): Promise<{table: MemberTable; fromStore: boolean}> {
  const stored = await store.getMeta<MemberTable>(membersMetaName)
  if (stored !== undefined) {
    const mismatch = settingsMismatch({...stored.settings, ...options.explicitSettings}, stored.settings)
    if (mismatch !== undefined) {
      throw new DynError('cluster_config_mismatch', `this node's cluster was created with other settings (${mismatch}); start without those flags`)
    }
    refuseDeparted(stored, options.name)
    log(`restarting with the stored member table (${presentMembers(stored).length} member(s))`)
    if (options.seeds.length > 0) await checkSeedsOnRestart(transport, options.seeds, stored, self, log)
    return {table: stored, fromStore: true}
  }
  if (options.seeds.length === 0) {
    let clusterId = ''
    for (let i = 0; i < 16; i += 1) clusterId += random.int(16).toString(16)
    return {table: newMemberTable({...options.settings, clusterId}, self), fromStore: false}
  }
  const joined = await Membership.join(transport, options.seeds, self, options.explicitSettings, joinAttemptsMax, (ms) => sleep(scheduler, ms), log)
  log(`joined through a seed: ${presentMembers(joined).length} member(s)`)
  return {table: joined, fromStore: false}
}

/**
 * A node whose own stored row says it is gone has nothing to do on this folder, and stops before
 * its router opens or its tasks run, with a code of its own. One that had left served for seconds,
 * learnt it again and exited 0, as a stop does, so a supervisor that restarts on exit
 * (Restart=always) started it again and again (an SRE's walk). One that left handed off its data;
 * one that was removed handed off nothing, and its folder may hold the only copy of what it alone
 * acknowledged (w=1) and of its hints.
 */
function refuseDeparted(stored: MemberTable, name: string): void {
  const own = findMember(stored, name)
  if (own?.status !== 'left' || own.handedOff !== true) return
  const back = `To bring ${name} back, start it on an empty --data folder with --seeds of a member; do not restart it on this one (a service manager: do not restart on exit 2)`
  if (own.removed === true) throw new DynError('removed', `${name} was removed from the cluster (dyn cluster remove): this folder is kept as it was, and may hold the only copy of writes it alone acknowledged (w=1) and of its hints, so move it aside rather than delete it. ${back}`)
  throw new DynError('already_left', `${name} has left the cluster and handed off its data: this folder holds nothing the cluster needs. ${back}`)
}

/** What one member answered a DiskClockQuery about this node; `answered` false when it did not (in time). */
interface MemberAnswer {
  readonly name: string
  readonly answered: boolean
  /** Its refusal of this node's handshake, when that is why it did not answer. */
  readonly refusedHandshake?: string
  /** What it knows of this node's disk clock (a valid answer carries one). */
  readonly diskClock?: number
  /** Its table has this node removed, above the incarnation this node remembers, and the node is not rejoining: it must stop. */
  readonly removed: boolean
  /** A ring change under way removes this node. */
  readonly removing: boolean
  /** Its ring's members, when it named them (older nodes do not). */
  readonly ringMembers?: readonly string[]
}

/** An answer that counts towards confirming this node as a member: a valid one, saying neither removed nor removing. */
function confirms(answer: MemberAnswer): boolean {
  return answer.answered && answer.diskClock !== undefined && !answer.removed && !answer.removing
}

/** Asks one member, over the internode port, what it knows of this node (DiskClockQuery). */
function diskClockAsker(transport: Transport, options: NodeSettings, remembered: Member | undefined, isNewEpoch: boolean): (peer: Member) => Promise<MemberAnswer> {
  // A new disk under the name is a rejoin, which its join already made a member again, and a node
  // that remembers its own removal is rejoining under the name: no removal answered stops either.
  const removalApplies = !isNewEpoch && remembered?.removed !== true
  return async (peer) => {
    const answer = await transport.request(peer.rpcAddress, MessageType.DiskClockQuery, {name: options.name}, options.requestTimeoutMs)
    if (!answer.ok) return {name: peer.name, answered: false, removed: false, removing: false, ...(answer.code === unauthenticatedCode ? {refusedHandshake: answer.message} : {})}
    const said = answer.body as {diskClock?: unknown; removed?: unknown; incarnation?: unknown; removing?: unknown; ringMembers?: unknown} | null
    const diskClock = said?.diskClock
    const ringMembers = said?.ringMembers
    return {
      name: peer.name,
      answered: true,
      ...(Number.isSafeInteger(diskClock) && (diskClock as number) >= 0 ? {diskClock: diskClock as number} : {}),
      // Only a removal of this node as it remembers itself, or later: a removed row below its own
      // incarnation is one a rejoin under the name has replaced, which that member has not heard of.
      removed: removalApplies && said?.removed === true && typeof said.incarnation === 'number' && said.incarnation > (remembered?.incarnation ?? Number.POSITIVE_INFINITY),
      removing: said?.removing === true,
      ...(Array.isArray(ringMembers) && ringMembers.length <= membersMax && ringMembers.every((name: unknown) => typeof name === 'string' && namePattern.test(name)) ? {ringMembers: ringMembers as string[]} : {}),
    }
  }
}

/** The members of a table's ring: the committed ring's, and those of a change under way. */
function ringNamesOf(table: MemberTable): string[] {
  const names = new Set<string>(ringMembers(table))
  for (const name of table.ring?.next?.members ?? []) names.add(name)
  return [...names]
}

/**
 * The start's disk check (src/node/disk-check.ts): ask every present member what it knows of this
 * node's disk clock. On a store that is not new, a higher value anywhere is an old disk, and the
 * start is refused; a new store takes over the highest value, so that its own later restarts
 * compare against it. Either way this node's row then carries its disk clock. Answers the members
 * that confirm this node (membership-confirmation.ts).
 */
async function checkDisk(deps: {
  readonly options: NodeSettings
  readonly membership: Membership
  readonly scheduler: Scheduler
  readonly identityKeeper: IdentityKeeper
  readonly isNewEpoch: boolean
  readonly remembered: Member | undefined
  readonly askMember: (peer: Member) => Promise<MemberAnswer>
  readonly log: (line: string) => void
}): Promise<{readonly confirming: readonly MemberAnswer[]}> {
  const {options, membership, identityKeeper} = deps
  const peers = presentMembers(membership.table).filter((member) => member.name !== options.name)
  const answers = new Map<string, MemberAnswer>()
  const report = await askPeersForDiskClock({
    peers,
    ask: async (peer) => {
      const answer = await deps.askMember(peer)
      answers.set(peer.name, answer)
      return answer.diskClock
    },
    wait: (ms) => sleep(deps.scheduler, ms),
  })
  // Members that refused this node's handshake, by name: its secret is not theirs.
  const refusedBy = new Map([...answers.values()].flatMap((answer) => (answer.refusedHandshake === undefined ? [] : [[answer.name, answer.refusedHandshake] as const])))
  // Members whose table says this node was removed (dyn cluster remove while it was down).
  const removedBy = new Set([...answers.values()].filter((answer) => answer.removed).map((answer) => answer.name))
  // A member restarted on its folder with another --secret-file (and no --seeds, which would have
  // been refused) served its API and looked healthy, while every write through it failed on the
  // others' refusals (a new user's walk): when no member answered and some refused its handshake,
  // the start is refused as a join with that secret is.
  if (report.answered === 0 && refusedBy.size > 0) {
    const names = [...refusedBy.keys()].sort(compareNames)
    const first = names[0] as string
    const message = refusedBy.get(first) as string
    // The refusal says which proof the members wanted (the secret, or TLS), and what to do: the
    // summary names both, since a member without TLS flags was once told to fix its secret.
    throw new DynError('unauthenticated', `${names.join(', ')} refused this node's internode handshake (${first}: ${message}): ${options.name} does not prove itself as its cluster asks. Start it as the refusal says: with the cluster's --secret-file (or without one, if the cluster has none), and with --tls-cert, --tls-key and --tls-ca if the cluster runs TLS`)
  }
  // Restarted on its folder after a removal: the node stops before its API opens. Serving even
  // for the moment gossip takes to tell it, it took writes through its stale ring that it alone
  // acknowledged (w=1) and then dropped as it stopped (a new user's walk saw it answer). A rejoin
  // is not stopped (diskClockAsker).
  if (removedBy.size > 0) throw removedWhileAway(options.name, removedBy, 'does not start')
  if (peers.length > 0 && report.answered === 0) {
    deps.log(`no member answered the disk check (${peers.map((peer) => peer.name).join(', ')}); starting without it: an old disk found later stops this node`)
  }
  const rememberedClock = deps.remembered?.diskClock ?? 0
  const known = Math.max(report.highestKnown, rememberedClock)
  if (deps.isNewEpoch) {
    if (known > 0) deps.log(`new disk: taking over disk clock ${known} the cluster knew of ${options.name}`)
    await identityKeeper.raiseTo(known)
  } else if (known > identityKeeper.diskClock) {
    throw oldDiskError(options.name, identityKeeper.diskClock, known, report.highestKnown === known ? report.knownBy : [])
  }
  membership.raiseDiskClocks([[options.name, identityKeeper.diskClock]])
  return {confirming: [...answers.values()].filter(confirms)}
}

/** The refusal of a node restarted on its folder after a removal that members told it of: at its start, or in a later round (then it stops). */
function removedWhileAway(name: string, removedBy: ReadonlySet<string>, what: 'does not start' | 'stops'): DynError {
  const names = [...removedBy].sort(compareNames)
  const onFolder = what === 'does not start' ? 'so it does not start on this folder and hands nothing off' : 'so it stops, handing nothing off; it took no writes meanwhile, not having confirmed that it was still a member'
  return new DynError(
    'removed',
    `${name} was removed from the cluster while it was away (dyn cluster remove; ${names.join(', ')} ${names.length === 1 ? 'says' : 'say'} so): a removal gives up what only it held, ${onFolder}. The folder is kept as it was, and may hold the only copy of writes it alone acknowledged (w=1) and of its hints: move it aside rather than delete it. To bring ${name} back, start it on an empty --data folder with --seeds of a member (a service manager: do not restart on exit 2)`,
    {removedBy: names},
  )
}

/** How long a node not yet confirmed as a member waits between two rounds of asking the others again. */
export const membershipConfirmationRetryMs = 1000

/** A failure a running node may meet once; `promise` resolves with the first, and never rejects. */
function deferredFailure(): {promise: Promise<DynError>; readonly failed: boolean; fail(error: DynError): void} {
  let settle: (error: DynError) => void = () => undefined
  let failed = false
  const promise = new Promise<DynError>((resolve) => {
    settle = resolve
  })
  return {
    promise,
    get failed() {
      return failed
    },
    fail(error) {
      if (failed) return
      failed = true
      settle(error)
    },
  }
}

/**
 * The message types that bring copies of objects into this node's store (replica writes, hints
 * delivered, objects handed off). None is taken from a node the claimant removed: a removal gives
 * up what only that node held, no reaper waited for it, and one that was only cut off may send
 * hints or hand-offs older than deletes reaped since before it hears that it was removed
 * (simulator seed 2018: its hints brought back versions a reaped tombstone had covered).
 */
const copyBearingTypes: ReadonlySet<number> = new Set([MessageType.ReplicaPut, MessageType.CoordinatePut, MessageType.CoordinateDelete, MessageType.HintDelivery, MessageType.ObjectHandoff])

/**
 * The periodic tasks that are background work in the sense of paper §6.5: they move or repair
 * data that foreground requests already wrote, and can run a little later without harm. Under
 * pressure (admission-core.ts's lower threshold) their passes are skipped, a bounded number of
 * times in a row (admission.ts), before any foreground request is shed. Gossip, heartbeats, the
 * claimant, the join commit and the write-buffer flush are not: they keep the node's view of the
 * cluster (and its acknowledged writes) current, and cost little.
 */
export const backgroundTaskNames: ReadonlySet<string> = new Set(['hinted handoff', 'transfers', 'release handoff', 'anti-entropy', 'tombstone reaping'])

function yieldingUnderPressure(task: PeriodicTask, admission: AdmissionControl | undefined): () => Promise<void> {
  if (admission === undefined || !backgroundTaskNames.has(task.name)) return () => task.run()
  return admission.yieldingPass(() => task.run())
}

/**
 * A put forwarded to this node to coordinate as a home (CoordinatePut) is foreground work this
 * node has not yet taken on: admission control admits it or refuses it as a whole, before
 * anything is written, with `overloaded`, which the forwarder treats as "certainly not taken"
 * and answers by trying the next home (put-coordinator.ts). Replica requests are not admitted
 * here: they belong to a put or get that its coordinator already admitted, and refusing one
 * would leave that put half done (admission.ts).
 */
function admittingForwardedPuts(route: Router, admission: AdmissionControl | undefined): Router {
  if (admission === undefined) return route
  return async (type, body, fromNode) => {
    if (type !== MessageType.CoordinatePut) return route(type, body, fromNode)
    const admitted = admission.arrive()
    if (!admitted.ok) throw new DynError('overloaded', `${fromNode}'s forwarded put was not taken: this node is working on ${admitted.inFlight} requests, as many as it can answer in time`)
    try {
      return await route(type, body, fromNode)
    } finally {
      admission.complete(admitted.ticket)
    }
  }
}

/**
 * A node restarted on its folder that has not yet confirmed it is still a member
 * (membership-confirmation.ts) takes no copies, as it takes no client write: a put forwarded to
 * it to coordinate, a replica write, a hint or a hand-off. Each is counted by its sender as a copy
 * kept, and a node removed while it was away drops everything it holds once it learns so: a
 * member whose ring still lists it (one that has not heard of the removal either) would otherwise
 * have a put acknowledged by a copy that is about to go. The refusal comes before any work, as
 * `not_ready`, which every sender takes as certainly not taken (replica-client.ts): a forwarder
 * asks the next home or coordinates itself, a coordinator a fallback in its place, and hints and
 * hand-offs are kept and sent again. Reads go on.
 */
function refusingCopiesWhileUnconfirmed(route: Router, unconfirmedReason: () => string | undefined): Router {
  // Not async: every internode message passes here, and a confirmed node adds no promise to it.
  return (type, body, fromNode) => {
    const reason = copyBearingTypes.has(type) ? unconfirmedReason() : undefined
    if (reason !== undefined) return Promise.reject(new DynError('not_ready', `${reason}. It stores nothing ${fromNode} sends until then`, {membershipUnconfirmed: true}))
    return route(type, body, fromNode)
  }
}

/**
 * Copies are not taken from a node the claimant removed (above), nor by a node that runs alone
 * from one it does not know. A node started alone whose `dyn cluster join` reached the seed but
 * whose answer was lost is a member of the seed's cluster without knowing it: that cluster's
 * nodes send it replicas and hand-offs, while it refuses their gossip as another cluster's. Had
 * it stored them, it would hold data, and the join's next try would be refused ("holds data of
 * its own") for ever (simulator seed 117399666). Refused, they are retried, kept as hints or
 * repaired once the next try has made it a member that knows it.
 */
function refusingCopiesFromOutsiders(route: Router, membership: Membership, self: string, copiesInFlight: Map<string, number>): Router {
  return async (type, body, fromNode) => {
    if (!copyBearingTypes.has(type)) return route(type, body, fromNode)
    const table = membership.table
    const row = findMember(table, fromNode)
    if (row?.removed === true) throw new DynError('removed', `${fromNode} was removed from the cluster: nothing it sends is stored`)
    if (row === undefined && runsAlone(table, self)) {
      // `overloaded`: certainly not stored, so the sender retries, keeps a hint or asks a spare;
      // a node that only lags (its table not yet persisted with a member's join) takes it later.
      throw new DynError('overloaded', `this node runs alone and ${fromNode} is not a member it knows: it stores nothing from another cluster until it joins it (dyn cluster join)`)
    }
    // Counted until handled: a reap check waits for the copies of a node removed meanwhile (anti-entropy).
    copiesInFlight.set(fromNode, (copiesInFlight.get(fromNode) ?? 0) + 1)
    try {
      return await route(type, body, fromNode)
    } finally {
      const left = (copiesInFlight.get(fromNode) ?? 1) - 1
      if (left === 0) copiesInFlight.delete(fromNode)
      else copiesInFlight.set(fromNode, left)
    }
  }
}

/** A member row without its machine: the machine in our own row is always the one our identity keeps. */
function withoutMachine(row: Member): Member {
  const {machine: _machine, ...rest} = row
  return rest
}
