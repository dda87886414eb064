/**
 * The pure half of `dyn top`'s polling: it reads the JSON of GET /cluster and GET /stats,
 * and turns one poll's answers plus what the previous polls left (counters, history, events)
 * into the next `ClusterSnapshot`. Rates come from differencing counters between two samples of
 * the same node (over that node's own uptime, so network delay does not skew them); events are
 * derived by comparing successive cluster views, since the nodes do not report them.
 *
 * No IO and no clock: the poll time comes in as an argument. cluster-watch.ts does the fetching.
 */

import {compareNamesNaturally} from '../membership/names.js'
import type {ClusterSnapshot, LatencyBuckets, LatencyPercentilesMs, NodeFigures, NodeRow, NodeStatus, PartitionMove, PeerView, TopEvent} from '../ui/cluster-snapshot.js'

/** Refreshes kept per node for the sparklines: two minutes at one per second. */
export const historyLengthMax = 120
/** Events kept; older ones scroll away. */
export const eventsMax = 50

export interface ClusterMember {
  readonly name: string
  readonly apiAddress: string
  readonly status: NodeStatus
  readonly partitions: number
}

export interface ClusterView {
  readonly node: string
  readonly ringHash: string
  readonly settings?: {readonly n: number; readonly r: number; readonly w: number}
  readonly members: readonly ClusterMember[]
  readonly owners: readonly string[]
  readonly moves: readonly PartitionMove[]
}

/** What top reads from one node's GET /stats; absent fields are not served by that node. */
export interface StatsSample {
  readonly uptimeMs: number
  readonly getCount: number
  /** Puts and deletes: both are writes. */
  readonly writeCount: number
  readonly keys?: number
  readonly storeBytes?: number
  readonly getLatencyMs?: LatencyPercentilesMs
  readonly putLatencyMs?: LatencyPercentilesMs
  readonly eventLoopDelayP99Ms?: number
  readonly hintsPending?: number
  readonly transfersInProgress?: number
  /** Anti-entropy: keys repaired since the node started, and whether it is catching up after a lost disk. */
  readonly keysRepaired?: number
  readonly recovering?: boolean
  readonly latencyBuckets?: LatencyBuckets
  /** Admission control: requests shed since the node started (503 overloaded), and its state. */
  readonly shedCount?: number
  readonly admissionState?: string
  /** Why its store takes no writes (a full or failing disk), while it does not: /stats' writesStopped. */
  readonly writesStopped?: string
  /** While it serves out its stop delay: ms left (/stats' stoppingInMs). */
  readonly stoppingInMs?: number
}

/** What one node's previous polls left behind. */
interface NodeMemory {
  readonly last?: StatsSample
  /** The first sample since top started (or since the node restarted), for the detail histogram. */
  readonly first?: StatsSample
  readonly answering: boolean
  readonly requestsPerS: readonly number[]
  readonly p999Ms: readonly number[]
  readonly figures: NodeFigures
}

export interface WatchMemory {
  readonly view?: ClusterView
  /** The last fail-over, kept so the view goes on saying which node it watches through. */
  readonly failover?: {readonly from: string; readonly to: string}
  readonly nodes: ReadonlyMap<string, NodeMemory>
  readonly events: readonly TopEvent[]
}

export const emptyMemory: WatchMemory = {nodes: new Map(), events: []}

export interface PollResult {
  readonly takenAtMs: number
  readonly source: string
  /** Undefined when no node answered GET /cluster. */
  readonly view: ClusterView | undefined
  /** Per member name: its stats, or undefined when it did not answer. */
  readonly stats: ReadonlyMap<string, StatsSample | undefined>
  readonly failover?: {readonly from: string; readonly to: string}
  /**
   * Whether the node of the fail-over still shown (the memory's, from an earlier poll) answered
   * this poll; undefined when no fail-over is shown or nobody asked it.
   */
  readonly failedOverFromAnswers?: boolean
  readonly focus?: {readonly name: string; readonly peers?: readonly PeerView[]; readonly error?: string}
}

/**
 * The fail-over shown before this poll, when the node it moved away from answers again: its
 * notice goes. It once stayed for the whole session, and "127.0.0.1:27370 stopped answering" was
 * still read four minutes after that node was back and answering.
 */
function failoverEnded(before: WatchMemory, poll: PollResult): {readonly from: string; readonly to: string} | undefined {
  return poll.failover === undefined && poll.failedOverFromAnswers === true ? before.failover : undefined
}

const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined)
const obj = (x: unknown): Record<string, unknown> => (typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : {})

/**
 * A member's status as the answering node sees it: reachability first, then membership, except
 * for a member that left. A node that left or was removed stops by design, so the answering node
 * soon sees it down; GET /cluster still lists it, as `left`, and that is what it is: no member
 * now, not a failure. (Reachability read first showed every left member as a red `down`, counted
 * among the nodes in top's header and given a place in the ring's legend.)
 */
export function memberStatus(member: Record<string, unknown>): NodeStatus {
  // Out of the ring but not yet handed off: it still runs, releasing what it held, and is shown
  // leaving until its row says it handed off (a node of a version without the flag: left).
  // Out of reach meanwhile, it is down: stopped before it was done, its hints wait for it and no
  // tombstone is reaped (a walk killed a leaver mid-hand-off and top went on saying leaving).
  if (member.status === 'left') {
    if (member.handedOff !== false) return 'left'
    return member.reachability === 'down' || member.up === false ? 'down' : 'leaving'
  }
  const reachability = member.reachability
  if (reachability === 'suspect' || reachability === 'down') return reachability
  if (member.up === false) return 'down'
  if (member.status === 'joining' || member.status === 'leaving') return member.status
  if (member.status === 'valid') return 'up'
  return 'unknown'
}

export function parseCluster(body: unknown): ClusterView | undefined {
  const b = obj(body)
  if (!Array.isArray(b.members) || !Array.isArray(b.owners)) return undefined
  const members = b.members.map(obj).filter((m) => typeof m.name === 'string' && typeof m.apiAddress === 'string')
  // What a request without parameters runs with (the defaults fitted to the cluster's size), when served.
  const settings = obj(b.settings)
  const effective = obj(b.effective)
  const n = num(effective.n) ?? num(settings.defaultN)
  const r = num(effective.r) ?? num(settings.defaultR)
  const w = num(effective.w) ?? num(settings.defaultW)
  const moves = Array.isArray(b.transfers)
    ? b.transfers.map(obj).flatMap((t) => (num(t.partition) !== undefined && typeof t.from === 'string' && typeof t.to === 'string' ? [{partition: t.partition as number, from: t.from, to: t.to}] : []))
    : []
  return {
    node: String(b.node ?? ''),
    ringHash: String(b.ringHash ?? ''),
    ...(n !== undefined && r !== undefined && w !== undefined ? {settings: {n, r, w}} : {}),
    members: members.map((m) => ({name: m.name as string, apiAddress: m.apiAddress as string, status: memberStatus(m), partitions: num(m.partitions) ?? 0})),
    owners: b.owners.map(String),
    moves,
  }
}

/** The recent-window percentiles; none when the window saw no request; since-start ones from a node that keeps no window. */
function percentiles(operation: Record<string, unknown>): LatencyPercentilesMs | undefined {
  const recent = obj(operation.recent)
  if (num(recent.count) === 0) return undefined
  const source = num(obj(recent.latencyMs).p999) !== undefined ? obj(recent.latencyMs) : obj(operation.latencyMs)
  const p99 = num(source.p99)
  const p999 = num(source.p999)
  return p99 === undefined || p999 === undefined ? undefined : {p99, p999}
}

function buckets(operations: ReadonlyArray<Record<string, unknown>>): LatencyBuckets | undefined {
  let bounds: number[] | undefined
  let counts: number[] | undefined
  for (const operation of operations) {
    const b = obj(operation.latencyBuckets)
    if (!Array.isArray(b.boundsMs) || !Array.isArray(b.counts) || b.counts.length !== b.boundsMs.length + 1) continue
    bounds ??= b.boundsMs.map(Number)
    if (b.boundsMs.length !== bounds.length) continue
    const here = b.counts.map(Number)
    counts = counts === undefined ? here : counts.map((c, i) => c + (here[i] ?? 0))
  }
  return bounds === undefined || counts === undefined ? undefined : {boundsMs: bounds, counts}
}

export function parseStats(body: unknown): StatsSample | undefined {
  const b = obj(body)
  const uptimeMs = num(b.uptimeMs)
  if (uptimeMs === undefined) return undefined
  const requests = obj(b.requests)
  const get = obj(requests.get)
  const put = obj(requests.put)
  const del = obj(requests.delete)
  const loop = num(obj(b.eventLoopDelayRecentMs).p99) ?? num(obj(b.eventLoopDelayMs).p99)
  const getLatencyMs = percentiles(get)
  const putLatencyMs = percentiles(put)
  const latencyBuckets = buckets([get, put, del])
  const antiEntropy = obj(b.antiEntropy)
  const admission = obj(b.admission)
  const optional = {
    shedCount: num(admission.shed),
    admissionState: typeof admission.state === 'string' ? admission.state : undefined,
    writesStopped: typeof b.writesStopped === 'string' ? b.writesStopped : undefined,
    stoppingInMs: num(b.stoppingInMs),
    keys: num(b.keys),
    storeBytes: num(b.storeBytes),
    eventLoopDelayP99Ms: loop,
    hintsPending: num(b.hintsPending),
    transfersInProgress: num(b.transfersInProgress),
    keysRepaired: num(antiEntropy.keysRepaired),
    recovering: typeof antiEntropy.recovering === 'boolean' ? antiEntropy.recovering : undefined,
  }
  return {
    uptimeMs,
    getCount: num(get.count) ?? 0,
    writeCount: (num(put.count) ?? 0) + (num(del.count) ?? 0),
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
    ...(getLatencyMs ? {getLatencyMs} : {}),
    ...(putLatencyMs ? {putLatencyMs} : {}),
    ...(latencyBuckets ? {latencyBuckets} : {}),
  }
}

function pushBounded(values: readonly number[], value: number): number[] {
  const next = [...values, value]
  return next.length > historyLengthMax ? next.slice(next.length - historyLengthMax) : next
}

function bucketsBetween(first: StatsSample | undefined, last: StatsSample): LatencyBuckets | undefined {
  const now = last.latencyBuckets
  const then = first?.latencyBuckets
  if (now === undefined) return undefined
  if (then === undefined || then.counts.length !== now.counts.length || first === last) return now
  return {boundsMs: now.boundsMs, counts: now.counts.map((c, i) => Math.max(0, c - (then.counts[i] ?? 0)))}
}

/** True when `sample` cannot follow `last` on the same process: the node restarted in between. */
function restarted(last: StatsSample, sample: StatsSample): boolean {
  return sample.uptimeMs < last.uptimeMs || sample.getCount < last.getCount || sample.writeCount < last.writeCount
}

function nextNodeMemory(previous: NodeMemory | undefined, sample: StatsSample | undefined): NodeMemory {
  if (sample === undefined) {
    return {
      ...(previous?.last ? {last: previous.last} : {}),
      ...(previous?.first ? {first: previous.first} : {}),
      answering: false,
      requestsPerS: pushBounded(previous?.requestsPerS ?? [], Number.NaN),
      p999Ms: pushBounded(previous?.p999Ms ?? [], Number.NaN),
      figures: {},
    }
  }
  const last = previous?.last !== undefined && !restarted(previous.last, sample) ? previous.last : undefined
  const first = last === undefined ? sample : (previous?.first ?? sample)
  const elapsedS = last === undefined ? 0 : (sample.uptimeMs - last.uptimeMs) / 1000
  const rates = last !== undefined && elapsedS > 0 ? {getsPerS: (sample.getCount - last.getCount) / elapsedS, putsPerS: (sample.writeCount - last.writeCount) / elapsedS} : {}
  // Shed requests per second; a count that went backwards is another process (no rate).
  const shedPerS =
    last?.shedCount !== undefined && sample.shedCount !== undefined && elapsedS > 0 && sample.shedCount >= last.shedCount ? {shedPerS: (sample.shedCount - last.shedCount) / elapsedS} : {}
  const latencyBuckets = bucketsBetween(first, sample)
  const figures: NodeFigures = {
    ...Object.fromEntries(Object.entries({keys: sample.keys, storeBytes: sample.storeBytes, eventLoopDelayP99Ms: sample.eventLoopDelayP99Ms, hintsPending: sample.hintsPending, transfersInProgress: sample.transfersInProgress, keysRepaired: sample.keysRepaired, recovering: sample.recovering, getLatencyMs: sample.getLatencyMs, putLatencyMs: sample.putLatencyMs, admissionState: sample.admissionState, writesStopped: sample.writesStopped, stoppingInMs: sample.stoppingInMs}).filter(([, v]) => v !== undefined)),
    uptimeMs: sample.uptimeMs,
    ...rates,
    ...shedPerS,
    ...(latencyBuckets ? {latencyBuckets} : {}),
  }
  const p999s = [sample.getLatencyMs?.p999, sample.putLatencyMs?.p999].filter((p): p is number => p !== undefined)
  const worstP999 = p999s.length === 0 ? Number.NaN : Math.max(...p999s)
  return {
    last: sample,
    first,
    answering: true,
    requestsPerS: pushBounded(previous?.requestsPerS ?? [], rates.getsPerS === undefined ? Number.NaN : rates.getsPerS + (rates.putsPerS ?? 0)),
    p999Ms: pushBounded(previous?.p999Ms ?? [], worstP999),
    figures,
  }
}

function describeStatus(status: NodeStatus): string {
  if (status === 'down') return 'became unreachable'
  if (status === 'suspect') return 'is suspected down'
  if (status === 'up') return 'is up'
  if (status === 'left') return 'left the cluster'
  return `is ${status}`
}

/** How loud a change of status is: a failure is an error, a member that left (on purpose) or came back is news. */
function statusSeverity(status: NodeStatus): TopEvent['severity'] {
  if (status === 'down') return 'error'
  if (status === 'up' || status === 'left') return 'info'
  return 'warn'
}

/** Events from comparing two successive cluster views (and whether each node answered its /stats). */
export function clusterEvents(before: WatchMemory, poll: PollResult): TopEvent[] {
  const at = poll.takenAtMs
  const events: TopEvent[] = []
  const add = (text: string, severity: TopEvent['severity'] = 'info'): void => {
    events.push({atMs: at, text, severity})
  }
  if (poll.failover) add(`${poll.failover.from} stopped answering; now watching through ${poll.failover.to}`, 'warn')
  const ended = failoverEnded(before, poll)
  if (ended !== undefined) add(`${ended.from} answers again; still watching through ${poll.source}`)
  const view = poll.view
  if (view === undefined) {
    if (before.view !== undefined || before.events.length === 0) add(`no node answers (tried every known address)`, 'error')
    return events
  }
  // Members that left are still listed, but are no nodes of the cluster now, and a node that
  // left stops answering by design: neither counted nor an alarm.
  const left = new Set(view.members.filter((m) => m.status === 'left').map((m) => m.name))
  const old = before.view
  if (old === undefined) {
    add(`watching ${view.members.length - left.size} node(s) through ${poll.source} (${view.node})`)
    events.push(...writesStoppedEvents(before, poll, left))
    return events
  }
  const oldByName = new Map(old.members.map((m) => [m.name, m]))
  const newByName = new Map(view.members.map((m) => [m.name, m]))
  for (const member of view.members) {
    const was = oldByName.get(member.name)
    if (was === undefined) {
      // First seen already gone (a join withdrawn between two polls): it never was a member here.
      if (member.status !== 'left') add(`${member.name} joined (${member.apiAddress})`)
    } else if (was.status !== member.status) add(`${member.name} ${was.status === 'down' && member.status === 'up' ? 'is reachable again' : describeStatus(member.status)}`, statusSeverity(member.status))
  }
  for (const member of old.members) if (!newByName.has(member.name)) add(`${member.name} left the member table`, 'warn')
  if (old.ringHash !== view.ringHash) {
    const changes = view.members
      .map((m) => ({name: m.name, from: oldByName.get(m.name)?.partitions ?? 0, to: m.partitions}))
      .filter((c) => c.from !== c.to)
      .map((c) => `${c.name} ${c.from}→${c.to}`)
    add(`ring changed${changes.length > 0 ? `: ${changes.join(', ')}` : ''}`, 'warn')
  }
  for (const [name, sample] of poll.stats) {
    const memory = before.nodes.get(name)
    if (memory === undefined || left.has(name)) continue
    if (memory.answering && sample === undefined) add(`${name} stopped answering /stats`, 'error')
    else if (!memory.answering && sample !== undefined) add(`${name} answers /stats again`)
    else if (memory.last !== undefined && sample !== undefined && restarted(memory.last, sample)) add(`${name} restarted`, 'warn')
  }
  events.push(...writesStoppedEvents(before, poll, left))
  return events
}

/**
 * A store that stopped taking writes, said once, at the first poll that sees it (a walk's full
 * disk showed nowhere but in /stats): the node serves reads only until it is restarted.
 */
function writesStoppedEvents(before: WatchMemory, poll: PollResult, left: ReadonlySet<string>): TopEvent[] {
  const events: TopEvent[] = []
  for (const [name, sample] of poll.stats) {
    if (sample?.writesStopped === undefined || left.has(name)) continue
    const last = before.nodes.get(name)?.last
    if (last?.writesStopped !== undefined && !restarted(last, sample)) continue
    events.push({atMs: poll.takenAtMs, severity: 'error', text: `${name} takes no writes: its store failed to write (${sample.writesStopped}); free space on its disk (or replace it), then restart it`})
  }
  return events
}

/** Folds one poll into the memory and gives the snapshot to draw. */
export function nextSnapshot(before: WatchMemory, poll: PollResult): {memory: WatchMemory; snapshot: ClusterSnapshot} {
  const view = poll.view ?? before.view
  const failover = failoverEnded(before, poll) === undefined ? (poll.failover ?? before.failover) : undefined
  const newEvents = clusterEvents(before, poll)
  const events = [...before.events, ...newEvents].slice(-eventsMax)
  const nodes = new Map<string, NodeMemory>()
  const rows: NodeRow[] = []
  // Rows in the order people read names (n2 before n10); the node lists members by code unit.
  for (const member of [...(view?.members ?? [])].sort((a, b) => compareNamesNaturally(a.name, b.name))) {
    const previous = before.nodes.get(member.name)
    const memory = poll.view === undefined ? {...(previous ?? nextNodeMemory(undefined, undefined)), answering: false} : nextNodeMemory(previous, poll.stats.get(member.name))
    nodes.set(member.name, memory)
    rows.push({
      name: member.name,
      address: member.apiAddress,
      status: member.status,
      partitions: member.partitions,
      answering: memory.answering,
      figures: memory.figures,
      history: {requestsPerS: memory.requestsPerS, p999Ms: memory.p999Ms},
    })
  }
  const snapshot: ClusterSnapshot = {
    takenAtMs: poll.takenAtMs,
    source: poll.source,
    ...(failover ? {failover} : {}),
    stale: poll.view === undefined,
    ...(view?.settings ? {settings: view.settings} : {}),
    ...(view?.ringHash ? {ringHash: view.ringHash} : {}),
    owners: view?.owners ?? [],
    moves: view?.moves ?? [],
    nodes: rows,
    events,
    ...(poll.focus ? {focus: poll.focus} : {}),
  }
  return {memory: {...(view ? {view} : {}), ...(failover ? {failover} : {}), nodes, events}, snapshot}
}
