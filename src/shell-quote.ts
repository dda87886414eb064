/**
 * One word of a shell command line, for the commands dyn prints for its user to paste (a folder
 * or file with a space in its name, as a user may have). Shared by the CLI and the node, whose
 * start-up refusals also say what to type.
 */

/** `text` as one word of a shell command line: as it is when that is safe, else in single quotes. */
export function shellQuote(text: string): string {
  return /^[A-Za-z0-9_:./@-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`
}

/**
 * `command` with `key` as its argument, for a user to paste: `command KEY REST FLAGS`, or, for a
 * key that starts with a dash (which the command would take for a flag), `command FLAGS -- KEY
 * REST`, since everything after `--` is an argument. `flags` and `rest` are already words of a
 * command line, each with its leading space ('' for none).
 */
export function commandWithKey(command: string, key: string, flags = '', rest = ''): string {
  const quoted = shellQuote(key)
  return key.startsWith('-') ? `${command}${flags} -- ${quoted}${rest}` : `${command} ${quoted}${rest}${flags}`
}
