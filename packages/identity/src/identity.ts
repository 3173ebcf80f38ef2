import { type MessagingId, type Result, UsageError, err, ok } from '@postern/core';
import { type CryptoProvider, KeyBytes } from '@postern/crypto';
import {
  type IdentityDocument,
  type IdentityError,
  type UnsignedIdentityDocument,
  signIdentityDocument,
  validateFields,
  verifyIdentityDocument,
} from './document.ts';
import { SecretKey } from './secret-key.ts';

/**
 * A user's identity: an Ed25519 signing key (its public half is the messaging id) and an X25519
 * encryption key signed by it through the identity document. Secrets are SecretKey values, which
 * never print themselves.
 */
export interface Identity {
  readonly messagingId: MessagingId;
  /** The 32-byte Ed25519 seed; the 64-byte signing key is derived from it. */
  readonly signingSeed: SecretKey;
  /** libsodium's 64-byte Ed25519 secret key (seed ‖ public key), ready for signing. */
  readonly signingKey: SecretKey;
  readonly encryptionSecret: SecretKey;
  readonly encryptionKey: Uint8Array;
  readonly document: IdentityDocument;
}

/** What a sender needs to seal to someone: taken from their verified identity document. */
export interface RecipientKeys {
  readonly messagingId: MessagingId;
  readonly encryptionKey: Uint8Array;
}

export interface IdentityProfile {
  readonly label: string;
  readonly relays?: readonly string[];
  readonly replicants?: readonly MessagingId[];
}

/** A new identity with fresh keys from the provider's randomness, and its signed document at seq 0. */
export function createIdentity(crypto: CryptoProvider, profile: IdentityProfile): Identity {
  const seed = crypto.randomBytes(KeyBytes.ed25519Seed);
  const encryptionSecret = crypto.randomBytes(KeyBytes.x25519);
  const signing = crypto.ed25519KeyPairFromSeed(seed);
  const unsigned: UnsignedIdentityDocument = {
    type: 'Identity',
    version: 1,
    label: profile.label,
    pubkey: signing.publicKey as MessagingId,
    encryptionKey: crypto.x25519PublicKey(encryptionSecret),
    relays: profile.relays ?? [],
    replicants: profile.replicants ?? [],
    seq: 0,
  };
  checkProfile(unsigned);
  return {
    messagingId: signing.publicKey as MessagingId,
    signingSeed: new SecretKey(seed),
    signingKey: new SecretKey(signing.secretKey),
    encryptionSecret: new SecretKey(encryptionSecret),
    encryptionKey: unsigned.encryptionKey,
    document: signIdentityDocument(crypto, signing.secretKey, unsigned),
  };
}

/** The same identity with changed profile fields and a newly signed document at seq + 1. */
export function updateIdentity(
  crypto: CryptoProvider,
  identity: Identity,
  changes: Partial<IdentityProfile>,
): Identity {
  const { signature: _old, ...current } = identity.document;
  const unsigned: UnsignedIdentityDocument = { ...current, ...changes, seq: current.seq + 1 };
  checkProfile(unsigned);
  return { ...identity, document: signIdentityDocument(crypto, identity.signingKey.expose(), unsigned) };
}

/**
 * Rebuilds an identity from its secrets and its last signed document, checking that they belong
 * together: a document signed by another key, or an encryption key that is not this secret's, is refused.
 */
export function restoreIdentity(
  crypto: CryptoProvider,
  signingSeed: Uint8Array,
  encryptionSecret: Uint8Array,
  document: IdentityDocument,
): Result<Identity, IdentityError> {
  if (signingSeed.length !== KeyBytes.ed25519Seed || encryptionSecret.length !== KeyBytes.x25519) {
    return err({ code: 'IDENTITY_MALFORMED', reason: 'a secret key has the wrong length' });
  }
  const verified = verifyIdentityDocument(crypto, document);
  if (!verified.ok) return verified;
  const signing = crypto.ed25519KeyPairFromSeed(signingSeed);
  const encryptionKey = crypto.x25519PublicKey(encryptionSecret);
  if (!crypto.constantTimeEqual(signing.publicKey, document.pubkey)) {
    return err({
      code: 'IDENTITY_BAD_FIELD',
      field: 'pubkey',
      reason: 'is not the public key of the signing secret',
    });
  }
  if (!crypto.constantTimeEqual(encryptionKey, document.encryptionKey)) {
    return err({
      code: 'IDENTITY_BAD_FIELD',
      field: 'encryptionKey',
      reason: 'is not the public key of the encryption secret',
    });
  }
  return ok({
    messagingId: document.pubkey,
    signingSeed: new SecretKey(signingSeed),
    signingKey: new SecretKey(signing.secretKey),
    encryptionSecret: new SecretKey(encryptionSecret),
    encryptionKey,
    document,
  });
}

export function recipientKeys(document: IdentityDocument): RecipientKeys {
  return { messagingId: document.pubkey, encryptionKey: document.encryptionKey };
}

/** Profile values come from the caller (a person through the CLI): bad ones are misuse, with the rule broken. */
function checkProfile(doc: UnsignedIdentityDocument): void {
  const valid = validateFields(doc);
  if (!valid.ok) {
    const e = valid.error;
    const reason = e.code === 'IDENTITY_BAD_FIELD' ? `${e.field} ${e.reason}` : e.code;
    throw new UsageError('IDENTITY_BAD_PROFILE', `the identity's ${reason}`, { cause: e });
  }
}
