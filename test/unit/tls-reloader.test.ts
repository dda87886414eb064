/**
 * The TLS reloader (src/node/tls-reloader.ts) on simulated time: files read every check interval
 * and on request, taken only when they changed and passed, refusals kept out (the node keeps what
 * it serves with), counted every time and logged once per reason unless asked, and reloads run
 * one at a time, in the order asked. The real files and servers are the TLS integration test's.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {SimulatedTime} from '../../src/simulated-time.js'
import {TlsReloader, tlsLoadTimeoutMs} from '../../src/node/tls-reloader.js'
import type {TlsLoad} from '../../src/node/tls-reloader.js'
import type {NodeTls, TlsChecked} from '../../src/transport/tls-options.js'

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

function tlsNamed(name: string): NodeTls {
  return {cert: Buffer.from(`cert ${name}`), key: Buffer.from(`key ${name}`), ca: Buffer.from('ca'), description: `CN=${name}`}
}

/** What the files hold now, as loadNodeTls would report them; tests change it as an operator writes files. */
class Files {
  current: TlsChecked<{tls: NodeTls}>
  reads = 0
  constructor(initial: NodeTls) {
    this.current = {ok: true, tls: initial}
  }
  readonly load: TlsLoad = async () => {
    this.reads += 1
    return this.current
  }
  write(tls: NodeTls): void {
    this.current = {ok: true, tls}
  }
  break(message: string): void {
    this.current = {ok: false, error: 'bad_parameter', message}
  }
}

function setup(initial = tlsNamed('first')): {reloader: TlsReloader; files: Files; applied: NodeTls[]; log: string[]; time: SimulatedTime} {
  const time = new SimulatedTime({settle})
  const files = new Files(initial)
  const applied: NodeTls[] = []
  const log: string[] = []
  const reloader = new TlsReloader({load: files.load, apply: (tls) => applied.push(tls), scheduler: time, log: (line) => log.push(line)}, initial)
  return {reloader, files, applied, log, time}
}

describe('TlsReloader', () => {
  it('takes changed files that pass, and says so in its stats and its log', async () => {
    const {reloader, files, applied, log} = setup()
    files.write(tlsNamed('second'))
    assert.deepEqual(await reloader.reload('asked'), {kind: 'reloaded', description: 'CN=second'})
    assert.deepEqual(applied.map((tls) => tls.description), ['CN=second'])
    assert.deepEqual(reloader.stats(), {certificate: 'CN=second', reloads: 1, refusals: 0})
    assert.match(log.at(-1) ?? '', /TLS files taken: new connections on both ports use CN=second/)
  })

  it('applies nothing when the files are the same bytes, and says so only when asked', async () => {
    const {reloader, files, applied, log} = setup()
    files.write(tlsNamed('first'))
    assert.deepEqual(await reloader.reload('check'), {kind: 'unchanged'})
    assert.equal(log.length, 0, 'a periodic check that finds nothing new is silent')
    assert.deepEqual(await reloader.reload('asked'), {kind: 'unchanged'})
    assert.match(log.at(-1) ?? '', /TLS files unchanged: serving with CN=first/)
    assert.deepEqual(applied, [])
    assert.equal(reloader.stats().reloads, 0)
  })

  it('keeps serving with what it has when the files fail a check: counted every time, logged once per reason by the checks', async () => {
    const {reloader, files, applied, log} = setup()
    files.break('--tls-key k is not the key of the certificate in --tls-cert c')
    for (let check = 0; check < 3; check += 1) assert.equal((await reloader.reload('check')).kind, 'refused')
    assert.deepEqual(applied, [])
    assert.equal(log.length, 1, `logged ${JSON.stringify(log)}`)
    assert.match(log[0] ?? '', /TLS files not taken, still serving with CN=first: --tls-key k is not the key/)
    assert.deepEqual(reloader.stats(), {certificate: 'CN=first', reloads: 0, refusals: 3, lastRefusal: '--tls-key k is not the key of the certificate in --tls-cert c'})
    // Another reason is logged; so is every refusal someone asked for.
    files.break('--tls-cert c: expired on Jan 1 00:00:00 2026 GMT')
    await reloader.reload('check')
    await reloader.reload('asked')
    assert.equal(log.length, 3)
    // The rotation finished: taken, and the refusal is over.
    files.write(tlsNamed('second'))
    assert.equal((await reloader.reload('check')).kind, 'reloaded')
    assert.deepEqual(reloader.stats(), {certificate: 'CN=second', reloads: 1, refusals: 5})
  })

  it('refuses, and keeps what it has, when applying throws or loading throws', async () => {
    const time = new SimulatedTime({settle})
    const log: string[] = []
    let failApply = true
    let throwLoad = false
    const reloader = new TlsReloader(
      {
        load: async () => {
          if (throwLoad) throw new Error('EIO')
          return {ok: true, tls: tlsNamed('second')}
        },
        apply: () => {
          if (failApply) throw new Error('unsupported key')
        },
        scheduler: time,
        log: (line) => log.push(line),
      },
      tlsNamed('first'),
    )
    assert.deepEqual(await reloader.reload('asked'), {kind: 'refused', message: 'Node could not use them: unsupported key'})
    assert.equal(reloader.stats().certificate, 'CN=first')
    throwLoad = true
    assert.deepEqual(await reloader.reload('asked'), {kind: 'refused', message: 'reading the TLS files failed: EIO'})
    throwLoad = false
    failApply = false
    assert.equal((await reloader.reload('asked')).kind, 'reloaded')
    assert.equal(reloader.stats().refusals, 2)
  })

  it('checks every interval once started, and not after stop', async () => {
    const {reloader, files, applied, time} = setup()
    reloader.start(60_000)
    await time.runFor(59_999)
    assert.equal(files.reads, 0)
    files.write(tlsNamed('second'))
    await time.runFor(1)
    assert.equal(files.reads, 1)
    assert.deepEqual(applied.map((tls) => tls.description), ['CN=second'])
    await time.runFor(120_000)
    assert.equal(files.reads, 3)
    reloader.stop()
    files.write(tlsNamed('third'))
    await time.runFor(600_000)
    assert.equal(files.reads, 3)
    assert.equal(await reloader.reload('asked').then((outcome) => outcome.kind), 'stopped', 'a stopped reloader takes nothing')
    assert.equal(reloader.stats().certificate, 'CN=second')
  })

  it('runs one reload at a time, in the order asked, and shares one that has not started yet', async () => {
    const time = new SimulatedTime({settle})
    const releases: Array<() => void> = []
    let version = 1
    let running = 0
    let runningMax = 0
    const reloader = new TlsReloader(
      {
        load: async () => {
          running += 1
          runningMax = Math.max(runningMax, running)
          const read = tlsNamed(`v${version}`)
          await new Promise<void>((resolve) => releases.push(resolve))
          running -= 1
          return {ok: true, tls: read}
        },
        apply: () => undefined,
        scheduler: time,
        log: () => undefined,
      },
      tlsNamed('v0'),
    )
    const first = reloader.reload('check')
    await settle()
    version = 2
    // Asked while the first reads: they wait for it, and the two of them are one reload.
    const second = reloader.reload('check')
    const third = reloader.reload('asked')
    assert.equal(second, third)
    assert.equal(releases.length, 1, 'the second waits for the first to end')
    releases.shift()?.()
    assert.deepEqual(await first, {kind: 'reloaded', description: 'CN=v1'})
    await settle()
    assert.equal(releases.length, 1)
    releases.shift()?.()
    assert.deepEqual(await second, {kind: 'reloaded', description: 'CN=v2'})
    assert.equal(runningMax, 1)
    assert.equal(reloader.stats().certificate, 'CN=v2')
  })

  it('ends a refusal when the files go back to what it serves', async () => {
    const {reloader, files} = setup()
    files.break('--tls-cert c: expired on Jan 1 00:00:00 2026 GMT')
    await reloader.reload('check')
    assert.equal(reloader.stats().lastRefusal, '--tls-cert c: expired on Jan 1 00:00:00 2026 GMT')
    files.write(tlsNamed('first'))
    assert.equal((await reloader.reload('check')).kind, 'unchanged')
    assert.deepEqual(reloader.stats(), {certificate: 'CN=first', reloads: 0, refusals: 1})
  })

  it('takes nothing that a load in flight when it stopped brings back', async () => {
    const time = new SimulatedTime({settle})
    let release: (() => void) | undefined
    const applied: NodeTls[] = []
    const reloader = new TlsReloader(
      {
        load: async () => {
          await new Promise<void>((resolve) => {
            release = resolve
          })
          return {ok: true, tls: tlsNamed('second')}
        },
        apply: (tls) => applied.push(tls),
        scheduler: time,
        log: () => undefined,
      },
      tlsNamed('first'),
    )
    const outcome = reloader.reload('asked')
    await settle()
    reloader.stop()
    release?.()
    assert.deepEqual(await outcome, {kind: 'stopped'})
    assert.deepEqual(applied, [])
    assert.equal(reloader.stats().certificate, 'CN=first')
  })

  it('refuses a load that takes longer than its bound, and the next reload runs', async () => {
    const time = new SimulatedTime({settle})
    let hang = true
    const reloader = new TlsReloader(
      {
        load: () => (hang ? new Promise(() => undefined) : Promise.resolve({ok: true, tls: tlsNamed('second')})),
        apply: () => undefined,
        scheduler: time,
        log: () => undefined,
      },
      tlsNamed('first'),
    )
    const first = reloader.reload('asked')
    await time.runFor(tlsLoadTimeoutMs - 1)
    hang = false
    const second = reloader.reload('asked')
    await time.runFor(1)
    assert.deepEqual(await first, {kind: 'refused', message: `reading the TLS files took longer than ${tlsLoadTimeoutMs} ms`})
    assert.deepEqual(await second, {kind: 'reloaded', description: 'CN=second'})
  })

  it('logs the refusal of a queued check that someone asked for meanwhile, though the checks had logged that reason', async () => {
    const time = new SimulatedTime({settle})
    const log: string[] = []
    const releases: Array<() => void> = []
    const reloader = new TlsReloader(
      {
        load: async () => {
          await new Promise<void>((resolve) => releases.push(resolve))
          return {ok: false, error: 'bad_parameter', message: 'the same reason'}
        },
        apply: () => undefined,
        scheduler: time,
        log: (line) => log.push(line),
      },
      tlsNamed('first'),
    )
    const running = reloader.reload('check')
    await settle()
    const queued = reloader.reload('check')
    const asked = reloader.reload('asked')
    assert.equal(queued, asked)
    releases.shift()?.()
    await running
    assert.equal(log.length, 1, 'the first check logs the reason')
    await settle()
    releases.shift()?.()
    await asked
    assert.equal(log.length, 2, 'the asked-for reload logs it again')
  })
})
