/**
 * Issue 15: how long after a partition heals every node sees every other `up` again, measured
 * across Linux network namespaces. K nodes (default 5), each in its own namespace with its own
 * address on a bridge, form a cluster; then, for each cut length, one node is cut off from the
 * others both ways (iptables DROP in each receiver's INPUT chain, so packets vanish as on a
 * broken link and senders learn nothing), the cut is held, healed, and the time from the heal
 * until every node's GET /cluster shows every member `up` is measured (polled every 100 ms from
 * the host, through the bridge's own address, which the cut leaves open). It also records how
 * long the others took to see the cut node down.
 *
 * Needs root, `ip` and `iptables`. Everything it makes (namespaces, bridge, rules inside the
 * namespaces, node processes, data folder) is removed at the end, also on Ctrl-C.
 *
 *   sudo node dist/bench/experiments/partition-heal.js [--cuts 10,60,180] [--nodes 5]
 *     [--dyn bin/run.js] [--subnet 10.213.0] [--json]
 *
 * `--dyn` runs another build's bin/run.js (a checkout of an older commit, to compare): a build
 * without `--listen` is started with `--host ADDRESS`, one with it with `--listen 0.0.0.0
 * --advertise ADDRESS`.
 */

import {execFile} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import {closeSync, openSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'
import {createNetnsLab, netnsNodesMax, netnsUnavailable} from '../../src/cli/netns.js'
import type {NetnsLab} from '../../src/cli/netns.js'
import {anyText, experimentFlags, listOf, positiveNumber, wholeNumber} from './common.js'

const run = promisify(execFile)

const values = experimentFlags({
  name: 'partition-heal',
  measures:
    'How long after a partition heals every node sees every other up again, across Linux network namespaces: K nodes, each in a namespace of its own on a bridge, form a cluster; one is cut off both ways (iptables DROP) for each cut length, healed, and the time until every node shows every member up is measured. Needs root, ip and iptables; everything it makes is removed at the end.',
  flags: {
    cuts: {read: listOf(positiveNumber()), value: 'S,S', default: '10,60,180', description: 'how long each cut is held, seconds, comma-separated'},
    nodes: {read: wholeNumber(2, netnsNodesMax), value: 'K', default: '5', description: 'nodes of the cluster'},
    dyn: {read: anyText, value: 'FILE', default: fileURLToPath(new URL('../../../bin/run.js', import.meta.url)), description: 'the bin/run.js of the build the nodes run (an older checkout\'s, to compare)'},
    subnet: {read: anyText, value: 'A.B.C', default: '10.213.0', description: 'the bridge\'s /24, its first three numbers'},
    json: {description: 'print the results as one JSON object'},
  },
  examples: ['sudo node dist/bench/experiments/partition-heal.js', 'sudo node dist/bench/experiments/partition-heal.js --cuts 10,60,180 --nodes 5 --dyn OTHER/bin/run.js'],
})
const {cuts: cutsS, nodes: nodeCount} = values
const unavailable = await netnsUnavailable()
if (unavailable !== undefined) {
  console.error(`partition-heal makes network namespaces, a bridge and iptables rules: ${unavailable}`)
  process.exit(2)
}
/** Polls of every node's /cluster, and the longest a heal is waited for before it counts as never. */
const pollMs = 100
const healWaitMsMax = 300_000
/** Time to settle between cuts, so each starts from a cluster whose detectors have sampled again. */
const settleMs = 10_000
const apiPort = 7070
const rpcPort = 8070
const tag = `dph${process.pid % 100_000}`
let lab: NetnsLab | undefined
const address = (i: number): string => `${values.subnet}.${i}`
const nodeName = (i: number): string => `n${i}`
const indexes = Array.from({length: nodeCount}, (_, i) => i + 1)
const cutNode = nodeCount

const children: ChildProcess[] = []
let dir = ''
let cleaning: Promise<void> | undefined
let failure: unknown

const say = (line: string): void => {
  if (!values.json) console.log(line)
}

async function sh(...args: string[]): Promise<string> {
  const [command, ...rest] = args
  const {stdout} = await run(command as string, rest)
  return stdout
}

async function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const child of children) if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM')
    const deadline = Date.now() + 5000
    while (children.some((child) => child.exitCode === null && child.signalCode === null) && Date.now() < deadline) await sleep(100)
    for (const child of children) if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL')
    await lab?.destroy()
    // The node logs are kept when the run failed, to say why.
    if (dir !== '' && failure === undefined) await rm(dir, {recursive: true, force: true})
  })()
  return cleaning
}

async function startNodes(): Promise<void> {
  const help = await sh(process.execPath, values.dyn, 'start', '--help')
  const hasListen = help.includes('--listen')
  say(`nodes: ${nodeCount}, each in its own namespace at ${address(1)}..${address(nodeCount)}; started with ${hasListen ? '--listen 0.0.0.0 --advertise ADDRESS' : '--host ADDRESS'}`)
  for (const i of indexes) {
    const where = hasListen ? ['--listen', '0.0.0.0', '--advertise', address(i)] : ['--host', address(i)]
    const seeds = i === 1 ? [] : ['--seeds', `${address(1)}:${rpcPort}`]
    const log = openSync(path.join(dir, `${nodeName(i)}.log`), 'a')
    children.push((lab as NetnsLab).spawn(i, process.execPath, [values.dyn, 'start', '--name', nodeName(i), ...where, '--port', String(apiPort), '--rpc-port', String(rpcPort), '--data', path.join(dir, nodeName(i)), ...seeds], {stdio: ['ignore', log, log]}))
    closeSync(log)
    // One at a time: each joins once the one before serves.
    await waitUntil(`${nodeName(i)} to serve`, 30_000, async () => (await fetchJson(i, '/health')) !== undefined)
  }
  await waitUntil('every node to see every member valid and up', 120_000, async () => {
    const views = await Promise.all(indexes.map((i) => fetchJson(i, '/cluster')))
    return views.every((view) => {
      const members = (view?.members ?? []) as Array<{status: string; reachability: string}>
      return members.length === nodeCount && members.every((member) => member.status === 'valid' && member.reachability === 'up')
    })
  })
}

async function fetchJson(i: number, route: string): Promise<Record<string, unknown> | undefined> {
  try {
    const response = await fetch(`http://${address(i)}:${apiPort}${route}`, {signal: AbortSignal.timeout(1000)})
    return response.ok ? ((await response.json()) as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** Each node's view of each member: node name -> member name -> reachability ('unanswered' when the node did not answer). */
async function reachability(): Promise<Map<string, Map<string, string>>> {
  const views = await Promise.all(indexes.map((i) => fetchJson(i, '/cluster')))
  return new Map(
    views.map((view, k) => {
      const members = (view?.members ?? []) as Array<{name: string; reachability: string}>
      return [nodeName(k + 1), new Map(view === undefined ? indexes.map((i) => [nodeName(i), 'unanswered']) : members.map((member) => [member.name, member.reachability]))]
    }),
  )
}

function allUp(views: Map<string, Map<string, string>>): boolean {
  return [...views.values()].every((view) => view.size === nodeCount && [...view.values()].every((state) => state === 'up'))
}

/** Drops, at each receiver, every packet between the cut node and the others, both ways. */
async function cut(): Promise<void> {
  await (lab as NetnsLab).isolate(cutNode)
}

async function heal(): Promise<void> {
  await (lab as NetnsLab).heal()
}

interface CutResult {
  readonly cutS: number
  /** From the cut until every other node saw the cut node down (null: not within the cut). */
  readonly seenDownS: number | null
  /** From the heal until every node saw every member up (null: not within the bound). */
  readonly allUpS: number | null
}

async function measure(cutS: number): Promise<CutResult> {
  const others = indexes.filter((i) => i !== cutNode).map(nodeName)
  await cut()
  const cutAt = Date.now()
  let seenDownS: number | null = null
  while (Date.now() - cutAt < cutS * 1000) {
    if (seenDownS === null) {
      const views = await reachability()
      if (others.every((name) => views.get(name)?.get(nodeName(cutNode)) === 'down')) seenDownS = (Date.now() - cutAt) / 1000
    }
    await sleep(pollMs)
  }
  await heal()
  const healedAt = Date.now()
  let allUpS: number | null = null
  while (Date.now() - healedAt < healWaitMsMax) {
    if (allUp(await reachability())) {
      allUpS = (Date.now() - healedAt) / 1000
      break
    }
    await sleep(pollMs)
  }
  return {cutS, seenDownS, allUpS}
}

async function waitUntil(what: string, timeoutMs: number, done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await done()) return
    await sleep(200)
  }
  throw new Error(`timed out waiting for ${what}`)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void cleanUp().finally(() => process.exit(130))
  })
}

const results: CutResult[] = []
try {
  dir = await mkdtemp(path.join(tmpdir(), 'dyn-partition-heal-'))
  lab = await createNetnsLab({nodeCount, subnet: values.subnet, tag})
  await startNodes()
  for (const cutS of cutsS) {
    await sleep(settleMs)
    say(`cutting ${nodeName(cutNode)} off for ${cutS} s ...`)
    const result = await measure(cutS)
    results.push(result)
    say(`  seen down by the others after ${result.seenDownS === null ? '-' : result.seenDownS.toFixed(1)} s; every node sees every other up ${result.allUpS === null ? `not within ${healWaitMsMax / 1000} s` : `${result.allUpS.toFixed(1)} s`} after the heal`)
  }
} catch (error) {
  failure = error
} finally {
  await cleanUp()
}
if (failure !== undefined) {
  console.error(`partition-heal: ${(failure as Error).message ?? String(failure)} (the node logs are in ${dir})`)
  process.exit(1)
}
if (values.json) {
  console.log(JSON.stringify({nodes: nodeCount, dyn: values.dyn, results}, null, 2))
} else {
  console.log('\n| cut | seen down after | every node sees every other up after the heal |\n| --- | --- | --- |')
  for (const result of results) {
    console.log(`| ${result.cutS} s | ${result.seenDownS === null ? '-' : `${result.seenDownS.toFixed(1)} s`} | ${result.allUpS === null ? `> ${healWaitMsMax / 1000} s` : `${result.allUpS.toFixed(1)} s`} |`)
  }
}
