/**
 * The workloads of `dyn bench`: YCSB's core workloads A, B, C, D and F (Cooper et al., SoCC 2010,
 * §4.2; E is left out because Dynamo has no range scans, §4.1) and the shopping cart of the
 * Dynamo paper (§4.4), whose concurrent adds become siblings that the client merges.
 *
 * Also here, because every workload shares them: the operation picker, YCSB's hashed key names,
 * value bytes, and the cart's merge-by-union. Pure: randomness comes in as a `Random`.
 */

import {assert} from '../src/errors.js'
import type {Random} from '../src/clock.js'
import {fnv1a64, type DistributionName} from './distributions.js'

export type WorkloadName = 'a' | 'b' | 'c' | 'd' | 'f' | 'cart'

/**
 * `rmw` reads a record and writes it back with the read's context (YCSB F). `cart` reads a
 * cart, merges its siblings, adds an item and writes back with the context (Dynamo §4.4).
 */
export type OperationKind = 'read' | 'update' | 'insert' | 'rmw' | 'cart'

export interface Workload {
  readonly name: WorkloadName
  readonly title: string
  /** Proportions sum to 1; kinds that never happen are left out. */
  readonly mix: ReadonlyArray<{kind: OperationKind; proportion: number}>
  /** The key distribution YCSB gives this workload by default. */
  readonly distribution: DistributionName
}

export const workloads: Readonly<Record<WorkloadName, Workload>> = Object.freeze({
  a: {
    name: 'a',
    title: 'YCSB A: update heavy (50% read, 50% update)',
    mix: [
      {kind: 'read', proportion: 0.5},
      {kind: 'update', proportion: 0.5},
    ],
    distribution: 'zipfian',
  },
  b: {
    name: 'b',
    title: 'YCSB B: read mostly (95% read, 5% update)',
    mix: [
      {kind: 'read', proportion: 0.95},
      {kind: 'update', proportion: 0.05},
    ],
    distribution: 'zipfian',
  },
  c: {
    name: 'c',
    title: 'YCSB C: read only (100% read)',
    mix: [{kind: 'read', proportion: 1}],
    distribution: 'zipfian',
  },
  d: {
    name: 'd',
    title: 'YCSB D: read latest (95% read, 5% insert)',
    mix: [
      {kind: 'read', proportion: 0.95},
      {kind: 'insert', proportion: 0.05},
    ],
    distribution: 'latest',
  },
  f: {
    name: 'f',
    title: 'YCSB F: read-modify-write (50% read, 50% read-modify-write)',
    mix: [
      {kind: 'read', proportion: 0.5},
      {kind: 'rmw', proportion: 0.5},
    ],
    distribution: 'zipfian',
  },
  cart: {
    name: 'cart',
    title: 'Shopping cart (Dynamo §4.4): read, merge siblings, add an item, write back',
    mix: [{kind: 'cart', proportion: 1}],
    distribution: 'zipfian',
  },
})

export function isWorkloadName(x: string): x is WorkloadName {
  return Object.hasOwn(workloads, x)
}

/** How far the proportions of a mix may stray from summing to 1 through decimal rounding. */
const proportionSumTolerance = 1e-9

/** Draws operation kinds in the proportions of the workload's mix. */
export function operationPicker(workload: Workload, random: Random): {next(): OperationKind} {
  const mix = workload.mix
  assert(mix.length > 0, `workload ${workload.name} has an empty mix`)
  assert(
    mix.every(({proportion}) => proportion >= 0 && Number.isFinite(proportion)),
    `workload ${workload.name} has a negative or non-finite proportion`,
  )
  const cumulative: number[] = []
  let total = 0
  for (const {proportion} of mix) {
    total += proportion
    cumulative.push(total)
  }
  assert(Math.abs(total - 1) <= proportionSumTolerance, `workload ${workload.name}: proportions sum to ${total}, not 1`)
  const lastKind = mix[mix.length - 1]!.kind
  return {
    next(): OperationKind {
      const u = random.next()
      // Bounded by the mix, a handful of entries; a linear scan beats a search at this size.
      for (let i = 0; i < mix.length; i++) {
        if (u < cumulative[i]!) return mix[i]!.kind
      }
      // Only reached when rounding leaves the total a hair under 1.
      return lastKind
    },
  }
}

/** Digits of the largest hash, 2^63: every key name has the same length. */
const keyHashDigits = 19

/**
 * The key of record `index`: 'user' and the FNV-1a hash of the index, as YCSB names its records
 * (index 0 is `user6284781860667377211`), zero-padded to a fixed width. Hashing spreads
 * consecutive inserts over the whole ring instead of one partition.
 */
export function keyName(index: number): string {
  return 'user' + fnv1a64(index).toString().padStart(keyHashDigits, '0')
}

/**
 * Bounds one value's size against a typo in a flag. Above the API's 1 MiB limit on purpose, so
 * that a bench can still probe the `413` path.
 */
export const valueSizeMax = 16 * 1024 * 1024

/** The printable ASCII characters a value is drawn from, space excluded: '!' (0x21) to '~' (0x7e). */
const printableFirst = 0x21
const printableCount = 0x7e - 0x21 + 1

/** `size` random printable bytes, so that a value can be shown in a terminal or a log as is. */
export function valueOf(size: number, random: Random): Buffer {
  assert(Number.isSafeInteger(size) && size >= 0 && size <= valueSizeMax, `a value size must be an integer in [0, ${valueSizeMax}], got ${size}`)
  const bytes = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) bytes[i] = printableFirst + random.int(printableCount)
  return bytes
}

/**
 * The cart the client sees after reading (Dynamo §4.4): the union of the items of every sibling,
 * so that an add made on either side of a partition is never lost (a deleted item can come back,
 * as the paper accepts). A sibling that is not a JSON array, such as a tombstone's empty value or
 * a foreign write, counts as an empty cart; elements that are not strings are ignored.
 */
export function mergeCarts(siblings: readonly Buffer[]): string[] {
  const items = new Set<string>()
  for (const sibling of siblings) {
    for (const item of parseCart(sibling)) items.add(item)
  }
  return [...items].sort()
}

/** The cart with `item` added, as the value to write back: a sorted JSON array without repeats. */
export function addToCart(items: readonly string[], item: string): Buffer {
  const next = new Set(items)
  next.add(item)
  return Buffer.from(JSON.stringify([...next].sort()))
}

function parseCart(value: Buffer): string[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(value.toString('utf8'))
  } catch {
    return []
  }
  if (!Array.isArray(parsed)) return []
  return parsed.filter((item): item is string => typeof item === 'string')
}
