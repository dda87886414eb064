/**
 * A get that finds nothing where only fallbacks answered (every home of the key out of reach, as
 * on the small side of a partition) says so, and that the key may exist, instead of "does not
 * exist" (a new user's walk: R=2 met by two fallbacks that never held the key). The handler
 * (src/api/handler.ts) on a real HTTP server on loopback, read through the client dyn get uses.
 */

import assert from 'node:assert/strict'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {it} from 'node:test'
import {createApiHandler} from '../../src/api/handler.js'
import type {KvService} from '../../src/api/service.js'
import {DynClient} from '../../src/client/http-client.js'
import type {GetOutcome} from '../../src/coordinator/get-coordinator.js'
import type {ClusterSettings} from '../../src/membership/member-table.js'

it('a key not found by fallbacks alone is not said not to exist, and one not found by a home is', async (t) => {
  const settings: ClusterSettings = {clusterId: '0123456789abcdef', partitionCount: 16, defaultN: 3, defaultR: 2, defaultW: 2, conflictPolicy: 'siblings'}
  const answered = (home: number, fallback: number): GetOutcome => ({
    ok: true,
    object: undefined,
    trace: {coordinator: 'n4', partition: 3, preflist: [], replies: [], repaired: [], counted: {home, fallback}},
  })
  // The handler's part of the service only: keys named after who answered.
  const service = {clusterSize: () => 5, settings: () => settings, get: (request: {key: string}) => Promise.resolve(request.key === 'fallbacks-only' ? answered(0, 2) : answered(1, 1))} as unknown as KvService
  const server = createServer(createApiHandler(service))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const client = new DynClient(`127.0.0.1:${(server.address() as AddressInfo).port}`, 5000)
  const fallbacksOnly = await client.get('fallbacks-only')
  assert.ok(fallbacksOnly.ok && !fallbacksOnly.found)
  assert.equal(fallbacksOnly.homesAnswered, 0)
  assert.match(fallbacksOnly.message ?? '', /^fallbacks-only was not found, but none of its home replicas answered .*it may well exist\. Read again once its homes are reachable, or with pr=1/)
  const homeAnswered = await client.get('home-answered')
  assert.ok(homeAnswered.ok && !homeAnswered.found)
  assert.equal(homeAnswered.homesAnswered, undefined)
  assert.equal(homeAnswered.message, 'home-answered does not exist')
})
