/**
 * Delete (paper §4.1): a tombstone version written like a put, so that it supersedes exactly
 * the versions the client's context saw and replicates, repairs and reconciles like any value.
 * Without a context the tombstone would only be a sibling of what is stored, so the coordinator
 * first reads the key (R replicas) and deletes what that read saw, as a client would.
 */

import type {StoredObject} from '../storage/stored-object.js'
import type {VersionVector} from '../versioning/dvvset.js'
import {join, values} from '../versioning/dvvset.js'
import type {CoordinatorDeps} from './coordinator-deps.js'
import {coordinateGet} from './get-coordinator.js'
import type {GetOutcome} from './get-coordinator.js'
import {coordinatePut} from './put-coordinator.js'
import type {PutOutcome} from './put-coordinator.js'

export interface DeleteRequest {
  readonly key: string
  /** Undefined when the client sent none: the delete then reads first. */
  readonly context: VersionVector | undefined
  readonly n: number
  /** The replica count recorded with the key's tombstone (put-coordinator.ts); `n` when absent. */
  readonly storedN?: number
  readonly r: number
  readonly w: number
  readonly dw: number
  readonly pr: number
  readonly pw: number
  readonly explain: boolean
}

/** A delete either writes its tombstone (a put outcome) or finds nothing live to delete. */
export type DeleteOutcome = PutOutcome | {readonly ok: false; readonly error: 'not_found'; readonly read: GetOutcome & {ok: true}}

export function hasLiveVersion(object: StoredObject | undefined): boolean {
  return object !== undefined && values(object.versions).some((version) => !version.tombstone)
}

export async function coordinateDelete(deps: CoordinatorDeps, request: DeleteRequest): Promise<DeleteOutcome> {
  let context = request.context
  if (context === undefined) {
    const read = await coordinateGet(deps, {key: request.key, n: request.n, r: request.r, pr: request.pr, explain: false})
    if (!read.ok) return read
    if (!hasLiveVersion(read.object)) return {ok: false, error: 'not_found', read}
    context = join((read.object as StoredObject).versions)
  }
  return coordinatePut(deps, {
    key: request.key,
    value: new Uint8Array(0),
    contentType: 'application/octet-stream',
    tombstone: true,
    context,
    n: request.n,
    ...(request.storedN === undefined ? {} : {storedN: request.storedN}),
    w: request.w,
    dw: request.dw,
    pw: request.pw,
    explain: request.explain,
  })
}
