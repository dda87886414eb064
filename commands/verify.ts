import * as Flags from '@oclif/core/flags'
import {DynCommand} from '../src/cli/command-base.js'
import {conflictPolicies, creationSettingsDefault} from '../src/cli/cluster-settings.js'
import {DynError} from '../src/errors.js'
import type {ConflictPolicy} from '../src/membership/member-table.js'
import {faultKinds} from '../src/verify/nemesis.js'
import type {FaultKind} from '../src/verify/nemesis.js'
import type {VerifyReport} from '../src/verify/verify-run.js'
import {notFaultedText, verifyDurationSecondsMax, verifyNodeCountDefault} from '../src/verify/verify-plan.js'

export default class Verify extends DynCommand {
  static override summary = 'Check for yourself that the cluster loses no acknowledged write under crashes, pauses and partitions (Jepsen in a box).'

  static override description = `Starts a local cluster whose internode links all pass through a fault-injecting proxy (the nodes listen on 127.0.0.1 and advertise 127.0.0.2, where the proxy listens), runs concurrent clients doing the paper's shopping cart (read the cart, merge its siblings, add an item no one else adds, write it back with the read's context), and a nemesis that kills and restarts nodes (SIGKILL), pauses them (SIGSTOP, SIGCONT), splits the cluster into a minority and a majority, cuts one node off, and cuts one link one way. Then it heals everything, waits for every cart's home replicas to hold the same items, reads each cart from each home replica alone, and checks that every acknowledged add is there.
The nemesis is drawn from --seed: the same seed, the same faults in the same order, each begun at its planned time (a fault begun late, after a slow restart, is that much shorter). With --dir, the cluster is made in that folder and kept; a folder that holds a cluster is used as it is (its nodes and conflict policy, which --nodes and --conflict may not contradict; a cluster made by dyn cluster up only with kill and pause, since its nodes talk to each other directly; one whose nodes serve TLS is reached with the folder's own files), and a cluster that was running before is left running after. The run covers the ring's members as they list themselves: a node that left or was removed is never started again, loaded or read; a member joined from outside the folder is loaded and read where it runs but never faulted (verify cannot restart it), and the report names it; faults verify cannot inject as asked (link faults past such a member, or any fault with fewer than two of the folder's own members) are refused before the clients start.
The run must be long enough to hold one fault of each kind asked even when each lasts the --fault-seconds MAX, after a quiet start (a tenth of the run, 3 s at most) and with --gap-seconds after each; a shorter run is refused, and the refusal names the shortest --duration that fits.
Reports operations, acknowledged and failed adds, faults by kind, availability outside and during each kind of fault, time to converge after the heal, and lost adds (must be 0). With --conflict lww, concurrent adds to a cart overwrite each other by design, and verify says so.
Exit codes: 0 no acknowledged add lost and the replicas converged; 1 an acknowledged add was lost, or the replicas did not converge; 2 bad usage, or stopped early (Ctrl-C); 3 the run could not be carried out (a node or the proxy could not start). Linux only (it needs 127.0.0.2 on the loopback interface).`

  static override examples = [
    {description: 'Two minutes, every kind of fault, 5 nodes', command: '<%= config.bin %> verify --duration 120'},
    {description: 'The same faults again: the schedule comes from the seed', command: '<%= config.bin %> verify --duration 120 --seed 7'},
    {description: 'What last-writer-wins does to concurrent adds', command: '<%= config.bin %> verify --duration 60 --conflict lww'},
    {description: 'Only partitions, for a script', command: '<%= config.bin %> verify --faults partition,isolate,one-way --json'},
    {description: 'On ports of your choosing, on a shared host: 47000-47004 and 48000-48004', command: '<%= config.bin %> verify --port 47000'},
  ]

  static override flags = {
    duration: Flags.integer({description: 'seconds of load and faults (then heal, converge and check)', default: 60, min: 5, max: verifyDurationSecondsMax}),
    // No oclif default for --nodes and --conflict: a value given is told apart from none, which
    // takes the folder's (a flag that contradicts a folder's cluster is refused).
    nodes: Flags.integer({description: `nodes of the cluster verify starts (N/R/W 3/2/2) [default: the --dir cluster's, or ${verifyNodeCountDefault}]`, min: 3, max: 16}),
    clients: Flags.integer({description: 'concurrent clients, each doing read-merge-add-write on a random cart through a random node', default: 4, min: 1, max: 64}),
    carts: Flags.integer({description: 'carts (keys) the clients share: fewer carts, more concurrent adds to each', default: 8, min: 1, max: 1000}),
    faults: Flags.string({description: `fault kinds, comma-separated, from ${faultKinds.join(', ')}; "none" for none`, default: faultKinds.join(',')}),
    seed: Flags.integer({description: 'seed of the nemesis schedule [default: drawn at random, and printed]', min: 0, max: 2 ** 32 - 1}),
    conflict: Flags.string({description: `conflict policy of the cluster verify starts [default: the --dir cluster's, or ${creationSettingsDefault.conflictPolicy}]`, options: [...conflictPolicies]}),
    'fault-seconds': Flags.string({description: 'each fault lasts between MIN and MAX seconds: MIN,MAX', default: '3,8'}),
    'gap-seconds': Flags.integer({description: 'quiet seconds after each fault', default: 2, min: 0, max: 600}),
    'converge-timeout': Flags.integer({description: 'seconds to wait after the heal for the replicas to agree', default: 120, min: 1, max: 3600}),
    dir: Flags.string({description: 'make the cluster in this folder and keep it (or use the cluster it holds; its carts, keys verify-cart-RUN-K, stay in it after the run, for you to read or delete) [default: a temporary folder, removed after]'}),
    keep: Flags.boolean({description: 'keep the temporary folder (data, logs) after the run', default: false}),
    port: Flags.integer({description: 'client API port of the first node of the cluster verify starts; the others take the next ones (the fault proxy listens on the internode ports on 127.0.0.2) [default: free ports, drawn]', min: 1, max: 65535}),
    'rpc-port': Flags.integer({description: 'internode port of the first node, with --port [default: --port + 1000]', min: 1, max: 65535, dependsOn: ['port']}),
    json: Flags.boolean({description: 'print the report as one JSON object', default: false}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Verify)
    const kinds = flags.faults === 'none' ? [] : flags.faults.split(',').map((kind) => kind.trim())
    // The two flags are read apart, and both refusals said at once, as runVerify says its own.
    const refusals: string[] = []
    const unknown = kinds.find((kind) => !(faultKinds as readonly string[]).includes(kind))
    if (unknown !== undefined) refusals.push(`--faults: unknown fault kind "${unknown}"; use some of ${faultKinds.join(', ')}, or none`)
    const seconds = flags['fault-seconds'].split(',').map(Number)
    // Whole milliseconds, as the nemesis draws the length of each fault.
    const [faultMsMin, faultMsMax] = seconds.map((s) => Math.round(s * 1000))
    if (seconds.length !== 2 || !Number.isFinite(faultMsMin) || !Number.isFinite(faultMsMax) || (faultMsMin as number) < 1 || (faultMsMax as number) < (faultMsMin as number)) {
      refusals.push(`--fault-seconds "${flags['fault-seconds']}": give MIN,MAX in seconds, 0.001 <= MIN <= MAX (for example 3,8)`)
    }
    if (refusals.length > 0) this.fail(flags.json, 'bad_parameter', refusals.join('; '))
    if (process.platform !== 'linux') this.fail(flags.json, 'bad_parameter', `dyn verify needs Linux (127.0.0.2 on the loopback interface); this is ${process.platform}`)
    const seed = flags.seed ?? Math.floor(Math.random() * 2 ** 32)
    const log = (line: string): void => {
      if (!flags.json) process.stderr.write(`${line}\n`)
    }
    // Ctrl-C ends the run early: the clients and the nemesis stop, the fault under way is healed (a
    // paused node resumed), and the cluster verify started is stopped, before the command exits.
    const stop = new AbortController()
    const onSignal = (): void => {
      log('stopping: healing the fault under way and stopping the cluster ...')
      stop.abort()
    }
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    const {runVerify} = await import('../src/verify/verify-run.js')
    let report: VerifyReport
    try {
      report = await runVerify({
        signal: stop.signal,
        ...(flags.dir === undefined ? {} : {dir: flags.dir}),
        keep: flags.keep,
        ...(flags.nodes === undefined ? {} : {nodeCount: flags.nodes}),
        ...(flags.port === undefined ? {} : {ports: {port: flags.port, rpcPort: flags['rpc-port'] ?? flags.port + 1000}}),
        clients: flags.clients,
        carts: flags.carts,
        durationMs: flags.duration * 1000,
        seed,
        kinds: kinds as FaultKind[],
        ...(flags.conflict === undefined ? {} : {conflict: flags.conflict as ConflictPolicy}),
        faultMsMin: faultMsMin as number,
        faultMsMax: faultMsMax as number,
        gapMs: flags['gap-seconds'] * 1000,
        convergeTimeoutMs: flags['converge-timeout'] * 1000,
        requestTimeoutMs: 2000,
        log,
      })
    } catch (error) {
      // Not a DynError: a fault of the run itself (exit 3), never to be read as a lost write (exit 1).
      this.failFromError(flags.json, error instanceof DynError ? error : new DynError('internal', `dyn verify could not carry out its run: ${(error as Error).message}`))
    } finally {
      process.removeListener('SIGINT', onSignal)
      process.removeListener('SIGTERM', onSignal)
    }
    if (flags.json) this.printJson(report)
    else process.stdout.write(formatReport(report))
    if (!report.ok) this.exit(1)
  }
}

function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(1)}%`
}

function formatReport(report: VerifyReport): string {
  const lines: string[] = []
  lines.push(`dyn verify: ${report.nodes} nodes, conflicts: ${report.conflict}, ${report.clients} clients on ${report.carts} carts, ${report.durationMs / 1000} s, seed ${report.seed}`)
  // A folder's cluster whose membership changed since dyn cluster up: which members the faults
  // could reach, said beside the verdict, since a pass covers only those.
  if (report.notFaulted.length > 0 || report.left.length > 0) {
    const notFaulted = notFaultedText(report.notFaulted)
    const left = report.left.length === 0 ? '' : `; ${report.left.join(', ')} left the cluster (not started, not read)`
    lines.push(`members: ${report.members.join(', ')}; the nemesis may fault ${report.faultTargets.join(', ')} only${notFaulted === '' ? '' : `, not ${notFaulted}`}${left}`)
  }
  const faults = Object.entries(report.faults)
  const faultCount = faults.reduce((sum, [, count]) => sum + (count ?? 0), 0)
  lines.push(`faults: ${faultCount}${faults.length === 0 ? '' : ` (${faults.map(([kind, count]) => `${kind} ${count}`).join(', ')})`}`)
  const {operations: ops, adds} = report
  lines.push(`operations: ${ops.total} (${ops.reads} reads, ${ops.writes} writes), ${percent(ops.total === 0 ? 1 : ops.succeeded / ops.total)} succeeded`)
  lines.push(`adds: ${adds.acknowledged + adds.failed} written, ${adds.acknowledged} acknowledged, ${adds.failed} failed (${adds.failedButPresent} of those in the final cart anyway)`)
  const during = Object.entries(report.availability.during).map(([kind, a]) => `${kind} ${percent(a?.ratio ?? 1)} of ${a?.operations ?? 0}`)
  lines.push(`availability: outside faults ${percent(report.availability.outside.ratio)} of ${report.availability.outside.operations}${during.length === 0 ? '' : `; during ${during.join(', ')}`}`)
  lines.push(report.convergedAfterMs === null ? 'converged: no' : `converged ${(report.convergedAfterMs / 1000).toFixed(1)} s after the heal (every home replica of every cart holds the same items)`)
  if (adds.unverified > 0) lines.push(`unverified: ${adds.unverified} acknowledged add(s) on none of the homes read, some of which could not be read (${report.unreadHomes.slice(0, 3).join('; ')})`)
  lines.push(`lost acknowledged adds: ${adds.lost}${report.lost.length === 0 ? '' : ` (${report.lost.slice(0, 5).map((lost) => `${lost.item} in ${lost.cart}`).join(', ')}${report.lost.length > 5 ? ', ...' : ''})`}`)
  lines.push(`verdict: ${report.verdict}`)
  return `${lines.join('\n')}\n`
}
