/**
 * The cluster secret's file: what `dyn start --secret-file` reads and `dyn cluster up` writes.
 * The secret is what the internode handshake proves on every connection (src/transport/
 * handshake.ts); whoever can read the file can join the cluster, so the file must be readable by
 * its owner alone, as ssh requires of a private key.
 *
 * The file holds the secret as text: 64 hex digits when dyn made it (256 random bits). Any text
 * of at least 16 bytes is taken as it is, without its final line break, so that a secret a
 * user's own tooling wrote (a password manager, a configuration system) works too.
 */

import {randomBytes} from 'node:crypto'
import {open, stat, writeFile} from 'node:fs/promises'
import {DynError} from '../errors.js'
import {clusterSecretBytesMax, clusterSecretBytesMin} from '../transport/handshake.js'

/** The name of the secret's file in a local cluster's folder (`dyn cluster up`). */
export const clusterSecretFileName = 'cluster.secret'
/** Random bytes in a secret dyn makes. */
const generatedSecretBytes = 32

/**
 * Reads and checks a secret file. Refused with `bad_parameter` and what to do: a file that is
 * missing, not a plain file, readable or writable by others than its owner, empty, too short or
 * too long.
 */
export async function readSecretFile(file: string): Promise<Buffer> {
  let info
  try {
    info = await stat(file)
  } catch (error) {
    throw new DynError('bad_parameter', `--secret-file ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}; give the file that holds the cluster's secret (dyn cluster up writes one as ${clusterSecretFileName} in its folder)`)
  }
  if (!info.isFile()) throw new DynError('bad_parameter', `--secret-file ${file}: not a file`)
  if ((info.mode & 0o077) !== 0) {
    throw new DynError('bad_parameter', `--secret-file ${file}: readable or writable by others (mode ${(info.mode & 0o777).toString(8)}); whoever reads it can join the cluster: chmod 600 ${file}`)
  }
  if (info.size > clusterSecretBytesMax + 2) throw new DynError('bad_parameter', `--secret-file ${file}: ${info.size} bytes, more than a secret (at most ${clusterSecretBytesMax})`)
  const handle = await open(file, 'r')
  let text: Buffer
  try {
    text = await handle.readFile()
  } finally {
    await handle.close()
  }
  const secret = withoutFinalLineBreak(text)
  if (secret.length < clusterSecretBytesMin) {
    throw new DynError('bad_parameter', `--secret-file ${file}: ${secret.length === 0 ? 'empty' : `${secret.length} bytes`}; a secret has at least ${clusterSecretBytesMin} (make one with: openssl rand -hex 32 > ${file}; chmod 600 ${file})`)
  }
  return secret
}

/** Writes a new random secret to `file`, readable by its owner alone; refuses to replace one. */
export async function writeNewSecretFile(file: string): Promise<void> {
  const secret = randomBytes(generatedSecretBytes).toString('hex')
  // 'wx' fails if the file exists: a cluster's secret is never replaced behind its nodes' backs.
  await writeFile(file, `${secret}\n`, {mode: 0o600, flag: 'wx'})
}

function withoutFinalLineBreak(text: Buffer): Buffer {
  let end = text.length
  if (end > 0 && text[end - 1] === 0x0a) end -= 1
  if (end > 0 && text[end - 1] === 0x0d) end -= 1
  return text.subarray(0, end)
}
