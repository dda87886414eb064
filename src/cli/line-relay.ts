/**
 * Passes a child process's output on whole lines at a time, for `dyn start --processes K`
 * (start-processes.ts), whose K nodes all write to the one stdout and stderr of the command.
 *
 * A pipe hands over whatever the child has written so far, which may end in the middle of a
 * line: a log line longer than the pipe's buffer, or one written in pieces. Passed on as it came,
 * such a piece would be followed on the shared stream by another node's line, and a user reading
 * the log, or a program reading the nodes' `--json` lines, would get two halves of two lines
 * glued together. So each child's bytes are cut at newlines, and an unfinished line waits for
 * the rest of it. The wait is bounded: a line that grows past `pendingBytesMax` is passed on as
 * it is (a child that never ends its line cannot hold its output, or this process's memory, for
 * ever), and what is left when the child's stream ends is passed on then.
 *
 * Pure: bytes in, bytes out; the caller writes them.
 */

import {assert} from '../errors.js'

const newline = 0x0a

/** An unfinished line longer than this is passed on without its end: 64 KiB, far above any log line a node writes. */
export const pendingBytesMaxDefault = 64 * 1024

export class LineRelay {
  readonly #pendingBytesMax: number
  /** The start of an unfinished line, in the order it came. */
  #pending: Buffer[] = []
  #pendingBytes = 0

  constructor(pendingBytesMax: number = pendingBytesMaxDefault) {
    assert(Number.isInteger(pendingBytesMax) && pendingBytesMax >= 1, 'the pending bound is a whole number of bytes >= 1')
    this.#pendingBytesMax = pendingBytesMax
  }

  /** Bytes of an unfinished line held back now. */
  get pendingBytes(): number {
    return this.#pendingBytes
  }

  /**
   * Takes the next chunk of the stream and gives back what can be passed on now: every whole
   * line (with its newline) it completes, in order, as one buffer; empty when it completes none.
   */
  push(chunk: Buffer): Buffer {
    const lastNewline = chunk.lastIndexOf(newline)
    if (lastNewline === -1) {
      this.#pending.push(chunk)
      this.#pendingBytes += chunk.length
      return this.#pendingBytes > this.#pendingBytesMax ? this.end() : Buffer.alloc(0)
    }
    const complete = this.#pendingBytes === 0 ? chunk.subarray(0, lastNewline + 1) : Buffer.concat([...this.#pending, chunk.subarray(0, lastNewline + 1)])
    const rest = chunk.subarray(lastNewline + 1)
    this.#pending = rest.length === 0 ? [] : [rest]
    this.#pendingBytes = rest.length
    if (this.#pendingBytes > this.#pendingBytesMax) return Buffer.concat([complete, this.end()])
    return complete
  }

  /** The stream ended (or the bound was passed): whatever is held back, as it is. */
  end(): Buffer {
    const rest = this.#pending.length === 1 ? (this.#pending[0] as Buffer) : Buffer.concat(this.#pending)
    this.#pending = []
    this.#pendingBytes = 0
    return rest
  }
}
