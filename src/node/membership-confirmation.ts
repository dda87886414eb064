/**
 * Whether a node restarted on its folder may take writes: has it confirmed that it is still a
 * member of its cluster?
 *
 * A node learns that it was removed while it was away (dyn cluster remove) from the members: at
 * its start, from their answers to its disk check (disk-check.ts), or later by gossip. A node
 * that starts where no member answers cannot tell. Until this module, such a node served as a
 * member of its stale ring: it acknowledged writes, and when the members came back it learned
 * that it was removed and stopped without handing anything off (the members refuse copies from a
 * removed node, which could bring back what was deleted since). Two removed nodes started
 * together answered each other and took writes at the default quorum. Every one of those writes
 * was lost (a helper's walk: 22 writes acknowledged at w=1, 12 at w=2, none readable after).
 *
 * The rule: a node restarted on a stored member table takes writes once a majority of the ring's
 * members has answered it, itself counted, none saying that it was removed or is being removed.
 * A claimant decides a removal only once it reaches a majority of the committed ring's members
 * (claimant-core.ts, unless an operator says --without-majority), and any two majorities of one
 * membership share a member; each answer also says whether a ring change under way removes the
 * asker (a removal is marked on the member's row only when its transition is installed, after
 * the transfers), and names the members of the answerer's ring, so that a node whose own table
 * is older than the ring (members joined while it was away) counts against the members it hears
 * of too. Until then the node serves reads (what it holds was current when it went away, as a
 * partitioned replica's is), refuses puts and deletes with `not_ready` (marked
 * `membershipUnconfirmed`, so that the clients send the write to another node), says why on
 * /health and /ready, and asks the members it has not heard from every second (assemble.ts). A node that joins
 * through a seed, or creates a new cluster, has its table from the cluster itself and starts
 * confirmed. Running nodes are never unconfirmed: a partition that leaves one in a minority
 * changes nothing for it (paper §4.6).
 *
 * Pure: it counts the names that answered against the members it knows of.
 */

export interface ConfirmationState {
  readonly confirmed: boolean
  /** Members that have answered since the start, none saying removed or removing. */
  readonly answeredBy: ReadonlySet<string>
  /** The ring members each answering member named, by answerer (its latest answer). */
  readonly heardMembers: ReadonlyMap<string, readonly string[]>
}

/** One member's answer that counts towards the confirmation: its name and its ring's members, when it named them. */
export interface ConfirmingAnswer {
  readonly name: string
  readonly ringMembers?: readonly string[]
}

/** A node that must confirm, before any answer. */
export function unconfirmedAtStart(): ConfirmationState {
  return {confirmed: false, answeredBy: new Set(), heardMembers: new Map()}
}

/** A node that did not restart on a stored table (a join, a new cluster): confirmed from the start. */
export function confirmedFromStart(): ConfirmationState {
  return {confirmed: true, answeredBy: new Set(), heardMembers: new Map()}
}

/** The members a majority is counted against: the node's own ring's, and every answering member's. */
function membersKnown(state: ConfirmationState, ownRingMembers: readonly string[]): Set<string> {
  const members = new Set(ownRingMembers)
  for (const named of state.heardMembers.values()) for (const name of named) members.add(name)
  return members
}

/** The votes for `self` (answers of members, and itself when a member) and how many make a majority. */
export function tally(state: ConfirmationState, self: string, ownRingMembers: readonly string[]): {readonly votes: number; readonly needed: number; readonly members: number} {
  const members = membersKnown(state, ownRingMembers)
  // A node whose ring has no members at all (a table from before rings) counts itself alone.
  if (members.size === 0) members.add(self)
  let votes = members.has(self) ? 1 : 0
  for (const name of state.answeredBy) if (name !== self && members.has(name)) votes += 1
  return {votes, needed: Math.floor(members.size / 2) + 1, members: members.size}
}

/**
 * The state after the start's disk check, or after a later round: `answers` are the members that
 * answered without saying this node was removed or is being removed, `ownRingMembers` the members
 * of this node's ring now (the committed one's and a transition's). Once confirmed, a node stays so.
 */
export function afterAnswers(state: ConfirmationState, self: string, ownRingMembers: readonly string[], answers: readonly ConfirmingAnswer[]): ConfirmationState {
  if (state.confirmed) return state
  const answeredBy = new Set(state.answeredBy)
  const heardMembers = new Map(state.heardMembers)
  for (const answer of answers) {
    if (answer.name === self) continue
    answeredBy.add(answer.name)
    if (answer.ringMembers !== undefined) heardMembers.set(answer.name, answer.ringMembers)
  }
  const next = {confirmed: false, answeredBy, heardMembers}
  const {votes, needed} = tally(next, self, ownRingMembers)
  return {...next, confirmed: votes >= needed}
}

/** Why an unconfirmed node takes no writes, for /health, /ready and the refusal of a write. */
export function unconfirmedReason(state: ConfirmationState, self: string, ownRingMembers: readonly string[]): string {
  const {votes, needed, members} = tally(state, self, ownRingMembers)
  return (
    `${self} restarted on its folder where it could not confirm that it is still a member: of the ring's ${members} members, ${votes} (itself included) have answered it since it started, and ${needed} must, since a member removed while it was away learns so only from them. ` +
    'Until then it takes no puts or deletes and stores no copies sent by other nodes (reads go on), and asks the others every second; if the members it cannot reach are lost for good, remove them (dyn cluster remove NAME, with --without-majority when most are lost)'
  )
}
