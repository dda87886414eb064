/**
 * A refusal's time at the node (issue 16's target: under 1 ms) runs from the handler to the
 * answer handed to the kernel, and not to the response's 'finish', which comes after
 * the rest of the callback that answered and whatever ticks were queued before it. The handler
 * (src/api/handler.ts) on a real HTTP server on loopback, with real admission control on a clock
 * that the test moves: the clock jumps a second in a tick queued when the refused request
 * arrives, so a refusal timed at 'finish' reads a second, and one timed when its bytes were
 * handed over reads nothing.
 */

import assert from 'node:assert/strict'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {it} from 'node:test'
import {AdmissionControl} from '../../src/api/admission.js'
import {admissionSettingsDefault} from '../../src/api/admission-core.js'
import {createApiHandler} from '../../src/api/handler.js'
import type {KvService} from '../../src/api/service.js'
import type {Clock} from '../../src/clock.js'
import type {ClusterSettings} from '../../src/membership/member-table.js'

it('times a refusal to the moment its answer is handed to the kernel, not to finish', async (t) => {
  let nowMs = 0
  let jumpOnNextRead = false
  const clock: Clock = {
    nowMs: () => nowMs,
    monotonicMs: () => {
      if (jumpOnNextRead) {
        jumpOnNextRead = false
        // A tick queued before the answer's own: 'finish' is emitted from a tick queued when the
        // answer is written, so it comes after this one, as after any work queued earlier.
        process.nextTick(() => {
          nowMs += 1000
        })
      }
      return nowMs
    },
  }
  // One request at a time: the first is held (its get never answers), the second is shed.
  const admission = new AdmissionControl(clock, {...admissionSettingsDefault, concurrencyLimitMin: 1, concurrencyLimitMax: 1})
  t.after(() => admission.stop())
  const settings: ClusterSettings = {clusterId: '0123456789abcdef', partitionCount: 16, defaultN: 1, defaultR: 1, defaultW: 1, conflictPolicy: 'siblings'}
  // The handler's part of the service only: a get that never answers holds the one place.
  const service = {clusterSize: () => 1, settings: () => settings, get: () => new Promise(() => undefined)} as unknown as KvService
  const server = createServer(createApiHandler(service, undefined, undefined, admission))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const held = fetch(`${base}/kv/held`).catch(() => undefined)
  while (admission.stats().inFlight < 1) await new Promise((resolve) => setTimeout(resolve, 5))
  jumpOnNextRead = true
  const refused = await fetch(`${base}/kv/refused`)
  assert.equal(refused.status, 503)
  assert.equal(((await refused.json()) as {error: string}).error, 'overloaded')
  const times = admission.stats().refusalTimes
  assert.equal(times.count, 1)
  assert.ok(times.maxUs < 1000, `the refusal took ${times.maxUs} µs at the node; the second the clock jumped after its answer was handed over is not the refusal's`)
  void held
})
