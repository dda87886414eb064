import {Args} from '@oclif/core'
import {ClusterChangeCommand, formatStaged, replicaWarnings, sendClusterChange, withMajorityWaived, withoutMajorityFlag} from '../../src/cli/cluster-change.js'
import type {PlanBody} from '../../src/cli/cluster-change.js'
import {exitCodesHelp} from '../../src/cli/exit-codes.js'
import {warn} from '../../src/cli/format.js'
import {reachabilityAsSeen, removalWarning} from '../../src/cli/removal-warning.js'
import {namePattern} from '../../src/membership/names.js'

export default class ClusterRemove extends ClusterChangeCommand {
  static override summary = 'Stage the removal of a node that is gone for good (a dead machine, a lost disk).'

  static override description = `Unlike leave, the removed node takes no part: after dyn cluster commit, the new home replicas of its partitions fetch them from the surviving replicas. Writes that only the removed node held (acknowledged with w=1) are lost with it. For a node that still runs, use dyn cluster leave.
A node that is leaving and whose machine is lost holds its ring change up for ever; once the claimant sees it down, its removal is taken in place of the leave, and the commit makes the change under way take its partitions from the surviving replicas. While the claimant sees it up it is refused (already_leaving): a leaving node that runs finishes by itself.
A leaver lost after its partitions moved, before it handed off its last copies, holds up every tombstone's reap; when it does not answer, its removal marks it removed at once (no commit needed).
Any other member already on its way out stages nothing: already_leaving when its leave or removal is staged or its committed change still moves data, already_left when it has left (or is still handing off its last copies).
--json prints {ok, warnings, ...the plan with the removal staged}; warnings (also on stderr) is an array, empty when the node asked sees nothing amiss: one says when the node removed still runs, one when fewer members than the cluster's N (or than the largest n keys were written with) would own partitions after the commit.
${exitCodesHelp}`

  static override examples = [
    {description: 'n3 died for good: remove it and rebalance', command: '<%= config.bin %> cluster remove n3 && <%= config.bin %> cluster commit'},
    {description: "n5 was leaving when its machine was lost: once status shows it down, replace its leave by a removal", command: '<%= config.bin %> cluster remove n5 && <%= config.bin %> cluster commit'},
    {description: 'For a script', command: '<%= config.bin %> cluster remove n3 --node 127.0.0.1:7071 --json'},
    {description: 'A cluster with TLS', command: '<%= config.bin %> cluster remove n3 --node https://10.0.0.11:7070 --tls-ca ./tls/ca.crt'},
  ]

  static override args = {name: Args.string({description: 'the member to remove', required: true})}

  static override flags = {...ClusterChangeCommand.changeFlags, 'without-majority': withoutMajorityFlag}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(ClusterRemove)
    if (!namePattern.test(args.name)) {
      this.fail(flags.json, 'bad_parameter', `${JSON.stringify(args.name)} is not a member name (letters, digits, '.', '_', '-'; 1 to 64); see dyn cluster status`)
    }
    const client = this.clientFor(flags)
    const seen = await reachabilityAsSeen(client, args.name)
    const outcome = await sendClusterChange(client, 'POST', withMajorityWaived(`/cluster/remove?node=${encodeURIComponent(args.name)}`, flags['without-majority']))
    if (!outcome.ok) this.fail(flags.json, outcome.error, outcome.message, outcome.details)
    // Said once the removal is staged: a refusal says what it has to say itself (a node just
    // stopped that the claimant still counts as up is refused, unreachable, in its own words).
    const stagedNow = ((outcome.body as PlanBody).staged ?? []).some((change) => change.kind === 'remove' && change.node === args.name)
    const removal = seen === undefined ? undefined : removalWarning(args.name, seen, !stagedNow)
    const warnings = [...(removal === undefined ? [] : [removal]), ...replicaWarnings(outcome.body as PlanBody)]
    for (const warning of warnings) warn(warning)
    // In the answer too, so that a script sees what a person sees on stderr.
    if (flags.json) this.printOk({...outcome.body, warnings})
    else process.stdout.write(formatStaged(outcome.body as PlanBody))
  }
}
