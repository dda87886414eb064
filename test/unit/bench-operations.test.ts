/**
 * Tests of the benchmark's operation state machines (bench/operations.ts): the HTTP steps each
 * kind sends, how replies become outcomes, versions seen (Dynamo §6.3) and cached contexts, the
 * two-step read-modify-write and shopping cart (Dynamo §4.4: read, merge siblings, add an item,
 * write back with the read's context), inserts made visible to the key chooser only once
 * acknowledged (YCSB's acknowledged counter), the workload mix, and the context cache's bound.
 * No network: replies are hand-built.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {seededRandom} from '../../src/clock.js'
import {keyChooser} from '../../bench/distributions.js'
import type {DistributionName, KeyChooser} from '../../bench/distributions.js'
import {ContextCache, OperationFactory} from '../../bench/operations.js'
import type {HttpReply, HttpStep, OperationRun, QuorumParams, StepResult} from '../../bench/operations.js'
import {keyName, workloads} from '../../bench/workloads.js'
import type {OperationKind, Workload} from '../../bench/workloads.js'

const valueSize = 16

interface Setup {
  readonly factory: OperationFactory
  readonly chooser: KeyChooser
  readonly contexts: ContextCache
}

function setup(workload: Workload, options: {records?: number; quorum?: QuorumParams; distribution?: DistributionName; seed?: number} = {}): Setup {
  const random = seededRandom(options.seed ?? 7)
  const chooser = keyChooser(options.distribution ?? 'uniform', options.records ?? 1, random)
  const contexts = new ContextCache(1000)
  const factory = new OperationFactory({workload, chooser, contexts, valueSize, quorum: options.quorum ?? {n: 3, r: 2, w: 2}, random})
  return {factory, chooser, contexts}
}

/** A workload doing one kind only, so that each state machine can be driven on its own. */
function only(kind: OperationKind): Workload {
  return {name: 'a', title: `${kind} only`, mix: [{kind, proportion: 1}], distribution: 'uniform'}
}

/** A read of a key with siblings, as dyn answers it to a client that asked for no JSON: 300 with the siblings. */
function siblingsRead(context: string | undefined, siblings: ReadonlyArray<{value: string; deleted?: boolean}>, contextHeader?: string): HttpReply {
  const body = {
    ...(context === undefined ? {} : {context}),
    siblings: siblings.map((s) => ({value: Buffer.from(s.value).toString('base64'), ...(s.deleted === undefined ? {} : {deleted: s.deleted})})),
  }
  return {status: 300, contextHeader, body: JSON.stringify(body)}
}

/** A read of a key with one version: 200, the raw value, its context in the header. */
const rawRead = (value: string, contextHeader: string): HttpReply => ({status: 200, contextHeader, body: value})

const stored = (context: string): HttpReply => ({status: 204, contextHeader: context, body: ''})
const notFound: HttpReply = {status: 404, contextHeader: undefined, body: JSON.stringify({error: 'not_found', message: 'no such key'})}
const quorumUnmet: HttpReply = {status: 503, contextHeader: undefined, body: JSON.stringify({error: 'quorum_unmet', message: 'W not reached', required: 2, acknowledged: 1})}
const overloaded: HttpReply = {status: 503, contextHeader: undefined, body: JSON.stringify({error: 'overloaded', message: 'busy', retryAfterMs: 200})}
/** A 503 of another kind (a node that is not dyn, say): not a shed. */
const otherUnavailable: HttpReply = {status: 503, contextHeader: undefined, body: JSON.stringify({error: 'unreachable', message: 'the node that was asked is overloaded'})}
const internal: HttpReply = {status: 500, contextHeader: undefined, body: JSON.stringify({error: 'internal', message: 'boom'})}
const badRequest: HttpReply = {status: 400, contextHeader: undefined, body: JSON.stringify({error: 'bad_parameter', message: 'r > n'})}

function expectStep(result: StepResult): HttpStep {
  assert.equal(result.done, false, `expected a further step, got ${JSON.stringify(result)}`)
  return (result as {step: HttpStep}).step
}

function expectDone(result: StepResult): {outcome: string; versions?: number} {
  assert.equal(result.done, true, `expected the operation to end, got ${JSON.stringify(result)}`)
  return result as {outcome: string; versions?: number}
}

describe('OperationFactory: read', () => {
  it('sends a GET of the key without asking for JSON, with the n/r query', () => {
    const {factory} = setup(workloads.c, {records: 50})
    const run = factory.next()
    assert.equal(run.kind, 'read')
    assert.match(run.key, /^user\d{19}$/)
    assert.equal(run.first.method, 'GET')
    assert.equal(run.first.path, `/kv/${encodeURIComponent(run.key)}?n=3&r=2`)
    assert.equal(run.first.headers.accept, undefined, 'a raw value for one version, JSON only for siblings (300)')
    assert.equal(run.first.body, undefined)
  })

  it('picks only keys among the loaded records', () => {
    const {factory} = setup(workloads.c, {records: 20})
    const loaded = new Set(Array.from({length: 20}, (_, i) => keyName(i)))
    for (let i = 0; i < 500; i++) assert.ok(loaded.has(factory.next().key))
  })

  it('leaves the query out when no quorum parameter is given, and writes only the given ones', () => {
    const read = setup(only('read'), {quorum: {}}).factory.next()
    assert.equal(read.first.path, `/kv/${keyName(0)}`)
    const readN = setup(only('read'), {quorum: {r: 1}}).factory.next()
    assert.equal(readN.first.path, `/kv/${keyName(0)}?r=1`)
    const writing = setup(only('update'), {quorum: {n: 3, w: 2, dw: 1}})
    writing.contexts.set(keyName(0), 'ctx-loaded')
    const write = writing.factory.next()
    assert.equal(write.first.path, `/kv/${keyName(0)}?n=3&w=2&dw=1`)
  })

  it('a raw reply is ok, saw one version, and the context header is cached', () => {
    const {factory, contexts} = setup(only('read'))
    const run = factory.next()
    const result = expectDone(run.onReply(rawRead('the value', 'ctx-raw')))
    assert.equal(result.outcome, 'ok')
    assert.equal(result.versions, 1)
    assert.equal(contexts.get(run.key), 'ctx-raw')
  })

  it('a 300 reply with 3 siblings is ok, saw 3 versions, and its context is cached', () => {
    const {factory, contexts} = setup(only('read'))
    const run = factory.next()
    const result = expectDone(run.onReply(siblingsRead('ctx-read', [{value: 'a'}, {value: 'b'}, {value: 'c'}])))
    assert.equal(result.outcome, 'ok')
    assert.equal(result.versions, 3)
    assert.equal(contexts.get(run.key), 'ctx-read')
  })

  it('does not count tombstones among the versions seen', () => {
    const run = setup(only('read')).factory.next()
    const result = expectDone(run.onReply(siblingsRead('ctx', [{value: 'a'}, {value: '', deleted: true}, {value: 'b', deleted: false}])))
    assert.equal(result.versions, 2)
  })

  it('falls back to the context header when the JSON body has none', () => {
    const {factory, contexts} = setup(only('read'))
    const run = factory.next()
    const result = expectDone(run.onReply(siblingsRead(undefined, [{value: 'a'}], 'ctx-header')))
    assert.equal(result.versions, 1)
    assert.equal(contexts.get(run.key), 'ctx-header')
  })

  it('maps 404, 503 quorum_unmet, 503 overloaded, other 503, 500 and 400 to not_found, quorum_unmet, overloaded and http_error', () => {
    const cases: Array<[HttpReply, string]> = [
      [notFound, 'not_found'],
      [quorumUnmet, 'quorum_unmet'],
      [overloaded, 'overloaded'],
      [otherUnavailable, 'http_error'],
      [internal, 'http_error'],
      [badRequest, 'http_error'],
    ]
    for (const [reply, outcome] of cases) {
      const {factory, contexts} = setup(only('read'))
      const result = expectDone(factory.next().onReply(reply))
      assert.equal(result.outcome, outcome, `status ${reply.status} ${reply.body}`)
      assert.equal(result.versions, undefined, 'a failed read saw no versions')
      assert.equal(contexts.size, 0)
    }
  })
})

describe('OperationFactory: update', () => {
  it('writes a value of the configured size with the cached context, and caches the reply context', () => {
    const {factory, contexts} = setup(only('update'))
    contexts.set(keyName(0), 'ctx-old')
    const run = factory.next()
    assert.equal(run.kind, 'update')
    assert.equal(run.key, keyName(0))
    assert.equal(run.first.method, 'PUT')
    assert.equal(run.first.path, `/kv/${keyName(0)}?n=3&w=2`)
    assert.equal(run.first.headers['x-dyn-context'], 'ctx-old')
    assert.equal(run.first.headers['content-type'], 'application/octet-stream')
    assert.equal(run.first.body?.length, valueSize)
    const result = expectDone(run.onReply(stored('ctx-new')))
    assert.equal(result.outcome, 'ok')
    assert.equal(result.versions, undefined)
    assert.equal(contexts.get(keyName(0)), 'ctx-new')
  })

  it('takes its context when its request is made, not when the operation was drawn: an update waiting to be sent carries the answer of one sent before it', () => {
    const {factory, contexts} = setup(only('update'))
    contexts.set(keyName(0), 'ctx-loaded')
    const first = factory.next()
    const waiting = factory.next()
    assert.equal(waiting.key, first.key)
    assert.equal(first.first.headers['x-dyn-context'], 'ctx-loaded')
    first.onReply(stored('ctx-after-first'))
    assert.equal(waiting.first.headers['x-dyn-context'], 'ctx-after-first')
  })

  it('reads a key whose context it has not seen first, and writes with the read context (never blind)', () => {
    const {factory, contexts} = setup(only('update'))
    const run = factory.next()
    assert.equal(run.first.method, 'GET', 'a run with --no-load reads before its first update of a key')
    const write = expectStep(run.onReply(rawRead('old', 'ctx-read')))
    assert.equal(write.method, 'PUT')
    assert.equal(write.headers['x-dyn-context'], 'ctx-read')
    assert.equal(expectDone(run.onReply(stored('ctx-written'))).outcome, 'ok')
    // Its context seen, the next update of the key writes at once.
    assert.equal(contexts.get(keyName(0)), 'ctx-written')
    assert.equal(factory.next().first.method, 'PUT')
    // A key that does not exist yet is written with the 404's context, if any.
    const missing = setup(only('update')).factory.next()
    assert.equal(expectStep(missing.onReply(notFound)).headers['x-dyn-context'], undefined)
  })

  it('a read then an update of the same key carries the read context', () => {
    const {factory, contexts} = setup({name: 'a', title: 'read then update', mix: [{kind: 'read', proportion: 0.5}, {kind: 'update', proportion: 0.5}], distribution: 'uniform'})
    let sawUpdateWithContext = false
    for (let i = 0; i < 50 && !sawUpdateWithContext; i++) {
      const run = factory.next()
      if (run.kind === 'read') {
        run.onReply(siblingsRead(`ctx-${i}`, [{value: 'x'}]))
      } else if (contexts.get(run.key) !== undefined) {
        assert.equal(run.first.headers['x-dyn-context'], contexts.get(run.key))
        sawUpdateWithContext = true
      }
    }
    assert.ok(sawUpdateWithContext)
  })

  it('maps failed writes to outcomes and keeps the cached context', () => {
    const cases: Array<[HttpReply, string]> = [
      [quorumUnmet, 'quorum_unmet'],
      [internal, 'http_error'],
      [notFound, 'not_found'],
    ]
    for (const [reply, outcome] of cases) {
      const {factory, contexts} = setup(only('update'))
      contexts.set(keyName(0), 'ctx-kept')
      assert.equal(expectDone(factory.next().onReply(reply)).outcome, outcome)
      assert.equal(contexts.get(keyName(0)), 'ctx-kept')
    }
  })
})

describe('OperationFactory: read-modify-write and cart', () => {
  it('rmw reads, then writes with the read context; the write reply context is cached', () => {
    const {factory, contexts} = setup(only('rmw'), {quorum: {n: 3, r: 2, w: 2}})
    const run = factory.next()
    assert.equal(run.kind, 'rmw')
    assert.equal(run.first.method, 'GET')
    assert.equal(run.first.path, `/kv/${keyName(0)}?n=3&r=2`)
    assert.equal(run.first.headers.accept, undefined)
    const write = expectStep(run.onReply(siblingsRead('ctx-read', [{value: 'a'}, {value: 'b'}])))
    assert.equal(write.method, 'PUT')
    assert.equal(write.path, `/kv/${keyName(0)}?n=3&w=2`)
    assert.equal(write.headers['x-dyn-context'], 'ctx-read')
    assert.equal(write.body?.length, valueSize)
    const result = expectDone(run.onReply(stored('ctx-written')))
    assert.equal(result.outcome, 'ok')
    assert.equal(result.versions, 2, 'the versions are those the read saw')
    assert.equal(contexts.get(keyName(0)), 'ctx-written')
  })

  it('rmw of a key with one version writes back with the header context, having seen one version', () => {
    const run = setup(only('rmw')).factory.next()
    const write = expectStep(run.onReply(rawRead('a', 'ctx-one')))
    assert.equal(write.headers['x-dyn-context'], 'ctx-one')
    assert.equal(expectDone(run.onReply(stored('ctx-after'))).versions, 1)
  })

  it('cart of a key with one version keeps its items', () => {
    const run = setup(workloads.cart).factory.next()
    const write = expectStep(run.onReply(rawRead(JSON.stringify(['item-a']), 'ctx-one')))
    const items = JSON.parse(write.body?.toString('utf8') ?? 'null') as string[]
    assert.equal(items.length, 2)
    assert.ok(items.includes('item-a'))
  })

  it('rmw of a missing key writes with the tombstone context of the 404, if any', () => {
    const run = setup(only('rmw')).factory.next()
    const write = expectStep(run.onReply({...notFound, contextHeader: 'ctx-tombstone'}))
    assert.equal(write.headers['x-dyn-context'], 'ctx-tombstone')
    const result = expectDone(run.onReply(stored('ctx-after')))
    assert.equal(result.outcome, 'ok')
    assert.equal(result.versions, 0)
  })

  it('rmw ends at a failed read without writing, and reports a failed write', () => {
    assert.equal(expectDone(setup(only('rmw')).factory.next().onReply(quorumUnmet)).outcome, 'quorum_unmet')
    assert.equal(expectDone(setup(only('rmw')).factory.next().onReply(internal)).outcome, 'http_error')
    const run = setup(only('rmw')).factory.next()
    expectStep(run.onReply(siblingsRead('ctx', [{value: 'a'}])))
    assert.equal(expectDone(run.onReply(quorumUnmet)).outcome, 'quorum_unmet')
  })

  it('cart writes back the union of the siblings items plus one, with the read context', () => {
    const {factory, contexts} = setup(workloads.cart)
    const run = factory.next()
    assert.equal(run.kind, 'cart')
    assert.equal(run.first.method, 'GET')
    const siblings = [{value: JSON.stringify(['item-a', 'item-b'])}, {value: JSON.stringify(['item-b', 'item-c'])}, {value: JSON.stringify(['item-d'])}]
    const write = expectStep(run.onReply(siblingsRead('ctx-cart', siblings)))
    assert.equal(write.method, 'PUT')
    assert.equal(write.headers['x-dyn-context'], 'ctx-cart')
    const items = JSON.parse(write.body?.toString('utf8') ?? 'null') as string[]
    const union = ['item-a', 'item-b', 'item-c', 'item-d']
    assert.equal(items.length, union.length + 1, `wrote ${JSON.stringify(items)}`)
    for (const item of union) assert.ok(items.includes(item), `${item} kept`)
    const added = items.filter((item) => !union.includes(item))
    assert.equal(added.length, 1)
    assert.match(added[0] ?? '', /^item-\d+$/)
    assert.deepEqual(items, [...items].sort(), 'the cart is written sorted')
    const result = expectDone(run.onReply(stored('ctx-cart-2')))
    assert.equal(result.outcome, 'ok')
    assert.equal(result.versions, 3)
    assert.equal(contexts.get(keyName(0)), 'ctx-cart-2')
  })

  it('cart of a missing key starts a cart with one item; successive carts add different items', () => {
    const {factory} = setup(workloads.cart)
    const first = expectStep(factory.next().onReply(notFound))
    const second = expectStep(factory.next().onReply(notFound))
    const firstItems = JSON.parse(first.body?.toString('utf8') ?? 'null') as string[]
    const secondItems = JSON.parse(second.body?.toString('utf8') ?? 'null') as string[]
    assert.equal(firstItems.length, 1)
    assert.equal(secondItems.length, 1)
    assert.notEqual(firstItems[0], secondItems[0])
  })
})

describe('OperationFactory: insert', () => {
  it('inserts new indexes from the record count up, each a PUT of its own key', () => {
    const {factory, chooser} = setup(only('insert'), {records: 10})
    const first = factory.next()
    const second = factory.next()
    assert.equal(first.kind, 'insert')
    assert.equal(first.key, keyName(10))
    assert.equal(second.key, keyName(11))
    assert.equal(first.first.method, 'PUT')
    assert.equal(first.first.path, `/kv/${keyName(10)}?n=3&w=2`)
    assert.equal(first.first.body?.length, valueSize)
    assert.equal(chooser.recordCount, 10, 'not visible before the reply')
  })

  it('reports an index to the chooser only once its insert is answered, in answered order', () => {
    const {factory, chooser} = setup(only('insert'), {records: 10})
    const runs: OperationRun[] = [factory.next(), factory.next(), factory.next()]
    assert.equal(expectDone((runs[1] as OperationRun).onReply(stored('c11'))).outcome, 'ok')
    assert.equal(chooser.recordCount, 10, 'index 11 waits for the gap at 10')
    assert.equal(expectDone((runs[0] as OperationRun).onReply(stored('c10'))).outcome, 'ok')
    assert.equal(chooser.recordCount, 12)
    assert.equal(expectDone((runs[2] as OperationRun).onReply(quorumUnmet)).outcome, 'quorum_unmet')
    assert.equal(chooser.recordCount, 13, 'a failed insert is reported too, or it would hold the key space back')
  })

  it('a failed insert does not stall the key space: records acknowledged after it become readable', () => {
    // KeyChooser.inserted's contract (bench/distributions.ts) holds the key space at the lowest
    // index never reported, for up to pendingInsertsMax later acknowledgements. So one insert
    // that fails (a 503 under load, or a timeout in a driver) must not leave the records
    // inserted after it unreadable for the rest of the run.
    const {factory, chooser} = setup(only('insert'), {records: 10})
    const failed = factory.next()
    assert.equal(expectDone(failed.onReply(quorumUnmet)).outcome, 'quorum_unmet')
    const laterInserts = 200
    for (let i = 0; i < laterInserts; i++) assert.equal(expectDone(factory.next().onReply(stored(`c${i}`))).outcome, 'ok')
    assert.ok(chooser.recordCount > 10, `after 1 failed and ${laterInserts} acknowledged inserts the key space is still ${chooser.recordCount} records`)
  })

  it('reads of the read-latest workload reach an inserted record once acknowledged', () => {
    const {factory, chooser} = setup(workloads.d, {records: 5, distribution: 'latest'})
    let inserted: OperationRun | undefined
    for (let i = 0; i < 1000 && inserted === undefined; i++) {
      const run = factory.next()
      if (run.kind === 'insert') inserted = run
      else assert.notEqual(run.key, keyName(5), 'no read of an unacknowledged insert')
    }
    assert.ok(inserted !== undefined)
    assert.equal(inserted.key, keyName(5))
    inserted.onReply(stored('c5'))
    assert.equal(chooser.recordCount, 6)
    let readNew = false
    for (let i = 0; i < 1000 && !readNew; i++) {
      const run = factory.next()
      if (run.kind === 'read' && run.key === keyName(5)) readNew = true
    }
    assert.ok(readNew, 'the newest record is the most popular under read-latest')
  })

  it('loadRecord(i) writes record i without touching the key space', () => {
    const {factory, chooser} = setup(workloads.a, {records: 10})
    const run = factory.loadRecord(3)
    assert.equal(run.kind, 'insert')
    assert.equal(run.key, keyName(3))
    assert.equal(run.first.method, 'PUT')
    assert.equal(expectDone(run.onReply(stored('c3'))).outcome, 'ok')
    assert.equal(chooser.recordCount, 10)
  })
})

describe('OperationFactory: loading a running cluster', () => {
  it('loadRecord(i, true) reads record i first and writes with its context, superseding an earlier run\'s versions', () => {
    const {factory, contexts} = setup(workloads.a, {records: 10, quorum: {n: 3, r: 2, w: 2}})
    const run = factory.loadRecord(3, true)
    assert.equal(run.kind, 'insert')
    assert.equal(run.key, keyName(3))
    assert.equal(run.first.method, 'GET')
    const write = expectStep(run.onReply(siblingsRead('ctx-earlier-runs', [{value: 'run 1'}, {value: 'run 2'}])))
    assert.equal(write.method, 'PUT')
    assert.equal(write.path, `/kv/${keyName(3)}?n=3&w=2`)
    assert.equal(write.headers['x-dyn-context'], 'ctx-earlier-runs')
    assert.equal(write.body?.length, valueSize)
    assert.equal(expectDone(run.onReply(stored('c3'))).outcome, 'ok')
    assert.equal(contexts.get(keyName(3)), 'c3')
  })

  it('loadRecord(i, true) of a record not there yet writes it blind', () => {
    const {factory} = setup(workloads.a, {records: 10})
    const write = expectStep(factory.loadRecord(4, true).onReply(notFound))
    assert.equal(write.method, 'PUT')
    assert.equal(write.headers['x-dyn-context'], undefined)
  })
})

describe('OperationFactory: workload mix', () => {
  it('draws each workload kind in its proportion over many operations', () => {
    const draws = 20_000
    for (const workload of [workloads.a, workloads.b, workloads.c, workloads.d, workloads.f, workloads.cart]) {
      const {factory} = setup(workload, {records: 100, distribution: workload.distribution, seed: 11})
      const counts = new Map<OperationKind, number>()
      for (let i = 0; i < draws; i++) {
        const kind = factory.next().kind
        counts.set(kind, (counts.get(kind) ?? 0) + 1)
      }
      for (const {kind, proportion} of workload.mix) {
        const count = counts.get(kind) ?? 0
        // Six standard deviations of a binomial count: a correct mix cannot plausibly fail.
        const tolerance = 6 * Math.sqrt(draws * proportion * (1 - proportion)) + 1
        assert.ok(Math.abs(count - draws * proportion) <= tolerance, `workload ${workload.name}: ${kind} ${count} of ${draws}, expected ${draws * proportion}`)
      }
      const kinds = new Set(workload.mix.map((m) => m.kind))
      for (const kind of counts.keys()) assert.ok(kinds.has(kind), `workload ${workload.name} drew ${kind}`)
    }
  })
})

describe('ContextCache', () => {
  it('keeps at most entriesMax keys, still refreshes keys it holds, and ignores empty contexts', () => {
    const cache = new ContextCache(2)
    cache.set('k1', 'c1')
    cache.set('k2', 'c2')
    cache.set('k3', 'c3')
    assert.equal(cache.size, 2)
    assert.equal(cache.get('k3'), undefined)
    cache.set('k1', 'c1b')
    assert.equal(cache.get('k1'), 'c1b')
    cache.set('k2', undefined)
    cache.set('k2', '')
    assert.equal(cache.get('k2'), 'c2')
    assert.equal(cache.size, 2)
  })

  it('a factory over a full cache writes blind to keys beyond the bound', () => {
    const random = seededRandom(3)
    const contexts = new ContextCache(1)
    contexts.set('some-other-key', 'c')
    const chooser = keyChooser('uniform', 1, random)
    const factory = new OperationFactory({workload: only('read'), chooser, contexts, valueSize, quorum: {}, random})
    const run = factory.next()
    run.onReply(siblingsRead('ctx', [{value: 'a'}]))
    assert.equal(contexts.get(run.key), undefined)
    assert.equal(contexts.size, 1)
  })
})
