/**
 * Tests of the CI forms of `dyn bench` (bench/ci-reports.ts): the JUnit XML is well formed with
 * any text in it, has one test case per SLA target and error rate (a miss a failure with the
 * measured figure and the limit, a target not measured an error) and per figure compared with a
 * baseline; the Markdown summary has the parameters, the operation table, the verdicts, the
 * calibration and the comparison, with markup in names escaped.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'
import {compareWithBaseline} from '../../bench/baseline.js'
import {escapeMarkdown, escapeXml, junitReport, markdownSummary} from '../../bench/ci-reports.js'
import {latency, operation, report} from './bench-fixtures.js'
import type {ReportFixture} from './bench-fixtures.js'

/** The inverse of escapeXml for the five entities it writes. */
function unescapeXml(text: string): string {
  return text.replace(/&(lt|gt|quot|apos|amp);/g, (_, name: string) => ({lt: '<', gt: '>', quot: '"', apos: "'", amp: '&'})[name] as string)
}

interface XmlElement {
  readonly name: string
  readonly attributes: Record<string, string>
  readonly children: XmlElement[]
  text: string
}

/**
 * A strict reader for the XML subset the reports use (a declaration, elements, attributes in
 * double quotes, text, the five entities): it throws on anything malformed, so a test that reads
 * a report back also proves it well formed.
 */
function readXml(xml: string): XmlElement {
  const declaration = '<?xml version="1.0" encoding="UTF-8"?>\n'
  assert.ok(xml.startsWith(declaration), 'the XML declaration comes first')
  const root: XmlElement = {name: '#document', attributes: {}, children: [], text: ''}
  const stack = [root]
  const token = /<\/([\w-]+)>|<([\w-]+)((?:\s+[\w-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy
  token.lastIndex = declaration.length
  const checkText = (text: string): string => {
    assert.doesNotMatch(text, /&(?!(lt|gt|quot|apos|amp);)/, `a bare & in ${JSON.stringify(text)}`)
    assert.doesNotMatch(text, /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/, 'a character XML cannot carry')
    return unescapeXml(text)
  }
  while (token.lastIndex < xml.length) {
    const match = token.exec(xml)
    assert.ok(match !== null, `malformed XML at ${token.lastIndex}: ${JSON.stringify(xml.slice(token.lastIndex, token.lastIndex + 60))}`)
    const [, closing, opening, attributeText, selfClosing, text] = match
    const top = stack.at(-1) as XmlElement
    if (closing !== undefined) {
      assert.equal(closing, top.name, `</${closing}> closes <${top.name}>`)
      stack.pop()
    } else if (opening !== undefined) {
      const attributes: Record<string, string> = {}
      for (const [, name, value] of (attributeText ?? '').matchAll(/([\w-]+)="([^"]*)"/g)) {
        assert.equal(attributes[name as string], undefined, `attribute ${name} twice`)
        attributes[name as string] = checkText(value as string)
      }
      const element: XmlElement = {name: opening, attributes, children: [], text: ''}
      top.children.push(element)
      if (selfClosing !== '/') stack.push(element)
    } else {
      top.text += checkText(text as string)
      if (top === root) assert.match(text as string, /^\s*$/, 'no text outside the root element')
    }
  }
  assert.equal(stack.length, 1, `unclosed <${stack.at(-1)?.name}>`)
  assert.equal(root.children.length, 1, 'one root element')
  return root.children[0] as XmlElement
}

function all(element: XmlElement, name: string): XmlElement[] {
  return [...(element.name === name ? [element] : []), ...element.children.flatMap((child) => all(child, name))]
}

function testCase(xml: XmlElement, name: string): XmlElement {
  const found = all(xml, 'testcase').find((c) => c.attributes.name === name)
  assert.ok(found, `no testcase "${name}"`)
  return found
}

/** A run that met its read target, missed its update target and never ran an insert. */
function slaRun(slaName = 'ci'): ReportFixture {
  return report({
    config: {mode: {kind: 'open', ratePerS: 500}, n: 3, r: 2, w: 2},
    operations: [operation('read', 250, latency(2, 120)), operation('update', 250, latency(3, 355.6), {quorum_unmet: 2})],
    calibration: [operation('read', 5000, latency(0.5)), operation('update', 5000, latency(0.6))],
    sla: {
      name: slaName,
      met: false,
      verdicts: [
        {target: 'read p99.9 <= 300 ms', measured: 120, limit: 300, met: true},
        {target: 'update p99.9 <= 300 ms', measured: 355.6, limit: 300, met: false},
        {target: 'insert p99 <= 10 ms', measured: null, limit: 10, met: false},
        {target: 'error rate <= 0.001', measured: 0.0004, limit: 0.001, met: true},
      ],
    },
  })
}

describe('escapeXml', () => {
  it('(the strict reader refuses what is not well formed)', () => {
    const head = '<?xml version="1.0" encoding="UTF-8"?>\n'
    for (const bad of ['<a b="x<y"/>', '<a>x & y</a>', '<a><b></a></b>', '<a>', '<a/><b/>', '<a>\u0001</a>']) {
      assert.throws(() => readXml(head + bad), `${bad} read as well formed`)
    }
  })

  it('escapes the five special characters and replaces what XML cannot carry', () => {
    assert.equal(escapeXml(`a<b>&"c'`), 'a&lt;b&gt;&amp;&quot;c&apos;')
    assert.equal(escapeXml('tab\there\nline\u0000nul\u001Bescape'), 'tab\there\nline\uFFFDnul\uFFFDescape')
    assert.equal(escapeXml('lone \uD800 surrogate, pair \uD83D\uDE00 kept'), 'lone \uFFFD surrogate, pair \uD83D\uDE00 kept')
    assert.equal(escapeXml('&amp;'), '&amp;amp;', 'an entity in the input is text, escaped again')
  })

  it('any string escapes to text a strict reader takes back unchanged (XML-carriable characters)', () => {
    fc.assert(
      fc.property(fc.string({unit: 'binary'}), (text) => {
        const element = readXml(`<?xml version="1.0" encoding="UTF-8"?>\n<a b="${escapeXml(text)}">${escapeXml(text)}</a>`)
        const carriable = text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
        assert.equal(element.attributes.b, carriable)
        assert.equal(element.text, carriable)
      }),
    )
  })
})

describe('junitReport', () => {
  it('one test case per SLA target and the error rate: met passes, a miss fails with figure and limit, not measured is an error', () => {
    const xml = readXml(junitReport(slaRun(), undefined))
    assert.equal(xml.name, 'testsuites')
    assert.deepEqual(
      {tests: xml.attributes.tests, failures: xml.attributes.failures, errors: xml.attributes.errors, skipped: xml.attributes.skipped},
      {tests: '4', failures: '1', errors: '1', skipped: '0'},
    )
    const [suite] = all(xml, 'testsuite')
    assert.equal(suite?.attributes.name, 'dyn bench: SLA ci')
    assert.equal(suite?.attributes.time, '10.000')
    const properties = Object.fromEntries(all(xml, 'property').map((p) => [p.attributes.name, p.attributes.value]))
    assert.equal(properties.loop, 'open loop at 500 ops/s')
    assert.equal(properties.opsPerS, '500')
    assert.equal(properties.calibrationOpsPerS, '10000')
    assert.equal(properties.calibrationRatio, '0.05')
    assert.equal(properties.calibrationTransport, 'HTTP')
    assert.equal(properties.transport, 'HTTP')

    const met = testCase(xml, 'read p99.9 <= 300 ms')
    assert.deepEqual(met.children.map((c) => c.name), ['system-out'])
    assert.equal(met.attributes.classname, 'dyn.bench.sla.ci')
    const missed = testCase(xml, 'update p99.9 <= 300 ms')
    const failure = all(missed, 'failure')[0]
    assert.equal(failure?.attributes.type, 'sla_missed')
    assert.equal(failure?.attributes.message, 'measured 355.60 ms, over the limit of 300 ms')
    const notMeasured = testCase(xml, 'insert p99 <= 10 ms')
    assert.equal(all(notMeasured, 'failure').length, 0)
    const error = all(notMeasured, 'error')[0]
    assert.equal(error?.attributes.type, 'not_measured')
    assert.match(error?.attributes.message ?? '', /^not measured: the run recorded no operation of this kind.*counts it as missed/)
    assert.equal(all(testCase(xml, 'error rate <= 0.001'), 'failure').length, 0)
    assert.equal(all(testCase(xml, 'error rate <= 0.001'), 'system-out')[0]?.text, 'measured 0.00040, limit 0.001')
  })

  it('an error rate with no operation to count is an error, not a pass', () => {
    const run = slaRun()
    const sla = {name: 'x', met: false, verdicts: [{target: 'error rate <= 0.001', measured: null, limit: 0.001, met: false}]}
    const xml = readXml(junitReport({...run, sla}, undefined))
    assert.match(all(testCase(xml, 'error rate <= 0.001'), 'error')[0]?.attributes.message ?? '', /no operation, so the error rate could not be checked/)
  })

  it('an SLA name with markup and control characters stays well formed and reads back', () => {
    const name = `<ci & "friends"> 'quoted' \u0007bell`
    const xml = readXml(junitReport(slaRun(name), undefined))
    assert.equal(all(xml, 'testsuite')[0]?.attributes.name, `dyn bench: SLA <ci & "friends"> 'quoted' \uFFFDbell`)
    assert.equal(testCase(xml, 'read p99.9 <= 300 ms').attributes.classname, `dyn.bench.sla.<ci & "friends"> 'quoted' \uFFFDbell`)
  })

  it('with a baseline: a suite of one test case per figure compared, a regression a failure saying by how much', () => {
    const current = slaRun()
    const baseline = report({config: current.config, operations: [operation('read', 250, latency(2, 100)), operation('update', 250, latency(3, 200))]})
    const regression = compareWithBaseline(baseline, current, {source: 'main <&>.json', maxRegression: 0.1, metrics: ['throughput', 'p99.9']})
    const xml = readXml(junitReport(current, regression))
    const suites = all(xml, 'testsuite')
    assert.deepEqual(suites.map((s) => s.attributes.name), ['dyn bench: SLA ci', 'dyn bench: against the baseline main <&>.json'])
    assert.equal(suites[1]?.attributes.tests, '5')
    assert.equal(suites[1]?.attributes.failures, '2')
    assert.equal(xml.attributes.tests, '9')
    assert.equal(xml.attributes.failures, '3')
    const tail = all(testCase(xml, 'update p99.9'), 'failure')[0]
    assert.equal(tail?.attributes.type, 'regression')
    assert.equal(tail?.attributes.message, 'this run 355.6 ms, baseline 200.0 ms: 77.8% worse, over the tolerance of 10.0%')
    assert.equal(all(testCase(xml, 'all throughput'), 'system-out')[0]?.text, 'this run 500.0 ops/s, baseline 500.0 ops/s: unchanged')
    const properties = Object.fromEntries(all(suites[1] as XmlElement, 'property').map((p) => [p.attributes.name, p.attributes.value]))
    assert.equal(properties.unit, 'raw')
    assert.equal(properties.maxRegression, '10.0%')
  })

  it('a figure that could not be compared is skipped', () => {
    const current = slaRun()
    const baseline = report({config: current.config, operations: [operation('read', 250, latency(2, 120))]})
    const regression = compareWithBaseline(baseline, current, {source: 'b.json', maxRegression: 0.1, metrics: ['p99.9']})
    const xml = readXml(junitReport({...current, sla: undefined}, regression))
    const skipped = all(testCase(xml, 'update p99.9'), 'skipped')[0]
    assert.equal(skipped?.attributes.type, 'not_compared')
    assert.match(skipped?.attributes.message ?? '', /the baseline has no update operation/)
    assert.equal(xml.attributes.skipped, '1')
    assert.equal(all(xml, 'testsuite').length, 1, 'no SLA suite without an SLA')
  })
})

describe('escapeMarkdown', () => {
  it('escapes markup and the cell separator, and keeps a cell on one line', () => {
    assert.equal(escapeMarkdown('read p99.9 <= 300 ms'), 'read p99.9 \\<= 300 ms')
    assert.equal(escapeMarkdown('a|b *c* _d_ `e` [f](g) <h> #i ~j~ !k &l \\m'), 'a\\|b \\*c\\* \\_d\\_ \\`e\\` \\[f\\](g) \\<h\\> \\#i \\~j\\~ \\!k \\&l \\\\m')
    assert.equal(escapeMarkdown('two\nlines\r\n'), 'two lines ')
  })
})

describe('markdownSummary', () => {
  it('has the parameters, the operation table, the calibration and each target with its verdict', () => {
    const text = markdownSummary(slaRun('c|i'), undefined)
    assert.match(text, /^## dyn bench: ❌ SLA missed$/m)
    assert.match(text, /^Workload \*\*a\*\* \(zipfian\), 1000 records of 100 bytes, n=3 r=2 w=2, open loop at 500 ops\/s, server-driven, 10 s measured after 2 s of warm-up, against 3 node\(s\)\.$/m)
    assert.match(text, /^\| operation \| count \| ops\/s \| p50 ms \| p90 ms \| p99 ms \| p99\.9 ms \| max ms \| errors \|$/m)
    assert.match(text, /^\| read \| 2500 \| 250\.0 \| 2\.00 \| 4\.00 \| 10\.00 \| 120\.0 \| 180\.0 \| none \|$/m)
    assert.match(text, /^\| update \| 2500 \| 250\.0 \| 3\.00 \| 6\.00 \| 15\.00 \| 355\.6 \| 533\.4 \| quorum\\_unmet 2 \|$/m)
    assert.match(text, /^Calibration: Offered load was 5\.0% of this machine's HTTP ceiling \(500 \/ 10000 ops\/s/m)
    // A run over HTTPS is calibrated against a trivial HTTPS server, and says so.
    const overHttps = markdownSummary({...slaRun(), config: {...slaRun().config, https: true}, calibration: {...(slaRun().calibration as NonNullable<ReportFixture['calibration']>), protocol: 'https'}}, undefined)
    assert.match(overHttps, /against 3 node\(s\) over HTTPS\.$/m)
    assert.match(overHttps, /^Calibration: Offered load was 5\.0% of this machine's HTTPS ceiling /m)
    const junitOverHttps = readXml(junitReport({...slaRun(), calibration: {...(slaRun().calibration as NonNullable<ReportFixture['calibration']>), protocol: 'https'}}, undefined))
    assert.equal(Object.fromEntries(all(junitOverHttps, 'property').map((p) => [p.attributes.name, p.attributes.value])).calibrationTransport, 'HTTPS')
    assert.match(text, /^### SLA c\\\|i: ❌ missed$/m)
    assert.match(text, /^\| read p99\.9 \\<= 300 ms \| 120\.00 ms \| 300 ms \| ✅ met \|$/m)
    assert.match(text, /^\| update p99\.9 \\<= 300 ms \| 355\.60 ms \| 300 ms \| ❌ missed \|$/m)
    assert.match(text, /^\| insert p99 \\<= 10 ms \| not measured \| 10 ms \| ❌ not measured \|$/m)
    assert.match(text, /^\| error rate \\<= 0\.001 \| 0\.00040 \| 0\.001 \| ✅ met \|$/m)
    assert.doesNotMatch(text, /baseline/i)
    // Every table row has as many cells as its header: no unescaped | slipped into a cell.
    for (const table of text.split(/\n\n/).filter((block) => block.startsWith('|'))) {
      const widths = table.split('\n').filter((line) => line !== '').map((line) => line.replace(/\\\|/g, '').split('|').length)
      assert.ok(widths.every((w) => w === widths[0]), `ragged table:\n${table}`)
    }
  })

  it('with a baseline of a short run, says that its percentiles rest on too few samples', () => {
    const short = report({operations: [operation('read', 15, latency(2, 20))]})
    const regression = compareWithBaseline(short, short, {source: 'short.json', maxRegression: 0.1, metrics: ['throughput', 'p99.9']})
    const text = markdownSummary(short, regression)
    assert.match(text, /^> \*\*Warning:\*\* read p99\.9 rests on too few samples to mean much \(this run 150, the baseline 150\): .*1,000 for p99\.9/m)
  })

  it('a run without targets or baseline is summarised without a verdict', () => {
    const text = markdownSummary(report({operations: [operation('read', 100, latency(1))]}), undefined)
    assert.match(text, /^## dyn bench$/m)
    assert.match(text, /closed loop, 50 connections/)
    assert.doesNotMatch(text, /SLA|Calibration/)
  })

  it('with a baseline: the unit, the tolerance, the raw-units warning and each figure with its change', () => {
    const current = slaRun()
    const baseline = report({config: current.config, operations: [operation('read', 250, latency(2, 100)), operation('update', 250, latency(3, 200))]})
    const regression = compareWithBaseline(baseline, current, {source: 'main.json', maxRegression: 0.25, metrics: ['throughput', 'p99.9']})
    const text = markdownSummary({...current, sla: {...(current.sla as NonNullable<ReportFixture['sla']>), met: true}}, regression)
    assert.match(text, /^## dyn bench: ❌ SLA met, regressed$/m)
    assert.match(text, /^### Against the baseline main\.json: ❌ regressed$/m)
    assert.match(text, /^Tolerance 25\.0%; unit: raw ms and ops\/s\.$/m)
    assert.match(text, /^> \*\*Warning:\*\* compared in raw ms and ops\/s: the baseline was not calibrated/m)
    assert.match(text, /^\| update p99\.9 \| 355\.6 ms \| 200\.0 ms \| 77\.8% worse \| ❌ worse \|$/m)
    assert.match(text, /^\| read p99\.9 \| 120\.0 ms \| 100\.0 ms \| 20\.0% worse \| ✅ ok \|$/m)
  })
})
