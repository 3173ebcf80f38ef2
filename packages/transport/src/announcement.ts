import { type NodeId, type Result, concatBytes, err, ok, utf8 } from '@postern/core';
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
 * Decodes and checks an announcement received in a handshake: well formed, signed by its signing
 * key, and naming the static key the Noise handshake authenticated (else it is someone else's).
 */
export function decodeAnnouncement(
  crypto: CryptoProvider,
  bytes: Uint8Array,
  handshakeStaticKey: Uint8Array,
): Result<{ announcement: NodeAnnouncement; nodeId: NodeId }, AnnouncementError> {
  const decoded = decodeWith(bytes, readAnnouncement, { maxBytes: ANNOUNCEMENT_BYTES_MAX });
  if (!decoded.ok) return err({ code: 'ANNOUNCEMENT_MALFORMED', error: decoded.error });
  const announcement = decoded.value;
  if (announcement.version !== LINK_PROTOCOL_VERSION)
    return err({ code: 'ANNOUNCEMENT_UNSUPPORTED_VERSION', version: announcement.version });
  const { signature, ...unsigned } = announcement;
  if (!crypto.ed25519Verify(announcement.signingKey, signingBytes(unsigned), signature)) {
    return err({ code: 'ANNOUNCEMENT_BAD_SIGNATURE' });
  }
  if (!crypto.constantTimeEqual(announcement.staticKey, handshakeStaticKey)) {
    return err({ code: 'ANNOUNCEMENT_WRONG_STATIC_KEY' });
  }
  return ok({ announcement, nodeId: nodeIdOf(crypto, announcement.staticKey) });
}

function signingBytes(unsigned: Omit<NodeAnnouncement, 'signature'>): Uint8Array {
  return concatBytes(SIGN_DOMAIN, encodeCanonical({ ...unsigned }));
}
