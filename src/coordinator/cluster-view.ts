/**
 * What a coordinator needs to know of the cluster at the moment a request starts: the ring and
 * how to reach each member. The node builds a fresh view whenever its member table changes.
 */

import type {Ring} from '../ring/ring.js'

export interface ClusterView {
  readonly ring: Ring
  /** The internode RPC address of a member, or undefined for a name the table does not know. */
  rpcAddressOf(name: string): string | undefined
  /** This node's current opinion of whether a member answers. */
  isUp(name: string): boolean
  /** While a ring transition runs: the partition's future homes that are not homes yet (pending-homes.ts). */
  pendingHomes?(partition: number, n: number): readonly string[]
}

export interface PreflistEntry {
  readonly node: string
  readonly home: boolean
  readonly up: boolean
}

/** One replica's part in a request, for `--explain` and the API's trace. */
export interface ReplyTrace {
  readonly node: string
  readonly outcome: 'ok' | 'not_found' | 'failed'
  readonly latencyMs: number
  readonly durable?: boolean
  readonly error?: string
  /** A fallback standing in for this unreachable home; for a put, it kept the write as a hint for it. */
  readonly hintFor?: string
}

export interface RequestTrace {
  readonly coordinator: string
  readonly partition: number
  readonly preflist: readonly PreflistEntry[]
  readonly replies: readonly ReplyTrace[]
  readonly repaired: readonly string[]
  /** Answers counted towards R or W (acknowledgements for a put), from homes and from fallbacks. */
  readonly counted?: {readonly home: number; readonly fallback: number}
  /** For a put: the fallbacks that kept the write as a hint, and the home each hint is for. */
  readonly hintsWritten?: ReadonlyArray<{readonly node: string; readonly target: string}>
  /**
   * For a put: the homes (or their fallbacks) that did not acknowledge, for each of which the
   * coordinator keeps a hint of its own (not counted towards W), so that the write reaches that
   * home once it answers again. Absent when every target acknowledged.
   */
  readonly hintsKept?: ReadonlyArray<{readonly node: string; readonly target: string}>
  /** Set when the node that took the request was not a home replica and forwarded it. */
  readonly forwardedBy?: string
  /**
   * Set when a put was coordinated by a node that is not one of its homes because no home could
   * take it (paper §4.6): the homes it forwarded to first, each of which certainly did not take
   * it (none when it believed every home down).
   */
  readonly fallbackCoordinator?: {readonly homesTried: readonly string[]}
}

/**
 * Decimals of a reply's latency in a trace as the API answers it: hundredths of a millisecond,
 * what `--explain` prints. The clock gives far more (0.2522799999997005), which is noise at this
 * scale and read as a precision the measurement does not have.
 */
export const traceLatencyDecimals = 2

/** The trace with each reply's latency rounded to `traceLatencyDecimals`, for the API's answer. */
export function roundedTrace(trace: RequestTrace): RequestTrace {
  const scale = 10 ** traceLatencyDecimals
  // A forwarding peer's failure trace is passed on as it came: one whose replies are not a list,
  // or whose latency is not a number, is answered as is rather than failing the answer.
  if (!Array.isArray(trace.replies)) return trace
  return {...trace, replies: trace.replies.map((reply) => (typeof reply?.latencyMs === 'number' ? {...reply, latencyMs: Math.round(reply.latencyMs * scale) / scale} : reply))}
}
