/**
 * Another protocol at the internode port (src/transport/foreign-protocol.ts): an accepted
 * connection's first bytes told apart (an HTTP request line with its method and target, a TLS
 * handshake, anything else, or too few bytes yet), a peer's answer in HTTP or in other bytes
 * quoted, and the plain HTTP answer a request at the internode port gets.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {encodeFrame, protocolVersion} from '../../src/transport/frame.js'
import {answerQuoteBytesMax, httpMethods, internodeHttpAnswer, isHttpAnswer, quoteAnswer, recogniseOpening, requestTargetCharsMax} from '../../src/transport/foreign-protocol.js'
import {MessageType} from '../../src/transport/message-type.js'

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1')

describe('recogniseOpening', () => {
  it('recognises every HTTP method followed by a space, with its request target', () => {
    for (const method of httpMethods) {
      assert.deepEqual(recogniseOpening(bytes(`${method} /metrics HTTP/1.1\r\nhost: x\r\n\r\n`)), {kind: 'http', method, target: '/metrics'}, method)
    }
    assert.deepEqual(recogniseOpening(bytes('CONNECT db.example:443 HTTP/1.1\r\n')), {kind: 'http', method: 'CONNECT', target: 'db.example:443'})
    // HTTP/0.9 has no version after the target; a request line cut short is quoted as far as it came.
    assert.deepEqual(recogniseOpening(bytes('GET /old\r\n')), {kind: 'http', method: 'GET', target: '/old'})
    assert.deepEqual(recogniseOpening(bytes('GET /met')), {kind: 'http', method: 'GET', target: '/met'})
    assert.deepEqual(recogniseOpening(bytes('GET  ')), {kind: 'http', method: 'GET', target: '(no target)'})
  })

  it('waits while the bytes are a prefix of a method and its space, and only then', () => {
    for (const prefix of ['G', 'GE', 'GET', 'P', 'PO', 'POS', 'POST', 'OPTIO', 'OPTIONS', 'CONNEC']) {
      assert.deepEqual(recogniseOpening(bytes(prefix)), {kind: 'undecided'}, prefix)
    }
    assert.deepEqual(recogniseOpening(Buffer.alloc(0)), {kind: 'undecided'})
    assert.deepEqual(recogniseOpening(Buffer.from([0x16])), {kind: 'undecided'})
  })

  it('takes no lower-case method, no method without its space, and no frame for HTTP', () => {
    for (const text of ['get / HTTP/1.1', 'GETS / HTTP/1.1', 'GET\t/', 'BREW /pot HTTP/1.1', 'SSH-2.0-OpenSSH_9.6', 'POSTX']) {
      assert.deepEqual(recogniseOpening(bytes(text)), {kind: 'other'}, text)
    }
    const hello = encodeFrame({type: MessageType.Hello, requestId: 0, body: {protocolVersion, nodeName: 'n1'}})
    assert.deepEqual(recogniseOpening(hello), {kind: 'other'})
  })

  it('recognises a TLS handshake record, and not a byte 0x16 followed by something else', () => {
    assert.deepEqual(recogniseOpening(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])), {kind: 'tls'})
    assert.deepEqual(recogniseOpening(Buffer.from([0x16, 0x00, 0x00])), {kind: 'other'})
  })

  it('quotes a target printable and bounded: no peer forges log lines', () => {
    const long = recogniseOpening(bytes(`GET /${'a'.repeat(500)} HTTP/1.1\r\n`))
    assert.equal(long.kind, 'http')
    assert.equal(long.kind === 'http' ? long.target : '', `/${'a'.repeat(requestTargetCharsMax - 1)}...`)
    const hostile = recogniseOpening(Buffer.concat([bytes('GET /x'), Buffer.from([0x1b, 0x5b, 0x32, 0x4a, 0xff]), bytes('y HTTP/1.1')]))
    assert.deepEqual(hostile, {kind: 'http', method: 'GET', target: '/x?[2J?y'})
  })
})

describe("a peer's answer", () => {
  it('is HTTP when it starts with HTTP/, and only then', () => {
    assert.equal(isHttpAnswer(bytes('HTTP/1.1 400 Bad Request\r\n')), true)
    assert.equal(isHttpAnswer(bytes('HTTP/')), true)
    assert.equal(isHttpAnswer(bytes('HTTP')), false)
    assert.equal(isHttpAnswer(bytes('<!DOCTYPE HTML>')), false)
  })

  it('is quoted printable, cut to answerQuoteBytesMax', () => {
    assert.equal(quoteAnswer(bytes('<!DOCTYPE HTML>\n<html lang="en">\n<head>')), `"<!DOCTYPE HTML>?<html lang="en">..."`)
    assert.equal(quoteAnswer(bytes('220 smtp ready\r\n')), '"220 smtp ready??"')
    assert.equal(quoteAnswer(Buffer.alloc(answerQuoteBytesMax)), `"${'?'.repeat(answerQuoteBytesMax)}"`)
  })
})

describe('internodeHttpAnswer', () => {
  it('is a whole HTTP/1.1 400 whose content-length is its plain-text body, closing the connection', () => {
    const answer = internodeHttpAnswer('GET', 'port 7170 is the internode port: clients use the client API port (http://127.0.0.1:7070, dyn start --port)')
    const [head, body] = answer.split('\r\n\r\n') as [string, string]
    assert.match(head, /^HTTP\/1\.1 400 Bad Request\r\n/)
    assert.match(head, /\r\ncontent-type: text\/plain; charset=utf-8\r\n/)
    assert.match(head, /\r\nconnection: close$/)
    assert.equal(Number(/content-length: (\d+)/.exec(head)?.[1]), Buffer.byteLength(body))
    assert.equal(body, 'port 7170 is the internode port: clients use the client API port (http://127.0.0.1:7070, dyn start --port)\n')
  })

  it('carries no body for HEAD, whose answer has none', () => {
    const answer = internodeHttpAnswer('HEAD', 'text')
    assert.ok(answer.endsWith('\r\n\r\n'))
    assert.match(answer, /content-length: 5\r\n/)
  })
})
