/** The HTTP status of every stable error code (ARCHITECTURE "Client HTTP API"). */

import type {ErrorCode} from '../errors.js'

export const statusOfError: Record<ErrorCode, number> = {
  bad_key: 400,
  bad_value: 400,
  value_too_large: 413,
  bad_context: 400,
  bad_parameter: 400,
  bad_request: 400,
  not_found: 404,
  route_not_found: 404,
  method_not_allowed: 405,
  too_many_siblings: 409,
  object_too_large: 413,
  quorum_unmet: 503,
  timeout: 503,
  unreachable: 503,
  overloaded: 503,
  cluster_config_mismatch: 409,
  internal: 500,
  ring_in_transition: 409,
  nothing_staged: 409,
  // Only a node's start meets it (src/node/disk-check.ts): the node itself cannot serve.
  old_disk: 503,
  // Only a node that learns it was removed meets it: it stops itself.
  removed: 410,
  // A node the cluster refused for its secret (dyn cluster join): fixed by the command line.
  unauthenticated: 403,
  // Only a client meets it (src/client refusing a node's certificate); a node never answers it,
  // and one that did, for a node it could not trust, would be a gateway refused upstream.
  tls_untrusted: 502,
  // A membership change that the member's state already makes (dyn cluster leave or remove twice).
  already_leaving: 409,
  already_left: 409,
  // Answered in plain HTTP by a node's HTTPS port (src/node/plain-http-on-tls.ts), before any parsing.
  https_required: 400,
  // Only a client meets it, as tls_untrusted: the node answered its TLS handshake in plain HTTP.
  tls_not_served: 502,
  // Only a command meets it (dyn verify stopped by Ctrl-C); no node answers it.
  interrupted: 400,
  // A join (or a commit of one) that the cluster's state refuses until the operator acts: the
  // joining node is to be restarted with an address the members reach, or its join withdrawn.
  joiner_unreachable: 409,
  // A commit on the minority side of a partition (or with most members lost): the cluster's
  // state refuses it until the network heals or the operator commits --without-majority.
  no_majority: 409,
  // Only dyn bench meets it (an SLA target its workload cannot measure); no node answers it.
  sla_not_measurable: 400,
  // Node's HTTP layer refused the request for its time or size (src/node/serve-in-order.ts).
  request_timeout: 408,
  headers_too_large: 431,
  // Only a command meets it (a cluster folder another dyn cluster up is starting); no node answers it.
  folder_busy: 409,
  // Only a node's start meets it (its LevelDB would not open for its disk): the node itself cannot serve.
  storage_failed: 503,
  // GET /ready of a node that should not get client traffic now (src/api/readiness.ts).
  not_ready: 503,
}
