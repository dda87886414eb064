/**
 * Command-line arguments that are not UTF-8. Node decodes the command line as UTF-8 and puts
 * U+FFFD in place of every byte that is not, so `dyn put $'k\xff' v` and `dyn get $'k\xfe'` named
 * the same key, "k\uFFFD" (a new user's walk), and a value typed so was stored changed. Keys are
 * UTF-8 text (README); the bytes the user typed are still in /proc/self/cmdline, where Linux keeps
 * them, and an argument that holds U+FFFD is refused when the argument typed was not UTF-8. A key
 * or value that holds U+FFFD itself, typed as UTF-8, is taken. Where the command line cannot be
 * read (not Linux), such an argument goes to the node as Node decoded it.
 */

import {isUtf8} from 'node:buffer'
import {readFileSync} from 'node:fs'

/** Whether `argument` (as Node decoded it) was typed with bytes that are not UTF-8. */
function typedAsNonUtf8(argument: string): boolean {
  if (!argument.includes('\uFFFD')) return false
  let commandLine: Buffer
  try {
    commandLine = readFileSync('/proc/self/cmdline')
  } catch {
    return false
  }
  // The arguments are NUL-terminated; the one that decodes to `argument` and is not UTF-8 was typed so.
  let start = 0
  while (start < commandLine.length) {
    const end = commandLine.indexOf(0, start)
    const raw = commandLine.subarray(start, end === -1 ? commandLine.length : end)
    if (!isUtf8(raw) && raw.toString('utf8') === argument) return true
    if (end === -1) break
    start = end + 1
  }
  return false
}

/** Why `key` (a command-line argument) cannot be used as it is, or undefined when it can. */
export function keyArgumentRefusal(key: string): string | undefined {
  if (!typedAsNonUtf8(key)) return undefined
  return `the key argument ${JSON.stringify(key)} was typed with bytes that are not UTF-8 (each shown as \uFFFD): keys are UTF-8 text, and every such byte would read as the same character, so different keys would be one; give the key in UTF-8 (for a binary name, encode it, e.g. in hex)`
}

/** Why `value` (a command-line argument) cannot be stored as it is, or undefined when it can. */
export function valueArgumentRefusal(value: string): string | undefined {
  if (!typedAsNonUtf8(value)) return undefined
  return 'the value argument was typed with bytes that are not UTF-8, which the command line cannot pass on unchanged (each would be stored as \uFFFD): give a binary value on stdin (dyn put KEY < FILE)'
}
