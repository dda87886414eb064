/**
 * The simulator in `npm test` (issue 7): a fixed set of seeds, each a whole cluster with clients
 * and faults on simulated time, checked from the clients' history; seeds that once found a bug,
 * kept as regression cases; determinism (one seed twice gives the same event log); that the
 * seeds exercise the checks that apply only now and then (a request the cluster owes an answer,
 * a delete followed by the final reads); the membership checks reporting every violation they
 * find; the availability checks telling a request the cluster owed an answer from one it may
 * fail; and the checks a lost disk narrows still holding for what the loss cannot explain.
 *
 * More seeds: `npm run sim -- --seeds 1000`. One seed with its history: `npm run sim -- --seed S`.
 */

import assert from 'node:assert/strict'
import {availableParallelism} from 'node:os'
import {before, describe, it} from 'node:test'
import {handoffTargets, releasedPartitions} from '../../src/handoff/transfer-release.js'
import {homesOf} from '../../src/handoff/transfer-plan.js'
import {partitionOfKey} from '../../src/ring/partition.js'
import {preferenceListForKey, ringFromOwners} from '../../src/ring/ring.js'
import type {StoredVersion} from '../../src/storage/stored-object.js'
import {emptySet, update} from '../../src/versioning/dvvset.js'
import {believedDownAfterMs, checkAvailability, pingTimeoutMs, requestAnswerMsMax, viewSettleMs} from './availability.js'
import {checkHistory} from './checker.js'
import {SimCluster} from './cluster.js'
import {FaultLog} from './fault-log.js'
import {History, type RequestRecord, type WriteRecord} from './history.js'
import {checkMembership} from './membership-checks.js'
import {runJobs, runSeeds, type SeedJob, type SeedReport} from './seed-runner.js'
import {configFor, runSeed} from './simulator.js'
import type {RunConfig} from './simulator.js'

/** Seeds `npm test` runs on every change: enough to meet every fault kind many times over. */
export const ciSeedCount = 200

/**
 * With a key allowed only 1 to 3 siblings (ClusterConfig.siblingsPerKeyMax), replicas on either
 * side of a fault each accepted writes up to the limit, and merging their union was refused for
 * the count: hints were dropped for good, anti-entropy found the key differing for ever, and homes
 * never held every acknowledged write (check 10; fixed: a merge is never refused for the count,
 * only a coordinator's new version is). Found by a new user's walk (66 siblings of blind writes on
 * two sides of a pause), then by 29 of the first 400 seeds, 6 and 13 among the CI seeds.
 */
const siblingsLimitSeeds: readonly number[] = [6, 13, 209]

/**
 * A node started alone and joined with dyn cluster join whose operator first got its --advertise
 * wrong (wrongAdvertise): its join was answered ok though no member could reach it (117, at its
 * first start), or, staged and then restarted so (28, 49), shown by no plan and refused by a
 * commit as unreachable ("may hold a staged change"). Fixed: the seed dials the joiner back and
 * refuses the join (joiner_unreachable); the plan lists a join the claimant cannot reach, with
 * why and what to do, and a commit of it alone is refused with that code. Found by a new user's
 * walk; these CI seeds failed before the fix.
 */
const wrongAdvertiseSeeds: readonly number[] = [28, 49, 117]

/** Seeds that found a real bug once; each stays here so the bug cannot come back unnoticed. */
export const regressionSeeds: readonly number[] = [
  // A forwarded put whose home stored it and crashed before answering was retried on the next
  // home, which stored it again under another dot that the returned context did not cover: a
  // write with that context left the first copy as a sibling (fixed: the transport says when a
  // failed request certainly never left, and the forwarder retries only then).
  254, 306, 983, 313, 528, 679, 977,
  // The harness restarted a joining node that was still starting (two incarnations on one address).
  416,
  // A removal with a write of n=2: the transfer check asked more than transfers promise.
  923,
  // A node removed after it had been down a while: the hints others kept for it stayed pending
  // for ever (fixed: they go to each key's current homes).
  55, 257,
  // A removal followed by a join: the join waited for ever for the removed node (its own row still
  // said valid) to see the transition (fixed: a member the ring no longer has counts as left).
  16, 115,
  // A write with n=2 coordinated last on a key written with n=3 left the coordinator's copy
  // saying n=2, and the release after a join deleted it on a node still home of the n=3 writes
  // (fixed: an object keeps the largest n it was written with).
  170,
  // Writes of n=4 with the cluster's N=3: transfers planned for N alone left the nodes that
  // became a 4th home without them, on a leave, a removal and a join.
  41, 45, 89,
  // A write acknowledged only by fallbacks, their hints handed back to an old home during a
  // removal after the new home's scan had passed it: the new home never got it (fixed: a home
  // merging handed-back hints copies them to the key's pending homes, as a put does).
  249,
  // A put fitted to n=1 or 2 by a node one gossip round behind the install of a join was placed on
  // that many homes by a coordinator that had installed it, and never reached its stored N=3
  // (fixed: the coordinator copies it to the key's homes beyond n, up to storedN).
  15374,
  // A copy to a pending home lost (or cut off) while every old home stayed a home: no hint was kept.
  60509,
  // A pw=1 write coordinated on the ring before an install: the check counted the new ring's homes.
  61176,
  // A node restarted on its stored ring state believed itself claimant and answered a commit with
  // nothing_staged for a leave or removal staged through another claimant meanwhile, which was
  // then never made (fixed: the claimant fetches the members' ring states before deciding).
  1122, 1639, 2122,
  // A write acknowledged by a home and a fallback's hint, the homes the hint named down: the
  // removal of that home left the hint the only surviving replica, which reached its old home
  // after the new home's scan and never the new home (fixed: transfers fetch hints too).
  2120, 2273,
  // Check 4 of the membership checks: a get with n=4 after a node released the partition of a key
  // written with n <= 3 read-repaired a copy onto it, its 4th home; the check took it for a copy
  // the release had left (fixed in the check: a home under the largest n a get asked is not held to it).
  445194, 445376,
  // A membership change whose releases ended within the tombstone grace of the check: reaps were
  // rightly held back by the releases, and check 11 counted from the heal (fixed: the check
  // counts from the moment the ring settled and every release was handed off).
  52452, 52465, 52586,
  // A delete that ended 'maybe' and was then reaped: the checker held its earlier write as lost
  // (fixed in the checker: a delete that may have happened can explain an empty final read).
  32368, 32576,
  // A reap went ahead while a leaving node, not yet on the new ring, refused the reap check: the
  // refusal was taken for silence from a node that had stopped, and the leaver's release then
  // handed its old copy back, resurrecting the deleted key (fixed in the reaper: a refusal aborts).
  32642,
  // A node that left answered a reap check too late; its silence was taken for a node that had
  // stopped, and its hand-off then brought a reaped key back (fixed: a node that left must answer
  // until its row says it handed off everything).
  45983,
  // A home restarted on a wiped disk answered "still starting" to a get and a put, which counted
  // it as a failure and fell one short of R and W although a spare fallback was up (fixed: a
  // target that refuses at once is replaced by the next spare fallback, as a down one would be).
  172406,
  // Just after a partition healed, a commit sent to the claimant of one side answered
  // nothing_staged for a leave staged through the other side's claimant, which it still believed
  // down and so did not ask; the leave was never made (fixed: a commit with nothing staged asks
  // the members believed down too, and answers unreachable, not nothing_staged, while one of
  // them is silent: in 467761 the claimant's connection to the stager was still backing off).
  // 467761 and 1536963 also stage two leaves through the two sides at once: one of the two was
  // dropped when the ring states met, or committed over (fixed: the changes staged at one version
  // by two claimants are both kept, and a commit waits for every member it believed up).
  466893, 467761, 1536963,
  // From the 10,000-seed campaign: in 3439860 the commit's claimant believed the other side's
  // claimant down and committed without the leave it had staged (fixed: a commit asks the members
  // it believes down too, and a stage that a newer decision replaced answers unreachable); in
  // 3436588 the checker held a reaped delete as lost because a later blind put was read (fixed in
  // the checker: a tombstone may be missing wherever nothing it had seen is held).
  3439860, 3436588,
  // A node removed while it was only cut off, with what it wrote alone meanwhile, came back: it
  // handed its copies off as a release (fixed: it stops, handing nothing off, once it sees its row
  // marked removed) and delivered hints before it heard of the removal, bringing back versions a
  // reaped tombstone had covered (fixed: nothing a removed node sends is stored). 544 and 1387
  // come back after a restart on their store as it was.
  544, 1387, 2018, 2049,
  // After a tombstone was reaped, a blind put coordinated by a node whose copy had gone gave its
  // actor's counter on the key a fresh start, and a put with a context read before the delete
  // covered that reused dot and superseded the acknowledged blind put (fixed: a write on a copy
  // without the actor's entry starts above every dot the actor made, on any key).
  47215251,
  // A pw=2 put begun on the ring before an install and acknowledged by that ring's homes once
  // every node had installed the next: the check looked only at the new ring's homes (fixed in
  // the check: the homes of the preference list the coordinator used count too).
  74857721,
  // A node started alone and joined (dyn cluster join, then commit) took its one-member ring
  // giving way to the cluster's for a release of every partition, and handed back and deleted
  // what the join's transfers brought it (check 5 of the membership checks; found by a new user's
  // walk through the README, then met by seeds 28, 61, 111, 117 and 168 of the CI seeds too).
  213, 253,
  // A home restarted during a partition refused a get at once ("still starting"); the home held
  // back took its place and timed out behind the partition, and the get fell one short of R with
  // a spare fallback up and never asked (fixed: a target that refuses at once always gets a spare
  // fallback, held back behind the homes and asked when they fail or are slow; found by a
  // campaign of 1,000 seeds from 66,225,824).
  66225927,
  // A node started alone, to be joined with dyn cluster join, took client writes while it was a
  // cluster of its own; its first join try reached the seed but timed out, and every later try
  // was refused for the data it held (fixed in the simulator: clients send nothing to a node
  // that has not joined, as an operator would not; found by a campaign of 1,000 seeds from
  // 117,399,596). That a node running alone stores no copy from a node it does not know, so that
  // the cluster that took its join cannot fill it either, test/unit/assemble.test.ts checks.
  117399666,
  ...siblingsLimitSeeds,
  ...wrongAdvertiseSeeds,
  // A node started alone (to be joined with dyn cluster join) crashed before its join and was
  // restarted by the harness with the cluster's nodes as seeds, which a restart now checks: its
  // stored table is a cluster of its own, so the start was refused (fixed in the simulator: it
  // restarts such a node as it was started, without seeds; found by a campaign of 2,000 seeds
  // from 1,685,483,434, when restarts began to check their seeds).
  1685484047,
  // A node restarted while its cluster's other nodes were down or cut off, given as seeds the
  // running nodes, among them one started alone and not joined yet: the only seed that answered
  // was of another cluster, and the restart was refused (fixed: a stranger beside a silent seed
  // is a stray, logged, unless the node never had a peer; and the harness gives a restart no
  // node that has not joined; found by a campaign of 3,000 seeds from 3,470,650,336).
  3470650434,
  // A node started alone, to be joined with dyn cluster join, crashed by a fault between two of
  // the harness's join tries: the harness gave up on the run (fixed in the simulator: the try
  // fails as an operator's would against a stopped node, and the next one finds it restarted;
  // found by a campaign of 2,000 seeds from 5,059,669,818).
  5059670120,
  // A leaver lost for good just after its partitions had moved, before the install's release had
  // handed off its last copies: its row never said it handed off, so no tombstone was reaped
  // again (check 11), and dyn cluster remove refused it as already_left (fixed: the removal of a
  // member that left without handing off, when it does not answer, marks it removed at once;
  // found by a campaign of 2,000 seeds from 7,219,397,958, the first with lost leavers).
  7219398170,
  // A leaver lost for good whose removal was staged while the ring change still ran, and whose
  // transfers all finished before a commit: the install dropped the staged removal, every commit
  // after it answered nothing_staged, and the leaver, neither removed nor handed off, held every
  // reap up (fixed: the install marks a staged-for-removal leaver that is down removed; found by
  // a campaign of 2,000 seeds from 840,700,912).
  840702398,
  // The old-disk fault backed up a node started alone that had not joined yet, and restarted it on
  // that backup, with the cluster's seeds, once it had joined: the restart was refused, as it must
  // be, and the run threw (fixed in the simulator: only members' disks are backed up; found by a
  // campaign of 2,000 seeds from 3,717,747,755).
  3717749693,
  // The leaver was the claimant: its commit of the leave reached only n3, which crashed; a new
  // claimant, n4, committed the lost leaver's removal at the same ring version, and when n3 came
  // back the merge kept n1's decision, so the leave waited for n1 for ever. Fixed in the harness:
  // it removes the leaver again, as dyn cluster status tells the operator to; the lost decision
  // itself is open (closing note 43). Found by a campaign of 1,500 seeds from 14,981,796,108.
  14981797533,
  // Every home of k0 was down at once, and after they came back each reap of its tombstone met a
  // repair: the reaper deletes its own copy last, and an exchange or a read's repair in between
  // carried that copy back to a home that had reaped it, so the homes differed again, round after
  // round, and the tombstone was never reaped (fixed: each member a reap reaches drops that
  // tombstone for a while when a repair brings it back, src/antientropy/reap-fence.ts; found by a
  // campaign of 1,500 seeds from 19,864,460,464).
  19864461796,
  // A staying member lost for good during a join, and removed: the join waited for transfers to
  // the lost member, which never reports them (the claimant now leaves out transfers to a member
  // whose removal is staged and that it sees down); and a check that assumed a joiner releases
  // nothing, which the removal after the join may make it do.
  31000001138,
  31000001644,
  // The harness's own race: a fault's restart came in while an operator's restart crashed the
  // node, booted it on its old store, and the crash's closed copy replaced that store after, so
  // the next crash could not read it (a restart now waits for the crash's copy; the run threw).
  44501748076,
  // The joining node itself lost for good during its join, and removed: its removal is staged for
  // the ring the join installs, which no longer waits for it (a new user's walk found "n4 is not a
  // member of the ring" for such a removal, and the join stuck).
  61700000146,
  // A member taken for lost during a join that comes back and whose removal is cleared: the
  // claimant (n2, n1 being down) committed n4's join and stopped, and n1, back and not yet told,
  // staged n2's removal at the same version; the lower claimant name won and the join was undone
  // while n4 ran as a member (a commit, install or clear now wins over a stage at one version).
  53000007269,
  // The harness's operator of a node cut off alone called a stage into the incarnation it had found
  // first, which a fault then crashed: the call never ended (it asks the node running now, and
  // races its crash); the second with a failing disk.
  54092296087, 38770843567,
  // A join in a growth run while both members were restarting (one after its failing disk) was
  // given no seed and started a cluster of its own (it names every member now).
  38770843570,
  // The first node of a growth run, restarted with the others as seeds while its stored table
  // still had it alone and none of them answered, was refused and the run threw (it restarts as
  // it was started, without seeds, now).
  344917654575,
  // A node removed while cut off, crashed, and restarted on its store once it could reach the
  // others: it served until gossip told it it was removed (seed 68, among CI's, too). Its disk
  // check now hears of the removal, and it refuses to start.
  234,
  // The same node restarted while still cut off: no member could answer it, and it took a put at
  // w=1 that it would drop once told it was removed (a helper's walk with real processes lost 22
  // writes so, and 12 at w=2 with two removed nodes answering each other). It now takes no writes
  // until a majority of its members has answered it (src/node/membership-confirmation.ts).
  19606514, 19606691,
]

describe('simulated clusters', () => {
  it('the same seed gives the same run, byte for byte', async () => {
    const first = await runSeed(7)
    const second = await runSeed(7)
    assert.equal(first.digest, second.digest)
    assert.equal(first.events, second.events)
    assert.ok(first.operations > 0)
    const other = await runSeed(8)
    assert.notEqual(other.digest, first.digest)
  })

  it(`${ciSeedCount} seeds keep every guarantee, and most of them meet the checks that apply only now and then`, async () => {
    const failures: string[] = []
    let seedsOwingAnswers = 0
    let seedsWithDeleteChecked = 0
    let seedsWithReadsAskingMore = 0
    let seedsOnSharedMachines = 0
    let seedsWithMachineFailures = 0
    let seedsRefusingForSiblings = 0
    let seedsWithWritesStopped = 0
    // The seeds are independent, so they run in a worker process per core (as `npm run sim --
    // --jobs` can): the suite's longest test, on two cores, in about half the time.
    const seeds = Array.from({length: ciSeedCount}, (_, index) => index + 1)
    await runSeeds(seeds, availableParallelism(), false, (report) => {
      if (report.failed) failures.push(report.text ?? `seed ${report.seed} failed`)
      if ((report.mustSucceed ?? 0) > 0) seedsOwingAnswers += 1
      if ((report.deletesChecked ?? 0) > 0) seedsWithDeleteChecked += 1
      if ((report.readsAskingMoreThanR ?? 0) > 0) seedsWithReadsAskingMore += 1
      if (report.sharedMachines === true) seedsOnSharedMachines += 1
      if (report.machineFailed === true) seedsWithMachineFailures += 1
      if ((report.putsRefusedForSiblings ?? 0) > 0) seedsRefusingForSiblings += 1
      if (report.writesStopped === true) seedsWithWritesStopped += 1
    })
    // The first three failures are enough to start from; each names the command that reproduces it.
    assert.deepEqual(failures.slice(0, 3), [], `${failures.length} of ${ciSeedCount} seeds failed:\n\n${failures.slice(0, 3).join('\n\n')}`)
    // A check that meets nothing checks nothing: the availability model owes answers, and a
    // delete is followed by the final reads, in most seeds (today 198 and 200 of 200).
    assert.ok(seedsOwingAnswers >= ciSeedCount * 0.75, `the availability check judged requests in only ${seedsOwingAnswers} of ${ciSeedCount} seeds`)
    assert.ok(seedsWithDeleteChecked >= ciSeedCount * 0.75, `the resurrection check met a delete in only ${seedsWithDeleteChecked} of ${ciSeedCount} seeds`)
    // A get asks R replicas and more only in place of a failure or after waiting: the faults must
    // make it ask more in a good share of the seeds (today 94 of 200), or that path goes unchecked.
    assert.ok(seedsWithReadsAskingMore >= ciSeedCount * 0.2, `gets asked more than R replicas in only ${seedsWithReadsAskingMore} of ${ciSeedCount} seeds`)
    // Nodes that share machines (dyn start --processes) reorder every preference list, and a
    // machine's failure takes several nodes down at once: both must be met in a good share.
    assert.ok(seedsOnSharedMachines >= ciSeedCount * 0.2, `nodes shared machines in only ${seedsOnSharedMachines} of ${ciSeedCount} seeds`)
    // Today 50 and 10 of 200.
    assert.ok(seedsWithMachineFailures >= ciSeedCount * 0.03, `a whole machine failed in only ${seedsWithMachineFailures} of ${ciSeedCount} seeds`)
    // Keys at their siblings limit: coordinators refuse, and replicas still merge past it.
    assert.ok(seedsRefusingForSiblings >= ciSeedCount * 0.1, `a put was refused for too many siblings in only ${seedsRefusingForSiblings} of ${ciSeedCount} seeds`)
    // A failing disk (runDiskFailure) must stop a node's writes, with puts still landing elsewhere,
    // in a good share (today 36 of 200).
    assert.ok(seedsWithWritesStopped >= ciSeedCount * 0.1, `a node's writes stopped on a failing disk in only ${seedsWithWritesStopped} of ${ciSeedCount} seeds`)
  })

  // The regression seeds inside 1..ciSeedCount (today 6, 13, 16, 41, 45, 55, 89, 115 and 170) are
  // regression cases that the test above runs: listed for what they found, not run twice.
  describe('regression seeds', () => {
    // Each is its own test, but they run together beforehand, a worker per core, as the fixed
    // seeds do: one at a time they were the suite's second longest part.
    const runs = regressionRuns()
    const reports: Array<SeedReport | undefined> = []
    before(() => runJobs(runs, availableParallelism(), false, (index, report) => {
      reports[index] = report
    }))
    for (const [index, run] of runs.entries()) {
      it(run.name, () => {
        const report = reports[index]
        assert.ok(report !== undefined, `seed ${run.seed} was not reported`)
        assert.equal(report.failed, false, report.text ?? `seed ${run.seed} failed`)
      })
    }
  })
})

/**
 * The regression runs: every regression seed outside the fixed seeds, and each seed that a variant
 * added to the seeds' shapes since it was found also as it was found, so that the bug it found
 * stays covered.
 */
function regressionRuns(): Array<SeedJob & {readonly name: string}> {
  const runs: Array<SeedJob & {readonly name: string}> = []
  for (const seed of regressionSeeds.filter((regression) => regression > ciSeedCount)) runs.push({name: `regression seed ${seed}`, seed})
  for (const seed of regressionSeeds) {
    const config = configFor(seed)
    const {membership, cluster} = config
    const asFound = (name: string, shape: RunConfig): void => {
      runs.push({name: `regression seed ${seed} as found, ${name}`, seed, config: shape})
    }
    // A joiner that now starts alone (joinedAlone) joined through --seeds.
    if (membership?.joinedAlone === true) asFound('its joiner joining through --seeds', {...config, membership: {...membership, joinedAlone: false}})
    // A joiner started alone that now first gets its --advertise wrong (wrongAdvertise) joined with its right address.
    if (!wrongAdvertiseSeeds.includes(seed) && membership?.wrongAdvertise !== undefined) {
      const {wrongAdvertise: _wrong, ...rest} = membership
      asFound('its joiner advertising its own address', {...config, membership: rest})
    }
    // A leaver now lost for good during its leave (leaverLostAfterMs) ended its leave as a leave.
    if (membership?.leaverLostAfterMs !== undefined) asFound('its leaver not lost', configFor(seed, {withoutLostLeaver: true}))
    // A staying member now lost during a join (memberLostAfterMs) was a plain join.
    if (membership?.memberLostAfterMs !== undefined) asFound('no member lost during its join', configFor(seed, {withoutLostMember: true}))
    // The cut-off node's operator now tries to remove the others first (awayOperatorRemovesOthers).
    if (membership?.awayOperatorRemovesOthers === true) {
      const {awayOperatorRemovesOthers: _away, ...rest} = membership
      asFound('no operator on the cut-off side', {...config, membership: rest})
    }
    // A lost member that now comes back (memberFoundAgain) was lost for good.
    if (membership?.memberFoundAgain === true) {
      const {memberFoundAgain: _foundAgain, ...rest} = membership
      asFound('its lost member lost for good', {...config, membership: rest})
    }
    // A small siblings limit (added after most of these seeds were found): the nodes' default.
    if (!siblingsLimitSeeds.includes(seed) && cluster.siblingsPerKeyMax !== undefined) {
      const {siblingsPerKeyMax: _limit, ...rest} = cluster
      asFound('with the default siblings limit', {...config, cluster: rest})
    }
  }
  return runs
}

/** The first key `prefix-0`, `prefix-1`, … that falls in `partition`. */
function keyIn(prefix: string, partition: number, partitionCount: number): string {
  for (let index = 0; index < 100 * partitionCount; index += 1) {
    if (partitionOfKey(`${prefix}-${index}`, partitionCount) === partition) return `${prefix}-${index}`
  }
  throw new Error(`no key found in partition ${partition}`)
}

describe('membership checks', () => {
  it('run every check and report each violation: a failed change, a ring that did not settle, a missed transfer and a stray copy', async () => {
    const partitionCount = 16
    const history = new History()
    const cluster = await SimCluster.start(1, {nodeCount: 4, partitionCount, defaultN: 3, requestTimeoutMs: 500, gossipIntervalMs: 1000, link: {delayMsMin: 0.2, delayMsMax: 1, lossRate: 0}}, history)
    try {
      const ring = cluster.assembled('n1')!.membership.ring
      // The ring "before" the change: the same members, each partition owned as the next one is.
      const owners = ring.owners.map((_, partition) => ring.owners[(partition + 1) % partitionCount]!)
      const before = ringFromOwners(partitionCount, ring.members, owners)
      // A partition with a node that released it and is no home of it now, and a node that became one.
      const partition = ring.owners.findIndex((_, p) => ring.members.some((name) => releasedPartitions(before, ring, name).includes(p) && handoffTargets(ring, p, name, 3) !== undefined))
      assert.ok(partition >= 0, 'no partition changed its homes')
      const releaser = ring.members.find((name) => releasedPartitions(before, ring, name).includes(partition) && handoffTargets(ring, partition, name, 3) !== undefined)!
      assert.ok(homesOf(ring, partition, 3).some((home) => !homesOf(before, partition, 3).includes(home)), 'no node became a home')
      // An acknowledged write no node holds: each new home misses it.
      history.writes.set('w1', {id: 'w1', key: keyIn('missed', partition, partitionCount), tombstone: false, seen: new Set(), n: 3, ranN: 3, w: 2, pw: 0, node: 'n1', startMs: 0, endMs: 0, end: 'ok', contextFrom: 'none'})
      // A copy the releaser still stores, of another key of that partition.
      const version: StoredVersion = {value: new TextEncoder().encode('{"id":"s1"}'), contentType: 'application/json', timestampMs: 0, tombstone: false}
      await cluster.time.until(
        cluster.assembled(releaser)!.store.updateObject(partition, keyIn('stray', partition, partitionCount), () => ({ok: true, object: {versions: update([], emptySet<StoredVersion>(), `${releaser}.9`, version, 0), n: 3}}), {durable: false}),
        60_000,
      )
      // Anti-entropy hands a stray copy to the key's homes and releases it once every member is up:
      // the releaser is cut off from the others so that the copy is still there to be found.
      const others = ring.members.filter((name) => name !== releaser)
      cluster.network.partition([`${releaser}:7000`], others.map((name) => `${name}:7000`))
      const change = {kind: 'join' as const, node: 'n5', ringBefore: {partitionCount, members: before.members, owners: before.owners}, expectedMembers: 5, failure: 'the stage was refused'}
      const violations = await cluster.time.until(checkMembership(cluster, history, change, 3), 600_000)
      const checks = new Set(violations.map((violation) => violation.check))
      assert.deepEqual([...checks].sort(), ['membership-change-failed', 'missed-transfer', 'ring-disagreement', 'stray-copy'])
    } finally {
      await cluster.stop()
    }
  })
})

describe('availability checks', () => {
  // Four nodes, 16 partitions; the key's preference list is [h0 h1 h2 f]: three homes, one fallback.
  const members = ['n1', 'n2', 'n3', 'n4']
  const ring = ringFromOwners(16, members, Array.from({length: 16}, (_, partition) => members[partition % 4]!))
  const key = 'k'
  const [h0, h1, h2, f] = preferenceListForKey(ring, key).nodes as [string, string, string, string]
  const startMs = 20_000

  function run(setUp: (faults: FaultLog) => void, requests: ReadonlyArray<Partial<RequestRecord>>, judgedBeforeMs = Number.POSITIVE_INFINITY): ReturnType<typeof checkAvailability> {
    const faults = new FaultLog({delayMsMin: 0.2, delayMsMax: 1, lossRate: 0}, (node) => `${node}:7000`)
    setUp(faults)
    const history = new History()
    for (const request of requests) {
      const record = history.startRequest({kind: 'get', client: 'c1', key, node: h0, n: 3, quorum: 2, homeQuorum: 0, startMs, final: false, ringSteady: true, ...request})
      history.endRequest(record, request.end ?? 'failed', request.endMs ?? startMs + 500, request.detail ?? 'quorum_unmet: planted')
    }
    return checkAvailability(history, {faults, ring, judgedBeforeMs})
  }

  it('a get or put whose homes all ran over clean links must succeed, also one forwarded by a node that is no home', () => {
    const failed = run(() => undefined, [{}, {kind: 'put', node: f}, {kind: 'get', node: f, quorum: 3, homeQuorum: 3}])
    assert.deepEqual(failed.violations.map((violation) => violation.check), ['unavailable', 'unavailable', 'unavailable'])
    assert.match(failed.violations[1]!.message, new RegExp(`forwarded to ${h0}`))
    const answered = run(() => undefined, [{end: 'ok'}])
    assert.deepEqual(answered, {violations: [], judged: 1})
  })

  it('counts a fallback only in place of a home the coordinator certainly believes down', () => {
    // h1 and h2 crashed long enough ago for h0 to know: its targets are h0, f (for h1) and h2 (no fallback left).
    const homesDown = (faults: FaultLog): void => {
      faults.nodeDown(h1, startMs - believedDownAfterMs - 1)
      faults.nodeDown(h2, startMs - believedDownAfterMs - 1)
    }
    assert.deepEqual(run(homesDown, [{quorum: 2, homeQuorum: 1}]).violations.map((violation) => violation.check), ['unavailable'])
    assert.match(run(homesDown, [{}]).violations[0]!.message, new RegExp(`believed down: ${h1} ${h2}`))
    // R = 3, or PR = 2: two answers only, one of them a home's.
    assert.deepEqual(run(homesDown, [{quorum: 3}, {quorum: 2, homeQuorum: 2}]), {violations: [], judged: 0})
    // Crashed just before the request: h0 may still believe them up and ask them, not f.
    const justCrashed = (faults: FaultLog): void => {
      faults.nodeDown(h1, startMs - 100)
      faults.nodeDown(h2, startMs - 100)
    }
    assert.deepEqual(run(justCrashed, [{}]), {violations: [], judged: 0})
    // A cut between h0 and f before the crashes: h0 may not have seen them go, and f may not answer.
    const cutBefore = (faults: FaultLog): void => {
      homesDown(faults)
      faults.cut(`${h0}:7000`, `${f}:7000`, startMs - believedDownAfterMs - pingTimeoutMs)
      faults.restore(`${h0}:7000`, `${f}:7000`, startMs - believedDownAfterMs - pingTimeoutMs + 10)
    }
    assert.deepEqual(run(cutBefore, [{}]), {violations: [], judged: 0})
  })

  it('may fail when a needed node or link was not right for the whole request, or a change or a limit was in the way', () => {
    const cases: Array<[string, (faults: FaultLog) => void, Partial<RequestRecord>]> = [
      ['a home cut off during the request', (faults) => faults.cut(`${h0}:7000`, `${h1}:7000`, startMs + 100), {quorum: 3}],
      ['a home back from a crash too recently', (faults) => {
        faults.nodeDown(h1, 1000)
        faults.nodeUp(h1, startMs - viewSettleMs + 100)
      }, {quorum: 3}],
      ['a lossy link with a home', (faults) => faults.setLink(`${h1}:7000`, `${h0}:7000`, {delayMsMin: 1, delayMsMax: 40, lossRate: 0.1}, startMs - 10), {quorum: 3}],
      ['every link lossy', (faults) => faults.setDefaultLink({delayMsMin: 0.2, delayMsMax: 1, lossRate: 0.01}, 0), {quorum: 2}],
      ['the coordinator restarted', (faults) => {
        faults.nodeDown(h0, 1000)
        faults.nodeUp(h0, startMs - 1000)
      }, {}],
      ['another ring', () => undefined, {ringSteady: false}],
      ['a replica refused for a limit', () => undefined, {kind: 'put', detail: 'quorum_unmet: failed: n2 (too_many_siblings)'}],
      ['a final read', () => undefined, {final: true}],
    ]
    for (const [what, setUp, request] of cases) assert.deepEqual(run(setUp, [request]), {violations: [], judged: 0}, what)
    assert.deepEqual(run(() => undefined, [{}], startMs + 100), {violations: [], judged: 0}, 'a membership change began')
  })

  it('reports every request that was never answered, whatever the model says', () => {
    const result = run((faults) => faults.cut(`${h0}:7000`, `${h1}:7000`, 0), [{end: 'unanswered', endMs: startMs + requestAnswerMsMax(500)}])
    assert.deepEqual(result.violations.map((violation) => violation.check), ['unanswered'])
  })
})

describe('checks narrowed by a lost disk', () => {
  it('still hold for what the loss cannot explain: a strict-quorum read, and hinted handoff to every home', () => {
    const members = ['n1', 'n2', 'n3', 'n4']
    const ring = ringFromOwners(16, members, Array.from({length: 16}, (_, partition) => members[partition % 4]!))
    const key = 'k'
    const homes = preferenceListForKey(ring, key).nodes.slice(0, 3)
    const lost = homes[0]!
    const history = new History()
    history.crashes.push({node: lost, atMs: 1000})
    history.loseDisk(lost)
    const write = (id: string, startMs: number): WriteRecord => {
      const record = history.startWrite({id, key, tombstone: false, seen: new Set(), n: 3, ranN: 3, w: 2, pw: 2, node: homes[1]!, startMs, contextFrom: 'none'})
      history.endWrite(record, 'ok', startMs + 10)
      record.coordinator = homes[1]!
      return record
    }
    write('k#1', 0)
    write('k#2', 3000)
    // Each read (pr = 2 of n = 3) misses both writes; the first write began before the loss.
    history.addRead({key, n: 3, r: 2, pr: 2, node: homes[1]!, startMs: 2000, endMs: 2010, returned: [], final: false})
    history.addRead({key, n: 3, r: 2, pr: 2, node: homes[1]!, startMs: 4000, endMs: 4010, returned: [], final: false})
    // After handoff, the home that lost its disk holds neither; the others hold the first only.
    const holdings = new Map([[key, homes.map((node) => ({node, ids: node === lost ? [] : ['k#1']}))]])
    const violations = checkHistory(history, new Map(), new Map(), {homes: holdings, hintWindowMs: 1000, firstRing: ring})
    const seen = violations.map((violation) => `${violation.check} ${violation.atMs}`).sort()
    // The first write is excused on the home that lost it, and for the reads after the loss; the second nowhere.
    assert.deepEqual(seen, ['stale-read 4000', 'undelivered-hint 3010', 'undelivered-hint 3010', 'undelivered-hint 3010'])
  })
})
