/**
 * Paper §4.6: how long hinted handoff takes to hand back the writes a node missed. A 4-node
 * cluster on free ports; one node is killed; K puts (w=2, 100-byte values) go to keys of which
 * it is a home replica, through a node that is one too, so that a fallback keeps a hint for each;
 * then the node is restarted, and the time from its restart (its API answering) until every
 * node's hint count for it is 0 is measured, polling /cluster every 50 ms.
 *
 *   node dist/bench/experiments/hinted-handoff.js [--hints 10000] [--connections 32]
 */

import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {clusterDownAndRemoveFolder, clusterUp, isNodeProcess, startLocalNode, waitForNodes} from '../../src/cli/local-cluster.js'
import {freeClusterPorts} from '../../src/cli/ports.js'
import {experimentFlags, positiveInteger} from './common.js'

const {hints: hintCount, connections} = experimentFlags({
  name: 'hinted-handoff',
  measures:
    'Paper §4.6: how long hinted handoff takes to hand back the writes a node missed. On a 4-node cluster one node is killed, K puts go to keys it is a home of (a fallback keeps a hint for each), and the time from its restart until no node holds a hint for it is measured.',
  flags: {
    hints: {read: positiveInteger, value: 'K', default: '10000', description: 'puts made while the node is down, each a hint'},
    connections: {read: positiveInteger, value: 'C', default: '32', description: 'puts in flight at a time'},
  },
  examples: ['node dist/bench/experiments/hinted-handoff.js'],
})
const pollMs = 50

const dir = await mkdtemp(path.join(tmpdir(), 'dyn-handoff-'))
const {port, rpcPort} = await freeClusterPorts(4)
const cluster = await clusterUp({dir, nodeCount: 4, port, rpcPort, startArgs: [], readyTimeoutMs: 30_000}, () => undefined)
const api = (index: number): string => `http://${cluster.host}:${cluster.nodes[index]!.port}`
const victim = cluster.nodes[3]!

async function json(url: string): Promise<Record<string, unknown>> {
  return (await (await fetch(url, {headers: {accept: 'application/json'}})).json()) as Record<string, unknown>
}

async function hintsFor(name: string): Promise<number> {
  let total = 0
  for (const index of [0, 1, 2]) {
    const members = (await json(`${api(index)}/cluster`)).members as Array<{name: string; hintsPending: number}>
    total += members.find((member) => member.name === name)?.hintsPending ?? 0
  }
  return total
}

try {
  // Keys that the victim is a home of, each with a coordinator among the other homes.
  const keys: Array<{key: string; via: number}> = []
  for (let i = 0; keys.length < hintCount; i += 1) {
    const key = `hint-${i}`
    const preflist = (await json(`${api(0)}/cluster/preflist/${key}`)).preflist as Array<{node: string; home: boolean}>
    const homes = preflist.filter((entry) => entry.home).map((entry) => entry.node)
    if (!homes.includes(victim.name)) continue
    const via = cluster.nodes.findIndex((node) => node.name !== victim.name && homes.includes(node.name))
    keys.push({key, via})
  }
  process.kill(victim.pid!, 'SIGKILL')
  // Wait until the others see it down, so that every put goes to a fallback.
  for (;;) {
    const members = (await json(`${api(0)}/cluster`)).members as Array<{name: string; reachability: string}>
    if (members.find((member) => member.name === victim.name)?.reachability === 'down') break
    await new Promise((resolve) => setTimeout(resolve, pollMs))
  }
  const value = 'x'.repeat(100)
  let next = 0
  let failed = 0
  const writeStartedMs = performance.now()
  await Promise.all(
    Array.from({length: connections}, async () => {
      for (let index = next++; index < keys.length; index = next++) {
        const {key, via} = keys[index]!
        const response = await fetch(`${api(via)}/kv/${key}?w=2`, {method: 'PUT', body: value})
        await response.arrayBuffer()
        if (response.status !== 204) failed += 1
      }
    }),
  )
  const writeMs = performance.now() - writeStartedMs
  const pending = await hintsFor(victim.name)
  startLocalNode(cluster, victim, cluster.startArgs ?? [])
  await waitForNodes(cluster, [victim], undefined, 30_000)
  const restartedMs = performance.now()
  while ((await hintsFor(victim.name)) > 0) await new Promise((resolve) => setTimeout(resolve, pollMs))
  const deliveredMs = performance.now() - restartedMs
  process.stdout.write(
    `${keys.length} puts with ${victim.name} down in ${(writeMs / 1000).toFixed(1)} s (${failed} failed); ${pending} hints pending for it\n` +
      `delivered in ${(deliveredMs / 1000).toFixed(2)} s after its restart: ${Math.round(pending / (deliveredMs / 1000))} hints/s\n`,
  )
} finally {
  // The folder's record still has the victim's first pid: its restart is stopped here, by its
  // own, and waited for (bounded) before the folder goes.
  if (isNodeProcess(victim)) process.kill(victim.pid!, 'SIGKILL')
  for (let attempt = 0; attempt < 100 && isNodeProcess(victim); attempt++) await new Promise((resolve) => setTimeout(resolve, 50))
  await clusterDownAndRemoveFolder(dir, 5000, () => undefined)
}
