/**
 * Tests of the start-up fast path's command-line reading (src/cli/fast-argv.ts) against oclif's
 * own parser on the real definitions of dyn get, put and delete: every line the fast path takes,
 * oclif reads the same (args and flags alike), and every line oclif refuses, the fast path leaves
 * to oclif. Also the
 * build-time table (fast-spec.ts), which refuses what the fast path cannot read as oclif does, and
 * runFast's choice to leave help, topics and other commands to oclif.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import * as Parser from '@oclif/core/parser'
import fc from 'fast-check'
import Delete from '../../commands/delete.js'
import Get from '../../commands/get.js'
import Put from '../../commands/put.js'
import {parseFast} from '../../src/cli/fast-argv.js'
import type {FastCommand} from '../../src/cli/fast-argv.js'
import {runFast} from '../../src/cli/fast-path.js'
import {fastCommandOf, fastTable} from '../../src/cli/fast-spec.js'
import type {CommandDefinition} from '../../src/cli/fast-spec.js'

/** The commands with a fast path, as oclif classes. */
const commands = {get: Get, put: Put, delete: Delete} as const

const fastCommands = Object.fromEntries(Object.entries(commands).map(([id, command]) => [id, fastCommandOf({...command, id} as unknown as CommandDefinition)]))
const getCommand = fastCommands.get as NonNullable<(typeof fastCommands)['get']>

/** oclif's reading of a line: args and flags without the unset ones, or 'refused'. */
async function oclifReads(argv: readonly string[], command: {flags: object; args: object} = Get): Promise<{args: Record<string, unknown>; flags: Record<string, unknown>} | 'refused'> {
  try {
    const input = {flags: command.flags, args: command.args, strict: true, context: undefined} as Parameters<typeof Parser.parse>[1]
    const parsed = await Parser.parse([...argv], input)
    return {args: defined(parsed.args), flags: defined(parsed.flags)}
  } catch {
    return 'refused'
  }
}

function defined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined))
}

/** Tokens a user might type after `dyn get`, `put` or `delete`, the odd ones included. */
const tokens = [
  '-w', '--w=2', '--dw', '--pw', '--context', '--context=AQIL', '--content-type', '--content-type=image/png', '{"a":1}',
  'cart:alice', 'a b', '-', '--', '-1', '0', '1', '2', '007', '1e3', ' 3', '', 'abc', '127.0.0.1:7070', 'x=y',
  '--node', '--node=127.0.0.1:7071', '--node=', '-n', '--n', '-r', '--r', '--r=2', '--r=-1', '-r1', '-r=2', '--pr', '--pr=0',
  '--explain', '--explain=true', '--no-explain', '--json', '--json=false', '--output', '-o', '--output=f.bin', '--timeout', '--timeout=5',
  '--help', '-h', '--version', '--bogus', '-x', '-rn', '--nod',
]

describe('parseFast, held to oclif on dyn get, put and delete', () => {
  for (const [id, command] of Object.entries(commands)) {
    it(`reads every ${id} line it takes as oclif does, and takes none that oclif refuses`, async () => {
      const fastCommand = fastCommands[id] as FastCommand
      await fc.assert(
        fc.asyncProperty(fc.array(fc.constantFrom(...tokens), {maxLength: 7}), async (argv) => {
          const fast = parseFast(argv, fastCommand)
          if (fast === undefined) return
          const oclif = await oclifReads(argv, command)
          assert.notEqual(oclif, 'refused', `oclif refuses ${JSON.stringify(argv)}, the fast path took it`)
          assert.deepEqual({args: defined({...fast.args}), flags: defined({...fast.flags})}, oclif, JSON.stringify(argv))
        }),
        {numRuns: 3000},
      )
    })
  }

  it('takes the lines users type', async () => {
    const lines = [
      ['cart:alice'],
      ['cart:alice', '--json'],
      ['cart:alice', '-r', '1', '--node', '127.0.0.1:7071'],
      ['--node', '127.0.0.1:7070', 'cart:alice', '--node', 'http://127.0.0.1:7071'],
      ['cart:alice', '-r', '2', '--pr', '2', '--explain'],
      ['photo:1', '--output', 'photo.jpg'],
      ['photo:1', '-o', 'photo.jpg', '--timeout=500', '-n', '3'],
      ['-'],
    ]
    for (const argv of lines) {
      const fast = parseFast(argv, getCommand)
      assert.ok(fast !== undefined, JSON.stringify(argv))
      assert.deepEqual({args: defined({...fast.args}), flags: defined({...fast.flags})}, await oclifReads(argv), JSON.stringify(argv))
    }
    const putLines = [['cart:alice', '{"items":["book"]}'], ['photo:1', '-w', '3', '--pw', '3'], ['cart:bob', 'book,pen', '--context', 'AQILbjEuZDY1YzVmNmMBC24yLmY2YWQzYjM0AajAeK4'], ['photo:1', '--content-type', 'image/jpeg', '--json']]
    for (const argv of putLines) {
      const fast = parseFast(argv, fastCommands.put as FastCommand)
      assert.ok(fast !== undefined, JSON.stringify(argv))
      assert.deepEqual({args: defined({...fast.args}), flags: defined({...fast.flags})}, await oclifReads(argv, Put), JSON.stringify(argv))
    }
  })

  it('leaves mistakes and everything outside its subset to oclif', () => {
    const lines = [[], ['a', 'b'], ['k', '--bogus'], ['k', '-r', '0'], ['k', '-r', '65'], ['k', '-r', '99999999999999999999'], ['k', '-r', 'x'], ['k', '-r'], ['k', '-r1'], ['k', '--json', '--json'], ['k', '-r', '1', '-r', '2'], ['--', '-k'], ['k', '--help'], ['k', '--output', '-'], ['k', '--no-json']]
    for (const argv of lines) assert.equal(parseFast(argv, getCommand), undefined, JSON.stringify(argv))
  })
})

describe('fastCommandOf and fastTable (the build-time table)', () => {
  const command = (flags: CommandDefinition['flags'], args: CommandDefinition['args'] = {key: Args.string({required: true})}): CommandDefinition => ({id: 'x', flags, args})

  it("derives dyn get's flags from its oclif definitions", () => {
    assert.deepEqual(getCommand.args, [{name: 'key', required: true}])
    assert.deepEqual(fastCommands.put?.args, [{name: 'key', required: true}, {name: 'value', required: false}])
    assert.deepEqual(getCommand.flags.node, {kind: 'string', multiple: true})
    assert.deepEqual(getCommand.flags.r, {kind: 'integer', char: 'r', min: 1, max: 64})
    assert.deepEqual(getCommand.flags.timeout, {kind: 'integer', default: 10_000, min: 1, max: 2_147_483_647})
    assert.deepEqual(getCommand.flags.json, {kind: 'boolean', default: false})
  })

  it('refuses, with the reason, what it cannot read as oclif does', () => {
    const refusals: Array<[CommandDefinition, RegExp]> = [
      [command({a: Flags.string({env: 'X'})}), /flag --a has env/],
      [command({a: Flags.string({parse: async (input) => input.toUpperCase()})}), /flag --a has its own parse/],
      [command({a: Flags.string({multiple: true})}), /several values after one --a/],
      [command({a: Flags.boolean({allowNo: true})}), /--no-a/],
      [command({a: Flags.string({dependsOn: ['b']}), b: Flags.string()}), /flag --a has dependsOn/],
      [command({a: Flags.string({default: async () => 'x'})}), /computed default/],
      [command({a: Flags.url()}), /flag --a has its own parse/],
      [command({}, {key: Args.string()}), /argument key is optional and read from stdin when absent/],
      [command({}, {key: Args.string({ignoreStdin: true}), value: Args.string({required: true})}), /argument value is required after an optional one/],
      [{...command({}), id: 'cluster:up'}, /in a topic/],
      [{...command({}), strict: false}, /not strict/],
    ]
    for (const [definition, reason] of refusals) assert.throws(() => fastCommandOf(definition), reason)
  })

  it('is empty when a plugin registers a hook that runs around commands, which only oclif runs', () => {
    const get = {...Get, id: 'get'} as unknown as CommandDefinition
    assert.deepEqual(Object.keys(fastTable([get], new Map([['dyn', ['command_not_found']]])).commands), ['get'])
    for (const hook of ['init', 'prerun', 'postrun', 'finally', 'preparse']) {
      const table = fastTable([get], new Map([['dyn', ['command_not_found']], ['@oclif/plugin-help', [hook]]]))
      assert.deepEqual(table.commands, {})
      assert.match(table.disabled ?? '', new RegExp(`@oclif/plugin-help registers the ${hook} hook`))
    }
  })
})

describe('runFast', () => {
  it('leaves help, topics, other commands, lines outside the subset and oclif debugging to oclif, doing nothing', async () => {
    const lines = [[], ['--help'], ['--version'], ['help', 'get'], ['get', '--help'], ['get', 'k', '--help'], ['get'], ['gte', 'k'], ['put', 'k', 'v', 'w'], ['delete'], ['ring', 'k'], ['cluster', 'status'], ['get', 'k', '--bogus']]
    for (const argv of lines) assert.equal(await runFast(argv, {}), false, JSON.stringify(argv))
    assert.equal(await runFast(['get', 'k'], {DEBUG: '*'}), false)
    assert.equal(await runFast(['get', 'k'], {DYN_DEBUG: '1'}), false)
  })
})
