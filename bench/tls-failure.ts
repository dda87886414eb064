/**
 * A failed TLS handshake with a node during a run (`dyn bench` over HTTPS), said as every command
 * says it (`tlsFailureHint`): both drivers stop at the first, and the run fails `unreachable`.
 */

import {tlsFailureHint} from '../src/client/http-client.js'
import {parseNodeList} from '../src/client/node-address.js'
import type {NodeAddress} from '../src/client/node-address.js'
import {DynError} from '../src/errors.js'
import type {ClientTls} from '../src/transport/tls-ca-file.js'

/** What to do about `error` on a connection to `node` (host:port), or undefined when it is no TLS failure. */
export function tlsFailureAdvice(node: string, error: NodeJS.ErrnoException, tls: ClientTls | undefined): string | undefined {
  const address = parseNodeList([node])
  if (!address.ok) return undefined
  return tlsFailureHint(error, address.value[0] as NodeAddress, tls?.source === undefined ? {} : {caSource: tls.source})
}

/** The end of a run stopped by a failed handshake (`failure`: `node: what to do`): exit 3. */
export function runStoppedByTls(failure: string): DynError {
  return new DynError('unreachable', `the run was stopped: ${failure}`)
}
