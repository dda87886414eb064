/**
 * The cluster's status as every member sees it, gathered by whichever node a user contacts:
 * `GET /cluster/status`, behind `dyn cluster status --node HOST:PORT`. On several machines a user
 * may reach one node only (a bastion, a NAT), and the question worth asking is not one node's
 * view but whether the members agree: reachability is each node's own judgement (paper §4.8), so
 * two nodes may disagree about a third, and only asking each of them shows it. The contacted node
 * asks every member over the internode port (`NodeStatusQuery`), in parallel, each within a
 * timeout, and answers with each member's own view or why it gave none.
 *
 * The answer of one member is its health (ring hash, status, anti-entropy) and its GET /cluster
 * without the ring's owners (an array of one entry per partition, which status does not show).
 */

import {DynError} from '../errors.js'
import {statusOf} from '../membership/member-table.js'
import type {Membership} from '../membership/membership.js'
import type {Subsystem} from '../subsystem.js'
import {MessageType} from '../transport/message-type.js'
import type {Transport} from '../transport/transport.js'

/** What one node says of itself and of the others. */
export interface OwnStatus {
  readonly health: Record<string, unknown>
  readonly cluster: Record<string, unknown>
}

/** One member in the gathered status: its own view, or why it did not give one. */
export type MemberStatusEntry = {
  readonly name: string
  readonly apiAddress: string
  readonly rpcAddress: string
  /** Its status as the contacted node's table tells it (a member that left and handed off is not asked). */
  readonly status: string
  /**
   * It has left the ring but its row does not yet say it handed off everything: it is still
   * sending its copies to their new homes and delivering its hints, and exits by itself once done.
   */
  readonly handingOff?: true
} & ({readonly answered: true; readonly view: OwnStatus} | {readonly answered: false; readonly error: string; readonly message: string})

export interface GatheredStatus {
  /** The contacted node, which asked the others. */
  readonly node: string
  readonly members: readonly MemberStatusEntry[]
}

/** The longest a caller may let the contacted node wait for the members: a status is a quick look. */
export const statusTimeoutMsMax = 30_000

export interface StatusSubsystem extends Subsystem {
  gather(timeoutMs: number): Promise<GatheredStatus>
}

export interface StatusDeps {
  readonly self: string
  readonly transport: Transport
  readonly membership: Membership
  /** This node's own view, as its GET /health and GET /cluster serve it. */
  ownStatus(): OwnStatus
}

export function statusSubsystem(deps: StatusDeps): StatusSubsystem {
  const own = (): OwnStatus => {
    const {health, cluster} = deps.ownStatus()
    const {owners: _owners, ring, ...rest} = cluster as {owners?: unknown; ring?: {transition?: {owners?: unknown} | null}}
    const transition = ring?.transition === undefined || ring.transition === null ? ring?.transition : (({owners: _o, ...t}) => t)(ring.transition)
    return {health, cluster: {...rest, ...(ring === undefined ? {} : {ring: {...ring, transition}})}}
  }
  return {
    name: 'status',
    handlers: new Map([[MessageType.NodeStatusQuery, () => own()]]),
    periodicTasks: [],
    stats: () => ({}),
    stop: async () => undefined,
    async gather(timeoutMs) {
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > statusTimeoutMsMax) {
        throw new DynError('bad_parameter', `timeout must be a whole number of milliseconds from 1 to ${statusTimeoutMsMax}, not ${timeoutMs}`)
      }
      const table = deps.membership.table
      const members = await Promise.all(table.members.map(async (member): Promise<MemberStatusEntry> => {
        const status = statusOf(table, member)
        // A member out of the ring whose row does not say it handed off still runs, releasing
        // what it held: it is asked, so that no one takes it for stopped and stops it (a walk
        // saw "left the cluster" of a node with 40 partitions still to release).
        const handingOff = status === 'left' && member.handedOff !== true
        const base = {name: member.name, apiAddress: member.apiAddress, rpcAddress: member.rpcAddress, status, ...(handingOff ? {handingOff: true as const} : {})}
        if (member.name === deps.self) return {...base, answered: true, view: own()}
        // A member that left and handed off is stopped by design: asking it would only cost the timeout.
        if (status === 'left' && !handingOff) return {...base, answered: false, error: 'left', message: 'it left the cluster'}
        const answer = await deps.transport.request(member.rpcAddress, MessageType.NodeStatusQuery, {}, timeoutMs)
        if (!answer.ok) return {...base, answered: false, error: answer.code ?? answer.error, message: answer.message}
        if (!isOwnStatus(answer.body)) return {...base, answered: false, error: 'bad_request', message: 'its answer is not a status (a node of another version?)'}
        return {...base, answered: true, view: answer.body}
      }))
      return {node: deps.self, members}
    },
  }
}

function isOwnStatus(x: unknown): x is OwnStatus {
  const status = x as {health?: unknown; cluster?: unknown} | null
  return typeof status === 'object' && status !== null && typeof status.health === 'object' && status.health !== null && typeof status.cluster === 'object' && status.cluster !== null
}
