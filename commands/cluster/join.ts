import {Args} from '@oclif/core'
import {ClusterChangeCommand, sendClusterChange} from '../../src/cli/cluster-change.js'
import {oneNodeFlag} from '../../src/cli/client-flags.js'
import {withSeedsInternodeAddress} from '../../src/cli/seed-hint.js'
import {exitCodesHelp} from '../../src/cli/exit-codes.js'

export default class ClusterJoin extends ClusterChangeCommand {
  static override summary = 'Stage the join of a running, empty node (--node) to the cluster of SEED.'

  static override description = `SEED is the internode address (host:rpc-port) of any member of the cluster to join. The node at --node must run alone and hold no data (a fresh dyn start without --seeds); it adopts the cluster's settings and joins as "joining": it owns nothing until dyn cluster commit, and serves its partitions once their transfers are done. (dyn start --seeds SEED does the same at start and commits its own join unless given --no-commit.)
The seed first connects back to the node at the internode address it advertises (dyn start --advertise): a node the members cannot reach there could never be given partitions, so its join is refused (joiner_unreachable, exit 3) and nothing is staged; restart it with an --advertise address the cluster's nodes can connect to, then join again.
--node names one node (a list is refused: a node tried after one that does not answer would join in its place).
--json prints {ok, joined, members, status}; a refusal {ok: false, error, message}, with node and rpcAddress for joiner_unreachable.
${exitCodesHelp}`

  static override examples = [
    {description: 'Join the node at port 7073 to the cluster of dyn cluster up --port 7070, through n1\'s internode port (its --port + 1000)', command: '<%= config.bin %> cluster join 127.0.0.1:8070 --node 127.0.0.1:7073 && <%= config.bin %> cluster plan && <%= config.bin %> cluster commit'},
    {description: 'For a script', command: '<%= config.bin %> cluster join 127.0.0.1:8070 --node 127.0.0.1:7073 --json'},
    {description: "A cluster with TLS (the seed is still a member's internode address)", command: '<%= config.bin %> cluster join 10.0.0.11:8070 --node https://10.0.0.14:7070 --tls-ca ./tls/ca.crt'},
  ]

  static override args = {seed: Args.string({description: 'internode address (host:rpc-port) of a member of the cluster to join', required: true})}

  static override flags = {...ClusterChangeCommand.changeFlags, node: oneNodeFlag('the node that joins (running alone, with no data)')}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(ClusterJoin)
    if (!/^[^\s:/]+:\d{1,5}$/.test(args.seed)) {
      this.fail(flags.json, 'bad_parameter', `SEED must be host:rpc-port (the internode address of a member), not ${JSON.stringify(args.seed)}`)
    }
    const client = this.oneNodeClientFor(flags, 'the node that joins is')
    const outcome = await sendClusterChange(client, 'POST', `/cluster/join?seed=${encodeURIComponent(args.seed)}`)
    if (!outcome.ok) {
      // A seed that is a client API port: its node says which address is its internode one.
      const refusal = await withSeedsInternodeAddress({code: outcome.error, message: outcome.message, details: outcome.details}, 'dyn cluster join', client.memberTls)
      this.fail(flags.json, refusal.code, refusal.message, refusal.details)
    }
    if (flags.json) this.printOk(outcome.body)
    else process.stdout.write(`${client.node} joined through ${args.seed} as joining; see dyn cluster plan, then dyn cluster commit\n`)
  }
}
