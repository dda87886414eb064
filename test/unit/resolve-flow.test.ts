/**
 * What `dyn resolve` says of a key with no live version (src/cli/resolve-flow.ts,
 * `noVersionToResolve`): not found, whether it never existed or was deleted, with the dyn put
 * that writes it, ready to paste into a shell. And the siblings it reads: numbered as dyn get
 * numbers them, kept by number or by id, and refused when they are not those a choice was made from.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import type {DynClient} from '../../src/client/http-client.js'
import {candidateOf, noVersionToResolve, siblingReadOf, siblingsChangedSince, supersededMeanwhile, writeAndVerify} from '../../src/cli/resolve-flow.js'
import type {Candidate, SiblingRead} from '../../src/cli/resolve-flow.js'
import {encodeContext} from '../../src/versioning/context.js'
import type {VersionVector} from '../../src/versioning/dvvset.js'

describe('resolve: a key with no live version', () => {
  it('is not found, and names the dyn put that creates it, with the content type asked for', () => {
    assert.deepEqual(noVersionToResolve('cart:bob', false), {ok: false, error: 'not_found', message: 'cart:bob does not exist, so it has no siblings to resolve; to create it: dyn put cart:bob VALUE'})
    assert.equal(noVersionToResolve('cart:bob', false, {contentType: 'text/plain'}).message, 'cart:bob does not exist, so it has no siblings to resolve; to create it: dyn put cart:bob VALUE --content-type text/plain')
  })

  it('found by fallbacks alone says that it may exist, and suggests no put', () => {
    assert.equal(noVersionToResolve('cart:bob', false, {}, true).message, 'cart:bob was not found, but none of its home replicas answered (only fallbacks): it may well exist. Resolve it once its homes are reachable')
  })

  it('that was deleted says so, and how to write it again', () => {
    assert.equal(noVersionToResolve('cart:bob', true).message, 'cart:bob was deleted (only its tombstone is left), so it has no siblings to resolve; to write it again: dyn put cart:bob VALUE')
    // With the tombstone's context, so that the put supersedes the delete rather than becoming
    // its sibling (a walk followed the advice without it, and the key had two versions).
    assert.equal(
      noVersionToResolve('cart:bob', true, {}, false, 'gqR0b21i').message,
      "cart:bob was deleted (only its tombstone is left), so it has no siblings to resolve; to write it again (with the delete's context, so that the write supersedes it): dyn put cart:bob VALUE --context gqR0b21i",
    )
    assert.equal(noVersionToResolve('cart:bob', false, {}, false, 'gqR0b21i').message, 'cart:bob does not exist, so it has no siblings to resolve; to create it: dyn put cart:bob VALUE')
    // A key that starts with a dash goes after --, its flags before (a review).
    assert.match(noVersionToResolve('-dash', true, {contentType: 'text/plain'}, false, 'gqR0b21i').message, /: dyn put --content-type text\/plain --context gqR0b21i -- -dash VALUE$/)
    assert.match(noVersionToResolve('-dash', false, {valueFile: 'v.txt'}).message, /: dyn put -- -dash < v\.txt$/)
  })

  it('given --value FILE, writes that file from stdin, each word quoted for the shell when it needs it', () => {
    const refusal = noVersionToResolve("bob's cart", false, {valueFile: 'my cart.json', contentType: 'application/json; charset=utf-8'})
    assert.equal(refusal.message, `bob's cart does not exist, so it has no siblings to resolve; to create it: dyn put 'bob'\\''s cart' --content-type 'application/json; charset=utf-8' < 'my cart.json'`)
  })
})

describe('resolve: another write arrived between the read and the write', () => {
  it('with siblings left, says to resolve again; with one version or none, that nothing is left to resolve but it is not the choice made', () => {
    assert.deepEqual(supersededMeanwhile('cart:bob', 3), {ok: false, error: 'conflict_remains', message: 'another write to cart:bob arrived meanwhile: it has 3 versions now; read it and resolve again'})
    assert.equal(supersededMeanwhile("bob's cart", 1).message, `another write to bob's cart arrived meanwhile: it has one version now; nothing is left to resolve, but it is another write's, not your choice: read it (dyn get 'bob'\\''s cart') to see what it holds`)
    assert.match(supersededMeanwhile('cart:bob', 0).message, /it has no live version now; nothing is left to resolve/)
  })
})

/** The API's JSON answer for `key` whose siblings are listed as the version set holds them (by actor). */
function answer(key: string, siblings: Array<{text: string; timestampMs: number; actor: string; counter: number; deleted?: boolean}>, context: VersionVector): Record<string, unknown> {
  return {
    context: encodeContext(context, key),
    siblings: siblings.map((s) => ({value: Buffer.from(s.text).toString('base64'), contentType: 'text/plain', timestampMs: s.timestampMs, deleted: s.deleted === true, actor: s.actor, counter: s.counter})),
  }
}

describe('resolve: the siblings it reads and the one it keeps', () => {
  const context: VersionVector = [
    ['n1.aaaa', 3],
    ['n3.cccc', 1],
  ]
  // The walk's tombstone: b, then a stale delete, both through n1; the set lists the newer dot first.
  const read = siblingReadOf(
    'tk',
    answer(
      'tk',
      [
        {text: '', timestampMs: 3000, actor: 'n1.aaaa', counter: 3, deleted: true},
        {text: 'b', timestampMs: 2000, actor: 'n1.aaaa', counter: 2},
      ],
      context,
    ),
  )

  it('numbers them oldest first whatever order the node sent, each with its id', () => {
    assert.deepEqual(
      read.siblings.map((s) => [s.number, s.id, s.deleted, s.value.toString()]),
      [
        [1, 'n1.aaaa:2', false, 'b'],
        [2, 'n1.aaaa:3', true, ''],
      ],
    )
  })

  it('keeps a sibling by id wherever it is numbered, and says which it kept', () => {
    const byId = candidateOf(read, {kind: 'pickId', id: 'n1.aaaa:2'})
    assert.ok(byId.ok)
    assert.equal(byId.value.toString(), 'b')
    assert.equal(byId.deleted, false)
    assert.deepEqual(byId.picked, {number: 1, id: 'n1.aaaa:2'})
    const byNumber = candidateOf(read, {kind: 'pick', number: 2})
    assert.ok(byNumber.ok)
    assert.equal(byNumber.deleted, true)
    assert.deepEqual(byNumber.picked, {number: 2, id: 'n1.aaaa:3'})
  })

  it('refuses an id that is not among the siblings (sibling_gone), saying how to choose again', () => {
    const gone = candidateOf(read, {kind: 'pickId', id: 'n3.cccc:1'})
    assert.equal(gone.ok, false)
    assert.ok(!gone.ok)
    assert.equal(gone.error, 'sibling_gone')
    assert.match(gone.message, /^tk has no sibling n3\.cccc:1 now \(it has 2 siblings\): .*nothing was written\. Read the key again \(dyn get tk --json lists each sibling's id\)/)
  })

  it('finds the siblings unchanged only for the context of the same versions', () => {
    assert.equal(siblingsChangedSince(read, context), undefined)
    // A write since (n3's second dot), and a context that saw less (before the delete).
    for (const other of [[['n1.aaaa', 3], ['n3.cccc', 2]], [['n1.aaaa', 2], ['n3.cccc', 1]], []] as VersionVector[]) {
      const changed = siblingsChangedSince(read, other)
      assert.equal(changed?.error, 'siblings_changed', JSON.stringify(other))
      assert.match(changed?.message ?? '', /^tk's siblings are not those of the read --context came from .*nothing was written\. Read the key again \(dyn get tk --json\)/)
    }
  })

  it('checks the read it compares with against its own key: a read whose context is for another key matches no --context', () => {
    const otherKeys = siblingReadOf('tk', answer('zk', [{text: 'b', timestampMs: 2000, actor: 'n1.aaaa', counter: 2}], context))
    assert.equal(siblingsChangedSince(otherKeys, context)?.error, 'siblings_changed')
  })
})

describe('resolve: a write the node refuses', () => {
  it('keeps what the node answered beside its code, as dyn put --json prints it', async () => {
    // A walk: dyn resolve --json printed a quorum_unmet with its message alone, while dyn put
    // --json gives its status, required, acknowledged and failed replicas.
    const answered = {error: 'quorum_unmet', message: '2 of the required 3 replicas acknowledged the write (n1, n2); failed: n3', required: 3, acknowledged: 2, acknowledgedBy: ['n1', 'n2'], failed: [{node: 'n3', error: 'unreachable'}], trace: {replies: []}}
    const client = {put: async () => ({ok: false, status: 503, error: 'quorum_unmet', message: answered.message, body: answered})} as unknown as DynClient
    const read: SiblingRead = {key: 'qk', context: undefined, siblings: [], deleted: false}
    const candidate = {choice: 'value', value: Buffer.from('a'), contentType: 'text/plain', deleted: false, conflicts: []} as unknown as Candidate
    assert.deepEqual(await writeAndVerify(client, read, candidate, {w: 3}), {
      ok: false,
      error: 'quorum_unmet',
      message: answered.message,
      details: {status: 503, required: 3, acknowledged: 2, acknowledgedBy: ['n1', 'n2'], failed: [{node: 'n3', error: 'unreachable'}]},
    })
  })
})

describe('resolve: a JSON merge', () => {
  it('is stored as JSON, in the siblings\' own type only when that is a JSON type', () => {
    // A walk merged "5" and "6" that a put had stored as application/octet-stream, and the merge kept that type.
    const withType = (contentType: string): SiblingRead =>
      siblingReadOf('j5', {
        context: encodeContext([['n1.aaaa', 1], ['n2.bbbb', 1]], 'j5'),
        siblings: ['5', '6'].map((text, index) => ({value: Buffer.from(text).toString('base64'), contentType, timestampMs: 1000 + index, deleted: false, actor: index === 0 ? 'n1.aaaa' : 'n2.bbbb', counter: 1})),
      })
    const merged = (contentType: string): string | undefined => {
      const candidate = candidateOf(withType(contentType), {kind: 'merge'})
      return candidate.ok ? candidate.contentType : undefined
    }
    assert.equal(merged('application/octet-stream'), 'application/json')
    assert.equal(merged('text/plain'), 'application/json')
    assert.equal(merged('application/vnd.cart+json'), 'application/vnd.cart+json')
    assert.equal(merged('application/json; charset=utf-8'), 'application/json; charset=utf-8')
  })
})
