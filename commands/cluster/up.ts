// The flags module alone: loading all of @oclif/core here would slow every start of the CLI.
import * as Flags from '@oclif/core/flags'
import path from 'node:path'
import type {CreationSettings} from '../../src/cli/cluster-settings.js'
import {conflictPolicies, creationSettingsDefault as defaults} from '../../src/cli/cluster-settings.js'
import {admissionFlags, checkAdmissionFlags} from '../../src/cli/admission-flags.js'
import {DynCommand} from '../../src/cli/command-base.js'
import {exitCodes} from '../../src/cli/exit-codes.js'
import {failureLine} from '../../src/cli/command-output.js'
import {clusterUp, existingSecretFile, interruptedUpMessage, localClusterCaFile, localClusterClientCaFile, localMachineCount, localNodeClient, NodeExitedError, nodeCountDefault, nodeCountMax, portDefault, rpcPortOffset} from '../../src/cli/local-cluster.js'
import {tlsFilesOf} from '../../src/transport/tls-options.js'
import type {UpResult} from '../../src/cli/local-cluster.js'
import {describeSettings} from '../../src/cli/cluster-status.js'
import {counted, shellQuote, warn} from '../../src/cli/format.js'
import {warnOnWeakSettings} from '../../src/cli/quorum-check.js'
import {presentMemberCount, upSummaryText} from '../../src/cli/up-summary.js'
import {startFlagsText} from '../../src/cli/start-flags.js'
import {stopDelayMsMax} from '../../src/api/readiness.js'

export default class ClusterUp extends DynCommand {
  static override summary = 'Start a local cluster of K detached nodes, or the nodes of one that do not run, and wait until they agree on the ring.'

  static override description = `Starts K \`dyn start\` processes named n1..nK whose client APIs listen on 127.0.0.1 ports P..P+K-1 (internode RPC on --rpc-port..+K-1, default P+${rpcPortOffset}). Their data, logs (nK.log), pids and exit records and the cluster description (cluster.json) live in --dir, which for a new cluster must be new or hold nothing but what a cluster makes there (dyn cluster down --purge deletes that again). Returns once every node answers as itself (GET /health names the pid this command started and the folder's cluster id), knows all K members and computes the same ring; a node that exits while starting fails the command (node_exited) with the end of its log, and with its own error code in nodeError when it failed with one (old_disk: a copy of an older disk).
On a folder that holds a cluster already, starts only the nodes that do not run (same names, ports and data, so they come back with their data) and leaves the running ones alone; with all running it starts nothing. A node that left the cluster (dyn cluster leave, or remove) is not started again; one that left the ring but was stopped before it had handed off everything is started again, not waited for, to finish its leave (finishing in --json). The folder's node count, ports and settings are kept; flags that differ are refused.
The node flags (--request-timeout, --write-buffer-ms, --http-request-timeout-ms, --tombstone-grace-ms, --anti-entropy-ms, --stop-delay-ms, --admission-*) are saved in the folder, and every later up starts its nodes with them: a flag given replaces the saved value of that flag, and the others are kept. A folder's nodes all run with the same flags, so one that differs from the saved value is refused while any node of the folder runs (bad_parameter, naming the flags and the nodes): stop the cluster (dyn cluster down) and run up with the flag to change it for every node.
A new cluster gets a secret of its own (cluster.secret in --dir, readable by its owner alone), which every connection between its nodes must prove: a node started by hand joins it with dyn start --secret-file DIR/cluster.secret.
With --tls-cert, --tls-key and --tls-ca (README "TLS"), every node serves HTTPS and talks to the others over mutual TLS with that one certificate, which must name 127.0.0.1 (as the nodes of one machine share the machine's under dyn start --processes); clients reach them with https:// addresses and --tls-ca (or DYN_TLS_CA). The files stay with the folder: a later dyn cluster up checks them and starts its nodes with them again, other files are refused while a node runs (rotate certificates in place instead), and a folder does not drop TLS (make another folder for a cluster without it). With --tls-client-ca as well, the nodes serve only clients with a certificate of that CA (README "Client certificates"), /health excepted: the folder's readiness probes need none, and its other reads (status, verify) present DYN_TLS_CERT and DYN_TLS_KEY.
One up at a time per folder: another up on it while the first starts nodes is refused (folder_busy, exit 3). Ctrl-C (or SIGTERM) while the nodes start stops the nodes this up started, leaves those that were running alone, and exits 130 (interrupted).
Settings (--partitions, --n, --r, --w, --conflict) are fixed when the cluster is created and checked before anything starts; --n larger than --nodes is refused. Warnings (R + W <= N; N above the node count, when each key gets fewer replicas) go to stderr.
Exit codes: 0 every node ready; 2 bad usage or input, or a node exited while starting (node_exited, with its log's end); 3 the cluster was not ready within --timeout (timeout: the message names the node it waited for) or another command holds the folder (folder_busy); 130 interrupted (the nodes this up started were stopped).`

  static override examples = [
    {description: 'Three nodes on ports 7070-7072', command: '<%= config.bin %> cluster up --nodes 3 --dir .dyn/demo --port 7070'},
    {description: 'Five nodes resolving conflicts by last write wins', command: '<%= config.bin %> cluster up --nodes 5 --dir .dyn/lww --port 7170 --conflict lww'},
    {description: 'Bring back the nodes of the demo cluster that crashed (or restart it after `cluster down`)', command: '<%= config.bin %> cluster up --dir .dyn/demo'},
    {description: 'The same for a script: one JSON object on stdout', command: '<%= config.bin %> cluster up --dir .dyn/demo --json'},
    {description: 'Three nodes with TLS on both ports, serving with one certificate that names 127.0.0.1 (README "TLS")', command: '<%= config.bin %> cluster up --nodes 3 --dir .dyn/tls --tls-cert tls/local.crt --tls-key tls/local.key --tls-ca tls/ca.crt'},
    {description: 'Three machines of two processes each (n1, n2 on m1; n3, n4 on m2; n5, n6 on m3): every core busy, a key\'s replicas on three machines', command: '<%= config.bin %> cluster up --nodes 6 --processes-per-machine 2 --dir .dyn/cores'},
  ]

  // Numbers are checked by clusterUp rather than by oclif's min/max, so that a bad one is a
  // coded error (a JSON object under --json) like every other bad input.
  static override flags = {
    nodes: Flags.integer({description: `how many nodes, K, 1 to ${nodeCountMax} [default: the folder's, or ${nodeCountDefault}]`}),
    dir: Flags.string({description: 'folder for the nodes\' data, logs and pids: a new or empty one for a new cluster (one holding other files is refused)', default: '.dyn/cluster'}),
    port: Flags.integer({description: `client API port of the first node, P [default: the folder's, or ${portDefault}]`}),
    'rpc-port': Flags.integer({description: `internode port of the first node [default: the folder's, or P + ${rpcPortOffset}]`}),
    partitions: Flags.integer({description: `partitions on the ring, Q (a power of two; new cluster only) [default: ${defaults.partitionCount}]`}),
    n: Flags.integer({description: `the cluster's default N, at most --nodes (new cluster only) [default: ${defaults.defaultN}]`}),
    r: Flags.integer({description: `the cluster's default R (new cluster only) [default: ${defaults.defaultR}]`}),
    w: Flags.integer({description: `the cluster's default W (new cluster only) [default: ${defaults.defaultW}]`}),
    conflict: Flags.string({description: `conflict policy (new cluster only) [default: ${defaults.conflictPolicy}]`, options: [...conflictPolicies]}),
    'request-timeout': Flags.integer({description: 'milliseconds a get/put may take on each node', min: 1}),
    'write-buffer-ms': Flags.integer({description: 'each node buffers writes and flushes them every this many ms (0: off)', min: 0}),
    'http-request-timeout-ms': Flags.integer({description: 'milliseconds a client request may take to arrive whole on each node (answered 408 request_timeout after) [default: dyn start\'s]', min: 1000, max: 3_600_000}),
    'stop-delay-ms': Flags.integer({description: `milliseconds each node keeps serving after it is asked to stop, with GET /ready answering 503, so that a load balancer sends elsewhere first (dyn cluster down waits them out) [default: 0]`, min: 0, max: stopDelayMsMax}),
    'tombstone-grace-ms': Flags.integer({description: 'milliseconds a delete\'s tombstone is kept at least before it may be reaped [default: dyn start\'s]', min: 1000}),
    'anti-entropy-ms': Flags.integer({description: 'milliseconds between each node\'s anti-entropy rounds (0: only dyn repair runs them) [default: dyn start\'s]', min: 0}),
    ...admissionFlags,
    'processes-per-machine': Flags.integer({
      description: 'nodes per machine, P (new cluster only): n1..nP run as machine m1, the next P as m2, and so on, as dyn start --processes runs one node per core of a real machine; the ring keeps a key\'s replicas on distinct machines [default: the folder\'s, or 1]',
    }),
    'tls-cert': Flags.string({description: 'a certificate (PEM) of the cluster CA naming 127.0.0.1, that every node serves HTTPS and mutual TLS with. Give all three --tls-* flags, or none [default: the folder\'s]', helpValue: 'FILE'}),
    'tls-key': Flags.string({description: 'the private key of --tls-cert (PEM, unencrypted)', helpValue: 'FILE'}),
    'tls-ca': Flags.string({description: 'the cluster CA\'s certificate (PEM), which every node checks its peers\' certificates against', helpValue: 'FILE'}),
    'tls-client-ca': Flags.string({description: 'a CA for the client API\'s clients (PEM), as dyn start takes it: every node answers unauthenticated (403) to a request without a certificate it signed, GET /health excepted. The folder\'s own reads of its nodes present DYN_TLS_CERT and DYN_TLS_KEY. Needs the three --tls-* flags [default: the folder\'s]', helpValue: 'FILE'}),
    timeout: Flags.integer({description: 'milliseconds to wait for the cluster to be ready', default: 30_000, min: 1}),
    json: Flags.boolean({description: 'print the result as one JSON object', default: false}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ClusterUp)
    const settings: Partial<CreationSettings> = {
      ...(flags.partitions === undefined ? {} : {partitionCount: flags.partitions}),
      ...(flags.n === undefined ? {} : {defaultN: flags.n}),
      ...(flags.r === undefined ? {} : {defaultR: flags.r}),
      ...(flags.w === undefined ? {} : {defaultW: flags.w}),
      ...(flags.conflict === undefined ? {} : {conflictPolicy: flags.conflict as CreationSettings['conflictPolicy']}),
    }
    const admission = checkAdmissionFlags(flags)
    if (!admission.ok) this.fail(flags.json, admission.error, admission.message)
    const startArgs: string[] = []
    for (const name of ['request-timeout', 'http-request-timeout-ms', 'write-buffer-ms', 'anti-entropy-ms', 'tombstone-grace-ms', 'stop-delay-ms'] as const) {
      if (flags[name] !== undefined) startArgs.push(`--${name}`, String(flags[name]))
    }
    startArgs.push(...admission.args)
    // All three or none (clusterUp checks the files themselves before anything starts). Absolute
    // paths: the folder keeps them for later starts, which may run from another folder.
    const tlsFiles = tlsFilesOf(flags)
    if (!tlsFiles.ok) this.fail(flags.json, tlsFiles.error, tlsFiles.message)
    if (tlsFiles.files !== undefined) {
      startArgs.push('--tls-cert', path.resolve(tlsFiles.files.certFile), '--tls-key', path.resolve(tlsFiles.files.keyFile), '--tls-ca', path.resolve(tlsFiles.files.caFile))
      if (tlsFiles.files.clientCaFile !== undefined) startArgs.push('--tls-client-ca', path.resolve(tlsFiles.files.clientCaFile))
    }
    const log = (line: string): void => {
      if (!flags.json) process.stderr.write(`${line}\n`)
    }
    // Ctrl-C (SIGINT, SIGTERM, or SIGHUP when the terminal closes) while the nodes start: up
    // starts no more, stops those it started (they run detached, and would otherwise be left
    // behind), and only then exits 130.
    const interruption = new AbortController()
    const onSignal = (signal: NodeJS.Signals): void => {
      if (!interruption.signal.aborted) log(`${signal}: stopping the nodes this up started ...`)
      interruption.abort()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    // The terminal closed: its nodes would be left behind as they would on Ctrl-C.
    process.on('SIGHUP', onSignal)
    let cluster: UpResult
    try {
      cluster = await clusterUp(
        {dir: flags.dir, nodeCount: flags.nodes, port: flags.port, rpcPort: flags['rpc-port'], settings, startArgs, readyTimeoutMs: flags.timeout, processesPerMachine: flags['processes-per-machine'], signal: interruption.signal},
        log,
      )
    } catch (error) {
      // Interrupted, whatever the error the interruption caused (a node stopped under a wait).
      if (interruption.signal.aborted) this.failInterrupted(flags.json)
      if (error instanceof NodeExitedError) this.fail(flags.json, error.code, error.message, error.details)
      this.failFromError(flags.json, error)
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      process.off('SIGHUP', onSignal)
    }
    // A node that runs: one that left, or stopped on learning it was removed, answers nothing.
    const first = cluster.nodes.find((node) => !cluster.left.includes(node.name))
    const client = localNodeClient(cluster, `${cluster.host}:${first?.port}`, 2000)
    const caFile = localClusterCaFile(cluster)
    const clientCaFile = localClusterClientCaFile(cluster)
    const scheme = caFile === undefined ? '' : 'https://'
    const view = await client.getJson('/cluster').catch(() => undefined)
    const described = view?.ok === true ? describeSettings(view.body) : undefined
    const effective = described?.effective
    if (described !== undefined && effective !== undefined && effective.n < described.settings.n) {
      warn(`N=${described.settings.n} but only ${counted(described.ringMembers, 'node')} ${described.ringMembers === 1 ? 'owns' : 'own'} partitions: each key gets ${counted(effective.n, 'replica')} (R=${effective.r}, W=${effective.w}) until more nodes join`)
    }
    const machineCount = view?.ok === true ? Number(view.body.machineCount) : Number.NaN
    if (described !== undefined && effective !== undefined && machineCount < effective.n) {
      warn(`N=${effective.n} but the nodes run on ${counted(machineCount, 'machine')}: some keys keep two or more of their copies on one machine, and losing that machine loses all of those copies at once`)
    }
    await warnOnWeakSettings(client, {n: flags.n, r: flags.r, w: flags.w})
    const secretFile = existingSecretFile(flags.dir)
    if (flags.json) {
      this.printJson({
        ok: true,
        dir: flags.dir,
        clusterId: cluster.clusterId,
        started: cluster.started,
        alreadyRunning: cluster.alreadyRunning,
        left: cluster.left,
        finishing: cluster.finishing,
        startFlags: cluster.startArgs ?? [],
        secretFile: secretFile ?? null,
        ...described,
        ...(caFile === undefined ? {} : {tlsCa: caFile}),
        ...(clientCaFile === undefined ? {} : {tlsClientCa: clientCaFile}),
        nodes: cluster.nodes.map((n) => ({name: n.name, address: `${scheme}${cluster.host}:${n.port}`, rpcAddress: `${cluster.host}:${n.rpcPort}`, machine: n.machine ?? n.name, pid: n.pid, data: n.dataDir, log: n.logFile})),
      })
      return
    }
    const summary = upSummaryText({dir: flags.dir, started: cluster.started, alreadyRunning: cluster.alreadyRunning, left: cluster.left, finishing: cluster.finishing, machines: localMachineCount(cluster, [...cluster.left, ...cluster.finishing]), clusterMembers: view?.ok === true ? presentMemberCount(view.body) : undefined})
    process.stdout.write(`${summary}; talk to it with --node ${scheme}${cluster.host}:${first?.port}${caFile === undefined ? '' : ` --tls-ca ${shellQuote(caFile)}`}, stop this folder's nodes with: dyn cluster down --dir ${shellQuote(flags.dir)}\n`)
    // The saved flags are said, so that a user sees what a later plain up starts nodes with.
    const flagsText = startFlagsText(cluster.startArgs ?? [])
    if (flagsText !== '') process.stdout.write(`its nodes run with ${flagsText} (saved in the folder: every later up starts its nodes with them; up changes one only while none of them runs)\n`)
    if (clientCaFile !== undefined) process.stdout.write(`its nodes serve only clients with a certificate of ${clientCaFile}: give yours with --tls-cert and --tls-key (or DYN_TLS_CERT and DYN_TLS_KEY)\n`)
    if (secretFile !== undefined) process.stdout.write(`its nodes prove the secret in ${secretFile} to each other; a node started by hand joins with --secret-file ${shellQuote(secretFile)}\n`)
  }

  /** The interrupted up's answer, once what it started was stopped: exit 130, as a shell reports Ctrl-C. */
  private failInterrupted(json: boolean): never {
    if (json) this.printJson({ok: false, error: 'interrupted', message: interruptedUpMessage})
    else process.stderr.write(`${failureLine(interruptedUpMessage, 'interrupted')}\n`)
    return this.exit(exitCodes.interrupted)
  }
}
