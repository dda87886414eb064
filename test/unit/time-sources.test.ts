/**
 * Keeps real time and randomness out of src/ (issue 7, item 2): outside the process shell's real
 * parts (src/node/system-time.ts) and the CLI (src/cli/), no source file may touch the system
 * clock, Node's timers or Math.random. Everything else takes a Clock, a Scheduler and a Random,
 * which is what lets test/sim run a whole cluster on simulated time from one seed. A new call
 * fails this test; the message names the file, the line and what to use instead.
 */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readdirSync, readFileSync} from 'node:fs'
import {dirname, join, relative, sep} from 'node:path'
import {fileURLToPath} from 'node:url'

/** The repository root: this file runs as dist/test/unit/time-sources.test.js. */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

/** Each forbidden use, with what to use instead. */
const forbidden: ReadonlyArray<{readonly pattern: RegExp; readonly instead: string}> = [
  {pattern: /\bsetTimeout\b/, instead: 'Scheduler.after'},
  {pattern: /\bsetInterval\b/, instead: 'Scheduler.every'},
  {pattern: /\bsetImmediate\b/, instead: 'Scheduler.soon'},
  {pattern: /\bprocess\.nextTick\b/, instead: 'Scheduler.soon'},
  {pattern: /\bqueueMicrotask\b/, instead: 'Scheduler.soon'},
  {pattern: /\bnode:timers\b/, instead: 'a Scheduler'},
  {pattern: /\bDate\.now\b/, instead: 'Clock.nowMs'},
  {pattern: /\bnew Date\(\s*\)/, instead: 'Clock.nowMs'},
  {pattern: /\bperformance\.now\b/, instead: 'Clock.monotonicMs'},
  {pattern: /\bprocess\.hrtime\b/, instead: 'Clock.monotonicMs'},
  {pattern: /\bMath\.random\b/, instead: 'a Random'},
]

/** Files (relative, with '/') allowed to use real time, and which of the patterns; `all` for every one. */
const allowed: ReadonlyArray<{readonly path: RegExp; readonly patterns: 'all' | readonly RegExp[]; readonly why: string}> = [
  {path: /^src\/node\/system-time\.ts$/, patterns: 'all', why: 'the real Clock, Scheduler and Random'},
  {path: /^src\/cli\//, patterns: 'all', why: 'the CLI waits on real processes'},
  {path: /^src\/verify\/verify-run\.ts$/, patterns: 'all', why: 'the process shell of dyn verify: real processes, clients and faults for a set time (its decisions are in the pure nemesis.ts and cart-check.ts)'},
  {
    path: /^src\/client\/http-client\.ts$/,
    patterns: [/\bsetTimeout\b/, /\bclearTimeout\b/],
    why: 'the HTTP client of the client API times out real sockets; the CLI, bench and applications use it, never a node',
  },
]

/**
 * Blanks out comments and the contents of string and template literals, keeping line breaks, so
 * that a comment or a message that mentions setTimeout is not a use of it.
 */
export function codeOnly(source: string): string {
  let out = ''
  let index = 0
  const blank = (text: string): string => text.replace(/[^\n]/g, ' ')
  // Each pass consumes at least one character, so the loop ends after source.length passes.
  while (index < source.length) {
    const rest = source.slice(index, index + 2)
    let end: number
    if (rest === '//') {
      end = source.indexOf('\n', index)
      if (end === -1) end = source.length
    } else if (rest === '/*') {
      end = source.indexOf('*/', index + 2)
      end = end === -1 ? source.length : end + 2
    } else if (source[index] === "'" || source[index] === '"' || source[index] === '`') {
      const quote = source[index]
      end = index + 1
      while (end < source.length && source[end] !== quote) end += source[end] === '\\' ? 2 : 1
      end = Math.min(end + 1, source.length)
    } else {
      out += source[index]
      index += 1
      continue
    }
    out += blank(source.slice(index, end))
    index = end
  }
  return out
}

/** Every use of a forbidden pattern in `source` that `path` is not allowed, as "path:line: what (use instead)". */
export function violations(path: string, source: string): string[] {
  const found: string[] = []
  const lines = codeOnly(source).split('\n')
  const exemptions = allowed.filter((rule) => rule.path.test(path))
  for (const {pattern, instead} of forbidden) {
    const exempt = exemptions.some((rule) => rule.patterns === 'all' || rule.patterns.some((p) => p.source === pattern.source))
    if (exempt) continue
    lines.forEach((line, lineIndex) => {
      const match = pattern.exec(line)
      if (match !== null) found.push(`${path}:${lineIndex + 1}: ${match[0]} (use ${instead})`)
    })
  }
  return found
}

function sourceFiles(folder: string): string[] {
  const files: string[] = []
  for (const entry of readdirSync(folder, {withFileTypes: true})) {
    const path = join(folder, entry.name)
    if (entry.isDirectory()) files.push(...sourceFiles(path))
    else if (/\.tsx?$/.test(entry.name)) files.push(path)
  }
  return files
}

test('no file in src/ outside the shell and the CLI touches real time or randomness', () => {
  const files = sourceFiles(join(root, 'src'))
  assert.ok(files.length > 20, `found only ${files.length} source files under ${root}/src`)
  const found = files.flatMap((file) => violations(relative(root, file).split(sep).join('/'), readFileSync(file, 'utf8')))
  assert.deepEqual(found, [], `inject a Clock, Scheduler or Random instead:\n${found.join('\n')}`)
})

test('the check finds calls and passed references, but not comments or strings', () => {
  const source = [
    'const a = 1 // setTimeout in a comment',
    '/* Date.now() in a block',
    '   comment */ const b = "Math.random()"',
    "const c = 'process.nextTick'; const d = `setInterval ${1}`",
    'store.open({schedule: setImmediate})',
    'const t = setTimeout(() => {}, 5)',
    'const now = Date.now()',
    'const r = Math.random() * performance.now()',
  ].join('\n')
  assert.deepEqual(violations('src/coordinator/x.ts', source), [
    'src/coordinator/x.ts:6: setTimeout (use Scheduler.after)',
    'src/coordinator/x.ts:5: setImmediate (use Scheduler.soon)',
    'src/coordinator/x.ts:7: Date.now (use Clock.nowMs)',
    'src/coordinator/x.ts:8: performance.now (use Clock.monotonicMs)',
    'src/coordinator/x.ts:8: Math.random (use a Random)',
  ])
  assert.deepEqual(violations('src/node/system-time.ts', source), [])
  assert.deepEqual(violations('src/cli/local-cluster.ts', source), [])
  // A file allowed some patterns is held to the others.
  assert.deepEqual(violations('src/client/http-client.ts', 'setTimeout(f, 1)\nconst now = Date.now()'), [
    'src/client/http-client.ts:2: Date.now (use Clock.nowMs)',
  ])
  assert.deepEqual(violations('src/transport/tcp-transport.ts', 'process.nextTick(f)'), [
    'src/transport/tcp-transport.ts:1: process.nextTick (use Scheduler.soon)',
  ])
})
