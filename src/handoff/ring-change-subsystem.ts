/**
 * Ring changes as one of a node's subsystems (paper §4.9, adding and removing nodes; riak_core's
 * claimant and handoff manager): the claimant that stages, plans, commits and installs
 * membership changes (src/membership/claimant.ts), the transfers that fetch a new home's
 * partitions before an install (transfer.ts), the release that hands off and deletes what this
 * node stopped being a home of after one (transfer-release.ts), and the commit of this node's
 * own join. They are one subsystem because they are one sequence: a commit plans transfers, the
 * claimant installs once they are received, and the install starts the release.
 *
 * It serves ClusterChange (a change forwarded to the claimant) and TransferPage (a page of a
 * partition for a new home); its part of GET /stats is the `release` section; GET /cluster shows
 * the claimant and the transfers. Its stop lets the release pass and the transfers under way
 * end their current page.
 */

import type {Clock} from '../clock.js'
import {DynError} from '../errors.js'
import {Claimant} from '../membership/claimant.js'
import type {ClusterChangeRequest, PlanView} from '../membership/claimant.js'
import {findMember, nextRingOf, replicaCountsInUse} from '../membership/member-table.js'
import type {Membership} from '../membership/membership.js'
import type {Store} from '../storage/store.js'
import type {StoredObject} from '../storage/stored-object.js'
import type {MessageHandler, PeriodicTask, Subsystem} from '../subsystem.js'
import {MessageType} from '../transport/message-type.js'
import {isLoggedCount} from '../transport/rpc-common.js'
import type {Transport} from '../transport/transport.js'
import {planTransfers} from './transfer-plan.js'
import {TransferManager, transferIntervalMs} from './transfer.js'
import type {TransferSnapshot} from './transfer.js'
import {ReleaseHandoff} from './transfer-release.js'

/** The shared parts ring changes are built from. */
export interface RingChangeParts {
  readonly self: string
  readonly store: Store
  readonly transport: Transport
  readonly clock: Clock
  readonly membership: Membership
  /** The failure detector's opinion of a member: false only when it sees the member down. */
  isUp(name: string): boolean
  readonly requestTimeoutMs: number
  readonly gossipIntervalMs: number
  /**
   * Whether this node commits its own join once nothing else is staged and no transition runs:
   * a join made through --seeds does; one made with dyn cluster join is only staged, for the
   * operator's plan and commit.
   */
  readonly commitsOwnJoin: boolean
  /** Merges a transferred object into this node's copy (the replica's merge, from replication). */
  mergeObject(partition: number, key: string, object: StoredObject): Promise<{ok: true} | {ok: false; message: string}>
  /** Checks an object from the network (src/coordinator/messages.ts). */
  isStoredObject(x: unknown): x is StoredObject
  /** This node stores no object and keeps no hint: a new cluster's ring is then installed at its first commit. */
  holdsNothing(): boolean
  /** The hints this node keeps for other nodes, not yet delivered. */
  hintsPending(): number
  /** The actor this node writes new versions under now. */
  currentActor(): string
  /** Takes a new epoch, persisted, and resolves once every write begun under the old actor has ended. */
  renewActor(): Promise<void>
  readonly log: (line: string) => void
}

/** What GET /cluster shows of this node's transfers. */
export interface TransfersView extends TransferSnapshot {
  /** Partitions this node released at an install and has not finished handing off. */
  readonly releasedPartitionsPending: number
}

export interface RingChangeSubsystem extends Subsystem {
  /** A membership change (stage, plan, commit, clear), decided here if this node is the claimant, else forwarded to it. */
  request(request: ClusterChangeRequest): Promise<unknown>
  /** The claimant this node believes in (itself included). */
  claimant(): string | undefined
  transfersView(): TransfersView
  /** Resolves once this node has left the ring and handed off every partition it held. */
  readonly left: Promise<void>
  readonly transfers: TransferManager
  readonly release: ReleaseHandoff
}

/** Gossip rounds a node that left keeps running after saying it handed everything off. */
export const handedOffSpreadRounds = 3

export function ringChangeSubsystem(parts: RingChangeParts): RingChangeSubsystem {
  const {self, store, transport, clock, membership, log} = parts
  let announceLeft: () => void = () => undefined
  const left = new Promise<void>((resolve) => {
    announceLeft = resolve
  })
  const transfers = new TransferManager({
    self,
    store,
    transport,
    clock,
    membership,
    requestTimeoutMs: parts.requestTimeoutMs,
    mergeObject: parts.mergeObject,
    isStoredObject: parts.isStoredObject,
    isUp: parts.isUp,
    log,
  })
  const release = new ReleaseHandoff({
    self,
    store,
    transport,
    clock,
    ring: () => membership.ring,
    pendingRing: () => nextRingOf(membership.table),
    rpcAddressOf: (name) => findMember(membership.table, name)?.rpcAddress,
    // Coordinators may still route by the old ring for one request timeout, and learn of the
    // install within two gossip rounds.
    settleMs: parts.requestTimeoutMs + 2 * parts.gossipIntervalMs,
    currentActor: parts.currentActor,
    renewActor: parts.renewActor,
    log,
  })
  const claimant = new Claimant(membership, self, transport, parts.isUp, (before, after, gone, table) => planTransfers(before, after, replicaCountsInUse(table), gone), log, parts.holdsNothing)
  const ownStatus = (): string | undefined => findMember(membership.table, self)?.status
  /** When this node, having left, found everything handed off and said so in its row. */
  let handedOffAtMs: number | undefined
  let waitingForHintsLogged = false

  const periodicTasks: PeriodicTask[] = [
    {name: 'claimant', intervalMs: parts.gossipIntervalMs, run: () => claimant.tick()},
    {name: 'transfers', intervalMs: transferIntervalMs, run: () => transfers.tick()},
    {
      name: 'release handoff',
      intervalMs: transferIntervalMs,
      run: async () => {
        await release.tick()
        // A node that has left exits only once it has handed off every partition it held and
        // delivered every hint it keeps (a hint may be an older version of a key whose tombstone
        // the others would reap without asking a node whose row says it handed off), and once
        // its row has said so for a few gossip rounds: until the others hear it, they may not
        // reap a tombstone without this node's answer (reaper.ts).
        if (ownStatus() !== 'left' || release.pendingCount > 0 || release.stateLoading) return
        const hintsPending = parts.hintsPending()
        if (hintsPending > 0) {
          if (!waitingForHintsLogged) log(`left the ring and handed off its partitions; delivering ${hintsPending} hint(s) it keeps for other nodes before it says it handed off everything and exits`)
          waitingForHintsLogged = true
          return
        }
        if (handedOffAtMs === undefined) {
          if (findMember(membership.table, self)?.handedOff !== true) membership.updateOwnRow({handedOff: true})
          handedOffAtMs = clock.monotonicMs()
        }
        if (clock.monotonicMs() - handedOffAtMs >= handedOffSpreadRounds * parts.gossipIntervalMs) announceLeft()
      },
    },
  ]
  if (parts.commitsOwnJoin) {
    /** Rounds whose commit the claimant refused because it cannot reach this node (logged at powers of two). */
    let unreachableRefusals = 0
    /**
     * Whether this node's last commit request is still unanswered. The rounds do not wait for each
     * other, and a claimant that cannot reach this node takes seconds over each request (it dials
     * this node first): one request a round would queue without bound behind its decisions, and
     * every operator's command with them (a review's simulation: every plan timed out).
     */
    let requesting = false
    periodicTasks.push({
      name: 'join commit',
      intervalMs: parts.gossipIntervalMs,
      run: async () => {
        if (ownStatus() !== 'joining' || requesting) return
        requesting = true
        // Refused while another transition runs or other changes are staged: asked again next round.
        // The claimant cannot reach this node where it says it is (a peer can, or it could not
        // have joined), and leaves its join out: said in this node's log, the one its operator
        // reads, with what to do, at the first refusal and at every power of two.
        const leftOut = (why: string): void => {
          unreachableRefusals += 1
          if (isLoggedCount(unreachableRefusals)) log(`this node's join cannot be committed (${unreachableRefusals} time(s) so far): ${why}`)
        }
        await claimant.request({op: 'commit', joinsOnly: true}).then(
          (answer) => {
            const plan = answer as Partial<PlanView> | null
            // A commit of other nodes' joins, which left this one out.
            const mine = plan?.blocked?.find((change) => change.node === self)
            if (mine !== undefined && plan?.members?.includes(self) !== true) return leftOut(mine.message)
            // Named by its transition id, as dyn cluster commit, status and the claimant's log name it.
            const transition = plan?.transition
            log(`committed this node's join${typeof transition === 'string' ? `: ring change ${transition}` : ''}`)
          },
          (error: unknown) => {
            // Also a claimant that sees too few members up to commit anything (no_majority): the join waits for the network.
            if (error instanceof DynError && (error.code === 'joiner_unreachable' || error.code === 'no_majority')) leftOut(error.message)
          },
        ).finally(() => {
          requesting = false
        })
      },
    })
  }

  return {
    name: 'ring changes',
    handlers: new Map<number, MessageHandler>([
      [MessageType.ClusterChange, (body) => claimant.handle(body)],
      [MessageType.TransferPage, (body) => transfers.serve(body)],
    ]),
    periodicTasks,
    stats: () => ({release: {...release.counts, pendingPartitions: release.pendingCount}}),
    // The release first, as the node always stopped them: a failure of one does not keep the other running.
    stop: async () => {
      await release.stop().catch(() => undefined)
      await transfers.stop()
    },
    request: (request) => claimant.request(request),
    claimant: () => claimant.claimant(),
    transfersView: () => ({...transfers.snapshot(), releasedPartitionsPending: release.pendingCount}),
    left,
    transfers,
    release,
  }
}
