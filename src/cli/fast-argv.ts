/**
 * The start-up fast path's reading of a command line (fast-path.ts): a strict subset of what
 * oclif's parser accepts, read exactly as oclif reads it, and `undefined` for everything else.
 * Nothing here reports an error: a command line it does not take, a mistake included, goes to
 * oclif, which parses it again and answers with its own message, exit code and `--json` form.
 * So the subset can stay small: `--flag value`, `--flag=value`, `-c value` and positional
 * arguments (none that starts with `-`); no `--`, no bundled short flags (`-r1`), no `--no-` negations, no flag twice
 * unless it takes several values, no value that starts with `-`. Pure; test/unit/fast-argv.test.ts
 * holds it to oclif's parser on the commands that use it.
 */

/** One flag as the fast path reads it (fast-spec.ts derives it from the oclif definition). */
export interface FastFlag {
  readonly kind: 'boolean' | 'string' | 'integer'
  readonly char?: string
  /** Several values, one per occurrence (oclif's `multiple` with `multipleNonGreedy`). */
  readonly multiple?: boolean
  readonly required?: boolean
  readonly default?: boolean | number | string
  readonly min?: number
  readonly max?: number
  readonly options?: readonly string[]
}

/** A positional argument: a plain string; an optional one is absent when not given (never read from stdin). */
export interface FastArg {
  readonly name: string
  readonly required: boolean
}

/** A command's flags, and its positional arguments in order, the required ones first. */
export interface FastCommand {
  readonly flags: Readonly<Record<string, FastFlag>>
  readonly args: readonly FastArg[]
}

export interface FastParsed {
  readonly args: Readonly<Record<string, string>>
  readonly flags: Readonly<Record<string, unknown>>
}

/** oclif's test for an integer flag's value (Flags.integer). */
const integerPattern = /^-?\d+$/

/**
 * The command line (after the command's id) read as oclif would read it, or undefined when it is
 * outside the subset or oclif would refuse it.
 */
export function parseFast(argv: readonly string[], command: FastCommand): FastParsed | undefined {
  const given = new Map<string, string[]>()
  const positional: string[] = []
  for (let i = 0; i < argv.length; i += 1) {
    const token = argv[i] as string
    if (!token.startsWith('-') || token === '-') {
      positional.push(token)
      continue
    }
    const found = flagOf(token, command)
    if (found === undefined) return undefined
    const [name, flag, attached] = found
    let value: string
    if (flag.kind === 'boolean') {
      if (attached !== undefined) return undefined
      value = 'true'
    } else if (attached !== undefined) {
      value = attached
    } else {
      const next = argv[i + 1]
      if (next === undefined) return undefined
      value = next
      i += 1
    }
    // oclif reads a value that names a flag as a missing value; a negative number, as a value.
    if (value === '' || value.startsWith('-')) return undefined
    const values = given.get(name) ?? []
    if (values.length > 0 && flag.multiple !== true) return undefined
    values.push(value)
    given.set(name, values)
  }
  const required = command.args.filter((arg) => arg.required).length
  if (positional.length < required || positional.length > command.args.length) return undefined
  const flags: Record<string, unknown> = {}
  for (const [name, flag] of Object.entries(command.flags)) {
    const values = given.get(name)
    if (values === undefined) {
      if (flag.required === true) return undefined
      if (flag.default !== undefined) flags[name] = flag.default
      continue
    }
    const parsed: unknown[] = []
    for (const text of values) {
      const value = valueOf(text, flag)
      if (value === undefined) return undefined
      parsed.push(value)
    }
    flags[name] = flag.multiple === true ? parsed : parsed[0]
  }
  const args = Object.fromEntries(positional.map((value, i) => [(command.args[i] as FastArg).name, value]))
  return {args, flags}
}

/** The flag a token names, with a value given after `=`; undefined for a token outside the subset. */
function flagOf(token: string, command: FastCommand): [string, FastFlag, string | undefined] | undefined {
  if (token.startsWith('--')) {
    const equals = token.indexOf('=')
    const name = equals === -1 ? token.slice(2) : token.slice(2, equals)
    const flag = Object.hasOwn(command.flags, name) ? command.flags[name] : undefined
    return flag === undefined ? undefined : [name, flag, equals === -1 ? undefined : token.slice(equals + 1)]
  }
  if (token.length !== 2) return undefined
  const entry = Object.entries(command.flags).find(([, flag]) => flag.char === token[1])
  return entry === undefined ? undefined : [entry[0], entry[1], undefined]
}

/** A value as oclif's flag gives it to the command, or undefined where oclif would refuse it. */
function valueOf(text: string, flag: FastFlag): unknown {
  if (flag.kind === 'boolean') return true
  if (flag.options !== undefined && !flag.options.includes(text)) return undefined
  if (flag.kind === 'string') return text
  if (!integerPattern.test(text)) return undefined
  const number = Number.parseInt(text, 10)
  if (flag.min !== undefined && number < flag.min) return undefined
  if (flag.max !== undefined && number > flag.max) return undefined
  return number
}
