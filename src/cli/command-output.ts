/**
 * How a dyn command answers, without oclif: the result or a coded error in the form asked for
 * (plain text or `--json`), the documented exit code, and the client for `--node` / `DYN_NODE`.
 * `DynCommand` (command-base.ts) hands it oclif's exit; the start-up fast path (fast-path.ts),
 * which runs `dyn get` without loading oclif at all, hands it its own. One implementation, so that
 * an answer is the same byte for byte whichever way the command was started.
 *
 * The `--json` convention, which every command follows (README "JSON output"):
 * - exactly one JSON object on stdout, for a success and a failure alike, and nothing else on
 *   stdout (warnings and progress go to stderr);
 * - `"ok": true` exactly when the command did what was asked and exits 0, `"ok": false` otherwise;
 * - a failure is `{"ok": false, "error": "<code>", "message": "...", ...details}`: a stable
 *   snake_case code (scripts match on it, never on the message), a message that says what to
 *   do, and details in their own fields; this holds for oclif's own usage errors too (unknown
 *   flag, missing argument: code `bad_usage`);
 * - keys are camelCase; the fields of each kind of answer are documented in the README.
 * Use `printOk` for the answer and `fail` / `failFromError` for errors, and never write to
 * stdout around them.
 *
 * `dyn start` is the one command whose stdout is a log: with `--json` each log line is a JSON
 * object on a line of its own (`{at, node, message}`), so its answer takes the `line` form, one
 * more line after them, which a reader of JSON lines parses like the others (an indented object
 * there could be read neither whole nor line by line).
 */

import {DynClient, UnreachableError} from '../client/http-client.js'
import {parseNodeList} from '../client/node-address.js'
import type {ClientTls} from '../client/http-client.js'
import {loadClientCa, loadClientCertificate} from '../transport/tls-ca-file.js'
import {DynError} from '../errors.js'
import type {ErrorCode} from '../errors.js'
import {exitCodeOf} from './exit-codes.js'

export const nodeAddressDefault = '127.0.0.1:7070'

/** Holds the node address(es) when --node is absent: one, or a comma-separated list. */
export const nodeEnvironmentVariable = 'DYN_NODE'

/** Holds the cluster CA's certificate file when --tls-ca is absent (README "TLS"). */
export const tlsCaEnvironmentVariable = 'DYN_TLS_CA'
/** The client certificate and its key to present to nodes that ask for one, as --tls-cert and --tls-key give them. */
export const tlsCertEnvironmentVariable = 'DYN_TLS_CERT'
export const tlsKeyEnvironmentVariable = 'DYN_TLS_KEY'

/** Fields a failure may not take from its details: the convention's own. */
const reservedFailureFields = new Set(['ok', 'error', 'message'])

/** The parsed flags a command that talks to a node has: where, how long to wait, and the output form. */
export interface ClientFlagValues {
  readonly node?: readonly string[]
  /** The cluster CA's certificate file: reach the nodes over HTTPS, trusting it. */
  readonly 'tls-ca'?: string | undefined
  /** The client's certificate and key, for nodes started with --tls-client-ca. */
  readonly 'tls-cert'?: string | undefined
  readonly 'tls-key'?: string | undefined
  readonly timeout: number
  readonly json: boolean
}

/** Leaves the command with this exit code; never returns (oclif's `this.exit` throws). */
export type Exit = (code: number) => never

/**
 * The node addresses a command is to use and where they came from, for its messages: --node
 * (repeatable; each may be a comma-separated list), else DYN_NODE, else the default node.
 */
export function givenNodes(node: readonly string[] | undefined): {readonly source: string; readonly entries: readonly string[]} {
  const fromEnvironment = process.env[nodeEnvironmentVariable]
  if (node !== undefined && node.length > 0) return {source: '--node', entries: node}
  if (fromEnvironment !== undefined && fromEnvironment.trim() !== '') return {source: nodeEnvironmentVariable, entries: [fromEnvironment]}
  return {source: 'the default node', entries: [nodeAddressDefault]}
}

/** A failure as `fail` writes it on stderr without --json: `dyn: MESSAGE [CODE]`. */
export function failureLine(message: string, code: string): string {
  return `dyn: ${message} [${code}]`
}

/**
 * What a command that failed for a bug (an exception that is no DynError) writes on stderr
 * without --json: its one line with the code internal (exit 3, as with --json), and the stack
 * when DEBUG is set. oclif's own handler printed the error and exited 1, the code scripts read as
 * "not found".
 */
export function internalFailureText(error: unknown, debug = process.env.DEBUG !== undefined && process.env.DEBUG !== ''): string {
  const message = plainMessage(error instanceof Error ? error.message : String(error)) || String(error)
  const line = `${failureLine(message, 'internal')}\n`
  return debug && error instanceof Error && error.stack !== undefined ? `${line}${error.stack}\n` : line
}

/**
 * The code and message of a line `failureLine` wrote, as a node's log ends when its `dyn start`
 * failed (`dyn cluster up` runs its nodes without --json, their stderr in their log); undefined
 * for any other line. One line only: a message that spans lines is not taken apart.
 */
export function parseFailureLine(line: string): {code: string; message: string} | undefined {
  const match = /^dyn: (.+) \[([a-z][a-z0-9_]*)\]$/.exec(line)
  return match === null ? undefined : {code: match[2] as string, message: match[1] as string}
}

let closedOutputIgnored = false

/**
 * A reader that closes the pipe early (`| head`) is not an error, so a write that finds the
 * reader of stdout or of stderr gone ends nothing (@oclif/core's command module does it for
 * stdout alone). stderr too: `dyn bench ... 2>&1 | head -1` died on its progress lines, and its
 * cleanup never ran, leaving the cluster it had started running (a new user's walk). Called by
 * every command (DynCommand's init), the fast path and the help class; once is enough.
 */
export function ignoreClosedOutput(): void {
  if (closedOutputIgnored) return
  closedOutputIgnored = true
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error
    })
  }
}

/** " with error old_disk: the message" for a failure `parseFailureLine` read, or nothing. */
export function failureText(failure: {code: string; message: string} | undefined): string {
  return failure === undefined ? '' : ` with error ${failure.code}: ${failure.message.replace(/\.$/, '')}`
}

/** How an answer is printed under --json: indented (`object`, every command's), or on one line (`line`, for `dyn start`'s JSON lines). */
export type JsonForm = 'object' | 'line'

export class CommandOutput {
  constructor(
    private readonly exit: Exit,
    private readonly jsonForm: JsonForm = 'object',
  ) {}

  /** Print a JSON value as the command's one answer. Prefer `printOk`, which adds `"ok": true`. */
  printJson(value: unknown): void {
    process.stdout.write(`${this.jsonForm === 'line' ? JSON.stringify(value) : JSON.stringify(value, null, 2)}\n`)
  }

  /** The successful answer under --json: `{"ok": true, ...fields}`. */
  printOk(fields: Record<string, unknown>): void {
    this.printJson({ok: true, ...fields})
  }

  /** Print a coded error (as JSON on stdout with --json, else on stderr with its code) and exit. */
  fail(json: boolean, code: string, message: string, details: Record<string, unknown> = {}): never {
    if (json) {
      const extra = Object.fromEntries(Object.entries(details).filter(([name]) => !reservedFailureFields.has(name)))
      this.printJson({ok: false, error: code, message, ...extra})
    } else {
      process.stderr.write(`${failureLine(message, code)}\n`)
    }
    return this.exit(exitCodeOf(code))
  }

  /** Turn a thrown operating error into a coded failure; anything else is a bug and propagates. */
  failFromError(json: boolean, error: unknown): never {
    if (error instanceof UnreachableError) this.fail(json, error.code, error.message, error.details)
    if (error instanceof DynError) this.fail(json, error.code, error.message, error.details)
    throw error
  }

  /**
   * A client for the one node a command acts on as itself (the node that leaves, joins, or
   * repairs): a list of addresses is refused, since a second address, tried when the first does
   * not answer, would make another node do it (a mistyped first address once made the second
   * node of `--node A,B` leave; a new user's walk). `what` says what the node does, for the message.
   */
  oneNodeClientFor(flags: ClientFlagValues, what: string, instead: string): DynClient {
    const {source, entries} = givenNodes(flags.node)
    const parsed = parseNodeList(entries)
    if (parsed.ok && parsed.value.length > 1) {
      this.fail(flags.json, 'bad_parameter', `${source} names ${parsed.value.length} nodes (${parsed.value.map((address) => address.label).join(', ')}), but ${what} the one node it reaches, and a node tried after one that does not answer would be another: give one address with --node${instead}`)
    }
    return this.clientFor(flags)
  }

  /**
   * A client for the nodes named by --node (repeatable; each may be a comma-separated list),
   * else by DYN_NODE, else the default node. A malformed address is bad input (exit 2), never
   * "unreachable".
   */
  clientFor(flags: ClientFlagValues): DynClient {
    const {source, entries} = givenNodes(flags.node)
    const tls = this.clientTlsFor(flags)
    try {
      return new DynClient(entries, flags.timeout, tls === undefined ? {} : {tls})
    } catch (error) {
      if (error instanceof DynError) this.fail(flags.json, error.code, `${source}: ${error.message}`)
      throw error
    }
  }

  /**
   * The CA to trust from --tls-ca, else DYN_TLS_CA, and the client certificate and key to present
   * from --tls-cert and --tls-key, else DYN_TLS_CERT and DYN_TLS_KEY (both, or neither); undefined
   * without any (plain HTTP, or the system's CAs for an https:// address). An unreadable or
   * invalid file, or a certificate without its key, is bad input (exit 2).
   */
  clientTlsFor(flags: Pick<ClientFlagValues, 'tls-ca' | 'tls-cert' | 'tls-key' | 'json'>): ClientTls | undefined {
    const [caSource, caFile] = flags['tls-ca'] !== undefined ? ['--tls-ca', flags['tls-ca']] : [tlsCaEnvironmentVariable, environmentFile(tlsCaEnvironmentVariable)]
    let authority: {ca: Buffer; source: string} | undefined
    if (caFile !== undefined) {
      const loaded = loadClientCa(caFile, caSource)
      if (!loaded.ok) this.fail(flags.json, loaded.error, loaded.message)
      authority = {ca: loaded.ca, source: `${caSource} ${caFile}`}
    }
    // The certificate and its key come from one place: the flags when either is given, else the
    // environment, so that a certificate of one flag is never paired with another's key.
    const fromFlags = flags['tls-cert'] !== undefined || flags['tls-key'] !== undefined
    const [certSource, keySource] = fromFlags ? ['--tls-cert', '--tls-key'] : [tlsCertEnvironmentVariable, tlsKeyEnvironmentVariable]
    const certFile = fromFlags ? flags['tls-cert'] : environmentFile(tlsCertEnvironmentVariable)
    const keyFile = fromFlags ? flags['tls-key'] : environmentFile(tlsKeyEnvironmentVariable)
    const identity = readClientIdentity(certFile, keyFile, {cert: certSource, key: keySource})
    if (!identity.ok) this.fail(flags.json, identity.error, identity.message)
    return identity.cert === undefined ? authority : {...authority, cert: identity.cert, key: identity.key}
  }
}

/**
 * A client certificate and its key from their files (both, or neither: then none), checked; the
 * sources name where each came from in a refusal (`--tls-cert`, `DYN_TLS_CERT`).
 */
export function readClientIdentity(
  certFile: string | undefined,
  keyFile: string | undefined,
  sources: {readonly cert: string; readonly key: string},
): {ok: true; cert?: Buffer; key?: Buffer} | {ok: false; error: ErrorCode; message: string} {
  if (certFile === undefined && keyFile === undefined) return {ok: true}
  if (certFile === undefined || keyFile === undefined) {
    const [given, missing] = certFile === undefined ? [sources.key, sources.cert] : [sources.cert, sources.key]
    return {ok: false, error: 'bad_parameter', message: `${given} given without ${missing}: a client certificate is presented with its key; give both`}
  }
  return loadClientCertificate(certFile, keyFile, sources)
}

/** A client certificate and its key from DYN_TLS_CERT and DYN_TLS_KEY (both, or neither), checked. */
export function clientIdentityFromEnvironment(): ReturnType<typeof readClientIdentity> {
  return readClientIdentity(environmentFile(tlsCertEnvironmentVariable), environmentFile(tlsKeyEnvironmentVariable), {cert: tlsCertEnvironmentVariable, key: tlsKeyEnvironmentVariable})
}

/** A file an environment variable names, or undefined when it is unset or blank. */
function environmentFile(variable: string): string | undefined {
  const value = process.env[variable]?.trim()
  return value === undefined || value === '' ? undefined : value
}

/** Whether --json appears before any `--` (after which everything is an argument). */
export function jsonRequested(argv: readonly string[]): boolean {
  const end = argv.indexOf('--')
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json')
}

/** An error message without colours and oclif's pointer to --help (the JSON reader is a program). */
export function plainMessage(message: string): string {
  // eslint-disable-next-line no-control-regex
  const uncoloured = message.replace(/\u001b\[[0-9;]*m/g, '')
  return uncoloured
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^See more help with --help$/.test(line))
    .join(' ')
}
