/**
 * The quorum a bench's requests run with: the -n, -r, -w and --dw given, else the cluster's
 * defaults, fitted to its size as the node fits them (src/api/params.ts, checkQuorum and
 * effectiveQuorum). A report records it, so that a run left to the defaults and one that gave
 * the same values explicitly are known to be the same experiment (--baseline). Pure.
 */

import {checkQuorum} from '../src/api/params.js'
import {creationSettingsDefault} from '../src/cli/cluster-settings.js'

export interface RunQuorum {
  readonly n: number
  readonly r: number
  readonly w: number
  readonly dw: number
}

/** What the cluster contributes: its default R and W, and its default N fitted to the members that own partitions. */
export interface ClusterQuorumDefaults {
  readonly fittedN: number
  readonly defaultR: number
  readonly defaultW: number
}

export interface GivenQuorum {
  readonly n?: number
  readonly r?: number
  readonly w?: number
  readonly dw?: number
}

/**
 * The values every request runs with. A default R or W follows the request's N down, as the
 * node's own rule has it (`-n 1` alone is valid); a value given is used as given, since the node
 * refuses rather than shrinks it.
 */
export function runQuorum(given: GivenQuorum, cluster: ClusterQuorumDefaults): RunQuorum {
  const n = given.n ?? cluster.fittedN
  return {n, r: given.r ?? Math.min(cluster.defaultR, n), w: given.w ?? Math.min(cluster.defaultW, n), dw: given.dw ?? 0}
}

/**
 * A cluster the bench starts is made with dyn's creation defaults (it passes no --n, --r or --w
 * to its nodes), N fitted to its node count: known before it starts, and the same for every
 * report of such a run, recorded or not.
 */
export function startedClusterDefaults(nodeCount: number): ClusterQuorumDefaults {
  return {fittedN: Math.min(creationSettingsDefault.defaultN, nodeCount), defaultR: creationSettingsDefault.defaultR, defaultW: creationSettingsDefault.defaultW}
}

/** The defaults a node's GET /cluster states (`settings`, and `effective.n`, N fitted to the cluster), or undefined from a node that does not say. */
export function clusterDefaultsOf(body: Record<string, unknown>): ClusterQuorumDefaults | undefined {
  const settings = body.settings as {defaultR?: unknown; defaultW?: unknown} | undefined
  const effective = body.effective as {n?: unknown} | undefined
  const counts = [effective?.n, settings?.defaultR, settings?.defaultW]
  if (!counts.every((count) => typeof count === 'number' && Number.isInteger(count) && count >= 1)) return undefined
  return {fittedN: effective?.n as number, defaultR: settings?.defaultR as number, defaultW: settings?.defaultW as number}
}

/** What a node checks a request's quorum against: the cluster's default N, R and W as set (not fitted), and how many members own partitions. */
export interface ClusterQuorumRule {
  readonly defaultN: number
  readonly defaultR: number
  readonly defaultW: number
  readonly owners: number
}

/** The rule from a node's GET /cluster (`settings`, and the distinct owners of `owners`), or undefined from a node that does not say. */
export function clusterRuleOf(body: Record<string, unknown>): ClusterQuorumRule | undefined {
  const settings = body.settings as {defaultN?: unknown; defaultR?: unknown; defaultW?: unknown} | undefined
  const counts = [settings?.defaultN, settings?.defaultR, settings?.defaultW]
  if (!counts.every((count) => typeof count === 'number' && Number.isInteger(count) && count >= 1) || !Array.isArray(body.owners)) return undefined
  const owners = new Set(body.owners.map(String)).size
  return owners === 0 ? undefined : {defaultN: settings?.defaultN as number, defaultR: settings?.defaultR as number, defaultW: settings?.defaultW as number, owners}
}

/**
 * Why the nodes would refuse every request of a run with the n, r, w and dw given (explicit
 * values only: the defaults the node fits itself), in the node's own words (src/api/params.ts,
 * checkQuorum: above the members that own partitions, r > n, w > n, dw > w); undefined when they
 * would not. Asked before the load: `-w 4` of a cluster of three was refused only after the
 * whole load had failed ("the load stored none of its 10000 records").
 */
export function refusedQuorum(given: GivenQuorum, rule: ClusterQuorumRule): string | undefined {
  const query = new URLSearchParams()
  for (const name of ['n', 'r', 'w', 'dw'] as const) {
    const value = given[name]
    if (value !== undefined) query.set(name, String(value))
  }
  const checked = checkQuorum(query, {n: rule.defaultN, r: rule.defaultR, w: rule.defaultW}, rule.owners)
  return checked.ok ? undefined : checked.message
}

/**
 * The quorum as a report prints it: the values the requests ran with when the report knows them,
 * the ones left to the cluster named as its defaults (`n=3 r=2 w=2 dw=0, the cluster's
 * defaults`; `n=3 r=1 w=2 dw=0, n w dw: the cluster's defaults`), so that a reader never meets
 * `n=default` and must guess what the cluster's default was. A report from before the quorum was
 * recorded says only what was given.
 */
export function quorumText(given: GivenQuorum, used: RunQuorum | undefined): string {
  const names = ['n', 'r', 'w', 'dw'] as const
  if (used === undefined) return names.filter((name) => name !== 'dw' || given.dw !== undefined).map((name) => `${name}=${given[name] ?? 'default'}`).join(' ')
  const values = names.map((name) => `${name}=${used[name]}`).join(' ')
  const defaulted = names.filter((name) => given[name] === undefined)
  if (defaulted.length === 0) return values
  return `${values}, ${defaulted.length === names.length ? 'the cluster\'s defaults' : `${defaulted.join(' ')}: the cluster's defaults`}`
}
