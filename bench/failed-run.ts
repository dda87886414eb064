/**
 * A run that measured nothing of the cluster serving: no operation accepted, or an operation
 * kind whose every request failed. Such a run's figures are those of error answers (a refusal is
 * quick), so `dyn bench` without an SLA fails it instead of reporting it (exit by the nodes' own
 * error code: 2 for a refused parameter, 3 for an unavailable cluster), and no such run is taken
 * as a baseline (bench/baseline.ts). What the nodes answered (each kind's first failure, from
 * OperationFactory) is said with it, so that the user learns why, not only how many.
 */

import {errorCodes, type ErrorCode} from '../src/errors.js'
import type {AnsweredFailure, KindSummary} from './recorder.js'

/** Why a run measured nothing, and the error code that says it best; undefined when it measured something. */
export interface Unmeasured {
  /** `every read failed (805 http_error; the first answer: 400 bad_parameter: ...)`. */
  readonly problem: string
  /** The first failing kind's answered code, or what its most frequent outcome means. */
  readonly code: ErrorCode
  /** No operation was accepted at all (rather than every one of a kind failing). */
  readonly nothingAccepted: boolean
}

/** `835 quorum_unmet, 147 http_error`: a kind's errors, most frequent first. */
export function errorsText(errors: Record<string, number>): string {
  return sortedErrors(errors)
    .map(([outcome, count]) => `${count} ${outcome}`)
    .join(', ')
}

function sortedErrors(errors: Record<string, number>): Array<[string, number]> {
  return Object.entries(errors).sort(([, a], [, b]) => b - a)
}

/** The numeric entries of a report's `errors` (a baseline file is not trusted to hold only numbers). */
function numericErrors(errors: unknown): Record<string, number> {
  if (typeof errors !== 'object' || errors === null || Array.isArray(errors)) return {}
  return Object.fromEntries(Object.entries(errors).filter(([, n]) => typeof n === 'number')) as Record<string, number>
}

function isErrorCode(code: string | undefined): code is ErrorCode {
  return code !== undefined && (errorCodes as readonly string[]).includes(code)
}

/** The error code a failure stands for: the node's own, or what the outcome counted means. */
export function failureCode(outcome: string | undefined, failure: AnsweredFailure | undefined): ErrorCode {
  if (isErrorCode(failure?.error)) return failure.error
  if (outcome === 'quorum_unmet' || outcome === 'timeout' || outcome === 'overloaded') return outcome
  if (outcome === 'connection') return 'unreachable'
  return 'internal'
}

/** `; the first answer: 400 bad_parameter: n=5 needs ...`, or nothing when no node answered one. */
export function answerText(failure: AnsweredFailure | undefined): string {
  if (failure === undefined) return ''
  return `; the first answer: ${failure.status}${failure.error === undefined ? '' : ` ${failure.error}`}${failure.message === undefined ? '' : `: ${failure.message}`}`
}

/** What to do about a run that failed with `code`: fix the flags, or look at the cluster. */
export function failureAdvice(usageError: boolean): string {
  return usageError ? "fix the run's flags as the node says" : 'check that the nodes are up (dyn cluster status) and that the quorums can be met'
}

export function unmeasuredRun(run: {readonly operations: readonly KindSummary[]}): Unmeasured | undefined {
  const accepted = run.operations.reduce((sum, op) => sum + op.count, 0)
  if (accepted === 0) {
    const shed = run.operations.reduce((sum, op) => sum + (typeof op.shed === 'number' ? op.shed : 0), 0)
    const throttled = run.operations.reduce((sum, op) => sum + (typeof op.throttled === 'number' ? op.throttled : 0), 0)
    const kept = throttled === 0 ? '' : ` (${throttled} of them kept back by the client's throttle after such sheds)`
    return shed + throttled > 0
      ? {problem: `every one of its ${shed + throttled} operations was shed by an overloaded node${kept}, so it measured none`, code: 'overloaded', nothingAccepted: true}
      : {problem: 'it measured no operation', code: 'unreachable', nothingAccepted: true}
  }
  const failed = run.operations.flatMap((op) => {
    const errors = numericErrors(op.errors)
    const failures = Object.values(errors).reduce((sum, n) => sum + n, 0)
    if (op.count === 0 || failures < op.count) return []
    const firstFailure = typeof op.firstFailure === 'object' && op.firstFailure !== null ? op.firstFailure : undefined
    return [{counts: `every ${op.operation} failed (${errorsText(errors)}`, answer: answerText(firstFailure), code: failureCode(sortedErrors(errors)[0]?.[0], firstFailure)}]
  })
  if (failed.length === 0) return undefined
  // The same answer for every kind (a refused parameter, usually) is said once, after the counts.
  const oneAnswer = failed.every((kind) => kind.answer === failed[0]!.answer)
  const problem = oneAnswer ? `${failed.map((kind) => `${kind.counts})`).join('; ')}${failed[0]!.answer}` : failed.map((kind) => `${kind.counts}${kind.answer})`).join('; ')
  return {problem, code: failed[0]!.code, nothingAccepted: false}
}
