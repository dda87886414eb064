/**
 * Tests of `dyn start --processes`' plan (src/cli/start-processes.ts): the K nodes' names, ports,
 * folders and seeds, the refusals, and how many nodes a folder that already holds some runs.
 */

import assert from 'node:assert/strict'
import path from 'node:path'
import {describe, it} from 'node:test'
import {childFailure, planProcesses, processCount, processesMax} from '../../src/cli/start-processes.js'

const request = {name: 'n1', processes: 3, port: 7070, rpcPort: 8070, data: '/var/dyn', advertiseHost: '10.0.0.11', seeds: [] as string[]}

describe('dyn start --processes: the plan', () => {
  it('names NAME-1..NAME-K on consecutive ports, one folder each, on machine NAME; the first creates the cluster and the rest join through it', () => {
    const planned = planProcesses(request)
    assert.ok(planned.ok)
    assert.equal(planned.plan.machine, 'n1')
    assert.deepEqual(planned.plan.processes, [
      {name: 'n1-1', port: 7070, rpcPort: 8070, data: path.join('/var/dyn', 'n1-1'), seeds: []},
      {name: 'n1-2', port: 7071, rpcPort: 8071, data: path.join('/var/dyn', 'n1-2'), seeds: ['10.0.0.11:8070']},
      {name: 'n1-3', port: 7072, rpcPort: 8072, data: path.join('/var/dyn', 'n1-3'), seeds: ['10.0.0.11:8070']},
    ])
  })

  it('joins every node through the given seeds, and takes the given machine', () => {
    const planned = planProcesses({...request, seeds: ['10.0.0.12:8070'], machine: 'rack1-box7'})
    assert.ok(planned.ok)
    assert.equal(planned.plan.machine, 'rack1-box7')
    for (const node of planned.plan.processes) assert.deepEqual(node.seeds, ['10.0.0.12:8070'])
  })

  it('brackets an IPv6 advertised address in the seed', () => {
    const planned = planProcesses({...request, advertiseHost: '::1'})
    assert.ok(planned.ok)
    assert.deepEqual(planned.plan.processes[1]?.seeds, ['[::1]:8070'])
  })

  it('refuses what it cannot run, saying what to give instead', () => {
    const refusals: Array<[Partial<typeof request> & {machine?: string}, RegExp]> = [
      [{processes: 0}, /--processes 0: give 1 to 256/],
      [{processes: processesMax + 1}, /give 1 to 256/],
      [{processes: 1.5}, /give 1 to 256/],
      [{port: 0}, /needs fixed ports/],
      [{port: 65_534}, /--port 65534: the 3 nodes need ports 65534..65536/],
      [{rpcPort: 7072}, /overlap; keep them at least 3 apart/],
      [{name: 'x'.repeat(63)}, /choose a shorter --name/],
      [{machine: 'two words'}, /--machine "two words"/],
    ]
    for (const [change, message] of refusals) {
      const planned = planProcesses({...request, ...change})
      assert.equal(planned.ok, false, JSON.stringify(change))
      assert.ok(!planned.ok && message.test(planned.message), planned.ok ? '' : planned.message)
    }
  })
})

describe('dyn start --processes: how many', () => {
  it('auto is the cores on a new folder, and the folder\'s count after', () => {
    assert.deepEqual(processCount('auto', 8, 'n1', undefined), {ok: true, processes: 8})
    assert.deepEqual(processCount('auto', 1000, 'n1', undefined), {ok: true, processes: processesMax})
    assert.deepEqual(processCount('auto', 2, 'n1', {name: 'n1', processes: 8}), {ok: true, processes: 8})
  })

  it('takes a number as given, more than the folder holds included (the new nodes join)', () => {
    assert.deepEqual(processCount(4, 2, 'n1', undefined), {ok: true, processes: 4})
    assert.deepEqual(processCount(6, 2, 'n1', {name: 'n1', processes: 4}), {ok: true, processes: 6})
  })

  it('refuses fewer nodes than the folder holds, or another name', () => {
    const fewer = processCount(2, 8, 'n1', {name: 'n1', processes: 4})
    assert.equal(fewer.ok, false)
    assert.ok(!fewer.ok && /holds 4 nodes .* would leave n1-3..n1-4 down/.test(fewer.message), fewer.ok ? '' : fewer.message)
    // One node left out is named alone, not as the range "n1-2..n1-2".
    const one = processCount(1, 8, 'n1', {name: 'n1', processes: 2})
    assert.ok(!one.ok && /starting 1 would leave n1-2 down while/.test(one.message), one.ok ? '' : one.message)
    const renamed = processCount('auto', 8, 'n2', {name: 'n1', processes: 4})
    assert.equal(renamed.ok, false)
    assert.ok(!renamed.ok && /start with --name n1/.test(renamed.message))
  })

  it('finds a child\'s coded error at the end of its output: its stderr line, else its last JSON failure line', () => {
    assert.deepEqual(childFailure('', 'log line\ndyn: the port is taken; choose another --port [bad_parameter]\n'), {code: 'bad_parameter', message: 'the port is taken; choose another --port'})
    const json = '{"at":"t","node":"a","message":"starting"}\n{"ok":false,"error":"old_disk","message":"a copy of an older disk"}\n'
    assert.deepEqual(childFailure(json, ''), {code: 'old_disk', message: 'a copy of an older disk'})
    // A tail cut inside a line, and output without a failure.
    assert.equal(childFailure('k":"v"}\n{"at":"t","node":"a","message":"stopped"}\n', 'Error: something\n'), undefined)
  })
})
