/**
 * The inline-cache tallies of bench/ic-log.ts, on a log in the format `node --log-ic` writes:
 * events counted by site within the window only, each named by the code object that held its
 * address at the time (followed through a move), and an address outside any code named `?`.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {summarizeIcLog} from '../../bench/ic-log.js'

const log = [
  'v8-version,11,3,244,8,-node.38,0',
  'code-creation,JS,12,1000,0x1000,0x100,coordinateHere file:///dyn/dist/src/coordinator/put-coordinator.js:160:30,0x9000,*',
  'code-creation,JS,12,1100,0x2000,0x80,addAck file:///dyn/dist/src/coordinator/put-core.js:25:23,0x9100,~',
  // Before the window: not counted.
  'LoadIC,0x1010,1500,57,16,N,N,0xabc,onMerged,,',
  'LoadIC,0x1010,5000,57,16,N,N,0xabd,onMerged,,',
  'LoadIC,0x1020,5001,57,87,N,N,0xabe,durable,,',
  'LoadIC,0x1010,5002,57,16,N,N,0xabf,onMerged,,',
  'StoreIC,0x2010,5003,26,19,N,N,0xac0,acknowledged,,',
  // The code of addAck moves; an event at its new address is still addAck's.
  'code-move,0x2000,0x3000',
  'StoreIC,0x3010,5004,26,19,N,N,0xac1,acknowledged,,',
  // An address in no code object.
  'KeyedLoadIC,0x7777,5005,1,1,1,P,0xac2,host,,',
  // After the window: not counted.
  'LoadIC,0x1010,9000,57,16,N,N,0xac3,onMerged,,',
].join('\n')

describe('summarizeIcLog', () => {
  it('counts the events within the window by site, naming each by the code that held its address', () => {
    const summary = summarizeIcLog(log, 4000, 8000)
    assert.equal(summary.events, 6)
    assert.deepEqual(
      summary.sites.map((site) => [site.count, site.kind, site.key, site.code, site.line, site.column, site.states]),
      [
        [2, 'LoadIC', 'onMerged', 'coordinateHere file:///dyn/dist/src/coordinator/put-coordinator.js:160:30 (optimized)', 57, 16, 'N->N'],
        [2, 'StoreIC', 'acknowledged', 'addAck file:///dyn/dist/src/coordinator/put-core.js:25:23', 26, 19, 'N->N'],
        [1, 'LoadIC', 'durable', 'coordinateHere file:///dyn/dist/src/coordinator/put-coordinator.js:160:30 (optimized)', 57, 87, 'N->N'],
        [1, 'KeyedLoadIC', 'host', '?', 1, 1, '1->P'],
      ],
    )
  })

  it('forgets code that newer code was created or moved over: V8 logs no deletion', () => {
    const replaced = [
      'code-creation,JS,12,1000,0x1000,0x100,old file:///dyn/a.js:1:1,0x9000,~',
      'code-creation,JS,12,1000,0x5000,0x100,moved file:///dyn/b.js:1:1,0x9100,~',
      // The collector freed both; new code now lies over the first's addresses, from inside it.
      'code-creation,JS,12,2000,0x1080,0x40,fresh file:///dyn/c.js:1:1,0x9200,*',
      // Another code object moved onto the end of the freed range.
      'code-move,0x5000,0x10f0',
      'LoadIC,0x1010,5000,1,1,N,N,0x1,a,,',
      'LoadIC,0x1090,5000,1,1,N,N,0x1,b,,',
      'LoadIC,0x1100,5000,1,1,N,N,0x1,c,,',
      'LoadIC,0x5010,5000,1,1,N,N,0x1,d,,',
    ].join('\n')
    const byKey = Object.fromEntries(summarizeIcLog(replaced, 0, 10_000).sites.map((site) => [site.key, site.code]))
    assert.deepEqual(byKey, {a: '?', b: 'fresh file:///dyn/c.js:1:1 (optimized)', c: 'moved file:///dyn/b.js:1:1', d: '?'})
  })

  it('finds nothing in a window with no events, and in an empty log', () => {
    assert.deepEqual(summarizeIcLog(log, 10_000, 20_000), {events: 0, sites: []})
    assert.deepEqual(summarizeIcLog('', 0, 1), {events: 0, sites: []})
  })
})
