/**
 * isProcessPaused (src/cli/local-cluster.ts), which dyn cluster status uses to tell a paused node
 * (SIGSTOP, Ctrl-Z: its ports open, nothing answered) from one still starting: on a real child
 * process, stopped and resumed.
 */

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {setTimeout as sleep} from 'node:timers/promises'
import {it} from 'node:test'
import {isProcessPaused} from '../../src/cli/local-cluster.js'

it('says a process is paused while it is stopped by SIGSTOP, and not once resumed', async (t) => {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => undefined, 1000)'], {stdio: 'ignore'})
  t.after(() => {
    child.kill('SIGKILL')
  })
  const pid = child.pid as number
  const until = async (paused: boolean): Promise<boolean> => {
    // The kernel stops and resumes the process asynchronously: looked at until it says so, 5 s at most.
    for (let tries = 0; tries < 100 && isProcessPaused(pid) !== paused; tries += 1) await sleep(50)
    return isProcessPaused(pid)
  }
  assert.equal(await until(false), false)
  process.kill(pid, 'SIGSTOP')
  assert.equal(await until(true), true)
  process.kill(pid, 'SIGCONT')
  assert.equal(await until(false), false)
  assert.equal(isProcessPaused(2 ** 22 + 12345), false, 'no such process')
})
