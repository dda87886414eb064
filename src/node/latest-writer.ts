/**
 * Writes the newest of a stream of values, one write at a time: a value offered while a write is
 * queued replaces the queued one, so every change made in one turn of the event loop lands in
 * one write, and a burst of changes during a slow write costs one more write, not one each.
 *
 * Why the node needs it (assemble.ts, the member table): a claimant's install and its marking
 * of the removed members are two changes of one turn, and written one after the other a crash
 * between the two writes left a disk holding the new ring with the removed members' rows still
 * valid, which the restarted node then gossiped. The values are whole snapshots, so writing only
 * the newest loses nothing. The write function is the caller's; failures go to `onError`, and
 * the next offer writes again.
 */

export class LatestWriter<T> {
  private unwritten: {readonly value: T} | undefined
  private chain: Promise<void> = Promise.resolve()

  constructor(
    private readonly write: (value: T) => Promise<void>,
    private readonly onError: (error: Error) => void,
  ) {}

  /** Queue `value` to be written, in place of any value queued and not yet written. */
  offer(value: T): void {
    const queued = this.unwritten !== undefined
    this.unwritten = {value}
    if (queued) return
    this.chain = this.chain
      .then(() => {
        const newest = this.unwritten
        this.unwritten = undefined
        return newest === undefined ? undefined : this.write(newest.value)
      })
      .catch((error: unknown) => {
        // A report that throws in turn must not leave the chain rejected: every later write would
        // be skipped while a value stayed queued, and the table would never be written again.
        try {
          this.onError(error instanceof Error ? error : new Error(String(error)))
        } catch {
          // Nothing more to report it with.
        }
      })
  }

  /** Settles once every value offered so far has been written (or failed). */
  settled(): Promise<void> {
    return this.chain
  }
}
