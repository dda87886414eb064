/**
 * The kinds of frame that travel between nodes. The numbers are written on the wire (one byte
 * of every frame, see `frame.ts`), so a node of one build must understand the numbers of
 * another: only append to this list, never renumber or reuse a value.
 *
 * The transport itself interprets only `Hello`, `HelloChallenge`, `HelloProof`, `Response` and
 * `ErrorResponse`; every other type is a request that it hands, unread, to the node's request
 * handler.
 */

/** Only append to this list: the numbers are on the wire. */
export enum MessageType {
  /**
   * First frame of every connection: `{protocolVersion, nodeName, address}`, and `nonce` when the
   * opener holds a cluster secret (handshake.ts).
   */
  Hello = 1,
  /** A successful answer; its request id is the one of the request it answers. */
  Response = 2,
  /** A failed answer: `{code, message}`. */
  ErrorResponse = 3,
  Join = 10,
  Gossip = 11,
  ReplicaGet = 20,
  ReplicaPut = 21,
  CoordinatePut = 22,
  CoordinateGet = 23,
  CoordinateDelete = 24,
  /** A heartbeat for the failure detector: `{from}`, answered `{node}`. */
  Ping = 30,
  /** A batch of hints handed to the replica they were written for: `{entries: [{partition, key, object}]}`. */
  HintDelivery = 31,
  /** A membership change request (stage, plan, commit, clear), answered by the claimant. */
  ClusterChange = 32,
  /** One page of a partition's objects, for an ownership transfer (handoff/transfer.ts). */
  TransferPage = 33,
  /**
   * A batch of objects an old home hands to a key's new home after a ring change, before it
   * deletes its copy (handoff/transfer-release.ts): `{entries: [{partition, key, object}]}`,
   * merged, synced and answered per entry exactly as HintDelivery is.
   */
  ObjectHandoff = 34,
  /**
   * Anti-entropy (src/antientropy): the roots of the trees `{ringHash, pairs: [[partition, n]]}`
   * both nodes are homes of, answered `{roots}` (null where the answering node cannot take part).
   */
  AntiEntropyRoots = 35,
  /** One tree's branch hashes: `{ringHash, partition, n}`, answered `{branches}`. */
  AntiEntropyBranches = 36,
  /** The segment hashes under some branches: `{ringHash, partition, n, branches}`, answered `{segments}`. */
  AntiEntropySegments = 37,
  /** The keys and hashes in some segments: `{ringHash, partition, n, segments}`, answered `{keys, truncated}`. */
  AntiEntropyKeys = 38,
  /** The objects of some keys: `{partition, keys}`, answered `{objects}` (null for a key not held). */
  AntiEntropyObjects = 39,
  /**
   * Before a reap (src/antientropy/reaper.ts): `{ringHash, partition, keys, handedOff}`, answered
   * `{answers: [{hash, hinted, releasing}], diskClock}`, the answering node's object hash for each
   * key (null: none), whether it holds a hint for it, whether it still hands off partitions a ring
   * change took from it, and its disk clock, raised and persisted before it answered. `handedOff`
   * names the nodes the reaper does not ask (their rows say they handed off or were removed): the
   * node refuses while it does not know that of one, or still stores copies one sent.
   */
  AntiEntropyReapCheck = 40,
  /**
   * A reap: `{ringHash, partition, entries: [[key, high, low]], diskClocks: [[member, value]]}`:
   * the disk clocks persisted first (src/node/disk-check.ts), then each key fenced
   * (src/antientropy/reap-fence.ts) and deleted where its object still has that hash; answered
   * `{deleted, kept}`, `kept` saying where it holds another object of the key.
   */
  AntiEntropyReap = 41,
  /**
   * At a start (src/node/disk-check.ts): `{name}`, answered `{diskClock}`, the highest disk clock
   * of that member the answering node has heard of. Served while the answering node is itself
   * still starting, so that a whole cluster can start at once.
   */
  DiskClockQuery = 42,
  /**
   * For `dyn cluster status --node` (src/node/status-subsystem.ts): `{}`, answered with the
   * answering node's own view: its health and its GET /cluster without the ring's owners.
   */
  NodeStatusQuery = 43,
  /**
   * The acceptor's answer to a Hello with a nonce, when it holds the cluster secret
   * (handshake.ts): `{nonce, proof}`, request id 0.
   */
  HelloChallenge = 44,
  /** The opener's answer to a HelloChallenge: `{proof}`, request id 0; requests follow it. */
  HelloProof = 45,
}

/** The types that only the transport sends; a peer may never send them as requests. */
const transportOwnTypes: ReadonlySet<number> = new Set([
  MessageType.Hello,
  MessageType.HelloChallenge,
  MessageType.HelloProof,
  MessageType.Response,
  MessageType.ErrorResponse,
])

/** Every type a peer may send as a request; anything else is answered with `bad_request`. */
export const requestMessageTypes: ReadonlySet<number> = new Set(
  Object.values(MessageType).filter(
    (value): value is number => typeof value === 'number' && !transportOwnTypes.has(value),
  ),
)
