// The screens in a real pseudo-terminal (tmux, 80 × 24) against a real 3-node cluster: dyn top
// shows the three nodes, then one as down after it is killed, and q quits; dyn resolve merges two
// JSON siblings with keystrokes into one version holding both items; dyn get on a terminal offers
// the same. Also the scripted forms (resolve --merge/--pick --json, top --json) and the /stats
// and sibling fields these screens read, and a key with no live version, which resolve refuses as
// not found in every form, on a terminal too.

import assert from 'node:assert/strict'
import {chmod, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {DynClient} from '../../src/client/http-client.js'
import type {QuorumOptions, WriteResult} from '../../src/client/http-client.js'
import {candidateOf, readSiblings, writeAndVerify} from '../../src/cli/resolve-flow.js'
import {dynBin, getJson, killNode, putValue, runDyn, siblingTexts, startCluster} from './harness.js'
import type {TestCluster} from './harness.js'
import {TmuxSession} from './tmux.js'

describe('dyn in a terminal', () => {
  let c: TestCluster
  const sessions: TmuxSession[] = []
  before(async () => {
    c = await startCluster(3)
  })
  after(async () => {
    for (const session of sessions) await session.stop()
    await c.stop()
  })

  async function terminal(label: string, args: string[], env: Record<string, string> = {}): Promise<TmuxSession> {
    const session = await TmuxSession.start(label, [process.execPath, dynBin, ...args], {DYN_NODE: c.api(0), ...env})
    sessions.push(session)
    return session
  }

  /** Two concurrent writes (no context) through two coordinators: two siblings. */
  async function twoSiblings(key: string, a: string, b: string): Promise<void> {
    assert.equal((await putValue(c.url(0, `/kv/${key}`), a)).status, 204)
    assert.equal((await putValue(c.url(1, `/kv/${key}`), b)).status, 204)
    const read = await getJson(c.url(2, `/kv/${key}`))
    assert.equal((read.body.siblings as unknown[]).length, 2)
  }

  it('dyn top and dyn resolve have --help with examples and --json', async () => {
    for (const command of ['top', 'resolve']) {
      const help = await runDyn([command, '--help'])
      assert.equal(help.code, 0, command)
      assert.match(help.stdout, /EXAMPLES/, command)
      assert.match(help.stdout, /--json/, command)
    }
  })

  it('serves what the screens read: keys, store size, request counters, siblings with their writer', async () => {
    await twoSiblings('fields', '{"x":1}', '{"y":2}')
    const stats = (await getJson(c.url(0, '/stats'))).body as {keys: number; storeBytes: number; httpRequests: Record<string, number>; requests: {put: {recent: {count: number}; latencyBuckets: {counts: number[]}}}}
    assert.ok(stats.keys >= 1)
    assert.ok(stats.storeBytes > 0)
    assert.ok((stats.httpRequests.kv ?? 0) >= 1 && (stats.httpRequests.stats ?? 0) >= 1)
    assert.ok(stats.requests.put.recent.count >= 1)
    assert.ok(stats.requests.put.latencyBuckets.counts.reduce((a, b) => a + b, 0) >= 1)
    const siblings = (await getJson(c.url(0, '/kv/fields'))).body.siblings as Array<{actor: string; counter: number}>
    assert.deepEqual(siblings.map((s) => s.actor.split('.')[0]).sort(), ['n1', 'n2'])
    assert.ok(siblings.every((s) => Number.isInteger(s.counter)))
  })

  it('dyn resolve: m then y merges two JSON siblings into one version with both items', async () => {
    await twoSiblings('cart:tty', '{"items":["book"]}', '{"items":["pen"]}')
    const session = await terminal('resolve', ['resolve', 'cart:tty'])
    const screen = await session.waitFor(/m merge as JSON/, 'the siblings and their choices')
    assert.match(screen, /cart:tty has 2 siblings/)
    assert.match(screen, /\[1\] json · 18 B\s+\[2\] json · 17 B/)
    await session.sendKeys('m')
    await session.waitFor(/the JSON merge of 2 siblings/, 'the merge preview')
    await session.sendKeys('y')
    await session.waitFor(/✔ cart:tty resolved[\s\S]*exit=0/, 'the confirmation and a clean exit')
    const read = await getJson(c.url(2, '/kv/cart:tty'))
    assert.deepEqual(siblingTexts(read.body), ['{"items":["book","pen"]}'])
  })

  it('n back from a preview keeps the sibling that was highlighted', async () => {
    await twoSiblings('cart:back', '{"items":["cup"]}', '{"items":["jar"]}')
    const session = await terminal('back', ['resolve', 'cart:back'])
    await session.waitFor(/e edit \[1\] in \$EDITOR/, 'the choices, [1] highlighted')
    await session.sendKeys('Right')
    await session.waitFor(/e edit \[2\] in \$EDITOR/, '[2] highlighted')
    await session.sendKeys('Enter')
    await session.waitFor(/cart:back: sibling 2, to write/, 'the preview of sibling 2')
    await session.sendKeys('n')
    await session.waitFor(/e edit \[2\] in \$EDITOR/, 'back with [2] still highlighted')
    await session.sendKeys('q')
  })

  it('dyn get on a terminal offers the same reconciliation', async () => {
    await twoSiblings('cart:get', '{"items":["mug"]}', '{"items":["tea"]}')
    const session = await terminal('get', ['get', 'cart:get'])
    await session.waitFor(/cart:get has siblings: resolve them now[\s\S]*m merge as JSON/, 'the offer')
    await session.sendKeys('m')
    await session.waitFor(/the JSON merge of 2 siblings/, 'the merge preview')
    await session.sendKeys('y')
    await session.waitFor(/✔ cart:get resolved[\s\S]*exit=0/, 'the confirmation')
    assert.deepEqual(siblingTexts((await getJson(c.url(0, '/kv/cart:get'))).body), ['{"items":["mug","tea"]}'])
  })

  it('e edits a candidate in $EDITOR, and the edit is what is written', async () => {
    await twoSiblings('cart:edit', '{"items":["a"]}', '{"items":["b"]}')
    const folder = await mkdtemp(path.join(tmpdir(), 'dyn-test-editor-'))
    try {
      // An editor that replaces the file's contents, as a person would, without a screen.
      const editor = path.join(folder, 'editor.sh')
      await writeFile(editor, `#!/bin/sh\nprintf '{"items":["a","b","edited"]}' > "$1"\n`)
      await chmod(editor, 0o755)
      const session = await terminal('edit', ['resolve', 'cart:edit'], {EDITOR: editor, VISUAL: ''})
      await session.waitFor(/m merge as JSON/, 'the choices')
      await session.sendKeys('e')
      await session.waitFor(/cart:edit: your edit[\s\S]*"edited"/, 'the edited candidate')
      await session.sendKeys('y')
      await session.waitFor(/✔ cart:edit resolved[\s\S]*exit=0/, 'the confirmation')
      assert.deepEqual(siblingTexts((await getJson(c.url(0, '/kv/cart:edit'))).body), ['{"items":["a","b","edited"]}'])
    } finally {
      await rm(folder, {recursive: true, force: true})
    }
  })

  it('a write that arrives between the resolution and its read-back is reported, with the new siblings', async () => {
    await twoSiblings('cart:race', '{"items":["x"]}', '{"items":["y"]}')
    // A client whose every put is followed by another client's blind write to the same key
    // through another node, before the read-back: the race the check must catch.
    class RacedClient extends DynClient {
      override async put(key: string, value: Uint8Array, options: QuorumOptions & {context?: string; contentType?: string} = {}): Promise<WriteResult> {
        const written = await super.put(key, value, options)
        await putValue(c.url(1, `/kv/${encodeURIComponent(key)}`), '{"items":["z"]}')
        return written
      }
    }
    const client = new RacedClient(c.api(0))
    const read = await readSiblings(client, 'cart:race', {})
    assert.ok(read.ok)
    const candidate = candidateOf(read, {kind: 'merge'})
    assert.ok(candidate.ok)
    const verdict = await writeAndVerify(client, read, candidate, {})
    assert.ok(verdict.ok)
    assert.equal(verdict.superseded, false)
    if (verdict.superseded) return
    assert.deepEqual(verdict.latest.siblings.map((s) => s.value.toString()).sort(), ['{"items":["x","y"]}', '{"items":["z"]}'])
  })

  it('q leaves the siblings as they are, and the plain listing follows', async () => {
    await twoSiblings('cart:left', 'one', 'two')
    const session = await terminal('leave', ['get', 'cart:left'])
    await session.waitFor(/q leave the siblings/, 'the offer')
    await session.sendKeys('q')
    const screen = await session.waitFor(/exit=0/, 'the exit')
    assert.match(screen, /\[1\] one\s+3 B/)
    assert.equal(((await getJson(c.url(0, '/kv/cart:left'))).body.siblings as unknown[]).length, 2)
  })

  it('without a terminal: --merge json-union and --pick resolve, --json reports it; no choice is a usage error, and so is --content-type without --value', async () => {
    await twoSiblings('cart:script', '{"items":["a"],"v":1}', '{"items":["b"],"v":2}')
    const merged = await runDyn(['resolve', 'cart:script', '--merge', 'json-union', '--json'], {env: {DYN_NODE: c.api(1)}})
    assert.equal(merged.code, 0, merged.stderr)
    const report = JSON.parse(merged.stdout) as {ok: boolean; resolved: boolean; siblings: number; wrote: {text: string}; conflicts: Array<{path: string; kept: unknown}>}
    assert.equal(report.ok, true)
    assert.equal(report.resolved, true)
    assert.equal(report.siblings, 2)
    assert.equal(report.wrote.text, '{"items":["a","b"],"v":2}')
    assert.deepEqual(report.conflicts.map((k) => [k.path, k.kept]), [['$.v', 2]])
    assert.deepEqual(siblingTexts((await getJson(c.url(0, '/kv/cart:script'))).body), ['{"items":["a","b"],"v":2}'])

    await twoSiblings('pick', 'first', 'second')
    // --content-type is for --value alone: with --pick, --merge or no choice it is refused, never ignored, and nothing is written.
    for (const choice of [['--pick', '1'], ['--merge', 'json-union'], []]) {
      const refused = await runDyn(['resolve', 'pick', ...choice, '--content-type', 'text/plain', '--json'], {env: {DYN_NODE: c.api(0)}})
      assert.equal(refused.code, 2, `${choice.join(' ')}: ${refused.stdout}${refused.stderr}`)
      const answer = JSON.parse(refused.stdout) as {error: string; message: string}
      assert.equal(answer.error, 'bad_parameter')
      assert.match(answer.message, /^--content-type is the content type of a --value FILE, and goes with --value only: .*give --value FILE --content-type text\/plain$/)
    }
    assert.equal(((await getJson(c.url(0, '/kv/pick'))).body.siblings as unknown[]).length, 2, 'the refused runs wrote nothing')
    const picked = await runDyn(['resolve', 'pick', '--pick', '1'], {env: {DYN_NODE: c.api(0)}})
    assert.equal(picked.code, 0, picked.stderr)
    assert.deepEqual(siblingTexts((await getJson(c.url(0, '/kv/pick'))).body), ['first'])

    await twoSiblings('byfile', 'one', 'two')
    const folder = await mkdtemp(path.join(tmpdir(), 'dyn-test-value-'))
    try {
      const file = path.join(folder, 'value.txt')
      await writeFile(file, 'one and two')
      const fromFile = await runDyn(['resolve', 'byfile', '--value', file, '--content-type', 'text/plain', '--json'], {env: {DYN_NODE: c.api(0)}})
      assert.equal(fromFile.code, 0, fromFile.stderr)
      assert.equal((JSON.parse(fromFile.stdout) as {resolved: boolean}).resolved, true)
      const written = (await getJson(c.url(1, '/kv/byfile'))).body
      assert.deepEqual(siblingTexts(written), ['one and two'])
      assert.deepEqual((written.siblings as Array<{contentType: string}>).map((s) => s.contentType), ['text/plain'], 'with --value, --content-type is written')
      const missing = await runDyn(['resolve', 'byfile', '--value', path.join(folder, 'absent')], {env: {DYN_NODE: c.api(0)}})
      assert.equal(missing.code, 2)
    } finally {
      await rm(folder, {recursive: true, force: true})
    }

    // 'pick' has one version now: nothing to resolve, and no usage refusal (a new user's walk).
    const single = await runDyn(['resolve', 'pick'], {env: {DYN_NODE: c.api(0)}})
    assert.equal(single.code, 0, single.stderr)
    assert.equal(single.stdout, 'pick has one version: nothing to resolve\n')
    const singleJson = JSON.parse((await runDyn(['resolve', 'pick', '--json'], {env: {DYN_NODE: c.api(0)}})).stdout) as {ok: boolean; resolved: boolean; siblings: number; wrote: unknown}
    assert.deepEqual([singleJson.ok, singleJson.resolved, singleJson.siblings, singleJson.wrote], [true, true, 1, null])
    await twoSiblings('nochoice', 'one', 'two')
    const none = await runDyn(['resolve', 'nochoice'], {env: {DYN_NODE: c.api(0)}})
    assert.equal(none.code, 2)
    assert.match(none.stderr, /--pick N, --pick-id ID, --merge json-union or --value FILE/)
    await twoSiblings('notjson', 'plain', '{"a":1}')
    const bad = await runDyn(['resolve', 'notjson', '--merge', 'json-union', '--json'], {env: {DYN_NODE: c.api(0)}})
    assert.equal(bad.code, 2)
    assert.equal((JSON.parse(bad.stdout) as {error: string}).error, 'bad_value')
    assert.equal(((await getJson(c.url(0, '/kv/notjson'))).body.siblings as unknown[]).length, 2)
  })

  it('a key with no live version is not found in every way of resolving it, with the dyn put that writes it, never advice about its siblings', async () => {
    const env = {DYN_NODE: c.api(0)}
    const folder = await mkdtemp(path.join(tmpdir(), 'dyn-test-missing-'))
    try {
      const file = path.join(folder, 'value.txt')
      await writeFile(file, 'new')
      const created = (put: string): RegExp => new RegExp(`^nosuchkey does not exist, so it has no siblings to resolve; to create it: ${put}$`)
      const runs: Array<[string[], RegExp]> = [
        // The walk that found it: --content-type with --pick was refused with advice to read the siblings.
        [['--pick', '1', '--content-type', 'text/plain'], created('dyn put nosuchkey VALUE --content-type text/plain')],
        [['--pick', '1'], created('dyn put nosuchkey VALUE')],
        [['--merge', 'json-union'], created('dyn put nosuchkey VALUE')],
        [['--value', file, '--content-type', 'text/plain'], created(`dyn put nosuchkey --content-type text/plain < ${file.replaceAll('.', '\\.')}`)],
        // No choice without a terminal was refused with advice to pick among the siblings.
        [[], created('dyn put nosuchkey VALUE')],
      ]
      for (const [flags, message] of runs) {
        const result = await runDyn(['resolve', 'nosuchkey', ...flags, '--json'], {env})
        assert.equal(result.code, 1, `${flags.join(' ')}: ${result.stdout}${result.stderr}`)
        const answer = JSON.parse(result.stdout) as {error: string; message: string}
        assert.equal(answer.error, 'not_found', flags.join(' '))
        assert.match(answer.message, message, flags.join(' '))
      }
      // A deleted key says so, and how to write it again; nothing was written by any of these.
      assert.equal((await putValue(c.url(0, '/kv/gone'), 'v')).status, 204)
      assert.equal((await runDyn(['delete', 'gone'], {env})).code, 0)
      const deleted = await runDyn(['resolve', 'gone', '--pick', '1', '--content-type', 'text/plain'], {env})
      assert.equal(deleted.code, 1, deleted.stdout + deleted.stderr)
      const advice = /^dyn: gone was deleted \(only its tombstone is left\), so it has no siblings to resolve; to write it again \(with the delete's context, so that the write supersedes it\): dyn put gone VALUE --content-type text\/plain --context (\S+) \[not_found\]\n$/.exec(deleted.stderr)
      assert.ok(advice !== null, deleted.stderr)
      // Followed, the advice writes the key again with one version, not a sibling of the delete.
      assert.equal((await runDyn(['put', 'gone', 'again', '--context', advice[1] as string], {env})).code, 0)
      const again = await runDyn(['get', 'gone', '--json'], {env})
      assert.equal((JSON.parse(again.stdout) as {siblings: unknown[]}).siblings.length, 1, again.stdout)
      // Without the delete's context, the put is a sibling of the tombstone, and says so.
      assert.equal((await putValue(c.url(0, '/kv/gone2'), 'v')).status, 204)
      assert.equal((await runDyn(['delete', 'gone2'], {env})).code, 0)
      const blind = await runDyn(['put', 'gone2', 'again'], {env})
      assert.match(blind.stdout, /^gone2 now has 2 siblings \(one of them a delete this write did not see\); read it and write with its context to reconcile$/m, blind.stdout + blind.stderr)
      assert.equal((await getJson(c.url(1, '/kv/nosuchkey'))).status, 404)
    } finally {
      await rm(folder, {recursive: true, force: true})
    }
    // On a terminal it used to say "no live version: nothing to resolve" and exit 0.
    const session = await terminal('missing', ['resolve', 'nosuchkey'])
    const screen = await session.waitFor(/exit=\d+/, 'the exit')
    // Compared without white space: the 80-column pane wraps the line wherever it falls.
    const unwrapped = (text: string): string => text.replace(/\s+/g, '')
    assert.ok(unwrapped(screen).includes(unwrapped('dyn: nosuchkey does not exist, so it has no siblings to resolve; to create it: dyn put nosuchkey VALUE [not_found] exit=1')), screen)
  })

  it('dyn top --json without a terminal: one snapshot with every node and its figures', async () => {
    const top = await runDyn(['top', '--json', '--interval', '300'], {env: {DYN_NODE: c.api(0)}})
    assert.equal(top.code, 0, top.stderr)
    const snapshot = JSON.parse(top.stdout) as {ok: boolean; nodes: Array<{name: string; status: string; figures: {keys?: number; getsPerS?: number}}>; owners: string[]}
    assert.equal(snapshot.ok, true)
    assert.deepEqual(snapshot.nodes.map((n) => `${n.name} ${n.status}`), ['n1 up', 'n2 up', 'n3 up'])
    assert.ok(snapshot.nodes.every((n) => typeof n.figures.keys === 'number' && typeof n.figures.getsPerS === 'number'))
    assert.equal(snapshot.owners.length, 64)
    const text = await runDyn(['top', '--interval', '300'], {env: {DYN_NODE: c.api(0)}})
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout, /^ {2}n2\s+127\.0\.0\.1:\d+\s+up\s+\d+/m)
    assert.doesNotMatch(text.stdout, /\x1b\[|q quit/, 'no colours and no keys without a terminal')
  })

  it('colours on a terminal, none with NO_COLOR', async () => {
    const colored = await terminal('color', ['top'])
    await colored.waitFor(/n3 .*\bup\b/, 'the nodes')
    assert.match(await colored.capture(true), /\x1b\[[0-9;]*m/)
    await colored.sendKeys('q')
    const plain = await terminal('nocolor', ['top'], {NO_COLOR: '1'})
    await plain.waitFor(/n3 .*\bup\b/, 'the nodes')
    assert.doesNotMatch(await plain.capture(true), /\x1b\[[0-9;]*m/)
    await plain.sendKeys('q')
  })

  it('dyn top: three nodes up in 80 × 24, then one down after it is killed, fail-over when the watched one dies, and q quits', async () => {
    const session = await terminal('top', ['top', '--node', c.api(0), '--node', c.api(1)])
    const up = await session.waitFor(/n1 .*\bup\b[\s\S]*n2 .*\bup\b[\s\S]*n3 .*\bup\b/, 'three nodes up')
    assert.match(up, /dyn top\s+via 127\.0\.0\.1:\d+ \(n1\)\s+3 nodes/)
    assert.match(up, /ring 64 partitions/)
    assert.match(up, /q quit/)
    await killNode(c.cluster.nodes[2]?.pid)
    const down = await session.waitFor(/n3 +\S+ +down\b/, 'n3 down')
    assert.match(down, /n3 became unreachable|n3 stopped answering/)
    await killNode(c.cluster.nodes[0]?.pid)
    const failedOver = await session.waitFor(/stopped answering: now watching through/, 'the fail-over')
    assert.match(failedOver, new RegExp(`${c.api(0).replaceAll('.', '\\.')} stopped answering: now watching through ${c.api(1).replaceAll('.', '\\.')}`))
    await session.sendKeys('q')
    await session.waitFor(/exit=0/, 'top to quit')
  })
})
