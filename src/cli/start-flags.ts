/**
 * The `dyn start` flags a local cluster's nodes run with (`startArgs` in the folder's
 * cluster.json), and how the flags a later `dyn cluster up` gives combine with them. Pure, so
 * that the merge and the comparison are tested without processes.
 *
 * A new user's walk found the saved flags replaced whole by any `up` that named one of them (the
 * others dropped without a word), and replaced even while every node ran with the old ones, so
 * that the next node to start after a crash ran with other settings than its peers. Here the
 * flags given merge into the saved ones, flag by flag, and the differences are listed so that
 * `up` can refuse them while a node of the folder runs (`clusterUp`).
 */

import {assert} from '../errors.js'
import {shellQuote} from '../shell-quote.js'

/**
 * The TLS flags, which go together: given one of them, `up` replaces every saved one, so that
 * new files without a client CA do not keep the old client CA beside a certificate it never
 * signed for.
 */
export const tlsStartFlags: readonly string[] = ['--tls-cert', '--tls-key', '--tls-ca', '--tls-client-ca']

/** One start flag whose value differs between the saved flags and those asked for. */
export interface StartFlagChange {
  readonly flag: string
  /** The saved value; undefined when the nodes run without the flag (dyn start's default). */
  readonly saved: string | undefined
  /** The value asked for; undefined when it would be dropped (a TLS group replaced without it). */
  readonly asked: string | undefined
}

/**
 * The flags as (flag, value) pairs. Every start flag a local cluster saves takes a value (`up`
 * builds them so, and cluster.json's reader refuses another shape), so a list of another shape is
 * a programmer's error.
 */
export function startFlagPairs(args: readonly string[]): Array<readonly [string, string]> {
  assert(args.length % 2 === 0, `start flags come in pairs of flag and value: ${JSON.stringify(args)}`)
  const pairs: Array<readonly [string, string]> = []
  for (let at = 0; at < args.length; at += 2) {
    const flag = args[at] as string
    assert(flag.startsWith('--'), `a start flag's name begins with --: ${JSON.stringify(args)}`)
    pairs.push([flag, args[at + 1] as string])
  }
  return pairs
}

/**
 * The flags a folder's nodes start with once `given` is asked for on top of `saved`: a flag given
 * replaces the saved value of that same flag in its place, saved flags not given are kept, and
 * flags given that were not saved follow the saved ones. The TLS flags are one group
 * (`tlsStartFlags`): any of them given replaces all the saved ones.
 */
export function mergeStartFlags(saved: readonly string[], given: readonly string[]): string[] {
  // The last value of a flag given twice wins, as it does for dyn start's own parser.
  const asked = new Map(startFlagPairs(given))
  const replacesTls = [...asked.keys()].some((flag) => tlsStartFlags.includes(flag))
  const merged: string[] = []
  for (const [flag, value] of startFlagPairs(saved)) {
    if (asked.has(flag)) merged.push(flag, asked.get(flag) as string)
    else if (!(replacesTls && tlsStartFlags.includes(flag))) merged.push(flag, value)
  }
  const savedFlags = new Set(startFlagPairs(saved).map(([flag]) => flag))
  for (const [flag, value] of asked) if (!savedFlags.has(flag)) merged.push(flag, value)
  return merged
}

/** The flags whose values differ between `saved` and `asked`, in the order `asked` names them, then those only `saved` has. */
export function startFlagChanges(saved: readonly string[], asked: readonly string[]): StartFlagChange[] {
  const before = new Map(startFlagPairs(saved))
  const after = new Map(startFlagPairs(asked))
  const flags = [...new Set([...after.keys(), ...before.keys()])]
  return flags.filter((flag) => before.get(flag) !== after.get(flag)).map((flag) => ({flag, saved: before.get(flag), asked: after.get(flag)}))
}

/** `--request-timeout 3000 -> 2500`; a flag the nodes run without reads as dyn start's default. */
export function startFlagChangeText(change: StartFlagChange): string {
  const value = (text: string | undefined): string => (text === undefined ? "(dyn start's default)" : shellQuote(text))
  return `${change.flag} ${value(change.saved)} -> ${value(change.asked)}`
}

/**
 * The saved flags said to a user, the TLS files left out (`dyn cluster up` says those on lines of
 * their own): `--request-timeout 3000 --write-buffer-ms 50`, or '' when the nodes run with dyn
 * start's defaults.
 */
export function startFlagsText(args: readonly string[]): string {
  return startFlagPairs(args)
    .filter(([flag]) => !tlsStartFlags.includes(flag))
    .map(([flag, value]) => `${flag} ${shellQuote(value)}`)
    .join(' ')
}

/**
 * Why `up` on the folder `dir` refuses `changes` while `running` (names of its nodes) run: a
 * folder's nodes all run with the same flags, and a node started now would run with others than
 * its peers. Says how to change them for every node together, or to keep the saved ones.
 */
export function startFlagsRefusal(dir: string, changes: readonly StartFlagChange[], running: readonly string[]): string {
  assert(changes.length > 0 && running.length > 0, 'a refusal names a change and a running node')
  const [nodes, run, whileRunning] = running.length === 1 ? ['node', 'runs', 'while it runs'] : ['nodes', 'run', 'while any of them runs']
  const again = changes.flatMap((change) => (change.asked === undefined ? [] : [change.flag, shellQuote(change.asked)])).join(' ')
  return (
    `${dir}: its running ${nodes} (${running.join(', ')}) ${run} with other start flags than asked (saved -> asked): ${changes.map(startFlagChangeText).join(', ')}. ` +
    `A folder's nodes all run with the same flags, so up changes none ${whileRunning}: to change them for every node, stop the cluster (dyn cluster down --dir ${shellQuote(dir)}) and run dyn cluster up --dir ${shellQuote(dir)} ${again}; ` +
    'or leave those flags out, and up starts what does not run with the saved ones'
  )
}
