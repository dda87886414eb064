/**
 * Tests of bench:etcd's pure half (bench/etcd-compare-core.ts): its flags are checked with a
 * clear message each, the etcd members' command lines form one loopback cluster, the requests are
 * what etcd's JSON gateway and dyn's API take (base64 keys and values for etcd, checked by
 * decoding; a put to dyn carries the previous context), answers count as they should (a range
 * without "kvs" found nothing), the order alternates, and the dyn/etcd ratios are judged against
 * the issue's targets round by round.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {
  busyShare,
  compareStores,
  cpuTimesOf,
  processCpuMsOf,
  dynGetStep,
  dynOutcome,
  dynPutStep,
  etcdCompareDefaults,
  etcdCompareExitCodeOf,
  etcdIsLeader,
  etcdMemberArgs,
  etcdMembers,
  etcdMissingMessage,
  etcdPutBody,
  etcdPutOutcome,
  etcdPutStep,
  etcdRangeBody,
  etcdRangeFound,
  etcdRangeOutcome,
  etcdVersionOf,
  formatEtcdComparison,
  parseEtcdCompareOptions,
  roundOrder,
} from '../../bench/etcd-compare-core.js'
import type {EtcdCompareOptions, OperationFigures, RoundFigures} from '../../bench/etcd-compare-core.js'
import type {HttpReply} from '../../bench/operations.js'

function options(values: Parameters<typeof parseEtcdCompareOptions>[0] = {}): EtcdCompareOptions {
  const parsed = parseEtcdCompareOptions(values)
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.message)
  return parsed.value
}

function reply(status: number, body = ''): HttpReply {
  return {status, body, contextHeader: undefined}
}

function figures(opsPerS: number, p999Ms: number): OperationFigures {
  return {opsPerS, p50Ms: p999Ms / 10, p99Ms: p999Ms / 2, p999Ms, count: opsPerS * 10, failed: 0, cpuUsPerOp: 100_000 / opsPerS}
}

/** A round where dyn does `put`× and `get`× etcd's throughput, with the p99.9 ratios given. */
function round(n: number, ratios: {put: number; get: number; putTail: number; getTail: number}): RoundFigures {
  return {
    round: n,
    order: roundOrder(n - 1),
    etcd: {put: figures(1000, 40), get: figures(2000, 30)},
    dyn: {put: figures(1000 * ratios.put, 40 * ratios.putTail), get: figures(2000 * ratios.get, 30 * ratios.getTail)},
    etcdEndpointIsLeader: n % 2 === 0,
  }
}

describe('parseEtcdCompareOptions', () => {
  it('has the issue\'s setup as defaults: 50 connections, 100-byte values, 10,000 keys; 3 rounds of 10 s', () => {
    assert.deepEqual(options(), {rounds: 3, connections: 50, durationS: 10, warmupS: 2, records: 10_000, valueSize: 100, seed: 1, etcd: 'etcd', json: false})
    assert.equal(etcdCompareDefaults.connections, 50)
  })

  it('takes every flag', () => {
    assert.deepEqual(options({rounds: '1', connections: '8', duration: '3', warmup: '0', records: '500', 'value-size': '1000', seed: '9', etcd: '/opt/etcd/etcd', json: true}), {
      rounds: 1,
      connections: 8,
      durationS: 3,
      warmupS: 0,
      records: 500,
      valueSize: 1000,
      seed: 9,
      etcd: '/opt/etcd/etcd',
      json: true,
    })
  })

  it('refuses bad numbers and a binary that looks like a flag, naming the flag', () => {
    const cases: Array<[Parameters<typeof parseEtcdCompareOptions>[0], RegExp]> = [
      [{rounds: '0'}, /--rounds 0: a whole number from 1 to 20/],
      [{connections: '5000'}, /--connections 5000: a whole number from 1 to 1000/],
      [{duration: '1.5'}, /--duration 1\.5/],
      [{'value-size': '100000'}, /--value-size 100000: a whole number from 1 to 65536/],
      [{records: 'many'}, /--records many/],
      [{etcd: '--json'}, /--etcd "--json": the etcd binary/],
      [{etcd: ''}, /--etcd "": the etcd binary/],
    ]
    for (const [values, message] of cases) {
      const parsed = parseEtcdCompareOptions(values)
      assert.equal(parsed.ok, false, `${JSON.stringify(values)} was accepted`)
      assert.match((parsed as {message: string}).message, message)
    }
  })

  it('says how to install etcd when it is missing, and exits 3 for it', () => {
    assert.match(etcdMissingMessage('etcd', 'was not found'), /^no etcd to compare with: etcd was not found\. .*sudo apt-get install etcd-server.*--etcd \/path\/to\/etcd$/)
    assert.equal(etcdCompareExitCodeOf('etcd_missing'), 3)
    assert.equal(etcdCompareExitCodeOf('bad_parameter'), 2)
    assert.equal(etcdCompareExitCodeOf('cluster_failed'), 1)
    assert.equal(etcdCompareExitCodeOf('run_failed'), 1)
    assert.equal(etcdCompareExitCodeOf('interrupted'), 130)
  })

  it('reads etcd\'s version from etcd --version', () => {
    assert.equal(etcdVersionOf('etcd Version: 3.4.23\nGit SHA: Not provided\nGo Version: go1.19.8\n'), '3.4.23')
    assert.equal(etcdVersionOf('usage: something else'), undefined)
  })
})

describe('the etcd cluster', () => {
  it('gives each member its own client and peer port on loopback', () => {
    assert.deepEqual(etcdMembers(3, 20000), [
      {name: 'e1', clientPort: 20000, peerPort: 20003},
      {name: 'e2', clientPort: 20001, peerPort: 20004},
      {name: 'e3', clientPort: 20002, peerPort: 20005},
    ])
  })

  it('starts each member as part of one new cluster of all three, with the run\'s token', () => {
    const members = etcdMembers(3, 20000)
    const args = etcdMemberArgs(members[1]!, members, '/tmp/x/e2', 'token-1')
    const flag = (name: string): string | undefined => args[args.indexOf(name) + 1]
    assert.equal(flag('--name'), 'e2')
    assert.equal(flag('--data-dir'), '/tmp/x/e2')
    assert.equal(flag('--listen-client-urls'), 'http://127.0.0.1:20001')
    assert.equal(flag('--advertise-client-urls'), 'http://127.0.0.1:20001')
    assert.equal(flag('--listen-peer-urls'), 'http://127.0.0.1:20004')
    assert.equal(flag('--initial-advertise-peer-urls'), 'http://127.0.0.1:20004')
    assert.equal(flag('--initial-cluster'), 'e1=http://127.0.0.1:20003,e2=http://127.0.0.1:20004,e3=http://127.0.0.1:20005')
    assert.equal(flag('--initial-cluster-state'), 'new')
    assert.equal(flag('--initial-cluster-token'), 'token-1')
  })

  it('tells whether the member that answered a status leads the cluster', () => {
    const status = (member: string, leader: string): string => JSON.stringify({header: {cluster_id: '1', member_id: member, revision: '2'}, version: '3.4.23', leader})
    assert.equal(etcdIsLeader(status('137', '137')), true)
    assert.equal(etcdIsLeader(status('137', '42')), false)
    assert.equal(etcdIsLeader('{"error":"x"}'), undefined)
    assert.equal(etcdIsLeader('not json'), undefined)
  })
})

describe('the requests', () => {
  it('sends etcd a put as JSON with the key and value in base64', () => {
    const value = Buffer.from([0, 1, 2, 250, 255, 0x22, 0x5c])
    const body = JSON.parse(etcdPutBody('user0001', value).toString('utf8')) as {key: string; value: string}
    assert.equal(Buffer.from(body.key, 'base64').toString('utf8'), 'user0001')
    assert.deepEqual(Buffer.from(body.value, 'base64'), value)
    const step = etcdPutStep('user0001', value)
    assert.equal(step.method, 'POST')
    assert.equal(step.path, '/v3/kv/put')
    assert.equal(step.headers['content-type'], 'application/json')
  })

  it('sends etcd a range of one key, and finds the answer\'s value only when it has "kvs"', () => {
    assert.deepEqual(JSON.parse(etcdRangeBody('é/key').toString('utf8')), {key: Buffer.from('é/key').toString('base64')})
    // Answers as etcd 3.4.23's gateway gives them.
    const found = '{"header":{"cluster_id":"1","member_id":"2","revision":"2","raft_term":"2"},"kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1","value":"YmFy"}],"count":"1"}'
    const missing = '{"header":{"cluster_id":"1","member_id":"2","revision":"2","raft_term":"2"}}'
    assert.equal(etcdRangeFound(found), true)
    assert.equal(etcdRangeFound(missing), false)
    assert.equal(etcdRangeOutcome(reply(200, found)), 'ok')
    assert.equal(etcdRangeOutcome(reply(200, missing)), 'not_found')
    assert.equal(etcdRangeOutcome(reply(503, '{"error":"etcdserver: request timed out"}')), 'http_error')
    assert.equal(etcdPutOutcome(reply(200, '{"header":{}}')), 'ok')
    assert.equal(etcdPutOutcome(reply(400, '{"error":"x"}')), 'http_error')
  })

  it('sends dyn the raw value, with the previous context when there is one, and encodes the key', () => {
    const value = Buffer.from('v'.repeat(100))
    const first = dynPutStep('a b/c', value, undefined)
    assert.equal(first.method, 'PUT')
    assert.equal(first.path, '/kv/a%20b%2Fc')
    assert.equal(first.headers['x-dyn-context'], undefined)
    assert.equal(first.body, value)
    assert.equal(dynPutStep('k', value, 'CTX').headers['x-dyn-context'], 'CTX')
    assert.deepEqual(dynGetStep('k'), {method: 'GET', path: '/kv/k', headers: {}})
  })

  it('counts dyn\'s 204, 200 and 300 as answers, 404 as not found, and names the 503s', () => {
    assert.equal(dynOutcome(reply(204)), 'ok')
    assert.equal(dynOutcome(reply(200, 'value')), 'ok')
    assert.equal(dynOutcome(reply(300, '{"siblings":[]}')), 'ok')
    assert.equal(dynOutcome(reply(404)), 'not_found')
    assert.equal(dynOutcome(reply(503, '{"error":"quorum_unmet"}')), 'quorum_unmet')
    assert.equal(dynOutcome(reply(503, '{"error":"overloaded"}')), 'overloaded')
    assert.equal(dynOutcome(reply(500, '{"error":"internal"}')), 'http_error')
  })

  it('runs dyn first in odd rounds and etcd first in even ones', () => {
    assert.deepEqual([0, 1, 2, 3].map(roundOrder), [
      ['dyn', 'etcd'],
      ['etcd', 'dyn'],
      ['dyn', 'etcd'],
      ['etcd', 'dyn'],
    ])
  })
})

describe('compareStores', () => {
  it('computes dyn / etcd per round and their geometric mean, and finds the targets met when every round meets them', () => {
    const rounds = [round(1, {put: 2.5, get: 2.2, putTail: 0.5, getTail: 0.9}), round(2, {put: 2.1, get: 3, putTail: 0.8, getTail: 1})]
    const compared = compareStores(rounds)
    assert.ok(compared.ok)
    const put = compared.value.put
    assert.deepEqual(put.throughput.perRound, [2.5, 2.1])
    assert.ok(Math.abs(put.throughput.geometricMean - Math.sqrt(2.5 * 2.1)) < 1e-12)
    assert.equal(put.throughput.min, 2.1)
    assert.equal(put.throughput.metRounds, 2)
    assert.deepEqual(compared.value.get.p999.perRound, [0.9, 1])
    assert.equal(compared.value.get.p999.metRounds, 2, 'a p99.9 equal to etcd\'s is "no higher"')
    assert.equal(compared.value.targetsMet, true)
  })

  it('finds a target missed when one round misses it, and counts the rounds that met each', () => {
    const compared = compareStores([round(1, {put: 2.5, get: 2.2, putTail: 0.5, getTail: 0.9}), round(2, {put: 1.9, get: 3, putTail: 1.2, getTail: 1})])
    assert.ok(compared.ok)
    assert.equal(compared.value.put.throughput.metRounds, 1)
    assert.equal(compared.value.put.p999.metRounds, 1)
    assert.equal(compared.value.get.throughput.metRounds, 2)
    assert.equal(compared.value.targetsMet, false)
  })

  it('gives dyn / etcd of the CPU per operation when every round measured it, and leaves it out otherwise', () => {
    const rounds = [round(1, {put: 2, get: 4, putTail: 1, getTail: 1}), round(2, {put: 1, get: 2, putTail: 1, getTail: 1})]
    const compared = compareStores(rounds)
    assert.ok(compared.ok)
    assert.deepEqual(compared.value.get.cpuPerOp?.perRound, [0.25, 0.5])
    const unread = {...rounds[1]!, dyn: {...rounds[1]!.dyn, get: {...rounds[1]!.dyn.get, cpuUsPerOp: null}}}
    const partial = compareStores([rounds[0]!, unread])
    assert.ok(partial.ok)
    assert.equal(partial.value.get.cpuPerOp, null)
    assert.doesNotMatch(formatEtcdComparison(options({rounds: '2'}), '3.4.23', [rounds[0]!, unread], partial.value), /\| get \| CPU per operation/)
  })

  it('refuses rounds in which a store measured nothing', () => {
    const broken = round(1, {put: 2, get: 2, putTail: 1, getTail: 1})
    const compared = compareStores([{...broken, etcd: {...broken.etcd, get: figures(0, 30)}}])
    assert.equal(compared.ok, false)
    assert.match((compared as {message: string}).message, /round 1: etcd gets measured 0 ops\/s/)
    assert.equal(compareStores([]).ok, false)
  })

  it('prints the setup, a row per store and operation per round, and the ratios against the targets', () => {
    const rounds = [round(1, {put: 2.5, get: 2.2, putTail: 0.5, getTail: 0.9}), round(2, {put: 1.9, get: 3, putTail: 1.2, getTail: 1})]
    const compared = compareStores(rounds)
    assert.ok(compared.ok)
    const text = formatEtcdComparison(options({rounds: '2'}), '3.4.23', rounds, compared.value)
    assert.match(text, /^Closed loop \(autocannon\), 50 connections to one endpoint, 100-byte values, 10,000 keys/m)
    assert.match(text, /^etcd 3\.4\.23: 3 members on loopback/m)
    assert.match(text, /^\| 1 \| dyn \| put \| 2500 \| 2\.00 \| 10\.00 \| 20\.00 \| 40 \| 0 \|$/m)
    assert.match(text, /^\| 1 \| etcd \(endpoint: a follower\) \| get \| 2000 \| 3\.00 \| 15\.00 \| 30\.00 \| 50 \| 0 \|$/m)
    assert.match(text, /^\| 2 \| etcd \(endpoint: the leader\) \| put \|/m)
    assert.match(text, /^\| put \| throughput \| 2\.50, 1\.90 \| 2\.18 \| ≥ 2 \| 1 of 2 \|$/m)
    assert.match(text, /^\| get \| p99\.9 \| 0\.90, 1\.00 \| 0\.95 \| ≤ 1 \| 2 of 2 \|$/m)
    assert.match(text, /^\| put \| CPU per operation \| 0\.40, 0\.53 \| 0\.46 \| - \| - \|$/m)
    assert.match(text, /^Issue 18's first target \(every ratio on target in every round\): not met\.$/m)
    // Round 2 ran etcd first: its rows come first.
    assert.ok(text.indexOf('| 2 | etcd') < text.indexOf('| 2 | dyn'))
  })
})

describe('the CPU time of a store\'s process', () => {
  it('reads user + system ticks from /proc/PID/stat, counting fields after the command name, which may hold spaces and parentheses', () => {
    const fields = ['S', '1', '2', '3', '0', '-1', '4194560', '10', '0', '0', '0', '250', '75', '0', '0', '20', '0', '11', '0', '99']
    assert.equal(processCpuMsOf(`4242 (node) ${fields.join(' ')}\n`), 3250)
    assert.equal(processCpuMsOf(`4242 (a (b) c) ${fields.join(' ')}`), 3250)
    assert.equal(processCpuMsOf(''), undefined)
    assert.equal(processCpuMsOf('4242 (node) S 1 2'), undefined)
  })
})

describe('letting the machine settle between stores', () => {
  it('reads the busy and total ticks of /proc/stat, idle and iowait counting as idle', () => {
    const stat = 'cpu  100 5 50 800 20 3 2 0 0 0\ncpu0 50 2 25 400 10 1 1 0 0 0\nintr 1 2 3\n'
    assert.deepEqual(cpuTimesOf(stat), {busy: 160, total: 980})
    assert.equal(cpuTimesOf('intr 1 2\n'), undefined)
    assert.equal(cpuTimesOf('cpu  a b c d e\n'), undefined)
  })

  it('gives the busy share between two readings, 0 when no time passed', () => {
    assert.equal(busyShare({busy: 160, total: 980}, {busy: 210, total: 1180}), 0.25)
    assert.equal(busyShare({busy: 160, total: 980}, {busy: 160, total: 980}), 0)
  })
})
