/**
 * What the CLI says of a real command given a word too many (src/cli/extra-arguments.ts): that
 * command, that it takes no such argument and what it takes; never a guess by spelling at another
 * command (`dyn cluster leave n8` was answered "did you mean cluster remove?", a removal giving up
 * what only that node holds).
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {commandBeforeExtras, extraArgumentsMessage} from '../../src/cli/extra-arguments.js'
import {nearestCommand} from '../../src/cli/command-not-found.js'

const commands = ['bench', 'cluster commit', 'cluster join', 'cluster leave', 'cluster remove', 'cluster status', 'cluster up', 'get', 'put', 'repair', 'top', 'verify']
const leave = {words: 'cluster leave', args: [], flags: ['node', 'json', 'name']}

describe('commandBeforeExtras', () => {
  it('finds the real command whose words the line starts with, and the words left over', () => {
    assert.deepEqual(commandBeforeExtras(['cluster', 'leave', 'n8'], commands), {command: 'cluster leave', extras: ['n8']})
    assert.deepEqual(commandBeforeExtras(['cluster', 'commit', 'extra'], commands), {command: 'cluster commit', extras: ['extra']})
    assert.deepEqual(commandBeforeExtras(['top', 'extra', 'more'], commands), {command: 'top', extras: ['extra', 'more']})
  })

  it('finds none for a typo or a topic without a command, which the nearest command answers', () => {
    assert.equal(commandBeforeExtras(['cluster', 'laeve', 'n8'], commands), undefined)
    assert.equal(commandBeforeExtras(['cluster', 'nosuch'], commands), undefined)
    assert.equal(commandBeforeExtras(['top'], commands), undefined)
    // The guess this replaces, for the record: by spelling alone, leave n8 is near remove.
    assert.equal(nearestCommand(['cluster', 'leave', 'n8'], commands), 'cluster remove')
  })
})

describe('extraArgumentsMessage', () => {
  it('moves a name given as an argument to --name, keeping the flags typed after it', () => {
    const message = extraArgumentsMessage('dyn', leave, ['n8'], ['--node', '127.0.0.1:7071', '--json'])
    assert.equal(message, 'dyn cluster leave takes no arguments, only flags, and was given "n8"; to name the node, use: dyn cluster leave --name n8 --node 127.0.0.1:7071 --json (dyn cluster leave --help lists the flags)')
    assert.doesNotMatch(message, /remove/)
  })

  it('says a command without arguments takes only flags, and suggests no --name it does not have', () => {
    assert.equal(extraArgumentsMessage('dyn', {words: 'top', args: [], flags: ['node', 'json']}, ['extra']), 'dyn top takes no arguments, only flags, and was given "extra" (dyn top --help lists the flags)')
    assert.equal(extraArgumentsMessage('dyn', {words: 'cluster commit', args: [], flags: ['node']}, ['a', 'b']), 'dyn cluster commit takes no arguments, only flags, and was given "a", "b" (dyn cluster commit --help lists the flags)')
    // Not a name (a space in it): no --name suggested.
    assert.doesNotMatch(extraArgumentsMessage('dyn', leave, ['n 8']), /--name/)
  })

  it('says what a command with arguments takes', () => {
    const put = {words: 'put', args: [{name: 'key', required: true}, {name: 'value'}], flags: []}
    assert.equal(extraArgumentsMessage('dyn', put, ['extra']), 'dyn put takes at most 2 arguments, and "extra" is one more. Use: dyn put KEY [VALUE] [flags] (dyn put --help lists the flags)')
    const get = {words: 'get', args: [{name: 'key', required: true}], flags: []}
    assert.match(extraArgumentsMessage('dyn', get, ['b', 'c']), /^dyn get takes one argument, and "b", "c" are more\. Use: dyn get KEY \[flags\]/)
  })
})
