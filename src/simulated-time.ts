/**
 * Simulated time: a `Clock` and a `Scheduler` on a virtual-time event queue, for tests and the
 * cluster simulator (test/sim). Nothing waits for real time: `runUntil` jumps from one due event
 * to the next, so a minute of cluster life costs only the work done in it.
 *
 * Determinism. Events run in order of due time, then of the order they were scheduled in (a
 * sequence number), so one seed gives one order. After each event the host is given the chance
 * to run every promise continuation that event started (`settle`, see the options), as Node
 * does between two timer callbacks; that is what lets async node code (await on the store, on a
 * transport answer) run here unchanged.
 *
 * Per-node views (`node(name)`) are schedulers of their own whose timers can all be dropped at
 * once (`halt`), which is what a crashed node's timers are: gone, never fired.
 */

import type {Clock} from './clock.js'
import {assert} from './errors.js'
import type {Scheduler, Timer} from './scheduler.js'

export interface SimulatedTimeOptions {
  /**
   * Lets the host run every microtask (promise continuation) queued so far, to their end. In Node:
   * `() => new Promise((resolve) => setImmediate(resolve))`. It is an input because src/ never
   * touches the host's event loop itself; the simulator is the host.
   */
  readonly settle: () => Promise<void>
  /** What `nowMs` answers at virtual time 0; a fixed default so that runs replay. */
  readonly epochMs?: number
}

/** The outcome of a bounded run. */
export interface RunOutcome {
  /** Events run by this call. */
  readonly events: number
  /** True if the run got where it was asked to (the time, or idle); false if it stopped at its event bound. */
  readonly finished: boolean
}

/** 2026-01-01T00:00:00Z: a fixed wall-clock origin, so that version timestamps replay too. */
export const simulatedEpochMsDefault = Date.UTC(2026, 0, 1)
/** Events one `runUntil` runs at most unless told otherwise: far above any test, low enough to stop a livelock. */
export const runEventsMaxDefault = 10_000_000

interface SimulatedEvent {
  atMs: number
  seq: number
  readonly callback: () => void
  /** 0 for a one-shot timer. */
  readonly intervalMs: number
  readonly owner: NodeScheduler | undefined
  live: boolean
}

export class SimulatedTime implements Clock, Scheduler {
  readonly #settle: () => Promise<void>
  readonly #epochMs: number
  #nowMs = 0
  #nextSeq = 0
  #liveCount = 0
  #eventsRun = 0
  /** A binary min-heap by (atMs, seq); cancelled events stay in it until popped. */
  readonly #heap: SimulatedEvent[] = []
  readonly #nodes = new Map<string, NodeScheduler>()

  constructor(options: SimulatedTimeOptions) {
    this.#settle = options.settle
    this.#epochMs = options.epochMs ?? simulatedEpochMsDefault
  }

  nowMs(): number {
    return this.#epochMs + this.#nowMs
  }

  monotonicMs(): number {
    return this.#nowMs
  }

  after(delayMs: number, callback: () => void): Timer {
    return this.schedule(delayMs, 0, callback, undefined)
  }

  every(intervalMs: number, callback: () => void): Timer {
    assert(intervalMs > 0 && Number.isFinite(intervalMs), 'an interval is finite and > 0')
    return this.schedule(intervalMs, intervalMs, callback, undefined)
  }

  soon(callback: () => void): void {
    this.schedule(0, 0, callback, undefined)
  }

  cancel(timer: Timer): void {
    this.drop(timer as unknown as SimulatedEvent)
  }

  /** Timers waiting to run (cancelled ones excluded). */
  get pendingCount(): number {
    return this.#liveCount
  }

  /** Events run since the start: a cheap measure of simulated work. */
  get eventsRun(): number {
    return this.#eventsRun
  }

  /** The virtual time of the next event due, or undefined when nothing is scheduled. */
  nextEventAtMs(): number | undefined {
    this.#skipCancelled()
    return this.#heap[0]?.atMs
  }

  /**
   * The scheduler of one node: the same queue, but its timers can be dropped together by
   * `halt` (a crash). A name gets a new view after its previous one was halted (a restart).
   */
  node(name: string): NodeScheduler {
    const existing = this.#nodes.get(name)
    if (existing !== undefined && !existing.halted) return existing
    const view = new NodeScheduler(this, name)
    this.#nodes.set(name, view)
    return view
  }

  /** Lets every promise continuation queued so far run, without moving time. */
  settle(): Promise<void> {
    return this.#settle()
  }

  /** Runs every event due up to and including virtual time `monotonicMs`, then sets the clock there. */
  async runUntil(monotonicMs: number, eventsMax: number = runEventsMaxDefault): Promise<RunOutcome> {
    assert(monotonicMs >= this.#nowMs, `cannot run back in time, from ${this.#nowMs} to ${monotonicMs} ms`)
    await this.#settle()
    let events = 0
    while (events < eventsMax) {
      const next = this.nextEventAtMs()
      if (next === undefined || next > monotonicMs) {
        this.#nowMs = monotonicMs
        return {events, finished: true}
      }
      await this.#runNext()
      events += 1
    }
    return {events, finished: false}
  }

  /** Runs `durationMs` of virtual time from now. */
  runFor(durationMs: number, eventsMax?: number): Promise<RunOutcome> {
    assert(durationMs >= 0 && Number.isFinite(durationMs), 'a duration is finite and >= 0')
    return this.runUntil(this.#nowMs + durationMs, eventsMax)
  }

  /** Runs events until none is left, or `eventsMax` have run (periodic timers never let it go idle). */
  async runUntilIdle(eventsMax: number): Promise<RunOutcome> {
    assert(Number.isInteger(eventsMax) && eventsMax >= 0, 'eventsMax is an integer >= 0')
    await this.#settle()
    let events = 0
    while (events < eventsMax) {
      if (this.nextEventAtMs() === undefined) return {events, finished: true}
      await this.#runNext()
      events += 1
    }
    return {events, finished: this.nextEventAtMs() === undefined}
  }

  /**
   * Runs events until `promise` settles and answers its value (or throws its error). Throws if
   * it is still pending after `timeMsMax` of virtual time, or when nothing is left to run.
   */
  async until<T>(promise: Promise<T>, timeMsMax: number, eventsMax: number = runEventsMaxDefault): Promise<T> {
    let settled = false
    const watched = promise.finally(() => {
      settled = true
    })
    // The caller gets the rejection through `watched`; this keeps the watcher from reporting it too.
    watched.catch(() => undefined)
    const deadlineMs = this.#nowMs + timeMsMax
    await this.#settle()
    for (let events = 0; !settled; events += 1) {
      const next = this.nextEventAtMs()
      if (next === undefined) throw new Error(`simulated time ${this.#nowMs} ms: the promise is still pending and no event is left`)
      if (next > deadlineMs || events >= eventsMax) {
        throw new Error(`simulated time ${this.#nowMs} ms: the promise is still pending after ${timeMsMax} ms or ${eventsMax} events`)
      }
      await this.#runNext()
    }
    return watched
  }

  /** Used by this class and its node views: puts one timer on the queue. */
  schedule(delayMs: number, intervalMs: number, callback: () => void, owner: NodeScheduler | undefined): Timer {
    assert(delayMs >= 0 && Number.isFinite(delayMs), 'a delay is finite and >= 0')
    const event: SimulatedEvent = {atMs: this.#nowMs + delayMs, seq: this.#nextSeq++, callback, intervalMs, owner, live: true}
    this.#liveCount += 1
    this.#push(event)
    return event as unknown as Timer
  }

  /** Used by this class and its node views: takes a timer off the queue (lazily). */
  drop(event: SimulatedEvent): void {
    if (!event.live) return
    event.live = false
    this.#liveCount -= 1
    event.owner?.forget(event)
  }

  async #runNext(): Promise<void> {
    const event = this.#pop()
    assert(event !== undefined && event.live, 'a live event is due')
    this.#nowMs = Math.max(this.#nowMs, event.atMs)
    if (event.intervalMs > 0) {
      event.atMs += event.intervalMs
      event.seq = this.#nextSeq++
      this.#push(event)
    } else {
      this.drop(event)
    }
    this.#eventsRun += 1
    event.callback()
    await this.#settle()
  }

  #skipCancelled(): void {
    while (this.#heap.length > 0 && !(this.#heap[0] as SimulatedEvent).live) this.#pop()
  }

  #push(event: SimulatedEvent): void {
    const heap = this.#heap
    heap.push(event)
    let index = heap.length - 1
    while (index > 0) {
      const parent = (index - 1) >> 1
      if (!earlier(event, heap[parent] as SimulatedEvent)) break
      heap[index] = heap[parent] as SimulatedEvent
      index = parent
    }
    heap[index] = event
  }

  #pop(): SimulatedEvent | undefined {
    const heap = this.#heap
    const top = heap[0]
    const last = heap.pop()
    if (top === undefined || last === undefined || heap.length === 0) return top
    let index = 0
    // Sift the last event down from the root; each pass moves one level, so at most log2(n) passes.
    for (;;) {
      const left = 2 * index + 1
      if (left >= heap.length) break
      const right = left + 1
      const child = right < heap.length && earlier(heap[right] as SimulatedEvent, heap[left] as SimulatedEvent) ? right : left
      if (!earlier(heap[child] as SimulatedEvent, last)) break
      heap[index] = heap[child] as SimulatedEvent
      index = child
    }
    heap[index] = last
    return top
  }
}

/**
 * One node's view of simulated time. Its timers share the queue with everyone else's; `halt`
 * drops them all and makes every later call a no-op, which is what a crash does to a process.
 */
export class NodeScheduler implements Clock, Scheduler {
  readonly #time: SimulatedTime
  readonly #live = new Set<SimulatedEvent>()
  #halted = false

  constructor(
    time: SimulatedTime,
    readonly name: string,
  ) {
    this.#time = time
  }

  get halted(): boolean {
    return this.#halted
  }

  /** Timers of this node waiting to run. */
  get pendingCount(): number {
    return this.#live.size
  }

  nowMs(): number {
    return this.#time.nowMs()
  }

  monotonicMs(): number {
    return this.#time.monotonicMs()
  }

  after(delayMs: number, callback: () => void): Timer {
    return this.#schedule(delayMs, 0, callback)
  }

  every(intervalMs: number, callback: () => void): Timer {
    assert(intervalMs > 0 && Number.isFinite(intervalMs), 'an interval is finite and > 0')
    return this.#schedule(intervalMs, intervalMs, callback)
  }

  soon(callback: () => void): void {
    this.#schedule(0, 0, callback)
  }

  cancel(timer: Timer): void {
    this.#time.drop(timer as unknown as SimulatedEvent)
  }

  /** Drops every timer of this node, and every one it sets from now on: the node has crashed. */
  halt(): void {
    this.#halted = true
    for (const event of [...this.#live]) this.#time.drop(event)
  }

  /** Called by the queue when one of this node's timers ran for the last time or was cancelled. */
  forget(event: SimulatedEvent): void {
    this.#live.delete(event)
  }

  #schedule(delayMs: number, intervalMs: number, callback: () => void): Timer {
    if (this.#halted) return haltedTimer
    const timer = this.#time.schedule(delayMs, intervalMs, callback, this)
    this.#live.add(timer as unknown as SimulatedEvent)
    return timer
  }
}

/** What a halted node's scheduler hands out: a timer that never runs; cancelling it does nothing. */
const haltedTimer = {atMs: 0, seq: -1, callback: () => {}, intervalMs: 0, owner: undefined, live: false} as unknown as Timer

function earlier(a: SimulatedEvent, b: SimulatedEvent): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq)
}
