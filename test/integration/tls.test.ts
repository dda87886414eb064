/**
 * TLS with real processes (issue 16 item 3): the README's openssl commands make a CA and three
 * node certificates; three `dyn start` nodes form a cluster over mutual TLS; the CLI writes and
 * reads over HTTPS with --tls-ca (and DYN_TLS_CA), every key reaches its N=3 replicas; a plain
 * HTTP request to the API port gets no data; and nodes without TLS, or with a certificate of
 * another CA, cannot join, while a replica write over a connection with the cluster's certificate
 * is stored and the same write from a process without one is not.
 */

import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {closeSync, existsSync, openSync, readFileSync as readFileSyncOf} from 'node:fs'
import {copyFile, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {request as httpRequest} from 'node:http'
import {connect} from 'node:net'
import {connect as tlsConnect} from 'node:tls'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {runClosedLoop} from '../../bench/closed-loop.js'
import {runOpenLoop} from '../../bench/open-loop.js'
import {keyChooser} from '../../bench/distributions.js'
import {ContextCache, OperationFactory} from '../../bench/operations.js'
import {Recorder} from '../../bench/recorder.js'
import {workloads} from '../../bench/workloads.js'
import {seededRandom} from '../../src/clock.js'
import {DynError} from '../../src/errors.js'
import {DynClient, UnreachableError} from '../../src/client/http-client.js'
import {PartitionAwareClient} from '../../src/client/partition-aware-client.js'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {systemClock, systemScheduler} from '../../src/node/system-time.js'
import {unauthenticatedCode} from '../../src/transport/rpc-common.js'
import {startTcpTransport} from '../../src/transport/tcp-transport.js'
import {loadNodeTls} from '../../src/transport/tls-options.js'
import type {Transport} from '../../src/transport/transport.js'
import {makeNodeCertificate, makeReadmeCertificates, makeReadmeClientCertificates} from '../unit/tls-certificates.js'
import type {ClusterCertificates} from '../unit/tls-certificates.js'
import {assertOnlyMembersWrite, dynBin, isRunning, killNode, removeTestFolder, runDyn, startJsonAnswer, waitFor} from './harness.js'

const nodeCount = 3
const keyCount = 12
const requestTimeoutMs = 5000

describe('a cluster with TLS on both ports', () => {
  let dir: string
  let ours: ClusterCertificates
  let theirs: ClusterCertificates
  let ports: {port: number; rpcPort: number}
  const pids: number[] = []
  const api = (i: number): string => `127.0.0.1:${ports.port + i}`
  const rpc = (i: number): string => `127.0.0.1:${ports.rpcPort + i}`
  const tlsArgs = (node: string): string[] => ['--tls-cert', ours.certFile(node), '--tls-key', ours.keyFile(node), '--tls-ca', ours.caFile]
  let ca: Buffer
  const client = (i: number): DynClient => new DynClient(`https://${api(i)}`, requestTimeoutMs, {tls: {ca}})

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dyn-test-tls-'))
    ours = await makeReadmeCertificates(path.join(dir, 'ours'))
    ca = await readFile(ours.caFile)
    theirs = await makeReadmeCertificates(path.join(dir, 'theirs'))
    ports = await freeClusterPorts(nodeCount + 3)
    for (let i = 0; i < nodeCount; i += 1) {
      const name = `n${i + 1}`
      const seeds = i === 0 ? [] : ['--seeds', rpc(0)]
      const log = openSync(path.join(dir, `${name}.log`), 'a')
      const child = spawn(process.execPath, [dynBin, 'start', '--name', name, '--port', String(ports.port + i), '--rpc-port', String(ports.rpcPort + i), '--data', path.join(dir, name), '--request-timeout', '5000', ...seeds, ...tlsArgs(name)], {stdio: ['ignore', log, log]})
      closeSync(log)
      if (child.pid === undefined) throw new Error(`${name} did not start`)
      pids.push(child.pid)
      await waitFor(`${name} to serve over HTTPS`, async () => ((await client(i).getJson('/health').catch(() => undefined))?.ok === true ? true : undefined), 60_000)
    }
    await waitFor('every node to see every member valid and up', async () => {
      const views = await Promise.all([0, 1, 2].map((i) => client(i).getJson('/cluster').catch(() => undefined)))
      return views.every((view) => {
        const members = (view?.ok === true ? view.body.members : []) as Array<{status: string; reachability: string}>
        return members.length === nodeCount && members.every((member) => member.status === 'valid' && member.reachability === 'up')
      })
        ? true
        : undefined
    })
  })

  after(async () => {
    try {
      for (const pid of pids) if (isRunning(pid)) await killNode(pid).catch(() => undefined)
    } finally {
      await removeTestFolder(dir)
    }
  })

  it('writes and reads through the CLI over HTTPS with --tls-ca or DYN_TLS_CA, and every key reaches its 3 replicas', async () => {
    for (let k = 0; k < keyCount; k += 1) {
      const put = await runDyn(['put', `tls-${k}`, `value ${k}`, '--node', `https://${api(k % nodeCount)}`, '--tls-ca', ours.caFile, '--json'])
      assert.equal(put.code, 0, put.stdout + put.stderr)
      assert.equal(JSON.parse(put.stdout).ok, true)
    }
    for (let k = 0; k < keyCount; k += 1) {
      // With a CA given, an address without a scheme is reached over HTTPS too.
      const get = await runDyn(['get', `tls-${k}`, '-r', '3'], {env: {DYN_NODE: api((k + 1) % nodeCount), DYN_TLS_CA: ours.caFile}})
      assert.equal(get.code, 0, get.stdout + get.stderr)
      assert.equal(get.stdout, `value ${k}`)
    }
    // N=3 on three nodes: each node holds every key (written at w=2, the third copy follows).
    await waitFor(`each node to hold the ${keyCount} keys`, async () => {
      const counts = await Promise.all([0, 1, 2].map(async (i) => {
        const stats = await client(i).getJson('/stats')
        return stats.ok ? (stats.body as {keys: number}).keys : -1
      }))
      return counts.every((count) => count === keyCount) ? counts : undefined
    })
    // The admin commands reach every member over HTTPS through one node.
    const status = await runDyn(['cluster', 'status', '--node', `https://${api(1)}`, '--tls-ca', ours.caFile, '--json'])
    assert.equal(status.code, 0, status.stdout + status.stderr)
    assert.deepEqual((JSON.parse(status.stdout).nodes as Array<{state: string}>).map((node) => node.state), ['serving', 'serving', 'serving'])
    const top = await runDyn(['top', '--node', `https://${api(2)}`, '--tls-ca', ours.caFile, '--json', '--interval', '500'])
    assert.equal(top.code, 0, top.stdout + top.stderr)
    assert.deepEqual((JSON.parse(top.stdout).nodes as Array<{name: string}>).map((node) => node.name), ['n1', 'n2', 'n3'])
  })

  it('routes each key to a home replica over HTTPS with the partition-aware client, the members reached as the seed is', async () => {
    for (const seed of [`https://${api(0)}`, api(1)]) {
      const routed = await PartitionAwareClient.connect([seed], {tls: {ca}, timeoutMs: requestTimeoutMs})
      const members = new Set([0, 1, 2].map(api))
      for (let k = 0; k < 6; k += 1) {
        const key = `routed-${seed.length}-${k}`
        assert.ok(members.has(routed.routeFor(key)), `${routed.routeFor(key)} is a member's API address`)
        const put = await routed.put(key, Buffer.from(`routed ${k}`))
        assert.equal(put.ok, true, JSON.stringify(put))
        const got = await routed.get(key)
        assert.ok(got.ok && got.found, JSON.stringify(got))
        assert.equal(Buffer.from(got.siblings[0]?.value ?? []).toString(), `routed ${k}`)
      }
    }
    // Without the CA the seed's certificate is not trusted, and the client says so.
    await assert.rejects(PartitionAwareClient.connect([`https://${api(0)}`], {timeoutMs: requestTimeoutMs}), (error: unknown) => error instanceof UnreachableError && /certificate/i.test(error.reason))
  })

  it('takes a rotated certificate on SIGHUP on both ports without a restart, and keeps it when the next files are bad', async () => {
    // The SHA-256 fingerprint of the certificate a port serves a new connection with (the internode
    // port asks for a client certificate: n2's is given, as a peer would).
    const servedFingerprint = (port: number): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = tlsConnect({host: '127.0.0.1', port, ca, cert: readFileSyncOf(ours.certFile('n2')), key: readFileSyncOf(ours.keyFile('n2'))}, () => {
          resolve(socket.getPeerCertificate().fingerprint256)
          // Ended, not destroyed: a reset in the middle of the server's side of the handshake would be logged as a failed one.
          socket.end()
        })
        socket.once('error', reject)
      })
    const tlsStats = async (): Promise<{certificate: string; reloads: number; refusals: number; lastRefusal?: string}> => {
      const answer = await client(0).getJson('/stats')
      assert.equal(answer.ok, true)
      return (answer.body as {tls: {certificate: string; reloads: number; refusals: number; lastRefusal?: string}}).tls
    }
    const before = await tlsStats()
    assert.match(before.certificate, /CN=n1 /)
    const apiBefore = await servedFingerprint(ports.port)
    assert.equal(await servedFingerprint(ports.rpcPort), apiBefore, 'both ports serve the one certificate')

    // The operator makes a new certificate for n1 with the cluster's CA (the README's node_cert)
    // and writes it over the files n1 was started with, then sends SIGHUP.
    const next = await makeNodeCertificate(ours, 'n1-next', '127.0.0.1', 'n1.dyn.internal')
    await copyFile(next.certFile, ours.certFile('n1'))
    await copyFile(next.keyFile, ours.keyFile('n1'))
    process.kill(pids[0] as number, 'SIGHUP')
    const taken = await waitFor('n1 to take its new certificate', async () => {
      const stats = await tlsStats()
      return stats.reloads === before.reloads + 1 ? stats : undefined
    }, 30_000)
    assert.match(taken.certificate, /CN=n1-next /)
    const apiAfter = await servedFingerprint(ports.port)
    assert.notEqual(apiAfter, apiBefore, 'the API port serves the new certificate to a new connection')
    assert.equal(await servedFingerprint(ports.rpcPort), apiAfter, 'so does the internode port')
    const n1Log = await readFile(path.join(dir, 'n1.log'), 'utf8')
    assert.match(n1Log, /TLS files taken: new connections on both ports use CN=n1-next/)

    // A key that is not the certificate's (a rotation half done) is refused: n1 keeps serving with
    // the certificate it has, says why in /stats and its log, and the cluster writes through it.
    await copyFile(ours.keyFile('n2'), ours.keyFile('n1'))
    // Counted from here: n1's minutely check may have caught the files between the two copies above.
    const refusalsBefore = (await tlsStats()).refusals
    process.kill(pids[0] as number, 'SIGHUP')
    const refused = await waitFor('n1 to refuse the mismatched key', async () => {
      const stats = await tlsStats()
      return stats.refusals > refusalsBefore ? stats : undefined
    }, 30_000)
    assert.match(refused.lastRefusal ?? '', /--tls-key .*n1\.key is not the key of the certificate/)
    assert.match(refused.certificate, /CN=n1-next /)
    assert.equal(await servedFingerprint(ports.port), apiAfter)
    assert.equal(isRunning(pids[0] as number), true)
    const put = await client(0).put('tls-rotated', Buffer.from('after the rotation'), {w: 3})
    assert.equal(put.ok, true, JSON.stringify(put))
    assert.match(await readFile(path.join(dir, 'n1.log'), 'utf8'), /TLS files not taken, still serving with CN=n1-next .*is not the key of the certificate/)
    // The key put back: n1's files are whole again for the tests after this one.
    await copyFile(next.keyFile, ours.keyFile('n1'))
  })

  it('passes SIGHUP on to the nodes of dyn start --processes, each of which takes the rotated machine certificate', async () => {
    const machine = await makeNodeCertificate(ours, 'box', '127.0.0.1', 'box.dyn.internal')
    const own = await freeClusterPorts(2)
    const log = openSync(path.join(dir, 'box.log'), 'a')
    const supervisor = spawn(process.execPath, [dynBin, 'start', '--processes', '2', '--name', 'box', '--port', String(own.port), '--rpc-port', String(own.rpcPort), '--data', path.join(dir, 'box'), '--tls-cert', machine.certFile, '--tls-key', machine.keyFile, '--tls-ca', ours.caFile], {stdio: ['ignore', log, log]})
    closeSync(log)
    const supervisorPid = supervisor.pid as number
    const exited = new Promise<void>((resolve) => supervisor.once('exit', () => resolve()))
    try {
      const boxClient = (i: number): DynClient => new DynClient(`https://127.0.0.1:${own.port + i}`, requestTimeoutMs, {tls: {ca}})
      const reloadsOf = async (i: number): Promise<{certificate: string; reloads: number} | undefined> => {
        const answer = await boxClient(i).getJson('/stats').catch(() => undefined)
        return answer?.ok === true ? (answer.body as {tls: {certificate: string; reloads: number}}).tls : undefined
      }
      // The command passes SIGHUP on to the nodes it has seen serve, which it says once they all do.
      await waitFor('the command to say both nodes serve', async () => ((await readFile(path.join(dir, 'box.log'), 'utf8')).includes('2 node(s) serving on machine box') ? true : undefined), 60_000)
      const next = await makeNodeCertificate(ours, 'box-next', '127.0.0.1', 'box.dyn.internal')
      await copyFile(next.certFile, machine.certFile)
      await copyFile(next.keyFile, machine.keyFile)
      process.kill(supervisorPid, 'SIGHUP')
      for (const i of [0, 1]) {
        const taken = await waitFor(`box-${i + 1} to take the new certificate`, async () => {
          const stats = await reloadsOf(i)
          return stats?.reloads === 1 ? stats : undefined
        }, 30_000)
        assert.match(taken.certificate, /CN=box-next /)
      }
      assert.equal(isRunning(supervisorPid), true, 'SIGHUP did not stop the command')
    } finally {
      process.kill(supervisorPid, 'SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000))])
      if (isRunning(supervisorPid)) await killNode(supervisorPid).catch(() => undefined)
    }
  })

  it('serves only clients with a certificate of its client CA when started with --tls-client-ca, /health excepted', async () => {
    const clients = await makeReadmeClientCertificates(ours)
    const own = await freeClusterPorts(1)
    const node = `https://127.0.0.1:${own.port}`
    const log = openSync(path.join(dir, 'guarded.log'), 'a')
    const guarded = spawn(process.execPath, [dynBin, 'start', '--name', 'guarded', '--port', String(own.port), '--rpc-port', String(own.rpcPort), '--data', path.join(dir, 'guarded'), ...tlsArgs('n3'), '--tls-client-ca', clients.caFile], {stdio: ['ignore', log, log]})
    closeSync(log)
    const guardedPid = guarded.pid as number
    const exited = new Promise<void>((resolve) => guarded.once('exit', () => resolve()))
    try {
      // GET /health answers a client that only trusts the cluster CA, as probes do.
      const probe = new DynClient(node, requestTimeoutMs, {tls: {ca}})
      await waitFor('the guarded node to serve', async () => ((await probe.getJson('/health').catch(() => undefined))?.ok === true ? true : undefined), 60_000)
      const caArgs = ['--node', node, '--tls-ca', ours.caFile, '--json']
      const anonymous = await runDyn(['put', 'guarded-key', 'v', ...caArgs])
      assert.equal(anonymous.code, 2, anonymous.stdout)
      assert.equal(JSON.parse(anonymous.stdout).error, 'unauthenticated')
      assert.match(JSON.parse(anonymous.stdout).message, /serves only clients with a certificate of its client CA .*give --tls-cert and --tls-key/)
      // A certificate of the cluster CA is a node's, not a client's.
      const nodeCertificate = await runDyn(['get', 'guarded-key', ...caArgs, '--tls-cert', ours.certFile('n2'), '--tls-key', ours.keyFile('n2')])
      assert.equal(nodeCertificate.code, 2, nodeCertificate.stdout)
      assert.match(JSON.parse(nodeCertificate.stdout).message, /the client certificate given \(subject CN=n2, issuer CN=dyn cluster CA [0-9a-f]{8}\) is not one of this node's client CA/)
      const written = await runDyn(['put', 'guarded-key', 'for alice', ...caArgs, '--tls-cert', clients.certFile, '--tls-key', clients.keyFile])
      assert.equal(written.code, 0, written.stdout + written.stderr)
      // The environment, as the README exports it; get runs on the CLI's fast path.
      const read = await runDyn(['get', 'guarded-key', '--node', node], {env: {DYN_TLS_CA: ours.caFile, DYN_TLS_CERT: clients.certFile, DYN_TLS_KEY: clients.keyFile}})
      assert.equal(read.code, 0, read.stdout + read.stderr)
      assert.equal(read.stdout.trim(), 'for alice')
      // dyn bench presents alice's certificate on every connection of the load; without one it is
      // told so before loading anything (its GET /cluster is one of the refusals counted below).
      const benchArgs = ['bench', ...caArgs, '--records', '20', '--duration', '1', '--warmup', '0', '--connections', '2']
      const benched = await runDyn([...benchArgs, '--tls-cert', clients.certFile, '--tls-key', clients.keyFile])
      assert.equal(benched.code, 0, benched.stdout + benched.stderr)
      assert.deepEqual((JSON.parse(benched.stdout) as {run: {transportErrors: unknown}}).run.transportErrors, {timeout: 0, connection: 0})
      for (const operation of (JSON.parse(benched.stdout) as {run: {operations: Array<{errors: Record<string, number>}>}}).run.operations) assert.deepEqual(operation.errors, {})
      const benchedAnonymously = await runDyn(benchArgs)
      assert.equal(benchedAnonymously.code, 2, benchedAnonymously.stdout + benchedAnonymously.stderr)
      assert.equal(JSON.parse(benchedAnonymously.stdout).error, 'unauthenticated')
      // A client without a certificate that resumes the TLS session it was issued is still one
      // without a certificate (Node calls a resumed session authorized).
      const statusLine = (session?: Buffer): Promise<{status: string; session: Buffer | undefined; resumed: boolean}> =>
        new Promise((resolve, reject) => {
          let ticket: Buffer | undefined
          let answer = ''
          const socket = tlsConnect({host: '127.0.0.1', port: own.port, ca, ...(session === undefined ? {} : {session})}, () => {
            socket.write('GET /kv/guarded-key HTTP/1.1\r\nhost: guarded\r\n\r\n')
          })
          socket.on('session', (issued: Buffer) => {
            ticket = issued
          })
          socket.on('data', (chunk: Buffer) => {
            answer += chunk.toString('latin1')
            if (answer.includes('\r\n\r\n')) {
              const resumed = socket.isSessionReused()
              socket.end()
              // The ticket comes after the handshake; give it the turn it needs to arrive.
              setTimeout(() => resolve({status: answer.split('\r\n')[0] ?? '', session: ticket, resumed}), 100)
            }
          })
          socket.once('error', reject)
        })
      const first = await statusLine()
      assert.match(first.status, / 403 /)
      assert.ok(first.session !== undefined, 'no session ticket was issued')
      const resumed = await statusLine(first.session)
      assert.equal(resumed.resumed, true, 'the session was not resumed')
      assert.match(resumed.status, / 403 /, 'a resumed session without a certificate was served')
      const halfGiven = await runDyn(['get', 'guarded-key', ...caArgs, '--tls-cert', clients.certFile])
      assert.equal(halfGiven.code, 2)
      assert.match(JSON.parse(halfGiven.stdout).message, /--tls-cert given without --tls-key: a client certificate is presented with its key/)
      const stats = await new DynClient(node, requestTimeoutMs, {tls: {ca, cert: await readFile(clients.certFile), key: await readFile(clients.keyFile)}}).getJson('/stats')
      assert.equal(stats.ok, true)
      const reasons = (stats.body as {rejected: {http?: {reasons: Record<string, number>}}}).rejected.http?.reasons ?? {}
      assert.equal(reasons.client_certificate, 5, JSON.stringify(reasons))
      assert.match((stats.body as {tls: {certificate: string}}).tls.certificate, /clients must present a certificate of CN=dyn clients CA [0-9a-f]{8}/)

      // Replacing the client CA revokes its clients at once, those connected already included: a
      // kept-alive connection of alice's is closed at its next request, and a new one is refused.
      const alice = {cert: await readFile(clients.certFile), key: await readFile(clients.keyFile)}
      const kept = tlsConnect({host: '127.0.0.1', port: own.port, ca, ...alice})
      kept.on('error', () => undefined)
      const keptClosed = new Promise<void>((resolve) => kept.once('close', () => resolve()))
      let keptAnswers = ''
      kept.on('data', (chunk: Buffer) => {
        keptAnswers += chunk.toString('latin1')
      })
      kept.write('GET /kv/guarded-key HTTP/1.1\r\nhost: guarded\r\n\r\n')
      await waitFor('the kept connection to be served', async () => (keptAnswers.includes('for alice') ? true : undefined), 10_000, 50)
      assert.match(keptAnswers, /^HTTP\/1\.1 200 /)
      const reloadsBefore = (stats.body as {tls: {reloads: number}}).tls.reloads
      await copyFile(ours.caFile, clients.caFile)
      process.kill(guardedPid, 'SIGHUP')
      // The CA is now the cluster's, whose certificates (n2's) the node takes from clients.
      const asNode = new DynClient(node, requestTimeoutMs, {tls: {ca, cert: await readFile(ours.certFile('n2')), key: await readFile(ours.keyFile('n2'))}})
      await waitFor('the guarded node to take its new client CA', async () => {
        const answer = await asNode.getJson('/stats').catch(() => undefined)
        return answer?.ok === true && (answer.body as {tls: {reloads: number}}).tls.reloads > reloadsBefore ? true : undefined
      }, 30_000)
      const answeredBefore = keptAnswers.length
      kept.write('GET /kv/guarded-key HTTP/1.1\r\nhost: guarded\r\n\r\n')
      await keptClosed
      assert.equal(keptAnswers.length, answeredBefore, 'the connection of a revoked client was served again')
      const revoked = await runDyn(['get', 'guarded-key', ...caArgs, '--tls-cert', clients.certFile, '--tls-key', clients.keyFile])
      assert.equal(revoked.code, 2, revoked.stdout)
      assert.match(JSON.parse(revoked.stdout).message, /the client certificate given \(subject CN=alice, issuer CN=dyn clients CA [0-9a-f]{8}\) is not one of this node's client CA/)
    } finally {
      process.kill(guardedPid, 'SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000))])
      if (isRunning(guardedPid)) await killNode(guardedPid).catch(() => undefined)
    }
  })

  it('gives no data to plain HTTP on the API port, only https_required (exit 2); a client without the CA, or with another CA, is told what to give, as tls_untrusted (exit 2)', async () => {
    const plain = await new Promise<string>((resolve) => {
      const request = httpRequest({host: '127.0.0.1', port: ports.port, path: '/kv/tls-0', method: 'GET'})
      request.once('response', (response) => {
        let body = ''
        response.on('data', (chunk: Buffer) => (body += chunk.toString()))
        response.once('end', () => resolve(`answered ${response.statusCode} ${body}`))
      })
      request.once('error', (error: NodeJS.ErrnoException) => resolve(`failed ${error.code}`))
      request.end()
    })
    assert.match(plain, /^answered 400 \{"error":"https_required","message":"this node serves its client API over HTTPS/, 'a plain HTTP request got more than https_required')
    const overHttp = await runDyn(['get', 'tls-0', '--node', `http://${api(0)}`, '--json'])
    assert.equal(overHttp.code, 2, overHttp.stdout + overHttp.stderr)
    assert.equal(JSON.parse(overHttp.stdout).error, 'https_required')
    assert.doesNotMatch(overHttp.stdout, /"value"/)
    // dyn top asks the same way, and says the same.
    const topOverHttp = await runDyn(['top', '--node', `http://${api(0)}`, '--json', '--interval', '300'])
    assert.equal(topOverHttp.code, 2, topOverHttp.stdout + topOverHttp.stderr)
    assert.equal(JSON.parse(topOverHttp.stdout).error, 'https_required')
    // A certificate that does not verify is bad input (exit 2, tls_untrusted), not an outage (exit 3).
    const withoutCa = await runDyn(['get', 'tls-0', '--node', `https://${api(0)}`, '--json'])
    assert.equal(withoutCa.code, 2, withoutCa.stdout + withoutCa.stderr)
    assert.equal(JSON.parse(withoutCa.stdout).error, 'tls_untrusted')
    assert.match(JSON.parse(withoutCa.stdout).message, /certificate is not trusted .*give --tls-ca \(or DYN_TLS_CA\)/)
    // The node runs: starting one is not the advice.
    assert.doesNotMatch(JSON.parse(withoutCa.stdout).message, /start one \(dyn cluster up\)/)
    const otherCa = await runDyn(['get', 'tls-0', '--node', `https://${api(0)}`, '--tls-ca', theirs.caFile, '--json'])
    assert.equal(otherCa.code, 2, otherCa.stdout + otherCa.stderr)
    const refused = JSON.parse(otherCa.stdout) as {error: string; message: string; node: string; tlsError: string}
    assert.deepEqual([refused.error, refused.node, refused.tlsError], ['tls_untrusted', api(0), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'])
    assert.match(refused.message, /^the certificate of the dyn node at 127\.0\.0\.1:\d+ did not verify, so nothing was sent to it \(UNABLE_TO_VERIFY_LEAF_SIGNATURE: the node's certificate is not signed by the CA in --tls-ca .*theirs/)
    const plainText = await runDyn(['get', 'tls-0', '--node', `https://${api(0)}`, '--tls-ca', theirs.caFile])
    assert.equal(plainText.code, 2)
    assert.match(plainText.stderr, /\[tls_untrusted\]$/m)
    const n1Log = await readFile(path.join(dir, 'n1.log'), 'utf8')
    assert.match(n1Log, /client API: answered a plain HTTP request from 127\.0\.0\.1:\d+ with https_required: this port serves HTTPS \(1 so far\)/)
    assert.match(n1Log, /client API: TLS handshake with .* failed \(1 so far\)/)
  })

  it('refuses TLS flags given in part, before creating anything', async () => {
    const data = path.join(dir, 'half')
    const run = await runDyn(['start', '--name', 'half', '--port', String(ports.port + 5), '--data', data, '--tls-cert', ours.certFile('n1'), '--json'])
    assert.equal(run.code, 2)
    const failure = startJsonAnswer(run.stdout)
    assert.equal(failure.error, 'bad_parameter')
    assert.match(failure.message, /--tls-cert given without --tls-key and --tls-ca/)
    assert.equal(existsSync(data), false, 'the data folder was made')
  })

  it('keeps out nodes without TLS or with another CA\'s certificate, and stores nothing they send', async () => {
    const join = async (name: string, extraArgs: readonly string[]): Promise<{code: number; error: string; message: string}> => {
      const run = await runDyn(['start', '--name', name, '--port', String(ports.port + 3), '--rpc-port', String(ports.rpcPort + 3), '--data', path.join(dir, name), '--seeds', rpc(0), '--json', ...extraArgs], {timeoutMs: 30_000})
      const failure = startJsonAnswer(run.stdout)
      return {code: run.code, ...failure}
    }
    const plain = await join('p4', [])
    assert.equal(plain.code, 2)
    assert.equal(plain.error, unauthenticatedCode)
    assert.match(plain.message, /n1 requires TLS: start p4 with --tls-cert, --tls-key and --tls-ca/)
    const other = await join('o4', ['--tls-cert', theirs.certFile('n1'), '--tls-key', theirs.keyFile('n1'), '--tls-ca', theirs.caFile])
    assert.equal(other.code, 2)
    assert.equal(other.error, unauthenticatedCode)
    assert.match(other.message, /certificate is not one of this cluster's CA/)
    // Trusting the cluster's CA does not help a node whose own certificate another CA signed.
    const bundle = path.join(dir, 'both-ca.crt')
    await writeFile(bundle, Buffer.concat([await readFile(theirs.caFile), await readFile(ours.caFile)]))
    const impostor = await join('i4', ['--tls-cert', theirs.certFile('n2'), '--tls-key', theirs.keyFile('n2'), '--tls-ca', bundle])
    assert.equal(impostor.code, 2)
    assert.equal(impostor.error, unauthenticatedCode)
    assert.match(impostor.message, /n1 refused this node's certificate/)
    const n1Log = await readFile(path.join(dir, 'n1.log'), 'utf8')
    assert.match(n1Log, /refused the connection from .* \(says it is p4\): it does not use TLS, which this node requires/)
    assert.match(n1Log, /refused the TLS connection from 127\.0\.0\.1:\d+: its certificate \(subject CN=n2, issuer CN=dyn cluster CA [0-9a-f]{8}\) is not signed by the cluster CA/)
    // A node of another CA alone refuses n1's certificate first: n1 logs its hang-up (README "TLS").
    assert.match(n1Log, /refused the TLS connection from 127\.0\.0\.1:\d+: it closed the connection during the handshake: it does not trust this node's certificate/)
    for (const file of [ours.keyFile('n1'), theirs.keyFile('n2')]) {
      const keyBody = (await readFile(file, 'utf8')).split('\n')[1] as string
      assert.ok(!n1Log.includes(keyBody), 'the log holds key material')
    }
    const members = await client(0).getJson('/cluster')
    assert.ok(members.ok)
    assert.deepEqual((members.body.members as Array<{name: string}>).map((member) => member.name).sort(), ['n1', 'n2', 'n3'])

    // A replica write straight to n1's internode port: stored over a connection with the
    // cluster's certificate, refused (and not stored) without TLS or with another CA's.
    const partitionCount = (members.body.settings as {partitionCount: number}).partitionCount
    const tlsOf = async (certificates: ClusterCertificates, node: string, caFile: string) => {
      const loaded = await loadNodeTls({certFile: certificates.certFile(node), keyFile: certificates.keyFile(node), caFile}, Date.now(), '127.0.0.1')
      assert.ok(loaded.ok)
      return loaded.tls
    }
    const transports: Transport[] = []
    const transport = async (nodeName: string, tls?: Awaited<ReturnType<typeof tlsOf>>): Promise<Transport> => {
      const started = await startTcpTransport({host: '127.0.0.1', port: 0, nodeName, ...(tls === undefined ? {} : {tls}), clock: systemClock, scheduler: systemScheduler, handler: async () => null})
      transports.push(started)
      return started
    }
    try {
      const member = await transport('tester', await tlsOf(ours, 'n3', ours.caFile))
      const stranger = await transport('stranger')
      const outsider = await transport('outsider', await tlsOf(theirs, 'n3', bundle))
      await assertOnlyMembersWrite(rpc(0), partitionCount, member, [{through: stranger, key: 'from-a-stranger'}, {through: outsider, key: 'from-an-outsider'}], 'the same write with the cluster\'s certificate is stored', requestTimeoutMs)
    } finally {
      await Promise.all(transports.map((started) => started.close()))
    }
  })

  it('closes sockets that stall their TLS handshake on both ports, and stops on SIGTERM with them open', async () => {
    // Last: it stops n3. One byte of a TLS record header, then nothing, to each port.
    const stalled = [ports.port + 2, ports.rpcPort + 2].map((port) => {
      const socket = connect({host: '127.0.0.1', port}, () => socket.write(Buffer.from([0x16])))
      socket.on('error', () => undefined)
      return new Promise<void>((resolve) => socket.once('close', () => resolve()))
    })
    await new Promise((resolve) => setTimeout(resolve, 200))
    const pid = pids[2] as number
    process.kill(pid, 'SIGTERM')
    await waitFor('n3 to stop on SIGTERM with sockets in their TLS handshake', async () => (isRunning(pid) ? undefined : true), 15_000)
    await Promise.all(stalled)
  })
  // After the test that looks for n1's log of a failed handshake: the failures here would take the
  // counts at which n1 logs one (1, 2, 4, ...). n3 is stopped by then: only n1 and n2 are used.
  it('load-tests the cluster over HTTPS with dyn bench, closed and open loop, and stops a run whose connections do not verify', async () => {
    const common = ['--records', '40', '--duration', '1', '--warmup', '0', '--json']
    const closed = await runDyn(['bench', '--node', `https://${api(0)}`, '--node', api(1), '--tls-ca', ours.caFile, '--connections', '4', ...common])
    assert.equal(closed.code, 0, closed.stdout + closed.stderr)
    const closedReport = JSON.parse(closed.stdout) as {config: Record<string, unknown>; load: {failed: number}; run: {opsPerS: number; transportErrors: {timeout: number; connection: number}; operations: Array<{count: number; errors: Record<string, number>}>}}
    assert.equal(closedReport.config.https, true)
    assert.equal(closedReport.config.tls, undefined, 'the report must not carry the certificates')
    assert.equal(closedReport.load.failed, 0)
    assert.ok(closedReport.run.opsPerS > 0)
    assert.deepEqual(closedReport.run.transportErrors, {timeout: 0, connection: 0})
    for (const operation of closedReport.run.operations) assert.deepEqual(operation.errors, {}, JSON.stringify(operation))
    // The open loop (undici), with the CA from the environment, as the README exports it, each
    // operation sent to a home replica by the partition-aware client over HTTPS.
    const open = await runDyn(['bench', '--node', api(1), '--rate', '100', '--no-load', '--client-driven', ...common], {env: {DYN_TLS_CA: ours.caFile}})
    assert.equal(open.code, 0, open.stdout + open.stderr)
    const openReport = JSON.parse(open.stdout) as {config: {https?: boolean}; run: {operations: Array<{count: number; errors: Record<string, number>}>}}
    assert.equal(openReport.config.https, true)
    assert.ok(openReport.run.operations.reduce((sum, operation) => sum + operation.count, 0) > 0)
    for (const operation of openReport.run.operations) assert.deepEqual(operation.errors, {}, JSON.stringify(operation))

    // Another CA's trust: refused before anything is loaded.
    const untrusted = await runDyn(['bench', '--node', api(0), '--tls-ca', theirs.caFile, '--connections', '2', ...common])
    assert.equal(untrusted.code, 2, untrusted.stdout + untrusted.stderr)
    assert.equal(JSON.parse(untrusted.stdout).error, 'tls_untrusted')
    assert.match(JSON.parse(untrusted.stdout).message, /certificate/i)
    // Asked for what cannot be given over TLS, or given half of it: refused.
    for (const [args, message] of [
      // The trivial server would need the nodes' certificate, which the bench has only for a cluster it starts.
      [['--node', api(0), '--tls-ca', ours.caFile, '--calibrate'], /--calibrate over HTTPS serves its trivial server with the nodes' certificate and key, which dyn bench holds only for a cluster it starts/],
      // For a cluster the bench starts, the three flags are its files, as for dyn cluster up: all three or none.
      [['--nodes', '1', '--tls-ca', ours.caFile], /--tls-ca given without --tls-cert and --tls-key: TLS needs all three .*dyn bench starts its cluster \(--nodes\) with TLS as dyn cluster up does/],
      [['--node', `https://${api(0)}`, '--node', `http://${api(1)}`], /--node http:\/\/127\.0\.0\.1:\d+ would be reached over plain HTTP and 127\.0\.0\.1:\d+ over HTTPS \(--node https:\/\/127/],
      [['--node', api(0), '--node', `http://${api(1)}`, '--tls-ca', ours.caFile], /over HTTPS \(--tls-ca .*ca\.crt\)/],
    ] as const) {
      const refused = await runDyn(['bench', ...args, ...common])
      assert.equal(refused.code, 2, refused.stdout + refused.stderr)
      assert.match(JSON.parse(refused.stdout).message, message)
    }

    // The drivers themselves, past the check before the load: autocannon opens its HTTPS
    // connections without rejecting a certificate that does not verify, so the closed loop checks
    // each one itself; undici refuses it. Either way the run stops at the first, saying what to do.
    const random = seededRandom(7)
    const factory = new OperationFactory({workload: workloads.c, chooser: keyChooser('uniform', 40, random), contexts: new ContextCache(100), valueSize: 10, quorum: {}, random})
    const untrustedCa = {ca: await readFile(theirs.caFile), source: `--tls-ca ${theirs.caFile}`}
    const refusedForTheirCa = (error: unknown): boolean => error instanceof DynError && error.code === 'tls_untrusted' && /the run was stopped: 127\.0\.0\.1:\d+: .*not signed by the CA in --tls-ca .*theirs/.test(error.message)
    const recorder = new Recorder()
    try {
      await assert.rejects(runClosedLoop({nodes: [api(0)], connections: 2, durationS: 5, warmupS: 0, timeoutS: 5, factory, recorder, tls: untrustedCa}), refusedForTheirCa)
      await assert.rejects(runOpenLoop({nodes: [api(0)], ratePerS: 50, durationS: 5, warmupS: 0, timeoutS: 5, factory, recorder, tls: untrustedCa}), refusedForTheirCa)
    } finally {
      recorder.destroy()
    }
  })

  it('benchmarks a cluster dyn bench starts with TLS on both ports, calibrated against a trivial HTTPS server with the same certificate', async () => {
    // The files of dyn cluster up: the README's certificate for this machine's nodes, naming 127.0.0.1.
    const startTls = ['--tls-cert', ours.certFile('local'), '--tls-key', ours.keyFile('local'), '--tls-ca', ours.caFile]
    // Files no node of the bench's cluster could serve with, and a fault TLS would hide, are
    // refused before anything starts: no calibration, no cluster.
    const elsewhere = await makeNodeCertificate(ours, 'bench-elsewhere', '10.0.0.99', 'elsewhere.dyn.internal')
    for (const [args, message] of [
      [['--tls-cert', elsewhere.certFile, '--tls-key', elsewhere.keyFile, '--tls-ca', ours.caFile], /--tls-cert .*bench-elsewhere\.crt .*does not name 127\.0\.0\.1.* The nodes of a local cluster all advertise 127\.0\.0\.1/],
      [['--tls-cert', ours.certFile('local'), '--tls-key', ours.keyFile('local'), '--tls-ca', theirs.caFile], /--tls-cert .*local\.crt .*is not signed by the CA in --tls-ca .*theirs/],
      [[...startTls, '--rate', '100', '--fault', 'partition'], /--fault partition cuts the links .*which TLS encrypts/],
    ] as const) {
      const refused = await runDyn(['bench', '--nodes', '3', '--calibrate', ...args, '--json'])
      assert.equal(refused.code, 2, refused.stdout + refused.stderr)
      const answer = JSON.parse(refused.stdout) as {error: string; message: string}
      assert.equal(answer.error, 'bad_parameter')
      assert.match(answer.message, message)
    }

    // An open loop, so that the calibration runs both drivers against the trivial server: the
    // closed loop for the ceiling and the open loop for the floor at the run's rate.
    const benched = await runDyn(['bench', '--nodes', '3', ...startTls, '--rate', '100', '--duration', '2', '--warmup', '1', '--records', '40', '--connections-per-node', '4', '--calibrate', '--calibration-duration', '1', '--json'], {timeoutMs: 120_000})
    assert.equal(benched.code, 0, benched.stdout + benched.stderr)
    interface Phase {
      opsPerS: number
      transportErrors: {timeout: number; connection: number}
      operations: Array<{operation: string; count: number; errors: Record<string, number>}>
    }
    const report = JSON.parse(benched.stdout) as {
      config: Record<string, unknown>
      cores?: {nodeProcesses: number}
      load: {failed: number}
      run: Phase
      calibration?: Phase & {protocol: string; floor?: Phase}
    }
    assert.equal(report.config.https, true, 'the run went over HTTPS')
    assert.deepEqual(report.config.nodes, [], 'the bench started the cluster')
    assert.equal(report.cores?.nodeProcesses, 3)
    for (const key of ['tls', 'startTls']) assert.equal(key in report.config, false, `the report carries no certificate and no file of one (${key})`)
    assert.equal(report.load.failed, 0)
    const measured = (phase: Phase | undefined, what: string): void => {
      assert.ok(phase !== undefined, `${what} was measured`)
      assert.ok(phase.operations.reduce((sum, operation) => sum + operation.count, 0) > 0, `${what} measured operations`)
      assert.deepEqual(phase.transportErrors, {timeout: 0, connection: 0}, what)
      for (const operation of phase.operations) assert.deepEqual(operation.errors, {}, `${what}: ${JSON.stringify(operation)}`)
    }
    // The nodes serve their API over HTTPS only: every operation counted without an error went over it.
    measured(report.run, 'the run')
    // The trivial server says itself which protocol it served; the drivers reached it over HTTPS,
    // checking its certificate against the cluster CA, as they reach the nodes.
    assert.equal(report.calibration?.protocol, 'https')
    measured(report.calibration, 'the ceiling')
    measured(report.calibration?.floor, 'the floor')
  })

  it('starts a local cluster with TLS on both ports with dyn cluster up, whose folder keeps the files for its next start', async () => {
    const folder = path.join(dir, 'up-tls')
    const own = await freeClusterPorts(3)
    const upArgs = ['cluster', 'up', '--nodes', '3', '--dir', folder, '--port', String(own.port), '--rpc-port', String(own.rpcPort), '--json']
    const half = await runDyn([...upArgs, '--tls-cert', ours.certFile('n1')])
    assert.equal(half.code, 2, half.stdout + half.stderr)
    assert.match(JSON.parse(half.stdout).message, /--tls-cert given without --tls-key and --tls-ca/)
    assert.equal(existsSync(folder), false, 'a refused start made the folder')
    // The README's certificate for this machine's nodes (its other ones name 10.0.0.x there).
    const tlsFlags = ['--tls-cert', ours.certFile('local'), '--tls-key', ours.keyFile('local'), '--tls-ca', ours.caFile]
    try {
      const up = await runDyn([...upArgs, ...tlsFlags, '--request-timeout', '5000'], {timeoutMs: 90_000})
      assert.equal(up.code, 0, up.stdout + up.stderr)
      const started = JSON.parse(up.stdout) as {tlsCa: string; nodes: Array<{name: string; address: string; pid: number}>}
      assert.equal(started.tlsCa, path.resolve(ours.caFile))
      assert.deepEqual(started.nodes.map((node) => node.address), [0, 1, 2].map((i) => `https://127.0.0.1:${own.port + i}`))
      const put = await runDyn(['put', 'up-key', 'over tls', '--node', `https://127.0.0.1:${own.port + 1}`, '--tls-ca', ours.caFile, '--json'])
      assert.equal(put.code, 0, put.stdout + put.stderr)
      const read = await runDyn(['get', 'up-key', '--node', `127.0.0.1:${own.port + 2}`], {env: {DYN_TLS_CA: ours.caFile}})
      assert.equal(read.stdout.trim(), 'over tls', read.stderr)
      const plain = await runDyn(['get', 'up-key', '--node', `http://127.0.0.1:${own.port}`, '--json'])
      assert.equal(plain.code, 2, 'a node of the cluster answered plain HTTP')
      // It runs, so the advice is the address's scheme, not to start a node.
      const plainAnswer = JSON.parse(plain.stdout) as {error: string; message: string}
      assert.equal(plainAnswer.error, 'https_required')
      assert.match(plainAnswer.message, /give the address as https:\/\/host:port with the cluster CA/)
      assert.doesNotMatch(plainAnswer.message, /start one/)
      // The folder's status reaches its nodes over HTTPS.
      const status = await runDyn(['cluster', 'status', '--dir', folder, '--json'])
      assert.equal(status.code, 0, status.stdout + status.stderr)
      const statusBody = JSON.parse(status.stdout) as {tlsCa: string; nodes: Array<{serving: boolean; address: string}>; transfers: Array<{name: string; ring?: unknown}>}
      assert.ok(statusBody.nodes.every((node) => node.serving && node.address.startsWith('https://')), status.stdout)
      assert.equal(statusBody.tlsCa, path.resolve(ours.caFile))
      assert.ok(statusBody.transfers.length === 3 && statusBody.transfers.every((node) => node.ring !== undefined), 'each node\'s ring and transfers were read over HTTPS')
      // A node that died comes back with the folder's TLS files, though the next start names a
      // start flag and none of TLS (the flag's saved value: another would be refused while n1 and
      // n3 run): started without them it would not be taken for ready.
      await killNode(started.nodes[1]?.pid)
      const again = await runDyn(['cluster', 'up', '--dir', folder, '--request-timeout', '5000', '--json'], {timeoutMs: 90_000})
      assert.equal(again.code, 0, again.stdout + again.stderr)
      assert.deepEqual((JSON.parse(again.stdout) as {started: string[]}).started, ['n2'])
      // Other files while its nodes run would start nodes the running ones refuse: refused.
      const other = await runDyn(['cluster', 'up', '--dir', folder, '--tls-cert', theirs.certFile('n1'), '--tls-key', theirs.keyFile('n1'), '--tls-ca', theirs.caFile, '--json'])
      assert.equal(other.code, 2, other.stdout + other.stderr)
      assert.match(JSON.parse(other.stdout).message, /its running nodes \(n1, n2, n3\) serve with --tls-cert .*local\.crt .*replace those files in place/)
      const kept = JSON.parse(await readFile(path.join(folder, 'cluster.json'), 'utf8')) as {startArgs: string[]}
      assert.ok(kept.startArgs.includes(path.resolve(ours.certFile('local'))) && !kept.startArgs.includes(theirs.certFile('n1')), JSON.stringify(kept.startArgs))
      assert.equal((await runDyn(['cluster', 'status', '--dir', folder, '--json'])).code, 0, 'the refused start changed the cluster')
      // dyn verify runs on such a folder: its clients over HTTPS, its replica reads over mutual
      // TLS on the internode port with the folder's certificate, a node killed and restarted
      // with the folder's files on the way.
      const verify = await runDyn(['verify', '--dir', folder, '--faults', 'kill', '--duration', '6', '--fault-seconds', '1,2', '--gap-seconds', '1', '--carts', '3', '--clients', '2', '--seed', '7', '--json'], {timeoutMs: 150_000})
      assert.equal(verify.code, 0, verify.stdout + verify.stderr)
      const verdict = JSON.parse(verify.stdout) as {ok: boolean; faults: {kill?: number}; adds: {acknowledged: number; lost: number}; unreadHomes: string[]}
      assert.equal(verdict.ok, true, verify.stdout)
      assert.ok((verdict.faults.kill ?? 0) >= 1, 'the nemesis killed no node')
      assert.ok(verdict.adds.acknowledged > 0 && verdict.adds.lost === 0, verify.stdout)
      assert.deepEqual(verdict.unreadHomes, [], 'a home replica could not be read over TLS')
    } finally {
      await runDyn(['cluster', 'down', '--dir', folder])
    }
  })
  it('starts a local cluster that asks its clients for certificates with dyn cluster up --tls-client-ca, whose folder presents DYN_TLS_CERT', async () => {
    const clients = await makeReadmeClientCertificates(ours)
    const folder = path.join(dir, 'up-client-ca')
    const own = await freeClusterPorts(3)
    // A copy of the cluster CA, taken away at the end while the nodes run.
    const caCopy = path.join(dir, 'up-client-ca-cluster-ca.crt')
    await copyFile(ours.caFile, caCopy)
    const tlsFlags = ['--tls-cert', ours.certFile('local'), '--tls-key', ours.keyFile('local'), '--tls-ca', caCopy]
    const alice = {DYN_TLS_CA: ours.caFile, DYN_TLS_CERT: clients.certFile, DYN_TLS_KEY: clients.keyFile}
    const nobody = {DYN_TLS_CERT: '', DYN_TLS_KEY: ''}
    try {
      // The folder's readiness probes ask /health only, which needs no client certificate.
      const up = await runDyn(['cluster', 'up', '--nodes', '3', '--dir', folder, '--port', String(own.port), '--rpc-port', String(own.rpcPort), ...tlsFlags, '--tls-client-ca', clients.caFile, '--json'], {timeoutMs: 90_000, env: nobody})
      assert.equal(up.code, 0, up.stdout + up.stderr)
      assert.equal((JSON.parse(up.stdout) as {tlsClientCa: string}).tlsClientCa, path.resolve(clients.caFile))
      const node = `https://127.0.0.1:${own.port}`
      const anonymous = await runDyn(['get', 'guarded', '--node', node, '--tls-ca', ours.caFile, '--json'], {env: nobody})
      assert.equal(anonymous.code, 2, anonymous.stdout + anonymous.stderr)
      assert.equal(JSON.parse(anonymous.stdout).error, 'unauthenticated')
      const written = await runDyn(['put', 'guarded', 'for alice', '--node', node], {env: alice})
      assert.equal(written.code, 0, written.stdout + written.stderr)
      // The folder's own reads beyond /health present alice's certificate from the environment.
      const status = await runDyn(['cluster', 'status', '--dir', folder, '--json'], {env: alice})
      assert.equal(status.code, 0, status.stdout + status.stderr)
      const statusBody = JSON.parse(status.stdout) as {tlsClientCa: string; settings?: {n: number}; transfers: Array<{ring?: unknown}>}
      assert.equal(statusBody.tlsClientCa, path.resolve(clients.caFile))
      assert.equal(statusBody.settings?.n, 3, 'the cluster\'s settings were not read with the client certificate')
      assert.ok(statusBody.transfers.every((view) => view.ring !== undefined), status.stdout)
      // Without a client certificate only /health answers: status says what it could not see (it said ok).
      const unseen = await runDyn(['cluster', 'status', '--dir', folder, '--json'], {env: nobody})
      assert.equal(unseen.code, 3, unseen.stdout + unseen.stderr)
      assert.equal(JSON.parse(unseen.stdout).error, 'unauthenticated')
      assert.match(JSON.parse(unseen.stdout).message, /set DYN_TLS_CERT and DYN_TLS_KEY/)
      // A node that died comes back asking for client certificates, though the next up names no TLS flag.
      const pids = (JSON.parse(up.stdout) as {nodes: Array<{pid: number}>}).nodes.map((started) => started.pid)
      await killNode(pids[2])
      const again = await runDyn(['cluster', 'up', '--dir', folder, '--json'], {timeoutMs: 90_000, env: nobody})
      assert.equal(again.code, 0, again.stdout + again.stderr)
      const third = await runDyn(['get', 'guarded', '--node', `https://127.0.0.1:${own.port + 2}`, '--tls-ca', ours.caFile, '--json'], {env: nobody})
      assert.equal(JSON.parse(third.stdout).error, 'unauthenticated', 'the restarted node serves clients without a certificate')
      // Another client CA while the nodes run is refused, like any other TLS file.
      const other = await runDyn(['cluster', 'up', '--dir', folder, ...tlsFlags, '--json'])
      assert.equal(other.code, 2, other.stdout + other.stderr)
      assert.match(JSON.parse(other.stdout).message, /its running nodes \(n1, n2, n3\) serve with .*--tls-client-ca/)
      // dyn verify reads with the environment's certificate, and says so when there is none.
      const refused = await runDyn(['verify', '--dir', folder, '--faults', 'kill', '--json'], {env: nobody})
      assert.equal(refused.code, 2, refused.stdout + refused.stderr)
      assert.match(JSON.parse(refused.stdout).message, /serve only clients with a certificate of .*clients-ca\.crt .*set DYN_TLS_CERT and DYN_TLS_KEY/)
      const verify = await runDyn(['verify', '--dir', folder, '--faults', 'pause', '--duration', '5', '--fault-seconds', '1,2', '--gap-seconds', '1', '--carts', '3', '--clients', '2', '--seed', '11', '--json'], {timeoutMs: 150_000, env: alice})
      assert.equal(verify.code, 0, verify.stdout + verify.stderr)
      assert.equal((JSON.parse(verify.stdout) as {ok: boolean}).ok, true, verify.stdout)
      // The folder's CA taken away while its nodes run: status says so for each node, up refuses
      // with what to do, and down still stops every node (by signal: it needs no file).
      await rm(caCopy)
      const blind = await runDyn(['cluster', 'status', '--dir', folder, '--json'], {env: alice})
      assert.equal(blind.code, 3, blind.stdout + blind.stderr)
      const blindNodes = (JSON.parse(blind.stdout) as {nodes: Array<{running: boolean; problem?: string}>}).nodes
      assert.ok(blindNodes.every((each) => each.running && /not asked: .*serve TLS with the CA .*cannot be read/.test(each.problem ?? '')), blind.stdout)
      const restart = await runDyn(['cluster', 'up', '--dir', folder, '--json'], {env: alice})
      assert.equal(restart.code, 2, restart.stdout + restart.stderr)
      assert.match(JSON.parse(restart.stdout).message, /keeps the TLS files its nodes were first started with .*no such file.*Put the file back/)
      const running = (JSON.parse(await readFile(path.join(folder, 'cluster.json'), 'utf8')) as {nodes: Array<{pid?: number}>}).nodes.map((each) => each.pid)
      const down = await runDyn(['cluster', 'down', '--dir', folder, '--json'], {env: alice})
      assert.equal(down.code, 0, down.stdout + down.stderr)
      for (const pid of running) assert.ok(pid !== undefined && !isRunning(pid), `node ${pid} still runs after down`)
    } finally {
      await runDyn(['cluster', 'down', '--dir', folder])
    }
  })
})
