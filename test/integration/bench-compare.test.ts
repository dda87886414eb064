/**
 * `npm run bench:compare` for real, kept short: HEAD checked out into a temporary worktree,
 * built, and run against the working tree in two rounds of one-second runs on one-node clusters.
 * Checks the JSON's structure and consistency (the runs in ABBA order, each figure's ratios from
 * those runs, the verdict and exit code two rounds allow), that the worktree and temp folder are
 * gone afterwards, and that bad input (a bench flag after -- too) is refused with its code before
 * anything is built. Never a duration or a speed: the verdict of two rounds is "inconclusive"
 * whatever the machine does.
 */

import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {stat} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, it} from 'node:test'
import {runScript} from './harness.js'
import type {DynRun} from './harness.js'

const compareScript = fileURLToPath(new URL('../../bench/compare.js', import.meta.url))
const packageRoot = fileURLToPath(new URL('../../../', import.meta.url))
/** Building the base (about 30 s here) and four short runs, with room for a busy machine. */
const compareTimeoutMs = 240_000
/** A refusal comes before any checkout or build. */
const refusalTimeoutMs = 60_000

function runCompare(args: readonly string[], timeoutMs: number): Promise<DynRun> {
  return runScript(compareScript, args, {cwd: packageRoot, timeoutMs, killSignal: 'SIGINT'})
}

function gitOutput(args: readonly string[]): string | undefined {
  try {
    return execFileSync('git', args, {cwd: packageRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).trim()
  } catch {
    return undefined
  }
}

/** The base's worktree a run names in its log ("checking out ... into FOLDER"), or undefined when it made none. */
function worktreeOf(stderr: string): string | undefined {
  return /^bench:compare: checking out .* into (.+)$/m.exec(stderr)?.[1]
}

async function exists(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined)) !== undefined
}

interface CompareJson {
  ok: boolean
  verdict: string
  exitCode: number
  base: {ref: string; commit: string}
  candidate: {commit: string; uncommittedChanges: number}
  command: string[]
  options: {rounds: number; confidence: number}
  warnings: string[]
  runs: Array<{round: number; side: string; opsPerS: number; p999Ms: Record<string, number>; errors: number}>
  figures: Array<{figure: string; operation: string; unit: string; better: string; ratios: number[]; medianRatio: number; interval: unknown; change: string; baseMedian: number; candidateMedian: number}>
  unpaired: string[]
}

// Outside a git checkout (a tarball) there is no base to check out: nothing to test.
const head = gitOutput(['rev-parse', 'HEAD'])

describe('npm run bench:compare', {skip: head === undefined ? 'not a git checkout' : false}, () => {
  it('--help says how to use it, with examples and exit codes', async () => {
    const result = await runCompare(['--help'], refusalTimeoutMs)
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /^EXAMPLES$/m)
    assert.match(result.stdout, /npm run bench:compare -- --base HEAD~1/)
    assert.match(result.stdout, /^ {2}5 {2}throughput fell or a p99\.9 rose beyond noise/m)
  })

  it('refuses an unknown ref (unknown_ref) and a bad flag (bad_parameter) with exit 2, before checking anything out', async () => {
    const unknown = await runCompare(['--base', 'no-such-ref-for-bench-compare', '--json'], refusalTimeoutMs)
    assert.equal(unknown.code, 2, unknown.stderr + unknown.stdout)
    assert.deepEqual(JSON.parse(unknown.stdout).error, 'unknown_ref')
    assert.equal(worktreeOf(unknown.stderr), undefined)
    const bad = await runCompare(['--rounds', '0', '--json'], refusalTimeoutMs)
    assert.equal(bad.code, 2, bad.stderr + bad.stdout)
    const answer = JSON.parse(bad.stdout) as {ok: boolean; error: string; message: string}
    assert.equal(answer.ok, false)
    assert.equal(answer.error, 'bad_parameter')
    assert.match(answer.message, /--rounds 0/)
    const refused = await runCompare(['--json', '--', '--node', '127.0.0.1:7070'], refusalTimeoutMs)
    assert.equal(refused.code, 2)
    assert.equal(JSON.parse(refused.stdout).error, 'bad_parameter')
    // A flag the bench does not know is refused by the candidate's parser, before the base is built.
    const unknownFlag = await runCompare(['--json', '--', '--no-such-bench-flag'], refusalTimeoutMs)
    assert.equal(unknownFlag.code, 2, unknownFlag.stderr + unknownFlag.stdout)
    const unknownAnswer = JSON.parse(unknownFlag.stdout) as {error: string; message: string}
    assert.equal(unknownAnswer.error, 'bad_parameter')
    assert.match(unknownAnswer.message, /--no-such-bench-flag/)
    assert.equal(worktreeOf(unknownFlag.stderr), undefined)
  })

  it('HEAD against the working tree, two short rounds: the runs in ABBA order, figures from them, inconclusive, exit 0, the worktree removed', async () => {
    const result = await runCompare(['--base', 'HEAD', '--rounds', '2', '--duration', '1', '--warmup', '0', '--nodes', '1', '--records', '200', '--connections', '4', '--json'], compareTimeoutMs)
    assert.equal(result.code, 0, result.stderr + result.stdout)
    const answer = JSON.parse(result.stdout) as CompareJson
    assert.equal(answer.ok, true)
    assert.equal(answer.exitCode, 0)
    // Two pairs cannot reach 90%: [min, max] of two covers 50%. Nothing can be called a change.
    assert.equal(answer.verdict, 'inconclusive')
    assert.ok(answer.warnings.some((warning) => /needs at least 5 rounds/.test(warning)), answer.warnings.join('; '))
    assert.equal(answer.base.ref, 'HEAD')
    assert.equal(answer.base.commit, head)
    assert.equal(answer.candidate.commit, head)
    assert.deepEqual(answer.command, ['node', 'bin/run.js', 'bench', '--nodes', '1', '--workload', 'a', '--connections', '4', '--duration', '1', '--warmup', '0', '--records', '200', '--seed', '1', '--json'])
    assert.deepEqual(
      answer.runs.map((run) => `${run.round}${run.side}`),
      ['1base', '1candidate', '2candidate', '2base'],
    )
    for (const run of answer.runs) {
      assert.ok(run.opsPerS > 0, `${run.side} in round ${run.round} measured operations`)
      assert.deepEqual(Object.keys(run.p999Ms).sort(), ['read', 'update'])
      assert.ok(Object.values(run.p999Ms).every((ms) => ms > 0))
    }
    assert.deepEqual(
      answer.figures.map((f) => `${f.operation} ${f.figure} ${f.unit} ${f.better}`),
      ['all throughput ops/s higher', 'read p99.9 ms lower', 'update p99.9 ms lower'],
    )
    const of = (round: number, side: string): CompareJson['runs'][number] => answer.runs.find((run) => run.round === round && run.side === side) as CompareJson['runs'][number]
    for (const f of answer.figures) {
      const value = (run: CompareJson['runs'][number]): number => (f.figure === 'throughput' ? run.opsPerS : (run.p999Ms[f.operation] as number))
      const expected = [1, 2].map((round) => value(of(round, 'candidate')) / value(of(round, 'base')))
      assert.equal(f.ratios.length, 2)
      f.ratios.forEach((ratio, i) => assert.ok(Math.abs(ratio - (expected[i] as number)) < 1e-9, `${f.operation} ${f.figure}: ratio ${ratio}, the runs say ${expected[i]}`))
      assert.equal(f.interval, null)
      assert.equal(f.change, 'inconclusive')
    }
    assert.deepEqual(answer.unpaired, [])
    // Nothing left: the worktree is neither on disk nor registered with git, nor its temp folder.
    const worktree = worktreeOf(result.stderr)
    assert.ok(worktree !== undefined, result.stderr)
    assert.equal(await exists(worktree), false, `${worktree} is still there`)
    assert.equal(await exists(path.dirname(worktree)), false, `${path.dirname(worktree)} is still there`)
    const worktrees = gitOutput(['worktree', 'list', '--porcelain']) ?? ''
    assert.ok(!worktrees.includes(worktree), worktrees)
  })
})
