/**
 * What the simulator did to the nodes and the links, as intervals of simulated time (issue 20):
 * when each node was down (from its crash until a restart had finished starting it), and when
 * each one-way link was not clean (cut, partitioned, given a profile of its own such as slow and
 * lossy, or lossy by the network's default). The availability check (availability.ts) reads it
 * to decide which requests the cluster owed an answer.
 *
 * The network records its own changes (RecordingNetwork), so every fault, whoever makes it (the
 * fault schedule, the homes crash, the final heal), is in the log without being announced.
 */

import type {LinkProfile, SimulatedNetworkOptions} from '../../src/transport/simulated-network.js'
import {SimulatedNetwork} from '../../src/transport/simulated-network.js'

/** A half-open interval of simulated time, [fromMs, toMs); toMs is Infinity while it lasts. */
interface Interval {
  readonly fromMs: number
  toMs: number
}

function overlaps(intervals: readonly Interval[] | undefined, fromMs: number, toMs: number): boolean {
  return intervals?.some((interval) => interval.fromMs <= toMs && interval.toMs > fromMs) === true
}

function close(intervals: Interval[] | undefined, atMs: number): void {
  const open = intervals?.at(-1)
  if (open !== undefined && open.toMs === Number.POSITIVE_INFINITY) open.toMs = atMs
}

function open(map: Map<string, Interval[]>, key: string, atMs: number): void {
  const intervals = map.get(key)
  if (intervals?.at(-1)?.toMs === Number.POSITIVE_INFINITY) return
  if (intervals === undefined) map.set(key, [{fromMs: atMs, toMs: Number.POSITIVE_INFINITY}])
  else intervals.push({fromMs: atMs, toMs: Number.POSITIVE_INFINITY})
}

/** Whether a profile is a fault: any loss, or delays beyond what the run's own links have. */
function isFaulty(profile: LinkProfile, clean: LinkProfile): boolean {
  return profile.lossRate > 0 || profile.delayMsMax > clean.delayMsMax
}

export class FaultLog {
  /** Per node, when it was down (not running, or still starting again). */
  readonly #down = new Map<string, Interval[]>()
  /** Per node, when its disk failed: it ran, answering reads, but its store refused every write. */
  readonly #unwritable = new Map<string, Interval[]>()
  /** Per one-way link (`from>to`, by address), when it was cut. */
  readonly #cut = new Map<string, Interval[]>()
  /** Per one-way link, when it had a faulty profile of its own. */
  readonly #profiled = new Map<string, Interval[]>()
  /** When the network's default profile (every link without one of its own) was faulty. */
  readonly #defaultFaulty: Interval[] = []
  #defaultFaultyNow = false

  constructor(
    /** The profile of a clean link in this run: the run's own delays, no loss. */
    readonly cleanLink: LinkProfile,
    /** The address a node's links are recorded under. */
    readonly addressOf: (node: string) => string,
  ) {}

  /** The node stops (a crash, or a departure for good): down until `nodeUp`. */
  nodeDown(node: string, atMs: number): void {
    open(this.#down, node, atMs)
    // A node restarts on a disk that works (its operator freed space, or replaced it).
    close(this.#unwritable.get(node), atMs)
  }

  /** The node's disk fails: it runs on, but its store refuses every write until the node goes down. */
  diskFails(node: string, atMs: number): void {
    open(this.#unwritable, node, atMs)
  }

  /** Whether the node's store could take writes for the whole of [fromMs, toMs] (its disk did not fail then). */
  writableThroughout(node: string, fromMs: number, toMs: number): boolean {
    return !overlaps(this.#unwritable.get(node), fromMs, toMs)
  }

  /** The node has finished starting (a restart, or a node that joins): up from now. */
  nodeUp(node: string, atMs: number): void {
    close(this.#down.get(node), atMs)
  }

  /** A node that did not exist before: down since the beginning of time until it has started. */
  nodeBorn(node: string): void {
    open(this.#down, node, Number.NEGATIVE_INFINITY)
  }

  cut(from: string, to: string, atMs: number): void {
    open(this.#cut, `${from}>${to}`, atMs)
  }

  restore(from: string, to: string, atMs: number): void {
    close(this.#cut.get(`${from}>${to}`), atMs)
  }

  healAll(atMs: number): void {
    for (const intervals of this.#cut.values()) close(intervals, atMs)
  }

  setLink(from: string, to: string, profile: LinkProfile | undefined, atMs: number): void {
    const key = `${from}>${to}`
    // Back on the default, a link is as faulty as the default, which is recorded on its own.
    if (profile !== undefined && isFaulty(profile, this.cleanLink)) open(this.#profiled, key, atMs)
    else close(this.#profiled.get(key), atMs)
  }

  setDefaultLink(profile: LinkProfile, atMs: number): void {
    const faulty = isFaulty(profile, this.cleanLink)
    if (faulty === this.#defaultFaultyNow) return
    this.#defaultFaultyNow = faulty
    if (faulty) this.#defaultFaulty.push({fromMs: atMs, toMs: Number.POSITIVE_INFINITY})
    else close(this.#defaultFaulty, atMs)
  }

  /** Whether the node ran, started, for the whole of [fromMs, toMs]. */
  upThroughout(node: string, fromMs: number, toMs: number): boolean {
    return !overlaps(this.#down.get(node), fromMs, toMs)
  }

  /** Whether the node was down (not running) for the whole of [fromMs, toMs]. */
  downThroughout(node: string, fromMs: number, toMs: number): boolean {
    return this.#down.get(node)?.some((interval) => interval.fromMs <= fromMs && interval.toMs > toMs) === true
  }

  /** Whether the one-way link from node `from` to node `to` carried every message, at the run's own delays, for the whole of [fromMs, toMs]. */
  linkCleanThroughout(from: string, to: string, fromMs: number, toMs: number): boolean {
    const key = `${this.addressOf(from)}>${this.addressOf(to)}`
    // A faulty default counts for every link, also one with a clean profile of its own (none has).
    return !overlaps(this.#cut.get(key), fromMs, toMs) && !overlaps(this.#profiled.get(key), fromMs, toMs) && !overlaps(this.#defaultFaulty, fromMs, toMs)
  }
}

/** The simulated network, recording every cut, restore, heal and link profile into a FaultLog. */
export class RecordingNetwork extends SimulatedNetwork {
  #log: FaultLog | undefined

  constructor(options: SimulatedNetworkOptions, log: FaultLog) {
    super(options)
    this.#log = log
    log.setDefaultLink(options.link ?? log.cleanLink, options.time.monotonicMs())
  }

  override setDefaultLink(profile: LinkProfile): void {
    super.setDefaultLink(profile)
    this.#log?.setDefaultLink(profile, this.time.monotonicMs())
  }

  override setLink(from: string, to: string, profile: LinkProfile | undefined): void {
    super.setLink(from, to, profile)
    this.#log?.setLink(from, to, profile, this.time.monotonicMs())
  }

  override cut(from: string, to: string): void {
    super.cut(from, to)
    this.#log?.cut(from, to, this.time.monotonicMs())
  }

  override restore(from: string, to: string): void {
    super.restore(from, to)
    this.#log?.restore(from, to, this.time.monotonicMs())
  }

  override heal(): void {
    super.heal()
    this.#log?.healAll(this.time.monotonicMs())
  }
}
