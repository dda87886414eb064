/**
 * Anti-entropy as one of a node's subsystems (paper §4.7, "Handling permanent failures: replica
 * synchronization"; Riak's active anti-entropy): every exchange interval this node compares its
 * hash trees (tree-set.ts) with one other home of its partitions, in turn, and repairs what
 * differs both ways (exchange.ts), so that every home of a key ends up with every acknowledged
 * version of it without any client reading it: after a lost disk, a lost or overflowing hint
 * store, a cluster that grew while keys were written with a smaller n, or a write that reached
 * fewer homes than its n.
 *
 * A round with one peer asks for the roots of every (partition, n) both are homes of in one
 * message, and descends only into trees whose roots differ. A partition whose homes a running
 * transition changes is skipped until the transition is installed (its transfer moves it), and
 * both sides must agree on the ring (its hash) and have complete trees, or the tree is skipped
 * for this round. Bounds: one round in flight per node, a keys-per-second budget for repairs,
 * keys and objects per message, and key listings served at once.
 *
 * It serves AntiEntropyRoots, AntiEntropyBranches, AntiEntropySegments, AntiEntropyKeys and
 * AntiEntropyObjects; a peer's repairs of this node arrive as ObjectHandoff merges (replication's
 * replica side). Its part of GET /stats is the `antiEntropy` section.
 */

import type {Clock} from '../clock.js'
import {DynError} from '../errors.js'
import {homesOf} from '../handoff/transfer-plan.js'
import {findMember, isDiskClock, membersMax, nextRingOf, presentMembers} from '../membership/member-table.js'
import {namePattern} from '../membership/names.js'
import type {Membership} from '../membership/membership.js'
import type {Ring} from '../ring/ring.js'
import type {Store} from '../storage/store.js'
import type {StoredObject} from '../storage/stored-object.js'
import {entryBatches, replicasPerKeyMax} from '../storage/stored-object.js'
import type {MessageHandler, PeriodicTask, Subsystem} from '../subsystem.js'
import {MessageType} from '../transport/message-type.js'
import type {Transport} from '../transport/transport.js'
import {hintDeliveryEntriesMax, isRecord} from '../coordinator/messages.js'
import type {ExchangeReport, KeyHash, MergeRefusal, MergeRefused, TreeSide} from './exchange.js'
import {exchangeTree, keyListingMax, mergeRefusalCodes, mergeRefused} from './exchange.js'
import {listSegmentKeys, localTreeSide} from './local-side.js'
import type {Hash64} from './hash-tree.js'
import {branchCount, objectHash, sameHash, segmentCount, segmentsPerBranch} from './hash-tree.js'
import {ReapFence} from './reap-fence.js'
import {reapBatchMax, reapPass, tombstoneGraceMsDefault} from './reaper.js'
import type {ReapCheckAnswer} from './reaper.js'
import {TreeSet} from './tree-set.js'

/** How often a node starts a round with its next peer. */
export const exchangeIntervalMsDefault = 1000
/** Keys repaired per second at most, both ways together: a lost disk of 100,000 keys is back in about 20 s. */
export const keysRepairedPerSecondMaxDefault = 5000
/** Objects in one fetch or merge message at most (as a hint delivery). */
export const exchangeBatchEntriesMax = 256
/**
 * Bytes of values in one merge message or fetch answer at most, as a hint delivery's or a
 * release's batch (one larger object goes alone: objects hold at most 8 MiB, a frame 16 MiB).
 * Bounded by count alone, 256 values of a few hundred KB made a message no frame could carry, and
 * a disk replaced under such keys was never repaired (a review).
 */
export const exchangeBatchBytesMax = 4 * 1024 * 1024
/** (partition, n) pairs in one roots message at most: far above 4,096 partitions times a few n. */
export const rootPairsMax = 65_536
/** Listings (which scan a partition) served at once; more are refused as overloaded. */
export const keyListingsInFlightMax = 2
/** Stray copies (of keys this node is no home of) released in one pass at most. */
const strayKeysPerPassMax = 1024
/** Every segment of a tree, to list all of a stray tree's keys. */
const allSegments = Array.from({length: segmentCount}, (_, segment) => segment)
/**
 * How long a reaped tombstone stays fenced, in request timeouts beyond one per member: the reaper
 * reaps on the members one after the other and on itself last, and a repair's read and its merge
 * are one request apart, queued behind a key's lock; ten leave a wide margin (reap-fence.ts).
 */
const reapFenceMarginRequests = 10

/** Bounds on the interval of reap passes, which is a tenth of the grace between them. */
const reapIntervalMsMin = 1000
const reapIntervalMsMax = 60_000
/** With background rounds off, how often a node checks that its trees are built (a failed build is retried). */
const treeBuildRetryMs = 10_000
/** Objects of a partition read per page while building trees. */
const scanPageSize = 512

export interface AntiEntropyParts {
  readonly self: string
  readonly store: Store
  readonly transport: Transport
  readonly clock: Clock
  readonly membership: Membership
  isUp(name: string): boolean
  /** The replica merge (replication's), for objects fetched from a peer. */
  mergeObject(partition: number, key: string, object: StoredObject): Promise<{ok: true; changed: boolean} | {ok: false; error: string; message: string}>
  /** Checks an object from the network (src/coordinator/messages.ts). */
  isStoredObject(x: unknown): x is StoredObject
  readonly requestTimeoutMs: number
  /** This node started on an empty store under a name the cluster knows: it catches up (a lost disk). */
  readonly recovering: boolean
  readonly exchangeIntervalMs?: number
  readonly keysRepairedPerSecondMax?: number
  /** How long a tombstone is kept at least before a reap may remove it (reaper.ts). */
  readonly tombstoneGraceMs?: number
  /** Whether this node holds a hint for a key (the hint store's): a reap waits until no member does. */
  holdsHint(partition: number, key: string): boolean
  /** Whether this node still hands off partitions a ring change took from it (transfer-release.ts). */
  releasing(): boolean
  /**
   * Of `senders`, those whose copy-bearing messages (replica writes, hints, hand-offs) this node
   * is handling now (a removed sender's were taken before this node heard of its removal).
   */
  storingCopiesFrom(senders: readonly string[]): string[]
  /**
   * Takes a new epoch, persisted, before this node deletes a stray copy of its own: a copy it may
   * have coordinated holds its actor's counters, which its next write to the key must not reuse
   * (as a release does, transfer-release.ts).
   */
  renewActor(): Promise<void>
  /** This node's disk clock (src/node/disk-check.ts): what a reap checks and carries. */
  readonly diskClock: DiskClockParts
  readonly log: (line: string) => void
}

export interface DiskClockParts {
  /** Raise this node's disk clock by one, persisted, and make its row say so: the new value. */
  tick(): Promise<number>
  /** Raise members' disk clocks in this node's table, resolving once the table is persisted. */
  raise(entries: ReadonlyArray<readonly [string, number]>): Promise<void>
}

/** What an exchange run now (dyn repair) reports. */
export interface RepairReport {
  readonly node: string
  readonly trees: number
  readonly treesInSync: number
  readonly treesSkipped: number
  /** Homes this node shares trees with that it sees down: their trees are counted as skipped. */
  readonly peersDown: readonly string[]
  /**
   * Nodes whose store refused what they were sent (this node's own included), each with the code
   * it answered and, for one key too large, the key: the first refusal of each node.
   */
  readonly refusedBy: readonly MergeRefusal[]
  readonly keysRepairedHere: number
  readonly keysRepairedThere: number
  readonly unfinished: boolean
  readonly exchanges: readonly ExchangeReport[]
}

/** What GET /health (and so dyn cluster status) says of anti-entropy on one node. */
export interface AntiEntropySummary {
  /** Started on an empty store under a known name, and not every tree it is a home of has been compared yet. */
  readonly recovering: boolean
  /** While recovering: trees still to compare with another home. */
  readonly treesToRecover?: number
  /** Partitions whose trees are built (an exchange compares only those). */
  readonly treesBuilt: number
  readonly keysRepaired: number
  /** When this node last finished a round with a peer (its wall clock, ms); null before the first. */
  readonly lastRoundAtMs: number | null
}

export interface AntiEntropySubsystem extends Subsystem {
  /** For GET /health: catching up, trees built, keys repaired, the last round. */
  summary(): AntiEntropySummary
  /** Exchanges every tree (of one partition, or all) with every other home now, within the budget's bounds, and reports. */
  repairNow(partition?: number): Promise<RepairReport>
}

interface Pair {
  readonly partition: number
  readonly n: number
}

export function antiEntropySubsystem(parts: AntiEntropyParts): AntiEntropySubsystem {
  const {self, store, membership, clock} = parts
  const partitionCount = membership.table.settings.partitionCount
  const trees = new TreeSet(partitionCount)
  store.watchChanges((partition, key, before, after) => trees.apply(partition, key, before, after))
  // Reaped tombstones that a repair in flight brings back are dropped (reap-fence.ts).
  const reapFence = new ReapFence()
  const fenceUntilMs = (): number => clock.monotonicMs() + (membership.table.members.length + reapFenceMarginRequests) * parts.requestTimeoutMs
  store.filterAbsentMerges((partition, key, object) => {
    if (reapFence.size === 0) return false
    const nowMs = clock.monotonicMs()
    return reapFence.guards(partition, key, nowMs) && reapFence.drops(partition, key, objectHash(key, object), nowMs)
  })
  const exchangeIntervalMs = parts.exchangeIntervalMs ?? exchangeIntervalMsDefault
  const keysPerSecondMax = parts.keysRepairedPerSecondMax ?? keysRepairedPerSecondMaxDefault
  const counts = {rounds: 0, exchanges: 0, exchangesFailed: 0, keysRepaired: 0, lastRoundAtMs: 0, treesOutOfSync: 0, tombstonesReaped: 0, straysReleased: 0}
  let building: Promise<void> | undefined
  let round: Promise<unknown> | undefined
  let stopped = false
  let peerCursor = 0
  let keyListingsInFlight = 0
  // The repair budget refills at keysPerSecondMax, up to one second's worth.
  let budget = keysPerSecondMax
  let budgetAtMs = clock.monotonicMs()
  // While recovering: the trees this node is a home of that have not yet been found in sync with another home.
  let toRecover: Set<string> | undefined
  let recovering = parts.recovering

  const ring = (): Ring => membership.ring
  const pairKey = (pair: Pair): string => `${pair.partition}/${pair.n}`

  const scan = (partition: number, afterKey: string | undefined) => store.scanPartition(partition, afterKey, scanPageSize)

  /**
   * Builds every partition's trees, one after the other, in the background; requests are served
   * meanwhile (each page of a scan is one short read). A build that fails (the store closing) is
   * started again by the next round; the partitions it finished stay built.
   */
  const buildAll = (): Promise<void> => {
    building ??= (async () => {
      const beganMs = clock.monotonicMs()
      for (let partition = 0; partition < partitionCount && !stopped; partition += 1) await trees.build(partition, scan)
      if (!stopped) parts.log(`anti-entropy trees built: ${trees.keyCount} key(s) in ${partitionCount} partitions (${Math.round(clock.monotonicMs() - beganMs)} ms)`)
    })().catch((error: Error) => {
      building = undefined
      throw error
    })
    return building
  }

  /** The pairs (partition, n) this node and `peer` are both homes of, out of any running transition. */
  const sharedPairs = (peer: string): Pair[] => {
    const current = ring()
    const next = nextRingOf(membership.table)
    const pairs: Pair[] = []
    for (const n of replicaCountsOf()) {
      for (let partition = 0; partition < partitionCount; partition += 1) {
        const homes = homesOf(current, partition, n)
        if (!homes.includes(self) || !homes.includes(peer)) continue
        if (next !== undefined && !sameMembers(homes, homesOf(next, partition, n))) continue
        pairs.push({partition, n})
      }
    }
    return pairs
  }

  /** Every n some member stores, and the cluster's default. */
  const replicaCountsOf = (): number[] => {
    const inUse = new Set<number>([membership.table.settings.defaultN])
    for (const member of membership.table.members) for (const n of member.replicaCounts ?? []) inUse.add(n)
    return [...inUse].filter((n) => n >= 1 && n <= replicasPerKeyMax).sort((a, b) => a - b)
  }

  /** Whether this node serves an exchange of (partition, n) asked on the ring `ringHash` now. */
  const canServe = (ringHash: string, partition: number, n: number): boolean => {
    if (ringHash !== ring().hash || !trees.isComplete(partition)) return false
    const homes = homesOf(ring(), partition, n)
    if (!homes.includes(self)) return false
    const next = nextRingOf(membership.table)
    return next === undefined || sameMembers(homes, homesOf(next, partition, n))
  }

  const rootOf = (partition: number, n: number): Hash64 => trees.tree(partition, n)?.root ?? [0, 0]

  /** This node's side of an exchange, on the ring it runs now. */
  const localSide = (ringHash: string): TreeSide =>
    localTreeSide({
      name: self,
      trees,
      store,
      canServe: (partition, n) => canServe(ringHash, partition, n),
      merge: parts.mergeObject,
    })

  /** One request to a peer's internode address: its answer when it is an object, else undefined (a failure of any kind). */
  const askAt = async (address: string, type: MessageType, body: unknown): Promise<Record<string, unknown> | undefined> => {
    const result = await parts.transport.request(address, type, body, parts.requestTimeoutMs)
    return result.ok && isRecord(result.body) ? result.body : undefined
  }

  /**
   * Hands `entries` to a peer's replica merge (ObjectHandoff), in messages of at most
   * exchangeBatchBytesMax bytes of values: for each entry, 'ok', the code the peer answered for it
   * (or for the whole message it refused), or undefined where no answer says (the peer failed, or
   * a message was not sent; the entries after a failed message are not sent).
   */
  const handOff = async (address: string, partition: number, entries: ReadonlyArray<{readonly key: string; readonly object: StoredObject}>): Promise<Array<string | undefined>> => {
    const results: Array<string | undefined> = []
    for (const batch of entryBatches(entries, exchangeBatchBytesMax, hintDeliveryEntriesMax)) {
      const answer = await parts.transport.request(address, MessageType.ObjectHandoff, {entries: batch.map(({key, object}) => ({partition, key, object}))}, parts.requestTimeoutMs)
      const answered = answer.ok && isRecord(answer.body) && Array.isArray(answer.body.results) && answer.body.results.length === batch.length ? (answer.body.results as unknown[]) : undefined
      if (answered === undefined) {
        // Refused by the peer as a whole (not a request this node could not send): its code for each entry.
        const code = !answer.ok && answer.error === 'remote' && answer.sent !== false ? answer.code : undefined
        const batchEnd = results.length + batch.length
        while (results.length < entries.length) results.push(results.length < batchEnd ? code : undefined)
        return results
      }
      for (const result of answered) results.push(typeof result === 'string' && /^[a-z_]{1,64}$/.test(result) ? result : undefined)
    }
    return results
  }

  /** The address the member table has for `member` now. */
  const addressOf = (member: string): string | undefined => findMember(membership.table, member)?.rpcAddress

  /** The same, to a member by name, at the address the member table has for it now. */
  const askMember = async (member: string, type: MessageType, body: unknown): Promise<Record<string, unknown> | undefined> => {
    const address = addressOf(member)
    return address === undefined ? undefined : askAt(address, type, body)
  }

  /** handOff to a member by name, at the address the member table has for it now; no result at all without one. */
  const handOffToMember = async (member: string, partition: number, entries: ReadonlyArray<{readonly key: string; readonly object: StoredObject}>): Promise<Array<string | undefined>> => {
    const address = addressOf(member)
    return address === undefined ? [] : handOff(address, partition, entries)
  }

  /** A peer's side, reached over the transport; any failure answers undefined (the exchange stops). */
  const remoteSide = (peer: string, address: string, ringHash: string): TreeSide => {
    const ask = (type: MessageType, body: unknown): Promise<Record<string, unknown> | undefined> => askAt(address, type, body)
    return {
      name: peer,
      roots: async (pairs) => {
        const body = await ask(MessageType.AntiEntropyRoots, {ringHash, pairs: pairs.map(({partition, n}) => [partition, n])})
        const roots = isRecord(body) && Array.isArray(body.roots) && body.roots.length === pairs.length ? body.roots : undefined
        return pairs.map((_, index) => {
          const root: unknown = roots?.[index]
          return isHashPair(root) ? root : undefined
        })
      },
      branches: async (partition, n) => {
        const body = await ask(MessageType.AntiEntropyBranches, {ringHash, partition, n})
        return isRecord(body) && isHashList(body.branches, branchCount) ? body.branches : undefined
      },
      segments: async (partition, n, branches) => {
        const body = await ask(MessageType.AntiEntropySegments, {ringHash, partition, n, branches})
        if (!isRecord(body) || !Array.isArray(body.segments) || body.segments.length !== branches.length) return undefined
        const lists = body.segments as unknown[]
        return lists.every((list) => isHashList(list, segmentsPerBranch)) ? (lists as number[][]) : undefined
      },
      keys: async (partition, n, segments) => {
        const body = await ask(MessageType.AntiEntropyKeys, {ringHash, partition, n, segments})
        if (!isRecord(body) || !Array.isArray(body.keys) || typeof body.truncated !== 'boolean') return undefined
        const keys = body.keys as unknown[]
        return keys.length <= keyListingMax && keys.every(isKeyHash) ? {keys: keys as KeyHash[], truncated: body.truncated} : undefined
      },
      objects: async (partition, keys) => {
        // The peer answers the first keys whose objects fit exchangeBatchBytesMax (at least one),
        // and is asked again for the rest: at most one request per key.
        const fetched: Array<{key: string; object?: StoredObject}> = []
        while (fetched.length < keys.length) {
          const rest = keys.slice(fetched.length)
          // inParts: this asker takes an answer for the first keys only; a node from before it
          // expects all of them (and is answered so).
          const body = await ask(MessageType.AntiEntropyObjects, {partition, keys: rest, inParts: true})
          if (!isRecord(body) || !Array.isArray(body.objects) || body.objects.length === 0 || body.objects.length > rest.length) return undefined
          // Only the keys asked for, in order, each with a well-formed object or none.
          ;(body.objects as unknown[]).forEach((object, index) => {
            const key = rest[index] as string
            fetched.push(parts.isStoredObject(object) ? {key, object} : {key})
          })
        }
        return fetched
      },
      merge: async (partition, entries): Promise<number | MergeRefused | undefined> => {
        const results = await handOff(address, partition, entries)
        // A peer that refuses the merge (its store takes no writes, or one key would be too large)
        // leaves the exchange unfinished, and says why, so that `dyn repair --wait` on this node
        // names it rather than waiting out its time on trees that "could not be compared". Any
        // other failure is only unfinished (mergeRefusalCodes).
        const taken = results.filter((result) => result === 'ok').length
        const refusedAt = results.findIndex((result) => result !== undefined && mergeRefusalCodes.has(result))
        if (refusedAt >= 0) return mergeRefused(results[refusedAt] as string, (entries[refusedAt] as {key: string}).key, taken)
        return taken === results.length ? taken : undefined
      },
    }
  }

  /** The keys the repair budget allows now: it refills at keysPerSecondMax, up to one second's worth. */
  const takeBudget = (): number => {
    const nowMs = clock.monotonicMs()
    budget = Math.min(keysPerSecondMax, budget + ((nowMs - budgetAtMs) / 1000) * keysPerSecondMax)
    budgetAtMs = nowMs
    return Math.floor(budget)
  }

  /** The pairs an exchange with `peer` compares: those shared with it whose trees are built, of partition `only` when given. */
  const comparablePairs = (peer: string, only?: number): Pair[] => sharedPairs(peer).filter((pair) => (only === undefined || pair.partition === only) && trees.isComplete(pair.partition))

  /** Exchanges the pairs shared with `peer` whose roots differ; each report, in pair order. */
  const exchangeWith = async (peer: string, only?: number): Promise<{pairs: number; inSync: number; skipped: number; reports: ExchangeReport[]}> => {
    const address = addressOf(peer)
    const ringHash = ring().hash
    const pairs = comparablePairs(peer, only)
    const outcome = {pairs: pairs.length, inSync: 0, skipped: 0, reports: [] as ExchangeReport[]}
    if (address === undefined || pairs.length === 0) return outcome
    const local = localSide(ringHash)
    const remote = remoteSide(peer, address, ringHash)
    const remoteRoots = await remote.roots(pairs)
    const differing: Pair[] = []
    pairs.forEach((pair, index) => {
      const remoteRoot = remoteRoots[index]
      if (remoteRoot === undefined) {
        outcome.skipped += 1
      } else if (sameHash(remoteRoot, rootOf(pair.partition, pair.n))) {
        outcome.inSync += 1
        toRecover?.delete(pairKey(pair))
      } else {
        differing.push(pair)
      }
    })
    for (const pair of differing) {
      if (stopped) break
      const keysMax = takeBudget()
      if (keysMax <= 0) {
        outcome.skipped += 1
        continue
      }
      counts.exchanges += 1
      let report: ExchangeReport
      try {
        report = await exchangeTree(local, remote, pair.partition, pair.n, {keysMax, batchEntriesMax: exchangeBatchEntriesMax})
      } catch (error) {
        // An exchange that threw (this node's store failing in the middle of a merge) did not
        // finish either: counted, so that /stats and dyn top show a node that is not repaired.
        counts.exchangesFailed += 1
        throw error
      }
      // The budget pays for the work (every key copied), the count says what it repaired.
      budget -= report.keysCopied
      counts.keysRepaired += report.repairedHere + report.repairedThere
      if (!report.completed) counts.exchangesFailed += 1
      // A tree is caught up once one exchange with another home sent this node all it lacked,
      // whether or not the way back was taken (a peer whose disk is full refuses it).
      if (report.caughtUpHere) toRecover?.delete(pairKey(pair))
      outcome.reports.push(report)
    }
    return outcome
  }

  /** The ring's other members, in name order: the homes this node may share a partition with. */
  const ringPeers = (): string[] => {
    const current = ring()
    return presentMembers(membership.table)
      .map((member) => member.name)
      .filter((name) => name !== self && current.members.includes(name))
      .sort()
  }

  /** Those of them this node believes up. */
  const peers = (): string[] => ringPeers().filter((name) => parts.isUp(name))

  const checkRecovered = (): void => {
    if (!recovering || toRecover === undefined) return
    if (toRecover.size === 0) {
      recovering = false
      toRecover = undefined
      parts.log('anti-entropy: recovered; every partition this node is a home of has been compared with another home')
    }
  }

  const startRecovery = (): void => {
    if (!recovering || toRecover !== undefined) return
    toRecover = new Set()
    const current = ring()
    for (const n of replicaCountsOf()) {
      for (let partition = 0; partition < partitionCount; partition += 1) {
        const homes = homesOf(current, partition, n)
        if (homes.includes(self) && homes.length > 1) toRecover.add(pairKey({partition, n}))
      }
    }
    parts.log(`anti-entropy: this node started on an empty store under a known name; catching up ${toRecover.size} tree(s) from the other homes`)
    checkRecovered()
  }

  /** One round: the next peer in turn, every tree shared with it. */
  const runRound = async (): Promise<void> => {
    if (stopped || round !== undefined) return
    if (trees.completeCount < partitionCount) {
      await buildAll().catch((error: Error) => parts.log(`anti-entropy trees could not be built yet: ${error.message}`))
      return
    }
    startRecovery()
    const candidates = peers()
    if (candidates.length === 0) return
    const peer = candidates[peerCursor % candidates.length] as string
    peerCursor += 1
    const running = exchangeWith(peer)
    round = running
    try {
      const outcome = await running
      counts.rounds += 1
      counts.lastRoundAtMs = clock.nowMs()
      counts.treesOutOfSync = outcome.reports.filter((report) => report.differingKeys > 0).length
      const repaired = outcome.reports.reduce((sum, report) => sum + report.repairedHere + report.repairedThere, 0)
      if (repaired > 0) parts.log(`anti-entropy with ${peer}: ${repaired} key(s) repaired in ${outcome.reports.length} tree(s)`)
      checkRecovered()
    } finally {
      round = undefined
    }
  }

  const repairNow = async (partition?: number): Promise<RepairReport> => {
    if (partition !== undefined && !(Number.isInteger(partition) && partition >= 0 && partition < partitionCount)) {
      throw new DynError('bad_parameter', `partition ${partition} is out of range: this cluster has partitions 0 to ${partitionCount - 1}`)
    }
    // Its exchanges cannot take what its peers hold, so no round of it could ever be clean: said
    // at once, rather than leaving `dyn repair --wait` to wait out its time.
    const writesStoppedBy = store.writesStoppedBy
    if (writesStoppedBy !== undefined) {
      throw new DynError('storage_failed', `this node's store takes no writes until the node restarts (${writesStoppedBy}), so nothing can be repaired on it; its background rounds still send its peers what only it holds. Check its disk, then restart it`)
    }
    await buildAll()
    const exchanges: ExchangeReport[] = []
    let treesTotal = 0
    let inSync = 0
    let skipped = 0
    for (const peer of peers()) {
      const outcome = await exchangeWith(peer, partition)
      treesTotal += outcome.pairs
      inSync += outcome.inSync
      skipped += outcome.skipped
      exchanges.push(...outcome.reports)
    }
    // A home seen down is not asked, but its trees are not in sync for all that: counted as
    // skipped, so that a round (and `dyn repair --wait`) does not call the node in sync while
    // one of the homes it shares keys with could not be compared.
    const peersDown: string[] = []
    for (const peer of ringPeers()) {
      if (parts.isUp(peer)) continue
      const shared = comparablePairs(peer, partition).length
      if (shared === 0) continue
      treesTotal += shared
      skipped += shared
      peersDown.push(peer)
    }
    const refusedBy = new Map<string, MergeRefusal>()
    for (const report of exchanges) if (report.refused !== undefined && !refusedBy.has(report.refused.node)) refusedBy.set(report.refused.node, report.refused)
    checkRecovered()
    return {
      node: self,
      trees: treesTotal,
      treesInSync: inSync,
      treesSkipped: skipped,
      peersDown,
      refusedBy: [...refusedBy.values()],
      keysRepairedHere: exchanges.reduce((sum, report) => sum + report.repairedHere, 0),
      keysRepairedThere: exchanges.reduce((sum, report) => sum + report.repairedThere, 0),
      unfinished: skipped > 0 || exchanges.some((report) => report.unfinished || !report.completed),
      exchanges,
    }
  }

  const tombstoneGraceMs = parts.tombstoneGraceMs ?? tombstoneGraceMsDefault
  let reaping: Promise<unknown> | undefined
  /** One reap pass, when every member is up and no ring change runs (reaper.ts). */
  const runReapPass = async (): Promise<void> => {
    if (stopped || reaping !== undefined || trees.completeCount < partitionCount) return
    if (nextRingOf(membership.table) !== undefined) return
    if (parts.releasing()) return
    const others = presentMembers(membership.table).map((member) => member.name).filter((name) => name !== self)
    if (!others.every((name) => parts.isUp(name))) return
    // A member that left answers until its row says it handed off everything (reaper.ts).
    const departed = membership.table.members.filter((member) => member.handedOff !== true && member.name !== self && !others.includes(member.name)).map((member) => member.name)
    // The nodes not asked because their rows say they handed off (or were removed): each checked
    // member must know that too (the check's handler), or it may still take copies from one.
    const handedOff = membership.table.members.filter((member) => member.handedOff === true && member.name !== self).map((member) => member.name)
    const current = ring()
    const ringHash = current.hash
    const pass = reapPass({
      self,
      trees,
      nowMs: clock.nowMs(),
      graceMs: tombstoneGraceMs,
      homesOf: (partition, n) => homesOf(current, partition, n),
      objectOf: (partition, key) => store.getObject(partition, key),
      holdsHint: parts.holdsHint,
      others,
      departed,
      check: async (member, partition, keys) => {
        const body = await askMember(member, MessageType.AntiEntropyReapCheck, {ringHash, partition, keys, handedOff})
        if (body === undefined || !Array.isArray(body.answers) || !isDiskClock(body.diskClock)) return undefined
        const answers = body.answers as unknown[]
        return answers.every((answer) => isRecord(answer) && typeof answer.hinted === 'boolean' && (answer.releasing === undefined || typeof answer.releasing === 'boolean') && (answer.hash === null || isHashPair(answer.hash)))
          ? {answers: answers as ReapCheckAnswer[], diskClock: body.diskClock}
          : undefined
      },
      tickDiskClock: () => parts.diskClock.tick(),
      raiseDiskClocks: (entries) => parts.diskClock.raise(entries),
      reap: async (member, partition, entries, diskClocks) => {
        const body = await askMember(member, MessageType.AntiEntropyReap, {ringHash, partition, entries, diskClocks})
        if (body === undefined || !Array.isArray(body.deleted) || body.deleted.length !== entries.length || !body.deleted.every((deleted) => typeof deleted === 'boolean')) return undefined
        // A node from before `kept` answers deleted alone: the reap goes on as it did before `kept` existed.
        if (body.kept === undefined) return {kept: entries.map(() => false)}
        return Array.isArray(body.kept) && body.kept.length === entries.length && body.kept.every((kept) => typeof kept === 'boolean') ? {kept: body.kept as boolean[]} : undefined
      },
      reapHere: async (partition, key, hash) => {
        reapFence.record(partition, key, hash, fenceUntilMs())
        const done = await deleteIfHash(partition, key, hash)
        // Counted as it happens, as a peer's reap is: /stats never shows the tombstone gone uncounted.
        if (done) counts.tombstonesReaped += 1
        return done
      },
      push: async (member, partition, entries) => {
        await handOffToMember(member, partition, entries)
      },
    })
    const both = (async () => {
      const report = await pass
      if (report.reaped > 0) parts.log(`reaped ${report.reaped} tombstone(s) older than ${Math.round(tombstoneGraceMs / 1000)} s that no member held an older version of`)
      const released = await releaseStrays(current)
      if (released > 0) parts.log(`released ${released} copy(ies) of keys this node is no home of, once every home had them`)
    })()
    reaping = both
    try {
      await both
    } finally {
      reaping = undefined
    }
  }

  /**
   * Stray copies: objects this node keeps for a key it is no home of under the object's n (the
   * own copy a fallback coordinator wrote while every home was down, or a copy read repair put on
   * a node beyond the key's n). Each is handed to every home (merged and synced there, as a
   * release hands off) and deleted here once all of them took it, if it has not changed since.
   * Run by the reap task, under the same conditions (every member up, no ring change).
   */
  const releaseStrays = async (current: Ring): Promise<number> => {
    const strays: Array<{partition: number; n: number; homes: readonly string[]}> = []
    for (let partition = 0; partition < partitionCount; partition += 1) {
      for (const n of trees.replicaCounts(partition)) {
        const homes = homesOf(current, partition, n)
        if (!homes.includes(self) && homes.length > 0) strays.push({partition, n, homes})
      }
    }
    let released = 0
    let renewed = false
    for (const {partition, n, homes} of strays) {
      if (stopped || released >= strayKeysPerPassMax) break
      const keys = await listSegmentKeys(store, partition, n, allSegments)
      for (let start = 0; start < keys.keys.length && released < strayKeysPerPassMax; start += exchangeBatchEntriesMax) {
        const batch = keys.keys.slice(start, start + exchangeBatchEntriesMax)
        const entries: Array<{key: string; object: StoredObject; hash: Hash64}> = []
        for (const [key, high, low] of batch) {
          const object = await store.getObject(partition, key)
          if (object !== undefined && object.n === n) entries.push({key, object, hash: [high, low]})
        }
        const takenByAll = new Set(entries.map((entry) => entry.key))
        for (const home of homes) {
          const results = await handOffToMember(home, partition, entries)
          entries.forEach((entry, index) => {
            if (results[index] !== 'ok') takenByAll.delete(entry.key)
          })
        }
        if (takenByAll.size === 0) continue
        if (!renewed) {
          await parts.renewActor()
          renewed = true
        }
        for (const entry of entries) {
          if (!takenByAll.has(entry.key) || !(await deleteIfHash(partition, entry.key, entry.hash))) continue
          // Counted as it happens: /stats never shows the copy gone and the release not counted.
          released += 1
          counts.straysReleased += 1
        }
      }
    }
    return released
  }

  /** Deletes the key's object if it has that hash; `held` (optional) learns whether the key held any object. */
  const deleteIfHash = (partition: number, key: string, hash: Hash64, held?: {value: boolean}): Promise<boolean> =>
    store.deleteObjectIf(partition, key, (stored) => {
      if (held !== undefined) held.value = true
      return sameHash(objectHash(key, stored), hash)
    })

  const handlers = new Map<number, MessageHandler>([
    [
      MessageType.AntiEntropyRoots,
      async (body) => {
        if (!isRecord(body) || typeof body.ringHash !== 'string' || !Array.isArray(body.pairs) || body.pairs.length > rootPairsMax) throw new DynError('bad_request', 'malformed AntiEntropyRoots')
        const pairs = (body.pairs as unknown[]).map((pair) => {
          if (!Array.isArray(pair) || pair.length !== 2 || !isPartition(pair[0], partitionCount) || !isReplicaCount(pair[1])) throw new DynError('bad_request', 'malformed AntiEntropyRoots pair')
          return {partition: pair[0] as number, n: pair[1] as number}
        })
        const roots = await localSide(body.ringHash).roots(pairs)
        return {roots: roots.map((root) => root ?? null)}
      },
    ],
    [
      MessageType.AntiEntropyBranches,
      async (body) => {
        const tree = treeRequest(body, partitionCount, 'AntiEntropyBranches')
        return {branches: (await localSide(tree.ringHash).branches(tree.partition, tree.n)) ?? null}
      },
    ],
    [
      MessageType.AntiEntropySegments,
      async (body) => {
        const tree = treeRequest(body, partitionCount, 'AntiEntropySegments')
        const branches = (body as {branches?: unknown}).branches
        if (!isIndexList(branches, branchCount)) throw new DynError('bad_request', 'malformed AntiEntropySegments branches')
        return {segments: (await localSide(tree.ringHash).segments(tree.partition, tree.n, branches)) ?? null}
      },
    ],
    [
      MessageType.AntiEntropyKeys,
      async (body) => {
        const tree = treeRequest(body, partitionCount, 'AntiEntropyKeys')
        const segments = (body as {segments?: unknown}).segments
        if (!isIndexList(segments, segmentCount)) throw new DynError('bad_request', 'malformed AntiEntropyKeys segments')
        if (keyListingsInFlight >= keyListingsInFlightMax) throw new DynError('overloaded', `${self} is listing keys for ${keyListingsInFlight} exchanges already`)
        keyListingsInFlight += 1
        try {
          const listing = await localSide(tree.ringHash).keys(tree.partition, tree.n, segments)
          return listing === undefined ? {keys: null} : {keys: listing.keys, truncated: listing.truncated}
        } finally {
          keyListingsInFlight -= 1
        }
      },
    ],
    [
      MessageType.AntiEntropyReapCheck,
      async (body) => {
        if (
          !isRecord(body) || typeof body.ringHash !== 'string' || !isPartition(body.partition, partitionCount) || !isKeyList(body.keys) ||
          (body.handedOff !== undefined && !isNameList(body.handedOff))
        ) {
          throw new DynError('bad_request', 'malformed AntiEntropyReapCheck')
        }
        // A node that left answers whatever its ring: what it still holds is what matters.
        const gone = findMember(membership.table, self)?.status === 'left' || !ring().members.includes(self)
        if (!gone && (body.ringHash !== ring().hash || nextRingOf(membership.table) !== undefined)) throw new DynError('overloaded', `${self} is on another ring, or one is changing: no reap now`)
        // The reaper asks no node whose row says it handed off, and a node the claimant marked
        // removed at once (a leaver lost for good, claimant.ts) changes no ring, so the ring's hash
        // does not tell a member that has not heard of it yet: that member still stores the copies
        // such a node, alive after all, hands it, older than the tombstone about to be reaped.
        const unheard = (body.handedOff ?? []).filter((name) => findMember(membership.table, name)?.handedOff !== true)
        if (unheard.length > 0) throw new DynError('overloaded', `${self} has not yet heard that ${unheard.join(', ')} handed off or was removed: no reap now`)
        // Copies such a node sent before this node heard of it, still being merged, would land after the answer.
        const storing = parts.storingCopiesFrom(body.handedOff ?? [])
        if (storing.length > 0) throw new DynError('overloaded', `${self} is still storing copies ${storing.join(', ')} sent before it left or was removed: no reap now`)
        const partition = body.partition
        // Persisted before the answer: a copy of this store taken before now is then older than
        // what the reaper carries to every member, and a start on it is refused (disk-check.ts).
        const diskClock = await parts.diskClock.tick()
        const answers = await Promise.all(
          body.keys.map(async (key) => {
            const object = await store.getObject(partition, key)
            return {hash: object === undefined ? null : objectHash(key, object), hinted: parts.holdsHint(partition, key), releasing: parts.releasing()}
          }),
        )
        return {answers, diskClock}
      },
    ],
    [
      MessageType.AntiEntropyReap,
      async (body) => {
        if (
          !isRecord(body) || typeof body.ringHash !== 'string' || !isPartition(body.partition, partitionCount) || !Array.isArray(body.entries) || body.entries.length > reapBatchMax || !body.entries.every(isKeyHash) ||
          !Array.isArray(body.diskClocks) || body.diskClocks.length > membersMax || !body.diskClocks.every(isNamedDiskClock)
        ) {
          throw new DynError('bad_request', 'malformed AntiEntropyReap')
        }
        if (body.ringHash !== ring().hash) throw new DynError('overloaded', `${self} is on another ring: no reap now`)
        // Every member's disk clock as it answered the check, persisted here before anything is
        // deleted: a member that comes back on a store from before its answer is told so (disk-check.ts).
        await parts.diskClock.raise(body.diskClocks as Array<[string, number]>)
        const partition = body.partition
        const deleted: boolean[] = []
        const kept: boolean[] = []
        for (const [key, high, low] of body.entries as KeyHash[]) {
          // Fenced whether this node holds the tombstone or nothing: a repair that read it
          // elsewhere before the reap may still land here (reap-fence.ts).
          reapFence.record(partition, key, [high, low], fenceUntilMs())
          const held = {value: false}
          const done = await deleteIfHash(partition, key, [high, low], held)
          if (done) counts.tombstonesReaped += 1
          deleted.push(done)
          // Another object of the key came since the check (a write, or a copy in flight): the
          // reaper keeps its own copy, and its next pass finds this one. Seen under the key's lock
          // by the delete itself, not by a second read.
          kept.push(held.value && !done)
        }
        return {deleted, kept}
      },
    ],
    [
      MessageType.AntiEntropyObjects,
      async (body) => {
        if (!isRecord(body) || !isPartition(body.partition, partitionCount) || !Array.isArray(body.keys) || body.keys.length > exchangeBatchEntriesMax || !body.keys.every((key) => typeof key === 'string')) {
          throw new DynError('bad_request', 'malformed AntiEntropyObjects')
        }
        const objects = (await localSide(ring().hash).objects(body.partition, body.keys as string[])) ?? []
        // The first keys whose objects fit one answer (at least one key), for an asker that asks
        // again for the rest; one from before that (a rolling upgrade) is answered every key, as
        // it was, and only a batch past the frame fails there.
        if (body.inParts !== true) return {objects: objects.map((entry) => entry.object ?? null)}
        const [first = []] = entryBatches(objects, exchangeBatchBytesMax)
        return {objects: first.map((entry) => entry.object ?? null)}
      },
    ],
  ])

  // The trees are built at start whatever the interval; rounds run only with an interval (0: dyn repair alone).
  const tasks: PeriodicTask[] = [
    exchangeIntervalMs > 0
      ? {name: 'anti-entropy', intervalMs: exchangeIntervalMs, runsAtStart: true, run: runRound}
      : {name: 'anti-entropy trees', intervalMs: treeBuildRetryMs, runsAtStart: true, run: () => (trees.completeCount < partitionCount ? buildAll() : Promise.resolve())},
    // A pass at most every tenth of the grace (and at least every reapIntervalMsMax).
    {name: 'tombstone reaping', intervalMs: Math.max(reapIntervalMsMin, Math.min(reapIntervalMsMax, Math.round(tombstoneGraceMs / 10))), run: runReapPass},
  ]
  return {
    name: 'anti-entropy',
    handlers,
    periodicTasks: tasks,
    stats: () => ({
      antiEntropy: {
        treesBuilt: `${trees.completeCount}/${partitionCount}`,
        rounds: counts.rounds,
        exchanges: counts.exchanges,
        exchangesFailed: counts.exchangesFailed,
        keysRepaired: counts.keysRepaired,
        treesOutOfSync: counts.treesOutOfSync,
        lastRoundAtMs: counts.lastRoundAtMs === 0 ? null : counts.lastRoundAtMs,
        tombstones: trees.tombstoneCount,
        tombstonesReaped: counts.tombstonesReaped,
        straysReleased: counts.straysReleased,
        recovering,
        ...(toRecover === undefined ? {} : {treesToRecover: toRecover.size}),
      },
    }),
    stop: async () => {
      stopped = true
      await Promise.allSettled([building, round, reaping])
    },
    repairNow,
    summary: () => ({
      recovering,
      ...(toRecover === undefined ? {} : {treesToRecover: toRecover.size}),
      treesBuilt: trees.completeCount,
      keysRepaired: counts.keysRepaired,
      lastRoundAtMs: counts.lastRoundAtMs === 0 ? null : counts.lastRoundAtMs,
    }),
  }
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name) => b.includes(name))
}

function isUint32(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffffffff
}

function isHashPair(x: unknown): x is Hash64 {
  return Array.isArray(x) && x.length === 2 && isUint32(x[0]) && isUint32(x[1])
}

function isHashList(x: unknown, count: number): x is number[] {
  return Array.isArray(x) && x.length === count * 2 && x.every(isUint32)
}

function isKeyHash(x: unknown): x is KeyHash {
  return Array.isArray(x) && x.length === 3 && typeof x[0] === 'string' && isUint32(x[1]) && isUint32(x[2])
}

function isPartition(x: unknown, partitionCount: number): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < partitionCount
}

function isReplicaCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= replicasPerKeyMax
}

/** A list of distinct indexes below `count`, ascending. */
function isIndexList(x: unknown, count: number): x is number[] {
  return Array.isArray(x) && x.length <= count && x.every((value, index) => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < count && (index === 0 || value > (x[index - 1] as number)))
}

function treeRequest(body: unknown, partitionCount: number, name: string): {ringHash: string; partition: number; n: number} {
  if (!isRecord(body) || typeof body.ringHash !== 'string' || !isPartition(body.partition, partitionCount) || !isReplicaCount(body.n)) throw new DynError('bad_request', `malformed ${name}`)
  return {ringHash: body.ringHash, partition: body.partition, n: body.n}
}

function isNameList(x: unknown): x is string[] {
  return Array.isArray(x) && x.length <= membersMax && x.every((name) => typeof name === 'string')
}

function isKeyList(x: unknown): x is string[] {
  return Array.isArray(x) && x.length <= reapBatchMax && x.every((key) => typeof key === 'string')
}

function isNamedDiskClock(x: unknown): boolean {
  return Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && namePattern.test(x[0]) && isDiskClock(x[1])
}
