/**
 * Where a node's property accesses miss V8's inline caches, from the log `node --log-ic` writes
 * (issue 18, item 1: know where the time goes).
 *
 * V8 logs an inline cache's event each time it handles a miss in its runtime: a cache that is
 * still learning (uninitialized, monomorphic, polymorphic), or a megamorphic one whose shared
 * stub cache did not know the object's map. In a node that has run for a while, a site that keeps
 * logging is one whose objects keep coming with maps it has never seen: a map of their own each,
 * which is what an optimized `{...source, property}` made on Node 20 (bench/README.md, "Object
 * shapes on the request path"). Each such miss is a call into V8's runtime where the cache
 * should have answered in a few instructions.
 *
 * Pure: it is handed the log's text and a window of its timestamps, and returns the events in
 * the window by site (the function holding the access, the line and column in its script, the
 * kind of access and the property); bench/experiments/profile.ts runs the nodes and reads the
 * files.
 */

export interface IcSite {
  /** `LoadIC`, `StoreIC`, `KeyedLoadIC`, ... */
  readonly kind: string
  /** The property name (or the key V8 logged for a keyed access). */
  readonly key: string
  /** The function holding the access as V8 names its code (name and script), or `?` when the log has no code there. */
  readonly code: string
  readonly line: number
  readonly column: number
  /** The cache's state before and after, as V8 writes them (`N` megamorphic, `1` monomorphic, `P` polymorphic, `0` uninitialized). */
  readonly states: string
  readonly count: number
}

export interface IcSummary {
  /** Every inline-cache event in the window. */
  readonly events: number
  /** The sites, most events first. */
  readonly sites: readonly IcSite[]
}

/** A code object's range of addresses and its name. */
interface CodeRange {
  readonly start: number
  readonly end: number
  readonly name: string
}

/**
 * The inline-cache events whose timestamp (microseconds since the process started, as V8 logs
 * them) lies in [fromUs, toUs), by site. Code objects are followed as V8 creates and moves them
 * (`code-creation`, `code-move`), so that each event's address names the function it was in then.
 */
export function summarizeIcLog(text: string, fromUs: number, toUs: number): IcSummary {
  // The live code objects, in address order, none overlapping: V8 logs no deletion, so code the
  // collector freed is known only by new code created or moved over its addresses, which then
  // replaces it (as V8's own tools/codemap.mjs does).
  const codes: CodeRange[] = []
  /** The index of the last range starting at or below `address`, or -1. */
  const lastAtOrBelow = (address: number): number => {
    let low = 0
    let high = codes.length - 1
    let found = -1
    while (low <= high) {
      const middle = (low + high) >> 1
      if (codes[middle]!.start <= address) {
        found = middle
        low = middle + 1
      } else high = middle - 1
    }
    return found
  }
  const place = (range: CodeRange): void => {
    let first = lastAtOrBelow(range.start)
    if (first < 0 || codes[first]!.end <= range.start) first += 1
    let end = first
    while (end < codes.length && codes[end]!.start < range.end) end += 1
    codes.splice(first, end - first, range)
  }
  const codeAt = (address: number): string => {
    const index = lastAtOrBelow(address)
    const range = index < 0 ? undefined : codes[index]
    return range !== undefined && address < range.end ? range.name : '?'
  }
  const counts = new Map<string, {site: Omit<IcSite, 'count'>; count: number}>()
  let events = 0
  for (const line of text.split('\n')) {
    const fields = line.split(',')
    const tag = fields[0] ?? ''
    if (tag === 'code-creation') {
      // code-creation,type,kind,timestamp,address,size,name[,sfi,state]
      const start = Number.parseInt(fields[4] ?? '', 16)
      const size = Number(fields[5])
      if (!Number.isFinite(start) || !Number.isFinite(size) || size <= 0) continue
      place({start, end: start + size, name: codeName(fields[6] ?? '?', fields[8])})
    } else if (tag === 'code-move') {
      const from = Number.parseInt(fields[1] ?? '', 16)
      const to = Number.parseInt(fields[2] ?? '', 16)
      const index = lastAtOrBelow(from)
      const range = index < 0 ? undefined : codes[index]
      if (range === undefined || range.start !== from || !Number.isFinite(to)) continue
      codes.splice(index, 1)
      place({start: to, end: to + (range.end - range.start), name: range.name})
    } else if (tag.endsWith('IC')) {
      // LoadIC,pc,timestamp,line,column,old state,new state,map,key,modifier,slow reason
      const timestampUs = Number(fields[2])
      if (!(timestampUs >= fromUs && timestampUs < toUs)) continue
      events += 1
      const site = {kind: tag, key: fields[8] ?? '', code: codeAt(Number.parseInt(fields[1] ?? '', 16)), line: Number(fields[3]), column: Number(fields[4]), states: `${fields[5] ?? ''}->${fields[6] ?? ''}`}
      const id = `${site.kind}|${site.key}|${site.code}|${site.line}|${site.column}|${site.states}`
      const entry = counts.get(id)
      if (entry === undefined) counts.set(id, {site, count: 1})
      else entry.count += 1
    }
  }
  const sites = [...counts.values()].map(({site, count}) => ({...site, count})).sort((a, b) => b.count - a.count)
  return {events, sites}
}

/** A code object's name without the address of its shared function info, and `(optimized)` for TurboFan's code (state `*`). */
function codeName(name: string, state: string | undefined): string {
  return state === '*' ? `${name} (optimized)` : name
}
