/**
 * The CPU profile tallies of bench/profile-summary.ts: self time by function and by place, idle
 * left out of the shares, several profiles added up, and each URL given its place.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {placeOf, summarizeProfiles} from '../../bench/profile-summary.js'
import type {CpuProfile} from '../../bench/profile-summary.js'

const frame = (id: number, functionName: string, url: string, lineNumber = 0): CpuProfile['nodes'][number] => ({id, callFrame: {functionName, url, lineNumber}})

const profile: CpuProfile = {
  nodes: [
    frame(1, '(root)', ''),
    frame(2, '(idle)', ''),
    frame(3, 'get', 'file:///work/dyn/dist/src/storage/object-cache.js', 15),
    frame(4, 'pack', 'file:///work/dyn/node_modules/msgpackr/pack.js', 470),
    frame(5, '(garbage collector)', ''),
  ],
  samples: [2, 3, 3, 4, 5, 2],
  timeDeltas: [500, 100, 100, 200, 100, 300],
}

describe('summarizeProfiles', () => {
  it('shares the busy time by function and by place, leaving idle time out', () => {
    const summary = summarizeProfiles([profile, profile], 10)
    assert.equal(summary.busyMicroseconds, 1000)
    assert.equal(summary.idleMicroseconds, 1600)
    assert.deepEqual(
      summary.byPlace.map((share) => [share.name, share.share]),
      [
        ['dyn:src/storage', 0.4],
        ['npm:msgpackr', 0.4],
        ['(garbage collector)', 0.2],
      ],
    )
    assert.deepEqual(summary.byFunction[0], {name: 'get src/storage/object-cache.js:16', microseconds: 400, share: 0.4})
    assert.equal(summarizeProfiles([profile], 1).byFunction.length, 1, 'only the top entries')
  })

  it('places Node internals, packages, this project and V8 entries', () => {
    assert.equal(placeOf('node:internal/streams/writable', 'write'), 'node:streams')
    assert.equal(placeOf('node:net', 'connect'), 'node:net')
    assert.equal(placeOf('node:_http_server', 'emit'), 'node:http_server')
    assert.equal(placeOf('file:///x/node_modules/@oclif/core/lib/index.js', 'run'), 'npm:@oclif/core')
    assert.equal(placeOf('file:///x/dist/bench/runner.js', 'runBench'), 'dyn:bench')
    assert.equal(placeOf('', 'writev'), '(native)')
    assert.equal(placeOf('', '(program)'), '(program)')
  })
})
