/**
 * How fast this node's ownership transfers move, for the ETA that `dyn cluster status` shows
 * (paper §4.9's transfers; transfer.ts). Pure: times come in as monotonic milliseconds.
 *
 * The ETA is the remaining partitions times the time one partition has taken, counting only the
 * time the transfers moved: a gap between two pages longer than `stallMs` counts as `stallMs`,
 * and time spent waiting for a reason the snapshot names (a source down, the transition not yet
 * seen by every member) counts not at all. Counting the whole time since the first start, as an
 * earlier version did, made the ETA after a stall of a minute as long as if every partition had
 * stalled as long. The time per partition is wall time over partitions finished, so the
 * transfers that run at once are already in it: the remaining partitions take that time each.
 */

import {assert} from '../errors.js'

export class TransferPace {
  private movingMs = 0
  private finished = 0
  private lastProgressMs: number

  constructor(
    startMs: number,
    private readonly stallMs: number,
  ) {
    assert(stallMs > 0, 'a stall is some time without progress')
    this.lastProgressMs = startMs
  }

  /** A page came in (or a partition finished): the time since the last progress counts, at most stallMs of it. */
  progress(nowMs: number): void {
    this.movingMs += this.movedSinceProgressMs(nowMs)
    this.lastProgressMs = nowMs
  }

  /** Nothing may move, for a reason the snapshot names: the time since the last progress does not count. */
  waiting(nowMs: number): void {
    this.lastProgressMs = nowMs
  }

  finish(nowMs: number): void {
    this.progress(nowMs)
    this.finished += 1
  }

  /** How long since the last page, for the stall rule. */
  sinceProgressMs(nowMs: number): number {
    return nowMs - this.lastProgressMs
  }

  /** The remaining partitions times the moving time per finished one; undefined before one finishes. */
  etaMs(nowMs: number, remaining: number): number | undefined {
    if (this.finished === 0) return undefined
    const movingMs = this.movingMs + this.movedSinceProgressMs(nowMs)
    return Math.round((movingMs / this.finished) * Math.max(0, remaining))
  }

  /** The time since the last progress that counts as moving: at most stallMs of it. */
  private movedSinceProgressMs(nowMs: number): number {
    return Math.min(Math.max(0, nowMs - this.lastProgressMs), this.stallMs)
  }
}
