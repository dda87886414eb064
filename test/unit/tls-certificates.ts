/**
 * Certificates for the TLS tests, made by the README's own `openssl` commands (section "TLS"):
 * the block after the `tls-commands` marker is run as it stands, with 127.0.0.1 for the
 * machines' addresses, so that the documented commands are what the tests use.
 */

import {execFile} from 'node:child_process'
import {mkdir, readFile} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

const readmeFile = fileURLToPath(new URL('../../../README.md', import.meta.url))
/** The first sh block of the README after the comment that starts with `<!-- NAME`. */
async function readmeBlockAfter(name: string): Promise<string> {
  const marker = `<!-- ${name}`
  const readme = await readFile(readmeFile, 'utf8')
  const at = readme.indexOf(marker)
  if (at === -1) throw new Error(`README.md has no ${marker} marker`)
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at))
  if (block?.[1] === undefined) throw new Error(`README.md has no sh block after the ${name} marker`)
  return block[1]
}

/** The shell block of README "TLS" that makes the CA and the node certificates. */
export async function readmeCertificateCommands(): Promise<string> {
  return readmeBlockAfter('tls-commands')
}

/** The files one run of the commands makes, in `dir/tls`. */
export interface ClusterCertificates {
  readonly dir: string
  readonly caFile: string
  readonly certFile: (node: string) => string
  readonly keyFile: (node: string) => string
}

/** Runs the README's commands in `dir` (made if missing), for nodes n1..n3 on 127.0.0.1. */
export async function makeReadmeCertificates(dir: string): Promise<ClusterCertificates> {
  const script = (await readmeCertificateCommands()).replace(/\b10\.0\.0\.1[0-9]\b/g, '127.0.0.1')
  await mkdir(dir, {recursive: true})
  await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], {cwd: dir})
  const tls = path.join(dir, 'tls')
  return {dir: tls, caFile: path.join(tls, 'ca.crt'), certFile: (node) => path.join(tls, `${node}.crt`), keyFile: (node) => path.join(tls, `${node}.key`)}
}

/**
 * Makes one more node certificate with the CA of `certificates`, by the README block's own
 * `node_cert` function (a rotation: a new certificate of the same CA), as `dir/NAME.crt` and
 * `dir/NAME.key`, naming `ip` and `dns`.
 */
export async function makeNodeCertificate(certificates: ClusterCertificates, name: string, ip: string, dns: string): Promise<{certFile: string; keyFile: string}> {
  const definition = /node_cert\(\) \{[\s\S]*?\n\}/.exec(await readmeCertificateCommands())
  if (definition === null) throw new Error('the README block has no node_cert function')
  await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', `${definition[0]}\nnode_cert "$1" "$2" "$3"`, 'node_cert', name, ip, dns], {cwd: certificates.dir})
  return {certFile: path.join(certificates.dir, `${name}.crt`), keyFile: path.join(certificates.dir, `${name}.key`)}
}

/** The README's block that makes the clients' CA and a certificate for client `alice`, in the folder of `certificates`. */
export async function makeReadmeClientCertificates(certificates: ClusterCertificates): Promise<{caFile: string; certFile: string; keyFile: string}> {
  const block = await readmeBlockAfter('tls-client-commands')
  await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', block], {cwd: path.dirname(certificates.dir)})
  return {caFile: path.join(certificates.dir, 'clients-ca.crt'), certFile: path.join(certificates.dir, 'alice.crt'), keyFile: path.join(certificates.dir, 'alice.key')}
}
