/**
 * Sibling reconciliation, the steps without the screen (`dyn resolve`, and `dyn get` on a
 * terminal): read a key's siblings with their dots, make the candidate (keep one, the JSON union,
 * or a given value), write it with the siblings' context so that they collapse into one version,
 * then read back and check that the write superseded every sibling. If another write arrived in
 * between, the check says so and hands back the new siblings to resolve again.
 */

import {checkContext} from '../api/params.js'
import {numberSiblings} from '../api/sibling-order.js'
import type {DynClient} from '../client/http-client.js'
import {descends} from '../versioning/dvvset.js'
import type {VersionVector} from '../versioning/dvvset.js'
import {shellQuote} from './format.js'
import {commandWithKey} from '../shell-quote.js'
import {mergeJsonUnion} from './json-merge.js'
import type {MergeConflict} from './json-merge.js'
import {describeValue, printableText} from './sibling-preview.js'
import type {ValueDescription} from './sibling-preview.js'

export interface Sibling {
  /** 1-based, as shown to the user and as --pick takes it; siblings are ordered oldest first (src/api/sibling-order.ts). */
  readonly number: number
  /** Its dot as one word (`<actor>:<counter>`), as --pick-id takes it; absent from nodes that do not serve dots. */
  readonly id?: string
  readonly value: Buffer
  readonly contentType: string
  readonly timestampMs: number
  readonly deleted: boolean
  /** The dot: the coordinator's actor ("<node>.<epoch>") and its counter; absent from nodes that do not serve it. */
  readonly actor?: string
  readonly counter?: number
  /** The node that coordinated the write (the actor's name part). */
  readonly writtenBy?: string
  readonly description: ValueDescription
}

export interface SiblingRead {
  readonly key: string
  readonly context: string | undefined
  /** Oldest first. Empty when the key does not exist (or only a tombstone is left). */
  readonly siblings: readonly Sibling[]
  readonly deleted: boolean
  /** Set when nothing was found and none of the key's home replicas answered (only fallbacks): it may well exist. */
  readonly homesSilent?: true
}

/** A failure; `details`: what the node answered beside its code and message (status, required, acknowledged, ...), for --json. */
export type Failure = {readonly ok: false; readonly error: string; readonly message: string; readonly details?: Record<string, unknown>}

export interface ReadQuorum {
  readonly n?: number
  readonly r?: number
}

export interface WriteQuorum {
  readonly n?: number
  readonly w?: number
}

export type Choice =
  | {readonly kind: 'pick'; readonly number: number}
  /** Keep the sibling with this id, wherever it is in the order now. */
  | {readonly kind: 'pickId'; readonly id: string}
  | {readonly kind: 'merge'}
  | {readonly kind: 'value'; readonly value: Buffer; readonly contentType?: string}

export interface Candidate {
  readonly choice: Choice['kind']
  /** The sibling kept, for a pick (by number or id). */
  readonly picked?: {readonly number: number; readonly id: string | undefined}
  readonly value: Buffer
  readonly contentType: string
  /** Picking a deleted sibling writes a delete. */
  readonly deleted: boolean
  readonly conflicts: readonly MergeConflict[]
  readonly description: ValueDescription
}

const obj = (x: unknown): Record<string, unknown> => (typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : {})

export async function readSiblings(client: DynClient, key: string, quorum: ReadQuorum): Promise<({ok: true} & SiblingRead) | Failure> {
  const query = new URLSearchParams()
  if (quorum.n !== undefined) query.set('n', String(quorum.n))
  if (quorum.r !== undefined) query.set('r', String(quorum.r))
  const text = query.toString()
  const answer = await client.getJson(`/kv/${encodeURIComponent(key)}${text === '' ? '' : `?${text}`}`)
  if (!answer.ok) {
    if (answer.error === 'not_found') {
      const context = typeof answer.body.context === 'string' ? answer.body.context : undefined
      return {ok: true, key, context, siblings: [], deleted: answer.body.deleted === true, ...(answer.body.homesAnswered === 0 ? {homesSilent: true as const} : {})}
    }
    return {ok: false, error: answer.error, message: answer.message}
  }
  return {ok: true, ...siblingReadOf(key, answer.body)}
}

/** A found key's siblings from the API's JSON answer, numbered as every command numbers them (src/api/sibling-order.ts). */
export function siblingReadOf(key: string, body: Record<string, unknown>): SiblingRead {
  const raw = Array.isArray(body.siblings) ? body.siblings.map(obj) : []
  const siblings = numberSiblings(
    raw.map((s) => {
      const value = Buffer.from(String(s.value ?? ''), 'base64')
      const contentType = String(s.contentType ?? 'application/octet-stream')
      const actor = typeof s.actor === 'string' ? s.actor : undefined
      return {
        value,
        contentType,
        timestampMs: Number(s.timestampMs ?? 0),
        deleted: s.deleted === true,
        ...(actor !== undefined ? {actor, writtenBy: actor.replace(/\.[^.]*$/, '')} : {}),
        ...(typeof s.counter === 'number' ? {counter: s.counter} : {}),
        description: describeValue(value, contentType),
      }
    }),
  )
  return {key, context: typeof body.context === 'string' ? body.context : undefined, siblings, deleted: false}
}

/** The value a choice would write; a failure (with a stable code) when the choice cannot be made. */
export function candidateOf(read: SiblingRead, choice: Choice): ({ok: true} & Candidate) | Failure {
  if (choice.kind === 'pick' || choice.kind === 'pickId') {
    const sibling = choice.kind === 'pick' ? read.siblings[choice.number - 1] : read.siblings.find((s) => s.id === choice.id)
    if (sibling === undefined) return choice.kind === 'pick' ? {ok: false, error: 'bad_parameter', message: `there is no sibling ${choice.number}; choose 1 to ${read.siblings.length}`} : siblingGone(read, choice.id)
    const picked = {number: sibling.number, id: sibling.id}
    return {ok: true, choice: choice.kind, picked, value: sibling.value, contentType: sibling.contentType, deleted: sibling.deleted, conflicts: [], description: sibling.description}
  }
  if (choice.kind === 'value') {
    const contentType = choice.contentType ?? commonContentType(read) ?? 'application/octet-stream'
    return {ok: true, choice: 'value', value: choice.value, contentType, deleted: false, conflicts: [], description: describeValue(choice.value, contentType)}
  }
  const live = read.siblings.filter((s) => !s.deleted)
  const documents: unknown[] = []
  for (const sibling of live) {
    const text = printableText(sibling.value)
    try {
      if (text === undefined) throw new Error('binary')
      documents.push(JSON.parse(text))
    } catch {
      return {ok: false, error: 'bad_value', message: `sibling ${sibling.number} is not JSON, so the JSON merge cannot take it; keep one sibling or edit a value instead`}
    }
  }
  const merged = mergeJsonUnion(documents)
  if (!merged.ok) return merged
  const value = Buffer.from(JSON.stringify(merged.value))
  // A merge writes JSON: the siblings' own type only when it is a JSON type too (a walk merged
  // "5" and "6", stored as application/octet-stream by a put that did not take them for JSON).
  const common = commonContentType(read)
  const contentType = common !== undefined && /(^application\/json\b|\+json\b)/i.test(common) ? common : 'application/json'
  return {ok: true, choice: 'merge', value, contentType, deleted: false, conflicts: merged.conflicts, description: describeValue(value, contentType)}
}

/**
 * The refusal of --pick-id for a sibling the key no longer has (another write superseded it
 * since the read the id came from, or it never was one): nothing is written, since keeping
 * another sibling instead would be a guess.
 */
export function siblingGone(read: SiblingRead, id: string): Failure {
  const now = read.siblings.length === 1 ? 'one version' : `${read.siblings.length} siblings`
  return {
    ok: false,
    error: 'sibling_gone',
    message: `${read.key} has no sibling ${id} now (it has ${now}): another write superseded it since your read, or it never was one; nothing was written. Read the key again (dyn get ${shellQuote(read.key)} --json lists each sibling's id) and choose among its siblings now`,
  }
}

/**
 * The refusal when the key's siblings are no longer those of the read whose context the caller
 * gave (--context): a number, a merge or a value chosen from that read would be applied to
 * siblings the caller has not seen. Contexts are compared decoded, so that the same versions
 * match whichever form the token was written in.
 */
export function siblingsChangedSince(read: SiblingRead, context: VersionVector): Failure | undefined {
  const now = read.context === undefined ? undefined : checkContext(read.context, read.key)
  if (now?.ok === true && descends(now.value, context) && descends(context, now.value)) return undefined
  return {
    ok: false,
    error: 'siblings_changed',
    message: `${read.key}'s siblings are not those of the read --context came from (another write arrived since, or resolved them); nothing was written. Read the key again (dyn get ${shellQuote(read.key)} --json), choose among its siblings now, and give that read's context`,
  }
}

/** The content type all live siblings share, if they do. */
function commonContentType(read: SiblingRead): string | undefined {
  const types = new Set(read.siblings.filter((s) => !s.deleted).map((s) => s.contentType))
  return types.size === 1 ? [...types][0] : undefined
}

/** What the user asked to write, for the dyn put that does it when there is nothing to resolve. */
export interface WriteWanted {
  /** The --value FILE given. */
  readonly valueFile?: string
  readonly contentType?: string
}

/**
 * The refusal for a key with no live version, whatever way of resolving was asked for: not
 * found (exit 1), as a read of it is, saying that the key does not exist (or was deleted) and
 * the dyn put that writes it. Advice about its siblings (dyn get KEY --json, --pick N) would
 * send the user looking for versions that are not there.
 */
export function noVersionToResolve(key: string, deleted: boolean, wanted: WriteWanted = {}, homesSilent = false, tombstoneContext?: string): Failure {
  // Nothing found where no home answered is no word on the key: said so, and no put suggested.
  if (homesSilent) return {ok: false, error: 'not_found', message: `${key} was not found, but none of its home replicas answered (only fallbacks): it may well exist. Resolve it once its homes are reachable`}
  const what = deleted ? `${key} was deleted (only its tombstone is left)` : `${key} does not exist`
  const type = wanted.contentType === undefined ? '' : ` --content-type ${shellQuote(wanted.contentType)}`
  // A write after a delete carries the tombstone's context, so that it supersedes the delete: a
  // blind one is concurrent with it and leaves the key with two siblings, the tombstone and the
  // value, until the tombstone is reaped (a walk followed the advice and got exactly that).
  const context = deleted && tombstoneContext !== undefined ? ` --context ${shellQuote(tombstoneContext)}` : ''
  const put = wanted.valueFile === undefined ? commandWithKey('dyn put', key, `${type}${context}`, ' VALUE') : `${commandWithKey('dyn put', key, `${type}${context}`)} < ${shellQuote(wanted.valueFile)}`
  return {ok: false, error: 'not_found', message: `${what}, so it has no siblings to resolve; to ${deleted ? `write it again${context === '' ? '' : ' (with the delete\'s context, so that the write supersedes it)'}` : 'create it'}: ${put}`}
}

/**
 * What `dyn resolve` says when another write to the key arrived between its read and its write
 * and the key is not what the user chose (`conflict_remains`, exit 3), on a terminal or not:
 * with siblings left, to resolve again; with one version or none, that nothing is left to
 * resolve, but that it is another writer's.
 */
export function supersededMeanwhile(key: string, remaining: number): Failure {
  const now = remaining === 0 ? 'no live version' : remaining === 1 ? 'one version' : `${remaining} versions`
  const then = remaining >= 2 ? 'read it and resolve again' : `nothing is left to resolve, but it is another write's, not your choice: read it (dyn get ${shellQuote(key)}) to see what it holds`
  return {ok: false, error: 'conflict_remains', message: `another write to ${key} arrived meanwhile: it has ${now} now; ${then}`}
}

export type Verdict =
  | {readonly ok: true; readonly superseded: true; readonly context: string | undefined}
  | {readonly ok: true; readonly superseded: false; readonly latest: SiblingRead}

/**
 * Write the candidate with the siblings' context, read the key back, and tell whether the
 * result stands alone. It does when the read finds exactly the written value (or, for a delete,
 * nothing) and no sibling that was shown is still live (compared by dot when the nodes serve dots).
 */
export async function writeAndVerify(client: DynClient, read: SiblingRead, candidate: Candidate, quorum: ReadQuorum & WriteQuorum): Promise<({ok: true} & Verdict) | Failure> {
  const context = read.context
  const written = candidate.deleted
    ? await client.delete(read.key, {n: quorum.n, w: quorum.w, ...(context ? {context} : {})})
    : await client.put(read.key, candidate.value, {n: quorum.n, w: quorum.w, contentType: candidate.contentType, ...(context ? {context} : {})})
  if (!written.ok) {
    // What `dyn put --json` prints for the same failure (a quorum_unmet's required, acknowledged, failed, ...).
    const {trace: _trace, error: _error, message: _message, ok: _ok, ...details} = written.body
    return {ok: false, error: written.error, message: written.message, details: {status: written.status, ...details}}
  }
  const after = await readSiblings(client, read.key, quorum)
  if (!after.ok) return after
  const shownDots = new Set(read.siblings.flatMap((s) => (s.actor !== undefined && s.counter !== undefined ? [`${s.actor}:${s.counter}`] : [])))
  const survivor = after.siblings.some((s) => s.actor !== undefined && shownDots.has(`${s.actor}:${s.counter}`))
  const stands = candidate.deleted ? after.siblings.length === 0 : after.siblings.length === 1 && after.siblings[0]?.value.equals(candidate.value) === true && !after.siblings[0].deleted
  if (stands && !survivor) return {ok: true, superseded: true, context: after.context}
  return {ok: true, superseded: false, latest: after}
}
