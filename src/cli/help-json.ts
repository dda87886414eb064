/**
 * `dyn help --json`, `dyn help COMMAND --json` and `dyn COMMAND --help --json`: the commands, or
 * one command or topic, as one JSON object (README "JSON output"), read from the same command
 * list oclif's help text is made of (oclif.manifest.json). oclif's own help has no JSON form:
 * its help command refused --json as an unknown flag and printed the help text after the error.
 * The pure part (`helpJson`) takes the commands and topics as plain values, so that a unit test
 * needs no oclif config.
 */

import {Help} from '@oclif/core/help'
import {getHelpFlagAdditions, standardizeIDFromArgv} from '@oclif/core/help'
import type {Command, Interfaces} from '@oclif/core'
import {ignoreClosedOutput, jsonRequested} from './command-output.js'
import {exitCodes} from './exit-codes.js'

/** A flag as the JSON help describes it. */
export interface FlagJson {
  readonly name: string
  readonly char?: string
  readonly description: string
  /** `boolean` (a switch) or `option` (takes a value). */
  readonly type: 'boolean' | 'option'
  readonly required: boolean
  readonly multiple: boolean
  readonly default?: unknown
  readonly options?: readonly string[]
}

export interface CommandJson {
  /** As typed: `cluster up`. */
  readonly command: string
  readonly summary: string
  readonly args: ReadonlyArray<{readonly name: string; readonly description: string; readonly required: boolean}>
  readonly flags: readonly FlagJson[]
}

/** What the JSON help needs of oclif's config: its command list, topics and names. */
export interface HelpSource {
  readonly bin: string
  readonly version: string
  readonly topicSeparator: string
  readonly commands: readonly Command.Loadable[]
  readonly topics: ReadonlyArray<{readonly name: string; readonly description?: string | undefined; readonly hidden?: boolean | undefined}>
}

export type HelpAnswer = {readonly ok: true; readonly [field: string]: unknown} | {readonly ok: false; readonly error: 'unknown_command'; readonly message: string}

/**
 * The JSON help for `subject` (a command or topic id, `cluster:up` or `cluster`), or for every
 * command when it is undefined. Hidden commands and flags are left out, as in the text.
 */
export function helpJson(source: HelpSource, subject: string | undefined): HelpAnswer {
  const commands = source.commands.filter((command) => command.hidden !== true).sort((a, b) => a.id.localeCompare(b.id))
  const words = (id: string): string => id.split(':').join(source.topicSeparator)
  if (subject === undefined) {
    return {
      ok: true,
      bin: source.bin,
      version: source.version,
      // oclif lists every command as a topic too; a topic is a name that has commands under it.
      topics: source.topics.filter((topic) => topic.hidden !== true && commands.some((command) => command.id.startsWith(`${topic.name}:`))).map((topic) => ({topic: words(topic.name), description: topic.description ?? ''})),
      commands: commands.map((command) => commandJson(command, words)),
    }
  }
  const command = commands.find((candidate) => candidate.id === subject || candidate.aliases.includes(subject))
  if (command !== undefined) {
    return {
      ok: true,
      bin: source.bin,
      ...commandJson(command, words),
      description: command.description ?? '',
      examples: (command.examples ?? []).map((example) => exampleJson(example, source.bin)),
    }
  }
  const inTopic = commands.filter((candidate) => candidate.id.startsWith(`${subject}:`))
  if (inTopic.length > 0) {
    const topic = source.topics.find((candidate) => candidate.name === subject)
    return {ok: true, bin: source.bin, topic: words(subject), description: topic?.description ?? '', commands: inTopic.map((candidate) => commandJson(candidate, words))}
  }
  return {ok: false, error: 'unknown_command', message: `"${words(subject)}" is not a ${source.bin} command or topic; run ${source.bin} help for the list`}
}

function commandJson(command: Command.Loadable, words: (id: string) => string): CommandJson {
  const args = Object.values(command.args ?? {}).map((arg) => ({name: arg.name, description: arg.description ?? '', required: arg.required === true}))
  const flags = Object.values(command.flags ?? {})
    .filter((flag) => flag.hidden !== true)
    .map((flag) => flagJson(flag))
    .sort((a, b) => a.name.localeCompare(b.name))
  return {command: words(command.id), summary: command.summary ?? firstLine(command.description), args, flags}
}

function flagJson(flag: Command.Flag.Cached): FlagJson {
  const option = flag.type === 'option' ? flag : undefined
  return {
    name: flag.name,
    ...(flag.char === undefined ? {} : {char: flag.char}),
    description: flag.summary ?? flag.description ?? '',
    type: flag.type,
    required: flag.required === true,
    multiple: option?.multiple === true,
    ...(flag.default === undefined ? {} : {default: flag.default}),
    ...(option?.options === undefined ? {} : {options: option.options}),
  }
}

function exampleJson(example: Command.Example, bin: string): {description: string; command: string} {
  const fill = (text: string): string => text.replaceAll('<%= config.bin %>', bin)
  return typeof example === 'string' ? {description: '', command: fill(example)} : {description: fill(example.description), command: fill(example.command)}
}

function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n')[0] ?? ''
}

/**
 * The command or topic id an argv names (`cluster up --json` is `cluster:up`), as oclif's help
 * reads it; undefined for none. A whole command line may start with the word `help` (`dyn help
 * get --help`), which is not the subject unless nothing else is: `dyn help --help` asks for the
 * help command's own help, as `dyn get --help` asks for get's. The help command's own arguments
 * (`helpCommand`) are all subject, so that `dyn help help` is the help command's help.
 */
export function helpSubject(argv: readonly string[], config: Interfaces.Config, options: {readonly helpCommand?: boolean} = {}): string | undefined {
  const helpFlags = getHelpFlagAdditions(config)
  const startsWithHelp = options.helpCommand !== true && argv[0] === 'help'
  const words = argv.filter((arg, index) => !helpFlags.includes(arg) && !(startsWithHelp && index === 0))
  const standardized = config.topicSeparator === ':' ? words : standardizeIDFromArgv(words, config)
  const first = standardized[0]
  const named = first === undefined || first.startsWith('-') ? undefined : first
  return named === undefined && startsWithHelp ? 'help' : named
}

/** The JSON help for `argv` (the help command's arguments with `helpCommand`, else a whole command line), from oclif's config. */
export function helpAnswer(config: Interfaces.Config, argv: readonly string[], options: {readonly helpCommand?: boolean} = {}): HelpAnswer {
  return helpJson({bin: config.bin, version: config.version, topicSeparator: config.topicSeparator, commands: config.commands, topics: config.topics}, helpSubject(argv, config, options))
}

/** Prints the JSON help for `argv` (one object on stdout) and sets the exit code: 2 for an unknown subject. */
export function printHelpJson(config: Interfaces.Config, argv: readonly string[], options: {readonly helpCommand?: boolean} = {}): void {
  // `dyn --help --json` comes here without any command, so without oclif's handler.
  ignoreClosedOutput()
  const answer = helpAnswer(config, argv, options)
  process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`)
  if (!answer.ok) process.exitCode = exitCodes.usage
}

/**
 * oclif's help (`oclif.helpClass` in package.json), with the JSON form when --json is on the
 * command line: `dyn --help --json`, `dyn get --help --json` and `dyn cluster --json` reach it
 * without any command parsing the line.
 */
export default class DynHelp extends Help {
  override async showHelp(argv: string[]): Promise<void> {
    // `dyn cluster --json`: oclif answers a topic typed alone with its help, handing over the
    // topic's name without the rest of the line, so the --json is only on the process's own.
    if (jsonRequested(argv) || jsonRequested(process.argv.slice(2))) return printHelpJson(this.config, argv)
    // oclif's own reading passes over every word `help`, so `dyn help --help` showed the list of
    // commands, without the help command's flags or examples: its help is shown by name.
    const helpCommand = helpSubject(argv, this.config) === 'help' ? this.config.findCommand('help') : undefined
    if (helpCommand !== undefined) return this.showCommandHelp(helpCommand)
    return super.showHelp(argv)
  }
}
