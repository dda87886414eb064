/**
 * A process's scheduling state as Linux's /proc/PID/stat gives it (R running, S sleeping, T
 * stopped by a signal, Z a zombie, ...), for the local cluster's checks of its own processes.
 */

import {readFileSync} from 'node:fs'

/** The fields of /proc/PID/stat after the command's name (which is in parentheses and may hold spaces), from the state on; undefined where it cannot be read. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const end = stat.lastIndexOf(')')
    return end < 0 ? undefined : stat.slice(end + 2).split(' ')
  } catch {
    return undefined
  }
}

/** The state letter of `pid`, or undefined where it cannot be read (no such process, no /proc). */
export function processStateOf(pid: number): string | undefined {
  return statFields(pid)?.[0]
}

/**
 * When `pid` started, in clock ticks since boot (field 22 of /proc/PID/stat): with the pid, it
 * names one process, since a pid the system hands out again comes with a later start. Undefined
 * where it cannot be read.
 */
export function processStartTicksOf(pid: number): string | undefined {
  // Field 22 counted from the pid (1): the state is field 3, so it is the 20th after it.
  return statFields(pid)?.[19]
}
