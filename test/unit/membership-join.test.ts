/**
 * Tests of a node's join through its seeds (src/membership/membership.ts, `Membership.join`), on
 * a transport stub that answers as a seed would: what the error says when a seed is a client API
 * port rather than an internode one.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {DynError} from '../../src/errors.js'
import type {Member} from '../../src/membership/member-table.js'
import {Membership, notInternodeSeed} from '../../src/membership/membership.js'
import {notInternodeCode} from '../../src/transport/rpc-common.js'
import type {RpcResult, Transport} from '../../src/transport/transport.js'

/** A transport whose every request to `address` gets `answer(address)`; the addresses asked, in order. */
function stubTransport(answer: (address: string) => RpcResult): Transport & {asked: string[]} {
  const asked: string[] = []
  return {
    asked,
    address: '127.0.0.1:9999',
    request: async (address) => {
      asked.push(address)
      return answer(address)
    },
    peerState: () => 'unknown',
    close: async () => undefined,
  }
}

function joiner(port: number, rpcPort: number): Member {
  return {name: 'n5', apiAddress: `127.0.0.1:${port}`, rpcAddress: `127.0.0.1:${rpcPort}`, status: 'joining', incarnation: 1}
}

async function joinError(transport: Transport, seeds: readonly string[], self: Member, attemptsMax = 3): Promise<DynError> {
  const waits: number[] = []
  const failed = await Membership.join(transport, seeds, self, {}, attemptsMax, async (ms) => void waits.push(ms)).then(
    () => assert.fail('the join succeeded'),
    (error: unknown) => error,
  )
  assert.ok(failed instanceof DynError, String(failed))
  return failed
}

const httpAnswer = (address: string): RpcResult => ({ok: false, error: 'unreachable', code: notInternodeCode, message: `${address} answered in HTTP: it is a client API port (dyn start --port), not an internode port (--rpc-port)`, sent: false})

describe('membership: a seed that is a client API port', () => {
  it('is refused at once, naming the internode port of the layout this node was started with', async () => {
    // dyn cluster up --port 47070 --rpc-port 47170, and a node started beside it the same way.
    const transport = stubTransport(httpAnswer)
    const error = await joinError(transport, ['127.0.0.1:47070'], joiner(47080, 47180))
    assert.deepEqual(transport.asked, ['127.0.0.1:47070'], 'no second try: the address is wrong')
    assert.equal(error.code, 'bad_parameter')
    assert.match(error.message, /^the seed 127\.0\.0\.1:47070 answered in HTTP: it is a client API port/)
    assert.match(error.message, /give --seeds the seed's internode address, host:rpc-port: 127\.0\.0\.1:47170 if its ports are laid out as this node's \(--rpc-port = --port \+ 100\), or 127\.0\.0\.1:48070 for a node started without --rpc-port/)
    assert.deepEqual(error.details, {seed: '127.0.0.1:47070', suggestedSeed: '127.0.0.1:47170'})
  })

  it('names the default layout when this node has it, and any offset this node has, below its port too', () => {
    const byDefault = notInternodeSeed('127.0.0.1:7070', 'x', joiner(7073, 8073))
    assert.match(byDefault.message, /host:rpc-port \(by default its --port \+ 1000: 127\.0\.0\.1:8070\)$/)
    assert.equal(byDefault.details.suggestedSeed, '127.0.0.1:8070')
    const below = notInternodeSeed('[::1]:9070', 'x', {apiAddress: '[::1]:9073', rpcAddress: '[::1]:8073'}, 'dyn cluster join')
    assert.match(below.message, /give dyn cluster join the seed's internode address, host:rpc-port: \[::1\]:8070 if its ports are laid out as this node's \(--rpc-port = --port - 1000\), or \[::1\]:10070/)
    // No port to name past 65535: the rule alone.
    const high = notInternodeSeed('127.0.0.1:65000', 'x', joiner(7070, 8070))
    assert.match(high.message, /host:rpc-port$/)
    assert.deepEqual(high.details, {seed: '127.0.0.1:65000'})
  })
})
