import * as Flags from '@oclif/core/flags'
import {ClusterChangeCommand, formatStaged, withMajorityWaived, withoutMajorityFlag} from '../../src/cli/cluster-change.js'
import {exitCodesHelp} from '../../src/cli/exit-codes.js'
import {nodeAddressDefault, nodeEnvironmentVariable} from '../../src/cli/client-flags.js'
import {namePattern} from '../../src/membership/names.js'

export default class ClusterLeave extends ClusterChangeCommand {
  static override summary = 'Stage a graceful leave: the node hands off all its data, then exits.'

  static override description = `Stages the leave of the node at --node, or of the member named by --name (through --node). Given neither, it stages the leave of the node the command reaches by default: DYN_NODE, else 127.0.0.1:7070 (the first node of dyn cluster up). Without --name, --node (or DYN_NODE) must name one address: with a list, a node tried after one that did not answer would leave in its place, so a list is refused. Give --name (or --node) to make another node leave. Nothing moves until dyn cluster commit; dyn cluster plan shows what will. After the commit the leaving node keeps serving while its partitions are copied to their new homes, and exits once everything is handed off.
A member already on its way out stages nothing: already_leaving when its leave or removal is staged or its committed change still moves data, already_left when it has left.
When fewer members than the cluster's N (or than the largest n keys were written with) would own partitions after the commit, a warning on stderr says what that means.
--json prints {ok, ...the plan with the leave staged}.
${exitCodesHelp}`

  static override examples = [
    {description: 'Make the node at 127.0.0.1:7072 leave', command: '<%= config.bin %> cluster leave --node 127.0.0.1:7072 && <%= config.bin %> cluster commit'},
    {description: 'Make n3 leave, asking any node', command: '<%= config.bin %> cluster leave --name n3 --json'},
    {description: 'Without --name or --node: the node at DYN_NODE (else 127.0.0.1:7070) leaves', command: 'DYN_NODE=127.0.0.1:7071 <%= config.bin %> cluster leave'},
    {description: 'A cluster with TLS', command: '<%= config.bin %> cluster leave --node https://10.0.0.13:7070 --tls-ca ./tls/ca.crt'},
  ]

  static override flags = {
    ...ClusterChangeCommand.changeFlags,
    node: Flags.string({
      description: `client API of the node that leaves, or with --name of the node to ask: host:port, http://host:port or https://host:port (a node started with --tls-cert). Without --name one address (a node tried after one that does not answer would leave in its place); with --name, repeat it (or give a list) to name fallbacks [default: $${nodeEnvironmentVariable}, else ${nodeAddressDefault}]`,
      multiple: true,
      multipleNonGreedy: true,
      helpValue: 'host:port',
    }),
    'without-majority': withoutMajorityFlag,
    name: Flags.string({description: 'the member that leaves (default: the node answering at --node, whose own default is DYN_NODE, else 127.0.0.1:7070)'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ClusterLeave)
    if (flags.name !== undefined && !namePattern.test(flags.name)) {
      this.fail(flags.json, 'bad_parameter', `--name ${JSON.stringify(flags.name)} is not a member name (letters, digits, '.', '_', '-'; 1 to 64)`)
    }
    const query = flags.name === undefined ? '' : `?node=${encodeURIComponent(flags.name)}`
    // Without --name the node reached is the one that leaves: exactly the one named, never a fall-back.
    const client = flags.name === undefined ? this.oneNodeClientFor(flags, 'without --name the node that leaves is', ', or name the member that leaves with --name') : this.clientFor(flags)
    await this.change(flags, 'POST', withMajorityWaived(`/cluster/leave${query}`, flags['without-majority']), formatStaged, true, client)
  }
}
