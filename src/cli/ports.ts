/**
 * TCP ports on loopback: which of a list are taken (the check `dyn cluster up` makes before it
 * starts a node), and runs of free ones for the clusters that tests and benchmarks start.
 *
 * Free runs are drawn at random *below* the OS's ephemeral range and then confirmed free by
 * binding every one of them. A port the OS hands out for "port 0" comes from the ephemeral range,
 * which outgoing connections draw their local ports from too: such a port can be taken by some
 * client's connection between the check and the node's bind, and two processes asking at the
 * same moment get neighbouring ports whose runs overlap. Below that range only explicit binds
 * take ports, and a random start spreads concurrent test runs over some twenty thousand ports.
 * This is a best effort; `dyn cluster up` never trusts it and checks that the process answering
 * on a port is the node it started.
 */

import {randomInt} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {createServer} from 'node:net'
import type {Server} from 'node:net'

/** The lowest port a free run is drawn from: clear of the well-known services below 10000. */
const poolLowPort = 10_000
/** Where ephemeral ports start when the OS does not say (IANA's suggestion, used by macOS). */
const ephemeralLowPortDefault = 49_152
/** Attempts at finding a free run of ports before giving up. */
const attemptsMax = 50

/** Bind `port` on `host`: the listening server, or undefined when the port is taken. */
function bind(port: number, host: string): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(undefined))
    server.listen({port, host}, () => resolve(server))
  })
}

function close(servers: ReadonlyArray<Server | undefined>): Promise<void> {
  return Promise.all(servers.map((server) => new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve()))))).then(() => undefined)
}

/** The ports of `ports` that something already listens on (or that cannot be bound) on `host`. */
export async function portsInUse(ports: readonly number[], host = '127.0.0.1'): Promise<number[]> {
  // All bound at once, so that a list naming one port twice is caught as well.
  const servers: Array<Server | undefined> = []
  for (const port of ports) servers.push(await bind(port, host))
  await close(servers)
  return ports.filter((_, i) => servers[i] === undefined)
}

/** The first port of the OS's ephemeral range (Linux says; elsewhere IANA's default). */
function ephemeralLowPort(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (low !== undefined && Number.isInteger(low) && low > poolLowPort) return low
  } catch {
    // Not Linux: fall through to the default.
  }
  return ephemeralLowPortDefault
}

/** `count` consecutive ports, all free on 127.0.0.1 when this returns: the first of them. */
export async function freePortRange(count: number): Promise<number> {
  const highPort = ephemeralLowPort() - count
  if (highPort <= poolLowPort) throw new Error(`no room for ${count} consecutive ports below the ephemeral range`)
  for (let attempt = 0; attempt < attemptsMax; attempt += 1) {
    const base = randomInt(poolLowPort, highPort)
    const taken = await portsInUse(Array.from({length: count}, (_, i) => base + i))
    if (taken.length === 0) return base
  }
  throw new Error(`no ${count} consecutive free ports found on 127.0.0.1 after ${attemptsMax} attempts`)
}

/** Two disjoint runs of `count` free ports (client API ports, then internode ports), drawn as one. */
export async function freeClusterPorts(count: number): Promise<{port: number; rpcPort: number}> {
  const port = await freePortRange(2 * count)
  return {port, rpcPort: port + count}
}
