/**
 * What `dyn cluster status` shows of each node's own view (paper §4.6, §4.8, §4.9): which peers it
 * reaches and the hints it keeps for them, the ring change staged or under way, and its ownership
 * transfers with progress and an ETA, as every node's GET /cluster reports them (`members`,
 * `ring` and `transfers`).
 */

import {DynClient} from '../client/http-client.js'
import type {ClientTls} from '../client/http-client.js'
import {counted} from './format.js'

/** How long status waits for one node's GET /cluster. */
export const transferProbeTimeoutMs = 2000

export interface TransferView {
  readonly transition?: string | null
  readonly total?: number
  readonly done?: number
  readonly keysReceived?: number
  readonly bytesReceived?: number
  readonly etaMs?: number | null
  /** Present while the transfers make no progress: how long they have gone without a page. */
  readonly stalledMs?: number
  readonly active?: ReadonlyArray<{readonly partition: number; readonly source: string; readonly keys: number}>
  readonly waitingFor?: string
  readonly releasedPartitionsPending?: number
}

export interface RingView {
  readonly version?: number
  readonly claimant?: string
  readonly staged?: ReadonlyArray<{readonly kind: string; readonly node: string}>
  readonly transition?: {readonly id: string; readonly members: readonly string[]; readonly removing: readonly string[]} | null
}

/** One member as another node sees it: its reachability from there, and the hints kept there for it. */
export interface PeerView {
  readonly name: string
  /** Its membership status as this node knows it (valid, joining, leaving, left). */
  readonly status?: string
  /** Of a member that left: whether it has handed off everything (absent from an older dyn). */
  readonly handedOff?: boolean
  readonly reachability?: string
  readonly hintsPending?: number
  /** Present while hint delivery to it backs off after failed rounds. */
  readonly hintBackoff?: {readonly failedRounds: number; readonly retryInMs: number}
}

export interface NodeTransfers {
  readonly name: string
  readonly ring?: RingView
  readonly transfers?: TransferView
  readonly peers?: readonly PeerView[]
}

/**
 * The newest ring any node answered with (highest version): an older one may still show a
 * removal staged that was cleared or committed since.
 */
export function newestRing(transfers: readonly NodeTransfers[]): RingView | undefined {
  return transfers.reduce<RingView | undefined>((newest, node) => (node.ring !== undefined && (newest === undefined || (node.ring.version ?? 0) > (newest.version ?? 0)) ? node.ring : newest), undefined)
}

/** Each serving node's ring change and transfers, from its own GET /cluster (over HTTPS with `tls`). */
export async function readTransfers(nodes: ReadonlyArray<{readonly name: string; readonly address: string; readonly serving: boolean}>, tls?: ClientTls): Promise<NodeTransfers[]> {
  return Promise.all(
    nodes
      .filter((node) => node.serving)
      .map(async (node) => {
        const view = await new DynClient(node.address, transferProbeTimeoutMs, tls === undefined ? {} : {tls}).getJson('/cluster').catch(() => undefined)
        return view?.ok === true ? nodeTransfersOf(node.name, view.body) : {name: node.name}
      }),
  )
}

/** One node's ring change, transfers and view of its peers, from the body of its GET /cluster. */
export function nodeTransfersOf(name: string, clusterBody: Record<string, unknown>): NodeTransfers {
  const members = (Array.isArray(clusterBody.members) ? clusterBody.members : []) as Array<Record<string, unknown>>
  const peers = members
    .filter((member) => member.name !== name)
    .map((member) => ({
      name: String(member.name),
      ...(typeof member.status === 'string' ? {status: member.status} : {}),
      ...(typeof member.handedOff === 'boolean' ? {handedOff: member.handedOff} : {}),
      ...(typeof member.reachability === 'string' ? {reachability: member.reachability} : {}),
      ...(typeof member.hintsPending === 'number' ? {hintsPending: member.hintsPending} : {}),
      ...(isHintBackoff(member.hintBackoff) ? {hintBackoff: member.hintBackoff} : {}),
    }))
  return {name, ring: clusterBody.ring as RingView | undefined, transfers: clusterBody.transfers as TransferView | undefined, peers}
}

/** Members some node knows to have left the cluster (dyn cluster leave, remove): stopped by design. */
export function leftMembers(nodes: readonly NodeTransfers[]): Set<string> {
  return new Set(nodes.flatMap((node) => (node.peers ?? []).filter((peer) => peer.status === 'left').map((peer) => peer.name)))
}

/**
 * Members out of the ring that have not handed off everything, as far as any node knows (one
 * that has heard of the hand-off is ahead of one that has not): such a node, stopped before it
 * was done, must be started again to finish, since its hints and every reap wait for it.
 */
export function unfinishedLeavers(nodes: readonly NodeTransfers[]): Set<string> {
  const handedOff = handedOffLeavers(nodes)
  return new Set([...leftMembers(nodes)].filter((name) => !handedOff.has(name)))
}

/** Members out of the ring that some node knows to have handed off everything (or that an older node, which does not say, reports left). */
export function handedOffLeavers(nodes: readonly NodeTransfers[]): Set<string> {
  return new Set(nodes.flatMap((node) => (node.peers ?? []).filter((peer) => peer.status === 'left' && peer.handedOff !== false).map((peer) => peer.name)))
}

/**
 * For people: each node's view of the others when it is not all "up, no hints" (reachability is
 * local, paper §4.8: two nodes may disagree), then the ring change under way and each node's
 * transfers; empty when all is quiet.
 */
export function formatTransfers(nodes: readonly NodeTransfers[]): string {
  let text = ''
  for (const node of nodes) {
    // A member that left is down by design; the hints still kept for it are worth showing (they go to its keys' current homes).
    const notable = (node.peers ?? []).filter((peer) => (peer.hintsPending ?? 0) > 0 || (peer.status !== 'left' && peer.reachability !== undefined && peer.reachability !== 'up'))
    if (notable.length === 0) continue
    const described = notable.map((peer) => `${peer.name} ${peer.status === 'left' ? 'left' : (peer.reachability ?? '?')}${describeHints(peer)}`)
    text += `${node.name} sees: ${described.join(', ')}\n`
  }
  const ring = nodes.find((node) => node.ring !== undefined)?.ring
  if (ring?.staged !== undefined && ring.staged.length > 0) text += `staged (not committed): ${ring.staged.map((c) => `${c.kind} ${c.node}`).join(', ')}\n`
  if (ring?.transition !== undefined && ring.transition !== null) {
    const removing = ring.transition.removing.length > 0 ? `, removing ${ring.transition.removing.join(', ')}` : ''
    text += `ring change ${ring.transition.id} under way (claimant ${ring.claimant ?? '?'}): to members ${ring.transition.members.join(', ')}${removing}\n`
  }
  for (const node of nodes) {
    const transfers = node.transfers
    if (transfers === undefined) continue
    const released = transfers.releasedPartitionsPending ?? 0
    if ((transfers.total ?? 0) === 0 && released === 0) continue
    const mb = ((transfers.bytesReceived ?? 0) / 1048576).toFixed(1)
    // Stalled transfers have no ETA: one from the mean time per partition would count down, or
    // climb, as if they moved. What holds them up, when the node knows, is its waiting line.
    const eta =
      transfers.stalledMs !== undefined
        ? `, no progress for ${Math.floor(transfers.stalledMs / 1000)} s${transfers.waitingFor === undefined ? ': stalled for a reason this node does not know (see its log)' : ''}`
        : transfers.etaMs === undefined || transfers.etaMs === null
          ? ''
          : `, ETA ${Math.ceil(transfers.etaMs / 1000)} s`
    const moving = (transfers.active ?? []).map((a) => `p${a.partition} from ${a.source} (${a.keys} objects)`).join(', ')
    // A partition is fetched from every old home (with W < N no single one is sure to hold every
    // write), so the objects fetched count each key once per source.
    const parts = [
      (transfers.total ?? 0) > 0 ? `received ${transfers.done ?? 0}/${transfers.total} partitions (${transfers.keysReceived ?? 0} objects fetched from their old homes, ${mb} MB${eta})` : undefined,
      moving === '' ? undefined : `moving ${moving}`,
      transfers.waitingFor === undefined ? undefined : `waiting: ${transfers.waitingFor}`,
      // Counted whether or not the partition holds anything: on a new cluster, the first node
      // releases the (empty) partitions the joins gave to the others.
      released > 0 ? `releasing ${released} partition(s) it no longer owns (their copies, if any, go to their new homes first)` : undefined,
    ]
    text += `  ${node.name.padEnd(6)} ${parts.filter((part) => part !== undefined).join('; ')}\n`
  }
  return text
}

/** The hints a node keeps for a peer, and the back-off of their delivery, for people: empty when none. */
function describeHints(peer: PeerView): string {
  if ((peer.hintsPending ?? 0) === 0) return ''
  const hints = counted(peer.hintsPending ?? 0, 'hint')
  const kept = peer.status === 'left' ? `${hints} kept for it, going to their keys' current homes` : `${hints} kept for it`
  const backoff = peer.hintBackoff === undefined ? '' : `, next try in ${Math.ceil(peer.hintBackoff.retryInMs / 1000)} s after ${peer.hintBackoff.failedRounds} failed round(s)`
  return ` (${kept}${backoff})`
}

function isHintBackoff(x: unknown): x is {failedRounds: number; retryInMs: number} {
  const backoff = x as {failedRounds?: unknown; retryInMs?: unknown} | null
  return typeof backoff === 'object' && backoff !== null && typeof backoff.failedRounds === 'number' && typeof backoff.retryInMs === 'number'
}
