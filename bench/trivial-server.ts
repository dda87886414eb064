/**
 * The calibration baseline: the least an HTTP server on this machine can do per request (read
 * the body, answer 204). Run as its own process so it is measured the way a dyn node is.
 * Prints its port on stdout once listening.
 */

import {createServer} from 'node:http'

const server = createServer((request, response) => {
  request.resume()
  request.on('end', () => {
    response.writeHead(204)
    response.end()
  })
})
server.keepAliveTimeout = 65_000
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as {port: number}).port}\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
