/**
 * Hinted handoff, the sending side (paper §4.6; Riak's handoff_sender): the node's scheduler
 * calls `round` every handoff interval, and for each target that has hints here and that the
 * failure detector sees as reachable, the hints are sent back in batches (HintDelivery). The
 * target merges each into its own copy (never overwriting what it has, see replica-server.ts)
 * and syncs it before answering; only then is each acknowledged hint removed, and only if no
 * newer write merged into it meanwhile. A hint the target refuses for good (a sibling or size
 * limit its copy has reached) is dropped and counted: keeping it would retry it forever.
 *
 * Bounded: one round at a time, `batchesPerRoundMax` batches per target per round, at most
 * `hintDeliveryEntriesMax` hints and about `batchBytesMax` bytes per batch.
 */

import {MessageType} from '../transport/message-type.js'
import type {Transport} from '../transport/transport.js'
import type {HintStore, PendingHint} from './hints.js'

/** Batches sent to one target in one round at most; the next round goes on. */
export const batchesPerRoundMax = 64
/** Bytes of hints in one batch at most (at least one hint), well below the 16 MiB frame limit. */
export const batchBytesMax = 4 * 1024 * 1024
/** How often the sender looks for targets that are back. */
export const handoffIntervalMsDefault = 1000

/** Codes a target refuses a hint with that another try cannot change: the hint is dropped. */
const permanentRefusals: ReadonlySet<string> = new Set(['too_many_siblings', 'object_too_large', 'bad_request'])

export interface HandoffDeps {
  readonly hints: HintStore
  readonly transport: Transport
  /** The internode address of a member, or undefined when it is not (or no longer) one. */
  rpcAddressOf(name: string): string | undefined
  /** The failure detector's view: only reachable targets are sent to. */
  isUp(name: string): boolean
  readonly requestTimeoutMs: number
  readonly batchEntriesMax: number
  readonly log: (line: string) => void
  onDelivered?(target: string, count: number): void
  onDropped?(target: string, count: number): void
}

/** What HintDelivery carries, as the receiving side (src/coordinator/messages.ts) checks it. */
interface DeliveryBody {
  readonly entries: ReadonlyArray<{readonly partition: number; readonly key: string; readonly object: PendingHint['object']}>
}

export class HandoffSender {
  private running: Promise<void> | undefined

  constructor(private readonly deps: HandoffDeps) {}

  /** One round over every target with hints; a round still running is not started twice. */
  round(): Promise<void> {
    this.running ??= this.deliverAll().finally(() => {
      this.running = undefined
    })
    return this.running
  }

  private async deliverAll(): Promise<void> {
    for (const target of this.deps.hints.pendingByTarget().keys()) {
      if (!this.deps.isUp(target)) continue
      const address = this.deps.rpcAddressOf(target)
      if (address === undefined) continue
      await this.deliverTo(target, address)
    }
  }

  /** Batches to one target until it has no hints left, a batch fails, or the round's bound. */
  private async deliverTo(target: string, address: string): Promise<void> {
    for (let batchIndex = 0; batchIndex < batchesPerRoundMax; batchIndex += 1) {
      const batch = await this.deps.hints.batch(target, this.deps.batchEntriesMax, batchBytesMax)
      if (batch.length === 0) return
      const body: DeliveryBody = {entries: batch.map(({partition, key, object}) => ({partition, key, object}))}
      const answer = await this.deps.transport.request(address, MessageType.HintDelivery, body, this.deps.requestTimeoutMs)
      if (!answer.ok) {
        this.deps.log(`handoff of ${batch.length} hint(s) to ${target} failed (${answer.code ?? answer.error}); retrying next round`)
        return
      }
      const results = (answer.body as {results?: unknown} | null)?.results
      if (!Array.isArray(results) || results.length !== batch.length) {
        this.deps.log(`handoff to ${target}: malformed answer; retrying next round`)
        return
      }
      const acknowledged = batch.filter((_, index) => results[index] === 'ok')
      const refused = batch.filter((_, index) => typeof results[index] === 'string' && permanentRefusals.has(results[index] as string))
      const delivered = await this.deps.hints.remove(target, acknowledged)
      if (delivered > 0) this.deps.onDelivered?.(target, delivered)
      if (refused.length > 0) {
        const dropped = await this.deps.hints.remove(target, refused)
        this.deps.log(`${target} refused ${refused.length} hint(s) for good (${refused.map((hint) => hint.key).slice(0, 5).join(', ')}); dropped ${dropped}`)
        if (dropped > 0) this.deps.onDropped?.(target, dropped)
      }
      // Nothing left that this batch could remove (all changed meanwhile, or refused for now): stop, the next round retries.
      if (acknowledged.length + refused.length === 0) return
    }
  }
}
