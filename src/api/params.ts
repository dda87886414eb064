/**
 * Input checks of the client API (ARCHITECTURE "Client HTTP API"): keys, N/R/W/DW, contexts.
 * Each check returns a value; nothing here throws on bad input and nothing is stored before
 * every check has passed.
 */

import type {ErrorCode} from '../errors.js'
import type {VersionVector} from '../versioning/dvvset.js'
import {decodeContext} from '../versioning/context.js'

export const keyBytesMax = 1024
export const valueBytesMax = 1024 * 1024

export type Checked<T> = {ok: true; value: T} | {ok: false; error: ErrorCode; message: string}

function fail(error: ErrorCode, message: string): {ok: false; error: ErrorCode; message: string} {
  return {ok: false, error, message}
}

/** The key from the URL path after /kv/, percent-decoded as UTF-8. */
export function checkKey(rawPathPart: string): Checked<string> {
  let key: string
  try {
    key = decodeURIComponent(rawPathPart)
  } catch {
    return fail('bad_key', 'the key is not valid percent-encoded UTF-8; encode it with encodeURIComponent')
  }
  return checkKeyText(key)
}

/**
 * Keys that cannot travel as one URL path segment. URL normalisation (RFC 3986 section 5.2.4,
 * and WHATWG URL parsing, which also decodes `%2e` and `%2E` first) removes `.` and `..`
 * segments, so `/kv/..` reaches the server as `/` from fetch, curl or a browser. No encoding of
 * the segment survives every client, so these two keys are refused everywhere alike.
 */
const dotSegmentKeys: readonly string[] = ['.', '..']

/** A decoded key: 1 to 1024 bytes of UTF-8, and not a dot segment. The clients check keys with it too. */
export function checkKeyText(key: string): Checked<string> {
  if (key.length === 0) return fail('bad_key', 'the key is empty; keys are 1 to 1024 bytes of UTF-8')
  const bytes = Buffer.byteLength(key, 'utf8')
  if (bytes > keyBytesMax) return fail('bad_key', `the key is ${bytes} bytes; keys are at most ${keyBytesMax} bytes of UTF-8`)
  if (dotSegmentKeys.includes(key)) {
    return fail('bad_key', `the key ${JSON.stringify(key)} is refused: URLs drop "." and ".." path segments, so no client could address it; use another key (e.g. with a prefix)`)
  }
  return {ok: true, value: key}
}

export interface Quorum {
  readonly n: number
  readonly r: number
  readonly w: number
  readonly dw: number
}

const integerPattern = /^[0-9]{1,6}$/

function parseCount(name: string, raw: string | null, fallback: number, min: number): Checked<number> {
  if (raw === null) return {ok: true, value: fallback}
  if (!integerPattern.test(raw)) return fail('bad_parameter', `${name}=${JSON.stringify(raw)} is not a whole number; give ${name} as an integer >= ${min}`)
  const value = Number(raw)
  if (value < min) return fail('bad_parameter', `${name}=${value} is too small; ${name} must be at least ${min}`)
  return {ok: true, value}
}

/**
 * n, r, w, dw from the query string with the cluster's defaults. A default larger than the
 * request's n shrinks to n, so `?n=1` alone is a valid request; an explicit value never does.
 */
export function checkQuorum(query: URLSearchParams, defaults: {n: number; r: number; w: number}, clusterSize: number): Checked<Quorum> {
  const n = parseCount('n', query.get('n'), Math.min(defaults.n, clusterSize), 1)
  if (!n.ok) return n
  if (n.value > clusterSize) {
    return fail('bad_parameter', `n=${n.value} but the cluster has ${clusterSize} member${clusterSize === 1 ? '' : 's'}; use n <= ${clusterSize}`)
  }
  const r = parseCount('r', query.get('r'), Math.min(defaults.r, n.value), 1)
  if (!r.ok) return r
  const w = parseCount('w', query.get('w'), Math.min(defaults.w, n.value), 1)
  if (!w.ok) return w
  const dw = parseCount('dw', query.get('dw'), 0, 0)
  if (!dw.ok) return dw
  if (r.value > n.value) return fail('bad_parameter', `r=${r.value} is larger than n=${n.value}; r must be within 1..n`)
  if (w.value > n.value) return fail('bad_parameter', `w=${w.value} is larger than n=${n.value}; w must be within 1..n`)
  if (dw.value > w.value) return fail('bad_parameter', `dw=${dw.value} is larger than w=${w.value}; dw must be within 0..w`)
  return {ok: true, value: {n: n.value, r: r.value, w: w.value, dw: dw.value}}
}

/** Query parameters a route accepts; anything else is a typo worth reporting, not ignoring. */
export function checkKnownParameters(query: URLSearchParams, allowed: readonly string[]): Checked<null> {
  for (const name of query.keys()) {
    if (!allowed.includes(name)) {
      return fail('bad_parameter', `unknown query parameter ${JSON.stringify(name)}; this route takes ${allowed.join(', ')}`)
    }
  }
  return {ok: true, value: null}
}

export function checkFlag(query: URLSearchParams, name: string): Checked<boolean> {
  const raw = query.get(name)
  if (raw === null) return {ok: true, value: false}
  if (raw === '' || raw === 'true' || raw === '1') return {ok: true, value: true}
  if (raw === 'false' || raw === '0') return {ok: true, value: false}
  return fail('bad_parameter', `${name}=${JSON.stringify(raw)}; give ${name}=true or ${name}=false`)
}

/** The X-Dyn-Context header: absent means "concurrent with whatever is stored". */
export function checkContext(header: string | string[] | undefined): Checked<VersionVector> {
  if (header === undefined) return {ok: true, value: []}
  if (Array.isArray(header)) return fail('bad_context', 'send one X-Dyn-Context header, the one returned by your last read')
  const decoded = decodeContext(header.trim())
  if (!decoded.ok) return fail('bad_context', decoded.message)
  return {ok: true, value: decoded.vector}
}
