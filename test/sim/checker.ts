/**
 * The simulator's checkers (issue 7): the guarantees dyn gives, checked from the clients' history
 * (history.ts), not from inside the nodes, except the convergence check, which compares what the
 * home replicas store once every fault has healed and every key has been read.
 *
 * 1. No acknowledged write is lost: after the faults heal and every key is read back, each
 *    acknowledged (or ever observed) version is present, or a write that had seen it may have
 *    been applied (it was acknowledged, or some read returned it).
 *    With a disk lost, only writes acknowledged by W >= 2 replicas must survive, unless they
 *    began after the loss (the lost disk cannot have held them).
 * 2. No read returns a version together with one that had seen it.
 * 3. With PR + PW > N (a strict quorum: both count home replicas only), a read that starts
 *    after a write was acknowledged returns that write or a version that had seen it. Plain
 *    R + W > N does not promise it under sloppy quorum: a write may be acknowledged by fallbacks
 *    that a later read does not ask. With a disk lost, a write that began before the loss and a
 *    read that ended after it are not held to it (the lost disk may have been their one common
 *    home); every other pair is.
 * 4. Once faults heal and each key has been read (read repair), its home replicas agree.
 * 5. No resurrection: after an acknowledged delete of a key that nothing was written to since,
 *    the final read returns no live version the deleter had seen (a version it had not seen is a
 *    concurrent write, which the delete does not cover). With a disk lost, only deletes
 *    acknowledged by W >= 2 replicas, or begun after the loss, are held to it.
 * 6. Hinted handoff: once faults heal and hints have had time to be delivered, and before any
 *    final read could repair anything, every acknowledged write is on each of its home
 *    replicas (or a version that had seen it is), looked up in their stores directly: the homes
 *    under the N its key records, so a write the cluster ran with a smaller n while it had fewer
 *    owners must have reached them all once members joined (issue 13). Writes
 *    whose coordinator crashed before it could keep its hints are exempt. A lost disk excuses,
 *    for the writes that began before it was lost, what it may have held: its own copies (the
 *    write may miss on that node), the hints it kept as their coordinator (the write may miss
 *    on any home), and the hints it kept as a fallback (on any home of a key the node was no
 *    home of, or of any key when the ring changed during the run).
 * 7. Strict quorum: a write acknowledged with PW = k was on at least k home replicas when the
 *    client had the answer (homes down at that moment are given the benefit of the doubt).
 * 8, 9. Availability: a request the simulator's model of the moment says must succeed does not
 *    fail, and every request is answered (availability.ts).
 * 10. Anti-entropy: the home replicas agree before the final reads (convergence-check.ts).
 * 11. Deletes free their space and strays are released: with every member up for longer than the
 *    tombstone grace, no home keeps a tombstone written before then, and no node a copy of a key
 *    it is no home of (convergence-check.ts).
 */

import type {Ring} from '../../src/ring/ring.js'
import {preferenceListForKey} from '../../src/ring/ring.js'
import type {History, ReadRecord, WriteRecord} from './history.js'
import {reapedAway} from './history.js'

export interface Violation {
  readonly check:
    | 'lost-write'
    | 'dominated-sibling'
    | 'stale-read'
    | 'divergent-replicas'
    | 'resurrected'
    | 'final-read-failed'
    | 'undelivered-hint'
    | 'strict-quorum'
    | 'ring-disagreement'
    | 'missed-transfer'
    | 'stray-copy'
    | 'membership-change-failed'
    | 'hints-for-non-member'
    | 'joiner-released'
    | 'unavailable'
    | 'unanswered'
    | 'unconverged-replicas'
    | 'tombstone-kept'
  readonly key: string
  readonly message: string
  /** When it was seen, in simulated milliseconds: the history around it is printed. */
  readonly atMs: number
}

/** What one home replica stores for a key at the end: a fingerprint of its versions (ids and causality). */
export interface ReplicaState {
  readonly node: string
  readonly fingerprint: string
}

/** What one home replica stores for a key, by version id: the input of check 6. */
export interface HomeHolding {
  readonly node: string
  /**
   * Ids of the versions it stores (live and tombstones); undefined when the node does not run
   * (it departed), so that it keeps its place among the homes and is not looked at.
   */
  readonly ids: readonly string[] | undefined
}

export interface HandoffCheckInput {
  /** Per key, each home replica's versions, read after healing and handoff, before the final reads. */
  readonly homes: ReadonlyMap<string, readonly HomeHolding[]>
  /** How long after a write's end its coordinator may still be keeping hints for it. */
  readonly hintWindowMs: number
  /**
   * Set when the ring changed during the run: ownership transfers move the replicas of every n
   * in use, but for a key written with several n a home beyond the cluster's N (`clusterN`) may
   * be promised nothing by them (see membership-checks.ts, which checks what they do promise)
   * and get its copy from read repair, so here only a write's first `clusterN` homes are checked.
   */
  readonly ringChangedWithClusterN?: number
  /** The ring the run started with: a node that is a home of a key under it never stood in for another home of that key. */
  readonly firstRing?: Ring
}

export function checkHistory(
  history: History,
  replicaStates: ReadonlyMap<string, readonly ReplicaState[]>,
  finalFailures: ReadonlyMap<string, string>,
  handoff?: HandoffCheckInput,
): Violation[] {
  const writesByKey = groupWrites(history)
  const readsByKey = new Map<string, ReadRecord[]>()
  for (const read of history.reads) push(readsByKey, read.key, read)
  const observed = new Set<string>()
  for (const read of history.reads) for (const id of read.returned) observed.add(id)
  const violations: Violation[] = []
  for (const [key, message] of finalFailures) violations.push({check: 'final-read-failed', key, message, atMs: Number.POSITIVE_INFINITY})
  for (const [key, writes] of writesByKey) {
    const reads = readsByKey.get(key) ?? []
    const finalRead = lastFinal(reads)
    if (finalRead !== undefined) violations.push(...lostWrites(history, key, writes, finalRead, observed))
    violations.push(...staleReads(history, writes, reads))
    if (finalRead !== undefined) violations.push(...resurrections(key, writes, finalRead, history))
  }
  for (const read of history.reads) violations.push(...dominatedSiblings(history, read))
  if (handoff !== undefined) violations.push(...undeliveredHints(history, handoff))
  violations.push(...strictQuorums(history))
  for (const [key, states] of replicaStates) {
    const distinct = new Set(states.map((state) => state.fingerprint))
    if (distinct.size > 1) {
      violations.push({
        check: 'divergent-replicas',
        key,
        message: `home replicas disagree after healing and reading: ${states.map((state) => `${state.node}=${state.fingerprint}`).join('; ')}`,
        atMs: Number.POSITIVE_INFINITY,
      })
    }
  }
  return violations
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [value])
  else list.push(value)
}

function groupWrites(history: History): Map<string, WriteRecord[]> {
  const byKey = new Map<string, WriteRecord[]>()
  for (const write of history.writes.values()) push(byKey, write.key, write)
  return byKey
}

function lastFinal(reads: readonly ReadRecord[]): ReadRecord | undefined {
  let last: ReadRecord | undefined
  for (const read of reads) if (read.final) last = read
  return last
}

/** Whether a write began before a disk was lost, so that the lost disk may have held it (or what it depended on). */
function beganBeforeDiskLoss(history: History, write: WriteRecord): boolean {
  return history.diskLosses.some((loss) => write.startMs <= loss.lostAtMs)
}

/** Check 1. Of the writes that began before a disk was lost, only those W >= 2 replicas acknowledged must survive it. */
function lostWrites(history: History, key: string, writes: readonly WriteRecord[], finalRead: ReadRecord, observed: ReadonlySet<string>): Violation[] {
  const present = new Set(finalRead.returned)
  const violations: Violation[] = []
  for (const write of writes) {
    const mustSurvive = beganBeforeDiskLoss(history, write) ? write.end === 'ok' && write.w >= 2 : write.end === 'ok' || observed.has(write.id)
    if (!mustSurvive || present.has(write.id)) continue
    // A delete whose tombstone was reaped reads as nothing at all, and so does a write that a
    // delete (acknowledged, or failed but applied somewhere) superseded before it was reaped.
    if (reapedAway(history, write, finalRead.returned)) continue
    const superseder = writes.find((other) => other.seen.has(write.id) && (other.end === 'ok' || observed.has(other.id)))
    if (superseder !== undefined) continue
    violations.push({
      check: 'lost-write',
      key,
      message: `${write.id} (${write.end === 'ok' ? 'acknowledged' : 'observed by a read'} at ${write.endMs} ms, written through ${write.node} with ${nText(write)} w=${write.w}) is missing from the final read [${finalRead.returned.join(', ')}], and no write that had seen it was applied`,
      atMs: write.endMs ?? write.startMs,
    })
  }
  return violations
}

/** Check 2. */
function dominatedSiblings(history: History, read: ReadRecord): Violation[] {
  const violations: Violation[] = []
  for (const newer of read.returned) {
    const seen = history.writes.get(newer)?.seen
    if (seen === undefined) {
      violations.push({check: 'dominated-sibling', key: read.key, message: `a read through ${read.node} returned ${newer}, which no client wrote`, atMs: read.endMs})
      continue
    }
    for (const older of read.returned) {
      if (older !== newer && seen.has(older)) {
        violations.push({
          check: 'dominated-sibling',
          key: read.key,
          message: `a read through ${read.node} at ${read.startMs}-${read.endMs} ms returned ${older} beside ${newer}, whose writer had seen it`,
          atMs: read.endMs,
        })
      }
    }
  }
  return violations
}

/**
 * Check 3: for a read and a write that ran with the same N (a write's own, not the one its key
 * records, which a small cluster may not have placed) and PR + PW > N, unless a disk was lost
 * between the write's start and the read's end.
 */
function staleReads(history: History, writes: readonly WriteRecord[], reads: readonly ReadRecord[]): Violation[] {
  const violations: Violation[] = []
  for (const read of reads) {
    for (const write of writes) {
      if (write.end !== 'ok' || write.endMs === undefined || write.endMs >= read.startMs) continue
      if (write.ranN !== read.n || write.pw + read.pr <= read.n) continue
      if (history.diskLosses.some((loss) => write.startMs <= loss.lostAtMs && read.endMs >= loss.lostAtMs)) continue
      const seesIt = read.returned.some((id) => id === write.id || history.writes.get(id)?.seen.has(write.id) === true)
      if (seesIt) continue
      violations.push({
        check: 'stale-read',
        key: read.key,
        message: `a read (n=${read.n} r=${read.r} pr=${read.pr}) through ${read.node} at ${read.startMs}-${read.endMs} ms returned [${read.returned.join(', ')}], missing ${write.id} (w=${write.w} pw=${write.pw}) acknowledged at ${write.endMs} ms`,
        atMs: read.startMs,
      })
    }
  }
  return violations
}

/**
 * Whether a lost disk may have held the only copy of `write` bound for `home`: the write began
 * before the loss, and the node whose disk it was is that home, or coordinated the write (and
 * kept the hints for the targets that failed), or may have been a fallback keeping its hint.
 */
function lostWithDisk(history: History, handoff: HandoffCheckInput, write: WriteRecord, home: string): boolean {
  return history.diskLosses.some((loss) => {
    if (write.startMs > loss.lostAtMs) return false
    if (loss.node === home || loss.node === write.coordinator) return true
    // A home of the key never stands in for another home of it; without a ring change, the first ring says who they are.
    if (handoff.ringChangedWithClusterN !== undefined || handoff.firstRing === undefined) return true
    return !preferenceListForKey(handoff.firstRing, write.key).nodes.slice(0, write.ranN).includes(loss.node)
  })
}

/** Check 6. */
function undeliveredHints(history: History, handoff: HandoffCheckInput): Violation[] {
  const violations: Violation[] = []
  for (const write of history.writes.values()) {
    if (write.end !== 'ok' || write.endMs === undefined || write.coordinator === undefined) continue
    const windowEndMs = write.endMs + handoff.hintWindowMs
    const coordinatorCrashed = history.crashes.some((crash) => crash.node === write.coordinator && crash.atMs >= write.startMs && crash.atMs <= windowEndMs)
    if (coordinatorCrashed) continue
    const checkedN = handoff.ringChangedWithClusterN === undefined ? write.n : Math.min(write.n, handoff.ringChangedWithClusterN)
    const homes = (handoff.homes.get(write.key) ?? []).slice(0, checkedN)
    for (const home of homes) {
      if (home.ids === undefined) continue
      const has = home.ids.some((id) => id === write.id || history.writes.get(id)?.seen.has(write.id) === true)
      if (has || reapedAway(history, write, home.ids) || lostWithDisk(history, handoff, write, home.node)) continue
      violations.push({
        check: 'undelivered-hint',
        key: write.key,
        message: `${write.id} (acknowledged at ${write.endMs} ms, coordinated by ${write.coordinator}, ${nText(write)} w=${write.w}) is not on its home ${home.node} after healing and handoff, which holds [${home.ids.join(', ')}]`,
        atMs: write.endMs,
      })
    }
  }
  return violations
}

/** A write's n for a message: the one it ran with, and the one its key records when that is more. */
function nText(write: WriteRecord): string {
  return write.ranN === write.n ? `n=${write.n}` : `n=${write.ranN}, stored n=${write.n}`
}

/** Check 7. */
function strictQuorums(history: History): Violation[] {
  const violations: Violation[] = []
  for (const write of history.writes.values()) {
    const seen = write.homesHolding
    if (write.end !== 'ok' || write.pw === 0 || seen === undefined) continue
    if (seen.holding + seen.down >= write.pw) continue
    violations.push({
      check: 'strict-quorum',
      key: write.key,
      message: `${write.id} was acknowledged with pw=${write.pw} at ${write.endMs} ms, but only ${seen.holding} of its homes held it then (${seen.down} down)`,
      atMs: write.endMs ?? write.startMs,
    })
  }
  return violations
}

/**
 * The deletes check 5 holds to: acknowledged, nothing written to the key since (acknowledged or
 * not), and, when a disk was lost, acknowledged by W >= 2 replicas or begun after the loss.
 */
function checkedDeletes(history: History, writes: readonly WriteRecord[]): WriteRecord[] {
  const applied = writes.filter((write) => write.end !== 'refused')
  return applied.filter((deletion) => {
    if (!deletion.tombstone || deletion.end !== 'ok') return false
    if (beganBeforeDiskLoss(history, deletion) && deletion.w < 2) return false
    return !applied.some((other) => other !== deletion && other.startMs >= deletion.startMs)
  })
}

/** How many deletes of a run check 5 held to (a key whose final read failed has none): a delete the check never meets checks nothing. */
export function resurrectionChecks(history: History): number {
  let count = 0
  for (const [key, writes] of groupWrites(history)) {
    if (lastFinal(history.reads.filter((read) => read.key === key)) !== undefined) count += checkedDeletes(history, writes).length
  }
  return count
}

/** Check 5. */
function resurrections(key: string, writes: readonly WriteRecord[], finalRead: ReadRecord, history: History): Violation[] {
  const violations: Violation[] = []
  for (const deletion of checkedDeletes(history, writes)) {
    const live = finalRead.returned.filter((id) => history.writes.get(id)?.tombstone === false && deletion.seen.has(id))
    if (live.length > 0) {
      violations.push({
        check: 'resurrected',
        key,
        message: `${deletion.id} deleted [${[...deletion.seen].join(', ')}] at ${deletion.endMs} ms and nothing was written since, but the final read returned [${live.join(', ')}] of them`,
        atMs: deletion.endMs ?? deletion.startMs,
      })
    }
  }
  return violations
}
