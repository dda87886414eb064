// A real command given a word too many, through the `dyn` executable (oclif reads the word as
// part of the command's name, and its not-found hook answers): the command is named with what it
// takes, under bad_usage and exit 2, and nothing is sent to any node. `dyn cluster leave n8` was
// answered "did you mean cluster remove?" (a removal gives up what only that node holds), `dyn
// cluster commit extra` "did you mean cluster join?", and `dyn top extra` with an empty list.

import assert from 'node:assert/strict'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {after, before, describe, it} from 'node:test'
import {runDyn} from './harness.js'

describe('a command given an argument it does not take', () => {
  // Stands in for a node at DYN_NODE, counting what reaches it: a refused line sends nothing.
  let requests = 0
  let server: http.Server
  let env: Record<string, string>
  before(async () => {
    server = http.createServer((_request, response) => {
      requests += 1
      response.writeHead(500).end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    env = {DYN_NODE: `127.0.0.1:${(server.address() as AddressInfo).port}`}
  })
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  it('cluster leave NAME says to use --name, in text and JSON, and stages nothing', async () => {
    const text = await runDyn(['cluster', 'leave', 'n8'], {env})
    assert.equal(text.code, 2)
    assert.equal(text.stderr, 'dyn: dyn cluster leave takes no arguments, only flags, and was given "n8"; to name the node, use: dyn cluster leave --name n8 (dyn cluster leave --help lists the flags) [bad_usage]\n')
    const json = await runDyn(['cluster', 'leave', 'n8', '--json'], {env})
    assert.equal(json.code, 2)
    const body = JSON.parse(json.stdout) as {ok: boolean; error: string; message: string}
    assert.deepEqual([body.ok, body.error], [false, 'bad_usage'])
    assert.match(body.message, /use: dyn cluster leave --name n8 --json/)
    // After a flag, oclif parses the word as the command's own argument: the same answer.
    const afterFlag = await runDyn(['cluster', 'leave', '--node', env.DYN_NODE as string, 'n8'], {env})
    assert.equal(afterFlag.code, 2)
    assert.match(afterFlag.stderr, /use: dyn cluster leave --name n8 --node 127\.0\.0\.1:\d+ .*\[bad_usage\]\n$/)
    assert.equal(requests, 0)
  })

  it('commit, top, repair, bench and verify name themselves, never another command', async () => {
    for (const line of [['cluster', 'commit', 'extra'], ['top', 'extra'], ['repair', 'extra'], ['bench', 'extra'], ['verify', 'extra']]) {
      const command = line.slice(0, -1).join(' ')
      const run = await runDyn(line, {env})
      assert.equal(run.code, 2, line.join(' '))
      assert.equal(run.stderr, `dyn: dyn ${command} takes no arguments, only flags, and was given "extra" (dyn ${command} --help lists the flags) [bad_usage]\n`)
      const json = JSON.parse((await runDyn([...line, '--json'], {env})).stdout) as {error: string}
      assert.equal(json.error, 'bad_usage', line.join(' '))
    }
    assert.equal(requests, 0)
  })

  it('a typo still gets the nearest command', async () => {
    const typo = await runDyn(['cluster', 'laeve', 'n8'], {env})
    assert.equal(typo.code, 2)
    assert.match(typo.stderr, /did you mean cluster leave\? .*\[unknown_command\]/)
  })
})
