/**
 * QuietChecks (src/quiet-connections.ts): a connection is quiet after looks in a row that found
 * nothing running on it and no byte arrived; a baseline makes the first look count.
 */

import assert from 'node:assert/strict'
import type net from 'node:net'
import {describe, it} from 'node:test'
import {QuietChecks} from '../../src/quiet-connections.js'

describe('QuietChecks', () => {
  it('counts the looks in a row that found a connection idle, and starts again at a running request or an arriving byte', () => {
    const quiet = new QuietChecks<object>()
    const connection = {}
    const socket = {bytesRead: 100} as net.Socket
    // Without a baseline the first look only records: a connection seen once is not yet known idle.
    assert.equal(quiet.check(connection, socket, false), 0)
    assert.equal(quiet.check(connection, socket, false), 1)
    assert.equal(quiet.check(connection, socket, false), 2)
    // A request's headers still arriving, a byte at a time: not quiet.
    ;(socket as {bytesRead: number}).bytesRead = 101
    assert.equal(quiet.check(connection, socket, false), 0)
    assert.equal(quiet.check(connection, socket, false), 1)
    // A request being served: not quiet, though no byte arrives.
    assert.equal(quiet.check(connection, socket, true), 0)
    assert.equal(quiet.check(connection, socket, false), 1)
  })

  it('counts the first look after a baseline, unless bytes arrived meanwhile', () => {
    const quiet = new QuietChecks<object>()
    const [idle, busy] = [{}, {}]
    const idleSocket = {bytesRead: 7} as net.Socket
    const busySocket = {bytesRead: 7} as net.Socket
    quiet.baseline(idle, idleSocket)
    quiet.baseline(busy, busySocket)
    ;(busySocket as {bytesRead: number}).bytesRead = 9
    assert.equal(quiet.check(idle, idleSocket, false), 1)
    assert.equal(quiet.check(busy, busySocket, false), 0)
  })
})
