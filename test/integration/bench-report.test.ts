/**
 * `dyn bench --report FILE.html` for real: a short run against a one-node cluster the bench
 * starts itself (free ports from the OS, stopped afterwards) writes one self-contained page whose
 * charts and tables are those of the run it printed; a missed SLA still writes it (exit 1), with
 * the target on the percentile chart; a folder that does not exist, and any output file that could
 * not be written, is refused before anything runs.
 */

import assert from 'node:assert/strict'
import {access, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {runDyn} from './harness.js'

/** Starting a node, loading 200 records and a 1 s run take a few seconds; a loaded machine more. */
const benchTimeoutMs = 120_000
const shortRun = ['--nodes', '1', '--duration', '1', '--warmup', '0', '--records', '200']

interface OperationJson {
  operation: string
  count: number
}

function section(html: string, id: string): string {
  const start = html.indexOf(`<section id="${id}">`)
  assert.ok(start >= 0, `the page has a ${id} section`)
  return html.slice(start, html.indexOf('</section>', start))
}

describe('dyn bench --report', () => {
  let dir: string

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dyn-bench-report-test-'))
  })

  after(async () => {
    if (dir !== undefined) await rm(dir, {recursive: true, force: true})
  })

  it('writes one self-contained page with the run it printed: charts as SVG, the operation table, the parameters', async () => {
    const file = path.join(dir, 'run.html')
    const result = await runDyn(['bench', ...shortRun, '--report', file, '--json'], {timeoutMs: benchTimeoutMs})
    assert.equal(result.code, 0, result.stderr + result.stdout)
    const report = JSON.parse(result.stdout) as {run: {operations: OperationJson[]}; timeline: unknown[]}
    const html = await readFile(file, 'utf8')
    assert.match(html, /^<!DOCTYPE html>/)
    assert.match(html, /<title>dyn bench: workload a, 50 connections, 1 node<\/title>/)
    assert.doesNotMatch(html, /<script\b|<link\b|@import/i)
    assert.doesNotMatch(html, /\b(?:src|href|xlink:href)\s*=\s*["']?\s*(?:https?:)?\/\//i)

    const percentiles = section(html, 'percentiles')
    assert.equal((percentiles.match(/<svg\b/g) ?? []).length, 1)
    assert.ok(report.run.operations.length > 0)
    const operations = section(html, 'operations')
    for (const op of report.run.operations) {
      // Each operation measured: a line on the percentile chart, and its row with its count.
      assert.ok(percentiles.includes(`>${op.operation}</text>`), `${op.operation} in the percentile chart's legend`)
      assert.ok(operations.includes(`<td>${op.operation}</td><td class="num">${op.count}</td>`), `${op.operation}'s row counts ${op.count}`)
    }
    // The run's timeline (a second or two) is drawn over time.
    assert.ok(report.timeline.length > 0)
    assert.match(section(html, 'throughput'), /<svg\b[\s\S]*<path\b/)
    assert.match(section(html, 'tail'), /<svg\b[\s\S]*<path\b/)
    const parameters = section(html, 'parameters')
    for (const text of ['200, loaded in', 'closed loop, 50 connections', '1 s measured after 0 s of warm-up', '1 (started for the run)']) assert.ok(parameters.includes(text), `parameters show ${text}`)
    assert.match(section(html, 'sla'), /No SLA given/)
  })

  it('still writes the page when the SLA is missed (exit 1), with the missed target on the percentile chart', async () => {
    const file = path.join(dir, 'missed.html')
    const sla = path.join(dir, 'impossible.json')
    await writeFile(sla, JSON.stringify({name: 'impossible', run: {workload: 'a', connections: 4}, targets: [{operation: 'read', percentile: 99, maxMs: 0.001}]}))
    const result = await runDyn(['bench', ...shortRun, '--sla', sla, '--report', file], {timeoutMs: benchTimeoutMs})
    assert.equal(result.code, 1, result.stderr + result.stdout)
    assert.match(result.stdout, /^SLA impossible: MISSED$/m)
    assert.match(result.stderr, /HTML report written to .*missed\.html/)
    const html = await readFile(file, 'utf8')
    assert.match(section(html, 'sla'), /SLA <strong>impossible<\/strong>: <span class="missed">MISSED<\/span>/)
    assert.match(section(html, 'percentiles'), /SLA read p99 ≤ 0\.001 ms \(missed\)/)
  })

  it('refuses a report in a folder that does not exist before running anything (exit 2)', async () => {
    const file = path.join(dir, 'no-such-folder', 'run.html')
    const result = await runDyn(['bench', ...shortRun, '--report', file], {timeoutMs: benchTimeoutMs})
    assert.equal(result.code, 2, result.stderr + result.stdout)
    assert.match(result.stderr, /--report .*no-such-folder.*does not exist/)
    assert.doesNotMatch(result.stderr, /loading|running/, 'nothing ran')
    await assert.rejects(access(file))
  })

  it('refuses every output file that could not be written, before running anything (exit 2)', async () => {
    const aFile = path.join(dir, 'a-file')
    await writeFile(aFile, 'not a folder\n')
    // /proc takes no new file, even from root, whom a permission check would let through.
    const cases: Array<[string, string, RegExp]> = [
      ['--report', dir, /--report .*: is a folder: give a file name in it/],
      ['--hdr-out', '/proc/run.hdr.json', /--hdr-out \/proc\/run\.hdr\.json: cannot write into \/proc .*choose a folder on a writable file system/],
      ['--junit', '/proc/junit.xml', /--junit \/proc\/junit\.xml: cannot write into \/proc/],
      ['--markdown', dir, /--markdown .*: is a folder/],
      // A folder to make where none can be made.
      ['--junit', '/proc/new-folder/junit.xml', /--junit \/proc\/new-folder\/junit\.xml: cannot make the folder \/proc\/new-folder/],
      // A file where a folder would have to be: known before the run, not after it.
      ['--markdown', path.join(aFile, 'sub', 'm.md'), /--markdown .*: cannot make the folder .*sub: .*a-file is not a folder \(ENOTDIR\)/],
    ]
    for (const [flag, file, refusal] of cases) {
      const result = await runDyn(['bench', ...shortRun, flag, file, '--json'], {timeoutMs: benchTimeoutMs})
      assert.equal(result.code, 2, `${flag} ${file}: ${result.stderr}${result.stdout}`)
      const answer = JSON.parse(result.stdout) as {error: string; message: string}
      assert.equal(answer.error, 'bad_parameter')
      assert.match(answer.message, refusal)
    }
    // A run refused for another reason makes none of its files' folders (a new user's walk found
    // them left by refused runs): the folders are made only when the files are written.
    const unmade = path.join(dir, 'not', 'made')
    const refused = await runDyn(['bench', ...shortRun, '-n', '99', '--markdown', path.join(unmade, 'm.md'), '--hdr-out', path.join(unmade, 'h.json'), '--json'], {timeoutMs: benchTimeoutMs})
    assert.equal(refused.code, 2, refused.stderr + refused.stdout)
    await assert.rejects(access(path.join(dir, 'not')), 'a refused run made a folder')
    // --hdr-out's folder is made, as --junit's and --markdown's are.
    const histograms = path.join(dir, 'made', 'for', 'run.hdr.json')
    const made = await runDyn(['bench', ...shortRun, '--hdr-out', histograms, '--json'], {timeoutMs: benchTimeoutMs})
    assert.equal(made.code, 0, made.stderr + made.stdout)
    assert.match(await readFile(histograms, 'utf8'), /HdrHistogram compressed base64/)
  })
})
