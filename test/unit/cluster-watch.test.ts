/**
 * Tests of the polling half of `dyn top` with an injected fetch (no sockets): rates from
 * differenced counters, events derived from successive views, fail-over when the watched node
 * stops answering, a node that stops answering its /stats mid-session, and the detail panel's
 * "its own view" of the others.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {ClusterWatch} from '../../src/cli/cluster-watch.js'
import type {FetchJson} from '../../src/cli/cluster-watch.js'

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
}

function fakeCluster(names: string[]): {nodes: FakeNode[]; fetch: FetchJson; requests: string[]} {
  const nodes: FakeNode[] = names.map((name, i) => ({name, address: `127.0.0.1:${7070 + i}`, answering: true, gets: 0, uptimeMs: 10_000, sees: Object.fromEntries(names.map((n) => [n, true]))}))
  const requests: string[] = []
  const fetch: FetchJson = async (address, path) => {
    requests.push(`${address}${path}`)
    const node = nodes.find((n) => n.address === address)
    if (node === undefined || !node.answering) return {ok: false, message: 'ECONNREFUSED'}
    if (path === '/cluster') {
      return {
        ok: true,
        body: {
          node: node.name,
          ringHash: 'abc',
          settings: {defaultN: 3, defaultR: 2, defaultW: 2},
          members: nodes.map((n) => ({name: n.name, apiAddress: n.address, status: 'valid', up: node.sees[n.name], partitions: 4})),
          owners: Array.from({length: 4 * nodes.length}, (_, p) => nodes[p % nodes.length]?.name),
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
      },
    }
  }
  return {nodes, fetch, requests}
}

describe('ClusterWatch', () => {
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
