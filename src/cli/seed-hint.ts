/**
 * A seed that is a client API port, named for what it is. The node that refused it (`dyn start
 * --seeds`, `dyn cluster join`) could only guess the seed's internode port from a port layout
 * (src/membership/membership.ts: `notInternodeSeed`, whose details carry `seed` and
 * `suggestedSeed`). The seed answered in HTTP, so it is most likely a dyn node's client API, and
 * that node knows its own internode address: the CLI asks it (GET /cluster) and names that
 * address instead of the guess. When it does not say (another HTTP server, a node that asks for a
 * client certificate), the node's guess stands.
 */

import {DynClient} from '../client/http-client.js'
import type {ClientTls} from '../client/http-client.js'

/** How long the seed may take to say its internode address: the answer only improves a message. */
export const seedAskTimeoutMs = 2000

/** A refusal as the CLI holds it: its code, message and details. */
export interface SeedRefusal {
  readonly code: string
  readonly message: string
  readonly details: Record<string, unknown>
}

/**
 * The refusal with the seed's own internode address in place of the guess, when `refusal` is a
 * seed that is no internode port and the node answering at the seed says which address is its
 * internode one; else `refusal` as it is. `askedBy` is what the user gave the seed to (`--seeds`).
 */
export async function withSeedsInternodeAddress(refusal: SeedRefusal, askedBy: string, tls: ClientTls | undefined): Promise<SeedRefusal> {
  const seed = refusal.details.seed
  if (refusal.code !== 'bad_parameter' || typeof seed !== 'string' || typeof refusal.details.suggestedSeed !== 'string') return refusal
  const node = await internodeAddressAt(seed, tls)
  if (node === undefined) return refusal
  return {
    code: refusal.code,
    message: `the seed ${seed} is the client API port of ${node.name} (its dyn start --port), not an internode port: give ${askedBy} ${node.name}'s internode address, ${node.rpcAddress} (its --rpc-port)`,
    details: {...refusal.details, suggestedSeed: node.rpcAddress},
  }
}

/** The name and internode address of the dyn node whose client API answers at `address`; undefined when it does not say. */
export async function internodeAddressAt(address: string, tls: ClientTls | undefined): Promise<{name: string; rpcAddress: string} | undefined> {
  try {
    const answer = await new DynClient(address, seedAskTimeoutMs, tls === undefined ? {} : {tls}).getJson('/cluster')
    if (!answer.ok || typeof answer.body.node !== 'string' || !Array.isArray(answer.body.members)) return undefined
    const name = answer.body.node
    const self = (answer.body.members as Array<{name?: unknown; rpcAddress?: unknown}>).find((member) => member.name === name)
    return typeof self?.rpcAddress === 'string' ? {name, rpcAddress: self.rpcAddress} : undefined
  } catch {
    // Unreachable by now, or an address the client refuses: the guess stands.
    return undefined
  }
}
