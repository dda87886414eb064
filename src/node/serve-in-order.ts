/**
 * One request at a time per client connection, and an answer for every request a connection
 * carried, for the client API's HTTP/1.1 server (ARCHITECTURE "Client HTTP API").
 *
 * Node's HTTP server parses a connection's pipelined requests as their bytes arrive and hands
 * each to the handler at once; it only sends their answers in order. A PUT and a GET of the same
 * key pipelined on one connection then ran side by side: the GET could answer 404 for a key whose
 * PUT was answered 204 before it, and a pipelined DELETE could answer 404 and leave the value
 * live (a new user's walk). RFC 9112 §9.3.2 lets a server work on pipelined requests in parallel
 * only when all of them are safe; dyn serves each connection's requests one after the other, as
 * a client that pipelines expects: a request starts once the answer before it has been sent.
 * Requests waiting behind it are bounded (`pipelinedRequestsMax`); one beyond the bound is
 * answered `overloaded` in its turn (Node keeps the answers in order), without being worked on.
 *
 * Bytes the parser refuses after requests still to be answered (a well-formed PUT followed by
 * garbage) used to cost the connection, and with it the answers owed, although the PUT had been
 * applied. The refusal now waits for them: it is written, and the connection closed, once every
 * request read before the bad bytes has been answered. When the bad bytes are the body of the
 * request being served (a chunk size that is not hexadecimal), or that body stops arriving
 * (Node's request timeout), that request is itself answered the refusal, through its own response.
 *
 * Node's refusals are answered in the API's JSON shape with a status that says what went wrong:
 * 408 `request_timeout` for a request that did not arrive whole in time, 431 `headers_too_large`
 * for a request line and headers over Node's limit, 400 `bad_request` for the rest.
 *
 * A node that stops drains (`InOrderServing.drain`): the requests it has begun are worked on and
 * answered, each answer closing its connection, so that a client is never left with a reset for a
 * put that may have been applied. A walk sent SIGTERM to a node under 32 connections of puts, and
 * all 32 requests in flight ended in ECONNRESET.
 */

import type {IncomingMessage, RequestListener, Server, ServerResponse} from 'node:http'
import type net from 'node:net'
import {Server as TlsServer} from 'node:tls'
import {QuietChecks} from '../quiet-connections.js'
import type {Scheduler} from '../scheduler.js'
import {DynError} from '../errors.js'
import type {ErrorCode} from '../errors.js'
import {statusOfError} from '../api/status.js'

/** Requests a connection may have waiting behind the one being served; more are answered `overloaded`. */
export const pipelinedRequestsMax = 64

interface Exchange {
  readonly request: IncomingMessage
  readonly response: ServerResponse
}

/** A connection's requests: the one being served, those read behind it, and a refusal owed after them. */
interface Connection {
  current: Exchange | undefined
  readonly waiting: Exchange[]
  /** The parser refused bytes after requests still to be answered: sent, and the connection ended, once they are. */
  refusalAfter: string | undefined
  /** Node's HTTP layer refused something on this connection: it is answered once, and closes. */
  refused: boolean
  readonly socket: net.Socket
}

/** The in-order serving of one server, for a stop that first answers what it has begun. */
export interface InOrderServing {
  /**
   * From now on every answer closes its connection (`connection: close`), those of requests
   * already under way included while their headers are unsent, and a connection that stays quiet
   * (no request being served, no byte arriving) for `drainQuietChecks` checks in a row is closed; resolves once
   * every connection has closed. Requests pipelined behind one are not worked on: its connection
   * closes after the answer before them. A connection is closed only once quiet, not at once,
   * because one that looks idle may hold a request its client has just sent and the node has not
   * read yet: closed then, the client would get a reset for it.
   */
  drain(scheduler: Scheduler): Promise<void>
  /** Ends every connection now (the drain's bound has passed), which ends the drain. */
  endAll(): void
}

/** How often a drain looks for quiet connections, and how many looks in a row make one quiet (about 200 ms). */
const drainCheckMs = 50
const drainQuietChecks = 4

/** What a refusal of Node's HTTP layer is answered, and the reason /stats counts it under. */
export interface HttpRefusal {
  readonly code: ErrorCode
  readonly reason: string
  readonly message: string
}

/** How long a request's line and headers may take: a third of the whole request's time. */
export function headersTimeoutMsOf(requestTimeoutMs: number): number {
  return Math.ceil(requestTimeoutMs / 3)
}

/** The refusal for an error of Node's HTTP layer (its parser, or its request and header timeouts). */
export function refusalOfClientError(errorCode: string | undefined, requestTimeoutMs: number): HttpRefusal {
  switch (errorCode) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {code: 'request_timeout', reason: 'request_timeout', message: `the request did not arrive whole in time (its headers within ${Math.ceil(headersTimeoutMsOf(requestTimeoutMs) / 1000)} s, all of it within ${Math.round(requestTimeoutMs / 1000)} s): send its headers and body without pausing, then read the answer`}
    case 'HPE_INVALID_EOF_STATE':
      return {code: 'bad_request', reason: 'request_cut_short', message: 'the client ended its side of the connection before the request arrived whole: send all of it (the whole body: Content-Length bytes, or chunked up to its last chunk) before shutting down writing'}
    case 'HPE_HEADER_OVERFLOW':
      return {code: 'headers_too_large', reason: 'headers_too_large', message: 'the request line and headers are over 16 KiB, the most a node reads: a key is at most 1 KiB; send fewer or shorter headers'}
    default:
      return {code: 'bad_request', reason: 'malformed_http', message: `the request is not well-formed HTTP/1.1 (${errorCode ?? 'unparsable'})`}
  }
}

/** A refusal as raw bytes, for a connection with no response object to answer through; it closes the connection. */
export function rawRefusal(refusal: HttpRefusal): string {
  const body = errorBody(refusal.code, refusal.message)
  const status = statusOfError[refusal.code]
  const phrase = status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'
  return `HTTP/1.1 ${status} ${phrase}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
}

/**
 * Registers `handler` on `server` for every request (plain, `Expect: 100-continue` and other
 * expectations), one at a time per connection, and answers the refusals of Node's HTTP layer
 * (`clientError`) as the header says. `countRejected` is told the reason of each refusal.
 */
export function serveInOrder(server: Server, handler: RequestListener, countRejected: (reason: string) => void, requestTimeoutMs: number): InOrderServing {
  const connections = new WeakMap<net.Socket, Connection>()
  // Every open connection at the HTTP layer, for a drain to wait on and close once quiet.
  const open = new Set<Connection>()
  let draining = false
  const drainWaiters: Array<() => void> = []

  const track = (socket: net.Socket): Connection => {
    const connection: Connection = {current: undefined, waiting: [], refusalAfter: undefined, refused: false, socket}
    connections.set(socket, connection)
    open.add(connection)
    socket.once('close', () => {
      open.delete(connection)
      if (draining && open.size === 0) for (const waiter of drainWaiters.splice(0)) waiter()
    })
    return connection
  }
  // A TLS server's HTTP connections are its TLS sockets, once their handshake is done.
  server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    if (!connections.has(socket)) track(socket)
  })

  const start = (connection: Connection, socket: net.Socket, exchange: Exchange): void => {
    connection.current = exchange
    if (draining) closeAfterAnswer(exchange.response)
    // 'close' comes once the answer has been sent, or the connection lost before it was.
    exchange.response.once('close', () => {
      connection.current = undefined
      next(connection, socket)
    })
    handler(exchange.request, exchange.response)
  }

  const next = (connection: Connection, socket: net.Socket): void => {
    for (let following = connection.waiting.shift(); following !== undefined; following = connection.waiting.shift()) {
      // A client gone, or a connection closing (an answer said `connection: close`), is answered
      // nothing more: its waiting requests are not worked on, so none is applied unanswered.
      if (socket.destroyed || !socket.writable) continue
      start(connection, socket, following)
      return
    }
    if (connection.refusalAfter !== undefined && !socket.destroyed) {
      socket.end(connection.refusalAfter)
      connection.refusalAfter = undefined
    }
  }

  const onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    const socket = request.socket
    const connection = connections.get(socket) ?? track(socket)
    if (connection.current === undefined) {
      start(connection, socket, {request, response})
      return
    }
    if (connection.waiting.length < pipelinedRequestsMax) {
      connection.waiting.push({request, response})
      return
    }
    countRejected('pipelined_too_deep')
    answer(response, new DynError('overloaded', `more than ${pipelinedRequestsMax} requests were pipelined on one connection ahead of their answers: send at most ${pipelinedRequestsMax} before reading, or use more connections`), {'retry-after': '1'})
  }
  server.on('request', onRequest)
  // A request with `Expect: 100-continue` reaches the handler before its body is sent: the
  // handler sends 100 Continue only once it means to read the body, so a value over the limit
  // (or any other refusal) is answered before the client uploads anything.
  server.on('checkContinue', onRequest)
  // Any other Expect would get Node's own bare 417 (no JSON, not counted); RFC 9110 lets a server
  // ignore an expectation it does not support, so the request is served as if it had none.
  server.on('checkExpectation', onRequest)

  server.on('clientError', (error: Error & {code?: string}, socket: net.Socket) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy()
      return
    }
    const connection = connections.get(socket)
    // Already refused: the parser reports each further chunk of a connection it gave up on.
    if (connection?.refused === true) return
    const refusal = refusalOfClientError(error.code, requestTimeoutMs)
    countRejected(refusal.reason)
    if (connection === undefined) {
      socket.end(rawRefusal(refusal))
      return
    }
    connection.refused = true
    // The request that never arrived whole (the bad bytes or the stall are its body's) is the
    // newest read: the one being served, or the last waiting behind it. The refusal is its
    // answer, through its own response, in its turn; it is never worked on, and once the
    // connection has closed it is ended, or the handler reading its body would wait for ever,
    // holding its admission slot.
    const incomplete = incompleteExchange(connection)
    if (incomplete !== undefined) {
      if (incomplete === connection.waiting.at(-1)) connection.waiting.pop()
      answer(incomplete.response, new DynError(refusal.code, refusal.message), {connection: 'close'})
      socket.once('close', () => incomplete.request.destroy())
      return
    }
    if (connection.current === undefined && connection.waiting.length === 0) {
      socket.end(rawRefusal(refusal))
      return
    }
    // Requests read whole before the bad bytes are answered first; the refusal, and the close, after them.
    connection.refusalAfter = rawRefusal(refusal)
  })

  return {
    drain: (scheduler) => {
      draining = true
      const quiet = new QuietChecks<Connection>()
      for (const connection of open) {
        quiet.baseline(connection, connection.socket)
        if (connection.current !== undefined) closeAfterAnswer(connection.current.response)
      }
      if (open.size === 0) return Promise.resolve()
      return new Promise((resolve) => {
        const checks = scheduler.every(drainCheckMs, () => {
          for (const connection of open) {
            if (quiet.check(connection, connection.socket, connection.current !== undefined) >= drainQuietChecks) connection.socket.destroy()
          }
        })
        drainWaiters.push(() => {
          scheduler.cancel(checks)
          resolve()
        })
      })
    },
    endAll: () => {
      for (const connection of open) connection.socket.destroy()
    },
  }
}

/** The answer, once sent, closes its connection (Node ends the socket after a `connection: close` answer). */
function closeAfterAnswer(response: ServerResponse): void {
  if (!response.headersSent) response.setHeader('connection', 'close')
}

/**
 * The exchange whose request has not arrived whole: the newest read, so the last waiting when any
 * wait (those before it were read whole), else the one being served if it is still unanswered.
 */
function incompleteExchange(connection: Connection): Exchange | undefined {
  const last = connection.waiting.at(-1)
  if (last !== undefined) return last.request.complete ? undefined : last
  const current = connection.current
  return current !== undefined && !current.request.complete && !current.response.headersSent ? current : undefined
}

/** The API's error shape. */
function errorBody(code: ErrorCode, message: string): string {
  return JSON.stringify({error: code, message})
}

function answer(response: ServerResponse, error: DynError, headers: Readonly<Record<string, string>>): void {
  const body = errorBody(error.code, error.message)
  response.writeHead(statusOfError[error.code], {'content-type': 'application/json', ...headers})
  response.end(body)
}
