/**
 * The partition-aware client: client-driven coordination (paper §6.4). Instead of sending every
 * request to one node that may have to forward it, the client keeps a copy of the ring (fetched
 * from GET /cluster) and sends each request straight to a home replica of its key (§4.3: the
 * first N nodes of the preference list), which coordinates it with one network hop fewer.
 *
 * The cached ring is refreshed lazily, never by a timer: before a request when it is older than
 * `refreshIntervalMs` (the paper's clients poll every 10 s), and after a routing miss, that is
 * when a node answered but showed it was not the coordinator we expected (it forwarded the put,
 * or its preference list differs from ours), or when the chosen node could not be reached; in
 * that last case the request is retried on the next home replica believed up, at most
 * `routeAttemptsMax` nodes in all. When no home replica of the key is believed up (they are all
 * down, or could not be reached), the request goes to the first live node after them in the
 * preference list instead: any node coordinates a get, and a put that no home can take is
 * coordinated by that node as a fallback (paper §4.6), so a key whose homes are all down stays
 * writeable. HTTP outcomes come back as the values `DynClient` returns; only a request that no
 * chosen node answered throws `UnreachableError`, as `DynClient` does. A request the per-node
 * client's throttle kept back (that node sheds most of what it gets; nothing was sent) goes to the
 * next choice, without the node being thought down; its `overloaded` answer is the outcome only
 * when no other choice answered.
 */

import type {Clock} from '../clock.js'
import {systemClock, systemRandom} from '../node/system-time.js'
import {assert, DynError} from '../errors.js'
import type {Ring} from '../ring/ring.js'
import {compareNames, isValidPartitionCount, preferenceListForKey} from '../ring/ring.js'
import type {ClientTls} from '../transport/tls-ca-file.js'
import {clientTimeoutMsDefault, DynClient, isThrottledByClient, isUnconfirmedMemberRefusal, memberTlsOf, TlsNotServedError, UnreachableError, UntrustedCertificateError} from './http-client.js'
import type {ApiError, GetResult, QuorumOptions, WriteResult} from './http-client.js'
import {parseNodeList} from './node-address.js'

export interface PartitionAwareOptions {
  /** How old the cached ring may grow before the next request fetches it again. */
  readonly refreshIntervalMs?: number
  /** Timeout of every HTTP request, ring fetches included. */
  readonly timeoutMs?: number
  /** Time source for the ring's age and for how long an unreachable node is avoided. */
  readonly clock?: Clock
  /**
   * Randomness for each node's client throttle and the jitter of its retries, a float in [0, 1)
   * (the system's by default); a test gives a seeded one, so that what it asserts does not rest
   * on chance.
   */
  readonly random?: () => number
  /**
   * HTTPS to every node, trusting `ca` (the cluster's CA, `--tls-ca`). Without it, a seed given
   * as `https://host:port` makes every member HTTPS too, trusting the system's CAs: the members'
   * addresses, which the ring gives without a scheme, are reached as the seeds are.
   */
  readonly tls?: ClientTls
}

/** The paper's clients poll a random node for membership every 10 s (§6.4). */
export const refreshIntervalMsDefault = 10_000
/** Nodes asked for the ring in one refresh before keeping the ring we have: bounds a refresh's latency when much of the cluster is down. */
const refreshSourcesMax = 8
/**
 * Nodes one request is sent to at most: the first choice, the next home, and then a live node
 * that is not a home (it coordinates whatever the homes' state), so that a key whose homes all
 * died since the last refresh is still served, while a request never walks the whole cluster.
 */
const routeAttemptsMax = 3
/** Members accepted from one GET /cluster answer: the member table's own bound. */
const clusterMembersMax = 1024

interface MemberRoute {
  readonly apiAddress: string
  /** Whether the node that answered GET /cluster believed this member up. */
  readonly up: boolean
}

/** What one GET /cluster answer tells the client: the ring, the default N and where each member listens. */
interface RoutingView {
  readonly ring: Ring
  readonly defaultN: number
  readonly members: ReadonlyMap<string, MemberRoute>
}

interface Coordinator {
  readonly name: string
  readonly address: string
}

/**
 * One node tried: its answer; or it could not be reached; or the client's throttle kept the
 * request back from it (nothing was sent: that node has been shedding most of what it got).
 */
type Attempt<T> = {readonly ok: true; readonly result: T} | {readonly ok: false; readonly error: UnreachableError} | {readonly ok: false; readonly throttled: T}

export class PartitionAwareClient {
  private view: RoutingView
  private fetchedAtMs: number
  /** Set by a routing miss that a node answered: the next request fetches the ring first. */
  private stale = false
  /** The node that revealed the last miss: it knows the newer ring, so it is asked first. */
  private preferredSource: string | undefined
  private refreshing: Promise<void> | undefined
  private refreshes = 1
  /** One `DynClient` per node address; pruned to the seeds and current members on every refresh. */
  private readonly clients = new Map<string, DynClient>()
  /** Members this client failed to reach, and when (monotonic ms); avoided for one refresh interval. */
  private readonly unreachableAtMs = new Map<string, number>()

  private constructor(
    private readonly seeds: readonly string[],
    view: RoutingView,
    private readonly clock: Clock,
    private readonly refreshIntervalMs: number,
    private readonly timeoutMs: number,
    private readonly tls: ClientTls | undefined,
    private readonly random: () => number,
  ) {
    this.view = view
    this.fetchedAtMs = clock.monotonicMs()
  }

  /** Fetch the ring from the first seed (host:port of a client API) that answers. */
  static async connect(seeds: readonly string[], options: PartitionAwareOptions = {}): Promise<PartitionAwareClient> {
    assert(seeds.length > 0, 'connect needs at least one seed address')
    const refreshIntervalMs = options.refreshIntervalMs ?? refreshIntervalMsDefault
    const timeoutMs = options.timeoutMs ?? clientTimeoutMsDefault
    assert(refreshIntervalMs >= 0 && timeoutMs > 0, 'refreshIntervalMs must be >= 0 and timeoutMs > 0')
    const parsedSeeds = parseNodeList(seeds)
    if (!parsedSeeds.ok) throw new DynError(parsedSeeds.error, parsedSeeds.message)
    const tls = memberTlsOf(parsedSeeds.value, options.tls)
    const clients = new Map<string, DynClient>()
    const clock = options.clock ?? systemClock
    const random = options.random ?? systemRandom.next
    const clientFor = (address: string): DynClient => cachedClient(clients, address, timeoutMs, tls, clock, random)
    const asked = seeds.slice(0, refreshSourcesMax)
    const fetched = await fetchView(asked, clientFor)
    if (!fetched.ok && fetched.wrongScheme === 'tls_not_served') throw new TlsNotServedError(asked, fetched.reason)
    if (!fetched.ok && fetched.wrongScheme === 'https_required') throw new DynError('https_required', fetched.reason)
    if (!fetched.ok) throw fetched.untrusted === undefined ? new UnreachableError(seeds.join(', '), fetched.reason) : new UntrustedCertificateError(asked, fetched.reason, fetched.untrusted)
    const client = new PartitionAwareClient([...seeds], fetched.view, clock, refreshIntervalMs, timeoutMs, tls, random)
    for (const [address, dyn] of clients) client.clients.set(address, dyn)
    client.pruneClients()
    return client
  }

  /** The hash of the cached ring, as the nodes compute it. */
  get ringHash(): string {
    return this.view.ring.hash
  }

  /** How many times the ring was fetched, the one by `connect` included. */
  get refreshCount(): number {
    return this.refreshes
  }

  /** host:port (client API) of the node this client would send `key` to now. */
  routeFor(key: string, n?: number): string {
    const coordinator = this.coordinatorFor(key, n, new Set(), false)
    assert(coordinator !== undefined, 'every home replica of a parsed view has an address')
    return coordinator.address
  }

  put(key: string, value: Uint8Array, options: QuorumOptions & {context?: string; contentType?: string} = {}): Promise<WriteResult> {
    return this.routed(key, options.n, (client) => client.put(key, value, options))
  }

  get(key: string, options: QuorumOptions = {}): Promise<GetResult> {
    return this.routed(key, options.n, (client) => client.get(key, options))
  }

  delete(key: string, options: QuorumOptions & {context?: string} = {}): Promise<WriteResult> {
    return this.routed(key, options.n, (client) => client.delete(key, options))
  }

  /**
   * Send one request to the key's coordinator; each time the chosen node cannot be reached,
   * refresh the ring and try the next choice, at most `routeAttemptsMax` nodes, the last one a
   * live node that is not a home when there is one. A put retried after a timeout may have been
   * applied by the first node as well: the second version then stands beside it as a sibling,
   * which the paper accepts (§4.4) rather than risk losing the write.
   */
  private async routed<T extends WriteResult | GetResult>(key: string, n: number | undefined, send: (client: DynClient) => Promise<T>): Promise<T> {
    await this.refreshIfDue()
    const tried = new Set<string>()
    let lastError: UnreachableError | undefined
    // The answer of the client's throttle for a node that sheds: the next choice is tried instead,
    // and this is the answer only when no other node answered.
    let throttled: T | undefined
    for (let attempt = 1; attempt <= routeAttemptsMax; attempt += 1) {
      const coordinator = this.coordinatorFor(key, n, tried, attempt === routeAttemptsMax)
      if (coordinator === undefined) break
      const outcome = await this.attempt(coordinator, key, n, send)
      if (outcome.ok) return outcome.result
      if ('throttled' in outcome) {
        // Up, but overloaded, or restarted and not yet confirmed as a member (it refused the write
        // before any work): not a reason to think it down or to fetch the ring again.
        throttled = outcome.throttled
        tried.add(coordinator.name)
        continue
      }
      lastError = outcome.error
      tried.add(coordinator.name)
      this.unreachableAtMs.set(coordinator.name, this.clock.monotonicMs())
      if (attempt < routeAttemptsMax) await this.refresh()
    }
    if (throttled !== undefined) return throttled
    assert(lastError !== undefined, 'a parsed view gives every key a first choice')
    throw lastError
  }

  private async attempt<T extends WriteResult | GetResult>(
    coordinator: Coordinator,
    key: string,
    n: number | undefined,
    send: (client: DynClient) => Promise<T>,
  ): Promise<Attempt<T>> {
    let result: T
    try {
      result = await send(this.clientFor(coordinator.address))
    } catch (error) {
      if (error instanceof UnreachableError) return {ok: false, error}
      throw error
    }
    // Kept back by the client's throttle: the node was not asked, so nothing is learnt of it.
    if (isThrottledByClient(result) || isUnconfirmedMemberRefusal(result)) return {ok: false, throttled: result}
    this.unreachableAtMs.delete(coordinator.name)
    if (isRoutingMiss(traceOf(result), coordinator.name, this.homesOf(key, n))) {
      this.stale = true
      this.preferredSource = coordinator.address
    }
    return {ok: true, result}
  }

  /**
   * Where to send a request for `key`, among the nodes not `excluded`: the first home replica
   * believed up; else the first node after the homes in the preference list believed up (it
   * coordinates a get itself, and a put as a fallback when it cannot reach a home either); else
   * the first home replica at all (a node we think down may be back). `nonHomeFirst` puts the
   * live non-home before the homes: the last try, once homes believed up did not answer.
   */
  private coordinatorFor(key: string, n: number | undefined, excluded: ReadonlySet<string>, nonHomeFirst: boolean): Coordinator | undefined {
    const preflist = preferenceListForKey(this.view.ring, key).nodes
    const homes = new Set(preflist.slice(0, this.replicaCountOf(n)))
    const candidates = preflist.filter((name) => !excluded.has(name) && this.view.members.has(name))
    const liveHome = candidates.find((name) => homes.has(name) && this.believedUp(name))
    const liveOther = candidates.find((name) => !homes.has(name) && this.believedUp(name))
    const anyHome = candidates.find((name) => homes.has(name))
    const chosen = nonHomeFirst ? (liveOther ?? liveHome ?? anyHome) : (liveHome ?? liveOther ?? anyHome)
    if (chosen === undefined) return undefined
    return {name: chosen, address: (this.view.members.get(chosen) as MemberRoute).apiAddress}
  }

  /** The key's home replicas for the request's N; an invalid N routes like the default and the node refuses it. */
  private homesOf(key: string, n: number | undefined): string[] {
    return preferenceListForKey(this.view.ring, key).nodes.slice(0, this.replicaCountOf(n))
  }

  private replicaCountOf(n: number | undefined): number {
    return n !== undefined && Number.isInteger(n) && n >= 1 ? n : this.view.defaultN
  }

  private believedUp(name: string): boolean {
    if (this.view.members.get(name)?.up !== true) return false
    const failedAtMs = this.unreachableAtMs.get(name)
    return failedAtMs === undefined || this.clock.monotonicMs() - failedAtMs >= this.refreshIntervalMs
  }

  private async refreshIfDue(): Promise<void> {
    if (this.stale || this.clock.monotonicMs() - this.fetchedAtMs >= this.refreshIntervalMs) await this.refresh()
  }

  /** Fetch the ring again; concurrent requests share one fetch. On failure the old ring is kept. */
  private refresh(): Promise<void> {
    this.refreshing ??= this.fetchAndInstall().finally(() => {
      this.refreshing = undefined
    })
    return this.refreshing
  }

  private async fetchAndInstall(): Promise<void> {
    const fetched = await fetchView(this.refreshSources(), (address) => this.clientFor(address))
    // A failed refresh restarts the interval too, so that a cluster out of reach is not asked
    // again before every request; the requests themselves still try the nodes.
    this.fetchedAtMs = this.clock.monotonicMs()
    this.stale = false
    this.preferredSource = undefined
    if (!fetched.ok) return
    this.view = fetched.view
    this.refreshes += 1
    this.pruneClients()
    for (const name of this.unreachableAtMs.keys()) if (!this.view.members.has(name)) this.unreachableAtMs.delete(name)
  }

  /** Whom to ask for the ring: the node that revealed a miss, members believed up, the seeds, then the rest. */
  private refreshSources(): string[] {
    const members = [...this.view.members.entries()]
    const up = members.filter(([name]) => this.believedUp(name)).map(([, route]) => route.apiAddress)
    const down = members.filter(([name]) => !this.believedUp(name)).map(([, route]) => route.apiAddress)
    const ordered = [...(this.preferredSource === undefined ? [] : [this.preferredSource]), ...up, ...this.seeds, ...down]
    return [...new Set(ordered)].slice(0, refreshSourcesMax)
  }

  private clientFor(address: string): DynClient {
    return cachedClient(this.clients, address, this.timeoutMs, this.tls, this.clock, this.random)
  }

  private pruneClients(): void {
    const wanted = new Set([...this.seeds, ...[...this.view.members.values()].map((route) => route.apiAddress)])
    for (const address of this.clients.keys()) if (!wanted.has(address)) this.clients.delete(address)
  }
}

function cachedClient(clients: Map<string, DynClient>, address: string, timeoutMs: number, tls: ClientTls | undefined, clock: Clock, random: () => number): DynClient {
  let client = clients.get(address)
  if (client === undefined) {
    // The partition-aware client's clock and randomness drive each node's throttle too.
    client = new DynClient(address, timeoutMs, tls === undefined ? {clock, random} : {tls, clock, random})
    clients.set(address, client)
  }
  return client
}

/** Ask each address in turn for GET /cluster; the first well-formed answer wins. */
async function fetchView(
  addresses: readonly string[],
  clientFor: (address: string) => DynClient,
): Promise<{ok: true; view: RoutingView} | {ok: false; reason: string; untrusted?: string[]; wrongScheme?: 'https_required' | 'tls_not_served'}> {
  const problems: string[] = []
  // Addresses that answered in the other scheme, by which way round: when that is every one, so says the error (exit 2).
  let plainAnswers = 0
  let httpsRequired = 0
  // The verification results of the addresses whose certificate did not verify: when that is every one, so says the error.
  const untrusted: string[] = []
  let untrustedAddresses = 0
  for (const address of addresses) {
    let answer: Awaited<ReturnType<DynClient['getJson']>>
    try {
      answer = await clientFor(address).getJson('/cluster')
    } catch (error) {
      // A connection dropped while the body was read surfaces as a plain error, not only UnreachableError.
      problems.push(`${address}: ${error instanceof UnreachableError ? error.reason : (error as Error).message}`)
      if (error instanceof UntrustedCertificateError) {
        untrusted.push(...error.tlsErrors)
        untrustedAddresses += 1
      }
      if (error instanceof TlsNotServedError) plainAnswers += 1
      continue
    }
    if (!answer.ok) {
      problems.push(answer.error === 'https_required' ? `${address}: ${answer.message}` : `${address}: HTTP ${answer.status} ${answer.error}`)
      if (answer.error === 'https_required') httpsRequired += 1
      continue
    }
    const parsed = parseClusterView(answer.body)
    if (parsed.ok) return parsed
    problems.push(`${address}: ${parsed.message}`)
  }
  const allUntrusted = untrustedAddresses > 0 && untrustedAddresses === problems.length
  const wrongScheme = problems.length === 0 ? undefined : plainAnswers === problems.length ? 'tls_not_served' : httpsRequired === problems.length ? 'https_required' : undefined
  return {ok: false, reason: problems.join('; ') || 'no address to ask', ...(allUntrusted ? {untrusted: [...new Set(untrusted)]} : {}), ...(wrongScheme === undefined ? {} : {wrongScheme})}
}

/**
 * Check a GET /cluster answer and turn it into a routing view. The ring is taken as the node
 * computed it (owners and hash), not recomputed, so the client routes by exactly the ring the
 * nodes use even if its claim algorithm changes. Its members are the owners plus the members
 * that sit in the ring without owning a partition (possible when there are more nodes than
 * partitions), as the nodes build it.
 */
export function parseClusterView(body: Record<string, unknown>): {ok: true; view: RoutingView} | {ok: false; message: string} {
  const {partitionCount, owners, members, ringHash, settings} = body
  if (typeof partitionCount !== 'number' || !isValidPartitionCount(partitionCount)) return {ok: false, message: 'no valid partitionCount'}
  if (typeof ringHash !== 'string' || ringHash === '') return {ok: false, message: 'no ringHash'}
  if (!Array.isArray(owners) || owners.length !== partitionCount || !owners.every((o) => typeof o === 'string' && o !== '')) {
    return {ok: false, message: `owners is not a list of ${partitionCount} names`}
  }
  if (!Array.isArray(members) || members.length > clusterMembersMax) return {ok: false, message: 'no valid members list'}
  const defaultN = (settings as {defaultN?: unknown} | undefined)?.defaultN
  if (typeof defaultN !== 'number' || !Number.isInteger(defaultN) || defaultN < 1) return {ok: false, message: 'no valid settings.defaultN'}

  const routes = new Map<string, MemberRoute>()
  const machineOf = new Map<string, string>()
  const ringNames = new Set<string>(owners as string[])
  for (const member of members as Array<Record<string, unknown> | null>) {
    if (typeof member?.name !== 'string' || typeof member.apiAddress !== 'string') return {ok: false, message: 'a member without name or apiAddress'}
    if (member.machine !== undefined && (typeof member.machine !== 'string' || member.machine === '')) return {ok: false, message: `member ${member.name} has an invalid machine`}
    routes.set(member.name, {apiAddress: member.apiAddress, up: member.up === true})
    if (typeof member.machine === 'string') machineOf.set(member.name, member.machine)
    if (member.status === 'valid' || member.status === 'leaving') ringNames.add(member.name)
  }
  for (const name of ringNames) if (!routes.has(name)) return {ok: false, message: `ring member ${name} has no address`}
  const ringMembers = Object.freeze([...ringNames].sort(compareNames))
  // The nodes order preference lists by the ring's machines (ring.ts); the client must too.
  const machines = Object.freeze(ringMembers.map((name) => machineOf.get(name) ?? name))
  const ring: Ring = Object.freeze({
    partitionCount,
    members: ringMembers,
    owners: Object.freeze([...(owners as string[])]),
    machines,
    machineCount: new Set(machines).size,
    hash: ringHash,
  })
  return {ok: true, view: {ring, defaultN, members: routes}}
}

/** The JSON trace a node attached to an answer (success or error), if any. */
function traceOf(result: WriteResult | GetResult): Record<string, unknown> | undefined {
  const trace = result.ok ? result.trace : (result as ApiError).body.trace
  return typeof trace === 'object' && trace !== null ? (trace as Record<string, unknown>) : undefined
}

/**
 * Whether a node's answer shows that our ring sent the request to the wrong place: it forwarded
 * the put, another node coordinated it, or its preference list names other home replicas than
 * ours (its ring differs, so ours is likely out of date).
 */
function isRoutingMiss(trace: Record<string, unknown> | undefined, asked: string, expectedHomes: readonly string[]): boolean {
  if (trace === undefined) return false
  if (trace.forwardedBy !== undefined) return true
  if (typeof trace.coordinator === 'string' && trace.coordinator !== asked) return true
  if (!Array.isArray(trace.preflist)) return false
  const homes = (trace.preflist as Array<{node?: unknown; home?: unknown} | null>).filter((entry) => entry?.home === true).map((entry) => entry?.node)
  return homes.length !== expectedHomes.length || homes.some((name, index) => name !== expectedHomes[index])
}
