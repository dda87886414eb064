/**
 * What `dyn bench --sla` refuses before anything starts, as a user meets it: a target the
 * workload can never measure (an insert target with workload a), whichever way the workload was
 * chosen, and a shipped SLA file named by its path in a clone from another folder. Each run is
 * refused before a cluster starts, so the file starts none; its temp folder is its own.
 */

import assert from 'node:assert/strict'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {after, before, describe, it} from 'node:test'
import {runDyn} from './harness.js'

/** A refusal comes before anything starts; a run that started instead is cut off by this. */
const refusalTimeoutMs = 60_000

const shippedSla = (name: string): string => fileURLToPath(new URL(`../../../bench/sla/${name}`, import.meta.url))

describe('dyn bench --sla: refused before the run', () => {
  let dir = ''
  let insertSla = ''

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dyn-bench-sla-checks-'))
    insertSla = path.join(dir, 'insert.json')
    const run = {workload: 'a', ratePerS: 20, durationS: 1, records: 20}
    await writeFile(insertSla, JSON.stringify({name: 'insert', run, targets: [{operation: 'read', percentile: 99, maxMs: 300}, {operation: 'insert', percentile: 99.9, maxMs: 300}]}))
  })

  after(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it('a target on an operation the workload never runs is refused up front, naming it and the workload\'s operations', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /workload a \(the file's run\.workload\) never runs: its operations are read and update/],
      // --workload overrides the file's: the check is of the workload that would run.
      [['--workload', 'c'], /targets\[1\] is on insert, which workload c \(--workload c\) never runs: its operations are read/],
      // A capacity search would miss at every rate, and a run with a fault in every window.
      [['--find-capacity', '--max-steps', '2'], /never runs/],
      [['--fault', 'kill:n1@0', '--fault-duration', '1'], /never runs/],
    ]
    const results = await Promise.all(cases.map(([flags]) => runDyn(['bench', '--nodes', '1', '--sla', insertSla, '--warmup', '0', ...flags, '--json'], {cwd: dir, timeoutMs: refusalTimeoutMs})))
    for (const [i, result] of results.entries()) {
      const [flags, message] = cases[i] as [string[], RegExp]
      assert.equal(result.code, 2, `dyn bench --sla insert.json ${flags.join(' ')}: ${result.stderr}${result.stdout}`)
      const answer = JSON.parse(result.stdout) as {ok: boolean; error: string; message: string; operations: string[]; workload: string}
      assert.equal(answer.ok, false)
      assert.equal(answer.error, 'sla_not_measurable')
      assert.match(answer.message, message)
      assert.deepEqual(answer.operations, ['insert'])
      assert.doesNotMatch(result.stderr, /^(starting|loading|running)/m, 'refused before anything started')
    }
    // The same refusal in text, with its code, for a run without --json.
    const text = await runDyn(['bench', '--nodes', '1', '--sla', insertSla], {cwd: dir, timeoutMs: refusalTimeoutMs})
    assert.equal(text.code, 2, text.stderr)
    assert.match(text.stderr, /insert\.json: targets\[1\] is on insert.*\[sla_not_measurable\]$/m)
  })

  it('--sla bench/sla/ci.json from a folder other than the clone names the shipped copy, and runs nothing in its place', async () => {
    const result = await runDyn(['bench', '--nodes', '1', '--sla', 'bench/sla/ci.json'], {cwd: dir, timeoutMs: refusalTimeoutMs})
    assert.equal(result.code, 2, result.stderr + result.stdout)
    assert.match(result.stderr, /cannot read the SLA file bench\/sla\/ci\.json: ENOENT/)
    assert.ok(result.stderr.includes(`dyn ships an SLA file of that name at ${shippedSla('ci.json')}`), result.stderr)
    assert.doesNotMatch(result.stderr, /^(starting|loading|running)/m, 'nothing ran')
  })
})
