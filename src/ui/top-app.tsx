/**
 * The interactive `dyn top`: the TopView plus the keys. It keeps only what the viewer chose
 * (selection, detail, key list) and tells the command when the detail panel wants a node's own
 * view (`onFocus`) or the viewer quits; the snapshots come in as props, fetched elsewhere.
 */

import {useRef, useState} from 'react'
import {useInput} from 'ink'
import type {ClusterSnapshot} from './cluster-snapshot.js'
import {membersNow, TopView} from './top-view.js'
import type {TopMode} from './top-view.js'

export interface TopAppProps {
  readonly snapshot: ClusterSnapshot | undefined
  readonly width: number
  readonly height: number
  readonly onQuit: () => void
  /** The node whose own view the detail panel needs, or undefined when the panel closes. */
  readonly onFocus: (name: string | undefined) => void
}

interface Choice {
  readonly selected: number
  readonly mode: TopMode
}

export function TopApp({snapshot, width, height, onQuit, onFocus}: TopAppProps) {
  // Keys can arrive several in one read (a paste, a fast typist, tmux send-keys): each must see
  // the choice the previous one made, so the choice lives in a ref and the state only redraws.
  const choice = useRef<Choice>({selected: 0, mode: 'main'})
  const [, redraw] = useState<Choice>(choice.current)
  // The selection moves over the rows shown: the members now (those that left are on one line apart).
  const rows = membersNow(snapshot?.nodes ?? [])
  const count = rows.length
  const clamp = (index: number): number => Math.max(0, Math.min(count - 1, index))
  const choose = (next: Choice): void => {
    choice.current = next
    redraw(next)
  }
  useInput((input, key) => {
    const {selected, mode} = choice.current
    const current = clamp(selected)
    if (input === 'q' || (key.ctrl && input === 'c')) return onQuit()
    if (key.upArrow || key.downArrow) {
      const next = clamp(current + (key.upArrow ? -1 : 1))
      choose({selected: next, mode})
      if (mode === 'detail') onFocus(rows[next]?.name)
      return
    }
    if (key.return) {
      const opening = mode !== 'detail'
      choose({selected: current, mode: opening ? 'detail' : 'main'})
      onFocus(opening ? rows[current]?.name : undefined)
      return
    }
    if (key.escape) {
      choose({selected: current, mode: 'main'})
      onFocus(undefined)
      return
    }
    if (input === '?') choose({selected: current, mode: mode === 'help' ? 'main' : 'help'})
  })
  return <TopView snapshot={snapshot} width={width} height={height} selected={clamp(choice.current.selected)} mode={choice.current.mode} />
}
