import {mkdir, open, rm, rmdir, stat, writeFile} from 'node:fs/promises'
import path from 'node:path'
import * as Flags from '@oclif/core/flags'
import {makeFolder} from '../src/node/make-folder.js'
import {replicasPerKeyMax} from '../src/storage/stored-object.js'
import {DynCommand} from '../src/cli/command-base.js'
import {failureLine, tlsCaEnvironmentVariable, tlsCertEnvironmentVariable, tlsKeyEnvironmentVariable} from '../src/cli/command-output.js'
import {parseNodeList} from '../src/client/node-address.js'
import type {NodeAddress} from '../src/client/node-address.js'
import type {ClientTls} from '../src/transport/tls-ca-file.js'
import {exitCodeOf, exitCodes} from '../src/cli/exit-codes.js'
import {settleColors} from '../src/cli/terminal.js'
import {DynError} from '../src/errors.js'
import {memberTlsOf, NotDynNodeError, UnreachableError} from '../src/client/http-client.js'
import type {DistributionName} from '../bench/distributions.js'
import {compareWithBaseline, formatRegression, incomparableMessage, loadBaseline, maxRegressionDefault, parseMaxRegression, parseRegressionMetrics, regressionMetricNames, regressionMetricsDefault, setupOfConfig, setupOfReport} from '../bench/baseline.js'
import type {ComparedReport, RegressionMetric, RegressionReport} from '../bench/baseline.js'
import {junitReport, markdownSummary} from '../bench/ci-reports.js'
import {failureAdvice, unmeasuredRun} from '../bench/failed-run.js'
import {formatReport} from '../bench/report.js'
import {interruptionMessage, plannedQuorum, runBench, writeHistograms} from '../bench/runner.js'
import {warmupSClosedDefault, warmupSDefaultOf, warmupSOpenDefault} from '../bench/warmup.js'
import type {BenchConfig, BenchReport, Interruption, ProgressSnapshot, StartTlsFiles} from '../bench/runner.js'
import {tlsFilesOf} from '../src/transport/tls-options.js'
import {capacityPrecisionDefault, capacityRatePerSMax, capacityStartRatePerSDefault, capacityStepsMaxDefault} from '../bench/capacity.js'
import {parseFaultSpec} from '../bench/faults.js'
import type {FaultSpec} from '../bench/faults.js'
import {openLoopConnectionsPerNodeDefault} from '../bench/open-loop.js'
import {loadSla, unmeasurableTargets} from '../bench/sla.js'
import type {Sla} from '../bench/sla.js'
import {workloads} from '../bench/workloads.js'
import type {WorkloadName} from '../bench/workloads.js'
import {benchPhasePosition} from '../src/ui/theme.js'

export default class Bench extends DynCommand {
  static override summary = 'Load-test a cluster and report latency percentiles up to p99.9, optionally against an SLA.'

  static override description = `Workloads: YCSB core a (50% read / 50% update), b (95/5), c (read only), d (read latest, 5% insert), f (read-modify-write), and cart, the paper's shopping cart (read, merge siblings, add an item, write back with the context).
Two ways to load: --connections C is a closed loop (autocannon, C requests in flight, as fast as the cluster answers: the throughput ceiling); --rate R is an open loop (R operations per second, evenly spaced, latency measured from each operation's intended start, so queueing counts: the honest SLA check).
Latencies are recorded in microseconds in HDR histograms; --hdr-out saves them. --calibrate first runs the same driver against a trivial HTTP server, so throughput is also reported as a fraction of this machine's ceiling; with --rate it also runs the same open loop against that server, and reports its percentiles as the floor below which this machine cannot tell a cluster's latency from its own.
TLS: with --node, --tls-ca, --tls-cert and --tls-key are a client's, as for every command (the CA to check the nodes' certificates with; your client certificate for nodes started with --tls-client-ca). For a cluster the bench starts (no --node), the same three flags are that cluster's files, as dyn cluster up takes them: every node serves HTTPS and mutual TLS with the one certificate (which must name 127.0.0.1), the bench reaches them over HTTPS trusting the CA, and --calibrate serves its trivial server over HTTPS with the same certificate, so that the ceiling pays for TLS too (the report says which protocol each used). Give all three then; DYN_TLS_* are not read for a cluster the bench starts. --calibrate over HTTPS needs a cluster the bench starts: for --node https://... it is refused, the bench having no certificate for its trivial server.
With --sla FILE the run takes its parameters from the file (flags override) and exits 1 when any target is missed.
--find-capacity (with --sla) searches for the highest open-loop rate at which every target holds: runs at rising rates (doubling, then bisecting, at most --max-steps runs on the same cluster), and reports the latency-versus-throughput curve it measured on the way.
--fault kill|pause|partition[:NODE][@SECONDS] (repeatable; open loop, on a cluster the bench starts) kills, pauses or cuts off a node mid-run for --fault-duration seconds, then restarts, resumes or heals it; the report judges the run before, during and after each fault, and the SLA holds only if it holds in every window. Requests a node refuses to connect go to the next node, as dyn's clients do.
With --baseline FILE.json (the --json output of an earlier run with the same parameters, read before this run starts) it compares throughput and latency percentiles per operation and exits 5 when one is worse by more than --max-regression (10% unless given); when both runs were calibrated the figures are compared in units of each run's calibration, which cancels much of a shared machine's drift, else in raw units with a warning.
For CI, --junit FILE writes JUnit XML (a test case per SLA target, per error rate and per figure compared; needs --sla or --baseline) and --markdown FILE a summary for the job page (e.g. $GITHUB_STEP_SUMMARY); both are written whatever the verdict.
Exit codes: 0 done (SLA met, no regression), 1 SLA missed (or a --fault could not be applied or reverted), 2 bad usage (a node certificate that does not verify included: tls_untrusted), 3 cluster unreachable; a load that stored nothing, or (without an SLA) a run in which every operation of a kind failed, exits by what the nodes answered (2 for a refused parameter, 3 for quorum_unmet), 5 regression against the baseline (with the SLA met), 130 interrupted (Ctrl-C: the cluster the bench started is stopped first; with --json the answer is {"ok": false, "error": "interrupted", ...}, without a partial report).`

  // Written out: oclif's own usage line printed an empty alternative for every flag exclusive
  // with --node after the first ("[--port <value> | ]").
  static override usage = [
    'bench [--nodes <value> [--port <value>] [--rpc-port <value>] ... | --node host:port...] [--workload a|b|c|d|f|cart] [--connections <value> | --rate <value>] [--duration <value>] [--sla <value>] [--json] [FLAGS]',
  ]

  static override examples = [
    {description: 'Maximum throughput of a fresh 3-node cluster, YCSB A, 50 connections, calibrated', command: '<%= config.bin %> bench --nodes 3 --workload a --connections 50 --duration 10 --calibrate'},
    {description: 'The paper\'s SLA (p99.9 <= 300 ms at 500 req/s) against a running cluster', command: '<%= config.bin %> bench --node 127.0.0.1:7070 --node 127.0.0.1:7071 --node 127.0.0.1:7072 --sla bench/sla/paper.json'},
    {description: 'A fresh cluster on ports of your choosing (client 9000..9002, internode 9100..9102), e.g. to keep it apart from a cluster of yours on the usual ports', command: '<%= config.bin %> bench --nodes 3 --port 9000 --rpc-port 9100 --duration 10'},
    {description: 'Every core busy: four nodes as two machines of two processes (replicas on distinct machines), gets only', command: '<%= config.bin %> bench --nodes 4 --processes-per-machine 2 --workload c --n 2'},
    {description: 'A running cluster with TLS, over HTTPS, its certificates checked against the cluster CA', command: '<%= config.bin %> bench --node https://10.0.0.1:7070 --node https://10.0.0.2:7070 --tls-ca tls/ca.crt --workload b --rate 1000'},
    {description: 'What TLS costs here: a fresh 3-node cluster with TLS on both ports (README "TLS" tls/local.crt), against a trivial HTTPS server with the same certificate', command: '<%= config.bin %> bench --nodes 3 --tls-cert tls/local.crt --tls-key tls/local.key --tls-ca tls/ca.crt --workload a --connections 50 --duration 10 --calibrate'},
    {description: 'Open loop at 1000 ops/s, read-heavy, client-driven routing, histograms saved', command: '<%= config.bin %> bench --nodes 5 --workload b --rate 1000 --client-driven --hdr-out b.hdr.json'},
    {description: 'Ten times what the nodes can take, each operation sent whatever the nodes shed: what admission control alone does', command: '<%= config.bin %> bench --nodes 3 --workload a --rate 20000 --connections-per-node 1000 --no-client-throttle'},
    {description: 'The tail at 1,500 ops/s next to this machine\'s floor (the same open loop against a trivial server)', command: '<%= config.bin %> bench --nodes 3 --workload a --rate 1500 --calibrate'},
    {description: 'The shopping cart with concurrent writers on few keys: how many versions do reads see?', command: '<%= config.bin %> bench --nodes 3 --workload cart --records 100 --connections 32 --json'},
    {description: 'Write buffer on (paper 6.1): nodes flush every 100 ms', command: '<%= config.bin %> bench --nodes 3 --workload a --rate 1000 --write-buffer-ms 100'},
    {description: 'The highest rate at which the CI SLA holds on a fresh 3-node cluster', command: '<%= config.bin %> bench --nodes 3 --sla bench/sla/ci.json --find-capacity'},
    {description: 'Does the SLA hold while n3 is killed 10 s into a 30 s run (and for 10 s)?', command: '<%= config.bin %> bench --nodes 3 --sla bench/sla/paper.json --duration 30 --fault kill:n3@10 --fault-duration 10'},
    {description: 'The same run as a page with charts (percentiles, tail over time, the fault shaded)', command: '<%= config.bin %> bench --nodes 3 --sla bench/sla/ci.json --duration 30 --fault kill:n3@10 --report run.html'},
    {description: 'CI: the SLA suite with JUnit XML and a Markdown job summary, and the JSON saved as the next baseline', command: '<%= config.bin %> bench --nodes 3 --sla bench/sla/ci.json --calibrate --junit bench-results/junit.xml --markdown bench-results/summary.md --json > bench-results/bench.json'},
    {description: 'Fail (exit 5) when throughput or p99 is more than 5% worse than a saved run, in calibrated units', command: '<%= config.bin %> bench --nodes 3 --sla bench/sla/ci.json --calibrate --baseline main-bench.json --max-regression 5% --regression-metrics throughput,p99'},
  ]

  static override flags = {
    node: Flags.string({description: 'client API address of a running node: host:port, http://host:port or https://host:port (repeat for several; a cluster with TLS is reached over HTTPS with --tls-ca); default: start a cluster', multiple: true, helpValue: 'host:port'}),
    // The client flags of every command, with what they mean for a cluster the bench starts.
    'tls-ca': Flags.string({
      description: `with --node: the cluster CA's certificate (PEM) to check the nodes' certificates with, as every command takes it [default: $${tlsCaEnvironmentVariable}]. For a cluster the bench starts: the CA its nodes check each other with and the bench checks them with, as dyn cluster up --tls-ca`,
      helpValue: 'FILE',
    }),
    'tls-cert': Flags.string({
      description: `with --node: your client certificate (PEM), for nodes started with --tls-client-ca; give --tls-key with it [default: $${tlsCertEnvironmentVariable}]. For a cluster the bench starts: the certificate (naming 127.0.0.1) that every node serves HTTPS and mutual TLS with, as dyn cluster up --tls-cert, and the trivial server of --calibrate; give --tls-key and --tls-ca with it`,
      helpValue: 'FILE',
    }),
    'tls-key': Flags.string({description: `the private key of --tls-cert (PEM, unencrypted) [with --node, default: $${tlsKeyEnvironmentVariable}]`, helpValue: 'FILE'}),
    nodes: Flags.integer({description: 'start a cluster of this many nodes for the run, and stop it afterwards; with --tls-cert, --tls-key and --tls-ca, one with TLS on both ports, as dyn cluster up starts it [default: 3]', min: 1, max: 16, exclusive: ['node']}),
    port: Flags.integer({description: 'with --nodes: the client API port of the first node started (the others follow it; internode ports from PORT + 1000 unless --rpc-port) [default: free ports the OS gives]', min: 1, max: 65_535, exclusive: ['node']}),
    'rpc-port': Flags.integer({description: 'with --nodes: the internode port of the first node started (the others follow it) [default: --port + 1000, else free ports the OS gives]', min: 1, max: 65_535, exclusive: ['node']}),
    'write-buffer-ms': Flags.integer({description: 'with --nodes: the nodes buffer writes and flush every this many ms', min: 0, exclusive: ['node']}),
    'processes-per-machine': Flags.integer({
      description: 'with --nodes: nodes per machine, as dyn cluster up --processes-per-machine (the ring keeps a key\'s replicas on distinct machines); the report says whether every core of this machine had a node [default: 1]',
      min: 1,
      max: 16,
      exclusive: ['node'],
    }),
    workload: Flags.string({description: 'a, b, c, d, f or cart [default: a]', options: Object.keys(workloads)}),
    distribution: Flags.string({description: 'key popularity [default: the workload\'s]', options: ['uniform', 'zipfian', 'latest']}),
    records: Flags.integer({description: 'keys loaded before the run [default: 10000]', min: 1, max: 100_000_000}),
    'value-size': Flags.integer({description: 'bytes per value [default: 100]', min: 1, max: 1024 * 1024}),
    n: Flags.integer({char: 'n', description: 'N per request [default: the cluster\'s]', min: 1, max: replicasPerKeyMax}),
    r: Flags.integer({char: 'r', description: 'R per request [default: the cluster\'s]', min: 1, max: replicasPerKeyMax}),
    w: Flags.integer({char: 'w', description: 'W per request [default: the cluster\'s]', min: 1, max: replicasPerKeyMax}),
    dw: Flags.integer({description: 'durable acknowledgements per write (DW) [default: 0]', min: 0}),
    connections: Flags.integer({description: 'closed loop with this many connections [default: 50]', min: 1, max: 10_000, exclusive: ['rate']}),
    rate: Flags.integer({description: 'open loop at this many operations per second', min: 1, max: 1_000_000}),
    duration: Flags.integer({description: 'seconds of measured run [default: 10]', min: 1, max: 3600}),
    warmup: Flags.integer({
      description: `seconds of the same load before measuring (connections opened, code compiled) [default: ${warmupSClosedDefault} for a closed loop, ${warmupSOpenDefault} for an open loop]`,
      min: 0,
      max: 600,
    }),
    load: Flags.boolean({description: 'load the records before the run', default: true, allowNo: true}),
    'client-driven': Flags.boolean({description: 'open loop only: send each request to a coordinator chosen from a cached ring (paper 6.4)', default: false}),
    calibrate: Flags.boolean({description: 'measure this machine\'s HTTP ceiling with the same driver first (and, with --rate, its latency floor at that rate); over HTTPS, with the nodes\' certificate, for a cluster the bench starts with TLS', default: false}),
    'calibration-duration': Flags.integer({description: 'seconds of calibration', default: 5, min: 1}),
    sla: Flags.string({
      description:
        "SLA file: run parameters and targets; exit 1 when one is missed. Each target must be on an operation the workload runs (sla_not_measurable, exit 2). dyn ships bench/sla/paper.json and ci.json in its own folder; a relative path is read from the current folder, and a missing bench/sla/ci.json says where dyn's copy is",
      helpValue: 'FILE',
    }),
    'hdr-out': Flags.string({description: 'save the full latency histograms (HdrHistogram base64, per operation) to this file'}),
    seed: Flags.integer({description: 'random seed for keys and operations', default: 1}),
    timeout: Flags.integer({description: 'seconds before one HTTP request is a timeout', default: 10, min: 1}),
    json: Flags.boolean({description: 'print the report as JSON', default: false}),
    'connections-per-node': Flags.integer({description: `open loop: keep-alive connections to each node; operations due while all are busy queue in the bench, not at the node [default: ${openLoopConnectionsPerNodeDefault}]`, min: 1, max: 10_000, exclusive: ['connections']}),
    'client-throttle': Flags.boolean({description: "open loop: keep back, at the client, part of what goes to a node that sheds most of what it is sent, as dyn's clients do (--no-client-throttle: send everything, to see what the nodes alone do with the whole load)", default: true, allowNo: true}),
    'find-capacity': Flags.boolean({description: 'with --sla: search for the highest open-loop rate that meets every target, starting at --rate, else the SLA\'s rate, else 100 ops/s', default: false, exclusive: ['connections']}),
    'max-steps': Flags.integer({description: `with --find-capacity: runs the search makes at most, each --warmup + --duration seconds [default: ${capacityStepsMaxDefault}]`, min: 2, max: 30}),
    fault: Flags.string({description: 'inject a fault mid-run: kill, pause or partition, optionally :NODE (default: the last node) and @SECONDS into the measured run (default: a third of the way); repeatable, one at a time', multiple: true, helpValue: 'kind[:node][@s]', exclusive: ['node']}),
    'fault-duration': Flags.integer({description: 'seconds each --fault lasts before the node is restarted, resumed or healed [default: a third of the run]', min: 1}),
    report: Flags.string({description: 'also write the report as one self-contained HTML page with charts (percentiles, throughput and tail over time, capacity curve), even when the SLA is missed', helpValue: 'FILE.html'}),
    junit: Flags.string({description: 'write a JUnit XML report to this file (folders made): a test case per SLA target, the error rate and each figure compared with --baseline; needs --sla or --baseline', helpValue: 'FILE'}),
    markdown: Flags.string({description: 'write a Markdown summary to this file (folders made) for a CI job page such as $GITHUB_STEP_SUMMARY: parameters, operations, SLA verdicts, calibration, baseline comparison', helpValue: 'FILE'}),
    baseline: Flags.string({description: 'compare with a saved run (the --json output of an earlier dyn bench with the same workload, loop, records, value size, quorum and nodes); exit 5 when a figure is worse by more than --max-regression', helpValue: 'FILE.json'}),
    'max-regression': Flags.string({description: 'with --baseline: how much worse than the baseline a figure may be, a percentage with its sign [default: 10%]', helpValue: 'PERCENT', dependsOn: ['baseline']}),
    'regression-metrics': Flags.string({description: `with --baseline: the figures compared per operation, comma-separated, from ${regressionMetricNames.join(', ')} [default: ${regressionMetricsDefault.join(',')}]`, helpValue: 'LIST', dependsOn: ['baseline']}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Bench)
    // Interrupted while its flags and files are checked (before runBench takes the signals over),
    // the bench has started nothing, and answers as an interrupted run does (a new user's walk
    // got nothing at all on stdout with --json).
    const sayInterrupted = (interruption: Interruption, message: string): void => {
      if (flags.json) this.printJson({ok: false, error: 'interrupted', message, signal: interruption.signal, phase: interruption.phase})
      else process.stderr.write(`${failureLine(message, 'interrupted')}\n`)
    }
    const onEarlySignal = (signal: NodeJS.Signals): void => {
      const interruption: Interruption = {signal, phase: 'checking'}
      sayInterrupted(interruption, interruptionMessage(interruption, 'nothing_started'))
      process.exit(exitCodes.interrupted)
    }
    process.once('SIGINT', onEarlySignal)
    process.once('SIGTERM', onEarlySignal)
    let sla: Sla | undefined
    if (flags.sla !== undefined) {
      const loaded = await loadSla(flags.sla)
      if (!loaded.ok) this.fail(flags.json, 'bad_parameter', loaded.message)
      sla = loaded.sla
    }
    const fromSla = sla?.run ?? {}
    const workload = (flags.workload ?? fromSla.workload ?? 'a') as WorkloadName
    // The file is checked with the workload that will run (--workload overrides the file's): a
    // target on an operation it never runs is refused now, not judged "not measured" after the
    // run, which a capacity search would repeat at every rate and a --fault run in every window.
    if (sla !== undefined && flags.sla !== undefined) {
      const workloadSource = flags.workload !== undefined ? `--workload ${flags.workload}` : fromSla.workload !== undefined ? 'the file\'s run.workload' : 'the default workload'
      const unmeasurable = unmeasurableTargets(sla, flags.sla, workload, workloadSource)
      if (unmeasurable !== undefined) {
        const {ok: _ok, error, message, ...details} = unmeasurable
        this.fail(flags.json, error, message, details)
      }
    }
    const rate = flags.rate ?? (flags.connections === undefined ? fromSla.ratePerS : undefined)
    const connections = flags.connections ?? (flags.rate === undefined ? fromSla.connections : undefined) ?? 50
    const faults: FaultSpec[] = []
    for (const text of flags.fault ?? []) {
      const parsed = parseFaultSpec(text)
      if (!parsed.ok) this.fail(flags.json, 'bad_parameter', parsed.message)
      faults.push(parsed.value)
    }
    if (flags['fault-duration'] !== undefined && faults.length === 0) this.fail(flags.json, 'bad_parameter', '--fault-duration says how long each --fault lasts: give a --fault too')
    if (flags['max-steps'] !== undefined && !flags['find-capacity']) this.fail(flags.json, 'bad_parameter', '--max-steps bounds the capacity search: give --find-capacity too')
    // The capacity search is an open-loop search: without --rate it starts at the SLA's rate.
    const searchFrom = flags['find-capacity'] && rate === undefined ? (sla?.run.ratePerS ?? capacityStartRatePerSDefault) : rate
    if (flags['connections-per-node'] !== undefined && searchFrom === undefined) this.fail(flags.json, 'bad_parameter', '--connections-per-node sets the open loop\'s connections: give --rate (the closed loop\'s are --connections)')
    if (!flags['client-throttle'] && searchFrom === undefined) this.fail(flags.json, 'bad_parameter', '--no-client-throttle applies to the open loop, the only driver that throttles: give --rate')
    if (flags['client-driven'] && searchFrom === undefined) this.fail(flags.json, 'bad_parameter', '--client-driven needs the open loop: give --rate')
    // The same address rules as every other command (host:port, [v6]:port or http://host:port).
    const parsedNodes = flags.node === undefined ? undefined : parseNodeList(flags.node)
    if (parsedNodes !== undefined && !parsedNodes.ok) this.fail(flags.json, 'bad_parameter', parsedNodes.message)
    const tls = parsedNodes === undefined ? this.startedClusterTls(flags) : this.benchTls(flags, parsedNodes.value)
    const config: BenchConfig = {
      nodes: parsedNodes?.value.map((address) => address.label) ?? [],
      startNodes: flags.nodes ?? 3,
      ...(flags.port === undefined ? {} : {startPort: flags.port}),
      ...(flags['rpc-port'] === undefined ? {} : {startRpcPort: flags['rpc-port']}),
      clusterArgs: flags['write-buffer-ms'] === undefined ? [] : ['--write-buffer-ms', String(flags['write-buffer-ms'])],
      ...(flags['processes-per-machine'] === undefined ? {} : {startProcessesPerMachine: flags['processes-per-machine']}),
      workload,
      distribution: (flags.distribution ?? workloads[workload].distribution) as DistributionName,
      records: flags.records ?? fromSla.records ?? 10_000,
      valueSize: flags['value-size'] ?? fromSla.valueSize ?? 100,
      n: flags.n ?? fromSla.n,
      r: flags.r ?? fromSla.r,
      w: flags.w ?? fromSla.w,
      dw: flags.dw,
      mode: searchFrom === undefined ? {kind: 'closed', connections} : {kind: 'open', ratePerS: searchFrom},
      durationS: flags.duration ?? fromSla.durationS ?? 10,
      warmupS: flags.warmup ?? warmupSDefaultOf(searchFrom === undefined ? 'closed' : 'open'),
      load: flags.load,
      clientDriven: flags['client-driven'],
      calibrate: flags.calibrate,
      calibrationS: flags['calibration-duration'],
      seed: flags.seed,
      timeoutS: flags.timeout,
      ...(flags['connections-per-node'] === undefined ? {} : {connectionsPerNode: flags['connections-per-node']}),
      // Said in every open loop's report, so that a baseline from before the throttle (which sent
      // everything) is told apart from a throttled run.
      ...(searchFrom === undefined ? {} : {clientThrottle: flags['client-throttle']}),
      ...(faults.length === 0 ? {} : {faults}),
      ...(flags['fault-duration'] === undefined ? {} : {faultDurationS: flags['fault-duration']}),
      ...(flags['find-capacity'] ? {capacitySearch: {precision: capacityPrecisionDefault, ratePerSMax: capacityRatePerSMax, stepsMax: flags['max-steps'] ?? capacityStepsMaxDefault}} : {}),
      ...tls,
    }

    // A file that cannot be written is known now, not after the whole run: --report's folder
    // must exist, the others' folders are made when their files are written.
    for (const [flag, file, makesFolder] of [['--report', flags.report, false], ['--hdr-out', flags['hdr-out'], true], ['--junit', flags.junit, true], ['--markdown', flags.markdown, true]] as const) {
      if (file === undefined) continue
      const problem = await outputFileProblem(file, makesFolder)
      if (problem !== undefined) this.fail(flags.json, 'bad_parameter', `${flag} ${file}: ${problem}`)
    }
    // Everything the CI reports and the baseline need is checked now: a bad baseline must not
    // cost a whole run first.
    const ci = await this.ciOptions(flags, config, sla)

    const progress = await this.progressRenderer(flags.json)
    let report
    try {
      // Interrupted, the runner stops what it started, then lets this say so and exits 130. The
      // answer carries no partial report: the figures of a run cut short cover another length
      // than its config says (none at all in the warm-up), no SLA or baseline can judge them, and
      // a script that read them without checking "ok" would take them for the run's.
      const onInterrupted = (interruption: Interruption): void => {
        progress.stop()
        sayInterrupted(interruption, interruptionMessage(interruption, config.nodes.length === 0 ? 'started_cluster' : 'given_nodes'))
      }
      // From here on the runner's own handlers answer a signal, once it has stopped what it started.
      process.off('SIGINT', onEarlySignal)
      process.off('SIGTERM', onEarlySignal)
      report = await runBench(config, sla, flags.json ? undefined : progress.update, onInterrupted)
    } catch (error) {
      progress.stop()
      if (error instanceof UnreachableError) this.fail(flags.json, error.code, error.message, error.details)
      if (error instanceof NotDynNodeError) this.fail(flags.json, error.code, error.message)
      if (error instanceof DynError) this.fail(flags.json, error.code, error.message, error.details)
      throw error
    }
    progress.stop()
    if (flags['hdr-out'] !== undefined) {
      const file = flags['hdr-out']
      await makeFolder(path.dirname(path.resolve(file)))
        .then(() => writeHistograms(file, report))
        .catch((error: Error) => this.fail(flags.json, 'bad_parameter', `--hdr-out ${file}: ${error.message}`))
    }
    const regression = ci.baseline === undefined ? undefined : compareWithBaseline(ci.baseline.report, report, ci.baseline)
    await this.writeCiReports(ci, report, regression)
    // A fault that was not applied or reverted leaves the experiment undone: with an SLA its
    // verdict says so; without one, this does. Either way the run missed (exit 1).
    const missed = (report.sla !== undefined && !report.sla.met) || report.faults?.some((fault) => fault.problem !== undefined) === true
    // Without an SLA to judge it, a run in which the cluster served nothing (every operation of a
    // kind failed, or none was accepted) is not a measurement: it fails with what the nodes
    // answered (bad_parameter exits 2, quorum_unmet 3, ...), instead of printing the figures of
    // error answers and exiting 0.
    const unmeasured = report.sla === undefined ? unmeasuredRun(report.run) : undefined
    const unmeasuredMessage = unmeasured === undefined ? undefined : `the run measured nothing of the cluster serving: ${unmeasured.problem}; ${failureAdvice(exitCodeOf(unmeasured.code) === exitCodes.usage)}`
    if (flags.json) {
      const {histograms: _histograms, ...rest} = report
      // `ok` as every command's answer has it: false when the run missed (exit 1 too), measured
      // nothing (with its error and message, as any failure) or a figure regressed against the
      // baseline (exit 5).
      const failure = unmeasured === undefined ? {} : {error: unmeasured.code, message: unmeasuredMessage}
      this.printJson({ok: !missed && unmeasured === undefined && regression?.regressed !== true, ...failure, ...rest, ...(regression === undefined ? {} : {regression})})
      for (const warning of regression?.warnings ?? []) process.stderr.write(`dyn: warning: ${warning}\n`)
    } else {
      process.stdout.write(formatReport(report))
      if (regression !== undefined) process.stdout.write(formatRegression(regression))
    }
    if (unmeasuredMessage !== undefined) process.stderr.write(`dyn: ${unmeasuredMessage}\n`)
    if (flags.report !== undefined) await this.writeHtmlReport(flags.json, flags.report, report)
    if (missed) this.exit(exitCodes.notFound)
    if (unmeasured !== undefined) this.exit(exitCodeOf(unmeasured.code))
    if (regression?.regressed === true) this.exit(exitCodes.regression)
  }

  /**
   * --junit, --markdown and --baseline, checked before the run: the tolerance and figures parse,
   * the baseline is a dyn bench report of a run set up like this one, and the report files'
   * folders can be written. Any problem is bad_parameter (exit 2).
   */
  private async ciOptions(
    flags: {json: boolean; junit?: string; markdown?: string; baseline?: string; 'max-regression'?: string; 'regression-metrics'?: string},
    config: BenchConfig,
    sla: Sla | undefined,
  ): Promise<CiOptions> {
    // A JUnit file with no test case would show a CI page green while judging nothing.
    if (flags.junit !== undefined && sla === undefined && flags.baseline === undefined) {
      this.fail(flags.json, 'bad_parameter', '--junit needs something to judge: give --sla FILE (a test case per target) or --baseline FILE.json (a test case per figure compared); for a summary of a run without targets use --markdown')
    }
    let baseline: CiOptions['baseline']
    if (flags.baseline !== undefined && config.capacitySearch !== undefined) {
      this.fail(flags.json, 'bad_parameter', '--baseline compares the figures of one run at one rate; a capacity search runs many: compare the capacity found by hand, or run --baseline at that rate')
    }
    if (flags.baseline !== undefined) {
      const maxRegression = flags['max-regression'] === undefined ? {ok: true as const, value: maxRegressionDefault} : parseMaxRegression(flags['max-regression'])
      if (!maxRegression.ok) this.fail(flags.json, 'bad_parameter', maxRegression.message)
      const metrics = flags['regression-metrics'] === undefined ? {ok: true as const, value: [...regressionMetricsDefault]} : parseRegressionMetrics(flags['regression-metrics'])
      if (!metrics.ok) this.fail(flags.json, 'bad_parameter', metrics.message)
      const loaded = await loadBaseline(flags.baseline)
      if (!loaded.ok) this.fail(flags.json, 'bad_parameter', loaded.message)
      // The quorum in effect, so that a run left to the cluster's defaults compares with one that
      // gave the same values (for --node, one request to the cluster now).
      // A quorum the nodes would refuse is refused there, as the run itself would refuse it.
      const planned = await plannedQuorum(config).catch((error: unknown) => (error instanceof DynError ? this.fail(flags.json, error.code, error.message, error.details) : Promise.reject(error)))
      const incomparable = incomparableMessage(flags.baseline, setupOfReport(loaded.value), setupOfConfig(config, planned))
      if (incomparable !== undefined) this.fail(flags.json, 'bad_parameter', incomparable)
      baseline = {report: loaded.value, source: flags.baseline, maxRegression: maxRegression.value, metrics: metrics.value}
    }
    return {json: flags.json, junit: flags.junit, markdown: flags.markdown, baseline}
  }

  /** Both files are written whatever the verdict: a CI page shows a miss best with its figures. */
  private async writeCiReports(ci: CiOptions, report: Parameters<typeof junitReport>[0], regression: RegressionReport | undefined): Promise<void> {
    const files: Array<[string, string | undefined, () => string]> = [
      ['--junit', ci.junit, () => junitReport(report, regression)],
      ['--markdown', ci.markdown, () => markdownSummary(report, regression)],
    ]
    for (const [flag, file, render] of files) {
      if (file === undefined) continue
      try {
        await writeOutputFile(file, render())
      } catch (error) {
        this.fail(ci.json, 'bad_parameter', `${flag} ${file}: ${(error as Error).message}`)
      }
    }
  }

  /** The HTML page, its charting library loaded only now, so that the other runs start faster. */
  private async writeHtmlReport(json: boolean, file: string, report: BenchReport): Promise<void> {
    const {renderHtmlReport} = await import('../bench/html-report.js')
    try {
      await writeFile(file, renderHtmlReport(report))
    } catch (error) {
      this.fail(json, 'bad_parameter', `cannot write the report ${file}: ${(error as Error).message}`)
    }
    if (!json) process.stderr.write(`HTML report written to ${file}\n`)
  }

  /**
   * TLS for the nodes given with --node, as every command reaches a node: an https:// address, or
   * one without a scheme when a CA or client certificate is given (--tls-ca, DYN_TLS_CA, ...);
   * none (plain HTTP), which an http:// address always is. Every node is reached the same way,
   * since a cluster serves TLS on all its nodes or on none: a mix is refused.
   */
  private benchTls(flags: {readonly json: boolean; readonly 'tls-ca'?: string; readonly 'tls-cert'?: string; readonly 'tls-key'?: string}, addresses: readonly NodeAddress[]): Pick<BenchConfig, 'tls'> {
    const given = this.output.clientTlsFor(flags)
    const secure = (address: NodeAddress): boolean => address.scheme === 'https' || (address.scheme === undefined && given !== undefined)
    const secured = addresses.find(secure)
    if (secured === undefined) return {}
    const plain = addresses.find((address) => !secure(address))
    if (plain !== undefined) {
      const why = secured.scheme === 'https' ? `--node https://${secured.label}` : (given?.source ?? 'the client certificate given')
      this.fail(flags.json, 'bad_parameter', `--node ${plain.scheme === 'http' ? 'http://' : ''}${plain.label} would be reached over plain HTTP and ${secured.label} over HTTPS (${why}), but a cluster serves TLS on every node or on none: give every node the same way`)
    }
    return {tls: given ?? {}}
  }

  /**
   * TLS for the cluster the bench starts (no --node): --tls-cert, --tls-key and --tls-ca are its
   * files, as dyn cluster up takes them, all three or none (the runner checks the files
   * themselves before anything starts). Only the flags count: DYN_TLS_CA and DYN_TLS_CERT are a
   * client's, exported to reach a running cluster, and must not turn the bench's own cluster into
   * one with TLS (a client certificate could not serve it anyway). Absolute paths, as dyn cluster
   * up keeps them, since the nodes may be restarted (--fault kill).
   */
  private startedClusterTls(flags: {readonly json: boolean; readonly 'tls-ca'?: string; readonly 'tls-cert'?: string; readonly 'tls-key'?: string}): Pick<BenchConfig, 'startTls'> {
    const files = tlsFilesOf(flags)
    if (!files.ok) {
      this.fail(flags.json, files.error, `${files.message}; dyn bench starts its cluster (--nodes) with TLS as dyn cluster up does, given all three files (a certificate naming 127.0.0.1); for a running cluster, give its nodes with --node`)
    }
    if (files.files === undefined) return {}
    const startTls: StartTlsFiles = {certFile: path.resolve(files.files.certFile), keyFile: path.resolve(files.files.keyFile), caFile: path.resolve(files.files.caFile)}
    return {startTls}
  }

  /** Live progress: ink on a terminal (loaded only then), a plain line every 5 s otherwise, nothing with --json. */
  private async progressRenderer(json: boolean): Promise<{update: (snapshot: ProgressSnapshot) => void; stop: () => void}> {
    if (json) return {update: () => undefined, stop: () => undefined}
    if (process.stderr.isTTY) {
      settleColors(false, process.stderr)
      const {startBenchScreen} = await import('../src/cli/bench-screen.js')
      return startBenchScreen(process.stderr)
    }
    let lastLineMs = 0
    let lastPhase = ''
    return {
      update: (snapshot) => {
        const now = Date.now()
        const phaseKey = `${snapshot.phase}${snapshot.label ?? ''}`
        if (phaseKey === lastPhase && now - lastLineMs < 5000) return
        lastPhase = phaseKey
        lastLineMs = now
        const ops = snapshot.operations.map((op) => `${op.operation} ${op.count} p99.9 ${op.latency.p999Ms.toFixed(2)} ms`).join('; ')
        const label = snapshot.label === undefined ? '' : ` (${snapshot.label})`
        const position = benchPhasePosition(snapshot, 0)
        const where = position === '' ? '' : ` ${position}`
        process.stderr.write(`${snapshot.phase}${label}${where}${ops ? `: ${ops}` : ''}\n`)
      },
      stop: () => undefined,
    }
  }
}

async function isFolder(folder: string): Promise<boolean> {
  return (await stat(folder).catch(() => undefined))?.isDirectory() ?? false
}

async function exists(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined)) !== undefined
}

/**
 * Why a file the run writes at its end could not be written there, or undefined: it is a folder,
 * its folder is missing (made when the file is written, when `makesFolder`), or nothing can be created in that folder.
 * The last is tried with a file of its own, created and removed, since a permission check passes
 * for root on a file system that refuses every new file (a read-only mount, /proc).
 */
async function outputFileProblem(file: string, makesFolder: boolean): Promise<string | undefined> {
  const target = path.resolve(file)
  if (await isFolder(target)) return 'is a folder: give a file name in it'
  const folder = path.dirname(target)
  if (!(await isFolder(folder))) {
    if (!makesFolder) return `the folder ${folder} does not exist`
    // Made only when the file is written (writeOutputFile): a run refused meanwhile leaves no
    // folder behind (a new user's walk found refused runs' folders). Here the nearest folder
    // that exists must take a new folder, tried with one of its own, made and removed.
    // The nearest part of the path that exists must be a folder: a file there (afile/sub/x.md)
    // could only fail once the run is over.
    let existing = path.dirname(folder)
    for (let steps = 0; steps < 4096 && !(await exists(existing)) && path.dirname(existing) !== existing; steps += 1) existing = path.dirname(existing)
    if (!(await isFolder(existing))) return `cannot make the folder ${folder}: ${existing} is not a folder (ENOTDIR); choose a folder on a writable file system`
    const probe = path.join(existing, `.dyn-bench-write-check-${process.pid}`)
    try {
      await mkdir(probe)
      await rmdir(probe)
    } catch (error) {
      return `cannot make the folder ${folder} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message} in ${existing}): choose a folder on a writable file system`
    }
    return undefined
  }
  const probe = path.join(folder, `.dyn-bench-write-check-${process.pid}`)
  try {
    await (await open(probe, 'wx')).close()
    await rm(probe)
  } catch (error) {
    return `cannot write into ${folder} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): choose a folder on a writable file system`
  }
  return undefined
}

/** Writes a file the run was asked for, making its folder first (checked before the run by outputFileProblem). */
async function writeOutputFile(file: string, text: string): Promise<void> {
  await makeFolder(path.dirname(path.resolve(file)))
  await writeFile(file, text)
}

/** The CI reports and baseline of one run, checked before it starts. */
interface CiOptions {
  readonly json: boolean
  readonly junit: string | undefined
  readonly markdown: string | undefined
  readonly baseline: {readonly report: ComparedReport; readonly source: string; readonly maxRegression: number; readonly metrics: readonly RegressionMetric[]} | undefined
}

