/**
 * The pure parts of `dyn bench --fault` and `--find-capacity`: fault specs parsed, placed in the
 * run and refused when they cannot be injected; the run cut into windows before, during and
 * after each fault; and the capacity search's choice of the next rate and of the figure found.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {capacityResult, nextCapacityRate} from '../../bench/capacity.js'
import type {CapacitySearchOptions, CapacityStep} from '../../bench/capacity.js'
import {defaultFaultDurationS, parseFaultSpec, planFaults, runWindows} from '../../bench/faults.js'
import type {FaultSpec} from '../../bench/faults.js'
import type {KindSummary} from '../../bench/recorder.js'
import {judge, verdictsThroughFaults} from '../../bench/sla.js'
import type {Sla} from '../../bench/sla.js'
import {fixtureSla} from './bench-report-fixture.js'

function spec(text: string): FaultSpec {
  const parsed = parseFaultSpec(text)
  assert.ok(parsed.ok, `${text} parses`)
  return parsed.value
}

describe('fault specs', () => {
  it('parses kind, node and start, each but the kind optional', () => {
    assert.deepEqual(spec('kill'), {spec: 'kill', kind: 'kill'})
    assert.deepEqual(spec('pause:n2'), {spec: 'pause:n2', kind: 'pause', node: 'n2'})
    assert.deepEqual(spec('partition:n1@12'), {spec: 'partition:n1@12', kind: 'partition', node: 'n1', atS: 12})
    assert.deepEqual(spec('kill@0'), {spec: 'kill@0', kind: 'kill', atS: 0})
  })

  it('refuses anything else, saying the form', () => {
    for (const bad of ['', 'crash', 'kill:', 'kill@', 'kill@1.5', 'kill@-1', 'kill:n1@2@3', 'kill n1', 'kill:n 1']) {
      const parsed = parseFaultSpec(bad)
      assert.equal(parsed.ok, false, JSON.stringify(bad))
      if (!parsed.ok) assert.match(parsed.message, /KIND\[:NODE\]\[@SECONDS\]/)
    }
  })

  it('places faults: the last node and a third of the way in by default, each lasting the same', () => {
    const placed = planFaults([spec('kill')], ['n1', 'n2', 'n3'], 30, defaultFaultDurationS(30))
    assert.deepEqual(placed, {ok: true, value: [{spec: 'kill', kind: 'kill', node: 'n3', atS: 10, endS: 20}]})
    assert.equal(defaultFaultDurationS(2), 1, 'at least a second')
  })

  it('refuses an unknown node, a fault past the end, overlapping faults and a zero length', () => {
    const names = ['n1', 'n2', 'n3']
    const cases: Array<[FaultSpec[], number, RegExp]> = [
      [[spec('kill:n4')], 2, /no node n4; its nodes are n1, n2, n3/],
      [[spec('kill@9')], 2, /past the end of the 10 s run/],
      [[spec('kill:n1@2'), spec('pause:n2@3')], 2, /one at a time.*start it at 4 s or later/],
      [[spec('kill')], 0, /at least 1/],
    ]
    for (const [specs, lengthS, message] of cases) {
      const placed = planFaults(specs, names, 10, lengthS)
      assert.equal(placed.ok, false, specs.map((s) => s.spec).join(' '))
      if (!placed.ok) assert.match(placed.message, message)
    }
  })

  it('sorts faults by start, and back-to-back faults are allowed', () => {
    const placed = planFaults([spec('pause:n2@4'), spec('kill:n1@2')], ['n1', 'n2'], 10, 2)
    assert.ok(placed.ok)
    assert.deepEqual(placed.value.map((f) => [f.spec, f.atS, f.endS]), [['kill:n1@2', 2, 4], ['pause:n2@4', 4, 6]])
  })

  it('cuts the run into before, during and after windows, leaving out empty ones', () => {
    const placed = planFaults([spec('kill:n1@2'), spec('pause:n2@4'), spec('partition:n1@8')], ['n1', 'n2'], 10, 2)
    assert.ok(placed.ok)
    assert.deepEqual(runWindows(placed.value, 10), [
      {name: 'before', fromS: 0, toS: 2},
      {name: 'during kill:n1@2', fromS: 2, toS: 4},
      {name: 'during pause:n2@4', fromS: 4, toS: 6},
      {name: 'after pause:n2@4', fromS: 6, toS: 8},
      {name: 'during partition:n1@8', fromS: 8, toS: 10},
    ])
    const first = planFaults([spec('kill@0')], ['n1'], 4, 2)
    assert.ok(first.ok)
    assert.deepEqual(runWindows(first.value, 4).map((w) => w.name), ['during kill@0', 'after kill@0'])
    assert.deepEqual(runWindows([], 4), [{name: 'before', fromS: 0, toS: 4}])
  })
})

function step(ratePerS: number, met: boolean): CapacityStep {
  return {ratePerS, met, goodputPerS: ratePerS, operations: [], missed: met ? [] : ['read p99.9 <= 300 ms']}
}

const options: CapacitySearchOptions = {startRatePerS: 500, precision: 0.05, ratePerSMax: 100_000, stepsMax: 12}

/** Runs the search against a cluster whose SLA holds up to `capacity` ops/s exactly. */
function search(capacity: number, searchOptions: CapacitySearchOptions = options): {steps: CapacityStep[]; ended: string} {
  const steps: CapacityStep[] = []
  for (let i = 0; i < 100; i += 1) {
    const decision = nextCapacityRate(steps, searchOptions)
    if ('ended' in decision) return {steps, ended: decision.ended}
    steps.push(step(decision.next, decision.next <= capacity))
  }
  throw new Error('the search did not end')
}

describe('capacity search', () => {
  it('starts at the given rate, doubles while met, then bisects to within the precision', () => {
    const {steps, ended} = search(3000)
    assert.deepEqual(steps.slice(0, 4).map((s) => s.ratePerS), [500, 1000, 2000, 4000])
    assert.equal(ended, 'precise')
    const result = capacityResult(steps, 'precise')
    assert.ok(result.foundRatePerS !== null && result.foundRatePerS <= 3000 && result.foundRatePerS >= 3000 / 1.05, `found ${result.foundRatePerS}`)
    assert.ok(result.lowestMissedRatePerS !== null && result.lowestMissedRatePerS / (result.foundRatePerS as number) <= 1.05)
  })

  it('halves while missed; none met at 1 op/s ends with no rate found', () => {
    const {steps} = search(120)
    assert.deepEqual(steps.slice(0, 3).map((s) => s.ratePerS), [500, 250, 125])
    const never = search(0)
    assert.equal(never.ended, 'rate_min')
    assert.equal(capacityResult(never.steps, 'rate_min').foundRatePerS, null)
  })

  it('stops at the step budget and at the highest rate it offers', () => {
    const budget = search(3000, {...options, stepsMax: 3})
    assert.equal(budget.steps.length, 3)
    assert.equal(budget.ended, 'steps')
    assert.equal(capacityResult(budget.steps, 'steps').foundRatePerS, 2000)
    const ceiling = search(1e9, {...options, ratePerSMax: 3000})
    assert.deepEqual(ceiling.steps.map((s) => s.ratePerS), [500, 1000, 2000, 3000])
    assert.equal(ceiling.ended, 'rate_max')
  })

  it('a miss at or below a met rate (noise) ends the search with the highest met below every miss', () => {
    const steps = [step(500, true), step(1000, true), step(2000, false), step(1414, true), step(1682, true), step(900, false)]
    assert.deepEqual(nextCapacityRate(steps, options), {ended: 'not_monotonic'})
    const result = capacityResult(steps, 'not_monotonic')
    assert.equal(result.foundRatePerS, 500, 'the only met rate below the miss at 900')
    assert.equal(result.lowestMissedRatePerS, 900)
  })
})

describe('judging a run with faults', () => {
  // The fixture's SLA with its second target on an operation these runs never make.
  const sla: Sla = {...fixtureSla, targets: [{operation: 'read', percentile: 99.9, maxMs: 300}, {operation: 'insert', percentile: 99, maxMs: 300}]}
  const reads = (count: number, errors: Record<string, number> = {}): KindSummary => ({
    operation: 'read',
    count,
    throughputPerS: count,
    goodputPerS: count,
    shed: 0,
    latency: {p50Ms: 1, p90Ms: 1, p99Ms: 1, p999Ms: 1, maxMs: 1, meanMs: 1},
    errors,
    notFound: 0,
    versionsSeen: {},
  })

  it('in a window, an operation that did not run is not judged; over the whole run it is missed', () => {
    const inWindow = judge(sla, [reads(10)], (kind) => (kind === 'read' ? 5 : undefined), 0, {absentNotJudged: true})
    assert.deepEqual(inWindow.map((v) => [v.met, v.notJudged]), [[true, undefined], [true, 'no insert operation in this window'], [true, undefined]])
    const overRun = judge(sla, [reads(10)], (kind) => (kind === 'read' ? 5 : undefined))
    assert.deepEqual(overRun.map((v) => v.met), [true, false, true])
  })

  it('an empty window is not judged on its error rate; its never-started operations count as errors', () => {
    const empty = judge(sla, [], () => undefined, 0, {absentNotJudged: true})
    assert.equal(empty.every((v) => v.met && v.notJudged !== undefined), true)
    const stalled = judge(sla, [reads(90)], () => 5, 10, {absentNotJudged: true})
    assert.equal(stalled.find((v) => v.target.startsWith('error rate'))?.met, false, '10 of 100 never started')
  })

  it('the run fails when a window misses or a fault was not applied and reverted, whatever the whole run says', () => {
    const runMet = judge(sla, [reads(10)], () => 5).filter((v) => !v.target.startsWith('insert'))
    const all = verdictsThroughFaults(runMet, [{sla: {met: true}}, {sla: {met: true}}], [{}])
    assert.equal(all.every((v) => v.met), true)
    const windowMissed = verdictsThroughFaults(runMet, [{sla: {met: true}}, {sla: {met: false}}, {}], [{}])
    assert.deepEqual(windowMissed.filter((v) => !v.met).map((v) => [v.measured, v.limit, v.unit]), [[2, 3, 'count']])
    const faultFailed = verdictsThroughFaults(runMet, [{sla: {met: true}}], [{problem: 'starting n2 again failed'}, {}])
    assert.deepEqual(faultFailed.filter((v) => !v.met).map((v) => [v.target, v.measured, v.limit]), [['faults applied and reverted as planned', 1, 2]])
  })
})
