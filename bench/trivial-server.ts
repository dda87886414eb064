/**
 * The calibration baseline: the least an HTTP server on this machine can do per request. It
 * speaks just enough of dyn's API for the benchmark's operations to run unchanged (a GET gets a
 * one-sibling JSON answer of the requested value size, a PUT a 204 with a context), so the same
 * driver measures this machine's HTTP ceiling. Run as its own process, like a dyn node.
 * Prints its port on stdout once listening.
 *
 *   node dist/bench/trivial-server.js [valueBytes]
 */

import {createServer} from 'node:http'

const valueBytes = Number(process.argv[2] ?? 100)
const readAnswer = JSON.stringify({context: 'AQA', siblings: [{value: Buffer.alloc(valueBytes, 'v').toString('base64'), contentType: 'application/octet-stream', timestampMs: 0, deleted: false}]})

const server = createServer((request, response) => {
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
})
server.keepAliveTimeout = 65_000
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as {port: number}).port}\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
