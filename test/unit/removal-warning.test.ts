/**
 * What `dyn cluster remove` warns of a removal it staged (src/cli/removal-warning.ts): a node the
 * node asked still sees up or suspect is said plainly, with what to do either way; one seen down
 * is removed without a word.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {removalWarning} from '../../src/cli/removal-warning.js'

describe('dyn cluster remove: the warning', () => {
  it('says what the node asked sees, and how to undo the removal of a node that runs', () => {
    const up = removalWarning('n2', {asked: 'n1', reachability: 'up'})
    assert.match(up ?? '', /^the removal of n2 is staged, but n1 still sees n2 up \(it answers its heartbeats\): remove is for a node that is gone for good; if n2 is in fact running, drop the removal with dyn cluster clear and use dyn cluster leave --name n2, which hands its data off first/)
    const suspect = removalWarning('n2', {asked: 'n1', reachability: 'suspect'})
    assert.match(suspect ?? '', /^the removal of n2 is staged while n1 is still deciding whether n2 is down .*if you stopped n2 for good, carry on with dyn cluster commit; if n2 is in fact running, drop the removal with dyn cluster clear/)
  })

  it('says plainly that the node asked, staged for removal itself, is running', () => {
    const self = removalWarning('n1', {asked: 'n1', reachability: 'up'})
    assert.match(self ?? '', /^the removal of n1 is staged, but n1 is the node that answered this command, so it is running: remove is for a node that is gone for good; drop the removal with dyn cluster clear and use dyn cluster leave --name n1/)
    assert.doesNotMatch(self ?? '', /n1 still sees n1/)
  })

  it('tells a leaving node, which needs no leave, to be let finish if it runs', () => {
    const leaving = removalWarning('n5', {asked: 'n1', reachability: 'up', status: 'leaving'})
    assert.match(leaving ?? '', /^the removal of n5 is staged, but n1 still sees n5 up .*if n5 is in fact running, drop the removal with dyn cluster clear: it finishes its leave by itself, handing its data off/)
    assert.doesNotMatch(leaving ?? '', /dyn cluster leave/)
  })

  it('says nothing of a node seen down', () => {
    assert.equal(removalWarning('n2', {asked: 'n1', reachability: 'down'}), undefined)
    assert.equal(removalWarning('n2', {asked: 'n1', reachability: 'down'}, true), undefined)
  })

  it('speaks of no staged removal, nor of clearing it, when the removal was done at once', () => {
    const atOnce = removalWarning('n4', {asked: 'n2', reachability: 'suspect', status: 'left'}, true)
    assert.match(atOnce ?? '', /^n4 was removed at once, with no commit \(see the note\), but n2 is still deciding whether n4 is down .*if n4 is in fact running, it stops with error removed once it learns of its removal, handing nothing off; a removal done at once cannot be cleared$/)
    assert.doesNotMatch(atOnce ?? '', /staged|dyn cluster clear/)
    assert.match(removalWarning('n4', {asked: 'n4', reachability: 'up'}, true) ?? '', /^n4 was removed at once, with no commit \(see the note\), but n4 is the node that answered this command, so it is running/)
  })
})
