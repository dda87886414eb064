/**
 * Simulated time (src/simulated-time.ts): events in order of due time then of scheduling, the
 * clock jumping between them, periodic timers, cancellation, per-node views that a crash halts,
 * bounded runs, async continuations run between events, and one seed replaying one order.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {seededRandom} from '../../src/clock.js'
import {sleep} from '../../src/scheduler.js'
import {SimulatedTime, simulatedEpochMsDefault} from '../../src/simulated-time.js'

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

function newTime(): SimulatedTime {
  return new SimulatedTime({settle})
}

describe('simulated time', () => {
  it('runs events by due time, then in the order they were scheduled, moving the clock to each', async () => {
    const time = newTime()
    const log: string[] = []
    const note = (label: string) => () => log.push(`${label}@${time.monotonicMs()}`)
    time.after(30, note('c'))
    time.after(10, note('a'))
    time.after(10, note('b'))
    time.soon(note('soon1'))
    time.after(0, note('zero'))
    time.soon(note('soon2'))
    assert.equal(time.pendingCount, 6)
    assert.deepEqual(await time.runUntil(20), {events: 5, finished: true})
    assert.deepEqual(log, ['soon1@0', 'zero@0', 'soon2@0', 'a@10', 'b@10'])
    assert.equal(time.monotonicMs(), 20)
    assert.equal(time.nowMs(), simulatedEpochMsDefault + 20)
    await time.runUntil(30)
    assert.deepEqual(log.slice(5), ['c@30'])
    assert.equal(time.pendingCount, 0)
    await assert.rejects(time.runUntil(29), /back in time/)
  })

  it('repeats a periodic timer until it is cancelled; cancelling twice or after the run does nothing', async () => {
    const time = newTime()
    const ticks: number[] = []
    const every = time.every(100, () => ticks.push(time.monotonicMs()))
    const once = time.after(50, () => ticks.push(-1))
    await time.runUntil(350)
    assert.deepEqual(ticks, [-1, 100, 200, 300])
    time.cancel(every)
    time.cancel(every)
    time.cancel(once)
    await time.runUntil(1000)
    assert.deepEqual(ticks, [-1, 100, 200, 300])
    assert.equal(time.pendingCount, 0)
    // A periodic timer that cancels itself from its own callback runs once.
    let runs = 0
    const self = time.every(10, () => {
      runs += 1
      time.cancel(self)
    })
    await time.runFor(100)
    assert.equal(runs, 1)
  })

  it('runs the promise continuations an event starts before the next event', async () => {
    const time = newTime()
    const log: string[] = []
    time.after(10, () => {
      void (async () => {
        log.push('first event')
        for (let hop = 0; hop < 50; hop += 1) await Promise.resolve()
        log.push('first continuation, 50 awaits later')
        await sleep(time, 5)
        log.push(`slept to ${time.monotonicMs()}`)
      })()
    })
    time.after(10, () => log.push('second event'))
    await time.runUntil(100)
    assert.deepEqual(log, ['first event', 'first continuation, 50 awaits later', 'second event', 'slept to 15'])
  })

  it('halting a node view drops its timers and ignores later ones, leaving other nodes alone', async () => {
    const time = newTime()
    const log: string[] = []
    const a = time.node('a')
    const b = time.node('b')
    assert.equal(time.node('a'), a)
    a.every(10, () => log.push(`a@${time.monotonicMs()}`))
    a.after(25, () => log.push('a once'))
    b.every(10, () => log.push(`b@${time.monotonicMs()}`))
    await time.runUntil(20)
    assert.equal(a.pendingCount, 2)
    a.halt()
    assert.equal(a.halted, true)
    assert.equal(a.pendingCount, 0)
    a.after(1, () => log.push('after the crash'))
    a.soon(() => log.push('after the crash'))
    await time.runUntil(40)
    assert.deepEqual(log, ['a@10', 'b@10', 'a@20', 'b@20', 'b@30', 'b@40'])
    // A restart gets a fresh view under the same name.
    const restarted = time.node('a')
    assert.notEqual(restarted, a)
    restarted.after(5, () => log.push('restarted'))
    await time.runUntil(45)
    assert.equal(log.at(-1), 'restarted')
    assert.equal(restarted.monotonicMs(), 45)
  })

  it('bounds runUntilIdle and runUntil by events', async () => {
    const time = newTime()
    time.every(1, () => {})
    assert.deepEqual(await time.runUntilIdle(25), {events: 25, finished: false})
    assert.deepEqual(await time.runUntil(1000, 10), {events: 10, finished: false})
    const idle = newTime()
    idle.after(5, () => idle.after(5, () => {}))
    assert.deepEqual(await idle.runUntilIdle(100), {events: 2, finished: true})
    assert.equal(idle.monotonicMs(), 10)
  })

  it('runs until a promise settles, and says so when it never does', async () => {
    const time = newTime()
    assert.equal(await time.until(sleep(time, 500).then(() => time.monotonicMs()), 1000), 500)
    await assert.rejects(
      time.until(sleep(time, 500).then(() => Promise.reject(new Error('failed late'))), 1000),
      /failed late/,
    )
    await assert.rejects(time.until(sleep(time, 5000), 1000), /still pending after 1000 ms/)
    await assert.rejects(newTime().until(new Promise(() => {}), 1000), /no event is left/)
  })

  it('replays one order of events from one seed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({min: 0, max: 2 ** 31}), async (seed) => {
        const run = async (): Promise<string[]> => {
          const time = newTime()
          const random = seededRandom(seed)
          const log: string[] = []
          for (let i = 0; i < 40; i += 1) {
            const label = `t${i}`
            time.after(random.int(20), () => {
              log.push(`${label}@${time.monotonicMs()}`)
              if (random.next() < 0.5) time.after(random.int(5), () => log.push(`${label}'@${time.monotonicMs()}`))
            })
          }
          await time.runUntilIdle(1000)
          return log
        }
        const first = await run()
        assert.deepEqual(await run(), first)
        const times = first.map((entry) => Number(entry.slice(entry.indexOf('@') + 1)))
        assert.deepEqual(times, [...times].sort((x, y) => x - y))
      }),
      {numRuns: 20},
    )
  })
})
