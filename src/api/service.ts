/**
 * What the HTTP API needs from the node behind it. The node implements this by wiring the
 * coordinators to its store, transport and member table (and counting and timing every
 * request); the API only checks input, calls these, and turns outcomes into HTTP.
 */

import type {DeleteOutcome, DeleteRequest} from '../coordinator/delete-coordinator.js'
import type {GetOutcome, GetRequest} from '../coordinator/get-coordinator.js'
import type {PutOutcome, PutRequest} from '../coordinator/put-coordinator.js'
import type {ClusterChangeRequest} from '../membership/claimant.js'
import type {ClusterSettings} from '../membership/member-table.js'

export interface KvService {
  /** Members that own partitions: the largest N a request may ask for. */
  clusterSize(): number
  settings(): ClusterSettings
  put(request: PutRequest): Promise<PutOutcome>
  get(request: GetRequest): Promise<GetOutcome>
  delete(request: DeleteRequest): Promise<DeleteOutcome>
  /** JSON-ready descriptions for GET /cluster, /cluster/preflist/{key}, /stats and /health. */
  cluster(): unknown
  /** A membership change (stage, plan, commit, clear), decided by the claimant; throws DynError. */
  clusterChange(request: ClusterChangeRequest): Promise<unknown>
  /** dyn cluster join SEED: this node, alone and empty, joins the seed's cluster; throws DynError. */
  joinCluster(seed: string): Promise<unknown>
  preflist(key: string): unknown
  /** dyn repair: an anti-entropy exchange now, of one partition or all, with every other home; throws DynError. */
  repair(partition: number | undefined): Promise<unknown>
  stats(): unknown | Promise<unknown>
  health(): unknown
  /**
   * dyn cluster status --node: every member's own view (health, members, reachability, hints,
   * transfers), asked over the internode port by this node, each within `timeoutMs`; throws
   * DynError for a bad timeout.
   */
  clusterStatus(timeoutMs: number): Promise<unknown>
}
