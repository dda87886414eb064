/**
 * Membership changes under load (issue 8 item 4, 7): in a share of the seeds, at a drawn time
 * while the clients run, a node joins, a node leaves gracefully, or a node crashes and is
 * removed for good (in half the removals after it has been down a while, so that others hold
 * hints for it). The change goes through the same paths an operator's does (the claimant's
 * stage and commit, asked of any running node), retried while the claimant is busy or moving.
 * In other seeds, a cluster that starts with fewer owners than N grows by joins (runGrowth).
 */

import type {RingMachines, RingState} from '../../src/membership/claimant-core.js'
import {isLeaving} from '../../src/membership/claimant-core.js'
import {findMember} from '../../src/membership/member-table.js'
import type {MemberTable} from '../../src/membership/member-table.js'
import type {Random} from '../../src/clock.js'
import type {ClusterChangeRequest} from '../../src/membership/claimant.js'
import {compareNames} from '../../src/ring/claim.js'
import {DynError} from '../../src/errors.js'
import {forwardedPutBody} from '../../src/coordinator/put-coordinator.js'
import {partitionOfKey} from '../../src/ring/partition.js'
import {encodeStoredObject} from '../../src/storage/object-codec.js'
import type {StoredVersion} from '../../src/storage/stored-object.js'
import {MessageType} from '../../src/transport/message-type.js'
import {emptySet, update} from '../../src/versioning/dvvset.js'
import {sleep} from '../../src/scheduler.js'
import type {SimCluster} from './cluster.js'
import {crashed, ringSettleMsMax} from './cluster.js'
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
  /**
   * A leave or removal only (issue 19 item 4): the claimant crashes this long after the commit is
   * answered, with its storage kept, and comes back `claimantDownMs` later; another member takes
   * over as claimant meanwhile, and the change must still settle.
   */
  readonly claimantCrashAfterMs?: number
  readonly claimantDownMs?: number
  /**
   * A join only (issue 19 item 4): the new node crashes this long after it started (its join
   * committed, its transfers under way), storage kept, and comes back `joinerDownMs` later.
   */
  readonly joinerCrashAfterMs?: number
  readonly joinerDownMs?: number
  /**
   * A join only: the new node starts alone (a cluster of its own) and is then joined to the
   * cluster and the join committed at once, as `dyn cluster join SEED && dyn cluster commit` do,
   * rather than through --seeds.
   */
  readonly joinedAlone?: boolean
  /**
   * A join of a node started alone only: its operator first gets its --advertise wrong (an address
   * where nothing listens, which no member can reach), at its first start (`at-join`: its `dyn
   * cluster join` must be refused, joiner_unreachable, with nothing staged) or in a restart after
   * its join was staged (`before-commit`: the plan must list the join as one a commit leaves out,
   * and a commit must not apply it). Then it is restarted with the right address, and joined and
   * committed. A new user's walk found such a join answered ok and then shown by no plan.
   */
  readonly wrongAdvertise?: 'at-join' | 'before-commit'
  /**
   * A leave only (issue 19 item 4): a second node leaves too, its leave staged through another
   * node at the same moment as the first, and one commit makes both.
   */
  readonly secondLeave?: boolean
  /**
   * A leave only: the leaver's machine is lost for good this long after the commit is answered,
   * in the middle of its leave (its new homes still fetching), with its disk. The ring change
   * then waits for it for ever, until it is removed as an operator would (dyn cluster remove once
   * status shows it down, then commit): its removal replaces the leave, and the new homes take
   * its partitions from the surviving replicas. A leave that ended first is a plain leave.
   */
  readonly leaverLostAfterMs?: number
  /**
   * A removal only (issue 19 item 4): the node is not crashed but cut off from every other, and
   * removed so; once the removal has settled the cut heals, after a crash and a restart on its
   * store as it was where `oldDiskAfterRemoval`. The node must learn that it was removed and stop
   * without handing its copies (older than what the cluster did meanwhile) to anyone.
   */
  readonly removedWhileAway?: boolean
  /**
   * With removedWhileAway: an operator on the cut-off node's side takes the others for lost and
   * removes them through it (stage each, then commit), as dyn cluster status there once
   * suggested. Every one of those decisions must be refused (no_majority), and nothing change.
   */
  readonly awayOperatorRemovesOthers?: boolean
  readonly oldDiskAfterRemoval?: boolean
  /**
   * With oldDiskAfterRemoval: the node is crashed while cut off and restarted on its store only
   * once it can reach the others. It must refuse to start (removed), never serving: a node that
   * served until gossip told it took writes it alone acknowledged and then dropped them.
   */
  readonly restartAfterHeal?: boolean
  /**
   * A join through --seeds only: this long after the join was committed, a member that stays in the
   * ring, or the joiner itself, is lost for good with its disk, its join's transfers most likely still
   * running, and the operator removes it as dyn cluster status says (dyn cluster remove, then
   * dyn cluster commit until it is taken). The join must end without it, its transfers taking
   * its partitions from the other replicas, and the removal after.
   */
  readonly memberLostAfterMs?: number
  /**
   * With memberLostAfterMs: the member's machine was not lost after all. It crashes with its disk
   * intact, its removal is staged (so the join goes on without it), and once the join's change has
   * ended it comes back and the operator clears the removal (dyn cluster clear). What it held is
   * not given up: its hints for homes that lost their partitions in the join must reach the keys'
   * current homes, so every write acknowledged on it alone must still be read.
   */
  readonly memberFoundAgain?: boolean
}

/**
 * A node restarted on its folder where no member can answer it must take no write
 * (src/node/membership-confirmation.ts): it cannot tell whether it is still a member, and one
 * removed meanwhile drops what it took once it learns so (a helper's walk lost every write such a
 * node acknowledged, at w=1 and, two removed nodes answering each other, at w=2). A put at w=1
 * through it must be refused not_ready, and so must the copies a member whose ring still lists it
 * would send: a put forwarded to it to coordinate, and a replica write, handed to its router as
 * its transport would (no member can reach it here). Why not, or undefined when it was (or the
 * node is not up).
 */
async function unconfirmedWriteTaken(cluster: SimCluster, name: string): Promise<string | undefined> {
  const node = cluster.assembled(name)
  if (node === undefined) return undefined
  const refusedNotReady = (error: unknown): string | undefined => (error instanceof DynError && error.code === 'not_ready' ? undefined : `failed (${(error as Error).message})`)
  const value = new TextEncoder().encode('probe')
  const put = node.service.put({key: 'unconfirmed-probe', value, contentType: 'text/plain', tombstone: false, context: [], n: 1, w: 1, dw: 0, pw: 0, explain: false})
  const answer = await cluster.time.until(put, ringSettleMsMax).then((outcome) => `answered ${outcome.ok ? 'ok' : outcome.error}`, refusedNotReady)
  if (answer !== undefined) return `${name}, restarted on its folder cut off from every member, was asked a put at w=1 and ${answer} instead of refusing it not_ready`
  const member = node.membership.table.members.find((row) => row.name !== name && row.removed !== true)?.name
  if (member === undefined) return undefined
  const key = 'unconfirmed-copy-probe'
  const partition = partitionOfKey(key, node.membership.ring.partitionCount)
  const version: StoredVersion = {value, contentType: 'text/plain', timestampMs: 0, tombstone: false}
  const object = {versions: update([], emptySet<StoredVersion>(), `${member}.1`, version, 0), n: 1}
  const offers: Array<[string, number, unknown]> = [
    ['a put forwarded to it to coordinate', MessageType.CoordinatePut, forwardedPutBody({key, value, contentType: 'text/plain', tombstone: false, context: [], n: 1, w: 1, dw: 0, pw: 0, explain: false}, member, 1000)],
    ['a replica write', MessageType.ReplicaPut, {partition, key, objectBytes: encodeStoredObject(object), durable: false}],
  ]
  for (const [what, type, body] of offers) {
    const taken = await cluster.time.until(node.router(type, body, member), ringSettleMsMax).then(() => 'took it', refusedNotReady)
    if (taken !== undefined) return `${name}, restarted on its folder cut off from every member, was sent ${what} by ${member} and ${taken} instead of refusing it not_ready`
  }
  return undefined
}

/** What a change did: the members expected once it has settled, and the ring before it. */
export interface MembershipChangeResult {
  readonly kind: MembershipChangeKind
  readonly node: string
  readonly ringBefore: {readonly partitionCount: number; readonly members: readonly string[]; readonly owners: readonly string[]; readonly machines?: RingMachines} | undefined
  readonly expectedMembers: number
  /** A member removed after the change (lost during a join): the ring moved twice, so a joiner may have released copies since. */
  readonly removedAfter?: string
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
    const wrong = config.joinedAlone === true ? config.wrongAdvertise : undefined
    const node = wrong === undefined ? await cluster.addNode({alone: config.joinedAlone === true}) : await cluster.startAlone(wrong === 'at-join' ? unreachableAddressOf(cluster) : undefined)
    if (wrong !== undefined) {
      const failure = await joinWithWrongAdvertise(cluster, node, wrong, history)
      if (failure !== undefined) return {kind: 'join', node, ringBefore, expectedMembers: memberCount + 1, failure}
    }
    if (config.joinedAlone === true) {
      const failure = await changeThroughAnyNode(cluster, [node], {op: 'commit'}, history)
      if (failure !== undefined) return {kind: 'join', node, ringBefore, expectedMembers: memberCount + 1, failure: `the commit of ${node}'s join failed: ${failure}`}
    }
    if (config.memberLostAfterMs !== undefined) {
      const lost = await removeMemberLostDuringJoin(cluster, random, node, config.memberLostAfterMs, history, config.memberFoundAgain === true)
      // The ring ends with the joiner and without the lost member, or with both when it was found again.
      const expectedMembers = config.memberFoundAgain === true ? memberCount + 1 : memberCount
      return {kind: 'join', node, ringBefore, expectedMembers, ...(lost.node === undefined ? {} : {removedAfter: lost.node}), ...(lost.failure === undefined ? {} : {failure: lost.failure})}
    }
    if (config.joinerCrashAfterMs !== undefined) {
      await sleep(cluster.time, config.joinerCrashAfterMs)
      history.note(cluster.time.monotonicMs(), `the joining ${node} crashes during its transfers`)
      await cluster.crash(node)
      await sleep(cluster.time, config.joinerDownMs ?? 0)
      await cluster.restart(node, {wipe: false})
    }
    return {kind: 'join', node, ringBefore, expectedMembers: memberCount + 1}
  }
  const kind = config.kind
  const candidates = cluster.upNodes()
  const victim = candidates[random.int(candidates.length)]!
  history.note(cluster.time.monotonicMs(), `${config.kind} ${victim}`)
  const awayRpc = cluster.nodes.find((node) => node.name === victim)?.rpcAddress as string
  const othersRpc = cluster.nodes.filter((node) => node.name !== victim).map((node) => node.rpcAddress)
  if (config.kind === 'remove' && config.removedWhileAway === true) {
    // Cut off, still running; what it holds is given up with the removal, as a crashed node's disk is.
    history.note(cluster.time.monotonicMs(), `${victim} is cut off from every other node`)
    cluster.network.partition([awayRpc], othersRpc)
    history.loseDisk(victim)
    await sleep(cluster.time, config.downBeforeRemoveMs ?? 3000)
    if (config.awayOperatorRemovesOthers === true) {
      const failure = await removeOthersFromSmallSide(cluster, victim, awayRpc, othersRpc, history)
      if (failure !== undefined) return {kind: 'remove', node: victim, ringBefore, expectedMembers: memberCount - 1, failure}
    }
  } else if (config.kind === 'remove') {
    await loseForGood(cluster, victim, history)
    if (config.downBeforeRemoveMs !== undefined) await sleep(cluster.time, config.downBeforeRemoveMs)
  }
  const second = config.kind === 'leave' && config.secondLeave === true ? candidates.filter((name) => name !== victim)[random.int(candidates.length - 1)] : undefined
  if (second !== undefined) history.note(cluster.time.monotonicMs(), `leave ${second}, staged at the same moment through another node`)
  const leavers = second === undefined ? [victim] : [victim, second]
  const staged = await Promise.all(leavers.map((leaver, index) => changeThroughAnyNode(cluster, leavers, {op: 'stage', change: {kind, node: leaver}}, history, index)))
  const failure = staged.find((outcome) => outcome !== undefined) ?? (await changeThroughAnyNode(cluster, leavers, {op: 'commit'}, history))
  const changed = leavers.join(' ')
  if (failure !== undefined) return {kind: config.kind, node: changed, ringBefore, expectedMembers: memberCount, failure}
  // The claimant crashing in the middle of the transition, in the background: the leaver's exit
  // is awaited below meanwhile.
  const claimantCrash = config.claimantCrashAfterMs === undefined ? Promise.resolve() : crashClaimant(cluster, victim, config.claimantCrashAfterMs, config.claimantDownMs ?? 0, history)
  if (config.kind === 'leave' && config.leaverLostAfterMs !== undefined && !(await leaverExitsWithin(cluster, victim, config.leaverLostAfterMs))) {
    const failure = await removeLostLeaver(cluster, victim, history)
    await claimantCrash
    return {kind: 'leave', node: victim, ringBefore, expectedMembers: memberCount - 1, ...(failure === undefined ? {} : {failure})}
  }
  if (config.kind === 'leave') {
    // Each leaver exits only after it has handed off everything; then it never runs again.
    // A crash fault may take it down meanwhile: the fault schedule restarts it, and it goes on.
    const exits = await Promise.all(leavers.map((leaver) => leaverExits(cluster, leaver)))
    const stuck = leavers.filter((_, index) => !exits[index])
    if (stuck.length > 0) return {kind: 'leave', node: changed, ringBefore, expectedMembers: memberCount - leavers.length, failure: `${stuck.join(', ')} did not exit within ${ringSettleMsMax} ms of its leave`}
    for (const leaver of leavers) await cluster.depart(leaver)
  }
  await claimantCrash
  if (config.kind === 'remove' && config.removedWhileAway === true) {
    if (!(await cluster.settleRing(memberCount - 1, victim))) return {kind: 'remove', node: victim, ringBefore, expectedMembers: memberCount - 1, failure: `the removal of ${victim} did not settle within ${ringSettleMsMax} ms`}
    if (config.oldDiskAfterRemoval === true) {
      await cluster.crash(victim)
      if (config.restartAfterHeal !== true) {
        await cluster.restart(victim, {wipe: false})
        const taken = await unconfirmedWriteTaken(cluster, victim)
        if (taken !== undefined) return {kind: 'remove', node: victim, ringBefore, expectedMembers: memberCount - 1, failure: taken}
      }
    }
    // The fault schedule may have started it again meanwhile, while it was still cut off: then no
    // member could tell its start that it was removed, and it learns by gossip (regression seed
    // 1387, whose crash fault restarted it).
    const downAtHeal = !cluster.isUp(victim) && !cluster.isBooting(victim)
    history.note(cluster.time.monotonicMs(), `${victim}, removed, can reach the others again`)
    for (const other of othersRpc) {
      cluster.network.restore(awayRpc, other)
      cluster.network.restore(other, awayRpc)
    }
    if (config.oldDiskAfterRemoval === true && config.restartAfterHeal === true && downAtHeal) {
      await cluster.restart(victim, {wipe: false})
      if (cluster.isUp(victim)) return {kind: 'remove', node: victim, ringBefore, expectedMembers: memberCount - 1, failure: `${victim}, removed while away, started on its folder once it could reach the others, and served until gossip told it`}
    }
    // It must learn that it was removed and stop (membership.ts); one that does not is a failure.
    for (let waitedMs = 0; waitedMs < ringSettleMsMax && cluster.isUp(victim); waitedMs += 1000) await sleep(cluster.time, 1000)
    if (cluster.isUp(victim)) return {kind: 'remove', node: victim, ringBefore, expectedMembers: memberCount - 1, failure: `${victim} still runs ${ringSettleMsMax} ms after it could learn that it was removed`}
    // What it acknowledged alone while cut off went with it.
    history.loseDisk(victim, cluster.time.monotonicMs())
  }
  if (config.kind === 'remove' && config.joinAfter === true) {
    if (!(await cluster.settleRing(memberCount - 1))) return {kind: 'remove', node: victim, ringBefore, expectedMembers: memberCount - 1, failure: `the removal of ${victim} did not settle within ${ringSettleMsMax} ms`}
    const ringBetween = committedRing(cluster)
    const node = await cluster.addNode()
    history.note(cluster.time.monotonicMs(), `join ${node} after the removal of ${victim}`)
    // What is checked from here is the join: its ring before is the one the removal left.
    return {kind: 'join', node, ringBefore: ringBetween, expectedMembers: memberCount}
  }
  return {kind: config.kind, node: changed, ringBefore, expectedMembers: memberCount - leavers.length}
}

/** Where the next node to start would be told to advertise when its operator gets it wrong: nothing listens there. */
function unreachableAddressOf(cluster: SimCluster): string {
  return `n${cluster.nodes.length + 1}-elsewhere:7000`
}

/** Tries of `dyn cluster plan` (a second apart) for the plan to list a join that cannot be committed. */
const blockedPlanAttemptsMax = 30

/**
 * The wrong --advertise of a node started alone (MembershipChangeConfig.wrongAdvertise), up to
 * the point where it runs with the right one and its join is staged: undefined when the cluster
 * answered as it must, or what it did wrong. Faults may get in the way of any try: a try that
 * fails for them (a seed or a claimant down or cut off) is made again, a second later.
 */
async function joinWithWrongAdvertise(cluster: SimCluster, node: string, wrong: 'at-join' | 'before-commit', history: History): Promise<string | undefined> {
  if (wrong === 'at-join') {
    for (let attempt = 0; ; attempt += 1) {
      if (attempt === changeAttemptsMax) return `no dyn cluster join of ${node}, advertising an address no member reaches, was refused for it in ${changeAttemptsMax} tries`
      const joined = await cluster.tryJoinAlone(node, attempt)
      if (joined.ok) return `the join of ${node}, advertising an address no member reaches, was answered ok`
      if (joined.code === 'joiner_unreachable') break
      await sleep(cluster.time, 1000)
    }
    // Nothing staged: no member took a row of it.
    const holding = cluster.upNodes().filter((name) => name !== node && cluster.assembled(name)?.membership.table.members.some((member) => member.name === node) === true)
    if (holding.length > 0) return `the refused join of ${node} left its row on ${holding.join(', ')}`
    await cluster.restartAdvertising(node, undefined)
    await cluster.joinAlone(node)
    return undefined
  }
  await cluster.joinAlone(node)
  const address = `${node}-elsewhere:7000`
  await cluster.restartAdvertising(node, address)
  // The plan, through any member, lists the join as one a commit leaves out, with its code.
  let listed = false
  for (let attempt = 0; attempt < blockedPlanAttemptsMax && !listed; attempt += 1) {
    await sleep(cluster.time, 1000)
    const through = cluster.upNodes().filter((name) => name !== node)
    const member = cluster.assembled(through[attempt % Math.max(1, through.length)] ?? '')
    if (member === undefined) continue
    const plan = await cluster.time.until(member.service.clusterChange({op: 'plan'}), ringSettleMsMax).catch(() => undefined)
    const blocked = (plan as {blocked?: Array<{node: string; rpcAddress: string; error: string}>} | undefined)?.blocked ?? []
    listed = blocked.some((change) => change.node === node && change.rpcAddress === address && change.error === 'joiner_unreachable')
  }
  history.note(cluster.time.monotonicMs(), `the plan ${listed ? 'lists' : 'never listed'} the join of ${node} as one a commit leaves out`)
  if (!listed) return `no dyn cluster plan in ${blockedPlanAttemptsMax} tries listed the staged join of ${node}, which no member can reach at ${address}, as one a commit leaves out`
  // A commit now must not apply it: nothing else is staged, so it is refused.
  const through = cluster.upNodes().find((name) => name !== node)
  const committer = through === undefined ? undefined : cluster.assembled(through)
  if (committer !== undefined) {
    const outcome = await cluster.time.until(committer.service.clusterChange({op: 'commit'}), ringSettleMsMax).then(
      () => 'ok',
      (error: {code?: string}) => error.code ?? 'error',
    )
    history.note(cluster.time.monotonicMs(), `cluster commit via ${through} with the join of ${node} unreachable: ${outcome}`)
    if (outcome === 'ok') return `a commit with only the join of ${node}, which no member can reach at ${address}, staged was answered ok`
  }
  await cluster.restartAdvertising(node, undefined)
  return undefined
}

/** Whether `leaver` exits (its leave done) within `withinMs`: false as soon as that has passed. */
async function leaverExitsWithin(cluster: SimCluster, leaver: string, withinMs: number): Promise<boolean> {
  const leaving = cluster.assembled(leaver)
  const pause = sleep(cluster.time, withinMs).then(() => false)
  return leaving === undefined ? pause : Promise.race([leaving.left.then(() => true), pause])
}

/**
 * The leaver's machine is lost for good in the middle of its leave, and the operator removes it:
 * `dyn cluster remove` until the claimant takes it (refused while the claimant does not yet see
 * it down), then `dyn cluster commit`, which makes the ring change under way remove it. Either
 * is done once a running node's ring state has the removal staged or under way, or no longer
 * has the leaver and its row says it handed off or was removed. A leaver lost after its
 * partitions moved but before its release ended is removed at once, with no commit (campaign
 * seed 7219398170: its row never said it handed off, and no tombstone was reaped again).
 * Undefined once done.
 */
async function removeLostLeaver(cluster: SimCluster, leaver: string, history: History): Promise<string | undefined> {
  history.note(cluster.time.monotonicMs(), `${leaver}'s machine is lost for good during its leave`)
  await loseForGood(cluster, leaver, history)
  const table = (): MemberTable | undefined => cluster.upNodes().map((name) => cluster.assembled(name)?.membership.table).find((found) => found?.ring !== undefined)
  const state = (): RingState | undefined => table()?.ring
  const gone = (): boolean => {
    const known = table()
    const ring = known?.ring
    if (known === undefined || ring === undefined) return false
    return ring.next?.removing.includes(leaver) === true || (!ring.members.includes(leaver) && findMember(known, leaver)?.handedOff === true)
  }
  const staged = (): boolean => gone() || state()?.staged.some((change) => change.kind === 'remove' && change.node === leaver) === true
  // Some running node still has the leaver leaving in a ring change (not removed by it).
  const stillLeaving = (): boolean => cluster.upNodes().some((name) => {
    const ring = cluster.assembled(name)?.membership.table.ring
    return ring !== undefined && isLeaving(ring, leaver)
  })
  for (let round = 0; ; round += 1) {
    const stage = await changeThroughAnyNode(cluster, [leaver], {op: 'stage', change: {kind: 'remove', node: leaver}}, history, 0, staged)
    if (stage !== undefined) return `the removal of ${leaver}, lost while leaving, could not be staged: ${stage}`
    const commit = await changeThroughAnyNode(cluster, [leaver], {op: 'commit'}, history, 0, gone)
    if (commit !== undefined) return `the removal of ${leaver}, lost while leaving, could not be committed: ${commit}`
    // A removal answered ok can still be undone: when the leaver was the claimant, its commit of
    // the leave may live only on a member that was down when a new claimant committed the
    // removal at the same ring version, and the merge keeps the lost claimant's (campaign seed
    // 14981797533). dyn cluster status then says "waiting: n1 down (... dyn cluster remove n1)",
    // and the operator removes it again, as the harness does here.
    await sleep(cluster.time, lostLeaverSettleMs)
    if (!stillLeaving()) return undefined
    if (round + 1 === lostLeaverRemovalRoundsMax) return `${leaver}, lost while leaving, was still leaving after ${lostLeaverRemovalRoundsMax} removals`
    history.note(cluster.time.monotonicMs(), `${leaver} is still leaving in the ring change under way: removed again, as dyn cluster status says`)
  }
}

/**
 * A member that stays in the ring is lost for good while `joiner` joins (its machine and disk):
 * the operator stages its removal once the claimant takes it, and commits until the removal is
 * under way or done. A commit is refused while the join's transition runs (ring_in_transition),
 * which no longer waits for the lost member once its removal is staged (transfer.ts, givenUp), so
 * the tries go on until the join is installed and the removal committed. Undefined once done.
 */
async function removeMemberLostDuringJoin(cluster: SimCluster, random: Random, joiner: string, afterMs: number, history: History, foundAgain: boolean): Promise<{node?: string; failure?: string}> {
  // From the join's commit, so that most runs lose the member while the join's transfers run
  // (they take a second or two here), and some after they ended.
  const committed = (): boolean => cluster.upNodes().some((name) => {
    const ring = cluster.assembled(name)?.membership.table.ring
    return ring?.next?.members.includes(joiner) === true || ring?.members.includes(joiner) === true
  })
  for (let waitedMs = 0; waitedMs < joinCommitWaitMsMax && !committed(); waitedMs += 50) await sleep(cluster.time, 50)
  await sleep(cluster.time, afterMs)
  const ring = committedRing(cluster)
  // The joiner itself in some runs: lost in the middle of its own join, it is removed as the others are.
  const candidates = [...cluster.upNodes().filter((name) => name !== joiner && ring?.members.includes(name) === true), ...(cluster.isUp(joiner) ? [joiner] : [])]
  const lost = candidates[random.int(Math.max(1, candidates.length))]
  if (lost === undefined) return {failure: `no member but ${joiner} ran to be lost during its join`}
  const running = cluster.upNodes().some((name) => cluster.assembled(name)?.membership.table.ring?.next !== undefined)
  const how = foundAgain ? 'stops (its disk intact; taken for lost)' : 'is lost for good'
  history.note(cluster.time.monotonicMs(), `${lost}'s machine ${how} during the join of ${joiner}${running ? ', its transfers under way' : ''}`)
  if (foundAgain) await cluster.crash(lost)
  else await loseForGood(cluster, lost, history)
  // The newest decision any running node holds: one that has not heard of the join yet would
  // say the lost joiner is in no ring, and the removal would never be staged.
  const state = (): RingState | undefined =>
    cluster
      .upNodes()
      .map((name) => cluster.assembled(name)?.membership.table.ring)
      .reduce<RingState | undefined>((newest, ring) => (ring !== undefined && (newest === undefined || ring.version > newest.version) ? ring : newest), undefined)
  const staged = (): boolean => {
    const ring = state()
    const inRing = ring !== undefined && (ring.members.includes(lost) || ring.next?.members.includes(lost) === true)
    return ring !== undefined && (ring.staged.some((change) => change.kind === 'remove' && change.node === lost) || ring.next?.removing.includes(lost) === true || !inRing)
  }
  const removed = (): boolean => {
    const ring = state()
    return ring !== undefined && (ring.next?.removing.includes(lost) === true || (ring.next === undefined && !ring.members.includes(lost)))
  }
  const stage = await changeThroughAnyNode(cluster, [lost, joiner], {op: 'stage', change: {kind: 'remove', node: lost}}, history, 0, staged)
  if (stage !== undefined) return {node: lost, failure: `the removal of ${lost}, lost during the join of ${joiner}, could not be staged: ${stage}`}
  if (foundAgain) return findAgain(cluster, lost, joiner, history, state)
  // The join's transition has to end before the removal can be committed: up to a settle's worth of tries.
  for (let waitedMs = 0; ; waitedMs += changeAttemptsMax * 1000) {
    const commit = await changeThroughAnyNode(cluster, [lost, joiner], {op: 'commit'}, history, 0, removed)
    if (commit === undefined) return {node: lost}
    if (waitedMs >= ringSettleMsMax) return {node: lost, failure: `the removal of ${lost}, lost during the join of ${joiner}, could not be committed: ${commit}`}
  }
}

/**
 * A member taken for lost during a join comes back: once the join's change has ended without it
 * (its removal staged, so it was given up), it restarts on its disk and the operator clears the
 * staged removal. Nothing was committed, so it stays a member.
 */
async function findAgain(cluster: SimCluster, lost: string, joiner: string, history: History, state: () => RingState | undefined): Promise<{failure?: string}> {
  const ended = (): boolean => {
    const ring = state()
    return ring !== undefined && ring.next === undefined && ring.members.includes(joiner)
  }
  for (let waitedMs = 0; waitedMs < ringSettleMsMax && !ended(); waitedMs += 1000) await sleep(cluster.time, 1000)
  if (!ended()) return {failure: `the join of ${joiner} did not end without ${lost}, whose removal was staged while it was down`}
  history.note(cluster.time.monotonicMs(), `${lost}'s machine was not lost after all: it restarts on its disk, and its removal is cleared`)
  await cluster.restart(lost, {wipe: false})
  const cleared = (): boolean => state()?.staged.some((change) => change.kind === 'remove' && change.node === lost) !== true
  const clear = await changeThroughAnyNode(cluster, [lost], {op: 'clear'}, history, 0, cleared)
  return clear === undefined ? {} : {failure: `the staged removal of ${lost}, found again, could not be cleared: ${clear}`}
}

/**
 * The operator of a node cut off alone removes the members it cannot reach, through it: each
 * stage, and a commit, must be refused no_majority, and its ring must not move. A decision there
 * would raise its version above the large side's, and win at the heal (or, committed, stop the
 * large side once it heard of it). Undefined when every decision was refused; otherwise why not.
 */
async function removeOthersFromSmallSide(cluster: SimCluster, away: string, awayRpc: string, othersRpc: readonly string[], history: History): Promise<string | undefined> {
  const node = cluster.assembled(away)
  if (node === undefined) return undefined
  const before = node.membership.table.ring?.version
  const others = (node.membership.table.ring?.members ?? []).filter((name) => name !== away)
  const requests: ClusterChangeRequest[] = [...others.map((name): ClusterChangeRequest => ({op: 'stage', change: {kind: 'remove', node: name}})), {op: 'commit'}, {op: 'clear'}]
  // A fault's heal restores every link, the cut-off node's too: then it is no small side any more.
  // It is cut off again first (a heal during the wait before is common), for the failure detector
  // to see the others down.
  const cutOff = (): boolean => othersRpc.every((other) => cluster.network.isCut(awayRpc, other) && cluster.network.isCut(other, awayRpc))
  if (!cutOff()) {
    cluster.network.partition([awayRpc], othersRpc)
    history.note(cluster.time.monotonicMs(), `${away} is cut off again (a fault healed it meanwhile)`)
    await sleep(cluster.time, awayOperatorWaitMs)
  }
  for (const request of requests) {
    if (!cutOff()) {
      history.note(cluster.time.monotonicMs(), `${away} is no longer cut off (a fault healed): its operator stops`)
      return undefined
    }
    const what = request.op === 'stage' ? `the removal of ${request.change.node}` : `a ${request.op}`
    // Asked of the node running now: a fault may have crashed the one found above and restarted it
    // (a call into a crashed incarnation never ends: simulator seed 54,092,296,087 waited 120 s on
    // one), and a call must end as a reset connection if it crashes meanwhile.
    const current = cluster.assembled(away)
    if (current === undefined) {
      history.note(cluster.time.monotonicMs(), `${away} is down (a fault crashed it): its operator stops`)
      return undefined
    }
    try {
      const answered = await cluster.time.until(Promise.race([current.service.clusterChange(request), cluster.crashOf(away)]), ringSettleMsMax)
      if (answered === crashed) {
        history.note(cluster.time.monotonicMs(), `${away} crashed under a cluster ${request.op}: its operator stops`)
        return undefined
      }
      // Healed meanwhile by a fault: the others answered, and the decision was a majority's.
      if (!cutOff()) return undefined
      return `${away}, cut off alone, decided ${what} (no majority of the ring was reachable)`
    } catch (error) {
      const code = (error as {code?: string}).code
      history.note(cluster.time.monotonicMs(), `cluster ${request.op} via ${away}, cut off: ${code ?? 'error'}`)
      // Unreachable is a refusal too (the claimant it believes in is on the other side); only no_majority is asked of it.
      if (code !== 'no_majority' && code !== 'unreachable') return `${away}, cut off alone, refused ${what} with ${code ?? String(error)}, not no_majority`
    }
  }
  const after = (cluster.assembled(away) ?? node).membership.table.ring?.version
  // Its ring may move by gossip once a fault healed the cut; only a move while cut off is its own decision.
  return after === before || !cutOff() ? undefined : `${away}'s ring moved from version ${before} to ${after} while every decision there was refused`
}

/** How long a node cut off again waits before its operator acts: the failure detector sees the others down by then. */
const awayOperatorWaitMs = 3000

/** A node's machine lost for good: it crashes and its disk is lost with it, so only writes on W >= 2 replicas must survive. */
async function loseForGood(cluster: SimCluster, name: string, history: History): Promise<void> {
  await cluster.crash(name)
  history.loseDisk(name)
  await cluster.depart(name)
}

/** How long the harness waits for a join's commit before it loses a member anyway. */
const joinCommitWaitMsMax = 10_000

/** How long the harness waits after a lost leaver's removal before checking that it held. */
const lostLeaverSettleMs = 10_000
/** Removals of a lost leaver before the run reports the change as failed. */
const lostLeaverRemovalRoundsMax = 5

/** Whether `leaver` exits (its leave done) within ringSettleMsMax. */
async function leaverExits(cluster: SimCluster, leaver: string): Promise<boolean> {
  for (let waitedMs = 0; waitedMs < ringSettleMsMax; waitedMs += 1000) {
    const leaving = cluster.assembled(leaver)
    const pause = sleep(cluster.time, 1000).then(() => false)
    if (await (leaving === undefined ? pause : Promise.race([leaving.left.then(() => true), pause]))) return true
  }
  return false
}

/** Crashes the member the others take for claimant (the lowest name running, not the victim) after `afterMs`, and restarts it `downMs` later. */
async function crashClaimant(cluster: SimCluster, victim: string, afterMs: number, downMs: number, history: History): Promise<void> {
  await sleep(cluster.time, afterMs)
  const claimant = cluster
    .upNodes()
    .filter((name) => name !== victim)
    .sort(compareNames)[0]
  if (claimant === undefined) return
  history.note(cluster.time.monotonicMs(), `the claimant ${claimant} crashes during the transition`)
  await cluster.crash(claimant)
  await sleep(cluster.time, downMs)
  await cluster.restart(claimant, {wipe: false})
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
  return ring === undefined ? undefined : {partitionCount: anyRunning!.membership.ring.partitionCount, members: ring.members, owners: ring.owners, ...(ring.machines === undefined ? {} : {machines: ring.machines})}
}

/**
 * Asks running nodes other than `victim` in turn; undefined once one accepted (or it was already
 * done). `done`, when given, says that it was (an earlier try's answer lost), and is what a
 * refusal is judged by, in place of the codes that mean it for a plain change.
 */
async function changeThroughAnyNode(cluster: SimCluster, changed: readonly string[], request: ClusterChangeRequest, history: History, firstThrough = 0, done?: () => boolean): Promise<string | undefined> {
  let last = 'no node running'
  for (let attempt = 0; attempt < changeAttemptsMax; attempt += 1) {
    if (done?.() === true) return undefined
    const through = cluster.upNodes().filter((name) => !changed.includes(name))
    const name = through[(attempt + firstThrough) % Math.max(1, through.length)]
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
        // A stage that is already there (or already committed), or a commit of nothing left to commit, was done by an earlier try.
        if (done === undefined && request.op === 'stage' && (code === 'already_leaving' || code === 'already_left')) return undefined
        if (done === undefined && request.op === 'commit' && code === 'nothing_staged') return undefined
        if (code === 'bad_parameter') return last
      }
    }
    await sleep(cluster.time, 1000)
  }
  return last
}
