/**
 * What `dyn repair --wait` says between its rounds, pure: a round (POST /repair's answer) that
 * repaired nothing while homes were down cannot be followed by a clean one until those homes are
 * back or removed, so the wait says so once, with what to do, rather than printing the same round
 * until --max-wait-seconds pass; and, when they have passed, why it gave up.
 */

import type {MergeRefusal as Refusal} from '../antientropy/exchange.js'
import {commandWithKey, shellQuote} from '../shell-quote.js'

/** What POST /repair answers (src/antientropy/anti-entropy-subsystem.ts, RepairReport). */
export interface RepairRound {
  readonly node?: string
  readonly trees?: number
  readonly treesInSync?: number
  readonly treesSkipped?: number
  readonly peersDown?: readonly string[]
  readonly refusedBy?: readonly Refusal[]
  readonly keysRepairedHere?: number
  readonly keysRepairedThere?: number
  readonly unfinished?: boolean
  readonly exchanges?: ReadonlyArray<{partition: number; n: number; peer: string; differingKeys: number; repairedHere: number; repairedThere: number; completed: boolean; refused?: Refusal}>
}

/** A round that repaired nothing and found every tree it could compare in sync: the end of --wait. */
export function roundIsClean(round: RepairRound): boolean {
  return round.unfinished !== true && repairedIn(round) === 0
}

export function repairedIn(round: RepairRound): number {
  return (round.keysRepairedHere ?? 0) + (round.keysRepairedThere ?? 0)
}

/** The homes down as a list, and the words that follow it (n3 is ... it; n3, n4 are ... they ... them). */
const them = (down: readonly string[]): {list: string; is: string; they: string; it: string} => {
  const one = down.length === 1
  return {list: down.join(', '), is: one ? 'is' : 'are', they: one ? 'it' : 'they', it: one ? 'it' : 'them'}
}

/**
 * The notice after `round` (the `rounds`-th) when it repaired nothing while homes were down, so
 * that waiting on cannot end in sync until they are back or removed; undefined otherwise, and
 * when `saidFor` (the `key` of the notice given last) is the same set of homes down, so that it
 * is said once for each set. `maxWaitSeconds`: how long the wait goes on all the same.
 */
export function stalledNotice(round: RepairRound, rounds: number, saidFor: string | undefined, maxWaitSeconds: number): {key: string; text: string} | undefined {
  const down = [...(round.peersDown ?? [])].sort()
  if (down.length === 0 || repairedIn(round) > 0) return undefined
  const key = down.join(',')
  if (key === saidFor) return undefined
  const {list, is, they, it} = them(down)
  const node = round.node ?? 'the node'
  const remove = down.map((name) => `dyn cluster remove ${name}`).join('; ')
  return {
    key,
    text:
      `round ${rounds} repaired nothing and ${list} ${is} down, so the trees ${node} shares with ${it} cannot be compared: repair cannot finish until ${they} ${is} back (start ${it} again) ` +
      `or removed for good (${remove}, then dyn cluster commit); waiting for that, rounds every second, for at most ${maxWaitSeconds} s in all (--max-wait-seconds), then exit 3`,
  }
}

/** One refusal in a few words: "n2 (storage_failed)", "n2 (object_too_large, key cart:7)". */
export function refusalText(refusal: Refusal): string {
  return `${refusal.node} (${refusal.error}${refusal.key === undefined ? '' : `, key ${shellQuote(refusal.key)}`})`
}

/** What to do about one refusal, by its code. */
function refusalAdvice(refusal: Refusal): string {
  if (refusal.error === 'storage_failed') return `${refusal.node}'s store takes no writes (a full or failing disk): free space or replace the disk, then restart ${refusal.node}`
  if (refusal.error === 'object_too_large' && refusal.key !== undefined) {
    const key = shellQuote(refusal.key)
    return `the versions of ${key} on its homes together pass the object size limit, so ${refusal.node} cannot take them: reconcile them (${commandWithKey('dyn resolve', refusal.key)}, or read it and write back one value with the read's context)`
  }
  return `${refusal.node} answered ${refusal.error}`
}

/**
 * The notice after `round` when a node refused what the repair sent it, so that no round can be
 * clean until that is fixed; said once for each set of refusals (`saidFor`, as stalledNotice),
 * and undefined when none refused.
 */
export function refusingNotice(round: RepairRound, rounds: number, saidFor: string | undefined, maxWaitSeconds: number): {key: string; text: string} | undefined {
  const refusals = [...(round.refusedBy ?? [])].sort((a, b) => a.node.localeCompare(b.node))
  if (refusals.length === 0) return undefined
  const key = refusals.map(refusalText).join(',')
  if (key === saidFor) return undefined
  return {
    key,
    text: `round ${rounds}: ${refusals.map(refusalText).join(', ')} refused what the repair sent, so no round can end in sync until that is fixed (${refusals.map(refusalAdvice).join('; ')}); waiting for that, rounds every second, for at most ${maxWaitSeconds} s in all (--max-wait-seconds), then exit 3`,
  }
}

/** Why --wait gave up after `rounds` rounds, from the last round. */
export function timeoutReason(last: RepairRound, rounds: number): string {
  const down = last.peersDown ?? []
  const refusals = last.refusedBy ?? []
  const {list, is, it} = them(down)
  const reasons: string[] = []
  if (down.length > 0) reasons.push(`${list} ${is} down, so the trees shared with ${it} could not be compared; start ${it} again (or dyn cluster remove a node that is gone for good)`)
  if (refusals.length > 0) reasons.push(`${refusals.map(refusalText).join(', ')} refused what the repair sent: ${refusals.map(refusalAdvice).join('; ')}`)
  const why = reasons.length > 0 ? `${reasons.join('; and ')}; then run dyn repair --wait again` : 'the node still finds trees that differ or that it could not compare; run dyn repair --wait again, or check dyn cluster status for a node that is down'
  return `after ${rounds} round(s) ${why}`
}
