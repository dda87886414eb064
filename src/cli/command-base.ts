/**
 * What every dyn command shares: printing a result or a coded error in the form asked for
 * (plain text or `--json`), and leaving with the documented exit code.
 *
 * The `--json` convention, which every command follows (README "JSON output"):
 * - exactly one JSON object on stdout, for a success and a failure alike, and nothing else on
 *   stdout (warnings and progress go to stderr);
 * - `"ok": true` exactly when the command did what was asked and exits 0, `"ok": false` otherwise;
 * - a failure is `{"ok": false, "error": "<code>", "message": "...", ...details}`: a stable
 *   snake_case code (scripts match on it, never on the message), a message that says what to
 *   do, and details in their own fields; this holds for oclif's own usage errors too (unknown
 *   flag, missing argument: code `bad_usage`);
 * - keys are camelCase; the fields of each kind of answer are documented in the README.
 * Use `printOk` for the answer and `fail` / `failFromError` for errors, and never write to
 * stdout around them.
 */

import {Command} from '@oclif/core/command'
import {DynClient, UnreachableError} from '../client/http-client.js'
import {DynError} from '../errors.js'
import {nodeEnvironmentVariable, nodeAddressDefault} from './client-flags.js'
import {exitCodeOf, exitCodes} from './exit-codes.js'

/** Fields a failure may not take from its details: the convention's own. */
const reservedFailureFields = new Set(['ok', 'error', 'message'])

/** The parsed flags a command that talks to a node has: where, how long to wait, and the output form. */
export interface ClientFlagValues {
  readonly node?: readonly string[]
  readonly timeout: number
  readonly json: boolean
}

export abstract class DynCommand extends Command {
  /** Print a JSON value as the command's one answer. Prefer `printOk`, which adds `"ok": true`. */
  protected printJson(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
  }

  /** The successful answer under --json: `{"ok": true, ...fields}`. */
  protected printOk(fields: Record<string, unknown>): void {
    this.printJson({ok: true, ...fields})
  }

  /** Print a coded error (as JSON on stdout with --json, else on stderr with its code) and exit. */
  protected fail(json: boolean, code: string, message: string, details: Record<string, unknown> = {}): never {
    if (json) {
      const extra = Object.fromEntries(Object.entries(details).filter(([name]) => !reservedFailureFields.has(name)))
      this.printJson({ok: false, error: code, message, ...extra})
    } else {
      process.stderr.write(`dyn: ${message} [${code}]\n`)
    }
    this.exit(exitCodeOf(code))
  }

  /** Turn a thrown operating error into a coded failure; anything else is a bug and propagates. */
  protected failFromError(json: boolean, error: unknown): never {
    if (error instanceof UnreachableError) this.fail(json, 'unreachable', error.message)
    if (error instanceof DynError) this.fail(json, error.code, error.message, error.details)
    throw error
  }

  /**
   * A client for the nodes named by --node (repeatable; each may be a comma-separated list),
   * else by DYN_NODE, else the default node. A malformed address is bad input (exit 2), never
   * "unreachable".
   */
  protected clientFor(flags: ClientFlagValues): DynClient {
    const fromEnvironment = process.env[nodeEnvironmentVariable]
    const [source, entries] =
      flags.node !== undefined && flags.node.length > 0
        ? ['--node', flags.node]
        : fromEnvironment !== undefined && fromEnvironment.trim() !== ''
          ? [nodeEnvironmentVariable, [fromEnvironment]]
          : ['the default node', [nodeAddressDefault]]
    try {
      return new DynClient(entries, flags.timeout)
    } catch (error) {
      if (error instanceof DynError) this.fail(flags.json, error.code, `${source}: ${error.message}`)
      throw error
    }
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
    const message = plainMessage(error.message)
    this.printJson({ok: false, error: usage ? 'bad_usage' : 'internal', message})
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

/** Whether --json appears before any `--` (after which everything is an argument). */
function jsonRequested(argv: readonly string[]): boolean {
  const end = argv.indexOf('--')
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json')
}

/** oclif's message without its colours and its pointer to --help (the JSON reader is a program). */
function plainMessage(message: string): string {
  // eslint-disable-next-line no-control-regex
  const uncoloured = message.replace(/\u001b\[[0-9;]*m/g, '')
  return uncoloured
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^See more help with --help$/.test(line))
    .join(' ')
}
