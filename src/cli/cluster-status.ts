/**
 * What `dyn cluster status` reports about a local cluster: each node of the folder (serving as
 * itself, running but not answering, exited and how, or stopped), the members some node knows
 * that the folder did not start (a node joined by hand), and the cluster's settings beside the
 * defaults a request actually gets. With --node, about any cluster (several machines): the
 * contacted node gathers every member's own view (src/node/status-subsystem.ts), and what they
 * say is compared here: who answers, whether all hold one ring, and where their judgements of
 * each other's reachability differ.
 */

import type {AntiEntropySummary} from '../antientropy/anti-entropy-subsystem.js'
import {DynClient} from '../client/http-client.js'
import {assert, DynError, type ErrorCode} from '../errors.js'
import type {GatheredStatus, MemberStatusEntry} from '../node/status-subsystem.js'
import type {Departure, HealthView, LocalCluster, LocalNode, NodeEnding} from './local-cluster.js'
import {failureText} from './command-output.js'
import {clusterFileName, describeEnding, isNodeDataFolder, isNodeProcess, isProcessPaused, nodeDeparture, localClusterCaFile, localClusterClientCaFile, localClusterTls, localClusterTlsProblem, localNodeClient, nodeEnding, nodeFailure, nodesStartedElsewhere, probe, probeTimeoutMs} from './local-cluster.js'
import {handedOffLeavers, leftMembers, newestRing, nodeTransfersOf, type NodeTransfers, type RingView} from './transfer-status.js'
import {shellQuote} from './format.js'
import {stoppingReasonPrefix} from '../api/readiness.js'

/** How a node of the folder is: serving as itself, running but not answering, exited, stopped, or gone from the cluster (left or removed). */
/**
 * `handing_off`: the node has left the ring and still runs, sending its copies to their new homes
 * and delivering its hints; it exits by itself once done, and is counted with the nodes that left.
 */
export type NodeState = 'serving' | 'not_answering' | 'exited' | 'stopped' | 'left' | 'handing_off'

/** A node gone from the cluster, or going: left (or removed), or handing off after its leave. */
export function isDeparted(node: Pick<NodeStatus, 'state'>): boolean {
  return node.state === 'left' || node.state === 'handing_off'
}

export interface NodeStatus {
  readonly name: string
  readonly address: string
  readonly rpcAddress: string
  /** The pid recorded for it: the live process, or the one that ended. */
  readonly pid: number | undefined
  readonly running: boolean
  readonly serving: boolean
  readonly state: NodeState
  /** How its process ended, when it is not running and its wrapper recorded that. */
  readonly ended?: NodeEnding
  /** The coded error it exited with (old_disk: a copy of an older disk), and its message, read back from its log. */
  readonly nodeError?: string
  readonly nodeMessage?: string
  readonly members?: number
  readonly ringHash?: string
  readonly clusterId?: string
  /**
   * Out of the ring without having said it handed off everything, and not answering: stopped (or
   * cut off) before it was done. The hints it kept wait for it, and no tombstone is reaped until
   * it finishes or is removed, so the status is not ok.
   */
  readonly handoffUnfinished?: true
  /** Its anti-entropy, as its /health says (absent from a node that does not report it). */
  readonly antiEntropy?: AntiEntropySummary
  /**
   * Why a serving node takes no writes (its store failed to write: a full or failing disk), as its
   * /health says; absent while it takes them. It serves reads, and its writes resume only after a restart.
   */
  readonly writesStopped?: string
  /**
   * A serving node asked to stop that waits out its stop delay (dyn start --stop-delay-ms), as its
   * /health says: why it is not ready ("it is stopping: it serves N s more ...").
   */
  readonly stopping?: string
  /** What is wrong, in words, when it does not serve. */
  readonly problem?: string
  /** Its process is stopped by a signal (SIGSTOP, Ctrl-Z): it answers once resumed (kill -CONT). */
  readonly paused?: true
  /**
   * It serves from a process the folder did not start (a `dyn start` by hand, as the README's way
   * back after a leave): `pid` is that process's, and dyn cluster down does not stop it.
   */
  readonly startedElsewhere?: true
  /**
   * How a node that does not run is gone from the cluster, as its own last run said (state
   * `left`): `removed` when it stopped on learning it was removed, `left` when it handed off and
   * exited. Absent when a serving member said it (or the folder recorded it).
   */
  readonly departure?: Departure
}

/** A member some node reports that the folder did not start (a node joined by hand). */
export interface OtherMember {
  readonly name: string
  readonly apiAddress: string
  readonly rpcAddress: string
  readonly status: string
  readonly up: boolean
  /** Out of the ring, not handed off everything, and seen down (markStoppedLeavers). */
  readonly handoffUnfinished?: true
}

export interface QuorumDefaults {
  readonly n: number
  readonly r: number
  readonly w: number
}

export interface ClusterStatus {
  readonly dir: string
  /** The cluster CA the folder's nodes serve TLS with (their addresses are then https://); absent without TLS. */
  readonly tlsCa?: string
  /** The CA whose certificates the nodes ask their clients for (--tls-client-ca), when they ask for one. */
  readonly tlsClientCa?: string
  /** True when the nodes ask for a client certificate and none is given (DYN_TLS_CERT): only their /health answers. */
  readonly clientCertificateMissing?: true
  readonly nodes: NodeStatus[]
  /** Every node of the folder serves as itself and all agree on the ring. */
  readonly agreed: boolean
  readonly otherMembers: OtherMember[]
  /** The cluster's settings and effective defaults, as a serving node reports them. */
  readonly settings?: ClusterSettingsView
  readonly effective?: QuorumDefaults
  /** Members that own partitions, as that node sees them. */
  readonly ringMembers?: number
  /** The machines the ring's members run on, as that node sees them. */
  readonly machines?: number
}

/** A cluster's settings in the CLI's JSON names. */
export interface ClusterSettingsView extends QuorumDefaults {
  readonly partitions: number
  readonly conflict: string
  readonly clusterId: string
}

/**
 * The default N/R/W a request gets, as the node reports them in GET /cluster (`effective`): the
 * settings fitted to the members that own partitions (N at most their count, R and W at most N).
 * The rule is the server's; the CLI only reads it. Undefined when the answer lacks it.
 */
export function effectiveDefaults(clusterBody: Record<string, unknown>): QuorumDefaults | undefined {
  const reported = clusterBody.effective as Partial<QuorumDefaults> | undefined
  if (reported === undefined || ![reported.n, reported.r, reported.w].every(Number.isInteger)) return undefined
  return {n: reported.n as number, r: reported.r as number, w: reported.w as number}
}

/**
 * The settings, effective defaults and partition owners of a GET /cluster answer, and the
 * machines the ring's members run on (absent from nodes older than machines).
 */
export function describeSettings(clusterBody: Record<string, unknown>): {settings: ClusterSettingsView; effective?: QuorumDefaults; ringMembers: number; machines?: number} {
  const s = clusterBody.settings as Record<'defaultN' | 'defaultR' | 'defaultW' | 'partitionCount', number> & Record<'conflictPolicy' | 'clusterId', string>
  const members = (clusterBody.members ?? []) as Array<{partitions?: number}>
  const effective = effectiveDefaults(clusterBody)
  return {
    settings: {n: s.defaultN, r: s.defaultR, w: s.defaultW, partitions: s.partitionCount, conflict: s.conflictPolicy, clusterId: s.clusterId},
    ...(effective === undefined ? {} : {effective}),
    ringMembers: members.filter((m) => (m.partitions ?? 0) > 0).length,
    ...(Number.isInteger(clusterBody.machineCount) ? {machines: clusterBody.machineCount as number} : {}),
  }
}

async function nodeStatus(cluster: LocalCluster, node: LocalNode, tlsProblem: string | undefined, elsewhere: {readonly pid: number | undefined; readonly view: HealthView; readonly address: string} | undefined): Promise<NodeStatus> {
  const scheme = localClusterCaFile(cluster) === undefined ? '' : 'https://'
  const base = {name: node.name, address: `${scheme}${cluster.host}:${node.port}`, rpcAddress: `${cluster.host}:${node.rpcPort}`, pid: node.pid}
  if (!isNodeProcess(node)) {
    // Not the folder's process, but perhaps the node all the same, started by hand: it serves,
    // on its own ports or on others the members list it at.
    if (elsewhere !== undefined) {
      const moved = elsewhere.address === `${cluster.host}:${node.port}` ? {} : {address: `${scheme}${elsewhere.address}`}
      return {...base, ...moved, pid: elsewhere.pid, ...servingAs(elsewhere.view), startedElsewhere: true}
    }
    if (node.left === true) return {...base, running: false, serving: false, state: 'left'}
    if (node.pid === undefined) return {...base, running: false, serving: false, state: 'stopped'}
    // Its own last run says it left or was removed: not a node to start again (up does not).
    const departure = nodeDeparture(node)
    if (departure !== undefined) return {...base, running: false, serving: false, state: 'left', departure}
    const ended = nodeEnding(node)
    const failure = nodeFailure(node, ended)
    const failed = failure === undefined ? {} : {nodeError: failure.code, nodeMessage: failure.message}
    return {...base, running: false, serving: false, state: 'exited', ...(ended === undefined ? {} : {ended}), ...failed, problem: `not running (${describeEnding(node.pid, ended)}${failureText(failure)})`}
  }
  // A folder that cannot read its TLS files cannot ask its nodes anything: it says why.
  if (tlsProblem !== undefined) return {...base, running: true, serving: false, state: 'not_answering', problem: `running, but not asked: ${tlsProblem}`}
  const view = await probe(cluster, node)
  if (view === undefined) {
    // A paused process keeps its ports and answers nothing: told apart from one still starting.
    if (node.pid !== undefined && isProcessPaused(node.pid)) return {...base, running: true, serving: false, state: 'not_answering', paused: true, problem: `paused (stopped by a signal, such as SIGSTOP or Ctrl-Z); resume it with kill -CONT ${node.pid}`}
    return {...base, running: true, serving: false, state: 'not_answering', problem: 'running, but its client port does not answer'}
  }
  if (view.pid !== node.pid) {
    return {...base, running: true, serving: false, state: 'not_answering', problem: `running, but its client port is answered by ${String(view.node)} (pid ${String(view.pid)})`}
  }
  if (cluster.clusterId !== undefined && view.clusterId !== cluster.clusterId) {
    return {...base, running: true, serving: false, state: 'not_answering', ...identityOf(view), problem: `serving cluster ${String(view.clusterId)}, not this folder's ${cluster.clusterId}`}
  }
  return {...base, ...servingAs(view)}
}

/** What a node's /health says of who it is: its count of members, ring and cluster. */
function identityOf(view: HealthOfNode): {members: number; ringHash: string; clusterId: string} {
  return {members: Number(view.members), ringHash: String(view.ringHash), clusterId: String(view.clusterId)}
}

/**
 * The fields of a node's /health that status reads: the folder's probe (HealthView) and a member's
 * view gathered through another node (`--node`) alike.
 */
type HealthOfNode = Partial<Record<'members' | 'ringHash' | 'clusterId' | 'status' | 'handedOff' | 'antiEntropy' | 'writesStopped' | 'notReadyBecause', unknown>>

/**
 * A node that answered /health as itself in its cluster: serving, as it describes itself, or,
 * once it has left the ring (its own row says so, or `outOfRing`: the asking node's table does,
 * before the leaver's own row has caught up), handing off what it held, and then, having said it
 * handed off everything, left (it exits within a few gossip rounds).
 */
function servingAs(view: HealthOfNode, outOfRing = false): Pick<NodeStatus, 'running' | 'serving' | 'state' | 'members' | 'ringHash' | 'clusterId' | 'antiEntropy' | 'writesStopped' | 'stopping'> {
  const antiEntropy = view.antiEntropy as AntiEntropySummary | undefined
  const state: NodeState = view.status !== 'left' && !outOfRing ? 'serving' : view.handedOff === true ? 'left' : 'handing_off'
  const stopping = Array.isArray(view.notReadyBecause) ? view.notReadyBecause.find((reason): reason is string => typeof reason === 'string' && reason.startsWith(stoppingReasonPrefix)) : undefined
  return {
    running: true,
    serving: true,
    state,
    ...identityOf(view),
    ...(antiEntropy === undefined ? {} : {antiEntropy}),
    ...(typeof view.writesStopped === 'string' ? {writesStopped: view.writesStopped} : {}),
    ...(stopping === undefined ? {} : {stopping}),
  }
}

/**
 * The folder's nodes with those out of the ring that have not handed off everything (`unfinished`,
 * from the members' views) and do not run marked so, with what to do: a walk's status said "left
 * the cluster" of a leaver killed in the middle of its hand-off.
 */
export function markStoppedLeavers(status: ClusterStatus, unfinished: ReadonlySet<string>): ClusterStatus {
  const nodes = status.nodes.map((node) =>
    unfinished.has(node.name) && !node.running
      ? {...node, handoffUnfinished: true as const, problem: 'left the ring, but was stopped before it had handed off everything: start it again to finish (dyn cluster up starts it; it exits by itself once done); the hints it kept are delivered only by it'}
      : node,
  )
  // A member the folder did not start (joined by hand) is judged by what the members see of it:
  // heartbeats watch a leaver until it has handed off, so one seen down has stopped. Not one whose
  // address a present member holds now (a replacement machine): reachability goes by address,
  // so what is seen there is that member, as heartbeats and /health assume (presentOrHandingOff).
  const presentAddresses = new Set([
    ...status.nodes.filter((node) => node.state !== 'left' && !unfinished.has(node.name)).map((node) => node.rpcAddress),
    ...status.otherMembers.filter((member) => member.status !== 'left').map((member) => member.rpcAddress),
  ])
  const otherMembers = status.otherMembers.map((member) =>
    unfinished.has(member.name) && !member.up && !presentAddresses.has(member.rpcAddress) ? {...member, handoffUnfinished: true as const} : member,
  )
  return {...status, nodes, otherMembers}
}

/**
 * Whether `nodes` agree: the same ring and the same count of members. The ring alone is not
 * enough: a join or a start still spreading by gossip can leave the ring's owners the same on
 * every node while some do not know a member yet (a walk saw "agree" while nodes counted 5, 4
 * and 3 members).
 */
export function allAgree(nodes: readonly Pick<NodeStatus, 'ringHash' | 'members'>[]): boolean {
  return new Set(nodes.map((node) => `${node.ringHash} ${node.members}`)).size === 1
}

/** The status of the folder `dir`, whose cluster the caller has read (`readCluster`; undefined: none). */
export async function clusterStatus(dir: string, cluster: LocalCluster | undefined): Promise<ClusterStatus> {
  if (cluster === undefined && isNodeDataFolder(dir)) throw new DynError('bad_parameter', `${dir} is a node's data folder (a LevelDB database, --data of dyn start), not a cluster folder: give --dir the folder of dyn cluster up, or ask a running node with --node HOST:PORT`)
  if (cluster === undefined) throw new DynError('bad_parameter', `no cluster in ${dir} (no ${clusterFileName}); start one with: dyn cluster up --dir ${shellQuote(dir)}`)
  const tlsProblem = localClusterTlsProblem(cluster)
  // Nodes of the folder it does not run may run all the same, started by hand (none is asked
  // when the folder cannot read its TLS files).
  const elsewhere = await nodesStartedElsewhere(cluster, cluster.nodes.filter((node) => !isNodeProcess(node)))
  const nodes = await Promise.all(cluster.nodes.map((node) => nodeStatus(cluster, node, tlsProblem, elsewhere.find((found) => found.node === node))))
  const serving = nodes.filter((n) => n.serving)
  const agreed = serving.length === nodes.length && allAgree(serving)
  const tlsCa = localClusterCaFile(cluster)
  const tlsClientCa = localClusterClientCaFile(cluster)
  // /health is open to every client; the rest of the API, settings and transfers included, only
  // to those with a certificate of the client CA.
  const certificateMissing = tlsClientCa !== undefined && tlsProblem === undefined && localClusterTls(cluster)?.cert === undefined
  const base = {dir, ...(tlsCa === undefined ? {} : {tlsCa}), ...(tlsClientCa === undefined ? {} : {tlsClientCa}), ...(certificateMissing ? {clientCertificateMissing: true as const} : {}), nodes, agreed, otherMembers: [] as OtherMember[]}
  // Any serving node's view of the cluster will do; it names members the folder does not know.
  // Without the client certificate the nodes ask for, it would only be refused.
  const view = serving[0] === undefined || certificateMissing ? undefined : await localNodeClient(cluster, serving[0].address, probeTimeoutMs).getJson('/cluster').catch(() => undefined)
  if (view === undefined || !view.ok) return base
  const known = new Set(cluster.nodes.map((node) => node.name))
  const members = (view.body.members ?? []) as OtherMember[]
  return {
    ...base,
    otherMembers: members.filter((m) => !known.has(m.name)).map(({name, apiAddress, rpcAddress, status, up}) => ({name, apiAddress, rpcAddress, status, up})),
    ...describeSettings(view.body),
  }
}

/** A member the answering nodes see differently (reachability is each node's own, paper §4.8). */
export interface Disagreement {
  readonly member: string
  /** Each answering node's view of it: up, suspect or down. */
  readonly seenAs: Readonly<Record<string, string>>
}

/** `dyn cluster status --node`: every member's own view, gathered by the contacted node. */
export interface RemoteClusterStatus {
  /** The address asked, and the node that answered there and asked the others. */
  readonly node: string
  readonly askedThrough: string
  /** Each member (pid unknown from afar): serving when it answered with this cluster's id. */
  readonly nodes: NodeStatus[]
  /** Every member that has not left answered, in this cluster, and all hold the same ring. */
  readonly agreed: boolean
  /** Members some node sees as left: stopped by design, not counted against the cluster. */
  readonly left: string[]
  /** Each answering node's view of the others: reachability, hints, ring change, transfers. */
  readonly transfers: NodeTransfers[]
  readonly disagreements: Disagreement[]
  /** Present members that some answering node sees as down. */
  readonly seenDown: string[]
  /** Members still joining (not yet in the ring), as the asked node lists them: no part of a majority. */
  readonly joining?: string[]
  readonly settings?: ClusterSettingsView
  readonly effective?: QuorumDefaults
  readonly ringMembers?: number
  readonly machines?: number
}

/** How long the contacted node waits for each member, at most: a status is a quick look. */
export const remoteStatusMemberTimeoutMsMax = 2000

/** Asks the node at `client` for every member's view (GET /cluster/status) and describes it. */
export async function remoteClusterStatus(client: DynClient, memberTimeoutMs: number): Promise<RemoteClusterStatus> {
  const answer = await client.getJson(`/cluster/status?timeout=${memberTimeoutMs}`)
  if (!answer.ok && answer.error === 'route_not_found') {
    throw new DynError('bad_parameter', `the node at ${client.node} has no GET /cluster/status: it runs an older dyn; upgrade it (or ask a node that is upgraded), or use --dir for a local cluster`)
  }
  if (!answer.ok) throw new DynError(answer.error as ErrorCode, answer.message)
  return describeGathered(client.node, answer.body as unknown as GatheredStatus)
}

/** The pure part of `remoteClusterStatus`: what the gathered views say, and where they disagree. */
export function describeGathered(address: string, gathered: GatheredStatus): RemoteClusterStatus {
  const self = gathered.members.find((member) => member.name === gathered.node)
  const selfView = self?.answered === true ? self.view : undefined
  const clusterId = selfView === undefined ? undefined : String(selfView.health.clusterId)
  const views = gathered.members.flatMap((member) => (member.answered ? [{name: member.name, cluster: member.view.cluster}] : []))
  const transfers = views.map((view) => nodeTransfersOf(view.name, view.cluster))
  // A leaver that some member has heard hand off everything has left, whatever the asked node has
  // heard yet: it exits a few gossip rounds after saying so (the review of this change).
  const handedOff = handedOffLeavers(transfers)
  const nodes = gathered.members.map((member) => remoteNodeStatus(member, gathered.node, clusterId, handedOff))
  // Out of the ring: those that left (or hand off now), and those stopped before they were done.
  const left = new Set([...leftMembers(transfers), ...nodes.filter((node) => isDeparted(node) || node.handoffUnfinished === true).map((node) => node.name)])
  const present = nodes.filter((node) => !left.has(node.name))
  const agreed = present.length > 0 && present.every((node) => node.serving) && allAgree(present)
  const disagreements: Disagreement[] = []
  const seenDown: string[] = []
  for (const member of present) {
    const seenAs: Record<string, string> = {}
    for (const observer of transfers) {
      if (observer.name === member.name || left.has(observer.name)) continue
      const reachability = observer.peers?.find((peer) => peer.name === member.name)?.reachability
      if (reachability !== undefined) seenAs[observer.name] = reachability
    }
    const states = new Set(Object.values(seenAs))
    if (states.size > 1) disagreements.push({member: member.name, seenAs})
    if (states.has('down')) seenDown.push(member.name)
  }
  return {
    node: address,
    askedThrough: gathered.node,
    nodes,
    agreed,
    left: [...left],
    transfers,
    disagreements,
    seenDown,
    joining: gathered.members.filter((member) => member.status === 'joining').map((member) => member.name),
    ...(selfView === undefined ? {} : describeSettings(selfView.cluster)),
  }
}

function remoteNodeStatus(member: MemberStatusEntry, askedThrough: string, clusterId: string | undefined, handedOff: ReadonlySet<string>): NodeStatus {
  const base = {name: member.name, address: member.apiAddress, rpcAddress: member.rpcAddress, pid: undefined}
  if (!member.answered) {
    if (member.error === 'left' || (member.handingOff === true && handedOff.has(member.name))) return {...base, running: false, serving: false, state: 'left'}
    const silence = `does not answer ${askedThrough} on its internode port (${member.error}: ${member.message})`
    // Out of the ring, and never said it handed off everything: stopped before it was done, or
    // out of reach. What it had not handed off is still on the key's other replicas, which
    // anti-entropy copies to the new homes; its hints (writes it took for nodes that were down)
    // only it holds.
    if (member.handingOff === true) {
      return {...base, running: false, serving: false, state: 'not_answering', handoffUnfinished: true, problem: `left the ring, but has not said it handed off everything, and ${silence}: if it was stopped, start it again on its data to finish (it exits by itself once done); the hints it kept are delivered only by it`}
    }
    return {...base, running: false, serving: false, state: 'not_answering', problem: silence}
  }
  const health = member.view.health
  const identity = identityOf(health)
  if (clusterId !== undefined && identity.clusterId !== clusterId) {
    return {...base, running: true, serving: false, state: 'not_answering', ...identity, problem: `serving cluster ${identity.clusterId}, not ${askedThrough}'s ${clusterId}`}
  }
  return {...base, ...servingAs(health, member.handingOff === true)}
}

/**
 * The stable codes of a status that is not ok (exit 3), for scripts to match on (README "JSON
 * output": every failure carries one): every node of the folder stopped; some node of it (or,
 * with --node, some member) not serving; all serving but holding different rings; another member
 * down, or seen down by some node.
 */
export type StatusProblemCode = 'cluster_stopped' | 'nodes_not_serving' | 'writes_stopped' | 'ring_not_agreed' | 'members_down' | 'unauthenticated'

/**
 * The serving nodes, not gone, whose writes stopped (a full or failing disk), in words: each with
 * why. Such a node answers /health and reads, so it looked healthy to status (a walk filled a
 * node's disk and status said all was well).
 */
function writesStoppedText(nodes: readonly NodeStatus[]): string {
  return nodes.map((node) => `${node.name} (${node.writesStopped ?? ''})`).join(', ')
}

const writesStoppedTodo = 'free space on its disk (or replace the failing disk), then restart it: its writes resume only after a restart, and meanwhile the puts it would store go to the keys\' other replicas'

/**
 * Nodes out of the ring that were stopped before they had handed off everything, in words, with
 * what waits for them; `silence` how they are seen (not running, not answering). Both ways of
 * asking status say it.
 */
function unfinishedHandoffText(names: readonly string[], silence: string): string {
  const one = names.length === 1
  return `${names.join(', ')} left the ring but ${one ? 'has' : 'have'} not handed off everything, and ${silence}: the hints ${one ? 'it' : 'they'} kept wait, and no tombstone is reaped until then`
}

/** What a status says as a whole: ok, or what is wrong and what to do, under a stable code. */
export type StatusVerdict = {readonly ok: true; readonly message: string} | {readonly ok: false; readonly error: StatusProblemCode; readonly message: string}

/**
 * The members the folder did not start, in a few words: those present, then (apart) those that
 * have left, which are no "other members" of the cluster any more (a status once counted n4 and
 * n5, both gone, among "3 other member(s) not started from this folder"). Empty when there are none.
 */
export function otherMembersText(others: readonly OtherMember[], left: ReadonlySet<string>): string {
  // One stopped before its hand-off was done has not left for good: the verdict says what to do.
  const gone = others.filter((member) => (member.status === 'left' || left.has(member.name)) && member.handoffUnfinished !== true).map((member) => member.name)
  const present = others.filter((member) => !gone.includes(member.name) && member.handoffUnfinished !== true).map((member) => member.name)
  const stopped = others.filter((member) => member.handoffUnfinished === true).map((member) => member.name)
  const presentText = present.length === 0 ? '' : `; ${present.length} other member(s) not started from this folder: ${present.join(', ')}`
  const goneText = gone.length === 0 ? '' : `; ${gone.join(', ')}, not of this folder, ${gone.length === 1 ? 'has' : 'have'} left the cluster`
  const stoppedText = stopped.length === 0 ? '' : `; ${stopped.join(', ')}, not of this folder, left the ring and ${stopped.length === 1 ? 'is' : 'are'} down before ${stopped.length === 1 ? 'it' : 'they'} handed off everything`
  return presentText + goneText + stoppedText
}

/**
 * The verdict of `dyn cluster status --dir`, from the folder's status, the nodes known to have
 * left (stopped by design) and whether the others agree on the ring. The cases, in order:
 */
export function localStatusVerdict(status: ClusterStatus, left: ReadonlySet<string>, agreed: boolean, ring?: RingView): StatusVerdict {
  const up = `dyn cluster up --dir ${shellQuote(status.dir)}`
  const others = otherMembersText(status.otherMembers, left)
  const otherDown = status.otherMembers.filter((member) => !member.up && member.status !== 'left' && !left.has(member.name))
  const notServing = status.nodes.filter((node) => !node.serving && !left.has(node.name))
  // Every node of the folder gone from the cluster: up starts none of them, and the cluster, if
  // it lives on, does so in members started elsewhere, which only they can show.
  if (status.nodes.every((node) => node.state === 'left' || left.has(node.name))) {
    return {ok: false, error: 'cluster_stopped', message: `every node of ${status.dir} has left the cluster or was removed, so dyn cluster up starts none of them; if the cluster lives on in members started elsewhere, ask one of them: dyn cluster status --node HOST:PORT${others}`}
  }
  // Every node of the folder stopped or gone: nothing to ask, start it.
  if (status.nodes.every((node) => node.state === 'stopped' || node.state === 'left')) return {ok: false, error: 'cluster_stopped', message: `the cluster is stopped; start it with: ${up}`}
  // Only /health answered: whatever it says, the rest (settings, ring changes, transfers, other
  // members) was not seen, and an ok would vouch for it (it once did, with half the status left out).
  if (status.clientCertificateMissing === true && notServing.length === 0) {
    return {ok: false, error: 'unauthenticated', message: `the nodes answer only their /health to a client without a certificate of ${status.tlsClientCa ?? 'their client CA'} (--tls-client-ca), so this status leaves out the settings, ring changes, transfers and members not of the folder: set DYN_TLS_CERT and DYN_TLS_KEY to your client certificate and key, and ask again`}
  }
  const writesStopped = status.nodes.filter((node) => node.serving && node.writesStopped !== undefined && !left.has(node.name))
  // Out of the ring, stopped before it had handed off everything (a walk killed one, and status
  // said all was well while every tombstone waited for it).
  const stoppedLeavers = status.nodes.filter((node) => node.handoffUnfinished === true).map((node) => node.name)
  const stoppedOtherLeavers = status.otherMembers.filter((member) => member.handoffUnfinished === true).map((member) => member.name)
  // Every node of the folder serves one ring and takes writes, no other member is down, and no
  // node that left still owes its hand-off.
  if (agreed && otherDown.length === 0 && writesStopped.length === 0 && stoppedLeavers.length === 0 && stoppedOtherLeavers.length === 0) return {ok: true, message: `all nodes ${others === '' ? '' : 'of the folder '}serve and agree on the ring${others}`}
  // Some node of the folder does not serve: each named with why, and the way back for each kind.
  if (notServing.length > 0) {
    const problemOf = (node: NodeStatus): string => node.problem ?? node.state
    const why = notServing.length === 1 ? problemOf(notServing[0] as NodeStatus) : notServing.map((node) => `${node.name}: ${problemOf(node)}`).join('; ')
    // A node whose removal is under way is not to be started again (it would stop on learning it
    // was removed): a walk was told to start n5 again beside "removing n5".
    const underWay = ring?.transition ?? undefined
    const removing = notServing.filter((node) => !node.running && underWay?.removing.includes(node.name) === true).map((node) => node.name)
    const ended = notServing.filter((node) => !node.running && !removing.includes(node.name)).map((node) => node.name)
    const paused = notServing.filter((node) => node.paused === true)
    const silent = notServing.filter((node) => node.running && node.paused !== true).map((node) => node.name)
    const todo = [
      removing.length === 0 ? undefined : `the removal of ${removing.join(', ')} is under way (ring change ${underWay?.id ?? '?'}): do not start ${removing.length === 1 ? 'it' : 'them'} again; wait for the transfers to end (shown below)`,
      ended.length === 0 ? undefined : `start ${ended.join(', ')} again with: ${up} (it leaves running nodes alone)`,
      paused.length === 0 ? undefined : `resume ${paused.map((node) => node.name).join(', ')} with: kill -CONT ${paused.map((node) => node.pid).join(' ')}`,
      silent.length === 0 ? undefined : `read the log of ${silent.join(', ')} (${silent.map((name) => `${name}.log`).join(', ')} in ${status.dir}), or ask again in a few seconds if just started`,
    ].filter((part) => part !== undefined)
    return {ok: false, error: 'nodes_not_serving', message: `the cluster is not fully up: ${notServing.map((node) => node.name).join(', ')} ${notServing.length === 1 ? 'does' : 'do'} not serve (${why}); ${todo.join('; ')}${others}`}
  }
  if (writesStopped.length > 0) {
    const pids = writesStopped.map((node) => node.pid)
    const restart = pids.every((pid) => pid !== undefined) ? `kill ${pids.join(' ')}, then ${up}` : `stop ${writesStopped.map((node) => node.name).join(', ')}, then ${up}`
    return {ok: false, error: 'writes_stopped', message: `the cluster is not fully up: ${writesStoppedText(writesStopped)} ${writesStopped.length === 1 ? 'takes' : 'take'} no writes and serve${writesStopped.length === 1 ? 's' : ''} reads only; ${writesStoppedTodo} (${restart})${others}`}
  }
  if (stoppedLeavers.length > 0 || stoppedOtherLeavers.length > 0) {
    const all = [...stoppedLeavers, ...stoppedOtherLeavers]
    const one = all.length === 1
    const through = status.nodes.find((node) => node.serving)?.address ?? 'HOST:PORT'
    // The folder's own are started by up; one joined by hand only where it runs.
    const starts =
      stoppedOtherLeavers.length === 0
        ? `start ${one ? 'it' : 'them'} again to finish with: ${up}`
        : [
            stoppedLeavers.length === 0 ? undefined : `start ${stoppedLeavers.join(', ')} again to finish with: ${up}`,
            `start ${stoppedOtherLeavers.join(', ')} again where ${stoppedOtherLeavers.length === 1 ? 'it runs (dyn start on its' : 'they run (dyn start on their'} data folder; this folder did not start ${stoppedOtherLeavers.length === 1 ? 'it' : 'them'})`,
          ]
            .filter((part) => part !== undefined)
            .join('; ')
    return {
      ok: false,
      error: 'nodes_not_serving',
      // The other members apart from those this message is about.
      message: `the cluster is not fully up: ${unfinishedHandoffText(all, one ? 'is not running' : 'are not running')}; ${starts} (${one ? 'it exits' : 'each exits'} by itself once done), or, if ${one ? 'its' : 'their'} hints may be given up, remove ${one ? 'it' : 'each'}: ${all.map((name) => `dyn cluster remove ${name} --node ${through}`).join('; ')}${otherMembersText(status.otherMembers.filter((member) => member.handoffUnfinished !== true), left)}`,
    }
  }
  // All serve, on different rings: a change still spreading by gossip.
  if (!agreed) return {ok: false, error: 'ring_not_agreed', message: `the cluster is not fully up: the nodes do not agree on the ring or its members yet (a ring change, a join or a restart, still spreading by gossip); ask again in a few seconds${others}`}
  // Another member is down: the folder cannot start it. Each removal is written out with the
  // member's name, ready to paste (it once read "dyn cluster remove NAME").
  const names = otherDown.map((member) => member.name).join(', ')
  const through = status.nodes.find((node) => node.serving)?.address ?? 'HOST:PORT'
  const removals = otherDown.map((member) => `dyn cluster remove ${member.name} --node ${through}`).join('; ')
  return {
    ok: false,
    error: 'members_down',
    message: `the cluster is not fully up: other member(s) down: ${names}, not started from this folder; start ${otherDown.length === 1 ? 'it' : 'them'} again where ${otherDown.length === 1 ? 'it runs' : 'they run'} (dyn start on ${otherDown.length === 1 ? 'its' : 'their'} data folder), or, if gone for good, remove ${otherDown.length === 1 ? 'it' : 'each'}: ${removals}`,
  }
}

/** The verdict of `dyn cluster status --node`: the cases, in order, said together when several hold. */
export function remoteStatusVerdict(status: RemoteClusterStatus): StatusVerdict {
  const through = `asked through ${status.askedThrough} (${status.node})`
  const gone = new Set(status.left)
  const writesStopped = status.nodes.filter((node) => node.serving && node.writesStopped !== undefined && !gone.has(node.name))
  const handoffsUnfinished = status.nodes.filter((node) => node.handoffUnfinished === true).map((node) => node.name)
  // Every member serves one ring and takes writes, no node sees another down, and every node that
  // left has handed off.
  if (status.agreed && status.seenDown.length === 0 && writesStopped.length === 0 && handoffsUnfinished.length === 0) return {ok: true, message: `${through}: every member serves, all agree on the ring, and every node reaches every other`}
  const left = new Set(status.left)
  const silent = status.nodes.filter((node) => !node.serving && !left.has(node.name)).map((node) => node.name)
  const problems: Array<{code: StatusProblemCode; text: string; todo: string}> = []
  // A member whose removal is staged or under way is not to be removed again (that is refused,
  // already_leaving), nor checked on: it is said where its removal stands (a new user's walk was
  // told to remove a node whose removal it had staged, and then committed). The newest ring any
  // node answered with: an older one may still show a removal staged that was cleared or
  // committed since.
  const ring = newestRing(status.transfers)
  const underWay = ring?.transition ?? undefined
  const removing = silent.filter((name) => underWay?.removing.includes(name) === true)
  const staged = silent.filter((name) => !removing.includes(name) && ring?.staged?.some((change) => change.kind === 'remove' && change.node === name) === true)
  // Some member does not answer: started again on its machine, or removed when gone for good.
  if (silent.length > 0) {
    const toDecide = silent.filter((name) => !removing.includes(name) && !staged.includes(name))
    // Half the members or more out of reach is as likely a network partition seen from its small
    // side as lost machines, and removing the other side would make it stop, with the writes it
    // took meanwhile, once the network heals: a commit from here is refused (no_majority).
    // A majority of the ring's members, as the claimant counts it: a joiner is none yet.
    const joining = new Set(status.joining ?? [])
    const ringMembers = status.nodes.filter((node) => !left.has(node.name) && !joining.has(node.name))
    const members = ringMembers.length
    const reached = ringMembers.filter((node) => !silent.includes(node.name)).length
    const smallSide = reached * 2 <= members
    const network = `this side reaches only ${reached} of the ${members} members, which a network partition looks like as much as lost machines: check the network first (a membership change from here is refused, no_majority)`
    const todos: string[] = []
    if (removing.length > 0) todos.push(`the removal of ${removing.join(', ')} is under way (ring change ${underWay?.id ?? '?'}): wait for its transfers to end (dyn cluster status shows them)`)
    if (staged.length > 0) {
      const after = underWay === undefined ? '' : `, once ring change ${underWay.id} has ended`
      todos.push(
        smallSide
          ? `the removal of ${staged.join(', ')} is staged, but ${network}; only if the machines out of reach are lost for good, commit it with --without-majority (dyn cluster commit --without-majority --node ${status.node})${after}`
          : `the removal of ${staged.join(', ')} is staged: commit it (dyn cluster commit --node ${status.node})${after}`,
      )
    }
    if (toDecide.length > 0) {
      todos.push(
        smallSide
          ? `${staged.length > 0 ? `${toDecide.join(', ')}: likewise` : network}; only if their machines are lost for good, remove them and commit, each with --without-majority (${toDecide.map((name) => `dyn cluster remove ${name} --without-majority --node ${status.node}`).join('; ')}; dyn cluster commit --without-majority --node ${status.node})`
          : `start a member that does not answer again on its machine (dyn start on its data folder, with its --machine if it had one; a node of dyn start --processes: that command again, or dyn start --machine with the command's --name), or, if it is gone for good, remove it (${toDecide.map((name) => `dyn cluster remove ${name} --node ${status.node}`).join('; ')})`,
      )
    }
    problems.push({code: 'nodes_not_serving', text: `${silent.join(', ')} ${silent.length === 1 ? 'does' : 'do'} not answer`, todo: todos.join('; ')})
  }
  // Out of the ring, but stopped before it handed off everything (its row above says why): a
  // walk's status said all was well while every tombstone waited for such a node.
  if (handoffsUnfinished.length > 0) {
    const one = handoffsUnfinished.length === 1
    problems.push({
      code: 'nodes_not_serving',
      text: unfinishedHandoffText(handoffsUnfinished, one ? 'does not answer' : 'do not answer'),
      todo: `start ${handoffsUnfinished.join(', ')} again on ${one ? 'its' : 'their'} data folder to finish (${one ? 'it exits' : 'each exits'} by itself once done), or, if ${one ? 'its machine is' : 'their machines are'} lost for good, remove ${one ? 'it' : 'each'} (${handoffsUnfinished.map((name) => `dyn cluster remove ${name} --node ${status.node}`).join('; ')}): ${one ? 'its' : 'their'} copies are on the keys' other replicas, only ${one ? 'its' : 'their'} hints are lost`,
    })
  }
  if (writesStopped.length > 0) {
    problems.push({code: 'writes_stopped', text: `${writesStoppedText(writesStopped)} ${writesStopped.length === 1 ? 'takes' : 'take'} no writes and serve${writesStopped.length === 1 ? 's' : ''} reads only`, todo: `for ${writesStopped.map((node) => node.name).join(', ')}: ${writesStoppedTodo} (stop it and dyn start it again on its data folder)`})
  }
  // All answer, on different rings: a change still spreading by gossip.
  if (silent.length === 0 && !status.agreed) problems.push({code: 'ring_not_agreed', text: 'the nodes do not agree on the ring or its members yet', todo: 'ask again in a few seconds, while the ring change spreads by gossip'})
  // Some node sees another down: that node does not run, or a link to it is cut.
  // A silent member on its way out is said above, with where its removal stands.
  const downToCheck = status.seenDown.filter((name) => !removing.includes(name) && !staged.includes(name))
  if (downToCheck.length > 0) problems.push({code: 'members_down', text: `seen down by some node: ${downToCheck.join(', ')}`, todo: 'check that each member seen down runs and that the others reach its internode port (a cut link shows as nodes that disagree)'})
  const first = problems[0]
  assert(first !== undefined, 'a status that is not ok has a problem')
  return {ok: false, error: first.code, message: `${through}: the cluster is not fully up: ${problems.map((problem) => problem.text).join('; ')}. To bring it up: ${problems.map((problem) => problem.todo).join('; ')}`}
}
