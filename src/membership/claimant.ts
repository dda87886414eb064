/**
 * The claimant's process side (Riak's riak_core_claimant): stage, plan and commit membership
 * changes, and install a transition once every planned transfer is done. Every request is
 * answered by the claimant alone (claimant-core.ts: the lowest-named committed member this node
 * believes up); any other node forwards it there, so two changes made at once through two nodes
 * are decided one after the other on one node. Before each decision the claimant fetches the
 * ring state of every member it believes up and decides on the newest (a node restarted on its
 * stored state may believe itself claimant while another member decided meanwhile), and after
 * it hands the new state to them. The node's timer calls `tick`; this class owns no timer.
 */

import {assert, DynError, errorCodes} from '../errors.js'
import type {Ring} from '../ring/ring.js'
import {MessageType} from '../transport/message-type.js'
import type {Transport} from '../transport/transport.js'
import type {BlockedChange, Departure, RingState, StagedChange} from './claimant-core.js'
import {blockedJoin, blockedJoinsFailure, blockedOnlyNote, claimantOf, clearStaged, commitTransition, givenUpMembers, initialRingState, installTransition, isLeaving, machinesOf, majorityShortfall, planTransition, removalsEndedByInstall, ringOfState, stageChange, stagedLeaverRemovals, unconfirmedRingState} from './claimant-core.js'
import type {Member, MemberTable} from './member-table.js'
import {findMember, hasReceived, nextRingOf, presentMembers, replicaCountsInUse, ringOf} from './member-table.js'
import type {PingBody} from './heartbeats.js'
import type {Membership} from './membership.js'
import {dialBackFailure} from './membership.js'

/**
 * A change request as the API and the ClusterChange message carry it. withoutMajority: decide it
 * although the claimant sees fewer than a majority of the ring's members up (majorityShortfall),
 * for members whose machines are lost for good; never during a partition.
 */
export type ClusterChangeRequest =
  | {readonly op: 'stage'; readonly change: StagedChange; readonly withoutMajority?: boolean}
  | {readonly op: 'plan'}
  /** joinsOnly: commit only if nothing but joins is staged (a node that starts with --seeds commits its own join). */
  | {readonly op: 'commit'; readonly joinsOnly?: boolean; readonly withoutMajority?: boolean}
  | {readonly op: 'clear'; readonly withoutMajority?: boolean}

/** What the claimant must know of transfers: the ones a transition needs (the plan lives in src/handoff). */
export type TransferPlanner = (before: Ring, after: Ring, gone: ReadonlySet<string>, table: MemberTable) => ReadonlyArray<{readonly partition: number; readonly target: string; readonly sourcesForN: number}>

export interface PlanView {
  readonly claimant: string
  readonly ringVersion: number
  readonly staged: ReadonlyArray<StagedChange | {kind: 'join'; node: string}>
  /** Staged joins a commit would leave out, each with why and what to do (absent when none): see BlockedChange. */
  readonly blocked?: readonly BlockedChange[]
  /** Undefined when nothing is staged, or a transition already runs. */
  readonly members?: readonly string[]
  readonly ownershipMoves?: ReadonlyArray<{partition: number; from: string; to: string}>
  readonly transfers?: ReadonlyArray<{partition: number; target: string}>
  /** The replication factors the transfers are planned for: the cluster's N and every n a member stores. */
  readonly replicaCounts?: readonly number[]
  /**
   * The cluster's N, beside `members`: the CLI warns when fewer members than N (or than the
   * largest of `replicaCounts`) would own partitions after the commit.
   */
  readonly defaultN?: number
  readonly ownership?: Record<string, number>
  readonly note?: string
  /**
   * A commit's answer only: the id of the ring change it started (`<version>.<claimant>`, as
   * status and errors name it), with `ringVersion` the version it made, the number in that id.
   */
  readonly transition?: string
  /** A plan's: why this claimant could not commit it now (it sees fewer than a majority of the ring's members up), when it could not. */
  readonly noMajority?: string
  /** A clear's answer only: how many staged changes it dropped (0: nothing was staged, and nothing changed). */
  readonly cleared?: number
}

/** How long a forwarded change request may take: above the claimant's two exchanges with its peers. */
export const clusterChangeTimeoutMs = 5000
/** How long the claimant waits for a member's ring state before (and after) a decision. */
export const ringStateFetchTimeoutMs = 1000

export class Claimant {
  /** The decision under way: the next waits for it. */
  private deciding: Promise<unknown> = Promise.resolve()
  /**
   * The members that answered the exchanges of the decision under way (inTurn): a majority is
   * counted from them and this node, never from the failure detector alone (majorityShortfall).
   */
  private reachedInTurn: ReadonlySet<string> = new Set()

  constructor(
    private readonly membership: Membership,
    private readonly self: string,
    private readonly transport: Transport,
    private readonly isUp: (name: string) => boolean,
    private readonly planner: TransferPlanner,
    private readonly log: (line: string) => void,
    /** This node stores no object and keeps no hint (read at a commit: see `decide`). */
    private readonly holdsNothing: () => boolean = () => false,
  ) {}

  /** The claimant this node believes in (itself included). */
  claimant(): string | undefined {
    const state = this.membership.table.ring
    return state === undefined ? this.self : claimantOf(state, this.isUp)
  }

  /** Handle a change request here if this node is the claimant, else forward it to the claimant. */
  async request(request: ClusterChangeRequest): Promise<unknown> {
    const claimant = this.claimant()
    if (claimant === undefined) throw new DynError('unreachable', 'no member of the ring is reachable to act as claimant; check dyn cluster status')
    if (claimant === this.self) return this.decideInTurn(request)
    const address = findMember(this.membership.table, claimant)?.rpcAddress
    if (address === undefined) throw new DynError('unreachable', `the claimant ${claimant} has no known address`)
    const answer = await this.transport.request(address, MessageType.ClusterChange, request, clusterChangeTimeoutMs)
    if (answer.ok) return answer.body
    // The claimant's refusal keeps its code, when it is one the edges know.
    const code = errorCodes.find((known) => known === answer.code)
    if (answer.error === 'remote' && code !== undefined) throw new DynError(code, answer.message, answer.details)
    throw new DynError('unreachable', `the claimant ${claimant} did not answer: ${answer.message}`)
  }

  /** Answer a ClusterChange forwarded by another node; only the claimant decides. */
  async handle(body: unknown): Promise<unknown> {
    const request = body as Partial<ClusterChangeRequest> | null
    // Typed before it is compared: String() of a peer's map with a 'toString' key that is no
    // function throws (found by the internode fuzzer, seed 20261203, input 166,693).
    if (request === null || typeof request !== 'object' || typeof request.op !== 'string' || !['stage', 'plan', 'commit', 'clear'].includes(request.op)) {
      throw new DynError('bad_request', 'malformed ClusterChange')
    }
    if (request.op === 'commit' && request.joinsOnly !== undefined && typeof request.joinsOnly !== 'boolean') throw new DynError('bad_request', 'malformed ClusterChange')
    const withoutMajority = (request as {withoutMajority?: unknown}).withoutMajority
    if (withoutMajority !== undefined && typeof withoutMajority !== 'boolean') throw new DynError('bad_request', 'malformed ClusterChange')
    if (request.op === 'stage') {
      // An object before its fields are read: a peer's null change threw a TypeError (internode
      // fuzzer, seed 2078786331, input 3,438).
      const change = request.change as Partial<StagedChange> | null | undefined
      if (change === undefined || change === null || typeof change !== 'object' || (change.kind !== 'leave' && change.kind !== 'remove') || typeof change.node !== 'string') {
        throw new DynError('bad_request', 'malformed staged change')
      }
    }
    if (this.claimant() !== this.self) throw new DynError('unreachable', `${this.self} is not the claimant (it believes ${this.claimant() ?? 'none'} is); retry`)
    return this.decideInTurn(request as ClusterChangeRequest)
  }

  private decideInTurn(request: ClusterChangeRequest): Promise<unknown> {
    // Whether a departed member to be removed still answers (removeDeparted), asked in the turn,
    // on the newest state, before the decision.
    let departedAnswers = false
    const ask = request.op === 'stage' && request.change.kind === 'remove' ? async (): Promise<void> => {
      departedAnswers = await this.departedAnswers(request.change.node)
    } : undefined
    return this.inTurn((unreached) => this.decide(request, unreached, departedAnswers), request.op === 'commit' || request.op === 'plan' ? request.op : undefined, request.op === 'stage' ? request.change : undefined, ask)
  }

  /**
   * Whether `name`, a member that left the ring without saying it handed everything off, answers
   * now. Asked directly: the members probe a leaver only while its row says it has not handed off
   * and no present member holds its address, so the failure detector's view of it may be stale,
   * or none (a claimant started since sees it up for want of evidence).
   */
  private async departedAnswers(name: string): Promise<boolean> {
    const table = this.membership.table
    if (!isUnfinishedDeparture(table, this.stateOf(table), name)) return false
    const address = findMember(table, name)?.rpcAddress
    if (address === undefined) return false
    // A Ping, whose answer names the node: another node listening at the old address (a
    // replacement machine) is not the leaver, and must not hold its removal up for ever (a
    // review's case). Paced by the operator's command, past the transport's back-off.
    return (await this.dialFailure(name, address)) === undefined
  }

  /**
   * One decision at a time (as riak_core_claimant's gen_server takes one call at a time): each
   * fetches the newest ring state from the members first, decides on it, and then hands what it
   * changed to the members it can reach before answering, so a change answered as made does not
   * live on this node alone. A commit and a plan also dial the joining members (dialJoiners), and
   * hand the decision those that did not answer, with why.
   */
  private inTurn<T>(decision: (unreached: ReadonlyMap<string, string>) => T, findStaged?: 'commit' | 'plan', staging?: StagedChange, ask?: () => Promise<void>): Promise<T> {
    const turn = this.deciding.then(async () => {
      const peers = this.ringStatePeers()
      const answered = await this.exchangeWith(peers)
      // A commit, and a plan with nothing staged here, ask the members this node believes down
      // too, and take the state of any that answers: just after a partition heals, when each side
      // took itself for the claimant, a change staged on a member not yet seen up again must be
      // committed, not refused as nothing_staged (seed 466893) nor ended unseen by a commit of
      // other changes (seed 3439860). Their silence does not stop a commit of what is staged, and
      // no other decision waits for them.
      const askUnseen = findStaged === 'commit' || (findStaged === 'plan' && this.nothingToCommit(noneUnreached))
      const unseen = askUnseen ? this.unseenPeers(peers) : []
      const heard = askUnseen ? await this.exchangeWith(unseen) : new Set<string>()
      // After the exchanges, so that each joiner is dialled at the address its newest row gives.
      const unreached = findStaged === undefined ? noneUnreached : await this.dialJoiners()
      if (askUnseen) {
        // Nothing staged on the members that answered is not nothing staged: one that did not
        // answer, believed up or not, may hold the change (seed 467761: the claimant's connection
        // to the stager was still backing off after the heal, and the stager counted as seen down
        // at once). The operator is told to retry, not that no change exists; a plan shows what it found.
        // A joining node the claimant cannot reach is silent for that very reason, and it decides
        // nothing (only committed members are claimants): a commit of its join alone is refused in
        // words of its own (joiner_unreachable, in decide), not as "it may hold a staged change".
        const blocked = new Set(this.blockedJoins(this.membership.table, this.stateOf(this.membership.table), unreached).map((change) => change.node))
        const silent = [...peers, ...unseen].map((peer) => peer.name).filter((name) => !answered.has(name) && !heard.has(name) && !blocked.has(name))
        if (findStaged === 'commit' && this.nothingToCommit(unreached) && silent.length > 0) {
          throw new DynError('unreachable', `nothing is staged on the members that answered, but ${silent.join(', ')} did not answer and may hold a staged change; retry once ${silent.length === 1 ? 'it answers' : 'they answer'} (dyn cluster status shows who is down)`)
        }
      }
      // A member whose connection was refused is seen down at once, and skipped as it would
      // have been a moment later (a node killed just before dyn cluster remove names it). Not by
      // a commit, which ends the staging of every change it does not see: every member believed
      // up when it began must answer, but one staged for removal (seed 467761: the claimant's own
      // connection to a member was backing off after a partition healed, the member counted as
      // down at once, and the leave it had staged was never committed).
      const removing = new Set(this.stateOf(this.membership.table).staged.filter((change) => change.kind === 'remove').map((change) => change.node))
      const stillUp = peers.map((peer) => peer.name).filter((name) => (findStaged === 'commit' ? !removing.has(name) : this.isUp(name)))
      // A stage whose own node is the silent one (a node just stopped, which the failure detector
      // has not yet seen down) is told so, and what to do, in its own words.
      const unconfirmed = unconfirmedRingState(stillUp, answered, staging === undefined ? undefined : {claimant: this.self, change: staging, leaving: isLeaving(this.stateOf(this.membership.table), staging.node)})
      if (unconfirmed !== undefined) throw new DynError(unconfirmed.error, unconfirmed.message)
      // The merged state may name another claimant (a member back up with a lower name).
      const claimant = this.claimant()
      if (claimant !== this.self) throw new DynError('unreachable', `${this.self} is no longer the claimant (${claimant ?? 'none'} is); retry`)
      await ask?.()
      const before = this.membership.table
      // The members that answered this turn's exchanges: what a majority is counted from, not the
      // failure detector, which takes a member it has not tried yet (a claimant just restarted) for up.
      this.reachedInTurn = new Set([...answered, ...heard])
      const answer = decision(unreached)
      if (this.membership.table !== before) await this.exchangeWith(this.ringStatePeers())
      // A stage answered ok must have outlived the exchange: a claimant of the other side of a
      // partition just healed may have decided a newer version meanwhile (a commit that did not
      // see this change), and the merge then keeps that one. The operator is told to retry.
      if (staging !== undefined && !this.stagedOrMoving(staging.node)) {
        throw new DynError('unreachable', `a decision made meanwhile by ${this.stateOf(this.membership.table).claimant} replaced the staging of ${staging.node}; retry`)
      }
      return answer
    })
    this.deciding = turn.catch(() => undefined)
    return turn
  }

  /** The members whose ring state the claimant fetches: every present member it believes up. */
  private ringStatePeers(): Member[] {
    return this.otherPresentMembers().filter((member) => this.isUp(member.name))
  }

  /** The present members but this node and those the transition under way removes. */
  private otherPresentMembers(): Member[] {
    const table = this.membership.table
    const removing = new Set(table.ring?.next?.removing ?? [])
    return presentMembers(table).filter((member) => member.name !== this.self && !removing.has(member.name))
  }

  /** Whether `node` is staged to go, or the transition under way moves it out (a commit took its change in). */
  private stagedOrMoving(node: string): boolean {
    const state = this.stateOf(this.membership.table)
    if (state.staged.some((change) => change.node === node)) return true
    if (state.next !== undefined && !state.next.members.includes(node)) return true
    // A withdrawn join, or a node already gone: nothing left to stage.
    return !state.members.includes(node)
  }

  /** Whether a commit now would find no staged change and no join to commit. */
  private nothingToCommit(unreached: ReadonlyMap<string, string>): boolean {
    const table = this.membership.table
    return this.stateOf(table).staged.length === 0 && this.joining(table, unreached).length === 0
  }

  /**
   * Pings each joining member not yet in the ring or the transition, at the address its row gives
   * now; the names of those that did not answer as themselves, with why. A commit gives
   * partitions only to joiners that answered: the failure detector counts an address it has not
   * tried yet as up, so a joiner restarted with an --advertise that leads nowhere (its row changed
   * a moment ago) would otherwise be given partitions no member can send it. Joiners seen down
   * are dialled too, so that the plan says why each cannot be committed (refused, no answer,
   * another node there), and one back up is committed at once. Paced by the operator's command,
   * past the transport's back-off.
   */
  private async dialJoiners(): Promise<Map<string, string>> {
    const table = this.membership.table
    const state = this.stateOf(table)
    const joiners = table.members.filter((member) => member.status === 'joining' && !placedIn(state, member.name))
    const failures = await Promise.all(joiners.map(async (member) => [member.name, await this.dialFailure(member.name, member.rpcAddress)] as const))
    return new Map(failures.filter((entry): entry is readonly [string, string] => entry[1] !== undefined))
  }

  /**
   * Why `name` does not answer as itself at `address` (undefined: it does): a Ping, whose answer
   * names the node, paced by the operator's command rather than the transport's back-off.
   */
  private async dialFailure(name: string, address: string): Promise<string | undefined> {
    const answer = await this.transport.request(address, MessageType.Ping, {from: this.self} satisfies PingBody, ringStateFetchTimeoutMs, {callerPaced: true})
    return dialBackFailure({name}, answer)
  }

  /** The members ringStatePeers left out as down: the other present members but those `asked`. */
  private unseenPeers(asked: readonly Member[]): Member[] {
    const askedNames = new Set(asked.map((peer) => peer.name))
    return this.otherPresentMembers().filter((member) => !askedNames.has(member.name))
  }

  /** Exchanges tables with each of `peers` at once; the names of those that answered. */
  private async exchangeWith(peers: readonly Member[]): Promise<Set<string>> {
    const answers = await Promise.all(peers.map(async (peer) => ((await this.membership.exchangeWith(peer, ringStateFetchTimeoutMs)) ? peer.name : undefined)))
    return new Set(answers.filter((name): name is string => name !== undefined))
  }

  private decide(request: ClusterChangeRequest, unreached: ReadonlyMap<string, string>, departedAnswers = false): unknown {
    const table = this.membership.table
    const state = this.stateOf(table)
    const partitionCount = table.settings.partitionCount
    // Every decision an operator asks for raises the ring's version, and at a higher version a
    // state wins over any other: so not only a commit needs a majority seen up, or a small side of
    // a partition that staged and cleared a few times would, once healed, undo what the large side
    // committed meanwhile. A plan decides nothing.
    if (request.op !== 'plan' && request.withoutMajority !== true) {
      const shortfall = this.majorityShortfall(state, request.op === 'commit' && request.joinsOnly === true ? 'join' : request.op)
      if (shortfall !== undefined) throw new DynError('no_majority', shortfall.message, shortfall.details)
    }
    switch (request.op) {
      case 'plan':
        return this.planView(table, state, unreached)
      case 'stage': {
        if (this.isWithdrawableJoin(table, state, request.change.node)) return this.withdrawJoin(request.change.node, state, unreached)
        if (request.change.kind === 'remove' && isUnfinishedDeparture(table, state, request.change.node)) return this.removeDeparted(request.change.node, state, departedAnswers, unreached)
        // Down as this claimant's failure detector decides it: a removal of a leaving member is taken only then (stageChange).
        const staged = stageChange(state, request.change, this.self, departureOf(table), (name) => !this.isUp(name))
        if (!staged.ok) throw new DynError(staged.error, staged.message)
        this.membership.replaceRing(staged.state)
        this.log(`staged ${request.change.kind} of ${request.change.node}`)
        return this.planView(this.membership.table, staged.state, unreached)
      }
      case 'clear': {
        const cleared = clearStaged(state, this.self)
        // How many changes were dropped, so that a clear of nothing can say so (none: nothing changed).
        if (cleared === state) return {...this.planView(table, state, unreached), cleared: 0}
        this.membership.replaceRing(cleared)
        return {...this.planView(this.membership.table, cleared, unreached), cleared: state.staged.length}
      }
      case 'commit': {
        if (request.joinsOnly === true && state.staged.length > 0) {
          throw new DynError('ring_in_transition', 'other changes are staged; a joining node waits for them to be committed or cleared')
        }
        if (state.next !== undefined) return this.commitLeaverRemovals(table, state, unreached)
        const committed = commitTransition(state, partitionCount, this.joining(table, unreached), this.self, rowMachineOf(table), table.settings.defaultN)
        if (!committed.ok) {
          // Nothing to commit but joins of nodes this claimant cannot reach: said so, with what to do.
          const blocked = committed.error === 'nothing_staged' ? this.blockedJoins(table, state, unreached) : []
          const failure = blocked.length > 0 ? blockedJoinsFailure(blocked) : committed
          // The joins left out, as the plan lists them: a script learns which from --json.
          throw new DynError(failure.error, failure.message, blocked.length > 0 ? {blocked: blocked.map(({node, rpcAddress, error}) => ({node, rpcAddress, error}))} : undefined)
        }
        const next = committed.state.next
        assert(next !== undefined, 'a commit makes a transition')
        // The plan that was committed, named as the change it started: the version it made and
        // the transition's id, which is how status, errors and the logs name it from now on.
        const view: PlanView = {...this.planView(table, state, unreached), ringVersion: committed.state.version, transition: next.id}
        if (this.installsAtOnce(state, next.removing)) {
          // A new cluster that others join: its only member, this claimant, holds nothing, so no
          // transfer has anything to carry and the ring is installed now rather than after rounds
          // of gossip (about 4 s). A write that reaches this node meanwhile is handed to its new
          // homes by the release after the install, as one that arrives after a transfer's scan is.
          this.membership.replaceRing(installTransition(committed.state, this.self))
          this.log(`committed and installed transition ${next.id} at once, since the ring's only member holds no data: members ${next.members.join(', ')}`)
          return view
        }
        this.membership.replaceRing(committed.state)
        this.log(`committed transition ${next.id}: members ${next.members.join(', ')}`)
        return view
      }
    }
  }

  /**
   * A commit while a transition runs: it can only make that transition remove the leavers whose
   * removal is staged (claimant-core.ts, takeOverLeavers), and names the change it amended by its
   * id. A leaver seen up again since its removal was staged is not removed: running, it finishes
   * its leave by itself and hands off what it alone holds, which a removal would give up; the
   * operator is told to drop the staged removal instead.
   */
  private commitLeaverRemovals(table: MemberTable, state: RingState, unreached: ReadonlyMap<string, string>): PlanView {
    const running = state.next
    assert(running !== undefined, 'a leaver is removed from a transition under way')
    const back = stagedLeaverRemovals(state).filter((name) => this.isUp(name))
    if (back.length > 0) {
      const names = back.join(', ')
      throw new DynError('already_leaving', `${names} ${back.length === 1 ? 'is' : 'are'} running again, as the claimant ${this.self} sees it, and will finish leaving in the ring change ${running.id}; nothing was committed. Drop the staged removal with dyn cluster clear; if ${names} must go at once, stop ${back.length === 1 ? 'it' : 'them'} first, and commit again once dyn cluster status shows ${back.length === 1 ? 'it' : 'them'} down`)
    }
    const committed = commitTransition(state, table.settings.partitionCount, [], this.self, rowMachineOf(table), table.settings.defaultN)
    if (!committed.ok) throw new DynError(committed.error, committed.message)
    const next = committed.state.next
    assert(next !== undefined && next.id === running.id, 'removing a leaver keeps the transition under way')
    const removed = next.removing.filter((name) => !running.removing.includes(name))
    // The answer names what this commit did, in the past; the joins and changes that wait stay staged.
    const joins = this.joinsToCommit(table, state, unreached)
    const view: PlanView = {...this.planView(table, state, unreached), staged: removed.map((node) => ({kind: 'remove' as const, node})), ringVersion: committed.state.version, transition: next.id, note: leaverRemovalNote(state, next.id, joins, true)}
    this.membership.replaceRing(committed.state)
    this.log(`committed the removal of ${removed.join(', ')}, which ${removed.length === 1 ? 'was' : 'were'} leaving, in transition ${next.id}: ${removed.length === 1 ? 'its' : 'their'} partitions come from the surviving replicas`)
    return view
  }

  /**
   * A member whose join is not committed yet owns nothing and is in no transition, so a leave or
   * a removal of it has nothing to move: its join is withdrawn at once (riak-admin's cluster
   * clear does the same for a staged join). Without this, a join whose node was stopped before a
   * commit stayed `joining, down` for ever, with no command to undo it.
   */
  private isWithdrawableJoin(table: MemberTable, state: RingState, name: string): boolean {
    if (state.members.includes(name) || state.next?.members.includes(name) === true) return false
    return findMember(table, name)?.status === 'joining'
  }

  private withdrawJoin(name: string, state: RingState, unreached: ReadonlyMap<string, string>): PlanView {
    // A running joiner speaks for its own row and would refute the withdrawal at once.
    if (this.isUp(name)) {
      throw new DynError('bad_parameter', `${name} is joining and still running: stop it first (its join is then withdrawn by dyn cluster remove ${name}), or let dyn cluster commit give it partitions`)
    }
    this.membership.markRemoved(name)
    this.log(`withdrew the join of ${name}, which owned no partitions yet`)
    return {...this.planView(this.membership.table, state, unreached), note: `the join of ${name} was withdrawn: it owned no partitions, so nothing moves and no commit is needed`}
  }

  /**
   * The removal of a member that has left the ring but not said that it handed off its last
   * copies (the release after the install, transfer-release.ts): a leaver whose machine was lost
   * after its partitions had moved. No tombstone is reaped without its word until then (reaper.ts),
   * so its loss held every reap up for ever. Down, it is marked removed at once, as the install
   * marks a removed member (nothing moves, so no commit is needed): reaps no longer wait for it,
   * and should it come back it learns that it was removed and stops without handing anything
   * off, so a copy older than a reaped tombstone cannot resurrect the key. What it alone held
   * (a write that reached it late and that its release had not handed off yet) is lost. If it
   * answers the claimant (departedAnswers), it is refused: it is handing off, and exits once done.
   */
  private removeDeparted(name: string, state: RingState, answers: boolean, unreached: ReadonlyMap<string, string>): PlanView {
    if (answers) {
      throw new DynError('already_left', `${name} has left the ring and is handing off its last copies to their new homes; it answers the claimant ${this.self}, exits once it is done, and nothing was staged. If its machine is lost for good, make sure it is stopped, then retry: it is then marked removed, and tombstones no longer wait for it`)
    }
    this.membership.markRemoved(name)
    this.log(`marked ${name} removed: it had left the ring, but not handed off its last copies, and it is down`)
    return {...this.planView(this.membership.table, state, unreached), note: `${name} had left the ring but not handed off its last copies, and is down: it is marked removed (nothing moves, and no commit is needed); tombstones no longer wait for it, and what only it held is lost`}
  }

  /** Whether a transition from `state` has nothing to transfer for certain: see the commit in `decide`. */
  private installsAtOnce(state: RingState, removing: readonly string[]): boolean {
    return state.members.length === 1 && state.members[0] === this.self && removing.length === 0 && this.holdsNothing()
  }

  /** One round: install the transition once every planned transfer has been received. */
  async tick(): Promise<void> {
    if (this.claimant() !== this.self) return
    const table = this.membership.table
    if (table.ring === undefined) {
      // A table from before the claimant existed: its ring becomes version 1 of the claimant's.
      this.membership.replaceRing(this.stateOf(table))
      return
    }
    if (!this.installable(table)) return
    // Installed on the newest state, as every decision is; a member it cannot reach yet holds it back a round.
    await this.inTurn(() => {
      const current = this.membership.table
      const next = current.ring?.next
      if (current.ring === undefined || next === undefined || !this.installable(current)) return
      // A leaver whose removal was staged and that is down still: marked removed, as the removal
      // asked (removalsEndedByInstall). One that is up again finishes its own leave and says so.
      const lostLeavers = removalsEndedByInstall(current.ring).filter((name) => !this.isUp(name))
      this.membership.replaceRing(installTransition(current.ring, this.self))
      for (const name of [...next.removing, ...lostLeavers]) this.membership.markRemoved(name)
      this.log(`installed transition ${next.id}: members ${next.members.join(', ')}`)
      for (const name of lostLeavers) this.log(`marked ${name} removed: its removal was staged while it left the ring, and it is down at the install`)
    }).catch(() => undefined)
  }

  /** A transition runs and every transfer it planned has been reported received. */
  private installable(table: MemberTable): boolean {
    return table.ring?.next !== undefined && this.outstandingTransfers(table).length === 0
  }

  /**
   * The transfers of the running transition that their targets have not reported received, but
   * for those to a member whose removal is staged and that this claimant sees down: the operator
   * gave that member up, it will never report them, and waiting for it would hold the change up
   * for ever, so that its removal (committed only once the change ends) could never be made. The
   * other new homes of those partitions have theirs; the removal then gives its partitions to
   * others, from the surviving replicas. Until then it is a home that is down, written to through
   * fallbacks' hints, and the old homes keep what they release until a new home takes it.
   */
  outstandingTransfers(table: MemberTable): Array<{partition: number; target: string}> {
    const next = table.ring?.next
    const after = nextRingOf(table)
    if (next === undefined || after === undefined) return []
    const planned = this.planner(ringOf(table), after, new Set(next.removing), table)
    const givenUp = givenUpMembers(table.ring, this.isUp)
    return planned.filter((transfer) => !givenUp.has(transfer.target) && !hasReceived(table, transfer.target, next.id, transfer.partition, transfer.sourcesForN))
  }

  /** Joining members this node can reach (and that answered its dial, `unreached`): a commit gives them partitions. */
  private joining(table: MemberTable, unreached: ReadonlyMap<string, string>): string[] {
    return table.members.filter((member) => member.status === 'joining' && this.isUp(member.name) && !unreached.has(member.name)).map((member) => member.name)
  }

  /**
   * The joins a commit would take in: those it can reach, in neither the committed ring nor the
   * change under way (placedIn), which a plan once listed as staged and said would "wait until
   * that change has finished" (a review).
   */
  private joinsToCommit(table: MemberTable, state: RingState, unreached: ReadonlyMap<string, string>): string[] {
    return this.joining(table, unreached).filter((name) => !placedIn(state, name))
  }

  /**
   * Joining members this node cannot reach (seen down, or not answering its dial), in neither the
   * committed ring nor the transition under way: a commit leaves them out, and the plan and the
   * commit's answer say so, with why (BlockedChange).
   */
  private blockedJoins(table: MemberTable, state: RingState, unreached: ReadonlyMap<string, string>): BlockedChange[] {
    return table.members
      .filter((member) => member.status === 'joining' && !placedIn(state, member.name) && (!this.isUp(member.name) || unreached.has(member.name)))
      .map((member) => blockedJoin(this.self, member.name, member.rpcAddress, unreached.get(member.name) ?? `it does not answer ${this.self}'s heartbeats there`))
  }

  private stateOf(table: MemberTable): RingState {
    if (table.ring !== undefined) return table.ring
    const legacy = ringOf(table)
    const machines = machinesOf(legacy.members, rowMachineOf(table))
    return {...initialRingState(table.settings.partitionCount, this.self), members: legacy.members, owners: legacy.owners, ...(machines === undefined ? {} : {machines})}
  }

  /**
   * Why this claimant may not decide a change now (majorityShortfall): the refusal of a stage,
   * clear or commit (`op`), and the plan's note of it; undefined when it may.
   */
  private majorityShortfall(state: RingState, op: 'stage' | 'clear' | 'commit' | 'join' | 'plan'): {message: string; details: Record<string, unknown>} | undefined {
    const shortfall = majorityShortfall(state, (name) => name === this.self || this.reachedInTurn.has(name))
    if (shortfall === undefined) return undefined
    const {up, down, needed} = shortfall
    const one = down.length === 1
    const why = `${this.self} reaches ${up.length} of the ring's ${state.members.length} members (${up.join(', ')}; not: ${down.join(', ')}), and a membership change needs a majority (${needed}), so that one side of a network partition cannot change the ring the other side serves`
    const lost = `if ${one ? 'its machine is' : 'their machines are'} lost for good, remove ${one ? 'it' : 'them'} and commit, each with --without-majority (${down.map((name) => `dyn cluster remove ${name} --without-majority`).join('; ')}; dyn cluster commit --without-majority), which gives up what only ${one ? 'it holds' : 'they hold'}`
    const details = {membersUp: up, membersDown: down, needed}
    // A join gives nothing up: it waits for the members, or for the lost ones to be removed first.
    if (op === 'join') return {message: `${why}: the join waits until a majority answers. If ${one ? 'it is' : 'they are'} only cut off or restarting, it goes on by itself; ${lost}`, details}
    const todo = `If ${one ? 'it is' : 'they are'} only cut off, wait for the network to heal; ${lost}`
    if (op === 'plan') return {message: `a commit would be refused now (no_majority): ${why}. ${todo}`, details: {}}
    const done = op === 'stage' ? 'nothing was staged' : op === 'clear' ? 'nothing was cleared' : 'nothing was committed'
    return {message: `${why}: ${done}. ${todo}`, details}
  }

  private planView(table: MemberTable, state: RingState, unreached: ReadonlyMap<string, string>): PlanView {
    const joins = this.joinsToCommit(table, state, unreached)
    // What an operator staged; when (stagedAt) is the merge's business, not the plan's.
    const staged = [...joins.map((node) => ({kind: 'join' as const, node})), ...state.staged.map(({kind, node}) => ({kind, node}))]
    const blocked = this.blockedJoins(table, state, unreached)
    // A plan says ahead when this claimant could not commit it (the commit's own refusal).
    const noMajority = staged.length === 0 ? undefined : this.majorityShortfall(state, 'plan')?.message
    const base = {claimant: this.self, ringVersion: state.version, staged, ...(blocked.length === 0 ? {} : {blocked}), ...(noMajority === undefined ? {} : {noMajority})}
    const planned = planTransition(state, table.settings.partitionCount, joins, rowMachineOf(table), table.settings.defaultN)
    if (!planned.ok) return {...base, note: planned.error === 'nothing_staged' && blocked.length > 0 ? blockedOnlyNote(blocked) : planned.message}
    const takeover = state.next === undefined ? undefined : leaverRemovalNote(state, state.next.id, joins)
    const before = ringOfState(table.settings.partitionCount, state)
    const after = ringOfState(table.settings.partitionCount, planned.transition)
    const ownershipMoves: Array<{partition: number; from: string; to: string}> = []
    for (let partition = 0; partition < after.partitionCount; partition++) {
      const from = before.owners[partition] as string
      const to = after.owners[partition] as string
      if (from !== to) ownershipMoves.push({partition, from, to})
    }
    const ownership: Record<string, number> = {}
    for (const name of after.members) ownership[name] = 0
    for (const owner of after.owners) ownership[owner] = (ownership[owner] ?? 0) + 1
    const transfers = this.planner(before, after, new Set(planned.transition.removing), table).map(({partition, target}) => ({partition, target}))
    return {...base, members: planned.transition.members, ownershipMoves, transfers, replicaCounts: replicaCountsInUse(table), defaultN: table.settings.defaultN, ownership, ...(takeover === undefined ? {} : {note: takeover})}
  }
}

/** What a decision that dialled no joiner (a stage, a clear, an install) hands on: none unreached. */
const noneUnreached: ReadonlyMap<string, string> = new Map()

/** Whether `name` is in the committed ring or the transition under way: no longer a join to commit. */
function placedIn(state: RingState, name: string): boolean {
  return state.members.includes(name) || state.next?.members.includes(name) === true
}

/**
 * What a plan says of the removal of leavers during their ring change (takeOverLeavers): what the
 * commit does to the change under way, what is lost with them, and what else waits.
 */
function leaverRemovalNote(state: RingState, transition: string, joins: readonly string[], committed = false): string {
  const leavers = stagedLeaverRemovals(state)
  const names = leavers.join(', ')
  const waiting = [...joins.map((node) => `join ${node}`), ...state.staged.filter((change) => !leavers.includes(change.node)).map((change) => `${change.kind} ${change.node}`)]
  const wait = waiting.length === 0 ? '' : `; ${waiting.join(', ')} wait${waiting.length === 1 ? 's' : ''} until that change has finished`
  const what = committed ? `${names} (leaving, and down) ${leavers.length === 1 ? 'is' : 'are'} removed` : `a commit removes ${names} (leaving, and down)`
  return `${what} in the ring change ${transition} under way, in place of ${leavers.length === 1 ? 'its leave' : 'their leaves'}: the new homes take ${leavers.length === 1 ? 'its' : 'their'} partitions from the surviving replicas, and what only ${names} held (writes acknowledged by ${leavers.length === 1 ? 'it' : 'them'} alone, the hints ${leavers.length === 1 ? 'it' : 'they'} kept) is lost${wait}`
}

/**
 * Whether `name` has left the ring (neither the committed ring nor the transition has it, and it
 * is no joiner) without its row saying that it handed everything off: see Claimant.removeDeparted.
 */
function isUnfinishedDeparture(table: MemberTable, state: RingState, name: string): boolean {
  if (state.members.includes(name) || state.next?.members.includes(name) === true) return false
  const row = findMember(table, name)
  return row !== undefined && row.status !== 'joining' && row.handedOff !== true
}

/**
 * How a member that is no longer in the ring went, from its row: removed by a claimant, or left
 * (its row says left, or still leaving while it hands off the last writes, or valid until its own
 * next update says left). A joining row never was in the ring; a name without a row is unknown.
 */
function departureOf(table: MemberTable): (name: string) => Departure | undefined {
  return (name) => {
    const row = findMember(table, name)
    if (row === undefined || row.status === 'joining') return undefined
    return row.removed === true ? 'removed' : 'left'
  }
}

/** The machines members' rows advertise: where a joiner's machine comes from when the claimant adds it to the ring. */
function rowMachineOf(table: MemberTable): (name: string) => string | undefined {
  return (name) => findMember(table, name)?.machine
}
