// The flags module alone: loading all of @oclif/core here would slow every start of the CLI.
import * as Flags from '@oclif/core/flags'
import {DynCommand} from '../../src/cli/command-base.js'
import {clusterDown, clusterDownAndPurge, stopGraceMsDefault} from '../../src/cli/local-cluster.js'

export default class ClusterDown extends DynCommand {
  static override summary = 'Stop the nodes of a local cluster (SIGTERM, then SIGKILL after a grace period).'

  static override examples = [
    {description: 'Stop the cluster, keep its data for the next `cluster up`', command: '<%= config.bin %> cluster down --dir .dyn/demo'},
    {description: 'Stop it and delete its folder', command: '<%= config.bin %> cluster down --dir .dyn/demo --purge'},
    {description: 'The same for a script: one JSON object on stdout', command: '<%= config.bin %> cluster down --dir .dyn/demo --json'},
  ]

  static override flags = {
    dir: Flags.string({description: 'the cluster\'s folder', default: '.dyn/cluster'}),
    grace: Flags.integer({description: 'milliseconds to wait after SIGTERM before SIGKILL', default: stopGraceMsDefault, min: 0}),
    purge: Flags.boolean({description: 'delete the folder (data, logs) after stopping', default: false}),
    json: Flags.boolean({description: 'print the result as one JSON object', default: false}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ClusterDown)
    try {
      const log = (line: string): void => {
        if (!flags.json) process.stderr.write(`${line}\n`)
      }
      // A purge removes the folder only once every node and the wrapper that records its exit are gone.
      const cluster = flags.purge ? await clusterDownAndPurge(flags.dir, flags.grace, log) : await clusterDown(flags.dir, flags.grace, log)
      const notRunning = cluster.nodes.map((n) => n.name).filter((name) => !cluster.stopped.includes(name))
      if (flags.json) this.printJson({ok: true, dir: flags.dir, stopped: cluster.stopped, notRunning, purged: flags.purge})
      else process.stdout.write(`cluster in ${flags.dir} stopped (${cluster.stopped.length} node(s) were running)${flags.purge ? ' and its folder deleted' : ''}\n`)
    } catch (error) {
      this.failFromError(flags.json, error)
    }
  }
}
