/**
 * Addresses of nodes' client APIs as users type them: `host:port`, `[ipv6]:port`,
 * `http://host:port` or `https://host:port` (with an optional trailing slash). Parsing is strict, because a typo here
 * would otherwise surface much later as "cannot reach a node", which sends the user looking for
 * a dead node instead of at the command line.
 */

import type {Checked} from '../api/params.js'

export interface NodeAddress {
  /** Host name or IP address, without the brackets of an IPv6 literal. */
  readonly host: string
  readonly port: number
  /** `host:port` (brackets kept for IPv6), for messages. */
  readonly label: string
  /**
   * The scheme typed, when one was: `https` is reached over TLS, `http` in plain text. Without
   * one the client decides (HTTPS when it was given a CA to trust, `--tls-ca`), so that the
   * scheme-less addresses nodes advertise for each other work against a cluster with TLS too.
   */
  readonly scheme?: 'http' | 'https'
}

/** Nodes one client may be given: more than this is a mistake (a pasted list of keys?), not a cluster. */
export const nodeAddressesMax = 64

const addressPattern = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):([0-9]{1,5})\/?$/

const example = 'give host:port, http://host:port or https://host:port, e.g. 127.0.0.1:7070'

function bad(message: string): {ok: false; error: 'bad_parameter'; message: string} {
  return {ok: false, error: 'bad_parameter', message}
}

export function parseNodeAddress(text: string): Checked<NodeAddress> {
  const trimmed = text.trim()
  const shown = JSON.stringify(text)
  const typed = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(trimmed)?.[1]?.toLowerCase()
  if (typed !== undefined && typed !== 'http' && typed !== 'https') return bad(`node address ${shown}: dyn nodes serve HTTP or HTTPS, not ${typed}; ${example}`)
  const scheme = typed as 'http' | 'https' | undefined
  const withoutScheme = scheme === undefined ? trimmed : trimmed.slice(scheme.length + 3)
  const match = addressPattern.exec(withoutScheme)
  if (match === null) {
    const bare = withoutScheme.replace(/\/$/, '')
    if (/^[A-Za-z0-9.-]+$/.test(bare) || /^\[[0-9A-Fa-f:.]+\]$/.test(bare)) {
      return bad(`node address ${shown} has no port; ${example}`)
    }
    return bad(`node address ${shown} is not host:port; ${example}`)
  }
  const [, host = '', portText = ''] = match
  const port = Number(portText)
  if (port < 1 || port > 65535) return bad(`node address ${shown}: port ${portText} is not within 1..65535; ${example}`)
  return {ok: true, value: {host: host.startsWith('[') ? host.slice(1, -1) : host, port, label: `${host}:${port}`, ...(scheme === undefined ? {} : {scheme})}}
}

/** One or more addresses; each entry may itself be a comma-separated list (as DYN_NODE is). */
export function parseNodeList(entries: readonly string[]): Checked<NodeAddress[]> {
  const texts = entries.flatMap((entry) => entry.split(',')).map((text) => text.trim()).filter((text) => text !== '')
  if (texts.length === 0) return bad(`no node address given; ${example}`)
  if (texts.length > nodeAddressesMax) return bad(`${texts.length} node addresses given; at most ${nodeAddressesMax} are tried`)
  const addresses: NodeAddress[] = []
  for (const text of texts) {
    const parsed = parseNodeAddress(text)
    if (!parsed.ok) return parsed
    addresses.push(parsed.value)
  }
  return {ok: true, value: addresses}
}
