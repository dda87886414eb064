/**
 * The admission flags of `dyn start` and `dyn cluster up` (src/cli/admission-flags.ts): good
 * values become the core's settings and the args handed on to each node, bad ones a
 * `bad_parameter` naming the flag; and a core on a 1 ms target sheds a queue the defaults keep.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {AdmissionCore, admissionSettingsDefault, admissionSettingsWith} from '../../src/api/admission-core.js'
import {checkAdmissionFlags} from '../../src/cli/admission-flags.js'

describe('admission flags', () => {
  it('none given: the node keeps its defaults and nothing is handed on', () => {
    assert.deepEqual(checkAdmissionFlags({}), {ok: true, settings: undefined, args: []})
  })

  it('a target and a window become the settings (the window is four intervals) and the args', () => {
    const checked = checkAdmissionFlags({'admission-target-ms': '1', 'admission-window-ms': '100'})
    assert.ok(checked.ok)
    assert.deepEqual(checked.settings, {...admissionSettingsDefault, queueDelayTargetMs: 1, intervalMs: 25})
    assert.deepEqual(checked.args, ['--admission-target-ms', '1', '--admission-window-ms', '100'])
    const targetOnly = checkAdmissionFlags({'admission-target-ms': '250'})
    assert.ok(targetOnly.ok)
    assert.deepEqual(targetOnly.settings, {...admissionSettingsDefault, queueDelayTargetMs: 250})
    assert.deepEqual(targetOnly.args, ['--admission-target-ms', '250'])
    const windowOnly = checkAdmissionFlags({'admission-window-ms': '2000'})
    assert.ok(windowOnly.ok)
    assert.deepEqual(windowOnly.settings, {...admissionSettingsDefault, intervalMs: 500})
  })

  it('the defaults are what no flag gives: a 100 ms target over a 1,000 ms window', () => {
    const checked = checkAdmissionFlags({'admission-target-ms': '100', 'admission-window-ms': '1000'})
    assert.ok(checked.ok)
    assert.deepEqual(checked.settings, admissionSettingsDefault)
  })

  for (const [flag, value] of [
    ['admission-target-ms', '0'],
    ['admission-target-ms', '-5'],
    ['admission-target-ms', '1.5'],
    ['admission-target-ms', 'abc'],
    ['admission-target-ms', ''],
    ['admission-target-ms', '60001'],
    ['admission-window-ms', '3'],
    ['admission-window-ms', '1e3'],
    ['admission-window-ms', '600001'],
    ['admission-window-ms', '99999999999'],
  ] as const) {
    it(`refuses --${flag} ${JSON.stringify(value)} as bad_parameter, naming the flag`, () => {
      const checked = checkAdmissionFlags({[flag]: value})
      assert.equal(checked.ok, false)
      assert.ok(!checked.ok)
      assert.equal(checked.error, 'bad_parameter')
      assert.match(checked.message, new RegExp(`^--${flag} .*whole number of milliseconds from \\d+ to \\d+`))
    })
  }

  it('a 1 ms target over a 100 ms window sheds a queue of 10 ms writes that the defaults never shed', () => {
    // 64 requests in flight, each answered 10 ms after it arrived, and replaced at once: a queue
    // far below the defaults' 100 ms target, far above 1 ms.
    const run = (core: AdmissionCore): number => {
      let nowMs = 0
      let shed = 0
      const inFlight: Array<{ticket: number; doneMs: number}> = []
      while (nowMs < 2000) {
        while (inFlight.length < 64) {
          const admitted = core.arrive(nowMs)
          if (!admitted.ok) {
            shed += 1
            break
          }
          inFlight.push({ticket: admitted.ticket, doneMs: nowMs + 10})
        }
        nowMs += 1
        for (const request of inFlight.filter((r) => r.doneMs <= nowMs)) {
          core.complete(request.ticket, nowMs)
          inFlight.splice(inFlight.indexOf(request), 1)
        }
      }
      return shed
    }
    assert.equal(run(new AdmissionCore(0)), 0)
    assert.ok(run(new AdmissionCore(0, admissionSettingsWith({queueDelayTargetMs: 1, windowMs: 100}))) > 0)
  })
})
