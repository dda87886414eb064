/**
 * The internode RPC interface: send a typed request to a node by address and get its answer.
 * It knows no Dynamo logic; the coordinator, replication, gossip and handoff are all built on
 * it. As in hashicorp/memberlist, the protocol code depends only on this interface, so the same
 * code runs over real TCP (`tcp-transport.ts`) and over a simulated network.
 *
 * Guarantees every implementation gives:
 * - At most once: a request is delivered to the remote handler once or not at all; it is never
 *   retried here. A failure says nothing certain about whether the handler ran, except that
 *   'overloaded', 'unreachable' before connecting and a locally refused body were never sent.
 * - Bounded: every request is answered or failed within its `timeoutMs` (plus timer slack);
 *   a late answer after the timeout is dropped.
 * - No ordering promise: requests to one peer may be handled concurrently and answered in any
 *   order, and nothing at all is promised across peers.
 * - Never throws for operating errors (a peer down, a bad answer, an unencodable body): those
 *   are `RpcResult` values. It throws (asserts) only on programmer errors.
 */

/** Why a request failed, from the caller's point of view. */
export type RpcFailure =
  /** No answer within the timeout; the request may or may not have been handled. */
  | 'timeout'
  /** No connection to the peer, or it broke before the answer came. */
  | 'unreachable'
  /** Too many requests already waiting on this peer; refused locally, nothing sent. */
  | 'overloaded'
  /** The peer (or, for a body that cannot be encoded, the sender itself) refused the request; see `code`. */
  | 'remote'

export type RpcResult =
  | {ok: true; body: unknown}
  /** `sent: false`: refused before anything left this node, so the peer certainly did not handle it. */
  | {ok: false; error: RpcFailure; code?: string; message: string; sent?: false; details?: Record<string, unknown>}

/**
 * Answers one inbound request. `type` is a `MessageType`, `fromNode` the name the peer gave in
 * its Hello. Throwing (or rejecting with) an object that has a string `code`, such as a
 * `DynError`, makes the caller get `{ok: false, error: 'remote', code, message}`, with the
 * error's `details` when they are a plain object of at most `errorDetailsBytesMax` as JSON;
 * anything else thrown arrives with code 'internal'.
 */
export type RequestHandler = (type: number, body: unknown, fromNode: string) => Promise<unknown>

/** How one request is sent; every field may be left out. */
export interface RequestOptions {
  /**
   * The caller paces its own tries and says itself what failed (a join through its seeds, which
   * tries each every half second and logs what it does; `dyn cluster join`, one try per run of the
   * command, whose error goes back to the operator): the request connects even while the
   * peer's reconnects back off, and a connection that only such requests used is not logged as
   * the peer being unreachable when it fails. Without it, the transport backs off and logs.
   */
  readonly callerPaced?: boolean
}

/** What this node knows of its own outbound connection to a peer (not a failure detector). */
export type PeerState = 'connected' | 'connecting' | 'down' | 'unknown'

export interface Transport {
  /** "host:port" this node listens on. */
  readonly address: string
  /** Sends one request and waits for its answer; resolves to a failure value, never rejects. */
  request(address: string, type: number, body: unknown, timeoutMs: number, options?: RequestOptions): Promise<RpcResult>
  peerState(address: string): PeerState
  /** Stops listening, closes every socket and fails every pending request with 'unreachable'. */
  close(): Promise<void>
}
