/**
 * Tests of a node's identity (src/node/identity.ts): the machine it is first started on is kept,
 * and a start that claims another is refused before anything is written, since the ring places a
 * key's replicas on distinct machines by it (paper §4.3).
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {seededRandom} from '../../src/clock.js'
import {loadIdentity, type Identity} from '../../src/node/identity.js'
import {SimulatedTime} from '../../src/simulated-time.js'
import {memoryDatabase} from '../../src/storage/backend.js'
import {Store} from '../../src/storage/store.js'

describe('identity: the machine', () => {
  async function storeOf(): Promise<{store: Store; time: SimulatedTime}> {
    const time = new SimulatedTime({settle: () => new Promise((resolve) => setImmediate(resolve))})
    return {store: await Store.open(memoryDatabase(), {writeBuffer: false, scheduler: time}), time}
  }

  it('keeps the machine of the first start; the same machine starts again', async () => {
    const {store, time} = await storeOf()
    const first = await loadIdentity(store, 'n1-2', seededRandom(1), time, 'n1')
    assert.ok(first.ok)
    assert.equal(first.identity.machine, 'n1')
    const again = await loadIdentity(store, 'n1-2', seededRandom(2), time, 'n1')
    assert.ok(again.ok)
    assert.equal(again.identity.machine, 'n1')
    assert.equal(again.identity.incarnation, 2)
    await store.close()
  })

  it('a machine named like the node is a machine of its own, stored as none', async () => {
    const {store, time} = await storeOf()
    const first = await loadIdentity(store, 'n1', seededRandom(1), time, 'n1')
    assert.ok(first.ok)
    assert.equal('machine' in first.identity, false)
    assert.ok((await loadIdentity(store, 'n1', seededRandom(2), time)).ok)
    await store.close()
  })

  it('refuses another machine, or dropping or adding one, and writes nothing then', async () => {
    for (const [firstMachine, laterMachine] of [['h1', 'h2'], ['h1', undefined], [undefined, 'h1']] as const) {
      const {store, time} = await storeOf()
      assert.ok((await loadIdentity(store, 'n2', seededRandom(1), time, firstMachine)).ok)
      const before = await store.getMeta<Identity>('identity')
      const refused = await loadIdentity(store, 'n2', seededRandom(2), time, laterMachine)
      assert.equal(refused.ok, false)
      assert.ok(!refused.ok && /first started .*cannot be started/.test(refused.message), refused.ok ? '' : refused.message)
      assert.deepEqual(await store.getMeta<Identity>('identity'), before, 'the stored identity is unchanged')
      await store.close()
    }
  })
})
