/**
 * Tests of dyn start's addresses (src/cli/node-addresses.ts): --listen, --advertise and --host
 * resolve to what the node binds and what it advertises, 127.0.0.1 for both by default; an
 * unspecified address is never advertised, and every refusal is a bad_parameter that says what
 * to give instead.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {internodePort, nodeAddresses} from '../../src/cli/node-addresses.js'
import type {AddressFlags} from '../../src/cli/node-addresses.js'

const machine = ['127.0.0.1', '10.0.0.12']

describe('dyn start addresses', () => {
  it('resolve to what the node listens on and what it advertises', () => {
    const cases: Array<[AddressFlags, string, string]> = [
      [{}, '127.0.0.1', '127.0.0.1'],
      [{host: '10.0.0.12'}, '10.0.0.12', '10.0.0.12'],
      [{listen: '10.0.0.12'}, '10.0.0.12', '10.0.0.12'],
      [{listen: '0.0.0.0', advertise: '10.0.0.12'}, '0.0.0.0', '10.0.0.12'],
      [{listen: '::', advertise: 'db-2.example.com'}, '::', 'db-2.example.com'],
      [{listen: '[::]', advertise: '[fd00::2]'}, '::', 'fd00::2'],
      [{advertise: '203.0.113.7'}, '127.0.0.1', '203.0.113.7'],
      [{host: 'localhost'}, 'localhost', 'localhost'],
    ]
    for (const [flags, listen, advertise] of cases) assert.deepEqual(nodeAddresses(flags, machine), {ok: true, listen, advertise}, JSON.stringify(flags))
  })

  it('refuse advertising an unspecified address, each way it can be asked for, naming the flag and the way out', () => {
    const cases: Array<[AddressFlags, RegExp]> = [
      [{host: '0.0.0.0'}, /^--host 0\.0\.0\.0 would be advertised, .*give --listen 0\.0\.0\.0 --advertise ADDRESS.*\(this machine's: 127\.0\.0\.1, 10\.0\.0\.12\)$/],
      [{host: '::'}, /^--host :: would be advertised/],
      [{advertise: '0.0.0.0'}, /^--advertise 0\.0\.0\.0: no peer or client can connect to an unspecified address/],
      [{listen: '0.0.0.0', advertise: '[::]'}, /^--advertise \[::\]: no peer/],
      [{listen: '0.0.0.0'}, /^--listen 0\.0\.0\.0 listens on every interface, .*add --advertise ADDRESS/],
    ]
    for (const [flags, message] of cases) {
      const outcome = nodeAddresses(flags, machine)
      assert.equal(outcome.ok ? 'ok' : outcome.error, 'bad_parameter', JSON.stringify(flags))
      assert.match(outcome.ok ? '' : outcome.message, message)
    }
  })

  it('refuse --host beside --listen or --advertise, and what is no address', () => {
    const cases: Array<[AddressFlags, RegExp]> = [
      [{host: '10.0.0.12', listen: '0.0.0.0'}, /^--host sets both --listen and --advertise, so it cannot go with --listen/],
      [{host: '10.0.0.12', advertise: '10.0.0.12'}, /^--host sets both .* cannot go with --advertise/],
      [{listen: 'a b'}, /^--listen "a b" is not an IP address or a host name/],
      [{advertise: '10.0.0.12:7070'}, /^--advertise "10\.0\.0\.12:7070" is not an IP address or a host name/],
      [{host: 'http://x'}, /^--host "http:\/\/x"/],
    ]
    for (const [flags, message] of cases) {
      const outcome = nodeAddresses(flags, machine)
      assert.equal(outcome.ok ? 'ok' : outcome.error, 'bad_parameter', JSON.stringify(flags))
      assert.match(outcome.ok ? '' : outcome.message, message)
    }
  })
})

describe('dyn start internode port', () => {
  it('is --rpc-port when given, else --port + 1000', () => {
    assert.deepEqual(internodePort(7070, undefined), {ok: true, rpcPort: 8070})
    assert.deepEqual(internodePort(7070, 9000), {ok: true, rpcPort: 9000})
    assert.deepEqual(internodePort(64535, undefined), {ok: true, rpcPort: 65535})
    assert.deepEqual(internodePort(65000, 0), {ok: true, rpcPort: 0})
  })

  it('is picked by the OS with --port 0, as the client port is (not the fixed port 1000)', () => {
    assert.deepEqual(internodePort(0, undefined), {ok: true, rpcPort: 0})
  })

  it('refuses a default past 65535, naming --port and both ways out', () => {
    const refused = internodePort(64600, undefined)
    assert.equal(refused.ok, false)
    assert.ok(!refused.ok && refused.error === 'bad_parameter')
    assert.ok(!refused.ok && /^--port 64600: the internode port defaults to --port \+ 1000, 65600, past 65535; give --rpc-port PORT, or a --port of at most 64535$/.test(refused.message), refused.ok ? '' : refused.message)
  })
})
