/**
 * One word of a shell command line, for the commands dyn prints for its user to paste (a folder
 * or file with a space in its name, as a user may have). Shared by the CLI and the node, whose
 * start-up refusals also say what to type.
 */

/** `text` as one word of a shell command line: as it is when that is safe, else in single quotes. */
export function shellQuote(text: string): string {
  return /^[A-Za-z0-9_:./@-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`
}
