import {Args} from '@oclif/core'
import {DynClient} from '../src/client/http-client.js'
import {contextFlag, dwFlag, prFlag, pwFlag, explainFlag, jsonFlag, nFlag, nodeFlag, rFlag, timeoutFlag, wFlag} from '../src/cli/client-flags.js'
import {DynCommand} from '../src/cli/command-base.js'
import {exitCodesHelp} from '../src/cli/exit-codes.js'
import {formatTrace} from '../src/cli/format.js'

export default class Delete extends DynCommand {
  static override summary = 'Delete a key: write a tombstone that supersedes what was read.'

  static override description = `With --context, the tombstone supersedes exactly the versions that context saw (a concurrent write survives as a sibling). Without it, the node reads the key first (R replicas) and deletes what that read saw.
${exitCodesHelp}`

  static override examples = [
    {description: 'Delete a key', command: '<%= config.bin %> delete cart:alice'},
    {description: 'Delete exactly the versions an earlier read returned', command: '<%= config.bin %> delete cart:alice --context "$CONTEXT"'},
  ]

  static override args = {
    key: Args.string({description: 'the key', required: true, ignoreStdin: true}),
  }

  static override flags = {
    node: nodeFlag,
    n: nFlag,
    r: rFlag,
    w: wFlag,
    dw: dwFlag,
    pr: prFlag,
    pw: pwFlag,
    context: contextFlag,
    explain: explainFlag,
    timeout: timeoutFlag,
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Delete)
    const client = new DynClient(flags.node, flags.timeout)
    try {
      const result = await client.delete(args.key, {n: flags.n, r: flags.r, w: flags.w, dw: flags.dw, pr: flags.pr, pw: flags.pw, context: flags.context, explain: flags.explain})
      if (!result.ok) this.fail(flags.json, result.error, result.error === 'not_found' ? `${args.key} does not exist` : result.message, {status: result.status, ...result.body})
      if (flags.explain && !flags.json) process.stderr.write(formatTrace(result.trace))
      if (flags.json) this.printJson({ok: true, key: args.key, context: result.context, ...(flags.explain ? {trace: result.trace} : {})})
      else process.stdout.write(`deleted ${args.key}\n`)
    } catch (error) {
      this.failFromError(flags.json, error)
    }
  }
}
