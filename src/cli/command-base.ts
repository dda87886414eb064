/**
 * What every dyn command shares, on oclif: the answer and the coded errors of `CommandOutput`
 * (command-output.ts, which states the `--json` convention) with oclif's exit, and oclif's own
 * errors (unknown flag, missing argument, a bug) brought into the same convention.
 */

import {Command} from '@oclif/core/command'
import type {DynClient} from '../client/http-client.js'
import {CommandOutput, jsonRequested, plainMessage} from './command-output.js'
import type {ClientFlagValues} from './command-output.js'
import {exitCodeOf, exitCodes} from './exit-codes.js'

export type {ClientFlagValues} from './command-output.js'

export abstract class DynCommand extends Command {
  /** The answer and the coded errors, leaving through oclif's exit. */
  protected readonly output = new CommandOutput((code) => this.exit(code) as never)

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
    if (exiting || !jsonRequested(this.argv)) return super.catch(error)
    const usage = error.oclif?.exit !== undefined
    this.printJson({ok: false, error: usage ? 'bad_usage' : 'internal', message: plainMessage(error.message)})
    this.exit(usage ? exitCodes.usage : exitCodeOf('internal'))
  }

  /** `missing the argument KEY, the key. Use: dyn get KEY [flags] (dyn get --help lists the flags)`. */
  private missingArgsMessage(missing: ReadonlyArray<{name: string; description?: string}>): string {
    const command = `${this.config.bin} ${this.id?.replaceAll(':', ' ') ?? ''}`.trim()
    const declared = Object.entries((this.constructor as typeof Command).args ?? {})
    const usage = declared.map(([name, arg]) => (arg.required ? name.toUpperCase() : `[${name.toUpperCase()}]`)).join(' ')
    const names = missing.map((arg) => `${arg.name.toUpperCase()}${arg.description === undefined ? '' : `, ${arg.description}`}`)
    return `missing the argument ${names.join('; and ')}. Use: ${command} ${usage} [flags] (${command} --help lists the flags)`
  }
}
