/**
 * The cluster secret's file: what `dyn start --secret-file` reads and `dyn cluster up` writes.
 * The secret is what the internode handshake proves on every connection (src/transport/
 * handshake.ts); whoever can read the file can join the cluster, so the file must be readable by
 * its owner alone, as ssh requires of a private key.
 *
 * The file holds the secret as text: 64 hex digits when dyn made it (256 random bits). Any text
 * of at least 16 bytes is taken as it is, without the spaces, tabs and line breaks it ends with,
 * so that a secret a user's own tooling wrote (a password manager, a configuration system) works
 * too, and so do copies that differ only there: an editor's extra line, a Windows line ending
 * (a copy with one more blank line once read as another cluster's secret; a new user's walk).
 */

import {randomBytes} from 'node:crypto'
import {constants} from 'node:fs'
import {open, writeFile} from 'node:fs/promises'
import {DynError} from '../errors.js'
import {shellQuote} from '../shell-quote.js'
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
  let handle
  try {
    // Opened first and checked through the handle, so that the file checked is the file read; not
    // through a symbolic link (whoever may replace the link could swap the secret), and without
    // waiting on a FIFO put in its place.
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'no such file' : code === 'ELOOP' ? 'a symbolic link; give the file itself' : (error as Error).message
    throw new DynError('bad_parameter', `--secret-file ${file}: ${why}; give the file that holds the cluster's secret (dyn cluster up writes one as ${clusterSecretFileName} in its folder)`)
  }
  try {
    const info = await handle.stat()
    if (!info.isFile()) throw new DynError('bad_parameter', `--secret-file ${file}: not a file (${info.isDirectory() ? 'a folder' : 'a device, socket or pipe'}); give the file that holds the cluster's secret (dyn cluster up writes one as ${clusterSecretFileName} in its folder)`)
    if ((info.mode & 0o077) !== 0) {
      throw new DynError('bad_parameter', `--secret-file ${file}: readable or writable by others (mode ${(info.mode & 0o777).toString(8)}); whoever reads it can join the cluster: chmod 600 ${shellQuote(file)}`)
    }
    const uid = process.getuid?.()
    if (uid !== undefined && info.uid !== uid) {
      throw new DynError('bad_parameter', `--secret-file ${file}: owned by user ${info.uid}, not by the user this node runs as (${uid}), who could not have kept it private: chown it, or make the secret as this user`)
    }
    if (info.size > clusterSecretBytesMax + 2) throw new DynError('bad_parameter', `--secret-file ${file}: ${info.size} bytes, more than a secret (at most ${clusterSecretBytesMax})`)
    // Read up to the bound whatever the size said: the file may have grown since.
    const buffer = Buffer.alloc(clusterSecretBytesMax + 2)
    const {bytesRead} = await handle.read(buffer, 0, buffer.length, 0)
    const secret = withoutTrailingWhitespace(buffer.subarray(0, bytesRead))
    if (secret.length < clusterSecretBytesMin) {
      throw new DynError('bad_parameter', `--secret-file ${file}: ${secret.length === 0 ? 'empty' : `${secret.length} bytes`}; a secret has at least ${clusterSecretBytesMin} (make one with: openssl rand -hex 32 > ${shellQuote(file)}; chmod 600 ${shellQuote(file)})`)
    }
    return Buffer.from(secret)
  } finally {
    await handle.close()
  }
}

/** Writes a new random secret to `file`, readable by its owner alone; refuses to replace one. */
export async function writeNewSecretFile(file: string): Promise<void> {
  const secret = randomBytes(generatedSecretBytes).toString('hex')
  // 'wx' fails if the file exists: a cluster's secret is never replaced behind its nodes' backs.
  await writeFile(file, `${secret}\n`, {mode: 0o600, flag: 'wx'})
}

/** Bytes that end a secret's line but are no part of it: space, tab, CR, LF. */
const trailingWhitespace = new Set([0x20, 0x09, 0x0d, 0x0a])

function withoutTrailingWhitespace(text: Buffer): Buffer {
  let end = text.length
  while (end > 0 && trailingWhitespace.has(text[end - 1] as number)) end -= 1
  return text.subarray(0, end)
}
