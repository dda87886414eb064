// Anti-entropy with real processes (issue 14): a node whose data folder is lost and that is
// started again under its name gets back every key it is a home of without any client reading
// it, in the background and with dyn repair; the proof is that every key is then read from that
// node alone, the others stopped.

import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {cp, readFile, rm} from 'node:fs/promises'
import {describe, it} from 'node:test'
import {getJson, killNode, putValue, reloadCluster, runDyn, secretArgs, startCluster, startJsonAnswer, waitFor} from './harness.js'
import type {TestCluster} from './harness.js'

/** Writes `count` keys through node 0 at the cluster's defaults. */
async function writeKeys(c: TestCluster, prefix: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    const put = await putValue(c.url(0, `/kv/${prefix}-${i}`), `value-${i}`)
    assert.equal(put.status, 204, `put ${prefix}-${i}`)
  }
}

/**
 * Waits until every node holds `count` keys and keeps no hint. A put is acknowledged at W=2, so
 * its third replica write can still be on its way, or become a hint, when the test goes on; a
 * node wiped then gets that key back by the write or the hint, not by anti-entropy, and a count of
 * keys repaired falls one short (seen once in CI: 199 of 200).
 */
async function waitForFullReplication(c: TestCluster, count: number): Promise<void> {
  await waitFor(`every node to hold ${count} keys and keep no hint`, async () => {
    for (let index = 0; index < c.cluster.nodes.length; index += 1) {
      const stats = (await getJson(c.url(index, '/stats')).catch(() => undefined))?.body as {keys?: number} | undefined
      if (stats?.keys !== count) return undefined
      const members = ((await getJson(c.url(index, '/cluster')).catch(() => undefined))?.body.members ?? []) as Array<{hintsPending?: number}>
      if (members.some((member) => (member.hintsPending ?? 0) > 0)) return undefined
    }
    return true
  })
}

/** Kills node `index`, deletes its data folder, and starts it again with dyn cluster up (which gives it the running nodes as seeds). */
async function loseDisk(c: TestCluster, index: number): Promise<void> {
  const node = (await reloadCluster(c.dir)).nodes[index]
  assert.ok(node !== undefined)
  await killNode(node.pid)
  await rm(node.dataDir, {recursive: true, force: true})
  const up = await runDyn(['cluster', 'up', '--dir', c.dir])
  assert.equal(up.code, 0, up.stderr)
}

/** Stops every node but `index` and reads every key from it alone (R=1): each must be there. */
async function readAllFromOneNode(c: TestCluster, index: number, prefix: string, count: number): Promise<void> {
  const cluster = await reloadCluster(c.dir)
  for (const [other, node] of cluster.nodes.entries()) if (other !== index) await killNode(node.pid)
  const missing: string[] = []
  for (let i = 0; i < count; i += 1) {
    const read = await getJson(c.url(index, `/kv/${prefix}-${i}?r=1`))
    if (read.status !== 200) missing.push(`${prefix}-${i} (${read.status})`)
  }
  assert.deepEqual(missing, [])
}

interface AntiEntropyStats {
  readonly keys: number
  readonly storeBytes: number
  readonly antiEntropy: {readonly recovering: boolean; readonly keysRepaired: number; readonly tombstones: number; readonly tombstonesReaped: number; readonly straysReleased: number}
  readonly compaction: {readonly partitionsCompacted: number; readonly deletesUncompacted: number; readonly deletedBytesUncompacted: number; readonly diskBytesFreed: number}
}

async function statsOf(c: TestCluster, index: number): Promise<AntiEntropyStats> {
  return (await getJson(c.url(index, '/stats'))).body as unknown as AntiEntropyStats
}

describe('anti-entropy with real processes', () => {
  it('brings a node that lost its disk back to every key it is a home of, with no client read, and says so while it catches up', async (t) => {
    const keyCount = 300
    const c = await startCluster(3)
    t.after(() => c.stop())
    await writeKeys(c, 'lost', keyCount)
    await loseDisk(c, 1)
    // Three nodes and N=3: n2 is a home of every key.
    const stats = await waitFor('n2 to hold every key again and to have caught up', async () => {
      const answer = await getJson(c.url(1, '/stats')).catch(() => undefined)
      const body = answer?.body as AntiEntropyStats | undefined
      return body !== undefined && body.keys === keyCount && !body.antiEntropy.recovering ? body : undefined
    })
    // Each node counts the keys its own rounds repaired, both ways: together, at least every key.
    const repaired = await Promise.all([0, 2].map(async (index) => ((await getJson(c.url(index, '/stats'))).body as unknown as AntiEntropyStats).antiEntropy.keysRepaired))
    const total = stats.antiEntropy.keysRepaired + repaired.reduce((sum, count) => sum + count, 0)
    assert.ok(total >= keyCount, `the nodes repaired ${total} keys`)
    const status = await runDyn(['cluster', 'status', '--dir', c.dir, '--json'])
    const n2 = (JSON.parse(status.stdout) as {nodes: Array<{name: string; antiEntropy?: {recovering: boolean}}>}).nodes.find((node) => node.name === 'n2')
    assert.equal(n2?.antiEntropy?.recovering, false)
    const text = await runDyn(['cluster', 'status', '--dir', c.dir])
    assert.equal(text.code, 0, text.stdout + text.stderr)
    assert.match(text.stdout, /anti-entropy repaired \d+ key\(s\)/)
    const log = await readFile((await reloadCluster(c.dir)).nodes[1]!.logFile, 'utf8')
    assert.match(log, /started on an empty store under a known name; catching up \d+ tree\(s\)/)
    assert.match(log, /anti-entropy: recovered/)
    await readAllFromOneNode(c, 1, 'lost', keyCount)
  })

  it('dyn repair brings the keys back where background anti-entropy is off, then finds every tree in sync', async (t) => {
    const keyCount = 200
    const c = await startCluster(3, ['--anti-entropy-ms', '0'])
    t.after(() => c.stop())
    await writeKeys(c, 'repair', keyCount)
    await waitForFullReplication(c, keyCount)
    await loseDisk(c, 1)
    await waitFor('n2 to serve again', async () => ((await getJson(c.url(1, '/health')).catch(() => undefined))?.status === 200 ? true : undefined))
    const before = (await getJson(c.url(1, '/stats'))).body as unknown as AntiEntropyStats
    assert.equal(before.keys, 0, 'nothing brings the keys back by itself')
    const repaired = await runDyn(['repair', '--node', c.api(1), '--wait', '--json'], {timeoutMs: 120_000})
    assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr)
    const report = JSON.parse(repaired.stdout) as {ok: boolean; keysRepairedHere: number; trees: number; rounds: number}
    assert.equal(report.ok, true)
    assert.equal(report.keysRepairedHere, keyCount)
    assert.ok(report.trees > 0)
    const again = await runDyn(['repair', '--node', c.api(1), '--json'])
    const second = JSON.parse(again.stdout) as {keysRepairedHere: number; keysRepairedThere: number; trees: number; treesInSync: number; unfinished: boolean}
    assert.deepEqual([second.keysRepairedHere, second.keysRepairedThere, second.treesInSync, second.unfinished], [0, 0, second.trees, false])
    const text = await runDyn(['repair', '--node', c.api(0)])
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout, /^round 1 on n1: \d+ tree\(s\): \d+ in sync, 0 differing, 0 not compared; 0 key\(s\) repaired here, 0 on peers$/m)
    const bad = await runDyn(['repair', '--node', c.api(1), '--partition', '4096', '--json'])
    assert.equal(bad.code, 2)
    assert.equal((JSON.parse(bad.stdout) as {error: string}).error, 'bad_parameter')
    await readAllFromOneNode(c, 1, 'repair', keyCount)
    // Only n2 runs now. A home seen down is not asked: its trees count as skipped and it is
    // named, so that a round never calls the node in sync while a home it shares keys with could
    // not be compared (it once compared only the homes up, and said "in sync").
    await waitFor('n2 to see n1 and n3 down', async () => {
      const members = (await getJson(c.url(1, '/cluster'))).body.members as Array<{name: string; reachability?: string}>
      return members.filter((member) => member.reachability === 'down').length === 2 ? true : undefined
    })
    const partial = JSON.parse((await runDyn(['repair', '--node', c.api(1), '--json'])).stdout) as {trees: number; treesSkipped: number; peersDown: string[]; unfinished: boolean}
    assert.deepEqual([partial.peersDown, partial.unfinished, partial.treesSkipped], [['n1', 'n3'], true, partial.trees], JSON.stringify(partial))
    assert.ok(partial.trees > 0)
    const waited = await runDyn(['repair', '--node', c.api(1), '--wait', '--max-wait-seconds', '1'])
    assert.equal(waited.code, 3, waited.stdout + waited.stderr)
    assert.match(waited.stdout, /not compared \(n1, n3 down\)/)
    assert.match(waited.stderr, /n1, n3 are down, so the trees shared with them could not be compared/)
  })

  it('keeps a tombstone while a home that missed the delete is paused, reaps it once that home has it, and the key stays deleted everywhere', async (t) => {
    const c = await startCluster(3, ['--tombstone-grace-ms', '1000'])
    t.after(() => c.stop())
    const keys = ['gone-1', 'gone-2', 'gone-3', 'kept']
    for (const key of keys) assert.equal((await putValue(c.url(0, `/kv/${key}`), `value of ${key}`)).status, 204)
    const paused = (await reloadCluster(c.dir)).nodes[2]!
    process.kill(paused.pid!, 'SIGSTOP')
    // A stopped process must be continued to be stopped; one already gone is fine.
    t.after(() => {
      try {
        process.kill(paused.pid!, 'SIGCONT')
      } catch {
        // It has exited.
      }
    })
    await waitFor('n1 to see n3 down', async () => (((await getJson(c.url(0, '/health'))).body.down as string[]).includes('n3') ? true : undefined))
    for (const key of keys.slice(0, 3)) {
      const read = await getJson(c.url(0, `/kv/${key}`))
      const deleted = await fetch(c.url(0, `/kv/${key}`), {method: 'DELETE', headers: {'x-dyn-context': read.context ?? ''}})
      assert.equal(deleted.status, 204, key)
    }
    // Well past the grace, with n3 away: n1 and n2 keep every tombstone.
    await new Promise((resolve) => setTimeout(resolve, 4000))
    for (const index of [0, 1]) assert.equal((await statsOf(c, index)).antiEntropy.tombstones, 3, `n${index + 1} keeps the tombstones while n3 is away`)
    process.kill(paused.pid!, 'SIGCONT')
    // n3 gets the deletes (a hint, or anti-entropy), then every copy is reaped.
    await waitFor('every tombstone to be reaped on every node', async () => {
      const all = await Promise.all([0, 1, 2].map((index) => statsOf(c, index).catch(() => undefined)))
      return all.every((stats) => stats !== undefined && stats.antiEntropy.tombstones === 0 && stats.keys === 1) ? all : undefined
    })
    const reaped = (await Promise.all([0, 1, 2].map((index) => statsOf(c, index)))).reduce((sum, stats) => sum + stats.antiEntropy.tombstonesReaped, 0)
    assert.equal(reaped, 9, 'three tombstones reaped on each of three nodes')
    // Nothing brings the values back: each node alone, and a quorum read through each.
    await new Promise((resolve) => setTimeout(resolve, 2000))
    for (const index of [0, 1, 2]) {
      for (const key of keys.slice(0, 3)) {
        assert.equal((await getJson(c.url(index, `/kv/${key}?r=1`))).status, 404, `${key} on n${index + 1}`)
        assert.equal((await getJson(c.url(index, `/kv/${key}?r=3`))).status, 404, `${key} at r=3 through n${index + 1}`)
      }
      assert.equal((await getJson(c.url(index, '/kv/kept?r=3'))).status, 200)
    }
  })

  it('gives the space of deleted 200 KB values back once they are reaped, although the cluster restarted in between (storeBytes comes back down)', async (t) => {
    const c = await startCluster(3, ['--tombstone-grace-ms', '1000'])
    t.after(() => c.stop())
    // 30 values of 200 KB that LevelDB cannot compress, spread over the ring: 6 MB on each node
    // (N=3), at most a few hundred KB a partition, so nothing is compacted before a minute.
    const keys = Array.from({length: 30}, (_, i) => `big-${i}`)
    for (const key of keys) assert.equal((await putValue(c.url(0, `/kv/${key}`), randomBytes(150_000).toString('base64'))).status, 204, key)
    const loaded = await waitFor('every node to hold the values on disk', async () => {
      const all = await Promise.all([0, 1, 2].map((index) => statsOf(c, index).catch(() => undefined)))
      return all.every((stats) => stats !== undefined && stats.keys === keys.length && stats.storeBytes > keys.length * 200_000) ? (all as AntiEntropyStats[]) : undefined
    })
    for (const key of keys) {
      const read = await getJson(c.url(0, `/kv/${key}`))
      const deleted = await fetch(c.url(0, `/kv/${key}`), {method: 'DELETE', headers: {'x-dyn-context': read.context ?? ''}})
      assert.equal(deleted.status, 204, key)
    }
    const reaped = await waitFor('every tombstone to be reaped on every node', async () => {
      const all = await Promise.all([0, 1, 2].map((index) => statsOf(c, index).catch(() => undefined)))
      return all.every((stats) => stats !== undefined && stats.antiEntropy.tombstones === 0 && stats.keys === 0) ? (all as AntiEntropyStats[]) : undefined
    })
    for (const stats of reaped) {
      assert.equal(stats.compaction.partitionsCompacted, 0, `nothing compacted yet: no partition owes 4 MiB, and a smaller debt waits a minute (${JSON.stringify(stats.compaction)})`)
      assert.ok(stats.compaction.deletedBytesUncompacted >= keys.length * 200_000, `owes ${stats.compaction.deletedBytesUncompacted} bytes`)
    }
    // Every node restarts before its compaction: what it owes is kept.
    assert.equal((await runDyn(['cluster', 'down', '--dir', c.dir])).code, 0)
    assert.equal((await runDyn(['cluster', 'up', '--dir', c.dir])).code, 0)
    const restarted = await Promise.all([0, 1, 2].map((index) => statsOf(c, index)))
    for (const [index, stats] of restarted.entries()) assert.equal(stats.compaction.deletesUncompacted, reaped[index]!.compaction.deletesUncompacted, `n${index + 1} remembers its deletes`)
    await waitFor(
      'every node to give the space back through its own compactions',
      async () => {
        const all = await Promise.all([0, 1, 2].map((index) => statsOf(c, index).catch(() => undefined)))
        // Both: the space is back, and the node's own compactions ran. LevelDB may free most of it
        // on its own first (a restart turns its log into a table), and waiting for the space alone
        // then ended before the node's compactions of small debts (a minute after the restart), a
        // flake of one fresh-clone run on a busy machine.
        // What the node's compactions freed is not compared, since LevelDB may have freed part of it.
        return all.every((stats, index) => stats !== undefined && stats.storeBytes < loaded[index]!.storeBytes / 4 && stats.compaction.partitionsCompacted > 0) ? true : undefined
      },
      150_000,
      1000,
    )
  })

  it('refuses to start a node on a copy of its data folder from before a reap, and the deleted keys stay deleted once it starts empty', async (t) => {
    const c = await startCluster(3, ['--tombstone-grace-ms', '1000'])
    t.after(() => c.stop())
    const keys = ['old-1', 'old-2', 'kept']
    for (const key of keys) assert.equal((await putValue(c.url(0, `/kv/${key}`), `value of ${key}`)).status, 204)
    // A backup of n3's folder, taken with n3 stopped (LevelDB's files are consistent then).
    const n3 = (await reloadCluster(c.dir)).nodes[2]!
    const backup = `${n3.dataDir}.backup`
    await killNode(n3.pid)
    await cp(n3.dataDir, backup, {recursive: true})
    assert.equal((await runDyn(['cluster', 'up', '--dir', c.dir])).code, 0)
    for (const key of keys.slice(0, 2)) {
      const read = await getJson(c.url(0, `/kv/${key}`))
      const deleted = await fetch(c.url(0, `/kv/${key}`), {method: 'DELETE', headers: {'x-dyn-context': read.context ?? ''}})
      assert.equal(deleted.status, 204, key)
    }
    await waitFor('both tombstones to be reaped on every node', async () => {
      const all = await Promise.all([0, 1, 2].map((index) => statsOf(c, index).catch(() => undefined)))
      return all.every((stats) => stats !== undefined && stats.antiEntropy.tombstones === 0 && stats.keys === 1) ? all : undefined
    })
    // n3 comes back on the backup, which still holds both values.
    await killNode((await reloadCluster(c.dir)).nodes[2]!.pid)
    await rm(n3.dataDir, {recursive: true, force: true})
    await cp(backup, n3.dataDir, {recursive: true})
    // dyn cluster up brings n3 back as it would any stopped node: node_exited, with the node's own code in the details.
    const up = await runDyn(['cluster', 'up', '--dir', c.dir, '--json'])
    assert.equal(up.code, 2, up.stdout + up.stderr)
    const upFailure = JSON.parse(up.stdout) as {error: string; node: string; nodeError?: string; nodeMessage?: string; message: string}
    assert.deepEqual({error: upFailure.error, node: upFailure.node, nodeError: upFailure.nodeError}, {error: 'node_exited', node: 'n3', nodeError: 'old_disk'})
    assert.match(upFailure.nodeMessage ?? '', /copy of an older disk/)
    assert.match(upFailure.message, /^n3 exited while starting \(pid \d+ exited with code 2\) with error old_disk: the data folder of n3 is a copy of an older disk/)
    // dyn cluster status says the same of the node that exited, code included.
    const status = await runDyn(['cluster', 'status', '--dir', c.dir, '--json'])
    const exited = (JSON.parse(status.stdout) as {nodes: Array<{name: string; state: string; nodeError?: string; problem?: string}>}).nodes.find((node) => node.name === 'n3')
    assert.deepEqual({state: exited?.state, nodeError: exited?.nodeError}, {state: 'exited', nodeError: 'old_disk'}, status.stdout)
    assert.match(exited?.problem ?? '', /^not running \(pid \d+ exited with code 2 with error old_disk: the data folder of n3 is a copy of an older disk/)
    const start = ['start', '--name', 'n3', '--host', '127.0.0.1', '--port', String(n3.port), '--rpc-port', String(n3.rpcPort), '--data', n3.dataDir, '--tombstone-grace-ms', '1000', ...secretArgs(c.dir)]
    const refused = await runDyn([...start, '--json'])
    assert.equal(refused.code, 2, refused.stdout + refused.stderr)
    // With --json the log lines are JSON lines, and the failure is the last line.
    const error = startJsonAnswer(refused.stdout)
    assert.equal(error.error, 'old_disk')
    assert.match(error.message, /copy of an older disk/)
    assert.match(error.message, /move its data folder aside/)
    // Nothing came back meanwhile, anywhere.
    for (const index of [0, 1]) for (const key of keys.slice(0, 2)) assert.equal((await getJson(c.url(index, `/kv/${key}?r=2`))).status, 404, `${key} through n${index + 1}`)
    // What the error says to do: an empty folder, from which anti-entropy refills n3.
    await rm(n3.dataDir, {recursive: true, force: true})
    assert.equal((await runDyn(['cluster', 'up', '--dir', c.dir])).code, 0)
    await waitFor('n3 to hold the kept key again', async () => ((await statsOf(c, 2).catch(() => undefined))?.keys === 1 ? true : undefined))
    for (const index of [0, 1, 2]) {
      for (const key of keys.slice(0, 2)) assert.equal((await getJson(c.url(index, `/kv/${key}?r=3`))).status, 404, `${key} at r=3 through n${index + 1}`)
      assert.equal((await getJson(c.url(index, '/kv/kept?r=3'))).status, 200)
    }
    await rm(backup, {recursive: true, force: true})
  })

  it('releases a fallback coordinator\'s own copy once the homes have the write (issue 13 item 12)', async (t) => {
    // The README's all-homes-down walk: four nodes, a key with n=2 whose two homes are killed.
    const c = await startCluster(4)
    t.after(() => c.stop())
    // The ring settles first (joins installed, released partitions handed off), so that what
    // removes the copy below can only be the stray release.
    await waitFor('the ring to settle', async () => {
      const nodes = await Promise.all([0, 1, 2, 3].map(async (index) => ({health: (await getJson(c.url(index, '/health'))).body, stats: (await getJson(c.url(index, '/stats'))).body})))
      return nodes.every(({health, stats}) => health.transition === null && health.ringMembers === 4 && (stats.release as {pendingPartitions: number}).pendingPartitions === 0) ? true : undefined
    })
    const preflist = (await getJson(c.url(0, '/cluster/preflist/cart:eve'))).body.preflist as Array<{node: string}>
    const names = preflist.map((entry) => entry.node)
    const cluster = await reloadCluster(c.dir)
    const indexOf = (name: string): number => cluster.nodes.findIndex((node) => node.name === name)
    const [home1, home2, fallback] = [indexOf(names[0]!), indexOf(names[1]!), indexOf(names[2]!)]
    for (const home of [home1, home2]) await killNode(cluster.nodes[home]!.pid)
    await waitFor('the fallback to see both homes down', async () => {
      const down = (await getJson(c.url(fallback, '/health'))).body.down as string[]
      return down.includes(names[0]!) && down.includes(names[1]!) ? true : undefined
    })
    const put = await fetch(c.url(fallback, '/kv/cart:eve?n=2&w=2'), {method: 'PUT', body: '{"items":["tea"]}', headers: {'content-type': 'application/json'}})
    assert.equal(put.status, 204, await put.text())
    assert.equal((await statsOf(c, fallback)).keys, 1, 'the fallback coordinator keeps its own copy')
    const up = await runDyn(['cluster', 'up', '--dir', c.dir])
    assert.equal(up.code, 0, up.stderr)
    // The homes get the write (hints), and the fallback's own copy goes.
    const settled = await waitFor('the homes to hold the write and the fallback to hold nothing', async () => {
      const keys = await Promise.all([home1, home2, fallback].map(async (index) => (await statsOf(c, index)).keys))
      return keys[0] === 1 && keys[1] === 1 && keys[2] === 0 ? keys : undefined
    })
    assert.deepEqual(settled, [1, 1, 0])
    const log = await readFile(cluster.nodes[fallback]!.logFile, 'utf8')
    assert.equal((await statsOf(c, fallback)).antiEntropy.straysReleased, 1, `the fallback released its copy itself; its log:\n${log.slice(-3000)}`)
    for (const home of [home1, home2]) assert.equal((await getJson(c.url(home, '/kv/cart:eve?n=2&r=1'))).status, 200)
  })
})
