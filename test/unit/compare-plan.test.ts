/**
 * Tests of bench:compare's decisions (bench/compare-plan.ts): its flags are checked with a clear
 * message each, the `dyn bench` flags passed after `--` cannot undo the comparison, the runs
 * alternate in ABBA order, the figures come out of a real report's shape (and a report that is
 * none is refused), paired figures become a verdict and an exit code (5 for a regression, as
 * dyn bench --baseline), and the text says all of it.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {
  benchArgs,
  compareDefaults,
  compareExitCodeOf,
  compareExitCodes,
  compareRuns,
  exitCodeOfVerdict,
  figuresOfReport,
  formatComparison,
  parseCompareOptions,
  parseConfidence,
  planWarnings,
  runOrder,
} from '../../bench/compare-plan.js'
import type {CompareOptions, MeasuredRun, RunFigures} from '../../bench/compare-plan.js'
import {latency, operation, report} from './bench-fixtures.js'

function options(values: Parameters<typeof parseCompareOptions>[0] = {}, extra: readonly string[] = []): CompareOptions {
  const parsed = parseCompareOptions(values, extra)
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.message)
  return parsed.value
}

function refusal(values: Parameters<typeof parseCompareOptions>[0], extra: readonly string[] = []): string {
  const parsed = parseCompareOptions(values, extra)
  assert.equal(parsed.ok, false, `${JSON.stringify(values)} ${extra.join(' ')} was accepted`)
  return (parsed as {message: string}).message
}

/** Runs of `rounds` rounds where the candidate's figures are the base's times the factors given. */
function runs(rounds: number, candidate: {opsPerS: (i: number) => number; readP999: (i: number) => number}): MeasuredRun[] {
  const measured: MeasuredRun[] = []
  const levels = [3500, 3100, 3800, 3300, 3600, 3450, 3200, 3700]
  for (const planned of runOrder(rounds)) {
    const level = levels[planned.round % levels.length] as number
    const baseFigures: RunFigures = {opsPerS: level, p999Ms: {read: 40 + planned.round, update: 50 + planned.round}, errors: 0}
    const figures: RunFigures =
      planned.side === 'base'
        ? baseFigures
        : {opsPerS: level * candidate.opsPerS(planned.round), p999Ms: {read: (40 + planned.round) * candidate.readP999(planned.round), update: 50 + planned.round}, errors: 0}
    measured.push({...planned, figures})
  }
  return measured
}

describe('parseCompareOptions', () => {
  it('fills the defaults: 6 rounds, closed loop of 50, workload a, 3 nodes, 10 s after 2 s, 10,000 records, 90%', () => {
    const parsed = options()
    assert.deepEqual(parsed, {
      base: undefined,
      rounds: 6,
      workload: 'a',
      loop: {kind: 'closed', connections: 50},
      durationS: 10,
      warmupS: 2,
      nodes: 3,
      records: 10_000,
      seed: 1,
      confidence: 0.9,
      json: false,
      benchExtra: [],
    })
    assert.equal(compareDefaults.rounds % 2, 0, 'an even default, so that ABBA cancels a drift exactly')
  })

  it('takes every flag, the open loop and extra bench flags', () => {
    const parsed = options({base: ' HEAD~1 ', rounds: '8', workload: 'c', rate: '1000', duration: '20', warmup: '0', nodes: '1', records: '500', seed: '7', confidence: '95%', json: true}, ['--value-size', '1000'])
    assert.equal(parsed.base, 'HEAD~1')
    assert.deepEqual(parsed.loop, {kind: 'open', ratePerS: 1000})
    assert.equal(parsed.confidence, 0.95)
    assert.deepEqual(parsed.benchExtra, ['--value-size', '1000'])
    assert.deepEqual(benchArgs(parsed), ['bench', '--nodes', '1', '--workload', 'c', '--rate', '1000', '--duration', '20', '--warmup', '0', '--records', '500', '--seed', '7', '--value-size', '1000', '--json'])
  })

  it('refuses bad numbers, naming the flag and its range', () => {
    assert.match(refusal({rounds: '0'}), /--rounds 0: a whole number from 1 to 100/)
    assert.match(refusal({rounds: '2.5'}), /--rounds 2\.5/)
    assert.match(refusal({duration: 'ten'}), /--duration ten: a whole number from 1 to 3600/)
    assert.match(refusal({nodes: '17'}), /--nodes 17: a whole number from 1 to 16/)
    assert.match(refusal({connections: '-3'}), /--connections -3/)
    assert.match(refusal({warmup: ''}), /--warmup /)
  })

  it('refuses an unknown workload, both loops at once, and a base that looks like a flag', () => {
    assert.match(refusal({workload: 'e'}), /--workload e: one of a, b, c, d, f or cart/)
    assert.match(refusal({rate: '100', connections: '8'}), /exclude each other/)
    assert.match(refusal({base: '--json'}), /--base "--json": a git ref/)
    assert.match(refusal({base: '  '}), /a git ref/)
  })

  it('takes a confidence as a percentage from 50 to 99.9', () => {
    assert.deepEqual(parseConfidence('90'), {ok: true, value: 0.9})
    assert.deepEqual(parseConfidence(' 97.5% '), {ok: true, value: 0.975})
    for (const text of ['0.9', '100', '49', 'high', '90%%', '']) {
      const parsed = parseConfidence(text)
      assert.equal(parsed.ok, false, `"${text}" was accepted`)
      assert.match((parsed as {message: string}).message, /a percentage from 50 to 99\.9/)
    }
  })

  it('refuses bench flags after -- that it sets itself or that would undo the comparison, with their = form', () => {
    assert.match(refusal({}, ['--node', '127.0.0.1:7070']), /--node after --: both builds must run on clusters they start/)
    assert.match(refusal({}, ['--duration=30']), /--duration after --: use bench:compare --duration/)
    assert.match(refusal({}, ['--sla', 'bench/sla/ci.json']), /--sla after --: a missed SLA exits 1/)
    assert.match(refusal({}, ['--json']), /--json after --/)
  })
})

describe('planWarnings and runOrder', () => {
  it('warns when the rounds cannot reach the confidence, and when an odd count leaves the order unbalanced', () => {
    assert.deepEqual(planWarnings(options()), [])
    const few = planWarnings(options({rounds: '2'}))
    assert.equal(few.length, 1)
    assert.match(few[0] as string, /with 2 round\(s\) no change can be told from noise at 90% confidence: that needs at least 5 rounds/)
    const odd = planWarnings(options({rounds: '5'}))
    assert.equal(odd.length, 1)
    assert.match(odd[0] as string, /odd count/)
    assert.equal(planWarnings(options({rounds: '5', confidence: '95'})).length, 2)
  })

  it('runs a pair per round, base first and candidate first in turn (ABBA)', () => {
    assert.deepEqual(
      runOrder(4).map((run) => `${run.round}${run.side === 'base' ? 'A' : 'B'}`),
      ['0A', '0B', '1B', '1A', '2A', '2B', '3B', '3A'],
    )
    for (const rounds of [1, 2, 5, 6, 9]) {
      const order = runOrder(rounds)
      assert.equal(order.length, 2 * rounds)
      const baseFirst = order.filter((run, i) => i % 2 === 0 && run.side === 'base').length
      assert.equal(baseFirst, Math.ceil(rounds / 2))
    }
  })
})

describe('figuresOfReport', () => {
  const saved = {ok: true, ...report({operations: [operation('read', 1700, latency(1, 41.5), {timeout: 2}), operation('update', 1650, latency(2, 55))]})}

  it('reads the throughput, each operation\'s p99.9 and the failures of a dyn bench --json report', () => {
    const parsed = figuresOfReport(JSON.parse(JSON.stringify(saved)))
    assert.deepEqual(parsed, {ok: true, value: {opsPerS: 3350, p999Ms: {read: 41.5, update: 55}, errors: 2}})
  })

  it('counts the closed loop\'s unanswered requests as failures', () => {
    const withTransport = {...saved, run: {...saved.run, transportErrors: {timeout: 3, connection: 4}}}
    assert.equal((figuresOfReport(withTransport) as {value: RunFigures}).value.errors, 9)
  })

  it('refuses what is not a report, and a run that measured nothing', () => {
    for (const bad of [undefined, null, 'text', {ok: false, error: 'unreachable', message: 'x'}, {run: {opsPerS: '3'}}]) {
      const parsed = figuresOfReport(bad)
      assert.equal(parsed.ok, false)
      assert.match((parsed as {message: string}).message, /not a dyn bench --json report/)
    }
    const empty = {...saved, run: {...saved.run, opsPerS: 0, operations: []}}
    assert.match((figuresOfReport(empty) as {message: string}).message, /measured no operation/)
  })
})

describe('compareRuns', () => {
  const closed = {kind: 'closed', connections: 50} as const

  it('finds a candidate 30% slower in every round a regression: exit 5', () => {
    const compared = compareRuns(runs(6, {opsPerS: () => 0.7, readP999: () => 1}), closed, 0.9)
    assert.ok(compared.ok)
    const throughput = compared.value.figures.find((f) => f.figure === 'throughput')
    assert.equal(throughput?.change, 'worse')
    assert.ok(Math.abs((throughput?.medianRatio ?? 0) - 0.7) < 1e-9)
    assert.equal(compared.value.verdict, 'regressed')
    assert.equal(exitCodeOfVerdict(compared.value.verdict), compareExitCodes.regression)
    assert.equal(compareExitCodes.regression, 5)
  })

  it('finds a doubled read p99.9 a regression while update p99.9 stays within noise', () => {
    const compared = compareRuns(runs(6, {opsPerS: (i) => (i % 2 === 0 ? 1.05 : 0.95), readP999: () => 2}), closed, 0.9)
    assert.ok(compared.ok)
    const byName = Object.fromEntries(compared.value.figures.map((f) => [`${f.operation} ${f.figure}`, f.change]))
    assert.deepEqual(byName, {'all throughput': 'within_noise', 'read p99.9': 'worse', 'update p99.9': 'within_noise'})
    assert.equal(compared.value.verdict, 'regressed')
  })

  it('finds the same build within noise: exit 0', () => {
    const compared = compareRuns(runs(6, {opsPerS: (i) => [1.1, 0.9, 1.05, 0.97, 1.02, 0.93][i] as number, readP999: (i) => [0.8, 1.3, 1.1, 0.9, 1.2, 0.95][i] as number}), closed, 0.9)
    assert.ok(compared.ok)
    assert.equal(compared.value.verdict, 'within_noise')
    assert.equal(exitCodeOfVerdict(compared.value.verdict), 0)
  })

  it('calls a faster candidate improved, exit 0', () => {
    const compared = compareRuns(runs(6, {opsPerS: () => 1.4, readP999: () => 1}), closed, 0.9)
    assert.ok(compared.ok)
    assert.equal(compared.value.verdict, 'improved')
    assert.equal(exitCodeOfVerdict(compared.value.verdict), 0)
  })

  it('decides nothing with two rounds at 90%: inconclusive, exit 0, the figures still there', () => {
    const compared = compareRuns(runs(2, {opsPerS: () => 0.5, readP999: () => 1}), closed, 0.9)
    assert.ok(compared.ok)
    assert.equal(compared.value.verdict, 'inconclusive')
    assert.equal(exitCodeOfVerdict(compared.value.verdict), 0)
    assert.deepEqual(compared.value.figures.find((f) => f.figure === 'throughput')?.ratios, [0.5, 0.5])
  })

  it('does not judge an open loop\'s throughput, which is the rate asked for', () => {
    const compared = compareRuns(runs(6, {opsPerS: () => 0.5, readP999: () => 1}), {kind: 'open', ratePerS: 1000}, 0.9)
    assert.ok(compared.ok)
    assert.deepEqual(
      compared.value.figures.map((f) => `${f.operation} ${f.figure}`),
      ['read p99.9', 'update p99.9'],
    )
  })

  it('leaves out an operation some run did not measure, and refuses a round without both sides', () => {
    const measured = runs(6, {opsPerS: () => 1, readP999: () => 1})
    const first = measured[0] as MeasuredRun
    measured[0] = {...first, figures: {...first.figures, p999Ms: {update: 50}}}
    const compared = compareRuns(measured, closed, 0.9)
    assert.ok(compared.ok)
    assert.deepEqual(compared.value.unpaired, ['read'])
    const lonely = compareRuns(measured.slice(1), closed, 0.9)
    assert.equal(lonely.ok, false)
    assert.match((lonely as {message: string}).message, /round 1 has no base run/)
  })
})

describe('formatComparison and the exit codes', () => {
  it('shows the setup, a row per figure with its interval and verdict, the pairs, the noise and the verdict', () => {
    const parsed = options()
    const measured = runs(6, {opsPerS: () => 0.7, readP999: () => 1})
    const compared = compareRuns(measured, parsed.loop, parsed.confidence)
    assert.ok(compared.ok)
    const text = formatComparison(compared.value, parsed, {base: 'main (443a194)', candidate: 'the working tree'}, measured)
    assert.match(text, /^base: {6}main \(443a194\)$/m)
    assert.match(text, /^each run: {2}node bin\/run\.js bench --nodes 3 --workload a --connections 50 --duration 10 --warmup 2 --records 10000 --seed 1 --json$/m)
    assert.match(text, /^ {2}figure +base +candidate +ratio +interval \(96\.9%\) +verdict$/m)
    assert.match(text, /^ {2}throughput ops\/s +3475 +2433 +0\.700 +0\.700 to 0\.700 +WORSE$/m)
    assert.match(text, /^ {2}read p99\.9 ms +42\.50 +42\.50 +1\.000 +1\.000 to 1\.000 +within noise$/m)
    assert.match(text, /^ {2}throughput ops\/s +0\.700 0\.700 0\.700 0\.700 0\.700 0\.700$/m)
    assert.match(text, /^ {2}throughput ops\/s +base 7(\.\d)?%, candidate 7(\.\d)?%$/m)
    assert.match(text, /^verdict: REGRESSED: a figure got worse beyond the noise \(exit 5\)$/m)
  })

  it('maps every error code to its documented exit code', () => {
    assert.equal(compareExitCodeOf('bad_parameter'), 2)
    assert.equal(compareExitCodeOf('unknown_ref'), 2)
    assert.equal(compareExitCodeOf('not_a_repository'), 2)
    assert.equal(compareExitCodeOf('stale_build'), 2)
    assert.equal(compareExitCodeOf('build_failed'), 6)
    assert.equal(compareExitCodeOf('dirty_base'), 6)
    assert.equal(compareExitCodeOf('bench_failed'), 7)
    assert.equal(compareExitCodeOf('interrupted'), 130)
  })
})
