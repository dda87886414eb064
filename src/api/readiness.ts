/**
 * Whether a node is ready for client traffic: the answer of `GET /ready`, for a load balancer or
 * a service manager's readiness check (Kubernetes' readinessProbe), apart from `GET /health`, which
 * answers 200 whenever the process serves (liveness). An SRE's walk found /health 200 while the
 * node had left the cluster, and while it was cut off from the others so that every get and put
 * through it failed `quorum_unmet`: a balancer could not tell.
 *
 * A node is not ready when it has left the cluster (it only hands off, then exits), when it
 * restarted where it could not confirm that it is still a member (it takes no writes until it
 * does: src/node/membership-confirmation.ts), or when it
 * reaches fewer members (itself included) than the cluster's default R or W needs: a request
 * with the defaults then fails from here, where another node, on the other side of a partition,
 * may serve it (paper §4.6's sloppy quorum counts any healthy node, so reachable members is the
 * bound). A node whose store takes no writes stays ready: it serves reads and forwards its puts
 * to the key's other homes; /health and `dyn cluster status` say it (`writesStopped`). A node
 * asked to stop with a stop delay is not ready while it waits the delay out, still serving: the
 * time a balancer needs to see it and send elsewhere before its port closes. Pure.
 */

/** The longest stop delay a node takes (dyn start --stop-delay-ms): a balancer sees a node not ready within seconds. */
export const stopDelayMsMax = 120_000

export interface ReadinessInputs {
  /** The node's own membership status: joining, valid, leaving or left. */
  readonly status: string | undefined
  /** Members that have not left, this node included. */
  readonly members: number
  /** Of those, the ones this node sees down. */
  readonly down: number
  /** The cluster's default R and W as requests get them now (capped by the members that own partitions). */
  readonly r: number
  readonly w: number
  /**
   * Set while the node waits out its stop delay (`dyn start --stop-delay-ms`): the ms left before
   * it stops taking connections. It serves meanwhile; it is not ready, so that balancers stop
   * sending it new requests before its ports close.
   */
  readonly stoppingInMs?: number
  /**
   * Set while a node restarted on its folder has not confirmed that it is still a member (it
   * takes no writes meanwhile): why, in words (src/node/membership-confirmation.ts).
   */
  readonly membershipUnconfirmed?: string
}

export type Readiness = {readonly ready: true} | {readonly ready: false; readonly reasons: readonly string[]}

/** How the reason of a node waiting out its stop delay begins (dyn cluster status shows that reason). */
export const stoppingReasonPrefix = 'it is stopping'

export function readinessOf(inputs: ReadinessInputs): Readiness {
  const reasons: string[] = []
  if (inputs.stoppingInMs !== undefined) {
    reasons.push(`${stoppingReasonPrefix}: it serves ${Math.ceil(inputs.stoppingInMs / 1000)} s more so that balancers stop sending it requests, then finishes what it has begun and exits`)
  }
  if (inputs.status === 'left') reasons.push('it has left the cluster (it hands off its data, then exits)')
  if (inputs.membershipUnconfirmed !== undefined) reasons.push(inputs.membershipUnconfirmed)
  const reached = inputs.members - inputs.down
  const needed = Math.max(inputs.r, inputs.w)
  if (reached < needed) {
    reasons.push(`it reaches ${reached} of the ${inputs.members} members (itself included), fewer than the ${needed} a request with the defaults (R=${inputs.r}, W=${inputs.w}) needs: gets and puts through it fail quorum_unmet`)
  }
  return reasons.length === 0 ? {ready: true} : {ready: false, reasons}
}
