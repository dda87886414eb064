import {readFile} from 'node:fs/promises'
import {keyArgumentRefusal} from '../src/cli/key-argument.js'
import * as Flags from '@oclif/core/flags'
import type {DynClient} from '../src/client/http-client.js'
import {clientTlsFlags, jsonFlag, keyArg, nFlag, nodeFlag, rFlag, timeoutFlag, wFlag} from '../src/cli/client-flags.js'
import {DynCommand} from '../src/cli/command-base.js'
import {exitCodes, exitCodesHelp} from '../src/cli/exit-codes.js'
import {checkContext} from '../src/api/params.js'
import {parseSiblingId} from '../src/api/sibling-order.js'
import {shellQuote} from '../src/cli/format.js'
import {candidateOf, noVersionToResolve, readSiblings, siblingGone, siblingsChangedSince, supersededMeanwhile, writeAndVerify} from '../src/cli/resolve-flow.js'
import type {Choice, ReadQuorum, WriteWanted} from '../src/cli/resolve-flow.js'
import {isInteractive, settleColors} from '../src/cli/terminal.js'
import type {VersionVector} from '../src/versioning/dvvset.js'

export default class Resolve extends DynCommand {
  static override summary = "Reconcile a key's siblings into one version: keep one, merge them as JSON, or write an edited value."

  static override description = `On a terminal, shows the siblings side by side (a preview of each value, its size, content type, when and through which node it was written) with how they differ, and offers: keep one (1-9), merge as JSON (m: union of arrays and of object keys, recursively; conflicting scalars keep the newest sibling's value and are listed), or edit a candidate in $EDITOR (e). The result is shown before it is written.
The result is written with the siblings' context, so that it supersedes every one of them, then the key is read back: the command confirms that one version is left, or, if another write arrived meanwhile, says so (and on a terminal offers to resolve again).
Without a terminal, say what to do: --pick N, --pick-id ID, --merge json-union or --value FILE (with --content-type for its type; a picked sibling keeps its own, a merge writes JSON).
Siblings are numbered oldest first (by the time each was written, equal times by id), the same numbering as dyn get's listing and the "number" of each sibling in dyn get --json. resolve reads the key again before it writes, and --pick N is sibling N of that read: if another write changed the siblings since yours, N may be another sibling. A script should keep a sibling by its id instead (--pick-id, from the "id" of dyn get --json), which is refused (sibling_gone, exit 3) when that sibling is no longer one of the key's, or give --context with the context of the read it chose from, which refuses any choice (siblings_changed, exit 3) when the siblings are not those of that read. Nothing is written when either refuses.
--json prints {ok, key, resolved, siblings, picked?: {number, id}, wrote: {value (base64), text?, contentType, deleted}, conflicts: [{path, values, kept}], context, remaining?}.
${exitCodesHelp} A key that another write changed meanwhile exits 3 (conflict_remains, sibling_gone, siblings_changed: read it and resolve again). A key with no live version (it does not exist, or was deleted) exits 1 (not_found) whatever the way of resolving, naming the dyn put that writes it.`

  static override examples = [
    {description: 'Resolve interactively', command: '<%= config.bin %> resolve cart:bob'},
    {description: 'Merge JSON carts from a script', command: '<%= config.bin %> resolve cart:bob --merge json-union --json'},
    {description: 'Keep the second sibling (as dyn get lists them now)', command: '<%= config.bin %> resolve cart:bob --pick 2'},
    {description: 'From a script: keep the sibling with this id, refused if another write superseded it since', command: `<%= config.bin %> resolve cart:bob --pick-id "$(dyn get cart:bob --json | jq -r '.siblings[] | select(.text == "book") | .id')"`},
    {description: 'Keep sibling 2 of an earlier read, refused if the siblings changed since that read', command: '<%= config.bin %> resolve cart:bob --pick 2 --context "$CONTEXT"'},
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
    pick: Flags.integer({description: 'keep sibling N of the key as resolve reads it (numbered oldest first, as dyn get lists them and numbers them in --json)', helpValue: 'N', min: 1, exclusive: ['pick-id', 'merge', 'value']}),
    'pick-id': Flags.string({description: 'keep the sibling with this id (the "id" of each sibling in dyn get --json); refused if it is no longer one of the key\'s siblings', helpValue: 'ID', exclusive: ['pick', 'merge', 'value']}),
    merge: Flags.string({description: 'merge the siblings', options: ['json-union'], exclusive: ['pick', 'pick-id', 'value']}),
    value: Flags.string({description: 'write the contents of this file', exclusive: ['pick', 'pick-id', 'merge'], helpValue: 'FILE'}),
    context: Flags.string({description: 'the context of the read your choice was made from (dyn get --json prints it): nothing is written if the key\'s siblings are not those of that read', helpValue: 'CONTEXT'}),
    'content-type': Flags.string({description: 'with --value only: its content type [default: the siblings\' type, if they share one]', helpValue: 'TYPE'}),
    timeout: timeoutFlag,
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Resolve)
    const keyRefusal = keyArgumentRefusal(args.key)
    if (keyRefusal !== undefined) this.fail(flags.json, 'bad_key', keyRefusal, {key: args.key})
    const client = this.clientFor(flags)
    const quorum = {n: flags.n, r: flags.r, w: flags.w}
    const wanted: WriteWanted = {...(flags.value === undefined ? {} : {valueFile: flags.value}), ...(flags['content-type'] === undefined ? {} : {contentType: flags['content-type']})}
    // A content type is written with a value of the user's own: a picked sibling keeps its own
    // (it is kept as it was written), and a merge writes JSON. Refused rather than ignored.
    if (flags['content-type'] !== undefined && flags.value === undefined) {
      await this.failIfNoVersion(client, args.key, quorum, wanted, flags.json)
      const how = flags.pick !== undefined || flags['pick-id'] !== undefined ? `${flags.pick !== undefined ? `--pick ${flags.pick}` : '--pick-id'} keeps that sibling as it was written, its content type included` : flags.merge !== undefined ? "--merge json-union writes JSON, as the siblings' shared content type (else application/json)" : 'the choices on a terminal write a sibling or a merge with their own content type'
      this.fail(
        flags.json,
        'bad_parameter',
        `--content-type is the content type of a --value FILE, and goes with --value only: ${how}. To write a value with another content type, save it to a file (dyn get ${args.key} --json lists each sibling's value, in base64) and give --value FILE --content-type ${flags['content-type']}`,
      )
    }
    // Checked before anything is read: a malformed id or context is bad input whatever the key holds.
    if (flags['pick-id'] !== undefined && parseSiblingId(flags['pick-id']) === undefined) {
      this.fail(flags.json, 'bad_parameter', `--pick-id ${flags['pick-id']} is not a sibling id: give the "id" of a sibling as dyn get ${shellQuote(args.key)} --json prints it (<node>.<epoch>:<counter>, such as n1.3fa9c2d1:4)`)
    }
    let expected: VersionVector | undefined
    if (flags.context !== undefined) {
      // The put-and-delete advice does not fit here: without --context, resolve checks nothing and
      // its choice supersedes the siblings as they are when it writes.
      const checked = checkContext(flags.context, args.key, 'or leave --context out (the choice then supersedes the siblings as they are when it is written)')
      if (!checked.ok) this.fail(flags.json, checked.error, `--context: ${checked.message}`, {key: args.key})
      expected = checked.value
    }
    let choice: Choice | undefined
    if (flags.pick !== undefined) choice = {kind: 'pick', number: flags.pick}
    if (flags['pick-id'] !== undefined) choice = {kind: 'pickId', id: flags['pick-id'].trim()}
    if (flags.merge !== undefined) choice = {kind: 'merge'}
    if (flags.value !== undefined) {
      const value = await readFile(flags.value).catch((error: Error) => this.fail(flags.json, 'bad_parameter', `cannot read --value ${flags.value}: ${error.message}`))
      choice = {kind: 'value', value, ...(flags['content-type'] ? {contentType: flags['content-type']} : {})}
    }
    try {
      if (choice === undefined) {
        if (flags.json || !isInteractive()) {
          // A key with one version needs no choice: said as with one (a new user's walk got a
          // usage refusal for a key that had nothing to resolve).
          const read = await this.failIfNoVersion(client, args.key, quorum, wanted, flags.json)
          if (read?.siblings.length === 1) {
            this.sayNothingToResolve(args.key, read.context, flags.json)
            return
          }
          // --json asks for one answer to read, so no choosing on the terminal either: said as such.
          const why = flags.json ? 'with --json (one answer to read, no choosing on the terminal)' : 'without a terminal'
          this.fail(flags.json, 'bad_parameter', `${why}, say how to resolve: --pick N, --pick-id ID, --merge json-union or --value FILE`)
        }
        if (expected !== undefined) {
          await this.failIfNoVersion(client, args.key, quorum, wanted, flags.json)
          this.fail(false, 'bad_parameter', '--context checks that the siblings a --pick N, --pick-id ID, --merge or --value choice was made from are still the key\'s; on a terminal you choose among the siblings as they are now, so give one of those choices or leave --context out')
        }
        settleColors(false)
        const {runResolveScreen} = await import('../src/cli/resolve-screen.js')
        const end = await runResolveScreen(client, args.key, quorum)
        if (end.outcome === 'failed') this.fail(false, end.error, end.message)
        if (end.outcome === 'missing') this.fail(false, 'not_found', noVersionToResolve(args.key, end.deleted, {}, false, end.context).message)
        if (end.outcome === 'raced') {
          process.stderr.write(`dyn: ${supersededMeanwhile(args.key, end.siblings).message} [conflict_remains]\n`)
          this.exit(exitCodes.unavailable)
        }
        if (end.outcome === 'left' && end.siblings < 2) process.stdout.write(`${args.key} has ${end.siblings === 0 ? 'no live version' : 'one version'}: nothing to resolve\n`)
        else if (end.outcome === 'left') process.stdout.write(`left ${end.siblings} siblings of ${args.key} as they are\n`)
        return
      }
      await this.resolveWith(client, args.key, quorum, choice, wanted, expected, flags.json)
    } catch (error) {
      this.failFromError(flags.json, error)
    }
  }

  /** A key with one version: nothing to write, said as a resolve that is done. */
  private sayNothingToResolve(key: string, context: string | undefined, json: boolean): void {
    if (json) this.printOk({key, resolved: true, siblings: 1, wrote: null, conflicts: [], context})
    else process.stdout.write(`${key} has one version: nothing to resolve\n`)
  }

  /**
   * Before a usage refusal whose advice is about the key's siblings: a key with no live version
   * is refused as not found instead, with the dyn put that writes it; otherwise the read (undefined
   * when it failed, which leaves the usage refusal to be said, since the flags are wrong whatever
   * the key holds).
   */
  private async failIfNoVersion(client: DynClient, key: string, quorum: ReadQuorum, wanted: WriteWanted, json: boolean): Promise<{readonly siblings: readonly unknown[]; readonly context?: string | undefined} | undefined> {
    const read = await readSiblings(client, key, quorum).catch(() => undefined)
    if (read?.ok !== true) return undefined
    if (read.siblings.length > 0) return read
    this.fail(json, 'not_found', noVersionToResolve(key, read.deleted, wanted, read.homesSilent === true, read.context).message, {key})
  }

  /**
   * Read the key, refuse when it is not what the choice was made from (`expected`, the context of
   * that read; a sibling picked by id that is gone), then write the choice and check it stands.
   */
  private async resolveWith(client: DynClient, key: string, quorum: {n?: number; r?: number; w?: number}, choice: Choice, wanted: WriteWanted, expected: VersionVector | undefined, json: boolean): Promise<void> {
    const read = await readSiblings(client, key, quorum)
    if (!read.ok) this.fail(json, read.error, read.message)
    if (read.siblings.length === 0) this.fail(json, 'not_found', noVersionToResolve(key, read.deleted, wanted, read.homesSilent === true, read.context).message, {key})
    const changed = expected === undefined ? undefined : siblingsChangedSince(read, expected)
    if (changed !== undefined) this.fail(json, changed.error, changed.message, {key, siblings: read.siblings.length, context: read.context ?? null})
    // Even with one version left: keeping the one version another write left is not keeping this sibling.
    if (choice.kind === 'pickId' && !read.siblings.some((s) => s.id === choice.id)) {
      const gone = siblingGone(read, choice.id)
      this.fail(json, gone.error, gone.message, {key, id: choice.id, siblings: read.siblings.length, context: read.context ?? null})
    }
    if (read.siblings.length === 1 && choice.kind !== 'value') {
      this.sayNothingToResolve(key, read.context, json)
      return
    }
    const candidate = candidateOf(read, choice)
    if (!candidate.ok) this.fail(json, candidate.error, candidate.message)
    const verdict = await writeAndVerify(client, read, candidate, quorum)
    if (!verdict.ok) this.fail(json, verdict.error, verdict.message, {key, ...verdict.details})
    const text = candidate.description.kind === 'binary' ? {} : {text: candidate.value.toString('utf8')}
    const wrote = {value: candidate.value.toString('base64'), ...text, contentType: candidate.contentType, deleted: candidate.deleted}
    const conflicts = candidate.conflicts
    const picked = candidate.picked === undefined ? {} : {picked: {number: candidate.picked.number, id: candidate.picked.id ?? null}}
    if (verdict.superseded) {
      if (json) this.printOk({key, resolved: true, siblings: read.siblings.length, ...picked, wrote, conflicts, context: verdict.context ?? null})
      else {
        const kept = candidate.picked === undefined ? '' : `kept sibling ${candidate.picked.number}${candidate.picked.id === undefined ? '' : ` (${candidate.picked.id})`}: `
        process.stdout.write(`${key} resolved: ${kept}${candidate.deleted ? 'deleted' : `wrote ${candidate.description.sizeBytes} bytes`}, superseding all ${read.siblings.length} siblings\n`)
        for (const conflict of conflicts) process.stdout.write(`  conflict at ${conflict.path}: ${conflict.values.map((v) => JSON.stringify(v)).join(' | ')}, kept ${JSON.stringify(conflict.kept)}\n`)
      }
      return
    }
    const remaining = verdict.latest.siblings.length
    if (json) this.printJson({ok: false, error: 'conflict_remains', message: supersededMeanwhile(key, remaining).message, key, resolved: false, siblings: read.siblings.length, ...picked, wrote, conflicts, context: verdict.latest.context ?? null, remaining})
    else process.stderr.write(`dyn: ${supersededMeanwhile(key, remaining).message} [conflict_remains]\n`)
    this.exit(exitCodes.unavailable)
  }
}
