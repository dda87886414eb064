/**
 * The interactive `dyn top`: the TopView plus the keys. It keeps only what the viewer chose
 * (selection, detail, key list) and tells the command when the detail panel wants a node's own
 * view (`onFocus`) or the viewer quits; the snapshots come in as props, fetched elsewhere.
 */

import {useState} from 'react'
import {useInput} from 'ink'
import type {ClusterSnapshot} from './cluster-snapshot.js'
import {TopView} from './top-view.js'
import type {TopMode} from './top-view.js'

export interface TopAppProps {
  readonly snapshot: ClusterSnapshot | undefined
  readonly width: number
  readonly height: number
  readonly onQuit: () => void
  /** The node whose own view the detail panel needs, or undefined when the panel closes. */
  readonly onFocus: (name: string | undefined) => void
}

export function TopApp({snapshot, width, height, onQuit, onFocus}: TopAppProps) {
  const [selected, setSelected] = useState(0)
  const [mode, setMode] = useState<TopMode>('main')
  const count = snapshot?.nodes.length ?? 0
  const current = Math.min(selected, Math.max(0, count - 1))
  useInput((input, key) => {
    if (input === 'q' || (key.ctrl && input === 'c')) return onQuit()
    if (key.upArrow || key.downArrow) {
      const next = Math.max(0, Math.min(count - 1, current + (key.upArrow ? -1 : 1)))
      setSelected(next)
      if (mode === 'detail') onFocus(snapshot?.nodes[next]?.name)
      return
    }
    if (key.return) {
      const opening = mode !== 'detail'
      setMode(opening ? 'detail' : 'main')
      onFocus(opening ? snapshot?.nodes[current]?.name : undefined)
      return
    }
    if (key.escape) {
      setMode('main')
      onFocus(undefined)
      return
    }
    if (input === '?') setMode(mode === 'help' ? 'main' : 'help')
  })
  return <TopView snapshot={snapshot} width={width} height={height} selected={current} mode={mode} />
}
