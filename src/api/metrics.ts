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

function metricFamilies(stats: Json, health: Json): Family[] {
  const families: Family[] = []
  const add = (name: string, type: MetricType, help: string, samples: readonly Sample[]): void => {
    if (samples.length > 0) families.push({name: `dyn_${name}`, help, type, samples})
  }
  const one = (value: number | undefined): Sample[] => (value === undefined ? [] : [{value}])

  const node = text(health.node) ?? text(stats.node)
  const clusterId = text(health.clusterId)
  if (node !== undefined) add('node_info', 'gauge', 'Always 1; its labels name the node and its cluster.', [{labels: {node, ...(clusterId === undefined ? {} : {cluster_id: clusterId})}, value: 1}])
  add('ready', 'gauge', '1 when the node is ready for client requests (GET /ready answers 200), else 0.', one(health.ready === undefined ? undefined : health.ready === false ? 0 : 1))
  // A node reports writesStopped (the reason) only while its store refuses writes.
  add('writes_stopped', 'gauge', '1 while the node\'s store refuses writes (a full or failing disk: see /health writesStopped), else 0.', [{value: stats.writesStopped === undefined && health.writesStopped === undefined ? 0 : 1}])
  add('members', 'gauge', 'Members of the cluster that have not left, this node included, as this node sees them.', one(number(health.members)))
  add('members_down', 'gauge', 'Of those, the members this node\'s failure detector sees down.', one(Array.isArray(health.down) ? health.down.length : undefined))
  add('uptime_seconds', 'gauge', 'Seconds since the node started.', one(scaled(number(stats.uptimeMs), 1e-3)))
  add('keys', 'gauge', 'Keys in the node\'s store (tombstones included).', one(number(stats.keys)))
  add('store_bytes', 'gauge', 'Bytes of the node\'s LevelDB folder on disk.', one(number(stats.storeBytes)))
  add('buffered_objects', 'gauge', 'Writes acknowledged from memory and not yet in LevelDB (dyn start --write-buffer-ms).', one(number(stats.bufferedObjects)))

  const requests = asObject(stats.requests)
  const outcomeSamples: Sample[] = []
  const durationSamples: Sample[] = []
  for (const [operation, value] of Object.entries(requests)) {
    const request = asObject(value)
    for (const [outcome, count] of Object.entries(asObject(request.outcomes))) {
      if (typeof count === 'number') outcomeSamples.push({labels: {operation, outcome}, value: count})
    }
    durationSamples.push(...histogramSamples(operation, asObject(request.latencyBuckets), number(request.count)))
  }
  add('requests_total', 'counter', 'Client key requests this node coordinated, by operation and outcome (ok, or the error code it was answered).', outcomeSamples)
  add('request_duration_seconds', 'histogram', 'Time from a key request\'s arrival at the node to its answer, by operation.', durationSamples)
  add('read_repairs_total', 'counter', 'Stale replicas repaired by the gets this node coordinated (read repair).', one(number(stats.readRepairs)))
  add('forwarded_puts_total', 'counter', 'Puts this node forwarded to one of the key\'s homes.', one(number(stats.forwardedPuts)))

  const hints = asObject(stats.hints)
  add('hints_total', 'counter', 'Hinted handoff (paper 4.6): hints written here for a home that was down, delivered to it, redirected, dropped or refused.', labelled(hints, 'event', ['written', 'delivered', 'redirected', 'dropped', 'refused']))
  add('hints_pending', 'gauge', 'Hints held here, waiting for their home to come back.', one(number(hints.pending)))

  const release = asObject(stats.release)
  add('release_total', 'counter', 'Keys of partitions this node no longer owns: handed off to their new homes, deleted once handed off, or refused.', labelled(release, 'event', ['handedOff', 'deleted', 'refused']))
  add('release_pending_partitions', 'gauge', 'Partitions this node still has to hand off (a leave, or a ring change).', one(number(release.pendingPartitions)))

  const compaction = asObject(stats.compaction)
  add('compaction_partitions_total', 'counter', 'Partitions compacted (the space of deleted keys given back to the disk).', one(number(compaction.partitionsCompacted)))
  add('compaction_freed_bytes_total', 'counter', 'Disk bytes compaction gave back.', one(number(compaction.diskBytesFreed)))
  add('compaction_deferred_for_space_total', 'counter', 'Compactions put off because the disk lacked the room one needs.', one(number(compaction.deferredForSpace)))
  add('compaction_deletes_uncompacted', 'gauge', 'Deletes whose space compaction has not yet given back.', one(number(compaction.deletesUncompacted)))
  add('compaction_deleted_bytes_uncompacted', 'gauge', 'Bytes of those deletes.', one(number(compaction.deletedBytesUncompacted)))

  const antiEntropy = asObject(stats.antiEntropy)
  add('anti_entropy_rounds_total', 'counter', 'Anti-entropy rounds (paper 4.7: Merkle trees compared with the other homes).', one(number(antiEntropy.rounds)))
  add('anti_entropy_exchanges_total', 'counter', 'Tree exchanges with another home.', one(number(antiEntropy.exchanges)))
  add('anti_entropy_exchanges_failed_total', 'counter', 'Tree exchanges that failed (the other home did not answer).', one(number(antiEntropy.exchangesFailed)))
  add('anti_entropy_keys_repaired_total', 'counter', 'Keys anti-entropy brought up to date here.', one(number(antiEntropy.keysRepaired)))
  add('anti_entropy_tombstones_reaped_total', 'counter', 'Tombstones removed once every home had them and the grace had passed.', one(number(antiEntropy.tombstonesReaped)))
  add('anti_entropy_trees_out_of_sync', 'gauge', 'Partitions whose tree differed from another home\'s at the last exchange.', one(number(antiEntropy.treesOutOfSync)))
  add('anti_entropy_tombstones', 'gauge', 'Tombstones held.', one(number(antiEntropy.tombstones)))
  add('anti_entropy_recovering', 'gauge', '1 while the node rebuilds what it lost (a store started empty in a cluster that has its data), else 0.', one(antiEntropy.recovering === undefined ? undefined : antiEntropy.recovering === true ? 1 : 0))

  const loop = asObject(stats.eventLoopDelayRecentMs)
  add('event_loop_delay_recent_p99_seconds', 'gauge', 'The p99 of how late the node\'s event loop ran, over the last seconds (what every request waits before its handler starts).', one(scaled(number(loop.p99), 1e-3)))
  add('event_loop_delay_recent_max_seconds', 'gauge', 'The most the node\'s event loop ran late over the last seconds.', one(scaled(number(loop.max), 1e-3)))

  add('http_requests_total', 'counter', 'HTTP requests at the client API, by route (kv, cluster, stats, health, other).', labelled(asObject(stats.httpRequests), 'route'))
  const rejected: Sample[] = []
  for (const [kind, value] of Object.entries(asObject(stats.rejected))) {
    for (const [reason, count] of Object.entries(asObject(asObject(value).reasons))) {
      if (typeof count === 'number') rejected.push({labels: {kind, reason}, value: count})
    }
  }
  add('rejected_total', 'counter', 'Inputs the node refused, by kind (http, frames, hellos, connections, requests) and reason.', rejected)

  const admission = asObject(stats.admission)
  add('admission_limit', 'gauge', 'Key requests the node works on at once before it sheds (admission control, paper 6.5).', one(number(admission.limit)))
  add('admission_in_flight', 'gauge', 'Key requests the node is working on.', one(number(admission.inFlight)))
  add('admission_admitted_total', 'counter', 'Key requests admitted.', one(number(admission.admitted)))
  add('admission_shed_total', 'counter', 'Key requests refused 503 overloaded.', one(number(admission.shed)))
  add('admission_shedding', 'gauge', '1 while the node sheds key requests, else 0.', one(text(admission.state) === undefined ? undefined : admission.state === 'shedding' ? 1 : 0))
  add('admission_background_yields', 'gauge', '1 while background work (hints, transfers, anti-entropy) yields to client requests, else 0.', one(text(admission.state) === undefined ? undefined : admission.state === 'normal' ? 0 : 1))

  const tls = asObject(stats.tls)
  add('tls_reloads_total', 'counter', 'TLS files taken by a reload (a renewed certificate).', one(number(tls.reloads)))
  add('tls_reload_refusals_total', 'counter', 'TLS files refused at a reload (expired, unreadable, not matching the key).', one(number(tls.refusals)))
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

function scaled(value: number | undefined, factor: number): number | undefined {
  return value === undefined ? undefined : value * factor
}
