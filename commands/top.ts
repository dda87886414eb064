import * as Flags from '@oclif/core/flags'
import {clientTlsFlags, nodeFlag} from '../src/cli/client-flags.js'
import {DynClient, memberTlsOf, UnreachableError} from '../src/client/http-client.js'
import {parseNodeList} from '../src/client/node-address.js'
import {ClusterWatch, httpFetchJson, pollRequestTimeoutMsDefault} from '../src/cli/cluster-watch.js'
import {DynCommand} from '../src/cli/command-base.js'
import {givenNodes} from '../src/cli/command-output.js'
import {isInteractive, settleColors, terminalSize} from '../src/cli/terminal.js'

export default class Top extends DynCommand {
  static override summary = 'The live cluster view: every node, its load and latency, the ring, recent events.'

  static override description = `Asks one node for the cluster (GET /cluster) and every member for its figures (GET /stats), every --interval ms. When the node it asks stops answering, it fails over to another member it knows of, and says so.
On a terminal: q quits, arrows select a node, enter shows its detail (its own view of the others, store size, latency histogram), ? lists the keys.
Without a terminal it prints one snapshot as text (two polls --interval apart, so that rates are real); --json prints that snapshot as JSON: {takenAtMs, source, failover?, stale, settings, ringHash, owners, moves, nodes: [{name, address, status, partitions, answering, figures: {keys, storeBytes, getsPerS, putsPerS, getLatencyMs: {p99, p999}, putLatencyMs, eventLoopDelayP99Ms, uptimeMs, latencyBuckets}, history}], events: [{atMs, text, severity}]}. Figures a node does not serve are absent.
Exit codes: 0 done, 2 bad usage (a node certificate that does not verify included: tls_untrusted), 3 no node answered.`

  static override examples = [
    {description: 'Watch the local cluster', command: '<%= config.bin %> top'},
    {description: 'Through another node, with a fall-back if it goes down', command: '<%= config.bin %> top --node 127.0.0.1:7071 --node 127.0.0.1:7072'},
    {description: 'One snapshot for a script', command: '<%= config.bin %> top --json | jq \'.nodes[] | {name, status}\''},
    {description: 'A cluster with TLS: every member is watched over HTTPS with the same CA', command: '<%= config.bin %> top --node https://10.0.0.11:7070 --tls-ca ./tls/ca.crt'},
  ]

  static override flags = {
    node: nodeFlag,
    ...clientTlsFlags,
    interval: Flags.integer({description: 'milliseconds between refreshes', default: 1000, min: 100, max: 60_000}),
    json: Flags.boolean({description: 'print one snapshot as JSON (stable, documented fields)', default: false}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Top)
    // The nodes to watch through, in order: each one after the first is a fall-back.
    const given = givenNodes(flags.node)
    // The watch keys nodes by host:port, as members advertise themselves; the scheme is the
    // client's, by DynClient's rule: HTTPS for all when one address is https:// or a CA is given
    // (members come without one).
    const parsed = parseNodeList(given.entries)
    // Said with where the address came from, as every other command says it ("DYN_NODE: ...").
    if (!parsed.ok) this.fail(flags.json, parsed.error, `${given.source}: ${parsed.message}`)
    const addresses = parsed.value.map((address) => address.label)
    const tls = memberTlsOf(parsed.value, this.output.clientTlsFor(flags))
    const watch = new ClusterWatch(addresses, httpFetchJson(Math.min(pollRequestTimeoutMsDefault, flags.interval), tls))
    settleColors(flags.json)
    if (!flags.json && isInteractive()) {
      const {runTopScreen} = await import('../src/cli/top-screen.js')
      await runTopScreen(watch, flags.interval)
      return
    }
    await watch.poll()
    await new Promise((resolve) => setTimeout(resolve, flags.interval))
    const snapshot = await watch.poll()
    if (snapshot.stale) {
      // Why, asked once more as every command asks: another HTTP server at the address, an
      // internode port, a TLS mismatch each have their own advice, which starting a node is not.
      const asked = await new DynClient(given.entries, Math.min(pollRequestTimeoutMsDefault, flags.interval), tls === undefined ? {} : {tls}).getJson('/health').catch((error: unknown) => error)
      if (asked instanceof UnreachableError) this.fail(flags.json, asked.code, asked.message, asked.details)
      const answer = asked as {ok?: boolean; error?: string; message?: string}
      // The node's own refusal (not_a_dyn_node; https_required, a node's HTTPS port asked in plain HTTP) says what to fix.
      if (answer.ok === false && (answer.error === 'not_a_dyn_node' || answer.error === 'https_required')) this.fail(flags.json, answer.error, answer.message ?? '')
      this.fail(flags.json, 'unreachable', `no node answered at ${addresses.join(', ')}; start one (dyn cluster up) or point --node / DYN_NODE at a running node`)
    }
    if (flags.json) return this.printOk({...snapshot})
    const {topText} = await import('../src/cli/top-screen.js')
    process.stdout.write(topText(snapshot, terminalSize().columns, 40))
  }
}
