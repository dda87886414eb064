/**
 * Bytes of another protocol at the internode port, both ways: what a connection accepted there
 * opened with when it is no node's Hello (an HTTP request from a monitor or a curl pointed at the
 * wrong port, a TLS handshake), and what a peer address answered when it is no dyn node's
 * internode port (an HTTP server's page). Either is a user's slip, not a network fault, and is
 * said as such: the frame codec alone could only report "GET " read as a frame length of
 * 1195725860 bytes.
 *
 * Every frame begins with a u32 length of at most 16 MiB (frame.ts), so its first byte is 0; an
 * HTTP request begins with a method's capital letters and a space (RFC 9110 §9, RFC 9112 §3), and
 * a TLS connection with a handshake record, 0x16 0x03 (RFC 8446 §5.1). The first bytes therefore
 * tell them apart without ambiguity. Pure: the transport (tcp-transport.ts) hands in the bytes.
 */

import {printable} from './rpc-common.js'

/** The methods of RFC 9110 §9 and PATCH (RFC 5789): what curl, a browser or a monitor sends. */
export const httpMethods: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE']

/**
 * The first bytes of an accepted connection kept to recognise and quote them: a request line's
 * method and a target of a usual length fit; the rest is not needed to say what came.
 */
export const openingBytesMax = 512
/** The longest request target quoted in a log line; a longer one is cut and marked. */
export const requestTargetCharsMax = 100
/** The bytes of a peer's foreign answer quoted in the error a request fails with. */
export const answerQuoteBytesMax = 32

/** The first byte of a TLS record carrying a handshake message (RFC 8446 §5.1, ContentType): how a TLS opener begins, on either port. */
export const tlsHandshakeRecordType = 0x16
/** The major version byte of every TLS record (and SSL 3.0): 3. */
const tlsRecordMajorVersion = 0x03
const space = 0x20

/**
 * What an accepted connection opened with: an HTTP request (its method and target, printable), a
 * TLS handshake, something else, or too few bytes yet to tell (a prefix of a method and its space).
 */
export type Opening =
  | {readonly kind: 'http'; readonly method: string; readonly target: string}
  | {readonly kind: 'tls'}
  | {readonly kind: 'other'}
  | {readonly kind: 'undecided'}

/** Reads the first bytes of an accepted connection (at most openingBytesMax of them matter). */
export function recogniseOpening(head: Uint8Array): Opening {
  if (head.length === 0) return {kind: 'undecided'}
  if (head[0] === tlsHandshakeRecordType) {
    if (head.length < 2) return {kind: 'undecided'}
    return head[1] === tlsRecordMajorVersion ? {kind: 'tls'} : {kind: 'other'}
  }
  for (const method of httpMethods) {
    const token = `${method} `
    const compared = Math.min(head.length, token.length)
    if (!matchesAscii(head, token, compared)) continue
    if (compared < token.length) return {kind: 'undecided'}
    return {kind: 'http', method, target: requestTarget(head.subarray(token.length, openingBytesMax))}
  }
  return {kind: 'other'}
}

/** Whether the first `count` bytes of `bytes` are those of the ASCII `text`. */
function matchesAscii(bytes: Uint8Array, text: string, count: number): boolean {
  for (let i = 0; i < count; i += 1) {
    if (bytes[i] !== text.charCodeAt(i)) return false
  }
  return true
}

/**
 * The request target after the method, as it may go into a log line: up to the space before the
 * version (or a line's end), printable, and cut to requestTargetCharsMax. A request line that did
 * not arrive whole is quoted as far as it came.
 */
function requestTarget(rest: Uint8Array): string {
  let end = 0
  while (end < rest.length && rest[end] !== space && rest[end] !== 0x0d && rest[end] !== 0x0a) end += 1
  const target = printable(Buffer.from(rest.subarray(0, end)).toString('latin1'), requestTargetCharsMax)
  return target === '' ? '(no target)' : target
}

/** Whether a peer's answer starts as an HTTP response does: "HTTP/" and a version (RFC 9112 §4). */
export function isHttpAnswer(head: Uint8Array): boolean {
  return head.length >= 5 && matchesAscii(head, 'HTTP/', 5)
}

/** The first bytes of a peer's foreign answer, quoted and printable, for an error that says what answered. */
export function quoteAnswer(head: Uint8Array): string {
  const shown = Buffer.from(head.subarray(0, answerQuoteBytesMax)).toString('latin1')
  return `"${printable(shown, answerQuoteBytesMax)}${head.length > answerQuoteBytesMax ? '...' : ''}"`
}

/** The header of an internode port's answer to HTTP (its value is 1). */
export const internodePortHeader = 'x-dyn-internode-port'

/**
 * The whole plain HTTP/1.1 answer to a request that reached the internode port: 400 with `text`
 * as a plain-text body (none for HEAD, whose answer has none), and the connection closed after it,
 * so that a curl user reads why instead of "Empty reply from server". `internodePortHeader` marks
 * it, so that dyn's own clients say it as the wrong port it is (src/client/http-client.ts).
 */
export function internodeHttpAnswer(method: string, text: string): string {
  const body = `${text}\n`
  const head = `HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${internodePortHeader}: 1\r\nconnection: close\r\n\r\n`
  return method === 'HEAD' ? head : `${head}${body}`
}
