/**
 * The closed-loop driver (`--connections C`): autocannon keeps C connections each with one
 * request in flight, as fast as the cluster answers, for the maximum-throughput measurement.
 * It spreads the connections over the given nodes (one autocannon instance per node, as a load
 * balancer would) without a rate, so autocannon applies no latency correction (its correction,
 * made for a rate, would be wrong anyway: see open-loop.ts); a closed loop measures service time.
 * Latency is timed by us, per operation, from the first step's send to the last step's answer,
 * into our own HDR histograms.
 *
 * autocannon sends one request per `setupRequest` and hands each answer to `onResponse` with the
 * same per-request context; a two-step operation's second step waits in a shared queue and goes
 * out with the next request a connection makes (in practice the same connection, at once).
 */

import autocannon from 'autocannon'
import {performance} from 'node:perf_hooks'
import type {TLSSocket} from 'node:tls'
import type {ClientTls} from '../src/transport/tls-ca-file.js'
import type {OperationRun, OperationSource, HttpStep} from './operations.js'
import type {Recorder} from './recorder.js'
import {runStoppedByTls, tlsFailureAdvice} from './tls-failure.js'
import type {TlsFailure} from './tls-failure.js'

export interface ClosedLoopOptions {
  readonly nodes: readonly string[]
  readonly connections: number
  readonly durationS: number
  /**
   * Seconds of the same load first, in the same autocannon run, not measured: the connections
   * are then open and the code compiled when measuring starts, and no operation straddles the
   * boundary between two runs.
   */
  readonly warmupS: number
  readonly timeoutS: number
  readonly factory: OperationSource
  readonly recorder: Recorder
  /** HTTPS to every node, trusting `ca` (the system's CAs without it) and presenting `cert` if given; undefined: plain HTTP. */
  readonly tls?: ClientTls
}

export interface DriverTotals {
  readonly elapsedS: number
  readonly httpRequests: number
  /**
   * Requests that got no answer at all, by kind (the operations they belonged to are not in the
   * histograms). The closed loop's come from autocannon and include the warm-up's.
   */
  readonly transportErrors: {readonly timeout: number; readonly connection: number}
}

interface InFlight {
  readonly run: OperationRun
  readonly startedMs: number
  readonly step: HttpStep
}

/** autocannon's per-request context: set in setupRequest, read back in onResponse. */
interface RequestContext {
  item?: InFlight
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

export async function runClosedLoop(options: ClosedLoopOptions): Promise<DriverTotals> {
  const followUps: InFlight[] = []
  // Operations sent and not yet answered; whatever is left when the run ends was dropped
  // (a timeout, a reset connection, or the run's end) and is abandoned.
  const inFlight = new Set<InFlight>()
  const begin = performance.now()
  const measuredFromMs = begin + options.warmupS * 1000
  options.recorder.startTimeline(measuredFromMs)
  let httpRequests = 0
  // Set when a connection's certificate did not verify: the run is stopped, and fails with it.
  let refusedCertificate: TlsFailure | undefined
  const perNode = options.nodes.map((_, i) => Math.floor(options.connections / options.nodes.length) + (i < options.connections % options.nodes.length ? 1 : 0))
  const runs = options.nodes
    .map((node, i) => ({node, connections: perNode[i] ?? 0}))
    .filter((target) => target.connections > 0)
    .map((target) =>
      autocannon({
        url: `${options.tls === undefined ? 'http' : 'https'}://${target.node}`,
        ...(options.tls === undefined
          ? {}
          : {
              tlsOptions: {ca: options.tls.ca, cert: options.tls.cert, key: options.tls.key},
              setupClient: verifyEachConnection((authorizationError) => {
                // Always a certificate that did not verify (socket.authorized false): tls_untrusted.
                refusedCertificate ??= {text: `${target.node}: ${certificateAdvice(target.node, authorizationError, options.tls)}`, untrusted: true}
                // Without a callback autocannon returns its instance, made thenable (lib/init.js);
                // its types give only the promise.
                for (const run of runs) (run as unknown as {stop: () => void}).stop()
              }),
            }),
        connections: target.connections,
        pipelining: 1,
        duration: options.warmupS + options.durationS,
        timeout: options.timeoutS,
        requests: [
          {
            setupRequest: (request, context) => {
              // autocannon builds each connection's first request before connecting; those are
              // timed from then, and fall in the warm-up.
              const item = followUps.shift() ?? newItem(options.factory.next())
              inFlight.add(item)
              ;(context as RequestContext).item = item
              return {...request, method: item.step.method, path: item.step.path, headers: item.step.headers, body: item.step.body ?? ''}
            },
            onResponse: (status, body, context, headers) => {
              const item = (context as RequestContext).item
              if (item === undefined) return
              ;(context as RequestContext).item = undefined
              inFlight.delete(item)
              const measured = item.startedMs >= measuredFromMs
              if (measured) httpRequests += 1
              const result = item.run.onReply({status, body, contextHeader: headerValue((headers as Record<string, string | string[] | undefined>)['x-dyn-context'])})
              if (result.done) {
                if (measured) options.recorder.record(item.run.kind, result.outcome, (performance.now() - item.startedMs) * 1000, result.versions, item.startedMs)
              } else {
                followUps.push({...item, step: result.step})
              }
            },
          },
        ],
      }),
    )
  const results = await Promise.all(runs)
  const endMs = performance.now()
  for (const item of [...inFlight, ...followUps]) item.run.abandon()
  if (refusedCertificate !== undefined) {
    throw runStoppedByTls(refusedCertificate)
  }
  let timeout = 0
  let connection = 0
  for (const result of results) {
    timeout += result.timeouts
    connection += result.errors - result.timeouts
  }
  return {elapsedS: (endMs - measuredFromMs) / 1000, httpRequests, transportErrors: {timeout, connection: Math.max(0, connection)}}
}

/** The part of autocannon 8's per-connection client (lib/httpClient.js) that the check below reaches into. */
interface AutocannonConnection {
  conn?: TLSSocket
  _connect: () => void
}

/**
 * autocannon 8 opens every HTTPS connection with `rejectUnauthorized: false`, whatever its
 * `tlsOptions` say (lib/httpClient.js), so it would load a server whose certificate does not
 * verify. Node still verifies the chain and the name against the given CA and says so in
 * `authorized`: each connection the client opens, its first and every reconnection, is checked
 * once its handshake is done, and one that did not verify ends the run before any request on it
 * is answered (`refuse`). The client's `_connect` is wrapped for that; test/integration/tls.test.ts
 * runs this loop against a node whose certificate another CA signed, so an autocannon that
 * changed it would fail there.
 */
function verifyEachConnection(refuse: (authorizationError: Error | string) => void): (client: unknown) => void {
  return (client) => {
    const connection = client as AutocannonConnection
    const connect = connection._connect
    if (typeof connect !== 'function') throw new Error('autocannon changed: its client has no _connect to check connections in')
    connection._connect = function (this: AutocannonConnection): void {
      connect.call(this)
      const socket = this.conn
      socket?.once('secureConnect', () => {
        if (socket.authorized) return
        refuse(socket.authorizationError)
        socket.destroy()
      })
    }
  }
}

/**
 * What to do about a node whose certificate did not verify. Node gives the reason as
 * `authorizationError`, OpenSSL's code as a string (an Error for a name that does not match).
 */
function certificateAdvice(node: string, authorizationError: Error | string, tls: ClientTls | undefined): string {
  const reason = typeof authorizationError === 'string' ? authorizationError : authorizationError.message
  const code = typeof authorizationError === 'string' ? authorizationError : ((authorizationError as NodeJS.ErrnoException).code ?? reason)
  return `its certificate did not verify: ${tlsFailureAdvice(node, Object.assign(new Error(reason), {code}), tls) ?? reason}`
}

function newItem(run: OperationRun): InFlight {
  return {run, startedMs: performance.now(), step: run.first}
}
