/**
 * What `dyn delete` does once its command line is parsed, without oclif: the tombstone write and
 * its answer or coded error. commands/delete.ts runs it under oclif; the start-up fast path
 * (fast-path.ts) runs it straight from bin/run.js.
 */

import {keyArgumentRefusal} from './key-argument.js'
import type {QuorumOptions} from '../client/http-client.js'
import type {CommandOutput} from './command-output.js'
import {formatTrace, shellQuote, writeTrace} from './format.js'
import {warnOnWeakQuorum} from './quorum-check.js'

/** dyn delete's parsed flags (commands/delete.ts declares them): every quorum option a delete takes, and the command's own. */
export interface DeleteFlags extends QuorumOptions {
  readonly node?: readonly string[]
  readonly context?: string
  readonly explain: boolean
  readonly timeout: number
  readonly json: boolean
}

export async function runDelete(out: CommandOutput, key: string, flags: DeleteFlags): Promise<void> {
  const keyRefusal = keyArgumentRefusal(key)
  if (keyRefusal !== undefined) out.fail(flags.json, 'bad_key', keyRefusal, {key})
  const client = out.clientFor(flags)
  try {
    const result = await client.delete(key, {n: flags.n, r: flags.r, w: flags.w, dw: flags.dw, pr: flags.pr, pw: flags.pw, context: flags.context, explain: flags.explain})
    if (!result.ok) {
      if (flags.explain && !flags.json) writeTrace(result.body.trace)
      const message = result.error === 'not_found' ? `${key} ${result.body.deleted === true ? 'was already deleted' : 'does not exist'}` : result.message
      // The request's trace, as on success, only with --explain (JSON output documents it so).
      const {trace, ...details} = result.body
      out.fail(flags.json, result.error, message, {key, status: result.status, ...(result.error === 'not_found' ? {found: false} : {}), ...details, ...(flags.explain ? {trace} : {})})
    }
    // Only now that the node accepted the request (see quorum-check.ts).
    await warnOnWeakQuorum(client, {n: flags.n, r: flags.r, w: flags.w})
    if (flags.explain && !flags.json) process.stderr.write(formatTrace(result.trace))
    // A tombstone beside a live version is no delete: its context missed a write (README "Siblings and
    // contexts"). The count is the most any replica acknowledging the delete holds: a node that
    // answers without it (an older one) leaves it unknown, said so rather than taken for 0.
    const live = result.liveSiblings
    const siblings = result.siblings
    // Under last-writer-wins a tombstone older than the key's newest write is dropped, not kept beside it.
    const tombstoneLost = live !== undefined && live > 0 && siblings !== undefined && siblings === live
    if (flags.json) {
      out.printOk({key, context: result.context, siblings: siblings ?? null, liveSiblings: live ?? null, deleted: live === undefined ? null : live === 0, ...(flags.explain ? {trace: result.trace} : {})})
      return
    }
    if (live === undefined) process.stdout.write(`wrote a tombstone for ${key} (the node did not say whether a live version is left: it runs an older dyn; dyn get ${shellQuote(key)} tells)\n`)
    else if (live === 0) process.stdout.write(`deleted ${key}\n`)
    else if (tombstoneLost) process.stdout.write(`${key} is not deleted: a newer write won over the delete (last writer wins, by timestamp), and the key keeps its value; read it and delete again to delete it\n`)
    else process.stdout.write(notDeletedText(key, live, siblings))
  } catch (error) {
    out.failFromError(flags.json, error)
  }
}

/**
 * What dyn delete says when its tombstone was written beside a live version that its context did
 * not cover, as dyn put says when it leaves siblings (and exits 0 as that does: the write was
 * made, and the key's siblings are the reader's to reconcile).
 */
export function notDeletedText(key: string, live: number, siblings: number | undefined): string {
  const versions = live === 1 ? '1 live version' : `${live} live versions`
  const quoted = shellQuote(key)
  return (
    `wrote a tombstone, but ${key} is not deleted: ${versions} that the delete's context did not cover (written after the read it came from) ${live === 1 ? 'is' : 'are'} left beside it\n` +
    `${key} now has ${siblings ?? live + 1} siblings; to see them: dyn get ${quoted}; to delete it whatever it holds now: dyn delete ${quoted} (without --context it deletes what its own read finds); or reconcile them: dyn resolve ${quoted}\n`
  )
}
