/**
 * Tests of the settings check shared by `dyn start` and `dyn cluster up`, and of how `dyn cluster
 * status` reads the effective N/R/W a node reports.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {checkCreationSettings, creationSettingsArgs, creationSettingsDefault} from '../../src/cli/cluster-settings.js'
import {effectiveDefaults} from '../../src/cli/cluster-status.js'

describe('checkCreationSettings', () => {
  it('completes explicit settings with the defaults', () => {
    assert.deepEqual(checkCreationSettings({}), {ok: true, settings: creationSettingsDefault})
    assert.deepEqual(checkCreationSettings({defaultN: 5, defaultW: 3}), {ok: true, settings: {...creationSettingsDefault, defaultN: 5, defaultW: 3}})
  })

  it('refuses what cannot make a cluster, as bad_parameter', () => {
    for (const bad of [{partitionCount: 63}, {partitionCount: 0}, {partitionCount: 8192}, {defaultN: 0}, {defaultR: 0}, {defaultN: 1.5}, {defaultN: 1}, {defaultN: 2, defaultR: 3}, {conflictPolicy: 'newest' as never}]) {
      const checked = checkCreationSettings(bad)
      assert.equal(checked.ok, false, JSON.stringify(bad))
      assert.equal(!checked.ok && checked.error, 'bad_parameter')
    }
  })

  it('accepts exactly the settings with a power-of-two Q and 1 <= R, W <= N', () => {
    fc.assert(
      fc.property(fc.integer({min: -2, max: 5000}), fc.integer({min: -1, max: 6}), fc.integer({min: -1, max: 6}), fc.integer({min: -1, max: 6}), (q, n, r, w) => {
        const valid = q >= 1 && q <= 4096 && (q & (q - 1)) === 0 && n >= 1 && r >= 1 && w >= 1 && r <= n && w <= n
        assert.equal(checkCreationSettings({partitionCount: q, defaultN: n, defaultR: r, defaultW: w}).ok, valid)
      }),
    )
  })

  it('turns explicit settings back into dyn start flags', () => {
    assert.deepEqual(creationSettingsArgs({defaultN: 2, conflictPolicy: 'lww', partitionCount: 128}), ['--partitions', '128', '--n', '2', '--conflict', 'lww'])
    assert.deepEqual(creationSettingsArgs({}), [])
  })
})

describe('effectiveDefaults', () => {
  const settings = {defaultN: 3, defaultR: 2, defaultW: 2}

  it("reads the node's own effective values", () => {
    assert.deepEqual(effectiveDefaults({settings, effective: {n: 1, r: 1, w: 1}}), {n: 1, r: 1, w: 1})
    assert.deepEqual(effectiveDefaults({settings, effective: {n: 2, r: 2, w: 1}}), {n: 2, r: 2, w: 1})
  })

  it('is undefined for an answer without them', () => {
    assert.equal(effectiveDefaults({settings}), undefined)
    assert.equal(effectiveDefaults({settings, effective: {n: 1}}), undefined)
  })
})
