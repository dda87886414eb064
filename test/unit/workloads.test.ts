/**
 * Tests of the bench workloads (YCSB core workloads A–D, F; Dynamo §4.4 shopping cart): the
 * table of mixes, the operation picker's proportions (six standard deviations of a binomial
 * count, on fixed seeds, so a correct picker cannot plausibly fail and a wrong cut cannot pass),
 * YCSB's hashed key names, value bytes, and the cart's merge-by-union.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'
import {seededRandom} from '../../src/clock.js'
import {
  addToCart,
  isWorkloadName,
  keyName,
  mergeCarts,
  operationPicker,
  valueOf,
  workloads,
  type OperationKind,
  type Workload,
  type WorkloadName,
} from '../../bench/workloads.js'
import {assertFrequency} from './statistics.js'

const workloadNames: readonly WorkloadName[] = ['a', 'b', 'c', 'd', 'f', 'cart']


function countKinds(workload: Workload, seed: number, draws: number): Map<OperationKind, number> {
  const picker = operationPicker(workload, seededRandom(seed))
  const counts = new Map<OperationKind, number>()
  for (let i = 0; i < draws; i++) {
    const kind = picker.next()
    counts.set(kind, (counts.get(kind) ?? 0) + 1)
  }
  return counts
}

function assertMixFollowed(workload: Workload, counts: Map<OperationKind, number>, draws: number): void {
  for (const {kind, proportion} of workload.mix) {
    assertFrequency(counts.get(kind) ?? 0, draws, proportion, `${workload.name} ${kind}`)
  }
  for (const kind of counts.keys()) {
    assert.ok(
      workload.mix.some((entry) => entry.kind === kind && entry.proportion > 0),
      `${workload.name} picked ${kind}, which is not in its mix`,
    )
  }
}

describe('workloads', () => {
  it('have the YCSB mixes and default distributions', () => {
    const mixOf = (name: WorkloadName) => Object.fromEntries(workloads[name].mix.map(({kind, proportion}) => [kind, proportion]))
    assert.deepEqual(mixOf('a'), {read: 0.5, update: 0.5})
    assert.deepEqual(mixOf('b'), {read: 0.95, update: 0.05})
    assert.deepEqual(mixOf('c'), {read: 1})
    assert.deepEqual(mixOf('d'), {read: 0.95, insert: 0.05})
    assert.deepEqual(mixOf('f'), {read: 0.5, rmw: 0.5})
    assert.deepEqual(mixOf('cart'), {cart: 1})
    assert.equal(workloads.d.distribution, 'latest')
    for (const name of ['a', 'b', 'c', 'f', 'cart'] as const) assert.equal(workloads[name].distribution, 'zipfian')
  })

  it('are named by their key, titled, and their proportions sum to 1', () => {
    for (const name of workloadNames) {
      const workload = workloads[name]
      assert.equal(workload.name, name)
      assert.ok(workload.title.length > 0)
      assert.ok(Math.abs(workload.mix.reduce((sum, {proportion}) => sum + proportion, 0) - 1) < 1e-12)
    }
    assert.deepEqual(Object.keys(workloads).sort(), [...workloadNames].sort())
  })

  it('isWorkloadName accepts exactly the workload names', () => {
    for (const name of workloadNames) assert.ok(isWorkloadName(name))
    for (const other of ['e', 'A', '', 'cart ', 'toString', '__proto__', 'constructor', 'hasOwnProperty']) {
      assert.equal(isWorkloadName(other), false, other)
    }
  })
})

describe('operationPicker', () => {
  it('follows the mix of every workload', () => {
    const draws = 100_000
    for (const name of workloadNames) assertMixFollowed(workloads[name], countKinds(workloads[name], 1, draws), draws)
  })

  it('follows any mix, and never picks a kind of proportion zero', () => {
    const kinds: readonly OperationKind[] = ['read', 'update', 'insert', 'rmw', 'cart']
    fc.assert(
      fc.property(
        fc.array(fc.nat({max: 100}), {minLength: 5, maxLength: 5}).filter((weights) => weights.some((w) => w > 0)),
        fc.integer(),
        (weights, seed) => {
          const total = weights.reduce((sum, w) => sum + w, 0)
          const workload: Workload = {
            ...workloads.a,
            mix: kinds.map((kind, i) => ({kind, proportion: weights[i]! / total})),
          }
          const draws = 5000
          assertMixFollowed(workload, countKinds(workload, seed, draws), draws)
        },
      ),
      // A fixed seed: this property counts frequencies, so it must replay the same mixes.
      {numRuns: 50, seed: 1},
    )
  })

  it('is deterministic for a seed', () => {
    const draw = (seed: number) => {
      const picker = operationPicker(workloads.a, seededRandom(seed))
      return Array.from({length: 1000}, () => picker.next())
    }
    assert.deepEqual(draw(2), draw(2))
    assert.notDeepEqual(draw(2), draw(3))
  })

  it('refuses a mix that does not sum to 1', () => {
    const workload: Workload = {...workloads.a, mix: [{kind: 'read', proportion: 0.5}]}
    assert.throws(() => operationPicker(workload, seededRandom(4)), /sum/)
  })
})

describe('keyName', () => {
  it("names records as YCSB does, at a fixed width", () => {
    assert.equal(keyName(0), 'user6284781860667377211')
    assert.equal(keyName(1), 'user8517097267634966620')
    assert.equal(keyName(2), 'user1820151046732198393')
  })

  it('gives 100,000 distinct names of one fixed width', () => {
    const names = new Set<string>()
    for (let index = 0; index < 100_000; index++) {
      const name = keyName(index)
      assert.ok(/^user\d{19}$/.test(name), name)
      names.add(name)
    }
    assert.equal(names.size, 100_000)
  })
})

describe('valueOf', () => {
  it('gives `size` printable bytes, the same ones for a seed', () => {
    fc.assert(
      fc.property(fc.nat({max: 5000}), fc.integer(), (size, seed) => {
        const value = valueOf(size, seededRandom(seed))
        assert.equal(value.length, size)
        assert.ok(value.every((byte) => byte >= 0x21 && byte <= 0x7e))
        assert.deepEqual(valueOf(size, seededRandom(seed)), value)
      }),
    )
    assert.notDeepEqual(valueOf(100, seededRandom(5)), valueOf(100, seededRandom(6)))
  })

  it('uses the whole printable range', () => {
    const seen = new Set(valueOf(10_000, seededRandom(7)))
    assert.equal(seen.size, 0x7e - 0x21 + 1)
  })
})

describe('the shopping cart', () => {
  const itemIds = fc.array(fc.string({maxLength: 8}), {maxLength: 20})
  const cartBytes = (items: readonly string[]) => Buffer.from(JSON.stringify(items))

  it('mergeCarts is the sorted union of the siblings, in any order', () => {
    fc.assert(
      fc.property(fc.array(itemIds, {maxLength: 6}), (carts) => {
        const union = [...new Set(carts.flat())].sort()
        const siblings = carts.map(cartBytes)
        assert.deepEqual(mergeCarts(siblings), union)
        assert.deepEqual(mergeCarts([...siblings].reverse()), union)
        assert.deepEqual(mergeCarts([...siblings, ...siblings]), union)
        assert.deepEqual(mergeCarts([cartBytes(mergeCarts(siblings))]), union)
      }),
    )
  })

  it('mergeCarts treats a sibling that is not a JSON array as empty, and ignores non-string items', () => {
    const odd = ['', 'not json', '{"items": ["x"]}', '"x"', 'null', '42', '[1, null, {"a": 1}]', '\u00ff\u00fe'].map((text) =>
      Buffer.from(text, 'latin1'),
    )
    assert.deepEqual(mergeCarts(odd), [])
    assert.deepEqual(mergeCarts([...odd, cartBytes(['b', 'a']), Buffer.from('["c", 7]')]), ['a', 'b', 'c'])
    assert.deepEqual(mergeCarts([]), [])
    fc.assert(
      fc.property(fc.uint8Array({maxLength: 64}), itemIds, (noise, items) => {
        const merged = mergeCarts([Buffer.from(noise), cartBytes(items)])
        for (const item of items) assert.ok(merged.includes(item))
      }),
    )
  })

  it('addToCart writes the cart with the item added once, which mergeCarts reads back', () => {
    fc.assert(
      fc.property(itemIds, fc.string({maxLength: 8}), (items, item) => {
        const written = addToCart(items, item)
        assert.deepEqual(mergeCarts([written]), [...new Set([...items, item])].sort())
        assert.deepEqual(addToCart(mergeCarts([written]), item), written)
      }),
    )
  })

  it('never loses an add made on either side of a partition (Dynamo §4.4)', () => {
    const base = mergeCarts([addToCart([], 'item0001')])
    const left = addToCart(base, 'item0002')
    const right = addToCart(base, 'item0003')
    assert.deepEqual(mergeCarts([left, right]), ['item0001', 'item0002', 'item0003'])
  })
})
