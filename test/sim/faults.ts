/**
 * The simulator's seeded fault schedule (issue 7): node crashes and restarts (storage kept, or at
 * most once per run wiped), two-way partitions, one-way cuts, and slow lossy links, each lasting
 * a drawn time and possibly overlapping, within a window; then everything heals. Apart from it,
 * in a share of the seeds, every home replica of one key crashes at once (`runHomesCrash`), so
 * that puts meet a key with no home up and are coordinated by a fallback (paper §4.6).
 */

import type {Random} from '../../src/clock.js'
import {preferenceListForKey} from '../../src/ring/ring.js'
import {sleep} from '../../src/scheduler.js'
import type {SimCluster} from './cluster.js'
import type {History} from './history.js'

export interface FaultConfig {
  /** Faults started during the window, one after another at drawn times. */
  readonly faultCount: number
  readonly windowMs: number
  /** How long one fault lasts, drawn from [durationMsMin, durationMsMax). */
  readonly durationMsMin: number
  readonly durationMsMax: number
  /** Whether one crashed node may come back on an empty disk, or without the hints it kept (one loss per run). */
  readonly wipeAllowed: boolean
}

/** The chance that a crashed node whose disk is kept comes back without its hints, where a loss is allowed. */
export const hintLossShare = 0.5

type FaultKind = 'crash' | 'partition' | 'one-way' | 'lossy'

const faultKinds: readonly FaultKind[] = ['crash', 'partition', 'one-way', 'lossy']

/** Runs the schedule to its end, heals every fault, and restarts every crashed node (storage kept). */
export async function runFaults(cluster: SimCluster, random: Random, config: FaultConfig, history: History, lossRandom: Random, oldDiskPlanned = false): Promise<void> {
  const pending: Promise<void>[] = []
  const gapMs = config.windowMs / Math.max(1, config.faultCount)
  let wiped = false
  let hintsLost = false
  for (let index = 0; index < config.faultCount; index += 1) {
    await sleep(cluster.time, random.int(Math.max(1, Math.floor(gapMs))))
    const durationMs = config.durationMsMin + random.int(config.durationMsMax - config.durationMsMin)
    const kind = faultKinds[random.int(faultKinds.length)]!
    // A run with an old disk planned (runOldDisk) loses nothing else; drawn as before all the same,
    // so that the schedule stays what it was.
    const drawnWipe = kind === 'crash' && config.wipeAllowed && !wiped && random.next() < 0.3 && !oldDiskPlanned
    if (drawnWipe) wiped = true
    // A lost hint store is drawn from a stream of its own, so that the schedule drawn above stays
    // what it was for every seed; one loss of either kind per run.
    const loseHints = kind === 'crash' && config.wipeAllowed && !wiped && !hintsLost && lossRandom.next() < hintLossShare && !oldDiskPlanned
    if (loseHints) hintsLost = true
    const wipe = drawnWipe && !hintsLost
    pending.push(startFault(cluster, random, kind, durationMs, wipe, history, loseHints))
  }
  await Promise.all(pending)
  cluster.network.heal()
  for (const a of cluster.nodes) for (const b of cluster.nodes) cluster.network.setLink(a.rpcAddress, b.rpcAddress, undefined)
  for (const node of cluster.nodes) if (!cluster.isUp(node.name)) await cluster.restart(node.name, {wipe: false})
  history.note(cluster.time.monotonicMs(), 'all faults healed')
}

/** The share of the runs in which one node's disk fails for a while (runDiskFailure). */
export const diskFailureShare = 0.5

/**
 * A failing disk (a walk's full disk, in the simulator): in a share of the runs, at a drawn time
 * within the fault window, one running node's store starts refusing every write (SimCluster.
 * failDisk); it runs on, serving reads and taking no writes, as a real node on a full disk does,
 * and coordinators must store its share of each put elsewhere (paper §4.6's sloppy quorum, its
 * `storage_failed` read as "not taken"). After a drawn time its operator restarts it on the same
 * data (a crash, then a restart with the disk working again). Drawn from a stream of its own, so
 * that every other schedule stays what it was for each seed.
 */
export async function runDiskFailure(cluster: SimCluster, random: Random, config: FaultConfig, history: History): Promise<void> {
  // A run configured without faults gets none of this kind either.
  if (random.next() >= diskFailureShare || config.faultCount === 0) return
  await sleep(cluster.time, random.int(Math.max(1, config.windowMs)))
  const durationMs = config.durationMsMin + random.int(config.durationMsMax - config.durationMsMin)
  const running = cluster.upNodes().filter((name) => !cluster.departed.has(name))
  const name = running[random.int(Math.max(1, running.length))]
  if (name === undefined) return
  const failing = cluster.assembled(name)
  cluster.failDisk(name)
  await sleep(cluster.time, durationMs)
  // Already crashed by another fault (and restarted on a copy, or still down): that ended it.
  if (cluster.assembled(name) !== failing || failing === undefined || cluster.departed.has(name)) return
  // Said for the campaign's count: a failing disk nothing tried to write to exercised nothing.
  const stoppedBy = cluster.writesStoppedBy(name)
  if (stoppedBy !== undefined) history.note(cluster.time.monotonicMs(), `${name}'s store took no writes: ${stoppedBy}`)
  history.note(cluster.time.monotonicMs(), `${name}'s operator restarts it on a disk that works again`)
  await cluster.crash(name)
  await cluster.restart(name, {wipe: false})
}

/** The share of the runs that may lose a disk in which one node comes back on an old disk instead. */
export const oldDiskShare = 0.5

/** Whether a run restarts a node on an old disk (drawn from a stream of its own, where a loss is allowed). */
export function plansOldDisk(config: FaultConfig, oldDiskRandom: Random): boolean {
  return config.wipeAllowed && oldDiskRandom.next() < oldDiskShare
}

/**
 * Issue 14's old disk: once the clients are done (every key written, none of the deletes at the
 * end made yet), one node's store is backed up; once the rest of the run is done (those deletes,
 * the fault schedule) and after a drawn time that lets their tombstones be reaped, the node
 * crashes and comes back on the backup. A store that answered a reap check since must be refused
 * (src/node/disk-check.ts); one that did not is merely behind, and anti-entropy brings it up to date.
 */
export async function runOldDisk(cluster: SimCluster, random: Random, history: History, backUpAfter: Promise<unknown>, restartAfter: Promise<unknown>): Promise<void> {
  const waitMs = random.int(reapWindowMs)
  const pick = random.next()
  await backUpAfter
  // Not a node started alone that has not joined yet: a backup of it is a cluster of its own,
  // which a restart given the cluster's seeds must refuse (checkSeedsOnRestart), as its operator
  // would be told; what this fault checks is a member's old disk (campaign seed 3717749693).
  const up = cluster.clientNodes()
  const victim = up[Math.floor(pick * up.length)]
  if (victim === undefined) return
  await cluster.backUp(victim)
  await restartAfter
  await sleep(cluster.time, waitMs)
  history.note(cluster.time.monotonicMs(), `old disk for ${victim}`)
  await cluster.crash(victim)
  await cluster.restartOnOldDisk(victim)
}

/** Up to this long after the rest, so that a tombstone deleted at the end may be reaped first (grace 3 s, a pass a second). */
const reapWindowMs = 8000

async function startFault(cluster: SimCluster, random: Random, kind: FaultKind, durationMs: number, wipe: boolean, history: History, loseHints: boolean): Promise<void> {
  const addresses = cluster.nodes.map((node) => node.rpcAddress)
  const at = (): number => cluster.time.monotonicMs()
  switch (kind) {
    case 'crash': {
      // Keep a majority running, so that the workload still has somewhere to go.
      const up = cluster.upNodes()
      if (up.length <= Math.ceil(cluster.nodes.length / 2)) return
      const victim = up[random.int(up.length)]!
      // Where nodes share machines, the machine fails: every node of it that runs goes down at
      // once (a disk, if one is lost, is the victim's alone). The majority rule still holds.
      const mates = cluster.machineMates(victim).filter((name) => name !== victim && up.includes(name))
      const others = up.length - 1 - mates.length >= Math.ceil(cluster.nodes.length / 2) ? mates : []
      if (others.length > 0) history.note(at(), `machine ${cluster.machineOf(victim)} fails: ${[victim, ...others].join(' ')}`)
      await cluster.crash(victim)
      for (const mate of others) await cluster.crash(mate)
      await sleep(cluster.time, durationMs)
      await cluster.restart(victim, {wipe, loseHints})
      for (const mate of others) await cluster.restart(mate, {wipe: false})
      return
    }
    case 'partition': {
      const shuffled = addresses.map((address) => ({address, side: random.int(2)}))
      const sideA = shuffled.filter((entry) => entry.side === 0).map((entry) => entry.address)
      const sideB = shuffled.filter((entry) => entry.side === 1).map((entry) => entry.address)
      if (sideA.length === 0 || sideB.length === 0) return
      history.note(at(), `partition [${sideA.join(' ')}] | [${sideB.join(' ')}] for ${durationMs} ms`)
      cluster.network.partition(sideA, sideB)
      await sleep(cluster.time, durationMs)
      for (const a of sideA) {
        for (const b of sideB) {
          cluster.network.restore(a, b)
          cluster.network.restore(b, a)
        }
      }
      history.note(at(), `partition [${sideA.join(' ')}] | [${sideB.join(' ')}] healed`)
      return
    }
    case 'one-way': {
      const from = addresses[random.int(addresses.length)]!
      const to = addresses[random.int(addresses.length)]!
      if (from === to) return
      history.note(at(), `cut ${from} -> ${to} for ${durationMs} ms`)
      cluster.network.cut(from, to)
      await sleep(cluster.time, durationMs)
      cluster.network.restore(from, to)
      history.note(at(), `cut ${from} -> ${to} restored`)
      return
    }
    case 'lossy': {
      const from = addresses[random.int(addresses.length)]!
      const to = addresses[random.int(addresses.length)]!
      if (from === to) return
      const lossRate = 0.05 + random.next() * 0.3
      history.note(at(), `link ${from} -> ${to} slow and lossy (${lossRate.toFixed(2)}) for ${durationMs} ms`)
      cluster.network.setLink(from, to, {delayMsMin: 1, delayMsMax: 40, lossRate})
      await sleep(cluster.time, durationMs)
      cluster.network.setLink(from, to, undefined)
      history.note(at(), `link ${from} -> ${to} restored`)
      return
    }
  }
}

/** All the homes of one key crashed together, then restarted on their storage. */
export interface HomesCrashConfig {
  /** When the homes crash, from the start of the workload. */
  readonly atMs: number
  readonly durationMs: number
  readonly key: string
  /** How many of the key's first homes crash: the cluster's N, so that a key at that N has none up. */
  readonly homeCount: number
}

/** Nodes left running by a homes crash at least: enough for a w=2 put through two fallbacks. */
export const homesCrashSurvivorsMin = 2

/**
 * Crashes the first `homeCount` homes of the key at once (those up; unlike the other crashes, not
 * keeping a majority: a key with every home down is the point), as many as leave
 * `homesCrashSurvivorsMin` nodes running, and restarts them after the drawn time.
 */
export async function runHomesCrash(cluster: SimCluster, config: HomesCrashConfig, history: History): Promise<void> {
  await sleep(cluster.time, config.atMs)
  const up = cluster.upNodes()
  const ring = up.map((name) => cluster.assembled(name)).find((node) => node !== undefined)?.membership.ring
  if (ring === undefined) return
  const homes = preferenceListForKey(ring, config.key).nodes.slice(0, config.homeCount)
  const victims = homes.filter((home) => cluster.isUp(home)).slice(0, Math.max(0, up.length - homesCrashSurvivorsMin))
  history.note(cluster.time.monotonicMs(), `every home of ${config.key} (${homes.join(' ')}) crashes for ${config.durationMs} ms: ${victims.join(' ') || 'none'} up to crash`)
  await Promise.all(victims.map((victim) => cluster.crash(victim)))
  await sleep(cluster.time, config.durationMs)
  for (const victim of victims) await cluster.restart(victim, {wipe: false})
}
