/**
 * What the bench's stand-alone scripts (bench:compare, bench:etcd) share of their command lines:
 * their flags read strictly (an unknown flag or a flag without its value is a `bad_parameter`), `--help` answered with the script's usage, whole-number flags held
 * within bounds, and a failure answered as every dyn command answers one: `{ok: false, error,
 * message}` with --json, otherwise one line on stderr naming the script and the stable code, and
 * the exit code that code maps to.
 */

import type {Parsed} from './faults.js'

/** A whole-number flag from its text, `fallback` when it was not given; refused outside [min, max] (`max` may be infinite). */
export function integerFlag(name: string, text: string | undefined, fallback: number, min: number, max: number): Parsed<number> {
  if (text === undefined) return {ok: true, value: fallback}
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN
  if (!(value >= min && value <= max)) return {ok: false, message: `--${name} ${text}: a whole number ${max === Number.POSITIVE_INFINITY ? `of at least ${min}` : `from ${min} to ${max}`}`}
  return {ok: true, value}
}

/** Answers a script's failure (on stdout as JSON with --json, else on stderr) and exits with its code's exit code. */
export function failScript(script: string, exitCode: number, json: boolean, code: string, message: string): never {
  if (json) process.stdout.write(`${JSON.stringify({ok: false, error: code, message}, null, 2)}\n`)
  else process.stderr.write(`${script}: ${message} [${code}]\n`)
  process.exit(exitCode)
}

/**
 * A script's own flags as `read` gives them (node:util's parseArgs, strict); undefined once
 * `--help` has been answered with `usage`. A line `read` refuses goes to `refuse` as a message
 * that points at --help.
 */
export function readScriptFlags<Values extends {readonly help?: boolean | undefined}>(read: () => Values, usage: string, refuse: (message: string) => never): Values | undefined {
  let values: Values
  try {
    values = read()
  } catch (error) {
    refuse(`${(error as Error).message} (see --help)`)
  }
  if (values.help === true) {
    process.stdout.write(usage)
    return undefined
  }
  return values
}
