/**
 * What `dyn put` does once its command line is parsed, without oclif: the value from the
 * argument or stdin, the write, and its answer or coded error. commands/put.ts runs it under
 * oclif; the start-up fast path (fast-path.ts) runs it straight from bin/run.js.
 */

import {keyArgumentRefusal, valueArgumentRefusal} from './key-argument.js'
import {fstat} from 'node:fs'
import type {Stats} from 'node:fs'
import {valueBytesMax} from '../api/params.js'
import type {CommandOutput} from './command-output.js'
import {counted, formatTrace, writeTrace} from './format.js'
import {warnOnWeakQuorum} from './quorum-check.js'

/** dyn put's parsed flags (commands/put.ts declares them). */
export interface PutFlags {
  readonly node?: readonly string[]
  readonly n?: number
  readonly w?: number
  readonly dw?: number
  readonly pw?: number
  readonly context?: string
  readonly 'content-type'?: string
  readonly explain: boolean
  readonly timeout: number
  readonly json: boolean
}

export async function runPut(out: CommandOutput, args: {key: string; value?: string}, flags: PutFlags): Promise<void> {
  const key = args.key
  const keyRefusal = keyArgumentRefusal(key)
  if (keyRefusal !== undefined) out.fail(flags.json, 'bad_key', keyRefusal, {key})
  const valueRefusal = args.value === undefined ? undefined : valueArgumentRefusal(args.value)
  if (valueRefusal !== undefined) out.fail(flags.json, 'bad_value', valueRefusal, {key})
  const client = out.clientFor(flags)
  const value = args.value === undefined ? await readStdin() : Buffer.from(args.value, 'utf8')
  // A value over the limit is refused here, before anything is sent (the node would refuse it too).
  if (value === undefined) out.fail(flags.json, 'value_too_large', `the value on stdin is over ${valueBytesMax} bytes; values are at most 1 MiB: store a larger object in parts, or elsewhere with its address as the value`, {key, bytesMax: valueBytesMax})
  try {
    const result = await client.put(key, value, {n: flags.n, w: flags.w, dw: flags.dw, pw: flags.pw, explain: flags.explain, context: flags.context, contentType: flags['content-type'] ?? detectedContentType(value)})
    if (!result.ok) {
      if (flags.explain && !flags.json) writeTrace(result.body.trace)
      // The request's trace, as on success, only with --explain (README "JSON output"), as delete does.
      const {trace, ...details} = result.body
      out.fail(flags.json, result.error, result.message, {key, status: result.status, ...details, ...(flags.explain ? {trace} : {})})
    }
    // Only now that the node accepted the request (see quorum-check.ts).
    await warnOnWeakQuorum(client, {n: flags.n, w: flags.w})
    if (flags.explain && !flags.json) process.stderr.write(formatTrace(result.trace))
    if (flags.json) {
      out.printOk({key, context: result.context, siblings: result.siblings ?? null, ...(flags.explain ? {trace: result.trace} : {})})
      return
    }
    process.stdout.write(`stored ${key} (${counted(value.length, 'byte')})\ncontext: ${result.context}\n`)
    if (result.siblings !== undefined && result.siblings > 1) {
      // A put right after a delete, without the delete's context, is a sibling of its tombstone:
      // said, since the user meant to write the key again, not to leave it in conflict (a walk).
      const deletes = result.liveSiblings === undefined ? 0 : result.siblings - result.liveSiblings
      const ofThem = deletes === 0 ? '' : ` (${deletes === 1 ? 'one of them a delete' : `${deletes} of them deletes`} this write did not see)`
      process.stdout.write(`${key} now has ${result.siblings} siblings${ofThem}; read it and write with its context to reconcile\n`)
    }
  } catch (error) {
    out.failFromError(flags.json, error)
  }
}

/** application/json for a value that is a JSON object or array (what dyn resolve can merge), else raw bytes. */
function detectedContentType(value: Buffer): string {
  const text = value.toString('utf8')
  if (/^\s*[[{]/.test(text)) {
    try {
      JSON.parse(text)
      return 'application/json'
    } catch {
      // Not JSON after all.
    }
  }
  return 'application/octet-stream'
}

function fstatOf(fd: number): Promise<Stats | undefined> {
  return new Promise((resolve) => fstat(fd, (error, stats) => resolve(error === null ? stats : undefined)))
}

/** The value on stdin, or undefined as soon as it is over the limit (the rest is not read). */
async function readStdin(): Promise<Buffer | undefined> {
  if (process.stdin.isTTY) process.stderr.write('reading the value from stdin; end it with Ctrl-D\n')
  // A file redirected to stdin (`< photo.jpg`) is judged by its size, without reading it.
  const stdin = await fstatOf(0)
  if (stdin?.isFile() === true && stdin.size > valueBytesMax) return undefined
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of process.stdin) {
    total += (chunk as Buffer).length
    if (total > valueBytesMax) {
      process.stdin.destroy()
      return undefined
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}
