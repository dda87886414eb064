/**
 * What `dyn delete` says when its tombstone was written beside a live version its context did not
 * cover (src/cli/delete-run.ts, `notDeletedText`): not "deleted", but that the key still has live
 * siblings, how many, and the commands that show, delete or reconcile them, ready to paste.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {notDeletedText} from '../../src/cli/delete-run.js'

describe('dyn delete that leaves a live version', () => {
  it('says the key is not deleted, how many versions are live and how many siblings it has, and what to run', () => {
    assert.equal(
      notDeletedText('dk', 1, 2),
      "wrote a tombstone, but dk is not deleted: 1 live version that the delete's context did not cover (written after the read it came from) is left beside it\n" +
        'dk now has 2 siblings; to see them: dyn get dk; to delete it whatever it holds now: dyn delete dk (without --context it deletes what its own read finds); or reconcile them: dyn resolve dk\n',
    )
  })

  it('counts several live versions, and quotes a key for the shell', () => {
    const text = notDeletedText("bob's cart", 2, 4)
    assert.match(text, /^wrote a tombstone, but bob's cart is not deleted: 2 live versions that .* are left beside it\n/)
    assert.match(text, /\nbob's cart now has 4 siblings; to see them: dyn get 'bob'\\''s cart'; .*dyn resolve 'bob'\\''s cart'\n$/)
  })
})
