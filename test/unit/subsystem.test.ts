/**
 * The composition of a node's subsystems (src/subsystem.ts): one router over their handlers,
 * which refuses at assembly a message type two subsystems claim and answers a type nobody claims
 * with bad_request; the router a transport starts with, which answers overloaded until the
 * subsystems exist; and /stats fields merged in list order, never served twice.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {routerOf, StartingRouter, statsOf} from '../../src/subsystem.js'
import type {MessageHandler, Subsystem} from '../../src/subsystem.js'
import {MessageType} from '../../src/transport/message-type.js'

function subsystem(name: string, handlers: ReadonlyArray<[number, MessageHandler]>, fields: Record<string, unknown> = {}): Subsystem {
  return {name, handlers: new Map(handlers), periodicTasks: [], stats: () => fields, stop: async () => undefined}
}

describe('routerOf', () => {
  it('hands each request to the subsystem that claims its type, with its body and sender', async () => {
    const router = routerOf([
      subsystem('one', [[MessageType.Ping, (body, from) => ({pong: body, from})]]),
      subsystem('two', [[MessageType.Gossip, async () => 'gossiped']]),
    ])
    assert.deepEqual(await router(MessageType.Ping, {from: 'b'}, 'b'), {pong: {from: 'b'}, from: 'b'})
    assert.equal(await router(MessageType.Gossip, {}, 'b'), 'gossiped')
  })

  it('refuses a message type claimed by two subsystems, when the node is assembled', () => {
    const first = subsystem('membership', [[MessageType.Ping, () => 'one']])
    const second = subsystem('impostor', [[MessageType.Ping, () => 'two']])
    assert.throws(() => routerOf([first, second]), /message type 30 is claimed by both membership and impostor/)
  })

  it('answers a type nobody claims with bad_request, and a handler that throws with its own code', async () => {
    const router = routerOf([subsystem('one', [[MessageType.Ping, () => {
      throw Object.assign(new Error('no'), {code: 'bad_request'})
    }]])])
    await assert.rejects(router(MessageType.CoordinateGet, {}, 'b'), (error: {code?: string; message: string}) => error.code === 'bad_request' && /unknown message type 23/.test(error.message))
    await assert.rejects(router(250, {}, 'b'), {code: 'bad_request'})
    // A handler's synchronous throw still arrives as a rejection, as the transport expects.
    await assert.rejects(router(MessageType.Ping, {}, 'b'), {code: 'bad_request', message: 'no'})
  })
})

describe('StartingRouter', () => {
  it('answers overloaded until it is opened, then routes; it opens once', async () => {
    const starting = new StartingRouter('n1')
    await assert.rejects(starting.handle(MessageType.Ping, {}, 'b'), (error: {code?: string; message: string}) => error.code === 'overloaded' && error.message === 'n1 is still starting')
    starting.open(routerOf([subsystem('one', [[MessageType.Ping, () => 'pong']])]))
    assert.equal(await starting.handle(MessageType.Ping, {}, 'b'), 'pong')
    await assert.rejects(starting.handle(MessageType.Join, {}, 'b'), {code: 'bad_request'})
    assert.throws(() => starting.open(routerOf([])), /opened twice/)
  })
})

describe('statsOf', () => {
  it('merges the subsystems\' fields in list order', () => {
    const fields = statsOf([subsystem('a', [], {readRepairs: 1, forwardedPuts: 2}), subsystem('b', [], {}), subsystem('c', [], {hints: {pending: 0}})])
    assert.deepEqual(Object.keys(fields), ['readRepairs', 'forwardedPuts', 'hints'])
  })

  it('refuses a field served by two subsystems', () => {
    assert.throws(() => statsOf([subsystem('a', [], {hints: 1}), subsystem('b', [], {hints: 2})]), /the \/stats field hints is served by two subsystems \(b is the second\)/)
  })
})
