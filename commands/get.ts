import {writeFile} from 'node:fs/promises'
import * as Flags from '@oclif/core/flags'
import type {DynClient, Sibling} from '../src/client/http-client.js'
import {explainFlag, jsonFlag, keyArg, nFlag, nodeFlag, prFlag, rFlag, timeoutFlag} from '../src/cli/client-flags.js'
import {DynCommand} from '../src/cli/command-base.js'
import {getExitCodesHelp} from '../src/cli/exit-codes.js'
import {formatTrace, hexPreview, isPrintableText, previewBytesMax, writeTrace} from '../src/cli/format.js'
import {siblingListing} from '../src/cli/sibling-listing.js'
import {warnOnWeakQuorum} from '../src/cli/quorum-check.js'

export default class Get extends DynCommand {
  static override summary = 'Read a key: its value, or all its siblings when writes were concurrent.'

  static override description = `One version prints as the raw value. Concurrent versions (siblings) print numbered, with the context that resolves them: write the reconciled value back with \`dyn put KEY VALUE --context CONTEXT\`.
On a terminal a binary value is not printed raw: you see its size, content type and first ${previewBytesMax} bytes in hex, and how to save it (--output FILE, or a pipe). Piped, the output is the value's bytes exactly, or nothing: a key with siblings prints them and how to resolve them on stderr and exits 4 (has_siblings), as --output does.
--json prints {ok, key, found, context, siblings: [{value (base64), text (when UTF-8), contentType, timestampMs, deleted}]} (siblings included, exit 0); a missing key is {ok: false, error: "not_found", key, found: false, deleted, context}.
${getExitCodesHelp}`

  static override examples = [
    {description: 'Read a key', command: '<%= config.bin %> get cart:alice'},
    {description: 'Read from a single replica, from another node', command: '<%= config.bin %> get cart:alice -r 1 --node 127.0.0.1:7071'},
    {description: 'For scripts: the siblings and the context as JSON', command: '<%= config.bin %> get cart:alice --json'},
    {description: 'Which replicas answered, how fast, and what read repair fixed', command: '<%= config.bin %> get cart:alice --explain'},
    {description: 'A strict quorum: two answers, both from home replicas', command: '<%= config.bin %> get cart:alice -r 2 --pr 2'},
    {description: 'Save a binary value to a file', command: '<%= config.bin %> get photo:1 --output photo.jpg'},
    {description: 'Try another node when the first cannot be reached', command: '<%= config.bin %> get cart:alice --node 127.0.0.1:7070 --node http://127.0.0.1:7071'},
  ]

  static override args = {
    key: keyArg,
  }

  static override flags = {
    node: nodeFlag,
    n: nFlag,
    r: rFlag,
    pr: prFlag,
    explain: explainFlag,
    output: Flags.string({char: 'o', description: 'write the value\'s bytes to this file instead of printing it', helpValue: 'FILE'}),
    timeout: timeoutFlag,
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Get)
    const client = this.clientFor(flags)
    const key = args.key
    try {
      const result = await client.get(key, {n: flags.n, r: flags.r, pr: flags.pr, explain: flags.explain})
      if (!result.ok) {
        if (flags.explain && !flags.json) writeTrace(result.body.trace)
        this.fail(flags.json, result.error, result.message, {key, status: result.status, ...result.body})
      }
      // Only now that the node accepted the request (see quorum-check.ts).
      await warnOnWeakQuorum(client, {n: flags.n, r: flags.r})
      if (flags.explain && !flags.json) process.stderr.write(formatTrace(result.trace))
      const trace = flags.explain ? {trace: result.trace} : {}
      if (!result.found) {
        const message = `${key} ${result.deleted ? 'was deleted' : 'does not exist'}`
        this.fail(flags.json, 'not_found', message, {key, found: false, deleted: result.deleted, context: result.context ?? null, ...trace})
      }
      const only = result.siblings.length === 1 ? result.siblings[0] : undefined
      if (flags.output !== undefined) {
        if (only === undefined) {
          this.fail(flags.json, 'has_siblings', `${key} has ${result.siblings.length} siblings and --output saves one value; run dyn get ${shellQuote(key)} to see them, and write the reconciled value with their context`, {key, siblings: result.siblings.length, context: result.context})
        }
        await this.save(flags.output, only.value, flags.json)
      }
      if (flags.json) {
        this.printOk({key, found: true, context: result.context, siblings: result.siblings.map(siblingJson), ...(flags.output === undefined ? {} : {savedTo: flags.output}), ...trace})
        return
      }
      if (only !== undefined && flags.output !== undefined) {
        process.stdout.write(`saved ${key} to ${flags.output} (${only.value.length} bytes, ${only.contentType})\n`)
        return
      }
      if (only !== undefined) return this.printValue(key, only)
      if (!process.stdout.isTTY) {
        // Piped output is one value's bytes or nothing: a listing would pass for the value.
        process.stderr.write(siblingsText(key, result.siblings, result.context))
        this.fail(false, 'has_siblings', `${key} has ${result.siblings.length} siblings, and piped output is one value's bytes, so nothing was printed; reconcile them (dyn resolve ${shellQuote(key)}, or dyn put with the context above), or read them all with --json`)
      }
      if (await offerResolve(client, key, flags)) return
      process.stdout.write(siblingsText(key, result.siblings, result.context))
    } catch (error) {
      this.failFromError(flags.json, error)
    }
  }

  /**
   * One value: its bytes exactly when piped; on a terminal, text ends with a line break, and a
   * binary value (which would garble the terminal) becomes a hex preview with how to save it.
   */
  private printValue(key: string, sibling: Sibling): void {
    if (!process.stdout.isTTY) {
      process.stdout.write(sibling.value)
      return
    }
    if (isPrintableText(sibling.value)) {
      process.stdout.write(sibling.value)
      if (!sibling.value.toString('utf8').endsWith('\n')) process.stdout.write('\n')
      return
    }
    const shown = Math.min(sibling.value.length, previewBytesMax)
    process.stdout.write(`${key}: binary value, ${sibling.value.length} bytes, ${sibling.contentType}; not printed on a terminal. The first ${shown} bytes:\n`)
    process.stdout.write(hexPreview(sibling.value))
    process.stdout.write(`save it with: dyn get ${shellQuote(key)} --output FILE   (or pipe it: dyn get ${shellQuote(key)} > FILE)\n`)
  }

  private async save(file: string, value: Buffer, json: boolean): Promise<void> {
    try {
      await writeFile(file, value)
    } catch (error) {
      this.fail(json, 'bad_parameter', `--output ${file}: cannot write the file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give a path in a folder you can write to`)
    }
  }
}

/** The siblings numbered, with the context and the put that resolves them. */
function siblingsText(key: string, siblings: readonly Sibling[], context: string): string {
  const lines = [`${key} has ${siblings.length} siblings (concurrent writes):`, ...siblingListing(siblings)]
  lines.push(`context: ${context}`, 'resolve by writing the reconciled value with this context:', `  dyn put ${shellQuote(key)} VALUE --context ${context}`)
  return `${lines.join('\n')}\n`
}

function siblingJson(sibling: Sibling): Record<string, unknown> {
  return {
    value: sibling.value.toString('base64'),
    ...(isPrintableText(sibling.value) ? {text: sibling.value.toString('utf8')} : {}),
    contentType: sibling.contentType,
    timestampMs: sibling.timestampMs,
    deleted: sibling.deleted,
  }
}

/**
 * On a terminal (stdin and stdout both), siblings open the interactive reconciliation of
 * `dyn resolve`; true when the user resolved them there. Loaded only then, so that a plain
 * `dyn get` never loads ink.
 */
async function offerResolve(client: DynClient, key: string, flags: {n?: number; r?: number}): Promise<boolean> {
  const {isInteractive, settleColors} = await import('../src/cli/terminal.js')
  if (!isInteractive()) return false
  settleColors(false)
  const {runResolveScreen} = await import('../src/cli/resolve-screen.js')
  const end = await runResolveScreen(client, key, {n: flags.n, r: flags.r}, {intro: `${key} has siblings: resolve them now, or q to leave them and see the listing`})
  return end.outcome === 'resolved'
}

function shellQuote(text: string): string {
  return /^[A-Za-z0-9_:./@-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`
}
