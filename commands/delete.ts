import {contextFlag, dwFlag, explainFlag, jsonFlag, keyArg, nFlag, nodeFlag, prFlag, pwFlag, rFlag, timeoutFlag, wFlag} from '../src/cli/client-flags.js'
import {warnOnWeakQuorum} from '../src/cli/quorum-check.js'
import {DynCommand} from '../src/cli/command-base.js'
import {exitCodesHelp} from '../src/cli/exit-codes.js'
import {formatTrace, writeTrace} from '../src/cli/format.js'

export default class Delete extends DynCommand {
  static override summary = 'Delete a key: write a tombstone that supersedes what was read.'

  static override description = `With --context, the tombstone supersedes exactly the versions that context saw (a concurrent write survives as a sibling). Without it, the node reads the key first (R replicas) and deletes what that read saw.
--json prints {ok, key, context}; the context covers the tombstone, so a write with it supersedes the delete.
${exitCodesHelp}`

  static override examples = [
    {description: 'Delete a key', command: '<%= config.bin %> delete cart:alice'},
    {description: 'Delete exactly the versions an earlier read returned', command: '<%= config.bin %> delete cart:alice --context "$CONTEXT"'},
  ]

  static override args = {
    key: keyArg,
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
    const client = this.clientFor(flags)
    const key = args.key
    try {
      const result = await client.delete(key, {n: flags.n, r: flags.r, w: flags.w, dw: flags.dw, pr: flags.pr, pw: flags.pw, context: flags.context, explain: flags.explain})
      if (!result.ok) {
        if (flags.explain && !flags.json) writeTrace(result.body.trace)
        const message = result.error === 'not_found' ? `${key} ${result.body.deleted === true ? 'was already deleted' : 'does not exist'}` : result.message
        this.fail(flags.json, result.error, message, {key, status: result.status, ...(result.error === 'not_found' ? {found: false} : {}), ...result.body})
      }
      // Only now that the node accepted the request (see quorum-check.ts).
      await warnOnWeakQuorum(client, {n: flags.n, r: flags.r, w: flags.w})
      if (flags.explain && !flags.json) process.stderr.write(formatTrace(result.trace))
      if (flags.json) this.printOk({key, context: result.context, ...(flags.explain ? {trace: result.trace} : {})})
      else process.stdout.write(`deleted ${key}\n`)
    } catch (error) {
      this.failFromError(flags.json, error)
    }
  }
}
