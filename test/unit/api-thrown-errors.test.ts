/**
 * What the HTTP handler (src/api/handler.ts) answers when the service throws instead of returning
 * an outcome: a refusal with a stable code keeps its code and status, and only a fault of the
 * node's own is `internal` (500). A walk's node whose disk was full answered its puts 500
 * `internal`, the code the README keeps for a bug in dyn, while its store said why: it takes no
 * writes until restarted (storage_failed, 503). A real HTTP server on loopback.
 */

import assert from 'node:assert/strict'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {it} from 'node:test'
import type {TestContext} from 'node:test'
import {createApiHandler} from '../../src/api/handler.js'
import type {KvService} from '../../src/api/service.js'
import {DynError} from '../../src/errors.js'
import type {ClusterSettings} from '../../src/membership/member-table.js'

/** The handler on a real HTTP server on loopback, stopped after the test; its base URL. */
async function serve(t: TestContext, service: KvService): Promise<string> {
  const server = createServer(createApiHandler(service))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

it('a thrown DynError keeps its code and status; any other error is internal', async (t) => {
  const settings: ClusterSettings = {clusterId: '0123456789abcdef', partitionCount: 16, defaultN: 1, defaultR: 1, defaultW: 1, conflictPolicy: 'siblings'}
  const thrown: Record<string, Error> = {
    full: new DynError('storage_failed', "this node's store failed to write (IO error: No space left on device) and takes no more writes until the node restarts"),
    bug: new Error('undefined is not a function'),
  }
  const service = {
    clusterSize: () => 1,
    settings: () => settings,
    get: (request: {key: string}) => Promise.reject(thrown[request.key] ?? new Error(`no error for ${request.key}`)),
  } as unknown as KvService
  const base = await serve(t, service)

  const full = await fetch(`${base}/kv/full`)
  assert.equal(full.status, 503)
  const fullBody = (await full.json()) as {error: string; message: string}
  assert.equal(fullBody.error, 'storage_failed')
  assert.match(fullBody.message, /No space left on device/)

  const bug = await fetch(`${base}/kv/bug`)
  assert.equal(bug.status, 500)
  const bugBody = (await bug.json()) as {error: string; message: string}
  assert.equal(bugBody.error, 'internal')
  assert.match(bugBody.message, /the node failed to answer: undefined is not a function/)
})

it('GET /ready answers 200 for a ready node and 503 not_ready with the reasons for one that is not, whatever its query', async (t) => {
  const settings: ClusterSettings = {clusterId: '0123456789abcdef', partitionCount: 16, defaultN: 1, defaultR: 1, defaultW: 1, conflictPolicy: 'siblings'}
  let health: Record<string, unknown> = {ok: true, node: 'n1', ready: true}
  const service = {clusterSize: () => 1, settings: () => settings, health: () => health} as unknown as KvService
  const base = await serve(t, service)
  const ready = await fetch(`${base}/ready?probe=1`)
  assert.equal(ready.status, 200)
  assert.deepEqual(await ready.json(), {ok: true, ready: true, node: 'n1'})
  health = {ok: true, node: 'n1', ready: false, notReadyBecause: ['it has left the cluster (it hands off its data, then exits)']}
  const notReady = await fetch(`${base}/ready`)
  assert.equal(notReady.status, 503)
  const body = (await notReady.json()) as {error: string; message: string; ready: boolean; reasons: string[]}
  assert.equal(body.error, 'not_ready')
  assert.equal(body.ready, false)
  assert.deepEqual(body.reasons, ['it has left the cluster (it hands off its data, then exits)'])
  assert.match(body.message, /n1 is not ready for client requests: it has left the cluster .*; send them to another node/)
  // /health itself stays 200: it says the process serves (liveness).
  assert.equal((await fetch(`${base}/health`)).status, 200)
  assert.equal((await fetch(`${base}/ready`, {method: 'POST'})).status, 405)
})
