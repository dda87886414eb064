/**
 * A client's CA file (`--tls-ca`, `DYN_TLS_CA`): what the HTTPS client trusts. Kept apart from
 * tls-options.ts, which parses certificates with node:crypto, so that a command that talks to a
 * node loads neither node:crypto nor node:tls for it: the file is read and checked to hold PEM
 * certificates here, and Node's TLS parses them when an https address is first used (a broken
 * one fails that handshake, saying so).
 */

import {readFileSync} from 'node:fs'
import type {ErrorCode} from '../errors.js'

/** What a client takes to reach nodes over HTTPS: the CA to trust, or the system's when absent. */
export interface ClientTls {
  readonly ca?: Buffer
  /** Where `ca` came from, as a message names it (`--tls-ca tls/ca.crt`). */
  readonly source?: string
  /** The client's own certificate (PEM) and its key, for nodes that ask for one (`dyn start --tls-client-ca`). */
  readonly cert?: Buffer
  readonly key?: Buffer
}

/** One PEM certificate block (tls-options.ts takes every one of a file with the global form). */
export const pemCertificatePattern = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/

/** A PEM file larger than this is no certificate or key (a bundle of every public CA is about 250 KB). */
export const tlsFileBytesMax = 1024 * 1024

type ClientFileRead = {ok: true; bytes: Buffer} | {ok: false; error: ErrorCode; message: string}

/**
 * One PEM file of a client, named by `source` (its flag or environment variable), read
 * synchronously: a command builds its client before it sends anything. Refused with
 * `bad_parameter` when it is missing, unreadable, larger than any PEM file, or holds no block
 * that `pattern` finds; `texts` say what the file should have been, in each refusal.
 */
function readClientPem(file: string, source: string, pattern: RegExp, texts: {readonly give: string; readonly kind: string; readonly noPem: string}): ClientFileRead {
  let bytes: Buffer
  try {
    bytes = readFileSync(file)
  } catch (error) {
    return {ok: false, error: 'bad_parameter', message: `${source} ${file}: ${readProblem(error)}; ${texts.give}`}
  }
  if (bytes.length > tlsFileBytesMax) return {ok: false, error: 'bad_parameter', message: `${source} ${file}: ${bytes.length} bytes, more than ${texts.kind} (at most ${tlsFileBytesMax})`}
  if (!pattern.test(bytes.toString('utf8'))) return {ok: false, error: 'bad_parameter', message: `${source} ${file} holds no PEM ${texts.noPem}`}
  return {ok: true, bytes}
}

/**
 * Reads a client's CA file (`--tls-ca` or DYN_TLS_CA, named by `source`). Refused with
 * `bad_parameter` when it is missing, unreadable, too large, or holds no PEM certificate.
 */
export function loadClientCa(file: string, source: string): {ok: true; ca: Buffer} | {ok: false; error: ErrorCode; message: string} {
  const read = readClientPem(file, source, pemCertificatePattern, {
    give: "give the cluster CA's certificate (the ca.crt the nodes were started with)",
    kind: 'a CA certificate file',
    noPem: "certificate (a block starting with -----BEGIN CERTIFICATE-----); give the cluster CA's certificate (ca.crt)",
  })
  return read.ok ? {ok: true, ca: read.bytes} : read
}

/**
 * Reads a client's certificate and key (`--tls-cert` and `--tls-key`, or DYN_TLS_CERT and
 * DYN_TLS_KEY, named by `sources`), without node:crypto, as the CA file is read: each must be a
 * PEM file of the right kind, and Node's TLS checks that they belong together when the first
 * https address is used. Refused with `bad_parameter` otherwise.
 */
export function loadClientCertificate(certFile: string, keyFile: string, sources: {readonly cert: string; readonly key: string}): {ok: true; cert: Buffer; key: Buffer} | {ok: false; error: ErrorCode; message: string} {
  const textsOf = (what: string): {give: string; kind: string; noPem: string} => ({give: `give your client ${what}`, kind: `a client ${what}`, noPem: `${what}; give your client ${what}`})
  const cert = readClientPem(certFile, sources.cert, pemCertificatePattern, textsOf('certificate'))
  if (!cert.ok) return cert
  const key = readClientPem(keyFile, sources.key, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, textsOf('private key'))
  if (!key.ok) return key
  return {ok: true, cert: cert.bytes, key: key.bytes}
}

/** Why a file could not be read, in the user's terms. */
export function readProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EACCES') return 'not readable by the user this runs as'
  if (code === 'EISDIR') return 'a folder, not a file'
  return (error as Error).message
}
