import { UsageError } from '@postern/core';
import type { HashName } from '@postern/crypto';
import { lookupPattern, type HandshakePattern } from './patterns.ts';

/** A parsed protocol name (§8): `Noise_<pattern>_25519_ChaChaPoly_<hash>`. */
export interface NoiseProtocol {
  readonly name: string;
  readonly pattern: HandshakePattern;
  readonly hash: HashName;
  /** HASHLEN (§4.3): 32 for SHA256, 64 for SHA512 and BLAKE2b. */
  readonly hashBytes: 32 | 64;
}

const HASHES: ReadonlyMap<string, { hash: HashName; hashBytes: 32 | 64 }> = new Map([
  ['SHA256', { hash: 'sha256', hashBytes: 32 }],
  ['SHA512', { hash: 'sha512', hashBytes: 64 }],
  // BLAKE2b-512: HASHLEN 64, BLOCKLEN 128, as the provider's hmac uses it (§12.8).
  ['BLAKE2b', { hash: 'blake2b512', hashBytes: 64 }],
]);

/** Spec names we know and refuse on purpose, with the reason given to the caller. */
const REFUSED: ReadonlyMap<string, string> = new Map([
  ['448', 'DH 448 is not supported: only 25519'],
  ['AESGCM', 'cipher AESGCM is not supported: only ChaChaPoly'],
  ['BLAKE2s', 'hash BLAKE2s is not supported: use SHA256, SHA512 or BLAKE2b'],
]);

/**
 * Parsed protocols by name: a node uses one or two names for every handshake, and parsing a
 * pattern's text costs more than a lookup. Names come from code, not from peers; the first
 * PARSED_MAX are kept.
 */
const parsed = new Map<string, NoiseProtocol>();
const PARSED_MAX = 64;

export function parseProtocolName(name: string): NoiseProtocol {
  let protocol = parsed.get(name);
  if (protocol === undefined) {
    protocol = parse(name);
    if (parsed.size < PARSED_MAX) parsed.set(name, protocol);
  }
  return protocol;
}

function parse(name: string): NoiseProtocol {
  const parts = name.split('_');
  const [prefix, patternName, dh, cipher, hashName] = parts;
  if (parts.length !== 5 || prefix !== 'Noise' || patternName === undefined || hashName === undefined) {
    throw unsupported(name, 'a name looks like Noise_XX_25519_ChaChaPoly_BLAKE2b');
  }
  for (const part of [dh, cipher, hashName]) {
    const reason = part === undefined ? undefined : REFUSED.get(part);
    if (reason !== undefined) throw unsupported(name, reason);
  }
  if (dh !== '25519') throw unsupported(name, `unknown DH '${dh}'`);
  if (cipher !== 'ChaChaPoly') throw unsupported(name, `unknown cipher '${cipher}'`);
  const hash = HASHES.get(hashName);
  if (hash === undefined) throw unsupported(name, `unknown hash '${hashName}'`);
  return { name, pattern: lookupPattern(patternName), ...hash };
}

function unsupported(name: string, reason: string): UsageError {
  return new UsageError('NOISE_UNSUPPORTED_PROTOCOL', `unsupported Noise protocol '${name}': ${reason}`);
}
