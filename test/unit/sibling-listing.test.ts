/** The plain listing of siblings: one row per sibling, whatever the values hold. */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {siblingListing} from '../../src/cli/sibling-listing.js'

describe('siblingListing', () => {
  it('keeps each sibling on one row when values span lines, so the columns stay aligned', () => {
    const rows = siblingListing([
      {number: 1, value: Buffer.from('{\n  "items": ["book"]\n}'), contentType: 'application/json', timestampMs: Date.UTC(2026, 11, 1), deleted: false},
      {number: 2, value: Buffer.from('pen\tmug'), contentType: 'text/plain', timestampMs: Date.UTC(2026, 11, 2), deleted: false},
    ])
    assert.equal(rows.length, 2)
    assert.match(rows[0] ?? '', /\[1\] \{⏎  "items": \["book"\]⏎\}/)
    assert.match(rows[1] ?? '', /\[2\] pen mug/)
    const dates = rows.map((row) => row.indexOf('2026-12-0'))
    assert.equal(dates[0], dates[1], rows.join('\n'))
  })
})
