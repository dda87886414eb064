/**
 * The TypeScript client of the client HTTP API (server-driven coordination, paper §6.4): every
 * request goes to one node, which coordinates or forwards it. Outcomes the API defines
 * (found, siblings, not found, a coded error) come back as values; only a node that cannot be
 * reached at all is an `unreachable` failure.
 */

import type {ErrorCode} from '../errors.js'

export interface Sibling {
  readonly value: Buffer
  readonly contentType: string
  readonly timestampMs: number
  readonly deleted: boolean
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
  | {readonly ok: true; readonly found: false; readonly deleted: boolean; readonly context?: string; readonly trace?: unknown}
  | ApiError

export type WriteResult = {readonly ok: true; readonly context: string; readonly trace?: unknown} | ApiError

export interface QuorumOptions {
  readonly n?: number
  readonly r?: number
  readonly w?: number
  readonly dw?: number
  readonly explain?: boolean
}

export const clientTimeoutMsDefault = 10_000

export class DynClient {
  readonly baseUrl: string

  constructor(
    readonly node: string,
    private readonly timeoutMs: number = clientTimeoutMsDefault,
  ) {
    this.baseUrl = `http://${node}`
  }

  async put(key: string, value: Uint8Array, options: QuorumOptions & {context?: string; contentType?: string} = {}): Promise<WriteResult> {
    const headers: Record<string, string> = {accept: 'application/json', 'content-type': options.contentType ?? 'application/octet-stream'}
    if (options.context !== undefined) headers['x-dyn-context'] = options.context
    const response = await this.fetch(`/kv/${encodeURIComponent(key)}${queryOf(options, ['n', 'w', 'dw', 'explain'])}`, {method: 'PUT', headers, body: value})
    return writeResult(response)
  }

  async delete(key: string, options: QuorumOptions & {context?: string} = {}): Promise<WriteResult> {
    const headers: Record<string, string> = {accept: 'application/json'}
    if (options.context !== undefined) headers['x-dyn-context'] = options.context
    const response = await this.fetch(`/kv/${encodeURIComponent(key)}${queryOf(options, ['n', 'r', 'w', 'dw', 'explain'])}`, {method: 'DELETE', headers})
    return writeResult(response)
  }

  async get(key: string, options: QuorumOptions = {}): Promise<GetResult> {
    const response = await this.fetch(`/kv/${encodeURIComponent(key)}${queryOf(options, ['n', 'r', 'explain'])}`, {headers: {accept: 'application/json'}})
    const body = await jsonBody(response)
    if (response.status === 404 && body.error === 'not_found') {
      return {ok: true, found: false, deleted: body.deleted === true, ...(typeof body.context === 'string' ? {context: body.context} : {}), trace: body.trace}
    }
    if (!response.ok) return apiError(response.status, body)
    const siblings = (body.siblings as Array<Record<string, unknown>>).map((s) => ({
      value: Buffer.from(String(s.value), 'base64'),
      contentType: String(s.contentType),
      timestampMs: Number(s.timestampMs),
      deleted: s.deleted === true,
    }))
    return {ok: true, found: true, context: String(body.context), siblings, trace: body.trace}
  }

  /** GET a JSON route (/cluster, /stats, /health, /cluster/preflist/{key}). */
  async getJson(path: string): Promise<{ok: true; body: Record<string, unknown>} | ApiError> {
    const response = await this.fetch(path, {headers: {accept: 'application/json'}})
    const body = await jsonBody(response)
    return response.ok ? {ok: true, body} : apiError(response.status, body)
  }

  /** POST to a JSON route with no body (the membership changes: /cluster/leave, /cluster/commit, ...). */
  async postJson(path: string): Promise<{ok: true; body: Record<string, unknown>} | ApiError> {
    const response = await this.fetch(path, {method: 'POST', headers: {accept: 'application/json'}})
    const body = await jsonBody(response)
    return response.ok ? {ok: true, body} : apiError(response.status, body)
  }

  private async fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.baseUrl}${path}`, {...init, signal: AbortSignal.timeout(this.timeoutMs)})
    } catch (error) {
      const cause = (error as {cause?: {code?: string}}).cause?.code ?? (error as Error).name
      throw new UnreachableError(this.node, cause)
    }
  }
}

/** The node did not answer at all (refused, reset, timed out). */
export class UnreachableError extends Error {
  readonly code = 'unreachable'
  constructor(
    readonly node: string,
    readonly reason: string,
  ) {
    super(`cannot reach a dyn node at ${node} (${reason}); start one (dyn cluster up) or point --node / DYN_NODE at a running node`)
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

async function jsonBody(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text()
  if (text === '') return {}
  try {
    const parsed: unknown = JSON.parse(text)
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {}
  } catch {
    return {error: 'bad_response', message: `the node answered ${response.status} with a body that is not JSON`}
  }
}

function apiError(status: number, body: Record<string, unknown>): ApiError {
  return {ok: false, status, error: String(body.error ?? 'internal'), message: String(body.message ?? `HTTP ${status}`), body}
}

async function writeResult(response: Response): Promise<WriteResult> {
  const body = await jsonBody(response)
  if (!response.ok) return apiError(response.status, body)
  return {ok: true, context: String(body.context ?? response.headers.get('x-dyn-context') ?? ''), trace: body.trace}
}
