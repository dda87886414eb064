/**
 * The start-up fast path: `dyn get KEY`, `dyn put KEY [VALUE]` and `dyn delete KEY` (with their
 * flags) run straight from bin/run.js, without loading oclif. Loading @oclif/core alone (its
 * command, parser, config, errors and help modules, some hundred files) and its `Config.load`
 * (plugins, manifest, platform) cost more than a whole `node -e 0`, several times what reading a
 * key costs, so these never touch it.
 *
 * The fast path is taken only when it is sure to do what oclif would do:
 * - the command is one of `fastCommandIds` and its line is in fast-argv.ts's strict subset of
 *   oclif's syntax, read from the table that the build derives from the command's own oclif
 *   definitions (fast-spec.ts, written to dist/fast-commands.json beside the manifest);
 * - no plugin registers a hook that runs around commands (the build empties the table then);
 * - no oclif debugging is asked for (DEBUG, DYN_DEBUG).
 * Anything else (help, --version, topics, a typo, a bad flag value, a missing argument) returns
 * false without a side effect, and bin/run.js hands the line to oclif, which answers as always.
 * A taken command runs the same code as under oclif (get-run.ts, put-run.ts, delete-run.ts, with
 * command-output.ts), exits with the same codes the same way (process.exit, as oclif's error
 * handler does), and hands an unexpected error (a bug) to oclif's own handler, loaded only then.
 * What it does not do of oclif's: the `DYN_REDIRECTED` clean-up of Command.init (dyn never sets
 * it) and oclif's performance markers (off unless the executable turns them on, which ours does not).
 */

import {readFileSync} from 'node:fs'
import type {CommandOutput} from './command-output.js'
import {parseFast} from './fast-argv.js'
import type {FastParsed} from './fast-argv.js'
import type {FastTable} from './fast-spec.js'

/** The commands with a fast path, each run by a module that does not import oclif. */
const fastRunners: Readonly<Record<string, (out: CommandOutput, parsed: FastParsed) => Promise<void>>> = {
  get: async (out, {args, flags}) => {
    const {runGet} = await import('./get-run.js')
    await runGet(out, args.key as string, flags as unknown as Parameters<typeof runGet>[2])
  },
  put: async (out, {args, flags}) => {
    const {runPut} = await import('./put-run.js')
    await runPut(out, args as Parameters<typeof runPut>[1], flags as unknown as Parameters<typeof runPut>[2])
  },
  delete: async (out, {args, flags}) => {
    const {runDelete} = await import('./delete-run.js')
    await runDelete(out, args.key as string, flags as unknown as Parameters<typeof runDelete>[2])
  },
}

export const fastCommandIds: readonly string[] = Object.keys(fastRunners)

/** Where the build writes the table (scripts/write-oclif-manifest.js), from dist/src/cli. */
export const fastTableUrl = new URL('../../fast-commands.json', import.meta.url)

/** Thrown by the fast path's exit, caught at its top: the command has answered and chosen its exit code. */
class FastExit {
  constructor(readonly code: number) {}
}

/**
 * Runs the command line if the fast path can; false (having done nothing) when oclif must.
 * `argv` is the command line after `dyn`.
 */
export async function runFast(argv: readonly string[], environment: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (nonEmpty(environment.DEBUG) || nonEmpty(environment.DYN_DEBUG)) return false
  const [id, ...rest] = argv
  if (id === undefined || !Object.hasOwn(fastRunners, id)) return false
  const command = readTable()?.commands[id]
  if (command === undefined) return false
  const parsed = parseFast(rest, command)
  if (parsed === undefined) return false
  // Loaded only now: a line that goes to oclif pays for nothing more than the table.
  const [{CommandOutput, ignoreClosedOutput, internalFailureText, jsonRequested, plainMessage}, {exitCodeOf}] = await Promise.all([import('./command-output.js'), import('./exit-codes.js')])
  ignoreClosedOutput()
  const out = new CommandOutput((code) => {
    throw new FastExit(code)
  })
  try {
    await (fastRunners[id] as (out: CommandOutput, parsed: FastParsed) => Promise<void>)(out, parsed)
  } catch (error) {
    if (error instanceof FastExit) process.exit(error.code)
    // A bug: DynCommand's catch and oclif's handler, as under oclif.
    if (jsonRequested(rest)) {
      out.printJson({ok: false, error: 'internal', message: plainMessage((error as Error).message ?? String(error))})
      process.exit(exitCodeOf('internal'))
    }
    process.stderr.write(internalFailureText(error))
    process.exit(exitCodeOf('internal'))
  }
  return true
}

function readTable(): FastTable | undefined {
  try {
    return JSON.parse(readFileSync(fastTableUrl, 'utf8')) as FastTable
  } catch {
    // No table (tsc without the build script): oclif runs everything.
    return undefined
  }
}

function nonEmpty(value: string | undefined): boolean {
  return value !== undefined && value !== ''
}
