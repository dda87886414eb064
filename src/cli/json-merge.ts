/**
 * The JSON union merge of siblings (`dyn resolve --merge json-union`): the paper's shopping cart
 * (§4.4: "the add to cart operation can never be forgotten"), generalised to JSON documents.
 *
 * - Arrays: the union of their elements, equal elements (deep equality) once. An element that
 *   one sibling holds several times is kept as many times as the sibling holding it most often
 *   has it (a multiset union), so two carts with one "book" each give one "book", and a cart
 *   with two stays at two. Order: the oldest sibling's elements first, then each newer
 *   sibling's new ones in its order.
 * - Objects: the union of their keys, merged recursively where several siblings have a key.
 * - Anything else that differs (two strings, a number and an object, ...) is a conflict: the
 *   newest sibling's value is kept, and the conflict is reported with every value seen, so that
 *   the person resolving sees what was chosen and can edit it instead. Keeping all values in an
 *   array would change the document's shape under the application that reads it.
 *
 * Pure: no IO. Documents come oldest first (the caller orders siblings by their timestamps).
 */

/** Deeper documents are refused rather than risking the stack (a 1 MiB value could nest 500,000 deep). */
export const mergeDepthMax = 128

export interface MergeConflict {
  /** Where, as a JSON path: `$.owner`, `$.items[2]`. */
  readonly path: string
  /** The differing values, oldest sibling first, each once. */
  readonly values: readonly unknown[]
  readonly kept: unknown
}

export type MergeOutcome =
  | {readonly ok: true; readonly value: unknown; readonly conflicts: readonly MergeConflict[]}
  | {readonly ok: false; readonly error: 'bad_value'; readonly message: string}

export function mergeJsonUnion(documents: readonly unknown[]): MergeOutcome {
  if (documents.length === 0) return {ok: false, error: 'bad_value', message: 'there is nothing to merge'}
  if (documents.some((document) => nestingDepth(document) > mergeDepthMax)) {
    return {ok: false, error: 'bad_value', message: `a value nests deeper than ${mergeDepthMax} levels; pick one or edit it instead`}
  }
  const conflicts: MergeConflict[] = []
  const value = mergeAt(documents, '$', conflicts)
  return {ok: true, value, conflicts}
}

/** How deep arrays and objects nest, found without recursion (so a deep value cannot overflow the stack here). */
export function nestingDepth(document: unknown): number {
  let deepest = 0
  const pending: Array<{value: unknown; depth: number}> = [{value: document, depth: 0}]
  // Bounded: every value of the document is pushed once.
  while (pending.length > 0) {
    const {value, depth} = pending.pop() as {value: unknown; depth: number}
    deepest = Math.max(deepest, depth)
    if (depth > mergeDepthMax) break
    const children = Array.isArray(value) ? value : isObject(value) ? Object.values(value) : []
    for (const child of children) pending.push({value: child, depth: depth + 1})
  }
  return deepest
}

/** JSON text of a value with object keys sorted, so that equal documents compare equal. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (isObject(value)) {
    const keys = Object.keys(value).sort()
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function mergeAt(values: readonly unknown[], path: string, conflicts: MergeConflict[]): unknown {
  // All arrays: a union. All objects: key by key. Otherwise equal, or a conflict.
  if (values.every(Array.isArray)) return unionArrays(values as unknown[][])
  if (values.every(isObject)) return mergeObjects(values as Array<Record<string, unknown>>, path, conflicts)
  const distinct = distinctValues(values)
  const kept = values[values.length - 1]
  if (distinct.length > 1) conflicts.push({path, values: distinct, kept})
  return kept
}

function distinctValues(values: readonly unknown[]): unknown[] {
  const seen = new Set<string>()
  const distinct: unknown[] = []
  for (const value of values) {
    const text = canonicalJson(value)
    if (seen.has(text)) continue
    seen.add(text)
    distinct.push(value)
  }
  return distinct
}

function unionArrays(arrays: readonly unknown[][]): unknown[] {
  const result: unknown[] = []
  const countInResult = new Map<string, number>()
  for (const array of arrays) {
    const countHere = new Map<string, number>()
    for (const element of array) {
      const text = canonicalJson(element)
      const here = (countHere.get(text) ?? 0) + 1
      countHere.set(text, here)
      // Add only the occurrences beyond what an older sibling already contributed.
      if (here > (countInResult.get(text) ?? 0)) {
        result.push(element)
        countInResult.set(text, here)
      }
    }
  }
  return result
}

function mergeObjects(objects: ReadonlyArray<Record<string, unknown>>, path: string, conflicts: MergeConflict[]): Record<string, unknown> {
  const keys: string[] = []
  const seen = new Set<string>()
  for (const object of objects) {
    for (const key of Object.keys(object)) {
      if (seen.has(key)) continue
      seen.add(key)
      keys.push(key)
    }
  }
  const result: Record<string, unknown> = {}
  for (const key of keys) {
    const present = objects.filter((object) => Object.hasOwn(object, key)).map((object) => object[key])
    const value = mergeAt(present, `${path}${/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`}`, conflicts)
    // defineProperty, so that a key named "__proto__" (JSON.parse makes it an own key) stays a key.
    Object.defineProperty(result, key, {value, enumerable: true, writable: true, configurable: true})
  }
  return result
}
