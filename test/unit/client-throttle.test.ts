/**
 * Tests of client-side throttling (src/client/client-throttle.ts): the book's rejection
 * probability, its cap and its floor of requests, the sliding window forgetting old counts, and a
 * model of a node that accepts at most its capacity per second, offered ten times that: with the
 * throttle the node is sent about twice what it accepts, without it ten times.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {ClientThrottle, clientThrottleDefaults} from '../../src/client/client-throttle.js'

/** Records `sent` requests at `atMs`, `shed` of them shed, every one let through (random 1 - ε). */
function feed(throttle: ClientThrottle, atMs: number, sent: number, shed: number): void {
  for (let index = 0; index < sent; index += 1) {
    assert.equal(throttle.trySend(atMs, 0.999_999), true)
    throttle.recordAnswer(atMs, index < shed)
  }
}

describe('client throttle', () => {
  it('refuses nothing while the node accepts what it is sent', () => {
    const throttle = new ClientThrottle()
    feed(throttle, 0, 1000, 0)
    assert.equal(throttle.rejectionProbability(0), 0)
    assert.equal(throttle.trySend(0, 0), true)
  })

  it('refuses nothing to a node that sheds nothing, however many requests wait for their answers', () => {
    const throttle = new ClientThrottle()
    // A thousand requests in flight (a queue in the client, a slow node), none answered yet.
    for (let index = 0; index < 1000; index += 1) assert.equal(throttle.trySend(index, 0), true)
    assert.equal(throttle.rejectionProbability(1000), 0)
    for (let index = 0; index < 1000; index += 1) throttle.recordAnswer(1000 + index, false)
    assert.equal(throttle.rejectionProbability(2000), 0)
  })

  it('refuses with probability (requests - 2 accepts) / (requests + 1) once the node sheds', () => {
    const throttle = new ClientThrottle()
    // 100 requests, 20 accepted: (100 - 40) / 101.
    feed(throttle, 0, 100, 80)
    assert.ok(Math.abs(throttle.rejectionProbability(0) - 60 / 101) < 1e-12)
    // A draw below the probability is refused here, and counts as a request the client wanted to send.
    assert.equal(throttle.trySend(0, 0.1), false)
    assert.ok(Math.abs(throttle.rejectionProbability(0) - 61 / 102) < 1e-12)
    assert.equal(throttle.trySend(0, 0.9), true)
  })

  it('caps the probability, so that some requests still reach a node that sheds them all', () => {
    const throttle = new ClientThrottle()
    feed(throttle, 0, 10_000, 10_000)
    assert.equal(throttle.rejectionProbability(0), clientThrottleDefaults.rejectionProbabilityMax)
  })

  it('does not throttle a client that has sent too little to tell', () => {
    const throttle = new ClientThrottle()
    feed(throttle, 0, clientThrottleDefaults.requestsMin - 1, clientThrottleDefaults.requestsMin - 1)
    assert.equal(throttle.rejectionProbability(0), 0)
  })

  it('forgets what fell out of the window, slice by slice', () => {
    const throttle = new ClientThrottle({windowMs: 1000, bucketCount: 10, requestsMin: 0})
    feed(throttle, 0, 100, 100)
    // Later requests, half of them shed, in the same window: the old refusals still count.
    feed(throttle, 500, 100, 50)
    assert.ok(Math.abs(throttle.rejectionProbability(999) - 100 / 201) < 1e-12, 'two hundred requests, fifty accepted')
    // At 1,050 ms the first slice (0 to 100 ms) is gone, with its sheds: a hundred requests, fifty accepted.
    assert.equal(throttle.rejectionProbability(1050), 0)
    const later = new ClientThrottle({windowMs: 1000, bucketCount: 10, requestsMin: 0})
    feed(later, 0, 100, 100)
    assert.ok(later.rejectionProbability(950) > 0.9 - 1e-12, 'still within the window')
    assert.equal(later.rejectionProbability(1000), 0, 'a window later, nothing is remembered')
    // An idle client, however long, comes back to an empty window.
    feed(later, 5000, 100, 100)
    assert.equal(later.rejectionProbability(1_000_000_000), 0)
  })

  it('keeps its counts equal to the requests and accepts within the window, over random schedules', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({afterMs: fc.integer({min: 0, max: 3000}), answerAfterMs: fc.integer({min: 0, max: 600}), shed: fc.boolean(), draw: fc.double({min: 0, max: 0.999_999, noNaN: true})}),
          {maxLength: 300},
        ),
        (steps) => {
          const windowMs = 1000
          const bucketCount = 4
          const throttle = new ClientThrottle({windowMs, bucketCount, requestsMin: 0, rejectionProbabilityMax: 0.99})
          // A request refused here counts when it was wanted; one sent, with its accept, when its
          // answer came (here, before the next request).
          const requested: number[] = []
          const acceptedAt: number[] = []
          let nowMs = 0
          // The throttle's slices start at its first request.
          let originMs: number | undefined
          for (const step of steps) {
            nowMs += step.afterMs
            originMs ??= nowMs
            const sent = throttle.trySend(nowMs, step.draw)
            if (sent) {
              nowMs += step.answerAfterMs
              throttle.recordAnswer(nowMs, step.shed)
              if (!step.shed) acceptedAt.push(nowMs)
            }
            requested.push(nowMs)
            // What the window holds: the events of the newest bucketCount slices, counted from the first event.
            const bucketMs = windowMs / bucketCount
            const firstMs = originMs
            const sliceOf = (atMs: number): number => Math.floor((atMs - firstMs) / bucketMs)
            const inWindow = (atMs: number): boolean => sliceOf(atMs) > sliceOf(nowMs) - bucketCount
            const requests = requested.filter(inWindow).length
            const accepts = acceptedAt.filter(inWindow).length
            const expected = Math.min(0.99, Math.max(0, (requests - 2 * accepts) / (requests + 1)))
            assert.ok(Math.abs(throttle.rejectionProbability(nowMs) - expected) < 1e-9, `at ${nowMs} ms: ${throttle.rejectionProbability(nowMs)} against ${expected}`)
          }
        },
      ),
    )
  })

  it('forgets everything when told the node could not be reached', () => {
    const throttle = new ClientThrottle()
    feed(throttle, 0, 100, 100)
    assert.ok(throttle.rejectionProbability(0) > 0.8)
    throttle.forget()
    assert.equal(throttle.rejectionProbability(0), 0)
    assert.equal(throttle.trySend(0, 0), true)
  })

  it('sends an overloaded node about twice what it accepts, where without it the node would get all of ten times its capacity', () => {
    // A node that accepts at most 100 requests per second, offered 1,000 per second for a minute.
    const capacityPerS = 100
    const offeredPerS = 1000
    let draws = 0x2545f491
    const random = (): number => {
      draws = (Math.imul(draws, 1_103_515_245) + 12_345) >>> 0
      return draws / 4_294_967_296
    }
    const throttle = new ClientThrottle()
    let sentInLastHalf = 0
    let acceptedInLastHalf = 0
    for (let second = 0; second < 60; second += 1) {
      let acceptedThisSecond = 0
      for (let index = 0; index < offeredPerS; index += 1) {
        const atMs = second * 1000 + index
        if (!throttle.trySend(atMs, random())) continue
        const accepted = acceptedThisSecond < capacityPerS
        if (accepted) acceptedThisSecond += 1
        throttle.recordAnswer(atMs, !accepted)
        if (second >= 30) {
          sentInLastHalf += 1
          if (accepted) acceptedInLastHalf += 1
        }
      }
    }
    const sentPerS = sentInLastHalf / 30
    assert.equal(acceptedInLastHalf / 30, capacityPerS, 'the node stays busy: it still gets at least its capacity every second')
    assert.ok(sentPerS > 1.5 * capacityPerS && sentPerS < 2.5 * capacityPerS, `sent ${sentPerS} per second to a node that accepts ${capacityPerS}`)
  })
})
