/**
 * The client HTTP API every node serves (ARCHITECTURE "Client HTTP API"): routing, input checks,
 * and the mapping of outcomes to statuses, headers and bodies. It calls the node's KvService and
 * holds no state; the node owns the listening socket.
 *
 *   PUT    /kv/{key}              ?n&w&dw&pw&explain      body = value  -> 204 + X-Dyn-Context, X-Dyn-Siblings
 *   (both writes answer X-Dyn-Live-Siblings too: how many of the siblings are not tombstones)
 *   GET    /kv/{key}              ?n&r&pr&explain                       -> 200 value | 300 siblings | 404
 *   DELETE /kv/{key}              ?n&r&w&dw&pr&pw&explain X-Dyn-Context -> 204 + X-Dyn-Context, X-Dyn-Siblings
 * pr and pw (0 by default) ask that many of the R answers / W acknowledgements to come from
 * home replicas: a strict quorum, where plain R and W also count fallbacks (sloppy quorum).
 *   GET    /cluster, /cluster/preflist/{key}, /cluster/plan, /stats, /metrics (Prometheus text), /health, /ready (200, or 503 not_ready)
 *   POST   /cluster/join?seed=, /cluster/leave[?node=], /cluster/remove?node=, /cluster/commit, /cluster/clear
 *   POST   /repair[?partition=]   an anti-entropy exchange now (dyn repair)
 *
 * With `Accept: application/json`, key requests answer in JSON with the request's trace.
 */

import type {IncomingMessage, ServerResponse} from 'node:http'
import {roundedTrace} from '../coordinator/cluster-view.js'
import type {RequestTrace} from '../coordinator/cluster-view.js'
import type {GetOutcome} from '../coordinator/get-coordinator.js'
import {hasLiveVersion} from '../coordinator/delete-coordinator.js'
import {isSafeContentType} from '../coordinator/messages.js'
import type {PutOutcome} from '../coordinator/put-coordinator.js'
import {DynError} from '../errors.js'
import type {ErrorCode} from '../errors.js'
import type {ClusterSettings} from '../membership/member-table.js'
import type {StoredVersion} from '../storage/stored-object.js'
import {encodeContext} from '../versioning/context.js'
import type {DottedValue, VersionVector} from '../versioning/dvvset.js'
import {dottedValues, join, values} from '../versioning/dvvset.js'
import type {AdmissionControl} from './admission.js'
import {checkContext, checkFlag, checkKey, checkKnownParameters, checkQuorum, quorumHeaders, valueBytesMax} from './params.js'
import type {Checked, Quorum} from './params.js'
import {metricsContentType, metricsText} from './metrics.js'
import {orderSiblings} from './sibling-order.js'
import type {SiblingStamp} from './sibling-order.js'
import type {KvService} from './service.js'
import {statusOfError} from './status.js'

const contextHeader = 'x-dyn-context'
/** On a put's or a delete's answer: how many versions the key has right after the write, on the replica acknowledging it that holds the most (> 1: siblings to reconcile). */
const siblingsHeader = 'x-dyn-siblings'
/** Beside it: how many of those are live (not tombstones); after a delete, more than 0 says the key was not deleted. */
const liveSiblingsHeader = 'x-dyn-live-siblings'
const defaultContentType = 'application/octet-stream'

/** Sends the answer; `code` is set on an error answer, so that a refusal can be counted. */
type Reply = (status: number, headers: Readonly<Record<string, string>>, body?: string | Uint8Array, code?: ErrorCode) => void

/**
 * Client requests of every route one node works on at once; beyond it a request is answered 503
 * at once. Key requests meet admission control (admission.ts) long before this: it is the
 * backstop for the routes admission control leaves alone, and for a node built without it.
 */
export const requestsInFlightMax = 4096

/** The route families GET /stats counts requests by (see `routeOf`). */
export type ApiRoute = 'kv' | 'cluster' | 'stats' | 'health' | 'other'

/**
 * A refused request: every 4xx answer but `not_found` (a missing key is an answer, not a
 * refusal), and `overloaded` (refused for load, before any work). /stats counts these as rejected inputs.
 */
export function isRefusal(code: ErrorCode): boolean {
  return code === 'overloaded' || (code !== 'not_found' && statusOfError[code] >= 400 && statusOfError[code] < 500)
}

/**
 * `onRequest` is told the route of every request, refused ones included, so /stats can count
 * them; `onRefused` the code of every refused request (`isRefusal`). Key requests meet
 * `admission` when there is one (admission.ts).
 */
export function createApiHandler(
  service: KvService,
  onRequest: (route: ApiRoute) => void = () => undefined,
  onRefused: (code: ErrorCode) => void = () => undefined,
  admission?: AdmissionControl,
): (request: IncomingMessage, response: ServerResponse) => void {
  let inFlight = 0
  return (request, response) => {
    const apiRoute = routeOf(request.url ?? '/')
    onRequest(apiRoute)
    const reply: Reply = (status, headers, body, code) => {
      if (response.headersSent) return
      if (code !== undefined && isRefusal(code)) onRefused(code)
      response.writeHead(status, headers)
      response.end(body)
    }
    // Under `Expect: 100-continue` the client sends the body only once told to: tell it when the
    // body is about to be read, never before a refusal (which then goes out before any upload).
    const allowBody = (): void => {
      if (expectsContinue(request) && !response.headersSent) response.writeContinue()
    }
    if (inFlight >= requestsInFlightMax) {
      refuse(request, reply, {ok: false, error: 'overloaded', message: `the node is working on ${requestsInFlightMax} requests; retry shortly or spread the load over more nodes`}, {'retry-after': '1'})
      return
    }
    // Admission control (admission.ts) for key requests only: /stats, /health and /cluster stay
    // answered under overload, so that an operator (and dyn top) can see what is happening.
    let ticket: number | undefined
    // A request with a body holds its slot while it uploads, but the time its client takes to
    // send it is no queue in the node: the admission's clock for it starts once the body is in
    // (a client that stalled mid-upload once cut an idle node's limit to its floor).
    let uploading = false
    if (apiRoute === 'kv' && admission !== undefined) {
      // A PUT's body is read, and a DELETE waits for its body to be in (see handleDelete); a
      // GET's is drained, never waited for.
      uploading = (request.method === 'PUT' || request.method === 'DELETE') && hasBody(request)
      const admitted = admission.arrive({uploading})
      if (!admitted.ok) {
        refuseOverloaded(request, reply, admitted)
        // The refusal's own time at the node, from the handler to the answer handed to the kernel
        // (the target: under 1 ms). `end` uncorks the socket, so on plain TCP its bytes are in the
        // kernel when it returns; when earlier bytes were still queued on the socket, or a TLS
        // socket holds them, they leave later, which 'finish' tells. 'finish' itself comes from a
        // tick, after the rest of the callback that answered and the ticks queued before it.
        if (response.writableEnded && response.socket !== null && response.socket.writableLength === 0) admission.refusalAnswered(admitted.arrivedAtMs)
        else response.once('finish', () => admission.refusalAnswered(admitted.arrivedAtMs))
        return
      }
      ticket = admitted.ticket
    }
    inFlight += 1
    /** The body is in: false when the request was answered meanwhile (it is then not worked on). */
    const bodyRead = (): boolean => {
      if (response.headersSent) return false
      if (uploading && ticket !== undefined) admission?.bodyReceived(ticket)
      uploading = false
      return true
    }
    route(service, request, reply, allowBody, bodyRead)
      .catch((error: unknown) => {
        // A refusal with a stable code keeps it (a store that takes no writes answers 503
        // storage_failed, which a walk saw as 500 internal, the code of a bug in dyn); anything
        // else is a fault of the node's own.
        if (error instanceof DynError) sendError(reply, error.code, error.message, error.details)
        else sendError(reply, 'internal', `the node failed to answer: ${(error as Error).message}`)
      })
      .finally(() => {
        inFlight -= 1
        // The request's work is done here (its answer sent), even for a client that went away
        // before it: the coordinator finished the put or get all the same.
        if (ticket !== undefined) admission?.complete(ticket)
      })
  }
}

/**
 * A key request shed by admission control: 503 `overloaded` with `Retry-After` (whole seconds,
 * RFC 9110 §10.2.3, so at least 1) and the finer hint in the body, decided before the body is
 * read or any replica asked. The body, if any, is drained as for every refusal (see `refuse`), so
 * a keep-alive connection carries the client's next request.
 */
function refuseOverloaded(request: IncomingMessage, reply: Reply, refusal: {readonly inFlight: number; readonly limit: number; readonly retryAfterMs: number}): void {
  const retryAfterS = Math.max(1, Math.ceil(refusal.retryAfterMs / 1000))
  refuse(
    request,
    reply,
    {
      ok: false,
      error: 'overloaded',
      message: `the node is working on ${refusal.inFlight} requests, as many as it can answer in time; retry after ${refusal.retryAfterMs} ms or spread the load over more nodes`,
    },
    {'retry-after': String(retryAfterS)},
    false,
    {retryAfterMs: refusal.retryAfterMs},
  )
}

function routeOf(url: string): ApiRoute {
  if (url.startsWith('/kv/')) return 'kv'
  if (url === '/cluster' || url.startsWith('/cluster?') || url.startsWith('/cluster/')) return 'cluster'
  if (url === '/stats' || url.startsWith('/stats?') || url === '/metrics' || url.startsWith('/metrics?')) return 'stats'
  // /ready is a health check too (a balancer's readiness probe): counted with /health.
  if (url === '/health' || url.startsWith('/health?') || url === '/ready' || url.startsWith('/ready?')) return 'health'
  return 'other'
}

function sendJson(reply: Reply, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}, code?: ErrorCode): void {
  reply(status, {'content-type': 'application/json', ...headers}, JSON.stringify(body), code)
}

function sendError(reply: Reply, code: ErrorCode, message: string, details: Record<string, unknown> = {}, headers: Readonly<Record<string, string>> = {}): void {
  // Details first: a refusal forwarded from a peer carries that peer's details, which must not
  // override this answer's own error and message. Object.assign, not `{...details, error,
  // message}`: on Node 20 that spread gives every answer a map of its own, and the store of
  // `message` missed V8's inline caches at every refusal of an overloaded node (bench/README.md,
  // "Object shapes on the request path"). A detail named __proto__ sets the fresh body's
  // prototype instead of being copied, so it is left out of the JSON: nothing else changes.
  sendJson(reply, statusOfError[code], Object.assign({}, details, {error: code, message}), headers, code)
}

function expectsContinue(request: IncomingMessage): boolean {
  return (request.headers.expect ?? '').toLowerCase() === '100-continue'
}

function wantsJson(request: IncomingMessage): boolean {
  return (request.headers.accept ?? '').includes('application/json')
}

/** The query of every request without one; never changed, as no route sets a parameter. */
const noQuery = new URLSearchParams()

/** Whether a request carries a body still to be read: a Content-Length above 0, or a chunked one. */
function hasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length']
  return (length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined
}

/** A 405 that says, on every route alike, what was asked, where, and what the route takes. */
function methodNotAllowed(request: IncomingMessage, reply: Reply, method: string, where: string, allowed: readonly string[]): void {
  const list = allowed.length === 1 ? allowed[0] : `${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)}`
  refuse(request, reply, {ok: false, error: 'method_not_allowed', message: `${method} is not allowed on ${where}; use ${list}`}, {allow: allowed.join(', ')})
}

async function route(service: KvService, request: IncomingMessage, reply: Reply, allowBody: () => void, bodyRead: () => boolean): Promise<void> {
  const rawUrl = request.url ?? '/'
  const queryStart = rawUrl.indexOf('?')
  const path = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart)
  const query = queryStart === -1 ? noQuery : new URLSearchParams(rawUrl.slice(queryStart + 1))
  // HEAD is GET without the body (RFC 9110 §9.3.2: wherever GET is served), as health probes and
  // caches send it; Node's response leaves the body out of a HEAD answer itself.
  const method = request.method === 'HEAD' ? 'GET' : (request.method ?? 'GET')
  const asked = request.method ?? 'GET'

  if (path.startsWith('/kv/')) {
    const key = checkKey(path.slice('/kv/'.length))
    if (!key.ok) return refuse(request, reply, key)
    if (method === 'PUT') return handlePut(service, request, reply, key.value, query, allowBody, bodyRead)
    if (method === 'GET') return handleGet(service, request, reply, key.value, query)
    if (method === 'DELETE') return handleDelete(service, request, reply, key.value, query, allowBody, bodyRead)
    return methodNotAllowed(request, reply, asked, '/kv/{key}', ['GET', 'HEAD', 'PUT', 'DELETE'])
  }
  if (path.startsWith('/cluster/preflist/')) {
    if (method !== 'GET') return methodNotAllowed(request, reply, asked, '/cluster/preflist/{key}', ['GET', 'HEAD'])
    const key = checkKey(path.slice('/cluster/preflist/'.length))
    if (!key.ok) return refuse(request, reply, key)
    if (refusedParameters(request, reply, query, [])) return
    return sendJson(reply, 200, service.preflist(key.value))
  }
  const change = clusterChangeRoutes[path]
  if (change !== undefined) {
    if (method !== change.method) return methodNotAllowed(request, reply, asked, path, change.method === 'GET' ? ['GET', 'HEAD'] : [change.method])
    // A parameter the route does not take is refused, as on /kv: a misspelt one (?nodes=n3 on a
    // leave) would otherwise be ignored and the change made with the default.
    if (refusedParameters(request, reply, query, change.parameters)) return
    return handleClusterChange(service, reply, change.run, query)
  }
  const reads: Record<string, () => unknown | Promise<unknown>> = {
    '/cluster': () => service.cluster(),
    '/stats': () => service.stats(),
    '/health': () => describeHealth(service),
  }
  // GET /ready: 200 when the node is ready for client traffic, 503 not_ready with why (readiness.ts).
  // Like /health it takes any query (a probe's cache-buster) and is never shed.
  if (path === '/ready') {
    if (method !== 'GET') return methodNotAllowed(request, reply, asked, path, ['GET', 'HEAD'])
    const health = describeHealth(service) as {node?: unknown; ready?: unknown; notReadyBecause?: unknown}
    if (health.ready !== false) return sendJson(reply, 200, {ok: true, ready: true, node: health.node})
    const reasons = Array.isArray(health.notReadyBecause) ? health.notReadyBecause.map(String) : []
    return sendError(reply, 'not_ready', `${String(health.node)} is not ready for client requests: ${reasons.join('; ')}; send them to another node`, {ready: false, node: health.node, reasons})
  }
  // GET /metrics: /stats and /health in Prometheus' text format (metrics.ts); never shed, like /stats.
  if (path === '/metrics') {
    if (method !== 'GET') return methodNotAllowed(request, reply, asked, path, ['GET', 'HEAD'])
    if (refusedParameters(request, reply, query, [])) return
    const body = metricsText(await service.stats(), describeHealth(service))
    return reply(200, {'content-type': metricsContentType, 'content-length': String(Buffer.byteLength(body))}, body)
  }
  const read = reads[path]
  if (read !== undefined) {
    if (method !== 'GET') return methodNotAllowed(request, reply, asked, path, ['GET', 'HEAD'])
    // /health takes any query: probes and monitors add their own (a cache-buster) and must not
    // see a healthy node as failing.
    if (path !== '/health' && refusedParameters(request, reply, query, [])) return
    return sendJson(reply, 200, await read())
  }
  return refuse(request, reply, {ok: false, error: 'route_not_found', message: `no route ${asked} ${path}; the API serves ${routeListText()}`})
}

/** Refuses a query with a parameter the route does not take (400 bad_parameter); true when it did. */
function refusedParameters(request: IncomingMessage, reply: Reply, query: URLSearchParams, allowed: readonly string[]): boolean {
  const known = checkKnownParameters(query, allowed)
  if (known.ok) return false
  refuse(request, reply, known)
  return true
}

/** Every route the API serves, with its methods, for the answer to a path it does not serve. */
function routeListText(): string {
  const changes = Object.entries(clusterChangeRoutes)
  const ofMethod = (method: string): string => changes.filter(([, change]) => change.method === method).map(([path]) => path).join(', ')
  return `GET (or HEAD), PUT and DELETE /kv/{key}; GET (or HEAD) /cluster, /stats, /metrics, /health, /ready, /cluster/preflist/{key}, ${ofMethod('GET')}; POST ${ofMethod('POST')}`
}

/**
 * GET /health: the node's own answer, plus the pid of the process serving it and the id of its
 * cluster. With them a caller that started a node (`dyn cluster up`) can tell that node's answer
 * from that of another process holding the same port.
 */
function describeHealth(service: KvService): unknown {
  return {...(service.health() as Record<string, unknown>), pid: process.pid, clusterId: service.settings().clusterId}
}

/** The membership changes (paper §4.9; riak-admin cluster join|leave|remove|plan|commit|clear). */
const clusterChangeRoutes: Record<string, {method: string; parameters: readonly string[]; run: (service: KvService, query: URLSearchParams) => Promise<unknown>}> = {
  '/cluster/join': {method: 'POST', parameters: ['seed'], run: (service, query) => service.joinCluster(requiredParam(query, 'seed'))},
  '/cluster/leave': {method: 'POST', parameters: ['node', 'without-majority'], run: (service, query) => service.clusterChange({op: 'stage', change: {kind: 'leave', node: query.get('node') ?? String((service.health() as {node: string}).node)}, ...withoutMajority(query)})},
  '/cluster/remove': {method: 'POST', parameters: ['node', 'without-majority'], run: (service, query) => service.clusterChange({op: 'stage', change: {kind: 'remove', node: requiredParam(query, 'node')}, ...withoutMajority(query)})},
  '/cluster/plan': {method: 'GET', parameters: [], run: (service) => service.clusterChange({op: 'plan'})},
  '/cluster/commit': {method: 'POST', parameters: ['without-majority'], run: (service, query) => service.clusterChange({op: 'commit', ...withoutMajority(query)})},
  '/cluster/clear': {method: 'POST', parameters: ['without-majority'], run: (service, query) => service.clusterChange({op: 'clear', ...withoutMajority(query)})},
  '/repair': {method: 'POST', parameters: ['partition'], run: (service, query) => service.repair(optionalPartition(query))},
  // Not a change, but like them it may fail with a code (a bad ?timeout).
  '/cluster/status': {method: 'GET', parameters: ['timeout'], run: (service, query) => service.clusterStatus(statusTimeoutMs(query))},
}

/** How long /cluster/status waits for each member when ?timeout=MS is absent. */
const statusTimeoutMsDefault = 2000

/** ?timeout=MS of /cluster/status; the service checks its range. */
function statusTimeoutMs(query: URLSearchParams): number {
  const value = query.get('timeout')
  if (value === null) return statusTimeoutMsDefault
  if (!/^\d{1,6}$/.test(value)) throw new DynError('bad_parameter', `timeout must be a whole number of milliseconds from 1 to 30000, not ${JSON.stringify(value)}`)
  return Number(value)
}

/** ?partition=P of /repair: absent for every partition. */
function optionalPartition(query: URLSearchParams): number | undefined {
  const value = query.get('partition')
  if (value === null) return undefined
  if (!/^\d{1,5}$/.test(value)) throw new DynError('bad_parameter', `partition must be a partition number (0 or more), not ${JSON.stringify(value)}`)
  return Number(value)
}

/** ?without-majority=true of a membership change: decided although the claimant sees fewer than a majority of the members up. */
function withoutMajority(query: URLSearchParams): {withoutMajority?: true} {
  const checked = checkFlag(query, 'without-majority')
  if (!checked.ok) throw new DynError(checked.error, checked.message)
  return checked.value ? {withoutMajority: true} : {}
}

function requiredParam(query: URLSearchParams, name: string): string {
  const value = query.get(name)
  if (value === null || value.length === 0) throw new DynError('bad_parameter', `the query parameter ${name} is required`)
  return value
}

async function handleClusterChange(service: KvService, reply: Reply, run: (service: KvService, query: URLSearchParams) => Promise<unknown>, query: URLSearchParams): Promise<void> {
  try {
    sendJson(reply, 200, await run(service, query))
  } catch (error) {
    if (error instanceof DynError) return sendError(reply, error.code, error.message, error.details)
    throw error
  }
}

/**
 * How much of a refused request's body a node reads and throws away. A client still sending when
 * the refusal goes out must be able to read it: a socket closed with unread bytes makes the kernel
 * send a reset, which can overtake the answer and leave the client with only a broken connection
 * (nginx's "lingering close" answers the same problem). A body longer than this is cut off.
 */
const refusedBodyDiscardBytesMax = 16 * 1024 * 1024

/**
 * Answer an error without storing the body. Under `Expect: 100-continue`, unless the body was
 * already asked for (`bodyAllowed`), the client sends nothing more and the connection closes;
 * otherwise what remains of the body is read and thrown away, up to a bound, and the connection
 * can carry the next request.
 */
function refuse(
  request: IncomingMessage,
  reply: Reply,
  failure: {ok: false; error: ErrorCode; message: string},
  headers: Readonly<Record<string, string>> = {},
  bodyAllowed = false,
  details: Record<string, unknown> = {},
): void {
  const bodyPending = !request.complete && (request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined)
  if (bodyPending && expectsContinue(request) && !bodyAllowed) headers = {...headers, connection: 'close'}
  else if (bodyPending) discardBody(request)
  sendError(reply, failure.error, failure.message, details, headers)
}

function discardBody(request: IncomingMessage): void {
  let discardedBytes = 0
  request.on('data', (chunk: Buffer) => {
    discardedBytes += chunk.length
    if (discardedBytes > refusedBodyDiscardBytesMax) request.socket.destroy()
  })
  request.resume()
}

/**
 * The body, or value_too_large as soon as it is known to be over the limit: from Content-Length
 * before the body is asked for, or from the bytes themselves. The stream is read by events, not
 * by async iteration, because leaving an iteration early destroys the request and its socket
 * before the refusal can be sent.
 */
async function readBody(request: IncomingMessage, allowBody: () => void, what: 'value' | 'body' = 'value'): Promise<Checked<Uint8Array>> {
  const limit = `${what === 'value' ? 'values are' : 'a body is'} at most ${valueBytesMax} bytes (1 MiB)`
  const declared = request.headers['content-length']
  if (declared !== undefined && Number(declared) > valueBytesMax) {
    return {ok: false, error: 'value_too_large', message: `the ${what} is ${declared} bytes; ${limit}`}
  }
  allowBody()
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let total = 0
    const stop = (): void => {
      request.off('data', onData)
      request.off('end', onEnd)
      request.off('error', onError)
      request.off('close', onClose)
    }
    const onData = (chunk: Buffer): void => {
      total += chunk.length
      if (total > valueBytesMax) {
        stop()
        resolve({ok: false, error: 'value_too_large', message: `the ${what} is over ${valueBytesMax} bytes; ${limit}`})
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      stop()
      resolve({ok: true, value: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)})
    }
    const onError = (error: Error): void => {
      stop()
      reject(error)
    }
    const onClose = (): void => {
      stop()
      reject(new Error(`the client closed the connection before the whole ${what} arrived`))
    }
    request.on('data', onData)
    request.on('end', onEnd)
    request.on('error', onError)
    request.on('close', onClose)
  })
}

interface RequestInputs {
  readonly quorum: Required<Quorum> & {readonly storedN: number}
  readonly explain: boolean
  /** X-Dyn-Quorum (and, when the cluster made it smaller, what was asked): sent on every answer; shared, so never changed. */
  readonly headers: Readonly<Record<string, string>>
}

interface WriteInputs extends RequestInputs {
  readonly context: VersionVector
}

/**
 * The inputs of a key request without a query, which is nearly every request, for the cluster's
 * settings and size they were worked out for: they depend on nothing else, so a request reuses
 * them instead of checking an empty query again and spelling its quorum headers anew (frozen,
 * since every such request shares them).
 */
const queryFreeInputs = new WeakMap<KvService, {readonly settings: ClusterSettings; readonly memberCount: number; readonly inputs: Checked<RequestInputs>}>()

/** The query of a key request: only `allowed` parameters, N/R/W/DW against the cluster, explain. */
function checkRequestInputs(service: KvService, query: URLSearchParams, allowed: readonly string[]): Checked<RequestInputs> {
  const settings = service.settings()
  const memberCount = service.clusterSize()
  if (query.size !== 0) return checkQueryInputs(query, allowed, settings, memberCount)
  const cached = queryFreeInputs.get(service)
  if (cached !== undefined && cached.settings === settings && cached.memberCount === memberCount) return cached.inputs
  const inputs = checkQueryInputs(query, allowed, settings, memberCount)
  if (inputs.ok) {
    Object.freeze(inputs.value.quorum)
    Object.freeze(inputs.value.headers)
    Object.freeze(inputs.value)
  }
  queryFreeInputs.set(service, {settings, memberCount, inputs: Object.freeze(inputs)})
  return inputs
}

function checkQueryInputs(query: URLSearchParams, allowed: readonly string[], settings: ClusterSettings, memberCount: number): Checked<RequestInputs> {
  const known = checkKnownParameters(query, allowed)
  if (!known.ok) return known
  const quorum = checkQuorum(query, {n: settings.defaultN, r: settings.defaultR, w: settings.defaultW}, memberCount)
  if (!quorum.ok) return quorum
  const explain = checkFlag(query, 'explain')
  if (!explain.ok) return explain
  const {n, r, w, dw, pr, pw, storedN} = quorum.value
  return {ok: true, value: {quorum: {n, r, w, dw, pr: pr ?? 0, pw: pw ?? 0, storedN}, explain: explain.value, headers: quorumHeaders(quorum.value, memberCount)}}
}

function checkWriteInputs(service: KvService, request: IncomingMessage, key: string, query: URLSearchParams, allowed: readonly string[]): Checked<WriteInputs> {
  const inputs = checkRequestInputs(service, query, allowed)
  if (!inputs.ok) return inputs
  // Only a context of this key: another key's could cover versions of this one never read.
  const context = checkContext(request.headers[contextHeader], key)
  if (!context.ok) return context
  // Written out rather than `{...inputs.value, context}`, which on Node 20 would give each request's
  // inputs a map of their own (bench/README.md, "Object shapes on the request path").
  return {ok: true, value: {quorum: inputs.value.quorum, explain: inputs.value.explain, headers: inputs.value.headers, context: context.value}}
}

async function handlePut(service: KvService, request: IncomingMessage, reply: Reply, key: string, query: URLSearchParams, allowBody: () => void, bodyRead: () => boolean): Promise<void> {
  const inputs = checkWriteInputs(service, request, key, query, ['n', 'w', 'dw', 'pw', 'explain'])
  if (!inputs.ok) return refuse(request, reply, inputs)
  const contentType = request.headers['content-type'] ?? defaultContentType
  if (!isSafeContentType(contentType)) {
    return refuse(request, reply, {ok: false, error: 'bad_request', message: 'the Content-Type must be 1 to 256 printable ASCII characters'})
  }
  const body = await readBody(request, allowBody)
  if (!body.ok) return refuse(request, reply, body, {}, true)
  // Answered already by the HTTP layer (a 408 for a body that stalled, src/node/serve-in-order.ts)
  // whose last bytes came in after all: a refused request never writes.
  if (!bodyRead()) return
  const outcome = await service.put({
    key,
    value: body.value,
    contentType,
    tombstone: false,
    context: inputs.value.context,
    n: inputs.value.quorum.n,
    storedN: inputs.value.quorum.storedN,
    w: inputs.value.quorum.w,
    dw: inputs.value.quorum.dw,
    pw: inputs.value.quorum.pw,
    explain: inputs.value.explain,
  })
  sendPutOutcome(request, reply, outcome, key, inputs.value.headers)
}

/**
 * A put's or a delete's outcome, with how many siblings the key now has, for both: a delete whose
 * context missed a write leaves that write live beside its tombstone, and its writer must hear
 * so as a put's does (it answered a bare 204, and dyn delete said "deleted").
 */
function sendPutOutcome(request: IncomingMessage, reply: Reply, outcome: PutOutcome, key: string, quorumHeaders: Readonly<Record<string, string>>): void {
  if (!outcome.ok) return sendFailure(reply, outcome, quorumHeaders)
  const context = encodeContext(outcome.context, key)
  const headers: Record<string, string> = {
    ...quorumHeaders,
    [contextHeader]: context,
    ...(outcome.siblings === undefined ? {} : {[siblingsHeader]: String(outcome.siblings)}),
    ...(outcome.liveSiblings === undefined ? {} : {[liveSiblingsHeader]: String(outcome.liveSiblings)}),
  }
  if (wantsJson(request)) return sendJson(reply, 200, {context, trace: traceJson(outcome.trace)}, headers)
  reply(204, headers)
}

async function handleGet(service: KvService, request: IncomingMessage, reply: Reply, key: string, query: URLSearchParams): Promise<void> {
  const inputs = checkRequestInputs(service, query, ['n', 'r', 'pr', 'explain'])
  if (!inputs.ok) return refuse(request, reply, inputs)
  const outcome = await service.get({key, n: inputs.value.quorum.n, r: inputs.value.quorum.r, pr: inputs.value.quorum.pr, explain: inputs.value.explain})
  sendGetOutcome(request, reply, outcome, key, inputs.value.headers)
}

/** A trace as the API answers it: latencies rounded as --explain prints them (cluster-view.ts). */
function traceJson(trace: RequestTrace | undefined): RequestTrace | undefined {
  return trace === undefined ? undefined : roundedTrace(trace)
}

/** A key no replica that answered holds, where every one that answered was a fallback. */
function notFoundOnFallbacks(key: string): string {
  return `${key} was not found, but none of its home replicas answered (only fallbacks, which hold no copy of it unless as a hint): it may well exist. Read again once its homes are reachable, or with pr=1 to require one`
}

/** A coordinator's failure, with its details and, when it has one, its trace. */
function sendFailure(reply: Reply, failure: {error: ErrorCode; message: string; details: Record<string, unknown>; trace?: RequestTrace | undefined}, headers: Readonly<Record<string, string>>): void {
  sendError(reply, failure.error, failure.message, {...failure.details, ...(failure.trace ? {trace: traceJson(failure.trace)} : {})}, headers)
}

function sendGetOutcome(request: IncomingMessage, reply: Reply, outcome: GetOutcome, key: string, headers: Readonly<Record<string, string>>): void {
  if (!outcome.ok) return sendFailure(reply, outcome, headers)
  const object = outcome.object
  const versions = object === undefined ? [] : values(object.versions)
  const context = object === undefined ? undefined : encodeContext(join(object.versions), key)
  const contextHeaders: Record<string, string> = context === undefined ? headers : {...headers, [contextHeader]: context}
  if (!hasLiveVersion(object)) {
    // Missing or deleted. The tombstone's context lets a later write supersede the delete.
    const deleted = versions.length > 0
    // Missing where only fallbacks answered (every home out of reach: a partition's small side, say)
    // is no word on the key: said so, rather than "does not exist" (a new user's walk).
    const homesSilent = !deleted && outcome.trace?.counted?.home === 0
    const message = deleted ? `${key} was deleted` : homesSilent ? notFoundOnFallbacks(key) : `${key} does not exist`
    return sendError(reply, 'not_found', message, {deleted, ...(homesSilent ? {homesAnswered: 0} : {}), ...(context ? {context} : {}), ...(wantsJson(request) ? {trace: traceJson(outcome.trace)} : {})}, contextHeaders)
  }
  const json = wantsJson(request)
  if (!json && versions.length === 1) {
    const only = versions[0] as StoredVersion
    return reply(200, {'content-type': only.contentType, ...contextHeaders}, only.value)
  }
  // The siblings in JSON (each value in base64) only for an answer that carries them, oldest
  // first as every client shows and numbers them (sibling-order.ts), not in the set's actor order.
  const siblings = object === undefined ? [] : orderSiblings(dottedValues(object.versions).map(siblingJson))
  if (json) return sendJson(reply, 200, {context, siblings, trace: traceJson(outcome.trace)}, contextHeaders)
  sendJson(reply, 300, {context, siblings}, contextHeaders)
}

/** One sibling; `actor` and `counter` are its dot: the coordinator that wrote it ("<node>.<epoch>") and that coordinator's event number. */
interface SiblingJson extends SiblingStamp {
  readonly value: string
  readonly contentType: string
  readonly deleted: boolean
  readonly actor: string
  readonly counter: number
}

function siblingJson({value: version, actor, counter}: DottedValue<StoredVersion>): SiblingJson {
  return {
    value: Buffer.from(version.value.buffer, version.value.byteOffset, version.value.byteLength).toString('base64'),
    contentType: version.contentType,
    timestampMs: version.timestampMs,
    deleted: version.tombstone,
    actor,
    counter,
  }
}

async function handleDelete(service: KvService, request: IncomingMessage, reply: Reply, key: string, query: URLSearchParams, allowBody: () => void, bodyRead: () => boolean): Promise<void> {
  const inputs = checkWriteInputs(service, request, key, query, ['n', 'r', 'w', 'dw', 'pr', 'pw', 'explain'])
  if (!inputs.ok) return refuse(request, reply, inputs)
  // A body means nothing to a DELETE, but the delete waits until the whole request is in: applied
  // at once, a DELETE whose body then stalled was answered 408 with the key deleted all the same.
  if (hasBody(request)) {
    if (request.complete) request.resume()
    else {
      const body = await readBody(request, allowBody, 'body')
      if (!body.ok) return refuse(request, reply, body, {}, true)
    }
    // Also for a body already in (a request pipelined behind another): admission timed it as
    // uploading, and its time in the node counts from here.
    if (!bodyRead()) return
  } else request.resume()
  const quorum = inputs.value.quorum
  const outcome = await service.delete({
    key,
    context: request.headers[contextHeader] === undefined ? undefined : inputs.value.context,
    n: quorum.n,
    storedN: quorum.storedN,
    r: quorum.r,
    w: quorum.w,
    dw: quorum.dw,
    pr: quorum.pr,
    pw: quorum.pw,
    explain: inputs.value.explain,
  })
  if (!outcome.ok && outcome.error === 'not_found') return sendGetOutcome(request, reply, outcome.read, key, inputs.value.headers)
  sendPutOutcome(request, reply, outcome, key, inputs.value.headers)
}
