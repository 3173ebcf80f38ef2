import { existsSync, readFileSync } from 'node:fs';
import { IdPrefix, decodeIdText, encodeIdText, fromBase64url } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import { parseContactCard } from '@postern/runtime';
import { ConfigError } from './config.ts';

/** A public key as a person gives it: a messaging id (`postern1…`) or 32 bytes of base64url. */
export function parsePublicKey(text: string): Uint8Array | undefined {
  const trimmed = text.trim();
  const id = decodeIdText(IdPrefix.messaging, trimmed);
  if (id.ok) return id.value;
  const raw = fromBase64url(trimmed);
  return raw.ok && raw.value.length === 32 ? raw.value : undefined;
}

/**
 * A key as an operator gives it on the command line: a key as above, or the path of someone's
 * contact card or identity document (what `postern id --export` writes), whose signature is checked.
 */
export function resolvePublicKey(crypto: CryptoProvider, text: string): Uint8Array {
  const key = parsePublicKey(text);
  if (key !== undefined) return key;
  if (!existsSync(text)) {
    throw new ConfigError(
      `"${text}" is not a public key or a file — give a messaging id (postern1…), 32 bytes of base64url, or a contact card file`,
    );
  }
  const card = parseContactCard(crypto, readFileSync(text, 'utf8'));
  if (!card.ok)
    throw new ConfigError(`${text} is not a valid contact card or identity document: ${card.error.reason}`);
  return card.value.document.pubkey;
}

export function showPublicKey(key: Uint8Array): string {
  return encodeIdText(IdPrefix.messaging, key);
}

/** An allow-list file: one key per line; blank lines and `#` comments ignored. */
export function readAllowList(path: string): Uint8Array[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`cannot read the allow-list ${path}: ${(cause as Error).message}`);
  }
  const keys: Uint8Array[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    const entry = line.replace(/#.*/, '').trim();
    if (entry === '') continue;
    const key = parsePublicKey(entry);
    if (key === undefined) {
      throw new ConfigError(
        `${path}:${i + 1}: "${entry}" is not a public key (a postern1… messaging id or 32 bytes of base64url)`,
      );
    }
    keys.push(key);
  }
  return keys;
}
