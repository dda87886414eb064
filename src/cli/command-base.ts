/**
 * What every dyn command shares, on oclif: the answer and the coded errors of `CommandOutput`
 * (command-output.ts, which states the `--json` convention) with oclif's exit, and oclif's own
 * errors (unknown flag, missing argument, a bug) brought into the same convention.
 */

import {Command} from '@oclif/core/command'
import type {DynClient} from '../client/http-client.js'
import {CommandOutput, ignoreClosedOutput, internalFailureText, jsonRequested, plainMessage} from './command-output.js'
import type {ClientFlagValues} from './command-output.js'
import {exitCodeOf, exitCodes} from './exit-codes.js'
import {extraArgumentsMessage} from './extra-arguments.js'

export type {ClientFlagValues} from './command-output.js'

export abstract class DynCommand extends Command {
  /** The answer and the coded errors, leaving through oclif's exit. */
  protected readonly output = new CommandOutput((code) => this.exit(code) as never)

  override async init(): Promise<void> {
    // A closed stdout or stderr (| head) ends nothing, so a command always gets to stop what it started.
    ignoreClosedOutput()
    await super.init()
  }

  /** Print a JSON value as the command's one answer. Prefer `printOk`, which adds `"ok": true`. */
  protected printJson(value: unknown): void {
    this.output.printJson(value)
  }

  /** The successful answer under --json: `{"ok": true, ...fields}`. */
  protected printOk(fields: Record<string, unknown>): void {
    this.output.printOk(fields)
  }

  /** Print a coded error (as JSON on stdout with --json, else on stderr with its code) and exit. */
  protected fail(json: boolean, code: string, message: string, details: Record<string, unknown> = {}): never {
    return this.output.fail(json, code, message, details)
  }

  /** Turn a thrown operating error into a coded failure; anything else is a bug and propagates. */
  protected failFromError(json: boolean, error: unknown): never {
    return this.output.failFromError(json, error)
  }

  /** A client for --node, else DYN_NODE, else the default node (see CommandOutput.clientFor). */
  protected clientFor(flags: ClientFlagValues): DynClient {
    return this.output.clientFor(flags)
  }

  /** A client for the one node the command acts on as itself; a list of addresses is refused (see CommandOutput.oneNodeClientFor). */
  protected oneNodeClientFor(flags: ClientFlagValues, what: string, instead = ''): DynClient {
    return this.output.oneNodeClientFor(flags, what, instead)
  }

  /**
   * oclif's own errors (unknown flag, missing argument, a flag value of the wrong type) become
   * the error object on stdout when --json is on the command line; so does a bug. The exits
   * that `fail` asked for pass through untouched.
   */
  protected override async catch(error: Error & {oclif?: {exit?: number}; code?: string; args?: unknown}): Promise<unknown> {
    const exiting = error.oclif?.exit !== undefined && error.code === 'EEXIT'
    // A missing argument: say which and how the command is used, in one line. oclif's own text
    // adds a note about flags taking several values (--node) and the whole help.
    if (!exiting && error.constructor.name === 'RequiredArgsError' && Array.isArray(error.args)) {
      this.fail(jsonRequested(this.argv), 'bad_usage', this.missingArgsMessage(error.args as Array<{name: string; description?: string}>))
    }
    // An argument too many (`dyn cluster leave --node X n8`, `dyn put k v extra`): which command
    // takes what, as the not-found hook says it of `dyn cluster leave n8` (extra-arguments.ts).
    if (!exiting && error.constructor.name === 'UnexpectedArgsError' && Array.isArray(error.args)) {
      this.fail(jsonRequested(this.argv), 'bad_usage', this.extraArgsMessage(error.args.map(String)))
    }
    if (exiting) return super.catch(error)
    const usage = error.oclif?.exit !== undefined
    // In text, a usage error is one line with its code, as every other refusal: oclif's own text
    // (an unknown flag, a value of the wrong type, two exclusive flags) came boxed, and for an
    // unknown flag it was followed by the command's whole help, which scrolled the error away.
    if (usage && !jsonRequested(this.argv)) this.fail(false, 'bad_usage', `${usageMessage(error.message)} (${this.commandLine()} --help lists the flags)${dashArgumentHint(error.message, this.commandLine())}`)
    // A bug, in text: one line with the code internal and exit 3, as with --json (oclif's own
    // handler exited 1, the code for "not found").
    if (!usage && !jsonRequested(this.argv)) {
      process.stderr.write(internalFailureText(error))
      this.exit(exitCodeOf('internal'))
    }
    if (!jsonRequested(this.argv)) return super.catch(error)
    this.printJson({ok: false, error: usage ? 'bad_usage' : 'internal', message: usage ? `${usageMessage(error.message)}${dashArgumentHint(error.message, this.commandLine())}` : plainMessage(error.message)})
    this.exit(usage ? exitCodes.usage : exitCodeOf('internal'))
  }

  /** `dyn get`, `dyn cluster up`: how this command is typed. */
  private commandLine(): string {
    return `${this.config.bin} ${this.id?.replaceAll(':', ' ') ?? ''}`.trim()
  }

  /** What the command takes, for `extras` given beyond it, with the rest of the line kept for a suggestion. */
  private extraArgsMessage(extras: readonly string[]): string {
    const command = this.constructor as typeof Command
    const args = Object.entries(command.args ?? {}).map(([name, arg]) => ({name, required: arg.required === true}))
    const rest = [...this.argv]
    for (const extra of extras) {
      const at = rest.lastIndexOf(extra)
      if (at >= 0) rest.splice(at, 1)
    }
    const words = this.id?.replaceAll(':', ' ') ?? ''
    return extraArgumentsMessage(this.config.bin, {words, args, flags: Object.keys(command.flags ?? {})}, extras, rest)
  }

  /** `missing the argument KEY, the key. Use: dyn get KEY [flags] (dyn get --help lists the flags)`. */
  private missingArgsMessage(missing: ReadonlyArray<{name: string; description?: string}>): string {
    const command = this.commandLine()
    const declared = Object.entries((this.constructor as typeof Command).args ?? {})
    const usage = declared.map(([name, arg]) => (arg.required ? name.toUpperCase() : `[${name.toUpperCase()}]`)).join(' ')
    const names = missing.map((arg) => `${arg.name.toUpperCase()}${arg.description === undefined ? '' : `, ${arg.description}`}`)
    return `missing the argument ${names.join('; and ')}. Use: ${command} ${usage} [flags] (${command} --help lists the flags)`
  }
}

/**
 * For an unknown flag that may be an argument starting with a dash (a key "-dash"): how to give
 * it, after `--`. A walk typed `dyn get -dash` and was told only that the flag does not exist.
 */
export function dashArgumentHint(message: string, commandLine: string): string {
  // A single dash only: a mistyped long flag (--bogus) is far likelier than a key named so.
  const flag = /Nonexistent flags?: (-[^-\s]\S*?)(?:,|\s|$)/.exec(message)?.[1]
  return flag === undefined ? '' : `; if ${flag} is a key or value, not a flag, put the arguments after --, as in: ${commandLine} [flags] -- ${flag}`
}

/**
 * oclif's usage error as one line: `Parsing --r Expected an integer but received: abc`, or
 * several errors ("The following errors occurred: ...") joined with "; ".
 */
export function usageMessage(message: string): string {
  // eslint-disable-next-line no-control-regex
  const lines = message.replace(/\u001b\[[0-9;]*m/g, '').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !/^See more help with --help$/.test(line))
  const [first, ...rest] = lines
  if (first === undefined) return 'bad usage'
  if (/^The following errors? occurred:?$/.test(first)) return rest.join('; ')
  // "Parsing --r" then "Expected an integer but received: abc": the flag, then what is wrong with it.
  const parsing = /^Parsing (-{1,2}\S+)$/.exec(first)
  if (parsing !== null && rest.length > 0) {
    const said = rest.join(' ')
    return `${parsing[1]}: ${said.charAt(0).toLowerCase()}${said.slice(1)}`
  }
  return lines.join(' ')
}
