/**
 * LatestWriter (src/node/latest-writer.ts): the changes of one turn are one write of the newest;
 * changes during a write are one more write, of the newest; a failed write does not stop the next.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {LatestWriter} from '../../src/node/latest-writer.js'

describe('LatestWriter', () => {
  it('writes two changes of one turn (an install and its removals) as one write of the newer', async () => {
    const written: string[] = []
    const writer = new LatestWriter<string>(async (value) => void written.push(value), (error) => assert.fail(error))
    writer.offer('ring installed')
    writer.offer('ring installed, n4 removed')
    await writer.settled()
    assert.deepEqual(written, ['ring installed, n4 removed'])
  })

  it('writes what came during a slow write once more, the newest only, in order', async () => {
    const written: string[] = []
    let release: () => void = () => undefined
    const first = new Promise<void>((resolve) => (release = resolve))
    const writer = new LatestWriter<string>(async (value) => {
      written.push(value)
      if (value === 'a') await first
    }, (error) => assert.fail(error))
    writer.offer('a')
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(written, ['a'], 'the first write is under way')
    for (const value of ['b', 'c', 'd']) writer.offer(value)
    release()
    await writer.settled()
    assert.deepEqual(written, ['a', 'd'])
  })

  it('writes the next offer even when reporting a failure throws', async () => {
    const written: string[] = []
    const writer = new LatestWriter<string>(async (value) => {
      if (value === 'bad') throw 'not an Error'
      written.push(value)
    }, () => {
      throw new Error('the log is gone')
    })
    writer.offer('bad')
    await writer.settled()
    writer.offer('good')
    await writer.settled()
    assert.deepEqual(written, ['good'])
  })

  it('reports a failed write and writes the next offer', async () => {
    const written: string[] = []
    const errors: string[] = []
    const writer = new LatestWriter<string>(async (value) => {
      if (value === 'bad') throw new Error('disk full')
      written.push(value)
    }, (error) => errors.push(error.message))
    writer.offer('bad')
    await writer.settled()
    writer.offer('good')
    await writer.settled()
    assert.deepEqual(errors, ['disk full'])
    assert.deepEqual(written, ['good'])
  })
})
