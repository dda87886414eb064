import {ClusterChangeCommand, formatCommit, withMajorityWaived, withoutMajorityFlag} from '../../src/cli/cluster-change.js'
import {exitCodesHelp} from '../../src/cli/exit-codes.js'

export default class ClusterCommit extends ClusterChangeCommand {
  static override summary = 'Apply the staged membership changes: the claimant starts moving data to the new ring.'

  static override description = `The claimant computes the new ring from the current one (each change moves about Q/S partitions, and only to or from the nodes it concerns), and every new home replica fetches its partitions from the old ones while writes reach both. The new ring takes over once every transfer is done; watch it with dyn cluster status. A leaving node exits once it has handed off everything. Refused (ring_in_transition) while an earlier commit still moves data, and (nothing_staged) when nothing is staged. Refused (no_majority, exit 3), as leave, remove and clear are, when the claimant sees fewer than a majority of the ring's members up: on one side of a network partition a removal of the members on the other side would make them stop once it heals, and every write they acknowledged meanwhile would be lost. Use --without-majority only when the members out of reach are lost for good. A join of a node the claimant cannot reach at the internode address it advertises is left out and stays staged (the answer's blocked lists it, with what to do); a commit that would apply nothing else is refused (joiner_unreachable, exit 3).
Prints the change it started by its id (ring change 5.n1: the ring version the commit made, and the claimant that made it), as dyn cluster status and refusals name it.
--json prints {ok, transition, ringVersion, ...the rest of the plan that was committed: claimant, staged, members, ownership, ownershipMoves, transfers, and blocked when a join was left out}.
${exitCodesHelp}`

  static override examples = [
    {description: 'Review, then apply', command: '<%= config.bin %> cluster plan && <%= config.bin %> cluster commit'},
    {description: 'For a script', command: '<%= config.bin %> cluster commit --node 127.0.0.1:7071 --json'},
    {description: 'A cluster with TLS', command: '<%= config.bin %> cluster commit --node https://10.0.0.11:7070 --tls-ca ./tls/ca.crt'},
    {description: 'Two of three machines lost for good: remove them from the survivor, then commit, each without a majority', command: '<%= config.bin %> cluster remove n2 --without-majority && <%= config.bin %> cluster remove n3 --without-majority && <%= config.bin %> cluster commit --without-majority'},
  ]

  static override flags = {
    ...ClusterChangeCommand.changeFlags,
    'without-majority': withoutMajorityFlag,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ClusterCommit)
    await this.change(flags, 'POST', withMajorityWaived('/cluster/commit', flags['without-majority']), formatCommit)
  }
}
