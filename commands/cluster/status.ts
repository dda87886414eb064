// The flags module alone: loading all of @oclif/core here would slow every start of the CLI.
import * as Flags from '@oclif/core/flags'
import {clusterStatus} from '../../src/cli/cluster-status.js'
import type {ClusterStatus, NodeStatus} from '../../src/cli/cluster-status.js'
import {formatTransfers, leftMembers, readTransfers} from '../../src/cli/transfer-status.js'
import {DynCommand} from '../../src/cli/command-base.js'
import {exitCodes} from '../../src/cli/exit-codes.js'
import {counted} from '../../src/cli/format.js'

export default class ClusterStatusCommand extends DynCommand {
  static override summary = 'Show whether each node of a local cluster runs, serves and agrees on the ring, and the cluster\'s effective N/R/W.'

  static override description = `A node serves when its own process (the pid the folder recorded) answers GET /health in the folder's cluster. A node that is not running shows its last pid and how it ended (exit code or signal, recorded by the process that started it), or that this is not known; a node that left the cluster (dyn cluster leave or remove) shows as left, and cluster up no longer starts it. Members that some node knows but the folder did not start (a node joined by hand with dyn start --seeds) are listed. The effective defaults are N capped by the members that own partitions, and R and W capped by that N.
Exits 0 when every node of the folder serves, all agree on the ring and no other member is down; 3 otherwise; 2 when the folder holds no cluster.`

  static override examples = [
    {description: 'Check the demo cluster', command: '<%= config.bin %> cluster status --dir .dyn/demo'},
    {description: 'The same for a script: one JSON object on stdout', command: '<%= config.bin %> cluster status --dir .dyn/demo --json'},
  ]

  static override flags = {
    dir: Flags.string({description: 'the cluster\'s folder', default: '.dyn/cluster'}),
    json: Flags.boolean({description: 'print the status as one JSON object', default: false}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ClusterStatusCommand)
    let status: ClusterStatus
    try {
      status = await clusterStatus(flags.dir)
    } catch (error) {
      this.failFromError(flags.json, error)
    }
    // Members the folder did not start (a node joined by hand) move data too.
    const others = status.otherMembers.map((member) => ({name: member.name, address: member.apiAddress, serving: member.up}))
    const transfers = await readTransfers([...status.nodes, ...others])
    // A node of the folder that left the cluster (dyn cluster leave, remove) is stopped by design.
    const left = leftMembers(transfers)
    // Recorded by up and down, for when no serving node can say it any more.
    for (const node of status.nodes) if (node.state === 'left') left.add(node.name)
    const remaining = status.nodes.filter((node) => !left.has(node.name))
    const agreed = left.size === 0 ? status.agreed : remaining.length > 0 && remaining.every((node) => node.serving) && new Set(remaining.map((node) => node.ringHash)).size === 1
    const otherDown = status.otherMembers.filter((m) => !m.up && !left.has(m.name))
    const ok = agreed && otherDown.length === 0
    if (flags.json) this.printJson({ok, ...status, agreed, left: [...left], transfers})
    else process.stdout.write(formatStatus(status, ok, agreed, left) + formatTransfers(transfers))
    if (!ok) this.exit(exitCodes.unavailable)
  }
}

function nodeLine(node: NodeStatus, left: ReadonlySet<string>): string {
  const state = node.serving ? `serving, ${node.members} members, ring ${node.ringHash}${antiEntropyText(node)}` : left.has(node.name) ? 'left the cluster' : (node.problem ?? 'stopped')
  return `${node.name.padEnd(6)} ${node.address.padEnd(16)} pid ${String(node.pid ?? '-').padEnd(8)} ${state}\n`
}

/** A node's anti-entropy in a few words: catching up after a lost disk, or what it repaired. */
function antiEntropyText(node: NodeStatus): string {
  const summary = node.antiEntropy
  if (summary === undefined) return ''
  if (summary.recovering) return `; recovering a lost disk: ${summary.treesToRecover ?? 'all'} tree(s) to compare, ${summary.keysRepaired} key(s) repaired so far`
  return summary.keysRepaired > 0 ? `; anti-entropy repaired ${summary.keysRepaired} key(s)` : ''
}

function formatStatus(status: ClusterStatus, ok: boolean, agreed: boolean, left: ReadonlySet<string>): string {
  let text = status.nodes.map((node) => nodeLine(node, left)).join('')
  for (const member of status.otherMembers) {
    text += `${member.name.padEnd(6)} ${member.apiAddress.padEnd(16)} not started from this folder (${member.status}, ${member.up ? 'up' : 'down'})\n`
  }
  if (status.settings !== undefined) {
    const {settings: s, effective: e} = status
    const owners = status.ringMembers ?? 0
    const capped = e !== undefined && e.n < s.n ? ` (capped: ${counted(owners, 'member')} ${owners === 1 ? 'owns' : 'own'} partitions)` : ''
    const effective = e === undefined ? '' : `, effective N=${e.n} R=${e.r} W=${e.w}${capped}`
    text += `settings N=${s.n} R=${s.r} W=${s.w}${effective}; ${s.partitions} partitions, conflicts: ${s.conflict}\n`
  }
  const notServing = status.nodes.filter((n) => !n.serving && !left.has(n.name)).map((n) => n.name)
  if (status.nodes.every((n) => n.state === 'stopped' || n.state === 'left')) return `${text}the cluster is stopped; start it with: dyn cluster up --dir ${status.dir}\n`
  const others = status.otherMembers.length === 0 ? '' : `; ${status.otherMembers.length} other member(s) not started from this folder: ${status.otherMembers.map((m) => m.name).join(', ')}`
  if (ok) return `${text}all nodes ${others === '' ? '' : 'of the folder '}serve and agree on the ring${others}\n`
  if (notServing.length > 0) return `${text}the cluster is not fully up: ${notServing.join(', ')} ${notServing.length === 1 ? 'does' : 'do'} not serve${others}\n`
  if (!agreed) return `${text}the cluster is not fully up: the nodes do not agree on the ring yet${others}\n`
  return `${text}the cluster is not fully up: other member(s) down: ${status.otherMembers.filter((m) => !m.up).map((m) => m.name).join(', ')}\n`
}
