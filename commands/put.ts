import {fstat} from 'node:fs'
import type {Stats} from 'node:fs'
import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {contextFlag, dwFlag, explainFlag, jsonFlag, nFlag, nodeFlag, pwFlag, timeoutFlag, wFlag} from '../src/cli/client-flags.js'
import {valueBytesMax} from '../src/api/params.js'
import {DynCommand} from '../src/cli/command-base.js'
import {exitCodesHelp} from '../src/cli/exit-codes.js'
import {counted, formatTrace, writeTrace} from '../src/cli/format.js'
import {warnOnWeakQuorum} from '../src/cli/quorum-check.js'

export default class Put extends DynCommand {
  static override summary = 'Write a value (from the argument, or stdin when it is absent).'

  static override description = `Without --context the write is concurrent with what is stored, and becomes a sibling of it. With the context of an earlier read (dyn get --json prints it) the write supersedes exactly the versions that read saw. When the write leaves the key with several versions (siblings), the output says so: read the key and write the reconciled value with its context.
--json prints {ok, key, context, siblings (how many versions the key has now)}.
${exitCodesHelp}`

  static override examples = [
    {description: 'Store a JSON document', command: `<%= config.bin %> put cart:alice '{"items":["book"]}'`},
    {description: 'Store a file, acknowledged by all three replicas', command: '<%= config.bin %> put photo:1 -w 3 < photo.jpg'},
    {description: 'Say what the bytes are (a JSON object or array is stored as application/json without it)', command: '<%= config.bin %> put photo:1 --content-type image/jpeg < photo.jpg'},
    {description: 'Resolve siblings: write the merged value with the read\'s context', command: `<%= config.bin %> put cart:alice '{"items":["book","pen"]}' --context "$(dyn get cart:alice --json | jq -r .context)"`},
    {description: 'See which replicas acknowledged, and how fast', command: '<%= config.bin %> put k v --explain'},
    {description: 'A strict quorum: all three acknowledgements from home replicas, never from fallbacks', command: '<%= config.bin %> put k v -w 3 --pw 3'},
  ]

  static override args = {
    key: Args.string({description: 'the key (1 to 1024 bytes of UTF-8)', required: true, ignoreStdin: true}),
    value: Args.string({description: 'the value; read from stdin when absent', ignoreStdin: true}),
  }

  static override flags = {
    node: nodeFlag,
    n: nFlag,
    w: wFlag,
    dw: dwFlag,
    pw: pwFlag,
    context: contextFlag,
    'content-type': Flags.string({description: 'content type stored with the value [default: application/json for a JSON object or array, else application/octet-stream]'}),
    explain: explainFlag,
    timeout: timeoutFlag,
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Put)
    const client = this.clientFor(flags)
    const key = args.key
    const value = args.value === undefined ? await readStdin() : Buffer.from(args.value, 'utf8')
    // A value over the limit is refused here, before anything is sent (the node would refuse it too).
    if (value === undefined) this.fail(flags.json, 'value_too_large', `the value on stdin is over ${valueBytesMax} bytes; values are at most 1 MiB: store a larger object in parts, or elsewhere with its address as the value`, {key, bytesMax: valueBytesMax})
    try {
      const result = await client.put(key, value, {n: flags.n, w: flags.w, dw: flags.dw, pw: flags.pw, explain: flags.explain, context: flags.context, contentType: flags['content-type'] ?? detectedContentType(value)})
      if (!result.ok) {
        if (flags.explain && !flags.json) writeTrace(result.body.trace)
        this.fail(flags.json, result.error, result.message, {key, status: result.status, ...result.body})
      }
      // Only now that the node accepted the request (see quorum-check.ts).
      await warnOnWeakQuorum(client, {n: flags.n, w: flags.w})
      if (flags.explain && !flags.json) process.stderr.write(formatTrace(result.trace))
      if (flags.json) {
        this.printOk({key, context: result.context, siblings: result.siblings ?? null, ...(flags.explain ? {trace: result.trace} : {})})
        return
      }
      process.stdout.write(`stored ${key} (${counted(value.length, 'byte')})\ncontext: ${result.context}\n`)
      if (result.siblings !== undefined && result.siblings > 1) {
        process.stdout.write(`${key} now has ${result.siblings} siblings; read it and write with its context to reconcile\n`)
      }
    } catch (error) {
      this.failFromError(flags.json, error)
    }
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
