import {Flags} from '@oclif/core'
import {DynCommand} from '../../src/cli/command-base.js'
import {clusterUp} from '../../src/cli/local-cluster.js'
import {DynError} from '../../src/errors.js'

export default class ClusterUp extends DynCommand {
  static override summary = 'Start a local cluster of K detached nodes and wait until they agree on the ring.'

  static override description = `Starts K \`dyn start\` processes named n1..nK whose client APIs listen on 127.0.0.1 ports P..P+K-1 (internode RPC on --rpc-port..+K-1, default P+1000). Their data, logs (nK.log) and the cluster description (cluster.json) live in --dir. Returns once every node serves, knows all K members and computes the same ring.
Run again on a stopped cluster's folder to restart it on its data.`

  static override examples = [
    {description: 'Three nodes on ports 7070-7072', command: '<%= config.bin %> cluster up --nodes 3 --dir .dyn/demo --port 7070'},
    {description: 'Five nodes resolving conflicts by last write wins', command: '<%= config.bin %> cluster up --nodes 5 --dir .dyn/lww --port 7170 --conflict lww'},
  ]

  static override flags = {
    nodes: Flags.integer({description: 'how many nodes, K', default: 3, min: 1, max: 64}),
    dir: Flags.string({description: 'folder for the nodes\' data, logs and pids', default: '.dyn/cluster'}),
    port: Flags.integer({description: 'client API port of the first node, P', default: 7070, min: 1, max: 65535}),
    'rpc-port': Flags.integer({description: 'internode port of the first node (default: P + 1000)', min: 1, max: 65535}),
    partitions: Flags.integer({description: 'partitions on the ring, Q (a power of two)'}),
    n: Flags.integer({description: 'the cluster\'s default N', min: 1}),
    r: Flags.integer({description: 'the cluster\'s default R', min: 1}),
    w: Flags.integer({description: 'the cluster\'s default W', min: 1}),
    conflict: Flags.string({description: 'conflict policy', options: ['siblings', 'lww']}),
    'request-timeout': Flags.integer({description: 'milliseconds a get/put may take on each node', min: 1}),
    'write-buffer-ms': Flags.integer({description: 'each node buffers writes and flushes them every this many ms (0: off)', min: 0}),
    timeout: Flags.integer({description: 'milliseconds to wait for the cluster to be ready', default: 30_000, min: 1}),
    json: Flags.boolean({description: 'print the cluster as JSON', default: false}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ClusterUp)
    const startArgs: string[] = []
    for (const name of ['partitions', 'n', 'r', 'w', 'conflict', 'request-timeout', 'write-buffer-ms'] as const) {
      if (flags[name] !== undefined) startArgs.push(`--${name}`, String(flags[name]))
    }
    const log = (line: string): void => {
      if (!flags.json) process.stderr.write(`${line}\n`)
    }
    try {
      const cluster = await clusterUp(
        {dir: flags.dir, nodeCount: flags.nodes, port: flags.port, rpcPort: flags['rpc-port'] ?? flags.port + 1000, startArgs, readyTimeoutMs: flags.timeout},
        log,
      )
      if (flags.json) {
        this.printJson({ok: true, dir: flags.dir, nodes: cluster.nodes.map((n) => ({name: n.name, address: `${cluster.host}:${n.port}`, rpcAddress: `${cluster.host}:${n.rpcPort}`, pid: n.pid, data: n.dataDir, log: n.logFile}))})
        return
      }
      const first = cluster.nodes[0]
      process.stdout.write(`cluster of ${cluster.nodes.length} ready in ${flags.dir}; talk to it with --node ${cluster.host}:${first?.port} (the default is 127.0.0.1:7070), stop it with: dyn cluster down --dir ${flags.dir}\n`)
    } catch (error) {
      if (error instanceof DynError) this.fail(flags.json, error.code, error.message)
      throw error
    }
  }
}
