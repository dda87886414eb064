/**
 * What `dyn top` shows, as plain data: the components in src/ui render a `ClusterSnapshot` and
 * fetch nothing; src/cli/cluster-watch.ts polls the nodes and builds one per refresh.
 *
 * Figures that a node does not serve are absent (undefined), never zero: a view leaves out a
 * column no node serves (hints pending and transfers in progress come with hinted handoff and
 * ownership transfer, and slot in here when GET /stats and GET /cluster serve them).
 */

/** Membership status (gossiped), or, for `down` and `suspect`, reachability as the source node sees it. */
export type NodeStatus = 'up' | 'down' | 'suspect' | 'joining' | 'leaving' | 'left' | 'unknown'

export interface LatencyPercentilesMs {
  readonly p99: number
  readonly p999: number
}

export interface LatencyBuckets {
  /** Upper bounds in ms; counts has one more entry, for latencies above the last bound. */
  readonly boundsMs: readonly number[]
  readonly counts: readonly number[]
}

/** A node's own figures, from its GET /stats; undefined fields are not served by that node. */
export interface NodeFigures {
  readonly keys?: number
  readonly storeBytes?: number
  /** Rates between the last two samples; undefined until two samples exist. */
  readonly getsPerS?: number
  readonly putsPerS?: number
  /** Recent-window percentiles (the last 10 s as the node keeps them). */
  readonly getLatencyMs?: LatencyPercentilesMs
  readonly putLatencyMs?: LatencyPercentilesMs
  readonly eventLoopDelayP99Ms?: number
  readonly uptimeMs?: number
  readonly hintsPending?: number
  readonly transfersInProgress?: number
  /** Anti-entropy: keys it repaired since it started, and whether it is catching up after a lost disk. */
  readonly keysRepaired?: number
  readonly recovering?: boolean
  /** Admission control: requests shed (503 overloaded) per second between the last two samples, and its state. */
  readonly shedPerS?: number
  readonly admissionState?: string
  /** Why its store takes no writes (a full or failing disk), while it does not (/stats' writesStopped). */
  readonly writesStopped?: string
  /** While it serves out its stop delay before it stops (/stats' stoppingInMs): ms left. */
  readonly stoppingInMs?: number
  /** Latency distribution of gets and puts over the view's history (or since start, with one sample). */
  readonly latencyBuckets?: LatencyBuckets
}

export interface NodeRow {
  readonly name: string
  /** Client API address, host:port. */
  readonly address: string
  readonly status: NodeStatus
  readonly partitions: number
  /** False when this node's own /stats did not answer the last poll. */
  readonly answering: boolean
  readonly figures: NodeFigures
  /** Oldest first, one entry per refresh, bounded; NaN where no figure was had. */
  readonly history: {readonly requestsPerS: readonly number[]; readonly p999Ms: readonly number[]}
}

/** One partition changing hands (served once ownership transfer exists). */
export interface PartitionMove {
  readonly partition: number
  readonly from: string
  readonly to: string
}

export interface TopEvent {
  readonly atMs: number
  readonly text: string
  readonly severity: 'info' | 'warn' | 'error'
}

/** A node's own view of the others, for the detail panel. */
export interface PeerView {
  readonly name: string
  readonly status: NodeStatus
}

export interface ClusterSnapshot {
  readonly takenAtMs: number
  /** The node whose /cluster this is (host:port). */
  readonly source: string
  /** Set when the node first asked stopped answering and the view moved to another one; gone once that node answers again. */
  readonly failover?: {readonly from: string; readonly to: string}
  /** No node answered the last poll: the rows are the last known ones. */
  readonly stale: boolean
  readonly settings?: {readonly n: number; readonly r: number; readonly w: number}
  readonly ringHash?: string
  /** Owner name per partition, in partition order. */
  readonly owners: readonly string[]
  readonly moves: readonly PartitionMove[]
  readonly nodes: readonly NodeRow[]
  /** Newest last, bounded. */
  readonly events: readonly TopEvent[]
  /** The selected node's own view of the others, when the caller asked for it. */
  readonly focus?: {readonly name: string; readonly peers?: readonly PeerView[]; readonly error?: string}
}
