/**
 * A node's identity: its name, the epoch of its store and its incarnation.
 *
 * The actor a node writes into version vectors is `<name>.<epoch>`. The epoch is drawn anew
 * whenever a node starts on an empty store, so a node that lost its disk can never reuse the
 * counters of its former self and make its new writes look older than versions it wrote before
 * (the data loss Riak calls kv679). For the same reason a node takes a new epoch before it
 * deletes copies it handed off after a ring change (src/handoff/transfer-release.ts): the
 * counter of its actor on a key comes from its own copy, so once the copy is gone the old actor
 * must never write that key again. The incarnation grows on every start and orders the node's
 * own row in the member table (see src/membership/member-table.ts).
 */

import type {Clock, Random} from '../clock.js'
import type {Store} from '../storage/store.js'

export interface Identity {
  readonly name: string
  readonly epoch: string
  readonly incarnation: number
  readonly createdAtMs: number
}

const identityMetaName = 'identity'

export function actorOf(identity: Identity): string {
  return `${identity.name}.${identity.epoch}`
}

export type IdentityOutcome =
  | {readonly ok: true; readonly identity: Identity; readonly isNewEpoch: boolean}
  | {readonly ok: false; readonly message: string}

/** Load (or create) the identity and bump the incarnation, persisting it before the node serves. */
export async function loadIdentity(store: Store, name: string, random: Random, clock: Clock): Promise<IdentityOutcome> {
  const stored = await store.getMeta<Identity>(identityMetaName)
  if (stored !== undefined && stored.name !== name) {
    return {
      ok: false,
      message: `this data folder belongs to node "${stored.name}", not "${name}"; start with --name ${stored.name} or use another --data folder`,
    }
  }
  const isNewEpoch = stored === undefined
  const identity: Identity =
    stored === undefined
      ? {name, epoch: randomEpoch(random), incarnation: 1, createdAtMs: clock.nowMs()}
      : {...stored, incarnation: stored.incarnation + 1}
  await store.putMeta(identityMetaName, identity)
  return {ok: true, identity, isNewEpoch}
}

/**
 * A new epoch for a running node, persisted before it is returned: the caller may delete copies
 * written under the old actor only after this resolves, so a restart never comes back with it.
 * The new epoch differs from the old one (drawn again on the rare equal draw).
 */
export async function renewEpoch(store: Store, identity: Identity, random: Random): Promise<Identity> {
  let epoch = randomEpoch(random)
  for (let attempt = 0; attempt < epochDrawsMax && epoch === identity.epoch; attempt += 1) epoch = randomEpoch(random)
  if (epoch === identity.epoch) throw new Error(`could not draw an epoch other than ${identity.epoch}`)
  const renewed: Identity = {...identity, epoch}
  await store.putMeta(identityMetaName, renewed)
  return renewed
}

/** Draws of a new epoch before giving up (each differs from the old one with odds 1 - 16^-8). */
const epochDrawsMax = 8

function randomEpoch(random: Random): string {
  let hex = ''
  for (let i = 0; i < 8; i += 1) hex += random.int(16).toString(16)
  return hex
}
