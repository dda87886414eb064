import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import type {Command, Interfaces} from '@oclif/core'
import {helpJson, helpSubject} from '../../src/cli/help-json.js'
import type {HelpSource} from '../../src/cli/help-json.js'

function command(id: string, overrides: Partial<Command.Loadable> = {}): Command.Loadable {
  return {
    id,
    aliases: [],
    summary: `the ${id} command`,
    args: {key: {name: 'key', description: 'the key', required: true}},
    flags: {
      json: {name: 'json', type: 'boolean', description: 'print JSON', allowNo: false, default: false},
      node: {name: 'node', type: 'option', description: 'the node', multiple: true},
      secret: {name: 'secret', type: 'boolean', description: 'hidden', hidden: true, allowNo: false},
    },
    examples: [{description: 'an example', command: '<%= config.bin %> ' + id.replace(':', ' ')}],
    load: async () => {
      throw new Error('not loaded in a unit test')
    },
    ...overrides,
  } as unknown as Command.Loadable
}

const source: HelpSource = {
  bin: 'dyn',
  version: '0.1.0',
  topicSeparator: ' ',
  commands: [command('get'), command('cluster:up'), command('cluster:down'), command('debug', {hidden: true})],
  // oclif lists commands among its topics too.
  topics: [{name: 'cluster', description: 'the local cluster'}, {name: 'get', description: 'the get command'}],
}

describe('helpJson', () => {
  it('lists every visible command with its summary, arguments and visible flags, and the topics that have commands', () => {
    const all = helpJson(source, undefined) as {ok: true; topics: Array<{topic: string}>; commands: Array<{command: string; summary: string; args: unknown[]; flags: Array<{name: string; type: string; multiple: boolean}>}>}
    assert.equal(all.ok, true)
    assert.deepEqual(all.topics.map((topic) => topic.topic), ['cluster'])
    assert.deepEqual(all.commands.map((c) => c.command), ['cluster down', 'cluster up', 'get'])
    const get = all.commands[2]
    assert.equal(get?.summary, 'the get command')
    assert.deepEqual(get?.args, [{name: 'key', description: 'the key', required: true}])
    assert.deepEqual(get?.flags.map((flag) => [flag.name, flag.type, flag.multiple]), [['json', 'boolean', false], ['node', 'option', true]])
  })

  it('one command has its examples with the bin filled in; a topic lists its commands; anything else is unknown_command', () => {
    const one = helpJson(source, 'cluster:up') as {ok: true; command: string; examples: Array<{command: string}>}
    assert.equal(one.command, 'cluster up')
    assert.deepEqual(one.examples.map((example) => example.command), ['dyn cluster up'])
    const topic = helpJson(source, 'cluster') as {ok: true; topic: string; commands: Array<{command: string}>}
    assert.deepEqual(topic.commands.map((c) => c.command), ['cluster down', 'cluster up'])
    const unknown = helpJson(source, 'nope')
    assert.equal(unknown.ok, false)
    assert.equal(!unknown.ok && unknown.error, 'unknown_command')
    assert.equal(helpJson(source, 'debug').ok, false, 'a hidden command is not described')
  })
})

describe('helpSubject', () => {
  // What helpSubject reads of oclif's config: no help flags beyond --help, and ids as typed with
  // ':' (with dyn's ' ' oclif first joins the words into an id, which needs its command list).
  const config = {pjson: {oclif: {}}, topicSeparator: ':'} as unknown as Interfaces.Config

  it('is what a command line names, the word help before it passed over', () => {
    assert.equal(helpSubject(['get', '--help'], config), 'get')
    assert.equal(helpSubject(['help', 'cluster:up', '--help'], config), 'cluster:up')
    assert.equal(helpSubject(['--help'], config), undefined)
    assert.equal(helpSubject(['--help', '--json'], config), undefined)
  })

  it('is the help command when a line names nothing else, as dyn help --help asks', () => {
    assert.equal(helpSubject(['help', '--help'], config), 'help')
    assert.equal(helpSubject(['help', '--help', '--json'], config), 'help')
    assert.equal(helpSubject(['help', 'help', '--help'], config), 'help')
  })

  it('reads the help command\'s own arguments as all subject', () => {
    assert.equal(helpSubject([], config, {helpCommand: true}), undefined)
    assert.equal(helpSubject(['help'], config, {helpCommand: true}), 'help')
    assert.equal(helpSubject(['get', '--json'], config, {helpCommand: true}), 'get')
  })
})
