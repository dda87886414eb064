/**
 * What the reconciliation screen shows, as plain data (see resolve-view.tsx). The command's
 * runner (src/cli/resolve-screen.tsx) reads, merges and writes, and hands each state here.
 */

export type ValueKindView = 'json' | 'text' | 'binary'

export interface ValueView {
  readonly kind: ValueKindView
  readonly sizeBytes: number
  readonly contentType: string
  readonly lines: readonly string[]
  readonly moreLines: number
}

export interface SiblingView extends ValueView {
  readonly number: number
  readonly timestampMs: number
  readonly deleted: boolean
  readonly writtenBy?: string
}

export interface DiffLineView {
  readonly change: 'same' | 'added' | 'removed'
  readonly text: string
}

export interface CandidateView extends ValueView {
  /** What it is, in words: "sibling 2", "the JSON merge of 3 siblings", "your edit". */
  readonly label: string
  readonly deleted: boolean
  readonly conflicts: ReadonlyArray<{readonly path: string; readonly values: readonly string[]; readonly kept: string}>
}

export type ResolveAction =
  | {readonly kind: 'pick'; readonly number: number}
  | {readonly kind: 'merge'}
  | {readonly kind: 'edit'}
  | {readonly kind: 'highlight'; readonly delta: number}
  | {readonly kind: 'confirm'}
  | {readonly kind: 'back'}
  | {readonly kind: 'again'}
  | {readonly kind: 'quit'}

export type ResolveState =
  | {
      readonly phase: 'choose'
      readonly key: string
      readonly siblings: readonly SiblingView[]
      readonly highlighted: number
      readonly diff: readonly DiffLineView[]
      /** Whether the JSON merge is offered: every live sibling is JSON. */
      readonly mergeable?: boolean
      readonly notice?: string
      readonly intro?: string
    }
  | {readonly phase: 'preview'; readonly key: string; readonly siblings: readonly SiblingView[]; readonly candidate: CandidateView}
  | {readonly phase: 'working'; readonly key: string; readonly message: string}
  | {readonly phase: 'done'; readonly key: string; readonly message: string}
  | {readonly phase: 'raced'; readonly key: string; readonly message: string; readonly siblings: readonly SiblingView[]}
  | {readonly phase: 'error'; readonly key: string; readonly message: string}
