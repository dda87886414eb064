/**
 * The one order, numbering and identity of a key's siblings, wherever they are shown: the API's
 * JSON siblings (GET /kv/{key}), `dyn get` (its listing and `--json`), `dyn resolve --pick N` and
 * the resolve screen. Each of them used to take its own: the API answered in the version set's
 * order (by actor, so the sibling written through n1 came before an older one written through
 * n3), while the listing and `--pick` sorted by time, so that a script taking JSON item 2 and
 * running `--pick 2` kept another sibling, a tombstone included (and so deleted the key).
 *
 * Oldest first: the order a person reads a history in, and the one the JSON merge takes its
 * documents in (its conflicting scalars keep the newest sibling's, the last). Timestamps are
 * milliseconds from the clocks of different coordinators, so two siblings can share one; ties go
 * by the dot (actor, then counter), which no two siblings share, so the order is total and the
 * same on every read of the same siblings, whichever replicas answered.
 *
 * A number says where a sibling is in one read: a sibling written later with an older timestamp
 * (another coordinator's clock behind) lands before it and shifts it. The id names the sibling
 * itself, on every read while it is one: its dot, `<actor>:<counter>` (an actor is `<node>.<epoch>`,
 * and a node name has no colon, src/membership/names.ts).
 *
 * Pure, and free of imports: the start-up fast path of `dyn get` loads it.
 */

/** What ordering needs of a sibling: its time, and its dot when the node serves it. */
export interface SiblingStamp {
  readonly timestampMs: number
  readonly actor?: string | undefined
  readonly counter?: number | undefined
}

/** Oldest first; equal times by actor, then counter. */
export function compareSiblings(a: SiblingStamp, b: SiblingStamp): number {
  if (a.timestampMs !== b.timestampMs) return a.timestampMs - b.timestampMs
  const actorA = a.actor ?? ''
  const actorB = b.actor ?? ''
  if (actorA !== actorB) return actorA < actorB ? -1 : 1
  return (a.counter ?? 0) - (b.counter ?? 0)
}

/** A sorted copy (stable, so siblings without dots and of one time keep the order they came in). */
export function orderSiblings<T extends SiblingStamp>(siblings: readonly T[]): T[] {
  return [...siblings].sort(compareSiblings)
}

/** A sibling's place in its read (1-based, as `dyn resolve --pick` takes it) and its id (undefined without a dot). */
export interface SiblingPlace {
  readonly number: number
  readonly id: string | undefined
}

/** Ordered, each with its number and id. */
export function numberSiblings<T extends SiblingStamp>(siblings: readonly T[]): Array<T & SiblingPlace> {
  return orderSiblings(siblings).map((sibling, index) => ({...sibling, number: index + 1, id: siblingIdOf(sibling)}))
}

/** The id of the sibling with this dot. */
export function siblingId(actor: string, counter: number): string {
  return `${actor}:${counter}`
}

export function siblingIdOf(sibling: SiblingStamp): string | undefined {
  return sibling.actor === undefined || sibling.counter === undefined ? undefined : siblingId(sibling.actor, sibling.counter)
}

/** The dot an id names; undefined for text that is no id (`n1.3fa9c2d1:4` is one). */
export function parseSiblingId(text: string): {actor: string; counter: number} | undefined {
  const match = /^([A-Za-z0-9_.-]{1,200}):([1-9][0-9]{0,15})$/.exec(text.trim())
  if (match === null) return undefined
  const counter = Number(match[2])
  return Number.isSafeInteger(counter) ? {actor: match[1] as string, counter} : undefined
}
