import { bytesEqual, UsageError } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import { DH_BYTES, PSK_BYTES } from './limits.ts';
import type { HandshakePattern, Token } from './patterns.ts';

/** An X25519 key pair: 32-byte secret scalar (clamped when used, RFC 7748) and its public key. */
export interface NoiseKeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/** §4.1 GENERATE_KEYPAIR from the provider's randomness: a seeded provider gives the same keys. */
export function generateKeyPair(crypto: CryptoProvider): NoiseKeyPair {
  return keyPairFromSecret(crypto, crypto.randomBytes(DH_BYTES));
}

export function keyPairFromSecret(crypto: CryptoProvider, secretKey: Uint8Array): NoiseKeyPair {
  requireLength(secretKey, 'secret key');
  return { secretKey: secretKey.slice(), publicKey: crypto.x25519PublicKey(secretKey) };
}

/**
 * Any clamped scalar times a low-order point is zero, and nothing else is (§12.1): one DH with a
 * fixed scalar tells whether a public key is low-order. The provider reports a zero result as an error.
 */
const PROBE_SCALAR = new Uint8Array(DH_BYTES).fill(0x5a);

export function isLowOrder(crypto: CryptoProvider, publicKey: Uint8Array): boolean {
  return !crypto.x25519(PROBE_SCALAR, publicKey).ok;
}

export interface KeyOptions {
  readonly initiator: boolean;
  readonly staticKeyPair?: NoiseKeyPair | undefined;
  readonly remoteStaticKey?: Uint8Array | undefined;
  readonly psks?: readonly Uint8Array[] | undefined;
  readonly ephemeralKeyPair?: NoiseKeyPair | undefined;
}

export interface HandshakeKeys {
  readonly s: NoiseKeyPair | undefined;
  readonly e: NoiseKeyPair | undefined;
  readonly rs: Uint8Array | undefined;
  readonly psks: readonly Uint8Array[];
}

/**
 * Checks the keys a caller gave against what the pattern needs, for this role: a missing key and a
 * key the pattern never uses are both caller mistakes (a remote static key for XX would look pinned
 * but would not be), so both throw. Returns copies, so later changes by the caller cannot reach in.
 */
export function checkHandshakeKeys(
  crypto: CryptoProvider,
  pattern: HandshakePattern,
  options: KeyOptions,
): HandshakeKeys {
  const mine = pattern.messages.filter((_, i) => i % 2 === (options.initiator ? 0 : 1));
  const sends = (token: Token): boolean => mine.some((tokens) => tokens.includes(token));
  const myPreShared = options.initiator ? pattern.initiatorPreShared : pattern.responderPreShared;
  const theirPreShared = options.initiator ? pattern.responderPreShared : pattern.initiatorPreShared;
  const pskCount = pattern.messages.flat().filter((token) => token === 'psk').length;

  requirePresence('staticKeyPair', myPreShared || sends('s'), options.staticKeyPair, pattern);
  requirePresence('remoteStaticKey', theirPreShared, options.remoteStaticKey, pattern);
  requirePresence('ephemeralKeyPair', sends('e'), options.ephemeralKeyPair, pattern, true);
  const psks = options.psks ?? [];
  if (psks.length !== pskCount) {
    throw new UsageError(
      'NOISE_BAD_PSKS',
      `pattern ${pattern.name} takes ${pskCount} psk(s) in token order, got ${psks.length}`,
    );
  }
  psks.forEach((psk) => requireLength(psk, 'psk', PSK_BYTES));
  return {
    s: options.staticKeyPair && checkedPair(crypto, options.staticKeyPair, 'staticKeyPair'),
    e: options.ephemeralKeyPair && checkedPair(crypto, options.ephemeralKeyPair, 'ephemeralKeyPair'),
    rs: options.remoteStaticKey && checkedRemote(crypto, options.remoteStaticKey),
    psks: psks.map((psk) => psk.slice()),
  };
}

function requirePresence(
  name: string,
  needed: boolean,
  value: unknown,
  pattern: HandshakePattern,
  optional = false,
): void {
  if (needed && value === undefined && !optional) {
    throw new UsageError('NOISE_MISSING_KEY', `pattern ${pattern.name} needs ${name} for this role`);
  }
  if (!needed && value !== undefined) {
    throw new UsageError(
      'NOISE_UNEXPECTED_KEY',
      `pattern ${pattern.name} has no use for ${name} in this role`,
    );
  }
}

/**
 * A public key that is not the secret key's would make the peer fail the handshake, or worse.
 * Deriving it costs a scalar multiplication, and a node uses one static pair for every handshake:
 * a pair that passed is remembered (per secret-key buffer, compared by content, so a changed buffer
 * is checked again; the WeakMap forgets pairs no longer referenced). See docs/adr/0002.
 */
function checkedPair(crypto: CryptoProvider, pair: NoiseKeyPair, name: string): NoiseKeyPair {
  requireLength(pair.publicKey, `${name}.publicKey`);
  const known = checkedPairs.get(pair.secretKey);
  if (known && bytesEqual(known.secretKey, pair.secretKey) && bytesEqual(known.publicKey, pair.publicKey)) {
    return known;
  }
  const derived = keyPairFromSecret(crypto, pair.secretKey);
  if (!bytesEqual(derived.publicKey, pair.publicKey)) {
    throw new UsageError('NOISE_BAD_KEY_PAIR', `${name}.publicKey is not the public key of its secretKey`);
  }
  checkedPairs.set(pair.secretKey, derived);
  return derived;
}

const checkedPairs = new WeakMap<Uint8Array, NoiseKeyPair>();

function checkedRemote(crypto: CryptoProvider, publicKey: Uint8Array): Uint8Array {
  requireLength(publicKey, 'remoteStaticKey');
  if (isLowOrder(crypto, publicKey)) {
    throw new UsageError('NOISE_BAD_KEY', 'remoteStaticKey is a low-order point: no shared secret exists');
  }
  return publicKey.slice();
}

function requireLength(bytes: Uint8Array, name: string, length: number = DH_BYTES): void {
  if (bytes.length !== length) {
    throw new UsageError('NOISE_BAD_KEY_LENGTH', `${name} must be ${length} bytes, got ${bytes.length}`);
  }
}
