/**
 * The clients' retry of a shed request (src/client/http-client.ts, `overloadRetryDelayMs`): only
 * a 503 `overloaded` that carries Retry-After is retried, at most `overloadRetriesMax` times,
 * each wait jittered within [0.5, 1.5) of the node's hint doubled per retry, capped, and the
 * waits together within `overloadRetryWaitMsMax`; and DynClient's throttle of a node that sheds
 * (src/client/client-throttle.ts), against stand-in nodes on real sockets.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {createServer} from 'node:http'
import type {ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import fc from 'fast-check'
import {seededRandom} from '../../src/clock.js'
import {DynClient, overloadRetriesMax, overloadRetryDelayMs, overloadRetryDelayMsMax, overloadRetryWaitMsMax, UnreachableError} from '../../src/client/http-client.js'

function shed(retryAfterMs?: number, retryAfter: string | null = '1'): {status: number; headers: Record<string, string>; body: Buffer} {
  return {
    status: 503,
    headers: retryAfter === null ? {} : {'retry-after': retryAfter},
    body: Buffer.from(JSON.stringify({error: 'overloaded', message: 'busy', ...(retryAfterMs === undefined ? {} : {retryAfterMs})})),
  }
}

describe('overloadRetryDelayMs', () => {
  it('retries only a shed request: 503 overloaded with Retry-After', () => {
    const half = (): number => 0.5
    assert.equal(overloadRetryDelayMs(shed(200), 0, 0, half), 200)
    assert.equal(overloadRetryDelayMs(shed(), 0, 0, half), 1000, 'the header in seconds without the body hint')
    assert.equal(overloadRetryDelayMs(shed(200, null), 0, 0, half), undefined, 'no Retry-After: not a shed the client may resend')
    assert.equal(overloadRetryDelayMs(shed(200, 'Wed, 21 Oct 2026 07:28:00 GMT'), 0, 0, half), undefined, 'an HTTP date is not what a node sends')
    assert.equal(overloadRetryDelayMs({...shed(200), status: 500}, 0, 0, half), undefined)
    assert.equal(overloadRetryDelayMs({...shed(200), body: Buffer.from(JSON.stringify({error: 'quorum_unmet'}))}, 0, 0, half), undefined, 'a quorum_unmet may have written: never retried')
    assert.equal(overloadRetryDelayMs({...shed(200), body: Buffer.from('<html>')}, 0, 0, half), undefined)
  })

  it('keeps every wait within the jitter band and the caps, and stops after the retries or the wait are spent', () => {
    fc.assert(
      fc.property(fc.integer({min: 1, max: 10_000}), fc.array(fc.double({min: 0, max: 0.999999, noNaN: true}), {minLength: 1, maxLength: 10}), (hintMs, draws) => {
        let waitedMs = 0
        let retries = 0
        for (const draw of draws) {
          const delayMs = overloadRetryDelayMs(shed(hintMs), retries, waitedMs, () => draw)
          if (delayMs === undefined) break
          const nominalMs = hintMs * 2 ** retries
          assert.ok(delayMs >= Math.min(overloadRetryDelayMsMax, 0.5 * nominalMs) - 1 && delayMs <= Math.min(overloadRetryDelayMsMax, 1.5 * nominalMs) + 1, `wait ${delayMs} for hint ${hintMs} at retry ${retries}`)
          waitedMs += delayMs
          retries += 1
        }
        assert.ok(retries <= overloadRetriesMax)
        assert.ok(waitedMs <= overloadRetryWaitMsMax)
        assert.equal(overloadRetryDelayMs(shed(hintMs), overloadRetriesMax, 0, () => 0), undefined)
      }),
    )
  })
})

/** A node stand-in on a free port: `answer` writes each response; `received` counts the requests. */
async function standIn(answer: (response: ServerResponse) => void): Promise<{address: string; received: () => number; close: () => Promise<void>}> {
  let received = 0
  const server = createServer((request, response) => {
    received += 1
    request.resume()
    request.on('end', () => answer(response))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    address: `127.0.0.1:${port}`,
    received: () => received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A stand-in that sheds every key request (/kv/...) and answers every other route with 200 JSON. */
async function standInByPath(): Promise<{address: string; keyRequests: () => number; jsonRequests: () => number; close: () => Promise<void>}> {
  let keyRequests = 0
  let jsonRequests = 0
  const server = createServer((request, response) => {
    const isKey = (request.url ?? '').startsWith('/kv/')
    if (isKey) keyRequests += 1
    else jsonRequests += 1
    request.resume()
    request.on('end', () => {
      if (isKey) return shedding(response)
      response.writeHead(200, {'content-type': 'application/json'})
      response.end(JSON.stringify({node: 'n1'}))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    address: `127.0.0.1:${port}`,
    keyRequests: () => keyRequests,
    jsonRequests: () => jsonRequests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

function shedding(response: ServerResponse): void {
  response.writeHead(503, {'content-type': 'application/json', 'retry-after': '1'})
  response.end(JSON.stringify({error: 'overloaded', message: 'busy', retryAfterMs: 1}))
}

function serving(response: ServerResponse): void {
  response.writeHead(200, {'content-type': 'application/json'})
  response.end(JSON.stringify({context: 'a', siblings: [{value: Buffer.from('v').toString('base64'), contentType: 'text/plain', timestampMs: 1, deleted: false}]}))
}

describe('DynClient: client-side throttling of a node that sheds', () => {
  it('sends a node that sheds everything a small share of what it is asked, and answers the rest overloaded without sending', async () => {
    const node = await standIn(shedding)
    try {
      const client = new DynClient(node.address, 5000, {random: seededRandom(7).next})
      const gets = 200
      const results = await Promise.all(Array.from({length: 10}, async () => {
        const codes: string[] = []
        for (let index = 0; index < gets / 10; index += 1) {
          const result = await client.get('k')
          codes.push(result.ok ? 'ok' : result.error)
        }
        return codes
      }))
      assert.deepEqual(new Set(results.flat()), new Set(['overloaded']))
      // Unthrottled, every get is sent once and retried overloadRetriesMax times: 800 requests.
      const unthrottled = gets * (1 + overloadRetriesMax)
      assert.ok(node.received() < unthrottled * 0.3, `the node received ${node.received()} of ${unthrottled} requests`)
      assert.ok(node.received() >= 20, 'requests still reach it, to see whether it recovers')
    } finally {
      await node.close()
    }
  })

  it('sends the requests it keeps back from a shedding node to the next node given', async () => {
    const shedder = await standIn(shedding)
    const server = await standIn(serving)
    try {
      const client = new DynClient([shedder.address, server.address], 5000, {random: seededRandom(11).next})
      let served = 0
      for (let index = 0; index < 100; index += 1) {
        const result = await client.get('k')
        if (result.ok) served += 1
      }
      assert.ok(served >= 90, `${served} of 100 gets served by the node that does not shed`)
      assert.ok(shedder.received() < 100, `the shedding node received ${shedder.received()}`)
    } finally {
      await shedder.close()
      await server.close()
    }
  })

  it('still sends what a node never sheds (GET /stats, /cluster, membership changes) to a node it throttles', async () => {
    // As a node under overload: every key request shed, GET /stats answered.
    const both = await standInByPath()
    try {
      const client = new DynClient(both.address, 5000, {random: seededRandom(3).next})
      for (let index = 0; index < 60; index += 1) assert.equal((await client.get('k')).ok, false)
      const keyRequestsBefore = both.keyRequests()
      for (let index = 0; index < 20; index += 1) {
        const answer = await client.getJson('/stats')
        assert.ok(answer.ok, 'GET /stats is never kept back')
      }
      assert.equal(both.jsonRequests(), 20, 'every GET /stats reached the node')
      assert.equal(both.keyRequests(), keyRequestsBefore)
    } finally {
      await both.close()
    }
  })

  it('reports a node that shed and then went down as unreachable, not as overloaded', async () => {
    const node = await standIn(shedding)
    const client = new DynClient(node.address, 2000, {random: seededRandom(5).next})
    for (let index = 0; index < 40; index += 1) assert.equal((await client.get('k')).ok, false)
    await node.close()
    // Until a request reaches it, the client cannot know it is down: a get may still be kept back
    // (at most nine in ten of its tries are). The first request that finds it down makes the
    // throttle forget, and every one after it is sent, and fails as unreachable.
    const outcomes: string[] = []
    for (let index = 0; index < 30; index += 1) {
      try {
        const result = await client.get('k')
        outcomes.push(result.ok ? 'ok' : result.error)
      } catch (error) {
        assert.ok(error instanceof UnreachableError, String(error))
        outcomes.push('unreachable')
      }
    }
    const first = outcomes.indexOf('unreachable')
    assert.ok(first >= 0, `no get found the node down: ${outcomes.join(' ')}`)
    assert.deepEqual(outcomes.slice(first), outcomes.slice(first).map(() => 'unreachable'), outcomes.join(' '))
    assert.deepEqual(new Set(outcomes.slice(0, first)), new Set(first === 0 ? [] : ['overloaded']))
  })

  it('does not mistake a node that is down for one that sheds: unreachable stays unreachable', async () => {
    const node = await standIn(serving)
    const address = node.address
    await node.close()
    const client = new DynClient(address, 2000)
    for (let index = 0; index < 30; index += 1) await assert.rejects(client.get('k'), (error: Error) => error instanceof UnreachableError)
  })
})
