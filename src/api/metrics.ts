/**
 * GET /metrics: a node's `/stats` and `/health` in Prometheus' text exposition format (version
 * 0.0.4), for Prometheus or any scraper of that format (VictoriaMetrics, Grafana Agent, the
 * OpenTelemetry collector) to collect, as etcd's /metrics is. `/stats` stays the node's own JSON
 * (dyn top and dyn cluster status read it); this is the same figures named and typed the way a
 * monitoring system stores them: counters for what only grows (requests, hints, repairs,
 * refusals), gauges for what goes up and down (keys, pending hints, the admission limit),
 * and a histogram of each operation's latency in seconds, whose buckets are those `/stats`
 * keeps (`latencyBuckets`), so that a p99.9 over any window and any set of nodes is
 * `histogram_quantile(0.999, sum by (le) (rate(dyn_request_duration_seconds_bucket[5m])))`.
 *
 * Pure: it reads the two JSON answers defensively (a field a node does not report, such as
 * `writesStopped` on a healthy node or `admission` without admission control, is left out or
 * reads as its healthy value) and returns the text.
 */

type Json = Record<string, unknown>

export type MetricType = 'counter' | 'gauge' | 'histogram'

interface Sample {
  /** Appended to the family's name: `_bucket`, `_sum`, `_count` for a histogram. */
  readonly suffix?: string
  readonly labels?: Readonly<Record<string, string>>
  readonly value: number
}

interface Family {
  readonly name: string
  readonly help: string
  readonly type: MetricType
  readonly samples: readonly Sample[]
}

/** The content type of the answer (Prometheus' text format, version 0.0.4). */
export const metricsContentType = 'text/plain; version=0.0.4; charset=utf-8'

/** The exposition text of a node's /stats and /health answers. */
export function metricsText(stats: unknown, health: unknown): string {
  const families = metricFamilies(asObject(stats), asObject(health))
  return families.map(renderFamily).join('')
}

/** A number of /stats taken as it is (times `scale`): where it is, and what it becomes. */
interface FieldMetric {
  /** The object of /stats that holds it; absent: /stats itself. */
  readonly section?: string
  readonly field: string
  readonly name: string
  readonly type: 'counter' | 'gauge'
  readonly help: string
  readonly scale?: number
}

const fieldMetrics: readonly FieldMetric[] = [
  {field: 'uptimeMs', scale: 1e-3, name: 'uptime_seconds', type: 'gauge', help: 'Seconds since the node started.'},
  {field: 'keys', name: 'keys', type: 'gauge', help: 'Keys in the node\'s store (tombstones included).'},
  {field: 'storeBytes', name: 'store_bytes', type: 'gauge', help: 'Bytes of the node\'s LevelDB folder on disk.'},
  {field: 'diskFreeBytes', name: 'disk_free_bytes', type: 'gauge', help: 'Bytes free to the node on the disk that holds its data folder (as df shows them): its writes stop when it fills.'},
  {field: 'diskBytes', name: 'disk_size_bytes', type: 'gauge', help: 'Size of the disk that holds the node\'s data folder.'},
  {field: 'bufferedObjects', name: 'buffered_objects', type: 'gauge', help: 'Writes acknowledged from memory and not yet in LevelDB (dyn start --write-buffer-ms).'},
  {field: 'readRepairs', name: 'read_repairs_total', type: 'counter', help: 'Stale replicas repaired by the gets this node coordinated (read repair).'},
  {field: 'forwardedPuts', name: 'forwarded_puts_total', type: 'counter', help: 'Puts this node forwarded to one of the key\'s homes.'},
  {section: 'hints', field: 'pending', name: 'hints_pending', type: 'gauge', help: 'Hints held here, waiting for their home to come back.'},
  {section: 'release', field: 'pendingPartitions', name: 'release_pending_partitions', type: 'gauge', help: 'Partitions this node still has to hand off (a leave, or a ring change).'},
  {section: 'compaction', field: 'partitionsCompacted', name: 'compaction_partitions_total', type: 'counter', help: 'Partitions compacted (the space of deleted keys given back to the disk).'},
  {section: 'compaction', field: 'diskBytesFreed', name: 'compaction_freed_bytes_total', type: 'counter', help: 'Disk bytes compaction gave back.'},
  {section: 'compaction', field: 'deferredForSpace', name: 'compaction_deferred_for_space_total', type: 'counter', help: 'Compactions put off because the disk lacked the room one needs.'},
  {section: 'compaction', field: 'deletesUncompacted', name: 'compaction_deletes_uncompacted', type: 'gauge', help: 'Deletes whose space compaction has not yet given back.'},
  {section: 'compaction', field: 'deletedBytesUncompacted', name: 'compaction_deleted_bytes_uncompacted', type: 'gauge', help: 'Bytes of those deletes.'},
  {section: 'antiEntropy', field: 'rounds', name: 'anti_entropy_rounds_total', type: 'counter', help: 'Anti-entropy rounds (paper 4.7: Merkle trees compared with the other homes).'},
  {section: 'antiEntropy', field: 'exchanges', name: 'anti_entropy_exchanges_total', type: 'counter', help: 'Tree exchanges with another home.'},
  {section: 'antiEntropy', field: 'exchangesFailed', name: 'anti_entropy_exchanges_failed_total', type: 'counter', help: 'Tree exchanges that failed (the other home did not answer).'},
  {section: 'antiEntropy', field: 'keysRepaired', name: 'anti_entropy_keys_repaired_total', type: 'counter', help: 'Keys anti-entropy brought up to date here.'},
  {section: 'antiEntropy', field: 'tombstonesReaped', name: 'anti_entropy_tombstones_reaped_total', type: 'counter', help: 'Tombstones removed once every home had them and the grace had passed.'},
  {section: 'antiEntropy', field: 'treesOutOfSync', name: 'anti_entropy_trees_out_of_sync', type: 'gauge', help: 'Partitions whose tree differed from another home\'s at the last exchange.'},
  {section: 'antiEntropy', field: 'tombstones', name: 'anti_entropy_tombstones', type: 'gauge', help: 'Tombstones held.'},
  {section: 'eventLoopDelayRecentMs', field: 'p99', scale: 1e-3, name: 'event_loop_delay_recent_p99_seconds', type: 'gauge', help: 'The p99 of how late the node\'s event loop ran, over the last seconds (what every request waits before its handler starts).'},
  {section: 'eventLoopDelayRecentMs', field: 'max', scale: 1e-3, name: 'event_loop_delay_recent_max_seconds', type: 'gauge', help: 'The most the node\'s event loop ran late over the last seconds.'},
  {section: 'admission', field: 'limit', name: 'admission_limit', type: 'gauge', help: 'Key requests the node works on at once before it sheds (admission control, paper 6.5).'},
  {section: 'admission', field: 'inFlight', name: 'admission_in_flight', type: 'gauge', help: 'Key requests the node is working on.'},
  {section: 'admission', field: 'admitted', name: 'admission_admitted_total', type: 'counter', help: 'Key requests admitted.'},
  {section: 'admission', field: 'shed', name: 'admission_shed_total', type: 'counter', help: 'Key requests refused 503 overloaded.'},
  {section: 'tls', field: 'reloads', name: 'tls_reloads_total', type: 'counter', help: 'TLS files taken by a reload (a renewed certificate).'},
  {section: 'tls', field: 'refusals', name: 'tls_reload_refusals_total', type: 'counter', help: 'TLS files refused at a reload (expired, unreadable, not matching the key).'},
]

function metricFamilies(stats: Json, health: Json): Family[] {
  const families: Family[] = []
  const add = (name: string, type: MetricType, help: string, samples: readonly Sample[]): void => {
    if (samples.length > 0) families.push({name: `dyn_${name}`, help, type, samples})
  }
  const one = (value: number | undefined): Sample[] => (value === undefined ? [] : [{value}])
  /** A state as 1 or 0; absent when the node does not report it. */
  const flag = (value: unknown, isOn: (value: unknown) => boolean): Sample[] => one(value === undefined ? undefined : isOn(value) ? 1 : 0)

  const node = text(health.node) ?? text(stats.node)
  const clusterId = text(health.clusterId)
  if (node !== undefined) add('node_info', 'gauge', 'Always 1; its labels name the node and its cluster.', [{labels: {node, ...(clusterId === undefined ? {} : {cluster_id: clusterId})}, value: 1}])
  add('ready', 'gauge', '1 when the node is ready for client requests (GET /ready answers 200), else 0.', flag(health.ready, (ready) => ready !== false))
  // A node reports writesStopped (the reason) only while its store refuses writes.
  add('writes_stopped', 'gauge', '1 while the node\'s store refuses writes (a full or failing disk: see /health writesStopped), else 0.', [{value: stats.writesStopped === undefined && health.writesStopped === undefined ? 0 : 1}])
  add('members', 'gauge', 'Members of the cluster that have not left, this node included, as this node sees them.', one(number(health.members)))
  add('members_down', 'gauge', 'Of those, the members this node\'s failure detector sees down, and any node out of the ring seen down before it handed off everything.', one(Array.isArray(health.down) ? health.down.length : undefined))
  for (const metric of fieldMetrics) {
    const value = number((metric.section === undefined ? stats : asObject(stats[metric.section]))[metric.field])
    add(metric.name, metric.type, metric.help, one(value === undefined ? undefined : value * (metric.scale ?? 1)))
  }
  add('anti_entropy_recovering', 'gauge', '1 while the node rebuilds what it lost (a store started empty in a cluster that has its data), else 0.', flag(asObject(stats.antiEntropy).recovering, (recovering) => recovering === true))
  const admissionState = text(asObject(stats.admission).state)
  add('admission_shedding', 'gauge', '1 while the node sheds key requests, else 0.', flag(admissionState, (state) => state === 'shedding'))
  add('admission_background_yields', 'gauge', '1 while background work (hints, transfers, anti-entropy) yields to client requests, else 0.', flag(admissionState, (state) => state !== 'normal'))

  const outcomeSamples: Sample[] = []
  const durationSamples: Sample[] = []
  for (const [operation, value] of Object.entries(asObject(stats.requests))) {
    const request = asObject(value)
    for (const [outcome, count] of Object.entries(asObject(request.outcomes))) {
      if (typeof count === 'number') outcomeSamples.push({labels: {operation, outcome}, value: count})
    }
    durationSamples.push(...histogramSamples(operation, asObject(request.latencyBuckets), number(request.count)))
  }
  add('requests_total', 'counter', 'Client key requests this node coordinated, by operation and outcome (ok, or the error code it was answered).', outcomeSamples)
  add('request_duration_seconds', 'histogram', 'Time from a key request\'s arrival at the node to its answer, by operation.', durationSamples)
  add('hints_total', 'counter', 'Hinted handoff (paper 4.6): hints written here for a home that was down, delivered to it, redirected, dropped or refused.', labelled(asObject(stats.hints), 'event', ['written', 'delivered', 'redirected', 'dropped', 'refused']))
  add('release_total', 'counter', 'Keys of partitions this node no longer owns: handed off to their new homes, deleted once handed off, or refused.', labelled(asObject(stats.release), 'event', ['handedOff', 'deleted', 'refused']))
  add('http_requests_total', 'counter', 'HTTP requests at the client API, by route (kv, cluster, stats, health, other).', labelled(asObject(stats.httpRequests), 'route'))
  const rejected: Sample[] = []
  for (const [kind, value] of Object.entries(asObject(stats.rejected))) {
    for (const [reason, count] of Object.entries(asObject(asObject(value).reasons))) {
      if (typeof count === 'number') rejected.push({labels: {kind, reason}, value: count})
    }
  }
  add('rejected_total', 'counter', 'Inputs the node refused, by kind (http, frames, hellos, connections, requests) and reason.', rejected)
  return families
}

/** The cumulative buckets of one operation's latencies: `/stats` counts each bucket on its own. */
function histogramSamples(operation: string, buckets: Json, count: number | undefined): Sample[] {
  const bounds = Array.isArray(buckets.boundsMs) ? buckets.boundsMs : undefined
  const counts = Array.isArray(buckets.counts) ? buckets.counts : undefined
  if (bounds === undefined || counts === undefined || counts.length !== bounds.length + 1 || count === undefined) return []
  const samples: Sample[] = []
  let cumulative = 0
  for (const [index, bound] of bounds.entries()) {
    cumulative += typeof counts[index] === 'number' ? counts[index] : 0
    samples.push({suffix: '_bucket', labels: {operation, le: formatNumber(Number(bound) / 1000)}, value: cumulative})
  }
  samples.push({suffix: '_bucket', labels: {operation, le: '+Inf'}, value: count})
  const sumMs = number(buckets.sumMs)
  if (sumMs !== undefined) samples.push({suffix: '_sum', labels: {operation}, value: sumMs / 1000})
  samples.push({suffix: '_count', labels: {operation}, value: count})
  return samples
}

/** One sample per numeric field, the field's name (in snake case) as the label's value; `only` picks and orders them. */
function labelled(object: Json, label: string, only?: readonly string[]): Sample[] {
  const keys = only ?? Object.keys(object)
  return keys.flatMap((key) => {
    const value = object[key]
    return typeof value === 'number' ? [{labels: {[label]: snakeCase(key)}, value}] : []
  })
}

function renderFamily(family: Family): string {
  const lines = [`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`]
  for (const sample of family.samples) {
    const labels = Object.entries(sample.labels ?? {})
    const labelText = labels.length === 0 ? '' : `{${labels.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',')}}`
    lines.push(`${family.name}${sample.suffix ?? ''}${labelText} ${formatNumber(sample.value)}`)
  }
  return `${lines.join('\n')}\n`
}

/** Prometheus reads Go's float syntax: integers as they are, other numbers in full, infinities as +Inf and -Inf. */
function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}

/** In HELP text a backslash and a line break are escaped (the format's rule). */
function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

/** In a label's value a backslash, a double quote and a line break are escaped (the format's rule). */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)
}

function asObject(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {}
}

function number(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}
