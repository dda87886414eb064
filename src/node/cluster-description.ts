/**
 * GET /cluster as one node serves it: the cluster's settings and the defaults a request runs
 * with, every member with its gossiped status beside this node's own view of it (reachability,
 * hints kept for it), the ring's owners, the claimant's ring state, and this node's transfers.
 * A member's row mixes what three subsystems know (membership, hints, ring changes), so the
 * node puts the description together rather than each subsystem serving a part of it.
 */

import {effectiveQuorum} from '../api/params.js'
import type {HintsSubsystem} from '../handoff/hints-subsystem.js'
import type {RingChangeSubsystem} from '../handoff/ring-change-subsystem.js'
import type {Reachability} from '../membership/failure-detector.js'
import {ringMembers, statusOf} from '../membership/member-table.js'
import type {Membership} from '../membership/membership.js'
import {machineOfMember, ownershipCounts} from '../ring/ring.js'

/** What the description is read from. */
export interface ClusterSources {
  readonly membership: Membership
  readonly self: string
  reachabilityOf(name: string): Reachability
  readonly hints: Pick<HintsSubsystem, 'memberHints'>
  readonly ringChanges: Pick<RingChangeSubsystem, 'claimant' | 'transfersView'>
}

export function describeCluster(sources: ClusterSources): Record<string, unknown> {
  const {membership, reachabilityOf} = sources
  const counts = ownershipCounts(membership.ring)
  const settings = membership.table.settings
  const {n, r, w} = effectiveQuorum({n: settings.defaultN, r: settings.defaultR, w: settings.defaultW, dw: 0}, ringMembers(membership.table).length)
  return {
    node: sources.self,
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
      // Of a member that left: whether it has handed off everything (or was removed). Until then
      // it still runs, releasing its partitions and delivering its hints.
      ...(statusOf(membership.table, member) === 'left' ? {handedOff: member.handedOff === true} : {}),
      incarnation: member.incarnation,
      // Membership status (gossiped, the cluster's) and reachability (this node's own view) are apart.
      reachability: reachabilityOf(member.name),
      up: reachabilityOf(member.name) !== 'down',
      ...sources.hints.memberHints(member.name),
      partitions: counts.get(member.name) ?? 0,
      // The machine the ring places it on (a joiner's: what its row says): preference lists keep a
      // key's homes on distinct machines.
      machine: membership.ring.members.includes(member.name) ? machineOfMember(membership.ring, member.name) : (member.machine ?? member.name),
    })),
    machineCount: membership.ring.machineCount,
    owners: membership.ring.owners,
    ring: {
      version: membership.table.ring?.version,
      claimant: sources.ringChanges.claimant(),
      staged: membership.table.ring?.staged ?? [],
      transition: membership.table.ring?.next === undefined ? null : {id: membership.table.ring.next.id, members: membership.table.ring.next.members, removing: membership.table.ring.next.removing, owners: membership.table.ring.next.owners},
    },
    transfers: sources.ringChanges.transfersView(),
  }
}
