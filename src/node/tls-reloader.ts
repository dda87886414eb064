/**
 * Certificate rotation without a restart, for a node started with `--tls-cert --tls-key
 * --tls-ca` (src/transport/tls-options.ts). Certificates expire (the README's are made for 825
 * days) and CAs are replaced; a cluster whose nodes must restart to take a new certificate
 * rotates one node at a time, each losing its in-flight requests. Here the node reads its three
 * files again every `tlsCheckIntervalMs`, and at once when asked (`dyn start` asks on SIGHUP, as
 * daemons are told to reload). When the files changed and pass every check a start would make,
 * the node serves and dials with them from the next connection on (connections already open keep
 * the session they agreed, as with any TLS server). When they fail a check (a key written after
 * its certificate, a certificate of another CA, an expired one), the node keeps serving with
 * what it has, logs the same message a start would have given, and counts the refusal in GET
 * /stats: a half-done rotation must not take a node off its cluster.
 *
 * Reloads run one at a time: one asked while another runs starts when it ends, so that an older
 * read can never be applied after a newer one. The clock and timers are inputs (the scheduler);
 * reading and checking the files, and applying them, are the caller's.
 */

import {assert} from '../errors.js'
import type {Scheduler, Timer} from '../scheduler.js'
import type {NodeTls, TlsChecked} from '../transport/tls-options.js'

/** How often a node reads its TLS files again: a rotation is picked up within a minute without a signal. */
export const tlsCheckIntervalMs = 60_000

/**
 * How long reading and checking the files may take before that reload is refused: a read that
 * hangs (a network file system gone) must not hold every later reload, SIGHUP's included.
 */
export const tlsLoadTimeoutMs = 10_000

/** The three files' bytes, read and checked as a start checks them (loadNodeTls), or why not. */
export type TlsLoad = () => Promise<TlsChecked<{tls: NodeTls}>>

export type TlsReloadOutcome =
  | {readonly kind: 'unchanged'}
  | {readonly kind: 'reloaded'; readonly description: string}
  | {readonly kind: 'refused'; readonly message: string}
  /** The node is stopping: nothing was read or taken. */
  | {readonly kind: 'stopped'}

/** What GET /stats says of the node's TLS. */
export interface TlsStats {
  /** The certificate the node serves and dials with now (subject, names, expiry). */
  readonly certificate: string
  /** Times new files were taken since the start. */
  readonly reloads: number
  /**
   * Reloads and checks whose files failed (the node kept what it had): a rotation half done, or
   * files that no longer pass though unchanged (an expired certificate, counted at every check).
   */
  readonly refusals: number
  /** Why the last refusal happened, until files are taken again. */
  readonly lastRefusal?: string
}

export interface TlsReloaderDeps {
  readonly load: TlsLoad
  /** Serve and dial with `tls` from now on (both ports' servers and the transport's dialling). */
  readonly apply: (tls: NodeTls) => void
  readonly scheduler: Pick<Scheduler, 'every' | 'after' | 'cancel'>
  readonly log: (line: string) => void
}

export class TlsReloader {
  #current: NodeTls
  #reloads = 0
  #refusals = 0
  #lastRefusal: string | undefined
  #timer: Timer | undefined
  /** The last reload asked for: the next one starts once it has ended. */
  #tail: Promise<unknown> = Promise.resolve()
  /** A reload asked for that has not started yet: every asker meanwhile shares it. */
  #queued: {readonly outcome: Promise<TlsReloadOutcome>; reason: 'check' | 'asked'} | undefined
  #stopped = false

  constructor(
    private readonly deps: TlsReloaderDeps,
    current: NodeTls,
  ) {
    this.#current = current
  }

  /** Checks the files every `intervalMs` from now until `stop`. */
  start(intervalMs: number = tlsCheckIntervalMs): void {
    assert(this.#timer === undefined, 'the TLS reloader is started once')
    assert(Number.isFinite(intervalMs) && intervalMs > 0, 'a TLS check interval is positive')
    this.#timer = this.deps.scheduler.every(intervalMs, () => {
      void this.reload('check')
    })
  }

  stop(): void {
    this.#stopped = true
    if (this.#timer !== undefined) this.deps.scheduler.cancel(this.#timer)
    this.#timer = undefined
  }

  /**
   * Reads the files and takes them if they changed and pass. `reason` is for the log: a periodic
   * check that finds the same refused files again says nothing more, while one asked for says
   * what it found every time.
   */
  reload(reason: 'check' | 'asked'): Promise<TlsReloadOutcome> {
    const queued = this.#queued
    if (queued !== undefined) {
      if (reason === 'asked') queued.reason = 'asked'
      return queued.outcome
    }
    const entry: {outcome: Promise<TlsReloadOutcome>; reason: 'check' | 'asked'} = {outcome: Promise.resolve({kind: 'unchanged'}), reason}
    entry.outcome = this.#tail.then(() => {
      this.#queued = undefined
      return this.#reloadOnce(entry.reason)
    })
    this.#queued = entry
    this.#tail = entry.outcome.catch(() => undefined)
    return entry.outcome
  }

  stats(): TlsStats {
    return {
      certificate: this.#current.description,
      reloads: this.#reloads,
      refusals: this.#refusals,
      ...(this.#lastRefusal === undefined ? {} : {lastRefusal: this.#lastRefusal}),
    }
  }

  async #reloadOnce(reason: 'check' | 'asked'): Promise<TlsReloadOutcome> {
    // Whatever goes wrong in a reload is a refusal: a reload that rejected would end the node
    // (`dyn start` runs it from a signal handler), which is worse than the files it read.
    try {
      return await this.#tryReload(reason)
    } catch (error) {
      return this.#refuse(`the reload failed: ${describe(error)}`, reason)
    }
  }

  async #tryReload(reason: 'check' | 'asked'): Promise<TlsReloadOutcome> {
    if (this.#stopped) return {kind: 'stopped'}
    const loaded = await this.#loadWithin(tlsLoadTimeoutMs)
    if (this.#stopped) return {kind: 'stopped'}
    if (!loaded.ok) return this.#refuse(loaded.message, reason)
    const next = loaded.tls
    if (sameFiles(next, this.#current)) {
      if (reason === 'asked') this.deps.log(`TLS files unchanged: serving with ${this.#current.description}`)
      // Files put back as they were end a refusal as much as new ones do.
      this.#lastRefusal = undefined
      return {kind: 'unchanged'}
    }
    try {
      this.deps.apply(next)
    } catch (error) {
      // Node builds its TLS context from files that passed every check here; should it still
      // refuse them, the node keeps the context it has, as for any refused files.
      return this.#refuse(`Node could not use them: ${describe(error)}`, reason)
    }
    this.#current = next
    this.#reloads += 1
    this.#lastRefusal = undefined
    this.deps.log(`TLS files taken: new connections on both ports use ${next.description}`)
    return {kind: 'reloaded', description: next.description}
  }

  /** The files as `load` reads them, or a refusal when it throws or takes longer than `timeoutMs`. */
  #loadWithin(timeoutMs: number): Promise<Awaited<ReturnType<TlsLoad>>> {
    return new Promise((resolve) => {
      const timer = this.deps.scheduler.after(timeoutMs, () => resolve({ok: false, error: 'timeout', message: `reading the TLS files took longer than ${timeoutMs} ms`}))
      this.deps.load().then(
        (loaded) => {
          this.deps.scheduler.cancel(timer)
          resolve(loaded)
        },
        (error: unknown) => {
          this.deps.scheduler.cancel(timer)
          // load reports bad files as values; anything it throws is a fault of its own, refused the same way.
          resolve({ok: false, error: 'internal', message: `reading the TLS files failed: ${describe(error)}`})
        },
      )
    })
  }

  /**
   * Files that fail the checks are the same refusal at every check until someone fixes them:
   * counted each time, logged when the reason changes or when a reload was asked for.
   */
  #refuse(message: string, reason: 'check' | 'asked'): TlsReloadOutcome {
    this.#refusals += 1
    if (reason === 'asked' || message !== this.#lastRefusal) this.deps.log(`TLS files not taken, still serving with ${this.#current.description}: ${message}`)
    this.#lastRefusal = message
    return {kind: 'refused', message}
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function sameFiles(a: NodeTls, b: NodeTls): boolean {
  const sameClientCa = a.clientCa === undefined || b.clientCa === undefined ? a.clientCa === b.clientCa : a.clientCa.equals(b.clientCa)
  return a.cert.equals(b.cert) && a.key.equals(b.key) && a.ca.equals(b.ca) && sameClientCa
}
