/**
 * What `dyn cluster remove` says of a node it staged the removal of while the node asked still
 * counts it as up or suspect: a removal is for a node gone for good, so the operator is told
 * plainly what that node's view is and what to do either way (carry on, or clear and leave).
 */

import type {DynClient} from '../client/http-client.js'

/** How the node asked sees `name`: its name, its reachability of the member and the member's status (leaving, ...); undefined when it does not say. */
export async function reachabilityAsSeen(client: DynClient, name: string): Promise<{asked: string; reachability: string; status?: string} | undefined> {
  const view = await client.getJson('/cluster').catch(() => undefined)
  if (view === undefined || !view.ok) return undefined
  const members = Array.isArray(view.body.members) ? (view.body.members as Array<{name?: unknown; reachability?: unknown; status?: unknown}>) : []
  const member = members.find((row) => row.name === name)
  const reachability = member?.reachability
  if (typeof reachability !== 'string') return undefined
  return {asked: typeof view.body.node === 'string' ? view.body.node : 'the node asked', reachability, ...(typeof member?.status === 'string' ? {status: member.status} : {})}
}

/**
 * The warning for a removal just staged, or done at once (`doneAtOnce`: the answer stages
 * nothing), from the view the node asked had of `name` before it (undefined: no warning). A removal is for a node that is gone: one that still runs would be
 * better served by a leave, which hands its data off. Not refused (the operator may know better,
 * say of a machine about to be wiped), but said on stderr, plainly: what the node asked sees, and
 * what to do either way. It once said "n2 is up, as the node asked sees it" before the stage,
 * also of a node just killed, which the stage then failed on for a reason of its own.
 */
export function removalWarning(name: string, seen: {readonly asked: string; readonly reachability: string; readonly status?: string}, doneAtOnce = false): string | undefined {
  // Removed at once (a departed node that did not answer, a join withdrawn): nothing is staged,
  // so nothing can be cleared, and "drop the removal with dyn cluster clear" would mislead.
  if (doneAtOnce && seen.reachability !== 'down') {
    const view = seen.asked === name ? `${name} is the node that answered this command, so it is running` : seen.reachability === 'up' ? `${seen.asked} still sees ${name} up (it answers its heartbeats)` : `${seen.asked} is still deciding whether ${name} is down (its heartbeats stopped answering moments ago)`
    return `${name} was removed at once, with no commit (see the note), but ${view}: if ${name} is in fact running, it stops with error removed once it learns of its removal, handing nothing off; a removal done at once cannot be cleared`
  }
  // The node asked is the one staged for removal: it answered this very command, so it runs,
  // and "n1 still sees n1 up (it answers its heartbeats)" said it in a riddle.
  if (seen.asked === name) return `the removal of ${name} is staged, but ${name} is the node that answered this command, so it is running: remove is for a node that is gone for good; drop the removal with dyn cluster clear and use dyn cluster leave --name ${name}, which hands its data off first (a removed node hands nothing off, and stops with error removed once it learns of the commit)`
  // A leaving node needs no leave: running, it finishes the one under way by itself (the claimant
  // took its removal only because it sees it down, but the node asked sees it otherwise).
  const undo =
    seen.status === 'leaving'
      ? `if ${name} is in fact running, drop the removal with dyn cluster clear: it finishes its leave by itself, handing its data off (a removed node hands nothing off, and stops with error removed once the change is done)`
      : `if ${name} is in fact running, drop the removal with dyn cluster clear and use dyn cluster leave --name ${name}, which hands its data off first (a removed node hands nothing off, and stops with error removed once it learns of the commit)`
  if (seen.reachability === 'up') return `the removal of ${name} is staged, but ${seen.asked} still sees ${name} up (it answers its heartbeats): remove is for a node that is gone for good; ${undo}`
  if (seen.reachability === 'suspect') return `the removal of ${name} is staged while ${seen.asked} is still deciding whether ${name} is down (its heartbeats stopped answering moments ago); if you stopped ${name} for good, carry on with dyn cluster commit; ${undo}`
  return undefined
}
