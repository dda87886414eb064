/**
 * Serializes the read-modify-write of one key on one replica. Two writes to the same key that
 * arrive together must not both read the old object and overwrite each other's version; a
 * per-key promise chain makes the second wait for the first, while different keys proceed
 * in parallel.
 */

export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>()

  /** How many keys have a critical section running or waiting; bounded by the callers' in-flight bound. */
  get lockedKeyCount(): number {
    return this.tails.size
  }

  async run<T>(key: string, critical: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key)
    let release!: () => void
    const done = new Promise<void>((resolve) => {
      release = resolve
    })
    const tail = previous === undefined ? done : previous.then(() => done)
    this.tails.set(key, tail)
    try {
      if (previous !== undefined) await previous
      return await critical()
    } finally {
      release()
      // Only the last waiter removes the entry, so the map never grows beyond the keys in use.
      if (this.tails.get(key) === tail) this.tails.delete(key)
    }
  }

  /** Resolves once no critical section runs or waits; callers must stop starting new ones first. */
  async idle(): Promise<void> {
    // Each pass waits for every section known at its start; the caller's bound on new sections
    // makes the number of passes finite.
    while (this.tails.size > 0) await Promise.all([...this.tails.values()])
  }
}
