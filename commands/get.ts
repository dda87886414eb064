import * as Flags from '@oclif/core/flags'
import {clientTlsFlags, explainFlag, jsonFlag, keyArg, nFlag, nodeFlag, prFlag, rFlag, timeoutFlag} from '../src/cli/client-flags.js'
import {DynCommand} from '../src/cli/command-base.js'
import {getExitCodesHelp} from '../src/cli/exit-codes.js'
import {previewBytesMax} from '../src/cli/format.js'
import {runGet} from '../src/cli/get-run.js'

export default class Get extends DynCommand {
  static override summary = 'Read a key: its value, or all its siblings when writes were concurrent.'

  static override description = `One version prints as the raw value. Concurrent versions (siblings) print numbered, with the context that resolves them: write the reconciled value back with \`dyn put KEY VALUE --context CONTEXT\`.
On a terminal a binary value is not printed raw: you see its size, content type and first ${previewBytesMax} bytes in hex, and how to save it (--output FILE, or a pipe). Piped, the output is the value's bytes exactly, or nothing: a key with siblings prints them and how to resolve them on stderr and exits 4 (has_siblings), as --output does.
--json prints {ok, key, found, context, siblings: [{number, id, actor, counter, value (base64), text (when UTF-8), contentType, timestampMs, deleted}]} (siblings included, exit 0); a missing key is {ok: false, error: "not_found", key, found: false, deleted, context}.
Siblings come oldest first (equal times by id), in the listing and in --json alike: "number" is the number the listing shows and dyn resolve --pick takes, valid for this read; "id" names the sibling on every read while it is one (its dot, actor:counter), for dyn resolve --pick-id, which refuses it once another write has superseded that sibling. A tombstone sibling (a delete concurrent with a write) has "deleted": true: keeping it deletes the key.
${getExitCodesHelp}`

  static override examples = [
    {description: 'Read a key', command: '<%= config.bin %> get cart:alice'},
    {description: 'Read from a single replica, from another node', command: '<%= config.bin %> get cart:alice -r 1 --node 127.0.0.1:7071'},
    {description: 'For scripts: the siblings (numbered, with their ids) and the context as JSON', command: '<%= config.bin %> get cart:alice --json'},
    {description: 'Keep the newest live sibling by its id', command: `<%= config.bin %> resolve cart:alice --pick-id "$(dyn get cart:alice --json | jq -r '[.siblings[] | select(.deleted | not)] | last | .id')"`},
    {description: 'Which replicas answered, how fast, and what read repair fixed', command: '<%= config.bin %> get cart:alice --explain'},
    {description: 'A strict quorum: two answers, both from home replicas', command: '<%= config.bin %> get cart:alice -r 2 --pr 2'},
    {description: 'Save a binary value to a file', command: '<%= config.bin %> get photo:1 --output photo.jpg'},
    {description: 'Try another node when the first cannot be reached', command: '<%= config.bin %> get cart:alice --node 127.0.0.1:7070 --node http://127.0.0.1:7071'},
    {description: "A cluster with TLS: HTTPS, checking the node's certificate against the cluster CA", command: '<%= config.bin %> get cart:alice --node https://10.0.0.11:7070 --tls-ca ./tls/ca.crt'},
  ]

  static override args = {
    key: keyArg,
  }

  static override flags = {
    node: nodeFlag,
    ...clientTlsFlags,
    n: nFlag,
    r: rFlag,
    pr: prFlag,
    explain: explainFlag,
    output: Flags.string({char: 'o', description: 'write the value\'s bytes to this file instead of printing it', helpValue: 'FILE'}),
    timeout: timeoutFlag,
    json: jsonFlag,
  }

  // The work is runGet's (src/cli/get-run.ts), which the start-up fast path also runs without oclif.
  async run(): Promise<void> {
    const {args, flags} = await this.parse(Get)
    await runGet(this.output, args.key, flags)
  }
}
