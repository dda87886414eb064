/**
 * Objects made once per request keep one shape (V8's "map") from request to request.
 *
 * On Node 20 (V8 11.3) an object literal that copies another by spread and then sets a property,
 * `{...core, replies}` or `{...write, onMerged}`, gets a map of its own each time once the code
 * making it is optimized. Every read or write of such an object then misses V8's inline caches
 * and goes through the runtime: `node --log-ic` counted about nine misses per put on a single
 * node and three per acknowledgement on a coordinator, and none once the request path wrote its
 * objects out field by field (bench/README.md, "Object shapes on the request path").
 *
 * The test runs this same file again in a child process with `--allow-natives-syntax`, which
 * lets it optimize the functions that make those objects and ask V8 whether two results share a
 * map. It fails on the spread versions of the coordinator's write (`coordinatorWrite`) and of
 * `writeNewVersion`'s answer (checked when it was written). The quorum cores' copies by spread
 * missed in a running node but kept their map when made alone here, so for them, and for a
 * forwarded put's body, the test guards against the form that fails alone too: a spread followed
 * by a property the source does not have. Each result also says that the code ran optimized, or
 * its maps would prove nothing. `bench/experiments/profile.js --ic` on nodes under load is the
 * full check.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {addAck, addFailure, initPut, replaceTarget} from '../../src/coordinator/put-core.js'
import {addFailure as addGetFailure, addReply, addTarget, initGet} from '../../src/coordinator/get-core.js'
import {coordinatorWrite, forwardedPutBody} from '../../src/coordinator/put-coordinator.js'
import type {PutRequest} from '../../src/coordinator/put-coordinator.js'
import {writeNewVersion} from '../../src/coordinator/replica.js'
import {DotLedger} from '../../src/coordinator/write-actor.js'
import {memoryDatabase} from '../../src/storage/backend.js'
import {Store} from '../../src/storage/store.js'
import type {StoredVersion} from '../../src/storage/stored-object.js'

const probeFlag = '--shape-probe'
/** V8's optimization status bit for code that TurboFan made (src/runtime/runtime.h, OptimizationStatus::kOptimized). */
const optimizedStatusBit = 1 << 4

if (process.argv.includes(probeFlag)) await probe()
else {
  describe('object shapes on the request path', () => {
    it('the quorum cores and a coordinator write make objects of one shape, call after call, once optimized', () => {
      const output = execFileSync(process.execPath, ['--allow-natives-syntax', fileURLToPath(import.meta.url), probeFlag], {encoding: 'utf8', timeout: 60_000})
      const results = JSON.parse(output) as Record<string, Probed>
      const expected: Probed = {optimized: true, sameMap: true}
      assert.deepEqual(results, {
        addAck: expected,
        addFailure: expected,
        replaceTarget: expected,
        addReply: expected,
        addGetFailure: expected,
        addTarget: expected,
        coordinatorWrite: expected,
        forwardedPutBody: expected,
        writeNewVersion: expected,
      })
    })
  })
}

/** Natives syntax is not TypeScript: it is parsed at run time, in the child started with the flag. */
function native<T>(body: string, ...parameters: string[]): (...values: unknown[]) => T {
  return new Function(...parameters, body) as (...values: unknown[]) => T
}

/** Whether the code under test ran optimized when probed (else its maps say nothing), and whether two of its objects shared a map. */
interface Probed {
  readonly optimized: boolean
  readonly sameMap: boolean
}

/**
 * Optimizes `make` and `maker`, the function under test that it calls (V8's own test idiom:
 * feedback first, then an optimization on the next call), and says whether `make` ran optimized
 * and two objects made afterwards share a map.
 */
async function sameMapWhenOptimized(maker: (...values: never[]) => unknown, make: () => unknown): Promise<Probed> {
  const prepare = native<void>('%PrepareFunctionForOptimization(f)', 'f')
  const optimizeNext = native<void>('%OptimizeFunctionOnNextCall(f)', 'f')
  const haveSameMap = native<boolean>('return %HaveSameMap(a, b)', 'a', 'b')
  const optimizationStatus = native<number>('return %GetOptimizationStatus(f)', 'f')
  prepare(maker)
  prepare(make)
  for (let call = 0; call < 1000; call += 1) await make()
  optimizeNext(maker)
  optimizeNext(make)
  await make()
  const first = await make()
  const second = await make()
  // `make` ran optimized, and `maker` with it: inlined into it, or called from it with its own
  // optimization asked for above (when inlined, its own status says nothing, as it is not called).
  return {optimized: (optimizationStatus(make) & optimizedStatusBit) !== 0, sameMap: haveSameMap(first, second)}
}

async function probe(): Promise<void> {
  const store = await Store.open(memoryDatabase(), {writeBuffer: false, scheduler: {soon: (callback: () => void) => setImmediate(callback)}})
  const dots = new DotLedger()
  const policy = {conflictPolicy: 'siblings', entriesMax: 10, siblingsPerKeyMax: 64, objectBytesMax: 1 << 20} as const
  let key = 0
  const request: PutRequest = {key: 'k', value: Buffer.from('v'), contentType: 'text/plain', tombstone: false, context: [], n: 3, w: 2, dw: 0, pw: 0, explain: false}
  const version = (): StoredVersion => ({value: Buffer.from('v'), contentType: 'text/plain', timestampMs: Date.now(), tombstone: false})
  const results = {
    // Each from a core a step made, as a request's cores are: the first answer's and the next.
    addAck: await sameMapWhenOptimized(addAck, () => addAck(addAck(initPut(3, 2, 0, 0, 3), 'n1', false), 'n2', false)),
    addFailure: await sameMapWhenOptimized(addFailure, () => addFailure(addAck(initPut(3, 2, 0, 0, 3), 'n1', false), 'n2')),
    replaceTarget: await sameMapWhenOptimized(replaceTarget, () => replaceTarget(addAck(initPut(3, 2, 0, 0, 3), 'n1', false), 'n2')),
    addReply: await sameMapWhenOptimized(addReply, () => addReply(addTarget(initGet(2, 2, 0, 2)), {node: 'n2', object: undefined})),
    addGetFailure: await sameMapWhenOptimized(addGetFailure, () => addGetFailure(addTarget(initGet(2, 2, 0, 2)), 'n2')),
    addTarget: await sameMapWhenOptimized(addTarget, () => addTarget(addReply(initGet(2, 2, 0, 2), {node: 'n1', object: undefined}))),
    // The coordinator's two objects of every put, made by the functions it makes them with.
    coordinatorWrite: await sameMapWhenOptimized(coordinatorWrite, () => coordinatorWrite(request, version(), {actor: 'n1.1', dots}, false, () => undefined)),
    forwardedPutBody: await sameMapWhenOptimized(forwardedPutBody, () => forwardedPutBody(request, 'n1', 950)),
    // A put's own write stored, with the callback the coordinator gives it.
    writeNewVersion: await sameMapWhenOptimized(writeNewVersion, () =>
      writeNewVersion(store, policy, 0, `k${(key += 1)}`, {context: [], version: version(), actor: 'n1.1', dots, n: 3, nowMs: Date.now(), durable: false, onMerged: () => undefined}),
    ),
  }
  await store.close()
  process.stdout.write(JSON.stringify(results))
}
