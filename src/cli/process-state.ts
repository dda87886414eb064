/**
 * A process's scheduling state as Linux's /proc/PID/stat gives it (R running, S sleeping, T
 * stopped by a signal, Z a zombie, ...), for the local cluster's checks of its own processes.
 */

import {readFileSync} from 'node:fs'

/** The state letter of `pid`, or undefined where it cannot be read (no such process, no /proc). */
export function processStateOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The state follows the command's name, which is in parentheses and may hold spaces.
    const end = stat.lastIndexOf(')')
    return end < 0 ? undefined : stat.slice(end + 2, end + 3)
  } catch {
    return undefined
  }
}
