/**
 * The one shape every part of a running node has (riak_core's services under one vnode, which
 * all answer the same few callbacks; hashicorp/memberlist's Delegate): a subsystem declares the
 * internode message types it serves, the work it repeats on the node's scheduler, its part of
 * GET /stats and its stop. Nothing outside a subsystem needs to know more of it than that to
 * run it. The node's assembler (src/node/assemble.ts) builds the parts they share (store,
 * transport, clock, scheduler, random, the membership view), lists the subsystems and composes
 * them: one router from all their handlers, one list of timers, one /stats, one stop.
 *
 * This contract sits beside `Scheduler` and `Clock` at the bottom of src/, so that a subsystem
 * in any layer (src/coordinator, src/handoff, src/membership, src/storage) can take the shape
 * without importing the node above it. Message types are the numbers of the append-only
 * `MessageType` enum (src/transport/message-type.ts).
 */

import {assert, DynError} from './errors.js'

/**
 * Answers one internode request of a type a subsystem serves: a value, a promise of one, or a
 * throw (a `DynError` reaches the caller with its code, see transport.ts's `RequestHandler`).
 */
export type MessageHandler = (body: unknown, fromNode: string) => unknown

/** Work a node repeats on its scheduler; `run` does one round at once (the simulator may call it too). */
export interface PeriodicTask {
  readonly name: string
  readonly intervalMs: number
  /**
   * Also run once as soon as the node is assembled, after every task has been scheduled: a
   * round that should not wait a whole interval (a new member's first gossip).
   */
  readonly runsAtStart?: boolean
  run(): Promise<void>
}

export interface Subsystem {
  /** Names it in assertions and logs. */
  readonly name: string
  /** The internode request types it answers, each with its handler; no type may be claimed by two subsystems. */
  readonly handlers: ReadonlyMap<number, MessageHandler>
  /** Scheduled in the order listed, after the tasks of the subsystems listed before it. */
  readonly periodicTasks: readonly PeriodicTask[]
  /** Its fields of GET /stats, merged into the node's answer in list order (an empty object when it counts nothing). */
  stats(): Record<string, unknown>
  /**
   * Called once its timers are cancelled: ends, or waits for, the work under way that must not be
   * cut off when the shared parts close (a release pass, a transfer's current page). Subsystems
   * stop in the reverse of their list order, before the shared parts close in the reverse of theirs.
   */
  stop(): Promise<void>
}

/** The router of a node: what the transport hands each inbound request to. */
export type Router = (type: number, body: unknown, fromNode: string) => Promise<unknown>

/**
 * One router over the handlers of every subsystem. A message type claimed twice is a
 * programmer's error, refused here when the node is assembled (never at the first message);
 * a type nobody claims is answered with `bad_request`, as a malformed message is.
 */
export function routerOf(subsystems: readonly Subsystem[]): Router {
  const handlers = new Map<number, {readonly subsystem: string; readonly handle: MessageHandler}>()
  for (const subsystem of subsystems) {
    for (const [type, handle] of subsystem.handlers) {
      const claimed = handlers.get(type)
      assert(claimed === undefined, `message type ${type} is claimed by both ${claimed?.subsystem} and ${subsystem.name}`)
      handlers.set(type, {subsystem: subsystem.name, handle})
    }
  }
  return async (type, body, fromNode) => {
    const handler = handlers.get(type)
    if (handler === undefined) throw new DynError('bad_request', `unknown message type ${type}`)
    return handler.handle(body, fromNode)
  }
}

/** The subsystems' fields of GET /stats, in list order; two subsystems may not serve one field. */
export function statsOf(subsystems: readonly Subsystem[]): Record<string, unknown> {
  const fields: Record<string, unknown> = {}
  for (const subsystem of subsystems) {
    for (const [field, value] of Object.entries(subsystem.stats())) {
      assert(!(field in fields), `the /stats field ${field} is served by two subsystems (${subsystem.name} is the second)`)
      fields[field] = value
    }
  }
  return fields
}

/**
 * What a node's StartingRouter answers (with `overloaded`) until it is open: those who ask it on
 * purpose (a restart's seed check finding itself, a seed dialling a joining node back) tell it
 * from any other refusal by these words.
 */
export function stillStartingMessage(nodeName: string): string {
  return `${nodeName} is still starting`
}

/**
 * The router a node's transport starts with. The transport must listen before the subsystems
 * exist (a joining node asks its seed through it), so until `open` hands it the subsystems'
 * router, every request is answered `overloaded`: the caller may try again, and a forwarded put
 * goes on to the next home, since nothing was done here.
 */
export class StartingRouter {
  #route: Router | undefined
  readonly #early = new Map<number, MessageHandler>()

  constructor(private readonly nodeName: string) {}

  /** Hand this to the transport; it routes once `open` has been called (early types at once). */
  readonly handle: Router = async (type, body, fromNode) => {
    const early = this.#early.get(type)
    if (early !== undefined) return early(body, fromNode)
    const route = this.#route
    if (route === undefined) throw new DynError('overloaded', stillStartingMessage(this.nodeName))
    return route(type, body, fromNode)
  }

  /**
   * Serve `type` from now on, before `open` and after it: a question the node must answer while
   * it is itself still starting (src/node/disk-check.ts), which no subsystem then serves.
   */
  serveEarly(type: number, handle: MessageHandler): void {
    assert(!this.#early.has(type), `${this.nodeName} serves message type ${type} early twice`)
    this.#early.set(type, handle)
  }

  /** From now on every request goes to `route`; opened once. */
  open(route: Router): void {
    assert(this.#route === undefined, `${this.nodeName}'s router was opened twice`)
    this.#route = route
  }
}
