/**
 * The clients' retry of a shed request (src/client/http-client.ts, `overloadRetryDelayMs`): only
 * a 503 `overloaded` that carries Retry-After is retried, at most `overloadRetriesMax` times,
 * each wait jittered within [0.5, 1.5) of the node's hint doubled per retry, capped, and the
 * waits together within `overloadRetryWaitMsMax`.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {overloadRetriesMax, overloadRetryDelayMs, overloadRetryDelayMsMax, overloadRetryWaitMsMax} from '../../src/client/http-client.js'

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
