import {ClusterChangeCommand, formatClear, withMajorityWaived, withoutMajorityFlag} from '../../src/cli/cluster-change.js'
import {exitCodesHelp} from '../../src/cli/exit-codes.js'

export default class ClusterClear extends ClusterChangeCommand {
  static override summary = 'Drop the staged leaves and removals that were not committed (riak-admin cluster clear).'

  static override description = `Staged changes wait for dyn cluster commit; clear drops them all, so that nothing of them happens. A ring change already committed is not undone: it finishes moving data. A join is staged by the joining node itself and is not dropped by clear: withdraw a join whose node was stopped before its commit with dyn cluster remove NAME.
With nothing staged it changes nothing (the ring keeps its version) and says so.
--json prints {ok, cleared (how many staged changes were dropped; 0 when nothing was staged), ...the plan after clearing}.
${exitCodesHelp}`

  static override examples = [
    {description: 'Changed your mind about a staged leave', command: '<%= config.bin %> cluster leave --name n3 && <%= config.bin %> cluster clear'},
    {description: 'For a script', command: '<%= config.bin %> cluster clear --node 127.0.0.1:7071 --json'},
    {description: 'A cluster with TLS', command: '<%= config.bin %> cluster clear --node https://10.0.0.11:7070 --tls-ca ./tls/ca.crt'},
  ]

  static override flags = {...ClusterChangeCommand.changeFlags, 'without-majority': withoutMajorityFlag}

  async run(): Promise<void> {
    const {flags} = await this.parse(ClusterClear)
    await this.change(flags, 'POST', withMajorityWaived('/cluster/clear', flags['without-majority']), formatClear)
  }
}
