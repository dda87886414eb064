/**
 * Hinted handoff as one of a node's subsystems (paper §4.6): every handoff interval the hint
 * sender (handoff-sender.ts) offers the hints this node keeps as a fallback to their targets,
 * or, for a target that is no longer a member, to their keys' current homes. It serves no
 * internode message: a target merges a HintDelivery on its replica side (replication). Its part
 * of GET /stats is the `hints` section; GET /cluster shows, per member, the hints pending for it
 * and any back-off.
 *
 * The hint store itself (hints.ts) is a shared part, not this subsystem's: replication writes
 * into it as a fallback, and the node waits for its writes before the store closes.
 */

import type {Clock} from '../clock.js'
import {findMember, nextRingOf} from '../membership/member-table.js'
import type {Membership} from '../membership/membership.js'
import type {Subsystem} from '../subsystem.js'
import type {Transport} from '../transport/transport.js'
import {HandoffSender, handoffIntervalMsDefault, standingIn} from './handoff-sender.js'
import type {BackoffView, DeliveryBody} from './handoff-sender.js'
import type {HintStore} from './hints.js'

/**
 * A delivery waits for up to `batchEntriesMax` synced merges on the target, which may take longer
 * than a client request is given: it gets at least this long.
 */
export const deliveryTimeoutMsMin = 5000

/** The shared parts hinted handoff is built from. */
export interface HintsParts {
  readonly self: string
  readonly hints: HintStore
  readonly transport: Transport
  readonly clock: Clock
  readonly membership: Membership
  /** The failure detector's opinion of a member: false only when it sees the member down. */
  isUp(name: string): boolean
  /** Merges hints whose home is this node into its own store, as a HintDelivery receiver does (replication's replica side). */
  deliverToSelf(body: DeliveryBody): Promise<unknown>
  /** Hints in one HintDelivery at most, as the receiving side checks it. */
  readonly batchEntriesMax: number
  readonly requestTimeoutMs: number
  /** How often hints are offered; `handoffIntervalMsDefault` when absent. */
  readonly handoffIntervalMs?: number
  readonly log: (line: string) => void
}

/** What GET /cluster shows of hints in a member's row. */
export interface MemberHints {
  /** Writes this node keeps as a fallback for that member, waiting for it to be reachable. */
  readonly hintsPending: number
  /** Present only while delivery to it backs off after failed rounds (handoff-backoff.ts). */
  readonly hintBackoff?: BackoffView
}

export interface HintsSubsystem extends Subsystem {
  memberHints(name: string): MemberHints
}

export function hintsSubsystem(parts: HintsParts): HintsSubsystem {
  const {hints, membership} = parts
  const handoffIntervalMs = parts.handoffIntervalMs ?? handoffIntervalMsDefault
  // Since the node started: hints their target acknowledged durably, removed here; of those, the
  // ones for a node no longer a member, handed to their keys' current homes instead; and hints a
  // target refused for good (a limit its copy reached), removed without delivery.
  const counts = {delivered: 0, redirected: 0, dropped: 0}
  const sender = new HandoffSender({
    self: parts.self,
    hints,
    transport: parts.transport,
    clock: parts.clock,
    backoffBaseMs: handoffIntervalMs,
    standingOf: (name) => standingIn(membership.table, name),
    homeRings: () => {
      const next = nextRingOf(membership.table)
      return next === undefined ? [membership.ring] : [membership.ring, next]
    },
    rpcAddressOf: (name) => findMember(membership.table, name)?.rpcAddress,
    isUp: parts.isUp,
    deliverToSelf: parts.deliverToSelf,
    requestTimeoutMs: Math.max(parts.requestTimeoutMs, deliveryTimeoutMsMin),
    batchEntriesMax: parts.batchEntriesMax,
    log: parts.log,
    onDelivered: (_target, count) => {
      counts.delivered += count
    },
    onRedirected: (_target, count) => {
      counts.redirected += count
    },
    onDropped: (_target, count) => {
      counts.dropped += count
    },
  })
  return {
    name: 'hints',
    handlers: new Map(),
    periodicTasks: [{name: 'hinted handoff', intervalMs: handoffIntervalMs, run: () => sender.round()}],
    stats: () => ({
      hints: {written: hints.written, delivered: counts.delivered, redirected: counts.redirected, dropped: counts.dropped, refused: hints.refused, pending: hints.pendingTotal},
    }),
    // A round under way is not waited for: each hint it removes was acknowledged first, and the
    // node waits for the hint store's writes (hints.idle) before its store closes.
    stop: async () => undefined,
    memberHints: (name) => {
      const backoff = sender.backoffOf(name)
      return backoff === undefined ? {hintsPending: hints.pendingFor(name)} : {hintsPending: hints.pendingFor(name), hintBackoff: backoff}
    },
  }
}
