/**
 * The thin shell of a node's admission control (admission-core.ts): it reads the node's Clock
 * and counts what background work skipped, so that the HTTP handler, the forwarded-put handler
 * and the periodic tasks all ask one core. The node's process shell (src/node/node.ts) makes one
 * per node on the system clock; a simulation may make one on simulated time, or none (then every
 * request is admitted and background work never yields).
 *
 * What is admitted here, and what is not (so that a shed request never leaves a half-done write):
 *   - a client request to /kv/{key}: admitted or refused at arrival, before its body is read or
 *     any replica is asked (handler.ts); one with a body is admitted `uploading` and the core is
 *     told `bodyReceived` once the body has been read, so that the time a slow client takes to
 *     send it holds a slot but is not taken for a queue in the node (admission-core.ts);
 *   - a put forwarded by another node to this home to coordinate (CoordinatePut): admitted or
 *     refused as a whole, before anything is written (assemble.ts); the forwarder then tries the
 *     next home, as it does for a home still starting;
 *   - replica requests (ReplicaPut, ReplicaGet) and hint deliveries are never refused here: they
 *     belong to a request a coordinator has already admitted, and refusing one of a put's replica
 *     writes would leave the put written on some replicas and not others.
 */

import {loopDelayMs, startLoopDelayMonitor} from '../loop-delay.js'
import type {IntervalHistogram} from 'node:perf_hooks'
import hdr from 'hdr-histogram-js'
import type {Histogram} from 'hdr-histogram-js'
import type {Clock} from '../clock.js'
import {AdmissionCore, admissionSettingsDefault} from './admission-core.js'
import type {Admission, AdmissionSettings, AdmissionSnapshot, ArriveOptions} from './admission-core.js'

/** How long the node took to answer the requests it shed: the issue 16 target is under 1 ms. */
export interface RefusalTimes {
  readonly count: number
  readonly p50Us: number
  readonly p99Us: number
  readonly p999Us: number
  readonly maxUs: number
  /**
   * The same times, every one since the node started, as HdrHistogram's compressed base64
   * encoding: a watcher that keeps two snapshots subtracts them for the refusals between (the
   * bench, for its run alone; a figure since start mixes an overload with the quiet before it).
   */
  readonly histogram: string
}

/** Refusal times above this are recorded as this (a refusal that slow is a stalled node, and counted as such). */
const refusalUsMax = 60_000_000

/** Consecutive passes one background task may skip before it runs anyway: under lasting overload it is slowed, never starved. */
export const backgroundSkipsMax = 10

export class AdmissionControl {
  private readonly core: AdmissionCore
  private backgroundSkipped = 0
  /** The event loop's delay since the last sample (a real process only: a simulation has no loop to time). */
  private readonly loopDelay: IntervalHistogram | undefined
  private nextLoopSampleMs: number
  /**
   * From a shed request's arrival at the handler to its answer handed to the kernel, in µs. A
   * packed histogram: memory in proportion to the distinct times seen, whatever the count.
   */
  private readonly refusalUs: Histogram = hdr.build({lowestDiscernibleValue: 1, highestTrackableValue: refusalUsMax, numberOfSignificantValueDigits: 2, bitBucketSize: 'packed'})
  /** The histogram's last encoding, and the count it was made at: /stats asks again every poll, and encoding takes up to a millisecond. */
  private encodedRefusals = {count: -1, histogram: ''}

  constructor(
    private readonly clock: Clock,
    settings: AdmissionSettings = admissionSettingsDefault,
    options: {readonly monitorEventLoop?: boolean} = {},
  ) {
    this.core = new AdmissionCore(clock.monotonicMs(), settings)
    this.nextLoopSampleMs = clock.monotonicMs() + settings.intervalMs
    this.loopDelay = options.monitorEventLoop === true ? startLoopDelayMonitor() : undefined
  }

  /**
   * Admit a request now, or refuse it (`retryAfterMs` is the hint for the client); a refusal
   * carries the time it was decided, for `refusalAnswered`, so that an admitted request costs no
   * second reading of the clock. `{uploading: true}` for a request whose body is still to be
   * read (Content-Length > 0, or chunked): then `bodyReceived` once it has been.
   */
  arrive(options: ArriveOptions = {}): Extract<Admission, {ok: true}> | (Extract<Admission, {ok: false}> & {readonly arrivedAtMs: number}) {
    const nowMs = this.clock.monotonicMs()
    this.sampleLoopDelay(nowMs)
    const admission = this.core.arrive(nowMs, options)
    if (admission.ok) return admission
    // Written out, not `{...admission, arrivedAtMs}`: on Node 20 that spread gives every refusal a
    // map of its own, and each read of it a miss of V8's inline caches (bench/README.md, "Object
    // shapes on the request path"), on the path that must stay cheapest under overload.
    return {ok: false, error: admission.error, inFlight: admission.inFlight, limit: admission.limit, retryAfterMs: admission.retryAfterMs, arrivedAtMs: nowMs}
  }

  /**
   * The body of `ticket`, admitted uploading, has been read whole: its time in the node counts
   * from now. Once per such ticket; a ticket not uploading is a programmer's error (it throws).
   * A request answered before its body was read (its client gone, or bad input) needs only
   * `complete`.
   */
  bodyReceived(ticket: number): void {
    const nowMs = this.clock.monotonicMs()
    this.sampleLoopDelay(nowMs)
    this.core.bodyReceived(ticket, nowMs)
  }

  /** The admitted request `ticket` has been answered. */
  complete(ticket: number): void {
    const nowMs = this.clock.monotonicMs()
    this.sampleLoopDelay(nowMs)
    this.core.complete(ticket, nowMs)
  }

  /** A request refused at `arrivedAtMs` (its refusal says when) has been answered (its bytes handed to the kernel). */
  refusalAnswered(arrivedAtMs: number): void {
    const us = Math.round((this.clock.monotonicMs() - arrivedAtMs) * 1000)
    this.refusalUs.recordValue(Math.min(refusalUsMax, Math.max(1, us)))
  }

  /** The refusal histogram in HdrHistogram's compressed base64, encoded again only once it has changed. */
  private encodedRefusalHistogram(): string {
    if (this.encodedRefusals.count !== this.refusalUs.totalCount) this.encodedRefusals = {count: this.refusalUs.totalCount, histogram: hdr.encodeIntoCompressedBase64(this.refusalUs)}
    return this.encodedRefusals.histogram
  }

  /** Stops timing the event loop. */
  stop(): void {
    this.loopDelay?.disable()
  }

  /** Once per interval, hands the core the median event-loop delay since the last sample (ms). */
  private sampleLoopDelay(nowMs: number): void {
    if (this.loopDelay === undefined || nowMs < this.nextLoopSampleMs) return
    this.nextLoopSampleMs = nowMs + this.core.settings.intervalMs
    const medianMs = this.loopDelay.count > 0 ? loopDelayMs(this.loopDelay.percentile(50)) : 0
    this.loopDelay.reset()
    this.core.observeLoopDelay(nowMs, medianMs)
  }

  /**
   * A background task's gate: wraps its pass so that it is skipped while the node is under
   * pressure, at most `backgroundSkipsMax` times in a row (then it runs, so that hints, transfers
   * and repairs still make progress under lasting overload).
   */
  yieldingPass(run: () => Promise<void>): () => Promise<void> {
    let skippedInRow = 0
    return async () => {
      if (skippedInRow < backgroundSkipsMax && this.core.backgroundShouldYield(this.clock.monotonicMs())) {
        skippedInRow += 1
        this.backgroundSkipped += 1
        return
      }
      skippedInRow = 0
      await run()
    }
  }

  /** The `admission` section of GET /stats. */
  stats(): AdmissionSnapshot & {readonly backgroundPassesSkipped: number; readonly refusalTimes: RefusalTimes} {
    // Every figure the top of its bucket, the max too, so that p99 never exceeds max.
    const h = this.refusalUs
    return {
      ...this.core.snapshot(this.clock.monotonicMs()),
      backgroundPassesSkipped: this.backgroundSkipped,
      refusalTimes: {count: h.totalCount, p50Us: h.getValueAtPercentile(50), p99Us: h.getValueAtPercentile(99), p999Us: h.getValueAtPercentile(99.9), maxUs: h.getValueAtPercentile(100), histogram: this.encodedRefusalHistogram()},
    }
  }
}
