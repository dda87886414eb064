/**
 * What a replica's ReplicaPut answer says it holds after a write (src/coordinator/messages.ts),
 * from which a put's or delete's answer counts the key's siblings: a replica that says nothing
 * (the usual put's answer, or an older dyn's) is not counted, so that a cluster being upgraded
 * does not report every delete as undone.
 */

import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {heldGoesUnsaid, heldVersionsOf, replicaPutAnswerHeld} from '../../src/coordinator/messages.js'
import type {StoredObject, StoredVersion} from '../../src/storage/stored-object.js'
import {emptySet, join, update} from '../../src/versioning/dvvset.js'

const version = (text: string, tombstone = false): StoredVersion => ({value: new TextEncoder().encode(text), contentType: 'text/plain', timestampMs: 0, tombstone})
const written: StoredObject = {versions: update([], emptySet<StoredVersion>(), 'a.1', version('v1'), 1), n: 3}
const deleted: StoredObject = {versions: update(join(written.versions), written.versions, 'a.1', version('', true), 2), n: 3}
const concurrent: StoredObject = {versions: update([], written.versions, 'b.1', version('v2'), 1), n: 3}

describe('a replica put answer', () => {
  it('counts the versions and the live versions of an object', () => {
    assert.deepEqual(heldVersionsOf(written), {versions: 1, live: 1})
    assert.deepEqual(heldVersionsOf(deleted), {versions: 1, live: 0})
    assert.deepEqual(heldVersionsOf(concurrent), {versions: 2, live: 2})
  })

  it('leaves the counts out only for one live version after a write that is no delete', () => {
    assert.equal(heldGoesUnsaid({versions: 1, live: 1}, written), true)
    // Under last-writer-wins a newer write can leave one live version after a delete: said.
    assert.equal(heldGoesUnsaid({versions: 1, live: 1}, deleted), false)
    assert.equal(heldGoesUnsaid({versions: 1, live: 0}, deleted), false)
    assert.equal(heldGoesUnsaid({versions: 2, live: 2}, written), false)
  })

  it('reads an answer without counts (an older replica, or the usual one) as saying nothing, not as one live version', () => {
    assert.equal(replicaPutAnswerHeld({durable: true}), undefined)
    assert.equal(replicaPutAnswerHeld(null), undefined)
    assert.deepEqual(replicaPutAnswerHeld({durable: false, versions: 2, liveVersions: 1}), {versions: 2, live: 1})
  })

  it('checks the counts a peer sends: a malformed one is taken as one, and no more live versions than versions', () => {
    assert.deepEqual(replicaPutAnswerHeld({durable: true, versions: -3, liveVersions: 'x'}), {versions: 1, live: 1})
    assert.deepEqual(replicaPutAnswerHeld({durable: true, versions: 2, liveVersions: 9}), {versions: 2, live: 2})
    assert.deepEqual(replicaPutAnswerHeld({durable: true, versions: 1e12, liveVersions: 0}), {versions: 1, live: 0})
  })
})
