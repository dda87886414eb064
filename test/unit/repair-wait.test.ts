/**
 * `dyn repair --wait` between rounds (src/cli/repair-wait.ts): a round that repaired nothing while
 * a home was down is said once, with what to do, rather than repeated silently until
 * --max-wait-seconds; and the command's flags refuse --max-wait-seconds without --wait.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import * as Parser from '@oclif/core/parser'
import Repair from '../../commands/repair.js'
import {refusingNotice, roundIsClean, stalledNotice, timeoutReason} from '../../src/cli/repair-wait.js'

const stuck = {node: 'n1', trees: 128, treesInSync: 86, treesSkipped: 42, peersDown: ['n3'], keysRepairedHere: 0, keysRepairedThere: 0, unfinished: true}

describe('repair --wait notices', () => {
  it('says once, after a round that repaired nothing with a home down, that repair cannot finish until it is back or removed', () => {
    const first = stalledNotice(stuck, 1, undefined, 600)
    assert.equal(
      first?.text,
      'round 1 repaired nothing and n3 is down, so the trees n1 shares with it cannot be compared: repair cannot finish until it is back (start it again) or removed for good (dyn cluster remove n3, then dyn cluster commit); waiting for that, rounds every second, for at most 600 s in all (--max-wait-seconds), then exit 3',
    )
    // The same homes down, the next rounds: nothing more to say.
    assert.equal(stalledNotice(stuck, 2, first?.key, 600), undefined)
    // Another home down too: said again, for both.
    const both = stalledNotice({...stuck, peersDown: ['n4', 'n3']}, 3, first?.key, 600)
    assert.match(both?.text ?? '', /^round 3 repaired nothing and n3, n4 are down, so the trees n1 shares with them cannot be compared: repair cannot finish until they are back \(start them again\)/)
    assert.match(both?.text ?? '', /or removed for good \(dyn cluster remove n3; dyn cluster remove n4, then dyn cluster commit\)/)
  })

  it('says nothing while rounds repair keys, or with every home up', () => {
    assert.equal(stalledNotice({...stuck, keysRepairedHere: 12}, 1, undefined, 600), undefined)
    assert.equal(stalledNotice({...stuck, peersDown: []}, 1, undefined, 600), undefined)
    assert.equal(stalledNotice({node: 'n1', unfinished: true}, 1, undefined, 600), undefined)
  })

  it('ends on a round with nothing repaired and nothing left, and says why it gave up', () => {
    assert.equal(roundIsClean({...stuck, unfinished: false}), true)
    assert.equal(roundIsClean(stuck), false)
    assert.equal(roundIsClean({unfinished: false, keysRepairedThere: 1}), false)
    assert.equal(timeoutReason(stuck, 600), 'after 600 round(s) n3 is down, so the trees shared with it could not be compared; start it again (or dyn cluster remove a node that is gone for good); then run dyn repair --wait again')
  })
})

describe('repair --wait on a node whose peer refuses repairs', () => {
  const refused = {node: 'n1', trees: 128, treesInSync: 127, treesSkipped: 0, peersDown: [], refusedBy: [{node: 'n3', error: 'storage_failed'}], keysRepairedHere: 0, keysRepairedThere: 0, unfinished: true}

  it('names the node that refuses, its code and what to do, once for each set of refusals', () => {
    const first = refusingNotice(refused, 1, undefined, 600)
    assert.equal(
      first?.text,
      "round 1: n3 (storage_failed) refused what the repair sent, so no round can end in sync until that is fixed (n3's store takes no writes (a full or failing disk): free space or replace the disk, then restart n3); waiting for that, rounds every second, for at most 600 s in all (--max-wait-seconds), then exit 3",
    )
    assert.equal(refusingNotice(refused, 2, first?.key, 600), undefined)
    // One key too large for a node: named, with how to reconcile it.
    const two = refusingNotice({...refused, refusedBy: [{node: 'n4', error: 'object_too_large', key: 'cart 7'}, {node: 'n3', error: 'storage_failed'}]}, 3, first?.key, 600)
    assert.match(two?.text ?? '', /^round 3: n3 \(storage_failed\), n4 \(object_too_large, key 'cart 7'\) refused what the repair sent, .*; the versions of 'cart 7' on its homes together pass the object size limit, so n4 cannot take them: reconcile them \(dyn resolve 'cart 7', or read it/)
    assert.equal(refusingNotice({...refused, refusedBy: []}, 1, undefined, 600), undefined)
    assert.equal(refusingNotice({node: 'n1'}, 1, undefined, 600), undefined)
  })

  it('says in its timeout why, with a home down as well', () => {
    assert.equal(
      timeoutReason(refused, 600),
      "after 600 round(s) n3 (storage_failed) refused what the repair sent: n3's store takes no writes (a full or failing disk): free space or replace the disk, then restart n3; then run dyn repair --wait again",
    )
    assert.match(timeoutReason({...refused, peersDown: ['n2']}, 5), /^after 5 round\(s\) n2 is down, so the trees shared with it could not be compared; start it again \(or dyn cluster remove a node that is gone for good\); and n3 \(storage_failed\) refused/)
  })
})

describe('dyn repair flags', () => {
  const parse = (argv: string[]) => Parser.parse(argv, {flags: Repair.flags, args: Repair.args, strict: true, context: undefined} as Parameters<typeof Parser.parse>[1])

  it('refuses --max-wait-seconds without --wait, as a flag that needs another', async () => {
    await assert.rejects(parse(['--max-wait-seconds', '30']), /--max-wait-seconds.*--wait|--wait.*--max-wait-seconds/)
    const waited = await parse(['--wait', '--max-wait-seconds', '30'])
    assert.equal(waited.flags['max-wait-seconds'], 30)
    // Neither given: one round, as before.
    const once = await parse([])
    assert.equal(once.flags.wait, undefined)
  })
})
