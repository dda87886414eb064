/**
 * Tests of the node addresses users type (--node, DYN_NODE): host:port, [ipv6]:port,
 * http://host:port and https://host:port are accepted (the scheme kept when typed); anything else is a bad_parameter value that names the problem,
 * never an exception and never a guess.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import http from 'node:http'
import net from 'node:net'
import {DynClient, unreachableOf, UnreachableError} from '../../src/client/http-client.js'
import {nodeAddressesMax, parseNodeAddress, parseNodeList} from '../../src/client/node-address.js'
import {DynError} from '../../src/errors.js'

describe('parseNodeAddress', () => {
  it('accepts host:port, [ipv6]:port and http:// URLs with an optional trailing slash', () => {
    const cases: Array<[string, string, number, string]> = [
      ['127.0.0.1:7070', '127.0.0.1', 7070, '127.0.0.1:7070'],
      ['localhost:1', 'localhost', 1, 'localhost:1'],
      ['db-1.example.com:65535', 'db-1.example.com', 65535, 'db-1.example.com:65535'],
      ['http://127.0.0.1:7071', '127.0.0.1', 7071, '127.0.0.1:7071'],
      ['http://127.0.0.1:7071/', '127.0.0.1', 7071, '127.0.0.1:7071'],
      ['HTTP://node:80', 'node', 80, 'node:80'],
      ['[::1]:7070', '::1', 7070, '[::1]:7070'],
      ['http://[::1]:7070/', '::1', 7070, '[::1]:7070'],
      ['  10.0.0.5:7070 ', '10.0.0.5', 7070, '10.0.0.5:7070'],
    ]
    for (const [text, host, port, label] of cases) {
      const scheme = /^https?:\/\//i.test(text.trim()) ? {scheme: text.trim().slice(0, text.trim().indexOf(':')).toLowerCase()} : {}
      assert.deepEqual(parseNodeAddress(text), {ok: true, value: {host, port, label, ...scheme}}, text)
    }
  })

  it('accepts https:// addresses and keeps the scheme, so that the client reaches them over TLS', () => {
    assert.deepEqual(parseNodeAddress('https://10.0.0.11:7070'), {ok: true, value: {host: '10.0.0.11', port: 7070, label: '10.0.0.11:7070', scheme: 'https'}})
    assert.deepEqual(parseNodeAddress('HTTPS://[::1]:7070/'), {ok: true, value: {host: '::1', port: 7070, label: '[::1]:7070', scheme: 'https'}})
    assert.deepEqual(parseNodeAddress('n1.dyn.internal:7070'), {ok: true, value: {host: 'n1.dyn.internal', port: 7070, label: 'n1.dyn.internal:7070'}})
    const noPort = parseNodeAddress('https://10.0.0.11')
    assert.equal(noPort.ok, false)
    if (!noPort.ok) assert.match(noPort.message, /no port/)
    const twoSchemes = parseNodeAddress('https://http://10.0.0.11:7070')
    assert.equal(twoSchemes.ok, false)
  })

  it('refuses a missing port, another scheme, a path, a bad port and garbage, saying which', () => {
    const cases: Array<[string, RegExp]> = [
      ['http://127.0.0.1', /no port/],
      ['localhost', /no port/],
      ['127.0.0.1:', /not host:port/],
      ['ftp://127.0.0.1:7070', /serve HTTP or HTTPS, not ftp/],
      ['tcp://127.0.0.1:7070', /serve HTTP or HTTPS, not tcp/],
      ['http://127.0.0.1:7070/kv', /not host:port/],
      ['127.0.0.1:0', /within 1\.\.65535/],
      ['127.0.0.1:70700', /within 1\.\.65535/],
      ['127.0.0.1:7070x', /not host:port/],
      ['user@host:7070', /not host:port/],
      ['garbage!!', /not host:port/],
      ['', /not host:port/],
      ['::1:7070', /not host:port/],
    ]
    for (const [text, message] of cases) {
      const parsed = parseNodeAddress(text)
      assert.equal(parsed.ok, false, `${JSON.stringify(text)} was accepted`)
      if (!parsed.ok) {
        assert.equal(parsed.error, 'bad_parameter', text)
        assert.match(parsed.message, message, text)
      }
    }
  })
})

describe('parseNodeList', () => {
  it('splits comma-separated entries (DYN_NODE) and keeps the order given', () => {
    const parsed = parseNodeList(['127.0.0.1:1, http://127.0.0.1:2', '127.0.0.1:3'])
    assert.ok(parsed.ok)
    assert.deepEqual(parsed.value.map((a) => a.label), ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'])
  })

  it('refuses an empty list, a list with one bad entry, and more than the bound', () => {
    for (const entries of [[], [''], [' , '], ['127.0.0.1:1,nope'], [Array.from({length: nodeAddressesMax + 1}, (_, i) => `h:${i + 1}`).join(',')]]) {
      const parsed = parseNodeList(entries)
      assert.equal(parsed.ok, false, JSON.stringify(entries))
      if (!parsed.ok) assert.equal(parsed.error, 'bad_parameter')
    }
  })

  it('makes DynClient refuse a malformed address with a bad_parameter DynError', () => {
    assert.throws(() => new DynClient('http://127.0.0.1'), (error: unknown) => error instanceof DynError && error.code === 'bad_parameter')
    assert.equal(new DynClient(['http://127.0.0.1:7071/', '127.0.0.1:7072']).node, '127.0.0.1:7071')
  })
})

describe('DynClient: a node that takes the connection and never answers', () => {
  it('is unreachable, saying that it runs but did not answer, that the request may have reached it, and not to start one', async (t) => {
    // A paused node: its kernel accepts the connection, nothing reads or answers.
    const sockets: net.Socket[] = []
    const server = net.createServer((socket) => void sockets.push(socket))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => {
      for (const socket of sockets) socket.destroy()
      server.close()
    })
    const port = (server.address() as net.AddressInfo).port
    const refusedPort = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const free = (probe.address() as net.AddressInfo).port
        probe.close(() => resolve(free))
      })
    })
    const client = new DynClient([`127.0.0.1:${port}`, `127.0.0.1:${refusedPort}`], 300)
    const failed = await client.get('k').then(
      () => assert.fail('a silent node answered'),
      (error: unknown) => error,
    )
    assert.ok(failed instanceof UnreachableError, String(failed))
    assert.equal(failed.code, 'unreachable')
    // A timeout, said as one: it once began "cannot reach a dyn node", of a node that runs.
    assert.match(failed.message, new RegExp(`^no dyn node at 127\\.0\\.0\\.1:${port} answered within the timeout \\(no answer within 300 ms\\); 127\\.0\\.0\\.1:${port} accepted the connection but did not answer in time \\(a paused, overloaded or stuck node\\); the request may have reached it, so no other node was tried: see whether it serves \\(dyn cluster status\\), raise --timeout`))
    // It said "start one (dyn cluster up)", of a node that runs.
    assert.doesNotMatch(failed.message, /start one/)
  })

  it('a refused connection still says it cannot reach a node, and to start one', async () => {
    const refusedPort = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const free = (probe.address() as net.AddressInfo).port
        probe.close(() => resolve(free))
      })
    })
    const failed = await new DynClient(`127.0.0.1:${refusedPort}`, 300).get('k').then(
      () => assert.fail('nothing listens there'),
      (error: unknown) => error,
    )
    assert.ok(failed instanceof UnreachableError)
    assert.match(failed.message, /^cannot reach a dyn node at 127\.0\.0\.1:\d+ \(ECONNREFUSED\); start one \(dyn cluster up\)/)
  })

  it('a timeout before any connection says the timeout ran out and to raise --timeout, not only to start a node', () => {
    // A connection that took longer than the timeout (dyn repair --timeout 1 of a running node):
    // not made deterministically on loopback, so the choice is checked on what the attempt reports.
    const attempt = {label: '127.0.0.1:7070', tls: false, notHttp: false, timedOut: true}
    const error = unreachableOf([attempt], 'no connection within 1 ms', false)
    assert.equal(error.code, 'unreachable')
    assert.equal(error.message, 'no dyn node at 127.0.0.1:7070 answered within the timeout (no connection within 1 ms); if a node runs there, it may need longer: raise --timeout; if none does, start one (dyn cluster up) or point --node / DYN_NODE at a running node')
    // One node refused among them: not all a timeout, so "cannot reach" as before.
    const mixed = unreachableOf([attempt, {label: '127.0.0.1:7071', tls: false, notHttp: false, timedOut: false}], '127.0.0.1:7070 no connection within 1 ms; 127.0.0.1:7071 ECONNREFUSED', false)
    assert.match(mixed.message, /^cannot reach a dyn node at 127\.0\.0\.1:7070, 127\.0\.0\.1:7071 .*; start one \(dyn cluster up\)/)
  })
})

describe('DynClient: a node that resets a new connection before any answer (stopping or starting)', () => {
  it('a read goes on to the next node; a write is not sent again, and the error says to read the key before writing again', async (t) => {
    // Accepts, then resets once the request is in: the client cannot tell whether it was read.
    // (A reset before the client's connect completes is a connection never made: the next node is
    // asked, as for a refused one.)
    const resetting = net.createServer((socket) => socket.once('data', () => socket.resetAndDestroy()))
    // The next node: it answers every read 404, as a node without the key does.
    const answering = http.createServer((_request, response) => {
      response.writeHead(404, {'content-type': 'application/json'})
      response.end(JSON.stringify({error: 'not_found', message: 'no such key'}))
    })
    const portOf = async (server: net.Server): Promise<number> => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
      t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
      return (server.address() as net.AddressInfo).port
    }
    const [resetPort, answerPort] = [await portOf(resetting), await portOf(answering)]
    const client = new DynClient([`127.0.0.1:${resetPort}`, `127.0.0.1:${answerPort}`], 5000)
    const read = await client.get('k')
    assert.equal(read.ok && read.found, false, 'the next node answered the read')
    // A new client: the first starts at the node that answered it last.
    const failed = await new DynClient([`127.0.0.1:${resetPort}`, `127.0.0.1:${answerPort}`], 5000).put('k', Buffer.from('v')).then(
      () => assert.fail('the write was sent to the next node'),
      (error: unknown) => error,
    )
    assert.ok(failed instanceof UnreachableError, String(failed))
    assert.match(failed.message, /ECONNRESET: the node reset the connection before any answer/)
    assert.match(failed.message, new RegExp(`127\\.0\\.0\\.1:${resetPort} may be stopping or starting, or have crashed; a write may have reached it, so no other node was tried: read the key`))
    assert.doesNotMatch(failed.message, /internode port|not in HTTP/)
  })
})

describe('DynClient: a node that has not confirmed that it is still a member', () => {
  it('its refusal of a write sends the write to the next node; another 503 is the answer; with no other node, the refusal is', async (t) => {
    const refusal = (membershipUnconfirmed: boolean): http.Server =>
      http.createServer((request, response) => {
        request.resume()
        response.writeHead(503, {'content-type': 'application/json'})
        response.end(JSON.stringify({error: 'not_ready', message: 'n3 restarted on its folder where it could not confirm that it is still a member', ...(membershipUnconfirmed ? {membershipUnconfirmed: true} : {})}))
      })
    const puts: string[] = []
    const taking = http.createServer((request, response) => {
      puts.push(request.url ?? '')
      request.resume()
      request.on('end', () => {
        response.writeHead(204, {'x-dyn-context': 'a2V5'})
        response.end()
      })
    })
    const portOf = async (server: net.Server): Promise<number> => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
      t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
      return (server.address() as net.AddressInfo).port
    }
    const [unconfirmedPort, otherNotReadyPort, takingPort] = [await portOf(refusal(true)), await portOf(refusal(false)), await portOf(taking)]
    const written = await new DynClient([`127.0.0.1:${unconfirmedPort}`, `127.0.0.1:${takingPort}`], 5000).put('k', Buffer.from('v'))
    assert.equal(written.ok, true, JSON.stringify(written))
    assert.deepEqual(puts, ['/kv/k'], 'the next node took it')
    // Any other refusal reached a node: its answer is the answer, as before.
    const other = await new DynClient([`127.0.0.1:${otherNotReadyPort}`, `127.0.0.1:${takingPort}`], 5000).put('k', Buffer.from('v'))
    assert.equal(other.ok, false)
    assert.equal(puts.length, 1)
    // Alone, or the last node asked: the refusal is the answer.
    const alone = await new DynClient([`127.0.0.1:${unconfirmedPort}`], 5000).put('k', Buffer.from('v'))
    assert.equal(!alone.ok && alone.error, 'not_ready')
  })
})

describe('DynClient: a write whose kept-alive connection closes under it', () => {
  it('is tried again on the same node only: found gone, it is not sent to the next node, which may double it', async (t) => {
    // A answers a first put, reads a second whole and dies (its port closed, the connection cut):
    // it may have applied the second. B must never see it.
    const seenByB: string[] = []
    let putsAtA = 0
    const a = http.createServer((request, response) => {
      putsAtA += 1
      request.resume()
      request.once('end', () => {
        if (putsAtA === 1) {
          response.writeHead(204, {'x-dyn-context': 'AQ', 'x-dyn-siblings': '1'})
          response.end()
          return
        }
        a.close()
        a.closeAllConnections()
      })
    })
    const b = http.createServer((request, response) => {
      seenByB.push(`${request.method} ${request.url}`)
      response.writeHead(204, {'x-dyn-context': 'AQ', 'x-dyn-siblings': '1'})
      response.end()
    })
    const portOf = async (server: http.Server): Promise<number> => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
      t.after(() => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())))
      return (server.address() as net.AddressInfo).port
    }
    const [aPort, bPort] = [await portOf(a), await portOf(b)]
    const client = new DynClient([`127.0.0.1:${aPort}`, `127.0.0.1:${bPort}`], 5000)
    assert.equal((await client.put('k', Buffer.from('first'))).ok, true)
    const failed = await client.put('k', Buffer.from('second')).then(
      (result) => assert.fail(`the second put was answered: ${JSON.stringify(result)}`),
      (error: unknown) => error,
    )
    assert.ok(failed instanceof UnreachableError, String(failed))
    assert.match(failed.message, new RegExp(`127\\.0\\.0\\.1:${aPort} may be stopping or starting, or have crashed; a write may have reached it, so no other node was tried`))
    assert.deepEqual(seenByB, [])
    assert.equal(putsAtA, 2)
  })
})

describe('DynClient: a Content-Type the node would refuse', () => {
  it('is refused without sending, as the node refuses it (a line break in it threw ERR_INVALID_CHAR out of dyn put)', async () => {
    // Nothing listens there: a request sent would fail as unreachable instead.
    const client = new DynClient(['127.0.0.1:1'], 300)
    for (const contentType of ['text/plain\r\nX-Evil: 1', 'a\tb', '', 'x'.repeat(257)]) {
      const result = await client.put('k', Buffer.from('v'), {contentType})
      assert.equal(result.ok, false, JSON.stringify(contentType))
      assert.ok(!result.ok && result.status === 400 && result.error === 'bad_request', JSON.stringify(result))
      assert.ok(!result.ok && result.message === 'the Content-Type must be 1 to 256 printable ASCII characters')
    }
  })
})

describe('DynClient: a context the node would refuse', () => {
  it('is refused without sending, with the node\'s own bad_context message (a line break in it threw ERR_INVALID_CHAR out of dyn put and delete)', async () => {
    const client = new DynClient(['127.0.0.1:1'], 300)
    const put = await client.put('k', Buffer.from('v'), {context: 'AgEL\nbjE'})
    assert.ok(!put.ok && put.status === 400 && put.error === 'bad_context', JSON.stringify(put))
    assert.match(put.ok ? '' : put.message, /holds characters that are not base64url/)
    const del = await client.delete('k', {context: 'AgEL\rbjE'})
    assert.ok(!del.ok && del.error === 'bad_context', JSON.stringify(del))
  })

  it('sends a whole context with a line break around it, trimmed as the node trims it', async () => {
    // A context that decodes (from a read of this project's cluster), as pasted with a line break after it.
    const context = 'AgELbjEuNjljNTQ3YjYBABgcJq8'
    const client = new DynClient(['127.0.0.1:1'], 300)
    // Not refused here: it is sent, and nothing listens there.
    await assert.rejects(client.put('k', Buffer.from('v'), {context: `${context}\n`}), (error: unknown) => error instanceof UnreachableError)
  })
})
