/**
 * The benchmark's operations as small state machines over HTTP steps, so that the same logic
 * runs under both drivers: the closed loop (autocannon, one step per request it sends) and the
 * open loop (undici, steps awaited in turn).
 *
 * An update writes with the freshest context this benchmark has seen for the key (from the load
 * phase, a read or an earlier write), as an application that read before writing would; a blind
 * write without it would pile siblings onto hot keys. An update of a key whose context it has not
 * seen yet reads the key first. A read-modify-write and a cart operation
 * (paper §4.4: read, merge the siblings, add an item, write back with the read's context) are two
 * steps whose latency runs from the read's start to the write's answer.
 */

import type {Random} from '../src/clock.js'
import type {KeyChooser} from './distributions.js'
import type {AnsweredFailure} from './recorder.js'
import type {OperationKind, Workload} from './workloads.js'
import {addToCart, keyName, mergeCarts, operationPicker, valueOf} from './workloads.js'

export interface HttpStep {
  /** POST for stores whose API takes every request as a JSON body (etcd's gateway, bench/etcd-compare.ts). */
  readonly method: 'GET' | 'PUT' | 'POST'
  readonly path: string
  readonly headers: Record<string, string>
  readonly body?: Buffer
}

export interface HttpReply {
  readonly status: number
  readonly contextHeader: string | undefined
  readonly body: string
}

/** How an operation ended; `timeout` and `connection` come from the drivers, not from replies. */
/**
 * How an operation ended. `overloaded`: a node shed it (503, before any work); `throttled`: the
 * bench's client-side throttle refused it before sending, since that node had been shedding most
 * of what it was sent (src/client/client-throttle.ts).
 */
export type Outcome = 'ok' | 'not_found' | 'quorum_unmet' | 'overloaded' | 'throttled' | 'http_error' | 'timeout' | 'connection'

export const outcomes: readonly Outcome[] = ['ok', 'not_found', 'quorum_unmet', 'overloaded', 'throttled', 'http_error', 'timeout', 'connection']

export type StepResult =
  | {readonly done: false; readonly step: HttpStep}
  | {readonly done: true; readonly outcome: Outcome; readonly versions?: number}

export interface OperationRun {
  readonly kind: OperationKind
  readonly key: string
  /**
   * The first request, read by the driver when it sends it (a getter for a write, whose context
   * is then the freshest the bench has seen, as a client's would be when it sends).
   */
  readonly first: HttpStep
  onReply(reply: HttpReply): StepResult
  /** The driver gave up on the operation (timeout, connection error) without a reply. */
  abandon(): void
}

/**
 * What the drivers draw operations from: a workload's OperationFactory, or another store's
 * requests (bench/etcd-compare.ts drives etcd and dyn with the same closed loop).
 */
export interface OperationSource {
  next(): OperationRun
}

export interface QuorumParams {
  readonly n?: number
  readonly r?: number
  readonly w?: number
  readonly dw?: number
}

/** The freshest context seen per key, bounded by the key space the benchmark uses. */
export class ContextCache {
  private readonly contexts = new Map<string, string>()

  constructor(private readonly entriesMax: number) {}

  get(key: string): string | undefined {
    return this.contexts.get(key)
  }

  set(key: string, context: string | undefined): void {
    if (context === undefined || context === '') return
    if (!this.contexts.has(key) && this.contexts.size >= this.entriesMax) return
    this.contexts.set(key, context)
  }

  get size(): number {
    return this.contexts.size
  }
}

function query(params: Record<string, number | undefined>): string {
  const parts = Object.entries(params)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}=${value}`)
  return parts.length === 0 ? '' : `?${parts.join('&')}`
}

function outcomeOf(status: number, body: string): Outcome {
  if (status >= 200 && status < 400) return 'ok'
  if (status === 404) return 'not_found'
  if (status === 503 && body.includes('quorum_unmet')) return 'quorum_unmet'
  // Shed by the node's admission control before any work (src/api/admission.ts): the bench does
  // not retry it, so that an open loop's latencies stay those of the requests as first sent.
  if (status === 503 && body.includes('"overloaded"')) return 'overloaded'
  return 'http_error'
}

interface ReadAnswer {
  readonly context: string | undefined
  /** Live versions the read returned (a deleted sibling is not one). */
  readonly liveVersions: number
  /** Their values, when asked for (a read-modify-write or a cart needs them; a read does not). */
  readonly siblings: Buffer[]
}

/**
 * A successful read as an application gets it from dyn's API: the raw value with its context in
 * X-Dyn-Context when the key has one version (200), and the siblings as JSON only when it has
 * several (300). Reads ask for no JSON: a JSON answer also carries the request's trace and every
 * value in base64, which the node would build and the bench parse on every read, and which a
 * client reading its value does not ask for.
 */
function parseRead(reply: HttpReply, withValues: boolean): ReadAnswer {
  if (reply.status !== 300) return {context: reply.contextHeader, liveVersions: 1, siblings: withValues ? [Buffer.from(reply.body)] : []}
  try {
    const body = JSON.parse(reply.body) as {context?: string; siblings?: Array<{value: string; deleted?: boolean}>}
    const live = (body.siblings ?? []).filter((s) => s.deleted !== true)
    return {context: body.context ?? reply.contextHeader, liveVersions: live.length, siblings: withValues ? live.map((s) => Buffer.from(s.value, 'base64')) : []}
  } catch {
    return {context: reply.contextHeader, liveVersions: 0, siblings: []}
  }
}

export interface OperationFactoryOptions {
  readonly workload: Workload
  readonly chooser: KeyChooser
  readonly contexts: ContextCache
  readonly valueSize: number
  readonly quorum: QuorumParams
  readonly random: Random
}

/** Makes the next operation of a workload: its kind from the mix, its key from the distribution. */
/** A failure a node answered (not found and shedding aside): its status, and the code and message of its JSON body. */
export function answeredFailure(reply: HttpReply): AnsweredFailure {
  try {
    const body = JSON.parse(reply.body) as {error?: unknown; message?: unknown}
    return {status: reply.status, ...(typeof body.error === 'string' ? {error: body.error} : {}), ...(typeof body.message === 'string' ? {message: body.message.slice(0, failureMessageCharsMax)} : {})}
  } catch {
    return {status: reply.status}
  }
}

/** A failure's message is kept to this many characters in the report. */
const failureMessageCharsMax = 500

export class OperationFactory implements OperationSource {
  /**
   * The first failure a node answered per operation kind, since the last `clearFailures`: a body
   * is parsed once per kind, so failing runs cost no more than others.
   */
  readonly firstFailures = new Map<OperationKind, AnsweredFailure>()
  private readonly picker: {next(): OperationKind}
  private readonly readQuery: string
  private readonly writeQuery: string
  private cartItem = 0
  private nextInsertIndex: number

  constructor(private readonly options: OperationFactoryOptions) {
    this.picker = operationPicker(options.workload, options.random)
    this.readQuery = query({n: options.quorum.n, r: options.quorum.r})
    this.writeQuery = query({n: options.quorum.n, w: options.quorum.w, dw: options.quorum.dw})
    this.nextInsertIndex = options.chooser.recordCount
  }

  next(): OperationRun {
    const kind = this.picker.next()
    if (kind === 'insert') {
      // Reads may pick the new record only once its insert has been acknowledged (as YCSB does).
      const index = this.nextInsertIndex
      this.nextInsertIndex += 1
      const chooser = this.options.chooser
      // Every insert is reported once answered, failed ones too: the chooser holds the key space
      // at the lowest index never reported, so one failure must not freeze it.
      return this.write(kind, keyName(index), valueOf(this.options.valueSize, this.options.random), () => chooser.inserted(index))
    }
    const key = keyName(this.options.chooser.next())
    switch (kind) {
      case 'read':
        return this.read(key)
      case 'update': {
        const value = valueOf(this.options.valueSize, this.options.random)
        // A key whose context this bench has not seen (a run with --no-load against a cluster an
        // earlier run loaded, a record whose load failed) is read first, as an application that
        // read before writing would: written blind, every first update of a key made a sibling of
        // what was there (a new user's walk: 336 of 2,000 records had two versions after one run).
        // That update's latency runs from its read, as a read-modify-write's does.
        return this.options.contexts.get(key) !== undefined ? this.write(kind, key, value) : this.readThenWrite(kind, key, () => value)
      }
      case 'rmw':
        return this.readThenWrite(kind, key, () => valueOf(this.options.valueSize, this.options.random))
      case 'cart':
        return this.readThenWrite(kind, key, (siblings) => {
          this.cartItem += 1
          return addToCart(mergeCarts(siblings), `item-${this.cartItem % 1000}`)
        })
    }
  }

  /**
   * The load phase's insert of record `index`. Into a cluster that may hold the records already
   * (a running cluster, given with --node: an earlier run loaded the same keys), it reads the key
   * first and writes with the read's context, superseding what is there. Written blind, each
   * run's load added a sibling to every record, so that after a few runs every read returned
   * several versions (the report's "versions a read returned" measured the earlier runs), and
   * reads and updates carried ever more of them.
   */
  loadRecord(index: number, readFirst = false): OperationRun {
    const value = valueOf(this.options.valueSize, this.options.random)
    return readFirst ? this.readThenWrite('insert', keyName(index), () => value) : this.write('insert', keyName(index), value)
  }

  /** The outcome of a reply, noting the kind's first answered failure. */
  private outcomeOf(kind: OperationKind, reply: HttpReply): Outcome {
    const outcome = outcomeOf(reply.status, reply.body)
    if (outcome !== 'ok' && outcome !== 'not_found' && outcome !== 'overloaded' && !this.firstFailures.has(kind)) this.firstFailures.set(kind, answeredFailure(reply))
    return outcome
  }

  /** Forgets the failures noted so far (the load's, before the measured run). */
  clearFailures(): void {
    this.firstFailures.clear()
  }

  private readStep(key: string): HttpStep {
    return {method: 'GET', path: `/kv/${encodeURIComponent(key)}${this.readQuery}`, headers: {}}
  }

  private writeStep(key: string, value: Buffer, context: string | undefined): HttpStep {
    const headers: Record<string, string> = {'content-type': 'application/octet-stream'}
    if (context !== undefined) headers['x-dyn-context'] = context
    return {method: 'PUT', path: `/kv/${encodeURIComponent(key)}${this.writeQuery}`, headers, body: value}
  }

  private read(key: string): OperationRun {
    const contexts = this.options.contexts
    return {
      kind: 'read',
      key,
      first: this.readStep(key),
      onReply: (reply) => {
        const outcome = this.outcomeOf('read', reply)
        if (outcome !== 'ok') return {done: true, outcome}
        const answer = parseRead(reply, false)
        contexts.set(key, answer.context)
        return {done: true, outcome, versions: answer.liveVersions}
      },
      abandon: () => undefined,
    }
  }

  private write(kind: OperationKind, key: string, value: Buffer, onAnswered?: () => void): OperationRun {
    const contexts = this.options.contexts
    const writeStep = (): HttpStep => this.writeStep(key, value, contexts.get(key))
    return {
      kind,
      key,
      get first() {
        return writeStep()
      },
      onReply: (reply) => {
        contexts.set(key, reply.contextHeader)
        onAnswered?.()
        return {done: true, outcome: this.outcomeOf(kind, reply)}
      },
      abandon: () => onAnswered?.(),
    }
  }

  private readThenWrite(kind: OperationKind, key: string, makeValue: (siblings: readonly Buffer[]) => Buffer): OperationRun {
    const contexts = this.options.contexts
    let reading = true
    let versions = 0
    return {
      kind,
      key,
      first: this.readStep(key),
      onReply: (reply) => {
        if (!reading) {
          contexts.set(key, reply.contextHeader)
          return {done: true, outcome: this.outcomeOf(kind, reply), versions}
        }
        reading = false
        const outcome = this.outcomeOf(kind, reply)
        if (outcome !== 'ok' && outcome !== 'not_found') return {done: true, outcome}
        const answer = outcome === 'ok' ? parseRead(reply, true) : {context: reply.contextHeader, liveVersions: 0, siblings: []}
        versions = answer.liveVersions
        return {done: false, step: this.writeStep(key, makeValue(answer.siblings), answer.context)}
      },
      abandon: () => undefined,
    }
  }
}
