/**
 * What `dyn resolve` says of a key with no live version (src/cli/resolve-flow.ts,
 * `noVersionToResolve`): not found, whether it never existed or was deleted, with the dyn put
 * that writes it, ready to paste into a shell.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {noVersionToResolve, supersededMeanwhile} from '../../src/cli/resolve-flow.js'

describe('resolve: a key with no live version', () => {
  it('is not found, and names the dyn put that creates it, with the content type asked for', () => {
    assert.deepEqual(noVersionToResolve('cart:bob', false), {ok: false, error: 'not_found', message: 'cart:bob does not exist, so it has no siblings to resolve; to create it: dyn put cart:bob VALUE'})
    assert.equal(noVersionToResolve('cart:bob', false, {contentType: 'text/plain'}).message, 'cart:bob does not exist, so it has no siblings to resolve; to create it: dyn put cart:bob VALUE --content-type text/plain')
  })

  it('that was deleted says so, and how to write it again', () => {
    assert.equal(noVersionToResolve('cart:bob', true).message, 'cart:bob was deleted (only its tombstone is left), so it has no siblings to resolve; to write it again: dyn put cart:bob VALUE')
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
