/**
 * Input checks of the client API (ARCHITECTURE "Client HTTP API"): keys, N/R/W/DW, contexts.
 * Each check returns a value; nothing here throws on bad input and nothing is stored before
 * every check has passed.
 */

import type {ErrorCode} from '../errors.js'
import type {VersionVector} from '../versioning/dvvset.js'
import {decodeContext} from '../versioning/context.js'
import {replicasPerKeyMax} from '../storage/stored-object.js'

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
  /** Of the R answers, how many must come from home replicas (sloppy quorum counts fallbacks; 0 by default). */
  readonly pr?: number
  /** Of the W acknowledgements, how many must come from home replicas (0 by default). */
  readonly pw?: number
}

const integerPattern = /^[0-9]{1,6}$/

function parseCount(name: string, raw: string | null, fallback: number, min: number): Checked<number> {
  if (raw === null) return {ok: true, value: fallback}
  // Leading zeros are no size; all digits but too many for a count of replicas is said as too
  // large, not as no number (-w 99999999999999999999 once read "is not a whole number").
  const digits = /^[0-9]+$/.test(raw) ? raw.replace(/^0+(?=[0-9])/, '') : raw
  if (/^[0-9]{7,}$/.test(digits)) return fail('bad_parameter', `${name}=${raw.length > 20 ? `${raw.slice(0, 20)}...` : raw} is too large; a key has at most ${replicasPerKeyMax} replicas`)
  if (!integerPattern.test(digits)) return fail('bad_parameter', `${name}=${JSON.stringify(raw)} is not a whole number; give ${name} as an integer >= ${min}`)
  const value = Number(digits)
  if (value < min) return fail('bad_parameter', `${name}=${value} is too small; ${name} must be at least ${min}`)
  return {ok: true, value}
}

/** Defined with the stored object, whose `n` it bounds; the API checks requests against it. */
export {replicasPerKeyMax}

/** What a request asked for (its parameters, or the defaults) and what it runs with. */
export interface QuorumChoice extends Quorum {
  /**
   * The replica count recorded with a key this request writes: the n asked, or the cluster's
   * default N, even when fewer members own partitions now and the request runs with a smaller
   * `n`. Transfers bring every key to this many homes as members join.
   */
  readonly storedN: number
  /** Set when a default was fitted to a cluster with fewer owners than N: the values before fitting. */
  readonly asked?: Quorum
}

/**
 * Defaults fitted to a cluster with fewer owners than N: N is at most the members that own
 * partitions (a key cannot have more distinct replicas than there are nodes), and R, W and DW
 * at most that N. Whatever shrank is reported back (`asked`). Only defaults are fitted this way
 * (checkQuorum): a value the client gave is met by that many distinct nodes or refused.
 */
export function effectiveQuorum(asked: Quorum, memberCount: number): QuorumChoice {
  const n = Math.min(asked.n, memberCount)
  const w = Math.min(asked.w, n)
  const r = Math.min(asked.r, n)
  const strict = {...(asked.pr ? {pr: Math.min(asked.pr, r)} : {}), ...(asked.pw ? {pw: Math.min(asked.pw, w)} : {})}
  const effective = {n, r, w, dw: Math.min(asked.dw, w), ...strict, storedN: asked.n}
  return n < asked.n ? {...effective, asked} : effective
}

/** A parameter's value and whether the client gave it (explicit) or it is the cluster's default. */
interface Given {
  readonly value: number
  readonly explicit: boolean
}

/**
 * n, r, w, dw, pr, pw from the query string with the cluster's defaults (pr and pw: 0), by one
 * rule (ARCHITECTURE "Rules", Quorums):
 * - A default R or W larger than the request's own n follows it down, so `?n=1` alone is valid.
 * - R > N, W > N, DW > W, PR > R or PW > W as asked are refused.
 * - A value the client gave is met by that many distinct nodes or the request is refused: above
 *   the members that own partitions it is `bad_parameter` here (as Cassandra refuses a
 *   consistency level the replicas cannot meet); too few answering is `quorum_unmet` later.
 * - Defaults alone fit a cluster with fewer owners than N (effectiveQuorum), and the answer says
 *   so; the key still records the N asked (`storedN`), which transfers make good as nodes join.
 */
export function checkQuorum(query: URLSearchParams, defaults: {n: number; r: number; w: number}, clusterSize: number): Checked<QuorumChoice> {
  const given = (name: string, fallback: number, min: number): Checked<Given> => {
    const parsed = parseCount(name, query.get(name), fallback, min)
    return parsed.ok ? {ok: true, value: {value: parsed.value, explicit: query.get(name) !== null}} : parsed
  }
  const n = given('n', defaults.n, 1)
  if (!n.ok) return n
  if (n.value.value > replicasPerKeyMax) return fail('bad_parameter', `n=${n.value.value} is more than the ${replicasPerKeyMax} replicas a key can have; use n <= ${replicasPerKeyMax} (3 is usual)`)
  const r = given('r', Math.min(defaults.r, n.value.value), 1)
  if (!r.ok) return r
  const w = given('w', Math.min(defaults.w, n.value.value), 1)
  if (!w.ok) return w
  const dw = given('dw', 0, 0)
  if (!dw.ok) return dw
  const pr = given('pr', 0, 0)
  if (!pr.ok) return pr
  const pw = given('pw', 0, 0)
  if (!pw.ok) return pw
  const asked = {n: n.value.value, r: r.value.value, w: w.value.value, dw: dw.value.value, pr: pr.value.value, pw: pw.value.value}
  if (asked.r > asked.n) return fail('bad_parameter', `r=${asked.r} is larger than n=${asked.n}; r must be within 1..n`)
  if (asked.w > asked.n) return fail('bad_parameter', `w=${asked.w} is larger than n=${asked.n}; w must be within 1..n`)
  if (asked.dw > asked.w) return fail('bad_parameter', `dw=${asked.dw} is larger than w=${asked.w}; dw must be within 0..w`)
  if (asked.pr > asked.r) return fail('bad_parameter', `pr=${asked.pr} is larger than r=${asked.r}; pr (home replicas among the R answers) must be within 0..r`)
  if (asked.pw > asked.w) return fail('bad_parameter', `pw=${asked.pw} is larger than w=${asked.w}; pw (home replicas among the W acknowledgements) must be within 0..w`)
  const explicit = {n: n.value, r: r.value, w: w.value, dw: dw.value, pr: pr.value, pw: pw.value}
  for (const name of ['n', 'r', 'w', 'dw', 'pr', 'pw'] as const) {
    const {value, explicit: isExplicit} = explicit[name]
    if (isExplicit && value > clusterSize) return fail('bad_parameter', beyondMembers(name, value, clusterSize))
  }
  const strict = {...(asked.pr > 0 ? {pr: asked.pr} : {}), ...(asked.pw > 0 ? {pw: asked.pw} : {})}
  return {ok: true, value: effectiveQuorum({n: asked.n, r: asked.r, w: asked.w, dw: asked.dw, ...strict}, clusterSize)}
}

/** Why an explicit value above the members is refused, and what to do instead. */
function beyondMembers(name: string, value: number, clusterSize: number): string {
  const owners = `${clusterSize} member${clusterSize === 1 ? '' : 's'} own${clusterSize === 1 ? 's' : ''} partitions`
  return `${name}=${value} needs ${value} distinct nodes, but ${owners} now; use ${name} <= ${clusterSize}, or leave ${name} out to run with the cluster's default fitted to its size until more nodes join`
}

/** The quorum a request ran with, as response headers: always the values used, and what was asked when less. */
export function quorumHeaders(choice: QuorumChoice, memberCount: number): Record<string, string> {
  const spell = (q: Quorum): string => `n=${q.n}, r=${q.r}, w=${q.w}, dw=${q.dw}${q.pr ? `, pr=${q.pr}` : ''}${q.pw ? `, pw=${q.pw}` : ''}`
  const headers: Record<string, string> = {'x-dyn-quorum': spell(choice)}
  if (choice.asked === undefined) return headers
  return {
    ...headers,
    'x-dyn-quorum-asked': spell(choice.asked),
    'x-dyn-warning': `the cluster has ${memberCount} member${memberCount === 1 ? '' : 's'} owning partitions, so this request ran with ${spell(choice)} instead of ${spell(choice.asked)} (its own values, and the cluster's defaults for the others); a key written keeps n=${choice.storedN} and gets its other replicas as nodes join`,
  }
}

/**
 * The query parameters a route accepts, each at most once. Anything else is a typo worth
 * reporting, not ignoring; a repeated one (`?w=2&w=3`) is refused rather than read as its first
 * value, since which of two quorums a client meant cannot be known, and one quietly dropped may
 * be the stronger it asked for.
 */
export function checkKnownParameters(query: URLSearchParams, allowed: readonly string[]): Checked<null> {
  const seen = new Set<string>()
  for (const name of query.keys()) {
    if (!allowed.includes(name)) {
      return fail('bad_parameter', `unknown query parameter ${JSON.stringify(name)}; ${allowed.length === 0 ? 'this route takes none' : `this route takes ${allowed.join(', ')}`}`)
    }
    if (seen.has(name)) {
      const values = query.getAll(name)
      // The message echoes what was sent, so it is bounded: a few values, each cut short.
      const shown = values.slice(0, 3).map((value) => `${name}=${value.length > 20 ? `${value.slice(0, 20)}...` : value}`)
      return fail('bad_parameter', `query parameter ${name} is given ${values.length} times (${shown.join(', ')}${values.length > 3 ? ', ...' : ''}); give it once`)
    }
    seen.add(name)
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

/**
 * The X-Dyn-Context header of a write to `key`: absent means "concurrent with whatever is stored";
 * a context read from another key is refused (context.ts). Without a key (a token only looked
 * at, not written with) its key is not checked. `sendNone`: what a refusal says of leaving the
 * context out, when not what a put and a delete do (context.ts).
 */
export function checkContext(header: string | string[] | undefined, key?: string, sendNone?: string): Checked<VersionVector> {
  if (header === undefined) return {ok: true, value: []}
  if (Array.isArray(header)) return fail('bad_context', 'send one X-Dyn-Context header, the one returned by your last read')
  // Node joins a header sent twice with ", "; no token holds a comma (base64url has none).
  if (header.includes(',')) return fail('bad_context', 'X-Dyn-Context was sent more than once (or holds a comma): send one, the context returned by your last read of this key')
  const decoded = decodeContext(header.trim(), key, sendNone)
  if (!decoded.ok) return fail('bad_context', decoded.message)
  return {ok: true, value: decoded.vector}
}
