/**
 * What one client get and one client put cost in replica messages and bytes between nodes
 * (issue 18, item 2: "a get at R=2 should cost clearly less than a put at W=2"), for a key of
 * the bench's shape (a YCSB record name, a value of --value-size bytes, one version), with the
 * coordinator one of the key's N homes. The messages are those get-coordinator.ts and
 * put-coordinator.ts send (test/unit/replication-subsystem.test.ts counts the ReplicaGets a get
 * sends); the bytes are each message's frame as the node's own codec encodes it (frame.ts), the
 * length prefix included, without TCP's headers.
 *
 *   node dist/bench/experiments/read-cost.js [--n 3] [--r 2] [--w 2] [--value-size 100]
 */

import {MessageType} from '../../src/transport/message-type.js'
import {tryEncodeFrame} from '../../src/transport/frame.js'
import type {ReplicaGetAnswer, ReplicaGetBody, ReplicaPutAnswer, ReplicaPutBody} from '../../src/coordinator/messages.js'
import type {StoredObject, StoredVersion} from '../../src/storage/stored-object.js'
import {emptySet, update} from '../../src/versioning/dvvset.js'
import {keyName} from '../workloads.js'
import {experimentFlags, positiveInteger, refuseFlags} from './common.js'
import {encodeStoredObject} from '../../src/storage/object-codec.js'

const experiment = 'read-cost'
const {n, r, w, 'value-size': valueSize} = experimentFlags({
  name: experiment,
  measures:
    "What one client get and one client put cost in replica messages and bytes between the nodes, for a key of the bench's shape with the coordinator one of its N homes: each message's frame as the node's own codec encodes it. Computed in this process; no cluster.",
  flags: {
    n: {read: positiveInteger, value: 'N', default: '3', description: 'replicas of the key'},
    r: {read: positiveInteger, value: 'R', default: '2', description: 'answers a get waits for (at most N)'},
    w: {read: positiveInteger, value: 'W', default: '2', description: 'acknowledgements a put waits for (at most N)'},
    'value-size': {read: positiveInteger, value: 'B', default: '100', description: 'bytes of the value'},
  },
  examples: ['node dist/bench/experiments/read-cost.js', 'node dist/bench/experiments/read-cost.js --n 5 --r 3 --w 3 --value-size 1000'],
})
if (r > n || w > n) refuseFlags(experiment, '--r and --w must be at most --n')

const key = keyName(4_242)
const partition = 37
const version: StoredVersion = {value: new Uint8Array(valueSize).fill(0x76), contentType: 'application/octet-stream', timestampMs: 1_764_000_000_000, tombstone: false}
const object: StoredObject = {versions: update([], emptySet<StoredVersion>(), 'n1.1', version, version.timestampMs), n}

const frameBytes = (type: number, body: unknown): number => {
  const encoded = tryEncodeFrame({type, requestId: 123_456, body})
  if (!encoded.ok) throw new Error(`a ${type} frame did not encode: ${encoded.error}`)
  return encoded.bytes.length
}
const getRequest = frameBytes(MessageType.ReplicaGet, {partition, key} satisfies ReplicaGetBody)
const getAnswer = frameBytes(MessageType.Response, {objectBytes: encodeStoredObject(object)} satisfies ReplicaGetAnswer)
const putRequest = frameBytes(MessageType.ReplicaPut, {partition, key, objectBytes: encodeStoredObject(object), durable: false} satisfies ReplicaPutBody)
const putAnswer = frameBytes(MessageType.Response, {durable: false} satisfies ReplicaPutAnswer)

// The coordinator is a home: its own copy costs no message. A put goes to every other home and
// waits for W; a get went to every other home (before issue 18) and now to R - 1 of them.
const rows = [
  {request: `get, all N asked (before)`, peers: n - 1, bytes: (n - 1) * (getRequest + getAnswer)},
  {request: `get, R asked (now)`, peers: r - 1, bytes: (r - 1) * (getRequest + getAnswer)},
  {request: `put (W=${w} of N)`, peers: n - 1, bytes: (n - 1) * (putRequest + putAnswer)},
]
console.log(`N=${n} R=${r} W=${w}, a ${valueSize}-byte value, key ${key}; frames: ReplicaGet ${getRequest} B, its answer ${getAnswer} B, ReplicaPut ${putRequest} B, its answer ${putAnswer} B`)
console.log('| request | replicas asked besides the coordinator | messages between nodes | bytes between nodes |')
console.log('| --- | --- | --- | --- |')
for (const row of rows) console.log(`| ${row.request} | ${row.peers} | ${row.peers * 2} | ${row.bytes} |`)
