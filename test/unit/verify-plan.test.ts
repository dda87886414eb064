// What dyn verify checks before anything starts: the cluster it judges (a folder's own node count
// and conflict policy, which flags may not contradict) and a run long enough for the faults asked.

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {localClusterSettings} from '../../src/cli/local-cluster.js'
import type {LocalCluster} from '../../src/cli/local-cluster.js'
import {nemesisSchedule} from '../../src/verify/nemesis.js'
import {checkRunFlags, checkRunLength, checkVerifyMembers, planVerifyCluster, verifyMembers, verifyNodeCountDefault} from '../../src/verify/verify-plan.js'
import {seededRandom} from '../../src/clock.js'

const dir = '/tmp/dyn-verify-plan'

/** A folder's cluster of `nodeCount` nodes with these recorded settings: `{}` is what a plain `dyn cluster up` records. */
function folder(nodeCount: number, settings: LocalCluster['settings']): LocalCluster {
  return {
    host: '127.0.0.1',
    settings,
    clusterId: 'c0ffee',
    nodes: Array.from({length: nodeCount}, (_, i) => ({name: `n${i + 1}`, port: 7070 + i, rpcPort: 8070 + i, dataDir: `${dir}/n${i + 1}`, logFile: `${dir}/n${i + 1}.log`, pid: undefined})),
  }
}

describe('the cluster a verify run judges', () => {
  it('a folder made by a plain dyn cluster up (no settings recorded) keeps siblings, and is judged so', () => {
    const planned = planVerifyCluster(dir, folder(3, {}), {})
    assert.ok(planned.ok)
    assert.deepEqual(planned.plan, {nodeCount: 3, conflict: 'siblings'})
    assert.equal(localClusterSettings(folder(3, {})).conflictPolicy, 'siblings')
    assert.equal(localClusterSettings(folder(3, {conflictPolicy: undefined})).conflictPolicy, 'siblings', 'a setting recorded as undefined is one not given')
  })

  it('--conflict lww on a folder that keeps siblings is refused, naming the folder\'s policy and what to do', () => {
    const planned = planVerifyCluster(dir, folder(3, {}), {conflict: 'lww'})
    assert.equal(planned.ok, false)
    assert.ok(!planned.ok)
    assert.equal(planned.error, 'bad_parameter')
    assert.match(planned.message, /\/tmp\/dyn-verify-plan holds a cluster created with --conflict siblings, fixed since \(not --conflict lww\); drop the flag to use it as it is, or use another --dir/)
  })

  it('a folder made with --conflict lww is judged by lww, with the flag or without, and refuses siblings', () => {
    for (const given of [{}, {conflict: 'lww' as const}]) {
      const planned = planVerifyCluster(dir, folder(5, {conflictPolicy: 'lww'}), given)
      assert.ok(planned.ok)
      assert.equal(planned.plan.conflict, 'lww')
    }
    const refused = planVerifyCluster(dir, folder(5, {conflictPolicy: 'lww'}), {conflict: 'siblings'})
    assert.ok(!refused.ok)
    assert.match(refused.message, /created with --conflict lww, fixed since \(not --conflict siblings\)/)
  })

  it('--nodes that differs from the folder\'s count is refused; the same count, or none, is the folder\'s', () => {
    const refused = planVerifyCluster(dir, folder(3, {}), {nodeCount: 5})
    assert.ok(!refused.ok)
    assert.equal(refused.error, 'bad_parameter')
    assert.match(refused.message, /holds a cluster of 3 nodes \(not --nodes 5\); drop the flag/)
    for (const given of [{}, {nodeCount: 3}]) {
      const planned = planVerifyCluster(dir, folder(3, {}), given)
      assert.ok(planned.ok)
      assert.equal(planned.plan.nodeCount, 3)
    }
  })

  it('a new cluster takes the flags, or the defaults', () => {
    const planned = planVerifyCluster(dir, undefined, {})
    assert.ok(planned.ok)
    assert.deepEqual(planned.plan, {nodeCount: verifyNodeCountDefault, conflict: 'siblings'})
    const given = planVerifyCluster(dir, undefined, {nodeCount: 7, conflict: 'lww'})
    assert.ok(given.ok)
    assert.deepEqual(given.plan, {nodeCount: 7, conflict: 'lww'})
  })
})

describe('a run long enough for the faults asked', () => {
  const defaults = {faultMsMin: 3000, faultMsMax: 8000, gapMs: 2000}

  it('--duration 5 with kill is refused, naming 9 s; it is a run that some seeds leave without any fault', () => {
    const refused = checkRunLength({...defaults, durationMs: 5000, kinds: ['kill']})
    assert.ok(!refused.ok)
    assert.equal(refused.error, 'bad_parameter')
    assert.match(refused.message, /^--duration 5 is too short to hold one fault of each kind asked \(kill\)/)
    assert.match(refused.message, /--fault-seconds 3,8/)
    assert.match(refused.message, /Use --duration 9 or more, or a shorter --fault-seconds MAX or --gap-seconds, or fewer --faults$/)
    const empty = Array.from({length: 50}, (_, seed) => nemesisSchedule({nodeNames: ['n1', 'n2', 'n3'], durationMs: 5000, kinds: ['kill'], random: seededRandom(seed), ...defaults, quietStartMs: 500})).filter((schedule) => schedule.length === 0)
    assert.ok(empty.length > 0, 'what the refusal prevents: a run with no fault at all')
  })

  it('--duration 8 with kill,pause is refused, naming 20 s; 20 s passes, as does a run without faults', () => {
    const refused = checkRunLength({...defaults, durationMs: 8000, kinds: ['kill', 'pause']})
    assert.ok(!refused.ok)
    assert.match(refused.message, /\(kill, pause\)/)
    assert.match(refused.message, /Use --duration 20 or more/)
    assert.equal(checkRunLength({...defaults, durationMs: 20_000, kinds: ['kill', 'pause']}).ok, true)
    assert.equal(checkRunLength({...defaults, durationMs: 19_000, kinds: ['kill', 'pause']}).ok, false)
    assert.equal(checkRunLength({...defaults, durationMs: 5000, kinds: []}).ok, true)
  })

  it('faults too long for any --duration are refused with the ways that remain, not a duration above the most it takes', () => {
    const every = ['kill', 'pause', 'partition', 'isolate', 'one-way'] as const
    const refused = checkRunLength({faultMsMin: 1000, faultMsMax: 900_000, gapMs: 2000, durationMs: 3_600_000, kinds: every})
    assert.ok(!refused.ok)
    assert.match(refused.message, /No --duration holds them \(at most 3600 s, and these need \d+\): use a shorter --fault-seconds MAX or --gap-seconds, or fewer --faults$/)
    assert.doesNotMatch(refused.message, /Use --duration/)
  })

  it('the runs the docs and CI make pass: 60 s of every kind at the defaults, 30 s of every kind at 2,4 with 1 s gaps', () => {
    const every = ['kill', 'pause', 'partition', 'isolate', 'one-way'] as const
    assert.equal(checkRunLength({...defaults, durationMs: 60_000, kinds: every}).ok, true)
    assert.equal(checkRunLength({faultMsMin: 2000, faultMsMax: 4000, gapMs: 1000, durationMs: 30_000, kinds: every}).ok, true)
    assert.equal(checkRunLength({...defaults, durationMs: 30_000, kinds: ['kill', 'pause']}).ok, true)
  })
})

describe('every refusal of the flags at once', () => {
  const defaults = {faultMsMin: 3000, faultMsMax: 8000, gapMs: 2000}
  const every = ['kill', 'pause', 'partition', 'isolate', 'one-way'] as const

  it('a folder of dyn cluster up and --duration 30: refused for the link faults only, since 30 s holds kill and pause (it was "use --duration 51", then the faults)', () => {
    const refused = checkRunFlags(dir, folder(3, {}), {}, {...defaults, durationMs: 30_000, kinds: every})
    assert.ok(!refused.ok)
    assert.equal(refused.error, 'bad_parameter')
    assert.match(refused.message, /holds a cluster made by dyn cluster up, .*not partition, isolate, one-way\. Use --faults kill,pause, or leave out --dir/)
    assert.doesNotMatch(refused.message, /--duration/)
  })

  it('says the folder, the faults and the length together, the length for the faults that remain', () => {
    const refused = checkRunFlags(dir, folder(3, {}), {nodeCount: 5}, {...defaults, durationMs: 10_000, kinds: every})
    assert.ok(!refused.ok)
    assert.match(refused.message, /^\(1\) .*--nodes.*; \(2\) .*Use --faults kill,pause.*; \(3\) with --faults kill,pause, --duration 10 is too short .*\(kill, pause\).*Use --duration 20 or more/)
  })

  it('without a folder, the length alone; and a run that fits is planned as before', () => {
    const short = checkRunFlags(dir, undefined, {}, {...defaults, durationMs: 30_000, kinds: every})
    assert.ok(!short.ok)
    assert.match(short.message, /^--duration 30 is too short .*Use --duration 51 or more/)
    const fits = checkRunFlags(dir, folder(3, {}), {}, {...defaults, durationMs: 30_000, kinds: ['kill', 'pause']})
    assert.ok(fits.ok)
    assert.deepEqual(fits.plan, {nodeCount: 3, conflict: 'siblings'})
  })
})

/** A member's row as GET /cluster lists it, at its client port `port` (internode port + 1000). */
function row(name: string, status: string, port: number): {name: string; status: string; apiAddress: string; rpcAddress: string} {
  return {name, status, apiAddress: `127.0.0.1:${port}`, rpcAddress: `127.0.0.1:${port + 1000}`}
}

describe('the members a verify run on a folder judges', () => {
  // The walk that found it: dyn cluster up made n1..n3, n3 was removed, and n6, started by hand
  // with dyn start, joined. The folder still records n1..n3.
  const walked = [row('n1', 'valid', 7070), row('n2', 'valid', 7071), row('n3', 'left', 7072), row('n6', 'valid', 7170)]

  it('are the ring members as a serving member lists them: a removed node is out, one joined from outside is in, read where it runs, and not faulted', () => {
    const found = verifyMembers(folder(3, {}), new Set(['n1', 'n2']), walked)
    // Before the fix the run took n1, n2, n3 from the folder: a third of its clients aimed at
    // the removed n3, and n6's copies were never read (NOT CONVERGED).
    assert.deepEqual(found.members.map((member) => member.name), ['n1', 'n2', 'n6'])
    assert.deepEqual(found.left, ['n3'])
    const n6 = found.members.find((member) => member.name === 'n6')
    assert.deepEqual(n6, {name: 'n6', apiAddress: '127.0.0.1:7170', rpcAddress: '127.0.0.1:8170', controlled: false, notControlled: 'joined from outside this folder'})
    assert.deepEqual(found.members.filter((member) => member.controlled).map((member) => member.name), ['n1', 'n2'])
  })

  it("reads a folder's own node on the folder's ports (not the proxy address it advertises), and one started by hand where it is listed, unfaulted", () => {
    const proxied = [{...row('n1', 'valid', 7070), apiAddress: '127.0.0.2:7070', rpcAddress: '127.0.0.2:8070'}, row('n2', 'valid', 7171)]
    const found = verifyMembers(folder(2, {}), new Set(['n1']), proxied)
    assert.deepEqual(found.members[0], {name: 'n1', apiAddress: '127.0.0.1:7070', rpcAddress: '127.0.0.1:8070', controlled: true})
    assert.deepEqual(found.members[1], {name: 'n2', apiAddress: '127.0.0.1:7171', rpcAddress: '127.0.0.1:8171', controlled: false, notControlled: 'started outside this folder (by hand)'})
    assert.deepEqual(found.left, [])
  })

  it('kill and pause run on the folder\'s own members; link faults, which cannot cut an outside member\'s links, are refused with what to do', () => {
    const found = verifyMembers(folder(3, {}), new Set(['n1', 'n2']), walked)
    assert.equal(checkVerifyMembers(dir, found, ['kill', 'pause']).ok, true)
    assert.equal(checkVerifyMembers(dir, found, []).ok, true)
    const links = checkVerifyMembers(dir, found, ['kill', 'partition'])
    assert.ok(!links.ok)
    assert.equal(links.error, 'bad_parameter')
    assert.match(links.message, /has member\(s\) that this folder did not start \(n6 \(joined from outside this folder\)\).*--faults partition could not cut them; use --faults kill,pause/)
  })

  it('faults asked with fewer than two members of the folder\'s own are refused (a nemesis needs two); without faults the run goes ahead', () => {
    const found = verifyMembers(folder(3, {}), new Set(['n1']), [row('n1', 'valid', 7070), row('n2', 'left', 7071), row('n3', 'left', 7072), row('n6', 'valid', 7170)])
    assert.deepEqual(found.left, ['n2', 'n3'])
    const refused = checkVerifyMembers(dir, found, ['kill'])
    assert.ok(!refused.ok)
    assert.equal(refused.error, 'bad_parameter')
    assert.match(refused.message, /has only n1 among its members, fewer than the two a nemesis needs \(the others, n6 \(joined from outside this folder\), it loads and reads but leaves alone\): use --faults none/)
    assert.equal(checkVerifyMembers(dir, found, []).ok, true)
  })

  it('a node the folder recorded as left stays out even when no member lists it any more', () => {
    const cluster = folder(3, {})
    ;(cluster.nodes[2] as {left?: boolean}).left = true
    const found = verifyMembers(cluster, new Set(['n1', 'n2']), [row('n1', 'valid', 7070), row('n2', 'valid', 7071)])
    assert.deepEqual(found.members.map((member) => member.name), ['n1', 'n2'])
    assert.deepEqual(found.left, ['n3'])
  })
})
