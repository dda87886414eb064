/**
 * The partition-aware client and the per-node throttle (src/client/client-throttle.ts): a request
 * its throttle keeps back from a coordinator that sheds most of what it gets goes to the next
 * choice instead, without that node being thought down. Against two stand-in nodes on real
 * sockets, both answering GET /cluster with the same two-member ring: one sheds every key
 * request, the other serves them.
 */
import assert from 'node:assert/strict'
import {createServer} from 'node:http'
import type {ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import {it} from 'node:test'
import {seededRandom} from '../../src/clock.js'
import {PartitionAwareClient} from '../../src/client/partition-aware-client.js'

interface StandIn {
  readonly address: string
  keyRequests: number
  close(): Promise<void>
}

/** A node stand-in: GET /cluster from `view()`, every key request to `answerKey`. */
async function standIn(view: () => Record<string, unknown>, answerKey: (response: ServerResponse) => void): Promise<StandIn> {
  const server = createServer((request, response) => {
    const isKey = (request.url ?? '').startsWith('/kv/')
    if (isKey) node.keyRequests += 1
    request.resume()
    request.on('end', () => {
      if (isKey) return answerKey(response)
      response.writeHead(200, {'content-type': 'application/json'})
      response.end(JSON.stringify(view()))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const node: StandIn = {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    keyRequests: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  return node
}

/** GET /cluster of both stand-ins: a two-member ring of a and b, at the addresses filled in once they listen. */
function twoMemberView(addresses: Record<string, string>): () => Record<string, unknown> {
  return () => ({
    partitionCount: 8,
    owners: ['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b'],
    ringHash: 'stand-in ring',
    settings: {defaultN: 2},
    members: ['a', 'b'].map((name) => ({name, apiAddress: addresses[name], up: true, status: 'valid'})),
  })
}

/** A key whose first choice is the node at `address`. */
function keyRoutedTo(client: PartitionAwareClient, address: string): string | undefined {
  return Array.from({length: 100}, (_, index) => `key-${index}`).find((candidate) => client.routeFor(candidate) === address)
}

it('sends what the throttle keeps back from a shedding coordinator to the next choice, which serves it', async (t) => {
  const addresses: Record<string, string> = {}
  const view = twoMemberView(addresses)
  const shedder = await standIn(view, (response) => {
    response.writeHead(503, {'content-type': 'application/json', 'retry-after': '1'})
    response.end(JSON.stringify({error: 'overloaded', message: 'busy', retryAfterMs: 1}))
  })
  const server = await standIn(view, (response) => {
    response.writeHead(200, {'content-type': 'application/json'})
    response.end(JSON.stringify({context: 'c', siblings: [{value: Buffer.from('v').toString('base64'), contentType: 'text/plain', timestampMs: 1, deleted: false}]}))
  })
  t.after(() => Promise.all([shedder.close(), server.close()]))
  addresses.a = shedder.address
  addresses.b = server.address
  // A seeded source for the throttles' draws: what is asserted below must not rest on chance.
  const client = await PartitionAwareClient.connect([server.address], {random: seededRandom(7).next})
  // A key whose first choice is the shedding node.
  const key = keyRoutedTo(client, shedder.address)
  assert.ok(key !== undefined, 'some key is routed to the shedding node first')
  let served = 0
  for (let index = 0; index < 100; index += 1) if ((await client.get(key)).ok) served += 1
  // The first gets meet the node's own sheds (which DynClient retries and then reports); once the
  // throttle keeps requests back, they go to the other node.
  assert.ok(served >= 80, `${served} of 100 gets served`)
  assert.ok(shedder.keyRequests < 100, `the shedding node received ${shedder.keyRequests} key requests`)
  assert.equal(client.routeFor(key), shedder.address, 'the shedding node is not thought down: it stays the first choice')
})

it('sends a write that a coordinator refused, not having confirmed that it is still a member, to the next choice', async (t) => {
  const addresses: Record<string, string> = {}
  const view = twoMemberView(addresses)
  // A node restarted where it could not confirm its membership refuses every write before any work.
  const unconfirmed = await standIn(view, (response) => {
    response.writeHead(503, {'content-type': 'application/json'})
    response.end(JSON.stringify({error: 'not_ready', message: 'a restarted on its folder where it could not confirm that it is still a member', membershipUnconfirmed: true}))
  })
  const taking = await standIn(view, (response) => {
    response.writeHead(204, {'x-dyn-context': 'a2V5'})
    response.end()
  })
  t.after(() => Promise.all([unconfirmed.close(), taking.close()]))
  addresses.a = unconfirmed.address
  addresses.b = taking.address
  const client = await PartitionAwareClient.connect([taking.address], {random: seededRandom(7).next})
  const key = keyRoutedTo(client, unconfirmed.address)
  assert.ok(key !== undefined, 'some key is routed to the unconfirmed node first')
  const written = await client.put(key, Buffer.from('v'))
  assert.equal(written.ok, true, JSON.stringify(written))
  assert.equal(unconfirmed.keyRequests, 1)
  assert.equal(taking.keyRequests, 1, 'the next choice took the write')
  assert.equal(client.routeFor(key), unconfirmed.address, 'the node is not thought down')
})
