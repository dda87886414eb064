/**
 * Several machines on one: Linux network namespaces, each with its own address on a bridge, so
 * that dyn can be run and broken as it runs across hosts (each node binds 0.0.0.0 in its own
 * namespace and advertises its own address). Links are cut the way a broken network cuts them:
 * an iptables DROP in the receiving namespace's INPUT chain, so packets vanish and the sender
 * learns nothing (no reset, no ICMP), as behind a partition. The host keeps its own address on
 * the bridge, which cuts leave open, so that a test or a tool on the host always sees every node.
 *
 * Needs root, `ip` (iproute2) and `iptables`. Everything made (namespaces, veth pairs, bridge,
 * rules, which go with their namespace) is removed by `destroy`, which is safe to call twice.
 * Used by the multi-host integration test and the partition-heal experiment.
 */

import {execFile, spawn} from 'node:child_process'
import type {ChildProcess, SpawnOptions} from 'node:child_process'
import {randomInt} from 'node:crypto'
import {promisify} from 'node:util'

const run = promisify(execFile)

/** At most this many namespaces: the addresses are .1 to .N of one /24, the host is .254. */
export const netnsNodesMax = 50

export interface NetnsLab {
  /** The host's address on the bridge: never cut. */
  readonly hostAddress: string
  readonly nodeCount: number
  /** The address of namespace i (1-based). */
  address(i: number): string
  namespace(i: number): string
  /** Runs a command inside namespace i and returns its stdout. */
  exec(i: number, command: string, ...args: string[]): Promise<string>
  /** Starts a long-running command inside namespace i (`ip netns exec` execs it: same pid). */
  spawn(i: number, command: string, args: readonly string[], options?: SpawnOptions): ChildProcess
  /** One way: namespace `at` drops every packet from namespace `from`. */
  dropFrom(at: number, from: number): Promise<void>
  /** Both ways: namespace i neither hears nor is heard by any other namespace (the host still is). */
  isolate(i: number): Promise<void>
  /** Removes every cut. */
  heal(): Promise<void>
  destroy(): Promise<void>
}

async function sh(command: string, ...args: string[]): Promise<string> {
  const {stdout} = await run(command, args)
  return stdout
}

/** Why namespaces cannot be made here, or undefined when they can. */
export async function netnsUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces need Linux, not ${process.platform}`
  if (process.getuid?.() !== 0) return 'network namespaces need root'
  for (const [tool, args] of [['ip', ['netns', 'list']], ['iptables', ['--version']]] as const) {
    try {
      await sh(tool, ...args)
    } catch (error) {
      return `${tool} does not run here (${(error as Error).message.split('\n')[0]}); install ${tool === 'ip' ? 'iproute2' : 'iptables'}`
    }
  }
  // Root in a container without the network capabilities can list namespaces but not make one.
  const probe = `dynprobe${randomInt(1_000_000)}`
  try {
    await sh('ip', 'netns', 'add', probe)
  } catch (error) {
    return `a network namespace cannot be made here (${(error as Error).message.split('\n')[0]})`
  } finally {
    await sh('ip', 'netns', 'del', probe).catch(() => undefined)
  }
  return undefined
}

/** A 10.x.y prefix whose /24 no interface of this machine uses, tried at random. */
export async function freeSubnet(): Promise<string> {
  const inUse = await sh('ip', '-4', 'addr')
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const subnet = `10.${randomInt(200, 250)}.${randomInt(0, 256)}`
    if (!inUse.includes(` ${subnet}.`)) return subnet
  }
  throw new Error('no free 10.200-249.x.0/24 on this machine')
}

/**
 * Makes `nodeCount` namespaces on a new bridge in `subnet` (three octets: "10.213.0"). `tag`
 * (at most 8 characters) prefixes every name made, so that runs side by side do not collide.
 */
export async function createNetnsLab(options: {nodeCount: number; subnet: string; tag: string}): Promise<NetnsLab> {
  const {nodeCount, subnet, tag} = options
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > netnsNodesMax) throw new Error(`a lab has 1 to ${netnsNodesMax} namespaces, not ${nodeCount}`)
  // Interface names are at most 15 bytes: the tag, a letter and the index.
  if (!/^[a-z][a-z0-9]{0,7}$/.test(tag)) throw new Error(`the tag is 1-8 lowercase letters and digits, not ${JSON.stringify(tag)}`)
  if ((await sh('ip', '-4', 'addr')).includes(` ${subnet}.`)) throw new Error(`${subnet}.0/24 is in use on this machine; choose another subnet`)
  const indexes = Array.from({length: nodeCount}, (_, k) => k + 1)
  const namespace = (i: number): string => `${tag}-${i}`
  const address = (i: number): string => `${subnet}.${i}`
  const hostAddress = `${subnet}.254`
  const exec = (i: number, command: string, ...args: string[]): Promise<string> => sh('ip', 'netns', 'exec', namespace(i), command, ...args)
  // Only what this call made is removed, in reverse: a name that already existed (another run's)
  // fails its `add` and is never recorded here.
  const undo: Array<() => Promise<unknown>> = []
  let destroyed: Promise<void> | undefined
  const destroy = (): Promise<void> => {
    destroyed ??= (async () => {
      for (const step of undo.reverse()) await step().catch(() => undefined)
    })()
    return destroyed
  }
  try {
    await sh('ip', 'link', 'add', tag, 'type', 'bridge')
    undo.push(() => sh('ip', 'link', 'del', tag))
    // Where bridged packets pass the host's iptables (br_netfilter, as Docker sets up), a FORWARD
    // policy of DROP would drop the namespaces' traffic: accept it on this bridge while it lives.
    try {
      await sh('iptables', '-I', 'FORWARD', '-i', tag, '-o', tag, '-j', 'ACCEPT')
      undo.push(() => sh('iptables', '-D', 'FORWARD', '-i', tag, '-o', tag, '-j', 'ACCEPT'))
    } catch {
      // No FORWARD chain to add to (no filter table here): nothing filters bridged packets either.
    }
    await sh('ip', 'addr', 'add', `${hostAddress}/24`, 'dev', tag)
    await sh('ip', 'link', 'set', tag, 'up')
    for (const i of indexes) {
      await sh('ip', 'netns', 'add', namespace(i))
      // A namespace takes its rules with it. Its veth goes too, but only once the kernel frees the
      // namespace, which sockets still closing can delay: each veth is deleted first (undone in reverse).
      undo.push(() => sh('ip', 'netns', 'del', namespace(i)))
      await sh('ip', 'link', 'add', `${tag}h${i}`, 'type', 'veth', 'peer', 'name', `${tag}n${i}`)
      undo.push(() => sh('ip', 'link', 'del', `${tag}h${i}`))
      await sh('ip', 'link', 'set', `${tag}n${i}`, 'netns', namespace(i))
      await sh('ip', 'link', 'set', `${tag}h${i}`, 'master', tag, 'up')
      await exec(i, 'ip', 'link', 'set', `${tag}n${i}`, 'name', 'eth0')
      await exec(i, 'ip', 'addr', 'add', `${address(i)}/24`, 'dev', 'eth0')
      await exec(i, 'ip', 'link', 'set', 'eth0', 'up')
      await exec(i, 'ip', 'link', 'set', 'lo', 'up')
    }
  } catch (error) {
    await destroy()
    throw error
  }
  return {
    hostAddress,
    nodeCount,
    address,
    namespace,
    exec,
    spawn: (i, command, args, spawnOptions = {}) => spawn('ip', ['netns', 'exec', namespace(i), command, ...args], spawnOptions),
    dropFrom: async (at, from) => {
      await exec(at, 'iptables', '-A', 'INPUT', '-s', address(from), '-j', 'DROP')
    },
    isolate: async (i) => {
      // Rules run in order: the host's packets are accepted before the subnet's are dropped.
      await exec(i, 'iptables', '-A', 'INPUT', '-s', hostAddress, '-j', 'ACCEPT')
      await exec(i, 'iptables', '-A', 'INPUT', '-s', `${subnet}.0/24`, '-j', 'DROP')
      for (const other of indexes) if (other !== i) await exec(other, 'iptables', '-A', 'INPUT', '-s', address(i), '-j', 'DROP')
    },
    heal: async () => {
      await Promise.all(indexes.map((i) => exec(i, 'iptables', '-F', 'INPUT')))
    },
    destroy,
  }
}
