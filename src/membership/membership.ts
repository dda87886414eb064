/**
 * The membership protocol of one node (paper §4.8), first version: join through a seed, then
 * push-pull gossip of the whole member table with one random peer per round. The node's timer
 * calls `gossipRound`; this class owns no timer, and takes its randomness as an input.
 *
 * Every node computes the ring from its table (`ringOf`), so once gossip has spread a change,
 * every node routes identically.
 */

import type {Random} from '../clock.js'
import {DynError} from '../errors.js'
import type {Ring} from '../ring/ring.js'
import {MessageType} from '../transport/message-type.js'
import {formatAddress, notInternodeCode, parseAddress, unauthenticatedCode} from '../transport/rpc-common.js'
import type {RpcResult, Transport} from '../transport/transport.js'
import {stillStartingMessage} from '../subsystem.js'
import type {PingAnswer, PingBody} from './heartbeats.js'
import type {ClusterSettings, Member, MemberTable} from './member-table.js'
import {findMember, incarnationMax, isValidMemberTable, membersMax, mergeTables, presentMembers, ringOf, sameTable, settingsMismatch, statusOf, withDiskClockAtLeast, withMember, withRing} from './member-table.js'
import type {RingState} from './claimant-core.js'
import {ownRowStatus} from './claimant-core.js'

export interface JoinBody {
  readonly member: Member
  /** The settings the joining node was started with explicitly; the cluster's must match. */
  readonly requestedSettings: Partial<ClusterSettings>
}

export interface GossipBody {
  readonly table: MemberTable
}

export interface MembershipEvents {
  /** The table changed: persist it, rebuild routing. */
  onChange(table: MemberTable, ring: Ring): void
  log(line: string): void
  /**
   * A peer's table says the claimant removed this node (its row left and handed off by another's
   * word): the table is not merged, and the node must stop without handing anything off.
   */
  onRemoved?(): void
}

/** How far a removal's mark of a row outranks that row (the changes a cut-off node could make to its own row meanwhile). */
export const removalIncarnationLead = 1_000_000

/** How long one gossip or join exchange may take before the peer is skipped this round. */
export const gossipRequestTimeoutMs = 1000
/** How long a seed gives a member it probes before it lets another node take that member's name. */
export const nameProbeTimeoutMs = 2000
/**
 * How long a seed waits for a joining node to answer at the internode address it advertises: a
 * connect that times out (2 s, the transport's) is an address that does not lead to it.
 */
export const joinDialBackTimeoutMs = 2000
/** A join may wait for the seed's probe of a name already in use and for its dial back, so it gets longer than both. */
export const joinRequestTimeoutMs = nameProbeTimeoutMs + joinDialBackTimeoutMs + 3000

/**
 * Why the answer to a Ping sent to `member` at the internode address it advertises does not
 * show the member there (undefined: it answered as itself, or its StartingRouter answered for it,
 * which proves it is there while it starts).
 */
export function dialBackFailure(member: Pick<Member, 'name'>, answer: RpcResult): string | undefined {
  if (answer.ok) {
    const node = (answer.body as Partial<PingAnswer> | null)?.node
    if (node === member.name) return undefined
    return typeof node === 'string' ? `${node} answers there, not ${member.name}` : 'what answers there is no dyn node'
  }
  if (answer.error === 'remote' && answer.code === 'overloaded' && answer.message === stillStartingMessage(member.name)) return undefined
  return answer.message
}

/**
 * Why a seed refuses the join of `member`, from the answer to the Ping it sent to the internode
 * address the member advertises (undefined: the member answered there as itself). A node whose
 * --advertise leads nowhere, or to another node, reaches the seed (it sent the join) but can never
 * be reached by the members: taken as joining, it stayed staged where no commit could include it,
 * and `dyn cluster plan` said nothing was staged (a new user's walk). A node that is still
 * starting answers in its StartingRouter's words, which prove it is there: `dyn start --seeds`
 * joins before it serves.
 */
export function dialBackRefusal(member: Pick<Member, 'name' | 'rpcAddress'>, seed: string, answer: RpcResult): DynError | undefined {
  const why = dialBackFailure(member, answer)
  if (why === undefined) return undefined
  return new DynError(
    'joiner_unreachable',
    `${seed} cannot reach ${member.name} at ${member.rpcAddress}, the internode address ${member.name} advertises (${why}), and every member must: nothing was staged. ` +
      `Restart ${member.name} with --advertise set to an address the cluster's nodes can connect to (or open the way from them to ${member.rpcAddress}), then join again`,
    {node: member.name, rpcAddress: member.rpcAddress},
  )
}

/** The internode port of a node started without --rpc-port: its client API port plus this. */
export const rpcPortOffsetDefault = 1000

/**
 * Why a seed that is no internode port cannot be joined through, and what to give instead, as the
 * error the join fails with. A node's internode port is its client API port + 1000 unless it was
 * started with --rpc-port; a cluster started with another layout (dyn cluster up --rpc-port) most
 * likely shares this node's, so the guess takes this node's own offset when it has one of its
 * own, and names the default beside it. The details carry the seed and the address guessed, for
 * the CLI, which asks the node answering there for its real internode address (src/cli/seed-hint.ts).
 */
export function notInternodeSeed(seed: string, message: string, self: Pick<Member, 'apiAddress' | 'rpcAddress'>, askedBy = '--seeds'): DynError {
  const parsed = parseAddress(seed)
  const offset = portOf(self.rpcAddress) - portOf(self.apiAddress)
  const at = (shift: number): string | undefined => (parsed !== null && parsed.port + shift > 0 && parsed.port + shift <= 0xffff ? formatAddress(parsed.host, parsed.port + shift) : undefined)
  const byDefault = at(rpcPortOffsetDefault)
  const byLayout = Number.isSafeInteger(offset) && offset !== 0 && offset !== rpcPortOffsetDefault ? at(offset) : undefined
  const sign = offset < 0 ? '-' : '+'
  const guess =
    byLayout !== undefined
      ? `: ${byLayout} if its ports are laid out as this node's (--rpc-port = --port ${sign} ${Math.abs(offset)})${byDefault === undefined ? '' : `, or ${byDefault} for a node started without --rpc-port (--port + ${rpcPortOffsetDefault})`}`
      : byDefault !== undefined
        ? ` (by default its --port + ${rpcPortOffsetDefault}: ${byDefault})`
        : ''
  const suggested = byLayout ?? byDefault
  return new DynError('bad_parameter', `the seed ${message}; give ${askedBy} the seed's internode address, host:rpc-port${guess}`, {seed, ...(suggested === undefined ? {} : {suggestedSeed: suggested})})
}

/** The pause between two rounds of a join through the seeds. */
export const joinRoundGapMs = 500

/**
 * The error of a join that reached none of its seeds: each seed with why it could not be reached
 * (its first failure, the one the join logged), what was tried, and what to check. Every try
 * connects (the join paces its own tries, past the transport's back-off); a seed nobody listens
 * on once failed with only "is down; next connect attempt in 3499 ms".
 */
export function unreachableSeeds(failures: ReadonlyArray<{readonly seed: string; readonly message: string}>, tries: number, askedBy = '--seeds'): DynError {
  const tried = (each: string): string => (tries === 1 ? ':' : ` in ${tries} tries${each}, ${joinRoundGapMs / 1000} s apart; the first said:`)
  const check = `that a dyn node runs there and that the port is its internode port (its dyn start --rpc-port, by default its --port + ${rpcPortOffsetDefault}), not its client API port, and that no firewall stands between`
  const only = failures.length === 1 ? failures[0] : undefined
  const message =
    only !== undefined
      ? `could not reach the seed ${only.seed}${tried('')} ${only.message}. Check ${check}`
      : `could not reach any seed given to ${askedBy}${tried(' each')} ${failures.map(({seed, message: why}) => `${seed}: ${why}`).join('; ')}. For each, check ${check}`
  return new DynError('unreachable', message, {seeds: failures.map(({seed}) => seed)})
}

/** How long a restarting node waits for each seed's word on its cluster: asked once, all at once. */
export const restartSeedCheckTimeoutMs = 2000

/**
 * A restart given --seeds: the node comes back from its stored member table and joins through
 * no seed, but the seeds still say whether the operator meant this cluster. A restart that
 * ignored them ran a node started once without seeds as a cluster of its own, taking writes its
 * real cluster never saw (split brain; found by a new user's walk). So each seed is asked once
 * for its cluster (NodeStatusQuery), and the start is refused, with what to do, when those that
 * answer belong to another cluster and none to its own while no other is silent (a silent one
 * may be a member that is down, the others strays), or one is a client API port or refuses this
 * node's secret (as a first start refuses them). Seeds that do not answer are logged and the
 * start goes on: the first node of a whole cluster restarting finds no one up. Only a node that never had a peer (its table has
 * no other row, not even of a member that left) is refused then too, since seeds can only mean
 * it was to join a cluster, and a restart cannot.
 */
export async function checkSeedsOnRestart(transport: Transport, seeds: readonly string[], stored: MemberTable, self: Pick<Member, 'name' | 'apiAddress' | 'rpcAddress'>, log: (line: string) => void): Promise<void> {
  const clusterId = stored.settings.clusterId
  const others = seeds.filter((seed) => seed !== self.rpcAddress)
  if (others.length === 0) return
  const answers = await Promise.all(others.map(async (seed) => ({seed, answer: await transport.request(seed, MessageType.NodeStatusQuery, {}, restartSeedCheckTimeoutMs, {callerPaced: true})})))
  // A node that never had a peer: not one that is alone because the others left (its table keeps
  // their rows, marked left), whose seeds may all be gone for good.
  const alone = stored.members.every((member) => member.name === self.name)
  const own = alone ? `a cluster of its own (id ${clusterId}, this node alone since it was started without --seeds)` : `cluster ${clusterId} (${presentMembers(stored).length} present member(s))`
  // Data written here does not come along to another cluster: said wherever an empty folder is.
  const emptyFolder = 'start this node on an empty --data folder with these --seeds (the data in this folder stays here and does not come along: copy what you need out of it with dyn get first)'
  const confirmed: string[] = []
  const silent: string[] = []
  const strangers: Array<{seed: string; clusterId: string}> = []
  for (const {seed, answer} of answers) {
    if (!answer.ok) {
      // The node itself under another spelling of its address (a host name for its IP): its own
      // router answers that it is still starting. Not a seed.
      if (answer.code === 'overloaded' && answer.message === stillStartingMessage(self.name)) continue
      if (answer.code === notInternodeCode) throw notInternodeSeed(seed, answer.message, self)
      // Either side may have refused the handshake, and the message says which: "the seed refused
      // this node" was said also when this node refused the seed.
      if (answer.code === unauthenticatedCode) throw new DynError('unauthenticated', `this node and the seed ${seed} did not accept each other's internode handshake (the cluster secret, or TLS): ${answer.message}`)
      silent.push(`${seed} (${answer.message})`)
      continue
    }
    const theirs = (answer.body as {health?: {clusterId?: unknown}} | null)?.health?.clusterId
    if (typeof theirs !== 'string') silent.push(`${seed} (its answer names no cluster)`)
    else if (theirs === clusterId) confirmed.push(seed)
    else strangers.push({seed, clusterId: theirs})
  }
  // A seed of another cluster beside one of its own is a stray in the list (a node not yet
  // joined, say): the node is where it belongs, and says so.
  const [stranger] = strangers
  const strays = `the seed(s) ${strangers.map(({seed, clusterId: theirs}) => `${seed} (cluster ${theirs})`).join(', ')} belong to another cluster`
  if (stranger !== undefined && confirmed.length > 0) log(`${strays}; ${confirmed.join(', ')} confirmed this node's cluster ${clusterId}`)
  // Beside a seed that did not answer, which may be a member of its own that is down, a stranger
  // may be a stray too: only a node that never had a peer is refused then.
  if (stranger !== undefined && confirmed.length === 0 && silent.length > 0 && !alone) {
    log(`${strays}, and ${silent.join('; ')} did not answer; coming back from the stored member table of cluster ${clusterId}`)
    return
  }
  if (stranger !== undefined && confirmed.length === 0) {
    const way = alone
      ? `to join that cluster, ${emptyFolder}, or, if it holds no data, run dyn cluster join ${stranger.seed} while it runs; to keep running it alone, leave --seeds out`
      : 'give seeds of this node\'s own cluster, or leave --seeds out (a restart comes back from the stored member table)'
    throw new DynError('cluster_config_mismatch', `the seed ${stranger.seed} is a node of cluster ${stranger.clusterId}, but this node's data folder holds ${own}, and a restart joins through no seed: ${way}`, {seed: stranger.seed, clusterId: stranger.clusterId, storedClusterId: clusterId})
  }
  if (confirmed.length > 0 || silent.length === 0) return
  if (alone) {
    throw new DynError(
      'unreachable',
      `this node's data folder holds ${own}, and a restart joins through no seed; no seed answered as a node of it (${silent.join('; ')}): to join the seeds' cluster once they run, ${emptyFolder}; to keep running it alone, leave --seeds out`,
      {seeds: others},
    )
  }
  log(`no seed answered on restart (${silent.join('; ')}); coming back from the stored member table of cluster ${clusterId}, whose members gossip finds as they come up`)
}

/** The port of a host:port this node formatted itself (NaN when it is not one). */
function portOf(address: string): number {
  return parseAddress(address)?.port ?? Number.NaN
}

export class Membership {
  private currentTable: MemberTable
  private currentRing: Ring
  private readonly selfName: string

  constructor(
    table: MemberTable,
    selfName: string,
    private readonly transport: Transport,
    private readonly random: Random,
    private readonly events: MembershipEvents,
  ) {
    this.currentTable = table
    this.currentRing = ringOf(table)
    this.selfName = selfName
  }

  get table(): MemberTable {
    return this.currentTable
  }

  get ring(): Ring {
    return this.currentRing
  }

  /** Merge a table from a peer; settings that differ mean another cluster, and are refused. */
  merge(remote: MemberTable): void {
    const mismatch = settingsMismatch(this.currentTable.settings, remote.settings)
    if (mismatch !== undefined) {
      throw new DynError('cluster_config_mismatch', `a peer belongs to a cluster with other settings (${mismatch})`)
    }
    // Removed while away (a partition, a crash): a removal gives up what only this node held, and
    // no reaper waited for it, so its copies may be older than deletes reaped since. Merging the
    // ring without it would hand them off as a release (a resurrection, found by a test of issue
    // 19's removal while partitioned away); it merges nothing and stops instead.
    const mine = findMember(this.currentTable, this.selfName)
    if (findMember(remote, this.selfName)?.removed === true && mine !== undefined && mine.removed !== true) {
      this.events.onRemoved?.()
      throw new DynError('removed', `${this.selfName} was removed from the cluster; it stops without handing anything off`)
    }
    let merged = mergeTables(this.currentTable, remote)
    if (merged.members.length > membersMax) {
      throw new DynError('overloaded', `merging would grow the member table past ${membersMax} members; refused`)
    }
    // Only this node speaks for its own row. A row for our name that differs from what we
    // assert (left over from an earlier life of this node) is refuted with a higher incarnation.
    const theirs = findMember(merged, this.selfName)
    if (mine !== undefined && theirs !== undefined && theirs !== mine) {
      const incarnation = Math.max(mine.incarnation, theirs.incarnation) + 1
      if (incarnation > incarnationMax) throw new DynError('bad_request', `refusing a row of ${this.selfName} with incarnation ${theirs.incarnation}`)
      // The disk clock is the one field others may raise (a reaper does): the refutation keeps it.
      merged = withMember(merged, {...mine, incarnation, ...(theirs.diskClock === undefined ? {} : {diskClock: Math.max(mine.diskClock ?? 0, theirs.diskClock)})})
    }
    if (sameTable(merged, this.currentTable)) return
    this.replace(merged)
  }

  /** Change this node's own row (its address or status); the row's incarnation must grow. */
  updateSelf(member: Member): void {
    this.replace(withMember(this.currentTable, member))
  }

  /**
   * Raise members' disk clocks to what their reap-check answers said (a reaper's word, before any
   * tombstone goes): the table changes, and so is persisted and gossiped, only where one grows.
   */
  raiseDiskClocks(entries: ReadonlyArray<readonly [string, number]>): void {
    let table = this.currentTable
    for (const [name, value] of entries) table = withDiskClockAtLeast(table, name, value)
    if (table !== this.currentTable) this.replace(table)
  }

  /** Change fields of this node's own row, raising its incarnation so that gossip prefers it. */
  updateOwnRow(patch: Partial<Pick<Member, 'status' | 'seenTransition' | 'received' | 'replicaCounts' | 'handedOff'>>): void {
    const mine = findMember(this.currentTable, this.selfName)
    if (mine === undefined) return
    this.replace(withMember(this.currentTable, {...mine, ...patch, incarnation: mine.incarnation + 1}))
  }

  /**
   * The claimant's word, at the install of a transition, that a member it removed has left. A
   * removed node never runs again to say so, and its last row may even still say joining (when
   * the row it wrote on becoming valid had not spread before it died), which no reading of the
   * ring can tell from a join waiting to be committed. So its row becomes left, at an incarnation
   * far above the one known here, so that the rows it wrote while cut off lose the merge, and a
   * later row of its own still reads as left through statusOf, since no ring has it. It is marked
   * handed off too: a removal gives up what only the removed node holds, and nothing waits for it
   * to hand anything off. A removed node that comes back learns it from this row and stops.
   */
  markRemoved(name: string): void {
    const row = findMember(this.currentTable, name)
    // A left row that has not said it handed everything off is marked too: a leaver lost before
    // the end of its release (Claimant.removeDeparted).
    if (row === undefined || (row.status === 'left' && row.handedOff === true) || name === this.selfName) return
    // Far above the incarnation known here: a removed node that was only cut off may have raised
    // its own row meanwhile, and gossip of that row must not undo the mark, or nothing would tell
    // it that it was removed, and the reaper would wait for its answer for ever.
    const incarnation = Math.min(incarnationMax, row.incarnation + removalIncarnationLead)
    this.replace(withMember(this.currentTable, {...row, status: 'left', handedOff: true, removed: true, incarnation}))
  }

  /** The claimant's decision: a newer ring state. */
  replaceRing(ring: RingState): void {
    this.replace(withRing(this.currentTable, ring))
  }

  /**
   * Take another cluster's table in place of this node's own (dyn cluster join): the caller has
   * checked that this node is alone and empty, so nothing of its own cluster is lost.
   */
  adopt(table: MemberTable): void {
    this.replace(table)
  }

  private replace(table: MemberTable): void {
    const before = this.currentRing.hash
    // Compute the ring first: a table it cannot be built from must not replace the current one.
    const ring = ringOf(table)
    this.currentTable = table
    this.currentRing = ring
    if (this.currentRing.hash !== before) {
      // Said in every node's log, so that an operator sees when this node starts (or stops) owning data.
      const owned = ring.owners.filter((owner) => owner === this.selfName).length
      this.events.log(`ring changed: ${ring.members.length} owners, hash ${ring.hash}; this node owns ${owned === 0 ? 'no partition' : `${owned} of ${ring.partitionCount} partitions`}`)
    }
    this.events.onChange(this.currentTable, this.currentRing)
    this.reconcileOwnRow()
  }

  /**
   * Keep this node's own row true to the ring: joining until the ring includes it, leaving while
   * a transition moves its data away, left once the ring no longer has it; and the transition it
   * has seen, which lets transfers start once every member routes writes to the new homes too.
   */
  private reconcileOwnRow(): void {
    const mine = findMember(this.currentTable, this.selfName)
    const ringState = this.currentTable.ring
    if (mine === undefined || ringState === undefined) return
    const status = ownRowStatus(mine.status, ringState, this.selfName)
    const seen = ringState.next?.id ?? mine.seenTransition
    if (status === mine.status && seen === mine.seenTransition) return
    if (status !== mine.status) this.events.log(`status ${mine.status} -> ${status}`)
    this.updateOwnRow({status, ...(seen === undefined ? {} : {seenTransition: seen})})
  }

  /**
   * Answer a Join: add the newcomer's row and hand back the whole table. A name that a live
   * member at another address still answers to is refused: two processes sharing a name would
   * take turns owning its partitions.
   */
  async handleJoin(body: unknown): Promise<GossipBody> {
    const join = body as Partial<JoinBody> | null
    const member = join?.member
    if (member === undefined || !isValidMemberTable({settings: this.currentTable.settings, members: [member]})) {
      throw new DynError('bad_request', 'a join must carry the joining member row')
    }
    await this.refuseNameInUse(member)
    if (member.name === this.selfName) {
      throw new DynError('bad_parameter', `a node named ${member.name} is already running at ${findMember(this.currentTable, member.name)?.rpcAddress ?? 'this seed'}; choose another --name`)
    }
    const requested = join?.requestedSettings ?? {}
    const mismatch = settingsMismatch({...this.currentTable.settings, ...requested}, this.currentTable.settings)
    if (mismatch !== undefined) {
      throw new DynError('cluster_config_mismatch', `the cluster was created with other settings (${mismatch}); start without those flags to adopt the cluster's`)
    }
    // Last of the checks, and before the table changes: the members must reach the newcomer where
    // it says it is, or its join could never be committed (dialBackRefusal). The seed paces this
    // try itself, once per join, so the transport's back-off neither holds it back nor logs it.
    const ping: PingBody = {from: this.selfName}
    const dialled = await this.transport.request(member.rpcAddress, MessageType.Ping, ping, joinDialBackTimeoutMs, {callerPaced: true})
    const refusal = dialBackRefusal(member, this.selfName, dialled)
    if (refusal !== undefined) throw refusal
    // Again after the dial: a second join of the same name from another address, answered while
    // this one waited, has added its row meanwhile, and both would otherwise be taken (a review
    // sent two such joins at once, and both were answered ok).
    await this.refuseNameInUse(member)
    const existing = findMember(this.currentTable, member.name)
    // A name that left the cluster (a leave, a removal, a withdrawn join) joins again: a node
    // started under it on an empty folder (README: "move it aside before that node joins
    // again"). Its row is the newcomer's, raised above the left one. Merged as it came, the left
    // row won on its incarnation (a removal's is far ahead), and the newcomer, handed back a
    // table in which it had left, said it had joined, then "left the cluster" and exited 0. A
    // node that comes back on its old folder restarts from its stored table and sends no join:
    // it still learns from gossip that it left, or was removed, and stops.
    if (existing !== undefined && statusOf(this.currentTable, existing) === 'left' && member.status === 'joining') {
      const incarnation = Math.max(existing.incarnation, member.incarnation) + 1
      if (incarnation > incarnationMax) throw new DynError('bad_parameter', `${member.name} left the cluster, and its name cannot be given to a new node any more (incarnation ${existing.incarnation}); choose another --name`)
      this.replace(withMember(this.currentTable, {...member, incarnation}))
      return {table: this.currentTable}
    }
    this.merge({settings: this.currentTable.settings, members: [member]})
    return {table: this.currentTable}
  }

  /**
   * Refuses a join under a name that a live member at another address still answers to: two
   * processes sharing a name would take turns owning its partitions. A row whose node does not
   * answer there is an old one of a node restarted elsewhere, which may take it over.
   */
  private async refuseNameInUse(member: Member): Promise<void> {
    const existing = findMember(this.currentTable, member.name)
    if (existing === undefined || existing.rpcAddress === member.rpcAddress || statusOf(this.currentTable, existing) === 'left' || member.name === this.selfName) return
    const probe = await this.transport.request(existing.rpcAddress, MessageType.Gossip, {table: this.currentTable}, nameProbeTimeoutMs)
    if (probe.ok) {
      throw new DynError('bad_parameter', `a node named ${member.name} is already running at ${existing.rpcAddress}; choose another --name, or stop that node first`)
    }
  }

  /** Answer a Gossip push with our (merged) table: push-pull in one round trip. */
  handleGossip(body: unknown): GossipBody {
    const table = (body as Partial<GossipBody> | null)?.table
    if (!isValidMemberTable(table)) throw new DynError('bad_request', 'a gossip message must carry a member table')
    this.merge(table)
    return {table: this.currentTable}
  }

  /** One gossip round: exchange tables with one random live peer. */
  async gossipRound(): Promise<void> {
    const peers = presentMembers(this.currentTable).filter((m) => m.name !== this.selfName)
    if (peers.length === 0) return
    await this.exchangeWith(peers[this.random.int(peers.length)] as Member, gossipRequestTimeoutMs)
  }

  /**
   * One push-pull exchange with `peer`: this node's table goes there, the peer's (merged) comes
   * back and is merged here. True when the peer's table was merged (or refused as another
   * cluster's); false when no valid answer came within `timeoutMs`.
   */
  async exchangeWith(peer: Member, timeoutMs: number): Promise<boolean> {
    const answer = await this.transport.request(peer.rpcAddress, MessageType.Gossip, {table: this.currentTable}, timeoutMs)
    if (!answer.ok) return false
    const table = (answer.body as Partial<GossipBody> | null)?.table
    if (!isValidMemberTable(table)) return false
    try {
      this.merge(table)
    } catch (error) {
      this.events.log(`gossip from ${peer.name} refused: ${(error as Error).message}`)
    }
    return true
  }

  /**
   * Join through the first seed that answers, adopting the cluster's table and settings.
   * Seeds are tried in order, each once per attempt, for at most `attemptsMax` rounds.
   */
  static async join(
    transport: Transport,
    seeds: readonly string[],
    self: Member,
    requestedSettings: Partial<ClusterSettings>,
    attemptsMax: number,
    wait: (ms: number) => Promise<void>,
    log: (line: string) => void,
  ): Promise<MemberTable> {
    /** Each seed's first failure: see unreachableSeeds. */
    const failures = new Map<string, string>()
    /**
     * The first seed's word that it cannot reach this node at its advertised address: tried again
     * like a seed that does not answer (a one-way cut heals), and, if no try succeeds, the error,
     * since it says what to change where "could not reach the seed" would point at the seed.
     */
    let dialBack: string | undefined
    for (let attempt = 0; attempt < attemptsMax; attempt += 1) {
      for (const seed of seeds) {
        const body: JoinBody = {member: self, requestedSettings}
        // The join paces its tries and says what it does, so the transport neither holds them
        // back nor logs the seed as unreachable with a back-off of its own (transport.ts).
        const answer = await transport.request(seed, MessageType.Join, body, joinRequestTimeoutMs, {callerPaced: true})
        let why: string
        if (answer.ok) {
          const table = (answer.body as Partial<GossipBody> | null)?.table
          if (isValidMemberTable(table)) return table
          why = 'it answered the join with something that is not a member table'
        } else {
          // A refusal for cause is final, and its error says it all; only an unreachable or
          // still-starting seed is worth retrying.
          if (answer.code === 'cluster_config_mismatch' || answer.code === 'bad_parameter') throw new DynError(answer.code, answer.message)
          if (answer.code === notInternodeCode) throw notInternodeSeed(seed, answer.message, self)
          // The seed (or this node) holds a cluster secret the other does not: trying again cannot help.
          if (answer.code === unauthenticatedCode) throw new DynError('unauthenticated', `could not join through the seed: ${answer.message}`)
          why = answer.message
        }
        // Whenever a seed says so, not only at its first failure: a seed that was still starting
        // at the first try and refused the address at every later one must end in these words,
        // not in "could not reach the seed" (a review's case).
        const refusedForAddress = !answer.ok && answer.code === 'joiner_unreachable'
        if (refusedForAddress) dialBack ??= answer.message
        if (failures.has(seed)) continue
        failures.set(seed, why)
        // Once per seed, in the words of the error the join fails with if no try succeeds.
        if (attempt + 1 < attemptsMax) log(`${refusedForAddress ? `the seed ${seed} refused the join: ${why}` : `could not reach the seed ${seed} (${why})`}; trying again ${joinRoundGapMs / 1000} s apart, ${attemptsMax} tries in all`)
      }
      await wait(joinRoundGapMs)
    }
    if (dialBack !== undefined) throw new DynError('joiner_unreachable', `could not join: ${dialBack}`, {node: self.name, rpcAddress: self.rpcAddress})
    throw unreachableSeeds(
      seeds.map((seed) => ({seed, message: failures.get(seed) ?? 'no answer'})),
      attemptsMax,
    )
  }
}
