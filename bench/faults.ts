/**
 * Faults a benchmark injects into the local cluster it started (`dyn bench --fault`), and the
 * windows of time its report judges apart: before the first fault, during each, and after each.
 * Dynamo's claim is that the SLA holds through a node's failure (paper §2.2, §4.6: sloppy quorum
 * and hinted handoff keep writes available); a run with a fault is how a user checks that claim
 * on a cluster of their own.
 *
 * This module is pure: it parses the specs, places them in the measured run, and cuts the run
 * into windows; bench/fault-injector.ts applies them to real processes.
 *
 * A spec is `kind[:NODE][@SECONDS]`:
 * - `kill` ends the node with SIGKILL, and starts it again on its data when the fault ends;
 * - `pause` stops it with SIGSTOP (a node that hangs: connections open, nothing answered), and
 *   resumes it with SIGCONT;
 * - `partition` cuts every internode link between the node and the others, both ways, and heals
 *   them. Clients still reach the node, as a client in the node's side of a partition would.
 * NODE is a node's name (n1, n2, ...; the last node by default). SECONDS is when the fault begins,
 * in whole seconds from the start of the measured run (the warm-up aside), since the report's
 * windows are whole seconds of the timeline; by default a third of the way in. Every fault lasts
 * the same length (`--fault-duration`, a third of the run by default), and faults do not overlap,
 * so that each window has one cause.
 */

export type FaultKind = 'kill' | 'pause' | 'partition'

export const faultKinds: readonly FaultKind[] = ['kill', 'pause', 'partition']

export interface FaultSpec {
  /** As the user wrote it, to name its windows. */
  readonly spec: string
  readonly kind: FaultKind
  /** Undefined: the last node of the cluster. */
  readonly node?: string
  /** Undefined: a third of the way into the run. */
  readonly atS?: number
}

/** A fault placed in the run: which node, from when, until when (seconds of the measured run). */
export interface PlannedFault {
  readonly spec: string
  readonly kind: FaultKind
  readonly node: string
  readonly atS: number
  readonly endS: number
}

/** A span of the run judged on its own. */
export interface RunWindow {
  /** `before`, `during SPEC` or `after SPEC`. */
  readonly name: string
  readonly fromS: number
  readonly toS: number
}

export type Parsed<T> = {readonly ok: true; readonly value: T} | {readonly ok: false; readonly message: string}

/** At most this many faults in one run: each needs a window of its own, at least a second long. */
export const faultsMax = 16

const specPattern = /^(kill|pause|partition)(?::([A-Za-z0-9_.-]{1,64}))?(?:@(\d{1,5}))?$/

export function parseFaultSpec(text: string): Parsed<FaultSpec> {
  const match = specPattern.exec(text.trim())
  if (match === null) {
    return {ok: false, message: `--fault ${JSON.stringify(text)} is not KIND[:NODE][@SECONDS]: KIND is kill, pause or partition, NODE a node's name (n1, n2, ...), SECONDS whole seconds into the measured run; for example --fault kill:n2@5`}
  }
  const [, kind, node, at] = match
  return {ok: true, value: {spec: text.trim(), kind: kind as FaultKind, ...(node === undefined ? {} : {node}), ...(at === undefined ? {} : {atS: Number(at)})}}
}

/** The length of every fault when `--fault-duration` is not given: a third of the run, at least a second. */
export function defaultFaultDurationS(runDurationS: number): number {
  return Math.max(1, Math.floor(runDurationS / 3))
}

/**
 * Places each fault in a run of `runDurationS` seconds on a cluster of `nodeNames`, or says why
 * it cannot be: a node the cluster does not have, a fault that does not end within the run,
 * faults that overlap (the windows would have two causes).
 */
export function planFaults(specs: readonly FaultSpec[], nodeNames: readonly string[], runDurationS: number, faultDurationS: number): Parsed<PlannedFault[]> {
  if (specs.length > faultsMax) return {ok: false, message: `${specs.length} faults: at most ${faultsMax} in one run`}
  if (!Number.isInteger(faultDurationS) || faultDurationS < 1) return {ok: false, message: `--fault-duration must be a whole number of seconds, at least 1`}
  const lastNode = nodeNames[nodeNames.length - 1]
  if (lastNode === undefined) return {ok: false, message: 'the cluster has no nodes to inject a fault into'}
  const planned: PlannedFault[] = []
  for (const spec of specs) {
    const node = spec.node ?? lastNode
    if (!nodeNames.includes(node)) return {ok: false, message: `--fault ${spec.spec}: the cluster has no node ${node}; its nodes are ${nodeNames.join(', ')}`}
    const atS = spec.atS ?? Math.floor(runDurationS / 3)
    const endS = atS + faultDurationS
    if (endS > runDurationS) {
      return {ok: false, message: `--fault ${spec.spec}: it would last from ${atS} s to ${endS} s, past the end of the ${runDurationS} s run; start it earlier, shorten it (--fault-duration) or run longer (--duration)`}
    }
    planned.push({spec: spec.spec, kind: spec.kind, node, atS, endS})
  }
  planned.sort((a, b) => a.atS - b.atS)
  for (let i = 1; i < planned.length; i += 1) {
    const previous = planned[i - 1] as PlannedFault
    const fault = planned[i] as PlannedFault
    if (fault.atS < previous.endS) {
      return {ok: false, message: `--fault ${fault.spec} begins at ${fault.atS} s, while ${previous.spec} lasts until ${previous.endS} s: faults run one at a time, so that each window of the report has one cause; start it at ${previous.endS} s or later`}
    }
  }
  return {ok: true, value: planned}
}

/** The run cut at every fault's start and end: before, during each fault, after each; empty spans left out. */
export function runWindows(faults: readonly PlannedFault[], runDurationS: number): RunWindow[] {
  const windows: RunWindow[] = []
  let cursorS = 0
  let name = 'before'
  for (const fault of faults) {
    if (fault.atS > cursorS) windows.push({name, fromS: cursorS, toS: fault.atS})
    windows.push({name: `during ${fault.spec}`, fromS: fault.atS, toS: fault.endS})
    cursorS = fault.endS
    name = `after ${fault.spec}`
  }
  if (runDurationS > cursorS) windows.push({name, fromS: cursorS, toS: runDurationS})
  return windows
}
