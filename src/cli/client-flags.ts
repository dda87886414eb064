/** Flags shared by the commands that talk to a node (put, get, delete, ring, ...). */

import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {replicasPerKeyMax} from '../storage/stored-object.js'
import {nodeAddressDefault, nodeEnvironmentVariable, tlsCaEnvironmentVariable, tlsCertEnvironmentVariable, tlsKeyEnvironmentVariable} from './command-output.js'

export {nodeAddressDefault, nodeEnvironmentVariable, tlsCaEnvironmentVariable}

// Not oclif's `env` option: with `multiple` it would hand over DYN_NODE as one unsplit string.
// CommandOutput.clientFor reads --node, then DYN_NODE, then the default.
export const nodeFlag = Flags.string({
  description: `client API of the node to talk to: host:port, http://host:port or https://host:port (a node started with --tls-cert). Repeat it (or give a comma-separated list) to name fallbacks, tried in order when a node cannot be connected to [default: $${nodeEnvironmentVariable}, else ${nodeAddressDefault}]`,
  multiple: true,
  // One value per --node, so that `dyn get --node a:1 KEY` still reads KEY as the key.
  multipleNonGreedy: true,
  helpValue: 'host:port',
})

/**
 * --node for a command that acts on the node it reaches as itself (`the node that joins`): one
 * address, since a fallback would act in its place (CommandOutput.oneNodeClientFor refuses a list).
 */
export function oneNodeFlag(who: string): typeof nodeFlag {
  return Flags.string({
    description: `client API of ${who}: one address, host:port, http://host:port or https://host:port (a node started with --tls-cert); a list is refused, since a node tried after one that does not answer would act in its place [default: $${nodeEnvironmentVariable}, else ${nodeAddressDefault}]`,
    multiple: true,
    multipleNonGreedy: true,
    helpValue: 'host:port',
  })
}

// Not oclif's `env` option either: the fast path (fast-spec.ts) reads flags without one, and
// CommandOutput.clientTlsFor reads --tls-ca, then DYN_TLS_CA.
export const tlsCaFlag = Flags.string({
  description: `the cluster CA's certificate (PEM) to check the nodes' certificates with: the nodes are reached over HTTPS, addresses without a scheme included [default: $${tlsCaEnvironmentVariable}; without either, https:// addresses are checked against the system's CAs]`,
  helpValue: 'FILE',
})

// A client's own certificate, for nodes that ask for one. CommandOutput.clientTlsFor takes it and
// --tls-key from the flags when either is given, else from DYN_TLS_CERT and DYN_TLS_KEY.
export const tlsCertFlag = Flags.string({
  description: `your client certificate (PEM), for nodes started with --tls-client-ca: they serve only clients that present a certificate of their client CA. Give --tls-key with it [default: $${tlsCertEnvironmentVariable}]`,
  helpValue: 'FILE',
})

// The private key of the client certificate, read with it (see tlsCertFlag).
export const tlsKeyFlag = Flags.string({
  description: `the private key of --tls-cert (PEM, unencrypted) [default: $${tlsKeyEnvironmentVariable}]`,
  helpValue: 'FILE',
})

/** What every command that talks to a node takes for TLS: the CA to trust, and its own certificate and key. */
export const clientTlsFlags = {'tls-ca': tlsCaFlag, 'tls-cert': tlsCertFlag, 'tls-key': tlsKeyFlag}

/** The KEY argument of the commands that read or write one key. */
export const keyArg = Args.string({description: 'the key', required: true, ignoreStdin: true})

export const jsonFlag = Flags.boolean({description: 'print the result as JSON (stable, documented fields)', default: false})

/** The longest wait a Node timer keeps (2^31 - 1 ms, about 24.8 days). */
const timerMsMax = 2_147_483_647

// Bounds that say no at once to a number no node could take: a timeout past what a timer holds
// (Node fires a longer one after 1 ms) and counts of replicas past the most a key may have, which
// would otherwise reach the node rounded ("w=1e+21").
export const timeoutFlag = Flags.integer({description: 'give up on the node after this many milliseconds', default: 10_000, min: 1, max: timerMsMax})

export const nFlag = Flags.integer({char: 'n', description: 'replicas of the key (N); default: the cluster default', min: 1, max: replicasPerKeyMax})
export const rFlag = Flags.integer({char: 'r', description: 'replicas that must answer a read (R); default: the cluster default', min: 1, max: replicasPerKeyMax})
export const wFlag = Flags.integer({char: 'w', description: 'replicas that must acknowledge a write (W); default: the cluster default', min: 1, max: replicasPerKeyMax})
export const dwFlag = Flags.integer({description: 'of the W acknowledgements, how many must be durable (synced to disk)', min: 0, max: replicasPerKeyMax})
export const prFlag = Flags.integer({description: 'of the R answers, how many must come from home replicas (a strict quorum; default 0: fallbacks count too). At most r', min: 0, max: replicasPerKeyMax})
export const pwFlag = Flags.integer({description: 'of the W acknowledgements, how many must come from home replicas (a strict quorum; default 0: fallbacks keeping hints count too). At most w', min: 0, max: replicasPerKeyMax})
export const contextFlag = Flags.string({description: 'the context returned by an earlier read (supersedes exactly what that read saw)'})
export const explainFlag = Flags.boolean({description: "show the request's preference list, which replicas answered and how fast (fallbacks and the home each stood in for), home vs fallback answers counted, and what was repaired", default: false})
