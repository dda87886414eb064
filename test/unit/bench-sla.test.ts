/**
 * Tests of the SLA files of `dyn bench` (bench/sla.ts): the shipped files parse, every malformed
 * variant is rejected with a message naming its field, and judge() states each target (a high
 * percentile, Dynamo §2.2) and the error rate as met or missed from the measured values.
 */

import assert from 'node:assert/strict'
import {readFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'
import type {KindSummary} from '../../bench/recorder.js'
import {judge, loadSla, measuredText, parseSla, unmeasurableTargets} from '../../bench/sla.js'
import type {Sla, TargetVerdict} from '../../bench/sla.js'
import type {OperationKind} from '../../bench/workloads.js'

const slaFile = (name: string): string => fileURLToPath(new URL(`../../../bench/sla/${name}`, import.meta.url))

/** A valid SLA document, as plain JSON, for the malformed variants to break one field at a time. */
function validDocument(): Record<string, unknown> {
  return {
    name: 'test',
    description: 'a valid SLA',
    run: {workload: 'a', ratePerS: 100, durationS: 2, records: 100, valueSize: 10, n: 3, r: 2, w: 2},
    targets: [
      {operation: 'read', percentile: 99.9, maxMs: 300},
      {operation: 'update', percentile: 99, maxMs: 100},
    ],
    maxErrorRate: 0.01,
  }
}

function rejects(document: unknown, field: RegExp, what: string): void {
  const parsed = parseSla(typeof document === 'string' ? document : JSON.stringify(document), 'variant.json')
  assert.equal(parsed.ok, false, `${what} was accepted`)
  const message = (parsed as {message: string}).message
  assert.match(message, field, `${what}: message "${message}"`)
  assert.match(message, /variant\.json/, `${what}: the message names the file`)
}

function withRun(run: Record<string, unknown>): Record<string, unknown> {
  return {...validDocument(), run: {...(validDocument().run as object), ...run}}
}

function withTarget(target: Record<string, unknown>): Record<string, unknown> {
  return {...validDocument(), targets: [{operation: 'read', percentile: 99.9, maxMs: 300, ...target}]}
}

describe('parseSla', () => {
  for (const name of ['paper', 'ci']) {
    it(`accepts bench/sla/${name}.json as shipped`, async () => {
      const text = await readFile(slaFile(`${name}.json`), 'utf8')
      const parsed = parseSla(text, `${name}.json`)
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.message)
      const sla = parsed.sla
      assert.equal(sla.name, name)
      assert.ok(sla.description.length > 0)
      assert.equal(sla.run.workload, 'a')
      assert.equal(sla.run.ratePerS, 500, "the paper's 500 requests per second")
      assert.equal(sla.run.connections, undefined)
      assert.deepEqual(
        sla.targets.map((t) => [t.operation, t.percentile, t.maxMs]),
        [
          ['read', 99.9, 300],
          ['update', 99.9, 300],
        ],
      )
      assert.equal(sla.maxErrorRate, 0.001)
    })
  }

  it('loadSla reads a shipped file and reports a missing one as a value', async () => {
    const loaded = await loadSla(slaFile('ci.json'))
    assert.ok(loaded.ok)
    const missing = await loadSla(path.join(tmpdir(), 'dyn-no-such-sla-file.json'))
    assert.equal(missing.ok, false)
    assert.match((missing as {message: string}).message, /cannot read the SLA file .*dyn-no-such-sla-file\.json/)
    // A bare name, as `--sla ci`, is told where the shipped files are.
    const bare = await loadSla('dyn-no-such-sla')
    assert.match((bare as {message: string}).message, /the SLA files dyn ships are \S*bench\/sla\/paper\.json and \S*bench\/sla\/ci\.json/)
    assert.doesNotMatch((missing as {message: string}).message, /dyn ships/, 'a path with a folder is the user\'s own file')
  })

  it('a missing path that names a shipped file says where the shipped copy is, and reads nothing in its place', async () => {
    // README, --help and CI give bench/sla/ci.json, which only a clone has under the current folder.
    const elsewhere = path.join(tmpdir(), 'dyn-no-such-folder', 'bench', 'sla', 'ci.json')
    const missing = await loadSla(elsewhere)
    assert.equal(missing.ok, false, 'the shipped file was read in place of the one given')
    const message = (missing as {message: string}).message
    assert.match(message, /^cannot read the SLA file \S*dyn-no-such-folder\/bench\/sla\/ci\.json: ENOENT/)
    assert.ok(message.includes(`dyn ships an SLA file of that name at ${slaFile('ci.json')}`) || message.includes('dyn ships an SLA file of that name at bench/sla/ci.json'), message)
    assert.match(message, /give --sla \S*bench\/sla\/ci\.json to run it/)
    // `--sla paper` is the shipped paper.json by name; another name in a folder gets no hint.
    assert.match((await loadSla('paper') as {message: string}).message, /dyn ships an SLA file of that name at \S*bench\/sla\/paper\.json/)
    assert.doesNotMatch((await loadSla(path.join(tmpdir(), 'dyn-no-such-folder', 'mine.json')) as {message: string}).message, /dyn ships/)
  })

  it('accepts a minimal SLA and defaults the description and the run', () => {
    const parsed = parseSla(JSON.stringify({name: 'min', targets: [{operation: 'cart', percentile: 100, maxMs: 1}]}), 'min.json')
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.message)
    assert.equal(parsed.sla.description, '')
    assert.equal(parsed.sla.maxErrorRate, undefined)
  })

  it('rejects text that is not JSON', () => {
    rejects('{"name": "x",', /not JSON/, 'truncated JSON')
    rejects('[]', /targets|name/, 'a JSON list')
    rejects('42', /object/, 'a JSON number')
  })

  it('rejects an SLA without a string name', () => {
    const {name: _name, ...noName} = validDocument()
    rejects(noName, /"name"/, 'no name')
    rejects({...validDocument(), name: 7}, /"name"/, 'a numeric name')
  })

  it('rejects malformed run parameters, naming the field', () => {
    rejects(withRun({workload: 'z'}), /"run\.workload"/, 'unknown workload')
    rejects(withRun({workload: 3}), /"run\.workload"/, 'numeric workload')
    rejects(withRun({ratePerS: 100, connections: 8}), /"run\.ratePerS".*"run\.connections"/, 'rate and connections both')
    rejects(withRun({durationS: 0}), /"run\.durationS"/, 'zero duration')
    rejects(withRun({records: -5}), /"run\.records"/, 'negative records')
    rejects(withRun({ratePerS: '500'}), /"run\.ratePerS"/, 'rate as a string')
    rejects({...validDocument(), run: 'fast'}, /"run"/, 'run as a string')
    // Whole numbers within the matching flag's bounds, refused before anything starts (a new
    // user's walk: records 10.5 started a cluster and failed an assertion).
    rejects(withRun({records: 10.5}), /"run\.records" must be a whole number from 1 to 100000000/, 'fractional records')
    rejects(withRun({n: 1.5}), /"run\.n" must be a whole number from 1 to 64/, 'fractional n')
    rejects(withRun({durationS: 1.5}), /"run\.durationS" must be a whole number from 1 to 3600/, 'fractional duration')
    rejects(withRun({ratePerS: 5_000_000}), /"run\.ratePerS" must be a whole number from 1 to 1000000/, 'a rate past --rate\'s bound')
  })

  it('rejects a key it does not take, at every level, naming the nearest one it does', () => {
    // Ignored, each would have judged another run than the file describes: a closed loop for a
    // misspelt rate, no error-rate target, the default record count.
    const {ratePerS: _rate, ...runWithoutRate} = validDocument().run as Record<string, unknown>
    rejects({...validDocument(), run: {...runWithoutRate, rate: 500}}, /"run\.rate" is not a key of an SLA file; "run" takes workload, ratePerS/, 'run.rate')
    const {maxErrorRate: _rate2, ...withoutRate} = validDocument()
    rejects({...withoutRate, maxErrRate: 0.01}, /"maxErrRate" is not a key .*did you mean "maxErrorRate"/, 'maxErrRate')
    rejects(withRun({record: 5000}), /"run\.record" is not a key .*did you mean "run\.records"/, 'run.record')
    rejects({...validDocument(), targets: [{operation: 'read', percentil: 99.9, maxMs: 300}]}, /"targets\[0\]\.percentil" is not a key .*did you mean "targets\[0\]\.percentile"/, 'percentil')
    rejects({...validDocument(), targets: [{operation: 'read', percentile: 99.9, maxMS: 300}]}, /did you mean "targets\[0\]\.maxMs"/, 'maxMS')
    rejects({...validDocument(), comment: 'mine'}, /"comment" is not a key of an SLA file; the file takes name, description, run, targets, maxErrorRate/, 'a comment key')
  })

  it('rejects empty or missing targets', () => {
    rejects({...validDocument(), targets: []}, /"targets"/, 'empty targets')
    const {targets: _targets, ...noTargets} = validDocument()
    rejects(noTargets, /"targets"/, 'no targets')
    rejects({...validDocument(), targets: {operation: 'read'}}, /"targets"/, 'targets as an object')
  })

  it('rejects malformed targets, naming the target and its field', () => {
    rejects(withTarget({operation: 'scan'}), /targets\[0\]\.operation/, 'unknown operation')
    rejects(withTarget({percentile: 0}), /targets\[0\]\.percentile/, 'percentile 0')
    rejects(withTarget({percentile: 101}), /targets\[0\]\.percentile/, 'percentile 101')
    rejects(withTarget({percentile: '99.9'}), /targets\[0\]\.percentile/, 'percentile as a string')
    rejects(withTarget({maxMs: -1}), /targets\[0\]\.maxMs/, 'negative maxMs')
    rejects(withTarget({maxMs: 0}), /targets\[0\]\.maxMs/, 'zero maxMs')
    rejects({...validDocument(), targets: [{operation: 'read', percentile: 50, maxMs: 1}, null]}, /targets\[1\]/, 'a null second target')
    rejects({...validDocument(), targets: [{operation: 'read', percentile: 50, maxMs: 1}, {operation: 'update', percentile: 50}]}, /targets\[1\]\.maxMs/, 'second target without maxMs')
  })

  it('rejects an error rate outside 0..1', () => {
    rejects({...validDocument(), maxErrorRate: 2}, /"maxErrorRate"/, 'maxErrorRate 2')
    rejects({...validDocument(), maxErrorRate: -0.1}, /"maxErrorRate"/, 'negative maxErrorRate')
    rejects({...validDocument(), maxErrorRate: '0.1'}, /"maxErrorRate"/, 'maxErrorRate as a string')
    assert.ok(parseSla(JSON.stringify({...validDocument(), maxErrorRate: 0}), 'zero.json').ok, 'zero errors allowed is a valid target')
  })
})

function summary(operation: OperationKind, count: number, errors: Record<string, number> = {}, notFound = 0, shed = 0): KindSummary {
  return {operation, count, throughputPerS: count, goodputPerS: count, shed, latency: {p50Ms: 1, p90Ms: 2, p99Ms: 3, p999Ms: 4, maxMs: 5, meanMs: 1}, errors, notFound, versionsSeen: {}}
}

function slaOf(document: Record<string, unknown>): Sla {
  const parsed = parseSla(JSON.stringify(document), 'judge.json')
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.message)
  return parsed.sla
}

describe('unmeasurableTargets', () => {
  const withInsert = slaOf({...validDocument(), targets: [{operation: 'read', percentile: 99.9, maxMs: 300}, {operation: 'insert', percentile: 99.9, maxMs: 300}]})

  it('refuses a target on an operation the workload never runs, naming it, the workload and its operations', () => {
    const refused = unmeasurableTargets(withInsert, 'sla.json', 'a', "the file's run.workload")
    assert.ok(refused !== undefined, 'an insert target with workload a was accepted')
    assert.equal(refused.error, 'sla_not_measurable')
    assert.deepEqual(refused.operations, ['insert'])
    assert.deepEqual(refused.workloadOperations, ['read', 'update'])
    assert.match(refused.message, /^sla\.json: targets\[1\] is on insert, which workload a \(the file's run\.workload\) never runs: its operations are read and update/)
    assert.match(refused.message, /insert: workload d/, 'says which workload has the operation')
  })

  it('judges the workload that will run: one that has every operation passes, another is refused', () => {
    assert.equal(unmeasurableTargets(withInsert, 'sla.json', 'd', '--workload d'), undefined)
    assert.equal(unmeasurableTargets(slaOf(validDocument()), 'sla.json', 'a', 'the default workload'), undefined)
    const readOnly = unmeasurableTargets(slaOf(validDocument()), 'sla.json', 'c', '--workload c')
    assert.deepEqual(readOnly?.operations, ['update'])
    assert.match(readOnly?.message ?? '', /workload c \(--workload c\) never runs: its operations are read/)
    // Every target on operations the cart never runs, each operation said once.
    const cart = unmeasurableTargets(slaOf({...validDocument(), targets: [{operation: 'read', percentile: 99, maxMs: 1}, {operation: 'update', percentile: 99, maxMs: 1}, {operation: 'read', percentile: 50, maxMs: 1}]}), 'sla.json', 'cart', '--workload cart')
    assert.deepEqual(cart?.operations, ['read', 'update'])
    assert.match(cart?.message ?? '', /targets\[0\], targets\[1\], targets\[2\] are on read and update/)
  })
})

describe('judge', () => {
  const sla = slaOf({
    name: 'judged',
    targets: [
      {operation: 'read', percentile: 99.9, maxMs: 300},
      {operation: 'update', percentile: 99.9, maxMs: 300},
      {operation: 'read', percentile: 50, maxMs: 10},
      {operation: 'cart', percentile: 99, maxMs: 500},
    ],
  })

  it('marks each target met or missed from the measured percentile, with the percentile asked for', () => {
    const measured = new Map<string, number>([
      ['read@99.9', 250],
      ['update@99.9', 301.5],
      ['read@50', 10],
    ])
    const asked: string[] = []
    const verdicts = judge(sla, [summary('read', 100), summary('update', 100)], (kind, p) => {
      asked.push(`${kind}@${p}`)
      return measured.get(`${kind}@${p}`)
    })
    assert.deepEqual(asked, ['read@99.9', 'update@99.9', 'read@50', 'cart@99'])
    const thin = 'thin sample: 100 requests, p99.9 needs 1,000 to be more than the slowest one; run longer (--duration) or at a higher rate'
    assert.deepEqual(verdicts, [
      {target: 'read p99.9 <= 300 ms', operation: 'read', percentile: 99.9, measured: 250, limit: 300, met: true, samples: 100, thinSample: thin},
      {target: 'update p99.9 <= 300 ms', operation: 'update', percentile: 99.9, measured: 301.5, limit: 300, met: false, samples: 100, thinSample: thin},
      {target: 'read p50 <= 10 ms', operation: 'read', percentile: 50, measured: 10, limit: 10, met: true, samples: 100},
      {target: 'cart p99 <= 500 ms', operation: 'cart', percentile: 99, measured: null, limit: 500, met: false},
    ])
  })

  it('says when a percentile rests on fewer requests than it needs, and keeps the verdict as measured', () => {
    const verdicts = judge(sla, [summary('read', 999), summary('update', 1000)], () => 250)
    assert.equal(verdicts[0]?.met, true, 'a thin sample does not change the verdict')
    assert.match(measuredText(verdicts[0] as TargetVerdict), /^250\.00 ms \(thin sample: 999 requests, p99\.9 needs 1,000/)
    assert.equal(verdicts[1]?.thinSample, undefined, '1,000 updates are enough for a p99.9')
    assert.equal(measuredText(verdicts[1] as TargetVerdict), '250.00 ms')
  })

  it('counts shed operations against the error rate: they did not get done', () => {
    const errorSla = slaOf({...validDocument(), maxErrorRate: 0.1})
    const verdicts = judge(errorSla, [summary('read', 80, {quorum_unmet: 4}, 0, 20)], () => 1)
    assert.deepEqual(verdicts.at(-1), {target: 'error rate <= 0.1', measured: 0.24, limit: 0.1, met: false})
  })

  it('counts operations the client\'s throttle kept back against the error rate too', () => {
    const errorSla = slaOf({...validDocument(), maxErrorRate: 0.1})
    const verdicts = judge(errorSla, [{...summary('read', 80, {}, 0, 10), throttled: 10}], () => 1)
    assert.deepEqual(verdicts.at(-1), {target: 'error rate <= 0.1', measured: 0.2, limit: 0.1, met: false})
  })

  it('an operation that did not run is "not measured": measured null, not met', () => {
    const verdicts = judge(sla, [], () => undefined)
    assert.equal(verdicts.length, 4)
    for (const v of verdicts) {
      assert.equal(v.measured, null)
      assert.equal(v.met, false)
    }
  })

  it('adds no error-rate verdict when the SLA sets none', () => {
    const verdicts = judge(sla, [summary('read', 10, {http_error: 10})], () => 1)
    assert.ok(verdicts.every((v) => !v.target.startsWith('error rate')))
  })

  it('judges the error rate from the operations error counts, not found excluded', () => {
    const withRate = slaOf({name: 'errors', targets: [{operation: 'read', percentile: 99, maxMs: 1000}], maxErrorRate: 0.001})
    const failing = judge(withRate, [summary('read', 1000, {quorum_unmet: 1}, 50), summary('update', 1000, {timeout: 1, http_error: 1})], () => 5)
    const failingRate = failing.find((v) => v.target.startsWith('error rate'))
    assert.deepEqual(failingRate, {target: 'error rate <= 0.001', measured: 3 / 2000, limit: 0.001, met: false})
    const passing = judge(withRate, [summary('read', 1000, {}, 500), summary('update', 1000, {connection: 2})], () => 5)
    const passingRate = passing.find((v) => v.target.startsWith('error rate'))
    assert.deepEqual(passingRate, {target: 'error rate <= 0.001', measured: 2 / 2000, limit: 0.001, met: true})
    const none = judge(withRate, [], () => undefined).find((v) => v.target.startsWith('error rate'))
    assert.equal(none?.measured, null, 'no operation: the rate is not measured')
    assert.equal(none?.met, false)
  })
})
