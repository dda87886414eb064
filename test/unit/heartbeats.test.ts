/**
 * Tests of the heartbeats (src/membership/heartbeats.ts) between nodes on a network faked in a
 * few lines, with time moved by hand: a member that advertises an address the others cannot
 * reach is logged by the node that fails to reach it, which tells it so in its answers to its
 * pings, and the member logs it, each once; a member whose address another node answers is
 * logged and not counted as up; a member seen down only for a moment (a restart) is not reported,
 * nor one that has left the cluster and pings for its last rounds.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {FailureDetector, failureDetectorDefaults} from '../../src/membership/failure-detector.js'
import {Heartbeats, observedTransport, oneWayReportAfterMs} from '../../src/membership/heartbeats.js'
import type {WatchedPeer} from '../../src/membership/heartbeats.js'
import type {RpcResult, Transport} from '../../src/transport/transport.js'

interface FakeNode {
  readonly name: string
  /** The address it advertises. */
  readonly rpcAddress: string
  readonly lines: string[]
  heartbeats?: Heartbeats
  detector?: FailureDetector
}

/**
 * Nodes on a fake network: a Ping to an address reaches the node that listens there, unless
 * `blocked(from, address)`; an address where nobody listens (or a blocked one) refuses at once.
 */
function fakeCluster(members: Array<{name: string; rpcAddress: string; listensAt: string; clusterId?: () => string}>, blocked: (from: string, address: string) => boolean = () => false, isPeer: (node: string, other: string) => boolean = () => true) {
  let nowMs = 0
  const clock = {nowMs: () => nowMs, monotonicMs: () => nowMs}
  const nodes = members.map((member): FakeNode => ({name: member.name, rpcAddress: member.rpcAddress, lines: []}))
  const listening = new Map(members.map((member, i) => [member.listensAt, nodes[i] as FakeNode]))
  for (const [index, node] of nodes.entries()) {
    const clusterId = members[index]?.clusterId
    const raw: Transport = {
      address: node.rpcAddress,
      request: async (address, _type, body): Promise<RpcResult> => {
        const target = listening.get(address)
        if (target?.heartbeats === undefined || blocked(node.name, address)) return {ok: false, error: 'unreachable', message: `connect ECONNREFUSED ${address}`, sent: false}
        return {ok: true, body: target.heartbeats.handlePing(body)}
      },
      peerState: () => 'unknown',
      close: async () => undefined,
    }
    const detector = new FailureDetector(failureDetectorDefaults)
    const peers = (): WatchedPeer[] => nodes.filter((other) => other !== node && isPeer(node.name, other.name))
    node.detector = detector
    node.heartbeats = new Heartbeats(node.name, observedTransport(raw, detector, clock), detector, clock, peers, (name) => nodes.find((other) => other.name === name)?.rpcAddress, (line) => node.lines.push(line), clusterId)
  }
  const beats = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i += 1) {
      for (const node of nodes) await node.heartbeats?.round()
      // Let every ping's answer be read before time moves on.
      for (let turn = 0; turn < 10; turn += 1) await Promise.resolve()
      nowMs += failureDetectorDefaults.heartbeatIntervalMs
    }
  }
  return {nodes, beats}
}

describe('heartbeats', () => {
  it('a member advertising an address the others cannot reach is reported by them, and told so, once each', async () => {
    // b listens on 10.0.0.2 but advertises 10.0.0.9; a and c advertise what they listen on.
    const {nodes, beats} = fakeCluster([
      {name: 'a', rpcAddress: '10.0.0.1:8070', listensAt: '10.0.0.1:8070'},
      {name: 'b', rpcAddress: '10.0.0.9:8070', listensAt: '10.0.0.2:8070'},
      {name: 'c', rpcAddress: '10.0.0.3:8070', listensAt: '10.0.0.3:8070'},
    ])
    const [a, b, c] = nodes as [FakeNode, FakeNode, FakeNode]
    // Not before the report delay: a peer just restarted is down for a moment too.
    await beats(oneWayReportAfterMs / failureDetectorDefaults.heartbeatIntervalMs - 1)
    assert.deepEqual([a.lines, b.lines, c.lines], [[], [], []])
    await beats(60)
    for (const reporter of [a, c]) {
      assert.equal(reporter.lines.length, 1, reporter.lines.join('\n'))
      assert.match(reporter.lines[0] ?? '', /^b pings this node, but its advertised internode address 10\.0\.0\.9:8070 has not answered this node for 5 s: .*restart b with --advertise/)
    }
    assert.equal(b.lines.length, 2, b.lines.join('\n'))
    for (const told of ['a', 'c']) {
      assert.ok(
        b.lines.some((line) => line.startsWith(`${told} cannot reach this node at 10.0.0.9:8070, the internode address this node advertises, though this node reaches ${told}: `)),
        b.lines.join('\n'),
      )
    }
    assert.equal(a.detector?.reachability('10.0.0.3:8070', 30_000), 'up')
  })

  it('a member whose address a node of another cluster answers is down, whatever else answers there, until the member is back', async () => {
    const ours = 'aaaaaaaaaaaaaaaa'
    let atB = 'bbbbbbbbbbbbbbbb'
    // b's address is held by a node named b of another cluster (started anew without --seeds).
    const {nodes, beats} = fakeCluster([
      {name: 'a', rpcAddress: '10.0.0.1:8070', listensAt: '10.0.0.1:8070', clusterId: () => ours},
      {name: 'b', rpcAddress: '10.0.0.2:8070', listensAt: '10.0.0.2:8070', clusterId: () => atB},
    ])
    const a = nodes[0] as FakeNode
    await beats(3)
    const nowMs = 3 * failureDetectorDefaults.heartbeatIntervalMs
    assert.equal(a.detector?.reachability('10.0.0.2:8070', nowMs), 'down')
    // Another request answered there (a transfer page, say) proves nothing about the member.
    a.detector?.arrival('10.0.0.2:8070', nowMs)
    assert.equal(a.detector?.reachability('10.0.0.2:8070', nowMs), 'down')
    assert.equal(a.lines.length, 1, a.lines.join('\n'))
    assert.match(a.lines[0] ?? '', /^b at 10\.0\.0\.2:8070 answers as a node of cluster bbbbbbbbbbbbbbbb, not of this node's cluster aaaaaaaaaaaaaaaa: .*counts as down here.*dyn cluster remove b$/)
    // The member back at its address: up at the next ping, and said so.
    atB = ours
    await beats(2)
    assert.equal(a.detector?.reachability('10.0.0.2:8070', nowMs + 2 * failureDetectorDefaults.heartbeatIntervalMs), 'up')
    assert.match(a.lines[1] ?? '', /^b at 10\.0\.0\.2:8070 answers as a node of this cluster again$/)
  })

  it('a member seen down for a moment while it pings is not reported', async () => {
    let cut = true
    const {nodes, beats} = fakeCluster(
      [
        {name: 'a', rpcAddress: '10.0.0.1:8070', listensAt: '10.0.0.1:8070'},
        {name: 'b', rpcAddress: '10.0.0.2:8070', listensAt: '10.0.0.2:8070'},
      ],
      (from) => cut && from === 'a',
    )
    await beats(4)
    cut = false
    await beats(40)
    assert.deepEqual(nodes.map((node) => node.lines), [[], []])
  })

  it('a member that has left, and pings for its last rounds, is not reported', async () => {
    // b leaves: a no longer counts it as a peer (so no longer pings it), while b, which keeps
    // answering and gossiping for a few rounds before it exits, still pings a.
    let bLeft = false
    const {nodes, beats} = fakeCluster(
      [
        {name: 'a', rpcAddress: '10.0.0.1:8070', listensAt: '10.0.0.1:8070'},
        {name: 'b', rpcAddress: '10.0.0.2:8070', listensAt: '10.0.0.2:8070'},
      ],
      () => false,
      (node, other) => !(bLeft && node === 'a' && other === 'b'),
    )
    await beats(10)
    bLeft = true
    await beats(60)
    assert.deepEqual(
      nodes.map((node) => node.lines),
      [[], []],
    )
  })

  it('a member whose address another node answers is reported, and not counted up', async () => {
    // b was started with --host 127.0.0.1 on another machine: from a's machine that is a itself.
    const {nodes, beats} = fakeCluster([
      {name: 'a', rpcAddress: '127.0.0.1:8070', listensAt: '127.0.0.1:8070'},
      {name: 'b', rpcAddress: '127.0.0.1:8070', listensAt: '10.0.0.2:8070'},
    ])
    const [a] = nodes as [FakeNode, FakeNode]
    await beats(20)
    assert.equal(a.lines.length, 1, a.lines.join('\n'))
    assert.match(a.lines[0] ?? '', /^b advertises 127\.0\.0\.1:8070, but this node \(a\) answers there: .*--advertise/)
    assert.equal(a.detector?.reachability('127.0.0.1:8070', 10_000), 'down')
  })
})
