/**
 * How siblings are shown side by side for reconciliation (`dyn resolve`, `dyn get` on a
 * terminal): what kind each value is (JSON, text or binary), a preview of it that fits a column,
 * and how each differs from the first (a line diff for text, key by key for JSON objects, a byte
 * count for binary). Pure: bytes in, plain data out, for the components in src/ui to render.
 */

import {diffLines} from 'diff'
import {canonicalJson} from './json-merge.js'

export type ValueKind = 'json' | 'text' | 'binary'

export interface ValueDescription {
  readonly kind: ValueKind
  readonly sizeBytes: number
  /** Preview lines: JSON pretty-printed, text as it is, binary as a hex dump; at most `previewLinesMax`. */
  readonly lines: readonly string[]
  /** Lines left out of the preview. */
  readonly moreLines: number
  /** The parsed document, for kind json. */
  readonly json?: unknown
}

export type DiffLine = {readonly change: 'same' | 'added' | 'removed'; readonly text: string}

export interface SiblingDiff {
  /** Index (0-based) of the sibling compared with the first one. */
  readonly against: number
  readonly lines: readonly DiffLine[]
}

/** Lines of one value's preview; the rest is counted, not shown. */
export const previewLinesMax = 200
/** Bytes of a binary value shown in hex. */
export const hexPreviewBytesMax = 256
const hexBytesPerLine = 8

export function describeValue(value: Uint8Array, contentType: string): ValueDescription {
  const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  const text = printableText(bytes)
  if (text === undefined) return limitLines('binary', bytes.length, hexDump(bytes.subarray(0, hexPreviewBytesMax)), bytes.length > hexPreviewBytesMax ? [`… ${bytes.length - hexPreviewBytesMax} more bytes`] : [])
  const json = parseJson(text, contentType)
  if (json.ok) return {...limitLines('json', bytes.length, JSON.stringify(json.value, null, 2).split('\n'), []), json: json.value}
  return limitLines('text', bytes.length, text.replace(/\n$/, '').split('\n'), [])
}

function limitLines(kind: ValueKind, sizeBytes: number, lines: string[], tail: string[]): ValueDescription {
  const shown = lines.slice(0, previewLinesMax)
  return {kind, sizeBytes, lines: [...shown, ...tail], moreLines: lines.length - shown.length}
}

/** The text of a value when it is valid UTF-8 without control characters other than tab and newlines. */
export function printableText(bytes: Buffer): string | undefined {
  const text = bytes.toString('utf8')
  if (!Buffer.from(text, 'utf8').equals(bytes)) return undefined
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) return undefined
  return text
}

/** JSON when the content type says so or the text looks like a document (an object or an array). */
function parseJson(text: string, contentType: string): {ok: true; value: unknown} | {ok: false} {
  const trimmed = text.trim()
  if (!contentType.includes('json') && !/^[[{]/.test(trimmed)) return {ok: false}
  try {
    return {ok: true, value: JSON.parse(trimmed) as unknown}
  } catch {
    return {ok: false}
  }
}

function hexDump(bytes: Buffer): string[] {
  const lines: string[] = []
  for (let offset = 0; offset < bytes.length; offset += hexBytesPerLine) {
    const chunk = bytes.subarray(offset, offset + hexBytesPerLine)
    const hex = [...chunk].map((b) => b.toString(16).padStart(2, '0')).join(' ')
    const ascii = [...chunk].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('')
    lines.push(`${offset.toString(16).padStart(4, '0')} ${hex.padEnd(hexBytesPerLine * 3 - 1)} ${ascii}`)
  }
  return lines
}

/** How sibling `index` differs from sibling 0. */
export function diffAgainstFirst(values: readonly ValueDescription[], raw: readonly Uint8Array[], index: number): SiblingDiff {
  const first = values[0]
  const other = values[index]
  if (first === undefined || other === undefined) return {against: index, lines: []}
  if (first.kind === 'json' && other.kind === 'json' && isObject(first.json) && isObject(other.json)) {
    return {against: index, lines: diffJsonObjects(first.json, other.json, '$')}
  }
  if (first.kind !== 'binary' && other.kind !== 'binary') {
    return {against: index, lines: diffText(first.lines.join('\n'), other.lines.join('\n'))}
  }
  return {against: index, lines: [diffBytes(raw[0] ?? new Uint8Array(), raw[index] ?? new Uint8Array())]}
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function diffText(a: string, b: string): DiffLine[] {
  const lines: DiffLine[] = []
  for (const part of diffLines(`${a}\n`, `${b}\n`)) {
    const change = part.added ? 'added' : part.removed ? 'removed' : 'same'
    for (const text of part.value.replace(/\n$/, '').split('\n')) lines.push({change, text})
  }
  return lines
}

/** Key by key: keys only in one side, and keys whose values differ (recursing into objects on both sides). */
function diffJsonObjects(a: Record<string, unknown>, b: Record<string, unknown>, path: string): DiffLine[] {
  const lines: DiffLine[] = []
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])]
  for (const key of keys) {
    const at = `${path}.${key}`
    const inA = Object.hasOwn(a, key)
    const inB = Object.hasOwn(b, key)
    if (inA && !inB) lines.push({change: 'removed', text: `${at}: ${JSON.stringify(a[key])}`})
    else if (!inA && inB) lines.push({change: 'added', text: `${at}: ${JSON.stringify(b[key])}`})
    else if (isObject(a[key]) && isObject(b[key])) lines.push(...diffJsonObjects(a[key] as Record<string, unknown>, b[key] as Record<string, unknown>, at))
    else if (canonicalJson(a[key]) === canonicalJson(b[key])) lines.push({change: 'same', text: `${at}: ${JSON.stringify(a[key])}`})
    else lines.push({change: 'removed', text: `${at}: ${JSON.stringify(a[key])}`}, {change: 'added', text: `${at}: ${JSON.stringify(b[key])}`})
  }
  return lines
}

function diffBytes(a: Uint8Array, b: Uint8Array): DiffLine {
  let differing = Math.abs(a.length - b.length)
  for (let i = 0; i < Math.min(a.length, b.length); i += 1) if (a[i] !== b[i]) differing += 1
  return {change: differing === 0 ? 'same' : 'added', text: differing === 0 ? 'the same bytes' : `${differing} of ${Math.max(a.length, b.length)} bytes differ (${a.length} B and ${b.length} B)`}
}
