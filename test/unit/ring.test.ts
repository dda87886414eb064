/**
 * Tests of the ring (Dynamo §4.2, §4.3, §6.2 strategy 3): key -> partition, the balanced claim,
 * its determinism and its movement on join and leave, preference lists and the ring hash.
 *
 * Movement figures measured while writing the claim (random member sets, a join S -> S+1 and a
 * leave S+1 -> S, "ideal" = ⌈Q/(S+1)⌉, 200 sets per cell for S in 2..12):
 *   Q=64:   mean 1.39 × ideal, worst 2.8 × ideal (14 moved where 5 is ideal, S=12 -> 13);
 *   Q=256:  mean 1.21 × ideal, worst 1.85 × ideal;
 *   Q=1024: mean 1.12 × ideal, worst 1.39 × ideal.
 * The excess over ideal grows like √Q: the largest seen over S in 1..16 was 1.63·√Q at Q=64,
 * 1.25·√Q at Q=256 and 1.13·√Q at Q=1024. The bound tested below is ideal + 2·√Q.
 */

import {createHash} from 'node:crypto'
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'
import {seededRandom} from '../../src/clock.js'
import {
  buildRing,
  claimOwners,
  isValidPartitionCount,
  movedPartitions,
  ownershipCounts,
  partitionCountDefault,
  partitionCountMax,
  partitionOfKey,
  preferenceList,
  preferenceListForKey,
  ringFromOwners,
  type Ring,
} from '../../src/ring/ring.js'

const memberName = fc.string({unit: 'grapheme', minLength: 1, maxLength: 12})
const memberSet = (minLength: number, maxLength: number) => fc.uniqueArray(memberName, {minLength, maxLength})
const anyPartitionCount = fc.integer({min: 0, max: Math.log2(partitionCountMax)}).map((bits) => 2 ** bits)

/** The movement a join or leave may cause: the newcomer's (or leaver's) share plus 2·√Q of rebalancing. */
function movementBound(partitionCount: number, largerMemberCount: number): number {
  return Math.ceil(partitionCount / largerMemberCount) + 2 * Math.sqrt(partitionCount)
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const random = seededRandom(seed)
  const copy = [...items]
  for (let index = copy.length - 1; index > 0; index--) {
    const other = random.int(index + 1)
    const held = copy[index] as T
    copy[index] = copy[other] as T
    copy[other] = held
  }
  return copy
}

function ownerCounts(owners: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const owner of owners) counts.set(owner, (counts.get(owner) ?? 0) + 1)
  return counts
}

/** Reference preference list, written from the definition rather than the implementation's loop. */
function referencePreferenceList(ring: Ring, partition: number): string[] {
  const rotated = [...ring.owners.slice(partition), ...ring.owners.slice(0, partition)]
  const walked = [...new Set(rotated)]
  const idle = ring.members.filter((name) => !walked.includes(name))
  return [...walked, ...idle]
}

describe('partitionOfKey', () => {
  it('matches published MD5 digests (the first 4 bytes, top log2(Q) bits)', () => {
    // MD5("") = d41d8cd9..., MD5("a") = 0cc175b9..., MD5("abc") = 90015098... (RFC 1321 test suite).
    assert.equal(partitionOfKey('', 64), 0xd4 >>> 2) // 53
    assert.equal(partitionOfKey('', 4096), 0xd41) // 3393
    assert.equal(partitionOfKey('', 2), 1)
    assert.equal(partitionOfKey('a', 64), 0x0c >>> 2) // 3
    assert.equal(partitionOfKey('a', 4096), 0x0cc) // 204
    assert.equal(partitionOfKey('abc', 256), 0x90) // 144
    assert.equal(partitionOfKey('abc', 1), 0)
  })

  it('is in range and equals floor(prefix / (2^32 / Q)) of the UTF-8 MD5', () => {
    fc.assert(
      fc.property(fc.string({unit: 'grapheme', maxLength: 40}), anyPartitionCount, (key, partitionCount) => {
        const partition = partitionOfKey(key, partitionCount)
        assert.ok(Number.isInteger(partition) && partition >= 0 && partition < partitionCount)
        const prefix = createHash('md5').update(Buffer.from(key, 'utf8')).digest().readUInt32BE(0)
        assert.equal(partition, Math.floor(prefix / (2 ** 32 / partitionCount)))
        assert.equal(partitionOfKey(key, partitionCount), partition)
      }),
    )
  })

  it('accepts only powers of two from 1 to partitionCountMax', () => {
    for (let bits = 0; 2 ** bits <= partitionCountMax; bits++) assert.ok(isValidPartitionCount(2 ** bits))
    for (const bad of [0, -64, 3, 48, 64.5, partitionCountMax * 2, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.ok(!isValidPartitionCount(bad), String(bad))
    }
    assert.ok(isValidPartitionCount(partitionCountDefault))
    assert.throws(() => partitionOfKey('k', 48))
  })
})

describe('claim', () => {
  it('gives every member ⌊Q/S⌋ or ⌈Q/S⌉ partitions, exactly Q mod S of them the larger', () => {
    fc.assert(
      fc.property(anyPartitionCount, memberSet(1, 40), (partitionCount, members) => {
        const owners = claimOwners(partitionCount, members)
        assert.equal(owners.length, partitionCount)
        const counts = ownerCounts(owners)
        for (const owner of counts.keys()) assert.ok(members.includes(owner))
        const floor = Math.floor(partitionCount / members.length)
        let larger = 0
        for (const name of members) {
          const count = counts.get(name) ?? 0
          assert.ok(count === floor || count === floor + 1, `${name} owns ${count}, floor ${floor}`)
          if (count === floor + 1) larger++
        }
        assert.equal(larger, partitionCount % members.length)
      }),
      {numRuns: 60},
    )
  })

  it('depends on the member set only: any order gives the same owners and the same hash', () => {
    fc.assert(
      fc.property(anyPartitionCount, memberSet(1, 20), fc.integer(), (partitionCount, members, seed) => {
        const ring = buildRing(partitionCount, members)
        const again = buildRing(partitionCount, shuffled(members, seed))
        assert.deepEqual(again.owners, ring.owners)
        assert.deepEqual(again.members, ring.members)
        assert.equal(again.hash, ring.hash)
        assert.deepEqual(claimOwners(partitionCount, shuffled(members, seed + 1)), [...ring.owners])
      }),
      {numRuns: 60},
    )
  })

  it('moves at most ⌈Q/S⌉ + 2·√Q partitions on a join and on a leave', () => {
    fc.assert(
      fc.property(fc.constantFrom(64, 256, 1024), memberSet(2, 13), (partitionCount, members) => {
        const bound = movementBound(partitionCount, members.length)
        const smaller = buildRing(partitionCount, members.slice(1))
        const larger = buildRing(partitionCount, members)
        const joinMoved = movedPartitions(smaller, larger).length
        assert.ok(joinMoved <= bound, `join moved ${joinMoved} > ${bound}`)
        // The newcomer's partitions all moved, so the count can never be below its share.
        assert.ok(joinMoved >= Math.floor(partitionCount / members.length))
        const leaveMoved = movedPartitions(larger, smaller).length
        assert.ok(leaveMoved <= bound, `leave moved ${leaveMoved} > ${bound}`)
      }),
      {numRuns: 80},
    )
  })

  it('moves on average at most 1.3 × ⌈Q/(S+1)⌉ at Q=256 (measured 1.21)', () => {
    const partitionCount = 256
    const random = seededRandom(20070101)
    const joinsPerSize = 20
    let ratioSum = 0
    let samples = 0
    for (let size = 2; size <= 12; size++) {
      for (let join = 0; join < joinsPerSize; join++) {
        const names = new Set<string>()
        while (names.size < size + 1) names.add(`node-${random.int(2 ** 31).toString(36)}`)
        const members = [...names]
        const moved = movedPartitions(buildRing(partitionCount, members.slice(1)), buildRing(partitionCount, members))
        ratioSum += moved.length / Math.ceil(partitionCount / (size + 1))
        samples++
      }
    }
    const meanRatio = ratioSum / samples
    assert.ok(meanRatio <= 1.3, `mean moved ${meanRatio.toFixed(3)} × ideal`)
  })

  it('the movement bound rejects a claim that reshuffles (so the test above can fail)', () => {
    const moduloOwners = (partitionCount: number, members: string[]): string[] => {
      const sorted = [...members].sort()
      return Array.from({length: partitionCount}, (_, partition) => sorted[partition % sorted.length] as string)
    }
    for (const partitionCount of [64, 256, 1024]) {
      const members = ['a', 'b', 'c', 'd', 'e']
      const before = moduloOwners(partitionCount, members.slice(1))
      const after = moduloOwners(partitionCount, members)
      const moved = before.filter((owner, partition) => owner !== after[partition]).length
      assert.ok(moved > movementBound(partitionCount, members.length), `modulo claim moved only ${moved}`)
    }
  })

  it('gives the members beyond Q at most one partition each (S > Q)', () => {
    const members = Array.from({length: 11}, (_, index) => `n${index}`)
    const ring = buildRing(8, members)
    const counts = ownershipCounts(ring)
    assert.equal([...counts.values()].filter((count) => count === 1).length, 8)
    assert.equal([...counts.values()].filter((count) => count === 0).length, 3)
  })

  it('rejects programmer errors', () => {
    assert.throws(() => buildRing(64, []))
    assert.throws(() => buildRing(64, ['a', 'b', 'a']))
    assert.throws(() => buildRing(63, ['a']))
    assert.throws(() => buildRing(64, ['']))
    assert.throws(() => movedPartitions(buildRing(64, ['a']), buildRing(128, ['a'])))
    assert.throws(() => buildRing(64, ['a', 7 as unknown as string]), /assertion failed/)
    assert.throws(() => buildRing(64, ['a', ['b'] as unknown as string]), /assertion failed/)
    assert.throws(() => buildRing(0, ['a']))
  })
})

describe('ring from given owners', () => {
  it('is the ring the claim builds when given its owners, members sorted, and the hash covers idle members', () => {
    const built = buildRing(16, ['c', 'a', 'b'])
    const given = ringFromOwners(16, ['b', 'c', 'a'], built.owners)
    assert.deepEqual(given, built)
    assert.ok(Object.isFrozen(given) && Object.isFrozen(given.owners) && Object.isFrozen(given.members))
    const owners = Array.from({length: 4}, () => 'a')
    const withIdle = ringFromOwners(4, ['b', 'a'], owners)
    assert.deepEqual(withIdle.members, ['a', 'b'])
    assert.notEqual(withIdle.hash, ringFromOwners(4, ['a'], owners).hash)
    assert.deepEqual(preferenceList(withIdle, 2), ['a', 'b'])
  })

  it('copies the owners it is given', () => {
    const owners = ['a', 'b']
    const ring = ringFromOwners(2, ['a', 'b'], owners)
    owners[0] = 'b'
    assert.deepEqual(ring.owners, ['a', 'b'])
  })

  it('rejects a bad Q, owners for another Q, a member twice and an owner that is no member', () => {
    assert.throws(() => ringFromOwners(3, ['a'], ['a', 'a', 'a']), /assertion failed/)
    assert.throws(() => ringFromOwners(4, ['a'], ['a', 'a', 'a']), /assertion failed/)
    assert.throws(() => ringFromOwners(2, ['a', 'b', 'a'], ['a', 'b']), /assertion failed/)
    assert.throws(() => ringFromOwners(2, ['a'], ['a', 'b']), /assertion failed/)
    assert.doesNotThrow(() => ringFromOwners(2, ['a', 'b'], ['b', 'b']))
  })
})

describe('ring', () => {
  it('sorts members and counts ownership for every member', () => {
    const ring = buildRing(64, ['c', 'a', 'b'])
    assert.deepEqual(ring.members, ['a', 'b', 'c'])
    const counts = ownershipCounts(ring)
    assert.deepEqual([...counts.keys()], ['a', 'b', 'c'])
    assert.deepEqual([...counts.values()].sort(), [21, 21, 22])
    assert.deepEqual(movedPartitions(ring, buildRing(64, ['b', 'c', 'a'])), [])
  })

  it('preference list: every member once, the owner first, the clockwise walk, idle members last', () => {
    fc.assert(
      fc.property(
        fc.integer({min: 0, max: 8}).map((bits) => 2 ** bits),
        memberSet(1, 20),
        fc.nat(),
        (partitionCount, members, partitionSeed) => {
          const ring = buildRing(partitionCount, members)
          const partition = partitionSeed % partitionCount
          const nodes = preferenceList(ring, partition)
          assert.equal(nodes.length, members.length)
          assert.equal(new Set(nodes).size, nodes.length)
          assert.deepEqual([...nodes].sort(), [...ring.members])
          assert.equal(nodes[0], ring.owners[partition])
          assert.deepEqual(nodes, referencePreferenceList(ring, partition))
          // Members owning nothing come last, in name order.
          const idleCount = members.length - new Set(ring.owners).size
          const idle = nodes.slice(nodes.length - idleCount)
          assert.deepEqual(idle, [...idle].sort())
          for (const name of idle) assert.ok(!ring.owners.includes(name))
        },
      ),
      {numRuns: 100},
    )
  })

  it('preference list for a key uses the key partition; out-of-range partitions are rejected', () => {
    fc.assert(
      fc.property(fc.string({maxLength: 30}), memberSet(1, 10), (key, members) => {
        const ring = buildRing(partitionCountDefault, members)
        const {partition, nodes} = preferenceListForKey(ring, key)
        assert.equal(partition, partitionOfKey(key, partitionCountDefault))
        assert.deepEqual(nodes, preferenceList(ring, partition))
      }),
      {numRuns: 50},
    )
    const ring = buildRing(64, ['a', 'b'])
    assert.throws(() => preferenceList(ring, 64))
    assert.throws(() => preferenceList(ring, -1))
    assert.throws(() => preferenceList(ring, 1.5))
  })

  it('works a list out once per ring: asked again it is the same, frozen, and a changed ring has its own', () => {
    const ring = buildRing(64, ['a', 'b', 'c'])
    const first = preferenceList(ring, 5)
    assert.equal(preferenceList(ring, 5), first)
    assert.ok(Object.isFrozen(first), 'a cached list must not be changed by a caller')
    assert.throws(() => (first as string[]).push('d'))
    assert.deepEqual(preferenceList(ring, 5), referencePreferenceList(ring, 5))
    const grown = buildRing(64, ['a', 'b', 'c', 'd'])
    for (let partition = 0; partition < 64; partition += 1) {
      assert.deepEqual(preferenceList(grown, partition), referencePreferenceList(grown, partition))
      assert.deepEqual(preferenceList(ring, partition), referencePreferenceList(ring, partition))
    }
  })

  it('different rings have different hashes; equal rings equal ones', () => {
    const hashes = new Map<string, string>()
    const record = (ring: Ring): void => {
      const description = JSON.stringify([ring.partitionCount, ring.members])
      const seen = hashes.get(ring.hash)
      assert.ok(seen === undefined || seen === description, `${description} and ${String(seen)} share ${ring.hash}`)
      hashes.set(ring.hash, description)
      assert.match(ring.hash, /^[0-9a-f]{16}$/)
    }
    const names = Array.from({length: 12}, (_, index) => `node-${index}`)
    for (const partitionCount of [1, 2, 8, 64, 256]) {
      for (let size = 1; size <= names.length; size++) {
        record(buildRing(partitionCount, names.slice(0, size)))
        record(buildRing(partitionCount, names.slice(names.length - size)))
        record(buildRing(partitionCount, names.slice(0, size).reverse()))
      }
    }
    // With S > Q two rings can share owners yet differ in their idle members: still different hashes.
    const many = Array.from({length: 6}, (_, index) => `m${index}`)
    assert.notEqual(buildRing(1, many).hash, buildRing(1, [...many, 'zzz']).hash)
  })
})

describe('preference lists over shared machines (§4.3: distinct physical nodes)', () => {
  /** `machineCount` machines of `perMachine` members each: m0-0, m0-1, ... on machine m0. */
  function grouped(machineCount: number, perMachine: number): {members: string[]; machineOf: (name: string) => string} {
    const members: string[] = []
    for (let machine = 0; machine < machineCount; machine++) for (let process = 0; process < perMachine; process++) members.push(`m${machine}-${process}`)
    return {members, machineOf: (name) => name.slice(0, name.indexOf('-'))}
  }

  it('puts the first min(N, machines) homes on distinct machines, keeps every member once and keeps the walk order within each half', () => {
    fc.assert(
      fc.property(fc.integer({min: 1, max: 6}), fc.integer({min: 1, max: 4}), fc.integer({min: 0, max: 8}), (machineCount, perMachine, bits) => {
        const partitionCount = 2 ** bits
        const {members, machineOf} = grouped(machineCount, perMachine)
        const ring = buildRing(partitionCount, members, machineOf)
        assert.equal(ring.machineCount, machineCount)
        for (let partition = 0; partition < partitionCount; partition++) {
          const list = preferenceList(ring, partition)
          assert.deepEqual([...list].sort(), [...members].sort())
          const firstMachines = list.slice(0, machineCount).map(machineOf)
          assert.equal(new Set(firstMachines).size, machineCount, `partition ${partition}: ${list.join(' ')}`)
          // Splitting the plain walk in two keeps each half in walk order.
          const walk = referencePreferenceList(ring, partition)
          const first = list.slice(0, machineCount)
          const later = list.slice(machineCount)
          assert.deepEqual(first, walk.filter((name) => first.includes(name)))
          assert.deepEqual(later, walk.filter((name) => later.includes(name)))
        }
      }),
      {numRuns: 80},
    )
  })

  it('is the plain walk, with the same hash, when every member has a machine of its own', () => {
    fc.assert(
      fc.property(anyPartitionCount, memberSet(1, 12), (partitionCount, members) => {
        const plain = buildRing(partitionCount, members)
        const own = buildRing(partitionCount, members, (name) => name)
        assert.equal(own.hash, plain.hash)
        assert.equal(own.machineCount, members.length)
        for (let partition = 0; partition < Math.min(partitionCount, 16); partition++) {
          assert.deepEqual(preferenceList(own, partition), referencePreferenceList(plain, partition))
        }
      }),
      {numRuns: 40},
    )
  })

  it('changes the hash when machines are shared, so nodes that disagree on machines see different rings', () => {
    const {members, machineOf} = grouped(3, 2)
    const plain = buildRing(64, members)
    const shared = buildRing(64, members, machineOf)
    assert.notEqual(shared.hash, plain.hash)
    assert.deepEqual(shared.owners, plain.owners)
    const other = buildRing(64, members, (name) => (name === 'm0-1' ? 'm1' : machineOf(name)))
    assert.notEqual(other.hash, shared.hash)
  })

  it('spreads home replicas evenly enough: every member of 3 machines x 2 processes is a home of 30% to 70% of 256 partitions at N=3', () => {
    // Each member's fair share is N/S = 3/6 = 50% of the partitions. The walk skips a member whose
    // machine is already in the list, so shares move, but none may starve or carry double.
    const {members, machineOf} = grouped(3, 2)
    const ring = buildRing(256, members, machineOf)
    const homes = new Map(members.map((name) => [name, 0]))
    for (let partition = 0; partition < 256; partition++) {
      for (const home of preferenceList(ring, partition).slice(0, 3)) homes.set(home, (homes.get(home) ?? 0) + 1)
    }
    for (const [name, count] of homes) assert.ok(count >= 0.3 * 256 && count <= 0.7 * 256, `${name} is a home of ${count} of 256`)
  })

  it('ringFromOwners takes the same machines: a ring decided by the claimant orders lists the same way', () => {
    const {members, machineOf} = grouped(2, 3)
    const built = buildRing(32, members, machineOf)
    const decided = ringFromOwners(32, members, built.owners, machineOf)
    assert.equal(decided.hash, built.hash)
    for (let partition = 0; partition < 32; partition++) assert.deepEqual(preferenceList(decided, partition), preferenceList(built, partition))
  })
})
