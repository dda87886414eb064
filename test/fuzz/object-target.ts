/**
 * Fuzz target `object`: the stored-object codec (src/storage/object-codec.ts), which reads every
 * object from LevelDB and every ReplicaPut's object from the network. Each input is a random
 * stored object (several actors, values of any bytes, Unicode actors and content types, dots and
 * clouds, numbers up to 2^53), encoded, and usually mutated. Properties:
 * - decoding never throws anything but `ObjectCodecError`, whatever the bytes;
 * - an object that was not mutated decodes to an equal object;
 * - whatever decodes, encodes and decodes again to an equal object (nothing read is lost on the
 *   way back to disk or to another replica).
 */

import {isDeepStrictEqual} from 'node:util'
import {decodeStoredObject, encodeStoredObject, ObjectCodecError} from '../../src/storage/object-codec.js'
import type {StoredObject, StoredVersion} from '../../src/storage/stored-object.js'
import type {Entry} from '../../src/versioning/dvvset.js'
import type {Random} from '../../src/clock.js'
import {hex, inputRandom, mutateBytes, runSyncInputs, type FuzzTarget, type TargetReport} from './fuzz-common.js'

const entriesMax = 6
const valuesMax = 4
const listMax = 5
const alphabet = ['a', 'n', '1', '.', '/', 'é', '語', '\u0000', '😀']

function text(random: Random, lengthMax: number): string {
  let result = ''
  const length = random.int(lengthMax + 1)
  for (let index = 0; index < length; index += 1) result += alphabet[random.int(alphabet.length)]
  return result
}

/** A whole number below 2^53, small most of the time. */
function counter(random: Random): number {
  return random.int(4) === 0 ? Math.floor(random.next() * Number.MAX_SAFE_INTEGER) : random.int(1000)
}

function bytes(random: Random): Buffer {
  const out = Buffer.alloc(random.int(8) === 0 ? random.int(2000) : random.int(40))
  for (let index = 0; index < out.length; index += 1) out[index] = random.int(256)
  return out
}

/** Any object of the stored shape: the codec reads and writes shapes, not the set's invariants. */
export function randomStoredObject(random: Random): StoredObject {
  const entries: Array<Entry<StoredVersion>> = []
  const entryCount = random.int(entriesMax + 1)
  for (let index = 0; index < entryCount; index += 1) {
    const values: StoredVersion[] = []
    const valueCount = random.int(valuesMax + 1)
    for (let value = 0; value < valueCount; value += 1) values.push({value: bytes(random), contentType: text(random, 30), timestampMs: counter(random), tombstone: random.int(2) === 0})
    const list = (): number[] => Array.from({length: random.int(listMax + 1)}, () => counter(random))
    const dots = random.int(3) === 0 ? list() : undefined
    const cloud = random.int(3) === 0 ? list() : undefined
    entries.push({actor: text(random, 20), counter: counter(random), values, ...(dots === undefined ? {} : {dots}), ...(cloud === undefined ? {} : {cloud}), updatedAtMs: counter(random)})
  }
  return {versions: {entries}, n: 1 + random.int(64)}
}

interface ObjectInput {
  readonly bytes: Buffer
  /** The object the bytes encode, when they were not mutated. */
  readonly object: StoredObject | undefined
}

export function objectInput(seed: number, index: number): ObjectInput {
  const random = inputRandom(seed, index, 'object')
  const object = randomStoredObject(random)
  const encoded = encodeStoredObject(object)
  if (random.int(4) === 0) return {bytes: encoded, object}
  // Sometimes another object's bytes are spliced in, as a torn or mixed-up record would be.
  return {bytes: mutateBytes(random, encoded, random.int(3) === 0 ? encodeStoredObject(randomStoredObject(random)) : encoded), object: undefined}
}

/** Runs one input; returns the property it broke, or whether it decoded. */
export function checkObjectInput(input: ObjectInput): string | 'decoded' | 'refused' {
  let decoded: StoredObject
  try {
    decoded = decodeStoredObject(input.bytes)
  } catch (error) {
    if (!(error instanceof ObjectCodecError)) return `decode threw something else than ObjectCodecError: ${(error as Error).stack ?? String(error)}`
    if (input.object !== undefined) return `an unmutated object was refused: ${(error as Error).message}`
    return 'refused'
  }
  if (input.object !== undefined && !isDeepStrictEqual(plain(decoded), plain(input.object))) return 'an unmutated object decoded to another object'
  let again: StoredObject
  try {
    again = decodeStoredObject(encodeStoredObject(decoded))
  } catch (error) {
    return `what decoded did not encode and decode again: ${(error as Error).message}`
  }
  if (!isDeepStrictEqual(plain(again), plain(decoded))) return 'what decoded changed on its way through encode and decode'
  return 'decoded'
}

/** The object with its values as plain byte arrays, so that a Buffer and a view of equal bytes compare equal. */
function plain(object: StoredObject): unknown {
  return {n: object.n, entries: object.versions.entries.map((entry) => ({...entry, values: entry.values.map((value) => ({...value, value: [...value.value]}))}))}
}

export const objectTarget: FuzzTarget = {
  name: 'object',
  run: (options): Promise<TargetReport> =>
    runSyncInputs('object', options, objectInput, (input) => {
      const outcome = checkObjectInput(input)
      return outcome === 'decoded' || outcome === 'refused' ? {kind: outcome} : {broken: outcome, shown: hex(input.bytes)}
    }),
}
