/**
 * The R+W<=N warning needs all three numbers; a command knows only the ones it was given. A key
 * request's answer says what it ran with (X-Dyn-Quorum: the cluster's defaults for what was not
 * given, fitted to how many members own partitions), and that is what is judged. A command that
 * sets the cluster's defaults (dyn cluster up) is judged on those defaults, which hold once the
 * cluster has N members (one extra request). Only when the user set one of -n, -r, -w.
 *
 * Call it once the node has carried the request out, never before: the node is the one judge of
 * whether N/R/W/DW are valid, and a warning about a request it refuses (`-w 1 --dw 2`) would only
 * bury the error that matters.
 */

import type {DynClient} from '../client/http-client.js'
import {quorumWarning, warn} from './format.js'

/** After a key request (get, put, delete): its node's warning, and R+W<=N on what the request ran with. */
export async function warnOnWeakQuorum(client: DynClient, given: {n?: number; r?: number; w?: number}): Promise<void> {
  // The node's own word first: it says when the cluster made N, R or W smaller than asked.
  const nodeWarning = client.takeNodeWarning()
  if (nodeWarning !== undefined) warn(nodeWarning)
  if (given.n === undefined && given.r === undefined && given.w === undefined) return
  // Judged on the numbers the request ran with: on a cluster smaller than the default N, the
  // defaults' own N would warn about a quorum that was in fact a majority (a put with -w 1 on two
  // members runs with n=2, r=2, w=1; found by a new user's walk). A node too old to say is
  // judged as the defaults are.
  const ranWith = client.lastNodeQuorum()
  if (ranWith === undefined) return warnOnWeakSettings(client, given)
  const warning = quorumWarning(ranWith.n, ranWith.r, ranWith.w)
  if (warning !== undefined) warn(warning)
}

/** After the cluster's defaults were set: R+W<=N on the defaults, with the values given in place of theirs. */
export async function warnOnWeakSettings(client: DynClient, given: {n?: number; r?: number; w?: number}): Promise<void> {
  if (given.n === undefined && given.r === undefined && given.w === undefined) return
  const cluster = await client.getJson('/cluster').catch(() => undefined)
  if (cluster === undefined || !cluster.ok) return
  const settings = cluster.body.settings as {defaultN: number; defaultR: number; defaultW: number}
  const n = given.n ?? settings.defaultN
  const warning = quorumWarning(n, given.r ?? Math.min(settings.defaultR, n), given.w ?? Math.min(settings.defaultW, n))
  if (warning !== undefined) warn(warning)
}
