/**
 * `dyn start`'s addresses: what the node binds (`--listen`) and what it tells the cluster and
 * clients (`--advertise`), as Cassandra's `listen_address` and `broadcast_address`; `--host`
 * sets both. Pure: the machine's addresses come in, for the messages that ask to pick one.
 *
 * The rules, in order:
 * - `--host` with `--listen` or `--advertise` is refused: it sets both.
 * - Without any of them, both are 127.0.0.1, a node for this machine only.
 * - `--listen` alone advertises what it listens on, when that is one address; `--listen 0.0.0.0`
 *   alone is refused, since the node would not know what to tell the others.
 * - An unspecified address (`0.0.0.0`, `::`) is never advertised: every peer told it connects to
 *   itself (they all did, and showed each other up, in issue 15).
 */

import net from 'node:net'
import {isUnspecifiedHost} from '../transport/tcp-transport.js'

export interface AddressFlags {
  readonly host?: string | undefined
  readonly listen?: string | undefined
  readonly advertise?: string | undefined
}

export type NodeAddresses =
  | {readonly ok: true; readonly listen: string; readonly advertise: string}
  | {readonly ok: false; readonly error: 'bad_parameter'; readonly message: string}

export const defaultHost = '127.0.0.1'

/** A host name: letters, digits, '-' and '.', as DNS allows. */
const hostNamePattern = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/

export function nodeAddresses(flags: AddressFlags, machineAddresses: readonly string[]): NodeAddresses {
  const theirs = machineAddresses.length === 0 ? '' : ` (this machine's: ${machineAddresses.join(', ')})`
  if (flags.host !== undefined && (flags.listen !== undefined || flags.advertise !== undefined)) {
    const other = flags.listen !== undefined ? '--listen' : '--advertise'
    return refused(`--host sets both --listen and --advertise, so it cannot go with ${other}: give --host alone, or --listen and --advertise`)
  }
  const given: Array<[string, string | undefined]> = [['--host', flags.host], ['--listen', flags.listen], ['--advertise', flags.advertise]]
  for (const [flag, value] of given) {
    if (value !== undefined && hostOf(value) === undefined) {
      return refused(`${flag} "${value}" is not an IP address or a host name${theirs}`)
    }
  }
  const listen = hostOf(flags.listen ?? flags.host ?? defaultHost) as string
  const advertiseFlag = flags.advertise !== undefined ? '--advertise' : flags.host !== undefined ? '--host' : '--listen'
  const advertised = flags.advertise ?? flags.host ?? flags.listen ?? defaultHost
  const advertise = hostOf(advertised) as string
  if (isUnspecifiedHost(advertise)) {
    if (advertiseFlag === '--listen') {
      return refused(`--listen ${advertised} listens on every interface, so the other nodes and clients must be told which address reaches this node: add --advertise ADDRESS${theirs}`)
    }
    if (advertiseFlag === '--advertise') {
      return refused(`--advertise ${advertised}: no peer or client can connect to an unspecified address (each would reach itself); advertise the address the others reach this node at${theirs}`)
    }
    return refused(
      `--host ${advertised} would be advertised, and no peer or client can connect to it (each would reach itself): ` +
        `to listen on every interface, give --listen ${advertised} --advertise ADDRESS, with the address the others reach this node at${theirs}`,
    )
  }
  return {ok: true, listen, advertise}
}

/** The internode port when --rpc-port is not given: the client port + this. */
export const rpcPortOffset = 1000

/**
 * `dyn start`'s internode port: --rpc-port when given, else --port + 1000. With --port 0 (a port
 * the OS picks) the internode port is picked by the OS too: --port + 1000 would have been port
 * 1000, a fixed privileged port. A default past 65535 is refused here, naming --port, rather
 * than by the listen that fails on it ("assertion failed: port is 0..65535; choose another
 * --rpc-port", of a flag that was never given) after the node has made its identity.
 */
export function internodePort(port: number, rpcPort: number | undefined): {readonly ok: true; readonly rpcPort: number} | {readonly ok: false; readonly error: 'bad_parameter'; readonly message: string} {
  if (rpcPort !== undefined) return {ok: true, rpcPort}
  if (port === 0) return {ok: true, rpcPort: 0}
  const derived = port + rpcPortOffset
  if (derived > 65535) {
    return {ok: false, error: 'bad_parameter', message: `--port ${port}: the internode port defaults to --port + ${rpcPortOffset}, ${derived}, past 65535; give --rpc-port PORT, or a --port of at most ${65535 - rpcPortOffset}`}
  }
  return {ok: true, rpcPort: derived}
}

/** The host a flag names (an IPv6 address loses its brackets); undefined when it is no address or host name. */
function hostOf(value: string): string | undefined {
  const bare = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value
  if (net.isIP(bare) !== 0) return bare
  if (bare === value && hostNamePattern.test(value)) return value
  return undefined
}

function refused(message: string): NodeAddresses {
  return {ok: false, error: 'bad_parameter', message}
}
