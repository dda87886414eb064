/**
 * What to say when a real command is given more arguments than it takes. With oclif's topic
 * separator a space, `dyn cluster leave n8` reads as the command `cluster leave n8`, which does
 * not exist: the not-found hook then guessed the nearest command by spelling and answered "did
 * you mean cluster remove?", steering a user who meant `--name n8` to a removal, which gives up
 * what only that node holds. Said here instead: which command it is, that it takes no such
 * argument, and what it does take. Pure, so that the hook and DynCommand's catch (an extra
 * argument after a flag, which oclif parses as the command's) say the same.
 */

import {namePattern} from '../membership/names.js'
import {shellQuote} from './format.js'

/** A command as its manifest describes it: its words, its declared arguments and its flags' names. */
export interface CommandShape {
  /** `cluster leave`: the command's words, without the bin. */
  readonly words: string
  /** Its declared arguments, in order. */
  readonly args: ReadonlyArray<{readonly name: string; readonly required?: boolean}>
  /** The names of its flags, without dashes. */
  readonly flags: readonly string[]
}

/**
 * The command among `commandIds` (words joined by spaces) that the first words of `typed` name
 * exactly, with words left over; the longest such command. Undefined when none does: then the
 * line is a typo, and the nearest command is the better answer.
 */
export function commandBeforeExtras(typed: readonly string[], commandIds: readonly string[]): {command: string; extras: string[]} | undefined {
  let best: string | undefined
  for (const id of commandIds) {
    const words = id.split(' ')
    if (words.length >= typed.length) continue
    if (words.every((word, i) => typed[i] === word) && (best === undefined || words.length > best.split(' ').length)) best = id
  }
  return best === undefined ? undefined : {command: best, extras: typed.slice(best.split(' ').length)}
}

/**
 * One line saying that `command` takes no such argument as `extras`, and what it does take. A
 * command with a `--name` flag and one extra word that could be a name is shown with that word
 * moved to `--name` (`dyn cluster leave --name n8`), with the rest of the line (`rest`, the
 * flags typed after it) kept.
 */
export function extraArgumentsMessage(bin: string, command: CommandShape, extras: readonly string[], rest: readonly string[] = []): string {
  const line = `${bin} ${command.words}`
  const given = extras.map((extra) => JSON.stringify(extra)).join(', ')
  const help = `${line} --help lists the flags`
  const [only] = extras
  if (command.args.length === 0) {
    const takes = `${line} takes no arguments, only flags, and was given ${given}`
    if (extras.length === 1 && only !== undefined && command.flags.includes('name') && namePattern.test(only)) {
      return `${takes}; to name the node, use: ${[line, '--name', only, ...rest.map(shellQuote)].join(' ')} (${help})`
    }
    return `${takes} (${help})`
  }
  const usage = command.args.map((arg) => (arg.required === true ? arg.name.toUpperCase() : `[${arg.name.toUpperCase()}]`)).join(' ')
  const count = command.args.length
  return `${line} takes ${count === 1 ? 'one argument' : `at most ${count} arguments`}, and ${given} ${extras.length === 1 ? 'is one' : 'are'} more. Use: ${line} ${usage} [flags] (${help})`
}
