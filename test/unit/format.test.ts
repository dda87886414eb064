/**
 * Tests of the terminal renderings: which values count as printable text, the hex preview that
 * stands in for a binary value on a terminal, and the --explain trace of a request.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {formatTrace, hexPreview, isPrintableText, previewBytesMax, valueSummary} from '../../src/cli/format.js'
import type {RequestTrace} from '../../src/coordinator/cluster-view.js'

describe('isPrintableText', () => {
  it('accepts UTF-8 text with tabs and line breaks, and refuses control bytes and invalid UTF-8', () => {
    for (const text of ['', 'hello', '{"items":["book"]}\n', 'a\tb\r\nc', 'späť ☃ 😀']) assert.equal(isPrintableText(Buffer.from(text)), true, JSON.stringify(text))
    for (const bytes of [[0], [0x62, 0x69, 0x6e, 1, 2], [0xff, 0xfe], [0xc3], [0x1b, 0x5b, 0x32, 0x4a], [0x7f]]) {
      assert.equal(isPrintableText(Buffer.from(bytes)), false, JSON.stringify(bytes))
    }
  })
})

describe('hexPreview', () => {
  it('shows offset, hex and ASCII per 16 bytes, like hexdump -C', () => {
    const preview = hexPreview(Buffer.from([0x62, 0x69, 0x6e, 0x00, 0x01, 0xff]))
    assert.equal(preview, `00000000  62 69 6e 00 01 ff${' '.repeat(30)}  |bin...|\n`)
  })

  it('stops at the preview size and says how many bytes it left out', () => {
    const value = Buffer.alloc(1000, 0xab)
    const lines = hexPreview(value).trimEnd().split('\n')
    assert.equal(lines.length, previewBytesMax / 16 + 1)
    assert.equal(lines[lines.length - 2]?.slice(0, 8), (previewBytesMax - 16).toString(16).padStart(8, '0'))
    assert.equal(lines[lines.length - 1], `... ${1000 - previewBytesMax} more bytes`)
  })

  it('never puts a terminal control byte into its output', () => {
    const every = Buffer.from(Array.from({length: 256}, (_, i) => i))
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(hexPreview(every, 256), /[\u0000-\u0009\u000b-\u001f\u007f-\u00ff]/)
  })
})

describe('valueSummary', () => {
  it('is the text itself, or the size and first bytes of a binary value', () => {
    assert.equal(valueSummary(Buffer.from('book'), 'text/plain'), 'book')
    assert.equal(valueSummary(Buffer.from([0, 1, 2]), 'image/png'), '(binary, 3 bytes, image/png: 00 01 02)')
  })
})

describe('formatTrace', () => {
  it('says when a fallback coordinated a put no home could take, and that its own copy is not counted', () => {
    const trace: RequestTrace = {
      coordinator: 'n4',
      partition: 9,
      preflist: [
        {node: 'n1', home: true, up: false},
        {node: 'n2', home: true, up: false},
        {node: 'n3', home: false, up: true},
        {node: 'n4', home: false, up: true},
      ],
      replies: [
        {node: 'n4', outcome: 'ok', latencyMs: 0.1},
        {node: 'n4', outcome: 'ok', latencyMs: 0.2, hintFor: 'n2'},
        {node: 'n3', outcome: 'ok', latencyMs: 1.5, hintFor: 'n1'},
      ],
      repaired: [],
      counted: {home: 0, fallback: 2},
      hintsWritten: [
        {node: 'n4', target: 'n2'},
        {node: 'n3', target: 'n1'},
      ],
      hintsKept: [{node: 'n4', target: 'n5'}],
      fallbackCoordinator: {homesTried: ['n1']},
    }
    const lines = formatTrace(trace).trimEnd().split('\n')
    assert.equal(lines[0], 'coordinator n4 (a fallback: no home replica took the put; tried n1), partition 9')
    assert.match(lines[2] ?? '', /^ {2}n4 +ok +0\.10 ms own copy, not counted$/)
    assert.match(lines[3] ?? '', /^ {2}n4 +ok +0\.20 ms fallback for n2$/)
    assert.ok(lines.includes('hints written: on n4 for n2, on n3 for n1'))
    assert.ok(lines.includes('hints kept by the coordinator (not counted): on n4 for n5'))
    assert.ok(lines.includes('counted: 0 from home replicas, 2 from fallbacks'))
    assert.match(formatTrace({...trace, fallbackCoordinator: {homesTried: []}}), /^coordinator n4 \(a fallback: it sees every home replica down\)/)
  })
})
