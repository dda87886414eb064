/**
 * Where a node's CPU time goes, from V8 CPU profiles (`node --cpu-prof`, the `.cpuprofile` JSON
 * that Chrome DevTools reads): each sample's time is given to the function on top of the stack
 * (its self time) and to that function's place in the code (this project's modules by folder,
 * each npm package, each Node.js internal module, and V8's own entries: the garbage collector,
 * native code, the program outside JavaScript). Idle time is left out, so the shares are of the
 * time the node was busy (issue 18, item 1: "publish the top costs as shares of CPU").
 *
 * Pure: it is handed parsed profiles and returns the tallies; bench/experiments/profile.ts runs
 * the nodes and reads the files.
 */

/** The parts of a `.cpuprofile` this reads (Chrome DevTools protocol, Profiler.Profile). */
export interface CpuProfile {
  readonly nodes: ReadonlyArray<{
    readonly id: number
    readonly callFrame: {readonly functionName: string; readonly url: string; readonly lineNumber: number}
  }>
  /** The node id on top of the stack at each sample. */
  readonly samples: readonly number[]
  /** Microseconds since the previous sample, one per sample (the first since the profile's start). */
  readonly timeDeltas: readonly number[]
}

export interface CostShare {
  readonly name: string
  /** Share of the busy time, 0 to 1. */
  readonly share: number
  readonly microseconds: number
}

export interface ProfileSummary {
  readonly busyMicroseconds: number
  readonly idleMicroseconds: number
  readonly byPlace: readonly CostShare[]
  readonly byFunction: readonly CostShare[]
}

/**
 * Where a frame's code lives: `dyn:src/coordinator` for this project's compiled modules (by their
 * first two folders), `npm:msgpackr` for a package, `node:net` for a Node.js internal module, and
 * V8's own entries by their name in parentheses.
 */
export function placeOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)'
  if (url.startsWith('node:')) {
    const parts = url.slice('node:'.length).split('/')
    return `node:${(parts[0] === 'internal' ? (parts[1] ?? 'internal') : (parts[0] ?? '')).replace(/^_/, '')}`
  }
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (packageMatch !== null) return `npm:${packageMatch[1]}`
  const projectMatch = /\/dist\/((?:[^/]+\/)?[^/]+)\/[^/]*\.js$/.exec(url) ?? /\/dist\/([^/]+)\.js$/.exec(url)
  if (projectMatch !== null) return `dyn:${projectMatch[1]}`
  return url
}

function functionLabel(callFrame: CpuProfile['nodes'][number]['callFrame']): string {
  const file = callFrame.url.replace(/^.*\/(node_modules|dist)\//, '').replace(/^file:\/\//, '')
  const name = callFrame.functionName === '' ? '(anonymous)' : callFrame.functionName
  return file === '' ? name : `${name} ${file}:${callFrame.lineNumber + 1}`
}

/** The shares of busy time by place and by function, over every profile given, largest first; `top` of each. */
export function summarizeProfiles(profiles: readonly CpuProfile[], top: number): ProfileSummary {
  const byPlace = new Map<string, number>()
  const byFunction = new Map<string, number>()
  let busy = 0
  let idle = 0
  for (const profile of profiles) {
    const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]))
    for (let index = 0; index < profile.samples.length; index += 1) {
      const callFrame = frames.get(profile.samples[index] as number)
      const microseconds = profile.timeDeltas[index] ?? 0
      if (callFrame === undefined || microseconds <= 0) continue
      if (callFrame.functionName === '(idle)') {
        idle += microseconds
        continue
      }
      busy += microseconds
      const place = placeOf(callFrame.url, callFrame.functionName)
      byPlace.set(place, (byPlace.get(place) ?? 0) + microseconds)
      const label = functionLabel(callFrame)
      byFunction.set(label, (byFunction.get(label) ?? 0) + microseconds)
    }
  }
  const ranked = (tally: Map<string, number>): CostShare[] =>
    [...tally]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, microseconds]) => ({name, microseconds, share: busy === 0 ? 0 : microseconds / busy}))
  return {busyMicroseconds: busy, idleMicroseconds: idle, byPlace: ranked(byPlace), byFunction: ranked(byFunction)}
}
