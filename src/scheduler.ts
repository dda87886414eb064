/**
 * Time-based work as an injectable input, next to `Clock`. Every timer in src/ (gossip rounds,
 * join retries, write-buffer flushes, group commit, transport timeouts and back-off, request
 * timeouts) is set through a `Scheduler`, so that the same node code runs on the real event loop
 * (`src/node/system-time.ts`, used only by the process shell, the CLI and bench/) and on the
 * simulated, virtual-time event queue of `simulated-time.ts`, where a whole cluster replays
 * deterministically from one seed.
 */

/** An opaque handle to a scheduled callback: hand it back to `Scheduler.cancel`. */
export interface Timer {
  readonly __timerBrand: never
}

export interface Scheduler {
  /** Runs `callback` once, `delayMs` (finite, >= 0) from now. */
  after(delayMs: number, callback: () => void): Timer
  /** Runs `callback` every `intervalMs` (finite, > 0) until cancelled; the first run is one interval from now. */
  every(intervalMs: number, callback: () => void): Timer
  /**
   * Runs `callback` once the current burst of work is done (the real scheduler uses setImmediate:
   * after the I/O callbacks of this turn of the event loop), and before any timer due later.
   */
  soon(callback: () => void): void
  /** Cancels a timer from `after` or `every`; idempotent, and a no-op once a one-shot timer has run. */
  cancel(timer: Timer): void
}

/** A promise that resolves `delayMs` from now on `scheduler`'s time. */
export function sleep(scheduler: Scheduler, delayMs: number): Promise<void> {
  return new Promise((resolve) => {
    scheduler.after(delayMs, resolve)
  })
}
