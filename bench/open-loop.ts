/**
 * The open-loop driver (`--rate R`): operations start on a fixed schedule, evenly spaced
 * (operation i is due at start + i/R), whether or not earlier ones have answered, the way users
 * arrive. Latency is measured from each operation's *intended* start, so time spent queued
 * behind a slow answer, or behind our own late timer, counts: no coordinated omission.
 *
 * It drives undici directly rather than autocannon: autocannon's rate limiter sends each
 * second's requests in a burst at the start of the second, and its correction records every
 * latency with an expected interval of ceil(1/rate) ms = 1 ms, which inflates high percentiles
 * many times over. Each node gets an undici Pool of keep-alive connections; each request goes to
 * the node `route(key)` names (round robin: server-driven; the partition-aware client:
 * client-driven, paper §6.4).
 */

import {performance} from 'node:perf_hooks'
import {Pool} from 'undici'
import {NodeThrottles} from '../src/client/client-throttle.js'
import type {ClientTls} from '../src/transport/tls-ca-file.js'
import type {OperationRun, OperationSource, Outcome, HttpStep, HttpReply} from './operations.js'
import type {Recorder} from './recorder.js'
import type {DriverTotals} from './closed-loop.js'
import {runStoppedByTls, tlsFailureOf} from './tls-failure.js'
import type {TlsFailure} from './tls-failure.js'

export interface OpenLoopOptions {
  readonly nodes: readonly string[]
  readonly ratePerS: number
  readonly durationS: number
  readonly timeoutS: number
  readonly factory: OperationSource
  readonly recorder: Recorder
  /** Which node to send an operation on `key` to; default: round robin over `nodes`. */
  readonly route?: (key: string) => string
  /**
   * Keep-alive connections per node (default `openLoopConnectionsPerNodeDefault`). Operations due
   * while every connection is busy wait in the pool's queue, in this process: with few
   * connections an overloaded cluster shows as a queue here rather than at the nodes, which then
   * never see enough requests at once to shed any. Many independent users each have their own
   * connection; `--connections-per-node` lets the bench offer that.
   */
  readonly connectionsPerNode?: number
  /** HTTPS to every node (see HttpTargets); undefined: plain HTTP. */
  readonly tls?: ClientTls
  /**
   * Seconds of load before measuring: the first operations pay for opening connections and for
   * the JIT compiling the hot paths (a stall of tens of ms that would land on every operation
   * due during it), which says nothing about the cluster under steady load.
   */
  readonly warmupS?: number
  /**
   * Throttle on the client's side what goes to a node that is shedding most of it, as dyn's
   * clients do (src/client/client-throttle.ts) [default: true]. false: every operation is sent,
   * however much its node sheds, which measures what the nodes alone do with the whole load.
   */
  readonly clientThrottle?: boolean
  /**
   * Told, with performance.now(), when the measured window starts (just before its first
   * operation is started) and when it ends (just after its last one is started, before the last
   * answers come): for an experiment that reads the machine over exactly the measured seconds
   * (bench/experiments/run-queue.ts). Called on the driver's timer, so it should be short; if it
   * throws, the run still drains and closes its connections, and then fails with that error.
   */
  readonly onMeasuredWindow?: (edge: 'start' | 'end', atMs: number) => void
}

export const openLoopConnectionsPerNodeDefault = 64

/** Operations in flight beyond this are not started (and are counted): a bound on our own memory. */
export const inFlightMax = 20_000
/** No operation takes more HTTP requests than this (the longest, rmw and cart, take two). */
const stepsPerOperationMax = 8
/** At most this many due operations are started per timer tick, so the loop yields to answers. */
const startsPerTickMax = 1000

/**
 * A node's keep-alive connections not in use, and the requests waiting for one, first come first
 * served (`waiting` from `head` on; the array is compacted once half of it has been served).
 */
interface NodeSlots {
  free: number
  waiting: Array<() => void>
  head: number
}

export class HttpTargets {
  private readonly pools = new Map<string, Pool>()
  /**
   * The requests waiting for a connection wait here, not in undici's pool: a request is made (its
   * headers, a write's context among them) only once a connection is free to send it. Made when
   * its operation was due and then queued behind busy connections, an update carried the context
   * of that moment, seconds stale once the queue had grown, and so made a sibling of every update
   * of its key answered meanwhile: the bench's own queue manufactured siblings, which made every
   * answer on a hot key slower, which grew the queue (runs at two thirds of capacity collapsed to
   * seconds of latency and `too_many_siblings`). A client sends the freshest context it has when
   * it sends.
   */
  private readonly slots = new Map<string, NodeSlots>()
  /**
   * Over TLS, the first failed handshake (a certificate that did not verify, a node that wants a
   * client certificate, one that serves plain HTTP), as `node: what to do` and whether the
   * certificate did not verify: the drivers stop sending, and the run fails with it
   * (`throwIfTlsFailed`) instead of counting errors.
   */
  tlsFailure: TlsFailure | undefined
  /** Per node, the client-side throttle of what is sent there; undefined when the bench does not throttle. */
  private readonly throttles: NodeThrottles | undefined

  constructor(
    private readonly timeoutS: number,
    private readonly connectionsPerNode: number,
    /** The nodes a refused step may go to instead, in order; empty: none. */
    private readonly failoverNodes: readonly string[] = [],
    /**
     * HTTPS to every node, trusting `ca` (the system's CAs without it) and presenting `cert` if
     * given; undefined: plain HTTP. undici checks each node's certificate and name, as Node does.
     */
    private readonly tls?: ClientTls,
    /** Whether an operation's first request passes `node`'s client-side throttle before it is sent. */
    clientThrottle = false,
  ) {
    this.throttles = clientThrottle ? new NodeThrottles() : undefined
  }

  private pool(node: string): Pool {
    let pool = this.pools.get(node)
    if (pool === undefined) {
      const limits = {connections: this.connectionsPerNode, pipelining: 1, headersTimeout: this.timeoutS * 1000, bodyTimeout: this.timeoutS * 1000}
      pool =
        this.tls === undefined
          ? new Pool(`http://${node}`, limits)
          : new Pool(`https://${node}`, {...limits, connect: {ca: this.tls.ca, cert: this.tls.cert, key: this.tls.key}})
      this.pools.set(node, pool)
    }
    return pool
  }

  private slotsOf(node: string): NodeSlots {
    let slots = this.slots.get(node)
    if (slots === undefined) {
      slots = {free: this.connectionsPerNode, waiting: [], head: 0}
      this.slots.set(node, slots)
    }
    return slots
  }

  /** Resolves once one of `node`'s connections is this request's; `release` gives it back. */
  private acquire(node: string): Promise<void> | undefined {
    const slots = this.slotsOf(node)
    if (slots.free > 0) {
      slots.free -= 1
      return undefined
    }
    // Bounded: the drivers start at most inFlightMax operations at once, each waiting here once.
    return new Promise<void>((resolve) => slots.waiting.push(resolve))
  }

  private release(node: string): void {
    const slots = this.slotsOf(node)
    if (slots.head < slots.waiting.length) {
      const next = slots.waiting[slots.head] as () => void
      slots.head += 1
      if (slots.head > 1024 && slots.head * 2 > slots.waiting.length) {
        slots.waiting = slots.waiting.slice(slots.head)
        slots.head = 0
      }
      next()
      return
    }
    // Drained: the served resolvers are let go.
    if (slots.head > 0) {
      slots.waiting = []
      slots.head = 0
    }
    slots.free += 1
  }

  /**
   * Send one step, made by `makeStep` once a connection to the node is free (see `slots`), and
   * hand its reply to `onReply` before the connection is given back; transport failures come
   * back as an outcome, never thrown (what `onReply` throws is thrown). A node that refuses
   * the connection never saw the request, so, as dyn's own clients do, the step goes to the next
   * of `failoverNodes` instead (each tried once); once a request has reached a node, that node's
   * answer or failure is the outcome, since a write it may have applied must not be sent twice.
   */
  async send<T>(node: string, makeStep: () => HttpStep, onReply: (reply: HttpReply) => T): Promise<{ok: true; handled: T; answeredBy: string} | {ok: false; outcome: Outcome}> {
    const first = this.failoverNodes.indexOf(node)
    const tries = first < 0 ? 1 : this.failoverNodes.length
    let outcome: Outcome = 'connection'
    for (let attempt = 0; attempt < tries; attempt += 1) {
      const target = attempt === 0 ? node : (this.failoverNodes[(first + attempt) % this.failoverNodes.length] as string)
      await this.acquire(target)
      // A failed handshake stops the run: the requests that were waiting for a connection go no further.
      if (this.tlsFailure !== undefined) {
        this.release(target)
        break
      }
      let reply: HttpReply
      try {
        const step = makeStep()
        const response = await this.pool(target).request({method: step.method, path: step.path, headers: step.headers, body: step.body})
        const body = await response.body.text()
        const context = response.headers['x-dyn-context']
        reply = {status: response.statusCode, body, contextHeader: Array.isArray(context) ? context[0] : context}
      } catch (error) {
        this.release(target)
        const code = (error as {code?: string}).code ?? ''
        this.noteTlsFailure(target, error as NodeJS.ErrnoException)
        outcome = code.includes('TIMEOUT') ? 'timeout' : 'connection'
        if (code !== 'ECONNREFUSED') break
        continue
      }
      // The connection is given back only once the reply is handled: a request waiting for it is
      // made next, and must see what this reply taught (its context).
      try {
        return {ok: true, handled: onReply(reply), answeredBy: target}
      } finally {
        this.release(target)
      }
    }
    return {ok: false, outcome}
  }

  /**
   * Run every step of an operation against one node; `requests` counts the HTTP requests sent. The
   * first passes the node's client-side throttle, if the bench throttles: an operation it keeps
   * back is `throttled`, with nothing sent; one it lets through runs to its end, and the first
   * answer (shed or not) is what the throttle learns.
   */
  async execute(node: string, run: OperationRun): Promise<{outcome: Outcome; versions?: number; requests: number}> {
    const throttle = this.throttles?.of(node)
    if (throttle !== undefined && !throttle.trySend(performance.now(), Math.random())) {
      run.abandon()
      return {outcome: 'throttled', requests: 0}
    }
    // The first step is made when it is sent: a write's context is the freshest then.
    let makeStep = (): HttpStep => run.first
    for (let requests = 1; requests <= stepsPerOperationMax; requests += 1) {
      const sent = await this.send(node, makeStep, (reply) => run.onReply(reply))
      if (requests === 1 && throttle !== undefined) {
        // A node that refused the connection (its request went to another, or nowhere) is down,
        // not overloaded: its throttle forgets. A timeout counts as not shed: the throttle follows
        // the node's own overload signal.
        if (sent.ok ? sent.answeredBy !== node : sent.outcome === 'connection') throttle.forget()
        else throttle.recordAnswer(performance.now(), sent.ok && sent.handled.done && sent.handled.outcome === 'overloaded')
      }
      if (!sent.ok) {
        run.abandon()
        return {outcome: sent.outcome, requests}
      }
      const result = sent.handled
      if (result.done) return result.versions === undefined ? {outcome: result.outcome, requests} : {outcome: result.outcome, versions: result.versions, requests}
      const next = result.step
      makeStep = () => next
    }
    return {outcome: 'http_error', requests: stepsPerOperationMax}
  }

  private noteTlsFailure(node: string, error: NodeJS.ErrnoException): void {
    if (this.tls === undefined || this.tlsFailure !== undefined) return
    this.tlsFailure = tlsFailureOf(node, error, this.tls)
  }

  /** The run's end when a TLS handshake failed: tls_untrusted (exit 2) for a certificate that did not verify, else unreachable (exit 3), saying what to do. */
  throwIfTlsFailed(): void {
    if (this.tlsFailure !== undefined) throw runStoppedByTls(this.tlsFailure)
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.close()))
    this.pools.clear()
  }
}

export async function runOpenLoop(options: OpenLoopOptions): Promise<DriverTotals & {notStarted: number}> {
  const targets = new HttpTargets(options.timeoutS, options.connectionsPerNode ?? openLoopConnectionsPerNodeDefault, options.nodes, options.tls, options.clientThrottle ?? true)
  let roundRobin = 0
  const route = options.route ?? ((): string => options.nodes[roundRobin++ % options.nodes.length] as string)
  const intervalMs = 1000 / options.ratePerS
  const warmupCount = Math.floor(options.ratePerS * (options.warmupS ?? 0))
  const total = warmupCount + Math.floor(options.ratePerS * options.durationS)
  const begin = performance.now()
  const measuredFromMs = begin + warmupCount * intervalMs
  options.recorder.startTimeline(measuredFromMs)
  let started = 0
  let inFlight = 0
  let notStarted = 0
  let httpRequests = 0
  let timeout = 0
  let connection = 0
  const inFlightDone: Array<Promise<void>> = []
  /** When the last measured operation was answered (or failed): the end of what the window took. */
  let lastMeasuredDoneMs = measuredFromMs

  const startOne = (intendedMs: number): void => {
    const measured = intendedMs >= measuredFromMs
    if (inFlight >= inFlightMax) {
      if (measured) {
        notStarted += 1
        options.recorder.recordNotStarted(intendedMs)
      }
      return
    }
    const run = options.factory.next()
    inFlight += 1
    const done = targets.execute(route(run.key), run).then((result) => {
      inFlight -= 1
      if (!measured) return
      lastMeasuredDoneMs = Math.max(lastMeasuredDoneMs, performance.now())
      httpRequests += result.requests
      if (result.outcome === 'timeout') timeout += 1
      if (result.outcome === 'connection') connection += 1
      options.recorder.record(run.kind, result.outcome, (performance.now() - intendedMs) * 1000, result.versions, intendedMs)
    })
    if (inFlightDone.length < inFlightMax) inFlightDone.push(done)
    else void done
  }

  let windowStarted = false
  let windowFailure: unknown
  const tellWindow = (edge: 'start' | 'end'): void => {
    try {
      options.onMeasuredWindow?.(edge, performance.now())
    } catch (error) {
      windowFailure ??= error
    }
  }
  const startWindow = (): void => {
    if (windowStarted) return
    windowStarted = true
    tellWindow('start')
  }
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now()
      let startsThisTick = 0
      while (started < total && begin + started * intervalMs <= now && startsThisTick < startsPerTickMax) {
        if (started >= warmupCount) startWindow()
        startOne(begin + started * intervalMs)
        started += 1
        startsThisTick += 1
      }
      if (started >= total || targets.tlsFailure !== undefined) {
        if (started >= total && targets.tlsFailure === undefined) {
          // A window without operations (a rate too low for the duration) still starts before it ends.
          startWindow()
          tellWindow('end')
        }
        resolve()
        return
      }
      setTimeout(tick, Math.max(0, begin + started * intervalMs - performance.now()))
    }
    tick()
  })
  // Wait for the stragglers (each bounded by the request timeout), then measure.
  while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 5))
  inFlightDone.length = 0
  // The measured window is the schedule's, or the time its operations took to be answered when
  // that is longer: a cluster that cannot keep up answers the window's operations over more
  // seconds than they were offered in, and operations per second (and the goodput) are what it
  // answered per second. Taking the schedule's seconds reported the offered rate instead (a new
  // user's walk: "14,007 ops/s" for a 10 s window whose answers took 37 s).
  const scheduledS = ((total - warmupCount) * intervalMs) / 1000
  const elapsedS = Math.max(scheduledS, (lastMeasuredDoneMs - measuredFromMs) / 1000)
  await targets.close()
  targets.throwIfTlsFailed()
  if (windowFailure !== undefined) throw windowFailure
  return {elapsedS, httpRequests, transportErrors: {timeout, connection}, notStarted}
}
