import {Args} from '@oclif/core'
import type {ClientFlagValues} from '../../src/cli/command-base.js'
import {ClusterChangeCommand, formatPlan} from '../../src/cli/cluster-change.js'
import {exitCodesHelp} from '../../src/cli/exit-codes.js'
import {warn} from '../../src/cli/format.js'
import {namePattern} from '../../src/membership/names.js'

export default class ClusterRemove extends ClusterChangeCommand {
  static override summary = 'Stage the removal of a node that is gone for good (a dead machine, a lost disk).'

  static override description = `Unlike leave, the removed node takes no part: after dyn cluster commit, the new home replicas of its partitions fetch them from the surviving replicas. Writes that only the removed node held (acknowledged with w=1) are lost with it. For a node that still runs, use dyn cluster leave.
A member already on its way out stages nothing: already_leaving when its leave or removal is staged or its committed change still moves data, already_left when it has left.
--json prints {ok, ...the plan with the removal staged}.
${exitCodesHelp}`

  static override examples = [
    {description: 'n3 died for good: remove it and rebalance', command: '<%= config.bin %> cluster remove n3 && <%= config.bin %> cluster commit'},
    {description: 'For a script', command: '<%= config.bin %> cluster remove n3 --node 127.0.0.1:7071 --json'},
    {description: 'A cluster with TLS', command: '<%= config.bin %> cluster remove n3 --node https://10.0.0.11:7070 --tls-ca ./tls/ca.crt'},
  ]

  static override args = {name: Args.string({description: 'the member to remove', required: true})}

  static override flags = ClusterChangeCommand.changeFlags

  async run(): Promise<void> {
    const {args, flags} = await this.parse(ClusterRemove)
    if (!namePattern.test(args.name)) {
      this.fail(flags.json, 'bad_parameter', `${JSON.stringify(args.name)} is not a member name (letters, digits, '.', '_', '-'; 1 to 64); see dyn cluster status`)
    }
    await this.warnIfRunning(flags, args.name)
    await this.change(flags, 'POST', `/cluster/remove?node=${encodeURIComponent(args.name)}`, (plan) => `${formatPlan(plan)}apply it with: dyn cluster commit\n`)
  }

  /**
   * A removal is for a node that is gone: one that still answers would be better served by a
   * leave, which fetches from it too. Not refused (its data is handed off all the same once it
   * sees the new ring), but said, on stderr, before the change is staged.
   */
  private async warnIfRunning(flags: ClientFlagValues, name: string): Promise<void> {
    const view = await this.clientFor(flags).getJson('/cluster').catch(() => undefined)
    if (view === undefined || !view.ok) return
    const members = Array.isArray(view.body.members) ? (view.body.members as Array<{name?: unknown; reachability?: unknown}>) : []
    if (members.find((member) => member.name === name)?.reachability !== 'up') return
    warn(`${name} is up, as the node asked sees it; remove is for a node that is gone for good (a removed node hands nothing off: once the removal is committed, a running one stops with error removed; for a running node, dyn cluster leave --name ${name} hands its data off first)`)
  }
}
