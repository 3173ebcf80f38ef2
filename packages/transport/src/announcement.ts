import { BoundedLru, type NodeId, type Result, concatBytes, err, ok, toHex, utf8 } from '@postern/core';
import { type CryptoProvider, KeyBytes } from '@postern/crypto';
import {
  type WireError,
  decodeWith,
  encodeCanonical,
  expectArrayOf,
  expectBytes,
  expectStruct,
  expectText,
  expectUint,
} from '@postern/wire';
import { ANNOUNCEMENT_BYTES_MAX } from './limits.ts';
import { type NodeKeys, nodeIdOf } from './node-keys.ts';

/**
 * What a node says about itself in its handshake: protocol version, capabilities and the addresses
 * it listens on, signed by its node signing key and bound to its Noise static key. Signed, so a
 * peer can pass it on (to a DHT contact list, say) and others can still check it.
 */
export interface NodeAnnouncement {
  readonly version: number;
  readonly staticKey: Uint8Array;
  readonly signingKey: Uint8Array;
  readonly capabilities: readonly string[];
  readonly addresses: readonly string[];
  readonly timestampMs: number;
  readonly signature: Uint8Array;
}

export const LINK_PROTOCOL_VERSION = 1;
const SIGN_DOMAIN = utf8('postern/announcement/v1\n');

export type AnnouncementError =
  | { code: 'ANNOUNCEMENT_MALFORMED'; error: WireError }
  | { code: 'ANNOUNCEMENT_UNSUPPORTED_VERSION'; version: number }
  | { code: 'ANNOUNCEMENT_BAD_SIGNATURE' }
  | { code: 'ANNOUNCEMENT_WRONG_STATIC_KEY' };

const readAnnouncement = expectStruct({
  version: expectUint(0xffff),
  staticKey: expectBytes(KeyBytes.x25519),
  signingKey: expectBytes(KeyBytes.ed25519Public),
  capabilities: expectArrayOf(expectText(64), { min: 0, max: 32 }),
  addresses: expectArrayOf(expectText(256), { min: 0, max: 16 }),
  timestampMs: expectUint(),
  signature: expectBytes(KeyBytes.ed25519Signature),
});

export function signAnnouncement(
  crypto: CryptoProvider,
  keys: NodeKeys,
  fields: { capabilities: readonly string[]; addresses: readonly string[]; timestampMs: number },
): NodeAnnouncement {
  const unsigned = {
    version: LINK_PROTOCOL_VERSION,
    staticKey: keys.staticKey.publicKey,
    signingKey: keys.signing.publicKey,
    capabilities: fields.capabilities,
    addresses: fields.addresses,
    timestampMs: fields.timestampMs,
  };
  return { ...unsigned, signature: crypto.ed25519Sign(keys.signing.secretKey, signingBytes(unsigned)) };
}

/** Encoded once per announcement object: a node sends the same one in every handshake. */
export function encodeAnnouncement(announcement: NodeAnnouncement): Uint8Array {
  let bytes = encoded.get(announcement);
  if (bytes === undefined) {
    bytes = encodeCanonical({ ...announcement });
    encoded.set(announcement, bytes);
  }
  return bytes;
}

const encoded = new WeakMap<NodeAnnouncement, Uint8Array>();

/**
 * Announcements whose signature this node has already checked, by the BLAKE2b-256 of their exact
 * bytes: a peer that reconnects sends the same bytes, and the check is an Ed25519 verification,
 * about a tenth of what a handshake costs the responder. A host shares one among its links. The
 * least recently seen are forgotten first.
 */
export class VerifiedAnnouncements {
  readonly #digests: BoundedLru<string, true>;

  constructor(maxEntries: number) {
    this.#digests = new BoundedLru(maxEntries);
  }

  has(digest: string): boolean {
    return this.#digests.get(digest) !== undefined;
  }

  add(digest: string): void {
    this.#digests.set(digest, true);
  }
}

/**
 * Decodes and checks an announcement received in a handshake: well formed, signed by its signing
 * key, and naming the static key the Noise handshake authenticated (else it is someone else's).
 * With `verified`, bytes checked before skip the signature check; the rest is always checked.
 */
export function decodeAnnouncement(
  crypto: CryptoProvider,
  bytes: Uint8Array,
  handshakeStaticKey: Uint8Array,
  verified?: VerifiedAnnouncements,
): Result<{ announcement: NodeAnnouncement; nodeId: NodeId }, AnnouncementError> {
  const decoded = decodeWith(bytes, readAnnouncement, { maxBytes: ANNOUNCEMENT_BYTES_MAX });
  if (!decoded.ok) return err({ code: 'ANNOUNCEMENT_MALFORMED', error: decoded.error });
  const announcement = decoded.value;
  if (announcement.version !== LINK_PROTOCOL_VERSION)
    return err({ code: 'ANNOUNCEMENT_UNSUPPORTED_VERSION', version: announcement.version });
  const digest = verified && toHex(crypto.blake2b(bytes, 32));
  if (!digest || !verified?.has(digest)) {
    const { signature, ...unsigned } = announcement;
    if (!crypto.ed25519Verify(announcement.signingKey, signingBytes(unsigned), signature)) {
      return err({ code: 'ANNOUNCEMENT_BAD_SIGNATURE' });
    }
    if (digest) verified?.add(digest);
  }
  if (!crypto.constantTimeEqual(announcement.staticKey, handshakeStaticKey)) {
    return err({ code: 'ANNOUNCEMENT_WRONG_STATIC_KEY' });
  }
  return ok({ announcement, nodeId: nodeIdOf(crypto, announcement.staticKey) });
}

function signingBytes(unsigned: Omit<NodeAnnouncement, 'signature'>): Uint8Array {
  return concatBytes(SIGN_DOMAIN, encodeCanonical({ ...unsigned }));
}
