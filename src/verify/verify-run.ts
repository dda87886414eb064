/**
 * `dyn verify`: Jepsen in a box. It starts a local cluster whose internode links all pass through
 * a fault-injecting proxy (src/verify/fault-proxy.ts: the nodes bind 127.0.0.1 and advertise
 * 127.0.0.2, where the proxy listens on the same ports), runs concurrent shopping-cart clients
 * against every node (src/verify/cart-check.ts), and lets a seeded nemesis (src/verify/nemesis.ts)
 * kill and restart nodes, pause them, and cut links: halves, one node off, one way. Then it heals
 * everything, waits for the home replicas of every cart to hold the same items (hinted handoff and
 * anti-entropy, paper §4.6-4.7), reads each cart from each home replica alone (a ReplicaGet over
 * the internode port, not a quorum read that would merge them), and checks that every
 * acknowledged add is there.
 *
 * This is the process shell: it owns the real clock, processes, sockets and folders; what it
 * decides (the schedule, the check) is pure and lives beside it.
 */

import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {deriveSeed, seededRandom} from '../clock.js'
import {DynClient} from '../client/http-client.js'
import {replicaGetAnswerObject} from '../coordinator/messages.js'
import {DynError} from '../errors.js'
import type {Result} from '../errors.js'
import {readSecretFile} from '../node/cluster-secret.js'
import {systemClock, systemScheduler} from '../node/system-time.js'
import {MessageType} from '../transport/message-type.js'
import {startTcpTransport} from '../transport/tcp-transport.js'
import type {Transport} from '../transport/transport.js'
import {values} from '../versioning/dvvset.js'
import type {ConflictPolicy} from '../membership/member-table.js'
import {conflictPolicies} from '../cli/cluster-settings.js'
import {clusterDown, clusterUp, existingSecretFile, isNodeProcess, isWrapperProcess, localClusterClientCaFile, localClusterNodeTls, localClusterTls, localNodeClient, localNodeNames, newClusterFolderRefusal, probeTimeoutMs, readCluster, removeFolder} from '../cli/local-cluster.js'
import type {LocalCluster, LocalNode, UpResult} from '../cli/local-cluster.js'
import {freeClusterPorts} from '../cli/ports.js'
import {availabilityByFault, checkCarts, converged, encodeCart, mergeCartVersions} from './cart-check.js'
import type {AddRecord, Availability, CartCheck, FaultWindow, OperationRecord, ReplicaCart} from './cart-check.js'
import {localClusterRoutes, localProxyHost, startFaultProxy} from './fault-proxy.js'
import type {FaultProxy} from './fault-proxy.js'
import {describeFault, nemesisSchedule, quietStartMsOf} from './nemesis.js'
import type {FaultEvent, FaultKind} from './nemesis.js'
import {checkRunFlags, checkVerifyMembers, notFaultedOf, notFaultedText, verifyMembers} from './verify-plan.js'
import type {ListedMember, VerifyMember, VerifyMembers} from './verify-plan.js'

/** Where the nodes of a verify cluster are told to reach each other: the proxy's side of loopback. */
export const proxyHost = localProxyHost

export interface VerifyOptions {
  /** A folder to create the cluster in, or that holds one; undefined: a temporary folder, removed after. */
  readonly dir?: string
  readonly keep: boolean
  /** Undefined: not given (--nodes), so the folder's count, or `verifyNodeCountDefault` for a new cluster. */
  readonly nodeCount?: number
  /** The first node's client and internode ports (--port, --rpc-port), the others following; undefined: free ones drawn. */
  readonly ports?: {readonly port: number; readonly rpcPort: number}
  readonly clients: number
  readonly carts: number
  readonly durationMs: number
  readonly seed: number
  readonly kinds: readonly FaultKind[]
  /** Undefined: not given (--conflict), so the folder's policy, or the default for a new cluster. */
  readonly conflict?: ConflictPolicy
  readonly faultMsMin: number
  readonly faultMsMax: number
  readonly gapMs: number
  readonly convergeTimeoutMs: number
  readonly requestTimeoutMs: number
  readonly log: (line: string) => void
  /** Ends the run early (Ctrl-C): the clients and the nemesis stop, and everything is cleaned up. */
  readonly signal?: AbortSignal
}

export interface VerifyReport {
  readonly ok: boolean
  readonly verdict: string
  readonly seed: number
  readonly dir: string
  /** How many members the run judged. */
  readonly nodes: number
  /** The members the run judged: the ring's, as a serving member listed them, wherever they run. */
  readonly members: readonly string[]
  /** The members the nemesis may fault: those started from the folder, which verify can restart. */
  readonly faultTargets: readonly string[]
  /** Members verify loaded and read but left alone (joined from outside the folder, or started by hand), each with why. */
  readonly notFaulted: ReadonlyArray<{readonly name: string; readonly why: string}>
  /** Nodes of the folder that left the cluster (dyn cluster leave or remove): not started, not loaded, not read. */
  readonly left: readonly string[]
  readonly conflict: string
  readonly clients: number
  readonly carts: number
  readonly durationMs: number
  readonly operations: {readonly total: number; readonly succeeded: number; readonly reads: number; readonly writes: number}
  readonly adds: Omit<CartCheck, 'lost' | 'missingOnSomeHomes' | 'unverified'> & {readonly lost: number; readonly missingOnSomeHomes: number; readonly unverified: number}
  readonly lost: CartCheck['lost']
  readonly missingOnSomeHomes: CartCheck['missingOnSomeHomes']
  readonly faults: Partial<Record<FaultKind, number>>
  readonly faultLog: ReadonlyArray<{readonly atMs: number; readonly text: string}>
  readonly availability: {readonly outside: Availability; readonly during: Partial<Record<FaultKind, Availability>>}
  /**
   * From the heal until no node kept a hint and every home replica of every cart held the same
   * items; null: not within the bound.
   */
  readonly convergedAfterMs: number | null
  /** Killed nodes that did not start again, and why: the run could not heal them. */
  readonly restartsFailed: ReadonlyArray<{readonly node: string; readonly message: string}>
  /** Why the homes were not all read, when some could not be (their adds are not called lost). */
  readonly unreadHomes: readonly string[]
}

/** The replica reads of the final check: how long each may take. */
const replicaReadTimeoutMs = 3000
/** How long a kill waits for the killed node (and its wrapper, which records how it ended) to be gone. */
const killedGoneWaitMsMax = 10_000
const killedGonePollMs = 20
const convergencePollMs = 500

export async function runVerify(options: VerifyOptions): Promise<VerifyReport> {
  const {log} = options
  // Refused before anything starts: a run too short for the faults asked, faults a folder's
  // cluster cannot take, or flags that it contradicts, would check something else than what was
  // asked and could still pass. All said in one refusal (checkRunFlags), and before a temporary
  // folder is made, which a refusal would leave behind.
  const existing = options.dir === undefined ? undefined : await readCluster(path.resolve(options.dir))
  const planned = checkRunFlags(path.resolve(options.dir ?? '.'), existing, {nodeCount: options.nodeCount, conflict: options.conflict}, options)
  if (!planned.ok) throw new DynError(planned.error, planned.message)
  // A folder's nodes keep their ports: ports asked for would be ignored, so they are refused.
  if (existing !== undefined && options.ports !== undefined) {
    throw new DynError('bad_parameter', `--port and --rpc-port apply to a cluster dyn verify starts; the cluster in ${path.resolve(options.dir ?? '.')} keeps its own ports (its first node's are ${existing.nodes[0]?.port ?? '?'} and ${existing.nodes[0]?.rpcPort ?? '?'}): leave them out`)
  }
  const dir = path.resolve(options.dir ?? (await mkdtemp(path.join(tmpdir(), 'dyn-verify-'))))
  const {plan} = planned
  // A --dir that holds no cluster yet must be one a new cluster may be made in (dyn cluster up's
  // rule: not a folder of a user's own files), which is said before anything starts.
  if (existing === undefined && options.dir !== undefined) {
    const refusal = await newClusterFolderRefusal(options.dir, localNodeNames(plan.nodeCount))
    if (refusal !== undefined) throw new DynError('bad_parameter', refusal)
  }
  // A folder whose nodes serve TLS is reached over HTTPS and mutual TLS on the internode port
  // with the folder's own files, read and checked before anything starts.
  const nodeTls = existing === undefined ? undefined : await localClusterNodeTls(existing, dir)
  // Nodes that ask their clients for a certificate answer verify's reads only with one.
  const clientCaFile = existing === undefined ? undefined : localClusterClientCaFile(existing)
  if (existing !== undefined && clientCaFile !== undefined && localClusterTls(existing)?.cert === undefined) {
    throw new DynError('bad_parameter', `${dir} holds a cluster whose nodes serve only clients with a certificate of ${clientCaFile} (--tls-client-ca): set DYN_TLS_CERT and DYN_TLS_KEY to yours, and run dyn verify again`)
  }
  // A cluster that was running before verify is left running after it; one verify started is stopped.
  const runningBefore = existing?.nodes.filter(isNodeProcess).length ?? 0
  const wasRunning = runningBefore > 0
  // The members a run would judge, asked of a node that runs already, so that a cluster verify
  // cannot fault as asked is refused before anything starts (asked again once all run, below).
  if (existing !== undefined && wasRunning) {
    const found = await membersOf(existing, existing.nodes.filter(isNodeProcess))
    if (found !== undefined) refuseUnless(checkVerifyMembers(dir, found, options.kinds))
  }
  let proxy: FaultProxy | undefined
  let cluster: LocalCluster | undefined
  let replicaReader: Transport | undefined
  const paused = new Set<number>()
  const aborted = (): boolean => options.signal?.aborted === true
  try {
    const {nodeCount} = plan
    const ports = existing !== undefined ? {port: existing.nodes[0]?.port ?? 0, rpcPort: existing.nodes[0]?.rpcPort ?? 0} : (options.ports ?? (await freeClusterPorts(nodeCount)))
    const folderNames = existing?.nodes.map((node) => node.name) ?? localNodeNames(nodeCount)
    const advertiseHost = existing === undefined ? proxyHost : existing.advertiseHost
    if (advertiseHost !== undefined) {
      proxy = await startFaultProxy(localClusterRoutes(folderNames, ports, advertiseHost)).catch((error: Error) => {
        throw new DynError('unreachable', `the fault proxy cannot listen on ${advertiseHost} (${error.message}); dyn verify needs the loopback addresses 127.0.0.0/8 (Linux) and those ports free`)
      })
    }
    const proxied = proxy === undefined ? '' : `, their internode links through a fault proxy on ${proxyHost}`
    if (existing === undefined) log(`starting ${nodeCount} nodes in ${dir}${proxied}`)
    // The first start may be cut short by Ctrl-C (it stops what it started); a restart that heals
    // a kill is not, so that the fault under way is healed before verify stops.
    const up = async (signal?: AbortSignal): Promise<UpResult> =>
      clusterUp(
        {
          dir,
          command: 'verify',
          ...(signal === undefined ? {} : {signal}),
          ...(existing === undefined ? {nodeCount, port: ports.port, rpcPort: ports.rpcPort, settings: {conflictPolicy: plan.conflict}} : {}),
          ...(advertiseHost === undefined ? {} : {advertiseHost}),
          startArgs: existing === undefined ? ['--request-timeout', String(options.requestTimeoutMs), '--anti-entropy-ms', '1000'] : [],
          readyTimeoutMs: 60_000,
          // A folder's nodes keep their ports; a new cluster takes --port and --rpc-port, or draws free ones.
          portsInUseAdvice:
            existing !== undefined
              ? "leave out --dir for a new cluster on free ports (the folder's nodes keep their ports)"
              : options.ports !== undefined
                ? `give --port and --rpc-port where ${nodeCount} consecutive ports of each are free, or leave them out for free ones`
                : 'run dyn verify again: it draws other free ports each time',
        },
        () => undefined,
      )
    const started = await up(options.signal).catch((error: unknown) => {
      if (error instanceof DynError && error.code === 'interrupted') throw new DynError('interrupted', 'dyn verify was stopped while its cluster started (Ctrl-C): the nodes it had started are stopped again, and nothing was checked')
      throw error
    })
    cluster = started
    const running = cluster
    // The run judges the ring's members as a serving member lists them, not the folder's record:
    // a node removed since is neither loaded nor read (up did not start it), and a member joined
    // from outside the folder is loaded and read where it runs, but never faulted.
    const found = await membersOf(running, running.nodes.filter((node) => node.left !== true && isNodeProcess(node)))
    if (found === undefined) throw new DynError('unreachable', `no node of the cluster in ${dir} answered GET /cluster after it started, so verify cannot tell its members: read the nodes' logs there (nK.log) and run dyn verify again`)
    refuseUnless(checkVerifyMembers(dir, found, options.kinds))
    const {members} = found
    const names = members.filter((member) => member.controlled).map((member) => member.name)
    if (existing !== undefined) log(usingText(dir, started, found, proxied))
    const clientsByNode = members.map((member) => localNodeClient(running, member.apiAddress, options.requestTimeoutMs + 1000))
    // The carts' clients go through a node picked at random and, as dyn's clients do, on to the
    // next when that one cannot be connected to (killed): availability is then what a client
    // gets, not what one node gives (a kill once cost a third of the operations sent to it).
    const addresses = members.map((member) => member.apiAddress)
    const clientsThrough = addresses.map((_, first) => localNodeClient(running, [...addresses.slice(first), ...addresses.slice(0, first)], options.requestTimeoutMs + 1000))
    // The final reads ask any node that answers: the one asked first may be the one a fault hit last.
    const anyNode = clientsThrough[0] as DynClient
    // The verdict is read by the policy the nodes apply, which they report; the folder's record
    // (or the flag, for a new cluster) only when none answers.
    const conflict = (await reportedConflictPolicy(anyNode)) ?? plan.conflict
    const runId = `${options.seed}-${Date.now().toString(36)}`
    const cartKeys = Array.from({length: options.carts}, (_, k) => `verify-cart-${runId}-${k}`)

    // The run: clients and nemesis side by side, for durationMs.
    // A run without faults needs no nemesis, and may judge a cluster with a single member.
    const schedule = options.kinds.length === 0 ? [] : nemesisSchedule({
      nodeNames: names,
      durationMs: options.durationMs,
      kinds: options.kinds,
      random: seededRandom(deriveSeed(options.seed, 'nemesis')),
      faultMsMin: options.faultMsMin,
      faultMsMax: options.faultMsMax,
      gapMs: options.gapMs,
      quietStartMs: quietStartMsOf(options.durationMs),
    })
    const startedAtMs = Date.now()
    const elapsedMs = (): number => Date.now() - startedAtMs
    const operations: OperationRecord[] = []
    const adds: AddRecord[] = []
    let reads = 0
    let writes = 0
    const faultLog: Array<{atMs: number; text: string}> = []
    const windows: FaultWindow[] = []
    const note = (text: string): void => {
      faultLog.push({atMs: elapsedMs(), text})
      log(`${(elapsedMs() / 1000).toFixed(1).padStart(6)} s  ${text}`)
    }
    log(`running ${options.clients} clients on ${options.carts} carts for ${options.durationMs / 1000} s; nemesis seed ${options.seed}: ${schedule.length} fault(s)`)

    const client = async (index: number): Promise<void> => {
      const random = seededRandom(deriveSeed(options.seed, `client ${index}`))
      let sequence = 0
      // Bounded by the run's length: every iteration makes at least one request that times out.
      while (elapsedMs() < options.durationMs && !aborted() && nemesisFailure === undefined) {
        const cart = cartKeys[random.int(cartKeys.length)] as string
        const through = clientsThrough[random.int(clientsThrough.length)] as DynClient
        const readAtMs = elapsedMs()
        const read = await through.get(cart).catch(() => undefined)
        reads += 1
        operations.push({atMs: readAtMs, ok: read?.ok === true})
        if (read === undefined || !read.ok) {
          await sleep(50)
          continue
        }
        const items = read.found ? mergeCartVersions(read.siblings.map((sibling) => sibling.value)).items : new Set<string>()
        const item = `c${index}-${sequence}`
        sequence += 1
        items.add(item)
        const writeAtMs = elapsedMs()
        const context = read.context
        const written = await through.put(cart, encodeCart(items), {contentType: 'application/json', ...(context === undefined ? {} : {context})}).catch(() => undefined)
        writes += 1
        operations.push({atMs: writeAtMs, ok: written?.ok === true})
        adds.push({cart, item, outcome: written?.ok === true ? 'acknowledged' : 'failed'})
      }
    }

    const apply = async (event: FaultEvent): Promise<void> => {
      const node = running.nodes.find((candidate) => candidate.name === event.nodes[0])
      // A node whose restart failed has no process to signal (and its old pid may be another's now).
      const live = node !== undefined && isNodeProcess(node) ? node.pid : undefined
      if ((event.kind === 'kill' || event.kind === 'pause') && live === undefined) note(`${event.nodes[0]} is not running: nothing to ${event.kind}`)
      else if (event.kind === 'kill') {
        process.kill(live as number, 'SIGKILL')
        // A killed process can take a moment to go on a loaded machine (a disk write it is in
        // finishes first): the restart's dyn cluster up then found it still running, left it
        // alone, and saw it die "while starting" (a false NOT CONVERGED in CI). Bounded.
        const killed = node as LocalNode
        const deadlineMs = Date.now() + killedGoneWaitMsMax
        while ((isNodeProcess(killed) || isWrapperProcess(killed)) && Date.now() < deadlineMs) await sleep(killedGonePollMs)
      }
      else if (event.kind === 'pause') {
        process.kill(live as number, 'SIGSTOP')
        paused.add(live as number)
      } else if (event.kind === 'isolate') proxy?.isolate(event.nodes[0] as string)
      else if (event.kind === 'one-way') proxy?.block(event.nodes[0] as string, event.nodes[1] as string)
      else if (event.kind === 'partition') proxy?.partition([[...event.nodes], names.filter((name) => !event.nodes.includes(name))])
    }
    // A killed node that did not start again (a walk's full disk refused it): said as such, not
    // as healed, and named in the verdict, which otherwise blamed hints or replicas.
    const restartsFailed: Array<{readonly node: string; readonly message: string}> = []
    const revert = async (event: FaultEvent): Promise<boolean> => {
      let healed = true
      if (event.kind === 'kill') {
        // cluster up starts the nodes of the folder that do not run, on their data and ports.
        const original = running.nodes.find((candidate) => candidate.name === event.nodes[0])
        cluster = await up().catch((error: Error) => {
          note(`restarting ${event.nodes[0]} failed: ${error.message}`)
          restartsFailed.push({node: event.nodes[0] as string, message: error.message})
          healed = false
          if (original !== undefined) original.pid = undefined
          return running
        })
        const restarted = cluster.nodes.find((candidate) => candidate.name === event.nodes[0])
        if (restarted !== undefined && original !== undefined && restarted !== original) original.pid = restarted.pid
      } else if (event.kind === 'pause') {
        for (const pid of paused) process.kill(pid, 'SIGCONT')
        paused.clear()
      } else proxy?.heal()
      return healed
    }
    let nemesisFailure: Error | undefined
    const nemesis = async (): Promise<void> => {
      for (const event of schedule) {
        await sleep(event.startMs - elapsedMs(), options.signal)
        if (aborted()) return
        note(describeFault(event))
        const faultStartMs = elapsedMs()
        try {
          await apply(event)
          await sleep(event.startMs + event.durationMs - elapsedMs(), options.signal)
        } finally {
          // Even when stopped early: no fault outlives the run.
          const healed = await revert(event)
          windows.push({kind: event.kind, startMs: faultStartMs, endMs: elapsedMs()})
          const what = `${event.kind} ${event.nodes.join(event.kind === 'one-way' ? ' -> ' : ', ')}`
          note(healed ? `healed: ${what}` : `not healed: ${what} (the node did not start again)`)
        }
      }
    }
    // A nemesis that fails stops the clients too, and the run ends with its error.
    const nemesisDone = nemesis().catch((error: Error) => {
      nemesisFailure = error
    })
    await Promise.all([nemesisDone, ...Array.from({length: options.clients}, (_, index) => client(index))])
    if (nemesisFailure !== undefined) throw new DynError('internal', `the nemesis failed: ${nemesisFailure.message}`)
    if (aborted()) throw new DynError('interrupted', 'dyn verify was stopped before the end of its run (Ctrl-C): nothing was checked')

    // Everything healed (the nemesis reverts each fault before the next); now wait until no node
    // keeps a hint (an add acknowledged by fallbacks alone is on no home until its hints are
    // delivered) and the homes of every cart hold the same items, reading each alone.
    const healedAtMs = elapsedMs()
    // The nodes hold the secret `cluster up` wrote into the folder, and talk to no one without it.
    const secretFile = existingSecretFile(dir)
    const secret = secretFile === undefined ? undefined : await readSecretFile(secretFile)
    replicaReader = await startTcpTransport({host: '127.0.0.1', port: 0, nodeName: 'dyn-verify', ...(secret === undefined ? {} : {secret}), ...(nodeTls === undefined ? {} : {tls: nodeTls}), clock: systemClock, scheduler: systemScheduler, handler: async () => {
      throw new DynError('bad_request', 'dyn verify only reads')
    }})
    let finalCarts = new Map<string, ReplicaCart[]>()
    let convergedAfterMs: number | null = null
    // Bounded by convergeTimeoutMs.
    while (elapsedMs() - healedAtMs < options.convergeTimeoutMs && !aborted()) {
      const hintsKept = await hintsPending(clientsByNode)
      finalCarts = await readHomes(members, anyNode, replicaReader, cartKeys)
      if (hintsKept === 0 && converged(finalCarts)) {
        convergedAfterMs = elapsedMs() - healedAtMs
        break
      }
      await sleep(convergencePollMs, options.signal)
    }
    const check = checkCarts(adds, finalCarts)
    const faults: Partial<Record<FaultKind, number>> = {}
    for (const event of schedule) faults[event.kind] = (faults[event.kind] ?? 0) + 1
    const unreadHomes = [...finalCarts].flatMap(([cart, replicas]) => replicas.flatMap((replica) => ('error' in replica ? [`${cart} on ${replica.node}: ${replica.error}`] : [])))
    const ok = check.lost.length === 0 && check.missingOnSomeHomes.length === 0 && check.unverified.length === 0 && convergedAfterMs !== null
    return {
      ok,
      verdict: verdictOf(check, convergedAfterMs, conflict, options.convergeTimeoutMs, restartsFailed),
      restartsFailed,
      seed: options.seed,
      dir,
      nodes: members.length,
      members: members.map((member) => member.name),
      faultTargets: names,
      notFaulted: notFaultedOf(members),
      left: found.left,
      conflict,
      clients: options.clients,
      carts: options.carts,
      durationMs: options.durationMs,
      operations: {total: operations.length, succeeded: operations.filter((operation) => operation.ok).length, reads, writes},
      adds: {acknowledged: check.acknowledged, failed: check.failed, failedButPresent: check.failedButPresent, lost: check.lost.length, missingOnSomeHomes: check.missingOnSomeHomes.length, unverified: check.unverified.length},
      lost: check.lost,
      missingOnSomeHomes: check.missingOnSomeHomes,
      faults,
      faultLog,
      availability: availabilityByFault(operations, windows),
      convergedAfterMs,
      unreadHomes,
    }
  } finally {
    // Whatever happened: no node left paused (it could not stop), no process, no proxy.
    for (const pid of paused) {
      try {
        process.kill(pid, 'SIGCONT')
      } catch {
        // It is gone already.
      }
    }
    await replicaReader?.close().catch(() => undefined)
    const keepFolder = options.keep || options.dir !== undefined
    if (!wasRunning && (cluster !== undefined || (await readCluster(dir)) !== undefined)) {
      await clusterDown(dir, 5000, () => undefined).catch(() => undefined)
    }
    await proxy?.close()
    if (!keepFolder) await removeFolder(dir).catch(() => undefined)
  }
}

/** Throws a refusal as the coded error it carries. */
function refuseUnless(check: Result<object>): void {
  if (!check.ok) throw new DynError(check.error, check.message)
}

/**
 * The cluster's members as the first of `from` (nodes of the folder it runs) that answers GET
 * /cluster lists them; undefined when none answers.
 */
async function membersOf(cluster: LocalCluster, from: readonly LocalNode[]): Promise<VerifyMembers | undefined> {
  for (const node of from) {
    const view = await localNodeClient(cluster, `${cluster.host}:${node.port}`, probeTimeoutMs).getJson('/cluster').catch(() => undefined)
    if (view?.ok !== true || !Array.isArray(view.body.members)) continue
    const runsFromFolder = new Set(cluster.nodes.filter(isNodeProcess).map((candidate) => candidate.name))
    return verifyMembers(cluster, runsFromFolder, view.body.members as ListedMember[])
  }
  return undefined
}

/** What a run on a folder's cluster uses, in one line: its members, which it faults, which it started, and which left. */
function usingText(dir: string, started: UpResult, found: VerifyMembers, proxied: string): string {
  const notFaulted = notFaultedOf(found.members)
  const parts = [
    `using the cluster in ${dir}: ${found.members.length} member(s), ${found.members.map((member) => member.name).join(', ')}${proxied}`,
    started.started.length === 0 ? undefined : `started ${started.started.join(', ')}`,
    notFaulted.length === 0 ? undefined : `no fault is injected into ${notFaultedText(notFaulted)}`,
    found.left.length === 0 ? undefined : `${found.left.join(', ')} left the cluster and ${found.left.length === 1 ? 'is' : 'are'} not started`,
  ]
  return parts.filter((part) => part !== undefined).join('; ')
}

/** The hints every node keeps, as its GET /cluster says (a node that does not answer counts one). */
async function hintsPending(clients: readonly DynClient[]): Promise<number> {
  const counts = await Promise.all(
    clients.map(async (client) => {
      const view = await client.getJson('/cluster').catch(() => undefined)
      if (view?.ok !== true) return 1
      const members = (view.body.members ?? []) as Array<{hintsPending?: number}>
      return members.reduce((sum, member) => sum + (member.hintsPending ?? 0), 0)
    }),
  )
  return counts.reduce((sum, count) => sum + count, 0)
}

/** The conflict policy a node of the cluster reports (GET /cluster); undefined when none answers with one. */
async function reportedConflictPolicy(client: DynClient): Promise<ConflictPolicy | undefined> {
  const view = await client.getJson('/cluster').catch(() => undefined)
  const reported = view?.ok === true ? (view.body.settings as {conflictPolicy?: unknown} | undefined)?.conflictPolicy : undefined
  return conflictPolicies.find((policy) => policy === reported)
}

/** Each cart's copy on each of its home replicas, asked of that replica alone, wherever the member runs. */
async function readHomes(members: readonly VerifyMember[], anyNode: DynClient, reader: Transport, cartKeys: readonly string[]): Promise<Map<string, ReplicaCart[]>> {
  const carts = new Map<string, ReplicaCart[]>()
  for (const cart of cartKeys) {
    const placement = await anyNode.getJson(`/cluster/preflist/${encodeURIComponent(cart)}`).catch(() => undefined)
    if (placement?.ok !== true) {
      carts.set(cart, [{node: '?', error: 'no preference list: the node did not answer'}])
      continue
    }
    const partition = placement.body.partition as number
    const homes = (placement.body.preflist as Array<{node: string; home: boolean}>).filter((entry) => entry.home).map((entry) => entry.node)
    carts.set(
      cart,
      await Promise.all(
        homes.map(async (name): Promise<ReplicaCart> => {
          const member = members.find((candidate) => candidate.name === name)
          if (member === undefined) return {node: name, error: 'not a member when the run began'}
          const answer = await reader.request(member.rpcAddress, MessageType.ReplicaGet, {partition, key: cart}, replicaReadTimeoutMs)
          if (!answer.ok) return {node: name, error: `${answer.error}: ${answer.message}`}
          const object = replicaGetAnswerObject(answer.body)
          if (object === undefined) return {node: name, items: new Set()}
          if (object === 'malformed') return {node: name, error: 'its answer is not an object'}
          const live = values(object.versions).filter((version) => !version.tombstone)
          return {node: name, items: mergeCartVersions(live.map((version) => version.value)).items}
        }),
      ),
    )
  }
  return carts
}

export function verdictOf(
  check: CartCheck,
  convergedAfterMs: number | null,
  conflict: string,
  convergeTimeoutMs: number,
  restartsFailed: ReadonlyArray<{readonly node: string; readonly message: string}> = [],
): string {
  if (check.lost.length > 0) {
    const why =
      conflict === 'lww'
        ? ': with --conflict lww, two writes of one cart made concurrently (from the same read) overwrite each other by timestamp, so the adds of the one that loses are gone. This is what last-writer-wins does, not a fault of the run; the default, siblings, keeps both'
        : ''
    return `LOST ${check.lost.length} acknowledged add(s)${why}`
  }
  if (convergedAfterMs === null && restartsFailed.length > 0) {
    const nodes = [...new Set(restartsFailed.map((failed) => failed.node))]
    return `NOT CONVERGED: ${nodes.join(', ')} did not start again after ${nodes.length === 1 ? 'its' : 'their'} kill (${restartsFailed[0]?.message ?? ''}), so ${nodes.length === 1 ? 'its' : 'their'} replicas and the hints kept for ${nodes.length === 1 ? 'it' : 'them'} could not catch up; fix what the restart said, then run dyn cluster up --dir and dyn repair`
  }
  if (convergedAfterMs === null) return `NOT CONVERGED: ${convergeTimeoutMs / 1000} s after the heal, hints were still kept or the home replicas of some cart differed or could not be read`
  if (check.missingOnSomeHomes.length > 0) return `NOT CONVERGED: ${check.missingOnSomeHomes.length} acknowledged add(s) on some home replicas only`
  return 'ok: every acknowledged add is in its cart on every home replica'
}

/** Waits `ms`, or less when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve()
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, Math.max(0, ms))
    signal?.addEventListener('abort', done, {once: true})
  })
}

