import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {LineRelay} from '../../src/cli/line-relay.js'

const text = (buffer: Buffer): string => buffer.toString('utf8')

describe('LineRelay: a child\'s output passed on whole lines at a time', () => {
  it('passes whole lines at once and holds back an unfinished one until its end comes', () => {
    const relay = new LineRelay()
    assert.equal(text(relay.push(Buffer.from('one\ntwo\nthr'))), 'one\ntwo\n')
    assert.equal(relay.pendingBytes, 3)
    assert.equal(text(relay.push(Buffer.from('e'))), '')
    assert.equal(text(relay.push(Buffer.from('e\nfour'))), 'three\n')
    assert.equal(text(relay.end()), 'four')
    assert.equal(relay.pendingBytes, 0)
    assert.equal(text(relay.end()), '')
  })

  it('joins a line split anywhere, a multi-byte character included, whatever the chunks', () => {
    const lines = '{"ok":true,"node":"n1-1","msg":"été ✓"}\nplain line\n{"ok":false,"error":"x"}\n'
    const bytes = Buffer.from(lines)
    for (let cut = 1; cut < bytes.length; cut += 1) {
      const relay = new LineRelay()
      const out = Buffer.concat([relay.push(bytes.subarray(0, cut)), relay.push(bytes.subarray(cut)), relay.end()])
      assert.equal(text(out), lines, `cut at ${cut}`)
      // Nothing passed on before the end ever holds part of a line.
      const first = relay.push(bytes.subarray(0, cut))
      assert.ok(first.length === 0 || first[first.length - 1] === 0x0a)
      relay.end()
    }
  })

  it('passes on a line that outgrows the bound without its end, so memory stays bounded', () => {
    const relay = new LineRelay(8)
    assert.equal(text(relay.push(Buffer.from('abcd'))), '')
    assert.equal(text(relay.push(Buffer.from('efghij'))), 'abcdefghij')
    assert.equal(relay.pendingBytes, 0)
    assert.equal(text(relay.push(Buffer.from('x\n0123456789'))), 'x\n0123456789')
    assert.equal(relay.pendingBytes, 0)
  })

  it('refuses a bound that is not a whole number of bytes', () => {
    assert.throws(() => new LineRelay(0))
    assert.throws(() => new LineRelay(1.5))
  })
})
