/**
 * The TypeScript client library, what `import {DynClient} from 'dyn'` gives an application
 * (package.json "exports"; README "From TypeScript"). The CLI's own commands use the same
 * classes, so a program gets what `dyn put/get/delete` do: the quorum and context flags as
 * options, `overloaded` refusals retried after a jittered wait (Retry-After), a throttle per node
 * while it sheds, TLS with the cluster's CA, and the node's errors as values with stable codes.
 *
 *   DynClient               one node or a list to fall back on (server-driven coordination, paper §6.4)
 *   PartitionAwareClient    routes each key to one of its homes from a cached ring (client-driven, §6.4)
 */

export {DynClient} from './http-client.js'
export type {ApiError, ClientTls, DynClientOptions, GetResult, QuorumOptions, Sibling, WriteResult} from './http-client.js'
export {PartitionAwareClient} from './partition-aware-client.js'
export type {PartitionAwareOptions} from './partition-aware-client.js'
export {DynError} from '../errors.js'
export type {ErrorCode} from '../errors.js'
