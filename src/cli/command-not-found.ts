/**
 * oclif's `command_not_found` hook: a mistyped command names the nearest real one ("did you
 * mean get?") and exits 2 (bad usage), as a shell user expects from git or kubectl. It never
 * runs the guess: a script with a typo must fail, not write somewhere else.
 */

import type {Hook} from '@oclif/core'
import {exitCodes} from './exit-codes.js'
import {commandBeforeExtras, extraArgumentsMessage} from './extra-arguments.js'

/**
 * Edit distance with adjacent transpositions (optimal string alignment): "gte" is one edit from
 * "get", as a typist would count it, where plain Levenshtein counts two.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1
  const columns = b.length + 1
  const d: number[][] = Array.from({length: rows}, (_, i) => Array.from({length: columns}, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i < rows; i += 1) {
    for (let j = 1; j < columns; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      const row = d[i] as number[]
      const above = d[i - 1] as number[]
      row[j] = Math.min(above[j]! + 1, row[j - 1]! + 1, above[j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, (d[i - 2] as number[])[j - 2]! + 1)
    }
  }
  return (d[rows - 1] as number[])[columns - 1] as number
}

/** Words typed that are compared at most: a command id has one or two; the rest are arguments. */
const typedWordsMax = 8

/**
 * The command (or topic) nearest to what was typed, if it is near enough to be a typo: at most
 * one edit per three letters of the candidate, and at least one. `typed` and `candidates` are
 * word lists (`cluster up` is ['cluster', 'up']); a candidate of k words is compared with the
 * first k words typed.
 */
export function nearestCommand(typed: readonly string[], candidates: readonly string[]): string | undefined {
  const words = typed.slice(0, typedWordsMax)
  let best: {candidate: string; distance: number} | undefined
  for (const candidate of candidates) {
    const length = candidate.split(' ').length
    if (length > words.length) continue
    const distance = editDistance(words.slice(0, length).join(' '), candidate)
    const allowed = Math.max(1, Math.floor(candidate.length / 3))
    if (distance === 0 || distance > allowed) continue
    // Ties go to the longer candidate: "cluster upp" means "cluster up", not "cluster".
    if (best === undefined || distance < best.distance || (distance === best.distance && candidate.length > best.candidate.length)) best = {candidate, distance}
  }
  return best?.candidate
}

const hook: Hook<'command_not_found'> = async function (options) {
  const separator = options.config.topicSeparator
  const typed = options.id.split(':')
  const toWords = (id: string): string => id.split(':').join(separator)
  const json = options.id === '--json' || (options.argv?.includes('--json') ?? false)
  // A real command with a word too many (`cluster leave n8`, `top extra`): oclif reads the word
  // as part of the command's name when the command declares no arguments. Said as what it is,
  // before any guess by spelling, which named another command (cluster remove, cluster join).
  const extra = commandBeforeExtras(typed, options.config.commandIDs.map((id) => id.split(':').join(' ')))
  const extraCommand = extra === undefined ? undefined : options.config.findCommand(extra.command.split(' ').join(':'))
  if (extra !== undefined && extraCommand !== undefined) {
    const shape = {words: toWords(extraCommand.id), args: Object.entries(extraCommand.args ?? {}).map(([name, arg]) => ({name, required: arg.required === true})), flags: Object.keys(extraCommand.flags ?? {})}
    const message = extraArgumentsMessage(options.config.bin, shape, extra.extras, options.argv ?? [])
    if (json) process.stdout.write(`${JSON.stringify({ok: false, error: 'bad_usage', message}, null, 2)}\n`)
    else process.stderr.write(`${options.config.bin}: ${message} [bad_usage]\n`)
    this.exit(exitCodes.usage)
  }
  const candidates = [...new Set([...options.config.commandIDs, ...options.config.topics.map((topic) => topic.name)])].map(toWords)
  const suggestion = nearestCommand(typed, candidates)
  const bin = options.config.bin
  // A topic's word followed by no command of it (`cluster nosuch`) names both words, and the
  // topic's own commands, rather than calling the topic itself no command.
  const topic = suggestion === undefined && typed.length > 1 ? options.config.topics.find((candidate) => candidate.name === typed[0]) : undefined
  const shown = suggestion !== undefined ? typed.slice(0, suggestion.split(' ').length).join(' ') : topic !== undefined ? typed.slice(0, 2).join(' ') : (typed[0] ?? '')
  const topicCommands = topic === undefined ? [] : options.config.commandIDs.filter((id) => id.startsWith(`${topic.name}:`)).map(toWords).sort()
  const message =
    suggestion !== undefined
      ? `"${shown}" is not a ${bin} command; did you mean ${suggestion}? (${bin} help lists them all)`
      : topic !== undefined
        ? `"${shown}" is not a ${bin} command; ${bin} ${topic.name} has ${topicCommands.map((id) => id.slice(topic.name.length + 1)).join(', ')} (${bin} help ${topic.name} says what each does)`
        : `"${shown}" is not a ${bin} command; run ${bin} help for the list`
  // `dyn --json` reaches here with --json as the command's id.
  if (json) {
    process.stdout.write(`${JSON.stringify({ok: false, error: 'unknown_command', message, ...(suggestion === undefined ? {} : {suggestion})}, null, 2)}\n`)
  } else {
    process.stderr.write(`${bin}: ${message} [unknown_command]\n`)
  }
  this.exit(exitCodes.usage)
}

export default hook
