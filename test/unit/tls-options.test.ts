/**
 * TLS (issue 16 item 3): the start flags all or none, the PEM files checked at start with a message
 * that names the problem (never the key), a client's CA file, and what the checked files do on
 * the wire: mutual TLS between two transports (with and without the cluster secret on top), the
 * refusals of a peer of another CA and of a peer without TLS, and the HTTPS client against a
 * server with the node's certificate. The certificates are the README's (tls-certificates.ts).
 */

import assert from 'node:assert/strict'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {createServer as createPlainServer} from 'node:http'
import {createServer} from 'node:https'
import {connect, createServer as createNetServer} from 'node:net'
import type {AddressInfo, Socket} from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {setTimeout as delay} from 'node:timers/promises'
import {connect as connectTls, createSecureContext, TLSSocket} from 'node:tls'
import {certificateRejected, DynClient, tlsFailureHint, TlsNotServedError, UnreachableError, UntrustedCertificateError} from '../../src/client/http-client.js'
import {exitCodeOf} from '../../src/cli/exit-codes.js'
import {PartitionAwareClient} from '../../src/client/partition-aware-client.js'
import {closeApiServer, createApiServer} from '../../src/node/node.js'
import {systemClock, systemScheduler} from '../../src/node/system-time.js'
import {MessageType} from '../../src/transport/message-type.js'
import {unauthenticatedCode} from '../../src/transport/rpc-common.js'
import {startTcpTransport} from '../../src/transport/tcp-transport.js'
import type {TcpTransportOptions} from '../../src/transport/tcp-transport.js'
import {loadClientCa} from '../../src/transport/tls-ca-file.js'
import {loadNodeTls, tlsFilesOf} from '../../src/transport/tls-options.js'
import type {NodeTls, TlsFiles} from '../../src/transport/tls-options.js'
import type {Transport} from '../../src/transport/transport.js'
import {makeReadmeCertificates} from './tls-certificates.js'
import type {ClusterCertificates} from './tls-certificates.js'


const requestTimeoutMs = 5000

let dir: string
let ours: ClusterCertificates
let theirs: ClusterCertificates

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dyn-test-tls-'))
  ours = await makeReadmeCertificates(path.join(dir, 'ours'))
  theirs = await makeReadmeCertificates(path.join(dir, 'theirs'))
})
after(() => rm(dir, {recursive: true, force: true}))

const filesOf = (certificates: ClusterCertificates, node: string, caFile = certificates.caFile): TlsFiles => ({certFile: certificates.certFile(node), keyFile: certificates.keyFile(node), caFile})

async function loaded(files: TlsFiles): Promise<NodeTls> {
  const result = await loadNodeTls(files, Date.now(), '127.0.0.1')
  assert.ok(result.ok, result.ok ? '' : result.message)
  return result.tls
}

async function refusal(files: TlsFiles, at = Date.now(), advertiseHost = '127.0.0.1'): Promise<string> {
  const result = await loadNodeTls(files, at, advertiseHost)
  assert.equal(result.ok, false, 'the files were accepted')
  assert.ok(!result.ok)
  assert.equal(result.error, 'bad_parameter')
  return result.message
}

describe('tlsFilesOf: the three start flags together or not at all', () => {
  it('none is plain, all three are TLS', () => {
    assert.deepEqual(tlsFilesOf({}), {ok: true, files: undefined})
    assert.deepEqual(tlsFilesOf({'tls-cert': 'a.crt', 'tls-key': 'a.key', 'tls-ca': 'ca.crt'}), {ok: true, files: {certFile: 'a.crt', keyFile: 'a.key', caFile: 'ca.crt'}})
    assert.deepEqual(tlsFilesOf({'tls-cert': 'a.crt', 'tls-key': 'a.key', 'tls-ca': 'ca.crt', 'tls-client-ca': 'c.crt'}), {ok: true, files: {certFile: 'a.crt', keyFile: 'a.key', caFile: 'ca.crt', clientCaFile: 'c.crt'}})
  })

  it('one or two alone are refused with bad_parameter, naming what is missing', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{'tls-cert': 'a.crt'}, /--tls-cert given without --tls-key and --tls-ca/],
      [{'tls-key': 'a.key'}, /--tls-key given without --tls-cert and --tls-ca/],
      [{'tls-ca': 'ca.crt'}, /--tls-ca given without --tls-cert and --tls-key/],
      [{'tls-cert': 'a.crt', 'tls-key': 'a.key'}, /--tls-cert and --tls-key given without --tls-ca/],
      [{'tls-cert': 'a.crt', 'tls-ca': 'ca.crt'}, /without --tls-key: TLS needs all three/],
    ]
    cases.push([{'tls-client-ca': 'clients-ca.crt'}, /--tls-client-ca given without --tls-cert, --tls-key and --tls-ca/])
    for (const [flags, message] of cases) {
      const checked = tlsFilesOf(flags)
      assert.equal(checked.ok, false, JSON.stringify(flags))
      if (!checked.ok) {
        assert.equal(checked.error, 'bad_parameter')
        assert.match(checked.message, message)
      }
    }
  })
})

describe('loadNodeTls: the files checked before a node listens', () => {
  it('accepts the README certificates, and says whose certificate it serves with', async () => {
    const tls = await loaded(filesOf(ours, 'n1'))
    assert.match(tls.description, /CN=n1 \(IP Address:127\.0\.0\.1, DNS:n1\.dyn\.internal\)/)
    assert.deepEqual(tls.key, await readFile(ours.keyFile('n1')))
  })

  it('refuses a missing file, a file that is no PEM, and a broken certificate, naming the flag and file', async () => {
    const good = filesOf(ours, 'n1')
    assert.match(await refusal({...good, certFile: path.join(dir, 'nowhere.crt')}), /^--tls-cert .*nowhere\.crt: no such file/)
    assert.match(await refusal({...good, keyFile: dir}), /^--tls-key .*: a folder, not a file/)
    const text = path.join(dir, 'notes.txt')
    await writeFile(text, 'not a certificate\n')
    assert.match(await refusal({...good, caFile: text}), /^--tls-ca .*notes\.txt holds no PEM certificate/)
    assert.match(await refusal({...good, keyFile: text}), /^--tls-key .*notes\.txt holds no PEM private key/)
    const broken = path.join(dir, 'broken.crt')
    await writeFile(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')
    assert.match(await refusal({...good, certFile: broken}), /certificate 1 is not a valid X\.509 certificate/)
  })

  it('reads a client CA file when given one, and refuses one that holds no certificate', async () => {
    const tls = await loaded({...filesOf(ours, 'n1'), clientCaFile: theirs.caFile})
    assert.deepEqual(tls.clientCa, await readFile(theirs.caFile))
    assert.match(tls.description, /; clients must present a certificate of CN=dyn cluster CA [0-9a-f]{8}$/)
    assert.equal((await loaded(filesOf(ours, 'n1'))).clientCa, undefined)
    assert.equal(tls.clientCaSharedWithCluster, undefined)
    // A client CA that is, or holds, the cluster CA is found, so the node can warn that its clients pass for members.
    assert.match((await loaded({...filesOf(ours, 'n1'), clientCaFile: ours.caFile})).clientCaSharedWithCluster ?? '', /^CN=dyn cluster CA [0-9a-f]{8}$/)
    const clientBundle = path.join(dir, 'client-bundle.crt')
    await writeFile(clientBundle, Buffer.concat([await readFile(theirs.caFile), await readFile(ours.caFile)]))
    assert.match((await loaded({...filesOf(ours, 'n1'), clientCaFile: clientBundle})).clientCaSharedWithCluster ?? '', /^CN=dyn cluster CA [0-9a-f]{8}$/)
    const text = path.join(dir, 'clients.txt')
    await writeFile(text, 'not a certificate\n')
    assert.match(await refusal({...filesOf(ours, 'n1'), clientCaFile: text}), /^--tls-client-ca .*clients\.txt holds no PEM certificate/)
  })

  it('refuses a key that is not the certificate\'s, without showing the key', async () => {
    const message = await refusal({...filesOf(ours, 'n1'), keyFile: ours.keyFile('n2')})
    assert.match(message, /--tls-key .*n2\.key is not the key of the certificate in --tls-cert .*n1\.crt \(CN=n1\)/)
    const keyBody = (await readFile(ours.keyFile('n2'), 'utf8')).split('\n')[1] as string
    assert.ok(keyBody.length > 16 && !message.includes(keyBody), 'the message shows the key')
  })

  it('refuses a certificate another CA signed, an encrypted key, and a certificate out of its validity', async () => {
    // Each run of the README's commands names its CA apart, and the message gives the CA's fingerprint.
    const message = await refusal(filesOf(theirs, 'n1', ours.caFile))
    assert.match(message, /--tls-cert .*n1\.crt \(issued by CN=dyn cluster CA [0-9a-f]{8}\) is not signed by the CA in --tls-ca .*ca\.crt \(CN=dyn cluster CA [0-9a-f]{8}, SHA-256 ([0-9A-F]{2}:){7}[0-9A-F]{2}\.\.\.\).*every peer would refuse it/)
    const [issuer, authority] = [/issued by (CN=[^)]+)\)/.exec(message)?.[1], /in --tls-ca .*? \((CN=[^,]+),/.exec(message)?.[1]]
    assert.notEqual(issuer, authority, 'two clusters\' CAs read alike')
    const encrypted = path.join(dir, 'encrypted.key')
    await writeFile(encrypted, '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n')
    assert.match(await refusal({...filesOf(ours, 'n1'), keyFile: encrypted}), /is encrypted with a passphrase/)
    assert.match(await refusal(filesOf(ours, 'n1'), Date.parse('2100-01-01T00:00:00Z')), /expired on/)
    assert.match(await refusal(filesOf(ours, 'n1'), Date.parse('2000-01-01T00:00:00Z')), /not valid before/)
  })

  it('refuses a certificate that does not name the advertised address, naming its names and the address', async () => {
    // n1's certificate names 127.0.0.1 and n1.dyn.internal (the README's, with 127.0.0.1).
    const message = await refusal(filesOf(ours, 'n1'), Date.now(), '10.0.0.13')
    assert.match(message, /^--tls-cert .*n1\.crt \(CN=n1: IP Address:127\.0\.0\.1, DNS:n1\.dyn\.internal\) does not name 10\.0\.0\.13, the address this node advertises \(--advertise\)/)
    assert.match(await refusal(filesOf(ours, 'n1'), Date.now(), 'localhost'), /does not name localhost/)
    assert.match(await refusal(filesOf(ours, 'n1'), Date.now(), '[::1]'), /does not name \[::1\]/)
    const byName = await loadNodeTls(filesOf(ours, 'n1'), Date.now(), 'n1.dyn.internal')
    assert.ok(byName.ok, byName.ok ? '' : byName.message)
  })

  it('accepts a CA bundle that holds the cluster CA among others', async () => {
    const bundle = path.join(dir, 'bundle.crt')
    await writeFile(bundle, Buffer.concat([await readFile(theirs.caFile), await readFile(ours.caFile)]))
    await loaded(filesOf(ours, 'n1', bundle))
  })
})

describe('loadClientCa: the client\'s --tls-ca and DYN_TLS_CA', () => {
  it('reads a CA file, and refuses a missing or non-PEM one naming its source', async () => {
    const read = loadClientCa(ours.caFile, '--tls-ca')
    assert.ok(read.ok)
    assert.deepEqual(read.ca, await readFile(ours.caFile))
    const missing = loadClientCa(path.join(dir, 'nowhere.crt'), 'DYN_TLS_CA')
    assert.equal(missing.ok, false)
    if (!missing.ok) assert.match(missing.message, /^DYN_TLS_CA .*nowhere\.crt: no such file/)
    const key = loadClientCa(ours.keyFile('n1'), '--tls-ca')
    assert.equal(key.ok, false)
    if (!key.ok) assert.match(key.message, /holds no PEM certificate/)
  })
})

describe('mutual TLS between transports', () => {
  const started: Transport[] = []
  after(() => Promise.all(started.map((transport) => transport.close())))

  async function transport(nodeName: string, tls: NodeTls | undefined, secret?: Buffer, more: Partial<TcpTransportOptions> = {}): Promise<Transport> {
    const answering = await startTcpTransport({
      host: '127.0.0.1',
      port: 0,
      nodeName,
      ...(tls === undefined ? {} : {tls}),
      ...(secret === undefined ? {} : {secret}),
      ...more,
      clock: systemClock,
      scheduler: systemScheduler,
      handler: async (type, body, fromNode) => ({type, body, fromNode}),
    })
    started.push(answering)
    return answering
  }

  it('two nodes of one CA talk, with and without the cluster secret inside', async () => {
    const [n1, n2] = await Promise.all([loaded(filesOf(ours, 'n1')), loaded(filesOf(ours, 'n2'))])
    const acceptor = await transport('n1', n1)
    const opener = await transport('n2', n2)
    const answer = await opener.request(acceptor.address, MessageType.Ping, {hello: 'world'}, requestTimeoutMs)
    assert.deepEqual(answer, {ok: true, body: {type: MessageType.Ping, body: {hello: 'world'}, fromNode: 'n2'}})
    const secret = Buffer.from('cd'.repeat(32))
    const secretAcceptor = await transport('n1s', n1, secret)
    const secretOpener = await transport('n2s', n2, secret)
    assert.ok((await secretOpener.request(secretAcceptor.address, MessageType.Ping, {}, requestTimeoutMs)).ok)
  })

  it('refuses, both ways, a peer whose certificate another CA signed, and a peer without TLS, with unauthenticated and why', async () => {
    const logs: string[] = []
    const acceptor = await transport('n1', await loaded(filesOf(ours, 'n1')), undefined, {log: (line) => logs.push(line)})
    // Trusts no CA of ours: refuses the acceptor's certificate.
    const stranger = await transport('stranger', await loaded(filesOf(theirs, 'n2')))
    const refusedByOpener = await stranger.request(acceptor.address, MessageType.Ping, {}, requestTimeoutMs)
    assert.equal(refusedByOpener.ok, false)
    assert.equal((refusedByOpener as {code?: string}).code, unauthenticatedCode)
    assert.match((refusedByOpener as {message: string}).message, /certificate is not one of this cluster's CA/)
    // The opener hangs up before the acceptor sees its certificate: what the acceptor logs (README "TLS").
    await until('the acceptor to log the refusal', () => logs.some((line) => /refused the TLS connection from 127\.0\.0\.1:\d+: it closed the connection during the handshake: it does not trust this node's certificate/.test(line)))
    // Trusts ours, but holds a certificate of another CA: the acceptor refuses it and says so.
    const bundle = path.join(dir, 'both.crt')
    await writeFile(bundle, Buffer.concat([await readFile(theirs.caFile), await readFile(ours.caFile)]))
    const impostor = await transport('impostor', await loaded(filesOf(theirs, 'n3', bundle)))
    const refusedByAcceptor = await impostor.request(acceptor.address, MessageType.Ping, {}, requestTimeoutMs)
    assert.equal(refusedByAcceptor.ok, false)
    assert.equal((refusedByAcceptor as {code?: string}).code, unauthenticatedCode)
    assert.match((refusedByAcceptor as {message: string}).message, /n1 refused this node's certificate \(SELF_SIGNED_CERT_IN_CHAIN\)/)
    assert.ok(logs.some((line) => /refused the TLS connection from 127\.0\.0\.1:\d+: its certificate \(subject CN=n3, issuer CN=dyn cluster CA [0-9a-f]{8}\) is not signed by the cluster CA \(--tls-ca\) \(SELF_SIGNED_CERT_IN_CHAIN\) \(the first since the node started/.test(line)), logs.join('\n'))
    // No certificate at all: said as such, without the chain error OpenSSL reports with it.
    const bare = connectTls({host: '127.0.0.1', port: portOf(acceptor), ca: await readFile(ours.caFile)})
    bare.on('error', () => undefined)
    await until('the acceptor to log the certificate missing', () => logs.some((line) => /: it presented no certificate \(the 2nd since the node started\)$/.test(line)))
    bare.destroy()
    // No TLS at all.
    const plain = await transport('plain', undefined)
    const refusedPlain = await plain.request(acceptor.address, MessageType.Ping, {}, requestTimeoutMs)
    assert.equal((refusedPlain as {code?: string}).code, unauthenticatedCode)
    assert.match((refusedPlain as {message: string}).message, /n1 requires TLS: start plain with --tls-cert, --tls-key and --tls-ca/)
  })

  it('answers a plain HTTP request at its internode port with 400 and where clients go, as a node without TLS does', async () => {
    const rejected: string[] = []
    const logs: string[] = []
    const acceptor = await transport('n1', await loaded(filesOf(ours, 'n1')), undefined, {clientApiUrl: 'https://127.0.0.1:7070', log: (line) => logs.push(line), onRejected: (kind, reason) => rejected.push(`${kind}:${reason}`)})
    const answer = await fetch(`http://127.0.0.1:${portOf(acceptor)}/health`)
    assert.equal(answer.status, 400)
    assert.match(await answer.text(), /is the internode port of dyn node n1, .*: clients use the client API port \(https:\/\/127\.0\.0\.1:7070, dyn start --port\)\n$/)
    assert.deepEqual(rejected, ['hellos:http_request'])
    assert.match(logs.join('\n'), /an HTTP request \(GET \/health\) from 127\.0\.0\.1:\d+ reached the internode port \d+: clients use the client API port \(https:/)
    // A node of the cluster still gets in.
    const opener = await transport('n2', await loaded(filesOf(ours, 'n2')))
    assert.ok((await opener.request(acceptor.address, MessageType.Ping, {}, requestTimeoutMs)).ok)
  })

  it('refuses an acceptor whose certificate does not name the address dialled', async () => {
    // n1's certificate names 127.0.0.1 and n1.dyn.internal; reached as localhost it names neither.
    const acceptor = await transport('n1', await loaded(filesOf(ours, 'n1')))
    const opener = await transport('n2', await loaded(filesOf(ours, 'n2')))
    const port = acceptor.address.split(':')[1] as string
    const answer = await opener.request(`localhost:${port}`, MessageType.Ping, {}, requestTimeoutMs)
    assert.equal(answer.ok, false)
    assert.equal((answer as {code?: string}).code, unauthenticatedCode)
    assert.match((answer as {message: string}).message, /certificate does not name the host dialled/)
  })
})

describe('the HTTPS client', () => {
  it('reaches a node over HTTPS with the CA, for https:// and scheme-less addresses, and says what to do without it', async (t) => {
    const n1 = await loaded(filesOf(ours, 'n1'))
    const server = createServer({cert: n1.cert, key: n1.key}, (_request, response) => {
      response.setHeader('content-type', 'application/json')
      response.end(JSON.stringify({node: 'n1'}))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
    server.unref()
    const port = (server.address() as AddressInfo).port
    const ca = await readFile(ours.caFile)
    for (const address of [`https://127.0.0.1:${port}`, `127.0.0.1:${port}`]) {
      const client = new DynClient(address, requestTimeoutMs, {tls: {ca}})
      assert.deepEqual(await client.getJson('/health'), {ok: true, body: {node: 'n1'}}, address)
      assert.deepEqual(client.memberTls, {ca})
    }
    assert.deepEqual(new DynClient(`https://127.0.0.1:${port}`).memberTls, {})
    assert.equal(new DynClient(`127.0.0.1:${port}`).memberTls, undefined)
    const untrusting = new DynClient(`https://127.0.0.1:${port}`, requestTimeoutMs)
    await assert.rejects(untrusting.getJson('/health'), (error: unknown) => error instanceof UnreachableError && /the node's certificate is not trusted .*give --tls-ca \(or DYN_TLS_CA\)/.test(error.reason))
    const byName = new DynClient(`https://localhost:${port}`, requestTimeoutMs, {tls: {ca}})
    await assert.rejects(byName.getJson('/health'), (error: unknown) => error instanceof UnreachableError && /does not name localhost/.test(error.reason))
    const plain = new DynClient(`http://127.0.0.1:${port}`, requestTimeoutMs, {tls: {ca}})
    await assert.rejects(plain.getJson('/health'), (error: unknown) => error instanceof UnreachableError && /serves HTTPS/.test(error.reason))
  })

  it('a certificate that does not verify is tls_untrusted (exit 2, with node, nodes and tlsError, of one shape for one node or several), never unreachable; a node down among them keeps unreachable (exit 3)', async (t) => {
    const n1 = await loaded(filesOf(ours, 'n1'))
    const server = createServer({cert: n1.cert, key: n1.key}, (_request, response) => response.end('{}'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
    server.unref()
    const port = (server.address() as AddressInfo).port
    const untrusted = async (client: DynClient, tlsError: string, hint: RegExp): Promise<void> => {
      await assert.rejects(client.getJson('/health'), (error: unknown) => {
        assert.ok(error instanceof UntrustedCertificateError, String(error))
        assert.equal(error.code, 'tls_untrusted')
        assert.deepEqual(error.details, {node: client.node, nodes: [client.node], tlsError})
        assert.match(error.message, /^the certificate of the dyn node at \S+ did not verify, so nothing was sent to it \(/)
        assert.match(error.message, hint)
        assert.doesNotMatch(error.message, /cannot reach|start one/, 'no outage is suggested')
        return true
      })
    }
    // Another cluster's CA as --tls-ca, a node's certificate as --tls-ca, no CA at all, a name the certificate does not list.
    await untrusted(new DynClient(`https://127.0.0.1:${port}`, requestTimeoutMs, {tls: {ca: await readFile(theirs.caFile), source: `--tls-ca ${theirs.caFile}`}}), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', /not signed by the CA in --tls-ca \S+theirs\S+ca\.crt/)
    await untrusted(new DynClient(`https://127.0.0.1:${port}`, requestTimeoutMs, {tls: {ca: await readFile(ours.certFile('n2')), source: `--tls-ca ${ours.certFile('n2')}`}}), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', /not a node's certificate or another cluster's CA/)
    await untrusted(new DynClient(`https://127.0.0.1:${port}`, requestTimeoutMs), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', /give --tls-ca \(or DYN_TLS_CA\)/)
    await untrusted(new DynClient(`https://localhost:${port}`, requestTimeoutMs, {tls: {ca: await readFile(ours.caFile)}}), 'ERR_TLS_CERT_ALTNAME_INVALID', /does not name localhost/)
    // Both nodes refused for their certificate: still tls_untrusted, each code once, and the
    // details keep their shape: node one address (the first), nodes every one as an array, never
    // the addresses joined into one string (a user's walk read node "127.0.0.1:49400, 127.0.0.1:49401").
    const both = new DynClient([`https://127.0.0.1:${port}`, `https://localhost:${port}`], requestTimeoutMs)
    await assert.rejects(both.getJson('/health'), (error: unknown) => {
      assert.ok(error instanceof UntrustedCertificateError, String(error))
      assert.deepEqual(error.details, {node: `127.0.0.1:${port}`, nodes: [`127.0.0.1:${port}`, `localhost:${port}`], tlsError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'})
      assert.match(error.message, new RegExp(`^the certificates of the dyn nodes at 127\\.0\\.0\\.1:${port}, localhost:${port} did not verify, so nothing was sent to them`))
      return true
    })
    // One of two nodes down: an outage, as a script matching exit 3 expects.
    const closed = createNetServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const closedPort = (closed.address() as AddressInfo).port
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const mixed = new DynClient([`https://127.0.0.1:${port}`, `https://127.0.0.1:${closedPort}`], requestTimeoutMs)
    await assert.rejects(mixed.getJson('/health'), (error: unknown) => error instanceof UnreachableError && !(error instanceof UntrustedCertificateError) && error.code === 'unreachable' && /ECONNREFUSED/.test(error.reason))
    assert.equal(exitCodeOf('tls_untrusted'), 2)
    assert.equal(exitCodeOf('unreachable'), 3)
  })

  it('certificateRejected: verification results and a name mismatch, not alerts, other TLS errors or a finished handshake', () => {
    const error = (code: string, message = code): NodeJS.ErrnoException => Object.assign(new Error(message), {code})
    for (const code of ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID']) {
      assert.equal(certificateRejected(error(code)), true, code)
      assert.equal(certificateRejected(error(code), true), false, `${code} after the handshake`)
    }
    for (const code of ['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'EPROTO', 'ECONNRESET', 'ECONNREFUSED', '']) {
      assert.equal(certificateRejected(error(code)), false, code)
    }
    // An expired certificate is no question of the CA given: the hint says what it is.
    const address = {host: '127.0.0.1', port: 7070, label: '127.0.0.1:7070'} as Parameters<typeof tlsFailureHint>[1]
    assert.match(tlsFailureHint(error('CERT_HAS_EXPIRED', 'certificate has expired'), address, {caSource: '--tls-ca ca.crt'}) ?? '', /^the node's certificate has expired \(certificate has expired\): give the node a certificate valid now/)
  })
})

/** Polls `condition` every 20 ms, failing after 5 s with `what`. */
async function until(what: string, condition: () => boolean): Promise<void> {
  for (let waitedMs = 0; !condition(); waitedMs += 20) {
    if (waitedMs > 5000) assert.fail(`timed out waiting for ${what}`)
    await delay(20)
  }
}

function portOf(transport: Transport): number {
  return Number(transport.address.split(':')[1])
}

/** A plain socket that opens a TLS handshake record and then sends `drip` every 50 ms (nothing without): what a stalled or trickling TLS opener does. */
function stalledOpener(port: number, drip?: Buffer): {socket: Socket; closed: Promise<number>} {
  const openedAt = performance.now()
  const socket = connect({host: '127.0.0.1', port}, () => socket.write(Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00])))
  socket.on('error', () => undefined)
  const trickle = drip === undefined ? undefined : setInterval(() => socket.write(drip), 50)
  const closed = new Promise<number>((resolve) => socket.once('close', () => {
    clearInterval(trickle)
    resolve(performance.now() - openedAt)
  }))
  return {socket, closed}
}

/** Resolves with how long `closed` took, or rejects once `limitMs` has passed (the socket is then still open). */
function closedWithin(closed: Promise<number>, limitMs: number, what: string): Promise<number> {
  return Promise.race([closed, delay(limitMs).then(() => assert.fail(`${what} still open after ${limitMs} ms`))])
}

/** Fails when `stopped` has not resolved within `limitMs` (a server that waits for ever on a socket). */
function stopsWithin(stopped: Promise<void>, limitMs: number, what: string): Promise<void> {
  return Promise.race([stopped, delay(limitMs).then(() => assert.fail(`${what} did not stop within ${limitMs} ms`))])
}

describe('TLS openers that stall their handshake', () => {
  const handshakeTimeoutMs = 300

  it('are closed by the internode port within the handshake timeout, trickling or not, counted and logged, while a peer that finishes stays', async (t) => {
    const logs: string[] = []
    const rejected: string[] = []
    const acceptor = await startTcpTransport({
      host: '127.0.0.1', port: 0, nodeName: 'n1', tls: await loaded(filesOf(ours, 'n1')), handshakeTimeoutMs,
      clock: systemClock, scheduler: systemScheduler, handler: async () => 'pong',
      log: (line) => logs.push(line), onRejected: (kind, reason) => rejected.push(`${kind}:${reason}`),
    })
    const opener = await startTcpTransport({host: '127.0.0.1', port: 0, nodeName: 'n2', tls: await loaded(filesOf(ours, 'n2')), clock: systemClock, scheduler: systemScheduler, handler: async () => null})
    t.after(() => Promise.all([acceptor.close(), opener.close()]))
    const silent = stalledOpener(portOf(acceptor))
    const trickling = stalledOpener(portOf(acceptor), Buffer.from([0]))
    const limitMs = handshakeTimeoutMs + 1500
    assert.ok((await closedWithin(silent.closed, limitMs, 'a socket that sent one TLS record header')) >= handshakeTimeoutMs - 50)
    await closedWithin(trickling.closed, limitMs, 'a socket that trickles its handshake')
    assert.deepEqual(rejected, ['hellos:tls_handshake_timeout', 'hellos:tls_handshake_timeout'])
    assert.match(logs.join('\n'), /closing connection from 127\.0\.0\.1:\d+: it did not finish its TLS handshake within 300 ms/)
    // A peer that finished its handshake is not held to its deadline.
    assert.deepEqual(await opener.request(acceptor.address, MessageType.Ping, {}, requestTimeoutMs), {ok: true, body: 'pong'})
    await delay(handshakeTimeoutMs * 2)
    assert.deepEqual(await opener.request(acceptor.address, MessageType.Ping, {}, requestTimeoutMs), {ok: true, body: 'pong'})
    assert.equal(rejected.length, 2, rejected.join(', '))
  })

  it('are closed by the HTTPS client API within the handshake timeout, trickling or not, and do not keep it from stopping', async () => {
    const n1 = await loaded(filesOf(ours, 'n1'))
    const rejected: string[] = []
    const node = {service: {} as never, countHttpRequest: () => undefined, countRejected: (kind: string, reason: string) => rejected.push(`${kind}:${reason}`)}
    const quick = createApiServer(node, () => undefined, undefined, n1, handshakeTimeoutMs)
    await new Promise<void>((resolve) => quick.listen(0, '127.0.0.1', resolve))
    try {
      const stalled = stalledOpener((quick.address() as AddressInfo).port)
      // Node's own handshakeTimeout restarts at every byte received: a trickling opener is held to
      // the handshake's whole deadline here all the same.
      const trickling = stalledOpener((quick.address() as AddressInfo).port, Buffer.from([0]))
      await closedWithin(stalled.closed, handshakeTimeoutMs + 1500, 'a socket that sent one TLS record header to the API')
      await closedWithin(trickling.closed, handshakeTimeoutMs + 1500, 'a socket that trickles its handshake to the API')
      assert.deepEqual(rejected, ['http:tls_handshake_timeout', 'http:tls_handshake_timeout'])
    } finally {
      await stopsWithin(closeApiServer(quick), 2000, 'the API server')
    }
    // With the usual 10 s timeout, the socket is still in its handshake when the node stops.
    const usual = createApiServer(node, () => undefined, undefined, n1)
    await new Promise<void>((resolve) => usual.listen(0, '127.0.0.1', resolve))
    const held = stalledOpener((usual.address() as AddressInfo).port)
    await delay(100)
    await stopsWithin(closeApiServer(usual), 2000, 'the API server with a socket in its TLS handshake')
    await closedWithin(held.closed, 1000, 'a socket in its TLS handshake after the stop')
  })

  it('do not keep the internode transport from closing', async () => {
    const acceptor = await startTcpTransport({host: '127.0.0.1', port: 0, nodeName: 'n1', tls: await loaded(filesOf(ours, 'n1')), clock: systemClock, scheduler: systemScheduler, handler: async () => null})
    const held = stalledOpener(portOf(acceptor))
    await delay(100)
    await stopsWithin(acceptor.close(), 2000, 'the transport with a socket in its TLS handshake')
    await closedWithin(held.closed, 1000, 'a socket in its TLS handshake after the close')
  })
})

/**
 * One TLS connection to `port` that trusts `ca`, with `identity` (a certificate and key) if given
 * and resuming `session` if given; resolves once the server has answered or closed, with the
 * session ticket it was issued, whether it was resumed, and whether the server closed it.
 */
function tlsVisit(port: number, ca: Buffer, identity?: {cert: Buffer; key: Buffer}, session?: Buffer): Promise<{session: Buffer | undefined; resumed: boolean; closedByServer: boolean}> {
  return new Promise((resolve) => {
    let ticket: Buffer | undefined
    let resumed = false
    const socket = connectTls({host: '127.0.0.1', port, ca, ...identity, ...(session === undefined ? {} : {session})}, () => {
      resumed = socket.isSessionReused()
    })
    socket.on('session', (issued: Buffer) => {
      ticket = issued
    })
    socket.on('error', () => undefined)
    socket.on('data', () => undefined)
    let closedByServer = true
    // Long enough for a refusal to arrive; a connection the server kept is then closed here.
    const timer = setTimeout(() => {
      closedByServer = false
      socket.destroy()
    }, 500)
    socket.once('close', () => {
      clearTimeout(timer)
      resolve({session: ticket, resumed, closedByServer})
    })
  })
}

describe('TLS sessions resumed from a ticket', () => {
  it('do not let the internode port take an opener that presented no certificate for a member, and keep a member\'s certificate', async (t) => {
    const rejected: string[] = []
    const acceptor = await startTcpTransport({
      host: '127.0.0.1', port: 0, nodeName: 'n1', tls: await loaded(filesOf(ours, 'n1')),
      clock: systemClock, scheduler: systemScheduler, handler: async () => 'pong', onRejected: (kind, reason) => rejected.push(`${kind}:${reason}`),
    })
    t.after(() => acceptor.close())
    const ca = await readFile(ours.caFile)
    const stranger = await tlsVisit(portOf(acceptor), ca)
    assert.ok(stranger.session !== undefined, 'the refused stranger was issued a ticket')
    const back = await tlsVisit(portOf(acceptor), ca, undefined, stranger.session)
    assert.equal(back.resumed, true, 'the session was resumed')
    assert.equal(back.closedByServer, true, 'the stranger resuming its session was taken for a member')
    assert.deepEqual(rejected, ['hellos:tls_certificate', 'hellos:tls_certificate'])
    // A member's resumed session is still a member's.
    const identity = {cert: await readFile(ours.certFile('n2')), key: await readFile(ours.keyFile('n2'))}
    const member = await tlsVisit(portOf(acceptor), ca, identity)
    const memberBack = await tlsVisit(portOf(acceptor), ca, identity, member.session)
    assert.equal(memberBack.resumed, true)
    assert.equal(memberBack.closedByServer, false, 'a member resuming its session was refused')
    assert.equal(rejected.length, 2, rejected.join(', '))
  })
})

describe('the HTTPS client after the handshake', () => {
  it('does not send a request to the next node when the TLS connection broke after its handshake, and names a wrong --tls-ca file', async (t) => {
    const n1 = await loaded(filesOf(ours, 'n1'))
    const context = createSecureContext({cert: n1.cert, key: n1.key})
    // Completes the handshake, takes the request, then answers with bytes that are no TLS record.
    const breaking = createNetServer((raw) => {
      const secure = new TLSSocket(raw, {isServer: true, secureContext: context})
      secure.on('error', () => undefined)
      secure.once('data', () => raw.end(Buffer.from('garbage, not a TLS record\r\n')))
    })
    let reachedSecond = 0
    const second = createServer({cert: n1.cert, key: n1.key}, (_request, response) => {
      reachedSecond += 1
      response.end('{}')
    })
    await Promise.all([breaking, second].map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))))
    t.after(() => Promise.all([breaking, second].map((server) => new Promise<void>((resolve) => server.close(() => resolve())))))
    const [first, next] = [breaking, second].map((server) => `127.0.0.1:${(server.address() as AddressInfo).port}`) as [string, string]
    const ca = await readFile(ours.caFile)
    const client = new DynClient([first, next], requestTimeoutMs, {tls: {ca, source: `--tls-ca ${ours.caFile}`}})
    await assert.rejects(client.put('k', Buffer.from('v')), (error: unknown) => error instanceof UnreachableError && /broke after its handshake/.test(error.reason) && !/does not speak TLS/.test(error.reason))
    assert.equal(reachedSecond, 0, 'the put was sent again to the next node')
    // A node's certificate given as the CA: the file is named, not "give --tls-ca".
    const leaf = new DynClient(`https://${next}`, requestTimeoutMs, {tls: {ca: n1.cert, source: `--tls-ca ${ours.certFile('n1')}`}})
    await assert.rejects(leaf.getJson('/health'), (error: unknown) => {
      assert.ok(error instanceof UntrustedCertificateError)
      assert.equal(error.code, 'tls_untrusted')
      assert.match(error.reason, /not signed by the CA in --tls-ca .*n1\.crt .*not a node's certificate/)
      assert.match(error.message, /did not verify, so nothing was sent to it .*the node runs: fix the CA or the address as said$/)
      assert.doesNotMatch(error.message, /start one \(dyn cluster up\)/)
      return true
    })
  })
})

describe('the HTTPS client API and a client that half-closes', () => {
  it('answers every request a TLS client sent before it shut down its writing side', async (t) => {
    const n1 = await loaded(filesOf(ours, 'n1'))
    // /health alone is asked: its answer needs only the node's name and cluster id.
    const service = {health: () => ({node: 'n1'}), settings: () => ({clusterId: 'c1'})}
    const server = createApiServer({service: service as never, countHttpRequest: () => undefined, countRejected: () => undefined}, () => undefined, undefined, n1)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => closeApiServer(server))
    const received = await new Promise<string>((resolve, reject) => {
      const socket = connectTls({host: '127.0.0.1', port: (server.address() as AddressInfo).port, ca: n1.ca}, () => {
        socket.end('GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n')
      })
      const chunks: Buffer[] = []
      socket.on('data', (chunk: Buffer) => chunks.push(chunk))
      socket.on('error', reject)
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
    })
    // Before, the TLS socket ended its side at the client's FIN: no answer came back.
    assert.equal(received.match(/HTTP\/1\.1 200 OK/g)?.length, 2, received)
  })

  it('takes a client that gives up mid-handshake (it does not trust the certificate) as a failed handshake, not a half-open connection', async (t) => {
    const n1 = await loaded(filesOf(ours, 'n1'))
    const rejected: string[] = []
    const logs: string[] = []
    const server = createApiServer({service: {} as never, countHttpRequest: () => undefined, countRejected: (kind: string, reason: string) => rejected.push(`${kind}:${reason}`)}, (line) => logs.push(line), undefined, n1)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => closeApiServer(server))
    const refused = await new Promise<string>((resolve) => {
      const socket = connectTls({host: '127.0.0.1', port: (server.address() as AddressInfo).port}, () => resolve('trusted'))
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
    })
    assert.equal(refused, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE')
    // Half-open from the accept, the socket waited for the handshake timeout: then counted as
    // tls_handshake_timeout (10 s later), not as the failure it is.
    while (rejected.length === 0) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.deepEqual(rejected, ['http:tls_handshake'])
    assert.match(logs.join('\n'), /client API: TLS handshake with 127\.0\.0\.1:\d+ failed \(1 so far\)/)
  })
})

/** Sends `request` (raw bytes) on a new connection to `port` and collects everything the server sends back until it closes. */
function rawExchange(port: number, request: string | Buffer): Promise<{answer: string; error?: string}> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.once('error', (error: NodeJS.ErrnoException) => resolve({answer: Buffer.concat(chunks).toString('latin1'), error: error.code ?? error.message}))
    socket.once('close', () => resolve({answer: Buffer.concat(chunks).toString('latin1')}))
    socket.end(request)
  })
}

describe('the wrong scheme for a node', () => {
  it('plain HTTP to an HTTPS client API is answered 400 https_required in plain HTTP, counted, and never reaches the API', async (t) => {
    const n1 = await loaded(filesOf(ours, 'n1'))
    const rejected: string[] = []
    const logs: string[] = []
    let reachedApi = 0
    const node = {service: {} as never, countHttpRequest: () => (reachedApi += 1), countRejected: (kind: string, reason: string) => rejected.push(`${kind}:${reason}`)}
    const server = createApiServer(node, (line) => logs.push(line), undefined, n1)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => closeApiServer(server))
    const port = (server.address() as AddressInfo).port
    const get = await rawExchange(port, 'GET /kv/k HTTP/1.1\r\nhost: x\r\n\r\n')
    assert.equal(get.error, undefined)
    assert.match(get.answer, /^HTTP\/1\.1 400 Bad Request\r\n/)
    const body = JSON.parse(get.answer.slice(get.answer.indexOf('\r\n\r\n') + 4)) as {error: string; message: string}
    assert.equal(body.error, 'https_required')
    assert.match(body.message, new RegExp(`HTTPS on port ${port}.*https://host:port with the cluster CA \\(--tls-ca or DYN_TLS_CA\\)`))
    // A request with a body the node does not read still gets the answer, not a reset.
    const put = await rawExchange(port, Buffer.concat([Buffer.from('PUT /kv/k HTTP/1.1\r\nhost: x\r\ncontent-length: 262144\r\n\r\n'), Buffer.alloc(262_144, 120)]))
    assert.equal(put.error, undefined, 'a plain PUT with a body was reset before its answer')
    assert.match(put.answer, /^HTTP\/1\.1 400 .*"error":"https_required"/s)
    assert.deepEqual(rejected, ['http:https_required', 'http:https_required'])
    assert.match(logs.join('\n'), /client API: answered a plain HTTP request from 127\.0\.0\.1:\d+ with https_required: this port serves HTTPS \(1 so far\)/)
    // Through the client, it is the node's own refusal: bad input (exit 2), not an outage.
    const answered = await new DynClient(`http://127.0.0.1:${port}`, requestTimeoutMs).getJson('/health')
    assert.ok(!answered.ok)
    assert.equal(answered.error, 'https_required')
    assert.equal(exitCodeOf(answered.error), 2)
    assert.equal(reachedApi, 0, 'a plain HTTP request reached the API')
    // The partition-aware client, asking for the ring, says the same.
    await assert.rejects(PartitionAwareClient.connect([`http://127.0.0.1:${port}`], {timeoutMs: requestTimeoutMs}), (error: Error & {code?: string}) => error.code === 'https_required' && /serves its client API over HTTPS/.test(error.message))
    // A client that speaks TLS is served as before.
    const overTls = await new DynClient(`https://127.0.0.1:${port}`, requestTimeoutMs, {tls: {ca: await readFile(ours.caFile)}}).getJson('/nothing-here')
    assert.ok(!overTls.ok)
    assert.equal(overTls.error, 'route_not_found')
  })

  it('a connection that sends nothing to an HTTPS client API is closed at the handshake timeout, counted and logged', async (t) => {
    const n1 = await loaded(filesOf(ours, 'n1'))
    const rejected: string[] = []
    const logs: string[] = []
    const node = {service: {} as never, countHttpRequest: () => undefined, countRejected: (kind: string, reason: string) => rejected.push(`${kind}:${reason}`)}
    const server = createApiServer(node, (line) => logs.push(line), undefined, n1, 300)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => closeApiServer(server))
    const silent = connect((server.address() as AddressInfo).port, '127.0.0.1')
    silent.on('error', () => undefined)
    const closed = new Promise<number>((resolve) => {
      const started = Date.now()
      silent.once('close', () => resolve(Date.now() - started))
    })
    await closedWithin(closed, 300 + 1500, 'a socket that sent nothing to the HTTPS API')
    assert.deepEqual(rejected, ['http:tls_handshake_timeout'])
    assert.match(logs.join('\n'), /client API: TLS handshake with 127\.0\.0\.1:\d+ failed \(1 so far\): nothing sent within 300 ms of the accept/)
  })

  it('https:// at a node serving plain HTTP is tls_not_served (exit 2), with the address to give, and nothing is sent', async (t) => {
    let requests = 0
    const plainNode = createPlainServer((_request, response) => {
      requests += 1
      response.end('{}')
    })
    await new Promise<void>((resolve) => plainNode.listen(0, '127.0.0.1', resolve))
    t.after(() => new Promise<void>((resolve) => plainNode.close(() => resolve())))
    const label = `127.0.0.1:${(plainNode.address() as AddressInfo).port}`
    await assert.rejects(new DynClient(`https://${label}`, requestTimeoutMs).getJson('/health'), (error: unknown) => {
      assert.ok(error instanceof TlsNotServedError)
      assert.equal(error.code, 'tls_not_served')
      assert.equal(exitCodeOf(error.code), 2)
      assert.match(error.message, new RegExp(`^${label} answers in plain HTTP, not TLS, so nothing was sent \\(.*does not speak TLS: .*\\(http://${label}, without --tls-ca\\)\\); something runs there: fix the address as said$`))
      assert.deepEqual(error.details, {node: label, nodes: [label]})
      return true
    })
    await assert.rejects(PartitionAwareClient.connect([`https://${label}`], {timeoutMs: requestTimeoutMs}), (error: unknown) => error instanceof TlsNotServedError && error.code === 'tls_not_served')
    // One node serving plain HTTP and one not there at all: an outage may be part of it (exit 3).
    const gone = createNetServer()
    await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve))
    const goneLabel = `127.0.0.1:${(gone.address() as AddressInfo).port}`
    await new Promise<void>((resolve) => gone.close(() => resolve()))
    await assert.rejects(new DynClient([`https://${label}`, `https://${goneLabel}`], requestTimeoutMs).getJson('/health'), (error: unknown) => {
      assert.ok(error instanceof UnreachableError && !(error instanceof TlsNotServedError))
      assert.equal(error.code, 'unreachable')
      return true
    })
    assert.equal(requests, 0)
  })
})
