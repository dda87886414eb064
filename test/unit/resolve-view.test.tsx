/**
 * Component tests of the reconciliation screen without a terminal: siblings of JSON, text and
 * binary values of different sizes side by side with their diff, the merge preview with its
 * conflicts, many siblings paged, the outcomes, and the keys that drive it.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {renderToString} from 'ink'
import {render} from 'ink-testing-library'
import {inputReady, waitUntil} from './screen-waits.js'
import {candidateOf} from '../../src/cli/resolve-flow.js'
import type {SiblingRead} from '../../src/cli/resolve-flow.js'
import {candidateView, chooseState, racedMessage} from '../../src/cli/resolve-screen.js'
import {describeValue} from '../../src/cli/sibling-preview.js'
import type {ResolveAction, ResolveState} from '../../src/ui/resolve-state.js'
import {actionOf, ResolveApp, ResolveView} from '../../src/ui/resolve-view.js'

function readOf(values: Array<{value: Buffer; contentType?: string; deleted?: boolean; by?: string}>): SiblingRead {
  return {
    key: 'cart:bob',
    context: 'AQ',
    deleted: false,
    siblings: values.map((v, i) => {
      const contentType = v.contentType ?? 'application/octet-stream'
      return {number: i + 1, value: v.value, contentType, timestampMs: Date.UTC(2026, 11, 1, 9, 0, i), deleted: v.deleted ?? false, actor: `${v.by ?? `n${i + 1}`}.abc`, counter: 1, writtenBy: v.by ?? `n${i + 1}`, description: describeValue(v.value, contentType)}
    }),
  }
}

function draw(state: ResolveState, width = 80, height = 24): string[] {
  return renderToString(<ResolveView state={state} width={width} height={height} />, {columns: width}).split('\n')
}

function assertFits(lines: string[], width: number, height: number): void {
  assert.ok(lines.length <= height - 1, `${lines.length} lines`)
  for (const line of lines) assert.ok([...line].length <= width, `too wide: ${line}`)
}

describe('ResolveView', () => {
  it('JSON siblings side by side: kind, size, writer, time, pretty-printed values and a key-by-key diff', () => {
    const read = readOf([{value: Buffer.from('{"items":["book"]}'), contentType: 'application/json'}, {value: Buffer.from('{"items":["pen","mug"],"note":"gift"}'), contentType: 'application/json'}])
    const lines = draw(chooseState(read, 0))
    assertFits(lines, 80, 24)
    const text = lines.join('\n')
    assert.match(text, /cart:bob has 2 siblings/)
    assert.match(text, /\[1\] json · 18 B\s+\[2\] json · 37 B/)
    assert.match(text, /n1 · 2026-12-01 09:00:00Z\s+n2 · 2026-12-01 09:00:01Z/)
    assert.match(text, /"book"\s+"pen",/)
    assert.match(text, /how \[2\] differs from \[1\]/)
    assert.match(text, /- \$\.items: \["book"\]\n\+ \$\.items: \["pen","mug"\]\n\+ \$\.note: "gift"/)
    assert.match(text, /1-2 keep that sibling {2}m merge as JSON/)
  })

  it('says in words how a delete differs from a value, rather than a diff against its empty value', () => {
    // A walk saw "- v2" and an empty "+" line for a tombstone beside "v2", and a blank line
    // beside an empty value.
    const text = draw(chooseState(readOf([{value: Buffer.alloc(0), deleted: true}, {value: Buffer.from('v2'), contentType: 'text/plain'}]), 0)).join('\n')
    assert.match(text, /how \[2\] differs from \[1\]\n\s*\[1\] is a delete; \[2\] holds a value \(2 bytes\)/)
    assert.doesNotMatch(text, /- v2/)
    const empty = draw(chooseState(readOf([{value: Buffer.from('v1'), contentType: 'text/plain'}, {value: Buffer.alloc(0), deleted: true}, {value: Buffer.alloc(0), contentType: 'text/plain'}]), 1)).join('\n')
    assert.match(empty, /\[1\] holds a value \(2 bytes\); \[2\] is a delete/)
  })

  it('text siblings get a line diff; a binary one a hex preview and a byte count', () => {
    const text = draw(chooseState(readOf([{value: Buffer.from('milk\neggs\n')}, {value: Buffer.from('milk\nbread\n')}]), 0)).join('\n')
    assert.match(text, /\[1\] text · 10 B\s+\[2\] text · 11 B/)
    assert.match(text, /- eggs\n\+ bread/)
    const binary = draw(chooseState(readOf([{value: Buffer.from([0, 1, 2, 3, 0x41, 0x42])}, {value: Buffer.alloc(3000, 7)}]), 0)).join('\n')
    assert.match(binary, /\[1\] binary · 6 B\s+\[2\] binary · 2\.9 KiB/)
    assert.match(binary, /0000 00 01 02 03 41 42 {7}\.\.\.\.AB/)
    assert.match(binary, /… \d+ more lines/)
    assert.match(binary, /3000 of 3000 bytes differ \(6 B and 3000 B\)/)
  })

  it('pages through siblings that do not fit side by side', () => {
    const read = readOf(Array.from({length: 5}, (_, i) => ({value: Buffer.from(`v${i}`)})))
    const text = draw(chooseState(read, 4)).join('\n')
    assert.match(text, /showing 3-5, ←→ for the others/)
    assert.match(text, /\[5\] text/)
    assert.doesNotMatch(text, /\[1\] text/)
  })

  it('shows the merge before writing it, with the conflicting values and which was kept', () => {
    const read = readOf([{value: Buffer.from('{"items":["book"],"owner":"bob"}')}, {value: Buffer.from('{"items":["pen"],"owner":"alice"}')}])
    const candidate = candidateOf(read, {kind: 'merge'})
    assert.ok(candidate.ok)
    const lines = draw({phase: 'preview', key: read.key, siblings: [], candidate: candidateView(candidate, 'the JSON merge of 2 siblings')})
    assertFits(lines, 80, 24)
    const text = lines.join('\n')
    assert.match(text, /cart:bob: the JSON merge of 2 siblings, to write with the siblings' context/)
    assert.match(text, /"book",\n\s+"pen"/)
    assert.match(text, /\$\.owner: "bob" \| "alice" → "alice"/)
    assert.match(text, /y write it/)
  })

  it('says when it is done, and when another write arrived meanwhile', () => {
    assert.match(draw({phase: 'done', key: 'k', message: 'k resolved'}).join('\n'), /✔ k resolved/)
    assert.match(draw({phase: 'raced', key: 'k', message: 'another write arrived meanwhile', siblings: []}).join('\n'), /another write arrived meanwhile\nr resolve again {2}q leave them/)
  })
})

describe('ResolveApp keys', () => {
  it('offers the JSON merge only when every sibling is JSON; a refusal wraps instead of being cut; 12 siblings say how to reach 10-12', () => {
    const text = readOf([{value: Buffer.from('book')}, {value: Buffer.from('pen')}])
    const plain = chooseState(text, 0)
    assert.doesNotMatch(draw(plain).join('\n'), /merge as JSON/)
    assert.equal(actionOf(plain, 'm', {}), undefined)
    const json = chooseState(readOf([{value: Buffer.from('{"a":1}')}, {value: Buffer.from('[2]')}]), 0)
    assert.match(draw(json).join('\n'), /m merge as JSON/)
    assert.deepEqual(actionOf(json, 'm', {}), {kind: 'merge'})

    const notice = `sibling 2 is not JSON: ${'x'.repeat(120)} END`
    const refused = draw(chooseState(text, 0, {notice}))
    assertFits(refused, 80, 24)
    assert.match(refused.join(''), /END/)

    const many = draw(chooseState(readOf(Array.from({length: 12}, (_, i) => ({value: Buffer.from(`v${i}`)}))), 0))
    assert.match(many.join('\n'), /1-9 \(10-12: ←→ enter\) keep that sibling/)
  })

  it('after a raced write, counts your version apart from the others', () => {
    const latest = readOf([{value: Buffer.from('mine')}, {value: Buffer.from('theirs')}])
    const written = {choice: 'pick' as const, value: Buffer.from('mine'), contentType: 'application/octet-stream', deleted: false, conflicts: [], description: describeValue(Buffer.from('mine'), 'application/octet-stream')}
    assert.equal(racedMessage('cart:bob', latest, written), 'another write arrived meanwhile: cart:bob now has 2 versions, yours and 1 other that your write did not supersede')
  })

  it('turns keys into the actions of the phase shown', async () => {
    const read = readOf([{value: Buffer.from('{"a":1}')}, {value: Buffer.from('{"b":2}')}])
    const actions: ResolveAction[] = []
    const app = render(<ResolveApp state={chooseState(read, 0)} width={80} height={24} onAction={(action) => actions.push(action)} />)
    try {
      await inputReady(app)
      // Each key is read as it is written (ink reads stdin when it says it is readable), so the
      // keys keep their order; each key that is an action is waited for before the next.
      const keys: Array<{key: string; actions: number}> = [
        {key: '2', actions: 1},
        // 7 is no sibling: no action.
        {key: '7', actions: 1},
        {key: 'm', actions: 2},
        {key: 'e', actions: 3},
        {key: '\u001B[C', actions: 4},
        {key: '\r', actions: 5},
        // y means nothing before a preview: no action.
        {key: 'y', actions: 5},
        {key: 'q', actions: 6},
      ]
      for (const {key, actions: expected} of keys) {
        app.stdin.write(key)
        await waitUntil(`${JSON.stringify(key)} leaves ${expected} action(s)`, () => actions.length >= expected)
      }
      assert.deepEqual(actions, [{kind: 'pick', number: 2}, {kind: 'merge'}, {kind: 'edit'}, {kind: 'highlight', delta: 1}, {kind: 'pick', number: 1}, {kind: 'quit'}])
    } finally {
      app.unmount()
    }
  })
})
