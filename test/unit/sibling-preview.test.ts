/**
 * Tests of how siblings are previewed and compared: JSON pretty-printed and diffed key by key,
 * text diffed by lines, binary shown in hex and compared by bytes.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {describeValue, diffAgainstFirst, hexPreviewBytesMax} from '../../src/cli/sibling-preview.js'

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

describe('describeValue', () => {
  it('pretty-prints JSON, keeps text, dumps binary in hex', () => {
    const json = describeValue(bytes('{"items":["book"]}'), 'application/octet-stream')
    assert.equal(json.kind, 'json')
    assert.deepEqual(json.lines, ['{', '  "items": [', '    "book"', '  ]', '}'])
    const text = describeValue(bytes('line one\nline two\n'), 'text/plain')
    assert.equal(text.kind, 'text')
    assert.deepEqual(text.lines, ['line one', 'line two'])
    const binary = describeValue(Uint8Array.from([0, 1, 2, 0x41, 255]), 'application/octet-stream')
    assert.equal(binary.kind, 'binary')
    assert.equal(binary.sizeBytes, 5)
    assert.deepEqual(binary.lines, ['0000 00 01 02 41 ff          ...A.'])
  })

  it('shows only the start of a large binary value and says how much is left', () => {
    const big = new Uint8Array(hexPreviewBytesMax + 100)
    const described = describeValue(big, 'application/octet-stream')
    assert.equal(described.lines.at(-1), '… 100 more bytes')
  })

  it('does not take a text that merely mentions braces for JSON', () => {
    assert.equal(describeValue(bytes('{not json'), 'text/plain').kind, 'text')
  })
})

describe('diffAgainstFirst', () => {
  it('diffs JSON objects key by key', () => {
    const raw = [bytes('{"a":1,"b":[1]}'), bytes('{"a":1,"b":[2],"c":true}')]
    const diff = diffAgainstFirst(raw.map((r) => describeValue(r, 'application/json')), raw, 1)
    assert.deepEqual(diff.lines, [
      {change: 'same', text: '$.a: 1'},
      {change: 'removed', text: '$.b: [1]'},
      {change: 'added', text: '$.b: [2]'},
      {change: 'added', text: '$.c: true'},
    ])
  })

  it('diffs text by lines', () => {
    const raw = [bytes('a\nb\nc'), bytes('a\nB\nc')]
    const diff = diffAgainstFirst(raw.map((r) => describeValue(r, 'text/plain')), raw, 1)
    assert.deepEqual(
      diff.lines.map((l) => `${l.change[0]}${l.text}`),
      ['sa', 'rb', 'aB', 'sc'],
    )
  })

  it('counts differing bytes of binary values', () => {
    const raw = [Uint8Array.from([0, 1, 2]), Uint8Array.from([0, 9, 2, 3])]
    const diff = diffAgainstFirst(raw.map((r) => describeValue(r, '')), raw, 1)
    assert.equal(diff.lines[0]?.text, '2 of 4 bytes differ (3 B and 4 B)')
  })
})
