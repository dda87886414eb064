import {exchangeIntervalMsDefault} from '../src/antientropy/anti-entropy-subsystem.js'
import {tombstoneGraceMsDefault} from '../src/antientropy/reaper.js'
import * as Flags from '@oclif/core/flags'
import {admissionFlags, checkAdmissionFlags} from '../src/cli/admission-flags.js'
import {DynCommand} from '../src/cli/command-base.js'
import {CommandOutput} from '../src/cli/command-output.js'
import {checkCreationSettings} from '../src/cli/cluster-settings.js'
import {internodePort, nodeAddresses} from '../src/cli/node-addresses.js'
import {withSeedsInternodeAddress} from '../src/cli/seed-hint.js'
import {DynError} from '../src/errors.js'
import {namePattern} from '../src/membership/names.js'
import {checkFailureDetectorConfig, failureDetectorDefaults} from '../src/membership/failure-detector.js'
import type {FailureDetectorConfig} from '../src/membership/failure-detector.js'
import type {ClusterSettings} from '../src/membership/member-table.js'
import {readSecretFile} from '../src/node/cluster-secret.js'
import {loadNodeTls, tlsFilesOf} from '../src/transport/tls-options.js'
import type {NodeTls, TlsFiles} from '../src/transport/tls-options.js'
import {gossipIntervalMsDefault, httpRequestTimeoutMsDefault, machineAddresses, requestTimeoutMsDefault, startNode} from '../src/node/node.js'
import {stopDelayMsMax} from '../src/api/readiness.js'
import {partitionCountDefault} from '../src/ring/ring.js'
import {availableParallelism} from 'node:os'
import {checkPortsFree, dynRunScript} from '../src/cli/local-cluster.js'
import {planProcesses, processCount, processesMax, readProcessesRecord, repeatedSignalMs, runProcesses, writeProcessesRecord} from '../src/cli/start-processes.js'

export default class Start extends DynCommand {
  static override summary = 'Run one dyn node in the foreground.'

  /** With --json the log is JSON lines (nodeLog), so a failure is one more line, not an indented object (command-output.ts). */
  protected override readonly output = new CommandOutput((code) => this.exit(code) as never, 'line')

  static override description = `The node stores its data in --data (one LevelDB), serves the client HTTP API on --port and internode RPC on --rpc-port (default: --port + 1000).
It binds both ports on --listen and tells the cluster and clients to reach it at --advertise (both 127.0.0.1 by default, a node for this machine only; --host sets both). On several machines, listen on 0.0.0.0 (or one interface) and advertise the address the other machines reach this one at.
Without --seeds it creates a new cluster whose settings (partitions, default N/R/W, conflict policy) are fixed from then on. With --seeds (internode addresses of running members) it joins their cluster and adopts its settings.
Restarted on the same --data, a node keeps all acknowledged data, its identity and its view of the ring. Stop it with Ctrl-C or SIGTERM (it closes its store and exits 0; so does SIGHUP, unless the node has TLS files, which SIGHUP then reloads).
With --tls-*, the node reads its TLS files again every minute and takes them when they changed and pass the checks made at start (a renewed certificate, no restart); SIGHUP makes it do so at once. Files that fail a check are refused in its log and in GET /stats (tls), and it keeps serving with the certificate it has.`

  static override examples = [
    {description: 'Start the first node of a new cluster', command: '<%= config.bin %> start --name n1 --port 7070 --data ./data/n1'},
    {description: 'Join it from a second node (the seed is n1\'s internode port)', command: '<%= config.bin %> start --name n2 --port 7071 --data ./data/n2 --seeds 127.0.0.1:8070'},
    {description: 'On several machines: listen on every interface, advertise this machine\'s address, join through another machine\'s node; every node holds the same secret', command: '<%= config.bin %> start --name n2 --listen 0.0.0.0 --advertise 10.0.0.12 --data ./data/n2 --seeds 10.0.0.11:8070 --secret-file ./cluster.secret'},
    {description: 'Listen on one interface only, and advertise the address a NAT forwards to it (a cloud VM\'s public address)', command: '<%= config.bin %> start --name n3 --listen 192.168.1.13 --advertise 203.0.113.7 --data ./data/n3 --seeds 10.0.0.11:8070'},
    {description: 'One address to listen on and to advertise (the same as --listen 10.0.0.11 alone)', command: '<%= config.bin %> start --name n1 --host 10.0.0.11 --data ./data/n1'},
    {description: 'Stage a join without committing it (review with dyn cluster plan, apply with dyn cluster commit)', command: '<%= config.bin %> start --name n4 --port 7073 --data ./data/n4 --seeds 127.0.0.1:8070 --no-commit'},
    {description: 'A cluster that resolves conflicts by last write wins, 256 partitions', command: '<%= config.bin %> start --name n1 --port 7070 --data ./data/n1 --partitions 256 --conflict lww'},
    {description: 'Behind a load balancer that checks GET /ready: on SIGTERM keep serving 5 s with /ready answering 503, so that it sends elsewhere first, then stop', command: '<%= config.bin %> start --name n1 --port 7070 --data ./data/n1 --stop-delay-ms 5000'},
    {description: 'Mark silent peers down sooner, tolerating pauses of up to 1 s', command: '<%= config.bin %> start --name n1 --port 7070 --data ./data/n1 --heartbeat-interval 250 --acceptable-pause 1000'},
    {
      description: 'With TLS (README "TLS"): HTTPS on the client API and mutual TLS between nodes, each node with its own certificate of the cluster\'s CA, naming the address it advertises',
      command: '<%= config.bin %> start --name n2 --listen 0.0.0.0 --advertise 10.0.0.12 --data ./data/n2 --seeds 10.0.0.11:8070 --tls-cert ./tls/n2.crt --tls-key ./tls/n2.key --tls-ca ./tls/ca.crt --secret-file ./cluster.secret',
    },
    {
      description: 'Use every core of this machine: one node per core (n1-1, n1-2, ... on ports 7070.., data in ./data/n1/n1-1, ...), which the ring counts as one machine, so a key\'s replicas go to distinct machines',
      command: '<%= config.bin %> start --name n1 --listen 0.0.0.0 --advertise 10.0.0.11 --data ./data/n1 --processes auto --secret-file ./cluster.secret',
    },
  ]

  static override flags = {
    name: Flags.string({description: 'the node\'s name, unique in the cluster', required: true}),
    listen: Flags.string({description: 'address the client API and internode ports bind: one of this machine\'s, or 0.0.0.0 (:: for IPv6) for every interface [default: 127.0.0.1]'}),
    advertise: Flags.string({description: 'address the other nodes and clients are told to reach this node at, never 0.0.0.0 (required with --listen 0.0.0.0) [default: the --listen address, 127.0.0.1 without one]'}),
    host: Flags.string({description: 'shorthand for --listen and --advertise with one address [default: 127.0.0.1]'}),
    port: Flags.integer({description: 'client HTTP API port', default: 7070, min: 0, max: 65535}),
    'rpc-port': Flags.integer({description: 'internode RPC port (default: --port + 1000; with --port 0, a port the OS picks, as for --port)', min: 0, max: 65535}),
    data: Flags.string({description: 'data folder (created if missing)', required: true}),
    seeds: Flags.string({description: 'comma-separated internode addresses (host:rpc-port) of members to join through'}),
    partitions: Flags.integer({description: `partitions on the ring, Q (a power of two; new cluster only) [default: ${partitionCountDefault}]`}),
    n: Flags.integer({description: 'default replicas per key, N (new cluster only) [default: 3]', min: 1}),
    r: Flags.integer({description: 'default read quorum, R (new cluster only) [default: 2]', min: 1}),
    w: Flags.integer({description: 'default write quorum, W (new cluster only) [default: 2]', min: 1}),
    conflict: Flags.string({description: 'conflict policy (new cluster only): keep siblings, or last write wins [default: siblings]', options: ['siblings', 'lww']}),
    'request-timeout': Flags.integer({description: 'milliseconds a get/put may take before it answers quorum_unmet', default: requestTimeoutMsDefault, min: 1}),
    'http-request-timeout-ms': Flags.integer({description: `milliseconds a client request may take to arrive whole, its request line and headers a third of it; one that does not (a stalled upload, a client that went quiet) is answered 408 request_timeout and its connection closed [default: ${httpRequestTimeoutMsDefault}]`, min: 1000, max: 3_600_000}),
    'stop-delay-ms': Flags.integer({
      description: `milliseconds a node asked to stop (SIGTERM, Ctrl-C, SIGHUP without TLS) keeps serving first (a second signal a second later ends the wait), with GET /ready answering 503, so that a load balancer that checks /ready sends elsewhere before the ports close; set it to the balancer's check interval times the failures it needs, and give the service manager this plus 5 s before it kills (0 to ${stopDelayMsMax}) [default: 0, stop at once]`,
      min: 0,
      max: stopDelayMsMax,
    }),
    'gossip-interval': Flags.integer({description: 'milliseconds between gossip rounds', default: gossipIntervalMsDefault, min: 10}),
    'write-buffer-ms': Flags.integer({description: 'buffer writes in memory and flush them every this many ms (0: off). Faster writes; a crash loses the last interval\'s non-durable writes (paper §6.1)', default: 0, min: 0}),
    'heartbeat-interval': Flags.integer({description: 'milliseconds between heartbeats to each peer (failure detection)', default: failureDetectorDefaults.heartbeatIntervalMs, min: 10}),
    'phi-threshold': Flags.string({description: 'phi at which a silent peer is marked down (8: one chance in 10^8 that it is only slow)', default: String(failureDetectorDefaults.phiDownThreshold)}),
    'acceptable-pause': Flags.integer({description: 'milliseconds of silence beyond the usual heartbeat interval that never mark a peer down (a GC, a slow disk)', default: failureDetectorDefaults.acceptablePauseMs, min: 0}),
    'anti-entropy-ms': Flags.integer({
      description: `milliseconds between anti-entropy rounds, each comparing this node's hash trees with one other home and repairing what differs (0: none in the background, only dyn repair) [default: ${exchangeIntervalMsDefault}]`,
      min: 0,
    }),
    'tombstone-grace-ms': Flags.integer({
      description: `milliseconds a delete's tombstone is kept at least; after that it is removed once every home holds it, no other node holds a copy or a hint of the key, and every member is up [default: ${tombstoneGraceMsDefault}]`,
      min: 1000,
    }),
    processes: Flags.string({
      description: `run K nodes on this machine, one per core (auto: as many as it has cores, up to ${processesMax}, or as many as --data already holds): NAME-1..NAME-K on ports --port..+K-1 and --rpc-port..+K-1, each with its folder in --data, which records K (processes.json; fewer later is refused); the ring counts them as one machine (--machine), so a key's replicas go to distinct machines [default: without it, a single node named NAME]`,
    }),
    machine: Flags.string({description: 'the machine this node runs on, when other nodes of the cluster run there too: a key\'s replicas are kept on distinct machines. Fixed at the node\'s first start [default: NAME with --processes; otherwise a machine of its own]'}),
    'secret-file': Flags.string({description: 'file holding the cluster secret (readable by its owner alone): every internode connection must prove it holds the same. Needed whenever other machines can reach the internode port (dyn cluster up writes one as cluster.secret)'}),
    'tls-cert': Flags.string({description: 'this node\'s certificate (PEM), signed by the cluster CA, naming the address it advertises (IP or DNS subject alternative name): the client API is served over HTTPS and internode connections use mutual TLS. Give all three --tls-* flags, or none', helpValue: 'FILE'}),
    'tls-key': Flags.string({description: 'the private key of --tls-cert (PEM, unencrypted; keep it readable by this user alone)', helpValue: 'FILE'}),
    'tls-ca': Flags.string({description: 'the cluster CA\'s certificate (PEM): a peer is accepted only with a certificate it signed, and a peer dialled must also name the address dialled', helpValue: 'FILE'}),
    'tls-client-ca': Flags.string({description: 'a CA for the client API\'s clients (PEM): a request without a certificate it signed is answered unauthenticated (403), GET /health excepted. Use a CA of its own: a certificate of the cluster CA (--tls-ca) also admits a node. Needs the three --tls-* flags', helpValue: 'FILE'}),
    ...admissionFlags,
    commit: Flags.boolean({description: 'with --seeds: commit this node\'s join as soon as no other change is staged (--no-commit: only stage it, for dyn cluster plan / commit)', default: true, allowNo: true}),
    json: Flags.boolean({description: 'log as JSON lines ({at, node, message}); a failure is one more line, the error object {ok: false, error, message, ...}', default: false}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Start)
    const explicitSettings: Partial<Omit<ClusterSettings, 'clusterId'>> = {
      ...(flags.partitions === undefined ? {} : {partitionCount: flags.partitions}),
      ...(flags.n === undefined ? {} : {defaultN: flags.n}),
      ...(flags.r === undefined ? {} : {defaultR: flags.r}),
      ...(flags.w === undefined ? {} : {defaultW: flags.w}),
      ...(flags.conflict === undefined ? {} : {conflictPolicy: flags.conflict as ClusterSettings['conflictPolicy']}),
    }
    const checked = checkCreationSettings(explicitSettings)
    if (!checked.ok) this.fail(flags.json, checked.error, checked.message)
    const settings = checked.settings
    if (!namePattern.test(flags.name)) {
      this.fail(flags.json, 'bad_parameter', `--name "${flags.name}": use 1 to 64 letters, digits, '.', '_' or '-'`)
    }
    const failureDetector: FailureDetectorConfig = {
      ...failureDetectorDefaults,
      heartbeatIntervalMs: flags['heartbeat-interval'],
      phiDownThreshold: Number(flags['phi-threshold']),
      acceptablePauseMs: flags['acceptable-pause'],
    }
    const detectorProblem = checkFailureDetectorConfig(failureDetector)
    if (detectorProblem !== undefined || !/^[0-9]+(\.[0-9]+)?$/.test(flags['phi-threshold'])) {
      this.fail(flags.json, 'bad_parameter', `--phi-threshold ${flags['phi-threshold']}: ${detectorProblem ?? 'not a number'}; give a number of at least ${failureDetectorDefaults.phiSuspectThreshold} (8 is usual)`)
    }
    const admission = checkAdmissionFlags(flags)
    if (!admission.ok) this.fail(flags.json, admission.error, admission.message)
    const addresses = nodeAddresses(flags, machineAddresses())
    if (!addresses.ok) this.fail(flags.json, addresses.error, addresses.message)
    const internode = internodePort(flags.port, flags['rpc-port'])
    if (!internode.ok) this.fail(flags.json, internode.error, internode.message)
    const seeds = (flags.seeds ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
    const badSeed = seeds.find((seed) => !/^([^:\s[\]]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/.test(seed))
    if (badSeed !== undefined) this.fail(flags.json, 'bad_parameter', `--seeds: "${badSeed}" is not host:port (an IPv6 host in brackets: [::1]:8070)`)
    if (flags.machine !== undefined && !namePattern.test(flags.machine)) {
      this.fail(flags.json, 'bad_parameter', `--machine "${flags.machine}": use 1 to 64 letters, digits, '.', '_' or '-'`)
    }
    // Checked before anything listens or is written (a --processes record, a data folder).
    // The certificate must name the advertised address, which every --processes child advertises too.
    const tls = await this.loadTls(flags, addresses.advertise)
    if (flags.processes !== undefined) {
      const requested = flags.processes === 'auto' ? 'auto' : /^[0-9]{1,4}$/.test(flags.processes) ? Number(flags.processes) : Number.NaN
      if (Number.isNaN(requested)) this.fail(flags.json, 'bad_parameter', `--processes "${flags.processes}": give how many nodes to run on this machine (1 to ${processesMax}), or auto for one per core`)
      await this.runProcesses(flags, requested, internode.rpcPort, addresses, seeds, tls?.tls)
      return
    }
    const log = nodeLog(flags.json, flags.name)
    let node: Awaited<ReturnType<typeof startNode>> | undefined
    // With TLS, SIGHUP asks the node to take its rotated certificate files now instead of at its
    // next check (src/node/tls-reloader.ts), as daemons reload on it; one that comes while the
    // node starts is let go, since the start reads the files anyway. Without TLS there is nothing
    // to reload, and SIGHUP stops the node with its terminal, as SIGTERM does (below).
    // A reload reports what it found as its outcome and never rejects; the catch keeps a fault of
    // its own from ending the node through an unhandled rejection.
    if (tls !== undefined) process.on('SIGHUP', () => void node?.reloadTls().catch(() => undefined))
    try {
      const secret = flags['secret-file'] === undefined ? undefined : await readSecretFile(flags['secret-file'])
      node = await startNode({
        name: flags.name,
        listenHost: addresses.listen,
        advertiseHost: addresses.advertise,
        port: flags.port,
        rpcPort: internode.rpcPort,
        dataDir: flags.data,
        seeds,
        settings,
        explicitSettings,
        requestTimeoutMs: flags['request-timeout'],
        ...(flags['http-request-timeout-ms'] === undefined ? {} : {httpRequestTimeoutMs: flags['http-request-timeout-ms']}),
        ...(flags['stop-delay-ms'] === undefined ? {} : {stopDelayMs: flags['stop-delay-ms']}),
        gossipIntervalMs: flags['gossip-interval'],
        writeBufferMs: flags['write-buffer-ms'],
        failureDetector,
        antiEntropy: {
          ...(flags['anti-entropy-ms'] === undefined ? {} : {exchangeIntervalMs: flags['anti-entropy-ms']}),
          ...(flags['tombstone-grace-ms'] === undefined ? {} : {tombstoneGraceMs: flags['tombstone-grace-ms']}),
        },
        commitJoin: flags.commit,
        ...(flags.machine === undefined ? {} : {machine: flags.machine}),
        ...(admission.settings === undefined ? {} : {admission: admission.settings}),
        ...(secret === undefined ? {} : {secret}),
        ...(tls === undefined ? {} : {tls: tls.tls, tlsFiles: tls.files}),
        log,
      })
    } catch (error) {
      if (!(error instanceof DynError)) throw error
      // A seed that is a client API port: its node says which address is its internode one.
      const refusal = await withSeedsInternodeAddress(error, '--seeds', this.output.clientTlsFor({'tls-ca': flags['tls-ca'], json: flags.json}))
      this.fail(flags.json, refusal.code, refusal.message, refusal.details)
    }
    const running = node
    let failure: DynError | undefined
    await new Promise<void>((resolve) => {
      let stopping = false
      // An operator's signal stops after the node's stop delay (--stop-delay-ms), if any; a stop
      // for another reason does not wait, and cuts short a delay under way (node.ts). A second
      // signal from the operator, a second or more after the first, does too, still closing the
      // store; one sooner is the same stop delivered twice (a terminal's Ctrl-C reaches a
      // --processes node from the terminal and from its supervisor, systemd signals every process
      // of the unit), and is ignored.
      let firstSignalAtMs = 0
      const stop = (signal: string, afterDelay = true): void => {
        if (stopping) {
          const repeated = afterDelay && (flags['stop-delay-ms'] ?? 0) > 0 && performance.now() - firstSignalAtMs >= repeatedSignalMs
          if (!afterDelay || repeated) {
            if (repeated) log(`${signal} again: not waiting out the stop delay`)
            void running.stop({afterDelay: false})
          }
          return
        }
        stopping = true
        firstSignalAtMs = performance.now()
        log(`${signal}: stopping`)
        running.stop({afterDelay}).then(resolve, resolve)
      }
      // Every signal is handled (stop runs once): a node of `dyn start --processes` may get one from
      // the terminal and another from its supervisor, and an unhandled second one would kill it
      // before its store is closed.
      process.on('SIGINT', () => stop('SIGINT'))
      process.on('SIGTERM', () => stop('SIGTERM'))
      // Without TLS, SIGHUP (a terminal closed, or a reload sent to every daemon by a script) stops
      // the node as SIGTERM does: its store closed and its write buffer flushed. Left to its
      // default it ended the process at once, and a walk lost 5 of 20 writes acknowledged within
      // --write-buffer-ms before it.
      if (tls === undefined) process.on('SIGHUP', () => stop('SIGHUP'))
      // Started by `dyn start --processes` (an IPC channel to it): stop when it is gone, however it
      // ended, rather than keep the ports and the store with no one left to stop this node.
      // (The channel is null, not undefined, once the supervisor has gone: then stop at once.)
      if (process.channel !== undefined) {
        if (process.channel === null || !process.connected) stop('supervisor gone', false)
        else {
          process.channel.unref()
          process.once('disconnect', () => stop('supervisor gone', false))
        }
      }
      // A node that has left the ring (dyn cluster leave) exits once its data is handed off.
      void running.left.then(() => stop('left the cluster', false))
      // A copy of an older disk found after the start (a member that was down then answers):
      // serving it could bring deleted keys back, so the node stops and says what to do.
      void running.failed.then((error) => {
        failure = error
        stop(error.code, false)
      })
    })
    log('stopped')
    if (failure !== undefined) this.fail(flags.json, failure.code, failure.message)
  }

  /** The --tls-* files, all three or none, read and checked against the advertised host (src/transport/tls-options.ts); a bad one fails the command. */
  private async loadTls(flags: {'tls-cert'?: string | undefined; 'tls-key'?: string | undefined; 'tls-ca'?: string | undefined; 'tls-client-ca'?: string | undefined; json: boolean}, advertiseHost: string): Promise<{tls: NodeTls; files: TlsFiles} | undefined> {
    const given = tlsFilesOf(flags)
    if (!given.ok) this.fail(flags.json, given.error, given.message)
    if (given.files === undefined) return undefined
    const loaded = await loadNodeTls(given.files, Date.now(), advertiseHost)
    if (!loaded.ok) this.fail(flags.json, loaded.error, loaded.message)
    return {tls: loaded.tls, files: given.files}
  }

  /** `--processes K|auto`: K nodes of this machine as child processes (src/cli/start-processes.ts). */
  private async runProcesses(flags: StartFlags, requested: number | 'auto', rpcPort: number, addresses: {readonly listen: string; readonly advertise: string}, seeds: readonly string[], tls: NodeTls | undefined): Promise<void> {
    const advertiseHost = addresses.advertise
    const recorded = await readProcessesRecord(flags.data).catch((error: Error) => this.fail(flags.json, 'bad_parameter', error.message))
    const counted = processCount(requested, availableParallelism(), flags.name, recorded)
    if (!counted.ok) this.fail(flags.json, counted.error, counted.message)
    const processes = counted.processes
    const planned = planProcesses({
      name: flags.name,
      ...(flags.machine === undefined ? {} : {machine: flags.machine}),
      processes,
      port: flags.port,
      rpcPort,
      data: flags.data,
      advertiseHost,
      seeds,
    })
    if (!planned.ok) this.fail(flags.json, planned.error, planned.message)
    // Every port checked before any node starts: one taken made its node fail after the others
    // had started and joined the ring, which then waited on a stopped member.
    const wanted = planned.plan.processes.flatMap((node) => [
      {port: node.port, what: `${node.name}'s client port`},
      {port: node.rpcPort, what: `${node.name}'s internode port`},
    ])
    await checkPortsFree(addresses.listen, wanted, `give --port and --rpc-port where ${planned.plan.processes.length} consecutive ports of each are free`).catch((error: unknown) => {
      if (error instanceof DynError) this.fail(flags.json, error.code, error.message, error.details)
      throw error
    })
    // Recorded before any node starts, so that the next start finds as many (auto included).
    if (recorded?.processes !== processes) await writeProcessesRecord(flags.data, {name: flags.name, processes})
    const log = nodeLog(flags.json, flags.name)
    const shared = sharedStartArgs(flags as unknown as Record<string, unknown>)
    const outcome = await runProcesses({
      plan: planned.plan,
      stopDelayMs: flags['stop-delay-ms'] ?? 0,
      runScript: dynRunScript,
      advertiseHost,
      // The children read the same --tls-* files (passed on with the shared flags below).
      ...(tls === undefined ? {} : {tls: {ca: tls.ca}}),
      log,
      argsOf: (node) => [
        'start', '--name', node.name, '--port', String(node.port), '--rpc-port', String(node.rpcPort), '--data', node.data, '--machine', planned.plan.machine,
        ...(node.seeds.length === 0 ? [] : ['--seeds', node.seeds.join(',')]),
        ...shared,
      ],
    })
    log('stopped')
    if (outcome.startFailed !== undefined) {
      const {name, message, ...ending} = outcome.startFailed
      // The child's exit code and its own coded error (nodeError, nodeMessage), as dyn cluster up reports a node that exited.
      this.fail(flags.json, 'node_exited', `${name} did not start: ${message}`, {node: name, ...ending})
    }
    if (outcome.failed.length > 0) {
      const said = (ending: (typeof outcome.failed)[number]): string => `${ending.name} ended with ${ending.status}${ending.nodeError === undefined ? '' : ` (error ${ending.nodeError}: ${ending.nodeMessage ?? ''})`}`
      this.fail(flags.json, 'node_exited', `${outcome.failed.map(said).join(', ')}; see its log above`, {nodes: outcome.failed})
    }
  }
}

/** A node's log lines on stdout, as JSON lines with --json: the node's own, and the supervisor's of --processes. */
function nodeLog(json: boolean, name: string): (line: string) => void {
  return (line) => {
    const at = new Date().toISOString()
    process.stdout.write(json ? `${JSON.stringify({at, node: name, message: line})}\n` : `${at} ${name} ${line}\n`)
  }
}

/** The parsed flags runProcesses reads by name; the rest it passes on as they are. */
interface StartFlags {
  readonly name: string
  readonly machine?: string | undefined
  readonly port: number
  readonly 'rpc-port'?: number | undefined
  readonly data: string
  readonly 'stop-delay-ms'?: number | undefined
  readonly json: boolean
}

/** The flags each of the K nodes shares, as given: all but those that differ per node (planProcesses). */
const perProcessFlags = new Set(['name', 'port', 'rpc-port', 'data', 'seeds', 'processes', 'machine'])

function sharedStartArgs(flags: Record<string, unknown>): string[] {
  const args: string[] = []
  for (const [name, value] of Object.entries(flags)) {
    if (perProcessFlags.has(name) || value === undefined) continue
    if (typeof value === 'boolean') {
      // --commit is the one flag with a --no- form; the other booleans are off unless given.
      if (name === 'commit') args.push(value ? '--commit' : '--no-commit')
      else if (value) args.push(`--${name}`)
      continue
    }
    args.push(`--${name}`, String(value))
  }
  return args
}
