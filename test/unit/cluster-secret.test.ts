/**
 * The cluster secret on the internode port (src/transport/handshake.ts, tcp-transport.ts): nodes
 * with the same secret talk; a node without it, with another, or a process that only replays a
 * recorded handshake is refused with `unauthenticated`, both sides log why (never the secret),
 * and nothing it sent reaches the node's handler. An opener never sends a request to an acceptor
 * that has not proved it holds the secret.
 */

import assert from 'node:assert/strict'
import {chmod, chown, mkdtemp, rm, stat, symlink, writeFile} from 'node:fs/promises'
import net from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {test, type TestContext} from 'node:test'
import type {DynError} from '../../src/errors.js'
import {readSecretFile, writeNewSecretFile} from '../../src/node/cluster-secret.js'
import {systemClock, systemScheduler} from '../../src/node/system-time.js'
import {encodeFrame, FrameDecoder, frameBytesMax, protocolVersion, type Frame} from '../../src/transport/frame.js'
import {acceptorProof, handshakeNonceBytes, openerProof, proofMatches} from '../../src/transport/handshake.js'
import {MessageType} from '../../src/transport/message-type.js'
import {unauthenticatedCode} from '../../src/transport/rpc-common.js'
import {startTcpTransport, type TcpTransportOptions} from '../../src/transport/tcp-transport.js'
import type {RequestHandler, RpcResult, Transport} from '../../src/transport/transport.js'

const host = '127.0.0.1'
const requestTimeoutMs = 5000
const secret = Buffer.from('0123456789abcdef0123456789abcdef')
const otherSecret = Buffer.from('fedcba9876543210fedcba9876543210')

interface Started {
  readonly transport: Transport
  /** Every request the node's handler was given. */
  readonly handled: Array<{type: number; fromNode: string}>
  readonly log: string[]
}

async function start(t: TestContext, nodeName: string, extra: Partial<TcpTransportOptions> = {}): Promise<Started> {
  const handled: Started['handled'] = []
  const log: string[] = []
  const handler: RequestHandler = async (type, body, fromNode) => {
    handled.push({type, fromNode})
    return {type, body, fromNode}
  }
  const transport = await startTcpTransport({host, port: 0, nodeName, handler, clock: systemClock, scheduler: systemScheduler, log: (line) => log.push(line), ...extra})
  t.after(() => transport.close())
  return {transport, handled, log}
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1))
}

/** Resolves once the node has logged a line with `text`; fails the test after 5 s of waiting. */
async function logged(node: Started, text: string): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt += 1) {
    if (node.log.some((line) => line.includes(text))) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  assert.fail(`no log line says "${text}":\n${node.log.join('\n')}`)
}

function refusal(result: RpcResult): {code: string | undefined; message: string} {
  assert.equal(result.ok, false, 'the request must be refused')
  const failed = result as {code?: string; message: string}
  return {code: failed.code, message: failed.message}
}

test('the proofs: each side\'s depends on the secret, both nonces and the opener\'s name, and the two never stand for each other', () => {
  const openerNonce = Buffer.alloc(handshakeNonceBytes, 1)
  const acceptorNonce = Buffer.alloc(handshakeNonceBytes, 2)
  const proof = acceptorProof(secret, 'n1', openerNonce, acceptorNonce)
  assert.ok(proofMatches(proof, acceptorProof(secret, 'n1', openerNonce, acceptorNonce)))
  assert.ok(!proofMatches(proof, acceptorProof(otherSecret, 'n1', openerNonce, acceptorNonce)))
  assert.ok(!proofMatches(proof, acceptorProof(secret, 'n2', openerNonce, acceptorNonce)))
  assert.ok(!proofMatches(proof, acceptorProof(secret, 'n1', acceptorNonce, openerNonce)))
  assert.ok(!proofMatches(proof, acceptorProof(secret, 'n1', openerNonce, Buffer.alloc(handshakeNonceBytes, 3))))
  // The opener's proof over the same inputs differs: an acceptor's proof cannot be reflected.
  assert.ok(!proofMatches(proof, openerProof(secret, 'n1', openerNonce, acceptorNonce)))
  assert.ok(!proofMatches(proof, undefined))
  assert.ok(!proofMatches(proof, proof.subarray(1)))
  assert.ok(!proofMatches(proof, 'a string'))
})

test('two nodes with the same secret talk both ways', async (t) => {
  const a = await start(t, 'a', {secret})
  const b = await start(t, 'b', {secret})
  assert.deepEqual(await a.transport.request(b.transport.address, MessageType.Gossip, 'hi', requestTimeoutMs), {ok: true, body: {type: MessageType.Gossip, body: 'hi', fromNode: 'a'}})
  assert.ok((await b.transport.request(a.transport.address, MessageType.Ping, null, requestTimeoutMs)).ok)
  assert.deepEqual(b.handled, [{type: MessageType.Gossip, fromNode: 'a'}])
  assert.equal(a.transport.peerState(b.transport.address), 'connected')
})

test('a node without the secret is refused by one with it: told why, logged on both sides, nothing handled', async (t) => {
  const member = await start(t, 'member', {secret})
  const stranger = await start(t, 'stranger')
  const result = await stranger.transport.request(member.transport.address, MessageType.ReplicaPut, {key: 'k'}, requestTimeoutMs)
  const {code, message} = refusal(result)
  assert.equal(code, unauthenticatedCode)
  assert.match(message, /member requires the cluster secret: start stranger with the cluster's --secret-file/)
  // During the back-off that follows, requests fail at once with the same reason.
  const again = refusal(await stranger.transport.request(member.transport.address, MessageType.Gossip, null, requestTimeoutMs))
  assert.equal(again.code, unauthenticatedCode)
  assert.deepEqual(member.handled, [])
  assert.ok(member.log.some((line) => /refused the connection from .* \(says it is stranger\): it sent no proof of the cluster secret/.test(line)), member.log.join('\n'))
  assert.ok(stranger.log.some((line) => line.includes('refused the connection')), stranger.log.join('\n'))
})

test('a node with the secret refuses to talk to one without: its requests go nowhere', async (t) => {
  const member = await start(t, 'member', {secret})
  const open = await start(t, 'open')
  const {code, message} = refusal(await member.transport.request(open.transport.address, MessageType.ReplicaPut, {key: 'k'}, requestTimeoutMs))
  assert.equal(code, unauthenticatedCode)
  assert.match(message, /open runs without a cluster secret and member with one/)
  assert.deepEqual(open.handled, [])
})

test('nodes with different secrets refuse each other both ways, and no log holds either secret', async (t) => {
  const a = await start(t, 'a', {secret})
  const b = await start(t, 'b', {secret: otherSecret})
  const fromA = refusal(await a.transport.request(b.transport.address, MessageType.ReplicaPut, {key: 'k'}, requestTimeoutMs))
  assert.equal(fromA.code, unauthenticatedCode)
  assert.match(fromA.message, /does not prove that it holds this cluster's secret/)
  const fromB = refusal(await b.transport.request(a.transport.address, MessageType.ReplicaPut, {key: 'k'}, requestTimeoutMs))
  assert.equal(fromB.code, unauthenticatedCode)
  assert.deepEqual(a.handled, [])
  assert.deepEqual(b.handled, [])
  // The acceptor logs it too: the opener hung up before proving the secret.
  await logged(b, '(says it is a) closed before it proved the cluster secret')
  const logs = [...a.log, ...b.log].join('\n')
  for (const bytes of [secret, otherSecret]) {
    assert.ok(!logs.includes(bytes.toString()) && !logs.includes(bytes.toString('hex')) && !logs.includes(bytes.toString('base64')), 'a log line holds a secret')
  }
})

/**
 * Opens a raw socket to `port`, writes `bytes`, and resolves with the frames that came back
 * before the node closed it (or, with `firstOnly`, once the first frame came).
 */
function framesUntilClose(t: TestContext, port: number, bytes: Buffer, firstOnly = false): Promise<Frame[]> {
  return new Promise<Frame[]>((resolve) => {
    const received: Frame[] = []
    const decoder = new FrameDecoder(frameBytesMax)
    const socket = net.connect({host, port}, () => socket.write(bytes))
    t.after(() => socket.destroy())
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      const decoded = decoder.push(chunk)
      if (decoded.ok) received.push(...decoded.frames)
      if (firstOnly && received.length > 0) socket.destroy()
    })
    socket.on('close', () => resolve(received))
  })
}

/** A raw TCP server that records every frame an opener sends it, and answers each Hello with `answer`. */
async function rawAcceptor(t: TestContext, answer: (hello: Frame) => Buffer | undefined): Promise<{address: string; frames: Frame[]}> {
  const frames: Frame[] = []
  const server = net.createServer((socket) => {
    const decoder = new FrameDecoder(frameBytesMax)
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      const decoded = decoder.push(chunk)
      if (!decoded.ok) return
      for (const frame of decoded.frames) {
        frames.push(frame)
        if (frame.type === MessageType.Hello) {
          const reply = answer(frame)
          if (reply !== undefined) socket.write(reply)
        }
      }
    })
  })
  await new Promise<void>((resolve) => server.listen({host, port: 0}, resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return {address: `${host}:${(server.address() as net.AddressInfo).port}`, frames}
}

test('an acceptor that cannot prove the secret gets the Hello and nothing else: no request reaches it', async (t) => {
  const member = await start(t, 'member', {secret})
  // It answers with a challenge whose proof is made without the secret.
  const impostor = await rawAcceptor(t, () => encodeFrame({type: MessageType.HelloChallenge, requestId: 0, body: {nonce: Buffer.alloc(handshakeNonceBytes, 7), proof: Buffer.alloc(32, 9)}}))
  const {code} = refusal(await member.transport.request(impostor.address, MessageType.ReplicaPut, {key: 'k', value: 'private'}, requestTimeoutMs))
  assert.equal(code, unauthenticatedCode)
  assert.deepEqual(impostor.frames.map((frame) => frame.type), [MessageType.Hello])
  // A silent impostor gets nothing either: the request waits for a proof that never comes.
  const silent = await rawAcceptor(t, () => undefined)
  const quiet = await member.transport.request(silent.address, MessageType.ReplicaPut, {key: 'k'}, 300)
  assert.equal(quiet.ok, false)
  assert.deepEqual(silent.frames.map((frame) => frame.type), [MessageType.Hello])
})

test('a recorded handshake replayed on a new connection is refused: the acceptor\'s nonce is fresh', async (t) => {
  const member = await start(t, 'member', {secret})
  // Record a real opener's Hello and proof, by playing an acceptor that holds the secret.
  const recorded: Buffer[] = []
  const recorder = await rawAcceptor(t, (hello) => {
    const openerNonce = Buffer.from((hello.body as {nonce: Uint8Array}).nonce)
    const acceptorNonce = Buffer.alloc(handshakeNonceBytes, 5)
    recorded.push(encodeFrame(hello))
    return encodeFrame({type: MessageType.HelloChallenge, requestId: 0, body: {nonce: acceptorNonce, proof: acceptorProof(secret, 'member', openerNonce, acceptorNonce)}})
  })
  assert.equal((await member.transport.request(recorder.address, MessageType.Gossip, 'x', 300)).ok, false, 'the recorder never answers the request')
  const proofFrame = recorder.frames.find((frame) => frame.type === MessageType.HelloProof)
  assert.ok(proofFrame !== undefined, 'the opener answered the challenge with its proof')
  assert.ok(recorder.frames.some((frame) => frame.type === MessageType.Gossip), 'then sent its request')
  recorded.push(encodeFrame(proofFrame))

  const target = await start(t, 'target', {secret})
  const answered = await framesUntilClose(t, portOf(target.transport.address), Buffer.concat([...recorded, encodeFrame({type: MessageType.ReplicaPut, requestId: 1, body: {key: 'k'}})]))
  assert.deepEqual(answered.map((frame) => frame.type), [MessageType.HelloChallenge, MessageType.ErrorResponse])
  assert.equal((answered[1]?.body as {code?: string}).code, unauthenticatedCode)
  assert.deepEqual(target.handled, [])
  assert.ok(target.log.some((line) => line.includes('its proof does not match this cluster\'s secret')), target.log.join('\n'))
})

test('a request sent before the proof closes the connection, unhandled', async (t) => {
  const member = await start(t, 'member', {secret})
  const hello = encodeFrame({type: MessageType.Hello, requestId: 0, body: {protocolVersion, nodeName: 'eager', nonce: Buffer.alloc(handshakeNonceBytes, 1)}})
  // Resolves once the node has closed the connection.
  await framesUntilClose(t, portOf(member.transport.address), Buffer.concat([hello, encodeFrame({type: MessageType.ReplicaPut, requestId: 1, body: {key: 'k'}})]))
  assert.deepEqual(member.handled, [])
  assert.ok(member.log.some((line) => line.includes('instead of its proof')), member.log.join('\n'))
})

test('a secret file: read without the whitespace it ends with; refused when missing, open to others, too short or not a file; a new one is 0600 and never replaces one', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dyn-secret-'))
  t.after(() => rm(dir, {recursive: true, force: true}))
  const file = path.join(dir, 'cluster.secret')
  await writeNewSecretFile(file)
  assert.equal((await stat(file)).mode & 0o777, 0o600)
  const made = await readSecretFile(file)
  assert.match(made.toString(), /^[0-9a-f]{64}$/)
  await assert.rejects(writeNewSecretFile(file), /EEXIST/)
  assert.deepEqual(await readSecretFile(file), made, 'the secret is unchanged')

  const typed = path.join(dir, 'typed')
  await writeFile(typed, 'a passphrase of some length\r\n', {mode: 0o600})
  assert.equal((await readSecretFile(typed)).toString(), 'a passphrase of some length')
  // A copy that differs only in how it ends is the same secret (an editor's blank line, a tab).
  const copied = path.join(dir, 'copied')
  await writeFile(copied, `${made.toString()}\n\n`, {mode: 0o600})
  assert.deepEqual(await readSecretFile(copied), made)
  await writeFile(copied, `${made.toString()} \t\r\n`, {mode: 0o600})
  assert.deepEqual(await readSecretFile(copied), made)
  const refusedWith = async (target: string, pattern: RegExp): Promise<void> => {
    await assert.rejects(readSecretFile(target), (error: DynError) => error.code === 'bad_parameter' && pattern.test(error.message))
  }
  await refusedWith(path.join(dir, 'missing'), /no such file/)
  await refusedWith(dir, /not a file \(a folder\); give the file that holds the cluster's secret/)
  await chmod(typed, 0o640)
  await refusedWith(typed, /readable or writable by others \(mode 640\).*chmod 600/)
  const short = path.join(dir, 'short')
  await writeFile(short, 'tooshort\n', {mode: 0o600})
  await refusedWith(short, /8 bytes; a secret has at least 16/)
  const empty = path.join(dir, 'empty')
  await writeFile(empty, '', {mode: 0o600})
  await refusedWith(empty, /empty/)
})

test('nonces are fresh: a real opener\'s handshake recorded on the way and replayed to the same acceptor is refused', async (t) => {
  const target = await start(t, 'target', {secret})
  const member = await start(t, 'member', {secret})
  // A relay between member and target that records what member sends.
  const sent: Buffer[][] = []
  const relay = net.createServer((inbound) => {
    const chunks: Buffer[] = []
    sent.push(chunks)
    const outbound = net.connect({host, port: portOf(target.transport.address)})
    inbound.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      outbound.write(chunk)
    })
    outbound.on('data', (chunk: Buffer) => inbound.write(chunk))
    for (const socket of [inbound, outbound]) socket.on('error', () => {})
    inbound.on('close', () => outbound.destroy())
    outbound.on('close', () => inbound.destroy())
  })
  await new Promise<void>((resolve) => relay.listen({host, port: 0}, resolve))
  t.after(() => new Promise<void>((resolve) => relay.close(() => resolve())))
  const relayAddress = `${host}:${(relay.address() as net.AddressInfo).port}`
  assert.ok((await member.transport.request(relayAddress, MessageType.Gossip, 'through the relay', requestTimeoutMs)).ok)
  assert.deepEqual(target.handled, [{type: MessageType.Gossip, fromNode: 'member'}])
  // What member sent: Hello, proof, request. Replayed on a new connection, its proof answers an
  // old challenge.
  const recorded = Buffer.concat(sent[0] ?? [])
  const frames = new FrameDecoder(frameBytesMax).push(recorded)
  assert.ok(frames.ok)
  assert.deepEqual(frames.frames.map((frame) => frame.type), [MessageType.Hello, MessageType.HelloProof, MessageType.Gossip])
  const answered = await framesUntilClose(t, portOf(target.transport.address), recorded)
  assert.deepEqual(answered.map((frame) => frame.type), [MessageType.HelloChallenge, MessageType.ErrorResponse])
  assert.equal(target.handled.length, 1, 'the replayed request was not handled')
  // Two handshakes of the same pair carry other nonces on both sides.
  const sameHello = encodeFrame({type: MessageType.Hello, requestId: 0, body: {protocolVersion, nodeName: 'member', nonce: (frames.frames[0]?.body as {nonce: Uint8Array}).nonce}})
  const secondHello = await framesUntilClose(t, portOf(target.transport.address), sameHello, true)
  const challengeNonce = (frame: Frame | undefined): string => Buffer.from((frame?.body as {nonce: Uint8Array}).nonce).toString('hex')
  assert.equal(secondHello[0]?.type, MessageType.HelloChallenge)
  assert.notEqual(challengeNonce(secondHello[0]), challengeNonce(answered[0]), 'the acceptor drew the same nonce twice')
  assert.ok((await member.transport.request(target.transport.address, MessageType.Ping, null, requestTimeoutMs)).ok)
})

test('an opener whose acceptor never finishes the handshake drops the connection, and sends no held request late', async (t) => {
  const member = await start(t, 'member', {secret, connectTimeoutMs: 300})
  const silent = await rawAcceptor(t, () => undefined)
  const first = await member.transport.request(silent.address, MessageType.ReplicaPut, {key: 'k'}, 100)
  assert.equal(first.ok, false)
  await logged(member, 'did not finish the handshake within 300 ms')
  assert.deepEqual(silent.frames.map((frame) => frame.type), [MessageType.Hello])
  assert.notEqual(member.transport.peerState(silent.address), 'connected')
})

test('a refusal before any proof is only ever unauthenticated, and its text is bounded and printable', async (t) => {
  const member = await start(t, 'member', {secret})
  const forger = await rawAcceptor(t, () => encodeFrame({type: MessageType.ErrorResponse, requestId: 0, body: {code: 'cluster_config_mismatch', message: `forged\n2026-12-03T00:00:00Z n1 a line of its own${'x'.repeat(5000)}`}}))
  const {code, message} = refusal(await member.transport.request(forger.address, MessageType.Join, {}, requestTimeoutMs))
  assert.equal(code, unauthenticatedCode)
  assert.ok(!message.includes('\n'), 'a forged line break reached the message')
  assert.ok(message.length < 600, `a message of ${message.length} characters`)
})

test('a Hello with a malformed nonce is a bad Hello, on a node with a secret or without', async (t) => {
  for (const [name, extra] of [['open', {}], ['guarded', {secret}]] as const) {
    const node = await start(t, name, extra)
    const oddHello = encodeFrame({type: MessageType.Hello, requestId: 0, body: {protocolVersion, nodeName: 'odd', nonce: Buffer.alloc(handshakeNonceBytes - 1)}})
    // Resolves once the node has closed the connection, with nothing answered.
    assert.deepEqual(await framesUntilClose(t, portOf(node.transport.address), Buffer.concat([oddHello, encodeFrame({type: MessageType.Gossip, requestId: 1, body: null})])), [])
    assert.deepEqual(node.handled, [])
    await logged(node, 'first frame is not a valid Hello')
  }
})

test('a secret file that is a symbolic link, or owned by another user, is refused', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dyn-secret-'))
  t.after(() => rm(dir, {recursive: true, force: true}))
  const file = path.join(dir, 'cluster.secret')
  await writeNewSecretFile(file)
  const link = path.join(dir, 'link.secret')
  await symlink(file, link)
  await assert.rejects(readSecretFile(link), (error: DynError) => error.code === 'bad_parameter' && /symbolic link/.test(error.message))
  if (process.getuid?.() === 0) {
    await chown(file, 65534, 65534)
    await assert.rejects(readSecretFile(file), (error: DynError) => error.code === 'bad_parameter' && /owned by user 65534/.test(error.message))
  }
})
