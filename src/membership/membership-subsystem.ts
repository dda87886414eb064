/**
 * Membership and failure detection as one of a node's subsystems (paper §4.8): gossip of the
 * member table with one random peer per round (membership.ts), and the heartbeats that feed this
 * node's failure detector (heartbeats.ts, failure-detector.ts). It serves Join and Gossip (the
 * table) and Ping (the detector), and `dyn cluster join SEED` for a node that runs alone.
 *
 * The member table itself (`Membership`) and the failure detector are shared parts, not this
 * subsystem's: every other subsystem reads the ring and the detector's opinions, and every
 * request the node makes feeds the detector through the transport. It adds nothing to
 * GET /stats and has nothing to stop: the node persists the table, and its rounds end by their
 * own timeouts.
 */

import type {Clock} from '../clock.js'
import {DynError} from '../errors.js'
import type {Store} from '../storage/store.js'
import type {MessageHandler, Subsystem} from '../subsystem.js'
import {MessageType} from '../transport/message-type.js'
import {isLoggedCount, notInternodeCode, unauthenticatedCode} from '../transport/rpc-common.js'
import type {Transport} from '../transport/transport.js'
import type {FailureDetector} from './failure-detector.js'
import {Heartbeats} from './heartbeats.js'
import type {Member} from './member-table.js'
import {findMember, isValidMemberTable, presentMembers, presentOrHandingOff, runsAlone} from './member-table.js'
import {joinRequestTimeoutMs, notInternodeSeed, unreachableSeeds} from './membership.js'
import type {Membership} from './membership.js'

/** The shared parts membership is built from. */
export interface MembershipParts {
  readonly self: string
  readonly membership: Membership
  /** The node's transport, observed by `detector`: the heartbeats' answers reach it that way. */
  readonly transport: Transport
  readonly detector: FailureDetector
  readonly clock: Clock
  /** Asked whether this node holds data before it joins another cluster. */
  readonly store: Store
  readonly gossipIntervalMs: number
  /**
   * Where the heartbeats report a member that advertises an address this node cannot reach, and
   * where `dyn cluster join` leaves what became of it.
   */
  readonly log?: (line: string) => void
}

export interface MembershipSubsystem extends Subsystem {
  /** dyn cluster join SEED: this node, alone and empty, joins the seed's cluster; throws DynError. */
  joinAnotherCluster(seed: string): Promise<unknown>
}

/** A seed is logged with at most this many characters: it comes from a client's request. */
const seedLoggedCharsMax = 100

export function membershipSubsystem(parts: MembershipParts): MembershipSubsystem {
  const {self, membership} = parts
  let joinFailures = 0
  const heartbeats = new Heartbeats(
    self,
    parts.transport,
    parts.detector,
    parts.clock,
    // A leaver is watched until it has handed off: one stopped before then is seen down, and says
    // so (/health, dyn top, dyn cluster status), since its hints and every reap wait for it.
    () => presentOrHandingOff(membership.table).filter((member) => member.name !== self),
    (name) => findMember(membership.table, name)?.rpcAddress,
    parts.log,
    () => membership.table.settings.clusterId,
  )
  return {
    name: 'membership',
    handlers: new Map<number, MessageHandler>([
      [MessageType.Join, (body) => membership.handleJoin(body)],
      [MessageType.Gossip, (body) => membership.handleGossip(body)],
      [MessageType.Ping, (body) => heartbeats.handlePing(body)],
    ]),
    periodicTasks: [
      // Also one round at once, so a new member is known cluster-wide without waiting a full interval.
      {name: 'gossip', intervalMs: parts.gossipIntervalMs, runsAtStart: true, run: () => membership.gossipRound()},
      {name: 'heartbeat', intervalMs: parts.detector.config.heartbeatIntervalMs, run: () => heartbeats.round()},
    ],
    stats: () => ({}),
    stop: async () => undefined,
    // Its outcome is logged as well as answered: the operator who reads the node's log later, or
    // another one, learns of a join that failed only from it. The seed comes from an HTTP query:
    // quoted and cut short, so that it cannot forge a line; failures are logged at the first and
    // every power of two, so that a client repeating a bad join cannot flood the log.
    joinAnotherCluster: (seed) =>
      joinAnotherCluster(membership, parts.store, parts.transport, seed, self).then(
        (joined) => {
          parts.log?.(`dyn cluster join: joined through ${seed} as joining; it owns nothing until dyn cluster plan and commit`)
          return joined
        },
        (error: unknown) => {
          joinFailures += 1
          if (isLoggedCount(joinFailures)) {
            parts.log?.(`dyn cluster join through ${JSON.stringify(seed.slice(0, seedLoggedCharsMax))} failed, nothing changed (${joinFailures} failed so far): ${(error instanceof Error ? error.message : String(error)).slice(0, 500)}`)
          }
          throw error
        },
      ),
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
  if (!runsAlone(table, self)) {
    throw new DynError('bad_parameter', `${self} is already a member of a cluster of ${presentMembers(table).length} members (the seed's, or another): only a node running alone joins through a seed; nothing was changed`)
  }
  if (!(await store.isObjectFree())) throw new DynError('bad_parameter', `${self} holds data of its own; start it on an empty --data folder to join another cluster`)
  const mine = findMember(table, self)
  if (mine === undefined) throw new DynError('internal', `${self} has no row of its own`)
  if (seed === mine.rpcAddress) throw new DynError('bad_parameter', `${seed} is ${self}'s own internode address: give the internode address (host:rpc-port) of a node of the cluster ${self} is to join`)
  // The machine goes with the row: the claimant records it in the ring when it commits the join.
  const member: Member = {name: self, rpcAddress: mine.rpcAddress, apiAddress: mine.apiAddress, status: 'joining', incarnation: mine.incarnation + 1, ...(mine.machine === undefined ? {} : {machine: mine.machine})}
  // The operator paces these tries (each run of the command is one) and is told how each failed,
  // so a try must connect even while the transport backs off from the last one's failure, which
  // would otherwise refuse it unsent ("next connect attempt in ..." that no one makes, the seed
  // just started or not), and the transport must not log the seed as unreachable with a back-off
  // that nothing follows (RequestOptions.callerPaced in transport.ts).
  const answer = await transport.request(seed, MessageType.Join, {member, requestedSettings: {}}, joinRequestTimeoutMs, {callerPaced: true})
  if (!answer.ok && answer.code === notInternodeCode) throw notInternodeSeed(seed, answer.message, mine, 'dyn cluster join')
  if (!answer.ok && answer.code === unauthenticatedCode) throw new DynError('unauthenticated', `could not join through the seed: ${answer.message}`)
  if (!answer.ok && answer.error !== 'remote') throw unreachableSeeds([{seed, message: answer.message}], 1, 'dyn cluster join')
  // The seed could not reach this node where it says it is (membership.ts, dialBackRefusal): its
  // code goes to the operator, whose fix is this node's --advertise, not the seed.
  if (!answer.ok && answer.code === 'joiner_unreachable') throw new DynError('joiner_unreachable', `the seed ${seed} refused the join: ${answer.message}`, {node: self, rpcAddress: mine.rpcAddress})
  if (!answer.ok) throw new DynError(answer.code === 'bad_parameter' || answer.code === 'cluster_config_mismatch' ? answer.code : 'unreachable', `the seed ${seed} refused the join: ${answer.message}`)
  const joined = (answer.body as {table?: unknown} | null)?.table
  if (!isValidMemberTable(joined)) throw new DynError('unreachable', `the seed ${seed} answered the join with something that is not a member table`)
  membership.adopt(joined)
  return {joined: seed, members: presentMembers(joined).length, status: 'joining'}
}
