import {Args} from '@oclif/core'
import {DynClient} from '../src/client/http-client.js'
import {explainFlag, jsonFlag, nFlag, nodeFlag, prFlag, rFlag, timeoutFlag} from '../src/cli/client-flags.js'
import {DynCommand} from '../src/cli/command-base.js'
import {exitCodes, exitCodesHelp} from '../src/cli/exit-codes.js'
import {displayValue, formatTrace} from '../src/cli/format.js'
import {warnOnWeakQuorum} from '../src/cli/quorum-check.js'

export default class Get extends DynCommand {
  static override summary = 'Read a key: its value, or all its siblings when writes were concurrent.'

  static override description = `One version prints as the raw value. Concurrent versions (siblings) print numbered, with the context that resolves them: write the reconciled value back with \`dyn put KEY VALUE --context CONTEXT\`.
--json prints {key, found, context, siblings: [{value (base64), text (when UTF-8), contentType, timestampMs, deleted}]}.
${exitCodesHelp}`

  static override examples = [
    {description: 'Read a key', command: '<%= config.bin %> get cart:alice'},
    {description: 'Read from a single replica, from another node', command: '<%= config.bin %> get cart:alice -r 1 --node 127.0.0.1:7071'},
    {description: 'For scripts: the siblings and the context as JSON', command: '<%= config.bin %> get cart:alice --json'},
    {description: 'Which replicas answered, how fast, and what read repair fixed', command: '<%= config.bin %> get cart:alice --explain'},
    {description: 'A strict quorum: two answers, both from home replicas', command: '<%= config.bin %> get cart:alice -r 2 --pr 2'},
  ]

  static override args = {
    key: Args.string({description: 'the key', required: true, ignoreStdin: true}),
  }

  static override flags = {
    node: nodeFlag,
    n: nFlag,
    r: rFlag,
    pr: prFlag,
    explain: explainFlag,
    timeout: timeoutFlag,
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Get)
    const client = new DynClient(flags.node, flags.timeout)
    try {
      await warnOnWeakQuorum(client, {n: flags.n, r: flags.r})
      const result = await client.get(args.key, {n: flags.n, r: flags.r, pr: flags.pr, explain: flags.explain})
      if (!result.ok) this.fail(flags.json, result.error, result.message, {status: result.status, ...result.body})
      if (flags.explain && !flags.json) process.stderr.write(formatTrace(result.trace))
      if (!result.found) {
        if (flags.json) this.printJson({key: args.key, found: false, deleted: result.deleted, context: result.context ?? null, ...(flags.explain ? {trace: result.trace} : {})})
        else process.stderr.write(`dyn: ${args.key} ${result.deleted ? 'was deleted' : 'does not exist'} [not_found]\n`)
        this.exit(exitCodes.notFound)
      }
      if (flags.json) {
        const siblings = result.siblings.map((s) => ({
          value: s.value.toString('base64'),
          ...(displayValue(s.value).startsWith('base64:') ? {} : {text: s.value.toString('utf8')}),
          contentType: s.contentType,
          timestampMs: s.timestampMs,
          deleted: s.deleted,
        }))
        this.printJson({key: args.key, found: true, context: result.context, siblings, ...(flags.explain ? {trace: result.trace} : {})})
        return
      }
      const only = result.siblings[0]
      if (result.siblings.length === 1 && only !== undefined) {
        process.stdout.write(only.value)
        if (process.stdout.isTTY && !only.value.toString('utf8').endsWith('\n')) process.stdout.write('\n')
        return
      }
      process.stdout.write(`${args.key} has ${result.siblings.length} siblings (concurrent writes):\n`)
      for (const [i, sibling] of result.siblings.entries()) {
        const when = new Date(sibling.timestampMs).toISOString()
        process.stdout.write(`  [${i + 1}] ${sibling.deleted ? '(deleted)' : displayValue(sibling.value)}   (${when})\n`)
      }
      process.stdout.write(`context: ${result.context}\nresolve by writing the reconciled value with this context:\n  dyn put ${shellQuote(args.key)} VALUE --context ${result.context}\n`)
    } catch (error) {
      this.failFromError(flags.json, error)
    }
  }
}

function shellQuote(text: string): string {
  return /^[A-Za-z0-9_:./@-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`
}
