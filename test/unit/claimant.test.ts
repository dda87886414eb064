/**
 * The claimant's process side on whole simulated nodes (src/membership/claimant.ts): a change
 * staged through one node is found by a commit sent to any other, even to a node that restarted
 * on an older ring state and believes itself claimant (simulator seeds 1122, 1639, 2122: the
 * commit answered nothing_staged and the leave or removal was never made), and to a node that has
 * not yet seen the stager's side of a healed partition up again (seed 466893). A staged join of a
 * node that no member can reach where it says it is is shown by the plan, with why and what to do,
 * and left out of a commit, which says so (a new user's walk: the plan said nothing was staged).
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {homesOf} from '../../src/handoff/transfer-plan.js'
import type {ClusterChangeRequest} from '../../src/membership/claimant.js'
import type {AssembledNode} from '../../src/node/assemble.js'
import {findMember} from '../../src/membership/member-table.js'
import {partitionOfKey} from '../../src/ring/partition.js'
import {SimCluster, simTombstoneGraceMs} from '../sim/cluster.js'
import {History} from '../sim/history.js'

/** A change request sent to the node `through`, as dyn cluster sends one to --node. */
/** A 4-node simulated cluster (seed `seed`) whose n4 was crashed, then removed and the removal committed through n1. */
async function removedWhileDown(seed: number): Promise<{history: History; cluster: SimCluster; n1: AssembledNode}> {
  const history = new History()
  const cluster = await SimCluster.start(seed, {...config, nodeCount: 4}, history)
  const n1 = cluster.assembled('n1')!
  await cluster.crash('n4')
  await cluster.time.until(n1.service.clusterChange({op: 'stage', change: {kind: 'remove', node: 'n4'}}), 10_000)
  await cluster.time.until(n1.service.clusterChange({op: 'commit'}), 10_000)
  assert.ok(await cluster.settleRing(3, 'n4'), 'the ring settles without n4')
  return {history, cluster, n1}
}

function changeThrough(cluster: SimCluster, through: string, request: ClusterChangeRequest): Promise<unknown> {
  return cluster.time.until(cluster.assembled(through)!.service.clusterChange(request), 10_000)
}

const config = {nodeCount: 5, partitionCount: 16, defaultN: 3, requestTimeoutMs: 500, gossipIntervalMs: 1000, link: {delayMsMin: 0.2, delayMsMax: 2, lossRate: 0}}

describe('the claimant', () => {
  it('a node restarted on an older ring state commits the change staged while it was down', async () => {
    const cluster = await SimCluster.start(31, config, new History())
    try {
      await cluster.crash('n1')
      // Long enough for the others to see n1 down: n2 is their claimant now.
      await cluster.time.runFor(6000)
      const staged = await cluster.time.until(cluster.assembled('n3')!.service.clusterChange({op: 'stage', change: {kind: 'leave', node: 'n4'}}), 10_000)
      assert.equal((staged as {claimant: string}).claimant, 'n2')
      // The plan says the cluster's N, for the CLI's warning of too few owners after the commit.
      assert.equal((staged as {defaultN?: number}).defaultN, 3)
      // n1 comes back on its stored state, which has nothing staged, and is the lowest name up.
      await cluster.restart('n1', {wipe: false})
      const n1 = cluster.assembled('n1')!
      assert.deepEqual(n1.membership.table.ring?.staged, [])
      const committed = await cluster.time.until(n1.service.clusterChange({op: 'commit'}), 10_000)
      assert.equal((committed as {claimant: string}).claimant, 'n1')
      assert.deepEqual(n1.membership.table.ring?.next?.members, ['n1', 'n2', 'n3', 'n5'])
      // The answer names the change it started as status and errors do: by the transition's id,
      // whose number is the version the commit made (once printed as the version before it).
      const next = n1.membership.table.ring!.next!
      assert.deepEqual([(committed as {transition?: string}).transition, (committed as {ringVersion: number}).ringVersion], [next.id, n1.membership.table.ring!.version])
      assert.equal(next.id, `${n1.membership.table.ring!.version}.n1`)
      // The decision reached the members before the answer did.
      assert.equal(cluster.assembled('n3')!.membership.table.ring?.next?.id, n1.membership.table.ring?.next?.id)
    } finally {
      await cluster.stop()
    }
  })

  it('a node removed while cut off stops once it hears of it, handing nothing off: a key deleted and reaped meanwhile stays deleted', async () => {
    const history = new History()
    const cluster = await SimCluster.start(5, {...config, nodeCount: 4}, history)
    try {
      const ring = cluster.assembled('n1')!.membership.ring
      const key = Array.from({length: 200}, (_, index) => `k${index}`).find((candidate) => {
        const homes = homesOf(ring, partitionOfKey(candidate, ring.partitionCount), 3)
        return homes.includes('n4') && homes[0] !== 'n4'
      })!
      const partition = partitionOfKey(key, ring.partitionCount)
      const request = {n: 3, dw: 0, pw: 0, explain: false}
      const n1 = cluster.assembled('n1')!
      const written = await cluster.time.until(n1.service.put({key, value: new TextEncoder().encode('old'), contentType: 'text/plain', tombstone: false, context: [], w: 3, ...request}), 10_000)
      assert.ok(written.ok)
      // n4 keeps running, cut off, with its copy of the value; the others delete the key, remove
      // n4, and reap the tombstone (the reaper does not wait for a removed node).
      cluster.network.partition(['n4:7000'], ['n1:7000', 'n2:7000', 'n3:7000'])
      await cluster.time.runFor(6000)
      assert.ok((await cluster.time.until(n1.service.delete({key, context: written.context, r: 2, pr: 0, w: 2, ...request}), 10_000)).ok)
      await cluster.time.until(n1.service.clusterChange({op: 'stage', change: {kind: 'remove', node: 'n4'}}), 10_000)
      await cluster.time.until(n1.service.clusterChange({op: 'commit'}), 10_000)
      await cluster.time.runFor(simTombstoneGraceMs + 20_000)
      for (const name of ['n1', 'n2', 'n3']) assert.equal(await cluster.assembled(name)!.store.getObject(partition, key), undefined, `${name} reaped it`)
      assert.ok(await cluster.assembled('n4')!.store.getObject(partition, key), 'n4 still holds the old value')
      cluster.network.heal()
      await cluster.time.runFor(20_000)
      assert.ok(history.log.some((line) => line.text.startsWith('n4 stops: n4 was removed from the cluster while it was away')), 'n4 says why it stops')
      assert.equal(cluster.isUp('n4'), false)
      for (const name of ['n1', 'n2', 'n3']) {
        assert.equal(await cluster.assembled(name)!.store.getObject(partition, key), undefined, `${name} holds nothing of the key`)
        assert.equal(findMember(cluster.assembled(name)!.membership.table, 'n4')?.handedOff, true, `${name} still knows n4 as removed: no reap waits for it`)
      }
    } finally {
      await cluster.stop()
    }
  })

  it('a node removed while it was down refuses to start on its folder, before it serves anything', async () => {
    // A new user's walk: a removed node restarted on its old folder served the client API until
    // gossip told it it was removed; a w=1 write it took then went with it when it stopped.
    const {history, cluster, n1} = await removedWhileDown(7)
    try {
      await cluster.restart('n4', {wipe: false})
      assert.equal(cluster.isUp('n4'), false, 'n4 did not start')
      const refusal = history.log.find((line) => line.text.startsWith('n4 refuses to start: '))
      assert.match(refusal?.text ?? '', /n4 was removed from the cluster while it was away \(dyn cluster remove; n1, n2, n3 say so\): .*does not start on this folder.*start it on an empty --data folder with --seeds of a member/)
      assert.equal(history.log.some((line) => line.text.startsWith('n4: restarting with the stored member table')), true, 'it was restarted on its folder')
    } finally {
      await cluster.stop()
    }
  })

  it('a node removed, rejoined on an empty disk and restarted on it starts, although a member cut off meanwhile still holds the removed row', async () => {
    // A review: n3 missed n4's rejoin and answered the restarted n4's disk check "removed", and
    // n4 refused to start on the one folder holding what it alone had acknowledged.
    const {history, cluster, n1} = await removedWhileDown(3)
    try {
      await cluster.time.runFor(3000)
      assert.equal(findMember(cluster.assembled('n3')!.membership.table, 'n4')?.removed, true, 'n3 knows n4 removed')
      cluster.network.partition(['n3:7000'], ['n1:7000', 'n2:7000', 'n4:7000'])
      // n4 comes back on an empty disk: a join under its name, which n3 does not hear of.
      await cluster.restart('n4', {wipe: true})
      await cluster.time.runFor(5000)
      assert.equal(cluster.isUp('n4'), true, 'n4 rejoined')
      assert.equal(findMember(n1.membership.table, 'n4')?.removed === true, false, 'n1 holds the rejoined row')
      await cluster.crash('n4')
      cluster.network.heal()
      await cluster.restart('n4', {wipe: false})
      assert.equal(cluster.isUp('n4'), true, 'n4 starts on its folder')
      assert.equal(history.log.some((line) => line.text.startsWith('n4 refuses to start')), false)
    } finally {
      await cluster.stop()
    }
  })

  it('counts as members the nodes that are part of the cluster now: not one that left, in /health, the members\' views and a later joiner\'s log', async () => {
    // A user's walk: after n4 left a 4-node cluster, status said "4 members" for a ring of 3,
    // and a node that joined next logged "joined through a seed: 5 member(s)" beside 4 live nodes.
    const history = new History()
    const cluster = await SimCluster.start(41, {...config, nodeCount: 4}, history)
    try {
      const n1 = cluster.assembled('n1')!
      await cluster.time.until(n1.service.clusterChange({op: 'stage', change: {kind: 'leave', node: 'n4'}}), 10_000)
      await cluster.time.until(n1.service.clusterChange({op: 'commit'}), 10_000)
      assert.ok(await cluster.settleRing(3, 'n4'), 'the ring settles on 3 members')
      await cluster.depart('n4')
      await cluster.time.runFor(config.gossipIntervalMs * 3)
      // The table keeps n4's row (so that it is never taken back); it is no member.
      assert.equal(n1.membership.table.members.length, 4)
      const health = (name: string): {members: number; ringMembers: number} => cluster.assembled(name)!.service.health() as {members: number; ringMembers: number}
      for (const name of ['n1', 'n2', 'n3']) assert.equal(health(name).members, 3, `${name}'s /health after n4 left`)
      const gathered = (await cluster.time.until(n1.service.clusterStatus(2000), 10_000)) as {members: Array<{name: string; view?: {health: {members: number}}}>}
      for (const member of gathered.members) if (member.view !== undefined) assert.equal(member.view.health.members, 3, `${member.name}'s view for dyn cluster status --node`)
      const n5 = await cluster.addNode()
      assert.ok(await cluster.settleRing(4, 'n4'), 'the ring settles on n1, n2, n3 and n5')
      assert.ok(history.log.some((line) => line.text === `${n5}: joined through a seed: 4 member(s)`), 'the joiner counts itself and the 3 members, not n4')
      for (const name of ['n1', 'n2', 'n3', n5]) assert.deepEqual([health(name).members, health(name).ringMembers], [4, 4], `${name}'s /health after ${n5} joined`)
    } finally {
      await cluster.stop()
    }
  })

  it('a second leave or remove of a member already on its way out stages nothing, and says so with its own code through any node', async () => {
    const cluster = await SimCluster.start(35, config, new History())
    try {
      const change = (through: string, kind: 'leave' | 'remove'): Promise<unknown> => cluster.time.until(cluster.assembled(through)!.service.clusterChange({op: 'stage', change: {kind, node: 'n4'}}), 10_000)
      const refusal = async (through: string, kind: 'leave' | 'remove'): Promise<string | undefined> => change(through, kind).then(() => undefined, (error: {code?: string}) => error.code)
      await change('n3', 'leave')
      assert.equal(await refusal('n5', 'leave'), 'already_leaving', 'staged, not committed')
      await cluster.time.until(cluster.assembled('n2')!.service.clusterChange({op: 'commit'}), 10_000)
      const n1 = cluster.assembled('n1')!
      assert.ok(n1.membership.table.ring?.next !== undefined, 'the leave is committed and its data moving')
      // Forwarded to the claimant n1 by n5 and n4 itself: the refusal keeps its code on the way back.
      for (const [through, kind] of [['n5', 'leave'], ['n4', 'remove']] as const) {
        assert.equal(await refusal(through, kind), 'already_leaving', `${kind} through ${through} while n4 leaves`)
        assert.deepEqual(n1.membership.table.ring?.staged, [], 'nothing staged again')
      }
      await cluster.time.runFor(30_000)
      assert.equal(n1.membership.table.ring?.next, undefined, 'the transition is installed')
      assert.ok(!n1.membership.table.ring?.members.includes('n4'))
      assert.equal(await refusal('n5', 'leave'), 'already_left')
      assert.equal(await refusal('n1', 'remove'), 'already_left')
    } finally {
      await cluster.stop()
    }
  })

  it('a leaver lost mid-leave holds its change up, says so in the transfers, and is removed once seen down: the change ends from the other replicas, and the leaver stops if it comes back', async () => {
    const history = new History()
    const cluster = await SimCluster.start(41, {...config, nodeCount: 4}, history)
    try {
      const n1 = cluster.assembled('n1')!
      const keys = Array.from({length: 40}, (_, index) => `key${index}`)
      // Written to every home, so that each survives the loss of any one node.
      for (const key of keys) {
        const written = await cluster.time.until(n1.service.put({key, value: new TextEncoder().encode(key), contentType: 'text/plain', tombstone: false, context: [], n: 3, w: 3, dw: 0, pw: 0, explain: false}), 10_000)
        assert.ok(written.ok)
      }
      const change = (through: string, request: ClusterChangeRequest): Promise<unknown> => changeThrough(cluster, through, request)
      const refusal = (through: string, request: ClusterChangeRequest): Promise<{code?: string; message?: string} | undefined> => change(through, request).then(() => undefined, (error: {code?: string; message?: string}) => error)
      const removeN4: ClusterChangeRequest = {op: 'stage', change: {kind: 'remove', node: 'n4'}}
      await change('n2', {op: 'stage', change: {kind: 'leave', node: 'n4'}})
      await change('n2', {op: 'commit'})
      const id = n1.membership.table.ring!.next!.id
      // While n4 runs it finishes its leave by itself: its removal is refused, and says what to do.
      const running = await refusal('n3', removeN4)
      assert.equal(running?.code, 'already_leaving')
      assert.match(running?.message ?? '', /n4 is already leaving .*does not see it down; nothing was staged\. While it runs, let it finish.*If its machine is lost for good, make sure it is stopped/)
      // n4's machine is lost before the new homes have scanned anything (they wait a request timeout).
      await cluster.crash('n4')
      await cluster.time.runFor(20_000)
      assert.equal(n1.membership.table.ring?.next?.id, id, 'the change is held up by the lost leaver')
      // Each new home says what holds it up, with the way out, and shows no ETA.
      const receivers = ['n1', 'n2', 'n3'].map((name) => cluster.assembled(name)!.transfers.snapshot()).filter((snapshot) => snapshot.done < snapshot.total)
      assert.ok(receivers.length > 0)
      for (const snapshot of receivers) {
        assert.match(snapshot.waitingFor ?? '', /^n4 down \(needed for \d+ partition\(s\); it is leaving: if its machine is lost for good, dyn cluster remove n4\)$/)
        assert.equal(snapshot.etaMs, undefined)
        assert.ok((snapshot.stalledMs ?? 0) > 0)
      }
      // The removal replaces the leave: the commit amends the change under way, which keeps its id.
      const staged = (await change('n3', removeN4)) as {staged: Array<{kind: string; node: string}>; note?: string}
      assert.deepEqual(staged.staged, [{kind: 'remove', node: 'n4'}])
      assert.match(staged.note ?? '', new RegExp(`a commit removes n4 \\(leaving, and down\\) in the ring change ${id.replace('.', '\\.')} under way, in place of its leave`))
      const committed = (await change('n2', {op: 'commit'})) as {transition: string; ringVersion: number; staged: Array<{kind: string; node: string}>; note?: string}
      assert.equal(committed.transition, id)
      assert.match(committed.note ?? '', /^n4 \(leaving, and down\) is removed in the ring change .* under way, in place of its leave: the new homes take its partitions from the surviving replicas/)
      assert.deepEqual(committed.staged, [{kind: 'remove', node: 'n4'}])
      assert.deepEqual(n1.membership.table.ring?.next?.removing, ['n4'])
      await cluster.time.runFor(30_000)
      assert.equal(n1.membership.table.ring?.next, undefined, 'the change is installed')
      assert.deepEqual(n1.membership.table.ring?.members, ['n1', 'n2', 'n3'])
      assert.equal(findMember(n1.membership.table, 'n4')?.removed, true)
      // Every key is on each of its homes, from the replicas that survived.
      const ring = n1.membership.ring
      for (const key of keys) {
        const partition = partitionOfKey(key, ring.partitionCount)
        for (const home of homesOf(ring, partition, 3)) assert.ok(await cluster.assembled(home)!.store.getObject(partition, key), `${home} holds ${key}`)
      }
      // n4 comes back on its disk: its start hears from the members that it was removed, and it
      // refuses to start, handing nothing off.
      await cluster.restart('n4', {wipe: false})
      assert.equal(cluster.isUp('n4'), false, 'n4 never served')
      await cluster.time.runFor(10_000)
      assert.equal(cluster.isUp('n4'), false)
      assert.ok(history.log.some((line) => line.text.startsWith('n4 refuses to start: n4 was removed from the cluster while it was away')), 'n4 says why it does not start')
      assert.ok(!history.log.some((line) => line.text.startsWith('n4: ') && /handed off/.test(line.text)), 'n4 handed nothing off')
    } finally {
      await cluster.stop()
    }
  })

  it('a leaver lost after its partitions moved, before it handed off its last copies, is marked removed at once by dyn cluster remove, so reaps no longer wait for it (campaign seed 7219398170)', async () => {
    const history = new History()
    const cluster = await SimCluster.start(47, {...config, nodeCount: 4}, history)
    try {
      const n1 = cluster.assembled('n1')!
      const change = (through: string, request: ClusterChangeRequest): Promise<unknown> => changeThrough(cluster, through, request)
      const removeN4: ClusterChangeRequest = {op: 'stage', change: {kind: 'remove', node: 'n4'}}
      await change('n2', {op: 'stage', change: {kind: 'leave', node: 'n4'}})
      await change('n2', {op: 'commit'})
      for (let waitedMs = 0; n1.membership.table.ring?.next !== undefined && waitedMs < 60_000; waitedMs += 100) await cluster.time.runFor(100)
      assert.equal(n1.membership.table.ring?.next, undefined, 'the leave is installed')
      // n4 releases what it held (it waits a request timeout and two gossip rounds first): it
      // answers, so its removal is refused.
      const running = await change('n3', removeN4).then(() => undefined, (error: {code?: string; message?: string}) => error)
      assert.equal(running?.code, 'already_left')
      assert.match(running?.message ?? '', /n4 has left the ring and is handing off its last copies to their new homes; it answers the claimant n1/)
      await cluster.crash('n4')
      await cluster.time.runFor(6000)
      assert.notEqual(findMember(n1.membership.table, 'n4')?.handedOff, true, 'no tombstone is reaped without n4\'s word')
      const removed = (await change('n3', removeN4)) as {note?: string; staged: unknown[]}
      assert.match(removed.note ?? '', /^n4 had left the ring but not handed off its last copies, and is down: it is marked removed \(nothing moves, and no commit is needed\)/)
      assert.deepEqual(removed.staged, [])
      await cluster.time.runFor(3000)
      for (const name of ['n1', 'n2', 'n3']) {
        const row = findMember(cluster.assembled(name)!.membership.table, 'n4')
        assert.deepEqual([row?.status, row?.handedOff, row?.removed], ['left', true, true], name)
      }
      // Back on its disk, it hears that it was removed as it starts, and refuses to, handing nothing off.
      await cluster.restart('n4', {wipe: false})
      assert.equal(cluster.isUp('n4'), false, 'n4 never served')
      await cluster.time.runFor(10_000)
      assert.equal(cluster.isUp('n4'), false)
      assert.ok(history.log.some((line) => line.text.startsWith('n4 refuses to start: n4 was removed from the cluster while it was away')))
    } finally {
      await cluster.stop()
    }
  })

  it('a leaver back up before its removal is committed is not removed: the commit says so, and it finishes its leave', async () => {
    const cluster = await SimCluster.start(43, {...config, nodeCount: 4}, new History())
    try {
      const n1 = cluster.assembled('n1')!
      const change = (through: string, request: ClusterChangeRequest): Promise<unknown> => changeThrough(cluster, through, request)
      await change('n2', {op: 'stage', change: {kind: 'leave', node: 'n4'}})
      await change('n2', {op: 'commit'})
      await cluster.crash('n4')
      await cluster.time.runFor(6000)
      await change('n3', {op: 'stage', change: {kind: 'remove', node: 'n4'}})
      await cluster.restart('n4', {wipe: false})
      // Soon enough that its leave (nothing to hand off here) has not finished, late enough that n1 sees it up.
      await cluster.time.runFor(1500)
      const refused = await change('n2', {op: 'commit'}).then(() => undefined, (error: {code?: string; message?: string}) => error)
      assert.equal(refused?.code, 'already_leaving')
      assert.match(refused?.message ?? '', /n4 is running again, .* nothing was committed\. Drop the staged removal with dyn cluster clear/)
      assert.deepEqual(n1.membership.table.ring?.next?.removing, [])
      // It finishes its leave, handing off, and the staged removal goes with the install.
      await cluster.time.runFor(40_000)
      assert.equal(n1.membership.table.ring?.next, undefined)
      assert.deepEqual(n1.membership.table.ring?.members, ['n1', 'n2', 'n3'])
      assert.deepEqual(n1.membership.table.ring?.staged, [])
      assert.notEqual(findMember(n1.membership.table, 'n4')?.removed, true, 'n4 left, it was not removed')
    } finally {
      await cluster.stop()
    }
  })

  it('a removal of a node that just went silent, which the claimant still counts as up, stages nothing and says why and what to do', async () => {
    const cluster = await SimCluster.start(37, config, new History())
    try {
      const address = (name: string): string => `${name}:7000`
      // n4 goes silent (a machine that died without a word, or a pause): no refused connection
      // tells the claimant n1 at once; its failure detector needs a few seconds of silence.
      cluster.network.partition([address('n4')], [address('n1'), address('n2'), address('n3'), address('n5')])
      const n2 = cluster.assembled('n2')!
      const refusal = await cluster.time.until(n2.service.clusterChange({op: 'stage', change: {kind: 'remove', node: 'n4'}}), 10_000).then(
        () => assert.fail('the removal was staged'),
        (error: {code?: string; message?: string}) => error,
      )
      assert.equal(refusal.code, 'unreachable')
      assert.match(refusal.message ?? '', /^n4 did not answer the claimant n1, whose failure detector has not yet decided that n4 is down .*: nothing was staged.* If n4 is gone for good, retry in a few seconds, once dyn cluster status shows it down; if it is still running .*dyn cluster leave --name n4/)
      assert.deepEqual(cluster.assembled('n1')!.membership.table.ring?.staged, [])
      // Once n1 sees n4 down, the same removal is staged.
      await cluster.time.runFor(6000)
      await cluster.time.until(n2.service.clusterChange({op: 'stage', change: {kind: 'remove', node: 'n4'}}), 10_000)
      assert.deepEqual(cluster.assembled('n1')!.membership.table.ring?.staged.map(({kind, node}) => ({kind, node})), [{kind: 'remove', node: 'n4'}])
    } finally {
      await cluster.stop()
    }
  })

  it('a staged join of a node no member can reach: the plan lists it apart with why, a commit of it alone is refused, one of other changes leaves it staged and says so', async () => {
    const cluster = await SimCluster.start(43, config, new History())
    try {
      type Plan = {ringVersion: number; staged: Array<{kind: string; node: string}>; blocked?: Array<{kind: string; node: string; rpcAddress: string; error: string; message: string}>; note?: string; members?: string[]}
      const change = (through: string, request: ClusterChangeRequest): Promise<Plan> => cluster.time.until(cluster.assembled(through)!.service.clusterChange(request), 10_000) as Promise<Plan>
      // n6, started alone and joined (staged), is restarted with an --advertise that leads nowhere.
      const n6 = await cluster.addNode({alone: true})
      await cluster.restartAdvertising(n6, `${n6}-elsewhere:7000`)
      await cluster.time.runFor(3000)
      const plan = await change('n3', {op: 'plan'})
      assert.deepEqual(plan.staged, [], 'nothing a commit could apply')
      assert.deepEqual(plan.blocked?.map(({kind, node, rpcAddress, error}) => ({kind, node, rpcAddress, error})), [{kind: 'join', node: n6, rpcAddress: `${n6}-elsewhere:7000`, error: 'joiner_unreachable'}])
      assert.match(plan.blocked?.[0]?.message ?? '', /^n1, the claimant, cannot reach n6 at n6-elsewhere:7000, the internode address n6 advertises \(connection to n6-elsewhere:7000 refused\), so a commit leaves its join out\. .*restart it with --advertise/)
      assert.match(plan.note ?? '', /^a commit now would be refused \(joiner_unreachable\)/)
      const refusal = await change('n2', {op: 'commit'}).then(
        () => assert.fail('a commit of a join no member can reach was made'),
        (error: {code?: string; message?: string; details?: unknown}) => error,
      )
      assert.equal(refusal.code, 'joiner_unreachable', refusal.message)
      // Asked through n2, refused by the claimant n1: the joins it left out come across too.
      assert.deepEqual(refusal.details, {blocked: [{node: n6, rpcAddress: `${n6}-elsewhere:7000`, error: 'joiner_unreachable'}]})
      const n1 = cluster.assembled('n1')!
      assert.equal(n1.membership.table.ring?.version, plan.ringVersion, 'nothing committed')
      // A leave staged beside it is committed; the join stays staged, and the answer says so.
      await change('n2', {op: 'stage', change: {kind: 'leave', node: 'n5'}})
      const committed = await change('n4', {op: 'commit'})
      assert.deepEqual(committed.staged, [{kind: 'leave', node: 'n5'}])
      assert.deepEqual(committed.blocked?.map((blocked) => blocked.node), [n6])
      const transition = n1.membership.table.ring?.next
      assert.deepEqual(transition?.members, ['n1', 'n2', 'n3', 'n4'])
      assert.equal(findMember(n1.membership.table, n6)?.status, 'joining')
      // Its operator restarts it with its right address: once the leave is done, it joins.
      await cluster.restartAdvertising(n6, undefined)
      await cluster.time.runFor(60_000)
      assert.deepEqual(n1.membership.table.ring?.members, ['n1', 'n2', 'n3', 'n4', n6])
    } finally {
      await cluster.stop()
    }
  })

  it('a commit sent just after a partition heals finds the change the other side staged, although it still believes that side down', async () => {
    const cluster = await SimCluster.start(33, config, new History())
    try {
      const address = (name: string): string => `${name}:7000`
      // Each side takes its lowest name up for the claimant: n1 on one, n2 on the other.
      cluster.network.partition([address('n1'), address('n3')], [address('n2'), address('n4'), address('n5')])
      await cluster.time.runFor(6000)
      const staged = await cluster.time.until(cluster.assembled('n4')!.service.clusterChange({op: 'stage', change: {kind: 'leave', node: 'n5'}}), 10_000)
      assert.equal((staged as {claimant: string}).claimant, 'n2')
      cluster.network.heal()
      // At once: n1 has not seen n2, n4 or n5 up again, and n3 has not heard of the change.
      const n1 = cluster.assembled('n1')!
      assert.deepEqual(n1.membership.table.ring?.staged, [])
      const committed = await cluster.time.until(n1.service.clusterChange({op: 'commit'}), 10_000)
      assert.equal((committed as {claimant: string}).claimant, 'n1')
      assert.deepEqual(n1.membership.table.ring?.next?.members, ['n1', 'n2', 'n3', 'n4'])
    } finally {
      await cluster.stop()
    }
  })

  it('the small side of a partition can neither stage nor commit the removal of the large side (no_majority), the large side can remove it, and lost machines are removed past it with withoutMajority', async () => {
    const cluster = await SimCluster.start(35, config, new History())
    try {
      const address = (name: string): string => `${name}:7000`
      cluster.network.partition([address('n1'), address('n2')], [address('n3'), address('n4'), address('n5')])
      await cluster.time.runFor(6000)
      const n1 = cluster.assembled('n1')!
      const version = n1.membership.table.ring!.version
      const refused = (done: string) => (error: {code?: string; message?: string; details?: {needed?: number}}): boolean => {
        assert.equal(error.code, 'no_majority')
        assert.match(error.message ?? '', new RegExp(`^n1 reaches 2 of the ring's 5 members \\(n1, n2; not: n3, n4, n5\\), and a membership change needs a majority \\(3\\).*: ${done}\\. If they are only cut off, wait for the network to heal; if their machines are lost for good, remove them and commit, each with --without-majority \\(dyn cluster remove n3 --without-majority; .*; dyn cluster commit --without-majority\\)`))
        assert.equal(error.details?.needed, 3)
        return true
      }
      // Every decision raises the ring's version, which wins at a heal: none is taken here.
      await assert.rejects(changeThrough(cluster, 'n2', {op: 'stage', change: {kind: 'remove', node: 'n3'}}), refused('nothing was staged'))
      await assert.rejects(changeThrough(cluster, 'n2', {op: 'clear'}), refused('nothing was cleared'))
      assert.equal(n1.membership.table.ring?.version, version, 'nothing was decided')
      // An operator who says the others are lost stages a removal; the plan then says a plain commit would be refused, and it is.
      await changeThrough(cluster, 'n2', {op: 'stage', change: {kind: 'remove', node: 'n3'}, withoutMajority: true})
      const plan = (await changeThrough(cluster, 'n2', {op: 'plan'})) as {noMajority?: string}
      assert.match(plan.noMajority ?? '', /^a commit would be refused now \(no_majority\): n1 reaches 2 of the ring's 5 members/)
      await assert.rejects(changeThrough(cluster, 'n2', {op: 'commit'}), refused('nothing was committed'))
      assert.equal(n1.membership.table.ring?.version, version + 1, 'only the stage given --without-majority was decided')
      // The large side removes the small one.
      const n3 = cluster.assembled('n3')!
      await changeThrough(cluster, 'n4', {op: 'stage', change: {kind: 'remove', node: 'n1'}})
      await changeThrough(cluster, 'n4', {op: 'commit'})
      assert.deepEqual(n3.membership.table.ring?.next?.members, ['n2', 'n3', 'n4', 'n5'])
      // And the small side's operator, for machines lost for good, commits past the rule.
      const forced = (await changeThrough(cluster, 'n2', {op: 'commit', withoutMajority: true})) as {members?: string[]}
      assert.deepEqual(forced.members, ['n1', 'n2', 'n4', 'n5'])
    } finally {
      await cluster.stop()
    }
  })

  it('a joiner the claimant cannot reach does not hold every other decision up: it asks for its commit one request at a time', async () => {
    const cluster = await SimCluster.start(41, {...config, nodeCount: 4}, new History())
    try {
      // An address where something listens and never answers (a firewall that drops).
      const hole = cluster.network.listen({address: 'hole:7000', nodeName: 'hole', handler: () => new Promise(() => undefined), scheduler: cluster.time.node('hole')})
      const change = (request: ClusterChangeRequest): Promise<{ok: boolean; code?: string}> =>
        changeThrough(cluster, 'n2', request).then(
          () => ({ok: true}),
          (error: {code?: string}) => ({ok: false, ...(error.code === undefined ? {} : {code: error.code})}),
        )
      // A leave staged holds the joiner's own commit back, and it asks every round meanwhile.
      assert.ok((await change({op: 'stage', change: {kind: 'leave', node: 'n4'}})).ok)
      const n5 = await cluster.addNode()
      await cluster.time.runFor(3000)
      await cluster.restartAdvertising(n5, 'hole:7000')
      await cluster.time.runFor(3000)
      // Cleared once the claimant no longer waits on n5's ring state (its detector sees n5 down
      // within seconds), so that n5's commit requests go through to the claimant's dial.
      let cleared = await change({op: 'clear'})
      for (let attempt = 0; !cleared.ok && attempt < 10; attempt += 1) {
        await cluster.time.runFor(1000)
        cleared = await change({op: 'clear'})
      }
      assert.deepEqual(cleared, {ok: true})
      // Each of its requests costs the claimant seconds (it dials n5 at the hole); one a round
      // used to pile up behind its decisions, and every plan from then on timed out.
      for (const waitS of [5, 20, 40]) {
        await cluster.time.runFor(waitS * 1000)
        assert.deepEqual(await change({op: 'plan'}), {ok: true}, `a plan ${waitS} s later`)
      }
      await hole.close()
    } finally {
      await cluster.stop()
    }
  })

  it('a join committed with a leave is part of the change under way: the leaver\'s removal does not list it as staged, nor say that it waits', async () => {
    const cluster = await SimCluster.start(44, {...config, nodeCount: 4}, new History())
    try {
      const n1 = cluster.assembled('n1')!
      const change = (request: ClusterChangeRequest): Promise<unknown> => changeThrough(cluster, 'n2', request)
      // The leave staged first holds n5's own commit back; one commit then takes both in.
      await change({op: 'stage', change: {kind: 'leave', node: 'n4'}})
      const n5 = await cluster.addNode()
      await cluster.time.runFor(3000)
      await change({op: 'commit'})
      assert.ok(n1.membership.table.ring?.next?.members.includes(n5), 'the change under way takes n5 in')
      await cluster.crash('n4')
      await cluster.time.runFor(6000)
      const staged = (await change({op: 'stage', change: {kind: 'remove', node: 'n4'}})) as {staged: Array<{kind: string; node: string}>; note?: string}
      assert.deepEqual(staged.staged, [{kind: 'remove', node: 'n4'}])
      assert.doesNotMatch(staged.note ?? '', /wait/)
      const committed = (await change({op: 'commit'})) as {staged: Array<{kind: string; node: string}>; note?: string}
      assert.doesNotMatch(committed.note ?? '', /wait/)
    } finally {
      await cluster.stop()
    }
  })
})
