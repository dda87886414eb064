/**
 * The CLI's documented exit codes, and which API error codes lead to each. Scripts rely on
 * these, so they never change meaning.
 */

export const exitCodes = {
  /** Found, stored, done. */
  ok: 0,
  /** The key does not exist (or was deleted). */
  notFound: 1,
  /** Bad usage or bad input: fix the command line. */
  usage: 2,
  /**
   * Quorum unmet, or no node reachable: retry later or with a smaller R/W. Also `dyn resolve`
   * finding the key changed by another write since the read it was asked about (read it again).
   */
  unavailable: 3,
  /** The key has siblings where one value was asked for (`dyn get` piped or with --output): nothing was written. */
  siblings: 4,
  /** dyn bench --baseline: a figure got worse than the baseline's by more than the tolerance (an SLA missed is 1 and wins). */
  regression: 5,
  /** Stopped by Ctrl-C (SIGINT) or SIGTERM once what the command had started was stopped: dyn bench, dyn cluster up (128 + SIGINT's number, as shells report it). */
  interrupted: 130,
} as const

export function exitCodeOf(errorCode: string): number {
  if (errorCode === 'not_found') return exitCodes.notFound
  if (errorCode === 'has_siblings') return exitCodes.siblings
  // joiner_unreachable: a node to join that the cluster cannot reach, as the help's "node unreachable" says.
  // no_majority: a commit that the members out of reach hold up, as an unreachable node does.
  // folder_busy: another command is starting the folder's nodes; it is over once that one ends.
  if (['quorum_unmet', 'unreachable', 'timeout', 'overloaded', 'internal', 'joiner_unreachable', 'no_majority', 'folder_busy', 'request_timeout', 'storage_failed', 'not_ready'].includes(errorCode)) return exitCodes.unavailable
  // dyn resolve: another write changed the key since the read the choice was made from.
  if (['conflict_remains', 'sibling_gone', 'siblings_changed'].includes(errorCode)) return exitCodes.unavailable
  return exitCodes.usage
}

export const exitCodesHelp = 'Exit codes: 0 ok, 1 not found, 2 bad usage or input (a node certificate that does not verify, and http:// or https:// not what the node serves, included: tls_untrusted, https_required, tls_not_served), 3 quorum unmet or node unreachable.'

/** dyn get's, which also has the siblings case. */
export const getExitCodesHelp = 'Exit codes: 0 ok, 1 not found, 2 bad usage or input (a node certificate that does not verify, and http:// or https:// not what the node serves, included: tls_untrusted, https_required, tls_not_served), 3 quorum unmet or node unreachable, 4 the key has siblings and the output is piped or --output (nothing written: resolve them first).'
