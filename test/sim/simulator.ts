/**
 * One simulated run from one seed (issue 7): a cluster of 3 to 7 nodes, seeded clients and a
 * seeded fault schedule on simulated time, some keys deleted once the clients are done (faults
 * may still run), then every fault healed, every key read back (twice: the first read repairs,
 * the second is the one checked), and the history checked, with what the fault log says of
 * every node and link for the availability checks (availability.ts).
 *
 * The same seed gives the same run, byte for byte: every choice comes from a stream seeded from
 * the run's seed (deriveSeed), time is simulated, and the event log's digest shows it.
 */

import {createHash} from 'node:crypto'
import {deriveSeed, seededRandom, type Random} from '../../src/clock.js'
import {preferenceListForKey} from '../../src/ring/ring.js'
import {partitionOfKey} from '../../src/ring/partition.js'
import {dottedValues} from '../../src/versioning/dvvset.js'
import type {StoredVersion} from '../../src/storage/stored-object.js'
import {checkAvailability} from './availability.js'
import {checkHistory, resurrectionChecks, type HomeHolding, type ReplicaState, type Violation} from './checker.js'
import {SimCluster, simTombstoneGraceMs, versionId, type ClusterConfig} from './cluster.js'
import {plansOldDisk, runDiskFailure, runFaults, runHomesCrash, runOldDisk, type FaultConfig, type HomesCrashConfig} from './faults.js'
import {checkConvergence, checkReaped, fingerprint, readCopies, reapMarginMs, storedReplicaCounts} from './convergence-check.js'
import {checkMembership} from './membership-checks.js'
import {runGrowth, runMembershipChange, type GrowthConfig, type MembershipChangeConfig, type MembershipChangeResult} from './membership-faults.js'
import {History} from './history.js'
import {Client, type WorkloadConfig} from './workload.js'

export interface RunConfig {
  readonly cluster: ClusterConfig
  readonly workload: WorkloadConfig
  readonly faults: FaultConfig
  /** A join, leave or removal while the clients run, in a share of the seeds. */
  readonly membership?: MembershipChangeConfig
  /** Every home of one key crashed at once, in a share of the seeds. */
  readonly homesCrash?: HomesCrashConfig
  /** The cluster starts with fewer owners than N and grows by joins while the clients write, in a share of the seeds. */
  readonly growth?: GrowthConfig
  /** Keys deleted once the clients are done (faults may still run), so that the final reads check a delete (check 5). */
  readonly deletesAtEnd: readonly string[]
}

/** The share of seeds with a membership change. */
export const membershipChangeShare = 0.35

/** The share of seeds in which every home of one key crashes at once. */
export const homesCrashShare = 0.3

/** The share of seeds in which the cluster starts with fewer owners than N and grows (12 of the 200 CI seeds). */
export const growthShare = 0.07

export interface RunResult {
  readonly seed: number
  readonly config: RunConfig
  readonly violations: readonly Violation[]
  /** SHA-256 of the event log: equal for two runs of one seed. */
  readonly digest: string
  readonly operations: number
  readonly simulatedMs: number
  readonly events: number
  readonly history: History
  /** What the run gave the checks that only apply now and then: a check that meets nothing checks nothing. */
  readonly exercised: {
    /** Requests the availability model said must succeed (check 8). */
    readonly mustSucceed: number
    /** Deletes the resurrection check held to (check 5). */
    readonly deletesChecked: number
    /** Gets that asked more replicas than R, in place of a failure or after waiting (get-coordinator.ts). */
    readonly readsAskingMoreThanR: number
    /** Puts a coordinator refused because the key had too many siblings. */
    readonly putsRefusedForSiblings: number
  }
}

/** A run that has not finished its workload by then is stuck: a liveness bug, reported as such. */
export const runSimulatedMsMax = 10 * 60_000

/**
 * Simulated time between healing and the final checks: failure detectors see every node up
 * again within seconds, and hinted handoff runs every second, so this leaves many rounds.
 */
export const handoffSettleMs = 15_000

/** Tries of one final read before a healed cluster is declared unable to answer it. */
export const finalReadAttemptsMax = 3

/**
 * Draws a run's shape from its seed. `options.withoutLostLeaver` leaves out the lost leaver, and
 * `withoutLostMember` the member lost during a join, which seeds found before they existed did
 * not have (a regression seed runs as found too: sim.test.ts).
 */
export function configFor(seed: number, options: {readonly withoutLostLeaver?: boolean; readonly withoutLostMember?: boolean} = {}): RunConfig {
  const random = seededRandom(deriveSeed(seed, 'config'))
  const nodeCount = 3 + random.int(5)
  const keyCount = 2 + random.int(7)
  // A stream of its own, so that adding membership changes left every other draw of a seed as it was.
  const membershipRandom = seededRandom(deriveSeed(seed, 'membership'))
  const withChange = membershipRandom.next() < membershipChangeShare
  // A leave or removal needs a node to spare: N = 3 must still fit afterwards.
  const kinds = nodeCount >= 4 ? (['join', 'leave', 'remove'] as const) : (['join'] as const)
  const drawn: MembershipChangeConfig | undefined = withChange ? {kind: kinds[membershipRandom.int(kinds.length)]!, atMs: membershipRandom.int(3000)} : undefined
  // Half the removals stay down a while first, so that fallbacks hold hints for the node when it is removed.
  const downFirst = drawn?.kind === 'remove' && membershipRandom.next() < 0.5 ? {...drawn, downBeforeRemoveMs: 1000 + membershipRandom.int(4000)} : drawn
  // Half the immediate removals are followed by a join, from a stream of its own (no other draw moves).
  const joinAfter = downFirst?.kind === 'remove' && downFirst.downBeforeRemoveMs === undefined && seededRandom(deriveSeed(seed, 'join-after-remove')).next() < 0.5
  const withJoinAfter = joinAfter ? {...downFirst!, joinAfter} : downFirst
  // Issue 19 item 4, from a stream of its own: in half the changes the claimant crashes during a
  // leave or removal, or the joining node during its transfers.
  const withCrash = withJoinAfter === undefined ? undefined : withMembershipCrash(withJoinAfter, seededRandom(deriveSeed(seed, 'membership-crash')))
  // And in half the leaves where N = 3 still fits with two nodes fewer, a second node leaves,
  // staged through another node at the same moment (its own stream too).
  const withSecondLeave =
    withCrash?.kind === 'leave' && nodeCount >= 5 && seededRandom(deriveSeed(seed, 'second-leave')).next() < 0.5 ? {...withCrash, secondLeave: true} : withCrash
  // And in half the other leaves, the leaver's machine is lost for good during its leave, and it
  // is removed (its own stream too): the change must end from the surviving replicas.
  const lostRandom = seededRandom(deriveSeed(seed, 'leaver-lost'))
  const withLostLeaver =
    options.withoutLostLeaver !== true && withSecondLeave?.kind === 'leave' && withSecondLeave.secondLeave !== true && lostRandom.next() < leaverLostShare ? {...withSecondLeave, leaverLostAfterMs: lostRandom.int(3000)} : withSecondLeave
  // And in half the removals not followed by a join, the node is cut off rather than crashed,
  // and can reach the others again once it is removed, in half of those after a restart on its
  // store (its own stream too).
  const awayRandom = seededRandom(deriveSeed(seed, 'removed-away'))
  const withAway =
    withLostLeaver?.kind === 'remove' && withLostLeaver.joinAfter !== true && awayRandom.next() < 0.5
      ? {
          ...withLostLeaver,
          removedWhileAway: true,
          oldDiskAfterRemoval: awayRandom.next() < 0.5,
          // In half of those (its own stream), restarted only once it can reach the others: it must
          // refuse to start, before it serves anything (its disk check hears of the removal).
          ...(seededRandom(deriveSeed(seed, 'removed-restart-after-heal')).next() < 0.5 ? {restartAfterHeal: true} : {}),
          // In half of those (its own stream), the cut-off node's operator first tries to remove the others.
          ...(seededRandom(deriveSeed(seed, 'away-operator')).next() < 0.5 ? {awayOperatorRemovesOthers: true} : {}),
        }
      : withLostLeaver
  // And in half the joins the new node is started alone and joined as `dyn cluster join SEED &&
  // dyn cluster commit` join it, not through --seeds (its own stream too): its one-member ring
  // gives way to the cluster's, and what the join's transfers bring it must stay (found by a new
  // user's walk, where its release handed them back and deleted them).
  const joinedAlone = withAway?.kind === 'join' && seededRandom(deriveSeed(seed, 'joined-alone')).next() < 0.5 ? {...withAway, joinedAlone: true} : withAway
  // And in half the joins of a node started alone, its operator first gets its --advertise wrong,
  // at its first start or in a restart after its join was staged (its own stream too): the join
  // must be refused, or shown by the plan as one a commit leaves out, never taken and then shown
  // by no plan (a new user's walk).
  const wrongRandom = seededRandom(deriveSeed(seed, 'wrong-advertise'))
  const wrongOrNot = joinedAlone?.joinedAlone === true && wrongRandom.next() < wrongAdvertiseShare ? {...joinedAlone, wrongAdvertise: wrongRandom.next() < 0.5 ? ('at-join' as const) : ('before-commit' as const)} : joinedAlone
  // And in half the other joins through --seeds, a member that stays in the ring is lost for good
  // while the join's transfers run, and the operator removes it (its own stream too): the join
  // must end without it, and its removal after (a join waited for such a member for ever).
  // Of those, in half (a stream of its own again) the machine was not lost after all: the member
  // comes back with its disk once the join has ended without it, and its removal is cleared.
  const memberLostRandom = seededRandom(deriveSeed(seed, 'member-lost-during-join'))
  const membership =
    options.withoutLostMember !== true && wrongOrNot?.kind === 'join' && wrongOrNot.joinedAlone !== true && wrongOrNot.joinerCrashAfterMs === undefined && memberLostRandom.next() < memberLostShare
      ? {...wrongOrNot, memberLostAfterMs: memberLostRandom.int(1000), ...(seededRandom(deriveSeed(seed, 'member-found-again')).next() < memberFoundAgainShare ? {memberFoundAgain: true} : {})}
      : wrongOrNot
  const shaped = {...shapeFor(random, nodeCount, keyCount), deletesAtEnd: deletesAtEndFor(seed, keyCount)}
  // Its own stream too, for the same reason. The homes crash within the first third of the
  // workload's expected length (its clients' pauses average thinkMsMax / 2), so that the
  // clients still have many requests to make while the key has no home up.
  const homesRandom = seededRandom(deriveSeed(seed, 'homes-crash'))
  const workloadMsExpected = shaped.workload.operationsPerClient * (shaped.workload.thinkMsMax / 2 + 1)
  const homesCrash: HomesCrashConfig | undefined =
    homesRandom.next() < homesCrashShare
      ? {atMs: homesRandom.int(Math.max(1, Math.floor(workloadMsExpected / 3))), durationMs: 500 + homesRandom.int(2500), key: shaped.workload.keys[homesRandom.int(keyCount)]!, homeCount: shaped.cluster.defaultN}
      : undefined
  const config = homesCrash === undefined ? shaped : {...shaped, homesCrash}
  // Its own stream too: in some seeds the nodes run two or three to a machine (dyn start
  // --processes), so that preference lists skip a machine already in them, and a crash takes
  // the whole machine down.
  const machinesRandom = seededRandom(deriveSeed(seed, 'machines'))
  const perMachine = machinesRandom.next() < sharedMachinesShare ? 2 + (nodeCount >= 6 ? machinesRandom.int(2) : 0) : 1
  const sharedOrNot = perMachine === 1 ? config : {...config, cluster: {...config.cluster, processesPerMachine: perMachine}}
  // Its own stream too: in some seeds a key may have only 1 to 3 siblings before a coordinator
  // refuses new concurrent writes, so that the faults leave replicas that each accepted writes
  // up to that limit apart, and their union must still reach every home (a merge is never
  // refused for the count: replica.ts).
  const siblingsRandom = seededRandom(deriveSeed(seed, 'siblings-limit'))
  const onMachines = siblingsRandom.next() < siblingsLimitedShare ? {...sharedOrNot, cluster: {...sharedOrNot.cluster, siblingsPerKeyMax: 1 + siblingsRandom.int(3)}} : sharedOrNot
  // Its own stream too. A growth is the run's membership change: it replaces any other one.
  const growthRandom = seededRandom(deriveSeed(seed, 'grow'))
  if (growthRandom.next() < growthShare) return withGrowth(growthRandom, onMachines)
  // A removal loses that node's disk, as a leaver lost for good does: no second disk loss in the
  // same run, or a W = 2 write could go with both.
  if (membership?.kind === 'remove' || membership?.leaverLostAfterMs !== undefined || membership?.memberLostAfterMs !== undefined) return {...onMachines, faults: {...onMachines.faults, wipeAllowed: false}, membership}
  return membership === undefined ? onMachines : {...onMachines, membership}
}

/** The share of joins of a node started alone whose operator first gets its --advertise wrong. */
export const wrongAdvertiseShare = 0.5

/** The share of seeds whose keys may have only a few siblings (ClusterConfig.siblingsPerKeyMax). */
export const siblingsLimitedShare = 0.3

/** The share of seeds whose nodes run two or three to a machine. */
export const sharedMachinesShare = 0.3

/** The share of leaves (of one node) whose leaver is lost for good during its leave, and then removed. */
export const leaverLostShare = 0.5

/** The share of joins through --seeds during which a staying member is lost for good, and then removed. */
export const memberLostShare = 0.5

/** Of the members lost during a join, the share whose machine comes back with its disk, and whose removal is cleared. */
export const memberFoundAgainShare = 0.5

/** The share of membership changes during which the claimant (a leave, a removal) or the joiner crashes. */
export const membershipCrashShare = 0.5

function withMembershipCrash(change: MembershipChangeConfig, random: Random): MembershipChangeConfig {
  if (random.next() >= membershipCrashShare || change.joinAfter === true) return change
  const afterMs = random.int(2000)
  const downMs = 500 + random.int(3000)
  return change.kind === 'join' ? {...change, joinerCrashAfterMs: afterMs, joinerDownMs: downMs} : {...change, claimantCrashAfterMs: afterMs, claimantDownMs: downMs}
}

/**
 * The keys deleted at the end of the workload: about half of them, at least one, from a stream of
 * their own. Not all: a delete excuses every write it had seen from check 1.
 */
function deletesAtEndFor(seed: number, keyCount: number): string[] {
  const random = seededRandom(deriveSeed(seed, 'deletes-at-end'))
  const always = random.int(keyCount)
  return Array.from({length: keyCount}, (_, index) => index).filter((index) => index === always || random.next() < 0.4).map((index) => `k${index}`)
}

function shapeFor(random: ReturnType<typeof seededRandom>, nodeCount: number, keyCount: number): Omit<RunConfig, 'deletesAtEnd'> {
  return {
    cluster: {
      nodeCount,
      partitionCount: 16,
      defaultN: 3,
      requestTimeoutMs: 500,
      gossipIntervalMs: 1000,
      link: {delayMsMin: 0.2, delayMsMax: 1 + random.int(10), lossRate: random.next() < 0.3 ? 0.01 : 0},
    },
    workload: {
      clientCount: 2 + random.int(4),
      operationsPerClient: 15 + random.int(25),
      keys: Array.from({length: keyCount}, (_, index) => `k${index}`),
      thinkMsMax: 1 + random.int(80),
    },
    faults: {
      faultCount: random.int(7),
      windowMs: 2000 + random.int(6000),
      durationMsMin: 100,
      durationMsMax: 3000,
      wipeAllowed: random.next() < 0.25,
    },
  }
}

/**
 * A run on a cluster that starts with 1 to N - 1 nodes and grows to N or N + 1 while the clients
 * write (issue 13: keys written while the cluster was small must reach their full N). The
 * clients pause longer, so that the workload lasts about as long as a ring change takes (seconds)
 * and writes fall before, during and after the growth; the nodes join within the first third
 * of the workload's expected length, in half the seeds at once (as nodes started together with
 * `--seeds`). Clients ask as the HTTP API's clients do, mostly with the defaults the nodes fit
 * to the owners they see. No disk is wiped, so that every acknowledged write is held to
 * reaching every home of the N its key records.
 */
function withGrowth(random: ReturnType<typeof seededRandom>, config: RunConfig): RunConfig {
  const n = config.cluster.defaultN
  const initialNodes = 1 + random.int(n - 1)
  const joinCount = n + random.int(2) - initialNodes
  const thinkMsMax = 100 + random.int(900)
  const windowMs = Math.max(1, Math.floor((config.workload.operationsPerClient * (thinkMsMax / 2 + 1)) / 3))
  const together = random.next() < 0.5
  const firstMs = random.int(windowMs)
  let joinsAtMs = Array.from({length: joinCount}, (_, index) => (together || index === 0 ? firstMs : random.int(windowMs))).sort((a, b) => a - b)
  // In some seeds a new, empty one-node cluster is joined by the others at once, before or as the
  // first writes come (issue 13 item 3: its ring is installed at the commit, with no transfer).
  // Drawn last, so that the draws above stay what they were for every other seed.
  const emptyStart = initialNodes === 1 && together && random.next() < 0.5
  let startAfterMs: number | undefined
  if (emptyStart) {
    joinsAtMs = joinsAtMs.map(() => 0)
    startAfterMs = random.int(3000)
  }
  return {
    ...config,
    cluster: {...config.cluster, nodeCount: initialNodes},
    workload: {...config.workload, thinkMsMax, apiQuorums: true, ...(startAfterMs === undefined ? {} : {startAfterMs})},
    faults: {...config.faults, wipeAllowed: false},
    growth: {initialNodes, joinsAtMs},
  }
}

export async function runSeed(seed: number, config: RunConfig = configFor(seed)): Promise<RunResult> {
  const history = new History()
  const cluster = await SimCluster.start(seed, config.cluster, history)
  const time = cluster.time
  try {
    const workloadStartMs = time.monotonicMs()
    const clients = Array.from(
      {length: config.workload.clientCount},
      (_, index) => new Client(`c${index + 1}`, cluster, history, seededRandom(deriveSeed(seed, `client${index + 1}`)), config.workload),
    )
    // Once the clients are done, the keys to delete are read and deleted (faults may still run).
    const closer = new Client('closer', cluster, history, seededRandom(deriveSeed(seed, 'closer')), config.workload)
    const clientsDone = Promise.all(clients.map((client) => client.run()))
    const workload = clientsDone.then(async () => {
      for (const key of config.deletesAtEnd) await closer.deleteAtEnd(key)
    })
    const oldDiskRandom = seededRandom(deriveSeed(seed, 'old-disk'))
    const oldDisk = plansOldDisk(config.faults, oldDiskRandom)
    const faults = runFaults(cluster, seededRandom(deriveSeed(seed, 'faults')), config.faults, history, seededRandom(deriveSeed(seed, 'hint-loss')), oldDisk)
    const change: Promise<MembershipChangeResult | undefined> =
      config.membership !== undefined
        ? runMembershipChange(cluster, seededRandom(deriveSeed(seed, 'membership-run')), config.membership, history)
        : config.growth !== undefined
          ? runGrowth(cluster, config.growth, history)
          : Promise.resolve(undefined)
    const homesCrash = config.homesCrash === undefined ? Promise.resolve() : runHomesCrash(cluster, config.homesCrash, history)
    const diskFailure = runDiskFailure(cluster, seededRandom(deriveSeed(seed, 'disk-failure')), config.faults, history)
    const oldDiskRun = oldDisk ? runOldDisk(cluster, oldDiskRandom, history, clientsDone, Promise.all([workload, faults, change, homesCrash, diskFailure])) : Promise.resolve()
    const [, , changed] = await time.until(Promise.all([workload, faults, change, homesCrash, diskFailure, oldDiskRun]), runSimulatedMsMax)
    // Faults may have crashed a node after the fault schedule's own restarts (a leave or removal
    // is not one of them): bring back every node that has not left.
    for (const node of cluster.nodes) if (!cluster.isUp(node.name)) await cluster.restart(node.name, {wipe: false})
    // The background loss of the network is a fault too: it heals with the others.
    cluster.network.setDefaultLink({...config.cluster.link, lossRate: 0})
    // After a leave or a removal the cluster may be smaller than the N a key was written with.
    const memberCount = (): number => cluster.agreedRing()?.members.length ?? cluster.upNodes().length
    const nOf = (key: string): number => Math.min(memberCount(), Math.max(config.cluster.defaultN, ...[...history.writes.values()].filter((write) => write.key === key).map((write) => write.n)))
    // Gossip settles who is where, and hinted handoff delivers, before the final pass.
    const healedAtMs = time.nowMs()
    await time.runFor(handoffSettleMs)
    // After a membership change: one ring everywhere, and the new homes hold every acknowledged
    // write, read from their stores before the final pass so that read repair cannot hide a
    // missed transfer.
    const membershipViolations = changed === undefined ? [] : await time.until(checkMembership(cluster, history, changed, config.cluster.defaultN), runSimulatedMsMax)
    // Check 11 owes reaps only once nothing has held them back for the grace and its margin: from
    // the heal, or, after a membership change, from the moment its ring settled and every release
    // was handed off (checkMembership waits for that), which may come later. The run goes on
    // until then; nothing reads a key meanwhile.
    const quietFromMs = changed === undefined ? healedAtMs : Math.max(healedAtMs, time.nowMs())
    const reapsOwedAtMs = quietFromMs + simTombstoneGraceMs + reapMarginMs
    if (time.nowMs() < reapsOwedAtMs) await time.runFor(reapsOwedAtMs - time.nowMs())
    // Check 6 looks at the homes' stores now, before the final reads could repair anything.
    const homes = await time.until(collectHomeHoldings(cluster, config.workload.keys, nOf), runSimulatedMsMax)
    // Check 10 looks at them too: anti-entropy (and handoff) alone must have made them agree.
    const settled = await time.until(readCopies(cluster, config.workload.keys), runSimulatedMsMax)
    const convergenceViolations = [...checkConvergence(settled), ...checkReaped(settled, time.nowMs(), quietFromMs)]
    const finalReader = new Client('final', cluster, history, seededRandom(deriveSeed(seed, 'final')), config.workload)
    const finalFailures = new Map<string, string>()
    for (let pass = 0; pass < 2; pass += 1) {
      for (const key of config.workload.keys) {
        let failure = await time.until(finalReader.finalRead(key, nOf(key)), runSimulatedMsMax)
        // A healed cluster answers every read; a few retries cover a connection still backing off.
        for (let attempt = 1; failure !== undefined && attempt < finalReadAttemptsMax; attempt += 1) {
          await time.runFor(config.cluster.requestTimeoutMs * 2)
          failure = await time.until(finalReader.finalRead(key, nOf(key)), runSimulatedMsMax)
        }
        if (failure !== undefined && pass === 1) finalFailures.set(key, failure)
        // Read repair runs after the answer: let it land before the next read.
        await time.runFor(config.cluster.requestTimeoutMs)
      }
    }
    // Check 4 compares a key's homes under the n it is stored with (a read at a larger n than a
    // key was written with puts a copy beyond its homes, which is released again).
    const storedN = storedReplicaCounts(await time.until(readCopies(cluster, config.workload.keys), runSimulatedMsMax))
    const replicaStates = await time.until(collectReplicaStates(cluster, config.workload.keys, (key) => storedN.get(key) ?? 0), runSimulatedMsMax)
    // A coordinator keeps its hints as its replicas fail, by the request timeout at the latest.
    const firstRing = cluster.firstRing
    const handoff = {homes, hintWindowMs: config.cluster.requestTimeoutMs * 2, ...(firstRing === undefined ? {} : {firstRing}), ...(changed === undefined ? {} : {ringChangedWithClusterN: config.cluster.defaultN})}
    // Requests are judged on the first ring only: not from the moment a membership change begins.
    const changeFromMs = config.membership !== undefined ? workloadStartMs + config.membership.atMs : config.growth !== undefined ? workloadStartMs + Math.min(...config.growth.joinsAtMs) : Number.POSITIVE_INFINITY
    const availability = firstRing === undefined ? {violations: [], judged: 0} : checkAvailability(history, {faults: cluster.faultLog, ring: firstRing, judgedBeforeMs: changeFromMs})
    const violations = [...membershipViolations, ...convergenceViolations, ...checkHistory(history, replicaStates, finalFailures, handoff), ...availability.violations]
    const digest = createHash('sha256')
    for (const line of history.log) digest.update(`${line.atMs} ${line.text}\n`)
    digest.update(`events ${time.eventsRun}`)
    return {
      seed,
      config,
      violations,
      digest: digest.digest('hex'),
      operations: history.writes.size + history.reads.length,
      simulatedMs: time.monotonicMs(),
      events: time.eventsRun,
      history,
      exercised: {mustSucceed: availability.judged, deletesChecked: resurrectionChecks(history), readsAskingMoreThanR: history.readsAskingMoreThanR, putsRefusedForSiblings: history.requests.filter((request) => request.end === 'refused' && request.detail?.startsWith('too_many_siblings') === true).length},
    }
  } finally {
    await cluster.stop()
  }
}

/** The version ids each home replica of each key stores, read from the stores directly. */
async function collectHomeHoldings(cluster: SimCluster, keys: readonly string[], nOf: (key: string) => number): Promise<Map<string, HomeHolding[]>> {
  const holdings = new Map<string, HomeHolding[]>()
  const anyNode = cluster.upNodes().map((name) => cluster.assembled(name)).find((node) => node !== undefined)
  if (anyNode === undefined) return holdings
  const ring = anyNode.membership.ring
  for (const key of keys) {
    const partition = partitionOfKey(key, ring.partitionCount)
    const perKey: HomeHolding[] = []
    for (const home of preferenceListForKey(ring, key).nodes.slice(0, nOf(key))) {
      const node = cluster.assembled(home)
      // A home that does not run keeps its place: check 6 takes the first n of this list (seed
      // 445654, where a removal that was never made left the departed node a home).
      if (node === undefined) {
        perKey.push({node: home, ids: undefined})
        continue
      }
      const object = await node.store.getObject(partition, key)
      perKey.push({node: home, ids: object === undefined ? [] : dottedValues(object.versions).map(({value}) => idOf(value))})
    }
    holdings.set(key, perKey)
  }
  return holdings
}

/** What each home replica of each key stores: its version ids with their causal content. */
async function collectReplicaStates(cluster: SimCluster, keys: readonly string[], nOf: (key: string) => number): Promise<Map<string, ReplicaState[]>> {
  const states = new Map<string, ReplicaState[]>()
  const anyNode = cluster.upNodes().map((name) => cluster.assembled(name)).find((node) => node !== undefined)
  if (anyNode === undefined) return states
  const ring = anyNode.membership.ring
  for (const key of keys) {
    const homes = preferenceListForKey(ring, key).nodes.slice(0, nOf(key))
    const partition = partitionOfKey(key, ring.partitionCount)
    const perKey: ReplicaState[] = []
    for (const home of homes) {
      const node = cluster.assembled(home)
      if (node === undefined) continue
      const object = await node.store.getObject(partition, key)
      perKey.push({node: home, fingerprint: fingerprint(object?.versions)})
    }
    states.set(key, perKey)
  }
  return states
}

function idOf(version: StoredVersion): string {
  return versionId(version.value)
}

/** A failed run, for people: the seed, the command that reproduces it, each violation and the history around it. */
export function describeFailure(result: RunResult, contextLines = 25): string {
  const lines = [`seed ${result.seed}: ${result.violations.length} violation(s) — reproduce with: npm run sim -- --seed ${result.seed}`]
  const downMs = result.config.membership?.downBeforeRemoveMs
  const lostAfterMs = result.config.membership?.leaverLostAfterMs
  const then = result.config.membership?.joinAfter === true ? ', then a join' : lostAfterMs !== undefined ? `, the leaver lost for good ${lostAfterMs} ms after the commit, then removed` : ''
  const wrong = result.config.membership?.wrongAdvertise
  const joinedHow = result.config.membership?.joinedAlone === true ? ` (started alone${wrong === undefined ? '' : `, a wrong --advertise ${wrong}`})` : ''
  const change = result.config.membership === undefined ? '' : `, ${result.config.membership.kind}${joinedHow} at ${result.config.membership.atMs} ms${downMs === undefined ? '' : ` after ${downMs} ms down`}${then}`
  const homesCrash = result.config.homesCrash === undefined ? '' : `, every home of ${result.config.homesCrash.key} down at ${result.config.homesCrash.atMs} ms`
  const growth = result.config.growth === undefined ? '' : `, growing by joins at ${result.config.growth.joinsAtMs.join(', ')} ms`
  const perMachine = result.config.cluster.processesPerMachine ?? 1
  const siblingsMax = result.config.cluster.siblingsPerKeyMax
  lines.push(`  ${result.config.cluster.nodeCount} nodes${perMachine === 1 ? '' : ` (${perMachine} per machine)`}${siblingsMax === undefined ? '' : `, at most ${siblingsMax} sibling(s) a key`}, ${result.config.workload.clientCount} clients, keys ${result.config.workload.keys.join(' ')}, ${result.config.faults.faultCount} faults${change}${homesCrash}${growth}`)
  for (const violation of result.violations.slice(0, 5)) {
    lines.push(`  [${violation.check}] ${violation.key}: ${violation.message}`)
    const related = result.history.log.filter((line) => line.text.includes(`${violation.key} `) || line.text.includes(`${violation.key}#`) || !/ k\d/.test(line.text))
    const before = related.filter((line) => line.atMs <= violation.atMs).slice(-contextLines)
    const after = related.filter((line) => line.atMs > violation.atMs).slice(0, 5)
    for (const line of [...before, ...after]) lines.push(`    ${line.atMs.toFixed(1).padStart(9)} ms  ${line.text}`)
  }
  return lines.join('\n')
}
