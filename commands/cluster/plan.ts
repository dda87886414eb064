import {ClusterChangeCommand, formatPlan} from '../../src/cli/cluster-change.js'
import {exitCodesHelp} from '../../src/cli/exit-codes.js'

export default class ClusterPlan extends ClusterChangeCommand {
  static override summary = 'Show the staged membership changes and which partitions a commit would move where.'

  static override description = `Asks the claimant (the node that decides ring changes) through --node. Staged changes are joins (nodes started with --seeds --no-commit, or dyn cluster join), leaves and removals. The plan lists the ring after the commit, each ownership move (partition, old owner -> new owner) and each replica transfer (a partition copied to a node that becomes one of its home replicas). Nothing changes until dyn cluster commit.
A join of a node the claimant cannot reach (stopped, or started with an --advertise address that does not lead to it) stays staged but cannot be committed: the plan lists it apart, says why and what to do, and a commit leaves it out.
When fewer members than the cluster's N (or than the largest n keys were written with) would own partitions after the commit, a warning on stderr says what that means: keys get fewer replicas until nodes join, and requests asking more are refused.
--json prints {ok, claimant, ringVersion, staged, members, ownership, ownershipMoves, transfers, replicaCounts, defaultN}, and blocked: [{kind, node, rpcAddress, error, message}] when such joins wait.
${exitCodesHelp}`

  static override examples = [
    {description: 'What would a commit do?', command: '<%= config.bin %> cluster plan --node 127.0.0.1:7070'},
    {description: 'The same for a script', command: '<%= config.bin %> cluster plan --json'},
    {description: 'A cluster with TLS', command: '<%= config.bin %> cluster plan --node https://10.0.0.11:7070 --tls-ca ./tls/ca.crt'},
  ]

  static override flags = ClusterChangeCommand.changeFlags

  async run(): Promise<void> {
    const {flags} = await this.parse(ClusterPlan)
    await this.change(flags, 'GET', '/cluster/plan', (plan) => formatPlan(plan), true)
  }
}
