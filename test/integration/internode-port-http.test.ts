// What is no dyn node's internode protocol, at a real node's internode port (--rpc-port) and at
// a seed given to `dyn start`. An HTTP request sent to the internode port (a monitor pointed at the
// wrong port) is answered 400 with where clients go, counted in /stats, and logged at the first
// and every power of two only, so that a monitor cannot fill the disk; the node serves on. A seed
// that answers an HTTP server's page is refused at once with a code that says the address is
// wrong (exit 2), not tried 20 times and reported unreachable (exit 3, which automation retries).

import assert from 'node:assert/strict'
import {mkdtemp, readFile} from 'node:fs/promises'
import {existsSync} from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'
import type {TestContext} from 'node:test'
import {freeClusterPorts} from '../../src/cli/ports.js'
import type {LocalNode} from '../../src/cli/local-cluster.js'
import {getJson, putValue, removeTestFolder, runDyn, startCluster, startJsonAnswer, waitFor} from './harness.js'

/** Requests a monitor sends at the wrong port in the test: enough that one log line each would show. */
const monitorRequests = 300

/** A fresh folder for this test's nodes, whose processes are killed and the folder deleted after it. */
async function testFolder(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dyn-internode-http-'))
  t.after(() => removeTestFolder(dir))
  return dir
}

/** A plain HTTP/1.1 GET on a fresh connection, as curl sends one; its status and body. */
function curl(port: number, target: string): Promise<{status: number; body: string}> {
  return new Promise((resolve, reject) => {
    const request = http.get({host: '127.0.0.1', port, path: target, agent: false}, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => resolve({status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8')}))
    })
    request.on('error', reject)
  })
}

async function rejectedHttpRequests(apiUrl: string): Promise<number> {
  const stats = await getJson(`${apiUrl}/stats`)
  return ((stats.body.rejected as {hellos?: {reasons?: Record<string, number>}}).hellos?.reasons?.http_request) ?? 0
}

describe('the internode port and HTTP', () => {
  it('answers an HTTP request at a node\'s internode port with 400 and the client API port, logs a bounded number of lines for many, and serves on', async () => {
    const c = await startCluster(2)
    try {
      const n1 = c.cluster.nodes[0] as LocalNode
      const apiUrl = `http://${c.api(0)}`
      const first = await curl(n1.rpcPort, '/metrics')
      assert.equal(first.status, 400)
      assert.equal(first.body, `port ${n1.rpcPort} is the internode port of dyn node ${n1.name}, which speaks only the protocol between the nodes of a cluster, not HTTP: clients use the client API port (${apiUrl}, dyn start --port)\n`)
      for (let i = 1; i < monitorRequests; i += 1) assert.equal((await curl(n1.rpcPort, '/metrics')).status, 400)
      assert.equal(await rejectedHttpRequests(apiUrl), monitorRequests)
      // 300 requests: logged at the 1st, 2nd, 4th, ..., 256th, with the count, nine lines in all.
      const logged = (text: string): string[] => text.split('\n').filter((line) => line.includes(`an HTTP request (GET /metrics) from 127.0.0.1:`))
      const lines = await waitFor('the 256th request to be logged', async () => {
        const found = logged(await readFile(n1.logFile, 'utf8'))
        return found.some((line) => line.endsWith('(the 256th since the node started)')) ? found : undefined
      }, 30_000)
      assert.equal(lines.length, 9, lines.join('\n'))
      assert.match(lines[0] ?? '', new RegExp(`reached the internode port ${n1.rpcPort}: clients use the client API port \\(${apiUrl.replace(/\./g, '\\.')}, dyn start --port\\) \\(the first since the node started`))
      assert.doesNotMatch(await readFile(n1.logFile, 'utf8'), /frame_too_large/)
      // The node serves on, its internode port too: a write through n1 reads back through n2.
      assert.equal((await putValue(`${apiUrl}/kv/after-the-monitor`, 'still here')).status, 204)
      const read = await waitFor('the write to read back through n2', async () => {
        const response = await fetch(c.url(1, '/kv/after-the-monitor'))
        return response.status === 200 ? response.text() : undefined
      }, 30_000)
      assert.equal(read, 'still here')
    } finally {
      await c.stop()
    }
  })

  it('refuses `dyn start --seeds` at an HTTP server at once, exit 2, saying what answered and what to give', async (t) => {
    const dir = await testFolder(t)
    // Python's http.server answers a request line it cannot read (a Hello frame) with an HTML
    // page and no status line (HTTP/0.9), then closes: the bytes `python3 -m http.server` sent.
    const python = net.createServer((socket) => {
      socket.on('error', () => undefined)
      socket.once('data', () => socket.end('<!DOCTYPE HTML>\n<html lang="en">\n    <head>\n        <meta charset="utf-8">\n        <title>Error response</title>\n    </head>\n</html>\n'))
    })
    // Node's own HTTP server answers the same bytes "HTTP/1.1 400 Bad Request".
    const nodeHttp = http.createServer((_request, response) => response.end('hello'))
    for (const server of [python, nodeHttp]) await new Promise<void>((resolve) => server.listen({host: '127.0.0.1', port: 0}, resolve))
    t.after(() => Promise.all([python, nodeHttp].map((server) => new Promise<void>((resolve) => server.close(() => resolve())))))
    const cases: Array<{server: net.Server; says: RegExp}> = [
      {server: python, says: /^the seed 127\.0\.0\.1:\d+ answered with bytes that are not dyn's internode protocol, beginning "<!DOCTYPE HTML>\?<html lang="en">\.\.\.": it is no dyn node's internode port \(--rpc-port\); give --seeds the seed's internode address, host:rpc-port/},
      {server: nodeHttp, says: /^the seed 127\.0\.0\.1:\d+ answered in HTTP: it is a client API port \(dyn start --port\), not an internode port \(--rpc-port\); give --seeds the seed's internode address/},
    ]
    for (const {server, says} of cases) {
      const seed = `127.0.0.1:${(server.address() as net.AddressInfo).port}`
      const {port, rpcPort} = await freeClusterPorts(1)
      const data = path.join(dir, `n-${port}`)
      const run = await runDyn(['start', '--name', 'n1', '--port', String(port), '--rpc-port', String(rpcPort), '--data', data, '--seeds', seed, '--json'], {timeoutMs: 30_000})
      assert.equal(run.code, 2, run.stdout + run.stderr)
      const failed = startJsonAnswer<{ok: boolean; error: string; message: string; seed?: string}>(run.stdout)
      assert.deepEqual({ok: failed.ok, error: failed.error, seed: failed.seed}, {ok: false, error: 'bad_parameter', seed})
      assert.match(failed.message, says)
      // At once: no line before the answer says it would try again, and the codec's words are not the reason.
      assert.doesNotMatch(run.stdout, /trying again|frame_too_large|unreachable/)
      assert.equal(existsSync(data), false, 'a refused start left its data folder')
    }
  })
})
