/**
 * The line `dyn cluster up` ends with: what this folder's nodes are doing, counted as such, and
 * the cluster's own size only when a live member said it. It read "cluster of 2 ready" of a
 * cluster of four members, two of them joined by hand: it counted the folder's running nodes
 * and called them the cluster. Pure, so that the counts are tested without processes.
 */

import {counted} from './format.js'

export interface UpSummary {
  readonly dir: string
  /** Nodes of the folder this call started, and those it found running. */
  readonly started: readonly string[]
  readonly alreadyRunning: readonly string[]
  /** Nodes of the folder that left the cluster or were removed: not started. */
  readonly left: readonly string[]
  /** Nodes out of the ring, stopped before they had handed off everything: started again only to finish their leave, not waited for. */
  readonly finishing?: readonly string[]
  /** Machines the folder's running nodes are on. */
  readonly machines: number
  /** Members of the cluster that have not left, as a live member listed them; undefined when none said. */
  readonly clusterMembers: number | undefined
}

/** `2 of this folder's nodes running (started n2; n1 was running already and left alone); the cluster has 4 members`. */
export function upSummaryText(summary: UpSummary): string {
  const {started, alreadyRunning: ran, left} = summary
  const running = started.length + ran.length
  const what =
    started.length === 0
      ? `${running === 1 ? 'it was' : 'all were'} running already; started none`
      : ran.length === 0
        ? `started ${started.join(', ')}`
        : `started ${started.join(', ')}; ${ran.join(', ')} ${ran.length === 1 ? 'was' : 'were'} running already and left alone`
  const finishing = summary.finishing ?? []
  const gone = left.length === 0 ? '' : `; ${left.join(', ')} left the cluster and ${left.length === 1 ? 'was' : 'were'} not started`
  const finish = finishing.length === 0 ? '' : `; ${finishing.join(', ')} started again only to finish ${finishing.length === 1 ? 'its leave' : 'their leaves'} (${finishing.length === 1 ? 'it exits' : 'each exits'} by itself once done)`
  const onMachines = summary.machines === running ? '' : ` on ${counted(summary.machines, 'machine')}`
  const members = summary.clusterMembers === undefined ? '' : `; the cluster has ${counted(summary.clusterMembers, 'member')}`
  return `${running} of this folder's nodes running${onMachines} and ready in ${summary.dir} (${what}${gone}${finish})${members}`
}

/** Members of a GET /cluster answer that have not left (a removed member is listed as left too); undefined when it lists none. */
export function presentMemberCount(clusterBody: Record<string, unknown> | undefined): number | undefined {
  const members = clusterBody?.members
  if (!Array.isArray(members)) return undefined
  return members.filter((member) => (member as {status?: unknown}).status !== 'left').length
}
