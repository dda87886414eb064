/**
 * The clients' history of a simulated run, and the truth about causality that the clients know
 * without looking inside the nodes (as Jepsen's checkers work from a history of operations).
 *
 * Every version a client writes carries a unique id in its value, so that a read tells which
 * versions it returned. What a client has *seen* is tracked apart from the contexts the nodes hand
 * out: a read has seen the versions it returned and everything those had seen; a put has seen
 * what its own context had seen, and itself; a blind put nothing. A version is legitimately gone
 * only when a write that had seen it may have been applied.
 */

import {assert} from '../../src/errors.js'

/** How a write ended, as its client saw it. */
export type WriteEnd =
  /** Acknowledged: W replicas stored it. */
  | 'ok'
  /** Failed in a way that may still have stored it somewhere (quorum unmet, a timeout). */
  | 'maybe'
  /** Refused before anything was stored (a limit, bad input). */
  | 'refused'

export interface WriteRecord {
  readonly id: string
  readonly key: string
  readonly tombstone: boolean
  /** Ids of the versions the writer had seen when it wrote: the ones this write supersedes. */
  readonly seen: ReadonlySet<string>
  /**
   * The replica count the key records for this write: the N asked (the request's n, or the
   * cluster's default N), even when the ring had fewer owners and the request ran with fewer
   * (`ranN`). Every key must reach this many homes once the cluster has the members.
   */
  readonly n: number
  /** The n the request ran with: its homes, and what its W and PW were counted against. */
  readonly ranN: number
  readonly w: number
  /** Of the W acknowledgements, how many had to come from home replicas (a strict quorum when > 0). */
  readonly pw: number
  readonly node: string
  readonly startMs: number
  endMs: number | undefined
  /**
   * For a write acknowledged with pw > 0: how many of its home replicas held it (or a version
   * that had seen it) the moment the client had the answer, and how many were down then.
   */
  homesHolding?: {readonly holding: number; readonly down: number}
  /** The node that coordinated an acknowledged write (the one the client asked may have forwarded it). */
  coordinator?: string
  end: WriteEnd | undefined
  /** Where the writer's context came from. */
  readonly contextFrom: 'none' | 'read' | 'put'
}

export interface ReadRecord {
  readonly key: string
  readonly n: number
  readonly r: number
  /** Of the R answers, how many had to come from home replicas. */
  readonly pr: number
  readonly node: string
  readonly startMs: number
  readonly endMs: number
  /** Ids of the versions returned, live ones and tombstones alike. */
  readonly returned: readonly string[]
  /** True for the reads of the final pass, after every fault healed. */
  readonly final: boolean
}

/** How a client request ended, as its client saw it (every get and put, the final reads included). */
export type RequestEnd =
  | 'ok'
  /** The node answered with a failure that may have left something behind (quorum unmet, unreachable). */
  | 'failed'
  /** Refused for cause before or while anything was stored: a limit (siblings, size), a bad parameter. */
  | 'refused'
  /** The node the client asked crashed under the request (a reset connection). */
  | 'crashed'
  /** No answer within `requestAnswerMsMax`: the client gave up waiting. */
  | 'unanswered'

/** One client request and how it ended: the input of the availability checks (availability.ts). */
export interface RequestRecord {
  readonly kind: 'get' | 'put'
  readonly client: string
  readonly key: string
  /** The node the client asked (which coordinates a get, and forwards a put it is no home of). */
  readonly node: string
  readonly n: number
  /** R for a get, W for a put. */
  readonly quorum: number
  /** PR for a get, PW for a put. */
  readonly homeQuorum: number
  readonly startMs: number
  endMs: number | undefined
  end: RequestEnd | undefined
  /** The error and message of a failure. */
  detail?: string
  /** True for the reads of the final pass, after every fault healed. */
  readonly final: boolean
  /** Whether every running node routed by the run's first ring, with no transition, when it began and when it ended. */
  ringSteady?: boolean
}

/** One line of the run's event log: what happened when, for the history shown around a violation. */
export interface LogLine {
  readonly atMs: number
  readonly text: string
}

/** Bounds, so that a long campaign cannot grow a run's memory without limit. */
export const writesPerRunMax = 200_000
export const logLinesMax = 400_000

export class History {
  readonly writes = new Map<string, WriteRecord>()
  readonly reads: ReadRecord[] = []
  /** Gets that asked more replicas than R (one in place of a failure, or one more after waiting): the read path's fallbacks at work. */
  readsAskingMoreThanR = 0
  readonly log: LogLine[] = []
  /** Nodes whose storage was wiped during the run: some checks hold only for what the loss cannot explain. */
  readonly wiped = new Set<string>()
  /** Each disk lost, and when: the node's crash, whose snapshot was then thrown away. */
  readonly diskLosses: Array<{readonly node: string; readonly lostAtMs: number}> = []
  /** Every client request, in the order they started. */
  readonly requests: RequestRecord[] = []
  /** Every crash of the run: which node, when. */
  readonly crashes: Array<{readonly node: string; readonly atMs: number}> = []
  #nextId = 0

  /** A fresh version id for `key`; its value carries it. */
  newId(key: string): string {
    this.#nextId += 1
    return `${key}#${this.#nextId}`
  }

  /** The versions a read has seen: those it returned and everything they had seen. */
  seenByRead(returned: readonly string[]): Set<string> {
    const seen = new Set<string>()
    for (const id of returned) {
      seen.add(id)
      const write = this.writes.get(id)
      // A read can only return what a client wrote: anything else is a bug the checker reports.
      if (write !== undefined) for (const earlier of write.seen) seen.add(earlier)
    }
    return seen
  }

  startWrite(record: Omit<WriteRecord, 'endMs' | 'end'>): WriteRecord {
    assert(this.writes.size < writesPerRunMax, 'too many writes in one run')
    const write: WriteRecord = {...record, endMs: undefined, end: undefined}
    this.writes.set(write.id, write)
    return write
  }

  endWrite(write: WriteRecord, end: WriteEnd, atMs: number): void {
    write.end = end
    write.endMs = atMs
  }

  /**
   * The disk of `node` is lost: what it stored when it last crashed is gone (it restarts on an
   * empty one, or never runs again); or, given `atMs`, what it stored then (a node removed while
   * it was cut off, and still running, gives up all it held when it learns that it was removed).
   */
  loseDisk(node: string, atMs?: number): void {
    const crashes = this.crashes.filter((crash) => crash.node === node)
    this.wiped.add(node)
    this.diskLosses.push({node, lostAtMs: atMs ?? crashes.at(-1)?.atMs ?? 0})
  }

  /**
   * The hints `node` kept for other nodes are lost (it restarts without them): for the checks,
   * as a lost disk, since those hints may have been a write's only copy for a home; anti-entropy
   * must still bring every surviving copy to every home.
   */
  loseHints(node: string): void {
    this.loseDisk(node)
  }

  /** The first disk lost, when one was: checks that a lost disk can break hold before it and for what came after. */
  firstDiskLossMs(): number | undefined {
    return this.diskLosses.length === 0 ? undefined : Math.min(...this.diskLosses.map((loss) => loss.lostAtMs))
  }

  startRequest(record: Omit<RequestRecord, 'endMs' | 'end'>): RequestRecord {
    assert(this.requests.length < writesPerRunMax, 'too many requests in one run')
    const request: RequestRecord = {...record, endMs: undefined, end: undefined}
    this.requests.push(request)
    return request
  }

  endRequest(request: RequestRecord, end: RequestEnd, atMs: number, detail?: string): void {
    request.end = end
    request.endMs = atMs
    if (detail !== undefined) request.detail = detail
  }

  addRead(read: ReadRecord): void {
    this.reads.push(read)
  }

  note(atMs: number, text: string): void {
    if (this.log.length < logLinesMax) this.log.push({atMs, text})
  }
}

/**
 * Whether `write` may be missing from `held` (a final read, or a replica's versions) because a
 * tombstone covering it was reaped since (src/antientropy/reaper.ts): it is that tombstone, or a
 * delete that had seen it was acknowledged or may have been applied (a failed delete may have
 * stored its tombstone on some replicas, which spread it), and `held` has nothing that tombstone
 * had seen. What came after a reap (a write that found the key empty)
 * may be there: seed 3436588 held a blind put written after the delete was reaped.
 */
export function reapedAway(history: History, write: WriteRecord, held: readonly string[]): boolean {
  const tombstones = write.tombstone ? [write] : [...history.writes.values()].filter((other) => other.key === write.key && other.tombstone && other.end !== 'refused' && other.seen.has(write.id))
  return tombstones.some((tombstone) => !held.some((id) => id === write.id || tombstone.seen.has(id)))
}

