/**
 * The calibration baseline: the least an HTTP server on this machine can do per request. It
 * speaks just enough of dyn's API for the benchmark's operations to run unchanged (a GET gets a
 * one-sibling JSON answer of the requested value size, a PUT a 204 with a context), so the same
 * driver measures this machine's HTTP ceiling. Run as its own process, like a dyn node.
 *
 * Given a certificate and its key (PEM files), it serves HTTPS with them instead, as a node
 * started with --tls-cert serves its client API (node:https with Node's default TLS settings), so
 * that a run over HTTPS is calibrated against the same protocol: a ceiling measured in plain HTTP
 * would leave out the cipher on every byte, which is most of what TLS costs here.
 *
 * Prints its port and the protocol it serves (`http` or `https`) on stdout once listening, as one
 * line: the runner reports the protocol the server said, not the one it asked for.
 *
 *   node dist/bench/trivial-server.js [valueBytes [certFile keyFile]]
 */

import {readFileSync} from 'node:fs'
import {createServer} from 'node:http'
import type {IncomingMessage, Server, ServerResponse} from 'node:http'
import {createServer as createHttpsServer} from 'node:https'

const valueBytes = Number(process.argv[2] ?? 100)
const [certFile, keyFile] = [process.argv[3], process.argv[4]]
const readAnswer = JSON.stringify({context: 'AQA', siblings: [{value: Buffer.alloc(valueBytes, 'v').toString('base64'), contentType: 'application/octet-stream', timestampMs: 0, deleted: false}]})

const handler = (request: IncomingMessage, response: ServerResponse): void => {
  request.resume()
  request.on('end', () => {
    if (request.method === 'GET') {
      response.writeHead(200, {'content-type': 'application/json', 'x-dyn-context': 'AQA'})
      response.end(readAnswer)
      return
    }
    response.writeHead(204, {'x-dyn-context': 'AQA'})
    response.end()
  })
}
// The same keep-alive as a node's API server: the drivers keep their connections open.
const httpOptions = {keepAliveTimeout: 65_000}
const protocol = certFile === undefined ? 'http' : 'https'
// The runner checked both files before it started this; one that cannot be read now ends the
// process with Node's error, which the runner reports as the server exiting.
const server: Server = certFile === undefined ? createServer(httpOptions, handler) : createHttpsServer({...httpOptions, cert: readFileSync(certFile), key: readFileSync(keyFile as string)}, handler)
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as {port: number}).port} ${protocol}\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
