/** Plain-text renderings of API answers for the terminal (the --json forms print them as they are). */

import type {RequestTrace} from '../coordinator/cluster-view.js'

/** The request's trace, for --explain: who was asked, who answered and how fast, what was repaired. */
export function formatTrace(trace: unknown): string {
  if (typeof trace !== 'object' || trace === null) return 'no trace returned\n'
  const t = trace as RequestTrace
  const lines = [`coordinator ${t.coordinator}${t.forwardedBy ? ` (forwarded by ${t.forwardedBy})` : ''}, partition ${t.partition}`]
  lines.push(`preference list: ${t.preflist.map((e) => `${e.node}${e.home ? '' : ' (fallback)'}${e.up ? '' : ' [down]'}`).join(', ')}`)
  for (const reply of t.replies) {
    const extra = reply.error ? ` ${reply.error}` : reply.durable ? ' durable' : ''
    // A fallback standing in for an unreachable home: for a put, the hint it keeps names that home.
    const standIn = reply.hintFor ? ` fallback for ${reply.hintFor}` : ''
    lines.push(`  ${reply.node.padEnd(10)} ${reply.outcome.padEnd(9)} ${reply.latencyMs.toFixed(2).padStart(8)} ms${extra}${standIn}`)
  }
  if (t.hintsWritten !== undefined && t.hintsWritten.length > 0) lines.push(`hints written: ${t.hintsWritten.map((hint) => `on ${hint.node} for ${hint.target}`).join(', ')}`)
  if (t.counted !== undefined) lines.push(`counted: ${t.counted.home} from home replicas, ${t.counted.fallback} from fallbacks`)
  if (t.repaired.length > 0) lines.push(`read repair sent the merged object to: ${t.repaired.join(', ')}`)
  return `${lines.join('\n')}\n`
}

/** A value for display: the text when it is printable UTF-8, else base64 marked as such. */
export function displayValue(value: Buffer): string {
  const text = value.toString('utf8')
  // eslint-disable-next-line no-control-regex
  const printable = Buffer.from(text, 'utf8').equals(value) && !/[\u0000-\u0008\u000e-\u001f]/.test(text)
  return printable ? text : `base64:${value.toString('base64')}`
}

/** Read R and W against N: R + W <= N means a read may miss the latest acknowledged write. */
export function quorumWarning(n: number, r: number, w: number): string | undefined {
  if (r + w > n) return undefined
  return `warning: r=${r} + w=${w} <= n=${n}: a read may not see the latest acknowledged write`
}
