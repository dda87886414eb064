/**
 * The one place that fetches what `dyn top` (and anything else live) shows: it asks one node
 * for GET /cluster, every member for its GET /stats, and, for the detail panel, the selected
 * node for its own GET /cluster; it fails over to another known member when the node it
 * watches through stops answering. What it fetched goes through the pure cluster-model.ts into
 * a `ClusterSnapshot`, which the components in src/ui draw.
 *
 * Cost to the watched node per refresh: one GET /cluster and one GET /stats (plus one GET
 * /cluster while its detail panel is open); every other member gets one GET /stats, except one
 * that left the cluster, which is asked nothing.
 */

import {DynClient, UnreachableError} from '../client/http-client.js'
import type {ClientTls} from '../client/http-client.js'
import type {ClusterSnapshot, PeerView} from '../ui/cluster-snapshot.js'
import {emptyMemory, nextSnapshot, parseCluster, parseStats} from './cluster-model.js'
import type {ClusterView, PollResult, StatsSample, WatchMemory} from './cluster-model.js'

/** A member that has not answered within this long counts as not answering this refresh. */
export const pollRequestTimeoutMsDefault = 900
/** Addresses remembered for fail-over: the ones given and every member seen, at most this many. */
export const knownAddressesMax = 64

/** GET a JSON route of one node: its body, or an error message when it did not answer usefully. */
export type FetchJson = (address: string, path: string) => Promise<{ok: true; body: unknown} | {ok: false; message: string}>

/** `tls`: every address (the members' own, which come without a scheme, included) over HTTPS with it. */
export function httpFetchJson(timeoutMs: number, tls?: ClientTls): FetchJson {
  const clients = new Map<string, DynClient>()
  return async (address, path) => {
    let client = clients.get(address)
    if (client === undefined) {
      client = new DynClient(address, timeoutMs, tls === undefined ? {} : {tls})
      clients.set(address, client)
    }
    try {
      const result = await client.getJson(path)
      return result.ok ? {ok: true, body: result.body} : {ok: false, message: `${result.status} ${result.error}`}
    } catch (error) {
      if (error instanceof UnreachableError) return {ok: false, message: error.reason}
      throw error
    }
  }
}

export class ClusterWatch {
  private memory: WatchMemory = emptyMemory
  private source: string
  private readonly known: string[]
  /** The addresses the user gave: kept to fail over to whatever their members became. */
  private readonly given: ReadonlySet<string>
  /** The member whose own view the detail panel shows; undefined when it is closed. */
  focus: string | undefined

  constructor(
    addresses: readonly string[],
    private readonly fetchJson: FetchJson,
    private readonly nowMs: () => number = () => Date.now(),
  ) {
    if (addresses.length === 0) throw new Error('ClusterWatch needs at least one node address')
    this.known = [...new Set(addresses)].slice(0, knownAddressesMax)
    this.given = new Set(this.known)
    this.source = this.known[0] as string
  }

  /** The address the view is watched through now (it changes on fail-over). */
  get watchedAddress(): string {
    return this.source
  }

  /** One refresh: fetch everything, fold it into the memory, and return what to draw. */
  async poll(): Promise<ClusterSnapshot> {
    const found = await this.fetchView()
    const takenAtMs = this.nowMs()
    const stats = new Map<string, StatsSample | undefined>()
    let focus: PollResult['focus']
    if (found !== undefined) {
      // A member that left is no node to fail over to or to ask for figures: it stops by design,
      // and one removed while cut off would cost each refresh a timeout.
      const members = found.view.members.filter((member) => member.status !== 'left')
      for (const member of members) this.remember(member.apiAddress)
      for (const member of found.view.members) if (member.status === 'left') this.forget(member.apiAddress)
      const samples = await Promise.all(members.map(async (member) => {
        const answer = await this.fetchJson(member.apiAddress, '/stats')
        return [member.name, answer.ok ? parseStats(answer.body) : undefined] as const
      }))
      for (const [name, sample] of samples) stats.set(name, sample)
      focus = await this.fetchFocus(found.view)
    }
    const shown = this.memory.failover
    const failedOverFromAnswers = found !== undefined && found.failover === undefined && shown !== undefined ? await this.answers(shown.from, found.view, stats) : undefined
    const poll: PollResult = {
      takenAtMs,
      source: this.source,
      view: found?.view,
      stats,
      ...(found?.failover ? {failover: found.failover} : {}),
      ...(failedOverFromAnswers === undefined ? {} : {failedOverFromAnswers}),
      ...(focus ? {focus} : {}),
    }
    const next = nextSnapshot(this.memory, poll)
    this.memory = next.memory
    return next.snapshot
  }

  /**
   * Whether the node at `address` (one the view failed over from) answers now: a member's /stats
   * of this poll says it; an address that is no member's (the user gave another form of it) is
   * asked for its /cluster, once per refresh while the fail-over is shown.
   */
  private async answers(address: string, view: ClusterView, stats: ReadonlyMap<string, StatsSample | undefined>): Promise<boolean> {
    const member = view.members.find((m) => m.apiAddress === address && m.status !== 'left')
    if (member !== undefined) return stats.get(member.name) !== undefined
    const answer = await this.fetchJson(address, '/cluster')
    return answer.ok && parseCluster(answer.body) !== undefined
  }

  private remember(address: string): void {
    if (!this.known.includes(address) && this.known.length < knownAddressesMax) this.known.push(address)
  }

  /** A member that left is no address to fail over to, unless the user gave it (and the current source stays). */
  private forget(address: string): void {
    const index = this.known.indexOf(address)
    if (index >= 0 && !this.given.has(address) && address !== this.source) this.known.splice(index, 1)
  }

  /** GET /cluster from the current source, else from each other known address in turn. */
  private async fetchView(): Promise<{view: ClusterView; failover?: {from: string; to: string}} | undefined> {
    const candidates = [this.source, ...this.known.filter((address) => address !== this.source)]
    for (const address of candidates) {
      const answer = await this.fetchJson(address, '/cluster')
      const view = answer.ok ? parseCluster(answer.body) : undefined
      if (view === undefined) continue
      if (address === this.source) return {view}
      const from = this.source
      this.source = address
      return {view, failover: {from, to: address}}
    }
    return undefined
  }

  private async fetchFocus(view: ClusterView): Promise<PollResult['focus']> {
    const name = this.focus
    if (name === undefined) return undefined
    const member = view.members.find((m) => m.name === name)
    if (member === undefined) return {name, error: 'not a member any more'}
    if (member.status === 'left') return {name, error: 'it left the cluster'}
    const own = member.apiAddress === this.source ? {ok: true as const, view} : await this.fetchJson(member.apiAddress, '/cluster').then((answer) => ({ok: answer.ok, view: answer.ok ? parseCluster(answer.body) : undefined, message: answer.ok ? undefined : answer.message}))
    if (own.view === undefined) return {name, error: `its /cluster did not answer${'message' in own && own.message ? ` (${own.message})` : ''}`}
    const peers: PeerView[] = own.view.members.map((m) => ({name: m.name, status: m.status}))
    return {name, peers}
  }
}

/**
 * Polls every `intervalMs` (measured from the start of one poll to the next, so a slow poll does
 * not pile up) until `signal` aborts, handing each snapshot to `onSnapshot`.
 */
export async function watchCluster(watch: ClusterWatch, intervalMs: number, onSnapshot: (snapshot: ClusterSnapshot) => void, signal: AbortSignal): Promise<void> {
  // Runs until the viewer quits: the abort signal is this loop's bound.
  while (!signal.aborted) {
    const began = Date.now()
    const snapshot = await watch.poll()
    if (signal.aborted) return
    onSnapshot(snapshot)
    await pause(Math.max(0, intervalMs - (Date.now() - began)), signal)
  }
}

/** Waits `ms`, or less when `signal` aborts; leaves no listener behind either way. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, {once: true})
  })
}
