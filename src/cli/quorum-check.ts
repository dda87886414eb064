/**
 * The R+W<=N warning needs all three numbers; a command knows only the ones it was given, so
 * the others come from the cluster's defaults (one extra request, made only when the user set
 * one of -n, -r, -w).
 *
 * Call it once the node has carried the request out, never before: the node is the one judge of
 * whether N/R/W/DW are valid, and a warning about a request it refuses (`-w 1 --dw 2`) would only
 * bury the error that matters.
 */

import type {DynClient} from '../client/http-client.js'
import {quorumWarning, warn} from './format.js'

export async function warnOnWeakQuorum(client: DynClient, given: {n?: number; r?: number; w?: number}): Promise<void> {
  // The node's own word first: it says when the cluster made N, R or W smaller than asked.
  const nodeWarning = client.takeNodeWarning()
  if (nodeWarning !== undefined) warn(nodeWarning)
  if (given.n === undefined && given.r === undefined && given.w === undefined) return
  const cluster = await client.getJson('/cluster').catch(() => undefined)
  if (cluster === undefined || !cluster.ok) return
  const settings = cluster.body.settings as {defaultN: number; defaultR: number; defaultW: number}
  const n = given.n ?? settings.defaultN
  const warning = quorumWarning(n, given.r ?? Math.min(settings.defaultR, n), given.w ?? Math.min(settings.defaultW, n))
  if (warning !== undefined) warn(warning)
}
