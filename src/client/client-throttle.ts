/**
 * Client-side throttling of the requests sent to a node that is shedding them (issue 16, item 1;
 * the SRE book, "Handling Overload", "Client-side throttling").
 *
 * A node under more load than it can serve refuses the excess with 503 `overloaded` before doing
 * any work for it (src/api/admission.ts), but a refusal still costs it a parsed request and an
 * answer: at ten times its capacity it spends about as much on refusing as on serving, and its
 * goodput falls with the offered load (bench/README.md, "The nodes alone overloaded"). A client
 * that keeps sending to a node that refuses most of what it gets is adding to that cost. So each
 * long-lived client keeps, per node, two counts over a sliding window: the requests it wanted to
 * send there and the ones the node did not shed; once the first is more than `acceptsMultiplier`
 * times the second, it refuses a new request itself, before sending, with probability
 *
 *     max(0, (requests - acceptsMultiplier × accepts) / (requests + 1))
 *
 * (requests counts those refused here too, so the more a node sheds the less it is sent; with the
 * book's multiplier of 2 a node is sent about twice what it accepts, and refuses the rest at its
 * own small cost). The probability is capped at `rejectionProbabilityMax`, so that a share of the
 * requests always reaches the node and tells the client when it recovers, as Envoy's admission
 * control filter caps its own; and nothing is refused until the window holds `requestsMin`
 * requests, so that one shed answer to a client that sends little does not throttle it.
 *
 * A request sent counts once its answer comes, with its accept or its shed, and one refused here
 * counts at once: the book's client counts a request when it is made, which with answers seconds
 * late (a queue in the client, a slow node) makes requests outnumber accepts twice over without a
 * single shed, and the client then throttled a node that shed nothing (a new user's walk: 90,458
 * operations kept back by a bench whose nodes had shed none). Answers other than a shed count as
 * accepted, failures to answer in time included: the throttle
 * follows the node's own signal of overload, and timeouts are the failover's business. A node that
 * cannot be connected to is forgotten (`forget`): it is down, not overloaded, and must be reported
 * so. Pure: time and randomness are the caller's inputs.
 */

import {assert} from '../errors.js'

export interface ClientThrottleOptions {
  /** The book's K: how many requests per accepted one a node is still sent (at least 1). */
  readonly acceptsMultiplier: number
  /** How far back the counts reach. */
  readonly windowMs: number
  /** The window moves on in this many steps (each forgets the oldest slice's counts). */
  readonly bucketCount: number
  /** The highest share of requests refused here (below 1, so that some always reach the node). */
  readonly rejectionProbabilityMax: number
  /** Requests in the window below which nothing is refused here. */
  readonly requestsMin: number
}

export const clientThrottleDefaults: ClientThrottleOptions = {
  acceptsMultiplier: 2,
  windowMs: 10_000,
  bucketCount: 20,
  rejectionProbabilityMax: 0.9,
  requestsMin: 20,
}

export class ClientThrottle {
  private readonly options: ClientThrottleOptions
  private readonly bucketMs: number
  private readonly requestsByBucket: number[]
  private readonly acceptsByBucket: number[]
  private newestBucket = 0
  /** When the newest bucket began; undefined before the first request. */
  private newestBucketStartMs: number | undefined
  private requests = 0
  private accepts = 0

  constructor(options: Partial<ClientThrottleOptions> = {}) {
    this.options = {...clientThrottleDefaults, ...options}
    const {acceptsMultiplier, windowMs, bucketCount, rejectionProbabilityMax, requestsMin} = this.options
    assert(acceptsMultiplier >= 1, `acceptsMultiplier must be at least 1, not ${acceptsMultiplier}`)
    assert(Number.isInteger(bucketCount) && bucketCount >= 1 && bucketCount <= 1000, `bucketCount must be an integer in [1, 1000], not ${bucketCount}`)
    assert(windowMs >= bucketCount, `windowMs must be at least one ms per bucket, not ${windowMs}`)
    assert(rejectionProbabilityMax >= 0 && rejectionProbabilityMax < 1, `rejectionProbabilityMax must be in [0, 1), not ${rejectionProbabilityMax}`)
    assert(requestsMin >= 0, `requestsMin must not be negative, not ${requestsMin}`)
    this.bucketMs = windowMs / bucketCount
    this.requestsByBucket = new Array<number>(bucketCount).fill(0)
    this.acceptsByBucket = new Array<number>(bucketCount).fill(0)
  }

  /** The share of new requests refused here now. */
  rejectionProbability(nowMs: number): number {
    this.advance(nowMs)
    if (this.requests < this.options.requestsMin) return 0
    const excess = this.requests - this.options.acceptsMultiplier * this.accepts
    return Math.min(this.options.rejectionProbabilityMax, Math.max(0, excess / (this.requests + 1)))
  }

  /**
   * Whether to send a request to the node now. One refused here counts as a request the client
   * wanted to send at once; one sent counts when its answer is recorded, which it must be.
   * `random` is a float in [0, 1).
   */
  trySend(nowMs: number, random: number): boolean {
    const send = random >= this.rejectionProbability(nowMs)
    if (!send) this.countRequest()
    return send
  }

  /** The answer to a request `trySend` let through: shed (503 overloaded) or anything else. */
  recordAnswer(nowMs: number, shed: boolean): void {
    this.advance(nowMs)
    this.countRequest()
    if (shed) return
    this.accepts += 1
    this.acceptsByBucket[this.newestBucket] = (this.acceptsByBucket[this.newestBucket] as number) + 1
  }

  private countRequest(): void {
    this.requests += 1
    this.requestsByBucket[this.newestBucket] = (this.requestsByBucket[this.newestBucket] as number) + 1
  }

  /**
   * Forget everything: the node could not be connected to, so what it shed before says nothing
   * about it now, and the next request must reach it (and fail as unreachable, not as throttled).
   */
  forget(): void {
    this.requestsByBucket.fill(0)
    this.acceptsByBucket.fill(0)
    this.requests = 0
    this.accepts = 0
  }

  /** Moves the window on to `nowMs`, forgetting the slices that fell out of it. */
  private advance(nowMs: number): void {
    if (this.newestBucketStartMs === undefined) {
      this.newestBucketStartMs = nowMs
      return
    }
    // A clock that went back (it should not: callers give monotonic time) keeps the newest slice.
    if (nowMs < this.newestBucketStartMs + this.bucketMs) return
    const steps = Math.floor((nowMs - this.newestBucketStartMs) / this.bucketMs)
    const { bucketCount } = this.options
    // Bounded: at most one pass over the buckets, however long the client was idle.
    for (let step = 0; step < Math.min(steps, bucketCount); step += 1) {
      this.newestBucket = (this.newestBucket + 1) % bucketCount
      this.requests -= this.requestsByBucket[this.newestBucket] as number
      this.accepts -= this.acceptsByBucket[this.newestBucket] as number
      this.requestsByBucket[this.newestBucket] = 0
      this.acceptsByBucket[this.newestBucket] = 0
    }
    this.newestBucketStartMs += steps * this.bucketMs
  }
}

/** A client's throttles, one per node it sends to (by its address), each made on first use. */
export class NodeThrottles {
  private readonly byNode = new Map<string, ClientThrottle>()

  of(node: string): ClientThrottle {
    let throttle = this.byNode.get(node)
    if (throttle === undefined) {
      throttle = new ClientThrottle()
      this.byNode.set(node, throttle)
    }
    return throttle
  }
}
