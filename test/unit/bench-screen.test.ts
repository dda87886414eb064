/**
 * The bench's live screen on a terminal (src/cli/bench-screen.tsx), drawn on a stream that
 * stands in for one: it draws nothing until the run's first snapshot, so a run refused before it
 * starts (a node that does not answer) leaves only the refusal on the terminal.
 */

import assert from 'node:assert/strict'
import {EventEmitter} from 'node:events'
import {describe, it} from 'node:test'
import type {ProgressSnapshot} from '../../bench/runner.js'
import {startBenchScreen} from '../../src/cli/bench-screen.js'

/** A terminal's output stream as ink uses it, keeping what was written. */
function terminalStream(size: {columns: number; rows: number} = {columns: 100, rows: 24}): NodeJS.WriteStream & {written: string} {
  const stream = Object.assign(new EventEmitter(), {
    written: '',
    columns: size.columns,
    rows: size.rows,
    isTTY: true,
    write(chunk: string | Uint8Array): boolean {
      stream.written += String(chunk)
      return true
    },
  })
  return stream as unknown as NodeJS.WriteStream & {written: string}
}

const running: ProgressSnapshot = {phase: 'running', elapsedS: 1, durationS: 4, done: 0, operations: []}

describe('bench screen', () => {
  it('draws nothing before the first snapshot: a refused run leaves no "starting" behind', () => {
    const stream = terminalStream()
    const screen = startBenchScreen(stream)
    screen.stop()
    assert.equal(stream.written, '')
  })

  it('draws each snapshot it gets, from the first one on', () => {
    const stream = terminalStream()
    const screen = startBenchScreen(stream)
    screen.update({phase: 'starting', elapsedS: 0, durationS: 0, done: 0, operations: []})
    screen.update(running)
    screen.stop()
    assert.match(stream.written, /running/)
  })

  it('draws whole lines on a terminal that reports no size (as script or docker run -t make), as 80 columns', () => {
    const stream = terminalStream({columns: 0, rows: 0})
    // Ink then asks the environment, which under such a terminal says 0 too.
    const saved = {COLUMNS: process.env.COLUMNS, LINES: process.env.LINES}
    Object.assign(process.env, {COLUMNS: '0', LINES: '0'})
    try {
      const screen = startBenchScreen(stream)
      screen.update(running)
      screen.stop()
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
    }
    // Without a width ink laid the screen out 0 columns wide: one character a line.
    assert.match(stream.written.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, ''), /running/)
  })
})
