/**
 * The settings a new cluster is created with (Q, default N/R/W, conflict policy): their defaults
 * and the one check that `dyn start` and `dyn cluster up` both make before starting anything.
 * Checking up front is what makes a bad value bad input (exit 2) instead of a node that dies
 * while starting.
 */

import type {ClusterSettings, ConflictPolicy} from '../membership/member-table.js'
import type {Result} from '../errors.js'
import {isValidPartitionCount, partitionCountDefault, partitionCountMax} from '../ring/ring.js'

/** The settings fixed when a cluster is created; its id is drawn by the node that creates it. */
export type CreationSettings = Omit<ClusterSettings, 'clusterId'>

export const creationSettingsDefault: CreationSettings = {
  partitionCount: partitionCountDefault,
  defaultN: 3,
  defaultR: 2,
  defaultW: 2,
  conflictPolicy: 'siblings',
}

export const conflictPolicies: readonly ConflictPolicy[] = ['siblings', 'lww']

/** The `dyn start` flag of each setting: messages name what the user typed. */
export const settingFlags: Record<keyof CreationSettings, string> = {
  partitionCount: '--partitions',
  defaultN: '--n',
  defaultR: '--r',
  defaultW: '--w',
  conflictPolicy: '--conflict',
}

/** The explicit settings completed with the defaults, or why they cannot make a cluster. */
export function checkCreationSettings(explicit: Partial<CreationSettings>): Result<{settings: CreationSettings}> {
  const settings: CreationSettings = {...creationSettingsDefault, ...explicit}
  const fail = (message: string): Result<{settings: CreationSettings}> => ({ok: false, error: 'bad_parameter', message})
  if (!isValidPartitionCount(settings.partitionCount)) {
    return fail(`--partitions ${settings.partitionCount} is not a power of two between 1 and ${partitionCountMax}; use one such as ${partitionCountDefault} (the default) or ${partitionCountDefault * 2}`)
  }
  for (const key of ['defaultN', 'defaultR', 'defaultW'] as const) {
    if (!Number.isInteger(settings[key]) || settings[key] < 1) return fail(`${settingFlags[key]} ${settings[key]}: it must be a whole number of at least 1`)
  }
  if (!conflictPolicies.includes(settings.conflictPolicy)) {
    return fail(`--conflict ${settings.conflictPolicy}: use one of ${conflictPolicies.join(', ')}`)
  }
  if (settings.defaultR > settings.defaultN || settings.defaultW > settings.defaultN) {
    return fail(`the defaults need r <= n and w <= n (got n=${settings.defaultN} r=${settings.defaultR} w=${settings.defaultW}); lower --r/--w or raise --n`)
  }
  return {ok: true, settings}
}

/** The `dyn start` flags that create a cluster with these explicit settings. */
export function creationSettingsArgs(explicit: Partial<CreationSettings>): string[] {
  const args: string[] = []
  for (const key of Object.keys(settingFlags) as Array<keyof CreationSettings>) {
    if (explicit[key] !== undefined) args.push(settingFlags[key], String(explicit[key]))
  }
  return args
}
