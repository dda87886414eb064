/**
 * What `dyn get` does once its command line is parsed, without oclif: read the key, print its
 * value, its siblings or the coded error. commands/get.ts runs it under oclif; the start-up fast
 * path (fast-path.ts) runs it straight from bin/run.js, so that a plain `dyn get` loads none of
 * oclif. It imports only what every read needs: the terminal's resolve screen (ink) is loaded
 * when siblings meet a terminal, never before.
 */

import {keyArgumentRefusal} from './key-argument.js'
import {writeFile} from 'node:fs/promises'
import {numberSiblings} from '../api/sibling-order.js'
import type {SiblingPlace} from '../api/sibling-order.js'
import type {DynClient, Sibling} from '../client/http-client.js'
import type {CommandOutput} from './command-output.js'
import {formatTrace, hexPreview, isPrintableText, previewBytesMax, shellQuote, writeTrace} from './format.js'
import {siblingListing} from './sibling-listing.js'
import {warnOnWeakQuorum} from './quorum-check.js'

/** dyn get's parsed flags (commands/get.ts declares them). */
export interface GetFlags {
  readonly node?: readonly string[]
  readonly n?: number
  readonly r?: number
  readonly pr?: number
  readonly explain: boolean
  readonly output?: string
  readonly timeout: number
  readonly json: boolean
}

export async function runGet(out: CommandOutput, key: string, flags: GetFlags): Promise<void> {
  const keyRefusal = keyArgumentRefusal(key)
  if (keyRefusal !== undefined) out.fail(flags.json, 'bad_key', keyRefusal, {key})
  const client = out.clientFor(flags)
  try {
    const result = await client.get(key, {n: flags.n, r: flags.r, pr: flags.pr, explain: flags.explain})
    if (!result.ok) {
      if (flags.explain && !flags.json) writeTrace(result.body.trace)
      // The request's trace, as on success, only with --explain (README "JSON output"), as delete does.
      const {trace, ...details} = result.body
      out.fail(flags.json, result.error, result.message, {key, status: result.status, ...details, ...(flags.explain ? {trace} : {})})
    }
    // Only now that the node accepted the request (see quorum-check.ts).
    await warnOnWeakQuorum(client, {n: flags.n, r: flags.r})
    if (flags.explain && !flags.json) process.stderr.write(formatTrace(result.trace))
    const trace = flags.explain ? {trace: result.trace} : {}
    if (!result.found) {
      // The node's own words when no home answered: "does not exist" would be a guess there.
      const message = result.homesAnswered === 0 && result.message !== undefined ? result.message : `${key} ${result.deleted ? 'was deleted' : 'does not exist'}`
      out.fail(flags.json, 'not_found', message, {key, found: false, deleted: result.deleted, context: result.context ?? null, ...(result.homesAnswered === 0 ? {homesAnswered: 0} : {}), ...trace})
    }
    const only = result.siblings.length === 1 ? result.siblings[0] : undefined
    if (flags.output !== undefined) {
      if (only === undefined) {
        out.fail(flags.json, 'has_siblings', `${key} has ${result.siblings.length} siblings and --output saves one value; run dyn get ${shellQuote(key)} to see them, and write the reconciled value with their context`, {key, siblings: result.siblings.length, context: result.context})
      }
      await save(out, flags.output, only.value, flags.json)
    }
    // One numbering for the JSON, the listing and dyn resolve --pick (src/api/sibling-order.ts).
    const numbered = numberSiblings(result.siblings)
    if (flags.json) {
      out.printOk({key, found: true, context: result.context, siblings: numbered.map(siblingJson), ...(flags.output === undefined ? {} : {savedTo: flags.output}), ...trace})
      return
    }
    if (only !== undefined && flags.output !== undefined) {
      process.stdout.write(`saved ${key} to ${flags.output} (${only.value.length} bytes, ${only.contentType})\n`)
      return
    }
    if (only !== undefined) return printValue(key, only)
    if (!process.stdout.isTTY) {
      // Piped output is one value's bytes or nothing: a listing would pass for the value.
      process.stderr.write(siblingsText(key, numbered, result.context))
      out.fail(false, 'has_siblings', `${key} has ${result.siblings.length} siblings, and piped output is one value's bytes, so nothing was printed; reconcile them (dyn resolve ${shellQuote(key)}, or dyn put with the context above), or read them all with --json`)
    }
    if (await offerResolve(client, key, flags)) return
    process.stdout.write(siblingsText(key, numbered, result.context))
  } catch (error) {
    out.failFromError(flags.json, error)
  }
}

/**
 * One value: its bytes exactly when piped; on a terminal, text ends with a line break, and a
 * binary value (which would garble the terminal) becomes a hex preview with how to save it.
 */
function printValue(key: string, sibling: Sibling): void {
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

async function save(out: CommandOutput, file: string, value: Buffer, json: boolean): Promise<void> {
  try {
    await writeFile(file, value)
  } catch (error) {
    out.fail(json, 'bad_parameter', `--output ${file}: cannot write the file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give a path in a folder you can write to`)
  }
}

/** The siblings numbered, with the context and the put that resolves them. */
function siblingsText(key: string, siblings: ReadonlyArray<Sibling & SiblingPlace>, context: string): string {
  const lines = [`${key} has ${siblings.length} siblings (concurrent writes):`, ...siblingListing(siblings)]
  lines.push(`context: ${context}`, 'resolve by writing the reconciled value with this context:', `  dyn put ${shellQuote(key)} VALUE --context ${context}`)
  return `${lines.join('\n')}\n`
}

/** One sibling under --json: its number (as --pick takes it) and id (as --pick-id takes it) first. */
function siblingJson(sibling: Sibling & SiblingPlace): Record<string, unknown> {
  return {
    number: sibling.number,
    id: sibling.id ?? null,
    actor: sibling.actor ?? null,
    counter: sibling.counter ?? null,
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
  const {isInteractive, settleColors} = await import('./terminal.js')
  if (!isInteractive()) return false
  settleColors(false)
  const {runResolveScreen} = await import('./resolve-screen.js')
  const end = await runResolveScreen(client, key, {n: flags.n, r: flags.r}, {intro: `${key} has siblings: resolve them now, or q to leave them and see the listing`})
  return end.outcome === 'resolved'
}
