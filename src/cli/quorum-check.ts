/**
 * The R+W<=N warning needs all three numbers; a command knows only the ones it was given, so
 * the others come from the cluster's defaults (one extra request, made only when the user set
 * one of -n, -r, -w).
 *
 * The warning comes after the node has answered the request, and only when the node did not
 * refuse it as bad input: the node is the one judge of whether N/R/W/DW are valid, and a warning
 * about a request that was never carried out (`-w 1 --dw 2`) would only bury its error.
 */

import type {DynClient} from '../client/http-client.js'
import {exitCodeOf, exitCodes} from './exit-codes.js'
import {quorumWarning} from './format.js'

export async function warnOnWeakQuorum(
  client: DynClient,
  given: {n?: number; r?: number; w?: number},
  answer: {readonly ok: true} | {readonly ok: false; readonly error: string},
): Promise<void> {
  if (!answer.ok && exitCodeOf(answer.error) === exitCodes.usage) return
  if (given.n === undefined && given.r === undefined && given.w === undefined) return
  const cluster = await client.getJson('/cluster').catch(() => undefined)
  if (cluster === undefined || !cluster.ok) return
  const settings = cluster.body.settings as {defaultN: number; defaultR: number; defaultW: number}
  const n = given.n ?? settings.defaultN
  const warning = quorumWarning(n, given.r ?? Math.min(settings.defaultR, n), given.w ?? Math.min(settings.defaultW, n))
  if (warning !== undefined) process.stderr.write(`${warning}\n`)
}
