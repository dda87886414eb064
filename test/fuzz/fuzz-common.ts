/**
 * What every in-process fuzz target shares (issue 16, "Hostile input"): a seeded, replayable
 * stream of inputs, byte-level mutations of valid inputs (AFL's classic set: bit flips,
 * interesting bytes, truncation, insertion, deletion, splicing), hostile MessagePack values from
 * fast-check (wrong types, huge and fractional numbers, NaN, deep nesting, long strings and
 * arrays), and the failure that carries a reproducible input.
 *
 * Determinism: input `index` of a run with seed `seed` depends on nothing but those two numbers
 * (its own random stream, and a pool of fast-check values drawn once from the seed), so `--seed S --skip I --inputs 1` regenerates exactly input I.
 * What the node under test does with it may still depend on the inputs before it (a Join that was
 * accepted changes the member table), so a failure also prints the input's bytes in hex, which
 * is what a regression case keeps.
 */

import fc from 'fast-check'
import {deriveSeed, seededRandom, type Random} from '../../src/clock.js'

/** An input a target ran that broke one of its properties: what broke, and the bytes to replay. */
export class FuzzFailure extends Error {
  constructor(
    readonly target: string,
    readonly seed: number,
    readonly index: number,
    readonly property: string,
    readonly inputHex: string,
  ) {
    super(`${target}: input ${index} of seed ${seed} broke "${property}"\n  input (hex): ${inputHex}\n  reproduce with: npm run fuzz -- --target ${target} --seed ${seed} --skip ${index} --inputs 1`)
    this.name = 'FuzzFailure'
  }
}

/** The random stream of one input: independent of every other input's. */
export function inputRandom(seed: number, index: number, target: string): Random {
  return seededRandom(deriveSeed(seed, `${target}:${index}`))
}

/** fast-check values drawn once per run; inputs pick from them (and combine two) by their own random stream. */
export const poolValues = 4096

/**
 * A pool of fast-check values for a whole run, drawn once from the run's seed: drawing one per
 * input costs a fast-check run's setup each time (it was three quarters of the frame target's
 * time). Each input takes one value, or an array or map of two, chosen by its own random stream.
 */
export class ValuePool {
  readonly #arbitrary: fc.Arbitrary<unknown>
  readonly #label: string
  #seed: number | undefined
  #values: unknown[] = []

  constructor(arbitrary: fc.Arbitrary<unknown>, label: string) {
    this.#arbitrary = arbitrary
    this.#label = label
  }

  pick(seed: number, random: Random): unknown {
    if (this.#seed !== seed) {
      this.#values = fc.sample(this.#arbitrary, {seed: deriveSeed(seed, `${this.#label}:pool`) | 0, numRuns: poolValues})
      this.#seed = seed
    }
    const one = (): unknown => this.#values[random.int(this.#values.length)]
    switch (random.int(6)) {
      case 0:
        return [one(), one()]
      case 1:
        return {key: one(), partition: one()}
      default:
        return one()
    }
  }
}

/** Numbers that break code which assumes "a small non-negative integer". */
const hostileNumbers: readonly number[] = [
  0, -0, 1, -1, 0.5, -0.5, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 52, 2 ** 53, 2 ** 53 + 2, -(2 ** 53),
  Number.MAX_VALUE, Number.MIN_VALUE, Number.EPSILON, Infinity, -Infinity, NaN, 1e308, -1e308,
]

/**
 * Any value MessagePack carries, biased towards what breaks checks: the numbers above, bigints
 * past 2^64, long strings and byte strings, deep nesting and wide arrays. Depth and widths are
 * bounded so that one input stays far below the frame limit and one run stays fast.
 */
export const hostileValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.constantFrom<unknown>(...hostileNumbers, null, true, false, '', 'a', 'n1', '\u0000', '\ud800', 'x'.repeat(1025)),
    fc.integer(),
    fc.double(),
    fc.bigInt({min: -(2n ** 70n), max: 2n ** 70n}),
    fc.string({maxLength: 40}),
    fc.string({unit: 'binary', maxLength: 20}),
    fc.uint8Array({maxLength: 64}).map((bytes) => Buffer.from(bytes)),
    fc.nat(4096).map((length) => 'k'.repeat(length)),
  ),
  node: fc.oneof(
    {depthSize: 'small', maxDepth: 6},
    tie('leaf'),
    fc.array(tie('node'), {maxLength: 6}),
    fc.dictionary(fc.oneof(fc.constantFrom('partition', 'key', 'object', 'n', 'versions', 'entries', 'ringHash', 'members', 'name'), fc.string({maxLength: 8})), tie('node'), {maxKeys: 6}),
  ),
})).node

/** A value nested `depth` arrays deep: a decoder or a check that recurses must not blow the stack. */
export function deeplyNested(depth: number): unknown {
  let value: unknown = 0
  for (let level = 0; level < depth; level += 1) value = [value]
  return value
}

/** Bytes with a special meaning somewhere: length and type fields, MessagePack markers, sign bits. */
const interestingBytes: readonly number[] = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xc0, 0xc1, 0xc4, 0xc7, 0xcb, 0xcf, 0xd3, 0xd4, 0xdc, 0xdd, 0xde, 0xdf, 0x90, 0x9f, 0xa0, 0xbf, 0x81, 0x8f]

/** Mutations applied to one input, at most: more than a few make the input noise. */
const mutationsPerInputMax = 4

/**
 * A mutated copy of `original` (never changed in place): 1 to `mutationsPerInputMax` of bit
 * flips, interesting bytes, a 32-bit field set to an edge value, truncation, deletion,
 * duplication, insertion of random bytes, or a splice with `donor`.
 */
export function mutateBytes(random: Random, original: Uint8Array, donor: Uint8Array = original): Buffer {
  let bytes = Buffer.from(original)
  const mutations = 1 + random.int(mutationsPerInputMax)
  for (let step = 0; step < mutations; step += 1) {
    const at = bytes.length === 0 ? 0 : random.int(bytes.length)
    switch (random.int(9)) {
      case 0:
        if (bytes.length > 0) bytes[at] = (bytes[at] as number) ^ (1 << random.int(8))
        break
      case 1:
        if (bytes.length > 0) bytes[at] = interestingBytes[random.int(interestingBytes.length)] as number
        break
      case 2:
        if (bytes.length >= 4) bytes.writeUInt32BE([0, 1, 0x7fffffff, 0x80000000, 0xffffffff, random.int(0x100000000)][random.int(6)] as number, random.int(bytes.length - 3))
        break
      case 3:
        bytes = bytes.subarray(0, at)
        break
      case 4: {
        const length = 1 + random.int(Math.max(1, Math.min(16, bytes.length - at)))
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + length)])
        break
      }
      case 5: {
        const length = 1 + random.int(16)
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at, at + length), bytes.subarray(at)])
        break
      }
      case 6: {
        const inserted = Buffer.alloc(1 + random.int(16))
        for (let i = 0; i < inserted.length; i += 1) inserted[i] = random.int(256)
        bytes = Buffer.concat([bytes.subarray(0, at), inserted, bytes.subarray(at)])
        break
      }
      case 7: {
        const from = donor.length === 0 ? 0 : random.int(donor.length)
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(donor.subarray(from, from + 1 + random.int(64)))])
        break
      }
      default:
        if (bytes.length > 0) bytes[at] = random.int(256)
    }
  }
  return bytes
}

/** Cuts `bytes` into chunks at random places (or not at all): a TCP stream may split anywhere. */
export function randomChunks(random: Random, bytes: Buffer): Buffer[] {
  if (bytes.length <= 1 || random.int(4) === 0) return [bytes]
  const chunks: Buffer[] = []
  let start = 0
  // Each pass takes at least one byte, so at most `bytes.length` passes.
  while (start < bytes.length) {
    const length = random.int(3) === 0 ? 1 : 1 + random.int(Math.max(1, bytes.length - start))
    chunks.push(bytes.subarray(start, start + length))
    start += length
  }
  return chunks
}

/** A bound on one call: a handler that neither answers nor fails by then hangs. */
export function withinMs<T>(promise: Promise<T>, boundMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HangError(`${what} neither answered nor failed within ${boundMs} ms`)), boundMs)
  })
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer))
}

export class HangError extends Error {
  override readonly name = 'HangError'
}

/** What one target's run reports. */
export interface TargetReport {
  readonly target: string
  readonly seed: number
  readonly inputs: number
  readonly elapsedMs: number
  /** Per kind of input (a message type, an HTTP method...): how many ran, for the report. */
  readonly breakdown: Record<string, number>
}

/** One fuzz target: runs inputs `skip` .. `skip + inputs - 1` of `seed`, throwing a FuzzFailure at the first that breaks a property. */
export interface FuzzTarget {
  readonly name: string
  run(options: {readonly seed: number; readonly inputs: number; readonly skip: number; readonly progress?: (done: number) => void}): Promise<TargetReport>
}

/**
 * The run of a target whose inputs are checked synchronously, one after another: `check` answers
 * the input's kind for the report's breakdown, or the property it broke and the input as the
 * failure shows it.
 */
export async function runSyncInputs<Input>(
  target: string,
  {seed, inputs, skip, progress}: Parameters<FuzzTarget['run']>[0],
  make: (seed: number, index: number) => Input,
  check: (input: Input) => {readonly kind: string} | {readonly broken: string; readonly shown: string},
): Promise<TargetReport> {
  const began = performance.now()
  const breakdown: Record<string, number> = {}
  for (let index = skip; index < skip + inputs; index += 1) {
    const outcome = check(make(seed, index))
    if ('broken' in outcome) throw new FuzzFailure(target, seed, index, outcome.broken, outcome.shown)
    breakdown[outcome.kind] = (breakdown[outcome.kind] ?? 0) + 1
    if (progress !== undefined && (index - skip) % 10_000 === 0) {
      progress(index - skip)
      // Lets a caller's timers (a progress line, a test's watchdog) run between batches.
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  return {target, seed, inputs, elapsedMs: performance.now() - began, breakdown}
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}
