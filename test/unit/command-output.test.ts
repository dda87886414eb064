/**
 * The text form of a failure (src/cli/command-output.ts): what `fail` writes on stderr without
 * --json is read back from a node's log by `dyn cluster up`, so the two stay one format.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {failureLine, internalFailureText, parseFailureLine} from '../../src/cli/command-output.js'
import {exitCodeOf} from '../../src/cli/exit-codes.js'
import {dashArgumentHint, usageMessage} from '../../src/cli/command-base.js'

describe('command output: the failure line', () => {
  it('reads back the code and message it wrote', () => {
    const message = 'the data folder of n3 is a copy of an older disk: it has answered 0 reap check(s) [sic], and n1 heard of 2.'
    assert.equal(failureLine(message, 'old_disk'), `dyn: ${message} [old_disk]`)
    assert.deepEqual(parseFailureLine(failureLine(message, 'old_disk')), {code: 'old_disk', message})
  })

  it('takes no other line for one', () => {
    for (const line of ['2026-12-05T00:59:21.406Z n3 restarting with the stored member table (3 member(s))', '2026-12-05T00:59:21.406Z n3 dyn: something [old_disk]', 'dyn: no code here', 'dyn:  [old_disk]', '']) {
      assert.equal(parseFailureLine(line), undefined, line)
    }
  })
})

describe('command output: oclif usage errors in one line', () => {
  it('says a flag of the wrong value as the flag, then what is wrong with it', () => {
    assert.equal(usageMessage('Parsing --r \n\tExpected an integer but received: abc\nSee more help with --help'), '--r: expected an integer but received: abc')
  })

  it('says how to give a key that starts with a dash, after an unknown flag that may be one', () => {
    // A walk typed dyn get -dash and was told only that the flag does not exist.
    assert.equal(dashArgumentHint('Nonexistent flag: -dash\nSee more help with --help', 'dyn get'), '; if -dash is a key or value, not a flag, put the arguments after --, as in: dyn get [flags] -- -dash')
    assert.equal(dashArgumentHint('Nonexistent flags: -nope, --other', 'dyn put'), '; if -nope is a key or value, not a flag, put the arguments after --, as in: dyn put [flags] -- -nope')
    // A mistyped long flag is said as it was.
    assert.equal(dashArgumentHint('Nonexistent flag: --bogus', 'dyn get'), '')
    assert.equal(dashArgumentHint('Parsing --r \n\tExpected an integer', 'dyn get'), '')
  })

  it('joins several errors with "; ", without their heading', () => {
    const oclif = 'The following errors occurred:\n  --merge=json-union cannot also be provided when using --pick\n  --pick=2 cannot also be provided when using --merge\nSee more help with --help'
    assert.equal(usageMessage(oclif), '--merge=json-union cannot also be provided when using --pick; --pick=2 cannot also be provided when using --merge')
  })

  it('keeps any other message as it is, uncoloured, on one line', () => {
    assert.equal(usageMessage('\u001b[31mNonexistent flag: --bogus\u001b[39m\nSee more help with --help'), 'Nonexistent flag: --bogus')
    assert.equal(usageMessage('Unexpected argument: extra'), 'Unexpected argument: extra')
  })
})

describe('command output: a bug, in text', () => {
  it('is one line with the code internal (exit 3 as with --json), the stack only with DEBUG', () => {
    const error = new TypeError('Invalid character in header content ["x-dyn-context"]')
    assert.equal(internalFailureText(error, false), 'dyn: Invalid character in header content ["x-dyn-context"] [internal]\n')
    const debug = internalFailureText(error, true)
    assert.match(debug, /^dyn: Invalid character in header content \["x-dyn-context"\] \[internal\]\nTypeError: Invalid character/)
    assert.equal(internalFailureText('a thrown string', false), 'dyn: a thrown string [internal]\n')
    assert.equal(exitCodeOf('internal'), 3)
  })
})
