/**
 * Hostile sockets against a real `dyn start` process (issue 16, "Hostile input"), on both its
 * ports: truncated and oversized frames, an unknown protocol version in Hello, unknown message
 * types after Hello, a slow sender, a half-closed socket, and 10,000 idle connections. After each,
 * the node still answers GET and PUT, a value written before reads back unchanged, and its peak
 * memory (VmHWM) stays bounded; /stats counts what it refused. Peaks are printed for the report.
 */

import assert from 'node:assert/strict'
import {readFile} from 'node:fs/promises'
import {connect, type Socket} from 'node:net'
import {after, before, describe, it} from 'node:test'
import {encodeFrame, protocolVersion} from '../../src/transport/frame.js'
import {MessageType} from '../../src/transport/message-type.js'
import {rawHandshake, startCluster, sleep, waitFor, type TestCluster} from './harness.js'

/** A bound on the node's peak resident memory through all of this: it idles near 100 MiB. */
const peakMemoryBytesMax = 512 * 1024 * 1024
const idleConnections = 10_000
const sentinel = '/kv/hostile-sentinel'

interface Opened {
  readonly socket: Socket
  closed: boolean
  received: number
}

function open(port: number): Promise<Opened> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const opened: Opened = {socket, closed: false, received: 0}
    socket.on('data', (chunk: Buffer) => {
      opened.received += chunk.length
    })
    // A refused or reset connection is what some cases expect: its close is what they look at.
    socket.on('error', () => undefined)
    socket.on('close', () => {
      opened.closed = true
    })
    socket.once('connect', () => resolve(opened))
    socket.once('close', () => resolve(opened))
  })
}

const hello = (version: number): Buffer => encodeFrame({type: MessageType.Hello, requestId: 0, body: {protocolVersion: version, nodeName: 'hostile'}})

async function peakMemoryBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const match = /VmHWM:\s+(\d+) kB/.exec(status)
  return match === null ? Number.NaN : Number(match[1]) * 1024
}

describe('a node under hostile sockets', () => {
  let c: TestCluster
  let pid: number
  let rpcPort: number
  let apiPort: number
  before(async () => {
    c = await startCluster(1)
    const node = c.cluster.nodes[0] as {rpcPort: number; port: number; pid?: number}
    rpcPort = node.rpcPort
    apiPort = node.port
    // The node's own pid, as its /health answers (cluster.json names the wrapper around it).
    pid = ((await (await fetch(c.url(0, '/health'))).json()) as {pid: number}).pid
    assert.equal((await fetch(c.url(0, sentinel), {method: 'PUT', body: 'untouched'})).status, 204)
  })
  after(() => c.stop())

  /** The node serves: the sentinel reads back unchanged, and a new write is taken. */
  async function stillServes(what: string): Promise<void> {
    const read = await fetch(c.url(0, sentinel))
    assert.equal(read.status, 200, what)
    assert.equal(await read.text(), 'untouched', what)
    assert.equal((await fetch(c.url(0, `/kv/after-${what.replace(/\W+/g, '-')}`), {method: 'PUT', body: 'x'})).status, 204, what)
    const peak = await peakMemoryBytes(pid)
    console.log(`# ${what}: peak memory ${(peak / 2 ** 20).toFixed(1)} MiB`)
    assert.ok(peak < peakMemoryBytesMax, `${what}: peak memory ${peak} bytes`)
  }

  async function rejected(): Promise<Record<string, {total: number; reasons: Record<string, number>}>> {
    return ((await (await fetch(c.url(0, '/stats'))).json()) as {rejected: Record<string, {total: number; reasons: Record<string, number>}>}).rejected
  }

  it('closes an internode connection whose frame is truncated, oversized, of another version, or not a request, and counts each', async () => {
    // A case with `handshake` first says Hello as a node of the cluster does (with its secret).
    const cases: Array<{name: string; handshake?: boolean; bytes: Buffer; end: boolean}> = [
      {name: 'a truncated frame then close', bytes: hello(protocolVersion).subarray(0, 7), end: true},
      {name: 'a half-closed socket after a partial frame', handshake: true, bytes: encodeFrame({type: MessageType.Ping, requestId: 1, body: {from: 'x'}}).subarray(0, 9), end: true},
      {name: 'an oversized frame length', bytes: Buffer.from([0xff, 0xff, 0xff, 0xf0, protocolVersion]), end: false},
      {name: 'an unknown protocol version in Hello', bytes: hello(99), end: false},
    ]
    const before = await rejected()
    for (const {name, handshake, bytes, end} of cases) {
      const opened = await open(rpcPort)
      if (handshake === true) await rawHandshake(opened.socket, c.dir, 'hostile')
      if (end) opened.socket.end(bytes)
      else opened.socket.write(bytes)
      await waitFor(`the node to close after ${name}`, async () => (opened.closed ? true : undefined), 30_000)
      await stillServes(name)
    }
    // Unknown message types after a valid Hello are answered bad_request, and the connection serves on.
    const peer = await open(rpcPort)
    await rawHandshake(peer.socket, c.dir, 'hostile')
    peer.received = 0
    peer.socket.write(Buffer.concat([encodeFrame({type: 200, requestId: 5, body: null}), encodeFrame({type: MessageType.Response, requestId: 6, body: null})]))
    await waitFor('two error answers', async () => (peer.received > 0 ? true : undefined), 30_000)
    assert.equal(peer.closed, false)
    peer.socket.destroy()
    const counts = await waitFor('the refusals to be counted', async () => {
      const now = await rejected()
      return (now.frames?.total ?? 0) - (before.frames?.total ?? 0) >= 3 && (now.hellos?.total ?? 0) > (before.hellos?.total ?? 0) && (now.requests?.total ?? 0) >= 2 ? now : undefined
    }, 30_000)
    assert.ok((counts.frames?.reasons.truncated ?? 0) >= 2)
    assert.ok((counts.frames?.reasons.frame_too_large ?? 0) >= 1)
    assert.ok((counts.hellos?.reasons.bad_hello ?? 0) >= 1)
    await stillServes('unknown message types')
  })

  it('serves others while a slow sender trickles a Hello a byte a second', async () => {
    const slow = await open(rpcPort)
    const bytes = hello(protocolVersion)
    for (let i = 0; i < 4; i += 1) {
      slow.socket.write(bytes.subarray(i, i + 1))
      await stillServes(`slow sender, byte ${i + 1}`)
      await sleep(1000)
    }
    // The Hello timeout (10 s) closes a connection that never finished its Hello.
    await waitFor('the Hello timeout to close the slow sender', async () => (slow.closed ? true : undefined), 60_000)
    assert.ok(((await rejected()).hellos?.reasons.hello_timeout ?? 0) >= 1)
    const slowHttp = await open(apiPort)
    for (const byte of Buffer.from('GET /h')) {
      slowHttp.socket.write(Buffer.from([byte]))
      await stillServes('slow HTTP sender')
      await sleep(200)
    }
    slowHttp.socket.destroy()
  })

  for (const port of ['internode', 'HTTP'] as const) {
    it(`survives ${idleConnections} idle connections on its ${port} port, refusing those over its cap`, async () => {
      const target = port === 'internode' ? rpcPort : apiPort
      const sockets: Opened[] = []
      try {
        // In batches, so that the test process's own connects do not overrun the listen backlog.
        for (let batch = 0; batch < idleConnections / 500; batch += 1) {
          sockets.push(...(await Promise.all(Array.from({length: 500}, () => open(target)))))
        }
        await sleep(2000)
        const open_ = sockets.filter((opened) => !opened.closed).length
        console.log(`# ${port}: ${open_} of ${idleConnections} idle connections still open`)
        assert.ok(open_ <= 4096 + 64, `${open_} idle connections kept open`)
        await stillServes(`${idleConnections} idle ${port} connections`)
        const counts = await rejected()
        const refused = port === 'internode' ? counts.connections?.reasons.over_limit : counts.http?.reasons.over_limit
        assert.ok((refused ?? 0) > 0, `connections over the cap counted: ${JSON.stringify(counts)}`)
      } finally {
        for (const opened of sockets) opened.socket.destroy()
      }
      await stillServes(`after ${port} connections closed`)
    })
  }
})
