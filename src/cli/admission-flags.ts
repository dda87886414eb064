/**
 * The advanced flags of a node's admission control (src/api/admission-core.ts), shared by
 * `dyn start` and `dyn cluster up` (which hands them to each node it starts): the queue-delay
 * target and the window a standing queue must last before the node sheds. The defaults suit a
 * production node; a test that must see shedding whatever the machine's load starts its nodes
 * with a tiny target (test/integration/overload.test.ts).
 *
 * They are strings checked here rather than oclif integers, so that a bad value is a coded
 * `bad_parameter` (a JSON object under --json) like every other bad input.
 */

import * as Flags from '@oclif/core/flags'
import {admissionSettingsDefault, admissionSettingsWith, admissionTargetMsRange, admissionWindowIntervals, admissionWindowMsRange} from '../api/admission-core.js'
import type {AdmissionSettings} from '../api/admission-core.js'

const windowMsDefault = admissionSettingsDefault.intervalMs * admissionWindowIntervals

export const admissionFlags = {
  'admission-target-ms': Flags.string({
    description: `advanced: the queue delay (ms, ${admissionTargetMsRange.min} to ${admissionTargetMsRange.max}) above which client requests count as queued; the node sheds (503 overloaded) only once it has held for a whole --admission-window-ms. Lower sheds sooner [default: ${admissionSettingsDefault.queueDelayTargetMs}]`,
    helpValue: 'ms',
  }),
  'admission-window-ms': Flags.string({
    description: `advanced: how long (ms, ${admissionWindowMsRange.min} to ${admissionWindowMsRange.max}) the queue delay must stay above the target before the node sheds; it is sampled ${admissionWindowIntervals} times per window [default: ${windowMsDefault}]`,
    helpValue: 'ms',
  }),
}

export interface AdmissionFlagValues {
  readonly 'admission-target-ms'?: string | undefined
  readonly 'admission-window-ms'?: string | undefined
}

export type AdmissionFlagsCheck =
  | {readonly ok: true; readonly settings: AdmissionSettings | undefined; readonly args: readonly string[]}
  | {readonly ok: false; readonly error: 'bad_parameter'; readonly message: string}

/**
 * Checks the flags: `settings` is undefined when neither was given (the node's defaults), and
 * `args` are the flags to hand on to `dyn start`.
 */
export function checkAdmissionFlags(flags: AdmissionFlagValues): AdmissionFlagsCheck {
  const target = wholeMs(flags['admission-target-ms'], admissionTargetMsRange)
  if (!target.ok) return {ok: false, error: 'bad_parameter', message: `--admission-target-ms ${flags['admission-target-ms']}: ${target.problem}`}
  const window = wholeMs(flags['admission-window-ms'], admissionWindowMsRange)
  if (!window.ok) return {ok: false, error: 'bad_parameter', message: `--admission-window-ms ${flags['admission-window-ms']}: ${window.problem}`}
  if (target.value === undefined && window.value === undefined) return {ok: true, settings: undefined, args: []}
  const settings = admissionSettingsWith({
    ...(target.value === undefined ? {} : {queueDelayTargetMs: target.value}),
    ...(window.value === undefined ? {} : {windowMs: window.value}),
  })
  const args = [
    ...(target.value === undefined ? [] : ['--admission-target-ms', String(target.value)]),
    ...(window.value === undefined ? [] : ['--admission-window-ms', String(window.value)]),
  ]
  return {ok: true, settings, args}
}

function wholeMs(text: string | undefined, range: {readonly min: number; readonly max: number}): {ok: true; value: number | undefined} | {ok: false; problem: string} {
  if (text === undefined) return {ok: true, value: undefined}
  const value = /^\s*\d{1,9}\s*$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    return {ok: false, problem: `give a whole number of milliseconds from ${range.min} to ${range.max}`}
  }
  return {ok: true, value}
}
