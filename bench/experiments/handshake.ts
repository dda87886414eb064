/**
 * What the cluster secret costs (issue 16 item 3): the internode handshake (src/transport/
 * handshake.ts) adds one round trip and two HMACs to each new connection, and nothing after it.
 * Measured on loopback with two real TCP transports in this process, the variants alternated so
 * that the machine's noise falls on both alike:
 *
 *   - connect: a new connection's first request, from the connect to the answer, against the
 *     second request on the same connection (a plain round trip); the secret's extra cost is the
 *     difference between the two variants' first requests;
 *   - throughput: requests per second on one open connection, 64 in flight, 100-byte bodies.
 *
 *   node dist/bench/experiments/handshake.js [--connections 400] [--seconds 3] [--rounds 3]
 */

import {systemClock, systemScheduler} from '../../src/node/system-time.js'
import {MessageType} from '../../src/transport/message-type.js'
import {startTcpTransport} from '../../src/transport/tcp-transport.js'
import type {Transport} from '../../src/transport/transport.js'
import {experimentFlags, markdownTable, positiveInteger} from './common.js'

const {connections: connectionCount, seconds: throughputSeconds, rounds} = experimentFlags({
  name: 'handshake',
  measures:
    "What the cluster secret costs: the internode handshake adds one round trip and two HMACs to each new connection. Two real TCP transports in this process, with and without a secret, alternated: a new connection's first request against its second, and requests per second on one open connection.",
  flags: {
    connections: {read: positiveInteger, value: 'N', default: '400', description: 'new connections timed per variant'},
    seconds: {read: positiveInteger, value: 'S', default: '3', description: 'seconds of each throughput run'},
    rounds: {read: positiveInteger, value: 'R', default: '3', description: 'throughput runs per variant'},
  },
  examples: ['node dist/bench/experiments/handshake.js --connections 400 --seconds 3 --rounds 6'],
})
const inFlight = 64
const requestTimeoutMs = 5000
const body = Buffer.alloc(100, 7)
const secret = Buffer.from('a secret of the handshake experiment, 32+ bytes long')

type Variant = 'no secret' | 'secret'
const variants: readonly Variant[] = ['no secret', 'secret']

function transport(nodeName: string, variant: Variant): Promise<Transport> {
  return startTcpTransport({
    host: '127.0.0.1',
    port: 0,
    nodeName,
    ...(variant === 'secret' ? {secret} : {}),
    clock: systemClock,
    scheduler: systemScheduler,
    handler: async (_type, request) => request,
  })
}

async function roundTrip(from: Transport, to: string): Promise<number> {
  const startedNs = process.hrtime.bigint()
  const answer = await from.request(to, MessageType.Ping, body, requestTimeoutMs)
  if (!answer.ok) throw new Error(`request failed: ${answer.message}`)
  return Number(process.hrtime.bigint() - startedNs) / 1e6
}

/** One new connection: its first request (connect and handshake included), then a second. */
async function connectOnce(acceptor: Transport, variant: Variant): Promise<{firstMs: number; secondMs: number}> {
  const opener = await transport('opener', variant)
  try {
    const firstMs = await roundTrip(opener, acceptor.address)
    const secondMs = await roundTrip(opener, acceptor.address)
    return {firstMs, secondMs}
  } finally {
    await opener.close()
  }
}

async function throughput(variant: Variant): Promise<number> {
  const acceptor = await transport('acceptor', variant)
  const opener = await transport('opener', variant)
  try {
    await roundTrip(opener, acceptor.address)
    const endMs = performance.now() + throughputSeconds * 1000
    let done = 0
    // Bounded by the deadline: each worker sends one request at a time until it passes.
    const worker = async (): Promise<void> => {
      while (performance.now() < endMs) {
        const answer = await opener.request(acceptor.address, MessageType.Ping, body, requestTimeoutMs)
        if (!answer.ok) throw new Error(`request failed: ${answer.message}`)
        done += 1
      }
    }
    const startedMs = performance.now()
    await Promise.all(Array.from({length: inFlight}, worker))
    return done / ((performance.now() - startedMs) / 1000)
  } finally {
    await Promise.all([opener.close(), acceptor.close()])
  }
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? Number.NaN
}

const acceptors = {'no secret': await transport('acceptor', 'no secret'), secret: await transport('acceptor', 'secret')}
const first: Record<Variant, number[]> = {'no secret': [], secret: []}
const second: Record<Variant, number[]> = {'no secret': [], secret: []}
process.stderr.write(`connect: ${connectionCount} new connections per variant, alternated\n`)
for (let index = 0; index < connectionCount; index += 1) {
  for (const variant of index % 2 === 0 ? variants : [...variants].reverse()) {
    const measured = await connectOnce(acceptors[variant], variant)
    first[variant].push(measured.firstMs)
    second[variant].push(measured.secondMs)
  }
}
await Promise.all(Object.values(acceptors).map((acceptor) => acceptor.close()))

const rates: Record<Variant, number[]> = {'no secret': [], secret: []}
for (let round = 0; round < rounds; round += 1) {
  for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
    process.stderr.write(`throughput: ${variant}, round ${round + 1} of ${rounds}\n`)
    rates[variant].push(await throughput(variant))
  }
}

const rows = variants.map((variant) => {
  const sortedFirst = [...first[variant]].sort((x, y) => x - y)
  const sortedSecond = [...second[variant]].sort((x, y) => x - y)
  return [
    variant,
    percentile(sortedFirst, 0.5).toFixed(3),
    percentile(sortedFirst, 0.99).toFixed(3),
    percentile(sortedSecond, 0.5).toFixed(3),
    rates[variant].map((rate) => Math.round(rate).toLocaleString('en-US')).join(', '),
  ]
})
const median = (variant: Variant): number => percentile([...first[variant]].sort((x, y) => x - y), 0.5)
process.stdout.write(
  `${markdownTable(['variant', 'first request on a new connection, median ms', 'p99 ms', 'second request, median ms', `requests/s on one connection (${inFlight} in flight), per round`], rows)}\n\n` +
    `the secret adds ${(median('secret') - median('no secret')).toFixed(3)} ms to a new connection's first request (medians)\n`,
)
