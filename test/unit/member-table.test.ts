/**
 * Tests of the member table and its gossip merge (paper §4.8): the merge is commutative,
 * associative and idempotent over random rows (so gossip in any order converges), the higher
 * incarnation wins, no member ever disappears, the ring is built from the valid and leaving
 * members, and the structural check of a table from the network rejects malformed input without
 * ever throwing.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  findMember,
  isValidMemberTable,
  replicaCountsInUse,
  membersMax,
  mergeTables,
  newMemberTable,
  presentMembers,
  presentOrHandingOff,
  ringMemberCount,
  ringMembers,
  ringOf,
  sameTable,
  settingsMismatch,
  statusOf,
  withMember,
  type ClusterSettings,
  type Member,
  type MemberStatus,
  type MemberTable,
} from '../../src/membership/member-table.js'
import {buildRing} from '../../src/ring/ring.js'
import {seededRandom} from '../../src/clock.js'
import {Membership} from '../../src/membership/membership.js'
import type {Transport} from '../../src/transport/transport.js'

const settings: ClusterSettings = {clusterId: '0123456789abcdef', partitionCount: 16, defaultN: 3, defaultR: 2, defaultW: 2, conflictPolicy: 'siblings'}
const statuses: readonly MemberStatus[] = ['joining', 'valid', 'leaving', 'left']
/** A few names, so that random tables often hold rows for the same member. */
const names = ['ann', 'bob', 'cat', 'dan'] as const
const addresses = ['10.0.0.1:7000', '10.0.0.2:7000'] as const

function member(name: string, incarnation: number, status: MemberStatus = 'valid', rpcAddress = `${name}:7000`, apiAddress = `${name}:8000`): Member {
  return {name, rpcAddress, apiAddress, status, incarnation}
}

function table(...members: Member[]): MemberTable {
  return {settings, members: [...members].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))}
}

const memberArb = (name: string): fc.Arbitrary<Member> =>
  fc
    .tuple(
      fc.record({
        name: fc.constant(name),
        rpcAddress: fc.constantFrom(...addresses),
        apiAddress: fc.constantFrom(...addresses),
        status: fc.constantFrom(...statuses),
        incarnation: fc.nat({max: 2}),
      }, {noNullPrototype: true}),
      fc.boolean(),
      fc.option(fc.integer({min: 1, max: 3}), {nil: undefined}),
      fc.boolean(),
      // Rows that differ only in the machine they name (a bug, or two processes sharing a name) must merge alike too.
      fc.option(fc.constantFrom('h1', 'h2'), {nil: undefined}),
    )
    // Only a row that left may say it handed everything off, and only such a row that it was removed.
    .map(([row, handedOff, diskClock, removed, machine]): Member => {
      const withHandOff: Member = handedOff && row.status === 'left' ? {...row, handedOff: true, ...(removed ? {removed: true as const} : {})} : row
      const withMachine: Member = machine === undefined ? withHandOff : {...withHandOff, machine}
      return diskClock === undefined ? withMachine : {...withMachine, diskClock}
    })

/**
 * Runs for the merge laws: a tie (same name, incarnation and status) turns up in about one pair of
 * tables in fifty, and a law that fails only on ties must still be caught on every run.
 */
const lawRuns = 1000

/** A well-formed table: some of the names, one row each, sorted by name. */
const tableArb: fc.Arbitrary<MemberTable> = fc
  .subarray([...names])
  .chain((chosen) => fc.tuple(...chosen.map((name) => memberArb(name))))
  .map((members) => table(...members))

describe('member table: merge laws', () => {
  it('is commutative', () => {
    fc.assert(
      fc.property(tableArb, tableArb, (a, b) => assert.deepEqual(mergeTables(a, b), mergeTables(b, a))),
      {numRuns: lawRuns},
    )
  })

  it('is associative', () => {
    fc.assert(
      fc.property(tableArb, tableArb, tableArb, (a, b, c) =>
        assert.deepEqual(mergeTables(mergeTables(a, b), c), mergeTables(a, mergeTables(b, c))),
      ),
      {numRuns: lawRuns},
    )
  })

  it('is idempotent', () => {
    fc.assert(
      fc.property(tableArb, tableArb, (a, b) => {
        assert.deepEqual(mergeTables(a, a), a)
        const merged = mergeTables(a, b)
        assert.deepEqual(mergeTables(merged, b), merged)
        assert.deepEqual(mergeTables(merged, a), merged)
      }),
      {numRuns: lawRuns},
    )
  })

  it('keeps every member, one row per name, sorted, at the highest incarnation seen', () => {
    fc.assert(
      fc.property(tableArb, tableArb, (a, b) => {
        const merged = mergeTables(a, b)
        const mergedNames = merged.members.map((m) => m.name)
        const inputNames = [...new Set([...a.members, ...b.members].map((m) => m.name))].sort()
        assert.deepEqual(mergedNames, inputNames)
        for (const row of merged.members) {
          const candidates = [...a.members, ...b.members].filter((m) => m.name === row.name)
          const highest = Math.max(...candidates.map((m) => m.incarnation))
          assert.equal(row.incarnation, highest)
          // The row kept is one of the rows given, not a mixture of two, but for the disk clock: the largest given.
          const diskClock = Math.max(0, ...candidates.map((m) => m.diskClock ?? 0))
          assert.equal(row.diskClock ?? 0, diskClock)
          const withoutClock = ({diskClock: _, ...rest}: Member): Omit<Member, 'diskClock'> => rest
          assert.ok(candidates.some((candidate) => JSON.stringify(withoutClock(candidate)) === JSON.stringify(withoutClock(row))))
          const atHighest = candidates.filter((m) => m.incarnation === highest)
          if (atHighest.length === 1) assert.deepEqual(withoutClock(row), withoutClock(atHighest[0]!))
          // A member that left at the highest incarnation stays left: old gossip cannot resurrect it.
          if (atHighest.some((m) => m.status === 'left')) assert.equal(row.status, 'left')
        }
      }),
    )
  })

  it('at one incarnation, a left row that says it handed everything off wins; only a left row may say so', () => {
    const leftRow = member('ann', 3, 'left')
    const handedOff: Member = {...leftRow, handedOff: true}
    assert.deepEqual(mergeTables(table(leftRow), table(handedOff)).members, [handedOff])
    assert.deepEqual(mergeTables(table(handedOff), table(leftRow)).members, [handedOff])
    assert.equal(sameTable(table(leftRow), table(handedOff)), false)
    assert.equal(isValidMemberTable(table(handedOff)), true)
    assert.equal(isValidMemberTable(table({...member('ann', 3, 'leaving'), handedOff: true})), false)
    assert.equal(isValidMemberTable(table({...leftRow, handedOff: false} as unknown as Member)), false)
  })

  it('keeps the larger disk clock whichever row wins: a reaper raises it in rows it does not own', () => {
    const owned = {...member('ann', 5), diskClock: 2}
    const raised = {...member('ann', 4), diskClock: 7}
    for (const merged of [mergeTables(table(owned), table(raised)), mergeTables(table(raised), table(owned))]) {
      assert.deepEqual(findMember(merged, 'ann'), {...owned, diskClock: 7})
    }
    assert.deepEqual(findMember(mergeTables(table(member('ann', 1)), table(member('ann', 1))), 'ann'), member('ann', 1), 'no disk clock stays none')
    assert.equal(sameTable(table(owned), table({...owned, diskClock: 3})), false)
  })

  it('lets the higher incarnation win, in either direction', () => {
    const old = table(member('ann', 1, 'valid', 'old:1'))
    const fresh = table(member('ann', 2, 'joining', 'new:1'))
    assert.deepEqual(mergeTables(old, fresh).members, [member('ann', 2, 'joining', 'new:1')])
    assert.deepEqual(mergeTables(fresh, old).members, [member('ann', 2, 'joining', 'new:1')])
  })

  it('never drops a member that left, and an older row cannot bring it back', () => {
    const left = table(member('ann', 4, 'left'), member('bob', 1))
    const stale = table(member('ann', 3, 'valid'))
    assert.deepEqual(mergeTables(left, stale), left)
    assert.deepEqual(mergeTables(stale, left), left)
    // A row for another member does not remove it either.
    assert.deepEqual(findMember(mergeTables(left, table(member('cat', 9))), 'ann'), member('ann', 4, 'left'))
    assert.deepEqual(ringMembers(left), ['bob'])
  })

  it('breaks a tie at the same incarnation by status, then address, the same way on both sides', () => {
    const valid = table(member('ann', 1, 'valid'))
    const leaving = table(member('ann', 1, 'leaving'))
    assert.equal(mergeTables(valid, leaving).members[0]?.status, 'leaving')
    assert.equal(mergeTables(leaving, valid).members[0]?.status, 'leaving')
    const low = table(member('ann', 1, 'valid', 'a:1'))
    const high = table(member('ann', 1, 'valid', 'b:1'))
    assert.equal(mergeTables(low, high).members[0]?.rpcAddress, 'b:1')
    assert.equal(mergeTables(high, low).members[0]?.rpcAddress, 'b:1')
  })

  it('converges on one row when two rows differ only in their API address', () => {
    const one = table(member('ann', 1, 'valid', 'h:7000', 'h:8000'))
    const other = table(member('ann', 1, 'valid', 'h:7000', 'h:8001'))
    assert.deepEqual(mergeTables(one, other), mergeTables(other, one))
  })
})

describe('member table: rows, ring and settings', () => {
  it('replaces or adds a row with withMember and finds it with findMember', () => {
    const start = newMemberTable(settings, member('bob', 1))
    const added = withMember(start, member('ann', 1))
    assert.deepEqual(
      added.members.map((m) => m.name),
      ['ann', 'bob'],
    )
    const replaced = withMember(added, member('bob', 2, 'leaving'))
    assert.deepEqual(findMember(replaced, 'bob'), member('bob', 2, 'leaving'))
    assert.equal(replaced.members.length, 2)
    assert.equal(findMember(replaced, 'zed'), undefined)
    // The table it was given is left as it was.
    assert.deepEqual(start.members, [member('bob', 1)])
  })

  it('builds the ring from the valid and leaving members only', () => {
    const t = table(member('ann', 1, 'valid'), member('bob', 1, 'joining'), member('cat', 1, 'leaving'), member('dan', 1, 'left'))
    assert.deepEqual(ringMembers(t), ['ann', 'cat'])
    assert.equal(ringMemberCount(t), 2)
    const ring = ringOf(t)
    assert.deepEqual(ring, buildRing(settings.partitionCount, ['ann', 'cat']))
    assert.equal(ring.partitionCount, 16)
    assert.deepEqual(new Set(ring.owners), new Set(['ann', 'cat']))
  })

  it('builds the ring with the machines the ring state records, not what rows say', () => {
    const created = newMemberTable(settings, {...member('ann', 1), machine: 'h1'})
    assert.deepEqual(created.ring?.machines, {ann: 'h1'})
    assert.equal(ringMemberCount(created), 1)
    assert.deepEqual(ringOf(created).machines, ['h1'])
    // A row that claims another machine later changes nothing: the ring state decides.
    const claimed = withMember(created, {...member('ann', 2), machine: 'h2'})
    assert.deepEqual(ringOf(claimed).machines, ['h1'])
    assert.equal(ringOf(claimed).hash, ringOf(created).hash)
  })

  it('gives the same ring to every node that merged the same gossip in any order', () => {
    fc.assert(
      fc.property(tableArb, tableArb, tableArb, (a, b, c) => {
        const first = mergeTables(mergeTables(a, b), c)
        const second = mergeTables(c, mergeTables(b, a))
        assert.deepEqual(ringMembers(first), ringMembers(second))
        if (ringMembers(first).length > 0) assert.equal(ringOf(first).hash, ringOf(second).hash)
        // The count every request asks for is the list's length, with a committed ring or without.
        for (const merged of [first, second, a]) assert.equal(ringMemberCount(merged), ringMembers(merged).length)
      }),
    )
  })

  it('tells a removed member as left although its own row still says valid; joiners and members of a transition stay as they are', () => {
    const ownersOf = (members: string[]): string[] => Array.from({length: settings.partitionCount}, (_, i) => members[i % members.length] as string)
    const rows = [member('ann', 1), member('bob', 1), member('cat', 1), member('dan', 1, 'joining')]
    // cat was removed: the committed ring no longer has it, and it never ran again to say so.
    const afterRemoval: MemberTable = {...table(...rows), ring: {version: 5, claimant: 'ann', members: ['ann', 'bob'], owners: ownersOf(['ann', 'bob']), staged: []}}
    assert.deepEqual(afterRemoval.members.map((m) => statusOf(afterRemoval, m)), ['valid', 'valid', 'left', 'joining'])
    assert.deepEqual(presentMembers(afterRemoval).map((m) => m.name), ['ann', 'bob', 'dan'])
    // While a transition brings a member in (or still has it), its row's status holds.
    const moving: MemberTable = {...afterRemoval, ring: {...afterRemoval.ring!, next: {id: '6.ann', members: ['ann', 'bob', 'cat'], owners: ownersOf(['ann', 'bob', 'cat']), removing: []}}}
    assert.equal(statusOf(moving, rows[2]!), 'valid')
    // A table from before there was a claimant: rows alone.
    assert.equal(statusOf(table(...rows), rows[2]!), 'valid')
  })

  it('counts a leaver that has not handed off among the nodes that still work for the cluster, unless a present member now has its address', () => {
    const leaver = member('cat', 2, 'left', '10.0.0.3:7000')
    const rows = [member('ann', 1), member('bob', 1), leaver, {...member('dan', 4, 'left'), handedOff: true as const}]
    assert.deepEqual(presentOrHandingOff(table(...rows)).map((m) => m.name), ['ann', 'bob', 'cat'], 'dan handed off (or was removed): gone')
    // A replacement machine took cat's address: an answer there is eve's, and would count it down.
    assert.deepEqual(presentOrHandingOff(table(...rows, member('eve', 1, 'valid', '10.0.0.3:7000'))).map((m) => m.name), ['ann', 'bob', 'eve'])
  })

  it('a member the claimant removed is left, even when its last row still said joining', () => {
    const ownersOf = (members: string[]): string[] => Array.from({length: settings.partitionCount}, (_, i) => members[i % members.length] as string)
    // cat was committed into the ring, but its valid row never spread before it died: the
    // claimant's table still has its joining row when the removal installs.
    const installed: MemberTable = {...table(member('ann', 1), member('bob', 1), member('cat', 4, 'joining')), ring: {version: 7, claimant: 'ann', members: ['ann', 'bob'], owners: ownersOf(['ann', 'bob']), staged: []}}
    assert.equal(statusOf(installed, findMember(installed, 'cat')!), 'joining', 'by the ring alone it reads as a join waiting for commit')
    // Never used: marking a row sends nothing.
    const membership = new Membership(installed, 'ann', {} as Transport, seededRandom(1), {onChange: () => undefined, log: () => undefined})
    membership.markRemoved('cat')
    assert.equal(findMember(membership.table, 'cat')?.status, 'left')
    assert.equal(findMember(membership.table, 'cat')?.handedOff, true, 'a removal gives up what only cat holds: no reaper waits for it')
    assert.equal(findMember(membership.table, 'cat')?.removed, true, 'nothing cat sends is stored, and cat stops when it hears of it')
    // Gossip with the stale joining row changes nothing; cat's own newer valid row reads as left.
    membership.merge(table(member('cat', 4, 'joining')))
    assert.equal(findMember(membership.table, 'cat')?.status, 'left')
    membership.merge(table(member('cat', 5, 'valid')))
    assert.equal(statusOf(membership.table, findMember(membership.table, 'cat')!), 'left')
  })

  it('a node raises disk clocks it was told of, and keeps a raised clock of its own when it refutes an old row', () => {
    const membership = new Membership(table(member('ann', 3), member('bob', 2)), 'ann', {} as Transport, seededRandom(1), {onChange: () => undefined, log: () => undefined})
    membership.raiseDiskClocks([['bob', 4], ['ann', 2], ['nobody', 9]])
    assert.equal(findMember(membership.table, 'bob')?.diskClock, 4)
    assert.equal(findMember(membership.table, 'ann')?.diskClock, 2)
    assert.equal(findMember(membership.table, 'nobody'), undefined, 'no row is made for a name the table lacks')
    membership.raiseDiskClocks([['bob', 1]])
    assert.equal(findMember(membership.table, 'bob')?.diskClock, 4, 'never lowered')
    // A peer heard of a higher disk clock of ann's (ann is on an old disk): ann's refutation of
    // the peer's row keeps it, so that the evidence reaches ann's disk check and stays.
    membership.merge(table({...member('ann', 3, 'valid', 'elsewhere:1'), diskClock: 6}))
    const mine = findMember(membership.table, 'ann')
    assert.equal(mine?.rpcAddress, 'ann:7000')
    assert.equal(mine?.incarnation, 4)
    assert.equal(mine?.diskClock, 6)
  })

  it('tells when two tables are the same', () => {
    const t = table(member('ann', 1), member('bob', 2))
    assert.equal(sameTable(t, table(member('ann', 1), member('bob', 2))), true)
    assert.equal(sameTable(t, table(member('ann', 1))), false)
    assert.equal(sameTable(t, table(member('ann', 1), member('bob', 3))), false)
    assert.equal(sameTable(t, table(member('ann', 1), member('bob', 2, 'left'))), false)
    assert.equal(sameTable(t, table(member('ann', 1), member('bob', 2, 'valid', 'elsewhere:1'))), false)
  })

  it('names the first setting on which two clusters disagree', () => {
    assert.equal(settingsMismatch(settings, {...settings}), undefined)
    const changes: Array<[keyof ClusterSettings, ClusterSettings]> = [
      ['clusterId', {...settings, clusterId: 'fedcba9876543210'}],
      ['partitionCount', {...settings, partitionCount: 32}],
      ['defaultN', {...settings, defaultN: 5}],
      ['defaultR', {...settings, defaultR: 1}],
      ['defaultW', {...settings, defaultW: 3}],
      ['conflictPolicy', {...settings, conflictPolicy: 'lww'}],
    ]
    for (const [field, other] of changes) {
      const mismatch = settingsMismatch(settings, other)
      assert.ok(mismatch !== undefined, `no mismatch reported for ${field}`)
      assert.match(mismatch, new RegExp(`^${field}\\b`))
      assert.ok(mismatch.includes(String(settings[field])) && mismatch.includes(String(other[field])), mismatch)
    }
    const several = settingsMismatch(settings, {...settings, defaultR: 1, conflictPolicy: 'lww'})
    assert.match(several ?? '', /^defaultR/)
  })
})

describe('member table: structural check', () => {
  const good = table(member('ann', 1), member('bob', 0, 'joining'))

  it('accepts every well-formed table', () => {
    assert.equal(isValidMemberTable(good), true)
    assert.equal(isValidMemberTable({...good, settings: {...settings, conflictPolicy: 'lww'}}), true)
    fc.assert(fc.property(tableArb, (t) => assert.equal(isValidMemberTable(t), true)))
    // A table that went through msgpack or JSON is still accepted.
    assert.equal(isValidMemberTable(JSON.parse(JSON.stringify(good))), true)
  })

  it('rejects malformed tables', () => {
    const row = member('ann', 1) as unknown as Record<string, unknown>
    const withRow = (changes: Record<string, unknown>): unknown => ({settings, members: [{...row, ...changes}]})
    const withSettings = (changes: Record<string, unknown>): unknown => ({settings: {...settings, ...changes}, members: [row]})
    const rowWithout = (field: string): unknown => {
      const copy = {...row}
      delete copy[field]
      return {settings, members: [copy]}
    }
    const malformed: Array<[string, unknown]> = [
      ['null', null],
      ['undefined', undefined],
      ['a number', 42],
      ['a string', 'table'],
      ['an array', [settings, [row]]],
      ['no settings', {members: [row]}],
      ['settings null', {settings: null, members: [row]}],
      ['no members', {settings}],
      ['members not an array', {settings, members: {0: row}}],
      ['an incarnation so large that raising it by one changes nothing', {settings, members: [{...row, incarnation: 2 ** 53}]}],
      ['an incarnation above the bound', {settings, members: [{...row, incarnation: 2 ** 48 + 1}]}],
      ['a negative incarnation', {settings, members: [{...row, incarnation: -1}]}],
      ['too many members', {settings, members: Array.from({length: membersMax + 1}, (_, i) => member(`m${i}`, 1))}],
      ['partitionCount 0', withSettings({partitionCount: 0})],
      ['no cluster id', withSettings({clusterId: undefined})],
      ['a cluster id that is not 16 hex digits', withSettings({clusterId: 'cluster-1'})],
      ['partitionCount as a string', withSettings({partitionCount: '16'})],
      ['defaultN 1.5', withSettings({defaultN: 1.5})],
      ['defaultR missing', withSettings({defaultR: undefined})],
      ['defaultW negative', withSettings({defaultW: -2})],
      ['unknown conflict policy', withSettings({conflictPolicy: 'newest'})],
      ['a member that is null', {settings, members: [null]}],
      ['a member that is a string', {settings, members: ['ann']}],
      ['name missing', rowWithout('name')],
      ['name a number', withRow({name: 7})],
      ['rpcAddress missing', rowWithout('rpcAddress')],
      ['apiAddress null', withRow({apiAddress: null})],
      ['unknown status', withRow({status: 'dead'})],
      ['status not a string', withRow({status: 1})],
      ['incarnation a string', withRow({incarnation: '1'})],
      ['incarnation fractional', withRow({incarnation: 1.5})],
      ['incarnation NaN', withRow({incarnation: Number.NaN})],
      ['incarnation infinite', withRow({incarnation: Number.POSITIVE_INFINITY})],
      ['replica counts not an array', withRow({replicaCounts: 3})],
      ['a removed row that is not left', withRow({removed: true})],
      ['a removed row not handed off', withRow({status: 'left', removed: true})],
      ['removed not true', withRow({status: 'left', handedOff: true, removed: 1})],
      ['a negative disk clock', withRow({diskClock: -1})],
      ['a disk clock of 0 (absent means 0: one way to say it, so merges converge)', withRow({diskClock: 0})],
      ['a fractional disk clock', withRow({diskClock: 1.5})],
      ['a disk clock as a string', withRow({diskClock: '3'})],
      ['a disk clock above the bound', withRow({diskClock: 2 ** 48 + 1})],
      ['a replica count of 0', withRow({replicaCounts: [0, 3]})],
      ['a replica count above replicasPerKeyMax', withRow({replicaCounts: [3, 65]})],
      ['a fractional replica count', withRow({replicaCounts: [2.5]})],
      ['replica counts out of order', withRow({replicaCounts: [5, 3]})],
      ['a replica count twice', withRow({replicaCounts: [3, 3]})],
      ['more replica counts than there can be', withRow({replicaCounts: Array.from({length: 65}, (_, i) => i + 1)})],
      ['received through of another length than its partitions', withRow({received: {transition: '2.ann', partitions: [1, 2], through: [3]}})],
      ['received through out of range', withRow({received: {transition: '2.ann', partitions: [1], through: [99]}})],
    ]
    for (const [what, value] of malformed) assert.equal(isValidMemberTable(value), false, `accepted ${what}`)
  })

  it('accepts a machine other than the member\'s own name, and nothing else there', () => {
    const row = member('ann', 1)
    assert.equal(isValidMemberTable({settings, members: [{...row, machine: 'host-1.rack_2'}]}), true)
    for (const machine of ['ann', '', 'two words', 7, 'x'.repeat(65), null]) {
      assert.equal(isValidMemberTable({settings, members: [{...row, machine}]}), false, `accepted machine ${JSON.stringify(machine)}`)
    }
  })

  it('accepts the replica counts a member advertises and what it received for which n', () => {
    const row = member('ann', 1)
    assert.equal(isValidMemberTable({settings, members: [{...row, replicaCounts: [1, 3, 64]}]}), true)
    assert.equal(isValidMemberTable({settings, members: [{...row, received: {transition: '2.ann', partitions: [1, 4], through: [3, 5]}}]}), true)
    assert.deepEqual(replicaCountsInUse({settings, members: [{...row, replicaCounts: [2, 5]}, member('bob', 1)]}), [2, settings.defaultN, 5].sort((x, y) => x - y))
  })

  it('rejects a status that merely names a property every object inherits', () => {
    for (const status of ['toString', 'constructor', 'hasOwnProperty', '__proto__', 'valueOf']) {
      const value = {settings, members: [{...member('ann', 1), status}]}
      assert.equal(isValidMemberTable(value), false, `accepted status ${JSON.stringify(status)}`)
    }
  })

  it('rejects a member with an empty name, which no ring can hold', () => {
    const value = {settings, members: [member('', 1)]}
    assert.equal(isValidMemberTable(value), false)
  })

  it('rejects two rows for the same member, which no ring can hold', () => {
    const value = {settings, members: [member('ann', 1), member('ann', 2)]}
    assert.equal(isValidMemberTable(value), false)
  })

  it('rejects a partition count that is not a valid ring size', () => {
    for (const partitionCount of [3, 48, 2 ** 20]) {
      const value = {settings: {...settings, partitionCount}, members: [member('ann', 1)]}
      assert.equal(isValidMemberTable(value), false, `accepted partitionCount=${partitionCount}`)
    }
  })

  it('never throws on arbitrary values', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.jsonValue()), (value) => {
        assert.equal(typeof isValidMemberTable(value), 'boolean')
      }),
      {numRuns: 500},
    )
  })

  it('never throws on tables that are almost well-formed', () => {
    const nearMember = fc.record(
      {
        name: fc.oneof(fc.constantFrom(...names), fc.anything()),
        rpcAddress: fc.oneof(fc.constantFrom(...addresses), fc.anything()),
        apiAddress: fc.oneof(fc.constantFrom(...addresses), fc.anything()),
        status: fc.oneof(fc.constantFrom(...statuses), fc.anything()),
        incarnation: fc.oneof(fc.nat({max: 3}), fc.anything()),
      },
      {requiredKeys: []},
    )
    const nearTable = fc.record(
      {
        settings: fc.oneof(fc.constant(settings), fc.anything(), fc.constantFrom(1, 3, 16, 64).map((partitionCount) => ({...settings, partitionCount}))),
        members: fc.oneof(fc.array(nearMember, {maxLength: 4}), fc.anything()),
      },
      {requiredKeys: []},
    )
    fc.assert(
      fc.property(nearTable, (value) => {
        assert.equal(typeof isValidMemberTable(value), 'boolean')
      }),
      {numRuns: 500},
    )
  })
})
