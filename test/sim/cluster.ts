/**
 * A whole dyn cluster in one process (issue 7): the same node code (`assembleNode`) on
 * memory-level stores, the simulated network and simulated time, built from one seed. The harness
 * crashes nodes (in-flight messages lost, timers gone), restarts them on their storage (a snapshot
 * taken at the crash, so a crashed node's leftover work cannot write to what the restart reads) or
 * on a wiped one, and gives clients each node's KV service as a client would meet it: a request to
 * a node that crashes under it ends as a connection reset.
 */

import {deriveSeed, seededRandom, type Random} from '../../src/clock.js'
import type {KvService} from '../../src/api/service.js'
import type {DeleteOutcome} from '../../src/coordinator/delete-coordinator.js'
import type {GetOutcome} from '../../src/coordinator/get-coordinator.js'
import type {PutOutcome} from '../../src/coordinator/put-coordinator.js'
import {assembleNode, type AssembledNode} from '../../src/node/assemble.js'
import {DynError} from '../../src/errors.js'
import {memoryDatabase, type StoreDatabase} from '../../src/storage/backend.js'
import {hintRange} from '../../src/storage/layout.js'
import {SimulatedTime} from '../../src/simulated-time.js'
import {type LinkProfile} from '../../src/transport/simulated-network.js'
import type {Transport} from '../../src/transport/transport.js'
import {FaultLog, RecordingNetwork} from './fault-log.js'
import type {History} from './history.js'
import {preferenceListForKey, type Ring} from '../../src/ring/ring.js'
import {partitionOfKey} from '../../src/ring/partition.js'
import {values} from '../../src/versioning/dvvset.js'

export interface ClusterConfig {
  readonly nodeCount: number
  readonly partitionCount: number
  readonly defaultN: number
  readonly requestTimeoutMs: number
  readonly gossipIntervalMs: number
  readonly link: LinkProfile
  /**
   * Nodes per machine (absent: 1, every node on its own). Node i (from 1) runs on machine
   * m⌈i/P⌉, joiners included: the ring keeps a key's homes on distinct machines (ring.ts).
   */
  readonly processesPerMachine?: number
  /**
   * Siblings a key may have before a coordinator refuses new concurrent writes (absent: the
   * nodes' default, 64, which no run reaches). Small in some seeds, so that replicas on either
   * side of a fault each accept writes up to it and must still converge on their union.
   */
  readonly siblingsPerKeyMax?: number
}

/** The simulated nodes' tombstone grace (src/antientropy/reaper.ts): a few seconds of simulated time. */
export const simTombstoneGraceMs = 3000

/** A request that met a crash: the client saw its connection reset, and cannot know what was done. */
export const crashed = Symbol('crashed')
export type Crashed = typeof crashed

/** A node's KV service as the simulated clients reach it (SimCluster.service). */
export interface SimService {
  clusterSize(): number
  settings(): ReturnType<KvService['settings']>
  put(request: Parameters<KvService['put']>[0]): Promise<PutOutcome | Crashed>
  get(request: Parameters<KvService['get']>[0]): Promise<GetOutcome | Crashed>
  delete(request: Parameters<KvService['delete']>[0]): Promise<DeleteOutcome | Crashed>
}

/**
 * A service call refused by a store that takes no writes (a put it must store itself), or by a node
 * restarted where it could not yet confirm that it is still a member (a put or delete:
 * src/node/membership-confirmation.ts), as the HTTP API answers them: `storage_failed` and
 * `not_ready`, which a client meets as 503s (handler.ts). Anything else thrown, a DynError of
 * another code included, is a bug, and ends the run.
 */
function answeredAsRefused<Outcome>(error: unknown): Outcome {
  if (!(error instanceof DynError && (error.code === 'storage_failed' || error.code === 'not_ready'))) throw error
  return {ok: false, error: error.code, message: error.message, details: error.details ?? {}} as Outcome
}

interface SimNode {
  readonly name: string
  readonly rpcAddress: string
  database: StoreDatabase
  node: AssembledNode | undefined
  /** Resolves when the running incarnation crashes; requests to it race this. */
  crash: {promise: Promise<Crashed>; fire: () => void}
  incarnation: number
  /** Set while a restart is starting the node: a second restart waits for it instead of starting another. */
  booting: Promise<void> | undefined
  /**
   * Set while a crash copies the store as it was: a restart waits for it, so that it boots on that
   * copy. Without the wait, a restart that came in between (a fault's end, while an operator's
   * restart crashed the node) booted on the old store, and the copy, closed, replaced it after:
   * the next crash could not read it (campaign seed 44,501,748,076).
   */
  crashing?: Promise<void>
  /** A copy of its store taken earlier (`backUp`), for a restart on an old disk. */
  backup?: StoreDatabase
  /**
   * The internode address it tells the cluster, when not the one it listens at (`rpcAddress`):
   * a node started with an --advertise that does not lead to it. Taken at each (re)start.
   */
  advertise?: string
}

/** The simulated time a ring change may take to settle (transfers included) before the run calls it stuck. */
export const ringSettleMsMax = 120_000

/** Bounds on the simulated time a start or a restart may take before the run is declared stuck. */
export const nodeStartTimeMsMax = 60_000

function crashSignal(): {promise: Promise<Crashed>; fire: () => void} {
  let fire: () => void = () => undefined
  const promise = new Promise<Crashed>((resolve) => {
    fire = () => resolve(crashed)
  })
  return {promise, fire}
}

/** Tries of `dyn cluster join` for a node started alone, a second apart. */
const joinAttemptsMax = 60

export class SimCluster {
  readonly time: SimulatedTime
  readonly network: RecordingNetwork
  /** When each node was down and each link faulty: what the availability check judges requests by. */
  readonly faultLog: FaultLog
  readonly nodes: SimNode[]
  /** Nodes that left the cluster or were removed from it: they never run again. */
  readonly departed = new Set<string>()
  readonly #seed: number
  readonly #config: ClusterConfig
  readonly #history: History
  #firstRing: Ring | undefined
  /** Nodes started alone whose dyn cluster join has not succeeded yet. */
  readonly #awaitingJoin = new Set<string>()

  private constructor(seed: number, config: ClusterConfig, history: History) {
    this.#seed = seed
    this.#config = config
    this.#history = history
    this.time = new SimulatedTime({settle: () => new Promise((resolve) => setImmediate(resolve))})
    this.faultLog = new FaultLog({...config.link, lossRate: 0}, (name) => `${name}:7000`)
    this.network = new RecordingNetwork({time: this.time, random: seededRandom(deriveSeed(seed, 'network')), link: config.link}, this.faultLog)
    this.nodes = Array.from({length: config.nodeCount}, (_, index) => ({
      name: `n${index + 1}`,
      rpcAddress: `n${index + 1}:7000`,
      database: memoryDatabase(),
      node: undefined,
      crash: crashSignal(),
      incarnation: 0,
      booting: undefined,
    }))
  }

  /** Starts every node, the first creating the cluster and the others joining through it. */
  static async start(seed: number, config: ClusterConfig, history: History): Promise<SimCluster> {
    const cluster = new SimCluster(seed, config, history)
    for (const node of cluster.nodes) await cluster.#boot(node, node === cluster.nodes[0] ? [] : [cluster.nodes[0]!.rpcAddress])
    // Every join is committed by the claimant and installed once its (empty) transfers are done.
    await cluster.settleRing(cluster.nodes.length)
    // Let gossip spread the full member table before the workload starts.
    await cluster.time.runFor(config.gossipIntervalMs * 3)
    cluster.#firstRing = cluster.nodes[0]!.node?.membership.ring
    return cluster
  }

  /** The ring the cluster started with, once started. */
  get firstRing(): Ring | undefined {
    return this.#firstRing
  }

  /** Whether every running node routes by the ring the cluster started with, and none has a transition under way. */
  routesByFirstRing(): boolean {
    const first = this.#firstRing
    if (first === undefined) return false
    return this.nodes.every((node) => node.node === undefined || (node.node.membership.ring.hash === first.hash && node.node.membership.table.ring?.next === undefined))
  }

  /**
   * The ring every running node routes by, when they all agree on one with no transition
   * running; undefined otherwise.
   */
  agreedRing(except?: string): {hash: string; members: readonly string[]} | undefined {
    const running = this.nodes.filter((node) => node.name !== except).map((node) => node.node).filter((node): node is AssembledNode => node !== undefined)
    const first = running[0]
    if (first === undefined) return undefined
    for (const node of running) {
      if (node.membership.table.ring?.next !== undefined || node.membership.ring.hash !== first.membership.ring.hash) return undefined
    }
    return {hash: first.membership.ring.hash, members: first.membership.ring.members}
  }

  /** Runs until every running node agrees on one settled ring of `memberCount` members; false if that takes longer than `ringSettleMsMax`. */
  async settleRing(memberCount: number, except?: string): Promise<boolean> {
    for (let waitedMs = 0; waitedMs < ringSettleMsMax; waitedMs += this.#config.gossipIntervalMs) {
      if (this.agreedRing(except)?.members.length === memberCount && this.transfersIdle(except)) return true
      await this.time.runFor(this.#config.gossipIntervalMs)
    }
    return false
  }

  get config(): ClusterConfig {
    return this.#config
  }

  isUp(name: string): boolean {
    return this.#node(name).node !== undefined
  }

  /** True while the node is being started (its start's checks under way). */
  isBooting(name: string): boolean {
    return this.#node(name).booting !== undefined
  }

  upNodes(): string[] {
    return this.nodes.filter((node) => node.node !== undefined).map((node) => node.name)
  }

  /**
   * The running nodes a client may send requests to: not one started alone that has not joined
   * yet, which is a cluster of its own until then. An operator sends no traffic to it, and a
   * write it took alone would be data of its own, which its join must then refuse (seed
   * 117399666: a client's put made the join's every later try fail).
   */
  clientNodes(): string[] {
    return this.upNodes().filter((name) => !this.#awaitingJoin.has(name))
  }

  /**
   * A new node (the next name) that joins through the running nodes and commits its join; or,
   * `alone`, that starts as a cluster of its own and is then joined to this one as `dyn cluster
   * join SEED` joins it (staged as joining: the caller commits).
   */
  async addNode(options: {readonly alone?: boolean} = {}): Promise<string> {
    if (options.alone !== true) {
      const node = this.#newNode()
      this.#history.note(this.time.monotonicMs(), `join ${node.name}`)
      // Marked as booting, so that a restart meanwhile (the fault schedule's final heal) waits for it (seed 416).
      // Its seeds are the cluster's members, up or not, as its operator names them: through the
      // nodes running at that instant only, a join while every member was restarting had no seed
      // and started a cluster of its own (seed 38,770,843,570, its two nodes restarting at once).
      await this.#bootMarked(node, this.nodes.filter((other) => other !== node && !this.departed.has(other.name) && !this.#awaitingJoin.has(other.name)).map((other) => other.rpcAddress))
      return node.name
    }
    const name = await this.startAlone()
    await this.joinAlone(name)
    return name
  }

  /**
   * A new node (the next name) started as a cluster of its own, to be joined with `joinAlone` or
   * `tryJoinAlone`; `advertise`: started with an --advertise that leads nowhere.
   */
  async startAlone(advertise?: string): Promise<string> {
    const node = this.#newNode()
    if (advertise !== undefined) node.advertise = advertise
    this.#history.note(this.time.monotonicMs(), `start ${node.name} alone${advertise === undefined ? '' : `, advertising ${advertise}`}, then dyn cluster join it`)
    this.#awaitingJoin.add(node.name)
    await this.#bootMarked(node, [])
    return node.name
  }

  /**
   * `dyn cluster join` of a node started alone, as an operator runs it, through each running node
   * in turn while faults get in the way: at most joinAttemptsMax tries, a second apart, each
   * within the join's own request timeout.
   */
  async joinAlone(name: string): Promise<void> {
    for (let attempt = 0; attempt < joinAttemptsMax; attempt += 1) {
      if ((await this.tryJoinAlone(name, attempt)).ok) return
      await this.time.runFor(1000)
    }
    throw new Error(`${name}, started alone, could not join the cluster in ${joinAttemptsMax} tries`)
  }

  /** One `dyn cluster join` of a node started alone, through the `attempt`-th running node in turn: its outcome. */
  async tryJoinAlone(name: string, attempt: number): Promise<{ok: true} | {ok: false; code?: string; message: string}> {
    const node = this.#node(name)
    const seeds = this.nodes.filter((other) => other !== node && other.node !== undefined && !this.departed.has(other.name)).map((other) => other.rpcAddress)
    const seed = seeds[attempt % Math.max(1, seeds.length)]
    const joining = node.node
    // Crashed meanwhile by a fault, which restarts it: the operator's try fails at once (nothing
    // listens), and the next try, a second later, may find it back (seed 5059670120).
    if (joining === undefined) {
      this.#history.note(this.time.monotonicMs(), `${name}: dyn cluster join: ${name} is down`)
      return {ok: false, message: `${name} is down`}
    }
    if (seed === undefined) return {ok: false, message: 'no node to join through'}
    try {
      await this.time.until(joining.service.joinCluster(seed), ringSettleMsMax)
      this.#history.note(this.time.monotonicMs(), `${name} joined through ${seed}`)
      this.#awaitingJoin.delete(name)
      return {ok: true}
    } catch (error) {
      this.#history.note(this.time.monotonicMs(), `${name}: dyn cluster join ${seed}: ${(error as Error).message}`)
      return {ok: false, ...(error instanceof DynError ? {code: error.code} : {}), message: (error as Error).message}
    }
  }

  /**
   * The node's operator stops it (as Ctrl-C does) and starts it again on its store, telling the
   * cluster `advertise` (undefined: the address it listens at), as `dyn start --advertise` would.
   */
  async restartAdvertising(name: string, advertise: string | undefined): Promise<void> {
    const node = this.#node(name)
    if (node.booting !== undefined) await node.booting
    await this.crash(name)
    if (advertise === undefined) delete node.advertise
    else node.advertise = advertise
    this.#history.note(this.time.monotonicMs(), `restart ${name} advertising ${advertise ?? node.rpcAddress}`)
    await this.restart(name, {wipe: false})
  }

  #newNode(): SimNode {
    const name = `n${this.nodes.length + 1}`
    const node: SimNode = {name, rpcAddress: `${name}:7000`, database: memoryDatabase(), node: undefined, crash: crashSignal(), incarnation: 0, booting: undefined}
    this.nodes.push(node)
    this.faultLog.nodeBorn(name)
    return node
  }

  /**
   * A node that has left (or is removed): stopped for good. Requests under way to it end as a
   * connection reset would. A crashed node is only marked.
   */
  async depart(name: string): Promise<void> {
    const node = this.#node(name)
    this.departed.add(name)
    const running = node.node
    this.#history.note(this.time.monotonicMs(), `${name} departs`)
    if (running === undefined) return
    node.node = undefined
    this.faultLog.nodeDown(name, this.time.monotonicMs())
    node.crash.fire()
    node.crash = crashSignal()
    await this.time.until(running.stop(), nodeStartTimeMsMax).catch(() => undefined)
    this.network.crash(node.rpcAddress)
  }

  /** True when every running node has no transfer or hand-off left to do. */
  transfersIdle(except?: string): boolean {
    return this.nodes.every((node) => node.name === except || node.node === undefined || (node.node.release.pendingCount === 0 && node.node.transfers.snapshot().active.length === 0))
  }

  /** The running node, for checks that look inside (the replicas' stores). */
  assembled(name: string): AssembledNode | undefined {
    return this.#node(name).node
  }

  /** Resolves with `crashed` when the node's running incarnation crashes: a call into it should race this. */
  crashOf(name: string): Promise<Crashed> {
    return this.#node(name).crash.promise
  }

  /**
   * How many of a key's N home replicas (under the ring of any running node, or of the coordinator's preference list) hold version `id` (or a version whose writer had seen
   * it) in their own stores right now, and how many crashed since `sinceMs` and cannot be looked
   * at (a home down since before then cannot hold it). Reads the stores directly, so no read
   * repair or hint delivery takes part.
   */
  async homesHolding(key: string, n: number, id: string, sinceMs: number, history: History, coordinatorHomes: readonly string[] = []): Promise<{holding: number; down: number}> {
    const runningNodes = this.nodes.map((node) => node.node).filter((node) => node !== undefined)
    const anyNode = runningNodes[0]
    if (anyNode === undefined) return {holding: 0, down: n}
    // While an install spreads, the coordinator may have counted the homes of a ring that some
    // node has left behind: a home under any running node's ring counts (seed 61176). So does a
    // home of the preference list the coordinator used, whose ring every node may have left
    // behind by the acknowledgement: the write began before the install reached the coordinator
    // (seed 74857721, from a 400-seed campaign: pw=2 acknowledged by the old homes n1 and n2,
    // checked under the new ring's n1 and n3).
    const homes = [...new Set([...coordinatorHomes, ...runningNodes.flatMap((node) => preferenceListForKey(node.membership.ring, key).nodes.slice(0, n))])]
    const partition = partitionOfKey(key, anyNode.membership.ring.partitionCount)
    let holding = 0
    let down = 0
    for (const home of homes) {
      const running = this.#node(home).node
      if (running === undefined) {
        if (history.crashes.some((crash) => crash.node === home && crash.atMs >= sinceMs)) down += 1
        continue
      }
      const object = await running.store.getObject(partition, key)
      const ids = object === undefined ? [] : values(object.versions).map((version) => versionId(version.value))
      if (ids.some((other) => other === id || history.writes.get(other)?.seen.has(id) === true)) holding += 1
    }
    return {holding, down}
  }

  /**
   * The KV service of a running node, as a client meets it: a crash under a request ends it with
   * `crashed`. Its cluster size and settings are what the HTTP API checks a request's quorum against.
   */
  service(name: string): SimService | undefined {
    const node = this.#node(name)
    const running = node.node
    if (running === undefined) return undefined
    const signal = node.crash.promise
    return {
      clusterSize: () => running.service.clusterSize(),
      settings: () => running.service.settings(),
      put: (request) => Promise.race([running.service.put(request).catch(answeredAsRefused<PutOutcome>), signal]),
      get: (request) => Promise.race([running.service.get(request).catch(answeredAsRefused<GetOutcome>), signal]),
      delete: (request) => Promise.race([running.service.delete(request).catch(answeredAsRefused<DeleteOutcome>), signal]),
    }
  }

  /**
   * Crashes a node: no stop, no flush. Its endpoint and timers go at once; what its store had
   * written is kept as a snapshot for a restart (memory-level iterators read a snapshot taken when
   * they are made, so the copy is consistent even while the dead node's last promises run on).
   */
  async crash(name: string): Promise<void> {
    const node = this.#node(name)
    if (node.node === undefined) return
    const old = node.database
    this.network.crash(node.rpcAddress)
    this.time.node(`${name}#${node.incarnation}`).halt()
    node.node = undefined
    this.faultLog.nodeDown(name, this.time.monotonicMs())
    node.crash.fire()
    node.crash = crashSignal()
    const copied = snapshot(old).then((copy) => {
      node.database = copy
    })
    node.crashing = copied
    try {
      await copied
    } finally {
      if (node.crashing === copied) delete node.crashing
    }
    this.#history.note(this.time.monotonicMs(), `crash ${name}`)
    this.#history.crashes.push({node: name, atMs: this.time.monotonicMs()})
  }

  /**
   * The node's disk fails (full, or broken): from now on every write to its store is refused as
   * LevelDB refuses one then (LEVEL_IO_ERROR), while reads go on. The node itself runs on: its
   * store stops taking writes at the first that fails (store.ts), and it answers `storage_failed`
   * for what it cannot store. The fault log marks it unwritable until it next goes down: the
   * availability check still judges the gets it serves, and counts no acknowledgement of a put
   * from it. A crash ends the failure (the store is copied as it is, onto a disk that works: its
   * operator freed space or replaced it).
   */
  failDisk(name: string): void {
    const node = this.#node(name)
    if (node.node === undefined || this.departed.has(name)) return
    const database = node.database as unknown as Record<'_put' | '_del' | '_batch' | '_clear', (...args: unknown[]) => Promise<void>>
    for (const write of ['_put', '_del', '_batch', '_clear'] as const) {
      database[write] = async () => {
        throw Object.assign(new Error(`IO error: simulated failing disk of ${name}: No space left on device`), {code: 'LEVEL_IO_ERROR'})
      }
    }
    this.faultLog.diskFails(name, this.time.monotonicMs())
    this.#history.note(this.time.monotonicMs(), `${name}'s disk fails: its store's writes are refused from now on`)
  }

  /** Why a running node's store takes no writes (store.ts), or undefined while it does (or the node is down). */
  writesStoppedBy(name: string): string | undefined {
    return this.#node(name).node?.store.writesStoppedBy
  }

  /** Keeps a copy of a node's store as it is now: the old disk a later restart may come back on. */
  async backUp(name: string): Promise<void> {
    const node = this.#node(name)
    if (node.database.status !== 'open') await node.database.open()
    node.backup = await snapshot(node.database)
    this.#history.note(this.time.monotonicMs(), `back up ${name}'s store`)
  }

  /**
   * Starts a crashed node on a copy of the store `backUp` kept (an old disk). Checked as a lost
   * disk: the writes it took since are not on it. A node that finds its disk old refuses to start
   * (src/node/disk-check.ts); its operator then starts it on an empty disk, as the error says.
   */
  async restartOnOldDisk(name: string): Promise<void> {
    const node = this.#node(name)
    if (node.backup === undefined || node.node !== undefined || node.booting !== undefined || this.departed.has(name)) return
    if (node.backup.status !== 'open') await node.backup.open()
    node.database = await snapshot(node.backup)
    this.#history.loseDisk(name)
    this.#history.note(this.time.monotonicMs(), `restart ${name} on the old disk backed up before`)
    await this.#bootThroughLiveNodes(node)
  }

  /**
   * Starts a crashed node again, on its kept storage or (wipe) on an empty one, or on its kept
   * storage without the hints it kept for others (loseHints: issue 14's lost hint store), joining
   * through the live nodes.
   */
  async restart(name: string, options: {wipe: boolean; loseHints?: boolean}): Promise<void> {
    const node = this.#node(name)
    if (node.crashing !== undefined) await node.crashing
    // Two parts of a run (a fault's end, a membership change, the final heal) may restart one
    // node at once: the second waits for the first (simulator seed found by the 1000-seed run).
    if (node.booting !== undefined) return node.booting
    if (node.node !== undefined || this.departed.has(name)) return
    if (options.wipe) {
      this.#wipe(node)
    } else if (options.loseHints === true) {
      const hints = hintRange()
      if (node.database.status !== 'open') await node.database.open()
      // Bounded by the database's size, which the run's bounded workload bounds.
      const lost = (await node.database.keys({gte: hints.gte, lt: hints.lt}).all()).length
      await node.database.clear({gte: hints.gte, lt: hints.lt})
      this.#history.loseHints(name)
      this.#history.note(this.time.monotonicMs(), `${name} loses the ${lost} hint(s) it kept`)
    }
    this.#history.note(this.time.monotonicMs(), `restart ${name}${options.wipe ? ' on a wiped disk' : ''}`)
    // A node started alone and not joined yet restarts as it was started, without seeds: its
    // operator runs the same command, and a restart given seeds of another cluster is refused
    // (checkSeedsOnRestart: its stored table is a cluster of its own). So does the cluster's
    // first node, started without seeds, unless its disk was wiped: given the others as seeds, a
    // restart while its stored table still had it alone (a growth run whose joins had not reached
    // its disk) was refused when none of them answered, and the run threw (seed 344,917,654,575).
    if (this.#awaitingJoin.has(name) || (node === this.nodes[0] && !options.wipe)) await this.#bootMarked(node, [])
    else await this.#bootThroughLiveNodes(node)
  }

  /** Boots a node through the nodes running now, marked as booting meanwhile so that a second restart waits for it. */
  #bootThroughLiveNodes(node: SimNode): Promise<void> {
    // Not through a node started alone that has not joined yet: it is no member, as an operator knows.
    return this.#bootMarked(node, this.nodes.filter((other) => other.node !== undefined && !this.#awaitingJoin.has(other.name)).map((other) => other.rpcAddress))
  }

  /** Boots a node through `seeds` (none: a cluster of its own), marked as booting meanwhile. */
  #bootMarked(node: SimNode, seeds: readonly string[]): Promise<void> {
    node.booting = this.#boot(node, seeds).finally(() => {
      node.booting = undefined
    })
    return node.booting
  }

  /** The node's disk is replaced by an empty one (its operator's answer to an old disk, or a wipe fault). */
  #wipe(node: SimNode): void {
    node.database = memoryDatabase()
    this.#history.loseDisk(node.name)
  }

  /** Stops every running node cleanly (the end of a run). */
  async stop(): Promise<void> {
    for (const node of this.nodes) {
      const running = node.node
      if (running === undefined) continue
      node.node = undefined
      await this.time.until(running.stop(), nodeStartTimeMsMax).catch(() => undefined)
    }
  }

  #node(name: string): SimNode {
    const node = this.nodes.find((candidate) => candidate.name === name)
    if (node === undefined) throw new Error(`no simulated node ${name}`)
    return node
  }

  /** The machine of node `nI` when nodes share machines: m⌈I/P⌉ (its own name when they do not). */
  machineOf(name: string): string {
    const perMachine = this.#config.processesPerMachine ?? 1
    return perMachine === 1 ? name : `m${Math.ceil(Number(name.slice(1)) / perMachine)}`
  }

  /** The nodes on `name`'s machine, itself included, in order. */
  machineMates(name: string): string[] {
    const machine = this.machineOf(name)
    return this.nodes.filter((node) => this.machineOf(node.name) === machine).map((node) => node.name)
  }

  #machineSetting(name: string): {machine?: string} {
    const machine = this.machineOf(name)
    return machine === name ? {} : {machine}
  }

  async #boot(node: SimNode, seeds: readonly string[]): Promise<void> {
    node.incarnation += 1
    const scheduler = this.time.node(`${node.name}#${node.incarnation}`)
    const random: Random = seededRandom(deriveSeed(this.#seed, `${node.name}#${node.incarnation}`))
    const history = this.#history
    const time = this.time
    const assembling = assembleNode({
      settings: {
        name: node.name,
        apiAddress: `${node.name}:8000`,
        seeds,
        settings: {partitionCount: this.#config.partitionCount, defaultN: this.#config.defaultN, defaultR: 2, defaultW: 2, conflictPolicy: 'siblings'},
        explicitSettings: {},
        requestTimeoutMs: this.#config.requestTimeoutMs,
        gossipIntervalMs: this.#config.gossipIntervalMs,
        writeBufferMs: 0,
        // Short, so that the runs' deletes are reaped before the final checks (check 9).
        antiEntropy: {tombstoneGraceMs: simTombstoneGraceMs},
        ...(this.#config.siblingsPerKeyMax === undefined ? {} : {siblingsPerKeyMax: this.#config.siblingsPerKeyMax}),
        ...this.#machineSetting(node.name),
      },
      database: node.database,
      startTransport: async (handler) => advertised(this.network.listen({address: node.rpcAddress, nodeName: node.name, handler, scheduler}), node.advertise),
      clock: time,
      scheduler,
      random,
      log: (line) => history.note(time.monotonicMs(), `${node.name}: ${line}`),
    })
    let started: AssembledNode
    try {
      started = await this.time.until(assembling, nodeStartTimeMsMax)
    } catch (error) {
      // Removed while it was away, it refuses to start on its folder, before serving anything:
      // gone for good, as its shell's exit 2 tells a service manager.
      if (error instanceof DynError && error.code === 'removed') {
        history.note(time.monotonicMs(), `${node.name} refuses to start: ${error.message}`)
        return this.depart(node.name)
      }
      if (!(error instanceof DynError && error.code === 'old_disk')) throw error
      // What its operator is told to do: start it again on an empty disk.
      history.note(time.monotonicMs(), `${node.name} refuses to start: ${error.message}`)
      this.#wipe(node)
      history.note(time.monotonicMs(), `restart ${node.name} on a wiped disk`)
      return this.#boot(node, seeds)
    }
    node.node = started
    this.faultLog.nodeUp(node.name, this.time.monotonicMs())
    // An old disk found after the start stops the node; its operator starts it on an empty disk.
    void started.failed.then(async (error) => {
      if (node.node !== started) return
      history.note(time.monotonicMs(), `${node.name} stops: ${error.message}`)
      // A node that learns it was removed stops for good, as its shell would (dyn start exits).
      if (error.code === 'removed') return this.depart(node.name)
      await this.crash(node.name)
      if (node.booting !== undefined) return
      this.#wipe(node)
      history.note(time.monotonicMs(), `restart ${node.name} on a wiped disk`)
      void this.#bootThroughLiveNodes(node)
    })
  }
}

/**
 * The transport a node started with --advertise tells the cluster about: the same one, saying it
 * is at `advertise` (the node's row then names that address) while it listens where it listens.
 */
function advertised(transport: Transport, advertise: string | undefined): Transport {
  if (advertise === undefined) return transport
  return {
    address: advertise,
    request: (address, type, body, timeoutMs, options) => transport.request(address, type, body, timeoutMs, options),
    peerState: (address) => transport.peerState(address),
    close: () => transport.close(),
  }
}

/** A copy of a memory-level database as it is now. */
async function snapshot(database: StoreDatabase): Promise<StoreDatabase> {
  // Made before anything is awaited: the snapshot is the store at the instant of the crash.
  const iterator = database.iterator()
  const copy = memoryDatabase()
  await copy.open()
  const batch: Array<{type: 'put'; key: Buffer; value: Buffer}> = []
  try {
    // Bounded by the database's size, which the run's bounded workload bounds.
    for (;;) {
      const entries = await iterator.nextv(1024)
      if (entries.length === 0) break
      for (const [key, value] of entries) batch.push({type: 'put', key: Buffer.from(key), value: Buffer.from(value)})
    }
  } finally {
    await iterator.close()
  }
  if (batch.length > 0) await copy.batch(batch)
  await copy.close()
  return copy
}

/** The id a simulated client wrote into a version's value (workload.ts), or '?' for anything else. */
export function versionId(value: Uint8Array): string {
  try {
    return (JSON.parse(Buffer.from(value).toString('utf8')) as {id: string}).id
  } catch {
    return '?'
  }
}
