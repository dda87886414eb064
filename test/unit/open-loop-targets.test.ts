/**
 * The open loop's connections to a node (bench/open-loop.ts, HttpTargets): requests beyond the
 * node's connections wait in the bench, and each is made only once a connection is free, so an
 * update that waited carries the context of the answers that came meanwhile (a queue of stale
 * contexts would manufacture siblings). Against a real HTTP server on loopback that holds its
 * first answer until told.
 */

import assert from 'node:assert/strict'
import {createServer} from 'node:http'
import type {IncomingMessage, ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import {it} from 'node:test'
import type {TestContext} from 'node:test'
import {HttpTargets, runOpenLoop} from '../../bench/open-loop.js'
import {Recorder} from '../../bench/recorder.js'
import {ContextCache, OperationFactory} from '../../bench/operations.js'
import {seededRandom} from '../../src/clock.js'
import {keyChooser} from '../../bench/distributions.js'
import {keyName} from '../../bench/workloads.js'

/** Serves `handle` on a loopback port for the test's length; its address as host:port. */
async function standIn(t: TestContext, handle: (request: IncomingMessage, response: ServerResponse) => void): Promise<string> {
  const server = createServer(handle)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return `127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Updates only, of `keys` keys drawn uniformly, with 8-byte values. */
function updatesOf(keys: number): OperationFactory {
  // Every key's context known, as after the load phase: each update is one write.
  const contexts = new ContextCache(keys)
  for (let index = 0; index < keys; index++) contexts.set(keyName(index), 'ctx-loaded')
  return new OperationFactory({
    workload: {name: 'a', title: 'updates', mix: [{kind: 'update', proportion: 1}], distribution: 'uniform'},
    chooser: keyChooser('uniform', keys, seededRandom(1)),
    contexts,
    valueSize: 8,
    quorum: {},
    random: seededRandom(2),
  })
}

it('a write waiting for a connection is made when it is sent, with the context the answers before it left', async (t) => {
  const seen: Array<string | undefined> = []
  const held: Array<() => void> = []
  let answered = 0
  const node = await standIn(t, (request, response) => {
    request.resume()
    request.once('end', () => {
      const context = request.headers['x-dyn-context']
      seen.push(Array.isArray(context) ? context[0] : context)
      answered += 1
      const answer = (): void => {
        response.writeHead(204, {'x-dyn-context': `ctx-${answered}`})
        response.end()
      }
      // The first answer waits until the second operation is queued behind it.
      if (answered === 1) held.push(answer)
      else answer()
    })
  })
  const factory = updatesOf(1)
  // One connection: the second update waits for the first's answer.
  const targets = new HttpTargets(5, 1, [])
  t.after(() => targets.close())
  const first = targets.execute(node, factory.next())
  const second = targets.execute(node, factory.next())
  while (held.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  assert.equal(seen.length, 1, 'the second request was sent while the only connection was busy')
  ;(held[0] as () => void)()
  assert.deepEqual(await Promise.all([first, second]), [{outcome: 'ok', requests: 1}, {outcome: 'ok', requests: 1}])
  // The loaded context first, then the first's answer: the context of the moment it was sent.
  assert.deepEqual(seen, ['ctx-loaded', 'ctx-1'])
})

it('keeps back most operations for a node that sheds nearly everything when throttled, and sends every one when not', async (t) => {
  let received = 0
  let served = 0
  const node = await standIn(t, (request, response) => {
    received += 1
    request.resume()
    request.once('end', () => {
      // One request in ten is served; the rest are shed as admission control sheds them.
      if (received % 10 === 0) {
        served += 1
        response.writeHead(204, {'x-dyn-context': 'ctx'})
        response.end()
        return
      }
      response.writeHead(503, {'content-type': 'application/json', 'retry-after': '1'})
      response.end(JSON.stringify({error: 'overloaded', message: 'busy', retryAfterMs: 500}))
    })
  })
  const factoryOf = (): OperationFactory => updatesOf(100)
  const operations = 1000
  const run = async (throttled: boolean): Promise<Map<string, number>> => {
    const targets = new HttpTargets(5, 8, [], undefined, throttled)
    const factory = factoryOf()
    const outcomes = new Map<string, number>()
    try {
      for (let index = 0; index < operations; index += 1) {
        const {outcome} = await targets.execute(node, factory.next())
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
      }
    } finally {
      await targets.close()
    }
    return outcomes
  }
  const unthrottled = await run(false)
  assert.equal(received, operations, 'without the throttle every operation is sent')
  assert.equal(unthrottled.get('throttled'), undefined)
  received = 0
  served = 0
  const throttled = await run(true)
  // About twice what the node accepts is sent (a tenth of it is served), and at least a tenth.
  assert.ok(received < operations * 0.4, `the node received ${received} of ${operations}`)
  assert.ok(received >= operations * 0.1 - 20, `the node still received ${received}, enough to see it recover`)
  assert.equal(throttled.get('throttled'), operations - received, 'what was not sent is counted as throttled')
  assert.equal(throttled.get('ok'), served)
})

it('names the measured window: it starts when the first measured operation is due and ends when the last is', async (t) => {
  const node = await standIn(t, (request, response) => {
    request.resume()
    request.once('end', () => {
      response.writeHead(204, {'x-dyn-context': 'ctx'})
      response.end()
    })
  })
  const factory = updatesOf(10)
  // Counts the operations made, so that each edge can say how many had been started by then.
  let made = 0
  const counting = {next: () => {
    made += 1
    return factory.next()
  }}
  const edges: Array<{edge: 'start' | 'end'; made: number}> = []
  const recorder = new Recorder()
  t.after(() => recorder.destroy())
  // 200 operations a second: 100 in the half second of warm-up, then 100 measured.
  const totals = await runOpenLoop({nodes: [node], ratePerS: 200, warmupS: 0.5, durationS: 0.5, timeoutS: 5, factory: counting, recorder, clientThrottle: false, onMeasuredWindow: (edge) => edges.push({edge, made})})
  assert.deepEqual(edges, [
    {edge: 'start', made: 100},
    {edge: 'end', made: 200},
  ])
  // What the window held is what was measured: the warm-up's operations are not in the totals.
  assert.equal(recorder.summary(totals.elapsedS).reduce((sum, op) => sum + op.count, 0), 100)
})

it('counts operations per second over the time the window took to be answered, when the node could not keep up', async (t) => {
  // The node answers one request at a time, 20 ms each: 100 operations offered in half a second
  // take it at least 2 s, so the loop measures at most 50 answered a second, not the 200 offered.
  let queue = Promise.resolve()
  const node = await standIn(t, (request, response) => {
    request.resume()
    request.once('end', () => {
      queue = queue.then(() => new Promise<void>((resolve) => setTimeout(() => {
        response.writeHead(204, {'x-dyn-context': 'ctx'})
        response.end()
        resolve()
      }, 20)))
    })
  })
  const recorder = new Recorder()
  t.after(() => recorder.destroy())
  const totals = await runOpenLoop({nodes: [node], ratePerS: 200, warmupS: 0, durationS: 0.5, timeoutS: 30, factory: updatesOf(10), recorder, clientThrottle: false})
  const answered = recorder.summary(totals.elapsedS).reduce((sum, op) => sum + op.count, 0)
  assert.equal(answered, 100)
  assert.ok(totals.elapsedS >= 1.9, `the window's answers took ${totals.elapsedS} s, not the 0.5 s of the schedule`)
  assert.ok(answered / totals.elapsedS <= 100 / 1.9)
})
