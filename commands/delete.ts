import {clientTlsFlags, contextFlag, dwFlag, explainFlag, jsonFlag, keyArg, nFlag, nodeFlag, prFlag, pwFlag, rFlag, timeoutFlag, wFlag} from '../src/cli/client-flags.js'
import {DynCommand} from '../src/cli/command-base.js'
import {exitCodesHelp} from '../src/cli/exit-codes.js'
import {runDelete} from '../src/cli/delete-run.js'

export default class Delete extends DynCommand {
  static override summary = 'Delete a key: write a tombstone that supersedes what was read.'

  static override description = `With --context, the tombstone supersedes exactly the versions that context saw (a concurrent write survives as a sibling). Without it, the node reads the key first (R replicas) and deletes what that read saw.
When a version the context did not cover (a write after the read it came from) is left live beside the tombstone, the key is not deleted, and the output says so instead of "deleted": the key now has siblings, the live version and the tombstone; dyn get shows them, dyn delete without --context deletes what its own read finds, dyn resolve reconciles them. The tombstone was written all the same, so this exits 0, as a put that leaves siblings does; each such delete adds one more tombstone sibling.
--json prints {ok, key, context, siblings, liveSiblings, deleted}: siblings is how many versions the key has now (tombstones included, as dyn put's), liveSiblings how many of them are not tombstones, and deleted is false when some are (liveSiblings > 0). The context covers the tombstone, so a write with it supersedes the delete.
${exitCodesHelp}`

  static override examples = [
    {description: 'Delete a key', command: '<%= config.bin %> delete cart:alice'},
    {description: 'Delete exactly the versions an earlier read returned', command: '<%= config.bin %> delete cart:alice --context "$CONTEXT"'},
    {description: 'From a script: was the key really deleted, or did a write since that read survive?', command: '<%= config.bin %> delete cart:alice --context "$CONTEXT" --json | jq .deleted'},
    {description: 'A cluster with TLS', command: '<%= config.bin %> delete cart:alice --node https://10.0.0.11:7070 --tls-ca ./tls/ca.crt'},
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
    dw: dwFlag,
    pr: prFlag,
    pw: pwFlag,
    context: contextFlag,
    explain: explainFlag,
    timeout: timeoutFlag,
    json: jsonFlag,
  }

  // The work is runDelete's (src/cli/delete-run.ts), which the start-up fast path also runs without oclif.
  async run(): Promise<void> {
    const {args, flags} = await this.parse(Delete)
    await runDelete(this.output, args.key, flags)
  }
}
