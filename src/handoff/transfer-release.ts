/**
 * The second half of an ownership transfer: once a new ring is installed, each node hands the
 * partitions it is no longer a home replica of to their new homes (Riak's ownership handoff from
 * the old owner). The receivers already fetched these partitions before the install
 * (transfer.ts), so this pass only carries what reached the old home after their scan and whose
 * copy to the pending homes was lost (a write acknowledged by this node alone, w=1, included),
 * and it is what a leaving node does last before it exits.
 *
 * It waits one request timeout and two gossip rounds after the install, so that coordinators
 * still routing by the old ring have finished, then pages through each released partition and
 * merges every object into each new home (ReplicaPut: `sync`, never an overwrite). The list of
 * released partitions and the position in each are persisted, so a restart resumes the pass.
 */

import type {Clock} from '../clock.js'
import type {Membership} from '../membership/membership.js'
import {findMember} from '../membership/member-table.js'
import type {Ring} from '../ring/ring.js'
import type {Store} from '../storage/store.js'
import {MessageType} from '../transport/message-type.js'
import type {Transport} from '../transport/transport.js'
import {homesOf} from './transfer-plan.js'

/** Objects read from the local store per page of a release. */
export const releasePageKeys = 256
/** Pages handed off per partition in one round; a larger partition continues in the next round. */
export const releasePagesPerRunMax = 10_000
/** One object's merge on a new home. */
export const releasePutTimeoutMs = 10_000

interface ReleaseItem {
  readonly partition: number
  readonly targets: readonly string[]
  readonly afterKey?: string
}

interface ReleaseState {
  /** The ring whose install released these partitions. */
  readonly ringHash: string
  readonly items: readonly ReleaseItem[]
}

export interface ReleaseDeps {
  readonly self: string
  readonly store: Store
  readonly transport: Transport
  readonly clock: Clock
  readonly membership: Membership
  replicationFactor(): number
  /** How long coordinators may still route by the old ring after an install. */
  readonly settleMs: number
  log(line: string): void
}

const releaseMetaName = 'transfer.release'

export class ReleaseHandoff {
  private lastRing: Ring | undefined
  private state: ReleaseState | undefined
  private loaded = false
  private installSeenAtMs = 0
  private runningPass: Promise<void> | undefined
  private stopped = false

  constructor(private readonly deps: ReleaseDeps) {
    this.lastRing = deps.membership.ring
  }

  /** Partitions still to hand off. */
  get pendingCount(): number {
    return this.state?.items.length ?? 0
  }

  /** One round: notice an install, and hand off what it released once coordinators have caught up. */
  async tick(): Promise<void> {
    if (this.stopped) return
    if (!this.loaded) {
      this.state = await this.deps.store.getMeta<ReleaseState>(releaseMetaName)
      this.loaded = true
      this.installSeenAtMs = this.deps.clock.monotonicMs()
    }
    const ring = this.deps.membership.ring
    const previous = this.lastRing
    this.lastRing = ring
    if (previous !== undefined && previous.hash !== ring.hash) await this.noteInstall(previous, ring)
    if (this.state === undefined || this.state.items.length === 0) return
    if (this.deps.clock.monotonicMs() - this.installSeenAtMs < this.deps.settleMs) return
    this.runningPass ??= this.pass().finally(() => {
      this.runningPass = undefined
    })
    await this.runningPass
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.runningPass
  }

  private async noteInstall(before: Ring, after: Ring): Promise<void> {
    const n = this.deps.replicationFactor()
    const items: ReleaseItem[] = [...(this.state?.items ?? [])]
    for (let partition = 0; partition < after.partitionCount; partition++) {
      const oldHomes = homesOf(before, partition, Math.min(n, before.members.length))
      const newHomes = homesOf(after, partition, Math.min(n, after.members.length))
      if (!oldHomes.includes(this.deps.self) || newHomes.includes(this.deps.self)) continue
      const others = items.filter((item) => item.partition !== partition)
      items.length = 0
      items.push(...others, {partition, targets: newHomes})
    }
    this.state = {ringHash: after.hash, items}
    this.installSeenAtMs = this.deps.clock.monotonicMs()
    await this.deps.store.putMeta(releaseMetaName, this.state)
    if (items.length > 0) this.deps.log(`ring installed: handing off ${items.length} released partition(s) once coordinators have caught up`)
  }

  /** Hand off each released partition in turn; a failure leaves the rest for the next round. */
  private async pass(): Promise<void> {
    for (;;) {
      const item = this.state?.items[0]
      if (item === undefined || this.stopped) return
      const finished = await this.handOff(item)
      if (!finished) return
      const rest = (this.state?.items ?? []).filter((other) => other !== item && other.partition !== item.partition)
      this.state = {ringHash: this.state?.ringHash ?? '', items: rest}
      await this.deps.store.putMeta(releaseMetaName, this.state)
      this.deps.log(`handed off released partition ${item.partition} to ${item.targets.join(', ')}`)
    }
  }

  private async handOff(item: ReleaseItem): Promise<boolean> {
    let afterKey = item.afterKey
    for (let page = 0; page < releasePagesPerRunMax; page++) {
      if (this.stopped) return false
      const objects = await this.deps.store.scanPartition(item.partition, afterKey, releasePageKeys)
      for (const {key, object} of objects) {
        for (const target of item.targets) {
          if (target === this.deps.self) continue
          const address = findMember(this.deps.membership.table, target)?.rpcAddress
          if (address === undefined) continue
          const answer = await this.deps.transport.request(address, MessageType.ReplicaPut, {partition: item.partition, key, object, durable: false}, releasePutTimeoutMs)
          // A home that refused the merge for cause (its limits) keeps its own copy; one that did
          // not answer is asked again in a later round.
          if (!answer.ok && answer.error === 'remote') this.deps.log(`handoff of ${key} to ${target} refused: ${answer.message}`)
          else if (!answer.ok) return false
        }
      }
      const last = objects.at(-1)
      if (last === undefined || objects.length < releasePageKeys) return true
      afterKey = last.key
      const items = (this.state?.items ?? []).map((other) => (other.partition === item.partition ? {...other, afterKey} : other))
      this.state = {ringHash: this.state?.ringHash ?? '', items}
      await this.deps.store.putMeta(releaseMetaName, this.state)
    }
    return false
  }
}
