import {Flags} from '@oclif/core'
import {DynCommand} from '../../src/cli/command-base.js'
import {exitCodes} from '../../src/cli/exit-codes.js'
import {clusterStatus} from '../../src/cli/local-cluster.js'
import {DynError} from '../../src/errors.js'

export default class ClusterStatus extends DynCommand {
  static override summary = 'Show whether each node of a local cluster runs, serves and agrees on the ring.'

  static override description = `Per node: whether it serves, the members it knows and its ring hash; then the ring change under way, if any (its members and the nodes it removes), and each node's transfers: partitions received of those it must receive, keys and bytes so far, the partitions moving now and an ETA (from the mean time per finished partition), and released partitions it still hands off after an install.
--json prints {ok, nodes: [{name, address, pid, running, serving, members, ringHash, cluster: GET /cluster of that node}], agreed}.
Exits 0 when every node serves and all agree on the ring, 3 otherwise.`

  static override examples = [
    {description: 'Check the demo cluster', command: '<%= config.bin %> cluster status --dir .dyn/demo'},
    {description: 'The same for a script', command: '<%= config.bin %> cluster status --dir .dyn/demo --json'},
    {description: 'Watch a join\'s transfers every second', command: 'watch -n1 <%= config.bin %> cluster status --dir .dyn/demo'},
  ]

  static override flags = {
    dir: Flags.string({description: 'the cluster\'s folder', default: '.dyn/cluster'}),
    json: Flags.boolean({description: 'print the status as JSON', default: false}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ClusterStatus)
    let status
    try {
      status = await clusterStatus(flags.dir)
    } catch (error) {
      if (error instanceof DynError) this.fail(flags.json, error.code, error.message)
      throw error
    }
    if (flags.json) {
      this.printJson({ok: status.agreed, ...status})
    } else {
      for (const node of status.nodes) {
        const state = node.serving ? `serving, ${node.members} members, ring ${node.ringHash}` : node.running ? 'running, not answering' : 'stopped'
        process.stdout.write(`${node.name.padEnd(6)} ${node.address.padEnd(16)} pid ${String(node.pid ?? '-').padEnd(8)} ${state}\n`)
      }
      process.stdout.write(formatTransfers(status.nodes))
      process.stdout.write(status.agreed ? 'all nodes serve and agree on the ring\n' : 'the cluster is not fully up\n')
    }
    if (!status.agreed) this.exit(exitCodes.unavailable)
  }
}

interface TransferView {
  transition?: string | null
  total?: number
  done?: number
  keysReceived?: number
  bytesReceived?: number
  etaMs?: number | null
  active?: Array<{partition: number; source: string; keys: number}>
  clusterOutstanding?: number
  waitingFor?: string
  releasedPartitionsPending?: number
}

/** The ring change under way and each node's transfers, as their GET /cluster reports them. */
function formatTransfers(nodes: ReadonlyArray<{name: string; cluster?: Record<string, unknown>}>): string {
  let text = ''
  const first = nodes.find((node) => node.cluster !== undefined)?.cluster
  const ring = first?.ring as {version?: number; claimant?: string; staged?: Array<{kind: string; node: string}>; transition?: {id: string; members: string[]; removing: string[]} | null} | undefined
  if (ring?.staged !== undefined && ring.staged.length > 0) text += `staged (not committed): ${ring.staged.map((c) => `${c.kind} ${c.node}`).join(', ')}\n`
  if (ring?.transition !== undefined && ring.transition !== null) {
    const removing = ring.transition.removing.length > 0 ? `, removing ${ring.transition.removing.join(', ')}` : ''
    text += `ring change ${ring.transition.id} under way (claimant ${ring.claimant ?? '?'}): to members ${ring.transition.members.join(', ')}${removing}\n`
  }
  for (const node of nodes) {
    const transfers = node.cluster?.transfers as TransferView | undefined
    if (transfers === undefined) continue
    const released = transfers.releasedPartitionsPending ?? 0
    if ((transfers.transition === null || transfers.transition === undefined) && released === 0) continue
    const mb = ((transfers.bytesReceived ?? 0) / 1048576).toFixed(1)
    const eta = transfers.etaMs === undefined || transfers.etaMs === null ? '' : `, ETA ${Math.ceil(transfers.etaMs / 1000)} s`
    const moving = (transfers.active ?? []).map((a) => `p${a.partition} from ${a.source} (${a.keys} keys)`).join(', ')
    const waiting = transfers.waitingFor === undefined ? '' : `; waiting: ${transfers.waitingFor}`
    const handOff = released > 0 ? `; ${released} released partition(s) to hand off` : ''
    text += `  ${node.name.padEnd(6)} received ${transfers.done ?? 0}/${transfers.total ?? 0} partitions, ${transfers.keysReceived ?? 0} keys, ${mb} MB${eta}${moving === '' ? '' : `; moving ${moving}`}${waiting}${handOff}\n`
  }
  return text
}
