/**
 * What a `dyn verify` run is asked to do, checked before anything starts: a run that could not
 * test what it claims to is refused (bad_parameter, exit 2) rather than allowed to pass. Three
 * checks: the cluster it judges (a new one from the flags, or the one a --dir holds, with that
 * cluster's own node count and conflict policy, which flags may not contradict), a run long
 * enough for one fault of each kind asked, and, once a member lists them, members verify can
 * fault as asked (only the folder's own nodes are faulted; a member joined from outside is
 * loaded and read, never killed or cut).
 *
 * Pure: the process shell (verify-run.ts) reads the folder, then acts on the plan.
 */

import type {Result} from '../errors.js'
import {creationSettingsDefault} from '../cli/cluster-settings.js'
import {existingClusterRefusal, localClusterSettings} from '../cli/local-cluster.js'
import type {LocalCluster} from '../cli/local-cluster.js'
import type {ConflictPolicy} from '../membership/member-table.js'
import {holdsEveryKind, quietStartMsOf, shortestRunSeconds} from './nemesis.js'
import type {FaultKind, NemesisOptions} from './nemesis.js'
import {shellQuote} from '../cli/format.js'

/** The nodes of a cluster verify starts when --nodes is not given. */
export const verifyNodeCountDefault = 5

/** What the user gave for the cluster; undefined: not given (the folder's, or the default). */
export interface VerifyClusterFlags {
  readonly nodeCount?: number
  readonly conflict?: ConflictPolicy
}

/** The cluster a run judges: how many nodes, and the conflict policy its verdict is read by. */
export interface VerifyClusterPlan {
  readonly nodeCount: number
  readonly conflict: ConflictPolicy
}

/**
 * The cluster of a run in `dir`, which holds `existing` or nothing yet. A folder's cluster is
 * judged by what it is, never by a flag: a verdict that excused lost adds as last-writer-wins on a
 * cluster that keeps siblings would hide the very loss verify looks for. So a flag that
 * contradicts the folder is refused, and one left out takes the folder's value.
 */
export function planVerifyCluster(dir: string, existing: LocalCluster | undefined, given: VerifyClusterFlags): Result<{plan: VerifyClusterPlan}> {
  if (existing === undefined) {
    return {ok: true, plan: {nodeCount: given.nodeCount ?? verifyNodeCountDefault, conflict: given.conflict ?? creationSettingsDefault.conflictPolicy}}
  }
  const refusal = existingClusterRefusal(existing, {dir, nodeCount: given.nodeCount, settings: given.conflict === undefined ? {} : {conflictPolicy: given.conflict}})
  if (refusal !== undefined) return {ok: false, error: 'bad_parameter', message: refusal}
  return {ok: true, plan: {nodeCount: existing.nodes.length, conflict: localClusterSettings(existing).conflictPolicy}}
}

/**
 * Refuses a run too short to hold one fault of each kind asked at its longest (see
 * `holdsEveryKind`): it would check a cluster under fewer faults than asked, or none, and pass.
 * The message names the shortest --duration that fits, and the other ways out.
 */
export function checkRunLength(options: Pick<NemesisOptions, 'durationMs' | 'kinds' | 'faultMsMin' | 'faultMsMax' | 'gapMs'>): Result<object> {
  if (holdsEveryKind({...options, quietStartMs: quietStartMsOf(options.durationMs)})) return {ok: true}
  const seconds = (ms: number): string => String(ms / 1000)
  const shortest = shortestRunSeconds(options)
  return {
    ok: false,
    error: 'bad_parameter',
    message:
      `--duration ${seconds(options.durationMs)} is too short to hold one fault of each kind asked (${options.kinds.join(', ')}) for sure: ` +
      `after a quiet start of ${seconds(quietStartMsOf(options.durationMs))} s, each may last up to ${seconds(options.faultMsMax)} s (--fault-seconds ${seconds(options.faultMsMin)},${seconds(options.faultMsMax)}), ` +
      `with ${seconds(options.gapMs)} s (--gap-seconds) between them, and a run without the faults asked for proves nothing about them. ` +
      (shortest <= verifyDurationSecondsMax
        ? `Use --duration ${shortest} or more, or a shorter --fault-seconds MAX or --gap-seconds, or fewer --faults`
        : `No --duration holds them (at most ${verifyDurationSecondsMax} s, and these need ${shortest}): use a shorter --fault-seconds MAX or --gap-seconds, or fewer --faults`),
  }
}

/**
 * Every check of a run's flags that needs no node, said together in one refusal, so that a user
 * fixes them all at once: the cluster in `dir` (flags that contradict it), the faults a folder
 * made by dyn cluster up can take (kill and pause only: its links do not pass through verify's
 * proxy), and the run's length. The length is checked for the faults the run could have once the
 * first refusal is followed: `--duration 30` on such a folder was refused for being too short
 * for all five kinds ("use --duration 51"), and that run then refused for its link faults, after
 * which 30 s would have done for kill and pause. `existing` is the cluster `dir` holds, if any.
 */
export function checkRunFlags(dir: string, existing: LocalCluster | undefined, given: VerifyClusterFlags, run: Pick<NemesisOptions, 'durationMs' | 'kinds' | 'faultMsMin' | 'faultMsMax' | 'gapMs'>): Result<{plan: VerifyClusterPlan}> {
  const refusals: string[] = []
  const planned = planVerifyCluster(dir, existing, given)
  if (!planned.ok) refusals.push(planned.message)
  // A folder's cluster of dyn cluster up (verify's own advertise its proxy's address).
  const links = existing !== undefined && existing.advertiseHost === undefined ? run.kinds.filter((kind) => linkFaultKinds.includes(kind)) : []
  const kinds = run.kinds.filter((kind) => !links.includes(kind))
  if (links.length > 0) {
    const instead = kinds.length === 0 ? 'none' : kinds.join(',')
    refusals.push(`${dir} holds a cluster made by dyn cluster up, whose nodes talk to each other directly: verify can only kill and pause them, not ${links.join(', ')}. Use --faults ${instead}, or leave out --dir to let verify start a cluster whose links pass through its proxy`)
  }
  const length = checkRunLength({...run, kinds})
  if (!length.ok) refusals.push(links.length > 0 ? `with --faults ${kinds.join(',')}, ${length.message}` : length.message)
  if (refusals.length > 0 || !planned.ok) return {ok: false, error: 'bad_parameter', message: refusals.length === 1 ? (refusals[0] as string) : refusals.map((refusal, i) => `(${i + 1}) ${refusal}`).join('; ')}
  return planned
}

/** The longest run `dyn verify --duration` takes, in seconds (commands/verify.ts). */
export const verifyDurationSecondsMax = 3600

/** A member's row as a serving node lists it in GET /cluster: what `verifyMembers` reads. */
export interface ListedMember {
  readonly name?: unknown
  readonly status?: unknown
  readonly apiAddress?: unknown
  readonly rpcAddress?: unknown
}

/** A member of the cluster a run judges, and whether verify may inject faults into it. */
export interface VerifyMember {
  readonly name: string
  /** Where its client API answers: a folder's node on its folder ports, any other where the members list it. */
  readonly apiAddress: string
  /** Where its internode port answers, for the final reads of each home replica alone. */
  readonly rpcAddress: string
  /**
   * Started by the folder (its recorded process runs), so that verify can kill, pause and
   * restart it on its data. Any other member verify reaches but leaves alone.
   */
  readonly controlled: boolean
  /** Why verify leaves it alone, in words (absent when controlled). */
  readonly notControlled?: string
}

/** The cluster a run judges, as its members list themselves: who is in it, and who has left. */
export interface VerifyMembers {
  readonly members: VerifyMember[]
  /** Nodes of the folder that left the cluster (dyn cluster leave or remove): never started, never asked. */
  readonly left: string[]
}

/**
 * The members of a folder's cluster as a serving member lists them (`listed`, GET /cluster), not
 * as the folder recorded them: membership changes after `dyn cluster up` (a node removed, another
 * joined with `dyn start` and `dyn cluster join`), and a run aimed at the folder's record sent
 * load to a node that had left and read homes only where the folder ran them, so it reported a
 * convergence failure that was its own. `runsFromFolder` names the folder's nodes whose recorded
 * process runs: only those can be killed and restarted without starting a second copy of a
 * node someone else runs.
 */
export function verifyMembers(cluster: LocalCluster, runsFromFolder: ReadonlySet<string>, listed: readonly ListedMember[]): VerifyMembers {
  const members: VerifyMember[] = []
  for (const row of listed) {
    if (typeof row.name !== 'string' || row.status === 'left') continue
    const node = cluster.nodes.find((candidate) => candidate.name === row.name)
    const listedAt = {apiAddress: String(row.apiAddress), rpcAddress: String(row.rpcAddress)}
    if (node !== undefined && runsFromFolder.has(node.name)) {
      // The folder's own ports on the host the nodes bind: a cluster of verify's advertises its
      // proxy's address instead, which a fault may cut.
      members.push({name: node.name, apiAddress: `${cluster.host}:${node.port}`, rpcAddress: `${cluster.host}:${node.rpcPort}`, controlled: true})
    } else {
      const why = node === undefined ? 'joined from outside this folder' : 'started outside this folder (by hand)'
      members.push({name: row.name, ...listedAt, controlled: false, notControlled: why})
    }
  }
  const isMember = new Set(members.map((member) => member.name))
  const left = cluster.nodes.filter((node) => !isMember.has(node.name) && (node.left === true || listed.some((row) => row.name === node.name && row.status === 'left'))).map((node) => node.name)
  return {members, left}
}

/** The fault kinds that cut links through verify's proxy, rather than act on a process. */
const linkFaultKinds: readonly FaultKind[] = ['partition', 'isolate', 'one-way']

/**
 * Refuses a run on members verify cannot fault as asked, before its clients start: a run that
 * injected fewer faults than asked, or cut only some of a member's links, would report on
 * something else than what was asked and could still pass. Members outside the folder are read
 * and loaded, never faulted; link faults need every member's links to pass through the proxy,
 * which only the folder's own nodes (of a cluster verify made) do.
 */
export function checkVerifyMembers(dir: string, found: VerifyMembers, kinds: readonly FaultKind[]): Result<object> {
  if (found.members.length === 0) return {ok: false, error: 'bad_parameter', message: `no node of the cluster in ${dir} lists any member: start it with dyn cluster up --dir ${shellQuote(dir)}, then run dyn verify again`}
  if (kinds.length === 0) return {ok: true}
  const outside = notFaultedOf(found.members)
  const links = kinds.filter((kind) => linkFaultKinds.includes(kind))
  if (links.length > 0 && outside.length > 0) {
    return {
      ok: false,
      error: 'bad_parameter',
      message:
        `the cluster in ${dir} has member(s) that this folder did not start (${notFaultedText(outside)}): their links do not pass through verify's fault proxy, so --faults ${links.join(',')} could not cut them; ` +
        `use --faults kill,pause (faults on the folder's own nodes only), or leave out --dir to let verify make a cluster of its own`,
    }
  }
  const controlled = found.members.filter((member) => member.controlled)
  if (controlled.length < 2) {
    const own = controlled.length === 0 ? 'none' : `only ${controlled.map((member) => member.name).join(', ')}`
    return {
      ok: false,
      error: 'bad_parameter',
      message:
        `verify injects faults only into members it started from ${dir} (it restarts them there on their data), and the cluster there has ${own} among its members, fewer than the two a nemesis needs${outside.length === 0 ? '' : ` (the others, ${notFaultedText(outside)}, it loads and reads but leaves alone)`}: ` +
        `use --faults none to check it without faults, or leave out --dir to let verify make a cluster of its own`,
    }
  }
  return {ok: true}
}

/** The members verify leaves alone, each with why (the report's `notFaulted`). */
export function notFaultedOf(members: readonly VerifyMember[]): Array<{name: string; why: string}> {
  return members.flatMap((member) => (member.notControlled === undefined ? [] : [{name: member.name, why: member.notControlled}]))
}

/** Such members for a message: `n6 (joined from outside this folder)`. */
export function notFaultedText(notFaulted: ReadonlyArray<{readonly name: string; readonly why: string}>): string {
  return notFaulted.map((member) => `${member.name} (${member.why})`).join(', ')
}
