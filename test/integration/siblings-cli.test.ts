// A key's siblings through the CLI, as a script meets them, against a real 3-node cluster: one
// order and numbering in dyn get --json, its listing, dyn resolve --pick and the API's JSON, with
// an id per sibling that dyn resolve --pick-id keeps (refused once that sibling is gone), and
// --context refusing a choice made from siblings that changed since. And a delete whose context
// missed a write, which leaves that write live beside its tombstone: the API answers how many
// siblings (and live ones) the key has, as for a put, and dyn delete says the key is not deleted.
// And a context read from one key, refused on a write to another.

import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {getJson, putValue, runDyn, siblingTexts, startCluster} from './harness.js'
import type {DynRun, TestCluster} from './harness.js'

/** The one JSON object a --json run must print on stdout. */
function answer(run: DynRun): Record<string, unknown> {
  return JSON.parse(run.stdout) as Record<string, unknown>
}

interface JsonSibling {
  number: number
  id: string
  actor: string
  counter: number
  text?: string
  deleted: boolean
}

describe('siblings through the CLI', () => {
  let c: TestCluster
  let env: Record<string, string>
  before(async () => {
    c = await startCluster(3)
    env = {DYN_NODE: c.api(0)}
  })
  after(async () => {
    await c.stop()
  })

  async function jsonSiblings(key: string): Promise<{context: string; siblings: JsonSibling[]}> {
    const read = await runDyn(['get', key, '--json'], {env})
    assert.equal(read.code, 0, read.stdout + read.stderr)
    return answer(read) as unknown as {context: string; siblings: JsonSibling[]}
  }

  /** A blind put (no context) through node i. */
  async function blindPut(key: string, value: string, node: number): Promise<void> {
    const put = await runDyn(['put', key, value, '--node', c.api(node)])
    assert.equal(put.code, 0, put.stderr)
  }

  it('numbers siblings oldest first alike in --json, the listing, --pick and the API, whichever node wrote them', async () => {
    // The walk: "first" through n3, then "second" through n1; by actor, n1's came first.
    await blindPut('ord', 'first', 2)
    await blindPut('ord', 'second', 0)
    const json = await jsonSiblings('ord')
    assert.deepEqual(
      json.siblings.map((s) => [s.number, s.text]),
      [
        [1, 'first'],
        [2, 'second'],
      ],
    )
    assert.match(json.siblings[0]?.id ?? '', /^n3\.[^:]+:\d+$/)
    assert.equal(json.siblings[0]?.id, `${json.siblings[0]?.actor}:${json.siblings[0]?.counter}`)
    assert.match(json.siblings[1]?.id ?? '', /^n1\.[^:]+:\d+$/)
    // The listing (piped: on stderr, exit 4) numbers them the same.
    const listed = await runDyn(['get', 'ord'], {env})
    assert.equal(listed.code, 4, listed.stderr)
    assert.match(listed.stderr, /\[1\] first .*\n {2}\[2\] second /)
    // The API's JSON, through every node, in the same order.
    for (const node of [0, 1, 2]) {
      const api = (await getJson(c.url(node, '/kv/ord'))).body.siblings as Array<{value: string; actor: string; counter: number}>
      assert.deepEqual(
        api.map((s) => `${s.actor}:${s.counter}`),
        json.siblings.map((s) => s.id),
        `through node ${node + 1}`,
      )
    }
    // --pick N keeps what --json numbers N.
    const picked = await runDyn(['resolve', 'ord', '--pick', '2', '--json'], {env})
    assert.equal(picked.code, 0, picked.stdout + picked.stderr)
    assert.deepEqual(answer(picked).picked, {number: 2, id: json.siblings[1]?.id})
    assert.deepEqual(siblingTexts((await getJson(c.url(1, '/kv/ord'))).body), ['second'])
  })

  it('a script that keeps the live value of a key with a tombstone sibling keeps it, by number or by id, and never deletes the key', async () => {
    // b written over a, then a delete with a's context: [b, (deleted)], as dyn get lists them.
    const first = answer(await runDyn(['put', 'tk', 'a', '--json'], {env}))
    assert.equal((await runDyn(['put', 'tk', 'b', '--context', String(first.context)], {env})).code, 0)
    assert.equal((await runDyn(['delete', 'tk', '--context', String(first.context)], {env})).code, 0)
    const listed = await runDyn(['get', 'tk'], {env})
    assert.match(listed.stderr, /\[1\] b .*\n {2}\[2\] \(deleted\)/)
    const json = await jsonSiblings('tk')
    assert.deepEqual(
      json.siblings.map((s) => [s.number, s.deleted]),
      [
        [1, false],
        [2, true],
      ],
    )
    // The script's way: the number of the live sibling in the JSON, given to --pick.
    const live = json.siblings.find((s) => !s.deleted)
    assert.ok(live)
    const byNumber = await runDyn(['resolve', 'tk', '--pick', String(live.number), '--json'], {env})
    assert.equal(byNumber.code, 0, byNumber.stdout + byNumber.stderr)
    assert.equal((answer(byNumber).wrote as {deleted: boolean}).deleted, false)
    assert.deepEqual(siblingTexts((await getJson(c.url(2, '/kv/tk'))).body), ['b'])

    // Again, by id.
    const again = answer(await runDyn(['put', 'tk2', 'a', '--json'], {env}))
    await runDyn(['put', 'tk2', 'b', '--context', String(again.context)], {env})
    await runDyn(['delete', 'tk2', '--context', String(again.context)], {env})
    const id = (await jsonSiblings('tk2')).siblings.find((s) => !s.deleted)?.id
    assert.ok(id !== undefined)
    const byId = await runDyn(['resolve', 'tk2', '--pick-id', id, '--json'], {env})
    assert.equal(byId.code, 0, byId.stdout + byId.stderr)
    assert.deepEqual(answer(byId).picked, {number: 1, id})
    assert.deepEqual(siblingTexts((await getJson(c.url(1, '/kv/tk2'))).body), ['b'])
  })

  it('--pick-id of a sibling that is gone is refused (sibling_gone, exit 3) and writes nothing, with one version left or several', async () => {
    await blindPut('gone', 'x', 0)
    await blindPut('gone', 'y', 1)
    const before = await jsonSiblings('gone')
    const [x, y] = before.siblings
    assert.ok(x !== undefined && y !== undefined)
    assert.equal((await runDyn(['resolve', 'gone', '--pick-id', x.id], {env})).code, 0)
    // y was superseded by that resolve: one version left, and it is not y.
    const alone = await runDyn(['resolve', 'gone', '--pick-id', y.id, '--json'], {env})
    assert.equal(alone.code, 3, alone.stdout + alone.stderr)
    assert.equal(answer(alone).error, 'sibling_gone')
    assert.equal(answer(alone).id, y.id)
    assert.match(String(answer(alone).message), /^gone has no sibling \S+ now \(it has one version\): .*dyn get gone --json lists each sibling's id/)
    // Siblings again, none of them y.
    await blindPut('gone', 'z', 2)
    const several = await runDyn(['resolve', 'gone', '--pick-id', y.id], {env})
    assert.equal(several.code, 3, several.stderr)
    assert.match(several.stderr, /^dyn: gone has no sibling \S+ now \(it has 2 siblings\): .* \[sibling_gone\]\n$/)
    assert.deepEqual(siblingTexts((await getJson(c.url(0, '/kv/gone'))).body), ['x', 'z'])
    // Not an id at all: bad input, before anything is read.
    const malformed = await runDyn(['resolve', 'gone', '--pick-id', '2', '--json'], {env})
    assert.equal(malformed.code, 2)
    assert.equal(answer(malformed).error, 'bad_parameter')
  })

  it('--pick N (or any choice) with --context is refused when the siblings changed since that read (siblings_changed, exit 3)', async () => {
    await blindPut('moved', 'one', 0)
    await blindPut('moved', 'two', 1)
    const seen = await jsonSiblings('moved')
    // Another writer adds a sibling after the script's read.
    await blindPut('moved', 'three', 2)
    for (const choice of [['--pick', '1'], ['--merge', 'json-union'], ['--pick-id', seen.siblings[0]?.id ?? '']]) {
      const refused = await runDyn(['resolve', 'moved', ...choice, '--context', seen.context, '--json'], {env})
      assert.equal(refused.code, 3, `${choice.join(' ')}: ${refused.stdout}${refused.stderr}`)
      assert.equal(answer(refused).error, 'siblings_changed')
      assert.equal(answer(refused).siblings, 3)
    }
    assert.deepEqual(siblingTexts((await getJson(c.url(0, '/kv/moved'))).body), ['one', 'three', 'two'])
    // With the context of a read of the siblings as they are, the pick goes through.
    const now = await jsonSiblings('moved')
    const picked = await runDyn(['resolve', 'moved', '--pick', '3', '--context', now.context], {env})
    assert.equal(picked.code, 0, picked.stderr)
    assert.match(picked.stdout, /^moved resolved: kept sibling 3 \(n3\.[^)]+\): wrote 5 bytes, superseding all 3 siblings\n$/)
    assert.deepEqual(siblingTexts((await getJson(c.url(1, '/kv/moved'))).body), ['three'])
    // A context that is no context: bad input.
    const bad = await runDyn(['resolve', 'moved', '--pick', '1', '--context', 'nonsense', '--json'], {env})
    assert.equal(bad.code, 2)
    assert.equal(answer(bad).error, 'bad_context')
  })

  it('a delete with a stale context says the key is not deleted, in text and JSON (exit 0, as a put that leaves siblings), and the API answers the sibling counts', async () => {
    // The walk: a, then b over it, then a delete with a's context. Every write through one node,
    // which is a home of every key (N=3 on 3 nodes), so it holds every version when it counts.
    const c1 = String(answer(await runDyn(['put', 'dk', 'a', '--json'], {env})).context)
    assert.equal((await runDyn(['put', 'dk', 'b', '--context', c1], {env})).code, 0)
    const stale = await runDyn(['delete', 'dk', '--context', c1], {env})
    assert.equal(stale.code, 0, stale.stderr)
    assert.doesNotMatch(stale.stdout, /^deleted/m)
    assert.equal(
      stale.stdout,
      'wrote a tombstone, but dk is not deleted: 1 live version that the delete\'s context did not cover (written after the read it came from) is left beside it\n' +
        'dk now has 2 siblings; to see them: dyn get dk; to delete it whatever it holds now: dyn delete dk (without --context it deletes what its own read finds); or reconcile them: dyn resolve dk\n',
    )
    const listed = await runDyn(['get', 'dk'], {env})
    assert.equal(listed.code, 4)
    assert.match(listed.stderr, /\[1\] b .*\n {2}\[2\] \(deleted\)/)
    // Again, in JSON: one more tombstone sibling, and still not deleted.
    const again = await runDyn(['delete', 'dk', '--context', c1, '--json'], {env})
    assert.equal(again.code, 0, again.stdout)
    assert.deepEqual(
      (({ok, siblings, liveSiblings, deleted}) => ({ok, siblings, liveSiblings, deleted}))(answer(again)),
      {ok: true, siblings: 3, liveSiblings: 1, deleted: false},
    )
    // Without a context the delete reads first and supersedes them all.
    const clean = await runDyn(['delete', 'dk', '--json'], {env})
    assert.deepEqual(
      (({ok, siblings, liveSiblings, deleted}) => ({ok, siblings, liveSiblings, deleted}))(answer(clean)),
      {ok: true, siblings: 1, liveSiblings: 0, deleted: true},
    )
    assert.equal((await runDyn(['get', 'dk'], {env})).code, 1)

    // The API: DELETE answers X-Dyn-Siblings as PUT does, and both how many are live.
    const put = await putValue(c.url(0, '/kv/hk'), 'a')
    assert.deepEqual([put.headers.get('x-dyn-siblings'), put.headers.get('x-dyn-live-siblings')], ['1', '1'])
    const context = put.headers.get('x-dyn-context') ?? ''
    await putValue(c.url(0, '/kv/hk'), 'b', context)
    const staleDelete = await fetch(c.url(0, '/kv/hk'), {method: 'DELETE', headers: {'x-dyn-context': context}})
    assert.equal(staleDelete.status, 204)
    assert.deepEqual([staleDelete.headers.get('x-dyn-siblings'), staleDelete.headers.get('x-dyn-live-siblings')], ['2', '1'])
    const plainDelete = await fetch(c.url(0, '/kv/hk'), {method: 'DELETE'})
    assert.deepEqual([plainDelete.headers.get('x-dyn-siblings'), plainDelete.headers.get('x-dyn-live-siblings')], ['1', '0'])
  })

  it('a context read from another key is refused (bad_context: 400 from the node, exit 2 from the CLI before sending) and nothing is written', async () => {
    // The walk that lost a value: zk's context covered yk's only version (both written once through one node).
    assert.equal((await runDyn(['put', 'yk', 'precious'], {env})).code, 0)
    assert.equal((await runDyn(['put', 'zk', 'other'], {env})).code, 0)
    const zk = String(answer(await runDyn(['get', 'zk', '--json'], {env})).context)
    const message =
      'the context token was read from another key: a context applies only to the key it was read from; nothing was written. ' +
      'Read yk (dyn get yk --json, or the X-Dyn-Context header) and write with the context of that read, or send none (a put without one is concurrent with what is stored: kept as its sibling, or on a last-writer-wins cluster the newer write wins; a delete without one deletes the versions it reads first).'
    for (const args of [['put', 'yk', 'clobber'], ['delete', 'yk']]) {
      const refused = await runDyn([...args, '--context', zk, '--json'], {env})
      assert.equal(refused.code, 2, `${args.join(' ')}: ${refused.stdout}${refused.stderr}`)
      assert.deepEqual((({error, message}) => ({error, message}))(answer(refused)), {error: 'bad_context', message})
    }
    // The node refuses it too, from any client.
    const put = await putValue(c.url(1, '/kv/yk'), 'clobber', zk)
    assert.equal(put.status, 400)
    assert.deepEqual(await put.json(), {error: 'bad_context', message})
    const deleted = await fetch(c.url(2, '/kv/yk'), {method: 'DELETE', headers: {'x-dyn-context': zk}})
    assert.equal(deleted.status, 400)
    assert.equal(((await deleted.json()) as {error: string}).error, 'bad_context')
    for (const node of [0, 1, 2]) assert.deepEqual(siblingTexts((await getJson(c.url(node, '/kv/yk'))).body), ['precious'], `through node ${node + 1}`)
    // yk's own context is taken.
    const yk = String(answer(await runDyn(['get', 'yk', '--json'], {env})).context)
    assert.equal((await runDyn(['put', 'yk', 'kept', '--context', yk], {env})).code, 0)
    assert.deepEqual(siblingTexts((await getJson(c.url(0, '/kv/yk'))).body), ['kept'])
  })

  it('two deletes from one read leave two tombstones and no live version: the key is deleted, and dyn delete says so', async () => {
    const c1 = String(answer(await runDyn(['put', 'tt', 'a', '--json'], {env})).context)
    assert.equal((await runDyn(['delete', 'tt', '--context', c1], {env})).stdout, 'deleted tt\n')
    const second = await runDyn(['delete', 'tt', '--context', c1], {env})
    assert.equal(second.code, 0, second.stderr)
    assert.equal(second.stdout, 'deleted tt\n')
    const json = answer(await runDyn(['delete', 'tt', '--context', c1, '--json'], {env}))
    assert.deepEqual([json.siblings, json.liveSiblings, json.deleted], [3, 0, true])
    assert.equal((await runDyn(['get', 'tt'], {env})).code, 1)
  })
})
