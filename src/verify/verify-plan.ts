/**
 * What a `dyn verify` run is asked to do, checked before anything starts: a run that could not
 * test what it claims to is refused (bad_parameter, exit 2) rather than allowed to pass. Two
 * checks: the cluster it judges (a new one from the flags, or the one a --dir holds, with that
 * cluster's own node count and conflict policy, which flags may not contradict), and a run long
 * enough for one fault of each kind asked.
 *
 * Pure: the process shell (verify-run.ts) reads the folder, then acts on the plan.
 */

import type {Result} from '../errors.js'
import {creationSettingsDefault} from '../cli/cluster-settings.js'
import {existingClusterRefusal, localClusterSettings} from '../cli/local-cluster.js'
import type {LocalCluster} from '../cli/local-cluster.js'
import type {ConflictPolicy} from '../membership/member-table.js'
import {holdsEveryKind, quietStartMsOf, shortestRunSeconds} from './nemesis.js'
import type {NemesisOptions} from './nemesis.js'

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

/** The longest run `dyn verify --duration` takes, in seconds (commands/verify.ts). */
export const verifyDurationSecondsMax = 3600
