/**
 * When a get asks one more replica (src/coordinator/read-latency.ts): the p99 of the recent
 * replica reads a coordinator saw, held within its floor and ceiling, the initial guess before
 * any read, and the ring of samples forgetting old reads.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ReplicaReadLatency, readLatencySettingsDefault} from '../../src/coordinator/read-latency.js'

describe('ReplicaReadLatency', () => {
  it('starts at the initial guess and follows the p99 of recent reads', () => {
    const latency = new ReplicaReadLatency({...readLatencySettingsDefault, samplesMax: 100, recomputeEvery: 10})
    assert.equal(latency.speculateAfterMs(), readLatencySettingsDefault.initialMs)
    // 99 reads of 3 ms and one of 40 ms: the p99 is 3 ms.
    for (let i = 0; i < 99; i += 1) latency.record(3)
    latency.record(40)
    assert.equal(latency.speculateAfterMs(), 3)
    // Ten slow reads among the last hundred move the p99 to them (the 40 ms read is the one above it).
    for (let i = 0; i < 10; i += 1) latency.record(30)
    assert.equal(latency.speculateAfterMs(), 30)
  })

  it('stays within its floor and ceiling, and ignores what is not a latency', () => {
    const latency = new ReplicaReadLatency({...readLatencySettingsDefault, recomputeEvery: 1})
    latency.record(0.1)
    assert.equal(latency.speculateAfterMs(), readLatencySettingsDefault.floorMs)
    for (let i = 0; i < readLatencySettingsDefault.samplesMax; i += 1) latency.record(60_000)
    assert.equal(latency.speculateAfterMs(), readLatencySettingsDefault.ceilingMs)
    latency.record(Number.NaN)
    latency.record(-1)
    assert.equal(latency.speculateAfterMs(), readLatencySettingsDefault.ceilingMs)
  })

  it('forgets reads older than its ring of samples', () => {
    const latency = new ReplicaReadLatency({...readLatencySettingsDefault, samplesMax: 50, recomputeEvery: 5})
    for (let i = 0; i < 50; i += 1) latency.record(200)
    assert.equal(latency.speculateAfterMs(), 200)
    // Recomputed every 5 reads: after 55 more, every sample of 200 ms has been overwritten and counted out.
    for (let i = 0; i < 55; i += 1) latency.record(4)
    assert.equal(latency.speculateAfterMs(), 4)
  })
})
