/**
 * The nemesis of `dyn verify` (after Jepsen's): which faults hit the cluster, when, and for how
 * long, drawn from a seed so that a run can be repeated. Dynamo is meant to keep every
 * acknowledged write through node failures and network partitions (paper §4.6, §4.8), so the
 * faults are those: a process killed (SIGKILL, then restarted on its data), a process paused
 * (SIGSTOP, then SIGCONT: a long GC, a frozen VM), the cluster split in two (a minority and a
 * majority), one node cut off from all others, and one link cut in one direction only. One fault
 * runs at a time, with a quiet gap after each, so that each one's effect on availability can be
 * told apart.
 *
 * Pure: the schedule is a function of the node names, the run's length, the kinds asked for and
 * a random source; the process shell (src/verify/verify-run.ts) carries it out.
 */

import type {Random} from '../clock.js'
import {assert} from '../errors.js'

export const faultKinds = ['kill', 'pause', 'partition', 'isolate', 'one-way'] as const
export type FaultKind = (typeof faultKinds)[number]

export interface FaultEvent {
  readonly kind: FaultKind
  /** From the start of the run. */
  readonly startMs: number
  readonly durationMs: number
  /** kill, pause, isolate: the node; one-way: [from, to], the direction cut; partition: the minority. */
  readonly nodes: readonly string[]
}

export interface NemesisOptions {
  readonly nodeNames: readonly string[]
  readonly durationMs: number
  readonly kinds: readonly FaultKind[]
  readonly random: Random
  /** Each fault lasts between these (ms). */
  readonly faultMsMin: number
  readonly faultMsMax: number
  /** Quiet time after each fault before the next (ms). */
  readonly gapMs: number
  /** No fault starts before this, so that the clients first see a whole cluster (ms); dyn verify's is `quietStartMsOf`. */
  readonly quietStartMs: number
}

/** A bound on the schedule's length, whatever the options: one fault per second of run at most. */
const faultsMax = 10_000

/** The longest quiet start: a long run need not wait longer for the clients to see a whole cluster. */
const quietStartMsMax = 3000

/** The quiet start of a run of `durationMs`: a tenth of it, 3 s at most. */
export function quietStartMsOf(durationMs: number): number {
  return Math.min(quietStartMsMax, Math.floor(durationMs / 10))
}

/**
 * The latest the fault at `index` (from 0) of a schedule can end: after the quiet start, with it
 * and every fault before it at its longest and the gap after each of those before it. The schedule
 * asserts it of every fault it deals.
 */
export function latestFaultEndMs(index: number, options: Pick<NemesisOptions, 'quietStartMs' | 'faultMsMax' | 'gapMs'>): number {
  return options.quietStartMs + (index + 1) * options.faultMsMax + index * options.gapMs
}

/**
 * Whether a run of `durationMs` surely holds one fault of each kind asked, whatever the seed: the
 * schedule deals every kind once in its first turn and stops at the first fault that would
 * outlast the run, so the last fault of that turn must fit even when all of them last
 * `faultMsMax`. A shorter run may hold fewer faults, or none; a run without faults holds.
 */
export function holdsEveryKind(options: Pick<NemesisOptions, 'durationMs' | 'kinds' | 'faultMsMax' | 'gapMs' | 'quietStartMs'>): boolean {
  return options.kinds.length === 0 || latestFaultEndMs(options.kinds.length - 1, options) <= options.durationMs
}

/**
 * The shortest run in whole seconds that `holdsEveryKind` with the quiet start `quietStartMsOf`
 * its length (dyn verify's); 0 when no kind is asked.
 */
export function shortestRunSeconds(options: Pick<NemesisOptions, 'kinds' | 'faultMsMax' | 'gapMs'>): number {
  if (options.kinds.length === 0) return 0
  const holds = (seconds: number): boolean => holdsEveryKind({...options, durationMs: seconds * 1000, quietStartMs: quietStartMsOf(seconds * 1000)})
  let seconds = Math.ceil(latestFaultEndMs(options.kinds.length - 1, {...options, quietStartMs: 0}) / 1000)
  // Bounded: the quiet start is at most 3 s, so at most three steps past the length of the faults
  // and gaps alone find it (and a longer run never holds less).
  while (!holds(seconds)) seconds += 1
  return seconds
}

export function nemesisSchedule(options: NemesisOptions): FaultEvent[] {
  const {nodeNames, kinds, random} = options
  assert(nodeNames.length >= 2, 'a nemesis needs at least two nodes')
  assert(Number.isInteger(options.faultMsMin) && Number.isInteger(options.faultMsMax), 'fault lengths are whole milliseconds')
  assert(options.faultMsMin > 0 && options.faultMsMax >= options.faultMsMin && options.gapMs >= 0, 'fault lengths are positive, min <= max')
  // No kinds: a run without faults (a baseline to compare availability with).
  if (kinds.length === 0) return []
  const pick = <T>(items: readonly T[]): T => items[random.int(items.length)] as T
  const events: FaultEvent[] = []
  let atMs = options.quietStartMs
  // The kinds are dealt in turns, shuffled within each turn, so a short run still sees each one.
  let turn: FaultKind[] = []
  while (events.length < faultsMax) {
    const durationMs = Math.round(options.faultMsMin + random.next() * (options.faultMsMax - options.faultMsMin))
    if (atMs + durationMs > options.durationMs) break
    if (turn.length === 0) turn = shuffled(kinds, random)
    const kind = turn.pop() as FaultKind
    assert(atMs + durationMs <= latestFaultEndMs(events.length, options), 'a fault ends no later than its latest end')
    events.push({kind, startMs: atMs, durationMs, nodes: targetsOf(kind, nodeNames, random, pick)})
    atMs += durationMs + options.gapMs
  }
  return events
}

function targetsOf(kind: FaultKind, nodeNames: readonly string[], random: Random, pick: <T>(items: readonly T[]) => T): string[] {
  if (kind === 'partition') {
    // A minority: fewer than half, at least one.
    const minoritySize = 1 + random.int(Math.max(1, Math.floor((nodeNames.length - 1) / 2)))
    return shuffled(nodeNames, random).slice(0, minoritySize).sort()
  }
  if (kind === 'one-way') {
    const from = pick(nodeNames)
    return [from, pick(nodeNames.filter((name) => name !== from))]
  }
  return [pick(nodeNames)]
}

/** Fisher-Yates on a copy. */
function shuffled<T>(items: readonly T[], random: Random): T[] {
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = random.int(i + 1)
    ;[copy[i], copy[j]] = [copy[j] as T, copy[i] as T]
  }
  return copy
}

/** A fault in words, for the log and the report. */
export function describeFault(event: FaultEvent): string {
  const seconds = `${(event.durationMs / 1000).toFixed(1)} s`
  if (event.kind === 'kill') return `kill ${event.nodes[0]} (SIGKILL), restart after ${seconds}`
  if (event.kind === 'pause') return `pause ${event.nodes[0]} (SIGSTOP) for ${seconds}`
  if (event.kind === 'isolate') return `cut ${event.nodes[0]} off from every other node for ${seconds}`
  if (event.kind === 'one-way') return `cut ${event.nodes[0]} -> ${event.nodes[1]} (one way) for ${seconds}`
  return `partition: ${event.nodes.join(', ')} apart from the rest for ${seconds}`
}
