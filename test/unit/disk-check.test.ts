/**
 * Tests of the start's disk check (src/node/disk-check.ts): how a node asks its peers what they
 * know of its disk clock, and, on simulated clusters, that a node restarted on a copy of its store
 * from before a reap refuses to start instead of bringing the reaped key back, that one on its
 * current store starts, and that one on a new, empty disk takes over what the cluster knew.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {partitionOfKey} from '../../src/ring/partition.js'
import {askPeersForDiskClock, diskCheckRoundGapMs, diskCheckRoundsMax} from '../../src/node/disk-check.js'
import type {Member} from '../../src/membership/member-table.js'
import type {AssembledNode} from '../../src/node/assemble.js'
import {findMember} from '../../src/membership/member-table.js'
import {SimCluster, simTombstoneGraceMs} from '../sim/cluster.js'
import {History} from '../sim/history.js'

function peer(name: string): Member {
  return {name, rpcAddress: `${name}:7000`, apiAddress: `${name}:8000`, status: 'valid', incarnation: 1}
}

describe('disk check: asking the peers', () => {
  it('asks nobody when the node has no peer', async () => {
    const report = await askPeersForDiskClock({peers: [], ask: async () => assert.fail('no peer to ask'), wait: async () => assert.fail('no wait')})
    assert.deepEqual(report, {answered: 0, highestKnown: 0, knownBy: []})
  })

  it('takes the highest value of one round in which any peer answered, and names who knew it', async () => {
    const known: Record<string, number | undefined> = {a: 3, b: undefined, c: 5, d: 5}
    const waits: number[] = []
    const report = await askPeersForDiskClock({peers: ['a', 'b', 'c', 'd'].map(peer), ask: async (p) => known[p.name], wait: async (ms) => void waits.push(ms)})
    assert.deepEqual(report, {answered: 3, highestKnown: 5, knownBy: ['c', 'd']})
    assert.deepEqual(waits, [], 'one round')
  })

  it('asks again, half a second apart, while nobody answers, and gives up after the last round', async () => {
    let asked = 0
    const waits: number[] = []
    const report = await askPeersForDiskClock({
      peers: [peer('a')],
      ask: async () => {
        asked += 1
        if (asked === 3) throw new Error('a broken answer counts as none')
        return undefined
      },
      wait: async (ms) => void waits.push(ms),
    })
    assert.deepEqual(report, {answered: 0, highestKnown: 0, knownBy: []})
    assert.equal(asked, diskCheckRoundsMax)
    assert.deepEqual(waits, Array.from({length: diskCheckRoundsMax - 1}, () => diskCheckRoundGapMs))
    let round = 0
    const late = await askPeersForDiskClock({peers: [peer('a')], ask: async () => (++round === 4 ? 0 : undefined), wait: async () => undefined})
    assert.deepEqual(late, {answered: 1, highestKnown: 0, knownBy: []}, 'a peer that knows nothing of the node answers 0')
    assert.equal(round, 4)
  })
})

describe('disk check: a node on an old disk', () => {
  const config = {nodeCount: 3, partitionCount: 8, defaultN: 3, requestTimeoutMs: 500, gossipIntervalMs: 1000, link: {delayMsMin: 0.2, delayMsMax: 2, lossRate: 0}}
  const request = {n: 3, w: 3, dw: 0, pw: 0, explain: false}

  /** Writes `key` through n1 on every node, backs up n3's store, then deletes the key on every node. */
  async function writeBackUpAndDelete(cluster: SimCluster, key: string): Promise<{partition: number; n1: AssembledNode}> {
    const n1 = cluster.assembled('n1')!
    const written = await cluster.time.until(n1.service.put({key, value: new TextEncoder().encode('old'), contentType: 'text/plain', tombstone: false, context: [], ...request}), 10_000)
    assert.ok(written.ok)
    await cluster.backUp('n3')
    const deleted = await cluster.time.until(n1.service.delete({key, context: written.context, r: 3, pr: 0, ...request}), 10_000)
    assert.ok(deleted.ok)
    return {partition: partitionOfKey(key, config.partitionCount), n1}
  }

  it('refuses to start on a store from before a reap it answered, and the key it held stays deleted', async () => {
    const history = new History()
    const cluster = await SimCluster.start(41, config, history)
    try {
      const key = 'gone-for-good'
      const {partition, n1} = await writeBackUpAndDelete(cluster, key)
      // Past the grace, a few reap passes: every node's copy, tombstone included, is gone.
      await cluster.time.runFor(simTombstoneGraceMs + 5000)
      for (const name of ['n1', 'n2', 'n3']) assert.equal(await cluster.assembled(name)!.store.getObject(partition, key), undefined, `${name} reaped it`)
      const n3DiskClock = findMember(n1.membership.table, 'n3')?.diskClock ?? 0
      assert.ok(n3DiskClock > 0, 'the reaper told the cluster of n3\'s disk clock')

      await cluster.crash('n3')
      await cluster.restartOnOldDisk('n3')
      const refusal = history.log.find((line) => line.text.startsWith('n3 refuses to start'))
      assert.ok(refusal !== undefined, 'n3 refused its old disk')
      assert.match(refusal.text, /copy of an older disk/)
      // What its operator does next (cluster.ts): n3 starts on an empty disk and catches up.
      await cluster.time.runFor(5000)
      for (const name of ['n1', 'n2', 'n3']) {
        assert.equal(await cluster.assembled(name)!.store.getObject(partition, key), undefined, `${name} holds nothing of the deleted key`)
        const read = await cluster.time.until(cluster.assembled(name)!.service.get({key, n: 3, r: 2, pr: 0, explain: false}), 10_000)
        assert.ok(read.ok, `a read through ${name}`)
        assert.equal(read.object, undefined, `a read through ${name} finds nothing`)
      }
      const n3 = cluster.assembled('n3')!
      assert.ok((findMember(n3.membership.table, 'n3')?.diskClock ?? 0) >= n3DiskClock, 'the new disk took over the disk clock the cluster knew')

      // A restart on its current disk is no old disk.
      await cluster.crash('n3')
      await cluster.restart('n3', {wipe: false})
      assert.ok(cluster.isUp('n3'))
      assert.equal(history.log.filter((line) => line.text.startsWith('n3 refuses to start')).length, 1)
    } finally {
      await cluster.stop()
    }
  })

  it('starts on a store from before a delete whose tombstone was not reaped yet: it is only behind', async () => {
    const history = new History()
    const cluster = await SimCluster.start(42, config, history)
    try {
      const key = 'deleted-not-reaped'
      const {partition} = await writeBackUpAndDelete(cluster, key)
      await cluster.crash('n3')
      await cluster.restartOnOldDisk('n3')
      assert.ok(cluster.isUp('n3'))
      assert.equal(history.log.filter((line) => line.text.includes('refuses to start')).length, 0)
      // The tombstone reaches n3 (anti-entropy), then is reaped everywhere: the value never comes back.
      await cluster.time.runFor(simTombstoneGraceMs + 8000)
      for (const name of ['n1', 'n2', 'n3']) assert.equal(await cluster.assembled(name)!.store.getObject(partition, key), undefined, `${name} holds nothing of the key`)
    } finally {
      await cluster.stop()
    }
  })
})
