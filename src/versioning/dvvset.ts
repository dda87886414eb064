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
 * - an entry knows every dot of its actor up to `counter`, plus the few single dots in `cloud`; its
 *   live dots are known dots, and every known dot that is not live is superseded;
 * - one dot always names one value: only the node an actor belongs to writes with it (`update`),
 *   each new dot above every dot the actor made on any key (its ledger, write-actor.ts), and an
 *   actor's epoch changes at every start of its node and before it deletes handed-off copies, so
 *   that a lost history never reuses dots (Riak kv679).
 *
 * A context from a read covers everything the replicas read knew of, so it is a version vector. A
 * context from a put covers what the writer's own context covered plus the one dot just written
 * (`withDot`); that dot may lie above versions the writer never saw, which is why contexts and
 * entries may hold single dots above their counters. In the common case (reads, then writes) there
 * are none, and an entry's live dots are the contiguous run (counter - values.length, counter], as
 * in Riak's dvvset; `dots` and `cloud` are only present when that is not so.
 *
 * Everything here is plain data (objects and arrays) so that the storage layer can serialize a set
 * with msgpack as it is. Time only enters as `nowMs` arguments, for pruning.
 */
import {assert} from '../errors.js'

/** What one replica knows about one actor's writes to a key. */
export interface Entry<V> {
  /** "<node name>.<epoch>"; the epoch changes at every start of the node (Riak kv679). */
  readonly actor: string
  /** Every dot (actor, c) with c <= counter is known here: live in `values`, or superseded. 0 when only `cloud` is known. */
  readonly counter: number
  /** The values still live for this actor, newest (highest dot) first. */
  readonly values: readonly V[]
  /**
   * The dot of each value, in the same order, strictly decreasing, each at most `counter`. Absent in
   * the common case where values[i] has dot (actor, counter - i), so that most sets stay as compact
   * as a plain DVVSet; present once a write superseded a newer dot of an actor but not an older one.
   */
  readonly dots?: readonly number[]
  /**
   * Dots above `counter` that are known and superseded, ascending, each at least counter + 2 (the
   * "dot cloud" of Almeida et al.). They come from a context that covered a dot this replica has not
   * received yet; absent when empty, which is almost always.
   */
  readonly cloud?: readonly number[]
  /** The last time this entry's knowledge grew, so that pruning can drop the oldest entries first. */
  readonly updatedAtMs: number
}

/** All versions of one key that one replica stores, with their causal context. */
export interface VersionSet<V> {
  /** Sorted by actor, unique actors. */
  readonly entries: readonly Entry<V>[]
}

/**
 * One actor's part of a causal context: every dot up to `counter`, and the single dots `dots`
 * above it (ascending, each at least counter + 2). `counter` is 0 when only single dots are known.
 */
export type ContextEntry = readonly [actor: string, counter: number, dots?: readonly number[]]

/**
 * A causal context: what a client has seen, sorted by actor, unique actors. A read's context is a
 * plain version vector (everything the replicas it read knew of); a put's context is the context it
 * was given plus the one dot it wrote, which may lie above a gap (a version the writer never saw),
 * hence the single dots.
 */
export type VersionVector = ReadonlyArray<ContextEntry>

/** Paper §4.4: Dynamo truncates a clock beyond 10 entries, dropping the oldest first. */
export const entriesMaxDefault = 10

/**
 * Single dots one context entry keeps. A client that keeps writing with the context each put
 * returns, while an older sibling it never read is stored, adds one dot per write; beyond this the
 * oldest are forgotten. Forgetting a dot only makes the context cover less: the next write leaves
 * that version as a sibling instead of superseding it, and no version is ever lost that way.
 */
export const contextDotsMax = 64

/**
 * Known dots one entry keeps above its counter. They wait for the versions below them to arrive;
 * forgetting one can only make a superseded version look live again (a false sibling), never lose one.
 */
export const cloudDotsMax = 64

/** A dotted value: one live version together with the dot that names it. */
export interface DottedValue<V> {
  actor: string
  counter: number
  value: V
}

export function emptySet<V>(): VersionSet<V> {
  return {entries: []}
}

/** The dot of each live value of an entry, newest first. */
function liveDots<V>(entry: Entry<V>): readonly number[] {
  return entry.dots ?? entry.values.map((_, index) => entry.counter - index)
}

/** Whether a known-dots description (a counter and single dots above it) covers `dot`. */
function knows(counter: number, single: readonly number[] | undefined, dot: number): boolean {
  return dot <= counter || (single !== undefined && single.includes(dot))
}

/** Whether a context covers the dot (actor, counter): a write with it supersedes that version. */
export function covers(context: VersionVector, actor: string, counter: number): boolean {
  const entry = context.find(([name]) => name === actor)
  return entry !== undefined && knows(entry[1], entry[2], counter)
}

/**
 * Known dots in canonical form: the single dots sorted, unique and above the counter; the counter
 * raised through every single dot that follows it; at most `singleMax` single dots, the oldest
 * forgotten first (forgetting only ever covers less).
 */
function compact(counter: number, single: readonly number[], singleMax: number): {counter: number; single: number[]} {
  // Every write makes one of these with no single dot or one (its own): answered without the set,
  // the filter and the sort below, which were a tenth of a put's work on the versions.
  if (single.length === 0) return {counter, single: []}
  if (single.length === 1) {
    const dot = single[0]!
    if (dot <= counter) return {counter, single: []}
    if (dot === counter + 1) return {counter: dot, single: []}
    return {counter, single: singleMax >= 1 ? [dot] : []}
  }
  const sorted = [...new Set(single)].filter((dot) => dot > counter).sort((x, y) => x - y)
  let top = counter
  let start = 0
  while (start < sorted.length && sorted[start] === top + 1) {
    top += 1
    start += 1
  }
  const rest = sorted.slice(start)
  return {counter: top, single: rest.length > singleMax ? rest.slice(rest.length - singleMax) : rest}
}

/**
 * Builds an entry in canonical form from its knowledge and its live dots (newest first): `dots` and
 * `cloud` are left out when they carry nothing, so that the common case stays a plain DVVSet entry.
 */
function makeEntry<V>(
  actor: string,
  counter: number,
  cloud: readonly number[],
  live: ReadonlyArray<{readonly dot: number; readonly value: V}>,
  updatedAtMs: number,
): Entry<V> {
  const known = compact(counter, cloud, cloudDotsMax)
  const contiguous = live.every(({dot}, index) => dot === known.counter - index)
  return {
    actor,
    counter: known.counter,
    values: live.map(({value}) => value),
    ...(contiguous ? {} : {dots: live.map(({dot}) => dot)}),
    ...(known.single.length === 0 ? {} : {cloud: known.single}),
    updatedAtMs,
  }
}

function liveOf<V>(entry: Entry<V>): Array<{dot: number; value: V}> {
  const dots = liveDots(entry)
  return entry.values.map((value, index) => ({dot: dots[index]!, value}))
}

/**
 * A coordinator's write: the client's context (what it had seen) against what this replica stores.
 * The result supersedes exactly what the context covers; everything else stored stays as a sibling.
 *
 * `actor` must be this replica's own actor (the one whose history `stored` holds), so that the new
 * counter names a dot nobody has used yet. The context's knowledge is kept even for actors or dots
 * this replica has not heard of, so that the new value also supersedes, on other replicas, the
 * versions the client saw there. `newestDot` gives the counter of the dot the write got.
 *
 * `actorDotsMax` is a counter no dot the actor has made, on any key, is above (write-actor.ts
 * keeps it), and the new dot is always above it. The stored copy cannot be trusted to know how far
 * the actor got on this key: after a reaped tombstone or a pruned entry, the actor's entry may come
 * back lower than before, rebuilt from an old client context or an old copy, while another client
 * still holds a context that covers the dots made before (simulator seed 47215251, and a review's
 * scenario kept in dvvset.test.ts).
 */
export function update<V>(
  context: VersionVector,
  stored: VersionSet<V>,
  actor: string,
  value: V,
  nowMs: number,
  actorDotsMax = 0,
): VersionSet<V> {
  assert(isValidVector(context), 'update: the context must be a valid causal context')
  assert(actor.length > 0, 'update: the actor must not be empty')
  assert(Number.isFinite(nowMs), 'update: nowMs must be a finite number')
  assert(Number.isSafeInteger(actorDotsMax) && actorDotsMax >= 0, 'update: actorDotsMax must be a non-negative integer')
  const seen = forgetSeen(context, stored.entries, nowMs)
  const index = seen.findIndex((entry) => entry.actor >= actor)
  const previous = index >= 0 && seen[index]?.actor === actor ? seen[index] : undefined
  // Only this replica makes dots for its own actor, and the ledger knows every one it made: the new
  // dot is above all of them, and the counter may move up to it (the gap below holds dots made on
  // other keys, or on this key and forgotten with its copy, which the new version supersedes).
  const highest = Math.max(previous?.counter ?? 0, ...(previous?.cloud ?? []), actorDotsMax)
  const counter = highest + 1
  assert(Number.isSafeInteger(counter), 'update: the event counter overflowed')
  const event = makeEntry(actor, counter, [], [{dot: counter, value}, ...(previous ? liveOf(previous) : [])], nowMs)
  const entries = seen
  if (index < 0) entries.push(event)
  else entries.splice(index, previous === undefined ? 0 : 1, event)
  return {entries}
}

/** The counter of the newest dot `actor` has made in `s` (after `update`, the dot it just wrote). */
export function newestDot<V>(s: VersionSet<V>, actor: string): number {
  const entry = s.entries.find((candidate) => candidate.actor === actor)
  assert(entry !== undefined, `newestDot: ${actor} has no entry`)
  return entry.counter
}

/**
 * Drops from `entries` every value whose dot the context covers, and adds the context's knowledge to
 * each entry: this is sync(context with no values, stored) of Riak's dvvset, generalised to contexts
 * with single dots. An entry's time only moves when its knowledge grows.
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
      const [actor, counter, single] = seen!
      result.push(makeEntry<V>(actor, counter, single ?? [], [], nowMs))
      i += 1
    } else if (seen === undefined || entry.actor < seen[0]) {
      result.push(entry)
      j += 1
    } else {
      const [, seenCounter, seenSingle] = seen
      const coveredNothingNew =
        seenCounter <= entry.counter && (seenSingle ?? []).every((dot) => knows(entry.counter, entry.cloud, dot))
      if (coveredNothingNew && seenSingle === undefined && entry.dots === undefined) {
        // The common case, a context from a read: the oldest dots go, a contiguous run stays.
        const live = Math.max(0, entry.counter - seenCounter)
        result.push(live < entry.values.length ? {...entry, values: entry.values.slice(0, live)} : entry)
      } else {
        const live = liveOf(entry).filter(({dot}) => !knows(seenCounter, seenSingle, dot))
        const cloud = [...(entry.cloud ?? []), ...(seenSingle ?? [])]
        const updatedAtMs = coveredNothingNew ? entry.updatedAtMs : nowMs
        result.push(makeEntry(entry.actor, Math.max(entry.counter, seenCounter), cloud, live, updatedAtMs))
      }
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
 * Merges one actor's entry from two replicas (Riak dvvset merge/4, with dot clouds). A value
 * survives when the other side holds it too, or does not know its dot yet; the knowledge is the
 * union of both sides'. The time is the later of the two, which keeps the merge commutative and
 * associative.
 */
function mergeEntry<V>(a: Entry<V>, b: Entry<V>): Entry<V> {
  if (a.dots === undefined && b.dots === undefined && a.cloud === undefined && b.cloud === undefined) {
    // The common case, two contiguous runs: a dot at or below a side's counter - values.length is
    // superseded there, so only the values above both floors survive.
    const high = a.counter > b.counter || (a.counter === b.counter && a.updatedAtMs >= b.updatedAtMs) ? a : b
    const floor = Math.max(a.counter - a.values.length, b.counter - b.values.length)
    const live = high.counter - floor
    const updatedAtMs = Math.max(a.updatedAtMs, b.updatedAtMs)
    if (live >= high.values.length && updatedAtMs === high.updatedAtMs) return high
    return {actor: high.actor, counter: high.counter, values: high.values.slice(0, Math.max(0, live)), updatedAtMs}
  }
  const bLive = liveDots(b)
  const aLive = liveDots(a)
  const byDot = new Map<number, V>()
  for (const {dot, value} of liveOf(a)) {
    if (bLive.includes(dot) || !knows(b.counter, b.cloud, dot)) byDot.set(dot, value)
  }
  for (const {dot, value} of liveOf(b)) {
    if (!byDot.has(dot) && (aLive.includes(dot) || !knows(a.counter, a.cloud, dot))) byDot.set(dot, value)
  }
  const live = [...byDot.entries()].sort(([x], [y]) => y - x).map(([dot, value]) => ({dot, value}))
  const cloud = [...(a.cloud ?? []), ...(b.cloud ?? [])]
  return makeEntry(a.actor, Math.max(a.counter, b.counter), cloud, live, Math.max(a.updatedAtMs, b.updatedAtMs))
}

/** The causal context of a set: what a reader of it has seen, to send back with the next write. */
export function join<V>(s: VersionSet<V>): VersionVector {
  return s.entries.map((entry) =>
    entry.cloud === undefined ? ([entry.actor, entry.counter] as const) : ([entry.actor, entry.counter, entry.cloud] as const),
  )
}

/**
 * The context a put hands back: exactly the context it was given plus the dot it wrote, so that a
 * write with it supersedes what the writer saw and wrote, and never a sibling it was not shown.
 */
export function withDot(context: VersionVector, actor: string, counter: number): VersionVector {
  assert(isValidVector(context), 'withDot: the context must be a valid causal context')
  assert(Number.isSafeInteger(counter) && counter >= 1, 'withDot: the dot counter must be a positive integer')
  const index = context.findIndex(([name]) => name >= actor)
  const present = index >= 0 && context[index]![0] === actor ? context[index]! : undefined
  const known = compact(present?.[1] ?? 0, [...(present?.[2] ?? []), counter], contextDotsMax)
  const entry: ContextEntry = known.single.length === 0 ? [actor, known.counter] : [actor, known.counter, known.single]
  const result = [...context]
  if (index < 0) result.push(entry)
  else result.splice(index, present === undefined ? 0 : 1, entry)
  return result
}

/** The live versions (siblings), by actor, then newest first. */
export function values<V>(s: VersionSet<V>): V[] {
  return s.entries.flatMap((entry) => entry.values)
}

/** The live versions with their dots, in the same order as `values`. */
export function dottedValues<V>(s: VersionSet<V>): DottedValue<V>[] {
  return s.entries.flatMap((entry) => liveOf(entry).map(({dot, value}) => ({actor: entry.actor, counter: dot, value})))
}

export function valueCount<V>(s: VersionSet<V>): number {
  let count = 0
  for (const entry of s.entries) count += entry.values.length
  return count
}

/** Whether `a` has seen everything `b` has (a missing actor has seen nothing). */
export function descends(a: VersionVector, b: VersionVector): boolean {
  let i = 0
  // Each turn consumes one element of b, and i only moves forward through a.
  for (const [actor, counter, single] of b) {
    while (i < a.length && a[i]![0] < actor) i += 1
    const mine = a[i]
    const mineCounter = mine !== undefined && mine[0] === actor ? mine[1] : 0
    const mineSingle = mine !== undefined && mine[0] === actor ? mine[2] : undefined
    // Both sides are compact, so a counter above ours has a dot just above ours we do not cover.
    if (counter > mineCounter) return false
    if (single !== undefined && !single.every((dot) => knows(mineCounter, mineSingle, dot))) return false
  }
  return true
}

/** The union of two contexts: what a reader of both has seen. */
export function mergeVectors(a: VersionVector, b: VersionVector): VersionVector {
  const result: ContextEntry[] = []
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
      const known = compact(Math.max(left[1], right[1]), [...(left[2] ?? []), ...(right[2] ?? [])], contextDotsMax)
      result.push(known.single.length === 0 ? [left[0], known.counter] : [left[0], known.counter, known.single])
      i += 1
      j += 1
    }
  }
  return result
}

/**
 * Whether two sets have the same causal content: the same actors, counters, live dots and clouds.
 * Times and the values themselves are not compared (one dot names one value). Read repair uses this
 * to find the replicas that answered with a stale set.
 */
export function sameVersions<V>(a: VersionSet<V>, b: VersionSet<V>): boolean {
  if (a === b) return true
  if (a.entries.length !== b.entries.length) return false
  return a.entries.every((left, index) => {
    const right = b.entries[index]
    return (
      left === right ||
      (right !== undefined &&
      left.actor === right.actor &&
      left.counter === right.counter &&
      left.values.length === right.values.length &&
      sameNumbers(liveDots(left), liveDots(right)) &&
      sameNumbers(left.cloud ?? [], right.cloud ?? []))
    )
  })
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, index) => x === b[index])
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
  // The entries are in actor order and the sort is stable: equal times stay in actor order.
  const droppable = s.entries
    .filter((entry) => entry.values.length === 0)
    .sort((a, b) => a.updatedAtMs - b.updatedAtMs)
    .slice(0, excess)
  if (droppable.length === 0) return s
  const dropped = new Set(droppable.map((entry) => entry.actor))
  return {entries: s.entries.filter((entry) => !dropped.has(entry.actor))}
}

/**
 * Last writer wins: keeps only the newest value by `isNewer`, at its own dot, and all knowledge.
 * When neither of two values is newer, the one with the greater (actor, counter) wins, so that
 * every replica picks the same one. The losers' dots stay known, so no replica can bring one back.
 */
export function lww<V>(s: VersionSet<V>, isNewer: (a: V, b: V) => boolean): VersionSet<V> {
  let winner: DottedValue<V> | undefined
  for (const candidate of dottedValues(s)) {
    if (winner === undefined || beats(candidate, winner, isNewer)) winner = candidate
  }
  if (winner === undefined || valueCount(s) === 1) return s
  const chosen = winner
  return {
    entries: s.entries.map((entry) =>
      makeEntry(entry.actor, entry.counter, entry.cloud ?? [], entry.actor === chosen.actor ? [{dot: chosen.counter, value: chosen.value}] : [], entry.updatedAtMs),
    ),
  }
}

function beats<V>(a: DottedValue<V>, b: DottedValue<V>, isNewer: (a: V, b: V) => boolean): boolean {
  if (isNewer(a.value, b.value)) return true
  if (isNewer(b.value, a.value)) return false
  return a.actor > b.actor || (a.actor === b.actor && a.counter > b.counter)
}

/**
 * A structural check of a set read back from disk or the network: a plain object whose entries have
 * non-empty, strictly sorted actors, safe-integer counters, live dots (given or implied) strictly
 * decreasing within 1..counter, a canonical cloud, and finite times. `isValidValue`, when given,
 * checks each value too.
 */
export function isValidVersionSet(x: unknown, isValidValue?: (value: unknown) => boolean): boolean {
  if (!isPlainObject(x) || !Array.isArray(x.entries)) return false
  let previousActor: string | undefined
  for (const entry of x.entries as unknown[]) {
    if (!isPlainObject(entry)) return false
    const {actor, counter, values: live, dots, cloud, updatedAtMs} = entry
    if (typeof actor !== 'string' || actor.length === 0) return false
    if (previousActor !== undefined && !(previousActor < actor)) return false
    if (typeof counter !== 'number' || !Number.isSafeInteger(counter) || counter < 0) return false
    if (!Array.isArray(live) || live.length > counter) return false
    if (dots !== undefined && !isValidLiveDots(dots, live.length, counter)) return false
    if (cloud !== undefined && !isValidSingleDots(cloud, counter, cloudDotsMax)) return false
    if (counter === 0 && cloud === undefined) return false
    if (typeof updatedAtMs !== 'number' || !Number.isFinite(updatedAtMs)) return false
    if (isValidValue !== undefined && !live.every((value) => isValidValue(value))) return false
    previousActor = actor
  }
  return true
}

function isValidLiveDots(dots: unknown, count: number, counter: number): boolean {
  if (!Array.isArray(dots) || dots.length !== count) return false
  let previous = counter + 1
  for (const dot of dots as unknown[]) {
    if (typeof dot !== 'number' || !Number.isSafeInteger(dot) || dot < 1 || dot >= previous) return false
    previous = dot
  }
  return true
}

/** Single dots above a counter: a non-empty ascending list, the first at least counter + 2. */
function isValidSingleDots(single: unknown, counter: number, lengthMax: number): boolean {
  if (!Array.isArray(single) || single.length === 0 || single.length > lengthMax) return false
  let previous = counter + 1
  for (const dot of single as unknown[]) {
    if (typeof dot !== 'number' || !Number.isSafeInteger(dot) || dot <= previous) return false
    previous = dot
  }
  return true
}

/**
 * Whether a context is sorted by actor with unique, non-empty actors, safe-integer counters, and
 * canonical single dots: [actor, counter >= 1] or [actor, counter >= 0, dots above counter + 1].
 */
export function isValidVector(x: unknown): x is VersionVector {
  if (!Array.isArray(x)) return false
  let previousActor: string | undefined
  for (const item of x as unknown[]) {
    if (!Array.isArray(item) || item.length < 2 || item.length > 3) return false
    const [actor, counter, single] = item as unknown[]
    if (typeof actor !== 'string' || actor.length === 0) return false
    if (previousActor !== undefined && !(previousActor < actor)) return false
    if (typeof counter !== 'number' || !Number.isSafeInteger(counter) || counter < 0) return false
    if (item.length === 2 && counter < 1) return false
    if (item.length === 3 && !isValidSingleDots(single, counter, contextDotsMax)) return false
    previousActor = actor
  }
  return true
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}

