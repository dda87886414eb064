/**
 * What every dyn command shares: printing a result or a coded error in the form asked for
 * (plain text or `--json`), and leaving with the documented exit code.
 */

import {Command} from '@oclif/core'
import {DynError} from '../errors.js'
import {UnreachableError} from '../client/http-client.js'
import {exitCodeOf} from './exit-codes.js'

export abstract class DynCommand extends Command {
  protected printJson(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
  }

  /** Print a coded error (as JSON on stdout with --json, else on stderr with a hint) and exit. */
  protected fail(json: boolean, code: string, message: string, details: Record<string, unknown> = {}): never {
    if (json) this.printJson({ok: false, error: code, message, ...details})
    else process.stderr.write(`dyn: ${message} [${code}]\n`)
    this.exit(exitCodeOf(code))
  }

  /** Turn a thrown operating error into a coded failure; anything else is a bug and propagates. */
  protected failFromError(json: boolean, error: unknown): never {
    if (error instanceof UnreachableError) this.fail(json, 'unreachable', error.message)
    if (error instanceof DynError) this.fail(json, error.code, error.message, error.details)
    throw error
  }
}
