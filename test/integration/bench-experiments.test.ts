/**
 * Every compiled paper experiment (dist/bench/experiments/*.js, bench/README.md) as its user meets
 * it: --help says what it measures, its flags and examples and exits 0, and a flag or value it
 * cannot read is refused with one line and exit 2, never a stack trace. All of it is answered
 * before an experiment starts anything, so no cluster is made here and each run takes a moment.
 * The reading itself is tested in test/unit/bench-experiment-flags.test.ts.
 */

import assert from 'node:assert/strict'
import {readdirSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, it} from 'node:test'
import {runScript} from './harness.js'
import type {DynRun} from './harness.js'

const folder = fileURLToPath(new URL('../../bench/experiments/', import.meta.url))
/** Every experiment the build has: common.js is what they share, not one of them. */
const experiments = readdirSync(folder)
  .filter((file) => file.endsWith('.js') && file !== 'common.js')
  .map((file) => path.basename(file, '.js'))
/** Only the experiment's modules are loaded before it answers: far less than this on a busy machine. */
const timeoutMs = 30_000

function run(experiment: string, args: readonly string[]): Promise<DynRun> {
  return runScript(path.join(folder, `${experiment}.js`), args, {timeoutMs, killSignal: 'SIGKILL'})
}

/** A refusal as the bench's scripts print one: the experiment's name, the message, a pointer at --help; one line, no stack. */
function assertRefused(result: DynRun, experiment: string, message: RegExp): void {
  assert.equal(result.code, 2, `${experiment}: ${result.stderr}`)
  assert.equal(result.stdout, '')
  assert.doesNotMatch(result.stderr, /^\s+at /m, `${experiment} printed a stack trace`)
  const lines = result.stderr.trimEnd().split('\n')
  assert.equal(lines.length, 1, `${experiment}: ${result.stderr}`)
  assert.match(lines[0] ?? '', new RegExp(`^${experiment}: ${message.source} \\(see --help\\) \\[bad_parameter\\]$`))
}

describe('the paper experiments\' command lines', () => {
  it('finds the experiments in the build', () => {
    for (const expected of ['coordination', 'partitioning', 'profile', 'write-buffer']) assert.ok(experiments.includes(expected), `${expected} is not in ${folder}`)
  })

  for (const experiment of experiments) {
    it(`${experiment}: --help says what it measures, its flags and examples, and exits 0 having started nothing; an unknown flag exits 2 in one line`, async () => {
      const help = await run(experiment, ['--help'])
      assert.equal(help.code, 0, help.stderr)
      // An experiment logs each thing it starts on stderr: --help has started none.
      assert.equal(help.stderr, '')
      for (const heading of ['USAGE', 'FLAGS', 'EXAMPLES']) assert.match(help.stdout, new RegExp(`^${heading}$`, 'm'), `${experiment} --help has no ${heading}`)
      assert.match(help.stdout, /\[default: [^\]]+\]/, `${experiment} --help shows no default`)
      assert.match(help.stdout, new RegExp(`^ {2}(sudo )?node dist/bench/experiments/${experiment}\\.js`, 'm'))
      assertRefused(await run(experiment, ['--no-such-flag']), experiment, /unknown flag --no-such-flag/)
    })
  }

  it('refuses a bad value, a value missing, a required flag missing and flags that disagree, each in one line naming the flag', async () => {
    const cases: Array<[string, string[], RegExp]> = [
      ['profile', ['--connections', '0'], /--connections 0: a whole number of at least 1/],
      ['profile', ['--workload', 'z'], /--workload z: one of a, b, c, d, f, cart/],
      ['coordination', ['--rate'], /--rate needs a value: --rate R/],
      ['overload', ['--throttle', 'sometimes'], /--throttle sometimes: one of both, on, off/],
      ['partition-heal', ['--cuts', '10,soon'], /--cuts soon: a number above 0/],
      ['tls-cost', [], /give --tls-dir DIR: .*/],
      ['read-cost', ['--n', '2', '--r', '3'], /--r and --w must be at most --n/],
    ]
    for (const [experiment, args, message] of cases) assertRefused(await run(experiment, args), experiment, message)
  })
})
