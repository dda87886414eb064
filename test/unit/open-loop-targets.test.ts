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
import {HttpTargets} from '../../bench/open-loop.js'
import {ContextCache, OperationFactory} from '../../bench/operations.js'
import {seededRandom} from '../../src/clock.js'
import {keyChooser} from '../../bench/distributions.js'

it('a write waiting for a connection is made when it is sent, with the context the answers before it left', async (t) => {
  const seen: Array<string | undefined> = []
  const held: Array<() => void> = []
  let answered = 0
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const node = `127.0.0.1:${(server.address() as AddressInfo).port}`
  const contexts = new ContextCache(10)
  const factory = new OperationFactory({
    workload: {name: 'a', title: 'updates', mix: [{kind: 'update', proportion: 1}], distribution: 'uniform'},
    chooser: keyChooser('uniform', 1, seededRandom(1)),
    contexts,
    valueSize: 8,
    quorum: {},
    random: seededRandom(2),
  })
  // One connection: the second update waits for the first's answer.
  const targets = new HttpTargets(5, 1, [])
  t.after(() => targets.close())
  const first = targets.execute(node, factory.next())
  const second = targets.execute(node, factory.next())
  while (held.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  assert.equal(seen.length, 1, 'the second request was sent while the only connection was busy')
  ;(held[0] as () => void)()
  assert.deepEqual(await Promise.all([first, second]), [{outcome: 'ok', requests: 1}, {outcome: 'ok', requests: 1}])
  // Blind first (no context yet), then the first's answer: the context of the moment it was sent.
  assert.deepEqual(seen, [undefined, 'ctx-1'])
})
