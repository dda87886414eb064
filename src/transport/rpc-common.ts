/**
 * What every `Transport` implementation shares, so that TCP and the simulated network fail in
 * exactly the same shapes: the failure values, how a thrown handler error becomes an
 * ErrorResponse body and back, and what a "host:port" address is.
 */

import {assert} from '../errors.js'
import {isLoggedCount} from '../logged-count.js'
import type {RpcResult} from './transport.js'

/** Longest code or message an ErrorResponse carries; longer ones are cut. */
export const errorMessageCharsMax = 1024
/**
 * Largest `details` an ErrorResponse carries, as JSON: what a refusal names for a client (the
 * joins a commit left out, say), which the node that forwarded the request hands on. Larger
 * details are left out rather than cut, since a cut object would not be one.
 */
export const errorDetailsBytesMax = 4096
/** After a failed connect, requests fail at once for this long, doubling per failure up to the max. */
export const reconnectBackoffMsFirst = 100
export const reconnectBackoffMsMax = 1000
const requestIdMax = 0xffff_ffff

/** A caller's record of one peer, as far as request ids and the back-off go. */
export interface PeerRecord {
  nextRequestId: number
  failedConnects: number
  retryAtMs: number
  readonly pending: ReadonlyMap<number, unknown>
}

/** The next request id free on `peer`: at most `pendingPerPeerMax` are taken, so one is found within that many steps. */
export function allocateRequestId(peer: PeerRecord, pendingPerPeerMax: number): number {
  for (let attempt = 0; attempt <= pendingPerPeerMax; attempt++) {
    const requestId = peer.nextRequestId
    peer.nextRequestId = requestId === requestIdMax ? 1 : requestId + 1
    if (!peer.pending.has(requestId)) return requestId
  }
  assert(false, 'a free request id exists while pending is below its bound')
}

/**
 * Sets the back-off of a peer whose connection was just lost. One that had answered us broke
 * (say the peer restarted): reconnect at the next request. One that never answered was refused,
 * timed out, or closed on us: back off, doubling, so that a dead peer costs each caller nothing
 * but an immediate 'unreachable'.
 */
export function backOffAfterLoss(peer: PeerRecord, answered: boolean, nowMs: number, maxMs: number = reconnectBackoffMsMax): void {
  if (answered) {
    peer.failedConnects = 0
    peer.retryAtMs = 0
    return
  }
  peer.failedConnects += 1
  // Capping the exponent first keeps 2 ** k finite however long the failures go on.
  const doublings = Math.min(peer.failedConnects - 1, Math.ceil(Math.log2(maxMs / reconnectBackoffMsFirst)))
  peer.retryAtMs = nowMs + Math.min(reconnectBackoffMsFirst * 2 ** doublings, maxMs)
}

export function settle(result: RpcResult): Promise<RpcResult> {
  return Promise.resolve(result)
}

/** A connection that broke after the request went out on it: the peer may have handled it. */
export function unreachable(message: string): RpcResult {
  return {ok: false, error: 'unreachable', message}
}

/** 'unreachable' decided before anything was sent (closed, no such address, backing off): the peer certainly did not handle it. */
export function unsent(message: string): RpcResult {
  return {ok: false, error: 'unreachable', message, sent: false}
}

/**
 * The answer of a node that is stopping (TcpTransport.drainInbound) to a request it will not
 * serve: `overloaded`, which every caller takes as certainly not done, marked as a stop so that
 * the sender sends it nothing more on that connection.
 */
export function stoppingRefusal(nodeName: string): {code: 'overloaded'; message: string; details: {stopping: true}} {
  return {code: 'overloaded', message: `${nodeName} is stopping: ask another node`, details: {stopping: true}}
}

/** Whether an ErrorResponse body is a stopping node's refusal (stoppingRefusal). */
export function isStoppingRefusal(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false
  const {code, details} = body as {code?: unknown; details?: unknown}
  return code === 'overloaded' && typeof details === 'object' && details !== null && (details as {stopping?: unknown}).stopping === true
}

/** The caller's view of an ErrorResponse body; a malformed one still becomes a 'remote' failure. */
export function remoteFailure(body: unknown): RpcResult {
  if (typeof body === 'object' && body !== null) {
    const {code, message, details} = body as {code?: unknown; message?: unknown; details?: unknown}
    if (typeof code === 'string') {
      const carried = boundedDetails(details)
      return {ok: false, error: 'remote', code, message: typeof message === 'string' ? message : '', ...(carried === undefined ? {} : {details: carried})}
    }
  }
  return {ok: false, error: 'remote', code: 'internal', message: 'malformed error answer'}
}

/**
 * Whether a thrown value is LevelDB's own error (abstract-level's LEVEL_IO_ERROR and the like):
 * this node's store failing, which is said with dyn's stable code for it, storage_failed, read by
 * the asking node as "not taken" so that it asks another. A walk saw a hint write on a full disk
 * reach a client as LEVEL_IO_ERROR, and the put it belonged to give up on that replica.
 */
export function isStoreFailure(error: unknown): boolean {
  return stringCodeOf(error)?.startsWith('LEVEL_') === true
}

/** A thrown value's `code`, when it has a string one. */
function stringCodeOf(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as {code?: unknown}).code : undefined
  return typeof code === 'string' ? code : undefined
}

/** What a thrown value tells the caller: its string `code` if it has one, else 'internal', and its details when they fit. */
export function errorBody(error: unknown): {code: string; message: string; details?: Record<string, unknown>} {
  // LevelDB's reason is kept in the message when its code is said as storage_failed (isStoreFailure).
  const code = isStoreFailure(error) ? 'storage_failed' : (stringCodeOf(error) ?? 'internal')
  const details = typeof error === 'object' && error !== null ? boundedDetails((error as {details?: unknown}).details) : undefined
  return {code: code.slice(0, errorMessageCharsMax), message: describe(error).slice(0, errorMessageCharsMax), ...(details === undefined ? {} : {details})}
}

/**
 * `details` when they are a plain, non-empty object of at most errorDetailsBytesMax as JSON, else
 * undefined: a peer's answer is input like any other, and what is handed on to a client must be
 * bounded and serialisable.
 */
function boundedDetails(details: unknown): Record<string, unknown> | undefined {
  if (typeof details !== 'object' || details === null || Array.isArray(details) || Object.getPrototypeOf(details) !== Object.prototype) return undefined
  if (Object.keys(details).length === 0) return undefined
  try {
    const text = JSON.stringify(details)
    return Buffer.byteLength(text) <= errorDetailsBytesMax ? (JSON.parse(text) as Record<string, unknown>) : undefined
  } catch {
    // A cycle, a BigInt: not something to hand on.
    return undefined
  }
}

export function describe(error: unknown): string {
  try {
    if (typeof error === 'object' && error !== null && typeof (error as {message?: unknown}).message === 'string') {
      return (error as {message: string}).message
    }
    return String(error)
  } catch {
    // A thrown value whose conversion to a string throws in turn: nothing more to say.
    return 'unprintable error'
  }
}

// Its home is below every layer (logged-count.ts); the transport's users import it from here too.
export {isLoggedCount} from '../logged-count.js'

/** Kinds a RepeatLog counts apart; a kind beyond them is counted as `other` (kinds are codes, so this is never reached unless codes grow). */
export const repeatKindsMax = 64

/**
 * Log lines about something any stranger can repeat at will (a connection refused for bad input,
 * an HTTP request at the internode port), counted per kind and logged at the first and at every
 * power of two of the count, with it: a flood of one kind costs a line per doubling (about 30 for
 * a billion), while the first of each other kind is still said. One line per connection once grew
 * a node's log by a line per request of a monitor pointed at the wrong port.
 */
export class RepeatLog {
  readonly #log: (line: string) => void
  readonly #counts = new Map<string, number>()

  constructor(log: (line: string) => void) {
    this.#log = log
  }

  /** Counts one of `kind`, and logs `line` with the count when isLoggedCount says so. Returns the count. */
  say(kind: string, line: string): number {
    const counted = this.#counts.has(kind) || this.#counts.size < repeatKindsMax ? kind : 'other'
    const count = (this.#counts.get(counted) ?? 0) + 1
    this.#counts.set(counted, count)
    if (isLoggedCount(count)) this.#log(`${line} ${repeatSuffix(count)}`)
    return count
  }
}

/** What a RepeatLog adds to a line: which occurrence it is, and at the first, that not every one is logged. */
export function repeatSuffix(count: number): string {
  if (count === 1) return '(the first since the node started; more are logged at the 2nd, 4th, 8th, ... with their count)'
  return `(the ${ordinal(count)} since the node started)`
}

/** 1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, ..., 21st, ..., 64th, 1024th. */
export function ordinal(count: number): string {
  const lastTwo = count % 100
  const last = count % 10
  const suffix = lastTwo >= 11 && lastTwo <= 13 ? 'th' : last === 1 ? 'st' : last === 2 ? 'nd' : last === 3 ? 'rd' : 'th'
  return `${count}${suffix}`
}

/**
 * A peer's text as it may go into a log line or an error: control characters and everything
 * outside printable ASCII replaced, and cut to `charsMax`, so that no peer can forge log lines.
 */
export function printable(text: string, charsMax: number): string {
  const cut = text.length > charsMax ? `${text.slice(0, charsMax)}...` : text
  return cut.replace(/[^\x20-\x7e]/g, '?')
}

/**
 * Whether a TLS handshake failed because the other side answered with bytes that are no TLS
 * record: OpenSSL's "wrong version number", or "packet length too long" when those bytes read as
 * a huge record (a plain HTTP answer, a frame of a node without TLS). The peer runs, without TLS.
 */
export function answeredInPlainText(error: {readonly code?: unknown; readonly message: string}): boolean {
  const code = typeof error.code === 'string' ? error.code : ''
  return code.startsWith('ERR_SSL_WRONG_VERSION') || /wrong version number|packet length too long/.test(error.message)
}

/**
 * A socket error in the words an operator needs: what it most likely means for the address
 * dialled, with the system's code to search for. Unknown codes keep the system's message.
 */
export function socketErrorInWords(code: string | null, message: string): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'nothing listens on that port (connection refused, ECONNREFUSED)'
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `its host name does not resolve (${code})`
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
      return `no route to its host: a host that is down, or a network that does not reach it (${code})`
    case 'ETIMEDOUT':
      return 'its host does not answer (ETIMEDOUT)'
    case 'ECONNRESET':
      return 'the connection was reset by the other side (ECONNRESET)'
    default:
      return message
  }
}

/**
 * The code of an 'unreachable' failure whose address is no dyn internode port: it answered in
 * another protocol (HTTP: a node's client API port). Retrying is pointless; the address is wrong.
 */
export const notInternodeCode = 'not_internode'

/** The code of an internode connection refused for the cluster secret, on both sides (handshake.ts). */
export const unauthenticatedCode = 'unauthenticated'

/** host:port, with an IPv6 host in brackets. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`
}

/** Splits "host:port" (or "[v6 host]:port"); null when it is not one. */
export function parseAddress(address: string): {host: string; port: number} | null {
  const colon = address.lastIndexOf(':')
  if (colon <= 0) return null
  let host = address.slice(0, colon)
  const portText = address.slice(colon + 1)
  if (!/^[0-9]{1,5}$/.test(portText)) return null
  const port = Number(portText)
  if (port < 1 || port > 0xffff) return null
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1)
  if (host.length === 0) return null
  return {host, port}
}
