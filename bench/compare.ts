/**
 * `npm run bench:compare`: is the working tree faster or slower than a base commit, beyond this
 * machine's noise? Issue 18, item 5: a developer runs it before merging a change to a hot path.
 *
 * It checks the base ref out into a temporary git worktree (under the OS's temp folder), installs
 * and builds it there (the working tree's node_modules linked in when both package-lock.json are
 * the same, `npm ci` otherwise), then runs the same `dyn bench` command with each build in turn,
 * in rounds of one run per build, the order alternating from round to round (ABBA), each run on a
 * fresh cluster the bench starts and stops. It pairs each round's two runs and judges the ratios
 * (bench/compare-stats.ts): a figure moved only when an interval for its median ratio excludes
 * 1. The decisions are in bench/compare-plan.ts; this file does the IO: git, npm, the runs, the
 * signals, and the cleaning up.
 *
 * Nothing it starts outlives it: every child is started in its own process group and stopped by
 * its pid (a bench with SIGINT, so that it stops the cluster it started; git and npm with SIGTERM
 * to their group), and the worktree and temp folder are removed, on success, failure, Ctrl-C and
 * SIGTERM alike.
 *
 *   npm run bench:compare -- [--base REF] [--rounds 6] [--workload a] [--connections 50 | --rate R]
 *       [--duration 10] [--warmup 2] [--nodes 3] [--records 10000] [--confidence 90] [--json]
 *       [-- more dyn bench flags]
 */

import {spawn} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import {lstat, mkdtemp, readFile, rm, stat, symlink, unlink} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {Parser} from '@oclif/core'
import {benchArgs, compareExitCodeOf, compareRuns, exitCodeOfVerdict, figuresOfReport, formatComparison, parseCompareOptions, planWarnings, runOrder} from './compare-plan.js'
import type {CompareErrorCode, CompareOptions, MeasuredRun, PlannedRun, RunFigures} from './compare-plan.js'
import {figure} from './report.js'
import {failScript, readScriptFlags} from './script-flags.js'

const usage = `Compare the speed of the working tree with a base commit, beyond this machine's noise.

USAGE
  npm run bench:compare -- [FLAGS] [-- DYN BENCH FLAGS]
  node dist/bench/compare.js [FLAGS] [-- DYN BENCH FLAGS]      (after npm run build)

FLAGS
  --base REF          the commit to compare with [default: the merge-base of HEAD and main
                      (else origin/main): the commit your branch started from; on main itself,
                      HEAD, so uncommitted changes are compared with the last commit]
  --rounds N          pairs of runs, one run of each build per round, the order alternating
                      (base first, then candidate first, ...) [default: 6]
  --workload W        a, b, c, d, f or cart [default: a]
  --connections C     closed loop with C connections [default: 50]
  --rate R            open loop at R ops/s instead (throughput is then not judged, only p99.9)
  --duration S        measured seconds per run [default: 10]
  --warmup S          seconds of the same load before measuring, per run [default: 2, or 5
                      with --rate, as dyn bench]
  --nodes K           nodes of the cluster each run starts [default: 3]
  --records R         keys loaded before each run [default: 10000]
  --seed S            the bench's seed, the same for every run [default: 1]
  --confidence P      the least coverage of each figure's interval, a percentage [default: 90];
                      it sets how many rounds are needed at least (90: 5, 95: 6, 99: 8)
  --json              print one JSON object (the runs, each figure's ratios, interval, verdict)
  --help              this text
  After --, more dyn bench flags for both builds (e.g. --write-buffer-ms 100 or --value-size 1000).

WHAT IT SAYS
  For the closed loop's throughput and each operation's p99.9: the median figure of each build,
  the ratio candidate / base (the median of the rounds' ratios), an interval for it, and whether
  it moved beyond noise: only when the interval excludes 1. The interval is the sign test's
  (order statistics of the ratios), which holds for any noise distribution: with 5 or 6 rounds a
  change is beyond noise only when every round agrees on its direction. Each build's own
  run-to-run spread is shown as the noise.

EXIT CODES
  0  nothing got worse beyond noise (including "improved" and "inconclusive": too few rounds)
  2  bad usage: a flag [bad_parameter], an unknown --base [unknown_ref], not a git checkout
     [not_a_repository], the working tree changed since it was built [stale_build]
  5  throughput fell or a p99.9 rose beyond noise (as dyn bench --baseline's exit 5)
  6  the base could not be checked out, installed or built [build_failed], or building it
     changed tracked files [dirty_base]
  7  a dyn bench run failed or printed no report [bench_failed]
  130 interrupted [interrupted]; everything started was stopped and removed

EXAMPLES
  Your branch against the commit it started from (6 rounds of 10 s; about 8 minutes here):
    npm run bench:compare
  Against the previous commit, read-only workload, 8 rounds, 95% confidence:
    npm run bench:compare -- --base HEAD~1 --workload c --rounds 8 --confidence 95
  The tail at a fixed rate rather than the throughput ceiling:
    npm run bench:compare -- --rate 1000 --duration 20
  The machine's own noise (the same code on both sides):
    npm run bench:compare -- --base HEAD
  For a script: the JSON, and the exit code (5 on a regression):
    npm run --silent bench:compare -- --json > compare.json
`

/** The folder of this package: dist/bench/compare.js sits two levels below it. */
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Bounds on the children's time: a step that hangs fails instead of holding the session for ever. */
const gitTimeoutMs = 60_000
const npmCiTimeoutMs = 15 * 60_000
const buildTimeoutMs = 10 * 60_000
/** A bench run takes its warm-up and duration, a cluster start (up to 30 s) and the load; this is its slack. */
const benchSlackS = 180
/** Records a bench loads per second at least, on a slow machine: the load's part of the bound. */
const loadRecordsPerSMin = 200
/** How long a child stopped by a signal may take to exit (a bench stops its cluster) before SIGKILL. */
const stopGraceMs = 30_000
/** Characters of a failed child's output kept for the error message. */
const outputTailChars = 3000

/** An expected failure with its stable code; the exit code follows from the code. */
class CompareError extends Error {
  constructor(
    readonly code: CompareErrorCode,
    message: string,
  ) {
    super(message)
  }
}

interface ChildResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
}

/** How a child is stopped early: a bench gets SIGINT (it then stops its own cluster); git and npm SIGTERM to their group. */
type StopStyle = 'bench' | 'tool'

/**
 * The children this session started, and what must be undone at the end. Every child runs in its
 * own process group (detached), so that a terminal's Ctrl-C reaches only this process, which then
 * stops each child once, in the way that child cleans up after itself.
 */
class Session {
  private readonly running = new Map<number, {readonly child: ChildProcess; readonly style: StopStyle; readonly exited: Promise<void>}>()
  private readonly cleanups: Array<() => Promise<void>> = []
  private interruptedBy: NodeJS.Signals | undefined

  get interrupted(): boolean {
    return this.interruptedBy !== undefined
  }

  throwIfInterrupted(): void {
    if (this.interruptedBy !== undefined) throw new CompareError('interrupted', `interrupted by ${this.interruptedBy}: every run and build started was stopped, and the base's worktree removed`)
  }

  /** Runs a command to its end (or its timeout), its output collected. */
  run(command: string, args: readonly string[], options: {readonly cwd: string; readonly style: StopStyle; readonly timeoutMs: number}): Promise<ChildResult> {
    this.throwIfInterrupted()
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, {cwd: options.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe']})
      const out: Buffer[] = []
      const err: Buffer[] = []
      child.stdout?.on('data', (chunk: Buffer) => out.push(chunk))
      child.stderr?.on('data', (chunk: Buffer) => err.push(chunk))
      let timedOut = false
      const timer = setTimeout(() => {
        timedOut = true
        this.stop(child, options.style)
      }, options.timeoutMs)
      let settle: () => void = () => undefined
      const exited = new Promise<void>((done) => (settle = done))
      child.once('error', (error) => {
        clearTimeout(timer)
        if (child.pid !== undefined) this.running.delete(child.pid)
        settle()
        reject(new CompareError(options.style === 'bench' ? 'bench_failed' : 'build_failed', `${command} could not be started: ${error.message}`))
      })
      child.once('close', (code, signal) => {
        clearTimeout(timer)
        if (child.pid !== undefined) this.running.delete(child.pid)
        settle()
        resolve({code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut})
      })
      if (child.pid !== undefined) this.running.set(child.pid, {child, style: options.style, exited})
    })
  }

  /** Stops one child by its pid, as it cleans up best; SIGKILL to its group if it has not exited after the grace period. */
  private stop(child: ChildProcess, style: StopStyle): void {
    const pid = child.pid
    if (pid === undefined || child.exitCode !== null) return
    try {
      // The bench's own SIGINT handler stops the cluster it started; a second signal would cut
      // that short, so it gets exactly one. git and npm pass SIGTERM on to nothing, so their
      // whole group (npm's scripts, tsc) gets it.
      if (style === 'bench') process.kill(pid, 'SIGINT')
      else process.kill(-pid, 'SIGTERM')
    } catch {
      return // Gone meanwhile.
    }
    const killer = setTimeout(() => {
      try {
        process.kill(-pid, 'SIGKILL')
      } catch {
        // Gone meanwhile.
      }
    }, stopGraceMs)
    child.once('close', () => clearTimeout(killer))
  }

  /** Ctrl-C or SIGTERM: every running child is stopped once; the flow then ends at its next step. */
  interrupt(signal: NodeJS.Signals): void {
    if (this.interruptedBy !== undefined) return
    this.interruptedBy = signal
    for (const {child, style} of this.running.values()) this.stop(child, style)
  }

  /** Something to undo at the end, whatever happens; undone in the reverse order. */
  onCleanUp(cleanup: () => Promise<void>): void {
    this.cleanups.push(cleanup)
  }

  /** Waits for every child still running (stopping them first), then undoes what was done. */
  async cleanUp(): Promise<void> {
    for (const {child, style} of this.running.values()) this.stop(child, style)
    await Promise.all([...this.running.values()].map((entry) => entry.exited))
    for (const cleanup of this.cleanups.reverse()) await cleanup().catch((error: Error) => process.stderr.write(`bench:compare: cleaning up: ${error.message}\n`))
    this.cleanups.length = 0
  }
}

function tail(text: string): string {
  const trimmed = text.trim()
  return trimmed.length <= outputTailChars ? trimmed : `...${trimmed.slice(-outputTailChars)}`
}

/** git in `cwd`; its stdout trimmed, or undefined when it exits non-zero (the caller says why that matters). */
async function git(session: Session, cwd: string, args: readonly string[]): Promise<string | undefined> {
  const result = await session.run('git', args, {cwd, style: 'tool', timeoutMs: gitTimeoutMs})
  session.throwIfInterrupted()
  return result.code === 0 ? result.stdout.trim() : undefined
}

/** Where this package sits in its git checkout: the checkout's top folder and the package's path inside it. */
async function findRepository(session: Session): Promise<{top: string; prefix: string}> {
  const top = await git(session, packageRoot, ['rev-parse', '--show-toplevel'])
  const prefix = await git(session, packageRoot, ['rev-parse', '--show-prefix'])
  if (top === undefined || prefix === undefined) {
    throw new CompareError('not_a_repository', `${packageRoot} is not in a git checkout: bench:compare checks the base out with git worktree`)
  }
  return {top, prefix}
}

/**
 * The working tree must be built from what it holds now: the runs use dist/, which `npm run
 * build` writes and finishes with oclif.manifest.json. A source file newer than that file means
 * the candidate measured would not be the code in the tree.
 */
async function checkCandidateBuilt(session: Session): Promise<void> {
  const manifest = await stat(path.join(packageRoot, 'oclif.manifest.json')).catch(() => undefined)
  if (manifest === undefined) throw new CompareError('stale_build', `the working tree is not built (no oclif.manifest.json): run npm run build, or npm run bench:compare, which builds first`)
  const listed = await git(session, packageRoot, ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', 'src', 'commands', 'bench', 'bin', 'scripts', 'package.json', 'tsconfig.json'])
  for (const file of (listed ?? '').split('\0').filter((name) => name !== '')) {
    const source = await stat(path.join(packageRoot, file)).catch(() => undefined)
    if (source !== undefined && source.mtimeMs > manifest.mtimeMs) {
      throw new CompareError('stale_build', `${file} changed after the last build: run npm run build first (npm run bench:compare builds before it compares), or the candidate measured would not be the working tree`)
    }
  }
}

interface BaseChoice {
  readonly ref: string
  readonly commit: string
  /** How the base was chosen, in words. */
  readonly description: string
}

/** The commit to compare with: --base, else the merge-base of HEAD and main (origin/main when there is no main). */
async function resolveBase(session: Session, ref: string | undefined): Promise<BaseChoice> {
  const commitOf = (name: string): Promise<string | undefined> => git(session, packageRoot, ['rev-parse', '--verify', '--quiet', `${name}^{commit}`])
  if (ref !== undefined) {
    const commit = await commitOf(ref)
    if (commit === undefined) throw new CompareError('unknown_ref', `--base ${ref}: no such commit, branch or tag in this repository`)
    return {ref, commit, description: `${ref} (${commit.slice(0, 7)})`}
  }
  for (const branch of ['main', 'origin/main']) {
    if ((await commitOf(branch)) === undefined) continue
    const commit = await git(session, packageRoot, ['merge-base', 'HEAD', branch])
    if (commit === undefined) throw new CompareError('unknown_ref', `HEAD and ${branch} have no common commit: give the base with --base REF`)
    return {ref: branch, commit, description: `${commit.slice(0, 7)}, where HEAD and ${branch} meet (the default base)`}
  }
  throw new CompareError('unknown_ref', 'no branch main or origin/main to compare with: give the base with --base REF')
}

interface CandidateState {
  readonly commit: string
  readonly branch: string | undefined
  readonly uncommittedChanges: number
  readonly description: string
}

async function describeCandidate(session: Session): Promise<CandidateState> {
  const commit = (await git(session, packageRoot, ['rev-parse', 'HEAD'])) ?? ''
  const branch = await git(session, packageRoot, ['symbolic-ref', '--quiet', '--short', 'HEAD'])
  const status = (await git(session, packageRoot, ['status', '--porcelain', '--', '.'])) ?? ''
  const uncommittedChanges = status.split('\n').filter((line) => line.trim() !== '').length
  const changes = uncommittedChanges === 0 ? 'no uncommitted change' : `${uncommittedChanges} uncommitted change(s)`
  return {commit, branch, uncommittedChanges, description: `the working tree: HEAD ${commit.slice(0, 7)}${branch === undefined ? '' : ` (${branch})`} with ${changes}`}
}

/**
 * The base, checked out and built in a temporary worktree, removed at the end whatever happens.
 * Returns the folder to run its `bin/run.js` from.
 */
async function prepareBase(session: Session, repository: {top: string; prefix: string}, base: BaseChoice, log: (line: string) => void): Promise<string> {
  const folder = await mkdtemp(path.join(tmpdir(), 'dyn-compare-'))
  const worktree = path.join(folder, 'base')
  const root = path.join(worktree, repository.prefix)
  // Registered before the worktree exists: an interrupted `worktree add` leaves an entry too.
  session.onCleanUp(async () => {
    // The link to the working tree's node_modules goes first, on its own, so that nothing
    // removing the worktree can reach through it into the working tree's packages.
    await unlinkIfLink(path.join(root, 'node_modules'))
    const removed = await runQuietly(['-C', repository.top, 'worktree', 'remove', '--force', worktree])
    await rm(folder, {recursive: true, force: true})
    // Whatever `worktree remove` could not do (the folder was half made), prune finds gone.
    if (!removed) await runQuietly(['-C', repository.top, 'worktree', 'prune'])
  })
  log(`checking out ${base.description} into ${worktree}`)
  const added = await session.run('git', ['-C', repository.top, 'worktree', 'add', '--detach', worktree, base.commit], {cwd: repository.top, style: 'tool', timeoutMs: gitTimeoutMs})
  session.throwIfInterrupted()
  if (added.code !== 0) throw new CompareError('build_failed', `git worktree add ${worktree} ${base.commit} failed: ${tail(added.stderr)}`)
  const [ownLock, baseLock] = await Promise.all([readFile(path.join(packageRoot, 'package-lock.json')).catch(() => undefined), readFile(path.join(root, 'package-lock.json')).catch(() => undefined)])
  if (ownLock !== undefined && baseLock !== undefined && ownLock.equals(baseLock)) {
    // The same lock file installs the same packages: the working tree's serve, and save minutes.
    log('same package-lock.json: linking the working tree\'s node_modules')
    await symlink(path.join(packageRoot, 'node_modules'), path.join(root, 'node_modules'), 'dir')
  } else {
    log('package-lock.json differs: npm ci in the base')
    await step(session, 'npm ci in the base', 'npm', ['ci', '--no-audit', '--no-fund'], root, npmCiTimeoutMs)
  }
  log('building the base (npm run build)')
  await step(session, 'npm run build in the base', 'npm', ['run', 'build'], root, buildTimeoutMs)
  // What is measured must be the ref as committed: a build that rewrote a tracked file (a lock
  // file npm ci updated, a generated file) would measure something else.
  const changed = await git(session, root, ['status', '--porcelain', '--untracked-files=no'])
  if (changed === undefined) throw new CompareError('build_failed', `git status failed in the base's worktree ${worktree}`)
  if (changed !== '') throw new CompareError('dirty_base', `installing and building ${base.description} changed tracked files, so the base measured would not be that commit:\n${changed}`)
  const bench = await stat(path.join(root, 'dist', 'commands', 'bench.js')).catch(() => undefined)
  if (bench === undefined) throw new CompareError('build_failed', `${base.description} has no dyn bench after its build (no dist/commands/bench.js)`)
  return root
}

/** A build step that must succeed. */
async function step(session: Session, what: string, command: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<void> {
  const result = await session.run(command, args, {cwd, style: 'tool', timeoutMs})
  session.throwIfInterrupted()
  if (result.code !== 0) {
    const why = result.timedOut ? `did not finish within ${timeoutMs / 1000} s` : `exited with ${result.code ?? result.signal}`
    throw new CompareError('build_failed', `${what} ${why}:\n${tail(`${result.stdout}\n${result.stderr}`)}`)
  }
}

async function unlinkIfLink(file: string): Promise<void> {
  const found = await lstat(file).catch(() => undefined)
  if (found?.isSymbolicLink() === true) await unlink(file)
}

/** git for the clean-up, which must run after an interrupt too: not through the session. */
function runQuietly(args: readonly string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('git', args, {stdio: 'ignore'})
    child.once('error', () => resolve(false))
    child.once('close', (code) => resolve(code === 0))
  })
}

/** One `dyn bench --json` run of one build; its figures, or bench_failed saying why and how to repeat it. */
async function benchRun(session: Session, tree: string, args: readonly string[], options: CompareOptions): Promise<RunFigures> {
  const timeoutS = options.warmupS + options.durationS + benchSlackS + Math.ceil(options.records / loadRecordsPerSMin)
  const command = [path.join(tree, 'bin', 'run.js'), ...args]
  const result = await session.run(process.execPath, command, {cwd: tree, style: 'bench', timeoutMs: timeoutS * 1000})
  session.throwIfInterrupted()
  const repeat = `(cd ${tree} && node bin/run.js ${args.join(' ')})`
  if (result.timedOut) throw new CompareError('bench_failed', `a run did not finish within ${timeoutS} s: ${repeat}`)
  let json: unknown
  try {
    json = JSON.parse(result.stdout)
  } catch {
    json = undefined
  }
  if (result.code !== 0) {
    const reported = (json as {error?: unknown; message?: unknown} | undefined)?.message
    const why = typeof reported === 'string' ? `${reported} [${String((json as {error?: unknown}).error)}]` : tail(result.stderr || result.stdout)
    throw new CompareError('bench_failed', `dyn bench exited with ${result.code ?? result.signal}: ${why}\nrun: ${repeat}`)
  }
  const figures = figuresOfReport(json)
  if (!figures.ok) throw new CompareError('bench_failed', `${figures.message}\nrun: ${repeat}\n${tail(result.stderr)}`)
  return figures.value
}

function describeRun(figures: RunFigures): string {
  const tails = Object.entries(figures.p999Ms).map(([kind, ms]) => `${kind} p99.9 ${figure(ms)} ms`)
  return `${figure(figures.opsPerS)} ops/s, ${tails.join(', ')}${figures.errors > 0 ? `, ${figures.errors} failed` : ''}`
}

function fail(json: boolean, code: CompareErrorCode, message: string): never {
  failScript('bench:compare', compareExitCodeOf(code), json, code, message)
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  const terminator = argv.indexOf('--')
  const own = terminator < 0 ? argv : argv.slice(0, terminator)
  const benchExtra = terminator < 0 ? [] : argv.slice(terminator + 1)
  const json = own.includes('--json')
  const values = readScriptFlags(
    () =>
      parseArgs({
        args: own,
        strict: true,
        allowPositionals: false,
        options: {
          base: {type: 'string'},
          rounds: {type: 'string'},
          workload: {type: 'string'},
          connections: {type: 'string'},
          rate: {type: 'string'},
          duration: {type: 'string'},
          warmup: {type: 'string'},
          nodes: {type: 'string'},
          records: {type: 'string'},
          seed: {type: 'string'},
          confidence: {type: 'string'},
          json: {type: 'boolean'},
          help: {type: 'boolean', short: 'h'},
        },
      }).values,
    usage,
    (message) => fail(json, 'bad_parameter', message),
  )
  if (values === undefined) return
  const parsed = parseCompareOptions(values, benchExtra)
  if (!parsed.ok) fail(json, 'bad_parameter', parsed.message)
  const options = parsed.value
  const log = (line: string): void => {
    process.stderr.write(`bench:compare: ${line}\n`)
  }

  const session = new Session()
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping what runs and removing the base's worktree`)
    session.interrupt(signal)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  let outcome: {code: number; output: string} | undefined
  let failure: CompareError | undefined
  try {
    outcome = await compare(session, options, log)
  } catch (error) {
    if (!(error instanceof CompareError)) throw error
    failure = error
  } finally {
    await session.cleanUp()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  // An interrupt that arrived while the last run was being read still counts as one.
  if (failure === undefined && session.interrupted) failure = new CompareError('interrupted', 'interrupted: every run and build started was stopped, and the base\'s worktree removed')
  if (failure !== undefined) fail(options.json, failure.code, failure.message)
  process.stdout.write((outcome as {output: string}).output)
  process.exitCode = (outcome as {code: number}).code
}

/**
 * The bench's flags, checked by the candidate's own parser before the base is checked out: a
 * mistyped flag after -- is refused in a second as bad usage, rather than after minutes of
 * installing and building the base, as a failed run. (Checks between flags, and of files, are the
 * bench's own, and still surface from its first run.)
 */
async function checkBenchFlags(args: readonly string[]): Promise<void> {
  const {default: Bench} = await import('../commands/bench.js')
  try {
    await Parser.parse(args.slice(1), {flags: Bench.flags, args: Bench.args, strict: true})
  } catch (error) {
    throw new CompareError('bad_parameter', `dyn bench would refuse its flags (${args.slice(1).join(' ')}): ${(error as Error).message.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('See more help')).join(': ')}: see node bin/run.js bench --help`)
  }
}

/** The whole comparison; what to print and the exit code. */
async function compare(session: Session, options: CompareOptions, log: (line: string) => void): Promise<{code: number; output: string}> {
  const repository = await findRepository(session)
  await checkCandidateBuilt(session)
  const base = await resolveBase(session, options.base)
  const candidate = await describeCandidate(session)
  const args = benchArgs(options)
  await checkBenchFlags(args)
  const warnings = planWarnings(options)
  if (base.commit === candidate.commit && candidate.uncommittedChanges === 0) {
    warnings.push('the base and the candidate are the same code: this measures the machine\'s noise alone')
  }
  for (const warning of warnings) log(`warning: ${warning}`)
  const baseRoot = await prepareBase(session, repository, base, log)

  const order = runOrder(options.rounds)
  const runs: MeasuredRun[] = []
  log(`${order.length} runs of: node bin/run.js ${args.join(' ')}`)
  for (const [i, planned] of order.entries()) {
    const figures = await benchRun(session, planned.side === 'base' ? baseRoot : packageRoot, args, options)
    runs.push({...planned, figures})
    log(`run ${i + 1}/${order.length}, round ${planned.round + 1}, ${planned.side.padEnd(9)}: ${describeRun(figures)}`)
  }

  const compared = compareRuns(runs, options.loop, options.confidence)
  if (!compared.ok) throw new CompareError('bench_failed', compared.message)
  const comparison = compared.value
  const code = exitCodeOfVerdict(comparison.verdict)
  if (!options.json) {
    return {code, output: formatComparison(comparison, options, {base: base.description, candidate: candidate.description}, runs)}
  }
  const answer = {
    ok: code === 0,
    verdict: comparison.verdict,
    exitCode: code,
    base: {ref: base.ref, commit: base.commit, description: base.description},
    candidate: {commit: candidate.commit, branch: candidate.branch ?? null, uncommittedChanges: candidate.uncommittedChanges, description: candidate.description},
    command: ['node', 'bin/run.js', ...args],
    options: {rounds: options.rounds, confidence: options.confidence, workload: options.workload, loop: options.loop, durationS: options.durationS, warmupS: options.warmupS, nodes: options.nodes, records: options.records, seed: options.seed, benchExtra: options.benchExtra},
    warnings,
    runs: runs.map((run: PlannedRun & {figures: RunFigures}) => ({round: run.round + 1, side: run.side, ...run.figures})),
    figures: comparison.figures,
    unpaired: comparison.unpaired,
  }
  return {code, output: `${JSON.stringify(answer, null, 2)}\n`}
}

await main()
