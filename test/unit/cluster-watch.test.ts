/**
 * Tests of the polling half of `dyn top` with an injected fetch (no sockets): rates from
 * differenced counters, events derived from successive views, fail-over when the watched node
 * stops answering, a node that stops answering its /stats mid-session, members that left the
 * cluster (in the snapshot, the --json form and the text), and the detail panel's "its own view"
 * of the others.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {ClusterWatch} from '../../src/cli/cluster-watch.js'
import type {FetchJson} from '../../src/cli/cluster-watch.js'
import {topText} from '../../src/cli/top-screen.js'
import type {ClusterSnapshot} from '../../src/ui/cluster-snapshot.js'

interface FakeNode {
  name: string
  address: string
  answering: boolean
  gets: number
  uptimeMs: number
  /** Requests its admission control shed; absent: a node that does not serve the figure. */
  shed?: number
  /** How this node sees the others' reachability. */
  sees: Record<string, boolean>
  /** The gossiped membership status; `left` once it left or was removed, and then it owns nothing. */
  status: 'valid' | 'leaving' | 'left'
  /** Of a member that left: whether it has handed off everything (until then it still runs, releasing what it held). */
  handedOff?: boolean
  /** Why its store takes no writes, when it does not (/stats' writesStopped). */
  writesStopped?: string
  /** While it serves out its stop delay: ms left (/stats' stoppingInMs). */
  stoppingInMs?: number
}

function fakeCluster(names: string[]): {nodes: FakeNode[]; fetch: FetchJson; requests: string[]} {
  const nodes: FakeNode[] = names.map((name, i) => ({name, address: `127.0.0.1:${7070 + i}`, answering: true, gets: 0, uptimeMs: 10_000, sees: Object.fromEntries(names.map((n) => [n, true])), status: 'valid'}))
  const requests: string[] = []
  const fetch: FetchJson = async (address, path) => {
    requests.push(`${address}${path}`)
    const node = nodes.find((n) => n.address === address)
    if (node === undefined || !node.answering) return {ok: false, message: 'ECONNREFUSED'}
    if (path === '/cluster') {
      // As a node serves it: the gossiped status beside its own reachability of each member;
      // the ring's partitions dealt in turn to the members that have not left.
      const owning = nodes.filter((n) => n.status !== 'left')
      const owners = Array.from({length: 16}, (_, p) => owning[p % owning.length]?.name)
      return {
        ok: true,
        body: {
          node: node.name,
          ringHash: owning.map((n) => n.name).join(''),
          settings: {defaultN: 3, defaultR: 2, defaultW: 2},
          members: nodes.map((n) => ({name: n.name, apiAddress: n.address, status: n.status, ...(n.status === 'left' ? {handedOff: n.handedOff ?? true} : {}), reachability: node.sees[n.name] ? 'up' : 'down', up: node.sees[n.name], partitions: owners.filter((owner) => owner === n.name).length})),
          owners,
        },
      }
    }
    return {
      ok: true,
      body: {
        node: node.name,
        uptimeMs: node.uptimeMs,
        keys: 10,
        storeBytes: 4096,
        requests: {get: {count: node.gets, latencyMs: {p99: 9, p999: 20}, recent: {count: 5, latencyMs: {p99: 1.5, p999: 2.5}}}},
        eventLoopDelayRecentMs: {p99: 1.2},
        ...(node.shed === undefined ? {} : {admission: {state: node.shed > 0 ? 'shedding' : 'normal', shed: node.shed, admitted: node.gets}}),
        ...(node.writesStopped === undefined ? {} : {writesStopped: node.writesStopped}),
        ...(node.stoppingInMs === undefined ? {} : {stoppingInMs: node.stoppingInMs}),
      },
    }
  }
  return {nodes, fetch, requests}
}

describe('ClusterWatch', () => {
  it('says once, as an error, that a node takes no writes: at the first poll that sees it, again only after a restart', async () => {
    // A walk's node with a full disk showed as up and answering in top; only /stats said why.
    const {nodes, fetch} = fakeCluster(['n1', 'n2', 'n3'])
    const n2 = nodes[1]!
    n2.writesStopped = 'IO error: No space left on device'
    const watch = new ClusterWatch(['127.0.0.1:7070'], fetch, () => 1000)
    const said = (snapshot: ClusterSnapshot): string[] => snapshot.events.filter((event) => event.severity === 'error' && /takes no writes/.test(event.text)).map((event) => event.text)
    const first = await watch.poll()
    assert.deepEqual(said(first), ['n2 takes no writes: its store failed to write (IO error: No space left on device); free space on its disk (or replace it), then restart it'])
    assert.equal(first.nodes.find((row) => row.name === 'n2')?.figures.writesStopped, 'IO error: No space left on device')
    assert.equal(said(await watch.poll()).length, 1, 'said once, not at every refresh')
    // Restarted, and its disk fills again: said again.
    n2.uptimeMs = 10
    assert.equal(said(await watch.poll()).length, 2)
  })

  it('shows, in its text, a node whose store takes no writes as rdonly and one serving its stop delay as exiting', async () => {
    const {nodes, fetch} = fakeCluster(['n1', 'n2', 'n3'])
    nodes[1]!.writesStopped = 'IO error: No space left on device'
    nodes[2]!.stoppingInMs = 9000
    const snapshot = await new ClusterWatch(['127.0.0.1:7070'], fetch, () => 1000).poll()
    assert.equal(snapshot.nodes.find((row) => row.name === 'n3')?.figures.stoppingInMs, 9000)
    const text = topText(snapshot, 80, 40)
    assert.match(text, /n2\s+127\.0\.0\.1:7071\s+rdonly\s/)
    assert.match(text, /n3\s+127\.0\.0\.1:7072\s+exiting\s/)
    assert.match(text, /n1\s+127\.0\.0\.1:7070\s+up\s/)
  })

  it('gives rates from two samples and recent percentiles, and no rate from one', async () => {
    const {nodes, fetch} = fakeCluster(['n1', 'n2', 'n3'])
    const watch = new ClusterWatch(['127.0.0.1:7070'], fetch, () => 1000)
    const first = await watch.poll()
    assert.equal(first.nodes.length, 3)
    assert.equal(first.nodes[0]?.figures.getsPerS, undefined)
    for (const node of nodes) {
      node.gets += 50
      node.uptimeMs += 2000
    }
    const second = await watch.poll()
    assert.equal(second.nodes[0]?.figures.getsPerS, 25)
    assert.deepEqual(second.nodes[0]?.figures.getLatencyMs, {p99: 1.5, p999: 2.5})
    assert.equal(second.nodes[0]?.figures.keys, 10)
    assert.equal(second.nodes[0]?.figures.eventLoopDelayP99Ms, 1.2)
    assert.equal(second.nodes[0]?.figures.hintsPending, undefined)
    assert.deepEqual(second.nodes[0]?.history.requestsPerS.slice(-1), [25])
  })

  it('gives the shed rate and admission state of a node that serves them, and neither for one that does not', async () => {
    const {nodes, fetch} = fakeCluster(['n1', 'n2'])
    ;(nodes[0] as FakeNode).shed = 100
    const watch = new ClusterWatch(['127.0.0.1:7070'], fetch, () => 1000)
    await watch.poll()
    for (const node of nodes) node.uptimeMs += 2000
    ;(nodes[0] as FakeNode).shed = 700
    const second = await watch.poll()
    assert.equal(second.nodes[0]?.figures.shedPerS, 300)
    assert.equal(second.nodes[0]?.figures.admissionState, 'shedding')
    assert.equal(second.nodes[1]?.figures.shedPerS, undefined)
    assert.equal(second.nodes[1]?.figures.admissionState, undefined)
  })

  it('marks a node down when the watched node sees it so, and says so in the events', async () => {
    const {nodes, fetch} = fakeCluster(['n1', 'n2', 'n3'])
    const watch = new ClusterWatch(['127.0.0.1:7070'], fetch)
    await watch.poll()
    ;(nodes[0] as FakeNode).sees.n3 = false
    ;(nodes[2] as FakeNode).answering = false
    const snapshot = await watch.poll()
    assert.equal(snapshot.nodes[2]?.status, 'down')
    assert.equal(snapshot.nodes[2]?.answering, false)
    assert.ok(snapshot.events.some((e) => e.text === 'n3 became unreachable'))
    assert.ok(snapshot.events.some((e) => e.text === 'n3 stopped answering /stats'))
    ;(nodes[0] as FakeNode).sees.n3 = true
    ;(nodes[2] as FakeNode).answering = true
    const back = await watch.poll()
    assert.ok(back.events.some((e) => e.text === 'n3 is reachable again'))
  })

  /** What `dyn cluster leave` or `remove` leaves behind: the member listed as left, stopped, and seen down. */
  const leave = (nodes: FakeNode[], name: string): void => {
    for (const node of nodes) {
      if (node.name === name) {
        node.status = 'left'
        node.answering = false
      }
      node.sees[name] = false
    }
  }

  /** n3 left and n2 was removed from a cluster of four, before top started; two polls, as top without a terminal takes. */
  const afterTwoLeft = async (): Promise<ClusterSnapshot> => {
    const {nodes, fetch} = fakeCluster(['n1', 'n2', 'n3', 'n4'])
    leave(nodes, 'n3')
    leave(nodes, 'n2')
    const watch = new ClusterWatch(['127.0.0.1:7070'], fetch, () => Date.UTC(2026, 11, 1, 9, 30, 0))
    await watch.poll()
    return watch.poll()
  }

  it('--json: members that left are left (not down), with no partitions, and are not counted nor an alarm in the events', async () => {
    // --json prints the snapshot as it is, after "ok": what a script reads.
    const json = JSON.parse(JSON.stringify({ok: true, ...(await afterTwoLeft())})) as {nodes: Array<{name: string; status: string; partitions: number}>; events: Array<{text: string; severity: string}>}
    assert.deepEqual(json.nodes.map((row) => `${row.name} ${row.status} ${row.partitions}`), ['n1 up 8', 'n2 left 0', 'n3 left 0', 'n4 up 8'])
    assert.deepEqual(json.events.map((e) => `${e.severity} ${e.text}`), ['info watching 2 node(s) through 127.0.0.1:7070 (n1)'])
  })

  it('a member out of the ring that still hands off is leaving, and asked, until it says it handed off everything', async () => {
    // A walk saw a leaver called "left" while it still had 40 partitions to release.
    const {nodes, fetch, requests} = fakeCluster(['n1', 'n2', 'n3', 'n4'])
    const leaver = nodes[3]
    assert.ok(leaver !== undefined)
    leaver.status = 'left'
    leaver.handedOff = false
    const watch = new ClusterWatch(['127.0.0.1:7070'], fetch, () => Date.UTC(2026, 11, 1, 9, 30, 0))
    await watch.poll()
    const during = await watch.poll()
    assert.equal(during.nodes.find((row) => row.name === 'n4')?.status, 'leaving')
    assert.equal(requests.filter((r) => r === '127.0.0.1:7073/stats').length, 2, 'still running: asked each refresh')
    // Killed before it was done: down, not leaving (a walk's top said leaving of a dead node).
    for (const node of nodes) node.sees.n4 = false
    leaver.answering = false
    assert.equal((await watch.poll()).nodes.find((row) => row.name === 'n4')?.status, 'down')
    leaver.answering = true
    for (const node of nodes) node.sees.n4 = true
    leave(nodes, 'n4')
    leaver.handedOff = true
    const after = await watch.poll()
    assert.equal(after.nodes.find((row) => row.name === 'n4')?.status, 'left')
    assert.ok(after.events.some((event) => event.text === 'n4 left the cluster'), after.events.map((event) => event.text).join('; '))
  })

  it('asks a member that left for nothing: no /stats each refresh, and it is no address to fail over to', async () => {
    const {nodes, fetch, requests} = fakeCluster(['n1', 'n2', 'n3', 'n4'])
    leave(nodes, 'n3')
    const watch = new ClusterWatch(['127.0.0.1:7070'], fetch, () => Date.UTC(2026, 11, 1, 9, 30, 0))
    await watch.poll()
    await watch.poll()
    assert.deepEqual(requests.filter((r) => r.startsWith('127.0.0.1:7072')), [], 'n3 left: not asked')
    assert.equal(requests.filter((r) => r.startsWith('127.0.0.1:7073/stats')).length, 2, 'n4 is asked each refresh')
    // The detail panel on it says it left, without asking it.
    watch.focus = 'n3'
    assert.equal((await watch.poll()).focus?.error, 'it left the cluster')
    assert.deepEqual(requests.filter((r) => r.startsWith('127.0.0.1:7072')), [])
  })

  it('forgets the address of a member that left, once seen live: the watched node gone, it fails over to a member', async () => {
    const {nodes, fetch, requests} = fakeCluster(['n1', 'n2', 'n3'])
    const watch = new ClusterWatch(['127.0.0.1:7070'], fetch, () => Date.UTC(2026, 11, 1, 9, 30, 0))
    await watch.poll()
    leave(nodes, 'n2')
    await watch.poll()
    const n1 = nodes[0] as FakeNode
    n1.answering = false
    requests.length = 0
    const after = await watch.poll()
    assert.equal(watch.watchedAddress, '127.0.0.1:7072', 'failed over to n3, the member that is left')
    assert.ok(after.events.some((e) => e.text.includes('127.0.0.1:7072')))
    assert.deepEqual(requests.filter((r) => r.startsWith('127.0.0.1:7071')), [], 'n2, which left, is not tried')
  })

  it('text: members that left are marked left, not counted in the header, and not in the ring legend', async () => {
    const text = topText(await afterTwoLeft(), 80, 40)
    assert.match(text, /via 127\.0\.0\.1:7070 \(n1\)\s+2 nodes\s+N3 R2 W2/)
    assert.match(text, /^ {2}2 left the cluster: n2 n3\s*$/m)
    assert.doesNotMatch(text, /\sdown\s/)
    // The legend names the owners now; the strip is theirs alone, marked by their places among
    // the members now (it once read 1 and 4, counting the two that left).
    assert.match(text, /^ring 16 partitions: {2}1 n1 8 {2}2 n4 8$/m)
    assert.match(text, /^(12){8}$/m)
  })

  it('a member leaving while watched: it left the cluster, as news, and its stopping is no alarm', async () => {
    const {nodes, fetch} = fakeCluster(['n1', 'n2', 'n3', 'n4'])
    const watch = new ClusterWatch(['127.0.0.1:7070'], fetch)
    await watch.poll()
    ;(nodes[2] as FakeNode).status = 'leaving'
    await watch.poll()
    leave(nodes, 'n3')
    const snapshot = await watch.poll()
    assert.equal(snapshot.nodes[2]?.status, 'left')
    assert.equal(snapshot.nodes[2]?.answering, false)
    assert.deepEqual(snapshot.events.map((e) => `${e.severity} ${e.text}`), [
      'info watching 4 node(s) through 127.0.0.1:7070 (n1)',
      'warn n3 is leaving',
      'info n3 left the cluster',
      'warn ring changed: n1 4→6, n2 4→5, n3 4→0, n4 4→5',
    ])
  })

  it('fails over to another member when the watched node stops answering, and says so', async () => {
    const {nodes, fetch} = fakeCluster(['n1', 'n2', 'n3'])
    const watch = new ClusterWatch(['127.0.0.1:7070'], fetch)
    await watch.poll()
    ;(nodes[0] as FakeNode).answering = false
    ;(nodes[1] as FakeNode).sees.n1 = false
    const snapshot = await watch.poll()
    assert.equal(snapshot.source, '127.0.0.1:7071')
    assert.deepEqual(snapshot.failover, {from: '127.0.0.1:7070', to: '127.0.0.1:7071'})
    assert.equal(snapshot.stale, false)
    assert.equal(snapshot.nodes[0]?.status, 'down')
    assert.ok(snapshot.events.some((e) => e.severity === 'warn' && /127.0.0.1:7070 stopped answering; now watching through 127.0.0.1:7071/.test(e.text)))
    assert.equal(watch.watchedAddress, '127.0.0.1:7071')
  })

  it('drops the fail-over notice once the node it failed over from answers again, and says it is back', async () => {
    const {nodes, fetch} = fakeCluster(['n1', 'n2', 'n3'])
    const watch = new ClusterWatch(['127.0.0.1:7070'], fetch, () => Date.UTC(2026, 11, 1, 9, 30, 0))
    await watch.poll()
    const n1 = nodes[0] as FakeNode
    n1.answering = false
    assert.ok((await watch.poll()).failover)
    assert.ok((await watch.poll()).failover, 'still down: the notice stays')
    n1.answering = true
    n1.uptimeMs = 1000
    const back = await watch.poll()
    assert.equal(back.failover, undefined)
    assert.ok(back.events.some((e) => e.severity === 'info' && e.text === '127.0.0.1:7070 answers again; still watching through 127.0.0.1:7071'), JSON.stringify(back.events))
    assert.doesNotMatch(topText(back, 80, 40), /stopped answering: now watching/)
    assert.equal((await watch.poll()).failover, undefined, 'and it does not come back')
  })

  it('asks an address it failed over from that is no member\'s whether it answers again', async () => {
    const {nodes, fetch} = fakeCluster(['n1', 'n2'])
    // The user gave n1 by another name than the one it advertises.
    const aliased: FetchJson = (address, path) => fetch(address === 'localhost:7070' ? '127.0.0.1:7070' : address, path)
    const watch = new ClusterWatch(['localhost:7070'], aliased)
    await watch.poll()
    ;(nodes[0] as FakeNode).answering = false
    assert.deepEqual((await watch.poll()).failover, {from: 'localhost:7070', to: '127.0.0.1:7071'})
    ;(nodes[0] as FakeNode).answering = true
    assert.equal((await watch.poll()).failover, undefined)
  })

  it('rows in the order people read names: n2 before n10, whatever order the node lists them in', async () => {
    // A node lists members by code unit, as the claim orders them.
    const names = ['n1', 'n10', 'n11', 'n12', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9']
    const {fetch} = fakeCluster(names)
    const snapshot = await new ClusterWatch(['127.0.0.1:7070'], fetch).poll()
    assert.deepEqual(snapshot.nodes.map((row) => row.name), ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9', 'n10', 'n11', 'n12'])
  })

  it('keeps the last state, marked stale, when no node answers', async () => {
    const {nodes, fetch} = fakeCluster(['n1', 'n2'])
    const watch = new ClusterWatch(['127.0.0.1:7070'], fetch)
    await watch.poll()
    for (const node of nodes) node.answering = false
    const snapshot = await watch.poll()
    assert.equal(snapshot.stale, true)
    assert.equal(snapshot.nodes.length, 2)
    assert.ok(snapshot.nodes.every((row) => !row.answering))
    assert.ok(snapshot.events.some((e) => e.severity === 'error'))
  })

  it('asks the focused node for its own view, and only then', async () => {
    const {nodes, fetch, requests} = fakeCluster(['n1', 'n2', 'n3'])
    ;(nodes[1] as FakeNode).sees.n3 = false
    const watch = new ClusterWatch(['127.0.0.1:7070'], fetch)
    await watch.poll()
    assert.deepEqual(requests.filter((r) => r.endsWith('/cluster')), ['127.0.0.1:7070/cluster'])
    watch.focus = 'n2'
    const snapshot = await watch.poll()
    assert.deepEqual(snapshot.focus?.peers?.map((p) => `${p.name} ${p.status}`), ['n1 up', 'n2 up', 'n3 down'])
    assert.equal(snapshot.nodes[2]?.status, 'up')
  })

  it('costs the watched node one /cluster and one /stats per refresh', async () => {
    const {fetch, requests} = fakeCluster(['n1', 'n2', 'n3'])
    const watch = new ClusterWatch(['127.0.0.1:7070'], fetch)
    await watch.poll()
    await watch.poll()
    assert.deepEqual(requests.filter((r) => r.startsWith('127.0.0.1:7070')).sort(), ['127.0.0.1:7070/cluster', '127.0.0.1:7070/cluster', '127.0.0.1:7070/stats', '127.0.0.1:7070/stats'])
  })
})
