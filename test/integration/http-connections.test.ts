/**
 * A client connection to a real `dyn start` process, byte by byte (src/node/serve-in-order.ts):
 * pipelined requests served one after the other, a client that half-closes still answered, bytes
 * the parser refuses answered after the requests before them, and Node's refusals (a stalled
 * body, headers over the limit, a bad chunk) answered in the API's JSON with their own codes.
 * Found by a new user's walk with `printf ... | nc` and pipelined requests.
 */

import assert from 'node:assert/strict'
import {connect} from 'node:net'
import {after, before, describe, it} from 'node:test'
import {pipelinedRequestsMax} from '../../src/node/serve-in-order.js'
import {startCluster, waitFor, type TestCluster} from './harness.js'

interface RawAnswer {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
}

/** Splits what a connection received into HTTP/1.1 answers (Content-Length or chunked bodies). */
function parseAnswers(bytes: Buffer): RawAnswer[] {
  const answers: RawAnswer[] = []
  let at = 0
  while (at < bytes.length) {
    const headEnd = bytes.indexOf('\r\n\r\n', at)
    if (headEnd < 0) break
    const [statusLine, ...lines] = bytes.subarray(at, headEnd).toString('latin1').split('\r\n')
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    let bodyAt = headEnd + 4
    let body = ''
    if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const sizeEnd = bytes.indexOf('\r\n', bodyAt)
        const size = Number.parseInt(bytes.subarray(bodyAt, sizeEnd).toString('latin1'), 16)
        bodyAt = sizeEnd + 2
        if (size === 0) {
          bodyAt += 2
          break
        }
        body += bytes.subarray(bodyAt, bodyAt + size).toString('utf8')
        bodyAt += size + 2
      }
    } else {
      const length = Number(headers['content-length'] ?? 0)
      body = bytes.subarray(bodyAt, bodyAt + length).toString('utf8')
      bodyAt += length
    }
    answers.push({status: Number((statusLine ?? '').split(' ')[1]), headers, body})
    at = bodyAt
  }
  return answers
}

/**
 * Sends `requests` on one connection, in one write, half-closing after them when asked, and
 * collects what comes back until `answersExpected` have come (or, `untilClosed`, until the node
 * closes the connection).
 */
function exchange(port: number, requests: string, options: {halfClose?: boolean; answersExpected: number; untilClosed?: boolean}): Promise<{answers: RawAnswer[]; closedByNode: boolean}> {
  return new Promise((resolve, reject) => {
    const socket = connect({port, host: '127.0.0.1', allowHalfOpen: true})
    const chunks: Buffer[] = []
    let done = false
    const finish = (closedByNode: boolean): void => {
      if (done) return
      done = true
      clearTimeout(deadline)
      socket.destroy()
      resolve({answers: parseAnswers(Buffer.concat(chunks)), closedByNode})
    }
    // A bound on the test, not a duration asserted: a node that never answers fails it here.
    const deadline = setTimeout(() => {
      done = true
      socket.destroy()
      reject(new Error(`no end to the exchange; received: ${Buffer.concat(chunks).toString('latin1').slice(0, 500)}`))
    }, 60_000)
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      if (parseAnswers(Buffer.concat(chunks)).length >= options.answersExpected && options.untilClosed !== true) finish(false)
    })
    socket.on('end', () => finish(true))
    socket.on('close', () => finish(true))
    socket.on('error', () => finish(true))
    socket.once('connect', () => {
      socket.write(requests)
      if (options.halfClose === true) socket.end()
    })
  })
}

const put = (key: string, value: string): string => `PUT /kv/${key} HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(value)}\r\n\r\n${value}`
const get = (key: string): string => `GET /kv/${key} HTTP/1.1\r\nHost: x\r\n\r\n`

describe('a client connection, byte by byte', () => {
  let c: TestCluster
  let port: number
  before(async () => {
    c = await startCluster(1, ['--http-request-timeout-ms', '2000'])
    port = (c.cluster.nodes[0] as {port: number}).port
  })
  after(() => c.stop())

  it('serves pipelined requests one after the other: a GET after a PUT of its key reads what the PUT wrote', async () => {
    for (let round = 0; round < 5; round += 1) {
      const key = `pipelined-${round}`
      const {answers} = await exchange(port, put(key, `value ${round}`) + get(key) + `DELETE /kv/${key} HTTP/1.1\r\nHost: x\r\n\r\n` + get(key), {answersExpected: 4})
      assert.deepEqual(answers.map((answer) => answer.status), [204, 200, 204, 404], `round ${round}: ${JSON.stringify(answers)}`)
      assert.equal(answers[1]?.body, `value ${round}`)
    }
  })

  it(`answers requests pipelined beyond ${pipelinedRequestsMax} overloaded, in their turn, and serves those before`, async () => {
    const count = pipelinedRequestsMax + 6
    const {answers} = await exchange(port, get('nothing-here').repeat(count), {answersExpected: count})
    assert.equal(answers.length, count)
    // The first is served at once, 64 wait behind it, the rest are refused: in the order sent.
    assert.deepEqual(answers.slice(0, pipelinedRequestsMax + 1).map((answer) => answer.status), Array(pipelinedRequestsMax + 1).fill(404))
    for (const answer of answers.slice(pipelinedRequestsMax + 1)) {
      assert.equal(answer.status, 503)
      assert.equal(JSON.parse(answer.body).error, 'overloaded')
    }
  })

  it('answers a client that half-closes once it has sent its requests (printf ... | nc)', async () => {
    const {answers, closedByNode} = await exchange(port, put('half-closed', 'hi') + get('half-closed'), {halfClose: true, answersExpected: 2})
    assert.deepEqual(answers.map((answer) => answer.status), [204, 200])
    assert.equal(answers[1]?.body, 'hi')
    assert.equal(closedByNode, false)
  })

  it('answers the requests before bytes it cannot parse, then refuses those (400 bad_request) and closes', async () => {
    const {answers, closedByNode} = await exchange(port, `${put('before-garbage', 'abc')}GARBAGE\r\n\r\n`, {answersExpected: 2, untilClosed: true})
    assert.deepEqual(answers.map((answer) => answer.status), [204, 400], JSON.stringify(answers))
    assert.equal(JSON.parse(answers[1]?.body ?? '{}').error, 'bad_request')
    assert.ok(closedByNode)
    assert.equal(await (await fetch(c.url(0, '/kv/before-garbage'))).text(), 'abc')
  })

  it('refuses a chunked body with a bad chunk size (400 bad_request) and stores nothing', async () => {
    const {answers} = await exchange(port, 'PUT /kv/bad-chunk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n', {answersExpected: 1, untilClosed: true})
    assert.equal(answers[0]?.status, 400, JSON.stringify(answers))
    assert.equal(JSON.parse(answers[0]?.body ?? '{}').error, 'bad_request')
    assert.equal((await fetch(c.url(0, '/kv/bad-chunk'))).status, 404)
  })

  it('answers a body that stops arriving 408 request_timeout, stores nothing, and takes no queue from it', async () => {
    const {answers, closedByNode} = await exchange(port, 'PUT /kv/stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhi', {answersExpected: 1, untilClosed: true})
    assert.equal(answers[0]?.status, 408, JSON.stringify(answers))
    assert.equal(JSON.parse(answers[0]?.body ?? '{}').error, 'request_timeout')
    assert.ok(closedByNode)
    // Read at once: two seconds of a client's stall are no queue in the node, so no cut (a cut
    // would show here, before an idle node's limit has grown back).
    const admission = ((await (await fetch(c.url(0, '/stats'))).json()) as {admission: {limit: number; standingQueueMs: number}}).admission
    assert.equal(admission.limit, 4096, JSON.stringify(admission))
    assert.equal((await fetch(c.url(0, '/kv/stalled'))).status, 404)
  })

  it('deletes nothing for a DELETE whose body stops arriving (408), and deletes once a DELETE body is whole', async () => {
    assert.equal((await exchange(port, put('kept-by-stall', 'here'), {answersExpected: 1})).answers[0]?.status, 204)
    const stalled = await exchange(port, 'DELETE /kv/kept-by-stall HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhi', {answersExpected: 1, untilClosed: true})
    assert.deepEqual(stalled.answers.map((answer) => answer.status), [408], JSON.stringify(stalled.answers))
    assert.equal((await fetch(c.url(0, '/kv/kept-by-stall'))).status, 200, 'a request answered 408 changed nothing')
    const whole = await exchange(port, 'DELETE /kv/kept-by-stall HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello', {answersExpected: 1})
    assert.deepEqual(whole.answers.map((answer) => answer.status), [204], JSON.stringify(whole.answers))
    assert.equal((await fetch(c.url(0, '/kv/kept-by-stall'))).status, 404)
  })

  it('refuses a request pipelined behind a whole one whose own body is malformed or stalls, after the first is answered', async () => {
    const malformed = await exchange(port, put('first-of-two', 'abc') + 'PUT /kv/second-of-two HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n', {answersExpected: 2, untilClosed: true})
    assert.deepEqual(malformed.answers.map((answer) => answer.status), [204, 400], JSON.stringify(malformed.answers))
    const stalled = await exchange(port, put('first-of-two', 'abd') + 'PUT /kv/second-of-two HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhi', {answersExpected: 2, untilClosed: true})
    assert.deepEqual(stalled.answers.map((answer) => answer.status), [204, 408], JSON.stringify(stalled.answers))
    assert.equal((await fetch(c.url(0, '/kv/second-of-two'))).status, 404)
  })

  it('answers a client that half-closes in the middle of a body at once (400 bad_request), and stores nothing', async () => {
    const {answers} = await exchange(port, 'PUT /kv/cut-short HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhi', {halfClose: true, answersExpected: 1, untilClosed: true})
    assert.equal(answers[0]?.status, 400, JSON.stringify(answers))
    assert.match(JSON.parse(answers[0]?.body ?? '{}').message, /ended its side of the connection before the request arrived whole/)
    assert.equal((await fetch(c.url(0, '/kv/cut-short'))).status, 404)
  })

  it('answers headers over the limit 431 headers_too_large', async () => {
    const {answers} = await exchange(port, `GET /kv/${'k'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, {answersExpected: 1, untilClosed: true})
    assert.equal(answers[0]?.status, 431, JSON.stringify(answers))
    assert.equal(JSON.parse(answers[0]?.body ?? '{}').error, 'headers_too_large')
  })

  it('counts each refusal in /stats by its reason', async () => {
    const stats = (await (await fetch(c.url(0, '/stats'))).json()) as {rejected: {http: {reasons: Record<string, number>}}}
    const reasons = stats.rejected.http.reasons
    for (const reason of ['pipelined_too_deep', 'malformed_http', 'request_timeout', 'headers_too_large', 'request_cut_short']) assert.ok((reasons[reason] ?? 0) >= 1, `${reason}: ${JSON.stringify(reasons)}`)
  })

  it('holds no admission slot for a request it refused before its body arrived, and keeps its limit', async () => {
    // A refused request's handler was left waiting for a body that never came: a slot held for good.
    await waitFor('every request to have left the node', async () => {
      const admission = ((await (await fetch(c.url(0, '/stats'))).json()) as {admission: {inFlight: number; limit: number}}).admission
      return admission.inFlight === 0 ? admission : undefined
    })
    const admission = ((await (await fetch(c.url(0, '/stats'))).json()) as {admission: {limit: number; state: string}}).admission
    assert.equal(admission.limit, 4096, 'a stalled upload is no queue in the node')
  })
})
