/**
 * The HTML report of `dyn bench --report`, rendered from a real Recorder's histograms: the
 * percentile curve follows HdrHistogram's 1/(1-p) axis (paper §2.2's 99.9th percentile three
 * nines out), every chart is inline SVG with drawn paths, the SLA targets are on the percentile
 * chart, charts without data are left out, and nothing on the page comes from the network.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {Recorder} from '../../bench/recorder.js'
import {decadesLabel, escapeHtml, percentileCurve, percentileToDecades, renderHtmlReport} from '../../bench/html-report.js'
import {fixtureReport} from './bench-report-fixture.js'

/** The section with this id, from its opening tag to its closing one. */
function section(html: string, id: string): string | undefined {
  const start = html.indexOf(`<section id="${id}">`)
  if (start < 0) return undefined
  return html.slice(start, html.indexOf('</section>', start))
}

/** Paths with a non-empty outline: what a chart that drew something has. */
function drawnPaths(svg: string): number {
  return [...svg.matchAll(/<path\b[^>]*\bd="([^"]+)"/g)].length
}

describe('percentile axis', () => {
  it('places each percentile by its nines: 90% at 1, 99% at 2, 99.9% at 3', () => {
    assert.equal(percentileToDecades(0), 0)
    assert.ok(Math.abs(percentileToDecades(90) - 1) < 1e-9)
    assert.ok(Math.abs(percentileToDecades(99) - 2) < 1e-9)
    assert.ok(Math.abs(percentileToDecades(99.9) - 3) < 1e-9)
    assert.equal(percentileToDecades(100), Number.POSITIVE_INFINITY)
    assert.deepEqual([0, 1, 2, 3, 4, 5].map(decadesLabel), ['0%', '90%', '99%', '99.9%', '99.99%', '99.999%'])
  })

  it('draws the latency at every percentile of a real histogram, up to its slowest value', () => {
    const recorder = new Recorder()
    for (let ms = 1; ms <= 1000; ms += 1) recorder.record('read', 'ok', ms * 1000)
    const {points, count} = percentileCurve(recorder.encodedHistograms().read ?? '')
    recorder.destroy()
    assert.equal(count, 1000)
    const at = (decades: number): number => {
      const point = points.find(([x]) => Math.abs(x - decades) < 1e-6)
      assert.ok(point !== undefined, `a point at ${decades} decades`)
      return point[1]
    }
    // HDR keeps 3 significant digits: each value within 0.1%.
    const near = (actual: number, expected: number, what: string): void => assert.ok(Math.abs(actual - expected) <= expected * 0.001 + 0.001, `${what}: ${actual}, expected ${expected}`)
    near(at(0), 1, '0%')
    near(at(1), 900, '90%')
    near(at(2), 990, '99%')
    // The last point: 1000 values end at 1 - 1/1000, three nines out, with the maximum.
    assert.deepEqual(points.at(-1)?.[0], 3)
    near(points.at(-1)?.[1] ?? 0, 1000, 'max')
    for (let i = 1; i < points.length; i += 1) {
      assert.ok((points[i]?.[0] ?? 0) > (points[i - 1]?.[0] ?? 0), 'x increases')
      assert.ok((points[i]?.[1] ?? 0) >= (points[i - 1]?.[1] ?? 0), 'latency never falls with the percentile')
    }
  })
})

describe('renderHtmlReport', () => {
  const html = renderHtmlReport(fixtureReport())

  it('is one HTML page with every chart as inline SVG that draws paths', () => {
    assert.match(html, /^<!DOCTYPE html>\n<html lang="en">/)
    assert.match(html, /<title>dyn bench: workload a, 400 ops\/s, 3 nodes<\/title>/)
    for (const id of ['percentiles', 'throughput', 'tail', 'capacity']) {
      const part = section(html, id)
      assert.ok(part !== undefined, `a ${id} section`)
      assert.equal((part.match(/<svg\b/g) ?? []).length, 1, `${id}: one svg`)
      assert.ok(drawnPaths(part) >= 10, `${id}: the svg draws axes and lines (${drawnPaths(part)} paths)`)
      assert.match(part, /<figcaption>[^<]{40,}/, `${id}: a caption says what it shows`)
    }
  })

  it('puts the SLA targets on the percentile chart, coloured by their verdict, and lists the verdicts', () => {
    const chart = section(html, 'percentiles') ?? ''
    assert.match(chart, /SLA read p99\.9 ≤ 500 ms \(missed\)/)
    assert.match(chart, /SLA update p99 ≤ 2000 ms \(met\)/)
    assert.match(chart, /stroke="#d62728"/, 'the missed target is drawn red')
    assert.match(chart, /stroke="#2ca02c"/, 'the met target is drawn green')
    for (const label of ['0%', '90%', '99%', '99.9%']) assert.ok(chart.includes(`>${label}</text>`), `the axis is labelled ${label}`)
    const sla = section(html, 'sla') ?? ''
    assert.match(sla, /SLA <strong>fixture<\/strong>: <span class="missed">MISSED<\/span>/)
    assert.match(sla, /read p99\.9 &lt;= 500 ms<\/td><td class="num">99\d\.\d\d ms<\/td><td><span class="missed">MISSED/)
    assert.match(sla, /error rate &lt;= 0\.01<\/td><td class="num">0\.00000<\/td><td><span class="met">met/)
  })

  it('shades the fault while in force and lists it, with the run judged before, during and after', () => {
    const throughput = section(html, 'throughput') ?? ''
    assert.match(throughput, /fill="rgba?\(120,\s?120,\s?120/, 'a shaded window')
    assert.ok(throughput.includes('>kill n2</text>'), 'named on the chart')
    const faults = section(html, 'faults') ?? ''
    assert.match(faults, /<td>kill:n2@2<\/td><td>kill n2<\/td><td>2\.0 to 3\.0<\/td><td>2\.0 to 3\.0<\/td><td>restarted in 0\.8 s<\/td>/)
    // Reads of up to 400 ms before the fault meet p99.9 <= 500 ms; those after it, slower, do not.
    assert.match(faults, /<td>before<\/td><td>0\.0 to 2\.0<\/td><td><span class="met">met<\/span><\/td><td>400: /)
    assert.match(faults, /<td>after kill:n2@2<\/td><td>3\.0 to 5\.0<\/td><td><span class="missed">MISSED<\/span>/)
  })

  it('draws the capacity search with its steps, met and missed', () => {
    const capacity = section(html, 'capacity') ?? ''
    assert.match(capacity, /The highest rate that met it: <strong>300 ops\/s<\/strong> \(the highest rate met and the lowest missed are within 5%\)/)
    assert.match(capacity, /<td class="num">400<\/td><td class="num">396\.0<\/td><td><span class="missed">missed<\/span><\/td><td>[^<]+<\/td><td>[^<]+<\/td><td>read p99\.9 &lt;= 500 ms<\/td>/)
    assert.ok(capacity.includes('>limit read p99.9 ≤ 500 ms</text>'), 'the SLA limit is drawn')
  })

  it('shows the parameters and the operation table of the run', () => {
    const parameters = section(html, 'parameters') ?? ''
    for (const text of ['a (zipfian keys)', '10000, loaded in 2.5 s', '100 bytes', 'n=3 r=2 w=2', 'open loop at 400 ops/s, server-driven', '5 s measured after 2 s of warm-up', '3 (started for the run): 127.0.0.1:7070', "offered load 10.0% of this machine's HTTP ceiling"]) {
      assert.ok(parameters.includes(escapeHtml(text)), `parameters show ${text}`)
    }
    const operations = section(html, 'operations') ?? ''
    assert.match(operations, /<td>read<\/td><td class="num">1000<\/td><td class="num">200\.0<\/td><td class="num">500\.\d<\/td>/)
    assert.match(operations, /<td>update<\/td><td class="num">1000<\/td>/)
  })

  it('names the protocol of the calibrated ceiling: HTTPS for a run over HTTPS', () => {
    const report = fixtureReport()
    const calibration = report.calibration as NonNullable<typeof report.calibration>
    const parameters = section(renderHtmlReport({...report, config: {...report.config, https: true}, calibration: {...calibration, protocol: 'https'}}), 'parameters') ?? ''
    assert.ok(parameters.includes(escapeHtml("offered load 10.0% of this machine's HTTPS ceiling")), parameters)
    assert.ok(parameters.includes('(over HTTPS)'), parameters)
  })

  it('says what the nodes shed and how fast they refused', () => {
    const report = fixtureReport()
    const shedding = renderHtmlReport({...report, run: {...report.run, shed: 5}, nodeRefusalTimes: [{node: '127.0.0.1:7070', count: 5, p99Us: 310, maxUs: 900}]})
    assert.match(shedding, /5 shed by overloaded nodes, goodput 400\.0 ops\/s \(refusals answered at the nodes in 127\.0\.0\.1:7070 p99 310 µs\)/)
  })

  it('takes nothing from the network: no script, no stylesheet link, no external URL', () => {
    assert.doesNotMatch(html, /<script\b/i)
    assert.doesNotMatch(html, /<link\b/i)
    assert.doesNotMatch(html, /@import/i)
    assert.doesNotMatch(html, /\b(?:src|href|xlink:href)\s*=\s*["']?\s*(?:https?:)?\/\//i)
    assert.doesNotMatch(html, /url\(\s*["']?\s*(?:https?:)?\/\//i)
  })

  it('leaves out the charts whose data the report does not carry', () => {
    const plain = renderHtmlReport({...fixtureReport({sla: false, extras: false}), timeline: []})
    assert.ok(section(plain, 'percentiles') !== undefined)
    for (const id of ['throughput', 'tail', 'capacity', 'faults']) assert.equal(section(plain, id), undefined, `no ${id} section`)
    assert.match(plain, /No SLA given/)
    assert.doesNotMatch(section(plain, 'percentiles') ?? '', /SLA /)
  })

  it('escapes what the report carries', () => {
    const report = fixtureReport()
    const hostile = renderHtmlReport({...report, sla: report.sla === undefined ? undefined : {...report.sla, name: '<img src=x>'}, faults: [{spec: '<b>kill</b>', kind: 'kill', node: 'n2', atS: 1, endS: 2}]})
    assert.ok(!hostile.includes('<img src=x>'))
    assert.ok(hostile.includes('&lt;img src=x&gt;'))
    assert.ok(!hostile.includes('<b>kill</b>'))
  })
})
