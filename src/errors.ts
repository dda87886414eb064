/**
 * Stable error codes shared by every layer, and the `DynError` that carries one across a boundary.
 *
 * Inside the pure cores an expected failure is a value (`{ok: false, error: 'quorum_unmet'}`);
 * at the edges (HTTP API, CLI) it becomes a `DynError`, whose `code` the API maps to a status
 * and the CLI to an exit code. Tests assert the code, never the message.
 */

/** Every code the outside world may see. Only append to this list: clients match on these strings. */
export const errorCodes = [
  'bad_key',
  'bad_value',
  'value_too_large',
  'bad_context',
  'bad_parameter',
  'bad_request',
  'not_found',
  'route_not_found',
  'method_not_allowed',
  'quorum_unmet',
  'timeout',
  'unreachable',
  'overloaded',
  'too_many_siblings',
  'object_too_large',
  'cluster_config_mismatch',
  'internal',
  'ring_in_transition',
  'nothing_staged',
  'old_disk',
  'removed',
  /** An internode connection refused for the cluster secret: missing, or not the same on both sides. */
  'unauthenticated',
  /** A client refused a node's TLS certificate (not of the CA it trusts, expired, or not naming the address): bad input, never an outage. */
  'tls_untrusted',
  /** A leave or removal of a member that is already staged to go, or that the ring change under way moves out. */
  'already_leaving',
  /** A leave or removal of a member that has already left the cluster (or was removed). */
  'already_left',
  /** A plain HTTP request to a node whose client API serves HTTPS only: the node's answer, bad input. */
  'https_required',
  /** A client's TLS handshake answered in plain HTTP: the node serves no TLS, so https:// or --tls-ca is the mistake. */
  'tls_not_served',
  /**
   * A command stopped by its user (Ctrl-C) before it could finish: dyn verify, which then checked
   * nothing (exit 2); dyn bench, which made no report, and dyn cluster up, which stopped the
   * nodes it had started (exit 130).
   */
  'interrupted',
  /**
   * A join that cannot take effect: the node to join does not answer at the internode address it
   * advertises, so the members could never reach it (a seed refuses the join; a claimant leaves the
   * staged join out of a commit, and refuses a commit that would apply nothing else).
   */
  'joiner_unreachable',
  /**
   * A ring change (a commit) asked of a claimant that sees fewer than a majority of the ring's
   * members up: one side of a network partition may not change the ring the other serves. Lost
   * machines are committed past it with dyn cluster commit --without-majority.
   */
  'no_majority',
  /** dyn bench --sla: a target on an operation the workload never runs, which no run of it could measure. */
  'sla_not_measurable',
  /** A cluster folder another dyn cluster up (or bench, or verify, on that folder) is starting nodes in: one at a time. */
  'folder_busy',
  /** A client request that did not arrive whole in time (its headers, or its body, stalled): HTTP 408. */
  'request_timeout',
  /** A client request whose request line and headers are over what a node reads: HTTP 431. */
  'headers_too_large',
  /**
   * A node's LevelDB could not be opened for its disk: full (no space left), failing (an I/O
   * error) or corrupt. The node does not start; the message says which, and what to do.
   */
  'storage_failed',
  /** GET /ready of a node not ready for client traffic (it left, or reaches too few members for the default quorum): HTTP 503. */
  'not_ready',
] as const

export type ErrorCode = (typeof errorCodes)[number]

/** An operating error with a stable code; `details` become extra JSON fields at the API edge. */
export class DynError extends Error {
  readonly code: ErrorCode
  readonly details: Record<string, unknown>

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message)
    this.name = 'DynError'
    this.code = code
    this.details = details
  }
}

/** A result as a value: the shape every core returns for expected failures. */
export type Result<T, E = {error: ErrorCode; message: string}> = ({ok: true} & T) | ({ok: false} & E)

/** Crash on a programmer error; never used for bad input or a peer that is down. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`)
}
