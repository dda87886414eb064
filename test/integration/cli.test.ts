// The `dyn` CLI as a user runs it, against a real 3-node cluster: outputs, --json shapes,
// documented exit codes (0 ok, 1 not found, 2 bad usage or input, 3 unavailable), help texts.

import assert from 'node:assert/strict'
import {execFile, spawn} from 'node:child_process'
import {mkdtemp, open, readFile, readdir, rm, writeFile} from 'node:fs/promises'
import {createServer, request} from 'node:http'
import type {Server} from 'node:http'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {DynClient} from '../../src/client/http-client.js'
import {PartitionAwareClient} from '../../src/client/partition-aware-client.js'
import {dynBin, freePortRange, runDyn, runNode, startCluster} from './harness.js'
import type {DynRun, TestCluster} from './harness.js'

const packageRoot = fileURLToPath(new URL('../../../', import.meta.url))

/** The one JSON object a --json run must print on stdout (JSON.parse fails on anything else). */
function answer(run: DynRun): Record<string, unknown> {
  return JSON.parse(run.stdout) as Record<string, unknown>
}

/**
 * Run `dyn` with its stdout on a pseudo-terminal, as a user at a shell sees it: util-linux
 * `script` gives the child a TTY and copies what it prints. Returns the bytes printed.
 */
function runDynOnTerminal(args: readonly string[], env: Record<string, string>): Promise<{code: number; output: Buffer}> {
  const quote = (text: string): string => `'${text.replaceAll("'", "'\\''")}'`
  const command = [process.execPath, dynBin, ...args].map(quote).join(' ')
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], {env: {...process.env, ...env}, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000, killSignal: 'SIGKILL'})
    const out: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr.resume()
    child.once('error', reject)
    child.once('close', (code) => resolve({code: code ?? -1, output: Buffer.concat(out)}))
    child.stdin.end()
  })
}

/** Raw HTTP with node:http, which sends the path exactly as given (fetch would normalise dot segments). */
function rawRequest(address: string, method: string, pathAndQuery: string, body?: string): Promise<{status: number; body: Record<string, unknown>}> {
  const [host, port] = address.split(':')
  return new Promise((resolve, reject) => {
    const req = request({host, port: Number(port), method, path: pathAndQuery, headers: {accept: 'application/json'}}, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        resolve({status: response.statusCode ?? 0, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>)})
      })
    })
    req.once('error', reject)
    req.end(body)
  })
}

/** Run `dyn` with a file as its stdin, as `dyn ... < file` does. */
async function runDynWithStdinFile(args: readonly string[], file: string, env: Record<string, string>): Promise<DynRun> {
  const input = await open(file, 'r')
  try {
    return await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [dynBin, ...args], {env: {...process.env, ...env}, stdio: [input.fd, 'pipe', 'pipe'], timeout: 60_000, killSignal: 'SIGKILL'})
      const out: Buffer[] = []
      const err: Buffer[] = []
      child.stdout?.on('data', (chunk: Buffer) => out.push(chunk))
      child.stderr?.on('data', (chunk: Buffer) => err.push(chunk))
      child.once('error', reject)
      child.once('close', (code) => resolve({code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8')}))
    })
  } finally {
    await input.close()
  }
}

/** An HTTP server that answers every request 503 overloaded, as a busy node would. */
async function startOverloadedServer(): Promise<{server: Server; address: string}> {
  const server = createServer((_req, res) => {
    res.writeHead(503, {'content-type': 'application/json'})
    res.end(JSON.stringify({error: 'overloaded', message: 'busy: retry shortly'}))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {server, address: `127.0.0.1:${(server.address() as {port: number}).port}`}
}

/**
 * Runs `dyn` with a recorder of every module it loads: CommonJS from require.cache at exit, ESM
 * (dyn's own code, ink) through a loader hook. Returns the run and the modules' paths.
 */
async function modulesLoadedBy(args: readonly string[], env: Record<string, string>): Promise<{run: DynRun; modules: string[]}> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dyn-test-modules-'))
  try {
    const record = path.join(dir, 'modules.txt')
    const commonJs = path.join(dir, 'record-commonjs.cjs')
    const hooks = path.join(dir, 'record-esm-hooks.mjs')
    const esm = path.join(dir, 'record-esm.mjs')
    await writeFile(commonJs, `process.on('exit', () => require('fs').appendFileSync(${JSON.stringify(record)}, Object.keys(require.cache).join('\\n') + '\\n'))\n`)
    await writeFile(hooks, `import {appendFileSync} from 'node:fs'\nexport async function load(url, context, next) {\n  appendFileSync(${JSON.stringify(record)}, url + '\\n')\n  return next(url, context)\n}\n`)
    await writeFile(esm, `import {register} from 'node:module'\nregister(${JSON.stringify(pathToFileURL(hooks).href)})\n`)
    const run = await runDyn(args, {env: {...env, NODE_OPTIONS: `--require ${commonJs} --import ${esm}`}})
    const modules = (await readFile(record, 'utf8'))
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => (line.startsWith('file:') ? fileURLToPath(line) : line).split(path.sep).join('/'))
    return {run, modules}
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}

/** Runs a command line the way bin/run.js did before its fast path: oclif's execute, and nothing else. */
function runOclifAlone(args: readonly string[], env: Record<string, string>): Promise<DynRun> {
  // process.argv as bin/run.js sees it (node, the script, the line): oclif reads the line there,
  // and its error handler too, to show the help.
  const source = `import {execute} from '@oclif/core/execute'\nprocess.argv.splice(1, Infinity, ...${JSON.stringify([dynBin, ...args])})\nawait execute({dir: ${JSON.stringify(pathToFileURL(dynBin).href)}})\n`
  return runNode(['--input-type=module', '--eval', source], {cwd: packageRoot, env, timeoutMs: 60_000, killSignal: 'SIGKILL'})
}

describe('dyn CLI', () => {
  let c: TestCluster
  let env: Record<string, string>
  before(async () => {
    c = await startCluster(3)
    env = {DYN_NODE: c.api(0)}
  })
  after(async () => {
    await c.stop()
  })

  it('every command has --help with examples', async () => {
    const top = await runDyn(['--help'])
    assert.equal(top.code, 0)
    const listed = (await runDyn(['cluster', '--help'])).stdout + top.stdout
    // Every command the CLI has, so that a new one is held to it too.
    const commands = (JSON.parse((await runDyn(['help', '--json'])).stdout) as {commands: Array<{command: string}>}).commands.map((command) => command.command)
    for (const command of ['start', 'put', 'get', 'delete', 'cluster up', 'cluster status', 'bench', 'help']) assert.ok(commands.includes(command), command)
    for (const command of commands) {
      assert.match(listed, new RegExp(command.split(' ').pop() as string))
      const help = await runDyn([...command.split(' '), '--help'])
      assert.equal(help.code, 0, command)
      // The command's own usage: `dyn help --help` once showed the list of commands (oclif's help
      // passes over the word help), with no examples.
      assert.match(help.stdout, new RegExp(`^ {2}\\$ dyn ${command}( |$)`, 'm'), command)
      assert.match(help.stdout, /EXAMPLES/, command)
      assert.match(help.stdout, /--json/, command)
    }
    assert.match((await runDyn(['help', '--help'])).stdout, /^ {4}\$ dyn help get$/m)
  })

  it('help answers --json too: every command with its flags, one command, a topic, and unknown_command', async () => {
    const all = await runDyn(['help', '--json'])
    assert.equal(all.code, 0, all.stdout + all.stderr)
    const listed = JSON.parse(all.stdout) as {ok: boolean; bin: string; topics: Array<{topic: string}>; commands: Array<{command: string; summary: string; flags: Array<{name: string; type: string}>}>}
    assert.equal(listed.ok, true)
    assert.deepEqual(listed.topics.map((topic) => topic.topic), ['cluster'])
    const get = listed.commands.find((command) => command.command === 'get')
    assert.match(get?.summary ?? '', /Read a key/)
    assert.deepEqual(get?.flags.find((flag) => flag.name === 'explain')?.type, 'boolean')
    assert.ok(listed.commands.some((command) => command.command === 'cluster up'))
    // One command, through help and through --help alike; a topic; a name that is neither.
    for (const args of [['help', 'cluster', 'up', '--json'], ['cluster', 'up', '--help', '--json']]) {
      const one = await runDyn(args)
      assert.equal(one.code, 0, one.stdout + one.stderr)
      const body = JSON.parse(one.stdout) as {ok: boolean; command: string; flags: Array<{name: string; default?: unknown}>; examples: unknown[]}
      assert.equal(body.command, 'cluster up', args.join(' '))
      assert.equal(body.flags.find((flag) => flag.name === 'timeout')?.default, 30_000)
      assert.ok(body.examples.length > 0)
    }
    const topic = JSON.parse((await runDyn(['help', 'cluster', '--json'])).stdout) as {topic: string; commands: unknown[]}
    assert.equal(topic.topic, 'cluster')
    assert.ok(topic.commands.length >= 9)
    // A topic typed alone answers --json too (oclif runs its help without the rest of the line).
    const typedTopic = await runDyn(['cluster', '--json'])
    assert.equal(typedTopic.code, 0, typedTopic.stdout + typedTopic.stderr)
    assert.equal((JSON.parse(typedTopic.stdout) as {topic: string}).topic, 'cluster')
    // The help command's own help, not every command's, asked for either way.
    for (const args of [['help', 'help', '--json'], ['help', '--help', '--json']]) {
      const helpOfHelp = JSON.parse((await runDyn(args)).stdout) as {command?: string; examples?: unknown[]}
      assert.equal(helpOfHelp.command, 'help', args.join(' '))
      assert.ok((helpOfHelp.examples ?? []).length > 0, args.join(' '))
    }
    assert.equal((JSON.parse((await runDyn(['help', 'get', '--json'])).stdout) as {command?: string}).command, 'get')
    // In text too, and what follows -- is no flag of the help's.
    assert.match((await runDyn(['help', 'help'])).stdout, /\$ dyn help \[COMMAND\.\.\.\]/)
    const afterDashes = await runDyn(['help', '--', '--json'])
    assert.equal(afterDashes.code, 0, afterDashes.stderr)
    assert.throws(() => JSON.parse(afterDashes.stdout), 'dyn help -- --json prints text')
    // --json alone is no command, and says so in JSON.
    const bare = await runDyn(['--json'])
    assert.equal(bare.code, 2)
    assert.equal((JSON.parse(bare.stdout) as {error: string}).error, 'unknown_command')
    const unknown = await runDyn(['help', 'nope', '--json'])
    assert.equal(unknown.code, 2)
    assert.equal((JSON.parse(unknown.stdout) as {error: string}).error, 'unknown_command')
    const text = await runDyn(['help', 'get'])
    assert.equal(text.code, 0)
    assert.match(text.stdout, /EXAMPLES/)
  })

  it('help in JSON to a reader that closed the pipe (| head) ends quietly, as every command does', async () => {
    for (const args of [['--help', '--json'], ['help', '--json'], ['cluster', '--json']]) {
      const ended = await new Promise<{code: number | null; stderr: string}>((resolve, reject) => {
        const child = spawn(process.execPath, [dynBin, ...args], {stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, killSignal: 'SIGKILL'})
        // The reader goes away before the help is written: every write then fails with EPIPE.
        child.stdout.destroy()
        const err: Buffer[] = []
        child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
        child.once('error', reject)
        child.once('close', (code) => resolve({code, stderr: Buffer.concat(err).toString('utf8')}))
      })
      assert.equal(ended.code, 0, `${args.join(' ')}: ${ended.stderr}`)
      assert.doesNotMatch(ended.stderr, /EPIPE|Unhandled/, args.join(' '))
    }
  })

  it('put then get prints the value; --json gives the documented fields', async () => {
    const put = await runDyn(['put', 'cart:alice', '{"items":["book"]}'], {env})
    assert.equal(put.code, 0, put.stderr)
    assert.match(put.stdout, /^stored cart:alice/)
    const get = await runDyn(['get', 'cart:alice', '--node', c.api(2)])
    assert.equal(get.code, 0, get.stderr)
    assert.equal(get.stdout, '{"items":["book"]}')
    const json = JSON.parse((await runDyn(['get', 'cart:alice', '--json'], {env})).stdout) as Record<string, unknown>
    assert.equal(json.key, 'cart:alice')
    assert.equal(json.found, true)
    assert.equal(typeof json.context, 'string')
    const [sibling] = json.siblings as Array<Record<string, unknown>>
    assert.equal(sibling?.text, '{"items":["book"]}')
    assert.equal(Buffer.from(String(sibling?.value), 'base64').toString(), '{"items":["book"]}')
    assert.equal(sibling?.deleted, false)
    // A JSON object or array is stored as JSON without --content-type; other bytes as raw bytes.
    assert.equal(sibling?.contentType, 'application/json')
    await runDyn(['put', 'plain', 'not {json'], {env})
    const plain = answer(await runDyn(['get', 'plain', '--json'], {env})) as {siblings: Array<{contentType: string}>}
    assert.equal(plain.siblings[0]?.contentType, 'application/octet-stream')
  })

  it('reads the value from stdin when it is absent', async () => {
    const put = await runDyn(['put', 'from-stdin'], {env, input: Buffer.from([0, 1, 2, 255])})
    assert.equal(put.code, 0, put.stderr)
    const json = JSON.parse((await runDyn(['get', 'from-stdin', '--json'], {env})).stdout) as {siblings: Array<{value: string; text?: string}>}
    assert.deepEqual([...Buffer.from(json.siblings[0]?.value ?? '', 'base64')], [0, 1, 2, 255])
    assert.equal(json.siblings[0]?.text, undefined)
  })

  it('a value over 1 MiB is refused with value_too_large (exit 2) before it is sent, and the node answers 413 before the upload', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 7)
    const folder = await mkdtemp(path.join(tmpdir(), 'dyn-big-'))
    try {
      const file = path.join(folder, 'big')
      await writeFile(file, big)
      // `dyn put bigx < file`: stdin is the file itself.
      const fromFile = await runDynWithStdinFile(['put', 'bigx', '--json'], file, env)
      assert.equal(fromFile.code, 2, fromFile.stderr)
      assert.equal(answer(fromFile).error, 'value_too_large')
    } finally {
      await rm(folder, {recursive: true, force: true})
    }
    // The client refuses it without a connection: a port where nothing listens answers the same.
    const nowhere = new DynClient(`127.0.0.1:${await freePortRange(1)}`)
    const refused = await nowhere.put('bigx', big)
    assert.equal(refused.ok === false && refused.error, 'value_too_large')
    assert.equal((await runDyn(['get', 'bigx'], {env})).code, 1)
    // The node itself, to a client that waits for 100 Continue (as curl does above 1 MiB, and
    // dyn's client above 64 KiB): the refusal comes instead of the 100, so nothing is uploaded.
    const [host, port] = c.api(0).split(':')
    const raw = await new Promise<{status: number; continued: boolean; body: string}>((resolve, reject) => {
      let continued = false
      const req = request({host, port: Number(port), method: 'PUT', path: '/kv/bigx', headers: {'content-length': String(big.length), expect: '100-continue'}})
      req.once('continue', () => {
        continued = true
        req.end(big)
      })
      req.once('response', (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.once('end', () => {
          resolve({status: response.statusCode ?? 0, continued, body: Buffer.concat(chunks).toString('utf8')})
          req.destroy()
        })
      })
      req.once('error', reject)
      req.flushHeaders()
    })
    assert.equal(raw.status, 413)
    assert.equal(raw.continued, false)
    assert.equal((JSON.parse(raw.body) as {error: string}).error, 'value_too_large')
    // Under the limit, the same exchange (100 Continue, then the body) stores the value.
    const client = new DynClient(c.api(0))
    const mid = Buffer.alloc(512 * 1024, 3)
    assert.equal((await client.put('midx', mid)).ok, true)
    const read = await client.get('midx')
    assert.ok(read.ok && read.found && read.siblings[0]?.value.equals(mid))
  })

  it('shows siblings numbered with how to resolve them, and --context resolves them', async () => {
    await runDyn(['put', 'cart:bob', 'book', '--node', c.api(0)])
    await runDyn(['put', 'cart:bob', 'pen', '--node', c.api(1)])
    // Piped, the output is one value's bytes or nothing: the siblings and how to resolve them
    // go to stderr, with exit 4 (has_siblings).
    const get = await runDyn(['get', 'cart:bob'], {env})
    assert.equal(get.code, 4, get.stderr)
    assert.equal(get.stdout, '')
    assert.match(get.stderr, /2 siblings/)
    assert.match(get.stderr, /\[1\] (book|pen)/)
    assert.match(get.stderr, /\[2\] (book|pen)/)
    assert.match(get.stderr, /dyn put cart:bob VALUE --context \S+/)
    assert.match(get.stderr, /\[has_siblings\]\n$/)
    const context = (JSON.parse((await runDyn(['get', 'cart:bob', '--json'], {env})).stdout) as {context: string}).context
    const resolve = await runDyn(['put', 'cart:bob', 'book,pen', '--context', context], {env})
    assert.equal(resolve.code, 0, resolve.stderr)
    assert.equal((await runDyn(['get', 'cart:bob'], {env})).stdout, 'book,pen')
  })

  it('exit 1 for a missing or deleted key', async () => {
    const missing = await runDyn(['get', 'no-such-key'], {env})
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /does not exist/)
    await runDyn(['put', 'short-lived', 'x'], {env})
    const deleted = await runDyn(['delete', 'short-lived'], {env})
    assert.equal(deleted.code, 0, deleted.stderr)
    const gone = await runDyn(['get', 'short-lived', '--json'], {env})
    assert.equal(gone.code, 1)
    assert.equal((JSON.parse(gone.stdout) as {deleted: boolean}).deleted, true)
    assert.equal((await runDyn(['delete', 'never-there'], {env})).code, 1)
  })

  it('exit 2 for bad usage or input, with the error code', async () => {
    assert.equal((await runDyn(['get', 'k', '-r', 'abc'], {env})).code, 2)
    assert.equal((await runDyn(['get'], {env})).code, 2)
    const tooBig = await runDyn(['get', 'k', '-r', '5'], {env})
    assert.equal(tooBig.code, 2)
    assert.match(tooBig.stderr, /bad_parameter/)
    const badContext = await runDyn(['put', 'k', 'v', '--context', 'garbage', '--json'], {env})
    assert.equal(badContext.code, 2)
    assert.equal((JSON.parse(badContext.stdout) as {error: string}).error, 'bad_context')
    // A read's context copied without its last character: the same code, and a message that says what happened.
    assert.equal((await runDyn(['put', 'cut-context', 'v1'], {env})).code, 0)
    const read = await runDyn(['get', 'cut-context', '--json'], {env})
    const {context} = JSON.parse(read.stdout) as {context: string}
    const cut = await runDyn(['put', 'cut-context', 'v2', '--context', context.slice(0, -1), '--json'], {env})
    assert.equal(cut.code, 2, cut.stdout + cut.stderr)
    const refused = JSON.parse(cut.stdout) as {error: string; message: string}
    assert.equal(refused.error, 'bad_context')
    assert.match(refused.message, /^the context token looks truncated: .* a character or more is missing at its end\. Copy the whole context from your last read of this key/)
  })

  it('a key argument typed with bytes that are not UTF-8 is refused (bad_key), not read as U+FFFD; a key that holds U+FFFD itself is a key', async () => {
    // Node decodes its command line as UTF-8: k\xff and k\xfe both became "k\uFFFD", one key (a new user's walk).
    const script = `"${process.execPath}" "${dynBin}" put "$(printf 'k\\377')" first --json`
    const refused = await new Promise<{code: number; stdout: string}>((resolve) => {
      execFile('/bin/sh', ['-c', script], {env: {...process.env, ...env}}, (error, stdout) => resolve({code: error === null ? 0 : Number(error.code), stdout}))
    })
    assert.equal(refused.code, 2, refused.stdout)
    const answer = JSON.parse(refused.stdout) as {error: string; message: string}
    assert.equal(answer.error, 'bad_key')
    assert.match(answer.message, /typed with bytes that are not UTF-8/)
    const replacement = await runDyn(['put', 'k\uFFFD', 'stored'], {env})
    assert.equal(replacement.code, 0, replacement.stderr)
    assert.equal((await runDyn(['get', 'k\uFFFD'], {env})).stdout, 'stored')
  })

  it('a bug (an exception that is no DynError) is one line with the code internal and exits 3 in text as in JSON, through the fast path and oclif alike', async () => {
    // A preload that makes every HTTP request throw, as Node's ERR_INVALID_CHAR once did.
    const folder = await mkdtemp(path.join(tmpdir(), 'dyn-internal-'))
    try {
      const preload = path.join(folder, 'boom.mjs')
      await writeFile(preload, "import http from 'node:http'\nimport {syncBuiltinESMExports} from 'node:module'\nhttp.request = () => { throw new TypeError('boom from a test preload') }\nsyncBuiltinESMExports()\n")
      for (const args of [['get', 'k'], ['ring']]) {
        const text = await runNode(['--import', pathToFileURL(preload).href, dynBin, ...args], {env: {...env, DEBUG: ''}, timeoutMs: 30_000, killSignal: 'SIGKILL'})
        // It exited 1, the code for "not found", with oclif's boxed error.
        assert.equal(text.code, 3, `${args.join(' ')}: ${text.stderr}`)
        assert.equal(text.stderr, 'dyn: boom from a test preload [internal]\n', args.join(' '))
        const json = await runNode(['--import', pathToFileURL(preload).href, dynBin, ...args, '--json'], {env, timeoutMs: 30_000, killSignal: 'SIGKILL'})
        assert.equal(json.code, 3, args.join(' '))
        assert.equal(answer(json).error, 'internal')
      }
    } finally {
      await rm(folder, {recursive: true, force: true})
    }
  })

  it('dyn start and dyn cluster up refuse a bad admission target or window as bad_parameter, before starting anything', async () => {
    const folder = await mkdtemp(path.join(tmpdir(), 'dyn-admission-flags-'))
    try {
      const port = await freePortRange(2)
      const data = path.join(folder, 'n1')
      const start = await runDyn(['start', '--name', 'n1', '--port', String(port), '--data', data, '--admission-target-ms', '0', '--json'])
      assert.equal(start.code, 2, start.stderr)
      assert.equal(answer(start).error, 'bad_parameter')
      assert.match(String(answer(start).message), /--admission-target-ms 0: give a whole number of milliseconds/)
      const plain = await runDyn(['start', '--name', 'n1', '--port', String(port), '--data', data, '--admission-window-ms', 'soon'])
      assert.equal(plain.code, 2)
      assert.match(plain.stderr, /--admission-window-ms soon: .*\[bad_parameter\]/)
      const dir = path.join(folder, 'cluster')
      const up = await runDyn(['cluster', 'up', '--nodes', '1', '--dir', dir, '--port', String(port), '--admission-window-ms', '2', '--json'])
      assert.equal(up.code, 2, up.stderr)
      assert.equal(answer(up).error, 'bad_parameter')
      assert.deepEqual(await readdir(folder), [], 'no data folder, no cluster folder')
      const help = await runDyn(['start', '--help'])
      assert.match(help.stdout, /--admission-target-ms=ms\s+advanced:/)
      assert.match(help.stdout, /--admission-window-ms=ms\s+advanced:/)
    } finally {
      await rm(folder, {recursive: true, force: true})
    }
  })

  it('exit 3 when no node answers', async () => {
    const port = await freePortRange(1)
    const result = await runDyn(['get', 'k', '--node', `127.0.0.1:${port}`])
    assert.equal(result.code, 3)
    assert.match(result.stderr, /cannot reach a dyn node/)
  })

  it('says what is wrong in words: a missing argument, --node at an internode port or at another HTTP server, one byte', async () => {
    const missing = await runDyn(['get'], {env})
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /missing the argument KEY.*Use: dyn get KEY \[flags\]/)
    assert.doesNotMatch(missing.stderr, /--node allows multiple values|USAGE/)
    assert.equal(answer(await runDyn(['put', '--json'], {env})).error, 'bad_usage')

    const internodeAddress = `${c.cluster.host}:${c.cluster.nodes[0]?.rpcPort}`
    const internode = await runDyn(['get', 'k', '--node', internodeAddress])
    assert.equal(internode.code, 3)
    assert.match(internode.stderr, /internode port/)
    // dyn top says so too, and neither advises starting a node that runs.
    const topped = await runDyn(['top', '--node', internodeAddress, '--interval', '100', '--json'])
    assert.equal(topped.code, 3, topped.stdout)
    assert.match(answer(topped).message as string, /internode port.*something answers there, but not in HTTP/)

    const other = createServer((_req, res) => {
      res.writeHead(404, {'content-type': 'text/html'})
      res.end('<html>not here</html>')
    })
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
    try {
      const address = `127.0.0.1:${(other.address() as {port: number}).port}`
      for (const args of [['get', 'k'], ['put', 'k', 'v'], ['ring'], ['top', '--interval', '100'], ['bench', '--duration', '1', '--records', '10']]) {
        const run = await runDyn([...args, '--node', address, '--json'])
        assert.equal(run.code, 2, run.stdout)
        assert.equal(answer(run).error, 'not_a_dyn_node', args.join(' '))
      }
    } finally {
      await new Promise((resolve) => other.close(resolve))
    }

    const one = await runDyn(['put', 'one-byte', 'x'], {env})
    assert.match(one.stdout, /^stored one-byte \(1 byte\)$/m)
  })

  it('warns (without failing) when R + W <= N', async () => {
    const weak = await runDyn(['get', 'cart:alice', '-r', '1'], {env})
    assert.equal(weak.code, 0)
    assert.match(weak.stderr, /^dyn: warning: r=1 \+ w=2 <= n=3/m)
    const strong = await runDyn(['get', 'cart:alice', '-r', '2'], {env})
    assert.doesNotMatch(strong.stderr, /warning/)
  })

  it('explains a request on stderr, keeping stdout for the value', async () => {
    const get = await runDyn(['get', 'cart:alice', '--explain'], {env})
    assert.equal(get.stdout, '{"items":["book"]}')
    assert.match(get.stderr, /coordinator n1, partition \d+/)
    assert.match(get.stderr, /n2 +ok/)
  })

  it('ring shows members and a key\'s preference list', async () => {
    const ring = await runDyn(['ring'], {env})
    assert.equal(ring.code, 0)
    assert.match(ring.stdout, /64 partitions/)
    const key = await runDyn(['ring', 'cart:alice', '--json'], {env})
    const body = JSON.parse(key.stdout) as {partition: number; preflist: Array<{node: string; home: boolean}>}
    assert.equal(body.preflist.length, 3)
  })

  it('cluster status reports a healthy cluster, as text and JSON', async () => {
    const status = await runDyn(['cluster', 'status', '--dir', c.dir])
    assert.equal(status.code, 0, status.stdout)
    assert.match(status.stdout, /all nodes serve and agree on the ring/)
    const json = JSON.parse((await runDyn(['cluster', 'status', '--dir', c.dir, '--json'])).stdout) as {agreed: boolean; nodes: unknown[]}
    assert.equal(json.agreed, true)
    assert.equal(json.nodes.length, 3)
  })

  it('cluster up on a folder whose cluster runs starts nothing', async () => {
    const again = await runDyn(['cluster', 'up', '--nodes', '3', '--dir', c.dir])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /^3 of this folder's nodes running and ready in .* \(all were running already; started none\); the cluster has 3 members;/)
  })

  // Item 6: node addresses and exit codes.
  it('a malformed --node or DYN_NODE is bad input (exit 2), not unreachable', async () => {
    for (const node of ['http://127.0.0.1', '127.0.0.1', 'garbage!!', 'ftp://127.0.0.1:7070', '127.0.0.1:99999']) {
      const viaFlag = await runDyn(['get', 'k', '--node', node, '--json'])
      assert.equal(viaFlag.code, 2, `--node ${node}: ${viaFlag.stdout}`)
      assert.equal(answer(viaFlag).error, 'bad_parameter', node)
      const viaEnv = await runDyn(['get', 'k'], {env: {DYN_NODE: node}})
      assert.equal(viaEnv.code, 2, `DYN_NODE=${node}`)
      assert.match(viaEnv.stderr, /DYN_NODE: node address .* \[bad_parameter\]/)
    }
  })

  it('--node takes http:// URLs, may be repeated, and moves on only when a node cannot be connected to', async () => {
    const url = await runDyn(['get', 'cart:alice', '--node', `http://${c.api(1)}/`])
    assert.equal(url.code, 0, url.stderr)
    assert.equal(url.stdout, '{"items":["book"]}')
    const dead = `127.0.0.1:${await freePortRange(1)}`
    // A key argument after a repeated flag is still the key.
    const fallback = await runDyn(['get', '--node', dead, '--node', c.api(2), 'cart:alice'])
    assert.equal(fallback.code, 0, fallback.stderr)
    assert.equal(fallback.stdout, '{"items":["book"]}')
    const fromEnv = await runDyn(['get', 'cart:alice'], {env: {DYN_NODE: `${dead}, http://${c.api(0)}`}})
    assert.equal(fromEnv.code, 0, fromEnv.stderr)
    assert.equal(fromEnv.stdout, '{"items":["book"]}')
    const allDead = await runDyn(['get', 'cart:alice', '--node', dead, '--node', dead.replace(/:\d+$/, ':1'), '--json'])
    assert.equal(allDead.code, 3)
    assert.equal(answer(allDead).error, 'unreachable')
    // A node that answers, even with an error, is the answer: the request is not sent elsewhere.
    const busy = await startOverloadedServer()
    try {
      const refused = await runDyn(['get', 'cart:alice', '--node', busy.address, '--node', c.api(0), '--json'])
      assert.equal(refused.code, 3, refused.stdout)
      assert.equal(answer(refused).error, 'overloaded')
    } finally {
      busy.server.close()
    }
  })

  it('a command that acts on the node it reaches (leave without --name, join, repair) refuses a list of nodes: a fall-back would act in its place', async () => {
    // A mistyped first address made the second node of the list leave (a new user's walk).
    const dead = `127.0.0.1:${await freePortRange(1)}`
    const runs = [
      ['--node', ['cluster', 'leave', '--node', `${dead},${c.api(2)}`, '--json'], /or name the member that leaves with --name/],
      ['DYN_NODE', ['cluster', 'leave', '--json'], /or name the member that leaves with --name/],
      ['--node', ['cluster', 'join', '127.0.0.1:1', '--node', dead, '--node', c.api(2), '--json'], /the node that joins is the one node it reaches/],
      ['--node', ['repair', '--node', `${dead},${c.api(2)}`, '--json'], /the node that compares and repairs its replicas is the one node it reaches/],
    ] as const
    for (const [source, args, says] of runs) {
      const run = await runDyn([...args], source === 'DYN_NODE' ? {env: {DYN_NODE: `${dead},${c.api(2)}`}} : {})
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}${run.stderr}`)
      const refusal = answer(run)
      assert.equal(refusal.error, 'bad_parameter')
      assert.match(String(refusal.message), new RegExp(`^${source} names 2 nodes \\(${dead}, ${c.api(2)}\\)`))
      assert.match(String(refusal.message), says)
    }
    // Nothing was staged through the node that answers.
    const plan = await runDyn(['cluster', 'plan', '--node', c.api(2), '--json'])
    assert.equal(plan.code, 0, plan.stderr)
    assert.deepEqual(answer(plan).staged, [])
  })

  it('an invalid quorum is refused without the R + W <= N warning; a valid weak one still warns', async () => {
    const invalid = await runDyn(['put', 'k', 'v', '-w', '1', '--dw', '2'], {env})
    assert.equal(invalid.code, 2)
    assert.match(invalid.stderr, /bad_parameter/)
    assert.doesNotMatch(invalid.stderr, /warning/)
    const weak = await runDyn(['put', 'weak-write', 'v', '-w', '1'], {env})
    assert.equal(weak.code, 0, weak.stderr)
    assert.match(weak.stderr, /^dyn: warning: r=2 \+ w=1 <= n=3/m)
  })

  // Item 7: the keys "." and "..".
  it('refuses the keys "." and ".." with bad_key through the CLI, the TypeScript clients and raw HTTP alike', async () => {
    for (const key of ['.', '..']) {
      for (const args of [['put', key, 'v'], ['get', key], ['delete', key], ['ring', key]]) {
        const run = await runDyn([...args, '--json'], {env})
        assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}`)
        assert.equal(answer(run).error, 'bad_key', args.join(' '))
      }
    }
    const client = new DynClient(c.api(0))
    const aware = await PartitionAwareClient.connect([c.api(0)])
    for (const result of [await client.put('..', Buffer.from('v')), await client.get('.'), await client.delete('..'), await aware.put('..', Buffer.from('v')), await aware.get('.')]) {
      assert.equal(result.ok, false)
      if (!result.ok) assert.equal(result.error, 'bad_key')
    }
    // Sent as is (no client normalising the path), in every spelling: the API refuses them too.
    for (const segment of ['.', '..', '%2e', '%2E%2E', '.%2e']) {
      for (const [method, route] of [['PUT', '/kv/'], ['GET', '/kv/'], ['DELETE', '/kv/'], ['GET', '/cluster/preflist/']] as const) {
        const raw = await rawRequest(c.api(1), method, `${route}${segment}`, method === 'PUT' ? 'v' : undefined)
        assert.equal(raw.status, 400, `${method} ${route}${segment}`)
        assert.equal(raw.body.error, 'bad_key', `${method} ${route}${segment}`)
      }
    }
    // Keys that merely contain dots are ordinary keys.
    for (const key of ['...', '../etc', 'a/..']) {
      assert.equal((await runDyn(['put', key, `value of ${key}`], {env})).code, 0, key)
      assert.equal((await runDyn(['get', key], {env})).stdout, `value of ${key}`, key)
    }
  })

  // Item 9: start-up loads only what the command needs (issue 18, item 4: plain get, put and delete none of oclif).
  it('the build writes an oclif manifest of every command, and dyn get, put and delete load none of oclif, the drawing or the load-test libraries; dyn get --help still renders with oclif', async () => {
    const manifest = JSON.parse(await readFile(path.join(packageRoot, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>}
    const files = await readdir(path.join(packageRoot, 'dist/commands'), {recursive: true})
    const ids = files.filter((f) => f.endsWith('.js')).map((f) => f.replace(/\.js$/, '').split(path.sep).join(':'))
    assert.deepEqual(Object.keys(manifest.commands).sort(), ids.sort())
    assert.equal((await runDyn(['put', 'cart:loads', 'book'], {env})).code, 0)
    // oclif (its command, parser, config and help renderer) and what it loads; react, autocannon,
    // undici, classic-level and hdr-histogram-js are CommonJS; ink is ESM but loads react.
    const heavy = ['@oclif/core', '@oclif/plugin-help', 'wrap-ansi', 'string-width', 'widest-line', 'ansis', 'ejs', 'debug', 'react', 'ink', 'autocannon', 'undici', 'classic-level', 'hdr-histogram-js', 'msgpackr']
    for (const [line, runner] of [[['get', 'cart:loads'], 'get-run.js'], [['put', 'cart:loads', 'pen', '--json'], 'put-run.js'], [['delete', 'cart:loads', '--json'], 'delete-run.js']] as const) {
      const {run, modules} = await modulesLoadedBy(line, env)
      assert.equal(run.code, 0, run.stderr)
      assert.ok(modules.some((module) => module.endsWith(`/dist/src/cli/${runner}`)), 'the recorder saw the modules')
      for (const name of heavy) assert.ok(!modules.some((module) => module.includes(`/node_modules/${name}/`)), `dyn ${line[0]} loaded ${name}`)
    }
    // --help goes to oclif, whose help renderer draws it.
    const help = await modulesLoadedBy(['get', '--help'], env)
    assert.equal(help.run.code, 0, help.run.stderr)
    assert.match(help.run.stdout, /USAGE\s+\$ dyn get KEY/)
    assert.match(help.run.stdout, /EXAMPLES/)
    assert.ok(help.modules.some((module) => module.includes('/node_modules/@oclif/core/lib/help/')), 'dyn get --help is drawn by oclif')
  })

  it('dyn answers as oclif alone does: the fast path for dyn get, put and delete, and the lines it leaves to oclif', async () => {
    await runDyn(['put', 'cart:same', 'book'], {env})
    const lines = [
      ['get', 'cart:same'],
      ['get', 'cart:same', '--json'],
      ['get', 'cart:same', '-r', '1', '--node', c.api(1)],
      ['get', 'cart:nobody'],
      ['get', 'cart:nobody', '--json'],
      ['get', 'cart:same', '--node', 'no-port', '--json'],
      ['get', 'cart:same', '--node', '127.0.0.1:1'],
      ['get', 'cart:same', '-r', '0', '--json'],
      ['get', 'cart:same', '--bogus'],
      ['get', '--json'],
      ['get', '--help'],
      ['help', 'get'],
      ['gte', 'cart:same'],
      ['put', '', 'v', '--json'],
      ['put', 'cart:same', 'v', '--node', '127.0.0.1:1'],
      ['put', 'cart:same', 'v', '-w', '0'],
      ['put', 'cart:same', 'v', 'w'],
      ['delete', 'cart:nobody'],
      ['delete', '--json'],
    ]
    for (const line of lines) {
      const [viaBin, viaOclif] = await Promise.all([runDyn(line, {env}), runOclifAlone(line, env)])
      assert.deepEqual(viaBin, viaOclif, line.join(' '))
    }
  })

  // Item 10: help and mistyped commands.
  it('dyn help and dyn help COMMAND work, and a mistyped command suggests the nearest one (exit 2)', async () => {
    const help = await runDyn(['help'])
    assert.equal(help.code, 0, help.stderr)
    for (const command of ['get', 'put', 'delete', 'ring', 'start', 'cluster']) assert.match(help.stdout, new RegExp(`\\b${command}\\b`))
    const getHelp = await runDyn(['help', 'get'])
    assert.equal(getHelp.code, 0, getHelp.stderr)
    assert.match(getHelp.stdout, /\$ dyn get KEY/)
    assert.match(getHelp.stdout, /EXAMPLES/)
    const clusterHelp = await runDyn(['help', 'cluster', 'up'])
    assert.equal(clusterHelp.code, 0, clusterHelp.stderr)
    assert.match(clusterHelp.stdout, /\$ dyn cluster up/)
    // The topic holds the membership commands too, and says so (it said "a local cluster" only).
    const topic = await runDyn(['cluster', '--help'])
    assert.equal(topic.code, 0, topic.stderr)
    assert.match(topic.stdout.split('\n')[0] ?? '', /local cluster .*status --node.*membership \(join, leave, remove, plan, commit, clear\)/)
    const typo = await runDyn(['gte', 'cart:alice'], {env})
    assert.equal(typo.code, 2)
    assert.match(typo.stderr, /did you mean get\?/)
    const topicTypo = await runDyn(['cluster', 'stauts', '--json'])
    assert.equal(topicTypo.code, 2)
    assert.equal(answer(topicTypo).suggestion, 'cluster status')
    const nothingNear = await runDyn(['frobnicate'])
    assert.equal(nothingNear.code, 2)
    assert.match(nothingNear.stderr, /"frobnicate" is not a dyn command/)
    assert.doesNotMatch(nothingNear.stderr, /did you mean/)
    // A topic's word and no command of it: both words are named, with the topic's commands (it
    // said the topic itself was no command).
    const notInTopic = await runDyn(['cluster', 'nosuch', '--json'])
    assert.equal(notInTopic.code, 2)
    assert.equal(answer(notInTopic).error, 'unknown_command')
    assert.match(String(answer(notInTopic).message), /^"cluster nosuch" is not a dyn command; dyn cluster has .*\bdown\b.*\bup\b \(dyn help cluster says what each does\)$/)
  })

  // Item 11: a put that creates a sibling says so.
  it('a put that leaves siblings says how many, in text and JSON', async () => {
    const first = await runDyn(['put', 'cart:carol', 'book', '--json'], {env})
    assert.equal(first.code, 0, first.stdout)
    assert.equal(answer(first).siblings, 1)
    const second = await runDyn(['put', 'cart:carol', 'pen'], {env})
    assert.equal(second.code, 0, second.stderr)
    assert.match(second.stdout, /cart:carol now has 2 siblings; read it and write with its context to reconcile/)
    // Through the same node each time: it coordinates all three (every node is a home replica of
    // every key with N=3 on 3 nodes), so it holds all versions when it counts them.
    const third = await runDyn(['put', 'cart:carol', 'cup', '--json'], {env})
    assert.equal(answer(third).siblings, 3)
    const context = String(answer(await runDyn(['get', 'cart:carol', '--json'], {env})).context)
    const resolved = await runDyn(['put', 'cart:carol', 'book,pen,cup', '--context', context], {env})
    assert.doesNotMatch(resolved.stdout, /siblings/)
    assert.equal(answer(await runDyn(['put', 'cart:carol', 'book,pen,cup,hat', '--context', context, '--json'], {env})).siblings, 2)
    // The header itself, on the API's plain 204.
    const plain = await fetch(`http://${c.api(0)}/kv/header-count`, {method: 'PUT', body: 'a'})
    assert.equal(plain.status, 204)
    assert.equal(plain.headers.get('x-dyn-siblings'), '1')
    const again = await fetch(`http://${c.api(0)}/kv/header-count`, {method: 'PUT', body: 'b'})
    assert.equal(again.headers.get('x-dyn-siblings'), '2')
  })

  // Item 12: binary values on a terminal.
  it('a binary value on a terminal is a hex preview with how to save it; piped or --output it is the exact bytes', async () => {
    const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x1b, 0x5b, 0x32, 0x4a, 0xff])
    assert.equal((await runDyn(['put', 'photo:1', '--content-type', 'image/png'], {env, input: bytes})).code, 0)
    const terminal = await runDynOnTerminal(['get', 'photo:1'], env)
    assert.equal(terminal.code, 0)
    const shown = terminal.output.toString('latin1')
    assert.match(shown, /binary value, 14 bytes, image\/png/)
    assert.match(shown, /00000000  89 50 4e 47 0d 0a 1a 0a 00 1b 5b 32 4a ff/)
    assert.match(shown, /--output FILE/)
    assert.equal(terminal.output.includes(Buffer.from([0x1b, 0x5b, 0x32, 0x4a])), false, 'the raw escape sequence reached the terminal')
    const piped = await new Promise<Buffer>((resolve, reject) => {
      const child = spawn(process.execPath, [dynBin, 'get', 'photo:1'], {env: {...process.env, ...env}})
      const out: Buffer[] = []
      child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
      child.once('error', reject)
      child.once('close', () => resolve(Buffer.concat(out)))
    })
    assert.deepEqual(piped, bytes)
    const dir = await mkdtemp(path.join(tmpdir(), 'dyn-test-output-'))
    try {
      const file = path.join(dir, 'photo.png')
      const saved = await runDyn(['get', 'photo:1', '--output', file], {env})
      assert.equal(saved.code, 0, saved.stderr)
      assert.match(saved.stdout, /saved photo:1 to .*photo\.png \(14 bytes, image\/png\)/)
      assert.deepEqual(await readFile(file), bytes)
      const unwritable = await runDyn(['get', 'photo:1', '--output', path.join(dir, 'no-such-folder', 'x'), '--json'], {env})
      assert.equal(unwritable.code, 2)
      assert.equal(answer(unwritable).error, 'bad_parameter')
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
    const text = await runDynOnTerminal(['get', 'cart:alice'], env)
    assert.equal(text.output.toString('utf8').replaceAll('\r\n', '\n'), '{"items":["book"]}\n')
    const bothSiblings = await runDyn(['get', 'cart:carol', '--output', '/dev/null', '--json'], {env})
    assert.equal(bothSiblings.code, 4)
    assert.equal(answer(bothSiblings).error, 'has_siblings')
  })

  // Item 13: one JSON shape per kind of answer, errors included.
  it('every --json answer is one object with ok; errors, oclif\'s usage errors included, are the error object on stdout', async () => {
    const put = answer(await runDyn(['put', 'shape', 'v', '--json'], {env}))
    assert.deepEqual(Object.keys(put).sort(), ['context', 'key', 'ok', 'siblings'])
    assert.equal(put.ok, true)
    const get = answer(await runDyn(['get', 'shape', '--json'], {env}))
    assert.deepEqual(Object.keys(get).sort(), ['context', 'found', 'key', 'ok', 'siblings'])
    assert.equal(get.ok, true)
    const ring = answer(await runDyn(['ring', '--json'], {env}))
    assert.equal(ring.ok, true)
    assert.equal(ring.partitionCount, 64)
    const preflist = answer(await runDyn(['ring', 'shape', '--json'], {env}))
    assert.equal(preflist.ok, true)
    assert.equal(preflist.key, 'shape')
    const deleted = answer(await runDyn(['delete', 'shape', '--json'], {env}))
    assert.deepEqual(Object.keys(deleted).sort(), ['context', 'deleted', 'key', 'liveSiblings', 'ok', 'siblings'])
    assert.deepEqual([deleted.siblings, deleted.liveSiblings, deleted.deleted], [1, 0, true])
    const gone = await runDyn(['get', 'shape', '--json'], {env})
    assert.equal(gone.code, 1)
    assert.deepEqual({ok: answer(gone).ok, error: answer(gone).error, found: answer(gone).found, deleted: answer(gone).deleted}, {ok: false, error: 'not_found', found: false, deleted: true})
    // Deleting it again: not found, with the trace only when --explain asks for it, as on success.
    const again = answer(await runDyn(['delete', 'shape', '--json'], {env}))
    assert.equal(again.error, 'not_found')
    assert.equal(again.trace, undefined, 'a trace without --explain')
    assert.notEqual(answer(await runDyn(['delete', 'shape', '--json', '--explain'], {env})).trace, undefined)
    const usage: Array<[string[], RegExp]> = [
      [['get', 'k', '--bogus', '--json'], /Nonexistent flag: --bogus/],
      [['get', '--json'], /missing the argument KEY/],
      [['get', 'k', '-r', 'abc', '--json'], /integer/],
      [['put', 'k', 'v', 'extra', '--json'], /dyn put takes at most 2 arguments, and "extra" is one more/],
      [['ring', '--json', '--timeout', '0'], /greater than or equal to 1/],
    ]
    for (const [args, message] of usage) {
      const run = await runDyn(args, {env})
      assert.equal(run.code, 2, args.join(' '))
      const body = answer(run)
      assert.equal(body.ok, false, args.join(' '))
      assert.equal(body.error, 'bad_usage', args.join(' '))
      assert.match(String(body.message), message, args.join(' '))
      assert.doesNotMatch(String(body.message), /\u001b|See more help/, args.join(' '))
    }
    // In text, a usage error is one line on stderr with its code, as every refusal: not oclif's
    // boxed error followed by the command's whole help.
    const text = await runDyn(['get', 'k', '--bogus'], {env})
    assert.equal(text.code, 2)
    assert.equal(text.stdout, '')
    assert.equal(text.stderr, 'dyn: Nonexistent flag: --bogus (dyn get --help lists the flags) [bad_usage]\n')
    const wrongType = await runDyn(['get', 'k', '-r', 'abc'], {env})
    assert.equal(wrongType.code, 2)
    assert.equal(wrongType.stderr, 'dyn: --r: expected an integer but received: abc (dyn get --help lists the flags) [bad_usage]\n')
  })
})
