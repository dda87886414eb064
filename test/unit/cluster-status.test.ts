// `dyn cluster status --node`'s reading of what the contacted node gathered (describeGathered):
// who serves, whether all hold one ring, and where the members' views of each other differ.

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {otherMemberLine} from '../../commands/cluster/status.js'
import {describeGathered, localStatusVerdict, markStoppedLeavers, otherMembersText, remoteStatusVerdict} from '../../src/cli/cluster-status.js'
import type {ClusterStatus, NodeStatus, OtherMember} from '../../src/cli/cluster-status.js'
import type {GatheredStatus, MemberStatusEntry} from '../../src/node/status-subsystem.js'
import {leftMembers, unfinishedLeavers} from '../../src/cli/transfer-status.js'
import type {NodeTransfers} from '../../src/cli/transfer-status.js'

const settings = {defaultN: 3, defaultR: 2, defaultW: 2, partitionCount: 64, conflictPolicy: 'siblings', clusterId: 'c1'}

/** A member that answered, seeing the others as `sees` says (up unless named). */
function answered(name: string, sees: Record<string, string>, options: {ringHash?: string; clusterId?: string; names?: string[]; ring?: Record<string, unknown>} = {}): MemberStatusEntry {
  const names = options.names ?? ['n1', 'n2', 'n3']
  return {
    name,
    apiAddress: `10.0.0.${name.slice(1)}:8070`,
    rpcAddress: `10.0.0.${name.slice(1)}:8071`,
    status: 'valid',
    answered: true,
    view: {
      health: {node: name, members: names.length, ringHash: options.ringHash ?? 'r1', clusterId: options.clusterId ?? 'c1'},
      cluster: {
        node: name,
        settings,
        effective: {n: 3, r: 2, w: 2},
        members: names.map((other) => ({name: other, status: 'valid', reachability: other === name ? 'up' : (sees[other] ?? 'up'), partitions: 21})),
        ring: options.ring ?? {version: 1, claimant: 'n1', staged: [], transition: null},
      },
    },
  }
}

function silent(name: string, error = 'timeout', status = 'valid', message = 'no answer'): MemberStatusEntry {
  return {name, apiAddress: `10.0.0.${name.slice(1)}:8070`, rpcAddress: `10.0.0.${name.slice(1)}:8071`, status, answered: false, error, message}
}

describe('describeGathered', () => {
  it('all answering, one ring, everyone up: agreed, no disagreement, the settings of the contacted node', () => {
    const gathered: GatheredStatus = {node: 'n1', members: [answered('n1', {}), answered('n2', {}), answered('n3', {})]}
    const status = describeGathered('10.0.0.1:8070', gathered)
    assert.equal(status.agreed, true)
    assert.deepEqual(status.disagreements, [])
    assert.deepEqual(status.seenDown, [])
    assert.deepEqual(status.settings, {n: 3, r: 2, w: 2, partitions: 64, conflict: 'siblings', clusterId: 'c1'})
    assert.equal(status.ringMembers, 3)
  })

  it('nodes on one ring that do not count the same members (a join still spreading) do not agree yet', () => {
    // A new user's walk saw "all nodes serve and agree on the ring" while nodes said 5, 4 and 3 members.
    const gathered: GatheredStatus = {node: 'n1', members: [answered('n1', {}), answered('n2', {}, {names: ['n1', 'n2']}), answered('n3', {})]}
    assert.equal(describeGathered('10.0.0.1:8070', gathered).agreed, false)
  })

  it('a one-way cut: n1 sees n3 down while n2 sees it up, a disagreement and a member seen down', () => {
    const gathered: GatheredStatus = {node: 'n2', members: [answered('n1', {n3: 'down'}), answered('n2', {}), answered('n3', {})]}
    const status = describeGathered('10.0.0.2:8070', gathered)
    assert.equal(status.agreed, true, 'every member answers and holds one ring')
    assert.deepEqual(status.disagreements, [{member: 'n3', seenAs: {n1: 'down', n2: 'up'}}])
    assert.deepEqual(status.seenDown, ['n3'])
  })

  it('a member that does not answer is not serving, and the cluster does not agree', () => {
    const gathered: GatheredStatus = {node: 'n1', members: [answered('n1', {n3: 'down'}), answered('n2', {n3: 'down'}), silent('n3')]}
    const status = describeGathered('10.0.0.1:8070', gathered)
    assert.equal(status.agreed, false)
    assert.equal(status.nodes[2]?.state, 'not_answering')
    assert.match(status.nodes[2]?.problem ?? '', /does not answer n1 on its internode port \(timeout: no answer\)/)
    assert.deepEqual(status.disagreements, [], 'both answering nodes see it down alike')
    assert.deepEqual(status.seenDown, ['n3'])
  })

  it('different rings, or a member of another cluster, do not agree', () => {
    const rings = describeGathered('a:1', {node: 'n1', members: [answered('n1', {}), answered('n2', {}, {ringHash: 'r2'}), answered('n3', {})]})
    assert.equal(rings.agreed, false)
    const stranger = describeGathered('a:1', {node: 'n1', members: [answered('n1', {}), answered('n2', {}), answered('n3', {}, {clusterId: 'c2'})]})
    assert.equal(stranger.agreed, false)
    assert.match(stranger.nodes[2]?.problem ?? '', /serving cluster c2, not n1's c1/)
  })

  it('a member that left is neither asked nor counted, nor are the views of it', () => {
    const left = silent('n3', 'left', 'left', 'it left the cluster')
    const gathered: GatheredStatus = {node: 'n1', members: [answered('n1', {n3: 'down'}), answered('n2', {}), left]}
    const status = describeGathered('10.0.0.1:8070', gathered)
    assert.equal(status.nodes[2]?.state, 'left')
    assert.deepEqual(status.left, ['n3'])
    assert.equal(status.agreed, true)
    assert.deepEqual(status.disagreements, [])
    assert.deepEqual(status.seenDown, [])
  })

  it('a member out of the ring that still hands off is asked, shown handing off, and counted with those that left', () => {
    // A walk saw "left the cluster" of a node that still had 40 partitions to release: an
    // operator who stopped it then would have kept its hints from their homes.
    const base = answered('n4', {})
    assert.ok(base.answered)
    const leaving = {...base, status: 'left', handingOff: true as const, view: {...base.view, health: {...base.view.health, status: 'left'}}}
    const gathered: GatheredStatus = {node: 'n1', members: [answered('n1', {n4: 'down'}), answered('n2', {}), answered('n3', {}), leaving]}
    const status = describeGathered('10.0.0.1:8070', gathered)
    assert.equal(status.nodes[3]?.state, 'handing_off')
    assert.equal(status.nodes[3]?.running, true)
    assert.deepEqual(status.left, ['n4'])
    assert.equal(status.agreed, true, 'the members that remain agree; the leaver is not one of them')
    assert.deepEqual(status.seenDown, [])
    // Once its row says it handed off everything, it has left (it exits within a few rounds).
    const done = {...leaving, view: {...leaving.view, health: {...leaving.view.health, handedOff: true}}}
    assert.equal(describeGathered('10.0.0.1:8070', {node: 'n1', members: [answered('n1', {}), done]}).nodes[1]?.state, 'left')
  })

  it('a member whose store stopped taking writes is not fully up: writes_stopped, with why and what to do', () => {
    const base = answered('n3', {})
    assert.ok(base.answered)
    const full = {...base, view: {...base.view, health: {...base.view.health, writesStopped: 'IO error: No space left on device'}}}
    const status = describeGathered('10.0.0.1:8070', {node: 'n1', members: [answered('n1', {}), answered('n2', {}), full]})
    assert.equal(status.nodes[2]?.writesStopped, 'IO error: No space left on device')
    const verdict = remoteStatusVerdict(status)
    assert.ok(!verdict.ok)
    assert.equal(verdict.error, 'writes_stopped')
    assert.match(verdict.message, /n3 \(IO error: No space left on device\) takes no writes and serves reads only\. To bring it up: for n3: free space on its disk/)
  })

  it('a member out of the ring that never said it handed off and does not answer: not ok, with what to do', () => {
    // A walk killed a leaver mid-hand-off: status said every member serves (exit 0) while every
    // tombstone of the cluster waited for it.
    const stopped = {...silent('n4', 'timeout', 'left', 'no answer'), handingOff: true as const}
    const status = describeGathered('10.0.0.1:8070', {node: 'n1', members: [answered('n1', {}), answered('n2', {}), answered('n3', {}), stopped]})
    assert.equal(status.nodes[3]?.state, 'not_answering')
    assert.equal(status.nodes[3]?.handoffUnfinished, true)
    assert.match(status.nodes[3]?.problem ?? '', /has not said it handed off everything.*start it again on its data to finish/)
    assert.deepEqual(status.left, ['n4'], 'out of the ring: not counted among the members that must agree')
    assert.equal(status.agreed, true)
    const verdict = remoteStatusVerdict(status)
    assert.ok(!verdict.ok)
    assert.equal(verdict.error, 'nodes_not_serving')
    assert.match(verdict.message, /n4 left the ring but has not handed off everything, and does not answer: the hints it kept wait, and no tombstone is reaped until then\. To bring it up: start n4 again on its data folder to finish .*dyn cluster remove n4 --node 10\.0\.0\.1:8070/)
    // A member that has heard it hand off everything is ahead of the asked node: it has left (it
    // exits a few gossip rounds after saying so), and nothing is wrong.
    const heard = answered('n2', {}, {names: ['n1', 'n2', 'n3']})
    assert.ok(heard.answered)
    const heardCluster = heard.view.cluster as {members: Array<Record<string, unknown>>}
    const heardView = {...heard, view: {...heard.view, cluster: {...heard.view.cluster, members: [...heardCluster.members, {name: 'n4', status: 'left', handedOff: true, reachability: 'down', partitions: 0}]}}}
    const ahead = describeGathered('10.0.0.1:8070', {node: 'n1', members: [answered('n1', {}), heardView, answered('n3', {}), stopped]})
    assert.equal(ahead.nodes[3]?.state, 'left')
    assert.equal(ahead.nodes[3]?.handoffUnfinished, undefined)
    assert.equal(remoteStatusVerdict(ahead).ok, true)
    // Once it has handed off (or was removed), it has left, and the status is ok again.
    const gone = silent('n4', 'left', 'left', 'it left the cluster')
    assert.equal(remoteStatusVerdict(describeGathered('10.0.0.1:8070', {node: 'n1', members: [answered('n1', {}), answered('n2', {}), answered('n3', {}), gone]})).ok, true)
  })
})

describe('unfinishedLeavers', () => {
  it('names a member out of the ring until some node knows it handed off', () => {
    const view = (name: string, handedOff: boolean | undefined): NodeTransfers => ({name, peers: [{name: 'n4', status: 'left', ...(handedOff === undefined ? {} : {handedOff})}]})
    assert.deepEqual([...unfinishedLeavers([view('n1', false), view('n2', false)])], ['n4'])
    assert.deepEqual([...leftMembers([view('n1', false)])], ['n4'], 'out of the ring all the same')
    assert.deepEqual([...unfinishedLeavers([view('n1', false), view('n2', true)])], [], 'one node has heard of its hand-off')
    assert.deepEqual([...unfinishedLeavers([view('n1', undefined)])], [], 'an older node says nothing of it: left')
  })
})

describe('dyn cluster status: a member the folder did not start', () => {
  it('shows its status and reachability, and one that left as left, without a stale reachability', () => {
    assert.equal(otherMemberLine({name: 'extra', apiAddress: '127.0.0.1:7999', status: 'valid', up: true}), 'extra  127.0.0.1:7999   not started from this folder (valid, up)\n')
    assert.equal(otherMemberLine({name: 'n4', apiAddress: '127.0.0.1:7073', status: 'joining', up: false}), 'n4     127.0.0.1:7073   not started from this folder (joining, down)\n')
    // It read "(left, up)" of a node stopped long since: no node probes a member that left.
    assert.equal(otherMemberLine({name: 'n9', apiAddress: '127.0.0.1:7079', status: 'left', up: true}), 'n9     127.0.0.1:7079   not started from this folder (left the cluster)\n')
    assert.equal(otherMemberLine({name: 'n5', apiAddress: '127.0.0.1:7075', status: 'left', up: false, handoffUnfinished: true}), 'n5     127.0.0.1:7075   not started from this folder (left the ring, down before it handed off everything)\n')
  })
})

/** A member the folder did not start, as a serving node lists it. */
function other(name: string, status: string, up: boolean): OtherMember {
  return {name, apiAddress: `127.0.0.1:7${name.slice(1)}`, rpcAddress: `127.0.0.1:8${name.slice(1)}`, status, up}
}

/** A node of the folder: serving on ring r1, or in `state` with `problem`. */
function folderNode(name: string, state: NodeStatus['state'] = 'serving', problem?: string): NodeStatus {
  const base = {name, address: `127.0.0.1:707${name.slice(1)}`, rpcAddress: `127.0.0.1:807${name.slice(1)}`, pid: 100}
  if (state === 'serving') return {...base, running: true, serving: true, state, members: 3, ringHash: 'r1', clusterId: 'c1'}
  return {...base, running: state === 'not_answering', serving: false, state, ...(problem === undefined ? {} : {problem})}
}

function folderStatus(nodes: NodeStatus[], otherMembers: OtherMember[] = []): ClusterStatus {
  return {dir: '.dyn/demo', nodes, agreed: nodes.every((node) => node.serving), otherMembers}
}

describe('dyn cluster status --dir: the verdict', () => {
  it('members that left are no "other members": they are said apart, and those present counted', () => {
    // It said "3 other member(s) not started from this folder: n4, n5, n6" with n4 and n5 gone.
    const others = [other('n4', 'left', true), other('n5', 'valid', false), other('n6', 'valid', true)]
    assert.equal(otherMembersText(others, new Set(['n5'])), '; 1 other member(s) not started from this folder: n6; n4, n5, not of this folder, have left the cluster')
    assert.equal(otherMembersText([other('n4', 'left', true)], new Set()), '; n4, not of this folder, has left the cluster')
    assert.equal(otherMembersText([], new Set()), '')
    const verdict = localStatusVerdict(folderStatus([folderNode('n1'), folderNode('n2')], others), new Set(['n4', 'n5']), true)
    assert.deepEqual(verdict, {ok: true, message: 'all nodes of the folder serve and agree on the ring; 1 other member(s) not started from this folder: n6; n4, n5, not of this folder, have left the cluster'})
  })

  it('a member the folder did not start, out of the ring and seen down before it handed off: not ok, started where it runs', () => {
    // A review: status --dir flagged only the folder's own stopped leavers, and called one joined
    // by hand "left the cluster" while every tombstone waited for it.
    const base = folderStatus([folderNode('n1'), folderNode('n2')], [other('n5', 'left', false), other('n6', 'valid', true)])
    const marked = markStoppedLeavers(base, new Set(['n5']))
    assert.equal(marked.otherMembers[0]?.handoffUnfinished, true)
    assert.equal(marked.otherMembers[1]?.handoffUnfinished, undefined)
    const verdict = localStatusVerdict(marked, new Set(['n5']), true)
    assert.ok(!verdict.ok)
    assert.equal(verdict.error, 'nodes_not_serving')
    assert.equal(
      verdict.message,
      'the cluster is not fully up: n5 left the ring but has not handed off everything, and is not running: the hints it kept wait, and no tombstone is reaped until then; start n5 again where it runs (dyn start on its data folder; this folder did not start it) (it exits by itself once done), or, if its hints may be given up, remove it: dyn cluster remove n5 --node 127.0.0.1:7071; 1 other member(s) not started from this folder: n6',
    )
    // An earlier verdict still names it, apart from the members that left.
    const killed = localStatusVerdict(markStoppedLeavers({...base, nodes: [folderNode('n1'), folderNode('n2', 'exited', 'not running (pid 9 killed by SIGKILL)')]}, new Set(['n5'])), new Set(['n5']), false)
    assert.ok(!killed.ok)
    assert.match(killed.message, /; 1 other member\(s\) not started from this folder: n6; n5, not of this folder, left the ring and is down before it handed off everything$/)
    // Not when a present member holds its address now (a replacement machine): what is seen down
    // there is that member, which the members_down verdict names.
    const replaced = markStoppedLeavers({...base, otherMembers: [other('n5', 'left', false), {...other('n7', 'valid', false), rpcAddress: other('n5', 'left', false).rpcAddress}]}, new Set(['n5']))
    assert.equal(replaced.otherMembers[0]?.handoffUnfinished, undefined)
    const replacedVerdict = localStatusVerdict(replaced, new Set(['n5']), true)
    assert.ok(!replacedVerdict.ok)
    assert.equal(replacedVerdict.error, 'members_down')
    assert.match(replacedVerdict.message, /other member\(s\) down: n7/)
    // Seen up (handing off still), or heard to have handed off: nothing is wrong.
    assert.equal(localStatusVerdict(markStoppedLeavers(folderStatus([folderNode('n1'), folderNode('n2')], [other('n5', 'left', true)]), new Set(['n5'])), new Set(['n5']), true).ok, true)
    assert.equal(localStatusVerdict(markStoppedLeavers(base, new Set()), new Set(['n5']), true).ok, true)
    // With one of the folder's own as well: each started its own way.
    const both = markStoppedLeavers({...base, nodes: [folderNode('n1'), folderNode('n2'), folderNode('n4', 'stopped')]}, new Set(['n4', 'n5']))
    const bothVerdict = localStatusVerdict(both, new Set(['n4', 'n5']), true)
    assert.ok(!bothVerdict.ok)
    assert.match(bothVerdict.message, /n4, n5 left the ring but have not handed off everything, and are not running: .*; start n4 again to finish with: dyn cluster up --dir \.dyn\/demo; start n5 again where it runs \(dyn start on its data folder; this folder did not start it\) \(each exits by itself once done\), or, if their hints may be given up, remove each: dyn cluster remove n4 --node 127\.0\.0\.1:7071; dyn cluster remove n5 --node 127\.0\.0\.1:7071/)
  })

  it('every verdict that is not ok has a stable code and a message with what to do', () => {
    const stopped = localStatusVerdict(folderStatus([folderNode('n1', 'stopped'), folderNode('n2', 'left')]), new Set(['n2']), false)
    assert.deepEqual(stopped, {ok: false, error: 'cluster_stopped', message: 'the cluster is stopped; start it with: dyn cluster up --dir .dyn/demo'})

    const killed = localStatusVerdict(folderStatus([folderNode('n1'), folderNode('n2', 'exited', 'not running (pid 4243 killed by SIGKILL)')]), new Set(), false)
    assert.ok(!killed.ok)
    assert.equal(killed.error, 'nodes_not_serving')
    assert.equal(killed.message, 'the cluster is not fully up: n2 does not serve (not running (pid 4243 killed by SIGKILL)); start n2 again with: dyn cluster up --dir .dyn/demo (it leaves running nodes alone)')

    // A node whose removal is under way is not to be started again (a walk was told to, beside "removing n2").
    const removed = localStatusVerdict(folderStatus([folderNode('n1'), folderNode('n2', 'exited', 'not running (pid 4243 killed by SIGKILL)')]), new Set(), false, {version: 7, transition: {id: '7.n1', members: ['n1'], removing: ['n2']}})
    assert.ok(!removed.ok)
    assert.equal(removed.message, 'the cluster is not fully up: n2 does not serve (not running (pid 4243 killed by SIGKILL)); the removal of n2 is under way (ring change 7.n1): do not start it again; wait for the transfers to end (shown below)')

    const silent = localStatusVerdict(folderStatus([folderNode('n1', 'exited', 'not running (pid 1 exited with code 2)'), folderNode('n2', 'not_answering', 'running, but its client port does not answer')]), new Set(), false)
    assert.ok(!silent.ok)
    assert.equal(silent.error, 'nodes_not_serving')
    assert.match(silent.message, /n1, n2 do not serve \(n1: not running \(pid 1 exited with code 2\); n2: running, but its client port does not answer\); start n1 again with: .*; read the log of n2 \(n2\.log in \.dyn\/demo\)/)

    // A node whose disk filled serves reads and answers /health: a walk saw status say all was well.
    const full = localStatusVerdict(folderStatus([folderNode('n1'), {...folderNode('n2'), writesStopped: 'IO error: 000024.ldb: No space left on device'}]), new Set(), true)
    assert.ok(!full.ok)
    assert.equal(full.error, 'writes_stopped')
    assert.match(full.message, /n2 \(IO error: 000024\.ldb: No space left on device\) takes no writes and serves reads only; free space on its disk .*then restart it.*\(kill 100, then dyn cluster up --dir \.dyn\/demo\)/)

    const rings = localStatusVerdict(folderStatus([folderNode('n1'), {...folderNode('n2'), ringHash: 'r2'}]), new Set(), false)
    assert.ok(!rings.ok)
    assert.equal(rings.error, 'ring_not_agreed')
    assert.match(rings.message, /do not agree on the ring or its members yet .*; ask again in a few seconds$/)

    // Nodes that ask for a client certificate, asked without one: only their /health answered.
    const unseen = localStatusVerdict({...folderStatus([folderNode('n1'), folderNode('n2')]), tlsClientCa: 'tls/clients-ca.crt', clientCertificateMissing: true}, new Set(), true)
    assert.ok(!unseen.ok)
    assert.equal(unseen.error, 'unauthenticated')
    assert.match(unseen.message, /only their \/health to a client without a certificate of tls\/clients-ca\.crt .*: set DYN_TLS_CERT and DYN_TLS_KEY/)

    const down = localStatusVerdict(folderStatus([folderNode('n1'), folderNode('n2')], [other('n6', 'valid', false)]), new Set(), true)
    assert.ok(!down.ok)
    assert.equal(down.error, 'members_down')
    assert.match(down.message, /other member\(s\) down: n6, not started from this folder; start it again where it runs .*dyn cluster remove n6 --node 127\.0\.0\.1:7071$/)
    // Several: each removal written out with its name (the hint once read "dyn cluster remove NAME").
    const two = localStatusVerdict(folderStatus([folderNode('n1'), folderNode('n2')], [other('n6', 'valid', false), other('n7', 'valid', false)]), new Set(), true)
    assert.match(two.message, /remove each: dyn cluster remove n6 --node 127\.0\.0\.1:7071; dyn cluster remove n7 --node 127\.0\.0\.1:7071$/)
    assert.doesNotMatch(two.message, /NAME/)
  })

  it('a node of the folder that left is stopped by design: the rest serving is ok', () => {
    const verdict = localStatusVerdict(folderStatus([folderNode('n1'), folderNode('n2'), folderNode('n3', 'left')]), new Set(['n3']), true)
    assert.equal(verdict.ok, true)
  })
})

describe('dyn cluster status --node: the verdict', () => {
  it('is ok when all serve one ring and none sees another down; otherwise coded, first problem first, with what to do', () => {
    assert.equal(remoteStatusVerdict(describeGathered('10.0.0.1:8070', {node: 'n1', members: [answered('n1', {}), answered('n2', {}), answered('n3', {})]})).ok, true)
    const paused = remoteStatusVerdict(describeGathered('10.0.0.1:8070', {node: 'n1', members: [answered('n1', {n3: 'down'}), answered('n2', {n3: 'down'}), silent('n3')]}))
    assert.ok(!paused.ok)
    assert.equal(paused.error, 'nodes_not_serving')
    assert.match(paused.message, /^asked through n1 \(10\.0\.0\.1:8070\): the cluster is not fully up: n3 does not answer; seen down by some node: n3\. To bring it up: start a member that does not answer again/)
    assert.match(paused.message, /if it is gone for good, remove it \(dyn cluster remove n3 --node 10\.0\.0\.1:8070\)/)
    const cut = remoteStatusVerdict(describeGathered('10.0.0.2:8070', {node: 'n2', members: [answered('n1', {n3: 'down'}), answered('n2', {}), answered('n3', {})]}))
    assert.ok(!cut.ok)
    assert.equal(cut.error, 'members_down')
    assert.match(cut.message, /seen down by some node: n3\. To bring it up: check that each member seen down runs/)
    const rings = remoteStatusVerdict(describeGathered('a:1', {node: 'n1', members: [answered('n1', {}), answered('n2', {}, {ringHash: 'r2'}), answered('n3', {})]}))
    assert.ok(!rings.ok)
    assert.equal(rings.error, 'ring_not_agreed')
    // Asked on the small side of a partition: the others may only be cut off, so the network comes
    // first, and a removal needs --without-majority (a new user's walk removed the large side).
    const small = remoteStatusVerdict(describeGathered('10.0.0.1:8070', {node: 'n1', members: [answered('n1', {n2: 'down', n3: 'down'}), silent('n2'), silent('n3')]}))
    assert.ok(!small.ok)
    assert.match(small.message, /this side reaches only 1 of the 3 members, which a network partition looks like as much as lost machines: check the network first \(a membership change from here is refused, no_majority\); only if their machines are lost for good, remove them and commit, each with --without-majority \(dyn cluster remove n2 --without-majority --node 10\.0\.0\.1:8070; dyn cluster remove n3 --without-majority --node 10\.0\.0\.1:8070; dyn cluster commit --without-majority --node 10\.0\.0\.1:8070\)/)
  })

  it('counts the ring\'s members for the small side, as the claimant does: a joiner is none yet', () => {
    // n1, n2, n3 in the ring, n4 and n5 joining and silent, n3 silent too: n1 and n2 are 2 of the
    // ring's 3, a majority, though they answer for only 2 of the 5 names listed.
    const names = ['n1', 'n2', 'n3', 'n4', 'n5']
    const verdict = remoteStatusVerdict(describeGathered('10.0.0.1:8070', {node: 'n1', members: [answered('n1', {n3: 'down'}, {names}), answered('n2', {n3: 'down'}, {names}), silent('n3'), silent('n4', 'timeout', 'joining'), silent('n5', 'timeout', 'joining')]}))
    assert.ok(!verdict.ok)
    assert.doesNotMatch(verdict.message, /this side reaches only|--without-majority/)
    // With n2 silent too, 1 of the ring's 3: the small side, whatever the joiners.
    const small = remoteStatusVerdict(describeGathered('10.0.0.1:8070', {node: 'n1', members: [answered('n1', {n2: 'down', n3: 'down'}, {names}), silent('n2'), silent('n3'), silent('n4', 'timeout', 'joining'), silent('n5', 'timeout', 'joining')]}))
    assert.match(small.message, /this side reaches only 1 of the 3 members/)
  })

  it('a silent member whose removal is staged or under way is not to be removed again: it says where the removal stands', () => {
    // A new user's walk was told to remove n3 after staging its removal, and again after committing it (already_leaving).
    const names = ['n1', 'n2', 'n3', 'n4']
    const staged = {version: 4, claimant: 'n1', staged: [{kind: 'remove', node: 'n3', stagedAt: 4}], transition: null}
    const asStaged = remoteStatusVerdict(describeGathered('10.0.0.1:8070', {node: 'n1', members: [answered('n1', {n3: 'down'}, {names, ring: staged}), answered('n2', {n3: 'down'}, {names, ring: staged}), silent('n3'), answered('n4', {n3: 'down'}, {names, ring: staged})]}))
    assert.ok(!asStaged.ok)
    assert.equal(asStaged.message, 'asked through n1 (10.0.0.1:8070): the cluster is not fully up: n3 does not answer. To bring it up: the removal of n3 is staged: commit it (dyn cluster commit --node 10.0.0.1:8070)')
    assert.equal(asStaged.error, 'nodes_not_serving')
    const underWay = {version: 5, claimant: 'n1', staged: [], transition: {id: '5.n1', members: ['n1', 'n2', 'n4'], removing: ['n3'], owners: []}}
    const asUnderWay = remoteStatusVerdict(describeGathered('10.0.0.1:8070', {node: 'n1', members: [answered('n1', {n3: 'down'}, {names, ring: underWay}), answered('n2', {n3: 'down'}, {names, ring: underWay}), silent('n3'), answered('n4', {n3: 'down'}, {names, ring: underWay})]}))
    assert.match(asUnderWay.message, /the removal of n3 is under way \(ring change 5\.n1\): wait for its transfers to end/)
    // Nor is the user sent to check on a member on its way out.
    assert.doesNotMatch(asUnderWay.message, /dyn cluster remove|seen down|check that each member/)
    // Another silent member beside it is still one to start again or remove.
    const both = remoteStatusVerdict(describeGathered('10.0.0.1:8070', {node: 'n1', members: [answered('n1', {n3: 'down', n4: 'down'}, {names, ring: staged}), answered('n2', {n3: 'down', n4: 'down'}, {names, ring: staged}), silent('n3'), silent('n4')]}))
    // On the small side even the staged removal's commit is one for lost machines only (no_majority otherwise).
    assert.match(both.message, /the removal of n3 is staged, but this side reaches only 2 of the 4 members, .*commit it with --without-majority \(dyn cluster commit --without-majority --node 10\.0\.0\.1:8070\); n4: likewise; only if their machines are lost for good, remove them and commit, each with --without-majority \(dyn cluster remove n4 --without-majority/)
    assert.doesNotMatch(both.message, /dyn cluster remove n3/)
    // A node that answers with an older ring (its removal since cleared) does not make it staged again.
    const cleared = {version: 6, claimant: 'n1', staged: [], transition: null}
    const stale = remoteStatusVerdict(describeGathered('10.0.0.1:8070', {node: 'n1', members: [answered('n1', {n3: 'down'}, {names, ring: cleared}), answered('n2', {n3: 'down'}, {names, ring: staged}), silent('n3'), answered('n4', {n3: 'down'}, {names, ring: cleared})]}))
    assert.match(stale.message, /if it is gone for good, remove it \(dyn cluster remove n3 --node 10\.0\.0\.1:8070\)/)
  })

  it('names a node whose process is paused, with the way to resume it', () => {
    const paused = localStatusVerdict(folderStatus([folderNode('n1'), {...folderNode('n2', 'not_answering', 'paused (stopped by a signal, such as SIGSTOP or Ctrl-Z); resume it with kill -CONT 100'), paused: true}]), new Set(), false)
    assert.ok(!paused.ok)
    assert.equal(paused.message, 'the cluster is not fully up: n2 does not serve (paused (stopped by a signal, such as SIGSTOP or Ctrl-Z); resume it with kill -CONT 100); resume n2 with: kill -CONT 100')
  })
})
