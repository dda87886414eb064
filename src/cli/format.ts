/** Plain-text renderings of API answers for the terminal (the --json forms print them as they are). */

import type {RequestTrace} from '../coordinator/cluster-view.js'

/** The request's trace, for --explain: who was asked, who answered and how fast, what was repaired. */
export function formatTrace(trace: unknown): string {
  if (typeof trace !== 'object' || trace === null) return 'no trace returned\n'
  const t = trace as RequestTrace
  const lines = [`coordinator ${t.coordinator}${t.forwardedBy ? ` (forwarded by ${t.forwardedBy})` : ''}${fallbackNote(t)}, partition ${t.partition}`]
  lines.push(`preference list: ${t.preflist.map((e) => `${e.node}${e.home ? '' : ' (fallback)'}${e.up ? '' : ' [down]'}`).join(', ')}`)
  const homes = new Set(t.preflist.filter((entry) => entry.home).map((entry) => entry.node))
  for (const reply of t.replies) {
    const extra = reply.error ? ` ${reply.error}` : reply.durable ? ' durable' : ''
    // A fallback standing in for an unreachable home: for a put, the hint it keeps names that home.
    // A coordinator that is not a home keeps its own copy too, which no read of the key asks.
    const standIn = reply.hintFor ? ` fallback for ${reply.hintFor}` : reply.node === t.coordinator && !homes.has(reply.node) ? ' own copy, not counted' : ''
    lines.push(`  ${reply.node.padEnd(10)} ${reply.outcome.padEnd(9)} ${reply.latencyMs.toFixed(2).padStart(8)} ms${extra}${standIn}`)
  }
  if (t.hintsWritten !== undefined && t.hintsWritten.length > 0) lines.push(`hints written: ${t.hintsWritten.map((hint) => `on ${hint.node} for ${hint.target}`).join(', ')}`)
  if (t.hintsKept !== undefined && t.hintsKept.length > 0) lines.push(`hints kept by the coordinator (not counted): ${t.hintsKept.map((hint) => `on ${hint.node} for ${hint.target}`).join(', ')}`)
  if (t.counted !== undefined) lines.push(`counted: ${t.counted.home} from home replicas, ${t.counted.fallback} from fallbacks`)
  if (t.repaired.length > 0) lines.push(`read repair sent the merged object to: ${t.repaired.join(', ')}`)
  return `${lines.join('\n')}\n`
}

/** For a put no home could take: why a node that is not a home coordinated it. */
function fallbackNote(t: RequestTrace): string {
  const tried = t.fallbackCoordinator?.homesTried
  if (tried === undefined) return ''
  return tried.length === 0 ? ' (a fallback: it sees every home replica down)' : ` (a fallback: no home replica took the put; tried ${tried.join(', ')})`
}

/** A count with its noun, singular for one: `1 byte`, `2 bytes`, `1 home replica` (`plural` when not just an added s). */
export function counted(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`
}

/** Whether a value is printable UTF-8 text (tabs and line breaks allowed, other control characters not). */
export function isPrintableText(value: Uint8Array): boolean {
  const buffer = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  const text = buffer.toString('utf8')
  // eslint-disable-next-line no-control-regex
  return Buffer.from(text, 'utf8').equals(buffer) && !/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text)
}

/** A value for display: the text when it is printable UTF-8, else base64 marked as such. */
export function displayValue(value: Buffer): string {
  return isPrintableText(value) ? value.toString('utf8') : `base64:${value.toString('base64')}`
}

/** Bytes shown of a binary value on a terminal: four lines of a hex dump. */
export const previewBytesMax = 64
const bytesPerLine = 16

/** A hex dump of the first bytes (offset, 16 bytes in hex, the printable ASCII), as `xxd` and `hexdump -C` show it. */
export function hexPreview(value: Uint8Array, bytesMax: number = previewBytesMax): string {
  const shown = value.subarray(0, bytesMax)
  const lines: string[] = []
  for (let offset = 0; offset < shown.length; offset += bytesPerLine) {
    const row = [...shown.subarray(offset, offset + bytesPerLine)]
    const hex = row.map((byte) => byte.toString(16).padStart(2, '0')).join(' ')
    const ascii = row.map((byte) => (byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : '.')).join('')
    lines.push(`${offset.toString(16).padStart(8, '0')}  ${hex.padEnd(bytesPerLine * 3 - 1)}  |${ascii}|`)
  }
  if (value.length > shown.length) lines.push(`... ${value.length - shown.length} more bytes`)
  return `${lines.join('\n')}\n`
}

/** One line about a value in a list (siblings): the text, or its size and first bytes when binary. */
export function valueSummary(value: Buffer, contentType: string): string {
  if (isPrintableText(value)) return value.toString('utf8')
  const head = [...value.subarray(0, 8)].map((byte) => byte.toString(16).padStart(2, '0')).join(' ')
  return `(binary, ${value.length} bytes, ${contentType}: ${head}${value.length > 8 ? ' ...' : ''})`
}

/** Under --explain in text mode: the trace of a request on stderr, when the node sent one (failures too). */
export function writeTrace(trace: unknown): void {
  if (typeof trace === 'object' && trace !== null) process.stderr.write(formatTrace(trace))
}

/** Read R and W against N: R + W <= N means a read may miss the latest acknowledged write. */
export function quorumWarning(n: number, r: number, w: number): string | undefined {
  if (r + w > n) return undefined
  return `r=${r} + w=${w} <= n=${n}: a read may not see the latest acknowledged write`
}

/** Every warning of the CLI goes to stderr in this one form: `dyn: warning: ...`. */
export function warn(text: string): void {
  process.stderr.write(`dyn: warning: ${text}\n`)
}

/** Where every command's printed command lines quote their words (src/shell-quote.ts). */
export {shellQuote} from '../shell-quote.js'
