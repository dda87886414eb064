/**
 * What `dyn cluster join|leave|remove|plan|commit` share: one request to a node's membership
 * route (the node forwards it to the claimant), the plan printed for people, and the JSON form
 * `{"ok": true, ...}` or `{"ok": false, "error", "message"}` for scripts.
 */

import * as Flags from '@oclif/core/flags'
import {UnreachableError} from '../client/http-client.js'
import type {DynClient} from '../client/http-client.js'
import {clientTlsFlags, jsonFlag, nodeFlag, timeoutFlag} from './client-flags.js'
import {DynCommand} from './command-base.js'
import type {ClientFlagValues} from './command-base.js'
import {warn} from './format.js'

export interface PlanBody {
  readonly claimant?: string
  readonly ringVersion?: number
  readonly staged?: ReadonlyArray<{kind: string; node: string}>
  /** Why a commit would be refused now (the claimant sees fewer than a majority of the members up). */
  readonly noMajority?: string
  /** Staged joins a commit leaves out (the claimant cannot reach the node), each with why and what to do. */
  readonly blocked?: ReadonlyArray<{kind: string; node: string; message: string}>
  readonly members?: readonly string[]
  readonly ownershipMoves?: ReadonlyArray<{partition: number; from: string; to: string}>
  readonly transfers?: ReadonlyArray<{partition: number; target: string}>
  readonly replicaCounts?: readonly number[]
  /** The cluster's N (absent from an older claimant's plan). */
  readonly defaultN?: number
  readonly ownership?: Record<string, number>
  readonly note?: string
  /** A commit's answer: the ring change it started (`5.n1`), named so by status and errors too. */
  readonly transition?: string
  /** A clear's answer: how many staged changes it dropped. */
  readonly cleared?: number
}

export type ChangeOutcome = {ok: true; body: Record<string, unknown>} | {ok: false; error: string; message: string; details: Record<string, unknown>}

/** Sends one membership request; an unreachable node is an outcome, not a throw. */
export async function sendClusterChange(client: DynClient, method: 'GET' | 'POST', path: string): Promise<ChangeOutcome> {
  try {
    const answer = method === 'GET' ? await client.getJson(path) : await client.postJson(path)
    if (answer.ok) return answer
    const {error: _error, message: _message, ...details} = answer.body
    return {ok: false, error: answer.error, message: answer.message, details}
  } catch (error) {
    // A node whose certificate did not verify keeps its own code (tls_untrusted), as for every command.
    if (error instanceof UnreachableError) return {ok: false, error: error.code, message: error.message, details: error.details}
    return {ok: false, error: 'unreachable', message: (error as Error).message, details: {}}
  }
}

/**
 * --without-majority of leave, remove, clear and commit: the change is decided although the
 * claimant sees fewer than a majority of the ring's members up (refused otherwise, no_majority).
 */
export const withoutMajorityFlag = Flags.boolean({
  description: "decide the change although the claimant sees fewer than a majority of the ring's members up: only when those members' machines are lost for good, never during a network partition (members removed from its small side stop once it heals, and what they alone hold is lost)",
  default: false,
})

/** `path` with ?without-majority=true (or &...) when the flag was given. */
export function withMajorityWaived(path: string, waived: boolean): string {
  return waived ? `${path}${path.includes('?') ? '&' : '?'}without-majority=true` : path
}

/**
 * The base of the five change commands: each checks its own arguments, then `change` sends the
 * request, fails with the node's code, or prints `{"ok": true, ...body}` under --json and the
 * command's text otherwise.
 */
export abstract class ClusterChangeCommand extends DynCommand {
  /** Every change command asks one node (which forwards to the claimant) and may answer in JSON. */
  static readonly changeFlags = {node: nodeFlag, ...clientTlsFlags, timeout: timeoutFlag, json: jsonFlag}

  /** `warnsOfReplicas`: say on stderr when the ring after the commit has fewer owners than keys have replicas (replicaWarnings). */
  protected async change(flags: ClientFlagValues, method: 'GET' | 'POST', path: string, textOf: (body: PlanBody) => string, warnsOfReplicas = false, client: DynClient = this.clientFor(flags)): Promise<void> {
    const outcome = await sendClusterChange(client, method, path)
    if (!outcome.ok) this.fail(flags.json, outcome.error, outcome.message, outcome.details)
    if (warnsOfReplicas) for (const warning of replicaWarnings(outcome.body as PlanBody)) warn(warning)
    if (flags.json) this.printOk(outcome.body)
    else process.stdout.write(textOf(outcome.body as PlanBody))
  }
}

/**
 * The plan as text: staged changes (a join a commit leaves out among them, marked, and then said
 * why and what to do), the ring they make, and what moves where.
 */
export function formatPlan(plan: PlanBody): string {
  const staged = plan.staged ?? []
  const blocked = plan.blocked ?? []
  const listed = [...(staged.length === 0 ? [] : [changesText(staged)]), ...blocked.map((change) => `${change.kind} ${change.node} (cannot be committed: see below)`)]
  const header = [
    `claimant ${plan.claimant ?? '?'}, ring version ${plan.ringVersion ?? '?'}`,
    listed.length === 0 ? 'staged changes: none' : `staged changes: ${listed.join(', ')}`,
    ...blocked.map((change) => `${change.kind} ${change.node} cannot be committed: ${change.message}`),
    ...(plan.noMajority === undefined ? [] : [plan.noMajority]),
  ]
  return `${[...header, ...planLines(plan)].join('\n')}\n`
}

/**
 * A staged change's answer as text (dyn cluster leave, remove): the plan, and how to apply it
 * while anything is staged. A removal that withdrew a join stages nothing (its note says no
 * commit is needed), and once ended with "apply it with: dyn cluster commit" all the same. A plan
 * without the ring it would make (`members`) is one the claimant could not make now: a ring
 * change still moves data, which its note says, and a commit now would be refused
 * (ring_in_transition). It once ended with "apply it with: dyn cluster commit" below that note.
 */
export function formatStaged(plan: PlanBody): string {
  const staged = plan.staged ?? []
  if (staged.length === 0) return formatPlan(plan)
  if (plan.members === undefined) return `${formatPlan(plan)}${changesText(staged)} ${staged.length === 1 ? 'is' : 'are'} staged; commit with dyn cluster commit once the ring change under way has finished (dyn cluster status shows its transfers)\n`
  return `${formatPlan(plan)}apply it with: dyn cluster commit\n`
}

/**
 * A clear's answer as text: what it dropped and the plan after it, or that nothing was staged, so
 * that nothing changed (the ring keeps its version).
 */
export function formatClear(plan: PlanBody): string {
  return plan.cleared === 0 ? `nothing was staged, so nothing changed:\n${formatPlan(plan)}` : plan.cleared === undefined ? `cleared:\n${formatPlan(plan)}` : `cleared ${plan.cleared} staged change(s):\n${formatPlan(plan)}`
}

/**
 * A commit's answer as text, which names the change it started by its transition id (`ring
 * change 5.n1`), as `dyn cluster status`, the logs and refusals (`ring_in_transition`,
 * `already_leaving`) name it; then what it moves, as the plan said.
 */
export function formatCommit(plan: PlanBody): string {
  const header = `committed ring change ${plan.transition ?? '?'} (claimant ${plan.claimant ?? '?'}): ${changesText(plan.staged ?? [])}`
  // A join the commit left out stays staged; said, so that it is not taken for committed.
  const leftOut = (plan.blocked ?? []).map((change) => `${change.kind} ${change.node} stays staged, not committed: ${change.message}`)
  return `${[header, ...planLines(plan), ...leftOut].join('\n')}\nwatch the transfers with: dyn cluster status\n`
}

/**
 * What a plan means for the keys' replicas, when the ring after the commit has fewer members
 * owning partitions than the cluster's N, or than the largest n keys were written with: each key
 * keeps fewer replicas than it was written for until nodes join (transfers then make them good),
 * and a request asking more replicas than there are owners is refused (src/api/params.ts,
 * checkQuorum). Nothing is refused here: shrinking a cluster is the operator's choice, but it
 * was made with no word of this ("after commit: 2 members" of a cluster of N=3). Empty for a
 * plan without the ring it would make. A plan from a claimant that does not say N warns on the
 * largest n it lists (its N among them).
 */
export function replicaWarnings(plan: PlanBody): string[] {
  if (plan.members === undefined || plan.ownership === undefined) return []
  const owners = Object.values(plan.ownership).filter((count) => count > 0).length
  const owning = `${owners} member${owners === 1 ? '' : 's'} would own partitions`
  const replicas = `${owners} replica${owners === 1 ? '' : 's'}`
  const warnings: string[] = []
  const n = plan.defaultN
  if (n !== undefined && owners < n) {
    warnings.push(
      `after the commit only ${owning}, fewer than the cluster's N=${n}: each key gets ${replicas} instead of ${n} until ${n - owners} more node(s) join (transfers then bring it back to ${n}); ` +
        `requests asking n, r or w above ${owners} are refused (bad_parameter), and those that ask nothing run with the defaults fitted to ${owners}`,
    )
  }
  const largest = Math.max(0, ...(plan.replicaCounts ?? []))
  if (largest > owners && (n === undefined || largest > n)) {
    warnings.push(
      `keys were written with n up to ${largest}, and after the commit only ${owning}: those keys keep ${replicas} until ${largest - owners} more node(s) join, ` +
        `and requests asking n=${largest} are refused (bad_parameter) until then`,
    )
  }
  return warnings
}

function changesText(changes: ReadonlyArray<{kind: string; node: string}>): string {
  return changes.map((change) => `${change.kind} ${change.node}`).join(', ')
}

/** The plan's note, the ring after the commit and what moves where. */
function planLines(plan: PlanBody): string[] {
  const lines: string[] = []
  if (plan.note !== undefined) lines.push(plan.note)
  if (plan.members !== undefined && plan.ownership !== undefined) {
    lines.push(`after commit: ${plan.members.length} members, partitions owned: ${Object.entries(plan.ownership).map(([name, count]) => `${name} ${count}`).join(', ')}`)
    const moves = plan.ownershipMoves ?? []
    const byPair = new Map<string, number[]>()
    for (const move of moves) {
      const pair = `${move.from} -> ${move.to}`
      byPair.set(pair, [...(byPair.get(pair) ?? []), move.partition])
    }
    lines.push(`${moves.length} partition(s) change owner:`)
    for (const [pair, partitions] of byPair) lines.push(`  ${pair}: ${partitions.length} (${partitions.join(' ')})`)
    const transfers = plan.transfers ?? []
    const byTarget = new Map<string, number>()
    for (const transfer of transfers) byTarget.set(transfer.target, (byTarget.get(transfer.target) ?? 0) + 1)
    // Keys written with another n than the cluster's have homes of their own; say which n count.
    const counts = plan.replicaCounts ?? []
    const forN = counts.length > 1 ? ` for keys of n ${counts.join(', ')}` : ''
    lines.push(`${transfers.length} replica transfer(s) (a partition copied to a new home replica${forN}): ${[...byTarget].map(([target, count]) => `${target} ${count}`).join(', ') || 'none'}`)
  }
  return lines
}
