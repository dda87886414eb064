/**
 * Interactive reconciliation on a terminal (`dyn resolve KEY`, and `dyn get KEY` when the key
 * has siblings): it runs the steps of resolve-flow.ts and shows each state on the ResolveView.
 * Loaded with a dynamic import by the commands, so that ink and react load only when a
 * terminal session really needs them.
 */

import {spawnSync} from 'node:child_process'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {render} from 'ink'
import type {Instance} from 'ink'
import type {DynClient} from '../client/http-client.js'
import type {CandidateView, ResolveAction, ResolveState, SiblingView} from '../ui/resolve-state.js'
import {ResolveApp} from '../ui/resolve-view.js'
import {candidateOf, readSiblings, writeAndVerify} from './resolve-flow.js'
import type {Candidate, Choice, ReadQuorum, SiblingRead, WriteQuorum} from './resolve-flow.js'
import {diffAgainstFirst, type DiffLine} from './sibling-preview.js'
import {counted} from './format.js'
import {terminalSize} from './terminal.js'

export type ResolveEnd =
  | {readonly outcome: 'resolved'}
  | {readonly outcome: 'left'; readonly siblings: number}
  /** Another write arrived between the read and the user's write, and the key is not what the user chose. */
  | {readonly outcome: 'raced'; readonly siblings: number}
  /** The key had no live version when the session began: nothing was shown (it does not exist, or was deleted). */
  | {readonly outcome: 'missing'; readonly deleted: boolean; readonly context?: string | undefined}
  | {readonly outcome: 'failed'; readonly error: string; readonly message: string}

export function siblingViews(read: SiblingRead): SiblingView[] {
  return read.siblings.map((s) => ({
    number: s.number,
    kind: s.description.kind,
    sizeBytes: s.description.sizeBytes,
    contentType: s.contentType,
    lines: s.description.lines,
    moreLines: s.description.moreLines,
    timestampMs: s.timestampMs,
    deleted: s.deleted,
    ...(s.writtenBy ? {writtenBy: s.writtenBy} : {}),
  }))
}

/**
 * How sibling `other` differs from the first, for the screen. A delete holds no value to compare:
 * said in words, where a text diff against its empty value showed "- v2" and an empty "+" line,
 * or a blank line beside an empty value (a walk).
 */
function siblingDiff(read: SiblingRead, other: number): readonly DiffLine[] {
  const first = read.siblings[0]
  const that = read.siblings[other]
  if (first?.deleted === true || that?.deleted === true) {
    const what = (sibling: typeof first, number: number): string => (sibling?.deleted === true ? `[${number}] is a delete` : `[${number}] holds a value (${sibling?.description.sizeBytes ?? 0} bytes)`)
    return [{change: 'same', text: `${what(first, 1)}; ${what(that, other + 1)}`}]
  }
  return diffAgainstFirst(read.siblings.map((s) => s.description), read.siblings.map((s) => s.value), other).lines
}

export function chooseState(read: SiblingRead, highlighted: number, extra: {notice?: string; intro?: string} = {}): ResolveState {
  const other = highlighted === 0 ? 1 : highlighted
  const diff = read.siblings.length > 1 ? siblingDiff(read, other) : []
  const mergeable = read.siblings.filter((s) => !s.deleted).every((s) => s.description.kind === 'json')
  return {phase: 'choose', key: read.key, siblings: siblingViews(read), highlighted: Math.min(highlighted, read.siblings.length - 1), diff, mergeable, ...extra}
}

/** After a write that another write raced: how many versions the key has, and whether yours is one. */
export function racedMessage(key: string, latest: SiblingRead, written: Candidate): string {
  const yours = latest.siblings.some((s) => (written.deleted ? s.deleted : !s.deleted && s.value.equals(written.value)))
  const others = latest.siblings.length - (yours ? 1 : 0)
  const count = counted(latest.siblings.length, 'version')
  return `another write arrived meanwhile: ${key} now has ${count}, ${yours ? `yours and ${counted(others, 'other')}` : 'none of them yours'} that your write did not supersede`
}

export function candidateView(candidate: Candidate, label: string): CandidateView {
  return {
    label,
    kind: candidate.description.kind,
    sizeBytes: candidate.description.sizeBytes,
    contentType: candidate.contentType,
    lines: candidate.description.lines,
    moreLines: candidate.description.moreLines,
    deleted: candidate.deleted,
    conflicts: candidate.conflicts.map((c) => ({path: c.path, values: c.values.map((v) => JSON.stringify(v)), kept: JSON.stringify(c.kept)})),
  }
}

function labelOf(choice: Choice, read: SiblingRead): string {
  if (choice.kind === 'pick') return `sibling ${choice.number}`
  if (choice.kind === 'pickId') return `sibling ${choice.id}`
  if (choice.kind === 'merge') return `the JSON merge of ${read.siblings.filter((s) => !s.deleted).length} siblings`
  return 'your edit'
}

/** Let the user edit `value` in $VISUAL / $EDITOR (vi when neither is set); the edited bytes, or undefined when the editor failed. */
async function editInEditor(value: Buffer, json: boolean): Promise<{ok: true; value: Buffer} | {ok: false; message: string}> {
  const folder = await mkdtemp(path.join(tmpdir(), 'dyn-resolve-'))
  const file = path.join(folder, json ? 'value.json' : 'value.txt')
  try {
    await writeFile(file, value)
    const editor = process.env.VISUAL || process.env.EDITOR || 'vi'
    // Through the shell, since EDITOR often carries arguments ("code --wait").
    const run = spawnSync(`${editor} ${JSON.stringify(file)}`, {shell: true, stdio: 'inherit'})
    if (run.status !== 0) return {ok: false, message: `the editor (${editor}) exited with ${run.status ?? run.signal}; nothing was written`}
    return {ok: true, value: await readFile(file)}
  } finally {
    await rm(folder, {recursive: true, force: true})
  }
}

/**
 * Run the session until the user resolves the key or leaves it. `initial` is the read to start
 * from (dyn get has one already); `intro` is a line shown above the siblings.
 */
export async function runResolveScreen(client: DynClient, key: string, quorum: ReadQuorum & WriteQuorum, options: {intro?: string} = {}): Promise<ResolveEnd> {
  const first = await readSiblings(client, key, quorum)
  if (!first.ok) return {outcome: 'failed', error: first.error, message: first.message}
  let read: SiblingRead = first
  // A key with no live version is not a key with one: the command says it is not found.
  if (read.siblings.length === 0) return {outcome: 'missing', deleted: read.deleted, context: read.context}
  if (read.siblings.length < 2) return {outcome: 'left', siblings: read.siblings.length}
  let state: ResolveState = chooseState(read, 0, options.intro ? {intro: options.intro} : {})
  /** The sibling highlighted last, so that coming back to the siblings keeps it. */
  let highlighted = 0
  let candidate: Candidate | undefined
  let busy = false
  /** The last write that failed, so that leaving after it exits as a failure. */
  let failure: Extract<ResolveEnd, {outcome: 'failed'}> | undefined
  let finish: (end: ResolveEnd) => void = () => undefined
  const finished = new Promise<ResolveEnd>((resolve) => {
    finish = resolve
  })
  let instance: Instance | undefined
  const element = (): React.JSX.Element => {
    const size = terminalSize()
    return <ResolveApp state={state} width={size.columns} height={size.rows} onAction={(action) => void act(action)} />
  }
  const show = (next: ResolveState): void => {
    state = next
    if (next.phase === 'choose') highlighted = next.highlighted
    if (instance === undefined) instance = render(element(), {exitOnCtrlC: false, patchConsole: false})
    else instance.rerender(element())
  }
  const preview = (next: Candidate, label: string): void => {
    candidate = next
    show({phase: 'preview', key, siblings: siblingViews(read), candidate: candidateView(next, label)})
  }
  const choose = (choice: Choice): void => {
    const made = candidateOf(read, choice)
    if (!made.ok) return show(chooseState(read, highlighted, {notice: made.message}))
    preview(made, labelOf(choice, read))
  }
  const edit = async (): Promise<void> => {
    const base = state.phase === 'preview' && candidate !== undefined ? candidate : read.siblings[highlighted]
    if (base === undefined) return
    const json = base.description.kind === 'json'
    // The editor needs the terminal to itself: ink lets go of it, and draws again after.
    instance?.unmount()
    instance = undefined
    const edited = await editInEditor(json ? Buffer.from(`${JSON.stringify(base.description.json, null, 2)}\n`) : base.value, json)
    if (!edited.ok) return show(chooseState(read, highlighted, {notice: edited.message}))
    choose({kind: 'value', value: edited.value, contentType: base.contentType})
  }
  const act = async (action: ResolveAction): Promise<void> => {
    if (busy) return
    busy = true
    try {
      await step(action)
    } finally {
      busy = false
    }
  }
  const step = async (action: ResolveAction): Promise<void> => {
    if (action.kind === 'quit') return finish(failure ?? {outcome: 'left', siblings: read.siblings.length})
    if (state.phase === 'choose') {
      if (action.kind === 'pick') return choose({kind: 'pick', number: action.number})
      if (action.kind === 'merge') return choose({kind: 'merge'})
      if (action.kind === 'edit') return edit()
      if (action.kind === 'highlight') {
        const count = read.siblings.length
        return show(chooseState(read, (state.highlighted + action.delta + count) % count))
      }
    }
    if (state.phase === 'preview' && candidate !== undefined) {
      if (action.kind === 'back') return show(chooseState(read, highlighted))
      if (action.kind === 'edit') return edit()
      if (action.kind === 'confirm') return write(candidate)
    }
    if (state.phase === 'raced' && action.kind === 'again') return show(chooseState(read, 0))
  }
  const write = async (chosen: Candidate): Promise<void> => {
    show({phase: 'working', key, message: `writing with the context of all ${read.siblings.length} siblings, then reading ${key} back…`})
    const verdict = await writeAndVerify(client, read, chosen, quorum)
    if (!verdict.ok) {
      failure = {outcome: 'failed', error: verdict.error, message: verdict.message}
      show({phase: 'error', key, message: `${verdict.message} [${verdict.error}]; nothing was resolved`})
      return
    }
    if (verdict.superseded) {
      show({phase: 'done', key, message: `${key} resolved: ${chosen.deleted ? 'deleted' : 'one version'} now; read back, it superseded all ${read.siblings.length} siblings`})
      return finish({outcome: 'resolved'})
    }
    read = verdict.latest
    if (read.siblings.length < 2) {
      show({phase: 'done', key, message: `another write arrived meanwhile and superseded yours: ${key} has ${read.siblings.length === 0 ? 'no live version' : 'one version'} now`})
      return finish({outcome: 'raced', siblings: read.siblings.length})
    }
    show({phase: 'raced', key, siblings: siblingViews(read), message: racedMessage(key, read, chosen)})
  }
  show(state)
  const end = await finished
  instance?.unmount()
  return end
}
