/**
 * Tests of a node's join through its seeds (src/membership/membership.ts, `Membership.join`), on
 * a transport stub that answers as a seed would: what the error says when a seed is a client API
 * port rather than an internode one, and when nothing answers at a seed at all, and what the join
 * logs meanwhile: once per seed that it tries again, in the words of its error, and nothing before
 * a refusal that no try can change. Then `dyn cluster join` on a node running alone
 * (membership-subsystem.ts), on the simulated network: each run of the command is a try of its own.
 * And the seed's dial back: a joining node that the seed cannot reach at the internode address it
 * advertises is refused, and nothing is staged (a new user's walk: such a join was answered ok,
 * and dyn cluster plan then said nothing was staged).
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {seededRandom} from '../../src/clock.js'
import {DynError} from '../../src/errors.js'
import {FailureDetector} from '../../src/membership/failure-detector.js'
import {findMember, newMemberTable, runsAlone, statusOf, withMember} from '../../src/membership/member-table.js'
import type {ClusterSettings, Member} from '../../src/membership/member-table.js'
import {membershipSubsystem} from '../../src/membership/membership-subsystem.js'
import {checkSeedsOnRestart, dialBackRefusal, joinDialBackTimeoutMs, Membership, notInternodeSeed, removalIncarnationLead, unreachableSeeds} from '../../src/membership/membership.js'
import {SimulatedTime} from '../../src/simulated-time.js'
import type {Store} from '../../src/storage/store.js'
import {MessageType} from '../../src/transport/message-type.js'
import {notInternodeCode} from '../../src/transport/rpc-common.js'
import {SimulatedNetwork} from '../../src/transport/simulated-network.js'
import type {RequestOptions, RpcResult, Transport} from '../../src/transport/transport.js'

/** A transport whose every request to `address` gets `answer(address)`; the addresses asked, in order, and each request's options. */
function stubTransport(answer: (address: string) => RpcResult): Transport & {asked: string[]; options: Array<RequestOptions | undefined>} {
  const asked: string[] = []
  const options: Array<RequestOptions | undefined> = []
  return {
    asked,
    options,
    address: '127.0.0.1:9999',
    request: async (address, _type, _body, _timeoutMs, given) => {
      asked.push(address)
      options.push(given)
      return answer(address)
    },
    peerState: () => 'unknown',
    close: async () => undefined,
  }
}

function joiner(port: number, rpcPort: number): Member {
  return {name: 'n5', apiAddress: `127.0.0.1:${port}`, rpcAddress: `127.0.0.1:${rpcPort}`, status: 'joining', incarnation: 1}
}

/** The error a join that fails ends with; `logged` receives the lines it logged meanwhile. */
async function joinError(transport: Transport, seeds: readonly string[], self: Member, attemptsMax = 3, logged: string[] = []): Promise<DynError> {
  const waits: number[] = []
  const failed = await Membership.join(transport, seeds, self, {}, attemptsMax, async (ms) => void waits.push(ms), (line) => void logged.push(line)).then(
    () => assert.fail('the join succeeded'),
    (error: unknown) => error,
  )
  assert.ok(failed instanceof DynError, String(failed))
  return failed
}

const httpAnswer = (address: string): RpcResult => ({ok: false, error: 'unreachable', code: notInternodeCode, message: `${address} answered in HTTP: it is a client API port (dyn start --port), not an internode port (--rpc-port)`, sent: false})

describe('membership: a seed that is a client API port', () => {
  it('is refused at once, naming the internode port of the layout this node was started with', async () => {
    // dyn cluster up --port 47070 --rpc-port 47170, and a node started beside it the same way.
    const transport = stubTransport(httpAnswer)
    const logged: string[] = []
    const error = await joinError(transport, ['127.0.0.1:47070'], joiner(47080, 47180), 3, logged)
    assert.deepEqual(transport.asked, ['127.0.0.1:47070'], 'no second try: the address is wrong')
    // Nothing logged before the refusal: no line says it tries again.
    assert.deepEqual(logged, [])
    assert.equal(error.code, 'bad_parameter')
    assert.match(error.message, /^the seed 127\.0\.0\.1:47070 answered in HTTP: it is a client API port/)
    assert.match(error.message, /give --seeds the seed's internode address, host:rpc-port: 127\.0\.0\.1:47170 if its ports are laid out as this node's \(--rpc-port = --port \+ 100\), or 127\.0\.0\.1:48070 for a node started without --rpc-port/)
    assert.deepEqual(error.details, {seed: '127.0.0.1:47070', suggestedSeed: '127.0.0.1:47170'})
  })

  it('names the default layout when this node has it, and any offset this node has, below its port too', () => {
    const byDefault = notInternodeSeed('127.0.0.1:7070', 'x', joiner(7073, 8073))
    assert.match(byDefault.message, /host:rpc-port \(by default its --port \+ 1000: 127\.0\.0\.1:8070\)$/)
    assert.equal(byDefault.details.suggestedSeed, '127.0.0.1:8070')
    const below = notInternodeSeed('[::1]:9070', 'x', {apiAddress: '[::1]:9073', rpcAddress: '[::1]:8073'}, 'dyn cluster join')
    assert.match(below.message, /give dyn cluster join the seed's internode address, host:rpc-port: \[::1\]:8070 if its ports are laid out as this node's \(--rpc-port = --port - 1000\), or \[::1\]:10070/)
    // No port to name past 65535: the rule alone.
    const high = notInternodeSeed('127.0.0.1:65000', 'x', joiner(7070, 8070))
    assert.match(high.message, /host:rpc-port$/)
    assert.deepEqual(high.details, {seed: '127.0.0.1:65000'})
  })
})

describe('membership: a seed nobody answers at', () => {
  it('names the seed, how often it was tried, why the first try failed, and what to check', async () => {
    // The first failure is the one named, whatever the later tries say.
    let tries = 0
    const refused = 'cannot connect to 127.0.0.1:47999: nothing listens on that port (connection refused, ECONNREFUSED)'
    const transport = stubTransport((address) => ({ok: false, error: 'unreachable', message: tries++ === 0 ? refused : `${address} is down (${refused}); next connect attempt in 3499 ms`, sent: false}))
    const logged: string[] = []
    const error = await joinError(transport, ['127.0.0.1:47999'], joiner(47080, 47180), 4, logged)
    assert.equal(transport.asked.length, 4)
    // Every try is one: the join paces them, past the transport's back-off, and says so once.
    assert.deepEqual(transport.options, Array(4).fill({callerPaced: true}))
    assert.deepEqual(logged, [`could not reach the seed 127.0.0.1:47999 (${refused}); trying again 0.5 s apart, 4 tries in all`])
    assert.equal(error.code, 'unreachable')
    assert.equal(
      error.message,
      `could not reach the seed 127.0.0.1:47999 in 4 tries, 0.5 s apart; the first said: ${refused}. Check that a dyn node runs there and that the port is its internode port (its dyn start --rpc-port, by default its --port + 1000), not its client API port, and that no firewall stands between`,
    )
    assert.deepEqual(error.details, {seeds: ['127.0.0.1:47999']})
  })

  it('with several seeds, says each one\'s failure; dyn cluster join tries once', async () => {
    const transport = stubTransport((address) => (address.endsWith(':1') ? {ok: false, error: 'timeout', message: `no answer from ${address} within 5000 ms`} : {ok: false, error: 'unreachable', message: `cannot connect to ${address}: its host name does not resolve (ENOTFOUND)`, sent: false}))
    const logged: string[] = []
    const error = await joinError(transport, ['10.0.0.9:1', 'nowhere.invalid:8070'], joiner(7070, 8070), 2, logged)
    assert.deepEqual(logged, [
      'could not reach the seed 10.0.0.9:1 (no answer from 10.0.0.9:1 within 5000 ms); trying again 0.5 s apart, 2 tries in all',
      'could not reach the seed nowhere.invalid:8070 (cannot connect to nowhere.invalid:8070: its host name does not resolve (ENOTFOUND)); trying again 0.5 s apart, 2 tries in all',
    ])
    assert.match(error.message, /^could not reach any seed given to --seeds in 2 tries each, 0\.5 s apart; the first said: 10\.0\.0\.9:1: no answer from 10\.0\.0\.9:1 within 5000 ms; nowhere\.invalid:8070: cannot connect to nowhere\.invalid:8070: its host name does not resolve \(ENOTFOUND\)\. For each, check that a dyn node runs there/)
    assert.deepEqual(error.details, {seeds: ['10.0.0.9:1', 'nowhere.invalid:8070']})
    const once = unreachableSeeds([{seed: '127.0.0.1:8070', message: 'cannot connect'}], 1, 'dyn cluster join')
    assert.match(once.message, /^could not reach the seed 127\.0\.0\.1:8070: cannot connect\. Check that a dyn node runs there/)
  })
})

describe('dyn cluster join: a node running alone', () => {
  it('tries the seed on each run, even while its transport backs off from the last run\'s failure', async (t) => {
    const time = new SimulatedTime({settle: () => new Promise((resolve) => setImmediate(resolve))})
    const network = new SimulatedNetwork({time, random: seededRandom(1)})
    const stepTimeMsMax = 60_000
    const settings: ClusterSettings = {clusterId: '0123456789abcdef', partitionCount: 16, defaultN: 3, defaultR: 2, defaultW: 2, conflictPolicy: 'siblings'}
    const quiet = {onChange: () => undefined, log: () => undefined}
    const alone: Member = {name: 'n4', apiAddress: '10.0.0.4:7070', rpcAddress: '10.0.0.4:8070', status: 'valid', incarnation: 1}
    // It answers the seed's dial back (a Ping) as itself, as a running node does.
    const transport = network.listen({address: alone.rpcAddress, nodeName: 'n4', handler: async (type) => (type === MessageType.Ping ? {node: 'n4'} : undefined), scheduler: time.node(alone.rpcAddress)})
    t.after(() => transport.close())
    const membership = new Membership(newMemberTable(settings, alone), 'n4', transport, seededRandom(2), quiet)
    // An empty store is all the join asks of it.
    const store = {isObjectFree: async () => true} as unknown as Store
    const logged: string[] = []
    const node = membershipSubsystem({self: 'n4', membership, transport, detector: new FailureDetector(), clock: time, store, gossipIntervalMs: 1000, log: (line) => logged.push(line)})
    const seed = '10.0.0.1:8070'

    // The operator runs the command before the seed runs: nothing listens there.
    const early = await time.until(
      node.joinAnotherCluster(seed).then(
        () => assert.fail('joined through a seed that does not run'),
        (error: unknown) => error,
      ),
      stepTimeMsMax,
    )
    assert.ok(early instanceof DynError, String(early))
    assert.equal(early.code, 'unreachable')
    assert.match(early.message, /^could not reach the seed 10\.0\.0\.1:8070: connection to 10\.0\.0\.1:8070 refused\. Check that a dyn node runs there/)
    // The node's log says so too, not only the command's answer.
    assert.deepEqual(logged, [`dyn cluster join through "${seed}" failed, nothing changed (1 failed so far): ${early.message}`])

    // The seed starts, and the command runs again at once: within the transport's back-off from
    // the refused connect, which once refused this try unsent ("next connect attempt in 100 ms").
    const seedRow: Member = {name: 'n1', apiAddress: '10.0.0.1:7070', rpcAddress: seed, status: 'valid', incarnation: 1}
    const seedTransport = network.listen({address: seed, nodeName: 'n1', handler: async (_type, body) => seedMembership.handleJoin(body), scheduler: time.node(seed)})
    t.after(() => seedTransport.close())
    const seedMembership = new Membership(newMemberTable(settings, seedRow), 'n1', seedTransport, seededRandom(3), quiet)
    assert.deepEqual(await time.until(node.joinAnotherCluster(seed), stepTimeMsMax), {joined: seed, members: 2, status: 'joining'})
    assert.equal(findMember(membership.table, 'n4')?.status, 'joining')
    assert.equal(findMember(seedMembership.table, 'n4')?.status, 'joining')
    assert.equal(logged[1], `dyn cluster join: joined through ${seed} as joining; it owns nothing until dyn cluster plan and commit`)
  })
})

describe('membership: a name that left joins again', () => {
  it('takes the newcomer on an empty folder as joining, above the left row (it was handed back its own left row, and exited)', async () => {
    const settings: ClusterSettings = {clusterId: '0123456789abcdef', partitionCount: 16, defaultN: 3, defaultR: 2, defaultW: 2, conflictPolicy: 'siblings'}
    const quiet = {onChange: () => undefined, log: () => undefined}
    const seedRow: Member = {name: 'n1', apiAddress: '10.0.0.1:7070', rpcAddress: '10.0.0.1:8070', status: 'valid', incarnation: 1}
    // n4 was removed (dyn cluster remove n4, then commit): left, at an incarnation far ahead.
    const removed: Member = {name: 'n4', apiAddress: '10.0.0.4:7070', rpcAddress: '10.0.0.4:8070', status: 'left', handedOff: true, removed: true, incarnation: 3 + removalIncarnationLead}
    // Only the seed's dial back is sent: the newcomer answers it as itself.
    const transport = stubTransport(() => ({ok: true, body: {node: 'n4'}}))
    const seed = new Membership(withMember(newMemberTable(settings, seedRow), removed), 'n1', transport, seededRandom(3), quiet)
    // The operator moved n4's folder aside and started n4 again on an empty one, with --seeds.
    const newcomer: Member = {name: 'n4', apiAddress: '10.0.0.4:7070', rpcAddress: '10.0.0.4:8070', status: 'joining', incarnation: 1}
    const answer = await seed.handleJoin({member: newcomer, requestedSettings: {}})
    const row = findMember(answer.table, 'n4')
    assert.equal(row?.status, 'joining')
    assert.equal(row?.removed, undefined, 'the new node is not the removed one')
    assert.equal(row?.handedOff, undefined)
    assert.ok((row?.incarnation ?? 0) > removed.incarnation, 'above the left row, so that gossip of the left row loses')
    assert.equal(statusOf(seed.table, row as Member), 'joining')
    // The newcomer takes the table it was handed and stays joining: it once read "left" there,
    // logged "left the cluster: every partition has been handed off" and stopped.
    const logged: string[] = []
    const joined = new Membership(answer.table, 'n4', transport, seededRandom(4), {onChange: () => undefined, log: (line) => void logged.push(line)})
    joined.merge(seed.table)
    assert.equal(findMember(joined.table, 'n4')?.status, 'joining')
    assert.deepEqual(logged.filter((line) => /left/.test(line)), [])
  })
})

describe('membership: a restart given --seeds (checkSeedsOnRestart)', () => {
  const restartSettings: ClusterSettings = {partitionCount: 8, defaultN: 3, defaultR: 2, defaultW: 2, conflictPolicy: 'siblings', clusterId: 'aaaaaaaaaaaaaaaa'}
  const self: Member = {name: 'n2', apiAddress: '127.0.0.1:7071', rpcAddress: '127.0.0.1:8071', status: 'valid', incarnation: 3}
  const alone = newMemberTable(restartSettings, self)
  // n1 left: n2 holds everything, alone, but it had a peer.
  const shrunk = withMember(alone, {name: 'n1', apiAddress: '127.0.0.1:7070', rpcAddress: '127.0.0.1:8070', status: 'left', incarnation: 5})
  const status = (clusterId: string): RpcResult => ({ok: true, body: {health: {clusterId}, cluster: {}}})
  const silent: RpcResult = {ok: false, error: 'unreachable', message: 'cannot connect: nothing listens on that port', sent: false}
  const ownRouter: RpcResult = {ok: false, error: 'remote', code: 'overloaded', message: 'n2 is still starting'}
  const check = async (table: typeof alone, answer: (address: string) => RpcResult, seeds = ['127.0.0.1:8070']): Promise<{error?: DynError; logged: string[]}> => {
    const logged: string[] = []
    const error = await checkSeedsOnRestart(stubTransport(answer), seeds, table, self, (line) => void logged.push(line)).then(() => undefined, (failure: unknown) => failure as DynError)
    return {...(error === undefined ? {} : {error}), logged}
  }

  it('a seed of its own cluster: the restart goes on', async () => {
    assert.equal((await check(shrunk, () => status('aaaaaaaaaaaaaaaa'))).error, undefined)
  })

  it('seeds all of another cluster: refused, and for a node that never had a peer the advice says its data stays behind', async () => {
    const {error} = await check(alone, () => status('bbbbbbbbbbbbbbbb'))
    assert.equal(error?.code, 'cluster_config_mismatch')
    assert.match(error?.message ?? '', /a cluster of its own \(id aaaaaaaaaaaaaaaa, this node alone since it was started without --seeds\).*the data in this folder stays here and does not come along/)
    assert.equal((await check(shrunk, () => status('bbbbbbbbbbbbbbbb'))).error?.code, 'cluster_config_mismatch')
  })

  it('a seed of another cluster beside a silent one: a stray beside a member that may be down, unless the node never had a peer (simulator seed 3470650434)', async () => {
    const mixed = (address: string): RpcResult => (address === '127.0.0.1:8070' ? status('bbbbbbbbbbbbbbbb') : silent)
    const seeds = ['127.0.0.1:8070', '127.0.0.1:8073']
    const goesOn = await check(shrunk, mixed, seeds)
    assert.equal(goesOn.error, undefined)
    assert.match(goesOn.logged.join('\n'), /belong to another cluster, and 127\.0\.0\.1:8073 .* did not answer/)
    assert.equal((await check(alone, mixed, seeds)).error?.code, 'cluster_config_mismatch')
  })

  it('no seed answers: a node that never had a peer is refused; one whose peers left comes back, and says so (a review found it refused)', async () => {
    assert.equal((await check(alone, () => silent)).error?.code, 'unreachable')
    const shrunkRestart = await check(shrunk, () => silent)
    assert.equal(shrunkRestart.error, undefined)
    assert.match(shrunkRestart.logged.join('\n'), /no seed answered on restart/)
  })

  it('the node itself under another spelling of its address is no seed', async () => {
    const {error, logged} = await check(alone, () => ownRouter, ['localhost:8071'])
    assert.equal(error, undefined)
    assert.deepEqual(logged, [])
  })
})


describe('membership: a joining node the seed cannot reach where it says it is', () => {
  const settings: ClusterSettings = {clusterId: '0123456789abcdef', partitionCount: 16, defaultN: 3, defaultR: 2, defaultW: 2, conflictPolicy: 'siblings'}
  const quiet = {onChange: () => undefined, log: () => undefined}
  const seedRow: Member = {name: 'n1', apiAddress: '10.0.0.1:7070', rpcAddress: '10.0.0.1:8070', status: 'valid', incarnation: 1}
  // Started with --advertise 10.9.9.9: it listens elsewhere, and nothing answers there.
  const newcomer: Member = {name: 'n4', apiAddress: '10.9.9.9:7070', rpcAddress: '10.9.9.9:8070', status: 'joining', incarnation: 1}
  const refused: RpcResult = {ok: false, error: 'unreachable', message: 'cannot connect to 10.9.9.9:8070: no route to the host (EHOSTUNREACH)', sent: false}

  it('dialBackRefusal: only the node itself answering, or its router saying it is still starting, lets the join through', () => {
    assert.equal(dialBackRefusal(newcomer, 'n1', {ok: true, body: {node: 'n4'}}), undefined)
    // dyn start --seeds joins before it serves: its StartingRouter answers for it.
    assert.equal(dialBackRefusal(newcomer, 'n1', {ok: false, error: 'remote', code: 'overloaded', message: 'n4 is still starting'}), undefined)
    const cases: Array<[RpcResult, RegExp]> = [
      [refused, /\(cannot connect to 10\.9\.9\.9:8070: no route to the host \(EHOSTUNREACH\)\)/],
      [{ok: false, error: 'timeout', message: 'no answer from 10.9.9.9:8070 within 2000 ms'}, /\(no answer from 10\.9\.9\.9:8070 within 2000 ms\)/],
      // 127.0.0.1 advertised from another machine reaches a node there, or the seed itself.
      [{ok: true, body: {node: 'n1'}}, /\(n1 answers there, not n4\)/],
      [{ok: false, error: 'remote', code: 'overloaded', message: 'n7 is still starting'}, /\(n7 is still starting\)/],
      [{ok: true, body: null}, /\(what answers there is no dyn node\)/],
    ]
    for (const [answer, why] of cases) {
      const refusal = dialBackRefusal(newcomer, 'n1', answer)
      assert.ok(refusal !== undefined, JSON.stringify(answer))
      assert.equal(refusal.code, 'joiner_unreachable')
      assert.match(refusal.message, why)
      assert.match(refusal.message, /^n1 cannot reach n4 at 10\.9\.9\.9:8070, the internode address n4 advertises \(.*\), and every member must: nothing was staged\. Restart n4 with --advertise set to an address the cluster's nodes can connect to \(or open the way from them to 10\.9\.9\.9:8070\), then join again$/)
      assert.deepEqual(refusal.details, {node: 'n4', rpcAddress: '10.9.9.9:8070'})
    }
  })

  it('a seed refuses the join, and its table is as it was: no row of the newcomer', async () => {
    const transport = stubTransport(() => refused)
    const seed = new Membership(newMemberTable(settings, seedRow), 'n1', transport, seededRandom(3), quiet)
    const before = seed.table
    await assert.rejects(seed.handleJoin({member: newcomer, requestedSettings: {}}), (error: DynError) => error.code === 'joiner_unreachable')
    assert.equal(seed.table, before)
    assert.equal(findMember(seed.table, 'n4'), undefined)
    // One dial back, to the address the newcomer advertises, paced by the seed itself.
    assert.deepEqual(transport.asked, ['10.9.9.9:8070'])
    assert.deepEqual(transport.options, [{callerPaced: true}])
    assert.ok(joinDialBackTimeoutMs <= 2000, 'a connect that times out is the transport\'s 2 s: no longer')
  })

  it('dyn start --seeds: tried again like a silent seed, then fails with the seed\'s words, not "could not reach the seed"', async () => {
    const answer = 'n1 cannot reach n5 at 127.0.0.1:47180, the internode address n5 advertises (connection refused), and every member must: nothing was staged. Restart n5 with --advertise set to an address the cluster\'s nodes can connect to, then join again'
    const transport = stubTransport(() => ({ok: false, error: 'remote', code: 'joiner_unreachable', message: answer}))
    const logged: string[] = []
    const error = await joinError(transport, ['127.0.0.1:47070'], joiner(47080, 47180), 3, logged)
    assert.equal(transport.asked.length, 3)
    assert.deepEqual(logged, [`the seed 127.0.0.1:47070 refused the join: ${answer}; trying again 0.5 s apart, 3 tries in all`])
    assert.equal(error.code, 'joiner_unreachable')
    assert.equal(error.message, `could not join: ${answer}`)
    assert.deepEqual(error.details, {node: 'n5', rpcAddress: '127.0.0.1:47180'})
  })

  it('two joins of one name from two addresses at once: one is taken, the other refused, as one after the other', async () => {
    // Both processes run and answer as n4, each at its own address (its dial back, and the
    // name's probe); each answer takes a moment, so both joins wait in their dial back together.
    const transport: Transport = {
      address: seedRow.rpcAddress,
      request: async (_address, type): Promise<RpcResult> => {
        await new Promise((resolve) => setTimeout(resolve, 5))
        return type === MessageType.Ping ? {ok: true, body: {node: 'n4'}} : {ok: true, body: {}}
      },
      peerState: () => 'unknown',
      close: async () => undefined,
    }
    const first: Member = {...newcomer, apiAddress: '10.0.0.4:7070', rpcAddress: '10.0.0.4:8070'}
    const second: Member = {...newcomer, apiAddress: '10.0.0.5:7070', rpcAddress: '10.0.0.5:8070'}
    const seed = new Membership(newMemberTable(settings, seedRow), 'n1', transport, seededRandom(3), quiet)
    const outcomes = await Promise.allSettled([seed.handleJoin({member: first, requestedSettings: {}}), seed.handleJoin({member: second, requestedSettings: {}})])
    assert.deepEqual(outcomes.map((outcome) => outcome.status), ['fulfilled', 'rejected'])
    const refusal = (outcomes[1] as PromiseRejectedResult).reason as DynError
    assert.equal(refusal.code, 'bad_parameter')
    assert.match(refusal.message, /^a node named n4 is already running at 10\.0\.0\.4:8070; choose another --name/)
    assert.equal(findMember(seed.table, 'n4')?.rpcAddress, '10.0.0.4:8070', 'the row is the first join\'s')
  })

  it('dyn start --seeds: a seed still starting at the first try and refusing the address after ends in the refusal\'s words', async () => {
    const refusal = 'n1 cannot reach n5 at 127.0.0.1:47180, the internode address n5 advertises (connection refused), and every member must: nothing was staged'
    let calls = 0
    const transport = stubTransport(() => {
      calls += 1
      return calls === 1 ? {ok: false, error: 'remote', code: 'overloaded', message: 'n1 is still starting'} : {ok: false, error: 'remote', code: 'joiner_unreachable', message: refusal}
    })
    const error = await joinError(transport, ['127.0.0.1:47070'], joiner(47080, 47180), 3)
    assert.equal(error.code, 'joiner_unreachable')
    assert.equal(error.message, `could not join: ${refusal}`)
  })

  it('dyn cluster join: refused with what to do, and the node still runs alone, ready to join once restarted', async (t) => {
    const time = new SimulatedTime({settle: () => new Promise((resolve) => setImmediate(resolve))})
    const network = new SimulatedNetwork({time, random: seededRandom(1)})
    // n4 listens on 10.0.0.4:8070 but was started with --advertise 10.9.9.9, where nothing listens.
    const alone: Member = {name: 'n4', apiAddress: '10.9.9.9:7070', rpcAddress: '10.9.9.9:8070', status: 'valid', incarnation: 1}
    const transport = network.listen({address: '10.0.0.4:8070', nodeName: 'n4', handler: async (type) => (type === MessageType.Ping ? {node: 'n4'} : undefined), scheduler: time.node('10.0.0.4:8070')})
    t.after(() => transport.close())
    const membership = new Membership(newMemberTable(settings, alone), 'n4', transport, seededRandom(2), quiet)
    const store = {isObjectFree: async () => true} as unknown as Store
    const node = membershipSubsystem({self: 'n4', membership, transport, detector: new FailureDetector(), clock: time, store, gossipIntervalMs: 1000})
    const seedTransport = network.listen({address: seedRow.rpcAddress, nodeName: 'n1', handler: async (_type, body) => seedMembership.handleJoin(body), scheduler: time.node(seedRow.rpcAddress)})
    t.after(() => seedTransport.close())
    const seedMembership = new Membership(newMemberTable(settings, seedRow), 'n1', seedTransport, seededRandom(3), quiet)
    const failed = await time.until(
      node.joinAnotherCluster(seedRow.rpcAddress).then(
        () => assert.fail('a node no member can reach was joined'),
        (error: unknown) => error,
      ),
      60_000,
    )
    assert.ok(failed instanceof DynError, String(failed))
    assert.equal(failed.code, 'joiner_unreachable')
    assert.match(failed.message, /^the seed 10\.0\.0\.1:8070 refused the join: n1 cannot reach n4 at 10\.9\.9\.9:8070, the internode address n4 advertises \(connection to 10\.9\.9\.9:8070 refused\).*Restart n4 with --advertise set to an address/)
    assert.deepEqual(failed.details, {node: 'n4', rpcAddress: '10.9.9.9:8070'})
    assert.ok(runsAlone(membership.table, 'n4'), 'n4 runs alone, as before the command')
    assert.equal(findMember(seedMembership.table, 'n4'), undefined, 'nothing staged on the seed')
  })
})
