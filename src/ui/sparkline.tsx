/**
 * A sparkline: a series as one line of block characters, so a spike or a stall shows at a
 * glance. Gaps (NaN: no figure that refresh) are drawn as a space.
 */

import {Text} from 'ink'

const blocks = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█']

/** The last `width` values as block characters, scaled from 0 to the largest value shown. */
export function sparklineText(values: readonly number[], width: number): string {
  if (width <= 0) return ''
  const shown = values.slice(-width)
  const finite = shown.filter(Number.isFinite)
  const top = Math.max(0, ...finite)
  const line = shown
    .map((value) => {
      if (!Number.isFinite(value)) return ' '
      if (top === 0) return blocks[0]
      return blocks[Math.min(blocks.length - 1, Math.floor((value / top) * (blocks.length - 1) + 0.5))]
    })
    .join('')
  return line.padStart(width)
}

export function Sparkline({values, width, color}: {readonly values: readonly number[]; readonly width: number; readonly color?: string}) {
  return <Text color={color}>{sparklineText(values, width)}</Text>
}
