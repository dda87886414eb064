/**
 * A failed TLS handshake with a node during a run (`dyn bench` over HTTPS), said as every command
 * says it (`tlsFailureHint`): both drivers stop at the first, and the run fails `tls_untrusted`
 * (exit 2) when the node's certificate did not verify, as every command does, else `unreachable`.
 */

import {certificateRejected, tlsFailureHint} from '../src/client/http-client.js'
import {parseNodeList} from '../src/client/node-address.js'
import type {NodeAddress} from '../src/client/node-address.js'
import {DynError} from '../src/errors.js'
import type {ClientTls} from '../src/transport/tls-ca-file.js'

/** A failed handshake: `node: what to do`, and whether the node's certificate did not verify. */
export interface TlsFailure {
  readonly text: string
  readonly untrusted: boolean
}

/** What to do about `error` on a connection to `node` (host:port), or undefined when it is no TLS failure. */
export function tlsFailureAdvice(node: string, error: NodeJS.ErrnoException, tls: ClientTls | undefined): string | undefined {
  const address = parseNodeList([node])
  if (!address.ok) return undefined
  return tlsFailureHint(error, address.value[0] as NodeAddress, tls?.source === undefined ? {} : {caSource: tls.source})
}

/** The failed handshake of `error` with `node`, or undefined when it is no TLS failure. */
export function tlsFailureOf(node: string, error: NodeJS.ErrnoException, tls: ClientTls | undefined): TlsFailure | undefined {
  const advice = tlsFailureAdvice(node, error, tls)
  return advice === undefined ? undefined : {text: `${node}: ${advice}`, untrusted: certificateRejected(error)}
}

/** The end of a run stopped by a failed handshake: tls_untrusted (exit 2) for a certificate that did not verify, else unreachable (exit 3). */
export function runStoppedByTls(failure: TlsFailure): DynError {
  return new DynError(failure.untrusted ? 'tls_untrusted' : 'unreachable', `the run was stopped: ${failure.text}`)
}
