/**
 * The plain listing of a key's siblings (`dyn get` without a terminal, or when the user leaves
 * them): numbered as `numberSiblings` numbers them (src/api/sibling-order.ts: oldest first, the
 * numbers of `dyn get --json` and `dyn resolve --pick`), in aligned columns (number, value, size, when, through which
 * node), so that a glance down a column compares them. Values are padded to the longest one up
 * to `alignedValueCharsMax`; a longer value pushes only its own row's columns to the right.
 */

import {valueSummary} from './format.js'

export interface ListedSibling {
  /** Its number in the read (sibling-order.ts). */
  readonly number: number
  readonly value: Buffer
  readonly contentType: string
  readonly timestampMs: number
  readonly deleted: boolean
  readonly writtenBy?: string
}

/** Values longer than this are cut in the listing (the whole value is in --json). */
export const listedValueCharsMax = 200
export const alignedValueCharsMax = 40

/** A value's text on one row: each line break as ⏎, each tab as a space. */
export function oneLine(text: string): string {
  return text.replace(/\r?\n/g, '⏎').replace(/\t/g, ' ')
}

/** One row per sibling, in the order given, each with the number it was given (numberSiblings'). */
export function siblingListing(siblings: readonly ListedSibling[]): string[] {
  const rows = siblings.map((sibling) => {
    // One row per sibling: line breaks and tabs in a value would break the columns.
    const shown = sibling.deleted ? '(deleted)' : oneLine(valueSummary(sibling.value, sibling.contentType))
    return {
      number: `[${sibling.number}]`,
      size: sibling.deleted ? '-' : `${sibling.value.length} B`,
      when: new Date(sibling.timestampMs).toISOString(),
      by: sibling.writtenBy ?? '',
      value: shown.length > listedValueCharsMax ? `${shown.slice(0, listedValueCharsMax - 1)}…` : shown,
    }
  })
  const width = (pick: (row: (typeof rows)[number]) => string): number => Math.max(0, ...rows.map((row) => pick(row).length))
  const numberWidth = width((r) => r.number)
  const valueWidth = Math.min(alignedValueCharsMax, width((r) => r.value))
  const sizeWidth = width((r) => r.size)
  return rows.map((row) => `  ${row.number.padEnd(numberWidth)} ${row.value.padEnd(valueWidth)}  ${row.size.padStart(sizeWidth)}  ${row.when}${row.by ? `  ${row.by}` : ''}`)
}
