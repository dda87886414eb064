/**
 * GET /metrics' text (src/api/metrics.ts): Prometheus' exposition format, version 0.0.4, checked
 * line by line against the format's grammar, and the figures of /stats and /health it carries.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {metricsText} from '../../src/api/metrics.js'

/** /stats and /health as a node answers them while it sheds and its store refuses writes. */
const stats = {
  node: 'n1',
  uptimeMs: 12_500,
  bufferedObjects: 0,
  keys: 42,
  storeBytes: 9000,
  diskFreeBytes: 1_000_000,
  diskBytes: 8_000_000,
  writesStopped: 'ENOSPC: no space left on device',
  requests: {
    put: {count: 5, outcomes: {ok: 4, quorum_unmet: 1}, latencyBuckets: {boundsMs: [1, 2, 4], counts: [1, 2, 0, 2], sumMs: 21.5}},
    get: {count: 3, outcomes: {ok: 3}, latencyBuckets: {boundsMs: [1, 2, 4], counts: [3, 0, 0, 0], sumMs: 1.5}},
  },
  readRepairs: 2,
  forwardedPuts: 1,
  hints: {written: 7, delivered: 6, redirected: 0, dropped: 0, refused: 1, pending: 1},
  release: {handedOff: 3, deleted: 3, refused: 0, pendingPartitions: 0},
  antiEntropy: {rounds: 4, exchanges: 8, exchangesFailed: 1, keysRepaired: 2, treesOutOfSync: 1, tombstones: 0, tombstonesReaped: 0, recovering: false},
  eventLoopDelayRecentMs: {windowMs: 2000, p99: 1.5, max: 4},
  httpRequests: {kv: 8, stats: 1, health: 2},
  rejected: {http: {total: 3, reasons: {malformed_http: 2, 'a "name"\\with\nbreak': 1}}, frames: {total: 0, reasons: {}}},
  admission: {state: 'shedding', limit: 12, inFlight: 12, admitted: 100, shed: 30},
}
const health = {ok: true, ready: false, node: 'n1', members: 3, down: ['n3'], clusterId: 'c0ffee'}

const metricName = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const labelValue = '"(?:[^"\\\\\\n]|\\\\["\\\\n])*"'
const sampleLine = new RegExp(`^(${metricName})(\\{[a-zA-Z_][a-zA-Z0-9_]*=${labelValue}(?:,[a-zA-Z_][a-zA-Z0-9_]*=${labelValue})*\\})? (-?[0-9.e+-]+|[+-]Inf|NaN)$`)

/** The text's families, after checking each line's syntax and that each family is declared once, before its samples. */
function parse(text: string): Map<string, {type: string; samples: Map<string, number>}> {
  assert.ok(text.endsWith('\n'), 'the text ends with a line break')
  const families = new Map<string, {type: string; samples: Map<string, number>}>()
  let current: string | undefined
  for (const line of text.slice(0, -1).split('\n')) {
    const help = /^# HELP (\S+) .+$/.exec(line)
    if (help !== null) {
      assert.ok(!families.has(help[1] as string), `${help[1]} is declared once`)
      current = help[1]
      continue
    }
    const type = /^# TYPE (\S+) (counter|gauge|histogram)$/.exec(line)
    if (type !== null) {
      assert.equal(type[1], current, 'TYPE follows its HELP')
      families.set(current as string, {type: type[2] as string, samples: new Map()})
      continue
    }
    const sample = sampleLine.exec(line)
    assert.ok(sample !== null, `a well-formed sample: ${JSON.stringify(line)}`)
    const name = sample[1] as string
    const family = families.get(current as string)
    assert.ok(family !== undefined && (name === current || (family.type === 'histogram' && /^(.*)_(bucket|sum|count)$/.exec(name)?.[1] === current)), `${name} belongs to the family declared before it, ${current}`)
    const key = `${name}${sample[2] ?? ''}`
    assert.ok(!family.samples.has(key), `${key} appears once`)
    family.samples.set(key, Number(sample[3] === '+Inf' ? Infinity : sample[3]))
  }
  return families
}

describe('GET /metrics: Prometheus text format', () => {
  it('is well-formed, each family declared once, counters named _total', () => {
    const families = parse(metricsText(stats, health))
    for (const [name, family] of families) {
      assert.ok(name.startsWith('dyn_'), name)
      if (family.type === 'counter') assert.ok(name.endsWith('_total'), `the counter ${name} ends in _total`)
      else assert.ok(!name.endsWith('_total'), `the ${family.type} ${name} does not end in _total`)
    }
  })

  it('carries /stats and /health: counters, gauges, and the states as 0 or 1', () => {
    const families = parse(metricsText(stats, health))
    const value = (family: string, sample: string): number | undefined => families.get(family)?.samples.get(sample)
    assert.equal(value('dyn_requests_total', 'dyn_requests_total{operation="put",outcome="quorum_unmet"}'), 1)
    assert.equal(value('dyn_requests_total', 'dyn_requests_total{operation="get",outcome="ok"}'), 3)
    assert.equal(value('dyn_hints_total', 'dyn_hints_total{event="delivered"}'), 6)
    assert.equal(value('dyn_hints_pending', 'dyn_hints_pending'), 1)
    assert.equal(value('dyn_release_total', 'dyn_release_total{event="handed_off"}'), 3)
    assert.equal(value('dyn_keys', 'dyn_keys'), 42)
    assert.equal(value('dyn_disk_free_bytes', 'dyn_disk_free_bytes'), 1_000_000)
    assert.equal(value('dyn_disk_size_bytes', 'dyn_disk_size_bytes'), 8_000_000)
    assert.equal(value('dyn_uptime_seconds', 'dyn_uptime_seconds'), 12.5)
    assert.equal(value('dyn_event_loop_delay_recent_p99_seconds', 'dyn_event_loop_delay_recent_p99_seconds'), 0.0015)
    assert.equal(value('dyn_writes_stopped', 'dyn_writes_stopped'), 1)
    assert.equal(value('dyn_ready', 'dyn_ready'), 0)
    assert.equal(value('dyn_members_down', 'dyn_members_down'), 1)
    assert.equal(value('dyn_admission_shedding', 'dyn_admission_shedding'), 1)
    assert.equal(value('dyn_admission_shed_total', 'dyn_admission_shed_total'), 30)
    assert.equal(value('dyn_node_info', 'dyn_node_info{node="n1",cluster_id="c0ffee"}'), 1)
    // A label's value is escaped as the format says: a backslash, a double quote, a line break.
    assert.equal(value('dyn_rejected_total', 'dyn_rejected_total{kind="http",reason="a \\"name\\"\\\\with\\nbreak"}'), 1)
  })

  it('makes each operation\'s latency a histogram in seconds: cumulative buckets, +Inf equal to the count, and the sum', () => {
    const put = parse(metricsText(stats, health)).get('dyn_request_duration_seconds')
    assert.equal(put?.type, 'histogram')
    const samples = put?.samples ?? new Map<string, number>()
    assert.deepEqual(
      ['0.001', '0.002', '0.004', '+Inf'].map((le) => samples.get(`dyn_request_duration_seconds_bucket{operation="put",le="${le}"}`)),
      [1, 3, 3, 5],
    )
    assert.equal(samples.get('dyn_request_duration_seconds_count{operation="put"}'), 5)
    assert.equal(samples.get('dyn_request_duration_seconds_sum{operation="put"}'), 0.0215)
  })

  it('leaves out what a node does not report, and never writes a value it does not have', () => {
    const text = metricsText({node: 'n2', keys: 0}, {})
    const families = parse(text)
    assert.deepEqual([...families.keys()], ['dyn_node_info', 'dyn_writes_stopped', 'dyn_keys'])
    assert.doesNotMatch(text, /undefined|NaN|null/)
    assert.equal(parse(metricsText(undefined, 'not an object')).size, 1, 'only writes_stopped, 0')
  })
})
