/**
 * Fuzz target `http`: the client HTTP API as a node serves it. Node `a` of a three-node cluster
 * (fuzz-cluster.ts) gets the server `dyn start` builds (`createApiServer`, src/node/node.ts), and
 * each input is one raw connection to it, in memory: request bytes written, the client's side
 * then half-closed, the answer read until the server ends the connection. The requests are made
 * from methods, paths (every route, keys of every shape, broken percent-encoding), query
 * parameters (numbers out of range, fractions, duplicates, unknown names), headers (contexts
 * valid, mutated with a good checksum or random; content types, Expect, Content-Length and
 * Transfer-Encoding that lie) and bodies, and a quarter of them are then mutated as bytes.
 * Properties:
 * - the connection is answered and ended within a minute of simulated time (no hang);
 * - every answer is a well-formed HTTP/1.1 status line, headers and a framed body;
 * - every error answer is the API's JSON `{"error": code, "message": ...}` with a stable code
 *   whose status is the one status.ts maps it to; no 500 at all, and a 503 only with a code
 *   documented for it (quorum_unmet, timeout, unreachable, overloaded);
 * - every refused request answered is counted in /stats `rejected.http`;
 * - a sentinel key written before the run reads back unchanged afterwards.
 */

import {Duplex} from 'node:stream'
import type {Server} from 'node:http'
import {deriveSeed, type Random} from '../../src/clock.js'
import {errorCodes, type ErrorCode} from '../../src/errors.js'
import {isRefusal} from '../../src/api/handler.js'
import {statusOfError} from '../../src/api/status.js'
import {createApiServer} from '../../src/node/node.js'
import {decodeContext, encodeContext} from '../../src/versioning/context.js'
import {FuzzFailure, hex, inputRandom, mutateBytes, type FuzzTarget, type TargetReport} from './fuzz-common.js'
import {startFuzzCluster, stepTimeMsMax, type FuzzCluster} from './fuzz-cluster.js'

/** Inputs before the cluster is built again, as for the internode target. */
const inputsPerCluster = 50_000
const documented503: ReadonlySet<string> = new Set(['quorum_unmet', 'timeout', 'unreachable', 'overloaded'])
const knownCodes: ReadonlySet<string> = new Set(errorCodes)
const sentinelKey = 'fuzz-sentinel'
const sentinelValue = 'left alone'

function pick<T>(random: Random, choices: readonly T[]): T {
  return choices[random.int(choices.length)] as T
}

function randomText(random: Random, lengthMax: number, alphabet: string): string {
  let text = ''
  const length = random.int(lengthMax + 1)
  for (let i = 0; i < length; i += 1) text += alphabet[random.int(alphabet.length)]
  return text
}

const keyShapes: ReadonlyArray<(random: Random) => string> = [
  (random) => `k${random.int(50)}`,
  () => '',
  () => '.',
  () => '..',
  () => '%2e%2E',
  () => '%zz',
  () => '%C0%80',
  () => '%ED%A0%80',
  () => '%00',
  () => 'a/b',
  () => encodeURIComponent('ключ-鍵-🔑'),
  (random) => 'x'.repeat(1020 + random.int(10)),
  (random) => encodeURIComponent('é'.repeat(510 + random.int(4))),
  (random) => randomText(random, 12, 'abc%/?#&=.\\ \t\u00ff'),
]

const paths: ReadonlyArray<(random: Random) => string> = [
  (random) => `/kv/${pick(random, keyShapes)(random)}`,
  (random) => `/kv/${pick(random, keyShapes)(random)}`,
  (random) => `/kv/${pick(random, keyShapes)(random)}`,
  (random) => `/cluster/preflist/${pick(random, keyShapes)(random)}`,
  () => '/cluster',
  () => '/stats',
  () => '/metrics',
  () => '/health',
  () => '/ready',
  () => '/cluster/plan',
  () => '/cluster/status',
  () => '/cluster/join',
  () => '/cluster/remove',
  () => '/cluster/clear',
  () => '/repair',
  () => '/kv',
  () => '/kv/',
  () => '/',
  () => '*',
  () => 'http://other/kv/a',
  () => '//kv//a',
  (random) => `/${randomText(random, 20, 'abcdefkv/%.?')}`,
]

const parameterNames = ['n', 'r', 'w', 'dw', 'pr', 'pw', 'explain', 'seed', 'node', 'partition', 'timeout', 'x', '']
const parameterValues = ['1', '2', '3', '0', '', '-1', '1.5', '4', '64', '65', '999999', '9999999', 'NaN', '0x2', '1e3', 'true', 'false', 'maybe', 'a.sim:7000', 'b', '%zz', '3%00']

function query(random: Random): string {
  const count = random.int(3) === 0 ? 0 : 1 + random.int(4)
  const parts: string[] = []
  for (let i = 0; i < count; i += 1) parts.push(`${pick(random, parameterNames)}=${pick(random, parameterValues)}`)
  return parts.length === 0 ? '' : `?${parts.join('&')}`
}

/**
 * A context: one a node handed out, for the request's key (a context belongs to the key it was
 * read from: another key's is refused before anything else is checked), one mutated (its checksum
 * made right again), or random text.
 */
function context(random: Random, known: readonly string[], target: string): string {
  const handedOut = known.length === 0 ? encodeContext([], sentinelKey) : pick(random, known)
  const decoded = decodeContext(handedOut)
  const valid = decoded.ok ? encodeContext(decoded.vector, keyOfTarget(target)) : handedOut
  switch (random.int(5)) {
    case 0:
      return valid
    case 1: {
      const bytes = mutateBytes(random, Buffer.from(valid, 'base64url'))
      return withChecksum(bytes.subarray(0, Math.max(0, bytes.length - 4))).toString('base64url')
    }
    case 2:
      return mutateBytes(random, Buffer.from(valid)).toString('latin1')
    case 3:
      return randomText(random, 40, 'ABCDEFabcdef0123456789-_=+/ ')
    default:
      return 'A'.repeat(random.int(30_000))
  }
}

/** The key a request target names (as the handler reads it, percent-decoded), or the target itself when it names none. */
function keyOfTarget(target: string): string {
  const path = target.split('?')[0] ?? ''
  if (!path.startsWith('/kv/')) return target
  try {
    return decodeURIComponent(path.slice('/kv/'.length))
  } catch {
    return path.slice('/kv/'.length)
  }
}

/** FNV-1a 32 over the bytes, appended as context.ts does, so that a mutated token passes the checksum and meets the decoder's other checks. */
function withChecksum(bytes: Buffer): Buffer {
  let hash = 0x811c9dc5
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0
  const checksum = Buffer.alloc(4)
  checksum.writeUInt32BE(hash, 0)
  return Buffer.concat([bytes, checksum])
}

interface HttpInput {
  readonly bytes: Buffer
  readonly method: string
}

export function httpInput(seed: number, index: number, contexts: readonly string[]): HttpInput {
  const random = inputRandom(seed, index, 'http')
  const requestMethod = pick(random, ['GET', 'GET', 'PUT', 'PUT', 'DELETE', 'POST', 'HEAD', 'OPTIONS', 'PATCH', 'get', 'CONNECT', 'TRACE', 'GE T', 'PUTX'])
  const target = pick(random, paths)(random) + query(random)
  const headers: string[] = ['host: a.sim']
  let body: Buffer = Buffer.alloc(random.int(3) === 0 ? 0 : random.int(2048))
  for (let i = 0; i < body.length; i += 1) body[i] = random.int(256)
  const headerCount = random.int(5)
  for (let i = 0; i < headerCount; i += 1) {
    switch (random.int(9)) {
      case 0:
      case 1:
        headers.push(`x-dyn-context: ${context(random, contexts, target)}`)
        break
      case 2:
        headers.push(`content-type: ${pick(random, ['text/plain', 'application/json', '', 'a'.repeat(300), 'text/plain; charset=utf-8', '\u00e9t\u00e9'])}`)
        break
      case 3:
        headers.push('accept: application/json')
        break
      case 4:
        headers.push('expect: 100-continue')
        break
      case 5:
        headers.push(`content-length: ${pick(random, ['0', '-1', '1048577', '99999999999', 'abc', '1', String(body.length + 5)])}`)
        break
      case 6:
        headers.push(`x-${randomText(random, 8, 'abcdef')}: ${randomText(random, 30, 'abc \t:;,=')}`)
        break
      default:
        headers.push('connection: keep-alive')
    }
  }
  let framing: string
  const chunked = random.int(6) === 0
  if (chunked) {
    framing = 'transfer-encoding: chunked'
    body = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from(random.int(4) === 0 ? '\r\n' : '\r\n0\r\n\r\n')])
  } else {
    framing = `content-length: ${body.length}`
  }
  if (!headers.some((header) => header.startsWith('content-length')) || chunked) headers.push(framing)
  let bytes: Buffer = Buffer.concat([Buffer.from(`${requestMethod} ${target} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`, 'latin1'), body])
  if (random.int(4) === 0) bytes = mutateBytes(random, bytes)
  // The method as the server reads it, after any mutation: a HEAD answer has no body to check.
  return {bytes, method: bytes.subarray(0, Math.max(0, bytes.indexOf(' '))).toString('latin1')}
}

/** One answer parsed from the bytes the server wrote. */
interface Answer {
  readonly status: number
  readonly headers: ReadonlyMap<string, string>
  readonly body: Buffer
}

/**
 * Splits what the server wrote into answers; a string names what is malformed. Interim 100
 * answers are skipped; a HEAD, 204 or 304 answer has no body.
 */
export function parseAnswers(bytes: Buffer, method: string): Answer[] | string {
  const answers: Answer[] = []
  let at = 0
  // Each pass consumes at least a status line, so the loop is bounded by the bytes.
  while (at < bytes.length) {
    const headEnd = bytes.indexOf('\r\n\r\n', at)
    if (headEnd === -1) return `an answer without the end of its headers: ${JSON.stringify(bytes.subarray(at, at + 200).toString('latin1'))}`
    const lines = bytes.subarray(at, headEnd).toString('latin1').split('\r\n')
    const statusLine = /^HTTP\/1\.1 (\d{3}) [^\r\n]*$/.exec(lines[0] ?? '')
    if (statusLine === null) return `a malformed status line: ${JSON.stringify(lines[0])}`
    const status = Number(statusLine[1])
    const headers = new Map<string, string>()
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':')
      if (colon <= 0) return `a malformed header line: ${JSON.stringify(line)}`
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim())
    }
    at = headEnd + 4
    if (status === 100) continue
    let body: Buffer = Buffer.alloc(0)
    // A HEAD's answer has no body, unless the parser refused the request (then it was no HEAD to the server).
    const headWithoutBody = method === 'HEAD' && (at >= bytes.length || bytes.subarray(at, at + 5).toString('latin1') === 'HTTP/')
    if (!headWithoutBody && status !== 204 && status !== 304) {
      const length = headers.get('content-length')
      if (length !== undefined) {
        if (!/^\d+$/.test(length)) return `a malformed content-length: ${length}`
        body = bytes.subarray(at, at + Number(length))
        if (body.length !== Number(length)) return `a body shorter (${body.length}) than its content-length (${length})`
        at += body.length
      } else if (headers.get('transfer-encoding') === 'chunked') {
        const chunks: Buffer[] = []
        // Each pass consumes a chunk header; the last chunk has size 0.
        for (;;) {
          const lineEnd = bytes.indexOf('\r\n', at)
          if (lineEnd === -1) return 'a chunked body cut off'
          const size = Number.parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16)
          if (!Number.isInteger(size) || size < 0) return 'a malformed chunk size'
          at = lineEnd + 2
          if (size === 0) {
            at += 2
            break
          }
          chunks.push(bytes.subarray(at, at + size))
          at += size + 2
        }
        body = Buffer.concat(chunks)
      } else {
        body = bytes.subarray(at)
        at = bytes.length
      }
    }
    answers.push({status, headers, body})
  }
  return answers
}

/** Checks one answer against the API's contract; a string names what is wrong. */
export function checkAnswer(answer: Answer, method: string): string | {code: ErrorCode | null} {
  const {status} = answer
  if (status === 500) return `a 500: ${answer.body.toString('utf8').slice(0, 500)}`
  if (status < 400) return {code: null}
  if (!(answer.headers.get('content-type') ?? '').startsWith('application/json')) return `a ${status} that is not JSON: ${answer.body.toString('latin1').slice(0, 200)}`
  // A HEAD answer carries the headers of the GET answer and no body: its code cannot be read.
  if (method === 'HEAD') return status >= 500 && status !== 503 ? `a ${status} to a HEAD` : {code: null}
  let parsed: unknown
  try {
    parsed = JSON.parse(answer.body.toString('utf8'))
  } catch {
    return `a ${status} whose body is not JSON: ${answer.body.toString('latin1').slice(0, 200)}`
  }
  const {error, message} = (parsed ?? {}) as {error?: unknown; message?: unknown}
  if (typeof error !== 'string' || !knownCodes.has(error)) return `a ${status} without a stable error code: ${JSON.stringify(parsed).slice(0, 300)}`
  if (typeof message !== 'string') return `a ${status} without a message`
  if (statusOfError[error as ErrorCode] !== status) return `code ${error} answered with ${status}, not ${statusOfError[error as ErrorCode]}`
  if (status >= 500 && !documented503.has(error)) return `a ${status} with code ${error}, which is documented for no 5xx`
  return {code: error as ErrorCode}
}

/**
 * The two ends of one in-memory connection: `server` is handed to the HTTP server as its socket,
 * and collects what the server writes; `send` and `halfClose` are the client's side. The client
 * does not half-close at once: Node's HTTP server (without `httpAllowHalfOpen`) drops a request
 * whose client has ended its side before the answer, so the client waits for a whole answer (or
 * a while) first, as a real client does.
 */
class MemoryConnection {
  readonly written: Buffer[] = []
  /** Resolves once the server has ended or destroyed the connection. */
  readonly closed: Promise<void>
  /** Resolves once the server wrote a whole final answer. */
  readonly answered: Promise<void>
  readonly server: Duplex
  #halfClosed = false

  constructor(method: string) {
    let closed: () => void = () => undefined
    let answered: () => void = () => undefined
    this.closed = new Promise((resolve) => {
      closed = resolve
    })
    this.answered = new Promise((resolve) => {
      answered = resolve
    })
    this.server = new Duplex({
      allowHalfOpen: true,
      read: () => undefined,
      write: (chunk: Buffer, _encoding, callback) => {
        this.written.push(Buffer.from(chunk))
        const sofar = parseAnswers(Buffer.concat(this.written), method)
        if (typeof sofar !== 'string' && sofar.length > 0) answered()
        callback()
      },
      final: (callback) => {
        callback()
        closed()
      },
      destroy: (error, callback) => {
        callback(error)
        closed()
      },
    })
    // A destroyed connection may carry the error that destroyed it: what matters here is what was written.
    this.server.on('error', () => undefined)
  }

  send(bytes: Buffer): void {
    this.server.push(bytes)
  }

  halfClose(): void {
    if (this.#halfClosed) return
    this.#halfClosed = true
    this.server.push(null)
  }
}

/** How long the client waits for an answer before it half-closes (a request cut short by a mutation waits for bytes that never come). */
const answerWaitMs = 2_000

/** Runs one input; a string names the property it broke, else the codes of the refusals answered. */
export async function runHttpInput(cluster: FuzzCluster, server: Server, input: HttpInput): Promise<string | {codes: Array<ErrorCode | null>}> {
  const connection = new MemoryConnection(input.method)
  server.emit('connection', connection.server)
  connection.send(input.bytes)
  const waiting = cluster.time.after(answerWaitMs, () => connection.halfClose())
  try {
    await cluster.time.until(Promise.race([connection.answered, connection.closed]), stepTimeMsMax)
    connection.halfClose()
    await cluster.time.until(connection.closed, stepTimeMsMax)
  } catch (error) {
    return `the connection was neither answered nor ended: ${(error as Error).message}; it got ${JSON.stringify(Buffer.concat(connection.written).toString('latin1').slice(0, 300))}`
  } finally {
    cluster.time.cancel(waiting)
  }
  // The server may still be finishing the connection (a refusal counted as it closes): let it, so
  // that what this input did is done before the next begins.
  for (let turn = 0; turn < 3; turn += 1) await new Promise((resolve) => setImmediate(resolve))
  const answers = parseAnswers(Buffer.concat(connection.written), input.method)
  if (typeof answers === 'string') return answers
  const codes: Array<ErrorCode | null> = []
  for (const answer of answers) {
    const checked = checkAnswer(answer, input.method)
    if (typeof checked === 'string') return checked
    codes.push(checked.code)
  }
  return {codes}
}

/** /stats `rejected.http.total` of node a. */
async function rejectedHttp(cluster: FuzzCluster): Promise<number> {
  const stats = (await cluster.nodes[0]?.service.stats()) as {rejected?: {http?: {total?: number}}}
  return stats.rejected?.http?.total ?? Number.NaN
}

async function writeSentinel(cluster: FuzzCluster): Promise<string[]> {
  const a = cluster.nodes[0]
  if (a === undefined) throw new Error('the cluster has no node a')
  const put = await cluster.time.until(a.service.put({key: sentinelKey, value: Buffer.from(sentinelValue), contentType: 'text/plain', tombstone: false, context: [], n: 3, w: 3, dw: 0, pw: 0, explain: false}), stepTimeMsMax)
  if (!put.ok) throw new Error(`the sentinel could not be written: ${put.error}`)
  return [encodeContext(put.context, sentinelKey)]
}

/** The sentinel's values as a read with r=3 sees them. */
async function sentinelValues(cluster: FuzzCluster): Promise<string[]> {
  const a = cluster.nodes[0]
  if (a === undefined) return []
  const got = await cluster.time.until(a.service.get({key: sentinelKey, n: 3, r: 3, pr: 0, explain: false}), stepTimeMsMax)
  if (!got.ok || got.object === undefined) return []
  return got.object.versions.entries.flatMap((entry) => entry.values.map((version) => Buffer.from(version.value).toString('utf8'))).sort()
}

export const httpTarget: FuzzTarget = {
  name: 'http',
  async run({seed, inputs, skip, progress}): Promise<TargetReport> {
    const began = performance.now()
    const breakdown: Record<string, number> = {}
    let cluster: FuzzCluster | undefined
    let server: Server | undefined
    let contexts: string[] = []
    // The fuzzer never names the sentinel's key (keyShapes), so nothing it sends may change it.
    const finishCluster = async (): Promise<string | null> => {
      if (cluster === undefined) return null
      server?.close()
      const values = await sentinelValues(cluster)
      await cluster.stop()
      return values.length === 1 && values[0] === sentinelValue ? null : `the sentinel reads back as ${JSON.stringify(values)}`
    }
    try {
      for (let index = skip; index < skip + inputs; index += 1) {
        if (cluster === undefined || (index - skip) % inputsPerCluster === 0) {
          const broken = await finishCluster()
          if (broken !== null) throw new FuzzFailure('http', seed, index, broken, '(the inputs before this one)')
          cluster = await startFuzzCluster(deriveSeed(seed, `http-cluster:${Math.floor(index / inputsPerCluster)}`))
          contexts = await writeSentinel(cluster)
          const a = cluster.nodes[0]
          if (a === undefined) throw new Error('the cluster has no node a')
          server = createApiServer(a, () => undefined)
        }
        const input = httpInput(seed, index, contexts)
        const rejectedBefore = await rejectedHttp(cluster)
        const result = await runHttpInput(cluster, server as Server, input)
        if (typeof result === 'string') throw new FuzzFailure('http', seed, index, result, hex(input.bytes))
        // A request the parser refused is answered (400 bad_request) and counted by the server's
        // clientError handler, one the API refused by its handler: either way each refusal
        // answered is counted. The count may be higher: a refusal of an earlier input whose client
        // had gone (its answer reached no one) is counted when the handler gets to it.
        const refusals = result.codes.filter((code) => code !== null && isRefusal(code)).length
        const counted = (await rejectedHttp(cluster)) - rejectedBefore
        if (counted < refusals && input.method !== 'HEAD') throw new FuzzFailure('http', seed, index, `${refusals} refusal(s) answered but ${counted} counted in /stats rejected.http`, hex(input.bytes))
        const kind = result.codes.length === 0 ? 'no answer' : result.codes.map((code) => code ?? 'ok').join('+')
        breakdown[kind] = (breakdown[kind] ?? 0) + 1
        if (progress !== undefined && (index - skip) % 5_000 === 0) progress(index - skip)
      }
      const broken = await finishCluster()
      cluster = undefined
      if (broken !== null) throw new FuzzFailure('http', seed, skip + inputs - 1, broken, '(the inputs before this one)')
    } finally {
      await cluster?.stop()
    }
    return {target: 'http', seed, inputs, elapsedMs: performance.now() - began, breakdown}
  },
}
