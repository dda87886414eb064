/**
 * The claimant's decisions, pure (Riak's claimant; paper §4.9): the ring state that gossip
 * carries, how a change is staged, planned and committed, when a transition is complete, and
 * how two states merge.
 *
 * One node at a time decides the ring: the claimant, the lowest-named committed member this
 * node believes up. Every decision raises the state's version, so gossip spreads the newest
 * one; should two nodes both act as claimant for a moment (a partition), their states carry
 * the same version and the lower claimant name wins everywhere, so every node still ends on
 * one ring. Commits are refused while a transition is under way, so a decided transition is
 * never replaced by another before its data has moved.
 */

import {claimOwnersFrom, compareNames, spreadMachines} from '../ring/claim.js'
import type {MachineOf, Ring} from '../ring/ring.js'
import {ringFromOwners} from '../ring/ring.js'
import {namePattern} from './names.js'

/**
 * The machine of each ring member that shares one with other members (one process per core):
 * name -> machine, in name order, holding only members whose machine is not their own name.
 * Part of the ring state so that every node builds the same preference lists from it alone.
 */
export type RingMachines = Readonly<Record<string, string>>

/** The machine a ring state records for `name` (undefined: a machine of its own). */
export function machineIn(machines: RingMachines | undefined, name: string): string | undefined {
  return machines !== undefined && Object.hasOwn(machines, name) ? machines[name] : undefined
}

/** The ring of a ring state or a transition: its members and owners, on the machines it records. */
export function ringOfState(partitionCount: number, shape: {readonly members: readonly string[]; readonly owners: readonly string[]; readonly machines?: RingMachines}): Ring {
  return ringFromOwners(partitionCount, shape.members, shape.owners, (name) => machineIn(shape.machines, name))
}

/** The record of `members`' machines (sorted by name, own-name machines left out), or undefined when none is shared. */
export function machinesOf(members: readonly string[], machineOf: MachineOf): RingMachines | undefined {
  const entries: Array<[string, string]> = []
  for (const name of [...members].sort(compareNames)) {
    const machine = machineOf(name)
    if (machine !== undefined && machine !== name) entries.push([name, machine])
  }
  return entries.length === 0 ? undefined : Object.fromEntries(entries)
}

/** A leave or removal staged by an operator; `stagedAt` is the version of the decision that staged it (absent in states from before it existed). */
export type StagedChange = {readonly kind: 'leave' | 'remove'; readonly node: string; readonly stagedAt?: number}

export interface RingTransition {
  /** Names this transition (the version that committed it and its claimant), for the members' progress rows. */
  readonly id: string
  /** The members and owners the ring moves to. */
  readonly members: readonly string[]
  readonly owners: readonly string[]
  /** Their machines, where shared (see RingMachines). */
  readonly machines?: RingMachines
  /** Members this transition removes for good: their copies are no source. */
  readonly removing: readonly string[]
}

export interface RingState {
  /** Raised by every decision of a claimant. */
  readonly version: number
  /** The member that decided this version. */
  readonly claimant: string
  /** The committed ring: every request routes by it. */
  readonly members: readonly string[]
  readonly owners: readonly string[]
  /** The committed members' machines, where shared (see RingMachines). */
  readonly machines?: RingMachines
  /** The ring being moved to, while its transfers run; writes also reach its new homes. */
  readonly next?: RingTransition
  /** Changes staged and not yet committed (joins are the members whose rows say joining). */
  readonly staged: readonly StagedChange[]
  /**
   * The version of a decision that only staged a change (stageChange): such a state's own
   * version when it is one. A decision that moved the ring or cleared (a commit, an install, a
   * clear) is made at a higher version, so the mark left on it, if any, is stale and means
   * nothing (and a node that copies the field along unread cannot make it mean anything). At one
   * version, such a decision wins over a staging one whatever the claimants' names, and takes
   * the staged change in (mergeRingStates).
   */
  readonly stagingAt?: number
}

/**
 * Why a claimant that reaches only some of the committed ring's members may not decide a
 * membership change (a stage, a clear, a commit), or undefined when it may: it must reach a
 * strict majority of them, itself included, so that of the two sides of a network partition at
 * most one can change the ring. A minority that removed the members it could not reach made them
 * stop once the partition healed, and every write the majority had acknowledged meanwhile was
 * lost (a new user's walk, 2 of 3 and 2 of 4 cut off). `isUp` answers for the claimant itself too
 * (the claimant counts the members that answered the decision's exchanges, claimant.ts).
 */
export function majorityShortfall(state: RingState, isUp: (name: string) => boolean): {readonly up: readonly string[]; readonly down: readonly string[]; readonly needed: number} | undefined {
  const up = state.members.filter(isUp)
  const needed = Math.floor(state.members.length / 2) + 1
  if (up.length >= needed) return undefined
  return {up, down: state.members.filter((name) => !up.includes(name)), needed}
}

/** Whether `state` is a decision that only staged a change (its mark is its own version). */
export function isStagingDecision(state: RingState): boolean {
  return state.stagingAt === state.version
}

/** A state as the base of a decision that is not a stage: the stale mark is not carried on. */
function withoutStagingMark(state: RingState): RingState {
  if (state.stagingAt === undefined) return state
  const {stagingAt: _stagingAt, ...rest} = state
  return rest
}

export type ClaimantFailure = {
  readonly ok: false
  readonly error: 'bad_parameter' | 'ring_in_transition' | 'nothing_staged' | 'unreachable' | 'already_leaving' | 'already_left' | 'joiner_unreachable'
  readonly message: string
}

/**
 * A staged change that a commit would leave out, with why and what to do: a join of a node the
 * claimant cannot reach at the internode address it advertises (a node stopped before its
 * commit, or one started with an --advertise that leads nowhere). Giving it partitions would
 * start a transition whose transfers to it could never finish, so a commit does not; `dyn
 * cluster plan` shows it rather than saying that nothing is staged, which left a new user not
 * knowing whether the join had happened at all.
 */
export interface BlockedChange {
  readonly kind: 'join'
  readonly node: string
  /** The internode address the node advertises, where the claimant fails to reach it. */
  readonly rpcAddress: string
  readonly error: 'joiner_unreachable'
  readonly message: string
}

/** The staged join of `node`, which `claimant` cannot reach at `rpcAddress` (`why`), as the plan lists it. */
export function blockedJoin(claimant: string, node: string, rpcAddress: string, why: string): BlockedChange {
  return {
    kind: 'join',
    node,
    rpcAddress,
    error: 'joiner_unreachable',
    message:
      `${claimant}, the claimant, cannot reach ${node} at ${rpcAddress}, the internode address ${node} advertises (${why}), so a commit leaves its join out. ` +
      `If ${node} is stopped, start it again; if it runs, restart it with --advertise set to an address the members can connect to (on the same --data folder, so that its join stays staged); then dyn cluster commit. ` +
      `To give the join up instead: stop ${node}, then dyn cluster remove ${node}`,
  }
}

/** "the join of n2 is" or "the joins of n2, n3 are": the blocked joins named in a sentence. */
function blockedJoinsNamed(blocked: readonly BlockedChange[]): string {
  return `the join${blocked.length === 1 ? '' : 's'} of ${blocked.map((change) => change.node).join(', ')} ${blocked.length === 1 ? 'is' : 'are'}`
}

/**
 * What the plan says when the blocked joins are all that is staged: a commit would be refused,
 * not "no change is staged" (the plan's general note), which is what a new user was told.
 */
export function blockedOnlyNote(blocked: readonly BlockedChange[]): string {
  return `a commit now would be refused (joiner_unreachable): ${blockedJoinsNamed(blocked)} all that is staged, and the claimant cannot reach ${blocked.length === 1 ? 'it' : 'them'}`
}

/** The refusal of a commit that finds nothing staged but joins of nodes the claimant cannot reach. */
export function blockedJoinsFailure(blocked: readonly BlockedChange[]): ClaimantFailure {
  return {ok: false, error: 'joiner_unreachable', message: `nothing was committed: ${blockedJoinsNamed(blocked)} all that is staged. ${blocked.map((change) => change.message).join('. ')}`}
}

/** How many consecutive partitions spreadMachines keeps on distinct machines when the caller does not say: the usual N. */
export const spreadWindowDefault = 3

/** The ring state of a cluster of one, its creator. */
export function initialRingState(partitionCount: number, self: string, machine?: string): RingState {
  const machines = machinesOf([self], () => machine)
  return {version: 1, claimant: self, members: [self], owners: Array.from({length: partitionCount}, () => self), ...(machines === undefined ? {} : {machines}), staged: []}
}

/** The claimant as this node sees it: the lowest-named committed member it believes up. */
export function claimantOf(state: RingState, isUp: (name: string) => boolean): string | undefined {
  const removing = new Set(state.next?.removing ?? [])
  return [...state.members].sort(compareNames).find((name) => isUp(name) && !removing.has(name))
}

/**
 * Whether the claimant may decide now. Before each decision it asks every member it believes up
 * for its ring state (`asked`) and merges the answers (`answered`): a node that restarts on its
 * stored state, or that was cut off, may believe itself claimant while another member, which
 * it did not see, decided meanwhile (riak_core's claimant acts only on a ring every member has
 * seen). Deciding on the older state would answer nothing_staged for a change that is staged,
 * or, at the same version, replace that decision for good (the lower claimant name wins the
 * merge). So it decides only once every member it asked has answered; one that is really down
 * is soon seen down by the failure detector and no longer asked. A stage (`staging`) whose own
 * node is the silent one is told so in its own words (silentChangedNode).
 */
export function unconfirmedRingState(asked: readonly string[], answered: ReadonlySet<string>, staging?: {readonly claimant: string; readonly change: StagedChange; readonly leaving?: boolean}): ClaimantFailure | undefined {
  const silent = asked.filter((name) => !answered.has(name))
  if (silent.length === 0) return undefined
  const node = staging?.change.node
  if (staging !== undefined && node !== undefined && silent.includes(node)) return silentChangedNode(staging.claimant, staging.change, silent, staging.leaving === true)
  return {ok: false, error: 'unreachable', message: `the claimant could not fetch the ring state of ${silent.join(', ')}, which may hold a newer decision; retry (a member that is down is skipped once it is seen down)`}
}

/**
 * The node to leave or be removed is itself the silent one: typically a node just stopped, which
 * the claimant's failure detector still counts as up until its silence has lasted long enough
 * (failure-detector.ts: about 4 s with the defaults). Said as that, with what to do: the generic
 * "could not fetch the ring state of n3, which may hold a newer decision" left an operator who had
 * just killed n3 with no idea what was going on.
 */
function silentChangedNode(claimant: string, change: StagedChange, silent: readonly string[], leaving: boolean): ClaimantFailure {
  const {node} = change
  const others = silent.filter((name) => name !== node)
  const alsoSilent = others.length === 0 ? '' : ` (${others.join(', ')} did not answer either)`
  // A node that is already leaving needs no leave: if it runs, it finishes the one under way.
  const what =
    change.kind === 'remove' && leaving
      ? `${node} is leaving: if it is still running (paused, slow or cut off), it finishes its leave by itself once it answers again; if its machine is lost for good, retry in a few seconds, once dyn cluster status shows it down`
      : change.kind === 'remove'
      ? `If ${node} is gone for good, retry in a few seconds, once dyn cluster status shows it down; if it is still running (paused, slow or cut off), dyn cluster leave --name ${node} hands its data off instead of dropping it`
      : `Retry in a few seconds; a leave needs ${node} running to hand its data off, so if it is gone for good, remove it instead (dyn cluster remove ${node}) once dyn cluster status shows it down`
  return {
    ok: false,
    error: 'unreachable',
    message: `${node} did not answer the claimant ${claimant}${alsoSilent}, whose failure detector has not yet decided that ${node} is down (it does within a few seconds of the last answer): nothing was staged, since ${node} may be running and hold a newer ring decision. ${what}`,
  }
}

/** How a member that is no longer in the ring went: it left (a leave), or the claimant removed it. */
export type Departure = 'left' | 'removed'

/**
 * Whether `node` is leaving in the transition under way: the committed ring has it, the ring
 * being moved to does not, and the transition does not remove it (it hands its partitions off
 * itself, and exits once it has).
 */
export function isLeaving(state: RingState, node: string): boolean {
  const next = state.next
  return next !== undefined && state.members.includes(node) && !next.members.includes(node) && !next.removing.includes(node)
}

/** The staged removals of members leaving in the transition under way: a commit now makes the transition remove them (takeOverLeavers). */
export function stagedLeaverRemovals(state: RingState): string[] {
  return state.staged.filter((change) => change.kind === 'remove' && isLeaving(state, change.node)).map((change) => change.node)
}

/**
 * Stage a leave or a remove; checked against the committed ring, so bad input changes nothing.
 * A member already on its way out is not staged again, and is told apart from one that never
 * was a member: a change of it already staged, or the transition under way moving it out, is
 * `already_leaving`; a member that has left (`departed` says how, from its row) is
 * `already_left`. A second stage of a committed leave used to be taken, and then silently
 * dropped by the next merge (mergeRingStates keeps no change of a member the transition moves out).
 */
export function stageChange(
  state: RingState,
  change: StagedChange,
  claimant: string,
  departed: (name: string) => Departure | undefined = () => undefined,
  isDown: (name: string) => boolean = () => false,
): {ok: true; state: RingState} | ClaimantFailure {
  const staged = state.staged.find((existing) => existing.node === change.node)
  if (staged !== undefined) {
    const instead = staged.kind === change.kind ? '' : `; to ${change.kind === 'leave' ? 'make it leave' : 'remove it'} instead, drop the staged ${staged.kind} with dyn cluster clear first`
    // During a ring change a commit takes only leavers' removals (takeOverLeavers): anything
    // else staged is committed once the change has finished, and "apply it with dyn cluster
    // commit" would send the operator to a refusal.
    const apply =
      state.next === undefined || stagedLeaverRemovals(state).includes(change.node)
        ? 'apply it with dyn cluster commit (dyn cluster plan shows what moves)'
        : `commit it with dyn cluster commit once the ring change ${state.next.id} has finished moving data (dyn cluster status shows its transfers)`
    return {ok: false, error: 'already_leaving', message: `the ${staged.kind === 'leave' ? 'leave' : 'removal'} of ${change.node} is already staged, not yet committed: ${apply}${instead}`}
  }
  const next = state.next
  if (change.kind === 'remove' && isLeaving(state, change.node)) {
    // A leaver whose machine is lost would hold its ring change up for ever: every new home of
    // its partitions waits for its copy and its hints. Its removal replaces the leave (as
    // riak-admin cluster force-remove does), and the new homes take its partitions from the
    // surviving replicas. Only while the claimant sees it down: a leaver that runs hands off
    // everything it holds and exits by itself, while a removal gives up what only it holds (a
    // write it alone acknowledged, the hints it keeps), so removing a running leaver could only
    // lose data. A leaver that is merely cut off is safe either way: once removed, it learns so
    // as soon as it reaches the others again, and stops without handing anything off (membership.ts).
    if (!isDown(change.node)) return {ok: false, error: 'already_leaving', message: leaverUpMessage(change.node, claimant, next?.id ?? '?')}
  } else if (state.members.includes(change.node) && next !== undefined && !next.members.includes(change.node)) {
    const how = next.removing.includes(change.node) ? `is already being removed: the ring change under way (${next.id}) gives its partitions to new homes, which fetch them from the other replicas` : `is already leaving: the ring change under way (${next.id}) copies its partitions to their new homes, and it exits once it has handed them off`
    return {ok: false, error: 'already_leaving', message: `${change.node} ${how}; nothing new was staged. dyn cluster status shows the transfers`}
  }
  // A joiner of the change under way is a member to be: its leave or removal is staged for the
  // ring that change installs. A joiner lost for good in the middle of its join would otherwise
  // hold the change up for ever with no command to take it out (a new user's walk: "n11 is not a
  // member of the ring" while the status listed it in the change); its removal staged, the change
  // no longer waits for it while it is down (transfer.ts and claimant.ts, givenUp).
  const joiningNow = next?.members.includes(change.node) === true && !state.members.includes(change.node)
  if (!state.members.includes(change.node) && !joiningNow) {
    // In neither ring: one that left says so (a joiner of the change under way is joiningNow).
    const departure = departed(change.node)
    if (departure !== undefined) {
      const how = departure === 'removed' ? 'it was removed' : 'it handed its partitions off and left'
      return {ok: false, error: 'already_left', message: `${change.node} has already left the cluster (${how}); nothing was staged. dyn cluster status lists it as left`}
    }
    return {ok: false, error: 'bad_parameter', message: `${change.node} is not a member of the ring (members: ${state.members.join(', ')}); see dyn cluster status`}
  }
  const remaining = state.members.filter((name) => name !== change.node && !state.staged.some((other) => other.node === name))
  if (remaining.length === 0) return {ok: false, error: 'bad_parameter', message: 'the last member cannot leave or be removed; stop the cluster instead'}
  const version = state.version + 1
  return {ok: true, state: {...state, version, claimant, staged: [...state.staged, {kind: change.kind, node: change.node, stagedAt: version}], stagingAt: version}}
}

/** The refusal of a removal of a leaving member that the claimant does not see down: see stageChange. */
function leaverUpMessage(node: string, claimant: string, transition: string): string {
  return (
    `${node} is already leaving (the ring change ${transition} under way copies its partitions to their new homes, and it exits once it has handed them off), ` +
    `and the claimant ${claimant} does not see it down; nothing was staged. While it runs, let it finish: a removal would give up what only ${node} holds. ` +
    `If its machine is lost for good, make sure it is stopped, then retry once dyn cluster status shows it down: its removal then replaces the leave, and the new homes take its partitions from the surviving replicas`
  )
}

/**
 * Drop every staged change (riak-admin cluster clear). With nothing staged the state is
 * returned as it is: a new version would change nothing but the ring's version and hash, which
 * every node would gossip and log as a ring change, where an operator expects a clear of nothing
 * to be a no-op.
 */
export function clearStaged(state: RingState, claimant: string): RingState {
  if (state.staged.length === 0) return state
  return {...withoutStagingMark(state), version: state.version + 1, claimant, staged: []}
}

/**
 * The transition that committing now would start: the staged changes plus the joining members.
 * `machineOf` tells the joiners' machines (from their rows); members already in the ring keep
 * the machine the ring state records.
 */
export function planTransition(
  state: RingState,
  partitionCount: number,
  joining: readonly string[],
  machineOf?: MachineOf,
  spreadWindow = spreadWindowDefault,
): {ok: true; transition: Omit<RingTransition, 'id'>; joins: string[]} | ClaimantFailure {
  if (state.next !== undefined) return takeOverLeavers(state, state.next)
  const joins = joining.filter((name) => !state.members.includes(name)).sort(compareNames)
  if (joins.length === 0 && state.staged.length === 0) return {ok: false, error: 'nothing_staged', message: 'no change is staged: start a node with --seeds, or run dyn cluster join, leave or remove first'}
  const departing = new Set(state.staged.map((change) => change.node))
  const members = [...state.members.filter((name) => !departing.has(name)), ...joins].sort(compareNames)
  const claimed = claimOwnersFrom(partitionCount, state.owners, members)
  const removing = state.staged.filter((change) => change.kind === 'remove').map((change) => change.node)
  const machines = machinesOf(members, (name) => (state.members.includes(name) ? machineIn(state.machines, name) : machineOf?.(name)))
  // Members that share machines: each machine's partitions are spread apart, so that the
  // preference lists seldom skip an owner and home replicas stay balanced (claim.ts).
  const owners =
    machines === undefined
      ? claimed
      : spreadMachines(claimed, (name) => machineIn(machines, name) ?? name, spreadWindow, new Set(claimed.flatMap((owner, partition) => (owner === state.owners[partition] ? [] : [partition]))))
  return {ok: true, transition: {members, owners, ...(machines === undefined ? {} : {machines}), removing}, joins}
}

/**
 * What a commit during a transition may do: make it remove the leavers whose removal is staged
 * (stageChange takes one only while the claimant sees it down). The transition keeps its id, its
 * members and its owners; only its sources change, since a removed member is no source and keeps
 * no hints anyone fetches, so the partitions already received stay received, and the others are
 * taken from the surviving replicas. Anything else staged waits for the transition to end, as
 * every commit during one did (a decided transition is never replaced before its data has moved).
 */
function takeOverLeavers(state: RingState, next: RingTransition): {ok: true; transition: Omit<RingTransition, 'id'>; joins: string[]} | ClaimantFailure {
  const leavers = stagedLeaverRemovals(state)
  if (leavers.length === 0) {
    // A staying member's removal waits for the transition to end, which it no longer holds up
    // once that member is down (transfer.ts, givenUp): said so, since the operator's likely next
    // question is whether the removal did anything.
    const removals = state.staged.filter((change) => change.kind === 'remove' && next.members.includes(change.node)).map((change) => change.node)
    const waiting =
      removals.length === 0
        ? ''
        : `. The removal of ${removals.join(', ')} stays staged: the transfers under way go on without ${removals.length === 1 ? 'it' : 'them'} while ${removals.length === 1 ? 'it is' : 'they are'} down, and a commit once they are done removes ${removals.length === 1 ? 'it' : 'them'}`
    return {ok: false, error: 'ring_in_transition', message: `the ring change ${next.id} is still moving data; wait until dyn cluster status shows no transfers${waiting}`}
  }
  const {id: _id, ...transition} = next
  return {ok: true, transition: {...transition, removing: [...next.removing, ...leavers].sort(compareNames)}, joins: []}
}

/** Commit the planned transition: the ring moves to it once every transfer is done. */
export function commitTransition(
  state: RingState,
  partitionCount: number,
  joining: readonly string[],
  claimant: string,
  machineOf?: MachineOf,
  spreadWindow = spreadWindowDefault,
): {ok: true; state: RingState} | ClaimantFailure {
  const planned = planTransition(state, partitionCount, joining, machineOf, spreadWindow)
  if (!planned.ok) return planned
  const version = state.version + 1
  const running = state.next
  if (running !== undefined) {
    // The removal of a leaver amends the transition under way (takeOverLeavers), which keeps its
    // id: the members' rows report what they received under it, and that stays true.
    const removed = new Set(planned.transition.removing)
    return {ok: true, state: {...withoutStagingMark(state), version, claimant, next: {...planned.transition, id: running.id}, staged: state.staged.filter((change) => !removed.has(change.node))}}
  }
  return {ok: true, state: {...withoutStagingMark(state), version, claimant, next: {...planned.transition, id: `${version}.${claimant}`}, staged: []}}
}

/** The transition made the committed ring; called by the claimant once every transfer is done. */
/**
 * The removals staged of members that the transition under way takes out of the ring: installing
 * it drops them from the staged changes (installTransition). Such a member is a leaver whose
 * removal was staged while it was down; if it is still down at the install, its leave moved its
 * partitions but it never said that it handed off its last copies, so the claimant marks it
 * removed (Claimant.tick) rather than let the operator's removal vanish (campaign seed 840702398:
 * the removal was staged, the install dropped it, every commit after answered nothing_staged, and
 * no tombstone was reaped again).
 */
export function removalsEndedByInstall(state: RingState): string[] {
  const next = state.next
  if (next === undefined) return []
  return state.staged.filter((change) => change.kind === 'remove' && !next.members.includes(change.node)).map((change) => change.node)
}

export function installTransition(state: RingState, claimant: string): RingState {
  if (state.next === undefined) return state
  const {members, owners, machines} = state.next
  // A change staged of a member the new ring no longer has is moot: a leaver's staged removal,
  // say, when it came back and finished its leave before the removal was committed.
  return {version: state.version + 1, claimant, members, owners, ...(machines === undefined ? {} : {machines}), staged: state.staged.filter((change) => members.includes(change.node))}
}

/**
 * The state to keep of two: the higher version, or at one version the lower claimant name (two
 * claimants for a moment), or else the canonical encoding, so that merging is commutative.
 *
 * Except that at one version a decision that moved the ring or cleared (a commit, an install, a
 * clear) wins over one that only staged a change, whatever the names: a commit that its joiner
 * had acted on was undone by a removal staged through a node that had not heard of it yet, at
 * the same version, by a claimant of a lower name (simulator seed 53,000,007,269: the joiner ran
 * on outside the ring). The stage is not lost: its change is taken in, as below. The mark that
 * tells them apart (`stagingAt`) is the winner's in the merged state, so merging stays associative.
 *
 * At one version, the changes each side staged in that very decision are all kept (the
 * winner's other fields stand): two claimants for a moment, each answering an operator's stage
 * with ok, must not have one of the two dropped by gossip (simulator seed 467761: a leave staged
 * through each side of a healed partition, and only one was ever committed). Only changes staged
 * at that version: older ones are the winner's to have kept, cleared or committed. A change of a
 * node the winner already stages, or that the winner's ring no longer has, is not taken. The new
 * changes are put in one order (by node), so that merging stays associative.
 */
export function mergeRingStates(a: RingState | undefined, b: RingState | undefined): RingState | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  if (a.version !== b.version) return a.version > b.version ? a : b
  // The winner is chosen on what a merge keeps of it (all but the changes staged at this version),
  // so that a merged state wins or loses exactly as the state it was merged from.
  const kept = (state: RingState): string => JSON.stringify({...state, staged: state.staged.filter((change) => change.stagedAt !== state.version)})
  const staging = isStagingDecision
  const winner =
    staging(a) !== staging(b) ? (staging(a) ? b : a) : a.claimant !== b.claimant ? (compareNames(a.claimant, b.claimant) < 0 ? a : b) : kept(a) <= kept(b) ? a : b
  const version = winner.version
  const older = winner.staged.filter((change) => change.stagedAt !== version)
  // A change of a member the winner's transition moves out is moot, but for the removal of a
  // leaver (stageChange), which that transition can still take in. A change of a joiner of the
  // winner's transition stays: it applies to the ring that transition installs.
  const stays = (change: StagedChange): boolean =>
    (winner.members.includes(change.node) && (winner.next === undefined || winner.next.members.includes(change.node))) ||
    (change.kind === 'remove' && isLeaving(winner, change.node)) ||
    (winner.next?.members.includes(change.node) === true && !winner.members.includes(change.node))
  const fresh = new Map<string, StagedChange>()
  for (const change of [...a.staged, ...b.staged]) {
    if (change.stagedAt !== version || older.some((kept) => kept.node === change.node) || !stays(change)) continue
    const other = fresh.get(change.node)
    if (other === undefined || JSON.stringify(change) < JSON.stringify(other)) fresh.set(change.node, change)
  }
  const staged = [...older, ...[...fresh.values()].sort((x, y) => compareNames(x.node, y.node))]
  const same = staged.length === winner.staged.length && staged.every((change, index) => JSON.stringify(change) === JSON.stringify(winner.staged[index]))
  return same ? winner : {...winner, staged}
}

/** Structural check of a ring state from the network. */
export function isValidRingState(x: unknown, partitionCount: number): x is RingState {
  if (typeof x !== 'object' || x === null) return false
  const s = x as Record<string, unknown>
  if (!Number.isSafeInteger(s.version) || (s.version as number) < 1 || typeof s.claimant !== 'string') return false
  if (!isRingShape(s.members, s.owners, partitionCount) || !isValidMachines(s.machines, s.members as string[])) return false
  if (!Array.isArray(s.staged) || s.staged.length > stagedChangesMax || (s.stagingAt !== undefined && (!Number.isSafeInteger(s.stagingAt) || (s.stagingAt as number) < 1))) return false
  for (const change of s.staged as unknown[]) {
    const c = change as Record<string, unknown> | null
    if (c === null || typeof c !== 'object' || (c.kind !== 'leave' && c.kind !== 'remove') || typeof c.node !== 'string') return false
    if (c.stagedAt !== undefined && (!Number.isSafeInteger(c.stagedAt) || (c.stagedAt as number) < 1)) return false
  }
  if (s.next === undefined) return true
  const next = s.next as Record<string, unknown> | null
  if (next === null || typeof next !== 'object') return false
  return (
    typeof next.id === 'string' && isRingShape(next.members, next.owners, partitionCount) && isValidMachines(next.machines, next.members as string[]) &&
    Array.isArray(next.removing) && next.removing.every((name) => typeof name === 'string')
  )
}

/** Absent, or a record of ring members to machine names, none of them the member's own name. */
function isValidMachines(x: unknown, members: readonly string[]): boolean {
  if (x === undefined) return true
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false
  const entries = Object.entries(x)
  if (entries.length === 0 || entries.length > members.length) return false
  return entries.every(([name, machine]) => members.includes(name) && typeof machine === 'string' && machine !== name && namePattern.test(machine))
}

/** Staged changes are bounded like the member table. */
export const stagedChangesMax = 1024

function isRingShape(members: unknown, owners: unknown, partitionCount: number): boolean {
  if (!Array.isArray(members) || members.length === 0 || members.length > stagedChangesMax) return false
  if (!members.every((name) => typeof name === 'string' && name.length > 0)) return false
  if (new Set(members).size !== members.length) return false
  if (!Array.isArray(owners) || owners.length !== partitionCount) return false
  const memberSet = new Set(members as string[])
  return owners.every((owner) => typeof owner === 'string' && memberSet.has(owner))
}

/**
 * What a member's own row should say of it, given the ring: a joiner stays joining until the
 * committed ring has it; a member the transition moves out is leaving; a member that was in
 * the ring and no longer is has left (its data has moved).
 */
export function ownRowStatus(current: 'joining' | 'valid' | 'leaving' | 'left', state: RingState, self: string): 'joining' | 'valid' | 'leaving' | 'left' {
  const inRing = state.members.includes(self)
  const inNext = state.next === undefined ? inRing : state.next.members.includes(self)
  if (current === 'left') return 'left'
  if (inRing && !inNext) return 'leaving'
  if (inRing) return 'valid'
  if (current === 'joining') return 'joining'
  return 'left'
}

/**
 * Members of the ring the running transition makes (staying members and joiners) whose removal is
 * staged and that `isUp` says are down: the transfers and the claimant no longer wait for them
 * (TransferManager.givenUp, src/handoff/transfer.ts). A leaver is not one: its removal replaces
 * its leave only when a commit says so (takeOverLeavers), so that an operator who stages it and
 * reads the plan first loses nothing before committing (a review found that counting leavers let
 * the install mark one removed with no commit). Pure.
 */
export function givenUpMembers(ring: RingState | undefined, isUp: (name: string) => boolean): Set<string> {
  const next = ring?.next
  if (ring === undefined || next === undefined) return new Set()
  return new Set(ring.staged.filter((change) => change.kind === 'remove' && next.members.includes(change.node) && !isUp(change.node)).map((change) => change.node))
}
