import {Args} from '@oclif/core'
import {DynCommand} from '../../src/cli/command-base.js'
import {jsonFlag, nodeFlag, timeoutFlag} from '../../src/cli/client-flags.js'
import {formatPlan, sendClusterChange} from '../../src/cli/cluster-change.js'
import type {PlanBody} from '../../src/cli/cluster-change.js'
import {exitCodesHelp} from '../../src/cli/exit-codes.js'
import {memberNamePattern} from '../../src/membership/member-table.js'

export default class ClusterRemove extends DynCommand {
  static override summary = 'Stage the removal of a node that is gone for good (a dead machine, a lost disk).'

  static override description = `Unlike leave, the removed node takes no part: after dyn cluster commit, the new home replicas of its partitions fetch them from the surviving replicas. Writes that only the removed node held (acknowledged with w=1) are lost with it. For a node that still runs, use dyn cluster leave.
--json prints {ok, ...the plan with the removal staged}.
${exitCodesHelp}`

  static override examples = [
    {description: 'n3 died for good: remove it and rebalance', command: '<%= config.bin %> cluster remove n3 && <%= config.bin %> cluster commit'},
    {description: 'For a script', command: '<%= config.bin %> cluster remove n3 --node 127.0.0.1:7071 --json'},
  ]

  static override args = {name: Args.string({description: 'the member to remove', required: true})}

  static override flags = {node: nodeFlag, timeout: timeoutFlag, json: jsonFlag}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(ClusterRemove)
    if (!memberNamePattern.test(args.name)) {
      this.fail(flags.json, 'bad_parameter', `${JSON.stringify(args.name)} is not a member name (letters, digits, '.', '_', '-'; 1 to 64); see dyn cluster status`)
    }
    const outcome = await sendClusterChange(this.clientFor(flags), 'POST', `/cluster/remove?node=${encodeURIComponent(args.name)}`)
    if (!outcome.ok) this.fail(flags.json, outcome.error, outcome.message, outcome.details)
    if (flags.json) this.printJson({ok: true, ...outcome.body})
    else process.stdout.write(`${formatPlan(outcome.body as PlanBody)}apply it with: dyn cluster commit\n`)
  }
}
