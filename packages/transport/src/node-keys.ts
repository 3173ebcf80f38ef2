import { type NodeId, UsageError, concatBytes, utf8 } from '@postern/core';
import { type CryptoProvider, type Ed25519KeyPair, KeyBytes } from '@postern/crypto';

/**
 * A node's keys, separate from its user's messaging identity (so the network address a node id
 * maps to is not linked to a messaging id): an X25519 static key for Noise, and an Ed25519 key
 * that signs the node's announcements, so they can be passed on and still checked.
 */
export interface NodeKeys {
  readonly staticKey: X25519KeyPair;
  readonly signing: Ed25519KeyPair;
  readonly nodeId: NodeId;
}

export interface X25519KeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

const NODE_ID_DOMAIN = utf8('postern/node-id/v1\n');

/** A node id is the BLAKE2b-256 hash of the node's Noise static public key. */
export function nodeIdOf(crypto: CryptoProvider, staticPublicKey: Uint8Array): NodeId {
  return crypto.blake2b(concatBytes(NODE_ID_DOMAIN, staticPublicKey), 32) as NodeId;
}

/**
 * Fresh node keys. `accept`, if given, must approve the node id (a DHT's id puzzle): static keys
 * are drawn until it does, at most `attemptsMax` times (then UsageError 'NODE_KEYS_NOT_FOUND').
 */
export function createNodeKeys(
  crypto: CryptoProvider,
  options: { accept?: (nodeId: NodeId) => boolean; attemptsMax?: number } = {},
): NodeKeys {
  const attemptsMax = options.attemptsMax ?? 2 ** 30;
  for (let attempt = 0; attempt < attemptsMax; attempt++) {
    const secretKey = crypto.randomBytes(KeyBytes.x25519);
    const publicKey = crypto.x25519PublicKey(secretKey);
    const nodeId = nodeIdOf(crypto, publicKey);
    if (options.accept !== undefined && !options.accept(nodeId)) continue;
    const signing = crypto.ed25519KeyPairFromSeed(crypto.randomBytes(KeyBytes.ed25519Seed));
    return { staticKey: { publicKey, secretKey }, signing, nodeId };
  }
  throw new UsageError('NODE_KEYS_NOT_FOUND', `no acceptable node id in ${attemptsMax} static keys`);
}
