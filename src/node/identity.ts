/**
 * A node's identity: its name, the epoch of its store, its incarnation and its disk clock.
 *
 * The actor a node writes into version vectors is `<name>.<epoch>`. The epoch is drawn anew
 * whenever a node starts, so a node can never reuse the counters of its former self and make its
 * new writes look older than versions it wrote before (the data loss Riak calls kv679): not after
 * a lost disk, and not after a restart on a copy of an older disk either, whose copies hold
 * counters its actor has since gone past on other replicas, which no start can tell from a
 * current disk. For the same reason a node takes a new epoch before it deletes copies it handed
 * off after a ring change (src/handoff/transfer-release.ts): the counter of its actor on a key
 * comes from its own copy, so once the copy is gone the old actor must never write that key
 * again. The incarnation grows on every start and orders the node's own row in the member table
 * (see src/membership/member-table.ts).
 *
 * The disk clock counts the reap checks this store has answered (src/antientropy/reaper.ts): it
 * is persisted before each answer, and the cluster learns every value from the reaper before any
 * tombstone is reaped. A node that starts on a store whose disk clock is below what the cluster
 * knows of it is on a copy of an older disk, which may hold versions of keys whose tombstones
 * were reaped since (src/node/disk-check.ts).
 */

import type {Clock, Random} from '../clock.js'
import type {Store} from '../storage/store.js'

export interface Identity {
  readonly name: string
  readonly epoch: string
  readonly incarnation: number
  readonly createdAtMs: number
  /** Reap checks this store has answered (absent in identities from before there was one: 0). */
  readonly diskClock?: number
  /**
   * The machine this node shares with other members (absent: one of its own). Fixed at the first
   * start: the ring records it when the node joins, and a key's homes are chosen on distinct
   * machines from it, so a node that claimed another machine later would break that promise.
   */
  readonly machine?: string
}

const identityMetaName = 'identity'

export function actorOf(identity: Identity): string {
  return `${identity.name}.${identity.epoch}`
}

export type IdentityOutcome =
  | {readonly ok: true; readonly identity: Identity; readonly isNewEpoch: boolean}
  | {readonly ok: false; readonly message: string}

/**
 * Load (or create) the identity, bump the incarnation and draw a new epoch, persisting it before
 * the node serves.
 */
export async function loadIdentity(store: Store, name: string, random: Random, clock: Clock, machine?: string): Promise<IdentityOutcome> {
  const stored = await store.getMeta<Identity>(identityMetaName)
  if (stored !== undefined && stored.name !== name) {
    return {
      ok: false,
      message: `this data folder belongs to node "${stored.name}", not "${name}"; start with --name ${stored.name} or use another --data folder`,
    }
  }
  // A machine named like the node is a machine of its own: one form for one meaning.
  const ownMachine = machine === name ? undefined : machine
  if (stored !== undefined && stored.machine !== ownMachine) {
    const was = stored.machine === undefined ? 'on a machine of its own (no --machine)' : `on machine "${stored.machine}"`
    const asked = ownMachine === undefined ? 'without --machine' : `with --machine ${ownMachine}`
    return {
      ok: false,
      message: `node "${name}" was first started ${was} and the ring places its replicas by that; it cannot be started ${asked}. Start it as before, or remove it (dyn cluster remove) and join under a new name`,
    }
  }
  const isNewEpoch = stored === undefined
  const identity: Identity =
    stored === undefined
      ? {name, epoch: randomEpoch(random), incarnation: 1, createdAtMs: clock.nowMs(), ...(ownMachine === undefined ? {} : {machine: ownMachine})}
      : {...stored, incarnation: stored.incarnation + 1, epoch: otherEpoch(stored.epoch, random)}
  await store.putMeta(identityMetaName, identity)
  return {ok: true, identity, isNewEpoch}
}

/**
 * A new epoch for a running node, persisted before it is returned: the caller may delete copies
 * written under the old actor only after this resolves, so a restart never comes back with it.
 * The new epoch differs from the old one (drawn again on the rare equal draw).
 */
export async function renewEpoch(store: Store, identity: Identity, random: Random): Promise<Identity> {
  const renewed: Identity = {...identity, epoch: otherEpoch(identity.epoch, random)}
  await store.putMeta(identityMetaName, renewed)
  return renewed
}

/** The identity with a disk clock of `diskClock`, persisted before it is returned. */
export async function withDiskClock(store: Store, identity: Identity, diskClock: number): Promise<Identity> {
  const changed: Identity = {...identity, diskClock}
  await store.putMeta(identityMetaName, changed)
  return changed
}

function otherEpoch(old: string, random: Random): string {
  let epoch = randomEpoch(random)
  for (let attempt = 0; attempt < epochDrawsMax && epoch === old; attempt += 1) epoch = randomEpoch(random)
  if (epoch === old) throw new Error(`could not draw an epoch other than ${old}`)
  return epoch
}

/** Draws of a new epoch before giving up (each differs from the old one with odds 1 - 16^-8). */
const epochDrawsMax = 8

function randomEpoch(random: Random): string {
  let hex = ''
  for (let i = 0; i < 8; i += 1) hex += random.int(16).toString(16)
  return hex
}

/**
 * The running node's identity, changed only through here: each change (a new epoch, a disk clock
 * raised) is persisted after the one before it, so two changes can never overwrite each other on
 * disk, and `current` is the identity the last completed change persisted.
 */
export class IdentityKeeper {
  #identity: Identity
  #changing: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly store: Store,
    first: Identity,
  ) {
    this.#identity = first
  }

  get current(): Identity {
    return this.#identity
  }

  get diskClock(): number {
    return this.#identity.diskClock ?? 0
  }

  /** A new epoch, persisted before it resolves. */
  renewEpoch(random: Random): Promise<Identity> {
    return this.#change((identity) => renewEpoch(this.store, identity, random))
  }

  /** The disk clock raised by one (a reap check is about to be answered), persisted before it resolves with the new value. */
  async tick(): Promise<number> {
    const changed = await this.#change((identity) => withDiskClock(this.store, identity, (identity.diskClock ?? 0) + 1))
    return changed.diskClock as number
  }

  /** The disk clock raised to at least `value` (a node on a new disk takes what the cluster knew of its name). */
  async raiseTo(value: number): Promise<number> {
    const changed = await this.#change((identity) => ((identity.diskClock ?? 0) >= value ? Promise.resolve(identity) : withDiskClock(this.store, identity, value)))
    return changed.diskClock ?? 0
  }

  #change(apply: (identity: Identity) => Promise<Identity>): Promise<Identity> {
    const next = this.#changing.then(async () => {
      this.#identity = await apply(this.#identity)
      return this.#identity
    })
    // A failed write leaves the identity as it was; the next change starts from it.
    this.#changing = next.catch(() => undefined)
    return next
  }
}
