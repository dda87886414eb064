/**
 * Membership changes under load (issue 8 item 4, 7): in a share of the seeds, at a drawn time
 * while the clients run, a node joins, a node leaves gracefully, or a node crashes and is
 * removed for good (in half the removals after it has been down a while, so that others hold
 * hints for it). The change goes through the same paths an operator's does (the claimant's
 * stage and commit, asked of any running node), retried while the claimant is busy or moving.
 * In other seeds, a cluster that starts with fewer owners than N grows by joins (runGrowth).
 */

import type {Random} from '../../src/clock.js'
import type {ClusterChangeRequest} from '../../src/membership/claimant.js'
import {sleep} from '../../src/scheduler.js'
import type {SimCluster} from './cluster.js'
import {ringSettleMsMax} from './cluster.js'
import type {History} from './history.js'

export type MembershipChangeKind = 'join' | 'leave' | 'remove'

export interface MembershipChangeConfig {
  readonly kind: MembershipChangeKind
  /** When the change starts, from the start of the workload. */
  readonly atMs: number
  /**
   * A removal only: how long the node stays down (crashed, the clients still writing) before it
   * is removed, so that fallbacks hold hints for it that must then go to the keys' current homes.
   */
  readonly downBeforeRemoveMs?: number
  /**
   * A removal only: once the ring without the removed node has settled, a new node joins. The
   * removed node never runs again, so its own row still says valid: the change after a removal
   * must not wait for it to see the transition (as it did, found by a new user's walk).
   */
  readonly joinAfter?: boolean
}

/** What a change did: the members expected once it has settled, and the ring before it. */
export interface MembershipChangeResult {
  readonly kind: MembershipChangeKind
  readonly node: string
  readonly ringBefore: {readonly partitionCount: number; readonly members: readonly string[]; readonly owners: readonly string[]} | undefined
  readonly expectedMembers: number
  /** Undefined when the change was made; otherwise why it could not be. */
  readonly failure?: string
}

/** Tries of one stage or commit, a second apart, before the run reports the change as failed. */
export const changeAttemptsMax = 60

export async function runMembershipChange(cluster: SimCluster, random: Random, config: MembershipChangeConfig, history: History): Promise<MembershipChangeResult> {
  await sleep(cluster.time, config.atMs)
  const ringBefore = committedRing(cluster)
  const memberCount = ringBefore?.members.length ?? cluster.nodes.length
  if (config.kind === 'join') {
    const node = await cluster.addNode()
    return {kind: 'join', node, ringBefore, expectedMembers: memberCount + 1}
  }
  const candidates = cluster.upNodes()
  const victim = candidates[random.int(candidates.length)]!
  history.note(cluster.time.monotonicMs(), `${config.kind} ${victim}`)
  if (config.kind === 'remove') {
    await cluster.crash(victim)
    // Gone for good: its disk is lost with it, so only writes on W >= 2 replicas must survive.
    history.loseDisk(victim)
    await cluster.depart(victim)
    if (config.downBeforeRemoveMs !== undefined) await sleep(cluster.time, config.downBeforeRemoveMs)
  }
  const failure =
    (await changeThroughAnyNode(cluster, victim, {op: 'stage', change: {kind: config.kind, node: victim}}, history)) ??
    (await changeThroughAnyNode(cluster, victim, {op: 'commit'}, history))
  if (failure !== undefined) return {kind: config.kind, node: victim, ringBefore, expectedMembers: memberCount, failure}
  if (config.kind === 'leave') {
    // The leaver exits only after it has handed off everything; then it never runs again.
    // A crash fault may take it down meanwhile: the fault schedule restarts it, and it goes on.
    let hasLeft = false
    for (let waitedMs = 0; waitedMs < ringSettleMsMax && !hasLeft; waitedMs += 1000) {
      const leaving = cluster.assembled(victim)
      const pause = sleep(cluster.time, 1000).then(() => false)
      hasLeft = await (leaving === undefined ? pause : Promise.race([leaving.left.then(() => true), pause]))
    }
    if (!hasLeft) return {kind: 'leave', node: victim, ringBefore, expectedMembers: memberCount - 1, failure: `${victim} did not exit within ${ringSettleMsMax} ms of its leave`}
    await cluster.depart(victim)
  }
  if (config.kind === 'remove' && config.joinAfter === true) {
    if (!(await cluster.settleRing(memberCount - 1))) return {kind: 'remove', node: victim, ringBefore, expectedMembers: memberCount - 1, failure: `the removal of ${victim} did not settle within ${ringSettleMsMax} ms`}
    const ringBetween = committedRing(cluster)
    const node = await cluster.addNode()
    history.note(cluster.time.monotonicMs(), `join ${node} after the removal of ${victim}`)
    // What is checked from here is the join: its ring before is the one the removal left.
    return {kind: 'join', node, ringBefore: ringBetween, expectedMembers: memberCount}
  }
  return {kind: config.kind, node: victim, ringBefore, expectedMembers: memberCount - 1}
}

/**
 * A cluster that starts with fewer owners than N and grows while the clients write (issue 13):
 * nodes join one after another, or together (as nodes started at once with `--seeds`), each
 * committing its own join as `dyn start --seeds` does.
 */
export interface GrowthConfig {
  /** Nodes the cluster starts with: fewer than the cluster's N. */
  readonly initialNodes: number
  /** When each node joins, from the start of the workload, ascending. */
  readonly joinsAtMs: readonly number[]
}

/**
 * Runs the joins of a growth. What it reports is checked as one join (membership-checks.ts):
 * from the ring the cluster started with to the ring of every member.
 */
export async function runGrowth(cluster: SimCluster, config: GrowthConfig, history: History): Promise<MembershipChangeResult> {
  const ringBefore = committedRing(cluster)
  const joined = await Promise.all(
    config.joinsAtMs.map(async (atMs) => {
      await sleep(cluster.time, atMs)
      return cluster.addNode()
    }),
  )
  history.note(cluster.time.monotonicMs(), `grown from ${config.initialNodes} to ${config.initialNodes + joined.length} nodes: ${joined.join(' ')} joined`)
  return {kind: 'join', node: joined.join(' '), ringBefore, expectedMembers: config.initialNodes + joined.length}
}

/** The committed ring as a running node sees it: what a change's checks compare the ring after it with. */
function committedRing(cluster: SimCluster): MembershipChangeResult['ringBefore'] {
  const anyRunning = cluster.upNodes().map((name) => cluster.assembled(name)).find((node) => node !== undefined)
  const ring = anyRunning?.membership.table.ring
  return ring === undefined ? undefined : {partitionCount: anyRunning!.membership.ring.partitionCount, members: ring.members, owners: ring.owners}
}

/** Asks running nodes other than `victim` in turn; undefined once one accepted (or it was already done). */
async function changeThroughAnyNode(cluster: SimCluster, victim: string, request: ClusterChangeRequest, history: History): Promise<string | undefined> {
  let last = 'no node running'
  for (let attempt = 0; attempt < changeAttemptsMax; attempt += 1) {
    const through = cluster.upNodes().filter((name) => name !== victim)
    const name = through[attempt % Math.max(1, through.length)]
    const node = name === undefined ? undefined : cluster.assembled(name)
    if (node !== undefined) {
      try {
        await cluster.time.until(node.service.clusterChange(request), ringSettleMsMax)
        history.note(cluster.time.monotonicMs(), `cluster ${request.op} via ${name}: ok`)
        return undefined
      } catch (error) {
        const code = (error as {code?: string}).code
        last = `${code ?? 'error'}: ${(error as Error).message}`
        history.note(cluster.time.monotonicMs(), `cluster ${request.op} via ${name}: ${last}`)
        // A stage that is already there, or a commit of nothing left to commit, was done by an earlier try.
        if (request.op === 'stage' && code === 'bad_parameter' && last.includes('already staged')) return undefined
        if (request.op === 'commit' && code === 'nothing_staged') return undefined
        if (code === 'bad_parameter') return last
      }
    }
    await sleep(cluster.time, 1000)
  }
  return last
}
