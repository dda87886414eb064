import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {clientTlsFlags, contextFlag, dwFlag, explainFlag, jsonFlag, nFlag, nodeFlag, pwFlag, timeoutFlag, wFlag} from '../src/cli/client-flags.js'
import {DynCommand} from '../src/cli/command-base.js'
import {exitCodesHelp} from '../src/cli/exit-codes.js'
import {runPut} from '../src/cli/put-run.js'

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
    {description: 'A cluster with TLS (or set DYN_NODE=https://10.0.0.11:7070 and DYN_TLS_CA=./tls/ca.crt once for the shell)', command: '<%= config.bin %> put cart:alice \'{"items":[]}\' --node https://10.0.0.11:7070 --tls-ca ./tls/ca.crt'},
  ]

  static override args = {
    key: Args.string({description: 'the key (1 to 1024 bytes of UTF-8)', required: true, ignoreStdin: true}),
    value: Args.string({description: 'the value; read from stdin when absent', ignoreStdin: true}),
  }

  static override flags = {
    node: nodeFlag,
    ...clientTlsFlags,
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

  // The work is runPut's (src/cli/put-run.ts), which the start-up fast path also runs without oclif.
  async run(): Promise<void> {
    const {args, flags} = await this.parse(Put)
    await runPut(this.output, args, flags)
  }
}
