/** Free TCP ports on loopback, asked of the OS: for clusters that tests and benchmarks start. */

import {createServer} from 'node:net'

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

function osPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as {port: number}).port
      server.close(() => resolve(port))
    })
  })
}

/** Attempts at finding a free run of ports before giving up. */
const attemptsMax = 50

/** `count` consecutive free ports starting at one the OS handed out. */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < attemptsMax; attempt += 1) {
    const base = await osPort()
    if (base + count > 65535) continue
    let free = true
    for (let port = base + 1; port < base + count && free; port += 1) free = await canListen(port)
    if (free) return base
  }
  throw new Error(`no ${count} consecutive free ports found on 127.0.0.1`)
}

/** Two disjoint runs of `count` free ports: client API ports and internode ports. */
export async function freeClusterPorts(count: number): Promise<{port: number; rpcPort: number}> {
  const port = await freePortRange(count)
  for (let attempt = 0; attempt < attemptsMax; attempt += 1) {
    const rpcPort = await freePortRange(count)
    if (Math.abs(rpcPort - port) >= count) return {port, rpcPort}
  }
  throw new Error('no second run of free ports found on 127.0.0.1')
}
