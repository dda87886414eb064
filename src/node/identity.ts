/**
 * A node's identity: its name, the epoch of its store and its incarnation.
 *
 * The actor a node writes into version vectors is `<name>.<epoch>`. The epoch is drawn anew
 * whenever a node starts on an empty store, so a node that lost its disk can never reuse the
 * counters of its former self and make its new writes look older than versions it wrote before
 * (the data loss Riak calls kv679). The incarnation grows on every start and orders the node's
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

function randomEpoch(random: Random): string {
  let hex = ''
  for (let i = 0; i < 8; i += 1) hex += random.int(16).toString(16)
  return hex
}
