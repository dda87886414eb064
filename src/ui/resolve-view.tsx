/**
 * The reconciliation screen: a key's siblings side by side (a preview of each value, its size,
 * content type, when and through which node it was written), how the highlighted one differs
 * from the first, and the choices; then the candidate before it is written; then the outcome.
 * `ResolveView` draws one `ResolveState`; `ResolveApp` adds the keys and reports actions.
 */

import {Box, Text, useInput} from 'ink'
import type {CandidateView, DiffLineView, ResolveAction, ResolveState, SiblingView} from './resolve-state.js'
import {accentColor, dimColor, errorColor, fit, formatBytes, ownerColor} from './theme.js'

/** Narrower than this, siblings no longer sit side by side; ←→ page through them. */
export const siblingColumnWidthMin = 24

const diffColor: Record<DiffLineView['change'], string | undefined> = {same: undefined, added: 'green', removed: 'red'}
const diffMark: Record<DiffLineView['change'], string> = {same: ' ', added: '+', removed: '-'}

function clockOf(atMs: number): string {
  return `${new Date(atMs).toISOString().slice(0, 19).replace('T', ' ')}Z`
}

function SiblingColumn({sibling, width, linesMax, highlighted}: {readonly sibling: SiblingView; readonly width: number; readonly linesMax: number; readonly highlighted: boolean}) {
  const lines = sibling.deleted ? ['(deleted)'] : sibling.lines.slice(0, linesMax)
  const hidden = sibling.deleted ? 0 : sibling.lines.length - lines.length + sibling.moreLines
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate" inverse={highlighted} bold>
        {fit(`[${sibling.number}] ${sibling.deleted ? 'delete' : sibling.kind} · ${formatBytes(sibling.sizeBytes)}`, width - 1)}
      </Text>
      <Text wrap="truncate" color={dimColor}>{fit(`${sibling.writtenBy ? `${sibling.writtenBy} · ` : ''}${clockOf(sibling.timestampMs)}`, width - 1)}</Text>
      <Text wrap="truncate" color={dimColor}>{fit(sibling.contentType, width - 1)}</Text>
      {lines.map((line, index) => (
        <Text key={index} wrap="truncate" color={ownerColor(sibling.number - 1)}>
          {fit(line, width - 1)}
        </Text>
      ))}
      {hidden > 0 ? <Text color={dimColor}>{fit(`… ${hidden} more lines`, width - 1)}</Text> : null}
    </Box>
  )
}

function ValueLines({value, width, linesMax}: {readonly value: CandidateView; readonly width: number; readonly linesMax: number}) {
  const lines = value.deleted ? ['(a delete: the key will read as not found)'] : value.lines.slice(0, linesMax)
  const hidden = value.deleted ? 0 : value.lines.length - lines.length + value.moreLines
  return (
    <Box flexDirection="column">
      {lines.map((line, index) => (
        <Text key={index} wrap="truncate" color={accentColor}>
          {fit(line, width)}
        </Text>
      ))}
      {hidden > 0 ? <Text color={dimColor}>{`… ${hidden} more lines`}</Text> : null}
    </Box>
  )
}

/** The window of siblings shown side by side, holding the highlighted one. */
export function visibleSiblings(count: number, highlighted: number, width: number): {first: number; columns: number} {
  const columns = Math.max(1, Math.min(count, Math.floor(width / siblingColumnWidthMin)))
  const first = Math.max(0, Math.min(count - columns, highlighted - columns + 1))
  return {first, columns}
}

function Choose({state, width, height}: {readonly state: Extract<ResolveState, {phase: 'choose'}>; readonly width: number; readonly height: number}) {
  const count = state.siblings.length
  const {first, columns} = visibleSiblings(count, state.highlighted, width)
  const columnWidth = Math.floor(width / columns)
  const shown = state.siblings.slice(first, first + columns)
  const other = state.highlighted === 0 ? 1 : state.highlighted
  const diffTitle = count > 1 ? `how [${other + 1}] differs from [1]` : ''
  // Lines: intro, title, 3 heads, preview, diff title, diff, notice, 2 menu lines; one spare so ink never fills the screen.
  const noticeLines = state.notice ? Math.ceil([...state.notice].length / Math.max(1, width)) : 0
  const budget = Math.max(4, height - 1 - (state.intro ? 1 : 0) - 1 - 3 - 1 - noticeLines - 2)
  const previewLines = Math.max(1, Math.min(Math.max(...shown.map((s) => s.lines.length + (s.moreLines > 0 ? 1 : 0))), Math.ceil(budget / 2)))
  const diffLines = Math.max(1, budget - previewLines - 1)
  // Digits pick the first nine; the others are reached with the arrows and enter.
  const picks = count <= 9 ? `1-${count}` : `1-9 (10-${count}: ←→ enter)`
  return (
    <Box flexDirection="column" width={width}>
      {state.intro ? <Text wrap="truncate" color="yellow">{state.intro}</Text> : null}
      <Text bold wrap="truncate">
        {`${state.key} has ${count} siblings (concurrent writes)`}
        {columns < count ? <Text color={dimColor}>{`  showing ${first + 1}-${first + columns}, ←→ for the others`}</Text> : null}
      </Text>
      <Box flexDirection="row">
        {shown.map((sibling, index) => (
          <SiblingColumn key={sibling.number} sibling={sibling} width={columnWidth} linesMax={previewLines} highlighted={first + index === state.highlighted} />
        ))}
      </Box>
      {count > 1 ? <Text bold wrap="truncate">{diffTitle}</Text> : null}
      {state.diff.slice(0, diffLines).map((line, index) => (
        <Text key={index} wrap="truncate" color={diffColor[line.change]}>
          {fit(`${diffMark[line.change]} ${line.text}`, width)}
        </Text>
      ))}
      {state.diff.length > diffLines ? <Text color={dimColor}>{`… ${state.diff.length - diffLines} more diff lines`}</Text> : null}
      {state.notice ? <Text color={errorColor} wrap="wrap">{state.notice}</Text> : null}
      <Text wrap="truncate">
        <Text bold>{picks}</Text>
        {' keep that sibling  '}
        {state.mergeable === false ? null : <Text bold>m</Text>}
        {state.mergeable === false ? null : ' merge as JSON (union)  '}
        <Text bold>e</Text>
        {` edit [${state.highlighted + 1}] in $EDITOR`}
      </Text>
      <Text wrap="truncate" color={dimColor}>
        {'←→ highlight  enter keep the highlighted one  q leave the siblings as they are'}
      </Text>
    </Box>
  )
}

function Preview({state, width, height}: {readonly state: Extract<ResolveState, {phase: 'preview'}>; readonly width: number; readonly height: number}) {
  const c = state.candidate
  const conflictLines = Math.min(c.conflicts.length, 4)
  const linesMax = Math.max(1, height - 1 - 3 - (conflictLines > 0 ? conflictLines + 1 : 0) - 2)
  return (
    <Box flexDirection="column" width={width}>
      <Text bold wrap="truncate">{`${state.key}: ${c.label}, to write with the siblings' context`}</Text>
      <Text wrap="truncate" color={dimColor}>{`${c.deleted ? 'delete' : c.kind} · ${formatBytes(c.sizeBytes)} · ${c.contentType}`}</Text>
      <ValueLines value={c} width={width} linesMax={linesMax} />
      {conflictLines > 0 ? <Text bold color="yellow" wrap="truncate">{`${c.conflicts.length} conflicting value(s): the newest sibling's is kept (e edits it)`}</Text> : null}
      {c.conflicts.slice(0, conflictLines).map((conflict) => (
        <Text key={conflict.path} wrap="truncate" color="yellow">
          {fit(`  ${conflict.path}: ${conflict.values.join(' | ')} → ${conflict.kept}`, width)}
        </Text>
      ))}
      <Text> </Text>
      <Text wrap="truncate">
        <Text bold>y</Text>
        {' write it  '}
        <Text bold>e</Text>
        {' edit it in $EDITOR first  '}
        <Text bold>n</Text>
        {' back to the siblings  '}
        <Text bold>q</Text>
        {' leave them'}
      </Text>
    </Box>
  )
}

export function ResolveView({state, width, height}: {readonly state: ResolveState; readonly width: number; readonly height: number}) {
  switch (state.phase) {
    case 'choose':
      return <Choose state={state} width={width} height={height} />
    case 'preview':
      return <Preview state={state} width={width} height={height} />
    case 'working':
      return <Text color={dimColor}>{state.message}</Text>
    case 'done':
      return <Text color="green">{`✔ ${state.message}`}</Text>
    case 'raced':
      return (
        <Box flexDirection="column">
          <Text color="yellow">{state.message}</Text>
          <Text>
            <Text bold>r</Text>
            {' resolve again  '}
            <Text bold>q</Text>
            {' leave them'}
          </Text>
        </Box>
      )
    case 'error':
      return (
        <Box flexDirection="column">
          <Text color={errorColor}>{state.message}</Text>
          <Text color={dimColor}>q quit</Text>
        </Box>
      )
  }
}

/** Keys → actions, by phase. */
export function actionOf(state: ResolveState, input: string, key: {leftArrow?: boolean; rightArrow?: boolean; return?: boolean; escape?: boolean; ctrl?: boolean}): ResolveAction | undefined {
  if (input === 'q' || (key.ctrl === true && input === 'c')) return {kind: 'quit'}
  if (state.phase === 'choose') {
    if (/^[1-9]$/.test(input) && Number(input) <= state.siblings.length) return {kind: 'pick', number: Number(input)}
    if (key.return === true) return {kind: 'pick', number: state.highlighted + 1}
    if (input === 'm' && state.mergeable !== false) return {kind: 'merge'}
    if (input === 'e') return {kind: 'edit'}
    if (key.leftArrow) return {kind: 'highlight', delta: -1}
    if (key.rightArrow) return {kind: 'highlight', delta: 1}
  }
  if (state.phase === 'preview') {
    if (input === 'y' || key.return === true) return {kind: 'confirm'}
    if (input === 'e') return {kind: 'edit'}
    if (input === 'n' || key.escape === true) return {kind: 'back'}
  }
  if (state.phase === 'raced' && input === 'r') return {kind: 'again'}
  return undefined
}

export function ResolveApp({state, width, height, onAction}: {readonly state: ResolveState; readonly width: number; readonly height: number; readonly onAction: (action: ResolveAction) => void}) {
  useInput((input, key) => {
    const action = actionOf(state, input, key)
    if (action !== undefined) onAction(action)
  })
  return <ResolveView state={state} width={width} height={height} />
}
