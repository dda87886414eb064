/**
 * The ring as a strip of its Q partitions, one character per partition: the owner's mark (its
 * position in the member list: 1-9, then a-z) on the owner's colour, so the strip reads in colour
 * and in plain text alike. When Q is larger than the lines allow, each character stands for
 * several partitions and shows the owner of most of them. A partition changing hands is drawn as
 * `~` in the colour of its new owner. A legend names the owners with their partition counts.
 */

import {Box, Text} from 'ink'
import type {PartitionMove} from './cluster-snapshot.js'
import {ownerColor} from './theme.js'

export interface RingCell {
  readonly owner: string
  readonly moving: boolean
}

/** The cells to draw: at most `width × linesMax`, each the majority owner of its partitions. */
export function ringCells(owners: readonly string[], moves: readonly PartitionMove[], width: number, linesMax: number): RingCell[] {
  const capacity = Math.max(1, width * linesMax)
  const perCell = Math.max(1, Math.ceil(owners.length / capacity))
  const moving = new Map(moves.map((move) => [move.partition, move.to]))
  const cells: RingCell[] = []
  for (let start = 0; start < owners.length; start += perCell) {
    const tally = new Map<string, number>()
    let anyMoving: string | undefined
    for (let p = start; p < Math.min(owners.length, start + perCell); p += 1) {
      const owner = owners[p] as string
      tally.set(owner, (tally.get(owner) ?? 0) + 1)
      anyMoving ??= moving.get(p)
    }
    const majority = [...tally.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? ''
    cells.push(anyMoving === undefined ? {owner: majority, moving: false} : {owner: anyMoving, moving: true})
  }
  return cells
}

/** Neighbouring cells drawn alike, joined, so a line is a handful of coloured runs. */
function runsOf(line: readonly RingCell[]): Array<RingCell & {length: number}> {
  const runs: Array<RingCell & {length: number}> = []
  for (const cell of line) {
    const last = runs[runs.length - 1]
    if (last !== undefined && last.owner === cell.owner && last.moving === cell.moving) last.length += 1
    else runs.push({...cell, length: 1})
  }
  return runs
}

const marks = '123456789abcdefghijklmnopqrstuvwxyz'

/** The one-character mark of the member at `index`; `?` past the 35th. */
export function ownerMark(index: number): string {
  return index >= 0 && index < marks.length ? (marks[index] as string) : '?'
}

/**
 * `members` are the members now (the rows of the node table, without those that left), whose
 * positions give the marks and colours: a member that left owns nothing, and once took a mark
 * all the same, so that after a few leaves the strip read 7, a and b for a cluster of three.
 */
export function RingStrip({owners, moves, members, width, linesMax = 2}: {readonly owners: readonly string[]; readonly moves: readonly PartitionMove[]; readonly members: readonly string[]; readonly width: number; readonly linesMax?: number}) {
  const cells = ringCells(owners, moves, width, linesMax)
  const lines: RingCell[][] = []
  for (let i = 0; i < cells.length; i += width) lines.push(cells.slice(i, i + width))
  const colorOf = (name: string): string => ownerColor(Math.max(0, members.indexOf(name)))
  const counts = new Map<string, number>()
  for (const owner of owners) counts.set(owner, (counts.get(owner) ?? 0) + 1)
  const perCell = Math.max(1, Math.ceil(owners.length / Math.max(1, width * linesMax)))
  return (
    <Box flexDirection="column">
      <Text wrap="truncate">
        <Text bold>ring</Text>
        {` ${owners.length} partitions${perCell > 1 ? `, ${perCell} per cell` : ''}:`}
        {members.map((name) => (
          <Text key={name}>
            {'  '}
            <Text backgroundColor={colorOf(name)} color="black">{ownerMark(members.indexOf(name))}</Text>
            {` ${name} ${counts.get(name) ?? 0}`}
          </Text>
        ))}
        {moves.length > 0 ? <Text>{`  ~ ${moves.length} moving`}</Text> : null}
      </Text>
      {lines.map((line, index) => (
        <Text key={index} wrap="truncate">
          {runsOf(line).map((run, i) =>
            run.moving ? (
              <Text key={i} color={colorOf(run.owner)} bold>
                {'~'.repeat(run.length)}
              </Text>
            ) : (
              <Text key={i} backgroundColor={colorOf(run.owner)} color="black">
                {ownerMark(members.indexOf(run.owner)).repeat(run.length)}
              </Text>
            ),
          )}
        </Text>
      ))}
    </Box>
  )
}
