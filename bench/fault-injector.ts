/**
 * Applies the faults of `dyn bench --fault` (planned by bench/faults.ts) to the local cluster the
 * bench started, at their times in the measured run, and reverts each when it ends: a killed
 * node is started again on its data and ports, a paused one resumed, a partition healed. It
 * drives the same mechanisms as `dyn verify`: signals to the node processes, and for partitions
 * the fault proxy every internode connection passes through (src/verify/fault-proxy.ts).
 *
 * Whatever happens, no fault outlives the run: `stop` resumes every paused node and heals every
 * cut, and the bench stops the cluster afterwards.
 */

import {performance} from 'node:perf_hooks'
import {clusterUp, isNodeProcess} from '../src/cli/local-cluster.js'
import type {LocalCluster, UpOptions} from '../src/cli/local-cluster.js'
import type {FaultProxy} from '../src/verify/fault-proxy.js'
import type {PlannedFault} from './faults.js'

/** A cluster the bench started, with what it takes to hurt it and to mend it. */
export interface FaultableCluster {
  /** The cluster as last started (a restart replaces it). */
  cluster: LocalCluster
  /** How to start the folder's nodes that do not run, on their data and ports. */
  readonly upOptions: UpOptions
  /** Present when the cluster was started with its internode links through a fault proxy. */
  readonly proxy?: FaultProxy
}

/** What happened to one fault, in seconds of the measured run. */
export interface FaultOutcome extends PlannedFault {
  /** When the fault was applied and when it was reverted; undefined: it was not (the run ended first). */
  readonly appliedAtS?: number
  readonly revertedAtS?: number
  /** How long a killed node took to start again and answer, in seconds. */
  readonly restartS?: number
  /** What went wrong applying or reverting it, if anything. */
  readonly problem?: string
}

export interface RunningFaults {
  /** Resolves, once every fault has ended (or the run was stopped), with what happened to each. */
  readonly done: Promise<FaultOutcome[]>
  /** Ends the schedule early: the fault under way is reverted and the rest are not applied. */
  stop(): void
}

/**
 * Runs `faults` against `target` on the clock of the measured run, which began at
 * `originMs` (performance.now()).
 */
export function injectFaults(target: FaultableCluster, faults: readonly PlannedFault[], originMs: number): RunningFaults {
  let stopped = false
  let wake: (() => void) | undefined
  const sleepUntil = (atMs: number): Promise<void> =>
    new Promise((resolve) => {
      if (stopped) {
        resolve()
        return
      }
      // A timer may fire a little early by performance.now(); a fault starts no sooner than its second.
      let timer: NodeJS.Timeout
      const check = (): void => {
        const leftMs = atMs - performance.now()
        if (leftMs > 0) {
          timer = setTimeout(check, Math.ceil(leftMs))
          return
        }
        wake = undefined
        resolve()
      }
      timer = setTimeout(check, Math.max(0, Math.ceil(atMs - performance.now())))
      wake = (): void => {
        clearTimeout(timer)
        wake = undefined
        resolve()
      }
    })
  const secondsNow = (): number => (performance.now() - originMs) / 1000
  const paused = new Set<number>()

  const apply = (fault: PlannedFault): string | undefined => {
    const node = target.cluster.nodes.find((candidate) => candidate.name === fault.node)
    if (fault.kind === 'partition') {
      if (target.proxy === undefined) return 'the cluster was started without a fault proxy'
      target.proxy.isolate(fault.node)
      return undefined
    }
    if (node === undefined || node.pid === undefined || !isNodeProcess(node)) return `${fault.node} is not running: nothing to ${fault.kind}`
    if (fault.kind === 'kill') {
      process.kill(node.pid, 'SIGKILL')
    } else {
      process.kill(node.pid, 'SIGSTOP')
      paused.add(node.pid)
    }
    return undefined
  }
  const revert = async (fault: PlannedFault): Promise<{restartS?: number; problem?: string}> => {
    if (fault.kind === 'partition') {
      target.proxy?.heal()
      return {}
    }
    if (fault.kind === 'pause') {
      resumeAll(paused)
      return {}
    }
    // clusterUp starts the nodes of the folder that do not run, on their data and ports, and
    // returns once they answer.
    const beganMs = performance.now()
    try {
      target.cluster = await clusterUp(target.upOptions, () => undefined)
      return {restartS: (performance.now() - beganMs) / 1000}
    } catch (error) {
      return {problem: `starting ${fault.node} again failed: ${(error as Error).message}`}
    }
  }

  const run = async (): Promise<FaultOutcome[]> => {
    const outcomes: FaultOutcome[] = []
    for (const fault of faults) {
      await sleepUntil(originMs + fault.atS * 1000)
      if (stopped) {
        outcomes.push(fault)
        continue
      }
      const appliedAtS = secondsNow()
      let problem: string | undefined
      try {
        problem = apply(fault)
      } catch (error) {
        problem = `applying it failed: ${(error as Error).message}`
      }
      await sleepUntil(originMs + fault.endS * 1000)
      // Even when stopped early: no fault outlives the run.
      const revertedAtS = secondsNow()
      const reverted = problem === undefined ? await revert(fault) : {}
      outcomes.push({
        ...fault,
        appliedAtS,
        revertedAtS,
        ...(reverted.restartS === undefined ? {} : {restartS: reverted.restartS}),
        ...(problem ?? reverted.problem ? {problem: problem ?? reverted.problem} : {}),
      })
    }
    return outcomes
  }
  const done = run().finally(() => {
    resumeAll(paused)
    target.proxy?.heal()
  })
  return {
    done,
    stop: () => {
      stopped = true
      wake?.()
    },
  }
}

function resumeAll(paused: Set<number>): void {
  for (const pid of paused) {
    try {
      process.kill(pid, 'SIGCONT')
    } catch {
      // It is gone already.
    }
  }
  paused.clear()
}
