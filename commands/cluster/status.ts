// The flags module alone: loading all of @oclif/core here would slow every start of the CLI.
import * as Flags from '@oclif/core/flags'
import {clientTlsFlags, nodeFlag} from '../../src/cli/client-flags.js'
import {allAgree, clusterStatus, isDeparted, localStatusVerdict, markStoppedLeavers, remoteClusterStatus, remoteStatusMemberTimeoutMsMax, remoteStatusVerdict} from '../../src/cli/cluster-status.js'
import type {ClusterSettingsView, ClusterStatus, NodeStatus, QuorumDefaults, RemoteClusterStatus, StatusVerdict} from '../../src/cli/cluster-status.js'
import {formatTransfers, leftMembers, newestRing, readTransfers, unfinishedLeavers} from '../../src/cli/transfer-status.js'
import {clusterFileName, isNodeDataFolder, localClusterTls, localClusterTlsProblem, readCluster} from '../../src/cli/local-cluster.js'
import {nodeEnvironmentVariable} from '../../src/cli/command-output.js'
import {DynError} from '../../src/errors.js'
import type {ClientTls} from '../../src/client/http-client.js'
import {DynCommand} from '../../src/cli/command-base.js'
import {exitCodes} from '../../src/cli/exit-codes.js'
import {counted} from '../../src/cli/format.js'

/** Where dyn cluster up makes a cluster when not told otherwise. */
const clusterDirDefault = '.dyn/cluster'

/** How long a status asked through one node waits for it, unless --timeout says otherwise. */
const remoteTimeoutMsDefault = 10_000

export default class ClusterStatusCommand extends DynCommand {
  static override summary = 'Show whether each node of a cluster serves and agrees on the ring, how the nodes see each other, their hints and transfers, and the effective N/R/W.'

  static override description = `A node serves when its own process (the pid the folder recorded) answers GET /health in the folder's cluster. A node that serves from a process the folder did not start (dyn start typed by hand on its data folder, say after it left and joined again) is shown serving, with that process's pid, and marked as started outside the folder: dyn cluster down does not stop it, and --purge refuses while it runs. A node that is not running shows its last pid and how it ended (exit code or signal, recorded by the process that started it), or that this is not known; a node that left the cluster (dyn cluster leave or remove) shows as left, and cluster up no longer starts it; one that has left the ring but still hands off its data shows as handing off (do not stop it). Members that some node knows but the folder did not start (a node joined by hand with dyn start --seeds) are listed. The effective defaults are N capped by the members that own partitions, and R and W capped by that N.
With --node HOST:PORT instead of --dir, any cluster, such as one started by hand with dyn start on several machines: the node at that address asks every member over the internode port for its own view (so this machine needs to reach that one node only), and the status shows each member serving or why it does not answer, where the nodes' views of each other's reachability differ, the hints each keeps, the ring change and transfers under way (progress and ETA), and the effective N/R/W.
Exits 0 when every node (of the folder, or every member with --node) serves and takes writes, all agree on the ring and no member is down; 3 otherwise (with --json, the status then carries error, one of cluster_stopped, nodes_not_serving, writes_stopped, ring_not_agreed, members_down and unauthenticated, and a message saying what to do), or when no node answers at --node; 2 when the folder holds no cluster or the flags are wrong, or the node at --node presents a TLS certificate that does not verify (tls_untrusted).`

  static override examples = [
    {description: 'Check the demo cluster', command: '<%= config.bin %> cluster status --dir .dyn/demo'},
    {description: 'The same for a script: one JSON object on stdout', command: '<%= config.bin %> cluster status --dir .dyn/demo --json'},
    {description: 'A cluster on several machines, through any one of its nodes (its client API port)', command: '<%= config.bin %> cluster status --node 10.0.0.11:7070'},
    {description: 'Through a second node when the first cannot be connected to', command: '<%= config.bin %> cluster status --node 10.0.0.11:7070 --node 10.0.0.12:7070 --json'},
    {description: 'A cluster with TLS, through one of its nodes', command: '<%= config.bin %> cluster status --node https://10.0.0.11:7070 --tls-ca ./tls/ca.crt'},
  ]

  static override flags = {
    dir: Flags.string({description: `the cluster's folder (made by dyn cluster up) [default: ${clusterDirDefault}; when it holds no cluster and DYN_NODE is set, the cluster is asked through DYN_NODE as with --node]`, exclusive: ['node']}),
    node: nodeFlag,
    ...clientTlsFlags,
    // No default in oclif's sense, so that a --timeout given to a folder's status is seen and refused.
    timeout: Flags.integer({description: `with --node: give up on the node after this many milliseconds (it waits for each member at most half of it, up to 2 s) [default: ${remoteTimeoutMsDefault}]`, min: 2}),
    json: Flags.boolean({description: 'print the status as one JSON object', default: false}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ClusterStatusCommand)
    if (flags.node !== undefined) return this.remote(flags)
    const dir = flags.dir ?? clusterDirDefault
    let status: ClusterStatus
    let tls: ClientTls | undefined
    try {
      // One read of the folder, so that its nodes' CA is read once too (localClusterTls).
      const cluster = await readCluster(dir)
      // Neither flag, no cluster in the default folder, and DYN_NODE names the cluster's nodes (as
      // for every other command, and as --node's help says): ask through it. It once answered
      // "no cluster in .dyn/cluster; start one with: dyn cluster up" to a user of a cluster on
      // several machines who had exported DYN_NODE as the README does.
      if (cluster === undefined && flags.dir === undefined && nodeEnvironmentValue() !== undefined) return await this.remote(flags)
      if (cluster === undefined && flags.dir === undefined && !isNodeDataFolder(dir)) {
        throw new DynError('bad_parameter', `no cluster in ${dir} (no ${clusterFileName}), the folder dyn cluster up uses when not given --dir: give --dir with the folder of dyn cluster up, or ask a running node of any cluster with --node HOST:PORT (or DYN_NODE)`)
      }
      // A folder's client certificate comes from the environment, as for every folder command:
      // flags given for it would be ignored, so they are refused, as --timeout is.
      const tlsFlag = (['tls-ca', 'tls-cert', 'tls-key'] as const).find((name) => flags[name] !== undefined)
      if (tlsFlag !== undefined) throw new DynError('bad_parameter', `--${tlsFlag} applies with --node; the status of a folder (${dir}) reaches its nodes with the folder's own CA, and a client certificate from DYN_TLS_CERT and DYN_TLS_KEY: set those instead, or ask through a node with --node HOST:PORT`)
      // What the user asked for is done or refused: a folder's nodes are probed with their own short waits.
      if (flags.timeout !== undefined) throw new DynError('bad_parameter', `--timeout applies with --node (a cluster asked through one of its nodes); the status of a folder (${dir}) probes its nodes with short waits of its own: leave --timeout out, or ask through a node with --node HOST:PORT`)
      status = await clusterStatus(dir, cluster)
      // Without its TLS files the folder reaches no node: each says so above, and no transfer is read.
      tls = cluster === undefined || localClusterTlsProblem(cluster) !== undefined ? undefined : localClusterTls(cluster)
    } catch (error) {
      this.failFromError(flags.json, error)
    }
    // Members the folder did not start (a node joined by hand) move data too.
    const others = status.otherMembers.map((member) => ({name: member.name, address: member.apiAddress, serving: member.up}))
    const transfers = await readTransfers([...status.nodes, ...others], tls)
    // A node of the folder that left the cluster (dyn cluster leave, remove) is stopped by design.
    const left = leftMembers(transfers)
    // Recorded by up and down, for when no serving node can say it any more.
    for (const node of status.nodes) if (isDeparted(node)) left.add(node.name)
    const remaining = status.nodes.filter((node) => !left.has(node.name))
    const agreed = left.size === 0 ? status.agreed : remaining.length > 0 && remaining.every((node) => node.serving) && allAgree(remaining)
    status = markStoppedLeavers(status, unfinishedLeavers(transfers))
    const verdict = localStatusVerdict(status, left, agreed, newestRing(transfers))
    // A status that is not ok is a failure like any other under --json: a stable code and a
    // message saying what is wrong and what to do, before the status's own fields.
    if (flags.json) this.printJson({...verdictFields(verdict), ...status, agreed, left: [...left], transfers})
    else process.stdout.write(formatStatus(status, verdict, left) + formatTransfers(transfers))
    if (!verdict.ok) this.exit(exitCodes.unavailable)
  }

  /** --node: every member's own view, gathered by the node at that address. */
  private async remote(flags: {node?: string[]; 'tls-ca'?: string | undefined; 'tls-cert'?: string | undefined; 'tls-key'?: string | undefined; timeout?: number | undefined; json: boolean}): Promise<void> {
    let status: RemoteClusterStatus
    try {
      const timeoutMs = flags.timeout ?? remoteTimeoutMsDefault
      const memberTimeoutMs = Math.max(1, Math.min(remoteStatusMemberTimeoutMsMax, Math.floor(timeoutMs / 2)))
      status = await remoteClusterStatus(this.clientFor({...flags, timeout: timeoutMs}), memberTimeoutMs)
    } catch (error) {
      this.failFromError(flags.json, error)
    }
    const verdict = remoteStatusVerdict(status)
    if (flags.json) this.printJson({...verdictFields(verdict), ...status})
    else process.stdout.write(formatRemoteStatus(status, verdict))
    if (!verdict.ok) this.exit(exitCodes.unavailable)
  }
}

/** A verdict's fields in a JSON answer: `ok`, and for one that is not ok its `error` and `message`. */
function verdictFields(verdict: StatusVerdict): {ok: boolean; error?: string; message?: string} {
  return verdict.ok ? {ok: true} : {ok: false, error: verdict.error, message: verdict.message}
}

/** DYN_NODE when it names something (not unset, not blank). */
function nodeEnvironmentValue(): string | undefined {
  const value = process.env[nodeEnvironmentVariable]
  return value === undefined || value.trim() === '' ? undefined : value
}

/** How a node is, in a few words: serving (its members, ring and anti-entropy), left, or what is wrong. */
function stateText(node: NodeStatus, left: ReadonlySet<string>): string {
  // A node that has left the ring still runs until it has handed off what it held: stopping it
  // then would keep its hints (and its newest writes' third copy) from their homes.
  if (node.state === 'handing_off') return 'left the ring, handing off: sending its copies to their new homes and delivering its hints; it exits by itself once done (do not stop it before)'
  if (node.state === 'left' && node.running) return 'left the cluster: handed off everything, and exits within a few seconds'
  // Out of the ring, and stopped before it handed off everything: what to do, not "left".
  if (node.handoffUnfinished === true && node.problem !== undefined) return node.problem
  if (node.serving) return `serving, ${node.members} members, ring ${node.ringHash}${node.stopping === undefined ? '' : `; ${node.stopping}`}${node.writesStopped === undefined ? '' : `; takes no writes (its store failed to write: ${node.writesStopped})`}${antiEntropyText(node)}${node.startedElsewhere === true ? '; started outside this folder (by hand): dyn cluster down does not stop it' : ''}`
  if (node.departure === 'removed') return 'removed from the cluster (its last run stopped on learning it); dyn cluster up does not start it'
  return left.has(node.name) ? 'left the cluster' : (node.problem ?? 'stopped')
}

function nodeLine(node: NodeStatus, left: ReadonlySet<string>): string {
  return `${node.name.padEnd(6)} ${node.address.padEnd(16)} pid ${String(node.pid ?? '-').padEnd(8)} ${stateText(node, left)}\n`
}

/** A node's anti-entropy in a few words: catching up after a lost disk, or what it repaired. */
function antiEntropyText(node: NodeStatus): string {
  const summary = node.antiEntropy
  if (summary === undefined) return ''
  if (summary.recovering) return `; recovering a lost disk: ${summary.treesToRecover ?? 'all'} tree(s) to compare, ${summary.keysRepaired} key(s) repaired so far`
  return summary.keysRepaired > 0 ? `; anti-entropy repaired ${summary.keysRepaired} key(s)` : ''
}

/**
 * A member the folder did not start: its status and whether the node asked reaches it. A member
 * that left is said to have left, as a node of the folder is: no node probes it any more, so its
 * reachability is stale (it read "left, up" of a node stopped long since).
 */
export function otherMemberLine(member: {readonly name: string; readonly apiAddress: string; readonly status: string; readonly up: boolean; readonly handoffUnfinished?: true}): string {
  const state =
    member.handoffUnfinished === true ? 'left the ring, down before it handed off everything' : member.status === 'left' ? 'left the cluster' : `${member.status}, ${member.up ? 'up' : 'down'}`
  return `${member.name.padEnd(6)} ${member.apiAddress.padEnd(16)} not started from this folder (${state})\n`
}

function formatStatus(status: ClusterStatus, verdict: StatusVerdict, left: ReadonlySet<string>): string {
  let text = status.nodes.map((node) => nodeLine(node, left)).join('')
  for (const member of status.otherMembers) text += otherMemberLine(member)
  return `${text}${settingsLine(status)}${verdict.message}\n`
}

/** The cluster's settings and the defaults a request gets, in one line (empty when unknown). */
function settingsLine(status: {settings?: ClusterSettingsView; effective?: QuorumDefaults; ringMembers?: number; machines?: number}): string {
  if (status.settings === undefined) return ''
  const {settings: s, effective: e} = status
  const owners = status.ringMembers ?? 0
  const capped = e !== undefined && e.n < s.n ? ` (capped: ${counted(owners, 'member')} ${owners === 1 ? 'owns' : 'own'} partitions)` : ''
  const effective = e === undefined ? '' : `, effective N=${e.n} R=${e.r} W=${e.w}${capped}`
  const n = e?.n ?? s.n
  // Nodes that share machines (dyn start --processes): a key's homes are on distinct machines while there are N of them.
  const machines =
    status.machines === undefined || status.machines >= owners
      ? ''
      : `; ring members on ${counted(status.machines, 'machine')}${status.machines < n ? ` (fewer than N=${n}: ${status.machines === 1 ? 'every key keeps all its copies on that one machine' : 'some keys keep two or more of their copies on one machine'})` : ''}`
  return `settings N=${s.n} R=${s.r} W=${s.w}${effective}; ${s.partitions} partitions, conflicts: ${s.conflict}${machines}\n`
}

/** --node: each member, then how the nodes see each other, then the verdict. */
function formatRemoteStatus(status: RemoteClusterStatus, verdict: StatusVerdict): string {
  const left = new Set(status.left)
  const width = Math.max(6, ...status.nodes.map((node) => node.name.length))
  let text = status.nodes.map((node) => `${node.name.padEnd(width)} ${node.address.padEnd(21)} ${stateText(node, left)}\n`).join('')
  text += formatTransfers(status.transfers)
  for (const disagreement of status.disagreements) {
    const byState = new Map<string, string[]>()
    for (const [observer, state] of Object.entries(disagreement.seenAs)) byState.set(state, [...(byState.get(state) ?? []), observer])
    text += `the nodes disagree about ${disagreement.member}: ${[...byState].map(([state, observers]) => `${state} from ${observers.join(', ')}`).join('; ')}\n`
  }
  text += settingsLine(status)
  return `${text}${verdict.message}\n`
}
