// The flags module alone: loading all of @oclif/core here would slow every start of the CLI.
import * as Flags from '@oclif/core/flags'
import {DynCommand} from '../../src/cli/command-base.js'
import {clusterDown, clusterDownAndPurge, listSome, stopGraceMsDefault} from '../../src/cli/local-cluster.js'
import type {PurgeResult} from '../../src/cli/local-cluster.js'

export default class ClusterDown extends DynCommand {
  static override summary = 'Stop the nodes of a local cluster (SIGTERM, then SIGKILL after a grace period).'

  static override examples = [
    {description: 'Stop the cluster, keep its data for the next `cluster up`', command: '<%= config.bin %> cluster down --dir .dyn/demo'},
    {description: 'Stop it and delete its folder', command: '<%= config.bin %> cluster down --dir .dyn/demo --purge'},
    {description: 'The same for a script: one JSON object on stdout', command: '<%= config.bin %> cluster down --dir .dyn/demo --json'},
  ]

  static override flags = {
    dir: Flags.string({description: 'the cluster\'s folder', default: '.dyn/cluster'}),
    grace: Flags.integer({description: 'milliseconds to wait after SIGTERM before SIGKILL, counted after the nodes\' --stop-delay-ms when they were started with one', default: stopGraceMsDefault, min: 0}),
    purge: Flags.boolean({description: 'delete the cluster\'s data, logs and folder after stopping (files dyn did not make stay, and so does their folder); refused, with nothing stopped, while a node of the folder started by hand runs (it answers on its port, or holds its data folder open)', default: false}),
    json: Flags.boolean({description: 'print the result as one JSON object', default: false}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ClusterDown)
    try {
      const log = (line: string): void => {
        if (!flags.json) process.stderr.write(`${line}\n`)
      }
      // A purge deletes only once every node and the wrapper that records its exit are gone, and
      // only what the cluster made: a user's own files found in the folder stay, and so does the folder then.
      const purge = flags.purge ? await clusterDownAndPurge(flags.dir, flags.grace, log) : undefined
      const cluster = purge ?? (await clusterDown(flags.dir, flags.grace, log))
      // A node started by hand still runs: it is neither stopped nor not running.
      const notRunning = cluster.nodes.map((n) => n.name).filter((name) => !cluster.stopped.includes(name) && !cluster.startedElsewhere.some((node) => node.name === name))
      if (flags.json) {
        const purged = purge === undefined ? {} : {folderDeleted: purge.folderDeleted, kept: purge.kept, ...(purge.folderKept === undefined ? {} : {folderKept: purge.folderKept})}
        this.printJson({ok: true, dir: flags.dir, stopped: cluster.stopped, killed: cluster.killed, notRunning, startedElsewhere: cluster.startedElsewhere, purged: flags.purge, ...purged})
        return
      }
      if (cluster.startedElsewhere.length > 0) {
        // Not "stopped": a node of it still runs (a purge is refused then, so this is a plain down).
        process.stdout.write(`cluster in ${flags.dir}: stopped the ${cluster.stopped.length} node(s) it started that were running; ${startedElsewhereText(cluster.startedElsewhere)}\n`)
      } else {
        process.stdout.write(`cluster in ${flags.dir} stopped (${cluster.stopped.length} node(s) were running)${purge === undefined ? '' : ` ${purgeText(flags.dir, purge)}`}\n`)
      }
    } catch (error) {
      this.failFromError(flags.json, error)
    }
  }
}

/** The folder's nodes that still run because the folder did not start them, and how to stop them. */
function startedElsewhereText(running: ReadonlyArray<{name: string; pid?: number}>): string {
  const named = running.map(({name, pid}) => `${name} (${pid === undefined ? 'pid unknown' : `pid ${pid}`})`).join(', ')
  const [runs, it] = running.length === 1 ? ['runs', 'it'] : ['run', 'them']
  const pids = running.flatMap(({pid}) => (pid === undefined ? [] : [String(pid)]))
  return `${named} still ${runs}: started outside this folder (by hand), so down did not stop ${it}; stop ${it}${pids.length === running.length ? ` with kill ${pids.join(' ')}` : ''}`
}

/** What a purge did with the folder, said after what was stopped. */
function purgeText(dir: string, purge: PurgeResult): string {
  if (purge.folderKept === undefined) return 'and its folder deleted'
  const why = {
    'holds-other-files': `it holds files dyn did not make (${listSome(purge.kept)})`,
    'symbolic-link': `${dir} is a symbolic link, which is yours (what it points to was emptied)`,
    'current-directory': 'it is the current directory or holds it',
  }
  return `and its data deleted; the folder is kept, since ${why[purge.folderKept]}`
}
