import {Flags} from '@oclif/core'
import {DynCommand} from '../../src/cli/command-base.js'
import {exitCodes} from '../../src/cli/exit-codes.js'
import {clusterStatus} from '../../src/cli/local-cluster.js'
import {DynError} from '../../src/errors.js'

export default class ClusterStatus extends DynCommand {
  static override summary = 'Show whether each node of a local cluster runs, serves and agrees on the ring.'

  static override description = 'Exits 0 when every node serves and all agree on the ring, 3 otherwise.'

  static override examples = [
    {description: 'Check the demo cluster', command: '<%= config.bin %> cluster status --dir .dyn/demo'},
    {description: 'The same for a script', command: '<%= config.bin %> cluster status --dir .dyn/demo --json'},
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
      process.stdout.write(status.agreed ? 'all nodes serve and agree on the ring\n' : 'the cluster is not fully up\n')
    }
    if (!status.agreed) this.exit(exitCodes.unavailable)
  }
}
