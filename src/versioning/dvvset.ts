/**
 * Dotted version vector sets (DVVSet): the causality of one key's versions, paper §4.4.
 *
 * Dynamo tags each version with a vector clock and keeps concurrent versions as siblings. A plain
 * vector clock per version either loses writes (two writes through the same coordinator with the
 * same context get the same clock) or keeps dominated ones. Dotted version vector sets (Almeida et
 * al., "Dotted Version Vectors: Logical Clocks for Optimistic Replication"; Riak's dvvset) fix both:
 * every write gets a *dot* (actor, counter) of its own, and one compact set per key says, for each
 * actor, the highest counter seen and which of that actor's dots are still live.
 *
 * Unlike Riak's dvvset there are no anonymous values: in dyn every write goes through a coordinator,
 * and the coordinator's actor gives it a dot.
 *
 * Invariants that the functions below keep, and that `isValidVersionSet` checks on data read back:
 * - entries are sorted by actor (JavaScript string order) and actors are unique;
 * - an entry's live dots form the contiguous range (counter - values.length, counter]: a context is
 *   down-closed per actor (it saw every dot up to its counter), so superseding only ever removes an
 *   actor's oldest dots, and dots at or below `counter - values.length` are known and superseded;
 * - one dot always names one value: only the replica that holds an actor's own history may write
 *   with that actor (`update`), and an actor's epoch changes when its node starts on an empty store,
 *   so that a lost history never reuses dots (Riak kv679).
 *
 * Everything here is plain data (objects and arrays) so that the storage layer can serialize a set
 * with msgpack as it is. Time only enters as `nowMs` arguments, for pruning.
 */
import {assert} from '../errors.js'

/** What one replica knows about one actor's writes to a key. */
export interface Entry<V> {
  /** "<node name>.<epoch>"; the epoch changes whenever a node starts on an empty store (Riak kv679). */
  readonly actor: string
  /** The highest event counter seen for this actor: every dot up to it is known. */
  readonly counter: number
  /** The values still live for this actor, newest first: values[i] has dot (actor, counter - i). */
  readonly values: readonly V[]
  /** The last time this entry's counter grew, so that pruning can drop the oldest entries first. */
  readonly updatedAtMs: number
}

/** All versions of one key that one replica stores, with their causal context. */
export interface VersionSet<V> {
  /** Sorted by actor, unique actors. */
  readonly entries: readonly Entry<V>[]
}

/** A causal context: sorted by actor, unique actors, counters >= 1. What a reader has seen. */
export type VersionVector = ReadonlyArray<readonly [actor: string, counter: number]>

/** Paper §4.4: Dynamo truncates a clock beyond 10 entries, dropping the oldest first. */
export const entriesMaxDefault = 10

/** A dotted value: one live version together with the dot that names it. */
export interface DottedValue<V> {
  actor: string
  counter: number
  value: V
}

export function emptySet<V>(): VersionSet<V> {
  return {entries: []}
}

/**
 * A coordinator's write: the client's context (what it had read) against what this replica stores.
 * The result supersedes exactly what the context saw; everything else stored stays as a sibling.
 *
 * `actor` must be this replica's own actor (the one whose history `stored` holds), so that the new
 * counter names a dot nobody has used yet. The context's counters are kept even for actors this
 * replica has not heard of, so that the new value also supersedes, on other replicas, the versions
 * the client saw there.
 */
export function update<V>(
  context: VersionVector,
  stored: VersionSet<V>,
  actor: string,
  value: V,
  nowMs: number,
): VersionSet<V> {
  assert(isValidVector(context), 'update: the context must be a valid version vector')
  assert(actor.length > 0, 'update: the actor must not be empty')
  assert(Number.isFinite(nowMs), 'update: nowMs must be a finite number')
  const seen = forgetSeen(context, stored.entries, nowMs)
  const index = seen.findIndex((entry) => entry.actor >= actor)
  const previous = index >= 0 && seen[index]?.actor === actor ? seen[index] : undefined
  const counter = (previous?.counter ?? 0) + 1
  assert(Number.isSafeInteger(counter), 'update: the event counter overflowed')
  const event: Entry<V> = {actor, counter, values: [value, ...(previous?.values ?? [])], updatedAtMs: nowMs}
  const entries = [...seen]
  if (index < 0) entries.push(event)
  else entries.splice(index, previous === undefined ? 0 : 1, event)
  return {entries}
}

/**
 * Drops from `entries` every value whose dot the context covers, and raises each entry's counter to
 * the context's: this is sync(context with empty value lists, stored) of Riak's dvvset, except that an
 * entry's time only moves when its counter grows.
 */
function forgetSeen<V>(context: VersionVector, entries: readonly Entry<V>[], nowMs: number): Entry<V>[] {
  const result: Entry<V>[] = []
  let i = 0
  let j = 0
  // Bounded by the two input lengths: each turn consumes at least one element.
  while (i < context.length || j < entries.length) {
    const seen = context[i]
    const entry = entries[j]
    if (entry === undefined || (seen !== undefined && seen[0] < entry.actor)) {
      const [actor, counter] = seen!
      result.push({actor, counter, values: [], updatedAtMs: nowMs})
      i += 1
    } else if (seen === undefined || entry.actor < seen[0]) {
      result.push(entry)
      j += 1
    } else {
      const seenCounter = seen[1]
      const live = Math.max(0, entry.counter - seenCounter)
      result.push({
        actor: entry.actor,
        counter: Math.max(entry.counter, seenCounter),
        values: live < entry.values.length ? entry.values.slice(0, live) : entry.values,
        updatedAtMs: seenCounter > entry.counter ? nowMs : entry.updatedAtMs,
      })
      i += 1
      j += 1
    }
  }
  return result
}

/** Merges two replicas' sets of one key: keeps exactly the values that neither side has superseded. */
export function sync<V>(a: VersionSet<V>, b: VersionSet<V>): VersionSet<V> {
  const entries: Entry<V>[] = []
  let i = 0
  let j = 0
  // Bounded by the two input lengths: each turn consumes at least one entry.
  while (i < a.entries.length || j < b.entries.length) {
    const left = a.entries[i]
    const right = b.entries[j]
    if (right === undefined || (left !== undefined && left.actor < right.actor)) {
      entries.push(left!)
      i += 1
    } else if (left === undefined || right.actor < left.actor) {
      entries.push(right)
      j += 1
    } else {
      entries.push(mergeEntry(left, right))
      i += 1
      j += 1
    }
  }
  return {entries}
}

/**
 * Merges one actor's entry from two replicas (Riak dvvset merge/4). A dot at or below a side's
 * `counter - values.length` is known there and superseded, so the merge keeps the higher counter and
 * only the values above both sides' floors. The entry with the higher (counter, updatedAtMs) gives the
 * values and the time, which keeps the merge commutative and associative.
 */
function mergeEntry<V>(a: Entry<V>, b: Entry<V>): Entry<V> {
  const aWins = a.counter > b.counter || (a.counter === b.counter && a.updatedAtMs >= b.updatedAtMs)
  const high = aWins ? a : b
  const floor = Math.max(a.counter - a.values.length, b.counter - b.values.length)
  const live = high.counter - floor
  if (live >= high.values.length) return high
  return {actor: high.actor, counter: high.counter, values: high.values.slice(0, live), updatedAtMs: high.updatedAtMs}
}

/** The causal context of a set: what a reader of it has seen, to send back with the next write. */
export function join<V>(s: VersionSet<V>): VersionVector {
  return s.entries.map((entry) => [entry.actor, entry.counter] as const)
}

/** The live versions (siblings), by actor, then newest first. */
export function values<V>(s: VersionSet<V>): V[] {
  return s.entries.flatMap((entry) => entry.values)
}

/** The live versions with their dots, in the same order as `values`. */
export function dottedValues<V>(s: VersionSet<V>): DottedValue<V>[] {
  return s.entries.flatMap((entry) =>
    entry.values.map((value, index) => ({actor: entry.actor, counter: entry.counter - index, value})),
  )
}

export function valueCount<V>(s: VersionSet<V>): number {
  let count = 0
  for (const entry of s.entries) count += entry.values.length
  return count
}

/** Whether `a` has seen everything `b` has: a >= b pointwise (a missing actor counts as 0). */
export function descends(a: VersionVector, b: VersionVector): boolean {
  let i = 0
  // Each turn consumes one element of b, and i only moves forward through a.
  for (const [actor, counter] of b) {
    while (i < a.length && a[i]![0] < actor) i += 1
    const mine = a[i]
    if (mine === undefined || mine[0] !== actor || mine[1] < counter) return false
  }
  return true
}

/** The pointwise maximum of two vectors: what a reader of both has seen. */
export function mergeVectors(a: VersionVector, b: VersionVector): VersionVector {
  const result: Array<readonly [string, number]> = []
  let i = 0
  let j = 0
  // Bounded by the two input lengths: each turn consumes at least one element.
  while (i < a.length || j < b.length) {
    const left = a[i]
    const right = b[j]
    if (right === undefined || (left !== undefined && left[0] < right[0])) {
      result.push(left!)
      i += 1
    } else if (left === undefined || right[0] < left[0]) {
      result.push(right)
      j += 1
    } else {
      result.push([left[0], Math.max(left[1], right[1])])
      i += 1
      j += 1
    }
  }
  return result
}

/**
 * Whether two sets have the same causal content: the same actors, counters and live dots. Times and
 * the values themselves are not compared (one dot names one value). Read repair uses this to find
 * the replicas that answered with a stale set.
 */
export function sameVersions<V>(a: VersionSet<V>, b: VersionSet<V>): boolean {
  if (a.entries.length !== b.entries.length) return false
  return a.entries.every((left, index) => {
    const right = b.entries[index]
    return (
      right !== undefined &&
      left.actor === right.actor &&
      left.counter === right.counter &&
      left.values.length === right.values.length
    )
  })
}

/**
 * Bounds the size of a set (paper §4.4): drops entries that hold no values, oldest `updatedAtMs`
 * first (ties by actor), until at most `entriesMax` remain. Entries with values are never dropped,
 * so the set may stay above the bound. Forgetting an entry can only make a superseded version look
 * concurrent again (a false sibling), never lose one.
 */
export function prune<V>(s: VersionSet<V>, entriesMax: number): VersionSet<V> {
  assert(Number.isSafeInteger(entriesMax) && entriesMax >= 0, 'prune: entriesMax must be a non-negative integer')
  const excess = s.entries.length - entriesMax
  if (excess <= 0) return s
  const droppable = s.entries
    .filter((entry) => entry.values.length === 0)
    .sort((a, b) => a.updatedAtMs - b.updatedAtMs || compareStrings(a.actor, b.actor))
    .slice(0, excess)
  if (droppable.length === 0) return s
  const dropped = new Set(droppable.map((entry) => entry.actor))
  return {entries: s.entries.filter((entry) => !dropped.has(entry.actor))}
}

/**
 * Last writer wins: keeps only the newest value by `isNewer` and every counter. When neither of two
 * values is newer, the one with the greater (actor, counter) wins, so that every replica picks the
 * same one. Like Riak's dvvset, the winner is kept at its actor's newest dot: that dot is known to
 * this set, and the counters still say everything it has seen, so no other replica can bring a
 * loser back.
 */
export function lww<V>(s: VersionSet<V>, isNewer: (a: V, b: V) => boolean): VersionSet<V> {
  let winner: DottedValue<V> | undefined
  for (const candidate of dottedValues(s)) {
    if (winner === undefined || beats(candidate, winner, isNewer)) winner = candidate
  }
  if (winner === undefined) return s
  const chosen = winner
  return {
    entries: s.entries.map((entry) => ({
      ...entry,
      values: entry.actor === chosen.actor ? [chosen.value] : [],
    })),
  }
}

function beats<V>(a: DottedValue<V>, b: DottedValue<V>, isNewer: (a: V, b: V) => boolean): boolean {
  if (isNewer(a.value, b.value)) return true
  if (isNewer(b.value, a.value)) return false
  return a.actor > b.actor || (a.actor === b.actor && a.counter > b.counter)
}

/**
 * A structural check of a set read back from disk or the network: a plain object whose entries have
 * non-empty, strictly sorted actors, safe-integer counters >= 1 and >= their number of values, and
 * finite times. `isValidValue`, when given, checks each value too.
 */
export function isValidVersionSet(x: unknown, isValidValue?: (value: unknown) => boolean): boolean {
  if (!isPlainObject(x) || !Array.isArray(x.entries)) return false
  let previousActor: string | undefined
  for (const entry of x.entries as unknown[]) {
    if (!isPlainObject(entry)) return false
    const {actor, counter, values: live, updatedAtMs} = entry
    if (typeof actor !== 'string' || actor.length === 0) return false
    if (previousActor !== undefined && !(previousActor < actor)) return false
    if (typeof counter !== 'number' || !Number.isSafeInteger(counter) || counter < 1) return false
    if (!Array.isArray(live) || live.length > counter) return false
    if (typeof updatedAtMs !== 'number' || !Number.isFinite(updatedAtMs)) return false
    if (isValidValue !== undefined && !live.every((value) => isValidValue(value))) return false
    previousActor = actor
  }
  return true
}

/** Whether a vector is sorted by actor with unique, non-empty actors and safe-integer counters >= 1. */
export function isValidVector(x: unknown): x is VersionVector {
  if (!Array.isArray(x)) return false
  let previousActor: string | undefined
  for (const pair of x as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2) return false
    const [actor, counter] = pair as unknown[]
    if (typeof actor !== 'string' || actor.length === 0) return false
    if (previousActor !== undefined && !(previousActor < actor)) return false
    if (typeof counter !== 'number' || !Number.isSafeInteger(counter) || counter < 1) return false
    previousActor = actor
  }
  return true
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
