/**
 * The simulator's clients (issue 7): seeded loops of blind puts, puts with the context of a read
 * and with the context a previous put returned, gets, deletes with a read's context, and the
 * shopping cart's read-merge-write (paper §4.4), each with its own N, R and W. Every operation and
 * its outcome goes into the history, with what the client had seen (history.ts).
 *
 * Contexts travel as the client API's tokens (encoded, then decoded back), so the token code is
 * on the path too. In the runs where the cluster grows from fewer owners than N, the clients ask
 * the way the HTTP API does (`apiQuorums`): mostly the cluster's defaults, which `checkQuorum`
 * fits to the owners the node sees while the key records the N asked (`storedN`), else explicit
 * values that fit. A tombstone carries its id in its value, so that the checkers can tell which
 * delete a read returned. Once the clients are done, some keys are read and deleted with what
 * the read saw (`deleteAtEnd`), so that the final reads check a delete in every run.
 *
 * Every request goes into the history with how it ended (history.ts `RequestRecord`), for the
 * availability checks; a request not answered within `requestAnswerMsMax` is recorded as such and
 * the client goes on (the watchdog is cancelled when the answer comes, so it changes no run).
 */

import {checkQuorum, type Checked} from '../../src/api/params.js'
import type {Random} from '../../src/clock.js'
import {assert} from '../../src/errors.js'
import {sleep} from '../../src/scheduler.js'
import type {StoredVersion} from '../../src/storage/stored-object.js'
import {decodeContext, encodeContext} from '../../src/versioning/context.js'
import {join, values, type VersionVector} from '../../src/versioning/dvvset.js'
import {requestAnswerMsMax} from './availability.js'
import {crashed, type Crashed, type SimCluster, type SimService} from './cluster.js'
import type {History, RequestEnd, RequestRecord, WriteEnd} from './history.js'

export interface WorkloadConfig {
  readonly clientCount: number
  readonly operationsPerClient: number
  readonly keys: readonly string[]
  /** A client's pause between two operations is drawn from [0, thinkMsMax). */
  readonly thinkMsMax: number
  /**
   * Requests ask as HTTP clients do: the cluster's defaults (no parameter) or explicit values,
   * checked and fitted by the node they go to with the API's rule (checkQuorum). Otherwise each
   * request names its own N, R and W.
   */
  readonly apiQuorums?: boolean
  /** Each client waits this long before its first operation (a new cluster that nodes join first). */
  readonly startAfterMs?: number
}

interface HeldContext {
  readonly token: string
  readonly seen: ReadonlySet<string>
}

/** What one client remembers of each key: the context of its last read and of its last put. */
interface ClientMemory {
  lastRead: Map<string, HeldContext>
  lastPut: Map<string, HeldContext>
  lastItems: Map<string, string[]>
}

/** Tries of a key's delete at the end of the workload, a request timeout apart. */
export const deleteAtEndAttemptsMax = 4

type OperationKind = 'get' | 'blind-put' | 'put-read-context' | 'put-put-context' | 'delete' | 'cart'

const operationWeights: ReadonlyArray<readonly [OperationKind, number]> = [
  ['get', 30],
  ['blind-put', 12],
  ['put-read-context', 18],
  ['put-put-context', 12],
  ['delete', 6],
  ['cart', 22],
]

function pickWeighted<T>(random: Random, choices: ReadonlyArray<readonly [T, number]>): T {
  let total = 0
  for (const [, weight] of choices) total += weight
  let point = random.next() * total
  for (const [choice, weight] of choices) {
    point -= weight
    if (point < 0) return choice
  }
  return choices[choices.length - 1]![0]
}

export interface RequestQuorum {
  readonly n: number
  readonly r: number
  readonly w: number
  readonly pr: number
  readonly pw: number
  /** The replica count a write records with the key (the N asked, before the node fitted it); absent when the request names its own N. */
  readonly storedN?: number
}

/** The quorum a request runs with, as the node it goes to decides it; or why that node refuses it. */
type QuorumFor = (service: SimService) => Checked<RequestQuorum>

/**
 * N, R, W for one request: mostly the defaults, sometimes weaker or stronger, never above the
 * cluster; and in about one request in four a strict quorum (PR, PW: home replicas only).
 */
function pickQuorum(random: Random, nodeCount: number, defaultN: number): RequestQuorum {
  const n = random.next() < 0.8 ? defaultN : Math.min(nodeCount, 1 + random.int(defaultN + 1))
  const pick = (fallback: number): number => (random.next() < 0.6 ? Math.min(fallback, n) : 1 + random.int(n))
  const r = pick(2)
  const w = pick(2)
  const strict = random.next() < 0.25
  return {n, r, w, pr: strict ? 1 + random.int(r) : 0, pw: strict ? 1 + random.int(w) : 0}
}

/**
 * A request's query as an HTTP client would send it: in about half the requests none (the
 * cluster's defaults), otherwise some of n, r, w, pr, pw, each within what the node sees
 * (`clusterSize` owners), so that the explicit values fit.
 */
function pickQuery(random: Random, defaults: {n: number; r: number; w: number}, clusterSize: number): URLSearchParams {
  const query = new URLSearchParams()
  if (random.next() < 0.55) return query
  const size = Math.max(1, clusterSize)
  const n = random.next() < 0.5 ? 1 + random.int(Math.min(size, defaults.n + 1)) : defaults.n
  if (n !== defaults.n) query.set('n', String(n))
  // An explicit R or W is at most the N asked (and the owners); a default one follows N down.
  const given = (name: 'r' | 'w', fallback: number): number => {
    if (random.next() < 0.5) return Math.min(fallback, n)
    const value = 1 + random.int(Math.min(n, size))
    query.set(name, String(value))
    return value
  }
  const r = given('r', defaults.r)
  const w = given('w', defaults.w)
  if (random.next() < 0.25) {
    query.set('pr', String(1 + random.int(Math.min(r, size))))
    query.set('pw', String(1 + random.int(Math.min(w, size))))
  }
  return query
}

/** The quorum a node makes of a query: the API's rule (defaults fitted, explicit values kept or refused). */
function quorumOfQuery(query: URLSearchParams, service: SimService): Checked<RequestQuorum> {
  const settings = service.settings()
  const checked = checkQuorum(query, {n: settings.defaultN, r: settings.defaultR, w: settings.defaultW}, service.clusterSize())
  if (!checked.ok) return checked
  const {n, r, w, pr, pw, storedN} = checked.value
  return {ok: true, value: {n, r, w, pr: pr ?? 0, pw: pw ?? 0, storedN}}
}

interface VersionBody {
  readonly id: string
  readonly items: readonly string[]
}

function encodeVersion(body: VersionBody): Uint8Array {
  return Buffer.from(JSON.stringify(body), 'utf8')
}

function decodeVersion(version: StoredVersion): VersionBody {
  const body = JSON.parse(Buffer.from(version.value).toString('utf8')) as VersionBody
  assert(typeof body.id === 'string' && Array.isArray(body.items), 'a simulated version carries an id and items')
  return body
}

function toToken(vector: VersionVector, key: string): string {
  return encodeContext(vector, key)
}

function fromToken(token: string, key: string): VersionVector {
  const decoded = decodeContext(token, key)
  assert(decoded.ok, `a context the cluster handed out must decode: ${decoded.ok ? '' : decoded.message}`)
  return decoded.vector
}

/** A request the client stopped waiting for: no answer within requestAnswerMsMax. */
const unanswered = Symbol('unanswered')
type Unanswered = typeof unanswered

function endOf(outcome: {ok: boolean; error?: string} | Crashed | Unanswered): WriteEnd {
  if (outcome === crashed || outcome === unanswered) return 'maybe'
  if (outcome.ok) return 'ok'
  // not_ready: a node that has not confirmed that it is still a member refuses a write before any
  // work (src/node/membership-confirmation.ts), so it is certainly not applied.
  return outcome.error === 'too_many_siblings' || outcome.error === 'object_too_large' || outcome.error === 'bad_parameter' || outcome.error === 'not_ready' ? 'refused' : 'maybe'
}

/** How a request ended, for the availability checks, and its error when it failed. */
function requestEndOf(outcome: {ok: boolean; error?: string; message?: string} | Crashed | Unanswered): {end: RequestEnd; detail?: string} {
  if (outcome === crashed) return {end: 'crashed'}
  if (outcome === unanswered) return {end: 'unanswered'}
  if (outcome.ok) return {end: 'ok'}
  const detail = `${outcome.error}: ${outcome.message ?? ''}`
  return {end: endOf(outcome) === 'refused' ? 'refused' : 'failed', detail}
}

export class Client {
  readonly #memory: ClientMemory = {lastRead: new Map(), lastPut: new Map(), lastItems: new Map()}
  #itemCounter = 0

  constructor(
    readonly name: string,
    private readonly cluster: SimCluster,
    private readonly history: History,
    private readonly random: Random,
    private readonly config: WorkloadConfig,
  ) {}

  /** The client's loop: a bounded number of operations with pauses between them. */
  async run(): Promise<void> {
    if (this.config.startAfterMs !== undefined) await sleep(this.cluster.time, this.config.startAfterMs)
    for (let index = 0; index < this.config.operationsPerClient; index += 1) {
      await this.step()
      await sleep(this.cluster.time, this.random.int(this.config.thinkMsMax))
    }
  }

  /**
   * The end of a key's life: read it with the cluster's default quorum and delete what the read
   * saw, then read it again, so that the final reads check the delete (checker.ts, check 5).
   * Faults may still run: a failed read or delete is tried again, a few times.
   */
  async deleteAtEnd(key: string): Promise<void> {
    for (let attempt = 0; attempt < deleteAtEndAttemptsMax; attempt += 1) {
      const node = this.#pickNode()
      if (node === undefined) return
      const quorum = this.#defaultQuorum()
      const readFailure = await this.#read(node, key, quorum, false)
      const deleted = readFailure === undefined && (await this.#write(this.#pickNode() ?? node, key, quorum, this.#memory.lastRead.get(key), 'read', true, [])) === 'ok'
      if (deleted) {
        const reader = this.#pickNode()
        if (reader !== undefined) await this.#read(reader, key, this.#defaultQuorum(), false)
        return
      }
      await sleep(this.cluster.time, this.cluster.config.requestTimeoutMs)
    }
  }

  /** The cluster's default quorum, as a request without parameters gets it (fitted by the node asked, as the API does, when clients ask that way). */
  #defaultQuorum(): QuorumFor {
    if (this.config.apiQuorums === true) return (asked) => quorumOfQuery(new URLSearchParams(), asked)
    const {defaultN} = this.cluster.config
    return () => ({ok: true, value: {n: defaultN, r: Math.min(2, defaultN), w: Math.min(2, defaultN), pr: 0, pw: 0}})
  }

  /** A read with r = n on every key: the final pass, after every fault healed. */
  async finalRead(key: string, n: number): Promise<string | undefined> {
    const node = this.#pickNode()
    if (node === undefined) return 'no node is up'
    return this.#read(node, key, () => ({ok: true, value: {n, r: n, w: n, pr: 0, pw: 0}}), true)
  }

  async step(): Promise<void> {
    const node = this.#pickNode()
    if (node === undefined) return
    const key = this.config.keys[this.random.int(this.config.keys.length)]!
    const quorum = this.#pickQuorum(node)
    const kind = pickWeighted(this.random, operationWeights)
    const memory = this.#memory
    switch (kind) {
      case 'get':
        await this.#read(node, key, quorum, false)
        return
      case 'blind-put':
        await this.#write(node, key, quorum, undefined, 'none', false, [this.#newItem()])
        return
      case 'put-read-context':
        await this.#write(node, key, quorum, memory.lastRead.get(key), 'read', false, [this.#newItem()])
        return
      case 'put-put-context':
        await this.#write(node, key, quorum, memory.lastPut.get(key), 'put', false, [this.#newItem()])
        return
      case 'delete': {
        const held = memory.lastRead.get(key)
        if (held !== undefined) await this.#write(node, key, quorum, held, 'read', true, [])
        return
      }
      case 'cart': {
        // Paper §4.4: read the cart, merge its siblings (the union of items), add one, write back.
        const failure = await this.#read(node, key, quorum, false)
        if (failure !== undefined) return
        const items = new Set(memory.lastItems.get(key) ?? [])
        items.add(this.#newItem())
        const next = this.#pickNode() ?? node
        await this.#write(next, key, quorum, memory.lastRead.get(key), 'read', false, [...items].sort())
        return
      }
    }
  }

  /** How this step's requests ask for their quorum: a fixed one, or a query each node checks as the API does. */
  #pickQuorum(node: string): QuorumFor {
    const service = this.cluster.service(node)
    if (this.config.apiQuorums === true && service !== undefined) {
      const settings = service.settings()
      const query = pickQuery(this.random, {n: settings.defaultN, r: settings.defaultR, w: settings.defaultW}, service.clusterSize())
      return (asked) => quorumOfQuery(query, asked)
    }
    const fixed = pickQuorum(this.random, this.cluster.config.nodeCount, this.cluster.config.defaultN)
    return () => ({ok: true, value: fixed})
  }

  #newItem(): string {
    this.#itemCounter += 1
    return `${this.name}-item${this.#itemCounter}`
  }

  #pickNode(): string | undefined {
    const up = this.cluster.clientNodes()
    return up.length === 0 ? undefined : up[this.random.int(up.length)]
  }

  /**
   * Waits for a request's answer, at most requestAnswerMsMax (then the request is recorded as
   * never answered and the client goes on). The watchdog is cancelled when the answer comes, so
   * a run whose requests are all answered is the same run as without it.
   */
  async #answer<T>(request: RequestRecord, pending: Promise<T>): Promise<T | Unanswered> {
    const time = this.cluster.time
    let timer: ReturnType<typeof time.after> | undefined
    const watchdog = new Promise<Unanswered>((resolve) => {
      timer = time.after(requestAnswerMsMax(this.cluster.config.requestTimeoutMs), () => resolve(unanswered))
    })
    let outcome: T | Unanswered
    try {
      outcome = await Promise.race([pending, watchdog])
    } finally {
      if (timer !== undefined) time.cancel(timer)
    }
    const {end, detail} = requestEndOf(outcome as Parameters<typeof requestEndOf>[0])
    this.history.endRequest(request, end, time.monotonicMs(), detail)
    request.ringSteady = request.ringSteady === true && this.cluster.routesByFirstRing()
    return outcome
  }

  #startRequest(kind: 'get' | 'put', node: string, key: string, quorum: RequestQuorum, final: boolean): RequestRecord {
    return this.history.startRequest({
      kind,
      client: this.name,
      key,
      node,
      n: quorum.n,
      quorum: kind === 'get' ? quorum.r : quorum.w,
      homeQuorum: kind === 'get' ? quorum.pr : quorum.pw,
      startMs: this.cluster.time.monotonicMs(),
      final,
      ringSteady: this.cluster.routesByFirstRing(),
    })
  }

  /** A read; answers undefined when it succeeded, or why it failed. */
  async #read(node: string, key: string, quorumFor: QuorumFor, final: boolean): Promise<string | undefined> {
    const service = this.cluster.service(node)
    if (service === undefined) return `${node} is down`
    const quorum = this.#checked(quorumFor, service, `get ${key}`, node)
    if (quorum === undefined) return `${node} refused the quorum`
    const startMs = this.cluster.time.monotonicMs()
    const request = this.#startRequest('get', node, key, quorum, final)
    const outcome = await this.#answer(request, service.get({key, n: quorum.n, r: quorum.r, pr: quorum.pr, explain: false}))
    const endMs = this.cluster.time.monotonicMs()
    // The replicas a get heard from by its answer (failures included): more than R means it asked more than it started with.
    if (outcome !== crashed && outcome !== unanswered && (outcome.trace?.replies.length ?? 0) > quorum.r) this.history.readsAskingMoreThanR += 1
    if (outcome === crashed || outcome === unanswered || !outcome.ok) {
      const why = outcome === crashed ? `${node} crashed` : outcome === unanswered ? `no answer within ${endMs - startMs} ms` : `${outcome.error}: ${outcome.message}`
      this.history.note(endMs, `${this.name} get ${key} n=${quorum.n} r=${quorum.r} pr=${quorum.pr} via ${node} failed: ${why}`)
      return why
    }
    const versions = outcome.object === undefined ? [] : values(outcome.object.versions)
    const bodies = versions.map(decodeVersion)
    const returned = bodies.map((body) => body.id)
    this.history.addRead({key, n: quorum.n, r: quorum.r, pr: quorum.pr, node, startMs, endMs, returned, final})
    this.history.note(endMs, `${this.name} get ${key} n=${quorum.n} r=${quorum.r} pr=${quorum.pr} via ${node} -> [${returned.join(', ')}]${final ? ' (final)' : ''}`)
    const token = toToken(outcome.object === undefined ? [] : join(outcome.object.versions), key)
    this.#memory.lastRead.set(key, {token, seen: this.history.seenByRead(returned)})
    const items = new Set<string>()
    versions.forEach((version, index) => {
      if (!version.tombstone) for (const item of bodies[index]!.items) items.add(item)
    })
    this.#memory.lastItems.set(key, [...items])
    return undefined
  }

  async #write(
    node: string,
    key: string,
    quorumFor: QuorumFor,
    held: HeldContext | undefined,
    contextFrom: 'none' | 'read' | 'put',
    tombstone: boolean,
    items: readonly string[],
  ): Promise<WriteEnd | undefined> {
    const service = this.cluster.service(node)
    if (service === undefined) return undefined
    const quorum = this.#checked(quorumFor, service, `${tombstone ? 'delete' : 'put'} ${key}`, node)
    if (quorum === undefined) return undefined
    const context = held === undefined ? [] : fromToken(held.token, key)
    const seen = held?.seen ?? new Set<string>()
    const id = this.history.newId(key)
    const startMs = this.cluster.time.monotonicMs()
    const from = held === undefined ? 'none' : contextFrom
    const write = this.history.startWrite({id, key, tombstone, seen, n: quorum.storedN ?? quorum.n, ranN: quorum.n, w: quorum.w, pw: quorum.pw, node, startMs, contextFrom: from})
    const request = this.#startRequest('put', node, key, quorum, false)
    const pending = service.put({
      key,
      value: encodeVersion({id, items}),
      contentType: 'application/json',
      tombstone,
      context,
      n: quorum.n,
      ...(quorum.storedN === undefined ? {} : {storedN: quorum.storedN}),
      w: quorum.w,
      dw: 0,
      pw: quorum.pw,
      explain: false,
    })
    const outcome = await this.#answer(request, pending)
    const endMs = this.cluster.time.monotonicMs()
    const end = endOf(outcome)
    this.history.endWrite(write, end, endMs)
    if (outcome !== crashed && outcome !== unanswered && outcome.ok) write.coordinator = outcome.trace.coordinator
    // A strict write's homes are looked at the moment it is acknowledged, before anything can repair them.
    if (end === 'ok' && quorum.pw > 0) {
      const coordinatorHomes = outcome !== crashed && outcome !== unanswered && outcome.ok ? outcome.trace.preflist.filter((entry) => entry.home).map((entry) => entry.node) : []
      write.homesHolding = await this.cluster.homesHolding(key, quorum.n, id, startMs, this.history, coordinatorHomes)
    }
    // A put no home could take is coordinated by a fallback (paper §4.6): the history says so.
    const detail = outcome === crashed ? `${node} crashed` : outcome === unanswered ? `no answer within ${endMs - startMs} ms` : outcome.ok ? (outcome.trace.fallbackCoordinator === undefined ? 'ok' : `ok, coordinated by the fallback ${outcome.trace.coordinator}`) : `${outcome.error}: ${outcome.message}`
    const stored = quorum.storedN === undefined || quorum.storedN === quorum.n ? '' : ` (stored n=${quorum.storedN})`
    this.history.note(endMs, `${this.name} ${tombstone ? 'delete' : 'put'} ${id} n=${quorum.n}${stored} w=${quorum.w} pw=${quorum.pw} context=${from}[${[...seen].join(', ')}] via ${node} -> ${detail}`)
    if (outcome !== crashed && outcome !== unanswered && outcome.ok) this.#memory.lastPut.set(key, {token: toToken(outcome.context, key), seen: new Set([...seen, id])})
    return end
  }

  /** The quorum `node` makes of this request, or undefined (noted in the history) when it refuses it. */
  #checked(quorumFor: QuorumFor, service: SimService, what: string, node: string): RequestQuorum | undefined {
    const checked = quorumFor(service)
    if (checked.ok) return checked.value
    this.history.note(this.cluster.time.monotonicMs(), `${this.name} ${what} via ${node} refused: ${checked.error}: ${checked.message}`)
    return undefined
  }
}
