/**
 * The HTML report of `dyn bench --report` as a reader sees it: opened in headless Chromium with
 * no network, it must show its charts. The DOM Chromium builds must hold each chart's SVG with
 * drawn paths, and the screenshot must show each operation's line, in its colour, across the
 * plot (not only in a legend), and the SLA targets in their verdict's colour. A page whose SVGs
 * are emptied is checked the same way and must fail, so the check cannot pass vacuously.
 * Chromium comes from Debian (`apt-get install chromium`; .ci/run installs it): without it this
 * test fails, saying so, rather than passing unchecked.
 */

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {constants} from 'node:fs'
import {access, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {PNG} from 'pngjs'
import {colourOf, metColour, missedColour, renderHtmlReport} from '../../bench/html-report.js'
import {fixtureReport} from '../unit/bench-report-fixture.js'

/** A Chromium run that has not finished by then is killed and the test fails. */
const chromiumTimeoutMs = 90_000
const windowWidthPx = 1200
const windowHeightPx = 4000
/**
 * A line across a plot spans most of its 900 px; a legend icon about 25 px, and the verdict
 * words of the tables (MISSED in red, met in green) under 300.
 */
const lineSpanMinPx = 500
const linePixelsMin = 300
/** Channel distance within which a pixel counts as a colour (the core of an antialiased line is exact). */
const colourTolerance = 24

async function findChromium(): Promise<string | undefined> {
  for (const folder of (process.env.PATH ?? '').split(path.delimiter)) {
    for (const name of ['chromium', 'chromium-browser']) {
      const candidate = path.join(folder, name)
      if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate
    }
  }
  return undefined
}

/**
 * Runs Chromium headless on one page with a profile folder of its own, and kills its process
 * group afterwards whatever happened (Chromium leaves helper processes behind when killed alone).
 */
async function runChromium(binary: string, profile: string, args: readonly string[]): Promise<{code: number | null; stdout: string; stderr: string}> {
  const child = spawn(
    binary,
    ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--force-device-scale-factor=1', '--no-first-run', '--no-default-browser-check', '--disable-extensions', '--disable-background-networking', `--user-data-dir=${profile}`, ...args],
    {detached: true, stdio: ['ignore', 'pipe', 'pipe']},
  )
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
  let timer: NodeJS.Timeout | undefined
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`chromium did not finish within ${chromiumTimeoutMs} ms: ${Buffer.concat(err).toString().slice(-2000)}`)), chromiumTimeoutMs)
      child.once('error', reject)
      child.once('close', (exitCode) => resolve(exitCode))
    })
    return {code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8')}
  } finally {
    clearTimeout(timer)
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        // The group is already gone.
      }
    }
  }
}

interface ColourCount {
  readonly pixels: number
  /** From the leftmost to the rightmost pixel of the colour. */
  readonly spanPx: number
}

function countColour(png: PNG, hex: string): ColourCount {
  const [r, g, b] = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as [number, number, number]
  let pixels = 0
  let left = Number.POSITIVE_INFINITY
  let right = Number.NEGATIVE_INFINITY
  for (let y = 0; y < png.height; y += 1) {
    for (let x = 0; x < png.width; x += 1) {
      const i = (y * png.width + x) * 4
      const data = png.data
      if (Math.abs((data[i] ?? 0) - r) <= colourTolerance && Math.abs((data[i + 1] ?? 0) - g) <= colourTolerance && Math.abs((data[i + 2] ?? 0) - b) <= colourTolerance) {
        pixels += 1
        left = Math.min(left, x)
        right = Math.max(right, x)
      }
    }
  }
  return {pixels, spanPx: pixels === 0 ? 0 : right - left + 1}
}

/** The colours the report's figures say must be drawn: each operation's line, each target's verdict. */
function expectedColours(report: ReturnType<typeof fixtureReport>): Array<{what: string; hex: string}> {
  const operations = Object.keys(report.histograms).sort()
  const expected = operations.map((operation, index) => ({what: `${operation}'s line`, hex: colourOf(operation, index)}))
  for (const verdict of report.sla?.verdicts ?? []) {
    if (verdict.operation !== undefined) expected.push({what: `the ${verdict.met ? 'met' : 'missed'} target ${verdict.target}`, hex: verdict.met ? metColour : missedColour})
  }
  return expected
}

describe('dyn bench --report in a browser', () => {
  let chromium: string | undefined
  let dir: string

  before(async () => {
    chromium = await findChromium()
    dir = await mkdtemp(path.join(tmpdir(), 'dyn-bench-report-browser-'))
  })

  after(async () => {
    if (dir !== undefined) await rm(dir, {recursive: true, force: true})
  })

  const requireChromium = (): string => {
    if (chromium === undefined) assert.fail('chromium is not installed, so the HTML report cannot be checked in a browser: install it (apt-get install chromium; .ci/run does) and run again')
    return chromium
  }

  it('Chromium builds each chart as SVG with its paths and its series labelled', async () => {
    const binary = requireChromium()
    const page = path.join(dir, 'dom.html')
    await writeFile(page, renderHtmlReport(fixtureReport()))
    const result = await runChromium(binary, path.join(dir, 'profile-dom'), ['--dump-dom', `file://${page}`])
    assert.equal(result.code, 0, result.stderr.slice(-2000))
    const dom = result.stdout
    for (const id of ['percentiles', 'throughput', 'tail', 'capacity']) {
      const start = dom.indexOf(`<section id="${id}">`)
      assert.ok(start >= 0, `the DOM has the ${id} section`)
      const part = dom.slice(start, dom.indexOf('</section>', start))
      assert.equal((part.match(/<svg\b/g) ?? []).length, 1, `${id}: one svg element`)
      const paths = [...part.matchAll(/<path\b[^>]*\bd="([^"]+)"/g)]
      assert.ok(paths.length >= 10, `${id}: ${paths.length} drawn paths`)
      // The legend names each operation on every chart.
      for (const operation of ['read', 'update']) assert.match(part, new RegExp(`>${operation}( p99(\\.9)?)?</text>`), `${id}: ${operation} in the legend`)
    }
  })

  it('the screenshot shows each operation and each SLA target in its colour across the plot, and an emptied page does not', async () => {
    const binary = requireChromium()
    const report = fixtureReport()
    const html = renderHtmlReport(report)
    const expected = expectedColours(report)
    const screenshot = async (name: string, content: string): Promise<PNG> => {
      const page = path.join(dir, `${name}.html`)
      const png = path.join(dir, `${name}.png`)
      await writeFile(page, content)
      const result = await runChromium(binary, path.join(dir, `profile-${name}`), [`--screenshot=${png}`, `--window-size=${windowWidthPx},${windowHeightPx}`, `file://${page}`])
      assert.equal(result.code, 0, result.stderr.slice(-2000))
      const image = PNG.sync.read(await readFile(png))
      assert.equal(image.width, windowWidthPx)
      return image
    }

    const image = await screenshot('report', html)
    for (const {what, hex} of expected) {
      const seen = countColour(image, hex)
      assert.ok(seen.pixels >= linePixelsMin && seen.spanPx >= lineSpanMinPx, `${what} (${hex}): ${seen.pixels} pixels spanning ${seen.spanPx} px in the screenshot`)
    }

    // The same page with every chart's shapes removed: the same check must see no lines.
    const emptied = html.replace(/<path\b[^>]*>(<\/path>)?/g, '')
    const control = await screenshot('emptied', emptied)
    for (const {what, hex} of expected) {
      const seen = countColour(control, hex)
      assert.ok(seen.pixels < linePixelsMin || seen.spanPx < lineSpanMinPx, `with the charts emptied, ${what} (${hex}) still shows ${seen.pixels} pixels spanning ${seen.spanPx} px: the check would not notice a chart that fails to draw`)
    }
  })
})
