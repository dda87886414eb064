/**
 * At build time (scripts/write-oclif-manifest.js), the fast path's table: for each command it
 * runs (fast-path.ts `fastCommandIds`), the flags and arguments as fast-argv.ts reads them,
 * derived from the command's own oclif definitions, so that there is one definition of each flag.
 * A definition the fast path cannot read exactly as oclif does (a custom parse, an env variable,
 * flags that depend on each other, an optional argument, ...) fails the build with the reason:
 * the fast path never guesses. And when any plugin registers a hook that runs around commands
 * (init, prerun, postrun, finally, preparse), the table is empty, since the fast path runs
 * without oclif and so without them: every command then goes through oclif.
 */

import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import type {FastCommand, FastFlag} from './fast-argv.js'

/** What the fast path reads of an oclif command class (Command.Loadable or Command.Class). */
export interface CommandDefinition {
  readonly id: string
  readonly flags?: Readonly<Record<string, Readonly<Record<string, unknown>>>>
  readonly args?: Readonly<Record<string, Readonly<Record<string, unknown>>>>
  readonly baseFlags?: Readonly<Record<string, unknown>>
  readonly enableJsonFlag?: boolean
  readonly strict?: boolean
  readonly state?: string
  readonly aliases?: readonly string[]
}

/** Hooks that run before, around or after a command, and that the fast path would skip. */
export const runHooks = ['init', 'preparse', 'prerun', 'postrun', 'finally'] as const

/** The file bin/run.js's fast path reads, beside dist/src (see fast-path.ts). */
export interface FastTable {
  /** Why the table is empty, when it is. */
  readonly disabled?: string
  readonly commands: Readonly<Record<string, FastCommand>>
}

/** Properties of an oclif flag or argument that only its help shows. */
const helpOnly = new Set(['name', 'description', 'summary', 'helpValue', 'helpGroup', 'helpLabel', 'hidden', 'noCacheDefault', 'input', 'type', 'parse'])

// oclif gives every string flag (and argument) a fresh identity function, and every boolean flag a
// fresh `b => b`: their source text tells them from a parse of the command's own. Integer flags
// share one parse function, which reads `min` and `max` from the flag.
const stringParseSource = Flags.string().parse.toString()
const stringArgParseSource = Args.string().parse.toString()
const booleanParseSource = Flags.boolean().parse.toString()
const integerParse = Flags.integer().parse

export function fastTable(commands: readonly CommandDefinition[], hooksByPlugin: ReadonlyMap<string, readonly string[]>): FastTable {
  for (const [plugin, hooks] of hooksByPlugin) {
    const around = hooks.filter((hook) => (runHooks as readonly string[]).includes(hook))
    if (around.length > 0) return {disabled: `${plugin} registers the ${around.join(', ')} hook(s), which only oclif runs`, commands: {}}
  }
  return {commands: Object.fromEntries(commands.map((command) => [command.id, fastCommandOf(command)]))}
}

export function fastCommandOf(command: CommandDefinition): FastCommand {
  const refuse = (why: string): never => {
    throw new Error(`the start-up fast path cannot run ${command.id}: ${why} (fast-spec.ts)`)
  }
  if (command.id.includes(':')) refuse('it is in a topic')
  if (command.strict === false) refuse('it is not strict')
  if (command.enableJsonFlag === true || Object.keys(command.baseFlags ?? {}).length > 0) refuse('it has base flags')
  if (command.state === 'deprecated') refuse('it is deprecated')
  if ((command.aliases ?? []).length > 0) refuse('it has aliases')
  const flags = Object.fromEntries(Object.entries(command.flags ?? {}).map(([name, flag]) => [name, fastFlagOf(name, flag, refuse)]))
  const args = Object.entries(command.args ?? {}).map(([name, arg], i, all) => {
    const extra = unreadProperties(arg, ['required', 'ignoreStdin'])
    if (extra.length > 0) refuse(`argument ${name} has ${extra.join(', ')}`)
    // oclif reads an optional argument that was not given from stdin, unless told not to.
    if (arg.required !== true && arg.ignoreStdin !== true) refuse(`argument ${name} is optional and read from stdin when absent`)
    if (arg.required === true && all.slice(0, i).some(([, before]) => before.required !== true)) refuse(`argument ${name} is required after an optional one`)
    if (typeof arg.parse !== 'function' || arg.parse.toString() !== stringArgParseSource) refuse(`argument ${name} has its own parse`)
    return {name, required: arg.required === true}
  })
  return {flags, args}
}

function fastFlagOf(name: string, flag: Readonly<Record<string, unknown>>, refuse: (why: string) => never): FastFlag {
  const extra = unreadProperties(flag, ['char', 'multiple', 'multipleNonGreedy', 'required', 'default', 'min', 'max', 'options', 'allowNo'])
  if (extra.length > 0) refuse(`flag --${name} has ${extra.join(', ')}`)
  const parse = flag.parse as ((...args: unknown[]) => unknown) | undefined
  const common = {
    ...(typeof flag.char === 'string' ? {char: flag.char} : {}),
    ...(flag.required === true ? {required: true} : {}),
  }
  if (flag.default !== undefined && !['boolean', 'number', 'string'].includes(typeof flag.default)) refuse(`flag --${name} has a computed default`)
  if (flag.type === 'boolean') {
    if (flag.allowNo === true) refuse(`flag --${name} takes --no-${name}`)
    if (parse?.toString() !== booleanParseSource) refuse(`flag --${name} has its own parse`)
    return {kind: 'boolean', ...common, ...(flag.default === undefined ? {} : {default: flag.default as boolean})}
  }
  if (flag.type !== 'option') return refuse(`flag --${name} is of type ${String(flag.type)}`)
  if (flag.multiple === true && flag.multipleNonGreedy !== true) refuse(`flag --${name} takes several values after one --${name}`)
  const kind = parse === integerParse ? 'integer' : parse?.toString() === stringParseSource ? 'string' : refuse(`flag --${name} has its own parse`)
  if (kind === 'string' && (flag.min !== undefined || flag.max !== undefined)) refuse(`flag --${name} has bounds but no integer parse`)
  return {
    kind,
    ...common,
    ...(flag.multiple === true ? {multiple: true} : {}),
    ...(flag.default === undefined ? {} : {default: flag.default as number | string}),
    ...(typeof flag.min === 'number' ? {min: flag.min} : {}),
    ...(typeof flag.max === 'number' ? {max: flag.max} : {}),
    ...(Array.isArray(flag.options) ? {options: flag.options as string[]} : {}),
  }
}

/** The properties with a value that neither the help nor the fast path reads. */
function unreadProperties(definition: Readonly<Record<string, unknown>>, read: readonly string[]): string[] {
  return Object.entries(definition)
    .filter(([property, value]) => !helpOnly.has(property) && !read.includes(property) && value !== undefined && value !== false && !(Array.isArray(value) && value.length === 0))
    .map(([property]) => property)
}
