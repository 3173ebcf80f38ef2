import { readFileSync } from 'node:fs';
import { IdPrefix, decodeIdText, encodeIdText, fromBase64url } from '@postern/core';
import { ConfigError } from './config.ts';

/** A public key as a person gives it: a messaging id (`postern1…`) or 32 bytes of base64url. */
export function parsePublicKey(text: string): Uint8Array | undefined {
  const trimmed = text.trim();
  const id = decodeIdText(IdPrefix.messaging, trimmed);
  if (id.ok) return id.value;
  const raw = fromBase64url(trimmed);
  return raw.ok && raw.value.length === 32 ? raw.value : undefined;
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
