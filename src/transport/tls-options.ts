/**
 * The TLS files of a node (`dyn start --tls-cert --tls-key --tls-ca`) and of a client (`--tls-ca`,
 * `DYN_TLS_CA`): read, parsed and checked once, so that a wrong file is refused with a message
 * that names it before a node listens or changes anything, rather than surfacing later as every
 * peer refusing every connection.
 *
 * A node's certificate serves both ports and both directions of the internode protocol: it is the
 * server certificate of the HTTPS client API and of the internode port, and the client
 * certificate this node presents when it dials a peer (mutual TLS). The CA file holds the
 * cluster's private CA (one certificate or a bundle): a peer's certificate must chain to it.
 *
 * Only node:crypto, node:fs and node:net are loaded here, never node:tls; a client reads its CA file with
 * tls-ca-file.ts, which does not load node:crypto either (the CLI's start-up is measured).
 * Messages name files and certificate subjects, never what a key file holds.
 */

import {createPrivateKey, X509Certificate} from 'node:crypto'
import type {KeyObject} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import {isIP} from 'node:net'
import type {ErrorCode} from '../errors.js'
import {pemCertificatePattern, readProblem, tlsFileBytesMax} from './tls-ca-file.js'

export {tlsFileBytesMax}

/** The start flags as oclif hands them over (absent when not given). */
export interface TlsFlagValues {
  readonly 'tls-cert'?: string | undefined
  readonly 'tls-key'?: string | undefined
  readonly 'tls-ca'?: string | undefined
  readonly 'tls-client-ca'?: string | undefined
}

/** The three files of a node with TLS. */
export interface TlsFiles {
  readonly certFile: string
  readonly keyFile: string
  readonly caFile: string
  /** The CA whose certificates the client API's clients must present (`--tls-client-ca`); none asked without it. */
  readonly clientCaFile?: string
}

/** What node:https and node:tls take to serve and dial with a node's identity, checked. */
export interface NodeTls {
  /** The node's certificate (and any intermediates after it), PEM. */
  readonly cert: Buffer
  /** Its private key, PEM. Never logged. */
  readonly key: Buffer
  /** The cluster CA's certificate(s), PEM: every peer's certificate must chain to one of them. */
  readonly ca: Buffer
  /**
   * The CA(s) whose certificates the client API asks its clients for (PEM, `--tls-client-ca`):
   * without a certificate of one, a client is answered `unauthenticated` for everything but
   * /health. Absent: the API serves anyone who trusts the cluster CA.
   */
  readonly clientCa?: Buffer
  /**
   * A certificate that is in both the client CA and the cluster CA files (its subject), if any:
   * every certificate it signed is then taken on the internode port as a node's, and the node
   * warns. Compared by fingerprint, so a bundle that holds the cluster CA among others is found.
   */
  readonly clientCaSharedWithCluster?: string
  /** The node certificate's subject and names, for the start-up log line. */
  readonly description: string
}

export type {ClientTls} from './tls-ca-file.js'

export type TlsChecked<T> = ({ok: true} & T) | {ok: false; error: ErrorCode; message: string}

/** Certificates in a chain, at most: a deeper one is no cluster's CA. */
const chainCertificatesMax = 8
/** Extended key usages a node certificate needs when it lists any: it serves (server) and dials (client). */
const serverAuthOid = '1.3.6.1.5.5.7.3.1'
const clientAuthOid = '1.3.6.1.5.5.7.3.2'
const certificatesPattern = new RegExp(pemCertificatePattern.source, 'g')

function refused(message: string): {ok: false; error: 'bad_parameter'; message: string} {
  return {ok: false, error: 'bad_parameter', message}
}

/**
 * The node's TLS files from its flags: all three, or none (plain TCP and HTTP). One or two alone
 * is refused, since a node with a certificate but no CA could not check its peers, and one with a
 * CA but no certificate could not be checked by them.
 */
export function tlsFilesOf(flags: TlsFlagValues): TlsChecked<{files: TlsFiles | undefined}> {
  const given = (['tls-cert', 'tls-key', 'tls-ca'] as const).filter((name) => flags[name] !== undefined)
  if (given.length === 0 && flags['tls-client-ca'] !== undefined) {
    return refused('--tls-client-ca given without --tls-cert, --tls-key and --tls-ca: client certificates are asked for over HTTPS only; give the node its certificate, key and the cluster CA too')
  }
  if (given.length === 0) return {ok: true, files: undefined}
  if (given.length < 3) {
    const missing = (['tls-cert', 'tls-key', 'tls-ca'] as const).filter((name) => flags[name] === undefined)
    return refused(`${given.map((name) => `--${name}`).join(' and ')} given without ${missing.map((name) => `--${name}`).join(' and ')}: TLS needs all three (this node's certificate, its key, and the cluster CA that every node's certificate is signed by), or none`)
  }
  const clientCaFile = flags['tls-client-ca']
  return {ok: true, files: {certFile: flags['tls-cert'] as string, keyFile: flags['tls-key'] as string, caFile: flags['tls-ca'] as string, ...(clientCaFile === undefined ? {} : {clientCaFile})}}
}

/**
 * Reads and checks a node's files: each one readable PEM, the key the certificate's, the
 * certificate issued (directly or through intermediates in its file) by a CA of the CA file,
 * valid at `nowMs`, fit to both serve and dial, and naming `advertiseHost` (the address peers
 * and clients dial, which they check it names). Refused with `bad_parameter` and what to do.
 */
export async function loadNodeTls(files: TlsFiles, nowMs: number, advertiseHost: string): Promise<TlsChecked<{tls: NodeTls}>> {
  const read = await Promise.all([readPem(files.certFile, '--tls-cert'), readPem(files.keyFile, '--tls-key'), readPem(files.caFile, '--tls-ca'), files.clientCaFile === undefined ? undefined : readPem(files.clientCaFile, '--tls-client-ca')])
  const [certText, keyText, caText, clientCaText] = read
  if (!certText.ok) return certText
  if (!keyText.ok) return keyText
  if (!caText.ok) return caText
  if (clientCaText !== undefined && !clientCaText.ok) return clientCaText
  let clients: {bytes: Buffer; subjects: string; certificates: X509Certificate[]} | undefined
  if (clientCaText !== undefined) {
    const clientAuthorities = certificatesIn(clientCaText.text, `--tls-client-ca ${files.clientCaFile}`)
    if (!clientAuthorities.ok) return clientAuthorities
    clients = {bytes: clientCaText.bytes, subjects: clientAuthorities.certificates.map((certificate) => oneLine(certificate.subject)).join('; '), certificates: clientAuthorities.certificates}
  }
  const chain = certificatesIn(certText.text, `--tls-cert ${files.certFile}`)
  if (!chain.ok) return chain
  const authorities = certificatesIn(caText.text, `--tls-ca ${files.caFile}`)
  if (!authorities.ok) return authorities
  const key = privateKeyOf(keyText.text, files.keyFile)
  if (!key.ok) return key
  const [leaf, ...intermediates] = chain.certificates as [X509Certificate, ...X509Certificate[]]
  if (!leaf.checkPrivateKey(key.key)) {
    return refused(`--tls-key ${files.keyFile} is not the key of the certificate in --tls-cert ${files.certFile} (${oneLine(leaf.subject)}): give the key that was made with it`)
  }
  const issued = chainsTo(leaf, intermediates, authorities.certificates)
  if (!issued) {
    // Every CA made by the same commands may carry the same name: the fingerprint tells them apart.
    const ca = authorities.certificates.map((certificate) => `${oneLine(certificate.subject)}, SHA-256 ${shortFingerprint(certificate)}`).join('; ')
    return refused(`--tls-cert ${files.certFile} (issued by ${oneLine(leaf.issuer)}) is not signed by the CA in --tls-ca ${files.caFile} (${ca}): every peer would refuse it; sign it with the cluster's CA`)
  }
  const validity = validityProblem(leaf, nowMs)
  if (validity !== undefined) return refused(`--tls-cert ${files.certFile}: ${validity}; make a new one with the cluster's CA`)
  const usages = leaf.keyUsage
  if (usages !== undefined && !(usages.includes(serverAuthOid) && usages.includes(clientAuthOid))) {
    return refused(`--tls-cert ${files.certFile} is not for both TLS server and client use (extendedKeyUsage ${usages.join(', ')}): a node serves with it and dials its peers with it; make it with extendedKeyUsage = serverAuth, clientAuth`)
  }
  const names = leaf.subjectAltName === undefined ? 'no subject alternative names' : leaf.subjectAltName
  if (!namesHost(leaf, advertiseHost)) {
    return refused(`--tls-cert ${files.certFile} (${oneLine(leaf.subject)}: ${names}) does not name ${advertiseHost}, the address this node advertises (--advertise): every peer and client dialling it would refuse it; make the certificate with subjectAltName IP:${advertiseHost} (DNS: for a name), or advertise an address it names`)
  }
  const description = `${oneLine(leaf.subject)} (${names}), valid until ${leaf.validTo}`
  if (clients === undefined) return {ok: true, tls: {cert: certText.bytes, key: keyText.bytes, ca: caText.bytes, description}}
  const clusterFingerprints = new Set(authorities.certificates.map((certificate) => certificate.fingerprint256))
  const shared = clients.certificates.find((certificate) => clusterFingerprints.has(certificate.fingerprint256))
  return {
    ok: true,
    tls: {
      cert: certText.bytes,
      key: keyText.bytes,
      ca: caText.bytes,
      clientCa: clients.bytes,
      ...(shared === undefined ? {} : {clientCaSharedWithCluster: oneLine(shared.subject)}),
      description: `${description}; clients must present a certificate of ${clients.subjects}`,
    },
  }
}

async function readPem(file: string, flag: string): Promise<({ok: true; bytes: Buffer; text: string}) | {ok: false; error: 'bad_parameter'; message: string}> {
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (error) {
    return refused(`${flag} ${file}: ${readProblem(error)}`)
  }
  if (bytes.length > tlsFileBytesMax) return refused(`${flag} ${file}: ${bytes.length} bytes, more than a PEM certificate or key (at most ${tlsFileBytesMax})`)
  return {ok: true, bytes, text: bytes.toString('utf8')}
}

/** Every PEM certificate in a file's text, parsed; refused when there is none or one does not parse. */
function certificatesIn(text: string, named: string): TlsChecked<{certificates: X509Certificate[]}> {
  const blocks = text.match(certificatesPattern) ?? []
  if (blocks.length === 0) return refused(`${named} holds no PEM certificate (a block starting with -----BEGIN CERTIFICATE-----)`)
  if (blocks.length > 64) return refused(`${named} holds ${blocks.length} certificates; give the cluster's CA, not a whole trust store`)
  const certificates: X509Certificate[] = []
  for (const [index, block] of blocks.entries()) {
    try {
      certificates.push(new X509Certificate(block))
    } catch (error) {
      return refused(`${named}: certificate ${index + 1} is not a valid X.509 certificate (${(error as Error).message})`)
    }
  }
  return {ok: true, certificates}
}

function privateKeyOf(text: string, file: string): TlsChecked<{key: KeyObject}> {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) return refused(`--tls-key ${file} holds no PEM private key (a block starting with -----BEGIN PRIVATE KEY-----)`)
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
    return refused(`--tls-key ${file} is encrypted with a passphrase, which a node started unattended cannot give: keep it unencrypted and readable by this user alone (chmod 600)`)
  }
  try {
    return {ok: true, key: createPrivateKey(text)}
  } catch (error) {
    // Node's messages name the parse step (e.g. "unsupported"), never the key's bytes.
    return refused(`--tls-key ${file} is not a valid private key (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`)
  }
}

/** Whether `leaf` is signed by one of `authorities`, directly or through `intermediates` (its file's other certificates). */
function chainsTo(leaf: X509Certificate, intermediates: readonly X509Certificate[], authorities: readonly X509Certificate[]): boolean {
  let current = leaf
  for (let depth = 0; depth < chainCertificatesMax; depth += 1) {
    if (authorities.some((authority) => current.checkIssued(authority) && current.verify(authority.publicKey))) return true
    const issuer = intermediates.find((candidate) => candidate !== current && current.checkIssued(candidate) && current.verify(candidate.publicKey))
    if (issuer === undefined) return false
    current = issuer
  }
  return false
}

/** Whether `certificate` names `host` (an IP address or a DNS name) as a TLS client dialling it checks. */
function namesHost(certificate: X509Certificate, host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  return isIP(bare) === 0 ? certificate.checkHost(bare) !== undefined : certificate.checkIP(bare) !== undefined
}

/** A distinguished name as X509Certificate gives it (one attribute a line), on one line for a message. */
function oneLine(name: string): string {
  return name.replaceAll('\n', ', ')
}

/** The first 8 bytes of a certificate's SHA-256 fingerprint, enough to tell two CAs of one name apart. */
function shortFingerprint(certificate: X509Certificate): string {
  return `${certificate.fingerprint256.split(':').slice(0, 8).join(':')}...`
}

function validityProblem(certificate: X509Certificate, nowMs: number): string | undefined {
  const fromMs = Date.parse(certificate.validFrom)
  const toMs = Date.parse(certificate.validTo)
  if (Number.isFinite(toMs) && nowMs > toMs) return `expired on ${certificate.validTo}`
  if (Number.isFinite(fromMs) && nowMs < fromMs) return `not valid before ${certificate.validFrom} (is this machine's clock right?)`
  return undefined
}
