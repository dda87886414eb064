/**
 * Whether a connection has gone quiet, for the drains of a stopping node: its client API's
 * (src/node/serve-in-order.ts) and its internode port's (TcpTransport.drainInbound). Looked at
 * every so often, a connection is quiet after as many looks in a row that found nothing running on
 * it and no byte arrived since the look before: bytes arriving count as activity, so that a
 * request whose headers are still coming in is not taken for an idle connection. One of these
 * lives for one drain, so nothing is added to a request's path.
 */

import type net from 'node:net'

export class QuietChecks<Connection extends object> {
  readonly #seen = new WeakMap<Connection, {bytesRead: number; checks: number}>()

  /** Counts from now: the next look finds the connection quiet unless something runs on it or bytes arrive meanwhile. */
  baseline(connection: Connection, socket: net.Socket): void {
    this.#seen.set(connection, {bytesRead: socket.bytesRead, checks: 0})
  }

  /** One look at `connection` (`busy`: something runs on it): the looks in a row, this one included, that found it quiet; 0 at a first look without a baseline. */
  check(connection: Connection, socket: net.Socket, busy: boolean): number {
    const seen = this.#seen.get(connection)
    if (seen === undefined) {
      this.#seen.set(connection, {bytesRead: socket.bytesRead, checks: 0})
      return 0
    }
    const arrived = seen.bytesRead !== socket.bytesRead
    seen.bytesRead = socket.bytesRead
    seen.checks = busy || arrived ? 0 : seen.checks + 1
    return seen.checks
  }
}
