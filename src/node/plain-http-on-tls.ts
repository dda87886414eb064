/**
 * A plain HTTP request sent to a node's HTTPS client API port is answered, in plain HTTP, with
 * 400 `https_required` and what to do, as nginx answers one ("The plain HTTP request was sent to
 * HTTPS port"), instead of being dropped mid-handshake. Dropped, the client saw a reset, which a
 * node crashing mid-request also gives, so it could only report the node unreachable (exit 3) and
 * a script would retry a configuration mistake forever; answered, the mistake is bad input
 * (exit 2) with its fix. Nothing stored is read or sent for such a request: the answer is fixed
 * text, written before any of the request is parsed.
 *
 * The first byte decides. Every TLS connection opens with a handshake record, whose first byte
 * is its content type, 22; an HTTP/1.1 request opens with a method's capital letter. So each
 * accepted connection waits for its first byte before Node's TLS listener (and what must run with
 * it) takes it over; the byte is put back, and Node's TLS socket reads what its raw socket has
 * buffered before anything else. Bytes that are neither are left to the TLS handshake, which
 * refuses them as before.
 */

import type {Server} from 'node:http'
import type net from 'node:net'
import {assert} from '../errors.js'
import type {Scheduler} from '../scheduler.js'
import {tlsHandshakeRecordType} from '../transport/foreign-protocol.js'
import {isLoggedCount} from '../transport/rpc-common.js'

/**
 * After the plain answer, the rest of the request is read and dropped for at most this long
 * before the connection is closed: closing a socket with unread bytes makes the kernel send a
 * reset, which could reach the client before it has read the answer.
 */
export const plainAnswerLingerMs = 2_000

/** An HTTP/1.1 request starts with a method: capital letters (RFC 9110 §9; every method the API serves). */
function looksLikeHttp(firstByte: number): boolean {
  return firstByte >= 0x41 && firstByte <= 0x5a
}

function plainHttpAnswer(port: number | undefined): string {
  const where = port === undefined ? 'this port' : `port ${port}`
  const message = `this node serves its client API over HTTPS on ${where}, and the request came in plain HTTP: give the address as https://host:port with the cluster CA (--tls-ca or DYN_TLS_CA), as dyn cluster up prints`
  const body = JSON.stringify({error: 'https_required', message})
  return `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
}

export interface PlainHttpOnTlsOptions {
  /**
   * Run, in order, right after Node's own TLS listener takes a connection, in the same step: what
   * must see the connection when Node chooses its TLS context (the client CA's generation).
   */
  readonly onTlsConnection: ReadonlyArray<(raw: net.Socket) => void>
  /**
   * A connection that sends nothing this long after it was accepted is dropped. One that sends a
   * first byte of TLS then has Node's handshakeTimeout, which starts only there (Node makes the
   * TLS socket then): so a connection is held at most twice this long before its handshake is
   * done. Ending a handshake under way from here would make Node report it a second time, as a
   * reset of a socket whose peer it no longer knows.
   */
  readonly firstByteTimeoutMs: number
  /** A connection dropped for sending nothing, from `from` (address:port): counted and logged by the caller, as Node's own handshake failures are. */
  readonly onFirstByteTimeout: (from: string) => void
  readonly countRejected: (reason: string) => void
  readonly log: (line: string) => void
  readonly scheduler: Pick<Scheduler, 'after' | 'cancel'>
}

/**
 * Puts the first-byte check in front of `server`'s (an HTTPS server's) own 'connection'
 * listeners, which it takes over: call it once, right after the server is made, before any other
 * 'connection' listener is added (those added later see each connection when it is accepted).
 */
export function answerPlainHttpOnTls(server: Server, options: PlainHttpOnTlsOptions): void {
  const nodeListeners = server.listeners('connection') as Array<(raw: net.Socket) => void>
  assert(nodeListeners.length > 0, 'answerPlainHttpOnTls: the HTTPS server has no connection listener of its own to hand connections to')
  server.removeAllListeners('connection')
  const {scheduler} = options
  let plainRequests = 0
  server.on('connection', (raw: net.Socket) => {
    const dropSilent = (): void => {
      raw.destroy()
    }
    // Read at the accept: a socket that has been destroyed no longer knows its peer.
    const peer = `${raw.remoteAddress ?? 'a client'}:${raw.remotePort ?? '?'}`
    const deadline = scheduler.after(options.firstByteTimeoutMs, () => {
      raw.destroy()
      options.onFirstByteTimeout(peer)
    })
    // A reset before the first byte must not become an unhandled 'error' that ends the process.
    raw.on('error', dropSilent)
    raw.once('close', () => scheduler.cancel(deadline))
    raw.once('data', (chunk: Buffer) => {
      scheduler.cancel(deadline)
      raw.pause()
      raw.removeListener('error', dropSilent)
      const firstByte = chunk[0] as number
      if (firstByte === tlsHandshakeRecordType || !looksLikeHttp(firstByte)) {
        raw.unshift(chunk)
        for (const listener of nodeListeners) listener.call(server, raw)
        for (const listener of options.onTlsConnection) listener(raw)
        return
      }
      plainRequests += 1
      options.countRejected('https_required')
      if (isLoggedCount(plainRequests)) {
        options.log(`client API: answered a plain HTTP request from ${raw.remoteAddress ?? 'a client'}:${raw.remotePort ?? '?'} with https_required: this port serves HTTPS (${plainRequests} so far)`)
      }
      raw.on('error', dropSilent)
      raw.end(plainHttpAnswer(raw.localPort))
      // Read and drop the rest of the request until the client closes, within a bound.
      raw.on('data', () => undefined)
      raw.resume()
      const linger = scheduler.after(plainAnswerLingerMs, dropSilent)
      raw.once('close', () => scheduler.cancel(linger))
    })
  })
}
