/**
 * The actor a node writes new versions under, and the writes in flight under each actor.
 *
 * The actor is `<name>.<epoch>` (src/node/identity.ts) and can change while the node runs: a
 * node takes a new epoch before it deletes copies it handed off (src/handoff/transfer-release.ts),
 * because the counter of its actor on a key comes from its own copy, and a write under the old
 * actor after the copy is gone would restart that counter and make a dot other replicas already
 * hold (Riak's kv679). So each write takes the actor once, when it begins, and keeps it to the
 * end (its stored dot and the context it answers with must name the same actor); and whoever
 * replaces the actor can wait until no write begun under an earlier one is still running.
 *
 * The same restart happens without a new actor when the copy that held the actor's entry goes
 * while the actor lives on: a reaped tombstone, or an entry pruned from a long version vector. A
 * client may still hold a context read before that, covering the dots the actor had made on the
 * key, and a write made with that context would then supersede a newer write that reused one of
 * them (simulator seed 47215251: a blind put after a reap, then a put with a context from before
 * the delete, lost the blind put). So the write actor also remembers the highest counter each of
 * its actors has given a dot on any key (`DotLedger`), and a write on a copy that holds no entry
 * of the actor starts above it (`update` in dvvset.ts). The ledger lives in memory only: every
 * start takes a new epoch, so an actor never outlives its process.
 */

import {assert} from '../errors.js'

/** The highest counter each actor of this node has given a dot, on any key. */
export class DotLedger {
  private readonly highest = new Map<string, number>()

  /** No dot `actor` made on any key has a counter above this. */
  highestDot(actor: string): number {
    return this.highest.get(actor) ?? 0
  }

  /** Records that `actor` made the dot `counter` (on some key). */
  madeDot(actor: string, counter: number): void {
    assert(Number.isSafeInteger(counter) && counter > 0, `a dot's counter is a positive integer, not ${counter}`)
    if (counter > this.highestDot(actor)) this.highest.set(actor, counter)
  }

  /** Forgets an actor no write will use again (a retired one, once its writes have ended). */
  forget(actor: string): void {
    this.highest.delete(actor)
  }
}

export class WriteActor {
  /** The highest dot of each actor still in use: the current one and retired ones with writes running. */
  readonly dots = new DotLedger()
  private actor: string
  /** Writes running, by the actor they began under. */
  private readonly inFlight = new Map<string, number>()
  /** Called whenever a write ends, to wake those waiting for old actors to drain. */
  private readonly waiting = new Set<() => void>()

  constructor(actor: string) {
    this.actor = actor
  }

  /** The actor a write that begins now writes under. */
  get current(): string {
    return this.actor
  }

  /** Writes running under actors other than the current one. */
  get retiredInFlight(): number {
    let count = 0
    for (const [actor, writes] of this.inFlight) if (actor !== this.actor) count += writes
    return count
  }

  /** Runs one write under the actor current when it begins; that actor stays its own to the end. */
  async run<T>(write: (actor: string) => Promise<T>): Promise<T> {
    const actor = this.actor
    this.inFlight.set(actor, (this.inFlight.get(actor) ?? 0) + 1)
    try {
      return await write(actor)
    } finally {
      const left = (this.inFlight.get(actor) ?? 0) - 1
      assert(left >= 0, `more writes ended under ${actor} than began`)
      if (left === 0) {
        this.inFlight.delete(actor)
        // A retired actor makes no more dots once its last write has ended.
        if (actor !== this.actor) this.dots.forget(actor)
      } else this.inFlight.set(actor, left)
      // Only a replacement waits (rarely): the common write pays no copy of an empty set.
      if (this.waiting.size > 0) for (const wake of [...this.waiting]) wake()
    }
  }

  /**
   * From now on writes begin under `actor`; resolves once every write begun under an earlier
   * actor has ended. Each write ends within its request budget (the coordinator's deadline), so
   * the wait is bounded by one request timeout.
   */
  async replace(actor: string): Promise<void> {
    assert(actor !== this.actor, `the new actor must differ from ${actor}`)
    const retired = this.actor
    this.actor = actor
    if (!this.inFlight.has(retired)) this.dots.forget(retired)
    while (this.retiredInFlight > 0) {
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.waiting.delete(wake)
          resolve()
        }
        this.waiting.add(wake)
      })
    }
  }
}
