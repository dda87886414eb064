/**
 * Who may talk to a node over its internode port: a challenge-response on every connection,
 * proving on both sides that the other holds the cluster secret, without the secret ever
 * crossing the wire.
 *
 * A connection is opened by the side that sends requests (tcp-transport.ts). With a secret:
 *
 *   1. the opener's Hello carries a fresh random nonce, Nc;
 *   2. the acceptor answers a `HelloChallenge`: its own fresh nonce Ns and the proof
 *      HMAC(secret, "dyn acceptor" | opener's name | Nc | Ns), which the opener checks before it
 *      sends anything else, so that no request (a replica write, a hint) reaches a process that
 *      does not hold the secret;
 *   3. the opener answers a `HelloProof`: HMAC(secret, "dyn opener" | opener's name | Ns | Nc),
 *      which the acceptor checks before it hands any request to the node.
 *
 * Each side's nonce is fresh for each connection, so a recorded handshake proves nothing on the
 * next one (no replay); the two proofs carry different labels, so an acceptor's proof is never a
 * valid opener's proof (no reflection); and the opener's name is inside both, so a Hello whose
 * name was changed on the way fails. This is the shape of the mutual challenge-response of
 * RFC 1994 (CHAP), done both ways with HMAC-SHA-256 (RFC 2104) in place of MD5.
 *
 * What it does not give: privacy (the frames after it travel in clear), integrity of those frames,
 * and a binding to the address dialled. So a process on the path between two nodes can read and
 * change the frames after a handshake, and one that gets a node holding the secret to dial it (a
 * seed it names, say) can relay that node's handshake to another member and then send frames of
 * its own on the relayed connection. Keeping strangers from joining, gossiping or writing is what
 * this is for; against an attacker on the network, a private network or TLS is still needed
 * (`dyn start --tls-*`, tcp-transport.ts: this handshake then runs inside the TLS connection, which
 * gives privacy, a MAC on every frame and a binding to the address dialled).
 *
 * Pure: the nonces come in as arguments, drawn by the transport (a process shell).
 */

import {createHmac, timingSafeEqual} from 'node:crypto'

/** Bytes of each side's nonce: 256 bits never repeat by chance. */
export const handshakeNonceBytes = 32
/** The bytes of an HMAC-SHA-256 proof. */
export const handshakeProofBytes = 32
/**
 * A cluster secret shorter than this is refused: 16 bytes (128 bits) from a random source is
 * beyond any search, and a short typed password is not.
 */
export const clusterSecretBytesMin = 16
/** Longer than any real secret; bounds what a start reads. */
export const clusterSecretBytesMax = 4096

const acceptorLabel = 'dyn acceptor'
const openerLabel = 'dyn opener'

function proof(secret: Buffer, label: string, openerName: string, first: Buffer, second: Buffer): Buffer {
  // Each part is length-prefixed, so that no two different inputs give the same message.
  const hmac = createHmac('sha256', secret)
  for (const part of [Buffer.from(label, 'utf8'), Buffer.from(openerName, 'utf8'), first, second]) {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(part.length)
    hmac.update(length)
    hmac.update(part)
  }
  return hmac.digest()
}

/** The acceptor's proof that it holds the secret, answering the opener's nonce. */
export function acceptorProof(secret: Buffer, openerName: string, openerNonce: Buffer, acceptorNonce: Buffer): Buffer {
  return proof(secret, acceptorLabel, openerName, openerNonce, acceptorNonce)
}

/** The opener's proof that it holds the secret, answering the acceptor's nonce. */
export function openerProof(secret: Buffer, openerName: string, openerNonce: Buffer, acceptorNonce: Buffer): Buffer {
  return proof(secret, openerLabel, openerName, acceptorNonce, openerNonce)
}

/** Whether a received value is the expected proof, compared in constant time. */
export function proofMatches(expected: Buffer, received: unknown): boolean {
  if (!(received instanceof Uint8Array) || received.length !== expected.length) return false
  return timingSafeEqual(expected, received)
}

/** Whether a received value can be a nonce (the exact length; what it holds is the sender's). */
export function isNonce(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === handshakeNonceBytes
}
