/**
 * The TypeScript client of the client HTTP API (server-driven coordination, paper §6.4): every
 * request goes to one node, which coordinates or forwards it. Outcomes the API defines
 * (found, siblings, not found, a coded error) come back as values; only a node that cannot be
 * reached at all is an `unreachable` failure.
 *
 * Given several nodes, the client tries them in order, moving to the next only when a node
 * cannot be connected to: once a request has reached a node, that node's answer (an error
 * included) is the answer, since a write it may have applied must not be sent again elsewhere.
 * One refusal is the exception: a node restarted where it could not confirm that it is still a
 * member refuses writes before any work (`not_ready` with `membershipUnconfirmed`), so the next
 * node is tried.
 *
 * It speaks HTTP with node:http rather than fetch: fetch loads Node's bundled undici on first
 * use, which costs more than a whole `dyn get` may take, and node:http sends the path exactly
 * as given. HTTPS (a node started with `--tls-cert`) goes through node:https, loaded only when a
 * request first needs it, so that a plain-HTTP command does not pay for the TLS module. An
 * `https://` address, or any address without a scheme when the client was given a CA to trust,
 * is reached over HTTPS; the node's certificate must chain to that CA (the system's CAs without
 * one) and name the host dialled, as browsers and etcd's clients check.
 *
 * A client that lives long (a library user's, the partition-aware client's) throttles itself per
 * node: while a node sheds most of what it is sent, part of the requests meant for it are not
 * sent but go to the next node given, or, with none left, come back as that node's own 503
 * `overloaded` would, and are retried as a shed request is (src/client/client-throttle.ts).
 */

import {request as httpRequest} from 'node:http'
import type {IncomingHttpHeaders} from 'node:http'
import {checkContext, checkKeyText, valueBytesMax} from '../api/params.js'
import {orderSiblings} from '../api/sibling-order.js'
import {isSafeContentType} from '../coordinator/messages.js'
import {assert, DynError} from '../errors.js'
import type {ErrorCode} from '../errors.js'
import type {Clock} from '../clock.js'
import {systemClock, systemRandom} from '../node/system-time.js'
import {internodePortHeader} from '../transport/foreign-protocol.js'
import {answeredInPlainText, printable} from '../transport/rpc-common.js'
import type {ClientTls} from '../transport/tls-ca-file.js'
import {NodeThrottles} from './client-throttle.js'
import {parseNodeList} from './node-address.js'
import type {NodeAddress} from './node-address.js'

export type {ClientTls}

export interface Sibling {
  readonly value: Buffer
  readonly contentType: string
  readonly timestampMs: number
  readonly deleted: boolean
  /** Its dot (src/api/sibling-order.ts names a sibling by it): the coordinator's actor and its counter; absent from a node that does not serve them. */
  readonly actor?: string
  readonly counter?: number
}

export interface ApiError {
  readonly ok: false
  readonly status: number
  readonly error: ErrorCode | string
  readonly message: string
  readonly body: Record<string, unknown>
}

export type GetResult =
  | {readonly ok: true; readonly found: true; readonly context: string; readonly siblings: readonly Sibling[]; readonly trace?: unknown}
  | {
      readonly ok: true
      readonly found: false
      readonly deleted: boolean
      readonly context?: string
      readonly trace?: unknown
      /** The node's words, and 0 when none of the key's home replicas answered (only fallbacks): then the key may well exist. */
      readonly message?: string
      readonly homesAnswered?: 0
    }
  | ApiError

export type WriteResult =
  | {
      readonly ok: true
      readonly context: string
      /** After a put or a delete: how many versions (siblings) the key has at the coordinator, when the node says (X-Dyn-Siblings). */
      readonly siblings?: number
      /** How many of them are live, not tombstones (X-Dyn-Live-Siblings): after a delete, 0 when the key is deleted. */
      readonly liveSiblings?: number
      readonly trace?: unknown
    }
  | ApiError

export interface QuorumOptions {
  readonly n?: number
  readonly r?: number
  readonly w?: number
  readonly dw?: number
  /** Of the R answers, how many must come from home replicas. */
  readonly pr?: number
  /** Of the W acknowledgements, how many must come from home replicas. */
  readonly pw?: number
  readonly explain?: boolean
}

export const clientTimeoutMsDefault = 10_000

/** The largest answer read into memory: siblings of 1 MiB values, base64 in JSON, and some slack. */
export const responseBytesMax = 64 * 1024 * 1024

/** The header with which a node tells a writer how many versions the key has after its put or delete. */
export const siblingsHeader = 'x-dyn-siblings'

/** Beside it, how many of those versions are live (not tombstones). */
export const liveSiblingsHeader = 'x-dyn-live-siblings'

/** The header with which a node warns that it ran a request with less than was asked. */
export const warningHeader = 'x-dyn-warning'

/** The header with which a node says the N, R and W a key request ran with ("n=3, r=2, w=2, dw=0"). */
export const quorumHeader = 'x-dyn-quorum'

/** The N, R and W of an X-Dyn-Quorum header; undefined when it is missing or not one. */
export function quorumOfHeader(header: unknown): {readonly n: number; readonly r: number; readonly w: number} | undefined {
  if (typeof header !== 'string') return undefined
  const valueOf = (name: string): number | undefined => {
    const match = new RegExp(`(?:^|, )${name}=(\\d{1,9})(?:,|$)`).exec(header)
    return match === null ? undefined : Number(match[1])
  }
  const n = valueOf('n')
  const r = valueOf('r')
  const w = valueOf('w')
  return n === undefined || r === undefined || w === undefined ? undefined : {n, r, w}
}

interface RawResponse {
  /** host:port of the node that answered. */
  readonly node: string
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
}

/**
 * A request a node shed (503 `overloaded` with `Retry-After`: refused before any work, so it is
 * safe to send again, a write included) is sent again at most this many times: retries multiply
 * the load of an overloaded cluster, so they are few (the SRE book's "Handling Overload": at most
 * three per request), spaced out and jittered so that shed clients do not come back together.
 */
export const overloadRetriesMax = 3
/** The longest single wait before a retry of a shed request. */
export const overloadRetryDelayMsMax = 2000
/** The most a request waits in all across its retries of shed attempts; past it the 503 is the answer. */
export const overloadRetryWaitMsMax = 5000

/**
 * How long to wait before retrying a shed request, or undefined when it is not to be retried (not
 * a shed, or the retries or the wait are spent). The node's hint is `retryAfterMs` in the body,
 * else the `Retry-After` header in seconds; the wait doubles with each retry and is scaled by a
 * random factor in [0.5, 1.5) ("jitter", AWS Architecture Blog, "Exponential Backoff and
 * Jitter"). `random` returns a float in [0, 1).
 */
export function overloadRetryDelayMs(response: {readonly status: number; readonly headers: IncomingHttpHeaders; readonly body: Buffer}, retriesDone: number, waitedMs: number, random: () => number): number | undefined {
  if (retriesDone >= overloadRetriesMax) return undefined
  const hintMs = shedHintMs(response)
  if (hintMs === undefined) return undefined
  const delayMs = Math.min(overloadRetryDelayMsMax, Math.max(1, hintMs) * 2 ** retriesDone * (0.5 + random()))
  if (waitedMs + delayMs > overloadRetryWaitMsMax) return undefined
  return Math.round(delayMs)
}

/**
 * The wait a node asked for when it shed the request (503 `overloaded` with `Retry-After`):
 * `retryAfterMs` in the body, else the header in seconds; undefined for any other answer.
 */
function shedHintMs(response: {readonly status: number; readonly headers: IncomingHttpHeaders; readonly body: Buffer}): number | undefined {
  if (response.status !== 503) return undefined
  const retryAfter = response.headers['retry-after']
  if (typeof retryAfter !== 'string' || !/^\d{1,6}$/.test(retryAfter.trim())) return undefined
  let body: Record<string, unknown>
  try {
    body = JSON.parse(response.body.toString('utf8')) as Record<string, unknown>
  } catch {
    return undefined
  }
  if (body === null || typeof body !== 'object' || body.error !== 'overloaded') return undefined
  return typeof body.retryAfterMs === 'number' && Number.isFinite(body.retryAfterMs) && body.retryAfterMs > 0 ? body.retryAfterMs : Number(retryAfter.trim()) * 1000
}

/**
 * The answer to a request the client's throttle kept back from every node it could go to: the
 * 503 `overloaded` those nodes would likely have answered, said to be the client's, so that it is
 * retried and reported as a shed one is. `retryAfterMs` is the shortest wait those nodes asked
 * for when they last shed a request.
 */
/** Whether a result is the answer of the client's own throttle: nothing was sent (see `throttledAnswer`). */
export function isThrottledByClient(result: {readonly ok: boolean; readonly body?: Record<string, unknown>}): boolean {
  return !result.ok && result.body?.throttledByClient === true
}

/**
 * Whether an answer is a node's refusal of a write because it has not confirmed yet that it is
 * still a member (src/node/membership-confirmation.ts): refused before any work, so the write is
 * certainly not applied there and may be sent to another node, as one that cannot be connected to.
 */
export function isUnconfirmedMemberRefusal(result: {readonly ok: boolean; readonly body?: Record<string, unknown>}): boolean {
  return !result.ok && result.body?.error === 'not_ready' && result.body.membershipUnconfirmed === true
}

function refusedAsUnconfirmed(response: RawResponse): boolean {
  if (response.status !== 503) return false
  try {
    const body = JSON.parse(response.body.toString('utf8')) as unknown
    return typeof body === 'object' && body !== null && isUnconfirmedMemberRefusal({ok: false, body: body as Record<string, unknown>})
  } catch {
    return false
  }
}

function throttledAnswer(labels: readonly string[], retryAfterMs: number): RawResponse {
  const message = `not sent: ${labels.join(', ')} shed most of this client's recent requests, so it sends there only part of what it is asked to until they recover (client-side throttling); retry later, or send less`
  return {
    node: labels.join(', '),
    status: 503,
    headers: {'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))), 'content-type': 'application/json'},
    body: Buffer.from(JSON.stringify({error: 'overloaded', message, retryAfterMs, throttledByClient: true})),
  }
}

type Attempt =
  | {readonly ok: true; readonly response: RawResponse}
  | {
      readonly ok: false
      readonly reason: string
      readonly connected: boolean
      readonly staleSocket: boolean
      /** A TLS failure: something answers at the address, and what to fix is what `reason` says, not the node's absence. */
      readonly tls?: true
      /** The node's certificate did not verify (OpenSSL's or Node's code): a configuration to fix, never an outage. */
      readonly untrusted?: string
      /** Something answered, but not in HTTP (a TLS node asked in plain HTTP, an internode port): `reason` says what to fix. */
      readonly notHttp?: true
      /** A fresh connection reset before any answer: a node stopping or starting, or one that crashed; the request may have reached it. */
      readonly resetBeforeAnswer?: true
      /** The TLS handshake was answered in plain HTTP: the node serves no TLS, a configuration to fix. */
      readonly plainNode?: true
      /** The client's timeout ran out (connecting or waiting for the answer): the node may run, and need longer. */
      readonly timedOut?: true
    }

export interface DynClientOptions {
  /** Jitter of the retries of shed requests, and the throttle's draws: a float in [0, 1) [default: the system's]. */
  readonly random?: () => number
  /** The throttle's time (its monotonic ms) [default: the system's]. */
  readonly clock?: Clock
  /**
   * HTTPS for every address without a scheme, trusting `ca` (the cluster's CA, `--tls-ca`);
   * without it only `https://` addresses use HTTPS, trusting the system's CAs.
   */
  readonly tls?: ClientTls
}

/**
 * How a client given `addresses` (and `tls`, the CA it was given, if any) reaches the members it
 * learns of, whose addresses come without a scheme: HTTPS with the same CA when it has one or an
 * address is `https://`, else plain HTTP (undefined).
 */
export function memberTlsOf(addresses: readonly NodeAddress[], tls: ClientTls | undefined): ClientTls | undefined {
  return tls ?? (addresses.some((address) => address.scheme === 'https') ? {} : undefined)
}

export class DynClient {
  private readonly addresses: readonly NodeAddress[]
  /** The node that answered last: later requests of this client start there. */
  private preferred = 0
  private readonly random: () => number
  private readonly clock: Clock
  private readonly tls: ClientTls | undefined
  /** Per node (its label), what this client sends there while it sheds (see the header). */
  private readonly throttles = new NodeThrottles()
  /** Per node (its label), the wait it asked for when it last shed a request of this client. */
  private readonly shedHints = new Map<string, number>()

  /** `nodes`: one address or several (each `host:port`, `http://host:port` or `https://host:port`); a bad one throws a `bad_parameter` DynError. */
  constructor(
    nodes: string | readonly string[],
    private readonly timeoutMs: number = clientTimeoutMsDefault,
    options: DynClientOptions = {},
  ) {
    const parsed = parseNodeList(typeof nodes === 'string' ? [nodes] : nodes)
    if (!parsed.ok) throw new DynError(parsed.error, parsed.message)
    this.addresses = parsed.value
    this.random = options.random ?? systemRandom.next
    this.clock = options.clock ?? systemClock
    this.tls = options.tls
  }

  /**
   * What a client of the members this one learns about (GET /cluster gives their addresses
   * without a scheme) needs to reach them as this one reaches its nodes: HTTPS with the same CA
   * when this client has one or was given an `https://` address, else undefined (plain HTTP).
   */
  get memberTls(): ClientTls | undefined {
    return memberTlsOf(this.addresses, this.tls)
  }

  /** host:port of the node this client asks first. */
  get node(): string {
    return (this.addresses[this.preferred] as NodeAddress).label
  }

  async put(key: string, value: Uint8Array, options: QuorumOptions & {context?: string; contentType?: string} = {}): Promise<WriteResult> {
    const badKey = refusedKey(key)
    if (badKey !== undefined) return badKey
    if (value.byteLength > valueBytesMax) return refusedValue(value.byteLength)
    // Refused here as the node would refuse it: a line break or other control character in it
    // made Node throw ERR_INVALID_CHAR out of dyn put (a TypeError, exit 1, "not found").
    if (options.contentType !== undefined && !isSafeContentType(options.contentType)) return refusedContentType()
    const badContext = refusedContext(options.context, key)
    if (badContext !== undefined) return badContext
    const headers: Record<string, string> = {accept: 'application/json', 'content-type': options.contentType ?? 'application/octet-stream'}
    if (options.context !== undefined) headers['x-dyn-context'] = options.context.trim()
    const response = await this.send('PUT', `/kv/${encodeURIComponent(key)}${queryOf(options, ['n', 'w', 'dw', 'pw', 'explain'])}`, headers, value, true)
    return writeResult(response)
  }

  async delete(key: string, options: QuorumOptions & {context?: string} = {}): Promise<WriteResult> {
    const badKey = refusedKey(key)
    if (badKey !== undefined) return badKey
    const badContext = refusedContext(options.context, key)
    if (badContext !== undefined) return badContext
    const headers: Record<string, string> = {accept: 'application/json'}
    if (options.context !== undefined) headers['x-dyn-context'] = options.context.trim()
    const response = await this.send('DELETE', `/kv/${encodeURIComponent(key)}${queryOf(options, ['n', 'r', 'w', 'dw', 'pr', 'pw', 'explain'])}`, headers, undefined, true)
    return writeResult(response)
  }

  async get(key: string, options: QuorumOptions = {}): Promise<GetResult> {
    const badKey = refusedKey(key)
    if (badKey !== undefined) return badKey
    const response = await this.send('GET', `/kv/${encodeURIComponent(key)}${queryOf(options, ['n', 'r', 'pr', 'explain'])}`, {accept: 'application/json'}, undefined, true)
    const body = jsonBody(response)
    if (response.status === 404 && body.error === 'not_found') {
      return {
        ok: true,
        found: false,
        deleted: body.deleted === true,
        ...(typeof body.context === 'string' ? {context: body.context} : {}),
        trace: body.trace,
        ...(typeof body.message === 'string' ? {message: body.message} : {}),
        ...(body.homesAnswered === 0 ? {homesAnswered: 0 as const} : {}),
      }
    }
    if (response.status < 200 || response.status > 299) return apiError(response, body)
    if (!Array.isArray(body.siblings)) return apiError(response, notDynNode(response))
    // Oldest first, as the node answers them (src/api/sibling-order.ts); sorted here too, for a node of an older version.
    const siblings = orderSiblings((body.siblings as Array<Record<string, unknown>>).map((s) => ({
      value: Buffer.from(String(s.value), 'base64'),
      contentType: String(s.contentType),
      timestampMs: Number(s.timestampMs),
      deleted: s.deleted === true,
      ...(typeof s.actor === 'string' ? {actor: s.actor} : {}),
      ...(typeof s.counter === 'number' ? {counter: s.counter} : {}),
    })))
    return {ok: true, found: true, context: String(body.context), siblings, trace: body.trace}
  }

  /** GET a JSON route (/cluster, /stats, /health, /cluster/preflist/{key}). */
  async getJson(path: string): Promise<{ok: true; body: Record<string, unknown>} | ApiError> {
    const response = await this.send('GET', path, {accept: 'application/json'})
    const body = jsonBody(response)
    return response.status >= 200 && response.status <= 299 && body.error !== notDynNodeCode ? {ok: true, body} : apiError(response, body)
  }

  /** POST to a JSON route with no body (the membership changes: /cluster/leave, /cluster/commit, ...). */
  async postJson(path: string): Promise<{ok: true; body: Record<string, unknown>} | ApiError> {
    const response = await this.send('POST', path, {accept: 'application/json'})
    const body = jsonBody(response)
    return response.status >= 200 && response.status <= 299 && body.error !== notDynNodeCode ? {ok: true, body} : apiError(response, body)
  }

  #nodeWarning: string | undefined
  #nodeQuorum: {readonly n: number; readonly r: number; readonly w: number} | undefined

  /**
   * The warning the node sent with its last answer (X-Dyn-Warning: e.g. the request ran with a
   * smaller N than asked, because the cluster has fewer members), once.
   */
  takeNodeWarning(): string | undefined {
    const warning = this.#nodeWarning
    this.#nodeWarning = undefined
    return warning
  }

  /** The N, R and W the last answer's request ran with, as its node said (X-Dyn-Quorum); undefined for an answer without them. */
  lastNodeQuorum(): {readonly n: number; readonly r: number; readonly w: number} | undefined {
    return this.#nodeQuorum
  }

  /**
   * Send, and send again after a jittered wait while a node sheds the request (503 overloaded
   * with Retry-After), within `overloadRetriesMax` and `overloadRetryWaitMsMax`; the last answer
   * is returned whatever it is. `keyRequest`: a request on a key, the only kind a node sheds, and
   * so the only kind its throttle counts or keeps back (GET /cluster, /stats, /health and the
   * membership changes are answered under overload, and must still be sent).
   */
  private async send(method: string, path: string, headers: Record<string, string>, body?: Uint8Array, keyRequest = false): Promise<RawResponse> {
    let waitedMs = 0
    let response = await this.sendToSomeNode(method, path, headers, body, keyRequest)
    for (let retries = 0; retries < overloadRetriesMax; retries += 1) {
      const delayMs = overloadRetryDelayMs(response, retries, waitedMs, this.random)
      if (delayMs === undefined) break
      waitedMs += delayMs
      await new Promise<void>((resolve) => setTimeout(resolve, delayMs))
      response = await this.sendToSomeNode(method, path, headers, body, keyRequest)
    }
    return response
  }

  /**
   * Send to the preferred node, then to the others in order while they cannot be connected to or
   * the client's throttle keeps the request back from them.
   */
  private async sendToSomeNode(method: string, path: string, headers: Record<string, string>, body: Uint8Array | undefined, keyRequest: boolean): Promise<RawResponse> {
    const failures: Array<{label: string; reason: string; tls: boolean; notHttp: boolean; plainNode: boolean; timedOut: boolean; resetBeforeAnswer: boolean; untrusted?: string}> = []
    // The last node tried took the request and did not answer in time: see silentAdvice.
    let silent = false
    // Nodes this request was kept back from by the client's throttle: nothing was sent to them.
    const throttled: string[] = []
    // The first refusal of a node that has not confirmed that it is still a member: the next node
    // is tried, and this is the answer only when no other node answers.
    let unconfirmed: RawResponse | undefined
    const readOnly = method === 'GET' || method === 'HEAD'
    for (let step = 0; step < this.addresses.length; step += 1) {
      const index = (this.preferred + step) % this.addresses.length
      const address = this.addresses[index] as NodeAddress
      const throttle = keyRequest ? this.throttles.of(address.label) : undefined
      if (throttle !== undefined && !throttle.trySend(this.clock.monotonicMs(), this.random())) {
        throttled.push(address.label)
        continue
      }
      const tls = address.scheme === 'https' || (address.scheme === undefined && this.tls !== undefined) ? (this.tls ?? {}) : undefined
      let attempt = await sendOnce(address, tls, method, path, headers, body, this.timeoutMs)
      // A kept-alive connection that closed under the request: most often the node had closed it
      // as idle and never read the request, so it is sent again to the same node on a new
      // connection. A node that read it and then died ends a connection the same way, though, so a
      // write whose second try finds the node gone is not sent to another node (a review saw one
      // applied twice): it may have been taken.
      const staleWrite = !attempt.ok && attempt.staleSocket && !readOnly
      if (!attempt.ok && attempt.staleSocket) attempt = await sendOnce(address, tls, method, path, headers, body, this.timeoutMs)
      // A failure to answer in time is not a shed: the throttle follows the node's own signal. A
      // node that cannot be connected to is down, not overloaded: its throttle forgets what it
      // shed, so that the next request reaches it and fails as unreachable, as it should.
      if (throttle !== undefined) {
        const hintMs = attempt.ok ? shedHintMs(attempt.response) : undefined
        if (!attempt.ok && !attempt.connected) throttle.forget()
        else throttle.recordAnswer(this.clock.monotonicMs(), hintMs !== undefined)
        if (hintMs !== undefined) this.shedHints.set(address.label, hintMs)
      }
      if (attempt.ok && refusedAsUnconfirmed(attempt.response) && step < this.addresses.length - 1) {
        unconfirmed ??= attempt.response
        continue
      }
      if (attempt.ok) {
        this.preferred = index
        const warning = attempt.response.headers[warningHeader]
        this.#nodeWarning = typeof warning === 'string' && warning.length > 0 ? warning : undefined
        this.#nodeQuorum = quorumOfHeader(attempt.response.headers[quorumHeader])
        return attempt.response
      }
      const lostWrite = staleWrite && !attempt.connected
      // Reset before any answer, or cut off as above: a write the node may have taken (resetAdvice);
      // a read is simply asked of the next node, since reading twice changes nothing.
      const maybeTaken = !readOnly && (lostWrite || (attempt.connected && attempt.resetBeforeAnswer === true))
      failures.push({label: address.label, reason: lostWrite ? `${attempt.reason}, after its kept-alive connection closed under the write` : attempt.reason, tls: attempt.tls === true, notHttp: attempt.notHttp === true, plainNode: attempt.plainNode === true, timedOut: attempt.timedOut === true, resetBeforeAnswer: maybeTaken, ...(attempt.untrusted === undefined ? {} : {untrusted: attempt.untrusted})})
      if (readOnly && attempt.connected && attempt.resetBeforeAnswer === true) continue
      if (lostWrite) break
      if (attempt.connected) {
        silent = !attempt.tls && !attempt.notHttp && !attempt.plainNode && attempt.untrusted === undefined
        break
      }
    }
    // Refused by a node that could not confirm its membership, and no other node took it: that
    // refusal, unless a node after it may have taken the write (then the outage says so below).
    if (unconfirmed !== undefined && !silent && failures.every((f) => !f.resetBeforeAnswer)) return unconfirmed
    // Kept back from every node it could go to, or from some while the others could not be
    // connected to: the overloaded nodes' likely answer, retried as theirs would be. Not when a
    // node took the request and went silent (it may have applied it), nor for a configuration to
    // fix (TLS, a port that is not a node's), which are said as such.
    if (throttled.length > 0 && !silent && failures.every((f) => !f.tls && !f.notHttp && !f.plainNode && f.untrusted === undefined)) return throttledAnswer(throttled, Math.min(...throttled.map((label) => this.shedHints.get(label) ?? 1000)))
    const single = failures.length === 1
    const reason = single ? (failures[0] as {reason: string}).reason : failures.map((f) => `${f.label} ${f.reason}`).join('; ')
    // Every node tried serves plain HTTP where HTTPS was asked: the scheme or --tls-ca is the mistake (exit 2).
    if (failures.length > 0 && failures.every((f) => f.plainNode)) throw new TlsNotServedError(failures.map((f) => f.label), reason)
    // Every node tried runs and was refused for its certificate: a configuration to fix (exit 2),
    // not an outage. One node down among them keeps it unreachable, as a script matching exit 3 expects.
    const untrusted = failures.flatMap((f) => (f.untrusted === undefined ? [] : [f.untrusted]))
    if (failures.length > 0 && untrusted.length === failures.length) {
      throw new UntrustedCertificateError(
        failures.map((f) => f.label),
        reason,
        [...new Set(untrusted)],
      )
    }
    throw unreachableOf(failures, reason, silent)
  }
}

/**
 * The error for a request no node answered, from how each node tried failed (`silent`: the last
 * one took the request and went quiet). Every node tried ran out of the timeout: said as that,
 * with raising --timeout among what to do, not as "cannot reach" (a user's `dyn repair --timeout
 * 1` was told to start a node that was running).
 */
export function unreachableOf(failures: ReadonlyArray<{label: string; tls: boolean; notHttp: boolean; timedOut: boolean; resetBeforeAnswer?: boolean}>, reason: string, silent: boolean): UnreachableError {
  const timedOut = failures.length > 0 && failures.every((f) => f.timedOut)
  const last = failures.at(-1)
  const advice = failures.every((f) => f.tls)
    ? tlsAdvice
    : failures.every((f) => f.notHttp)
      ? notHttpAdvice
      : last?.resetBeforeAnswer === true
        ? resetAdvice(last.label)
        : silent
          ? silentAdvice(last?.label ?? '')
          : timedOut
            ? connectTimeoutAdvice
            : undefined
  return new UnreachableError(failures.map((f) => f.label).join(', '), reason, advice, timedOut)
}

/** The same refusal the API would answer, without a round trip (and without a path that URL normalisation would change). */
function refusedKey(key: string): ApiError | undefined {
  const checked = checkKeyText(key)
  if (checked.ok) return undefined
  return {ok: false, status: 400, error: checked.error, message: checked.message, body: {error: checked.error, message: checked.message}}
}

/**
 * The node's own refusal of a context it could not decode (400 bad_context: cut short, altered,
 * not base64url, or read from another key than `key`), by the node's own check, without sending it. A line break in it (a context
 * pasted across lines) made Node throw ERR_INVALID_CHAR out of dyn put and dyn delete (a
 * TypeError, exit 1, "not found"). The node trims the header; so does the client, before sending.
 */
function refusedContext(context: string | undefined, key: string): ApiError | undefined {
  if (context === undefined) return undefined
  const checked = checkContext(context, key)
  if (checked.ok) return undefined
  return {ok: false, status: 400, error: checked.error, message: checked.message, body: {error: checked.error, message: checked.message}}
}

/** The node's own refusal of a Content-Type it would not store (400 bad_request), without sending it. */
function refusedContentType(): ApiError {
  const message = 'the Content-Type must be 1 to 256 printable ASCII characters'
  return {ok: false, status: 400, error: 'bad_request', message, body: {error: 'bad_request', message}}
}

/** The node's own refusal of a value over the limit (413 value_too_large), without sending it. */
function refusedValue(bytes: number): ApiError {
  const message = `the value is ${bytes} bytes; values are at most ${valueBytesMax} bytes (1 MiB): store a larger object in parts, or elsewhere with its address as the value`
  return {ok: false, status: 413, error: 'value_too_large', message, body: {error: 'value_too_large', message, bytes, bytesMax: valueBytesMax}}
}

/**
 * A body at least this large is sent only after the node's 100 Continue (`Expect:
 * 100-continue`), so that a refusal (a value over the limit, a bad parameter) arrives as the
 * node's answer before the upload, instead of a connection reset in the middle of it.
 */
export const expectContinueBytesMin = 64 * 1024

/** A server that ignores `Expect: 100-continue` gets the body anyway after this long (curl waits 1 s too). */
export const expectContinueWaitMs = 1000

/** node:https, imported by the first request that needs it (see the header). */
let httpsModule: Promise<typeof import('node:https')> | undefined

/**
 * One HTTP exchange with one node, over TLS when `tls` is given. Never throws for the node's
 * sake; a client certificate and key that Node refuses are a `bad_parameter` DynError.
 */
async function sendOnce(address: NodeAddress, tls: ClientTls | undefined, method: string, path: string, headers: Record<string, string>, body: Uint8Array | undefined, timeoutMs: number): Promise<Attempt> {
  const requestOf = tls === undefined ? httpRequest : (await (httpsModule ??= import('node:https'))).request
  return new Promise((resolve) => {
    let connected = false
    let answered = false
    let settled = false
    const finish = (attempt: Attempt): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      clearTimeout(continueTimer)
      resolve(attempt)
    }
    const expectContinue = body !== undefined && body.byteLength >= expectContinueBytesMin
    const options = {
      host: address.host,
      port: address.port,
      ...(tls?.ca === undefined ? {} : {ca: tls.ca}),
      ...(tls?.cert === undefined || tls.key === undefined ? {} : {cert: tls.cert, key: tls.key}),
      method,
      path,
      headers: body === undefined ? headers : {...headers, 'content-length': String(body.byteLength), ...(expectContinue ? {expect: '100-continue'} : {})},
    }
    let request: ReturnType<typeof httpRequest>
    try {
      request = requestOf(options)
    } catch (error) {
      // Node refuses a client certificate and key that do not belong together (or a key it cannot
      // read) before it connects: the user's input is wrong, the node was never asked.
      if (tls?.cert === undefined) throw error
      throw new DynError('bad_parameter', `the client certificate and key could not be used (${(error as Error).message}): give the key made with the certificate, in PEM and unencrypted`)
    }
    let bodySent = false
    const sendBody = (): void => {
      if (bodySent || answered) return
      bodySent = true
      clearTimeout(continueTimer)
      request.end(body)
    }
    const continueTimer = expectContinue ? setTimeout(sendBody, expectContinueWaitMs) : undefined
    const timer = setTimeout(() => {
      finish({ok: false, connected, staleSocket: false, timedOut: true, reason: connected ? `no answer within ${timeoutMs} ms` : `no connection within ${timeoutMs} ms`})
      request.destroy()
    }, timeoutMs)
    request.once('socket', (socket) => {
      // Over TLS a request reaches the node only once the handshake is done: a node whose
      // certificate is refused has seen nothing, and the next node may be tried.
      if (!socket.connecting && (tls === undefined || (socket as {encrypted?: boolean; authorized?: boolean}).authorized === true)) connected = true
      else socket.once(tls === undefined ? 'connect' : 'secureConnect', () => (connected = true))
    })
    request.once('error', (error: NodeJS.ErrnoException) => {
      const staleSocket = request.reusedSocket && !answered && error.code === 'ECONNRESET'
      // Whether the request may have reached the node is the handshake's to say, not the error's
      // kind: a TLS error after the handshake (a record the client cannot decrypt, a reset) may
      // come after the node has the request, which must then not be sent to the next node.
      const tlsHint = tls === undefined ? undefined : tlsFailureHint(error, address, {established: connected, ...(tls.source === undefined ? {} : {caSource: tls.source})})
      if (tlsHint !== undefined) {
        const untrusted = certificateRejected(error, connected) ? {untrusted: error.code as string} : {}
        const plainNode = !connected && answeredInPlainText(error) ? {plainNode: true as const} : {}
        finish({ok: false, connected: connected && !staleSocket, staleSocket, reason: `${error.code ?? error.message}: ${tlsHint}`, ...(connected ? {} : {tls: true as const}), ...untrusted, ...plainNode})
        return
      }
      const reason = error.code ?? error.message
      // Connected, then answered in something that is not HTTP: a port that serves another protocol.
      const notHttp = connected && !staleSocket && !answered && (error.code ?? '').startsWith('HPE_')
      // Connected, then reset before any answer: a node that stops resets the connections its port
      // had queued but it never took, and one that starts checks its port is free by binding it a
      // moment (both never read the request); a node that crashed may have applied it. A node's
      // internode port answers HTTP with where to go instead (foreign-protocol.ts), not a reset.
      const resetBeforeAnswer = connected && !staleSocket && !answered && error.code === 'ECONNRESET'
      const said = notHttp ? `${reason}: ${notHttpHint}` : resetBeforeAnswer ? `${reason}: ${resetHint}` : reason
      finish({ok: false, connected: connected && !staleSocket, staleSocket, reason: said, ...(notHttp ? {notHttp: true as const} : {}), ...(resetBeforeAnswer ? {resetBeforeAnswer: true as const} : {})})
    })
    request.once('response', (response) => {
      answered = true
      const chunks: Buffer[] = []
      let total = 0
      response.on('data', (chunk: Buffer) => {
        total += chunk.length
        if (total > responseBytesMax) {
          finish({ok: false, connected: true, staleSocket: false, reason: `the answer is over ${responseBytesMax} bytes`})
          request.destroy()
          return
        }
        chunks.push(chunk)
      })
      response.once('end', () => {
        // A node's internode port answering HTTP (foreign-protocol.ts): the wrong port, said as a
        // port that does not speak the client API, with the node's own words on which one does.
        if (response.headers[internodePortHeader] !== undefined) {
          finish({ok: false, connected: true, staleSocket: false, reason: printable(Buffer.concat(chunks).toString('utf8').trim(), internodeAnswerCharsMax), notHttp: true})
          return
        }
        finish({ok: true, response: {node: address.label, status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks)}})
        // Answered before the body was sent (a refusal under Expect: 100-continue): the
        // request can never complete on this connection.
        if (!bodySent) request.destroy()
      })
      response.once('error', (error: NodeJS.ErrnoException) => finish({ok: false, connected: true, staleSocket: false, reason: error.code ?? error.message}))
    })
    if (!expectContinue) {
      bodySent = true
      request.end(body)
      return
    }
    request.once('continue', sendBody)
    request.flushHeaders()
  })
}

/**
 * A connection reset after the connect and before any answer: a node that stops or starts (see
 * sendOnce), one that crashed, or an HTTPS server asked in plain HTTP (a dyn node answers that in
 * HTTP, 400 https_required; Node's own HTTPS server resets).
 */
const resetHint =
  'the node reset the connection before any answer (a node stopping, starting, or one that crashed); if it serves HTTPS (started with --tls-cert), give https://host:port and the cluster CA with --tls-ca'

/** The most of an internode port's answer to HTTP quoted in an error (it names the port to use). */
const internodeAnswerCharsMax = 300

const notHttpHint =
  'the port accepted the connection but did not answer in HTTP; if it is a node\'s internode port (dyn start --rpc-port, by default --port + 1000), give --node its client API port (--port) instead; if the node serves HTTPS (started with --tls-cert), give https://host:port and the cluster CA with --tls-ca'

/**
 * What to do about a failed TLS connection to a node, or undefined when the error is no TLS
 * failure. The codes are OpenSSL's certificate verification results and Node's TLS errors.
 * `established`: the handshake had finished (then no certificate is in question); `caSource`:
 * where the CA the client trusts came from (`--tls-ca FILE`), absent with the system's CAs.
 */
export function tlsFailureHint(error: NodeJS.ErrnoException, address: NodeAddress, context: {established?: boolean; caSource?: string} = {}): string | undefined {
  const code = error.code ?? ''
  const isTlsCode = code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code === 'EPROTO'
  if (context.established === true) return isTlsCode ? `the TLS connection to ${address.label} broke after its handshake (${error.message})` : undefined
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `the node's certificate does not name ${address.host}: reach it by a name or address its certificate lists (subject alternative names), or make its certificate with this one`
  }
  if (answeredInPlainText(error)) {
    return `${address.label} does not speak TLS: a node started without --tls-cert serves plain HTTP (http://${address.label}, without --tls-ca)`
  }
  // Signed by the right CA, but outside its dates: the CA given is not the question.
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return `the node's certificate ${code === 'CERT_HAS_EXPIRED' ? 'has expired' : 'is not valid yet'} (${error.message}): give the node a certificate valid now (README "Rotating certificates"), and check this machine's clock`
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ISSUER/.test(code)) {
    if (context.caSource !== undefined) {
      return `the node's certificate is not signed by the CA in ${context.caSource} (${error.message}): give the cluster CA's certificate (the ca.crt the nodes were started with as --tls-ca), not a node's certificate or another cluster's CA`
    }
    return `the node's certificate is not trusted (${error.message}): give --tls-ca (or DYN_TLS_CA) the certificate of the CA that signed the cluster's node certificates`
  }
  if (isTlsCode) return `the TLS handshake with ${address.label} failed (${error.message})`
  return undefined
}

/**
 * Whether a failed TLS connection failed because the node's certificate did not verify: not
 * signed by a CA the client trusts (another cluster's CA, a node's certificate given as the CA,
 * none given), outside its dates, or not naming the address dialled. These are Node's and
 * OpenSSL's verification results, which name no `ERR_SSL_` alert (those are the node's own
 * refusals); `established`: the handshake had finished, so no certificate is in question.
 */
export function certificateRejected(error: NodeJS.ErrnoException, established = false): boolean {
  const code = error.code ?? ''
  if (established) return false
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return true
  return !code.startsWith('ERR_') && /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ISSUER|INVALID_CA|HOSTNAME_MISMATCH/.test(code)
}

/** The end of an UnreachableError when every node tried failed its TLS handshake: they run, so starting one is no answer. */
const tlsAdvice = 'something answers there, and its TLS connection failed as said: fix that (starting a node will not)'

/**
 * The end of an UnreachableError when the last node tried accepted the connection (and perhaps
 * the request) and did not answer in time: it runs, paused or too busy, so "start one" was no
 * answer, and a write sent to it may have been applied, which is why no other node was asked.
 */
function silentAdvice(node: string): string {
  return `${node} accepted the connection but did not answer in time (a paused, overloaded or stuck node); the request may have reached it, so no other node was tried: see whether it serves (dyn cluster status), raise --timeout, or point --node at another node (read a key you wrote before writing it again)`
}

/** The end of an UnreachableError when the last node tried reset the connection before answering: it may have taken the request. */
function resetAdvice(node: string): string {
  return `${node} may be stopping or starting, or have crashed; a write may have reached it, so no other node was tried: read the key to see whether it was applied, then write again, through another node if this one is down (dyn cluster status)`
}

/** The end of an UnreachableError when no connection was made within the timeout: a node may run there and need longer, or none runs. */
const connectTimeoutAdvice = 'if a node runs there, it may need longer: raise --timeout; if none does, start one (dyn cluster up) or point --node / DYN_NODE at a running node'

/** The end of an UnreachableError when every node tried answered in something other than HTTP: the address is what to fix. */
const notHttpAdvice = 'something answers there, but not in HTTP: fix the address as said (starting a node will not)'

/**
 * No node answered at all (refused, reset, timed out). `node` lists the addresses tried. The
 * code is `unreachable`, but `tls_untrusted` for the subclass below; `details` are the extra
 * fields of the CLI's --json error.
 */
export class UnreachableError extends Error {
  readonly code: 'unreachable' | 'tls_untrusted' | 'tls_not_served' = 'unreachable'
  /** `advice`: what to do, when it is not to start a node or point at another (a TLS failure). */
  /** `timedOut`: every node tried ran out of the client's timeout, so the message says that rather than "cannot reach". */
  constructor(
    readonly node: string,
    readonly reason: string,
    advice = 'start one (dyn cluster up) or point --node / DYN_NODE at a running node',
    timedOut = false,
  ) {
    super(`${timedOut ? `no dyn node at ${node} answered within the timeout` : `cannot reach a dyn node at ${node}`} (${reason}); ${advice}`)
  }

  get details(): Record<string, unknown> {
    return {}
  }
}

/**
 * Every node tried runs, and presented a certificate that did not verify (`certificateRejected`):
 * a configuration to fix on this side or the node's, exit 2 as other bad input, never the outage
 * that `unreachable` (exit 3) reports. Still an UnreachableError to the code that tries another
 * node instead (the partition-aware client), since nothing was sent to this one.
 */
export class UntrustedCertificateError extends UnreachableError {
  override readonly code = 'tls_untrusted'

  /**
   * `nodes`: the addresses refused for their certificate, in the order tried (at least one);
   * `tlsErrors`: the verification results, e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE, each once.
   */
  constructor(
    readonly nodes: readonly string[],
    reason: string,
    readonly tlsErrors: readonly string[],
  ) {
    super(nodes.join(', '), reason)
    assert(nodes.length > 0, 'UntrustedCertificateError: at least one node was refused')
    const several = nodes.length > 1
    this.message = `the ${several ? 'certificates of the dyn nodes' : 'certificate of the dyn node'} at ${this.node} did not verify, so nothing was sent to ${several ? 'them' : 'it'} (${reason}); ${several ? 'they run' : 'the node runs'}: fix the CA or the address as said`
  }

  /**
   * The --json error's fields, of one shape whatever the count: `node` one address (the only one,
   * or the first tried), `nodes` every address refused, `tlsError` the verification results.
   */
  override get details(): Record<string, unknown> {
    return {node: this.nodes[0], nodes: [...this.nodes], tlsError: this.tlsErrors.join(', ')}
  }
}

/**
 * Every node tried answered the TLS handshake in plain HTTP: they run without --tls-cert, and the
 * address's https:// (or --tls-ca for an address without a scheme) is the mistake, exit 2 as other
 * bad input, never the outage that `unreachable` (exit 3) reports: trying again cannot help.
 */
export class TlsNotServedError extends UnreachableError {
  override readonly code = 'tls_not_served'

  constructor(
    readonly nodes: readonly string[],
    reason: string,
  ) {
    super(nodes.join(', '), reason)
    assert(nodes.length > 0, 'TlsNotServedError: at least one node answered')
    const several = nodes.length > 1
    // "Wrong version number" proves only that something answered the handshake in plain text: a
    // node without --tls-cert most likely, but any plain HTTP server or an internode port alike.
    this.message = `${this.node} ${several ? 'answer' : 'answers'} in plain HTTP, not TLS, so nothing was sent (${reason}); something runs there: fix the address as said`
  }

  override get details(): Record<string, unknown> {
    return {node: this.nodes[0], nodes: [...this.nodes]}
  }
}

function queryOf(options: QuorumOptions, allowed: ReadonlyArray<keyof QuorumOptions>): string {
  const query = new URLSearchParams()
  for (const name of allowed) {
    const value = options[name]
    if (value !== undefined && value !== false) query.set(name, String(value))
  }
  const text = query.toString()
  return text === '' ? '' : `?${text}`
}

function jsonBody(response: RawResponse): Record<string, unknown> {
  if (response.body.length === 0) return {}
  try {
    const parsed: unknown = JSON.parse(response.body.toString('utf8'))
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : notDynNode(response)
  } catch {
    return notDynNode(response)
  }
}

const notDynNodeCode = 'not_a_dyn_node'

/** Thrown where a caller needs an exception: the address answers HTTP, but as no dyn node does (`notDynNode`). */
export class NotDynNodeError extends Error {
  readonly code = notDynNodeCode
}

/**
 * An answer no dyn node gives (a body that is not a JSON object, an error without a code): the
 * address is some other HTTP server. Said as such, with what to do, rather than as a bad answer.
 */
function notDynNode(response: RawResponse): Record<string, unknown> {
  return {
    error: notDynNodeCode,
    message: `${response.node} answered HTTP ${response.status}, but not as a dyn node does: it is not a dyn node's client API; point --node (or DYN_NODE) at one (host:port of a node's --port)`,
    status: response.status,
  }
}

function apiError(response: RawResponse, body: Record<string, unknown>): ApiError {
  if (typeof body.error !== 'string') body = notDynNode(response)
  return {ok: false, status: response.status, error: String(body.error), message: String(body.message ?? `HTTP ${response.status}`), body}
}

function headerText(response: RawResponse, name: string): string | undefined {
  const value = response.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** A count a header carries; undefined when it is absent (a node of an older version) or no count. */
function countHeader(response: RawResponse, name: string): number | undefined {
  const text = headerText(response, name)
  const count = text === undefined || text.trim() === '' ? Number.NaN : Number(text)
  return Number.isInteger(count) && count >= 0 ? count : undefined
}

function writeResult(response: RawResponse): WriteResult {
  const body = jsonBody(response)
  if (response.status < 200 || response.status > 299 || body.error === notDynNodeCode) return apiError(response, body)
  const siblings = countHeader(response, siblingsHeader)
  const liveSiblings = countHeader(response, liveSiblingsHeader)
  return {
    ok: true,
    context: String(body.context ?? headerText(response, 'x-dyn-context') ?? ''),
    ...(siblings === undefined ? {} : {siblings}),
    ...(liveSiblings === undefined ? {} : {liveSiblings}),
    trace: body.trace,
  }
}
