import {readFile} from 'node:fs/promises'
import * as Flags from '@oclif/core/flags'
import type {DynClient} from '../src/client/http-client.js'
import {clientTlsFlags, jsonFlag, keyArg, nFlag, nodeFlag, rFlag, timeoutFlag, wFlag} from '../src/cli/client-flags.js'
import {DynCommand} from '../src/cli/command-base.js'
import {exitCodes, exitCodesHelp} from '../src/cli/exit-codes.js'
import {candidateOf, noVersionToResolve, readSiblings, supersededMeanwhile, writeAndVerify} from '../src/cli/resolve-flow.js'
import type {Choice, ReadQuorum, WriteWanted} from '../src/cli/resolve-flow.js'
import {isInteractive, settleColors} from '../src/cli/terminal.js'

export default class Resolve extends DynCommand {
  static override summary = "Reconcile a key's siblings into one version: keep one, merge them as JSON, or write an edited value."

  static override description = `On a terminal, shows the siblings side by side (a preview of each value, its size, content type, when and through which node it was written) with how they differ, and offers: keep one (1-9), merge as JSON (m: union of arrays and of object keys, recursively; conflicting scalars keep the newest sibling's value and are listed), or edit a candidate in $EDITOR (e). The result is shown before it is written.
The result is written with the siblings' context, so that it supersedes every one of them, then the key is read back: the command confirms that one version is left, or, if another write arrived meanwhile, says so (and on a terminal offers to resolve again).
Without a terminal, say what to do: --pick N, --merge json-union or --value FILE (with --content-type for its type; a picked sibling keeps its own, a merge writes JSON). --json prints {key, resolved, siblings, wrote: {value (base64), text?, contentType, deleted}, conflicts: [{path, values, kept}], context, remaining?}.
${exitCodesHelp} A key that another write changed meanwhile exits 3 (read it and resolve again). A key with no live version (it does not exist, or was deleted) exits 1 (not_found) whatever the way of resolving, naming the dyn put that writes it.`

  static override examples = [
    {description: 'Resolve interactively', command: '<%= config.bin %> resolve cart:bob'},
    {description: 'Merge JSON carts from a script', command: '<%= config.bin %> resolve cart:bob --merge json-union --json'},
    {description: 'Keep the second sibling', command: '<%= config.bin %> resolve cart:bob --pick 2'},
    {description: 'Write a value of your own that supersedes all siblings', command: '<%= config.bin %> resolve cart:bob --value merged.json'},
    {description: 'The same with its content type (only --value takes one)', command: '<%= config.bin %> resolve photo:1 --value photo.jpg --content-type image/jpeg'},
    {description: 'A cluster with TLS', command: '<%= config.bin %> resolve cart:bob --node https://10.0.0.11:7070 --tls-ca ./tls/ca.crt'},
  ]

  static override args = {
    key: keyArg,
  }

  static override flags = {
    node: nodeFlag,
    ...clientTlsFlags,
    n: nFlag,
    r: rFlag,
    w: wFlag,
    pick: Flags.integer({description: 'keep sibling N (numbered oldest first, as dyn get lists them)', min: 1, exclusive: ['merge', 'value']}),
    merge: Flags.string({description: 'merge the siblings', options: ['json-union'], exclusive: ['pick', 'value']}),
    value: Flags.string({description: 'write the contents of this file', exclusive: ['pick', 'merge'], helpValue: 'FILE'}),
    'content-type': Flags.string({description: 'with --value only: its content type [default: the siblings\' type, if they share one]', helpValue: 'TYPE'}),
    timeout: timeoutFlag,
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Resolve)
    const client = this.clientFor(flags)
    const quorum = {n: flags.n, r: flags.r, w: flags.w}
    const wanted: WriteWanted = {...(flags.value === undefined ? {} : {valueFile: flags.value}), ...(flags['content-type'] === undefined ? {} : {contentType: flags['content-type']})}
    // A content type is written with a value of the user's own: a picked sibling keeps its own
    // (it is kept as it was written), and a merge writes JSON. Refused rather than ignored.
    if (flags['content-type'] !== undefined && flags.value === undefined) {
      await this.failIfNoVersion(client, args.key, quorum, wanted, flags.json)
      const how = flags.pick !== undefined ? `--pick ${flags.pick} keeps that sibling as it was written, its content type included` : flags.merge !== undefined ? "--merge json-union writes JSON, as the siblings' shared content type (else application/json)" : 'the choices on a terminal write a sibling or a merge with their own content type'
      this.fail(
        flags.json,
        'bad_parameter',
        `--content-type is the content type of a --value FILE, and goes with --value only: ${how}. To write a value with another content type, save it to a file (dyn get ${args.key} --json lists each sibling's value, in base64) and give --value FILE --content-type ${flags['content-type']}`,
      )
    }
    let choice: Choice | undefined
    if (flags.pick !== undefined) choice = {kind: 'pick', number: flags.pick}
    if (flags.merge !== undefined) choice = {kind: 'merge'}
    if (flags.value !== undefined) {
      const value = await readFile(flags.value).catch((error: Error) => this.fail(flags.json, 'bad_parameter', `cannot read --value ${flags.value}: ${error.message}`))
      choice = {kind: 'value', value, ...(flags['content-type'] ? {contentType: flags['content-type']} : {})}
    }
    try {
      if (choice === undefined) {
        if (flags.json || !isInteractive()) {
          await this.failIfNoVersion(client, args.key, quorum, wanted, flags.json)
          this.fail(flags.json, 'bad_parameter', 'without a terminal, say how to resolve: --pick N, --merge json-union or --value FILE')
        }
        settleColors(false)
        const {runResolveScreen} = await import('../src/cli/resolve-screen.js')
        const end = await runResolveScreen(client, args.key, quorum)
        if (end.outcome === 'failed') this.fail(false, end.error, end.message)
        if (end.outcome === 'missing') this.fail(false, 'not_found', noVersionToResolve(args.key, end.deleted).message)
        if (end.outcome === 'raced') {
          process.stderr.write(`dyn: ${supersededMeanwhile(args.key, end.siblings).message} [conflict_remains]\n`)
          this.exit(exitCodes.unavailable)
        }
        if (end.outcome === 'left' && end.siblings < 2) process.stdout.write(`${args.key} has ${end.siblings === 0 ? 'no live version' : 'one version'}: nothing to resolve\n`)
        else if (end.outcome === 'left') process.stdout.write(`left ${end.siblings} siblings of ${args.key} as they are\n`)
        return
      }
      await this.resolveWith(client, args.key, quorum, choice, wanted, flags.json)
    } catch (error) {
      this.failFromError(flags.json, error)
    }
  }

  /**
   * Before a usage refusal whose advice is about the key's siblings: a key with no live version
   * is refused as not found instead, with the dyn put that writes it. A read that fails leaves
   * the usage refusal to be said, since the flags are wrong whatever the key holds.
   */
  private async failIfNoVersion(client: DynClient, key: string, quorum: ReadQuorum, wanted: WriteWanted, json: boolean): Promise<void> {
    const read = await readSiblings(client, key, quorum).catch(() => undefined)
    if (read?.ok !== true || read.siblings.length > 0) return
    this.fail(json, 'not_found', noVersionToResolve(key, read.deleted, wanted).message)
  }

  private async resolveWith(client: DynClient, key: string, quorum: {n?: number; r?: number; w?: number}, choice: Choice, wanted: WriteWanted, json: boolean): Promise<void> {
    const read = await readSiblings(client, key, quorum)
    if (!read.ok) this.fail(json, read.error, read.message)
    if (read.siblings.length === 0) this.fail(json, 'not_found', noVersionToResolve(key, read.deleted, wanted).message)
    if (read.siblings.length === 1 && choice.kind !== 'value') {
      if (json) this.printOk({key, resolved: true, siblings: 1, wrote: null, conflicts: [], context: read.context})
      else process.stdout.write(`${key} has one version: nothing to resolve\n`)
      return
    }
    const candidate = candidateOf(read, choice)
    if (!candidate.ok) this.fail(json, candidate.error, candidate.message)
    const verdict = await writeAndVerify(client, read, candidate, quorum)
    if (!verdict.ok) this.fail(json, verdict.error, verdict.message)
    const text = candidate.description.kind === 'binary' ? {} : {text: candidate.value.toString('utf8')}
    const wrote = {value: candidate.value.toString('base64'), ...text, contentType: candidate.contentType, deleted: candidate.deleted}
    const conflicts = candidate.conflicts
    if (verdict.superseded) {
      if (json) this.printOk({key, resolved: true, siblings: read.siblings.length, wrote, conflicts, context: verdict.context ?? null})
      else {
        process.stdout.write(`${key} resolved: ${candidate.deleted ? 'deleted' : `wrote ${candidate.description.sizeBytes} bytes`}, superseding all ${read.siblings.length} siblings\n`)
        for (const conflict of conflicts) process.stdout.write(`  conflict at ${conflict.path}: ${conflict.values.map((v) => JSON.stringify(v)).join(' | ')}, kept ${JSON.stringify(conflict.kept)}\n`)
      }
      return
    }
    const remaining = verdict.latest.siblings.length
    if (json) this.printJson({ok: false, error: 'conflict_remains', key, resolved: false, siblings: read.siblings.length, wrote, conflicts, context: verdict.latest.context ?? null, remaining})
    else process.stderr.write(`dyn: ${supersededMeanwhile(key, remaining).message} [conflict_remains]\n`)
    this.exit(exitCodes.unavailable)
  }
}
