import * as Args from '@oclif/core/args'
import {clientTlsFlags, jsonFlag, nodeFlag, timeoutFlag} from '../src/cli/client-flags.js'
import {DynCommand} from '../src/cli/command-base.js'
import {exitCodesHelp} from '../src/cli/exit-codes.js'
import {keyArgumentRefusal} from '../src/cli/key-argument.js'

export default class Ring extends DynCommand {
  static override summary = 'Show the ring as a node sees it: members and their partitions, or one key\'s preference list.'

  static override description = `The text lists the current members; one that left or was removed is only named, below them. --json prints the node's view: {ok, node, settings, ringHash, partitionCount, members: [{name, apiAddress, rpcAddress, status, incarnation, up, partitions}] (departed members included, with status left), owners (owners[p] owns partition p)}; with KEY: {ok, key, partition, preflist: [{node, home, up, address}]}.
${exitCodesHelp}`

  static override examples = [
    {description: 'Members, their state and how many partitions each owns', command: '<%= config.bin %> ring'},
    {description: 'Where a key lives: its partition, home replicas and fallbacks', command: '<%= config.bin %> ring cart:alice'},
    {description: 'The full ring as JSON (owners[p] is the owner of partition p)', command: '<%= config.bin %> ring --json'},
    {description: 'A cluster with TLS', command: '<%= config.bin %> ring cart:alice --node https://10.0.0.11:7070 --tls-ca ./tls/ca.crt'},
  ]

  static override args = {
    key: Args.string({description: 'a key whose preference list to show', ignoreStdin: true}),
  }

  static override flags = {node: nodeFlag, ...clientTlsFlags, timeout: timeoutFlag, json: jsonFlag}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Ring)
    const keyRefusal = args.key === undefined ? undefined : keyArgumentRefusal(args.key)
    if (keyRefusal !== undefined) this.fail(flags.json, 'bad_key', keyRefusal, {key: args.key})
    const client = this.clientFor(flags)
    try {
      const path = args.key === undefined ? '/cluster' : `/cluster/preflist/${encodeURIComponent(args.key)}`
      const result = await client.getJson(path)
      if (!result.ok) this.fail(flags.json, result.error, result.message, {...(args.key === undefined ? {} : {key: args.key}), status: result.status, ...result.body})
      if (flags.json) return this.printOk(args.key === undefined ? result.body : {key: args.key, ...result.body})
      if (args.key !== undefined) {
        const body = result.body as {partition: number; preflist: Array<{node: string; address?: string; home: boolean; up: boolean}>}
        process.stdout.write(`${args.key} -> partition ${body.partition}\n`)
        for (const [i, entry] of body.preflist.entries()) {
          process.stdout.write(`  ${String(i + 1).padStart(2)}. ${entry.node.padEnd(10)} ${String(entry.address ?? '').padEnd(16)} ${entry.home ? 'home    ' : 'fallback'} ${entry.up ? 'up' : 'down'}\n`)
        }
        return
      }
      const body = result.body as {node: string; ringHash: string; partitionCount: number; settings: {defaultN: number; defaultR: number; defaultW: number; conflictPolicy: string}; effective?: {n: number; r: number; w: number}; members: Array<{name: string; apiAddress: string; status: string; up: boolean; partitions: number; machine?: string}>}
      const s = body.settings
      const e = body.effective
      // A member that left or was removed stays in the node's table (as left) but is no member
      // now: it is neither listed nor counted, and only named, as dyn cluster status and dyn top do.
      const current = body.members.filter((m) => m.status !== 'left')
      const departed = body.members.filter((m) => m.status === 'left').map((m) => m.name)
      // Issue 6.5: what a request without -n/-r/-w runs with, when the cluster makes it smaller than the defaults.
      const shrunk = e !== undefined && (e.n !== s.defaultN || e.r !== s.defaultR || e.w !== s.defaultW) ? ` (with ${current.length} member${current.length === 1 ? '' : 's'}: n=${e.n} r=${e.r} w=${e.w})` : ''
      process.stdout.write(`ring ${body.ringHash} as seen by ${body.node}: ${body.partitionCount} partitions, defaults n=${s.defaultN} r=${s.defaultR} w=${s.defaultW}${shrunk}, conflicts: ${s.conflictPolicy}\n`)
      // Nodes that share machines (dyn start --processes) show theirs: a key's homes are on distinct machines.
      const shared = current.some((m) => m.machine !== undefined && m.machine !== m.name)
      for (const m of current) {
        const machine = shared ? ` on ${m.machine ?? m.name}` : ''
        process.stdout.write(`  ${m.name.padEnd(10)} ${m.apiAddress.padEnd(16)} ${m.status.padEnd(8)} ${(m.up ? 'up' : 'down').padEnd(5)} ${m.partitions} partitions${machine}\n`)
      }
      if (departed.length > 0) process.stdout.write(`left the cluster (or removed), not listed: ${departed.join(', ')}\n`)
    } catch (error) {
      this.failFromError(flags.json, error)
    }
  }
}
