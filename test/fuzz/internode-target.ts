/**
 * Fuzz target `internode`: every internode message type's decoder and handler, on a real node.
 * Node `a` of a three-node cluster (fuzz-cluster.ts) gets each input as its transport would hand
 * it over: a frame encoded, then decoded by the real frame codec, then routed by `a`'s router to
 * the subsystem that serves its type. The bodies are the valid messages the cluster exchanged
 * while forming and serving (plus hand-made ones of the types that traffic did not produce),
 * mutated: a subtree replaced by a hostile value (type confusion, huge numbers, NaN, deep nesting),
 * the MessagePack bytes mutated, or a hostile value instead of the body. Properties:
 * - the handler answers or fails within a minute of simulated time (no hang);
 * - a failure carries one of the stable error codes, never `internal` (an exception nobody meant);
 * - an answer can be encoded as a frame (else the peer gets `internal` instead);
 * - a refused input wrote nothing: no object or hint of a key the input names was written in
 *   `a`'s store during its call (a node's background work, such as hint delivery or a transfer
 *   started by an earlier input, writes other keys meanwhile, and may write one the input names:
 *   a write counts only when its key is named by the input and the call refused it);
 * - no unhandled rejection (main.ts and the short test fail on one).
 * The cluster is built again every `inputsPerCluster` inputs, so that the effects of accepted
 * inputs (a joined phantom member, a staged change) do not pile up into a cluster unlike any real one.
 */

import {deriveSeed, type Random} from '../../src/clock.js'
import {errorCodes} from '../../src/errors.js'
import {partitionOfKey} from '../../src/ring/partition.js'
import {decodeHintKey, decodeObjectKey, isHintKey} from '../../src/storage/layout.js'
import type {StoredObject, StoredVersion} from '../../src/storage/stored-object.js'
import {FrameDecoder, tryEncodeFrame} from '../../src/transport/frame.js'
import {MessageType, requestMessageTypes} from '../../src/transport/message-type.js'
import {emptySet, update} from '../../src/versioning/dvvset.js'
import {ValuePool, FuzzFailure, deeplyNested, hex, hostileValue, inputRandom, mutateBytes, type FuzzTarget, type TargetReport} from './fuzz-common.js'
import {partitionCountFuzz, startFuzzCluster, stepTimeMsMax, type FuzzCluster, type RecordedRequest} from './fuzz-cluster.js'
import {encodeStoredObject} from '../../src/storage/object-codec.js'

/** Inputs before the cluster is built again (a build takes about a second). */
export const inputsPerCluster = 50_000
/** Valid bodies kept per message type to mutate from. */
const corpusBodiesPerTypeMax = 40
const stableCodes: ReadonlySet<string> = new Set(errorCodes.filter((code) => code !== 'internal'))
/** Keys of a's store that name objects (0x01) and hints (0x02), as src/storage/layout.ts lays them out. */
const dataNamespaces: ReadonlySet<number> = new Set([0x01, 0x02])

const hostileBodies = new ValuePool(hostileValue, 'internode-hostile')

type Corpus = ReadonlyMap<number, readonly unknown[]>

/** A version as a coordinator writes one. */
function storedObject(key: string, value: string, actor: string, counter: number): StoredObject {
  const version: StoredVersion = {value: Buffer.from(value), contentType: 'text/plain', timestampMs: 1_000_000 + counter, tombstone: false}
  return {versions: update([], emptySet<StoredVersion>(), actor, version, counter), n: 3}
}

/** Hand-made valid bodies of the types the cluster's own traffic does not send in a few seconds. */
function handMadeBodies(ringHash: string): Array<RecordedRequest> {
  const key = 'fuzz-key'
  const partition = partitionOfKey(key, partitionCountFuzz)
  const entries = [{partition, key, object: storedObject(key, 'handed', 'b.1', 7)}]
  return [
    {type: MessageType.HintDelivery, body: {entries}},
    {type: MessageType.ObjectHandoff, body: {entries}},
    {type: MessageType.ReplicaPut, body: {partition, key, objectBytes: encodeStoredObject(storedObject(key, 'replica', 'c.1', 3)), durable: true}},
    {type: MessageType.ReplicaGet, body: {partition, key, hintFor: 'b'}},
    {
      type: MessageType.CoordinatePut,
      body: {key, value: Buffer.from('forwarded'), contentType: 'text/plain', tombstone: false, context: [], n: 3, w: 2, dw: 0, pw: 0, explain: false, forwardedBy: 'b', budgetMs: 900},
    },
    {type: MessageType.AntiEntropyReapCheck, body: {ringHash, partition, keys: [key]}},
    {type: MessageType.AntiEntropyReap, body: {ringHash, partition, entries: [[key, 1, 2]], diskClocks: [['b', 3]]}},
    {type: MessageType.AntiEntropyObjects, body: {partition, keys: [key]}},
    {type: MessageType.AntiEntropyKeys, body: {ringHash, partition, n: 3, segments: [0, 5]}},
    {type: MessageType.AntiEntropySegments, body: {ringHash, partition, n: 3, branches: [0, 1]}},
    {type: MessageType.AntiEntropyBranches, body: {ringHash, partition, n: 3}},
    {type: MessageType.ClusterChange, body: {op: 'plan'}},
    {type: MessageType.ClusterChange, body: {op: 'stage', change: {kind: 'leave', node: 'c'}}},
    {type: MessageType.TransferPage, body: {partition, n: 3, after: null, ringHash}},
    {type: MessageType.DiskClockQuery, body: {name: 'b'}},
    {type: MessageType.NodeStatusQuery, body: {}},
    {type: MessageType.Ping, body: {from: 'b'}},
  ]
}

function buildCorpus(cluster: FuzzCluster): Corpus {
  const corpus = new Map<number, unknown[]>()
  const a = cluster.nodes[0]
  const all = [...cluster.recorded, ...handMadeBodies(a?.membership.ring.hash ?? '')]
  for (const {type, body} of all) {
    const bodies = corpus.get(type) ?? []
    if (bodies.length < corpusBodiesPerTypeMax) bodies.push(body)
    corpus.set(type, bodies)
  }
  return corpus
}

/** Some client traffic, so that the recorded corpus holds replica gets and puts with real objects. */
async function serveSomeTraffic(cluster: FuzzCluster): Promise<void> {
  const text = (value: string): Uint8Array => new TextEncoder().encode(value)
  for (let i = 0; i < 6; i += 1) {
    const node = cluster.nodes[i % cluster.nodes.length]
    if (node === undefined) continue
    await cluster.time.until(node.service.put({key: `warm-${i}`, value: text(`v${i}`), contentType: 'text/plain', tombstone: false, context: [], n: 3, w: 2, dw: 0, pw: 0, explain: false}), stepTimeMsMax)
    await cluster.time.until(node.service.get({key: `warm-${i}`, n: 3, r: 2, pr: 0, explain: false}), stepTimeMsMax)
  }
  await cluster.time.until(Promise.resolve(cluster.nodes[1]?.service.clusterStatus(500)), stepTimeMsMax)
  await cluster.time.runFor(2000)
}

/** Replaces one node of `value` (chosen by walking down at random) with `replacement`; the root itself sometimes. */
function replaceSomewhere(random: Random, value: unknown, replacement: unknown): unknown {
  if (random.int(5) === 0 || typeof value !== 'object' || value === null || value instanceof Uint8Array) return replacement
  if (Array.isArray(value)) {
    if (value.length === 0) return [replacement]
    const copy = [...value]
    const at = random.int(copy.length)
    copy[at] = replaceSomewhere(random, copy[at], replacement)
    return copy
  }
  const copy: Record<string, unknown> = {...(value as Record<string, unknown>)}
  const keys = Object.keys(copy)
  if (keys.length === 0 || random.int(8) === 0) {
    copy[['key', 'partition', 'n', 'entries', '__proto__', 'constructor', 'table'][random.int(7)] as string] = replacement
    return copy
  }
  const key = keys[random.int(keys.length)] as string
  if (random.int(10) === 0) delete copy[key]
  else copy[key] = replaceSomewhere(random, copy[key], replacement)
  return copy
}

interface InternodeInput {
  readonly type: number
  readonly fromNode: string
  /** The frame as it would arrive (after its Hello), whose decoded body the router gets. */
  readonly frame: Buffer
}

export function internodeInput(seed: number, index: number, corpus: Corpus): InternodeInput {
  const random = inputRandom(seed, index, 'internode')
  const types = [...corpus.keys()].sort((x, y) => x - y)
  const type = random.int(12) === 0 ? random.int(256) : (types[random.int(types.length)] as number)
  const bodies = corpus.get(type) ?? corpus.get(MessageType.Ping) ?? [null]
  const base = bodies[random.int(bodies.length)]
  // Now and then a value nested far deeper than any real body, which the frame codec must refuse.
  const hostile = random.int(40) === 0 ? deeplyNested(1 + random.int(5000)) : hostileBodies.pick(seed, random)
  const fromNode = (['b', 'b', 'b', 'c', 'a', 'stranger', ''] as const)[random.int(7)] as string
  const mode = random.int(10)
  let body: unknown = base
  if (mode >= 1 && mode <= 4) body = replaceSomewhere(random, base, hostile)
  else if (mode === 5) body = hostile
  let frame = encodeOrNull(type, index, body) ?? encodeOrNull(type, index, base) ?? Buffer.alloc(0)
  if (mode >= 6 && frame.length > 10) {
    // The body's bytes mutated, the header kept valid (its length fixed up) so that the input
    // reaches the handler whenever the mutated bytes are still one MessagePack value.
    const mutated = mutateBytes(random, frame.subarray(10), encodeOrNull(type, index, hostile)?.subarray(10))
    frame = Buffer.concat([frame.subarray(0, 10), mutated.length === 0 ? Buffer.from([0xc0]) : mutated])
    frame.writeUInt32BE(frame.length - 4, 0)
  }
  return {type, fromNode, frame}
}

function encodeOrNull(type: number, requestId: number, body: unknown): Buffer | null {
  const encoded = tryEncodeFrame({type, requestId: requestId >>> 0, body})
  return encoded.ok ? encoded.bytes : null
}

/** Runs one input against node a; returns the broken property, or how it ended. */
export async function runInternodeInput(cluster: FuzzCluster, input: InternodeInput, dataWrites: DataWrites): Promise<string | {outcome: string}> {
  const a = cluster.nodes[0]
  if (a === undefined) return 'the cluster has no node a'
  const decoded = new FrameDecoder().push(input.frame)
  if (!decoded.ok) return {outcome: `frame:${decoded.error}`}
  const frame = decoded.frames[0]
  if (frame === undefined) return {outcome: 'frame:incomplete'}
  // The transport answers a type that is no request itself (tcp-transport.ts #dispatch), without the router.
  if (!requestMessageTypes.has(frame.type)) return {outcome: 'not_a_request'}
  const writesBefore = dataWrites.count()
  let answer: unknown
  try {
    answer = await cluster.time.until(Promise.resolve().then(() => a.router(frame.type, frame.body, input.fromNode)), stepTimeMsMax)
  } catch (error) {
    const message = (error as Error).message ?? String(error)
    if (message.startsWith('simulated time')) return `the handler of type ${frame.type} hung: ${message}`
    const code = (error as {code?: unknown}).code
    if (typeof code !== 'string' || !stableCodes.has(code)) return `the handler of type ${frame.type} failed without a stable code: ${(error as Error).stack ?? message}`
    if (refusesBeforeWriting(code)) {
      const named = keysNamedIn(frame.body)
      const written = dataWrites.keysSince(writesBefore).filter((key) => named.has(key))
      if (written.length > 0) return `type ${frame.type} was refused (${code}) yet wrote ${written.map((key) => JSON.stringify(key)).join(', ')} to the store`
    }
    return {outcome: code}
  }
  const encoded = tryEncodeFrame({type: MessageType.Response, requestId: 1, body: answer})
  if (!encoded.ok) return `the answer to type ${frame.type} cannot be sent: ${encoded.message}`
  return {outcome: 'ok'}
}

/**
 * Codes that refuse an input before anything is stored: a malformed or unacceptable message. A
 * write that fails later for a cause of its own (a quorum not met after the local write, a
 * sibling limit on one entry) may legitimately have stored part of it, as the API documents.
 */
function refusesBeforeWriting(code: string): boolean {
  return code === 'bad_request' || code === 'bad_key' || code === 'bad_value' || code === 'bad_context' || code === 'bad_parameter' || code === 'removed'
}

/** The object and hint writes reaching a node's database: how many so far, and the keys written since a count. */
export interface DataWrites {
  count(): number
  keysSince(count: number): string[]
}

/** Written keys remembered; each input's call looks only at those written during it. */
const writtenKeysKept = 4096
/** Levels of a body searched for the keys it names. */
const keySearchDepthMax = 8

/** Watches a node's database (abstract-level's 'write' event) for object and hint writes, and the keys they wrote. */
function watchDataWrites(cluster: FuzzCluster): DataWrites {
  let writes = 0
  const recent: Array<{index: number; key: string}> = []
  const database = (cluster.nodes[0]?.store as unknown as {db?: {on?: (event: string, listener: (operations: Array<{key: unknown}>) => void) => void}}).db
  if (database?.on === undefined) throw new Error('the store of node a has no database to watch')
  database.on('write', (operations) => {
    for (const operation of operations) {
      const key = operation.key
      if (!(key instanceof Uint8Array) || !dataNamespaces.has(key[0] as number)) continue
      writes += 1
      const raw = Buffer.from(key)
      recent.push({index: writes, key: isHintKey(raw) ? decodeHintKey(raw).key : decodeObjectKey(raw).key})
      if (recent.length > writtenKeysKept) recent.shift()
    }
  })
  return {
    count: () => writes,
    keysSince: (count) => recent.filter((write) => write.index > count).map((write) => write.key),
  }
}

/** The keys a body names (every string under a `key` field, and the strings of a `keys` list). */
function keysNamedIn(body: unknown): Set<string> {
  const named = new Set<string>()
  const visit = (value: unknown, depth: number): void => {
    if (depth > keySearchDepthMax || typeof value !== 'object' || value === null || value instanceof Uint8Array) return
    for (const [field, child] of Object.entries(value)) {
      if (field === 'key' && typeof child === 'string') named.add(child)
      else if (field === 'keys' && Array.isArray(child)) for (const key of child) if (typeof key === 'string') named.add(key)
      visit(child, depth + 1)
    }
  }
  visit(body, 0)
  return named
}

export const internodeTarget: FuzzTarget = {
  name: 'internode',
  async run({seed, inputs, skip, progress}): Promise<TargetReport> {
    const began = performance.now()
    const breakdown: Record<string, number> = {}
    let cluster: FuzzCluster | undefined
    let corpus: Corpus = new Map()
    let dataWrites: DataWrites = {count: () => 0, keysSince: () => []}
    try {
      for (let index = skip; index < skip + inputs; index += 1) {
        if (cluster === undefined || (index - skip) % inputsPerCluster === 0) {
          await cluster?.stop()
          cluster = await startFuzzCluster(deriveSeed(seed, `internode-cluster:${Math.floor(index / inputsPerCluster)}`))
          await serveSomeTraffic(cluster)
          corpus = buildCorpus(cluster)
          dataWrites = watchDataWrites(cluster)
        }
        const input = internodeInput(seed, index, corpus)
        const result = await runInternodeInput(cluster, input, dataWrites)
        if (typeof result === 'string') throw new FuzzFailure('internode', seed, index, result, `type ${input.type} from ${JSON.stringify(input.fromNode)}, frame ${hex(input.frame)}`)
        const kind = `${MessageType[input.type] ?? 'unknown type'}:${result.outcome}`
        breakdown[kind] = (breakdown[kind] ?? 0) + 1
        if (progress !== undefined && (index - skip) % 5_000 === 0) progress(index - skip)
      }
    } finally {
      await cluster?.stop()
    }
    return {target: 'internode', seed, inputs, elapsedMs: performance.now() - began, breakdown: summarize(breakdown)}
  },
}

/** Per message type: inputs run, and how many were answered ok. */
function summarize(breakdown: Record<string, number>): Record<string, number> {
  const summary: Record<string, number> = {}
  for (const [kind, count] of Object.entries(breakdown)) {
    const [type, outcome] = kind.split(':') as [string, string]
    summary[type] = (summary[type] ?? 0) + count
    if (outcome === 'ok') summary[`${type} ok`] = (summary[`${type} ok`] ?? 0) + count
  }
  return summary
}
