/**
 * The check of a node's store against the cluster at its start: is this a copy of an older disk?
 *
 * A tombstone is reaped only once every member holds it (src/antientropy/reaper.ts), so a node
 * that answered a reap check and then comes back on a copy of its store taken before the delete
 * (a backup restored, a snapshot of a virtual machine, a disk swapped back) holds the only
 * version left of a deleted key: served, read-repaired, handed off or compared by anti-entropy,
 * it would bring the key back. Neither Riak nor Cassandra can tell such a disk from a current one
 * (Cassandra's documentation asks operators not to restore a backup older than gc_grace_seconds).
 *
 * Here every store keeps a disk clock (src/node/identity.ts): raised and persisted before each
 * reap-check answer, and carried to every member by the reaper before it reaps (each member
 * persists the raised value before it deletes anything). A store whose disk clock is below what
 * any member has heard of it therefore predates a reap check it answered. At start, before the
 * node serves anything but this question, it asks every present member what it knows of its
 * disk clock: one round, each answer bounded by the request timeout, repeated while nobody
 * answers (a node cannot tell an old disk without a peer). A higher value anywhere means an old
 * disk: the node refuses to start (`old_disk`), and its operator moves the folder aside and starts
 * it empty, from which anti-entropy brings back everything it is a home of. A node that starts on
 * an empty store takes over the highest value the cluster knew of its name, so that its own later
 * restarts compare against it. The same comparison runs on every later change of the member
 * table: a higher value that arrives after the start (a member that was down at the start
 * answers) stops the node.
 */

import {DynError} from '../errors.js'
import type {Member} from '../membership/member-table.js'

/** Rounds of asking every peer before a node starts without an answer (each bounded by the request timeout, half a second apart). */
export const diskCheckRoundsMax = 10
/** The pause between two rounds that no peer answered. */
export const diskCheckRoundGapMs = 500

export interface DiskCheckDeps {
  /** The present members other than this node, as its table lists them at the start. */
  readonly peers: readonly Member[]
  /** What `peer` knows of this node's disk clock; undefined when it did not answer in time. */
  ask(peer: Member): Promise<number | undefined>
  wait(ms: number): Promise<void>
}

export interface DiskCheckReport {
  /** Peers that answered (0: none did, in every round). */
  readonly answered: number
  /** The highest disk clock of this node that an answering peer knew (0 when none knew one). */
  readonly highestKnown: number
  /** The peers that knew the highest value, for the message. */
  readonly knownBy: readonly string[]
}

/** Asks every peer, round after round, until at least one answers or the rounds run out. */
export async function askPeersForDiskClock(deps: DiskCheckDeps): Promise<DiskCheckReport> {
  if (deps.peers.length === 0) return {answered: 0, highestKnown: 0, knownBy: []}
  for (let round = 0; round < diskCheckRoundsMax; round += 1) {
    if (round > 0) await deps.wait(diskCheckRoundGapMs)
    const answers = await Promise.all(deps.peers.map(async (peer) => ({peer: peer.name, value: await deps.ask(peer).catch(() => undefined)})))
    const known = answers.filter((answer): answer is {peer: string; value: number} => answer.value !== undefined)
    if (known.length === 0) continue
    const highestKnown = Math.max(0, ...known.map((answer) => answer.value))
    return {answered: known.length, highestKnown, knownBy: known.filter((answer) => answer.value === highestKnown && highestKnown > 0).map((answer) => answer.peer)}
  }
  return {answered: 0, highestKnown: 0, knownBy: []}
}

/**
 * The error of a node on an old disk, worded for its operator: what was found, why it matters and
 * what to do.
 */
export function oldDiskError(name: string, dataFolderDiskClock: number, knownDiskClock: number, knownBy: readonly string[]): DynError {
  const by = knownBy.length === 0 ? 'the cluster' : knownBy.join(', ')
  return new DynError(
    'old_disk',
    `the data folder of ${name} is a copy of an older disk: it has answered ${dataFolderDiskClock} reap check(s), and ${by} heard of ${knownDiskClock}. ` +
      'It may hold keys that were deleted and reaped since, which serving it would bring back. ' +
      'Stop the node, move its data folder aside (keep it if you may need its data), and start the node again on an empty folder: anti-entropy brings back everything it is a home of.',
    {dataFolderDiskClock, knownDiskClock},
  )
}
