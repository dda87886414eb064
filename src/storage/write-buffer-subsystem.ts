/**
 * The store's write buffer as one of a node's subsystems (paper §6.1, durability against
 * performance): with `--write-buffer-ms T` above 0, a write that is not durable is buffered in
 * memory (store.ts) and this subsystem's one task flushes the buffer every T ms as one batch.
 * With T = 0 every write goes to the database at once and it has nothing to do.
 *
 * It serves no internode message and adds nothing to GET /stats: the buffer's figures
 * (`writeBufferMs`, `bufferedObjects`) are the store's, which the node serves with its own. It
 * has nothing to stop either: closing the store flushes what is left.
 */

import type {Subsystem} from '../subsystem.js'
import type {Store} from './store.js'

export function writeBufferSubsystem(store: Store, writeBufferMs: number): Subsystem {
  return {
    name: 'write buffer',
    handlers: new Map(),
    periodicTasks: writeBufferMs > 0 ? [{name: 'write buffer flush', intervalMs: writeBufferMs, run: () => store.flush()}] : [],
    stats: () => ({}),
    stop: async () => undefined,
  }
}
